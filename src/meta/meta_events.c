/*
 * meta_events.c - the login and repository event logs (struct
 * berth_meta_event_ops), on the SQL layer (meta_sql.h).
 */
#include <stdlib.h>
#include <string.h>
#include "alloc.h"
#include "buf.h"
#include "meta_sql.h"
#include "banned.h"

struct insert {
    struct berth_meta_event *const *e;
    size_t n;
};

static enum berth_rc insert_tx(struct berth_sql_conn *c, void *ctx, struct berth_err *err)
{
    const struct insert *x = ctx;
    enum berth_rc rc = BERTH_OK;
    size_t i;

    for (i = 0; i < x->n && !rc; i++) {
        const struct berth_meta_event *v = x->e[i];
        int64_t id = 0;
        rc = berth_sql_int1(c, "events_insert", SQL_EVENT_INSERT,
                            SQL_ARGS(SQL_I(v->log), SQL_I(v->time_ms), SQL_I(v->reg), SQL_T(v->registry),
                                     SQL_T(v->login_server), SQL_T(v->operation), SQL_T(v->identity_type),
                                     SQL_T(v->identity), SQL_T(v->identity_id), SQL_T(v->ip), SQL_T(v->user_agent),
                                     SQL_I(v->status), SQL_T(v->reason), SQL_T(v->request_id), SQL_I(v->duration_us),
                                     SQL_T(v->repository), SQL_T(v->tag), SQL_T(v->digest), SQL_T(v->media_type),
                                     SQL_T(v->artifact_type), SQL_I(v->size), SQL_T(v->jti)),
                            NULL, &id, err);
        if (!rc) x->e[i]->id = id;
    }
    return rc;
}

static enum berth_rc events_insert(struct berth_meta *m, struct berth_meta_event *const *e, size_t n,
                                   struct berth_err *err)
{
    struct insert x = {e, n};

    berth_sql_db(m);
    if (!n) return BERTH_OK;
    return berth_sql_tx(m, "events_insert", insert_tx, &x, err);
}

static void read_event(const struct berth_sql_row *r, struct berth_meta_event *e)
{
    memset(e, 0, sizeof(*e));
    e->id = berth_sql_int(r, 0);
    e->log = (int)berth_sql_int(r, 1);
    e->time_ms = berth_sql_int(r, 2);
    e->reg = berth_sql_int(r, 3);
    berth_sql_copy(r, 4, e->registry, sizeof(e->registry));
    berth_sql_copy(r, 5, e->login_server, sizeof(e->login_server));
    berth_sql_copy(r, 6, e->operation, sizeof(e->operation));
    berth_sql_copy(r, 7, e->identity_type, sizeof(e->identity_type));
    berth_sql_copy(r, 8, e->identity, sizeof(e->identity));
    berth_sql_copy(r, 9, e->identity_id, sizeof(e->identity_id));
    berth_sql_copy(r, 10, e->ip, sizeof(e->ip));
    berth_sql_copy(r, 11, e->user_agent, sizeof(e->user_agent));
    e->status = (int)berth_sql_int(r, 12);
    berth_sql_copy(r, 13, e->reason, sizeof(e->reason));
    berth_sql_copy(r, 14, e->request_id, sizeof(e->request_id));
    e->duration_us = berth_sql_int(r, 15);
    berth_sql_copy(r, 16, e->repository, sizeof(e->repository));
    berth_sql_copy(r, 17, e->tag, sizeof(e->tag));
    berth_sql_copy(r, 18, e->digest, sizeof(e->digest));
    berth_sql_copy(r, 19, e->media_type, sizeof(e->media_type));
    berth_sql_copy(r, 20, e->artifact_type, sizeof(e->artifact_type));
    e->size = berth_sql_int(r, 21);
    berth_sql_copy(r, 22, e->jti, sizeof(e->jti));
}

struct query {
    struct berth_meta_event *e;
    berth_meta_event_fn fn;
    void *ctx;
};

static enum berth_rc give_event(struct berth_sql_row *r, void *ctx, struct berth_err *err)
{
    struct query *q = ctx;

    (void)err;
    read_event(r, q->e);
    if (q->fn(q->e, q->ctx)) r->stop = 1;
    return BERTH_OK;
}

#define EVENT_ARGS_MAX 16

/* The query is built from fixed text only; every value is bound. */
static enum berth_rc events_query(struct berth_meta *m, const struct berth_meta_event_filter *f,
                                  berth_meta_event_fn fn, void *ctx, struct berth_err *err)
{
    struct berth_sql_conn *db = berth_sql_db(m);
    struct berth_sql_arg a[EVENT_ARGS_MAX];
    struct berth_buf sql = BERTH_BUF_INIT(0);
    struct query q = {NULL, fn, ctx};
    enum berth_rc rc;
    size_t k = 0;

    berth_buf_puts(&sql, f->all_registries ? "SELECT " BERTH_SQL_EVENT_COLS " FROM events WHERE 1 = 1"
                                           : "SELECT " BERTH_SQL_EVENT_COLS " FROM events WHERE registry_id = ?");
    if (!f->all_registries) a[k++] = SQL_I(f->reg);
    if (f->log >= 0) {
        berth_buf_puts(&sql, " AND log = ?");
        a[k++] = SQL_I(f->log);
    }
    if (f->since_ms) {
        berth_buf_puts(&sql, " AND time_ms >= ?");
        a[k++] = SQL_I(f->since_ms);
    }
    if (f->until_ms) {
        berth_buf_puts(&sql, " AND time_ms < ?");
        a[k++] = SQL_I(f->until_ms);
    }
    if (f->failed) berth_buf_puts(&sql, " AND status >= 400");
    if (f->identity) {
        berth_buf_puts(&sql, " AND (identity = ? OR identity_id = ?)");
        a[k++] = SQL_T(f->identity);
        a[k++] = SQL_T(f->identity);
    }
    if (f->ip) {
        berth_buf_puts(&sql, " AND ip = ?");
        a[k++] = SQL_T(f->ip);
    }
    if (f->reason) {
        berth_buf_puts(&sql, " AND reason = ?");
        a[k++] = SQL_T(f->reason);
    }
    if (f->not_reason) {
        berth_buf_puts(&sql, " AND reason <> ?");
        a[k++] = SQL_T(f->not_reason);
    }
    if (f->repository) {
        berth_buf_puts(&sql, " AND repository = ?");
        a[k++] = SQL_T(f->repository);
    }
    if (f->operation) {
        berth_buf_puts(&sql, " AND operation = ?");
        a[k++] = SQL_T(f->operation);
    }
    if (f->before_id) {
        berth_buf_puts(&sql, " AND id < ?");
        a[k++] = SQL_I(f->before_id);
    }
    if (f->after_id) {
        berth_buf_puts(&sql, " AND id > ?");
        a[k++] = SQL_I(f->after_id);
    }
    berth_buf_puts(&sql, f->oldest_first ? " ORDER BY id ASC LIMIT ?" : " ORDER BY id DESC LIMIT ?");
    a[k++] = SQL_I(f->limit > 0 ? f->limit : 100);
    q.e = berth_xmalloc(sizeof(*q.e));
    rc = berth_sql_each_sql(db, "events_query", berth_buf_str(&sql), a, k, give_event, &q, NULL, err);
    free(q.e);
    berth_buf_release(&sql);
    return rc;
}

static enum berth_rc events_prune(struct berth_meta *m, int64_t before_ms, int64_t max_rows, int64_t *deleted,
                                  struct berth_err *err)
{
    struct berth_sql_conn *db = berth_sql_db(m);
    int64_t n = 0;
    enum berth_rc rc;

    *deleted = 0;
    rc = berth_sql_exec(db, "events_prune", SQL_EVENT_PRUNE_AGE, SQL_ARGS(SQL_I(before_ms)), &n, err);
    if (rc) return rc;
    *deleted += n;
    if (max_rows > 0) {
        n = 0;
        rc = berth_sql_exec(db, "events_prune", SQL_EVENT_PRUNE_ROWS, SQL_ARGS(SQL_I(max_rows)), &n, err);
        if (!rc) *deleted += n;
    }
    return rc;
}

const struct berth_meta_event_ops berth_sql_event_ops = {
    .events_insert = events_insert,
    .events_query = events_query,
    .events_prune = events_prune,
};
