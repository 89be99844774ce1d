// SPDX-License-Identifier: Apache-2.0
/* test_agent_state.c — the agent's last-known-good policy file: round trip, atomic
 * replacement, every kind of damage detected (never a crash), missing file, dir lock,
 * and the startup restore (applied once when loaded afresh, never when adopted). */
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "common/policy.h"
#include "state.h"

struct fixture {
	char dir[64];
	char path[128];
};

static int setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));

	assert_non_null(f);
	snprintf(f->dir, sizeof(f->dir), "/tmp/sluice-state-XXXXXX");
	assert_non_null(mkdtemp(f->dir));
	snprintf(f->path, sizeof(f->path), "%s/%s", f->dir, STATE_FILE);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;
	char cmd[128];

	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", f->dir);
	assert_int_equal(system(cmd), 0);
	free(f);
	return 0;
}

static const uint8_t policy_a[] = { 0x0a, 0x05, 'r', 'u', 'l', 'e', '1', 0x10, 0x0a };
static const char hash_a[] = "3b1f0c8e5a2d4f6b8a9c0d1e2f3a4b5c6d7e8f901a2b3c4d5e6f708192a3b4c5";

static long file_size(const char *path)
{
	struct stat st;

	assert_int_equal(stat(path, &st), 0);
	return (long)st.st_size;
}

static void test_round_trip(void **state)
{
	struct fixture *f = *state;
	struct agent_state st;

	assert_int_equal(state__save(f->dir, 42, hash_a, policy_a, sizeof(policy_a)), 0);
	assert_int_equal(state__load(f->dir, &st, NULL, 0), 0);
	assert_int_equal(st.revision, 42);
	assert_string_equal(st.hash, hash_a);
	assert_int_equal(st.policy_len, sizeof(policy_a));
	assert_memory_equal(st.policy, policy_a, sizeof(policy_a));
	state__release(&st);
	assert_null(st.policy);
	/* No temp file is left behind. */
	char tmp[160];
	snprintf(tmp, sizeof(tmp), "%s/.%s.tmp", f->dir, STATE_FILE);
	assert_int_equal(access(tmp, F_OK), -1);
	assert_int_equal(file_size(f->path) > 0, 1);
}

static void test_replace_keeps_newest(void **state)
{
	struct fixture *f = *state;
	struct agent_state st;
	const uint8_t policy_b[] = { 0x0a, 0x01, 'x' };

	assert_int_equal(state__save(f->dir, 1, "h1", policy_a, sizeof(policy_a)), 0);
	assert_int_equal(state__save(f->dir, 2, "h2", policy_b, sizeof(policy_b)), 0);
	assert_int_equal(state__load(f->dir, &st, NULL, 0), 0);
	assert_int_equal(st.revision, 2);
	assert_string_equal(st.hash, "h2");
	assert_int_equal(st.policy_len, sizeof(policy_b));
	assert_memory_equal(st.policy, policy_b, sizeof(policy_b));
	state__release(&st);
}

static void test_empty_policy(void **state)
{
	struct fixture *f = *state;
	struct agent_state st;

	/* An empty policy (no rules, no routes) packs to zero bytes and is still a policy. */
	assert_int_equal(state__save(f->dir, 7, "", NULL, 0), 0);
	assert_int_equal(state__load(f->dir, &st, NULL, 0), 0);
	assert_int_equal(st.revision, 7);
	assert_string_equal(st.hash, "");
	assert_int_equal(st.policy_len, 0);
	assert_null(st.policy);
	state__release(&st);
}

static void test_missing_file(void **state)
{
	struct fixture *f = *state;
	struct agent_state st;

	assert_int_equal(state__load(f->dir, &st, NULL, 0), -ENOENT);
	assert_int_equal(st.revision, 0);
	assert_null(st.policy);
	assert_int_equal(state__load("/nonexistent/sluice-dir", &st, NULL, 0), -ENOENT);
}

static void expect_bad(struct fixture *f, const char *what)
{
	struct agent_state st;
	char err[256] = "";

	assert_int_equal(state__load(f->dir, &st, err, sizeof(err)), -EBADMSG);
	assert_true(strlen(err) > 0);
	assert_non_null(strstr(err, f->path));
	assert_null(st.policy);
	assert_int_equal(st.revision, 0);
	(void)what;
}

static void write_file(const char *path, const uint8_t *buf, size_t len)
{
	FILE *fp = fopen(path, "wb");

	assert_non_null(fp);
	assert_int_equal(fwrite(buf, 1, len, fp), len);
	assert_int_equal(fclose(fp), 0);
}

static uint8_t *read_file(const char *path, size_t *len)
{
	long size = file_size(path);
	uint8_t *buf = malloc((size_t)size);
	FILE *fp = fopen(path, "rb");

	assert_non_null(buf);
	assert_non_null(fp);
	assert_int_equal(fread(buf, 1, (size_t)size, fp), (size_t)size);
	fclose(fp);
	*len = (size_t)size;
	return buf;
}

static void test_truncated_everywhere(void **state)
{
	struct fixture *f = *state;
	uint8_t *good;
	size_t len;

	assert_int_equal(state__save(f->dir, 9, hash_a, policy_a, sizeof(policy_a)), 0);
	good = read_file(f->path, &len);
	/* Every proper prefix, down to the empty file, is detected. */
	for (size_t cut = 0; cut < len; cut++) {
		write_file(f->path, good, cut);
		expect_bad(f, "truncated");
	}
	free(good);
}

static void test_every_bit_flip_detected(void **state)
{
	struct fixture *f = *state;
	uint8_t *good;
	size_t len;

	assert_int_equal(state__save(f->dir, 9, hash_a, policy_a, sizeof(policy_a)), 0);
	good = read_file(f->path, &len);
	for (size_t i = 0; i < len; i++) {
		for (int bit = 0; bit < 8; bit += 3) {
			good[i] ^= (uint8_t)(1u << bit);
			write_file(f->path, good, len);
			expect_bad(f, "bit flip");
			good[i] ^= (uint8_t)(1u << bit);
		}
	}
	/* Restored bytes load again: the test really damaged and repaired the file. */
	write_file(f->path, good, len);
	struct agent_state st;
	assert_int_equal(state__load(f->dir, &st, NULL, 0), 0);
	state__release(&st);
	free(good);
}

static void test_garbage_and_padding(void **state)
{
	struct fixture *f = *state;
	uint8_t junk[4096];
	uint8_t *good, *padded;
	size_t len;

	for (size_t i = 0; i < sizeof(junk); i++)
		junk[i] = (uint8_t)(i * 131 + 7);
	write_file(f->path, junk, sizeof(junk));
	expect_bad(f, "garbage");

	/* A valid header claiming a huge policy must not make the loader allocate it. */
	assert_int_equal(state__save(f->dir, 3, "h", policy_a, sizeof(policy_a)), 0);
	good = read_file(f->path, &len);
	memset(good + 24, 0xff, 8);
	write_file(f->path, good, len);
	expect_bad(f, "huge length");
	free(good);

	assert_int_equal(state__save(f->dir, 3, "h", policy_a, sizeof(policy_a)), 0);
	good = read_file(f->path, &len);
	padded = calloc(1, len + 5);
	assert_non_null(padded);
	memcpy(padded, good, len);
	write_file(f->path, padded, len + 5);
	expect_bad(f, "padding");
	free(padded);
	free(good);
}

static void test_not_a_regular_file(void **state)
{
	struct fixture *f = *state;

	assert_int_equal(mkdir(f->path, 0700), 0);
	expect_bad(f, "directory");
	assert_int_equal(rmdir(f->path), 0);
}

static void test_bad_arguments(void **state)
{
	struct fixture *f = *state;
	char long_hash[STATE_HASH_MAX + 1];

	memset(long_hash, 'a', sizeof(long_hash) - 1);
	long_hash[sizeof(long_hash) - 1] = '\0';
	assert_int_equal(state__save(f->dir, 1, long_hash, policy_a, sizeof(policy_a)), -EINVAL);
	assert_int_equal(state__save(f->dir, 1, NULL, policy_a, sizeof(policy_a)), -EINVAL);
	assert_int_equal(state__save(f->dir, 1, "h", NULL, 3), -EINVAL);
	assert_int_equal(state__save("/nonexistent/sluice-dir", 1, "h", policy_a, sizeof(policy_a)), -ENOENT);
	/* A failed save leaves no file behind. */
	assert_int_equal(access(f->path, F_OK), -1);
	state__release(NULL);
}

static void test_failed_save_keeps_old_file(void **state)
{
	struct fixture *f = *state;
	struct agent_state st;
	char tmp[160];

	assert_int_equal(state__save(f->dir, 5, "h5", policy_a, sizeof(policy_a)), 0);
	/* A directory where the temp file goes makes the next save fail before the rename. */
	snprintf(tmp, sizeof(tmp), "%s/.%s.tmp", f->dir, STATE_FILE);
	assert_int_equal(mkdir(tmp, 0700), 0);
	assert_true(state__save(f->dir, 6, "h6", policy_a, sizeof(policy_a)) < 0);
	assert_int_equal(rmdir(tmp), 0);
	assert_int_equal(state__load(f->dir, &st, NULL, 0), 0);
	assert_int_equal(st.revision, 5);
	assert_string_equal(st.hash, "h5");
	state__release(&st);
}

static void test_lock_dir(void **state)
{
	struct fixture *f = *state;
	int fd, fd2;

	fd = state__lock_dir(f->dir);
	assert_true(fd >= 0);
	/* flock conflicts between open file descriptions, even in one process. */
	fd2 = state__lock_dir(f->dir);
	assert_int_equal(fd2, -EWOULDBLOCK);
	close(fd);
	fd2 = state__lock_dir(f->dir);
	assert_true(fd2 >= 0);
	close(fd2);
}

/* ---- startup restore ------------------------------------------------------------------ */

struct fake_apply {
	int calls;
	int fail_with;
	char seen_rule[64];
};

static int fake_apply(void *ctx, const Sluice__V1__Policy *p, char *err, size_t errlen)
{
	struct fake_apply *fa = ctx;

	fa->calls++;
	if (p->n_rules)
		snprintf(fa->seen_rule, sizeof(fa->seen_rule), "%s", p->rules[0]->name);
	if (fa->fail_with)
		snprintf(err, errlen, "map full");
	return fa->fail_with;
}

/* Saves a real one-rule policy as revision rev; its hash goes to hash. */
static void save_policy(struct fixture *f, uint64_t rev, char hash[POLICY_HASH_HEX])
{
	Sluice__V1__Policy pol = SLUICE__V1__POLICY__INIT;
	Sluice__V1__Rule rule = SLUICE__V1__RULE__INIT, *rp = &rule;
	uint8_t *packed;
	size_t len;

	rule.name = (char *)"block-telnet";
	rule.action = SLUICE__V1__ACTION__ACTION_DROP;
	pol.n_rules = 1;
	pol.rules = &rp;
	assert_int_equal(policy__hash(&pol, hash), 0);
	assert_int_equal(policy__pack(&pol, &packed, &len), 0);
	assert_int_equal(state__save(f->dir, rev, hash, packed, len), 0);
	free(packed);
}

static void test_restore_applies_when_loaded_afresh(void **state)
{
	struct fixture *f = *state;
	struct fake_apply fa = { 0 };
	char hash[POLICY_HASH_HEX], live[STATE_HASH_MAX];
	uint64_t rev;

	save_policy(f, 21, hash);
	assert_int_equal(state__restore(f->dir, false, fake_apply, &fa, &rev, live), 0);
	assert_int_equal(fa.calls, 1);
	assert_string_equal(fa.seen_rule, "block-telnet");
	assert_int_equal(rev, 21);
	assert_string_equal(live, hash);
}

static void test_restore_trusts_adopted_datapath(void **state)
{
	struct fixture *f = *state;
	struct fake_apply fa = { 0 };
	char hash[POLICY_HASH_HEX], live[STATE_HASH_MAX];
	uint64_t rev;

	save_policy(f, 22, hash);
	assert_int_equal(state__restore(f->dir, true, fake_apply, &fa, &rev, live), 0);
	assert_int_equal(fa.calls, 0); /* an unchanged revision is never reloaded */
	assert_int_equal(rev, 22);
	assert_string_equal(live, hash);
}

static void test_restore_failed_apply_reports_nothing_live(void **state)
{
	struct fixture *f = *state;
	struct fake_apply fa = { .fail_with = -E2BIG };
	char hash[POLICY_HASH_HEX], live[STATE_HASH_MAX];
	uint64_t rev;

	save_policy(f, 23, hash);
	assert_int_equal(state__restore(f->dir, false, fake_apply, &fa, &rev, live), -E2BIG);
	assert_int_equal(fa.calls, 1);
	assert_int_equal(rev, 0);
	assert_string_equal(live, "");
}

static void test_restore_ignores_missing_and_bad_files(void **state)
{
	struct fixture *f = *state;
	struct fake_apply fa = { 0 };
	char hash[POLICY_HASH_HEX], live[STATE_HASH_MAX];
	const uint8_t not_a_policy[] = { 0xff, 0xff, 0xff };
	uint64_t rev = 99;

	assert_int_equal(state__restore(f->dir, false, fake_apply, &fa, &rev, live), -ENOENT);
	assert_int_equal(rev, 0);
	assert_int_equal(state__restore(f->dir, true, fake_apply, &fa, &rev, live), -ENOENT);
	assert_int_equal(rev, 0);

	/* Intact file, bytes that are no Policy. */
	assert_int_equal(state__save(f->dir, 24, "h", not_a_policy, sizeof(not_a_policy)), 0);
	assert_int_equal(state__restore(f->dir, false, fake_apply, &fa, &rev, live), -EBADMSG);
	assert_int_equal(rev, 0);

	/* A real policy saved under the wrong hash. */
	save_policy(f, 25, hash);
	{
		struct agent_state st;

		assert_int_equal(state__load(f->dir, &st, NULL, 0), 0);
		assert_int_equal(state__save(f->dir, 25, "0000", st.policy, st.policy_len), 0);
		state__release(&st);
	}
	assert_int_equal(state__restore(f->dir, false, fake_apply, &fa, &rev, live), -EBADMSG);

	/* A truncated file, adopted or not. */
	save_policy(f, 26, hash);
	assert_int_equal(truncate(f->path, 20), 0);
	assert_int_equal(state__restore(f->dir, false, fake_apply, &fa, &rev, live), -EBADMSG);
	assert_int_equal(state__restore(f->dir, true, fake_apply, &fa, &rev, live), -EBADMSG);
	assert_int_equal(rev, 0);
	assert_string_equal(live, "");
	assert_int_equal(fa.calls, 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_round_trip, setup, teardown),
		cmocka_unit_test_setup_teardown(test_replace_keeps_newest, setup, teardown),
		cmocka_unit_test_setup_teardown(test_empty_policy, setup, teardown),
		cmocka_unit_test_setup_teardown(test_missing_file, setup, teardown),
		cmocka_unit_test_setup_teardown(test_truncated_everywhere, setup, teardown),
		cmocka_unit_test_setup_teardown(test_every_bit_flip_detected, setup, teardown),
		cmocka_unit_test_setup_teardown(test_garbage_and_padding, setup, teardown),
		cmocka_unit_test_setup_teardown(test_not_a_regular_file, setup, teardown),
		cmocka_unit_test_setup_teardown(test_bad_arguments, setup, teardown),
		cmocka_unit_test_setup_teardown(test_failed_save_keeps_old_file, setup, teardown),
		cmocka_unit_test_setup_teardown(test_lock_dir, setup, teardown),
		cmocka_unit_test_setup_teardown(test_restore_applies_when_loaded_afresh, setup, teardown),
		cmocka_unit_test_setup_teardown(test_restore_trusts_adopted_datapath, setup, teardown),
		cmocka_unit_test_setup_teardown(test_restore_failed_apply_reports_nothing_live, setup, teardown),
		cmocka_unit_test_setup_teardown(test_restore_ignores_missing_and_bad_files, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
