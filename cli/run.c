// SPDX-License-Identifier: Apache-2.0
/*
 * run.c — runs the command cli__parse() chose, and `sluicectl version`.
 */
#include <protobuf-c/protobuf-c.h>

#include "cli/cli.h"
#include "cli/render.h"

#define API_NAME "sluice.v1"

int cli_cmd__version(const struct cli_opts *o, FILE *out, FILE *err)
{
	if (o->output == CLI_OUT_JSON)
		return cli_render__json(json_pack("{s:s, s:s, s:s}", "version", SLUICE_VERSION, "api", API_NAME,
						  "protobuf_c", protobuf_c_version()),
					out) ?
			       CLI_EXIT_FAIL :
			       CLI_EXIT_OK;
	fprintf(out, "sluicectl %s (API %s, protobuf-c %s)\n", SLUICE_VERSION, API_NAME, protobuf_c_version());
	return CLI_EXIT_OK;
}

int cli__run(const struct cli_opts *o, FILE *out, FILE *err)
{
	switch (o->cmd) {
	case CLI_CMD_NONE:
		return CLI_EXIT_OK;
	case CLI_CMD_APPLY:
		return cli_cmd__apply(o, out, err);
	case CLI_CMD_GET_AGENTS:
		return cli_cmd__get_agents(o, out, err);
	case CLI_CMD_GET_REVISIONS:
		return cli_cmd__get_revisions(o, out, err);
	case CLI_CMD_GET_RULES:
	case CLI_CMD_GET_ROUTES:
		return cli_cmd__get_policy(o, out, err);
	case CLI_CMD_DESCRIBE_AGENT:
		return cli_cmd__describe_agent(o, out, err);
	case CLI_CMD_DESCRIBE_REVISION:
		return cli_cmd__describe_revision(o, out, err);
	case CLI_CMD_VERSION:
		return cli_cmd__version(o, out, err);
	}
	cli__error(err, "internal: command %d has no implementation; please report it", (int)o->cmd);
	return CLI_EXIT_FAIL;
}

int cli__main(int argc, char **argv, const char *env_controller, FILE *out, FILE *err)
{
	struct cli_opts o;

	if (cli__parse(argc, argv, env_controller, &o, out, err))
		return CLI_EXIT_USAGE;
	return cli__run(&o, out, err);
}
