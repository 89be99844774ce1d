// SPDX-License-Identifier: Apache-2.0
/* options.c — see options.h. */
#include <errno.h>
#include <string.h>

#include "common/log.h"
#include "common/options.h"

void options__longopts(const struct option_def *defs, size_t n, struct option *out)
{
	memset(out, 0, (n + 1) * sizeof(*out));
	for (size_t i = 0; i < n; i++) {
		out[i].name = defs[i].name;
		out[i].has_arg = defs[i].arg ? required_argument : no_argument;
		out[i].val = defs[i].id;
	}
}

void options__help(FILE *f, const struct option_def *defs, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		char left[40];

		snprintf(left, sizeof(left), "--%s%s%s", defs[i].name, defs[i].arg ? " " : "",
			 defs[i].arg ? defs[i].arg : "");
		fprintf(f, "  %-26s %s\n", left, defs[i].help);
	}
}

static const struct option_def *by_key(const struct option_def *defs, size_t n, const char *key)
{
	char k[64];

	for (size_t i = 0; i < n; i++) {
		config_file__key(defs[i].name, k, sizeof(k));
		if (!(defs[i].flags & OPTION_CLI) && strcmp(k, key) == 0)
			return &defs[i];
	}
	return NULL;
}

static void unknown(const struct config_file *cf, const struct config_entry *e, const struct option_def *defs,
		    size_t n)
{
	char keys[768] = "", k[64];
	size_t len = 0;

	for (size_t i = 0; i < n && len < sizeof(keys); i++) {
		if (defs[i].flags & OPTION_CLI)
			continue;
		config_file__key(defs[i].name, k, sizeof(k));
		len += (size_t)snprintf(keys + len, sizeof(keys) - len, "%s%s", len ? ", " : "", k);
	}
	pr_err("%s:%d:%d: unknown key '%s' (the keys are: %s)", cf->path, e->line, e->column, e->key, keys);
}

int options__apply_file(struct config_file *cf, const struct option_def *defs, size_t n, options_set_fn set,
			void *ctx)
{
	for (size_t i = 0; cf && i < cf->n; i++) {
		const struct config_entry *e = &cf->entries[i];
		const struct option_def *d = by_key(defs, n, e->key);
		const char *val = e->value;
		int b;

		if (!d) {
			unknown(cf, e, defs, n);
			return -EINVAL;
		}
		if ((e->shape == CONFIG_LIST && !(d->flags & OPTION_LIST)) ||
		    (e->shape == CONFIG_MAP && !(d->flags & OPTION_MAP))) {
			pr_err("%s:%d:%d: %s: expected one value, not a %s", cf->path, e->line, e->column, e->key,
			       e->shape == CONFIG_MAP ? "map" : "list");
			return -EINVAL;
		}
		if (!d->arg) {
			b = config_file__bool(val);
			if (b < 0) {
				pr_err("%s:%d:%d: %s: '%s' is not true or false", cf->path, e->line, e->column, e->key,
				       val);
				return -EINVAL;
			}
			if (!b)
				continue;
			val = NULL;
		} else if (d->flags & OPTION_PATH) {
			val = config_file__path(cf, val);
			if (!val) {
				pr_err("%s: out of memory", cf->path);
				return -ENOMEM;
			}
		}
		if (set(ctx, d->id, val, true)) {
			pr_err("%s:%d:%d: the value of '%s' is refused (see above)", cf->path, e->line, e->column, e->key);
			return -EINVAL;
		}
	}
	return 0;
}
