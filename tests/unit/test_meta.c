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
#include "berth/alloc.h"
#include "berth/buf.h"
#include "berth/meta.h"
#include "berth/util.h"
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

static const struct driver drivers[] = {
    {&berth_meta_sqlite_ops, sqlite_fresh},
};

/* What each shared test body gets: an open store and its driver. */
struct t {
    const struct driver *drv;
    const struct berth_meta_ops *ops;
    struct berth_meta *m;
    char *dsn;
};

/* Expects BERTH_OK, printing the message of the local `err` otherwise. */
#define ASSERT_OK(expr)                                                                             \
    do {                                                                                            \
        enum berth_rc r_ = (expr);                                                                  \
        if (r_ != BERTH_OK) BERTH_TEST_FAIL("%s: %s: %s", #expr, berth_rc_name(r_), err.msg);       \
    } while (0)

static void each_driver(const char *name, void (*body)(struct t *t))
{
    size_t i;

    for (i = 0; i < sizeof(drivers) / sizeof(drivers[0]); i++) {
        struct berth_err err = BERTH_ERR_INIT;
        struct t t = {&drivers[i], drivers[i].ops, NULL, drivers[i].fresh(name)};
        ASSERT_OK(t.ops->open(t.dsn, &t.m, &err));
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

/* An image manifest of repo with digest d and a payload naming it; no references. */
static struct berth_meta_manifest man(const char *repo, const struct berth_digest *d)
{
    struct berth_meta_manifest mf;
    memset(&mf, 0, sizeof(mf));
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
    ASSERT_OK(t->ops->repo_list(t->m, last, n, collect, &b, more, &err));
    return berth_buf_str(&b);
}

static const char *tags_of(struct t *t, const char *repo, const char *last, int64_t n, int *more)
{
    static struct berth_buf b = BERTH_BUF_INIT(0);
    struct berth_err err = BERTH_ERR_INIT;
    berth_buf_reset(&b);
    ASSERT_OK(t->ops->tag_list(t->m, repo, last, n, collect, &b, more, &err));
    return berth_buf_str(&b);
}

/* gc, returning the manifests it deleted as collect_gc writes them. */
static const char *gc_run(struct t *t, int64_t cutoff, int dry_run)
{
    static struct berth_buf b = BERTH_BUF_INIT(0);
    struct berth_err err = BERTH_ERR_INIT;
    berth_buf_reset(&b);
    ASSERT_OK(t->ops->gc(t->m, cutoff, dry_run, collect_gc, NULL, &b, &err));
    return berth_buf_str(&b);
}

/* Digest of the manifest tag points at, or "" when the lookup fails. */
static const char *tagged(struct t *t, const char *repo, const char *tag)
{
    static struct berth_digest d;
    struct berth_err err = BERTH_ERR_INIT;
    struct berth_ref r = tag_ref(tag);
    if (t->ops->manifest_get(t->m, repo, &r, NULL, NULL, NULL, 0, &d, &err) != BERTH_OK) return "";
    return d.s;
}

static int has_manifest(struct t *t, const char *repo, const struct berth_digest *d)
{
    struct berth_err err = BERTH_ERR_INIT;
    struct berth_ref r = digest_ref(d);
    return t->ops->manifest_get(t->m, repo, &r, NULL, NULL, NULL, 0, NULL, &err) == BERTH_OK;
}

static int linked(struct t *t, const char *repo, const struct berth_digest *d)
{
    struct berth_err err = BERTH_ERR_INIT;
    return t->ops->blob_linked(t->m, repo, d, NULL, &err) == BERTH_OK;
}

/* A time such that every row written so far is older and every later row is not. */
static int64_t tick(void)
{
    int64_t t = berth_now_ms() + 1;
    while (berth_now_ms() < t) usleep(200);
    return t;
}

/* ---- shared tests ---- */

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
    ASSERT_RC(t->ops->repo_exists(t->m, "alpha", &err), BERTH_ENAMEUNKNOWN);
    for (i = 0; i < sizeof(names) / sizeof(names[0]); i++)
        ASSERT_OK(t->ops->blob_link(t->m, names[i], &b, 1, &err));
    ASSERT_OK(t->ops->repo_exists(t->m, "alpha", &err));
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
    ASSERT_OK(t->ops->repo_list(t->m, NULL, 10, collect_one, &buf, &more, &err));
    ASSERT_EQ_STR(berth_buf_str(&buf), "alpha,");
    ASSERT_EQ_INT(more, 1);
    berth_buf_reset(&buf);
    ASSERT_OK(t->ops->repo_list(t->m, "alpha0", 10, collect_one, &buf, &more, &err));
    ASSERT_EQ_STR(berth_buf_str(&buf), "beta,");
    ASSERT_EQ_INT(more, 0);
    ASSERT_OK(t->ops->repo_list(t->m, NULL, 10, NULL, NULL, NULL, &err));
    berth_buf_release(&buf);
}

SHARED_TEST(meta_tag_list_pages)
{
    struct berth_err err = BERTH_ERR_INIT;
    struct berth_digest d = dg(7), b = dg(8);
    struct berth_meta_manifest mf = man("r", &d);
    const char *tags[] = {"v2", "latest", "v1", "V1", "v1.0", "v1-rc"};
    size_t i;
    int more = -1;

    ASSERT_RC(t->ops->tag_list(t->m, "r", NULL, 10, collect, NULL, &more, &err), BERTH_ENAMEUNKNOWN);
    ASSERT_OK(t->ops->blob_link(t->m, "r", &b, 1, &err));
    ASSERT_EQ_STR(tags_of(t, "r", NULL, 10, &more), "");
    ASSERT_EQ_INT(more, 0);
    ASSERT_EQ_STR(tags_of(t, "r", NULL, 0, &more), "");
    ASSERT_EQ_INT(more, 0);
    for (i = 0; i < sizeof(tags) / sizeof(tags[0]); i++) ASSERT_OK(t->ops->manifest_put(t->m, &mf, tags[i], &err));
    ASSERT_OK(t->ops->manifest_put(t->m, &mf, NULL, &err));
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
    ASSERT_RC(t->ops->tag_list(t->m, "other", NULL, 0, collect, NULL, &more, &err), BERTH_ENAMEUNKNOWN);
}

SHARED_TEST(meta_blob_links)
{
    struct berth_err err = BERTH_ERR_INIT;
    struct berth_digest b = dg(0xb1), c = dg(0xc1), d = dg(0xd1);
    struct berth_buf buf = BERTH_BUF_INIT(0);
    struct berth_meta_manifest mf = man("one", &d);
    int64_t size = -1;
    int used = -1;

    ASSERT_RC(t->ops->blob_linked(t->m, "one", &b, &size, &err), BERTH_EBLOBUNKNOWN);
    ASSERT_TRUE(strstr(err.msg, b.s) != NULL);
    ASSERT_OK(t->ops->blob_in_use(t->m, &b, &used, &err));
    ASSERT_EQ_INT(used, 0);
    ASSERT_OK(t->ops->blob_link(t->m, "one", &b, 42, &err));
    ASSERT_OK(t->ops->blob_link(t->m, "one", &b, 42, &err)); /* idempotent */
    ASSERT_OK(t->ops->blob_linked(t->m, "one", &b, &size, &err));
    ASSERT_EQ_INT(size, 42);
    ASSERT_OK(t->ops->blob_linked(t->m, "one", &b, NULL, &err));
    ASSERT_RC(t->ops->blob_linked(t->m, "two", &b, &size, &err), BERTH_EBLOBUNKNOWN);
    ASSERT_RC(t->ops->blob_linked(t->m, "one", &c, &size, &err), BERTH_EBLOBUNKNOWN);
    ASSERT_OK(t->ops->blob_link(t->m, "two", &b, 42, &err));
    ASSERT_OK(t->ops->blob_link(t->m, "a/zero", &b, 42, &err));
    ASSERT_OK(t->ops->blob_repos(t->m, &b, collect, &buf, &err));
    ASSERT_EQ_STR(berth_buf_str(&buf), "a/zero,one,two,");
    berth_buf_reset(&buf);
    ASSERT_OK(t->ops->blob_repos(t->m, &b, collect_one, &buf, &err));
    ASSERT_EQ_STR(berth_buf_str(&buf), "a/zero,");
    berth_buf_reset(&buf);
    ASSERT_OK(t->ops->blob_repos(t->m, &c, collect, &buf, &err));
    ASSERT_EQ_STR(berth_buf_str(&buf), "");
    ASSERT_OK(t->ops->blob_in_use(t->m, &b, &used, &err));
    ASSERT_EQ_INT(used, 1);

    /* referenced by a manifest but linked nowhere still counts as in use */
    ASSERT_OK(t->ops->blob_link(t->m, "one", &c, 5, &err));
    mf.blobs = &c;
    mf.nblobs = 1;
    ASSERT_OK(t->ops->manifest_put(t->m, &mf, "latest", &err));
    ASSERT_OK(t->ops->blob_unlink(t->m, "one", &c, &err));
    ASSERT_RC(t->ops->blob_unlink(t->m, "one", &c, &err), BERTH_EBLOBUNKNOWN);
    ASSERT_RC(t->ops->blob_linked(t->m, "one", &c, &size, &err), BERTH_EBLOBUNKNOWN);
    ASSERT_OK(t->ops->blob_in_use(t->m, &c, &used, &err));
    ASSERT_EQ_INT(used, 1);
    ASSERT_OK(t->ops->manifest_delete(t->m, "one", &d, &err));
    ASSERT_OK(t->ops->blob_in_use(t->m, &c, &used, &err));
    ASSERT_EQ_INT(used, 0);

    ASSERT_OK(t->ops->blob_unlink(t->m, "one", &b, &err));
    ASSERT_OK(t->ops->blob_unlink(t->m, "two", &b, &err));
    ASSERT_OK(t->ops->blob_in_use(t->m, &b, &used, &err));
    ASSERT_EQ_INT(used, 1);
    ASSERT_OK(t->ops->blob_unlink(t->m, "a/zero", &b, &err));
    ASSERT_OK(t->ops->blob_in_use(t->m, &b, &used, &err));
    ASSERT_EQ_INT(used, 0);
    ASSERT_RC(t->ops->blob_unlink(t->m, "nope", &b, &err), BERTH_EBLOBUNKNOWN);
    /* relinking renews the size */
    ASSERT_OK(t->ops->blob_link(t->m, "one", &b, 43, &err));
    ASSERT_OK(t->ops->blob_linked(t->m, "one", &b, &size, &err));
    ASSERT_EQ_INT(size, 43);
    ASSERT_RC(t->ops->blob_link(t->m, "one", &b, -1, &err), BERTH_EINVAL);
    berth_buf_release(&buf);
}

SHARED_TEST(meta_manifest_put_get)
{
    struct berth_err err = BERTH_ERR_INIT;
    static const char payload[] = "{\"schemaVersion\":2,\0\"x\":\"\xff\x00\x01\"}\0";
    size_t plen = sizeof(payload); /* NUL bytes inside and at the end */
    struct berth_digest d = dg(0xabc), layer = dg(0x1a), cfg = dg(0xcf), got;
    struct berth_digest blobs[2] = {cfg, layer};
    struct berth_meta_manifest mf = man("lib/app", &d);
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
    ASSERT_OK(t->ops->blob_link(t->m, "lib/app", &cfg, 2, &err));
    ASSERT_OK(t->ops->blob_link(t->m, "lib/app", &layer, 3, &err));
    ASSERT_RC(t->ops->manifest_get(t->m, "lib/app", &byt, &buf, &len, mt, sizeof(mt), &got, &err),
              BERTH_EMANIFESTUNKNOWN);
    ASSERT_OK(t->ops->manifest_put(t->m, &mf, "v1", &err));
    ASSERT_OK(t->ops->manifest_put(t->m, &mf, "v1", &err)); /* same digest again */

    ASSERT_OK(t->ops->manifest_get(t->m, "lib/app", &byt, &buf, &len, mt, sizeof(mt), &got, &err));
    ASSERT_EQ_INT(len, plen);
    ASSERT_EQ_INT(buf.len, plen);
    ASSERT_TRUE(memcmp(buf.p, payload, plen) == 0);
    ASSERT_EQ_STR(mt, BERTH_MT_OCI_MANIFEST);
    ASSERT_EQ_STR(got.s, d.s);
    ASSERT_EQ_INT(got.alg, BERTH_DIGEST_SHA256);

    /* appends: the second get lands after the first */
    memset(&got, 0, sizeof(got));
    ASSERT_OK(t->ops->manifest_get(t->m, "lib/app", &byd, &buf, &len, mt, sizeof(mt), &got, &err));
    ASSERT_EQ_INT(buf.len, 2 * plen);
    ASSERT_TRUE(memcmp(buf.p + plen, payload, plen) == 0);
    ASSERT_EQ_STR(got.s, d.s);

    /* HEAD: no bytes, still the length */
    len = 0;
    ASSERT_OK(t->ops->manifest_get(t->m, "lib/app", &byd, NULL, &len, mt, sizeof(mt), &got, &err));
    ASSERT_EQ_INT(len, plen);

    ASSERT_RC(t->ops->manifest_get(t->m, "lib/app", &byt, &small, &len, mt, sizeof(mt), &got, &err),
              BERTH_ETOOBIG);
    ASSERT_RC(t->ops->manifest_get(t->m, "lib/app", &byt, NULL, &len, tiny, sizeof(tiny), &got, &err),
              BERTH_EINTERNAL);
    ASSERT_RC(t->ops->manifest_get(t->m, "lib/app", &other, &buf, &len, mt, sizeof(mt), &got, &err),
              BERTH_EMANIFESTUNKNOWN);
    ASSERT_RC(t->ops->manifest_get(t->m, "lib/app", &byd404, &buf, &len, mt, sizeof(mt), &got, &err),
              BERTH_EMANIFESTUNKNOWN);
    ASSERT_TRUE(strstr(err.msg, none.s) != NULL);
    ASSERT_RC(t->ops->manifest_get(t->m, "lib/nope", &byt, &buf, &len, mt, sizeof(mt), &got, &err),
              BERTH_ENAMEUNKNOWN);
    ASSERT_RC(t->ops->manifest_get(t->m, "lib/nope", &byd, &buf, &len, mt, sizeof(mt), &got, &err),
              BERTH_ENAMEUNKNOWN);
    ASSERT_EQ_INT(buf.len, 2 * plen);

    /* an empty payload is stored as zero bytes, not as nothing */
    {
        struct berth_digest e = dg(0xe);
        struct berth_meta_manifest em = man("lib/app", &e);
        struct berth_ref bye = digest_ref(&e);
        em.payload = NULL;
        em.len = 0;
        ASSERT_OK(t->ops->manifest_put(t->m, &em, NULL, &err));
        berth_buf_reset(&buf);
        len = 99;
        ASSERT_OK(t->ops->manifest_get(t->m, "lib/app", &bye, &buf, &len, mt, sizeof(mt), NULL, &err));
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
    struct berth_meta_manifest mf = man("new/repo", &d);
    int more = -1;

    mf.blobs = &missing;
    mf.nblobs = 1;
    ASSERT_RC(t->ops->manifest_put(t->m, &mf, "latest", &err), BERTH_EMANIFESTBLOB);
    ASSERT_TRUE(strstr(err.msg, missing.s) != NULL);
    ASSERT_TRUE(strstr(err.msg, "new/repo") != NULL);
    ASSERT_RC(t->ops->repo_exists(t->m, "new/repo", &err), BERTH_ENAMEUNKNOWN);
    ASSERT_EQ_STR(repos_of(t, NULL, 10, &more), "");

    /* a blob linked elsewhere does not count */
    ASSERT_OK(t->ops->blob_link(t->m, "other", &missing, 1, &err));
    ASSERT_RC(t->ops->manifest_put(t->m, &mf, "latest", &err), BERTH_EMANIFESTBLOB);
    ASSERT_RC(t->ops->repo_exists(t->m, "new/repo", &err), BERTH_ENAMEUNKNOWN);

    /* in an existing repository: the tag stays where it was, the manifest is not stored */
    ASSERT_OK(t->ops->blob_link(t->m, "new/repo", &have, 1, &err));
    mf.blobs = &have;
    ASSERT_OK(t->ops->manifest_put(t->m, &mf, "latest", &err));
    mf = man("new/repo", &d2);
    mf.blobs = blobs;
    mf.nblobs = 2;
    ASSERT_RC(t->ops->manifest_put(t->m, &mf, "latest", &err), BERTH_EMANIFESTBLOB);
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
    struct berth_meta_manifest im = man("multi", &idx), mf;

    im.media_type = BERTH_MT_OCI_INDEX;
    im.children = kids;
    im.nchildren = 2;
    mf = man("multi", &amd);
    ASSERT_OK(t->ops->manifest_put(t->m, &mf, NULL, &err));
    ASSERT_RC(t->ops->manifest_put(t->m, &im, "latest", &err), BERTH_EMANIFESTBLOB);
    ASSERT_TRUE(strstr(err.msg, arm.s) != NULL);
    ASSERT_TRUE(strstr(err.msg, "manifest") != NULL);
    ASSERT_EQ_STR(tagged(t, "multi", "latest"), "");
    /* a child in another repository does not count */
    mf = man("elsewhere", &arm);
    ASSERT_OK(t->ops->manifest_put(t->m, &mf, NULL, &err));
    ASSERT_RC(t->ops->manifest_put(t->m, &im, "latest", &err), BERTH_EMANIFESTBLOB);
    mf = man("multi", &arm);
    ASSERT_OK(t->ops->manifest_put(t->m, &mf, NULL, &err));
    ASSERT_OK(t->ops->manifest_put(t->m, &im, "latest", &err));
    ASSERT_EQ_STR(tagged(t, "multi", "latest"), idx.s);
}

SHARED_TEST(meta_retag_moves_tag)
{
    struct berth_err err = BERTH_ERR_INIT;
    struct berth_digest a = dg(0xa), b = dg(0xb);
    struct berth_meta_manifest ma = man("r", &a), mb = man("r", &b);
    int more;

    ASSERT_OK(t->ops->manifest_put(t->m, &ma, "latest", &err));
    ASSERT_OK(t->ops->manifest_put(t->m, &ma, "stable", &err));
    ASSERT_EQ_STR(tagged(t, "r", "latest"), a.s);
    ASSERT_OK(t->ops->manifest_put(t->m, &mb, "latest", &err));
    ASSERT_EQ_STR(tagged(t, "r", "latest"), b.s);
    ASSERT_EQ_STR(tagged(t, "r", "stable"), a.s);
    ASSERT_EQ_STR(tags_of(t, "r", NULL, 10, &more), "latest,stable,");
    /* putting by digest alone leaves tags alone */
    ASSERT_OK(t->ops->manifest_put(t->m, &ma, NULL, &err));
    ASSERT_EQ_STR(tagged(t, "r", "latest"), b.s);
}

SHARED_TEST(meta_delete_by_digest_removes_tags)
{
    struct berth_err err = BERTH_ERR_INIT;
    struct berth_digest a = dg(0xa), b = dg(0xb), blob = dg(0xf);
    struct berth_meta_manifest ma = man("r", &a), mb = man("r", &b);
    int more, used = -1;

    ASSERT_OK(t->ops->blob_link(t->m, "r", &blob, 1, &err));
    ma.blobs = &blob;
    ma.nblobs = 1;
    ASSERT_OK(t->ops->manifest_put(t->m, &ma, "one", &err));
    ASSERT_OK(t->ops->manifest_put(t->m, &ma, "two", &err));
    ASSERT_OK(t->ops->manifest_put(t->m, &mb, "three", &err));
    ASSERT_OK(t->ops->manifest_delete(t->m, "r", &a, &err));
    ASSERT_TRUE(!has_manifest(t, "r", &a));
    ASSERT_EQ_STR(tagged(t, "r", "one"), "");
    ASSERT_EQ_STR(tags_of(t, "r", NULL, 10, &more), "three,");
    ASSERT_RC(t->ops->manifest_delete(t->m, "r", &a, &err), BERTH_EMANIFESTUNKNOWN);
    ASSERT_RC(t->ops->manifest_delete(t->m, "nope", &a, &err), BERTH_EMANIFESTUNKNOWN);
    /* the link stays; only the reference went */
    ASSERT_TRUE(linked(t, "r", &blob));
    ASSERT_OK(t->ops->blob_unlink(t->m, "r", &blob, &err));
    ASSERT_OK(t->ops->blob_in_use(t->m, &blob, &used, &err));
    ASSERT_EQ_INT(used, 0);
    /* the digest can come back */
    ASSERT_OK(t->ops->manifest_put(t->m, &mb, "one", &err));
    ASSERT_EQ_STR(tagged(t, "r", "one"), b.s);
}

SHARED_TEST(meta_tag_delete)
{
    struct berth_err err = BERTH_ERR_INIT;
    struct berth_digest a = dg(0xa);
    struct berth_meta_manifest ma = man("r", &a);
    int more;

    ASSERT_OK(t->ops->manifest_put(t->m, &ma, "one", &err));
    ASSERT_OK(t->ops->manifest_put(t->m, &ma, "two", &err));
    ASSERT_OK(t->ops->tag_delete(t->m, "r", "one", &err));
    ASSERT_RC(t->ops->tag_delete(t->m, "r", "one", &err), BERTH_EMANIFESTUNKNOWN);
    ASSERT_RC(t->ops->tag_delete(t->m, "nope", "two", &err), BERTH_EMANIFESTUNKNOWN);
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
    struct berth_meta_manifest ms = man("r", &subj), m1 = man("r", &r1), m2 = man("r", &r2), m3 = man("r", &r3);
    struct berth_meta_manifest elsewhere = man("q", &r1);
    struct berth_buf b = BERTH_BUF_INIT(0);
    size_t slen = strlen(r1.s);

    ASSERT_OK(t->ops->manifest_put(t->m, &ms, "latest", &err));
    m1.subject = &subj;
    m1.artifact_type = "application/x-sig";
    m2.subject = &subj;
    m2.artifact_type = "application/x-sbom";
    m2.annotations_json = "{\"k\":\"v\"}";
    m3.subject = &subj;
    m3.artifact_type = "application/x-sig";
    elsewhere.subject = &subj;
    ASSERT_OK(t->ops->manifest_put(t->m, &m1, NULL, &err));
    ASSERT_OK(t->ops->manifest_put(t->m, &m2, NULL, &err));
    ASSERT_OK(t->ops->manifest_put(t->m, &m3, NULL, &err));
    ASSERT_OK(t->ops->manifest_put(t->m, &elsewhere, NULL, &err));

    ASSERT_OK(t->ops->referrers(t->m, "r", &subj, NULL, collect_referrer, &b, &err));
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
    ASSERT_OK(t->ops->referrers(t->m, "r", &subj, "application/x-sig", collect_referrer, &b, &err));
    ASSERT_TRUE(strncmp(berth_buf_str(&b), "32:", 3) == 0);
    ASSERT_TRUE(strstr(berth_buf_str(&b), ";33:") != NULL);
    ASSERT_TRUE(strstr(berth_buf_str(&b), "31:") == NULL);
    berth_buf_reset(&b);
    ASSERT_OK(t->ops->referrers(t->m, "r", &subj, "application/none", collect_referrer, &b, &err));
    ASSERT_EQ_STR(berth_buf_str(&b), "");
    ASSERT_OK(t->ops->referrers(t->m, "r", &other, NULL, collect_referrer, &b, &err));
    ASSERT_EQ_STR(berth_buf_str(&b), "");
    ASSERT_OK(t->ops->referrers(t->m, "nope", &subj, NULL, collect_referrer, &b, &err));
    ASSERT_EQ_STR(berth_buf_str(&b), "");
    /* the subject need not exist */
    ASSERT_OK(t->ops->referrers(t->m, "q", &subj, NULL, collect_referrer, &b, &err));
    ASSERT_TRUE(strncmp(berth_buf_str(&b), "32:", 3) == 0);
    berth_buf_release(&b);
}

SHARED_TEST(meta_uploads)
{
    struct berth_err err = BERTH_ERR_INIT;
    struct berth_buf b = BERTH_BUF_INIT(0);
    char repo[BERTH_NAME_MAX + 1], tiny[3];
    int64_t created = 0;

    ASSERT_RC(t->ops->upload_get(t->m, "u1", repo, sizeof(repo), &created, &err), BERTH_EUPLOADUNKNOWN);
    ASSERT_OK(t->ops->upload_put(t->m, "u2", "lib/b", 2000, &err));
    ASSERT_OK(t->ops->upload_put(t->m, "u1", "lib/a", 1000, &err));
    ASSERT_OK(t->ops->upload_get(t->m, "u1", repo, sizeof(repo), &created, &err));
    ASSERT_EQ_STR(repo, "lib/a");
    ASSERT_EQ_INT(created, 1000);
    ASSERT_OK(t->ops->upload_get(t->m, "u2", NULL, 0, NULL, &err));
    ASSERT_RC(t->ops->upload_get(t->m, "u2", tiny, sizeof(tiny), &created, &err), BERTH_EINTERNAL);
    ASSERT_OK(t->ops->upload_list(t->m, collect, &b, &err));
    ASSERT_EQ_STR(berth_buf_str(&b), "u1,u2,");
    ASSERT_OK(t->ops->upload_delete(t->m, "u1", &err));
    ASSERT_RC(t->ops->upload_delete(t->m, "u1", &err), BERTH_EUPLOADUNKNOWN);
    ASSERT_RC(t->ops->upload_get(t->m, "u1", repo, sizeof(repo), &created, &err), BERTH_EUPLOADUNKNOWN);
    berth_buf_reset(&b);
    ASSERT_OK(t->ops->upload_list(t->m, collect, &b, &err));
    ASSERT_EQ_STR(berth_buf_str(&b), "u2,");
    /* sessions do not create repositories */
    ASSERT_RC(t->ops->repo_exists(t->m, "lib/b", &err), BERTH_ENAMEUNKNOWN);
    berth_buf_release(&b);
}

SHARED_TEST(meta_gc_untagged_removed_tagged_kept)
{
    struct berth_err err = BERTH_ERR_INIT;
    struct berth_digest a = dg(0xaaaa), b = dg(0xbbbb);
    struct berth_meta_manifest ma = man("r", &a), mb = man("r", &b);
    int64_t cutoff;

    ASSERT_OK(t->ops->manifest_put(t->m, &ma, "latest", &err));
    ASSERT_OK(t->ops->manifest_put(t->m, &mb, NULL, &err));
    cutoff = tick();
    ASSERT_EQ_STR(gc_run(t, cutoff, 0), "r@bbbb,");
    ASSERT_TRUE(has_manifest(t, "r", &a));
    ASSERT_TRUE(!has_manifest(t, "r", &b));
    ASSERT_EQ_STR(gc_run(t, cutoff, 0), "");
    /* untagging makes it collectable */
    ASSERT_OK(t->ops->tag_delete(t->m, "r", "latest", &err));
    ASSERT_EQ_STR(gc_run(t, cutoff, 0), "r@aaaa,");
    ASSERT_OK(t->ops->repo_exists(t->m, "r", &err));
}

SHARED_TEST(meta_gc_keeps_children_of_kept_index)
{
    struct berth_err err = BERTH_ERR_INIT;
    struct berth_digest c1 = dg(0xc001), c2 = dg(0xc002), idx = dg(0x1d01), idx2 = dg(0x1d02);
    struct berth_digest kids[2] = {c1, c2};
    struct berth_meta_manifest m1 = man("r", &c1), m2 = man("r", &c2), im = man("r", &idx), im2 = man("r", &idx2);
    int64_t cutoff;

    im.media_type = im2.media_type = BERTH_MT_OCI_INDEX;
    im.children = kids;
    im.nchildren = 2;
    im2.children = kids;
    im2.nchildren = 1;
    ASSERT_OK(t->ops->manifest_put(t->m, &m1, NULL, &err));
    ASSERT_OK(t->ops->manifest_put(t->m, &m2, NULL, &err));
    ASSERT_OK(t->ops->manifest_put(t->m, &im, "latest", &err));
    ASSERT_OK(t->ops->manifest_put(t->m, &im2, NULL, &err)); /* untagged index over c1 */
    cutoff = tick();
    /* im2 goes; c1 is still a child of the tagged index */
    ASSERT_EQ_STR(gc_run(t, cutoff, 0), "r@1d02,");
    ASSERT_TRUE(has_manifest(t, "r", &c1));
    ASSERT_TRUE(has_manifest(t, "r", &c2));
    /* untag the index: it and then its children go, in one gc */
    ASSERT_OK(t->ops->tag_delete(t->m, "r", "latest", &err));
    ASSERT_EQ_STR(gc_run(t, cutoff, 0), "r@1d01,r@c001,r@c002,");
    ASSERT_TRUE(!has_manifest(t, "r", &c1));
}

SHARED_TEST(meta_gc_referrer_follows_subject)
{
    struct berth_err err = BERTH_ERR_INIT;
    struct berth_digest s = dg(0x5555), sig = dg(0x5151), sigsig = dg(0x5252), orphan = dg(0x0f0f);
    struct berth_meta_manifest ms = man("r", &s), m1 = man("r", &sig), m2 = man("r", &sigsig);
    struct berth_meta_manifest mo = man("r", &orphan);
    struct berth_digest absent = dg(0xdead);
    int64_t cutoff;

    m1.subject = &s;
    m2.subject = &sig; /* a referrer of a referrer */
    mo.subject = &absent;
    ASSERT_OK(t->ops->manifest_put(t->m, &ms, "latest", &err));
    ASSERT_OK(t->ops->manifest_put(t->m, &m1, NULL, &err));
    ASSERT_OK(t->ops->manifest_put(t->m, &m2, NULL, &err));
    ASSERT_OK(t->ops->manifest_put(t->m, &mo, NULL, &err));
    cutoff = tick();
    /* untagged referrers stay while their subject exists; one whose subject is absent goes */
    ASSERT_EQ_STR(gc_run(t, cutoff, 0), "r@0f0f,");
    ASSERT_TRUE(has_manifest(t, "r", &sig));
    ASSERT_TRUE(has_manifest(t, "r", &sigsig));
    ASSERT_OK(t->ops->manifest_delete(t->m, "r", &s, &err));
    ASSERT_EQ_STR(gc_run(t, cutoff, 0), "r@5151,r@5252,");
    ASSERT_TRUE(!has_manifest(t, "r", &sig));
}

SHARED_TEST(meta_gc_respects_cutoff)
{
    struct berth_err err = BERTH_ERR_INIT;
    struct berth_digest old = dg(0x01d0), young = dg(0x0e11), blob_old = dg(0xb0), blob_young = dg(0xb1);
    struct berth_meta_manifest mo = man("r", &old), my = man("r", &young);
    int64_t cutoff, later;

    ASSERT_OK(t->ops->blob_link(t->m, "r", &blob_old, 1, &err));
    ASSERT_OK(t->ops->manifest_put(t->m, &mo, NULL, &err));
    cutoff = tick();
    ASSERT_OK(t->ops->blob_link(t->m, "r", &blob_young, 1, &err));
    ASSERT_OK(t->ops->manifest_put(t->m, &my, NULL, &err));
    later = tick();
    ASSERT_EQ_STR(gc_run(t, cutoff, 0), "r@01d0,");
    ASSERT_TRUE(has_manifest(t, "r", &young));
    ASSERT_TRUE(!linked(t, "r", &blob_old));
    ASSERT_TRUE(linked(t, "r", &blob_young));
    /* putting a manifest again renews it, as linking renews a blob */
    ASSERT_OK(t->ops->manifest_put(t->m, &my, NULL, &err));
    ASSERT_OK(t->ops->blob_link(t->m, "r", &blob_young, 1, &err));
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
    struct berth_meta_manifest ma = man("r", &a), mb = man("q", &b);
    struct berth_buf ubuf = BERTH_BUF_INIT(0);
    int used = -1;

    ASSERT_OK(t->ops->blob_link(t->m, "r", &cfg, 1, &err));
    ASSERT_OK(t->ops->blob_link(t->m, "r", &layer, 1, &err));
    ASSERT_OK(t->ops->blob_link(t->m, "r", &loose, 1, &err));
    ASSERT_OK(t->ops->blob_link(t->m, "q", &cfg, 1, &err));
    ASSERT_OK(t->ops->blob_link(t->m, "q", &layer, 1, &err));
    ma.blobs = mb.blobs = blobs;
    ma.nblobs = 2;
    mb.nblobs = 1;
    ASSERT_OK(t->ops->manifest_put(t->m, &ma, "latest", &err));
    ASSERT_OK(t->ops->manifest_put(t->m, &mb, "latest", &err));
    /* nothing is old enough yet */
    ASSERT_OK(t->ops->gc(t->m, berth_now_ms() - 60000, 0, collect_gc, collect_gc, &ubuf, &err));
    ASSERT_EQ_STR(berth_buf_str(&ubuf), "");
    /* referenced links stay; a link is judged per repository */
    ASSERT_OK(t->ops->gc(t->m, tick(), 0, collect_gc, collect_gc, &ubuf, &err));
    ASSERT_EQ_STR(berth_buf_str(&ubuf), "r@1005,q@1a1a,");
    ASSERT_TRUE(linked(t, "r", &cfg) && linked(t, "r", &layer) && linked(t, "q", &cfg));
    ASSERT_TRUE(!linked(t, "q", &layer) && !linked(t, "r", &loose));
    ASSERT_OK(t->ops->blob_in_use(t->m, &layer, &used, &err));
    ASSERT_EQ_INT(used, 1);
    ASSERT_OK(t->ops->blob_in_use(t->m, &loose, &used, &err));
    ASSERT_EQ_INT(used, 0);
    /* once the manifest goes, its blobs follow in the same run */
    berth_buf_reset(&ubuf);
    ASSERT_OK(t->ops->tag_delete(t->m, "r", "latest", &err));
    ASSERT_OK(t->ops->gc(t->m, tick(), 0, collect_gc, collect_gc, &ubuf, &err));
    ASSERT_EQ_STR(berth_buf_str(&ubuf), "r@aaaa,r@1a1a,r@c0f0,");
    ASSERT_OK(t->ops->blob_in_use(t->m, &cfg, &used, &err));
    ASSERT_EQ_INT(used, 1); /* still q's */
    ASSERT_OK(t->ops->blob_in_use(t->m, &layer, &used, &err));
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
    struct berth_meta_manifest m1 = man("r", &c1), im = man("r", &idx);
    struct berth_buf b = BERTH_BUF_INIT(0);
    int64_t cutoff;

    ASSERT_OK(t->ops->blob_link(t->m, "r", &loose, 1, &err));
    ASSERT_OK(t->ops->blob_link(t->m, "r", &layer, 1, &err));
    m1.blobs = &layer;
    m1.nblobs = 1;
    im.children = &c1;
    im.nchildren = 1;
    ASSERT_OK(t->ops->manifest_put(t->m, &m1, NULL, &err));
    ASSERT_OK(t->ops->manifest_put(t->m, &im, NULL, &err));
    cutoff = tick();
    /* the dry run sees the whole cascade, as a real run would */
    ASSERT_OK(t->ops->gc(t->m, cutoff, 1, collect_gc, collect_gc, &b, &err));
    ASSERT_EQ_STR(berth_buf_str(&b), "r@1d01,r@c001,r@1005,r@1a1a,");
    ASSERT_TRUE(has_manifest(t, "r", &idx) && has_manifest(t, "r", &c1));
    ASSERT_TRUE(linked(t, "r", &loose) && linked(t, "r", &layer));
    ASSERT_OK(t->ops->gc(t->m, cutoff, 1, NULL, NULL, NULL, &err));
    ASSERT_TRUE(has_manifest(t, "r", &idx));
    /* a callback that stops keeps what was done before it */
    berth_buf_reset(&b);
    ASSERT_OK(t->ops->gc(t->m, cutoff, 0, stop_gc, stop_gc, &b, &err));
    ASSERT_EQ_STR(berth_buf_str(&b), "r@1d01,");
    ASSERT_TRUE(!has_manifest(t, "r", &idx) && has_manifest(t, "r", &c1));
    ASSERT_TRUE(linked(t, "r", &loose));
    berth_buf_reset(&b);
    ASSERT_OK(t->ops->gc(t->m, cutoff, 0, collect_gc, collect_gc, &b, &err));
    ASSERT_EQ_STR(berth_buf_str(&b), "r@c001,r@1005,r@1a1a,");
    berth_buf_release(&b);
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
        struct berth_meta_manifest mf = man(repo, &d);
        struct berth_ref byt = tag_ref(tag), byd = digest_ref(&d);
        size_t len;
        enum berth_rc rc;
        const char *step = "link";

        mf.blobs = &blob;
        mf.nblobs = 1;
        rc = t->ops->blob_link(t->m, repo, &blob, 10, &err);
        if (!rc) {
            step = "put";
            rc = t->ops->manifest_put(t->m, &mf, tag, &err);
        }
        berth_buf_reset(&buf);
        if (!rc) {
            step = "get tag";
            rc = t->ops->manifest_get(t->m, repo, &byt, &buf, &len, mt, sizeof(mt), &got, &err);
        }
        if (!rc && strcmp(got.s, d.s) != 0) rc = berth_err_set(&err, BERTH_EINTERNAL, "tag points at %s", got.s);
        if (!rc) {
            step = "get digest";
            rc = t->ops->manifest_get(t->m, repo, &byd, &buf, &len, mt, sizeof(mt), &got, &err);
        }
        if (!rc && (buf.len != 2 * strlen(d.s) || memcmp(buf.p, d.s, strlen(d.s)) != 0))
            rc = berth_err_set(&err, BERTH_EINTERNAL, "payload differs");
        if (!rc) {
            step = "linked";
            rc = t->ops->blob_linked(t->m, repo, &blob, NULL, &err);
        }
        if (!rc) {
            step = "upload";
            rc = t->ops->upload_put(t->m, d.s, repo, i, &err);
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

SHARED_TEST(meta_reopen_keeps_everything)
{
    struct berth_err err = BERTH_ERR_INIT;
    struct berth_digest blob = dg(0xb), d = dg(0xd), s = dg(0x5);
    struct berth_meta_manifest mf = man("keep/me", &d), ms = man("keep/me", &s);
    struct berth_buf b = BERTH_BUF_INIT(0);
    struct berth_ref byt = tag_ref("v1");
    char repo[BERTH_NAME_MAX + 1], mt[128];
    int64_t size = 0, created = 0;
    size_t len = 0;
    int more;

    ASSERT_OK(t->ops->blob_link(t->m, "keep/me", &blob, 77, &err));
    mf.blobs = &blob;
    mf.nblobs = 1;
    mf.subject = &s;
    mf.artifact_type = "application/x-a";
    ASSERT_OK(t->ops->manifest_put(t->m, &ms, NULL, &err));
    ASSERT_OK(t->ops->manifest_put(t->m, &mf, "v1", &err));
    ASSERT_OK(t->ops->upload_put(t->m, "u", "keep/me", 123, &err));
    t->ops->close(t->m);
    t->m = NULL;

    ASSERT_OK(t->ops->open(t->dsn, &t->m, &err));
    ASSERT_EQ_STR(repos_of(t, NULL, 10, &more), "keep/me,");
    ASSERT_EQ_STR(tags_of(t, "keep/me", NULL, 10, &more), "v1,");
    ASSERT_OK(t->ops->blob_linked(t->m, "keep/me", &blob, &size, &err));
    ASSERT_EQ_INT(size, 77);
    ASSERT_OK(t->ops->manifest_get(t->m, "keep/me", &byt, &b, &len, mt, sizeof(mt), NULL, &err));
    ASSERT_EQ_STR(berth_buf_str(&b), d.s);
    berth_buf_reset(&b);
    ASSERT_OK(t->ops->referrers(t->m, "keep/me", &s, "application/x-a", collect_referrer, &b, &err));
    ASSERT_TRUE(strncmp(berth_buf_str(&b), "0d:", 3) == 0);
    ASSERT_OK(t->ops->upload_get(t->m, "u", repo, sizeof(repo), &created, &err));
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

    ASSERT_OK(berth_meta_sqlite_ops.open(path, &m, &err));
    berth_meta_sqlite_ops.close(m);
    m = NULL;
    ASSERT_EQ_INT(db_user_version(path), 1);
    /* reopening applies nothing and keeps the version */
    ASSERT_OK(berth_meta_sqlite_ops.open(path, &m, &err));
    berth_meta_sqlite_ops.close(m);
    m = NULL;
    ASSERT_EQ_INT(db_user_version(path), 1);
    ASSERT_EQ_INT(db_exec(path, "PRAGMA user_version = 99"), SQLITE_OK);
    ASSERT_RC(berth_meta_sqlite_ops.open(path, &m, &err), BERTH_EDB);
    ASSERT_TRUE(m == NULL);
    ASSERT_TRUE(strstr(err.msg, "schema version 99") != NULL);
    ASSERT_TRUE(strstr(err.msg, "newer berth") != NULL);
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
    ASSERT_OK(berth_meta_sqlite_ops.blob_link(m, "r", &b, 1, &err));
    ASSERT_EQ_INT(access(wal, F_OK), 0);
    berth_meta_sqlite_ops.close(m);
    free(wal);
    free(path);
}

TEST(meta_sqlite_bad_magic_aborts)
{
    struct berth_meta fake = {0x12345678u, &berth_meta_sqlite_ops};
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
        struct berth_meta_manifest mf = man("r", &d);
        if (berth_meta_sqlite_ops.open(path, &m, &err) || berth_meta_sqlite_ops.manifest_put(m, &mf, "v1", &err))
            _exit(2);
        kill(getpid(), SIGKILL); /* no close, no checkpoint */
        _exit(3);
    }
    ASSERT_TRUE(pid > 0);
    ASSERT_EQ_INT(waitpid(pid, &status, 0), pid);
    ASSERT_TRUE(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL);
    ASSERT_OK(berth_meta_sqlite_ops.open(path, &m, &err));
    {
        struct t t = {&drivers[0], &berth_meta_sqlite_ops, m, path};
        ASSERT_EQ_STR(tagged(&t, "r", "v1"), d.s);
    }
    berth_meta_sqlite_ops.close(m);
    free(path);
}
