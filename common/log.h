/* SPDX-License-Identifier: Apache-2.0 */
/*
 * log.h — the one logging layer: levelled, printf-checked messages to stderr.
 * Text lines are prefixed with the time, the level and the program name; JSON
 * lines (--log-format json) are one object per line with "time", "level",
 * "component", "message" and the process-wide ids set with log__set_context().
 * libbpf's output is routed here by the agent (log__libbpf_print).
 */
#ifndef SLUICE_LOG_H
#define SLUICE_LOG_H

#include <stdarg.h>

enum log_level { LOG_ERROR = 0, LOG_WARN = 1, LOG_INFO = 2, LOG_DEBUG = 3 };

/* Sets the program name shown on every line and the most verbose level printed. */
void log__init(const char *prog, enum log_level level);

/* Parses "error", "warn", "info" or "debug"; returns 0 or -EINVAL. */
int log__parse_level(const char *s, enum log_level *out);

enum log_level log__level(void);

enum log_format { LOG_FORMAT_TEXT = 0, LOG_FORMAT_JSON = 1 };

/* Parses "text" or "json"; returns 0 or -EINVAL. */
int log__parse_format(const char *s, enum log_format *out);

/* Selects how lines are written from now on (default: LOG_FORMAT_TEXT). */
void log__set_format(enum log_format format);

/*
 * Attaches an id to every later JSON line, e.g. log__set_context("node", "gw-1") adds
 * "node":"gw-1"; text lines stay as they were (the ids are in their messages). Setting
 * a key again replaces its value; a NULL value removes it. Meant for ids fixed for the
 * process's life. Returns 0, -EINVAL for a NULL/empty key or a reserved one (time,
 * level, component, message), -ENOSPC past LOG_MAX_CONTEXT keys, -ENOMEM.
 */
#define LOG_MAX_CONTEXT 8
int log__set_context(const char *key, const char *value);

/* log__set_context() with a number's decimal form: the agent's live revision. */
int log__set_context_u64(const char *key, unsigned long long value);

/* Removes every id set with log__set_context(). */
void log__clear_context(void);

/*
 * Ids for the lines the calling thread writes until the matching log__scope_end():
 * the rollout a step belongs to, the agent whose message is being handled. Scopes nest
 * (an inner id, and any scoped id, wins over an outer or process-wide one of the same
 * key; time, level, component and message cannot be set); past LOG_MAX_SCOPE nested ids the
 * extra ones are counted but not shown, so begin/end stay balanced. Long values are
 * cut to LOG_SCOPE_VALUE_MAX - 1 bytes. Like log__set_context(), JSON lines only.
 */
#define LOG_MAX_SCOPE 4
#define LOG_SCOPE_VALUE_MAX 96
void log__scope_begin(const char *key, const char *value);
void log__scope_begin_u64(const char *key, unsigned long long value);
void log__scope_end(void);

void log__printf(enum log_level level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void log__vprintf(enum log_level level, const char *fmt, va_list ap) __attribute__((format(printf, 2, 0)));

#define pr_err(...) log__printf(LOG_ERROR, __VA_ARGS__)
#define pr_warn(...) log__printf(LOG_WARN, __VA_ARGS__)
#define pr_info(...) log__printf(LOG_INFO, __VA_ARGS__)
#define pr_debug(...) log__printf(LOG_DEBUG, __VA_ARGS__)

#endif
