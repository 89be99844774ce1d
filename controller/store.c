// SPDX-License-Identifier: Apache-2.0
/*
 * store.c — store.h on one SQLite database: the lock file, connection settings, the
 * schema migrations, the prepared-statement cache, and the revision and audit
 * queries. The agent rows and their JSON columns are in store_agents.c, rollouts in
 * store_rollouts.c, alerts, API usage and baselines in store_monitor.c.
 */
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <sqlite3.h>

#include "common/log.h"
#include "store_db.h"

/*
 * Schema migrations: entry i takes a database from user_version i to i + 1. Append
 * only; never edit a step that has shipped. A database with a user_version past the
 * end of this array was written by a newer controller and is refused.
 */
static const char *const migrations[] = {
	/* 1: revisions, agents, audit */
	"CREATE TABLE revisions ("
	" revision INTEGER PRIMARY KEY AUTOINCREMENT," /* AUTOINCREMENT: numbers are never reused */
	" hash TEXT NOT NULL,"
	" author TEXT NOT NULL,"
	" message TEXT NOT NULL DEFAULT '',"
	" created INTEGER NOT NULL,"
	" policy BLOB NOT NULL,"
	" rules INTEGER NOT NULL,"
	" routes INTEGER NOT NULL);"
	"CREATE INDEX revisions_hash ON revisions(hash);"
	/* Revision numbers in agents are what agents report, possibly from another
	 * database, so they carry no foreign key. */
	"CREATE TABLE agents ("
	" node_id TEXT PRIMARY KEY,"
	" labels TEXT NOT NULL DEFAULT '{}',"
	" state INTEGER NOT NULL,"
	" state_since INTEGER NOT NULL,"
	" desired_revision INTEGER NOT NULL DEFAULT 0,"
	" applied_revision INTEGER NOT NULL DEFAULT 0,"
	" applied_hash TEXT NOT NULL DEFAULT '',"
	" nacked_revision INTEGER NOT NULL DEFAULT 0,"
	" last_error TEXT NOT NULL DEFAULT '',"
	" last_seen INTEGER NOT NULL DEFAULT 0,"
	" agent_version TEXT NOT NULL DEFAULT '',"
	" kernel TEXT NOT NULL DEFAULT '',"
	" interfaces TEXT NOT NULL DEFAULT '[]',"
	" status BLOB);"
	"CREATE TABLE audit ("
	" id INTEGER PRIMARY KEY AUTOINCREMENT,"
	" time INTEGER NOT NULL,"
	" who TEXT NOT NULL,"
	" action TEXT NOT NULL,"
	" object TEXT NOT NULL,"
	" detail TEXT NOT NULL DEFAULT '',"
	" before_hash TEXT NOT NULL DEFAULT '',"
	" after_hash TEXT NOT NULL DEFAULT '');",
	/* 2: rollouts with their waves and agents; the agents' capacity; keyed audit rows */
	"ALTER TABLE agents ADD COLUMN rule_capacity INTEGER NOT NULL DEFAULT 0;"
	"ALTER TABLE audit ADD COLUMN op_key TEXT;"
	"CREATE UNIQUE INDEX audit_op_key ON audit(op_key) WHERE op_key IS NOT NULL;"
	"CREATE TABLE rollouts ("
	" id INTEGER PRIMARY KEY AUTOINCREMENT,"
	" op_key TEXT NOT NULL UNIQUE," /* a retried insert finds the first one */
	" revision INTEGER NOT NULL,"
	" hash TEXT NOT NULL,"
	" from_revision INTEGER NOT NULL DEFAULT 0,"
	" selector TEXT NOT NULL DEFAULT '{}',"
	" canary_percent INTEGER NOT NULL DEFAULT 0,"
	" batch_percent INTEGER NOT NULL DEFAULT 0,"
	" interval_seconds INTEGER NOT NULL DEFAULT 0,"
	" ack_timeout_seconds INTEGER NOT NULL,"
	" max_drop_rate_change REAL NOT NULL DEFAULT 0,"
	" state INTEGER NOT NULL,"
	" reason TEXT NOT NULL DEFAULT '',"
	" current_wave INTEGER NOT NULL DEFAULT 0,"
	" next_wave_ms INTEGER NOT NULL DEFAULT 0,"
	" author TEXT NOT NULL,"
	" message TEXT NOT NULL DEFAULT '',"
	" warnings TEXT NOT NULL DEFAULT '[]',"
	" created INTEGER NOT NULL,"
	" updated INTEGER NOT NULL);"
	"CREATE TABLE rollout_waves ("
	" rollout_id INTEGER NOT NULL REFERENCES rollouts(id),"
	" wave INTEGER NOT NULL,"
	" state INTEGER NOT NULL,"
	" agents INTEGER NOT NULL,"
	" started_ms INTEGER NOT NULL DEFAULT 0,"
	" answered_ms INTEGER NOT NULL DEFAULT 0,"
	" finished_ms INTEGER NOT NULL DEFAULT 0,"
	" PRIMARY KEY (rollout_id, wave)) WITHOUT ROWID;"
	/* Agent ids carry no foreign key: a rollout remembers agents the agents table
	 * may have forgotten. */
	"CREATE TABLE rollout_agents ("
	" rollout_id INTEGER NOT NULL REFERENCES rollouts(id),"
	" node_id TEXT NOT NULL,"
	" wave INTEGER NOT NULL,"
	" previous_revision INTEGER NOT NULL,"
	" state INTEGER NOT NULL,"
	" rolled_back INTEGER NOT NULL DEFAULT 0,"
	" error TEXT NOT NULL DEFAULT '',"
	" rate_before REAL NOT NULL DEFAULT -1,"
	" rate_after REAL NOT NULL DEFAULT -1,"
	" ack_packets INTEGER NOT NULL DEFAULT 0,"
	" ack_drops INTEGER NOT NULL DEFAULT 0,"
	" PRIMARY KEY (rollout_id, node_id)) WITHOUT ROWID;",
	/* 3: alerts, API usage time series, learned baselines (store_monitor.c) */
	"CREATE TABLE alerts ("
	" id INTEGER PRIMARY KEY AUTOINCREMENT,"
	" node_id TEXT NOT NULL,"
	" agent_alert_id INTEGER NOT NULL," /* the agent's id: its updates land on one row */
	" type TEXT NOT NULL,"
	" severity INTEGER NOT NULL,"
	" subject TEXT NOT NULL,"
	" first_seen_ms INTEGER NOT NULL,"
	" last_seen_ms INTEGER NOT NULL,"
	" count INTEGER NOT NULL,"
	" acked INTEGER NOT NULL DEFAULT 0,"
	" acked_by TEXT NOT NULL DEFAULT '',"
	" acked_at INTEGER NOT NULL DEFAULT 0,"
	" received INTEGER NOT NULL,"
	" alert BLOB NOT NULL," /* the newest packed sluice.v1.Alert */
	" UNIQUE (node_id, agent_alert_id));"
	"CREATE INDEX alerts_last_seen ON alerts(last_seen_ms);"
	"CREATE TABLE api_usage ("
	" node_id TEXT NOT NULL,"
	" start_ms INTEGER NOT NULL,"
	" end_ms INTEGER NOT NULL,"
	" api TEXT NOT NULL,"
	" method TEXT NOT NULL,"
	" path TEXT NOT NULL,"
	" consumer TEXT NOT NULL,"
	" host TEXT NOT NULL DEFAULT '',"
	" requests INTEGER NOT NULL,"
	" samples INTEGER NOT NULL,"
	" deprecated INTEGER NOT NULL DEFAULT 0,"
	" plaintext INTEGER NOT NULL DEFAULT 0,"
	" PRIMARY KEY (node_id, start_ms, api, method, path, consumer)) WITHOUT ROWID;"
	"CREATE INDEX api_usage_time ON api_usage(start_ms);"
	"CREATE INDEX api_usage_api ON api_usage(api, start_ms);"
	"CREATE TABLE baselines ("
	" node_id TEXT PRIMARY KEY,"
	" time INTEGER NOT NULL,"
	" data BLOB NOT NULL);", /* packed sluice.v1.Baselines */
};
#define N_MIGRATIONS ((int)(sizeof(migrations) / sizeof(migrations[0])))

#define REV_COLS "revision, hash, author, message, created, rules, routes"

static const char *const sql_text[S__COUNT] = {
	[S_BEGIN] = "BEGIN IMMEDIATE",
	[S_COMMIT] = "COMMIT",
	[S_ROLLBACK] = "ROLLBACK",
	[S_REV_NEWEST] = "SELECT " REV_COLS ", CASE WHEN ?2 THEN policy END FROM revisions"
			 " ORDER BY revision DESC LIMIT 1",
	[S_REV_GET] = "SELECT " REV_COLS ", CASE WHEN ?2 THEN policy END FROM revisions WHERE revision = ?1",
	[S_REV_LIST] = "SELECT " REV_COLS ", NULL FROM revisions ORDER BY revision DESC LIMIT ?1",
	[S_REV_INSERT] = "INSERT INTO revisions(hash, author, message, created, policy, rules, routes)"
			 " VALUES(?1, ?2, ?3, ?4, ?5, ?6, ?7)",
	[S_AUDIT_INSERT] = "INSERT INTO audit(time, who, action, object, detail, before_hash, after_hash)"
			   " VALUES(?1, ?2, ?3, ?4, ?5, ?6, ?7)",
	[S_AUDIT_LIST] = "SELECT id, time, who, action, object, detail, before_hash, after_hash FROM audit"
			 " WHERE time >= ?2 ORDER BY id DESC LIMIT ?1",
	[S_AGENT_GET] = "SELECT " STORE_AGENT_COLS " FROM agents WHERE node_id = ?1",
	[S_AGENT_LIST] = "SELECT " STORE_AGENT_COLS " FROM agents ORDER BY node_id",
	[S_AGENT_PUT] = "INSERT INTO agents(node_id, labels, state, state_since, desired_revision,"
			" applied_revision, applied_hash, nacked_revision, last_error, last_seen, agent_version,"
			" kernel, interfaces, rule_capacity)"
			" VALUES(?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14)"
			" ON CONFLICT(node_id) DO UPDATE SET labels = excluded.labels, state = excluded.state,"
			" state_since = excluded.state_since, desired_revision = excluded.desired_revision,"
			" applied_revision = excluded.applied_revision, applied_hash = excluded.applied_hash,"
			" nacked_revision = excluded.nacked_revision, last_error = excluded.last_error,"
			" last_seen = excluded.last_seen, agent_version = excluded.agent_version,"
			" kernel = excluded.kernel, interfaces = excluded.interfaces,"
			" rule_capacity = excluded.rule_capacity",
	[S_AGENT_SEEN] = "UPDATE agents SET last_seen = max(last_seen, ?2), status = coalesce(?3, status)"
			 " WHERE node_id = ?1",
	[S_AGENTS_OFFLINE] = "UPDATE agents SET state = ?1, state_since = ?2 WHERE state != ?1",
	[S_AUDIT_INSERT_KEYED] = "INSERT OR IGNORE INTO audit(time, who, action, object, detail, before_hash,"
				 " after_hash, op_key) VALUES(?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
};

const char *store_agent_state__name(enum store_agent_state s)
{
	static const char *const names[] = { "UNKNOWN", "SYNCED", "PENDING", "NACKED", "OFFLINE" };

	return (unsigned)s < sizeof(names) / sizeof(names[0]) ? names[s] : "UNKNOWN";
}

int store_db__error(struct store *st, int rc, const char *what)
{
	int sys = st->db ? sqlite3_system_errno(st->db) : 0;

	pr_err("database '%s': %s: %s%s%s", st->path, what, st->db ? sqlite3_errmsg(st->db) : sqlite3_errstr(rc),
	       sys ? ": " : "", sys ? strerror(sys) : "");
	/* A full file system shows as SQLITE_FULL, or as an I/O error whose system errno
	 * says so (a write to the WAL or its shared memory that ran out of space). */
	if ((rc & 0xff) == SQLITE_IOERR && (sys == ENOSPC || sys == EDQUOT))
		return -ENOSPC;
	switch (rc & 0xff) {
	case SQLITE_BUSY:
	case SQLITE_LOCKED:
		return -EBUSY;
	case SQLITE_NOMEM:
		return -ENOMEM;
	case SQLITE_FULL:
		return -ENOSPC;
	case SQLITE_READONLY:
		return -EROFS;
	case SQLITE_CONSTRAINT:
		return -EEXIST;
	default:
		return -EIO;
	}
}

sqlite3_stmt *store_db__stmt(struct store *st, enum store_stmt id)
{
	return store_db__stmt_sql(st, id, sql_text[id]);
}

sqlite3_stmt *store_db__stmt_sql(struct store *st, enum store_stmt id, const char *sql)
{
	int rc;

	if (!sql) {
		errno = EINVAL;
		return NULL;
	}
	if (!st->stmt[id]) {
		rc = sqlite3_prepare_v3(st->db, sql, -1, SQLITE_PREPARE_PERSISTENT, &st->stmt[id], NULL);
		if (rc != SQLITE_OK) {
			errno = -store_db__error(st, rc, "preparing a statement");
			return NULL;
		}
	}
	return st->stmt[id];
}

void store_db__reset(sqlite3_stmt *s)
{
	if (s) {
		sqlite3_reset(s);
		sqlite3_clear_bindings(s);
	}
}

int store_db__run(struct store *st, enum store_stmt id)
{
	sqlite3_stmt *s = store_db__stmt(st, id);
	int rc, err = 0;

	if (!s)
		return -errno;
	rc = sqlite3_step(s);
	if (rc != SQLITE_DONE)
		err = store_db__error(st, rc, sql_text[id] ? sql_text[id] : "a statement");
	store_db__reset(s);
	if (id == S_BEGIN && !err)
		clock_gettime(CLOCK_MONOTONIC, &st->tx_started);
	if (id == S_COMMIT && !err && st->on_write) {
		struct timespec now;

		clock_gettime(CLOCK_MONOTONIC, &now);
		st->on_write(st->on_write_ctx, st->durable,
			     (double)(now.tv_sec - st->tx_started.tv_sec) +
				     (double)(now.tv_nsec - st->tx_started.tv_nsec) / 1e9);
	}
	return err;
}

void store__strerror(const struct store *st, int err, char *buf, size_t len)
{
	const char *path = st && st->path ? st->path : "?";

	switch (err < 0 ? -err : err) {
	case ENOSPC:
	case EDQUOT:
		snprintf(buf, len,
			 "the controller's database is full: no space left on device writing '%s'; nothing was stored: free space on its file system and retry",
			 path);
		break;
	case EROFS:
		snprintf(buf, len,
			 "the controller's database '%s' is read-only; nothing was stored: make it writable and retry", path);
		break;
	case EBUSY:
		snprintf(buf, len, "the controller's database '%s' is busy; nothing was stored: retry", path);
		break;
	case EIO:
		snprintf(buf, len,
			 "I/O error on the controller's database '%s'; nothing was stored: see the controller's log and check its disk",
			 path);
		break;
	default:
		snprintf(buf, len, "the controller's database '%s': %s", path, strerror(err < 0 ? -err : err));
		break;
	}
}

void store__set_write_observer(struct store *st, void (*fn)(void *ctx, bool durable, double seconds), void *ctx)
{
	st->on_write = fn;
	st->on_write_ctx = ctx;
}

int store_db__begin(struct store *st, bool durable)
{
	const char *mode = durable ? "PRAGMA synchronous = FULL" : "PRAGMA synchronous = NORMAL";
	int rc;

	/* Policy and audit writes are fsynced at commit; agent liveness is not worth an
	 * fsync per write, and in WAL mode NORMAL still never corrupts the database. */
	if (durable != st->durable) {
		rc = sqlite3_exec(st->db, mode, NULL, NULL, NULL);
		if (rc != SQLITE_OK)
			return store_db__error(st, rc, mode);
		st->durable = durable;
	}
	return store_db__run(st, S_BEGIN);
}

void store_db__rollback(struct store *st)
{
	if (sqlite3_get_autocommit(st->db) == 0)
		store_db__run(st, S_ROLLBACK);
}

char *store_db__col_str(sqlite3_stmt *s, int col)
{
	const unsigned char *t = sqlite3_column_text(s, col);

	return strdup(t ? (const char *)t : "");
}

void store_db__col_hash(sqlite3_stmt *s, int col, char out[STORE_HASH_HEX])
{
	const unsigned char *t = sqlite3_column_text(s, col);

	snprintf(out, STORE_HASH_HEX, "%s", t ? (const char *)t : "");
}

int store_db__col_blob(sqlite3_stmt *s, int col, uint8_t **out, size_t *len)
{
	const void *b = sqlite3_column_blob(s, col);
	int n = sqlite3_column_bytes(s, col);

	*out = NULL;
	*len = 0;
	if (sqlite3_column_type(s, col) == SQLITE_NULL)
		return 0;
	*out = malloc(n > 0 ? (size_t)n : 1);
	if (!*out)
		return -ENOMEM;
	if (n > 0)
		memcpy(*out, b, (size_t)n);
	*len = (size_t)n;
	return 0;
}

int store_db__grow(void **v, size_t *cap, size_t cnt, size_t elem)
{
	size_t ncap = *cap ? *cap * 2 : 16;
	void *nv;

	if (cnt < *cap)
		return 0;
	nv = realloc(*v, ncap * elem);
	if (!nv)
		return -ENOMEM;
	*v = nv;
	*cap = ncap;
	return 0;
}

int store_db__bind_blob(sqlite3_stmt *s, int idx, const uint8_t *b, size_t len)
{
	/* An empty policy packs to zero bytes; bind it as an empty blob, not as NULL. */
	return sqlite3_bind_blob64(s, idx, b ? (const void *)b : "", len, SQLITE_STATIC);
}

/* ---- open / lock / migrate ---------------------------------------------------------- */

/* Takes the exclusive lock "path.lock" and writes our pid in it. flock() locks belong
 * to the open file, so even a second open in this process is refused. */
static int take_lock(struct store *st, char *err, size_t errlen)
{
	char lock_path[4096], pid[32] = "";
	struct stat sb;
	char *dir_copy = NULL;
	ssize_t n;
	int ret = 0;

	snprintf(lock_path, sizeof(lock_path), "%s.lock", st->path);
	dir_copy = strdup(st->path);
	if (!dir_copy) {
		ret = -ENOMEM;
		goto cleanup;
	}
	if (stat(dirname(dir_copy), &sb) != 0 || !S_ISDIR(sb.st_mode)) {
		snprintf(err, errlen, "database directory '%s' does not exist; create it or choose another path",
			 dir_copy);
		ret = -ENOENT;
		goto cleanup;
	}
	st->lock_fd = open(lock_path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
	if (st->lock_fd < 0) {
		ret = -errno;
		snprintf(err, errlen, "database '%s': cannot open lock file '%s': %s", st->path, lock_path,
			 strerror(-ret));
		goto cleanup;
	}
	if (flock(st->lock_fd, LOCK_EX | LOCK_NB) != 0) {
		ret = errno == EWOULDBLOCK ? -EBUSY : -errno;
		n = pread(st->lock_fd, pid, sizeof(pid) - 1, 0);
		pid[n > 0 ? n : 0] = '\0';
		pid[strcspn(pid, "\n")] = '\0';
		if (ret == -EBUSY && pid[0])
			snprintf(err, errlen,
				 "database '%s' is in use by another sluice-controller (pid %s, lock '%s'); stop it or choose another database",
				 st->path, pid, lock_path);
		else if (ret == -EBUSY)
			snprintf(err, errlen,
				 "database '%s' is in use by another sluice-controller (lock '%s'); stop it or choose another database",
				 st->path, lock_path);
		else
			snprintf(err, errlen, "database '%s': cannot lock '%s': %s", st->path, lock_path,
				 strerror(-ret));
		goto cleanup;
	}
	n = snprintf(pid, sizeof(pid), "%d\n", (int)getpid());
	if (ftruncate(st->lock_fd, 0) != 0 || pwrite(st->lock_fd, pid, (size_t)n, 0) != n)
		pr_warn("database '%s': cannot write our pid to '%s': %s", st->path, lock_path, strerror(errno));
cleanup:
	free(dir_copy);
	return ret;
}

static int pragma_int(struct store *st, const char *sql, int *out)
{
	sqlite3_stmt *s = NULL;
	int rc, err = 0;

	rc = sqlite3_prepare_v2(st->db, sql, -1, &s, NULL);
	if (rc == SQLITE_OK)
		rc = sqlite3_step(s);
	if (rc != SQLITE_ROW) {
		err = -EIO;
		goto cleanup;
	}
	*out = sqlite3_column_int(s, 0);
cleanup:
	sqlite3_finalize(s);
	return err;
}

static int configure(struct store *st, char *err, size_t errlen)
{
	sqlite3_stmt *s = NULL;
	const unsigned char *mode;
	int rc, ret = 0;

	sqlite3_extended_result_codes(st->db, 1);
	sqlite3_busy_timeout(st->db, 5000);
	/* The first statement reads the file: a file that is not SQLite fails here. */
	rc = sqlite3_prepare_v2(st->db, "PRAGMA journal_mode = WAL", -1, &s, NULL);
	if (rc == SQLITE_OK)
		rc = sqlite3_step(s);
	if (rc != SQLITE_ROW) {
		snprintf(err, errlen, "database '%s' cannot be used: %s", st->path, sqlite3_errmsg(st->db));
		ret = (rc & 0xff) == SQLITE_NOTADB ? -EINVAL : -EIO;
		goto cleanup;
	}
	mode = sqlite3_column_text(s, 0);
	if (!mode || strcmp((const char *)mode, "wal") != 0) {
		snprintf(err, errlen, "database '%s': cannot switch to WAL mode (got '%s')", st->path,
			 mode ? (const char *)mode : "?");
		ret = -EIO;
		goto cleanup;
	}
	rc = sqlite3_exec(st->db, "PRAGMA synchronous = FULL; PRAGMA foreign_keys = ON", NULL, NULL, NULL);
	if (rc != SQLITE_OK) {
		snprintf(err, errlen, "database '%s': %s", st->path, sqlite3_errmsg(st->db));
		ret = -EIO;
		goto cleanup;
	}
	st->durable = true;
cleanup:
	sqlite3_finalize(s);
	return ret;
}

static int migrate(struct store *st, char *err, size_t errlen)
{
	char sql[64];
	int version = 0, rc, ret = 0;

	ret = pragma_int(st, "PRAGMA user_version", &version);
	if (ret) {
		snprintf(err, errlen, "database '%s': cannot read its schema version: %s", st->path,
			 sqlite3_errmsg(st->db));
		return ret;
	}
	if (version > N_MIGRATIONS) {
		snprintf(err, errlen,
			 "database '%s' has schema version %d, newer than this sluice-controller knows (%d); run a newer sluice-controller",
			 st->path, version, N_MIGRATIONS);
		return -ENOTSUP;
	}
	for (; version < N_MIGRATIONS; version++) {
		snprintf(sql, sizeof(sql), "PRAGMA user_version = %d", version + 1);
		ret = store_db__begin(st, true);
		if (ret)
			goto fail;
		rc = sqlite3_exec(st->db, migrations[version], NULL, NULL, NULL);
		if (rc == SQLITE_OK)
			rc = sqlite3_exec(st->db, sql, NULL, NULL, NULL);
		if (rc != SQLITE_OK) {
			ret = -EIO;
			goto fail;
		}
		ret = store_db__run(st, S_COMMIT);
		if (ret)
			goto fail;
		pr_info("database '%s': migrated the schema to version %d", st->path, version + 1);
	}
	return 0;
fail:
	snprintf(err, errlen, "database '%s': schema migration to version %d failed: %s", st->path, version + 1,
		 sqlite3_errmsg(st->db));
	store_db__rollback(st);
	return ret ? ret : -EIO;
}

struct store *store__open(const char *path, char *err, size_t errlen)
{
	struct store *st = NULL;
	int rc, ret = 0;

	if (!path || !*path) {
		snprintf(err, errlen, "no database path given");
		errno = EINVAL;
		return NULL;
	}
	st = calloc(1, sizeof(*st));
	if (!st || !(st->path = strdup(path))) {
		snprintf(err, errlen, "out of memory");
		ret = -ENOMEM;
		goto cleanup;
	}
	st->lock_fd = -1;
	ret = take_lock(st, err, errlen);
	if (ret)
		goto cleanup;
	rc = sqlite3_open_v2(path, &st->db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, NULL);
	if (rc != SQLITE_OK) {
		snprintf(err, errlen, "database '%s' cannot be opened: %s", path,
			 st->db ? sqlite3_errmsg(st->db) : sqlite3_errstr(rc));
		ret = -EIO;
		goto cleanup;
	}
	ret = configure(st, err, errlen);
	if (ret)
		goto cleanup;
	ret = migrate(st, err, errlen);
cleanup:
	if (ret) {
		store__close(st);
		errno = -ret;
		return NULL;
	}
	return st;
}

void store__close(struct store *st)
{
	if (!st)
		return;
	for (int i = 0; i < S__COUNT; i++)
		sqlite3_finalize(st->stmt[i]);
	if (st->db)
		sqlite3_close(st->db);
	/* The lock file stays: removing it would let a third controller lock a new
	 * file while a second one still waits on the old one. */
	if (st->lock_fd >= 0)
		close(st->lock_fd);
	free(st->path);
	free(st);
}

int store__schema_version(void)
{
	return N_MIGRATIONS;
}

int store__db_schema_version(struct store *st)
{
	int v = 0;
	int err = pragma_int(st, "PRAGMA user_version", &v);

	return err ? err : v;
}

/* ---- revisions ---------------------------------------------------------------------- */

void store_revision__clear(struct store_revision *r)
{
	if (!r)
		return;
	free(r->author);
	free(r->message);
	free(r->policy);
	memset(r, 0, sizeof(*r));
}

void store_revision__free_array(struct store_revision *v, size_t n)
{
	for (size_t i = 0; v && i < n; i++)
		store_revision__clear(&v[i]);
	free(v);
}

/* Reads a row of REV_COLS + policy. */
static int read_revision(sqlite3_stmt *s, struct store_revision *r)
{
	memset(r, 0, sizeof(*r));
	r->revision = (uint64_t)sqlite3_column_int64(s, 0);
	store_db__col_hash(s, 1, r->hash);
	r->author = store_db__col_str(s, 2);
	r->message = store_db__col_str(s, 3);
	r->created = sqlite3_column_int64(s, 4);
	r->rules = (uint32_t)sqlite3_column_int64(s, 5);
	r->routes = (uint32_t)sqlite3_column_int64(s, 6);
	if (!r->author || !r->message || store_db__col_blob(s, 7, &r->policy, &r->policy_len)) {
		store_revision__clear(r);
		return -ENOMEM;
	}
	return 0;
}

int store__revision_insert(struct store *st, const struct store_revision_new *in, uint64_t *revision,
			   bool *created)
{
	sqlite3_stmt *newest = NULL, *ins = NULL, *aud = NULL;
	char before[STORE_HASH_HEX] = "", object[40];
	uint64_t prev = 0, rev;
	int rc, err;

	*created = false;
	if (!in || !in->hash || !in->author)
		return -EINVAL;
	err = store_db__begin(st, true);
	if (err)
		return err;
	newest = store_db__stmt(st, S_REV_NEWEST);
	if (!newest) {
		err = -errno;
		goto cleanup;
	}
	sqlite3_bind_int(newest, 2, 0);
	rc = sqlite3_step(newest);
	if (rc == SQLITE_ROW) {
		prev = (uint64_t)sqlite3_column_int64(newest, 0);
		store_db__col_hash(newest, 1, before);
	} else if (rc != SQLITE_DONE) {
		err = store_db__error(st, rc, "reading the newest revision");
		goto cleanup;
	}
	store_db__reset(newest);
	if (prev && strcmp(before, in->hash) == 0) {
		*revision = prev;
		goto cleanup; /* unchanged: commit the empty transaction */
	}
	if (in->base_revision && in->base_revision != prev) {
		*revision = prev; /* someone else's revision came first: the caller must re-read */
		err = -ESTALE;
		goto cleanup;
	}

	ins = store_db__stmt(st, S_REV_INSERT);
	aud = store_db__stmt(st, S_AUDIT_INSERT);
	if (!ins || !aud) {
		err = -errno;
		goto cleanup;
	}
	sqlite3_bind_text(ins, 1, in->hash, -1, SQLITE_STATIC);
	sqlite3_bind_text(ins, 2, in->author, -1, SQLITE_STATIC);
	sqlite3_bind_text(ins, 3, in->message ? in->message : "", -1, SQLITE_STATIC);
	sqlite3_bind_int64(ins, 4, in->created);
	store_db__bind_blob(ins, 5, in->policy, in->policy_len);
	sqlite3_bind_int64(ins, 6, in->rules);
	sqlite3_bind_int64(ins, 7, in->routes);
	rc = sqlite3_step(ins);
	if (rc != SQLITE_DONE) {
		err = store_db__error(st, rc, "inserting a revision");
		goto cleanup;
	}
	rev = (uint64_t)sqlite3_last_insert_rowid(st->db);

	snprintf(object, sizeof(object), "revision %llu", (unsigned long long)rev);
	sqlite3_bind_int64(aud, 1, in->created);
	sqlite3_bind_text(aud, 2, in->author, -1, SQLITE_STATIC);
	sqlite3_bind_text(aud, 3, "apply", -1, SQLITE_STATIC);
	sqlite3_bind_text(aud, 4, object, -1, SQLITE_STATIC);
	sqlite3_bind_text(aud, 5, in->message ? in->message : "", -1, SQLITE_STATIC);
	sqlite3_bind_text(aud, 6, before, -1, SQLITE_STATIC);
	sqlite3_bind_text(aud, 7, in->hash, -1, SQLITE_STATIC);
	rc = sqlite3_step(aud);
	if (rc != SQLITE_DONE) {
		err = store_db__error(st, rc, "writing the audit row");
		goto cleanup;
	}
	*revision = rev;
	*created = true;
cleanup:
	store_db__reset(newest);
	store_db__reset(ins);
	store_db__reset(aud);
	if (!err)
		err = store_db__run(st, S_COMMIT);
	if (err) {
		store_db__rollback(st);
		*created = false;
	}
	return err;
}

int store__revision_get(struct store *st, uint64_t rev, bool with_policy, struct store_revision *out)
{
	sqlite3_stmt *s = store_db__stmt(st, rev ? S_REV_GET : S_REV_NEWEST);
	int rc, err = 0;

	memset(out, 0, sizeof(*out));
	if (!s)
		return -errno;
	sqlite3_bind_int64(s, 1, (sqlite3_int64)rev);
	sqlite3_bind_int(s, 2, with_policy);
	rc = sqlite3_step(s);
	if (rc == SQLITE_ROW)
		err = read_revision(s, out);
	else if (rc == SQLITE_DONE)
		err = -ENOENT;
	else
		err = store_db__error(st, rc, "reading a revision");
	store_db__reset(s);
	return err;
}

int store__revision_list(struct store *st, uint32_t limit, struct store_revision **out, size_t *n)
{
	sqlite3_stmt *s = store_db__stmt(st, S_REV_LIST);
	struct store_revision *v = NULL;
	size_t cap = 0, cnt = 0;
	int rc, err = 0;

	*out = NULL;
	*n = 0;
	if (!s)
		return -errno;
	sqlite3_bind_int64(s, 1, limit ? (sqlite3_int64)limit : -1);
	while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
		err = store_db__grow((void **)&v, &cap, cnt, sizeof(*v));
		if (err)
			goto cleanup;
		err = read_revision(s, &v[cnt]);
		if (err)
			goto cleanup;
		cnt++;
	}
	if (rc != SQLITE_DONE)
		err = store_db__error(st, rc, "listing revisions");
cleanup:
	store_db__reset(s);
	if (err) {
		store_revision__free_array(v, cnt);
		return err;
	}
	*out = v;
	*n = cnt;
	return 0;
}

/* ---- audit -------------------------------------------------------------------------- */

int store_db__audit(struct store *st, const struct store_audit_new *a)
{
	sqlite3_stmt *s = store_db__stmt(st, S_AUDIT_INSERT_KEYED);
	int rc, err = 0;

	if (!s)
		return -errno;
	sqlite3_bind_int64(s, 1, a->time);
	sqlite3_bind_text(s, 2, a->who ? a->who : "", -1, SQLITE_STATIC);
	sqlite3_bind_text(s, 3, a->action ? a->action : "", -1, SQLITE_STATIC);
	sqlite3_bind_text(s, 4, a->object ? a->object : "", -1, SQLITE_STATIC);
	sqlite3_bind_text(s, 5, a->detail ? a->detail : "", -1, SQLITE_STATIC);
	sqlite3_bind_text(s, 6, a->before_hash ? a->before_hash : "", -1, SQLITE_STATIC);
	sqlite3_bind_text(s, 7, a->after_hash ? a->after_hash : "", -1, SQLITE_STATIC);
	if (a->op_key)
		sqlite3_bind_text(s, 8, a->op_key, -1, SQLITE_STATIC);
	else
		sqlite3_bind_null(s, 8);
	rc = sqlite3_step(s);
	if (rc != SQLITE_DONE)
		err = store_db__error(st, rc, "writing the audit row");
	store_db__reset(s);
	return err;
}

void store_audit__free_array(struct store_audit *v, size_t n)
{
	for (size_t i = 0; v && i < n; i++) {
		free(v[i].who);
		free(v[i].action);
		free(v[i].object);
		free(v[i].detail);
	}
	free(v);
}

int store__audit_add(struct store *st, const struct store_audit_new *a)
{
	int err;

	if (!a || !a->who || !a->action || !a->object)
		return -EINVAL;
	err = store_db__begin(st, true);
	if (err)
		return err;
	err = store_db__audit(st, a);
	if (!err)
		err = store_db__run(st, S_COMMIT);
	if (err)
		store_db__rollback(st);
	return err;
}

int store__audit_list(struct store *st, uint32_t limit, int64_t since, struct store_audit **out, size_t *n)
{
	sqlite3_stmt *s = store_db__stmt(st, S_AUDIT_LIST);
	struct store_audit *v = NULL, *a;
	size_t cap = 0, cnt = 0;
	int rc, err = 0;

	*out = NULL;
	*n = 0;
	if (!s)
		return -errno;
	sqlite3_bind_int64(s, 1, limit ? (sqlite3_int64)limit : -1);
	sqlite3_bind_int64(s, 2, since);
	while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
		err = store_db__grow((void **)&v, &cap, cnt, sizeof(*v));
		if (err)
			goto cleanup;
		a = &v[cnt++];
		memset(a, 0, sizeof(*a));
		a->id = sqlite3_column_int64(s, 0);
		a->time = sqlite3_column_int64(s, 1);
		a->who = store_db__col_str(s, 2);
		a->action = store_db__col_str(s, 3);
		a->object = store_db__col_str(s, 4);
		a->detail = store_db__col_str(s, 5);
		store_db__col_hash(s, 6, a->before_hash);
		store_db__col_hash(s, 7, a->after_hash);
		if (!a->who || !a->action || !a->object || !a->detail) {
			err = -ENOMEM;
			goto cleanup;
		}
	}
	if (rc != SQLITE_DONE)
		err = store_db__error(st, rc, "listing the audit log");
cleanup:
	store_db__reset(s);
	if (err) {
		store_audit__free_array(v, cnt);
		return err;
	}
	*out = v;
	*n = cnt;
	return 0;
}
