/* SPDX-License-Identifier: Apache-2.0 */
/*
 * store_db.h — private to store.c, store_agents.c and store_rollouts.c: the SQLite connection behind
 * struct store, the prepared-statement cache and the small helpers both files use.
 * Nothing outside the store includes this (store.h stays free of SQLite).
 */
#ifndef SLUICE_CONTROLLER_STORE_DB_H
#define SLUICE_CONTROLLER_STORE_DB_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include <sqlite3.h>

#include "store.h"

/* Column list every agent query selects, in the order store_agents.c reads it. */
#define STORE_AGENT_COLS                                                                              \
	"node_id, labels, state, state_since, desired_revision, applied_revision, applied_hash, "      \
	"nacked_revision, last_error, last_seen, agent_version, kernel, interfaces, status, rule_capacity"

/* Every statement the store runs, prepared once on first use and kept until close. */
enum store_stmt {
	S_BEGIN,
	S_COMMIT,
	S_ROLLBACK,
	S_REV_NEWEST,
	S_REV_GET,
	S_REV_LIST,
	S_REV_INSERT,
	S_AUDIT_INSERT,
	S_AUDIT_LIST,
	S_AGENT_GET,
	S_AGENT_LIST,
	S_AGENT_PUT,
	S_AGENT_SEEN,
	S_AGENTS_OFFLINE,
	S_AUDIT_INSERT_KEYED,
	/* store_rollouts.c keeps the text of these (store_db__stmt_sql) */
	S_RO_BY_KEY,
	S_RO_INSERT,
	S_RO_UPDATE,
	S_RO_GET,
	S_RO_NEWEST,
	S_RO_FOR_REV,
	S_RO_LIST,
	S_RO_WAVE_PUT,
	S_RO_WAVES,
	S_RO_AGENT_PUT,
	S_RO_AGENTS,
	S_RO_DESIRED,
	/* store_agents.c keeps the text of these */
	S_AGENT_DELETE,
	/* store_monitor.c keeps the text of these */
	S_AL_FIND,
	S_AL_PUT,
	S_AL_GET,
	S_AL_LIST,
	S_AL_ACK,
	S_AL_PRUNE,
	S_US_PUT,
	S_US_QUERY,
	S_US_PRUNE,
	S_BL_PUT,
	S_BL_GET,
	S__COUNT
};

struct store {
	sqlite3 *db;
	char *path;
	int lock_fd;                    /* holds flock(LOCK_EX) on "path.lock" while open */
	bool durable;                   /* PRAGMA synchronous is FULL (else NORMAL) */
	struct timespec tx_started;     /* BEGIN of the open write transaction */
	void (*on_write)(void *ctx, bool durable, double seconds); /* store__set_write_observer */
	void *on_write_ctx;
	sqlite3_stmt *stmt[S__COUNT];
};

/* The cached statement id, prepared on first use; NULL + errno on failure. */
sqlite3_stmt *store_db__stmt(struct store *st, enum store_stmt id);

/* The same for a statement whose SQL text lives in the file that uses it. */
sqlite3_stmt *store_db__stmt_sql(struct store *st, enum store_stmt id, const char *sql);

/* Resets a statement and clears its bindings so it can be reused. Accepts NULL. */
void store_db__reset(sqlite3_stmt *s);

/* Steps a statement that returns no rows (BEGIN, COMMIT, ...) and resets it. 0 or -errno. */
int store_db__run(struct store *st, enum store_stmt id);

/* BEGIN IMMEDIATE; durable picks whether the commit is fsynced. 0 or -errno. */
int store_db__begin(struct store *st, bool durable);

/* Rolls back the open transaction, if any. */
void store_db__rollback(struct store *st);

/* Logs SQLite's message for rc with what was being done and returns the -errno for it. */
int store_db__error(struct store *st, int rc, const char *what);

/* Column helpers: a malloc'd copy of a text column ("" for NULL; NULL when out of
 * memory), a hash column into a fixed buffer, a malloc'd copy of a blob column
 * (NULL/0 for SQL NULL; 0 or -ENOMEM). */
char *store_db__col_str(sqlite3_stmt *s, int col);
void store_db__col_hash(sqlite3_stmt *s, int col, char out[STORE_HASH_HEX]);
int store_db__col_blob(sqlite3_stmt *s, int col, uint8_t **out, size_t *len);

/* Binds a blob that may be empty (NULL, 0) as a zero-length blob rather than NULL. */
int store_db__bind_blob(sqlite3_stmt *s, int idx, const uint8_t *b, size_t len);

/* Writes an audit row (store_audit_new in store.h) inside the open transaction; a row
 * with the same op_key already present is kept and this one skipped. 0 or -errno. */
int store_db__audit(struct store *st, const struct store_audit_new *a);

/* Labels as the JSON object text stored in the database ('{"k":"v"}', keys sorted);
 * malloc'd, NULL on ENOMEM. */
char *store_db__labels_json(const struct store_label *l, size_t n);

/* The reverse: *out (sorted by key; NULL when *n is 0) from such text. Text that is
 * not an object yields no labels. 0 or -ENOMEM. */
int store_db__labels_parse(const char *text, struct store_label **out, size_t *n);

/* Makes room for element cnt in the growable array *v of *cap elements. 0 or -ENOMEM. */
int store_db__grow(void **v, size_t *cap, size_t cnt, size_t elem);

#endif
