/*
 * api_mgmt_logs.c - the login and repository event logs in the management
 * API (events.c writes them):
 *   GET /api/v1/registries/<r>/logs/login
 *   GET /api/v1/registries/<r>/logs/repository
 *   GET /api/v1/registries/<r>/logs/stream      (JSON lines, both logs)
 * Reading needs the read right on the registry. Filters: since, until (RFC
 * 3339 or a relative age such as 15m, 1h, 7d), failed=true, identity, ip,
 * reason, repository, operation; limit (1..1000, default 100) and next (the
 * cursor a previous page returned). Newest first.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include "berth/alloc.h"
#include "berth/util.h"
#include "api_mgmt.h"
#include "berth/banned.h"

#define LOGS_LIMIT_DEFAULT 100
#define LOGS_LIMIT_MAX 1000

/* "2026-01-02T03:04:05.678Z" */
static void time_text(int64_t ms, char *out, size_t n)
{
    char s[32];
    berth_time_rfc3339(ms / 1000, s, sizeof(s));
    if (strlen(s) == 20 && s[19] == 'Z') {
        s[19] = '\0';
        snprintf(out, n, "%s.%03dZ", s, (int)(ms % 1000));
    } else {
        snprintf(out, n, "%s", s);
    }
}

/* A time filter: RFC 3339, or a relative age "<n>s|m|h|d" before now. Nonzero if malformed. */
static int parse_when(const char *s, int64_t *ms)
{
    uint64_t n;
    size_t len = strlen(s);
    int64_t unit;

    if (len >= 2 && len <= 12 && berth_parse_u64(s, len - 1, &n) == 0) {
        switch (s[len - 1]) {
        case 's': unit = 1000; break;
        case 'm': unit = 60000; break;
        case 'h': unit = 3600000; break;
        case 'd': unit = 86400000; break;
        default: return 1;
        }
        if (n > 3650ull * 86400) return 1;
        *ms = berth_now_ms() - (int64_t)n * unit;
        return 0;
    }
    return mgmt_parse_time(s, ms);
}

/* A filter value: NULL when absent or empty; BERTH_EREQUEST when longer than max. */
static enum berth_rc text_arg(struct berth_req *req, const char *key, size_t max, const char **out,
                              struct berth_err *err)
{
    const char *v = req_query(req, key);
    *out = v && *v ? v : NULL;
    if (*out && strlen(*out) > max) return berth_err_set(err, BERTH_EREQUEST, "'%s' is longer than %zu", key, max);
    return BERTH_OK;
}

static enum berth_rc int_arg(struct berth_req *req, const char *key, int64_t lo, int64_t hi, int64_t *out,
                             struct berth_err *err)
{
    const char *v = req_query(req, key);
    uint64_t n;
    if (!v || !*v) return BERTH_OK;
    if (berth_parse_u64(v, strlen(v), &n) != 0 || n < (uint64_t)lo || n > (uint64_t)hi)
        return berth_err_set(err, BERTH_EREQUEST, "'%s' must be a whole number from %lld to %lld", key, (long long)lo,
                             (long long)hi);
    *out = (int64_t)n;
    return BERTH_OK;
}

/* Reads the query filters into f (strings borrowed from the request). */
static enum berth_rc read_filter(struct berth_req *req, struct berth_meta_event_filter *f, struct berth_err *err)
{
    const char *v;
    enum berth_rc rc;

    f->limit = LOGS_LIMIT_DEFAULT;
    v = req_query(req, "since");
    if (v && *v && parse_when(v, &f->since_ms))
        return berth_err_set(err, BERTH_EREQUEST, "'since' must be an RFC 3339 time or an age like 1h, not '%.40s'", v);
    v = req_query(req, "until");
    if (v && *v && parse_when(v, &f->until_ms))
        return berth_err_set(err, BERTH_EREQUEST, "'until' must be an RFC 3339 time or an age like 1h, not '%.40s'", v);
    v = req_query(req, "failed");
    if (v && *v) {
        if (!strcmp(v, "true")) f->failed = 1;
        else if (strcmp(v, "false") != 0) return berth_err_set(err, BERTH_EREQUEST, "'failed' must be true or false");
    }
    rc = text_arg(req, "identity", 80, &f->identity, err);
    if (!rc) rc = text_arg(req, "ip", 63, &f->ip, err);
    if (!rc) rc = text_arg(req, "reason", 31, &f->reason, err);
    if (!rc) rc = text_arg(req, "repository", 255, &f->repository, err);
    if (!rc) rc = text_arg(req, "operation", 31, &f->operation, err);
    if (!rc) rc = int_arg(req, "limit", 1, LOGS_LIMIT_MAX, &f->limit, err);
    if (!rc) rc = int_arg(req, "next", 1, INT64_MAX, &f->before_id, err);
    return rc;
}

static void set_str(json_t *o, const char *k, const char *v)
{
    if (v && *v) json_object_set_new(o, k, json_string(v));
}

static json_t *event_json(const struct berth_meta_event *e, int with_log)
{
    json_t *o = json_object();
    char t[40];

    time_text(e->time_ms, t, sizeof(t));
    json_object_set_new(o, "id", json_integer(e->id));
    if (with_log) json_object_set_new(o, "log", json_string(e->log == BERTH_EVENTS_LOGIN ? "login" : "repository"));
    json_object_set_new(o, "time", json_string(t));
    json_object_set_new(o, "registry", json_string(e->registry));
    json_object_set_new(o, "loginServer", json_string(e->login_server));
    json_object_set_new(o, "operation", json_string(e->operation));
    json_object_set_new(o, "identityType", json_string(e->identity_type));
    json_object_set_new(o, "identity", json_string(e->identity));
    set_str(o, "identityId", e->identity_id);
    json_object_set_new(o, "clientIp", json_string(e->ip));
    json_object_set_new(o, "userAgent", json_string(e->user_agent));
    json_object_set_new(o, "status", json_integer(e->status));
    json_object_set_new(o, "result", json_string(e->status > 0 && e->status < 400 ? "success" : "failure"));
    set_str(o, "reason", e->reason);
    json_object_set_new(o, "requestId", json_string(e->request_id));
    json_object_set_new(o, "durationMs", json_real((double)e->duration_us / 1000.0));
    if (e->log == BERTH_EVENTS_REPOSITORY) {
        json_object_set_new(o, "repository", json_string(e->repository));
        set_str(o, "tag", e->tag);
        set_str(o, "digest", e->digest);
        set_str(o, "mediaType", e->media_type);
        set_str(o, "artifactType", e->artifact_type);
        if (e->size >= 0) json_object_set_new(o, "size", json_integer(e->size));
    }
    return o;
}

struct page {
    json_t *arr;
    int64_t n, last_id;
};

static int add_event(const struct berth_meta_event *e, void *ctx)
{
    struct page *p = ctx;
    json_array_append_new(p->arr, event_json(e, 0));
    p->n++;
    p->last_id = e->id;
    return 0;
}

static enum berth_rc logs_page(struct berth_req *req, int log, struct berth_err *err)
{
    struct berth_meta *m = req->http->meta;
    struct berth_meta_registry reg;
    struct berth_meta_event_filter f;
    struct page p = {NULL, 0, 0};
    json_t *doc;
    char next[24];
    enum berth_rc rc;

    rc = mgmt_registry(req, BERTH_MGMT_READ, "to read its event logs", &reg, err);
    if (rc) return rc;
    memset(&f, 0, sizeof(f));
    rc = read_filter(req, &f, err);
    if (rc) return rc;
    f.reg = reg.id;
    f.log = log;
    p.arr = json_array();
    rc = m->ops->events_query(m, &f, add_event, &p, err);
    if (rc) {
        json_decref(p.arr);
        return rc;
    }
    snprintf(next, sizeof(next), "%lld", (long long)p.last_id);
    doc = json_pack("{s:o,s:o}", "value", p.arr, "next", p.n == f.limit ? json_string(next) : json_null());
    return mgmt_reply(req, 200, doc, 0);
}

enum berth_rc api_mgmt_logs_login_finish(struct berth_req *req, struct berth_err *err)
{
    return logs_page(req, BERTH_EVENTS_LOGIN, err);
}

enum berth_rc api_mgmt_logs_repository_finish(struct berth_req *req, struct berth_err *err)
{
    return logs_page(req, BERTH_EVENTS_REPOSITORY, err);
}

/* ---------------------------------------------------------------- JSON lines */

struct lines {
    struct berth_buf *b;
};

static int add_line(const struct berth_meta_event *e, void *ctx)
{
    struct lines *l = ctx;
    json_t *o = event_json(e, 1);
    char *s = json_dumps(o, JSON_COMPACT);
    if (s) {
        berth_buf_puts(l->b, s);
        berth_buf_putc(l->b, '\n');
    }
    free(s);
    json_decref(o);
    return 0;
}

struct newest {
    struct berth_meta_event *e;
    size_t n;
};

static int keep_event(const struct berth_meta_event *e, void *ctx)
{
    struct newest *k = ctx;
    k->e[k->n++] = *e;
    return 0;
}

/* The newest f->limit events, written oldest first. */
static enum berth_rc stream_newest(struct berth_meta *m, const struct berth_meta_event_filter *f, struct lines *l,
                                   struct berth_err *err)
{
    struct newest k;
    enum berth_rc rc;

    k.e = berth_xcalloc((size_t)f->limit, sizeof(*k.e));
    k.n = 0;
    rc = m->ops->events_query(m, f, keep_event, &k, err);
    while (!rc && k.n) add_line(&k.e[--k.n], l);
    free(k.e);
    return rc;
}

/*
 * GET .../logs/stream: the most recent events of both logs (the filters and
 * limit as above), oldest first, one JSON object a line. follow=true is not
 * offered: a client polls with since or with after (the last id it saw).
 */
enum berth_rc api_mgmt_logs_stream_finish(struct berth_req *req, struct berth_err *err)
{
    struct berth_meta *m = req->http->meta;
    struct berth_meta_registry reg;
    struct berth_meta_event_filter f;
    struct berth_buf b = BERTH_BUF_INIT(0);
    struct lines l = {&b};
    const char *follow = req_query(req, "follow");
    enum berth_rc rc;

    rc = mgmt_registry(req, BERTH_MGMT_READ, "to read its event logs", &reg, err);
    if (rc) goto out;
    if (follow && *follow && strcmp(follow, "false") != 0) {
        rc = berth_err_set(err, BERTH_EREQUEST, "follow is not supported: poll with 'after' set to the last id seen");
        goto out;
    }
    memset(&f, 0, sizeof(f));
    rc = read_filter(req, &f, err);
    if (rc) goto out;
    rc = int_arg(req, "after", 1, INT64_MAX, &f.after_id, err);
    if (rc) goto out;
    f.reg = reg.id;
    f.log = -1;
    /* with after: the next events in order; without: the newest, turned oldest first below */
    f.oldest_first = f.after_id != 0;
    if (f.oldest_first) rc = m->ops->events_query(m, &f, add_line, &l, err);
    else rc = stream_newest(m, &f, &l, err);
    if (rc) goto out;
    rc = req_respond_json(req, 200, &b, "application/x-ndjson");
out:
    berth_buf_release(&b);
    return rc;
}
