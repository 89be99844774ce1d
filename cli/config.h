/* SPDX-License-Identifier: Apache-2.0 */
/*
 * config.h — where sluicectl's settings come from: the configuration file
 * (~/.config/sluice/config.yaml, or $XDG_CONFIG_HOME/sluice/config.yaml, or --config
 * FILE), and the value forms shared by the file and the flags (output formats,
 * durations). The order of precedence (file < environment < flags) is applied by the
 * parser in args.c.
 *
 * The file is YAML, every key optional:
 *   controller: ctl.example.net:7443   # HOST:PORT
 *   tls_cert: me.pem                   # relative paths are relative to the file; ~/ is $HOME
 *   tls_key: me-key.pem
 *   tls_ca: ca.pem
 *   insecure: false                    # plaintext, local development only
 *   output: table                      # table, wide, json, yaml or name
 *   timeout: 10s
 */
#ifndef SLUICE_CLI_CONFIG_H
#define SLUICE_CLI_CONFIG_H

#include <stddef.h>

#include "cli/cli.h"

/* The keys the file may have, for messages and the manual. */
#define CLI_CONFIG_KEYS "controller, tls_cert, tls_key, tls_ca, insecure, output, timeout"

/* The default file: $XDG_CONFIG_HOME/sluice/config.yaml, else $HOME/.config/sluice/config.yaml.
 * 0, or -ENOENT when neither variable is set. */
int cli_config__default_path(const struct cli_env *env, char *buf, size_t len);

/*
 * Reads the configuration into *cfg (zeroed first; unset values stay "" / -1 / 0).
 * path NULL means the default file, which may be absent (then cfg->path is ""); a
 * path given with --config must exist. Returns 0, or -errno after writing
 * "FILE:LINE:COL: what is wrong (what to do)" to err.
 */
int cli_config__load(const char *path, const struct cli_env *env, struct cli_config *cfg, char *err,
		     size_t errlen);

/* "table", "wide", "json", "yaml", "name" into enum cli_output; -1 when none of them. */
int cli_config__output(const char *name);

/* The name of an output format; never NULL. */
const char *cli_config__output_name(enum cli_output o);

/* "10s", "500ms", "2m" or a number of seconds, in milliseconds; -1 when not one. */
long long cli_config__duration_ms(const char *s);

#endif
