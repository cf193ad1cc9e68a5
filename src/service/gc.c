/*
 * gc.c - the gc sweep (see gc.h): deletes manifests and blobs that nothing
 * references, expired upload sessions (and records of sessions whose bytes
 * are gone) and stray temp files. Safe to run while the server runs: each
 * blob is deleted in a metadata transaction that no push or mount of it can
 * interleave with (docs/internals/store.md, "gc and pushes"), so a blob a
 * push was acknowledged for is never lost; the grace period keeps links
 * (and so blobs) pushed recently that no manifest references yet.
 *
 * What may be garbage comes from the review queue the metadata keeps (what
 * removing a tag, manifest, link or repository, or an untagged push,
 * queued); the walk over every stored blob only finds bytes no record names
 * (a crash between a store's rename and its commit). A server with
 * gc-interval set runs the queue part itself (berth_gc_worker_start).
 *
 * On a large store it reports progress on stderr (on a terminal by default,
 * or with --progress): an updating line per phase at most twice a second,
 * and a closing line per phase.
 */
#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include "alloc.h"
#include "buf.h"
#include "log.h"
#include "meta.h"
#include "store.h"
#include "util.h"
#include "gc.h"
#include "banned.h"

struct gc_ctx {
    struct berth_meta *meta;
    struct berth_blobstore *blobs;
    int64_t cutoff_ms;
    int64_t upload_cutoff_s;
    int dry_run;
    int rehearse; /* deleting in a copy of the metadata: the store's bytes stay, their sizes are counted */
    char (*gone)[BERTH_DIGEST_STR_MAX]; /* rehearsal: the digests reaped so far (sorted before the walk) */
    size_t ngone, capgone;
    int verbose;
    struct berth_gc_stats *st; /* the counts, the caller's */
    int progress;       /* report progress on stderr */
    int tty;            /* stderr is a terminal: rewrite one line */
    int64_t shown_us;   /* when progress was last shown */
};

#define GC_PROGRESS_US 500000
#define GC_PAGE 256 /* queued blobs read per query */

/* One progress line for the phase; done ends it (always shown). */
static void progress(struct gc_ctx *c, const char *phase, int done)
{
    char freed[32];
    int64_t now;

    if (!c->progress) return;
    now = berth_mono_us();
    if (!done && now - c->shown_us < GC_PROGRESS_US) return;
    c->shown_us = now;
    berth_human_size(c->st->bytes_freed, freed, sizeof(freed));
    if (!strcmp(phase, "manifests"))
        fprintf(stderr, "%sgc: manifests: %llu deleted, %llu repository links removed%s", c->tty ? "\r" : "",
                (unsigned long long)c->st->manifests, (unsigned long long)c->st->unlinked, c->tty && !done ? "" : "\n");
    else if (!strcmp(phase, "blobs"))
        fprintf(stderr, "%sgc: blobs: %llu checked, %llu deleted, %s freed%s", c->tty ? "\r" : "",
                (unsigned long long)c->st->seen, (unsigned long long)c->st->blobs_deleted, freed,
                c->tty && !done ? "" : "\n");
    else
        fprintf(stderr, "%sgc: uploads: %llu checked, %llu deleted, %s freed%s", c->tty ? "\r" : "",
                (unsigned long long)c->st->uploads_seen, (unsigned long long)c->st->uploads, freed,
                c->tty && !done ? "" : "\n");
}

static int on_manifest(const char *repo, const char *digest, void *p)
{
    struct gc_ctx *c = p;
    c->st->manifests++;
    if (c->verbose) printf("manifest %s@%s\n", repo, digest);
    progress(c, "manifests", 0);
    return 0;
}

static int on_unlink(const char *repo, const char *digest, void *p)
{
    struct gc_ctx *c = p;
    c->st->unlinked++;
    if (c->verbose) printf("unlink %s@%s\n", repo, digest);
    progress(c, "manifests", 0);
    return 0;
}

/* What a reap's remove step works on. */
struct reap_ctx {
    struct gc_ctx *gc;
    const struct berth_digest *d;
    uint64_t size; /* the blob's size: 0 when the caller does not know it (read before the removal) */
};

/* Inside blob_reap's transaction: the bytes go (a blob already gone is fine). */
static enum berth_rc reap_remove(void *p, struct berth_err *err)
{
    struct reap_ctx *r = p;
    struct berth_blobstore *bs = r->gc->blobs;
    enum berth_rc rc;

    if (!r->size && bs->ops->stat(bs, r->d, &r->size, err) != BERTH_OK) r->size = 0;
    if (r->gc->rehearse) return BERTH_OK;
    rc = bs->ops->remove(bs, r->d, err);
    if (rc == BERTH_EBLOBUNKNOWN) {
        r->size = 0; /* gone already: nothing freed */
        return BERTH_OK;
    }
    return rc;
}

/*
 * Deletes blob d unless something uses it, deciding and removing in one
 * metadata transaction that no push or mount of d can interleave with;
 * queued: d's entry in the review queue is taken (or another gc has it).
 */
static void reap(struct gc_ctx *c, const struct berth_digest *d, uint64_t size, int queued)
{
    struct berth_err err = BERTH_ERR_INIT;
    struct reap_ctx r = {c, d, size};
    int reaped = 0;

    if (c->meta->content->blob_reap(c->meta, d, c->dry_run, queued, reap_remove, &r, &reaped, &err) != BERTH_OK) {
        fprintf(stderr, "berth: gc: %s\n", berth_err_msg(&err));
        c->st->failed = 1;
        return;
    }
    if (!reaped) return;
    if (c->rehearse) { /* their files stay: the walk over the store must not count them again */
        if (c->ngone == c->capgone) {
            c->capgone = c->capgone ? 2 * c->capgone : 256;
            c->gone = berth_xrealloc(c->gone, c->capgone * sizeof(*c->gone));
        }
        snprintf(c->gone[c->ngone++], sizeof(*c->gone), "%s", d->s);
    }
    c->st->blobs_deleted++;
    c->st->bytes_freed += r.size;
    if (c->verbose) printf("blob %s %llu\n", d->s, (unsigned long long)r.size);
}

/* One page of due blob entries. */
struct due_page {
    struct berth_meta_gc_entry e[GC_PAGE];
    int n;
};

static int add_due(const struct berth_meta_gc_entry *e, void *p)
{
    struct due_page *pg = p;
    pg->e[pg->n++] = *e;
    return 0;
}

/*
 * Calls fn for each blob entry of the review queue due by due, after *from
 * in review order, in pages of GC_PAGE (at most max_pages of them).
 */
static enum berth_rc each_queued_blob(struct gc_ctx *c, int64_t due, const struct berth_meta_gc_entry *from,
                                      int max_pages, void (*fn)(struct gc_ctx *, const struct berth_digest *),
                                      struct berth_err *err)
{
    struct due_page *pg = berth_xcalloc(1, sizeof(*pg));
    struct berth_meta_gc_entry last = *from;
    enum berth_rc rc = BERTH_OK;
    int i, pages = 0;

    do {
        pg->n = 0;
        rc = c->meta->content->gc_blobs_due(c->meta, due, &last, GC_PAGE, add_due, pg, err);
        if (rc) break;
        for (i = 0; i < pg->n; i++) {
            struct berth_digest d;
            struct berth_err perr = BERTH_ERR_INIT;
            if (berth_digest_parse(pg->e[i].digest, strlen(pg->e[i].digest), &d, &perr) == BERTH_OK) fn(c, &d);
        }
        if (pg->n) last = pg->e[pg->n - 1];
    } while (pg->n == GC_PAGE && ++pages < max_pages);
    free(pg);
    return rc;
}

static void reap_one(struct gc_ctx *c, const struct berth_digest *d)
{
    c->st->seen++;
    progress(c, "blobs", 0);
    reap(c, d, 0, 1);
}

/*
 * The blobs the review queue holds (their last link or reference went, in
 * this run or before, by the cutoff): each is decided by a reap.
 */
static enum berth_rc reap_queued(struct gc_ctx *c, struct berth_err *err)
{
    struct berth_meta_gc_entry first;

    memset(&first, 0, sizeof(first));
    first.review_ms = first.repo_id = -1;
    /* what was unlinked within the grace waits */
    return each_queued_blob(c, c->cutoff_ms - 1, &first, INT_MAX, reap_one, err);
}

static int gone_cmp(const void *a, const void *b)
{
    return strcmp(a, b);
}

/* A blob file older than the grace that nothing uses: one no record names (a crash, an old store). */
static int sweep_blob(const struct berth_digest *d, uint64_t size, int64_t mtime_s, void *p)
{
    struct gc_ctx *c = p;
    struct berth_err err = BERTH_ERR_INIT;
    int used = 1;

    c->st->seen++;
    progress(c, "blobs", 0);
    if (c->rehearse && c->ngone && bsearch(d->s, c->gone, c->ngone, sizeof(*c->gone), gone_cmp)) return 0;
    if (c->meta->content->blob_in_use(c->meta, d, &used, &err) != BERTH_OK) {
        fprintf(stderr, "berth: gc: %s\n", berth_err_msg(&err));
        c->st->failed = 1;
        return 1;
    }
    if (used) return 0;
    if (mtime_s * 1000 < c->cutoff_ms) {
        reap(c, d, size, 0);
    } else { /* a push between the store's rename and its commit, or one that crashed there: wait */
        c->st->kept_blobs++;
        c->st->kept_bytes += size;
    }
    return 0;
}

static int sweep_upload(const char *uuid, uint64_t size, int64_t mtime_s, void *p)
{
    struct gc_ctx *c = p;
    struct berth_err err = BERTH_ERR_INIT;
    char repo[BERTH_NAME_MAX + 1];
    int64_t created;
    enum berth_rc rc;

    c->st->uploads_seen++;
    progress(c, "uploads", 0);
    /*
     * Written to within upload-ttl: a live session, a monolithic push in
     * progress (no record), or a session whose record is being made. The
     * blob grace does not apply: a push in progress is not yet a blob.
     */
    if (mtime_s >= c->upload_cutoff_s) {
        c->st->open_uploads++;
        c->st->open_upload_bytes += size;
        return 0;
    }
    rc = c->meta->uploads->upload_get(c->meta, uuid, NULL, repo, sizeof(repo), &created, &err);
    if (rc != BERTH_OK && rc != BERTH_EUPLOADUNKNOWN) return 0;
    if (!c->dry_run) {
        if (rc == BERTH_OK) c->meta->uploads->upload_delete(c->meta, uuid, &err);
        if (!c->rehearse) c->blobs->ops->upload_remove(c->blobs, uuid, &err);
    }
    c->st->uploads++;
    c->st->bytes_freed += size;
    return 0;
}

struct lost_ctx {
    struct berth_meta *meta;
    struct berth_blobstore *blobs;
    int dry_run;
    uint64_t n;
};

static int forget_if_lost(const char *uuid, void *p)
{
    struct lost_ctx *c = p;
    struct berth_err err = BERTH_ERR_INIT;
    uint64_t size = 0;

    if (c->blobs->ops->upload_stat(c->blobs, uuid, &size, &err) == BERTH_OK) return 0;
    if (err.code != BERTH_EUPLOADUNKNOWN) return 0; /* unreadable is not gone */
    if (!c->dry_run && c->meta->uploads->upload_delete(c->meta, uuid, &err) != BERTH_OK) return 0;
    c->n++;
    return 0;
}

/*
 * A session's record is made after its file and ends with (or before) it,
 * so a record whose file is gone is stale: a crash, a power failure without
 * fsync, or someone's rm. The session could never continue.
 */
enum berth_rc berth_gc_forget_lost_uploads(struct berth_meta *meta, struct berth_blobstore *blobs, int dry_run,
                                           uint64_t *n, struct berth_err *err)
{
    struct lost_ctx c = {meta, blobs, dry_run, 0};
    enum berth_rc rc = meta->uploads->upload_list(meta, forget_if_lost, &c, err);
    *n = c.n;
    return rc;
}

#define GC_KEPT_PAGES 64 /* queued blobs inside the grace looked at, in pages of GC_PAGE */

static void note_kept(struct gc_ctx *c, const struct berth_digest *d)
{
    struct berth_err err = BERTH_ERR_INIT;
    uint64_t size = 0;
    int used = 1;

    if (c->meta->content->blob_in_use(c->meta, d, &used, &err) != BERTH_OK || used) return;
    c->st->kept_blobs++;
    if (c->blobs->ops->stat(c->blobs, d, &size, &err) == BERTH_OK) c->st->kept_bytes += size;
}

/* The queued blobs the grace period keeps that nothing references now, and their bytes. */
static enum berth_rc count_kept(struct gc_ctx *c, struct berth_err *err)
{
    struct berth_meta_gc_entry first;

    memset(&first, 0, sizeof(first));
    first.review_ms = c->cutoff_ms - 1; /* after every entry due by the cutoff */
    first.repo_id = INT64_MAX;
    return each_queued_blob(c, INT64_MAX, &first, GC_KEPT_PAGES, note_kept, err);
}

static enum berth_rc gc_run(struct berth_meta *meta, struct berth_blobstore *blobs, const struct berth_gc_opts *o,
                            int rehearse, struct berth_gc_stats *st, struct berth_err *err)
{
    struct gc_ctx c;
    uint64_t lost = 0;
    enum berth_rc rc;

    memset(&c, 0, sizeof(c));
    memset(st, 0, sizeof(*st));
    c.meta = meta;
    c.blobs = blobs;
    c.st = st;
    c.dry_run = rehearse ? 0 : o->dry_run;
    c.rehearse = rehearse;
    c.verbose = o->verbose;
    c.progress = o->progress;
    c.tty = o->tty;
    c.cutoff_ms = berth_now_ms() - o->grace_min * 60000;
    c.upload_cutoff_s = berth_now_s() - o->upload_ttl_s;
    rc = c.meta->content->gc(c.meta, c.cutoff_ms, c.dry_run, on_manifest, on_unlink, &c, err);
    if (rc) goto out;
    progress(&c, "manifests", 1);
    rc = reap_queued(&c, err);
    if (rc) goto out;
    if (c.ngone) qsort(c.gone, c.ngone, sizeof(*c.gone), gone_cmp);
    if (!o->online) rc = c.blobs->ops->list(c.blobs, sweep_blob, &c, err);
    if (rc) goto out;
    progress(&c, "blobs", 1);
    rc = c.blobs->ops->upload_list(c.blobs, sweep_upload, &c, err);
    if (rc) goto out;
    rc = berth_gc_forget_lost_uploads(c.meta, c.blobs, c.dry_run, &lost, err);
    if (rc) goto out;
    c.st->uploads += lost;
    progress(&c, "uploads", 1);
    if (!c.dry_run && !c.rehearse && !o->online) rc = c.blobs->ops->clean_temp(c.blobs, &c.st->temp_files, err);
    if (!rc) rc = c.meta->content->gc_waiting(c.meta, c.cutoff_ms - 1, &c.st->kept, err);
    /* offline, the walk over every blob file has counted them already */
    if (!rc && o->online) rc = count_kept(&c, err);
out:
    free(c.gone);
    return rc;
}

enum berth_rc berth_gc_run(struct berth_meta *meta, struct berth_blobstore *blobs, const struct berth_gc_opts *o,
                           struct berth_gc_stats *st, struct berth_err *err)
{
    return gc_run(meta, blobs, o, 0, st, err);
}

/* ---- a dry run that deletes in a copy (berth_gc_rehearse) ---- */

static void scratch_remove(const char *scratch)
{
    static const char *const tails[] = {"", "-journal", "-wal", "-shm"};
    char path[4096];
    size_t i;

    for (i = 0; i < sizeof(tails) / sizeof(tails[0]); i++) {
        snprintf(path, sizeof(path), "%s%s", scratch, tails[i]);
        unlink(path);
    }
}

enum berth_rc berth_gc_rehearse(const struct berth_meta_ops *mops, const char *dbpath, const char *scratch,
                                struct berth_blobstore *blobs, const struct berth_gc_opts *o,
                                struct berth_gc_stats *st, struct berth_err *err)
{
    struct berth_meta *copy = NULL;
    enum berth_rc rc;

    memset(st, 0, sizeof(*st));
    scratch_remove(scratch);
    rc = berth_meta_sqlite_snapshot(dbpath, scratch, err);
    if (!rc) rc = mops->open(scratch, &copy, err);
    if (!rc) rc = gc_run(copy, blobs, o, 1, st, err);
    if (copy) copy->ops->close(copy);
    scratch_remove(scratch);
    return rc;
}

static void kept_part(struct berth_buf *b, uint64_t n, const char *one, const char *many)
{
    if (!n) return;
    int first = !b->len || b->p[b->len - 1] == ' ';
    berth_buf_printf(b, "%s%llu %s", first ? "" : ", ", (unsigned long long)n, n == 1 ? one : many);
}

void berth_gc_kept_text(const struct berth_gc_stats *st, int64_t grace_min, char *out, size_t n)
{
    struct berth_buf b = BERTH_BUF_INIT(0);
    const struct berth_meta_gc_waiting *k = &st->kept;
    char size[32], when[40];

    if (k->manifests || k->links || k->blobs || st->kept_blobs) {
        berth_buf_printf(&b, "the %lld-minute grace period holds back ", (long long)grace_min);
        if (st->kept_blobs) {
            berth_human_size(st->kept_bytes, size, sizeof(size));
            kept_part(&b, st->kept_blobs, "blob nothing references", "blobs nothing references");
            berth_buf_printf(&b, " (%s)", size);
        }
        if (k->manifests || k->links || k->blobs) {
            berth_buf_puts(&b, st->kept_blobs ? "; queued for review: " : "what is queued for review: ");
            kept_part(&b, k->manifests, "manifest", "manifests");
            kept_part(&b, k->links, "repository link", "repository links");
            kept_part(&b, k->blobs, "blob", "blobs");
            berth_time_rfc3339((k->first_review_ms + grace_min * 60000) / 1000, when, sizeof(when));
            berth_buf_printf(&b, ", the first due at %s (what is still in use then stays)", when);
        }
    } else {
        berth_buf_puts(&b, "the grace period holds back nothing");
    }
    if (st->open_uploads) {
        berth_human_size(st->open_upload_bytes, size, sizeof(size));
        berth_buf_printf(&b, "; %llu upload session%s in use (%s)", (unsigned long long)st->open_uploads,
                         st->open_uploads == 1 ? "" : "s", size);
    }
    snprintf(out, n, "%s", berth_buf_str(&b));
    berth_buf_release(&b);
}

/* ---- the server's own gc (gc-interval) ---- */

struct berth_gc_worker {
    struct berth_meta *meta;
    struct berth_blobstore *blobs;
    struct berth_gc_opts opts;
    int64_t interval_s;
    pthread_t thread;
    pthread_mutex_t lock;
    pthread_cond_t wake;
    int stop;
};

/* One online pass; logged when it deleted anything or failed. */
static void worker_pass(struct berth_gc_worker *w)
{
    struct berth_err err = BERTH_ERR_INIT;
    struct berth_gc_stats st;
    int64_t t0 = berth_mono_us();
    enum berth_rc rc = berth_gc_run(w->meta, w->blobs, &w->opts, &st, &err);
    long long ms = (long long)(berth_mono_us() - t0) / 1000;

    if (rc || st.failed)
        BERTH_LOG(BERTH_LOG_ERROR, "msg=\"gc pass failed\" err=\"%s\"", rc ? berth_err_msg(&err) : "see above");
    else if (st.manifests || st.unlinked || st.blobs_deleted || st.uploads)
        BERTH_LOG(BERTH_LOG_INFO,
                  "msg=\"gc pass\" manifests=%llu links=%llu blobs=%llu uploads=%llu bytes_freed=%llu duration_ms=%lld "
                  "kept_blobs=%llu kept_bytes=%llu kept_manifests=%llu",
                  (unsigned long long)st.manifests, (unsigned long long)st.unlinked,
                  (unsigned long long)st.blobs_deleted, (unsigned long long)st.uploads,
                  (unsigned long long)st.bytes_freed, ms, (unsigned long long)st.kept_blobs,
                  (unsigned long long)st.kept_bytes, (unsigned long long)st.kept.manifests);
}

static void *worker_main(void *p)
{
    struct berth_gc_worker *w = p;
    struct timespec deadline;

    pthread_mutex_lock(&w->lock);
    while (!w->stop) {
        clock_gettime(CLOCK_REALTIME, &deadline);
        deadline.tv_sec += (time_t)w->interval_s;
        while (!w->stop && pthread_cond_timedwait(&w->wake, &w->lock, &deadline) != ETIMEDOUT) {}
        if (w->stop) break;
        pthread_mutex_unlock(&w->lock);
        worker_pass(w);
        pthread_mutex_lock(&w->lock);
    }
    pthread_mutex_unlock(&w->lock);
    return NULL;
}

enum berth_rc berth_gc_worker_start(struct berth_meta *meta, struct berth_blobstore *blobs, int64_t interval_s,
                                    int64_t grace_min, int64_t upload_ttl_s, struct berth_gc_worker **out,
                                    struct berth_err *err)
{
    struct berth_gc_worker *w = berth_xcalloc(1, sizeof(*w));
    int e;

    w->meta = meta;
    w->blobs = blobs;
    w->interval_s = interval_s;
    w->opts.grace_min = grace_min;
    w->opts.upload_ttl_s = upload_ttl_s;
    w->opts.online = 1;
    pthread_mutex_init(&w->lock, NULL);
    pthread_cond_init(&w->wake, NULL);
    e = pthread_create(&w->thread, NULL, worker_main, w);
    if (e) {
        pthread_cond_destroy(&w->wake);
        pthread_mutex_destroy(&w->lock);
        free(w);
        return berth_err_set(err, BERTH_EINTERNAL, "cannot start the gc thread: %s", strerror(e));
    }
    *out = w;
    return BERTH_OK;
}

void berth_gc_worker_stop(struct berth_gc_worker *w)
{
    if (!w) return;
    pthread_mutex_lock(&w->lock);
    w->stop = 1;
    pthread_cond_signal(&w->wake);
    pthread_mutex_unlock(&w->lock);
    pthread_join(w->thread, NULL);
    pthread_cond_destroy(&w->wake);
    pthread_mutex_destroy(&w->lock);
    free(w);
}
