// SPDX-License-Identifier: Apache-2.0
/*
 * policy_diff.c — see policy_diff.h. Both policies are rendered rule by rule into the
 * file's JSON schema (policy_json.c) and the two trees are walked together, so a field
 * is compared and printed exactly as the file spells it. Names are matched through a
 * sorted index, which keeps a diff of two 16,384-rule revisions at O(n log n).
 */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "common/policy.h"
#include "common/policy_diff.h"

#define PATH_MAX_LEN 256

static const char *const kind_names[] = { "rule", "route" };
static const char *const kind_plural[] = { "rules", "routes" };

/* A name and where it sits in its policy, for the sorted index. */
struct named {
	const char *name;
	size_t idx;
};

/* A rule present in both policies: its index in each, for the position check. */
struct pair {
	size_t from, to;
	uint32_t prio;
	size_t id;
	bool moved;
};

static int cmp_named(const void *a, const void *b)
{
	return strcmp(((const struct named *)a)->name, ((const struct named *)b)->name);
}

static int cmp_pair_from(const void *a, const void *b)
{
	const struct pair *x = a, *y = b;

	if (x->prio != y->prio)
		return x->prio < y->prio ? -1 : 1;
	return x->from < y->from ? -1 : x->from > y->from;
}

static int cmp_pair_to(const void *a, const void *b)
{
	const struct pair *x = a, *y = b;

	if (x->prio != y->prio)
		return x->prio < y->prio ? -1 : 1;
	return x->to < y->to ? -1 : x->to > y->to;
}

/* ---- growing arrays ---------------------------------------------------------------- */

static int grow(void **v, size_t *cap, size_t n, size_t elem)
{
	size_t ncap = *cap ? *cap * 2 : 8;
	void *nv;

	if (n < *cap)
		return 0;
	nv = realloc(*v, ncap * elem);
	if (!nv)
		return -ENOMEM;
	*v = nv;
	*cap = ncap;
	return 0;
}

struct builder {
	struct policy_diff *d;
	size_t cap;
};

/* Appends an entry that takes object; NULL on ENOMEM (object released). */
static struct policy_diff_entry *add_entry(struct builder *b, enum policy_diff_kind kind, enum policy_diff_op op,
					   const char *name, json_t *object)
{
	struct policy_diff_entry *e;

	if (!object || grow((void **)&b->d->entries, &b->cap, b->d->n, sizeof(*e))) {
		json_decref(object);
		return NULL;
	}
	e = &b->d->entries[b->d->n];
	memset(e, 0, sizeof(*e));
	e->name = strdup(name ? name : "");
	if (!e->name) {
		json_decref(object);
		return NULL;
	}
	e->kind = kind;
	e->op = op;
	e->object = object;
	b->d->n++;
	b->d->count[kind][op]++;
	return e;
}

struct fields {
	struct policy_diff_field *v;
	size_t n, cap;
};

static void fields_free(struct fields *f)
{
	for (size_t i = 0; i < f->n; i++) {
		free(f->v[i].path);
		json_decref(f->v[i].before);
		json_decref(f->v[i].after);
	}
	free(f->v);
	memset(f, 0, sizeof(*f));
}

/* Records path: before -> after (borrowed references; incref'd here). */
static int add_field(struct fields *f, const char *path, json_t *before, json_t *after)
{
	struct policy_diff_field *x;

	if (grow((void **)&f->v, &f->cap, f->n, sizeof(*x)))
		return -ENOMEM;
	x = &f->v[f->n];
	x->path = strdup(path);
	if (!x->path)
		return -ENOMEM;
	x->before = json_incref(before);
	x->after = json_incref(after);
	f->n++;
	return 0;
}

/* ---- comparing two JSON trees ------------------------------------------------------ */

static bool all_objects(const json_t *a)
{
	size_t i;
	json_t *v;

	json_array_foreach(a, i, v)
		if (!json_is_object(v))
			return false;
	return true;
}

static int walk(struct fields *f, const char *path, json_t *a, json_t *b);

static void join_path(char *out, const char *path, const char *key)
{
	snprintf(out, PATH_MAX_LEN, "%s%s%s", path, path[0] ? "." : "", key);
}

/* Both objects: every key of a (in a's order), then the keys only b has. */
static int walk_objects(struct fields *f, const char *path, json_t *a, json_t *b)
{
	char sub[PATH_MAX_LEN];
	const char *key;
	json_t *v;
	int err;

	json_object_foreach(a, key, v) {
		if (!path[0] && strcmp(key, "name") == 0)
			continue; /* the name is the identity, not a field */
		join_path(sub, path, key);
		err = walk(f, sub, v, json_object_get(b, key));
		if (err)
			return err;
	}
	json_object_foreach(b, key, v) {
		if (json_object_get(a, key))
			continue;
		join_path(sub, path, key);
		err = add_field(f, sub, NULL, v);
		if (err)
			return err;
	}
	return 0;
}

static int walk(struct fields *f, const char *path, json_t *a, json_t *b)
{
	char sub[PATH_MAX_LEN];
	int err;

	if (a && b && json_equal(a, b))
		return 0;
	if (json_is_object(a) && json_is_object(b))
		return walk_objects(f, path, a, b);
	/* Lists of objects of the same length (backends) compare element by element, so a
	 * weight change reads "backends[1].weight" rather than the whole list. */
	if (json_is_array(a) && json_is_array(b) && json_array_size(a) == json_array_size(b) && all_objects(a) &&
	    all_objects(b)) {
		for (size_t i = 0; i < json_array_size(a); i++) {
			snprintf(sub, sizeof(sub), "%s[%zu]", path, i);
			err = walk(f, sub, json_array_get(a, i), json_array_get(b, i));
			if (err)
				return err;
		}
		return 0;
	}
	return add_field(f, path, a, b);
}

/* ---- rules and routes ---------------------------------------------------------------- */

struct side {
	size_t n;
	const char *(*name)(const Sluice__V1__Policy *p, size_t i);
	json_t *(*render)(const Sluice__V1__Policy *p, size_t i);
};

static const char *rule_name(const Sluice__V1__Policy *p, size_t i)
{
	return p->rules[i]->name ? p->rules[i]->name : "";
}

static json_t *rule_json(const Sluice__V1__Policy *p, size_t i)
{
	return policy_json__rule(p->rules[i]);
}

static const char *route_name(const Sluice__V1__Policy *p, size_t i)
{
	return p->routes[i]->name ? p->routes[i]->name : "";
}

static json_t *route_json(const Sluice__V1__Policy *p, size_t i)
{
	return policy_json__route(p->routes[i]);
}

/* Marks the pairs whose rule moved among the rules of its (unchanged) priority: sorted
 * by (priority, index) in each policy, such a rule has a different rank in the two
 * orders. Rules whose priority changed show that change instead and are left out. */
static int mark_moved(const Sluice__V1__Policy *from, const Sluice__V1__Policy *to, struct pair *pairs, size_t n)
{
	struct pair *byfrom = NULL, *byto = NULL;
	size_t *rank = NULL, m = 0;
	int err = 0;

	if (n == 0)
		return 0;
	byfrom = malloc(n * sizeof(*byfrom));
	byto = malloc(n * sizeof(*byto));
	rank = malloc(n * sizeof(*rank));
	if (!byfrom || !byto || !rank) {
		err = -ENOMEM;
		goto cleanup;
	}
	for (size_t k = 0; k < n; k++) {
		uint32_t prio = to->rules[pairs[k].to]->priority;

		if (from->rules[pairs[k].from]->priority != prio)
			continue;
		byfrom[m] = pairs[k];
		byfrom[m].id = k;
		byfrom[m].prio = prio;
		m++;
	}
	memcpy(byto, byfrom, m * sizeof(*byto));
	qsort(byfrom, m, sizeof(*byfrom), cmp_pair_from);
	qsort(byto, m, sizeof(*byto), cmp_pair_to);
	for (size_t k = 0; k < m; k++)
		rank[byfrom[k].id] = k;
	for (size_t k = 0; k < m; k++)
		if (rank[byto[k].id] != k)
			pairs[byto[k].id].moved = true;
cleanup:
	free(byfrom);
	free(byto);
	free(rank);
	return err;
}

static int diff_kind(struct builder *b, enum policy_diff_kind kind, const Sluice__V1__Policy *from,
		     const Sluice__V1__Policy *to)
{
	const struct side s = kind == POLICY_DIFF_RULE ?
				      (struct side){ 0, rule_name, rule_json } :
				      (struct side){ 0, route_name, route_json };
	size_t n_from = from ? (kind == POLICY_DIFF_RULE ? from->n_rules : from->n_routes) : 0;
	size_t n_to = to ? (kind == POLICY_DIFF_RULE ? to->n_rules : to->n_routes) : 0;
	struct named *index = NULL, key, *hit;
	struct pair *pairs = NULL;
	struct fields f = { 0 };
	bool *matched = NULL;
	size_t n_pairs = 0, k = 0;
	int err = 0;

	index = calloc(n_from + 1, sizeof(*index));
	matched = calloc(n_from + 1, sizeof(*matched));
	pairs = calloc(n_to + 1, sizeof(*pairs));
	if (!index || !matched || !pairs) {
		err = -ENOMEM;
		goto cleanup;
	}
	for (size_t i = 0; i < n_from; i++)
		index[i] = (struct named){ s.name(from, i), i };
	qsort(index, n_from, sizeof(*index), cmp_named);
	for (size_t j = 0; j < n_to; j++) {
		key.name = s.name(to, j);
		hit = n_from ? bsearch(&key, index, n_from, sizeof(*index), cmp_named) : NULL;
		if (hit) {
			matched[hit->idx] = true;
			pairs[n_pairs++] = (struct pair){ .from = hit->idx, .to = j };
		}
	}
	if (kind == POLICY_DIFF_RULE) {
		err = mark_moved(from, to, pairs, n_pairs); /* pairs stay in the newer order */
		if (err)
			goto cleanup;
	}

	/* Added and changed, in the newer policy's order. */
	for (size_t j = 0; j < n_to; j++) {
		struct policy_diff_entry *e;
		json_t *a, *bj;

		if (k < n_pairs && pairs[k].to == j) {
			struct pair *p = &pairs[k++];

			a = s.render(from, p->from);
			bj = s.render(to, j);
			err = a && bj ? walk(&f, "", a, bj) : -ENOMEM;
			if (!err && p->moved) {
				json_t *before = json_integer((json_int_t)p->from + 1), *after = json_integer((json_int_t)j + 1);

				err = before && after ? add_field(&f, "position", before, after) : -ENOMEM;
				json_decref(before);
				json_decref(after);
			}
			json_decref(a);
			if (err || f.n == 0) {
				json_decref(bj);
				fields_free(&f);
				if (err)
					goto cleanup;
				continue;
			}
			e = add_entry(b, kind, POLICY_DIFF_CHANGED, s.name(to, j), bj);
			if (!e) {
				err = -ENOMEM;
				goto cleanup;
			}
			e->fields = f.v;
			e->n_fields = f.n;
			memset(&f, 0, sizeof(f));
			continue;
		}
		if (!add_entry(b, kind, POLICY_DIFF_ADDED, s.name(to, j), s.render(to, j))) {
			err = -ENOMEM;
			goto cleanup;
		}
	}
	/* Removed, in the older policy's order. */
	for (size_t i = 0; i < n_from; i++) {
		if (!matched[i] && !add_entry(b, kind, POLICY_DIFF_REMOVED, s.name(from, i), s.render(from, i))) {
			err = -ENOMEM;
			goto cleanup;
		}
	}
cleanup:
	fields_free(&f);
	free(index);
	free(matched);
	free(pairs);
	return err;
}

int policy_diff__compute(const Sluice__V1__Policy *from, const Sluice__V1__Policy *to, struct policy_diff *out)
{
	struct builder b = { .d = out };
	int err;

	memset(out, 0, sizeof(*out));
	err = diff_kind(&b, POLICY_DIFF_RULE, from, to);
	if (!err)
		err = diff_kind(&b, POLICY_DIFF_ROUTE, from, to);
	if (err)
		policy_diff__clear(out);
	return err;
}

void policy_diff__clear(struct policy_diff *d)
{
	if (!d)
		return;
	for (size_t i = 0; i < d->n; i++) {
		struct policy_diff_entry *e = &d->entries[i];
		struct fields f = { e->fields, e->n_fields, e->n_fields };

		free(e->name);
		json_decref(e->object);
		fields_free(&f);
	}
	free(d->entries);
	memset(d, 0, sizeof(*d));
}

/* ---- output ---------------------------------------------------------------------------- */

static bool put(json_t *o, const char *key, json_t *v)
{
	return v && json_object_set_new(o, key, v) == 0;
}

static bool push(json_t *a, json_t *v)
{
	return v && json_array_append_new(a, v) == 0;
}

static json_t *or_null(json_t *v)
{
	return v ? json_incref(v) : json_null();
}

static json_t *changes_json(const struct policy_diff_entry *e)
{
	json_t *o = json_object(), *a = json_array();

	if (!put(o, "name", json_string(e->name)) || !put(o, "changes", a)) {
		json_decref(o);
		return NULL;
	}
	for (size_t i = 0; i < e->n_fields; i++) {
		json_t *c = json_object();

		if (!push(a, c) || !put(c, "field", json_string(e->fields[i].path)) ||
		    !put(c, "before", or_null(e->fields[i].before)) || !put(c, "after", or_null(e->fields[i].after))) {
			json_decref(o);
			return NULL;
		}
	}
	return o;
}

json_t *policy_diff__json(const struct policy_diff *d)
{
	static const char *const ops[] = { "added", "removed", "changed" };
	json_t *o = json_object(), *summary = json_object();

	if (!o || !put(o, "summary", summary))
		goto fail;
	for (int kind = 0; kind < 2; kind++) {
		json_t *ko = json_object(), *sk = json_object();
		json_t *lists[3];

		if (!put(o, kind_plural[kind], ko) || !put(summary, kind_plural[kind], sk))
			goto fail;
		for (int op = 0; op < 3; op++) {
			lists[op] = json_array();
			if (!put(ko, ops[op], lists[op]) ||
			    !put(sk, ops[op], json_integer((json_int_t)d->count[kind][op])))
				goto fail;
		}
		for (size_t i = 0; i < d->n; i++) {
			const struct policy_diff_entry *e = &d->entries[i];

			if ((int)e->kind != kind)
				continue;
			if (!push(lists[e->op], e->op == POLICY_DIFF_CHANGED ? changes_json(e) : json_incref(e->object)))
				goto fail;
		}
	}
	/* "summary" last reads better; the object keeps insertion order. */
	json_incref(summary);
	json_object_del(o, "summary");
	if (!put(o, "summary", summary))
		goto fail;
	return o;
fail:
	json_decref(o);
	return NULL;
}

const char *policy_diff__value_text(const json_t *v, char *buf, size_t len)
{
	char *s;

	if (!v) {
		snprintf(buf, len, "(none)");
	} else if (json_is_string(v)) {
		snprintf(buf, len, "%s", json_string_value(v));
	} else {
		s = json_dumps(v, JSON_ENCODE_ANY);
		snprintf(buf, len, "%s", s ? s : "?");
		free(s);
	}
	return buf;
}

void policy_diff__print(const struct policy_diff *d, FILE *out, bool color)
{
	static const char *const sign[] = { "+", "-", "~" };
	static const char *const ansi[] = { "\033[32m", "\033[31m", "\033[33m" };
	const char *reset = color ? "\033[0m" : "";
	char before[1024], after[1024];

	if (d->n == 0) {
		fprintf(out, "no changes\n");
		return;
	}
	for (size_t i = 0; i < d->n; i++) {
		const struct policy_diff_entry *e = &d->entries[i];
		const char *c = color ? ansi[e->op] : "";

		if (e->op == POLICY_DIFF_CHANGED) {
			fprintf(out, "%s%s %s %s%s\n", c, sign[e->op], kind_names[e->kind], e->name, reset);
			for (size_t k = 0; k < e->n_fields; k++)
				fprintf(out, "    %s: %s -> %s\n", e->fields[k].path,
					policy_diff__value_text(e->fields[k].before, before, sizeof(before)),
					policy_diff__value_text(e->fields[k].after, after, sizeof(after)));
		} else {
			fprintf(out, "%s%s %s %s: %s%s\n", c, sign[e->op], kind_names[e->kind], e->name,
				policy_diff__value_text(e->object, before, sizeof(before)), reset);
		}
	}
}

void policy_diff__summary(const struct policy_diff *d, char *buf, size_t len)
{
	size_t off = 0;

	buf[0] = '\0';
	if (d->n == 0) {
		snprintf(buf, len, "no changes");
		return;
	}
	for (int kind = 0; kind < 2 && off < len; kind++) {
		const size_t *c = d->count[kind];
		int n;

		if (c[0] + c[1] + c[2] == 0)
			n = snprintf(buf + off, len - off, "%s%s: no changes", off ? "; " : "", kind_plural[kind]);
		else
			n = snprintf(buf + off, len - off, "%s%s: %zu added, %zu removed, %zu changed", off ? "; " : "",
				     kind_plural[kind], c[0], c[1], c[2]);
		if (n > 0)
			off += (size_t)n;
	}
}
