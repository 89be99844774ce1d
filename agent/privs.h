/* SPDX-License-Identifier: Apache-2.0 */
/*
 * privs.h — least privilege for a running agent. Start-up needs root's powers (mount
 * bpffs, load and attach programs, adopt pinned objects by id); afterwards the agent
 * only makes and updates BPF maps, replaces XDP links and reads its ring buffer. So once
 * the datapath is up, privs__drop() keeps in the permitted, effective and bounding sets
 * only what that needs — CAP_BPF, CAP_NET_ADMIN, CAP_PERFMON and CAP_SYS_RESOURCE (the
 * memlock limit of older kernels), plus CAP_SYS_ADMIN on kernels that predate CAP_BPF —
 * clears the inheritable set and sets no_new_privs.
 *
 * Capabilities belong to threads: the calling thread and the threads it starts afterwards
 * (gRPC's, the session's, the monitor's, the admin socket's) have the reduced sets;
 * threads started before keep theirs (the metrics endpoint's, with --metrics).
 */
#ifndef SLUICE_AGENT_PRIVS_H
#define SLUICE_AGENT_PRIVS_H

#include <stddef.h>
#include <stdint.h>

/*
 * Drops every capability a running agent does not need. Without CAP_SETPCAP (not
 * root) the bounding set is left alone and only the permitted and effective sets shrink.
 * 0, or -errno with one line in err. *kept (may be NULL) gets the capabilities left.
 */
int privs__drop(uint64_t *kept, char *err, size_t errlen);

/* "CAP_BPF CAP_NET_ADMIN ..." for the set bits of caps. */
void privs__names(uint64_t caps, char *buf, size_t len);

#endif
