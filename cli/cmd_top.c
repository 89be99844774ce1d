// SPDX-License-Identifier: Apache-2.0
/*
 * cmd_top.c — `sluicectl top [NODE] [-l SELECTOR] [--interval D] [--count N]`: polls
 * the agents' status (GetAgent for one node, ListAgents otherwise) every interval and
 * shows per-rule packet and byte rates (top.c). On a terminal the frame is redrawn in
 * place with ANSI escapes until Ctrl-C or --count frames; piped (or with -o json|yaml)
 * it prints plain frames, skipping those taken before any rate is known (up to a
 * warm-up bound; at once when no agent reports at all), and stops after --count frames
 * (default 1).
 *
 * -o json prints one JSON object per frame (cli_top__json), one per line; -o yaml
 * prints one YAML document per frame.
 */
#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <time.h>
#include <unistd.h>

#include "cli/cli.h"
#include "cli/conn.h"
#include "cli/render.h"
#include "cli/table.h"
#include "cli/top.h"
#include "sluice/v1/control.pb-c.h"

/* Piped output waits at most this long for a first rate before printing anyway:
 * three of the agents' default 5 s status intervals. */
#define WARMUP_MS 15000

static volatile sig_atomic_t stop;

static void on_signal(int sig)
{
	stop = 1;
}

static int64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Sleeps ms, waking early when a signal sets stop. */
static void nap(int ms)
{
	int64_t until = now_ms() + ms;

	while (!stop && now_ms() < until) {
		int64_t left = until - now_ms();
		struct timespec ts = { .tv_sec = left / 1000, .tv_nsec = (left % 1000) * 1000000 };

		nanosleep(&ts, NULL);
	}
}

/* One poll into *agents (the response to free). 0, or -1 after reporting the failure. */
static int poll_agents(struct cli_conn *c, const struct cli_opts *o, ProtobufCMessage **resp,
		       Sluice__V1__AgentInfo *const **agents, size_t *n)
{
	struct rpc_status st;
	enum rpc_code code;

	if (o->node) {
		Sluice__V1__GetAgentRequest req = SLUICE__V1__GET_AGENT_REQUEST__INIT;
		Sluice__V1__GetAgentResponse *r;

		req.node_id = (char *)o->node;
		code = cli_conn__call(c, CLI_METHOD("GetAgent"), &req.base, &sluice__v1__get_agent_response__descriptor,
				      resp, &st);
		if (code == RPC_NOT_FOUND) {
			cli__error(c->err, "top: no agent named '%s' (list them with: sluicectl get agents)", o->node);
			return -1;
		}
		r = (Sluice__V1__GetAgentResponse *)*resp;
		*agents = r && r->agent ? &r->agent : NULL;
		*n = r && r->agent ? 1 : 0;
	} else {
		Sluice__V1__ListAgentsRequest req = SLUICE__V1__LIST_AGENTS_REQUEST__INIT;
		Sluice__V1__ListAgentsRequest__SelectorEntry e[16], *ep[16];
		char sel[512], *save = NULL, *item;
		Sluice__V1__ListAgentsResponse *r;

		snprintf(sel, sizeof(sel), "%s", o->selector ? o->selector : "");
		for (item = strtok_r(sel, ",", &save); item && req.n_selector < 16; item = strtok_r(NULL, ",", &save)) {
			char *eq = strchr(item, '=');

			sluice__v1__list_agents_request__selector_entry__init(&e[req.n_selector]);
			*eq = '\0'; /* the parser checked every item has one */
			e[req.n_selector].key = item;
			e[req.n_selector].value = eq + 1;
			ep[req.n_selector] = &e[req.n_selector];
			req.n_selector++;
		}
		req.selector = ep;
		code = cli_conn__call(c, CLI_METHOD("ListAgents"), &req.base,
				      &sluice__v1__list_agents_response__descriptor, resp, &st);
		r = (Sluice__V1__ListAgentsResponse *)*resp;
		*agents = r ? r->agents : NULL;
		*n = r ? r->n_agents : 0;
	}
	if (code != RPC_OK) {
		cli_conn__report(c, "top", &st);
		return -1;
	}
	return 0;
}

static int terminal_lines(void)
{
	struct winsize ws;

	if (ioctl(STDOUT_FILENO, TIOCGWINSZ, &ws) == 0 && ws.ws_row > 0)
		return ws.ws_row;
	return 0;
}

static void title(const struct cli_opts *o, const struct cli_top *t, char *buf, size_t len)
{
	char ts[40], every[16];
	size_t agents, reporting;

	cli_top__agents(t, &agents, &reporting);
	cli_fmt__time((int64_t)time(NULL), ts, sizeof(ts));
	snprintf(every, sizeof(every), o->interval_ms % 1000 ? "%dms" : "%ds",
		 o->interval_ms % 1000 ? o->interval_ms : o->interval_ms / 1000);
	if (o->node)
		snprintf(buf, len, "sluice top: agent %s (%s), every %s, %s%s", o->node,
			 reporting ? "reporting" : "no recent status", every, ts,
			 cli_top__measured(t) ? "" : " (measuring: agents report every few seconds)");
	else
		snprintf(buf, len, "sluice top: %zu agent%s%s%s (%zu reporting), every %s, %s%s", agents,
			 agents == 1 ? "" : "s", o->selector ? " matching " : "", o->selector ? o->selector : "",
			 reporting, every, ts, cli_top__measured(t) ? "" : " (measuring: agents report every few seconds)");
}

int cli_cmd__top(const struct cli_opts *o, FILE *out, FILE *err)
{
	bool ansi = o->tty && !cli_render__structured(o);
	uint32_t limit = o->frames ? o->frames : (ansi ? 0 : 1), printed = 0;
	struct sigaction sa = { .sa_handler = on_signal }, old_int, old_term;
	struct cli_top *t = NULL;
	struct cli_conn c = { 0 };
	int64_t started = now_ms();
	size_t agents_n, reporting;
	char head[512];
	int rc = CLI_EXIT_FAIL;

	t = cli_top__new();
	if (!t) {
		cli__error(err, "top: out of memory");
		return CLI_EXIT_FAIL;
	}
	if (cli_conn__open(&c, o, err))
		goto cleanup;
	stop = 0;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGINT, &sa, &old_int);
	sigaction(SIGTERM, &sa, &old_term);
	if (ansi)
		fputs("\033[?25l\033[2J", out); /* hide the cursor, clear the screen */
	while (!stop) {
		Sluice__V1__AgentInfo *const *agents = NULL;
		ProtobufCMessage *resp = NULL;
		size_t n = 0;

		if (poll_agents(&c, o, &resp, &agents, &n)) {
			if (resp)
				protobuf_c_message_free_unpacked(resp, NULL);
			goto restore;
		}
		if (cli_top__update(t, agents, n, (int64_t)time(NULL))) {
			protobuf_c_message_free_unpacked(resp, NULL);
			cli__error(err, "top: out of memory");
			goto restore;
		}
		protobuf_c_message_free_unpacked(resp, NULL);
		cli_top__agents(t, &agents_n, &reporting);
		/* Piped, a frame without rates is worth printing only when none can come. */
		if (ansi || cli_top__measured(t) || reporting == 0 || now_ms() - started >= WARMUP_MS) {
			if (o->output == CLI_OUT_YAML)
				fputs("---\n", out);
			if (o->output == CLI_OUT_JSON) {
				char *s = NULL;
				json_t *j = cli_top__json(t, (int64_t)time(NULL));

				s = j ? json_dumps(j, JSON_COMPACT | JSON_PRESERVE_ORDER) : NULL;
				fprintf(out, "%s\n", s ? s : "null");
				free(s);
				json_decref(j);
			} else if (o->output == CLI_OUT_YAML) {
				cli_render__yaml(cli_top__json(t, (int64_t)time(NULL)), out);
			} else {
				title(o, t, head, sizeof(head));
				cli_top__print(t, head, ansi, ansi ? terminal_lines() : 0, out);
				if (!ansi && (!limit || printed + 1 < limit))
					fputc('\n', out);
			}
			fflush(out);
			printed++;
			if (limit && printed >= limit)
				break;
		}
		nap(o->interval_ms);
	}
	rc = CLI_EXIT_OK;
restore:
	if (ansi)
		fputs("\033[?25h", out); /* the cursor back */
	fflush(out);
	sigaction(SIGINT, &old_int, NULL);
	sigaction(SIGTERM, &old_term, NULL);
cleanup:
	cli_conn__close(&c);
	cli_top__free(t);
	return rc;
}
