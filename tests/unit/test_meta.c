/*
 * test_meta.c - the metadata suite. Each shared test runs once per entry in
 * drivers[] against a fresh store, so a new driver only adds a row there.
 * Tests at the end are specific to the SQLite driver.
 */
#include <pthread.h>
#include <signal.h>
#include <sqlite3.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>
#include "alloc.h"
#include "buf.h"
#include "meta.h"
#include "util.h"
#include "test.h"

struct driver {
    const struct berth_meta_ops *ops;
    /* A dsn naming a fresh, empty store for this test; malloc'd. */
    char *(*fresh)(const char *name);
};

static char *sqlite_fresh(const char *name)
{
    return berth_xasprintf("%s/%s.db", berth_test_tmpdir(), name);
}

/* PostgreSQL: a fresh database per test (berth_test_pg_fresh); the driver runs only when there is a server. */
static char *pg_fresh(const char *name)
{
    char *dsn = berth_test_pg_fresh(name);
    if (!dsn) BERTH_TEST_FAIL("no PostgreSQL server for the tests (BERTH_TEST_PG_HOST unset)");
    return dsn;
}

static const struct driver all_drivers[] = {
    {&berth_meta_sqlite_ops, sqlite_fresh},
    {&berth_meta_pg_ops, pg_fresh},
};

/* The drivers this run can test: PostgreSQL only where a server was started for it. */
static size_t ndrivers(void)
{
    const char *h = getenv("BERTH_TEST_PG_HOST");
    return h && *h ? 2 : 1;
}
#define drivers all_drivers

/* What each shared test body gets: an open store, its driver and a registry "default" (id reg). */
struct t {
    const struct driver *drv;
    const struct berth_meta_ops *ops;
    struct berth_meta *m;
    char *dsn;
    int64_t reg;
};

/* Expects BERTH_OK, printing the message of the local `err` otherwise. */
#define ASSERT_OK(expr)                                                                             \
    do {                                                                                            \
        enum berth_rc r_ = (expr);                                                                  \
        if (r_ != BERTH_OK) BERTH_TEST_FAIL("%s: %s: %s", #expr, berth_rc_name(r_), err.msg);       \
    } while (0)

/* Creates a registry with default settings and returns its id. */
static int64_t new_registry(struct berth_meta *m, const char *name)
{
    struct berth_err err = BERTH_ERR_INIT;
    struct berth_meta_registry r;

    memset(&r, 0, sizeof(r));
    snprintf(r.name, sizeof(r.name), "%s", name);
    ASSERT_OK(m->reg->registry_create(m, &r, &err));
    return r.id;
}

static void each_driver(const char *name, void (*body)(struct t *t))
{
    size_t i;

    for (i = 0; i < ndrivers(); i++) {
        struct berth_err err = BERTH_ERR_INIT;
        struct t t = {&drivers[i], drivers[i].ops, NULL, drivers[i].fresh(name), 0};
        ASSERT_OK(t.ops->open(t.dsn, &t.m, &err));
        t.reg = new_registry(t.m, "default");
        body(&t);
        t.ops->close(t.m);
        free(t.dsn);
    }
}

#define SHARED_TEST(name)                                                                           \
    static void name##_body(struct t *t);                                                           \
    TEST(name)                                                                                      \
    {                                                                                               \
        each_driver(#name, name##_body);                                                            \
    }                                                                                               \
    static void name##_body(struct t *t)

/* ---- helpers ---- */

/* ACR's locks for locks_set: write, delete, read, list (1 unlocked, 0 locked, -1 as it is). */
#define LOCKS(w, d, r, l) (&(struct berth_meta_locks){(w), (d), (r), (l)})

static struct berth_digest dg(unsigned n)
{
    struct berth_digest d;
    d.alg = BERTH_DIGEST_SHA256;
    snprintf(d.s, sizeof(d.s), "sha256:%064x", n);
    return d;
}

static struct berth_ref tag_ref(const char *tag)
{
    struct berth_ref r;
    memset(&r, 0, sizeof(r));
    snprintf(r.tag, sizeof(r.tag), "%s", tag);
    return r;
}

static struct berth_ref digest_ref(const struct berth_digest *d)
{
    struct berth_ref r;
    memset(&r, 0, sizeof(r));
    r.is_digest = 1;
    r.digest = *d;
    return r;
}

/* An image manifest of repo (in t's registry) with digest d and a payload naming it; no references. */
static struct berth_meta_manifest man(struct t *t, const char *repo, const struct berth_digest *d)
{
    struct berth_meta_manifest mf;
    memset(&mf, 0, sizeof(mf));
    mf.reg = t->reg;
    mf.repo = repo;
    mf.digest = d;
    mf.media_type = BERTH_MT_OCI_MANIFEST;
    mf.payload = d->s;
    mf.len = strlen(d->s);
    return mf;
}

/* Name callback: appends "name," to a berth_buf. */
static int collect(const char *name, void *ctx)
{
    struct berth_buf *b = ctx;
    berth_buf_puts(b, name);
    berth_buf_putc(b, ',');
    return 0;
}

/* Name callback that stops after the first name. */
static int collect_one(const char *name, void *ctx)
{
    collect(name, ctx);
    return 1;
}

/* gc callback: appends "repo@<last 4 hex>," so expectations stay short. */
static int collect_gc(const char *repo, const char *digest, void *ctx)
{
    struct berth_buf *b = ctx;
    size_t n = strlen(digest);
    berth_buf_printf(b, "%s@%s,", repo, n >= 4 ? digest + n - 4 : digest);
    return 0;
}

static const char *repos_of(struct t *t, const char *last, int64_t n, int *more)
{
    static struct berth_buf b = BERTH_BUF_INIT(0);
    struct berth_err err = BERTH_ERR_INIT;
    berth_buf_reset(&b);
    ASSERT_OK(t->m->content->repo_list(t->m, t->reg, last, n, collect, &b, more, &err));
    return berth_buf_str(&b);
}

static const char *tags_of(struct t *t, const char *repo, const char *last, int64_t n, int *more)
{
    static struct berth_buf b = BERTH_BUF_INIT(0);
    struct berth_err err = BERTH_ERR_INIT;
    berth_buf_reset(&b);
    ASSERT_OK(t->m->content->tag_list(t->m, t->reg, repo, last, n, collect, &b, more, &err));
    return berth_buf_str(&b);
}

/* Blobs gc's review queue holds, due now, after after (NULL: all), at most n, as "digest," each. */
static int collect_due(const struct berth_meta_gc_entry *e, void *ctx)
{
    berth_buf_printf(ctx, "%s,", e->digest);
    return 0;
}

/* The first due entry, whole. */
struct first_due {
    struct berth_meta_gc_entry e;
};

static int keep_first(const struct berth_meta_gc_entry *e, void *ctx)
{
    ((struct first_due *)ctx)->e = *e;
    return 1;
}

static void due_blobs(struct t *t, const struct berth_meta_gc_entry *after, int64_t n, struct berth_buf *out)
{
    struct berth_err err = BERTH_ERR_INIT;
    struct berth_meta_gc_entry start;

    memset(&start, 0, sizeof(start));
    start.review_ms = start.repo_id = -1;
    ASSERT_OK(t->m->content->gc_blobs_due(t->m, berth_now_ms(), after ? after : &start, n, collect_due, out, &err));
}

/* gc, returning the manifests it deleted as collect_gc writes them. */
static const char *gc_run(struct t *t, int64_t cutoff, int dry_run)
{
    static struct berth_buf b = BERTH_BUF_INIT(0);
    struct berth_err err = BERTH_ERR_INIT;
    berth_buf_reset(&b);
    ASSERT_OK(t->m->content->gc(t->m, cutoff, dry_run, collect_gc, NULL, &b, &err));
    return berth_buf_str(&b);
}

/* Digest of the manifest tag points at, or "" when the lookup fails. */
static const char *tagged(struct t *t, const char *repo, const char *tag)
{
    static struct berth_digest d;
    struct berth_err err = BERTH_ERR_INIT;
    struct berth_ref r = tag_ref(tag);
    if (t->m->content->manifest_get(t->m, t->reg, repo, &r, NULL, NULL, NULL, 0, &d, &err) != BERTH_OK) return "";
    return d.s;
}

static int has_manifest_in(struct t *t, int64_t reg, const char *repo, const struct berth_digest *d)
{
    struct berth_err err = BERTH_ERR_INIT;
    struct berth_ref r = digest_ref(d);
    return t->m->content->manifest_get(t->m, reg, repo, &r, NULL, NULL, NULL, 0, NULL, &err) == BERTH_OK;
}

static int has_manifest(struct t *t, const char *repo, const struct berth_digest *d)
{
    struct berth_err err = BERTH_ERR_INIT;
    struct berth_ref r = digest_ref(d);
    return t->m->content->manifest_get(t->m, t->reg, repo, &r, NULL, NULL, NULL, 0, NULL, &err) == BERTH_OK;
}

/* A push's claim with no store step: records the blob and links it. */
static enum berth_rc claim(struct berth_meta *m, int64_t reg, const char *repo,
                           const struct berth_digest *d, int64_t size, struct berth_err *err)
{
    struct berth_meta_claim c = {0};
    c.reg = reg;
    c.repo = repo;
    c.digest = d;
    c.size = size;
    return m->content->blob_claim(m, &c, err);
}

static int linked(struct t *t, const char *repo, const struct berth_digest *d)
{
    struct berth_err err = BERTH_ERR_INIT;
    return t->m->content->blob_linked(t->m, t->reg, repo, d, NULL, &err) == BERTH_OK;
}

/* A time such that every row written so far is older and every later row is not. */
static int64_t tick(void)
{
    int64_t t = berth_now_ms() + 1;
    while (berth_now_ms() < t) usleep(200);
    return t;
}

/* ---- shared tests ---- */

TEST(meta_postgres_server)
{
    if (ndrivers() < 2) TEST_SKIP("no PostgreSQL server for the tests (BERTH_TEST_PG_HOST unset; scripts/test.sh starts one)");
    ASSERT_TRUE(berth_meta_driver("postgres") == &berth_meta_pg_ops);
}

TEST(meta_driver_lookup)
{
    ASSERT_TRUE(berth_meta_driver("sqlite") == &berth_meta_sqlite_ops);
    ASSERT_TRUE(berth_meta_driver("nope") == NULL);
    ASSERT_TRUE(berth_meta_driver(NULL) == NULL);
    berth_meta_sqlite_ops.close(NULL);
}

SHARED_TEST(meta_open_ping_reopen)
{
    struct berth_err err = BERTH_ERR_INIT;
    ASSERT_OK(t->ops->ping(t->m, &err));
    t->ops->close(t->m);
    t->m = NULL;
    ASSERT_OK(t->ops->open(t->dsn, &t->m, &err));
    ASSERT_OK(t->ops->ping(t->m, &err));
}

/* inspect looks beside an open store and leaves an absent one absent (test_doctor.c breaks stores). */
SHARED_TEST(meta_inspect)
{
    struct berth_err err = BERTH_ERR_INIT;
    struct berth_meta_inspect ins, none;
    char *absent = t->drv->fresh("meta_inspect_absent");

    ASSERT_OK(t->ops->inspect(t->dsn, &ins, &err));
    ASSERT_TRUE(ins.exists && ins.intact);
    ASSERT_TRUE(ins.latest > 0);
    ASSERT_EQ_INT(ins.version, ins.latest);
    ASSERT_OK(t->ops->ping(t->m, &err));
    ASSERT_OK(t->ops->inspect(absent, &none, &err));
    ASSERT_EQ_INT(none.exists, 0);
    ASSERT_EQ_INT(none.version, 0);
    ASSERT_EQ_INT(none.latest, ins.latest);
    free(absent);
}

SHARED_TEST(meta_repo_list_pages)
{
    struct berth_err err = BERTH_ERR_INIT;
    struct berth_digest b = dg(1);
    struct berth_buf buf = BERTH_BUF_INIT(0);
    /* byte order: '-' < '/' < '0' < 'b' */
    const char *names[] = {"beta", "alpha/x", "alpha", "alpha-x", "alpha0"};
    size_t i;
    int more = -1;

    ASSERT_EQ_STR(repos_of(t, NULL, 10, &more), "");
    ASSERT_EQ_INT(more, 0);
    ASSERT_RC(t->m->content->repo_exists(t->m, t->reg, "alpha", &err), BERTH_ENAMEUNKNOWN);
    for (i = 0; i < sizeof(names) / sizeof(names[0]); i++)
        ASSERT_OK(claim(t->m, t->reg, names[i], &b, 1, &err));
    ASSERT_OK(t->m->content->repo_exists(t->m, t->reg, "alpha", &err));
    ASSERT_EQ_STR(repos_of(t, NULL, 100, &more), "alpha,alpha-x,alpha/x,alpha0,beta,");
    ASSERT_EQ_INT(more, 0);
    ASSERT_EQ_STR(repos_of(t, NULL, -1, &more), "alpha,alpha-x,alpha/x,alpha0,beta,");
    ASSERT_EQ_INT(more, 0);
    ASSERT_EQ_STR(repos_of(t, NULL, 2, &more), "alpha,alpha-x,");
    ASSERT_EQ_INT(more, 1);
    ASSERT_EQ_STR(repos_of(t, "alpha-x", 2, &more), "alpha/x,alpha0,");
    ASSERT_EQ_INT(more, 1);
    ASSERT_EQ_STR(repos_of(t, "alpha0", 2, &more), "beta,");
    ASSERT_EQ_INT(more, 0);
    ASSERT_EQ_STR(repos_of(t, "alpha0", 1, &more), "beta,");
    ASSERT_EQ_INT(more, 0);
    ASSERT_EQ_STR(repos_of(t, "beta", 5, &more), "");
    ASSERT_EQ_INT(more, 0);
    /* last need not exist */
    ASSERT_EQ_STR(repos_of(t, "alpha.", 1, &more), "alpha/x,");
    ASSERT_EQ_INT(more, 1);
    /* n == 0: no names, more tells whether any follow */
    ASSERT_EQ_STR(repos_of(t, NULL, 0, &more), "");
    ASSERT_EQ_INT(more, 1);
    ASSERT_EQ_STR(repos_of(t, "alpha0", 0, &more), "");
    ASSERT_EQ_INT(more, 1);
    ASSERT_EQ_STR(repos_of(t, "beta", 0, &more), "");
    ASSERT_EQ_INT(more, 0);
    /* a callback that stops: more says names were left */
    ASSERT_OK(t->m->content->repo_list(t->m, t->reg, NULL, 10, collect_one, &buf, &more, &err));
    ASSERT_EQ_STR(berth_buf_str(&buf), "alpha,");
    ASSERT_EQ_INT(more, 1);
    berth_buf_reset(&buf);
    ASSERT_OK(t->m->content->repo_list(t->m, t->reg, "alpha0", 10, collect_one, &buf, &more, &err));
    ASSERT_EQ_STR(berth_buf_str(&buf), "beta,");
    ASSERT_EQ_INT(more, 0);
    ASSERT_OK(t->m->content->repo_list(t->m, t->reg, NULL, 10, NULL, NULL, NULL, &err));
    berth_buf_release(&buf);
}

SHARED_TEST(meta_tag_list_pages)
{
    struct berth_err err = BERTH_ERR_INIT;
    struct berth_digest d = dg(7), b = dg(8);
    struct berth_meta_manifest mf = man(t, "r", &d);
    const char *tags[] = {"v2", "latest", "v1", "V1", "v1.0", "v1-rc"};
    size_t i;
    int more = -1;

    ASSERT_RC(t->m->content->tag_list(t->m, t->reg, "r", NULL, 10, collect, NULL, &more, &err), BERTH_ENAMEUNKNOWN);
    ASSERT_OK(claim(t->m, t->reg, "r", &b, 1, &err));
    ASSERT_EQ_STR(tags_of(t, "r", NULL, 10, &more), "");
    ASSERT_EQ_INT(more, 0);
    ASSERT_EQ_STR(tags_of(t, "r", NULL, 0, &more), "");
    ASSERT_EQ_INT(more, 0);
    for (i = 0; i < sizeof(tags) / sizeof(tags[0]); i++) ASSERT_OK(t->m->content->manifest_put(t->m, &mf, tags[i], &err));
    ASSERT_OK(t->m->content->manifest_put(t->m, &mf, NULL, &err));
    ASSERT_EQ_STR(tags_of(t, "r", NULL, 100, &more), "V1,latest,v1,v1-rc,v1.0,v2,");
    ASSERT_EQ_INT(more, 0);
    ASSERT_EQ_STR(tags_of(t, "r", NULL, 3, &more), "V1,latest,v1,");
    ASSERT_EQ_INT(more, 1);
    ASSERT_EQ_STR(tags_of(t, "r", "v1", 3, &more), "v1-rc,v1.0,v2,");
    ASSERT_EQ_INT(more, 0);
    ASSERT_EQ_STR(tags_of(t, "r", "v1", 2, &more), "v1-rc,v1.0,");
    ASSERT_EQ_INT(more, 1);
    ASSERT_EQ_STR(tags_of(t, "r", "v2", 2, &more), "");
    ASSERT_EQ_INT(more, 0);
    ASSERT_EQ_STR(tags_of(t, "r", NULL, 0, &more), "");
    ASSERT_EQ_INT(more, 1);
    ASSERT_EQ_STR(tags_of(t, "r", "v1.0", 0, &more), "");
    ASSERT_EQ_INT(more, 1);
    ASSERT_EQ_STR(tags_of(t, "r", "v2", 0, &more), "");
    ASSERT_EQ_INT(more, 0);
    ASSERT_EQ_STR(tags_of(t, "r", NULL, -1, &more), "V1,latest,v1,v1-rc,v1.0,v2,");
    ASSERT_RC(t->m->content->tag_list(t->m, t->reg, "other", NULL, 0, collect, NULL, &more, &err), BERTH_ENAMEUNKNOWN);
}

SHARED_TEST(meta_blob_links)
{
    struct berth_err err = BERTH_ERR_INIT;
    struct berth_digest b = dg(0xb1), c = dg(0xc1), d = dg(0xd1);
    struct berth_buf buf = BERTH_BUF_INIT(0);
    struct berth_meta_manifest mf = man(t, "one", &d);
    int64_t size = -1;
    int used = -1;

    ASSERT_RC(t->m->content->blob_linked(t->m, t->reg, "one", &b, &size, &err), BERTH_EBLOBUNKNOWN);
    ASSERT_TRUE(strstr(err.msg, b.s) != NULL);
    ASSERT_OK(t->m->content->blob_in_use(t->m, &b, &used, &err));
    ASSERT_EQ_INT(used, 0);
    ASSERT_OK(claim(t->m, t->reg, "one", &b, 42, &err));
    ASSERT_OK(claim(t->m, t->reg, "one", &b, 42, &err)); /* idempotent */
    ASSERT_OK(t->m->content->blob_linked(t->m, t->reg, "one", &b, &size, &err));
    ASSERT_EQ_INT(size, 42);
    ASSERT_OK(t->m->content->blob_linked(t->m, t->reg, "one", &b, NULL, &err));
    ASSERT_RC(t->m->content->blob_linked(t->m, t->reg, "two", &b, &size, &err), BERTH_EBLOBUNKNOWN);
    ASSERT_RC(t->m->content->blob_linked(t->m, t->reg, "one", &c, &size, &err), BERTH_EBLOBUNKNOWN);
    ASSERT_OK(claim(t->m, t->reg, "two", &b, 42, &err));
    ASSERT_OK(claim(t->m, t->reg, "a/zero", &b, 42, &err));
    ASSERT_OK(t->m->content->blob_repos(t->m, t->reg, &b, collect, &buf, &err));
    ASSERT_EQ_STR(berth_buf_str(&buf), "a/zero,one,two,");
    berth_buf_reset(&buf);
    ASSERT_OK(t->m->content->blob_repos(t->m, t->reg, &b, collect_one, &buf, &err));
    ASSERT_EQ_STR(berth_buf_str(&buf), "a/zero,");
    berth_buf_reset(&buf);
    ASSERT_OK(t->m->content->blob_repos(t->m, t->reg, &c, collect, &buf, &err));
    ASSERT_EQ_STR(berth_buf_str(&buf), "");
    ASSERT_OK(t->m->content->blob_in_use(t->m, &b, &used, &err));
    ASSERT_EQ_INT(used, 1);

    /* referenced by a manifest but linked nowhere still counts as in use */
    ASSERT_OK(claim(t->m, t->reg, "one", &c, 5, &err));
    mf.blobs = &c;
    mf.nblobs = 1;
    ASSERT_OK(t->m->content->manifest_put(t->m, &mf, "latest", &err));
    ASSERT_OK(t->m->content->blob_unlink(t->m, t->reg, "one", &c, &err));
    ASSERT_RC(t->m->content->blob_unlink(t->m, t->reg, "one", &c, &err), BERTH_EBLOBUNKNOWN);
    ASSERT_RC(t->m->content->blob_linked(t->m, t->reg, "one", &c, &size, &err), BERTH_EBLOBUNKNOWN);
    ASSERT_OK(t->m->content->blob_in_use(t->m, &c, &used, &err));
    ASSERT_EQ_INT(used, 1);
    ASSERT_OK(t->m->content->manifest_delete(t->m, t->reg, "one", &d, &err));
    ASSERT_OK(t->m->content->blob_in_use(t->m, &c, &used, &err));
    ASSERT_EQ_INT(used, 0);

    ASSERT_OK(t->m->content->blob_unlink(t->m, t->reg, "one", &b, &err));
    ASSERT_OK(t->m->content->blob_unlink(t->m, t->reg, "two", &b, &err));
    ASSERT_OK(t->m->content->blob_in_use(t->m, &b, &used, &err));
    ASSERT_EQ_INT(used, 1);
    ASSERT_OK(t->m->content->blob_unlink(t->m, t->reg, "a/zero", &b, &err));
    ASSERT_OK(t->m->content->blob_in_use(t->m, &b, &used, &err));
    ASSERT_EQ_INT(used, 0);
    ASSERT_RC(t->m->content->blob_unlink(t->m, t->reg, "nope", &b, &err), BERTH_EBLOBUNKNOWN);
    /* relinking renews the size */
    ASSERT_OK(claim(t->m, t->reg, "one", &b, 43, &err));
    ASSERT_OK(t->m->content->blob_linked(t->m, t->reg, "one", &b, &size, &err));
    ASSERT_EQ_INT(size, 43);
    ASSERT_RC(claim(t->m, t->reg, "one", &b, -1, &err), BERTH_EINVAL);
    berth_buf_release(&buf);
}

/* A store step for claims and reaps that counts its calls and fails on demand. */
struct fake_store {
    int calls;
    enum berth_rc fail; /* BERTH_OK: succeed */
    int have;           /* the bytes are "in the store" */
};

static enum berth_rc fake_put(void *p, struct berth_err *err)
{
    struct fake_store *f = p;
    f->calls++;
    if (f->fail) return berth_err_set(err, f->fail, "store step failed");
    f->have = 1;
    return BERTH_OK;
}

static enum berth_rc fake_remove(void *p, struct berth_err *err)
{
    struct fake_store *f = p;
    f->calls++;
    if (f->fail) return berth_err_set(err, f->fail, "store step failed");
    f->have = 0;
    return BERTH_OK;
}

SHARED_TEST(meta_blob_claim_and_reap)
{
    struct berth_err err = BERTH_ERR_INIT;
    struct berth_digest b = dg(0xb2), c = dg(0xc2), d = dg(0xd2);
    struct berth_buf buf = BERTH_BUF_INIT(0), want = BERTH_BUF_INIT(0);
    struct berth_meta_manifest mf = man(t, "src", &d);
    struct berth_meta_claim cl = {0};
    struct fake_store fs = {0};
    int reaped = -1;

    /* a push whose store step fails leaves nothing behind */
    cl.reg = t->reg;
    cl.repo = "src";
    cl.digest = &b;
    cl.size = 7;
    cl.store = fake_put;
    cl.ctx = &fs;
    fs.fail = BERTH_EIO;
    ASSERT_RC(t->m->content->blob_claim(t->m, &cl, &err), BERTH_EIO);
    ASSERT_EQ_INT(fs.calls, 1);
    ASSERT_TRUE(!(linked(t, "src", &b)));
    due_blobs(t, NULL, 10, &buf);
    ASSERT_EQ_STR(berth_buf_str(&buf), "");

    /* a push: the store step runs inside, the session's record ends with it */
    ASSERT_OK(t->m->uploads->upload_put(t->m, "up-1", t->reg, "src", "p", 1, 0, &err));
    fs.fail = BERTH_OK;
    cl.upload = "up-1";
    ASSERT_OK(t->m->content->blob_claim(t->m, &cl, &err));
    ASSERT_EQ_INT(fs.calls, 2);
    ASSERT_TRUE(fs.have);
    ASSERT_TRUE(linked(t, "src", &b));
    ASSERT_RC(t->m->uploads->upload_get(t->m, "up-1", NULL, NULL, 0, NULL, &err), BERTH_EUPLOADUNKNOWN);

    /* a mount needs the source's link and takes its size */
    cl.upload = NULL;
    cl.repo = "dst";
    cl.from = "nowhere";
    cl.size = 0;
    ASSERT_RC(t->m->content->blob_claim(t->m, &cl, &err), BERTH_EBLOBUNKNOWN);
    ASSERT_TRUE(!(linked(t, "dst", &b)));
    cl.from = "src";
    fs.fail = BERTH_EBLOBUNKNOWN; /* the bytes are gone: no mount */
    ASSERT_RC(t->m->content->blob_claim(t->m, &cl, &err), BERTH_EBLOBUNKNOWN);
    ASSERT_TRUE(!(linked(t, "dst", &b)));
    fs.fail = BERTH_OK;
    ASSERT_OK(t->m->content->blob_claim(t->m, &cl, &err));
    ASSERT_EQ_INT(cl.size, 7);
    ASSERT_TRUE(linked(t, "dst", &b));

    /* a used blob is never reaped, and its bytes are not touched */
    fs.calls = 0;
    ASSERT_OK(t->m->content->blob_reap(t->m, &b, 0, 0, fake_remove, &fs, &reaped, &err));
    ASSERT_EQ_INT(reaped, 0);
    ASSERT_EQ_INT(fs.calls, 0);
    /* an unlink queues the blob for review */
    ASSERT_OK(t->m->content->blob_unlink(t->m, t->reg, "dst", &b, &err));
    due_blobs(t, NULL, 10, &buf);
    berth_buf_printf(&want, "%s,", b.s);
    ASSERT_EQ_STR(berth_buf_str(&buf), berth_buf_str(&want));
    berth_buf_reset(&buf);
    berth_buf_reset(&want);
    ASSERT_OK(claim(t->m, t->reg, "src", &c, 1, &err));
    mf.blobs = &b;
    mf.nblobs = 1;
    ASSERT_OK(t->m->content->manifest_put(t->m, &mf, "latest", &err));
    ASSERT_OK(t->m->content->blob_unlink(t->m, t->reg, "src", &b, &err));
    /* a manifest references it: the review keeps it and drops the entry */
    ASSERT_OK(t->m->content->blob_reap(t->m, &b, 0, 1, fake_remove, &fs, &reaped, &err));
    ASSERT_EQ_INT(reaped, 0);
    due_blobs(t, NULL, 10, &buf);
    ASSERT_EQ_STR(berth_buf_str(&buf), "");
    /* unused: queued by what removed the last use, paged in review order; a dry run only looks, a failed
       removal keeps the record and the entry, then both go */
    ASSERT_OK(t->m->content->manifest_delete(t->m, t->reg, "src", &d, &err));
    tick();
    ASSERT_OK(t->m->content->blob_unlink(t->m, t->reg, "src", &c, &err));
    due_blobs(t, NULL, 10, &buf);
    berth_buf_printf(&buf, "|");
    due_blobs(t, NULL, 1, &buf);
    berth_buf_printf(&buf, "|");
    {
        struct first_due f;
        memset(&f, 0, sizeof(f));
        f.e.review_ms = f.e.repo_id = -1;
        ASSERT_OK(t->m->content->gc_blobs_due(t->m, berth_now_ms(), &f.e, 1, keep_first, &f, &err));
        ASSERT_EQ_STR(f.e.digest, b.s);
        due_blobs(t, &f.e, 10, &buf);
    }
    berth_buf_printf(&want, "%s,%s,|%s,|%s,", b.s, c.s, b.s, c.s);
    ASSERT_EQ_STR(berth_buf_str(&buf), berth_buf_str(&want));
    berth_buf_reset(&buf);
    berth_buf_reset(&want);
    ASSERT_OK(t->m->content->blob_reap(t->m, &b, 1, 1, fake_remove, &fs, &reaped, &err));
    ASSERT_EQ_INT(reaped, 1);
    ASSERT_EQ_INT(fs.calls, 0);
    fs.fail = BERTH_EIO;
    ASSERT_RC(t->m->content->blob_reap(t->m, &b, 0, 1, fake_remove, &fs, &reaped, &err), BERTH_EIO);
    ASSERT_EQ_INT(reaped, 0);
    ASSERT_TRUE(fs.have);
    fs.fail = BERTH_OK;
    ASSERT_OK(t->m->content->blob_reap(t->m, &b, 0, 1, fake_remove, &fs, &reaped, &err));
    ASSERT_EQ_INT(reaped, 1);
    ASSERT_TRUE(!(fs.have));
    due_blobs(t, NULL, 10, &buf);
    berth_buf_printf(&want, "%s,", c.s);
    ASSERT_EQ_STR(berth_buf_str(&buf), berth_buf_str(&want));
    berth_buf_reset(&buf);
    /* a blob with no record and no entry (bytes from a crash): a queued reap leaves it, a walk's reap takes it */
    ASSERT_OK(t->m->content->blob_reap(t->m, &d, 0, 1, NULL, NULL, &reaped, &err));
    ASSERT_EQ_INT(reaped, 0);
    ASSERT_OK(t->m->content->blob_reap(t->m, &d, 0, 0, NULL, NULL, &reaped, &err));
    ASSERT_EQ_INT(reaped, 1);
    berth_buf_release(&buf);
    berth_buf_release(&want);
}

SHARED_TEST(meta_upload_sessions_capped)
{
    struct berth_err err = BERTH_ERR_INIT;

    ASSERT_OK(t->m->uploads->upload_put(t->m, "c1", t->reg, "app", "user:a", 1, 2, &err));
    ASSERT_OK(t->m->uploads->upload_put(t->m, "c2", t->reg, "app", "user:a", 1, 2, &err));
    ASSERT_RC(t->m->uploads->upload_put(t->m, "c3", t->reg, "app", "user:a", 1, 2, &err), BERTH_ETOOMANY);
    ASSERT_TRUE(strstr(err.msg, "2 upload sessions") != NULL);
    ASSERT_RC(t->m->uploads->upload_get(t->m, "c3", NULL, NULL, 0, NULL, &err), BERTH_EUPLOADUNKNOWN);
    /* another client, another repository, or no cap */
    ASSERT_OK(t->m->uploads->upload_put(t->m, "c4", t->reg, "app", "user:b", 1, 2, &err));
    ASSERT_OK(t->m->uploads->upload_put(t->m, "c5", t->reg, "other", "user:a", 1, 2, &err));
    ASSERT_OK(t->m->uploads->upload_put(t->m, "c6", t->reg, "app", "user:a", 1, 0, &err));
    /* a finished session frees its place */
    ASSERT_OK(t->m->uploads->upload_delete(t->m, "c1", &err));
    ASSERT_OK(t->m->uploads->upload_delete(t->m, "c6", &err));
    ASSERT_OK(t->m->uploads->upload_put(t->m, "c7", t->reg, "app", "user:a", 1, 2, &err));
}

SHARED_TEST(meta_manifest_put_get)
{
    struct berth_err err = BERTH_ERR_INIT;
    static const char payload[] = "{\"schemaVersion\":2,\0\"x\":\"\xff\x00\x01\"}\0";
    size_t plen = sizeof(payload); /* NUL bytes inside and at the end */
    struct berth_digest d = dg(0xabc), layer = dg(0x1a), cfg = dg(0xcf), got;
    struct berth_digest blobs[2] = {cfg, layer};
    struct berth_meta_manifest mf = man(t, "lib/app", &d);
    struct berth_buf buf = BERTH_BUF_INIT(1 << 20), small = BERTH_BUF_INIT(10);
    struct berth_ref byt = tag_ref("v1"), byd = digest_ref(&d), other = tag_ref("v2");
    struct berth_digest none = dg(0x404);
    struct berth_ref byd404 = digest_ref(&none);
    char mt[128], tiny[4];
    size_t len = 0;

    mf.payload = payload;
    mf.len = plen;
    mf.blobs = blobs;
    mf.nblobs = 2;
    mf.artifact_type = "application/x-thing";
    mf.annotations_json = "{\"a\":\"b\"}";
    ASSERT_OK(claim(t->m, t->reg, "lib/app", &cfg, 2, &err));
    ASSERT_OK(claim(t->m, t->reg, "lib/app", &layer, 3, &err));
    ASSERT_RC(t->m->content->manifest_get(t->m, t->reg, "lib/app", &byt, &buf, &len, mt, sizeof(mt), &got, &err),
              BERTH_EMANIFESTUNKNOWN);
    ASSERT_OK(t->m->content->manifest_put(t->m, &mf, "v1", &err));
    ASSERT_OK(t->m->content->manifest_put(t->m, &mf, "v1", &err)); /* same digest again */

    ASSERT_OK(t->m->content->manifest_get(t->m, t->reg, "lib/app", &byt, &buf, &len, mt, sizeof(mt), &got, &err));
    ASSERT_EQ_INT(len, plen);
    ASSERT_EQ_INT(buf.len, plen);
    ASSERT_TRUE(memcmp(buf.p, payload, plen) == 0);
    ASSERT_EQ_STR(mt, BERTH_MT_OCI_MANIFEST);
    ASSERT_EQ_STR(got.s, d.s);
    ASSERT_EQ_INT(got.alg, BERTH_DIGEST_SHA256);

    /* appends: the second get lands after the first */
    memset(&got, 0, sizeof(got));
    ASSERT_OK(t->m->content->manifest_get(t->m, t->reg, "lib/app", &byd, &buf, &len, mt, sizeof(mt), &got, &err));
    ASSERT_EQ_INT(buf.len, 2 * plen);
    ASSERT_TRUE(memcmp(buf.p + plen, payload, plen) == 0);
    ASSERT_EQ_STR(got.s, d.s);

    /* HEAD: no bytes, still the length */
    len = 0;
    ASSERT_OK(t->m->content->manifest_get(t->m, t->reg, "lib/app", &byd, NULL, &len, mt, sizeof(mt), &got, &err));
    ASSERT_EQ_INT(len, plen);

    ASSERT_RC(t->m->content->manifest_get(t->m, t->reg, "lib/app", &byt, &small, &len, mt, sizeof(mt), &got, &err),
              BERTH_ETOOBIG);
    ASSERT_RC(t->m->content->manifest_get(t->m, t->reg, "lib/app", &byt, NULL, &len, tiny, sizeof(tiny), &got, &err),
              BERTH_EINTERNAL);
    ASSERT_RC(t->m->content->manifest_get(t->m, t->reg, "lib/app", &other, &buf, &len, mt, sizeof(mt), &got, &err),
              BERTH_EMANIFESTUNKNOWN);
    ASSERT_RC(t->m->content->manifest_get(t->m, t->reg, "lib/app", &byd404, &buf, &len, mt, sizeof(mt), &got, &err),
              BERTH_EMANIFESTUNKNOWN);
    ASSERT_TRUE(strstr(err.msg, none.s) != NULL);
    ASSERT_RC(t->m->content->manifest_get(t->m, t->reg, "lib/nope", &byt, &buf, &len, mt, sizeof(mt), &got, &err),
              BERTH_ENAMEUNKNOWN);
    ASSERT_RC(t->m->content->manifest_get(t->m, t->reg, "lib/nope", &byd, &buf, &len, mt, sizeof(mt), &got, &err),
              BERTH_ENAMEUNKNOWN);
    ASSERT_EQ_INT(buf.len, 2 * plen);

    /* an empty payload is stored as zero bytes, not as nothing */
    {
        struct berth_digest e = dg(0xe);
        struct berth_meta_manifest em = man(t, "lib/app", &e);
        struct berth_ref bye = digest_ref(&e);
        em.payload = NULL;
        em.len = 0;
        ASSERT_OK(t->m->content->manifest_put(t->m, &em, NULL, &err));
        berth_buf_reset(&buf);
        len = 99;
        ASSERT_OK(t->m->content->manifest_get(t->m, t->reg, "lib/app", &bye, &buf, &len, mt, sizeof(mt), NULL, &err));
        ASSERT_EQ_INT(len, 0);
        ASSERT_EQ_INT(buf.len, 0);
    }
    berth_buf_release(&buf);
    berth_buf_release(&small);
}

SHARED_TEST(meta_manifest_put_missing_blob_changes_nothing)
{
    struct berth_err err = BERTH_ERR_INIT;
    struct berth_digest d = dg(0x100), d2 = dg(0x200), have = dg(0x11), missing = dg(0x12);
    struct berth_digest blobs[2] = {have, missing};
    struct berth_meta_manifest mf = man(t, "new/repo", &d);
    int more = -1;

    mf.blobs = &missing;
    mf.nblobs = 1;
    ASSERT_RC(t->m->content->manifest_put(t->m, &mf, "latest", &err), BERTH_EMANIFESTBLOB);
    ASSERT_TRUE(strstr(err.msg, missing.s) != NULL);
    ASSERT_TRUE(strstr(err.msg, "new/repo") != NULL);
    ASSERT_RC(t->m->content->repo_exists(t->m, t->reg, "new/repo", &err), BERTH_ENAMEUNKNOWN);
    ASSERT_EQ_STR(repos_of(t, NULL, 10, &more), "");

    /* a blob linked elsewhere does not count */
    ASSERT_OK(claim(t->m, t->reg, "other", &missing, 1, &err));
    ASSERT_RC(t->m->content->manifest_put(t->m, &mf, "latest", &err), BERTH_EMANIFESTBLOB);
    ASSERT_RC(t->m->content->repo_exists(t->m, t->reg, "new/repo", &err), BERTH_ENAMEUNKNOWN);

    /* in an existing repository: the tag stays where it was, the manifest is not stored */
    ASSERT_OK(claim(t->m, t->reg, "new/repo", &have, 1, &err));
    mf.blobs = &have;
    ASSERT_OK(t->m->content->manifest_put(t->m, &mf, "latest", &err));
    mf = man(t, "new/repo", &d2);
    mf.blobs = blobs;
    mf.nblobs = 2;
    ASSERT_RC(t->m->content->manifest_put(t->m, &mf, "latest", &err), BERTH_EMANIFESTBLOB);
    ASSERT_TRUE(strstr(err.msg, missing.s) != NULL);
    ASSERT_EQ_STR(tagged(t, "new/repo", "latest"), d.s);
    ASSERT_TRUE(!has_manifest(t, "new/repo", &d2));
    ASSERT_EQ_STR(tags_of(t, "new/repo", NULL, 10, &more), "latest,");
}

SHARED_TEST(meta_index_needs_children)
{
    struct berth_err err = BERTH_ERR_INIT;
    struct berth_digest amd = dg(0xa1), arm = dg(0xa2), idx = dg(0x1d);
    struct berth_digest kids[2] = {amd, arm};
    struct berth_meta_manifest im = man(t, "multi", &idx), mf;

    im.media_type = BERTH_MT_OCI_INDEX;
    im.children = kids;
    im.nchildren = 2;
    mf = man(t, "multi", &amd);
    ASSERT_OK(t->m->content->manifest_put(t->m, &mf, NULL, &err));
    ASSERT_RC(t->m->content->manifest_put(t->m, &im, "latest", &err), BERTH_EMANIFESTBLOB);
    ASSERT_TRUE(strstr(err.msg, arm.s) != NULL);
    ASSERT_TRUE(strstr(err.msg, "manifest") != NULL);
    ASSERT_EQ_STR(tagged(t, "multi", "latest"), "");
    /* a child in another repository does not count */
    mf = man(t, "elsewhere", &arm);
    ASSERT_OK(t->m->content->manifest_put(t->m, &mf, NULL, &err));
    ASSERT_RC(t->m->content->manifest_put(t->m, &im, "latest", &err), BERTH_EMANIFESTBLOB);
    mf = man(t, "multi", &arm);
    ASSERT_OK(t->m->content->manifest_put(t->m, &mf, NULL, &err));
    ASSERT_OK(t->m->content->manifest_put(t->m, &im, "latest", &err));
    ASSERT_EQ_STR(tagged(t, "multi", "latest"), idx.s);
}

SHARED_TEST(meta_retag_moves_tag)
{
    struct berth_err err = BERTH_ERR_INIT;
    struct berth_digest a = dg(0xa), b = dg(0xb);
    struct berth_meta_manifest ma = man(t, "r", &a), mb = man(t, "r", &b);
    int more;

    ASSERT_OK(t->m->content->manifest_put(t->m, &ma, "latest", &err));
    ASSERT_OK(t->m->content->manifest_put(t->m, &ma, "stable", &err));
    ASSERT_EQ_STR(tagged(t, "r", "latest"), a.s);
    ASSERT_OK(t->m->content->manifest_put(t->m, &mb, "latest", &err));
    ASSERT_EQ_STR(tagged(t, "r", "latest"), b.s);
    ASSERT_EQ_STR(tagged(t, "r", "stable"), a.s);
    ASSERT_EQ_STR(tags_of(t, "r", NULL, 10, &more), "latest,stable,");
    /* putting by digest alone leaves tags alone */
    ASSERT_OK(t->m->content->manifest_put(t->m, &ma, NULL, &err));
    ASSERT_EQ_STR(tagged(t, "r", "latest"), b.s);
}

SHARED_TEST(meta_delete_by_digest_removes_tags)
{
    struct berth_err err = BERTH_ERR_INIT;
    struct berth_digest a = dg(0xa), b = dg(0xb), blob = dg(0xf);
    struct berth_meta_manifest ma = man(t, "r", &a), mb = man(t, "r", &b);
    int more, used = -1;

    ASSERT_OK(claim(t->m, t->reg, "r", &blob, 1, &err));
    ma.blobs = &blob;
    ma.nblobs = 1;
    ASSERT_OK(t->m->content->manifest_put(t->m, &ma, "one", &err));
    ASSERT_OK(t->m->content->manifest_put(t->m, &ma, "two", &err));
    ASSERT_OK(t->m->content->manifest_put(t->m, &mb, "three", &err));
    ASSERT_OK(t->m->content->manifest_delete(t->m, t->reg, "r", &a, &err));
    ASSERT_TRUE(!has_manifest(t, "r", &a));
    ASSERT_EQ_STR(tagged(t, "r", "one"), "");
    ASSERT_EQ_STR(tags_of(t, "r", NULL, 10, &more), "three,");
    ASSERT_RC(t->m->content->manifest_delete(t->m, t->reg, "r", &a, &err), BERTH_EMANIFESTUNKNOWN);
    ASSERT_RC(t->m->content->manifest_delete(t->m, t->reg, "nope", &a, &err), BERTH_EMANIFESTUNKNOWN);
    /* the link stays; only the reference went */
    ASSERT_TRUE(linked(t, "r", &blob));
    ASSERT_OK(t->m->content->blob_unlink(t->m, t->reg, "r", &blob, &err));
    ASSERT_OK(t->m->content->blob_in_use(t->m, &blob, &used, &err));
    ASSERT_EQ_INT(used, 0);
    /* the digest can come back */
    ASSERT_OK(t->m->content->manifest_put(t->m, &mb, "one", &err));
    ASSERT_EQ_STR(tagged(t, "r", "one"), b.s);
}

/* repo_delete callback: appends "m:<last 4 hex>," for a manifest, "t:<tag>," for a tag. */
static int collect_item(int is_tag, const char *name, void *ctx)
{
    struct berth_buf *b = ctx;
    size_t n = strlen(name);
    berth_buf_printf(b, "%s:%s,", is_tag ? "t" : "m", is_tag || n < 4 ? name : name + n - 4);
    return 0;
}

SHARED_TEST(meta_repo_delete_takes_everything)
{
    struct berth_err err = BERTH_ERR_INIT;
    struct berth_buf items = BERTH_BUF_INIT(0);
    struct berth_digest a = dg(0xa), b = dg(0xb), blob = dg(0xf);
    struct berth_meta_manifest ma = man(t, "team/old", &a), mb = man(t, "team/old", &b), keep = man(t, "team/new", &a);
    int more, used = -1;

    ASSERT_OK(claim(t->m, t->reg, "team/old", &blob, 1, &err));
    ASSERT_OK(claim(t->m, t->reg, "team/new", &blob, 1, &err));
    ma.blobs = &blob;
    ma.nblobs = 1;
    keep.blobs = &blob;
    keep.nblobs = 1;
    ASSERT_OK(t->m->content->manifest_put(t->m, &ma, "v1", &err));
    ASSERT_OK(t->m->content->manifest_put(t->m, &ma, "latest", &err));
    ASSERT_OK(t->m->content->manifest_put(t->m, &mb, NULL, &err)); /* untagged */
    ASSERT_OK(t->m->content->manifest_put(t->m, &keep, "v1", &err));
    ASSERT_OK(t->m->content->repo_delete(t->m, t->reg, "team/old", collect_item, &items, &err));
    ASSERT_EQ_STR(berth_buf_str(&items), "m:000a,m:000b,t:latest,t:v1,");
    ASSERT_RC(t->m->content->repo_exists(t->m, t->reg, "team/old", &err), BERTH_ENAMEUNKNOWN);
    ASSERT_TRUE(!has_manifest(t, "team/old", &b));
    ASSERT_TRUE(!linked(t, "team/old", &blob));
    ASSERT_EQ_STR(repos_of(t, NULL, 10, &more), "team/new,");
    /* the other repository keeps its manifest, tag and link; the blob is still in use */
    ASSERT_EQ_STR(tagged(t, "team/new", "v1"), a.s);
    ASSERT_TRUE(linked(t, "team/new", &blob));
    ASSERT_OK(t->m->content->blob_in_use(t->m, &blob, &used, &err));
    ASSERT_EQ_INT(used, 1);
    ASSERT_RC(t->m->content->repo_delete(t->m, t->reg, "team/old", NULL, NULL, &err), BERTH_ENAMEUNKNOWN);
    /* the name can be pushed to again */
    ASSERT_OK(t->m->content->manifest_put(t->m, &mb, "v2", &err));
    ASSERT_EQ_STR(tagged(t, "team/old", "v2"), b.s);
    berth_buf_release(&items);
}

SHARED_TEST(meta_tag_delete)
{
    struct berth_err err = BERTH_ERR_INIT;
    struct berth_digest a = dg(0xa);
    struct berth_meta_manifest ma = man(t, "r", &a);
    int more;

    ASSERT_OK(t->m->content->manifest_put(t->m, &ma, "one", &err));
    ASSERT_OK(t->m->content->manifest_put(t->m, &ma, "two", &err));
    ASSERT_OK(t->m->content->tag_delete(t->m, t->reg, "r", "one", &err));
    ASSERT_RC(t->m->content->tag_delete(t->m, t->reg, "r", "one", &err), BERTH_EMANIFESTUNKNOWN);
    ASSERT_RC(t->m->content->tag_delete(t->m, t->reg, "nope", "two", &err), BERTH_EMANIFESTUNKNOWN);
    ASSERT_EQ_STR(tags_of(t, "r", NULL, 10, &more), "two,");
    ASSERT_TRUE(has_manifest(t, "r", &a));
}

/* Referrer callback: "digest-tail:artifact:size:annotations;". */
static int collect_referrer(const struct berth_meta_referrer *r, void *ctx)
{
    struct berth_buf *b = ctx;
    size_t n = strlen(r->digest);
    berth_buf_printf(b, "%s:%s:%s:%lld:%s;", r->digest + n - 2, r->media_type,
                     r->artifact_type ? r->artifact_type : "-", (long long)r->size,
                     r->annotations_json ? r->annotations_json : "-");
    return 0;
}

SHARED_TEST(meta_referrers)
{
    struct berth_err err = BERTH_ERR_INIT;
    struct berth_digest subj = dg(0x5), r1 = dg(0x32), r2 = dg(0x31), r3 = dg(0x33), other = dg(0x6);
    struct berth_meta_manifest ms = man(t, "r", &subj), m1 = man(t, "r", &r1), m2 = man(t, "r", &r2);
    struct berth_meta_manifest m3 = man(t, "r", &r3);
    struct berth_meta_manifest elsewhere = man(t, "q", &r1);
    struct berth_buf b = BERTH_BUF_INIT(0);
    size_t slen = strlen(r1.s);

    ASSERT_OK(t->m->content->manifest_put(t->m, &ms, "latest", &err));
    m1.subject = &subj;
    m1.artifact_type = "application/x-sig";
    m2.subject = &subj;
    m2.artifact_type = "application/x-sbom";
    m2.annotations_json = "{\"k\":\"v\"}";
    m3.subject = &subj;
    m3.artifact_type = "application/x-sig";
    elsewhere.subject = &subj;
    ASSERT_OK(t->m->content->manifest_put(t->m, &m1, NULL, &err));
    ASSERT_OK(t->m->content->manifest_put(t->m, &m2, NULL, &err));
    ASSERT_OK(t->m->content->manifest_put(t->m, &m3, NULL, &err));
    ASSERT_OK(t->m->content->manifest_put(t->m, &elsewhere, NULL, &err));

    ASSERT_OK(t->m->content->referrers(t->m, t->reg, "r", &subj, NULL, collect_referrer, &b, &err));
    {
        char *want = berth_xasprintf("31:%s:application/x-sbom:%zu:{\"k\":\"v\"};"
                                     "32:%s:application/x-sig:%zu:-;"
                                     "33:%s:application/x-sig:%zu:-;",
                                     BERTH_MT_OCI_MANIFEST, slen, BERTH_MT_OCI_MANIFEST, slen,
                                     BERTH_MT_OCI_MANIFEST, slen);
        ASSERT_EQ_STR(berth_buf_str(&b), want);
        free(want);
    }
    berth_buf_reset(&b);
    ASSERT_OK(t->m->content->referrers(t->m, t->reg, "r", &subj, "application/x-sig", collect_referrer, &b, &err));
    ASSERT_TRUE(strncmp(berth_buf_str(&b), "32:", 3) == 0);
    ASSERT_TRUE(strstr(berth_buf_str(&b), ";33:") != NULL);
    ASSERT_TRUE(strstr(berth_buf_str(&b), "31:") == NULL);
    berth_buf_reset(&b);
    ASSERT_OK(t->m->content->referrers(t->m, t->reg, "r", &subj, "application/none", collect_referrer, &b, &err));
    ASSERT_EQ_STR(berth_buf_str(&b), "");
    ASSERT_OK(t->m->content->referrers(t->m, t->reg, "r", &other, NULL, collect_referrer, &b, &err));
    ASSERT_EQ_STR(berth_buf_str(&b), "");
    ASSERT_OK(t->m->content->referrers(t->m, t->reg, "nope", &subj, NULL, collect_referrer, &b, &err));
    ASSERT_EQ_STR(berth_buf_str(&b), "");
    /* the subject need not exist */
    ASSERT_OK(t->m->content->referrers(t->m, t->reg, "q", &subj, NULL, collect_referrer, &b, &err));
    ASSERT_TRUE(strncmp(berth_buf_str(&b), "32:", 3) == 0);
    berth_buf_release(&b);
}

SHARED_TEST(meta_uploads)
{
    struct berth_err err = BERTH_ERR_INIT;
    struct berth_buf b = BERTH_BUF_INIT(0);
    char repo[BERTH_NAME_MAX + 1], tiny[3];
    int64_t created = 0, reg = 0;

    ASSERT_RC(t->m->uploads->upload_get(t->m, "u1", NULL, repo, sizeof(repo), &created, &err), BERTH_EUPLOADUNKNOWN);
    ASSERT_OK(t->m->uploads->upload_put(t->m, "u2", t->reg, "lib/b", "p", 2000, 0, &err));
    ASSERT_OK(t->m->uploads->upload_put(t->m, "u1", t->reg, "lib/a", "p", 1000, 0, &err));
    ASSERT_OK(t->m->uploads->upload_get(t->m, "u1", &reg, repo, sizeof(repo), &created, &err));
    ASSERT_EQ_INT(reg, t->reg);
    ASSERT_EQ_STR(repo, "lib/a");
    ASSERT_EQ_INT(created, 1000);
    ASSERT_OK(t->m->uploads->upload_get(t->m, "u2", NULL, NULL, 0, NULL, &err));
    ASSERT_RC(t->m->uploads->upload_get(t->m, "u2", NULL, tiny, sizeof(tiny), &created, &err), BERTH_EINTERNAL);
    ASSERT_OK(t->m->uploads->upload_list(t->m, collect, &b, &err));
    ASSERT_EQ_STR(berth_buf_str(&b), "u1,u2,");
    ASSERT_OK(t->m->uploads->upload_delete(t->m, "u1", &err));
    ASSERT_RC(t->m->uploads->upload_delete(t->m, "u1", &err), BERTH_EUPLOADUNKNOWN);
    ASSERT_RC(t->m->uploads->upload_get(t->m, "u1", NULL, repo, sizeof(repo), &created, &err), BERTH_EUPLOADUNKNOWN);
    berth_buf_reset(&b);
    ASSERT_OK(t->m->uploads->upload_list(t->m, collect, &b, &err));
    ASSERT_EQ_STR(berth_buf_str(&b), "u2,");
    /* sessions do not create repositories */
    ASSERT_RC(t->m->content->repo_exists(t->m, t->reg, "lib/b", &err), BERTH_ENAMEUNKNOWN);
    berth_buf_release(&b);
}

SHARED_TEST(meta_upload_state_saved_and_loaded)
{
    struct berth_err err = BERTH_ERR_INIT;
    struct berth_meta_upload u;
    unsigned char hash[BERTH_HASHER_SAVE_MAX];
    size_t i;

    for (i = 0; i < sizeof(hash); i++) hash[i] = (unsigned char)(i * 13); /* zero bytes included */
    ASSERT_RC(t->m->uploads->upload_load(t->m, "s1", &u, &err), BERTH_EUPLOADUNKNOWN);
    ASSERT_RC(t->m->uploads->upload_save(t->m, "s1", 1, hash, 8, NULL, 5, &err), BERTH_EUPLOADUNKNOWN);
    ASSERT_OK(t->m->uploads->upload_put(t->m, "s1", t->reg, "lib/a", "p", 1000, 0, &err));
    ASSERT_OK(t->m->uploads->upload_load(t->m, "s1", &u, &err));
    ASSERT_EQ_INT(u.reg, t->reg);
    ASSERT_EQ_STR(u.repo, "lib/a");
    ASSERT_EQ_INT(u.created_ms, 1000);
    ASSERT_EQ_U64(u.size, 0);
    ASSERT_TRUE(u.ext == NULL);
    {
        /* a new session holds the state of a hash of nothing */
        struct berth_hasher h;
        struct berth_digest d;
        ASSERT_RC(berth_hasher_load(&h, u.hash, u.hash_len, &err), BERTH_OK);
        berth_hasher_final(&h, &d);
        berth_hasher_release(&h);
        ASSERT_EQ_STR(d.s, "sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
    }
    berth_meta_upload_release(&u);
    ASSERT_OK(t->m->uploads->upload_save(t->m, "s1", 5ull << 32, hash, sizeof(hash), "{\"mp\":\"x\"}", 7, &err));
    ASSERT_OK(t->m->uploads->upload_load(t->m, "s1", &u, &err));
    ASSERT_EQ_U64(u.size, 5ull << 32);
    ASSERT_EQ_INT(u.hash_len, sizeof(hash));
    ASSERT_TRUE(memcmp(u.hash, hash, sizeof(hash)) == 0);
    ASSERT_EQ_STR(u.ext, "{\"mp\":\"x\"}");
    berth_meta_upload_release(&u);
    /* a later save replaces all of it, ext back to none */
    ASSERT_OK(t->m->uploads->upload_save(t->m, "s1", 9, hash, 3, NULL, 8, &err));
    ASSERT_OK(t->m->uploads->upload_load(t->m, "s1", &u, &err));
    ASSERT_EQ_U64(u.size, 9);
    ASSERT_EQ_INT(u.hash_len, 3);
    ASSERT_TRUE(u.ext == NULL);
    berth_meta_upload_release(&u);
    ASSERT_OK(t->m->uploads->upload_delete(t->m, "s1", &err));
    ASSERT_RC(t->m->uploads->upload_save(t->m, "s1", 1, hash, 3, NULL, 9, &err), BERTH_EUPLOADUNKNOWN);
}

/* A session lock keeps a second server out, and dies with the server holding it. */
SHARED_TEST(meta_upload_lock_between_servers)
{
    struct berth_err err = BERTH_ERR_INIT;
    struct berth_meta *other = NULL;
    int i;

    ASSERT_OK(t->m->uploads->upload_lock(t->m, "l1", &err));
    t->m->uploads->upload_unlock(t->m, "l1");
    if (t->ops != &berth_meta_pg_ops) return; /* SQLite: one server per store, the caller's exclusion suffices */
    ASSERT_OK(t->ops->open(t->dsn, &other, &err));
    ASSERT_OK(t->m->uploads->upload_lock(t->m, "l1", &err));
    ASSERT_RC(other->uploads->upload_lock(other, "l1", &err), BERTH_EBUSY);
    ASSERT_TRUE(strstr(err.msg, "another server") != NULL);
    ASSERT_OK(other->uploads->upload_lock(other, "l2", &err)); /* other sessions are free */
    t->m->uploads->upload_unlock(t->m, "l1");
    ASSERT_OK(other->uploads->upload_lock(other, "l1", &err));
    ASSERT_RC(t->m->uploads->upload_lock(t->m, "l1", &err), BERTH_EBUSY);
    /* the holder goes away without unlocking: its connection ends and the lock with it */
    t->ops->close(other);
    for (i = 0; i < 200 && t->m->uploads->upload_lock(t->m, "l1", &err) == BERTH_EBUSY; i++)
        usleep(10000); /* the engine ends the session a moment after the connection closes */
    ASSERT_TRUE(i < 200);
    ASSERT_OK(t->m->uploads->upload_lock(t->m, "l2", &err));
    t->m->uploads->upload_unlock(t->m, "l1");
    t->m->uploads->upload_unlock(t->m, "l2");
}

SHARED_TEST(meta_gc_untagged_removed_tagged_kept)
{
    struct berth_err err = BERTH_ERR_INIT;
    struct berth_digest a = dg(0xaaaa), b = dg(0xbbbb);
    struct berth_meta_manifest ma = man(t, "r", &a), mb = man(t, "r", &b);
    int64_t cutoff;

    ASSERT_OK(t->m->content->manifest_put(t->m, &ma, "latest", &err));
    ASSERT_OK(t->m->content->manifest_put(t->m, &mb, NULL, &err));
    cutoff = tick();
    ASSERT_EQ_STR(gc_run(t, cutoff, 0), "r@bbbb,");
    ASSERT_TRUE(has_manifest(t, "r", &a));
    ASSERT_TRUE(!has_manifest(t, "r", &b));
    ASSERT_EQ_STR(gc_run(t, cutoff, 0), "");
    /* untagging makes it collectable once the grace is over: the grace runs from the untagging */
    ASSERT_OK(t->m->content->tag_delete(t->m, t->reg, "r", "latest", &err));
    ASSERT_EQ_STR(gc_run(t, cutoff, 0), "");
    ASSERT_TRUE(has_manifest(t, "r", &a));
    ASSERT_EQ_STR(gc_run(t, tick(), 0), "r@aaaa,");
    ASSERT_OK(t->m->content->repo_exists(t->m, t->reg, "r", &err));
}

SHARED_TEST(meta_gc_keeps_children_of_kept_index)
{
    struct berth_err err = BERTH_ERR_INIT;
    struct berth_digest c1 = dg(0xc001), c2 = dg(0xc002), idx = dg(0x1d01), idx2 = dg(0x1d02);
    struct berth_digest kids[2] = {c1, c2};
    struct berth_meta_manifest m1 = man(t, "r", &c1), m2 = man(t, "r", &c2), im = man(t, "r", &idx);
    struct berth_meta_manifest im2 = man(t, "r", &idx2);
    int64_t cutoff;

    im.media_type = im2.media_type = BERTH_MT_OCI_INDEX;
    im.children = kids;
    im.nchildren = 2;
    im2.children = kids;
    im2.nchildren = 1;
    ASSERT_OK(t->m->content->manifest_put(t->m, &m1, NULL, &err));
    ASSERT_OK(t->m->content->manifest_put(t->m, &m2, NULL, &err));
    ASSERT_OK(t->m->content->manifest_put(t->m, &im, "latest", &err));
    ASSERT_OK(t->m->content->manifest_put(t->m, &im2, NULL, &err)); /* untagged index over c1 */
    cutoff = tick();
    /* im2 goes; c1 is still a child of the tagged index */
    ASSERT_EQ_STR(gc_run(t, cutoff, 0), "r@1d02,");
    ASSERT_TRUE(has_manifest(t, "r", &c1));
    ASSERT_TRUE(has_manifest(t, "r", &c2));
    /* untag the index: it and then its children go, in one gc */
    ASSERT_OK(t->m->content->tag_delete(t->m, t->reg, "r", "latest", &err));
    ASSERT_EQ_STR(gc_run(t, tick(), 0), "r@1d01,r@c001,r@c002,");
    ASSERT_TRUE(!has_manifest(t, "r", &c1));
}

SHARED_TEST(meta_gc_referrer_follows_subject)
{
    struct berth_err err = BERTH_ERR_INIT;
    struct berth_digest s = dg(0x5555), sig = dg(0x5151), sigsig = dg(0x5252), orphan = dg(0x0f0f);
    struct berth_meta_manifest ms = man(t, "r", &s), m1 = man(t, "r", &sig), m2 = man(t, "r", &sigsig);
    struct berth_meta_manifest mo = man(t, "r", &orphan);
    struct berth_digest absent = dg(0xdead);
    int64_t cutoff;

    m1.subject = &s;
    m2.subject = &sig; /* a referrer of a referrer */
    mo.subject = &absent;
    ASSERT_OK(t->m->content->manifest_put(t->m, &ms, "latest", &err));
    ASSERT_OK(t->m->content->manifest_put(t->m, &m1, NULL, &err));
    ASSERT_OK(t->m->content->manifest_put(t->m, &m2, NULL, &err));
    ASSERT_OK(t->m->content->manifest_put(t->m, &mo, NULL, &err));
    cutoff = tick();
    /* untagged referrers stay while their subject exists; one whose subject is absent goes */
    ASSERT_EQ_STR(gc_run(t, cutoff, 0), "r@0f0f,");
    ASSERT_TRUE(has_manifest(t, "r", &sig));
    ASSERT_TRUE(has_manifest(t, "r", &sigsig));
    ASSERT_OK(t->m->content->manifest_delete(t->m, t->reg, "r", &s, &err));
    ASSERT_EQ_STR(gc_run(t, tick(), 0), "r@5151,r@5252,");
    ASSERT_TRUE(!has_manifest(t, "r", &sig));
}

SHARED_TEST(meta_gc_respects_cutoff)
{
    struct berth_err err = BERTH_ERR_INIT;
    struct berth_digest old = dg(0x01d0), young = dg(0x0e11), blob_old = dg(0xb0), blob_young = dg(0xb1);
    struct berth_meta_manifest mo = man(t, "r", &old), my = man(t, "r", &young);
    int64_t cutoff, later;

    ASSERT_OK(claim(t->m, t->reg, "r", &blob_old, 1, &err));
    ASSERT_OK(t->m->content->manifest_put(t->m, &mo, NULL, &err));
    cutoff = tick();
    ASSERT_OK(claim(t->m, t->reg, "r", &blob_young, 1, &err));
    ASSERT_OK(t->m->content->manifest_put(t->m, &my, NULL, &err));
    later = tick();
    ASSERT_EQ_STR(gc_run(t, cutoff, 0), "r@01d0,");
    ASSERT_TRUE(has_manifest(t, "r", &young));
    ASSERT_TRUE(!linked(t, "r", &blob_old));
    ASSERT_TRUE(linked(t, "r", &blob_young));
    /* putting a manifest again renews it, as linking renews a blob */
    ASSERT_OK(t->m->content->manifest_put(t->m, &my, NULL, &err));
    ASSERT_OK(claim(t->m, t->reg, "r", &blob_young, 1, &err));
    ASSERT_EQ_STR(gc_run(t, later, 0), "");
    ASSERT_TRUE(has_manifest(t, "r", &young));
    ASSERT_TRUE(linked(t, "r", &blob_young));
    ASSERT_EQ_STR(gc_run(t, tick(), 0), "r@0e11,");
    ASSERT_TRUE(!linked(t, "r", &blob_young));
}

SHARED_TEST(meta_gc_unlinks_unreferenced_blobs)
{
    struct berth_err err = BERTH_ERR_INIT;
    struct berth_digest a = dg(0xaaaa), b = dg(0xbbbb), cfg = dg(0xc0f0), layer = dg(0x1a1a), loose = dg(0x1005);
    struct berth_digest blobs[2] = {cfg, layer};
    struct berth_meta_manifest ma = man(t, "r", &a), mb = man(t, "q", &b);
    struct berth_buf ubuf = BERTH_BUF_INIT(0);
    int used = -1;

    ASSERT_OK(claim(t->m, t->reg, "r", &cfg, 1, &err));
    ASSERT_OK(claim(t->m, t->reg, "r", &layer, 1, &err));
    ASSERT_OK(claim(t->m, t->reg, "r", &loose, 1, &err));
    ASSERT_OK(claim(t->m, t->reg, "q", &cfg, 1, &err));
    ASSERT_OK(claim(t->m, t->reg, "q", &layer, 1, &err));
    ma.blobs = mb.blobs = blobs;
    ma.nblobs = 2;
    mb.nblobs = 1;
    ASSERT_OK(t->m->content->manifest_put(t->m, &ma, "latest", &err));
    ASSERT_OK(t->m->content->manifest_put(t->m, &mb, "latest", &err));
    /* nothing is old enough yet */
    ASSERT_OK(t->m->content->gc(t->m, berth_now_ms() - 60000, 0, collect_gc, collect_gc, &ubuf, &err));
    ASSERT_EQ_STR(berth_buf_str(&ubuf), "");
    /* referenced links stay; a link is judged per repository */
    ASSERT_OK(t->m->content->gc(t->m, tick(), 0, collect_gc, collect_gc, &ubuf, &err));
    ASSERT_EQ_STR(berth_buf_str(&ubuf), "r@1005,q@1a1a,");
    ASSERT_TRUE(linked(t, "r", &cfg) && linked(t, "r", &layer) && linked(t, "q", &cfg));
    ASSERT_TRUE(!linked(t, "q", &layer) && !linked(t, "r", &loose));
    ASSERT_OK(t->m->content->blob_in_use(t->m, &layer, &used, &err));
    ASSERT_EQ_INT(used, 1);
    ASSERT_OK(t->m->content->blob_in_use(t->m, &loose, &used, &err));
    ASSERT_EQ_INT(used, 0);
    /* once the manifest goes, its blobs follow in the same run */
    berth_buf_reset(&ubuf);
    ASSERT_OK(t->m->content->tag_delete(t->m, t->reg, "r", "latest", &err));
    ASSERT_OK(t->m->content->gc(t->m, tick(), 0, collect_gc, collect_gc, &ubuf, &err));
    ASSERT_EQ_STR(berth_buf_str(&ubuf), "r@aaaa,r@1a1a,r@c0f0,");
    ASSERT_OK(t->m->content->blob_in_use(t->m, &cfg, &used, &err));
    ASSERT_EQ_INT(used, 1); /* still q's */
    ASSERT_OK(t->m->content->blob_in_use(t->m, &layer, &used, &err));
    ASSERT_EQ_INT(used, 0);
    berth_buf_release(&ubuf);
}

/* Stops gc at the first deletion it reports. */
static int stop_gc(const char *repo, const char *digest, void *ctx)
{
    collect_gc(repo, digest, ctx);
    return 1;
}

SHARED_TEST(meta_gc_dry_run_changes_nothing)
{
    struct berth_err err = BERTH_ERR_INIT;
    struct berth_digest c1 = dg(0xc001), idx = dg(0x1d01), loose = dg(0x1005), layer = dg(0x1a1a);
    struct berth_meta_manifest m1 = man(t, "r", &c1), im = man(t, "r", &idx);
    struct berth_buf b = BERTH_BUF_INIT(0);
    int64_t cutoff;

    ASSERT_OK(claim(t->m, t->reg, "r", &loose, 1, &err));
    ASSERT_OK(claim(t->m, t->reg, "r", &layer, 1, &err));
    m1.blobs = &layer;
    m1.nblobs = 1;
    im.children = &c1;
    im.nchildren = 1;
    ASSERT_OK(t->m->content->manifest_put(t->m, &m1, NULL, &err));
    ASSERT_OK(t->m->content->manifest_put(t->m, &im, NULL, &err));
    cutoff = tick();
    /* the dry run sees the whole cascade, as a real run would */
    ASSERT_OK(t->m->content->gc(t->m, cutoff, 1, collect_gc, collect_gc, &b, &err));
    ASSERT_EQ_STR(berth_buf_str(&b), "r@1d01,r@c001,r@1005,r@1a1a,");
    ASSERT_TRUE(has_manifest(t, "r", &idx) && has_manifest(t, "r", &c1));
    ASSERT_TRUE(linked(t, "r", &loose) && linked(t, "r", &layer));
    ASSERT_OK(t->m->content->gc(t->m, cutoff, 1, NULL, NULL, NULL, &err));
    ASSERT_TRUE(has_manifest(t, "r", &idx));
    /*
     * a callback that stops ends gc after the step it was told of (each of
     * whose deletions it is told, once): the next run does the rest
     */
    berth_buf_reset(&b);
    ASSERT_OK(t->m->content->gc(t->m, cutoff, 0, stop_gc, stop_gc, &b, &err));
    ASSERT_TRUE(!strcmp(berth_buf_str(&b), "r@1d01,") || !strcmp(berth_buf_str(&b), "r@1d01,r@c001,"));
    ASSERT_TRUE(!has_manifest(t, "r", &idx));
    ASSERT_TRUE(linked(t, "r", &loose));
    ASSERT_OK(t->m->content->gc(t->m, cutoff, 0, collect_gc, collect_gc, &b, &err));
    ASSERT_EQ_STR(berth_buf_str(&b), "r@1d01,r@c001,r@1005,r@1a1a,");
    berth_buf_release(&b);
}

/* ---- registries and the directory ---- */

static int collect_registry(const struct berth_meta_registry *r, void *ctx)
{
    berth_buf_printf(ctx, "%s,", r->name);
    return 0;
}

static int collect_user(const struct berth_meta_user *u, void *ctx)
{
    berth_buf_printf(ctx, "%s,", u->name);
    return 0;
}

static int collect_sp(const struct berth_meta_sp *sp, void *ctx)
{
    berth_buf_printf(ctx, "%s,", sp->display_name);
    return 0;
}

static int collect_secret(const struct berth_meta_sp_secret *s, void *ctx)
{
    berth_buf_printf(ctx, "%s,", s->description);
    return 0;
}

/* "name[rule;rule;]," */
static int collect_scopemap(const struct berth_meta_scopemap *sm, void *ctx)
{
    size_t i;
    berth_buf_printf(ctx, "%s[", sm->name);
    for (i = 0; i < sm->nrules; i++) berth_buf_printf(ctx, "%s;", sm->rules[i]);
    berth_buf_puts(ctx, "],");
    return 0;
}

static int collect_token(const struct berth_meta_token *t, void *ctx)
{
    berth_buf_printf(ctx, "%s:%s,", t->name, t->scopemap);
    return 0;
}

/* "type:role@scope," */
static int collect_assignment(const struct berth_meta_assignment *a, void *ctx)
{
    berth_buf_printf(ctx, "%s:%s@%s,", a->principal_type, a->role, a->scope);
    return 0;
}

static const char *registries_of(struct t *t)
{
    static struct berth_buf b = BERTH_BUF_INIT(0);
    struct berth_err err = BERTH_ERR_INIT;
    berth_buf_reset(&b);
    ASSERT_OK(t->m->reg->registry_list(t->m, collect_registry, &b, &err));
    return berth_buf_str(&b);
}

static const char *scopemaps_of(struct t *t, int64_t reg)
{
    static struct berth_buf b = BERTH_BUF_INIT(0);
    struct berth_err err = BERTH_ERR_INIT;
    berth_buf_reset(&b);
    ASSERT_OK(t->m->dir->scopemap_list(t->m, reg, collect_scopemap, &b, &err));
    return berth_buf_str(&b);
}

static const char *tokens_of(struct t *t, int64_t reg)
{
    static struct berth_buf b = BERTH_BUF_INIT(0);
    struct berth_err err = BERTH_ERR_INIT;
    berth_buf_reset(&b);
    ASSERT_OK(t->m->dir->token_list(t->m, reg, collect_token, &b, &err));
    return berth_buf_str(&b);
}

static const char *secrets_of(struct t *t, const char *app_id)
{
    static struct berth_buf b = BERTH_BUF_INIT(0);
    struct berth_err err = BERTH_ERR_INIT;
    berth_buf_reset(&b);
    ASSERT_OK(t->m->dir->sp_secrets(t->m, app_id, collect_secret, &b, &err));
    return berth_buf_str(&b);
}

/* Assignments of principal_id (NULL: all). */
static const char *assignments_of(struct t *t, const char *principal_id)
{
    static struct berth_buf b = BERTH_BUF_INIT(0);
    struct berth_err err = BERTH_ERR_INIT;
    berth_buf_reset(&b);
    ASSERT_OK(t->m->dir->assignment_list(t->m, principal_id, collect_assignment, &b, &err));
    return berth_buf_str(&b);
}

static struct berth_meta_user new_user(struct t *t, const char *name)
{
    struct berth_err err = BERTH_ERR_INIT;
    struct berth_meta_user u;
    memset(&u, 0, sizeof(u));
    snprintf(u.name, sizeof(u.name), "%s", name);
    snprintf(u.hash, sizeof(u.hash), "$argon2id$v=19$m=65536,t=3,p=1$%s", name);
    ASSERT_OK(t->m->dir->user_create(t->m, &u, &err));
    return u;
}

static struct berth_meta_sp new_sp(struct t *t, const char *name)
{
    struct berth_err err = BERTH_ERR_INIT;
    struct berth_meta_sp sp;
    memset(&sp, 0, sizeof(sp));
    snprintf(sp.display_name, sizeof(sp.display_name), "%s", name);
    ASSERT_OK(t->m->dir->sp_create(t->m, &sp, &err));
    return sp;
}

/* Stores a scope map of reg with the given rules (NULL-terminated). */
static void put_scopemap(struct t *t, int64_t reg, const char *name, const char *const *rules)
{
    struct berth_err err = BERTH_ERR_INIT;
    struct berth_meta_scopemap sm;
    memset(&sm, 0, sizeof(sm));
    sm.reg = reg;
    snprintf(sm.name, sizeof(sm.name), "%s", name);
    sm.rules = (char **)(uintptr_t)rules;
    while (rules && rules[sm.nrules]) sm.nrules++;
    ASSERT_OK(t->m->dir->scopemap_put(t->m, &sm, &err));
    ASSERT_TRUE(sm.id > 0);
}

static struct berth_meta_token token(int64_t reg, const char *name, const char *scopemap)
{
    struct berth_meta_token tk;
    memset(&tk, 0, sizeof(tk));
    tk.reg = reg;
    tk.enabled = 1;
    snprintf(tk.name, sizeof(tk.name), "%s", name);
    snprintf(tk.scopemap, sizeof(tk.scopemap), "%s", scopemap);
    return tk;
}

static struct berth_meta_assignment assignment(const char *type, const char *id, const char *role, const char *scope)
{
    struct berth_meta_assignment a;
    memset(&a, 0, sizeof(a));
    snprintf(a.principal_type, sizeof(a.principal_type), "%s", type);
    snprintf(a.principal_id, sizeof(a.principal_id), "%s", id);
    snprintf(a.role, sizeof(a.role), "%s", role);
    snprintf(a.scope, sizeof(a.scope), "%s", scope);
    return a;
}

SHARED_TEST(meta_tenant_id_is_stable)
{
    struct berth_err err = BERTH_ERR_INIT;
    char a[37], b[37];

    ASSERT_OK(t->m->reg->tenant_id(t->m, a, &err));
    ASSERT_TRUE(berth_uuid_valid(a));
    ASSERT_OK(t->m->reg->tenant_id(t->m, b, &err));
    ASSERT_EQ_STR(b, a);
    t->ops->close(t->m);
    t->m = NULL;
    ASSERT_OK(t->ops->open(t->dsn, &t->m, &err));
    ASSERT_OK(t->m->reg->tenant_id(t->m, b, &err));
    ASSERT_EQ_STR(b, a);
}

SHARED_TEST(meta_registry_crud)
{
    struct berth_err err = BERTH_ERR_INIT;
    struct berth_meta_registry r, got;
    int64_t before = berth_now_ms();

    memset(&r, 0, sizeof(r));
    snprintf(r.name, sizeof(r.name), "contoso");
    r.admin_enabled = 1;
    r.refresh_ttl_s = 3600;
    snprintf(r.admin_hash[0], sizeof(r.admin_hash[0]), "$argon2id$one");
    r.admin_set_ms[0] = 1234;
    ASSERT_OK(t->m->reg->registry_create(t->m, &r, &err));
    ASSERT_TRUE(r.id > 0 && r.id != t->reg);
    ASSERT_TRUE(r.created_ms >= before);
    ASSERT_RC(t->m->reg->registry_create(t->m, &r, &err), BERTH_EEXIST);
    ASSERT_EQ_STR(err.msg, "registry 'contoso' already exists");

    ASSERT_OK(t->m->reg->registry_get(t->m, "contoso", 0, &got, &err));
    ASSERT_EQ_INT(got.id, r.id);
    ASSERT_EQ_STR(got.name, "contoso");
    ASSERT_EQ_INT(got.created_ms, r.created_ms);
    ASSERT_EQ_INT(got.admin_enabled, 1);
    ASSERT_EQ_INT(got.anonymous_pull, 0);
    ASSERT_EQ_INT(got.refresh_ttl_s, 3600);
    ASSERT_EQ_INT(got.access_ttl_s, 0);
    ASSERT_EQ_STR(got.admin_hash[0], "$argon2id$one");
    ASSERT_EQ_STR(got.admin_hash[1], "");
    ASSERT_EQ_INT(got.admin_set_ms[0], 1234);
    ASSERT_EQ_INT(got.admin_set_ms[1], 0);
    memset(&got, 0, sizeof(got));
    ASSERT_OK(t->m->reg->registry_get(t->m, NULL, r.id, &got, &err));
    ASSERT_EQ_STR(got.name, "contoso");
    ASSERT_RC(t->m->reg->registry_get(t->m, "nope", 0, &got, &err), BERTH_ENOENT);
    ASSERT_EQ_STR(err.msg, "registry 'nope' not found");
    ASSERT_RC(t->m->reg->registry_get(t->m, NULL, r.id + 100, &got, &err), BERTH_ENOENT);
    ASSERT_RC(t->m->reg->registry_get(t->m, NULL, 0, &got, &err), BERTH_EINVAL);
    ASSERT_EQ_STR(registries_of(t), "contoso,default,");

    /* update writes every setting, never the name or the creation time */
    got.admin_enabled = 0;
    got.anonymous_pull = 1;
    got.refresh_ttl_s = 60;
    got.access_ttl_s = 30;
    snprintf(got.admin_hash[0], sizeof(got.admin_hash[0]), "%s", "");
    snprintf(got.admin_hash[1], sizeof(got.admin_hash[1]), "$argon2id$two");
    got.admin_set_ms[1] = 5678;
    snprintf(got.name, sizeof(got.name), "renamed");
    got.created_ms = 1;
    ASSERT_OK(t->m->reg->registry_update(t->m, &got, BERTH_META_REG_ALL, &err));
    memset(&got, 0, sizeof(got));
    ASSERT_OK(t->m->reg->registry_get(t->m, "contoso", 0, &got, &err));
    ASSERT_EQ_INT(got.admin_enabled, 0);
    ASSERT_EQ_INT(got.anonymous_pull, 1);
    ASSERT_EQ_INT(got.refresh_ttl_s, 60);
    ASSERT_EQ_INT(got.access_ttl_s, 30);
    ASSERT_EQ_STR(got.admin_hash[0], "");
    ASSERT_EQ_STR(got.admin_hash[1], "$argon2id$two");
    ASSERT_EQ_INT(got.admin_set_ms[0], 1234);
    ASSERT_EQ_INT(got.admin_set_ms[1], 5678);
    ASSERT_EQ_INT(got.created_ms, r.created_ms);
    /* only what is named is written: a stale copy cannot undo another field's change */
    {
        struct berth_meta_registry stale = got;
        snprintf(stale.admin_hash[1], sizeof(stale.admin_hash[1]), "%s", "$argon2id$stale");
        stale.admin_set_ms[1] = 1;
        stale.anonymous_pull = 0;
        snprintf(got.admin_hash[0], sizeof(got.admin_hash[0]), "%s", "$argon2id$new-one");
        got.admin_set_ms[0] = 9999;
        ASSERT_OK(t->m->reg->registry_update(t->m, &got, BERTH_META_REG_ADMIN1, &err));
        ASSERT_OK(t->m->reg->registry_update(t->m, &stale, BERTH_META_REG_SETTINGS, &err));
        memset(&got, 0, sizeof(got));
        ASSERT_OK(t->m->reg->registry_get(t->m, "contoso", 0, &got, &err));
        ASSERT_EQ_STR(got.admin_hash[0], "$argon2id$new-one");
        ASSERT_EQ_INT(got.admin_set_ms[0], 9999);
        ASSERT_EQ_STR(got.admin_hash[1], "$argon2id$two");
        ASSERT_EQ_INT(got.anonymous_pull, 0);
        ASSERT_RC(t->m->reg->registry_update(t->m, &got, 0, &err), BERTH_EINVAL);
    }
    got.id = r.id + 100;
    ASSERT_RC(t->m->reg->registry_update(t->m, &got, BERTH_META_REG_ALL, &err), BERTH_ENOENT);

    ASSERT_OK(t->m->reg->registry_delete(t->m, r.id, &err));
    ASSERT_RC(t->m->reg->registry_delete(t->m, r.id, &err), BERTH_ENOENT);
    ASSERT_RC(t->m->reg->registry_get(t->m, "contoso", 0, &got, &err), BERTH_ENOENT);
    ASSERT_EQ_STR(registries_of(t), "default,");
    /* the name is free again */
    ASSERT_TRUE(new_registry(t->m, "contoso") > 0);
}

SHARED_TEST(meta_registry_delete_cascades)
{
    struct berth_err err = BERTH_ERR_INIT;
    static const char *const rules[] = {"repositories/app/content/read", NULL};
    int64_t gone = new_registry(t->m, "alpha"), near = new_registry(t->m, "alphabet");
    struct berth_digest blob = dg(0xb10b), only = dg(0x0171), d = dg(0xd), sub = dg(0x5b);
    struct berth_meta_manifest mf = man(t, "app", &d), mr = man(t, "app", &sub);
    struct berth_meta_user u = new_user(t, "alice");
    struct berth_meta_token tk;
    struct berth_meta_assignment a;
    const char *scopes[] = {"/", "/registries/alpha", "/registries/alpha/repositories/app",
                            "/registries/alphabet", "/registries/default"};
    int64_t created;
    size_t i;
    int used = -1, pass, more;

    /* the same content in "alpha" and in "default" */
    for (pass = 0; pass < 2; pass++) {
        int64_t reg = pass ? t->reg : gone;
        mf.reg = mr.reg = reg;
        ASSERT_OK(claim(t->m, reg, "app", &blob, 10, &err));
        mf.blobs = &blob;
        mf.nblobs = 1;
        ASSERT_OK(t->m->content->manifest_put(t->m, &mf, "latest", &err));
        mr.subject = &d;
        ASSERT_OK(t->m->content->manifest_put(t->m, &mr, NULL, &err));
        ASSERT_OK(t->m->uploads->upload_put(t->m, pass ? "up-default" : "up-alpha", reg, "app", "p", 1, 0, &err));
        put_scopemap(t, reg, "readers", rules);
        tk = token(reg, "ci", "readers");
        ASSERT_OK(t->m->dir->token_put(t->m, &tk, &err));
    }
    ASSERT_OK(claim(t->m, gone, "other", &only, 10, &err));
    for (i = 0; i < sizeof(scopes) / sizeof(scopes[0]); i++) {
        a = assignment("user", u.id, "AcrPull", scopes[i]);
        ASSERT_OK(t->m->dir->assignment_create(t->m, &a, &err));
    }

    ASSERT_OK(t->m->reg->registry_delete(t->m, gone, &err));
    /* everything of "alpha" went */
    ASSERT_RC(t->m->reg->registry_get(t->m, NULL, gone, NULL, &err), BERTH_ENOENT);
    ASSERT_RC(t->m->content->repo_exists(t->m, gone, "app", &err), BERTH_ENAMEUNKNOWN);
    ASSERT_RC(t->m->content->repo_list(t->m, gone, NULL, 10, collect, NULL, &more, &err), BERTH_OK);
    ASSERT_EQ_INT(more, 0);
    ASSERT_RC(t->m->content->tag_list(t->m, gone, "app", NULL, 10, collect, NULL, &more, &err), BERTH_ENAMEUNKNOWN);
    ASSERT_TRUE(!has_manifest_in(t, gone, "app", &d));
    ASSERT_RC(t->m->content->blob_linked(t->m, gone, "app", &blob, NULL, &err), BERTH_EBLOBUNKNOWN);
    ASSERT_RC(t->m->uploads->upload_get(t->m, "up-alpha", NULL, NULL, 0, NULL, &err), BERTH_EUPLOADUNKNOWN);
    ASSERT_RC(t->m->dir->token_list(t->m, gone, collect_token, NULL, &err), BERTH_ENOENT);
    ASSERT_RC(t->m->dir->scopemap_list(t->m, gone, collect_scopemap, NULL, &err), BERTH_ENOENT);
    ASSERT_EQ_STR(assignments_of(t, u.id), "user:AcrPull@/,user:AcrPull@/registries/alphabet,"
                                           "user:AcrPull@/registries/default,");
    /* blob bytes are gc's: a blob linked only in "alpha" is no longer in use */
    ASSERT_OK(t->m->content->blob_in_use(t->m, &only, &used, &err));
    ASSERT_EQ_INT(used, 0);
    ASSERT_OK(t->m->content->blob_in_use(t->m, &blob, &used, &err));
    ASSERT_EQ_INT(used, 1);
    ASSERT_EQ_STR(gc_run(t, tick(), 1), "");

    /* "default" and "alphabet" are untouched */
    ASSERT_EQ_STR(repos_of(t, NULL, 10, &more), "app,");
    ASSERT_EQ_STR(tagged(t, "app", "latest"), d.s);
    ASSERT_TRUE(has_manifest(t, "app", &sub));
    ASSERT_TRUE(linked(t, "app", &blob));
    ASSERT_OK(t->m->uploads->upload_get(t->m, "up-default", NULL, NULL, 0, &created, &err));
    ASSERT_EQ_STR(tokens_of(t, t->reg), "ci:readers,");
    ASSERT_EQ_STR(scopemaps_of(t, t->reg), "readers[repositories/app/content/read;],");
    ASSERT_EQ_STR(tokens_of(t, near), "");
    ASSERT_EQ_STR(registries_of(t), "alphabet,default,");
}

SHARED_TEST(meta_registries_keep_repositories_apart)
{
    struct berth_err err = BERTH_ERR_INIT;
    int64_t one = t->reg, two = new_registry(t->m, "second");
    struct berth_digest b1 = dg(0xb1), b2 = dg(0xb2), d1 = dg(0xd1), d2 = dg(0xd2), sig = dg(0x5e), idx = dg(0x1d);
    struct berth_meta_manifest m1 = man(t, "lib/app", &d1), m2 = man(t, "lib/app", &d2), ms = man(t, "lib/app", &sig);
    struct berth_meta_manifest im = man(t, "lib/app", &idx);
    struct berth_buf b = BERTH_BUF_INIT(0);
    struct t t2 = *t;
    int64_t reg = 0;
    int more, used = -1;

    t2.reg = two;
    /* the same repository name in both registries, different content */
    ASSERT_OK(claim(t->m, one, "lib/app", &b1, 1, &err));
    ASSERT_OK(claim(t->m, one, "only/one", &b1, 1, &err));
    ASSERT_OK(claim(t->m, two, "lib/app", &b2, 2, &err));
    m1.blobs = &b1;
    m1.nblobs = 1;
    ASSERT_OK(t->m->content->manifest_put(t->m, &m1, "v1", &err));
    m2.reg = two;
    m2.blobs = &b2;
    m2.nblobs = 1;
    ASSERT_OK(t->m->content->manifest_put(t->m, &m2, "v1", &err));
    ASSERT_OK(t->m->content->manifest_put(t->m, &m2, "only-two", &err));
    ASSERT_EQ_STR(tagged(t, "lib/app", "v1"), d1.s);
    ASSERT_EQ_STR(tagged(&t2, "lib/app", "v1"), d2.s);
    ASSERT_EQ_STR(tags_of(t, "lib/app", NULL, 10, &more), "v1,");
    ASSERT_EQ_STR(tags_of(&t2, "lib/app", NULL, 10, &more), "only-two,v1,");
    ASSERT_TRUE(!has_manifest(t, "lib/app", &d2) && !has_manifest(&t2, "lib/app", &d1));

    /* catalog */
    ASSERT_EQ_STR(repos_of(t, NULL, 10, &more), "lib/app,only/one,");
    ASSERT_EQ_STR(repos_of(&t2, NULL, 10, &more), "lib/app,");
    ASSERT_RC(t->m->content->repo_exists(t->m, two, "only/one", &err), BERTH_ENAMEUNKNOWN);

    /* blob links, and so mount sources */
    ASSERT_TRUE(linked(t, "lib/app", &b1) && !linked(&t2, "lib/app", &b1));
    ASSERT_TRUE(linked(&t2, "lib/app", &b2) && !linked(t, "lib/app", &b2));
    ASSERT_OK(t->m->content->blob_repos(t->m, one, &b1, collect, &b, &err));
    ASSERT_EQ_STR(berth_buf_str(&b), "lib/app,only/one,");
    berth_buf_reset(&b);
    ASSERT_OK(t->m->content->blob_repos(t->m, two, &b1, collect, &b, &err));
    ASSERT_EQ_STR(berth_buf_str(&b), "");
    ASSERT_RC(t->m->content->blob_unlink(t->m, two, "lib/app", &b1, &err), BERTH_EBLOBUNKNOWN);
    ASSERT_TRUE(linked(t, "lib/app", &b1));

    /* a manifest may only use blobs and children of its own registry's repository */
    m1.reg = two;
    ASSERT_RC(t->m->content->manifest_put(t->m, &m1, NULL, &err), BERTH_EMANIFESTBLOB);
    im.reg = two;
    im.media_type = BERTH_MT_OCI_INDEX;
    im.children = &d1;
    im.nchildren = 1;
    ASSERT_RC(t->m->content->manifest_put(t->m, &im, NULL, &err), BERTH_EMANIFESTBLOB);
    m1.reg = one;

    /* referrers */
    ms.subject = &d1;
    ms.artifact_type = "application/x-sig";
    ASSERT_OK(t->m->content->manifest_put(t->m, &ms, NULL, &err));
    berth_buf_reset(&b);
    ASSERT_OK(t->m->content->referrers(t->m, two, "lib/app", &d1, NULL, collect_referrer, &b, &err));
    ASSERT_EQ_STR(berth_buf_str(&b), "");
    ASSERT_OK(t->m->content->referrers(t->m, one, "lib/app", &d1, NULL, collect_referrer, &b, &err));
    ASSERT_TRUE(strncmp(berth_buf_str(&b), "5e:", 3) == 0);

    /* deleting in one leaves the other */
    ASSERT_RC(t->m->content->tag_delete(t->m, two, "lib/app", "nope", &err), BERTH_EMANIFESTUNKNOWN);
    ASSERT_OK(t->m->content->tag_delete(t->m, two, "lib/app", "v1", &err));
    ASSERT_EQ_STR(tagged(t, "lib/app", "v1"), d1.s);
    ASSERT_RC(t->m->content->manifest_delete(t->m, two, "lib/app", &d1, &err), BERTH_EMANIFESTUNKNOWN);
    ASSERT_TRUE(has_manifest(t, "lib/app", &d1));

    /* uploads carry their registry */
    ASSERT_OK(t->m->uploads->upload_put(t->m, "u", two, "lib/app", "p", 7, 0, &err));
    ASSERT_OK(t->m->uploads->upload_get(t->m, "u", &reg, NULL, 0, NULL, &err));
    ASSERT_EQ_INT(reg, two);

    /* gc and blob_in_use are server-wide */
    ASSERT_OK(t->m->content->tag_delete(t->m, two, "lib/app", "only-two", &err));
    ASSERT_EQ_STR(gc_run(t, tick(), 0), "lib/app@00d2,");
    ASSERT_TRUE(has_manifest(t, "lib/app", &d1));
    ASSERT_OK(t->m->content->blob_in_use(t->m, &b2, &used, &err));
    ASSERT_EQ_INT(used, 0);
    ASSERT_OK(t->m->content->blob_in_use(t->m, &b1, &used, &err));
    ASSERT_EQ_INT(used, 1);

    /* nothing is created in a registry that does not exist */
    ASSERT_RC(claim(t->m, two + 100, "lib/app", &b1, 1, &err), BERTH_ENOENT);
    ASSERT_RC(t->m->uploads->upload_put(t->m, "u2", two + 100, "lib/app", "p", 7, 0, &err), BERTH_ENOENT);
    m1.reg = two + 100;
    m1.nblobs = 0;
    ASSERT_RC(t->m->content->manifest_put(t->m, &m1, "v1", &err), BERTH_ENOENT);
    berth_buf_release(&b);
}

SHARED_TEST(meta_users)
{
    struct berth_err err = BERTH_ERR_INIT;
    struct berth_meta_user bob = new_user(t, "bob"), alice = new_user(t, "alice"), got, dup;
    struct berth_buf b = BERTH_BUF_INIT(0);

    ASSERT_TRUE(berth_uuid_valid(bob.id) && berth_uuid_valid(alice.id) && strcmp(bob.id, alice.id) != 0);
    ASSERT_TRUE(bob.created_ms > 0);
    ASSERT_EQ_INT(bob.password_set_ms, bob.created_ms);
    dup = bob;
    ASSERT_RC(t->m->dir->user_create(t->m, &dup, &err), BERTH_EEXIST);
    ASSERT_EQ_STR(err.msg, "user 'bob' already exists");

    ASSERT_OK(t->m->dir->user_get(t->m, "bob", NULL, &got, &err));
    ASSERT_EQ_STR(got.id, bob.id);
    ASSERT_EQ_STR(got.hash, bob.hash);
    ASSERT_EQ_INT(got.created_ms, bob.created_ms);
    memset(&got, 0, sizeof(got));
    ASSERT_OK(t->m->dir->user_get(t->m, NULL, alice.id, &got, &err));
    ASSERT_EQ_STR(got.name, "alice");
    ASSERT_RC(t->m->dir->user_get(t->m, "carol", NULL, &got, &err), BERTH_ENOENT);
    ASSERT_EQ_STR(err.msg, "user 'carol' not found");
    ASSERT_RC(t->m->dir->user_get(t->m, NULL, "00000000-0000-4000-8000-000000000000", &got, &err), BERTH_ENOENT);
    ASSERT_OK(t->m->dir->user_list(t->m, collect_user, &b, &err));
    ASSERT_EQ_STR(berth_buf_str(&b), "alice,bob,");

    ASSERT_OK(t->m->dir->user_set_password(t->m, bob.id, "$argon2id$new", 42, &err));
    ASSERT_OK(t->m->dir->user_get(t->m, "bob", NULL, &got, &err));
    ASSERT_EQ_STR(got.hash, "$argon2id$new");
    ASSERT_EQ_INT(got.password_set_ms, 42);
    ASSERT_RC(t->m->dir->user_set_password(t->m, "nobody", "$argon2id$x", 1, &err), BERTH_ENOENT);

    ASSERT_OK(t->m->dir->user_delete(t->m, bob.id, &err));
    ASSERT_RC(t->m->dir->user_delete(t->m, bob.id, &err), BERTH_ENOENT);
    ASSERT_RC(t->m->dir->user_get(t->m, "bob", NULL, &got, &err), BERTH_ENOENT);
    /* the name can be taken again, under a new id */
    dup = new_user(t, "bob");
    ASSERT_TRUE(strcmp(dup.id, bob.id) != 0);
    berth_buf_release(&b);
}

/* Keeps the first secret listed (the newest) and stops. */
static int first_secret(const struct berth_meta_sp_secret *s, void *ctx)
{
    *(struct berth_meta_sp_secret *)ctx = *s;
    return 1;
}

SHARED_TEST(meta_service_principals_and_secrets)
{
    struct berth_err err = BERTH_ERR_INIT;
    struct berth_meta_sp sp = new_sp(t, "builder"), other = new_sp(t, "auditor"), got;
    struct berth_meta_sp_secret s, first, newest;
    struct berth_buf b = BERTH_BUF_INIT(0);
    int i;

    ASSERT_TRUE(berth_uuid_valid(sp.app_id) && sp.created_ms > 0);
    ASSERT_OK(t->m->dir->sp_get(t->m, sp.app_id, &got, &err));
    ASSERT_EQ_STR(got.display_name, "builder");
    ASSERT_EQ_INT(got.created_ms, sp.created_ms);
    ASSERT_RC(t->m->dir->sp_get(t->m, "nope", &got, &err), BERTH_ENOENT);
    ASSERT_EQ_STR(err.msg, "service principal 'nope' not found");
    ASSERT_OK(t->m->dir->sp_list(t->m, collect_sp, &b, &err));
    ASSERT_EQ_STR(berth_buf_str(&b), "auditor,builder,");

    ASSERT_EQ_STR(secrets_of(t, sp.app_id), "");
    memset(&first, 0, sizeof(first));
    for (i = 0; i < 10; i++) {
        memset(&s, 0, sizeof(s));
        snprintf(s.hash, sizeof(s.hash), "$argon2id$s%d", i);
        snprintf(s.description, sizeof(s.description), "s%d", i);
        s.expires_ms = 1000 + i;
        ASSERT_OK(t->m->dir->sp_secret_add(t->m, sp.app_id, &s, &err));
        ASSERT_TRUE(berth_uuid_valid(s.id) && s.created_ms > 0);
        if (i == 0) first = s;
    }
    /* newest first, even within one millisecond; every field comes back */
    ASSERT_EQ_STR(secrets_of(t, sp.app_id), "s9,s8,s7,s6,s5,s4,s3,s2,s1,s0,");
    ASSERT_OK(t->m->dir->sp_secrets(t->m, sp.app_id, first_secret, &newest, &err));
    ASSERT_EQ_STR(newest.id, s.id);
    ASSERT_EQ_STR(newest.hash, "$argon2id$s9");
    ASSERT_EQ_INT(newest.expires_ms, 1009);
    ASSERT_EQ_INT(newest.created_ms, s.created_ms);

    /* an eleventh is refused, the limit is per principal */
    memset(&s, 0, sizeof(s));
    snprintf(s.description, sizeof(s.description), "s10");
    ASSERT_RC(t->m->dir->sp_secret_add(t->m, sp.app_id, &s, &err), BERTH_EBUSY);
    ASSERT_TRUE(strstr(err.msg, sp.app_id) != NULL);
    ASSERT_EQ_STR(secrets_of(t, sp.app_id), "s9,s8,s7,s6,s5,s4,s3,s2,s1,s0,");
    ASSERT_OK(t->m->dir->sp_secret_add(t->m, other.app_id, &s, &err));
    ASSERT_RC(t->m->dir->sp_secret_add(t->m, "nope", &s, &err), BERTH_ENOENT);
    ASSERT_RC(t->m->dir->sp_secrets(t->m, "nope", collect_secret, &b, &err), BERTH_ENOENT);

    /* removing one makes room */
    ASSERT_RC(t->m->dir->sp_secret_remove(t->m, other.app_id, first.id, &err), BERTH_ENOENT);
    ASSERT_OK(t->m->dir->sp_secret_remove(t->m, sp.app_id, first.id, &err));
    ASSERT_RC(t->m->dir->sp_secret_remove(t->m, sp.app_id, first.id, &err), BERTH_ENOENT);
    ASSERT_EQ_STR(secrets_of(t, sp.app_id), "s9,s8,s7,s6,s5,s4,s3,s2,s1,");
    ASSERT_OK(t->m->dir->sp_secret_add(t->m, sp.app_id, &s, &err));
    ASSERT_EQ_STR(secrets_of(t, sp.app_id), "s10,s9,s8,s7,s6,s5,s4,s3,s2,s1,");

    /* deleting the principal takes its secrets */
    ASSERT_OK(t->m->dir->sp_delete(t->m, sp.app_id, &err));
    ASSERT_RC(t->m->dir->sp_delete(t->m, sp.app_id, &err), BERTH_ENOENT);
    ASSERT_RC(t->m->dir->sp_get(t->m, sp.app_id, &got, &err), BERTH_ENOENT);
    ASSERT_RC(t->m->dir->sp_secrets(t->m, sp.app_id, collect_secret, &b, &err), BERTH_ENOENT);
    ASSERT_EQ_STR(secrets_of(t, other.app_id), "s10,");
    berth_buf_release(&b);
}

SHARED_TEST(meta_scopemaps)
{
    struct berth_err err = BERTH_ERR_INIT;
    static const char *const three[] = {"repositories/app/content/read", "repositories/app/metadata/read",
                                        "repositories/lib/*/content/write", NULL};
    static const char *const one[] = {"repositories/x/content/delete", NULL};
    int64_t two = new_registry(t->m, "second");
    struct berth_meta_scopemap sm, got;
    size_t i;

    memset(&sm, 0, sizeof(sm));
    sm.reg = t->reg;
    snprintf(sm.name, sizeof(sm.name), "pushers");
    snprintf(sm.description, sizeof(sm.description), "CI pushes here");
    sm.rules = (char **)(uintptr_t)three;
    sm.nrules = 3;
    ASSERT_OK(t->m->dir->scopemap_put(t->m, &sm, &err));
    ASSERT_TRUE(sm.id > 0 && sm.created_ms > 0);
    ASSERT_OK(t->m->dir->scopemap_get(t->m, t->reg, "pushers", &got, &err));
    ASSERT_EQ_INT(got.id, sm.id);
    ASSERT_EQ_INT(got.reg, t->reg);
    ASSERT_EQ_STR(got.name, "pushers");
    ASSERT_EQ_STR(got.description, "CI pushes here");
    ASSERT_EQ_INT(got.created_ms, sm.created_ms);
    ASSERT_EQ_INT(got.nrules, 3);
    for (i = 0; i < 3; i++) ASSERT_EQ_STR(got.rules[i], three[i]);
    berth_meta_scopemap_release(&got);
    ASSERT_TRUE(got.rules == NULL && got.nrules == 0);
    berth_meta_scopemap_release(&got);
    berth_meta_scopemap_release(NULL);

    /* put again: rules and description replaced, id and creation kept */
    {
        struct berth_meta_scopemap again = sm;
        again.id = 0;
        again.created_ms = 0;
        again.rules = (char **)(uintptr_t)one;
        again.nrules = 1;
        snprintf(again.description, sizeof(again.description), "%s", "");
        ASSERT_OK(t->m->dir->scopemap_put(t->m, &again, &err));
        ASSERT_EQ_INT(again.id, sm.id);
        ASSERT_EQ_INT(again.created_ms, sm.created_ms);
    }
    ASSERT_OK(t->m->dir->scopemap_get(t->m, t->reg, "pushers", &got, &err));
    ASSERT_EQ_STR(got.description, "");
    ASSERT_EQ_INT(got.nrules, 1);
    ASSERT_EQ_STR(got.rules[0], one[0]);
    berth_meta_scopemap_release(&got);

    /* create only: a taken name is BERTH_EEXIST and nothing changes; a missing registry stays ENOENT */
    {
        struct berth_meta_scopemap dup = sm;
        dup.create_only = 1;
        dup.rules = (char **)(uintptr_t)three;
        dup.nrules = 3;
        ASSERT_RC(t->m->dir->scopemap_put(t->m, &dup, &err), BERTH_EEXIST);
        ASSERT_TRUE(strstr(err.msg, "already exists") != NULL);
        ASSERT_OK(t->m->dir->scopemap_get(t->m, t->reg, "pushers", &got, &err));
        ASSERT_EQ_INT(got.nrules, 1);
        berth_meta_scopemap_release(&got);
        dup.reg = two + 100;
        ASSERT_RC(t->m->dir->scopemap_put(t->m, &dup, &err), BERTH_ENOENT);
        dup.reg = t->reg;
        snprintf(dup.name, sizeof(dup.name), "fresh");
        ASSERT_OK(t->m->dir->scopemap_put(t->m, &dup, &err));
        ASSERT_OK(t->m->dir->scopemap_delete(t->m, t->reg, "fresh", &err));
    }

    /* a map without rules; the list is sorted by name, rules in order */
    put_scopemap(t, t->reg, "empty", NULL);
    put_scopemap(t, two, "pushers", three);
    ASSERT_EQ_STR(scopemaps_of(t, t->reg), "empty[],pushers[repositories/x/content/delete;],");
    ASSERT_EQ_STR(scopemaps_of(t, two), "pushers[repositories/app/content/read;repositories/app/metadata/read;"
                                        "repositories/lib/*/content/write;],");
    ASSERT_OK(t->m->dir->scopemap_get(t->m, t->reg, "empty", &got, &err));
    ASSERT_EQ_INT(got.nrules, 0);
    berth_meta_scopemap_release(&got);

    ASSERT_RC(t->m->dir->scopemap_get(t->m, t->reg, "nope", &got, &err), BERTH_ENOENT);
    ASSERT_EQ_STR(err.msg, "scope map 'nope' not found");
    ASSERT_TRUE(got.rules == NULL);
    sm.reg = two + 100;
    ASSERT_RC(t->m->dir->scopemap_put(t->m, &sm, &err), BERTH_ENOENT);
    ASSERT_RC(t->m->dir->scopemap_list(t->m, two + 100, collect_scopemap, NULL, &err), BERTH_ENOENT);

    ASSERT_OK(t->m->dir->scopemap_delete(t->m, t->reg, "pushers", &err));
    ASSERT_RC(t->m->dir->scopemap_delete(t->m, t->reg, "pushers", &err), BERTH_ENOENT);
    ASSERT_EQ_STR(scopemaps_of(t, t->reg), "empty[],");
    ASSERT_OK(t->m->dir->scopemap_get(t->m, two, "pushers", &got, &err));
    ASSERT_EQ_INT(got.nrules, 3);
    berth_meta_scopemap_release(&got);
}

SHARED_TEST(meta_scopemap_delete_busy)
{
    struct berth_err err = BERTH_ERR_INIT;
    static const char *const rules[] = {"repositories/app/content/read", NULL};
    int64_t two = new_registry(t->m, "second");
    struct berth_meta_token a = token(t->reg, "zeta", "readers"), b = token(t->reg, "beta", "readers");
    struct berth_meta_token elsewhere = token(two, "ci", "readers");

    put_scopemap(t, t->reg, "readers", rules);
    put_scopemap(t, two, "readers", rules);
    ASSERT_OK(t->m->dir->token_put(t->m, &a, &err));
    ASSERT_OK(t->m->dir->token_put(t->m, &b, &err));
    ASSERT_OK(t->m->dir->token_put(t->m, &elsewhere, &err));
    ASSERT_RC(t->m->dir->scopemap_delete(t->m, t->reg, "readers", &err), BERTH_EBUSY);
    ASSERT_EQ_STR(err.msg, "scope map 'readers' is used by token 'beta'");
    ASSERT_OK(t->m->dir->token_delete(t->m, t->reg, "beta", &err));
    ASSERT_RC(t->m->dir->scopemap_delete(t->m, t->reg, "readers", &err), BERTH_EBUSY);
    ASSERT_EQ_STR(err.msg, "scope map 'readers' is used by token 'zeta'");
    /* a token that moves to another map frees it */
    snprintf(a.scopemap, sizeof(a.scopemap), "_repositories_pull");
    ASSERT_OK(t->m->dir->token_put(t->m, &a, &err));
    ASSERT_OK(t->m->dir->scopemap_delete(t->m, t->reg, "readers", &err));
    /* the other registry's map and token are untouched */
    ASSERT_EQ_STR(scopemaps_of(t, two), "readers[repositories/app/content/read;],");
    ASSERT_RC(t->m->dir->scopemap_delete(t->m, two, "readers", &err), BERTH_EBUSY);
}

SHARED_TEST(meta_tokens)
{
    struct berth_err err = BERTH_ERR_INIT;
    int64_t two = new_registry(t->m, "second");
    struct berth_meta_token tk = token(t->reg, "ci", "_repositories_push"), got, other = token(t->reg, "bot", "m");
    int64_t id, created;

    snprintf(tk.hash[0], sizeof(tk.hash[0]), "$argon2id$p1");
    snprintf(tk.hash[1], sizeof(tk.hash[1]), "$argon2id$p2");
    tk.set_ms[0] = 11;
    tk.set_ms[1] = 12;
    tk.expires_ms[0] = 0;
    tk.expires_ms[1] = 99999;
    ASSERT_OK(t->m->dir->token_put(t->m, &tk, &err));
    ASSERT_TRUE(tk.id > 0 && tk.created_ms > 0);
    id = tk.id;
    created = tk.created_ms;
    ASSERT_OK(t->m->dir->token_get(t->m, t->reg, "ci", &got, &err));
    ASSERT_EQ_INT(got.id, id);
    ASSERT_EQ_INT(got.reg, t->reg);
    ASSERT_EQ_STR(got.name, "ci");
    ASSERT_EQ_STR(got.scopemap, "_repositories_push");
    ASSERT_EQ_INT(got.enabled, 1);
    ASSERT_EQ_INT(got.created_ms, created);
    ASSERT_EQ_STR(got.hash[0], "$argon2id$p1");
    ASSERT_EQ_STR(got.hash[1], "$argon2id$p2");
    ASSERT_EQ_INT(got.set_ms[0], 11);
    ASSERT_EQ_INT(got.set_ms[1], 12);
    ASSERT_EQ_INT(got.expires_ms[0], 0);
    ASSERT_EQ_INT(got.expires_ms[1], 99999);

    /* create only: a taken name is BERTH_EEXIST and the stored token keeps its passwords */
    {
        struct berth_meta_token dup = token(t->reg, "ci", "_repositories_pull");
        dup.create_only = 1;
        ASSERT_RC(t->m->dir->token_put(t->m, &dup, &err), BERTH_EEXIST);
        ASSERT_TRUE(strstr(err.msg, "already exists") != NULL);
        ASSERT_OK(t->m->dir->token_get(t->m, t->reg, "ci", &got, &err));
        ASSERT_EQ_STR(got.scopemap, "_repositories_push");
        ASSERT_EQ_STR(got.hash[0], "$argon2id$p1");
        dup.reg = two + 100;
        ASSERT_RC(t->m->dir->token_put(t->m, &dup, &err), BERTH_ENOENT);
    }

    /* put again replaces every field but the id and the creation time */
    tk.enabled = 0;
    snprintf(tk.scopemap, sizeof(tk.scopemap), "readers");
    snprintf(tk.hash[1], sizeof(tk.hash[1]), "%s", "");
    tk.set_ms[1] = 0;
    tk.expires_ms[0] = 5;
    tk.created_ms = 1;
    ASSERT_OK(t->m->dir->token_put(t->m, &tk, &err));
    ASSERT_EQ_INT(tk.id, id);
    ASSERT_EQ_INT(tk.created_ms, created);
    ASSERT_OK(t->m->dir->token_get(t->m, t->reg, "ci", &got, &err));
    ASSERT_EQ_INT(got.enabled, 0);
    ASSERT_EQ_STR(got.scopemap, "readers");
    ASSERT_EQ_STR(got.hash[0], "$argon2id$p1");
    ASSERT_EQ_STR(got.hash[1], "");
    ASSERT_EQ_INT(got.set_ms[1], 0);
    ASSERT_EQ_INT(got.expires_ms[0], 5);
    ASSERT_EQ_INT(got.created_ms, created);

    ASSERT_OK(t->m->dir->token_put(t->m, &other, &err));
    ASSERT_EQ_STR(tokens_of(t, t->reg), "bot:m,ci:readers,");
    ASSERT_EQ_STR(tokens_of(t, two), "");
    ASSERT_RC(t->m->dir->token_get(t->m, two, "ci", &got, &err), BERTH_ENOENT);
    ASSERT_EQ_STR(err.msg, "token 'ci' not found");
    ASSERT_RC(t->m->dir->token_list(t->m, two + 100, collect_token, NULL, &err), BERTH_ENOENT);
    other.reg = two + 100;
    ASSERT_RC(t->m->dir->token_put(t->m, &other, &err), BERTH_ENOENT);

    ASSERT_RC(t->m->dir->token_delete(t->m, two, "ci", &err), BERTH_ENOENT);
    ASSERT_OK(t->m->dir->token_delete(t->m, t->reg, "ci", &err));
    ASSERT_RC(t->m->dir->token_delete(t->m, t->reg, "ci", &err), BERTH_ENOENT);
    ASSERT_EQ_STR(tokens_of(t, t->reg), "bot:m,");
}

SHARED_TEST(meta_assignments)
{
    struct berth_err err = BERTH_ERR_INIT;
    struct berth_meta_user u = new_user(t, "alice"), v = new_user(t, "victor");
    struct berth_meta_sp sp = new_sp(t, "builder");
    struct berth_meta_assignment a = assignment("user", u.id, "Owner", "/"), dup;
    struct berth_meta_assignment b = assignment("sp", sp.app_id, "AcrPush", "/registries/default");
    struct berth_meta_assignment c = assignment("user", u.id, "AcrPull", "/registries/default/repositories/lib");
    struct berth_meta_assignment d = assignment("user", v.id, "Reader", "/");
    struct berth_meta_assignment bad;

    ASSERT_OK(t->m->dir->assignment_create(t->m, &a, &err));
    ASSERT_TRUE(berth_uuid_valid(a.id) && a.created_ms > 0);
    dup = a;
    ASSERT_RC(t->m->dir->assignment_create(t->m, &dup, &err), BERTH_EEXIST);
    ASSERT_TRUE(strstr(err.msg, "Owner") != NULL);
    ASSERT_OK(t->m->dir->assignment_create(t->m, &b, &err));
    ASSERT_OK(t->m->dir->assignment_create(t->m, &c, &err));
    ASSERT_OK(t->m->dir->assignment_create(t->m, &d, &err));
    /* the same role elsewhere is another assignment */
    dup = assignment("user", u.id, "Owner", "/registries/default");
    ASSERT_OK(t->m->dir->assignment_create(t->m, &dup, &err));

    ASSERT_EQ_STR(assignments_of(t, NULL), "user:Owner@/,sp:AcrPush@/registries/default,"
                                           "user:AcrPull@/registries/default/repositories/lib,user:Reader@/,"
                                           "user:Owner@/registries/default,");
    ASSERT_EQ_STR(assignments_of(t, u.id), "user:Owner@/,user:AcrPull@/registries/default/repositories/lib,"
                                           "user:Owner@/registries/default,");
    ASSERT_EQ_STR(assignments_of(t, sp.app_id), "sp:AcrPush@/registries/default,");
    ASSERT_EQ_STR(assignments_of(t, "nobody"), "");

    /* the principal and the registry must exist */
    bad = assignment("user", sp.app_id, "Owner", "/");
    ASSERT_RC(t->m->dir->assignment_create(t->m, &bad, &err), BERTH_ENOENT);
    ASSERT_TRUE(strstr(err.msg, "user") != NULL);
    bad = assignment("sp", u.id, "Owner", "/");
    ASSERT_RC(t->m->dir->assignment_create(t->m, &bad, &err), BERTH_ENOENT);
    bad = assignment("user", u.id, "Owner", "/registries/later/repositories/x");
    ASSERT_RC(t->m->dir->assignment_create(t->m, &bad, &err), BERTH_ENOENT);
    ASSERT_EQ_STR(err.msg, "registry 'later' not found");
    bad = assignment("group", u.id, "Owner", "/");
    ASSERT_RC(t->m->dir->assignment_create(t->m, &bad, &err), BERTH_EINVAL);

    ASSERT_OK(t->m->dir->assignment_delete(t->m, c.id, &err));
    ASSERT_RC(t->m->dir->assignment_delete(t->m, c.id, &err), BERTH_ENOENT);
    ASSERT_EQ_STR(assignments_of(t, u.id), "user:Owner@/,user:Owner@/registries/default,");

    /* deleting a principal deletes its assignments, nobody else's */
    ASSERT_OK(t->m->dir->user_delete(t->m, u.id, &err));
    ASSERT_EQ_STR(assignments_of(t, NULL), "sp:AcrPush@/registries/default,user:Reader@/,");
    ASSERT_OK(t->m->dir->sp_delete(t->m, sp.app_id, &err));
    ASSERT_EQ_STR(assignments_of(t, NULL), "user:Reader@/,");
}

/* ---- concurrency ---- */

#define NTHREADS 8
#define NLOOPS 60

struct worker {
    struct t *t;
    int id;
    int failures;
    char why[BERTH_ERR_MSG_MAX + 64];
};

static void *work(void *arg)
{
    struct worker *w = arg;
    struct t *t = w->t;
    struct berth_err err = BERTH_ERR_INIT;
    struct berth_buf buf = BERTH_BUF_INIT(1 << 16);
    char repo[32], tag[32], mt[128];
    int i;

    snprintf(repo, sizeof(repo), "team/r%d", w->id % 3); /* threads share repositories */
    snprintf(tag, sizeof(tag), "t%d", w->id);
    for (i = 0; i < NLOOPS; i++) {
        struct berth_digest blob = dg((unsigned)(0x100000 + w->id * 1000 + i));
        struct berth_digest d = dg((unsigned)(0x200000 + w->id * 1000 + i)), got;
        struct berth_meta_manifest mf = man(t, repo, &d);
        struct berth_ref byt = tag_ref(tag), byd = digest_ref(&d);
        size_t len;
        enum berth_rc rc;
        const char *step = "link";

        mf.blobs = &blob;
        mf.nblobs = 1;
        rc = claim(t->m, t->reg, repo, &blob, 10, &err);
        if (!rc) {
            step = "put";
            rc = t->m->content->manifest_put(t->m, &mf, tag, &err);
        }
        berth_buf_reset(&buf);
        if (!rc) {
            step = "get tag";
            rc = t->m->content->manifest_get(t->m, t->reg, repo, &byt, &buf, &len, mt, sizeof(mt), &got, &err);
        }
        if (!rc && strcmp(got.s, d.s) != 0) rc = berth_err_set(&err, BERTH_EINTERNAL, "tag points at %s", got.s);
        if (!rc) {
            step = "get digest";
            rc = t->m->content->manifest_get(t->m, t->reg, repo, &byd, &buf, &len, mt, sizeof(mt), &got, &err);
        }
        if (!rc && (buf.len != 2 * strlen(d.s) || memcmp(buf.p, d.s, strlen(d.s)) != 0))
            rc = berth_err_set(&err, BERTH_EINTERNAL, "payload differs");
        if (!rc) {
            step = "linked";
            rc = t->m->content->blob_linked(t->m, t->reg, repo, &blob, NULL, &err);
        }
        if (!rc) {
            step = "upload";
            rc = t->m->uploads->upload_put(t->m, d.s, t->reg, repo, "p", i, 0, &err);
        }
        if (rc) {
            w->failures++;
            snprintf(w->why, sizeof(w->why), "%s: %s: %s", step, berth_rc_name(rc), err.msg);
        }
    }
    berth_buf_release(&buf);
    return NULL;
}

SHARED_TEST(meta_concurrent_threads)
{
    struct berth_err err = BERTH_ERR_INIT;
    struct worker w[NTHREADS];
    pthread_t th[NTHREADS];
    int i, more;

    for (i = 0; i < NTHREADS; i++) {
        memset(&w[i], 0, sizeof(w[i]));
        w[i].t = t;
        w[i].id = i;
        ASSERT_EQ_INT(pthread_create(&th[i], NULL, work, &w[i]), 0);
    }
    for (i = 0; i < NTHREADS; i++) pthread_join(th[i], NULL);
    for (i = 0; i < NTHREADS; i++)
        if (w[i].failures) BERTH_TEST_FAIL("thread %d: %d failures, last: %s", i, w[i].failures, w[i].why);
    ASSERT_EQ_STR(repos_of(t, NULL, 10, &more), "team/r0,team/r1,team/r2,");
    ASSERT_EQ_STR(tags_of(t, "team/r0", NULL, 10, &more), "t0,t3,t6,");
    ASSERT_OK(t->ops->ping(t->m, &err));
}

static int collect_tag_info(const struct berth_meta_tag_info *ti, void *ctx)
{
    size_t n = strlen(ti->digest);
    berth_buf_printf(ctx, "%s=%s,", ti->name, ti->digest + n - 4);
    return 0;
}

static int collect_manifest_info(const struct berth_meta_manifest_info *mi, void *ctx)
{
    size_t n = strlen(mi->digest), i;
    berth_buf_printf(ctx, "%s:%lld[", mi->digest + n - 4, (long long)mi->blobs_size);
    for (i = 0; i < mi->ntags; i++) berth_buf_printf(ctx, "%s%s", i ? " " : "", mi->tags[i]);
    berth_buf_puts(ctx, "]");
    if (*mi->architecture || *mi->os) berth_buf_printf(ctx, "%s/%s", mi->os, mi->architecture);
    berth_buf_puts(ctx, ",");
    return 0;
}

/* ACR's attributes: a repository's counts and times, tags and manifests by name and by time, paged. */
SHARED_TEST(meta_acr_attributes)
{
    struct berth_err err = BERTH_ERR_INIT;
    struct berth_digest a = dg(0xaaaa), b = dg(0xbbbb), l1 = dg(0x1111), l2 = dg(0x2222);
    struct berth_meta_manifest ma = man(t, "r", &a), mb = man(t, "r", &b);
    struct berth_meta_repo_info ri;
    struct berth_buf buf = BERTH_BUF_INIT(0);
    int more = -1;

    ASSERT_OK(claim(t->m, t->reg, "r", &l1, 100, &err));
    ASSERT_OK(claim(t->m, t->reg, "r", &l2, 20, &err));
    ma.blobs = &l1;
    ma.nblobs = 1;
    mb.blobs = &l2;
    mb.nblobs = 1;
    mb.architecture = "arm64";
    mb.os = "linux";
    ASSERT_OK(t->m->content->manifest_put(t->m, &ma, "old", &err));
    tick();
    ASSERT_OK(t->m->content->manifest_put(t->m, &mb, "b-new", &err));
    tick();
    ASSERT_OK(t->m->content->manifest_put(t->m, &mb, "a-newest", &err));
    ASSERT_OK(t->m->content->repo_info(t->m, t->reg, "r", &ri, &err));
    ASSERT_EQ_INT(ri.manifests, 2);
    ASSERT_EQ_INT(ri.tags, 3);
    ASSERT_TRUE(ri.updated_ms >= ri.created_ms);
    ASSERT_RC(t->m->content->repo_info(t->m, t->reg, "none", &ri, &err), BERTH_ENAMEUNKNOWN);
    {
        /* usage: a blob another repository links too is counted once */
        struct berth_meta_usage u;
        ASSERT_OK(claim(t->m, t->reg, "other", &l1, 100, &err));
        ASSERT_OK(t->m->content->registry_usage(t->m, t->reg, &u, &err));
        ASSERT_EQ_INT(u.blob_bytes, 120);
        ASSERT_EQ_INT(u.manifest_bytes, (int64_t)(strlen(a.s) + strlen(b.s)));
        ASSERT_EQ_INT(u.repositories, 2);
        ASSERT_EQ_INT(u.manifests, 2);
        ASSERT_EQ_INT(u.tags, 3);
        ASSERT_EQ_INT(u.scope_maps, 0);
    }

    ASSERT_OK(t->m->content->tag_infos(t->m, t->reg, "r", NULL, NULL, 10, BERTH_ORDER_NAME, collect_tag_info, &buf,
                                       &more, &err));
    ASSERT_EQ_STR(berth_buf_str(&buf), "a-newest=bbbb,b-new=bbbb,old=aaaa,");
    ASSERT_EQ_INT(more, 0);
    berth_buf_reset(&buf);
    ASSERT_OK(t->m->content->tag_infos(t->m, t->reg, "r", NULL, NULL, 2, BERTH_ORDER_TIME_DESC, collect_tag_info,
                                       &buf, &more, &err));
    ASSERT_EQ_STR(berth_buf_str(&buf), "a-newest=bbbb,b-new=bbbb,");
    ASSERT_EQ_INT(more, 1);
    berth_buf_reset(&buf);
    ASSERT_OK(t->m->content->tag_infos(t->m, t->reg, "r", NULL, "b-new", 2, BERTH_ORDER_TIME_DESC, collect_tag_info,
                                       &buf, &more, &err));
    ASSERT_EQ_STR(berth_buf_str(&buf), "old=aaaa,");
    ASSERT_EQ_INT(more, 0);
    berth_buf_reset(&buf);
    ASSERT_OK(t->m->content->tag_infos(t->m, t->reg, "r", NULL, NULL, 10, BERTH_ORDER_TIME_ASC, collect_tag_info,
                                       &buf, NULL, &err));
    ASSERT_EQ_STR(berth_buf_str(&buf), "old=aaaa,b-new=bbbb,a-newest=bbbb,");
    berth_buf_reset(&buf);
    ASSERT_OK(t->m->content->tag_infos(t->m, t->reg, "r", "old", NULL, 1, BERTH_ORDER_NAME, collect_tag_info, &buf,
                                       NULL, &err));
    ASSERT_EQ_STR(berth_buf_str(&buf), "old=aaaa,");
    ASSERT_RC(t->m->content->tag_infos(t->m, t->reg, "r", "nope", NULL, 1, BERTH_ORDER_NAME, collect_tag_info, &buf,
                                       NULL, &err),
              BERTH_EMANIFESTUNKNOWN);
    berth_buf_reset(&buf);

    ASSERT_OK(t->m->content->manifest_infos(t->m, t->reg, "r", NULL, NULL, 10, BERTH_ORDER_NAME,
                                            collect_manifest_info, &buf, &more, &err));
    ASSERT_EQ_STR(berth_buf_str(&buf), "aaaa:100[old],bbbb:20[a-newest b-new]linux/arm64,");
    berth_buf_reset(&buf);
    ASSERT_OK(t->m->content->manifest_infos(t->m, t->reg, "r", NULL, NULL, 1, BERTH_ORDER_TIME_DESC,
                                            collect_manifest_info, &buf, &more, &err));
    ASSERT_EQ_STR(berth_buf_str(&buf), "bbbb:20[a-newest b-new]linux/arm64,");
    ASSERT_EQ_INT(more, 1);
    berth_buf_reset(&buf);
    ASSERT_OK(t->m->content->manifest_infos(t->m, t->reg, "r", &a, NULL, 1, BERTH_ORDER_NAME, collect_manifest_info,
                                            &buf, NULL, &err));
    ASSERT_EQ_STR(berth_buf_str(&buf), "aaaa:100[old],");
    ASSERT_RC(t->m->content->manifest_infos(t->m, t->reg, "r", &l1, NULL, 1, BERTH_ORDER_NAME, collect_manifest_info,
                                            &buf, NULL, &err),
              BERTH_EMANIFESTUNKNOWN);
    ASSERT_RC(t->m->content->manifest_infos(t->m, t->reg, "none", NULL, NULL, 1, BERTH_ORDER_NAME,
                                            collect_manifest_info, &buf, NULL, &err),
              BERTH_ENAMEUNKNOWN);

    /* locks: a write-locked tag does not move, a delete-locked one is not deleted, nor its manifest */
    ASSERT_OK(t->m->content->locks_set(t->m, t->reg, "r", "old", NULL, LOCKS(0, 0, -1, -1), &err));
    ASSERT_RC(t->m->content->manifest_put(t->m, &mb, "old", &err), BERTH_EDENIED);
    ASSERT_TRUE(strstr(err.msg, "writeEnabled") != NULL);
    ASSERT_OK(t->m->content->manifest_put(t->m, &ma, "old", &err)); /* the same manifest: no move */
    ASSERT_RC(t->m->content->tag_delete(t->m, t->reg, "r", "old", &err), BERTH_EDENIED);
    ASSERT_RC(t->m->content->manifest_delete(t->m, t->reg, "r", &a, &err), BERTH_EDENIED);
    ASSERT_RC(t->m->content->repo_delete(t->m, t->reg, "r", NULL, NULL, &err), BERTH_EDENIED);
    ASSERT_RC(t->m->content->locks_set(t->m, t->reg, "r", "nope", NULL, LOCKS(0, -1, -1, -1), &err),
              BERTH_EMANIFESTUNKNOWN);
    ASSERT_OK(t->m->content->locks_set(t->m, t->reg, "r", "old", NULL, LOCKS(1, 1, -1, -1), &err));
    /* gc keeps a delete-locked manifest, untagged or not */
    ASSERT_OK(t->m->content->locks_set(t->m, t->reg, "r", NULL, &a, LOCKS(-1, 0, -1, -1), &err));
    ASSERT_OK(t->m->content->tag_delete(t->m, t->reg, "r", "old", &err));
    ASSERT_EQ_STR(gc_run(t, tick(), 0), "");
    ASSERT_TRUE(has_manifest(t, "r", &a));
    ASSERT_OK(t->m->content->locks_set(t->m, t->reg, "r", NULL, &a, LOCKS(-1, 1, -1, -1), &err));
    ASSERT_OK(t->m->content->manifest_put(t->m, &ma, NULL, &err)); /* queued again by a push */
    ASSERT_EQ_STR(gc_run(t, tick(), 0), "r@aaaa,");
    /* a write-locked repository takes no manifest */
    ASSERT_OK(t->m->content->locks_set(t->m, t->reg, "r", NULL, NULL, LOCKS(0, -1, -1, -1), &err));
    ASSERT_RC(t->m->content->manifest_put(t->m, &mb, "x", &err), BERTH_EDENIED);
    ASSERT_OK(t->m->content->repo_info(t->m, t->reg, "r", &ri, &err));
    ASSERT_TRUE(!ri.write_enabled && ri.delete_enabled);
    berth_buf_release(&buf);
}

/* ACR's readEnabled refuses pulls, and listEnabled leaves out of lists what stays readable by name. */
SHARED_TEST(meta_acr_read_and_list_locks)
{
    struct berth_err err = BERTH_ERR_INIT;
    struct berth_digest a = dg(0xa1), b = dg(0xb2), l1 = dg(0x11);
    struct berth_meta_manifest ma = man(t, "r", &a), mb = man(t, "r", &b);
    struct berth_ref ta = tag_ref("ta"), tb = tag_ref("tb"), da = digest_ref(&a), db = digest_ref(&b);
    struct berth_buf buf = BERTH_BUF_INIT(0);
    struct berth_meta_repo_info ri;
    int more = 0;

    ASSERT_OK(claim(t->m, t->reg, "r", &l1, 10, &err));
    ASSERT_OK(claim(t->m, t->reg, "s", &l1, 10, &err));
    ASSERT_OK(t->m->content->manifest_put(t->m, &ma, "ta", &err));
    ASSERT_OK(t->m->content->manifest_put(t->m, &mb, "tb", &err));

    /* list: the tag leaves tags/list and _tags, the manifest _manifests, the repository _catalog */
    ASSERT_OK(t->m->content->locks_set(t->m, t->reg, "r", "ta", NULL, LOCKS(-1, -1, -1, 0), &err));
    ASSERT_EQ_STR(tags_of(t, "r", NULL, 10, &more), "tb,");
    ASSERT_OK(t->m->content->tag_infos(t->m, t->reg, "r", NULL, NULL, 10, BERTH_ORDER_TIME_DESC, collect_tag_info,
                                       &buf, NULL, &err));
    ASSERT_EQ_STR(berth_buf_str(&buf), "tb=00b2,");
    berth_buf_reset(&buf);
    ASSERT_OK(t->m->content->tag_infos(t->m, t->reg, "r", "ta", NULL, 1, BERTH_ORDER_NAME, collect_tag_info, &buf,
                                       NULL, &err));
    ASSERT_EQ_STR(berth_buf_str(&buf), "ta=00a1,");
    berth_buf_reset(&buf);
    ASSERT_OK(t->m->content->locks_set(t->m, t->reg, "r", NULL, &b, LOCKS(-1, -1, -1, 0), &err));
    ASSERT_OK(t->m->content->manifest_infos(t->m, t->reg, "r", NULL, NULL, 10, BERTH_ORDER_NAME,
                                            collect_manifest_info, &buf, &more, &err));
    ASSERT_EQ_STR(berth_buf_str(&buf), "00a1:0[ta],");
    berth_buf_reset(&buf);
    ASSERT_OK(t->m->content->locks_set(t->m, t->reg, "r", NULL, NULL, LOCKS(-1, -1, -1, 0), &err));
    ASSERT_EQ_STR(repos_of(t, NULL, 10, &more), "s,");
    ASSERT_OK(t->m->content->repo_info(t->m, t->reg, "r", &ri, &err));
    ASSERT_TRUE(!ri.list_enabled && ri.read_enabled && ri.write_enabled);
    /* hidden from lists, still pulled by name */
    ASSERT_OK(t->m->content->manifest_get(t->m, t->reg, "r", &ta, NULL, NULL, NULL, 0, NULL, &err));

    /* read: by the tag, by the manifest (any tag of it too), and the whole repository with its blobs */
    ASSERT_OK(t->m->content->locks_set(t->m, t->reg, "r", "ta", NULL, LOCKS(-1, -1, 0, -1), &err));
    ASSERT_RC(t->m->content->manifest_get(t->m, t->reg, "r", &ta, NULL, NULL, NULL, 0, NULL, &err), BERTH_EDENIED);
    ASSERT_TRUE(strstr(err.msg, "tag ta of 'r' is locked: its readEnabled is false") != NULL);
    ASSERT_OK(t->m->content->manifest_get(t->m, t->reg, "r", &da, NULL, NULL, NULL, 0, NULL, &err));
    ASSERT_OK(t->m->content->locks_set(t->m, t->reg, "r", NULL, &b, LOCKS(-1, -1, 0, -1), &err));
    ASSERT_RC(t->m->content->manifest_get(t->m, t->reg, "r", &db, NULL, NULL, NULL, 0, NULL, &err), BERTH_EDENIED);
    ASSERT_RC(t->m->content->manifest_get(t->m, t->reg, "r", &tb, NULL, NULL, NULL, 0, NULL, &err), BERTH_EDENIED);
    ASSERT_OK(t->m->content->blob_linked(t->m, t->reg, "r", &l1, NULL, &err));
    ASSERT_OK(t->m->content->locks_set(t->m, t->reg, "r", NULL, NULL, LOCKS(-1, -1, 0, -1), &err));
    ASSERT_RC(t->m->content->manifest_get(t->m, t->reg, "r", &da, NULL, NULL, NULL, 0, NULL, &err), BERTH_EDENIED);
    ASSERT_TRUE(strstr(err.msg, "repository 'r' is locked: its readEnabled is false") != NULL);
    ASSERT_RC(t->m->content->blob_linked(t->m, t->reg, "r", &l1, NULL, &err), BERTH_EDENIED);
    ASSERT_OK(t->m->content->blob_linked(t->m, t->reg, "s", &l1, NULL, &err));
    /* unlocked again, everything is back */
    ASSERT_OK(t->m->content->locks_set(t->m, t->reg, "r", NULL, NULL, LOCKS(-1, -1, 1, 1), &err));
    ASSERT_OK(t->m->content->locks_set(t->m, t->reg, "r", "ta", NULL, LOCKS(-1, -1, 1, 1), &err));
    ASSERT_OK(t->m->content->locks_set(t->m, t->reg, "r", NULL, &b, LOCKS(-1, -1, 1, 1), &err));
    ASSERT_OK(t->m->content->manifest_get(t->m, t->reg, "r", &tb, NULL, NULL, NULL, 0, NULL, &err));
    ASSERT_EQ_STR(tags_of(t, "r", NULL, 10, &more), "ta,tb,");
    ASSERT_EQ_STR(repos_of(t, NULL, 10, &more), "r,s,");
    berth_buf_release(&buf);
}

/* A reap whose remove step is slow, and a claim of the same digest made while it is in progress. */
struct race {
    struct t *t;
    struct berth_digest d;
    pthread_mutex_t lock;
    pthread_cond_t cond;
    int removing;  /* the reap's remove step has begun */
    int have;      /* the bytes are in the "store" */
    int put_saw;   /* what the claim's store step found: 1 the bytes there (kept), 0 none (wrote its own) */
    enum berth_rc claim_rc;
};

static enum berth_rc race_remove(void *p, struct berth_err *err)
{
    struct race *r = p;
    (void)err;
    pthread_mutex_lock(&r->lock);
    r->removing = 1;
    pthread_cond_broadcast(&r->cond);
    pthread_mutex_unlock(&r->lock);
    usleep(300000); /* a claim that is not held off would run its store step now */
    pthread_mutex_lock(&r->lock);
    r->have = 0;
    pthread_mutex_unlock(&r->lock);
    return BERTH_OK;
}

static enum berth_rc race_put(void *p, struct berth_err *err)
{
    struct race *r = p;
    (void)err;
    pthread_mutex_lock(&r->lock);
    r->put_saw = r->have;
    r->have = 1;
    pthread_mutex_unlock(&r->lock);
    return BERTH_OK;
}

static void *race_claim(void *p)
{
    struct race *r = p;
    struct berth_err err = BERTH_ERR_INIT;
    struct berth_meta_claim c = {0};

    pthread_mutex_lock(&r->lock);
    while (!r->removing) pthread_cond_wait(&r->cond, &r->lock);
    pthread_mutex_unlock(&r->lock);
    c.reg = r->t->reg;
    c.repo = "race";
    c.digest = &r->d;
    c.size = 5;
    c.store = race_put;
    c.ctx = r;
    r->claim_rc = r->t->m->content->blob_claim(r->t->m, &c, &err);
    return NULL;
}

/*
 * Bytes no record names (a crash between a push's rename and its commit)
 * being reaped while a client pushes the same blob again: the claim waits
 * for the reap, then writes its own bytes, so the acknowledged push keeps
 * its blob.
 */
SHARED_TEST(meta_reap_of_unrecorded_bytes_holds_off_a_claim)
{
    struct berth_err err = BERTH_ERR_INIT;
    struct race r;
    pthread_t th;
    int reaped = 0;

    memset(&r, 0, sizeof(r));
    r.t = t;
    r.d = dg(0x7ace);
    r.have = 1;
    pthread_mutex_init(&r.lock, NULL);
    pthread_cond_init(&r.cond, NULL);
    ASSERT_EQ_INT(pthread_create(&th, NULL, race_claim, &r), 0);
    ASSERT_OK(t->m->content->blob_reap(t->m, &r.d, 0, 0, race_remove, &r, &reaped, &err));
    pthread_join(th, NULL);
    ASSERT_EQ_INT(reaped, 1);
    ASSERT_OK(r.claim_rc);
    ASSERT_EQ_INT(r.put_saw, 0); /* it ran after the removal */
    ASSERT_EQ_INT(r.have, 1);
    ASSERT_TRUE(linked(t, "race", &r.d));
    pthread_cond_destroy(&r.cond);
    pthread_mutex_destroy(&r.lock);
}

/* One of several gc runs at once: what it deleted, and how it ended. */
struct gc_worker {
    struct t *t;
    int64_t cutoff;
    int deleted;
    enum berth_rc rc;
    char why[256];
};

static int count_gc(const char *repo, const char *digest, void *ctx)
{
    (void)repo;
    (void)digest;
    ((struct gc_worker *)ctx)->deleted++;
    return 0;
}

static void *gc_work(void *p)
{
    struct gc_worker *w = p;
    struct berth_err err = BERTH_ERR_INIT;

    w->rc = w->t->m->content->gc(w->t->m, w->cutoff, 0, count_gc, count_gc, w, &err);
    if (w->rc) snprintf(w->why, sizeof(w->why), "%.200s", err.msg);
    return NULL;
}

/* Runs on several servers share the queue (PostgreSQL: SKIP LOCKED): each deletion is made and reported once. */
SHARED_TEST(meta_gc_runs_at_once_share_the_queue)
{
    enum { N = 300, RUNS = 3 };
    struct berth_err err = BERTH_ERR_INIT;
    struct gc_worker w[RUNS];
    pthread_t th[RUNS];
    struct berth_digest d, layer;
    int64_t cutoff;
    int i, total = 0;

    for (i = 0; i < N; i++) {
        struct berth_meta_manifest mf;
        d = dg(0x100000u + (unsigned)i);
        layer = dg(0x200000u + (unsigned)i);
        ASSERT_OK(claim(t->m, t->reg, "many", &layer, 1, &err));
        mf = man(t, "many", &d);
        mf.blobs = &layer;
        mf.nblobs = 1;
        ASSERT_OK(t->m->content->manifest_put(t->m, &mf, NULL, &err));
    }
    cutoff = tick();
    for (i = 0; i < RUNS; i++) {
        memset(&w[i], 0, sizeof(w[i]));
        w[i].t = t;
        w[i].cutoff = cutoff;
        ASSERT_EQ_INT(pthread_create(&th[i], NULL, gc_work, &w[i]), 0);
    }
    for (i = 0; i < RUNS; i++) pthread_join(th[i], NULL);
    for (i = 0; i < RUNS; i++) {
        if (w[i].rc) BERTH_TEST_FAIL("gc run %d: %s: %s", i, berth_rc_name(w[i].rc), w[i].why);
        total += w[i].deleted;
    }
    /* every manifest and every link, once */
    ASSERT_EQ_INT(total, 2 * N);
    ASSERT_EQ_STR(gc_run(t, tick(), 0), "");
    d = dg(0x100000u);
    ASSERT_TRUE(!has_manifest(t, "many", &d));
    layer = dg(0x200000u + N - 1);
    ASSERT_TRUE(!linked(t, "many", &layer));
}

SHARED_TEST(meta_reopen_keeps_everything)
{
    struct berth_err err = BERTH_ERR_INIT;
    struct berth_digest blob = dg(0xb), d = dg(0xd), s = dg(0x5);
    struct berth_meta_manifest mf = man(t, "keep/me", &d), ms = man(t, "keep/me", &s);
    struct berth_buf b = BERTH_BUF_INIT(0);
    struct berth_ref byt = tag_ref("v1");
    char repo[BERTH_NAME_MAX + 1], mt[128];
    int64_t size = 0, created = 0, reg = 0;
    size_t len = 0;
    int more;

    ASSERT_OK(claim(t->m, t->reg, "keep/me", &blob, 77, &err));
    mf.blobs = &blob;
    mf.nblobs = 1;
    mf.subject = &s;
    mf.artifact_type = "application/x-a";
    ASSERT_OK(t->m->content->manifest_put(t->m, &ms, NULL, &err));
    ASSERT_OK(t->m->content->manifest_put(t->m, &mf, "v1", &err));
    ASSERT_OK(t->m->uploads->upload_put(t->m, "u", t->reg, "keep/me", "p", 123, 0, &err));
    t->ops->close(t->m);
    t->m = NULL;

    ASSERT_OK(t->ops->open(t->dsn, &t->m, &err));
    ASSERT_EQ_STR(repos_of(t, NULL, 10, &more), "keep/me,");
    ASSERT_EQ_STR(tags_of(t, "keep/me", NULL, 10, &more), "v1,");
    ASSERT_OK(t->m->content->blob_linked(t->m, t->reg, "keep/me", &blob, &size, &err));
    ASSERT_EQ_INT(size, 77);
    ASSERT_OK(t->m->content->manifest_get(t->m, t->reg, "keep/me", &byt, &b, &len, mt, sizeof(mt), NULL, &err));
    ASSERT_EQ_STR(berth_buf_str(&b), d.s);
    berth_buf_reset(&b);
    ASSERT_OK(t->m->content->referrers(t->m, t->reg, "keep/me", &s, "application/x-a", collect_referrer, &b, &err));
    ASSERT_TRUE(strncmp(berth_buf_str(&b), "0d:", 3) == 0);
    ASSERT_OK(t->m->uploads->upload_get(t->m, "u", &reg, repo, sizeof(repo), &created, &err));
    ASSERT_EQ_INT(reg, t->reg);
    ASSERT_EQ_STR(repo, "keep/me");
    ASSERT_EQ_INT(created, 123);
    berth_buf_release(&b);
}

/* ---- SQLite driver specifics ---- */

static int db_user_version(const char *path)
{
    sqlite3 *db = NULL;
    sqlite3_stmt *st = NULL;
    int v = -1;

    if (sqlite3_open_v2(path, &db, SQLITE_OPEN_READWRITE, NULL) == SQLITE_OK &&
        sqlite3_prepare_v2(db, "PRAGMA user_version", -1, &st, NULL) == SQLITE_OK && sqlite3_step(st) == SQLITE_ROW)
        v = sqlite3_column_int(st, 0);
    sqlite3_finalize(st);
    sqlite3_close(db);
    return v;
}

static int db_exec(const char *path, const char *sql)
{
    sqlite3 *db = NULL;
    int s = sqlite3_open_v2(path, &db, SQLITE_OPEN_READWRITE, NULL);
    if (s == SQLITE_OK) s = sqlite3_exec(db, sql, NULL, NULL, NULL);
    sqlite3_close(db);
    return s;
}

TEST(meta_sqlite_migrates_and_refuses_newer)
{
    struct berth_err err = BERTH_ERR_INIT;
    char *path = berth_xasprintf("%s/m.db", berth_test_tmpdir());
    struct berth_meta *m = NULL;
    struct berth_meta_inspect ins;

    /* the newest version is the number of embedded migrations, whatever that is today */
    ASSERT_OK(berth_meta_sqlite_ops.inspect(path, &ins, &err));
    ASSERT_TRUE(ins.latest >= 5);
    ASSERT_OK(berth_meta_sqlite_ops.open(path, &m, &err));
    berth_meta_sqlite_ops.close(m);
    m = NULL;
    ASSERT_EQ_INT(db_user_version(path), ins.latest);
    /* reopening applies nothing and keeps the version */
    ASSERT_OK(berth_meta_sqlite_ops.open(path, &m, &err));
    berth_meta_sqlite_ops.close(m);
    m = NULL;
    ASSERT_EQ_INT(db_user_version(path), ins.latest);
    ASSERT_EQ_INT(db_exec(path, "PRAGMA user_version = 99"), SQLITE_OK);
    ASSERT_RC(berth_meta_sqlite_ops.open(path, &m, &err), BERTH_EDB);
    ASSERT_TRUE(m == NULL);
    ASSERT_TRUE(strstr(err.msg, "schema version 99") != NULL);
    ASSERT_TRUE(strstr(err.msg, "newer berth") != NULL);
    free(path);
}

/* A store from before migration 0009: its garbage is queued for review when it is opened. */
TEST(meta_sqlite_upgrade_queues_existing_garbage)
{
    struct berth_err err = BERTH_ERR_INIT;
    char *path = berth_xasprintf("%s/u.db", berth_test_tmpdir());
    struct berth_digest kept = dg(0x4e9), untagged = dg(0x0a7), layer = dg(0x1a7), loose = dg(0x1005);
    struct berth_meta_manifest mk, mu;
    struct berth_meta *m = NULL;
    struct berth_buf b = BERTH_BUF_INIT(0);
    struct t t = {&drivers[0], &berth_meta_sqlite_ops, NULL, path, 0};

    ASSERT_OK(berth_meta_sqlite_ops.open(path, &m, &err));
    t.m = m;
    t.reg = new_registry(m, "up");
    ASSERT_OK(claim(m, t.reg, "r", &layer, 1, &err));
    ASSERT_OK(claim(m, t.reg, "r", &loose, 1, &err));
    mk = man(&t, "r", &kept);
    mk.blobs = &layer;
    mk.nblobs = 1;
    mu = man(&t, "r", &untagged);
    ASSERT_OK(m->content->manifest_put(m, &mk, "v1", &err));
    ASSERT_OK(m->content->manifest_put(m, &mu, NULL, &err));
    berth_meta_sqlite_ops.close(m);
    /* as version 8 left it: no queue */
    ASSERT_EQ_INT(db_exec(path, "DROP TABLE gc_review; DROP INDEX tags_by_time; DROP INDEX manifests_by_time;"
                                " ALTER TABLE tags DROP COLUMN created_ms; ALTER TABLE tags DROP COLUMN write_enabled;"
                                " ALTER TABLE tags DROP COLUMN delete_enabled;"
                                " ALTER TABLE manifests DROP COLUMN write_enabled;"
                                " ALTER TABLE manifests DROP COLUMN delete_enabled;"
                                " ALTER TABLE repositories DROP COLUMN write_enabled;"
                                " ALTER TABLE repositories DROP COLUMN delete_enabled;"
                                " ALTER TABLE manifests DROP COLUMN architecture;"
                                " ALTER TABLE manifests DROP COLUMN os;"
                                " ALTER TABLE repositories DROP COLUMN read_enabled;"
                                " ALTER TABLE repositories DROP COLUMN list_enabled;"
                                " ALTER TABLE manifests DROP COLUMN read_enabled;"
                                " ALTER TABLE manifests DROP COLUMN list_enabled;"
                                " ALTER TABLE tags DROP COLUMN read_enabled;"
                                " ALTER TABLE tags DROP COLUMN list_enabled; PRAGMA user_version = 8"),
                  SQLITE_OK);
    ASSERT_OK(berth_meta_sqlite_ops.open(path, &m, &err));
    t.m = m;
    ASSERT_OK(m->content->gc(m, tick(), 0, collect_gc, collect_gc, &b, &err));
    ASSERT_EQ_STR(berth_buf_str(&b), "r@00a7,r@1005,");
    ASSERT_TRUE(has_manifest(&t, "r", &kept) && linked(&t, "r", &layer));
    berth_meta_sqlite_ops.close(m);
    berth_buf_release(&b);
    free(path);
}

TEST(meta_sqlite_open_errors)
{
    struct berth_err err = BERTH_ERR_INIT;
    struct berth_meta *m = NULL;
    char *path = berth_xasprintf("%s/no/such/dir/x.db", berth_test_tmpdir());

    ASSERT_RC(berth_meta_sqlite_ops.open(path, &m, &err), BERTH_EDB);
    ASSERT_TRUE(strstr(err.msg, path) != NULL);
    ASSERT_RC(berth_meta_sqlite_ops.open("", &m, &err), BERTH_ECONFIG);
    ASSERT_TRUE(m == NULL);
    free(path);
}

TEST(meta_sqlite_uses_wal)
{
    struct berth_err err = BERTH_ERR_INIT;
    char *path = berth_xasprintf("%s/w.db", berth_test_tmpdir());
    char *wal = berth_xasprintf("%s-wal", path);
    struct berth_meta *m = NULL;
    struct berth_digest b = dg(1);

    ASSERT_OK(berth_meta_sqlite_ops.open(path, &m, &err));
    ASSERT_OK(claim(m, new_registry(m, "wal"), "r", &b, 1, &err));
    ASSERT_EQ_INT(access(wal, F_OK), 0);
    berth_meta_sqlite_ops.close(m);
    free(wal);
    free(path);
}

TEST(meta_sqlite_bad_magic_aborts)
{
    struct berth_meta fake = {.magic = 0x12345678u, .ops = &berth_meta_sqlite_ops};
    int status = 0;
    pid_t pid = fork();

    if (pid == 0) {
        struct berth_err err = BERTH_ERR_INIT;
        if (!freopen("/dev/null", "w", stderr)) _exit(2);
        berth_meta_sqlite_ops.ping(&fake, &err);
        _exit(0);
    }
    ASSERT_TRUE(pid > 0);
    ASSERT_EQ_INT(waitpid(pid, &status, 0), pid);
    ASSERT_TRUE(WIFSIGNALED(status));
    ASSERT_EQ_INT(WTERMSIG(status), SIGABRT);
}

TEST(meta_sqlite_put_survives_kill)
{
    struct berth_err err = BERTH_ERR_INIT;
    char *path = berth_xasprintf("%s/k.db", berth_test_tmpdir());
    struct berth_digest d = dg(0x4b1);
    struct berth_meta *m = NULL;
    int status = 0;
    pid_t pid = fork();

    if (pid == 0) {
        struct t t = {&drivers[0], &berth_meta_sqlite_ops, NULL, path, 0};
        struct berth_meta_manifest mf;
        struct berth_meta_registry r;
        memset(&r, 0, sizeof(r));
        snprintf(r.name, sizeof(r.name), "kill");
        if (berth_meta_sqlite_ops.open(path, &t.m, &err) || t.m->reg->registry_create(t.m, &r, &err))
            _exit(2);
        t.reg = r.id;
        mf = man(&t, "r", &d);
        if (t.m->content->manifest_put(t.m, &mf, "v1", &err)) _exit(2);
        kill(getpid(), SIGKILL); /* no close, no checkpoint */
        _exit(3);
    }
    ASSERT_TRUE(pid > 0);
    ASSERT_EQ_INT(waitpid(pid, &status, 0), pid);
    ASSERT_TRUE(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL);
    ASSERT_OK(berth_meta_sqlite_ops.open(path, &m, &err));
    {
        struct t t = {&drivers[0], &berth_meta_sqlite_ops, m, path, 0};
        struct berth_meta_registry r;
        ASSERT_OK(m->reg->registry_get(m, "kill", 0, &r, &err));
        t.reg = r.id;
        ASSERT_EQ_STR(tagged(&t, "r", "v1"), d.s);
    }
    berth_meta_sqlite_ops.close(m);
    free(path);
}

/* ---- network access of a registry ---- */

SHARED_TEST(meta_network_defaults_put_get)
{
    struct berth_err err = BERTH_ERR_INIT;
    struct berth_meta_network *n = berth_xcalloc(1, sizeof(*n));
    struct berth_meta_network *got = berth_xcalloc(1, sizeof(*got));
    size_t i;

    /* a registry starts open: public access on, default action Allow, no rules */
    ASSERT_OK(t->m->reg->network_get(t->m, t->reg, got, &err));
    ASSERT_EQ_INT(got->public_network, 1);
    ASSERT_EQ_INT(got->default_allow, 1);
    ASSERT_EQ_INT(got->nrules, 0);

    n->public_network = 1;
    n->default_allow = 0;
    n->nrules = 3;
    snprintf(n->rules[0], sizeof(n->rules[0]), "203.0.113.7");
    snprintf(n->rules[1], sizeof(n->rules[1]), "10.0.0.0/8");
    snprintf(n->rules[2], sizeof(n->rules[2]), "2001:db8::/32");
    ASSERT_OK(t->m->reg->network_put(t->m, t->reg, n, &err));
    ASSERT_OK(t->m->reg->network_get(t->m, t->reg, got, &err));
    ASSERT_EQ_INT(got->public_network, 1);
    ASSERT_EQ_INT(got->default_allow, 0);
    ASSERT_EQ_INT(got->nrules, 3);
    ASSERT_EQ_STR(got->rules[0], "203.0.113.7");
    ASSERT_EQ_STR(got->rules[1], "10.0.0.0/8");
    ASSERT_EQ_STR(got->rules[2], "2001:db8::/32");

    /* put replaces everything; 200 rules fit, in their order */
    n->public_network = 0;
    n->default_allow = 1;
    n->nrules = BERTH_META_IP_RULES_MAX;
    for (i = 0; i < n->nrules; i++) snprintf(n->rules[i], sizeof(n->rules[i]), "10.0.%zu.0/24", i);
    ASSERT_OK(t->m->reg->network_put(t->m, t->reg, n, &err));
    ASSERT_OK(t->m->reg->network_get(t->m, t->reg, got, &err));
    ASSERT_EQ_INT(got->public_network, 0);
    ASSERT_EQ_INT(got->default_allow, 1);
    ASSERT_EQ_INT(got->nrules, BERTH_META_IP_RULES_MAX);
    ASSERT_EQ_STR(got->rules[0], "10.0.0.0/24");
    ASSERT_EQ_STR(got->rules[199], "10.0.199.0/24");

    n->nrules = 0;
    ASSERT_OK(t->m->reg->network_put(t->m, t->reg, n, &err));
    ASSERT_OK(t->m->reg->network_get(t->m, t->reg, got, &err));
    ASSERT_EQ_INT(got->nrules, 0);
    free(n);
    free(got);
}

SHARED_TEST(meta_network_refusals_change_nothing)
{
    struct berth_err err = BERTH_ERR_INIT;
    struct berth_meta_network *n = berth_xcalloc(1, sizeof(*n));
    struct berth_meta_network *got = berth_xcalloc(1, sizeof(*got));
    int64_t other = new_registry(t->m, "other");

    n->public_network = 1;
    n->default_allow = 0;
    n->nrules = 1;
    snprintf(n->rules[0], sizeof(n->rules[0]), "127.0.0.2");
    ASSERT_OK(t->m->reg->network_put(t->m, t->reg, n, &err));

    n->nrules = 2;
    snprintf(n->rules[1], sizeof(n->rules[1]), "127.0.0.2");
    ASSERT_RC(t->m->reg->network_put(t->m, t->reg, n, &err), BERTH_EINVAL);
    ASSERT_TRUE(strstr(err.msg, "'127.0.0.2' is given twice") != NULL);
    n->rules[1][0] = '\0';
    ASSERT_RC(t->m->reg->network_put(t->m, t->reg, n, &err), BERTH_EINVAL);
    n->nrules = BERTH_META_IP_RULES_MAX + 1;
    ASSERT_RC(t->m->reg->network_put(t->m, t->reg, n, &err), BERTH_EINVAL);
    n->nrules = 0;
    ASSERT_RC(t->m->reg->network_put(t->m, 999999, n, &err), BERTH_ENOENT);
    ASSERT_RC(t->m->reg->network_get(t->m, 999999, got, &err), BERTH_ENOENT);

    ASSERT_OK(t->m->reg->network_get(t->m, t->reg, got, &err));
    ASSERT_EQ_INT(got->default_allow, 0);
    ASSERT_EQ_INT(got->nrules, 1);
    ASSERT_EQ_STR(got->rules[0], "127.0.0.2");
    /* another registry is not affected, and its rules go with it */
    ASSERT_OK(t->m->reg->network_get(t->m, other, got, &err));
    ASSERT_EQ_INT(got->default_allow, 1);
    ASSERT_EQ_INT(got->nrules, 0);
    n->nrules = 1;
    ASSERT_OK(t->m->reg->network_put(t->m, other, n, &err));
    ASSERT_OK(t->m->reg->registry_delete(t->m, other, &err));
    ASSERT_RC(t->m->reg->network_get(t->m, other, got, &err), BERTH_ENOENT);
    ASSERT_OK(t->m->reg->network_get(t->m, t->reg, got, &err));
    ASSERT_EQ_INT(got->nrules, 1);
    free(n);
    free(got);
}

SHARED_TEST(meta_network_rule_add_remove_one_at_a_time)
{
    struct berth_err err = BERTH_ERR_INIT;
    struct berth_meta_network *n = berth_xcalloc(1, sizeof(*n));
    char rule[BERTH_META_IP_RULE_LEN];
    int added = -1, i;

    n->public_network = 1;
    n->default_allow = 0;
    n->nrules = 1;
    snprintf(n->rules[0], sizeof(n->rules[0]), "10.0.0.0/8");
    ASSERT_OK(t->m->reg->network_put(t->m, t->reg, n, &err));
    ASSERT_OK(t->m->reg->network_rule_add(t->m, t->reg, "192.0.2.1", &added, &err));
    ASSERT_EQ_INT(added, 1);
    ASSERT_OK(t->m->reg->network_rule_add(t->m, t->reg, "192.0.2.1", &added, &err));
    ASSERT_EQ_INT(added, 0);
    ASSERT_OK(t->m->reg->network_get(t->m, t->reg, n, &err));
    /* appended after the others; the settings are untouched */
    ASSERT_EQ_INT(n->nrules, 2);
    ASSERT_EQ_STR(n->rules[0], "10.0.0.0/8");
    ASSERT_EQ_STR(n->rules[1], "192.0.2.1");
    ASSERT_EQ_INT(n->default_allow, 0);
    ASSERT_OK(t->m->reg->network_rule_remove(t->m, t->reg, "10.0.0.0/8", &err));
    ASSERT_RC(t->m->reg->network_rule_remove(t->m, t->reg, "10.0.0.0/8", &err), BERTH_ENOENT);
    ASSERT_OK(t->m->reg->network_rule_add(t->m, t->reg, "10.0.0.0/8", &added, &err));
    ASSERT_OK(t->m->reg->network_get(t->m, t->reg, n, &err));
    ASSERT_EQ_INT(n->nrules, 2);
    ASSERT_EQ_STR(n->rules[0], "192.0.2.1");
    ASSERT_EQ_STR(n->rules[1], "10.0.0.0/8");
    /* the cap */
    for (i = 2; i < BERTH_META_IP_RULES_MAX; i++) {
        snprintf(rule, sizeof(rule), "198.51.100.%d/32", i);
        ASSERT_OK(t->m->reg->network_rule_add(t->m, t->reg, rule, &added, &err));
    }
    ASSERT_RC(t->m->reg->network_rule_add(t->m, t->reg, "203.0.113.9", &added, &err), BERTH_EBUSY);
    ASSERT_EQ_INT(added, 0);
    ASSERT_RC(t->m->reg->network_rule_add(t->m, t->reg + 100, "203.0.113.9", &added, &err), BERTH_ENOENT);
    ASSERT_RC(t->m->reg->network_rule_remove(t->m, t->reg + 100, "192.0.2.1", &err), BERTH_ENOENT);
    free(n);
}

/* ---- the SQL layer (meta_sql.h) ---- */

#include "meta_sql.h"

static char *render(const struct berth_sql_dialect *d, const char *sql, enum berth_rc want)
{
    struct berth_err err = BERTH_ERR_INIT;
    char *out = NULL;

    ASSERT_RC(berth_sql_render(d, sql, &out, &err), want);
    if (want == BERTH_OK) ASSERT_TRUE(out != NULL);
    else ASSERT_TRUE(out == NULL);
    return out;
}

static void render_is(const struct berth_sql_dialect *d, const char *sql, const char *want)
{
    char *out = render(d, sql, BERTH_OK);
    ASSERT_EQ_STR(out, want);
    free(out);
}

TEST(meta_sql_placeholders_rewritten_for_dollar)
{
    const struct berth_sql_dialect *pg = &berth_sql_postgres;

    /* numbered ones keep their number, also when used twice */
    render_is(pg, "SELECT 1 WHERE a = ?1 AND b = ?2 OR c = ?1", "SELECT 1 WHERE a = $1 AND b = $2 OR c = $1");
    /* bare ones count up, one above the highest so far (SQLite's rule) */
    render_is(pg, "VALUES (?,?,?)", "VALUES ($1,$2,$3)");
    render_is(pg, "x = ?3 AND y = ?", "x = $3 AND y = $4");
    render_is(pg, "LIMIT ?10", "LIMIT $10");
    /* string literals, quoted identifiers and comments are left alone */
    render_is(pg, "SELECT '?', 'it''s ?1', \"col?\" FROM t WHERE x = ?",
              "SELECT '?', 'it''s ?1', \"col?\" FROM t WHERE x = $1");
    render_is(pg, "SELECT ? -- why ?\n, ?", "SELECT $1 -- why ?\n, $2");
    render_is(pg, "SELECT /* ?1 */ ?2", "SELECT /* ?1 */ $2");
    /* a {NAME} inside a literal is text too */
    render_is(pg, "SELECT '{ROWID}'", "SELECT '{ROWID}'");
    /* SQLite keeps its own placeholders */
    render_is(&berth_sql_sqlite, "a = ?1 AND b = ? AND c = '?'", "a = ?1 AND b = ? AND c = '?'");
    render(pg, "SELECT 'unterminated ?", BERTH_EINTERNAL);
    render(pg, "SELECT \"unterminated", BERTH_EINTERNAL);
}

TEST(meta_sql_dialect_names_filled_in)
{
    render_is(&berth_sql_sqlite, "ORDER BY s.{ROWID} DESC", "ORDER BY s.rowid DESC");
    render_is(&berth_sql_postgres, "ORDER BY s.{ROWID} DESC", "ORDER BY s.seq DESC");
    render_is(&berth_sql_sqlite, "a {FIXED_JOIN} b", "a CROSS JOIN b");
    render_is(&berth_sql_postgres, "a {FIXED_JOIN} b", "a JOIN b");
    render_is(&berth_sql_postgres, "payload {BLOB}", "payload BYTEA");
    render_is(&berth_sql_sqlite, "payload {BLOB}", "payload BLOB");
    render(&berth_sql_sqlite, "SELECT {NO_SUCH_NAME}", BERTH_EINTERNAL);
    render(&berth_sql_sqlite, "SELECT {ROWID", BERTH_EINTERNAL);
}

/* Every field of a dialect is set: a driver gets the whole table or none of it. */
static void dialect_complete(const struct berth_sql_dialect *d)
{
    ASSERT_TRUE(d->name && d->begin_write && d->begin_relaxed && d->skip_locked && d->rowid && d->fixed_join && d->now_s && d->blob);
    ASSERT_TRUE(d->upsert && d->returning);
}

TEST(meta_sql_dialect_table)
{
    dialect_complete(&berth_sql_sqlite);
    dialect_complete(&berth_sql_postgres);
    ASSERT_EQ_INT(berth_sql_sqlite.params, BERTH_SQL_PARAMS_QMARK);
    ASSERT_EQ_INT(berth_sql_postgres.params, BERTH_SQL_PARAMS_DOLLAR);
    ASSERT_EQ_INT(berth_sql_sqlite.limit_all_null, 0);
    ASSERT_EQ_INT(berth_sql_postgres.limit_all_null, 1);
    ASSERT_EQ_STR(berth_sql_sqlite.begin_write, "BEGIN IMMEDIATE");
}

/* ---- commits that do not wait for the disk (berth_sql_tx_relaxed) ---- */

/* The connection's setting as text: SQLite's synchronous ("1" NORMAL, "2" FULL), PostgreSQL's synchronous_commit. */
struct waits {
    char v[16];
    int fail; /* the transaction's body fails after reading it */
};

static enum berth_rc read_text(struct berth_sql_row *r, void *ctx, struct berth_err *err)
{
    struct waits *w = ctx;
    const char *v = berth_sql_text(r, 0);
    (void)err;
    snprintf(w->v, sizeof(w->v), "%s", v ? v : "(null)");
    r->stop = 1;
    return BERTH_OK;
}

static enum berth_rc read_waits(struct berth_sql_conn *c, void *ctx, struct berth_err *err)
{
    struct waits *w = ctx;
    const char *sql = !strcmp(c->db->drv->dialect->name, "sqlite") ? "PRAGMA synchronous" : "SHOW synchronous_commit";
    enum berth_rc rc = berth_sql_each_sql(c, "test", sql, SQL_NOARGS, read_text, w, NULL, err);
    if (!rc && w->fail) rc = berth_err_set(err, BERTH_EINVAL, "the body fails");
    return rc;
}

/* In a relaxed transaction commits do not wait; once it ended, committed or not, the connection waits again. */
SHARED_TEST(meta_sql_relaxed_tx_puts_the_wait_back)
{
    struct berth_err err = BERTH_ERR_INIT;
    struct waits before = {"", 0}, in = {"", 0}, after = {"", 0}, failed = {"", 1};
    int lite = !strcmp(t->drv->ops->name, "sqlite");
    struct berth_meta_upload u;
    unsigned char h[4] = {1, 2, 3, 4};

    /* the server's own setting (scripts/pg.sh starts PostgreSQL with synchronous_commit off) */
    ASSERT_OK(berth_sql_run(t->m, read_waits, &before, &err));
    if (lite) ASSERT_EQ_STR(before.v, "2");
    ASSERT_OK(berth_sql_tx_relaxed(t->m, "test", read_waits, &in, &err));
    ASSERT_EQ_STR(in.v, lite ? "1" : "off");
    /* one thread: the pool hands back the connection just used */
    ASSERT_OK(berth_sql_run(t->m, read_waits, &after, &err));
    ASSERT_EQ_STR(after.v, before.v);
    ASSERT_RC(berth_sql_tx_relaxed(t->m, "test", read_waits, &failed, &err), BERTH_EINVAL);
    ASSERT_EQ_STR(failed.v, lite ? "1" : "off");
    memset(after.v, 0, sizeof(after.v));
    ASSERT_OK(berth_sql_run(t->m, read_waits, &after, &err));
    ASSERT_EQ_STR(after.v, before.v);
    /* the upload state saved that way reads back, and a session that is gone is still named */
    ASSERT_OK(t->m->uploads->upload_put(t->m, "rx", t->reg, "app", "p", 1, 0, &err));
    ASSERT_OK(t->m->uploads->upload_save(t->m, "rx", 4096, h, sizeof(h), "ext", 7, &err));
    ASSERT_OK(t->m->uploads->upload_load(t->m, "rx", &u, &err));
    ASSERT_EQ_U64(u.size, 4096);
    ASSERT_EQ_INT((int)u.hash_len, (int)sizeof(h));
    ASSERT_EQ_STR(u.ext, "ext");
    berth_meta_upload_release(&u);
    ASSERT_RC(t->m->uploads->upload_save(t->m, "gone", 1, h, sizeof(h), NULL, 8, &err), BERTH_EUPLOADUNKNOWN);
    memset(after.v, 0, sizeof(after.v));
    ASSERT_OK(berth_sql_run(t->m, read_waits, &after, &err));
    ASSERT_EQ_STR(after.v, before.v);
}

/* No '?' or '{' left outside quotes: the rendered text is all the engine sees. */
static void no_marks_left(const char *s, int qmarks_ok)
{
    char q = 0;

    for (; *s; s++) {
        if (q) {
            if (*s == q) q = 0;
            continue;
        }
        if (*s == '\'' || *s == '"') q = *s;
        else if (*s == '{' || *s == '}' || (*s == '?' && !qmarks_ok)) BERTH_TEST_FAIL("left in: %s", s);
    }
}

TEST(meta_sql_every_statement_renders_and_prepares)
{
    struct berth_err err = BERTH_ERR_INIT;
    char *path = berth_xasprintf("%s/s.db", berth_test_tmpdir());
    struct berth_meta *m = NULL;
    sqlite3 *db = NULL;
    int i;

    ASSERT_OK(berth_meta_sqlite_ops.open(path, &m, &err));
    berth_meta_sqlite_ops.close(m);
    ASSERT_EQ_INT(sqlite3_open_v2(path, &db, SQLITE_OPEN_READWRITE, NULL), SQLITE_OK);
    for (i = 0; i < SQL_COUNT; i++) {
        char *lite = render(&berth_sql_sqlite, berth_sql_portable(i), BERTH_OK);
        char *pg = render(&berth_sql_postgres, berth_sql_portable(i), BERTH_OK);
        sqlite3_stmt *st = NULL;
        no_marks_left(lite, 1);
        no_marks_left(pg, 0);
        /* each statement names real tables and columns of the migrated schema */
        if (sqlite3_prepare_v2(db, lite, -1, &st, NULL) != SQLITE_OK)
            BERTH_TEST_FAIL("statement %d: %s: %s", i, sqlite3_errmsg(db), lite);
        sqlite3_finalize(st);
        free(lite);
        free(pg);
    }
    ASSERT_TRUE(berth_sql_portable(SQL_COUNT) == NULL);
    sqlite3_close(db);
    free(path);
}

/* Each row of REG_LIST into a struct berth_meta_registry; names ending in 'x' are skipped. */
static enum berth_rc read_reg_row(struct berth_sql_row *r, void *ctx, struct berth_err *err)
{
    struct berth_meta_registry *reg = ctx;
    const char *name = berth_sql_text(r, 1);

    (void)err;
    if (name[strlen(name) - 1] == 'x') {
        r->skip = 1;
        return BERTH_OK;
    }
    reg->id = berth_sql_int(r, 0);
    ASSERT_EQ_INT(berth_sql_copy(r, 1, reg->name, sizeof(reg->name)), 0);
    ASSERT_EQ_INT(berth_sql_copy(r, 1, reg->name, 3), -1); /* too long for 3 bytes */
    return BERTH_OK;
}

static enum berth_rc fail_at_third(struct berth_sql_row *r, void *ctx, struct berth_err *err)
{
    (void)ctx;
    if (r->n == 3) return berth_err_set(err, BERTH_EDB, "third row refused");
    return BERTH_OK;
}

SHARED_TEST(meta_sql_list_grows_skips_and_stops)
{
    struct berth_err err = BERTH_ERR_INIT;
    struct berth_sql_list l = BERTH_SQL_LIST_INIT(struct berth_meta_registry);
    struct berth_sql_conn *db = berth_sql_db(t->m);
    const struct berth_meta_registry *v;
    char name[32];
    int64_t rows = 0;
    int i;

    /* "default" and 40 more, every fourth one skipped by the reader: more than the first 16 slots */
    for (i = 0; i < 40; i++) {
        snprintf(name, sizeof(name), "r%02d%s", i, i % 4 == 0 ? "x" : "");
        new_registry(t->m, name);
    }
    ASSERT_OK(berth_sql_list(db, "test", SQL_REG_LIST, SQL_NOARGS, read_reg_row, &l, &rows, &err));
    ASSERT_EQ_INT(rows, 41);
    ASSERT_EQ_INT(l.n, 31);
    v = l.v;
    ASSERT_EQ_STR(v[0].name, "default");
    ASSERT_EQ_STR(v[1].name, "r01");
    ASSERT_EQ_STR(v[30].name, "r39");
    berth_sql_list_release(&l);
    ASSERT_TRUE(l.v == NULL && l.n == 0);
    /* a reader's error ends the walk and comes back as it is */
    ASSERT_RC(berth_sql_each(db, "test", SQL_REG_LIST, SQL_NOARGS, fail_at_third, NULL, &rows, &err), BERTH_EDB);
    ASSERT_EQ_INT(rows, 3);
    ASSERT_TRUE(strstr(err.msg, "third row refused") != NULL);
}

static int count_name(const char *name, void *ctx)
{
    (void)name;
    return ++*(int *)ctx == 2; /* stop after the second */
}

SHARED_TEST(meta_sql_names_pages)
{
    struct berth_err err = BERTH_ERR_INIT;
    struct berth_sql_conn *db = berth_sql_db(t->m);
    int64_t rows = 0;
    int more = -1, seen = 0, i;
    char name[16];

    for (i = 0; i < 5; i++) {
        snprintf(name, sizeof(name), "reg%d", i);
        new_registry(t->m, name);
    }
    /* n = 3 of the 5 after "reg": LIMIT 4 reads one more, which says more follow */
    ASSERT_OK(berth_sql_names(db, "test", SQL_REPO_LIST,
                              SQL_ARGS(SQL_I(t->reg), SQL_T(""), berth_sql_page_limit(db, 3)),
                              0, 3, NULL, NULL, &more, &rows, &err));
    ASSERT_EQ_INT(more, 0); /* no repositories at all */
    ASSERT_EQ_INT(rows, 0);
    for (i = 0; i < 5; i++) {
        struct berth_digest b = dg(0x500 + (unsigned)i);
        snprintf(name, sizeof(name), "repo%d", i);
        ASSERT_OK(claim(t->m, t->reg, name, &b, 1, &err));
    }
    ASSERT_OK(berth_sql_names(db, "test", SQL_REPO_LIST,
                              SQL_ARGS(SQL_I(t->reg), SQL_T(""), berth_sql_page_limit(db, 3)),
                              0, 3, NULL, NULL, &more, &rows, &err));
    ASSERT_EQ_INT(more, 1);
    ASSERT_EQ_INT(rows, 4);
    ASSERT_OK(berth_sql_names(db, "test", SQL_REPO_LIST,
                              SQL_ARGS(SQL_I(t->reg), SQL_T(""), berth_sql_page_limit(db, -1)),
                              0, -1, count_name, &seen, &more, &rows, &err));
    ASSERT_EQ_INT(seen, 2);
    ASSERT_EQ_INT(more, 1); /* stopped with names left */
    if (db->db->drv->dialect->limit_all_null) /* LIMIT NULL: no limit (PostgreSQL) */
        ASSERT_EQ_INT(berth_sql_page_limit(db, -1).type, BERTH_SQL_T_NULL);
    else
        ASSERT_EQ_INT(berth_sql_page_limit(db, -1).i, -1);
    ASSERT_EQ_INT(berth_sql_page_limit(db, 0).i, 1);
}

struct tx_case {
    const char *name;
    enum berth_rc fail; /* returned after the insert */
    int discard;
};

static enum berth_rc insert_then(struct berth_sql_conn *c, void *ctx, struct berth_err *err)
{
    const struct tx_case *x = ctx;
    int64_t id = 0, n = -1;
    int found = 0;
    enum berth_rc rc;

    ASSERT_TRUE(c->bound);
    rc = berth_sql_int1(c, "test", SQL_REG_INSERT,
                        SQL_ARGS(SQL_T(x->name), SQL_I(1), SQL_I(0), SQL_I(0), SQL_I(0), SQL_I(0), SQL_T(""),
                                 SQL_T(""), SQL_I(0), SQL_I(0)),
                        &found, &id, err);
    if (rc) return rc;
    ASSERT_TRUE(found && id > 0);
    /* inside the transaction the row is there */
    rc = berth_sql_exec(c, "test", SQL_REG_UPDATE_SETTINGS,
                        SQL_ARGS(SQL_I(id), SQL_I(1), SQL_I(1), SQL_I(7), SQL_I(8)), &n, err);
    if (rc) return rc;
    ASSERT_EQ_INT(n, 1);
    c->discard = x->discard;
    if (x->fail) return berth_err_set(err, x->fail, "refused after the insert");
    return BERTH_OK;
}

static enum berth_rc ping_conn(struct berth_sql_conn *c, void *ctx, struct berth_err *err)
{
    (void)ctx;
    return berth_sql_int1(c, "test", SQL_PING, SQL_NOARGS, NULL, NULL, err);
}

SHARED_TEST(meta_sql_tx_commits_or_rolls_back)
{
    struct berth_err err = BERTH_ERR_INIT;
    struct berth_meta_registry r;
    struct tx_case ok = {"kept", BERTH_OK, 0}, failed = {"failed", BERTH_EBUSY, 0},
                   discarded = {"discarded", BERTH_OK, 1};
    int i;

    ASSERT_OK(berth_sql_tx(t->m, "test", insert_then, &ok, &err));
    ASSERT_OK(t->m->reg->registry_get(t->m, "kept", 0, &r, &err));
    ASSERT_EQ_INT(r.refresh_ttl_s, 7);
    /* an error from the function rolls back everything it wrote, and is what the caller gets */
    ASSERT_RC(berth_sql_tx(t->m, "test", insert_then, &failed, &err), BERTH_EBUSY);
    ASSERT_TRUE(strstr(err.msg, "refused after the insert") != NULL);
    ASSERT_RC(t->m->reg->registry_get(t->m, "failed", 0, &r, &err), BERTH_ENOENT);
    /* discard: a dry run, rolled back but not an error */
    ASSERT_OK(berth_sql_tx(t->m, "test", insert_then, &discarded, &err));
    ASSERT_RC(t->m->reg->registry_get(t->m, "discarded", 0, &r, &err), BERTH_ENOENT);
    /* an engine error (a second row with the same key) is BERTH_EDB naming the op */
    ASSERT_OK(berth_sql_exec(berth_sql_db(t->m), "test", SQL_SP_INSERT, SQL_ARGS(SQL_T("same"), SQL_T("x"), SQL_I(1)),
                             NULL, &err));
    ASSERT_RC(berth_sql_exec(berth_sql_db(t->m), "test", SQL_SP_INSERT, SQL_ARGS(SQL_T("same"), SQL_T("y"), SQL_I(1)),
                             NULL, &err),
              BERTH_EDB);
    ASSERT_TRUE(strncmp(err.msg, "test: ", 6) == 0);
    /* every run gave its connection back: more runs than the pool holds do not wait */
    for (i = 0; i < 40; i++) ASSERT_OK(berth_sql_run(t->m, ping_conn, NULL, &err));
}

/*
 * Retry on busy: a copy of the store's driver whose error function calls
 * the first failure a busy one, and allows two retries. The function fails
 * on its first run only (a key taken twice), so the second run commits.
 */
static const struct berth_sql_driver *real_drv;
static int busy_left;

static enum berth_rc busy_once(struct berth_sql_conn *c, int status, const char *op, enum berth_sql_class *cls,
                               struct berth_err *err)
{
    enum berth_rc rc = real_drv->error(c, status, op, cls, err);
    if (busy_left > 0) {
        busy_left--;
        *cls = BERTH_SQL_BUSY;
    }
    return rc;
}

struct retry_case {
    int runs;
};

static enum berth_rc fail_first_run(struct berth_sql_conn *c, void *ctx, struct berth_err *err)
{
    struct retry_case *x = ctx;
    enum berth_rc rc;

    x->runs++;
    rc = berth_sql_exec(c, "test", SQL_SP_INSERT, SQL_ARGS(SQL_T("retried"), SQL_T("x"), SQL_I(x->runs)), NULL, err);
    if (rc) return rc;
    if (x->runs == 1) /* the same key again: an engine error, called busy by busy_once */
        return berth_sql_exec(c, "test", SQL_SP_INSERT, SQL_ARGS(SQL_T("retried"), SQL_T("x"), SQL_I(0)), NULL, err);
    return BERTH_OK;
}

SHARED_TEST(meta_sql_tx_retries_when_busy)
{
    struct berth_err err = BERTH_ERR_INIT;
    struct berth_sql *db = berth_sql_db(t->m)->db;
    struct berth_sql_driver fake = *db->drv;
    struct retry_case x = {0};
    struct berth_meta_sp sp;

    real_drv = db->drv;
    fake.error = busy_once;
    fake.tx_retries = 2;
    db->drv = &fake;
    busy_left = 1;
    ASSERT_OK(berth_sql_tx(t->m, "test", fail_first_run, &x, &err));
    ASSERT_EQ_INT(x.runs, 2);
    /* the first run's insert was rolled back: the row is the second run's */
    ASSERT_OK(t->m->dir->sp_get(t->m, "retried", &sp, &err));
    ASSERT_EQ_INT(sp.created_ms, 2);
    /* without retries left the busy error is the caller's */
    fake.tx_retries = 0;
    busy_left = 1;
    x.runs = 0;
    ASSERT_OK(t->m->dir->sp_delete(t->m, "retried", &err));
    ASSERT_RC(berth_sql_tx(t->m, "test", fail_first_run, &x, &err), BERTH_EDB);
    ASSERT_EQ_INT(x.runs, 1);
    ASSERT_RC(t->m->dir->sp_get(t->m, "retried", &sp, &err), BERTH_ENOENT);
    db->drv = real_drv;
}

/* ---- the SQL layer's prepared statements and column types ---- */

static enum berth_rc keep_name(struct berth_sql_row *r, void *ctx, struct berth_err *err)
{
    (void)err;
    berth_buf_printf(ctx, "%lld:%s,", (long long)berth_sql_int(r, 0), berth_sql_text(r, 1));
    return BERTH_OK;
}

static enum berth_rc prepared_columns(struct berth_sql_conn *c, void *ctx, struct berth_err *perr)
{
    struct berth_err err = BERTH_ERR_INIT;
    struct berth_buf b = BERTH_BUF_INIT(0);
    struct berth_sql_prep p;
    int64_t rows = -1;
    struct t *t = ctx;

    ASSERT_OK(berth_sql_prepare(c, "test", "SELECT id, name, created_ms, admin_hash1 FROM registries"
                                           " WHERE id > ?1 ORDER BY id", &p, &err));
    /* known before the statement runs */
    ASSERT_EQ_INT(berth_sql_prep_columns(&p), 4);
    ASSERT_EQ_STR(berth_sql_prep_column_name(&p, 1), "name");
    ASSERT_EQ_INT(berth_sql_prep_column_type(&p, 0), BERTH_SQL_T_INT);
    ASSERT_EQ_INT(berth_sql_prep_column_type(&p, 1), BERTH_SQL_T_TEXT);
    ASSERT_EQ_INT(berth_sql_prep_column_type(&p, 2), BERTH_SQL_T_INT);
    /* and run again and again */
    ASSERT_OK(berth_sql_prep_run(&p, SQL_ARGS(SQL_I(0)), keep_name, &b, &rows, &err));
    ASSERT_EQ_INT(rows, 2);
    ASSERT_OK(berth_sql_prep_run(&p, SQL_ARGS(SQL_I(t->reg)), keep_name, &b, &rows, &err));
    ASSERT_EQ_INT(rows, 1);
    berth_sql_prep_close(&p);
    berth_sql_prep_close(&p); /* twice is fine */
    ASSERT_TRUE(strstr(berth_buf_str(&b), ":default,") != NULL);
    ASSERT_TRUE(strstr(berth_buf_str(&b), ":other,") != NULL);
    ASSERT_OK(berth_sql_prepare(c, "test", "SELECT payload, size, subject FROM manifests", &p, &err));
    ASSERT_EQ_INT(berth_sql_prep_column_type(&p, 0), BERTH_SQL_T_BLOB);
    ASSERT_EQ_INT(berth_sql_prep_column_type(&p, 1), BERTH_SQL_T_INT);
    ASSERT_EQ_INT(berth_sql_prep_column_type(&p, 2), BERTH_SQL_T_TEXT);
    berth_sql_prep_close(&p);
    ASSERT_RC(berth_sql_prepare(c, "test", "SELECT nope FROM nowhere", &p, &err), BERTH_EDB);
    berth_sql_prep_close(&p);
    berth_buf_release(&b);
    (void)perr;
    return BERTH_OK;
}

SHARED_TEST(meta_sql_prepared_statements_and_their_columns)
{
    struct berth_err err = BERTH_ERR_INIT;
    struct berth_sql_prep p;

    new_registry(t->m, "other");
    ASSERT_OK(berth_sql_run(t->m, prepared_columns, t, &err));
    /* the shared handle gives each call a pooled connection: nothing to keep a statement on */
    ASSERT_RC(berth_sql_prepare(berth_sql_db(t->m), "test", "SELECT 1", &p, &err), BERTH_EINTERNAL);
}

/* ---- a whole store: counts, copy, comparison (meta_copy.c) ---- */

/* A manifest payload no text column would keep: NUL, high bytes, quotes, a backslash. */
static const unsigned char odd_payload[] = {'{', 0, 0xff, 0x80, '\\', 'x', '\'', '"', '}'};
#define COPY_UPLOAD "0f8e1c2a-0000-4000-8000-0000000000aa"

static struct berth_meta_event copy_event(int64_t reg, int i)
{
    struct berth_meta_event e;

    memset(&e, 0, sizeof(e));
    e.log = i % 2;
    e.time_ms = 1700000000000 + i;
    e.reg = reg;
    snprintf(e.registry, sizeof(e.registry), "default");
    snprintf(e.operation, sizeof(e.operation), "%s", i % 2 ? "Push" : "Login");
    snprintf(e.identity, sizeof(e.identity), "user%d", i);
    e.status = 200 + i;
    e.size = i ? 1000 * i : -1;
    return e;
}

/* A row in every table of the schema. */
static void fill_every_table(struct t *t)
{
    struct berth_err err = BERTH_ERR_INIT;
    static const char *const rules[] = {"repositories/team/app/content/read", "repositories/team/*/metadata/read", NULL};
    struct berth_digest cfg = dg(0x13), l1 = dg(0x11), l2 = dg(0x12), img = dg(0x21), idx = dg(0x22), sig = dg(0x23);
    struct berth_digest iblobs[3];
    struct berth_meta_manifest mi = man(t, "team/app", &img), mx = man(t, "team/app", &idx),
                               ms = man(t, "team/app", &sig);
    struct berth_meta_network *net = berth_xcalloc(1, sizeof(*net));
    struct berth_meta_token tk = token(t->reg, "ci", "pull");
    struct berth_meta_user u = new_user(t, "alice");
    struct berth_meta_sp sp = new_sp(t, "builder");
    struct berth_meta_assignment a[3];
    struct berth_meta_event ev[3], *evp[3];
    struct berth_meta_sp_secret s;
    unsigned char hash[40];
    int64_t second = new_registry(t->m, "second");
    char tenant[37];
    int i;

    ASSERT_OK(t->m->reg->tenant_id(t->m, tenant, &err));
    net->public_network = 1;
    net->nrules = 2;
    snprintf(net->rules[0], sizeof(net->rules[0]), "10.0.0.0/8");
    snprintf(net->rules[1], sizeof(net->rules[1]), "192.168.1.7");
    ASSERT_OK(t->m->reg->network_put(t->m, second, net, &err));
    ASSERT_OK(claim(t->m, t->reg, "team/app", &cfg, 100, &err));
    ASSERT_OK(claim(t->m, t->reg, "team/app", &l1, 2000, &err));
    ASSERT_OK(claim(t->m, t->reg, "team/app", &l2, 3000, &err));
    ASSERT_OK(claim(t->m, second, "other", &l1, 2000, &err)); /* one blob, two registries */
    iblobs[0] = cfg;
    iblobs[1] = l1;
    iblobs[2] = l2;
    mi.blobs = iblobs;
    mi.nblobs = 3;
    mi.payload = (const char *)odd_payload;
    mi.len = sizeof(odd_payload);
    mi.annotations_json = "{\"org.example\":\"ü\"}";
    ASSERT_OK(t->m->content->manifest_put(t->m, &mi, "v1", &err));
    mx.media_type = BERTH_MT_OCI_INDEX;
    mx.children = &img;
    mx.nchildren = 1;
    ASSERT_OK(t->m->content->manifest_put(t->m, &mx, "multi", &err));
    ms.subject = &img;
    ms.artifact_type = "application/x-sig";
    ASSERT_OK(t->m->content->manifest_put(t->m, &ms, NULL, &err));
    for (i = 0; i < (int)sizeof(hash); i++) hash[i] = (unsigned char)(i * 37); /* a zero byte among them */
    ASSERT_OK(t->m->uploads->upload_put(t->m, COPY_UPLOAD, t->reg, "team/app", "alice", 1000, 0, &err));
    ASSERT_OK(t->m->uploads->upload_save(t->m, COPY_UPLOAD, 5, hash, sizeof(hash), "{\"mp\":\"x\"}", 7, &err));
    put_scopemap(t, t->reg, "pull", rules);
    ASSERT_OK(t->m->dir->token_put(t->m, &tk, &err));
    for (i = 0; i < 3; i++) {
        memset(&s, 0, sizeof(s));
        snprintf(s.hash, sizeof(s.hash), "$argon2id$s%d", i);
        snprintf(s.description, sizeof(s.description), "s%d", i);
        ASSERT_OK(t->m->dir->sp_secret_add(t->m, sp.app_id, &s, &err));
    }
    a[0] = assignment("user", u.id, "Owner", "/");
    a[1] = assignment("sp", sp.app_id, "AcrPush", "/registries/default");
    a[2] = assignment("user", u.id, "Reader", "/registries/second");
    for (i = 0; i < 3; i++) ASSERT_OK(t->m->dir->assignment_create(t->m, &a[i], &err));
    for (i = 0; i < 3; i++) {
        ev[i] = copy_event(t->reg, i);
        evp[i] = &ev[i];
    }
    ASSERT_OK(t->m->events->events_insert(t->m, evp, 3, &err));
    {
        /* a signing key, and one failure and one lockout of the shared limiter */
        struct berth_meta_login_limits lim = {2, 60, 300};
        ASSERT_OK(t->m->auth->key_add(t->m, "kid-copy", 1700000000000, "berth-key-created-ms: 1700000000000\n-----BEGIN"
                                      " PRIVATE KEY-----\nx\n-----END PRIVATE KEY-----\n", NULL, &err));
        ASSERT_OK(t->m->auth->login_failed(t->m, "alice", "10.1.1.1", 4000000000, &lim, &err));
        ASSERT_OK(t->m->auth->login_failed(t->m, "bob", "10.1.1.2", 4000000000, &lim, &err));
        ASSERT_OK(t->m->auth->login_failed(t->m, "bob", "10.1.1.2", 4000000001, &lim, &err));
    }
    free(net);
}

static int keep_last_event(const struct berth_meta_event *e, void *ctx)
{
    *(struct berth_meta_event *)ctx = *e;
    return 0;
}

static int keep_first_sp(const struct berth_meta_sp *sp, void *ctx)
{
    *(struct berth_meta_sp *)ctx = *sp;
    return 1;
}

/* What the ops read back from a store filled by fill_every_table, as one string. */
static const char *seen_through_ops(struct t *t)
{
    static struct berth_buf b = BERTH_BUF_INIT(0);
    struct berth_err err = BERTH_ERR_INIT;
    struct berth_buf pay = BERTH_BUF_INIT(0);
    struct berth_ref v1 = tag_ref("v1");
    struct berth_digest img = dg(0x21);
    struct berth_meta_network *net = berth_xcalloc(1, sizeof(*net));
    struct berth_meta_registry second;
    struct berth_meta_upload up;
    struct berth_meta_user u;
    struct berth_meta_event_filter f;
    struct berth_meta_event last;
    char tenant[37], mt[128];
    size_t len = 0;
    int more;

    berth_buf_reset(&b);
    ASSERT_OK(t->m->reg->tenant_id(t->m, tenant, &err));
    berth_buf_printf(&b, "tenant %s\nregistries %s\n", tenant, registries_of(t));
    ASSERT_OK(t->m->reg->registry_get(t->m, "second", 0, &second, &err));
    ASSERT_OK(t->m->reg->network_get(t->m, second.id, net, &err));
    berth_buf_printf(&b, "network %d %d %zu %s %s\n", net->public_network, net->default_allow, net->nrules,
                     net->rules[0], net->rules[1]);
    berth_buf_printf(&b, "repos %s\ntags %s\n", repos_of(t, NULL, 10, &more), tags_of(t, "team/app", NULL, 10, &more));
    ASSERT_OK(t->m->content->manifest_get(t->m, t->reg, "team/app", &v1, &pay, &len, mt, sizeof(mt), NULL, &err));
    ASSERT_EQ_INT(len, sizeof(odd_payload));
    ASSERT_TRUE(memcmp(berth_buf_str(&pay), odd_payload, sizeof(odd_payload)) == 0);
    berth_buf_printf(&b, "manifest %s %zu\n", mt, len);
    berth_buf_puts(&b, "referrers ");
    ASSERT_OK(t->m->content->referrers(t->m, t->reg, "team/app", &img, NULL, collect_referrer, &b, &err));
    ASSERT_OK(t->m->uploads->upload_load(t->m, COPY_UPLOAD, &up, &err));
    berth_buf_printf(&b, "\nupload %s %lld %llu %zu %u\n", up.repo, (long long)up.created_ms,
                     (unsigned long long)up.size, up.hash_len, up.hash[1]);
    berth_meta_upload_release(&up);
    ASSERT_OK(t->m->dir->user_get(t->m, "alice", NULL, &u, &err));
    berth_buf_printf(&b, "user %s %s\n", u.id, u.hash);
    berth_buf_printf(&b, "scopemaps %s\ntokens %s\n", scopemaps_of(t, t->reg), tokens_of(t, t->reg));
    berth_buf_printf(&b, "assignments %s\n", assignments_of(t, NULL));
    memset(&f, 0, sizeof(f));
    f.log = -1;
    f.limit = 10;
    f.all_registries = 1;
    memset(&last, 0, sizeof(last));
    ASSERT_OK(t->m->events->events_query(t->m, &f, keep_last_event, &last, &err));
    berth_buf_printf(&b, "events %lld %s %s %d %lld\n", (long long)last.id, last.operation, last.identity, last.status,
                     (long long)last.size);
    berth_buf_release(&pay);
    free(net);
    return berth_buf_str(&b);
}

struct refs_seen {
    struct berth_buf b;
    const char *refuse; /* a digest the check refuses */
};

static enum berth_rc note_ref(const struct berth_digest *d, int64_t lo, int64_t hi, void *ctx, struct berth_err *err)
{
    struct refs_seen *r = ctx;

    if (r->refuse && !strcmp(d->s, r->refuse)) return berth_err_set(err, BERTH_EBLOBUNKNOWN, "no blob %s", d->s);
    berth_buf_printf(&r->b, "%s:%lld:%lld,", d->s + strlen(d->s) - 2, (long long)lo, (long long)hi);
    return BERTH_OK;
}

static struct t open_store(size_t drv, const char *name, int with_registry)
{
    struct berth_err err = BERTH_ERR_INIT;
    struct t t = {&drivers[drv], drivers[drv].ops, NULL, drivers[drv].fresh(name), 0};

    ASSERT_OK(t.ops->open(t.dsn, &t.m, &err));
    if (with_registry) t.reg = new_registry(t.m, "default");
    return t;
}

static void close_store(struct t *t)
{
    t->ops->close(t->m);
    free(t->dsn);
}

/* Driver i's store, filled, copied into driver j's empty one. */
static void copy_between(size_t i, size_t j)
{
    struct berth_err err = BERTH_ERR_INIT;
    char name[64];
    struct t src, dst;
    struct berth_meta_tables *copied = berth_xcalloc(4, sizeof(*copied)), *ta = copied + 1, *tb = copied + 2,
                             *before = copied + 3;
    struct refs_seen refs = {BERTH_BUF_INIT(0), NULL};
    struct berth_meta_copy_opts o = {NULL, note_ref, &refs};
    struct berth_meta_registry third;
    struct berth_meta_assignment a;
    struct berth_meta_sp_secret s;
    struct berth_meta_sp sp;
    struct berth_meta_event ev = copy_event(0, 7), *evp = &ev;
    char *want;
    size_t k;
    int same = -1;

    snprintf(name, sizeof(name), "copy_src_%zu%zu", i, j);
    src = open_store(i, name, 1);
    snprintf(name, sizeof(name), "copy_dst_%zu%zu", i, j);
    dst = open_store(j, name, 0);
    fill_every_table(&src);
    ASSERT_OK(berth_meta_tables_count(dst.m, before, &err));
    for (k = 0; k < before->n; k++) ASSERT_EQ_INT(before->t[k].rows, 0);

    ASSERT_OK(berth_meta_copy(src.m, dst.m, &o, copied, &err));
    dst.reg = src.reg; /* ids are copied as they are */
    /* the fill reaches every table, so every column of every table went through */
    for (k = 0; k < copied->n; k++)
        if (copied->t[k].rows == 0) BERTH_TEST_FAIL("table %s: nothing copied", copied->t[k].name);
    ASSERT_EQ_INT(copied->n, before->n);
    /* checked inside the copy: each referenced blob once, with its recorded sizes (a manifest's only: -1) */
    ASSERT_EQ_STR(berth_buf_str(&refs.b), "11:2000:2000,12:3000:3000,13:100:100,");
    ASSERT_OK(berth_meta_compare(src.m, dst.m, NULL, NULL, ta, tb, &same, &err));
    ASSERT_EQ_INT(same, 1);
    for (k = 0; k < ta->n; k++) ASSERT_EQ_INT(ta->t[k].rows, copied->t[k].rows);
    want = berth_xstrdup(seen_through_ops(&src));
    ASSERT_EQ_STR(seen_through_ops(&dst), want);
    /* the blob store's resume data stays behind: the copy's store resumes from the id */
    {
        struct berth_meta_upload up;
        ASSERT_OK(dst.m->uploads->upload_load(dst.m, COPY_UPLOAD, &up, &err));
        ASSERT_TRUE(up.ext == NULL);
        ASSERT_EQ_INT(up.hash_len, 40);
        berth_meta_upload_release(&up);
    }

    /* new rows take ids after the copied ones, and insertion order goes on */
    memset(&third, 0, sizeof(third));
    snprintf(third.name, sizeof(third.name), "third");
    ASSERT_OK(dst.m->reg->registry_create(dst.m, &third, &err));
    ASSERT_TRUE(third.id > 2);
    ASSERT_OK(dst.m->events->events_insert(dst.m, &evp, 1, &err));
    ASSERT_TRUE(ev.id > 3);
    ASSERT_OK(dst.m->dir->sp_list(dst.m, keep_first_sp, &sp, &err));
    memset(&s, 0, sizeof(s));
    snprintf(s.description, sizeof(s.description), "s3");
    ASSERT_OK(dst.m->dir->sp_secret_add(dst.m, sp.app_id, &s, &err));
    ASSERT_EQ_STR(secrets_of(&dst, sp.app_id), "s3,s2,s1,s0,");
    a = assignment("sp", sp.app_id, "Reader", "/");
    ASSERT_OK(dst.m->dir->assignment_create(dst.m, &a, &err));
    ASSERT_TRUE(strstr(assignments_of(&dst, NULL), "user:Reader@/registries/second,sp:Reader@/,") != NULL);
    put_scopemap(&dst, third.id, "more", NULL);
    ASSERT_OK(berth_meta_compare(src.m, dst.m, NULL, NULL, ta, tb, &same, &err));
    ASSERT_EQ_INT(same, 0);

    /* a target with rows is refused, naming what it holds, and keeps them */
    ASSERT_RC(berth_meta_copy(src.m, dst.m, &o, copied, &err), BERTH_EEXIST);
    ASSERT_TRUE(strstr(err.msg, "not empty") != NULL && strstr(err.msg, "registries 3") != NULL);
    ASSERT_OK(dst.m->reg->registry_get(dst.m, "third", 0, &third, &err));

    free(want);
    berth_buf_release(&refs.b);
    free(copied);
    close_store(&src);
    close_store(&dst);
}

TEST(meta_copy_every_table_between_drivers)
{
    size_t i, j;

    for (i = 0; i < ndrivers(); i++)
        for (j = 0; j < ndrivers(); j++) copy_between(i, j);
}

SHARED_TEST(meta_copy_refused_by_the_blob_check_writes_nothing)
{
    struct berth_err err = BERTH_ERR_INIT;
    struct t dst = open_store((size_t)(t->drv - drivers), "copy_refused_dst", 0);
    struct berth_meta_tables *tabs = berth_xcalloc(2, sizeof(*tabs));
    struct refs_seen refs = {BERTH_BUF_INIT(0), NULL};
    struct berth_meta_copy_opts o = {NULL, note_ref, &refs};
    size_t k;

    fill_every_table(t);
    ASSERT_OK(berth_meta_blob_refs(t->m, note_ref, &refs, &err));
    ASSERT_EQ_STR(berth_buf_str(&refs.b), "11:2000:2000,12:3000:3000,13:100:100,");
    refs.refuse = dg(0x12).s;
    ASSERT_RC(berth_meta_copy(t->m, dst.m, &o, tabs, &err), BERTH_EBLOBUNKNOWN);
    ASSERT_TRUE(strstr(err.msg, dg(0x12).s) != NULL);
    ASSERT_OK(berth_meta_tables_count(dst.m, tabs + 1, &err));
    for (k = 0; k < tabs[1].n; k++) ASSERT_EQ_INT(tabs[1].t[k].rows, 0);
    ASSERT_OK(berth_meta_tables_count(t->m, tabs, &err));
    ASSERT_EQ_STR(tabs->t[0].name, "tenant");
    ASSERT_EQ_INT(tabs->t[0].rows, 1);
    berth_buf_release(&refs.b);
    free(tabs);
    close_store(&dst);
}

/* The copy order holds every foreign key: a table comes after each table it references. */
TEST(meta_copy_order_follows_foreign_keys)
{
    struct berth_err err = BERTH_ERR_INIT;
    char *path = berth_xasprintf("%s/fk.db", berth_test_tmpdir());
    struct berth_meta_tables tabs;
    struct berth_meta *m = NULL;
    sqlite3 *db = NULL;
    sqlite3_stmt *st = NULL;
    size_t k, child, parent;
    int checked = 0;

    ASSERT_OK(berth_meta_sqlite_ops.open(path, &m, &err));
    ASSERT_OK(berth_meta_tables_count(m, &tabs, &err));
    berth_meta_sqlite_ops.close(m);
    ASSERT_EQ_INT(sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, NULL), SQLITE_OK);
    ASSERT_EQ_INT(sqlite3_prepare_v2(db, "SELECT m.name, f.\"table\" FROM sqlite_master m,"
                                         " pragma_foreign_key_list(m.name) f WHERE m.type = 'table'",
                                     -1, &st, NULL),
                  SQLITE_OK);
    while (sqlite3_step(st) == SQLITE_ROW) {
        const char *c = (const char *)sqlite3_column_text(st, 0), *p = (const char *)sqlite3_column_text(st, 1);
        for (child = 0; child < tabs.n && strcmp(tabs.t[child].name, c) != 0; child++) {}
        for (parent = 0; parent < tabs.n && strcmp(tabs.t[parent].name, p) != 0; parent++) {}
        if (child == tabs.n || parent >= child) BERTH_TEST_FAIL("%s references %s, which is not copied before it", c, p);
        checked++;
    }
    ASSERT_TRUE(checked >= 10);
    for (k = 0; k < tabs.n; k++) ASSERT_TRUE(tabs.t[k].name != NULL);
    sqlite3_finalize(st);
    sqlite3_close(db);
    free(path);
}

/* A table the copy does not know (a migration that forgot BERTH_META_TABLES) stops it before it writes. */
TEST(meta_copy_refuses_a_schema_with_an_unknown_table)
{
    struct berth_err err = BERTH_ERR_INIT;
    char *path = berth_xasprintf("%s/extra.db", berth_test_tmpdir());
    char *to = berth_xasprintf("%s/to.db", berth_test_tmpdir());
    struct berth_meta_tables tabs;
    struct berth_meta *m = NULL, *n = NULL;

    ASSERT_OK(berth_meta_sqlite_ops.open(path, &m, &err));
    berth_meta_sqlite_ops.close(m);
    ASSERT_EQ_INT(db_exec(path, "CREATE TABLE extra (x INTEGER)"), SQLITE_OK);
    ASSERT_OK(berth_meta_sqlite_ops.open(path, &m, &err));
    ASSERT_OK(berth_meta_sqlite_ops.open(to, &n, &err));
    ASSERT_RC(berth_meta_tables_count(m, &tabs, &err), BERTH_EDB);
    ASSERT_TRUE(strstr(err.msg, "'extra'") != NULL);
    ASSERT_RC(berth_meta_copy(m, n, NULL, &tabs, &err), BERTH_EDB);
    ASSERT_TRUE(strstr(err.msg, "'extra'") != NULL);
    berth_meta_sqlite_ops.close(m);
    berth_meta_sqlite_ops.close(n);
    free(path);
    free(to);
}

/*
 * More rows than a page of the copy's reads (composite keys, {ROWID}, a table with bytes) and than one
 * of its many-row INSERTs: every row arrives, and insertion order survives.
 */
TEST(meta_copy_pages_and_batches_keep_every_row_in_order)
{
    size_t i, j, k;

    for (i = 0; i < ndrivers(); i++)
        for (j = 0; j < ndrivers(); j++) {
            struct berth_err err = BERTH_ERR_INIT;
            struct berth_meta_tables *tabs = berth_xcalloc(3, sizeof(*tabs));
            char name[64], *want;
            struct t src, dst;
            struct berth_meta_user u;
            int same = 0;

            snprintf(name, sizeof(name), "order_src_%zu%zu", i, j);
            src = open_store(i, name, 1);
            snprintf(name, sizeof(name), "order_dst_%zu%zu", i, j);
            dst = open_store(j, name, 0);
            u = new_user(&src, "many-roles");
            for (k = 0; k < 700; k++) {
                char scope[64];
                struct berth_meta_assignment a;
                /* scopes in descending order, so the primary key's order is not the insertion order */
                snprintf(scope, sizeof(scope), "/registries/default/repositories/r%04zu", 999 - k);
                a = assignment("user", u.id, "AcrPull", scope);
                ASSERT_OK(src.m->dir->assignment_create(src.m, &a, &err));
            }
            for (k = 0; k < 520; k++) {
                struct berth_digest d = dg(0x1000 + (unsigned)k);
                ASSERT_OK(claim(src.m, src.reg, k % 2 ? "two/b" : "one/a", &d, (int64_t)k, &err));
            }
            for (k = 0; k < 70; k++) {
                struct berth_digest d = dg(0x9000 + (unsigned)k);
                struct berth_meta_manifest mf = man(&src, "one/a", &d);
                ASSERT_OK(src.m->content->manifest_put(src.m, &mf, NULL, &err));
            }
            ASSERT_OK(berth_meta_copy(src.m, dst.m, NULL, tabs, &err));
            ASSERT_EQ_INT(tabs->t[4].rows, 520);  /* blobs */
            ASSERT_EQ_INT(tabs->t[5].rows, 520);  /* repo_blobs */
            ASSERT_EQ_INT(tabs->t[6].rows, 70);   /* manifests */
            ASSERT_EQ_INT(tabs->t[17].rows, 700); /* role_assignments */
            ASSERT_OK(berth_meta_compare(src.m, dst.m, NULL, NULL, tabs + 1, tabs + 2, &same, &err));
            ASSERT_EQ_INT(same, 1);
            want = berth_xstrdup(assignments_of(&src, u.id));
            ASSERT_EQ_STR(assignments_of(&dst, u.id), want);
            ASSERT_TRUE(strstr(want, "r0999,user:AcrPull@/registries/default/repositories/r0998,") != NULL);
            free(want);
            free(tabs);
            close_store(&src);
            close_store(&dst);
        }
}

/* ---- what servers sharing a store share for logins (meta->auth) ---- */

static enum berth_rc read_count(struct berth_sql_row *r, void *ctx, struct berth_err *err)
{
    (void)err;
    *(int64_t *)ctx = berth_sql_int(r, 0);
    return BERTH_OK;
}

/* Rows in table, read through the SQL layer. */
static int64_t rows_in(struct berth_meta *m, const char *table)
{
    struct berth_err err = BERTH_ERR_INIT;
    char *sql = berth_xasprintf("SELECT count(*) FROM %s", table);
    int64_t n = -1;

    ASSERT_OK(berth_sql_each_sql(berth_sql_db(m), "test", sql, SQL_NOARGS, read_count, &n, NULL, &err));
    free(sql);
    return n;
}

/* key_list callback: appends "kid@created:text|" to a berth_buf. */
static int collect_key(const char *kid, int64_t created_ms, const char *text, void *ctx)
{
    berth_buf_printf(ctx, "%s@%lld:%s|", kid, (long long)created_ms, text);
    return 0;
}

static const char *keys_of(struct berth_meta *m)
{
    static struct berth_buf b = BERTH_BUF_INIT(0);
    struct berth_err err = BERTH_ERR_INIT;
    berth_buf_reset(&b);
    ASSERT_OK(m->auth->key_list(m, collect_key, &b, &err));
    return berth_buf_str(&b);
}

static int stop_after_one(const char *kid, int64_t created_ms, const char *text, void *ctx)
{
    collect_key(kid, created_ms, text, ctx);
    return 1;
}

/* The texts are stored and listed as given (the key ring parses them, not the store). */
SHARED_TEST(meta_signing_keys_stored_as_given)
{
    struct berth_err err = BERTH_ERR_INIT;
    struct berth_buf b = BERTH_BUF_INIT(0);
    const char *k1 = "berth-key-created-ms: 20\n-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n";
    char *big = berth_xcalloc(1, BERTH_META_KEY_TEXT_MAX + 2), longkid[BERTH_META_KID_MAX + 2];
    int added = -1;

    ASSERT_EQ_STR(keys_of(t->m), "");
    ASSERT_OK(t->m->auth->key_add(t->m, "kid-b", 20, k1, &added, &err));
    ASSERT_EQ_INT(added, 1);
    ASSERT_OK(t->m->auth->key_add(t->m, "kid-a", 20, "pem only", NULL, &err));
    ASSERT_OK(t->m->auth->key_add(t->m, "kid-c", 10, "older", &added, &err));
    ASSERT_EQ_INT(added, 1);
    /* oldest first, then by kid; the text exactly as it came */
    berth_buf_printf(&b, "kid-c@10:older|kid-a@20:pem only|kid-b@20:%s|", k1);
    ASSERT_EQ_STR(keys_of(t->m), berth_buf_str(&b));
    /* a kid stored already stays as it was */
    ASSERT_OK(t->m->auth->key_add(t->m, "kid-b", 99, "another text", &added, &err));
    ASSERT_EQ_INT(added, 0);
    ASSERT_EQ_STR(keys_of(t->m), berth_buf_str(&b));
    berth_buf_reset(&b);
    ASSERT_OK(t->m->auth->key_list(t->m, stop_after_one, &b, &err));
    ASSERT_EQ_STR(berth_buf_str(&b), "kid-c@10:older|");
    /* removing, twice */
    ASSERT_OK(t->m->auth->key_remove(t->m, "kid-a", &err));
    ASSERT_OK(t->m->auth->key_remove(t->m, "kid-a", &err));
    ASSERT_OK(t->m->auth->key_remove(t->m, "kid-c", &err));
    berth_buf_reset(&b);
    berth_buf_printf(&b, "kid-b@20:%s|", k1);
    ASSERT_EQ_STR(keys_of(t->m), berth_buf_str(&b));
    /* the caps, and nothing empty */
    memset(big, 'k', BERTH_META_KEY_TEXT_MAX);
    ASSERT_OK(t->m->auth->key_add(t->m, "kid-big", 30, big, NULL, &err));
    big[BERTH_META_KEY_TEXT_MAX] = 'k';
    ASSERT_RC(t->m->auth->key_add(t->m, "kid-big2", 30, big, NULL, &err), BERTH_EINVAL);
    memset(longkid, 'x', sizeof(longkid) - 1);
    longkid[sizeof(longkid) - 1] = '\0';
    ASSERT_RC(t->m->auth->key_add(t->m, longkid, 1, "x", NULL, &err), BERTH_EINVAL);
    ASSERT_RC(t->m->auth->key_add(t->m, "", 1, "x", NULL, &err), BERTH_EINVAL);
    ASSERT_RC(t->m->auth->key_add(t->m, "kid-e", 1, "", NULL, &err), BERTH_EINVAL);
    ASSERT_RC(t->m->auth->key_add(t->m, NULL, 1, "x", NULL, &err), BERTH_EINVAL);
    ASSERT_RC(t->m->auth->key_remove(t->m, NULL, &err), BERTH_EINVAL);
    ASSERT_EQ_INT(rows_in(t->m, "signing_keys"), 2);
    free(big);
    berth_buf_release(&b);
}

struct key_racer {
    struct berth_meta *m;
    pthread_barrier_t *go;
    int added;
    enum berth_rc rc;
};

static void *add_same_key(void *p)
{
    struct key_racer *r = p;
    struct berth_err err = BERTH_ERR_INIT;

    pthread_barrier_wait(r->go);
    r->rc = r->m->auth->key_add(r->m, "raced", 5, "the same key", &r->added, &err);
    return NULL;
}

/* Two handles on one store, as two servers: each sees the other's keys; a kid added by both at once is stored once. */
SHARED_TEST(meta_signing_keys_between_servers)
{
    struct berth_err err = BERTH_ERR_INIT;
    struct berth_meta *other = NULL;
    struct key_racer r[2];
    pthread_t th[2];
    pthread_barrier_t go;
    int i;

    ASSERT_OK(t->ops->open(t->dsn, &other, &err));
    ASSERT_OK(t->m->auth->key_add(t->m, "from-a", 1, "a", NULL, &err));
    ASSERT_OK(other->auth->key_add(other, "from-b", 2, "b", NULL, &err));
    ASSERT_EQ_STR(keys_of(t->m), "from-a@1:a|from-b@2:b|");
    ASSERT_EQ_STR(keys_of(other), "from-a@1:a|from-b@2:b|");
    pthread_barrier_init(&go, NULL, 2);
    for (i = 0; i < 2; i++) {
        r[i] = (struct key_racer){i ? other : t->m, &go, -1, BERTH_EINTERNAL};
        ASSERT_EQ_INT(pthread_create(&th[i], NULL, add_same_key, &r[i]), 0);
    }
    for (i = 0; i < 2; i++) pthread_join(th[i], NULL);
    pthread_barrier_destroy(&go);
    ASSERT_OK(r[0].rc);
    ASSERT_OK(r[1].rc);
    ASSERT_EQ_INT(r[0].added + r[1].added, 1);
    ASSERT_OK(other->auth->key_remove(other, "from-a", &err));
    ASSERT_EQ_STR(keys_of(t->m), "from-b@2:b|raced@5:the same key|");
    t->ops->close(other);
}

/*
 * The limiter in the store: the same cases as test_limiter.c's in-memory
 * one (its eviction cases become the pruning of outlived rows).
 */
#define LT0 1700000000
static const struct berth_meta_login_limits lim3 = {3, 60, 300};

static int login_blocked(struct berth_meta *m, const char *who, const char *ip, int64_t now, int *retry)
{
    struct berth_err err = BERTH_ERR_INIT;
    int64_t wait = -1;

    ASSERT_OK(m->auth->login_blocked(m, who, ip, now, &wait, NULL, &err));
    if (retry) *retry = (int)wait;
    return wait > 0;
}

static void login_fail_n(struct berth_meta *m, const struct berth_meta_login_limits *lim, const char *who,
                         const char *ip, int n, int64_t now)
{
    struct berth_err err = BERTH_ERR_INIT;
    while (n-- > 0) ASSERT_OK(m->auth->login_failed(m, who, ip, now, lim, &err));
}

static void login_succeed(struct berth_meta *m, const char *who, const char *ip)
{
    struct berth_err err = BERTH_ERR_INIT;
    ASSERT_OK(m->auth->login_succeeded(m, who, ip, &err));
}

SHARED_TEST(meta_login_blocks_after_max_failures_not_before)
{
    struct berth_err err = BERTH_ERR_INIT;
    int retry = -1, pending = -1;
    int64_t wait = -1;

    ASSERT_TRUE(!login_blocked(t->m, "alice", "10.0.0.1", LT0, &retry));
    ASSERT_EQ_INT(retry, 0);
    ASSERT_OK(t->m->auth->login_blocked(t->m, "alice", "10.0.0.1", LT0, &wait, &pending, &err));
    ASSERT_EQ_INT(pending, 0); /* nothing to clear */
    login_fail_n(t->m, &lim3, "alice", "10.0.0.1", 2, LT0);
    ASSERT_TRUE(!login_blocked(t->m, "alice", "10.0.0.1", LT0 + 1, &retry));
    ASSERT_OK(t->m->auth->login_blocked(t->m, "alice", "10.0.0.1", LT0, NULL, &pending, &err));
    ASSERT_EQ_INT(pending, 1);
    login_fail_n(t->m, &lim3, "alice", "10.0.0.1", 1, LT0 + 1);
    ASSERT_TRUE(login_blocked(t->m, "alice", "10.0.0.1", LT0 + 1, &retry));
    ASSERT_EQ_INT(retry, 300);
    ASSERT_TRUE(login_blocked(t->m, "alice", "10.0.0.1", LT0 + 1, NULL));
    ASSERT_RC(t->m->auth->login_failed(t->m, "alice", "10.0.0.1", LT0, NULL, &err), BERTH_EINVAL);
}

SHARED_TEST(meta_login_other_ips_and_principals_unaffected)
{
    int retry;

    login_fail_n(t->m, &lim3, "alice", "10.0.0.1", 3, LT0);
    ASSERT_TRUE(login_blocked(t->m, "alice", "10.0.0.1", LT0, &retry));
    ASSERT_TRUE(!login_blocked(t->m, "alice", "10.0.0.2", LT0, &retry));
    ASSERT_TRUE(!login_blocked(t->m, "bob", "10.0.0.1", LT0, &retry));
    ASSERT_TRUE(!login_blocked(t->m, "alice1", "0.0.0.1", LT0, &retry)); /* same bytes, split elsewhere */
    ASSERT_TRUE(!login_blocked(t->m, "", "alice10.0.0.1", LT0, &retry));
    login_fail_n(t->m, &lim3, "alice", "10.0.0.2", 2, LT0);
    login_fail_n(t->m, &lim3, "bob", "10.0.0.1", 2, LT0);
    ASSERT_TRUE(!login_blocked(t->m, "alice", "10.0.0.2", LT0, &retry));
    ASSERT_TRUE(!login_blocked(t->m, "bob", "10.0.0.1", LT0, &retry));
}

SHARED_TEST(meta_login_retry_after_counts_down_then_unblocks)
{
    int retry;

    login_fail_n(t->m, &lim3, "alice", "::1", 3, LT0);
    ASSERT_TRUE(login_blocked(t->m, "alice", "::1", LT0 + 100, &retry));
    ASSERT_EQ_INT(retry, 200);
    ASSERT_TRUE(login_blocked(t->m, "alice", "::1", LT0 + 299, &retry));
    ASSERT_EQ_INT(retry, 1);
    ASSERT_TRUE(!login_blocked(t->m, "alice", "::1", LT0 + 300, &retry));
    ASSERT_EQ_INT(retry, 0);
    /* after the lockout the pair gets a fresh allowance */
    login_fail_n(t->m, &lim3, "alice", "::1", 2, LT0 + 301);
    ASSERT_TRUE(!login_blocked(t->m, "alice", "::1", LT0 + 301, &retry));
    login_fail_n(t->m, &lim3, "alice", "::1", 1, LT0 + 301);
    ASSERT_TRUE(login_blocked(t->m, "alice", "::1", LT0 + 301, &retry));
}

SHARED_TEST(meta_login_failures_during_lockout_do_not_extend_it)
{
    int retry;

    login_fail_n(t->m, &lim3, "alice", "::1", 3, LT0);
    login_fail_n(t->m, &lim3, "alice", "::1", 10, LT0 + 200);
    ASSERT_TRUE(login_blocked(t->m, "alice", "::1", LT0 + 200, &retry));
    ASSERT_EQ_INT(retry, 100);
    ASSERT_TRUE(!login_blocked(t->m, "alice", "::1", LT0 + 300, &retry));
    /* and they were not counted towards the next one */
    login_fail_n(t->m, &lim3, "alice", "::1", 2, LT0 + 300);
    ASSERT_TRUE(!login_blocked(t->m, "alice", "::1", LT0 + 300, &retry));
}

SHARED_TEST(meta_login_success_resets_the_pair)
{
    int retry;

    login_fail_n(t->m, &lim3, "alice", "10.0.0.1", 2, LT0);
    login_fail_n(t->m, &lim3, "alice", "10.0.0.2", 2, LT0);
    login_succeed(t->m, "alice", "10.0.0.1");
    login_fail_n(t->m, &lim3, "alice", "10.0.0.1", 2, LT0 + 1);
    ASSERT_TRUE(!login_blocked(t->m, "alice", "10.0.0.1", LT0 + 1, &retry));
    /* only that pair was reset */
    login_fail_n(t->m, &lim3, "alice", "10.0.0.2", 1, LT0 + 1);
    ASSERT_TRUE(login_blocked(t->m, "alice", "10.0.0.2", LT0 + 1, &retry));
    /* succeeding for an unknown pair is harmless */
    login_succeed(t->m, "nobody", "10.9.9.9");
}

SHARED_TEST(meta_login_window_slides)
{
    int retry;

    login_fail_n(t->m, &lim3, "alice", "::1", 1, LT0);
    login_fail_n(t->m, &lim3, "alice", "::1", 1, LT0 + 30);
    /* the failure at LT0 is 60 s old: out of the window, so only two count */
    login_fail_n(t->m, &lim3, "alice", "::1", 1, LT0 + 60);
    ASSERT_TRUE(!login_blocked(t->m, "alice", "::1", LT0 + 60, &retry));
    /* LT0+30, LT0+60, LT0+89 are all within 60 s */
    login_fail_n(t->m, &lim3, "alice", "::1", 1, LT0 + 89);
    ASSERT_TRUE(login_blocked(t->m, "alice", "::1", LT0 + 89, &retry));
    ASSERT_EQ_INT(retry, 300);

    /* spaced-out failures never add up */
    login_fail_n(t->m, &lim3, "bob", "::1", 1, LT0);
    login_fail_n(t->m, &lim3, "bob", "::1", 1, LT0 + 40);
    login_fail_n(t->m, &lim3, "bob", "::1", 1, LT0 + 80);
    login_fail_n(t->m, &lim3, "bob", "::1", 1, LT0 + 120);
    login_fail_n(t->m, &lim3, "bob", "::1", 1, LT0 + 160);
    ASSERT_TRUE(!login_blocked(t->m, "bob", "::1", LT0 + 160, &retry));
}

SHARED_TEST(meta_login_long_names_and_off_settings)
{
    static const struct berth_meta_login_limits two = {2, 60, 300};
    static const struct berth_meta_login_limits off[] = {{0, 60, 300}, {3, 0, 300}, {3, 60, 0}, {-1, -1, -1}};
    char *big = berth_xcalloc(1, 100001);
    size_t i;
    int retry;

    memset(big, 'a', 100000);
    login_fail_n(t->m, &two, big, big, 2, LT0);
    ASSERT_TRUE(login_blocked(t->m, big, big, LT0, &retry));
    ASSERT_TRUE(!login_blocked(t->m, big, "10.0.0.1", LT0, &retry));
    login_fail_n(t->m, &two, NULL, NULL, 2, LT0);
    ASSERT_TRUE(login_blocked(t->m, NULL, NULL, LT0, &retry));
    ASSERT_TRUE(login_blocked(t->m, "", "", LT0, &retry)); /* NULL counts as "" */
    for (i = 0; i < sizeof(off) / sizeof(off[0]); i++) login_fail_n(t->m, &off[i], "carol", "::1", 100, LT0);
    ASSERT_TRUE(!login_blocked(t->m, "carol", "::1", LT0, &retry));
    free(big);
}

/* Rows a pair has outlived go as failures come in, so the tables hold one window's worth. */
SHARED_TEST(meta_login_tables_stay_bounded)
{
    char ip[32];
    int i;

    for (i = 0; i < 50; i++) {
        snprintf(ip, sizeof(ip), "192.168.0.%d", i);
        login_fail_n(t->m, &lim3, "mallory", ip, i % 2 ? 3 : 1, LT0 + 3 * i); /* odd ones are locked out */
    }
    /* failures within 60 s of LT0+147 (even pairs from i = 30 on) and lockouts not yet over (all 25) */
    ASSERT_EQ_INT(rows_in(t->m, "login_failures"), 10);
    ASSERT_EQ_INT(rows_in(t->m, "login_lockouts"), 25);
    login_fail_n(t->m, &lim3, "mallory", "10.1.1.1", 1, LT0 + 1000);
    ASSERT_EQ_INT(rows_in(t->m, "login_failures"), 1);
    ASSERT_EQ_INT(rows_in(t->m, "login_lockouts"), 0);
    /* failures of one second are one row */
    login_fail_n(t->m, &lim3, "mallory", "10.1.1.1", 1, LT0 + 1000);
    ASSERT_EQ_INT(rows_in(t->m, "login_failures"), 1);
    ASSERT_TRUE(login_blocked(t->m, "mallory", "10.1.1.1", LT0 + 1000, NULL) == 0);
    login_fail_n(t->m, &lim3, "mallory", "10.1.1.1", 1, LT0 + 1000);
    ASSERT_TRUE(login_blocked(t->m, "mallory", "10.1.1.1", LT0 + 1000, NULL));
    ASSERT_EQ_INT(rows_in(t->m, "login_failures"), 0);
}

#define LOGIN_THREADS 4
#define LOGIN_EACH 10

struct login_racer {
    struct berth_meta *m;
    pthread_barrier_t *go;
    const struct berth_meta_login_limits *lim;
    int bad;
    char why[256];
};

static void *fail_shared_pair(void *p)
{
    struct login_racer *r = p;
    struct berth_err err = BERTH_ERR_INIT;
    int i;

    pthread_barrier_wait(r->go);
    for (i = 0; i < LOGIN_EACH; i++)
        if (r->m->auth->login_failed(r->m, "shared", "10.9.9.9", LT0, r->lim, &err) != BERTH_OK) {
            r->bad++;
            snprintf(r->why, sizeof(r->why), "%.200s", err.msg);
        }
    return NULL;
}

/*
 * Two handles on one store, as two servers: failures alternating between
 * them lock the pair out on both, and failures racing from both are each
 * counted once.
 */
SHARED_TEST(meta_login_between_servers)
{
    const struct berth_meta_login_limits exact = {2 * LOGIN_THREADS * LOGIN_EACH + 1, 60, 300};
    struct berth_err err = BERTH_ERR_INIT;
    struct berth_meta *other = NULL;
    struct login_racer r[2 * LOGIN_THREADS];
    pthread_t th[2 * LOGIN_THREADS];
    pthread_barrier_t go;
    int i, retry;

    ASSERT_OK(t->ops->open(t->dsn, &other, &err));
    login_fail_n(t->m, &lim3, "alice", "10.0.0.1", 1, LT0);
    login_fail_n(other, &lim3, "alice", "10.0.0.1", 1, LT0);
    ASSERT_TRUE(!login_blocked(t->m, "alice", "10.0.0.1", LT0, &retry));
    login_fail_n(t->m, &lim3, "alice", "10.0.0.1", 1, LT0 + 1);
    ASSERT_TRUE(login_blocked(t->m, "alice", "10.0.0.1", LT0 + 1, &retry));
    ASSERT_TRUE(login_blocked(other, "alice", "10.0.0.1", LT0 + 1, &retry));
    ASSERT_EQ_INT(retry, 300);
    login_succeed(other, "alice", "10.0.0.1");
    ASSERT_TRUE(!login_blocked(t->m, "alice", "10.0.0.1", LT0 + 1, &retry));

    pthread_barrier_init(&go, NULL, 2 * LOGIN_THREADS);
    for (i = 0; i < 2 * LOGIN_THREADS; i++) {
        memset(&r[i], 0, sizeof(r[i]));
        r[i].m = i % 2 ? other : t->m;
        r[i].go = &go;
        r[i].lim = &exact;
        ASSERT_EQ_INT(pthread_create(&th[i], NULL, fail_shared_pair, &r[i]), 0);
    }
    for (i = 0; i < 2 * LOGIN_THREADS; i++) pthread_join(th[i], NULL);
    pthread_barrier_destroy(&go);
    for (i = 0; i < 2 * LOGIN_THREADS; i++)
        if (r[i].bad) BERTH_TEST_FAIL("thread %d: %d failures, last: %s", i, r[i].bad, r[i].why);
    /* every one of them counted: one more locks the pair out, on both */
    ASSERT_TRUE(!login_blocked(other, "shared", "10.9.9.9", LT0, &retry));
    login_fail_n(other, &exact, "shared", "10.9.9.9", 1, LT0);
    ASSERT_TRUE(login_blocked(t->m, "shared", "10.9.9.9", LT0, &retry));
    t->ops->close(other);
}
