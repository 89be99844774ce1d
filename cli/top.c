// SPDX-License-Identifier: Apache-2.0
/*
 * top.c — per-rule rates from successive status reports, and the frame `sluicectl top`
 * draws. See top.h. Samples are kept sorted by (node, rule), so each poll is matched
 * against the previous one with a merge in O(n log n), whatever the fleet's size.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "cli/table.h"
#include "cli/top.h"

/* One agent's counters for one rule, as of its last report. */
struct sample {
	char *node, *rule;
	uint64_t packets, bytes;
	int64_t reported; /* the report's unix time */
	double pps, bps;  /* negative: unknown */
};

struct cli_top {
	struct sample *s;
	size_t n;
	struct cli_top_row *rows;
	size_t nrows;
	size_t agents, reporting;
};

static void samples_free(struct sample *s, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		free(s[i].node);
		free(s[i].rule);
	}
	free(s);
}

struct cli_top *cli_top__new(void)
{
	return calloc(1, sizeof(struct cli_top));
}

void cli_top__free(struct cli_top *t)
{
	if (!t)
		return;
	samples_free(t->s, t->n);
	free(t->rows);
	free(t);
}

static int cmp_sample(const void *x, const void *y)
{
	const struct sample *a = x, *b = y;
	int c = strcmp(a->node, b->node);

	return c ? c : strcmp(a->rule, b->rule);
}

/* The rate of one counter between two reports; negative when it cannot be known. */
static double rate(uint64_t before, uint64_t now, int64_t dt)
{
	if (dt <= 0 || now < before)
		return -1;
	return (double)(now - before) / (double)dt;
}

/* Carries rates from the previous samples (sorted) into the new ones (sorted). */
static void match(const struct sample *prev, size_t np, struct sample *cur, size_t nc)
{
	size_t i = 0;

	for (size_t k = 0; k < nc; k++) {
		struct sample *c = &cur[k];
		int cmp = 1;

		while (i < np && (cmp = cmp_sample(&prev[i], c)) < 0)
			i++;
		c->pps = c->bps = -1;
		if (i >= np || cmp != 0)
			continue;
		if (prev[i].reported == c->reported) { /* the same report again */
			c->pps = prev[i].pps;
			c->bps = prev[i].bps;
		} else {
			c->pps = rate(prev[i].packets, c->packets, c->reported - prev[i].reported);
			c->bps = c->pps < 0 ? -1 : rate(prev[i].bytes, c->bytes, c->reported - prev[i].reported);
		}
	}
}

static int cmp_row(const void *x, const void *y)
{
	const struct cli_top_row *a = x, *b = y;

	if ((a->pps >= 0) != (b->pps >= 0))
		return a->pps >= 0 ? -1 : 1;
	if (a->pps != b->pps)
		return a->pps > b->pps ? -1 : 1;
	return strcmp(a->name, b->name);
}

static int cmp_row_name(const void *x, const void *y)
{
	return strcmp(((const struct cli_top_row *)x)->name, ((const struct cli_top_row *)y)->name);
}

static int cmp_by_rule(const void *x, const void *y)
{
	return strcmp((*(struct sample *const *)x)->rule, (*(struct sample *const *)y)->rule);
}

/* Sums the samples per rule into t->rows. */
static int summarize(struct cli_top *t)
{
	struct sample **by = NULL;
	struct cli_top_row *rows = NULL;
	size_t nrows = 0;

	by = malloc((t->n + 1) * sizeof(*by));
	rows = calloc(t->n + 1, sizeof(*rows));
	if (!by || !rows) {
		free(by);
		free(rows);
		return -ENOMEM;
	}
	for (size_t i = 0; i < t->n; i++)
		by[i] = &t->s[i];
	qsort(by, t->n, sizeof(*by), cmp_by_rule);
	for (size_t i = 0; i < t->n; i++) {
		struct cli_top_row *r;

		if (nrows == 0 || strcmp(rows[nrows - 1].name, by[i]->rule) != 0) {
			r = &rows[nrows++];
			r->name = by[i]->rule;
			r->pps = r->bps = -1;
		}
		r = &rows[nrows - 1];
		r->agents++;
		r->packets += by[i]->packets;
		r->bytes += by[i]->bytes;
		if (by[i]->pps >= 0) {
			r->pps = (r->pps < 0 ? 0 : r->pps) + by[i]->pps;
			r->bps = (r->bps < 0 ? 0 : r->bps) + (by[i]->bps < 0 ? 0 : by[i]->bps);
		}
	}
	qsort(rows, nrows, sizeof(*rows), cmp_row);
	free(by);
	free(t->rows);
	t->rows = rows;
	t->nrows = nrows;
	return 0;
}

int cli_top__update(struct cli_top *t, Sluice__V1__AgentInfo *const *a, size_t n, int64_t now)
{
	struct sample *cur = NULL;
	size_t nc = 0, cap = 0, reporting = 0;
	int err;

	for (size_t i = 0; i < n; i++) {
		const Sluice__V1__Status *st = a[i]->status;

		if (!st || a[i]->state == SLUICE__V1__AGENT_STATE__AGENT_STATE_OFFLINE ||
		    now - (int64_t)st->unix_time > CLI_TOP_STALE_S)
			continue;
		reporting++;
		for (size_t k = 0; k < st->n_rules; k++) {
			struct sample *s;

			if (nc == cap) {
				struct sample *grown;

				cap = cap ? cap * 2 : 64;
				grown = realloc(cur, cap * sizeof(*cur));
				if (!grown)
					goto nomem;
				cur = grown;
			}
			s = &cur[nc];
			memset(s, 0, sizeof(*s));
			s->node = strdup(a[i]->node_id);
			s->rule = strdup(st->rules[k]->name);
			nc++;
			if (!s->node || !s->rule)
				goto nomem;
			s->packets = st->rules[k]->packets;
			s->bytes = st->rules[k]->bytes;
			s->reported = (int64_t)st->unix_time;
		}
	}
	if (nc)
		qsort(cur, nc, sizeof(*cur), cmp_sample);
	match(t->s, t->n, cur, nc);
	samples_free(t->s, t->n);
	t->s = cur;
	t->n = nc;
	t->agents = n;
	t->reporting = reporting;
	err = summarize(t);
	if (err)
		t->nrows = 0;
	return err;
nomem:
	samples_free(cur, nc);
	return -ENOMEM;
}

const struct cli_top_row *cli_top__rows(const struct cli_top *t, size_t *n)
{
	*n = t->nrows;
	return t->rows;
}

void cli_top__agents(const struct cli_top *t, size_t *agents, size_t *reporting)
{
	*agents = t->agents;
	*reporting = t->reporting;
}

bool cli_top__measured(const struct cli_top *t)
{
	for (size_t i = 0; i < t->nrows; i++)
		if (t->rows[i].pps >= 0)
			return true;
	return false;
}

/* Prints text line by line; with ansi each line also clears the rest of its row. */
static void lines(const char *text, bool ansi, FILE *out)
{
	for (const char *p = text; *p;) {
		const char *nl = strchr(p, '\n');
		size_t n = nl ? (size_t)(nl - p) : strlen(p);

		fprintf(out, "%.*s%s\n", (int)n, p, ansi ? "\033[K" : "");
		p += n + (nl ? 1 : 0);
	}
}

void cli_top__print(const struct cli_top *t, const char *title, bool ansi, int max_lines, FILE *out)
{
	static const char *const hdr[] = { "RULE", "AGENTS", "PKTS/S", "BYTES/S", "PACKETS", "BYTES" };
	size_t shown = t->nrows, len = 0;
	struct cli_table *tab;
	char *text = NULL;
	FILE *mem;

	if (max_lines > 0 && shown + 3 > (size_t)max_lines)
		shown = max_lines > 4 ? (size_t)max_lines - 4 : 0;
	if (ansi)
		fputs("\033[H", out);
	lines(title, ansi, out);
	if (t->nrows == 0) {
		lines(t->reporting ? "no rule counters reported yet" : "no agent has reported status yet", ansi, out);
	} else {
		tab = cli_table__new(6, hdr);
		for (size_t i = 0; tab && i < shown; i++) {
			const struct cli_top_row *r = &t->rows[i];
			char ag[16], pps[24], bps[24], pk[24], by[24];
			const char *row[6] = { r->name, ag, pps, bps, pk, by };

			snprintf(ag, sizeof(ag), "%u", r->agents);
			cli_fmt__rate(r->pps, NULL, pps, sizeof(pps));
			cli_fmt__rate(r->bps, "B", bps, sizeof(bps));
			cli_fmt__count(r->packets, pk, sizeof(pk));
			cli_fmt__bytes(r->bytes, by, sizeof(by));
			cli_table__add(tab, row);
		}
		mem = open_memstream(&text, &len);
		if (mem && tab) {
			cli_table__print(tab, mem, NULL);
			fclose(mem);
			lines(text, ansi, out);
		} else if (mem) {
			fclose(mem);
		}
		free(text);
		cli_table__free(tab);
		if (shown < t->nrows)
			fprintf(out, "... and %zu more rules (a taller terminal shows them)%s\n", t->nrows - shown,
				ansi ? "\033[K" : "");
	}
	if (ansi)
		fputs("\033[J", out);
	fflush(out);
}

json_t *cli_top__json(const struct cli_top *t, int64_t now)
{
	struct cli_top_row *sorted = NULL;
	json_t *o, *rules;
	char ts[40];

	cli_fmt__time(now, ts, sizeof(ts));
	rules = json_array();
	o = json_pack("{s:s, s:I, s:I, s:o}", "time", ts, "agents", (json_int_t)t->agents, "reporting",
		      (json_int_t)t->reporting, "rules", rules);
	if (!o)
		return NULL;
	/* Scripts get a stable order: by name. */
	sorted = malloc((t->nrows + 1) * sizeof(*sorted));
	if (!sorted) {
		json_decref(o);
		return NULL;
	}
	if (t->nrows) {
		memcpy(sorted, t->rows, t->nrows * sizeof(*sorted));
		qsort(sorted, t->nrows, sizeof(*sorted), cmp_row_name);
	}
	for (size_t i = 0; i < t->nrows; i++) {
		const struct cli_top_row *r = &sorted[i];

		if (json_array_append_new(rules, json_pack("{s:s, s:I, s:o, s:o, s:I, s:I}", "name", r->name, "agents",
							   (json_int_t)r->agents,
							   "pps", r->pps < 0 ? json_null() : json_real(r->pps), "bps",
							   r->bps < 0 ? json_null() : json_real(r->bps), "packets",
							   (json_int_t)r->packets, "bytes", (json_int_t)r->bytes))) {
			json_decref(o);
			o = NULL;
			break;
		}
	}
	free(sorted);
	return o;
}
