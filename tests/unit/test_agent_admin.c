// SPDX-License-Identifier: Apache-2.0
/*
 * test_agent_admin.c — the admin socket answers "status" with the session's status as
 * JSON while the controller is unreachable and the session thread keeps retrying;
 * unknown requests get an error; stale sockets are replaced, live ones and non-sockets
 * are refused; stopping removes the socket file.
 */
#include <errno.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cmocka.h>
#include <jansson.h>

#include "admin.h"
#include "session.h"

/* ---- fake datapath with one rule's counters ----------------------------------------- */

static Sluice__V1__RuleCounters rule = SLUICE__V1__RULE_COUNTERS__INIT;
static Sluice__V1__RuleCounters *rule_ptr = &rule;
static Sluice__V1__InterfaceState iface = SLUICE__V1__INTERFACE_STATE__INIT;
static Sluice__V1__InterfaceState *iface_ptr = &iface;
static Sluice__V1__Status__DropReasonsEntry drop = SLUICE__V1__STATUS__DROP_REASONS_ENTRY__INIT;
static Sluice__V1__Status__DropReasonsEntry *drop_ptr = &drop;

static int fake_apply(void *ctx, const Sluice__V1__Policy *p, char *err, size_t errlen)
{
	return -ENOTSUP;
}

static int fake_fill_status(void *ctx, Sluice__V1__Status *st)
{
	rule.packets++; /* counters move between calls, as real ones do */
	st->n_rules = 1;
	st->rules = &rule_ptr;
	st->n_interfaces = 1;
	st->interfaces = &iface_ptr;
	st->n_drop_reasons = 1;
	st->drop_reasons = &drop_ptr;
	st->rules_used = 1;
	st->rule_capacity = 16384;
	return 0;
}

static uint32_t fake_capacity(void *ctx)
{
	return 16384;
}

static const struct session_dp_ops fake_ops = {
	.apply = fake_apply,
	.fill_status = fake_fill_status,
	.capacity = fake_capacity,
};

/* ---- fixture ------------------------------------------------------------------------- */

static const char *const ifaces[] = { "lo" };

struct fx {
	char dir[64];
	char sock[128];
	struct session *s;
	struct admin *a;
	pthread_t thread;
	atomic_bool stop;
};

static void *run_thread(void *arg)
{
	struct fx *f = arg;

	session__run(f->s, &f->stop);
	return NULL;
}

static int setup(void **state)
{
	struct fx *f = calloc(1, sizeof(*f));
	struct session_opts so = {
		.controller = "127.0.0.1:1", /* nothing listens there */
		.node_id = "gw-7",
		.ifaces = ifaces,
		.n_ifaces = 1,
		.dp = &fake_ops,
		.applied_revision = 12,
		.applied_hash = "feedbeef",
		.backoff_base_ms = 20,
		.backoff_cap_ms = 100,
	};

	assert_non_null(f);
	rule.name = (char *)"block-telnet";
	rule.packets = 0;
	rule.bytes = 4200;
	iface.name = (char *)"lo";
	iface.xdp_mode = (char *)"generic";
	iface.prog_id = 33;
	iface.attached = 1;
	drop.key = (char *)"malformed";
	drop.value = 5;
	snprintf(f->dir, sizeof(f->dir), "/tmp/sluice-admin-XXXXXX");
	assert_non_null(mkdtemp(f->dir));
	snprintf(f->sock, sizeof(f->sock), "%s/admin.sock", f->dir);
	f->s = session__new(&so);
	assert_non_null(f->s);
	assert_int_equal(pthread_create(&f->thread, NULL, run_thread, f), 0);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fx *f = *state;
	char cmd[128];

	admin__stop(f->a);
	atomic_store(&f->stop, true);
	pthread_join(f->thread, NULL);
	session__free(f->s);
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", f->dir);
	assert_int_equal(system(cmd), 0);
	free(f);
	return 0;
}

/* Sends one request line and returns the whole answer (malloc'd). */
static char *ask(const char *path, const char *req)
{
	struct sockaddr_un sun = { .sun_family = AF_UNIX };
	char *buf = calloc(1, 65536);
	size_t len = 0;
	ssize_t n;
	int fd;

	assert_non_null(buf);
	snprintf(sun.sun_path, sizeof(sun.sun_path), "%s", path);
	fd = socket(AF_UNIX, SOCK_STREAM, 0);
	assert_true(fd >= 0);
	assert_int_equal(connect(fd, (struct sockaddr *)&sun, sizeof(sun)), 0);
	assert_int_equal(write(fd, req, strlen(req)), (ssize_t)strlen(req));
	shutdown(fd, SHUT_WR);
	while ((n = read(fd, buf + len, 65535 - len)) > 0)
		len += (size_t)n;
	close(fd);
	return buf;
}

static json_t *ask_json(const char *path, const char *req)
{
	char *out = ask(path, req);
	json_error_t jerr;
	json_t *j = json_loads(out, 0, &jerr);

	if (!j)
		fail_msg("not JSON (%s): %s", jerr.text, out);
	free(out);
	return j;
}

/* ---- tests ------------------------------------------------------------------------ */

static void test_status_while_controller_unreachable(void **state)
{
	struct fx *f = *state;
	json_t *j, *r, *it;
	json_int_t first;

	f->a = admin__start(f->sock, f->s);
	assert_non_null(f->a);
	usleep(300 * 1000); /* the session is failing to connect meanwhile */
	j = ask_json(f->sock, "status\n");
	assert_string_equal(json_string_value(json_object_get(j, "node_id")), "gw-7");
	assert_string_equal(json_string_value(json_object_get(j, "controller")), "127.0.0.1:1");
	assert_true(json_is_false(json_object_get(j, "connected")));
	assert_int_equal(json_integer_value(json_object_get(j, "applied_revision")), 12);
	assert_string_equal(json_string_value(json_object_get(j, "applied_hash")), "feedbeef");
	assert_string_equal(json_string_value(json_object_get(j, "last_error")), "");
	assert_int_equal(json_integer_value(json_object_get(j, "rule_capacity")), 16384);
	assert_int_equal(json_integer_value(json_object_get(j, "rules_used")), 1);
	assert_true(json_integer_value(json_object_get(j, "unix_time")) > 1600000000);
	r = json_array_get(json_object_get(j, "rules"), 0);
	assert_string_equal(json_string_value(json_object_get(r, "name")), "block-telnet");
	assert_int_equal(json_integer_value(json_object_get(r, "bytes")), 4200);
	first = json_integer_value(json_object_get(r, "packets"));
	it = json_array_get(json_object_get(j, "interfaces"), 0);
	assert_string_equal(json_string_value(json_object_get(it, "name")), "lo");
	assert_string_equal(json_string_value(json_object_get(it, "xdp_mode")), "generic");
	assert_int_equal(json_integer_value(json_object_get(it, "prog_id")), 33);
	assert_true(json_is_true(json_object_get(it, "attached")));
	assert_int_equal(json_integer_value(json_object_get(json_object_get(j, "drop_reasons"), "malformed")), 5);
	json_decref(j);

	/* Each request reads fresh counters; surrounding blanks and CRLF are fine. */
	j = ask_json(f->sock, "  status \r\n");
	r = json_array_get(json_object_get(j, "rules"), 0);
	assert_true(json_integer_value(json_object_get(r, "packets")) > first);
	json_decref(j);
}

static void test_many_requests_concurrent_with_session(void **state)
{
	struct fx *f = *state;

	f->a = admin__start(f->sock, f->s);
	assert_non_null(f->a);
	for (int i = 0; i < 50; i++) {
		json_t *j = ask_json(f->sock, "status\n");

		assert_int_equal(json_integer_value(json_object_get(j, "applied_revision")), 12);
		json_decref(j);
	}
}

static void test_unknown_request(void **state)
{
	struct fx *f = *state;
	json_t *j;

	f->a = admin__start(f->sock, f->s);
	assert_non_null(f->a);
	j = ask_json(f->sock, "reboot\n");
	assert_non_null(strstr(json_string_value(json_object_get(j, "error")), "unknown request 'reboot'"));
	json_decref(j);
	/* A request without a newline, ended by the client's shutdown, still counts. */
	j = ask_json(f->sock, "status");
	assert_int_equal(json_integer_value(json_object_get(j, "applied_revision")), 12);
	json_decref(j);
}

static void test_socket_file_lifecycle(void **state)
{
	struct fx *f = *state;
	struct sockaddr_un sun = { .sun_family = AF_UNIX };
	struct admin *other;
	char file[160];
	FILE *fp;
	int fd;

	/* A stale socket (bound, nobody listening) is replaced. */
	snprintf(sun.sun_path, sizeof(sun.sun_path), "%s", f->sock);
	fd = socket(AF_UNIX, SOCK_STREAM, 0);
	assert_int_equal(bind(fd, (struct sockaddr *)&sun, sizeof(sun)), 0);
	close(fd);
	f->a = admin__start(f->sock, f->s);
	assert_non_null(f->a);
	assert_int_equal(access(f->sock, F_OK), 0);

	/* A second agent on the same path is refused while the first answers. */
	other = admin__start(f->sock, f->s);
	assert_null(other);
	assert_int_equal(errno, EADDRINUSE);
	json_decref(ask_json(f->sock, "status\n"));

	/* Stopping removes the file. */
	admin__stop(f->a);
	f->a = NULL;
	assert_int_equal(access(f->sock, F_OK), -1);

	/* A regular file is never deleted to make room. */
	snprintf(file, sizeof(file), "%s/not-a-socket", f->dir);
	fp = fopen(file, "w");
	assert_non_null(fp);
	fclose(fp);
	assert_null(admin__start(file, f->s));
	assert_int_equal(errno, EEXIST);
	assert_int_equal(access(file, F_OK), 0);
	admin__stop(NULL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_status_while_controller_unreachable, setup, teardown),
		cmocka_unit_test_setup_teardown(test_many_requests_concurrent_with_session, setup, teardown),
		cmocka_unit_test_setup_teardown(test_unknown_request, setup, teardown),
		cmocka_unit_test_setup_teardown(test_socket_file_lifecycle, setup, teardown),
	};
	int rc;

	rpc__init();
	rc = cmocka_run_group_tests(tests, NULL, NULL);
	rpc__shutdown();
	return rc;
}
