/* SPDX-License-Identifier: Apache-2.0 */
/*
 * policy.h — the policy model shared by sluicectl, the controller and the agent:
 * semantic validation, canonical packing and content hash, YAML parsing with
 * file:line:column errors, and a JSON rendering in the same schema as the YAML
 * (so `sluicectl get rules -o json` can be fed back to `apply -f`).
 *
 * The in-memory form is the generated protobuf-c type Sluice__V1__Policy. Every
 * policy this module returns is heap-allocated piece by piece with malloc, so
 * policy__free() (== sluice__v1__policy__free_unpacked) releases it whether it was
 * unpacked from bytes or built by the YAML parser.
 */
#ifndef SLUICE_POLICY_H
#define SLUICE_POLICY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "sluice/v1/policy.pb-c.h"

#define POLICY_DEFAULT_CAPACITY 16384 /* rules per generation, the agent's default */
#define POLICY_MAX_SNAPLEN 256
#define POLICY_MAX_NAME 63            /* rule and route names: [A-Za-z0-9._-], 1..63 chars */
#define POLICY_HASH_HEX 65            /* sha256 in hex + NUL */

/*
 * Checks what the wire format cannot: names present, unique and well-formed; CIDRs
 * 4 or 16 bytes with a prefix in range and no host bits; ports 1..65535 with lo <= hi;
 * a protocol that has ports when ports are given; tcp_flags only with tcp; rate limits
 * with exactly one of pps/bps; sample snaplen <= 256; routes with a VIP, a port,
 * backends of the VIP's family and weights that do not sum to 0; at most capacity rules.
 * Returns 0, or -EINVAL with a message naming the object and the field, such as
 * "rule 'orders-api-limit': dst_ports: 70000 is not a port (1-65535)".
 */
int policy__validate(const Sluice__V1__Policy *p, uint32_t rule_capacity, char *err, size_t errlen);

/* sha256 (hex) of the canonical encoding of the rules and routes (the rollout hint is
 * not content; a rule without a match counts as one with an empty match, as the parser
 * writes it). Equal policies hash equal. 0 or -errno. */
int policy__hash(const Sluice__V1__Policy *p, char out[POLICY_HASH_HEX]);

/* Packs into a malloc'd buffer. 0 or -ENOMEM. */
int policy__pack(const Sluice__V1__Policy *p, uint8_t **out, size_t *len);

/* Unpacks bytes; NULL + errno (EBADMSG) when they are not a Policy. */
Sluice__V1__Policy *policy__unpack(const uint8_t *buf, size_t len);

/*
 * Whether m, or a message inside it, kept an unknown field numbered 0. protobuf-c takes
 * one behind an overlong tag (0x80 0x00) but refuses it once written back plainly: such
 * a message, stored as its encoding, could not be read back. It is the one way a decoded
 * message fails to decode again (tests/fuzz/fuzz_proto checks that on every input).
 */
bool policy__pb_field_zero(const ProtobufCMessage *m);

/* Deep copy through pack/unpack. NULL + errno. */
Sluice__V1__Policy *policy__dup(const Sluice__V1__Policy *p);

/* Frees a policy from any function here. Accepts NULL. */
void policy__free(Sluice__V1__Policy *p);

/*
 * Parses a policy file (YAML, DESIGN.md §5). path "-" reads stdin; a directory reads
 * every *.yaml / *.yml / *.json file in it (sorted by name) and merges their rules and routes.
 * On error returns -EINVAL (or -errno for I/O) and writes
 * "FILE:LINE:COL: rule 'NAME': FIELD: what is wrong" to err. Runs policy__validate
 * with rule_capacity, so a parsed policy is a valid one.
 */
int policy_yaml__parse_file(const char *path, uint32_t rule_capacity, Sluice__V1__Policy **out, char *err,
			    size_t errlen);

/* The same for text already in memory; name is used in error messages. */
int policy_yaml__parse_string(const char *name, const char *text, size_t len, uint32_t rule_capacity,
			      Sluice__V1__Policy **out, char *err, size_t errlen);

/* JSON in the policy file's schema: {"rules":[...],"routes":[...]}. New reference. */
json_t *policy_json__from_policy(const Sluice__V1__Policy *p);

/* One rule or route in that schema. New reference. */
json_t *policy_json__rule(const Sluice__V1__Rule *r);
json_t *policy_json__route(const Sluice__V1__Route *r);

/* "10.0.0.0/8", "2001:db8::/32"; a full-length prefix prints as the bare address. */
int policy__format_cidr(const uint8_t *addr, size_t addr_len, uint32_t prefix_len, char *buf, size_t len);

/* "tcp", "udp", "icmp", "icmpv6", "any", or the number ("invalid" above 255). Never NULL. */
const char *policy__proto_name(uint32_t proto, char buf[8]);

/* "pass", "drop", "count", "rate_limit". Never NULL. */
const char *policy__action_name(Sluice__V1__Action a);

/* ---- additions: defaults, located validation, text forms of fields ------------------ */

/*
 * Defaults the YAML parser fills in, so equal intent gives equal content (and hash):
 * a rule without priority gets POLICY_DEFAULT_PRIORITY. Lower priority wins; rules of
 * equal priority keep the order they have in the file (for a directory: files sorted by
 * name, then position in the file), so the datapath must sort stably by priority.
 */
#define POLICY_DEFAULT_PRIORITY 1000
#define POLICY_DEFAULT_WEIGHT 1           /* a backend without weight */
#define POLICY_DEFAULT_SNAPLEN POLICY_MAX_SNAPLEN /* a sample without snaplen */
#define POLICY_ADDR_STR 64                /* room for any address or CIDR in text */

/*
 * Tells policy__validate_at() where a node of the policy was written. path names the
 * node in a fixed notation: "rules[3]", "rules[3].match.dst_ports[1]",
 * "routes[0].backends[2].weight", "rollout.canary" (indices from 0, in merged order).
 * locate writes "FILE:LINE:COL" to buf and returns 0, or returns -ENOENT when it does
 * not know that path (the caller then tries the enclosing node).
 */
struct policy_locator {
	int (*locate)(void *ctx, const char *path, char *buf, size_t len);
	void *ctx;
};

/*
 * policy__validate() with positions: when loc is not NULL every message starts with
 * "FILE:LINE:COL: " of the offending node, and a duplicate name also says where the
 * first one was. rule_capacity 0 means POLICY_DEFAULT_CAPACITY. 0 or -EINVAL.
 */
int policy__validate_at(const Sluice__V1__Policy *p, uint32_t rule_capacity, const struct policy_locator *loc,
			char *err, size_t errlen);

/* A new empty policy (no rules, routes or rollout) for policy__free(). NULL + errno. */
Sluice__V1__Policy *policy__new(void);

/* "10.0.0.0/8", "2001:db8::/32" or a bare address (full-length prefix). Host bits are
 * not checked here (policy__validate does, with a better message). 0 or -EINVAL. */
int policy__parse_cidr(const char *s, uint8_t addr[16], size_t *addr_len, uint32_t *prefix_len);

/* A bare IPv4 or IPv6 address. 0 or -EINVAL. */
int policy__parse_addr(const char *s, uint8_t addr[16], size_t *addr_len);

/* addr with the host bits beyond prefix_len cleared (for "did you mean"). */
void policy__mask_addr(uint8_t *addr, size_t addr_len, uint32_t prefix_len);

/* A bare address in text. 0, -EINVAL (not 4 or 16 bytes) or -ENOSPC. */
int policy__format_addr(const uint8_t *addr, size_t addr_len, char *buf, size_t len);

/* "tcp", "udp", "icmp", "icmpv6", "any" (any case) or a number 0-255 (larger numbers
 * are returned as -ERANGE). 0, -EINVAL or -ERANGE. */
int policy__parse_proto(const char *s, uint32_t *out);

/* "80" or "8000-8100" into lo and hi, not range-checked beyond fitting 32 bits.
 * 0, -EINVAL (not that form) or -ERANGE (a number above 4294967295). */
int policy__parse_port_range(const char *s, uint32_t *lo, uint32_t *hi);

/* "80" or "8000-8100". 0 or -ENOSPC. */
int policy__format_port_range(uint32_t lo, uint32_t hi, char *buf, size_t len);

/* "syn,!ack": names fin syn rst psh ack urg ece cwr (any case), "!" for must-be-clear,
 * separated by commas. ORs into *set and *unset. On -EINVAL the offending word is
 * copied to bad (if not NULL). */
int policy__parse_tcp_flags(const char *s, uint32_t *set, uint32_t *unset, char *bad, size_t badlen);

/* The inverse, in bit order ("syn,!ack"); "" when both are 0. 0 or -ENOSPC. */
int policy__format_tcp_flags(uint32_t set, uint32_t unset, char *buf, size_t len);

/* "10%" or "10" into 10 (not range-checked). 0 or -EINVAL. */
int policy__parse_percent(const char *s, uint32_t *out);

/* "30s", "5m", "2h" or a number of seconds. 0 or -EINVAL. */
int policy__parse_interval(const char *s, uint32_t *seconds);

/* ---- monitoring settings (policy_monitor.c; DESIGN.md §7) ------------------------------ */

#define POLICY_MAX_DEPRECATED 16 /* deprecated_paths per rule or route */
#define POLICY_MAX_PATH 95       /* characters per deprecated path prefix */

/* "info", "low", "medium", "high", "critical" ("unset" for 0); never NULL. */
const char *policy__severity_name(int severity);

/* The detectors section in the file's schema; NULL when d is NULL. New reference. */
json_t *policy_json__detectors(const Sluice__V1__Detectors *d);

/* Adds "tls_only" and "deprecated_paths" to a rule's or route's object when set. 0 or -ENOMEM. */
int policy_json__compliance(json_t *o, bool tls_only, char *const *deprecated, size_t n);

/* For policy__validate: 0, or -EINVAL with the field ("detectors.port_scan.mitigate") and
 * what is wrong with it. */
int policy__check_detectors(const Sluice__V1__Detectors *d, char *field, size_t flen, char *why, size_t wlen);

/* The same for n deprecated path prefixes; *bad_at gets the offending index. */
int policy__check_paths(char *const *p, size_t n, size_t *bad_at, char *why, size_t wlen);

/* The rollout hint in the file's schema ({"selector":{..},"canary":"10%",..}); NULL when r is NULL. New reference. */
json_t *policy_json__rollout(const Sluice__V1__RolloutSpec *r);

#endif
