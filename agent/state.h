/* SPDX-License-Identifier: Apache-2.0 */
/*
 * state.h — the agent's last-known-good policy, kept in its state directory so a
 * restarted agent can enforce it before the controller is reachable again.
 *
 * One file, <state-dir>/policy.state: the revision, its content hash and the packed
 * Sluice__V1__Policy bytes, sealed with a sha256 of everything before it. It is
 * replaced atomically (temp file, fsync, rename, fsync of the directory), so a crash
 * leaves either the old file or the new one. The caller writes it only after the
 * policy was applied to the datapath. This module moves bytes; it does not unpack.
 *
 * The directory also holds agent.lock, flock()ed by the running agent so two agents
 * never share one state directory.
 */
#ifndef SLUICE_AGENT_STATE_H
#define SLUICE_AGENT_STATE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "sluice/v1/policy.pb-c.h"

#define STATE_FILE "policy.state"
#define STATE_LOCK_FILE "agent.lock"
#define STATE_HASH_MAX 128                 /* room for the hash string, NUL included */
#define STATE_MAX_POLICY (256u << 20)      /* larger files are treated as corrupt */

struct agent_state {
	uint64_t revision;
	char hash[STATE_HASH_MAX];
	uint8_t *policy;   /* packed Sluice__V1__Policy, malloc'd; NULL when policy_len is 0 */
	size_t policy_len;
};

/*
 * Atomically replaces <dir>/policy.state with revision, hash and the packed policy.
 * hash must be shorter than STATE_HASH_MAX. When it returns 0 the new content is on
 * disk (fsynced, directory entry included). 0 or -errno; whatever happens the file holds
 * either the old content or the new, never a mix.
 */
int state__save(const char *dir, uint64_t revision, const char *hash, const uint8_t *policy,
		size_t policy_len);

/*
 * Reads <dir>/policy.state into *out (zeroed first; release with state__release).
 * Returns 0; -ENOENT when there is no file; -EBADMSG when it is truncated, corrupt or
 * of an unknown format version (err says how, if err is not NULL); other -errno for I/O.
 */
int state__load(const char *dir, struct agent_state *out, char *err, size_t errlen);

/* Frees what state__load allocated and zeroes *st. Accepts NULL. */
void state__release(struct agent_state *st);

/* How state__restore() reaches the datapath: 0, or -errno with a reason in err. */
typedef int (*state_apply_fn)(void *ctx, const Sluice__V1__Policy *p, char *err, size_t errlen);

/*
 * Startup: puts the saved policy in <dir> back in force before the controller is
 * contacted, and sets *rev / hash to what is then live (0 / "" when nothing known is).
 * adopted: the datapath kept a previous agent's pinned maps, which hold the saved
 * revision (the file is written only after an apply), so that revision is trusted and
 * not reloaded. Otherwise the saved policy is unpacked, checked against its hash and
 * applied once through apply(ctx, ...). Logs what it did; never fatal.
 * Returns 0 when a saved revision is live, -ENOENT without a file, -EBADMSG when the
 * file is unusable, or apply's -errno.
 */
int state__restore(const char *dir, bool adopted, state_apply_fn apply, void *ctx, uint64_t *rev,
		   char hash[STATE_HASH_MAX]);

/*
 * Takes an exclusive, non-blocking flock on <dir>/agent.lock. Returns the lock's fd
 * (keep it open for the life of the process), -EWOULDBLOCK when another process holds
 * it, or another -errno.
 */
int state__lock_dir(const char *dir);

#endif
