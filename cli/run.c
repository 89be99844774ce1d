// SPDX-License-Identifier: Apache-2.0
/*
 * run.c — runs the command cli__parse() chose; `sluicectl version`, and the commands
 * that print the documents generated from the command table (`completion bash`, `man`).
 */
#include <protobuf-c/protobuf-c.h>

#include "cli/cli.h"
#include "cli/render.h"
#include "cli/spec.h"

#define API_NAME "sluice.v1"

int cli_cmd__version(const struct cli_opts *o, FILE *out, FILE *err)
{
	if (cli_render__structured(o))
		return cli_render__data(o,
					json_pack("{s:s, s:s, s:s}", "version", SLUICE_VERSION, "api", API_NAME,
						  "protobuf_c", protobuf_c_version()),
					out) ?
			       CLI_EXIT_FAIL :
			       CLI_EXIT_OK;
	fprintf(out, "sluicectl %s (API %s, protobuf-c %s)\n", SLUICE_VERSION, API_NAME, protobuf_c_version());
	return CLI_EXIT_OK;
}

int cli_cmd__completion(const struct cli_opts *o, FILE *out, FILE *err)
{
	if (o->cmd == CLI_CMD_MAN)
		cli_doc__man(out);
	else
		cli_doc__bash_completion(out);
	return CLI_EXIT_OK;
}

int cli__run(const struct cli_opts *o, FILE *out, FILE *err)
{
	switch (o->cmd) {
	case CLI_CMD_NONE:
		return CLI_EXIT_OK;
	case CLI_CMD_APPLY:
		return cli_cmd__apply(o, out, err);
	case CLI_CMD_DIFF:
		return cli_cmd__diff(o, out, err);
	case CLI_CMD_GET_AGENTS:
		return cli_cmd__get_agents(o, out, err);
	case CLI_CMD_GET_REVISIONS:
		return cli_cmd__get_revisions(o, out, err);
	case CLI_CMD_GET_RULES:
	case CLI_CMD_GET_ROUTES:
	case CLI_CMD_GET_POLICY:
		return cli_cmd__get_policy(o, out, err);
	case CLI_CMD_DESCRIBE_AGENT:
		return cli_cmd__describe_agent(o, out, err);
	case CLI_CMD_DESCRIBE_REVISION:
		if (o->diff_revision)
			return cli_cmd__revision_diff(o, out, err);
		return cli_cmd__describe_revision(o, out, err);
	case CLI_CMD_TOP:
		return cli_cmd__top(o, out, err);
	case CLI_CMD_AUDIT:
		return cli_cmd__audit(o, out, err);
	case CLI_CMD_VERSION:
		return cli_cmd__version(o, out, err);
	case CLI_CMD_COMPLETION:
	case CLI_CMD_MAN:
		return cli_cmd__completion(o, out, err);
	case CLI_CMD_COMPLETE:
		return cli_cmd__complete(o, out, err);
	case CLI_CMD_ROLLOUT_START:
	case CLI_CMD_ROLLOUT_STATUS:
	case CLI_CMD_ROLLOUT_PAUSE:
	case CLI_CMD_ROLLOUT_RESUME:
	case CLI_CMD_ROLLOUT_ABORT:
	case CLI_CMD_ROLLOUT_UNDO:
	case CLI_CMD_GET_ROLLOUTS:
	case CLI_CMD_DESCRIBE_ROLLOUT:
		return cli_cmd__rollout(o, out, err);
	case CLI_CMD_STATUS:
		return cli_cmd__status(o, out, err);
	case CLI_CMD_DELETE_AGENT:
		return cli_cmd__delete_agent(o, out, err);
	case CLI_CMD_GET_ALERTS:
		return cli_cmd__get_alerts(o, out, err);
	case CLI_CMD_ALERTS:
		return cli_cmd__alerts(o, out, err);
	case CLI_CMD_ALERTS_ACK:
		return cli_cmd__alerts_ack(o, out, err);
	case CLI_CMD_GET_APIUSAGE:
		return cli_cmd__get_apiusage(o, out, err);
	}
	cli__error(err, "internal: command %d has no implementation; please report it", (int)o->cmd);
	return CLI_EXIT_FAIL;
}

int cli__main_env(int argc, char **argv, const struct cli_env *env, FILE *out, FILE *err)
{
	struct cli_opts o;

	if (cli__parse_env(argc, argv, env, &o, out, err))
		return CLI_EXIT_USAGE;
	return cli__run(&o, out, err);
}

int cli__main(int argc, char **argv, const char *env_controller, FILE *out, FILE *err)
{
	const struct cli_env env = { .controller = env_controller };

	return cli__main_env(argc, argv, &env, out, err);
}
