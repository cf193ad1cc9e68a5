/*
 * api_uploads.c - blob uploads: POST (session, monolithic ?digest=, mount),
 * PATCH (streamed or Content-Range chunks), PUT ?digest= (final chunk and
 * commit), GET (status) and DELETE (cancel). Bytes are hashed as they
 * arrive; a blob becomes visible only after its digest is verified.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "alloc.h"
#include "log.h"
#include "util.h"
#include "http_int.h"
#include "uploads.h"
#include "banned.h"

#define UP_STATE_MAGIC 0x55504c44u /* "UPLD" */

struct up_state {
    uint32_t magic;
    struct upload_session *s;
    int transient;   /* monolithic POST: session outside the table and meta */
    struct berth_upload_writer *w; /* the session's bytes, open for this request */
    int has_digest;
    struct berth_digest want;
    int ended;       /* the session was committed or removed */
};

static void add_upload_headers(struct berth_req *req, const char *uuid, uint64_t size)
{
    char range[64];
    req_add_location(req, "/v2/%s/blobs/uploads/%s", req->name, uuid);
    berth_req_add_header(req, "Docker-Upload-UUID", uuid);
    snprintf(range, sizeof(range), "0-%llu", (unsigned long long)(size ? size - 1 : 0));
    berth_req_add_header(req, "Range", range);
}

static struct up_state *state_new(struct berth_req *req)
{
    struct up_state *st = berth_xcalloc(1, sizeof(*st));
    st->magic = UP_STATE_MAGIC;
    req->state = st;
    return st;
}

static enum berth_rc parse_digest_arg(struct berth_req *req, struct up_state *st, int required, struct berth_err *err)
{
    const char *ds = req_query(req, "digest");
    if (!ds || !*ds) {
        if (required) return berth_err_set(err, BERTH_EDIGEST, "the digest query parameter is required");
        return BERTH_OK;
    }
    st->has_digest = 1;
    return berth_digest_parse(ds, strlen(ds), &st->want, err);
}

/* Checks the whole blob fits the configured cap. */
static enum berth_rc check_cap(struct berth_req *req, uint64_t have, struct berth_err *err)
{
    int64_t max = BERTH_CFG_LIVE(req->http->cfg, blob_max);
    uint64_t more = req->content_length > 0 ? (uint64_t)req->content_length : 0;
    if (have + more > (uint64_t)max)
        return berth_err_set(err, BERTH_ETOOBIG, "blob would be larger than the %lld bytes allowed", (long long)max);
    return BERTH_OK;
}

/* Tries to satisfy ?mount=; returns BERTH_OK with *mounted set, or an error. */
static enum berth_rc try_mount(struct berth_req *req, const char *ms, int *mounted, struct berth_err *err);

enum berth_rc api_upload_post_begin(struct berth_req *req, struct berth_err *err)
{
    struct berth_http *h = req->http;
    struct up_state *st = state_new(req);
    const char *ms = req_query(req, "mount");
    char uuid[37];
    int mounted = 0;
    enum berth_rc rc;

    if (ms && *ms) {
        rc = try_mount(req, ms, &mounted, err);
        if (rc || mounted) return rc;
    } else {
        rc = parse_digest_arg(req, st, 0, err);
        if (rc) return rc;
    }
    if (!st->has_digest) return BERTH_OK; /* a session is created at finish; any body is ignored */
    rc = check_cap(req, 0, err);
    if (rc) return rc;
    berth_uuid(uuid);
    st->transient = 1;
    st->s = upload_session_new(uuid, req->name);
    return h->blobs->ops->upload_create(h->blobs, uuid, &st->w, err);
}

enum berth_rc api_upload_chunk_body(struct berth_req *req, const char *data, size_t len, struct berth_err *err)
{
    struct up_state *st = req->state;
    struct upload_session *s;
    enum berth_rc rc;

    if (!st || !st->w || !st->s) return BERTH_OK; /* POST without ?digest=: body ignored */
    s = st->s;
    if (s->size + len > (uint64_t)BERTH_CFG_LIVE(req->http->cfg, blob_max))
        return berth_err_set(err, BERTH_ETOOBIG, "blob is larger than the %lld bytes allowed",
                             (long long)BERTH_CFG_LIVE(req->http->cfg, blob_max));
    rc = berth_upload_writer_append(st->w, data, len, err);
    if (rc) {
        struct berth_err terr = BERTH_ERR_INIT;
        /* cut back to what is hashed so the session stays consistent */
        berth_upload_writer_truncate(st->w, s->size, &terr);
        BERTH_LOG(BERTH_LOG_ERROR, "req=%s msg=\"upload write failed\" upload=%s err=\"%s\"", req->id, s->uuid,
                  berth_err_msg(err));
        return rc;
    }
    berth_hasher_update(&s->h, data, len);
    s->size += len;
    return BERTH_OK;
}

static enum berth_rc end_request(struct berth_req *req, struct up_state *st, struct berth_err *err);

/* What a claim's store step works on (see berth_meta_ops.blob_claim). */
struct store_claim {
    struct berth_blobstore *bs;
    struct berth_upload_writer *w; /* a push: the session to commit; a mount: NULL */
    const struct berth_digest *d;
    unsigned flags;   /* berth_upload_writer_commit's */
    int done;         /* the session was committed */
};

/* Inside a push's claim: the session's bytes become the blob (or are dropped if it is there). */
static enum berth_rc store_commit(void *p, struct berth_err *err)
{
    struct store_claim *c = p;
    enum berth_rc rc;
    uint64_t size;

    /*
     * The claim's transaction is run again after a serialization failure
     * (PostgreSQL): the bytes were committed by the first attempt and the
     * writer is spent, so they only need to be there still.
     */
    if (c->done) {
        rc = c->bs->ops->stat(c->bs, c->d, &size, err);
        if (rc == BERTH_EBLOBUNKNOWN)
            rc = berth_err_set(err, BERTH_EIO, "blob %s was removed while its push was being recorded: push it again",
                               c->d->s);
        return rc;
    }
    /* synced before the claim, and (sha256) verified by the session's hash */
    rc = berth_upload_writer_commit(c->w, c->d, c->flags, err);
    if (!rc) c->done = 1;
    return rc;
}

/* Inside a mount's claim: the bytes must be in the store, or there is nothing to mount. */
static enum berth_rc store_present(void *p, struct berth_err *err)
{
    struct store_claim *c = p;
    uint64_t size;
    return c->bs->ops->stat(c->bs, c->d, &size, err);
}

/* Ends a session whose bytes are not the digest asked for: its bytes and record go, nothing is visible. */
static void abandon(struct berth_req *req, struct up_state *st)
{
    struct berth_http *h = req->http;
    struct berth_err terr = BERTH_ERR_INIT;

    berth_upload_writer_close(st->w, NULL);
    st->w = NULL;
    h->blobs->ops->upload_remove(h->blobs, st->s->uuid, &terr);
    if (!st->transient) h->meta->uploads->upload_delete(h->meta, st->s->uuid, &terr);
    st->ended = 1;
    end_request(req, st, &terr);
}

/*
 * Verifies the session's bytes against st->want, then claims the blob: the
 * bytes are committed and the blob linked in one metadata transaction that gc
 * cannot interleave with (docs/internals/store.md, "gc and pushes").
 */
static enum berth_rc commit(struct berth_req *req, struct up_state *st, struct berth_err *err)
{
    struct berth_http *h = req->http;
    struct upload_session *s = st->s;
    struct store_claim sc = {0};
    struct berth_meta_claim cl = {0};
    struct berth_digest got;
    struct berth_err terr = BERTH_ERR_INIT;
    unsigned flags = BERTH_COMMIT_SYNCED;
    enum berth_rc rc;

    snprintf(req->ev_digest, sizeof(req->ev_digest), "%s", st->want.s);
    req->ev_size = (int64_t)s->size;
    if (!st->w) return berth_err_set(err, BERTH_EINTERNAL, "upload %s is not open", s->uuid);
    if (st->want.alg == BERTH_DIGEST_SHA256) {
        struct berth_hasher c;
        berth_hasher_copy(&c, &s->h);
        berth_hasher_final(&c, &got);
        berth_hasher_release(&c);
        if (!berth_digest_eq(&got, &st->want)) {
            abandon(req, st);
            return berth_err_set(err, BERTH_EDIGEST, "uploaded content has digest %s, not %s", got.s, st->want.s);
        }
        flags |= BERTH_COMMIT_VERIFIED;
    }
    /* rare: another algorithm (sha512); the store hashes the bytes as it commits them and refuses a mismatch */
    /* the data's fsync happens here, outside the claim's lock; the claim then only renames */
    rc = berth_upload_writer_sync(st->w, err);
    if (rc) return rc;
    sc.bs = h->blobs;
    sc.w = st->w;
    sc.d = &st->want;
    sc.flags = flags;
    cl.reg = req->registry_id;
    cl.repo = req->name;
    cl.digest = &st->want;
    cl.size = (int64_t)s->size;
    cl.upload = st->transient ? NULL : s->uuid;
    cl.store = store_commit;
    cl.ctx = &sc;
    rc = h->meta->content->blob_claim(h->meta, &cl, err);
    if (sc.done) st->ended = 1; /* the session's bytes are gone, even if the claim then failed */
    if (rc == BERTH_EDIGEST && !sc.done) {
        /* the store refused the bytes (sha512 above): the session cannot be finished */
        abandon(req, st);
        return rc;
    }
    if (rc) return rc;
    end_request(req, st, &terr);
    req_add_location(req, "/v2/%s/blobs/%s", req->name, st->want.s);
    berth_req_add_header(req, "Docker-Content-Digest", st->want.s);
    return req_respond_empty(req, 201);
}

/* Starts a recorded session and answers 202. */
static enum berth_rc new_session(struct berth_req *req, struct berth_err *err)
{
    struct berth_http *h = req->http;
    struct berth_upload_writer *w = NULL;
    char uuid[37], minlen[32], owner[96];
    enum berth_rc rc;

    berth_uuid(uuid);
    rc = h->blobs->ops->upload_create(h->blobs, uuid, &w, err);
    if (rc) return rc;
    berth_upload_writer_close(w, NULL);
    /* the client: its principal, or its address when it has none (an open registry) */
    if (req->caller.principal[0]) snprintf(owner, sizeof(owner), "%s", req->caller.principal);
    else snprintf(owner, sizeof(owner), "ip:%s", req->caller.ip);
    rc = h->meta->uploads->upload_put(h->meta, uuid, req->registry_id, req->name, owner, berth_now_ms(),
                                  BERTH_CFG_LIVE(h->cfg, upload_sessions_max), err);
    if (rc) {
        struct berth_err terr = BERTH_ERR_INIT;
        h->blobs->ops->upload_remove(h->blobs, uuid, &terr);
        return rc;
    }
    add_upload_headers(req, uuid, 0);
    if (BERTH_CFG_LIVE(h->cfg, chunk_min) > 0) {
        snprintf(minlen, sizeof(minlen), "%lld", (long long)BERTH_CFG_LIVE(h->cfg, chunk_min));
        berth_req_add_header(req, "OCI-Chunk-Min-Length", minlen);
    }
    return req_respond_empty(req, 202);
}

enum berth_rc api_upload_post_finish(struct berth_req *req, struct berth_err *err)
{
    struct up_state *st = req->state;
    if (st->transient) {
        if (req->content_length >= 0 && (uint64_t)req->content_length != st->s->size)
            return berth_err_set(err, BERTH_ESIZE, "body has %llu bytes, Content-Length said %lld",
                                 (unsigned long long)st->s->size, (long long)req->content_length);
        return commit(req, st, err);
    }
    return new_session(req, err);
}

struct mount_ctx {
    struct berth_req *req;
    char from[BERTH_NAME_MAX + 1];
};

/* Picks the first repository holding the blob that the caller may pull. */
static int pick_source(const char *repo, void *p)
{
    struct mount_ctx *c = p;
    struct berth_http *h = c->req->http;
    struct berth_err terr = BERTH_ERR_INIT;
    (void)terr;
    /* mount only from a repository the caller may pull now */
    if (h->cfg->auth && !authz_may(h->az, &c->req->caller, repo, BERTH_ACT_PULL)) return 0;
    snprintf(c->from, sizeof(c->from), "%s", repo);
    return 1;
}

static enum berth_rc try_mount(struct berth_req *req, const char *ms, int *mounted, struct berth_err *err)
{
    struct berth_http *h = req->http;
    struct mount_ctx c;
    struct berth_digest d;
    struct store_claim sc = {0};
    struct berth_meta_claim cl = {0};
    const char *from = req_query(req, "from");
    enum berth_rc rc;

    *mounted = 0;
    memset(&c, 0, sizeof(c));
    c.req = req;
    rc = berth_digest_parse(ms, strlen(ms), &d, err);
    if (rc) return rc;
    if (from && *from) {
        rc = berth_oci_name_check(from, strlen(from), err);
        if (rc) return rc;
        pick_source(from, &c);
    } else {
        rc = h->meta->content->blob_repos(h->meta, req->registry_id, &d, pick_source, &c, err);
        if (rc) return rc;
    }
    if (!c.from[0]) return BERTH_OK;
    sc.bs = h->blobs;
    sc.d = &d;
    cl.reg = req->registry_id;
    cl.repo = req->name;
    cl.digest = &d;
    cl.from = c.from;
    cl.store = store_present;
    cl.ctx = &sc;
    rc = h->meta->content->blob_claim(h->meta, &cl, err);
    /* unlinked from the source, or gone from the store: an upload session instead, as the spec says */
    if (rc == BERTH_EBLOBUNKNOWN) {
        berth_err_clear(err);
        return BERTH_OK;
    }
    if (rc) return rc;
    *mounted = 1;
    req_add_location(req, "/v2/%s/blobs/%s", req->name, d.s);
    berth_req_add_header(req, "Docker-Content-Digest", d.s);
    return req_respond_empty(req, 201);
}

enum berth_rc api_upload_chunk_begin(struct berth_req *req, struct berth_err *err)
{
    struct berth_http *h = req->http;
    struct up_state *st = state_new(req);
    const char *cr = berth_req_header(req, "Content-Range");
    struct berth_upload_state us = BERTH_UPLOAD_STATE_INIT;
    uint64_t start, end;
    enum berth_rc rc;

    if (req->method == M_PUT) {
        rc = parse_digest_arg(req, st, 1, err);
        if (rc) return rc;
    }
    rc = upload_acquire(h->uploads, h->meta, h->blobs, req->param, req->registry_id, req->name, &st->s, err);
    if (rc) return rc;
    if (cr && *cr) {
        rc = berth_content_range_parse(cr, strlen(cr), &start, &end, err);
        if (rc) return rc;
        if (start != st->s->size) {
            add_upload_headers(req, st->s->uuid, st->s->size);
            return berth_err_set(err, BERTH_EUPLOADRANGE, "chunk starts at byte %llu but the upload has %llu bytes",
                                 (unsigned long long)start, (unsigned long long)st->s->size);
        }
        if (req->content_length >= 0 && (uint64_t)req->content_length != end - start + 1)
            return berth_err_set(err, BERTH_ESIZE, "Content-Range %s is %llu bytes but Content-Length is %lld", cr,
                                 (unsigned long long)(end - start + 1), (long long)req->content_length);
    }
    rc = check_cap(req, st->s->size, err);
    if (rc) return rc;
    snprintf(us.id, sizeof(us.id), "%s", st->s->uuid);
    us.size = st->s->size;
    us.ext = st->s->store_ext; /* borrowed */
    return h->blobs->ops->upload_resume(h->blobs, &us, &st->w, err);
}

/*
 * Closes the request's writer; the store's resume data stays with the
 * session for its next request. BERTH_EIO when the store could not keep
 * every byte the session counts (a driver that buffers failed to write its
 * buffer): the session cannot continue, and its next request says so.
 */
static enum berth_rc close_writer(struct up_state *st, struct berth_err *err)
{
    struct berth_upload_state us = BERTH_UPLOAD_STATE_INIT;
    enum berth_rc rc = BERTH_OK;

    if (!st->w) return BERTH_OK;
    berth_upload_writer_close(st->w, &us);
    st->w = NULL;
    if (st->s && !st->transient && !st->ended) {
        free(st->s->store_ext);
        st->s->store_ext = us.ext;
        us.ext = NULL;
        if (us.size < st->s->size)
            rc = berth_err_set(err, BERTH_EIO, "upload %s: only %llu of its %llu bytes could be stored; start it again",
                               st->s->uuid, (unsigned long long)us.size, (unsigned long long)st->s->size);
    }
    berth_upload_state_release(&us);
    return rc;
}

/*
 * Gives the session back before the answer goes out: a client may send its
 * next request for this upload the moment it reads the answer, before this
 * request's completion callback has run.
 */
static enum berth_rc end_request(struct berth_req *req, struct up_state *st, struct berth_err *err)
{
    enum berth_rc rc = close_writer(st, err);
    enum berth_rc rrc;

    if (st->s && !st->transient) {
        rrc = upload_release(req->http->uploads, req->http->meta, st->s, st->ended, rc ? NULL : err);
        if (!rc) rc = rrc;
        st->s = NULL;
    }
    return rc;
}

enum berth_rc api_upload_patch_finish(struct berth_req *req, struct berth_err *err)
{
    struct up_state *st = req->state;
    char uuid[37];
    uint64_t size = st->s->size;
    enum berth_rc rc;

    snprintf(uuid, sizeof(uuid), "%s", st->s->uuid);
    /* the chunk counts once its state is saved: the next request may come to another server */
    rc = end_request(req, st, err);
    if (rc) return rc;
    add_upload_headers(req, uuid, size);
    return req_respond_empty(req, 202);
}

enum berth_rc api_upload_put_finish(struct berth_req *req, struct berth_err *err)
{
    return commit(req, req->state, err);
}

void api_upload_cleanup(struct berth_req *req, int aborted)
{
    struct up_state *st = req->state;
    struct berth_http *h = req->http;
    struct berth_err terr = BERTH_ERR_INIT;

    (void)aborted;
    if (!st) return;
    if (st->magic != UP_STATE_MAGIC) abort();
    close_writer(st, &terr);
    if (st->s && st->transient) {
        if (!st->ended) h->blobs->ops->upload_remove(h->blobs, st->s->uuid, &terr);
        upload_session_free(st->s);
    } else if (st->s) {
        upload_release(h->uploads, h->meta, st->s, st->ended, NULL);
    }
    free(st);
    req->state = NULL;
}

/*
 * The session req->param of this repository (in this registry), loaded into
 * *u (release it): its record and the state its last request saved.
 */
static enum berth_rc session_of(struct berth_req *req, struct berth_meta_upload *u, struct berth_err *err)
{
    struct berth_meta *m = req->http->meta;
    enum berth_rc rc;

    memset(u, 0, sizeof(*u));
    if (!berth_uuid_valid(req->param))
        return berth_err_set(err, BERTH_EUPLOADUNKNOWN, "upload '%.40s' is not a session id", req->param);
    rc = m->uploads->upload_load(m, req->param, u, err);
    if (!rc && (u->reg != req->registry_id || strcmp(u->repo, req->name) != 0))
        rc = berth_err_set(err, BERTH_EUPLOADUNKNOWN, "upload %s belongs to another repository", req->param);
    return rc;
}

enum berth_rc api_upload_status_finish(struct berth_req *req, struct berth_err *err)
{
    struct berth_blobstore *bs = req->http->blobs;
    struct berth_meta_upload u;
    uint64_t size;
    enum berth_rc rc;

    /* the bytes as of the session's last saved request, whichever server served it */
    rc = session_of(req, &u, err);
    size = u.size;
    if (!rc && u.hash_len == 0) /* never saved: the store's bytes are the session's */
        rc = bs->ops->upload_stat(bs, req->param, &size, err);
    berth_meta_upload_release(&u);
    if (rc) return rc;
    add_upload_headers(req, req->param, size);
    return req_respond_empty(req, 204);
}

enum berth_rc api_upload_delete_finish(struct berth_req *req, struct berth_err *err)
{
    struct berth_http *h = req->http;
    struct upload_session *s = NULL;
    struct berth_meta_upload u;
    struct berth_err terr = BERTH_ERR_INIT;
    enum berth_rc rc;

    rc = session_of(req, &u, err);
    berth_meta_upload_release(&u);
    if (rc) return rc;
    rc = upload_acquire(h->uploads, h->meta, h->blobs, req->param, req->registry_id, req->name, &s, err);
    if (rc && rc != BERTH_EUPLOADUNKNOWN && rc != BERTH_EIO) return rc;
    rc = h->meta->uploads->upload_delete(h->meta, req->param, err);
    h->blobs->ops->upload_remove(h->blobs, req->param, &terr);
    if (s) upload_release(h->uploads, h->meta, s, 1, NULL);
    if (rc) return rc;
    return req_respond_empty(req, 204);
}
