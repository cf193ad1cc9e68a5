/*
 * backup.c - berth backup and berth restore (see backup.h): backup.json,
 * the snapshot and its rounds, blobs linked or copied into the backup
 * folder (berth_blobstore_copy, the same copy berth migrate makes), the
 * keys, and a restore that checks the database and every blob on its way
 * into a new data folder.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>
#include <jansson.h>
#include "alloc.h"
#include "log.h"
#include "meta.h"
#include "oci.h"
#include "store.h"
#include "util.h"
#include "version.h"
#include "backup.h"
#include "banned.h"

#define COPY_BUF (1u << 20) /* bytes read and written at a time */
#define INFO_MAX (1u << 20) /* backup.json is a few hundred bytes */

/* ---- backup.json ---- */

void berth_backup_info_json(const struct berth_backup_info *info, struct berth_buf *out)
{
    json_t *tables = json_object(), *j;
    char created[32], *text;
    size_t i;

    berth_time_rfc3339(info->created_s, created, sizeof(created));
    for (i = 0; i < info->tables.n; i++)
        json_object_set_new(tables, info->tables.t[i].name, json_integer(info->tables.t[i].rows));
    j = json_pack("{s:s,s:i,s:s,s:I,s:s,s:i,s:{s:s,s:I,s:s},s:{s:I,s:I},s:{s:I},s:o}", "format", "berth-backup",
                  "formatVersion", info->format, "created", created, "createdUnix", (json_int_t)info->created_s,
                  "berthVersion", info->berth_version, "schemaVersion", info->schema_version, "database", "file",
                  "berth.db", "bytes", (json_int_t)info->db_bytes, "sha256", info->db_sha256, "blobs", "count",
                  (json_int_t)info->blobs, "bytes", (json_int_t)info->blob_bytes, "keys", "count",
                  (json_int_t)info->keys, "tables", tables);
    text = json_dumps(j, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
    berth_buf_printf(out, "%s\n", text);
    free(text);
    json_decref(j);
}

enum berth_rc berth_backup_info_parse(const char *text, size_t len, struct berth_backup_info *out,
                                      struct berth_err *err)
{
    json_error_t je;
    json_t *j = json_loadb(text, len, 0, &je);
    const char *format = NULL, *version = NULL, *sha = NULL;
    json_int_t created = 0, dbb = 0, blobs = 0, bytes = 0, keys = 0;
    int fv = 0, schema = 0;
    enum berth_rc rc = BERTH_OK;

    memset(out, 0, sizeof(*out));
    if (!j) return berth_err_set(err, BERTH_EINVAL, "backup.json is not JSON: %s (line %d)", je.text, je.line);
    if (json_unpack(j, "{s:s,s:i}", "format", &format, "formatVersion", &fv) != 0 || strcmp(format, "berth-backup")) {
        rc = berth_err_set(err, BERTH_EINVAL, "backup.json is not a berth backup's");
        goto out;
    }
    if (fv != BERTH_BACKUP_FORMAT) {
        rc = berth_err_set(err, BERTH_EINVAL, "the backup's format version is %d; this berth reads version %d", fv,
                           BERTH_BACKUP_FORMAT);
        goto out;
    }
    if (json_unpack_ex(j, &je, 0, "{s:I,s:s,s:i,s:{s:I,s:s},s:{s:I,s:I},s:{s:I}}", "createdUnix", &created,
                       "berthVersion", &version, "schemaVersion", &schema, "database", "bytes", &dbb, "sha256", &sha,
                       "blobs", "count", &blobs, "bytes", &bytes, "keys", "count", &keys) != 0) {
        rc = berth_err_set(err, BERTH_EINVAL, "backup.json: %s", je.text);
        goto out;
    }
    if (strlen(sha) != 64 || strspn(sha, "0123456789abcdef") != 64 || created < 0 || dbb < 0 || blobs < 0 ||
        bytes < 0 || keys < 0 || schema < 1) {
        rc = berth_err_set(err, BERTH_EINVAL, "backup.json holds a value out of range");
        goto out;
    }
    out->format = fv;
    out->created_s = created;
    snprintf(out->berth_version, sizeof(out->berth_version), "%s", version);
    out->schema_version = schema;
    out->db_bytes = (uint64_t)dbb;
    snprintf(out->db_sha256, sizeof(out->db_sha256), "%s", sha);
    out->blobs = (uint64_t)blobs;
    out->blob_bytes = (uint64_t)bytes;
    out->keys = (uint64_t)keys;
out:
    json_decref(j);
    return rc;
}

enum berth_rc berth_backup_refuse_shared(const char *what, const char *meta, const char *store,
                                         struct berth_err *err)
{
    if (meta && *meta)
        return berth_err_set(err, BERTH_EUNSUPPORTED, "berth %s works on a data folder's SQLite database, and the"
                             " metadata is in PostgreSQL (--meta): back it up with pg_dump (or PostgreSQL's"
                             " continuous archiving) and the blob store with its own tools; see docs/operations.md",
                             what);
    if (store && *store)
        return berth_err_set(err, BERTH_EUNSUPPORTED, "berth %s works on a data folder's blob files, and the blobs"
                             " are in a bucket (--store): keep them with the bucket's versioning or replication,"
                             " and the metadata with its own backup; see docs/operations.md", what);
    return BERTH_OK;
}

/* ---- files ---- */

/* SHA-256 and size of the file at path. */
static enum berth_rc hash_file(const char *path, unsigned char *buf, struct berth_digest *d, uint64_t *size,
                               struct berth_err *err)
{
    struct berth_hasher h;
    enum berth_rc rc = BERTH_OK;
    ssize_t n;
    int fd = open(path, O_RDONLY | O_CLOEXEC);

    *size = 0;
    if (fd < 0) return berth_err_sys(err, errno == ENOENT ? BERTH_ENOENT : BERTH_EIO, errno, "open '%s'", path);
    berth_hasher_init(&h, BERTH_DIGEST_SHA256);
    while ((n = read(fd, buf, COPY_BUF)) != 0) {
        if (n < 0 && errno == EINTR) continue;
        if (n < 0) {
            rc = berth_err_sys(err, BERTH_EIO, errno, "read '%s'", path);
            break;
        }
        berth_hasher_update(&h, buf, (size_t)n);
        *size += (uint64_t)n;
    }
    berth_hasher_final(&h, d);
    berth_hasher_release(&h);
    close(fd);
    return rc;
}

/* Copies the file src to dst, a new file (mode 0600), fsynced; *d gets the SHA-256 of the bytes written. */
static enum berth_rc copy_file_hashed(const char *src, const char *dst, unsigned char *buf, struct berth_digest *d,
                                      struct berth_err *err)
{
    struct berth_hasher h;
    enum berth_rc rc = BERTH_OK;
    int in = open(src, O_RDONLY | O_CLOEXEC), out = -1;
    ssize_t n, w;

    if (in < 0) return berth_err_sys(err, BERTH_EIO, errno, "open '%s'", src);
    out = open(dst, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    if (out < 0) {
        close(in);
        return berth_err_sys(err, BERTH_EIO, errno, "create '%s'", dst);
    }
    berth_hasher_init(&h, BERTH_DIGEST_SHA256);
    while (!rc && (n = read(in, buf, COPY_BUF)) != 0) {
        if (n < 0) {
            if (errno != EINTR) rc = berth_err_sys(err, BERTH_EIO, errno, "read '%s'", src);
            continue;
        }
        berth_hasher_update(&h, buf, (size_t)n);
        for (w = 0; !rc && w < n;) {
            ssize_t k = write(out, buf + w, (size_t)(n - w));
            if (k < 0 && errno != EINTR) rc = berth_err_sys(err, BERTH_EIO, errno, "write '%s'", dst);
            else if (k > 0) w += k;
        }
    }
    if (!rc && fsync(out) != 0) rc = berth_err_sys(err, BERTH_EIO, errno, "fsync '%s'", dst);
    berth_hasher_final(&h, d);
    berth_hasher_release(&h);
    close(in);
    close(out);
    return rc;
}

/* rename, then fsync the folder: the new name is on disk. */
static enum berth_rc put_in_place(const char *tmp, const char *path, const char *dir, struct berth_err *err)
{
    if (rename(tmp, path) != 0) return berth_err_sys(err, BERTH_EIO, errno, "rename '%s' to '%s'", tmp, path);
    return berth_fsync_dir(dir, err);
}

/*
 * Writes every regular file of from_dir/sub ending in suffix ("" for any)
 * into to_dir/sub (0600, atomically) unless it holds the same bytes; only
 * name, when not NULL, is looked at. *n counts the files written or found.
 */
static enum berth_rc mirror_files(const char *from_dir, const char *to_dir, const char *sub, const char *suffix,
                                  const char *only, uint64_t *n, struct berth_err *err)
{
    char *sdir = berth_xasprintf("%s/%s", from_dir, sub), *ddir = berth_xasprintf("%s/%s", to_dir, sub);
    enum berth_rc rc = BERTH_OK;
    struct dirent *e;
    DIR *d = opendir(sdir);

    if (!d) {
        if (errno != ENOENT) rc = berth_err_sys(err, BERTH_EIO, errno, "cannot read the folder '%s'", sdir);
        goto out;
    }
    while (!rc && (e = readdir(d)) != NULL) {
        size_t len = strlen(e->d_name), sl = strlen(suffix);
        char *src, *dst, *a = NULL, *b = NULL;
        size_t alen = 0, blen = 0;
        struct stat sb;

        if (e->d_name[0] == '.' || len <= sl || strcmp(e->d_name + len - sl, suffix) != 0) continue;
        if (only && strcmp(e->d_name, only) != 0) continue;
        src = berth_xasprintf("%s/%s", sdir, e->d_name);
        dst = berth_xasprintf("%s/%s", ddir, e->d_name);
        if (stat(src, &sb) == 0 && S_ISREG(sb.st_mode)) {
            rc = berth_read_file(src, 1 << 20, &a, &alen, err);
            if (!rc && (berth_read_file(dst, 1 << 20, &b, &blen, NULL) != BERTH_OK || blen != alen ||
                        memcmp(a, b, alen) != 0)) {
                rc = berth_mkdirs(ddir, err);
                if (!rc) rc = berth_write_atomic(dst, a, alen, 0600, err);
            }
            if (!rc) (*n)++;
        }
        if (a) explicit_bzero(a, alen); /* keys and passwords */
        if (b) explicit_bzero(b, blen);
        free(a);
        free(b);
        free(src);
        free(dst);
    }
out:
    if (d) closedir(d);
    free(sdir);
    free(ddir);
    return rc;
}

/* Nonzero when the folder at path has any entry; -1 when it cannot be read. */
static int has_entries(const char *path)
{
    DIR *d = opendir(path);
    struct dirent *e;
    int any = 0;

    if (!d) return errno == ENOENT ? 0 : -1;
    while (!any && (e = readdir(d)) != NULL) any = strcmp(e->d_name, ".") && strcmp(e->d_name, "..");
    closedir(d);
    return any;
}

/* ---- the blobs a snapshot references ---- */

/* How this run put a blob into DIR: the stats count the last snapshot's blobs by it. */
enum ref_how { REF_NOT_YET, REF_PRESENT, REF_LINKED, REF_COPIED };

struct ref {
    struct berth_digest d;
    int64_t size;      /* recorded, -1 when no row records one */
    enum ref_how how;  /* set by fetch_blob */
    uint64_t got;      /* the bytes in DIR, with how */
};

struct refs {
    struct ref *v;
    size_t n, cap;
    uint64_t bytes;
};

static enum berth_rc add_ref(const struct berth_digest *d, int64_t lo, int64_t hi, void *ctx, struct berth_err *err)
{
    struct refs *l = ctx;

    if (lo != hi)
        return berth_err_set(err, BERTH_EDB, "the database records blob %s with sizes %lld and %lld", d->s,
                             (long long)lo, (long long)hi);
    if (l->n == l->cap) {
        l->cap = l->cap ? 2 * l->cap : 1024;
        l->v = berth_xrealloc(l->v, l->cap * sizeof(*l->v));
    }
    l->v[l->n].d = *d;
    l->v[l->n].size = lo;
    l->v[l->n].how = REF_NOT_YET;
    l->v[l->n].got = 0;
    l->n++;
    if (lo > 0) l->bytes += (uint64_t)lo;
    return BERTH_OK;
}

static int ref_cmp(const void *a, const void *b)
{
    return strcmp(((const struct ref *)a)->d.s, ((const struct ref *)b)->d.s);
}

static const struct ref *ref_find(const struct refs *l, const struct berth_digest *d)
{
    struct ref key;

    key.d = *d;
    return l->n ? bsearch(&key, l->v, l->n, sizeof(*l->v), ref_cmp) : NULL;
}

static int referenced(const struct refs *l, const struct berth_digest *d)
{
    return ref_find(l, d) != NULL;
}

/*
 * A blob this run linked or copied in an earlier round is found in DIR by
 * the next: it counts as linked or copied, not as already there, so the
 * counts add up to the last snapshot's blobs however many rounds it took.
 */
static void inherit_how(struct refs *refs, const struct refs *prev)
{
    const struct ref *o;
    size_t i;

    for (i = 0; i < refs->n; i++) {
        if (refs->v[i].how != REF_PRESENT || !(o = ref_find(prev, &refs->v[i].d))) continue;
        if (o->how == REF_LINKED || o->how == REF_COPIED) refs->v[i].how = o->how;
    }
}

/* The stats of the blobs of the last snapshot, by how each came into DIR. */
static void count_how(const struct refs *refs, struct berth_backup_stats *st)
{
    size_t i;

    for (i = 0; i < refs->n; i++) {
        const struct ref *f = &refs->v[i];
        if (f->how == REF_PRESENT) {
            st->present++;
            st->bytes_present += f->got;
        } else if (f->how == REF_LINKED) {
            st->linked++;
        } else if (f->how == REF_COPIED) {
            st->copied++;
            st->bytes_copied += f->got;
        }
    }
}

/* ---- progress ---- */

struct run {
    const struct berth_backup_opts *o;
    struct berth_backup_stats *st;
    struct berth_backup_progress p;
    int64_t phase_us;
    unsigned char *buf;
    struct berth_blobstore *src, *dst;
    int no_link; /* a hard link was refused once (another file system): copy from then on */
};

static void phase(struct run *r, enum berth_backup_phase ph, uint64_t total, uint64_t bytes_total)
{
    int round = r->p.round;

    memset(&r->p, 0, sizeof(r->p));
    r->p.phase = ph;
    r->p.round = round;
    r->p.total = total;
    r->p.bytes_total = bytes_total;
    r->phase_us = berth_mono_us();
}

static void report(struct run *r, int final)
{
    if (!r->o->progress) return;
    r->p.elapsed_us = berth_mono_us() - r->phase_us;
    r->o->progress(&r->p, final, r->o->ctx);
}

static void blob_bytes(uint64_t n, void *ctx)
{
    struct run *r = ctx;

    r->p.bytes += n;
    report(r, 0);
}

/* ---- backup ---- */

/* The snapshot of one round into DIR/.berth.db.tmp, examined: its blob references sorted into *refs. */
static enum berth_rc take_snapshot(struct run *r, const char *db, const char *tmp, struct berth_meta_sqlite_facts *f,
                                   struct refs *refs, struct berth_err *err)
{
    enum berth_rc rc;

    refs->n = 0;
    refs->bytes = 0;
    phase(r, BERTH_BACKUP_SNAPSHOT, 0, 0);
    report(r, 0);
    if (unlink(tmp) != 0 && errno != ENOENT) return berth_err_sys(err, BERTH_EIO, errno, "unlink '%s'", tmp);
    r->st->info.created_s = berth_now_s();
    rc = berth_meta_sqlite_snapshot(db, tmp, err);
    if (rc) return rc;
    r->st->rounds++;
    rc = berth_meta_sqlite_examine(tmp, 0, f, add_ref, refs, err);
    if (rc) return rc;
    if (!f->in.intact)
        return berth_err_set(err, BERTH_EDB, "the database '%s' is damaged: %s; see berth doctor", db, f->in.problem);
    if (f->in.version > f->in.latest)
        return berth_err_set(err, BERTH_EDB, "the database '%s' has schema version %d, newer than this berth's %d;"
                             " back it up with the berth that serves it", db, f->in.version, f->in.latest);
    if (refs->n) qsort(refs->v, refs->n, sizeof(*refs->v), ref_cmp);
    report(r, 1);
    return BERTH_OK;
}

/* *good: DIR's copy of d hashes to d. */
static enum berth_rc hash_blob(struct run *r, const struct berth_digest *d, int *good, struct berth_err *err)
{
    struct berth_blob_reader *rd = NULL;
    struct berth_hasher h;
    struct berth_digest got;
    uint64_t off = 0;
    size_t n = 1;
    enum berth_rc rc;

    rc = r->dst->ops->open_reader(r->dst, d, &rd, err);
    if (rc) return rc;
    berth_hasher_init(&h, d->alg);
    while (!rc && n && off < rd->size) {
        rc = berth_blob_reader_read_at(rd, off, r->buf, COPY_BUF, &n, err);
        berth_hasher_update(&h, r->buf, rc ? 0 : n);
        off += rc ? 0 : n;
    }
    berth_hasher_final(&h, &got);
    berth_hasher_release(&h);
    *good = !rc && off == rd->size && !strcmp(got.s, d->s);
    berth_blob_reader_close(rd);
    return rc;
}

/*
 * One referenced blob into DIR: kept when DIR has it with its size (and,
 * with verify, its bytes), else hard-linked or copied. *gone: the data
 * folder no longer has it (gc removed it after the snapshot).
 */
static enum berth_rc fetch_blob(struct run *r, struct ref *f, int *gone, struct berth_err *err)
{
    struct berth_err lerr = BERTH_ERR_INIT;
    struct berth_blob_copy c;
    uint64_t have = 0;
    enum berth_rc rc;

    *gone = 0;
    if (r->dst->ops->stat(r->dst, &f->d, &have, &lerr) == BERTH_OK) {
        int good = f->size < 0 || have == (uint64_t)f->size;
        if (good && r->o->verify) {
            rc = hash_blob(r, &f->d, &good, err);
            if (rc) return rc;
        }
        if (good) {
            f->how = REF_PRESENT;
            f->got = have;
            r->p.bytes += have;
            return BERTH_OK;
        }
        BERTH_LOG(BERTH_LOG_WARN, "msg=\"backup: the backup holds other bytes for a blob; fetching it again\""
                  " digest=%s", f->d.s);
        rc = r->dst->ops->remove(r->dst, &f->d, err);
        if (rc && rc != BERTH_EBLOBUNKNOWN) return rc;
        r->st->replaced++;
    }
    if (!r->no_link) {
        rc = r->dst->ops->link(r->dst, r->src, &f->d, &lerr);
        if (rc == BERTH_OK) {
            f->how = REF_LINKED;
            f->got = f->size > 0 ? (uint64_t)f->size : 0;
            r->p.bytes += f->got;
            return BERTH_OK;
        }
        if (rc == BERTH_EBLOBUNKNOWN) {
            *gone = 1;
            return BERTH_OK;
        }
        if (rc != BERTH_EUNSUPPORTED) return berth_err_set(err, rc, "%s", berth_err_msg(&lerr));
        BERTH_LOG(BERTH_LOG_INFO, "msg=\"backup: no hard links into the backup folder; copying\" why=\"%s\"",
                  berth_err_msg(&lerr));
        r->no_link = 1;
    }
    /* not BERTH_COMMIT_VERIFIED: the store reads its copy back and hashes it again */
    rc = berth_blobstore_copy(r->src, r->dst, &f->d, 0, r->buf, COPY_BUF, blob_bytes, r, &c, err);
    if (rc == BERTH_EBLOBUNKNOWN && c.src_fault) {
        berth_err_clear(err);
        *gone = 1;
        return BERTH_OK;
    }
    if (rc == BERTH_EDIGEST && c.src_fault)
        return berth_err_set(err, rc, "the data folder's blob %s is corrupt: its %llu bytes hash to %s; see berth"
                             " doctor", f->d.s, (unsigned long long)c.size, c.got.s);
    if (rc) return rc;
    f->how = REF_COPIED;
    f->got = c.size;
    return BERTH_OK;
}

/* Every blob of refs into DIR; *gone counts those gc removed after the snapshot. */
static enum berth_rc fetch_blobs(struct run *r, struct refs *refs, uint64_t *gone, struct berth_err *err)
{
    enum berth_rc rc = BERTH_OK;
    size_t i;

    *gone = 0;
    phase(r, BERTH_BACKUP_BLOBS, refs->n, refs->bytes);
    for (i = 0; i < refs->n && !rc; i++) {
        int g = 0;
        rc = fetch_blob(r, &refs->v[i], &g, err);
        if (g) {
            BERTH_LOG(BERTH_LOG_INFO, "msg=\"backup: a blob the snapshot references went before it was fetched\""
                      " digest=%s", refs->v[i].d.s);
            (*gone)++;
        }
        r->p.done++;
        report(r, 0);
    }
    if (!rc) report(r, 1);
    return rc;
}

struct prune_ctx {
    const struct refs *refs;
    struct refs drop;
};

static int note_unreferenced(const struct berth_digest *d, uint64_t size, int64_t mtime_s, void *ctx)
{
    struct prune_ctx *p = ctx;

    (void)mtime_s;
    if (!referenced(p->refs, d)) add_ref(d, (int64_t)size, (int64_t)size, &p->drop, NULL);
    return 0;
}

/* Blobs of an earlier backup the new snapshot does not reference, and uploads an interrupted copy left. */
static enum berth_rc prune(struct run *r, const struct refs *refs, struct berth_err *err)
{
    struct prune_ctx p = {refs, {NULL, 0, 0, 0}};
    enum berth_rc rc;
    size_t i;

    rc = r->dst->ops->list(r->dst, note_unreferenced, &p, err);
    for (i = 0; !rc && i < p.drop.n; i++) {
        rc = r->dst->ops->remove(r->dst, &p.drop.v[i].d, err);
        if (rc == BERTH_EBLOBUNKNOWN) rc = BERTH_OK;
        if (!rc) r->st->pruned++;
    }
    free(p.drop.v);
    return rc;
}

static int drop_upload(const char *uuid, uint64_t size, int64_t mtime_s, void *ctx)
{
    struct run *r = ctx;
    struct berth_err lerr = BERTH_ERR_INIT;

    (void)size;
    (void)mtime_s;
    r->dst->ops->upload_remove(r->dst, uuid, &lerr);
    return 0;
}

/* A DIR that holds anything but a backup's names is someone else's folder. */
static enum berth_rc check_backup_dir(const char *dir, struct berth_err *err)
{
    static const char *const ours[] = {"backup.json", "berth.db", "blobs", "uploads", "keys",
                                       "initial-owner-password", ".lock", ".berth.db.tmp"};
    enum berth_rc rc = BERTH_OK;
    struct dirent *e;
    DIR *d = opendir(dir);
    size_t i;

    if (!d) return berth_err_sys(err, BERTH_EIO, errno, "cannot read the folder '%s'", dir);
    while (!rc && (e = readdir(d)) != NULL) {
        int known = !strcmp(e->d_name, ".") || !strcmp(e->d_name, "..") || strstr(e->d_name, ".tmp-") != NULL;
        for (i = 0; !known && i < sizeof(ours) / sizeof(ours[0]); i++) known = !strcmp(e->d_name, ours[i]);
        if (!known)
            rc = berth_err_set(err, BERTH_EEXIST, "'%s' holds '%s', which is no part of a berth backup; give an"
                               " empty folder or an earlier backup's", dir, e->d_name);
    }
    closedir(d);
    return rc;
}

/* An exclusive lock on DIR/.lock for the run: one backup into a folder at a time. */
static enum berth_rc lock_dir(const char *dir, int *fd, struct berth_err *err)
{
    char *path = berth_xasprintf("%s/.lock", dir);
    enum berth_rc rc = BERTH_OK;

    *fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
    if (*fd < 0) rc = berth_err_sys(err, BERTH_EIO, errno, "open '%s'", path);
    else if (flock(*fd, LOCK_EX | LOCK_NB) != 0)
        rc = errno == EWOULDBLOCK ? berth_err_set(err, BERTH_EBUSY, "another berth backup is writing to '%s'", dir)
                                  : berth_err_sys(err, BERTH_EIO, errno, "flock '%s'", path);
    free(path);
    return rc;
}

static enum berth_rc open_stores(struct run *r, const char *from, const char *to, struct berth_err *err)
{
    struct berth_blobstore_opts so, to_opts;
    enum berth_rc rc;

    memset(&so, 0, sizeof(so));
    memset(&to_opts, 0, sizeof(to_opts));
    to_opts.fsync = 1;
    rc = berth_blobstore_fs_ops.open(from, &so, &r->src, err);
    if (!rc) rc = berth_blobstore_fs_ops.open(to, &to_opts, &r->dst, err);
    return rc;
}

/* A run's start: a deployment it cannot cover is refused; both folders (the backup's, data or target) are needed. */
static enum berth_rc run_begin(struct run *r, const struct berth_backup_opts *o, struct berth_backup_stats *st,
                               const char *what, const char *folder, const char *need, struct berth_err *err)
{
    enum berth_rc rc;

    memset(st, 0, sizeof(*st));
    memset(r, 0, sizeof(*r));
    r->o = o;
    r->st = st;
    rc = berth_backup_refuse_shared(what, o->meta, o->store, err);
    if (rc) return rc;
    if (!folder || !*folder || !o->dir || !*o->dir) return berth_err_set(err, BERTH_EINVAL, "%s", need);
    return BERTH_OK;
}

static void close_run(struct run *r)
{
    if (r->src) r->src->ops->close(r->src);
    if (r->dst) r->dst->ops->close(r->dst);
    free(r->buf);
}

enum berth_rc berth_backup_run(const struct berth_backup_opts *o, struct berth_backup_stats *st,
                               struct berth_err *err)
{
    struct berth_meta_sqlite_facts *f = berth_xcalloc(1, sizeof(*f));
    struct berth_buf json = BERTH_BUF_INIT(INFO_MAX);
    struct refs refs = {NULL, 0, 0, 0}, prev = {NULL, 0, 0, 0}, swap;
    struct run r;
    char *db = NULL, *tmp = NULL, *final_db = NULL, *info_path = NULL;
    struct berth_digest sum;
    uint64_t gone = 0;
    int64_t t0 = berth_mono_us();
    enum berth_rc rc;
    int lock = -1;

    rc = run_begin(&r, o, st, "backup", o->data, "a data folder and a backup folder are needed", err);
    if (rc) goto out;
    db = berth_xasprintf("%s/berth.db", o->data);
    if (!berth_is_dir(o->data) || access(db, F_OK) != 0) {
        rc = berth_err_set(err, BERTH_ENOENT, "no berth data folder at '%s' (no berth.db in it)", o->data);
        goto out;
    }
    rc = berth_mkdirs(o->dir, err);
    if (rc) goto out;
    if (berth_same_file(o->data, o->dir)) {
        rc = berth_err_set(err, BERTH_EINVAL, "the backup folder is the data folder");
        goto out;
    }
    rc = check_backup_dir(o->dir, err);
    if (!rc) rc = lock_dir(o->dir, &lock, err);
    if (!rc) rc = open_stores(&r, o->data, o->dir, err);
    if (rc) goto out;
    r.buf = berth_xmalloc(COPY_BUF);
    rc = r.dst->ops->upload_list(r.dst, drop_upload, &r, err); /* an interrupted copy's */
    if (rc) goto out;

    tmp = berth_xasprintf("%s/.berth.db.tmp", o->dir);
    do {
        if (st->rounds) { /* the last round's blobs, and how each came: the next snapshot's list reuses prev's array */
            swap = prev;
            prev = refs;
            refs = swap;
        }
        r.p.round = st->rounds + 1;
        rc = take_snapshot(&r, db, tmp, f, &refs, err);
        if (!rc) rc = fetch_blobs(&r, &refs, &gone, err);
        if (rc) goto out;
        inherit_how(&refs, &prev);
        st->vanished += gone;
        if (gone && st->rounds < BERTH_BACKUP_ROUNDS)
            BERTH_LOG(BERTH_LOG_INFO, "msg=\"backup: blobs went (gc) after the snapshot; taking another\" gone=%llu",
                      (unsigned long long)gone);
    } while (gone && st->rounds < BERTH_BACKUP_ROUNDS);
    if (gone) {
        rc = berth_err_set(err, BERTH_EBUSY, "gc kept removing blobs the database referenced while they were"
                           " fetched (%d snapshots); run berth backup again, or with gc-grace longer than a backup"
                           " takes", st->rounds);
        goto out;
    }

    count_how(&refs, st);
    rc = mirror_files(o->data, o->dir, "keys", ".pem", NULL, &st->keys, err);
    if (!rc) rc = mirror_files(o->data, o->dir, ".", "", "initial-owner-password", &st->files, err);
    if (rc) goto out;
    /* the database, then backup.json: a DIR whose backup.json names another database is not complete */
    st->info.format = BERTH_BACKUP_FORMAT;
    snprintf(st->info.berth_version, sizeof(st->info.berth_version), "%s", BERTH_VERSION);
    st->info.schema_version = f->in.version;
    st->info.blobs = refs.n;
    st->info.blob_bytes = refs.bytes;
    st->info.keys = st->keys;
    st->info.tables = f->tables;
    rc = hash_file(tmp, r.buf, &sum, &st->info.db_bytes, err);
    if (rc) goto out;
    snprintf(st->info.db_sha256, sizeof(st->info.db_sha256), "%s", berth_digest_hex(&sum));
    final_db = berth_xasprintf("%s/berth.db", o->dir);
    rc = put_in_place(tmp, final_db, o->dir, err);
    if (rc) goto out;
    berth_backup_info_json(&st->info, &json);
    if (berth_buf_rc(&json)) {
        rc = berth_err_set(err, BERTH_EINTERNAL, "backup.json would be too large");
        goto out;
    }
    info_path = berth_xasprintf("%s/backup.json", o->dir);
    rc = berth_write_atomic(info_path, json.p, json.len, 0600, err);
    if (!rc) rc = prune(&r, &refs, err);
out:
    st->total_us = berth_mono_us() - t0;
    close_run(&r);
    if (lock >= 0) close(lock);
    berth_buf_release(&json);
    free(refs.v);
    free(prev.v);
    free(f);
    free(db);
    free(tmp);
    free(final_db);
    free(info_path);
    return rc;
}

/* ---- restore ---- */

/* Each blob the database references is in the new data folder, with its recorded size. */
static enum berth_rc restored_has(const struct berth_digest *d, int64_t lo, int64_t hi, void *ctx,
                                  struct berth_err *err)
{
    struct run *r = ctx;
    uint64_t size = 0;

    (void)hi;
    if (r->dst->ops->stat(r->dst, d, &size, err) != BERTH_OK)
        return berth_err_set(err, BERTH_EBLOBUNKNOWN, "the backup's database references blob %s, which '%s' lacks",
                             d->s, r->o->dir);
    if (lo >= 0 && size != (uint64_t)lo)
        return berth_err_set(err, BERTH_ESIZE, "blob %s has %llu bytes in '%s', the database records %lld", d->s,
                             (unsigned long long)size, r->o->dir, (long long)lo);
    return BERTH_OK;
}

static int count_blob(const struct berth_digest *d, uint64_t size, int64_t mtime_s, void *ctx)
{
    (void)mtime_s;
    return add_ref(d, (int64_t)size, (int64_t)size, ctx, NULL) != BERTH_OK;
}

/* Every blob of DIR copied into the new folder, each checked against its digest twice (read, then read back). */
static enum berth_rc restore_blobs(struct run *r, struct berth_err *err)
{
    struct refs all = {NULL, 0, 0, 0};
    struct berth_blob_copy c;
    enum berth_rc rc;
    size_t i;

    rc = r->src->ops->list(r->src, count_blob, &all, err);
    if (rc) goto out;
    if (all.n) qsort(all.v, all.n, sizeof(*all.v), ref_cmp);
    phase(r, BERTH_BACKUP_BLOBS, all.n, all.bytes);
    for (i = 0; i < all.n && !rc; i++) {
        rc = berth_blobstore_copy(r->src, r->dst, &all.v[i].d, 0, r->buf, COPY_BUF, blob_bytes, r, &c, err);
        if (rc == BERTH_EDIGEST && c.src_fault)
            rc = berth_err_set(err, rc, "blob %s in '%s' is corrupt: its %llu bytes hash to %s", all.v[i].d.s,
                               r->o->dir, (unsigned long long)c.size, c.got.s);
        if (rc) break;
        r->st->copied++;
        r->st->bytes_copied += c.size;
        r->p.done++;
        report(r, 0);
    }
    if (!rc) report(r, 1);
out:
    free(all.v);
    return rc;
}

enum berth_rc berth_restore_run(const struct berth_backup_opts *o, struct berth_backup_stats *st,
                                struct berth_err *err)
{
    struct berth_meta_sqlite_facts *f = berth_xcalloc(1, sizeof(*f));
    struct run r;
    char *info_path = NULL, *text = NULL, *src_db = NULL, *tmp = NULL, *db = NULL;
    size_t len = 0;
    struct berth_digest sum;
    int64_t t0 = berth_mono_us();
    enum berth_rc rc;
    int any;

    rc = run_begin(&r, o, st, "restore", o->to, "a backup folder and a new data folder are needed", err);
    if (rc) goto out;
    info_path = berth_xasprintf("%s/backup.json", o->dir);
    rc = berth_read_file(info_path, INFO_MAX, &text, &len, err);
    if (rc == BERTH_ENOENT || (rc && !berth_is_dir(o->dir))) {
        rc = berth_err_set(err, BERTH_ENOENT, "'%s' is not a complete berth backup: it has no backup.json", o->dir);
        goto out;
    }
    if (!rc) rc = berth_backup_info_parse(text, len, &st->info, err);
    if (rc) goto out;
    any = has_entries(o->to);
    if (any) {
        rc = any < 0 ? berth_err_sys(err, BERTH_EIO, errno, "cannot read the folder '%s'", o->to)
                     : berth_err_set(err, BERTH_EEXIST, "the target folder '%s' is not empty; berth restore writes"
                                     " into a new or empty folder only", o->to);
        goto out;
    }
    rc = berth_mkdirs(o->to, err);
    if (rc) goto out;
    st->unfinished = 1;
    r.buf = berth_xmalloc(COPY_BUF);

    /* the database first, checked whole, under a name serve does not open */
    src_db = berth_xasprintf("%s/berth.db", o->dir);
    tmp = berth_xasprintf("%s/.berth.db.restore", o->to);
    rc = copy_file_hashed(src_db, tmp, r.buf, &sum, err);
    if (rc) goto out;
    if (strcmp(berth_digest_hex(&sum), st->info.db_sha256) != 0) {
        rc = berth_err_set(err, BERTH_EDB, "'%s' is not the database backup.json describes (its SHA-256 differs):"
                           " a backup that did not finish, or a damaged file", src_db);
        goto out;
    }
    rc = berth_meta_sqlite_examine(tmp, 1, f, NULL, NULL, err);
    if (rc) goto out;
    if (!f->in.intact) {
        rc = berth_err_set(err, BERTH_EDB, "the backup's database is damaged: %s", f->in.problem);
        goto out;
    }
    if (f->in.version > f->in.latest) {
        rc = berth_err_set(err, BERTH_EDB, "the backup's database has schema version %d, newer than this berth's %d;"
                           " restore it with berth %s or newer", f->in.version, f->in.latest,
                           st->info.berth_version);
        goto out;
    }
    st->info.tables = f->tables;

    rc = open_stores(&r, o->dir, o->to, err);
    if (!rc) rc = restore_blobs(&r, err);
    if (!rc) rc = berth_meta_sqlite_examine(tmp, 0, f, restored_has, &r, err);
    if (!rc) rc = mirror_files(o->dir, o->to, "keys", ".pem", NULL, &st->keys, err);
    if (!rc) rc = mirror_files(o->dir, o->to, ".", "", "initial-owner-password", &st->files, err);
    if (rc) goto out;
    db = berth_xasprintf("%s/berth.db", o->to);
    rc = put_in_place(tmp, db, o->to, err);
    st->unfinished = rc != BERTH_OK;
out:
    st->total_us = berth_mono_us() - t0;
    close_run(&r);
    free(f);
    free(info_path);
    if (text) explicit_bzero(text, len);
    free(text);
    free(src_db);
    free(tmp);
    free(db);
    return rc;
}
