/* SPDX-License-Identifier: Apache-2.0 */
/*
 * render.h — what sluicectl prints for the control API's objects: the stable JSON
 * of `-o json` and the tables and descriptions for people. Nothing here talks to the
 * network; `now` is passed in so output is testable.
 *
 * JSON (stable; keys snake_case; times RFC 3339 UTC or null when unknown):
 *   agent:    {"node_id", "labels": {K: V}, "state": "SYNCED"|"PENDING"|"NACKED"|"OFFLINE"|"UNKNOWN",
 *              "state_since", "desired_revision", "applied_revision", "applied_hash",
 *              "last_error", "last_seen", "agent_version", "kernel", "interfaces": [NAME],
 *              "rules": [{"name", "packets", "bytes", "samples", "samples_lost", "rate_limited"}],
 *                                                              (from the newest status; [] without)
 *              "status": null | {"reported", "applied_revision", "applied_hash", "rules_used",
 *                         "rule_capacity", "last_error",
 *                         "interfaces": [{"name", "xdp_mode", "attached", "link_id", "prog_id"}],
 *                         "drop_reasons": {REASON: packets}}}
 *   revision: {"revision", "hash", "author", "message", "created", "rules", "routes"}
 *   `get agents` prints an array of agents, `get revisions` an array of revisions,
 *   `describe revision` a revision with "policy" added (policy_json__from_policy),
 *   `get rules` {"rules": [...]} and `get routes` {"routes": [...]} in the policy-file schema.
 */
#ifndef SLUICE_CLI_RENDER_H
#define SLUICE_CLI_RENDER_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include <jansson.h>

#include "cli/cli.h"
#include "sluice/v1/control.pb-c.h"

/* "SYNCED", "PENDING", ...; never NULL. */
const char *cli_render__state_name(Sluice__V1__AgentState s);

/* New references; NULL on allocation failure. */
json_t *cli_render__agent_json(const Sluice__V1__AgentInfo *a);
json_t *cli_render__revision_json(const Sluice__V1__RevisionInfo *r);

/* Prints j (2-space indent, keys in insertion order) and a newline, and releases j.
 * 0, or -ENOMEM when j is NULL. */
int cli_render__json(json_t *j, FILE *out);

/* The same document as YAML (libyaml's emitter; render_yaml.c), and releases j. 0 or -errno. */
int cli_render__yaml(json_t *j, FILE *out);

/* Is o->output json or yaml? */
bool cli_render__structured(const struct cli_opts *o);

/* j as o->output asks: YAML for -o yaml, else JSON. Releases j. 0 or -errno. */
int cli_render__data(const struct cli_opts *o, json_t *j, FILE *out);

/* NAME STATE REVISION APPLIED RULES LAST-SEEN AGE LABELS; wide adds VERSION KERNEL
 * INTERFACES LAST-ERROR. */
void cli_render__agents_table(Sluice__V1__AgentInfo *const *a, size_t n, int64_t now, bool wide, FILE *out);

/* Every AgentInfo field, then the newest status: interfaces, per-rule counters, drops. */
void cli_render__agent_describe(const Sluice__V1__AgentInfo *a, int64_t now, FILE *out);

/* REVISION HASH AUTHOR AGE RULES ROUTES MESSAGE; wide: the whole hash and CREATED. */
void cli_render__revisions_table(Sluice__V1__RevisionInfo *const *r, size_t n, int64_t now, bool wide, FILE *out);

/* The revision's fields, then its rules, routes and rollout hint. */
void cli_render__revision_describe(const Sluice__V1__RevisionInfo *info, const Sluice__V1__Policy *p,
				   int64_t now, FILE *out);

/* Rules in evaluation order (priority, then file order):
 * NAME PRIORITY PROTO SRC DST SRC-PORTS DST-PORTS TCP-FLAGS ACTION SAMPLE */
void cli_render__rules_table(const Sluice__V1__Policy *p, FILE *out, const char *indent);

/* An audit entry: {"id", "time", "who", "action", "object", "detail", "before_hash",
 * "after_hash"}. New reference, NULL on ENOMEM. */
json_t *cli_render__audit_json(const Sluice__V1__AuditEntry *e);

/* AGE WHO ACTION OBJECT BEFORE AFTER MESSAGE; wide: whole hashes and TIME (cmd_audit.c). */
void cli_render__audit_table(Sluice__V1__AuditEntry *const *e, size_t n, int64_t now, bool wide, FILE *out);

/* What `get rules|routes|policy -o json` prints, in the policy file's schema (what is
 * CLI_CMD_GET_RULES, _ROUTES or _POLICY; p NULL: empty). New reference, NULL on ENOMEM. */
json_t *cli_render__policy_doc(const Sluice__V1__Policy *p, enum cli_cmd what);

/* `describe revision -o json`: the revision object with "policy" added. New reference. */
json_t *cli_render__revision_doc(const Sluice__V1__RevisionInfo *info, const Sluice__V1__Policy *p);

/* NAME FRONTEND BACKENDS */
void cli_render__routes_table(const Sluice__V1__Policy *p, FILE *out, const char *indent);

#endif
