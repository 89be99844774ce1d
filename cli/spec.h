/* SPDX-License-Identifier: Apache-2.0 */
/*
 * spec.h — the two tables sluicectl's grammar is made of: the flags (options[]) and
 * the commands (cmds[]), both defined in args.c. The parser (args.c) and everything
 * written about the grammar — --help, the sluicectl(8) manual and the bash completion
 * script (doc.c) — are generated from these tables, so they cannot drift apart.
 *
 * To add a command: an id in enum cli_cmd (cli.h), one entry in cmds[] (args.c) with a
 * summary, help text and an example, and a case in cli__run() (run.c).
 */
#ifndef SLUICE_CLI_SPEC_H
#define SLUICE_CLI_SPEC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

#include "cli/cli.h"

enum opt_id {
	OPT_CONTROLLER,
	OPT_TLS_CERT,
	OPT_TLS_KEY,
	OPT_TLS_CA,
	OPT_INSECURE,
	OPT_OUTPUT,
	OPT_TIMEOUT,
	OPT_HELP,
	OPT_CONFIG,
	/* command flags from here on */
	OPT_FILE,
	OPT_DRY_RUN,
	OPT_MESSAGE,
	OPT_LIMIT,
	OPT_SELECTOR,
	OPT_INTERVAL,
	OPT_FRAMES,
	OPT_CANARY, /* rollout flags from here on (cmd_rollout.c parses them) */
	OPT_BATCH,
	OPT_ACK_TIMEOUT,
	OPT_MAX_DROP,
	OPT_WATCH,
	OPT_DIFF,
	OPT_NO_ROLLOUT,
	OPT_AGENT,
	OPT_SINCE,
	OPT_ROUTE, /* alerts and API usage (cmd_monitor.c) */
	OPT_ALL,
	OPT_FORCE, /* apply: no check of the base revision */
	OPT_BASE_REVISION,
	OPT_COUNT, /* the number of flags, not a flag */
};

#define BIT(id) (1u << (id))
_Static_assert(OPT_COUNT <= 32, "a command's flags are a 32-bit mask (struct cmd_spec.opts)");

struct option_spec {
	enum opt_id id;
	const char *lng;    /* "--" + this */
	char shrt;	    /* "-" + this, or 0 */
	const char *arg;    /* the value's name, or NULL for a switch */
	const char *help;
	const char *values; /* completion: the words the value can be ("table json"), or NULL */
	bool file;	    /* completion: the value is a file name */
};

struct cmd_spec {
	enum cli_cmd id;
	const char *verb;     /* "get" */
	const char *noun;     /* "agents", or NULL */
	const char *arg;      /* positional argument ("NODE"), or NULL; "[NODE]" when optional */
	unsigned opts;	      /* command flags it takes */
	unsigned required;    /* command flags it needs */
	bool remote;	      /* talks to the controller */
	const char *summary;  /* one line for the command list */
	const char *help;     /* what it does and prints */
	const char *example;
	const char *schema;   /* what -o json|yaml prints, or NULL when it prints no data */
	bool hidden;	      /* left out of help, manual and completion (internal helpers) */
	const char *complete; /* completion of the positional argument: "agents", or NULL */
};

/* The tables (args.c). */
const struct option_spec *cli_spec__options(size_t *n);
const struct cmd_spec *cli_spec__cmds(size_t *n);

/* The flags every command takes (BIT() of each). */
unsigned cli_spec__global_flags(void);

/* "get agents", "apply", for messages. */
void cli_spec__name(const struct cmd_spec *c, char *buf, size_t len);

/* "apply -f FILE [--dry-run] [-m MSG]" */
void cli_spec__synopsis(const struct cmd_spec *c, char *buf, size_t len);

/* "-f, --filename FILE" or "    --dry-run" */
void cli_spec__flag_name(const struct option_spec *s, char *buf, size_t len);

/* ---- generated documents (doc.c) ---------------------------------------------------- */

/* `sluicectl --help`: every visible command, the global flags, exit codes. */
void cli_doc__general_help(FILE *out);

/* `sluicectl COMMAND --help`: usage, what it does, its flags, output schema, example. */
void cli_doc__cmd_help(FILE *out, const struct cmd_spec *c);

/* `sluicectl get --help`: the commands of one verb. */
void cli_doc__verb_help(FILE *out, const char *verb);

/* The sluicectl(8) manual page in troff (man macros). */
void cli_doc__man(FILE *out);

/* A bash completion script: commands, flags, flag values, and agent names fetched
 * from the controller at completion time through `sluicectl __complete agents`. */
void cli_doc__bash_completion(FILE *out);

#endif
