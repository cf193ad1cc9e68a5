/*
 * doctor.c - the server's health checks: one table of checks over a data
 * folder (the folder and its free space, the database, the signing keys, the
 * TLS certificate, the clock), each giving a status, a stable code, the cause
 * and a fix. `berth doctor` and `berth serve --check` run every row from the
 * files (FULL); GET /readyz runs the rows marked ready against what the
 * running server holds (READY), so each request costs two small fsynced
 * probe files, a statvfs, a database ping and a stat of each key file.
 * docs/internals/doctor.md explains the choices, docs/check-health.md the codes.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>
#include <openssl/asn1.h>
#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include "alloc.h"
#include "doctor.h"
#include "store.h"
#include "util.h"
#include "wiring.h"
#include "banned.h"

#define MIB (1024LL * 1024)
#define GIB (1024LL * MIB)
#define SPACE_ERROR_BYTES (100 * MIB) /* below this a push of one layer may fail */
#define SPACE_WARN_BYTES GIB
#define SPACE_WARN_PERCENT 5
#define TLS_EXPIRING_S (14 * 86400LL)
#define CLOCK_FLOOR_S 1704067200LL /* 2024-01-01T00:00:00Z: no berth data is older */
#define TLS_FILE_MAX (1 << 20)     /* what the server itself reads of tls-cert and tls-key */
#define BAD_KEYS_LISTED 8          /* key files named in one chmod fix */

static const char *const code_names[BERTH_DOCTOR_CODE_COUNT] = {
    "",
#define CODE_NAME(name) #name,
    BERTH_DOCTOR_CODE_MAP(CODE_NAME)
#undef CODE_NAME
};

struct ctx {
    const struct berth_doctor_input *in;
    enum berth_doctor_mode mode;
    const char *data;
    int64_t now_ms;
};

typedef void (*check_fn)(struct ctx *c, struct berth_check *out);

static void check_data(struct ctx *c, struct berth_check *out);
static void check_database(struct ctx *c, struct berth_check *out);
static void check_keys(struct ctx *c, struct berth_check *out);
static void check_tls(struct ctx *c, struct berth_check *out);
static void check_clock(struct ctx *c, struct berth_check *out);
static void check_blobstore(struct ctx *c, struct berth_check *out);
static int store_elsewhere(const struct ctx *c);

/*
 * ready: also run per request by /readyz (cheap, and meaningful while
 * serving). applies: NULL, or whether the row has anything to look at.
 */
static const struct row {
    const char *name, *key;
    check_fn fn;
    int ready;
    int (*applies)(const struct ctx *c);
} rows[] = {
    {"data folder", "store", check_data, 1, NULL},
    {"database", "database", check_database, 1, NULL},
    {"signing keys", "keys", check_keys, 1, NULL},
    {"TLS", "tls", check_tls, 1, NULL},
    {"clock", "clock", check_clock, 0, NULL},
    {"blob store", "blobstore", check_blobstore, 1, store_elsewhere},
};
#define NROWS (sizeof(rows) / sizeof(rows[0]))
_Static_assert(NROWS <= BERTH_DOCTOR_CHECKS_MAX, "the report holds every row");

/* ---------------------------------------------------------------- verdicts */

static void verdict(struct berth_check *out, enum berth_check_status st, enum berth_doctor_code code,
                    const char *fmt, ...) __attribute__((format(printf, 4, 5)));
static void verdict(struct berth_check *out, enum berth_check_status st, enum berth_doctor_code code,
                    const char *fmt, ...)
{
    va_list ap;

    out->status = st;
    out->code = code;
    va_start(ap, fmt);
    vsnprintf(out->message, sizeof(out->message), fmt, ap);
    va_end(ap);
}

static void fix(struct berth_check *out, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void fix(struct berth_check *out, const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(out->fix, sizeof(out->fix), fmt, ap);
    va_end(ap);
}

static void human_bytes(uint64_t n, char *out, size_t len)
{
    if (n >= (uint64_t)GIB) snprintf(out, len, "%.1f GiB", (double)n / (double)GIB);
    else if (n >= (uint64_t)MIB) snprintf(out, len, "%.1f MiB", (double)n / (double)MIB);
    else snprintf(out, len, "%llu KiB", (unsigned long long)(n / 1024));
}

static void when(int64_t s, char *out, size_t len)
{
    berth_time_rfc3339(s, out, len);
}

/* ---------------------------------------------------------------- data folder */

/*
 * Creates, writes, fsyncs and removes a small file in dir, by path, so a
 * folder that was replaced, remounted read-only or filled up shows here.
 * Returns 0, or an errno with *step naming what failed.
 */
static int probe(const char *dir, const char **step)
{
    char hex[17], *path;
    unsigned char rnd[8];
    int fd, e = 0;

    berth_random(rnd, sizeof(rnd));
    berth_hex(rnd, sizeof(rnd), hex);
    path = berth_xasprintf("%s/.doctor-%s", dir, hex);
    *step = "create";
    fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    if (fd < 0) {
        e = errno;
        goto out;
    }
    if (write(fd, hex, 16) != 16) {
        e = errno ? errno : EIO;
        *step = "write";
    } else if (fsync(fd) != 0) {
        e = errno;
        *step = "sync";
    }
    close(fd);
    if (unlink(path) != 0 && !e) {
        e = errno;
        *step = "remove";
    }
out:
    free(path);
    return e;
}

static void not_writable(struct ctx *c, struct berth_check *out, const char *dir, const char *step, int e)
{
    /* a full disk (or quota) is not a permission problem: name it, so no one chmods a folder that is fine */
    if (e == ENOSPC || e == EDQUOT) {
        verdict(out, BERTH_CHECK_ERROR, BERTH_DOCTOR_DISK_FULL, "no space left for %s: cannot %s a file in %s: %s",
                e == EDQUOT ? "the user berth runs as (disk quota)" : "new files on the file system", step, dir,
                strerror(e));
        fix(out, "free space on the file system of %s or grow it; `berth gc --data %s` deletes blobs nothing uses",
            c->data, c->data);
        return;
    }
    verdict(out, BERTH_CHECK_ERROR, BERTH_DOCTOR_DATA_DIR_NOT_WRITABLE, "cannot %s a file in %s: %s", step, dir,
            strerror(e));
    fix(out, "make %s a writable folder for the user berth runs as (chown, chmod u+w), or remount it read-write", dir);
}

static void check_data(struct ctx *c, struct berth_check *out)
{
    struct stat st;
    struct statvfs vfs;
    char *uploads = berth_xasprintf("%s/uploads", c->data);
    char free_text[32];
    const char *step = "";
    uint64_t avail, total, percent;
    int e;

    e = stat(c->data, &st) != 0 ? errno : 0;
    if (e || !S_ISDIR(st.st_mode)) {
        verdict(out, BERTH_CHECK_ERROR, BERTH_DOCTOR_DATA_DIR_MISSING, "%s %s%s", c->data,
                e == ENOENT || e == ENOTDIR ? "does not exist" : e ? "cannot be looked at: " : "is not a folder",
                e && e != ENOENT && e != ENOTDIR ? strerror(e) : "");
        fix(out, "point --data at berth's data folder, or create it with `mkdir -p %s && chmod 700 %s`", c->data,
            c->data);
        goto out;
    }
    e = probe(c->data, &step);
    if (e) {
        not_writable(c, out, c->data, step, e);
        goto out;
    }
    /*
     * the fs store writes every pushed byte to uploads/ first; a new folder has none yet, a serving
     * one must (a store elsewhere keeps its uploads there too)
     */
    e = store_elsewhere(c) ? ENOENT : lstat(uploads, &st) != 0 ? errno : 0;
    if (e == ENOENT && c->mode == BERTH_DOCTOR_READY && !store_elsewhere(c)) {
        verdict(out, BERTH_CHECK_ERROR, BERTH_DOCTOR_DATA_DIR_NOT_WRITABLE, "%s is gone, so no upload can be written",
                uploads);
        fix(out, "restart berth serve: it makes the folder again at start");
        goto out;
    }
    if (e == 0) {
        if (!S_ISDIR(st.st_mode)) {
            verdict(out, BERTH_CHECK_ERROR, BERTH_DOCTOR_DATA_DIR_NOT_WRITABLE,
                    "%s is not a folder, so no upload can be written", uploads);
            fix(out, "move %s aside; berth serve makes the folder again at start", uploads);
            goto out;
        }
        e = probe(uploads, &step);
        if (e) {
            not_writable(c, out, uploads, step, e);
            goto out;
        }
    }
    if (statvfs(c->data, &vfs) != 0) {
        verdict(out, BERTH_CHECK_OK, BERTH_DOCTOR_NONE, "%s is writable (free space unknown: %s)", c->data,
                strerror(errno));
        goto out;
    }
    avail = (uint64_t)vfs.f_bavail * vfs.f_frsize;
    total = (uint64_t)vfs.f_blocks * vfs.f_frsize;
    percent = total ? avail * 100 / total : 100;
    human_bytes(avail, free_text, sizeof(free_text));
    if (avail < (uint64_t)SPACE_WARN_BYTES || percent < SPACE_WARN_PERCENT) {
        verdict(out, avail < (uint64_t)SPACE_ERROR_BYTES ? BERTH_CHECK_ERROR : BERTH_CHECK_WARNING,
                BERTH_DOCTOR_DISK_SPACE_LOW, "only %s (%llu %%) free on the file system of %s", free_text,
                (unsigned long long)percent, c->data);
        fix(out, "free space or grow the file system; `berth gc --data %s` deletes blobs nothing uses", c->data);
        goto out;
    }
    verdict(out, BERTH_CHECK_OK, BERTH_DOCTOR_NONE, "%s is writable, %s free", c->data, free_text);
out:
    free(uploads);
}

/* ---------------------------------------------------------------- database */

static int db_exists(const char *data)
{
    char *path = berth_xasprintf("%s/berth.db", data);
    struct stat st;
    int yes = stat(path, &st) == 0;

    free(path);
    return yes;
}

static void check_database(struct ctx *c, struct berth_check *out)
{
    const struct berth_meta_ops *ops = c->in->meta_ops ? c->in->meta_ops : &berth_meta_sqlite_ops;
    char *open_dsn = c->in->meta_dsn ? berth_xstrdup(c->in->meta_dsn) : berth_xasprintf("%s/berth.db", c->data);
    char *dsn = berth_xstrdup(c->in->meta_shown ? c->in->meta_shown : open_dsn);
    struct berth_meta_inspect ins;
    struct berth_err e = BERTH_ERR_INIT;

    if (c->mode == BERTH_DOCTOR_READY) {
        if (!c->in->meta) berth_err_set(&e, BERTH_EDB, "no database is open");
        if (!c->in->meta || c->in->meta->ops->ping(c->in->meta, &e) != BERTH_OK) {
            verdict(out, BERTH_CHECK_ERROR, BERTH_DOCTOR_DB_UNREADABLE, "the database does not answer: %s",
                    berth_err_msg(&e));
            fix(out, "run `berth doctor --data %s` on the server and read berth serve's log", c->data);
        } else {
            verdict(out, BERTH_CHECK_OK, BERTH_DOCTOR_NONE, "the database answers");
        }
        goto out;
    }
    if (!ops->inspect) {
        verdict(out, BERTH_CHECK_OK, BERTH_DOCTOR_NONE, "the %s driver cannot be inspected; not checked", ops->name);
        goto out;
    }
    if (ops->inspect(open_dsn, &ins, &e) != BERTH_OK) {
        verdict(out, BERTH_CHECK_ERROR, BERTH_DOCTOR_DB_UNREADABLE, "cannot read the database: %s", berth_err_msg(&e));
        fix(out, "check the owner and mode of %s (ls -l), or restore it from a backup", dsn);
    } else if (!ins.exists) {
        verdict(out, BERTH_CHECK_WARNING, BERTH_DOCTOR_DB_SCHEMA_OLD,
                "no database yet at %s (schema version 0 of %d): a new data folder", dsn, ins.latest);
        fix(out, "start `berth serve --data %s` once: it creates the database", c->data);
    } else if (!ins.intact) {
        verdict(out, BERTH_CHECK_ERROR, BERTH_DOCTOR_DB_CORRUPT, "%s fails its consistency check: %s", dsn,
                ins.problem);
        fix(out, "stop berth and restore %s from a backup (`sqlite3 %s .recover` may save the rest)", dsn, dsn);
    } else if (ins.version > ins.latest) {
        verdict(out, BERTH_CHECK_ERROR, BERTH_DOCTOR_DB_SCHEMA_NEWER,
                "%s has schema version %d but this berth knows versions up to %d: a newer berth wrote it", dsn,
                ins.version, ins.latest);
        fix(out, "run the newer berth again, or restore a backup made before the upgrade");
    } else if (ins.version < ins.latest) {
        verdict(out, BERTH_CHECK_WARNING, BERTH_DOCTOR_DB_SCHEMA_OLD, "%s is at schema version %d of %d", dsn,
                ins.version, ins.latest);
        fix(out, "start `berth serve --data %s`: it applies the missing migrations at start", c->data);
    } else {
        verdict(out, BERTH_CHECK_OK, BERTH_DOCTOR_NONE, "%s is intact, schema version %d (current)", dsn,
                ins.version);
    }
out:
    explicit_bzero(open_dsn, strlen(open_dsn));
    free(open_dsn);
    free(dsn);
}

/* ---------------------------------------------------------------- signing keys */

/* What a walk of <data>/keys finds; used by the keys and the clock checks. */
struct key_scan {
    int dir_errno;        /* 0: the folder was read */
    mode_t dir_mode;
    size_t nkeys;
    size_t nbad;          /* key files open to group or others */
    char *bad[BAD_KEYS_LISTED];
    mode_t bad_mode;      /* the first bad file's mode */
    char *unreadable;     /* the first key file stat refused, with why */
    int64_t newest_mtime_ms;
    char *newest;         /* path of the most recently written key file */
};

/* Key files as the key ring reads them: <kid>.pem, no dot files. */
static int is_key_file(const char *name)
{
    size_t n = strlen(name);
    return name[0] != '.' && n > 4 && memcmp(name + n - 4, ".pem", 4) == 0;
}

static int64_t mtime_ms(const struct stat *st)
{
    return (int64_t)st->st_mtim.tv_sec * 1000 + st->st_mtim.tv_nsec / 1000000;
}

static void scan_keys(const char *dir, struct key_scan *ks)
{
    struct stat st;
    struct dirent *e;
    DIR *d;

    memset(ks, 0, sizeof(*ks));
    if (stat(dir, &st) != 0) {
        ks->dir_errno = errno;
        return;
    }
    if (!S_ISDIR(st.st_mode)) {
        ks->dir_errno = ENOTDIR;
        return;
    }
    ks->dir_mode = st.st_mode;
    d = opendir(dir);
    if (!d) {
        ks->dir_errno = errno;
        return;
    }
    while ((e = readdir(d)) != NULL) {
        char *path;
        if (!is_key_file(e->d_name)) continue;
        path = berth_xasprintf("%s/%s", dir, e->d_name);
        if (stat(path, &st) != 0) {
            if (!ks->unreadable) ks->unreadable = berth_xasprintf("cannot stat %s: %s", path, strerror(errno));
            free(path);
            continue;
        }
        ks->nkeys++;
        if (st.st_mode & 077) {
            if (!ks->nbad) ks->bad_mode = st.st_mode;
            if (ks->nbad < BAD_KEYS_LISTED) ks->bad[ks->nbad] = berth_xstrdup(path);
            ks->nbad++;
        }
        if (!ks->newest || mtime_ms(&st) > ks->newest_mtime_ms) {
            ks->newest_mtime_ms = mtime_ms(&st);
            free(ks->newest);
            ks->newest = berth_xstrdup(path);
        }
        free(path);
    }
    closedir(d);
}

static void scan_release(struct key_scan *ks)
{
    size_t i;

    for (i = 0; i < ks->nbad && i < BAD_KEYS_LISTED; i++) free(ks->bad[i]);
    free(ks->unreadable);
    free(ks->newest);
}

/* "readable by others", "readable by its group", "writable by group or others". */
static const char *exposure(mode_t m)
{
    if (m & 004) return "readable by others";
    if (m & 040) return "readable by its group";
    return "writable by group or others";
}

static void keys_missing(struct ctx *c, struct berth_check *out, const char *dir)
{
    /* a new data folder has neither: serve makes both at its first start */
    int fresh = !db_exists(c->data);

    verdict(out, fresh ? BERTH_CHECK_WARNING : BERTH_CHECK_ERROR, BERTH_DOCTOR_KEYS_MISSING,
            fresh ? "no signing key yet in %s: a new data folder"
                  : "no signing key in %s although the database exists: tokens signed before cannot be verified",
            dir);
    if (fresh) fix(out, "start `berth serve --data %s` once: it makes the first key", c->data);
    else fix(out, "restore %s from a backup, or start berth serve to make a new key (everyone logs in again)", dir);
}

/* A warning when the signing key made at created_ms is older than key-rotation-days; nonzero then. */
static int key_old(struct ctx *c, struct berth_check *out, int64_t created_ms)
{
    int64_t rotation = c->in->cfg->key_rotation;

    if (rotation <= 0 || c->now_ms - created_ms <= rotation * 86400000LL) return 0;
    verdict(out, BERTH_CHECK_WARNING, BERTH_DOCTOR_KEY_OLD, "the signing key is %lld days old; key-rotation-days is %lld",
            (long long)((c->now_ms - created_ms) / 86400000LL), (long long)rotation);
    fix(out, "restart berth serve: at start it makes a new key when the current one is older than key-rotation-days");
    return 1;
}

/*
 * Servers sharing the metadata keep their keys in it, not in <data>/keys:
 * the running ring's signer is judged (READY); berth doctor, which opens no
 * store for use, leaves them to the server that loads them (FULL).
 */
static void check_shared_keys(struct ctx *c, struct berth_check *out)
{
    int64_t created_ms;

    if (c->mode != BERTH_DOCTOR_READY) {
        verdict(out, BERTH_CHECK_OK, BERTH_DOCTOR_NONE,
                "the signing keys are kept in the metadata store the servers share; berth serve loads them (and "
                "makes the first) at start");
        return;
    }
    if (!c->in->keys) {
        verdict(out, BERTH_CHECK_ERROR, BERTH_DOCTOR_KEYS_UNREADABLE, "no signing key is loaded");
        fix(out, "restart berth serve and read its log");
        return;
    }
    created_ms = berth_keyring_current_created_ms(c->in->keys);
    if (key_old(c, out, created_ms)) return;
    verdict(out, BERTH_CHECK_OK, BERTH_DOCTOR_NONE,
            "the signing keys are in the metadata store the servers share; the signing key is %lld days old",
            (long long)((c->now_ms - created_ms) / 86400000LL));
}

static void check_keys(struct ctx *c, struct berth_check *out)
{
    const struct berth_meta_ops *ops = c->mode == BERTH_DOCTOR_READY && c->in->meta ? c->in->meta->ops : c->in->meta_ops;
    char *dir = NULL;
    struct berth_keyring *kr = NULL;
    struct berth_err e = BERTH_ERR_INIT;
    struct berth_buf cmd = BERTH_BUF_INIT(sizeof(out->fix) - 1);
    struct key_scan ks;
    int64_t created_ms;
    size_t i;

    if (ops && ops->shared) {
        check_shared_keys(c, out);
        return;
    }
    dir = berth_xasprintf("%s/keys", c->data);
    scan_keys(dir, &ks);
    if (ks.dir_errno == ENOENT && c->mode == BERTH_DOCTOR_READY) ks.dir_errno = 0; /* judged with the loaded keys */
    if (ks.dir_errno == ENOENT) {
        keys_missing(c, out, dir);
        goto out;
    }
    if (ks.dir_errno) {
        verdict(out, BERTH_CHECK_ERROR, BERTH_DOCTOR_KEYS_UNREADABLE, "cannot read the key folder %s: %s", dir,
                strerror(ks.dir_errno));
        fix(out, "make %s a folder owned by the user berth runs as, mode 0700", dir);
        goto out;
    }
    if (ks.dir_mode & 077) {
        verdict(out, BERTH_CHECK_ERROR, BERTH_DOCTOR_KEYS_PERMISSIONS, "the key folder %s is %s (mode %04o)", dir,
                exposure(ks.dir_mode), (unsigned)(ks.dir_mode & 07777));
        fix(out, "chmod 700 %s", dir);
        goto out;
    }
    if (ks.nbad) {
        verdict(out, BERTH_CHECK_ERROR, BERTH_DOCTOR_KEYS_PERMISSIONS, "%s is %s (mode %04o)%s", ks.bad[0],
                exposure(ks.bad_mode), (unsigned)(ks.bad_mode & 07777),
                ks.nbad > 1 ? ", and so are other key files" : "");
        berth_buf_puts(&cmd, "chmod 600");
        for (i = 0; i < ks.nbad && i < BAD_KEYS_LISTED; i++) berth_buf_printf(&cmd, " %s", ks.bad[i]);
        if (ks.nbad > BAD_KEYS_LISTED) berth_buf_printf(&cmd, " ... (chmod 600 %s/*.pem)", dir);
        fix(out, "%s", berth_buf_rc(&cmd) ? "chmod 600 <data>/keys/*.pem" : berth_buf_str(&cmd));
        goto out;
    }
    if (ks.unreadable) {
        verdict(out, BERTH_CHECK_ERROR, BERTH_DOCTOR_KEYS_UNREADABLE, "%s", ks.unreadable);
        fix(out, "make every key file in %s a regular file owned by the user berth runs as", dir);
        goto out;
    }
    if (c->mode == BERTH_DOCTOR_READY) {
        if (!c->in->keys) {
            verdict(out, BERTH_CHECK_ERROR, BERTH_DOCTOR_KEYS_UNREADABLE, "no signing key is loaded");
            fix(out, "restart berth serve and read its log");
            goto out;
        }
        if (!ks.nkeys) {
            /* the loaded keys still sign; the next start would make a new one and strand every token */
            verdict(out, BERTH_CHECK_WARNING, BERTH_DOCTOR_KEYS_MISSING,
                    "no key file is left in %s; the loaded keys still sign until a restart", dir);
            fix(out, "restore %s from a backup before berth serve restarts", dir);
            goto out;
        }
        created_ms = berth_keyring_current_created_ms(c->in->keys);
    } else {
        if (!ks.nkeys) {
            keys_missing(c, out, dir);
            goto out;
        }
        if (berth_keyring_load(dir, &kr, &e) != BERTH_OK) {
            verdict(out, BERTH_CHECK_ERROR, BERTH_DOCTOR_KEYS_UNREADABLE, "%s", berth_err_msg(&e));
            fix(out, "replace the damaged file from a backup, or move it out of %s (tokens it signed stop "
                     "verifying; berth serve makes a new key when none is left)",
                dir);
            goto out;
        }
        created_ms = berth_keyring_current_created_ms(kr);
    }
    if (key_old(c, out, created_ms)) goto out;
    verdict(out, BERTH_CHECK_OK, BERTH_DOCTOR_NONE, "%zu key file%s in %s, mode 0600; the signing key is %lld days old",
            ks.nkeys, ks.nkeys == 1 ? "" : "s", dir, (long long)((c->now_ms - created_ms) / 86400000LL));
out:
    berth_keyring_close(kr);
    berth_buf_release(&cmd);
    scan_release(&ks);
    free(dir);
}

/* ---------------------------------------------------------------- TLS */

static X509 *cert_parse(const char *pem, size_t len)
{
    BIO *bio = BIO_new_mem_buf(pem, len > (size_t)TLS_FILE_MAX ? TLS_FILE_MAX : (int)len);
    X509 *x = bio ? PEM_read_bio_X509(bio, NULL, NULL, NULL) : NULL;

    BIO_free(bio);
    if (!x) ERR_clear_error(); /* the verdict says what failed; leave no stale entry for the next caller */
    return x;
}

static int no_passphrase(char *buf, int size, int rwflag, void *u)
{
    (void)buf;
    (void)size;
    (void)rwflag;
    (void)u;
    return -1; /* berth serve cannot type a passphrase either; never prompt */
}

/* Seconds since the epoch of an ASN.1 time, through ASN1_TIME_diff from the epoch. */
static int asn1_epoch(const ASN1_TIME *t, int64_t *out)
{
    ASN1_TIME *epoch = ASN1_TIME_set(NULL, 0);
    int days = 0, secs = 0, ok = epoch && t && ASN1_TIME_diff(&days, &secs, epoch, t);

    ASN1_TIME_free(epoch);
    if (ok) *out = (int64_t)days * 86400 + secs;
    return ok;
}

static int cert_times(X509 *x, struct berth_doctor_tls *out)
{
    return asn1_epoch(X509_get0_notBefore(x), &out->not_before_s) &&
           asn1_epoch(X509_get0_notAfter(x), &out->not_after_s);
}

enum berth_rc berth_doctor_tls_read(const char *pem, size_t len, struct berth_doctor_tls *out, struct berth_err *err)
{
    X509 *x = cert_parse(pem, len);
    enum berth_rc rc = BERTH_OK;

    if (!x || !cert_times(x, out)) rc = berth_err_set(err, BERTH_EINVAL, "no readable PEM certificate");
    X509_free(x);
    return rc;
}

/* The verdict on a validity period at c->now_ms; the same for a file and for the served certificate. */
static void tls_period(struct ctx *c, struct berth_check *out, const char *cert, const struct berth_doctor_tls *t)
{
    int64_t now_s = c->now_ms / 1000;
    char at[32], now_text[32];

    when(now_s, now_text, sizeof(now_text));
    if (now_s < t->not_before_s) {
        when(t->not_before_s, at, sizeof(at));
        verdict(out, BERTH_CHECK_ERROR, BERTH_DOCTOR_TLS_CERT_NOT_YET_VALID,
                "%s is valid only from %s; the clock says %s", cert, at, now_text);
        fix(out, "check the clock (timedatectl), or use a certificate that is valid now");
        return;
    }
    when(t->not_after_s, at, sizeof(at));
    if (now_s >= t->not_after_s) {
        verdict(out, BERTH_CHECK_ERROR, BERTH_DOCTOR_TLS_CERT_EXPIRED, "%s expired on %s, %lld days ago", cert, at,
                (long long)((now_s - t->not_after_s) / 86400));
        fix(out, "renew the certificate (e.g. `certbot renew`), then restart berth serve");
        return;
    }
    if (t->not_after_s - now_s < TLS_EXPIRING_S) {
        verdict(out, BERTH_CHECK_WARNING, BERTH_DOCTOR_TLS_CERT_EXPIRING, "%s expires on %s, in %lld days", cert, at,
                (long long)((t->not_after_s - now_s) / 86400));
        fix(out, "renew the certificate (e.g. `certbot renew`), then restart berth serve");
        return;
    }
    verdict(out, BERTH_CHECK_OK, BERTH_DOCTOR_NONE, "%s is valid until %s (%lld days)", cert, at,
            (long long)((t->not_after_s - now_s) / 86400));
}

static void check_tls(struct ctx *c, struct berth_check *out)
{
    const char *cert = BERTH_CFG_LIVE_STR(c->in->cfg, tls_cert), *key = BERTH_CFG_LIVE_STR(c->in->cfg, tls_key);
    struct berth_err e = BERTH_ERR_INIT;
    struct berth_doctor_tls t;
    char *pem = NULL, *kpem = NULL;
    size_t len = 0, klen = 0;
    X509 *x = NULL;
    EVP_PKEY *pk = NULL;
    BIO *bio = NULL;

    if (c->mode == BERTH_DOCTOR_READY || (!cert[0] && !key[0])) {
        if (c->mode == BERTH_DOCTOR_READY && c->in->tls) tls_period(c, out, cert, c->in->tls);
        else verdict(out, BERTH_CHECK_OK, BERTH_DOCTOR_NONE, "not configured: berth serves plain HTTP");
        return;
    }
    if (!cert[0] || !key[0]) {
        verdict(out, BERTH_CHECK_ERROR, cert[0] ? BERTH_DOCTOR_TLS_KEY_UNREADABLE : BERTH_DOCTOR_TLS_CERT_UNREADABLE,
                "%s is set but %s is not", cert[0] ? "tls-cert" : "tls-key", cert[0] ? "tls-key" : "tls-cert");
        fix(out, "set both tls-cert and tls-key, or neither");
        goto out;
    }
    if (berth_read_file(cert, TLS_FILE_MAX, &pem, &len, &e) == BERTH_OK) x = cert_parse(pem, len);
    if (!x || !cert_times(x, &t)) {
        verdict(out, BERTH_CHECK_ERROR, BERTH_DOCTOR_TLS_CERT_UNREADABLE, "cannot read a PEM certificate from %s%s%s",
                cert, e.code ? ": " : "", e.code ? berth_err_msg(&e) : "");
        fix(out, "point tls-cert at the PEM certificate chain (check `openssl x509 -noout -dates -in %s`)", cert);
        goto out;
    }
    if (berth_read_file(key, TLS_FILE_MAX, &kpem, &klen, &e) == BERTH_OK) bio = BIO_new_mem_buf(kpem, (int)klen);
    if (bio) pk = PEM_read_bio_PrivateKey(bio, NULL, no_passphrase, NULL);
    if (!pk) {
        ERR_clear_error();
        verdict(out, BERTH_CHECK_ERROR, BERTH_DOCTOR_TLS_KEY_UNREADABLE,
                "cannot read an unencrypted PEM private key from %s%s%s", key, e.code ? ": " : "",
                e.code ? berth_err_msg(&e) : "");
        fix(out, "point tls-key at the certificate's private key, unencrypted PEM (check `openssl pkey -noout -in %s`)",
            key);
        goto out;
    }
    if (X509_check_private_key(x, pk) != 1) {
        ERR_clear_error();
        verdict(out, BERTH_CHECK_ERROR, BERTH_DOCTOR_TLS_KEY_MISMATCH, "the key in %s does not belong to the "
                "certificate in %s", key, cert);
        fix(out, "point tls-key at the key the certificate was issued for (compare `openssl x509 -noout -pubkey -in "
                 "%s` with `openssl pkey -pubout -in %s`)",
            cert, key);
        goto out;
    }
    tls_period(c, out, cert, &t);
out:
    EVP_PKEY_free(pk);
    BIO_free(bio);
    X509_free(x);
    free(pem);
    if (kpem) OPENSSL_cleanse(kpem, klen);
    free(kpem);
}

/* ---------------------------------------------------------------- clock */

static void check_clock(struct ctx *c, struct berth_check *out)
{
    char *db = berth_xasprintf("%s/berth.db", c->data), *dir = berth_xasprintf("%s/keys", c->data);
    char now_text[32], then_text[32];
    const char *newest = NULL;
    int64_t newest_ms = 0, leeway_ms = BERTH_CFG_LIVE(c->in->cfg, leeway) * 1000;
    struct key_scan ks;
    struct stat st;

    when(c->now_ms / 1000, now_text, sizeof(now_text));
    scan_keys(dir, &ks);
    if (c->now_ms / 1000 < CLOCK_FLOOR_S) {
        verdict(out, BERTH_CHECK_ERROR, BERTH_DOCTOR_CLOCK_IMPLAUSIBLE, "the clock says %s, before 2024", now_text);
        fix(out, "set the clock: `timedatectl set-ntp true` (or chronyd/ntpd)");
        goto out;
    }
    if (stat(db, &st) == 0) {
        newest_ms = mtime_ms(&st);
        newest = db;
    }
    if (ks.newest && ks.newest_mtime_ms > newest_ms) {
        newest_ms = ks.newest_mtime_ms;
        newest = ks.newest;
    }
    if (newest && newest_ms - c->now_ms > leeway_ms) {
        when(newest_ms / 1000, then_text, sizeof(then_text));
        verdict(out, BERTH_CHECK_ERROR, BERTH_DOCTOR_CLOCK_BEHIND,
                "the clock says %s but %s was written at %s, %lld s later (leeway is %lld s): tokens would look not "
                "yet valid",
                now_text, newest, then_text, (long long)((newest_ms - c->now_ms) / 1000),
                (long long)BERTH_CFG_LIVE(c->in->cfg, leeway));
        fix(out, "set the clock: `timedatectl set-ntp true` (or `chronyc makestep`)");
        goto out;
    }
    verdict(out, BERTH_CHECK_OK, BERTH_DOCTOR_NONE, "%s, not behind the data folder's newest write", now_text);
out:
    scan_release(&ks);
    free(db);
    free(dir);
}

/* ---------------------------------------------------------------- the table */

/* ---------------------------------------------------------------- blob store */

/* The data folder row covers the fs store; this one a store elsewhere (S3). */
static int store_elsewhere(const struct ctx *c)
{
    return c->in->cfg->store && *c->in->cfg->store;
}

/*
 * Opens the store without creating it (a bucket serve would make is not
 * made here) and runs its check: a small object written, read and removed.
 */
static void check_blobstore(struct ctx *c, struct berth_check *out)
{
    const struct berth_blobstore_ops *ops = NULL;
    struct berth_blobstore_opts opts;
    struct berth_blobstore *bs = NULL;
    struct berth_err e = BERTH_ERR_INIT;
    char *root = NULL, *shown = NULL;
    enum berth_rc rc;

    memset(&opts, 0, sizeof(opts));
    opts.no_create = 1;
    rc = berth_blobstore_choose(c->in->cfg, &ops, &root, &shown, &e);
    if (!rc && c->mode == BERTH_DOCTOR_READY && c->in->blobs) {
        /* /readyz: the running server's own store, so the probe costs no new connections */
        if (c->in->blobs->ops->check) rc = c->in->blobs->ops->check(c->in->blobs, &e);
        goto judge;
    }
    if (!rc) rc = ops->open(root, &opts, &bs, &e);
    if (rc == BERTH_ENOENT) {
        verdict(out, BERTH_CHECK_OK, BERTH_DOCTOR_NONE, "%s; berth serve creates it at start", berth_err_msg(&e));
        goto out;
    }
    if (!rc && ops->check) rc = ops->check(bs, &e);
judge:
    if (rc == BERTH_ECONFIG) {
        verdict(out, BERTH_CHECK_ERROR, BERTH_DOCTOR_STORE_MISCONFIGURED, "%s", berth_err_msg(&e));
        fix(out, "correct the store setting (s3://BUCKET[/PREFIX]?endpoint=URL&region=R) and the credentials "
                 "(AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY, or credentials=FILE) so they may use the bucket");
    } else if (rc) {
        verdict(out, BERTH_CHECK_ERROR, BERTH_DOCTOR_STORE_UNREACHABLE, "%s", berth_err_msg(&e));
        fix(out, "check that the S3 endpoint of %s answers from this host (curl -sI ENDPOINT) and that the "
                 "credentials may write the bucket", shown ? shown : "the store setting");
    } else {
        verdict(out, BERTH_CHECK_OK, BERTH_DOCTOR_NONE, "%s can be written and read", shown);
    }
out:
    if (bs) bs->ops->close(bs);
    free(root);
    free(shown);
}

void berth_doctor_run(const struct berth_doctor_input *in, enum berth_doctor_mode mode,
                      struct berth_doctor_report *out)
{
    struct ctx c;
    size_t i;

    c.in = in;
    c.mode = mode;
    c.data = in->cfg->data;
    c.now_ms = in->now_ms ? in->now_ms : berth_now_ms();
    memset(out, 0, sizeof(*out));
    for (i = 0; i < NROWS; i++) {
        struct berth_check *k;
        if (mode == BERTH_DOCTOR_READY && !rows[i].ready) continue;
        if (rows[i].applies && !rows[i].applies(&c)) continue;
        k = &out->checks[out->n++];
        k->name = rows[i].name;
        k->key = rows[i].key;
        rows[i].fn(&c, k);
    }
}

enum berth_check_status berth_doctor_worst(const struct berth_doctor_report *r)
{
    enum berth_check_status w = BERTH_CHECK_OK;
    size_t i;

    for (i = 0; i < r->n; i++)
        if (r->checks[i].status > w) w = r->checks[i].status;
    return w;
}

const char *berth_doctor_status_name(enum berth_check_status s)
{
    return s == BERTH_CHECK_ERROR ? "ERROR" : s == BERTH_CHECK_WARNING ? "WARNING" : "OK";
}

const char *berth_doctor_code_name(enum berth_doctor_code c)
{
    return c > BERTH_DOCTOR_NONE && c < BERTH_DOCTOR_CODE_COUNT ? code_names[c] : "";
}

void berth_doctor_text(const struct berth_doctor_report *r, struct berth_buf *out)
{
    size_t i;

    for (i = 0; i < r->n; i++) {
        const struct berth_check *k = &r->checks[i];
        berth_buf_printf(out, "%-7s %-16s ", berth_doctor_status_name(k->status), k->name);
        if (k->code) berth_buf_printf(out, "%s: ", berth_doctor_code_name(k->code));
        berth_buf_printf(out, "%s\n", k->message);
        if (k->fix[0]) berth_buf_printf(out, "%25sfix: %s\n", "", k->fix);
    }
}

static void json_member(struct berth_buf *b, const char *name, const char *value, int first)
{
    berth_buf_printf(b, "%s\"%s\":", first ? "" : ",", name);
    berth_buf_json_str(b, value, strlen(value));
}

void berth_doctor_json(const struct berth_doctor_report *r, struct berth_buf *out)
{
    size_t i;

    berth_buf_puts(out, "{\"checks\":[");
    for (i = 0; i < r->n; i++) {
        const struct berth_check *k = &r->checks[i];
        berth_buf_puts(out, i ? ",{" : "{");
        json_member(out, "name", k->name, 1);
        json_member(out, "status", berth_doctor_status_name(k->status), 0);
        json_member(out, "code", berth_doctor_code_name(k->code), 0);
        json_member(out, "message", k->message, 0);
        json_member(out, "fix", k->fix, 0);
        berth_buf_putc(out, '}');
    }
    berth_buf_printf(out, "],\"ok\":%s}\n", berth_doctor_worst(r) == BERTH_CHECK_ERROR ? "false" : "true");
}
