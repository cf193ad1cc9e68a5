/*
 * err.h - berth's one table of error codes.
 *
 * Every function that can fail returns enum berth_rc (BERTH_OK == 0). The
 * details travel beside it in a caller-provided struct berth_err. Each code is
 * defined once in BERTH_RC_MAP with its text, HTTP status and OCI error code;
 * strerror, the HTTP mapping and docs/errors.md are generated from it.
 */
#ifndef BERTH_ERR_H
#define BERTH_ERR_H

#include <stddef.h>

/* X(name, text, http status, OCI/registry error code) */
#define BERTH_RC_MAP(X)                                                                     \
    X(OK, "success", 200, "")                                                               \
    X(EINVAL, "invalid argument", 400, "UNSUPPORTED")                                       \
    X(EREQUEST, "invalid request", 400, "INVALID_REQUEST")                                  \
    X(ENAME, "invalid repository name", 400, "NAME_INVALID")                                \
    X(ENAMEUNKNOWN, "repository name not known to registry", 404, "NAME_UNKNOWN")          \
    X(ETAG, "invalid tag", 400, "TAG_INVALID")                                              \
    X(EDIGEST, "provided digest did not match uploaded content", 400, "DIGEST_INVALID")     \
    X(EBLOBUNKNOWN, "blob unknown to registry", 404, "BLOB_UNKNOWN")                        \
    X(EUPLOAD, "blob upload invalid", 400, "BLOB_UPLOAD_INVALID")                           \
    X(EUPLOADUNKNOWN, "blob upload unknown to registry", 404, "BLOB_UPLOAD_UNKNOWN")        \
    X(EUPLOADRANGE, "chunk does not continue the upload", 416, "BLOB_UPLOAD_INVALID")       \
    X(ERANGE, "requested range not satisfiable", 416, "RANGE_INVALID")                      \
    X(EMANIFEST, "manifest invalid", 400, "MANIFEST_INVALID")                               \
    X(EMANIFESTUNKNOWN, "manifest unknown", 404, "MANIFEST_UNKNOWN")                        \
    X(EMANIFESTBLOB, "blob unknown to registry", 400, "MANIFEST_BLOB_UNKNOWN")              \
    X(ESIZE, "provided length did not match content length", 400, "SIZE_INVALID")           \
    X(ETOOBIG, "content exceeds the size limit", 413, "SIZE_INVALID")                       \
    X(EHEADER, "request header fields too large", 431, "UNSUPPORTED")                       \
    X(EUNSUPPORTED, "the operation is unsupported", 400, "UNSUPPORTED")                     \
    X(EMETHOD, "method not allowed", 405, "UNSUPPORTED")                                    \
    X(ENOROUTE, "no such endpoint", 404, "NOT_FOUND")                                       \
    X(ENOENT, "not found", 404, "NOT_FOUND")                                                \
    X(EEXIST, "already exists", 409, "CONFLICT")                                            \
    X(EBUSY, "resource busy, try again", 409, "CONFLICT")                                   \
    X(EUNAUTHORIZED, "authentication required", 401, "UNAUTHORIZED")                       \
    X(EDENIED, "requested access to the resource is denied", 403, "DENIED")                 \
    X(ETOOMANY, "too many requests", 429, "TOOMANYREQUESTS")                                \
    X(EUNAVAILABLE, "service unavailable", 503, "UNAVAILABLE")                              \
    X(ECONFIG, "invalid configuration", 500, "UNKNOWN")                                     \
    X(EIO, "input/output error", 500, "UNKNOWN")                                            \
    X(EDB, "database error", 500, "UNKNOWN")                                                \
    X(EINTERNAL, "internal error", 500, "UNKNOWN")

enum berth_rc {
#define BERTH_RC_ENUM(name, text, status, code) BERTH_##name,
    BERTH_RC_MAP(BERTH_RC_ENUM)
#undef BERTH_RC_ENUM
    BERTH_RC_COUNT
};

#define BERTH_ERR_MSG_MAX 512

/* Caller-owned; berth_err_set fills it. msg is always NUL-terminated. */
struct berth_err {
    enum berth_rc code;
    char msg[BERTH_ERR_MSG_MAX];
};

#define BERTH_ERR_INIT {BERTH_OK, ""}

/* Records code and a formatted message in err (err may be NULL); returns code. */
enum berth_rc berth_err_set(struct berth_err *err, enum berth_rc code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* Like berth_err_set, appending ": <strerror(errnum)>" (for failed syscalls). */
enum berth_rc berth_err_sys(struct berth_err *err, enum berth_rc code, int errnum, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
void berth_err_clear(struct berth_err *err);

/* Static facts about a code; never NULL. */
const char *berth_rc_name(enum berth_rc rc);    /* "EDIGEST" */
const char *berth_rc_text(enum berth_rc rc);    /* "provided digest did not match ..." */
const char *berth_rc_ocicode(enum berth_rc rc); /* "DIGEST_INVALID" */
int berth_rc_status(enum berth_rc rc);          /* 400 */

/* The message of err if one was set, else the code's text. */
const char *berth_err_msg(const struct berth_err *err);

/*
 * BERTH_ASSERT(cond): an invariant of berth's own code (a length within its
 * buffer, an owned pointer set, a state the machine can be in), never a
 * check of input: bad input is an error code. Compiled in only when
 * BERTH_ASSERTS is defined (the ASan and fuzz builds); elsewhere cond is not
 * evaluated, so it must have no side effects. A failed assertion logs
 * "assertion failed" with file, line and expression at level error (always
 * written) and aborts.
 */
#ifdef BERTH_ASSERTS
#define BERTH_ASSERT(cond)                                                                  \
    do {                                                                                    \
        if (!(cond)) berth_assert_fail(__FILE__, __LINE__, #cond);                          \
    } while (0)
#else
#define BERTH_ASSERT(cond)                                                                  \
    do {                                                                                    \
        (void)sizeof(cond);                                                                 \
    } while (0)
#endif
_Noreturn void berth_assert_fail(const char *file, int line, const char *expr);

#endif
