// SPDX-License-Identifier: Apache-2.0
/*
 * revcache.c — see revcache.h. The message is built around the stored policy bytes
 * (which already are the packed Policy) instead of unpacking and packing again, and the
 * nonce is a 10-byte varint (a form every protobuf decoder accepts) so a send only
 * rewrites those bytes.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sluice/v1/agent.pb-c.h"

#include "common/log.h"
#include "common/policy.h"
#include "revcache.h"

#define NONCE_BYTES 10 /* a uint64 varint in its longest form */

struct revcache {
	struct store *st;
	struct revcache_entry slot[REVCACHE_SLOTS];
	uint64_t clock;
	char empty_hash[STORE_HASH_HEX];
};

static size_t varint_len(uint64_t v)
{
	size_t n = 1;

	for (; v >= 0x80; v >>= 7)
		n++;
	return n;
}

static size_t put_varint(uint8_t *p, uint64_t v)
{
	size_t n = 0;

	for (; v >= 0x80; v >>= 7)
		p[n++] = (uint8_t)(v | 0x80);
	p[n++] = (uint8_t)v;
	return n;
}

/*
 * Encodes ControllerMessage{update: PolicyUpdate{revision, hash, nonce, policy}} into e
 * from the revision number, hash and packed policy. 0 or -ENOMEM.
 */
static int encode(struct revcache_entry *e, uint64_t wire_rev, const char *hash, const uint8_t *policy,
		  size_t policy_len)
{
	Sluice__V1__PolicyUpdate u = SLUICE__V1__POLICY_UPDATE__INIT;
	size_t head, body, total;
	uint8_t *buf, *p;

	u.revision = wire_rev;
	u.hash = (char *)hash;
	head = sluice__v1__policy_update__get_packed_size(&u); /* fields 1 and 2 */
	body = head + 1 + NONCE_BYTES + 1 + varint_len(policy_len) + policy_len;
	total = 1 + varint_len(body) + body;
	buf = malloc(total);
	if (!buf)
		return -ENOMEM;
	p = buf;
	*p++ = (1 << 3) | 2; /* ControllerMessage.update, length-delimited */
	p += put_varint(p, body);
	p += sluice__v1__policy_update__pack(&u, p);
	*p++ = 3 << 3; /* PolicyUpdate.nonce, varint */
	e->nonce_at = (size_t)(p - buf);
	memset(p, 0x80, NONCE_BYTES - 1);
	p[NONCE_BYTES - 1] = 0;
	p += NONCE_BYTES;
	*p++ = (4 << 3) | 2; /* PolicyUpdate.policy, length-delimited: present even when empty */
	p += put_varint(p, policy_len);
	if (policy_len)
		memcpy(p, policy, policy_len);
	free(e->msg);
	e->msg = buf;
	e->len = total;
	e->wire_rev = wire_rev;
	snprintf(e->hash, sizeof(e->hash), "%s", hash);
	return 0;
}

struct revcache *revcache__new(struct store *st)
{
	Sluice__V1__Policy empty = SLUICE__V1__POLICY__INIT;
	struct revcache *c = calloc(1, sizeof(*c));
	int err;

	if (!c)
		return NULL;
	c->st = st;
	err = policy__hash(&empty, c->empty_hash);
	if (err) {
		free(c);
		errno = -err;
		return NULL;
	}
	return c;
}

void revcache__free(struct revcache *c)
{
	if (!c)
		return;
	for (int i = 0; i < REVCACHE_SLOTS; i++)
		free(c->slot[i].msg);
	free(c);
}

const char *revcache__empty_hash(const struct revcache *c)
{
	return c->empty_hash;
}

struct revcache_entry *revcache__get(struct revcache *c, uint64_t rev)
{
	struct revcache_entry *e = NULL;
	struct store_revision r;
	int err;

	if (rev == 0) {
		errno = EINVAL;
		return NULL;
	}
	for (int i = 0; i < REVCACHE_SLOTS; i++) {
		if (c->slot[i].msg && c->slot[i].rev == rev) {
			c->slot[i].used = ++c->clock;
			return &c->slot[i];
		}
		if (!e || c->slot[i].used < e->used)
			e = &c->slot[i];
	}
	if (rev == STORE_REVISION_NONE) {
		err = encode(e, 0, c->empty_hash, NULL, 0);
	} else {
		err = store__revision_get(c->st, rev, true, &r);
		if (!err) {
			err = encode(e, r.revision, r.hash, r.policy, r.policy_len);
			store_revision__clear(&r);
		}
	}
	if (err) {
		errno = -err;
		return NULL;
	}
	e->rev = rev;
	e->used = ++c->clock;
	return e;
}

void revcache__set_nonce(struct revcache_entry *e, uint64_t nonce)
{
	uint8_t *p = e->msg + e->nonce_at;

	for (int i = 0; i < NONCE_BYTES - 1; i++, nonce >>= 7)
		p[i] = (uint8_t)(nonce | 0x80);
	p[NONCE_BYTES - 1] = (uint8_t)nonce;
}
