/*
 * lazylib.c - libcurl, libpq and libsystemd opened with dlopen on first use
 * and their functions looked up into one table each (lazylib.h).
 */
#define BERTH_LAZY_NO_MAP 1 /* here the names are the libraries' own */
#include <dlfcn.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "lazy_curl.h"
#include "lazy_pq.h"
#include "lazy_systemd.h"
#include "banned.h"

#define LAZY_NAME(sym) #sym,
#define LAZY_COUNT(sym) +1
#define LAZY_FILL(sym) memcpy(&t->sym, &syms[i++], sizeof(t->sym));

/* The table of lib (filled once, under lock, before loaded[] says so), its names and its filler. */
#define LAZY_TABLE(lib, SYMS)                                                               \
    static struct berth_lazy_##lib lib##_fns;                                               \
    static const char *const lib##_names[] = {SYMS(LAZY_NAME)};                             \
    static void lib##_fill(void *const *syms)                                               \
    {                                                                                       \
        struct berth_lazy_##lib *t = &lib##_fns;                                            \
        size_t i = 0;                                                                       \
        SYMS(LAZY_FILL)                                                                     \
    }

LAZY_TABLE(curl, BERTH_LAZY_CURL_SYMS)
LAZY_TABLE(pq, BERTH_LAZY_PQ_SYMS)
LAZY_TABLE(systemd, BERTH_LAZY_SYSTEMD_SYMS)

#define LAZY_MAX_SYMS (sizeof(pq_names) / sizeof(pq_names[0])) /* the longest list */
_Static_assert(0 BERTH_LAZY_CURL_SYMS(LAZY_COUNT) <= LAZY_MAX_SYMS, "LAZY_MAX_SYMS is the longest list");
_Static_assert(0 BERTH_LAZY_SYSTEMD_SYMS(LAZY_COUNT) <= LAZY_MAX_SYMS, "LAZY_MAX_SYMS is the longest list");

/* libcurl's global set-up is not thread-safe: it runs once, under the loader's lock, before any handle. */
static enum berth_rc curl_ready(struct berth_err *err)
{
    CURLcode cc = curl_fns.curl_global_init(CURL_GLOBAL_DEFAULT);
    if (cc != CURLE_OK)
        return berth_err_set(err, BERTH_EUNSUPPORTED, "curl_global_init: %s", curl_fns.curl_easy_strerror(cc));
    return BERTH_OK;
}

static const struct lazy_lib {
    struct berth_lazy_spec spec;
    void (*fill)(void *const *syms);
    enum berth_rc (*ready)(struct berth_err *err); /* after fill, once; NULL for none */
    const void *table;
} libs[BERTH_LIB_COUNT] = {
    [BERTH_LIB_CURL] = {{"libcurl.so.4", "libcurl4", "the HTTP client (berth's client commands, S3 storage)",
                         curl_names, sizeof(curl_names) / sizeof(curl_names[0])},
                        curl_fill, curl_ready, &curl_fns},
    [BERTH_LIB_PQ] = {{"libpq.so.5", "libpq5", "PostgreSQL storage", pq_names, sizeof(pq_names) / sizeof(pq_names[0])},
                      pq_fill, NULL, &pq_fns},
    [BERTH_LIB_SYSTEMD] = {{"libsystemd.so.0", "libsystemd0", "systemd notification (NOTIFY_SOCKET)", systemd_names,
                            sizeof(systemd_names) / sizeof(systemd_names[0])},
                           systemd_fill, NULL, &systemd_fns},
};

/* loaded[lib] is set (release) after its table is filled; lock serialises the loads */
static atomic_int loaded[BERTH_LIB_COUNT];
static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static void *handles[BERTH_LIB_COUNT]; /* kept open for the life of the process; under lock */

enum berth_rc berth_lazy_open(const struct berth_lazy_spec *spec, void **syms, void **handle, struct berth_err *err)
{
    void *h;
    const char *why;
    size_t i;

    dlerror();
    h = dlopen(spec->soname, RTLD_NOW | RTLD_LOCAL);
    if (!h) {
        why = dlerror();
        return berth_err_set(err, BERTH_EUNSUPPORTED, "%s needs %s (Debian package %s): %s", spec->what,
                             spec->soname, spec->package, why ? why : "cannot open it");
    }
    for (i = 0; i < spec->n; i++) {
        dlerror();
        syms[i] = dlsym(h, spec->names[i]);
        if (!syms[i]) {
            why = dlerror();
            berth_err_set(err, BERTH_EUNSUPPORTED, "%s needs %s (Debian package %s): %s", spec->what, spec->soname,
                          spec->package, why ? why : spec->names[i]);
            dlclose(h);
            return BERTH_EUNSUPPORTED;
        }
    }
    *handle = h;
    return BERTH_OK;
}

enum berth_rc berth_lazy_load(enum berth_lazylib lib, struct berth_err *err)
{
    const struct lazy_lib *l;
    void *syms[LAZY_MAX_SYMS];
    enum berth_rc rc = BERTH_OK;

    if ((unsigned)lib >= BERTH_LIB_COUNT) return berth_err_set(err, BERTH_EINVAL, "no library %d", (int)lib);
    if (atomic_load_explicit(&loaded[lib], memory_order_acquire)) return BERTH_OK;
    l = &libs[lib];
    pthread_mutex_lock(&lock);
    if (atomic_load_explicit(&loaded[lib], memory_order_relaxed)) goto out;
    rc = berth_lazy_open(&l->spec, syms, &handles[lib], err);
    if (rc) goto out;
    l->fill(syms);
    if (l->ready) rc = l->ready(err);
    if (rc) goto out; /* the handle stays open: the library may have kept state, and a retry reuses it */
    atomic_store_explicit(&loaded[lib], 1, memory_order_release);
out:
    pthread_mutex_unlock(&lock);
    return rc;
}

const struct berth_lazy_spec *berth_lazy_spec_of(enum berth_lazylib lib)
{
    return (unsigned)lib < BERTH_LIB_COUNT ? &libs[lib].spec : NULL;
}

int berth_lazy_loaded(enum berth_lazylib lib)
{
    return (unsigned)lib < BERTH_LIB_COUNT && atomic_load_explicit(&loaded[lib], memory_order_acquire);
}

const void *berth_lazy_table(enum berth_lazylib lib)
{
    if (!berth_lazy_loaded(lib)) {
        fprintf(stderr, "berth: bug: a function of %s called before berth_lazy_load opened it\n",
                (unsigned)lib < BERTH_LIB_COUNT ? libs[lib].spec.soname : "an unknown library");
        abort();
    }
    return libs[lib].table;
}
