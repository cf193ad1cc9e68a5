/*
 * api_mgmt_logs.c - the login and repository event logs in the management
 * API (events.c writes them):
 *   GET /api/v1/registries/<r>/logs/login
 *   GET /api/v1/registries/<r>/logs/repository
 *   GET /api/v1/registries/<r>/logs/stream      (JSON lines, both logs)
 *   GET /api/v1/logs/login|repository|stream    (every registry and the directory)
 * Reading needs the read right on the registry (on / for the server-wide
 * ones). Filters: since, until (RFC 3339, a day such as 2026-12-05, today or
 * yesterday, or a relative age such as 15m, 1h, 7d), failed=true (without
 * the NO_CREDENTIALS challenges unless challenges=true), identity, ip,
 * reason, repository, operation; limit
 * (1..1000, default 100) and next (the cursor a previous page returned).
 * Newest first. The stream can follow: it stays open and sends each new
 * event as it is stored.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <microhttpd.h>
#include "alloc.h"
#include "log.h"
#include "parse.h"
#include "util.h"
#include "api_mgmt.h"
#include "events.h"
#include "banned.h"

#define LOGS_LIMIT_DEFAULT 100
#define LOGS_LIMIT_MAX 1000
#define FOLLOW_MAGIC 0x464f4c57u    /* "FOLW" */
#define FOLLOW_BATCH 200            /* events fetched per query while following */
#define FOLLOW_HEARTBEAT_MS 30000   /* an empty line after this long without events */
#define FOLLOW_POLL_SHARED_MS 1000  /* a follower on a shared store looks this often (other servers' events) */
#define FOLLOW_SETTLE_MS 2000       /* ... and shows events this old: younger ids may still be committing */
#define FOLLOW_TIMEOUT_MAX 86400

/*
 * Which events a request reads: a registry's ({registry}, its row needing the
 * read right on it), or every registry's and the directory's (/api/v1/logs/...,
 * the read right on the server). api_mgmt_finish checked the right.
 */
static enum berth_rc logs_scope(struct berth_req *req, struct berth_meta_event_filter *f, struct berth_err *err)
{
    struct berth_meta_registry reg;
    enum berth_rc rc;

    if (req->route->right_on == RIGHT_ON_SERVER) {
        f->all_registries = 1;
        return BERTH_OK;
    }
    rc = mgmt_registry(req, &reg, err);
    if (rc) return rc;
    f->reg = reg.id;
    return BERTH_OK;
}

#define DAY_MS 86400000LL

/*
 * A time filter: RFC 3339; a day "2026-12-05", "today" or "yesterday" (its
 * start, 00:00 UTC); or a relative age "<n>s|m|h|d" before now. Nonzero if
 * malformed.
 */
static int parse_when(const char *s, int64_t *ms)
{
    uint64_t n;
    size_t len = strlen(s);
    int64_t unit, now = berth_now_ms();
    char day[32];

    if (!strcmp(s, "today") || !strcmp(s, "yesterday")) {
        *ms = now - now % DAY_MS - (s[0] == 'y' ? DAY_MS : 0);
        return 0;
    }
    if (len == 10 && s[4] == '-' && s[7] == '-') {
        snprintf(day, sizeof(day), "%sT00:00:00Z", s);
        return berth_rfc3339_parse(day, strlen(day), ms, NULL) != BERTH_OK;
    }

    if (len >= 2 && len <= 12 && berth_parse_u64(s, len - 1, &n) == 0) {
        switch (s[len - 1]) {
        case 's': unit = 1000; break;
        case 'm': unit = 60000; break;
        case 'h': unit = 3600000; break;
        case 'd': unit = 86400000; break;
        default: return 1;
        }
        if (n > 3650ull * 86400) return 1;
        *ms = now - (int64_t)n * unit;
        return 0;
    }
    return berth_rfc3339_parse(s, len, ms, NULL) != BERTH_OK;
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

/* A flag: absent, "true" or "false". */
static enum berth_rc bool_arg(struct berth_req *req, const char *key, int *out, struct berth_err *err)
{
    const char *v = req_query(req, key);
    if (!v || !*v) return BERTH_OK;
    if (!strcmp(v, "true")) *out = 1;
    else if (!strcmp(v, "false")) *out = 0;
    else return berth_err_set(err, BERTH_EREQUEST, "'%s' must be true or false", key);
    return BERTH_OK;
}

#define WHEN_FORMS "an RFC 3339 time, a day (2026-12-05, today, yesterday) or an age like 1h"

/* Reads the query filters into f (strings borrowed from the request). */
static enum berth_rc read_filter(struct berth_req *req, struct berth_meta_event_filter *f, struct berth_err *err)
{
    const char *v;
    int challenges = 0;
    enum berth_rc rc;

    f->limit = LOGS_LIMIT_DEFAULT;
    v = req_query(req, "since");
    if (v && *v && parse_when(v, &f->since_ms))
        return berth_err_set(err, BERTH_EREQUEST, "'since' must be " WHEN_FORMS ", not '%.40s'", v);
    v = req_query(req, "until");
    if (v && *v && parse_when(v, &f->until_ms))
        return berth_err_set(err, BERTH_EREQUEST, "'until' must be " WHEN_FORMS ", not '%.40s'", v);
    rc = bool_arg(req, "failed", &f->failed, err);
    if (!rc) rc = bool_arg(req, "challenges", &challenges, err);
    if (rc) return rc;
    rc = text_arg(req, "identity", 80, &f->identity, err);
    if (!rc) rc = text_arg(req, "ip", 63, &f->ip, err);
    if (!rc) rc = text_arg(req, "reason", 31, &f->reason, err);
    if (!rc) rc = text_arg(req, "repository", 255, &f->repository, err);
    if (!rc) rc = text_arg(req, "operation", 31, &f->operation, err);
    if (!rc) rc = int_arg(req, "limit", 1, LOGS_LIMIT_MAX, &f->limit, err);
    if (!rc) rc = int_arg(req, "next", 1, INT64_MAX, &f->before_id, err);
    /*
     * Every docker or podman login starts with a request without credentials
     * that is answered 401 with the challenge: failures in name only. Asked for
     * failures, leave them out unless the caller asks for them (challenges=true,
     * or reason=NO_CREDENTIALS).
     */
    if (!rc && f->failed && !challenges && !f->reason) f->not_reason = berth_auth_reason_name(BERTH_AUTH_NO_CREDENTIALS);
    return rc;
}

struct page {
    json_t *arr;
    int64_t n, last_id;
};

static int add_event(const struct berth_meta_event *e, void *ctx)
{
    struct page *p = ctx;
    json_array_append_new(p->arr, events_json(e, 0));
    p->n++;
    p->last_id = e->id;
    return 0;
}

static enum berth_rc logs_page(struct berth_req *req, int log, struct berth_err *err)
{
    struct berth_meta *m = req->http->meta;
    struct berth_meta_event_filter f;
    struct page p = {NULL, 0, 0};
    json_t *doc;
    char next[24];
    enum berth_rc rc;

    memset(&f, 0, sizeof(f));
    rc = logs_scope(req, &f, err);
    if (rc) return rc;
    rc = read_filter(req, &f, err);
    if (rc) return rc;
    f.log = log;
    p.arr = json_array();
    rc = m->events->events_query(m, &f, add_event, &p, err);
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
    int64_t last_id;
    int64_t settled_ms; /* 0, or: stop at the first event at or after this time (a follower on a shared store) */
};

static int add_line(const struct berth_meta_event *e, void *ctx)
{
    struct lines *l = ctx;
    json_t *o;

    /*
     * Servers sharing a store take event ids from one sequence but commit
     * them in their own time, so a newer id can be visible before an older
     * one. A follower there shows events only once they are FOLLOW_SETTLE_MS
     * old and stops at the first younger one (ids ascend): it never steps
     * past an id whose event is still on its way.
     */
    if (l->settled_ms && e->time_ms >= l->settled_ms) return 1;
    o = events_json(e, 1);
    char *s = json_dumps(o, JSON_COMPACT);
    if (s) {
        berth_buf_puts(l->b, s);
        berth_buf_putc(l->b, '\n');
    }
    free(s);
    json_decref(o);
    if (e->id > l->last_id) l->last_id = e->id;
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
    rc = m->events->events_query(m, f, keep_event, &k, err);
    while (!rc && k.n) add_line(&k.e[--k.n], l);
    free(k.e);
    return rc;
}

/* ---------------------------------------------------------------- following */

/*
 * One followed stream; owned by its MHD response (freed by follow_free) and
 * used only by the worker thread that runs the connection, but for w, which
 * the event writer touches under the events' follow lock.
 */
struct follower {
    uint32_t magic;
    struct berth_meta *meta;
    struct events *ev;
    struct MHD_Connection *conn;
    struct berth_meta_event_filter f; /* its strings point into strs */
    char *strs[5];
    int64_t end_ms;                   /* 0: until the client or the server ends it */
    int64_t beat_ms;                  /* next heartbeat */
    struct berth_buf out;             /* lines not yet handed to MHD */
    size_t off;
    struct lines l;
    struct events_waiter w;
};

/* The event writer stops and restarts a follower's answer through these (events.h). */
static void follow_suspend(void *conn)
{
    MHD_suspend_connection(conn);
}

static void follow_resume(void *conn)
{
    MHD_resume_connection(conn);
}

static ssize_t follow_read(void *cls, uint64_t pos, char *buf, size_t max)
{
    struct follower *fo = cls;
    struct berth_err err = BERTH_ERR_INIT;
    int64_t now, wake;
    uint64_t seq;
    size_t n;
    int r;

    (void)pos;
    if (fo->magic != FOLLOW_MAGIC) abort();
    for (;;) {
        if (fo->off < fo->out.len) {
            n = fo->out.len - fo->off < max ? fo->out.len - fo->off : max;
            memcpy(buf, fo->out.p + fo->off, n);
            fo->off += n;
            if (fo->off == fo->out.len) {
                fo->out.len = 0;
                fo->off = 0;
            }
            return (ssize_t)n;
        }
        now = berth_now_ms();
        if (fo->end_ms && now >= fo->end_ms) return MHD_CONTENT_READER_END_OF_STREAM;
        seq = events_seq(fo->ev);
        fo->f.after_id = fo->l.last_id;
        fo->l.settled_ms = fo->meta->ops->shared ? now - FOLLOW_SETTLE_MS : 0;
        if (fo->meta->events->events_query(fo->meta, &fo->f, add_line, &fo->l, &err) != BERTH_OK) {
            BERTH_LOG(BERTH_LOG_ERROR, "msg=\"log stream ended\" err=\"%s\"", berth_err_msg(&err));
            return MHD_CONTENT_READER_END_WITH_ERROR;
        }
        if (fo->out.len) {
            fo->beat_ms = now + FOLLOW_HEARTBEAT_MS;
            continue;
        }
        if (now >= fo->beat_ms) {
            berth_buf_putc(&fo->out, '\n');
            fo->beat_ms = now + FOLLOW_HEARTBEAT_MS;
            continue;
        }
        wake = fo->end_ms && fo->end_ms < fo->beat_ms ? fo->end_ms : fo->beat_ms;
        /* this server's writer wakes its followers; what servers sharing the store write, a poll finds */
        if (fo->meta->ops->shared && now + FOLLOW_POLL_SHARED_MS < wake) wake = now + FOLLOW_POLL_SHARED_MS;
        r = events_follow_wait(fo->ev, &fo->w, fo->conn, seq, wake);
        if (r < 0) return MHD_CONTENT_READER_END_OF_STREAM;
        if (r > 0) return 0; /* suspended: called again once resumed */
    }
}

static void follow_free(void *cls)
{
    struct follower *fo = cls;
    size_t i;

    if (!fo) return;
    if (fo->magic != FOLLOW_MAGIC) abort();
    events_follow_leave(fo->ev, &fo->w);
    for (i = 0; i < sizeof(fo->strs) / sizeof(fo->strs[0]); i++) free(fo->strs[i]);
    berth_buf_release(&fo->out);
    fo->magic = 0;
    free(fo);
}

static const char *keep_str(struct follower *fo, int i, const char *s)
{
    fo->strs[i] = s ? berth_xstrdup(s) : NULL;
    return fo->strs[i];
}

/* Answers the stream that stays open; takes backlog (the lines already due). */
static enum berth_rc follow_start(struct berth_req *req, const struct berth_meta_event_filter *f, struct lines *backlog,
                                  struct berth_err *err)
{
    struct follower *fo;
    struct MHD_Response *resp;
    int64_t timeout = 0;
    enum berth_rc rc;

    {
        const char *v = req_query(req, "timeout");
        uint64_t n;
        if (v && *v && (berth_parse_u64(v, strlen(v), &n) != 0 || n < 1 || n > FOLLOW_TIMEOUT_MAX))
            return berth_err_set(err, BERTH_EREQUEST, "'timeout' must be a whole number of seconds from 1 to %d",
                                 FOLLOW_TIMEOUT_MAX);
        if (v && *v) timeout = (int64_t)n;
    }
    if (events_follow_enter(req->http->events))
        return berth_err_set(err, BERTH_EUNAVAILABLE,
                             "too many log streams are being followed (event-followers is %lld); poll with 'after'",
                             (long long)req->http->cfg->event_followers);
    fo = berth_xcalloc(1, sizeof(*fo));
    fo->magic = FOLLOW_MAGIC;
    fo->meta = req->http->meta;
    fo->ev = req->http->events;
    fo->conn = req->conn;
    fo->w.suspend = follow_suspend;
    fo->w.resume = follow_resume;
    fo->f = *f;
    fo->f.identity = keep_str(fo, 0, f->identity);
    fo->f.ip = keep_str(fo, 1, f->ip);
    fo->f.reason = keep_str(fo, 2, f->reason);
    fo->f.repository = keep_str(fo, 3, f->repository);
    fo->f.operation = keep_str(fo, 4, f->operation);
    fo->f.oldest_first = 1;
    fo->f.before_id = 0;
    fo->f.limit = FOLLOW_BATCH;
    fo->end_ms = timeout ? berth_now_ms() + timeout * 1000 : 0;
    fo->beat_ms = berth_now_ms() + FOLLOW_HEARTBEAT_MS;
    fo->out = *backlog->b;
    *backlog->b = (struct berth_buf)BERTH_BUF_INIT(0);
    fo->l.b = &fo->out;
    fo->l.last_id = backlog->last_id;
    resp = MHD_create_response_from_callback(MHD_SIZE_UNKNOWN, 16 * 1024, follow_read, fo, follow_free);
    if (!resp) {
        follow_free(fo);
        return berth_err_set(err, BERTH_EINTERNAL, "cannot create the stream");
    }
    MHD_add_response_header(resp, "Content-Type", "application/x-ndjson");
    MHD_add_response_header(resp, "Cache-Control", "no-store");
    MHD_add_response_header(resp, "X-Accel-Buffering", "no");
    rc = req_respond(req, 200, resp);
    return rc ? berth_err_set(err, rc, "cannot answer the stream") : BERTH_OK;
}

/*
 * GET .../logs/stream: the most recent events of both logs (the filters and
 * limit as above), oldest first, one JSON object a line; with after=<id>,
 * the events after that one instead. follow=true keeps the stream open and
 * sends each new event as it is stored (an empty line every 30 s while
 * there are none); timeout=<s> ends it after that long.
 */
enum berth_rc api_mgmt_logs_stream_finish(struct berth_req *req, struct berth_err *err)
{
    struct berth_meta *m = req->http->meta;
    struct berth_meta_event_filter f;
    struct berth_buf b = BERTH_BUF_INIT(0);
    struct lines l = {&b, 0, 0};
    const char *follow = req_query(req, "follow");
    int following = 0;
    enum berth_rc rc;

    memset(&f, 0, sizeof(f));
    rc = logs_scope(req, &f, err);
    if (rc) goto out;
    if (follow && *follow) {
        if (!strcmp(follow, "true")) following = 1;
        else if (strcmp(follow, "false") != 0) {
            rc = berth_err_set(err, BERTH_EREQUEST, "'follow' must be true or false");
            goto out;
        }
    }
    rc = read_filter(req, &f, err);
    if (rc) goto out;
    rc = int_arg(req, "after", 1, INT64_MAX, &f.after_id, err);
    if (rc) goto out;
    f.log = -1;
    l.last_id = f.after_id;
    /* with after: the next events in order; without: the newest, turned oldest first below */
    f.oldest_first = f.after_id != 0;
    /* a client polling with after= on a shared store: only settled events, as for a follower */
    if (f.oldest_first && m->ops->shared) l.settled_ms = berth_now_ms() - FOLLOW_SETTLE_MS;
    if (f.oldest_first) rc = m->events->events_query(m, &f, add_line, &l, err);
    else rc = stream_newest(m, &f, &l, err);
    if (rc) goto out;
    if (following) rc = follow_start(req, &f, &l, err);
    else rc = req_respond_json(req, 200, &b, "application/x-ndjson");
out:
    berth_buf_release(&b);
    return rc;
}
