/*
 * migrate.h - berth migrate: copies a whole berth data set from one
 * deployment to another (SQLite and files in a data folder to PostgreSQL
 * and a shared blob store, and back). Each side is described as `berth
 * serve` describes itself: a data folder, a metadata store (empty: SQLite
 * in the folder) and a blob store (empty: files in the folder).
 *
 * The order keeps the target consistent at every moment: blobs first (a
 * blob appears only whole, under its digest, after its bytes hashed to it),
 * then the upload sessions in progress and the signing keys, then every
 * table of the metadata in one transaction that checks, before it commits,
 * that each blob it references is in the target store. A run stopped at
 * any point (kill -9 included) leaves no metadata behind, and the next run
 * skips what is there and finishes. The target's metadata must be empty,
 * or hold exactly the source's (an earlier run got as far as its commit).
 */
#ifndef BERTH_MIGRATE_H
#define BERTH_MIGRATE_H

#include <stddef.h>
#include <stdint.h>
#include "err.h"
#include "meta.h"
#include "oci.h"

/* One deployment. Strings are borrowed. */
struct berth_migrate_side {
    const char *data;  /* the data folder: the SQLite database, files of blobs, the signing keys */
    const char *meta;  /* NULL or "": SQLite at <data>/berth.db; else a PostgreSQL URI or key=value string */
    const char *store; /* NULL or "": files under <data>; else the blob store's URL */
};

enum berth_migrate_phase {
    BERTH_MIGRATE_BLOBS,   /* done/total: blobs; bytes/bytes_total: bytes to copy */
    BERTH_MIGRATE_UPLOADS, /* done/total: upload sessions in progress */
    BERTH_MIGRATE_META,    /* done/total: rows of table `table` */
    BERTH_MIGRATE_VERIFY,  /* done/total: rows read on both sides of table `table`, then blobs checked */
};

/* Where a run is; borrowed during the progress call. */
struct berth_migrate_progress {
    enum berth_migrate_phase phase;
    uint64_t done, total;
    uint64_t bytes, bytes_total; /* BLOBS: bytes copied so far, of the bytes of every blob to copy */
    int64_t elapsed_us;          /* since the phase began */
    const char *table;           /* META, VERIFY: the table at hand (NULL while checking blobs) */
    size_t table_index, tables;
};

/* Called as the run goes (often: throttle what is shown); final: the phase is over. */
typedef void (*berth_migrate_progress_fn)(const struct berth_migrate_progress *p, int final, void *ctx);

struct berth_migrate_opts {
    struct berth_migrate_side from, to;
    int dry_run; /* find out and count what would be copied; write nothing */
    int fsync;   /* the target store syncs each blob before it is committed */
    berth_migrate_progress_fn progress; /* may be NULL */
    void *ctx;
};

/* A source blob that was not copied, and why. */
struct berth_migrate_problem {
    struct berth_digest d;
    char why[200];
};

struct berth_migrate_stats {
    char *from_meta, *to_meta, *from_store, *to_store; /* what each side is, without passwords; malloc'd */
    uint64_t blobs;                          /* in the source store */
    uint64_t blobs_copied, bytes_copied;     /* (dry run: to copy) */
    uint64_t blobs_present, bytes_present;   /* in the target already, with the same size */
    uint64_t blobs_replaced;                 /* in the target with another size (damaged): copied again */
    uint64_t uploads_copied, uploads_present; /* upload sessions in progress (their bytes) */
    uint64_t leftovers_removed;              /* uploads in the target that nothing records: an interrupted run's */
    uint64_t keys_copied, keys_present;      /* signing key files */
    uint64_t files_copied;                   /* other files of the data folder (initial-owner-password) */
    int target_fresh;                        /* the target's metadata was empty (else: it held the source's already) */
    struct berth_meta_tables tables;         /* rows per table (copied, or to copy) */
    uint64_t rows;
    uint64_t refs_checked;                   /* referenced blobs found in the target with their size */
    int64_t blobs_us, meta_us, verify_us, total_us;
    struct berth_migrate_problem *problems;  /* source blobs not copied (corrupt, unreadable); malloc'd */
    size_t nproblems;
};

void berth_migrate_stats_release(struct berth_migrate_stats *st);

/*
 * Runs one migration (see the top of this file). Source blobs whose bytes
 * do not hash to their digest, or cannot be read, are skipped and listed in
 * st->problems, and the run goes on: the metadata is still copied if it
 * references none of them, but the caller must fail the run. A target whose
 * metadata holds other rows is refused with BERTH_EEXIST before anything is
 * written; a referenced blob missing from the target, or a table whose rows
 * differ after the copy, is BERTH_EDB. *st is filled as far as the run got.
 */
enum berth_rc berth_migrate_run(const struct berth_migrate_opts *o, struct berth_migrate_stats *st,
                                struct berth_err *err);

#endif
