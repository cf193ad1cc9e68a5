/*
 * lazylib.h - the libraries berth opens with dlopen where it uses them
 * instead of linking them: libcurl (the CLI's HTTP client, the S3 store),
 * libpq (the PostgreSQL metadata driver) and libsystemd (sd_notify under
 * systemd). A server on its default storage never maps them, nor the ~40
 * libraries they pull in (TLS, Kerberos, LDAP, compressors, ...).
 *
 * A user includes lazy_curl.h, lazy_pq.h or lazy_systemd.h instead of the
 * library's header: the types and constants come from the real header, and
 * each function name it calls becomes a call through the table
 * berth_lazy_load filled. Calling one before its library was loaded is a bug
 * in berth: the call aborts with a message, it never jumps through NULL.
 * Loaded libraries stay for the life of the process.
 */
#ifndef BERTH_LAZYLIB_H
#define BERTH_LAZYLIB_H

#include <stddef.h>
#include "err.h"

enum berth_lazylib {
    BERTH_LIB_CURL,    /* libcurl.so.4; curl_global_init runs once, right after it is opened */
    BERTH_LIB_PQ,      /* libpq.so.5 */
    BERTH_LIB_SYSTEMD, /* libsystemd.so.0 */
    BERTH_LIB_COUNT
};

/*
 * Opens lib and fills its table, once per process; thread-safe, and cheap
 * once it succeeded. A failure (the library or one of its symbols missing)
 * is BERTH_EUNSUPPORTED, with a message naming the library file and the
 * Debian package that holds it; a later call tries again.
 */
enum berth_rc berth_lazy_load(enum berth_lazylib lib, struct berth_err *err);
/* Nonzero once berth_lazy_load(lib) succeeded. */
int berth_lazy_loaded(enum berth_lazylib lib);
/* One member of a library's table: a pointer typed as the header declares sym. */
#define BERTH_LAZY_FIELD(sym) __typeof__(sym) *sym;

/* lib's table of functions (struct berth_lazy_curl, ...); aborts if lib is not loaded. Never NULL. */
const void *berth_lazy_table(enum berth_lazylib lib);

/* A library to open: what berth_lazy_load does for each of the three, open to tests. All borrowed. */
struct berth_lazy_spec {
    const char *soname;      /* "libpq.so.5" */
    const char *package;     /* the Debian package that installs it: "libpq5" */
    const char *what;        /* what in berth needs it, for the message: "PostgreSQL storage" */
    const char *const *names; /* the symbols to look up */
    size_t n;
};
/* What berth_lazy_load opens for lib (for `berth doc libraries`, the package and the image); NULL past the end. */
const struct berth_lazy_spec *berth_lazy_spec_of(enum berth_lazylib lib);
/*
 * dlopens spec->soname (RTLD_NOW | RTLD_LOCAL) and stores the address of
 * names[i] in syms[i] (n of them) and the handle in *handle. Not serialised:
 * berth_lazy_load calls it under its lock. On failure nothing is kept open,
 * and err says "<what> needs <soname> (Debian package <package>): <dlerror>".
 */
enum berth_rc berth_lazy_open(const struct berth_lazy_spec *spec, void **syms, void **handle, struct berth_err *err);

#endif
