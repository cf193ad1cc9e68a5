/*
 * api_blobs.c - GET/HEAD/DELETE /v2/<name>/blobs/<digest>: the blob must be
 * linked to the repository; bytes go out zero-copy from the store's fd
 * (sendfile), whole or as one Range (206/416).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "alloc.h"
#include "http_int.h"
#include "banned.h"

enum berth_rc api_blob_finish(struct berth_req *req, struct berth_err *err)
{
    struct berth_digest d;
    struct berth_meta *m = req->http->meta;
    struct berth_blobstore *bs = req->http->blobs;
    struct MHD_Response *resp = NULL;
    const char *range = berth_req_header(req, "Range");
    uint64_t size = 0, start = 0, end = 0;
    int fd = -1, status = 200;
    char hdr[BERTH_DIGEST_STR_MAX + 32];
    enum berth_rc rc;

    rc = berth_digest_parse(req->param, strlen(req->param), &d, err);
    if (rc) goto out;
    rc = m->content->blob_linked(m, req->registry_id, req->name, &d, NULL, err);
    if (rc) goto out;
    rc = bs->ops->open_read(bs, &d, &fd, &size, err);
    if (rc == BERTH_EBLOBUNKNOWN)
        berth_err_set(err, rc, "blob %s is linked to '%s' but missing from the store", d.s, req->name);
    if (rc) goto out;
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
        close(fd);
        fd = -1;
        resp = MHD_create_response_from_buffer(0, NULL, MHD_RESPMEM_PERSISTENT);
    } else {
        resp = MHD_create_response_from_fd_at_offset64(end - start + 1, fd, start);
        if (!resp) {
            rc = berth_err_set(err, BERTH_EINTERNAL, "cannot create a response for %s", d.s);
            goto out;
        }
        fd = -1; /* the response owns it now */
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
