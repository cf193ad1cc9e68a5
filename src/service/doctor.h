/*
 * doctor.h - the server's health checks, shared by `berth doctor`,
 * `berth serve --check` and GET /readyz.
 *
 * One table of checks (src/service/doctor.c), each looking at one part of a
 * server: the data folder and its free space, the database, the token
 * signing keys, the TLS certificate, the clock, and a blob store other than
 * the data folder (S3). Each gives a status, a
 * stable code (BERTH_DOCTOR_CODE_MAP, documented in docs/check-health.md),
 * the cause in plain words and a fix. Nothing here changes the data folder
 * beyond a probe file it creates and removes again. See
 * docs/internals/doctor.md.
 */
#ifndef BERTH_DOCTOR_H
#define BERTH_DOCTOR_H

#include <stddef.h>
#include <stdint.h>
#include "auth.h"
#include "buf.h"
#include "config.h"
#include "err.h"
#include "meta.h"
#include "store.h"

enum berth_check_status { BERTH_CHECK_OK = 0, BERTH_CHECK_WARNING, BERTH_CHECK_ERROR };

/* The stable codes, in the order docs/check-health.md lists them. */
#define BERTH_DOCTOR_CODE_MAP(X)                                                                     \
    X(DATA_DIR_MISSING) X(DATA_DIR_NOT_WRITABLE) X(DISK_FULL) X(DISK_SPACE_LOW)                    \
    X(DB_UNREADABLE) X(DB_CORRUPT) X(DB_SCHEMA_OLD) X(DB_SCHEMA_NEWER)                             \
    X(KEYS_MISSING) X(KEYS_PERMISSIONS) X(KEYS_UNREADABLE) X(KEY_OLD)                              \
    X(TLS_CERT_UNREADABLE) X(TLS_KEY_UNREADABLE) X(TLS_KEY_MISMATCH) X(TLS_CERT_NOT_YET_VALID)     \
    X(TLS_CERT_EXPIRED) X(TLS_CERT_EXPIRING)                                                      \
    X(CLOCK_BEHIND) X(CLOCK_IMPLAUSIBLE)                                                          \
    X(STORE_MISCONFIGURED) X(STORE_UNREACHABLE)

enum berth_doctor_code {
    BERTH_DOCTOR_NONE = 0, /* the check passed */
#define BERTH_DOCTOR_ENUM(name) BERTH_DOCTOR_##name,
    BERTH_DOCTOR_CODE_MAP(BERTH_DOCTOR_ENUM)
#undef BERTH_DOCTOR_ENUM
    BERTH_DOCTOR_CODE_COUNT
};

#define BERTH_CHECK_TEXT_MAX 512

/* One check's verdict. */
struct berth_check {
    const char *name;            /* "data folder", "database", ... (static) */
    const char *key;             /* its key in /readyz's "checks": "store", "database", "keys", "tls", "clock", "blobstore" */
    enum berth_check_status status;
    enum berth_doctor_code code; /* BERTH_DOCTOR_NONE when OK */
    char message[BERTH_CHECK_TEXT_MAX]; /* what was found, in plain words */
    char fix[BERTH_CHECK_TEXT_MAX];     /* a command or action; "" when OK */
};

#define BERTH_DOCTOR_CHECKS_MAX 8

struct berth_doctor_report {
    struct berth_check checks[BERTH_DOCTOR_CHECKS_MAX];
    size_t n;
};

/* A certificate's validity period, in seconds since the epoch. */
struct berth_doctor_tls {
    int64_t not_before_s;
    int64_t not_after_s;
};

enum berth_doctor_mode {
    BERTH_DOCTOR_FULL,  /* every check, from the files (berth doctor, berth serve --check) */
    BERTH_DOCTOR_READY, /* the cheap checks, against what a running server holds (GET /readyz) */
};

/* What to check. Everything is borrowed for the call. */
struct berth_doctor_input {
    const struct berth_config *cfg;        /* data, tls-cert, tls-key, key-rotation-days, leeway */
    const struct berth_meta_ops *meta_ops; /* FULL: the driver whose inspect reads the store (NULL: sqlite) */
    const char *meta_dsn;                  /* FULL: what it opens (NULL: <data>/berth.db) */
    const char *meta_shown;                /* the same without a password, for messages (NULL: meta_dsn) */
    int64_t now_ms;                        /* 0: the clock */
    /* READY only: the running server's own objects */
    struct berth_meta *meta;             /* pinged */
    struct berth_keyring *keys;          /* the loaded signing keys (NULL: none loaded) */
    const struct berth_doctor_tls *tls;  /* the certificate being served (NULL: plain HTTP) */
    struct berth_blobstore *blobs;       /* the store (checked when it is not the data folder's) */
};

/* Runs the checks of mode in table order into *out. Never fails: a check that cannot look is a finding. */
void berth_doctor_run(const struct berth_doctor_input *in, enum berth_doctor_mode mode,
                      struct berth_doctor_report *out);
/* The worst status in r (BERTH_CHECK_OK for an empty report). */
enum berth_check_status berth_doctor_worst(const struct berth_doctor_report *r);

/* Reads the validity period of the first certificate in a PEM text. BERTH_EINVAL if there is none. */
enum berth_rc berth_doctor_tls_read(const char *pem, size_t len, struct berth_doctor_tls *out, struct berth_err *err);

/* "OK", "WARNING", "ERROR". */
const char *berth_doctor_status_name(enum berth_check_status s);
/* "DATA_DIR_MISSING", ...; "" for BERTH_DOCTOR_NONE. */
const char *berth_doctor_code_name(enum berth_doctor_code c);

/* One line per check ("OK      data folder      ..."), an indented "fix:" line under each that has one. */
void berth_doctor_text(const struct berth_doctor_report *r, struct berth_buf *out);
/* {"checks":[{"name","status","code","message","fix"},...],"ok":bool}; ok is false when any check is ERROR. */
void berth_doctor_json(const struct berth_doctor_report *r, struct berth_buf *out);

#endif
