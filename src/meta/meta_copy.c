/*
 * meta_copy.c - a whole store at once, for berth migrate: the row counts of
 * every table, a copy of every row of one store into an empty one (any
 * driver to any driver), a comparison of two stores by checksums, and the
 * blobs the metadata references. The tables, their order and their keys
 * come from BERTH_META_TABLES (meta_sql.h); their columns come from the
 * engine, by name; values travel through the SQL layer as the integers,
 * texts and bytes they are, so nothing here knows a column of the schema.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "alloc.h"
#include "buf.h"
#include "meta_sql.h"
#include "parse.h"
#include "banned.h"

#define PAGE 500        /* rows read per statement: a PostgreSQL result holds a whole page in memory */
#define PAGE_BYTES 32   /* ... of a table with a bytes column: manifests of up to manifest-max each */
#define KEY_MAX 3       /* columns of a table's key */
#define KEY_TEXT_MAX 512
#define COLS_MAX 30     /* columns of a table, besides the key (the PostgreSQL driver reads 32 a row) */
#define COL_NAME_MAX 64

struct table_def {
    const char *name;
    const char *key;   /* portable: "id", "repo_id, digest", "{ROWID}" */
    const char *local; /* the store's own column, copied as NULL; or NULL */
};

static const struct table_def tables[] = {
#define BERTH_TABLE_ROW(name, key, local) {#name, key, local},
    BERTH_META_TABLES(BERTH_TABLE_ROW)
#undef BERTH_TABLE_ROW
};
#define NTABLES (sizeof(tables) / sizeof(tables[0]))
_Static_assert(NTABLES <= BERTH_META_TABLES_MAX, "BERTH_META_TABLES has more rows than struct berth_meta_tables");

/* Columns by name, each with what it holds in one store (a and b: the two stores of a copy or a comparison). */
struct colset {
    int n;
    char name[COLS_MAX][COL_NAME_MAX];
    enum berth_sql_type type_a[COLS_MAX], type_b[COLS_MAX];
};

static int key_columns(const struct table_def *t)
{
    int n = 1;
    const char *p;

    for (p = t->key; *p; p++) n += *p == ',';
    return n;
}

/* ---- the catalog and row counts ---- */

struct names {
    size_t n;
    char v[2 * BERTH_META_TABLES_MAX][COL_NAME_MAX];
};

static enum berth_rc add_name(struct berth_sql_row *r, void *ctx, struct berth_err *err)
{
    struct names *l = ctx;

    if (l->n == sizeof(l->v) / sizeof(l->v[0]))
        return berth_err_set(err, BERTH_EDB, "the schema has more than %zu tables", l->n);
    if (berth_sql_copy(r, 0, l->v[l->n], sizeof(l->v[0])) != 0)
        return berth_err_set(err, BERTH_EDB, "the schema has a table with a name too long to copy");
    l->n++;
    return BERTH_OK;
}

/* Runs portable sql on c (a connection of its own), each row to fn. */
static enum berth_rc run_sql(struct berth_sql_conn *c, const char *op, const char *sql, const struct berth_sql_arg *args,
                             size_t nargs, berth_sql_row_fn fn, void *ctx, int64_t *rows, struct berth_err *err)
{
    struct berth_sql_prep p;
    enum berth_rc rc = berth_sql_prepare(c, op, sql, &p, err);

    if (!rc) rc = berth_sql_prep_run(&p, args, nargs, fn, ctx, rows, err);
    berth_sql_prep_close(&p);
    return rc;
}

/* The schema holds exactly the tables of BERTH_META_TABLES, besides the engine's own bookkeeping. */
static enum berth_rc check_catalog(struct berth_sql_conn *c, struct berth_err *err)
{
    const struct berth_sql_dialect *d = c->db->drv->dialect;
    struct names *l = berth_xcalloc(1, sizeof(*l));
    enum berth_rc rc;
    size_t i, j;

    rc = run_sql(c, "list the schema's tables", d->tables, SQL_NOARGS, add_name, l, NULL, err);
    if (rc) goto out;
    for (i = 0; i < l->n; i++) {
        if (d->schema_table && !strcmp(l->v[i], d->schema_table)) continue;
        for (j = 0; j < NTABLES && strcmp(tables[j].name, l->v[i]) != 0; j++) {}
        if (j == NTABLES) {
            rc = berth_err_set(err, BERTH_EDB, "the %s schema has a table '%s' that berth does not know how to copy"
                               " (BERTH_META_TABLES)", d->name, l->v[i]);
            goto out;
        }
    }
    for (j = 0; j < NTABLES; j++) {
        for (i = 0; i < l->n && strcmp(tables[j].name, l->v[i]) != 0; i++) {}
        if (i == l->n) {
            rc = berth_err_set(err, BERTH_EDB, "the %s schema has no table '%s'", d->name, tables[j].name);
            goto out;
        }
    }
out:
    free(l);
    return rc;
}

static enum berth_rc read_count(struct berth_sql_row *r, void *ctx, struct berth_err *err)
{
    (void)err;
    *(int64_t *)ctx = berth_sql_int(r, 0);
    return BERTH_OK;
}

static enum berth_rc count_rows(struct berth_sql_conn *c, const struct table_def *t, int64_t *n,
                                struct berth_err *err)
{
    char sql[128];

    *n = 0;
    snprintf(sql, sizeof(sql), "SELECT count(*) FROM \"%s\"", t->name);
    return run_sql(c, "count rows", sql, SQL_NOARGS, read_count, n, NULL, err);
}

static enum berth_rc count_all(struct berth_sql_conn *c, struct berth_meta_tables *out, struct berth_err *err)
{
    enum berth_rc rc = check_catalog(c, err);
    size_t i;

    memset(out, 0, sizeof(*out));
    for (i = 0; i < NTABLES && !rc; i++) {
        out->t[i].name = tables[i].name;
        rc = count_rows(c, &tables[i], &out->t[i].rows, err);
    }
    out->n = NTABLES;
    return rc;
}

static enum berth_rc count_fn(struct berth_sql_conn *c, void *ctx, struct berth_err *err)
{
    return count_all(c, ctx, err);
}

enum berth_rc berth_meta_tables_count(struct berth_meta *m, struct berth_meta_tables *out, struct berth_err *err)
{
    struct berth_sql_conn *h = berth_sql_db(m);

    return berth_sql_tx_begin(m, "count rows", h->db->drv->dialect->begin_read, count_fn, out, err);
}

/* ---- columns ---- */

/* The columns of table t in the store c belongs to: names into names, types into types (either side of a colset). */
static enum berth_rc table_columns(struct berth_sql_conn *c, const struct table_def *t, struct colset *names,
                                   enum berth_sql_type *types, struct berth_err *err)
{
    struct berth_sql_prep p;
    char sql[128];
    enum berth_rc rc;
    int i, n;

    snprintf(sql, sizeof(sql), "SELECT * FROM \"%s\"", t->name);
    rc = berth_sql_prepare(c, "read a table's columns", sql, &p, err);
    if (rc) goto out;
    n = berth_sql_prep_columns(&p);
    if (n > COLS_MAX) {
        rc = berth_err_set(err, BERTH_EDB, "table %s has %d columns, more than a copy reads (%d)", t->name, n,
                           COLS_MAX);
        goto out;
    }
    for (i = 0; i < n; i++) {
        const char *name = berth_sql_prep_column_name(&p, i);
        if (!name || strlen(name) >= COL_NAME_MAX || strchr(name, '"')) {
            rc = berth_err_set(err, BERTH_EDB, "table %s has a column whose name cannot be copied", t->name);
            goto out;
        }
        snprintf(names->name[i], sizeof(names->name[i]), "%s", name);
        types[i] = berth_sql_prep_column_type(&p, i);
    }
    names->n = n;
out:
    berth_sql_prep_close(&p);
    return rc;
}

static int find_col(const struct colset *s, const char *name)
{
    int i;

    for (i = 0; i < s->n; i++)
        if (!strcmp(s->name[i], name)) return i;
    return -1;
}

/*
 * The columns of t both stores have, in b's order, with each store's type.
 * A column only one of them has must be that engine's {ROWID} column (the
 * PostgreSQL schema's seq, which SQLite's rowid stands for); anything else
 * means the schemas differ, which a copy refuses.
 */
static enum berth_rc shared_columns(struct berth_sql_conn *ca, struct berth_sql_conn *cb, const struct table_def *t,
                                    struct colset *out, struct berth_err *err)
{
    const struct berth_sql_dialect *da = ca->db->drv->dialect, *db = cb->db->drv->dialect;
    struct colset *a = berth_xcalloc(1, sizeof(*a)), *b = berth_xcalloc(1, sizeof(*b));
    enum berth_rc rc;
    int i, k;

    memset(out, 0, sizeof(*out));
    rc = table_columns(ca, t, a, a->type_a, err);
    if (!rc) rc = table_columns(cb, t, b, b->type_b, err);
    if (rc) goto out;
    for (i = 0; i < a->n; i++)
        if (find_col(b, a->name[i]) < 0 && strcmp(a->name[i], da->rowid) != 0) goto differ_a;
    for (i = 0; i < b->n; i++) {
        k = find_col(a, b->name[i]);
        if (k < 0) {
            if (strcmp(b->name[i], db->rowid) != 0) goto differ_b;
            continue;
        }
        snprintf(out->name[out->n], sizeof(out->name[0]), "%s", b->name[i]);
        out->type_a[out->n] = a->type_a[k];
        out->type_b[out->n] = b->type_b[i];
        out->n++;
    }
    goto out;
differ_a:
    rc = berth_err_set(err, BERTH_EDB, "table %s: column %s of the %s store has no place in the %s store; are both"
                       " at the same schema version?", t->name, a->name[i], da->name, db->name);
    goto out;
differ_b:
    rc = berth_err_set(err, BERTH_EDB, "table %s: column %s of the %s store is missing from the %s store; are both"
                       " at the same schema version?", t->name, b->name[i], db->name, da->name);
out:
    free(a);
    free(b);
    return rc;
}

/* ---- reading a table in key order, a page at a time ---- */

struct keyval {
    enum berth_sql_type type;
    int64_t i;
    char s[KEY_TEXT_MAX];
};

/* One value of a row, as a statement argument of type want (the column's type in the store it goes to). */
static enum berth_rc value_arg(struct berth_sql_row *r, int col, enum berth_sql_type want, struct berth_sql_arg *a,
                               struct berth_err *err)
{
    const void *p;
    size_t n;
    enum berth_rc rc;

    if (berth_sql_null(r, col)) {
        *a = SQL_NULL;
        return BERTH_OK;
    }
    switch (want) {
    case BERTH_SQL_T_INT: *a = SQL_I(berth_sql_int(r, col)); return BERTH_OK;
    case BERTH_SQL_T_BLOB:
        rc = berth_sql_blob(r, col, &p, &n, err);
        if (rc) return rc;
        *a = SQL_B(p, n);
        return BERTH_OK;
    default: *a = SQL_T(berth_sql_text(r, col)); return BERTH_OK;
    }
}

typedef enum berth_rc (*table_row_fn)(struct berth_sql_row *r, int off, void *ctx, struct berth_err *err);

struct walker {
    const struct table_def *t;
    const struct colset *cols;
    int nkey;
    struct keyval last[KEY_MAX]; /* the key of the last row read */
    struct keyval bound[KEY_MAX]; /* the key the page being read starts after (bound while it is stepped) */
    table_row_fn row;
    void *ctx;
    int64_t rows;
    /* progress */
    berth_meta_rows_fn progress;
    void *pctx;
    size_t ti;
    int64_t total, base; /* base: rows counted before this table's (a comparison counts two stores) */
};

static enum berth_rc walk_row(struct berth_sql_row *r, void *ctx, struct berth_err *err)
{
    struct walker *w = ctx;
    enum berth_rc rc = w->row(r, w->nkey, w->ctx, err);
    int k;

    if (rc) return rc;
    for (k = 0; k < w->nkey; k++) {
        struct keyval *v = &w->last[k];
        v->type = berth_sql_column_type(r, k);
        if (berth_sql_null(r, k))
            return berth_err_set(err, BERTH_EDB, "table %s: a row whose key is NULL", w->t->name);
        if (v->type == BERTH_SQL_T_INT) v->i = berth_sql_int(r, k);
        else if (berth_sql_copy(r, k, v->s, sizeof(v->s)) != 0)
            return berth_err_set(err, BERTH_EDB, "table %s: a key longer than %d bytes", w->t->name, KEY_TEXT_MAX - 1);
    }
    w->rows++;
    return BERTH_OK;
}

/* SELECT <key>, "c1", ... FROM "t" [WHERE (<key>) > (?1, ...)] ORDER BY <key> LIMIT ?n */
static void page_sql(const struct walker *w, int after, struct berth_buf *b)
{
    int i;

    berth_buf_printf(b, "SELECT %s", w->t->key);
    for (i = 0; i < w->cols->n; i++) berth_buf_printf(b, ", \"%s\"", w->cols->name[i]);
    berth_buf_printf(b, " FROM \"%s\"", w->t->name);
    if (after) {
        berth_buf_printf(b, " WHERE (%s) > (", w->t->key);
        for (i = 0; i < w->nkey; i++) berth_buf_printf(b, "%s?%d", i ? ", " : "", i + 1);
        berth_buf_puts(b, ")");
    }
    berth_buf_printf(b, " ORDER BY %s LIMIT ?%d", w->t->key, (after ? w->nkey : 0) + 1);
}

/* Every row of the table on c, in key order, to w->row; the columns read are w->cols (after the key's). */
static enum berth_rc walk_table(struct berth_sql_conn *c, struct walker *w, struct berth_err *err)
{
    struct berth_buf first = BERTH_BUF_INIT(0), next = BERTH_BUF_INIT(0);
    struct berth_sql_prep pf, pn;
    struct berth_sql_arg args[KEY_MAX + 1];
    enum berth_rc rc;
    int64_t got = 0, rows = PAGE;
    int page, k;

    memset(&pf, 0, sizeof(pf));
    memset(&pn, 0, sizeof(pn));
    w->nkey = key_columns(w->t);
    w->rows = 0;
    if (w->nkey > KEY_MAX) return berth_err_set(err, BERTH_EINTERNAL, "table %s: a key of more than %d columns",
                                                w->t->name, KEY_MAX);
    for (k = 0; k < w->cols->n; k++)
        if (w->cols->type_a[k] == BERTH_SQL_T_BLOB || w->cols->type_b[k] == BERTH_SQL_T_BLOB) rows = PAGE_BYTES;
    page_sql(w, 0, &first);
    page_sql(w, 1, &next);
    rc = berth_buf_rc(&first) ? berth_buf_rc(&first) : berth_buf_rc(&next);
    if (rc) {
        berth_err_set(err, rc, "table %s: cannot build its query", w->t->name);
        goto out;
    }
    rc = berth_sql_prepare(c, w->t->name, berth_buf_str(&first), &pf, err);
    if (!rc) rc = berth_sql_prepare(c, w->t->name, berth_buf_str(&next), &pn, err);
    for (page = 0; !rc; page++) {
        size_t n = 0;
        if (page) {
            memcpy(w->bound, w->last, sizeof(w->bound));
            for (k = 0; k < w->nkey; k++)
                args[n++] = w->bound[k].type == BERTH_SQL_T_INT ? SQL_I(w->bound[k].i) : SQL_T(w->bound[k].s);
        }
        args[n++] = SQL_I(rows);
        rc = berth_sql_prep_run(page ? &pn : &pf, args, n, walk_row, w, &got, err);
        if (!rc && w->progress) w->progress(w->t->name, w->ti, NTABLES, w->base + w->rows, w->total, w->pctx);
        if (got < rows) break;
    }
out:
    berth_sql_prep_close(&pf);
    berth_sql_prep_close(&pn);
    berth_buf_release(&first);
    berth_buf_release(&next);
    return rc;
}

/* ---- the blobs the metadata references ---- */

struct refs_ctx {
    berth_meta_blob_ref_fn fn;
    void *ctx;
};

static enum berth_rc ref_row(struct berth_sql_row *r, void *ctx, struct berth_err *err)
{
    struct refs_ctx *x = ctx;
    struct berth_digest d;
    enum berth_rc rc = berth_sql_digest(r, 0, &d, err);

    if (rc) return rc;
    return x->fn(&d, berth_sql_null(r, 1) ? -1 : berth_sql_int(r, 1), berth_sql_null(r, 2) ? -1 : berth_sql_int(r, 2),
                 x->ctx, err);
}

static enum berth_rc each_ref(struct berth_sql_conn *c, berth_meta_blob_ref_fn fn, void *ctx, struct berth_err *err)
{
    struct refs_ctx x = {fn, ctx};

    return berth_sql_each(c, "list the referenced blobs", SQL_BLOB_REFS, SQL_NOARGS, ref_row, &x, NULL, err);
}

enum berth_rc berth_meta_blob_refs(struct berth_meta *m, berth_meta_blob_ref_fn fn, void *ctx, struct berth_err *err)
{
    return each_ref(berth_sql_db(m), fn, ctx, err);
}

/* ---- the copy ---- */

struct copy_run {
    struct berth_meta *to;
    const struct berth_meta_copy_opts *o;
    struct berth_meta_tables *copied;
    struct berth_meta_tables src; /* the source's counts, in its snapshot */
    struct berth_sql_conn *sc;    /* the source's connection, in its snapshot */
};

/*
 * One table's inserts. Rows wait in a batch, their texts and bytes copied
 * (a source row's values live only until its next row), and go in one
 * INSERT of many rows: into PostgreSQL a row at a time would be a round
 * trip each.
 */
#define BATCH_VALUES 2000       /* values in one INSERT (SQLite takes 32766, PostgreSQL 65535) */
#define BATCH_BYTES (4u << 20)  /* texts and bytes a batch holds before it goes (manifests are large) */

struct copy_table {
    const struct colset *cols; /* a: the source's types, b: the target's */
    int local;                 /* index of the column copied as NULL, or -1 */
    int batch;                 /* rows of the many-row insert */
    struct berth_sql_prep one, many;
    struct berth_sql_arg *args; /* batch rows of cols->n; a text or blob's pointer is an offset into bytes */
    struct berth_buf bytes;
    int rows;                   /* rows waiting */
};

/* INSERT INTO "t" ("c1", ...) VALUES (?1, ...), ... for rows rows. */
static void insert_sql(const struct table_def *t, const struct colset *cols, int rows, struct berth_buf *b)
{
    int i, k, n = 0;

    berth_buf_printf(b, "INSERT INTO \"%s\" (", t->name);
    for (i = 0; i < cols->n; i++) berth_buf_printf(b, "%s\"%s\"", i ? ", " : "", cols->name[i]);
    berth_buf_puts(b, ") VALUES ");
    for (k = 0; k < rows; k++) {
        berth_buf_puts(b, k ? ", (" : "(");
        for (i = 0; i < cols->n; i++) berth_buf_printf(b, "%s?%d", i ? ", " : "", ++n);
        berth_buf_puts(b, ")");
    }
}

/* Writes the waiting rows: one many-row insert when the batch is full, else one insert a row. */
static enum berth_rc flush_rows(struct copy_table *ct, struct berth_err *err)
{
    size_t n = (size_t)ct->cols->n, i, total = (size_t)ct->rows * n;
    enum berth_rc rc = BERTH_OK;
    int k;

    if (!ct->rows) return BERTH_OK;
    rc = berth_buf_rc(&ct->bytes);
    if (rc) return berth_err_set(err, rc, "a batch of rows is too large to hold");
    for (i = 0; i < total; i++) {
        struct berth_sql_arg *a = &ct->args[i];
        if (a->type == BERTH_SQL_T_TEXT) a->s = ct->bytes.p + a->n;
        else if (a->type == BERTH_SQL_T_BLOB) a->p = ct->bytes.p + (size_t)a->i;
    }
    if (ct->rows == ct->batch) rc = berth_sql_prep_run(&ct->many, ct->args, total, NULL, NULL, NULL, err);
    for (k = 0; k < ct->rows && ct->rows != ct->batch && !rc; k++)
        rc = berth_sql_prep_run(&ct->one, ct->args + (size_t)k * n, n, NULL, NULL, NULL, err);
    ct->rows = 0;
    berth_buf_reset(&ct->bytes);
    return rc;
}

static enum berth_rc copy_row(struct berth_sql_row *r, int off, void *ctx, struct berth_err *err)
{
    struct copy_table *ct = ctx;
    struct berth_sql_arg *a = ct->args + (size_t)ct->rows * (size_t)ct->cols->n;
    enum berth_rc rc;
    int i;

    for (i = 0; i < ct->cols->n; i++) {
        if (i == ct->local) {
            a[i] = SQL_NULL;
            continue;
        }
        /* read as the target's column wants it: the engine converts, as it would for a SELECT */
        rc = value_arg(r, off + i, ct->cols->type_b[i], &a[i], err);
        if (rc) return rc;
        /* keep the bytes: offsets now, pointers when the batch goes (the buffer may move meanwhile) */
        if (a[i].type == BERTH_SQL_T_TEXT) {
            size_t at = ct->bytes.len;
            berth_buf_append(&ct->bytes, a[i].s, strlen(a[i].s) + 1);
            a[i].n = at;
        } else if (a[i].type == BERTH_SQL_T_BLOB) {
            size_t at = ct->bytes.len;
            berth_buf_append(&ct->bytes, a[i].p, a[i].n);
            a[i].i = (int64_t)at;
        }
    }
    ct->rows++;
    if (ct->rows == ct->batch || ct->bytes.len >= BATCH_BYTES) return flush_rows(ct, err);
    return BERTH_OK;
}

static enum berth_rc copy_table(struct copy_run *run, struct berth_sql_conn *dc, size_t ti, struct berth_err *err)
{
    const struct table_def *t = &tables[ti];
    struct colset *cols = berth_xcalloc(1, sizeof(*cols));
    struct berth_buf one = BERTH_BUF_INIT(0), many = BERTH_BUF_INIT(0);
    struct copy_table ct;
    struct walker w;
    enum berth_rc rc;

    memset(&ct, 0, sizeof(ct));
    memset(&w, 0, sizeof(w));
    ct.bytes = (struct berth_buf)BERTH_BUF_INIT(0);
    rc = shared_columns(run->sc, dc, t, cols, err);
    if (rc) goto out;
    ct.cols = cols;
    ct.local = t->local ? find_col(cols, t->local) : -1;
    ct.batch = cols->n ? BATCH_VALUES / cols->n : 1;
    if (ct.batch > PAGE) ct.batch = PAGE;
    ct.args = berth_xcalloc((size_t)ct.batch * (size_t)(cols->n ? cols->n : 1), sizeof(*ct.args));
    insert_sql(t, cols, 1, &one);
    insert_sql(t, cols, ct.batch, &many);
    rc = berth_buf_rc(&one) ? berth_buf_rc(&one) : berth_buf_rc(&many);
    if (rc) {
        berth_err_set(err, rc, "table %s: cannot build its insert", t->name);
        goto out;
    }
    rc = berth_sql_prepare(dc, t->name, berth_buf_str(&one), &ct.one, err);
    if (!rc) rc = berth_sql_prepare(dc, t->name, berth_buf_str(&many), &ct.many, err);
    if (rc) goto out;
    w.t = t;
    w.cols = cols;
    w.row = copy_row;
    w.ctx = &ct;
    w.progress = run->o ? run->o->progress : NULL;
    w.pctx = run->o ? run->o->ctx : NULL;
    w.ti = ti;
    w.total = run->src.t[ti].rows;
    rc = walk_table(run->sc, &w, err);
    if (!rc) rc = flush_rows(&ct, err);
    run->copied->t[ti].rows = w.rows;
out:
    berth_sql_prep_close(&ct.one);
    berth_sql_prep_close(&ct.many);
    berth_buf_release(&ct.bytes);
    berth_buf_release(&one);
    berth_buf_release(&many);
    free(ct.args);
    free(cols);
    return rc;
}

/* Refuses a target with any row: what it holds would mix with the copy, or clash with it. */
static enum berth_rc target_empty(struct berth_sql_conn *dc, struct berth_err *err)
{
    struct berth_buf held = BERTH_BUF_INIT(1024);
    enum berth_rc rc = BERTH_OK;
    size_t i;
    int64_t n;

    for (i = 0; i < NTABLES && !rc; i++) {
        rc = count_rows(dc, &tables[i], &n, err);
        if (!rc && n) berth_buf_printf(&held, "%s%s %lld", held.len ? ", " : "", tables[i].name, (long long)n);
    }
    if (!rc && held.len)
        rc = berth_err_set(err, BERTH_EEXIST, "the target metadata is not empty (%s)", berth_buf_str(&held));
    berth_buf_release(&held);
    return rc;
}

static enum berth_rc copy_write(struct berth_sql_conn *dc, void *ctx, struct berth_err *err)
{
    struct copy_run *run = ctx;
    const struct berth_sql_dialect *dd = dc->db->drv->dialect;
    enum berth_rc rc;
    size_t i;
    int64_t n;

    memset(run->copied, 0, sizeof(*run->copied)); /* a transaction run again starts over */
    run->copied->n = NTABLES;
    for (i = 0; i < NTABLES; i++) run->copied->t[i].name = tables[i].name;
    rc = check_catalog(dc, err);
    if (!rc) rc = target_empty(dc, err);
    for (i = 0; i < NTABLES && !rc; i++) rc = copy_table(run, dc, i, err);
    if (!rc && dd->reset_ids) rc = berth_sql_exec_text(dc, "set the identity sequences past the copied ids",
                                                       dd->reset_ids, err);
    for (i = 0; i < NTABLES && !rc; i++) {
        rc = count_rows(dc, &tables[i], &n, err);
        if (!rc && (n != run->copied->t[i].rows || n != run->src.t[i].rows))
            rc = berth_err_set(err, BERTH_EDB, "table %s: %lld rows in the source, %lld read, %lld in the target",
                               tables[i].name, (long long)run->src.t[i].rows, (long long)run->copied->t[i].rows,
                               (long long)n);
    }
    if (!rc && run->o && run->o->blob_check) rc = each_ref(dc, run->o->blob_check, run->o->ctx, err);
    return rc;
}

static enum berth_rc copy_read(struct berth_sql_conn *sc, void *ctx, struct berth_err *err)
{
    struct copy_run *run = ctx;
    enum berth_rc rc;

    run->sc = sc;
    rc = count_all(sc, &run->src, err);
    if (rc) return rc;
    return berth_sql_tx(run->to, "copy the metadata", copy_write, run, err);
}

enum berth_rc berth_meta_copy(struct berth_meta *from, struct berth_meta *to, const struct berth_meta_copy_opts *o,
                              struct berth_meta_tables *copied, struct berth_err *err)
{
    struct berth_sql_conn *h = berth_sql_db(from);
    struct copy_run run;

    berth_sql_db(to);
    memset(&run, 0, sizeof(run));
    run.to = to;
    run.o = o;
    run.copied = copied;
    return berth_sql_tx_begin(from, "read the source metadata", h->db->drv->dialect->begin_read, copy_read, &run,
                              err);
}

/* ---- comparing two stores ---- */

/* A value in a form that does not depend on the engine: 'N'; 'I' and 8 bytes big-endian; 'B', 8 bytes of length, bytes. */
static enum berth_rc hash_value(struct berth_hasher *h, struct berth_sql_row *r, int col, enum berth_sql_type type,
                                struct berth_err *err)
{
    unsigned char b[9];
    uint64_t v;
    const void *p;
    size_t n;
    enum berth_rc rc;
    int i;

    if (berth_sql_null(r, col)) {
        berth_hasher_update(h, "N", 1);
        return BERTH_OK;
    }
    if (type == BERTH_SQL_T_INT) {
        v = (uint64_t)berth_sql_int(r, col);
        b[0] = 'I';
    } else {
        rc = berth_sql_blob(r, col, &p, &n, err); /* a text's bytes, too */
        if (rc) return rc;
        v = n;
        b[0] = 'B';
    }
    for (i = 0; i < 8; i++) b[1 + i] = (unsigned char)(v >> (56 - 8 * i));
    berth_hasher_update(h, b, sizeof(b));
    if (type != BERTH_SQL_T_INT) berth_hasher_update(h, p, n);
    return BERTH_OK;
}

struct hash_table {
    const struct colset *cols;
    int side; /* 0: a's types, 1: b's */
    int local;
    struct berth_hasher h;
};

static enum berth_rc hash_row(struct berth_sql_row *r, int off, void *ctx, struct berth_err *err)
{
    struct hash_table *ht = ctx;
    enum berth_rc rc;
    int i;

    for (i = 0; i < ht->cols->n; i++) {
        if (i == ht->local) continue; /* each store's own */
        rc = hash_value(&ht->h, r, off + i, ht->side ? ht->cols->type_b[i] : ht->cols->type_a[i], err);
        if (rc) return rc;
    }
    return BERTH_OK;
}

struct cmp_run {
    struct berth_meta *b;
    struct berth_meta_tables *ta, *tb;
    berth_meta_rows_fn progress;
    void *ctx;
    struct berth_sql_conn *ca;
};

static enum berth_rc hash_side(struct berth_sql_conn *c, struct cmp_run *run, const struct colset *cols, size_t ti,
                               int side, int64_t base, int64_t total, struct berth_meta_table *out,
                               struct berth_err *err)
{
    const struct table_def *t = &tables[ti];
    struct hash_table ht;
    struct walker w;
    struct berth_digest d;
    enum berth_rc rc;

    memset(&w, 0, sizeof(w));
    ht.cols = cols;
    ht.side = side;
    ht.local = t->local ? find_col(cols, t->local) : -1;
    berth_hasher_init(&ht.h, BERTH_DIGEST_SHA256);
    w.t = t;
    w.cols = cols;
    w.row = hash_row;
    w.ctx = &ht;
    w.progress = run->progress;
    w.pctx = run->ctx;
    w.ti = ti;
    w.base = base;
    w.total = total;
    rc = walk_table(c, &w, err);
    berth_hasher_final(&ht.h, &d);
    berth_hasher_release(&ht.h);
    out->name = t->name;
    out->rows = w.rows;
    if (!rc) rc = berth_hex_decode(berth_digest_hex(&d), 2 * sizeof(out->sum), out->sum, err);
    return rc;
}

static enum berth_rc compare_b(struct berth_sql_conn *cb, void *ctx, struct berth_err *err)
{
    struct cmp_run *run = ctx;
    struct colset *cols = berth_xcalloc(1, sizeof(*cols));
    struct berth_meta_tables ca, cbn;
    enum berth_rc rc;
    size_t i;

    memset(run->ta, 0, sizeof(*run->ta));
    memset(run->tb, 0, sizeof(*run->tb));
    rc = count_all(run->ca, &ca, err);
    if (!rc) rc = count_all(cb, &cbn, err);
    for (i = 0; i < NTABLES && !rc; i++) {
        int64_t total = ca.t[i].rows + cbn.t[i].rows;
        rc = shared_columns(run->ca, cb, &tables[i], cols, err);
        if (!rc) rc = hash_side(run->ca, run, cols, i, 0, 0, total, &run->ta->t[i], err);
        if (!rc) rc = hash_side(cb, run, cols, i, 1, run->ta->t[i].rows, total, &run->tb->t[i], err);
    }
    run->ta->n = run->tb->n = NTABLES;
    free(cols);
    return rc;
}

static enum berth_rc compare_a(struct berth_sql_conn *ca, void *ctx, struct berth_err *err)
{
    struct cmp_run *run = ctx;
    struct berth_sql_conn *h = berth_sql_db(run->b);

    run->ca = ca;
    return berth_sql_tx_begin(run->b, "read the metadata", h->db->drv->dialect->begin_read, compare_b, run, err);
}

enum berth_rc berth_meta_compare(struct berth_meta *a, struct berth_meta *b, berth_meta_rows_fn progress, void *ctx,
                                 struct berth_meta_tables *ta, struct berth_meta_tables *tb, int *same,
                                 struct berth_err *err)
{
    struct berth_sql_conn *h = berth_sql_db(a);
    struct cmp_run run = {b, ta, tb, progress, ctx, NULL};
    enum berth_rc rc;
    size_t i;

    berth_sql_db(b);
    *same = 0;
    rc = berth_sql_tx_begin(a, "read the metadata", h->db->drv->dialect->begin_read, compare_a, &run, err);
    if (rc) return rc;
    *same = ta->n == tb->n;
    for (i = 0; i < ta->n && *same; i++)
        *same = ta->t[i].rows == tb->t[i].rows && !memcmp(ta->t[i].sum, tb->t[i].sum, sizeof(ta->t[i].sum));
    return BERTH_OK;
}
