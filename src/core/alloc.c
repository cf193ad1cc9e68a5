/* alloc.c - allocation wrappers that abort on out-of-memory. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "alloc.h"
#include "banned.h"

static void oom(size_t n)
{
    char msg[96];
    int len = snprintf(msg, sizeof(msg), "berth: out of memory allocating %zu bytes\n", n);
    if (len > 0) {
        ssize_t w = write(2, msg, (size_t)len);
        (void)w;
    }
    abort();
}

void *berth_xmalloc(size_t n)
{
    void *p = malloc(n ? n : 1);
    if (!p) oom(n);
    return p;
}

void *berth_xcalloc(size_t nmemb, size_t size)
{
    void *p = calloc(nmemb ? nmemb : 1, size ? size : 1);
    if (!p) oom(nmemb * size);
    return p;
}

void *berth_xrealloc(void *p, size_t n)
{
    void *q = realloc(p, n ? n : 1);
    if (!q) oom(n);
    return q;
}

char *berth_xstrdup(const char *s)
{
    return berth_xstrndup(s, strlen(s));
}

char *berth_xstrndup(const char *s, size_t n)
{
    char *p = berth_xmalloc(n + 1);
    memcpy(p, s, n);
    p[n] = '\0';
    return p;
}

char *berth_xasprintf(const char *fmt, ...)
{
    va_list ap;
    int n;
    char *p;

    va_start(ap, fmt);
    n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    if (n < 0) oom(0);
    p = berth_xmalloc((size_t)n + 1);
    va_start(ap, fmt);
    vsnprintf(p, (size_t)n + 1, fmt, ap);
    va_end(ap);
    return p;
}
