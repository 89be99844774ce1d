// SPDX-License-Identifier: Apache-2.0
/*
 * args.c — sluicectl's grammar (DESIGN.md §6): the table of flags, the table of
 * commands (cmds[]), parsing argv into struct cli_opts, and the help texts generated
 * from both tables. Nothing here talks to the controller.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

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
	/* command flags from here on */
	OPT_FILE,
	OPT_DRY_RUN,
	OPT_MESSAGE,
	OPT_LIMIT,
	OPT_SELECTOR,
	OPT_COUNT,
};

#define BIT(id) (1u << (id))

struct option_spec {
	enum opt_id id;
	const char *lng; /* "--" + this */
	char shrt;	 /* "-" + this, or 0 */
	const char *arg; /* the value's name, or NULL for a switch */
	const char *help;
};

static const struct option_spec options[] = {
	{ OPT_CONTROLLER, "controller", 0, "ADDR",
	  "controller address HOST:PORT (default: $" CLI_ENV_CONTROLLER ", else " CLI_DEFAULT_CONTROLLER ")" },
	{ OPT_TLS_CERT, "tls-cert", 0, "FILE", "your client certificate (PEM)" },
	{ OPT_TLS_KEY, "tls-key", 0, "FILE", "its private key (PEM)" },
	{ OPT_TLS_CA, "tls-ca", 0, "FILE", "the CA that signed the controller's certificate (PEM)" },
	{ OPT_INSECURE, "insecure", 0, NULL, "plaintext and no authentication: local development only" },
	{ OPT_OUTPUT, "output", 'o', "FORMAT", "table (for people, the default) or json (stable, for scripts)" },
	{ OPT_TIMEOUT, "timeout", 0, "DURATION", "how long to wait for the controller: 10s (default), 500ms, 2m" },
	{ OPT_HELP, "help", 'h', NULL, "show help (after a command: that command's help)" },
	{ OPT_FILE, "filename", 'f', "FILE", "a policy file, a directory of *.yaml/*.yml files, or - for stdin" },
	{ OPT_DRY_RUN, "dry-run", 0, NULL, "have the controller validate it, and store nothing" },
	{ OPT_MESSAGE, "message", 'm', "MSG", "why: stored with the revision" },
	{ OPT_LIMIT, "limit", 0, "N", "show at most N revisions, newest first" },
	{ OPT_SELECTOR, "selector", 'l', "K=V[,K=V]", "only agents that have all these labels" },
};

#define NOPTIONS (sizeof(options) / sizeof(options[0]))

struct cmd_spec {
	enum cli_cmd id;
	const char *verb;     /* "get" */
	const char *noun;     /* "agents", or NULL */
	const char *arg;      /* positional argument ("NODE"), or NULL */
	unsigned opts;	      /* command flags it takes */
	unsigned required;    /* command flags it needs */
	bool remote;	      /* talks to the controller */
	const char *summary;  /* one line for the command list */
	const char *help;     /* what it does and prints */
	const char *example;
};

static const struct cmd_spec cmds[] = {
	{ CLI_CMD_APPLY, "apply", NULL, NULL, BIT(OPT_FILE) | BIT(OPT_DRY_RUN) | BIT(OPT_MESSAGE), BIT(OPT_FILE), true,
	  "store a policy as a new revision",
	  "Parses and validates the policy here first (errors name FILE:LINE:COL and the field), then\n"
	  "sends it to the controller, which stores it as a new revision if its content changed.\n"
	  "Prints \"revision N (hash ...) stored\" or \"unchanged: revision N\".",
	  "sluicectl apply -f deploy/examples/policy.yaml -m \"lab policy\"" },
	{ CLI_CMD_GET_AGENTS, "get", "agents", NULL, BIT(OPT_SELECTOR), 0, true, "list agents and their state",
	  "One line per agent: NAME, STATE (SYNCED, PENDING, NACKED, OFFLINE), REVISION (wanted),\n"
	  "APPLIED (running), RULES (used/capacity), LAST-SEEN, AGE (time in this state), LABELS.",
	  "sluicectl get agents -l env=lab" },
	{ CLI_CMD_GET_REVISIONS, "get", "revisions", NULL, BIT(OPT_LIMIT), 0, true, "list stored policy revisions",
	  "One line per revision, newest first: REVISION, HASH, AUTHOR, AGE, RULES, ROUTES, MESSAGE.",
	  "sluicectl get revisions --limit 5" },
	{ CLI_CMD_GET_RULES, "get", "rules", NULL, 0, 0, true, "show the rules of the newest revision",
	  "A table in evaluation order (lower priority first, then file order). With -o json: {\"rules\": [...]}\n"
	  "in the policy file's schema, which apply -f accepts back (in file order).",
	  "sluicectl get rules -o json > rules.json" },
	{ CLI_CMD_GET_ROUTES, "get", "routes", NULL, 0, 0, true, "show the routes of the newest revision",
	  "A table of NAME, FRONTEND (vip:port/proto), BACKENDS (addr:port w=WEIGHT TAG). With -o json:\n"
	  "{\"routes\": [...]} in the policy file's schema.",
	  "sluicectl get routes" },
	{ CLI_CMD_DESCRIBE_AGENT, "describe", "agent", "NODE", 0, 0, true, "everything about one agent",
	  "The agent's state, revisions, last error, versions and interfaces, then its newest status\n"
	  "report: attach state per interface, packets and bytes per rule, and datapath drop counters.",
	  "sluicectl describe agent gw1" },
	{ CLI_CMD_DESCRIBE_REVISION, "describe", "revision", "N", 0, 0, true, "one revision and its policy",
	  "The revision's hash, author, time and message, then its rules, routes and rollout hint.",
	  "sluicectl describe revision 7 -o json" },
	{ CLI_CMD_VERSION, "version", NULL, NULL, 0, 0, false, "print sluicectl's version",
	  "Prints the version of sluicectl and of the API it speaks.", "sluicectl version" },
};

#define NCMDS (sizeof(cmds) / sizeof(cmds[0]))

void cli__error(FILE *err, const char *fmt, ...)
{
	va_list ap;

	fputs("sluicectl: error: ", err);
	va_start(ap, fmt);
	vfprintf(err, fmt, ap);
	va_end(ap);
	fputc('\n', err);
}

__attribute__((format(printf, 2, 3))) static int usage_error(FILE *err, const char *fmt, ...)
{
	va_list ap;

	fputs("sluicectl: error: ", err);
	va_start(ap, fmt);
	vfprintf(err, fmt, ap);
	va_end(ap);
	fputc('\n', err);
	return -EINVAL;
}

static void flag_name(const struct option_spec *s, char *buf, size_t len)
{
	if (s->shrt)
		snprintf(buf, len, "-%c, --%s%s%s", s->shrt, s->lng, s->arg ? " " : "", s->arg ? s->arg : "");
	else
		snprintf(buf, len, "    --%s%s%s", s->lng, s->arg ? " " : "", s->arg ? s->arg : "");
}

static void print_flags(FILE *out, unsigned which)
{
	char name[64];

	for (size_t i = 0; i < NOPTIONS; i++) {
		if (!(which & BIT(options[i].id)))
			continue;
		flag_name(&options[i], name, sizeof(name));
		fprintf(out, "  %-26s %s\n", name, options[i].help);
	}
}

/* "apply -f FILE [--dry-run] [-m MSG]" */
static void synopsis(const struct cmd_spec *c, char *buf, size_t len)
{
	size_t off = 0;

	off += (size_t)snprintf(buf, len, "%s%s%s%s%s", c->verb, c->noun ? " " : "", c->noun ? c->noun : "",
				c->arg ? " " : "", c->arg ? c->arg : "");
	for (size_t i = 0; i < NOPTIONS && off < len; i++) {
		const struct option_spec *s = &options[i];
		bool req = c->required & BIT(s->id);
		char flag[40];

		if (!(c->opts & BIT(s->id)))
			continue;
		if (s->shrt)
			snprintf(flag, sizeof(flag), "-%c", s->shrt);
		else
			snprintf(flag, sizeof(flag), "--%s", s->lng);
		off += (size_t)snprintf(buf + off, len - off, " %s%s%s%s%s", req ? "" : "[", flag, s->arg ? " " : "",
					s->arg ? s->arg : "", req ? "" : "]");
	}
}

static unsigned global_flags(void)
{
	return BIT(OPT_CONTROLLER) | BIT(OPT_TLS_CERT) | BIT(OPT_TLS_KEY) | BIT(OPT_TLS_CA) | BIT(OPT_INSECURE) |
	       BIT(OPT_OUTPUT) | BIT(OPT_TIMEOUT) | BIT(OPT_HELP);
}

static void print_general_help(FILE *out)
{
	char syn[160];

	fprintf(out, "sluicectl: operate a sluice fleet through its controller\n\n"
		     "Usage: sluicectl [GLOBAL FLAGS] COMMAND [ARGS]\n\nCommands:\n");
	for (size_t i = 0; i < NCMDS; i++) {
		synopsis(&cmds[i], syn, sizeof(syn));
		fprintf(out, "  %-44s %s\n", syn, cmds[i].summary);
	}
	fprintf(out, "\nGlobal flags (before or after the command):\n");
	print_flags(out, global_flags());
	fprintf(out, "\nExit codes: 0 ok, 1 the operation failed, 2 usage error.\n"
		     "Run 'sluicectl COMMAND --help' for a command's flags and an example.\n");
}

static void print_cmd_help(FILE *out, const struct cmd_spec *c)
{
	char syn[160];

	synopsis(c, syn, sizeof(syn));
	fprintf(out, "Usage: sluicectl [GLOBAL FLAGS] %s\n\n%s\n", syn, c->help);
	if (c->opts) {
		fprintf(out, "\nFlags:\n");
		print_flags(out, c->opts);
	}
	fprintf(out, "\nGlobal flags: see 'sluicectl --help'.\n\nExample:\n  %s\n", c->example);
}

/* Help for a verb with several nouns ("sluicectl get --help"). */
static void print_verb_help(FILE *out, const char *verb)
{
	char syn[160];

	fprintf(out, "Usage: sluicectl [GLOBAL FLAGS] %s WHAT\n\n", verb);
	for (size_t i = 0; i < NCMDS; i++) {
		if (strcmp(cmds[i].verb, verb) != 0)
			continue;
		synopsis(&cmds[i], syn, sizeof(syn));
		fprintf(out, "  %-44s %s\n", syn, cmds[i].summary);
	}
	fprintf(out, "\nRun 'sluicectl %s WHAT --help' for details and an example.\n", verb);
}

/* Finds the flag a is; *val gets an attached value ("--output=json", "-ojson"). */
static const struct option_spec *find_option(const char *a, const char **val)
{
	*val = NULL;
	if (a[1] == '-') {
		const char *name = a + 2, *eq = strchr(name, '=');
		size_t n = eq ? (size_t)(eq - name) : strlen(name);

		for (size_t i = 0; i < NOPTIONS; i++) {
			if (strlen(options[i].lng) == n && strncmp(options[i].lng, name, n) == 0) {
				if (eq)
					*val = eq + 1;
				return &options[i];
			}
		}
		return NULL;
	}
	for (size_t i = 0; i < NOPTIONS; i++) {
		if (options[i].shrt && a[1] == options[i].shrt) {
			if (a[2])
				*val = a + 2;
			return &options[i];
		}
	}
	return NULL;
}

/* "10s", "500ms", "2m" or a number of seconds, into milliseconds; -1 when not one. */
static long long parse_duration_ms(const char *s)
{
	char *end;
	long long v;

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

static bool parse_u64(const char *s, uint64_t *out)
{
	char *end;

	if (!s || *s < '0' || *s > '9')
		return false;
	errno = 0;
	*out = strtoull(s, &end, 10);
	return !errno && *end == '\0';
}

/* "k=v,k2=v2": every item has a name and an "=". */
static bool selector_ok(const char *s)
{
	const char *p = s;

	if (!*s)
		return false;
	for (;;) {
		const char *end = strchr(p, ','), *eq = strchr(p, '=');

		if (!end)
			end = p + strlen(p);
		if (!eq || eq >= end || eq == p)
			return false;
		if (!*end)
			return true;
		p = end + 1;
	}
}

static int set_option(struct cli_opts *o, const struct option_spec *s, const char *val, FILE *err)
{
	long long ms;
	uint64_t n;

	switch (s->id) {
	case OPT_CONTROLLER:
		if (!*val)
			return usage_error(err, "--controller needs HOST:PORT, like %s", CLI_DEFAULT_CONTROLLER);
		o->controller = val;
		o->controller_from = CLI_ADDR_FLAG;
		break;
	case OPT_TLS_CERT:
		o->tls_cert = val;
		break;
	case OPT_TLS_KEY:
		o->tls_key = val;
		break;
	case OPT_TLS_CA:
		o->tls_ca = val;
		break;
	case OPT_INSECURE:
		o->insecure = true;
		break;
	case OPT_OUTPUT:
		if (strcmp(val, "table") == 0)
			o->output = CLI_OUT_TABLE;
		else if (strcmp(val, "json") == 0)
			o->output = CLI_OUT_JSON;
		else if (strcmp(val, "yaml") == 0)
			return usage_error(err, "-o yaml is not supported yet; use -o json (JSON is valid YAML)");
		else
			return usage_error(err, "-o '%s' is not an output format (table or json)", val);
		break;
	case OPT_TIMEOUT:
		ms = parse_duration_ms(val);
		if (ms < 0)
			return usage_error(err, "--timeout '%s' is not a duration (like 10s, 500ms or 2m)", val);
		o->timeout_ms = (int)ms;
		break;
	case OPT_FILE:
		o->file = val;
		break;
	case OPT_DRY_RUN:
		o->dry_run = true;
		break;
	case OPT_MESSAGE:
		o->message = val;
		break;
	case OPT_LIMIT:
		if (!parse_u64(val, &n) || n == 0 || n > UINT32_MAX)
			return usage_error(err, "--limit '%s' is not a count (a number from 1)", val);
		o->limit = (uint32_t)n;
		break;
	case OPT_SELECTOR:
		if (!selector_ok(val))
			return usage_error(err, "-l '%s' is not a label selector (write KEY=VALUE[,KEY=VALUE], like env=lab)",
					   val);
		o->selector = val;
		break;
	default:
		break;
	}
	return 0;
}

/* "agents" matches "agents" and "agent"; "agent" matches "agent" and "agents". */
static bool noun_matches(const char *noun, const char *w)
{
	size_t n = strlen(noun), m = strlen(w);

	if (strcmp(noun, w) == 0)
		return true;
	if (m + 1 == n && noun[m] == 's' && strncmp(noun, w, m) == 0)
		return true;
	return n + 1 == m && w[n] == 's' && strncmp(noun, w, n) == 0;
}

static const char *verb_nouns(const char *verb, char *buf, size_t len)
{
	size_t off = 0;

	buf[0] = '\0';
	for (size_t i = 0; i < NCMDS && off < len; i++)
		if (strcmp(cmds[i].verb, verb) == 0 && cmds[i].noun)
			off += (size_t)snprintf(buf + off, len - off, "%s%s", off ? ", " : "", cmds[i].noun);
	return buf;
}

/*
 * Finds the command words[] names: 0 with *found and *used (words it took) set, 1 when
 * help for a verb was printed instead, -EINVAL after a usage error.
 */
static int resolve(const char *const *words, size_t nw, bool help, FILE *out, FILE *err,
		   const struct cmd_spec **found, size_t *used)
{
	const struct cmd_spec *first = NULL;
	char nouns[128];

	for (size_t i = 0; i < NCMDS; i++) {
		if (strcmp(cmds[i].verb, words[0]) != 0)
			continue;
		if (!first)
			first = &cmds[i];
		if (!cmds[i].noun || (nw > 1 && noun_matches(cmds[i].noun, words[1]))) {
			*found = &cmds[i];
			*used = cmds[i].noun ? 2 : 1;
			return 0;
		}
	}
	if (!first)
		return usage_error(err, "unknown command '%s' (commands: apply, get, describe, version; see sluicectl --help)",
				   words[0]);
	verb_nouns(words[0], nouns, sizeof(nouns));
	if (nw < 2 && help) {
		print_verb_help(out, words[0]);
		return 1;
	}
	if (nw < 2)
		return usage_error(err, "%s what? (%s; for example: %s)", words[0], nouns, first->example);
	return usage_error(err, "%s: unknown kind '%s' (%s)", words[0], words[1], nouns);
}

static int check_tls(const struct cli_opts *o, FILE *err)
{
	bool any = o->tls_cert || o->tls_key || o->tls_ca;

	if (o->insecure && any)
		return usage_error(err, "--insecure and --tls-* flags exclude each other (drop one of them)");
	if (o->insecure)
		return 0;
	if (!any)
		return usage_error(err,
				   "no credentials for the controller: give --tls-cert FILE --tls-key FILE --tls-ca FILE (or --insecure for a local development controller without TLS)");
	if (!o->tls_cert)
		return usage_error(err, "--tls-cert is missing (mTLS needs all of --tls-cert, --tls-key and --tls-ca)");
	if (!o->tls_key)
		return usage_error(err, "--tls-key is missing (mTLS needs all of --tls-cert, --tls-key and --tls-ca)");
	if (!o->tls_ca)
		return usage_error(err, "--tls-ca is missing (mTLS needs all of --tls-cert, --tls-key and --tls-ca)");
	return 0;
}

/* The command's positional argument, required flags and flags it does not take. */
static int check_cmd(struct cli_opts *o, const struct cmd_spec *c, const char *const *rest, size_t nrest,
		     unsigned given, const char *const *spelled, FILE *err)
{
	char name[40];

	snprintf(name, sizeof(name), "%s%s%s", c->verb, c->noun ? " " : "", c->noun ? c->noun : "");
	for (size_t i = 0; i < NOPTIONS; i++) {
		enum opt_id id = options[i].id;

		if ((given & BIT(id)) && !(c->opts & BIT(id)))
			return usage_error(err, "%s does not take %s (see sluicectl %s --help)", name, spelled[id], name);
	}
	if (c->arg && nrest == 0) {
		if (c->id == CLI_CMD_DESCRIBE_AGENT)
			return usage_error(err, "describe agent needs NODE (list them with: sluicectl get agents)");
		return usage_error(err, "%s needs %s (example: %s)", name, c->arg, c->example);
	}
	if (nrest > (c->arg ? 1u : 0u))
		return usage_error(err, "unexpected argument '%s' (see sluicectl %s --help)", rest[c->arg ? 1 : 0],
				   name);
	if ((c->required & BIT(OPT_FILE)) && !o->file)
		return usage_error(err, "%s needs -f FILE (a policy file, a directory of them, or - for stdin); example: %s",
				   name, c->example);
	if (c->id == CLI_CMD_DESCRIBE_AGENT)
		o->node = rest[0];
	if (c->id == CLI_CMD_DESCRIBE_REVISION && (!parse_u64(rest[0], &o->revision) || o->revision == 0))
		return usage_error(err, "'%s' is not a revision number (list them with: sluicectl get revisions)",
				   rest[0]);
	return c->remote ? check_tls(o, err) : 0;
}

int cli__parse(int argc, char **argv, const char *env_controller, struct cli_opts *o, FILE *out, FILE *err)
{
	const char *words[8], *spelled[OPT_COUNT] = { 0 };
	const struct cmd_spec *c = NULL;
	bool help = false, positional_only = false;
	unsigned given = 0;
	size_t nw = 0, used = 0;
	int rc;

	memset(o, 0, sizeof(*o));
	o->controller = CLI_DEFAULT_CONTROLLER;
	if (env_controller && env_controller[0]) {
		o->controller = env_controller;
		o->controller_from = CLI_ADDR_ENV;
	}
	o->timeout_ms = CLI_DEFAULT_TIMEOUT_MS;
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i], *val;
		const struct option_spec *s;

		if (positional_only || a[0] != '-' || strcmp(a, "-") == 0) {
			if (nw == sizeof(words) / sizeof(words[0]))
				return usage_error(err, "too many arguments (see sluicectl --help)");
			words[nw++] = a;
			continue;
		}
		if (strcmp(a, "--") == 0) {
			positional_only = true;
			continue;
		}
		s = find_option(a, &val);
		if (!s)
			return usage_error(err, "unknown flag '%s' (see sluicectl --help, or sluicectl COMMAND --help)", a);
		if (s->arg && !val) {
			if (i + 1 >= argc)
				return usage_error(err, "%s needs a value (%s)", a, s->arg);
			val = argv[++i];
		} else if (!s->arg && val) {
			return usage_error(err, "--%s takes no value", s->lng);
		}
		if (s->id == OPT_HELP) {
			help = true;
			continue;
		}
		rc = set_option(o, s, val, err);
		if (rc)
			return rc;
		if (!(global_flags() & BIT(s->id))) {
			given |= BIT(s->id);
			spelled[s->id] = a;
		}
	}
	if (nw > 0 && strcmp(words[0], "help") == 0) {
		help = true;
		memmove(words, words + 1, --nw * sizeof(words[0]));
	}
	if (nw == 0) {
		if (help) {
			print_general_help(out);
			return 0;
		}
		return usage_error(err, "no command given (try: sluicectl get agents; all commands: sluicectl --help)");
	}
	rc = resolve(words, nw, help, out, err, &c, &used);
	if (rc)
		return rc > 0 ? 0 : rc;
	if (help) {
		print_cmd_help(out, c);
		return 0;
	}
	rc = check_cmd(o, c, words + used, nw - used, given, spelled, err);
	if (rc)
		return rc;
	o->cmd = c->id;
	snprintf(o->cmd_name, sizeof(o->cmd_name), "%s%s%s", c->verb, c->noun ? " " : "", c->noun ? c->noun : "");
	return 0;
}
