/*
 * log.h - one logging macro, key=value lines (or, with --log-format json,
 * one JSON object per line).
 *
 * BERTH_LOG checks the level before evaluating its arguments. Each line is
 * written with one write(2) to the log fd (stderr by default), so lines from
 * different threads never interleave. Secrets are never passed here. A value
 * that may hold spaces is written key="value"; text from outside (a path, a
 * User-Agent) goes through berth_log_quote first, so that a quote or a line
 * break in it cannot end the value or the line.
 */
#ifndef BERTH_LOG_H
#define BERTH_LOG_H

#include <stddef.h>

enum berth_log_level {
    BERTH_LOG_ERROR = 0,
    BERTH_LOG_WARN = 1,
    BERTH_LOG_INFO = 2,
    BERTH_LOG_DEBUG = 3,
};

/* Set at start-up and again on SIGHUP (atomic stores); every thread reads them with BERTH_LOG_ON. */
extern int berth_log_threshold;
extern int berth_log_json; /* 1: JSON lines (--log-format json) */
#define BERTH_LOG_ON(level) ((int)(level) <= __atomic_load_n(&berth_log_threshold, __ATOMIC_RELAXED))

#define BERTH_LOG(level, ...)                                                                      \
    do {                                                                                           \
        if (BERTH_LOG_ON(level)) berth_log_write((level), __VA_ARGS__);                            \
    } while (0)

/* Writes "ts=... level=... <fmt>" and a newline. Use BERTH_LOG instead. */
void berth_log_write(enum berth_log_level level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/*
 * in, escaped for a quoted log value into out (size n, always terminated,
 * cut short if need be): '"' and '\\' get a backslash, control bytes become
 * \xNN. Returns out.
 */
const char *berth_log_quote(const char *in, char *out, size_t n);
/*
 * One key=value line (without its newline) as a JSON object into out (size
 * n): keys are the words before '=', a quoted value is unescaped, the bare
 * number of a numeric key (log.c, numeric_keys) stays a number, every other
 * value is a string.
 * Text that is not key=value goes under "text". Returns the length written,
 * or -1 when out is too small.
 */
int berth_log_kv_to_json(const char *kv, char *out, size_t n);
/* "error", "warn", "info", "debug" -> level; -1 when unknown. */
int berth_log_level_parse(const char *s);
/* The reverse: "error" ... "debug", or "unknown". */
const char *berth_log_level_name(int level);

#endif
