/* SPDX-License-Identifier: Apache-2.0 */
/*
 * log.h — the one logging layer: levelled, printf-checked messages to stderr,
 * each line prefixed with the time, the level and the program name.
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

void log__printf(enum log_level level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void log__vprintf(enum log_level level, const char *fmt, va_list ap) __attribute__((format(printf, 2, 0)));

#define pr_err(...) log__printf(LOG_ERROR, __VA_ARGS__)
#define pr_warn(...) log__printf(LOG_WARN, __VA_ARGS__)
#define pr_info(...) log__printf(LOG_INFO, __VA_ARGS__)
#define pr_debug(...) log__printf(LOG_DEBUG, __VA_ARGS__)

#endif
