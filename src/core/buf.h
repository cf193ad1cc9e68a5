/*
 * buf.h - the growable byte buffer and the borrowed slice.
 *
 * struct berth_buf owns its memory, is always NUL-terminated and has a cap
 * (max, 0 = unlimited) checked before it grows. An append over the cap sets a
 * sticky error and returns BERTH_ETOOBIG; later appends do nothing, so a run
 * of appends can be checked once with berth_buf_rc().
 */
#ifndef BERTH_BUF_H
#define BERTH_BUF_H

#include <stdarg.h>
#include <stddef.h>
#include "err.h"

struct berth_buf {
    char *p;      /* owned; NULL until the first append */
    size_t len;   /* bytes used, excluding the NUL */
    size_t cap;   /* bytes allocated */
    size_t max;   /* cap on len; 0 = unlimited */
    enum berth_rc rc; /* sticky: first failure */
};

#define BERTH_BUF_INIT(maxlen) {NULL, 0, 0, (maxlen), BERTH_OK}

/* A borrowed slice: p is not owned and need not be NUL-terminated. */
struct berth_str {
    const char *p;
    size_t len;
};

#define BERTH_STR_LIT(s) ((struct berth_str){(s), sizeof(s) - 1})

void berth_buf_init(struct berth_buf *b, size_t max);
void berth_buf_release(struct berth_buf *b);
/* Empties the buffer, keeps memory and clears the sticky error. */
void berth_buf_reset(struct berth_buf *b);
enum berth_rc berth_buf_append(struct berth_buf *b, const void *p, size_t n);
enum berth_rc berth_buf_puts(struct berth_buf *b, const char *s);
enum berth_rc berth_buf_putc(struct berth_buf *b, char c);
enum berth_rc berth_buf_printf(struct berth_buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
enum berth_rc berth_buf_vprintf(struct berth_buf *b, const char *fmt, va_list ap);
/* Appends s as a JSON string literal, quotes included. */
enum berth_rc berth_buf_json_str(struct berth_buf *b, const char *s, size_t n);
/* Borrowed NUL-terminated contents; "" when empty. Valid until the next append. */
const char *berth_buf_str(const struct berth_buf *b);
/* The sticky status of all appends since init/reset. */
enum berth_rc berth_buf_rc(const struct berth_buf *b);
/* Hands the memory to the caller (free() it); the buffer is left empty. */
char *berth_buf_detach(struct berth_buf *b, size_t *len);

struct berth_str berth_str_from(const char *s);

#endif
