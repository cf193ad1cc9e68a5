/*
 * store.h - the blob store: content-addressed bytes shared by every
 * repository, behind an ops table (filesystem driver now, S3 later).
 *
 * Upload sessions are files the store owns; commit makes one visible under
 * its digest atomically (fsync, rename, fsync dir), so a blob is either
 * complete under its digest or absent. A driver object is safe to use from
 * every thread at once.
 */
#ifndef BERTH_STORE_H
#define BERTH_STORE_H

#include <stdint.h>
#include "err.h"
#include "oci.h"

#define BERTH_BLOBSTORE_MAGIC 0x424c4f42u /* "BLOB" */

struct berth_blobstore_opts {
    int fsync; /* nonzero: fsync data and folders before commit returns */
};

struct berth_blobstore;

#define BERTH_COMMIT_SYNCED 1u /* upload_commit: upload_sync ran after the session's last write */

/* Called per item by the list functions; a nonzero return stops the walk. */
typedef int (*berth_blob_visit_fn)(const struct berth_digest *d, uint64_t size, int64_t mtime_s, void *ctx);
typedef int (*berth_upload_visit_fn)(const char *uuid, uint64_t size, int64_t mtime_s, void *ctx);

struct berth_blobstore_ops {
    const char *name;
    /* Opens (creating if needed) the store at root. Removes stray temp files. */
    enum berth_rc (*open)(const char *root, const struct berth_blobstore_opts *opts,
                          struct berth_blobstore **out, struct berth_err *err);
    void (*close)(struct berth_blobstore *bs); /* NULL-safe */
    /* Size of a committed blob; BERTH_EBLOBUNKNOWN when absent. */
    enum berth_rc (*stat)(struct berth_blobstore *bs, const struct berth_digest *d, uint64_t *size,
                          struct berth_err *err);
    /* Opens a committed blob for reading; the caller closes *fd. BERTH_EBLOBUNKNOWN when absent. */
    enum berth_rc (*open_read)(struct berth_blobstore *bs, const struct berth_digest *d, int *fd,
                               uint64_t *size, struct berth_err *err);
    /* Deletes a committed blob; BERTH_EBLOBUNKNOWN when absent. */
    enum berth_rc (*remove)(struct berth_blobstore *bs, const struct berth_digest *d, struct berth_err *err);
    /* Every committed blob, in no particular order. */
    enum berth_rc (*list)(struct berth_blobstore *bs, berth_blob_visit_fn fn, void *ctx, struct berth_err *err);

    /*
     * Opens upload session `uuid` for appending (create != 0 creates it empty,
     * BERTH_EEXIST if it exists). *fd is writable, positioned at the end, and
     * the caller closes it; *size is its current length. Missing session:
     * BERTH_EUPLOADUNKNOWN. uuid must satisfy berth_uuid_valid().
     */
    enum berth_rc (*upload_open)(struct berth_blobstore *bs, const char *uuid, int create, int *fd,
                                 uint64_t *size, struct berth_err *err);
    /* Opens the session's bytes for reading (to rebuild a hash after restart). */
    enum berth_rc (*upload_open_read)(struct berth_blobstore *bs, const char *uuid, int *fd, uint64_t *size,
                                      struct berth_err *err);
    /* Cuts the session back to size bytes (after a failed write). */
    enum berth_rc (*upload_truncate)(struct berth_blobstore *bs, const char *uuid, uint64_t size,
                                     struct berth_err *err);
    /*
     * Makes the session's bytes durable (when opts.fsync is set), so that a
     * later upload_commit has no data left to wait for. Optional for callers;
     * the server calls it before it takes the metadata lock for a commit.
     */
    enum berth_rc (*upload_sync)(struct berth_blobstore *bs, const char *uuid, struct berth_err *err);
    /*
     * Makes the session's bytes the blob d (the caller has verified the
     * digest) and ends the session. If d already exists, the session is
     * simply removed. Durable when opts.fsync is set. flags may hold
     * BERTH_COMMIT_SYNCED: the caller ran upload_sync after its last write,
     * so the data's fsync is not repeated. The server calls it
     * only inside the metadata's claim of d (berth_meta_ops.blob_claim), so
     * that gc cannot remove d between this check and the link.
     */
    enum berth_rc (*upload_commit)(struct berth_blobstore *bs, const char *uuid, const struct berth_digest *d,
                                   unsigned flags, struct berth_err *err);
    /* Ends a session and deletes its bytes; BERTH_EUPLOADUNKNOWN when absent. */
    enum berth_rc (*upload_remove)(struct berth_blobstore *bs, const char *uuid, struct berth_err *err);
    /* Every upload session. */
    enum berth_rc (*upload_list)(struct berth_blobstore *bs, berth_upload_visit_fn fn, void *ctx,
                                 struct berth_err *err);
    /* Removes stray temp files left by a crash; *removed counts them (may be NULL). */
    enum berth_rc (*clean_temp)(struct berth_blobstore *bs, uint64_t *removed, struct berth_err *err);
};

/* Every driver's object starts with this. */
struct berth_blobstore {
    uint32_t magic; /* BERTH_BLOBSTORE_MAGIC */
    const struct berth_blobstore_ops *ops;
};

extern const struct berth_blobstore_ops berth_blobstore_fs_ops;

/* Looks a driver up by name ("fs"); NULL if unknown. */
const struct berth_blobstore_ops *berth_blobstore_driver(const char *name);

#endif
