/*
 * migrate.c - berth migrate (see migrate.h): opening both sides as serve
 * would, the blobs (both stores listed and merged by digest; what the
 * target lacks is streamed through a hasher into an upload writer and
 * committed only when the bytes hashed to the digest), the upload sessions
 * in progress, the signing keys, the metadata (berth_meta_copy, with every
 * referenced blob checked in the target store before the commit) and the
 * verification (the tables' checksums on both sides, every referenced blob
 * in the target store with its recorded size).
 */
#include <dirent.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include "alloc.h"
#include "buf.h"
#include "config.h"
#include "log.h"
#include "meta.h"
#include "store.h"
#include "util.h"
#include "wiring.h"
#include "migrate.h"
#include "banned.h"

#define COPY_BUF (1u << 20)   /* bytes read and appended at a time */
#define SHOWN_MAX 5           /* referenced blobs named in a failed verification's message */

struct blob {
    struct berth_digest d;
    uint64_t size;
};

struct blob_list {
    struct blob *v;
    size_t n, cap;
};

struct upload {
    char id[37];
    uint64_t size;
};

struct upload_list {
    struct upload *v;
    size_t n, cap;
};

/* One side, opened. */
struct side {
    const struct berth_migrate_side *desc;
    const struct berth_meta_ops *mops;
    char *dsn;                 /* what the metadata driver opens: may hold a password, never shown */
    struct berth_meta *meta;   /* NULL on a dry run's target that does not exist yet */
    const struct berth_blobstore_ops *sops;
    char *root;
    struct berth_blobstore *store; /* NULL on a dry run's target that does not exist yet */
};

struct run {
    const struct berth_migrate_opts *o;
    struct berth_migrate_stats *st;
    struct side from, to;
    struct berth_migrate_progress p;
    int64_t phase_us; /* when the phase began */
};

void berth_migrate_stats_release(struct berth_migrate_stats *st)
{
    if (!st) return;
    free(st->from_meta);
    free(st->to_meta);
    free(st->from_store);
    free(st->to_store);
    free(st->problems);
    memset(st, 0, sizeof(*st));
}

/* err's message after "what: " (berth_err_set cannot read the message it writes). */
static enum berth_rc reword(struct berth_err *err, enum berth_rc rc, const char *what)
{
    char msg[BERTH_ERR_MSG_MAX];

    snprintf(msg, sizeof(msg), "%s", berth_err_msg(err));
    return berth_err_set(err, rc, "%s: %s", what, msg);
}

/* ---- progress ---- */

static void phase(struct run *r, enum berth_migrate_phase ph, uint64_t total)
{
    memset(&r->p, 0, sizeof(r->p));
    r->p.phase = ph;
    r->p.total = total;
    r->phase_us = berth_mono_us();
}

static void report(struct run *r, int final)
{
    if (!r->o->progress) return;
    r->p.elapsed_us = berth_mono_us() - r->phase_us;
    r->o->progress(&r->p, final, r->o->ctx);
}

static void rows_progress(const char *table, size_t i, size_t n, int64_t done, int64_t total, void *ctx)
{
    struct run *r = ctx;

    r->p.table = table;
    r->p.table_index = i;
    r->p.tables = n;
    r->p.done = (uint64_t)done;
    r->p.total = (uint64_t)total;
    report(r, 0);
}

/* ---- the sides ---- */

/* The settings berth serve would read for a side: those berth_meta_choose looks at. */
static struct berth_config side_config(const struct berth_migrate_side *s)
{
    struct berth_config cfg;

    memset(&cfg, 0, sizeof(cfg));
    cfg.data = (char *)s->data;
    cfg.meta = (char *)(s->meta ? s->meta : "");
    return cfg;
}

/*
 * The one place a side's blob store is chosen, from its description, as
 * berth serve chooses it (berth_blobstore_choose): files in the data folder,
 * or an S3 bucket. *root is what the driver opens, *shown names the store in
 * messages; both malloc'd.
 */
static enum berth_rc side_store_choose(const struct berth_migrate_side *s, const struct berth_blobstore_ops **ops,
                                       char **root, char **shown, struct berth_err *err)
{
    struct berth_config cfg = side_config(s);

    cfg.store = (char *)(s->store ? s->store : "");
    return berth_blobstore_choose(&cfg, ops, root, shown, err);
}

/* Which driver and DSN a side names; nothing is opened yet. */
static enum berth_rc choose_meta(struct side *s, int source, char **shown, struct berth_err *err)
{
    struct berth_config cfg = side_config(s->desc);
    enum berth_rc rc = berth_meta_choose(&cfg, &s->mops, &s->dsn, shown, err);

    return rc ? reword(err, rc, source ? "--from-meta" : "--to-meta") : BERTH_OK;
}

/*
 * Opens a side's metadata (chosen by choose_meta) with its driver's open,
 * which migrates, after a look that changes nothing: a source must exist;
 * on a dry run a target that does not exist, or that open would migrate,
 * stays closed.
 */
static enum berth_rc open_meta(struct run *r, struct side *s, int source, char **shown, struct berth_err *err)
{
    struct berth_meta_inspect in;
    char what[300];
    enum berth_rc rc;

    snprintf(what, sizeof(what), "%s metadata %s", source ? "source" : "target", *shown);
    rc = s->mops->inspect(s->dsn, &in, err);
    if (rc) return reword(err, rc, what);
    if (in.exists && in.version > in.latest)
        return berth_err_set(err, BERTH_EDB, "%s metadata %s has schema version %d, newer than this berth's %d;"
                             " run a newer berth", source ? "source" : "target", *shown, in.version, in.latest);
    if (source && !in.exists) return berth_err_set(err, BERTH_ENOENT, "no berth metadata at %s", *shown);
    if (in.exists && !in.intact)
        return berth_err_set(err, BERTH_EDB, "%s metadata %s is damaged: %s", source ? "source" : "target", *shown,
                             in.problem);
    if (r->o->dry_run && (!in.exists || in.version != in.latest)) {
        if (source)
            return berth_err_set(err, BERTH_EDB, "source metadata %s is at schema version %d and a real run would"
                                 " first upgrade it to %d; start berth serve on it once, then try the dry run",
                                 *shown, in.version, in.latest);
        return BERTH_OK; /* a new target: empty */
    }
    rc = s->mops->open(s->dsn, &s->meta, err);
    return rc ? reword(err, rc, what) : BERTH_OK;
}

static enum berth_rc open_store(struct run *r, struct side *s, int source, char **shown, struct berth_err *err)
{
    struct berth_blobstore_opts opts;
    enum berth_rc rc;

    memset(&opts, 0, sizeof(opts));
    opts.fsync = r->o->fsync;
    rc = side_store_choose(s->desc, &s->sops, &s->root, shown, err);
    if (rc) return rc;
    if (!source && r->o->dry_run && s->sops == berth_blobstore_driver("fs") && !berth_is_dir(s->root))
        return BERTH_OK; /* a dry run creates no folder: every blob would be copied */
    rc = s->sops->open(s->root, &opts, &s->store, err);
    return rc ? reword(err, rc, source ? "source store" : "target store") : BERTH_OK;
}

static void close_side(struct side *s)
{
    if (s->meta) s->mops->close(s->meta);
    if (s->store) s->sops->close(s->store);
    if (s->dsn) explicit_bzero(s->dsn, strlen(s->dsn)); /* it may hold a password */
    free(s->dsn);
    free(s->root);
}

/* ---- listings ---- */

static int add_blob(const struct berth_digest *d, uint64_t size, int64_t mtime_s, void *ctx)
{
    struct blob_list *l = ctx;

    (void)mtime_s;
    if (l->n == l->cap) {
        l->cap = l->cap ? 2 * l->cap : 1024;
        l->v = berth_xrealloc(l->v, l->cap * sizeof(*l->v));
    }
    l->v[l->n].d = *d;
    l->v[l->n].size = size;
    l->n++;
    return 0;
}

static int blob_cmp(const void *a, const void *b)
{
    return strcmp(((const struct blob *)a)->d.s, ((const struct blob *)b)->d.s);
}

static enum berth_rc list_blobs(struct berth_blobstore *bs, struct blob_list *out, struct berth_err *err)
{
    enum berth_rc rc = bs ? bs->ops->list(bs, add_blob, out, err) : BERTH_OK;

    if (!rc && out->n) qsort(out->v, out->n, sizeof(*out->v), blob_cmp);
    return rc;
}

static int add_upload(const char *uuid, uint64_t size, int64_t mtime_s, void *ctx)
{
    struct upload_list *l = ctx;

    (void)mtime_s;
    if (l->n == l->cap) {
        l->cap = l->cap ? 2 * l->cap : 64;
        l->v = berth_xrealloc(l->v, l->cap * sizeof(*l->v));
    }
    snprintf(l->v[l->n].id, sizeof(l->v[0].id), "%s", uuid);
    l->v[l->n].size = size;
    l->n++;
    return 0;
}

static int add_session(const char *uuid, void *ctx)
{
    return add_upload(uuid, 0, 0, ctx);
}

static int upload_cmp(const void *a, const void *b)
{
    return strcmp(((const struct upload *)a)->id, ((const struct upload *)b)->id);
}

static int has_upload(const struct upload_list *l, const char *id)
{
    struct upload key;

    snprintf(key.id, sizeof(key.id), "%s", id);
    return l->n && bsearch(&key, l->v, l->n, sizeof(*l->v), upload_cmp) != NULL;
}

/* The upload sessions m records (none without m), sorted. */
static enum berth_rc list_sessions(struct berth_meta *m, struct upload_list *out, struct berth_err *err)
{
    enum berth_rc rc = m ? m->uploads->upload_list(m, add_session, out, err) : BERTH_OK;

    if (!rc && out->n) qsort(out->v, out->n, sizeof(*out->v), upload_cmp);
    return rc;
}

static void add_problem(struct berth_migrate_stats *st, const struct berth_digest *d, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void add_problem(struct berth_migrate_stats *st, const struct berth_digest *d, const char *fmt, ...)
{
    struct berth_migrate_problem *p;
    va_list ap;

    st->problems = berth_xrealloc(st->problems, (st->nproblems + 1) * sizeof(*st->problems));
    p = &st->problems[st->nproblems++];
    p->d = *d;
    va_start(ap, fmt);
    vsnprintf(p->why, sizeof(p->why), fmt, ap);
    va_end(ap);
}

/* ---- blobs ---- */

static void blob_bytes(uint64_t n, void *ctx)
{
    struct run *r = ctx;

    r->p.bytes += n;
    report(r, 0);
}

/*
 * Copies one blob the target lacks (berth_blobstore_copy). Trouble on the
 * source's side (the blob unreadable, or its bytes hashing to another
 * digest) is a problem listed in the stats and the run goes on; on the
 * target's side it stops the run. If the run dies half-way, the copy is an
 * upload no metadata records, which the next run removes.
 */
static enum berth_rc copy_blob(struct run *r, const struct blob *b, unsigned char *buf, struct berth_err *err)
{
    struct berth_blob_copy c;
    enum berth_rc rc;

    /* the bytes are hashed on their way in: the store need not read them again */
    rc = berth_blobstore_copy(r->from.store, r->to.store, &b->d, BERTH_COMMIT_VERIFIED, buf, COPY_BUF, blob_bytes, r,
                              &c, err);
    if (rc && c.src_fault) {
        if (rc == BERTH_EDIGEST)
            add_problem(r->st, &b->d, "corrupt in the source store: its %llu bytes hash to %s",
                        (unsigned long long)c.size, c.got.s);
        else
            add_problem(r->st, &b->d, "cannot be read from the source store: %s", berth_err_msg(err));
        berth_err_clear(err);
        return BERTH_OK;
    }
    if (rc) return rc;
    r->st->blobs_copied++;
    r->st->bytes_copied += c.size;
    return BERTH_OK;
}

/* Every source blob the target lacks (or holds with another size, so damaged), copied. */
static enum berth_rc migrate_blobs(struct run *r, struct berth_err *err)
{
    struct blob_list src = {0}, dst = {0};
    struct berth_migrate_stats *st = r->st;
    unsigned char *buf = NULL;
    enum berth_rc rc;
    size_t i, j = 0;
    char *todo = NULL;

    rc = list_blobs(r->from.store, &src, err);
    if (!rc) rc = list_blobs(r->to.store, &dst, err);
    if (rc) goto out;
    st->blobs = src.n;
    todo = berth_xcalloc(src.n + 1, 1);
    phase(r, BERTH_MIGRATE_BLOBS, src.n);
    for (i = 0; i < src.n; i++) { /* both sorted: one merge */
        while (j < dst.n && strcmp(dst.v[j].d.s, src.v[i].d.s) < 0) j++;
        if (j < dst.n && !strcmp(dst.v[j].d.s, src.v[i].d.s)) {
            if (dst.v[j].size == src.v[i].size) {
                st->blobs_present++;
                st->bytes_present += src.v[i].size;
                continue;
            }
            todo[i] = 2; /* a blob is its bytes: another size means the target's are damaged */
        } else {
            todo[i] = 1;
        }
        r->p.bytes_total += src.v[i].size;
    }
    r->p.done = st->blobs_present;
    if (r->o->dry_run) {
        for (i = 0; i < src.n; i++) {
            if (!todo[i]) continue;
            st->blobs_copied++;
            st->bytes_copied += src.v[i].size;
            st->blobs_replaced += todo[i] == 2;
        }
        r->p.done = src.n;
        report(r, 1);
        goto out;
    }
    buf = berth_xmalloc(COPY_BUF);
    for (i = 0; i < src.n; i++) {
        if (!todo[i]) continue;
        if (todo[i] == 2) {
            BERTH_LOG(BERTH_LOG_WARN, "msg=\"migrate: the target holds a blob with another size; copying it again\""
                      " digest=%s", src.v[i].d.s);
            rc = r->to.store->ops->remove(r->to.store, &src.v[i].d, err);
            if (rc && rc != BERTH_EBLOBUNKNOWN) goto out;
            st->blobs_replaced++;
        }
        rc = copy_blob(r, &src.v[i], buf, err);
        if (rc) goto out;
        r->p.done++;
        report(r, 0);
    }
    report(r, 1);
out:
    free(buf);
    free(todo);
    free(src.v);
    free(dst.v);
    return rc;
}

/*
 * Uploads in the target store that neither metadata records: writers of an
 * interrupted run (or of a monolithic push cut short, on a store the source
 * shares). The target's metadata is empty or the source's, so no server
 * holds them; they are removed before anything is copied.
 */
static enum berth_rc remove_leftovers(struct run *r, const struct upload_list *src_sessions,
                                      const struct upload_list *dst_sessions, struct berth_err *err)
{
    struct upload_list in_store = {0};
    struct berth_err lerr = BERTH_ERR_INIT;
    enum berth_rc rc = BERTH_OK;
    size_t i;

    if (!r->to.store) return BERTH_OK;
    rc = r->to.store->ops->upload_list(r->to.store, add_upload, &in_store, err);
    for (i = 0; i < in_store.n && !rc; i++) {
        const char *id = in_store.v[i].id;
        if (has_upload(src_sessions, id) || has_upload(dst_sessions, id)) continue;
        if (!r->o->dry_run && r->to.store->ops->upload_remove(r->to.store, id, &lerr) != BERTH_OK) {
            BERTH_LOG(BERTH_LOG_WARN, "msg=\"migrate: cannot remove a leftover upload\" upload=%s err=\"%s\"", id,
                      berth_err_msg(&lerr));
            continue;
        }
        r->st->leftovers_removed++;
    }
    free(in_store.v);
    return rc;
}

/*
 * The bytes of the upload sessions in progress that the source records, under
 * the same ids, so their clients can go on against the target (the copied
 * session rows hold how far each got and its running hash; the store's own
 * resume data stays behind, and every store resumes from the id alone).
 */
static enum berth_rc migrate_sessions(struct run *r, const struct upload_list *sessions, struct berth_err *err)
{
    struct berth_blobstore *src = r->from.store, *dst = r->to.store;
    struct upload_list in_store = {0};
    struct berth_err lerr = BERTH_ERR_INIT;
    unsigned char *buf = NULL;
    enum berth_rc rc;
    size_t i;
    int src_fault;

    rc = src->ops->upload_list(src, add_upload, &in_store, err);
    if (rc) goto out;
    phase(r, BERTH_MIGRATE_UPLOADS, sessions->n);
    for (i = 0; i < in_store.n && !rc; i++) {
        struct berth_blob_reader *rd = NULL;
        struct berth_upload_writer *w = NULL;
        uint64_t have = 0;
        const char *id = in_store.v[i].id;

        if (!has_upload(sessions, id)) continue; /* no record: not a session a client can go on with */
        r->p.done++;
        if (dst && dst->ops->upload_stat(dst, id, &have, &lerr) == BERTH_OK) {
            if (have == in_store.v[i].size) {
                r->st->uploads_present++;
                continue;
            }
            if (!r->o->dry_run) dst->ops->upload_remove(dst, id, &lerr);
        }
        r->st->uploads_copied++;
        if (r->o->dry_run) continue;
        if (!buf) buf = berth_xmalloc(COPY_BUF);
        rc = src->ops->upload_open_reader(src, id, &rd, &lerr);
        if (rc) { /* ended meanwhile: nothing to go on with */
            r->st->uploads_copied--;
            rc = BERTH_OK;
            continue;
        }
        rc = dst->ops->upload_create(dst, id, &w, err);
        if (!rc) rc = berth_blob_pour(rd, w, NULL, buf, COPY_BUF, NULL, NULL, &src_fault, err);
        if (!rc) rc = berth_upload_writer_sync(w, err);
        berth_upload_writer_close(w, NULL);
        berth_blob_reader_close(rd);
        if (rc) rc = reword(err, rc, "an upload session in progress");
        report(r, 0);
    }
    if (!rc) report(r, 1);
out:
    free(buf);
    free(in_store.v);
    return rc;
}

/* ---- files of the data folder ---- */

/*
 * Copies from/<name> to to/<name> (mode 0600, written atomically) when the
 * target lacks it; the same bytes there already count as present; other
 * bytes stop the run, since the file is a secret the copy would overwrite.
 */
/*
 * Puts bytes as to_dir/name (mode 0600) unless that file holds them already
 * (*present counts it); a file there with other bytes stops the run.
 */
static enum berth_rc place_file(const char *to_dir, const char *name, const char *a, size_t alen, int dry_run,
                                uint64_t *copied, uint64_t *present, struct berth_err *err)
{
    char *dst = berth_xasprintf("%s/%s", to_dir, name), *b = NULL;
    size_t blen = 0;
    enum berth_rc rc = BERTH_OK;

    if (berth_read_file(dst, 1 << 20, &b, &blen, err) == BERTH_OK) {
        if (blen == alen && !memcmp(a, b, alen)) {
            if (present) (*present)++;
        } else {
            rc = berth_err_set(err, BERTH_EEXIST, "%s exists with other content than the source's; move it away to"
                               " copy the source's", dst);
        }
        goto out;
    }
    berth_err_clear(err);
    if (!dry_run) rc = berth_mkdirs(to_dir, err);
    if (!rc && !dry_run) rc = berth_write_atomic(dst, a, alen, 0600, err);
    if (!rc) (*copied)++;
out:
    if (b) explicit_bzero(b, blen);
    free(b);
    free(dst);
    return rc;
}

static enum berth_rc copy_file(const char *from_dir, const char *to_dir, const char *name, int dry_run,
                               uint64_t *copied, uint64_t *present, struct berth_err *err)
{
    char *src = berth_xasprintf("%s/%s", from_dir, name), *a = NULL;
    size_t alen = 0;
    enum berth_rc rc;

    rc = berth_read_file(src, 1 << 20, &a, &alen, err);
    if (!rc) rc = place_file(to_dir, name, a, alen, dry_run, copied, present, err);
    if (rc == BERTH_EEXIST) berth_err_set(err, rc, "%s/%s exists with other content than %s; move it away to copy the"
                                          " source's", to_dir, name, src);
    if (a) explicit_bzero(a, alen);
    free(a);
    free(src);
    return rc;
}

/*
 * The token signing keys. A server alone on SQLite keeps them as files,
 * <data>/keys/<kid>.pem; servers sharing PostgreSQL keep them in the
 * signing_keys table, whose text is a key file's content as is. So:
 * folder to folder, each file the target lacks (copy_file: one it has with
 * other bytes stops the run); table to table, with the rest of the
 * metadata; folder to table, each file added to the target's table (after
 * the metadata copy, which needs an empty target); table to folder, each
 * row written as a file.
 */
static int side_shared(const struct side *s)
{
    return s->meta && s->meta->ops->shared;
}

/* A key file's creation time: its "berth-key-created-ms:" line, else its mtime. */
static int64_t key_file_created_ms(const char *path, const char *text)
{
    static const char tag[] = "berth-key-created-ms: ";
    struct stat sb;
    uint64_t ms;
    size_t n;

    if (!strncmp(text, tag, sizeof(tag) - 1)) {
        n = strcspn(text + sizeof(tag) - 1, "\n");
        if (berth_parse_u64(text + sizeof(tag) - 1, n, &ms) == 0 && ms <= (uint64_t)INT64_MAX) return (int64_t)ms;
    }
    if (stat(path, &sb) == 0) return (int64_t)sb.st_mtim.tv_sec * 1000 + sb.st_mtim.tv_nsec / 1000000;
    return 0;
}

static enum berth_rc key_file_to_table(struct run *r, const char *dir, const char *name, struct berth_err *err)
{
    char *path = berth_xasprintf("%s/%s", dir, name), *kid = berth_xstrndup(name, strlen(name) - 4), *text = NULL;
    size_t len = 0;
    int added = 0;
    enum berth_rc rc;

    rc = berth_read_file(path, 1 << 20, &text, &len, err);
    if (!rc && !r->o->dry_run)
        rc = r->to.meta->auth->key_add(r->to.meta, kid, key_file_created_ms(path, text), text, &added, err);
    if (!rc && (added || r->o->dry_run)) r->st->keys_copied++;
    else if (!rc) r->st->keys_present++;
    if (text) explicit_bzero(text, len);
    free(text);
    free(kid);
    free(path);
    return rc;
}

struct key_export {
    struct run *r;
    const char *dir;
    enum berth_rc rc;
    struct berth_err *err;
};

static int key_row_to_file(const char *kid, int64_t created_ms, const char *text, void *ctx)
{
    struct key_export *x = ctx;
    char *name = berth_xasprintf("%s.pem", kid);
    (void)created_ms;

    x->rc = place_file(x->dir, name, text, strlen(text), x->r->o->dry_run, &x->r->st->keys_copied,
                       &x->r->st->keys_present, x->err);
    free(name);
    return x->rc != BERTH_OK;
}

static enum berth_rc migrate_signing_keys(struct run *r, struct berth_err *err)
{
    const struct berth_migrate_side *from = &r->o->from, *to = &r->o->to;
    char *sdir = berth_xasprintf("%s/keys", from->data), *ddir = berth_xasprintf("%s/keys", to->data);
    enum berth_rc rc = BERTH_OK;
    struct dirent *e;
    DIR *d = NULL;

    if (side_shared(&r->from) && side_shared(&r->to)) goto out; /* the table went with the metadata */
    if (side_shared(&r->from)) {
        struct key_export x = {r, ddir, BERTH_OK, err};
        rc = r->from.meta->auth->key_list(r->from.meta, key_row_to_file, &x, err);
        if (!rc) rc = x.rc;
        goto out;
    }
    if (berth_same_file(sdir, ddir) && !side_shared(&r->to)) goto out;
    d = opendir(sdir);
    if (!d) {
        if (errno != ENOENT) rc = berth_err_sys(err, BERTH_EIO, errno, "cannot read the folder '%s'", sdir);
        goto out; /* no keys yet: the target's first start makes one */
    }
    while ((e = readdir(d)) != NULL && !rc) {
        size_t n = strlen(e->d_name);
        if (n < 5 || strcmp(e->d_name + n - 4, ".pem") != 0) continue;
        if (side_shared(&r->to) && r->to.meta) rc = key_file_to_table(r, sdir, e->d_name, err);
        else rc = copy_file(sdir, ddir, e->d_name, r->o->dry_run, &r->st->keys_copied, &r->st->keys_present, err);
    }
out:
    if (d) closedir(d);
    free(sdir);
    free(ddir);
    return rc;
}

/*
 * Keys moved from a folder into a shared target's table are the one
 * difference a verified copy may have: every other table must match.
 */
static int differs_only_by_imported_keys(const struct run *r, const struct berth_meta_tables *a,
                                         const struct berth_meta_tables *b)
{
    size_t i;

    if (side_shared(&r->from) || !side_shared(&r->to) || a->n != b->n) return 0;
    for (i = 0; i < a->n; i++) {
        if (!strcmp(a->t[i].name, "signing_keys")) continue;
        if (a->t[i].rows != b->t[i].rows || memcmp(a->t[i].sum, b->t[i].sum, sizeof(a->t[i].sum)) != 0) return 0;
    }
    return 1;
}

/* The owner's first password, kept in the data folder for the operator: it moves with the rest. */
static enum berth_rc migrate_owner_password_file(const struct berth_migrate_side *from,
                                                 const struct berth_migrate_side *to, int dry_run,
                                                 struct berth_migrate_stats *st, struct berth_err *err)
{
    char *src = berth_xasprintf("%s/initial-owner-password", from->data);
    struct stat sb;
    enum berth_rc rc = BERTH_OK;

    if (!berth_same_file(from->data, to->data) && stat(src, &sb) == 0)
        rc = copy_file(from->data, to->data, "initial-owner-password", dry_run, &st->files_copied, NULL, err);
    free(src);
    return rc;
}

/* ---- metadata ---- */

static uint64_t sum_rows(const struct berth_meta_tables *t)
{
    uint64_t n = 0;
    size_t i;

    for (i = 0; i < t->n; i++) n += (uint64_t)t->t[i].rows;
    return n;
}

/* "registries 1, users 1": the tables of t that have rows. */
static void nonempty_tables(const struct berth_meta_tables *t, struct berth_buf *b)
{
    size_t i;

    for (i = 0; i < t->n; i++)
        if (t->t[i].rows) berth_buf_printf(b, "%s%s %lld", b->len ? ", " : "", t->t[i].name, (long long)t->t[i].rows);
}

/*
 * Before anything is written: the target's metadata must be empty, or hold
 * exactly the source's rows (an earlier run committed its copy and stopped
 * before it finished): then the copy is not made again.
 */
static enum berth_rc check_target(struct run *r, struct berth_err *err)
{
    struct berth_meta_tables *t = berth_xcalloc(3, sizeof(*t));
    struct berth_buf held = BERTH_BUF_INIT(0);
    enum berth_rc rc = BERTH_OK;
    int same = 0;

    r->st->target_fresh = 1;
    if (!r->to.meta) goto out;
    rc = berth_meta_tables_count(r->to.meta, t, err);
    if (rc || sum_rows(t) == 0) goto out;
    phase(r, BERTH_MIGRATE_VERIFY, 0);
    rc = berth_meta_compare(r->from.meta, r->to.meta, rows_progress, r, t + 1, t + 2, &same, err);
    if (rc) goto out;
    if (!same) same = differs_only_by_imported_keys(r, t + 1, t + 2);
    report(r, 1);
    if (same) {
        r->st->target_fresh = 0;
        BERTH_LOG(BERTH_LOG_INFO, "msg=\"migrate: the target metadata holds the source's rows already\"");
        goto out;
    }
    nonempty_tables(t, &held);
    rc = berth_err_set(err, BERTH_EEXIST, "the target metadata %s is not empty (%s) and differs from the source's;"
                       " berth migrate writes into an empty one only", r->st->to_meta, berth_buf_str(&held));
out:
    berth_buf_release(&held);
    free(t);
    return rc;
}

/* Inside the copy's transaction: each blob the copied metadata references is in the target store, whole. */
static enum berth_rc blob_in_target(const struct berth_digest *d, int64_t lo, int64_t hi, void *ctx,
                                    struct berth_err *err)
{
    struct run *r = ctx;
    struct berth_err serr = BERTH_ERR_INIT;
    uint64_t size = 0;
    size_t i;

    if (r->to.store->ops->stat(r->to.store, d, &size, &serr) != BERTH_OK) {
        for (i = 0; i < r->st->nproblems; i++)
            if (!strcmp(r->st->problems[i].d.s, d->s))
                return berth_err_set(err, BERTH_EBLOBUNKNOWN, "the metadata references blob %s, which was not copied:"
                                     " it is %s", d->s, r->st->problems[i].why);
        return berth_err_set(err, BERTH_EBLOBUNKNOWN, "the metadata references blob %s, which the target store"
                             " lacks (was a server still writing to the source? stop it and run berth migrate again)",
                             d->s);
    }
    if (lo >= 0 && ((int64_t)size != lo || (int64_t)size != hi))
        return berth_err_set(err, BERTH_ESIZE, "blob %s has %llu bytes in the target store, the metadata records %lld%s",
                             d->s, (unsigned long long)size, (long long)lo, lo == hi ? "" : " and other sizes");
    r->st->refs_checked++;
    if ((r->st->refs_checked & 255) == 0) report(r, 0);
    return BERTH_OK;
}

static enum berth_rc migrate_meta(struct run *r, struct berth_err *err)
{
    struct berth_meta_copy_opts co = {rows_progress, blob_in_target, r};
    enum berth_rc rc;

    if (!r->st->target_fresh || r->o->dry_run) {
        rc = berth_meta_tables_count(r->from.meta, &r->st->tables, err);
        r->st->rows = sum_rows(&r->st->tables);
        return rc;
    }
    phase(r, BERTH_MIGRATE_META, 0);
    rc = berth_meta_copy(r->from.meta, r->to.meta, &co, &r->st->tables, err);
    r->st->rows = sum_rows(&r->st->tables);
    r->st->refs_checked = 0; /* counted again by the verification */
    if (!rc) report(r, 1);
    return rc;
}

/* Gathers the referenced blobs the target store lacks, or holds with another size. */
struct verify_ctx {
    struct run *r;
    uint64_t bad;
    struct berth_buf shown;
};

static enum berth_rc verify_ref(const struct berth_digest *d, int64_t lo, int64_t hi, void *ctx,
                                struct berth_err *err)
{
    struct verify_ctx *v = ctx;
    enum berth_rc rc = blob_in_target(d, lo, hi, v->r, err);

    if (rc == BERTH_EBLOBUNKNOWN || rc == BERTH_ESIZE) {
        if (v->bad++ < SHOWN_MAX) berth_buf_printf(&v->shown, "; %s", berth_err_msg(err));
        berth_err_clear(err);
        return BERTH_OK;
    }
    return rc;
}

/* After the commit: the same rows on both sides, and every blob they reference in the target store. */
static enum berth_rc verify(struct run *r, struct berth_err *err)
{
    struct berth_meta_tables *t = berth_xcalloc(2, sizeof(*t));
    struct verify_ctx v = {r, 0, BERTH_BUF_INIT(0)};
    struct berth_buf diff = BERTH_BUF_INIT(0);
    enum berth_rc rc;
    size_t i;
    int same = 0;

    phase(r, BERTH_MIGRATE_VERIFY, 0);
    rc = berth_meta_compare(r->from.meta, r->to.meta, rows_progress, r, t, t + 1, &same, err);
    if (rc) goto out;
    if (!same) same = differs_only_by_imported_keys(r, t, t + 1);
    if (!same) {
        for (i = 0; i < t[0].n; i++) {
            if (t[0].t[i].rows != t[1].t[i].rows)
                berth_buf_printf(&diff, "; %s: %lld rows in the source, %lld in the target", t[0].t[i].name,
                                 (long long)t[0].t[i].rows, (long long)t[1].t[i].rows);
            else if (memcmp(t[0].t[i].sum, t[1].t[i].sum, sizeof(t[0].t[i].sum)) != 0)
                berth_buf_printf(&diff, "; %s: the same %lld rows, other values", t[0].t[i].name,
                                 (long long)t[0].t[i].rows);
        }
        rc = berth_err_set(err, BERTH_EDB, "verification: the target's metadata differs from the source's%s",
                           berth_buf_str(&diff));
        goto out;
    }
    r->p.table = NULL;
    r->p.done = 0;
    r->st->refs_checked = 0;
    rc = berth_meta_blob_refs(r->to.meta, verify_ref, &v, err);
    if (rc) goto out;
    r->p.done = r->st->refs_checked;
    if (v.bad)
        rc = berth_err_set(err, BERTH_EDB, "verification: %llu blobs the target's metadata references are missing or"
                           " damaged in its store%s", (unsigned long long)v.bad, berth_buf_str(&v.shown));
    else report(r, 1);
out:
    berth_buf_release(&v.shown);
    berth_buf_release(&diff);
    free(t);
    return rc;
}

/* ---- the run ---- */

/* The same metadata store on both sides would copy a store into itself. */
static enum berth_rc check_distinct(struct run *r, struct berth_err *err)
{
    int same;

    if (r->from.mops != r->to.mops) return BERTH_OK;
    if (r->from.mops == &berth_meta_sqlite_ops) same = berth_same_file(r->from.desc->data, r->to.desc->data);
    else same = !strcmp(r->from.dsn, r->to.dsn);
    if (same)
        return berth_err_set(err, BERTH_EINVAL, "the source and the target are the same metadata store (%s)",
                             r->st->from_meta);
    return BERTH_OK;
}

enum berth_rc berth_migrate_run(const struct berth_migrate_opts *o, struct berth_migrate_stats *st,
                                struct berth_err *err)
{
    struct upload_list src_sessions = {0}, dst_sessions = {0};
    struct run r;
    enum berth_rc rc;
    int64_t t0 = berth_mono_us(), t;

    memset(st, 0, sizeof(*st));
    memset(&r, 0, sizeof(r));
    r.o = o;
    r.st = st;
    r.from.desc = &o->from;
    r.to.desc = &o->to;
    if (!o->from.data || !*o->from.data || !o->to.data || !*o->to.data)
        return berth_err_set(err, BERTH_EINVAL, "both data folders are needed");
    if (!berth_is_dir(o->from.data))
        return berth_err_set(err, BERTH_ENOENT, "the source data folder '%s' does not exist", o->from.data);
    rc = choose_meta(&r.from, 1, &st->from_meta, err);
    if (!rc) rc = choose_meta(&r.to, 0, &st->to_meta, err);
    if (!rc) rc = open_meta(&r, &r.from, 1, &st->from_meta, err);
    if (!rc && !o->dry_run) rc = berth_mkdirs(o->to.data, err); /* SQLite's file goes in it */
    if (!rc) rc = open_meta(&r, &r.to, 0, &st->to_meta, err);
    if (!rc) rc = check_distinct(&r, err);
    if (!rc) rc = open_store(&r, &r.from, 1, &st->from_store, err);
    if (!rc) rc = open_store(&r, &r.to, 0, &st->to_store, err);
    if (!rc) rc = check_target(&r, err);
    if (rc) goto out;

    t = berth_mono_us();
    rc = list_sessions(r.from.meta, &src_sessions, err);
    if (!rc) rc = list_sessions(r.to.meta, &dst_sessions, err);
    if (!rc) rc = remove_leftovers(&r, &src_sessions, &dst_sessions, err);
    if (!rc) rc = migrate_blobs(&r, err);
    if (!rc) rc = migrate_sessions(&r, &src_sessions, err);
    st->blobs_us = berth_mono_us() - t;
    if (!rc) rc = migrate_owner_password_file(&o->from, &o->to, o->dry_run, st, err);
    if (rc) goto out;

    t = berth_mono_us();
    rc = migrate_meta(&r, err);
    /* after the copy: a folder's keys go into a shared target's table, which the copy needs empty */
    if (!rc) rc = migrate_signing_keys(&r, err);
    st->meta_us = berth_mono_us() - t;
    if (rc || o->dry_run) goto out;
    t = berth_mono_us();
    rc = verify(&r, err);
    st->verify_us = berth_mono_us() - t;
out:
    st->total_us = berth_mono_us() - t0;
    free(src_sessions.v);
    free(dst_sessions.v);
    close_side(&r.from);
    close_side(&r.to);
    return rc;
}
