// SPDX-License-Identifier: Apache-2.0
/*
 * control.c — see control.h. Each handler: check the caller's role, unpack the
 * request, do the work, pack the response built on the stack. Errors leave through
 * control_int__fail(), the one place an -errno becomes a gRPC status and its message.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "sluice/v1/control.pb-c.h"

#include "common/log.h"
#include "common/policy.h"
#include "control_int.h"

_Static_assert((int)STORE_AGENT_OFFLINE == (int)SLUICE__V1__AGENT_STATE__AGENT_STATE_OFFLINE &&
		       (int)STORE_AGENT_NACKED == (int)SLUICE__V1__AGENT_STATE__AGENT_STATE_NACKED &&
		       (int)STORE_AGENT_SYNCED == (int)SLUICE__V1__AGENT_STATE__AGENT_STATE_SYNCED,
	       "store agent states must carry the wire numbers");

enum rpc_code control_int__fail(char *errmsg, size_t errlen, int err, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(errmsg, errlen, fmt, ap);
	va_end(ap);
	return rpc_code__from_errno(err);
}

enum rpc_code control_int__admit(const struct rpc_peer *peer, enum authz_need need, const char *method, char *errmsg,
				 size_t errlen)
{
	char why[512];

	if (authz__control(peer, need, why, sizeof(why)) == 0)
		return RPC_OK;
	pr_warn("%s from %s refused: %s", method, peer->address, why);
	return control_int__fail(errmsg, errlen, -EPERM, "%s: %s", method, why);
}

enum rpc_code control_int__reply(const ProtobufCMessage *m, struct rpc_buf *resp, char *errmsg, size_t errlen)
{
	size_t len = protobuf_c_message_get_packed_size(m);

	resp->data = malloc(len ? len : 1);
	if (!resp->data)
		return control_int__fail(errmsg, errlen, -ENOMEM, "the controller is out of memory");
	resp->len = protobuf_c_message_pack(m, resp->data);
	return RPC_OK;
}

static void revision_info(Sluice__V1__RevisionInfo *ri, const struct store_revision *r)
{
	sluice__v1__revision_info__init(ri);
	ri->revision = r->revision;
	ri->hash = (char *)r->hash;
	ri->author = r->author;
	ri->message = r->message;
	ri->created_unix = r->created;
	ri->rules = r->rules;
	ri->routes = r->routes;
}

/* ---- ApplyPolicy -------------------------------------------------------------------- */

/* The ABORTED answer to an apply based on a revision that is no longer the newest. */
static enum rpc_code stale_base(struct control *ctl, uint64_t base, uint64_t newest, char *errmsg, size_t errlen)
{
	struct store_revision r = { 0 };
	enum rpc_code code;

	store__revision_get(ctl->st, newest, false, &r);
	code = control_int__fail(errmsg, errlen, -ESTALE,
				 "the policy changed since revision %llu, which this apply was based on (now revision %llu by %s); nothing was stored: run 'sluicectl diff -f FILE' to see the newest policy against yours and apply again (--force overwrites it)",
				 (unsigned long long)base, (unsigned long long)newest,
				 r.author && r.author[0] ? r.author : "another operator");
	store_revision__clear(&r);
	return code;
}

/* Stores the revision (audited) and reports it in out. 0 or -errno with errmsg set. */
static enum rpc_code store_revision(struct control *ctl, const struct rpc_peer *peer,
				    const Sluice__V1__ApplyPolicyRequest *req, const Sluice__V1__Policy *p, char *hash,
				    Sluice__V1__ApplyPolicyResponse *out, bool *created, char *errmsg, size_t errlen)
{
	struct store_revision_new in = { 0 };
	uint8_t *blob = NULL;
	size_t blob_len = 0;
	char who[300];
	int err;

	err = policy__pack(p, &blob, &blob_len);
	if (err)
		return control_int__fail(errmsg, errlen, err, "cannot encode the policy: %s", strerror(-err));
	authz__who(peer, who, sizeof(who));
	in.hash = hash;
	in.author = who;
	in.message = req->message;
	in.created = time(NULL);
	in.rules = (uint32_t)p->n_rules;
	in.routes = (uint32_t)p->n_routes;
	in.policy = blob;
	in.policy_len = blob_len;
	in.base_revision = req->base_revision;
	err = store__revision_insert(ctl->st, &in, &out->revision, created);
	free(blob);
	if (err == -ESTALE)
		return stale_base(ctl, req->base_revision, out->revision, errmsg, errlen);
	if (err) {
		char why[600];

		store__strerror(ctl->st, err, why, sizeof(why));
		return control_int__fail(errmsg, errlen, err, "cannot store the revision: %s", why);
	}
	if (*created)
		pr_info("revision %llu (%.12s, %zu rules, %zu routes) applied by %s", (unsigned long long)out->revision,
			hash, p->n_rules, p->n_routes, who);
	return RPC_OK;
}

/*
 * Was revision rev stored without any rollout ever starting? That is a revision whose
 * apply was cut short (the controller died between storing it and starting its
 * rollout, or the rollout could not start), or one stored with --no-rollout: applying
 * the same content again then rolls it out rather than saying "unchanged" and doing
 * nothing. False when the store cannot tell.
 */
static bool never_rolled_out(struct control *ctl, uint64_t rev)
{
	bool exists;

	return rev && store__rollout_exists_for(ctl->st, rev, &exists) == 0 && !exists;
}

static enum rpc_code apply_policy(void *user, const struct rpc_peer *peer, const uint8_t *req_buf, size_t req_len,
				  struct rpc_buf *resp, char *errmsg, size_t errlen)
{
	struct control *ctl = user;
	Sluice__V1__ApplyPolicyRequest *req = NULL;
	Sluice__V1__ApplyPolicyResponse out = SLUICE__V1__APPLY_POLICY_RESPONSE__INIT;
	Sluice__V1__Policy empty = SLUICE__V1__POLICY__INIT;
	const Sluice__V1__Policy *p;
	struct store_revision newest = { 0 };
	struct rollout_request rreq = { 0 };
	struct control_plan plan = { 0 };
	struct store_rollout started = { 0 };
	struct store_label *sel = NULL;
	char hash[POLICY_HASH_HEX], who[300], why[512];
	bool created = false;
	enum rpc_code code;
	int err;

	code = control_int__admit(peer, AUTHZ_CHANGE, "ApplyPolicy", errmsg, errlen);
	if (code)
		return code;
	req = sluice__v1__apply_policy_request__unpack(NULL, req_len, req_buf);
	if (!req) {
		code = control_int__fail(errmsg, errlen, -EBADMSG, "the request is not a sluice.v1.ApplyPolicyRequest");
		goto cleanup;
	}
	p = req->policy ? req->policy : &empty;
	err = policy__validate(p, ctl->rule_capacity, why, sizeof(why));
	if (err) {
		code = control_int__fail(errmsg, errlen, err, "%s", why);
		goto cleanup;
	}
	err = policy__hash(p, hash);
	if (!err)
		err = control_rollout__request(p->rollout, req->gates, &rreq, &sel);
	if (err) {
		code = control_int__fail(errmsg, errlen, err, "cannot prepare the policy: %s", strerror(-err));
		goto cleanup;
	}
	err = store__revision_get(ctl->st, 0, false, &newest);
	if (err && err != -ENOENT) {
		code = control_int__fail(errmsg, errlen, err, "cannot read the newest revision: %s", strerror(-err));
		goto cleanup;
	}
	out.hash = hash;
	if (req->base_revision && newest.revision != req->base_revision && strcmp(newest.hash, hash) != 0) {
		/* Checked again, atomically with the insert, by the store: this is for dry runs,
		 * and to refuse before a rollout is checked. */
		code = stale_base(ctl, req->base_revision, newest.revision, errmsg, errlen);
		goto cleanup;
	}
	if (req->dry_run) {
		/* What an apply would do, with nothing stored and nothing sent. */
		out.unchanged = newest.revision && strcmp(newest.hash, hash) == 0;
		out.revision = out.unchanged ? newest.revision : newest.revision + 1;
		if (!req->no_rollout) {
			code = control_rollout__plan(ctl, p, hash, &rreq, &out, &plan, errmsg, errlen);
			if (code)
				goto cleanup;
		}
		code = control_int__reply(&out.base, resp, errmsg, errlen);
		goto cleanup;
	}
	/* Refuse before storing anything when the rollout could not start. */
	if (!req->no_rollout && rollout__check(ctl->ro, rreq.selector, rreq.n_selector, why, sizeof(why)) == -EBUSY) {
		code = control_int__fail(errmsg, errlen, -EALREADY,
					 "%s; or store the revision without rolling it out: apply --no-rollout", why);
		goto cleanup;
	}
	code = store_revision(ctl, peer, req, p, hash, &out, &created, errmsg, errlen);
	if (code)
		goto cleanup;
	out.unchanged = !created;
	if (!req->no_rollout && (created || never_rolled_out(ctl, out.revision))) {
		authz__who(peer, who, sizeof(who));
		rreq.revision = out.revision;
		rreq.author = who;
		rreq.message = req->message;
		err = rollout__start(ctl->ro, &rreq, &out.rollout_id, why, sizeof(why));
		if (err) {
			code = control_int__fail(errmsg, errlen, err == -EBUSY ? -EALREADY : err,
						 "revision %llu is stored, but its rollout did not start: %s; start it with: sluicectl rollout start %llu",
						 (unsigned long long)out.revision, why, (unsigned long long)out.revision);
			goto cleanup;
		}
		/* What the rollout noted at its start (agents too small, agents offline). */
		if (store__rollout_get(ctl->st, out.rollout_id, &started) == 0) {
			out.n_warnings = started.n_warnings;
			out.warnings = started.warnings;
		}
	}
	code = control_int__reply(&out.base, resp, errmsg, errlen);
cleanup:
	control_rollout__plan_release(&plan);
	store_rollout__clear(&started);
	free(sel);
	store_revision__clear(&newest);
	sluice__v1__apply_policy_request__free_unpacked(req, NULL);
	return code;
}

/* ---- revisions ---------------------------------------------------------------------- */

static enum rpc_code list_revisions(void *user, const struct rpc_peer *peer, const uint8_t *req_buf,
				    size_t req_len, struct rpc_buf *resp, char *errmsg, size_t errlen)
{
	struct control *ctl = user;
	Sluice__V1__ListRevisionsRequest *req = NULL;
	Sluice__V1__ListRevisionsResponse out = SLUICE__V1__LIST_REVISIONS_RESPONSE__INIT;
	Sluice__V1__RevisionInfo *infos = NULL, **ptrs = NULL;
	struct store_revision *revs = NULL;
	size_t n = 0;
	enum rpc_code code;
	int err;

	code = control_int__admit(peer, AUTHZ_READ, "ListRevisions", errmsg, errlen);
	if (code)
		return code;
	req = sluice__v1__list_revisions_request__unpack(NULL, req_len, req_buf);
	if (!req) {
		code = control_int__fail(errmsg, errlen, -EBADMSG, "the request is not a sluice.v1.ListRevisionsRequest");
		goto cleanup;
	}
	err = store__revision_list(ctl->st, req->limit, &revs, &n);
	if (err) {
		code = control_int__fail(errmsg, errlen, err, "cannot list revisions: %s", strerror(-err));
		goto cleanup;
	}
	infos = calloc(n + 1, sizeof(*infos));
	ptrs = calloc(n + 1, sizeof(*ptrs));
	if (!infos || !ptrs) {
		code = control_int__fail(errmsg, errlen, -ENOMEM, "the controller is out of memory");
		goto cleanup;
	}
	for (size_t i = 0; i < n; i++) {
		revision_info(&infos[i], &revs[i]);
		ptrs[i] = &infos[i];
	}
	out.n_revisions = n;
	out.revisions = ptrs;
	code = control_int__reply(&out.base, resp, errmsg, errlen);
cleanup:
	free(infos);
	free(ptrs);
	store_revision__free_array(revs, n);
	sluice__v1__list_revisions_request__free_unpacked(req, NULL);
	return code;
}

static enum rpc_code get_revision(void *user, const struct rpc_peer *peer, const uint8_t *req_buf, size_t req_len,
				  struct rpc_buf *resp, char *errmsg, size_t errlen)
{
	struct control *ctl = user;
	Sluice__V1__GetRevisionRequest *req = NULL;
	Sluice__V1__GetRevisionResponse out = SLUICE__V1__GET_REVISION_RESPONSE__INIT;
	Sluice__V1__RevisionInfo info;
	Sluice__V1__Policy *policy = NULL;
	struct store_revision r = { 0 };
	enum rpc_code code;
	int err;

	code = control_int__admit(peer, AUTHZ_READ, "GetRevision", errmsg, errlen);
	if (code)
		return code;
	req = sluice__v1__get_revision_request__unpack(NULL, req_len, req_buf);
	if (!req) {
		code = control_int__fail(errmsg, errlen, -EBADMSG, "the request is not a sluice.v1.GetRevisionRequest");
		goto cleanup;
	}
	err = store__revision_get(ctl->st, req->revision, true, &r);
	if (err == -ENOENT && req->revision == 0)
		code = control_int__fail(errmsg, errlen, err, "no policy has been applied yet; apply one with: sluicectl apply -f FILE");
	else if (err == -ENOENT)
		code = control_int__fail(errmsg, errlen, err, "revision %llu does not exist; see sluicectl get revisions",
			    (unsigned long long)req->revision);
	else if (err)
		code = control_int__fail(errmsg, errlen, err, "cannot read revision %llu: %s", (unsigned long long)req->revision,
			    strerror(-err));
	if (err)
		goto cleanup;
	policy = policy__unpack(r.policy, r.policy_len);
	if (!policy) {
		code = control_int__fail(errmsg, errlen, -EIO, "revision %llu is damaged in the database: its policy does not decode",
			    (unsigned long long)r.revision);
		goto cleanup;
	}
	revision_info(&info, &r);
	out.info = &info;
	out.policy = policy;
	code = control_int__reply(&out.base, resp, errmsg, errlen);
cleanup:
	policy__free(policy);
	store_revision__clear(&r);
	sluice__v1__get_revision_request__free_unpacked(req, NULL);
	return code;
}

/* ---- agents ------------------------------------------------------------------------- */

/* An AgentInfo that points into a store_agent, plus what it needs of its own. */
struct agent_view {
	Sluice__V1__AgentInfo info;
	Sluice__V1__AgentInfo__LabelsEntry *entries;
	Sluice__V1__AgentInfo__LabelsEntry **entry_ptrs;
};

static void agent_view_release(struct agent_view *v)
{
	free(v->entries);
	free(v->entry_ptrs);
	if (v->info.status)
		sluice__v1__status__free_unpacked(v->info.status, NULL);
	v->entries = NULL;
	v->entry_ptrs = NULL;
	v->info.status = NULL;
}

/* Fills v from a (which must outlive v). 0 or -ENOMEM. */
static int agent_view_init(struct agent_view *v, const struct store_agent *a)
{
	Sluice__V1__AgentInfo *ai = &v->info;

	sluice__v1__agent_info__init(ai);
	v->entries = calloc(a->n_labels + 1, sizeof(*v->entries));
	v->entry_ptrs = calloc(a->n_labels + 1, sizeof(*v->entry_ptrs));
	if (!v->entries || !v->entry_ptrs) {
		agent_view_release(v);
		return -ENOMEM;
	}
	for (size_t i = 0; i < a->n_labels; i++) {
		sluice__v1__agent_info__labels_entry__init(&v->entries[i]);
		v->entries[i].key = a->labels[i].key;
		v->entries[i].value = a->labels[i].value;
		v->entry_ptrs[i] = &v->entries[i];
	}
	ai->node_id = a->node_id;
	ai->n_labels = a->n_labels;
	ai->labels = v->entry_ptrs;
	ai->state = (Sluice__V1__AgentState)a->state;
	ai->state_since_unix = a->state_since;
	ai->applied_revision = a->applied_revision;
	ai->applied_hash = (char *)a->applied_hash;
	ai->last_error = a->last_error ? a->last_error : (char *)"";
	ai->last_seen_unix = a->last_seen;
	ai->agent_version = a->agent_version;
	ai->kernel = a->kernel;
	ai->n_interfaces = a->n_interfaces;
	ai->interfaces = a->interfaces;
	ai->rule_capacity = a->rule_capacity;
	ai->desired_revision = a->desired_revision == STORE_REVISION_NONE ? 0 : a->desired_revision;
	if (a->status) /* a status that no longer decodes is left out */
		ai->status = sluice__v1__status__unpack(NULL, a->status_len, a->status);
	if (ai->status)
		ai->cert_not_after_unix = ai->status->cert_not_after_unix;
	return 0;
}

/* Does a carry every key=value of the selector? */
static bool selected(const struct store_agent *a, const Sluice__V1__ListAgentsRequest *req)
{
	for (size_t i = 0; i < req->n_selector; i++) {
		size_t j = 0;

		while (j < a->n_labels && strcmp(a->labels[j].key, req->selector[i]->key) != 0)
			j++;
		if (j == a->n_labels || strcmp(a->labels[j].value, req->selector[i]->value) != 0)
			return false;
	}
	return true;
}

static enum rpc_code list_agents(void *user, const struct rpc_peer *peer, const uint8_t *req_buf, size_t req_len,
				 struct rpc_buf *resp, char *errmsg, size_t errlen)
{
	struct control *ctl = user;
	Sluice__V1__ListAgentsRequest *req = NULL;
	Sluice__V1__ListAgentsResponse out = SLUICE__V1__LIST_AGENTS_RESPONSE__INIT;
	Sluice__V1__AgentInfo **ptrs = NULL;
	struct agent_view *views = NULL;
	struct store_agent *agents = NULL;
	size_t n = 0, used = 0;
	enum rpc_code code;
	int err;

	code = control_int__admit(peer, AUTHZ_READ, "ListAgents", errmsg, errlen);
	if (code)
		return code;
	req = sluice__v1__list_agents_request__unpack(NULL, req_len, req_buf);
	if (!req) {
		code = control_int__fail(errmsg, errlen, -EBADMSG, "the request is not a sluice.v1.ListAgentsRequest");
		goto cleanup;
	}
	registry__flush(ctl->reg);
	err = store__agent_list(ctl->st, &agents, &n);
	if (err) {
		code = control_int__fail(errmsg, errlen, err, "cannot list agents: %s", strerror(-err));
		goto cleanup;
	}
	views = calloc(n + 1, sizeof(*views));
	ptrs = calloc(n + 1, sizeof(*ptrs));
	if (!views || !ptrs) {
		code = control_int__fail(errmsg, errlen, -ENOMEM, "the controller is out of memory");
		goto cleanup;
	}
	for (size_t i = 0; i < n; i++) {
		if (!selected(&agents[i], req))
			continue;
		if (agent_view_init(&views[used], &agents[i])) {
			code = control_int__fail(errmsg, errlen, -ENOMEM, "the controller is out of memory");
			goto cleanup;
		}
		ptrs[used] = &views[used].info;
		used++;
	}
	out.n_agents = used;
	out.agents = ptrs;
	code = control_int__reply(&out.base, resp, errmsg, errlen);
cleanup:
	for (size_t i = 0; views && i < used; i++)
		agent_view_release(&views[i]);
	free(views);
	free(ptrs);
	store_agent__free_array(agents, n);
	sluice__v1__list_agents_request__free_unpacked(req, NULL);
	return code;
}

static enum rpc_code get_agent(void *user, const struct rpc_peer *peer, const uint8_t *req_buf, size_t req_len,
			       struct rpc_buf *resp, char *errmsg, size_t errlen)
{
	struct control *ctl = user;
	Sluice__V1__GetAgentRequest *req = NULL;
	Sluice__V1__GetAgentResponse out = SLUICE__V1__GET_AGENT_RESPONSE__INIT;
	struct agent_view view = { 0 };
	struct store_agent a = { 0 };
	enum rpc_code code;
	int err;

	code = control_int__admit(peer, AUTHZ_READ, "GetAgent", errmsg, errlen);
	if (code)
		return code;
	req = sluice__v1__get_agent_request__unpack(NULL, req_len, req_buf);
	if (!req) {
		code = control_int__fail(errmsg, errlen, -EBADMSG, "the request is not a sluice.v1.GetAgentRequest");
		goto cleanup;
	}
	registry__flush(ctl->reg);
	err = store__agent_get(ctl->st, req->node_id, &a);
	if (err == -ENOENT)
		code = control_int__fail(errmsg, errlen, err, "agent '%s' is not known; see sluicectl get agents", req->node_id);
	else if (err)
		code = control_int__fail(errmsg, errlen, err, "cannot read agent '%s': %s", req->node_id, strerror(-err));
	else if (agent_view_init(&view, &a))
		code = control_int__fail(errmsg, errlen, -ENOMEM, "the controller is out of memory");
	if (code)
		goto cleanup;
	out.agent = &view.info;
	code = control_int__reply(&out.base, resp, errmsg, errlen);
cleanup:
	agent_view_release(&view);
	store_agent__clear(&a);
	sluice__v1__get_agent_request__free_unpacked(req, NULL);
	return code;
}

/* Forgets a node that is not connected; its record goes with an audit row, in one
 * transaction. */
static enum rpc_code remove_agent(void *user, const struct rpc_peer *peer, const uint8_t *req_buf, size_t req_len,
				  struct rpc_buf *resp, char *errmsg, size_t errlen)
{
	struct control *ctl = user;
	Sluice__V1__RemoveAgentRequest *req = NULL;
	Sluice__V1__RemoveAgentResponse out = SLUICE__V1__REMOVE_AGENT_RESPONSE__INIT;
	struct store_audit_new audit = { 0 };
	struct store_agent a = { 0 };
	char who[300], object[300], detail[200];
	enum rpc_code code;
	int err;

	code = control_int__admit(peer, AUTHZ_ADMIN, "RemoveAgent", errmsg, errlen);
	if (code)
		return code;
	req = sluice__v1__remove_agent_request__unpack(NULL, req_len, req_buf);
	if (!req) {
		code = control_int__fail(errmsg, errlen, -EBADMSG, "the request is not a sluice.v1.RemoveAgentRequest");
		goto cleanup;
	}
	if (registry__agent(ctl->reg, req->node_id)) {
		code = control_int__fail(errmsg, errlen, -EALREADY,
					 "agent '%s' is connected; stop it first (and retire its certificate, or it registers again), then remove it",
					 req->node_id);
		goto cleanup;
	}
	registry__flush(ctl->reg); /* a record still waiting to be written must not come back */
	err = store__agent_get(ctl->st, req->node_id, &a);
	if (err == -ENOENT) {
		code = control_int__fail(errmsg, errlen, err, "agent '%s' is not known; see sluicectl get agents",
					 req->node_id);
		goto cleanup;
	} else if (err) {
		code = control_int__fail(errmsg, errlen, err, "cannot read agent '%s': %s", req->node_id, strerror(-err));
		goto cleanup;
	}
	authz__who(peer, who, sizeof(who));
	snprintf(object, sizeof(object), "agent %s", a.node_id);
	snprintf(detail, sizeof(detail), "was %s at revision %llu", store_agent_state__name(a.state),
		 (unsigned long long)a.applied_revision);
	audit.time = (int64_t)time(NULL);
	audit.who = who;
	audit.action = "agent-remove";
	audit.object = object;
	audit.detail = detail;
	audit.before_hash = a.applied_hash;
	audit.after_hash = "";
	err = store__agent_delete(ctl->st, a.node_id, &audit);
	if (err) {
		code = control_int__fail(errmsg, errlen, err, "cannot remove agent '%s': %s; nothing was changed",
					 req->node_id, strerror(-err));
		goto cleanup;
	}
	pr_info("agent '%s' removed by %s", a.node_id, who);
	out.applied_hash = a.applied_hash;
	code = control_int__reply(&out.base, resp, errmsg, errlen);
cleanup:
	store_agent__clear(&a);
	sluice__v1__remove_agent_request__free_unpacked(req, NULL);
	return code;
}

/* ---- audit ------------------------------------------------------------------------- */

static enum rpc_code list_audit(void *user, const struct rpc_peer *peer, const uint8_t *req_buf, size_t req_len,
				struct rpc_buf *resp, char *errmsg, size_t errlen)
{
	struct control *ctl = user;
	Sluice__V1__ListAuditRequest *req = NULL;
	Sluice__V1__ListAuditResponse out = SLUICE__V1__LIST_AUDIT_RESPONSE__INIT;
	Sluice__V1__AuditEntry *entries = NULL, **ptrs = NULL;
	struct store_audit *rows = NULL;
	size_t n = 0;
	enum rpc_code code;
	int err;

	code = control_int__admit(peer, AUTHZ_READ, "ListAudit", errmsg, errlen);
	if (code)
		return code;
	req = sluice__v1__list_audit_request__unpack(NULL, req_len, req_buf);
	if (!req) {
		code = control_int__fail(errmsg, errlen, -EBADMSG, "the request is not a sluice.v1.ListAuditRequest");
		goto cleanup;
	}
	err = store__audit_list(ctl->st, req->limit, req->since_unix, &rows, &n);
	if (err) {
		code = control_int__fail(errmsg, errlen, err, "cannot read the audit log: %s", strerror(-err));
		goto cleanup;
	}
	entries = calloc(n + 1, sizeof(*entries));
	ptrs = calloc(n + 1, sizeof(*ptrs));
	if (!entries || !ptrs) {
		code = control_int__fail(errmsg, errlen, -ENOMEM, "the controller is out of memory");
		goto cleanup;
	}
	for (size_t i = 0; i < n; i++) {
		Sluice__V1__AuditEntry *e = &entries[i];

		sluice__v1__audit_entry__init(e);
		e->id = rows[i].id;
		e->time_unix = rows[i].time;
		e->who = rows[i].who;
		e->action = rows[i].action;
		e->object = rows[i].object;
		e->detail = rows[i].detail;
		e->before_hash = rows[i].before_hash;
		e->after_hash = rows[i].after_hash;
		ptrs[i] = e;
	}
	out.n_entries = n;
	out.entries = ptrs;
	code = control_int__reply(&out.base, resp, errmsg, errlen);
cleanup:
	free(entries);
	free(ptrs);
	store_audit__free_array(rows, n);
	sluice__v1__list_audit_request__free_unpacked(req, NULL);
	return code;
}

int control__register(struct rpc_server *srv, struct control *ctl)
{
	static const struct {
		const char *name;
		rpc_unary_fn fn;
	} methods[] = {
		{ "ApplyPolicy", apply_policy },   { "ListRevisions", list_revisions }, { "GetRevision", get_revision },
		{ "ListAgents", list_agents },     { "GetAgent", get_agent },	      { "ListAudit", list_audit },
		{ "RemoveAgent", remove_agent },
	};
	char path[128];
	int err;

	for (size_t i = 0; i < sizeof(methods) / sizeof(methods[0]); i++) {
		snprintf(path, sizeof(path), CONTROL_SERVICE "%s", methods[i].name);
		err = rpc_server__add_unary(srv, path, methods[i].fn, ctl);
		if (err)
			return err;
	}
	return control_rollout__register(srv, ctl);
}
