// SPDX-License-Identifier: Apache-2.0
/*
 * config.c — sluicectl's configuration file and the value forms it shares with the
 * flags. See config.h.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <yaml.h>

#include "cli/config.h"

static const char *const output_names[] = {
	[CLI_OUT_TABLE] = "table", [CLI_OUT_JSON] = "json", [CLI_OUT_WIDE] = "wide",
	[CLI_OUT_YAML] = "yaml",   [CLI_OUT_NAME] = "name",
};

int cli_config__output(const char *name)
{
	for (size_t i = 0; name && i < sizeof(output_names) / sizeof(output_names[0]); i++)
		if (strcmp(name, output_names[i]) == 0)
			return (int)i;
	return -1;
}

const char *cli_config__output_name(enum cli_output o)
{
	return (size_t)o < sizeof(output_names) / sizeof(output_names[0]) ? output_names[o] : "table";
}

long long cli_config__duration_ms(const char *s)
{
	char *end;
	long long v;

	if (!s)
		return -1;
	errno = 0;
	v = strtoll(s, &end, 10);
	if (errno || end == s || v <= 0 || v > 86400000)
		return -1;
	if (strcmp(end, "ms") == 0)
		return v;
	if (strcmp(end, "s") == 0 || *end == '\0')
		return v * 1000;
	if (strcmp(end, "m") == 0)
		return v * 60000;
	return -1;
}

int cli_config__default_path(const struct cli_env *env, char *buf, size_t len)
{
	if (env && env->config_home && env->config_home[0])
		snprintf(buf, len, "%s/%s", env->config_home, CLI_CONFIG_REL);
	else if (env && env->home && env->home[0])
		snprintf(buf, len, "%s/.config/%s", env->home, CLI_CONFIG_REL);
	else
		return -ENOENT;
	return 0;
}

struct reader {
	const struct cli_env *env;
	struct cli_config *cfg;
	yaml_document_t doc;
	char *err;
	size_t errlen;
};

__attribute__((format(printf, 3, 4))) static int bad(struct reader *r, const yaml_node_t *n, const char *fmt, ...)
{
	size_t off;
	va_list ap;

	off = (size_t)snprintf(r->err, r->errlen, "%s:%zu:%zu: ", r->cfg->path, n->start_mark.line + 1,
			       n->start_mark.column + 1);
	if (off < r->errlen) {
		va_start(ap, fmt);
		vsnprintf(r->err + off, r->errlen - off, fmt, ap);
		va_end(ap);
	}
	return -EINVAL;
}

/* A file path from the configuration: "~/x" is below $HOME, "x" beside the file. */
static int set_path(struct reader *r, const yaml_node_t *n, const char *key, const char *v, char *dst, size_t len)
{
	const char *slash = strrchr(r->cfg->path, '/');

	if (!*v)
		return bad(r, n, "%s: empty (give a file name, or leave the key out)", key);
	if (strncmp(v, "~/", 2) == 0) {
		if (!r->env || !r->env->home || !r->env->home[0])
			return bad(r, n, "%s: '%s' uses ~ but $HOME is not set (write the full path)", key, v);
		snprintf(dst, len, "%s/%s", r->env->home, v + 2);
	} else if (v[0] == '/' || !slash) {
		snprintf(dst, len, "%s", v);
	} else {
		snprintf(dst, len, "%.*s/%s", (int)(slash - r->cfg->path), r->cfg->path, v);
	}
	return 0;
}

static int set_key(struct reader *r, const yaml_node_t *kn, const yaml_node_t *vn)
{
	const char *k = (const char *)kn->data.scalar.value, *v;
	struct cli_config *c = r->cfg;
	long long ms;
	int out;

	if (vn->type != YAML_SCALAR_NODE)
		return bad(r, vn, "%s: expected a single value, not a %s", k,
			   vn->type == YAML_MAPPING_NODE ? "mapping" : "list");
	v = (const char *)vn->data.scalar.value;
	if (strcmp(k, "controller") == 0) {
		if (!*v || strlen(v) >= sizeof(c->controller))
			return bad(r, vn, "controller: '%s' is not HOST:PORT (like %s)", v, CLI_DEFAULT_CONTROLLER);
		snprintf(c->controller, sizeof(c->controller), "%s", v);
	} else if (strcmp(k, "tls_cert") == 0) {
		return set_path(r, vn, k, v, c->tls_cert, sizeof(c->tls_cert));
	} else if (strcmp(k, "tls_key") == 0) {
		return set_path(r, vn, k, v, c->tls_key, sizeof(c->tls_key));
	} else if (strcmp(k, "tls_ca") == 0) {
		return set_path(r, vn, k, v, c->tls_ca, sizeof(c->tls_ca));
	} else if (strcmp(k, "insecure") == 0) {
		if (strcasecmp(v, "true") == 0 || strcasecmp(v, "yes") == 0)
			c->insecure = 1;
		else if (strcasecmp(v, "false") == 0 || strcasecmp(v, "no") == 0)
			c->insecure = 0;
		else
			return bad(r, vn, "insecure: '%s' is not true or false", v);
	} else if (strcmp(k, "output") == 0) {
		out = cli_config__output(v);
		if (out < 0)
			return bad(r, vn, "output: '%s' is not an output format (table, wide, json, yaml or name)", v);
		c->output = out;
	} else if (strcmp(k, "timeout") == 0) {
		ms = cli_config__duration_ms(v);
		if (ms < 0)
			return bad(r, vn, "timeout: '%s' is not a duration (like 10s, 500ms or 2m)", v);
		c->timeout_ms = (int)ms;
	} else {
		return bad(r, kn, "unknown key '%s' (the keys are: %s)", k, CLI_CONFIG_KEYS);
	}
	return 0;
}

static int read_doc(struct reader *r)
{
	yaml_node_t *root = yaml_document_get_root_node(&r->doc);

	if (!root)
		return 0; /* an empty file sets nothing */
	if (root->type == YAML_SCALAR_NODE && root->data.scalar.length == 0)
		return 0;
	if (root->type != YAML_MAPPING_NODE)
		return bad(r, root, "expected a mapping of settings (like 'controller: %s')", CLI_DEFAULT_CONTROLLER);
	for (yaml_node_pair_t *p = root->data.mapping.pairs.start; p < root->data.mapping.pairs.top; p++) {
		yaml_node_t *k = yaml_document_get_node(&r->doc, p->key), *v = yaml_document_get_node(&r->doc, p->value);
		int err;

		if (!k || !v)
			continue;
		if (k->type != YAML_SCALAR_NODE)
			return bad(r, k, "keys must be plain words (the keys are: %s)", CLI_CONFIG_KEYS);
		err = set_key(r, k, v);
		if (err)
			return err;
	}
	return 0;
}

int cli_config__load(const char *path, const struct cli_env *env, struct cli_config *cfg, char *err,
		     size_t errlen)
{
	struct reader r = { .env = env, .cfg = cfg, .err = err, .errlen = errlen };
	yaml_parser_t ps;
	bool parser = false, doc = false;
	FILE *f = NULL;
	int rc = 0;

	memset(cfg, 0, sizeof(*cfg));
	cfg->insecure = -1;
	cfg->output = -1;
	if (path) {
		snprintf(cfg->path, sizeof(cfg->path), "%s", path);
	} else if (cli_config__default_path(env, cfg->path, sizeof(cfg->path))) {
		cfg->path[0] = '\0';
		return 0;
	}
	f = fopen(cfg->path, "r");
	if (!f) {
		rc = -errno;
		if (!path && rc == -ENOENT) {
			cfg->path[0] = '\0';
			return 0;
		}
		snprintf(err, errlen, "%s: cannot read the configuration file: %s (%s)", cfg->path, strerror(-rc),
			 path ? "check the --config path" : "fix its permissions, or pass another with --config FILE");
		cfg->path[0] = '\0';
		return rc;
	}
	if (!yaml_parser_initialize(&ps)) {
		rc = -ENOMEM;
		snprintf(err, errlen, "%s: out of memory", cfg->path);
		goto cleanup;
	}
	parser = true;
	yaml_parser_set_input_file(&ps, f);
	if (!yaml_parser_load(&ps, &r.doc)) {
		snprintf(err, errlen, "%s:%zu:%zu: not valid YAML: %s", cfg->path, ps.problem_mark.line + 1,
			 ps.problem_mark.column + 1, ps.problem ? ps.problem : "syntax error");
		rc = -EINVAL;
		goto cleanup;
	}
	doc = true;
	rc = read_doc(&r);
cleanup:
	if (doc)
		yaml_document_delete(&r.doc);
	if (parser)
		yaml_parser_delete(&ps);
	fclose(f);
	return rc;
}
