/*
 * api_base.c - GET /v2/, the catalog and tag lists (with n/last pagination
 * and the Link header), and the referrers API.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "alloc.h"
#include "util.h"
#include "http_int.h"
#include "banned.h"

enum berth_rc api_base_finish(struct berth_req *req, struct berth_err *err)
{
    struct berth_buf b = BERTH_BUF_INIT(0);
    (void)err;
    berth_buf_puts(&b, "{}");
    return req_respond_json(req, 200, &b, "application/json");
}

/* Parses ?n= and ?last=; n defaults to the page cap and is clamped to it. */
enum berth_rc req_page_args(struct berth_req *req, int64_t *n, const char **last, struct berth_err *err)
{
    const char *ns = req_query(req, "n");
    int64_t cap = BERTH_CFG_LIVE(req->http->cfg, page_max);
    uint64_t v;

    *n = cap;
    *last = req_query(req, "last");
    if (*last && (!**last || strlen(*last) > BERTH_NAME_MAX)) *last = NULL;
    if (!ns) return BERTH_OK;
    if (berth_parse_u64(ns, strlen(ns), &v) != 0)
        return berth_err_set(err, BERTH_EUNSUPPORTED, "query parameter n must be a non-negative integer, not '%.40s'",
                             ns);
    *n = v > (uint64_t)cap ? cap : (int64_t)v;
    return BERTH_OK;
}

struct list_ctx {
    struct berth_buf *b;
    int count;
    char last[BERTH_NAME_MAX + 1]; /* last name listed */
    char seen[BERTH_NAME_MAX + 1]; /* last name the store returned */
    struct berth_req *filter;       /* catalog: list only what this caller may read */
};

static int list_add(const char *name, void *p)
{
    struct list_ctx *c = p;
    snprintf(c->seen, sizeof(c->seen), "%s", name);
    if (c->filter &&
        !authz_may(c->filter->http->az, &c->filter->caller, name, BERTH_ACT_PULL | BERTH_ACT_METADATA_READ))
        return 0;
    if (c->count++) berth_buf_putc(c->b, ',');
    berth_buf_json_str(c->b, name, strlen(name));
    snprintf(c->last, sizeof(c->last), "%s", name);
    return 0;
}

/* Percent-encodes s for a query value. */
static void url_encode(struct berth_buf *b, const char *s)
{
    static const char hex[] = "0123456789ABCDEF";
    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;
        if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' || c == '.' ||
            c == '_' || c == '~') {
            berth_buf_putc(b, (char)c);
        } else {
            char e[3] = {'%', hex[c >> 4], hex[c & 15]};
            berth_buf_append(b, e, 3);
        }
    }
}

void req_next_link(struct berth_req *req, const char *base, int64_t n, const char *last, const char *more_query)
{
    struct berth_buf l = BERTH_BUF_INIT(0);
    berth_buf_printf(&l, "<%s?n=%lld&last=", base, (long long)n);
    url_encode(&l, last);
    if (more_query) berth_buf_printf(&l, "&%s", more_query);
    berth_buf_puts(&l, ">; rel=\"next\"");
    berth_req_add_header(req, "Link", berth_buf_str(&l));
    berth_buf_release(&l);
}

#define CATALOG_ROUNDS 64

enum berth_rc api_catalog_finish(struct berth_req *req, struct berth_err *err)
{
    struct berth_buf b = BERTH_BUF_INIT(0);
    struct list_ctx c;
    struct berth_meta *m = req->http->meta;
    const char *last;
    char from[BERTH_NAME_MAX + 1];
    int64_t n;
    int more = 0, round;
    enum berth_rc rc;

    memset(&c, 0, sizeof(c));
    c.b = &b;
    if (req->http->cfg->auth) c.filter = req;
    rc = req_page_args(req, &n, &last, err);
    if (rc) goto out;
    snprintf(from, sizeof(from), "%s", last ? last : "");
    berth_buf_puts(&b, "{\"repositories\":[");
    /* With a filter a page may come back short: read on until it is full or the names end
       (bounded, so a caller who can read little cannot make one request scan everything). */
    for (round = 0; round < CATALOG_ROUNDS; round++) {
        int before = c.count;
        c.seen[0] = '\0';
        rc = m->content->repo_list(m, req->registry_id, from[0] ? from : NULL, n - c.count, list_add, &c, &more, err);
        if (rc) goto out;
        (void)before;
        if (!more || c.count >= n || !c.filter || !c.seen[0]) break;
        snprintf(from, sizeof(from), "%s", c.seen);
    }
    berth_buf_puts(&b, "]}");
    if (more && c.count) req_next_link(req, "/v2/_catalog", n, c.last, NULL);
    rc = req_respond_json(req, 200, &b, "application/json");
out:
    berth_buf_release(&b);
    return rc;
}

enum berth_rc api_tags_finish(struct berth_req *req, struct berth_err *err)
{
    struct berth_buf b = BERTH_BUF_INIT(0);
    struct list_ctx c;
    struct berth_meta *m = req->http->meta;
    const char *last;
    char *base = NULL;
    int64_t n;
    int more = 0;
    enum berth_rc rc;

    memset(&c, 0, sizeof(c));
    c.b = &b;
    rc = req_page_args(req, &n, &last, err);
    if (rc) goto out;
    berth_buf_puts(&b, "{\"name\":");
    berth_buf_json_str(&b, req->name, strlen(req->name));
    berth_buf_puts(&b, ",\"tags\":[");
    rc = m->content->tag_list(m, req->registry_id, req->name, last, n, list_add, &c, &more, err);
    if (rc) goto out;
    berth_buf_puts(&b, "]}");
    if (more && c.count) {
        base = berth_xasprintf("/v2/%s/tags/list", req->name);
        req_next_link(req, base, n, c.last, NULL);
    }
    rc = req_respond_json(req, 200, &b, "application/json");
out:
    free(base);
    berth_buf_release(&b);
    return rc;
}

struct ref_ctx {
    struct berth_buf *b;
    int count;
};

static int referrer_add(const struct berth_meta_referrer *r, void *p)
{
    struct ref_ctx *c = p;
    struct berth_buf *b = c->b;

    if (c->count++) berth_buf_putc(b, ',');
    berth_buf_puts(b, "{\"mediaType\":");
    berth_buf_json_str(b, r->media_type, strlen(r->media_type));
    berth_buf_puts(b, ",\"digest\":");
    berth_buf_json_str(b, r->digest, strlen(r->digest));
    berth_buf_printf(b, ",\"size\":%lld", (long long)r->size);
    if (r->artifact_type) {
        berth_buf_puts(b, ",\"artifactType\":");
        berth_buf_json_str(b, r->artifact_type, strlen(r->artifact_type));
    }
    if (r->annotations_json) {
        berth_buf_puts(b, ",\"annotations\":");
        berth_buf_puts(b, r->annotations_json); /* stored as compact JSON by the validator */
    }
    berth_buf_putc(b, '}');
    return 0;
}

enum berth_rc api_referrers_finish(struct berth_req *req, struct berth_err *err)
{
    struct berth_buf b = BERTH_BUF_INIT(0);
    struct ref_ctx c = {&b, 0};
    struct berth_meta *m = req->http->meta;
    struct berth_digest d;
    const char *at = req_query(req, "artifactType");
    enum berth_rc rc;

    rc = berth_digest_parse(req->param, strlen(req->param), &d, err);
    if (rc) goto out;
    if (at && !*at) at = NULL;
    rc = m->content->repo_exists(m, req->registry_id, req->name, err);
    if (rc == BERTH_ENAMEUNKNOWN) rc = BERTH_OK; /* no repository: no referrers */
    if (rc) goto out;
    berth_buf_puts(&b, "{\"schemaVersion\":2,\"mediaType\":\"" BERTH_MT_OCI_INDEX "\",\"manifests\":[");
    rc = m->content->referrers(m, req->registry_id, req->name, &d, at, referrer_add, &c, err);
    if (rc) goto out;
    berth_buf_puts(&b, "]}");
    if (at) berth_req_add_header(req, "OCI-Filters-Applied", "artifactType");
    rc = req_respond_json(req, 200, &b, BERTH_MT_OCI_INDEX);
out:
    berth_buf_release(&b);
    return rc;
}
