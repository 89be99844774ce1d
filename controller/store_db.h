/* SPDX-License-Identifier: Apache-2.0 */
/*
 * store_db.h — private to store.c and store_agents.c: the SQLite connection behind
 * struct store, the prepared-statement cache and the small helpers both files use.
 * Nothing outside the store includes this (store.h stays free of SQLite).
 */
#ifndef SLUICE_CONTROLLER_STORE_DB_H
#define SLUICE_CONTROLLER_STORE_DB_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <sqlite3.h>

#include "store.h"

/* Column list every agent query selects, in the order store_agents.c reads it. */
#define STORE_AGENT_COLS                                                                              \
	"node_id, labels, state, state_since, desired_revision, applied_revision, applied_hash, "      \
	"nacked_revision, last_error, last_seen, agent_version, kernel, interfaces, status"

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
	S__COUNT
};

struct store {
	sqlite3 *db;
	char *path;
	int lock_fd;                    /* holds flock(LOCK_EX) on "path.lock" while open */
	bool durable;                   /* PRAGMA synchronous is FULL (else NORMAL) */
	sqlite3_stmt *stmt[S__COUNT];
};

/* The cached statement id, prepared on first use; NULL + errno on failure. */
sqlite3_stmt *store_db__stmt(struct store *st, enum store_stmt id);

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

/* Makes room for element cnt in the growable array *v of *cap elements. 0 or -ENOMEM. */
int store_db__grow(void **v, size_t *cap, size_t cnt, size_t elem);

#endif
