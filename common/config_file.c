// SPDX-License-Identifier: Apache-2.0
/*
 * config_file.c — see config_file.h. libyaml's document API loads the whole file (they
 * are a few lines long); the walk below flattens its top-level map into entries.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <yaml.h>

#include "common/config_file.h"

struct loader {
	struct config_file *cf;
	yaml_document_t doc;
	size_t cap;
	char *err;
	size_t errlen;
};

__attribute__((format(printf, 3, 4))) static int bad(struct loader *l, const yaml_node_t *n, const char *fmt, ...)
{
	size_t off;
	va_list ap;

	off = (size_t)snprintf(l->err, l->errlen, "%s:%zu:%zu: ", l->cf->path, n->start_mark.line + 1,
			       n->start_mark.column + 1);
	if (off < l->errlen) {
		va_start(ap, fmt);
		vsnprintf(l->err + off, l->errlen - off, fmt, ap);
		va_end(ap);
	}
	return -EINVAL;
}

/* Keeps s (malloc'd) for the life of cf. NULL on ENOMEM (s is freed). */
static char *keep(struct config_file *cf, char *s)
{
	char **v;

	if (!s)
		return NULL;
	v = realloc(cf->strings, (cf->n_strings + 1) * sizeof(*v));
	if (!v) {
		free(s);
		return NULL;
	}
	cf->strings = v;
	cf->strings[cf->n_strings++] = s;
	return s;
}

static const char *scalar(const yaml_node_t *n)
{
	return (const char *)n->data.scalar.value;
}

static int add(struct loader *l, const char *key, const yaml_node_t *vn, const char *value, enum config_shape shape)
{
	struct config_file *cf = l->cf;
	char *v = keep(cf, strdup(value));

	if (!v)
		return -ENOMEM;
	if (cf->n == l->cap) {
		size_t cap = l->cap ? 2 * l->cap : 16;
		struct config_entry *e = realloc(cf->entries, cap * sizeof(*e));

		if (!e)
			return -ENOMEM;
		cf->entries = e;
		l->cap = cap;
	}
	cf->entries[cf->n++] = (struct config_entry){
		.key = key,
		.value = v,
		.shape = shape,
		.line = (int)vn->start_mark.line + 1,
		.column = (int)vn->start_mark.column + 1,
	};
	return 0;
}

static int read_value(struct loader *l, const char *key, yaml_node_t *vn)
{
	char kv[1024];
	int err = 0;

	switch (vn->type) {
	case YAML_SCALAR_NODE:
		return add(l, key, vn, scalar(vn), CONFIG_SCALAR);
	case YAML_SEQUENCE_NODE:
		for (yaml_node_item_t *i = vn->data.sequence.items.start; !err && i < vn->data.sequence.items.top; i++) {
			yaml_node_t *in = yaml_document_get_node(&l->doc, *i);

			if (!in || in->type != YAML_SCALAR_NODE)
				return bad(l, in ? in : vn, "%s: list items must be plain values", key);
			err = add(l, key, in, scalar(in), CONFIG_LIST);
		}
		return err;
	case YAML_MAPPING_NODE:
		for (yaml_node_pair_t *p = vn->data.mapping.pairs.start; !err && p < vn->data.mapping.pairs.top; p++) {
			yaml_node_t *k = yaml_document_get_node(&l->doc, p->key);
			yaml_node_t *v = yaml_document_get_node(&l->doc, p->value);

			if (!k || !v || k->type != YAML_SCALAR_NODE || v->type != YAML_SCALAR_NODE)
				return bad(l, k ? k : vn, "%s: expected 'name: value' pairs of plain values", key);
			if ((size_t)snprintf(kv, sizeof(kv), "%s=%s", scalar(k), scalar(v)) >= sizeof(kv))
				return bad(l, k, "%s: '%s' is too long", key, scalar(k));
			err = add(l, key, k, kv, CONFIG_MAP);
		}
		return err;
	default:
		return bad(l, vn, "%s: expected a value", key);
	}
}

static int read_doc(struct loader *l)
{
	yaml_node_t *root = yaml_document_get_root_node(&l->doc);

	if (!root || (root->type == YAML_SCALAR_NODE && root->data.scalar.length == 0))
		return 0; /* an empty file sets nothing */
	if (root->type != YAML_MAPPING_NODE)
		return bad(l, root, "expected a map of settings, one 'key: value' per line");
	for (yaml_node_pair_t *p = root->data.mapping.pairs.start; p < root->data.mapping.pairs.top; p++) {
		yaml_node_t *k = yaml_document_get_node(&l->doc, p->key), *v = yaml_document_get_node(&l->doc, p->value);
		char *key;
		int err;

		if (!k || !v)
			continue;
		if (k->type != YAML_SCALAR_NODE || !k->data.scalar.length)
			return bad(l, k, "keys must be plain words, the daemon's long options with '_' for '-'");
		for (size_t i = 0; i < l->cf->n; i++) {
			if (strcmp(l->cf->entries[i].key, scalar(k)) == 0)
				return bad(l, k, "'%s' is given twice; give each key once", scalar(k));
		}
		key = keep(l->cf, strdup(scalar(k)));
		if (!key)
			return -ENOMEM;
		err = read_value(l, key, v);
		if (err)
			return err;
	}
	return 0;
}

int config_file__load(const char *path, bool required, struct config_file **out, char *err, size_t errlen)
{
	struct loader l = { .err = err, .errlen = errlen };
	yaml_parser_t ps;
	bool parser = false, doc = false;
	FILE *f;
	int rc;

	*out = NULL;
	f = fopen(path, "r");
	if (!f) {
		rc = -errno;
		if (!required && rc == -ENOENT)
			return 0;
		snprintf(err, errlen, "%s: cannot read the configuration file: %s", path, strerror(-rc));
		return rc;
	}
	l.cf = calloc(1, sizeof(*l.cf));
	if (!l.cf || !(l.cf->path = strdup(path))) {
		rc = -ENOMEM;
		snprintf(err, errlen, "%s: out of memory", path);
		goto cleanup;
	}
	if (!yaml_parser_initialize(&ps)) {
		rc = -ENOMEM;
		snprintf(err, errlen, "%s: out of memory", path);
		goto cleanup;
	}
	parser = true;
	yaml_parser_set_input_file(&ps, f);
	if (!yaml_parser_load(&ps, &l.doc)) {
		snprintf(err, errlen, "%s:%zu:%zu: not valid YAML: %s", path, ps.problem_mark.line + 1,
			 ps.problem_mark.column + 1, ps.problem ? ps.problem : "syntax error");
		rc = -EINVAL;
		goto cleanup;
	}
	doc = true;
	rc = read_doc(&l);
	if (rc == -ENOMEM)
		snprintf(err, errlen, "%s: out of memory", path);
cleanup:
	if (doc)
		yaml_document_delete(&l.doc);
	if (parser)
		yaml_parser_delete(&ps);
	fclose(f);
	if (rc) {
		config_file__free(l.cf);
		return rc;
	}
	*out = l.cf;
	return 0;
}

void config_file__free(struct config_file *cf)
{
	if (!cf)
		return;
	for (size_t i = 0; i < cf->n_strings; i++)
		free(cf->strings[i]);
	free(cf->strings);
	free(cf->entries);
	free(cf->path);
	free(cf);
}

const char *config_file__path(struct config_file *cf, const char *value)
{
	const char *slash = strrchr(cf->path, '/');
	char *p;

	if (value[0] == '/' || !value[0] || !slash)
		p = strdup(value);
	else if (asprintf(&p, "%.*s/%s", (int)(slash - cf->path), cf->path, value) < 0)
		p = NULL;
	p = keep(cf, p);
	if (!p)
		errno = ENOMEM;
	return p;
}

int config_file__bool(const char *value)
{
	static const char *const yes[] = { "true", "yes", "on" }, *const no[] = { "false", "no", "off" };

	for (size_t i = 0; i < 3; i++) {
		if (strcasecmp(value, yes[i]) == 0)
			return 1;
		if (strcasecmp(value, no[i]) == 0)
			return 0;
	}
	return -EINVAL;
}

void config_file__key(const char *option, char *buf, size_t len)
{
	size_t i = 0;

	for (; len && option[i] && i + 1 < len; i++)
		buf[i] = option[i] == '-' ? '_' : option[i];
	if (len)
		buf[i] = '\0';
}
