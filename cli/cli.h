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
#define CLI_CONFIG_REL "sluice/config.yaml" /* below $XDG_CONFIG_HOME, else ~/.config */
#define CLI_PATH_MAX 4096

/* -o: table and wide for people; json and yaml (the same structure) for scripts;
 * name prints one name per line (get commands). */
enum cli_output { CLI_OUT_TABLE = 0, CLI_OUT_JSON, CLI_OUT_WIDE, CLI_OUT_YAML, CLI_OUT_NAME };

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
	CLI_CMD_DIFF,
	CLI_CMD_GET_POLICY,
	CLI_CMD_TOP,
	CLI_CMD_AUDIT,
	CLI_CMD_COMPLETION,
	CLI_CMD_MAN,
	CLI_CMD_COMPLETE, /* hidden: `__complete agents`, for the completion script */
	/* rollouts and agent status (cmd_rollout.c, cmd_status.c) */
	CLI_CMD_ROLLOUT_START,
	CLI_CMD_ROLLOUT_STATUS,
	CLI_CMD_ROLLOUT_PAUSE,
	CLI_CMD_ROLLOUT_RESUME,
	CLI_CMD_ROLLOUT_ABORT,
	CLI_CMD_ROLLOUT_UNDO,
	CLI_CMD_GET_ROLLOUTS,
	CLI_CMD_DESCRIBE_ROLLOUT,
	CLI_CMD_STATUS,
	CLI_CMD_DELETE_AGENT, /* cmd_delete.c */
	/* alerts and API usage (cmd_monitor.c) */
	CLI_CMD_GET_ALERTS,
	CLI_CMD_ALERTS,
	CLI_CMD_ALERTS_ACK,
	CLI_CMD_GET_APIUSAGE,
};

/* Where the controller address came from, for error messages. */
enum cli_addr_source { CLI_ADDR_DEFAULT = 0, CLI_ADDR_ENV, CLI_ADDR_FLAG, CLI_ADDR_CONFIG };

/* What sluicectl takes from its environment; main() fills it from the process
 * (cli_env__from_process), tests fill it by hand. Every field may be NULL/false. */
struct cli_env {
	const char *controller;	 /* $SLUICE_CONTROLLER */
	const char *config_home; /* $XDG_CONFIG_HOME */
	const char *home;	 /* $HOME */
	bool no_color;		 /* $NO_COLOR is set and not empty, or $TERM is "dumb" */
	bool tty;		 /* standard output is a terminal */
};

/* The configuration file's values (config.c), copied into o so o owns nothing. */
struct cli_config {
	char path[CLI_PATH_MAX]; /* the file read, "" when none */
	char controller[256];
	char tls_cert[CLI_PATH_MAX], tls_key[CLI_PATH_MAX], tls_ca[CLI_PATH_MAX];
	int insecure;	/* -1: not set */
	int output;	/* enum cli_output, -1: not set */
	int timeout_ms; /* 0: not set */
};

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
	/* added with the configuration file, top and the generated documents */
	const char *config_file; /* --config */
	const char *subject;	 /* completion SHELL, __complete WHAT */
	int interval_ms;	 /* top --interval */
	uint32_t frames;	 /* top --count; 0: until interrupted (1 when not a terminal) */
	bool color;		 /* standard output is a terminal and NO_COLOR is not set */
	bool tty;		 /* standard output is a terminal */
	struct cli_config cfg;
	/* rollouts (cmd_rollout.c), revision diffs, agent status */
	uint64_t rollout_id;	    /* rollout status|pause|resume|abort|undo ID, describe rollout ID */
	bool interval_set;	    /* --interval was given (rollout start: time between waves) */
	uint32_t canary_percent;    /* --canary */
	uint32_t batch_percent;	    /* --batch */
	bool canary_set, batch_set;
	int ack_timeout_ms;	    /* --ack-timeout; 0: the controller's default */
	double max_drop_change;	    /* --max-drop-change, percentage points; 0: no gate */
	bool watch;		    /* rollout status --watch */
	uint64_t diff_revision;	    /* describe revision N --diff M */
	bool no_rollout;	    /* apply --no-rollout */
	const char *agent;	    /* status --agent unix:PATH */
	int64_t since_s;	    /* audit --since: how far back, in seconds; 0: all */
	/* alerts and API usage (cmd_monitor.c) */
	const char *route;	    /* get apiusage --route NAME */
	bool all;		    /* get alerts --all: acknowledged ones too */
	int64_t alert_id;	    /* alerts ack ID */
	/* concurrent applies */
	bool force;		    /* apply --force: no base revision check */
	uint64_t base_revision;	    /* apply --base-revision N; 0: the newest apply reads */
};

/*
 * Parses argv (global flags may come before or after the command). env_controller is
 * the value of SLUICE_CONTROLLER (NULL when unset). Help (-h/--help, "help [CMD]")
 * goes to out and leaves o->cmd at CLI_CMD_NONE. Returns 0, or -EINVAL after printing
 * a usage error with what to do next to err (exit with CLI_EXIT_USAGE).
 */
int cli__parse(int argc, char **argv, const char *env_controller, struct cli_opts *o, FILE *out, FILE *err);

/*
 * The same with the whole environment: settings come from the configuration file
 * (--config FILE, else $XDG_CONFIG_HOME/sluice/config.yaml or ~/.config/sluice/config.yaml
 * when it exists), overridden by the environment, overridden by flags. cli__parse() is
 * this with env->controller only (no configuration file is read).
 */
int cli__parse_env(int argc, char **argv, const struct cli_env *env, struct cli_opts *o, FILE *out, FILE *err);

/* The environment of this process: getenv() and isatty(STDOUT_FILENO). */
void cli_env__from_process(struct cli_env *env);

/* Runs o->cmd; returns the process exit code. */
int cli__run(const struct cli_opts *o, FILE *out, FILE *err);

/* The whole program: parse, then run. Returns the process exit code. */
int cli__main(int argc, char **argv, const char *env_controller, FILE *out, FILE *err);

/* The whole program with the whole environment (main() uses this). */
int cli__main_env(int argc, char **argv, const struct cli_env *env, FILE *out, FILE *err);

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
int cli_cmd__diff(const struct cli_opts *o, FILE *out, FILE *err);
int cli_cmd__top(const struct cli_opts *o, FILE *out, FILE *err);
int cli_cmd__audit(const struct cli_opts *o, FILE *out, FILE *err);
int cli_cmd__completion(const struct cli_opts *o, FILE *out, FILE *err); /* completion, man */
int cli_cmd__complete(const struct cli_opts *o, FILE *out, FILE *err);
int cli_cmd__get_alerts(const struct cli_opts *o, FILE *out, FILE *err);
int cli_cmd__alerts(const struct cli_opts *o, FILE *out, FILE *err); /* alerts [--watch] */
int cli_cmd__alerts_ack(const struct cli_opts *o, FILE *out, FILE *err);
int cli_cmd__get_apiusage(const struct cli_opts *o, FILE *out, FILE *err);

struct cli_conn;
/* Under `get rules`: the temporary mitigation rules live on agents (from their alerts),
 * marked as such; prints nothing when there are none or the controller cannot say. */
void cli_monitor__print_mitigations(struct cli_conn *c, FILE *out);	  /* __complete agents */
int cli_cmd__rollout(const struct cli_opts *o, FILE *out, FILE *err);	  /* rollout VERB, get/describe rollouts */
int cli_cmd__revision_diff(const struct cli_opts *o, FILE *out, FILE *err); /* describe revision N --diff M */
int cli_cmd__status(const struct cli_opts *o, FILE *out, FILE *err);	  /* status --agent unix:PATH */
int cli_cmd__delete_agent(const struct cli_opts *o, FILE *out, FILE *err); /* delete agent NODE */

/* The rollout commands' flags and positional argument (cmd_rollout.c), called by the
 * parser: 0, or -EINVAL after printing a usage error. __option handles the flags from
 * OPT_CANARY on; __args is called for every command and ignores the others'. */
int cli_rollout__option(struct cli_opts *o, int opt_id, const char *val, FILE *err);
int cli_rollout__args(struct cli_opts *o, enum cli_cmd cmd, const char *arg, FILE *err);

#endif
