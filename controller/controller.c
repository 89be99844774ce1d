// SPDX-License-Identifier: Apache-2.0
/*
 * controller.c — see controller.h: the start-up order (store, registry, handlers,
 * bind) and its reverse for stopping, and the server tick that drives periodic work.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common/log.h"
#include "common/policy.h"
#include "control.h"
#include "controller.h"
#include "registry.h"
#include "store.h"

#define TICK_MS 500

struct controller {
	struct store *st;
	struct registry *reg;
	struct rpc_server *srv;
	struct control ctl;
	int port;
};

static void tick(void *arg)
{
	struct controller *c = arg;

	registry__tick(c->reg);
}

struct controller *controller__start(const struct controller_opts *opts, char *err, size_t errlen)
{
	struct rpc_server_opts so = {
		.listen = opts->listen,
		.tls = opts->tls,
		.keepalive_ms = opts->keepalive_ms,
		.keepalive_timeout_ms = opts->keepalive_timeout_ms,
	};
	struct controller *c = calloc(1, sizeof(*c));
	int ret;

	if (!c) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	c->st = store__open(opts->db_path, err, errlen);
	if (!c->st) {
		ret = -errno;
		goto fail;
	}
	ret = store__agents_mark_offline(c->st, time(NULL));
	if (ret) {
		snprintf(err, errlen, "database '%s': cannot reset agent states: %s", opts->db_path, strerror(-ret));
		goto fail;
	}
	c->reg = registry__new(c->st);
	if (!c->reg) {
		ret = -errno;
		snprintf(err, errlen, "database '%s': cannot read the newest revision: %s", opts->db_path,
			 strerror(-ret));
		goto fail;
	}
	c->ctl.st = c->st;
	c->ctl.reg = c->reg;
	c->ctl.rule_capacity = opts->rule_capacity ? opts->rule_capacity : POLICY_DEFAULT_CAPACITY;

	c->srv = rpc_server__new(&so);
	if (!c->srv) {
		ret = -errno;
		snprintf(err, errlen, "cannot set up the gRPC server for %s: %s", opts->listen, strerror(-ret));
		goto fail;
	}
	ret = control__register(c->srv, &c->ctl);
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

void controller__stop(struct controller *c)
{
	if (!c)
		return;
	/* The server first: closing its streams marks their agents OFFLINE in the store. */
	rpc_server__free(c->srv);
	registry__free(c->reg);
	store__close(c->st);
	free(c);
}
