/*
 * blobstore.c - the blob store's driver table (looks a driver up by name)
 * and the driver-independent side of readers and upload writers: magic
 * checks, the "only closes after commit" rule, NULL-safe closes; and a
 * blob copied from one store into another.
 */
#include <stdlib.h>
#include <string.h>
#include "util.h"
#include "store.h"
#include "banned.h"

static const struct berth_blobstore_ops *const drivers[] = {
    &berth_blobstore_fs_ops,
    &berth_blobstore_s3_ops,
};

const struct berth_blobstore_ops *berth_blobstore_driver(const char *name)
{
    size_t i;

    if (!name) return NULL;
    for (i = 0; i < sizeof(drivers) / sizeof(drivers[0]); i++)
        if (strcmp(drivers[i]->name, name) == 0) return drivers[i];
    return NULL;
}

enum berth_rc berth_blobstore_digest_check(const struct berth_digest *d, struct berth_digest *check,
                                           struct berth_err *err)
{
    enum berth_rc rc;

    if (!d) return berth_err_set(err, BERTH_EDIGEST, "no digest");
    if (d->alg != BERTH_DIGEST_SHA256 && d->alg != BERTH_DIGEST_SHA512)
        return berth_err_set(err, BERTH_EDIGEST, "unsupported digest algorithm %d", (int)d->alg);
    rc = berth_digest_parse(d->s, strnlen(d->s, sizeof(d->s)), check, err);
    if (rc) return rc;
    if (check->alg != d->alg)
        return berth_err_set(err, BERTH_EDIGEST, "digest %s is not %s", check->s, berth_digest_alg_name(d->alg));
    return BERTH_OK;
}

/* A freed reader or writer, or garbage, is a programming error. */
static struct berth_blob_reader *reader_of(struct berth_blob_reader *r)
{
    if (!r || r->magic != BERTH_BLOB_READER_MAGIC || !r->ops) abort();
    return r;
}

static struct berth_upload_writer *writer_of(struct berth_upload_writer *w)
{
    if (!w || w->magic != BERTH_UPLOAD_WRITER_MAGIC || !w->ops) abort();
    return w;
}

enum berth_rc berth_blob_reader_read_at(struct berth_blob_reader *r, uint64_t off, void *buf, size_t len, size_t *got,
                                        struct berth_err *err)
{
    reader_of(r);
    *got = 0;
    if (off >= r->size || len == 0) return BERTH_OK;
    if (len > r->size - off) len = (size_t)(r->size - off);
    return r->ops->read_at(r, off, buf, len, got, err);
}

int berth_blob_reader_take_fd(struct berth_blob_reader *r)
{
    reader_of(r);
    if (!r->ops->take_fd) return -1;
    return r->ops->take_fd(r);
}

void berth_blob_reader_close(struct berth_blob_reader *r)
{
    if (!r) return;
    reader_of(r)->ops->close(r);
}

void berth_upload_state_release(struct berth_upload_state *state)
{
    if (!state) return;
    free(state->ext);
    state->ext = NULL;
}

/* After commit a writer's upload is gone (or was refused): it only closes. */
static enum berth_rc check_open(struct berth_upload_writer *w, struct berth_err *err)
{
    writer_of(w);
    if (w->ended) return berth_err_set(err, BERTH_EINVAL, "upload %s was committed already", w->id);
    return BERTH_OK;
}

enum berth_rc berth_upload_writer_append(struct berth_upload_writer *w, const void *buf, size_t len,
                                         struct berth_err *err)
{
    enum berth_rc rc = check_open(w, err);

    if (rc || len == 0) return rc;
    return w->ops->append(w, buf, len, err);
}

enum berth_rc berth_upload_writer_truncate(struct berth_upload_writer *w, uint64_t len, struct berth_err *err)
{
    enum berth_rc rc = check_open(w, err);

    if (rc) return rc;
    /* Growing would invent zero bytes the client never sent. */
    if (len > w->size)
        return berth_err_set(err, BERTH_EINVAL, "cannot grow upload %s from %llu to %llu bytes", w->id,
                             (unsigned long long)w->size, (unsigned long long)len);
    return w->ops->truncate(w, len, err);
}

enum berth_rc berth_upload_writer_sync(struct berth_upload_writer *w, struct berth_err *err)
{
    enum berth_rc rc = check_open(w, err);

    if (rc) return rc;
    return w->ops->sync(w, err);
}

enum berth_rc berth_upload_writer_commit(struct berth_upload_writer *w, const struct berth_digest *d, unsigned flags,
                                         struct berth_err *err)
{
    enum berth_rc rc = check_open(w, err);

    if (rc) return rc;
    rc = w->ops->commit(w, d, flags, err);
    w->ended = 1;
    return rc;
}

void berth_upload_writer_close(struct berth_upload_writer *w, struct berth_upload_state *state)
{
    if (state) {
        memset(state->id, 0, sizeof(state->id));
        state->size = 0;
        state->ext = NULL;
    }
    if (!w) return;
    writer_of(w)->ops->close(w, state);
}

/* ---- a blob from one store into another (berth migrate, backup, restore) ---- */

enum berth_rc berth_blob_pour(struct berth_blob_reader *rd, struct berth_upload_writer *w, struct berth_hasher *h,
                              unsigned char *buf, size_t len, berth_blob_bytes_fn on_bytes, void *ctx, int *src_fault,
                              struct berth_err *err)
{
    uint64_t off = 0;
    size_t got = 0;
    enum berth_rc rc;

    *src_fault = 0;
    while (off < rd->size) {
        rc = berth_blob_reader_read_at(rd, off, buf, len, &got, err);
        if (!rc && got == 0) rc = berth_err_set(err, BERTH_EIO, "ends after %llu of %llu bytes",
                                                (unsigned long long)off, (unsigned long long)rd->size);
        if (rc) {
            *src_fault = 1;
            return rc;
        }
        if (h) berth_hasher_update(h, buf, got);
        rc = berth_upload_writer_append(w, buf, got, err);
        if (rc) return rc;
        off += got;
        if (on_bytes) on_bytes(got, ctx);
    }
    return BERTH_OK;
}

enum berth_rc berth_blobstore_copy(struct berth_blobstore *src, struct berth_blobstore *dst,
                                   const struct berth_digest *d, unsigned flags, unsigned char *buf, size_t len,
                                   berth_blob_bytes_fn on_bytes, void *ctx, struct berth_blob_copy *out,
                                   struct berth_err *err)
{
    struct berth_blob_reader *rd = NULL;
    struct berth_upload_writer *w = NULL;
    struct berth_err lerr = BERTH_ERR_INIT;
    struct berth_hasher h;
    enum berth_rc rc;
    char id[37];
    int hashing = 0, committed = 0;

    memset(out, 0, sizeof(*out));
    rc = src->ops->open_reader(src, d, &rd, err);
    if (rc) {
        out->src_fault = 1;
        goto out;
    }
    out->size = rd->size;
    berth_uuid(id);
    rc = dst->ops->upload_create(dst, id, &w, err);
    if (rc) goto out;
    berth_hasher_init(&h, d->alg);
    hashing = 1;
    rc = berth_blob_pour(rd, w, &h, buf, len, on_bytes, ctx, &out->src_fault, err);
    if (rc) goto out;
    berth_hasher_final(&h, &out->got);
    if (strcmp(out->got.s, d->s) != 0) {
        out->src_fault = 1;
        rc = berth_err_set(err, BERTH_EDIGEST, "blob %s is corrupt: its %llu bytes hash to %s", d->s,
                           (unsigned long long)rd->size, out->got.s);
        goto out;
    }
    rc = berth_upload_writer_commit(w, d, flags, err);
    committed = !rc;
out:
    if (hashing) berth_hasher_release(&h);
    if (w) {
        berth_upload_writer_close(w, NULL);
        if (!committed) dst->ops->upload_remove(dst, id, &lerr); /* a writer's failure may leave its bytes */
    }
    berth_blob_reader_close(rd);
    return rc;
}
