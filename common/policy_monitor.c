// SPDX-License-Identifier: Apache-2.0
/*
 * policy_monitor.c — the policy's monitoring settings (DESIGN.md §7), in both directions
 * of the file's schema: the compliance keys of rules and routes (tls_only,
 * deprecated_paths) and the `detectors:` section, parsed from YAML (hooked into the key
 * tables of policy_yaml_schema.c) and rendered as JSON (for policy_json.c). Their
 * semantic checks live with the rest in policy__validate().
 *
 *   detectors:
 *     port_scan: { min: 20, window: 2s, sigma: 6, severity: high,
 *                  mitigate: { action: drop, ttl: 5m } }
 *     syn_flood: { min: 200 }
 *     new_talker: { enabled: false }
 */
#include <errno.h>
#include <float.h>
#include <math.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "common/policy.h"
#include "common/policy_yaml_int.h"

#define NKEYS(k) (sizeof(k) / sizeof((k)[0]))

#define NEW_MSG(type, init_fn)                   \
	({                                       \
		type *_m = malloc(sizeof(type)); \
		if (_m)                          \
			init_fn(_m);             \
		_m;                              \
	})

static const char *const severities[] = { "unset", "info", "low", "medium", "high", "critical" };

const char *policy__severity_name(int s)
{
	return s >= 0 && (size_t)s < sizeof(severities) / sizeof(severities[0]) ? severities[s] : "unknown";
}

/* ---- YAML: scalars ------------------------------------------------------------------------ */

static int ybool(struct yctx *y, yaml_node_t *v, const char *path, protobuf_c_boolean *out)
{
	const char *s;
	int err = policy_yaml__text(y, v, policy_yaml__field(path), &s);

	if (err)
		return err;
	if (!strcasecmp(s, "true") || !strcasecmp(s, "yes") || !strcasecmp(s, "on"))
		*out = true;
	else if (!strcasecmp(s, "false") || !strcasecmp(s, "no") || !strcasecmp(s, "off"))
		*out = false;
	else
		return policy_yaml__err(y, v, policy_yaml__field(path), "'%.40s' is not true or false", s);
	return 0;
}

static int ydouble(struct yctx *y, yaml_node_t *v, const char *path, const char *allowed, double *out)
{
	const char *s;
	char *end;
	int err = policy_yaml__text(y, v, policy_yaml__field(path), &s);

	if (err)
		return err;
	errno = 0;
	*out = strtod(s, &end);
	if (!*s || *end)
		return policy_yaml__err(y, v, policy_yaml__field(path), "'%.40s' is not a number (%s)", s, allowed);
	/* strtod says ERANGE for an underflow too (a denormal or 0 result): a tiny number is
	 * fine, and is how JSON prints a denormal that `get policy -o json` must read back. */
	if ((errno == ERANGE && fabs(*out) > DBL_MIN) || !isfinite(*out))
		return policy_yaml__err(y, v, policy_yaml__field(path), "'%.40s' is out of range (%s)", s, allowed);
	if (*out < 0)
		return policy_yaml__err(y, v, policy_yaml__field(path), "'%.40s' is negative (%s)", s, allowed);
	return 0;
}

static int yinterval(struct yctx *y, yaml_node_t *v, const char *path, uint32_t *out)
{
	const char *s;
	int err = policy_yaml__text(y, v, policy_yaml__field(path), &s);

	if (err)
		return err;
	if (policy__parse_interval(s, out))
		return policy_yaml__err(y, v, policy_yaml__field(path),
					"'%.40s' is not an interval (like 2s, 5m, 1h or a number of seconds)", s);
	return 0;
}

/* ---- YAML: compliance on rules and routes --------------------------------------------------- */

/* A path prefix or a list of them into (*arr, *n). */
static int paths(struct yctx *y, yaml_node_t *v, const char *path, char ***arr, size_t *n)
{
	const char *field = policy_yaml__field(path);
	size_t cap = *n, k = 0;
	char ipath[YPATH_LEN];
	int err;

	if (v->type == YAML_MAPPING_NODE)
		return policy_yaml__err(y, v, field, "expected a path prefix or a list of them (like [\"/v1/\"]), got a map");
	for (yaml_node_item_t *it = v->type == YAML_SEQUENCE_NODE ? v->data.sequence.items.start : NULL;
	     v->type == YAML_SCALAR_NODE || it < v->data.sequence.items.top; it++, k++) {
		yaml_node_t *item = v->type == YAML_SCALAR_NODE ? v : policy_yaml__node(y, *it);
		const char *s;

		err = policy_yaml__visit(y, item);
		if (!err)
			err = policy_yaml__text(y, item, field, &s);
		if (err)
			return err;
		snprintf(ipath, sizeof(ipath), "%s[%zu]", path, k);
		err = policy_yaml__record(y, ipath, item);
		if (!err)
			err = policy_yaml__grow((void ***)arr, *n, &cap);
		if (err)
			return err;
		(*arr)[*n] = strdup(s);
		if (!(*arr)[*n])
			return -ENOMEM;
		(*n)++;
		if (v->type == YAML_SCALAR_NODE)
			break;
	}
	return 0;
}

int policy_yaml__rule_tls_only(struct yctx *y, yaml_node_t *v, void *obj, const char *path)
{
	return ybool(y, v, path, &((Sluice__V1__Rule *)obj)->tls_only);
}

int policy_yaml__rule_deprecated(struct yctx *y, yaml_node_t *v, void *obj, const char *path)
{
	Sluice__V1__Rule *r = obj;

	return paths(y, v, path, &r->deprecated_paths, &r->n_deprecated_paths);
}

int policy_yaml__route_tls_only(struct yctx *y, yaml_node_t *v, void *obj, const char *path)
{
	return ybool(y, v, path, &((Sluice__V1__Route *)obj)->tls_only);
}

int policy_yaml__route_deprecated(struct yctx *y, yaml_node_t *v, void *obj, const char *path)
{
	Sluice__V1__Route *r = obj;

	return paths(y, v, path, &r->deprecated_paths, &r->n_deprecated_paths);
}

/* ---- YAML: the detectors section ------------------------------------------------------------ */

static int mit_action(struct yctx *y, yaml_node_t *v, void *obj, const char *path)
{
	Sluice__V1__MitigationSpec *m = obj;
	const char *s;
	int err = policy_yaml__text(y, v, "mitigate.action", &s);

	if (err)
		return err;
	if (!strcasecmp(s, "drop"))
		m->action = SLUICE__V1__ACTION__ACTION_DROP;
	else if (!strcasecmp(s, "rate_limit"))
		m->action = SLUICE__V1__ACTION__ACTION_RATE_LIMIT;
	else
		return policy_yaml__err(y, v, "mitigate.action", "'%.40s' is not allowed (drop or rate_limit)", s);
	return 0;
}

static int mit_pps(struct yctx *y, yaml_node_t *v, void *obj, const char *path)
{
	return policy_yaml__u64(y, v, "mitigate.pps", INT64_MAX, "packets per second",
				&((Sluice__V1__MitigationSpec *)obj)->pps);
}

static int mit_ttl(struct yctx *y, yaml_node_t *v, void *obj, const char *path)
{
	return yinterval(y, v, path, &((Sluice__V1__MitigationSpec *)obj)->ttl_seconds);
}

static const struct ykey mitigate_keys[] = { { "action", mit_action }, { "pps", mit_pps }, { "ttl", mit_ttl } };

static int d_enabled(struct yctx *y, yaml_node_t *v, void *obj, const char *path)
{
	protobuf_c_boolean on = 1;
	int err = ybool(y, v, path, &on);

	((Sluice__V1__DetectorSettings *)obj)->disabled = !on;
	return err;
}

static int d_sigma(struct yctx *y, yaml_node_t *v, void *obj, const char *path)
{
	return ydouble(y, v, path, "standard deviations above the baseline, like 6",
		       &((Sluice__V1__DetectorSettings *)obj)->sigma);
}

static int d_min(struct yctx *y, yaml_node_t *v, void *obj, const char *path)
{
	return ydouble(y, v, path, "the floor below which it never fires", &((Sluice__V1__DetectorSettings *)obj)->min);
}

static int d_window(struct yctx *y, yaml_node_t *v, void *obj, const char *path)
{
	return yinterval(y, v, path, &((Sluice__V1__DetectorSettings *)obj)->window_seconds);
}

static int d_severity(struct yctx *y, yaml_node_t *v, void *obj, const char *path)
{
	Sluice__V1__DetectorSettings *d = obj;
	const char *s;
	int err = policy_yaml__text(y, v, "severity", &s);

	if (err)
		return err;
	for (int i = SLUICE__V1__ALERT_SEVERITY__SEVERITY_INFO; i <= SLUICE__V1__ALERT_SEVERITY__SEVERITY_CRITICAL; i++) {
		if (!strcasecmp(s, severities[i])) {
			d->severity = (Sluice__V1__AlertSeverity)i;
			return 0;
		}
	}
	return policy_yaml__err(y, v, "severity", "'%.40s' is not a severity (info, low, medium, high or critical)", s);
}

static int d_mitigate(struct yctx *y, yaml_node_t *v, void *obj, const char *path)
{
	Sluice__V1__DetectorSettings *d = obj;

	d->mitigate = NEW_MSG(Sluice__V1__MitigationSpec, sluice__v1__mitigation_spec__init);
	if (!d->mitigate)
		return -ENOMEM;
	d->mitigate->action = SLUICE__V1__ACTION__ACTION_DROP;
	return policy_yaml__walk(y, v, "mitigate", path, mitigate_keys, NKEYS(mitigate_keys), d->mitigate, NULL);
}

static const struct ykey settings_keys[] = {
	{ "enabled", d_enabled }, { "sigma", d_sigma },	      { "min", d_min },
	{ "window", d_window },	  { "severity", d_severity }, { "mitigate", d_mitigate },
};

/* The detectors by name, with where each lives in the message. */
#define DETECTOR(name) { #name, offsetof(Sluice__V1__Detectors, name) }
static const struct {
	const char *name;
	size_t off;
} detectors[] = {
	DETECTOR(port_scan), DETECTOR(slow_scan),      DETECTOR(syn_flood), DETECTOR(volume),
	DETECTOR(new_talker), DETECTOR(deprecated_api), DETECTOR(plaintext),
};
#define N_DETECTORS (sizeof(detectors) / sizeof(detectors[0]))

static Sluice__V1__DetectorSettings **slot_of(Sluice__V1__Detectors *d, size_t i)
{
	return (Sluice__V1__DetectorSettings **)((char *)d + detectors[i].off);
}

static int one_detector(struct yctx *y, yaml_node_t *v, void *obj, const char *path)
{
	const char *key = strrchr(path, '.') + 1;
	Sluice__V1__Detectors *d = obj;

	for (size_t i = 0; i < N_DETECTORS; i++) {
		Sluice__V1__DetectorSettings **s = slot_of(d, i);

		if (strcmp(key, detectors[i].name) != 0)
			continue;
		*s = NEW_MSG(Sluice__V1__DetectorSettings, sluice__v1__detector_settings__init);
		if (!*s)
			return -ENOMEM;
		snprintf(y->label, sizeof(y->label), "detector '%s'", key);
		return policy_yaml__walk(y, v, "", path, settings_keys, NKEYS(settings_keys), *s, NULL);
	}
	return -EINVAL; /* not reached: walk() only passes known keys */
}

int policy_yaml__detectors(struct yctx *y, yaml_node_t *v, void *obj, const char *path)
{
	static struct ykey keys[N_DETECTORS];
	int err;

	for (size_t i = 0; i < N_DETECTORS; i++)
		keys[i] = (struct ykey){ detectors[i].name, one_detector };
	if (y->p->detectors)
		return policy_yaml__err(y, v, "detectors", "given again (keep one detectors section)");
	y->p->detectors = NEW_MSG(Sluice__V1__Detectors, sluice__v1__detectors__init);
	if (!y->p->detectors)
		return -ENOMEM;
	err = policy_yaml__walk(y, v, "detectors", path, keys, N_DETECTORS, y->p->detectors, NULL);
	if (!err)
		y->label[0] = '\0';
	return err;
}

/* ---- JSON ------------------------------------------------------------------------------------ */

static bool put(json_t *o, const char *key, json_t *v)
{
	return v && json_object_set_new(o, key, v) == 0;
}

int policy_json__compliance(json_t *o, bool tls_only, char *const *deprecated, size_t n)
{
	json_t *a;

	if (tls_only && !put(o, "tls_only", json_true()))
		return -ENOMEM;
	if (n == 0)
		return 0;
	a = json_array();
	if (!put(o, "deprecated_paths", a))
		return -ENOMEM;
	for (size_t i = 0; i < n; i++)
		if (json_array_append_new(a, json_string(deprecated[i])))
			return -ENOMEM;
	return 0;
}

static json_t *duration(uint32_t s)
{
	char buf[16];

	snprintf(buf, sizeof(buf), "%us", s);
	return json_string(buf);
}

static json_t *settings_json(const Sluice__V1__DetectorSettings *s)
{
	json_t *o = json_object(), *m;

	if (!o)
		return NULL;
	if ((s->disabled && !put(o, "enabled", json_false())) || (s->sigma > 0 && !put(o, "sigma", json_real(s->sigma))) ||
	    (s->min > 0 && !put(o, "min", json_real(s->min))) ||
	    (s->window_seconds && !put(o, "window", duration(s->window_seconds))) ||
	    (s->severity && !put(o, "severity", json_string(policy__severity_name(s->severity)))))
		goto fail;
	if (s->mitigate) {
		m = json_object();
		if (!put(o, "mitigate", m) ||
		    !put(m, "action", json_string(s->mitigate->action == SLUICE__V1__ACTION__ACTION_RATE_LIMIT ? "rate_limit"
														  : "drop")) ||
		    (s->mitigate->pps && !put(m, "pps", json_integer((json_int_t)s->mitigate->pps))) ||
		    (s->mitigate->ttl_seconds && !put(m, "ttl", duration(s->mitigate->ttl_seconds))))
			goto fail;
	}
	return o;
fail:
	json_decref(o);
	return NULL;
}

json_t *policy_json__detectors(const Sluice__V1__Detectors *d)
{
	json_t *o;

	if (!d)
		return NULL;
	o = json_object();
	for (size_t i = 0; o && i < N_DETECTORS; i++) {
		Sluice__V1__DetectorSettings *s = *slot_of((Sluice__V1__Detectors *)d, i);

		if (s && !put(o, detectors[i].name, settings_json(s))) {
			json_decref(o);
			return NULL;
		}
	}
	return o;
}

/* ---- checks for policy__validate --------------------------------------------------------------- */

__attribute__((format(printf, 3, 4))) static int bad(char *why, size_t wlen, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(why, wlen, fmt, ap);
	va_end(ap);
	return -EINVAL;
}

int policy__check_detectors(const Sluice__V1__Detectors *d, char *field, size_t flen, char *why, size_t wlen)
{
	for (size_t i = 0; d && i < N_DETECTORS; i++) {
		const Sluice__V1__DetectorSettings *s = *slot_of((Sluice__V1__Detectors *)d, i);
		const char *n = detectors[i].name;

		if (!s)
			continue;
		snprintf(field, flen, "detectors.%s", n);
		if (!isfinite(s->sigma) || s->sigma < 0 || s->sigma > 1000)
			return bad(why, wlen, "sigma: %g is out of range (0-1000 standard deviations)", s->sigma);
		if (!isfinite(s->min) || s->min < 0)
			return bad(why, wlen, "min: %g is not a floor (a number >= 0)", s->min);
		if (s->window_seconds > 86400)
			return bad(why, wlen, "window: %u s is more than a day", s->window_seconds);
		if (s->severity > SLUICE__V1__ALERT_SEVERITY__SEVERITY_CRITICAL)
			return bad(why, wlen, "severity: unknown value %d", (int)s->severity);
		if (!s->mitigate)
			continue;
		snprintf(field, flen, "detectors.%s.mitigate", n);
		if (s->mitigate->action != SLUICE__V1__ACTION__ACTION_DROP &&
		    s->mitigate->action != SLUICE__V1__ACTION__ACTION_RATE_LIMIT)
			return bad(why, wlen, "action: %s is not allowed (drop or rate_limit)",
					policy__action_name(s->mitigate->action));
		if (s->mitigate->action == SLUICE__V1__ACTION__ACTION_RATE_LIMIT && s->mitigate->pps == 0)
			return bad(why, wlen, "pps: a rate_limit mitigation needs pps above 0");
		if (s->mitigate->ttl_seconds > 86400)
			return bad(why, wlen, "ttl: %u s is more than a day (mitigations are temporary)",
					s->mitigate->ttl_seconds);
	}
	return 0;
}

int policy__check_paths(char *const *p, size_t n, size_t *bad_at, char *why, size_t wlen)
{
	if (n > POLICY_MAX_DEPRECATED)
	{
		*bad_at = POLICY_MAX_DEPRECATED;
		return bad(why, wlen, "%zu prefixes, more than %d", n, POLICY_MAX_DEPRECATED);
	}
	for (size_t i = 0; i < n; i++) {
		size_t l = p[i] ? strlen(p[i]) : 0;

		*bad_at = i;
		if (l == 0 || p[i][0] != '/')
			return bad(why, wlen, "'%.60s' is not a path prefix (it starts with '/', like \"/v1/\")",
					p[i] ? p[i] : "");
		if (l > POLICY_MAX_PATH)
			return bad(why, wlen, "a prefix of %zu characters is too long (at most %d)", l, POLICY_MAX_PATH);
		for (size_t k = 0; k < l; k++) {
			if ((unsigned char)p[i][k] <= 0x20 || (unsigned char)p[i][k] >= 0x7f)
				return bad(why, wlen, "'%.60s' holds a space or a control character", p[i]);
		}
	}
	return 0;
}
