/* SPDX-License-Identifier: (GPL-2.0 OR BSD-2-Clause) */
/*
 * csum.h — Internet checksum arithmetic for rewriting headers in place.
 *
 * Incremental updates follow RFC 1624 (HC' = ~(~HC + ~m + m')): a caller collects the
 * difference of every 16-bit word it changes with sl_csum_diff*() into one 64-bit
 * accumulator, then applies it to each checksum that covers those words with
 * sl_csum_apply(). All words are taken as they lie in memory (network order); the
 * one's-complement sum does not care about byte order as long as every term is taken
 * the same way.
 *
 * sl_csum_l4_full() sums a whole L4 segment from scratch, for the one case the
 * incremental form cannot serve: UDP over IPv6 that arrived without a checksum (zero is
 * not allowed there, so the rewritten packet must carry a real one).
 */
#ifndef SLUICE_BPF_CSUM_H
#define SLUICE_BPF_CSUM_H

#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

#ifndef SL_CSUM_FULL_MAX
#define SL_CSUM_FULL_MAX 1536 /* longest segment sl_csum_l4_full() sums (24 blocks of 64) */
#endif
#define SL_CSUM_BLOCK 64

/* Folds a 64-bit one's-complement accumulator to 16 bits (not inverted). */
static __always_inline __u16 sl_csum_fold(__u64 s)
{
	s = (s & 0xffffffff) + (s >> 32);
	s = (s & 0xffffffff) + (s >> 32);
	s = (s & 0xffff) + (s >> 16);
	s = (s & 0xffff) + (s >> 16);
	return (__u16)s;
}

/* Adds the change of one 32-bit field from `from` to `to`. */
static __always_inline __u64 sl_csum_diff32(__u64 acc, __u32 from, __u32 to)
{
	return acc + (__u32)~from + to;
}

/* Adds the change of one 16-bit field. */
static __always_inline __u64 sl_csum_diff16(__u64 acc, __u16 from, __u16 to)
{
	return acc + (__u16)~from + to;
}

/* Adds the change of a 16-byte field (an IPv6 address): from in the packet, to in memory
 * aligned to 4 bytes. */
static __always_inline __u64 sl_csum_diff128(__u64 acc, const void *from, const void *to)
{
	const __u32 *f = from, *t = to;

	return acc + (__u32)~f[0] + (__u32)~f[1] + (__u32)~f[2] + (__u32)~f[3] + t[0] + t[1] + t[2] + t[3];
}

/* The checksum `sum` updated by the accumulated difference d. */
static __always_inline __u16 sl_csum_apply(__u16 sum, __u64 d)
{
	return (__u16)~sl_csum_fold((__u16)~sum + d);
}

/* Sum of the 32-bit words of a 16-byte address, for a pseudo-header. */
static __always_inline __u64 sl_csum_add128(__u64 acc, const void *p)
{
	const __u32 *w = p;

	return acc + w[0] + w[1] + w[2] + w[3];
}

/* Room to copy a segment into for sl_csum_l4_full(), per CPU (+ 4: zero padding). */
struct sl_csum_buf {
	__u8 b[SL_CSUM_FULL_MAX + 4];
};

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct sl_csum_buf);
} sl_csum_scratch SEC(".maps");

/*
 * The one's-complement sum (not folded) of the len bytes at offset off of the packet,
 * or -1 when they are not all there or len is 0 or above SL_CSUM_FULL_MAX. The bytes
 * are copied out first: summing a buffer of known size takes the verifier one pass,
 * where a loop over packet memory takes it one per possible length.
 */
static __always_inline __s64 sl_csum_l4_full(struct xdp_md *ctx, __u32 off, __u32 len)
{
	struct sl_csum_buf *buf;
	__u32 zero = 0, words;
	__s64 s = 0;

	if (len == 0 || len > SL_CSUM_FULL_MAX)
		return -1;
	buf = bpf_map_lookup_elem(&sl_csum_scratch, &zero);
	if (!buf || bpf_xdp_load_bytes(ctx, off, buf->b, len))
		return -1;
	/* An odd last byte is the high half of a word whose low half is zero. */
	buf->b[len] = 0;
	buf->b[len + 1] = 0;
	buf->b[len + 2] = 0;
	words = (len + 3) & ~3u;
#pragma unroll
	for (__u32 k = 0; k < SL_CSUM_FULL_MAX; k += 512) {
		__u32 n = words - k;

		if (words <= k || n < 4)
			break;
		if (n > 512)
			n = 512;
		s += (__u32)bpf_csum_diff(NULL, 0, (__be32 *)(buf->b + k), n, 0);
	}
	return s;
}

#endif
