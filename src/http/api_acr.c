/*
 * api_acr.c - ACR's repository metadata API under /acr/v1 (what `az acr
 * repository` and `az acr manifest` call): a repository's attributes, its
 * tags and its manifests with their sizes and times, one or a page at a time
 * (n, last, orderby=time_desc|time_asc, a Link to the next page), and the
 * deletion of a tag or a manifest. Bodies have ACR's shape: "registry" is
 * the login server, times are RFC 3339 with seven fractional digits, and
 * "changeableAttributes" carry ACR's four locks, kept and enforced (PATCH
 * sets them): writeEnabled, deleteEnabled, readEnabled (pulls) and
 * listEnabled (left out of lists, still read by name).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include "alloc.h"
#include "http_int.h"
#include "log.h"
#include "banned.h"

#define ACR_BODY_MAX 4096 /* a PATCH of changeable attributes */

/* "changeableAttributes": ACR's four locks. */
static void put_attrs(struct berth_buf *b, int write_enabled, int delete_enabled, int read_enabled, int list_enabled)
{
    berth_buf_printf(b, "\"changeableAttributes\":{\"deleteEnabled\":%s,\"writeEnabled\":%s,\"readEnabled\":%s,"
                        "\"listEnabled\":%s}",
                     delete_enabled ? "true" : "false", write_enabled ? "true" : "false",
                     read_enabled ? "true" : "false", list_enabled ? "true" : "false");
}

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

    /* az acr sends timedesc / timeasc; ACR's documentation spells them time_desc / time_asc */
    *order = BERTH_ORDER_NAME;
    if (ob && (!strcmp(ob, "time_desc") || !strcmp(ob, "timedesc"))) *order = BERTH_ORDER_TIME_DESC;
    else if (ob && (!strcmp(ob, "time_asc") || !strcmp(ob, "timeasc"))) *order = BERTH_ORDER_TIME_ASC;
    else if (ob && *ob)
        return berth_err_set(err, BERTH_EUNSUPPORTED, "orderby must be timedesc or timeasc, not '%.40s'", ob);
    return req_page_args(req, n, last, err);
}

/* The Link to the page after last, in the same order, spelt as the client spelt it. */
static void next_link(struct berth_req *req, const char *what, int64_t n, const char *last, enum berth_meta_order order)
{
    char *base = berth_xasprintf("/acr/v1/%s/%s", req->name, what);
    char *ob = order == BERTH_ORDER_NAME ? NULL : berth_xasprintf("orderby=%s", req_query(req, "orderby"));

    req_next_link(req, base, n, last, ob);
    free(ob);
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
    berth_buf_printf(&b, ",\"manifestCount\":%lld,\"tagCount\":%lld,", (long long)ri.manifests, (long long)ri.tags);
    put_attrs(&b, ri.write_enabled, ri.delete_enabled, ri.read_enabled, ri.list_enabled);
    berth_buf_putc(&b, '}');
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
    berth_buf_puts(b, ",\"signed\":false,");
    put_attrs(b, t->write_enabled, t->delete_enabled, t->read_enabled, t->list_enabled);
    berth_buf_putc(b, '}');
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
    /* an image's platform, as ACR lists it; absent when unknown (an index, an artifact) */
    if (mi->architecture && *mi->architecture) {
        berth_buf_puts(b, ",\"architecture\":");
        berth_buf_json_str(b, mi->architecture, strlen(mi->architecture));
    }
    if (mi->os && *mi->os) {
        berth_buf_puts(b, ",\"os\":");
        berth_buf_json_str(b, mi->os, strlen(mi->os));
    }
    berth_buf_puts(b, ",\"tags\":[");
    for (i = 0; i < mi->ntags; i++) {
        if (i) berth_buf_putc(b, ',');
        berth_buf_json_str(b, mi->tags[i], strlen(mi->tags[i]));
    }
    berth_buf_puts(b, "],");
    put_attrs(b, mi->write_enabled, mi->delete_enabled, mi->read_enabled, mi->list_enabled);
    berth_buf_putc(b, '}');
    snprintf(c->last, sizeof(c->last), "%s", mi->digest);
    return 0;
}

/* The route's {digest}: a manifest no digest can name is MANIFEST_UNKNOWN, saying why, as /v2 answers. */
static enum berth_rc param_digest(const struct berth_req *req, struct berth_digest *d, struct berth_err *err)
{
    struct berth_err why = BERTH_ERR_INIT;

    if (berth_digest_parse(req->param, strlen(req->param), d, &why) == BERTH_OK) return BERTH_OK;
    return berth_err_set(err, BERTH_EMANIFESTUNKNOWN, "no manifest of '%s' is named '%.200s': %s", req->name,
                         req->param, berth_err_msg(&why));
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
    rc = req->param ? param_digest(req, &d, err) : BERTH_OK;
    if (!rc) rc = list_args(req, &n, &last, &order, err);
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
    struct berth_digest d;
    enum berth_rc rc = param_digest(req, &d, err);

    if (rc) return rc;
    rc = m->content->manifest_delete(m, req->registry_id, req->name, &d, err);
    if (rc) return rc;
    return req_respond_empty(req, 202);
}

/* ---- PATCH: ACR's changeable attributes ---- */

struct patch_state {
    struct berth_buf body;
};

enum berth_rc api_acr_patch_begin(struct berth_req *req, struct berth_err *err)
{
    struct patch_state *st;

    if (req->content_length > ACR_BODY_MAX)
        return berth_err_set(err, BERTH_ETOOBIG, "attributes larger than %d bytes", ACR_BODY_MAX);
    st = berth_xcalloc(1, sizeof(*st));
    berth_buf_init(&st->body, ACR_BODY_MAX);
    req->state = st;
    return BERTH_OK;
}

enum berth_rc api_acr_patch_body(struct berth_req *req, const char *data, size_t len, struct berth_err *err)
{
    struct patch_state *st = req->state;

    if (berth_buf_append(&st->body, data, len) != BERTH_OK)
        return berth_err_set(err, BERTH_ETOOBIG, "attributes larger than %d bytes", ACR_BODY_MAX);
    return BERTH_OK;
}

void api_acr_patch_cleanup(struct berth_req *req, int aborted)
{
    struct patch_state *st = req->state;

    (void)aborted;
    if (!st) return;
    berth_buf_release(&st->body);
    free(st);
    req->state = NULL;
}

/* One boolean member of the body: 1, 0, or -1 when absent; BERTH_EINVAL when it is not a boolean. */
static enum berth_rc body_bool(const json_t *o, const char *key, int *out, struct berth_err *err)
{
    const json_t *v = json_object_get(o, key);

    *out = -1;
    if (!v) return BERTH_OK;
    if (!json_is_boolean(v)) return berth_err_set(err, BERTH_EINVAL, "%s must be true or false", key);
    *out = json_is_true(v);
    return BERTH_OK;
}

/*
 * PATCH /acr/v1/<name>[/_tags/<tag> | /_manifests/<digest>] with any of
 * {"writeEnabled", "deleteEnabled", "readEnabled", "listEnabled"} (bools):
 * sets those locks, then answers the attributes as GET does.
 */
enum berth_rc api_acr_patch_finish(struct berth_req *req, struct berth_err *err)
{
    static const char *const known[] = {"writeEnabled", "deleteEnabled", "readEnabled", "listEnabled"};
    struct patch_state *st = req->state;
    struct berth_meta *m = req->http->meta;
    struct berth_digest d;
    const char *key;
    json_t *o, *v;
    json_error_t je;
    struct berth_meta_locks set;
    int is_manifest = req->route->label && strstr(req->route->label, "manifest") != NULL;
    size_t i;
    enum berth_rc rc;

    o = json_loadb(st->body.p ? st->body.p : "", st->body.len, JSON_REJECT_DUPLICATES, &je);
    if (!json_is_object(o)) {
        json_decref(o);
        return berth_err_set(err, BERTH_EINVAL, "the attributes must be a JSON object: %s", je.text);
    }
    json_object_foreach(o, key, v) {
        for (i = 0; i < sizeof(known) / sizeof(known[0]) && strcmp(known[i], key) != 0; i++) {}
        if (i == sizeof(known) / sizeof(known[0])) {
            rc = berth_err_set(err, BERTH_EINVAL, "unknown attribute '%.60s': berth knows writeEnabled, deleteEnabled, "
                                                  "readEnabled and listEnabled", key);
            goto out;
        }
    }
    rc = body_bool(o, "writeEnabled", &set.write, err);
    if (!rc) rc = body_bool(o, "deleteEnabled", &set.del, err);
    if (!rc) rc = body_bool(o, "readEnabled", &set.read, err);
    if (!rc) rc = body_bool(o, "listEnabled", &set.list, err);
    if (rc) goto out;
    if (is_manifest) {
        rc = param_digest(req, &d, err);
        if (rc) goto out;
    }
    rc = m->content->locks_set(m, req->registry_id, req->name, !is_manifest ? req->param : NULL,
                               is_manifest ? &d : NULL, &set, err);
    if (rc) goto out;
    BERTH_LOG(BERTH_LOG_INFO, "req=%s msg=\"attributes changed\" repository=%s item=\"%s\" write=%d delete=%d "
              "read=%d list=%d principal=\"%s\"", req->id, req->name, req->param ? req->param : "", set.write,
              set.del, set.read, set.list, req->caller.principal);
    if (!req->param) rc = api_acr_repo_finish(req, err);
    else if (is_manifest) rc = api_acr_manifests_finish(req, err);
    else rc = api_acr_tags_finish(req, err);
out:
    json_decref(o);
    return rc;
}
