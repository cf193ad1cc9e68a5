/*
 * alloc.h - allocation that never returns NULL.
 *
 * The berth_x* family aborts the process on out-of-memory, so call sites do
 * not check for NULL. Sizes that a client controls must be capped before
 * they reach these functions (see struct berth_buf).
 */
#ifndef BERTH_ALLOC_H
#define BERTH_ALLOC_H

#include <stddef.h>

void *berth_xmalloc(size_t n);
void *berth_xcalloc(size_t nmemb, size_t size);
void *berth_xrealloc(void *p, size_t n);
char *berth_xstrdup(const char *s);
char *berth_xstrndup(const char *s, size_t n);
/* malloc'd printf; aborts on OOM. */
char *berth_xasprintf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

#endif
