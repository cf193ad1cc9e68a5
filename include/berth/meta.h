/*
 * meta.h - registry metadata behind an ops table (SQLite now, PostgreSQL
 * later): repositories, repository-to-blob links, manifests with their exact
 * payload, manifest references, tags, subjects (referrers) and upload
 * sessions. Every multi-row change is one transaction. A driver object is
 * safe to use from every thread at once.
 */
#ifndef BERTH_META_H
#define BERTH_META_H

#include <stddef.h>
#include <stdint.h>
#include "berth/buf.h"
#include "berth/err.h"
#include "berth/oci.h"

#define BERTH_META_MAGIC 0x4d455441u /* "META" */

struct berth_meta;

/* What manifest_put stores. Everything is borrowed. */
struct berth_meta_manifest {
    const char *repo;
    const struct berth_digest *digest; /* digest of payload */
    const char *media_type;
    const char *payload; /* exact bytes as pushed */
    size_t len;
    const char *artifact_type;    /* may be NULL */
    const char *annotations_json; /* may be NULL */
    const struct berth_digest *subject; /* may be NULL */
    const struct berth_digest *blobs;   /* must be linked to repo */
    size_t nblobs;
    const struct berth_digest *children; /* must be manifests in repo */
    size_t nchildren;
};

/* One referrer, as the referrers API lists it. Borrowed during the callback. */
struct berth_meta_referrer {
    const char *digest;
    const char *media_type;
    int64_t size;
    const char *artifact_type;    /* may be NULL */
    const char *annotations_json; /* may be NULL */
};

typedef int (*berth_meta_name_fn)(const char *name, void *ctx);       /* nonzero stops */
typedef int (*berth_meta_referrer_fn)(const struct berth_meta_referrer *r, void *ctx);
typedef int (*berth_meta_gc_fn)(const char *repo, const char *digest, void *ctx);

struct berth_meta_ops {
    const char *name;
    /* Opens (creating if needed) and migrates the store; dsn is a file path for SQLite. */
    enum berth_rc (*open)(const char *dsn, struct berth_meta **out, struct berth_err *err);
    void (*close)(struct berth_meta *m); /* NULL-safe */
    /* Checks the store answers (used by readiness and doctor). */
    enum berth_rc (*ping)(struct berth_meta *m, struct berth_err *err);

    /* BERTH_OK if the repository exists, else BERTH_ENAMEUNKNOWN. */
    enum berth_rc (*repo_exists)(struct berth_meta *m, const char *repo, struct berth_err *err);
    /*
     * Repositories sorted by name, those > last (last may be NULL), at most n;
     * *more set to 1 if further names exist.
     */
    enum berth_rc (*repo_list)(struct berth_meta *m, const char *last, int64_t n, berth_meta_name_fn fn,
                               void *ctx, int *more, struct berth_err *err);

    /* Links blob d (size bytes) to repo, creating repo; idempotent; renews its time. */
    enum berth_rc (*blob_link)(struct berth_meta *m, const char *repo, const struct berth_digest *d,
                               int64_t size, struct berth_err *err);
    /* BERTH_OK and *size if linked, else BERTH_EBLOBUNKNOWN. size may be NULL. */
    enum berth_rc (*blob_linked)(struct berth_meta *m, const char *repo, const struct berth_digest *d,
                                 int64_t *size, struct berth_err *err);
    enum berth_rc (*blob_unlink)(struct berth_meta *m, const char *repo, const struct berth_digest *d,
                                 struct berth_err *err);
    /* Calls fn for each repository the blob is linked to (sorted); stops when fn returns nonzero. */
    enum berth_rc (*blob_repos)(struct berth_meta *m, const struct berth_digest *d, berth_meta_name_fn fn,
                                void *ctx, struct berth_err *err);
    /* *used = 1 if any repository links d or any manifest references it. */
    enum berth_rc (*blob_in_use)(struct berth_meta *m, const struct berth_digest *d, int *used,
                                 struct berth_err *err);

    /*
     * Stores a manifest and, when tag != NULL, points the tag at it, in one
     * transaction; creates the repository. Every blob must be linked to the
     * repository and every child must be a manifest of it, else
     * BERTH_EMANIFESTBLOB naming the missing digest and nothing changes.
     * Re-putting the same digest is fine.
     */
    enum berth_rc (*manifest_put)(struct berth_meta *m, const struct berth_meta_manifest *mf, const char *tag,
                                  struct berth_err *err);
    /*
     * Looks up by ref (tag or digest). Fills payload (appended to), media type
     * (copied into media_type, size mtlen) and digest. Unknown repository:
     * BERTH_ENAMEUNKNOWN; unknown manifest or tag: BERTH_EMANIFESTUNKNOWN.
     * payload may be NULL to skip the bytes (HEAD); *len gets their length.
     */
    enum berth_rc (*manifest_get)(struct berth_meta *m, const char *repo, const struct berth_ref *ref,
                                  struct berth_buf *payload, size_t *len, char *media_type, size_t mtlen,
                                  struct berth_digest *digest, struct berth_err *err);
    /* Deletes a manifest and every tag on it. BERTH_EMANIFESTUNKNOWN if absent. */
    enum berth_rc (*manifest_delete)(struct berth_meta *m, const char *repo, const struct berth_digest *d,
                                     struct berth_err *err);
    /* Removes one tag. BERTH_EMANIFESTUNKNOWN if absent. */
    enum berth_rc (*tag_delete)(struct berth_meta *m, const char *repo, const char *tag, struct berth_err *err);
    /* Tags of repo sorted, > last, at most n; *more like repo_list. BERTH_ENAMEUNKNOWN if no repo. */
    enum berth_rc (*tag_list)(struct berth_meta *m, const char *repo, const char *last, int64_t n,
                              berth_meta_name_fn fn, void *ctx, int *more, struct berth_err *err);
    /* Manifests of repo whose subject is d, filtered by artifact_type when not NULL, sorted by digest. */
    enum berth_rc (*referrers)(struct berth_meta *m, const char *repo, const struct berth_digest *d,
                               const char *artifact_type, berth_meta_referrer_fn fn, void *ctx,
                               struct berth_err *err);

    /* Records upload session uuid for repo, started at created_ms. */
    enum berth_rc (*upload_put)(struct berth_meta *m, const char *uuid, const char *repo, int64_t created_ms,
                                struct berth_err *err);
    /* Fills repo (size repolen) and created_ms; BERTH_EUPLOADUNKNOWN if absent. */
    enum berth_rc (*upload_get)(struct berth_meta *m, const char *uuid, char *repo, size_t repolen,
                                int64_t *created_ms, struct berth_err *err);
    enum berth_rc (*upload_delete)(struct berth_meta *m, const char *uuid, struct berth_err *err);
    /* Every session, with uuid; fn's name argument is the uuid. */
    enum berth_rc (*upload_list)(struct berth_meta *m, berth_meta_name_fn fn, void *ctx, struct berth_err *err);

    /*
     * Garbage collection of metadata, one transaction: repeatedly deletes
     * manifests that have no tag, are no child of another manifest and whose
     * subject (if any) no longer exists, and that were stored before cutoff_ms;
     * then deletes repository-blob links that no manifest of that repository
     * references and that were made before cutoff_ms. Calls on_manifest and
     * on_unlink for each deletion (either may be NULL). dry_run: report only.
     */
    enum berth_rc (*gc)(struct berth_meta *m, int64_t cutoff_ms, int dry_run, berth_meta_gc_fn on_manifest,
                        berth_meta_gc_fn on_unlink, void *ctx, struct berth_err *err);
};

struct berth_meta {
    uint32_t magic; /* BERTH_META_MAGIC */
    const struct berth_meta_ops *ops;
};

extern const struct berth_meta_ops berth_meta_sqlite_ops;

/* Looks a driver up by name ("sqlite"); NULL if unknown. */
const struct berth_meta_ops *berth_meta_driver(const char *name);

#endif
