/* SPDX-License-Identifier: Apache-2.0 */
/*
 * compile.h — turns a policy into the tables of one datapath generation, in memory,
 * with no BPF calls: rules in priority order, address interval tables, port and protocol class
 * tables, and the deduplicated class bitmaps (see bpf/sluice_abi.h). datapath.c writes
 * the result into fresh maps; tests compare it with a plain reference classifier.
 */
#ifndef SLUICE_AGENT_COMPILE_H
#define SLUICE_AGENT_COMPILE_H

#include <stddef.h>
#include <stdint.h>

#include "sluice_abi.h"
#include "sluice/v1/policy.pb-c.h"

struct compile_gen {
	uint32_t n_rules;
	uint32_t n_words;              /* ceil(n_rules / 64) */
	struct sl_rule *rules;         /* [n_rules] in priority order; .counter is left 0 */
	uint32_t *order;               /* [n_rules] index of each rule in the policy */
	struct sl_ivl4 *src4, *dst4;   /* address interval tables */
	struct sl_ivl6 *src6, *dst6;
	struct sl_port_classes *ports; /* [SL_PORTS] */
	uint32_t *l4;                  /* [SL_L4_KEYS] */
	uint64_t *bitmaps;             /* [n_classes][n_words]: only the words in use */
	uint64_t *summaries;           /* [n_classes][SL_SUMMARY_WORDS] (see struct sl_bitmap) */
	uint32_t n_classes;
};

/*
 * Compiles p for an agent that holds at most capacity rules (<= SL_MAX_RULES).
 * Returns 0 and a new generation in *out, or -errno with the reason in err:
 * -E2BIG when the policy exceeds a capacity, -EOPNOTSUPP for a feature this datapath
 * does not have, -EINVAL for a rule the validator should have refused.
 */
int compile__policy(const Sluice__V1__Policy *p, uint32_t capacity, struct compile_gen **out, char *err,
		    size_t errlen);

/* Accepts NULL. */
void compile__free(struct compile_gen *g);

/* The bitmap of class cls. */
static inline const uint64_t *compile__bitmap(const struct compile_gen *g, uint32_t cls)
{
	return g->bitmaps + (size_t)cls * g->n_words;
}

/*
 * Writes class cls in the datapath's layout: the summary, then the first n_words words.
 * Words past n_words are left as they were (a reused map holds an older generation's
 * there): the summary has no bit for them, and the datapath reads only the words its
 * summaries name (bpf/lib/classify.h), so they are never read.
 */
void compile__export_bitmap(const struct compile_gen *g, uint32_t cls, struct sl_bitmap *out);

#endif
