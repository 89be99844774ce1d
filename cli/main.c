// SPDX-License-Identifier: Apache-2.0
/*
 * main.c — sluicectl's entry point: parse the command line, run the command, exit
 * 0 (ok), 1 (the operation failed) or 2 (usage error). The work is in sluicectl_core.
 */
#include "cli/cli.h"
#include "common/log.h"

int main(int argc, char **argv)
{
	struct cli_env env;

	/* Library warnings (the rpc layer's) only; sluicectl prints its own errors. */
	log__init("sluicectl", LOG_WARN);
	cli_env__from_process(&env);
	return cli__main_env(argc, argv, &env, stdout, stderr);
}
