// SPDX-License-Identifier: Apache-2.0
/*
 * privs.c — see privs.h. Raw capget/capset and prctl, so the agent needs no libcap.
 */
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <linux/capability.h>

#include "common/log.h"
#include "privs.h"

#define BIT(c) (1ULL << (c))

static const struct {
	int cap;
	const char *name;
} names[] = {
	{ CAP_BPF, "CAP_BPF" },
	{ CAP_NET_ADMIN, "CAP_NET_ADMIN" },
	{ CAP_PERFMON, "CAP_PERFMON" },
	{ CAP_SYS_RESOURCE, "CAP_SYS_RESOURCE" },
	{ CAP_SYS_ADMIN, "CAP_SYS_ADMIN" },
};

void privs__names(uint64_t caps, char *buf, size_t len)
{
	size_t off = 0;

	buf[0] = '\0';
	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]) && off < len; i++)
		if (caps & BIT(names[i].cap))
			off += (size_t)snprintf(buf + off, len - off, "%s%s", off ? " " : "", names[i].name);
	if (caps & ~(BIT(CAP_BPF) | BIT(CAP_NET_ADMIN) | BIT(CAP_PERFMON) | BIT(CAP_SYS_RESOURCE) | BIT(CAP_SYS_ADMIN)) &&
	    off < len)
		snprintf(buf + off, len - off, "%sothers", off ? " " : "");
}

/* The highest capability this kernel knows. */
static int last_cap(void)
{
	FILE *f = fopen("/proc/sys/kernel/cap_last_cap", "re");
	int n = -1;

	if (f) {
		if (fscanf(f, "%d", &n) != 1)
			n = -1;
		fclose(f);
	}
	return n >= 0 && n < 64 ? n : CAP_LAST_CAP;
}

int privs__drop(uint64_t *kept, char *err, size_t errlen)
{
	struct __user_cap_header_struct hdr = { .version = _LINUX_CAPABILITY_VERSION_3, .pid = 0 };
	struct __user_cap_data_struct data[_LINUX_CAPABILITY_U32S_3];
	int last = last_cap();
	uint64_t want, have;
	bool setpcap;

	want = BIT(CAP_NET_ADMIN) | BIT(CAP_SYS_RESOURCE);
	if (last >= CAP_BPF)
		want |= BIT(CAP_BPF) | BIT(CAP_PERFMON);
	else
		want |= BIT(CAP_SYS_ADMIN); /* before 5.8 the BPF syscall wants CAP_SYS_ADMIN */
	memset(data, 0, sizeof(data));
	if (syscall(SYS_capget, &hdr, data) < 0) {
		snprintf(err, errlen, "capget: %s", strerror(errno));
		return -errno;
	}
	have = (uint64_t)data[0].permitted | (uint64_t)data[1].permitted << 32;
	setpcap = (have & BIT(CAP_SETPCAP)) != 0;
	/* The bounding set first (it needs CAP_SETPCAP, which goes with the rest). */
	for (int c = 0; setpcap && c <= last; c++) {
		if ((want & BIT(c)) || prctl(PR_CAPBSET_READ, c, 0, 0, 0) != 1)
			continue;
		if (prctl(PR_CAPBSET_DROP, c, 0, 0, 0) < 0) {
			snprintf(err, errlen, "dropping capability %d from the bounding set: %s", c, strerror(errno));
			return -errno;
		}
	}
	want &= have;
	data[0].permitted = data[0].effective = (uint32_t)want;
	data[1].permitted = data[1].effective = (uint32_t)(want >> 32);
	data[0].inheritable = data[1].inheritable = 0;
	if (syscall(SYS_capset, &hdr, data) < 0) {
		snprintf(err, errlen, "capset: %s", strerror(errno));
		return -errno;
	}
	/* Nothing the agent might ever exec gains privileges back. */
	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0)
		pr_debug("no_new_privs: %s", strerror(errno));
	if (kept)
		*kept = want;
	return 0;
}
