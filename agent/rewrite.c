// SPDX-License-Identifier: Apache-2.0
/*
 * rewrite.c — load or adopt the routing rewrite program, chain it after inspection, pin
 * it, and map its tables (see rewrite.h). Route generations are in rewrite_gen.c, the
 * status in rewrite_status.c.
 */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <openssl/evp.h>

#include "common/log.h"
#include "rewrite.h"
#include "rewrite.skel.h"
#include "rewrite_int.h"

/* Names in the object; the epoch is a global in a data section of its own. */
static const char *const map_names[R_COUNT] = {
	"sl_rw_ctl", "sl_rw_gen", "sl_rw_routes", "sl_rw_filter", "sl_rw_frontends", "sl_rw_maglev",
	"sl_ct", "sl_rnat", "sl_rw_cache", ".data.epoch", "sl_rw_counters", "sl_rw_backends",
	"sl_rw_stats", "sl_rw_meta", "sl_csum_scratch",
};

/* Pinned as rw_map_<name>. */
static const char *const pin_names[R_COUNT] = {
	"sl_rw_ctl", "sl_rw_gen", "sl_rw_routes", "sl_rw_filter", "sl_rw_frontends", "sl_rw_maglev",
	"sl_ct", "sl_rnat", "sl_rw_cache", "sl_rw_epoch", "sl_rw_counters", "sl_rw_backends",
	"sl_rw_stats", "sl_rw_meta", "sl_csum_scratch",
};

#define PROG_PIN "prog_rewrite"
#define MAP_PIN_PREFIX "rw_map_"

/* ---- pins and identity -------------------------------------------------------------- */

static void pin_path(const struct rw *rw, char *buf, size_t len, const char *prefix, const char *name)
{
	snprintf(buf, len, "%s/%s%s", rw->pin_dir, prefix, name);
}

/* sha256 of the embedded object and the load-time settings baked into it. */
static void obj_hash(bool fib, __u8 out[32])
{
	size_t sz = 0;
	const void *elf = rewrite__elf_bytes(&sz);
	EVP_MD_CTX *c = EVP_MD_CTX_new();
	unsigned int n = 32;
	uint8_t f = fib;

	memset(out, 0, 32);
	if (!c)
		return;
	if (EVP_DigestInit_ex(c, EVP_sha256(), NULL) != 1 || EVP_DigestUpdate(c, elf, sz) != 1 ||
	    EVP_DigestUpdate(c, &f, 1) != 1 || EVP_DigestFinal_ex(c, out, &n) != 1)
		memset(out, 0, 32);
	EVP_MD_CTX_free(c);
}

/* ---- load / adopt ------------------------------------------------------------------ */

static void close_maps(struct rw *rw)
{
	for (int i = 0; i < R_COUNT; i++) {
		if (rw->map_fd[i] >= 0)
			close(rw->map_fd[i]);
		rw->map_fd[i] = -1;
	}
}

/* Opens every pinned map: 0, -ENOENT when nothing is pinned, or -errno. */
static int open_pinned_maps(struct rw *rw)
{
	char path[PATH_MAX];

	for (int i = 0; i < R_COUNT; i++) {
		pin_path(rw, path, sizeof(path), MAP_PIN_PREFIX, pin_names[i]);
		rw->map_fd[i] = bpf_obj_get(path);
		if (rw->map_fd[i] < 0) {
			int err = -errno;

			if (i == 0 && err == -ENOENT)
				return -ENOENT;
			pr_err("pinned rewrite map %s is missing or unreadable (%s); remove %s to start afresh", path,
			       strerror(-err), rw->pin_dir);
			return err;
		}
	}
	return 0;
}

static int load_skeleton(struct rw *rw, bool reuse_pinned)
{
	struct bpf_map *maps[R_COUNT];
	int err;

	rw->skel = rewrite__open();
	if (!rw->skel) {
		err = -errno;
		pr_err("cannot open the embedded rewrite object: %s", strerror(-err));
		return err;
	}
	rw->skel->rodata->sl_rw_fib = rw->fib;
	for (int i = 0; i < R_COUNT; i++) {
		maps[i] = bpf_object__find_map_by_name(rw->skel->obj, map_names[i]);
		if (!maps[i]) {
			pr_err("embedded rewrite object has no map %s", map_names[i]);
			return -ENOENT;
		}
		if (reuse_pinned && (err = bpf_map__reuse_fd(maps[i], rw->map_fd[i]))) {
			pr_err("cannot reuse pinned map %s: %s", map_names[i], strerror(-err));
			return err;
		}
	}
	err = rewrite__load(rw->skel);
	if (err) {
		pr_err("the kernel refused the rewrite program (%s); run with --log-level debug for the verifier log",
		       strerror(-err));
		return err;
	}
	for (int i = 0; i < R_COUNT && !reuse_pinned; i++)
		rw->map_fd[i] = dup(bpf_map__fd(maps[i]));
	rw->prog_fd = dup(bpf_program__fd(rw->skel->progs.sl_rewrite));
	return 0;
}

static int write_meta(struct rw *rw)
{
	struct sl_rw_meta meta = { .abi_version = SL_RW_ABI_VERSION, .max_routes = SL_MAX_ROUTES };
	__u32 zero = 0;

	obj_hash(rw->fib, meta.obj_hash);
	return bpf_map_update_elem(rw->map_fd[R_META], &zero, &meta, BPF_ANY) ? -errno : 0;
}

static int pin_prog(struct rw *rw)
{
	char path[PATH_MAX];

	pin_path(rw, path, sizeof(path), "", PROG_PIN);
	unlink(path);
	if (bpf_obj_pin(rw->prog_fd, path)) {
		int err = -errno;

		pr_err("cannot pin %s: %s", path, strerror(-err));
		return err;
	}
	return 0;
}

static int pin_fresh(struct rw *rw)
{
	char path[PATH_MAX];
	int err = write_meta(rw);

	if (err)
		return err;
	for (int i = 0; i < R_COUNT; i++) {
		pin_path(rw, path, sizeof(path), MAP_PIN_PREFIX, pin_names[i]);
		unlink(path);
		if (bpf_obj_pin(rw->map_fd[i], path)) {
			err = -errno;
			pr_err("cannot pin %s: %s", path, strerror(-err));
			return err;
		}
	}
	return pin_prog(rw);
}

/* Adopts the pins, loading a new program against them when the pinned object differs.
 * -ESTALE when the pins are of another ABI or the program cannot use them (the caller
 * replaces them). */
static int adopt(struct rw *rw)
{
	char path[PATH_MAX];
	struct sl_rw_meta meta;
	__u32 zero = 0;
	__u8 hash[32];
	int err;

	if (bpf_map_lookup_elem(rw->map_fd[R_META], &zero, &meta))
		return -errno;
	if (meta.abi_version != SL_RW_ABI_VERSION || meta.max_routes != SL_MAX_ROUTES) {
		pr_warn("pinned rewrite datapath in %s has ABI %u (%u routes), this agent needs ABI %u (%u routes); replacing it: established flows start over",
			rw->pin_dir, meta.abi_version, meta.max_routes, SL_RW_ABI_VERSION, SL_MAX_ROUTES);
		return -ESTALE;
	}
	obj_hash(rw->fib, hash);
	pin_path(rw, path, sizeof(path), "", PROG_PIN);
	if (!rw->reload && memcmp(hash, meta.obj_hash, 32) == 0) {
		rw->prog_fd = bpf_obj_get(path);
		if (rw->prog_fd >= 0) {
			pr_info("adopted the pinned rewrite datapath in %s", rw->pin_dir);
			return 0;
		}
	}
	err = load_skeleton(rw, true);
	if (err) {
		/* Rewrite state is worth less than a datapath: start it afresh. */
		pr_warn("cannot load the rewrite program against the maps pinned in %s; replacing them: established flows start over",
			rw->pin_dir);
		rewrite__destroy(rw->skel);
		rw->skel = NULL;
		if (rw->prog_fd >= 0)
			close(rw->prog_fd);
		rw->prog_fd = -1;
		return -ESTALE;
	}
	err = pin_prog(rw);
	if (!err)
		err = write_meta(rw);
	if (!err)
		pr_info("adopted the pinned rewrite maps in %s with an upgraded program", rw->pin_dir);
	return err;
}

/* ---- tables ----------------------------------------------------------------------- */

void *rw_map_mem(int fd, size_t len)
{
	void *mem = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);

	return mem == MAP_FAILED ? NULL : mem;
}

static int map_tables(struct rw *rw)
{
	rw->routes_len = rw_page_round(rw_elem_size(sizeof(struct sl_rw_route_table)) * SL_GEN_SLOTS);
	rw->filter_len = rw_page_round(rw_elem_size(sizeof(struct sl_rw_filter)) * SL_GEN_SLOTS);
	rw->info_len = rw_page_round(rw_elem_size(sizeof(struct sl_rw_backend_info)) * SL_RW_BACKEND_SLOTS);
	rw->routes_mem = rw_map_mem(rw->map_fd[R_ROUTES], rw->routes_len);
	if (!rw->routes_mem)
		return -errno;
	rw->filter_mem = rw_map_mem(rw->map_fd[R_FILTER], rw->filter_len);
	if (!rw->filter_mem)
		return -errno;
	rw->info = rw_map_mem(rw->map_fd[R_BACKENDS], rw->info_len);
	if (!rw->info)
		return -errno;
	return 0;
}

void rw_maglev_release(struct rw_maglev *m)
{
	if (m->mem)
		munmap(m->mem, m->len);
	if (m->fd >= 0)
		close(m->fd);
	m->mem = NULL;
	m->fd = -1;
	m->cap = 0;
}

int rw_maglev_map(struct rw_maglev *m, int fd, uint32_t cap)
{
	size_t len = rw_page_round(RW_ROW_BYTES * cap);
	void *mem = rw_map_mem(fd, len);

	if (!mem)
		return -errno;
	m->fd = fd;
	m->mem = mem;
	m->len = len;
	m->cap = cap;
	return 0;
}

/* Picks up the Maglev maps a previous agent installed (adoption). */
static void adopt_maglev(struct rw *rw)
{
	for (__u32 slot = 0; slot < SL_GEN_SLOTS; slot++) {
		struct bpf_map_info info = { 0 };
		__u32 id = 0, len = sizeof(info);
		int fd;

		if (bpf_map_lookup_elem(rw->map_fd[R_MAGLEV], &slot, &id) || !id)
			continue;
		fd = bpf_map_get_fd_by_id(id);
		if (fd < 0)
			continue;
		if (bpf_obj_get_info_by_fd(fd, &info, &len) || rw_maglev_map(&rw->mg[slot], fd, info.max_entries))
			close(fd);
	}
}

/* ---- open / close ------------------------------------------------------------------ */

int rw__set_chained(struct rw *rw, bool on)
{
	__u32 zero = 0, id = 0;
	struct bpf_prog_info info = { 0 };
	__u32 len = sizeof(info);

	if (rw->chain_fd < 0)
		return -EBADF;
	if (!on)
		return bpf_map_delete_elem(rw->chain_fd, &zero) && errno != ENOENT ? -errno : 0;
	/* Already there (an adopted agent): leave it, no update needed. */
	if (bpf_map_lookup_elem(rw->chain_fd, &zero, &id) == 0 && bpf_obj_get_info_by_fd(rw->prog_fd, &info, &len) == 0 &&
	    id == info.id)
		return 0;
	return bpf_map_update_elem(rw->chain_fd, &zero, &rw->prog_fd, BPF_ANY) ? -errno : 0;
}

struct rw *rw__open(const struct rw_opts *opts)
{
	struct rw *rw = calloc(1, sizeof(*rw));
	int err;

	if (!rw)
		return NULL;
	for (int i = 0; i < R_COUNT; i++)
		rw->map_fd[i] = -1;
	for (int i = 0; i < SL_GEN_SLOTS; i++)
		rw->mg[i].fd = -1;
	rw->prog_fd = -1;
	rw->chain_fd = opts->chain_fd;
	rw->fib = opts->fib;
	rw->reload = opts->reload;
	rw->ncpus = libbpf_num_possible_cpus();
	rw->live_names = calloc(SL_MAX_ROUTES, sizeof(*rw->live_names));
	if (rw->ncpus <= 0 || !rw->live_names) {
		err = -ENOMEM;
		goto fail;
	}
	if (opts->pin_dir && opts->pin_dir[0]) {
		snprintf(rw->pin_dir, sizeof(rw->pin_dir), "%s", opts->pin_dir);
		err = open_pinned_maps(rw);
		if (err == 0) {
			err = adopt(rw);
			if (err == -ESTALE) {
				close_maps(rw);
				rw__destroy_pins(rw->pin_dir);
				err = -ENOENT;
			} else if (err) {
				goto fail;
			}
		}
		if (err == -ENOENT) {
			close_maps(rw);
			err = load_skeleton(rw, false);
			if (!err)
				err = pin_fresh(rw);
		}
		if (err)
			goto fail;
	} else {
		err = load_skeleton(rw, false);
		if (err)
			goto fail;
	}
	err = map_tables(rw);
	if (err) {
		pr_err("cannot map the rewrite tables: %s", strerror(-err));
		goto fail;
	}
	adopt_maglev(rw);
	if (rw->chain_fd >= 0) {
		err = rw__set_chained(rw, true);
		if (err) {
			pr_err("cannot chain the rewrite program after inspection: %s", strerror(-err));
			goto fail;
		}
	}
	return rw;
fail:
	rw__close(rw);
	errno = -err;
	return NULL;
}

void rw__close(struct rw *rw)
{
	if (!rw)
		return;
	close_maps(rw);
	if (rw->prog_fd >= 0)
		close(rw->prog_fd);
	rewrite__destroy(rw->skel);
	if (rw->routes_mem)
		munmap(rw->routes_mem, rw->routes_len);
	if (rw->filter_mem)
		munmap(rw->filter_mem, rw->filter_len);
	if (rw->info)
		munmap(rw->info, rw->info_len);
	for (int i = 0; i < SL_GEN_SLOTS; i++)
		rw_maglev_release(&rw->mg[i]);
	rw_pending_free(rw->pending);
	rw_pending_free(rw->live);
	rw_status_free(rw);
	free(rw->live_names);
	free(rw);
}

int rw__prog_fd(const struct rw *rw)
{
	return rw->prog_fd;
}

uint32_t rw__routes_used(const struct rw *rw)
{
	return rw->n_live;
}

/* ---- flows and pins ------------------------------------------------------------------- */

static int clear_hash(int fd)
{
	struct sl_flow key, next;
	void *prev = NULL;

	/* Deleting while walking restarts the walk: take the first key each time. */
	while (bpf_map_get_next_key(fd, prev, &next) == 0) {
		key = next;
		if (bpf_map_delete_elem(fd, &key) && errno != ENOENT)
			return -errno;
	}
	return 0;
}

int rw__flush_flows(struct rw *rw)
{
	__u32 zero = 0;
	__u64 epoch = 0;
	int err = clear_hash(rw->map_fd[R_CT]);

	if (!err)
		err = clear_hash(rw->map_fd[R_RNAT]);
	/* A new epoch makes every flow cache entry stale at once. */
	if (!err && bpf_map_lookup_elem(rw->map_fd[R_EPOCH], &zero, &epoch) == 0) {
		epoch++;
		if (bpf_map_update_elem(rw->map_fd[R_EPOCH], &zero, &epoch, BPF_ANY))
			err = -errno;
	}
	return err;
}

int rw__destroy_pins(const char *pin_dir)
{
	char path[PATH_MAX];
	int err = 0;

	for (int i = 0; i < R_COUNT; i++) {
		snprintf(path, sizeof(path), "%s/%s%s", pin_dir, MAP_PIN_PREFIX, pin_names[i]);
		if (unlink(path) && errno != ENOENT && !err)
			err = -errno;
	}
	snprintf(path, sizeof(path), "%s/%s", pin_dir, PROG_PIN);
	if (unlink(path) && errno != ENOENT && !err)
		err = -errno;
	return err;
}
