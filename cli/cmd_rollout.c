// SPDX-License-Identifier: Apache-2.0
/*
 * cmd_rollout.c — `sluicectl rollout start|status|pause|resume|abort|undo`,
 * `get rollouts` and `describe rollout`, and the parsing of their flags and argument
 * (called from args.c). Each is one control call; status --watch polls GetRollout.
 * What they print is in render_rollout.c.
 */
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cli/cli.h"
#include "cli/config.h"
#include "cli/conn.h"
#include "cli/render.h"
#include "cli/rollout.h"
#include "cli/spec.h"
#include "common/policy.h"

__attribute__((format(printf, 2, 3))) static int usage(FILE *err, const char *fmt, ...)
{
	char msg[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	cli__error(err, "%s", msg);
	return -EINVAL;
}

static bool parse_id(const char *s, uint64_t *out)
{
	char *end;

	if (!s || *s < '0' || *s > '9')
		return false;
	errno = 0;
	*out = strtoull(s, &end, 10);
	return !errno && *end == '\0' && *out > 0;
}

/* "2%", "0.5%" or "2": percentage points, more than 0 and at most 100. */
static bool parse_points(const char *s, double *out)
{
	char *end;

	errno = 0;
	*out = strtod(s, &end);
	if (end == s || errno)
		return false;
	if (*end == '%')
		end++;
	return *end == '\0' && *out > 0 && *out <= 100 && !isnan(*out);
}

int cli_rollout__option(struct cli_opts *o, int opt_id, const char *val, FILE *err)
{
	uint32_t pct;
	long long ms;

	switch (opt_id) {
	case OPT_CANARY:
	case OPT_BATCH:
		if (policy__parse_percent(val, &pct) || pct == 0 || pct > 100)
			return usage(err, "--%s '%s' is not a share of the agents (1%%-100%%, like 10%%)",
				     opt_id == OPT_CANARY ? "canary" : "batch", val);
		if (opt_id == OPT_CANARY) {
			o->canary_percent = pct;
			o->canary_set = true;
		} else {
			o->batch_percent = pct;
			o->batch_set = true;
		}
		break;
	case OPT_ACK_TIMEOUT:
		ms = cli_config__duration_ms(val);
		if (ms < 1000)
			return usage(err, "--ack-timeout '%s' is not a duration of at least 1s (like 60s or 2m)", val);
		o->ack_timeout_ms = (int)ms;
		break;
	case OPT_MAX_DROP:
		if (!parse_points(val, &o->max_drop_change))
			return usage(err, "--max-drop-change '%s' is not a number of percentage points (0-100, like 2%%)",
				     val);
		break;
	case OPT_WATCH:
		o->watch = true;
		break;
	case OPT_DIFF:
		if (!parse_id(val, &o->diff_revision))
			return usage(err, "--diff '%s' is not a revision number (list them with: sluicectl get revisions)",
				     val);
		break;
	case OPT_NO_ROLLOUT:
		o->no_rollout = true;
		break;
	case OPT_AGENT:
		if (strncmp(val, "unix:", 5) != 0 || !val[5])
			return usage(err, "--agent '%s' is not unix:PATH (the agent's admin socket, like unix:/var/lib/sluice/gw1/admin.sock)",
				     val);
		o->agent = val + 5;
		break;
	default:
		break;
	}
	return 0;
}

int cli_rollout__args(struct cli_opts *o, enum cli_cmd cmd, const char *arg, FILE *err)
{
	switch (cmd) {
	case CLI_CMD_ROLLOUT_START:
		if (!parse_id(arg, &o->revision))
			return usage(err, "'%s' is not a revision number (list them with: sluicectl get revisions)", arg);
		if (o->batch_set && o->canary_set && o->batch_percent < o->canary_percent)
			fprintf(err, "sluicectl: note: batches (%u%%) are smaller than the canary (%u%%)\n",
				o->batch_percent, o->canary_percent);
		return 0;
	case CLI_CMD_ROLLOUT_STATUS:
		if (arg && !parse_id(arg, &o->rollout_id))
			return usage(err, "'%s' is not a rollout id (list them with: sluicectl get rollouts)", arg);
		return 0;
	case CLI_CMD_ROLLOUT_PAUSE:
	case CLI_CMD_ROLLOUT_RESUME:
	case CLI_CMD_ROLLOUT_ABORT:
	case CLI_CMD_ROLLOUT_UNDO:
	case CLI_CMD_DESCRIBE_ROLLOUT:
		if (!parse_id(arg, &o->rollout_id))
			return usage(err, "'%s' is not a rollout id (list them with: sluicectl get rollouts)", arg);
		return 0;
	case CLI_CMD_STATUS:
		if (!o->agent)
			return usage(err, "status needs --agent unix:PATH (the agent's admin socket, by default STATE-DIR/admin.sock on its node)");
		return 0;
	default:
		return 0;
	}
}

/* ---- calls -------------------------------------------------------------------------------- */

/* Fills spec's selector from "k=v,k2=v2" (checked by the parser) into entries that point
 * into *copy. 0 or -ENOMEM; the caller frees *copy, *entries and *ptrs. */
static int selector(const char *sel, Sluice__V1__RolloutSpec *spec, char **copy,
		    Sluice__V1__RolloutSpec__SelectorEntry **entries, Sluice__V1__RolloutSpec__SelectorEntry ***ptrs)
{
	size_t n = 1, i = 0;
	char *save = NULL, *item;

	for (const char *p = sel; *p; p++)
		n += *p == ',';
	*copy = strdup(sel);
	*entries = calloc(n, sizeof(**entries));
	*ptrs = calloc(n, sizeof(**ptrs));
	if (!*copy || !*entries || !*ptrs)
		return -ENOMEM;
	for (item = strtok_r(*copy, ",", &save); item && i < n; item = strtok_r(NULL, ",", &save), i++) {
		char *eq = strchr(item, '=');

		sluice__v1__rollout_spec__selector_entry__init(&(*entries)[i]);
		*eq = '\0';
		(*entries)[i].key = item;
		(*entries)[i].value = eq + 1;
		(*ptrs)[i] = &(*entries)[i];
	}
	spec->n_selector = i;
	spec->selector = *ptrs;
	return 0;
}

/* Prints a rollout as o asks. */
static void print_rollout(const struct cli_opts *o, const Sluice__V1__Rollout *r, FILE *out)
{
	if (cli_render__structured(o))
		cli_render__data(o, cli_rollout__json(r), out);
	else
		cli_rollout__describe(r, (int64_t)time(NULL), out);
}

static int start(const struct cli_opts *o, struct cli_conn *c, FILE *out)
{
	Sluice__V1__StartRolloutRequest req = SLUICE__V1__START_ROLLOUT_REQUEST__INIT;
	Sluice__V1__RolloutSpec spec = SLUICE__V1__ROLLOUT_SPEC__INIT;
	Sluice__V1__RolloutGates gates = SLUICE__V1__ROLLOUT_GATES__INIT;
	Sluice__V1__RolloutSpec__SelectorEntry *entries = NULL, **ptrs = NULL;
	Sluice__V1__StartRolloutResponse *resp = NULL;
	struct rpc_status st;
	char *copy = NULL;
	int rc = CLI_EXIT_FAIL;

	if (o->selector && selector(o->selector, &spec, &copy, &entries, &ptrs)) {
		cli__error(c->err, "out of memory");
		goto cleanup;
	}
	spec.canary_percent = o->canary_percent;
	spec.batch_percent = o->batch_percent;
	spec.interval_seconds = o->interval_set ? (uint32_t)((o->interval_ms + 999) / 1000) : 0;
	gates.ack_timeout_seconds = (uint32_t)((o->ack_timeout_ms + 999) / 1000);
	gates.max_drop_rate_change = o->max_drop_change;
	req.revision = o->revision;
	req.spec = &spec;
	req.gates = &gates;
	req.message = (char *)(o->message ? o->message : "");
	if (cli_conn__call(c, CLI_METHOD("StartRollout"), &req.base, &sluice__v1__start_rollout_response__descriptor,
			   (ProtobufCMessage **)&resp, &st) != RPC_OK) {
		cli_conn__report(c, "rollout start", &st);
		goto cleanup;
	}
	if (resp->rollout)
		print_rollout(o, resp->rollout, out);
	if (resp->rollout && !cli_render__structured(o))
		fprintf(out, "\nfollow it with: sluicectl rollout status %llu --watch\n",
			(unsigned long long)resp->rollout->id);
	rc = CLI_EXIT_OK;
cleanup:
	if (resp)
		sluice__v1__start_rollout_response__free_unpacked(resp, NULL);
	free(copy);
	free(entries);
	free(ptrs);
	return rc;
}

/* GetRollout id into *resp; RPC_OK or the failure, reported. */
static enum rpc_code get(struct cli_conn *c, uint64_t id, const char *what, Sluice__V1__GetRolloutResponse **resp)
{
	Sluice__V1__GetRolloutRequest req = SLUICE__V1__GET_ROLLOUT_REQUEST__INIT;
	struct rpc_status st;
	enum rpc_code code;

	req.id = id;
	code = cli_conn__call(c, CLI_METHOD("GetRollout"), &req.base, &sluice__v1__get_rollout_response__descriptor,
			      (ProtobufCMessage **)resp, &st);
	if (code == RPC_OK && !(*resp)->rollout) {
		sluice__v1__get_rollout_response__free_unpacked(*resp, NULL);
		*resp = NULL;
		st.code = code = RPC_DATA_LOSS;
		snprintf(st.message, sizeof(st.message), "an answer without the rollout");
	}
	if (code != RPC_OK)
		cli_conn__report(c, what, &st);
	return code;
}

static bool finished(const Sluice__V1__Rollout *r)
{
	return r->state != SLUICE__V1__ROLLOUT_STATE__ROLLOUT_STATE_RUNNING &&
	       r->state != SLUICE__V1__ROLLOUT_STATE__ROLLOUT_STATE_PAUSED;
}

/* The line --watch prints when piped, without its time (to see whether it changed). */
static char *watch_line(const Sluice__V1__Rollout *r)
{
	char *buf = NULL, *sp;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);

	if (!f)
		return NULL;
	cli_rollout__line(r, 0, f);
	fclose(f);
	sp = buf ? strchr(buf, ' ') : NULL;
	if (sp)
		memmove(buf, sp + 1, strlen(sp + 1) + 1);
	return buf;
}

static int status(const struct cli_opts *o, struct cli_conn *c, FILE *out)
{
	Sluice__V1__GetRolloutResponse *resp = NULL;
	char *last = NULL, *line;
	uint64_t id = o->rollout_id;
	int rc = CLI_EXIT_FAIL;

	for (;;) {
		if (get(c, id, o->cmd_name, &resp) != RPC_OK)
			break;
		id = resp->rollout->id; /* the newest stays the one first seen */
		if (!o->watch || (cli_render__structured(o) && finished(resp->rollout))) {
			print_rollout(o, resp->rollout, out);
		} else if (!cli_render__structured(o) && o->tty) {
			fputs("\033[H\033[2J", out);
			cli_rollout__describe(resp->rollout, (int64_t)time(NULL), out);
		} else if (!cli_render__structured(o)) {
			line = watch_line(resp->rollout);
			if (line && (!last || strcmp(line, last) != 0))
				cli_rollout__line(resp->rollout, (int64_t)time(NULL), out);
			free(last);
			last = line;
		}
		fflush(out);
		if (!o->watch) {
			rc = CLI_EXIT_OK;
			break;
		}
		if (finished(resp->rollout)) {
			rc = resp->rollout->state == SLUICE__V1__ROLLOUT_STATE__ROLLOUT_STATE_SUCCEEDED ? CLI_EXIT_OK :
													    CLI_EXIT_FAIL;
			break;
		}
		sluice__v1__get_rollout_response__free_unpacked(resp, NULL);
		resp = NULL;
		usleep((useconds_t)o->interval_ms * 1000);
	}
	free(last);
	if (resp)
		sluice__v1__get_rollout_response__free_unpacked(resp, NULL);
	return rc;
}

static int action(const struct cli_opts *o, struct cli_conn *c, FILE *out)
{
	static const char *const methods[] = {
		[CLI_CMD_ROLLOUT_PAUSE] = CLI_METHOD("PauseRollout"),
		[CLI_CMD_ROLLOUT_RESUME] = CLI_METHOD("ResumeRollout"),
		[CLI_CMD_ROLLOUT_ABORT] = CLI_METHOD("AbortRollout"),
		[CLI_CMD_ROLLOUT_UNDO] = CLI_METHOD("UndoRollout"),
	};
	Sluice__V1__RolloutActionRequest req = SLUICE__V1__ROLLOUT_ACTION_REQUEST__INIT;
	Sluice__V1__RolloutActionResponse *resp = NULL;
	struct rpc_status st;
	json_t *j;
	int rc = CLI_EXIT_FAIL;

	req.id = o->rollout_id;
	req.reason = (char *)(o->message ? o->message : "");
	if (cli_conn__call(c, methods[o->cmd], &req.base, &sluice__v1__rollout_action_response__descriptor,
			   (ProtobufCMessage **)&resp, &st) != RPC_OK) {
		cli_conn__report(c, o->cmd_name, &st);
		goto cleanup;
	}
	if (o->cmd == CLI_CMD_ROLLOUT_UNDO && cli_render__structured(o)) {
		j = json_pack("{s:I, s:o}", "revision", (json_int_t)resp->revision, "rollout",
			      resp->rollout ? cli_rollout__json(resp->rollout) : json_null());
		cli_render__data(o, j, out);
	} else {
		if (o->cmd == CLI_CMD_ROLLOUT_UNDO)
			fprintf(out, "revision %llu stored with the content from before rollout %llu; rolling it out:\n\n",
				(unsigned long long)resp->revision, (unsigned long long)o->rollout_id);
		if (resp->rollout)
			print_rollout(o, resp->rollout, out);
	}
	rc = CLI_EXIT_OK;
cleanup:
	if (resp)
		sluice__v1__rollout_action_response__free_unpacked(resp, NULL);
	return rc;
}

static int list(const struct cli_opts *o, struct cli_conn *c, FILE *out, FILE *err)
{
	Sluice__V1__ListRolloutsRequest req = SLUICE__V1__LIST_ROLLOUTS_REQUEST__INIT;
	Sluice__V1__ListRolloutsResponse *resp = NULL;
	struct rpc_status st;
	json_t *a;

	req.limit = o->limit ? o->limit : 50;
	if (cli_conn__call(c, CLI_METHOD("ListRollouts"), &req.base, &sluice__v1__list_rollouts_response__descriptor,
			   (ProtobufCMessage **)&resp, &st) != RPC_OK) {
		cli_conn__report(c, "get rollouts", &st);
		return CLI_EXIT_FAIL;
	}
	if (cli_render__structured(o)) {
		a = json_array();
		for (size_t i = 0; a && i < resp->n_rollouts; i++)
			json_array_append_new(a, cli_rollout__json(resp->rollouts[i]));
		cli_render__data(o, a, out);
	} else if (o->output == CLI_OUT_NAME) {
		for (size_t i = 0; i < resp->n_rollouts; i++)
			fprintf(out, "%llu\n", (unsigned long long)resp->rollouts[i]->id);
	} else if (resp->n_rollouts == 0) {
		fprintf(err, "No rollouts yet: apply a policy, or start one with sluicectl rollout start REVISION.\n");
	} else {
		cli_rollout__table(resp->rollouts, resp->n_rollouts, (int64_t)time(NULL), out);
	}
	sluice__v1__list_rollouts_response__free_unpacked(resp, NULL);
	return CLI_EXIT_OK;
}

int cli_cmd__rollout(const struct cli_opts *o, FILE *out, FILE *err)
{
	struct cli_conn c = { 0 };
	int rc = CLI_EXIT_FAIL;

	if (cli_conn__open(&c, o, err))
		return CLI_EXIT_FAIL;
	switch (o->cmd) {
	case CLI_CMD_ROLLOUT_START:
		rc = start(o, &c, out);
		break;
	case CLI_CMD_ROLLOUT_STATUS:
	case CLI_CMD_DESCRIBE_ROLLOUT:
		rc = status(o, &c, out);
		break;
	case CLI_CMD_ROLLOUT_PAUSE:
	case CLI_CMD_ROLLOUT_RESUME:
	case CLI_CMD_ROLLOUT_ABORT:
	case CLI_CMD_ROLLOUT_UNDO:
		rc = action(o, &c, out);
		break;
	case CLI_CMD_GET_ROLLOUTS:
		rc = list(o, &c, out, err);
		break;
	default:
		cli__error(err, "internal: %s is not a rollout command", o->cmd_name);
		break;
	}
	cli_conn__close(&c);
	return rc;
}
