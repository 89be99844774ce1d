/* SPDX-License-Identifier: Apache-2.0 */
/*
 * options.h — a daemon's option table, the one list its getopt options, its --help
 * text and its configuration file keys (config_file.h) all come from, so none of them
 * can name a setting the others lack.
 */
#ifndef SLUICE_OPTIONS_H
#define SLUICE_OPTIONS_H

#include <getopt.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

#include "common/config_file.h"

#define OPTION_PATH 1u /* a file value is a path, relative to the file's directory */
#define OPTION_LIST 2u /* repeatable; a file may give a list */
#define OPTION_MAP 4u  /* a file may give a map {k: v}, applied as "k=v" values */
#define OPTION_CLI 8u  /* command line only (--config, --help): no key in the file */
#define OPTION_HIDDEN 16u /* left out of --help and the manual (--man itself; with OPTION_CLI) */

struct option_def {
	const char *name; /* long option, "node-id"; its file key is "node_id" */
	int id;           /* what getopt_long returns for it */
	const char *arg;  /* placeholder of its value ("NAME"); NULL: a flag */
	const char *help;
	unsigned flags;   /* OPTION_* */
};

/* Fills out[0..n] (the last entry zeroed) for getopt_long. */
void options__longopts(const struct option_def *defs, size_t n, struct option *out);

/* Prints one "  --name ARG   help" line per option. */
void options__help(FILE *f, const struct option_def *defs, size_t n);

/* What a daemon's manual says besides its options; every field is troff source. */
struct options_man {
	const char *prog;        /* "sluice-agent" */
	const char *summary;     /* the NAME line after "prog \-" */
	const char *synopsis;
	const char *description;
	const char *config_file; /* the default configuration file's path (plain text) */
	const char *config_example; /* a few lines of YAML shown under CONFIGURATION FILE */
	const char *sections;    /* the rest: METRICS, SIGNALS, EXIT STATUS, FILES, ... */
};

/*
 * Prints section-8 troff for m: NAME, SYNOPSIS, DESCRIPTION, then OPTIONS and
 * CONFIGURATION FILE generated from defs (so the manual cannot drift from --help and
 * the file keys), then m->sections.
 */
void options__man(FILE *f, const struct options_man *m, const struct option_def *defs, size_t n);

/* Called for each setting, from a flag (in_file false) or the file; val is NULL for a
 * flag. 0, or -errno after logging what is wrong. */
typedef int (*options_set_fn)(void *ctx, int id, const char *val, bool in_file);

/*
 * Applies cf's entries in file order through set: keys map to options (unknown keys,
 * lists or maps where the option takes one value, and flags that are not true/false
 * are refused with FILE:LINE:COL), path values are made relative to the file, and a
 * flag set to false is skipped. 0, or -EINVAL / -ENOMEM after logging one line.
 */
int options__apply_file(struct config_file *cf, const struct option_def *defs, size_t n, options_set_fn set,
			void *ctx);

#endif
