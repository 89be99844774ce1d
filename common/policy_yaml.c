// SPDX-License-Identifier: Apache-2.0
/*
 * policy_yaml.c — reading policy files: one file, a directory of them (sorted,
 * merged) or stdin; libyaml's document API; the table of node positions that lets
 * policy__validate_at() name file:line:col; and the node helpers the schema half
 * (policy_yaml_schema.c) is written with.
 */
#include <dirent.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <yaml.h>

#include "common/policy.h"
#include "common/policy_yaml_int.h"

#define MAX_FILE_BYTES (64u << 20) /* bytes per file; a policy is far smaller */
#define MAX_VISITS 1000000u   /* nodes per parse: 16384 rules of 60 nodes; stops alias bombs */

/* Appends to err at *off, never past its end. */
__attribute__((format(printf, 4, 0))) static void vappend(char *err, size_t len, size_t *off, const char *fmt,
							 va_list ap)
{
	int n;

	if (*off >= len)
		return;
	n = vsnprintf(err + *off, len - *off, fmt, ap);
	if (n > 0)
		*off += (size_t)n;
}

__attribute__((format(printf, 4, 5))) static void append(char *err, size_t len, size_t *off, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vappend(err, len, off, fmt, ap);
	va_end(ap);
}

int policy_yaml__err(struct yctx *y, const yaml_node_t *n, const char *field, const char *fmt, ...)
{
	size_t off = 0;
	va_list ap;

	if (!y->err || y->errlen == 0)
		return -EINVAL;
	if (n)
		append(y->err, y->errlen, &off, "%s:%zu:%zu: ", y->file, n->start_mark.line + 1,
		       n->start_mark.column + 1);
	else
		append(y->err, y->errlen, &off, "%s: ", y->file);
	if (y->label[0])
		append(y->err, y->errlen, &off, "%s: ", y->label);
	if (field && field[0])
		append(y->err, y->errlen, &off, "%s: ", field);
	va_start(ap, fmt);
	vappend(y->err, y->errlen, &off, fmt, ap);
	va_end(ap);
	return -EINVAL;
}

int policy_yaml__record(struct yctx *y, const char *path, const yaml_node_t *n)
{
	struct ypos *pos;

	if (y->npos == y->cappos) {
		size_t cap = y->cappos ? y->cappos * 2 : 64;

		pos = realloc(y->pos, cap * sizeof(*pos));
		if (!pos)
			return -ENOMEM;
		y->pos = pos;
		y->cappos = cap;
	}
	pos = &y->pos[y->npos++];
	snprintf(pos->path, sizeof(pos->path), "%s", path);
	pos->file = y->file;
	pos->line = (unsigned)n->start_mark.line + 1;
	pos->col = (unsigned)n->start_mark.column + 1;
	return 0;
}

int policy_yaml__visit(struct yctx *y, const yaml_node_t *n)
{
	if (++y->visits <= MAX_VISITS)
		return 0;
	policy_yaml__err(y, n, NULL, "more than %u YAML nodes (an alias repeated too often? write the policy out)",
			 MAX_VISITS);
	return -EINVAL;
}

bool policy_yaml__is_null(const yaml_node_t *n)
{
	const char *s;

	if (!n)
		return true;
	if (n->type != YAML_SCALAR_NODE)
		return false;
	if (n->tag && strcmp((const char *)n->tag, YAML_NULL_TAG) == 0)
		return true;
	if (n->data.scalar.style != YAML_PLAIN_SCALAR_STYLE)
		return false;
	s = (const char *)n->data.scalar.value;
	return n->data.scalar.length == 0 || strcmp(s, "~") == 0 || strcmp(s, "null") == 0 ||
	       strcmp(s, "Null") == 0 || strcmp(s, "NULL") == 0;
}

const char *policy_yaml__kind(const yaml_node_t *n)
{
	if (!n)
		return "nothing";
	switch (n->type) {
	case YAML_MAPPING_NODE:
		return "a map";
	case YAML_SEQUENCE_NODE:
		return "a list";
	default:
		return "text";
	}
}

yaml_node_t *policy_yaml__node(struct yctx *y, int id)
{
	return yaml_document_get_node(y->doc, id);
}

yaml_node_t *policy_yaml__get(struct yctx *y, yaml_node_t *n, const char *key)
{
	if (!n || n->type != YAML_MAPPING_NODE)
		return NULL;
	for (yaml_node_pair_t *pr = n->data.mapping.pairs.start; pr < n->data.mapping.pairs.top; pr++) {
		yaml_node_t *k = policy_yaml__node(y, pr->key);

		if (k && k->type == YAML_SCALAR_NODE && strcmp((const char *)k->data.scalar.value, key) == 0)
			return policy_yaml__node(y, pr->value);
	}
	return NULL;
}

int policy_yaml__text(struct yctx *y, yaml_node_t *n, const char *field, const char **out)
{
	if (!n || n->type != YAML_SCALAR_NODE)
		return policy_yaml__err(y, n, field, "expected text, got %s", policy_yaml__kind(n));
	if (strlen((const char *)n->data.scalar.value) != n->data.scalar.length)
		return policy_yaml__err(y, n, field, "contains a NUL character (remove it)");
	*out = (const char *)n->data.scalar.value;
	return 0;
}

int policy_yaml__u64(struct yctx *y, yaml_node_t *n, const char *field, uint64_t max, const char *allowed,
		     uint64_t *out)
{
	const char *s;
	uint64_t v = 0;
	int err;

	if (n && n->type != YAML_SCALAR_NODE)
		return policy_yaml__err(y, n, field, "expected a number (%s), got %s", allowed,
					policy_yaml__kind(n));
	err = policy_yaml__text(y, n, field, &s);
	if (err)
		return err;
	if (!*s)
		return policy_yaml__err(y, n, field, "expected a number (%s), got empty text", allowed);
	for (const char *c = s; *c; c++) {
		if (*c < '0' || *c > '9')
			return policy_yaml__err(y, n, field, "'%.40s' is not a number (%s)", s, allowed);
		if (v > (UINT64_MAX - 9) / 10)
			return policy_yaml__err(y, n, field, "%.40s is too large (%s)", s, allowed);
		v = v * 10 + (uint64_t)(*c - '0');
	}
	if (v > max)
		return policy_yaml__err(y, n, field, "%.40s is too large (%s)", s, allowed);
	*out = v;
	return 0;
}

int policy_yaml__u32(struct yctx *y, yaml_node_t *n, const char *field, const char *allowed, uint32_t *out)
{
	uint64_t v;
	int err = policy_yaml__u64(y, n, field, UINT32_MAX, allowed, &v);

	if (!err)
		*out = (uint32_t)v;
	return err;
}

const char *policy_yaml__field(const char *path)
{
	const char *dot = strchr(path, '.');

	if (!dot)
		return path;
	dot++;
	if (strncmp(dot, "match.", 6) == 0)
		return dot + 6;
	if (strncmp(dot, "action.", 7) == 0)
		return dot + 7;
	return dot;
}

int policy_yaml__walk(struct yctx *y, yaml_node_t *n, const char *field, const char *path, const struct ykey *keys,
		      size_t nkeys, void *obj, uint32_t *seen)
{
	char allowed[256], vpath[YPATH_LEN];
	uint32_t present = 0, given = 0;
	size_t off = 0;
	int err;

	allowed[0] = '\0';
	for (size_t i = 0; i < nkeys; i++)
		append(allowed, sizeof(allowed), &off, "%s%s", i ? ", " : "", keys[i].name);
	if (!n || n->type != YAML_MAPPING_NODE)
		return policy_yaml__err(y, n, field, "expected a map (keys: %s), got %s", allowed,
					policy_yaml__kind(n));
	for (yaml_node_pair_t *pr = n->data.mapping.pairs.start; pr < n->data.mapping.pairs.top; pr++) {
		yaml_node_t *k = policy_yaml__node(y, pr->key), *v = policy_yaml__node(y, pr->value);
		const char *name;
		size_t i;

		err = policy_yaml__visit(y, k);
		if (err)
			return err;
		if (!k || k->type != YAML_SCALAR_NODE)
			return policy_yaml__err(y, k, field, "a key must be text, not %s (keys: %s)",
						policy_yaml__kind(k), allowed);
		name = (const char *)k->data.scalar.value;
		for (i = 0; i < nkeys && strcmp(name, keys[i].name) != 0; i++)
			;
		if (i == nkeys)
			return policy_yaml__err(y, k, field, "unknown key '%.40s' (allowed: %s)", name, allowed);
		if (present & (1u << i)) {
			yaml_node_t *first = NULL;

			for (yaml_node_pair_t *q = n->data.mapping.pairs.start; q < pr && !first; q++) {
				yaml_node_t *qk = policy_yaml__node(y, q->key);

				if (qk && qk->type == YAML_SCALAR_NODE &&
				    strcmp((const char *)qk->data.scalar.value, name) == 0)
					first = qk;
			}
			return policy_yaml__err(y, k, field, "key '%s' given twice, first on line %zu (keep one)", name,
						first ? first->start_mark.line + 1 : 0);
		}
		present |= 1u << i;
		snprintf(vpath, sizeof(vpath), "%s%s%s", path, path[0] ? "." : "", name);
		err = policy_yaml__record(y, vpath, v ? v : k);
		if (err)
			return err;
		if (policy_yaml__is_null(v))
			continue; /* "key:" with nothing after it is the same as leaving the key out */
		given |= 1u << i;
		err = keys[i].fn(y, v, obj, vpath);
		if (err)
			return err;
	}
	if (seen)
		*seen = given;
	return 0;
}

int policy_yaml__grow(void ***arr, size_t n, size_t *cap)
{
	void **a;
	size_t c;

	if (n < *cap)
		return 0;
	c = *cap ? *cap * 2 : 8;
	a = realloc(*arr, c * sizeof(**arr));
	if (!a)
		return -ENOMEM;
	*arr = a;
	*cap = c;
	return 0;
}

/* Remembers name for the lifetime of the parse; positions point at the copy. */
static int set_file(struct yctx *y, const char *name)
{
	char **files = realloc(y->files, (y->nfiles + 1) * sizeof(*files));

	if (!files)
		return -ENOMEM;
	y->files = files;
	files[y->nfiles] = strdup(name);
	if (!files[y->nfiles])
		return -ENOMEM;
	y->file = files[y->nfiles++];
	return 0;
}

static int syntax_error(struct yctx *y, const yaml_parser_t *ps, const char *text, size_t len)
{
	const char *problem = ps->problem ? ps->problem : "cannot be parsed";
	size_t at = ps->problem_mark.index;

	if (ps->error != YAML_READER_ERROR && at < len && text[at] == '\t')
		snprintf(y->err, y->errlen, "%s:%zu:%zu: YAML syntax: a tab character; YAML indents with spaces only (replace the tab with spaces)",
			 y->file, ps->problem_mark.line + 1, ps->problem_mark.column + 1);
	else if (ps->error == YAML_READER_ERROR)
		snprintf(y->err, y->errlen, "%s: byte %zu: %s (the file must be UTF-8 text)", y->file,
			 ps->problem_offset, problem);
	else if (ps->context)
		snprintf(y->err, y->errlen, "%s:%zu:%zu: YAML syntax: %s %s (on line %zu; check indentation and quoting)",
			 y->file, ps->problem_mark.line + 1, ps->problem_mark.column + 1, problem, ps->context,
			 ps->context_mark.line + 1);
	else
		snprintf(y->err, y->errlen, "%s:%zu:%zu: YAML syntax: %s (check indentation and quoting)", y->file,
			 ps->problem_mark.line + 1, ps->problem_mark.column + 1, problem);
	return -EINVAL;
}

/* Parses every document of one file's text into y->p. */
static int parse_text(struct yctx *y, const char *name, const char *text, size_t len)
{
	yaml_parser_t ps;
	yaml_document_t doc;
	int err;

	err = set_file(y, name);
	if (err)
		return err;
	if (!yaml_parser_initialize(&ps))
		return -ENOMEM;
	yaml_parser_set_input_string(&ps, (const unsigned char *)text, len);
	for (;;) {
		yaml_node_t *root;

		if (!yaml_parser_load(&ps, &doc)) {
			err = ps.error == YAML_MEMORY_ERROR ? -ENOMEM : syntax_error(y, &ps, text, len);
			break;
		}
		root = yaml_document_get_root_node(&doc);
		if (!root) { /* the end of the stream */
			yaml_document_delete(&doc);
			break;
		}
		y->doc = &doc;
		y->label[0] = '\0';
		err = policy_yaml__document(y, root);
		y->doc = NULL;
		yaml_document_delete(&doc);
		if (err)
			break;
	}
	yaml_parser_delete(&ps);
	return err;
}

static int read_all(FILE *f, const char *name, char **out, size_t *outlen, char *errbuf, size_t errlen)
{
	size_t cap = 0, len = 0;
	char *buf = NULL, *nb;
	int err = 0;

	for (;;) {
		size_t got;

		if (len + 1 >= cap) {
			cap = cap ? cap * 2 : 8192;
			if (cap > MAX_FILE_BYTES + 1) {
				snprintf(errbuf, errlen, "%s: larger than %u MiB (is this the policy file?)", name,
					 MAX_FILE_BYTES >> 20);
				err = -EFBIG;
				goto cleanup;
			}
			nb = realloc(buf, cap);
			if (!nb) {
				err = -ENOMEM;
				goto cleanup;
			}
			buf = nb;
		}
		got = fread(buf + len, 1, cap - len - 1, f);
		len += got;
		if (got == 0) {
			if (ferror(f)) {
				err = -errno;
				snprintf(errbuf, errlen, "%s: cannot read: %s (check the path and its permissions)", name,
					 strerror(errno));
			}
			break;
		}
	}
	buf[len] = '\0';
	*out = buf;
	*outlen = len;
	buf = NULL;
cleanup:
	free(buf);
	return err;
}

static int parse_path(struct yctx *y, const char *path)
{
	char *text = NULL;
	size_t len = 0;
	FILE *f;
	int err;

	f = fopen(path, "r");
	if (!f) {
		err = -errno;
		snprintf(y->err, y->errlen, "%s: cannot open: %s (check the path and its permissions)", path,
			 strerror(errno));
		return err;
	}
	err = read_all(f, path, &text, &len, y->err, y->errlen);
	fclose(f);
	if (!err)
		err = parse_text(y, path, text, len);
	free(text);
	return err;
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static bool policy_name(const char *n)
{
	size_t len = strlen(n);

	if (n[0] == '.')
		return false;
	/* JSON is YAML: what `sluicectl get rules -o json` saved reads back from a directory too. */
	return (len > 5 && strcmp(n + len - 5, ".yaml") == 0) || (len > 4 && strcmp(n + len - 4, ".yml") == 0) ||
	       (len > 5 && strcmp(n + len - 5, ".json") == 0);
}

/* Every *.yaml, *.yml and *.json in dir, sorted by name, merged in that order. */
static int parse_dir(struct yctx *y, const char *dir)
{
	char **names = NULL, **nn, *full;
	size_t n = 0, cap = 0;
	struct dirent *de;
	struct stat st;
	DIR *d;
	int err = 0;

	d = opendir(dir);
	if (!d) {
		err = -errno;
		snprintf(y->err, y->errlen, "%s: cannot list: %s (check the path and its permissions)", dir,
			 strerror(errno));
		return err;
	}
	while ((de = readdir(d))) {
		if (!policy_name(de->d_name))
			continue;
		if (asprintf(&full, "%s/%s", dir, de->d_name) < 0) {
			err = -ENOMEM;
			goto cleanup;
		}
		if (stat(full, &st) != 0 || !S_ISREG(st.st_mode)) {
			free(full);
			continue;
		}
		if (n == cap) {
			cap = cap ? cap * 2 : 16;
			nn = realloc(names, cap * sizeof(*names));
			if (!nn) {
				free(full);
				err = -ENOMEM;
				goto cleanup;
			}
			names = nn;
		}
		names[n++] = full;
	}
	if (n == 0) {
		snprintf(y->err, y->errlen, "%s: no *.yaml, *.yml or *.json files in this directory (add the policy there, or pass one file)",
			 dir);
		err = -ENOENT;
		goto cleanup;
	}
	qsort(names, n, sizeof(*names), cmp_str);
	for (size_t i = 0; i < n && !err; i++)
		err = parse_path(y, names[i]);
cleanup:
	closedir(d);
	for (size_t i = 0; i < n; i++)
		free(names[i]);
	free(names);
	return err;
}

static int locate(void *ctx, const char *path, char *buf, size_t len)
{
	const struct yctx *y = ctx;

	for (size_t i = 0; i < y->npos; i++) {
		if (strcmp(y->pos[i].path, path) == 0) {
			snprintf(buf, len, "%s:%u:%u", y->pos[i].file, y->pos[i].line, y->pos[i].col);
			return 0;
		}
	}
	return -ENOENT;
}

static void ctx_free(struct yctx *y)
{
	policy__free(y->p);
	for (size_t i = 0; i < y->nfiles; i++)
		free(y->files[i]);
	free(y->files);
	free(y->pos);
	free(y->no_port);
}

static int ctx_init(struct yctx *y, char *err, size_t errlen)
{
	memset(y, 0, sizeof(*y));
	y->err = err;
	y->errlen = errlen;
	y->file = "<input>";
	if (err && errlen)
		err[0] = '\0';
	y->p = policy__new();
	return y->p ? 0 : -ENOMEM;
}

/* Validates what was parsed, with positions, and hands the policy over. */
static int finish(struct yctx *y, uint32_t rule_capacity, Sluice__V1__Policy **out)
{
	struct policy_locator loc = { .locate = locate, .ctx = y };
	int err;

	err = policy__validate_at(y->p, rule_capacity, &loc, y->err, y->errlen);
	if (err)
		return err;
	*out = y->p;
	y->p = NULL;
	return 0;
}

int policy_yaml__parse_string(const char *name, const char *text, size_t len, uint32_t rule_capacity,
			      Sluice__V1__Policy **out, char *err, size_t errlen)
{
	struct yctx y;
	int rc;

	if (!out || (!text && len))
		return -EINVAL;
	rc = ctx_init(&y, err, errlen);
	if (!rc)
		rc = parse_text(&y, name ? name : "<input>", text ? text : "", len);
	if (!rc)
		rc = finish(&y, rule_capacity, out);
	ctx_free(&y);
	return rc;
}

int policy_yaml__parse_file(const char *path, uint32_t rule_capacity, Sluice__V1__Policy **out, char *err,
			    size_t errlen)
{
	char *text = NULL;
	struct stat st;
	struct yctx y;
	size_t len;
	int rc;

	if (!path || !out)
		return -EINVAL;
	rc = ctx_init(&y, err, errlen);
	if (rc)
		goto cleanup;
	if (strcmp(path, "-") == 0) {
		rc = read_all(stdin, "<stdin>", &text, &len, err, errlen);
		if (!rc)
			rc = parse_text(&y, "<stdin>", text, len);
	} else if (stat(path, &st) == 0 && S_ISDIR(st.st_mode)) {
		rc = parse_dir(&y, path);
	} else {
		rc = parse_path(&y, path);
	}
	if (!rc)
		rc = finish(&y, rule_capacity, out);
cleanup:
	free(text);
	ctx_free(&y);
	return rc;
}
