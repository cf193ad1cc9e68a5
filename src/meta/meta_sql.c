/*
 * meta_sql.c - the SQL layer: the statement texts, the dialect tables and the
 * rewriter that renders a statement for one of them, and the helpers that run
 * a statement (or a transaction) on a driver's connection. Acquiring and
 * releasing a connection, binding, stepping and error mapping happen here
 * and nowhere else. docs/internals/meta.md describes the layers.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include "alloc.h"
#include "log.h"
#include "util.h"
#include "meta_sql.h"
#include "banned.h"

static const char *const stmt_sql[SQL_COUNT] = {
#define BERTH_SQL_TEXT(id, sql) sql,
    BERTH_META_STMTS(BERTH_SQL_TEXT)
#undef BERTH_SQL_TEXT
};

const char *berth_sql_portable(enum berth_sql_id id)
{
    return (unsigned)id < SQL_COUNT ? stmt_sql[id] : NULL;
}

/* ---- dialects ---- */

const struct berth_sql_dialect berth_sql_sqlite = {
    .name = "sqlite",
    .params = BERTH_SQL_PARAMS_QMARK,
    /* IMMEDIATE takes the write lock up front, so the busy timeout applies instead of a failed upgrade */
    .begin_write = "BEGIN IMMEDIATE",
    /* synchronous is the connection's: NORMAL skips the WAL's fsync at COMMIT, FULL (every connection's) is put back */
    .begin_relaxed = "PRAGMA synchronous=NORMAL; BEGIN IMMEDIATE",
    .end_relaxed = "PRAGMA synchronous=FULL",
    .limit_all_null = 0,
    .upsert = 1,
    .returning = 1,
    .rowid = "rowid",
    .fixed_join = "CROSS JOIN", /* SQLite never reorders the tables of a CROSS JOIN */
    .now_s = "CAST(strftime('%s', 'now') AS INTEGER)",
    .blob = "BLOB",
    .skip_locked = "", /* one writer at a time: nothing to skip */
    .begin_read = "BEGIN", /* deferred: the snapshot is the one the first read sees, kept to COMMIT */
    .tables = "SELECT name FROM sqlite_master WHERE type = 'table' AND substr(name, 1, 7) <> 'sqlite_'",
    .schema_table = NULL, /* PRAGMA user_version */
    .reset_ids = NULL,    /* a rowid key continues after the largest; AUTOINCREMENT's record follows it */
};

const struct berth_sql_dialect berth_sql_postgres = {
    .name = "postgres",
    .params = BERTH_SQL_PARAMS_DOLLAR,
    .begin_write = "BEGIN ISOLATION LEVEL SERIALIZABLE",
    /* SET LOCAL ends with the transaction: nothing to put back */
    .begin_relaxed = "BEGIN; SET LOCAL synchronous_commit TO off",
    .end_relaxed = NULL,
    .limit_all_null = 1,
    .upsert = 1,
    .returning = 1,
    .rowid = "seq", /* a bigserial column the PostgreSQL schema gives the tables listed in insertion order */
    .fixed_join = "JOIN",
    .now_s = "CAST(extract(epoch FROM now()) AS BIGINT)",
    .blob = "BYTEA",
    .skip_locked = " FOR UPDATE SKIP LOCKED",
    .begin_read = "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY",
    .tables = "SELECT table_name FROM information_schema.tables"
              " WHERE table_schema = current_schema() AND table_type = 'BASE TABLE'",
    .schema_table = "berth_schema",
    /* an identity column's sequence knows nothing of the ids a copy wrote: each goes past its table's largest */
    .reset_ids = "DO $$ DECLARE c record; BEGIN"
                 " FOR c IN SELECT table_name, column_name FROM information_schema.columns"
                 " WHERE table_schema = current_schema() AND is_identity = 'YES' LOOP"
                 " EXECUTE format('SELECT setval(pg_get_serial_sequence(%L, %L),"
                 " coalesce((SELECT max(%I) FROM %I), 0) + 1, false)',"
                 " quote_ident(c.table_name), c.column_name, c.column_name, c.table_name);"
                 " END LOOP; END $$",
};

static const char *dialect_name(const struct berth_sql_dialect *d, const char *name, size_t len)
{
    static const struct {
        const char *name;
        size_t off;
    } names[] = {
        {"ROWID", offsetof(struct berth_sql_dialect, rowid)},
        {"FIXED_JOIN", offsetof(struct berth_sql_dialect, fixed_join)},
        {"NOW_S", offsetof(struct berth_sql_dialect, now_s)},
        {"BLOB", offsetof(struct berth_sql_dialect, blob)},
        {"SKIP_LOCKED", offsetof(struct berth_sql_dialect, skip_locked)},
    };
    size_t i;

    for (i = 0; i < sizeof(names) / sizeof(names[0]); i++)
        if (strlen(names[i].name) == len && memcmp(names[i].name, name, len) == 0)
            return *(const char *const *)((const char *)d + names[i].off);
    return NULL;
}

/* Length of the quoted text at s (opening quote q included, closing one too); 0 if it never closes. */
static size_t quoted_len(const char *s, char q)
{
    const char *e = strchr(s + 1, q);
    return e ? (size_t)(e - s) + 1 : 0;
}

enum berth_rc berth_sql_render(const struct berth_sql_dialect *d, const char *sql, char **out, struct berth_err *err)
{
    struct berth_buf b = BERTH_BUF_INIT(0);
    enum berth_rc rc = BERTH_OK;
    const char *p = sql, *e;
    long top = 0, n;
    size_t len;

    *out = NULL;
    while (*p) {
        if (*p == '\'' || *p == '"') {
            /* '' inside a literal ends one quoted run and starts the next: copied the same */
            len = quoted_len(p, *p);
            if (!len) {
                rc = berth_err_set(err, BERTH_EINTERNAL, "sql: unterminated quote in '%.60s'", sql);
                goto out;
            }
            berth_buf_append(&b, p, len);
            p += len;
        } else if (p[0] == '-' && p[1] == '-') {
            len = strcspn(p, "\n");
            berth_buf_append(&b, p, len);
            p += len;
        } else if (p[0] == '/' && p[1] == '*') {
            e = strstr(p + 2, "*/");
            len = e ? (size_t)(e - p) + 2 : strlen(p);
            berth_buf_append(&b, p, len);
            p += len;
        } else if (*p == '{') {
            const char *v;
            e = strchr(p, '}');
            v = e ? dialect_name(d, p + 1, (size_t)(e - p - 1)) : NULL;
            if (!v) {
                rc = berth_err_set(err, BERTH_EINTERNAL, "sql: dialect %s has no %.*s", d->name,
                                   (int)(e ? e - p + 1 : (long)strlen(p)), p);
                goto out;
            }
            berth_buf_puts(&b, v);
            p = e + 1;
        } else if (*p == '?' && d->params == BERTH_SQL_PARAMS_DOLLAR) {
            for (n = 0, e = p + 1; *e >= '0' && *e <= '9' && n < 100000; e++) n = n * 10 + (*e - '0');
            if (e == p + 1) n = top + 1; /* a bare ?: one above the highest so far, as SQLite numbers it */
            if (n > top) top = n;
            berth_buf_printf(&b, "$%ld", n);
            p = e;
        } else {
            berth_buf_putc(&b, *p++);
        }
    }
    rc = berth_buf_rc(&b);
    if (rc) goto out;
    *out = berth_buf_detach(&b, NULL);
out:
    berth_buf_release(&b);
    return rc;
}

/* ---- the store ---- */

enum berth_rc berth_sql_init(struct berth_sql *db, const struct berth_sql_driver *drv,
                             const struct berth_meta_ops *ops, struct berth_err *err)
{
    const struct berth_sql_dialect *d = drv->dialect;
    enum berth_rc rc = BERTH_OK;
    int i;

    if (!d->upsert || !d->returning)
        return berth_err_set(err, BERTH_EINTERNAL, "sql: dialect %s lacks ON CONFLICT or RETURNING", d->name);
    db->base.magic = BERTH_META_MAGIC;
    db->base.ops = ops;
    db->base.reg = &berth_sql_reg_ops;
    db->base.dir = &berth_sql_dir_ops;
    db->base.content = &berth_sql_content_ops;
    db->base.uploads = &berth_sql_upload_ops;
    db->base.events = &berth_sql_event_ops;
    db->base.auth = &berth_sql_auth_ops;
    db->magic = BERTH_SQL_MAGIC;
    db->drv = drv;
    db->any.db = db;
    db->any.bound = 0;
    for (i = 0; i < SQL_COUNT && !rc; i++) rc = berth_sql_render(d, stmt_sql[i], &db->text[i], err);
    if (rc) berth_sql_release(db);
    return rc;
}

void berth_sql_release(struct berth_sql *db)
{
    int i;

    if (!db) return;
    for (i = 0; i < SQL_COUNT; i++) {
        free(db->text[i]);
        db->text[i] = NULL;
    }
    db->magic = 0;
}

struct berth_sql_conn *berth_sql_db(struct berth_meta *m)
{
    struct berth_sql *db = (struct berth_sql *)m;

    if (!m || m->magic != BERTH_META_MAGIC || m->content != &berth_sql_content_ops || db->magic != BERTH_SQL_MAGIC) {
        fprintf(stderr, "berth: meta: not a store of the SQL layer\n");
        abort();
    }
    return &db->any;
}

/* ---- errors, connections and statements ---- */

static enum berth_rc engine_err(struct berth_sql_conn *c, int status, const char *op, struct berth_err *err)
{
    enum berth_sql_class cls = BERTH_SQL_OTHER;
    enum berth_rc rc = c->db->drv->error(c, status, op, &cls, err);

    if (c->bound) c->busy = cls == BERTH_SQL_BUSY;
    return rc;
}

/* A connection for one call: c itself when bound, else one of the pool (give it back with put_conn). */
static enum berth_rc get_conn(struct berth_sql_conn *c, struct berth_sql_conn **out, struct berth_err *err)
{
    if (c->bound) {
        *out = c;
        return BERTH_OK;
    }
    return c->db->drv->acquire(c->db, out, err);
}

static void put_conn(struct berth_sql_conn *c, struct berth_sql_conn *used)
{
    if (used && used != c) used->db->drv->release(used->db, used);
}

struct berth_sql_arg berth_sql_digest_arg(const struct berth_digest *d)
{
    return SQL_T(d ? d->s : NULL);
}

struct berth_sql_arg berth_sql_page_limit(struct berth_sql_conn *c, int64_t n)
{
    if (n >= 0 && n != INT64_MAX) return SQL_I(n + 1);
    return c->db->drv->dialect->limit_all_null ? SQL_NULL : SQL_I(-1);
}

static int bind_args(const struct berth_sql_driver *drv, struct berth_sql_stmt *st, const struct berth_sql_arg *a,
                     size_t n)
{
    int s = 0;
    size_t i;

    for (i = 0; i < n && s == 0; i++) {
        int k = (int)i + 1;
        switch (a[i].type) {
        case BERTH_SQL_T_NULL: s = drv->bind_null(st, k); break;
        case BERTH_SQL_T_INT: s = drv->bind_int(st, k, a[i].i); break;
        case BERTH_SQL_T_TEXT: s = a[i].s ? drv->bind_text(st, k, a[i].s) : drv->bind_null(st, k); break;
        case BERTH_SQL_T_BLOB: s = drv->bind_blob(st, k, a[i].p, a[i].n); break;
        }
    }
    return s;
}

/* Prepares (cached by slot, or for one use when sql is given) and binds; on success the caller steps and ends it. */
static enum berth_rc start(struct berth_sql_conn *c, const char *op, int slot, const char *sql,
                           const struct berth_sql_arg *args, size_t nargs, struct berth_sql_stmt **out,
                           struct berth_err *err)
{
    const struct berth_sql_driver *drv = c->db->drv;
    struct berth_sql_stmt *st = NULL;
    int s;

    *out = NULL;
    if (slot >= 0 && (unsigned)slot >= SQL_COUNT)
        return berth_err_set(err, BERTH_EINTERNAL, "%s: no statement %d", op, slot);
    s = drv->prepare(c, slot, slot >= 0 ? c->db->text[slot] : sql, &st);
    if (s != 0) return engine_err(c, s, slot >= 0 ? "prepare statement" : op, err);
    s = bind_args(drv, st, args, nargs);
    if (s != 0) {
        enum berth_rc rc = engine_err(c, s, op, err);
        if (slot >= 0) drv->reset(st);
        else drv->finalize(st);
        return rc;
    }
    *out = st;
    return BERTH_OK;
}

static void end(struct berth_sql_conn *c, int slot, struct berth_sql_stmt *st)
{
    if (!st) return;
    if (slot >= 0) c->db->drv->reset(st);
    else c->db->drv->finalize(st);
}

/* The one loop over rows: fn (may be NULL) reads each row until it sets stop; max_rows > 0 stops after that many. */
static enum berth_rc step_rows(struct berth_sql_row *r, int64_t max_rows, berth_sql_row_fn fn, void *ctx,
                               struct berth_err *err)
{
    enum berth_rc rc;
    int s;

    for (;;) {
        s = r->c->db->drv->step(r->st);
        if (s == BERTH_SQL_DONE) break;
        if (s != BERTH_SQL_ROW) return engine_err(r->c, s, r->op, err);
        r->n++;
        if (fn) {
            rc = fn(r, ctx, err);
            if (rc) return rc;
        }
        if (r->stop || (max_rows > 0 && r->n >= max_rows)) break;
    }
    return BERTH_OK;
}

/* A statement (by slot, or sql for one use) on a connection of the pool or c's own; *rows gets the rows seen. */
static enum berth_rc walk(struct berth_sql_conn *h, const char *op, int slot, const char *sql,
                          const struct berth_sql_arg *args, size_t nargs, int64_t max_rows, berth_sql_row_fn fn,
                          void *ctx, int64_t *rows, int64_t *changes, struct berth_err *err)
{
    struct berth_sql_conn *c = NULL;
    struct berth_sql_row r = {NULL, NULL, op, 0, 0, 0};
    enum berth_rc rc;

    rc = get_conn(h, &c, err);
    if (rc) return rc;
    rc = start(c, op, slot, sql, args, nargs, &r.st, err);
    if (rc) goto out;
    r.c = c;
    rc = step_rows(&r, max_rows, fn, ctx, err);
    if (rc) goto out;
    if (changes) *changes = c->db->drv->changes(c);
out:
    if (rows) *rows = r.n;
    end(c, slot, r.st);
    put_conn(h, c);
    return rc;
}

enum berth_rc berth_sql_exec(struct berth_sql_conn *c, const char *op, enum berth_sql_id id,
                             const struct berth_sql_arg *args, size_t nargs, int64_t *changes,
                             struct berth_err *err)
{
    return walk(c, op, (int)id, NULL, args, nargs, 0, NULL, NULL, NULL, changes, err);
}

enum berth_rc berth_sql_one(struct berth_sql_conn *c, const char *op, enum berth_sql_id id,
                            const struct berth_sql_arg *args, size_t nargs, berth_sql_row_fn fn, void *ctx,
                            int *found, struct berth_err *err)
{
    int64_t rows = 0;
    enum berth_rc rc = walk(c, op, (int)id, NULL, args, nargs, 1, fn, ctx, &rows, NULL, err);

    if (found) *found = rows > 0;
    return rc;
}

static enum berth_rc read_int(struct berth_sql_row *r, void *ctx, struct berth_err *err)
{
    (void)err;
    *(int64_t *)ctx = berth_sql_int(r, 0);
    return BERTH_OK;
}

enum berth_rc berth_sql_int1(struct berth_sql_conn *c, const char *op, enum berth_sql_id id,
                             const struct berth_sql_arg *args, size_t nargs, int *found, int64_t *val,
                             struct berth_err *err)
{
    return berth_sql_one(c, op, id, args, nargs, val ? read_int : NULL, val, found, err);
}

enum berth_rc berth_sql_each(struct berth_sql_conn *c, const char *op, enum berth_sql_id id,
                             const struct berth_sql_arg *args, size_t nargs, berth_sql_row_fn fn, void *ctx,
                             int64_t *rows, struct berth_err *err)
{
    return walk(c, op, (int)id, NULL, args, nargs, 0, fn, ctx, rows, NULL, err);
}

enum berth_rc berth_sql_each_sql(struct berth_sql_conn *c, const char *op, const char *sql,
                                 const struct berth_sql_arg *args, size_t nargs, berth_sql_row_fn fn, void *ctx,
                                 int64_t *rows, struct berth_err *err)
{
    char *text = NULL;
    enum berth_rc rc = berth_sql_render(c->db->drv->dialect, sql, &text, err);

    if (!rc) rc = walk(c, op, -1, text, args, nargs, 0, fn, ctx, rows, NULL, err);
    free(text);
    return rc;
}

enum berth_rc berth_sql_exec_text(struct berth_sql_conn *c, const char *op, const char *sql, struct berth_err *err)
{
    char *text = NULL;
    enum berth_rc rc;
    int s;

    if (!c->bound) return berth_err_set(err, BERTH_EINTERNAL, "%s: needs a connection of its own", op);
    rc = berth_sql_render(c->db->drv->dialect, sql, &text, err);
    if (rc) return rc;
    s = c->db->drv->exec(c, text);
    free(text);
    return s == 0 ? BERTH_OK : engine_err(c, s, op, err);
}

enum berth_rc berth_sql_prepare(struct berth_sql_conn *c, const char *op, const char *sql, struct berth_sql_prep *p,
                                struct berth_err *err)
{
    char *text = NULL;
    enum berth_rc rc;
    int s;

    memset(p, 0, sizeof(*p));
    if (!c->bound) return berth_err_set(err, BERTH_EINTERNAL, "%s: a prepared statement needs a connection of its own", op);
    rc = berth_sql_render(c->db->drv->dialect, sql, &text, err);
    if (rc) return rc;
    s = c->db->drv->prepare(c, -1, text, &p->st);
    free(text);
    if (s != 0) {
        p->st = NULL;
        return engine_err(c, s, op, err);
    }
    p->c = c;
    p->op = op;
    return BERTH_OK;
}

enum berth_rc berth_sql_prep_run(struct berth_sql_prep *p, const struct berth_sql_arg *args, size_t nargs,
                                 berth_sql_row_fn fn, void *ctx, int64_t *rows, struct berth_err *err)
{
    struct berth_sql_row r = {p->c, p->st, p->op, 0, 0, 0};
    enum berth_rc rc = BERTH_OK;
    int s = bind_args(p->c->db->drv, p->st, args, nargs);

    if (s != 0) rc = engine_err(p->c, s, p->op, err);
    else rc = step_rows(&r, 0, fn, ctx, err);
    p->c->db->drv->reset(p->st);
    if (rows) *rows = r.n;
    return rc;
}

void berth_sql_prep_close(struct berth_sql_prep *p)
{
    if (!p || !p->st) return;
    p->c->db->drv->finalize(p->st);
    p->st = NULL;
}

int berth_sql_prep_columns(const struct berth_sql_prep *p)
{
    return p->c->db->drv->column_count(p->st);
}

const char *berth_sql_prep_column_name(const struct berth_sql_prep *p, int col)
{
    return p->c->db->drv->column_name(p->st, col);
}

enum berth_sql_type berth_sql_prep_column_type(const struct berth_sql_prep *p, int col)
{
    return p->c->db->drv->column_type(p->st, col);
}

void berth_sql_list_release(struct berth_sql_list *l)
{
    if (!l) return;
    free(l->v);
    l->v = NULL;
    l->n = l->cap = 0;
}

struct list_ctx {
    berth_sql_row_fn read;
    struct berth_sql_list *out;
};

static enum berth_rc list_row(struct berth_sql_row *r, void *ctx, struct berth_err *err)
{
    struct list_ctx *l = ctx;
    struct berth_sql_list *o = l->out;
    enum berth_rc rc;
    void *elem;

    if (o->n == o->cap) {
        o->cap = o->cap ? 2 * o->cap : 16;
        o->v = berth_xrealloc(o->v, o->cap * o->size);
    }
    elem = (char *)o->v + o->n * o->size;
    memset(elem, 0, o->size);
    r->skip = 0;
    rc = l->read(r, elem, err);
    if (!rc && !r->skip) o->n++;
    return rc;
}

enum berth_rc berth_sql_list(struct berth_sql_conn *c, const char *op, enum berth_sql_id id,
                             const struct berth_sql_arg *args, size_t nargs, berth_sql_row_fn read,
                             struct berth_sql_list *out, int64_t *rows, struct berth_err *err)
{
    struct list_ctx l = {read, out};

    return walk(c, op, (int)id, NULL, args, nargs, 0, list_row, &l, rows, NULL, err);
}

struct names_ctx {
    int col;
    int64_t n, given;
    berth_meta_name_fn fn;
    void *ctx;
    int *more;
    int stopped;
};

/* After the last name wanted (or fn stopped), one more named row only tells whether names remain. */
static enum berth_rc names_row(struct berth_sql_row *r, void *ctx, struct berth_err *err)
{
    struct names_ctx *k = ctx;
    const char *name = berth_sql_text(r, k->col);

    (void)err;
    if (!name) return BERTH_OK;
    if (k->stopped || (k->n >= 0 && k->given >= k->n)) {
        if (k->more) *k->more = 1;
        r->stop = 1;
        return BERTH_OK;
    }
    k->given++;
    if (k->fn && k->fn(name, k->ctx)) k->stopped = 1;
    return BERTH_OK;
}

enum berth_rc berth_sql_names(struct berth_sql_conn *c, const char *op, enum berth_sql_id id,
                              const struct berth_sql_arg *args, size_t nargs, int col, int64_t n,
                              berth_meta_name_fn fn, void *ctx, int *more, int64_t *rows, struct berth_err *err)
{
    struct names_ctx k = {col, n, 0, fn, ctx, more, 0};

    if (more) *more = 0;
    return walk(c, op, (int)id, NULL, args, nargs, 0, names_row, &k, rows, NULL, err);
}

/* ---- connections held across statements, and transactions ---- */

enum berth_rc berth_sql_run(struct berth_meta *m, berth_sql_fn fn, void *ctx, struct berth_err *err)
{
    struct berth_sql_conn *h = berth_sql_db(m), *c = NULL;
    enum berth_rc rc;

    rc = h->db->drv->acquire(h->db, &c, err);
    if (rc) return rc;
    c->bound = 1;
    rc = fn(c, ctx, err);
    h->db->drv->release(h->db, c);
    return rc;
}

static enum berth_rc tx_exec(struct berth_sql_conn *c, const char *sql, const char *op, struct berth_err *err)
{
    int s = c->db->drv->exec(c, sql);
    return s == 0 ? BERTH_OK : engine_err(c, s, op, err);
}

static void tx_rollback(struct berth_sql_conn *c)
{
    struct berth_err ignored = BERTH_ERR_INIT;
    int busy = c->busy;

    if (c->db->drv->in_tx(c)) tx_exec(c, "ROLLBACK", "rollback", &ignored);
    c->busy = busy;
}

enum berth_rc berth_sql_tx(struct berth_meta *m, const char *op, berth_sql_fn fn, void *ctx,
                           struct berth_err *err)
{
    return berth_sql_tx_begin(m, op, berth_sql_db(m)->db->drv->dialect->begin_write, fn, ctx, err);
}

/* berth_sql_tx_begin, then end (may be NULL) once the transaction has ended, before the connection goes back */
static enum berth_rc tx_run(struct berth_meta *m, const char *op, const char *begin, const char *end, berth_sql_fn fn,
                            void *ctx, struct berth_err *err)
{
    struct berth_sql_conn *h = berth_sql_db(m), *c = NULL;
    const struct berth_sql_driver *drv = h->db->drv;
    enum berth_rc rc;
    int attempt, s;

    rc = drv->acquire(h->db, &c, err);
    if (rc) return rc;
    c->bound = 1;
    for (attempt = 0;; attempt++) {
        c->busy = 0;
        c->discard = 0;
        rc = tx_exec(c, begin, op, err);
        if (!rc) rc = fn(c, ctx, err);
        if (!rc && !c->discard) rc = tx_exec(c, "COMMIT", op, err);
        if (rc || c->discard) tx_rollback(c);
        if (!rc || !c->busy || attempt >= drv->tx_retries) break;
        /*
         * transactions that collided would collide again at once: wait 0.5..1 times 1, 2, 4 ... 128 ms
         * (40 runs on PostgreSQL: about 4 s in all before a writer gives up, so eight clients tagging
         * one repository at once on a busy machine all get through)
         */
        {
            uint32_t r = 0;
            int64_t us = (int64_t)1000 << (attempt < 7 ? attempt : 7);
            berth_random(&r, sizeof(r));
            us = us / 2 + (int64_t)(r % (uint32_t)(us / 2 + 1));
            nanosleep(&(struct timespec){(time_t)(us / 1000000), (long)(us % 1000000) * 1000}, NULL);
        }
    }
    c->discard = 0;
    /* a connection whose commits no longer wait for the disk must never serve a push: only out of memory gets here */
    if (end && (s = drv->exec(c, end)) != 0) {
        BERTH_LOG(BERTH_LOG_ERROR, "msg=\"cannot make commits wait for the disk again\" op=%s status=%d", op, s);
        abort();
    }
    drv->release(h->db, c);
    return rc;
}

enum berth_rc berth_sql_tx_begin(struct berth_meta *m, const char *op, const char *begin, berth_sql_fn fn, void *ctx,
                                 struct berth_err *err)
{
    return tx_run(m, op, begin, NULL, fn, ctx, err);
}

enum berth_rc berth_sql_tx_relaxed(struct berth_meta *m, const char *op, berth_sql_fn fn, void *ctx,
                                   struct berth_err *err)
{
    const struct berth_sql_dialect *d = berth_sql_db(m)->db->drv->dialect;
    return tx_run(m, op, d->begin_relaxed, d->end_relaxed, fn, ctx, err);
}

/* ---- reading a row ---- */

int berth_sql_null(const struct berth_sql_row *r, int col)
{
    return r->c->db->drv->column_null(r->st, col);
}

int64_t berth_sql_int(const struct berth_sql_row *r, int col)
{
    return r->c->db->drv->column_int(r->st, col);
}

const char *berth_sql_text(const struct berth_sql_row *r, int col)
{
    size_t n;
    return r->c->db->drv->column_text(r->st, col, &n);
}

enum berth_rc berth_sql_blob(const struct berth_sql_row *r, int col, const void **p, size_t *n,
                             struct berth_err *err)
{
    *n = 0;
    *p = r->c->db->drv->column_blob(r->st, col, n);
    if (!*p && *n) return berth_err_set(err, BERTH_EDB, "%s: out of memory reading a column", r->op);
    return BERTH_OK;
}

int berth_sql_copy(const struct berth_sql_row *r, int col, char *dst, size_t len)
{
    size_t n = 0;
    const char *s = r->c->db->drv->column_text(r->st, col, &n);

    if (!s || n >= len) return -1;
    memcpy(dst, s, n);
    dst[n] = '\0';
    return 0;
}

enum berth_sql_type berth_sql_column_type(const struct berth_sql_row *r, int col)
{
    return r->c->db->drv->column_type(r->st, col);
}

/* It was valid when written; this only guards against a damaged store, so a bad value is not a client's error. */
enum berth_rc berth_sql_digest(const struct berth_sql_row *r, int col, struct berth_digest *d,
                               struct berth_err *err)
{
    size_t i, n = 0;
    const char *s = r->c->db->drv->column_text(r->st, col, &n);
    enum berth_digest_alg alg;

    if (s && n == 7 + 64 && memcmp(s, "sha256:", 7) == 0) alg = BERTH_DIGEST_SHA256;
    else if (s && n == 7 + 128 && memcmp(s, "sha512:", 7) == 0) alg = BERTH_DIGEST_SHA512;
    else goto bad;
    for (i = 7; i < n; i++)
        if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f'))) goto bad;
    memcpy(d->s, s, n);
    d->s[n] = '\0';
    d->alg = alg;
    return BERTH_OK;
bad:
    return berth_err_set(err, BERTH_EDB, "stored digest '%.80s' is damaged", s ? s : "(null)");
}

/* ---- shared by the op files ---- */

enum berth_rc berth_sql_no_registry(int64_t reg, struct berth_err *err)
{
    return berth_err_set(err, BERTH_ENOENT, "registry %lld not found", (long long)reg);
}

enum berth_rc berth_sql_damaged(const char *what, struct berth_err *err)
{
    return berth_err_set(err, BERTH_EDB, "a stored %s row is damaged", what);
}

/* ---- the connection pool ---- */

void berth_sql_pool_init(struct berth_sql_pool *p, int max)
{
    memset(p, 0, sizeof(*p));
    pthread_mutex_init(&p->lock, NULL);
    pthread_cond_init(&p->cond, NULL);
    p->max = max;
}

enum berth_rc berth_sql_pool_take(struct berth_sql_pool *p, berth_sql_open_fn open, void *ctx,
                                  struct berth_sql_conn **out, struct berth_err *err)
{
    struct berth_sql_conn *c;
    enum berth_rc rc;

    pthread_mutex_lock(&p->lock);
    while (!p->idle && p->nopen >= p->max) pthread_cond_wait(&p->cond, &p->lock);
    if (p->idle) {
        c = p->idle;
        p->idle = c->pool_next;
        p->nidle--;
        pthread_mutex_unlock(&p->lock);
        c->pool_next = NULL;
        *out = c;
        return BERTH_OK;
    }
    p->nopen++; /* reserve the slot, then open outside the lock */
    pthread_mutex_unlock(&p->lock);
    rc = open(ctx, out, err);
    if (rc) {
        pthread_mutex_lock(&p->lock);
        p->nopen--;
        pthread_cond_signal(&p->cond);
        pthread_mutex_unlock(&p->lock);
    }
    return rc;
}

void berth_sql_pool_give(struct berth_sql_pool *p, struct berth_sql_conn *c)
{
    pthread_mutex_lock(&p->lock);
    c->pool_next = p->idle;
    p->idle = c;
    p->nidle++;
    pthread_cond_signal(&p->cond);
    pthread_mutex_unlock(&p->lock);
}

void berth_sql_pool_adopt(struct berth_sql_pool *p, struct berth_sql_conn *c)
{
    pthread_mutex_lock(&p->lock);
    p->nopen++;
    pthread_mutex_unlock(&p->lock);
    berth_sql_pool_give(p, c);
}

struct berth_sql_conn *berth_sql_pool_drain(struct berth_sql_pool *p)
{
    struct berth_sql_conn *c;

    pthread_mutex_lock(&p->lock);
    while (p->nidle < p->nopen) pthread_cond_wait(&p->cond, &p->lock);
    c = p->idle;
    p->idle = NULL;
    p->nidle = p->nopen = 0;
    pthread_mutex_unlock(&p->lock);
    return c;
}

void berth_sql_pool_destroy(struct berth_sql_pool *p)
{
    pthread_cond_destroy(&p->cond);
    pthread_mutex_destroy(&p->lock);
}
