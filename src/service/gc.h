/*
 * gc.h - garbage collection of a data folder: manifests and blobs that
 * nothing references, expired upload sessions (and records of sessions whose
 * bytes are gone) and stray temp files. Used by `berth gc` and by serve's
 * start. Safe to run while a server runs on the same folder (see gc.c).
 */
#ifndef BERTH_GC_H
#define BERTH_GC_H

#include <stdint.h>
#include "err.h"
#include "meta.h"
#include "store.h"

struct berth_gc_opts {
    int64_t grace_min;     /* nothing linked or written in the last grace_min minutes is touched */
    int64_t upload_ttl_s;  /* upload sessions idle longer than this go */
    int dry_run;           /* count what would go, delete nothing */
    int verbose;           /* one line on stdout per manifest, link and blob deleted */
    int progress;          /* progress lines on stderr */
    int tty;               /* stderr is a terminal: progress rewrites one line */
    /*
     * the pass a server runs by itself (gc-interval): the review queue and
     * idle uploads only, no walk over every stored blob, no temp files
     */
    int online;
};

struct berth_gc_stats {
    uint64_t manifests, unlinked, blobs_deleted, bytes_freed, uploads, seen, uploads_seen, temp_files;
    int failed; /* some blob could not be checked or deleted (reported on stderr); the sweep went on */
    /*
     * What the grace period kept: the review queue's entries not due yet
     * (kept: by kind; the first due at kept.first_review_ms + the grace);
     * among the queued blobs and the blob files no record names (offline
     * runs), those nothing references and their bytes; upload sessions
     * written to within upload-ttl.
     */
    struct berth_meta_gc_waiting kept;
    uint64_t kept_blobs, kept_bytes, open_uploads, open_upload_bytes;
};

/*
 * One sweep over meta and blobs (both borrowed): unreferenced manifests,
 * unused blobs, expired and lost upload sessions, temp files (not on a dry
 * run). *st gets the counts, also when an error stops the sweep part way.
 */
enum berth_rc berth_gc_run(struct berth_meta *meta, struct berth_blobstore *blobs, const struct berth_gc_opts *o,
                           struct berth_gc_stats *st, struct berth_err *err);

/*
 * A dry run that counts exactly what berth_gc_run would delete, including
 * the blobs only the deleted manifests and links hold: a real run over a
 * snapshot of the SQLite database at dbpath (copied to scratch, removed
 * after) with blobs whose removals are only counted (its ops are swapped
 * for the run and put back). o->dry_run is ignored; nothing in the data
 * folder changes but scratch.
 */
enum berth_rc berth_gc_rehearse(const struct berth_meta_ops *mops, const char *dbpath, const char *scratch,
                                struct berth_blobstore *blobs, const struct berth_gc_opts *o,
                                struct berth_gc_stats *st, struct berth_err *err);

/*
 * What the grace period and upload-ttl kept, as one line of text into out
 * (size n): "kept by the 60-minute grace period: 3 blobs nothing references
 * (5.0 KiB), 1 untagged manifest; due for review from <time>; 1 upload
 * session in use (2.0 MiB)", or that nothing was kept.
 */
void berth_gc_kept_text(const struct berth_gc_stats *st, int64_t grace_min, char *out, size_t n);

/*
 * Forgets recorded upload sessions whose bytes are gone from the store (gc,
 * serve's start); *n counts them. dry_run: counts only.
 */
enum berth_rc berth_gc_forget_lost_uploads(struct berth_meta *meta, struct berth_blobstore *blobs, int dry_run,
                                           uint64_t *n, struct berth_err *err);

/* The server's own gc: a thread that runs an online pass every interval. */
struct berth_gc_worker;

/*
 * Starts the thread (meta and blobs borrowed until stop): every interval_s
 * seconds one berth_gc_run with online set, grace_min and upload_ttl_s; a
 * pass that deletes anything or fails is logged.
 */
enum berth_rc berth_gc_worker_start(struct berth_meta *meta, struct berth_blobstore *blobs, int64_t interval_s,
                                    int64_t grace_min, int64_t upload_ttl_s, struct berth_gc_worker **out,
                                    struct berth_err *err);

/* Stops the thread (a pass in progress finishes first) and frees w. NULL-safe. */
void berth_gc_worker_stop(struct berth_gc_worker *w);

#endif
