/*
 * blobstore_fs.c - the filesystem blob store driver ("fs"): committed blobs
 * live at root/blobs/<alg>/<xx>/<hex>, upload sessions at root/uploads/<uuid>,
 * readers and upload writers hold one fd on such a file, and a commit is one
 * rename of the session file onto its digest's name.
 * See docs/internals/store.md for the atomicity and durability argument.
 */
#define _GNU_SOURCE /* sync_file_range */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include "alloc.h"
#include "log.h"
#include "parse.h"
#include "store.h"
#include "util.h"
#include "banned.h"

/* The algorithms with a folder under blobs/, in the order list walks them. */
static const enum berth_digest_alg algs[] = {BERTH_DIGEST_SHA256, BERTH_DIGEST_SHA512};
#define NALGS (sizeof(algs) / sizeof(algs[0]))
#define REL_MAX 160 /* "sha512/xx/" + 128 hex + NUL, rounded up */

/*
 * One open store. Everything except the ready flags is written by fs_open
 * before the object is handed out and only read afterwards, so threads share
 * it without a lock. The ready flags are atomics: a flag is set (release) only
 * once its folder exists and, with fsync, its entry in the parent folder is
 * durable, so a thread that reads it set (acquire) may skip both the mkdir and
 * the parent's fsync. Losing a race only repeats that work.
 */
struct fs_store {
    struct berth_blobstore base; /* first member: callers hold &base */
    struct berth_blobstore_opts opts;
    char *root; /* for messages only; every access goes through the fds */
    int root_fd;
    int blobs_fd;   /* root/blobs */
    int uploads_fd; /* root/uploads */
    atomic_uchar alg_ready[NALGS];
    atomic_uchar dir_ready[NALGS][256];
};

/* Where a committed blob lives, relative to root/blobs. */
struct blob_name {
    size_t alg;      /* index into algs[] */
    unsigned prefix; /* value of the first two hex digits */
    char dir[16];    /* "sha256/ab" */
    char rel[REL_MAX]; /* "sha256/ab/ab12..." */
};

static void fs_close(struct berth_blobstore *bs);
static enum berth_rc fs_clean_temp(struct berth_blobstore *bs, uint64_t *removed, struct berth_err *err);

/* A store of another driver, a freed one or garbage is a programming error. */
static struct fs_store *fs_of(struct berth_blobstore *bs)
{
    if (!bs || bs->magic != BERTH_BLOBSTORE_MAGIC || bs->ops != &berth_blobstore_fs_ops) abort();
    return (struct fs_store *)bs;
}

/* Records a failed syscall on root[/area][/rel]; errno never leaves the driver. */
static enum berth_rc fail(const struct fs_store *st, struct berth_err *err, int errnum, const char *call,
                          const char *area, const char *rel)
{
    return berth_err_sys(err, BERTH_EIO, errnum, "%s '%s%s%s%s%s'", call, st->root, *area ? "/" : "", area,
                         *rel ? "/" : "", rel);
}

/* Like fail, for the entry name inside the folder root[/area][/rel] (rel "." is the folder itself). */
static enum berth_rc fail_entry(const struct fs_store *st, struct berth_err *err, int errnum, const char *call,
                                const char *area, const char *rel, const char *name)
{
    int self = strcmp(rel, ".") == 0 || !*rel;

    return berth_err_sys(err, BERTH_EIO, errnum, "%s '%s%s%s%s%s/%s'", call, st->root, *area ? "/" : "", area,
                         self ? "" : "/", self ? "" : rel, name);
}

/* Nonzero if s is exactly n lowercase hex digits. */
static int is_hex(const char *s, size_t n)
{
    return berth_hex_lower(s, n) && s[n] == '\0';
}

/*
 * The digest's place under blobs/. The digest is parsed again although the
 * caller parsed it: the struct is plain data and its text becomes a path.
 */
static enum berth_rc blob_name(const struct berth_digest *d, struct blob_name *bn, struct berth_err *err)
{
    struct berth_digest check;
    const char *hex;
    unsigned char prefix;
    enum berth_rc rc;
    size_t a;

    rc = berth_blobstore_digest_check(d, &check, err);
    if (rc) return rc;
    for (a = 0; a < NALGS; a++)
        if (algs[a] == d->alg) break;
    BERTH_ASSERT(a < NALGS); /* berth_blobstore_digest_check accepts these algorithms only */
    hex = berth_digest_hex(&check);
    bn->alg = a;
    rc = berth_hex_decode(hex, 2, &prefix, err); /* a parsed digest's hex: cannot fail */
    if (rc) return rc;
    bn->prefix = prefix;
    snprintf(bn->dir, sizeof(bn->dir), "%s/%.2s", berth_digest_alg_name(d->alg), hex);
    snprintf(bn->rel, sizeof(bn->rel), "%s/%s", bn->dir, hex);
    BERTH_ASSERT(strlen(bn->rel) == strlen(bn->dir) + 1 + strlen(hex)); /* no path was cut short */
    return BERTH_OK;
}

/* Upload ids become file names, so anything but a canonical uuid is refused. */
static enum berth_rc check_uuid(const char *uuid, struct berth_err *err)
{
    if (!uuid || !berth_uuid_valid(uuid))
        return berth_err_set(err, BERTH_EUPLOADUNKNOWN, "upload id is not a valid uuid");
    return BERTH_OK;
}

/* mkdirat that accepts an existing folder. */
static enum berth_rc make_dir(const struct fs_store *st, int at, const char *area, const char *rel,
                              struct berth_err *err)
{
    if (mkdirat(at, rel, 0700) != 0 && errno != EEXIST) return fail(st, err, errno, "mkdirat", area, rel);
    return BERTH_OK;
}

static enum berth_rc fsync_dir_at(const struct fs_store *st, int at, const char *area, const char *rel,
                                  struct berth_err *err)
{
    enum berth_rc rc = BERTH_OK;
    int fd = openat(at, rel, O_RDONLY | O_DIRECTORY | O_CLOEXEC);

    if (fd < 0) return fail(st, err, errno, "openat", area, rel);
    if (fsync(fd) != 0) rc = fail(st, err, errno, "fsync", area, rel);
    close(fd);
    return rc;
}

/*
 * Opens a folder for a walk with a fresh fd: readdir on the shared dir fds
 * would share their position between threads. A missing folder gives
 * BERTH_ENOENT with err untouched, for walks that skip it.
 */
static enum berth_rc dir_open(const struct fs_store *st, int at, const char *area, const char *rel, DIR **out,
                              struct berth_err *err)
{
    int fd = openat(at, rel, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    int e;

    *out = NULL;
    if (fd < 0) {
        if (errno == ENOENT) return BERTH_ENOENT;
        return fail(st, err, errno, "openat", area, rel);
    }
    *out = fdopendir(fd);
    if (!*out) {
        e = errno;
        close(fd);
        return fail(st, err, e, "fdopendir", area, rel);
    }
    return BERTH_OK;
}

/* Next entry of d, or *ent == NULL at the end. */
static enum berth_rc dir_next(const struct fs_store *st, DIR *d, const char *area, const char *rel,
                              struct dirent **ent, struct berth_err *err)
{
    errno = 0;
    *ent = readdir(d);
    if (!*ent && errno) return fail(st, err, errno, "readdir", area, rel);
    return BERTH_OK;
}

static void dir_close(DIR *d)
{
    if (d) closedir(d);
}

/* Parent folder of path, for the fsync that makes a new root durable. */
static char *parent_of(const char *path)
{
    char *p = berth_xstrdup(path);
    size_t n = strlen(p);
    char *slash;

    while (n > 1 && p[n - 1] == '/') p[--n] = '\0';
    slash = strrchr(p, '/');
    if (!slash) {
        free(p);
        return berth_xstrdup(".");
    }
    if (slash == p) slash[1] = '\0';
    else *slash = '\0';
    return p;
}

static enum berth_rc fs_open(const char *root, const struct berth_blobstore_opts *opts, struct berth_blobstore **out,
                             struct berth_err *err)
{
    struct fs_store *st = NULL;
    struct stat sb;
    char *parent = NULL;
    uint64_t removed = 0;
    enum berth_rc rc = BERTH_OK;
    int root_existed;
    size_t a, i;

    if (!root || !*root) return berth_err_set(err, BERTH_ECONFIG, "the blob store root is empty");
    st = berth_xcalloc(1, sizeof(*st));
    st->base.magic = BERTH_BLOBSTORE_MAGIC;
    st->base.ops = &berth_blobstore_fs_ops;
    if (opts) st->opts = *opts;
    st->root = berth_xstrdup(root);
    st->root_fd = st->blobs_fd = st->uploads_fd = -1;
    for (a = 0; a < NALGS; a++) {
        atomic_init(&st->alg_ready[a], 0);
        for (i = 0; i < 256; i++) atomic_init(&st->dir_ready[a][i], 0);
    }

    root_existed = stat(root, &sb) == 0;
    rc = berth_mkdirs(root, err);
    if (rc) goto out;
    st->root_fd = open(root, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (st->root_fd < 0) {
        rc = fail(st, err, errno, "open", "", "");
        goto out;
    }
    rc = make_dir(st, st->root_fd, "", "blobs", err);
    if (rc) goto out;
    rc = make_dir(st, st->root_fd, "", "uploads", err);
    if (rc) goto out;
    st->blobs_fd = openat(st->root_fd, "blobs", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (st->blobs_fd < 0) {
        rc = fail(st, err, errno, "openat", "", "blobs");
        goto out;
    }
    st->uploads_fd = openat(st->root_fd, "uploads", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (st->uploads_fd < 0) {
        rc = fail(st, err, errno, "openat", "", "uploads");
        goto out;
    }
    if (st->opts.fsync) {
        /*
         * Always, not only when blobs/ or uploads/ were just made: a previous
         * process may have died between its mkdir and its fsync.
         */
        if (fsync(st->root_fd) != 0) {
            rc = fail(st, err, errno, "fsync", "", "");
            goto out;
        }
        if (!root_existed) {
            parent = parent_of(root);
            rc = berth_fsync_dir(parent, err);
            if (rc) goto out;
        }
    }
    rc = fs_clean_temp(&st->base, &removed, err);
    if (rc) goto out;
    if (removed)
        BERTH_LOG(BERTH_LOG_INFO, "msg=\"removed stray temp files\" root=%s count=%" PRIu64, st->root, removed);
    BERTH_ASSERT(st->root_fd >= 0 && st->blobs_fd >= 0 && st->uploads_fd >= 0);
    *out = &st->base;
    st = NULL;
out:
    free(parent);
    if (st) fs_close(&st->base);
    return rc;
}

static void fs_close(struct berth_blobstore *bs)
{
    struct fs_store *st;

    if (!bs) return;
    st = fs_of(bs);
    if (st->uploads_fd >= 0) close(st->uploads_fd);
    if (st->blobs_fd >= 0) close(st->blobs_fd);
    if (st->root_fd >= 0) close(st->root_fd);
    free(st->root);
    st->base.magic = 0;
    free(st);
}

static enum berth_rc fs_stat(struct berth_blobstore *bs, const struct berth_digest *d, uint64_t *size,
                             struct berth_err *err)
{
    struct fs_store *st = fs_of(bs);
    struct blob_name bn;
    struct stat sb;
    enum berth_rc rc;

    rc = blob_name(d, &bn, err);
    if (rc) return rc;
    if (fstatat(st->blobs_fd, bn.rel, &sb, 0) != 0) {
        if (errno == ENOENT) return berth_err_set(err, BERTH_EBLOBUNKNOWN, "blob %s not found", d->s);
        return fail(st, err, errno, "fstatat", "blobs", bn.rel);
    }
    if (!S_ISREG(sb.st_mode))
        return berth_err_set(err, BERTH_EIO, "'%s/blobs/%s' is not a regular file", st->root, bn.rel);
    *size = (uint64_t)sb.st_size;
    return BERTH_OK;
}

/* ---- readers: a committed blob or an upload's bytes, through one fd ---- */

struct fs_reader {
    struct berth_blob_reader base; /* first member: callers hold &base */
    struct fs_store *st;
    int fd;               /* -1 once taken */
    const char *area;     /* "blobs" or "uploads", for messages */
    char rel[REL_MAX];    /* the file under area, for messages */
};

static const struct berth_blob_reader_ops fs_reader_ops;

static struct fs_reader *reader_of(struct berth_blob_reader *r)
{
    if (!r || r->magic != BERTH_BLOB_READER_MAGIC || r->ops != &fs_reader_ops) abort();
    return (struct fs_reader *)r;
}

static enum berth_rc fs_reader_read_at(struct berth_blob_reader *r, uint64_t off, void *buf, size_t len, size_t *got,
                                       struct berth_err *err)
{
    struct fs_reader *fr = reader_of(r);
    char *p = buf;
    size_t n = 0;
    ssize_t k;

    if (fr->fd < 0) return berth_err_set(err, BERTH_EINVAL, "the reader's file was handed over");
    while (n < len) {
        k = pread(fr->fd, p + n, len - n, (off_t)(off + n));
        if (k < 0 && errno == EINTR) continue;
        if (k < 0) return fail(fr->st, err, errno, "pread", fr->area, fr->rel);
        if (k == 0) break; /* an upload cut back under us */
        n += (size_t)k;
    }
    *got = n;
    return BERTH_OK;
}

static int fs_reader_take_fd(struct berth_blob_reader *r)
{
    struct fs_reader *fr = reader_of(r);
    int fd = fr->fd;

    fr->fd = -1;
    return fd;
}

static void fs_reader_close(struct berth_blob_reader *r)
{
    struct fs_reader *fr = reader_of(r);

    if (fr->fd >= 0) close(fr->fd);
    fr->base.magic = 0;
    free(fr);
}

static const struct berth_blob_reader_ops fs_reader_ops = {
    .read_at = fs_reader_read_at,
    .take_fd = fs_reader_take_fd,
    .close = fs_reader_close,
};

/*
 * Opens area/rel (relative to the fd at) for reading. A missing file gives
 * missing_rc with msg; the size comes from the open file, so it is the size
 * the fd reads (for sendfile).
 */
static enum berth_rc reader_open(struct fs_store *st, int at, const char *area, const char *rel,
                                 enum berth_rc missing_rc, const char *what, struct berth_blob_reader **out,
                                 struct berth_err *err)
{
    struct fs_reader *fr = NULL;
    struct stat sb;
    enum berth_rc rc = BERTH_OK;
    int f;

    f = openat(at, rel, O_RDONLY | O_CLOEXEC);
    if (f < 0) {
        if (errno == ENOENT) rc = berth_err_set(err, missing_rc, "%s not found", what);
        else rc = fail(st, err, errno, "openat", area, rel);
        goto out;
    }
    if (fstat(f, &sb) != 0) {
        rc = fail(st, err, errno, "fstat", area, rel);
        goto out;
    }
    if (!S_ISREG(sb.st_mode)) {
        rc = berth_err_set(err, BERTH_EIO, "'%s/%s/%s' is not a regular file", st->root, area, rel);
        goto out;
    }
    fr = berth_xcalloc(1, sizeof(*fr));
    fr->base.magic = BERTH_BLOB_READER_MAGIC;
    fr->base.ops = &fs_reader_ops;
    fr->base.size = (uint64_t)sb.st_size;
    fr->st = st;
    fr->fd = f;
    fr->area = area;
    snprintf(fr->rel, sizeof(fr->rel), "%s", rel);
    f = -1;
    *out = &fr->base;
out:
    if (f >= 0) close(f);
    return rc;
}

static enum berth_rc fs_open_reader(struct berth_blobstore *bs, const struct berth_digest *d,
                                    struct berth_blob_reader **out, struct berth_err *err)
{
    struct fs_store *st = fs_of(bs);
    struct blob_name bn;
    char what[BERTH_DIGEST_STR_MAX + 8];
    enum berth_rc rc;

    rc = blob_name(d, &bn, err);
    if (rc) return rc;
    snprintf(what, sizeof(what), "blob %s", d->s);
    return reader_open(st, st->blobs_fd, "blobs", bn.rel, BERTH_EBLOBUNKNOWN, what, out, err);
}

static enum berth_rc fs_remove(struct berth_blobstore *bs, const struct berth_digest *d, struct berth_err *err)
{
    struct fs_store *st = fs_of(bs);
    struct blob_name bn;
    enum berth_rc rc;

    rc = blob_name(d, &bn, err);
    if (rc) return rc;
    if (unlinkat(st->blobs_fd, bn.rel, 0) != 0) {
        if (errno == ENOENT) return berth_err_set(err, BERTH_EBLOBUNKNOWN, "blob %s not found", d->s);
        return fail(st, err, errno, "unlinkat", "blobs", bn.rel);
    }
    return BERTH_OK;
}

/*
 * Visits the blobs in one prefix folder; *stop is set when fn asks to stop.
 * A name counts only if it parses as a digest of this algorithm and belongs
 * in this folder: stat() would never find any other.
 */
static enum berth_rc list_prefix(struct fs_store *st, enum berth_digest_alg alg, const char *dir,
                                 berth_blob_visit_fn fn, void *ctx, int *stop, struct berth_err *err)
{
    const char *name = berth_digest_alg_name(alg);
    const char *prefix = dir + strlen(name) + 1;
    struct berth_digest dg;
    struct dirent *ent;
    struct stat sb;
    char text[BERTH_DIGEST_STR_MAX];
    DIR *d = NULL;
    enum berth_rc rc;
    int n;

    rc = dir_open(st, st->blobs_fd, "blobs", dir, &d, err);
    if (rc == BERTH_ENOENT) rc = BERTH_OK; /* removed since the parent was read */
    if (rc || !d) goto out;
    for (;;) {
        rc = dir_next(st, d, "blobs", dir, &ent, err);
        if (rc || !ent) break;
        if (strncmp(ent->d_name, prefix, 2) != 0) continue;
        n = snprintf(text, sizeof(text), "%s:%.*s", name, (int)sizeof(text), ent->d_name);
        if (n < 0 || (size_t)n >= sizeof(text)) continue;
        if (berth_digest_parse(text, (size_t)n, &dg, NULL) != BERTH_OK || dg.alg != alg) continue;
        if (fstatat(dirfd(d), ent->d_name, &sb, AT_SYMLINK_NOFOLLOW) != 0) {
            if (errno == ENOENT) continue; /* removed while we walked */
            rc = fail_entry(st, err, errno, "fstatat", "blobs", dir, ent->d_name);
            break;
        }
        if (!S_ISREG(sb.st_mode)) continue;
        if (fn(&dg, (uint64_t)sb.st_size, (int64_t)sb.st_mtim.tv_sec, ctx)) {
            *stop = 1;
            break;
        }
    }
out:
    dir_close(d);
    return rc;
}

static enum berth_rc fs_list(struct berth_blobstore *bs, berth_blob_visit_fn fn, void *ctx, struct berth_err *err)
{
    struct fs_store *st = fs_of(bs);
    struct dirent *ent;
    const char *name;
    char dir[16];
    DIR *d = NULL;
    enum berth_rc rc = BERTH_OK;
    int stop = 0;
    size_t a;

    for (a = 0; a < NALGS && !stop && !rc; a++) {
        name = berth_digest_alg_name(algs[a]);
        rc = dir_open(st, st->blobs_fd, "blobs", name, &d, err);
        if (rc == BERTH_ENOENT) { /* no blob of this algorithm yet */
            rc = BERTH_OK;
            continue;
        }
        if (rc) break;
        for (;;) {
            rc = dir_next(st, d, "blobs", name, &ent, err);
            if (rc || !ent) break;
            if (!is_hex(ent->d_name, 2)) continue;
            snprintf(dir, sizeof(dir), "%s/%.2s", name, ent->d_name);
            rc = list_prefix(st, algs[a], dir, fn, ctx, &stop, err);
            if (rc || stop) break;
        }
        dir_close(d);
        d = NULL;
    }
    return rc;
}

/*
 * Makes blobs/<alg> and blobs/<alg>/<xx> exist and, with fsync, makes their
 * entries durable. The parent is fsynced on the first use in this process
 * even when mkdirat finds the folder already there: another thread (or a
 * process that died) may have made it without its fsync having completed.
 */
static enum berth_rc ensure_dirs(struct fs_store *st, const struct blob_name *bn, struct berth_err *err)
{
    const char *alg = berth_digest_alg_name(algs[bn->alg]);
    enum berth_rc rc;

    BERTH_ASSERT(bn->alg < NALGS && bn->prefix < 256);
    if (atomic_load_explicit(&st->dir_ready[bn->alg][bn->prefix], memory_order_acquire)) return BERTH_OK;
    if (!atomic_load_explicit(&st->alg_ready[bn->alg], memory_order_acquire)) {
        rc = make_dir(st, st->blobs_fd, "blobs", alg, err);
        if (rc) return rc;
        if (st->opts.fsync && fsync(st->blobs_fd) != 0) return fail(st, err, errno, "fsync", "blobs", "");
        atomic_store_explicit(&st->alg_ready[bn->alg], 1, memory_order_release);
    }
    rc = make_dir(st, st->blobs_fd, "blobs", bn->dir, err);
    if (rc) return rc;
    if (st->opts.fsync) {
        rc = fsync_dir_at(st, st->blobs_fd, "blobs", alg, err);
        if (rc) return rc;
    }
    atomic_store_explicit(&st->dir_ready[bn->alg][bn->prefix], 1, memory_order_release);
    return BERTH_OK;
}

/* Someone removed a folder behind our back: forget that it was there. */
static void forget_dirs(struct fs_store *st, const struct blob_name *bn)
{
    BERTH_ASSERT(bn->alg < NALGS && bn->prefix < 256);
    atomic_store_explicit(&st->dir_ready[bn->alg][bn->prefix], 0, memory_order_release);
    atomic_store_explicit(&st->alg_ready[bn->alg], 0, memory_order_release);
}

/* BERTH_OK if the session file exists, BERTH_EUPLOADUNKNOWN if not. */
static enum berth_rc upload_exists(struct fs_store *st, const char *uuid, struct berth_err *err)
{
    struct stat sb;

    if (fstatat(st->uploads_fd, uuid, &sb, AT_SYMLINK_NOFOLLOW) == 0) return BERTH_OK;
    if (errno == ENOENT) return berth_err_set(err, BERTH_EUPLOADUNKNOWN, "upload %s not found", uuid);
    return fail(st, err, errno, "fstatat", "uploads", uuid);
}

/* ---- upload writers: one fd on uploads/<uuid>, opened for append ---- */

/*
 * With fsync on, writeback of an upload's bytes is started (not waited for)
 * each time the file crosses a multiple of WRITEBACK_STEP bytes, so the disk
 * writes while the network delivers and the fsync at commit has only the
 * tail left to wait for. Aligned steps need no memory across writers.
 */
#define WRITEBACK_STEP ((uint64_t)8 << 20)

/*
 * A big body arrives in pieces of what the HTTP server reads at once (tens
 * of KiB). Once a writer has taken GATHER_AFTER bytes, its appends are
 * gathered into writes of GATHER_MAX bytes: a twentieth of the write calls,
 * and a push costs about a tenth less CPU. Small pushes write straight
 * through and never allocate the buffer.
 */
#define GATHER_AFTER ((uint64_t)256 << 10)
#define GATHER_MAX ((size_t)1 << 20)

/*
 * Invariant: base.size == stored + held. The file holds exactly the first
 * stored bytes; the gather buffer the next held ones.
 */
struct fs_writer {
    struct berth_upload_writer base; /* first member: callers hold &base */
    struct fs_store *st;
    int fd;          /* O_RDWR | O_APPEND; -1 once commit closed it */
    int synced;      /* sync ran after the last append or truncate */
    uint64_t stored; /* bytes in the file */
    uint64_t taken;  /* bytes this writer was given (for GATHER_AFTER) */
    char *gather;    /* GATHER_MAX bytes, once taken reaches GATHER_AFTER */
    size_t held;     /* bytes in gather, not yet written */
};

static const struct berth_upload_writer_ops fs_writer_ops;

static struct fs_writer *writer_of(struct berth_upload_writer *w)
{
    if (!w || w->magic != BERTH_UPLOAD_WRITER_MAGIC || w->ops != &fs_writer_ops) abort();
    return (struct fs_writer *)w;
}

/* Appends len bytes to the file; on failure stored counts those that made it. */
static enum berth_rc write_through(struct fs_writer *fw, const char *p, size_t len, struct berth_err *err)
{
    uint64_t from = fw->stored;
    size_t off = 0;
    ssize_t k;
    enum berth_rc rc = BERTH_OK;

    while (off < len) {
        k = write(fw->fd, p + off, len - off);
        if (k < 0 && errno == EINTR) continue;
        if (k <= 0) {
            /* the HTTP layer shows this to the client: the upload's id, not the data folder */
            rc = berth_err_sys(err, BERTH_EIO, k < 0 ? errno : ENOSPC, "write upload %s", fw->base.id);
            break;
        }
        off += (size_t)k;
        fw->stored += (uint64_t)k;
    }
    if (fw->st->opts.fsync && fw->stored / WRITEBACK_STEP > from / WRITEBACK_STEP) {
        from = from / WRITEBACK_STEP * WRITEBACK_STEP;
        /* advice only: a failure here shows up, if it matters, at the fsync of the commit */
        (void)sync_file_range(fw->fd, (off_t)from, (off_t)(fw->stored / WRITEBACK_STEP * WRITEBACK_STEP - from),
                              SYNC_FILE_RANGE_WRITE);
    }
    return rc;
}

/* Writes the gathered bytes; on failure those not written stay held, so nothing counted is lost. */
static enum berth_rc flush_gathered(struct fs_writer *fw, struct berth_err *err)
{
    uint64_t before = fw->stored;
    enum berth_rc rc;
    size_t done;

    if (!fw->held) return BERTH_OK;
    rc = write_through(fw, fw->gather, fw->held, err);
    done = (size_t)(fw->stored - before);
    if (done < fw->held) memmove(fw->gather, fw->gather + done, fw->held - done);
    fw->held -= done;
    return rc;
}

/*
 * When this fails, size counts what is in the file or held, never less than
 * before the call: bytes of earlier appends are never lost, so the caller's
 * truncate back to its own count always works.
 */
static enum berth_rc fs_writer_append(struct berth_upload_writer *w, const void *buf, size_t len,
                                      struct berth_err *err)
{
    struct fs_writer *fw = writer_of(w);
    enum berth_rc rc = BERTH_OK;

    fw->synced = 0;
    if (fw->held && fw->held + len > GATHER_MAX) {
        rc = flush_gathered(fw, err);
        if (rc) return rc;
    }
    if (!fw->gather && fw->taken >= GATHER_AFTER) fw->gather = berth_xmalloc(GATHER_MAX);
    fw->taken += len;
    if (fw->gather && len <= GATHER_MAX - fw->held) {
        memcpy(fw->gather + fw->held, buf, len);
        fw->held += len;
    } else {
        rc = write_through(fw, buf, len, err); /* held is 0 here: flushed above, or no buffer yet */
    }
    fw->base.size = fw->stored + fw->held;
    return rc;
}

static enum berth_rc fs_writer_truncate(struct berth_upload_writer *w, uint64_t len, struct berth_err *err)
{
    struct fs_writer *fw = writer_of(w);

    fw->synced = 0; /* len <= size: berth_upload_writer_truncate checked */
    if (len >= fw->stored) {
        fw->held = (size_t)(len - fw->stored);
    } else {
        if (ftruncate(fw->fd, (off_t)len) != 0) return fail(fw->st, err, errno, "ftruncate", "uploads", fw->base.id);
        fw->stored = len;
        fw->held = 0;
    }
    fw->base.size = len;
    return BERTH_OK;
}

static enum berth_rc fs_writer_sync(struct berth_upload_writer *w, struct berth_err *err)
{
    struct fs_writer *fw = writer_of(w);
    enum berth_rc rc = flush_gathered(fw, err);

    if (rc) return rc;
    if (fw->st->opts.fsync && fsync(fw->fd) != 0) return fail(fw->st, err, errno, "fsync", "uploads", fw->base.id);
    fw->synced = 1;
    return BERTH_OK;
}

/* Hashes the upload's size bytes again with d's algorithm; BERTH_EDIGEST if they are not d. */
static enum berth_rc verify(struct fs_writer *fw, const struct berth_digest *d, struct berth_err *err)
{
    struct berth_hasher h;
    struct berth_digest got;
    char *buf = berth_xmalloc(1 << 20);
    uint64_t off = 0;
    enum berth_rc rc = BERTH_OK;
    ssize_t k;

    berth_hasher_init(&h, d->alg);
    while (off < fw->base.size) {
        k = pread(fw->fd, buf, (size_t)(fw->base.size - off < (1 << 20) ? fw->base.size - off : (1 << 20)),
                  (off_t)off);
        if (k < 0 && errno == EINTR) continue;
        if (k < 0) {
            rc = fail(fw->st, err, errno, "pread", "uploads", fw->base.id);
            goto out;
        }
        if (k == 0) break;
        berth_hasher_update(&h, buf, (size_t)k);
        off += (uint64_t)k;
    }
    berth_hasher_final(&h, &got);
    if (off != fw->base.size || !berth_digest_eq(&got, d))
        rc = berth_err_set(err, BERTH_EDIGEST, "upload %s has digest %s, not %s", fw->base.id, got.s, d->s);
out:
    berth_hasher_release(&h);
    free(buf);
    return rc;
}

static enum berth_rc fs_writer_commit(struct berth_upload_writer *w, const struct berth_digest *d, unsigned flags,
                                      struct berth_err *err)
{
    struct fs_writer *fw = writer_of(w);
    struct fs_store *st = fw->st;
    const char *uuid = fw->base.id;
    struct blob_name bn;
    struct stat sb;
    enum berth_rc rc;
    int attempt, e;

    rc = blob_name(d, &bn, err);
    if (!rc) rc = flush_gathered(fw, err);
    if (rc) goto out;
    if (!(flags & BERTH_COMMIT_VERIFIED)) {
        rc = verify(fw, d, err);
        if (rc) goto out;
    }

    /*
     * Content-addressed: an existing blob already holds these bytes. Its name
     * may not be durable yet (a concurrent commit that has not reached its
     * folder fsync), so with fsync it is made so before this commit succeeds.
     */
    if (fstatat(st->blobs_fd, bn.rel, &sb, 0) == 0) {
        if (st->opts.fsync) {
            rc = ensure_dirs(st, &bn, err);
            if (!rc) rc = fsync_dir_at(st, st->blobs_fd, "blobs", bn.dir, err);
            if (rc) goto out;
        }
        if (unlinkat(st->uploads_fd, uuid, 0) != 0) {
            if (errno == ENOENT) rc = berth_err_set(err, BERTH_EUPLOADUNKNOWN, "upload %s not found", uuid);
            else rc = fail(st, err, errno, "unlinkat", "uploads", uuid);
        }
        goto out;
    }
    if (errno != ENOENT) {
        rc = fail(st, err, errno, "fstatat", "blobs", bn.rel);
        goto out;
    }

    /* The data must be on disk before any name can point at it (done already after a sync). */
    if (st->opts.fsync && !(flags & BERTH_COMMIT_SYNCED) && !fw->synced && fsync(fw->fd) != 0) {
        rc = fail(st, err, errno, "fsync", "uploads", uuid);
        goto out;
    }
    /* After the rename a write through this fd would change the blob. */
    close(fw->fd);
    fw->fd = -1;

    /*
     * A concurrent commit of the same digest may rename first; rename then
     * replaces its file with identical bytes, which readers cannot tell apart.
     */
    for (attempt = 0;; attempt++) {
        BERTH_ASSERT(attempt < 2); /* a second ENOENT is an error, not another try */
        rc = ensure_dirs(st, &bn, err);
        if (rc) goto out;
        if (renameat(st->uploads_fd, uuid, st->blobs_fd, bn.rel) == 0) break;
        e = errno;
        if (e == ENOENT) {
            rc = upload_exists(st, uuid, err);
            if (rc) goto out;
            if (attempt == 0) { /* the prefix folder went away: make it again */
                forget_dirs(st, &bn);
                continue;
            }
        }
        rc = berth_err_sys(err, BERTH_EIO, e, "renameat '%s/uploads/%s' to '%s/blobs/%s'", st->root, uuid,
                           st->root, bn.rel);
        goto out;
    }

    /* The new name is durable once its folder is; its parents were handled by ensure_dirs. */
    if (st->opts.fsync) rc = fsync_dir_at(st, st->blobs_fd, "blobs", bn.dir, err);
out:
    return rc;
}

static void fs_writer_close(struct berth_upload_writer *w, struct berth_upload_state *state)
{
    struct fs_writer *fw = writer_of(w);
    struct berth_err err = BERTH_ERR_INIT;

    if (fw->fd >= 0 && flush_gathered(fw, &err))
        BERTH_LOG(BERTH_LOG_ERROR, "msg=\"upload bytes not stored\" upload=%s bytes=%zu err=\"%s\"", fw->base.id,
                  fw->held, berth_err_msg(&err));
    if (state) {
        snprintf(state->id, sizeof(state->id), "%s", fw->base.id);
        /* what is stored, not what was appended: a resume from more finds bytes missing */
        state->size = fw->stored;
    }
    if (fw->fd >= 0) close(fw->fd);
    free(fw->gather);
    fw->base.magic = 0;
    free(fw);
}

static const struct berth_upload_writer_ops fs_writer_ops = {
    .append = fs_writer_append,
    .truncate = fs_writer_truncate,
    .sync = fs_writer_sync,
    .commit = fs_writer_commit,
    .close = fs_writer_close,
};

static struct berth_upload_writer *writer_new(struct fs_store *st, const char *uuid, int fd, uint64_t size)
{
    struct fs_writer *fw = berth_xcalloc(1, sizeof(*fw));

    fw->base.magic = BERTH_UPLOAD_WRITER_MAGIC;
    fw->base.ops = &fs_writer_ops;
    snprintf(fw->base.id, sizeof(fw->base.id), "%s", uuid);
    fw->base.size = size;
    fw->stored = size;
    fw->st = st;
    fw->fd = fd;
    return &fw->base;
}

static enum berth_rc fs_upload_create(struct berth_blobstore *bs, const char *uuid, struct berth_upload_writer **out,
                                      struct berth_err *err)
{
    struct fs_store *st = fs_of(bs);
    enum berth_rc rc;
    int f;

    rc = check_uuid(uuid, err);
    if (rc) return rc;
    f = openat(st->uploads_fd, uuid, O_RDWR | O_CREAT | O_EXCL | O_APPEND | O_CLOEXEC, 0600);
    if (f < 0) {
        if (errno == EEXIST) return berth_err_set(err, BERTH_EEXIST, "upload %s already exists", uuid);
        return fail(st, err, errno, "openat", "uploads", uuid);
    }
    *out = writer_new(st, uuid, f, 0);
    return BERTH_OK;
}

static enum berth_rc fs_upload_resume(struct berth_blobstore *bs, const struct berth_upload_state *state,
                                      struct berth_upload_writer **out, struct berth_err *err)
{
    struct fs_store *st = fs_of(bs);
    const char *uuid = state ? state->id : NULL;
    struct stat sb;
    enum berth_rc rc;
    int f = -1;

    rc = check_uuid(uuid, err);
    if (rc) goto out;
    f = openat(st->uploads_fd, uuid, O_RDWR | O_APPEND | O_CLOEXEC);
    if (f < 0) {
        if (errno == ENOENT) rc = berth_err_set(err, BERTH_EUPLOADUNKNOWN, "upload %s not found", uuid);
        else rc = fail(st, err, errno, "openat", "uploads", uuid);
        goto out;
    }
    if (fstat(f, &sb) != 0) {
        rc = fail(st, err, errno, "fstat", "uploads", uuid);
        goto out;
    }
    if ((uint64_t)sb.st_size < state->size) {
        rc = berth_err_set(err, BERTH_EIO, "upload %s holds %llu bytes, fewer than the %llu it had", uuid,
                           (unsigned long long)sb.st_size, (unsigned long long)state->size);
        goto out;
    }
    /* the tail of a chunk that failed half-way: the caller never counted it */
    if ((uint64_t)sb.st_size > state->size && ftruncate(f, (off_t)state->size) != 0) {
        rc = fail(st, err, errno, "ftruncate", "uploads", uuid);
        goto out;
    }
    *out = writer_new(st, uuid, f, state->size);
    f = -1;
out:
    if (f >= 0) close(f);
    return rc;
}

static enum berth_rc fs_upload_open_reader(struct berth_blobstore *bs, const char *uuid,
                                           struct berth_blob_reader **out, struct berth_err *err)
{
    struct fs_store *st = fs_of(bs);
    char what[64];
    enum berth_rc rc;

    rc = check_uuid(uuid, err);
    if (rc) return rc;
    snprintf(what, sizeof(what), "upload %s", uuid);
    return reader_open(st, st->uploads_fd, "uploads", uuid, BERTH_EUPLOADUNKNOWN, what, out, err);
}

static enum berth_rc fs_upload_stat(struct berth_blobstore *bs, const char *uuid, uint64_t *size,
                                    struct berth_err *err)
{
    struct fs_store *st = fs_of(bs);
    struct stat sb;
    enum berth_rc rc;

    rc = check_uuid(uuid, err);
    if (rc) return rc;
    if (fstatat(st->uploads_fd, uuid, &sb, AT_SYMLINK_NOFOLLOW) != 0) {
        if (errno == ENOENT) return berth_err_set(err, BERTH_EUPLOADUNKNOWN, "upload %s not found", uuid);
        return fail(st, err, errno, "fstatat", "uploads", uuid);
    }
    if (!S_ISREG(sb.st_mode))
        return berth_err_set(err, BERTH_EIO, "'%s/uploads/%s' is not a regular file", st->root, uuid);
    *size = (uint64_t)sb.st_size;
    return BERTH_OK;
}

static enum berth_rc fs_upload_remove(struct berth_blobstore *bs, const char *uuid, struct berth_err *err)
{
    struct fs_store *st = fs_of(bs);
    enum berth_rc rc;

    rc = check_uuid(uuid, err);
    if (rc) return rc;
    if (unlinkat(st->uploads_fd, uuid, 0) != 0) {
        if (errno == ENOENT) return berth_err_set(err, BERTH_EUPLOADUNKNOWN, "upload %s not found", uuid);
        return fail(st, err, errno, "unlinkat", "uploads", uuid);
    }
    return BERTH_OK;
}

static enum berth_rc fs_upload_list(struct berth_blobstore *bs, berth_upload_visit_fn fn, void *ctx,
                                    struct berth_err *err)
{
    struct fs_store *st = fs_of(bs);
    struct dirent *ent;
    struct stat sb;
    DIR *d = NULL;
    enum berth_rc rc;

    rc = dir_open(st, st->uploads_fd, "uploads", ".", &d, err);
    if (rc == BERTH_ENOENT) rc = fail(st, err, ENOENT, "openat", "uploads", "");
    if (rc) goto out;
    for (;;) {
        rc = dir_next(st, d, "uploads", "", &ent, err);
        if (rc || !ent) break;
        if (!berth_uuid_valid(ent->d_name)) continue;
        if (fstatat(dirfd(d), ent->d_name, &sb, AT_SYMLINK_NOFOLLOW) != 0) {
            if (errno == ENOENT) continue; /* committed or removed while we walked */
            rc = fail_entry(st, err, errno, "fstatat", "uploads", ".", ent->d_name);
            break;
        }
        if (!S_ISREG(sb.st_mode)) continue;
        if (fn(ent->d_name, (uint64_t)sb.st_size, (int64_t)sb.st_mtim.tv_sec, ctx)) break;
    }
out:
    dir_close(d);
    return rc;
}

/* Removes every non-folder whose name contains ".tmp" from one folder. */
static enum berth_rc clean_dir(struct fs_store *st, int at, const char *area, const char *rel, uint64_t *removed,
                               struct berth_err *err)
{
    struct dirent *ent;
    struct stat sb;
    DIR *d = NULL;
    enum berth_rc rc;

    rc = dir_open(st, at, area, rel, &d, err);
    if (rc == BERTH_ENOENT) rc = BERTH_OK;
    if (rc || !d) goto out;
    for (;;) {
        rc = dir_next(st, d, area, rel, &ent, err);
        if (rc || !ent) break;
        if (!strstr(ent->d_name, ".tmp")) continue;
        if (fstatat(dirfd(d), ent->d_name, &sb, AT_SYMLINK_NOFOLLOW) != 0) {
            if (errno == ENOENT) continue;
            rc = fail_entry(st, err, errno, "fstatat", area, rel, ent->d_name);
            break;
        }
        if (S_ISDIR(sb.st_mode)) continue;
        if (unlinkat(dirfd(d), ent->d_name, 0) != 0) {
            if (errno == ENOENT) continue;
            rc = fail_entry(st, err, errno, "unlinkat", area, rel, ent->d_name);
            break;
        }
        (*removed)++;
    }
out:
    dir_close(d);
    return rc;
}

/*
 * Scans uploads/, blobs/ and blobs/<alg>/, never root itself: root is the
 * data folder the other modules share (berth.db lives there), and another
 * process may be writing a temp file of its own in it. Names reach a prefix
 * folder only by the rename of a complete upload, so no temp file can be left
 * there, and skipping those folders keeps open() from reading every blob's
 * name.
 */
static enum berth_rc fs_clean_temp(struct berth_blobstore *bs, uint64_t *removed, struct berth_err *err)
{
    struct fs_store *st = fs_of(bs);
    uint64_t n = 0;
    enum berth_rc rc;
    size_t a;

    rc = clean_dir(st, st->uploads_fd, "uploads", ".", &n, err);
    if (!rc) rc = clean_dir(st, st->blobs_fd, "blobs", ".", &n, err);
    for (a = 0; a < NALGS && !rc; a++)
        rc = clean_dir(st, st->blobs_fd, "blobs", berth_digest_alg_name(algs[a]), &n, err);
    if (removed) *removed = n;
    return rc;
}

/*
 * Creates, writes and removes a small file in uploads/, where every push
 * writes first. Its name holds ".tmp", so clean_temp removes one a crash
 * left behind.
 */
static enum berth_rc fs_check(struct berth_blobstore *bs, struct berth_err *err)
{
    struct fs_store *st = fs_of(bs);
    unsigned char rnd[8];
    char hex[17], name[40];
    enum berth_rc rc = BERTH_OK;
    ssize_t k;
    int f;

    berth_random(rnd, sizeof(rnd));
    berth_hex(rnd, sizeof(rnd), hex);
    snprintf(name, sizeof(name), ".check-%s.tmp", hex);
    f = openat(st->uploads_fd, name, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    if (f < 0) return fail(st, err, errno, "openat", "uploads", name);
    k = write(f, hex, 16);
    if (k != 16) rc = fail(st, err, k < 0 ? errno : ENOSPC, "write", "uploads", name);
    close(f);
    if (unlinkat(st->uploads_fd, name, 0) != 0 && !rc) rc = fail(st, err, errno, "unlinkat", "uploads", name);
    return rc;
}

/*
 * A hard link from the other store's blobs/ to ours: the same inode, so the
 * bytes are whole and (when they were committed with fsync) on disk; only
 * the new name and its folder need making durable. Blobs are never written
 * in place, so two names for one file are safe.
 */
static enum berth_rc fs_link(struct berth_blobstore *bs, struct berth_blobstore *from, const struct berth_digest *d,
                             struct berth_err *err)
{
    struct fs_store *st = fs_of(bs), *src;
    struct blob_name bn;
    struct stat sb;
    enum berth_rc rc;
    int attempt, e;

    if (!from || from->ops != &berth_blobstore_fs_ops)
        return berth_err_set(err, BERTH_EUNSUPPORTED, "a hard link needs two folder stores");
    src = fs_of(from);
    rc = blob_name(d, &bn, err);
    if (rc) return rc;
    for (attempt = 0;; attempt++) {
        BERTH_ASSERT(attempt < 2);
        rc = ensure_dirs(st, &bn, err);
        if (rc) return rc;
        if (linkat(src->blobs_fd, bn.rel, st->blobs_fd, bn.rel, 0) == 0) break;
        e = errno;
        if (e == EEXIST) break; /* content-addressed: the same bytes (its name made durable below) */
        if (e == EXDEV || e == EPERM || e == EMLINK)
            return berth_err_sys(err, BERTH_EUNSUPPORTED, e, "linkat '%s/blobs/%s' to '%s/blobs/%s'", src->root,
                                 bn.rel, st->root, bn.rel);
        if (e == ENOENT) {
            if (fstatat(src->blobs_fd, bn.rel, &sb, 0) != 0 && errno == ENOENT)
                return berth_err_set(err, BERTH_EBLOBUNKNOWN, "blob %s not found", d->s);
            if (attempt == 0) { /* our prefix folder went away: make it again */
                forget_dirs(st, &bn);
                continue;
            }
        }
        return berth_err_sys(err, BERTH_EIO, e, "linkat '%s/blobs/%s' to '%s/blobs/%s'", src->root, bn.rel, st->root,
                             bn.rel);
    }
    return st->opts.fsync ? fsync_dir_at(st, st->blobs_fd, "blobs", bn.dir, err) : BERTH_OK;
}

const struct berth_blobstore_ops berth_blobstore_fs_ops = {
    .name = "fs",
    .open = fs_open,
    .close = fs_close,
    .stat = fs_stat,
    .open_reader = fs_open_reader,
    .remove = fs_remove,
    .list = fs_list,
    .upload_create = fs_upload_create,
    .upload_resume = fs_upload_resume,
    .upload_open_reader = fs_upload_open_reader,
    .upload_stat = fs_upload_stat,
    .upload_remove = fs_upload_remove,
    .upload_list = fs_upload_list,
    .clean_temp = fs_clean_temp,
    .check = fs_check,
    .link = fs_link,
};
