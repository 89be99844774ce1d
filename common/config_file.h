/* SPDX-License-Identifier: Apache-2.0 */
/*
 * config_file.h — the daemons' configuration files (/etc/sluice/controller.yaml,
 * /etc/sluice/agent.yaml): YAML whose top level maps a daemon's long option names,
 * with '_' for '-', to values, so every flag has a key and the two cannot drift apart:
 *
 *   node_id: gw-1          # --node-id gw-1
 *   iface: [eth0, eth1]    # a list: --iface eth0 --iface eth1
 *   label: {env: prod}     # a map: --label env=prod
 *   insecure: false        # a flag: true gives it, false leaves it out
 *
 * This file only reads: it turns the document into (key, value, position) entries in
 * file order; the daemon maps keys to its option table and applies them as it applies
 * flags (flags given on the command line win).
 */
#ifndef SLUICE_CONFIG_FILE_H
#define SLUICE_CONFIG_FILE_H

#include <stdbool.h>
#include <stddef.h>

enum config_shape {
	CONFIG_SCALAR = 0, /* key: value */
	CONFIG_LIST,       /* one item of key: [a, b] */
	CONFIG_MAP,        /* one pair of key: {k: v}, as the value "k=v" */
};

struct config_entry {
	const char *key;
	const char *value; /* "" for an empty value */
	enum config_shape shape;
	int line, column;  /* 1-based, of the value */
};

struct config_file {
	char *path;
	struct config_entry *entries;
	size_t n;
	char **strings; /* everything the entries point to */
	size_t n_strings;
};

/*
 * Reads path. With required false a missing file is no error: *out is NULL and 0 is
 * returned. Otherwise 0 with *out set, or -errno with one line in err: "FILE: cannot
 * read ...", or "FILE:LINE:COL: what is wrong" (not YAML, top level not a map, a key
 * given twice, a value nested deeper than a list or a map of plain values).
 */
int config_file__load(const char *path, bool required, struct config_file **out, char *err, size_t errlen);

/* Accepts NULL. */
void config_file__free(struct config_file *cf);

/* The value as a path: absolute as it is, relative ones beside the file. The string is
 * owned by cf. NULL + ENOMEM. */
const char *config_file__path(struct config_file *cf, const char *value);

/* "true"/"yes"/"on" -> 1, "false"/"no"/"off" -> 0 (any case), else -EINVAL. */
int config_file__bool(const char *value);

/* The key for a long option: "node-id" -> "node_id" (into buf). */
void config_file__key(const char *option, char *buf, size_t len);

#endif
