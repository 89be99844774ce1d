/* SPDX-License-Identifier: Apache-2.0 */
/*
 * store.h — the controller's durable state: policy revisions, agents and the audit
 * log. This is the only way the controller reaches its database. Today it is one
 * SQLite file guarded by a lock file; a later high-availability mode puts a
 * replicated store behind this same interface, so nothing here names SQLite, and
 * every write is idempotent: retrying a write that may or may not have happened
 * leaves the same state as doing it once (revision inserts dedup by content hash,
 * agent writes set whole values).
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

struct store;

/* Agent states; the numbers are those of sluice.v1.AgentState. */
enum store_agent_state {
	STORE_AGENT_UNKNOWN = 0,
	STORE_AGENT_SYNCED = 1,  /* runs the revision the controller wants */
	STORE_AGENT_PENDING = 2, /* was sent a revision and has not answered */
	STORE_AGENT_NACKED = 3,  /* refused the revision it was sent */
	STORE_AGENT_OFFLINE = 4, /* no stream */
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

/* Finalizes everything, closes the database and releases the lock. Accepts NULL. */
void store__close(struct store *st);

/* The schema version this build writes, and the one an open database has. */
int store__schema_version(void);
int store__db_schema_version(struct store *st);

/* ---- revisions ---------------------------------------------------------------------- */

/*
 * Stores a new revision, numbered one past the newest, together with its audit row
 * (action "apply"), in one transaction, unless the newest revision already has this
 * hash: then nothing is written, *revision is the newest one and *created is false.
 * That makes a retried apply harmless. 0 or -errno.
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

/* Creates or overwrites the agent's record with *a, all but the status blob (that is
 * store__agent_seen()'s). 0 or -errno. */
int store__agent_put(struct store *st, const struct store_agent *a);

/* Records last_seen (and the status when given) for n agents in one transaction. An
 * agent not in the store is skipped. This is the high-rate write: it is not synced
 * to disk at once (losing the last seconds of liveness in a crash costs nothing).
 * 0 or -errno. */
int store__agent_seen(struct store *st, const struct store_agent_seen *v, size_t n);

/* Marks every agent that is not OFFLINE as OFFLINE since now (controller start: no
 * agent has a stream yet). 0 or -errno. */
int store__agents_mark_offline(struct store *st, int64_t now);

/* ---- audit -------------------------------------------------------------------------- */

/* The newest limit audit rows (0: all), newest first, as a malloc'd array. 0 or -errno. */
int store__audit_list(struct store *st, uint32_t limit, struct store_audit **out, size_t *n);

#endif
