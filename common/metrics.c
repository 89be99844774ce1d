// SPDX-License-Identifier: Apache-2.0
/*
 * metrics.c — see metrics.h. Families and their series are linked lists in creation
 * order (so the output is stable from scrape to scrape); a series is found by a linear
 * search over its family, which is fine for the handful of label combinations a
 * family here has. One mutex guards every family of a registry.
 */
#include <errno.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/metrics.h"

#define MAX_COLLECTORS 8

struct series {
	struct series *next;
	char **values;     /* one per label name */
	double value;      /* counter, gauge */
	uint64_t *buckets; /* histogram: observations <= bounds[i] (not cumulative) */
	double sum;
	uint64_t count;
};

struct metrics_family {
	struct metrics_family *next;
	struct metrics *m;
	enum metrics_type type;
	char *name;
	char *help;
	char **labels;
	size_t n_labels;
	double *bounds;
	size_t n_bounds;
	struct series *series, **tail;
};

struct collector {
	metrics_collect_fn fn;
	void *arg;
};

struct metrics {
	pthread_mutex_t lock;
	struct metrics_family *families, **tail;
	struct collector collectors[MAX_COLLECTORS];
	size_t n_collectors;
};

struct metrics_writer {
	char *buf;
	size_t len, cap;
	int err;              /* the first error; everything after it is skipped */
	char family[256];     /* the family being written */
	enum metrics_type type;
};

/* ---- names and values ------------------------------------------------------------- */

static bool is_alpha(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_';
}

static bool is_digit(char c)
{
	return c >= '0' && c <= '9';
}

bool metrics__name_ok(const char *s)
{
	if (!s || !(is_alpha(*s) || *s == ':'))
		return false;
	for (s++; *s; s++) {
		if (!is_alpha(*s) && !is_digit(*s) && *s != ':')
			return false;
	}
	return true;
}

bool metrics__label_name_ok(const char *s)
{
	if (!s || !is_alpha(*s) || strncmp(s, "__", 2) == 0)
		return false;
	for (s++; *s; s++) {
		if (!is_alpha(*s) && !is_digit(*s))
			return false;
	}
	return true;
}

void metrics__format_value(char buf[32], double v)
{
	if (v != v) {
		snprintf(buf, 32, "NaN");
	} else if (v > 1.7976931348623157e308 || v < -1.7976931348623157e308) {
		snprintf(buf, 32, v > 0 ? "+Inf" : "-Inf");
	} else if (v >= -9007199254740992.0 && v <= 9007199254740992.0 && v == (double)(int64_t)v) {
		/* Exact integers (every count below 2^53) print as integers. */
		snprintf(buf, 32, "%lld", (long long)v);
	} else {
		snprintf(buf, 32, "%.15g", v);
		if (strtod(buf, NULL) != v)
			snprintf(buf, 32, "%.17g", v);
	}
}

/* ---- writer ----------------------------------------------------------------------- */

static void put(struct metrics_writer *w, const char *s, size_t n)
{
	if (w->err)
		return;
	if (w->len + n + 1 > w->cap) {
		size_t cap = w->cap ? w->cap : 4096;
		char *b;

		while (w->len + n + 1 > cap)
			cap *= 2;
		b = realloc(w->buf, cap);
		if (!b) {
			w->err = -ENOMEM;
			return;
		}
		w->buf = b;
		w->cap = cap;
	}
	memcpy(w->buf + w->len, s, n);
	w->len += n;
	w->buf[w->len] = '\0';
}

static void puts_(struct metrics_writer *w, const char *s)
{
	put(w, s, strlen(s));
}

/* Escapes '\' and newlines, and '"' too inside label values. */
static void put_escaped(struct metrics_writer *w, const char *s, bool quote)
{
	const char *run = s;

	for (; *s; s++) {
		const char *esc = *s == '\\' ? "\\\\" : *s == '\n' ? "\\n" : (*s == '"' && quote) ? "\\\"" : NULL;

		if (!esc)
			continue;
		put(w, run, (size_t)(s - run));
		puts_(w, esc);
		run = s + 1;
	}
	put(w, run, (size_t)(s - run));
}

static const char *type_name(enum metrics_type t)
{
	return t == METRICS_COUNTER ? "counter" : t == METRICS_GAUGE ? "gauge" : "histogram";
}

int metrics_writer__family(struct metrics_writer *w, enum metrics_type type, const char *name, const char *help)
{
	if (w->err)
		return w->err;
	if (!metrics__name_ok(name) || strlen(name) >= sizeof(w->family)) {
		w->err = -EINVAL;
		return w->err;
	}
	snprintf(w->family, sizeof(w->family), "%s", name);
	w->type = type;
	puts_(w, "# HELP ");
	puts_(w, name);
	puts_(w, " ");
	put_escaped(w, help ? help : "", false);
	puts_(w, "\n# TYPE ");
	puts_(w, name);
	puts_(w, " ");
	puts_(w, type_name(type));
	puts_(w, "\n");
	return w->err;
}

int metrics_writer__sample(struct metrics_writer *w, const char *suffix, const char *const *labels, size_t n,
			   double v)
{
	char num[32];

	if (w->err)
		return w->err;
	if (!w->family[0]) {
		w->err = -EINVAL; /* a sample before its family */
		return w->err;
	}
	puts_(w, w->family);
	if (suffix)
		puts_(w, suffix);
	for (size_t i = 0; i < n; i++) {
		if (!metrics__label_name_ok(labels[2 * i]) || !labels[2 * i + 1]) {
			w->err = -EINVAL;
			return w->err;
		}
		puts_(w, i ? "," : "{");
		puts_(w, labels[2 * i]);
		puts_(w, "=\"");
		put_escaped(w, labels[2 * i + 1], true);
		puts_(w, "\"");
	}
	if (n)
		puts_(w, "}");
	metrics__format_value(num, v);
	puts_(w, " ");
	puts_(w, num);
	puts_(w, "\n");
	return w->err;
}

int metrics_writer__value(struct metrics_writer *w, double v, ...)
{
	const char *labels[2 * METRICS_MAX_LABELS];
	size_t n = 0;
	const char *k;
	va_list ap;

	va_start(ap, v);
	while ((k = va_arg(ap, const char *)) != NULL) {
		if (n == METRICS_MAX_LABELS) {
			va_end(ap);
			w->err = w->err ? w->err : -E2BIG;
			return w->err;
		}
		labels[2 * n] = k;
		labels[2 * n + 1] = va_arg(ap, const char *);
		n++;
	}
	va_end(ap);
	return metrics_writer__sample(w, NULL, labels, n, v);
}

/* ---- registry --------------------------------------------------------------------- */

struct metrics *metrics__new(void)
{
	struct metrics *m = calloc(1, sizeof(*m));

	if (!m)
		return NULL;
	pthread_mutex_init(&m->lock, NULL);
	m->tail = &m->families;
	return m;
}

static void free_strv(char **v, size_t n)
{
	if (!v)
		return;
	for (size_t i = 0; i < n; i++)
		free(v[i]);
	free(v);
}

static void series_free(struct series *s, size_t n_labels)
{
	free_strv(s->values, n_labels);
	free(s->buckets);
	free(s);
}

static void family_free(struct metrics_family *f)
{
	struct series *s, *next;

	for (s = f->series; s; s = next) {
		next = s->next;
		series_free(s, f->n_labels);
	}
	free_strv(f->labels, f->n_labels);
	free(f->bounds);
	free(f->name);
	free(f->help);
	free(f);
}

void metrics__free(struct metrics *m)
{
	struct metrics_family *f, *next;

	if (!m)
		return;
	for (f = m->families; f; f = next) {
		next = f->next;
		family_free(f);
	}
	pthread_mutex_destroy(&m->lock);
	free(m);
}

/* A new series of f with these label values, appended. Caller holds the lock. */
static struct series *series_new(struct metrics_family *f, const char *const *values)
{
	struct series *s = calloc(1, sizeof(*s));

	if (!s)
		return NULL;
	if (f->n_labels) {
		s->values = calloc(f->n_labels, sizeof(*s->values));
		if (!s->values)
			goto fail;
		for (size_t i = 0; i < f->n_labels; i++) {
			s->values[i] = strdup(values[i]);
			if (!s->values[i])
				goto fail;
		}
	}
	if (f->type == METRICS_HISTOGRAM) {
		s->buckets = calloc(f->n_bounds + 1, sizeof(*s->buckets));
		if (!s->buckets)
			goto fail;
	}
	*f->tail = s;
	f->tail = &s->next;
	return s;
fail:
	series_free(s, f->n_labels);
	return NULL;
}

static struct metrics_family *family_new(struct metrics *m, enum metrics_type type, const char *name,
					 const char *help, const char *const *labels, const double *bounds,
					 size_t n_bounds)
{
	struct metrics_family *f = NULL;
	size_t n = 0;
	int err = -ENOMEM;

	if (!m || !metrics__name_ok(name) || (n_bounds && !bounds)) {
		errno = EINVAL;
		return NULL;
	}
	for (; labels && labels[n]; n++) {
		if (!metrics__label_name_ok(labels[n]) || n == METRICS_MAX_LABELS ||
		    (type == METRICS_HISTOGRAM && strcmp(labels[n], "le") == 0)) {
			errno = EINVAL;
			return NULL;
		}
	}
	for (size_t i = 1; i < n_bounds; i++) {
		if (!(bounds[i] > bounds[i - 1])) {
			errno = EINVAL;
			return NULL;
		}
	}
	pthread_mutex_lock(&m->lock);
	for (struct metrics_family *o = m->families; o; o = o->next) {
		if (strcmp(o->name, name) == 0) {
			err = -EEXIST;
			goto fail;
		}
	}
	f = calloc(1, sizeof(*f));
	if (!f)
		goto fail;
	f->m = m;
	f->type = type;
	f->tail = &f->series;
	f->name = strdup(name);
	f->help = strdup(help ? help : "");
	f->n_labels = n;
	if (n)
		f->labels = calloc(n, sizeof(*f->labels));
	if (n_bounds)
		f->bounds = malloc(n_bounds * sizeof(*f->bounds));
	if (!f->name || !f->help || (n && !f->labels) || (n_bounds && !f->bounds))
		goto fail;
	for (size_t i = 0; i < n; i++) {
		f->labels[i] = strdup(labels[i]);
		if (!f->labels[i])
			goto fail;
	}
	if (n_bounds)
		memcpy(f->bounds, bounds, n_bounds * sizeof(*bounds));
	f->n_bounds = n_bounds;
	/* Without labels the one series exists from the start, so it reads 0, not absent. */
	if (!n && !series_new(f, NULL))
		goto fail;
	*m->tail = f;
	m->tail = &f->next;
	pthread_mutex_unlock(&m->lock);
	return f;
fail:
	pthread_mutex_unlock(&m->lock);
	if (f)
		family_free(f);
	errno = -err;
	return NULL;
}

struct metrics_family *metrics__counter(struct metrics *m, const char *name, const char *help,
					const char *const *labels)
{
	return family_new(m, METRICS_COUNTER, name, help, labels, NULL, 0);
}

struct metrics_family *metrics__gauge(struct metrics *m, const char *name, const char *help,
				      const char *const *labels)
{
	return family_new(m, METRICS_GAUGE, name, help, labels, NULL, 0);
}

struct metrics_family *metrics__histogram(struct metrics *m, const char *name, const char *help,
					  const char *const *labels, const double *bounds, size_t n_bounds)
{
	return family_new(m, METRICS_HISTOGRAM, name, help, labels, bounds, n_bounds);
}

/* The series with these values, created when absent. Caller holds the lock. */
static struct series *find(struct metrics_family *f, const char *const *values)
{
	struct series *s;

	for (size_t i = 0; i < f->n_labels; i++) {
		if (!values || !values[i]) {
			errno = EINVAL;
			return NULL;
		}
	}
	for (s = f->series; s; s = s->next) {
		size_t i = 0;

		while (i < f->n_labels && strcmp(s->values[i], values[i]) == 0)
			i++;
		if (i == f->n_labels)
			return s;
	}
	s = series_new(f, values);
	if (!s)
		errno = ENOMEM;
	return s;
}

enum change { ADD, SET, OBSERVE };

static int change(struct metrics_family *f, const char *const *values, double v, enum change how)
{
	struct series *s;
	int err = 0;

	if (!f)
		return 0;
	if ((how == OBSERVE) != (f->type == METRICS_HISTOGRAM) || (f->type == METRICS_COUNTER && how == SET) ||
	    (f->type == METRICS_COUNTER && !(v >= 0)))
		return -EINVAL;
	pthread_mutex_lock(&f->m->lock);
	s = find(f, values);
	if (!s) {
		err = -errno;
	} else if (how == ADD) {
		s->value += v;
	} else if (how == SET) {
		s->value = v;
	} else {
		size_t i = 0;

		while (i < f->n_bounds && !(v <= f->bounds[i]))
			i++;
		s->buckets[i]++;
		s->sum += v;
		s->count++;
	}
	pthread_mutex_unlock(&f->m->lock);
	return err;
}

int metrics__add(struct metrics_family *f, const char *const *values, double v)
{
	return change(f, values, v, ADD);
}

int metrics__set(struct metrics_family *f, const char *const *values, double v)
{
	return change(f, values, v, SET);
}

int metrics__observe(struct metrics_family *f, const char *const *values, double v)
{
	return change(f, values, v, OBSERVE);
}

int metrics__add_collector(struct metrics *m, metrics_collect_fn fn, void *arg)
{
	int err = 0;

	if (!m || !fn)
		return -EINVAL;
	pthread_mutex_lock(&m->lock);
	if (m->n_collectors == MAX_COLLECTORS)
		err = -ENOSPC;
	else
		m->collectors[m->n_collectors++] = (struct collector){ fn, arg };
	pthread_mutex_unlock(&m->lock);
	return err;
}

/* ---- rendering -------------------------------------------------------------------- */

/* The labels of s as name/value pairs, with room for one more pair (le). */
static size_t pairs(const struct metrics_family *f, const struct series *s, const char **out)
{
	for (size_t i = 0; i < f->n_labels; i++) {
		out[2 * i] = f->labels[i];
		out[2 * i + 1] = s->values[i];
	}
	return f->n_labels;
}

static void write_family(struct metrics_writer *w, const struct metrics_family *f)
{
	const char *labels[2 * (METRICS_MAX_LABELS + 1)];

	metrics_writer__family(w, f->type, f->name, f->help);
	for (const struct series *s = f->series; s; s = s->next) {
		size_t n = pairs(f, s, labels);
		uint64_t cum = 0;
		char le[32];

		if (f->type != METRICS_HISTOGRAM) {
			metrics_writer__sample(w, NULL, labels, n, s->value);
			continue;
		}
		labels[2 * n] = "le";
		labels[2 * n + 1] = le;
		for (size_t i = 0; i <= f->n_bounds; i++) {
			cum += s->buckets[i];
			if (i < f->n_bounds)
				metrics__format_value(le, f->bounds[i]);
			else
				snprintf(le, sizeof(le), "+Inf");
			metrics_writer__sample(w, "_bucket", labels, n + 1, (double)cum);
		}
		metrics_writer__sample(w, "_sum", labels, n, s->sum);
		metrics_writer__sample(w, "_count", labels, n, (double)s->count);
	}
}

int metrics__render(struct metrics *m, char **out, size_t *len)
{
	struct metrics_writer w = { 0 };
	struct collector cs[MAX_COLLECTORS];
	size_t n_cs;

	if (!m || !out)
		return -EINVAL;
	put(&w, "", 0); /* an empty registry still renders "" */
	pthread_mutex_lock(&m->lock);
	for (const struct metrics_family *f = m->families; f; f = f->next)
		write_family(&w, f);
	n_cs = m->n_collectors;
	memcpy(cs, m->collectors, n_cs * sizeof(cs[0]));
	pthread_mutex_unlock(&m->lock);
	for (size_t i = 0; i < n_cs && !w.err; i++) {
		int err = cs[i].fn(&w, cs[i].arg);

		if (err && !w.err)
			w.err = err;
	}
	if (w.err) {
		free(w.buf);
		return w.err;
	}
	*out = w.buf;
	if (len)
		*len = w.len;
	return 0;
}
