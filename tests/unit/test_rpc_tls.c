// SPDX-License-Identifier: Apache-2.0
/*
 * test_rpc_tls.c — the gRPC wrapper's server-side guards (common/rpc.h): certificate
 * rotation with rpc_server__reload_tls() — a stream opened before it keeps flowing, a
 * connection made after it sees the new certificate, and broken files change nothing —
 * and the authorize hook, which every call passes (known method or not) before a handler
 * may run. Certificates come from the openssl CLI in a temporary folder.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "common/rpc.h"

#define M_ECHO "/t.Test/Echo"
#define M_DENIED "/t.Test/Denied"
#define M_STREAM "/t.Test/Stream"
#define CALL_MS 5000
#define EC "-newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes"

static char dir[64];
static atomic_int handled; /* handler runs */
static atomic_int asked;   /* authorize hook runs */
static char last_method[256];

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

static const char *file(const char *name)
{
	static char buf[8][128];
	static int i;

	i = (i + 1) % 8;
	snprintf(buf[i], sizeof(buf[i]), "%s/%s", dir, name);
	return buf[i];
}

/* A server certificate for the name old.test and one for new.test, one CA, one client. */
static int make_pki(void **state)
{
	(void)state;
	snprintf(dir, sizeof(dir), "/tmp/sluice-test-rpc-tls.XXXXXX");
	if (!mkdtemp(dir))
		return -1;
	sh("cd %s && openssl req -x509 %s -keyout ca.key -out ca.crt -days 1 -subj /CN=test-ca 2>/dev/null", dir, EC);
	for (int i = 0; i < 2; i++) {
		const char *name = i ? "new" : "old";

		sh("cd %s && printf 'subjectAltName=DNS:%s.test\\nextendedKeyUsage=serverAuth\\n' > %s.ext &&"
		   " openssl req %s -keyout %s.key -out %s.csr -subj /CN=%s 2>/dev/null && openssl x509 -req -in %s.csr"
		   " -CA ca.crt -CAkey ca.key -set_serial %d -days 1 -extfile %s.ext -out %s.crt 2>/dev/null",
		   dir, name, name, EC, name, name, name, name, i + 10, name, name);
	}
	sh("cd %s && openssl req %s -keyout cli.key -out cli.csr -subj '/O=sluice:agent/CN=n1' 2>/dev/null &&"
	   " openssl x509 -req -in cli.csr -CA ca.crt -CAkey ca.key -set_serial 3 -days 1 -out cli.crt 2>/dev/null",
	   dir, EC);
	/* The server's files, as a daemon would be pointed at them. */
	sh("cd %s && cp old.crt server.crt && cp old.key server.key", dir);
	return 0;
}

static int remove_pki(void **state)
{
	(void)state;
	sh("rm -rf -- '%s'", dir);
	return 0;
}

static enum rpc_code echo(void *user, const struct rpc_peer *peer, const uint8_t *req, size_t req_len,
			  struct rpc_buf *resp, char *errmsg, size_t errlen)
{
	(void)user;
	(void)peer;
	(void)errmsg;
	(void)errlen;
	atomic_fetch_add(&handled, 1);
	resp->data = malloc(req_len ? req_len : 1);
	memcpy(resp->data, req, req_len);
	resp->len = req_len;
	return RPC_OK;
}

static void stream_echo(void *user, struct rpc_stream *s, void *stream_user, const uint8_t *msg, size_t len)
{
	(void)user;
	(void)stream_user;
	rpc_stream__send(s, msg, len);
}

static const struct rpc_stream_ops stream_ops = { .on_message = stream_echo };

/* Denies M_DENIED and every method the server does not have. */
static enum rpc_code authorize(void *arg, const struct rpc_peer *peer, const char *method, char *why, size_t len)
{
	(void)arg;
	atomic_fetch_add(&asked, 1);
	snprintf(last_method, sizeof(last_method), "%s", method);
	if (strcmp(method, M_ECHO) == 0 || strcmp(method, M_STREAM) == 0)
		return RPC_OK;
	snprintf(why, len, "'%s' may not call %s", peer->identity, method);
	return RPC_PERMISSION_DENIED;
}

static struct rpc_server *start(const struct rpc_tls *tls, bool guard, int *port)
{
	struct rpc_server_opts so = { .listen = "127.0.0.1:0", .tls = tls };
	struct rpc_server *srv;

	if (guard)
		so.authorize = authorize;
	srv = rpc_server__new(&so);
	assert_non_null(srv);
	assert_int_equal(rpc_server__add_unary(srv, M_ECHO, echo, NULL), 0);
	assert_int_equal(rpc_server__add_unary(srv, M_DENIED, echo, NULL), 0);
	assert_int_equal(rpc_server__add_stream(srv, M_STREAM, &stream_ops, NULL), 0);
	*port = rpc_server__start(srv);
	assert_true(*port > 0);
	return srv;
}

/* A channel of its own (no shared connection) that checks the server's name. */
static struct rpc_channel *channel(int port, const struct rpc_tls *tls, const char *name)
{
	struct rpc_channel_opts o = { .target_name_override = name, .own_connection = true };
	char target[32];
	struct rpc_channel *ch;

	snprintf(target, sizeof(target), "127.0.0.1:%d", port);
	ch = rpc_channel__new(target, tls, &o);
	assert_non_null(ch);
	return ch;
}

static enum rpc_code call(struct rpc_channel *ch, const char *method, struct rpc_status *st)
{
	struct rpc_buf resp = { 0 };
	enum rpc_code code;

	code = rpc_channel__unary(ch, method, (const uint8_t *)"hi", 2, CALL_MS, &resp, st);
	if (code == RPC_OK)
		assert_memory_equal(resp.data, "hi", 2);
	free(resp.data);
	return code;
}

static void roundtrip(struct rpc_client_stream *cs, const char *text)
{
	struct rpc_buf msg = { 0 };
	struct rpc_status st;

	assert_int_equal(rpc_client_stream__send(cs, (const uint8_t *)text, strlen(text)), 0);
	assert_int_equal(rpc_client_stream__next(cs, CALL_MS, &msg, &st), RPC_EV_MESSAGE);
	assert_int_equal(msg.len, strlen(text));
	assert_memory_equal(msg.data, text, msg.len);
	free(msg.data);
}

static void test_reload(void **state)
{
	struct rpc_tls srv_tls = { file("server.crt"), file("server.key"), file("ca.crt") };
	struct rpc_tls cli_tls = { file("cli.crt"), file("cli.key"), file("ca.crt") };
	struct rpc_channel *old_ch, *ch;
	struct rpc_client_stream *cs;
	struct rpc_server *srv;
	struct rpc_status st;
	char err[1024];
	int port;

	(void)state;
	srv = start(&srv_tls, false, &port);

	/* A stream up on the old certificate. */
	old_ch = channel(port, &cli_tls, "old.test");
	cs = rpc_client_stream__open(old_ch, M_STREAM);
	assert_non_null(cs);
	roundtrip(cs, "before");
	ch = channel(port, &cli_tls, "new.test");
	assert_int_equal(call(ch, M_ECHO, &st), RPC_UNAVAILABLE); /* the server is still old.test */
	rpc_channel__free(ch);

	/* Broken files: refused, nothing changes. */
	sh("cd %s && cp new.crt server.crt", dir); /* the new certificate with the old key */
	assert_int_equal(rpc_server__reload_tls(srv, err, sizeof(err)), -EKEYREJECTED);
	assert_non_null(strstr(err, "the running credentials stay"));
	ch = channel(port, &cli_tls, "old.test");
	assert_int_equal(call(ch, M_ECHO, &st), RPC_OK);
	rpc_channel__free(ch);

	/* Rotated: new connections see new.test; the old stream never noticed. */
	sh("cd %s && cp new.key server.key", dir);
	assert_int_equal(rpc_server__reload_tls(srv, err, sizeof(err)), 0);
	ch = channel(port, &cli_tls, "new.test");
	assert_int_equal(call(ch, M_ECHO, &st), RPC_OK);
	rpc_channel__free(ch);
	ch = channel(port, &cli_tls, "old.test");
	assert_int_equal(call(ch, M_ECHO, &st), RPC_UNAVAILABLE);
	rpc_channel__free(ch);
	roundtrip(cs, "after");
	/* Reloading twice before a handshake keeps only the newest. */
	assert_int_equal(rpc_server__reload_tls(srv, err, sizeof(err)), 0);
	assert_int_equal(rpc_server__reload_tls(srv, err, sizeof(err)), 0);
	roundtrip(cs, "still");

	rpc_client_stream__close(cs);
	rpc_channel__free(old_ch);
	rpc_server__free(srv);

	/* A plaintext server has nothing to reload. */
	srv = start(NULL, false, &port);
	assert_int_equal(rpc_server__reload_tls(srv, err, sizeof(err)), -EOPNOTSUPP);
	rpc_server__free(srv);
	sh("cd %s && cp old.crt server.crt && cp old.key server.key", dir);
}

static void test_authorize(void **state)
{
	struct rpc_tls srv_tls = { file("server.crt"), file("server.key"), file("ca.crt") };
	struct rpc_tls cli_tls = { file("cli.crt"), file("cli.key"), file("ca.crt") };
	struct rpc_client_stream *cs;
	struct rpc_buf msg = { 0 };
	struct rpc_channel *ch;
	struct rpc_server *srv;
	struct rpc_status st;
	int port;

	(void)state;
	srv = start(&srv_tls, true, &port);
	ch = channel(port, &cli_tls, "old.test");
	atomic_store(&handled, 0);
	atomic_store(&asked, 0);

	assert_int_equal(call(ch, M_ECHO, &st), RPC_OK);
	assert_int_equal(atomic_load(&handled), 1);
	/* Refused before the handler: the hook's message, no run. */
	assert_int_equal(call(ch, M_DENIED, &st), RPC_PERMISSION_DENIED);
	assert_string_equal(st.message, "'n1' may not call " M_DENIED);
	assert_int_equal(atomic_load(&handled), 1);
	/* A method the server does not have is asked about too (default deny). */
	assert_int_equal(call(ch, "/t.Test/Nope", &st), RPC_PERMISSION_DENIED);
	assert_string_equal(last_method, "/t.Test/Nope");
	/* Streams pass the same gate. */
	cs = rpc_client_stream__open(ch, M_STREAM);
	roundtrip(cs, "ok");
	rpc_client_stream__close(cs);
	cs = rpc_client_stream__open(ch, "/t.Test/Sneaky");
	assert_int_equal(rpc_client_stream__next(cs, CALL_MS, &msg, &st), RPC_EV_CLOSED);
	assert_int_equal(st.code, RPC_PERMISSION_DENIED);
	rpc_client_stream__close(cs);
	assert_int_equal(atomic_load(&asked), 5);

	rpc_channel__free(ch);
	rpc_server__free(srv);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_reload),
		cmocka_unit_test(test_authorize),
	};
	int ret;

	rpc__init();
	ret = cmocka_run_group_tests(tests, make_pki, remove_pki);
	rpc__shutdown();
	return ret;
}
