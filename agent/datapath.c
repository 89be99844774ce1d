// SPDX-License-Identifier: Apache-2.0
/*
 * datapath.c — load or adopt the inspection program, attach it through pinned
 * bpf_links, and write policy generations into its maps (see datapath.h).
 *
 * Pins under the pin directory:
 *   meta, map_<name>   the program's maps (outer generation maps included)
 *   prog_inspect       the program
 *   link_<ifname>      one XDP link per interface
 * A restarted agent whose BPF object is the one pinned (same sl_meta.obj_hash) adopts
 * all of it and loads nothing. An agent with a different object of the same ABI loads
 * its program against the pinned maps and swaps it into each link with one
 * bpf_link_update, so packets never meet an empty datapath.
 *
 * Generations live in two slots. dp__apply writes the idle slot only once it is clean
 * (an RCU grace period has passed since it was live); the grace period after a switch is
 * waited for on a thread (start_install), so the next apply normally finds it clean.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <net/if.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/vfs.h>
#include <time.h>
#include <unistd.h>
#include <dirent.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <linux/if_link.h>
#include <openssl/evp.h>

#include "common/log.h"
#include "compile.h"
#include "datapath.h"
#include "inspect.skel.h"
#include "rewrite.h"

#ifndef BPF_FS_MAGIC
#define BPF_FS_MAGIC 0xcafe4a11
#endif

/* Maps the agent touches, by role. Pinned as map_<name>. */
enum dp_map {
	M_IVL4, M_IVL6, M_PORTS, M_L4, M_RULES, /* double-buffered tables, written through mmap */
	M_BITMAPS,                               /* ARRAY_OF_MAPS: one bitmap map per slot */
	M_CTL, M_GEN, M_COUNTERS, M_NAMES, M_STATS, M_META,
	M_SAMPLES, M_SAMPLE_BATCH, M_RL_RULE, M_RL_SOURCE, M_CHAIN,
	M_AGG_SRC, M_AGG_TOTAL, M_AGG_CTL, /* per-source aggregates, read by the agent's detectors */
	M_COUNT
};

#define N_TABLES (M_RULES + 1)

static const char *const map_names[M_COUNT] = {
	"sl_ivl4", "sl_ivl6", "sl_ports", "sl_l4", "sl_rules", "sl_bitmaps",
	"sl_ctl", "sl_gen", "sl_rule_counters", "sl_rule_names", "sl_stats", "sl_meta",
	"sl_samples", "sl_sample_batch", "sl_rl_rule", "sl_rl_source", "sl_chain",
	"sl_agg_src", "sl_agg_total", "sl_agg_ctl",
};

/* Entry size and count of each double-buffered table (see bpf/lib/maps.h). */
static const struct table_spec {
	size_t value_size;
	unsigned entries_per_slot;
} table_specs[N_TABLES] = {
	[M_IVL4] = { sizeof(struct sl_ivl4), 2 },
	[M_IVL6] = { sizeof(struct sl_ivl6), 2 },
	[M_PORTS] = { sizeof(struct sl_port_table), 1 },
	[M_L4] = { sizeof(struct sl_l4_table), 1 },
	[M_RULES] = { sizeof(struct sl_rule_table), 1 },
};

/* One slot's bitmap map, kept mapped and reused while it is big enough. */
struct dp_bitmaps {
	int fd;
	uint8_t *mem;
	size_t len;
	__u32 cap; /* classes it holds */
};

/*
 * One bitmap map install into sl_bitmaps, run on a thread of its own: the update returns
 * only after an RCU grace period (~10-20 ms here), which dp__apply should not sit out.
 */
struct dp_install {
	pthread_t tid;
	bool running;
	int outer_fd; /* sl_bitmaps */
	__u32 slot;   /* clean once the install returns */
	__u32 key;    /* where it installs fd: slot, or the other one when slot has no map */
	int fd;       /* the bitmap map to install; -1: none anywhere, nothing to wait for */
	int err;      /* 0 or -errno, once joined */
	struct compile_gen *garbage; /* freed by the thread once it is done: tens of MB to unmap */
};

struct dp_iface {
	char name[IF_NAMESIZE];
	unsigned int ifindex;
	int link_fd;
	__u32 link_id;
	char mode[8]; /* "native" / "generic" */
};

struct dp {
	char pin_dir[PATH_MAX];           /* empty: nothing pinned (tests) */
	struct inspect *skel;             /* set when this agent loaded the program */
	struct rw *rw;                    /* the routing rewrite, chained in sl_chain */
	int map_fd[M_COUNT];
	int prog_fd;
	__u32 prog_id;
	bool adopted;
	bool reload;                      /* dp_opts.reload_programs */
	bool no_vcache;                   /* dp_opts.no_verdict_cache */
	uint32_t capacity;
	struct dp_iface *ifaces;
	size_t n_ifaces;
	int ncpus;
	/* counter slot -> rule name of the live generation ("" = free) */
	char (*slot_names)[SL_NAME_LEN];
	/* the same table in the pinned sl_rule_names map (mmap), for a restarted agent */
	char (*pinned_names)[SL_NAME_LEN];
	/* the double-buffered tables, mapped */
	uint8_t *tbl_mem[N_TABLES];
	size_t tbl_len[N_TABLES];
	struct dp_bitmaps bm[SL_GEN_SLOTS];
	/* clean[s]: slot s is idle and an RCU grace period has passed since it was last
	 * live, so no packet can still read it and it may be written */
	bool clean[SL_GEN_SLOTS];
	struct dp_install inst; /* at most one in flight; joined before bm changes */
	/* never_used[s]: counter slot s has held no rule since this agent made the maps, so its
	 * counters and rate-limit bucket are still zero (all 0 for adopted maps) */
	uint8_t *never_used;
	/* live generation's rules in priority order, as counter slots */
	uint32_t *live_slots;
	uint32_t n_live;
	/* status scratch, owned here (see dp__fill_status) */
	Sluice__V1__RuleCounters *st_rules;
	Sluice__V1__RuleCounters **st_rule_ptrs;
	Sluice__V1__InterfaceState *st_ifaces;
	Sluice__V1__InterfaceState **st_iface_ptrs;
	Sluice__V1__Status__DropReasonsEntry st_reasons[SL_STAT_MAX];
	Sluice__V1__Status__DropReasonsEntry *st_reason_ptrs[SL_STAT_MAX];
};

static const char *const stat_names[SL_STAT_MAX] = SL_STAT_NAMES;

static int libbpf_log(enum libbpf_print_level level, const char *fmt, va_list ap)
{
	/* libbpf is verbose (verifier logs); keep it at debug and say one clear line ourselves. */
	if (log__level() >= LOG_DEBUG)
		log__vprintf(LOG_DEBUG, fmt, ap);
	return 0;
}

/* ---- pins and bpffs ------------------------------------------------------------------ */

static int mkdir_p(const char *path)
{
	char tmp[PATH_MAX];

	if (snprintf(tmp, sizeof(tmp), "%s", path) >= (int)sizeof(tmp))
		return -ENAMETOOLONG;
	for (char *p = tmp + 1; *p; p++) {
		if (*p != '/')
			continue;
		*p = '\0';
		if (mkdir(tmp, 0700) && errno != EEXIST)
			return -errno;
		*p = '/';
	}
	if (mkdir(tmp, 0700) && errno != EEXIST)
		return -errno;
	return 0;
}

static bool on_bpffs(const char *path)
{
	struct statfs st;

	return statfs(path, &st) == 0 && (unsigned long)st.f_type == BPF_FS_MAGIC;
}

/*
 * Makes sure pin_dir exists on a bpffs. When no bpffs is mounted on its way, mounts one
 * at /sys/fs/bpf for paths below it (as the system would), else at pin_dir itself.
 */
static int ensure_bpffs(const char *pin_dir)
{
	const char *mnt = strncmp(pin_dir, "/sys/fs/bpf/", 12) == 0 ? "/sys/fs/bpf" : pin_dir;
	int err;

	if (on_bpffs(mnt) || (strcmp(mnt, pin_dir) != 0 && on_bpffs(pin_dir)))
		goto mkdirs;
	err = mkdir_p(mnt);
	if (err)
		return err;
	if (!on_bpffs(mnt)) {
		if (mount("bpf", mnt, "bpf", 0, "mode=0700")) {
			err = -errno;
			pr_err("cannot mount bpffs at %s: %s", mnt, strerror(-err));
			return err;
		}
		pr_info("mounted bpffs at %s", mnt);
	}
mkdirs:
	err = mkdir_p(pin_dir);
	if (err) {
		pr_err("cannot create pin directory %s: %s", pin_dir, strerror(-err));
		return err;
	}
	if (!on_bpffs(pin_dir)) {
		pr_err("pin directory %s is not on a bpffs", pin_dir);
		return -ENOTSUP;
	}
	return 0;
}

static void pin_path(const struct dp *dp, char *buf, size_t len, const char *prefix, const char *name)
{
	snprintf(buf, len, "%s/%s%s", dp->pin_dir, prefix, name);
}

/* ---- object identity ------------------------------------------------------------------ */

static void obj_hash(__u8 out[32])
{
	size_t sz = 0;
	const void *elf = inspect__elf_bytes(&sz);
	unsigned int n = 32;

	memset(out, 0, 32);
	EVP_Digest(elf, sz, out, &n, EVP_sha256(), NULL);
}

/* ---- load / adopt ------------------------------------------------------------------- */

static int read_meta(int fd, struct sl_meta *meta)
{
	__u32 zero = 0;

	return bpf_map_lookup_elem(fd, &zero, meta) ? -errno : 0;
}

/* Opens every pinned map; 0, -ENOENT when nothing is pinned, or -errno. */
static int open_pinned_maps(struct dp *dp)
{
	char path[PATH_MAX];

	for (int i = 0; i < M_COUNT; i++) {
		pin_path(dp, path, sizeof(path), "map_", map_names[i]);
		dp->map_fd[i] = bpf_obj_get(path);
		if (dp->map_fd[i] < 0) {
			int err = -errno;

			if (i == 0 && err == -ENOENT)
				return -ENOENT;
			pr_err("pinned map %s is missing or unreadable (%s); remove %s to start afresh", path,
			       strerror(-err), dp->pin_dir);
			return err;
		}
	}
	return 0;
}

static int load_skeleton(struct dp *dp, bool reuse_pinned)
{
	struct bpf_map *maps[M_COUNT];
	int err;

	dp->skel = inspect__open();
	if (!dp->skel) {
		err = -errno;
		pr_err("cannot open the embedded BPF object: %s", strerror(-err));
		return err;
	}
	for (int i = 0; i < M_COUNT; i++) {
		maps[i] = bpf_object__find_map_by_name(dp->skel->obj, map_names[i]);
		if (!maps[i]) {
			pr_err("embedded BPF object has no map %s", map_names[i]);
			return -ENOENT;
		}
		if (reuse_pinned && (err = bpf_map__reuse_fd(maps[i], dp->map_fd[i]))) {
			pr_err("cannot reuse pinned map %s: %s", map_names[i], strerror(-err));
			return err;
		}
	}
	dp->skel->rodata->sl_vc_on = !dp->no_vcache;
	err = inspect__load(dp->skel);
	if (err) {
		pr_err("the kernel refused the inspection program (%s); run with --log-level debug for the verifier log",
		       strerror(-err));
		return err;
	}
	for (int i = 0; i < M_COUNT; i++) {
		if (!reuse_pinned)
			dp->map_fd[i] = dup(bpf_map__fd(maps[i]));
	}
	dp->prog_fd = dup(bpf_program__fd(dp->skel->progs.sl_inspect));
	return 0;
}

static int pin_fresh(struct dp *dp)
{
	char path[PATH_MAX];
	struct sl_meta meta = { .abi_version = SL_ABI_VERSION, .max_rules = SL_MAX_RULES };
	__u32 zero = 0;

	obj_hash(meta.obj_hash);
	if (bpf_map_update_elem(dp->map_fd[M_META], &zero, &meta, BPF_ANY))
		return -errno;
	for (int i = 0; i < M_COUNT; i++) {
		pin_path(dp, path, sizeof(path), "map_", map_names[i]);
		unlink(path);
		if (bpf_obj_pin(dp->map_fd[i], path)) {
			int err = -errno;

			pr_err("cannot pin %s: %s", path, strerror(-err));
			return err;
		}
	}
	pin_path(dp, path, sizeof(path), "", "prog_inspect");
	unlink(path);
	if (bpf_obj_pin(dp->prog_fd, path))
		return -errno;
	return 0;
}

/* Adopts the pins, loading a new program when the pinned object differs. */
static int adopt(struct dp *dp)
{
	char path[PATH_MAX];
	struct sl_meta meta;
	__u8 hash[32];
	int err;

	err = read_meta(dp->map_fd[M_META], &meta);
	if (err)
		return err;
	if (meta.abi_version != SL_ABI_VERSION || meta.max_rules != SL_MAX_RULES) {
		pr_err("pinned datapath in %s has ABI %u (%u rules), this agent needs ABI %u (%u rules); stop the agent, remove %s and start it again",
		       dp->pin_dir, meta.abi_version, meta.max_rules, SL_ABI_VERSION, SL_MAX_RULES, dp->pin_dir);
		return -EPROTO;
	}
	obj_hash(hash);
	pin_path(dp, path, sizeof(path), "", "prog_inspect");
	if (!dp->reload && memcmp(hash, meta.obj_hash, 32) == 0) {
		dp->prog_fd = bpf_obj_get(path);
		if (dp->prog_fd >= 0) {
			pr_info("adopted the pinned datapath in %s", dp->pin_dir);
			return 0;
		}
	}
	/* A different program of the same ABI: load ours against the pinned maps. */
	err = load_skeleton(dp, true);
	if (err)
		return err;
	unlink(path);
	if (bpf_obj_pin(dp->prog_fd, path))
		return -errno;
	memcpy(meta.obj_hash, hash, 32);
	__u32 zero = 0;
	if (bpf_map_update_elem(dp->map_fd[M_META], &zero, &meta, BPF_ANY))
		return -errno;
	pr_info("adopted the pinned maps in %s with an upgraded program", dp->pin_dir);
	return 0;
}

/* ---- attach ------------------------------------------------------------------------- */

static void query_mode(struct dp_iface *ifc)
{
	LIBBPF_OPTS(bpf_xdp_query_opts, q);

	snprintf(ifc->mode, sizeof(ifc->mode), "?");
	if (bpf_xdp_query(ifc->ifindex, 0, &q) == 0) {
		if (q.attach_mode == XDP_ATTACHED_DRV)
			snprintf(ifc->mode, sizeof(ifc->mode), "native");
		else if (q.attach_mode == XDP_ATTACHED_SKB)
			snprintf(ifc->mode, sizeof(ifc->mode), "generic");
		else if (q.attach_mode == XDP_ATTACHED_MULTI)
			snprintf(ifc->mode, sizeof(ifc->mode), "multi");
	}
}

static int link_info(int fd, struct bpf_link_info *info)
{
	__u32 len = sizeof(*info);

	memset(info, 0, sizeof(*info));
	return bpf_obj_get_info_by_fd(fd, info, &len) ? -errno : 0;
}

static int attach_iface(struct dp *dp, struct dp_iface *ifc, enum dp_xdp_mode mode)
{
	char path[PATH_MAX];
	struct bpf_link_info info;
	int fd, err = -EINVAL;

	pin_path(dp, path, sizeof(path), "link_", ifc->name);
	fd = bpf_obj_get(path);
	if (fd >= 0) {
		if (link_info(fd, &info) == 0 && info.xdp.ifindex == ifc->ifindex) {
			if (info.prog_id != dp->prog_id && bpf_link_update(fd, dp->prog_fd, NULL)) {
				err = -errno;
				close(fd);
				pr_err("%s: cannot swap the program in the pinned link: %s", ifc->name, strerror(-err));
				return err;
			}
			ifc->link_fd = fd;
			ifc->link_id = info.id;
			query_mode(ifc);
			pr_info("%s: adopted pinned XDP link %u", ifc->name, info.id);
			return 0;
		}
		/* The interface went away and came back: that link is dead. */
		close(fd);
		unlink(path);
	}

	for (int attempt = 0; attempt < 2; attempt++) {
		LIBBPF_OPTS(bpf_link_create_opts, opts);
		bool native = mode == DP_XDP_NATIVE || (mode == DP_XDP_AUTO && attempt == 0);

		if (mode != DP_XDP_AUTO && attempt == 1)
			break;
		opts.flags = native ? XDP_FLAGS_DRV_MODE : XDP_FLAGS_SKB_MODE;
		fd = bpf_link_create(dp->prog_fd, ifc->ifindex, BPF_XDP, &opts);
		if (fd >= 0)
			break;
		err = -errno;
		if (err == -EBUSY || err == -EEXIST) {
			pr_err("%s already has an XDP program that sluice did not attach; remove it (ip link set dev %s xdp off) or choose another --iface",
			       ifc->name, ifc->name);
			return err;
		}
		pr_debug("%s: %s XDP attach failed: %s", ifc->name, native ? "native" : "generic", strerror(-err));
	}
	if (fd < 0) {
		pr_err("%s: cannot attach XDP (%s); try --xdp-mode generic", ifc->name, strerror(-err));
		return err;
	}
	if (bpf_obj_pin(fd, path)) {
		err = -errno;
		close(fd);
		pr_err("%s: cannot pin XDP link at %s: %s", ifc->name, path, strerror(-err));
		return err;
	}
	ifc->link_fd = fd;
	if (link_info(fd, &info) == 0)
		ifc->link_id = info.id;
	query_mode(ifc);
	pr_info("%s: attached XDP link %u (%s)", ifc->name, ifc->link_id, ifc->mode);
	return 0;
}

/* Unpins links of interfaces that are no longer configured (detaching them). */
static void drop_stale_links(struct dp *dp)
{
	DIR *d = opendir(dp->pin_dir);
	struct dirent *e;

	if (!d)
		return;
	while ((e = readdir(d))) {
		bool keep = false;

		if (strncmp(e->d_name, "link_", 5) != 0)
			continue;
		for (size_t i = 0; i < dp->n_ifaces; i++)
			keep |= strcmp(dp->ifaces[i].name, e->d_name + 5) == 0;
		if (!keep) {
			char path[PATH_MAX];

			pin_path(dp, path, sizeof(path), "", e->d_name);
			unlink(path);
			pr_info("%s: no longer configured; detached", e->d_name + 5);
		}
	}
	closedir(d);
}

/* ---- generation tables ---------------------------------------------------------- */

static size_t page_round(size_t len)
{
	size_t page = (size_t)sysconf(_SC_PAGESIZE);

	return (len + page - 1) & ~(page - 1);
}

static size_t elem_size(size_t value_size)
{
	return (value_size + 7) & ~(size_t)7; /* array elements are 8-byte aligned */
}

/* Maps the double-buffered tables once. */
static int map_tables(struct dp *dp)
{
	for (int t = 0; t < N_TABLES; t++) {
		size_t len = page_round(elem_size(table_specs[t].value_size) * table_specs[t].entries_per_slot *
					SL_GEN_SLOTS);
		void *mem = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_SHARED, dp->map_fd[t], 0);

		if (mem == MAP_FAILED)
			return -errno;
		dp->tbl_mem[t] = mem;
		dp->tbl_len[t] = len;
	}
	return 0;
}

/* Copies one table of generation slot `slot` (entry `i` of that slot) into place. */
static void write_table(struct dp *dp, int t, __u32 slot, unsigned i, const void *src)
{
	size_t es = elem_size(table_specs[t].value_size);

	memcpy(dp->tbl_mem[t] + es * (slot * table_specs[t].entries_per_slot + i), src, table_specs[t].value_size);
}

static void bitmaps_release(struct dp_bitmaps *b)
{
	if (b->mem)
		munmap(b->mem, b->len);
	if (b->fd >= 0)
		close(b->fd);
	b->mem = NULL;
	b->fd = -1;
	b->cap = 0;
}

static int bitmaps_map(struct dp_bitmaps *b, int fd, __u32 cap)
{
	size_t len = page_round(elem_size(sizeof(struct sl_bitmap)) * cap);
	void *mem = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);

	if (mem == MAP_FAILED)
		return -errno;
	b->fd = fd;
	b->mem = mem;
	b->len = len;
	b->cap = cap;
	return 0;
}

/* Picks up the bitmap maps a previous agent installed (adoption). */
static void adopt_bitmaps(struct dp *dp)
{
	for (__u32 slot = 0; slot < SL_GEN_SLOTS; slot++) {
		struct bpf_map_info info = { 0 };
		__u32 id = 0, len = sizeof(info);
		int fd;

		if (bpf_map_lookup_elem(dp->map_fd[M_BITMAPS], &slot, &id) || !id)
			continue;
		fd = bpf_map_get_fd_by_id(id);
		if (fd < 0)
			continue;
		if (bpf_obj_get_info_by_fd(fd, &info, &len) || bitmaps_map(&dp->bm[slot], fd, info.max_entries))
			close(fd);
	}
}

/*
 * Makes slot's bitmap map hold n classes: reuses it in place when it is big enough,
 * else makes a bigger one (with room to grow) and installs it.
 */
static int bitmaps_prepare(struct dp *dp, __u32 slot, __u32 n, bool *install)
{
	struct dp_bitmaps *b = &dp->bm[slot], fresh = { .fd = -1 };
	LIBBPF_OPTS(bpf_map_create_opts, o, .map_flags = BPF_F_MMAPABLE | BPF_F_INNER_MAP);
	__u32 cap = n + n / 4 + 64;
	int fd, err;

	*install = false;
	if (b->fd >= 0 && b->cap >= n)
		return 0;
	fd = bpf_map_create(BPF_MAP_TYPE_ARRAY, "sl_bitmaps", 4, sizeof(struct sl_bitmap), cap, &o);
	if (fd < 0)
		return -errno;
	err = bitmaps_map(&fresh, fd, cap);
	if (err) {
		close(fd);
		return err;
	}
	bitmaps_release(b);
	*b = fresh;
	*install = true;
	return 0;
}

/*
 * Makes in->slot clean: installs a bitmap map into sl_bitmaps (the slot's own, as it is).
 * An ARRAY_OF_MAPS update returns only after an RCU grace period, and every XDP run is an
 * RCU read section, so once it returns no packet can still be reading the slot as it was
 * before. Any install would do: the other slot's map serves when this one has none.
 */
static void *install_thread(void *arg)
{
	struct dp_install *in = arg;

	in->err = in->fd < 0 ? 0 : bpf_map_update_elem(in->outer_fd, &in->key, &in->fd, BPF_ANY) ? -errno : 0;
	compile__free(in->garbage);
	in->garbage = NULL;
	return NULL;
}

/*
 * Waits for the install in flight, if any; the slot it installed is clean when it
 * succeeded (it was idle all along). Returns its result (0 when none was in flight).
 * dp->bm must not change while an install is in flight: everything that changes it
 * (bitmaps_prepare, dp__close) joins first.
 */
static int join_install(struct dp *dp)
{
	struct dp_install *in = &dp->inst;

	if (!in->running)
		return 0;
	pthread_join(in->tid, NULL);
	in->running = false;
	if (!in->err)
		dp->clean[in->slot] = true;
	return in->err;
}

/*
 * Starts making slot clean on a thread (install_thread), which then frees garbage (may
 * be NULL; taken over in every case); does both here when no thread can be made.
 */
static int start_install(struct dp *dp, __u32 slot, struct compile_gen *garbage)
{
	struct dp_install *in = &dp->inst;
	int err = join_install(dp);

	if (err)
		pr_debug("a bitmap map install failed: %s", strerror(-err));
	*in = (struct dp_install){ .outer_fd = dp->map_fd[M_BITMAPS], .slot = slot, .key = slot, .fd = dp->bm[slot].fd,
				   .garbage = garbage };
	if (in->fd < 0) {
		/* Any install waits a grace period: re-install the other slot's map (as it is). */
		in->key = slot ^ 1;
		in->fd = dp->bm[slot ^ 1].fd;
	}
	if (pthread_create(&in->tid, NULL, install_thread, in) == 0) {
		in->running = true;
		return 0;
	}
	install_thread(in);
	if (!in->err)
		dp->clean[slot] = true;
	return in->err;
}

/* ---- counter slots ---------------------------------------------------------------- */

#define NAMES_BYTES ((size_t)SL_MAX_RULES * SL_NAME_LEN)

static int map_names_table(struct dp *dp)
{
	void *mem = mmap(NULL, NAMES_BYTES, PROT_READ | PROT_WRITE, MAP_SHARED, dp->map_fd[M_NAMES], 0);

	if (mem == MAP_FAILED)
		return -errno;
	dp->pinned_names = mem;
	return 0;
}

static void load_slot_names(struct dp *dp)
{
	/* The live set is every slot with a name; priority order is re-learned at the next apply. */
	dp->n_live = 0;
	for (__u32 s = 0; s < SL_MAX_RULES; s++) {
		memcpy(dp->slot_names[s], dp->pinned_names[s], SL_NAME_LEN);
		dp->slot_names[s][SL_NAME_LEN - 1] = '\0';
		if (dp->slot_names[s][0])
			dp->live_slots[dp->n_live++] = s;
	}
}

struct dp *dp__open(const struct dp_opts *opts)
{
	struct bpf_prog_info pinfo;
	__u32 plen = sizeof(pinfo);
	struct dp *dp;
	int err;

	libbpf_set_print(libbpf_log);
	dp = calloc(1, sizeof(*dp));
	if (!dp)
		return NULL;
	for (int i = 0; i < M_COUNT; i++)
		dp->map_fd[i] = -1;
	for (int i = 0; i < SL_GEN_SLOTS; i++)
		dp->bm[i].fd = -1;
	dp->prog_fd = -1;
	dp->capacity = opts->rule_capacity && opts->rule_capacity < SL_MAX_RULES ? opts->rule_capacity : SL_MAX_RULES;
	dp->ncpus = libbpf_num_possible_cpus();
	dp->reload = opts->reload_programs;
	dp->no_vcache = opts->no_verdict_cache;
	dp->slot_names = calloc(SL_MAX_RULES, sizeof(*dp->slot_names));
	dp->live_slots = calloc(SL_MAX_RULES, sizeof(*dp->live_slots));
	dp->never_used = calloc(SL_MAX_RULES, sizeof(*dp->never_used));
	dp->ifaces = calloc(opts->n_ifaces ? opts->n_ifaces : 1, sizeof(*dp->ifaces));
	if (dp->ncpus <= 0 || !dp->slot_names || !dp->live_slots || !dp->never_used || !dp->ifaces) {
		err = -ENOMEM;
		goto fail;
	}
	for (size_t i = 0; i < opts->n_ifaces; i++) {
		struct dp_iface *ifc = &dp->ifaces[i];

		snprintf(ifc->name, sizeof(ifc->name), "%s", opts->ifaces[i]);
		ifc->link_fd = -1;
		ifc->ifindex = if_nametoindex(ifc->name);
		if (!ifc->ifindex) {
			err = -ENODEV;
			pr_err("interface %s does not exist", ifc->name);
			goto fail;
		}
	}
	dp->n_ifaces = opts->n_ifaces;

	if (opts->pin_dir && opts->pin_dir[0]) {
		snprintf(dp->pin_dir, sizeof(dp->pin_dir), "%s", opts->pin_dir);
		err = ensure_bpffs(dp->pin_dir);
		if (err)
			goto fail;
		err = open_pinned_maps(dp);
		if (err == 0) {
			err = adopt(dp);
			if (err)
				goto fail;
			dp->adopted = true;
		} else if (err == -ENOENT) {
			for (int i = 0; i < M_COUNT; i++) {
				if (dp->map_fd[i] >= 0)
					close(dp->map_fd[i]);
				dp->map_fd[i] = -1;
			}
			err = load_skeleton(dp, false);
			if (!err)
				err = pin_fresh(dp);
			if (err)
				goto fail;
		} else {
			goto fail;
		}
	} else {
		err = load_skeleton(dp, false);
		if (err)
			goto fail;
	}
	memset(&pinfo, 0, sizeof(pinfo));
	if (bpf_obj_get_info_by_fd(dp->prog_fd, &pinfo, &plen) == 0)
		dp->prog_id = pinfo.id;
	err = map_names_table(dp);
	if (!err)
		err = map_tables(dp);
	if (err) {
		pr_err("cannot map the datapath tables: %s", strerror(-err));
		goto fail;
	}
	if (dp->adopted) {
		load_slot_names(dp);
		adopt_bitmaps(dp);
	} else {
		memset(dp->never_used, 1, SL_MAX_RULES); /* maps made just now are all zero */
	}
	/* Chained before any interface is attached, so the first packet meets both programs. */
	dp->rw = rw__open(&(struct rw_opts){
		.pin_dir = dp->pin_dir, .chain_fd = dp->map_fd[M_CHAIN], .fib = opts->rewrite_fib,
		.reload = opts->reload_programs });
	if (!dp->rw) {
		err = -errno;
		goto fail;
	}

	for (size_t i = 0; i < dp->n_ifaces; i++) {
		err = attach_iface(dp, &dp->ifaces[i], opts->mode);
		if (err)
			goto fail;
	}
	if (dp->pin_dir[0])
		drop_stale_links(dp);
	return dp;
fail:
	dp__close(dp);
	errno = -err;
	return NULL;
}

void dp__close(struct dp *dp)
{
	if (!dp)
		return;
	join_install(dp);
	for (size_t i = 0; i < dp->n_ifaces; i++) {
		if (dp->ifaces[i].link_fd >= 0)
			close(dp->ifaces[i].link_fd);
	}
	for (int i = 0; i < M_COUNT; i++) {
		if (dp->map_fd[i] >= 0)
			close(dp->map_fd[i]);
	}
	if (dp->prog_fd >= 0)
		close(dp->prog_fd);
	inspect__destroy(dp->skel);
	rw__close(dp->rw);
	if (dp->pinned_names)
		munmap(dp->pinned_names, NAMES_BYTES);
	for (int t = 0; t < N_TABLES; t++) {
		if (dp->tbl_mem[t])
			munmap(dp->tbl_mem[t], dp->tbl_len[t]);
	}
	for (int i = 0; i < SL_GEN_SLOTS; i++)
		bitmaps_release(&dp->bm[i]);
	free(dp->ifaces);
	free(dp->slot_names);
	free(dp->live_slots);
	free(dp->never_used);
	free(dp->st_rules);
	free(dp->st_rule_ptrs);
	free(dp->st_ifaces);
	free(dp->st_iface_ptrs);
	free(dp);
}

bool dp__adopted(const struct dp *dp)
{
	return dp->adopted;
}

uint32_t dp__rule_capacity(const struct dp *dp)
{
	return dp->capacity;
}

uint32_t dp__rules_used(const struct dp *dp)
{
	return dp->n_live;
}

int dp__prog_fd(const struct dp *dp)
{
	return dp->prog_fd;
}

struct rw *dp__rewrite(const struct dp *dp)
{
	return dp->rw;
}

/* ---- generations -------------------------------------------------------------------- */

/* Resets what counter slots carry (counters, rate-limit buckets) before new rules use them. */
static int zero_counters(struct dp *dp, const __u32 *slots, __u32 n)
{
	struct sl_counter *zero = calloc((size_t)n * (size_t)dp->ncpus, sizeof(*zero));
	struct sl_bucket *fresh = calloc(n, sizeof(*fresh));
	LIBBPF_OPTS(bpf_map_batch_opts, o);
	__u32 count = n;
	int err = 0;

	if (!zero || !fresh) {
		err = -ENOMEM;
		goto cleanup;
	}
	if (n && (bpf_map_update_batch(dp->map_fd[M_COUNTERS], slots, zero, &count, &o) ||
		  (count = n, bpf_map_update_batch(dp->map_fd[M_RL_RULE], slots, fresh, &count, &o))))
		err = -errno;
cleanup:
	free(zero);
	free(fresh);
	return err;
}

static uint32_t name_hash(const char *name)
{
	uint32_t h = 2166136261u;

	for (; *name; name++)
		h = (h ^ (uint8_t)*name) * 16777619u;
	return h;
}

/*
 * Gives each rule of g a counter slot: the slot its name had, else a free one (zeroed
 * unless it never held a rule).
 * new_names receives the slot->name table of the new generation.
 */
static int assign_slots(struct dp *dp, const Sluice__V1__Policy *p, struct compile_gen *g,
			char (*new_names)[SL_NAME_LEN])
{
	uint32_t size = 1, *index;
	__u32 next_free = 0, n_fresh = 0, *fresh = malloc(g->n_rules * sizeof(*fresh) + 1);
	int err = 0;

	while (size < 2 * (dp->n_live + 1))
		size <<= 1;
	/* name -> live slot, open addressing */
	index = malloc(size * sizeof(*index));
	if (!index || !fresh) {
		free(index);
		free(fresh);
		return -ENOMEM;
	}
	memset(index, 0xff, size * sizeof(*index));
	for (uint32_t j = 0; j < dp->n_live; j++) {
		__u32 s = dp->live_slots[j];
		uint32_t i = name_hash(dp->slot_names[s]) & (size - 1);

		while (index[i] != UINT32_MAX)
			i = (i + 1) & (size - 1);
		index[i] = s;
	}
	for (uint32_t r = 0; r < g->n_rules; r++) {
		const char *name = p->rules[g->order[r]]->name;
		__u32 slot = UINT32_MAX;

		for (uint32_t i = name_hash(name) & (size - 1); index[i] != UINT32_MAX; i = (i + 1) & (size - 1)) {
			if (strncmp(dp->slot_names[index[i]], name, SL_NAME_LEN) == 0) {
				slot = index[i];
				break;
			}
		}
		if (slot == UINT32_MAX) {
			/* A slot free in both the live and the new generation. */
			while (next_free < SL_MAX_RULES && (dp->slot_names[next_free][0] || new_names[next_free][0]))
				next_free++;
			if (next_free == SL_MAX_RULES) {
				err = -E2BIG;
				break;
			}
			slot = next_free;
			if (!dp->never_used[slot]) /* still zero otherwise: no need to reset it */
				fresh[n_fresh++] = slot;
			dp->never_used[slot] = 0;
		}
		snprintf(new_names[slot], SL_NAME_LEN, "%s", name);
		g->rules[r].counter = slot;
	}
	if (!err)
		err = zero_counters(dp, fresh, n_fresh);
	free(index);
	free(fresh);
	return err;
}

static double ms_between(const struct timespec *a, const struct timespec *b)
{
	return (double)(b->tv_sec - a->tv_sec) * 1e3 + (double)(b->tv_nsec - a->tv_nsec) / 1e6;
}

int dp__apply(struct dp *dp, const Sluice__V1__Policy *p, char *err, size_t errlen)
{
	char (*new_names)[SL_NAME_LEN] = NULL;
	struct compile_gen *g = NULL;
	struct sl_gen_info gi = { 0 }, old = { 0 };
	struct sl_ctl ctl = { 0 };
	struct timespec t0, t1, t2, t3;
	__u32 zero = 0, slot;
	bool install;
	int ret;

	clock_gettime(CLOCK_MONOTONIC, &t0);
	ret = compile__policy(p, dp->capacity, &g, err, errlen);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	if (ret)
		goto cleanup;
	/* Routes are checked now, so a bad one is refused before anything switches. */
	ret = rw__prepare(dp->rw, p, err, errlen);
	if (ret)
		goto cleanup;
	new_names = calloc(SL_MAX_RULES, sizeof(*new_names));
	if (!new_names) {
		ret = -ENOMEM;
		goto cleanup;
	}
	ret = assign_slots(dp, p, g, new_names);
	if (ret) {
		snprintf(err, errlen, "cannot assign rule counters: %s", strerror(-ret));
		goto cleanup;
	}
	if (bpf_map_lookup_elem(dp->map_fd[M_CTL], &zero, &ctl)) {
		ret = -errno;
		snprintf(err, errlen, "cannot read the generation switch: %s", strerror(-ret));
		goto cleanup;
	}
	slot = (ctl.slot & 1) ^ 1; /* the idle slot */
	bpf_map_lookup_elem(dp->map_fd[M_GEN], &ctl.slot, &old);
	clock_gettime(CLOCK_MONOTONIC, &t2);

	/*
	 * The idle slot may be written once it is clean. The previous apply started making
	 * it so (start_install below) and that is normally done by now. When it is not clean
	 * the install here is the wait; a fresh bitmap map installed into a clean slot needs
	 * no wait, so its install runs while the tables are written.
	 */
	join_install(dp);
	ret = bitmaps_prepare(dp, slot, g->n_classes, &install);
	if (!ret && (install || !dp->clean[slot])) {
		bool wait = !dp->clean[slot];

		ret = start_install(dp, slot, NULL);
		if (!ret && wait)
			ret = join_install(dp);
	}
	if (ret) {
		snprintf(err, errlen, "cannot prepare %u rule bitmaps: %s", g->n_classes, strerror(-ret));
		goto cleanup;
	}
	write_table(dp, M_IVL4, slot, 0, g->src4);
	write_table(dp, M_IVL4, slot, 1, g->dst4);
	write_table(dp, M_IVL6, slot, 0, g->src6);
	write_table(dp, M_IVL6, slot, 1, g->dst6);
	write_table(dp, M_PORTS, slot, 0, g->ports);
	write_table(dp, M_L4, slot, 0, g->l4);
	memcpy(dp->tbl_mem[M_RULES] + elem_size(sizeof(struct sl_rule_table)) * slot, g->rules,
	       g->n_rules * sizeof(*g->rules));
	for (uint32_t c = 0; c < g->n_classes; c++)
		compile__export_bitmap(g, c, (struct sl_bitmap *)(dp->bm[slot].mem + c * elem_size(sizeof(struct sl_bitmap))));
	ret = join_install(dp);
	if (ret) {
		snprintf(err, errlen, "cannot install the rule bitmaps: %s", strerror(-ret));
		goto cleanup;
	}
	clock_gettime(CLOCK_MONOTONIC, &t3);
	pr_debug("apply: compile %.1f ms, counters %.1f ms, tables %.1f ms (%u classes)", ms_between(&t0, &t1),
		 ms_between(&t1, &t2), ms_between(&t2, &t3), g->n_classes);

	gi.n_rules = g->n_rules;
	gi.n_words = g->n_words;
	gi.generation = old.generation + 1;
	if (bpf_map_update_elem(dp->map_fd[M_GEN], &slot, &gi, BPF_ANY)) {
		ret = -errno;
		snprintf(err, errlen, "cannot write generation info: %s", strerror(-ret));
		goto cleanup;
	}
	/* Name the new slots before the switch, so counters are attributable at once. */
	for (__u32 s = 0; s < SL_MAX_RULES; s++) {
		if (new_names[s][0])
			memcpy(dp->pinned_names[s], new_names[s], SL_NAME_LEN);
	}

	ctl.slot = slot;
	if (bpf_map_update_elem(dp->map_fd[M_CTL], &zero, &ctl, BPF_ANY)) {
		ret = -errno;
		snprintf(err, errlen, "cannot switch generations: %s", strerror(-ret));
		goto cleanup;
	}
	dp->clean[slot] = false;

	/* Live now. Forget the names of rules that left. */
	for (__u32 s = 0; s < SL_MAX_RULES; s++) {
		if (dp->slot_names[s][0] && !new_names[s][0])
			memset(dp->pinned_names[s], 0, SL_NAME_LEN);
	}
	memcpy(dp->slot_names, new_names, SL_MAX_RULES * sizeof(*new_names));
	dp->n_live = g->n_rules;
	for (uint32_t i = 0; i < g->n_rules; i++)
		dp->live_slots[i] = g->rules[i].counter;
	pr_info("generation %llu live in slot %u: %u rules, %u classes", (unsigned long long)gi.generation, slot,
		g->n_rules, g->n_classes);
	/* The slot just retired is clean one grace period from now: wait for that (and free
	 * the compiled tables) off this path. */
	if (start_install(dp, slot ^ 1, g))
		pr_debug("slot %u: cannot retire it now; the next apply waits for it", slot ^ 1);
	g = NULL;
	/* Then the routes prepared above, with their own switch. */
	ret = rw__commit(dp->rw, err, errlen);
cleanup:
	free(new_names);
	compile__free(g);
	return ret;
}

/* ---- status ----------------------------------------------------------------------- */

static int read_counter(struct dp *dp, __u32 slot, struct sl_counter *sum)
{
	struct sl_counter *v = calloc((size_t)dp->ncpus, sizeof(*v));

	memset(sum, 0, sizeof(*sum));
	if (!v)
		return -ENOMEM;
	if (bpf_map_lookup_elem(dp->map_fd[M_COUNTERS], &slot, v)) {
		free(v);
		return -errno;
	}
	for (int c = 0; c < dp->ncpus; c++) {
		sum->packets += v[c].packets;
		sum->bytes += v[c].bytes;
		sum->samples += v[c].samples;
		sum->samples_lost += v[c].samples_lost;
		sum->rl_drops += v[c].rl_drops;
	}
	free(v);
	return 0;
}

int dp__rule_counters(struct dp *dp, const char *name, struct sl_counter *out)
{
	for (uint32_t i = 0; i < dp->n_live; i++) {
		__u32 s = dp->live_slots[i];

		if (strncmp(dp->slot_names[s], name, SL_NAME_LEN) == 0)
			return read_counter(dp, s, out);
	}
	return -ENOENT;
}

int dp__rule_counter(struct dp *dp, const char *name, uint64_t *packets, uint64_t *bytes)
{
	struct sl_counter c;
	int err = dp__rule_counters(dp, name, &c);

	if (err)
		return err;
	*packets = c.packets;
	*bytes = c.bytes;
	return 0;
}

int dp__samples_fd(const struct dp *dp)
{
	return dp->map_fd[M_SAMPLES];
}

int dp__aggregates_fds(const struct dp *dp, int *per_source, int *total, int *ctl)
{
	*per_source = dp->map_fd[M_AGG_SRC];
	*total = dp->map_fd[M_AGG_TOTAL];
	*ctl = dp->map_fd[M_AGG_CTL];
	return 0;
}

const char *dp__slot_name(const struct dp *dp, uint32_t slot)
{
	return slot < SL_MAX_RULES && dp->slot_names[slot][0] ? dp->slot_names[slot] : NULL;
}

int dp__stats(struct dp *dp, uint64_t out[])
{
	__u64 *v = calloc((size_t)dp->ncpus, sizeof(*v));

	if (!v)
		return -ENOMEM;
	for (__u32 k = 0; k < SL_STAT_MAX; k++) {
		out[k] = 0;
		if (bpf_map_lookup_elem(dp->map_fd[M_STATS], &k, v))
			continue;
		for (int c = 0; c < dp->ncpus; c++)
			out[k] += v[c];
	}
	free(v);
	return 0;
}

int dp__fill_status(struct dp *dp, Sluice__V1__Status *st)
{
	uint64_t stats[SL_STAT_MAX];
	size_t n = 0;

	free(dp->st_rules);
	free(dp->st_rule_ptrs);
	free(dp->st_ifaces);
	free(dp->st_iface_ptrs);
	dp->st_rules = calloc(dp->n_live ? dp->n_live : 1, sizeof(*dp->st_rules));
	dp->st_rule_ptrs = calloc(dp->n_live ? dp->n_live : 1, sizeof(*dp->st_rule_ptrs));
	dp->st_ifaces = calloc(dp->n_ifaces ? dp->n_ifaces : 1, sizeof(*dp->st_ifaces));
	dp->st_iface_ptrs = calloc(dp->n_ifaces ? dp->n_ifaces : 1, sizeof(*dp->st_iface_ptrs));
	if (!dp->st_rules || !dp->st_rule_ptrs || !dp->st_ifaces || !dp->st_iface_ptrs)
		return -ENOMEM;
	for (uint32_t i = 0; i < dp->n_live; i++) {
		__u32 s = dp->live_slots[i];
		Sluice__V1__RuleCounters *rc = &dp->st_rules[n];
		struct sl_counter c;

		sluice__v1__rule_counters__init(rc);
		rc->name = dp->slot_names[s];
		if (read_counter(dp, s, &c) == 0) {
			rc->packets = c.packets;
			rc->bytes = c.bytes;
			rc->samples = c.samples;
			rc->samples_lost = c.samples_lost;
			rc->rate_limited = c.rl_drops;
		}
		dp->st_rule_ptrs[n++] = rc;
	}
	st->rules = dp->st_rule_ptrs;
	st->n_rules = n;
	for (size_t i = 0; i < dp->n_ifaces; i++) {
		Sluice__V1__InterfaceState *is = &dp->st_ifaces[i];
		struct dp_iface *ifc = &dp->ifaces[i];
		struct bpf_link_info info;

		sluice__v1__interface_state__init(is);
		is->name = ifc->name;
		query_mode(ifc);
		is->xdp_mode = ifc->mode;
		is->link_id = ifc->link_id;
		is->attached = ifc->link_fd >= 0 && link_info(ifc->link_fd, &info) == 0 && info.xdp.ifindex == ifc->ifindex;
		is->prog_id = is->attached ? info.prog_id : 0;
		dp->st_iface_ptrs[i] = is;
	}
	st->interfaces = dp->st_iface_ptrs;
	st->n_interfaces = dp->n_ifaces;
	st->rules_used = dp->n_live;
	st->rule_capacity = dp->capacity;
	if (dp__stats(dp, stats) == 0) {
		for (int k = 0; k < SL_STAT_MAX; k++) {
			sluice__v1__status__drop_reasons_entry__init(&dp->st_reasons[k]);
			dp->st_reasons[k].key = (char *)stat_names[k];
			dp->st_reasons[k].value = stats[k];
			dp->st_reason_ptrs[k] = &dp->st_reasons[k];
		}
		st->drop_reasons = dp->st_reason_ptrs;
		st->n_drop_reasons = SL_STAT_MAX;
	}
	return rw__fill_status(dp->rw, st);
}

/* ---- removal ---------------------------------------------------------------------- */

int dp__destroy_pins(const char *pin_dir)
{
	DIR *d = opendir(pin_dir);
	struct dirent *e;
	int err = 0, rw_err;

	if (!d)
		return errno == ENOENT ? 0 : -errno;
	while ((e = readdir(d))) {
		char path[PATH_MAX];

		if (strncmp(e->d_name, "link_", 5) && strncmp(e->d_name, "map_", 4) && strcmp(e->d_name, "prog_inspect"))
			continue;
		snprintf(path, sizeof(path), "%s/%s", pin_dir, e->d_name);
		if (unlink(path) && !err)
			err = -errno;
	}
	closedir(d);
	rw_err = rw__destroy_pins(pin_dir);
	if (!err)
		err = rw_err;
	if (rmdir(pin_dir) && !err && errno != ENOENT)
		err = -errno;
	return err;
}
