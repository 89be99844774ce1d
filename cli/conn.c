// SPDX-License-Identifier: Apache-2.0
/*
 * conn.c — sluicectl's channel to the controller and the translation of failed calls
 * into messages that say what to do next. See conn.h.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cli/conn.h"
#include "common/cert.h"

static const char *addr_hint(const struct cli_opts *o, char *buf, size_t len)
{
	switch (o->controller_from) {
	case CLI_ADDR_FLAG:
		return "from --controller";
	case CLI_ADDR_ENV:
		return "from " CLI_ENV_CONTROLLER;
	case CLI_ADDR_CONFIG:
		snprintf(buf, len, "from %s", o->cfg.path);
		return buf;
	default:
		return "the default";
	}
}

void cli_conn__describe(const struct cli_opts *o, const char *what, const struct rpc_status *st, char *buf,
			size_t len)
{
	const char *msg = st && st->message[0] ? st->message : "no details";
	enum rpc_code code = st ? st->code : RPC_UNKNOWN;
	char from[CLI_PATH_MAX + 8];

	switch (code) {
	case RPC_UNAVAILABLE:
		snprintf(buf, len,
			 "%s: cannot reach the controller at %s (%s): %s; check that it runs there, or point sluicectl at it with --controller ADDR, %s=ADDR or 'controller: ADDR' in ~/.config/" CLI_CONFIG_REL "%s",
			 what, o->controller, addr_hint(o, from, sizeof(from)), msg, CLI_ENV_CONTROLLER,
			 o->insecure ? " (if it uses TLS, drop --insecure and give --tls-cert, --tls-key, --tls-ca)"
				     : "; if it runs, it may have refused the TLS handshake: your certificate must be valid and from the controller's CA, and --tls-ca the CA of the controller's (see deploy/pki.sh show FILE)");
		break;
	case RPC_DEADLINE_EXCEEDED:
		snprintf(buf, len,
			 "%s: the controller at %s did not answer within %d ms; check that it is healthy, or allow more time with --timeout",
			 what, o->controller, o->timeout_ms);
		break;
	case RPC_UNAUTHENTICATED:
		snprintf(buf, len,
			 "%s: the controller at %s did not accept our credentials: %s; check --tls-cert and --tls-key (a certificate its CA signed)",
			 what, o->controller, msg);
		break;
	case RPC_PERMISSION_DENIED:
		snprintf(buf, len,
			 "%s: not allowed: %s; reading needs a certificate with O=sluice:viewer, changes need O=sluice:operator, removing agents needs O=sluice:admin",
			 what, msg);
		break;
	case RPC_INVALID_ARGUMENT:
	case RPC_FAILED_PRECONDITION:
		snprintf(buf, len, "%s: the controller refused it: %s; fix that and run the command again", what, msg);
		break;
	case RPC_NOT_FOUND:
		snprintf(buf, len, "%s: not found: %s", what, msg);
		break;
	case RPC_UNIMPLEMENTED:
		snprintf(buf, len,
			 "%s: the controller at %s does not offer this call (%s); it is probably older than sluicectl %s: upgrade it",
			 what, o->controller, msg, SLUICE_VERSION);
		break;
	case RPC_RESOURCE_EXHAUSTED:
		/* The controller's own messages say what ran out and what to do (a full
		 * database); gRPC's (a message over its size limit) do not. */
		if (strstr(msg, "; "))
			snprintf(buf, len, "%s: %s", what, msg);
		else
			snprintf(buf, len, "%s: too large or too many requests: %s; try again later or with less", what,
				 msg);
		break;
	case RPC_ABORTED:
		snprintf(buf, len, "%s: refused: %s", what, msg);
		break;
	case RPC_DATA_LOSS:
		snprintf(buf, len,
			 "%s: the controller at %s sent an answer sluicectl cannot read (%s); are both the same version?", what,
			 o->controller, msg);
		break;
	default:
		snprintf(buf, len, "%s: %s: %s; see the controller's log for details", what, rpc_code__name(code), msg);
		break;
	}
}

void cli_conn__report(const struct cli_conn *c, const char *what, const struct rpc_status *st)
{
	char buf[1200];

	cli_conn__describe(c->o, what, st, buf, sizeof(buf));
	cli__error(c->err, "%s", buf);
}

/* Says so when our own certificate has expired or has less than CERT_WARN_DAYS left. */
static void warn_expiry(const char *path, FILE *err)
{
	int64_t now = (int64_t)time(NULL);
	struct cert_info ci;
	char why[512], when[32];
	struct tm tm;
	time_t t;

	if (cert__read(path, &ci, why, sizeof(why)) || !cert__expires_soon(ci.not_after, now))
		return;
	t = (time_t)ci.not_after;
	gmtime_r(&t, &tm);
	strftime(when, sizeof(when), "%Y-%m-%dT%H:%M:%SZ", &tm);
	if (ci.not_after <= now)
		fprintf(err, "sluicectl: WARNING: your certificate '%s' (CN=%s) expired at %s: the controller will refuse it; ask for a new one (deploy/pki.sh operator)\n",
			path, ci.cn, when);
	else
		fprintf(err, "sluicectl: WARNING: your certificate '%s' (CN=%s) expires at %s, in %lld day%s: ask for a new one (deploy/pki.sh operator)\n",
			path, ci.cn, when, (long long)cert__days_left(ci.not_after, now),
			cert__days_left(ci.not_after, now) == 1 ? "" : "s");
}

int cli_conn__open(struct cli_conn *c, const struct cli_opts *o, FILE *err)
{
	static bool warned;
	struct rpc_tls tls = { .cert_file = o->tls_cert, .key_file = o->tls_key, .ca_file = o->tls_ca };
	int rc;

	memset(c, 0, sizeof(*c));
	c->o = o;
	c->err = err;
	if (o->insecure && !warned) {
		fprintf(err, "sluicectl: WARNING: --insecure: plaintext to %s, no authentication; for local development only\n",
			o->controller);
		warned = true;
	}
	if (!o->insecure && o->tls_cert)
		warn_expiry(o->tls_cert, err);
	rpc__init();
	c->ch = rpc_channel__new(o->controller, o->insecure ? NULL : &tls, NULL);
	if (!c->ch) {
		rc = -(errno ? errno : EINVAL);
		if (o->insecure)
			cli__error(err, "cannot use controller address '%s': %s (write HOST:PORT, like %s)", o->controller,
				   strerror(-rc), CLI_DEFAULT_CONTROLLER);
		else
			cli__error(err,
				   "cannot set up TLS for %s: %s; check that --tls-cert, --tls-key and --tls-ca name readable PEM files",
				   o->controller, strerror(-rc));
		rpc__shutdown();
		return rc;
	}
	return 0;
}

enum rpc_code cli_conn__call(struct cli_conn *c, const char *method, const ProtobufCMessage *req,
			     const ProtobufCMessageDescriptor *rdesc, ProtobufCMessage **resp, struct rpc_status *st)
{
	struct rpc_buf out = { 0 };
	enum rpc_code code;
	uint8_t *buf = NULL;
	size_t len;

	*resp = NULL;
	memset(st, 0, sizeof(*st));
	len = protobuf_c_message_get_packed_size(req);
	buf = malloc(len ? len : 1);
	if (!buf) {
		st->code = RPC_RESOURCE_EXHAUSTED;
		snprintf(st->message, sizeof(st->message), "out of memory");
		return st->code;
	}
	protobuf_c_message_pack(req, buf);
	code = rpc_channel__unary(c->ch, method, buf, len, c->o->timeout_ms, &out, st);
	free(buf);
	if (code != RPC_OK)
		return code;
	*resp = protobuf_c_message_unpack(rdesc, NULL, out.len, out.data);
	free(out.data);
	if (!*resp) {
		st->code = RPC_DATA_LOSS;
		snprintf(st->message, sizeof(st->message), "a %s that does not parse", rdesc->name);
		return st->code;
	}
	return RPC_OK;
}

void cli_conn__close(struct cli_conn *c)
{
	if (!c || !c->ch)
		return;
	rpc_channel__free(c->ch);
	c->ch = NULL;
	rpc__shutdown();
}

enum rpc_code cli_conn__get_revision(struct cli_conn *c, uint64_t rev, const char *what,
				     Sluice__V1__GetRevisionResponse **resp)
{
	Sluice__V1__GetRevisionRequest req = SLUICE__V1__GET_REVISION_REQUEST__INIT;
	struct rpc_status st;
	enum rpc_code code;

	req.revision = rev;
	code = cli_conn__call(c, CLI_METHOD("GetRevision"), &req.base, &sluice__v1__get_revision_response__descriptor,
			      (ProtobufCMessage **)resp, &st);
	if (code != RPC_OK && code != RPC_NOT_FOUND)
		cli_conn__report(c, what, &st);
	return code;
}
