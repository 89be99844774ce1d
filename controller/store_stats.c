// SPDX-License-Identifier: Apache-2.0
/*
 * store_stats.c — store.h's counts for metrics: agents and rollouts by state, one
 * GROUP BY each. They run about once a second, so their statements are prepared per
 * call rather than kept in the statement cache.
 */
#include <errno.h>
#include <string.h>

#include <sqlite3.h>

#include "store_db.h"

/* Runs "SELECT state, COUNT(*) ... GROUP BY state" into counts[0..n). 0 or -errno. */
static int count_by_state(struct store *st, const char *sql, uint64_t *counts, size_t n)
{
	sqlite3_stmt *s = NULL;
	int rc, err = 0;

	memset(counts, 0, n * sizeof(*counts));
	rc = sqlite3_prepare_v2(st->db, sql, -1, &s, NULL);
	if (rc != SQLITE_OK)
		return store_db__error(st, rc, "preparing a count");
	while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
		sqlite3_int64 state = sqlite3_column_int64(s, 0);

		if (state >= 0 && (uint64_t)state < n)
			counts[state] = (uint64_t)sqlite3_column_int64(s, 1);
	}
	if (rc != SQLITE_DONE)
		err = store_db__error(st, rc, "counting");
	sqlite3_finalize(s);
	return err;
}

int store__agent_state_counts(struct store *st, uint64_t counts[STORE_AGENT_STATES])
{
	return count_by_state(st, "SELECT state, COUNT(*) FROM agents GROUP BY state", counts, STORE_AGENT_STATES);
}

int store__rollout_state_counts(struct store *st, uint64_t counts[STORE_ROLLOUT_STATES])
{
	return count_by_state(st, "SELECT state, COUNT(*) FROM rollouts GROUP BY state", counts,
			      STORE_ROLLOUT_STATES);
}
