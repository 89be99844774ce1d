// SPDX-License-Identifier: Apache-2.0
/*
 * control_rollout.c — the rollout half of ControlService: StartRollout, ListRollouts,
 * GetRollout, Pause/Resume/Abort/UndoRollout, and the dry-run plan ApplyPolicy returns.
 * Handlers act through the rollout engine and read back from the store; a Rollout
 * message points into the store's records, which outlive it until the reply is packed.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/log.h"
#include "common/policy.h"
#include "control_int.h"

/* ---- requests ------------------------------------------------------------------------- */

int control_rollout__request(const Sluice__V1__RolloutSpec *spec, const Sluice__V1__RolloutGates *gates,
			     struct rollout_request *req, struct store_label **labels)
{
	memset(req, 0, sizeof(*req));
	*labels = NULL;
	if (spec) {
		if (spec->n_selector) {
			*labels = calloc(spec->n_selector, sizeof(**labels));
			if (!*labels)
				return -ENOMEM;
			for (size_t i = 0; i < spec->n_selector; i++) {
				(*labels)[i].key = spec->selector[i]->key;
				(*labels)[i].value = spec->selector[i]->value;
			}
		}
		req->selector = *labels;
		req->n_selector = spec->n_selector;
		req->canary_percent = spec->canary_percent;
		req->batch_percent = spec->batch_percent;
		req->interval_seconds = spec->interval_seconds;
	}
	if (gates) {
		req->ack_timeout_seconds = gates->ack_timeout_seconds;
		req->max_drop_rate_change = gates->max_drop_rate_change;
	}
	return 0;
}

/* ---- the Rollout message --------------------------------------------------------------- */

struct rollout_view {
	Sluice__V1__Rollout ro;
	Sluice__V1__RolloutSpec spec;
	Sluice__V1__RolloutGates gates;
	Sluice__V1__RolloutSpec__SelectorEntry *sel, **sel_ptrs;
	Sluice__V1__RolloutWave *waves, **wave_ptrs;
	Sluice__V1__RolloutAgent *agents, **agent_ptrs;
};

static void view_release(struct rollout_view *v)
{
	free(v->sel);
	free(v->sel_ptrs);
	free(v->waves);
	free(v->wave_ptrs);
	free(v->agents);
	free(v->agent_ptrs);
	memset(v, 0, sizeof(*v));
}

static uint64_t shown(uint64_t rev)
{
	return rev == STORE_REVISION_NONE ? 0 : rev;
}

/* Fills v from r and its agents (NULL: a summary without agents and their counts). */
static int view_init(struct rollout_view *v, const struct store_rollout *r, const struct store_rollout_agent *ag,
		     size_t n)
{
	Sluice__V1__Rollout *ro = &v->ro;
	uint32_t total = 0;

	memset(v, 0, sizeof(*v));
	sluice__v1__rollout__init(ro);
	sluice__v1__rollout_spec__init(&v->spec);
	sluice__v1__rollout_gates__init(&v->gates);
	v->sel = calloc(r->n_selector + 1, sizeof(*v->sel));
	v->sel_ptrs = calloc(r->n_selector + 1, sizeof(*v->sel_ptrs));
	v->waves = calloc(r->n_waves + 1, sizeof(*v->waves));
	v->wave_ptrs = calloc(r->n_waves + 1, sizeof(*v->wave_ptrs));
	v->agents = calloc(n + 1, sizeof(*v->agents));
	v->agent_ptrs = calloc(n + 1, sizeof(*v->agent_ptrs));
	if (!v->sel || !v->sel_ptrs || !v->waves || !v->wave_ptrs || !v->agents || !v->agent_ptrs) {
		view_release(v);
		return -ENOMEM;
	}
	for (size_t i = 0; i < r->n_selector; i++) {
		sluice__v1__rollout_spec__selector_entry__init(&v->sel[i]);
		v->sel[i].key = r->selector[i].key;
		v->sel[i].value = r->selector[i].value;
		v->sel_ptrs[i] = &v->sel[i];
	}
	v->spec.n_selector = r->n_selector;
	v->spec.selector = v->sel_ptrs;
	v->spec.canary_percent = r->canary_percent;
	v->spec.batch_percent = r->batch_percent;
	v->spec.interval_seconds = r->interval_seconds;
	v->gates.ack_timeout_seconds = r->ack_timeout_seconds;
	v->gates.max_drop_rate_change = r->max_drop_rate_change;
	for (size_t w = 0; w < r->n_waves; w++) {
		Sluice__V1__RolloutWave *wv = &v->waves[w];

		sluice__v1__rollout_wave__init(wv);
		wv->index = r->waves[w].index;
		wv->state = (Sluice__V1__WaveState)r->waves[w].state;
		wv->agents = r->waves[w].agents;
		wv->started_unix = r->waves[w].started_ms / 1000;
		wv->finished_unix = r->waves[w].finished_ms / 1000;
		v->wave_ptrs[w] = wv;
		total += wv->agents;
	}
	for (size_t i = 0; i < n; i++) {
		Sluice__V1__RolloutAgent *a = &v->agents[i];
		Sluice__V1__RolloutWave *wv = ag[i].wave < r->n_waves ? &v->waves[ag[i].wave] : NULL;

		sluice__v1__rollout_agent__init(a);
		a->node_id = ag[i].node_id;
		a->wave = ag[i].wave;
		a->state = (Sluice__V1__RolloutAgentState)ag[i].state;
		a->previous_revision = shown(ag[i].previous_revision);
		a->rolled_back = ag[i].rolled_back;
		a->error = ag[i].error ? ag[i].error : (char *)"";
		a->drop_rate_before = ag[i].rate_before;
		a->drop_rate_after = ag[i].rate_after;
		v->agent_ptrs[i] = a;
		if (!wv)
			continue;
		switch (ag[i].state) {
		case STORE_MEMBER_ACKED:
			wv->acked++;
			break;
		case STORE_MEMBER_PENDING:
			wv->pending++;
			break;
		case STORE_MEMBER_OFFLINE:
			wv->offline++;
			break;
		case STORE_MEMBER_NACKED:
		case STORE_MEMBER_TIMED_OUT:
		case STORE_MEMBER_DROP_RATE:
			wv->failed++;
			break;
		default:
			break;
		}
	}
	ro->id = r->id;
	ro->revision = r->revision;
	ro->hash = (char *)r->hash;
	ro->from_revision = shown(r->from_revision);
	ro->spec = &v->spec;
	ro->gates = &v->gates;
	ro->state = (Sluice__V1__RolloutState)r->state;
	ro->reason = r->reason ? r->reason : (char *)"";
	ro->current_wave = r->current_wave;
	ro->next_wave_unix = r->next_wave_ms / 1000;
	ro->n_waves = r->n_waves;
	ro->waves = v->wave_ptrs;
	ro->n_agents = n;
	ro->agents = v->agent_ptrs;
	ro->author = r->author ? r->author : (char *)"";
	ro->message = r->message ? r->message : (char *)"";
	ro->created_unix = r->created;
	ro->updated_unix = r->updated;
	ro->n_warnings = r->n_warnings;
	ro->warnings = r->warnings;
	ro->total_agents = total;
	return 0;
}

/* Packs the rollout id (0: the newest) with its agents into *out (whose rollout field it
 * sets), reading it after the engine wrote what it had. */
static enum rpc_code reply_rollout(struct control *ctl, uint64_t id, ProtobufCMessage *out,
				   Sluice__V1__Rollout **field, struct rpc_buf *resp, char *errmsg, size_t errlen)
{
	struct store_rollout_agent *ag = NULL;
	struct rollout_view v = { 0 };
	struct store_rollout r = { 0 };
	size_t n = 0;
	enum rpc_code code;
	int err;

	rollout__flush(ctl->ro);
	err = store__rollout_get(ctl->st, id, &r);
	if (err == -ENOENT && id == 0)
		return control_int__fail(errmsg, errlen, err,
					 "no rollout yet; start one with: sluicectl rollout start REVISION (or apply a policy)");
	if (err == -ENOENT)
		return control_int__fail(errmsg, errlen, err, "rollout %llu does not exist; see sluicectl get rollouts",
					 (unsigned long long)id);
	if (err)
		return control_int__fail(errmsg, errlen, err, "cannot read rollout %llu: %s", (unsigned long long)id,
					 strerror(-err));
	err = store__rollout_agents(ctl->st, r.id, &ag, &n);
	if (!err)
		err = view_init(&v, &r, ag, n);
	if (err) {
		code = control_int__fail(errmsg, errlen, err, "cannot read rollout %llu: %s", (unsigned long long)r.id,
					 strerror(-err));
		goto cleanup;
	}
	*field = &v.ro;
	code = control_int__reply(out, resp, errmsg, errlen);
	*field = NULL;
cleanup:
	view_release(&v);
	store_rollout_agent__free_array(ag, n);
	store_rollout__clear(&r);
	return code;
}

/* ---- handlers ---------------------------------------------------------------------------- */

static enum rpc_code start_rollout(void *user, const struct rpc_peer *peer, const uint8_t *req_buf, size_t req_len,
				   struct rpc_buf *resp, char *errmsg, size_t errlen)
{
	struct control *ctl = user;
	Sluice__V1__StartRolloutRequest *req = NULL;
	Sluice__V1__StartRolloutResponse out = SLUICE__V1__START_ROLLOUT_RESPONSE__INIT;
	Sluice__V1__Policy only = SLUICE__V1__POLICY__INIT;
	struct rollout_request rreq;
	struct store_label *sel = NULL;
	char who[300], why[700];
	uint64_t id = 0;
	enum rpc_code code;
	int err;

	code = control_int__admit(peer, AUTHZ_CHANGE, "StartRollout", errmsg, errlen);
	if (code)
		return code;
	req = sluice__v1__start_rollout_request__unpack(NULL, req_len, req_buf);
	if (!req) {
		code = control_int__fail(errmsg, errlen, -EBADMSG, "the request is not a sluice.v1.StartRolloutRequest");
		goto cleanup;
	}
	/* The rollout part of a policy file, checked as ApplyPolicy checks it there. */
	only.rollout = req->spec;
	err = policy__validate(&only, 0, why, sizeof(why));
	if (err) {
		code = control_int__fail(errmsg, errlen, err, "%s", why);
		goto cleanup;
	}
	err = control_rollout__request(req->spec, req->gates, &rreq, &sel);
	if (err) {
		code = control_int__fail(errmsg, errlen, err, "the controller is out of memory");
		goto cleanup;
	}
	authz__who(peer, who, sizeof(who));
	rreq.revision = req->revision;
	rreq.author = who;
	rreq.message = req->message;
	err = rollout__start(ctl->ro, &rreq, &id, why, sizeof(why));
	if (err) {
		code = control_int__fail(errmsg, errlen, err == -EBUSY ? -EALREADY : err, "%s", why);
		goto cleanup;
	}
	code = reply_rollout(ctl, id, &out.base, &out.rollout, resp, errmsg, errlen);
cleanup:
	free(sel);
	sluice__v1__start_rollout_request__free_unpacked(req, NULL);
	return code;
}

static enum rpc_code list_rollouts(void *user, const struct rpc_peer *peer, const uint8_t *req_buf, size_t req_len,
				   struct rpc_buf *resp, char *errmsg, size_t errlen)
{
	struct control *ctl = user;
	Sluice__V1__ListRolloutsRequest *req = NULL;
	Sluice__V1__ListRolloutsResponse out = SLUICE__V1__LIST_ROLLOUTS_RESPONSE__INIT;
	struct rollout_view *views = NULL;
	Sluice__V1__Rollout **ptrs = NULL;
	struct store_rollout *v = NULL;
	size_t n = 0, used = 0;
	enum rpc_code code;
	int err;

	code = control_int__admit(peer, AUTHZ_READ, "ListRollouts", errmsg, errlen);
	if (code)
		return code;
	req = sluice__v1__list_rollouts_request__unpack(NULL, req_len, req_buf);
	if (!req) {
		code = control_int__fail(errmsg, errlen, -EBADMSG, "the request is not a sluice.v1.ListRolloutsRequest");
		goto cleanup;
	}
	rollout__flush(ctl->ro);
	err = store__rollout_list(ctl->st, req->limit, &v, &n);
	if (err) {
		code = control_int__fail(errmsg, errlen, err, "cannot list rollouts: %s", strerror(-err));
		goto cleanup;
	}
	views = calloc(n + 1, sizeof(*views));
	ptrs = calloc(n + 1, sizeof(*ptrs));
	if (!views || !ptrs) {
		code = control_int__fail(errmsg, errlen, -ENOMEM, "the controller is out of memory");
		goto cleanup;
	}
	for (; used < n; used++) {
		if (view_init(&views[used], &v[used], NULL, 0)) {
			code = control_int__fail(errmsg, errlen, -ENOMEM, "the controller is out of memory");
			goto cleanup;
		}
		ptrs[used] = &views[used].ro;
	}
	out.n_rollouts = n;
	out.rollouts = ptrs;
	code = control_int__reply(&out.base, resp, errmsg, errlen);
cleanup:
	for (size_t i = 0; views && i < used; i++)
		view_release(&views[i]);
	free(views);
	free(ptrs);
	store_rollout__free_array(v, n);
	sluice__v1__list_rollouts_request__free_unpacked(req, NULL);
	return code;
}

static enum rpc_code get_rollout(void *user, const struct rpc_peer *peer, const uint8_t *req_buf, size_t req_len,
				 struct rpc_buf *resp, char *errmsg, size_t errlen)
{
	struct control *ctl = user;
	Sluice__V1__GetRolloutRequest *req = NULL;
	Sluice__V1__GetRolloutResponse out = SLUICE__V1__GET_ROLLOUT_RESPONSE__INIT;
	enum rpc_code code;

	code = control_int__admit(peer, AUTHZ_READ, "GetRollout", errmsg, errlen);
	if (code)
		return code;
	req = sluice__v1__get_rollout_request__unpack(NULL, req_len, req_buf);
	if (!req)
		return control_int__fail(errmsg, errlen, -EBADMSG, "the request is not a sluice.v1.GetRolloutRequest");
	code = reply_rollout(ctl, req->id, &out.base, &out.rollout, resp, errmsg, errlen);
	sluice__v1__get_rollout_request__free_unpacked(req, NULL);
	return code;
}

enum action { PAUSE, RESUME, ABORT, UNDO };

static enum rpc_code rollout_action(struct control *ctl, enum action act, const char *method,
				    const struct rpc_peer *peer, const uint8_t *req_buf, size_t req_len,
				    struct rpc_buf *resp, char *errmsg, size_t errlen)
{
	Sluice__V1__RolloutActionRequest *req = NULL;
	Sluice__V1__RolloutActionResponse out = SLUICE__V1__ROLLOUT_ACTION_RESPONSE__INIT;
	char who[300], why[700];
	uint64_t id, new_id = 0;
	enum rpc_code code;
	int err;

	code = control_int__admit(peer, AUTHZ_CHANGE, method, errmsg, errlen);
	if (code)
		return code;
	req = sluice__v1__rollout_action_request__unpack(NULL, req_len, req_buf);
	if (!req)
		return control_int__fail(errmsg, errlen, -EBADMSG, "the request is not a sluice.v1.RolloutActionRequest");
	id = req->id;
	authz__who(peer, who, sizeof(who));
	switch (act) {
	case PAUSE:
		err = rollout__pause(ctl->ro, id, who, why, sizeof(why));
		break;
	case RESUME:
		err = rollout__resume(ctl->ro, id, who, why, sizeof(why));
		break;
	case ABORT:
		err = rollout__abort(ctl->ro, id, who, req->reason, why, sizeof(why));
		break;
	default:
		err = rollout__undo(ctl->ro, id, who, &out.revision, &new_id, why, sizeof(why));
		id = new_id;
		break;
	}
	if (err)
		code = control_int__fail(errmsg, errlen, err == -EBUSY ? -EALREADY : err, "%s", why);
	else
		code = reply_rollout(ctl, id, &out.base, &out.rollout, resp, errmsg, errlen);
	sluice__v1__rollout_action_request__free_unpacked(req, NULL);
	return code;
}

static enum rpc_code pause_rollout(void *user, const struct rpc_peer *peer, const uint8_t *req, size_t len,
				   struct rpc_buf *resp, char *errmsg, size_t errlen)
{
	return rollout_action(user, PAUSE, "PauseRollout", peer, req, len, resp, errmsg, errlen);
}

static enum rpc_code resume_rollout(void *user, const struct rpc_peer *peer, const uint8_t *req, size_t len,
				    struct rpc_buf *resp, char *errmsg, size_t errlen)
{
	return rollout_action(user, RESUME, "ResumeRollout", peer, req, len, resp, errmsg, errlen);
}

static enum rpc_code abort_rollout(void *user, const struct rpc_peer *peer, const uint8_t *req, size_t len,
				   struct rpc_buf *resp, char *errmsg, size_t errlen)
{
	return rollout_action(user, ABORT, "AbortRollout", peer, req, len, resp, errmsg, errlen);
}

static enum rpc_code undo_rollout(void *user, const struct rpc_peer *peer, const uint8_t *req, size_t len,
				  struct rpc_buf *resp, char *errmsg, size_t errlen)
{
	return rollout_action(user, UNDO, "UndoRollout", peer, req, len, resp, errmsg, errlen);
}

/* ---- dry-run plan ------------------------------------------------------------------------ */

enum rpc_code control_rollout__plan(struct control *ctl, const Sluice__V1__Policy *p, const char *hash,
				    const struct rollout_request *req, Sluice__V1__ApplyPolicyResponse *out,
				    struct control_plan *cp, char *errmsg, size_t errlen)
{
	int err;

	memset(cp, 0, sizeof(*cp));
	registry__flush(ctl->reg); /* every connected agent is in the store */
	err = rollout__plan(ctl->ro, p, hash, req, &cp->plan);
	if (err)
		return control_int__fail(errmsg, errlen, err, "cannot plan the rollout: %s", strerror(-err));
	cp->items = calloc(cp->plan.n + 1, sizeof(*cp->items));
	cp->ptrs = calloc(cp->plan.n + 1, sizeof(*cp->ptrs));
	if (!cp->items || !cp->ptrs)
		return control_int__fail(errmsg, errlen, -ENOMEM, "the controller is out of memory");
	for (size_t i = 0; i < cp->plan.n; i++) {
		const struct rollout_plan_agent *pa = &cp->plan.agents[i];
		Sluice__V1__AgentPlan *it = &cp->items[i];

		sluice__v1__agent_plan__init(it);
		it->node_id = pa->node_id;
		it->state = (Sluice__V1__AgentState)pa->state;
		it->selected = pa->selected;
		it->wave = pa->wave;
		it->from_revision = pa->from_revision;
		it->rules_added = pa->rules_added;
		it->rules_removed = pa->rules_removed;
		it->rules_changed = pa->rules_changed;
		it->routes_added = pa->routes_added;
		it->routes_removed = pa->routes_removed;
		it->routes_changed = pa->routes_changed;
		it->rules = pa->rules;
		it->rule_capacity = pa->rule_capacity;
		it->fits = pa->fits;
		it->unchanged = pa->unchanged;
		cp->ptrs[i] = it;
	}
	out->n_plan = cp->plan.n;
	out->plan = cp->ptrs;
	out->n_warnings = cp->plan.n_warnings;
	out->warnings = cp->plan.warnings;
	out->waves = cp->plan.waves;
	return RPC_OK;
}

void control_rollout__plan_release(struct control_plan *cp)
{
	if (!cp)
		return;
	rollout_plan__clear(&cp->plan);
	free(cp->items);
	free(cp->ptrs);
	memset(cp, 0, sizeof(*cp));
}

int control_rollout__register(struct rpc_server *srv, struct control *ctl)
{
	static const struct {
		const char *name;
		rpc_unary_fn fn;
	} methods[] = {
		{ "StartRollout", start_rollout }, { "ListRollouts", list_rollouts },	  { "GetRollout", get_rollout },
		{ "PauseRollout", pause_rollout }, { "ResumeRollout", resume_rollout }, { "AbortRollout", abort_rollout },
		{ "UndoRollout", undo_rollout },
	};
	char path[128];
	int err;

	for (size_t i = 0; i < sizeof(methods) / sizeof(methods[0]); i++) {
		snprintf(path, sizeof(path), CONTROL_SERVICE "%s", methods[i].name);
		err = rpc_server__add_unary(srv, path, methods[i].fn, ctl);
		if (err)
			return err;
	}
	return 0;
}
