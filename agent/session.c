// SPDX-License-Identifier: Apache-2.0
/*
 * session.c — see session.h. One thread drives the stream through
 * rpc_client_stream__next() with a short timeout, so it notices the stop flag and
 * the status timer without any other thread. A fresh channel is made for every
 * attempt so the session's own backoff, not the transport's, paces reconnects.
 */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/utsname.h>
#include <time.h>
#include <unistd.h>

#include "common/cert.h"
#include "common/log.h"
#include "common/policy.h"
#include "common/policy_delta.h"
#include "outbox.h"
#include "session.h"
#include "state.h"

#define POLL_MS 1000            /* longest wait in __next: bounds how late a stop is noticed */
#define SLEEP_SLICE_MS 100      /* backoff sleeps in slices to notice a stop */
#define ERR_MAX 512
#define OUTBOX_POLL_MS 200      /* with an outbox, its messages wait at most about this long */
#define OUTBOX_BATCH 64         /* outbox messages sent per loop */
#define CERT_CHECK_MS (3600 * 1000) /* how often a running agent looks at its certificate's expiry */

/* What this agent can do, announced in Hello. */
static const char *const capabilities[] = { "inspect", "rewrite" };

struct session {
	struct session_opts o;
	uint64_t rng;                 /* xorshift64* state for backoff jitter */
	unsigned failures;            /* attempts that failed since the stream was last up */
	bool warned;                  /* the current outage was already logged at warn */
	bool ever_up;
	bool first_attempt_done;
	uint64_t cert_checked_ms;     /* when the certificate's expiry was last looked at */

	pthread_mutex_t lock;         /* guards the fields below and every call into o.dp */
	uint64_t live_rev;
	char live_hash[STATE_HASH_MAX];
	char last_error[ERR_MAX + 64]; /* "revision N: " + a reason */
	bool connected;
	uint64_t connected_since;
	uint64_t reconnects;          /* streams that came up after an earlier one had */
	int64_t cert_not_after;       /* the client certificate's expiry (unix s); 0: no TLS */
	/* Only the session thread touches this one. */
	Sluice__V1__Policy *live_policy; /* what live_rev holds, for deltas; NULL: not known */
};

/* ---- small helpers -------------------------------------------------------------- */

static uint64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static uint64_t next_random(struct session *s)
{
	s->rng ^= s->rng >> 12;
	s->rng ^= s->rng << 25;
	s->rng ^= s->rng >> 27;
	return s->rng * 0x2545F4914F6CDD1DULL;
}

/* Sleeps ms, waking early when *stop turns true. */
static void sleep_unless_stopped(uint32_t ms, const atomic_bool *stop)
{
	while (ms > 0 && !atomic_load(stop)) {
		uint32_t slice = ms < SLEEP_SLICE_MS ? ms : SLEEP_SLICE_MS;
		struct timespec ts = { .tv_sec = 0, .tv_nsec = (long)slice * 1000000L };

		nanosleep(&ts, NULL);
		ms -= slice;
	}
}

uint32_t session__backoff_ceiling_ms(unsigned attempt, uint32_t base_ms, uint32_t cap_ms)
{
	uint64_t ceiling = base_ms;

	/* Doubling stops at the cap, so a huge attempt count cannot overflow. */
	for (unsigned i = 0; i < attempt && ceiling < cap_ms; i++)
		ceiling *= 2;
	return ceiling < cap_ms ? (uint32_t)ceiling : cap_ms;
}

uint32_t session__backoff_ms(unsigned attempt, uint32_t base_ms, uint32_t cap_ms, uint64_t rnd)
{
	uint64_t ceiling = session__backoff_ceiling_ms(attempt, base_ms, cap_ms);

	return (uint32_t)(rnd % (ceiling + 1));
}

/* Packs m and queues it on the stream. 0 or -errno (-EPIPE when the stream is gone). */
static int send_msg(struct rpc_client_stream *cs, const Sluice__V1__AgentMessage *m)
{
	size_t len = sluice__v1__agent_message__get_packed_size(m);
	uint8_t *buf = malloc(len ? len : 1);
	int err;

	if (!buf)
		return -ENOMEM;
	sluice__v1__agent_message__pack(m, buf);
	err = rpc_client_stream__send(cs, buf, len);
	free(buf);
	return err;
}

static void set_connected(struct session *s, bool up)
{
	pthread_mutex_lock(&s->lock);
	if (s->connected != up) {
		s->connected = up;
		s->connected_since = (uint64_t)time(NULL);
	}
	pthread_mutex_unlock(&s->lock);
}

/* ---- the client certificate ------------------------------------------------------ */

/*
 * Reads the TLS files (all three, checked together), notes the certificate's expiry for
 * Hello and Status and warns when it is near. what says why ("start", "reload"). 0 or
 * -errno (logged); on error the expiry last read stays.
 */
static int check_tls(struct session *s, const char *what)
{
	const struct rpc_tls *t = s->o.tls;
	struct cert_info ci;
	char why[1024], label[320];
	int err;

	s->cert_checked_ms = now_ms();
	if (!t)
		return 0;
	err = cert__check_files(t->cert_file, t->key_file, t->ca_file, &ci, why, sizeof(why));
	if (err) {
		pr_err("TLS %s: %s", what, why);
		return err;
	}
	pthread_mutex_lock(&s->lock);
	s->cert_not_after = ci.not_after;
	pthread_mutex_unlock(&s->lock);
	snprintf(label, sizeof(label), "this agent's certificate '%s' (CN=%s)", t->cert_file, ci.cn);
	cert__warn_expiry(label, ci.not_after, (int64_t)time(NULL));
	if (strcmp(ci.cn, s->o.node_id) != 0)
		pr_warn("TLS %s: certificate '%s' is for '%s', not this node ('%s'): the controller will refuse the stream",
			what, t->cert_file, ci.cn, s->o.node_id);
	return 0;
}

/* A reload asked for, or the hourly look at the expiry: between messages, on the
 * session's thread. The stream is not touched. */
static void tls_tick(struct session *s)
{
	if (s->o.reload_tls && atomic_exchange(s->o.reload_tls, false)) {
		if (!s->o.tls)
			pr_info("reload: no TLS files under --insecure");
		else if (check_tls(s, "reload") == 0)
			pr_info("reloaded the TLS files: new connections use them, the stream that is up stays");
		return;
	}
	if (s->o.tls && now_ms() - s->cert_checked_ms >= CERT_CHECK_MS)
		check_tls(s, "check");
}

/* ---- messages the agent sends ----------------------------------------------------- */

static int send_hello(struct session *s, struct rpc_client_stream *cs)
{
	Sluice__V1__AgentMessage m = SLUICE__V1__AGENT_MESSAGE__INIT;
	Sluice__V1__Hello h = SLUICE__V1__HELLO__INIT;
	Sluice__V1__Hello__LabelsEntry *entries = NULL, **entry_ptrs = NULL;
	char hash[STATE_HASH_MAX];
	struct utsname uts;
	int err;

	if (s->o.n_labels) {
		entries = calloc(s->o.n_labels, sizeof(*entries));
		entry_ptrs = calloc(s->o.n_labels, sizeof(*entry_ptrs));
		if (!entries || !entry_ptrs) {
			err = -ENOMEM;
			goto cleanup;
		}
	}
	for (size_t i = 0; i < s->o.n_labels; i++) {
		sluice__v1__hello__labels_entry__init(&entries[i]);
		entries[i].key = (char *)s->o.labels[i].key;
		entries[i].value = (char *)s->o.labels[i].value;
		entry_ptrs[i] = &entries[i];
	}
	h.node_id = (char *)s->o.node_id;
	h.n_labels = s->o.n_labels;
	h.labels = entry_ptrs;
	h.agent_version = (char *)SLUICE_VERSION;
	h.kernel = uname(&uts) == 0 ? uts.release : (char *)"unknown";
	h.n_interfaces = s->o.n_ifaces;
	h.interfaces = (char **)s->o.ifaces;
	h.n_capabilities = sizeof(capabilities) / sizeof(capabilities[0]);
	h.capabilities = (char **)capabilities;

	pthread_mutex_lock(&s->lock);
	h.applied_revision = s->live_rev;
	memcpy(hash, s->live_hash, sizeof(hash));
	h.rule_capacity = s->o.dp->capacity(s->o.dp_ctx);
	h.cert_not_after_unix = s->cert_not_after;
	pthread_mutex_unlock(&s->lock);
	h.applied_hash = hash;

	m.msg_case = SLUICE__V1__AGENT_MESSAGE__MSG_HELLO;
	m.hello = &h;
	err = send_msg(cs, &m);

cleanup:
	free(entries);
	free(entry_ptrs);
	return err;
}

/* Builds a Status with s->lock held; datapath allocations stay valid until the unlock. */
static int build_status_locked(struct session *s, Sluice__V1__Status *st)
{
	int err;

	sluice__v1__status__init(st);
	err = s->o.dp->fill_status(s->o.dp_ctx, st);
	st->applied_revision = s->live_rev;
	st->applied_hash = s->live_hash;
	st->last_error = s->last_error;
	st->unix_time = (uint64_t)time(NULL);
	st->cert_not_after_unix = s->cert_not_after;
	return err;
}

static int send_status(struct session *s, struct rpc_client_stream *cs)
{
	Sluice__V1__AgentMessage m = SLUICE__V1__AGENT_MESSAGE__INIT;
	Sluice__V1__Status st;
	uint8_t *buf = NULL;
	size_t len = 0;
	int err;

	m.msg_case = SLUICE__V1__AGENT_MESSAGE__MSG_STATUS;
	m.status = &st;
	/* Pack under the lock: the datapath owns st's arrays only until its next fill. */
	pthread_mutex_lock(&s->lock);
	err = build_status_locked(s, &st);
	if (err)
		pr_debug("datapath status incomplete: %s", strerror(-err));
	len = sluice__v1__agent_message__get_packed_size(&m);
	buf = malloc(len ? len : 1);
	if (buf)
		sluice__v1__agent_message__pack(&m, buf);
	pthread_mutex_unlock(&s->lock);
	if (!buf)
		return -ENOMEM;
	err = rpc_client_stream__send(cs, buf, len);
	free(buf);
	return err;
}

static int send_ack(struct rpc_client_stream *cs, const Sluice__V1__PolicyUpdate *u)
{
	Sluice__V1__AgentMessage m = SLUICE__V1__AGENT_MESSAGE__INIT;
	Sluice__V1__Ack ack = SLUICE__V1__ACK__INIT;

	ack.nonce = u->nonce;
	ack.revision = u->revision;
	ack.hash = u->hash;
	m.msg_case = SLUICE__V1__AGENT_MESSAGE__MSG_ACK;
	m.ack = &ack;
	return send_msg(cs, &m);
}

/* A refusal, or with resync a request for the whole policy (a delta that did not fit). */
static int send_nack(struct rpc_client_stream *cs, const Sluice__V1__PolicyUpdate *u, const char *error,
		     bool resync)
{
	Sluice__V1__AgentMessage m = SLUICE__V1__AGENT_MESSAGE__INIT;
	Sluice__V1__Nack nack = SLUICE__V1__NACK__INIT;

	nack.nonce = u->nonce;
	nack.revision = u->revision;
	nack.error = (char *)error;
	nack.resync = resync;
	m.msg_case = SLUICE__V1__AGENT_MESSAGE__MSG_NACK;
	m.nack = &nack;
	return send_msg(cs, &m);
}

/* ---- policy updates -------------------------------------------------------------- */

/* What the controller sent must be what it claims and fit this datapath. 0 or -EINVAL.
 * Called with s->lock held (it asks the datapath for its capacity). */
static int check_update(struct session *s, const Sluice__V1__PolicyUpdate *u, char *err, size_t errlen)
{
	char hash[POLICY_HASH_HEX];
	int rc;

	if (!u->policy) {
		snprintf(err, errlen, "update carries no policy");
		return -EINVAL;
	}
	if (strlen(u->hash) >= STATE_HASH_MAX) {
		snprintf(err, errlen, "hash is %zu characters long; at most %d are accepted", strlen(u->hash),
			 STATE_HASH_MAX - 1);
		return -EINVAL;
	}
	rc = policy__hash(u->policy, hash);
	if (rc) {
		snprintf(err, errlen, "cannot hash the policy: %s", strerror(-rc));
		return rc;
	}
	if (strcmp(hash, u->hash) != 0) {
		snprintf(err, errlen, "hash mismatch: update says '%s', its policy hashes to '%s'", u->hash, hash);
		return -EINVAL;
	}
	return policy__validate(u->policy, s->o.dp->capacity(s->o.dp_ctx), err, errlen);
}

/* Saves an applied policy so a restarted agent enforces it before it reaches the controller. */
static int persist(struct session *s, const Sluice__V1__PolicyUpdate *u)
{
	uint8_t *packed = NULL;
	size_t len = 0;
	int err;

	if (!s->o.state_dir)
		return 0;
	err = policy__pack(u->policy, &packed, &len);
	if (!err)
		err = state__save(s->o.state_dir, u->revision, u->hash, packed, len);
	free(packed);
	return err;
}

/* Remembers the policy that went live, as the base of later deltas. */
static void keep_live(struct session *s, const Sluice__V1__Policy *p)
{
	policy__free(s->live_policy);
	s->live_policy = policy__dup(p); /* NULL on ENOMEM: the next delta asks for a resync */
}

/* The live revision's policy: kept after each apply, read back from the state directory
 * after a restart. NULL when not known. */
static const Sluice__V1__Policy *live_policy(struct session *s)
{
	struct agent_state st;

	if (s->live_policy || !s->o.state_dir || !s->live_rev)
		return s->live_policy;
	if (state__load(s->o.state_dir, &st, NULL, 0) == 0) {
		if (st.revision == s->live_rev && strcmp(st.hash, s->live_hash) == 0)
			s->live_policy = policy__unpack(st.policy, st.policy_len);
		state__release(&st);
	}
	return s->live_policy;
}

static void apply_update(struct session *s, struct rpc_client_stream *cs, const Sluice__V1__PolicyUpdate *u,
			 bool from_delta)
{
	char err[ERR_MAX] = "", prev_error[sizeof(s->last_error)];
	uint64_t old_rev = s->live_rev; /* only this thread writes live_rev */
	int rc;

	pthread_mutex_lock(&s->lock);
	memcpy(prev_error, s->last_error, sizeof(prev_error));
	rc = check_update(s, u, err, sizeof(err));
	if (!rc) {
		rc = s->o.dp->apply(s->o.dp_ctx, u->policy, err, sizeof(err));
		if (rc && !err[0])
			snprintf(err, sizeof(err), "datapath apply failed: %s", strerror(-rc));
	}
	if (rc) {
		snprintf(s->last_error, sizeof(s->last_error), "revision %llu: %s", (unsigned long long)u->revision,
			 err);
	} else {
		s->live_rev = u->revision;
		snprintf(s->live_hash, sizeof(s->live_hash), "%s", u->hash);
		s->last_error[0] = '\0';
	}
	pthread_mutex_unlock(&s->lock);

	if (rc && from_delta && strstr(err, "hash mismatch")) {
		/* Not the policy's fault: the delta met another base than it was made for. */
		pr_warn("revision %llu: the delta did not rebuild it (%s); asking for the whole policy",
			(unsigned long long)u->revision, err);
		pthread_mutex_lock(&s->lock);
		memcpy(s->last_error, prev_error, sizeof(prev_error));
		pthread_mutex_unlock(&s->lock);
		send_nack(cs, u, err, true);
		return;
	}
	if (rc) {
		pr_warn("revision %llu rejected, revision %llu stays live: %s", (unsigned long long)u->revision,
			(unsigned long long)old_rev, err);
		send_nack(cs, u, err, false);
		send_status(s, cs);
		return;
	}
	keep_live(s, u->policy);
	log__set_context_u64("revision", u->revision); /* later JSON lines name the live revision */

	pr_info("applied revision %llu (%zu rules, %zu routes, hash %.12s)", (unsigned long long)u->revision,
		u->policy->n_rules, u->policy->n_routes, u->hash);
	rc = persist(s, u);
	if (rc) {
		pr_err("revision %llu is live but could not be saved in %s: %s; a restarted agent would start from an older policy",
		       (unsigned long long)u->revision, s->o.state_dir, strerror(-rc));
		pthread_mutex_lock(&s->lock);
		snprintf(s->last_error, sizeof(s->last_error), "revision %llu applied but not saved in %s: %s",
			 (unsigned long long)u->revision, s->o.state_dir, strerror(-rc));
		pthread_mutex_unlock(&s->lock);
	}
	send_ack(cs, u);
	send_status(s, cs);
}

/* An update: acknowledged at once when its revision is live; a delta is first rebuilt
 * into the whole policy on top of the live one (or the whole policy asked for). */
static void handle_update(struct session *s, struct rpc_client_stream *cs, const Sluice__V1__PolicyUpdate *u)
{
	Sluice__V1__PolicyUpdate whole;
	const Sluice__V1__Policy *base;
	Sluice__V1__Policy *built = NULL;
	int rc;

	if (u->revision != 0 && u->revision == s->live_rev && strcmp(u->hash, s->live_hash) == 0) {
		pr_debug("revision %llu is already live; acknowledging without reloading",
			 (unsigned long long)u->revision);
		send_ack(cs, u);
		return;
	}
	if (!u->delta) {
		apply_update(s, cs, u, false);
		return;
	}
	base = live_policy(s);
	if (!base || strcmp(u->delta->base_hash, s->live_hash) != 0) {
		pr_info("revision %llu came as a delta from %.12s, which is not what runs here; asking for the whole policy",
			(unsigned long long)u->revision, u->delta->base_hash);
		send_nack(cs, u, "the delta's base is not the live policy", true);
		return;
	}
	rc = policy_delta__apply(base, u->delta, &built);
	if (rc) {
		pr_warn("revision %llu: the delta does not apply (%s); asking for the whole policy",
			(unsigned long long)u->revision, strerror(-rc));
		send_nack(cs, u, "the delta does not apply to the live policy", true);
		return;
	}
	whole = *u;
	whole.delta = NULL;
	whole.policy = built;
	apply_update(s, cs, &whole, true);
	policy__free(built);
}

static void handle_message(struct session *s, struct rpc_client_stream *cs, const struct rpc_buf *msg)
{
	Sluice__V1__ControllerMessage *cm;

	cm = sluice__v1__controller_message__unpack(NULL, msg->len, msg->data);
	if (!cm) {
		pr_warn("controller sent %zu bytes that are not a ControllerMessage; ignoring them", msg->len);
		return;
	}
	if (cm->msg_case == SLUICE__V1__CONTROLLER_MESSAGE__MSG_UPDATE && cm->update)
		handle_update(s, cs, cm->update);
	else if (s->o.on_message)
		s->o.on_message(s->o.msg_ctx, cm);
	else
		pr_debug("ignoring controller message of kind %d", (int)cm->msg_case);
	sluice__v1__controller_message__free_unpacked(cm, NULL);
}

/* Sends what the monitor queued; what the stream refuses goes back to the outbox. */
static void send_outbox(struct session *s, struct rpc_client_stream *cs)
{
	struct rpc_buf msgs[OUTBOX_BATCH];
	size_t n = outbox__take(s->o.outbox, msgs, OUTBOX_BATCH), i;

	for (i = 0; i < n; i++) {
		if (rpc_client_stream__send(cs, msgs[i].data, msgs[i].len) != 0)
			break;
		free(msgs[i].data);
	}
	if (i < n)
		outbox__unget(s->o.outbox, msgs + i, n - i);
}

/* ---- the stream ------------------------------------------------------------------ */

/* The stream is up: log the change of state once, and open the backoff again. */
static void mark_up(struct session *s)
{
	if (s->failures > 0)
		pr_info("%s to controller %s after %u failed attempt%s", s->ever_up ? "reconnected" : "connected",
			s->o.controller, s->failures, s->failures == 1 ? "" : "s");
	else
		pr_info("%s to controller %s", s->ever_up ? "reconnected" : "connected", s->o.controller);
	s->failures = 0;
	s->warned = false;
	if (s->ever_up) {
		pthread_mutex_lock(&s->lock);
		s->reconnects++;
		pthread_mutex_unlock(&s->lock);
	}
	s->ever_up = true;
	set_connected(s, true);
}

/*
 * One stream from open to close. Sets *was_up when it got up, fills *st with why it
 * ended. Returns 0, or -errno when no channel can be made on the very first attempt.
 */
static int run_stream(struct session *s, const atomic_bool *stop, bool *was_up, struct rpc_status *st)
{
	struct rpc_client_stream *cs = NULL;
	struct rpc_channel *ch;
	uint64_t opened, next_status;
	bool first = !s->first_attempt_done;
	int err = 0;

	*was_up = false;
	memset(st, 0, sizeof(*st));
	s->first_attempt_done = true;
	ch = rpc_channel__new(s->o.controller, s->o.tls, NULL);
	if (!ch) {
		err = -errno;
		st->code = RPC_UNAVAILABLE;
		snprintf(st->message, sizeof(st->message), "cannot create a channel: %s", strerror(-err));
		if (first)
			pr_err("controller %s: %s", s->o.controller, st->message);
		else
			err = 0;
		goto cleanup;
	}
	cs = rpc_client_stream__open(ch, SESSION_METHOD);
	if (!cs) {
		st->code = RPC_UNAVAILABLE;
		snprintf(st->message, sizeof(st->message), "cannot open the stream: %s", strerror(errno));
		goto cleanup;
	}
	send_hello(s, cs);
	opened = now_ms();
	next_status = opened + (uint64_t)s->o.status_interval_ms;

	while (!atomic_load(stop)) {
		struct rpc_buf msg = { 0 };
		enum rpc_event ev;
		uint64_t now = now_ms();
		int timeout = POLL_MS;

		tls_tick(s);
		if (!*was_up && now - opened >= (uint64_t)s->o.healthy_ms) {
			mark_up(s);
			*was_up = true;
		}
		if (now >= next_status) {
			send_status(s, cs);
			next_status = now + (uint64_t)s->o.status_interval_ms;
		}
		if (next_status - now < (uint64_t)timeout)
			timeout = (int)(next_status - now);
		if (s->o.outbox) {
			if (*was_up)
				send_outbox(s, cs);
			if (timeout > OUTBOX_POLL_MS)
				timeout = OUTBOX_POLL_MS;
		}

		ev = rpc_client_stream__next(cs, timeout, &msg, st);
		if (ev == RPC_EV_CLOSED)
			goto cleanup;
		if (ev == RPC_EV_MESSAGE) {
			if (!*was_up) {
				mark_up(s);
				*was_up = true;
			}
			handle_message(s, cs, &msg);
			free(msg.data);
		}
	}
	st->code = RPC_CANCELLED;
	snprintf(st->message, sizeof(st->message), "agent stopping");

cleanup:
	set_connected(s, false);
	rpc_client_stream__close(cs);
	rpc_channel__free(ch);
	return err;
}

/* Codes that retrying alone will not fix. */
static bool refused(enum rpc_code code)
{
	return code == RPC_UNAUTHENTICATED || code == RPC_PERMISSION_DENIED || code == RPC_UNIMPLEMENTED ||
	       code == RPC_FAILED_PRECONDITION;
}

int session__run(struct session *s, const atomic_bool *stop)
{
	unsigned attempt = 0; /* grows while streams fail; reset by a stream that got up */
	struct rpc_status st;
	bool was_up;
	int err;

	while (!atomic_load(stop)) {
		uint32_t delay, cap;

		tls_tick(s);
		err = run_stream(s, stop, &was_up, &st);
		if (err)
			return err;
		if (atomic_load(stop))
			break;
		if (was_up)
			attempt = 0;
		else
			s->failures++;
		delay = session__backoff_ms(attempt, (uint32_t)s->o.backoff_base_ms, (uint32_t)s->o.backoff_cap_ms,
					    next_random(s));
		cap = session__backoff_ceiling_ms(attempt, (uint32_t)s->o.backoff_base_ms, (uint32_t)s->o.backoff_cap_ms);
		if (attempt < 64)
			attempt++;

		/* Say it once per change of state; the retries after it are debug noise.
		 * A refusal (bad identity, wrong service) needs an operator: error, not warn. */
		if (!s->warned)
			log__printf(refused(st.code) ? LOG_ERROR : LOG_WARN,
				    "controller %s: %s (%s: %s); retrying with backoff up to %d ms", s->o.controller,
				    was_up ? "stream lost" : st.code == RPC_UNAVAILABLE ? "unreachable" : "stream refused",
				    rpc_code__name(st.code), st.message, s->o.backoff_cap_ms);
		else
			pr_debug("controller %s: attempt %u failed (%s: %s); next in %u ms (ceiling %u ms)",
				 s->o.controller, s->failures, rpc_code__name(st.code), st.message, delay, cap);
		s->warned = true;
		sleep_unless_stopped(delay, stop);
	}
	return 0;
}

/* ---- lifetime and status ---------------------------------------------------------- */

struct session *session__new(const struct session_opts *opts)
{
	struct session *s;

	if (!opts || !opts->controller || !opts->node_id || !opts->dp || !opts->dp->apply ||
	    !opts->dp->fill_status || !opts->dp->capacity ||
	    (opts->applied_hash && strlen(opts->applied_hash) >= STATE_HASH_MAX)) {
		errno = EINVAL;
		return NULL;
	}
	s = calloc(1, sizeof(*s));
	if (!s)
		return NULL;
	s->o = *opts;
	if (s->o.status_interval_ms <= 0)
		s->o.status_interval_ms = 5000;
	if (s->o.backoff_base_ms <= 0)
		s->o.backoff_base_ms = 200;
	if (s->o.backoff_cap_ms <= 0)
		s->o.backoff_cap_ms = 10000;
	if (s->o.backoff_cap_ms < s->o.backoff_base_ms)
		s->o.backoff_cap_ms = s->o.backoff_base_ms;
	if (s->o.healthy_ms <= 0)
		s->o.healthy_ms = 3000;
	s->live_rev = opts->applied_revision;
	snprintf(s->live_hash, sizeof(s->live_hash), "%s", opts->applied_hash ? opts->applied_hash : "");
	s->connected_since = (uint64_t)time(NULL);
	if (getrandom(&s->rng, sizeof(s->rng), GRND_NONBLOCK) != sizeof(s->rng) || s->rng == 0)
		s->rng = (now_ms() << 16) ^ (uint64_t)getpid() ^ 0x9E3779B97F4A7C15ULL;
	pthread_mutex_init(&s->lock, NULL);
	check_tls(s, "start");
	return s;
}

void session__free(struct session *s)
{
	if (!s)
		return;
	policy__free(s->live_policy);
	pthread_mutex_destroy(&s->lock);
	free(s);
}

int session__with_dp(struct session *s, int (*fn)(void *dp_ctx, void *arg), void *arg)
{
	int err;

	if (!s || !fn)
		return -EINVAL;
	pthread_mutex_lock(&s->lock);
	err = fn(s->o.dp_ctx, arg);
	pthread_mutex_unlock(&s->lock);
	return err;
}

int session__with_status(struct session *s,
			 int (*fn)(const Sluice__V1__Status *st, const struct session_info *info, void *arg),
			 void *arg)
{
	struct session_info info;
	Sluice__V1__Status st;
	int err;

	if (!s || !fn)
		return -EINVAL;
	pthread_mutex_lock(&s->lock);
	err = build_status_locked(s, &st);
	if (err)
		pr_debug("datapath status incomplete: %s", strerror(-err));
	info.node_id = s->o.node_id;
	info.controller = s->o.controller;
	info.connected = s->connected;
	info.connected_since = s->connected_since;
	info.reconnects = s->reconnects;
	err = fn(&st, &info, arg);
	pthread_mutex_unlock(&s->lock);
	return err;
}
