/*
 * api_manifests.c - GET/HEAD/PUT/DELETE /v2/<name>/manifests/<reference>,
 * and DELETE /acr/v1/<name> (a repository with all its manifests and tags,
 * as ACR's `az acr repository delete` calls it). The pushed bytes are
 * validated, stored and served back byte for byte; the digest is computed
 * over exactly those bytes.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "alloc.h"
#include "log.h"
#include "http_int.h"
#include "banned.h"

#define MANIFEST_READ_MAX (64u * 1024 * 1024) /* serve what was stored under an older, larger cap */

struct put_state {
    struct berth_ref ref;
    struct berth_buf body;
};

static ssize_t no_body(void *cls, uint64_t pos, char *buf, size_t max)
{
    (void)cls;
    (void)pos;
    (void)buf;
    (void)max;
    return MHD_CONTENT_READER_END_WITH_ERROR;
}

/*
 * The reference of a GET, HEAD or DELETE. These name a manifest that exists,
 * and the distribution spec answers them 404 only (end-3; end-9 also lists
 * 400 and 405 for deletes a registry refuses): a reference no manifest can
 * have is as unknown as one no manifest has. PUT names a new one, so there a
 * bad tag or digest stays 400 TAG_INVALID or DIGEST_INVALID.
 */
static enum berth_rc existing_ref(const struct berth_req *req, struct berth_ref *ref, struct berth_err *err)
{
    struct berth_err why = BERTH_ERR_INIT;

    if (berth_ref_parse(req->param, strlen(req->param), ref, &why) == BERTH_OK) return BERTH_OK;
    return berth_err_set(err, BERTH_EMANIFESTUNKNOWN, "no manifest of '%s' is named '%.200s': %s", req->name,
                         req->param, berth_err_msg(&why));
}

enum berth_rc api_manifest_get_finish(struct berth_req *req, struct berth_err *err)
{
    struct berth_meta *m = req->http->meta;
    struct berth_buf payload = BERTH_BUF_INIT(MANIFEST_READ_MAX);
    struct berth_digest d;
    struct berth_ref ref;
    struct MHD_Response *resp;
    char mt[256];
    size_t len = 0;
    enum berth_rc rc;

    rc = existing_ref(req, &ref, err);
    if (rc) goto out;
    rc = m->content->manifest_get(m, req->registry_id, req->name, &ref, req->method == M_HEAD ? NULL : &payload, &len, mt,
                              sizeof(mt), &d, err);
    if (rc) goto out;
    if (req->method == M_HEAD) {
        resp = MHD_create_response_from_callback(len, 4096, no_body, NULL, NULL);
    } else {
        char *p = berth_buf_detach(&payload, &len);
        resp = MHD_create_response_from_buffer(len, p, MHD_RESPMEM_MUST_FREE);
        req->bytes_out = len;
    }
    MHD_add_response_header(resp, "Content-Type", mt);
    MHD_add_response_header(resp, "Docker-Content-Digest", d.s);
    snprintf(req->ev_digest, sizeof(req->ev_digest), "%s", d.s);
    snprintf(req->ev_media_type, sizeof(req->ev_media_type), "%.127s", mt);
    req->ev_size = (int64_t)len;
    {
        char etag[BERTH_DIGEST_STR_MAX + 2];
        snprintf(etag, sizeof(etag), "\"%s\"", d.s);
        MHD_add_response_header(resp, "ETag", etag);
    }
    rc = req_respond(req, 200, resp);
out:
    berth_buf_release(&payload);
    return rc;
}

enum berth_rc api_manifest_put_begin(struct berth_req *req, struct berth_err *err)
{
    struct put_state *st;
    int64_t max = BERTH_CFG_LIVE(req->http->cfg, manifest_max);
    enum berth_rc rc;

    if (req->content_length > max)
        return berth_err_set(err, BERTH_ETOOBIG, "manifest of %lld bytes is larger than the %lld bytes allowed",
                             (long long)req->content_length, (long long)max);
    st = berth_xcalloc(1, sizeof(*st));
    berth_buf_init(&st->body, (size_t)max);
    req->state = st;
    rc = berth_ref_parse(req->param, strlen(req->param), &st->ref, err);
    return rc;
}

enum berth_rc api_manifest_put_body(struct berth_req *req, const char *data, size_t len, struct berth_err *err)
{
    struct put_state *st = req->state;
    if (berth_buf_append(&st->body, data, len) == BERTH_ETOOBIG)
        return berth_err_set(err, BERTH_ETOOBIG, "manifest is larger than the %lld bytes allowed",
                             (long long)BERTH_CFG_LIVE(req->http->cfg, manifest_max));
    return BERTH_OK;
}

/*
 * An image's platform from its config blob, which the push has already
 * proven is in the repository: "" and "" when the manifest is no image, its
 * config is of another type or too large, or the blob cannot be read or
 * parsed. A platform is a description: it never fails a push.
 */
static void image_platform(struct berth_req *req, const struct berth_manifest *mf, char arch[BERTH_PLATFORM_MAX + 1],
                           char os[BERTH_PLATFORM_MAX + 1])
{
    struct berth_blobstore *bs = req->http->blobs;
    const struct berth_desc *c = mf->nblobs ? &mf->blobs[0] : NULL;
    struct berth_blob_reader *r = NULL;
    struct berth_err lerr = BERTH_ERR_INIT;
    char *buf;
    size_t got = 0;

    arch[0] = os[0] = '\0';
    if (mf->kind != BERTH_MANIFEST_IMAGE || !c || !berth_image_config_type(c->media_type) || c->size <= 0 ||
        c->size > BERTH_CONFIG_READ_MAX)
        return;
    if ((bs->ops->open_known ? bs->ops->open_known(bs, &c->digest, (uint64_t)c->size, &r, &lerr)
                             : bs->ops->open_reader(bs, &c->digest, &r, &lerr)) != BERTH_OK)
        return;
    buf = berth_xmalloc((size_t)c->size);
    if (berth_blob_reader_read_at(r, 0, buf, (size_t)c->size, &got, &lerr) == BERTH_OK && got == (size_t)c->size)
        berth_image_platform(buf, got, arch, os);
    else
        BERTH_LOG(BERTH_LOG_WARN, "req=%s msg=\"cannot read an image's config for its platform\" digest=%s err=\"%s\"",
                  req->id, c->digest.s, berth_err_msg(&lerr));
    free(buf);
    berth_blob_reader_close(r);
}

enum berth_rc api_manifest_put_finish(struct berth_req *req, struct berth_err *err)
{
    struct put_state *st = req->state;
    struct berth_meta *m = req->http->meta;
    struct berth_manifest *mf = NULL;
    struct berth_digest d, *blobs = NULL, *children = NULL;
    struct berth_meta_manifest row;
    const char *ctype = berth_req_header(req, "Content-Type");
    char arch[BERTH_PLATFORM_MAX + 1], os[BERTH_PLATFORM_MAX + 1];
    size_t i, nblobs = 0;
    enum berth_rc rc;

    if (req->content_length >= 0 && (uint64_t)req->content_length != st->body.len) {
        rc = berth_err_set(err, BERTH_ESIZE, "body has %zu bytes, Content-Length said %lld", st->body.len,
                           (long long)req->content_length);
        goto out;
    }
    berth_digest_of(st->ref.is_digest ? st->ref.digest.alg : BERTH_DIGEST_SHA256, st->body.p ? st->body.p : "",
                    st->body.len, &d);
    if (st->ref.is_digest && !berth_digest_eq(&d, &st->ref.digest)) {
        rc = berth_err_set(err, BERTH_EDIGEST, "manifest digest is %s, not %s as the URL says", d.s, st->ref.digest.s);
        goto out;
    }
    rc = berth_manifest_parse(berth_buf_str(&st->body), st->body.len, ctype, &mf, err);
    if (rc) goto out;
    blobs = berth_xcalloc(mf->nblobs + 1, sizeof(*blobs));
    for (i = 0; i < mf->nblobs; i++) {
        /* non-distributable layers live elsewhere and are never pushed */
        if (mf->blobs[i].media_type && (strstr(mf->blobs[i].media_type, ".foreign.") ||
                                        strstr(mf->blobs[i].media_type, ".nondistributable.")))
            continue;
        blobs[nblobs++] = mf->blobs[i].digest;
    }
    children = berth_xcalloc(mf->nchildren + 1, sizeof(*children));
    for (i = 0; i < mf->nchildren; i++) children[i] = mf->children[i].digest;
    memset(&row, 0, sizeof(row));
    row.reg = req->registry_id;
    row.repo = req->name;
    row.digest = &d;
    row.media_type = mf->media_type;
    row.payload = berth_buf_str(&st->body);
    row.len = st->body.len;
    row.artifact_type = mf->artifact_type;
    row.annotations_json = mf->annotations_json;
    row.subject = mf->has_subject ? &mf->subject.digest : NULL;
    row.blobs = blobs;
    row.nblobs = nblobs;
    row.children = children;
    row.nchildren = mf->nchildren;
    image_platform(req, mf, arch, os);
    row.architecture = arch;
    row.os = os;
    snprintf(req->ev_digest, sizeof(req->ev_digest), "%s", d.s);
    snprintf(req->ev_media_type, sizeof(req->ev_media_type), "%s", mf->media_type ? mf->media_type : "");
    snprintf(req->ev_artifact_type, sizeof(req->ev_artifact_type), "%s", mf->artifact_type ? mf->artifact_type : "");
    req->ev_size = (int64_t)st->body.len;
    rc = m->content->manifest_put(m, &row, st->ref.is_digest ? NULL : st->ref.tag, err);
    if (rc) goto out;
    req_add_location(req, "/v2/%s/manifests/%s", req->name, d.s);
    berth_req_add_header(req, "Docker-Content-Digest", d.s);
    if (mf->has_subject) berth_req_add_header(req, "OCI-Subject", mf->subject.digest.s);
    rc = req_respond_empty(req, 201);
out:
    free(blobs);
    free(children);
    berth_manifest_free(mf);
    return rc;
}

void api_manifest_put_cleanup(struct berth_req *req, int aborted)
{
    struct put_state *st = req->state;
    (void)aborted;
    if (!st) return;
    berth_buf_release(&st->body);
    free(st);
    req->state = NULL;
}

enum berth_rc api_manifest_delete_finish(struct berth_req *req, struct berth_err *err)
{
    struct berth_meta *m = req->http->meta;
    struct berth_ref ref;
    enum berth_rc rc;

    rc = existing_ref(req, &ref, err);
    if (rc) return rc;
    if (ref.is_digest) rc = m->content->manifest_delete(m, req->registry_id, req->name, &ref.digest, err);
    else rc = m->content->tag_delete(m, req->registry_id, req->name, ref.tag, err);
    if (rc) return rc;
    return req_respond_empty(req, 202);
}

/* The answer of a repository delete, filled as the store names what it deletes. */
struct repo_gone {
    struct berth_buf manifests, tags; /* JSON array members, comma-separated */
    size_t nmanifests, ntags;
};

static int gone_item(int is_tag, const char *name, void *ctx)
{
    struct repo_gone *g = ctx;
    struct berth_buf *b = is_tag ? &g->tags : &g->manifests;
    size_t *n = is_tag ? &g->ntags : &g->nmanifests;

    if ((*n)++) berth_buf_putc(b, ',');
    berth_buf_json_str(b, name, strlen(name));
    return 0;
}

/*
 * DELETE /acr/v1/<name>: the repository, its manifests, their tags and its
 * blob links, in one transaction (blob bytes are left to berth gc). 202 with
 * what was deleted, as ACR answers; 404 NAME_UNKNOWN when there is no such
 * repository.
 */
enum berth_rc api_repository_delete_finish(struct berth_req *req, struct berth_err *err)
{
    struct berth_meta *m = req->http->meta;
    struct repo_gone g = {BERTH_BUF_INIT(0), BERTH_BUF_INIT(0), 0, 0};
    struct berth_buf body = BERTH_BUF_INIT(0);
    enum berth_rc rc;

    rc = m->content->repo_delete(m, req->registry_id, req->name, gone_item, &g, err);
    if (rc) goto out;
    berth_buf_printf(&body, "{\"manifestsDeleted\":[%s],\"tagsDeleted\":[%s]}\n", berth_buf_str(&g.manifests),
                     berth_buf_str(&g.tags));
    rc = req_respond_json(req, 202, &body, "application/json");
out:
    berth_buf_release(&g.manifests);
    berth_buf_release(&g.tags);
    berth_buf_release(&body);
    return rc;
}
