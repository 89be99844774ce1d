// SPDX-License-Identifier: Apache-2.0
/*
 * rollout.c — see rollout.h. Each active rollout keeps its agents in memory, sorted by
 * node id, its waves being consecutive runs of that order. advance() is the state
 * machine, run from every tick: start a waiting wave, judge a running one, end a baking
 * one, then fail, finish or move on. Every change is collected into the rollout's
 * pending write (agents, desired revisions, one audit row) and committed by save()
 * before any agent is told: what an agent is sent is always already in the store.
 */
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>

#include "common/log.h"
#include "common/policy.h"
#include "rollout.h"
#include "rollout_int.h"

/* ---- small helpers ------------------------------------------------------------------- */

int64_t rollout_int__now(struct rollout_engine *e)
{
	struct timespec ts;

	if (e->clock.now_ms)
		return e->clock.now_ms(e->clock.ctx);
	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

uint64_t rollout_int__shown(uint64_t rev)
{
	return rev == STORE_REVISION_NONE ? 0 : rev;
}

bool rollout__selector_matches(const struct store_label *sel, size_t n_sel, const struct store_label *labels,
			       size_t n_labels)
{
	for (size_t i = 0; i < n_sel; i++) {
		size_t j = 0;

		while (j < n_labels && strcmp(labels[j].key, sel[i].key) != 0)
			j++;
		if (j == n_labels || strcmp(labels[j].value, sel[i].value) != 0)
			return false;
	}
	return true;
}

int rollout_int__labels_dup(const struct store_label *in, size_t n, struct store_label **out, size_t *n_out)
{
	*out = NULL;
	*n_out = 0;
	if (n == 0)
		return 0;
	*out = calloc(n, sizeof(**out));
	if (!*out)
		return -ENOMEM;
	for (size_t i = 0; i < n; i++) {
		(*out)[i].key = strdup(in[i].key);
		(*out)[i].value = strdup(in[i].value);
		*n_out = i + 1;
		if (!(*out)[i].key || !(*out)[i].value)
			return -ENOMEM;
	}
	return 0;
}

static void labels_free(struct store_label *l, size_t n)
{
	for (size_t i = 0; l && i < n; i++) {
		free(l[i].key);
		free(l[i].value);
	}
	free(l);
}

static int cmp_member(const void *a, const void *b)
{
	return strcmp(((const struct rollout_member *)a)->a.node_id, ((const struct rollout_member *)b)->a.node_id);
}

struct rollout_member *rollout_int__member(const struct rollout_active *ro, const char *node_id)
{
	struct rollout_member key = { .a.node_id = (char *)node_id };

	return ro->n ? bsearch(&key, ro->m, ro->n, sizeof(*ro->m), cmp_member) : NULL;
}

void rollout_int__new_key(char out[STORE_KEY_LEN])
{
	static const char hex[] = "0123456789abcdef";
	static uint64_t counter;
	uint8_t b[16];

	if (getrandom(b, sizeof(b), 0) != sizeof(b)) {
		uint64_t t = (uint64_t)time(NULL), c = ++counter;

		memcpy(b, &t, sizeof(t));
		memcpy(b + 8, &c, sizeof(c));
	}
	for (int i = 0; i < 16; i++) {
		out[2 * i] = hex[b[i] >> 4];
		out[2 * i + 1] = hex[b[i] & 15];
	}
	out[32] = '\0';
}

void rollout_int__msg(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
}

/* ---- history ------------------------------------------------------------------------- */

struct rollout_hist *rollout_int__hist_find(struct rollout_engine *e, uint64_t id)
{
	for (size_t i = e->n_hist; i-- > 0;)
		if (e->hist[i].id == id)
			return &e->hist[i];
	return NULL;
}

int rollout_int__hist_add(struct rollout_engine *e, const struct store_rollout *r, struct rollout_active *ro)
{
	struct rollout_hist *h;
	size_t cap = e->cap_hist ? e->cap_hist * 2 : 64;
	int err;

	if (e->n_hist == e->cap_hist) {
		h = realloc(e->hist, cap * sizeof(*h));
		if (!h)
			return -ENOMEM;
		e->hist = h;
		e->cap_hist = cap;
	}
	h = &e->hist[e->n_hist];
	memset(h, 0, sizeof(*h));
	h->id = r->id;
	h->state = r->state;
	h->revision = r->revision;
	h->active = ro;
	err = rollout_int__labels_dup(r->selector, r->n_selector, &h->selector, &h->n_selector);
	if (err) {
		labels_free(h->selector, h->n_selector);
		return err;
	}
	e->n_hist++;
	return 0;
}

void rollout_int__hist_trim(struct rollout_engine *e)
{
	size_t cut = 0;

	for (size_t i = e->n_hist; i-- > 0;) {
		if (e->hist[i].state == STORE_ROLLOUT_SUCCEEDED && e->hist[i].n_selector == 0) {
			cut = i;
			break;
		}
	}
	if (e->n_hist - cut > ROLLOUT_HISTORY)
		cut = e->n_hist - ROLLOUT_HISTORY;
	for (size_t i = 0; i < cut && i < e->n_hist; i++) {
		if (e->hist[i].active) { /* never drop an active one: keep everything from here */
			cut = i;
			break;
		}
	}
	if (cut == 0)
		return;
	for (size_t i = 0; i < cut; i++)
		labels_free(e->hist[i].selector, e->hist[i].n_selector);
	memmove(e->hist, e->hist + cut, (e->n_hist - cut) * sizeof(*e->hist));
	e->n_hist -= cut;
}

uint64_t rollout__select(struct rollout_engine *e, const struct store_agent *a)
{
	for (size_t i = e->n_hist; i-- > 0;) {
		const struct rollout_hist *h = &e->hist[i];
		const struct rollout_member *m;

		if (!rollout__selector_matches(h->selector, h->n_selector, a->labels, a->n_labels))
			continue;
		if (h->state == STORE_ROLLOUT_SUCCEEDED)
			return h->revision;
		/* A superseded rollout left its agents where it had moved them (no rollback),
		 * and the agent's record says where: an older rollout must not send one that
		 * was offline when the newer one started back to what it chose. */
		if (h->state == STORE_ROLLOUT_SUPERSEDED && a->desired_revision)
			return a->desired_revision;
		if (!h->active)
			continue; /* failed, aborted: skipped */
		m = rollout_int__member(h->active, a->node_id);
		if (m && !m->a.rolled_back && h->active->r.waves[m->a.wave].state != STORE_WAVE_WAITING)
			return h->revision;
	}
	return a->desired_revision;
}

/* ---- active rollouts ---------------------------------------------------------------------- */

static void pend_clear(struct rollout_active *ro)
{
	for (size_t i = 0; i < ro->n_pend; i++)
		free((char *)ro->pend[i].node_id);
	ro->n_pend = 0;
}

void rollout_int__active_free(struct rollout_active *ro)
{
	if (!ro)
		return;
	for (size_t i = 0; i < ro->n; i++)
		store_rollout_agent__clear(&ro->m[i].a);
	free(ro->m);
	free(ro->start);
	pend_clear(ro);
	free(ro->pend);
	store_rollout__clear(&ro->r);
	free(ro);
}

int rollout_int__index(struct rollout_active *ro)
{
	size_t nw = ro->r.n_waves;

	if (ro->n)
		qsort(ro->m, ro->n, sizeof(*ro->m), cmp_member);
	free(ro->start);
	ro->start = calloc(nw + 1, sizeof(*ro->start));
	if (!ro->start)
		return -ENOMEM;
	for (size_t w = 0, k = 0; w < nw; w++) {
		ro->start[w] = k;
		while (k < ro->n && ro->m[k].a.wave == w)
			k++;
		ro->start[w + 1] = k;
		if (w + 1 == nw && k != ro->n)
			return -EBADMSG;
	}
	return 0;
}

void rollout_int__tell(struct rollout_engine *e, struct rollout_active *ro)
{
	uint32_t w = ro->send_wave;

	for (size_t i = 0; i < ro->n_pend; i++)
		e->fleet.set_desired(e->fleet.ctx, ro->pend[i].node_id, ro->pend[i].revision);
	pend_clear(ro);
	ro->send_wave = 0;
	for (size_t k = w ? ro->start[w - 1] : 0; w && k < ro->start[w]; k++)
		e->fleet.set_desired(e->fleet.ctx, ro->m[k].a.node_id, ro->r.revision);
}

int rollout_int__want(struct rollout_active *ro, const char *node_id, uint64_t rev)
{
	size_t cap = ro->cap_pend ? ro->cap_pend * 2 : 64;
	struct store_desired *v;
	char *id;

	if (ro->n_pend == ro->cap_pend) {
		v = realloc(ro->pend, cap * sizeof(*v));
		if (!v)
			return -ENOMEM;
		ro->pend = v;
		ro->cap_pend = cap;
	}
	id = strdup(node_id);
	if (!id)
		return -ENOMEM;
	ro->pend[ro->n_pend++] = (struct store_desired){ id, rev };
	return 0;
}

void rollout_int__audit(struct rollout_active *ro, const char *who,
							       const char *action, const char *fmt, ...)
{
	va_list ap;

	rollout_int__new_key(ro->audit_key);
	snprintf(ro->audit_who, sizeof(ro->audit_who), "%s", who ? who : "controller");
	snprintf(ro->audit_action, sizeof(ro->audit_action), "%s", action);
	va_start(ap, fmt);
	vsnprintf(ro->audit_detail, sizeof(ro->audit_detail), fmt, ap);
	va_end(ap);
	ro->audit_pending = true;
}

/* The content hash of what a rollout's agents ran before it ("" when unknown), for the
 * audit row's before_hash: the rollout moves them from it to the rollout's hash. */
static void from_hash(struct rollout_engine *e, uint64_t from, char out[STORE_HASH_HEX])
{
	Sluice__V1__Policy empty = SLUICE__V1__POLICY__INIT;
	struct store_revision r = { 0 };

	out[0] = '\0';
	if (from == STORE_REVISION_NONE)
		policy__hash(&empty, out);
	else if (from && store__revision_get(e->st, from, false, &r) == 0)
		snprintf(out, STORE_HASH_HEX, "%s", r.hash);
	store_revision__clear(&r);
}

/*
 * Commits ro's pending change (the row, its waves, the changed agents, the desired
 * revisions, the audit row) in one transaction, and then tells the connected agents.
 * On a store error nothing is sent and everything stays pending for the next try.
 * 0 or -errno.
 */
int rollout_int__save(struct rollout_engine *e, struct rollout_active *ro)
{
	struct store_rollout_agent *changed = NULL;
	struct store_audit_new audit;
	char object[40], before[STORE_HASH_HEX] = "";
	size_t n = 0;
	int err;

	if (!ro->dirty && !ro->n_pend && !ro->audit_pending && !ro->send_wave)
		return 0;
	if (ro->audit_pending)
		from_hash(e, ro->r.from_revision, before);
	changed = calloc(ro->n + 1, sizeof(*changed));
	if (!changed)
		return -ENOMEM;
	for (size_t i = 0; i < ro->n; i++)
		if (ro->m[i].dirty)
			changed[n++] = ro->m[i].a; /* shallow: the store only reads */
	ro->r.updated = rollout_int__now(e) / 1000;
	snprintf(object, sizeof(object), "rollout %llu", (unsigned long long)ro->r.id);
	audit = (struct store_audit_new){ .op_key = ro->audit_key, .time = ro->r.updated, .who = ro->audit_who,
					  .action = ro->audit_action, .object = object, .detail = ro->audit_detail,
					  .before_hash = before, .after_hash = ro->r.hash };
	err = store__rollout_save(e->st, &ro->r, changed, n, ro->pend, ro->n_pend,
				  ro->audit_pending ? &audit : NULL);
	free(changed);
	if (err) {
		pr_err("rollout %llu: cannot record its progress: %s; retrying at the next tick",
		       (unsigned long long)ro->r.id, strerror(-err));
		return err;
	}
	for (size_t i = 0; i < ro->n; i++)
		ro->m[i].dirty = false;
	rollout_int__tell(e, ro);
	ro->dirty = false;
	ro->audit_pending = false;
	return 0;
}

void rollout_int__retire(struct rollout_engine *e, struct rollout_active *ro)
{
	struct rollout_hist *h = rollout_int__hist_find(e, ro->r.id);
	struct rollout_active **pp = &e->active;

	if (ro->n_pend || ro->audit_pending || ro->send_wave)
		return; /* its last change is not yet stored: the tick retries the save */
	if (h) {
		h->state = ro->r.state;
		h->active = NULL;
	}
	while (*pp && *pp != ro)
		pp = &(*pp)->next;
	if (*pp)
		*pp = ro->next;
	rollout_int__active_free(ro);
	rollout_int__hist_trim(e);
}

/* ---- engine -------------------------------------------------------------------------- */

/* Loads an active rollout's agents; a running wave gets a fresh ack window, since after
 * a restart its agents must reconnect before they can answer. */
static int load_active(struct rollout_engine *e, struct store_rollout *r)
{
	struct rollout_active *ro = calloc(1, sizeof(*ro));
	struct store_rollout_agent *v = NULL;
	size_t n = 0;
	int err;

	if (!ro)
		return -ENOMEM;
	ro->r = *r;
	memset(r, 0, sizeof(*r));
	err = store__rollout_agents(e->st, ro->r.id, &v, &n);
	if (err)
		goto fail;
	ro->m = calloc(n + 1, sizeof(*ro->m));
	if (!ro->m) {
		err = -ENOMEM;
		goto fail;
	}
	for (size_t i = 0; i < n; i++)
		ro->m[i].a = v[i];
	ro->n = n;
	free(v);
	v = NULL;
	err = rollout_int__index(ro);
	if (err || ro->r.current_wave >= ro->r.n_waves) {
		pr_err("rollout %llu: its agents and waves do not agree in the database; leaving it as it is",
		       (unsigned long long)ro->r.id);
		err = err ? err : -EBADMSG;
		goto fail;
	}
	if (ro->r.waves[ro->r.current_wave].state == STORE_WAVE_RUNNING)
		ro->r.waves[ro->r.current_wave].started_ms = rollout_int__now(e);
	err = rollout_int__hist_add(e, &ro->r, ro);
	if (err)
		goto fail;
	ro->next = e->active;
	e->active = ro;
	pr_info("rollout %llu (revision %llu) resumes: %s, wave %u of %zu", (unsigned long long)ro->r.id,
		(unsigned long long)ro->r.revision, ro->r.state == STORE_ROLLOUT_PAUSED ? "paused" : "running",
		ro->r.current_wave + 1, ro->r.n_waves);
	return 0;
fail:
	store_rollout_agent__free_array(v, n);
	rollout_int__active_free(ro);
	return err;
}

static const struct store_agent *reg_agent(void *ctx, const char *node_id)
{
	return registry__agent(ctx, node_id);
}

static void reg_foreach(void *ctx, void (*fn)(void *arg, const struct store_agent *a), void *arg)
{
	registry__foreach(ctx, fn, arg);
}

static void reg_set_desired(void *ctx, const char *node_id, uint64_t rev)
{
	registry__set_desired(ctx, node_id, rev);
}

static int reg_counters(void *ctx, const char *node_id, struct registry_counters *newest,
			struct registry_counters *previous)
{
	return registry__counters(ctx, node_id, newest, previous);
}

void rollout_fleet__from_registry(struct rollout_fleet *f, struct registry *reg)
{
	*f = (struct rollout_fleet){ reg_agent, reg_foreach, reg_set_desired, reg_counters, reg };
}

struct rollout_engine *rollout__new(struct store *st, const struct rollout_fleet *fleet,
				    const struct rollout_clock *clock)
{
	struct rollout_engine *e = calloc(1, sizeof(*e));
	struct store_rollout *v = NULL;
	size_t n = 0;
	int err;

	if (!e)
		return NULL;
	e->st = st;
	e->fleet = *fleet;
	if (clock)
		e->clock = *clock;
	err = store__rollout_list(st, ROLLOUT_HISTORY, &v, &n);
	for (size_t i = n; !err && i-- > 0;) { /* oldest first */
		if (v[i].state == STORE_ROLLOUT_RUNNING || v[i].state == STORE_ROLLOUT_PAUSED)
			err = load_active(e, &v[i]);
		else
			err = rollout_int__hist_add(e, &v[i], NULL);
	}
	store_rollout__free_array(v, n);
	if (err) {
		rollout__free(e);
		errno = -err;
		return NULL;
	}
	rollout_int__hist_trim(e);
	return e;
}

void rollout__flush(struct rollout_engine *e)
{
	for (struct rollout_active *ro = e->active; ro; ro = ro->next)
		rollout_int__save(e, ro);
}

void rollout__free(struct rollout_engine *e)
{
	struct rollout_active *next;

	if (!e)
		return;
	rollout__flush(e);
	for (struct rollout_active *ro = e->active; ro; ro = next) {
		next = ro->next;
		rollout_int__active_free(ro);
	}
	for (size_t i = 0; i < e->n_hist; i++)
		labels_free(e->hist[i].selector, e->hist[i].n_selector);
	free(e->hist);
	free(e);
}

void rollout__tick(struct rollout_engine *e)
{
	struct rollout_active *next;

	for (struct rollout_active *ro = e->active; ro; ro = next) {
		next = ro->next;
		if (ro->r.state == STORE_ROLLOUT_RUNNING)
			rollout_int__advance(e, ro);
		rollout_int__save(e, ro);
		if (ro->r.state != STORE_ROLLOUT_RUNNING && ro->r.state != STORE_ROLLOUT_PAUSED)
			rollout_int__retire(e, ro);
	}
}

/* ---- operator actions ------------------------------------------------------------------ */

static struct rollout_active *find_active(struct rollout_engine *e, uint64_t id)
{
	for (struct rollout_active *ro = e->active; ro; ro = ro->next)
		if (ro->r.id == id)
			return ro;
	return NULL;
}

static const char *state_word(enum store_rollout_state s)
{
	switch (s) {
	case STORE_ROLLOUT_RUNNING:
		return "running";
	case STORE_ROLLOUT_PAUSED:
		return "paused";
	case STORE_ROLLOUT_SUCCEEDED:
		return "succeeded";
	case STORE_ROLLOUT_FAILED:
		return "failed";
	case STORE_ROLLOUT_ABORTED:
		return "aborted";
	case STORE_ROLLOUT_SUPERSEDED:
		return "superseded";
	}
	return "unknown";
}

/* The active rollout id, or -ENOENT / -EALREADY with a message. */
static int need_active(struct rollout_engine *e, uint64_t id, const char *verb, struct rollout_active **out,
		       char *err, size_t errlen)
{
	struct rollout_hist *h;

	*out = find_active(e, id);
	if (*out)
		return 0;
	h = rollout_int__hist_find(e, id);
	if (!h) {
		struct store_rollout r;

		if (store__rollout_get(e->st, id, &r) != 0) {
			rollout_int__msg(err, errlen, "rollout %llu does not exist; see sluicectl get rollouts",
				 (unsigned long long)id);
			return -ENOENT;
		}
		rollout_int__msg(err, errlen, "rollout %llu has already %s; only a running or paused rollout can be %s",
			 (unsigned long long)id, state_word(r.state), verb);
		store_rollout__clear(&r);
		return -EALREADY;
	}
	rollout_int__msg(err, errlen, "rollout %llu has already %s; only a running or paused rollout can be %s",
		 (unsigned long long)id, state_word(h->state), verb);
	return -EALREADY;
}

int rollout__pause(struct rollout_engine *e, uint64_t id, const char *who, char *err, size_t errlen)
{
	struct rollout_active *ro;
	int rc = need_active(e, id, "paused", &ro, err, errlen);

	if (rc)
		return rc;
	if (ro->r.state == STORE_ROLLOUT_PAUSED) {
		rollout_int__msg(err, errlen, "rollout %llu is already paused; continue it with: sluicectl rollout resume %llu",
			 (unsigned long long)id, (unsigned long long)id);
		return -EALREADY;
	}
	ro->r.state = STORE_ROLLOUT_PAUSED;
	rollout_int__audit(ro, who, "rollout-pause", "paused at wave %u of %zu", ro->r.current_wave + 1,
			   ro->r.n_waves);
	rc = rollout_int__save(e, ro);
	if (rc) {
		ro->r.state = STORE_ROLLOUT_RUNNING;
		ro->audit_pending = false;
		rollout_int__msg(err, errlen, "cannot record the pause: %s", strerror(-rc));
		return rc;
	}
	rollout_int__scope_begin(ro);
	pr_info("rollout %llu paused by %s", (unsigned long long)id, who);
	rollout_int__scope_end();
	return 0;
}

int rollout__resume(struct rollout_engine *e, uint64_t id, const char *who, char *err, size_t errlen)
{
	struct rollout_active *ro;
	struct store_wave *w;
	int64_t old_started;
	int rc = need_active(e, id, "resumed", &ro, err, errlen);

	if (rc)
		return rc;
	if (ro->r.state == STORE_ROLLOUT_RUNNING) {
		rollout_int__msg(err, errlen, "rollout %llu is not paused", (unsigned long long)id);
		return -EALREADY;
	}
	w = &ro->r.waves[ro->r.current_wave];
	old_started = w->started_ms;
	ro->r.state = STORE_ROLLOUT_RUNNING;
	if (w->state == STORE_WAVE_RUNNING)
		w->started_ms = rollout_int__now(e); /* a fresh ack window */
	rollout_int__audit(ro, who, "rollout-resume", "resumed at wave %u of %zu", ro->r.current_wave + 1,
			   ro->r.n_waves);
	rc = rollout_int__save(e, ro);
	if (rc) {
		ro->r.state = STORE_ROLLOUT_PAUSED;
		w->started_ms = old_started;
		ro->audit_pending = false;
		rollout_int__msg(err, errlen, "cannot record the resume: %s", strerror(-rc));
		return rc;
	}
	rollout_int__scope_begin(ro);
	pr_info("rollout %llu resumed by %s", (unsigned long long)id, who);
	rollout_int__scope_end();
	rollout_int__advance(e, ro);
	rollout_int__save(e, ro);
	return 0;
}

int rollout__abort(struct rollout_engine *e, uint64_t id, const char *who, const char *reason, char *err,
		   size_t errlen)
{
	struct rollout_active *ro;
	char why[600];
	int rc = need_active(e, id, "aborted", &ro, err, errlen);

	if (rc)
		return rc;
	snprintf(why, sizeof(why), "aborted by %s%s%s", who, reason && reason[0] ? ": " : "", reason ? reason : "");
	rollout_int__stop(e, ro, STORE_ROLLOUT_ABORTED, who, why);
	rc = rollout_int__save(e, ro);
	if (rc)
		rollout_int__msg(err, errlen, "the abort is not yet stored (%s); the controller keeps trying", strerror(-rc));
	rollout_int__retire(e, ro);
	return rc;
}

int rollout__undo(struct rollout_engine *e, uint64_t id, const char *who, uint64_t *new_revision, uint64_t *new_id,
		  char *err, size_t errlen)
{
	Sluice__V1__Policy empty = SLUICE__V1__POLICY__INIT;
	struct store_revision old = { 0 };
	struct store_revision_new in = { 0 };
	struct rollout_request req = { 0 };
	struct store_rollout r;
	char hash[STORE_HASH_HEX], message[200];
	bool created;
	int rc;

	rc = store__rollout_get(e->st, id, &r);
	if (rc) {
		rollout_int__msg(err, errlen, rc == -ENOENT ? "rollout %llu does not exist; see sluicectl get rollouts" :
						      "cannot read rollout %llu",
			 (unsigned long long)id);
		return rc;
	}
	if (r.state == STORE_ROLLOUT_RUNNING || r.state == STORE_ROLLOUT_PAUSED) {
		rollout_int__msg(err, errlen,
			 "rollout %llu is still %s; stop it with: sluicectl rollout abort %llu (that sends its agents back too)",
			 (unsigned long long)id, state_word(r.state), (unsigned long long)id);
		rc = -EINVAL;
		goto cleanup;
	}
	if (r.state != STORE_ROLLOUT_SUCCEEDED) {
		rollout_int__msg(err, errlen, "rollout %llu %s%s; only a rollout that succeeded can be undone",
			 (unsigned long long)id, state_word(r.state),
			 r.state == STORE_ROLLOUT_SUPERSEDED ? " (undo the newer one)" : ": its agents were already sent back");
		rc = -EINVAL;
		goto cleanup;
	}
	if (!r.from_revision) {
		rollout_int__msg(err, errlen, "rollout %llu does not know which revision its agents ran before; roll one out with: sluicectl rollout start REVISION",
			 (unsigned long long)id);
		rc = -EINVAL;
		goto cleanup;
	}
	if (r.from_revision == STORE_REVISION_NONE) {
		rc = policy__hash(&empty, hash);
		in.hash = hash;
	} else {
		rc = store__revision_get(e->st, r.from_revision, true, &old);
		in.hash = old.hash;
	}
	if (rc) {
		rollout_int__msg(err, errlen, "cannot read revision %llu: %s", (unsigned long long)rollout_int__shown(r.from_revision),
			 strerror(-rc));
		goto cleanup;
	}
	/* Undo is a new revision with the old content: history only moves forward. */
	snprintf(message, sizeof(message), "undo of rollout %llu: back to the content of revision %llu",
		 (unsigned long long)id, (unsigned long long)rollout_int__shown(r.from_revision));
	in.author = who;
	in.message = message;
	in.created = rollout_int__now(e) / 1000;
	in.rules = old.rules;
	in.routes = old.routes;
	in.policy = old.policy;
	in.policy_len = old.policy_len;
	rc = store__revision_insert(e->st, &in, new_revision, &created);
	if (rc) {
		rollout_int__msg(err, errlen, "cannot store the undo revision: %s", strerror(-rc));
		goto cleanup;
	}
	req = (struct rollout_request){
		.revision = *new_revision, .selector = r.selector, .n_selector = r.n_selector,
		.canary_percent = r.canary_percent, .batch_percent = r.batch_percent,
		.interval_seconds = r.interval_seconds, .ack_timeout_seconds = r.ack_timeout_seconds,
		.max_drop_rate_change = r.max_drop_rate_change, .author = who, .message = message,
	};
	rc = rollout__start(e, &req, new_id, err, errlen);
	if (!rc)
		pr_info("rollout %llu undone by %s: revision %llu (%s) rolls out as rollout %llu", (unsigned long long)id, who,
			(unsigned long long)*new_revision, created ? "new" : "already the newest",
			(unsigned long long)*new_id);
cleanup:
	store_revision__clear(&old);
	store_rollout__clear(&r);
	return rc;
}
