/*
 * api_acr.c - ACR's repository metadata API under /acr/v1 (what `az acr
 * repository` and `az acr manifest` call): a repository's attributes, its
 * tags and its manifests with their sizes and times, one or a page at a time
 * (n, last, orderby=time_desc|time_asc, a Link to the next page), and the
 * deletion of a tag or a manifest. Bodies have ACR's shape: "registry" is
 * the login server, times are RFC 3339 with seven fractional digits, and
 * "changeableAttributes" are all true (berth has no locks on tags or
 * manifests yet, so that is what holds).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include "alloc.h"
#include "http_int.h"
#include "banned.h"

#define ACR_ATTRS                                                                                      \
    "\"changeableAttributes\":{\"deleteEnabled\":true,\"writeEnabled\":true,\"readEnabled\":true,"     \
    "\"listEnabled\":true}"

/* "2026-12-07T03:04:05.1230000Z": ACR's form of a time (ms since the epoch). */
static void put_time(struct berth_buf *b, const char *key, int64_t ms)
{
    char s[32];
    time_t t = (time_t)(ms / 1000);
    struct tm tm;

    gmtime_r(&t, &tm);
    strftime(s, sizeof(s), "%Y-%m-%dT%H:%M:%S", &tm);
    berth_buf_printf(b, "\"%s\":\"%s.%03lld0000Z\"", key, s, (long long)(ms % 1000));
}

/* The start of every body: the registry's login server and the repository. */
static enum berth_rc put_head(struct berth_req *req, struct berth_buf *b, struct berth_err *err)
{
    struct berth_meta_registry reg;
    char ls[512];
    enum berth_rc rc;

    rc = req->http->meta->reg->registry_get(req->http->meta, NULL, req->registry_id, &reg, err);
    if (rc) return rc;
    authz_login_server(req->http->az, &reg, ls, sizeof(ls));
    berth_buf_puts(b, "{\"registry\":");
    berth_buf_json_str(b, ls, strlen(ls));
    berth_buf_puts(b, ",\"imageName\":");
    berth_buf_json_str(b, req->name, strlen(req->name));
    return BERTH_OK;
}

/* n, last and orderby of a list; an orderby berth does not know is refused, as ACR refuses it. */
static enum berth_rc list_args(struct berth_req *req, int64_t *n, const char **last, enum berth_meta_order *order,
                               struct berth_err *err)
{
    const char *ob = req_query(req, "orderby");

    *order = BERTH_ORDER_NAME;
    if (ob && !strcmp(ob, "time_desc")) *order = BERTH_ORDER_TIME_DESC;
    else if (ob && !strcmp(ob, "time_asc")) *order = BERTH_ORDER_TIME_ASC;
    else if (ob && *ob)
        return berth_err_set(err, BERTH_EUNSUPPORTED, "orderby must be time_desc or time_asc, not '%.40s'", ob);
    return req_page_args(req, n, last, err);
}

/* The Link to the page after last, in the same order. */
static void next_link(struct berth_req *req, const char *what, int64_t n, const char *last, enum berth_meta_order order)
{
    char *base = berth_xasprintf("/acr/v1/%s/%s", req->name, what);

    req_next_link(req, base, n, last,
                  order == BERTH_ORDER_TIME_DESC ? "orderby=time_desc"
                  : order == BERTH_ORDER_TIME_ASC ? "orderby=time_asc" : NULL);
    free(base);
}

/* GET /acr/v1/<name>: the repository's times and counts. */
enum berth_rc api_acr_repo_finish(struct berth_req *req, struct berth_err *err)
{
    struct berth_meta *m = req->http->meta;
    struct berth_buf b = BERTH_BUF_INIT(0);
    struct berth_meta_repo_info ri;
    enum berth_rc rc;

    rc = m->content->repo_info(m, req->registry_id, req->name, &ri, err);
    if (!rc) rc = put_head(req, &b, err);
    if (rc) goto out;
    berth_buf_putc(&b, ',');
    put_time(&b, "createdTime", ri.created_ms);
    berth_buf_putc(&b, ',');
    put_time(&b, "lastUpdateTime", ri.updated_ms);
    berth_buf_printf(&b, ",\"manifestCount\":%lld,\"tagCount\":%lld," ACR_ATTRS "}", (long long)ri.manifests,
                     (long long)ri.tags);
    rc = req_respond_json(req, 200, &b, "application/json");
out:
    berth_buf_release(&b);
    return rc;
}

struct tags_ctx {
    struct berth_buf *b;
    int count;
    char last[BERTH_NAME_MAX + 1];
};

static void put_tag(struct berth_buf *b, const struct berth_meta_tag_info *t)
{
    berth_buf_puts(b, "{\"name\":");
    berth_buf_json_str(b, t->name, strlen(t->name));
    berth_buf_puts(b, ",\"digest\":");
    berth_buf_json_str(b, t->digest, strlen(t->digest));
    berth_buf_putc(b, ',');
    put_time(b, "createdTime", t->created_ms);
    berth_buf_putc(b, ',');
    put_time(b, "lastUpdateTime", t->updated_ms);
    berth_buf_puts(b, ",\"signed\":false," ACR_ATTRS "}");
}

static int add_tag(const struct berth_meta_tag_info *t, void *p)
{
    struct tags_ctx *c = p;

    if (c->count++) berth_buf_putc(c->b, ',');
    put_tag(c->b, t);
    snprintf(c->last, sizeof(c->last), "%s", t->name);
    return 0;
}

/* GET /acr/v1/<name>/_tags and /_tags/<tag>. */
enum berth_rc api_acr_tags_finish(struct berth_req *req, struct berth_err *err)
{
    struct berth_meta *m = req->http->meta;
    struct berth_buf b = BERTH_BUF_INIT(0);
    struct tags_ctx c;
    enum berth_meta_order order;
    const char *last, *one = req->param;
    int64_t n;
    int more = 0;
    enum berth_rc rc;

    memset(&c, 0, sizeof(c));
    c.b = &b;
    rc = list_args(req, &n, &last, &order, err);
    if (!rc) rc = put_head(req, &b, err);
    if (rc) goto out;
    berth_buf_puts(&b, one ? ",\"tag\":" : ",\"tags\":[");
    if (one) {
        struct berth_buf t = BERTH_BUF_INIT(0);
        c.b = &t;
        c.count = 0;
        rc = m->content->tag_infos(m, req->registry_id, req->name, one, NULL, 1, BERTH_ORDER_NAME, add_tag, &c, NULL,
                                   err);
        berth_buf_append(&b, berth_buf_str(&t), t.len);
        berth_buf_release(&t);
        if (rc) goto out;
        berth_buf_putc(&b, '}');
    } else {
        rc = m->content->tag_infos(m, req->registry_id, req->name, NULL, last, n, order, add_tag, &c, &more, err);
        if (rc) goto out;
        berth_buf_puts(&b, "]}");
        if (more && c.count) next_link(req, "_tags", n, c.last, order);
    }
    rc = req_respond_json(req, 200, &b, "application/json");
out:
    berth_buf_release(&b);
    return rc;
}

struct manifests_ctx {
    struct berth_buf *b;
    int count;
    char last[BERTH_DIGEST_STR_MAX + 1];
};

static int add_manifest(const struct berth_meta_manifest_info *mi, void *p)
{
    struct manifests_ctx *c = p;
    struct berth_buf *b = c->b;
    size_t i;

    if (c->count++) berth_buf_putc(b, ',');
    berth_buf_puts(b, "{\"digest\":");
    berth_buf_json_str(b, mi->digest, strlen(mi->digest));
    /* ACR's imageSize: the bytes of what the manifest references, its own when it references none (an index) */
    berth_buf_printf(b, ",\"imageSize\":%lld,", (long long)(mi->blobs_size ? mi->blobs_size : mi->size));
    put_time(b, "createdTime", mi->created_ms);
    berth_buf_putc(b, ',');
    put_time(b, "lastUpdateTime", mi->created_ms);
    berth_buf_puts(b, ",\"mediaType\":");
    berth_buf_json_str(b, mi->media_type, strlen(mi->media_type));
    berth_buf_puts(b, ",\"tags\":[");
    for (i = 0; i < mi->ntags; i++) {
        if (i) berth_buf_putc(b, ',');
        berth_buf_json_str(b, mi->tags[i], strlen(mi->tags[i]));
    }
    berth_buf_puts(b, "]," ACR_ATTRS "}");
    snprintf(c->last, sizeof(c->last), "%s", mi->digest);
    return 0;
}

/* GET /acr/v1/<name>/_manifests and /_manifests/<digest>. */
enum berth_rc api_acr_manifests_finish(struct berth_req *req, struct berth_err *err)
{
    struct berth_meta *m = req->http->meta;
    struct berth_buf b = BERTH_BUF_INIT(0);
    struct manifests_ctx c;
    struct berth_digest d;
    enum berth_meta_order order;
    const char *last;
    int64_t n;
    int more = 0;
    enum berth_rc rc;

    memset(&c, 0, sizeof(c));
    c.b = &b;
    if (req->param) {
        struct berth_err why = BERTH_ERR_INIT;
        if (berth_digest_parse(req->param, strlen(req->param), &d, &why) != BERTH_OK) {
            rc = berth_err_set(err, BERTH_EMANIFESTUNKNOWN, "no manifest of '%s' is named '%.200s': %s", req->name,
                               req->param, berth_err_msg(&why));
            goto out;
        }
    }
    rc = list_args(req, &n, &last, &order, err);
    if (!rc) rc = put_head(req, &b, err);
    if (rc) goto out;
    berth_buf_puts(&b, req->param ? ",\"manifest\":" : ",\"manifests\":[");
    rc = m->content->manifest_infos(m, req->registry_id, req->name, req->param ? &d : NULL, last, req->param ? 1 : n,
                                    order, add_manifest, &c, &more, err);
    if (rc) goto out;
    berth_buf_puts(&b, req->param ? "}" : "]}");
    if (!req->param && more && c.count) next_link(req, "_manifests", n, c.last, order);
    rc = req_respond_json(req, 200, &b, "application/json");
out:
    berth_buf_release(&b);
    return rc;
}

/* DELETE /acr/v1/<name>/_tags/<tag>: the tag only; its manifest stays (gc takes it once untagged long enough). */
enum berth_rc api_acr_tag_delete_finish(struct berth_req *req, struct berth_err *err)
{
    struct berth_meta *m = req->http->meta;
    enum berth_rc rc = m->content->tag_delete(m, req->registry_id, req->name, req->param, err);

    if (rc) return rc;
    return req_respond_empty(req, 202);
}

/* DELETE /acr/v1/<name>/_manifests/<digest>: the manifest and every tag on it. */
enum berth_rc api_acr_manifest_delete_finish(struct berth_req *req, struct berth_err *err)
{
    struct berth_meta *m = req->http->meta;
    struct berth_err why = BERTH_ERR_INIT;
    struct berth_digest d;
    enum berth_rc rc;

    if (berth_digest_parse(req->param, strlen(req->param), &d, &why) != BERTH_OK)
        return berth_err_set(err, BERTH_EMANIFESTUNKNOWN, "no manifest of '%s' is named '%.200s': %s", req->name,
                             req->param, berth_err_msg(&why));
    rc = m->content->manifest_delete(m, req->registry_id, req->name, &d, err);
    if (rc) return rc;
    return req_respond_empty(req, 202);
}
