// SPDX-License-Identifier: Apache-2.0
/*
 * controller.c — see controller.h: the start-up order (store, registry, rollout engine,
 * handlers, bind) and its reverse for stopping, and the server tick that drives
 * periodic work.
 */
#include <errno.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common/cert.h"
#include "common/log.h"
#include "common/policy.h"
#include "access.h"
#include "control.h"
#include "controller.h"
#include "controller_metrics.h"
#include "control_monitor.h"
#include "registry.h"
#include "rollout.h"
#include "store.h"
#include "telemetry.h"

#define TICK_MS 500
/* Idle agent connections are pinged this often, and one that leaves a ping unanswered
 * as long is dropped (its agent OFFLINE): a frozen agent shows within about 10 s, and
 * 10,000 agents cost 2,000 pings a second, not the 5,000 of gRPC's 2 s that swamped a
 * small controller during a reconnect storm (tests/bench/run.sh fanout). */
#define CONTROLLER_KEEPALIVE_MS 5000
#define CERT_CHECK_S 3600 /* how often a running controller looks at its certificate's expiry */

struct controller {
	struct store *st;
	struct registry *reg;
	struct rollout_engine *ro;
	struct rpc_server *srv;
	struct control ctl;
	struct controller_metrics *cm; /* NULL without --metrics */
	struct telemetry *tel;         /* what the agents' monitors report */
	struct control_monitor cmon;
	struct access *access;
	char *cert_file;               /* NULL: plaintext */
	/* Atomic: checked by the tick (server thread) and by a reload (the signal's thread). */
	_Atomic int64_t cert_not_after; /* of the certificate served now; 0: unknown */
	_Atomic int64_t cert_checked;   /* unix time of the last expiry check */
	int port;
};

/* Reads the served certificate's expiry and warns when it is near. */
static void check_cert(struct controller *c)
{
	int64_t now = (int64_t)time(NULL);
	struct cert_info ci;
	char what[4200], why[512];

	c->cert_checked = now;
	if (!c->cert_file)
		return;
	if (cert__read(c->cert_file, &ci, why, sizeof(why))) {
		pr_warn("%s", why);
		return;
	}
	c->cert_not_after = ci.not_after;
	snprintf(what, sizeof(what), "the controller's certificate '%s' (CN=%s)", c->cert_file, ci.cn);
	cert__warn_expiry(what, ci.not_after, now);
}

/* Tells the audit log of a refused Hello. */
static void hello_denied(void *ctx, const struct rpc_peer *peer, const char *object, const char *why)
{
	access__denied(ctx, peer, object, why);
}

static void tick(void *arg)
{
	struct controller *c = arg;

	rollout__tick(c->ro);
	registry__tick(c->reg);
	telemetry__tick(c->tel);
	controller_metrics__refresh(c->cm, c->st, c->reg);
	if (c->cert_file && (int64_t)time(NULL) - c->cert_checked >= CERT_CHECK_S)
		check_cert(c);
}

/* Hello: the revision the agent's labels select. */
static uint64_t select_revision(void *ctx, const struct store_agent *a)
{
	return rollout__select(ctx, a);
}

struct controller *controller__start(const struct controller_opts *opts, char *err, size_t errlen)
{
	struct rpc_server_opts so = {
		.listen = opts->listen,
		.tls = opts->tls,
		.keepalive_ms = opts->keepalive_ms ? opts->keepalive_ms : CONTROLLER_KEEPALIVE_MS,
		.keepalive_timeout_ms = opts->keepalive_timeout_ms ? opts->keepalive_timeout_ms : CONTROLLER_KEEPALIVE_MS,
	};
	struct controller *c = calloc(1, sizeof(*c));
	struct rollout_fleet fleet;
	struct registry_hooks hooks = { 0 };
	int ret;

	if (!c) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	if (opts->metrics) {
		c->cm = controller_metrics__new(opts->metrics);
		if (!c->cm) {
			ret = -errno;
			snprintf(err, errlen, "cannot set up the metrics: %s", strerror(-ret));
			goto fail;
		}
		so.on_call_done = controller_metrics__rpc_done;
		so.on_call_arg = c->cm;
	}
	c->st = store__open(opts->db_path, err, errlen);
	if (!c->st) {
		ret = -errno;
		goto fail;
	}
	if (c->cm)
		store__set_write_observer(c->st, controller_metrics__store_write, c->cm);
	ret = store__agents_mark_offline(c->st, time(NULL));
	if (ret) {
		snprintf(err, errlen, "database '%s': cannot reset agent states: %s", opts->db_path, strerror(-ret));
		goto fail;
	}
	c->reg = registry__new(c->st);
	if (!c->reg) {
		ret = -errno;
		snprintf(err, errlen, "cannot set up the agent registry: %s", strerror(-ret));
		goto fail;
	}
	rollout_fleet__from_registry(&fleet, c->reg);
	c->ro = rollout__new(c->st, &fleet, NULL);
	if (!c->ro) {
		ret = -errno;
		snprintf(err, errlen, "database '%s': cannot load the rollouts: %s", opts->db_path, strerror(-ret));
		goto fail;
	}
	c->access = access__new(c->st);
	if (!c->access) {
		ret = -ENOMEM;
		snprintf(err, errlen, "out of memory");
		goto fail;
	}
	so.authorize = access__authorize;
	so.authorize_arg = c->access;
	c->tel = telemetry__new(c->st);
	if (!c->tel) {
		ret = -errno;
		snprintf(err, errlen, "cannot set up the alert and API usage intake: %s", strerror(-ret));
		goto fail;
	}
	telemetry__attach(c->tel, c->reg);
	c->cmon.st = c->st;
	c->cmon.tel = c->tel;
	hooks.select = select_revision;
	hooks.ctx = c->ro;
	hooks.denied = hello_denied;
	hooks.denied_ctx = c->access;
	registry__set_hooks(c->reg, &hooks);
	if (c->cm)
		registry__set_observer(c->reg, &(struct registry_observer){ controller_metrics__answered, c->cm });
	c->ctl.st = c->st;
	c->ctl.reg = c->reg;
	c->ctl.ro = c->ro;
	c->ctl.rule_capacity = opts->rule_capacity ? opts->rule_capacity : POLICY_DEFAULT_CAPACITY;

	c->srv = rpc_server__new(&so);
	if (!c->srv) {
		ret = -errno;
		snprintf(err, errlen, "cannot set up the gRPC server for %s: %s", opts->listen, strerror(-ret));
		goto fail;
	}
	ret = control__register(c->srv, &c->ctl);
	if (!ret)
		ret = control_monitor__register(c->srv, &c->cmon);
	if (!ret)
		ret = registry__register(c->reg, c->srv);
	if (!ret)
		ret = rpc_server__set_tick(c->srv, TICK_MS, tick, c);
	if (ret) {
		snprintf(err, errlen, "cannot register the gRPC handlers: %s", strerror(-ret));
		goto fail;
	}
	ret = rpc_server__start(c->srv);
	if (ret == -EADDRINUSE) {
		snprintf(err, errlen, "cannot listen on %s: address already in use (another sluice-controller?)",
			 opts->listen);
		goto fail;
	} else if (ret < 0) {
		snprintf(err, errlen, "cannot listen on %s: %s", opts->listen, strerror(-ret));
		goto fail;
	}
	c->port = ret;
	pr_info("serving on %s (port %d) with database '%s'%s", opts->listen, c->port, opts->db_path,
		opts->tls ? "" : " (plaintext)");
	if (opts->tls) {
		c->cert_file = strdup(opts->tls->cert_file);
		check_cert(c);
	}
	return c;
fail:
	controller__stop(c);
	errno = ret < 0 ? -ret : EIO;
	return NULL;
}

int controller__port(const struct controller *c)
{
	return c->port;
}

int controller__reload_tls(struct controller *c, char *err, size_t errlen)
{
	int ret;

	ret = rpc_server__reload_tls(c->srv, err, errlen);
	if (ret)
		return ret;
	check_cert(c);
	pr_info("reloaded the TLS certificate, key and CA from '%s': new connections use them, open streams keep theirs",
		c->cert_file);
	return 0;
}

int64_t controller__cert_not_after(const struct controller *c)
{
	return c->cert_not_after;
}

void controller__stop(struct controller *c)
{
	if (!c)
		return;
	/* The server first: closing its streams marks their agents OFFLINE in the store. */
	rpc_server__free(c->srv);
	telemetry__free(c->tel); /* its watchers went with the server's streams */
	rollout__free(c->ro);
	registry__free(c->reg);
	access__free(c->access);
	free(c->cert_file);
	store__close(c->st);
	controller_metrics__free(c->cm); /* last: the others report to it until they are gone */
	free(c);
}
