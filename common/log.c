// SPDX-License-Identifier: Apache-2.0
/* log.c — see log.h. One write(2)-sized line per message so concurrent threads do not interleave. */
#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <jansson.h>

#include "common/log.h"

static const char *prog_name = "sluice";
static enum log_level max_level = LOG_INFO;
static const char *const level_names[] = { "error", "warn", "info", "debug" };
static enum log_format out_format = LOG_FORMAT_TEXT;

/* Process-wide ids for JSON lines; the lock keeps a late log__set_context() safe. */
static pthread_mutex_t ctx_lock = PTHREAD_MUTEX_INITIALIZER;
static struct {
	char *key;
	char *value;
} ctx[LOG_MAX_CONTEXT];
static size_t n_ctx;

void log__init(const char *prog, enum log_level level)
{
	if (prog)
		prog_name = prog;
	max_level = level;
}

int log__parse_level(const char *s, enum log_level *out)
{
	for (unsigned i = 0; i < sizeof(level_names) / sizeof(level_names[0]); i++) {
		if (s && strcmp(s, level_names[i]) == 0) {
			*out = (enum log_level)i;
			return 0;
		}
	}
	return -EINVAL;
}

enum log_level log__level(void)
{
	return max_level;
}

int log__parse_format(const char *s, enum log_format *out)
{
	if (s && strcmp(s, "text") == 0)
		*out = LOG_FORMAT_TEXT;
	else if (s && strcmp(s, "json") == 0)
		*out = LOG_FORMAT_JSON;
	else
		return -EINVAL;
	return 0;
}

void log__set_format(enum log_format format)
{
	out_format = format;
}

static bool reserved(const char *key)
{
	return !strcmp(key, "time") || !strcmp(key, "level") || !strcmp(key, "component") ||
	       !strcmp(key, "message");
}

int log__set_context(const char *key, const char *value)
{
	char *copy = NULL;
	size_t i;
	int err = 0;

	if (!key || !key[0] || reserved(key))
		return -EINVAL;
	if (value && !(copy = strdup(value)))
		return -ENOMEM;
	pthread_mutex_lock(&ctx_lock);
	for (i = 0; i < n_ctx && strcmp(ctx[i].key, key); i++)
		;
	if (i < n_ctx) {
		free(ctx[i].value);
		if (copy) {
			ctx[i].value = copy;
			copy = NULL;
		} else { /* remove: the last entry takes its place */
			free(ctx[i].key);
			ctx[i] = ctx[--n_ctx];
		}
	} else if (copy) {
		if (n_ctx == LOG_MAX_CONTEXT) {
			err = -ENOSPC;
		} else if (!(ctx[n_ctx].key = strdup(key))) {
			err = -ENOMEM;
		} else {
			ctx[n_ctx++].value = copy;
			copy = NULL;
		}
	}
	pthread_mutex_unlock(&ctx_lock);
	free(copy);
	return err;
}

int log__set_context_u64(const char *key, unsigned long long value)
{
	char buf[24];

	snprintf(buf, sizeof(buf), "%llu", value);
	return log__set_context(key, buf);
}

void log__clear_context(void)
{
	pthread_mutex_lock(&ctx_lock);
	while (n_ctx) {
		n_ctx--;
		free(ctx[n_ctx].key);
		free(ctx[n_ctx].value);
	}
	pthread_mutex_unlock(&ctx_lock);
}

/* The calling thread's scoped ids, innermost last; depth may pass LOG_MAX_SCOPE. */
static _Thread_local struct {
	const char *key; /* a literal or a caller's string that outlives the scope */
	char value[LOG_SCOPE_VALUE_MAX];
} scope[LOG_MAX_SCOPE];
static _Thread_local size_t scope_depth;

void log__scope_begin(const char *key, const char *value)
{
	if (scope_depth < LOG_MAX_SCOPE) {
		scope[scope_depth].key = key;
		snprintf(scope[scope_depth].value, sizeof(scope[scope_depth].value), "%s", value ? value : "");
	}
	scope_depth++;
}

void log__scope_begin_u64(const char *key, unsigned long long value)
{
	char buf[24];

	snprintf(buf, sizeof(buf), "%llu", value);
	log__scope_begin(key, buf);
}

void log__scope_end(void)
{
	if (scope_depth)
		scope_depth--;
}

/*
 * One JSON object per line. jansson escapes the message; invalid UTF-8 in it (a
 * name read off the wire, say) is kept readable by falling back to a placeholder
 * rather than dropping the line.
 */
static void write_json(const char *stamp, enum log_level level, const char *msg)
{
	json_t *o = json_object(), *m = json_string(msg);
	char *text = NULL;

	if (!o)
		goto cleanup;
	json_object_set_new(o, "time", json_string(stamp));
	json_object_set_new(o, "level", json_string(level_names[level]));
	json_object_set_new(o, "component", json_string(prog_name));
	json_object_set_new(o, "message", m ? m : json_string("(message is not UTF-8)"));
	m = NULL;
	pthread_mutex_lock(&ctx_lock);
	for (size_t i = 0; i < n_ctx; i++)
		json_object_set_new(o, ctx[i].key, json_string(ctx[i].value));
	pthread_mutex_unlock(&ctx_lock);
	for (size_t i = 0; i < scope_depth && i < LOG_MAX_SCOPE; i++)
		if (scope[i].key && scope[i].key[0] && !reserved(scope[i].key))
			json_object_set_new(o, scope[i].key, json_string(scope[i].value));
	text = json_dumps(o, JSON_COMPACT | JSON_PRESERVE_ORDER);
	if (text)
		fprintf(stderr, "%s\n", text);
cleanup:
	free(text);
	json_decref(m);
	json_decref(o);
}

void log__vprintf(enum log_level level, const char *fmt, va_list ap)
{
	char line[2048], stamp[32];
	struct timespec ts;
	struct tm tm;
	int n;

	if (level > max_level)
		return;
	clock_gettime(CLOCK_REALTIME, &ts);
	gmtime_r(&ts.tv_sec, &tm);
	snprintf(stamp, sizeof(stamp), "%04d-%02d-%02dT%02d:%02d:%02d.%03ldZ", tm.tm_year + 1900, tm.tm_mon + 1,
		 tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, ts.tv_nsec / 1000000);
	if (out_format == LOG_FORMAT_JSON)
		n = 0;
	else
		n = snprintf(line, sizeof(line), "%s %-5s %s: ", stamp, level_names[level], prog_name);
	if (n < 0 || (size_t)n >= sizeof(line))
		n = 0;
	vsnprintf(line + n, sizeof(line) - (size_t)n, fmt, ap);
	n = (int)strlen(line);
	while (n > 0 && line[n - 1] == '\n')
		line[--n] = '\0';
	if (out_format == LOG_FORMAT_JSON)
		write_json(stamp, level, line);
	else
		fprintf(stderr, "%s\n", line);
}

void log__printf(enum log_level level, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	log__vprintf(level, fmt, ap);
	va_end(ap);
}
