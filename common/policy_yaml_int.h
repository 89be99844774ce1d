/* SPDX-License-Identifier: Apache-2.0 */
/*
 * policy_yaml_int.h — what the two halves of the YAML parser share, and nothing
 * else includes: the parse context, the table of node positions (so validation
 * errors found after parsing still point at file:line:col), error helpers and a
 * generic walker over a YAML map with a table of allowed keys.
 * policy_yaml.c holds the machinery (files, directories, documents, positions);
 * policy_yaml_schema.c holds the schema (which keys exist and what they become).
 */
#ifndef SLUICE_POLICY_YAML_INT_H
#define SLUICE_POLICY_YAML_INT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <yaml.h>

#include "common/policy.h"

#define YPATH_LEN 64   /* "routes[12345].backends[123].weight" and the like */
#define YLABEL_LEN 96  /* "rule 'block-telnet'" */

/* Where one node of the policy was written. file points into yctx.files. */
struct ypos {
	char path[YPATH_LEN];
	const char *file;
	unsigned line, col; /* 1-based */
};

struct yctx {
	const char *file;       /* the file being parsed, as messages name it */
	yaml_document_t *doc;   /* the document being parsed */
	Sluice__V1__Policy *p;  /* the policy being filled; documents and files append to it */
	size_t rules_cap, routes_cap;
	struct ypos *pos;
	size_t npos, cappos;
	char **files;           /* owned copies of every file name positions refer to */
	size_t nfiles;
	char label[YLABEL_LEN]; /* the object being parsed, "" at top level */
	char rollout_at[300];   /* "FILE:LINE:COL" of the first rollout section */
	uint64_t visits;        /* nodes looked at, to stop alias bombs */
	uint32_t *no_port;      /* backends of the current route that gave no port */
	size_t n_no_port, cap_no_port;
	char *err;
	size_t errlen;
};

/* A key a map may hold; fn parses its (non-null) value. path is the value's path. */
struct ykey {
	const char *name;
	int (*fn)(struct yctx *y, yaml_node_t *val, void *obj, const char *path);
};

/* Writes "FILE:LINE:COL: LABEL: FIELD: message" for node n; returns -EINVAL. */
int policy_yaml__err(struct yctx *y, const yaml_node_t *n, const char *field, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

/* Records where path was written. 0 or -ENOMEM. */
int policy_yaml__record(struct yctx *y, const char *path, const yaml_node_t *n);

/* Counts one more node; -EINVAL (with a message) once the input is implausibly large. */
int policy_yaml__visit(struct yctx *y, const yaml_node_t *n);

/* A plain empty, "~" or "null" scalar (or no node at all). */
bool policy_yaml__is_null(const yaml_node_t *n);

/* "a map", "a list" or "text". */
const char *policy_yaml__kind(const yaml_node_t *n);

/* The node a sequence item or map value id refers to. */
yaml_node_t *policy_yaml__node(struct yctx *y, int id);

/* The value of key in map n, or NULL (also when n is not a map). */
yaml_node_t *policy_yaml__get(struct yctx *y, yaml_node_t *n, const char *key);

/* The text of a scalar; an error naming field when n is not one. */
int policy_yaml__text(struct yctx *y, yaml_node_t *n, const char *field, const char **out);

/* A decimal number up to max; allowed describes the range for the message. */
int policy_yaml__u64(struct yctx *y, yaml_node_t *n, const char *field, uint64_t max, const char *allowed,
		     uint64_t *out);
int policy_yaml__u32(struct yctx *y, yaml_node_t *n, const char *field, const char *allowed, uint32_t *out);

/* The field a path names in messages: "dst_ports" for "rules[2].match.dst_ports",
 * "frontend.vip" for "routes[0].frontend.vip", "canary" for "rollout.canary". */
const char *policy_yaml__field(const char *path);

/* Walks map n: refuses anything but a map, duplicate keys and keys not in keys[];
 * records each value's position as "PATH.KEY" and calls its fn unless it is null.
 * *seen (if not NULL) gets bit i set for every keys[i] present. field names the map
 * in messages ("" for a rule itself). */
int policy_yaml__walk(struct yctx *y, yaml_node_t *n, const char *field, const char *path, const struct ykey *keys,
		   size_t nkeys, void *obj, uint32_t *seen);

/* Grows an array of pointers held in (*arr, *n) with capacity *cap by one slot. */
int policy_yaml__grow(void ***arr, size_t n, size_t *cap);

/* Monitoring keys (policy_monitor.c): tls_only and deprecated_paths of a rule (obj: the
 * Sluice__V1__Rule) or a route (obj: the Sluice__V1__Route), and the detectors section. */
int policy_yaml__rule_tls_only(struct yctx *y, yaml_node_t *v, void *obj, const char *path);
int policy_yaml__rule_deprecated(struct yctx *y, yaml_node_t *v, void *obj, const char *path);
int policy_yaml__route_tls_only(struct yctx *y, yaml_node_t *v, void *obj, const char *path);
int policy_yaml__route_deprecated(struct yctx *y, yaml_node_t *v, void *obj, const char *path);
int policy_yaml__detectors(struct yctx *y, yaml_node_t *v, void *obj, const char *path);

/* Parses the root of one document into y->p (policy_yaml_schema.c). */
int policy_yaml__document(struct yctx *y, yaml_node_t *root);

#endif
