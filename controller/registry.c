// SPDX-License-Identifier: Apache-2.0
/*
 * registry.c — see registry.h. One struct conn per agent stream; the ones that said
 * Hello are in a list (for fan-out and the tick) and in a hash table by node id.
 * reconcile() is the one place that decides what an agent should be sent and which
 * state it is in; every event (Hello, Ack, Nack, new revision, tick) ends there.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>

#include "sluice/v1/agent.pb-c.h"

#include "common/log.h"
#include "authz.h"
#include "registry.h"

#define BUCKETS 1024
#define MAX_NODE_ID 253

struct conn {
	struct registry *reg;
	struct rpc_stream *s;
	struct rpc_peer peer;
	bool registered;           /* said Hello and is its node's current stream */
	bool ended;                /* we finished the stream: ignore what still arrives */
	struct store_agent a;      /* the node's record while this stream holds it */
	uint64_t nonce;            /* of the PolicyUpdate awaiting an answer; 0: none */
	uint64_t sent_rev;         /* ... and its revision and hash */
	char sent_hash[STORE_HASH_HEX];
	bool held;                 /* an update waits for the send queue to drain */
	bool seen_dirty;           /* last_seen not yet written */
	bool status_dirty;         /* a.status not yet written */
	struct conn *prev, *next;  /* registered streams */
	struct conn *hnext;        /* hash bucket chain */
};

struct registry {
	struct store *st;
	uint64_t rev; /* newest revision (0: none yet), what every agent should run */
	char hash[STORE_HASH_HEX];
	uint8_t *update; /* it as a packed ControllerMessage (see build_update) */
	size_t update_len;
	size_t nonce_at; /* where the nonce goes in update */
	uint64_t last_nonce;
	int64_t flushed_ms;
	struct conn *head;
	struct conn *buckets[BUCKETS];
};

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
}

/* Finishes the stream with code and a message; later messages on it are ignored. */
__attribute__((format(printf, 3, 4))) static void end(struct conn *c, enum rpc_code code, const char *fmt, ...)
{
	char msg[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	pr_warn("agent stream from %s: %s: %s", c->peer.address, rpc_code__name(code), msg);
	rpc_stream__finish(c->s, code, msg);
	c->ended = true;
}

static void put(struct conn *c)
{
	/* On failure the store has logged why; memory stays right and the next change
	 * writes the whole record again. */
	store__agent_put(c->reg->st, &c->a);
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

void registry__flush(struct registry *reg)
{
	struct conn **v = NULL;
	size_t n = 0, cap = 0;

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

static size_t varint_len(uint64_t v)
{
	size_t n = 1;

	for (; v >= 0x80; v >>= 7)
		n++;
	return n;
}

static size_t put_varint(uint8_t *p, uint64_t v)
{
	size_t n = 0;

	for (; v >= 0x80; v >>= 7)
		p[n++] = (uint8_t)(v | 0x80);
	p[n++] = (uint8_t)v;
	return n;
}

#define NONCE_BYTES 10 /* a uint64 varint in its longest form */

/*
 * Encodes ControllerMessage{update: PolicyUpdate{revision, hash, nonce, policy}} for
 * the newest revision once, around the stored bytes (which already are the packed
 * Policy), instead of packing the whole policy again for every agent. The nonce is
 * written as a 10-byte varint, a form every protobuf decoder accepts, so a send only
 * rewrites those bytes in place. 0 or -ENOMEM.
 */
static int build_update(struct registry *reg, const struct store_revision *r)
{
	Sluice__V1__PolicyUpdate u = SLUICE__V1__POLICY_UPDATE__INIT;
	size_t head, body, total, nonce_at;
	uint8_t *buf, *p;

	u.revision = r->revision;
	u.hash = (char *)r->hash;
	head = sluice__v1__policy_update__get_packed_size(&u); /* fields 1 and 2 */
	body = head + 1 + NONCE_BYTES + 1 + varint_len(r->policy_len) + r->policy_len;
	total = 1 + varint_len(body) + body;
	buf = malloc(total);
	if (!buf)
		return -ENOMEM;
	p = buf;
	*p++ = (1 << 3) | 2; /* ControllerMessage.update, length-delimited */
	p += put_varint(p, body);
	p += sluice__v1__policy_update__pack(&u, p);
	*p++ = 3 << 3; /* PolicyUpdate.nonce, varint */
	nonce_at = (size_t)(p - buf);
	p += NONCE_BYTES;
	*p++ = (4 << 3) | 2; /* PolicyUpdate.policy, length-delimited */
	p += put_varint(p, r->policy_len);
	if (r->policy_len)
		memcpy(p, r->policy, r->policy_len);
	free(reg->update);
	reg->update = buf;
	reg->update_len = total;
	reg->nonce_at = nonce_at;
	reg->rev = r->revision;
	memcpy(reg->hash, r->hash, sizeof(reg->hash));
	return 0;
}

/* Sends the newest revision to c under a new nonce. 0 or -errno. */
static int send_update(struct conn *c)
{
	struct registry *reg = c->reg;
	uint64_t nonce = ++reg->last_nonce;
	uint8_t *p = reg->update + reg->nonce_at;
	int err;

	for (int i = 0; i < NONCE_BYTES - 1; i++, nonce >>= 7)
		p[i] = (uint8_t)(nonce | 0x80);
	p[NONCE_BYTES - 1] = (uint8_t)nonce;
	err = rpc_stream__send(c->s, reg->update, reg->update_len);
	if (err)
		return err;
	c->nonce = reg->last_nonce;
	c->sent_rev = reg->rev;
	snprintf(c->sent_hash, sizeof(c->sent_hash), "%s", reg->hash);
	pr_debug("agent '%s': sent revision %llu (nonce %llu)", c->a.node_id, (unsigned long long)reg->rev,
		 (unsigned long long)c->nonce);
	return 0;
}

/*
 * Decides what c should get and which state it is in, sends the newest revision
 * when it is due, and writes the record when it changed (or when changed is set by
 * a caller that modified it).
 */
static void reconcile(struct conn *c, bool changed)
{
	struct registry *reg = c->reg;
	struct store_agent *a = &c->a;
	enum store_agent_state want = STORE_AGENT_PENDING;

	if (a->desired_revision != reg->rev) {
		a->desired_revision = reg->rev;
		changed = true;
	}
	c->held = false;
	if (reg->rev == 0 || strcmp(a->applied_hash, reg->hash) == 0)
		want = STORE_AGENT_SYNCED; /* already runs that content: send nothing */
	else if (a->nacked_revision >= reg->rev)
		want = STORE_AGENT_NACKED; /* refused it: wait for a newer revision */
	else if (c->nonce && c->sent_rev == reg->rev)
		; /* sent; waiting for the answer */
	else if (rpc_stream__queued(c->s) > 0 || send_update(c) != 0)
		c->held = true; /* an update is still queued: coalesce, the tick sends the newest */
	if (want != a->state) {
		pr_info("agent '%s': %s -> %s (desired revision %llu, applied %llu)", a->node_id,
			store_agent_state__name(a->state), store_agent_state__name(want),
			(unsigned long long)a->desired_revision, (unsigned long long)a->applied_revision);
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
	if (authz__agent(&c->peer, h->node_id, why, sizeof(why))) {
		end(c, RPC_PERMISSION_DENIED, "%s", why);
		return;
	}
	old = lookup(reg, h->node_id);
	if (old) {
		write_seen(reg, &old, 1);
		detach(reg, old);
		end(old, RPC_ABORTED, "replaced by a newer stream from node '%s' (%s)", h->node_id, c->peer.address);
	}
	err = load_agent(c, h);
	if (err) {
		end(c, rpc_code__from_errno(err), "the controller cannot load node '%s' (%s); retry later", h->node_id,
		    strerror(-err));
		return;
	}
	attach(reg, c);
	pr_info("agent '%s' connected from %s (version %s, kernel %s, applied revision %llu)", c->a.node_id,
		c->peer.address, c->a.agent_version, c->a.kernel, (unsigned long long)c->a.applied_revision);
	reconcile(c, true);
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

static void on_ack(struct conn *c, const Sluice__V1__Ack *ack)
{
	if (!answers_current(c, ack->nonce, "Ack"))
		return;
	c->nonce = 0;
	c->a.applied_revision = c->sent_rev;
	memcpy(c->a.applied_hash, c->sent_hash, sizeof(c->a.applied_hash));
	free(c->a.last_error);
	c->a.last_error = NULL;
	reconcile(c, true);
}

static void on_nack(struct conn *c, const Sluice__V1__Nack *nack)
{
	char *e;

	if (!answers_current(c, nack->nonce, "Nack"))
		return;
	c->nonce = 0;
	if (nack->error[0])
		e = strdup(nack->error);
	else if (asprintf(&e, "revision %llu refused without a reason", (unsigned long long)c->sent_rev) < 0)
		e = NULL;
	free(c->a.last_error);
	c->a.last_error = e;
	c->a.nacked_revision = c->sent_rev;
	pr_warn("agent '%s' refused revision %llu: %s", c->a.node_id, (unsigned long long)c->sent_rev,
		e ? e : "?");
	reconcile(c, true);
}

static void on_status(struct conn *c, const Sluice__V1__Status *s)
{
	size_t len = sluice__v1__status__get_packed_size(s);
	uint8_t *buf = malloc(len ? len : 1);

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
	c->peer = *peer;
	*stream_user = c;
	return 0;
}

static void stream_message(void *user, struct rpc_stream *s, void *stream_user, const uint8_t *msg, size_t len)
{
	struct conn *c = stream_user;
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
	default:
		break; /* a newer agent's message kind: liveness only */
	}
cleanup:
	sluice__v1__agent_message__free_unpacked(m, NULL);
}

static void stream_close(void *user, struct rpc_stream *s, void *stream_user)
{
	struct conn *c = stream_user;

	if (c->registered) {
		write_seen(c->reg, &c, 1);
		detach(c->reg, c);
		c->a.state = STORE_AGENT_OFFLINE;
		c->a.state_since = time(NULL);
		put(c);
		pr_info("agent '%s' disconnected", c->a.node_id);
	}
	store_agent__clear(&c->a);
	free(c);
}

static const struct rpc_stream_ops stream_ops = {
	.on_open = stream_open,
	.on_message = stream_message,
	.on_close = stream_close,
};

/* ---- registry ----------------------------------------------------------------------- */

/* Loads the newest revision into reg. 0 or -errno; no revision yet is not an error. */
static int load_newest(struct registry *reg)
{
	struct store_revision r;
	int err = store__revision_get(reg->st, 0, true, &r);

	if (err == -ENOENT)
		return 0;
	if (err)
		return err;
	err = build_update(reg, &r);
	store_revision__clear(&r);
	return err;
}

struct registry *registry__new(struct store *st)
{
	struct registry *reg = calloc(1, sizeof(*reg));
	int err;

	if (!reg)
		return NULL;
	reg->st = st;
	/* Nonces start at a random point so answers meant for a previous controller
	 * process never match one of ours. */
	if (getrandom(&reg->last_nonce, sizeof(reg->last_nonce), 0) != sizeof(reg->last_nonce))
		reg->last_nonce = (uint64_t)time(NULL) << 20;
	reg->last_nonce >>= 1; /* room to count up without wrapping to 0 */
	reg->flushed_ms = now_ms();
	err = load_newest(reg);
	if (err) {
		registry__free(reg);
		errno = -err;
		return NULL;
	}
	return reg;
}

void registry__free(struct registry *reg)
{
	if (!reg)
		return;
	registry__flush(reg);
	free(reg->update);
	free(reg);
}

int registry__register(struct registry *reg, struct rpc_server *srv)
{
	return rpc_server__add_stream(srv, REGISTRY_CONNECT_METHOD, &stream_ops, reg);
}

int registry__revision_changed(struct registry *reg)
{
	int err = load_newest(reg);

	if (err)
		return err;
	for (struct conn *c = reg->head; c; c = c->next)
		reconcile(c, false);
	return 0;
}

void registry__tick(struct registry *reg)
{
	for (struct conn *c = reg->head; c; c = c->next) {
		if (c->held && rpc_stream__queued(c->s) == 0)
			reconcile(c, false);
	}
	if (now_ms() - reg->flushed_ms >= REGISTRY_SEEN_FLUSH_MS)
		registry__flush(reg);
}
