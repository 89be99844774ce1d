// SPDX-License-Identifier: Apache-2.0
/*
 * test_agent_tls.c — the agent session's certificate handling (agent/session.h) against a
 * small mTLS controller: Hello and Status carry the client certificate's expiry; after the
 * certificate is renewed and the reload flag is set (what SIGHUP does), the next Status
 * carries the new expiry on the same stream — nothing reconnects, the datapath is never
 * asked to apply anything. Certificates come from deploy/pki.sh.
 */
#include <errno.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "common/cert.h"
#include "common/rpc.h"
#include "session.h"

static char dir[64];

/* What the controller saw, written on its server thread. */
static struct {
	pthread_mutex_t lock;
	int opens;
	int64_t hello_not_after;
	int64_t status_not_after; /* of the newest Status */
	char identity[64];
} seen = { .lock = PTHREAD_MUTEX_INITIALIZER };

static atomic_int applies;

static void sh(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void sh(const char *fmt, ...)
{
	char cmd[2048];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(cmd, sizeof(cmd), fmt, ap);
	va_end(ap);
	if (system(cmd) != 0)
		fail_msg("command failed: %s", cmd);
}

static void pki(const char *args)
{
	const char *data = getenv("SLUICE_TEST_DATA");

	sh("bash %s/../../deploy/pki.sh --dir %s %s >/dev/null", data ? data : "tests/data", dir, args);
}

static const char *file(const char *name)
{
	static char buf[8][128];
	static int i;

	i = (i + 1) % 8;
	snprintf(buf[i], sizeof(buf[i]), "%s/%s", dir, name);
	return buf[i];
}

static int ctl_open(void *user, struct rpc_stream *s, const struct rpc_peer *peer, void **stream_user)
{
	(void)user;
	(void)s;
	(void)stream_user;
	pthread_mutex_lock(&seen.lock);
	seen.opens++;
	snprintf(seen.identity, sizeof(seen.identity), "%s", peer->identity);
	pthread_mutex_unlock(&seen.lock);
	return 0;
}

static void ctl_message(void *user, struct rpc_stream *s, void *stream_user, const uint8_t *msg, size_t len)
{
	Sluice__V1__AgentMessage *m = sluice__v1__agent_message__unpack(NULL, len, msg);

	(void)user;
	(void)s;
	(void)stream_user;
	if (!m)
		return;
	pthread_mutex_lock(&seen.lock);
	if (m->msg_case == SLUICE__V1__AGENT_MESSAGE__MSG_HELLO)
		seen.hello_not_after = m->hello->cert_not_after_unix;
	else if (m->msg_case == SLUICE__V1__AGENT_MESSAGE__MSG_STATUS)
		seen.status_not_after = m->status->cert_not_after_unix;
	pthread_mutex_unlock(&seen.lock);
	sluice__v1__agent_message__free_unpacked(m, NULL);
}

static const struct rpc_stream_ops ctl_ops = { .on_open = ctl_open, .on_message = ctl_message };

static int dp_apply(void *ctx, const Sluice__V1__Policy *p, char *err, size_t errlen)
{
	(void)ctx;
	(void)p;
	(void)err;
	(void)errlen;
	atomic_fetch_add(&applies, 1);
	return 0;
}

static int dp_fill(void *ctx, Sluice__V1__Status *st)
{
	(void)ctx;
	(void)st;
	return 0;
}

static uint32_t dp_capacity(void *ctx)
{
	(void)ctx;
	return 16;
}

static const struct session_dp_ops dp_ops = { dp_apply, dp_fill, dp_capacity };

struct runner {
	struct session *s;
	atomic_bool stop;
	pthread_t thread;
};

static void *run(void *arg)
{
	struct runner *r = arg;

	session__run(r->s, &r->stop);
	return NULL;
}

/* Waits up to 5 s for the newest Status to carry want. */
static bool status_says(int64_t want)
{
	for (int i = 0; i < 100; i++) {
		int64_t got;

		pthread_mutex_lock(&seen.lock);
		got = seen.status_not_after;
		pthread_mutex_unlock(&seen.lock);
		if (got == want)
			return true;
		usleep(50 * 1000);
	}
	return false;
}

static void test_expiry_reported_and_reloaded(void **state)
{
	struct rpc_tls srv_tls = { file("controller-ctl.crt"), file("controller-ctl.key"), file("ca.crt") };
	struct rpc_tls agent_tls = { file("agent-gw1.crt"), file("agent-gw1.key"), file("ca.crt") };
	struct rpc_server_opts so = { .listen = "127.0.0.1:0", .tls = &srv_tls };
	struct session_opts o = { 0 };
	struct runner r = { 0 };
	struct rpc_server *srv;
	struct cert_info first, renewed;
	atomic_bool reload = false;
	char target[32], err[256];
	int port;

	(void)state;
	srv = rpc_server__new(&so);
	assert_non_null(srv);
	assert_int_equal(rpc_server__add_stream(srv, SESSION_METHOD, &ctl_ops, NULL), 0);
	port = rpc_server__start(srv);
	assert_true(port > 0);
	snprintf(target, sizeof(target), "127.0.0.1:%d", port);
	assert_int_equal(cert__read(agent_tls.cert_file, &first, err, sizeof(err)), 0);

	o.controller = target;
	o.tls = &agent_tls;
	o.node_id = "gw1";
	o.dp = &dp_ops;
	o.status_interval_ms = 200;
	o.reload_tls = &reload;
	r.s = session__new(&o);
	assert_non_null(r.s);
	assert_int_equal(pthread_create(&r.thread, NULL, run, &r), 0);

	/* Hello and Status say when the certificate expires. */
	assert_true(status_says(first.not_after));
	pthread_mutex_lock(&seen.lock);
	assert_int_equal(seen.hello_not_after, first.not_after);
	assert_string_equal(seen.identity, "gw1");
	pthread_mutex_unlock(&seen.lock);

	/* Renewed for 3 days and reloaded: the next Status says so, on the same stream. */
	sleep(1); /* a different notAfter, to the second */
	pki("--force --days 3 agent gw1");
	assert_int_equal(cert__read(agent_tls.cert_file, &renewed, err, sizeof(err)), 0);
	assert_true(renewed.not_after < first.not_after);
	atomic_store(&reload, true);
	assert_true(status_says(renewed.not_after));
	assert_false(atomic_load(&reload)); /* the session took the request */
	pthread_mutex_lock(&seen.lock);
	assert_int_equal(seen.opens, 1);
	pthread_mutex_unlock(&seen.lock);
	assert_int_equal(atomic_load(&applies), 0);

	/* Broken files on reload: logged, the stream stays, the old expiry is kept. */
	sh("cp %s/user-vic.key %s/agent-gw1.key", dir, dir);
	atomic_store(&reload, true);
	usleep(1500 * 1000);
	assert_false(atomic_load(&reload));
	assert_true(status_says(renewed.not_after));
	pthread_mutex_lock(&seen.lock);
	assert_int_equal(seen.opens, 1);
	pthread_mutex_unlock(&seen.lock);

	atomic_store(&r.stop, true);
	pthread_join(r.thread, NULL);
	session__free(r.s);
	rpc_server__free(srv);
}

static int setup(void **state)
{
	(void)state;
	snprintf(dir, sizeof(dir), "/tmp/sluice-test-agent-tls.XXXXXX");
	if (!mkdtemp(dir))
		return -1;
	pki("ca");
	pki("controller ctl 127.0.0.1");
	pki("agent gw1");
	pki("operator vic viewer");
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	sh("rm -rf -- '%s'", dir);
	return 0;
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_expiry_reported_and_reloaded),
	};
	int ret;

	rpc__init();
	ret = cmocka_run_group_tests(tests, setup, teardown);
	rpc__shutdown();
	return ret;
}
