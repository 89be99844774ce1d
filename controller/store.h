/* SPDX-License-Identifier: Apache-2.0 */
/*
 * store.h — the controller's durable state: policy revisions, agents, rollouts (with
 * their waves and agents), the audit log, and what the agents' monitors report (alerts,
 * API usage, baselines). This is the only way the controller reaches its database. Today it is one
 * SQLite file guarded by a lock file; a later high-availability mode puts a
 * replicated store behind this same interface, so nothing here names SQLite, and
 * every write is idempotent: retrying a write that may or may not have happened
 * leaves the same state as doing it once (revision inserts dedup by content hash,
 * rollout inserts and audited rollout changes by a key the caller picks, agent and
 * rollout writes set whole values).
 *
 * A store is used by one thread at a time. Records handed out are owned by the
 * caller and released with their _clear/_free function.
 */
#ifndef SLUICE_CONTROLLER_STORE_H
#define SLUICE_CONTROLLER_STORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define STORE_HASH_HEX 65 /* sha256 in hex + NUL, as policy__hash() writes it */
#define STORE_KEY_LEN 33  /* idempotency keys: 32 hex digits + NUL */

/* A desired revision that is no revision: the empty policy, for an agent rolled back to
 * before its first revision. (0 means "no opinion": the agent is left as it is.) */
#define STORE_REVISION_NONE UINT64_MAX

struct store;

/* Agent states; the numbers are those of sluice.v1.AgentState. */
enum store_agent_state {
	STORE_AGENT_UNKNOWN = 0,
	STORE_AGENT_SYNCED = 1,  /* runs the revision the controller wants */
	STORE_AGENT_PENDING = 2, /* was sent a revision and has not answered */
	STORE_AGENT_NACKED = 3,  /* refused the revision it was sent */
	STORE_AGENT_OFFLINE = 4, /* no stream */
};

/* Rollout states; the numbers are those of sluice.v1.RolloutState. */
enum store_rollout_state {
	STORE_ROLLOUT_RUNNING = 1,
	STORE_ROLLOUT_PAUSED = 2,
	STORE_ROLLOUT_SUCCEEDED = 3,
	STORE_ROLLOUT_FAILED = 4,
	STORE_ROLLOUT_ABORTED = 5,
	STORE_ROLLOUT_SUPERSEDED = 6, /* a newer rollout took over all of its agents */
};

/* "SYNCED", "PENDING", ...; never NULL. */
const char *store_agent_state__name(enum store_agent_state s);

/* One stored policy revision. Strings and policy are malloc'd and owned by the record. */
struct store_revision {
	uint64_t revision; /* 1, 2, ...: never reused */
	char hash[STORE_HASH_HEX];
	char *author;
	char *message;
	int64_t created; /* unix seconds */
	uint32_t rules;
	uint32_t routes;
	uint8_t *policy; /* packed sluice.v1.Policy; NULL unless asked for */
	size_t policy_len;
};

/* Frees what r owns and zeroes it. Accepts NULL. */
void store_revision__clear(struct store_revision *r);

/* Frees an array returned by store__revision_list(). Accepts NULL. */
void store_revision__free_array(struct store_revision *v, size_t n);

/* What store__revision_insert() is asked to store. The pointers are only read. */
struct store_revision_new {
	const char *hash;
	const char *author;
	const char *message; /* NULL: "" */
	int64_t created;
	uint32_t rules;
	uint32_t routes;
	const uint8_t *policy;
	size_t policy_len;
	uint64_t base_revision; /* the newest revision the author saw; 0: no check */
};

struct store_label {
	char *key;
	char *value;
};

/* One agent as the controller last knew it. Everything is malloc'd and owned by the record. */
struct store_agent {
	char *node_id;
	struct store_label *labels; /* sorted by key when read from the store */
	size_t n_labels;
	enum store_agent_state state;
	int64_t state_since; /* unix seconds of the last state change */
	uint64_t desired_revision;
	uint64_t applied_revision;
	char applied_hash[STORE_HASH_HEX];
	uint64_t nacked_revision; /* newest revision this agent refused; never re-sent to it */
	char *last_error;         /* NULL or "": none */
	int64_t last_seen;        /* unix seconds of the last message on its stream */
	char *agent_version;
	char *kernel;
	char **interfaces;
	size_t n_interfaces;
	uint8_t *status; /* newest packed sluice.v1.Status, NULL before the first one */
	size_t status_len;
	uint32_t rule_capacity; /* from Hello: rules its datapath holds (0: unknown) */
};

/* Frees what a owns and zeroes it. Accepts NULL. */
void store_agent__clear(struct store_agent *a);

/* Frees an array returned by store__agent_list(). Accepts NULL. */
void store_agent__free_array(struct store_agent *v, size_t n);

/* A throttled liveness write: the agent's last_seen and its newest status. */
struct store_agent_seen {
	const char *node_id;
	int64_t last_seen;
	const uint8_t *status; /* NULL: keep the stored status */
	size_t status_len;
};

/* One audit row: who did what to which object, and the content before and after. */
struct store_audit {
	int64_t id;
	int64_t time;
	char *who;
	char *action;
	char *object;
	char *detail;
	char before_hash[STORE_HASH_HEX];
	char after_hash[STORE_HASH_HEX];
};

void store_audit__free_array(struct store_audit *v, size_t n);

/*
 * Opens (creating when absent) the database at path, takes the exclusive lock
 * "path.lock" and brings the schema up to date. On failure returns NULL with errno set
 * and one line in err naming the problem and what to do:
 *   ENOENT  the database's directory does not exist
 *   EBUSY   another controller holds the database (its pid is named when known)
 *   ENOTSUP the database has a newer schema than this build knows
 *   other   SQLite or I/O errors, with SQLite's message
 */
struct store *store__open(const char *path, char *err, size_t errlen);

/* One line for people about err (-errno) from a store call: what happened to which
 * database and what to do (for -ENOSPC: it is full, free space and retry). */
void store__strerror(const struct store *st, int err, char *buf, size_t len);

/* Finalizes everything, closes the database and releases the lock. Accepts NULL. */
void store__close(struct store *st);

/* Tells fn(ctx, ...) of every committed write transaction: whether its commit was
 * durable (fsynced) and the seconds from BEGIN to COMMIT (for metrics). NULL: nobody. */
void store__set_write_observer(struct store *st, void (*fn)(void *ctx, bool durable, double seconds), void *ctx);

/* The schema version this build writes, and the one an open database has. */
int store__schema_version(void);
int store__db_schema_version(struct store *st);

/* ---- revisions ---------------------------------------------------------------------- */

/*
 * Stores a new revision, numbered one past the newest, together with its audit row
 * (action "apply"), in one transaction, unless the newest revision already has this
 * hash: then nothing is written, *revision is the newest one and *created is false.
 * That makes a retried apply harmless. When in->base_revision is not 0 and the newest
 * revision is another one (and has other content), nothing is written, *revision is
 * the newest and -ESTALE is returned: the check and the insert are one transaction, so
 * of two writers with the same base exactly one wins. 0 or -errno.
 */
int store__revision_insert(struct store *st, const struct store_revision_new *in, uint64_t *revision,
			   bool *created);

/* Reads revision rev (0: the newest) into *out, with its packed policy when with_policy.
 * 0, -ENOENT when there is no such revision (or none at all), or -errno. */
int store__revision_get(struct store *st, uint64_t rev, bool with_policy, struct store_revision *out);

/* The newest limit revisions (0: all), newest first, without policies, as a malloc'd
 * array in *out (NULL when *n is 0). 0 or -errno. */
int store__revision_list(struct store *st, uint32_t limit, struct store_revision **out, size_t *n);

/* ---- agents ------------------------------------------------------------------------- */

/* Reads one agent. 0, -ENOENT when the node is not known, or -errno. */
int store__agent_get(struct store *st, const char *node_id, struct store_agent *out);

/* All agents sorted by node id, as a malloc'd array (NULL when *n is 0). 0 or -errno. */
int store__agent_list(struct store *st, struct store_agent **out, size_t *n);

/* Calls fn with every agent, sorted by node id, one row at a time: only one record is in
 * memory (a is valid during the call only), where store__agent_list() holds them all.
 * fn must not use the store. 0 or -errno. */
int store__agent_foreach(struct store *st, void (*fn)(void *arg, const struct store_agent *a), void *arg);

/* Creates or overwrites the agent's record with *a, all but the status blob (that is
 * store__agent_seen()'s). 0 or -errno. */
int store__agent_put(struct store *st, const struct store_agent *a);

/* store__agent_put() for n agents in one transaction (not synced to disk at once,
 * like store__agent_seen). 0 or -errno; on error nothing is written. */
int store__agent_put_many(struct store *st, const struct store_agent *const *v, size_t n);

/* Records last_seen (and the status when given) for n agents in one transaction. An
 * agent not in the store is skipped. This is the high-rate write: it is not synced
 * to disk at once (losing the last seconds of liveness in a crash costs nothing).
 * 0 or -errno. */
int store__agent_seen(struct store *st, const struct store_agent_seen *v, size_t n);

/* Marks every agent that is not OFFLINE as OFFLINE since now (controller start: no
 * agent has a stream yet). 0 or -errno. */
int store__agents_mark_offline(struct store *st, int64_t now);

/* Forgets the node: its record goes, together with the audit row (which must be given),
 * in one durable transaction; when the audit row cannot be written the record stays.
 * Rollouts keep their own memory of it. 0, -ENOENT when the node is not known, or -errno. */
struct store_audit_new;
int store__agent_delete(struct store *st, const char *node_id, const struct store_audit_new *audit);

/* ---- rollouts ----------------------------------------------------------------------- */

/* The numbers are those of sluice.v1.WaveState and RolloutAgentState. */
enum store_wave_state {
	STORE_WAVE_WAITING = 1,
	STORE_WAVE_RUNNING = 2,
	STORE_WAVE_BAKING = 3,
	STORE_WAVE_PASSED = 4,
	STORE_WAVE_FAILED = 5,
	STORE_WAVE_ROLLED_BACK = 6,
};

enum store_member_state {
	STORE_MEMBER_WAITING = 1,
	STORE_MEMBER_PENDING = 2,
	STORE_MEMBER_ACKED = 3,
	STORE_MEMBER_NACKED = 4,
	STORE_MEMBER_TIMED_OUT = 5,
	STORE_MEMBER_OFFLINE = 6,
	STORE_MEMBER_DROP_RATE = 7,
};

struct store_wave {
	uint32_t index;
	enum store_wave_state state;
	uint32_t agents;
	int64_t started_ms;  /* unix ms; 0: not started */
	int64_t answered_ms; /* every agent answered (the interval runs from here); 0: not yet */
	int64_t finished_ms;
};

/* One rollout; strings, arrays and waves are malloc'd and owned by the record. */
struct store_rollout {
	uint64_t id;
	char key[STORE_KEY_LEN]; /* idempotency key of the insert */
	uint64_t revision;
	char hash[STORE_HASH_HEX];
	uint64_t from_revision;
	struct store_label *selector; /* sorted by key when read */
	size_t n_selector;
	uint32_t canary_percent;
	uint32_t batch_percent;
	uint32_t interval_seconds;
	uint32_t ack_timeout_seconds;
	double max_drop_rate_change; /* percentage points; 0: no gate */
	enum store_rollout_state state;
	char *reason;
	uint32_t current_wave;
	int64_t next_wave_ms; /* unix ms the current wave's interval ends; 0: not waiting */
	char *author;
	char *message;
	char **warnings;
	size_t n_warnings;
	int64_t created; /* unix seconds */
	int64_t updated;
	struct store_wave *waves;
	size_t n_waves;
};

/* One agent of a rollout. */
struct store_rollout_agent {
	char *node_id;
	uint32_t wave;
	uint64_t previous_revision;
	enum store_member_state state;
	bool rolled_back;
	char *error;
	double rate_before; /* drop rate in percent; -1: unknown */
	double rate_after;
	uint64_t ack_packets; /* datapath counters when it answered (for the drop-rate gate) */
	uint64_t ack_drops;
};

/* A desired revision to record for an agent in the same transaction as a rollout change. */
struct store_desired {
	const char *node_id;
	uint64_t revision;
};

/* An audit row to write with a change; op_key makes a retried write a no-op. */
struct store_audit_new {
	const char *op_key; /* NULL: not deduplicated */
	int64_t time;
	const char *who;
	const char *action;
	const char *object;
	const char *detail;
	const char *before_hash; /* NULL: "" */
	const char *after_hash;
};

/* Frees what r owns and zeroes it. Accepts NULL. */
void store_rollout__clear(struct store_rollout *r);
void store_rollout__free_array(struct store_rollout *v, size_t n);
void store_rollout_agent__clear(struct store_rollout_agent *a);
void store_rollout_agent__free_array(struct store_rollout_agent *v, size_t n);

/*
 * Stores a new rollout: its row and waves, its n agents, the desired revisions in
 * desired[] and an audit row (action "rollout-start", by r->author), in one durable
 * transaction. r->id is ignored; the new id goes to *id. Idempotent by r->key: when a
 * rollout with that key exists, nothing is written and *id is its id. 0 or -errno.
 */
int store__rollout_insert(struct store *st, const struct store_rollout *r, const struct store_rollout_agent *agents,
			  size_t n, const struct store_desired *desired, size_t n_desired, uint64_t *id);

/*
 * Records a change to rollout r->id in one durable transaction: the rollout row and its
 * waves (whole values), the n agents given, the desired revisions, and the audit row
 * when audit is not NULL (skipped, with everything else still written, when a row with
 * its op_key exists). -ENOENT when there is no such rollout. 0 or -errno.
 */
int store__rollout_save(struct store *st, const struct store_rollout *r, const struct store_rollout_agent *agents,
			size_t n, const struct store_desired *desired, size_t n_desired,
			const struct store_audit_new *audit);

/* Reads rollout id (0: the newest) with its waves. 0, -ENOENT or -errno. */
int store__rollout_get(struct store *st, uint64_t id, struct store_rollout *out);

/* Whether any rollout (in any state) was ever started for revision. 0 or -errno. */
int store__rollout_exists_for(struct store *st, uint64_t revision, bool *exists);

/* The newest limit rollouts (0: all), newest first, with their waves. 0 or -errno. */
int store__rollout_list(struct store *st, uint32_t limit, struct store_rollout **out, size_t *n);

/* The agents of rollout id, sorted by node id. 0 or -errno (none is not an error). */
int store__rollout_agents(struct store *st, uint64_t id, struct store_rollout_agent **out, size_t *n);

/* ---- audit -------------------------------------------------------------------------- */

/* The newest limit audit rows (0: all) whose time is at or after since (unix seconds;
 * 0: all), newest first, as a malloc'd array. 0 or -errno. */
int store__audit_list(struct store *st, uint32_t limit, int64_t since, struct store_audit **out, size_t *n);

/* Writes one audit row in a durable transaction of its own: for events that change
 * nothing else (a refused call). 0 or -errno. */
int store__audit_add(struct store *st, const struct store_audit_new *a);

/* ---- counts (store_stats.c) ------------------------------------------------------- */

#define STORE_AGENT_STATES (STORE_AGENT_OFFLINE + 1)
#define STORE_ROLLOUT_STATES (STORE_ROLLOUT_SUPERSEDED + 1)

/* How many agents are in each state (counts[STORE_AGENT_SYNCED], ...), and rollouts
 * (counts[STORE_ROLLOUT_RUNNING], ...); other slots are 0. For metrics. 0 or -errno. */
int store__agent_state_counts(struct store *st, uint64_t counts[STORE_AGENT_STATES]);
int store__rollout_state_counts(struct store *st, uint64_t counts[STORE_ROLLOUT_STATES]);

/* ---- monitoring: alerts, API usage, baselines (store_monitor.c) --------------------------- */

/* One alert: the agent's newest update of it (packed sluice.v1.Alert) and what the
 * controller adds. Strings and blob are malloc'd and owned by the record. */
struct store_alert {
	int64_t id;               /* the controller's id */
	char *node_id;
	uint64_t agent_alert_id;  /* the agent's id; (node_id, agent_alert_id) is unique */
	char *type;
	int severity;
	char *subject;
	int64_t first_seen_ms, last_seen_ms;
	uint64_t count;
	bool acked;
	char *acked_by;
	int64_t acked_at;         /* unix seconds */
	int64_t received;         /* unix seconds of the newest update */
	uint8_t *alert;
	size_t alert_len;
};

void store_alert__clear(struct store_alert *a);
void store_alert__free_array(struct store_alert *v, size_t n);

/* What store__alert_put() writes; pointers are only read. */
struct store_alert_new {
	const char *node_id;
	uint64_t agent_alert_id;
	const char *type;
	int severity;
	const char *subject;
	int64_t first_seen_ms, last_seen_ms;
	uint64_t count;
	int64_t received;
	const uint8_t *alert;
	size_t alert_len;
};

/*
 * Creates the alert, or updates the one with the same (node_id, agent_alert_id): counts
 * and last seen only grow and the newest update's blob wins, so a retried or reordered
 * write changes nothing. audit (may be NULL) goes in the same transaction (skipped when
 * its op_key exists). *id gets the alert's id, *created whether it is new. 0 or -errno.
 */
int store__alert_put(struct store *st, const struct store_alert_new *a, const struct store_audit_new *audit,
		     int64_t *id, bool *created);

struct store_alert_filter {
	int64_t since_ms;   /* last seen at or after; 0: any */
	uint32_t limit;     /* 0: 500 */
	bool include_acked;
	const char *node_id; /* NULL or "": any */
	const char *type;    /* NULL or "": any */
};

/* Alerts matching f, last seen newest first. 0 or -errno. */
int store__alert_list(struct store *st, const struct store_alert_filter *f, struct store_alert **out, size_t *n);

/* One alert. 0, -ENOENT or -errno. */
int store__alert_get(struct store *st, int64_t id, struct store_alert *out);

/* Acknowledges alert id by who, with its audit row, in one durable transaction. An alert
 * already acknowledged keeps its first acknowledgement (and no row is added). 0, -ENOENT
 * or -errno. */
int store__alert_ack(struct store *st, int64_t id, const char *who, int64_t now, const struct store_audit_new *audit);

/* One row of an API usage report. */
struct store_usage_row {
	const char *api, *method, *path, *consumer, *host;
	uint64_t requests, samples;
	bool deprecated, plaintext;
};

/* Stores node's report for [start_ms, end_ms): one row per key, whole values, so a
 * retried write is harmless. 0 or -errno. */
int store__usage_put(struct store *st, const char *node_id, int64_t start_ms, int64_t end_ms,
		     const struct store_usage_row *rows, size_t n);

/* API usage summed over nodes and intervals. Strings are owned by the record. */
struct store_usage {
	char *api, *method, *path, *consumer, *host;
	uint64_t requests, samples;
	int64_t first_ms, last_ms;
	bool deprecated, plaintext;
	uint32_t nodes;
};

void store_usage__free_array(struct store_usage *v, size_t n);

struct store_usage_filter {
	const char *api;      /* NULL or "": every API */
	const char *node_id;
	const char *consumer;
	int64_t since_ms;     /* intervals starting at or after */
	uint32_t limit;       /* 0: 1000 */
};

/* Usage matching f, most requests first. 0 or -errno. */
int store__usage_query(struct store *st, const struct store_usage_filter *f, struct store_usage **out, size_t *n);

/* Forgets API usage that started before usage_before_ms and alerts last seen before
 * alerts_before_ms. 0 or -errno. */
int store__monitor_prune(struct store *st, int64_t usage_before_ms, int64_t alerts_before_ms);

/* A node's learned baselines (packed sluice.v1.Baselines), replacing the previous. */
int store__baselines_put(struct store *st, const char *node_id, int64_t time, const uint8_t *blob, size_t len);

/* The node's stored baselines into *blob (malloc'd). 0, -ENOENT or -errno. */
int store__baselines_get(struct store *st, const char *node_id, uint8_t **blob, size_t *len);

#endif
