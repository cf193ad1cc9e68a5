/*
 * metrics.c - the metrics registry and its Prometheus text exposition
 * (GET /metrics), and the health routes GET /healthz and GET /readyz.
 *
 * The families are the rows of BERTH_METRICS_MAP (src/http/metrics.h).
 * Every value is a C11 atomic updated with relaxed ordering by the worker
 * threads, so counting takes no lock. Per-route values are indexed by route
 * table row; rows that share a label add into the first row with that label,
 * and one extra slot ("none") takes requests that matched no route. The
 * arrays are sized from the route table once, at first use.
 */
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "alloc.h"
#include "auth.h"
#include "config.h"
#include "doctor.h"
#include "log.h"
#include "metrics.h"
#include "util.h"
#include "version.h"
#include "http_int.h"
#include "banned.h"

#define NCODES 600 /* status codes 0..599; 0 = the request ended before an answer */

static const struct {
    const char *name, *type, *help;
} families[] = {
#define FAMILY_ROW(id, name, type, labels, help) {name, type, help},
    BERTH_METRICS_MAP(FAMILY_ROW)
#undef FAMILY_ROW
};

#define BUCKET_LE(le, us) le,
#define BUCKET_US(le, us) us,
static const char *const bucket_le[] = {BERTH_METRIC_BUCKETS(BUCKET_LE)};
static const int64_t bucket_us[] = {BERTH_METRIC_BUCKETS(BUCKET_US)};
#undef BUCKET_LE
#undef BUCKET_US
#define NBUCKETS (sizeof(bucket_us) / sizeof(bucket_us[0]))


#define REASON_OTHER BERTH_AUTH_REASON_COUNT /* a failed login without a refusal reason */

struct route_stats {
    _Atomic uint64_t codes[NCODES];
    _Atomic uint64_t buckets[NBUCKETS + 1]; /* per bucket, not cumulative; the last is +Inf */
    _Atomic uint64_t sum_us;
    _Atomic uint64_t bytes_in;
    _Atomic uint64_t bytes_out;
};

/* Process-wide; written by every worker thread through atomics only. */
static struct {
    size_t nrows;              /* route table rows; slot nrows is "none" */
    size_t *slot_of;           /* row -> the first row with the same label */
    struct route_stats *routes; /* nrows + 1 */
    _Atomic uint64_t logins[2][BERTH_AUTH_REASON_COUNT + 1]; /* [0] success, [1] failure */
    _Atomic int64_t uploads;
    _Atomic uint64_t store_errors;
    _Atomic uint64_t db_errors;
} reg;

static pthread_once_t reg_once = PTHREAD_ONCE_INIT;

static void reg_init(void)
{
    size_t i, j, k;

    reg.nrows = berth_route_count();
    reg.slot_of = berth_xcalloc(reg.nrows, sizeof(*reg.slot_of));
    reg.routes = berth_xcalloc(reg.nrows + 1, sizeof(*reg.routes));
    for (i = 0; i < reg.nrows; i++) {
        reg.slot_of[i] = i;
        for (j = 0; j < i; j++)
            if (!strcmp(berth_route_at(j)->label, berth_route_at(i)->label)) {
                reg.slot_of[i] = j;
                break;
            }
    }
    for (i = 0; i <= reg.nrows; i++) {
        struct route_stats *s = &reg.routes[i];
        for (k = 0; k < NCODES; k++) atomic_init(&s->codes[k], 0);
        for (k = 0; k <= NBUCKETS; k++) atomic_init(&s->buckets[k], 0);
        atomic_init(&s->sum_us, 0);
        atomic_init(&s->bytes_in, 0);
        atomic_init(&s->bytes_out, 0);
    }
}

static void reg_ready(void)
{
    pthread_once(&reg_once, reg_init);
}

static void add(_Atomic uint64_t *c, uint64_t n)
{
    atomic_fetch_add_explicit(c, n, memory_order_relaxed);
}

static uint64_t get(_Atomic uint64_t *c)
{
    return atomic_load_explicit(c, memory_order_relaxed);
}

static size_t slot_of_req(const struct berth_req *req)
{
    if (!req->route) return reg.nrows;
    return reg.slot_of[(size_t)(req->route - berth_route_at(0))];
}

static int is_upload(const struct route *r)
{
    return r && r->body == api_upload_chunk_body;
}

void metrics_request_begun(struct berth_req *req)
{
    reg_ready();
    if (!is_upload(req->route) || req->in_upload_gauge) return;
    req->in_upload_gauge = 1;
    atomic_fetch_add_explicit(&reg.uploads, 1, memory_order_relaxed);
}

static void login(int failed, size_t reason)
{
    add(&reg.logins[failed ? 1 : 0][reason], 1);
}

/*
 * A token endpoint is always a login attempt (the answer says how it went).
 * Elsewhere, a request that sent an Authorization header counts once the
 * credential check ran: a refusal reason means it failed, a known caller
 * means it succeeded; a request refused before the check is not counted.
 */
static void count_login(struct berth_req *req)
{
    const struct route *r = req->route;
    int token_route;

    if (!r || !req->status) return;
    token_route = r->finish == api_token_get_finish || r->finish == api_token_post_finish ||
                  r->finish == api_exchange_finish || r->finish == api_directory_token_finish;
    if (token_route) {
        if (req->status < 400) login(0, BERTH_AUTH_OK);
        else login(1, req->caller.reason > 0 && req->caller.reason < BERTH_AUTH_REASON_COUNT
                          ? (size_t)req->caller.reason
                          : REASON_OTHER);
        return;
    }
    if (r->kind == BERTH_ACCESS_NONE && r->begin != api_mgmt_begin) return;
    if (!berth_req_header(req, "Authorization")) return;
    if (req->caller.reason > 0 && req->caller.reason < BERTH_AUTH_REASON_COUNT) login(1, (size_t)req->caller.reason);
    else if (req->caller.principal[0]) login(0, BERTH_AUTH_OK);
}

void metrics_request_done(struct berth_req *req)
{
    struct route_stats *s;
    int64_t us = berth_mono_us() - req->start_us;
    size_t b;

    reg_ready();
    s = &reg.routes[slot_of_req(req)];
    add(&s->codes[req->status > 0 && req->status < NCODES ? req->status : 0], 1);
    if (us < 0) us = 0;
    for (b = 0; b < NBUCKETS && us > bucket_us[b]; b++) {
    }
    add(&s->buckets[b], 1);
    add(&s->sum_us, (uint64_t)us);
    add(&s->bytes_in, req->bytes_in);
    add(&s->bytes_out, req->bytes_out);
    if (req->in_upload_gauge) {
        req->in_upload_gauge = 0;
        atomic_fetch_sub_explicit(&reg.uploads, 1, memory_order_relaxed);
    }
    if (req->rc == BERTH_EIO) add(&reg.store_errors, 1);
    if (req->rc == BERTH_EDB) add(&reg.db_errors, 1);
    count_login(req);
}

/* ---------------------------------------------------------------- exposition */

/* A label value: backslash, double quote and newline are escaped. */
static void put_label(struct berth_buf *b, const char *name, const char *value, int first)
{
    const char *p;
    berth_buf_puts(b, first ? "{" : ",");
    berth_buf_puts(b, name);
    berth_buf_puts(b, "=\"");
    for (p = value; *p; p++) {
        if (*p == '\\') berth_buf_puts(b, "\\\\");
        else if (*p == '"') berth_buf_puts(b, "\\\"");
        else if (*p == '\n') berth_buf_puts(b, "\\n");
        else berth_buf_putc(b, *p);
    }
    berth_buf_putc(b, '"');
}

/* HELP text: backslash and newline are escaped. */
static void put_head(struct berth_buf *b, enum berth_metric_id id)
{
    const char *p;
    berth_buf_printf(b, "# HELP %s ", families[id].name);
    for (p = families[id].help; *p; p++) {
        if (*p == '\\') berth_buf_puts(b, "\\\\");
        else if (*p == '\n') berth_buf_puts(b, "\\n");
        else berth_buf_putc(b, *p);
    }
    berth_buf_printf(b, "\n# TYPE %s %s\n", families[id].name, families[id].type);
}

static const char *slot_label(size_t slot)
{
    return slot < reg.nrows ? berth_route_at(slot)->label : "none";
}

static int slot_used(size_t slot)
{
    size_t c;
    if (slot < reg.nrows && reg.slot_of[slot] != slot) return 0;
    for (c = 0; c < NCODES; c++)
        if (get(&reg.routes[slot].codes[c])) return 1;
    return 0;
}

static void put_plain(struct berth_buf *b, enum berth_metric_id id, uint64_t v)
{
    put_head(b, id);
    berth_buf_printf(b, "%s %llu\n", families[id].name, (unsigned long long)v);
}

static void put_requests(struct berth_buf *b)
{
    size_t slot, c;
    char code[8];

    put_head(b, BERTH_METRIC_HTTP_REQUESTS);
    for (slot = 0; slot <= reg.nrows; slot++) {
        if (!slot_used(slot)) continue;
        for (c = 0; c < NCODES; c++) {
            uint64_t v = get(&reg.routes[slot].codes[c]);
            if (!v) continue;
            snprintf(code, sizeof(code), "%zu", c);
            berth_buf_puts(b, families[BERTH_METRIC_HTTP_REQUESTS].name);
            put_label(b, "route", slot_label(slot), 1);
            put_label(b, "code", code, 0);
            berth_buf_printf(b, "} %llu\n", (unsigned long long)v);
        }
    }
}

/* _count is the sum of the buckets as read, so the +Inf bucket always equals it. */
static void put_duration(struct berth_buf *b)
{
    const char *name = families[BERTH_METRIC_HTTP_DURATION].name;
    size_t slot, i;

    put_head(b, BERTH_METRIC_HTTP_DURATION);
    for (slot = 0; slot <= reg.nrows; slot++) {
        uint64_t n[NBUCKETS + 1], cum = 0;
        if (!slot_used(slot)) continue;
        for (i = 0; i <= NBUCKETS; i++) n[i] = get(&reg.routes[slot].buckets[i]);
        for (i = 0; i <= NBUCKETS; i++) {
            cum += n[i];
            berth_buf_printf(b, "%s_bucket", name);
            put_label(b, "route", slot_label(slot), 1);
            put_label(b, "le", i < NBUCKETS ? bucket_le[i] : "+Inf", 0);
            berth_buf_printf(b, "} %llu\n", (unsigned long long)cum);
        }
        berth_buf_printf(b, "%s_sum", name);
        put_label(b, "route", slot_label(slot), 1);
        berth_buf_printf(b, "} %.6f\n", (double)get(&reg.routes[slot].sum_us) / 1e6);
        berth_buf_printf(b, "%s_count", name);
        put_label(b, "route", slot_label(slot), 1);
        berth_buf_printf(b, "} %llu\n", (unsigned long long)cum);
    }
}

static void put_bytes(struct berth_buf *b, enum berth_metric_id id, int out)
{
    size_t slot;

    put_head(b, id);
    for (slot = 0; slot <= reg.nrows; slot++) {
        struct route_stats *s = &reg.routes[slot];
        if (!slot_used(slot)) continue;
        berth_buf_puts(b, families[id].name);
        put_label(b, "route", slot_label(slot), 1);
        berth_buf_printf(b, "} %llu\n", (unsigned long long)get(out ? &s->bytes_out : &s->bytes_in));
    }
}

static void put_logins(struct berth_buf *b)
{
    size_t f, r;

    put_head(b, BERTH_METRIC_LOGINS);
    for (f = 0; f < 2; f++)
        for (r = 0; r <= BERTH_AUTH_REASON_COUNT; r++) {
            uint64_t v = get(&reg.logins[f][r]);
            if (!v) continue;
            berth_buf_puts(b, families[BERTH_METRIC_LOGINS].name);
            put_label(b, "result", f ? "failure" : "success", 1);
            put_label(b, "reason", r < BERTH_AUTH_REASON_COUNT ? berth_auth_reason_name((enum berth_auth_reason)r)
                                                               : "OTHER",
                      0);
            berth_buf_printf(b, "} %llu\n", (unsigned long long)v);
        }
}

/* A service counter; 0 without a service. */
static uint64_t svc_get(const _Atomic uint64_t *c)
{
    return c ? atomic_load_explicit(c, memory_order_relaxed) : 0;
}

static void put_tokens(struct berth_buf *b, const struct berth_service_metrics *svc)
{
    size_t i;

    put_head(b, BERTH_METRIC_TOKENS_ISSUED);
    for (i = 0; i < BERTH_GRANT_COUNT; i++) {
        berth_buf_puts(b, families[BERTH_METRIC_TOKENS_ISSUED].name);
        put_label(b, "grant_type", berth_grant_name((enum berth_grant)i), 1);
        berth_buf_printf(b, "} %llu\n", (unsigned long long)svc_get(svc ? &svc->tokens_issued[i] : NULL));
    }
}

/* What each registry holds, read at the scrape (registry_usage, one statement per registry). */
#define STORAGE_REGISTRIES_MAX 1000

struct storage {
    size_t n;
    char names[STORAGE_REGISTRIES_MAX][BERTH_META_NAME_MAX + 1];
    struct berth_meta_usage u[STORAGE_REGISTRIES_MAX];
    struct berth_meta *m;
};

static int add_registry_usage(const struct berth_meta_registry *r, void *ctx)
{
    struct storage *st = ctx;
    struct berth_err err = BERTH_ERR_INIT;

    if (st->n == STORAGE_REGISTRIES_MAX) return 1;
    if (st->m->content->registry_usage(st->m, r->id, &st->u[st->n], &err) != BERTH_OK) {
        BERTH_LOG(BERTH_LOG_WARN, "msg=\"metrics: cannot read a registry's usage\" registry=%s err=\"%s\"", r->name,
                  berth_err_msg(&err));
        return 0;
    }
    snprintf(st->names[st->n], sizeof(st->names[0]), "%s", r->name);
    st->n++;
    return 0;
}

static void put_storage(struct berth_buf *b, enum berth_metric_id id, const struct storage *st)
{
    size_t i;

    put_head(b, id);
    for (i = 0; st && i < st->n; i++) {
        const struct berth_meta_usage *u = &st->u[i];
        int64_t v = id == BERTH_METRIC_REGISTRY_BYTES          ? u->blob_bytes + u->manifest_bytes
                    : id == BERTH_METRIC_REGISTRY_REPOSITORIES ? u->repositories
                    : id == BERTH_METRIC_REGISTRY_MANIFESTS    ? u->manifests
                                                               : u->tags;
        berth_buf_puts(b, families[id].name);
        put_label(b, "registry", st->names[i], 1);
        berth_buf_printf(b, "} %lld\n", (long long)v);
    }
}

/*
 * Appends the Prometheus text exposition (format 0.0.4) of every metric to b:
 * the transport's own and the service's counters svc (NULL: zeros), and what
 * each registry holds (st; NULL: none).
 */
static void metrics_render(struct berth_buf *b, const struct berth_service_metrics *svc, const struct storage *st)
{
    int id;

    reg_ready();
    for (id = 0; id < BERTH_METRIC_COUNT; id++) {
        switch ((enum berth_metric_id)id) {
        case BERTH_METRIC_HTTP_REQUESTS: put_requests(b); break;
        case BERTH_METRIC_HTTP_DURATION: put_duration(b); break;
        case BERTH_METRIC_HTTP_BYTES_IN: put_bytes(b, BERTH_METRIC_HTTP_BYTES_IN, 0); break;
        case BERTH_METRIC_HTTP_BYTES_OUT: put_bytes(b, BERTH_METRIC_HTTP_BYTES_OUT, 1); break;
        case BERTH_METRIC_UPLOADS_IN_PROGRESS:
            put_head(b, BERTH_METRIC_UPLOADS_IN_PROGRESS);
            berth_buf_printf(b, "%s %lld\n", families[id].name,
                             (long long)atomic_load_explicit(&reg.uploads, memory_order_relaxed));
            break;
        case BERTH_METRIC_LOGINS: put_logins(b); break;
        case BERTH_METRIC_TOKENS_ISSUED: put_tokens(b, svc); break;
        case BERTH_METRIC_NETWORK_REFUSALS:
            put_plain(b, BERTH_METRIC_NETWORK_REFUSALS, svc_get(svc ? &svc->network_refusals : NULL));
            break;
        case BERTH_METRIC_EVENTS_DROPPED:
            put_plain(b, BERTH_METRIC_EVENTS_DROPPED, svc_get(svc ? &svc->events_dropped : NULL));
            break;
        case BERTH_METRIC_STORE_ERRORS: put_plain(b, BERTH_METRIC_STORE_ERRORS, get(&reg.store_errors)); break;
        case BERTH_METRIC_DB_ERRORS: put_plain(b, BERTH_METRIC_DB_ERRORS, get(&reg.db_errors)); break;
        case BERTH_METRIC_REGISTRY_BYTES:
        case BERTH_METRIC_REGISTRY_REPOSITORIES:
        case BERTH_METRIC_REGISTRY_MANIFESTS:
        case BERTH_METRIC_REGISTRY_TAGS: put_storage(b, (enum berth_metric_id)id, st); break;
        case BERTH_METRIC_BUILD_INFO:
            put_head(b, BERTH_METRIC_BUILD_INFO);
            berth_buf_puts(b, families[id].name);
            put_label(b, "version", BERTH_VERSION, 1);
            berth_buf_puts(b, "} 1\n");
            break;
        case BERTH_METRIC_COUNT: break;
        }
    }
}

/* ---------------------------------------------------------------- routes */

enum berth_rc metrics_config_check(const struct berth_config *cfg, struct berth_err *err)
{
    const char *m = cfg->metrics_access;
    if (!strcmp(m, "loopback") || !strcmp(m, "any") || !strcmp(m, "off")) return BERTH_OK;
    return berth_err_set(err, BERTH_ECONFIG, "config 'metrics-access': '%.40s' is not one of loopback, any, off", m);
}

/* Only the two loopback addresses themselves: tests stand in for remote hosts with 127.0.0.2 and up. */
static int is_loopback(const char *ip)
{
    return !strcmp(ip, "127.0.0.1") || !strcmp(ip, "::1") || !strcmp(ip, "::ffff:127.0.0.1");
}

/* GET /metrics */
enum berth_rc api_metrics_finish(struct berth_req *req, struct berth_err *err)
{
    const char *mode = BERTH_CFG_LIVE_STR(req->http->cfg, metrics_access);
    struct berth_buf b = BERTH_BUF_INIT(0);

    if (!strcmp(mode, "off")) return berth_err_set(err, BERTH_EDENIED, "metrics are turned off (metrics-access=off)");
    if (strcmp(mode, "any") != 0 && !is_loopback(req->caller.ip))
        return berth_err_set(err, BERTH_EDENIED, "metrics are served to loopback clients only, not to %s",
                             req->caller.ip);
    {
        struct berth_err lerr = BERTH_ERR_INIT;
        struct storage *st = berth_xcalloc(1, sizeof(*st));
        st->m = req->http->meta;
        if (st->m->reg->registry_list(st->m, add_registry_usage, st, &lerr) != BERTH_OK)
            BERTH_LOG(BERTH_LOG_WARN, "msg=\"metrics: cannot list the registries\" err=\"%s\"", berth_err_msg(&lerr));
        metrics_render(&b, &req->http->srv->metrics, st);
        free(st);
    }
    if (berth_buf_rc(&b)) {
        berth_buf_release(&b);
        return berth_err_set(err, BERTH_EINTERNAL, "cannot render the metrics");
    }
    return req_respond_json(req, 200, &b, "text/plain; version=0.0.4");
}

/* GET /healthz: the process is up and answering. */
enum berth_rc api_healthz_finish(struct berth_req *req, struct berth_err *err)
{
    struct berth_buf b = BERTH_BUF_INIT(0);
    (void)err;
    berth_buf_puts(&b, "{\"status\":\"ok\"}\n");
    return req_respond_json(req, 200, &b, "application/json");
}

/*
 * GET /readyz: the checks of berth doctor that are cheap and meaningful per
 * request (doctor.c, READY mode): the data folder and uploads/ take a file,
 * free space, the database answers, the signing keys are loaded and private,
 * the served certificate is in date, an S3 store takes, gives back and
 * deletes a small object. 503 when any is an ERROR; warnings keep
 * the server ready. "checks" maps each to "ok" or its code (the shape
 * monitors already read); "details" gives every status and code. Messages
 * name server paths, so they go to the log, not to this unauthenticated answer.
 */
enum berth_rc api_readyz_finish(struct berth_req *req, struct berth_err *err)
{
    struct berth_http *h = req->http;
    struct berth_doctor_input in;
    struct berth_doctor_tls tls;
    struct berth_doctor_report r;
    struct berth_buf b = BERTH_BUF_INIT(0);
    int unready;
    size_t i;

    (void)err;
    memset(&in, 0, sizeof(in));
    in.cfg = h->cfg;
    in.meta = h->meta;
    in.keys = h->az ? h->az->keys : NULL;
    in.tls = http_tls_period(h, &tls) ? &tls : NULL;
    in.blobs = h->blobs;
    berth_doctor_run(&in, BERTH_DOCTOR_READY, &r);
    unready = berth_doctor_worst(&r) == BERTH_CHECK_ERROR;
    berth_buf_printf(&b, "{\"status\":\"%s\",\"checks\":{", unready ? "unready" : "ready");
    for (i = 0; i < r.n; i++) {
        const struct berth_check *k = &r.checks[i];
        berth_buf_printf(&b, "%s\"%s\":\"%s\"", i ? "," : "", k->key, k->code ? berth_doctor_code_name(k->code) : "ok");
        if (k->status == BERTH_CHECK_ERROR)
            BERTH_LOG(BERTH_LOG_WARN, "req=%s msg=\"readyz: %s\" code=%s err=\"%s\"", req->id, k->name,
                      berth_doctor_code_name(k->code), k->message);
    }
    berth_buf_puts(&b, "},\"details\":[");
    for (i = 0; i < r.n; i++)
        berth_buf_printf(&b, "%s{\"name\":\"%s\",\"status\":\"%s\",\"code\":\"%s\"}", i ? "," : "", r.checks[i].name,
                         berth_doctor_status_name(r.checks[i].status), berth_doctor_code_name(r.checks[i].code));
    berth_buf_puts(&b, "]}\n");
    return req_respond_json(req, unready ? 503 : 200, &b, "application/json");
}
