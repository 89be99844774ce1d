// SPDX-License-Identifier: Apache-2.0
/*
 * state.c — see state.h. File layout, integers little-endian:
 *
 *   0  magic "SLUICEST"     8 bytes
 *   8  format version       u32 (1)
 *  12  hash length H        u32 (< STATE_HASH_MAX)
 *  16  revision             u64
 *  24  policy length P      u64
 *  32  hash                 H bytes, no NUL
 *      policy               P bytes (packed Sluice__V1__Policy)
 *      sha256               32 bytes over everything before it
 *
 * The trailing digest catches truncation and bit rot alike; the exact-size check
 * catches garbage appended after a valid file.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/crypto.h>
#include <openssl/sha.h>

#include "common/log.h"
#include "common/policy.h"
#include "state.h"

#define STATE_MAGIC "SLUICEST"
#define STATE_VERSION 1u
#define HEADER_LEN 32u

static void put_u32(uint8_t *p, uint32_t v)
{
	for (int i = 0; i < 4; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

static void put_u64(uint8_t *p, uint64_t v)
{
	for (int i = 0; i < 8; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

static uint32_t get_u32(const uint8_t *p)
{
	uint32_t v = 0;

	for (int i = 3; i >= 0; i--)
		v = (v << 8) | p[i];
	return v;
}

static uint64_t get_u64(const uint8_t *p)
{
	uint64_t v = 0;

	for (int i = 7; i >= 0; i--)
		v = (v << 8) | p[i];
	return v;
}

static int write_all(int fd, const uint8_t *buf, size_t len)
{
	while (len > 0) {
		ssize_t n = write(fd, buf, len);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		buf += n;
		len -= (size_t)n;
	}
	return 0;
}

static int fsync_dir(const char *dir)
{
	int fd, err = 0;

	fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	if (fsync(fd) < 0)
		err = -errno;
	close(fd);
	return err;
}

int state__save(const char *dir, uint64_t revision, const char *hash, const uint8_t *policy,
		size_t policy_len)
{
	char path[4096], tmp[4096];
	uint8_t *buf = NULL;
	size_t hash_len, body_len;
	int fd, err = 0;

	if (!dir || !hash || (!policy && policy_len))
		return -EINVAL;
	hash_len = strlen(hash);
	if (hash_len >= STATE_HASH_MAX || policy_len > STATE_MAX_POLICY)
		return -EINVAL;
	if ((size_t)snprintf(path, sizeof(path), "%s/%s", dir, STATE_FILE) >= sizeof(path) ||
	    (size_t)snprintf(tmp, sizeof(tmp), "%s/.%s.tmp", dir, STATE_FILE) >= sizeof(tmp))
		return -ENAMETOOLONG;

	body_len = HEADER_LEN + hash_len + policy_len;
	buf = malloc(body_len + SHA256_DIGEST_LENGTH);
	if (!buf)
		return -ENOMEM;
	memcpy(buf, STATE_MAGIC, 8);
	put_u32(buf + 8, STATE_VERSION);
	put_u32(buf + 12, (uint32_t)hash_len);
	put_u64(buf + 16, revision);
	put_u64(buf + 24, policy_len);
	memcpy(buf + HEADER_LEN, hash, hash_len);
	if (policy_len)
		memcpy(buf + HEADER_LEN + hash_len, policy, policy_len);
	SHA256(buf, body_len, buf + body_len);

	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd < 0) {
		err = -errno;
		goto cleanup;
	}
	err = write_all(fd, buf, body_len + SHA256_DIGEST_LENGTH);
	if (!err && fsync(fd) < 0)
		err = -errno;
	if (close(fd) < 0 && !err)
		err = -errno;
	if (err)
		goto cleanup;
	if (rename(tmp, path) < 0) {
		err = -errno;
		goto cleanup;
	}
	/* The rename is durable only once the directory itself is on disk. */
	err = fsync_dir(dir);

cleanup:
	if (err)
		unlink(tmp);
	free(buf);
	return err;
}

static int bad(char *err, size_t errlen, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

static int bad(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;

	if (err && errlen) {
		va_start(ap, fmt);
		vsnprintf(err, errlen, fmt, ap);
		va_end(ap);
	}
	return -EBADMSG;
}

int state__load(const char *dir, struct agent_state *out, char *err, size_t errlen)
{
	uint8_t digest[SHA256_DIGEST_LENGTH];
	uint8_t *buf = NULL;
	char path[4096];
	uint32_t hash_len;
	uint64_t policy_len;
	struct stat stbuf;
	size_t size, got = 0;
	int fd = -1, ret = 0;

	if (!dir || !out)
		return -EINVAL;
	memset(out, 0, sizeof(*out));
	if (err && errlen)
		err[0] = '\0';
	if ((size_t)snprintf(path, sizeof(path), "%s/%s", dir, STATE_FILE) >= sizeof(path))
		return -ENAMETOOLONG;

	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	if (fstat(fd, &stbuf) < 0) {
		ret = -errno;
		goto cleanup;
	}
	if (!S_ISREG(stbuf.st_mode)) {
		ret = bad(err, errlen, "%s is not a regular file", path);
		goto cleanup;
	}
	if ((uint64_t)stbuf.st_size < HEADER_LEN + SHA256_DIGEST_LENGTH ||
	    (uint64_t)stbuf.st_size > (uint64_t)STATE_MAX_POLICY + HEADER_LEN + STATE_HASH_MAX + SHA256_DIGEST_LENGTH) {
		ret = bad(err, errlen, "%s: size %lld is impossible for a state file", path, (long long)stbuf.st_size);
		goto cleanup;
	}
	size = (size_t)stbuf.st_size;
	buf = malloc(size);
	if (!buf) {
		ret = -ENOMEM;
		goto cleanup;
	}
	while (got < size) {
		ssize_t n = read(fd, buf + got, size - got);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			ret = -errno;
			goto cleanup;
		}
		if (n == 0)
			break;
		got += (size_t)n;
	}
	if (got != size) {
		ret = bad(err, errlen, "%s: file shrank while being read", path);
		goto cleanup;
	}

	if (memcmp(buf, STATE_MAGIC, 8) != 0) {
		ret = bad(err, errlen, "%s: not a sluice state file (bad magic)", path);
		goto cleanup;
	}
	if (get_u32(buf + 8) != STATE_VERSION) {
		ret = bad(err, errlen, "%s: format version %u is not %u", path, get_u32(buf + 8), STATE_VERSION);
		goto cleanup;
	}
	hash_len = get_u32(buf + 12);
	policy_len = get_u64(buf + 24);
	if (hash_len >= STATE_HASH_MAX || policy_len > STATE_MAX_POLICY ||
	    HEADER_LEN + hash_len + policy_len + SHA256_DIGEST_LENGTH != size) {
		ret = bad(err, errlen, "%s: truncated or padded (%zu bytes, header says %llu)", path, size,
			  (unsigned long long)(HEADER_LEN + hash_len + policy_len + SHA256_DIGEST_LENGTH));
		goto cleanup;
	}
	SHA256(buf, size - SHA256_DIGEST_LENGTH, digest);
	if (CRYPTO_memcmp(digest, buf + size - SHA256_DIGEST_LENGTH, SHA256_DIGEST_LENGTH) != 0) {
		ret = bad(err, errlen, "%s: checksum mismatch (corrupt)", path);
		goto cleanup;
	}
	if (memchr(buf + HEADER_LEN, '\0', hash_len)) {
		ret = bad(err, errlen, "%s: hash contains a NUL byte", path);
		goto cleanup;
	}

	out->revision = get_u64(buf + 16);
	memcpy(out->hash, buf + HEADER_LEN, hash_len);
	out->hash[hash_len] = '\0';
	if (policy_len) {
		out->policy = malloc(policy_len);
		if (!out->policy) {
			ret = -ENOMEM;
			goto cleanup;
		}
		memcpy(out->policy, buf + HEADER_LEN + hash_len, policy_len);
		out->policy_len = policy_len;
	}

cleanup:
	if (ret)
		state__release(out);
	if (fd >= 0)
		close(fd);
	free(buf);
	return ret;
}

void state__release(struct agent_state *st)
{
	if (!st)
		return;
	free(st->policy);
	memset(st, 0, sizeof(*st));
}

int state__restore(const char *dir, bool adopted, state_apply_fn apply, void *ctx, uint64_t *rev,
		   char hash[STATE_HASH_MAX])
{
	struct agent_state st;
	Sluice__V1__Policy *p = NULL;
	char err[512], h[POLICY_HASH_HEX];
	int rc;

	*rev = 0;
	hash[0] = '\0';
	rc = state__load(dir, &st, err, sizeof(err));
	if (rc == -ENOENT) {
		pr_info("no saved policy in %s; %s until the controller sends one", dir,
			adopted ? "the adopted datapath keeps what it enforces" : "no rules are enforced");
		return rc;
	}
	if (rc) {
		pr_warn("ignoring the saved policy: %s; the controller will send the current one",
			rc == -EBADMSG ? err : strerror(-rc));
		return rc;
	}
	if (adopted) {
		pr_info("adopted the pinned datapath with saved revision %llu; not reloading it",
			(unsigned long long)st.revision);
		goto live;
	}
	p = policy__unpack(st.policy ? st.policy : (const uint8_t *)"", st.policy_len);
	if (!p || policy__hash(p, h) || strcmp(h, st.hash) != 0) {
		pr_warn("saved revision %llu in %s %s; ignoring it", (unsigned long long)st.revision, dir,
			p ? "does not match its hash" : "does not unpack");
		rc = -EBADMSG;
		goto cleanup;
	}
	err[0] = '\0';
	rc = apply(ctx, p, err, sizeof(err));
	if (rc) {
		pr_warn("saved revision %llu does not apply: %s; waiting for the controller",
			(unsigned long long)st.revision, err[0] ? err : strerror(-rc));
		goto cleanup;
	}
	pr_info("restored saved revision %llu (%zu rules) before contacting the controller",
		(unsigned long long)st.revision, p->n_rules);
live:
	*rev = st.revision;
	memcpy(hash, st.hash, STATE_HASH_MAX);
cleanup:
	policy__free(p);
	state__release(&st);
	return rc;
}

int state__lock_dir(const char *dir)
{
	char path[4096];
	int fd, err;

	if ((size_t)snprintf(path, sizeof(path), "%s/%s", dir, STATE_LOCK_FILE) >= sizeof(path))
		return -ENAMETOOLONG;
	fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
	if (fd < 0)
		return -errno;
	if (flock(fd, LOCK_EX | LOCK_NB) < 0) {
		err = -errno;
		close(fd);
		return err;
	}
	return fd;
}
