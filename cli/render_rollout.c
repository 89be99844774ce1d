// SPDX-License-Identifier: Apache-2.0
/*
 * render_rollout.c — rollouts as sluicectl prints them: the -o json document
 * (CLI_ROLLOUT_SCHEMA in rollout.h), the `rollout status` page, the `get rollouts`
 * table, the one-line form `--watch` prints when piped, and the rollout parts of
 * `apply` (the rollout it started, the dry run's per-agent plan).
 */
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "cli/render.h"
#include "cli/rollout.h"
#include "cli/table.h"

/* "RUNNING" from ROLLOUT_STATE_RUNNING: the enum value's name without its prefix. */
static const char *enum_name(const ProtobufCEnumDescriptor *d, int value)
{
	const ProtobufCEnumValue *v = protobuf_c_enum_descriptor_get_value(d, value);
	const char *u;

	if (!v)
		return "UNKNOWN";
	/* Prefixes end where the value's own words start: after "STATE_" or "AGENT_". */
	u = strstr(v->name, "STATE_");
	if (u)
		return u + 6;
	u = strstr(v->name, "ROLLOUT_AGENT_");
	return u ? u + 14 : v->name;
}

static const char *rollout_state(Sluice__V1__RolloutState s)
{
	return enum_name(&sluice__v1__rollout_state__descriptor, s);
}

static const char *wave_state(Sluice__V1__WaveState s)
{
	return enum_name(&sluice__v1__wave_state__descriptor, s);
}

static const char *agent_state(Sluice__V1__RolloutAgentState s)
{
	return enum_name(&sluice__v1__rollout_agent_state__descriptor, s);
}

static bool put(json_t *o, const char *key, json_t *v)
{
	return v && json_object_set_new(o, key, v) == 0;
}

static json_t *time_json(int64_t t)
{
	char buf[40];

	if (t <= 0)
		return json_null();
	cli_fmt__time(t, buf, sizeof(buf));
	return json_string(buf);
}

static json_t *rate_json(double r)
{
	return r < 0 ? json_null() : json_real(r);
}

static json_t *u64(uint64_t v)
{
	return json_integer((json_int_t)v);
}

static json_t *wave_json(const Sluice__V1__RolloutWave *w)
{
	json_t *o = json_object();

	if (!o || !put(o, "index", u64(w->index)) || !put(o, "state", json_string(wave_state(w->state))) ||
	    !put(o, "agents", u64(w->agents)) || !put(o, "acked", u64(w->acked)) || !put(o, "failed", u64(w->failed)) ||
	    !put(o, "pending", u64(w->pending)) || !put(o, "offline", u64(w->offline)) ||
	    !put(o, "started", time_json(w->started_unix)) || !put(o, "finished", time_json(w->finished_unix))) {
		json_decref(o);
		return NULL;
	}
	return o;
}

static json_t *agent_json(const Sluice__V1__RolloutAgent *a)
{
	json_t *o = json_object();

	if (!o || !put(o, "node_id", json_string(a->node_id)) || !put(o, "wave", u64(a->wave)) ||
	    !put(o, "state", json_string(agent_state(a->state))) ||
	    !put(o, "previous_revision", u64(a->previous_revision)) ||
	    !put(o, "rolled_back", json_boolean(a->rolled_back)) || !put(o, "error", json_string(a->error)) ||
	    !put(o, "drop_rate_before", rate_json(a->drop_rate_before)) ||
	    !put(o, "drop_rate_after", rate_json(a->drop_rate_after))) {
		json_decref(o);
		return NULL;
	}
	return o;
}

json_t *cli_rollout__json(const Sluice__V1__Rollout *r)
{
	json_t *o = json_object(), *sel = json_object(), *strat, *gates, *warn = json_array(), *waves = json_array(),
	       *agents = json_array();
	const Sluice__V1__RolloutSpec *s = r->spec;
	const Sluice__V1__RolloutGates *g = r->gates;

	if (!o || !put(o, "id", u64(r->id)) || !put(o, "revision", u64(r->revision)) ||
	    !put(o, "hash", json_string(r->hash)) || !put(o, "from_revision", u64(r->from_revision)) ||
	    !put(o, "state", json_string(rollout_state(r->state))) || !put(o, "reason", json_string(r->reason)) ||
	    !put(o, "selector", sel))
		goto fail;
	for (size_t i = 0; s && i < s->n_selector; i++)
		if (!put(sel, s->selector[i]->key, json_string(s->selector[i]->value)))
			goto fail;
	strat = json_pack("{s:I, s:I, s:I}", "canary_percent", (json_int_t)(s ? s->canary_percent : 0), "batch_percent",
			  (json_int_t)(s ? s->batch_percent : 0), "interval_seconds",
			  (json_int_t)(s ? s->interval_seconds : 0));
	gates = json_pack("{s:I, s:f}", "ack_timeout_seconds", (json_int_t)(g ? g->ack_timeout_seconds : 0),
			  "max_drop_rate_change", g ? g->max_drop_rate_change : 0.0);
	if (!put(o, "strategy", strat) || !put(o, "gates", gates) || !put(o, "current_wave", u64(r->current_wave)) ||
	    !put(o, "next_wave", time_json(r->next_wave_unix)) || !put(o, "total_agents", u64(r->total_agents)) ||
	    !put(o, "author", json_string(r->author)) || !put(o, "message", json_string(r->message)) ||
	    !put(o, "created", time_json(r->created_unix)) || !put(o, "updated", time_json(r->updated_unix)) ||
	    !put(o, "warnings", warn) || !put(o, "waves", waves))
		goto fail;
	for (size_t i = 0; i < r->n_warnings; i++)
		if (json_array_append_new(warn, json_string(r->warnings[i])))
			goto fail;
	for (size_t i = 0; i < r->n_waves; i++)
		if (json_array_append_new(waves, wave_json(r->waves[i])))
			goto fail;
	if (r->n_agents) {
		if (!put(o, "agents", agents))
			goto fail;
		for (size_t i = 0; i < r->n_agents; i++)
			if (json_array_append_new(agents, agent_json(r->agents[i])))
				goto fail;
	} else {
		json_decref(agents);
	}
	return o;
fail:
	json_decref(o);
	return NULL;
}

/* "env=prod,zone=a", or "every agent" */
static void selector_text(const Sluice__V1__RolloutSpec *s, char *buf, size_t len)
{
	size_t off = 0;

	snprintf(buf, len, "every agent");
	for (size_t i = 0; s && i < s->n_selector && off < len; i++) {
		int n = snprintf(buf + off, len - off, "%s%s=%s", i ? "," : "", s->selector[i]->key, s->selector[i]->value);

		if (n > 0)
			off += (size_t)n;
	}
}

static void strategy_text(const Sluice__V1__RolloutSpec *s, char *buf, size_t len)
{
	char interval[16];

	if (!s || (!s->canary_percent && !s->batch_percent)) {
		snprintf(buf, len, "all at once");
		return;
	}
	cli_fmt__age(s->interval_seconds, interval, sizeof(interval));
	if (s->canary_percent && s->batch_percent)
		snprintf(buf, len, "canary %u%%, then batches of %u%%, %s apart", s->canary_percent, s->batch_percent,
			 interval);
	else if (s->canary_percent)
		snprintf(buf, len, "canary %u%%, then the rest, %s apart", s->canary_percent, interval);
	else
		snprintf(buf, len, "batches of %u%%, %s apart", s->batch_percent, interval);
}

static void ago(int64_t t, int64_t now, char *buf, size_t len)
{
	char age[16];

	if (t <= 0) {
		snprintf(buf, len, "-");
		return;
	}
	cli_fmt__since(t, now, age, sizeof(age));
	snprintf(buf, len, "%s ago", age);
}

static void waves_table(const Sluice__V1__Rollout *r, int64_t now, FILE *out)
{
	static const char *const hdr[] = { "WAVE", "STATE", "AGENTS", "ACKED", "FAILED", "PENDING", "OFFLINE", "STARTED",
					   "FINISHED" };
	struct cli_table *t = cli_table__new(9, hdr);

	for (size_t i = 0; t && i < r->n_waves; i++) {
		const Sluice__V1__RolloutWave *w = r->waves[i];
		char n[6][16], started[24], finished[24];
		const char *row[9] = { n[0], wave_state(w->state), n[1], n[2], n[3], n[4], n[5], started, finished };

		snprintf(n[0], sizeof(n[0]), "%u", w->index + 1);
		snprintf(n[1], sizeof(n[1]), "%u", w->agents);
		snprintf(n[2], sizeof(n[2]), "%u", w->acked);
		snprintf(n[3], sizeof(n[3]), "%u", w->failed);
		snprintf(n[4], sizeof(n[4]), "%u", w->pending);
		snprintf(n[5], sizeof(n[5]), "%u", w->offline);
		ago(w->started_unix, now, started, sizeof(started));
		ago(w->finished_unix, now, finished, sizeof(finished));
		cli_table__add(t, row);
	}
	cli_table__print(t, out, NULL);
	cli_table__free(t);
}

static void agents_table(const Sluice__V1__Rollout *r, FILE *out)
{
	static const char *const hdr[] = { "AGENT", "WAVE", "STATE", "PREVIOUS", "ROLLED-BACK", "DROP-RATE", "ERROR" };
	struct cli_table *t = cli_table__new(7, hdr);

	for (size_t i = 0; t && i < r->n_agents; i++) {
		const Sluice__V1__RolloutAgent *a = r->agents[i];
		char wave[16], prev[24], rate[48] = "-";
		const char *row[7] = { a->node_id, wave, agent_state(a->state), prev, a->rolled_back ? "yes" : "no", rate,
				       a->error };

		snprintf(wave, sizeof(wave), "%u", a->wave + 1);
		snprintf(prev, sizeof(prev), "%llu", (unsigned long long)a->previous_revision);
		if (a->drop_rate_before >= 0 && a->drop_rate_after >= 0)
			snprintf(rate, sizeof(rate), "%.2f%% -> %.2f%%", a->drop_rate_before, a->drop_rate_after);
		else if (a->drop_rate_before >= 0)
			snprintf(rate, sizeof(rate), "%.2f%% before", a->drop_rate_before);
		cli_table__add(t, row);
	}
	cli_table__print(t, out, NULL);
	cli_table__free(t);
}

void cli_rollout__describe(const Sluice__V1__Rollout *r, int64_t now, FILE *out)
{
	char hash[40], buf[512], when[64], age[16];

	cli_fmt__short_hash(r->hash, hash, sizeof(hash));
	fprintf(out, "Rollout:     %llu\n", (unsigned long long)r->id);
	fprintf(out, "Revision:    %llu (hash %s), from revision %llu\n", (unsigned long long)r->revision, hash,
		(unsigned long long)r->from_revision);
	if (r->n_waves)
		fprintf(out, "State:       %s (wave %u of %zu)\n", rollout_state(r->state), r->current_wave + 1, r->n_waves);
	else
		fprintf(out, "State:       %s (no agent was selected)\n", rollout_state(r->state));
	if (r->reason && r->reason[0])
		fprintf(out, "Reason:      %s\n", r->reason);
	selector_text(r->spec, buf, sizeof(buf));
	fprintf(out, "Selector:    %s (%u agents)\n", buf, r->total_agents);
	strategy_text(r->spec, buf, sizeof(buf));
	fprintf(out, "Strategy:    %s\n", buf);
	if (r->gates && r->gates->max_drop_rate_change > 0)
		fprintf(out, "Gates:       every agent answers within %us; drop rate moves at most %.2f points\n",
			r->gates->ack_timeout_seconds, r->gates->max_drop_rate_change);
	else
		fprintf(out, "Gates:       every agent answers within %us\n", r->gates ? r->gates->ack_timeout_seconds : 0);
	cli_fmt__time(r->created_unix, when, sizeof(when));
	cli_fmt__since(r->created_unix, now, age, sizeof(age));
	fprintf(out, "Started:     %s (%s ago) by %s%s%s%s\n", when, age, r->author, r->message[0] ? " (\"" : "",
		r->message, r->message[0] ? "\")" : "");
	if (r->next_wave_unix > now && (r->state == SLUICE__V1__ROLLOUT_STATE__ROLLOUT_STATE_RUNNING)) {
		cli_fmt__age(r->next_wave_unix - now, age, sizeof(age));
		fprintf(out, "Next wave:   in %s\n", age);
	}
	for (size_t i = 0; i < r->n_warnings; i++)
		fprintf(out, "Warning:     %s\n", r->warnings[i]);
	if (r->n_waves) {
		fputc('\n', out);
		waves_table(r, now, out);
	}
	if (r->n_agents) {
		fputc('\n', out);
		agents_table(r, out);
	}
}

void cli_rollout__table(Sluice__V1__Rollout *const *r, size_t n, int64_t now, FILE *out)
{
	static const char *const hdr[] = { "ID", "REVISION", "STATE", "WAVE", "AGENTS", "SELECTOR", "AGE", "AUTHOR",
					   "REASON" };
	struct cli_table *t = cli_table__new(9, hdr);

	for (size_t i = 0; t && i < n; i++) {
		char id[24], rev[24], wave[24], agents[16], sel[256], age[16];
		const char *row[9] = { id, rev, rollout_state(r[i]->state), wave, agents, sel, age, r[i]->author,
				       r[i]->reason };

		snprintf(id, sizeof(id), "%llu", (unsigned long long)r[i]->id);
		snprintf(rev, sizeof(rev), "%llu", (unsigned long long)r[i]->revision);
		if (r[i]->n_waves)
			snprintf(wave, sizeof(wave), "%u/%zu", r[i]->current_wave + 1, r[i]->n_waves);
		else
			snprintf(wave, sizeof(wave), "-");
		snprintf(agents, sizeof(agents), "%u", r[i]->total_agents);
		selector_text(r[i]->spec, sel, sizeof(sel));
		cli_fmt__since(r[i]->created_unix, now, age, sizeof(age));
		cli_table__add(t, row);
	}
	cli_table__print(t, out, NULL);
	cli_table__free(t);
}

void cli_rollout__line(const Sluice__V1__Rollout *r, int64_t now, FILE *out)
{
	char when[40];
	uint32_t acked = 0, failed = 0, pending = 0, offline = 0;

	for (size_t i = 0; i < r->n_waves; i++) {
		acked += r->waves[i]->acked;
		failed += r->waves[i]->failed;
		pending += r->waves[i]->pending;
		offline += r->waves[i]->offline;
	}
	cli_fmt__time(now, when, sizeof(when));
	fprintf(out, "%s rollout %llu %s wave %u/%zu %s: %u/%u acked, %u failed, %u pending, %u offline%s%s\n", when,
		(unsigned long long)r->id, rollout_state(r->state), r->n_waves ? r->current_wave + 1 : 0, r->n_waves,
		r->n_waves ? wave_state(r->waves[r->current_wave < r->n_waves ? r->current_wave : 0]->state) : "-",
		acked, r->total_agents, failed, pending, offline, r->reason[0] ? ": " : "", r->reason);
}

/* ---- apply ---------------------------------------------------------------------------- */

static json_t *counts_json(uint32_t added, uint32_t removed, uint32_t changed)
{
	return json_pack("{s:I, s:I, s:I}", "added", (json_int_t)added, "removed", (json_int_t)removed, "changed",
			 (json_int_t)changed);
}

static json_t *plan_json(const Sluice__V1__AgentPlan *p)
{
	json_t *o = json_object();

	if (!o || !put(o, "node_id", json_string(p->node_id)) ||
	    !put(o, "state", json_string(cli_render__state_name(p->state))) ||
	    !put(o, "selected", json_boolean(p->selected)) ||
	    !put(o, "wave", p->wave >= 0 ? json_integer(p->wave) : json_null()) ||
	    !put(o, "from_revision", u64(p->from_revision)) ||
	    !put(o, "rules", counts_json(p->rules_added, p->rules_removed, p->rules_changed)) ||
	    !put(o, "routes", counts_json(p->routes_added, p->routes_removed, p->routes_changed)) ||
	    !put(o, "rule_count", u64(p->rules)) || !put(o, "rule_capacity", u64(p->rule_capacity)) ||
	    !put(o, "fits", json_boolean(p->fits)) || !put(o, "unchanged", json_boolean(p->unchanged))) {
		json_decref(o);
		return NULL;
	}
	return o;
}

void cli_rollout__apply_json(json_t *j, const Sluice__V1__ApplyPolicyResponse *r)
{
	json_t *warn = json_array(), *plan;

	if (!j)
		return;
	put(j, "rollout_id", u64(r->rollout_id));
	put(j, "waves", u64(r->waves));
	for (size_t i = 0; warn && i < r->n_warnings; i++)
		json_array_append_new(warn, json_string(r->warnings[i]));
	put(j, "warnings", warn);
	if (!r->n_plan)
		return;
	plan = json_array();
	for (size_t i = 0; plan && i < r->n_plan; i++)
		json_array_append_new(plan, plan_json(r->plan[i]));
	put(j, "plan", plan);
}

void cli_rollout__apply_text(const struct cli_opts *o, const Sluice__V1__ApplyPolicyResponse *r, FILE *out)
{
	static const char *const hdr[] = { "AGENT", "STATE", "SELECTED", "WAVE", "FROM", "RULES (+/-/~)",
					   "ROUTES (+/-/~)", "FITS" };
	struct cli_table *t;

	if (r->rollout_id)
		fprintf(out, "rollout %llu started; follow it with: sluicectl rollout status %llu --watch\n",
			(unsigned long long)r->rollout_id, (unsigned long long)r->rollout_id);
	else if (!o->dry_run && !o->no_rollout && r->unchanged)
		fprintf(out, "nothing rolled out; to roll revision %llu out again: sluicectl rollout start %llu\n",
			(unsigned long long)r->revision, (unsigned long long)r->revision);
	if (o->dry_run && !o->no_rollout) {
		if (r->n_plan == 0) {
			fprintf(out, "no agent is known yet: the rollout would select none\n");
		} else {
			fprintf(out, "\nthe rollout would have %u wave%s:\n", r->waves, r->waves == 1 ? "" : "s");
			t = cli_table__new(8, hdr);
			for (size_t i = 0; t && i < r->n_plan; i++) {
				const Sluice__V1__AgentPlan *p = r->plan[i];
				char wave[16], from[24], rules[48], routes[48], fits[48];
				const char *row[8] = { p->node_id, cli_render__state_name(p->state), p->selected ? "yes" : "no",
						       wave, from, rules, routes, fits };

				snprintf(wave, sizeof(wave), p->wave >= 0 ? "%d" : "-", p->wave + 1);
				snprintf(from, sizeof(from), "%llu", (unsigned long long)p->from_revision);
				if (p->unchanged) {
					snprintf(rules, sizeof(rules), "unchanged");
					snprintf(routes, sizeof(routes), "unchanged");
				} else {
					snprintf(rules, sizeof(rules), "+%u -%u ~%u", p->rules_added, p->rules_removed,
						 p->rules_changed);
					snprintf(routes, sizeof(routes), "+%u -%u ~%u", p->routes_added, p->routes_removed,
						 p->routes_changed);
				}
				if (!p->rule_capacity)
					snprintf(fits, sizeof(fits), "?");
				else if (p->fits)
					snprintf(fits, sizeof(fits), "yes (%u/%u)", p->rules, p->rule_capacity);
				else
					snprintf(fits, sizeof(fits), "NO (%u > %u)", p->rules, p->rule_capacity);
				cli_table__add(t, row);
			}
			cli_table__print(t, out, NULL);
			cli_table__free(t);
		}
	}
	for (size_t i = 0; i < r->n_warnings; i++)
		fprintf(out, "warning: %s\n", r->warnings[i]);
}
