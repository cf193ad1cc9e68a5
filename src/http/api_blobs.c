/*
 * api_blobs.c - GET/HEAD/DELETE /v2/<name>/blobs/<digest>: the blob must be
 * linked to the repository; bytes go out zero-copy from the store's fd
 * (sendfile) when the store has one, else through the reader, or the client
 * is sent to the store's own URL; whole or as one Range (206/416).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "alloc.h"
#include "log.h"
#include "http_int.h"
#include "banned.h"

#define READER_BLOCK (256u << 10) /* what one callback of a reader response fills */

/* A response over a reader: the range [start, start + len) of its bytes. */
struct blob_body {
    struct berth_blob_reader *r;
    uint64_t start;
};

static ssize_t blob_body_read(void *cls, uint64_t pos, char *buf, size_t max)
{
    struct blob_body *b = cls;
    struct berth_err err = BERTH_ERR_INIT;
    size_t got = 0;

    if (berth_blob_reader_read_at(b->r, b->start + pos, buf, max, &got, &err) != BERTH_OK) {
        BERTH_LOG(BERTH_LOG_ERROR, "msg=\"blob read failed\" err=\"%s\"", berth_err_msg(&err));
        return MHD_CONTENT_READER_END_WITH_ERROR;
    }
    if (got == 0) return MHD_CONTENT_READER_END_WITH_ERROR; /* shorter than its size said */
    return (ssize_t)got;
}

static void blob_body_free(void *cls)
{
    struct blob_body *b = cls;

    berth_blob_reader_close(b->r);
    free(b);
}

enum berth_rc api_blob_finish(struct berth_req *req, struct berth_err *err)
{
    struct berth_digest d;
    struct berth_meta *m = req->http->meta;
    struct berth_blobstore *bs = req->http->blobs;
    struct MHD_Response *resp = NULL;
    struct berth_blob_reader *r = NULL;
    struct blob_body *body;
    const char *range = berth_req_header(req, "Range");
    uint64_t size = 0, start = 0, end = 0;
    int64_t linked_size = -1;
    int fd = -1, status = 200;
    char hdr[BERTH_DIGEST_STR_MAX + 32];
    enum berth_rc rc;

    rc = berth_digest_parse(req->param, strlen(req->param), &d, err);
    if (rc) goto out;
    rc = m->content->blob_linked(m, req->registry_id, req->name, &d, &linked_size, err);
    if (rc) goto out;
    if (bs->ops->open_known && linked_size >= 0)
        rc = bs->ops->open_known(bs, &d, (uint64_t)linked_size, &r, err);
    else
        rc = bs->ops->open_reader(bs, &d, &r, err);
    if (rc == BERTH_EBLOBUNKNOWN)
        berth_err_set(err, rc, "blob %s is linked to '%s' but missing from the store", d.s, req->name);
    if (rc) goto out;
    if (r->url && req->method == M_GET) {
        /* the store serves the bytes itself (a presigned URL); the client repeats any Range there */
        berth_req_add_header(req, "Location", r->url);
        rc = req_respond_empty(req, 307);
        goto out;
    }
    size = r->size;
    if (range && size > 0) {
        rc = berth_range_parse(range, strlen(range), size, &start, &end, err);
        if (rc == BERTH_ERANGE) {
            snprintf(hdr, sizeof(hdr), "bytes */%llu", (unsigned long long)size);
            berth_req_add_header(req, "Content-Range", hdr);
            goto out;
        }
        if (rc) {
            rc = BERTH_OK; /* a malformed Range is ignored, as HTTP says */
            start = 0;
            end = size - 1;
        } else {
            status = 206;
            snprintf(hdr, sizeof(hdr), "bytes %llu-%llu/%llu", (unsigned long long)start, (unsigned long long)end,
                     (unsigned long long)size);
            berth_req_add_header(req, "Content-Range", hdr);
        }
    } else {
        end = size ? size - 1 : 0;
    }
    if (size == 0) {
        resp = MHD_create_response_from_buffer(0, NULL, MHD_RESPMEM_PERSISTENT);
    } else {
        fd = berth_blob_reader_take_fd(r);
        if (fd >= 0) { /* sendfile */
            resp = MHD_create_response_from_fd_at_offset64(end - start + 1, fd, start);
            if (resp) fd = -1; /* the response owns it now */
        } else {
            body = berth_xcalloc(1, sizeof(*body));
            body->r = r;
            body->start = start;
            resp = MHD_create_response_from_callback(end - start + 1, READER_BLOCK, blob_body_read, body,
                                                     blob_body_free);
            if (resp) r = NULL; /* the response owns it now */
            else free(body);
        }
        if (!resp) {
            rc = berth_err_set(err, BERTH_EINTERNAL, "cannot create a response for %s", d.s);
            goto out;
        }
        if (req->method == M_GET) req->bytes_out = end - start + 1;
    }
    MHD_add_response_header(resp, "Content-Type", "application/octet-stream");
    MHD_add_response_header(resp, "Docker-Content-Digest", d.s);
    MHD_add_response_header(resp, "Accept-Ranges", "bytes");
    MHD_add_response_header(resp, "Cache-Control", "max-age=31536000");
    snprintf(hdr, sizeof(hdr), "\"%s\"", d.s);
    MHD_add_response_header(resp, "ETag", hdr);
    rc = req_respond(req, status, resp);
out:
    if (fd >= 0) close(fd);
    berth_blob_reader_close(r);
    return rc;
}

enum berth_rc api_blob_delete_finish(struct berth_req *req, struct berth_err *err)
{
    struct berth_meta *m = req->http->meta;
    struct berth_digest d;
    enum berth_rc rc;

    rc = berth_digest_parse(req->param, strlen(req->param), &d, err);
    if (rc) return rc;
    rc = m->content->blob_unlink(m, req->registry_id, req->name, &d, err);
    if (rc) return rc;
    return req_respond_empty(req, 202);
}
