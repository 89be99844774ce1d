// SPDX-License-Identifier: Apache-2.0
/*
 * revcache.c — see revcache.h. The message is built around the stored policy bytes
 * (which already are the packed Policy) instead of unpacking and packing again. The nonce
 * goes last, as a 10-byte varint (a form every protobuf decoder accepts, and protobuf
 * takes fields in any order): everything before it is one shared body that every send
 * references (rpc_stream__send_shared), and a send adds only its 10 bytes.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sluice/v1/agent.pb-c.h"

#include "common/log.h"
#include "common/policy.h"
#include "common/policy_delta.h"
#include "revcache.h"

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
 * Encodes ControllerMessage{update: PolicyUpdate{revision, hash, policy, nonce}} into e,
 * up to the nonce's value, from the revision number, hash and packed policy (field 4),
 * or with a packed delta in field 5 instead. 0 or -ENOMEM.
 */
static int encode(struct revcache_entry *e, uint64_t wire_rev, const char *hash, const uint8_t *policy,
		  size_t policy_len, unsigned field)
{
	Sluice__V1__PolicyUpdate u = SLUICE__V1__POLICY_UPDATE__INIT;
	size_t head, body, total;
	struct rpc_msg *m;
	uint8_t *buf, *p;

	u.revision = wire_rev;
	u.hash = (char *)hash;
	head = sluice__v1__policy_update__get_packed_size(&u); /* fields 1 and 2 */
	body = head + 1 + varint_len(policy_len) + policy_len + 1 + REVCACHE_NONCE_BYTES;
	total = 1 + varint_len(body) + body;
	buf = malloc(total - REVCACHE_NONCE_BYTES);
	if (!buf)
		return -ENOMEM;
	p = buf;
	*p++ = (1 << 3) | 2; /* ControllerMessage.update, length-delimited */
	p += put_varint(p, body);
	p += sluice__v1__policy_update__pack(&u, p);
	*p++ = (uint8_t)((field << 3) | 2); /* policy or delta, length-delimited: present even when empty */
	p += put_varint(p, policy_len);
	if (policy_len)
		memcpy(p, policy, policy_len);
	p += policy_len;
	*p++ = 3 << 3; /* PolicyUpdate.nonce, varint: its value is each send's tail */
	m = rpc_msg__new(buf, (size_t)(p - buf));
	free(buf);
	if (!m)
		return -ENOMEM;
	rpc_msg__free(e->head);
	e->head = m;
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
		rpc_msg__free(c->slot[i].head);
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
		if (c->slot[i].head && c->slot[i].rev == rev && !c->slot[i].base) {
			c->slot[i].used = ++c->clock;
			return &c->slot[i];
		}
		if (!e || c->slot[i].used < e->used)
			e = &c->slot[i];
	}
	if (rev == STORE_REVISION_NONE) {
		err = encode(e, 0, c->empty_hash, NULL, 0, 4);
	} else {
		err = store__revision_get(c->st, rev, true, &r);
		if (!err) {
			err = encode(e, r.revision, r.hash, r.policy, r.policy_len, 4);
			store_revision__clear(&r);
		}
	}
	if (err) {
		errno = -err;
		return NULL;
	}
	e->rev = rev;
	e->base = 0;
	e->redirect = false;
	e->used = ++c->clock;
	return e;
}

/* The least recently used slot, emptied. */
static struct revcache_entry *victim(struct revcache *c)
{
	struct revcache_entry *e = &c->slot[0];

	for (int i = 1; i < REVCACHE_SLOTS; i++)
		if (c->slot[i].used < e->used)
			e = &c->slot[i];
	rpc_msg__free(e->head);
	memset(e, 0, sizeof(*e));
	return e;
}

/* Makes the (rev, base) entry: a delta message, or a redirect to the whole policy.
 * 0, or -errno when rev itself cannot be read. */
static int make_delta(struct revcache *c, struct revcache_entry *e, uint64_t rev, uint64_t base_rev,
		      const char *base_hash)
{
	struct store_revision t = { 0 }, b = { 0 };
	Sluice__V1__Policy *tp = NULL, *bp = NULL;
	uint8_t *delta = NULL;
	size_t len = 0;
	int err;

	e->rev = rev;
	e->base = base_rev;
	snprintf(e->base_hash, sizeof(e->base_hash), "%s", base_hash);
	e->redirect = true;
	err = store__revision_get(c->st, rev, true, &t);
	if (err)
		goto cleanup;
	if (store__revision_get(c->st, base_rev, true, &b) != 0 || strcmp(b.hash, base_hash) != 0)
		goto cleanup; /* a base this store does not know: the whole policy */
	tp = policy__unpack(t.policy, t.policy_len);
	bp = policy__unpack(b.policy, b.policy_len);
	if (!tp || !bp || policy_delta__pack(bp, base_rev, base_hash, tp, &delta, &len) != 0)
		goto cleanup;
	if (len * 2 >= t.policy_len)
		goto cleanup; /* not worth it */
	err = encode(e, t.revision, t.hash, delta, len, 5);
	if (!err) {
		e->redirect = false;
		pr_debug("revision %llu from %llu: a delta of %zu bytes instead of %zu", (unsigned long long)rev,
			 (unsigned long long)base_rev, len, t.policy_len);
	}
cleanup:
	free(delta);
	policy__free(tp);
	policy__free(bp);
	store_revision__clear(&t);
	store_revision__clear(&b);
	return err;
}

struct revcache_entry *revcache__get_for(struct revcache *c, uint64_t rev, uint64_t base_rev, const char *base_hash)
{
	struct revcache_entry *e = NULL;
	int err;

	if (!base_rev || base_rev == rev || rev == STORE_REVISION_NONE || !base_hash || !base_hash[0])
		return revcache__get(c, rev);
	for (int i = 0; i < REVCACHE_SLOTS && !e; i++)
		if (c->slot[i].base == base_rev && c->slot[i].rev == rev && strcmp(c->slot[i].base_hash, base_hash) == 0)
			e = &c->slot[i];
	if (!e) {
		e = victim(c);
		err = make_delta(c, e, rev, base_rev, base_hash);
		if (err) {
			rpc_msg__free(e->head);
			memset(e, 0, sizeof(*e)); /* not cached: the revision itself could not be read */
			errno = -err;
			return NULL;
		}
	}
	e->used = ++c->clock;
	return e->redirect ? revcache__get(c, rev) : e;
}

void revcache__nonce(uint64_t nonce, uint8_t p[REVCACHE_NONCE_BYTES])
{
	for (int i = 0; i < REVCACHE_NONCE_BYTES - 1; i++, nonce >>= 7)
		p[i] = (uint8_t)(nonce | 0x80);
	p[REVCACHE_NONCE_BYTES - 1] = (uint8_t)nonce;
}
