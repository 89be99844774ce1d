// SPDX-License-Identifier: Apache-2.0
/*
 * table.c — aligned text tables and the age, time and hash formats sluicectl shows
 * people. See table.h.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cli/table.h"

#define COL_GAP 3

struct cli_table {
	size_t ncols;
	size_t nrows, caprows;
	char **cells; /* (nrows + 1) * ncols, row 0 the header */
};

/* Characters, not bytes: "…" is one column wide. */
static size_t width(const char *s)
{
	size_t n = 0;

	for (; *s; s++)
		if (((unsigned char)*s & 0xc0) != 0x80)
			n++;
	return n;
}

static int add_row(struct cli_table *t, const char *const *cells)
{
	char **grown;

	if (t->nrows + 1 >= t->caprows) {
		size_t cap = t->caprows ? t->caprows * 2 : 16;

		grown = realloc(t->cells, cap * t->ncols * sizeof(*grown));
		if (!grown)
			return -ENOMEM;
		t->cells = grown;
		t->caprows = cap;
	}
	for (size_t c = 0; c < t->ncols; c++) {
		char *s = strdup(cells[c] && cells[c][0] ? cells[c] : "-");

		if (!s) {
			while (c-- > 0)
				free(t->cells[t->nrows * t->ncols + c]);
			return -ENOMEM;
		}
		t->cells[t->nrows * t->ncols + c] = s;
	}
	t->nrows++;
	return 0;
}

struct cli_table *cli_table__new(size_t ncols, const char *const *headers)
{
	struct cli_table *t;

	if (ncols == 0 || !headers) {
		errno = EINVAL;
		return NULL;
	}
	t = calloc(1, sizeof(*t));
	if (!t)
		return NULL;
	t->ncols = ncols;
	if (add_row(t, headers)) {
		free(t);
		errno = ENOMEM;
		return NULL;
	}
	return t;
}

int cli_table__add(struct cli_table *t, const char *const *cells)
{
	if (!t || !cells)
		return -EINVAL;
	return add_row(t, cells);
}

size_t cli_table__rows(const struct cli_table *t)
{
	return t ? t->nrows - 1 : 0;
}

void cli_table__print(const struct cli_table *t, FILE *out, const char *indent)
{
	size_t *w;

	if (!t)
		return;
	w = calloc(t->ncols, sizeof(*w));
	if (!w)
		return;
	for (size_t r = 0; r < t->nrows; r++)
		for (size_t c = 0; c < t->ncols; c++) {
			size_t cw = width(t->cells[r * t->ncols + c]);

			if (cw > w[c])
				w[c] = cw;
		}
	for (size_t r = 0; r < t->nrows; r++) {
		fputs(indent ? indent : "", out);
		for (size_t c = 0; c < t->ncols; c++) {
			const char *s = t->cells[r * t->ncols + c];

			fputs(s, out);
			if (c + 1 < t->ncols)
				fprintf(out, "%*s", (int)(w[c] - width(s) + COL_GAP), "");
		}
		fputc('\n', out);
	}
	free(w);
}

void cli_table__free(struct cli_table *t)
{
	if (!t)
		return;
	for (size_t i = 0; i < t->nrows * t->ncols; i++)
		free(t->cells[i]);
	free(t->cells);
	free(t);
}

void cli_fmt__age(int64_t s, char *buf, size_t len)
{
	if (s < 0)
		s = 0;
	if (s < 60)
		snprintf(buf, len, "%llds", (long long)s);
	else if (s < 3600)
		snprintf(buf, len, "%lldm", (long long)(s / 60));
	else if (s < 86400)
		snprintf(buf, len, "%lldh", (long long)(s / 3600));
	else
		snprintf(buf, len, "%lldd", (long long)(s / 86400));
}

void cli_fmt__since(int64_t t, int64_t now, char *buf, size_t len)
{
	if (t == 0)
		snprintf(buf, len, "-");
	else
		cli_fmt__age(now - t, buf, len);
}

void cli_fmt__time(int64_t t, char *buf, size_t len)
{
	time_t tt = (time_t)t;
	struct tm tm;

	if (t == 0 || !gmtime_r(&tt, &tm) || strftime(buf, len, "%Y-%m-%dT%H:%M:%SZ", &tm) == 0)
		snprintf(buf, len, "-");
}

void cli_fmt__short_hash(const char *hash, char *buf, size_t len)
{
	if (!hash || !hash[0])
		snprintf(buf, len, "-");
	else if (strlen(hash) > 12)
		snprintf(buf, len, "%.12s…", hash);
	else
		snprintf(buf, len, "%s", hash);
}

/* v scaled to one of k M G T P E with one decimal below 10, none above. */
static void human(double v, const char *unit, char *buf, size_t len)
{
	static const char prefixes[] = "kMGTPE";
	size_t p = 0;

	if (v < 999.5) {
		if (v > 0 && v < 9.95 && v != (double)(uint64_t)v)
			snprintf(buf, len, "%.1f%s", v, unit);
		else
			snprintf(buf, len, "%.0f%s", v, unit);
		return;
	}
	v /= 1000;
	while (v >= 999.5 && p + 1 < sizeof(prefixes) - 1) {
		v /= 1000;
		p++;
	}
	if (v < 9.95)
		snprintf(buf, len, "%.1f%c%s", v, prefixes[p], unit);
	else
		snprintf(buf, len, "%.0f%c%s", v, prefixes[p], unit);
}

void cli_fmt__count(uint64_t v, char *buf, size_t len)
{
	human((double)v, "", buf, len);
}

void cli_fmt__bytes(uint64_t v, char *buf, size_t len)
{
	human((double)v, "B", buf, len);
}

void cli_fmt__rate(double per_second, const char *unit, char *buf, size_t len)
{
	char num[32];

	if (per_second < 0) {
		snprintf(buf, len, "-");
		return;
	}
	human(per_second, unit ? unit : "", num, sizeof(num));
	snprintf(buf, len, "%s/s", num);
}
