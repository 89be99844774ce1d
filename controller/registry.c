// SPDX-License-Identifier: Apache-2.0
/*
 * registry.c — see registry.h. One struct conn per agent stream; the ones that said
 * Hello are in a list (for fan-out and the tick) and in a hash table by node id.
 * reconcile() is the one place that decides what an agent should be sent and which
 * state it is in; every event (Hello, Ack, Nack, new desired revision, tick) ends there.
 * Changed records wait in a dirty list and are written in one transaction per flush; a
 * closed stream whose record is still unwritten stays there (a "zombie") until then.
 */
#include <errno.h>
#include <malloc.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>

#include "sluice/v1/agent.pb-c.h"

#include "common/cert.h"
#include "common/log.h"
#include "common/policy.h"
#include "authz.h"
#include "registry.h"
#include "revcache.h"

#define BUCKETS 16384
#define REGISTRY_TRIM_MS 5000
#define MAX_NODE_ID 253
/* What one agent may tell about itself; a real agent stays far below (its own limits:
 * 64 labels, the datapath's 16,384 rules and 1,024 routes of 64 backends). */
#define MAX_HELLO_LABELS 64
#define MAX_LABEL_KEY 63
#define MAX_LABEL_VALUE 253
#define MAX_HELLO_INTERFACES 256
#define MAX_HELLO_TEXT 256 /* agent_version, kernel, an interface name */
#define MAX_STATUS_RULES 16384
#define MAX_STATUS_ROUTES (1024 * 64)

struct conn {
	struct registry *reg;
	struct rpc_stream *s;
	struct rpc_peer *peer;     /* who opened the stream; freed once its Hello is judged */
	char *address;             /* the peer's address, for messages */
	bool registered;           /* said Hello and is its node's current stream */
	bool ended;                /* we finished the stream: ignore what still arrives */
	struct store_agent a;      /* the node's record while this stream holds it */
	uint64_t nonce;            /* of the PolicyUpdate awaiting an answer; 0: none */
	uint64_t sent_rev;         /* ... the desired revision it carried, and its hash */
	struct timespec sent_at;   /* ... and when it was queued (push latency) */
	char sent_hash[STORE_HASH_HEX];
	bool held;                 /* an update waits for the answer in flight or the send queue */
	bool no_delta;             /* it asked for whole policies (a delta did not fit its base) */
	bool dirty;                /* in reg->dirty: the record is not yet written */
	bool zombie;               /* the stream is gone; freed after the next write */
	bool seen_dirty;           /* last_seen not yet written */
	bool status_dirty;         /* a.status not yet written */
	struct registry_counters cnt[2]; /* newest and previous Status counters */
	int64_t cert_not_after;    /* the agent's certificate expiry as it last reported it; 0: unknown */
	struct conn *prev, *next;  /* registered streams */
	struct conn *hnext;        /* hash bucket chain */
};

struct registry {
	struct store *st;
	struct revcache *revs;
	struct registry_hooks hooks;
	struct registry_observer obs;
	struct registry_telemetry tel;
	uint64_t last_nonce;
	int64_t flushed_ms;
	int64_t trimmed_ms;
	size_t n_conns;
	struct conn *head;
	struct conn *buckets[BUCKETS];
	struct conn **dirty; /* records to write, zombies included */
	size_t n_dirty, cap_dirty;
	size_t n_zombies;
};

/* A line about one agent; its JSON form carries the agent's node id. */
static void agent_log(enum log_level level, const char *node_id, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
static void agent_log(enum log_level level, const char *node_id, const char *fmt, ...)
{
	va_list ap;

	log__scope_begin("node", node_id);
	va_start(ap, fmt);
	log__vprintf(level, fmt, ap);
	va_end(ap);
	log__scope_end();
}

static int64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static struct conn **bucket(struct registry *reg, const char *node_id)
{
	uint32_t h = 2166136261u; /* FNV-1a */

	for (const unsigned char *p = (const unsigned char *)node_id; *p; p++)
		h = (h ^ *p) * 16777619u;
	return &reg->buckets[h % BUCKETS];
}

static struct conn *lookup(struct registry *reg, const char *node_id)
{
	struct conn *c = *bucket(reg, node_id);

	while (c && strcmp(c->a.node_id, node_id) != 0)
		c = c->hnext;
	return c;
}

static void attach(struct registry *reg, struct conn *c)
{
	struct conn **b = bucket(reg, c->a.node_id);

	c->hnext = *b;
	*b = c;
	c->prev = NULL;
	c->next = reg->head;
	if (reg->head)
		reg->head->prev = c;
	reg->head = c;
	c->registered = true;
	reg->n_conns++;
}

static void detach(struct registry *reg, struct conn *c)
{
	struct conn **pp = bucket(reg, c->a.node_id);

	while (*pp && *pp != c)
		pp = &(*pp)->hnext;
	if (*pp)
		*pp = c->hnext;
	if (c->prev)
		c->prev->next = c->next;
	else
		reg->head = c->next;
	if (c->next)
		c->next->prev = c->prev;
	c->prev = c->next = c->hnext = NULL;
	c->registered = false;
	reg->n_conns--;
}

/* Finishes the stream with code and a message; later messages on it are ignored. */
__attribute__((format(printf, 3, 4))) static void end(struct conn *c, enum rpc_code code, const char *fmt, ...)
{
	char msg[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	pr_warn("agent stream from %s: %s: %s", c->address, rpc_code__name(code), msg);
	rpc_stream__finish(c->s, code, msg);
	c->ended = true;
}

/* The record changed: write it with the next flush. */
static void put(struct conn *c)
{
	struct registry *reg = c->reg;
	struct conn **v;
	size_t cap;

	if (c->dirty)
		return;
	if (reg->n_dirty == reg->cap_dirty) {
		cap = reg->cap_dirty ? reg->cap_dirty * 2 : 64;
		v = realloc(reg->dirty, cap * sizeof(*v));
		if (!v) {
			/* Memory stays right; the record is written with its next change. */
			agent_log(LOG_WARN, c->a.node_id, "agent '%s': out of memory queueing its record for the store",
				  c->a.node_id);
			return;
		}
		reg->dirty = v;
		reg->cap_dirty = cap;
	}
	reg->dirty[reg->n_dirty++] = c;
	c->dirty = true;
}

static void conn_free(struct conn *c)
{
	store_agent__clear(&c->a);
	free(c->peer);
	free(c->address);
	free(c);
}

/* Writes last_seen (and the status when it changed) of the n conns in one batch. */
static void write_seen(struct registry *reg, struct conn **v, size_t n)
{
	struct store_agent_seen *seen;

	if (n == 0)
		return;
	seen = calloc(n, sizeof(*seen));
	if (!seen)
		return; /* stays dirty; the next flush tries again */
	for (size_t i = 0; i < n; i++) {
		seen[i].node_id = v[i]->a.node_id;
		seen[i].last_seen = v[i]->a.last_seen;
		if (v[i]->status_dirty) {
			seen[i].status = v[i]->a.status;
			seen[i].status_len = v[i]->a.status_len;
		}
	}
	if (store__agent_seen(reg->st, seen, n) == 0) {
		for (size_t i = 0; i < n; i++)
			v[i]->seen_dirty = v[i]->status_dirty = false;
	}
	free(seen);
}

/* Writes the dirty records (and the liveness of zombies) and frees the zombies. On a
 * store error the records stay right in memory and are written with their next change. */
static void flush_dirty(struct registry *reg)
{
	const struct store_agent **recs;
	struct conn **zombies;
	size_t nz = 0;

	if (reg->n_dirty == 0)
		return;
	recs = calloc(reg->n_dirty, sizeof(*recs));
	zombies = calloc(reg->n_zombies + 1, sizeof(*zombies));
	if (recs && zombies) {
		for (size_t i = 0; i < reg->n_dirty; i++) {
			recs[i] = &reg->dirty[i]->a;
			if (reg->dirty[i]->zombie && (reg->dirty[i]->seen_dirty || reg->dirty[i]->status_dirty))
				zombies[nz++] = reg->dirty[i];
		}
		store__agent_put_many(reg->st, recs, reg->n_dirty);
		write_seen(reg, zombies, nz);
	}
	for (size_t i = 0; i < reg->n_dirty; i++) {
		struct conn *c = reg->dirty[i];

		c->dirty = false;
		if (c->zombie)
			conn_free(c);
	}
	reg->n_dirty = 0;
	reg->n_zombies = 0;
	free(recs);
	free(zombies);
}

void registry__flush(struct registry *reg)
{
	struct conn **v = NULL;
	size_t n = 0, cap = 0;

	flush_dirty(reg);
	for (struct conn *c = reg->head; c; c = c->next)
		cap += c->seen_dirty || c->status_dirty;
	if (cap && (v = calloc(cap, sizeof(*v)))) {
		for (struct conn *c = reg->head; c; c = c->next) {
			if (c->seen_dirty || c->status_dirty)
				v[n++] = c;
		}
		write_seen(reg, v, n);
	}
	free(v);
	reg->flushed_ms = now_ms();
}

/* Sends e to c under a new nonce. 0 or -errno. */
static int send_update(struct conn *c, struct revcache_entry *e)
{
	struct registry *reg = c->reg;
	uint64_t nonce = ++reg->last_nonce;
	uint8_t tail[REVCACHE_NONCE_BYTES];
	int err;

	revcache__nonce(nonce, tail);
	err = rpc_stream__send_shared(c->s, e->head, tail, sizeof(tail));
	if (err)
		return err;
	c->nonce = nonce;
	c->sent_rev = e->rev;
	clock_gettime(CLOCK_MONOTONIC, &c->sent_at);
	snprintf(c->sent_hash, sizeof(c->sent_hash), "%s", e->hash);
	pr_debug("agent '%s': sent revision %llu (nonce %llu)", c->a.node_id, (unsigned long long)e->wire_rev,
		 (unsigned long long)nonce);
	return 0;
}

/* Sends the desired revision as a delta from what the agent runs when that pays, else
 * whole. 0 or -errno. */
static int send_best(struct conn *c)
{
	struct store_agent *a = &c->a;
	struct revcache_entry *e = NULL;

	if (!c->no_delta && a->applied_revision && a->applied_hash[0])
		e = revcache__get_for(c->reg->revs, a->desired_revision, a->applied_revision, a->applied_hash);
	if (!e)
		e = revcache__get(c->reg->revs, a->desired_revision);
	return e ? send_update(c, e) : -errno;
}

/* Does the agent run the content of e? An agent that never ran anything runs the
 * empty policy. */
static bool runs(const struct conn *c, const struct revcache_entry *e)
{
	if (strcmp(c->a.applied_hash, e->hash) == 0)
		return true;
	return !c->a.applied_hash[0] && strcmp(e->hash, revcache__empty_hash(c->reg->revs)) == 0;
}

/*
 * Decides what c should get and which state it is in, sends its desired revision when
 * it is due, and queues the record for writing when it changed (or when changed is set
 * by a caller that modified it).
 */
static void reconcile(struct conn *c, bool changed)
{
	struct registry *reg = c->reg;
	struct store_agent *a = &c->a;
	enum store_agent_state want = STORE_AGENT_PENDING;
	struct revcache_entry *e = NULL;

	c->held = false;
	if (a->desired_revision != 0) {
		e = revcache__get(reg->revs, a->desired_revision);
		if (!e)
			agent_log(LOG_WARN, a->node_id, "agent '%s': its desired revision %llu cannot be read: %s", a->node_id,
				(unsigned long long)a->desired_revision, strerror(errno));
	}
	if (a->desired_revision == 0 || (e && runs(c, e)))
		want = STORE_AGENT_SYNCED; /* nothing wanted, or already runs that content: send nothing */
	else if (!e)
		; /* stays PENDING; a later change of desired revision retries */
	else if (a->nacked_revision == a->desired_revision)
		want = STORE_AGENT_NACKED; /* refused it: wait for a different revision */
	else if (c->nonce && c->sent_rev == a->desired_revision)
		; /* sent; waiting for the answer */
	else if (c->nonce)
		c->held = true; /* one update in flight at a time: its answer sends the newest */
	else if (rpc_stream__queued(c->s) > 0 || send_best(c) != 0)
		c->held = true; /* an update is still queued: coalesce, the tick sends the newest */
	if (want != a->state) {
		agent_log(LOG_INFO, a->node_id, "agent '%s': %s -> %s (desired revision %llu, applied %llu)", a->node_id,
			store_agent_state__name(a->state), store_agent_state__name(want),
			(unsigned long long)(a->desired_revision == STORE_REVISION_NONE ? 0 : a->desired_revision),
			(unsigned long long)a->applied_revision);
		a->state = want;
		a->state_since = time(NULL);
		changed = true;
	}
	if (changed)
		put(c);
}

static bool node_id_ok(const char *id)
{
	size_t n = strlen(id);

	if (n == 0 || n > MAX_NODE_ID)
		return false;
	return strspn(id, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._:-") == n;
}

/* Fills c->a from Hello and from what the store remembers of the node (state,
 * desired and refused revisions, last error, status). 0 or -errno. */
static int load_agent(struct conn *c, const Sluice__V1__Hello *h)
{
	struct store_agent old, *a = &c->a;
	bool known;
	int err;

	err = store__agent_get(c->reg->st, h->node_id, &old);
	if (err && err != -ENOENT)
		return err;
	known = err == 0;
	err = 0;
	memset(a, 0, sizeof(*a));
	a->node_id = strdup(h->node_id);
	a->agent_version = strdup(h->agent_version);
	a->kernel = strdup(h->kernel);
	a->labels = calloc(h->n_labels + 1, sizeof(*a->labels));
	a->interfaces = calloc(h->n_interfaces + 1, sizeof(*a->interfaces));
	if (!a->node_id || !a->agent_version || !a->kernel || !a->labels || !a->interfaces) {
		err = -ENOMEM;
		goto cleanup;
	}
	for (size_t i = 0; i < h->n_labels; i++, a->n_labels++) {
		a->labels[i].key = strdup(h->labels[i]->key);
		a->labels[i].value = strdup(h->labels[i]->value);
		if (!a->labels[i].key || !a->labels[i].value) {
			err = -ENOMEM;
			goto cleanup;
		}
	}
	for (size_t i = 0; i < h->n_interfaces; i++, a->n_interfaces++) {
		a->interfaces[i] = strdup(h->interfaces[i]);
		if (!a->interfaces[i]) {
			err = -ENOMEM;
			goto cleanup;
		}
	}
	a->applied_revision = h->applied_revision;
	snprintf(a->applied_hash, sizeof(a->applied_hash), "%s", h->applied_hash);
	a->rule_capacity = h->rule_capacity;
	a->last_seen = time(NULL);
	if (known) { /* carry over what Hello does not say */
		a->state = old.state;
		a->state_since = old.state_since;
		a->desired_revision = old.desired_revision;
		a->nacked_revision = old.nacked_revision;
		a->last_error = old.last_error;
		a->status = old.status;
		a->status_len = old.status_len;
		old.last_error = NULL;
		old.status = NULL;
	}
cleanup:
	store_agent__clear(&old);
	if (err)
		store_agent__clear(a);
	return err;
}

/* The agent told when its certificate expires (Hello, or a Status after it reloaded). */
static void cert_reported(struct conn *c, int64_t not_after)
{
	char what[MAX_NODE_ID + 64];

	if (not_after == c->cert_not_after)
		return;
	c->cert_not_after = not_after;
	snprintf(what, sizeof(what), "agent '%s': its certificate", c->a.node_id);
	cert__warn_expiry(what, not_after, (int64_t)time(NULL));
}

/* Is there more in h than any agent says? Names the field in why. */
static bool hello_too_big(const Sluice__V1__Hello *h, char *why, size_t len)
{
	if (h->n_labels > MAX_HELLO_LABELS) {
		snprintf(why, len, "%zu labels (at most %d)", h->n_labels, MAX_HELLO_LABELS);
		return true;
	}
	for (size_t i = 0; i < h->n_labels; i++) {
		if (strlen(h->labels[i]->key) > MAX_LABEL_KEY || strlen(h->labels[i]->value) > MAX_LABEL_VALUE) {
			snprintf(why, len, "label %zu is longer than %d (key) or %d (value) characters", i + 1,
				 MAX_LABEL_KEY, MAX_LABEL_VALUE);
			return true;
		}
	}
	if (h->n_interfaces > MAX_HELLO_INTERFACES) {
		snprintf(why, len, "%zu interfaces (at most %d)", h->n_interfaces, MAX_HELLO_INTERFACES);
		return true;
	}
	for (size_t i = 0; i < h->n_interfaces; i++) {
		if (strlen(h->interfaces[i]) > MAX_HELLO_TEXT) {
			snprintf(why, len, "interface %zu: a name longer than %d characters", i + 1, MAX_HELLO_TEXT);
			return true;
		}
	}
	if (strlen(h->agent_version) > MAX_HELLO_TEXT || strlen(h->kernel) > MAX_HELLO_TEXT) {
		snprintf(why, len, "agent_version or kernel longer than %d characters", MAX_HELLO_TEXT);
		return true;
	}
	return false;
}

static void on_hello(struct conn *c, const Sluice__V1__Hello *h)
{
	struct registry *reg = c->reg;
	struct conn *old;
	char why[512];
	int err;

	if (!node_id_ok(h->node_id)) {
		end(c, RPC_INVALID_ARGUMENT,
		    "Hello: node_id '%.64s' is not valid: use 1-%d letters, digits, '.', '_', ':' or '-'", h->node_id,
		    MAX_NODE_ID);
		return;
	}
	if (hello_too_big(h, why, sizeof(why))) {
		end(c, RPC_INVALID_ARGUMENT, "Hello from node '%s': %s", h->node_id, why);
		return;
	}
	if (authz__agent(c->peer, h->node_id, why, sizeof(why))) {
		if (reg->hooks.denied) {
			char object[MAX_NODE_ID + 40];

			snprintf(object, sizeof(object), "agent stream as node '%s'", h->node_id);
			reg->hooks.denied(reg->hooks.denied_ctx, c->peer, object, why);
		}
		end(c, RPC_PERMISSION_DENIED, "%s", why);
		return;
	}
	old = lookup(reg, h->node_id);
	if (old) {
		write_seen(reg, &old, 1);
		detach(reg, old);
		end(old, RPC_ABORTED, "replaced by a newer stream from node '%s' (%s)", h->node_id, c->address);
	}
	/* What the store says must be current before the record is loaded from it. */
	if ((old && old->dirty) || reg->n_zombies)
		flush_dirty(reg);
	err = load_agent(c, h);
	if (err) {
		end(c, rpc_code__from_errno(err), "the controller cannot load node '%s' (%s); retry later", h->node_id,
		    strerror(-err));
		return;
	}
	attach(reg, c);
	if (reg->hooks.select)
		c->a.desired_revision = reg->hooks.select(reg->hooks.ctx, &c->a);
	agent_log(LOG_INFO, c->a.node_id, "agent '%s' connected from %s (version %s, kernel %s, applied revision %llu)",
		  c->a.node_id, c->address, c->a.agent_version, c->a.kernel, (unsigned long long)c->a.applied_revision);
	cert_reported(c, h->cert_not_after_unix);
	reconcile(c, true);
	if (reg->tel.hello && !c->ended)
		reg->tel.hello(reg->tel.ctx, c->a.node_id, c->s);
}

/* The answer to the update in flight? Older nonces are stale: a newer update
 * superseded them, and its answer is the one that counts. */
static bool answers_current(struct conn *c, uint64_t nonce, const char *what)
{
	if (c->nonce && nonce == c->nonce)
		return true;
	pr_debug("agent '%s': ignoring %s for nonce %llu (current %llu)", c->a.node_id, what,
		 (unsigned long long)nonce, (unsigned long long)c->nonce);
	return false;
}

/* Tells the observer that the update in flight was answered. */
static void answered(struct conn *c, bool acked)
{
	const struct registry_observer *o = &c->reg->obs;
	struct timespec now;

	if (!o->answered)
		return;
	clock_gettime(CLOCK_MONOTONIC, &now);
	o->answered(o->ctx, c->a.node_id, acked,
		    (double)(now.tv_sec - c->sent_at.tv_sec) + (double)(now.tv_nsec - c->sent_at.tv_nsec) / 1e9);
}

static void on_ack(struct conn *c, const Sluice__V1__Ack *ack)
{
	if (!answers_current(c, ack->nonce, "Ack"))
		return;
	answered(c, true);
	c->nonce = 0;
	c->a.applied_revision = c->sent_rev == STORE_REVISION_NONE ? 0 : c->sent_rev;
	memcpy(c->a.applied_hash, c->sent_hash, sizeof(c->a.applied_hash));
	free(c->a.last_error);
	c->a.last_error = NULL;
	reconcile(c, true);
}

static void on_nack(struct conn *c, const Sluice__V1__Nack *nack)
{
	char *e;

	if (nack->resync && answers_current(c, nack->nonce, "Nack")) {
		/* Not a refusal: the delta met another base than it was made for. */
		agent_log(LOG_INFO, c->a.node_id, "agent '%s' asks for the whole policy of revision %llu: %s", c->a.node_id,
			(unsigned long long)c->sent_rev, nack->error);
		c->nonce = 0;
		c->no_delta = true;
		reconcile(c, false);
		return;
	}
	if (!answers_current(c, nack->nonce, "Nack"))
		return;
	answered(c, false);
	c->nonce = 0;
	if (nack->error[0])
		e = strdup(nack->error);
	else if (asprintf(&e, "revision %llu refused without a reason", (unsigned long long)c->sent_rev) < 0)
		e = NULL;
	free(c->a.last_error);
	c->a.last_error = e;
	c->a.nacked_revision = c->sent_rev;
	agent_log(LOG_WARN, c->a.node_id, "agent '%s' refused revision %llu: %s", c->a.node_id,
		(unsigned long long)(c->sent_rev == STORE_REVISION_NONE ? 0 : c->sent_rev), e ? e : "?");
	reconcile(c, true);
}

/* Keeps the datapath counters of a report, for drop-rate gates. */
static void take_counters(struct conn *c, const Sluice__V1__Status *s)
{
	struct registry_counters n = { .time = s->unix_time ? (int64_t)s->unix_time : time(NULL) };
	bool seen = false;

	for (size_t i = 0; i < s->n_drop_reasons; i++) {
		const char *k = s->drop_reasons[i]->key;

		if (strcmp(k, "packets") == 0) {
			n.packets = s->drop_reasons[i]->value;
			seen = true;
		} else if (strcmp(k, "drop_rule") == 0 || strcmp(k, "drop_rate_limit") == 0) {
			n.drops += s->drop_reasons[i]->value;
		}
	}
	if (!seen)
		return;
	n.valid = true;
	c->cnt[1] = c->cnt[0];
	c->cnt[0] = n;
}

static void on_status(struct conn *c, const Sluice__V1__Status *s)
{
	size_t len;
	uint8_t *buf;

	if (s->n_rules > MAX_STATUS_RULES || s->n_routes > MAX_STATUS_ROUTES || s->n_interfaces > MAX_HELLO_INTERFACES) {
		end(c, RPC_INVALID_ARGUMENT,
		    "Status: %zu rule, %zu route and %zu interface entries; at most %d, %d and %d", s->n_rules,
		    s->n_routes, s->n_interfaces, MAX_STATUS_RULES, MAX_STATUS_ROUTES, MAX_HELLO_INTERFACES);
		return;
	}
	/* What is stored must read back, or describe agent would break on it. */
	if (policy__pb_field_zero(&s->base)) {
		end(c, RPC_INVALID_ARGUMENT,
		    "Status: holds a field that does not decode once encoded again (an unknown field numbered 0?)");
		return;
	}
	len = sluice__v1__status__get_packed_size(s);
	buf = malloc(len ? len : 1);
	take_counters(c, s);
	if (s->cert_not_after_unix)
		cert_reported(c, s->cert_not_after_unix);
	if (!buf)
		return;
	sluice__v1__status__pack(s, buf);
	free(c->a.status);
	c->a.status = buf;
	c->a.status_len = len;
	c->status_dirty = true;
}

/* ---- stream callbacks --------------------------------------------------------------- */

static int stream_open(void *user, struct rpc_stream *s, const struct rpc_peer *peer, void **stream_user)
{
	struct conn *c = calloc(1, sizeof(*c));

	if (!c)
		return RPC_RESOURCE_EXHAUSTED;
	c->reg = user;
	c->s = s;
	c->peer = malloc(sizeof(*c->peer));
	c->address = strdup(peer->address);
	if (!c->peer || !c->address) {
		conn_free(c);
		return RPC_RESOURCE_EXHAUSTED;
	}
	*c->peer = *peer;
	*stream_user = c;
	return 0;
}

static void handle_message(struct conn *c, const uint8_t *msg, size_t len)
{
	Sluice__V1__AgentMessage *m;

	if (c->ended)
		return;
	m = sluice__v1__agent_message__unpack(NULL, len, msg);
	if (!m) {
		end(c, RPC_INVALID_ARGUMENT, "the message is not a sluice.v1.AgentMessage");
		return;
	}
	if (!c->registered) {
		if (m->msg_case == SLUICE__V1__AGENT_MESSAGE__MSG_HELLO)
			on_hello(c, m->hello);
		else
			end(c, RPC_INVALID_ARGUMENT, "the first message on the stream must be Hello");
		/* The identity was needed to judge the Hello only; 10,000 agents keep less. */
		free(c->peer);
		c->peer = NULL;
		goto cleanup;
	}
	c->a.last_seen = time(NULL);
	c->seen_dirty = true;
	switch (m->msg_case) {
	case SLUICE__V1__AGENT_MESSAGE__MSG_HELLO:
		end(c, RPC_INVALID_ARGUMENT, "Hello may only be the first message on the stream");
		break;
	case SLUICE__V1__AGENT_MESSAGE__MSG_ACK:
		on_ack(c, m->ack);
		break;
	case SLUICE__V1__AGENT_MESSAGE__MSG_NACK:
		on_nack(c, m->nack);
		break;
	case SLUICE__V1__AGENT_MESSAGE__MSG_STATUS:
		on_status(c, m->status);
		break;
	case SLUICE__V1__AGENT_MESSAGE__MSG_API_USAGE:
	case SLUICE__V1__AGENT_MESSAGE__MSG_ALERT:
	case SLUICE__V1__AGENT_MESSAGE__MSG_BASELINES:
		if (c->reg->tel.message)
			c->reg->tel.message(c->reg->tel.ctx, c->a.node_id, m);
		break;
	default:
		break; /* a newer agent's message kind: liveness only */
	}
cleanup:
	sluice__v1__agent_message__free_unpacked(m, NULL);
}

/* JSON log lines about a registered agent's stream carry its node id. */
static void stream_message(void *user, struct rpc_stream *s, void *stream_user, const uint8_t *msg, size_t len)
{
	struct conn *c = stream_user;
	bool scoped = c->registered;

	if (scoped)
		log__scope_begin("node", c->a.node_id);
	handle_message(c, msg, len);
	if (scoped)
		log__scope_end();
}

static void stream_close(void *user, struct rpc_stream *s, void *stream_user)
{
	struct conn *c = stream_user;

	if (c->registered) {
		detach(c->reg, c);
		c->a.state = STORE_AGENT_OFFLINE;
		c->a.state_since = time(NULL);
		put(c);
		agent_log(LOG_INFO, c->a.node_id, "agent '%s' disconnected", c->a.node_id);
	}
	c->s = NULL;
	if (c->dirty) { /* written (and freed) with the next flush */
		c->zombie = true;
		c->reg->n_zombies++;
		return;
	}
	conn_free(c);
}

static const struct rpc_stream_ops stream_ops = {
	.on_open = stream_open,
	.on_message = stream_message,
	.on_close = stream_close,
};

/* ---- registry ----------------------------------------------------------------------- */

struct registry *registry__new(struct store *st)
{
	struct registry *reg = calloc(1, sizeof(*reg));

	if (!reg)
		return NULL;
	reg->st = st;
	reg->revs = revcache__new(st);
	if (!reg->revs) {
		free(reg);
		return NULL;
	}
	/* Nonces start at a random point so answers meant for a previous controller
	 * process never match one of ours. */
	if (getrandom(&reg->last_nonce, sizeof(reg->last_nonce), 0) != sizeof(reg->last_nonce))
		reg->last_nonce = (uint64_t)time(NULL) << 20;
	reg->last_nonce >>= 1; /* room to count up without wrapping to 0 */
	reg->flushed_ms = now_ms();
	return reg;
}

void registry__free(struct registry *reg)
{
	if (!reg)
		return;
	registry__flush(reg);
	revcache__free(reg->revs);
	free(reg->dirty);
	free(reg);
}

int registry__register(struct registry *reg, struct rpc_server *srv)
{
	return rpc_server__add_stream(srv, REGISTRY_CONNECT_METHOD, &stream_ops, reg);
}

void registry__set_hooks(struct registry *reg, const struct registry_hooks *hooks)
{
	if (hooks)
		reg->hooks = *hooks;
	else
		memset(&reg->hooks, 0, sizeof(reg->hooks));
}

void registry__set_telemetry(struct registry *reg, const struct registry_telemetry *t)
{
	if (t)
		reg->tel = *t;
	else
		memset(&reg->tel, 0, sizeof(reg->tel));
}

void registry__set_observer(struct registry *reg, const struct registry_observer *obs)
{
	if (obs)
		reg->obs = *obs;
	else
		memset(&reg->obs, 0, sizeof(reg->obs));
}

const struct store_agent *registry__agent(const struct registry *reg, const char *node_id)
{
	struct conn *c = lookup((struct registry *)reg, node_id);

	return c ? &c->a : NULL;
}

void registry__foreach(const struct registry *reg, void (*fn)(void *arg, const struct store_agent *a), void *arg)
{
	for (struct conn *c = reg->head; c; c = c->next)
		fn(arg, &c->a);
}

size_t registry__count(const struct registry *reg)
{
	return reg->n_conns;
}

void registry__set_desired(struct registry *reg, const char *node_id, uint64_t rev)
{
	struct conn *c = lookup(reg, node_id);

	if (!c || c->ended || c->a.desired_revision == rev)
		return;
	c->a.desired_revision = rev;
	reconcile(c, true);
}

int registry__counters(const struct registry *reg, const char *node_id, struct registry_counters *newest,
		       struct registry_counters *previous)
{
	struct conn *c = lookup((struct registry *)reg, node_id);

	if (!c)
		return -ENOENT;
	if (newest)
		*newest = c->cnt[0];
	if (previous)
		*previous = c->cnt[1];
	return 0;
}

void registry__tick(struct registry *reg)
{
	for (struct conn *c = reg->head; c; c = c->next) {
		if (c->held && !c->ended && !c->nonce && rpc_stream__queued(c->s) == 0)
			reconcile(c, false);
	}
	if (now_ms() - reg->flushed_ms >= REGISTRY_SEEN_FLUSH_MS)
		registry__flush(reg);
	else
		flush_dirty(reg);
	/* A fan-out to thousands of agents, or a listing of them, frees as much as it took;
	 * give that back to the system now and then rather than keep it as heap. */
	if (now_ms() - reg->trimmed_ms >= REGISTRY_TRIM_MS) {
		malloc_trim(0);
		reg->trimmed_ms = now_ms();
	}
}
