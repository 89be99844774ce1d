// SPDX-License-Identifier: Apache-2.0
/*
 * doc.c — everything written about sluicectl's grammar, generated from the tables in
 * args.c (spec.h): `--help` texts, the sluicectl(8) manual page in troff, and the bash
 * completion script. Because all three walk the same cmds[] and options[], a command
 * or flag cannot exist in one and be missing from another.
 */
#include <stdbool.h>
#include <string.h>

#include "cli/config.h"
#include "cli/spec.h"

#define SYN_LEN 200

void cli_spec__flag_name(const struct option_spec *s, char *buf, size_t len)
{
	if (s->shrt)
		snprintf(buf, len, "-%c, --%s%s%s", s->shrt, s->lng, s->arg ? " " : "", s->arg ? s->arg : "");
	else
		snprintf(buf, len, "    --%s%s%s", s->lng, s->arg ? " " : "", s->arg ? s->arg : "");
}

void cli_spec__synopsis(const struct cmd_spec *c, char *buf, size_t len)
{
	const struct option_spec *opts;
	size_t nopts, off;

	opts = cli_spec__options(&nopts);
	off = (size_t)snprintf(buf, len, "%s%s%s%s%s", c->verb, c->noun ? " " : "", c->noun ? c->noun : "",
			       c->arg ? " " : "", c->arg ? c->arg : "");
	for (size_t i = 0; i < nopts && off < len; i++) {
		const struct option_spec *s = &opts[i];
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

/* ---- --help ------------------------------------------------------------------------- */

static void print_flags(FILE *out, unsigned which)
{
	const struct option_spec *opts;
	size_t nopts;
	char name[64];

	opts = cli_spec__options(&nopts);
	for (size_t i = 0; i < nopts; i++) {
		if (!(which & BIT(opts[i].id)))
			continue;
		cli_spec__flag_name(&opts[i], name, sizeof(name));
		fprintf(out, "  %-26s %s\n", name, opts[i].help);
	}
}

/* Every line of text, each prefixed by indent. */
static void indented(FILE *out, const char *indent, const char *text)
{
	const char *p = text;

	while (*p) {
		const char *nl = strchr(p, '\n');
		size_t n = nl ? (size_t)(nl - p) : strlen(p);

		fprintf(out, "%s%.*s\n", indent, (int)n, p);
		p += n + (nl ? 1 : 0);
	}
}

void cli_doc__general_help(FILE *out)
{
	const struct cmd_spec *cmds;
	size_t ncmds;
	char syn[SYN_LEN];

	cmds = cli_spec__cmds(&ncmds);
	fprintf(out, "sluicectl: operate a sluice fleet through its controller\n\n"
		     "Usage: sluicectl [GLOBAL FLAGS] COMMAND [ARGS]\n\nCommands:\n");
	for (size_t i = 0; i < ncmds; i++) {
		if (cmds[i].hidden)
			continue;
		cli_spec__synopsis(&cmds[i], syn, sizeof(syn));
		if (strlen(syn) > 44)
			fprintf(out, "  %s\n  %-44s %s\n", syn, "", cmds[i].summary);
		else
			fprintf(out, "  %-44s %s\n", syn, cmds[i].summary);
	}
	fprintf(out, "\nGlobal flags (before or after the command):\n");
	print_flags(out, cli_spec__global_flags());
	fprintf(out, "\nSettings: flags override $" CLI_ENV_CONTROLLER ", which overrides the configuration file\n"
		     "(~/.config/" CLI_CONFIG_REL "; keys: " CLI_CONFIG_KEYS ").\n"
		     "Exit codes: 0 ok, 1 the operation failed, 2 usage error.\n"
		     "Run 'sluicectl COMMAND --help' for a command's flags and an example.\n");
}

void cli_doc__cmd_help(FILE *out, const struct cmd_spec *c)
{
	char syn[SYN_LEN];

	cli_spec__synopsis(c, syn, sizeof(syn));
	fprintf(out, "Usage: sluicectl [GLOBAL FLAGS] %s\n\n%s\n", syn, c->help);
	if (c->opts) {
		fprintf(out, "\nFlags:\n");
		print_flags(out, c->opts);
	}
	if (c->schema) {
		fprintf(out, "\nOutput with -o json or -o yaml (stable; yaml has the same structure):\n");
		indented(out, "  ", c->schema);
	}
	fprintf(out, "\nGlobal flags: see 'sluicectl --help'.\n\nExample:\n  %s\n", c->example);
}

void cli_doc__verb_help(FILE *out, const char *verb)
{
	const struct cmd_spec *cmds;
	size_t ncmds;
	char syn[SYN_LEN];

	cmds = cli_spec__cmds(&ncmds);
	fprintf(out, "Usage: sluicectl [GLOBAL FLAGS] %s WHAT\n\n", verb);
	for (size_t i = 0; i < ncmds; i++) {
		if (strcmp(cmds[i].verb, verb) != 0 || cmds[i].hidden)
			continue;
		cli_spec__synopsis(&cmds[i], syn, sizeof(syn));
		fprintf(out, "  %-44s %s\n", syn, cmds[i].summary);
	}
	fprintf(out, "\nRun 'sluicectl %s WHAT --help' for details and an example.\n", verb);
}

/* ---- the manual page ---------------------------------------------------------------- */

/* text for troff: backslashes and minus signs escaped, no line starting a request. */
static void roff(FILE *out, const char *text)
{
	bool bol = true;

	for (const char *p = text; *p; p++) {
		if (bol && (*p == '.' || *p == '\''))
			fputs("\\&", out);
		if (*p == '\\')
			fputs("\\e", out);
		else if (*p == '-')
			fputs("\\-", out);
		else
			fputc(*p, out);
		bol = *p == '\n';
	}
}

static void roff_block(FILE *out, const char *title, const char *text)
{
	fprintf(out, ".PP\n%s\n.RS\n.nf\n", title);
	roff(out, text);
	fputs("\n.fi\n.RE\n", out);
}

static void man_flags(FILE *out, unsigned which)
{
	const struct option_spec *opts;
	size_t nopts;
	char name[64];

	opts = cli_spec__options(&nopts);
	for (size_t i = 0; i < nopts; i++) {
		const char *n;

		if (!(which & BIT(opts[i].id)))
			continue;
		cli_spec__flag_name(&opts[i], name, sizeof(name));
		for (n = name; *n == ' '; n++)
			;
		fputs(".TP\n.B ", out);
		roff(out, n);
		fputs("\n", out);
		roff(out, opts[i].help);
		fputs("\n", out);
	}
}

void cli_doc__man(FILE *out)
{
	const struct cmd_spec *cmds;
	size_t ncmds;
	char syn[SYN_LEN], name[40];

	cmds = cli_spec__cmds(&ncmds);
	fprintf(out, ".\\\" sluicectl(8), generated by `sluicectl man` from its command table.\n"
		     ".TH SLUICECTL 8 \"\" \"sluice %s\" \"System Administration\"\n"
		     ".SH NAME\nsluicectl \\- operate a sluice fleet through its controller\n"
		     ".SH SYNOPSIS\n.B sluicectl\n[\\fIGLOBAL FLAGS\\fR] \\fICOMMAND\\fR [\\fIARGS\\fR]\n"
		     ".SH DESCRIPTION\n"
		     "sluicectl stores packet-inspection and routing policy in the sluice controller as\n"
		     "revisions, and shows what the fleet of agents runs. Commands read like kubectl:\n"
		     "a verb, often a kind, then flags. Global flags may come before or after the command.\n"
		     ".SH COMMANDS\n",
		SLUICE_VERSION);
	for (size_t i = 0; i < ncmds; i++) {
		const struct cmd_spec *c = &cmds[i];

		if (c->hidden)
			continue;
		cli_spec__name(c, name, sizeof(name));
		cli_spec__synopsis(c, syn, sizeof(syn));
		fputs(".SS \"", out);
		roff(out, name);
		fputs("\"\n.B sluicectl ", out);
		roff(out, syn);
		fputs("\n.PP\n", out);
		roff(out, c->help);
		fputs("\n", out);
		if (c->opts) {
			fputs(".PP\nFlags:\n", out);
			man_flags(out, c->opts);
		}
		if (c->schema)
			roff_block(out, "Output with \\fB\\-o json\\fR or \\fB\\-o yaml\\fR:", c->schema);
		roff_block(out, "Example:", c->example);
	}
	fputs(".SH GLOBAL FLAGS\n", out);
	man_flags(out, cli_spec__global_flags());
	fputs(".SH CONFIGURATION\n"
	      "Settings are taken from the configuration file, overridden by the environment,\n"
	      "overridden by flags. The file is\n.IR $XDG_CONFIG_HOME/sluice/config.yaml ,\n"
	      "else\n.IR ~/.config/sluice/config.yaml ,\nor the one named by \\fB\\-\\-config\\fR.\n"
	      "It is YAML with these keys, all optional:\n.RS\n.nf\n"
	      "controller: ctl.example.net:7443\ntls_cert: me.pem\ntls_key: me\\-key.pem\ntls_ca: ca.pem\n"
	      "insecure: false\noutput: table\ntimeout: 10s\n.fi\n.RE\n.PP\n"
	      "Relative file names are relative to the configuration file; \\fB~/\\fR means $HOME.\n"
	      "\\fB\\-\\-insecure\\fR on the command line ignores the file's certificates.\n"
	      ".SH OUTPUT\n"
	      "Tables are for people: aligned columns, ages like 12s or 3h, counts like 1.2M, rates per\n"
	      "second. \\fB\\-o wide\\fR adds columns. \\fB\\-o json\\fR is for scripts: its structure,\n"
	      "documented with each command above, stays stable (fields may be added, none removed or\n"
	      "renamed); keys are snake_case, times RFC 3339 in UTC or null. \\fB\\-o yaml\\fR prints the\n"
	      "same structure as YAML. \\fB\\-o name\\fR prints one name per line (get commands).\n"
	      "The JSON or YAML of \\fBget policy\\fR, \\fBget rules\\fR and \\fBget routes\\fR is in the\n"
	      "policy file's schema, so \\fBapply \\-f\\fR takes it back.\n"
	      "Colours are used only when standard output is a terminal and NO_COLOR is not set.\n"
	      ".SH ENVIRONMENT\n"
	      ".TP\n.B " CLI_ENV_CONTROLLER "\nthe controller address, unless \\fB\\-\\-controller\\fR is given (default "
	      CLI_DEFAULT_CONTROLLER ").\n"
	      ".TP\n.B XDG_CONFIG_HOME\nwhere the configuration file is looked for (default ~/.config).\n"
	      ".TP\n.B NO_COLOR\nwhen set and not empty, no colours even on a terminal.\n"
	      ".SH FILES\n.TP\n.I ~/.config/sluice/config.yaml\nthe configuration file.\n"
	      ".SH EXIT STATUS\n.TP\n.B 0\nsuccess (also: apply found the policy unchanged; diff found differences).\n"
	      ".TP\n.B 1\nthe operation failed: the controller refused it, could not be reached, or a file is invalid.\n"
	      ".TP\n.B 2\nusage error: an unknown command or flag, a missing argument, a bad configuration file.\n"
	      ".SH EXAMPLES\n.nf\n"
	      "sluicectl \\-\\-insecure diff \\-f policy.yaml\n"
	      "sluicectl apply \\-f policies/ \\-m \"block telnet\"\n"
	      "sluicectl get policy \\-o json > saved.json && sluicectl apply \\-f saved.json\n"
	      "sluicectl get agents \\-o wide\nsluicectl top \\-\\-interval 1s\n.fi\n"
	      ".SH SEE ALSO\n.BR sluice\\-controller (8),\n.BR sluice\\-agent (8)\n",
	      out);
}

/* ---- bash completion ---------------------------------------------------------------- */

/* The words of every flag in which (names, both forms). */
static void flag_words(FILE *out, unsigned which)
{
	const struct option_spec *opts;
	size_t nopts;
	bool first = true;

	opts = cli_spec__options(&nopts);
	for (size_t i = 0; i < nopts; i++) {
		if (!(which & BIT(opts[i].id)))
			continue;
		if (opts[i].shrt)
			fprintf(out, "%s-%c", first ? "" : " ", opts[i].shrt);
		fprintf(out, "%s--%s", first && !opts[i].shrt ? "" : " ", opts[i].lng);
		first = false;
	}
}

/* A case pattern of the flags with a separate value: -o|--output|... */
static void valued_flags(FILE *out, bool (*pick)(const struct option_spec *))
{
	const struct option_spec *opts;
	size_t nopts;
	bool first = true;

	opts = cli_spec__options(&nopts);
	for (size_t i = 0; i < nopts; i++) {
		if (!opts[i].arg || !pick(&opts[i]))
			continue;
		if (opts[i].shrt)
			fprintf(out, "%s-%c", first ? "" : "|", opts[i].shrt);
		fprintf(out, "%s--%s", first && !opts[i].shrt ? "" : "|", opts[i].lng);
		first = false;
	}
}

static bool any_flag(const struct option_spec *s)
{
	return true;
}

static bool file_flag(const struct option_spec *s)
{
	return s->file;
}

static bool free_flag(const struct option_spec *s)
{
	return !s->file && !s->values;
}

/* The global flags that choose the controller, passed on to `__complete`. */
static bool conn_flag(const struct option_spec *s)
{
	return (cli_spec__global_flags() & BIT(s->id)) && s->id != OPT_OUTPUT && s->id != OPT_HELP;
}

/* "get:agents|get:agent" */
static void cmd_pattern(FILE *out, const struct cmd_spec *c)
{
	size_t n;

	if (!c->noun) {
		fprintf(out, "%s:", c->verb);
		return;
	}
	n = strlen(c->noun);
	fprintf(out, "%s:%s|%s:", c->verb, c->noun, c->verb);
	if (n > 1 && c->noun[n - 1] == 's')
		fprintf(out, "%.*s", (int)(n - 1), c->noun);
	else
		fprintf(out, "%ss", c->noun);
}

static bool has_nouns(const struct cmd_spec *cmds, size_t n, const char *verb)
{
	for (size_t i = 0; i < n; i++)
		if (strcmp(cmds[i].verb, verb) == 0 && cmds[i].noun)
			return true;
	return false;
}

/* true the first time verb appears among the visible commands. */
static bool first_of_verb(const struct cmd_spec *cmds, size_t i)
{
	if (cmds[i].hidden)
		return false;
	for (size_t j = 0; j < i; j++)
		if (!cmds[j].hidden && strcmp(cmds[j].verb, cmds[i].verb) == 0)
			return false;
	return true;
}

void cli_doc__bash_completion(FILE *out)
{
	const struct option_spec *opts;
	const struct cmd_spec *cmds;
	size_t ncmds, nopts;

	cmds = cli_spec__cmds(&ncmds);
	opts = cli_spec__options(&nopts);
	fputs("# bash completion for sluicectl, generated by `sluicectl completion bash` from its command table.\n"
	      "# Load it with: source <(sluicectl completion bash)\n\n"
	      "# Agent names, asked from the controller the command line points at.\n"
	      "_sluicectl_agents() {\n\tlocal -a g=()\n\tlocal i w\n"
	      "\tfor ((i = 1; i < ${#COMP_WORDS[@]}; i++)); do\n\t\tw=${COMP_WORDS[i]}\n\t\tcase $w in\n\t\t",
	      out);
	valued_flags(out, conn_flag);
	fputs(") g+=(\"$w\" \"${COMP_WORDS[i+1]}\"); i=$((i + 1)) ;;\n\t\t--insecure|--*=*) g+=(\"$w\") ;;\n"
	      "\t\tesac\n\tdone\n"
	      "\t\"${COMP_WORDS[0]}\" \"${g[@]}\" --timeout 2s __complete agents 2>/dev/null\n}\n\n"
	      "_sluicectl() {\n\tlocal cur=${COMP_WORDS[COMP_CWORD]} prev=${COMP_WORDS[COMP_CWORD-1]}\n"
	      "\tlocal verb= noun= nargs=0 i w flags\n\tCOMPREPLY=()\n\tcase $prev in\n",
	      out);
	for (size_t i = 0; i < nopts; i++) {
		if (!opts[i].values)
			continue;
		fputs("\t", out);
		if (opts[i].shrt)
			fprintf(out, "-%c|", opts[i].shrt);
		fprintf(out, "--%s) COMPREPLY=($(compgen -W \"%s\" -- \"$cur\")); return ;;\n", opts[i].lng,
			opts[i].values);
	}
	fputs("\t", out);
	valued_flags(out, file_flag);
	fputs(") COMPREPLY=($(compgen -f -- \"$cur\")); compopt -o filenames 2>/dev/null; return ;;\n\t", out);
	valued_flags(out, free_flag);
	fputs(") return ;;\n\tesac\n"
	      "\tfor ((i = 1; i < COMP_CWORD; i++)); do\n\t\tw=${COMP_WORDS[i]}\n\t\tcase $w in\n\t\t",
	      out);
	valued_flags(out, any_flag);
	fputs(") i=$((i + 1)); continue ;;\n\t\t-*) continue ;;\n\t\tesac\n"
	      "\t\tif [ -z \"$verb\" ]; then\n\t\t\tverb=$w\n\t\telif [ -z \"$noun\" ] && case $verb in ",
	      out);
	{
		bool first = true;

		for (size_t i = 0; i < ncmds; i++) {
			if (!first_of_verb(cmds, i) || !has_nouns(cmds, ncmds, cmds[i].verb))
				continue;
			fprintf(out, "%s%s", first ? "" : "|", cmds[i].verb);
			first = false;
		}
		fputs(first ? "__none__" : "", out);
	}
	fputs(") true ;; *) false ;; esac; then\n\t\t\tnoun=$w\n\t\telse\n\t\t\tnargs=$((nargs + 1))\n\t\tfi\n\tdone\n"
	      "\tif [[ $cur == -* ]]; then\n\t\tcase $verb:$noun in\n",
	      out);
	for (size_t i = 0; i < ncmds; i++) {
		if (cmds[i].hidden)
			continue;
		fputs("\t\t", out);
		cmd_pattern(out, &cmds[i]);
		fputs(") flags=\"", out);
		flag_words(out, cmds[i].opts | cli_spec__global_flags());
		fputs("\" ;;\n", out);
	}
	fputs("\t\t*) flags=\"", out);
	flag_words(out, cli_spec__global_flags());
	fputs("\" ;;\n\t\tesac\n\t\tCOMPREPLY=($(compgen -W \"$flags\" -- \"$cur\"))\n\t\treturn\n\tfi\n"
	      "\tif [ -z \"$verb\" ]; then\n\t\tCOMPREPLY=($(compgen -W \"",
	      out);
	for (size_t i = 0; i < ncmds; i++)
		if (first_of_verb(cmds, i))
			fprintf(out, "%s ", cmds[i].verb);
	fputs("help\" -- \"$cur\"))\n\t\treturn\n\tfi\n\tcase $verb in\n", out);
	fputs("\thelp) [ -z \"$noun\" ] && [ $nargs -eq 0 ] && COMPREPLY=($(compgen -W \"", out);
	for (size_t i = 0; i < ncmds; i++)
		if (first_of_verb(cmds, i))
			fprintf(out, "%s ", cmds[i].verb);
	fputs("\" -- \"$cur\")); return ;;\n", out);
	for (size_t i = 0; i < ncmds; i++) {
		if (!first_of_verb(cmds, i) || !has_nouns(cmds, ncmds, cmds[i].verb))
			continue;
		fprintf(out, "\t%s) if [ -z \"$noun\" ]; then COMPREPLY=($(compgen -W \"", cmds[i].verb);
		for (size_t j = 0; j < ncmds; j++)
			if (!cmds[j].hidden && cmds[j].noun && strcmp(cmds[j].verb, cmds[i].verb) == 0)
				fprintf(out, "%s ", cmds[j].noun);
		fputs("\" -- \"$cur\")); return; fi ;;\n", out);
	}
	fputs("\tesac\n\t[ $nargs -eq 0 ] || return\n\tcase $verb:$noun in\n", out);
	for (size_t i = 0; i < ncmds; i++) {
		if (cmds[i].hidden || !cmds[i].arg)
			continue;
		if (cmds[i].complete && strcmp(cmds[i].complete, "agents") == 0) {
			fputs("\t", out);
			cmd_pattern(out, &cmds[i]);
			fputs(") COMPREPLY=($(compgen -W \"$(_sluicectl_agents)\" -- \"$cur\")) ;;\n", out);
		} else if (cmds[i].id == CLI_CMD_COMPLETION) {
			fputs("\t", out);
			cmd_pattern(out, &cmds[i]);
			fputs(") COMPREPLY=($(compgen -W \"bash\" -- \"$cur\")) ;;\n", out);
		}
	}
	fputs("\tesac\n}\n\ncomplete -F _sluicectl sluicectl\n", out);
}
