/*
 * lazy_curl.h - libcurl through berth_lazy_load(BERTH_LIB_CURL): include it
 * instead of <curl/curl.h>. The calls keep their names; each is a call
 * through the loaded table (lazylib.h). curl's compile-time check of
 * curl_easy_setopt's argument types is a macro over the real function, so it
 * is off here: pass long for numbers, curl_off_t for *_LARGE options.
 */
#ifndef BERTH_LAZY_CURL_H
#define BERTH_LAZY_CURL_H

#define CURL_DISABLE_TYPECHECK 1
#include <curl/curl.h>
#include "lazylib.h"

/* the "same call" macros curl.h defines to count arguments; these names must stay plain */
#undef curl_easy_setopt
#undef curl_easy_getinfo

/* Every libcurl function berth calls: a call to one not listed fails to link. */
#define BERTH_LAZY_CURL_SYMS(X)                                                             \
    X(curl_global_init)                                                                     \
    X(curl_global_cleanup)                                                                  \
    X(curl_easy_init)                                                                       \
    X(curl_easy_cleanup)                                                                    \
    X(curl_easy_reset)                                                                      \
    X(curl_easy_setopt)                                                                     \
    X(curl_easy_getinfo)                                                                    \
    X(curl_easy_perform)                                                                    \
    X(curl_easy_strerror)                                                                   \
    X(curl_easy_escape)                                                                     \
    X(curl_free)                                                                            \
    X(curl_getdate)                                                                         \
    X(curl_slist_append)                                                                    \
    X(curl_slist_free_all)                                                                  \
    X(curl_version)

struct berth_lazy_curl {
    BERTH_LAZY_CURL_SYMS(BERTH_LAZY_FIELD)
};

#ifndef BERTH_LAZY_NO_MAP
#define BERTH_LAZY_CURL ((const struct berth_lazy_curl *)berth_lazy_table(BERTH_LIB_CURL))
#define curl_global_init (BERTH_LAZY_CURL->curl_global_init)
#define curl_global_cleanup (BERTH_LAZY_CURL->curl_global_cleanup)
#define curl_easy_init (BERTH_LAZY_CURL->curl_easy_init)
#define curl_easy_cleanup (BERTH_LAZY_CURL->curl_easy_cleanup)
#define curl_easy_reset (BERTH_LAZY_CURL->curl_easy_reset)
#define curl_easy_setopt (BERTH_LAZY_CURL->curl_easy_setopt)
#define curl_easy_getinfo (BERTH_LAZY_CURL->curl_easy_getinfo)
#define curl_easy_perform (BERTH_LAZY_CURL->curl_easy_perform)
#define curl_easy_strerror (BERTH_LAZY_CURL->curl_easy_strerror)
#define curl_easy_escape (BERTH_LAZY_CURL->curl_easy_escape)
#define curl_free (BERTH_LAZY_CURL->curl_free)
#define curl_getdate (BERTH_LAZY_CURL->curl_getdate)
#define curl_slist_append (BERTH_LAZY_CURL->curl_slist_append)
#define curl_slist_free_all (BERTH_LAZY_CURL->curl_slist_free_all)
#define curl_version (BERTH_LAZY_CURL->curl_version)
#endif

#endif
