// SPDX-License-Identifier: Apache-2.0
/*
 * main.c — sluicectl's entry point: parse the command line, run the command, exit
 * 0 (ok), 1 (the operation failed) or 2 (usage error). The work is in sluicectl_core.
 */
#include <stdlib.h>

#include "cli/cli.h"
#include "common/log.h"

int main(int argc, char **argv)
{
	/* Library warnings (the rpc layer's) only; sluicectl prints its own errors. */
	log__init("sluicectl", LOG_WARN);
	return cli__main(argc, argv, getenv(CLI_ENV_CONTROLLER), stdout, stderr);
}
