/*
 * log.h - one logging macro, key=value lines.
 *
 * BERTH_LOG checks the level before evaluating its arguments. Each line is
 * written with one write(2) to the log fd (stderr by default), so lines from
 * different threads never interleave. Secrets are never passed here.
 */
#ifndef BERTH_LOG_H
#define BERTH_LOG_H

enum berth_log_level {
    BERTH_LOG_ERROR = 0,
    BERTH_LOG_WARN = 1,
    BERTH_LOG_INFO = 2,
    BERTH_LOG_DEBUG = 3,
};

extern int berth_log_threshold; /* written once at start-up, read by every thread */

#define BERTH_LOG(level, ...)                                                                      \
    do {                                                                                           \
        if ((int)(level) <= berth_log_threshold) berth_log_write((level), __VA_ARGS__);            \
    } while (0)

/* Writes "ts=... level=... <fmt>" and a newline. Use BERTH_LOG instead. */
void berth_log_write(enum berth_log_level level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* "error", "warn", "info", "debug" -> level; -1 when unknown. */
int berth_log_level_parse(const char *s);

#endif
