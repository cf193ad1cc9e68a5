/*
 * store.h - the blob store: content-addressed bytes shared by every
 * repository, behind an ops table: the filesystem driver ("fs") and the S3
 * driver ("s3", blobstore_s3.c; docs/internals/store.md).
 *
 * Bytes move through streams, never file descriptors, so that a driver over
 * an object store can implement every call: a committed blob is read through
 * a struct berth_blob_reader, an upload session is written through a
 * struct berth_upload_writer. A driver that has a file descriptor may hand it
 * out as an optional fast path (berth_blob_reader_take_fd, for sendfile).
 *
 * commit makes an upload visible under its digest atomically (fsync, rename,
 * fsync dir for the fs driver; a PUT or copy onto the digest's key for s3),
 * so a blob is either complete under its digest or absent. A driver object is safe to use from every thread at
 * once; a reader or a writer belongs to one thread at a time.
 */
#ifndef BERTH_STORE_H
#define BERTH_STORE_H

#include <stddef.h>
#include <stdint.h>
#include "err.h"
#include "oci.h"

#define BERTH_BLOBSTORE_MAGIC 0x424c4f42u    /* "BLOB" */
#define BERTH_BLOB_READER_MAGIC 0x42524452u  /* "BRDR" */
#define BERTH_UPLOAD_WRITER_MAGIC 0x55505752u /* "UPWR" */

struct berth_blobstore_opts {
    int fsync;     /* nonzero: fsync data and folders before commit returns */
    int no_create; /* open an existing store only (s3: a missing bucket is BERTH_ENOENT); fs ignores it */
};

struct berth_blobstore;

/* ---- reading a blob (or an upload's bytes) ---- */

struct berth_blob_reader;

/* A driver's reader; the callers go through the berth_blob_reader_* functions below. */
struct berth_blob_reader_ops {
    enum berth_rc (*read_at)(struct berth_blob_reader *r, uint64_t off, void *buf, size_t len, size_t *got,
                             struct berth_err *err);
    int (*take_fd)(struct berth_blob_reader *r); /* NULL: the driver has no fd to give */
    void (*close)(struct berth_blob_reader *r);
};

/* An open blob. Made by open_reader or upload_open_reader, freed by berth_blob_reader_close. */
struct berth_blob_reader {
    uint32_t magic; /* BERTH_BLOB_READER_MAGIC */
    const struct berth_blob_reader_ops *ops;
    uint64_t size;   /* the bytes this reader reads; fixed when it was opened */
    const char *url; /* NULL, or where a client may fetch the bytes itself (a presigned GET); owned by the reader */
};

/*
 * Reads up to len bytes at offset off into buf; *got is the count. *got is
 * below len only at the end of the bytes (0 at or past size). After
 * berth_blob_reader_take_fd the reader no longer reads (BERTH_EINVAL).
 */
enum berth_rc berth_blob_reader_read_at(struct berth_blob_reader *r, uint64_t off, void *buf, size_t len, size_t *got,
                                        struct berth_err *err);
/*
 * The optional fast path: an O_RDONLY fd positioned anywhere that reads the
 * same size bytes (pread/sendfile at an offset), which the caller now owns
 * and closes. -1 when the driver has none (an object store) or it was taken
 * already. The reader must still be closed.
 */
int berth_blob_reader_take_fd(struct berth_blob_reader *r);
/* Frees the reader and whatever it holds (NULL-safe). */
void berth_blob_reader_close(struct berth_blob_reader *r);

/* ---- writing an upload session ---- */

/*
 * What a later request needs to continue an upload: its id and the bytes it
 * holds. ext is the driver's own resume data (S3: the multipart upload id
 * and its part list), NULL for the fs driver; a malloc'd string owned by the
 * state. A driver must also resume from id and size alone (ext NULL, as
 * after a restart), finding its own data from the id.
 */
struct berth_upload_state {
    char id[37];
    uint64_t size;
    char *ext;
};

#define BERTH_UPLOAD_STATE_INIT {{0}, 0, NULL}

/* Frees state->ext (the struct itself is the caller's). */
void berth_upload_state_release(struct berth_upload_state *state);

#define BERTH_COMMIT_SYNCED 1u   /* the writer's sync ran after its last append: the data is not synced again */
#define BERTH_COMMIT_VERIFIED 2u /* the caller checked the bytes against the digest: commit does not read them */

struct berth_upload_writer;

/* A driver's writer; the callers go through the berth_upload_writer_* functions below. */
struct berth_upload_writer_ops {
    enum berth_rc (*append)(struct berth_upload_writer *w, const void *buf, size_t len, struct berth_err *err);
    enum berth_rc (*truncate)(struct berth_upload_writer *w, uint64_t len, struct berth_err *err);
    enum berth_rc (*sync)(struct berth_upload_writer *w, struct berth_err *err);
    enum berth_rc (*commit)(struct berth_upload_writer *w, const struct berth_digest *d, unsigned flags,
                            struct berth_err *err);
    void (*close)(struct berth_upload_writer *w, struct berth_upload_state *state);
};

/* An upload open for writing. Made by upload_create or upload_resume, freed by berth_upload_writer_close. */
struct berth_upload_writer {
    uint32_t magic; /* BERTH_UPLOAD_WRITER_MAGIC */
    const struct berth_upload_writer_ops *ops;
    char id[37];   /* the upload's id */
    uint64_t size; /* bytes the upload holds, counting every append that returned */
    int ended;     /* commit ran (successfully or not): the writer only closes now */
};

/*
 * Appends len bytes. On failure some of them may have been stored (size
 * says how many): berth_upload_writer_truncate cuts the upload back to the
 * bytes the caller accounted for.
 */
enum berth_rc berth_upload_writer_append(struct berth_upload_writer *w, const void *buf, size_t len,
                                         struct berth_err *err);
/* Cuts the upload back to len bytes (a failed chunk); never grows it (BERTH_EINVAL). */
enum berth_rc berth_upload_writer_truncate(struct berth_upload_writer *w, uint64_t len, struct berth_err *err);
/*
 * Makes the bytes appended so far durable (when opts.fsync is set), so that
 * a later commit has no data left to wait for. The server calls it before
 * it takes the metadata lock for a commit. Also makes them visible to
 * upload_open_reader (a driver may buffer appends).
 */
enum berth_rc berth_upload_writer_sync(struct berth_upload_writer *w, struct berth_err *err);
/*
 * Makes the upload's bytes the blob d and ends the upload; if d already
 * exists the upload is simply removed (content addressing). Durable when
 * opts.fsync is set. Unless flags hold BERTH_COMMIT_VERIFIED the driver
 * hashes the bytes again and refuses a mismatch with BERTH_EDIGEST, leaving
 * the upload as it was. BERTH_COMMIT_SYNCED: sync ran after the last append,
 * so the data's fsync is not repeated. Whatever it returns, the writer only
 * closes afterwards. The server calls it only inside the metadata's claim
 * of d (berth_meta_ops.blob_claim), so that gc cannot remove d between the
 * existence check and the link.
 */
enum berth_rc berth_upload_writer_commit(struct berth_upload_writer *w, const struct berth_digest *d, unsigned flags,
                                         struct berth_err *err);
/*
 * Frees the writer (NULL-safe). An upload not committed stays in the store.
 * state (may be NULL) receives what upload_resume needs to continue it; the
 * caller releases it with berth_upload_state_release.
 */
void berth_upload_writer_close(struct berth_upload_writer *w, struct berth_upload_state *state);

/* ---- the store ---- */

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
    /*
     * Opens a committed blob for reading; the caller closes *out with
     * berth_blob_reader_close. BERTH_EBLOBUNKNOWN when absent. A blob removed
     * while a reader is open stays readable through it (fs), or reads fail
     * with BERTH_EIO (a driver that cannot promise that).
     */
    enum berth_rc (*open_reader)(struct berth_blobstore *bs, const struct berth_digest *d,
                                 struct berth_blob_reader **out, struct berth_err *err);
    /*
     * Optional (NULL: use open_reader): opens a committed blob whose size the
     * caller already knows (the metadata's), without asking the store, for a
     * store where every question is a round trip (S3): a blob GET becomes a
     * presigned redirect and a HEAD costs the store nothing. A blob missing
     * from the store then fails on reading (or at the URL), not here.
     */
    enum berth_rc (*open_known)(struct berth_blobstore *bs, const struct berth_digest *d, uint64_t size,
                                struct berth_blob_reader **out, struct berth_err *err);
    /* Deletes a committed blob; BERTH_EBLOBUNKNOWN when absent. */
    enum berth_rc (*remove)(struct berth_blobstore *bs, const struct berth_digest *d, struct berth_err *err);
    /* Every committed blob, in no particular order. */
    enum berth_rc (*list)(struct berth_blobstore *bs, berth_blob_visit_fn fn, void *ctx, struct berth_err *err);

    /*
     * Creates upload `uuid`, empty, and opens it for writing; the caller
     * closes *out. BERTH_EEXIST if it exists. uuid must satisfy
     * berth_uuid_valid() (else BERTH_EUPLOADUNKNOWN).
     */
    enum berth_rc (*upload_create)(struct berth_blobstore *bs, const char *uuid, struct berth_upload_writer **out,
                                   struct berth_err *err);
    /*
     * Opens an existing upload to continue it at state->size (borrowed):
     * bytes stored beyond it (a chunk that failed half-way) are cut off. An
     * upload holding fewer bytes than state->size is BERTH_EIO; a missing
     * one BERTH_EUPLOADUNKNOWN.
     */
    enum berth_rc (*upload_resume)(struct berth_blobstore *bs, const struct berth_upload_state *state,
                                   struct berth_upload_writer **out, struct berth_err *err);
    /* Opens an upload's bytes for reading (to rebuild or redo a hash); BERTH_EUPLOADUNKNOWN when absent. */
    enum berth_rc (*upload_open_reader)(struct berth_blobstore *bs, const char *uuid, struct berth_blob_reader **out,
                                        struct berth_err *err);
    /*
     * Bytes an upload holds; BERTH_EUPLOADUNKNOWN when it does not exist.
     * s3: only what its tail object says (0 when it has none), a hint: the
     * size the caller recorded for the session is authoritative.
     */
    enum berth_rc (*upload_stat)(struct berth_blobstore *bs, const char *uuid, uint64_t *size, struct berth_err *err);
    /* Ends an upload and deletes its bytes; BERTH_EUPLOADUNKNOWN when absent. */
    enum berth_rc (*upload_remove)(struct berth_blobstore *bs, const char *uuid, struct berth_err *err);
    /* Every upload. */
    enum berth_rc (*upload_list)(struct berth_blobstore *bs, berth_upload_visit_fn fn, void *ctx,
                                 struct berth_err *err);
    /* Removes stray temp files left by a crash; *removed counts them (may be NULL). */
    enum berth_rc (*clean_temp)(struct berth_blobstore *bs, uint64_t *removed, struct berth_err *err);
    /*
     * Optional (NULL: no check): can the store be written and read right
     * now? fs creates and removes a temp file in its uploads folder; s3
     * PUTs, GETs and DELETEs a small object under health/. BERTH_EIO (or
     * BERTH_ECONFIG for refused credentials) with a message naming the place.
     */
    enum berth_rc (*check)(struct berth_blobstore *bs, struct berth_err *err);
    /*
     * Optional (NULL: never possible): makes blob d of `from` a blob of this
     * store without copying its bytes (fs: a hard link, its folder fsynced
     * with opts.fsync), atomically like a commit. BERTH_EUNSUPPORTED when it
     * cannot be done here (another driver, another file system), with
     * nothing changed; BERTH_EBLOBUNKNOWN when from lacks d. A blob this
     * store holds already is left as it is (BERTH_OK).
     */
    enum berth_rc (*link)(struct berth_blobstore *bs, struct berth_blobstore *from, const struct berth_digest *d,
                          struct berth_err *err);
};

/* Every driver's object starts with this. */
struct berth_blobstore {
    uint32_t magic; /* BERTH_BLOBSTORE_MAGIC */
    const struct berth_blobstore_ops *ops;
};

extern const struct berth_blobstore_ops berth_blobstore_fs_ops;
/*
 * The S3 driver: open's root is the store URL,
 * s3://BUCKET[/PREFIX]?endpoint=URL[&region=R][&redirect=0][&credentials=FILE][&part-size=SIZE],
 * credentials come from AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY
 * (AWS_SESSION_TOKEN) or an AWS credentials file, never from the URL.
 * Readers carry a presigned GET URL (unless redirect=0) and no fd. Upload
 * writers buffer in memory and send parts of a multipart upload; close
 * stores what is left as the upload's tail object and fills state->ext.
 * An upload's bytes cannot be read back through upload_open_reader once
 * parts were sent (BERTH_EIO), and a sync makes nothing new visible.
 */
extern const struct berth_blobstore_ops berth_blobstore_s3_ops;

/* Told how many bytes went into the writer, each time some did. */
typedef void (*berth_blob_bytes_fn)(uint64_t n, void *ctx);

/*
 * Streams every byte of rd into w (both borrowed), hashing them into h when
 * h is not NULL; buf (len bytes) is the caller's. A failed read is the
 * source's fault (*src_fault = 1), a failed append the writer's.
 */
enum berth_rc berth_blob_pour(struct berth_blob_reader *rd, struct berth_upload_writer *w, struct berth_hasher *h,
                              unsigned char *buf, size_t len, berth_blob_bytes_fn on_bytes, void *ctx, int *src_fault,
                              struct berth_err *err);

/* What berth_blobstore_copy did. */
struct berth_blob_copy {
    uint64_t size;           /* the bytes read from the source */
    struct berth_digest got; /* what they hashed to (set once they were all read) */
    int src_fault;           /* the failure was the source's: unreadable, or bytes of another digest */
};

/*
 * Copies blob d of src into dst (both borrowed) through an upload of dst
 * under a fresh id, hashing the bytes as they are read, and commits only
 * when they hash to d; without BERTH_COMMIT_VERIFIED in flags dst's commit
 * reads its copy back and checks it again. Bytes of another digest are
 * BERTH_EDIGEST naming what they hash to (src_fault set). On any failure
 * nothing is left in dst.
 */
enum berth_rc berth_blobstore_copy(struct berth_blobstore *src, struct berth_blobstore *dst,
                                   const struct berth_digest *d, unsigned flags, unsigned char *buf, size_t len,
                                   berth_blob_bytes_fn on_bytes, void *ctx, struct berth_blob_copy *out,
                                   struct berth_err *err);

/* Looks a driver up by name ("fs", "s3"); NULL if unknown. */
const struct berth_blobstore_ops *berth_blobstore_driver(const char *name);

/*
 * For drivers: d parsed again from its text into *check (the struct is
 * plain data that anyone can fill, and its text becomes a file name or a
 * key). BERTH_EDIGEST unless it is a sha256 or sha512 digest whose text
 * agrees with d->alg.
 */
enum berth_rc berth_blobstore_digest_check(const struct berth_digest *d, struct berth_digest *check,
                                           struct berth_err *err);

#endif
