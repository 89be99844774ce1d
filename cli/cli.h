/* SPDX-License-Identifier: Apache-2.0 */
/*
 * cli.h — sluicectl's command line: the options every command shares, the table of
 * commands (cmds[] in args.c), parsing argv into a struct cli_opts, and running the
 * chosen command (run.c). Parsing does no I/O beyond printing help and usage errors,
 * so tests can drive it without a controller.
 *
 * Exit codes: CLI_EXIT_OK, CLI_EXIT_FAIL (the operation failed), CLI_EXIT_USAGE.
 */
#ifndef SLUICE_CLI_H
#define SLUICE_CLI_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#define CLI_EXIT_OK 0
#define CLI_EXIT_FAIL 1
#define CLI_EXIT_USAGE 2

#define CLI_DEFAULT_CONTROLLER "127.0.0.1:7443"
#define CLI_DEFAULT_TIMEOUT_MS 10000
#define CLI_ENV_CONTROLLER "SLUICE_CONTROLLER"

enum cli_output { CLI_OUT_TABLE = 0, CLI_OUT_JSON };

enum cli_cmd {
	CLI_CMD_NONE = 0, /* nothing to run: help was printed */
	CLI_CMD_APPLY,
	CLI_CMD_GET_AGENTS,
	CLI_CMD_GET_REVISIONS,
	CLI_CMD_GET_RULES,
	CLI_CMD_GET_ROUTES,
	CLI_CMD_DESCRIBE_AGENT,
	CLI_CMD_DESCRIBE_REVISION,
	CLI_CMD_VERSION,
};

/* Where the controller address came from, for error messages. */
enum cli_addr_source { CLI_ADDR_DEFAULT = 0, CLI_ADDR_ENV, CLI_ADDR_FLAG };

struct cli_opts {
	/* global */
	const char *controller;
	enum cli_addr_source controller_from;
	const char *tls_cert, *tls_key, *tls_ca;
	bool insecure;
	enum cli_output output;
	int timeout_ms;
	/* the command and its arguments */
	enum cli_cmd cmd;
	char cmd_name[32];    /* "get agents", for messages */
	const char *file;     /* apply -f */
	bool dry_run;         /* apply --dry-run */
	const char *message;  /* apply -m */
	const char *node;     /* describe agent NODE */
	uint64_t revision;    /* describe revision N */
	uint32_t limit;       /* get revisions --limit; 0: the controller's default */
	const char *selector; /* get agents -l k=v,k=v */
};

/*
 * Parses argv (global flags may come before or after the command). env_controller is
 * the value of SLUICE_CONTROLLER (NULL when unset). Help (-h/--help, "help [CMD]")
 * goes to out and leaves o->cmd at CLI_CMD_NONE. Returns 0, or -EINVAL after printing
 * a usage error with what to do next to err (exit with CLI_EXIT_USAGE).
 */
int cli__parse(int argc, char **argv, const char *env_controller, struct cli_opts *o, FILE *out, FILE *err);

/* Runs o->cmd; returns the process exit code. */
int cli__run(const struct cli_opts *o, FILE *out, FILE *err);

/* The whole program: parse, then run. Returns the process exit code. */
int cli__main(int argc, char **argv, const char *env_controller, FILE *out, FILE *err);

/* Prints "sluicectl: error: ..." (one line) to err. */
void cli__error(FILE *err, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* The commands, one function each (cmd_*.c). Each returns an exit code. */
int cli_cmd__apply(const struct cli_opts *o, FILE *out, FILE *err);
int cli_cmd__get_agents(const struct cli_opts *o, FILE *out, FILE *err);
int cli_cmd__get_revisions(const struct cli_opts *o, FILE *out, FILE *err);
int cli_cmd__get_policy(const struct cli_opts *o, FILE *out, FILE *err); /* get rules / get routes */
int cli_cmd__describe_agent(const struct cli_opts *o, FILE *out, FILE *err);
int cli_cmd__describe_revision(const struct cli_opts *o, FILE *out, FILE *err);
int cli_cmd__version(const struct cli_opts *o, FILE *out, FILE *err);

#endif
