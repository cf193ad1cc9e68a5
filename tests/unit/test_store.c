/*
 * test_store.c - the blob store: one suite run over every driver in
 * drivers[], then the filesystem driver's own layout and crash behaviour.
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>
#include "alloc.h"
#include "store.h"
#include "util.h"
#include "test.h"
#include "banned.h"

/* ---- helpers ---- */

/* Per driver: how to make a blob look old (NULL if the driver cannot). */
struct suite_driver {
    const struct berth_blobstore_ops *ops;
    void (*backdate)(const char *root, const struct berth_digest *d, int64_t mtime_s);
};

static void fs_backdate(const char *root, const struct berth_digest *d, int64_t mtime_s);

static const struct suite_driver drivers[] = {
    {&berth_blobstore_fs_ops, fs_backdate},
};

#define NDRIVERS (sizeof(drivers) / sizeof(drivers[0]))

/* Commits here pass BERTH_COMMIT_VERIFIED, so any valid digest text will do. */
static void digest_set(struct berth_digest *d, enum berth_digest_alg alg, const char *hex)
{
    memset(d, 0, sizeof(*d));
    d->alg = alg;
    snprintf(d->s, sizeof(d->s), "%s:%s", alg == BERTH_DIGEST_SHA256 ? "sha256" : "sha512", hex);
}

static void digest_random(struct berth_digest *d, enum berth_digest_alg alg)
{
    unsigned char b[64];
    char hex[129];
    size_t n = alg == BERTH_DIGEST_SHA256 ? 32 : 64;

    berth_random(b, n);
    berth_hex(b, n, hex);
    digest_set(d, alg, hex);
}

static const char *hex_of(const struct berth_digest *d)
{
    return strchr(d->s, ':') + 1;
}

static char *store_root(const struct suite_driver *drv)
{
    return berth_xasprintf("%s/%s/store", berth_test_tmpdir(), drv->ops->name);
}

static struct berth_blobstore *store_open(const struct suite_driver *drv, const char *root, int fsync_on)
{
    struct berth_blobstore_opts opts = {fsync_on, 0};
    struct berth_blobstore *bs = NULL;
    struct berth_err err = BERTH_ERR_INIT;
    enum berth_rc rc = drv->ops->open(root, &opts, &bs, &err);

    if (rc) BERTH_TEST_FAIL("open %s: %s", root, berth_err_msg(&err));
    ASSERT_TRUE(bs != NULL);
    return bs;
}

static void write_all(int fd, const char *s)
{
    size_t n = strlen(s);
    while (n) {
        ssize_t w = write(fd, s, n);
        if (w < 0 && errno == EINTR) continue;
        ASSERT_TRUE(w > 0);
        s += w;
        n -= (size_t)w;
    }
}

/* Reads fd from offset 0 into a NUL-terminated buffer of cap bytes. */
static void read_all(int fd, char *buf, size_t cap)
{
    size_t got = 0;
    for (;;) {
        ssize_t r = pread(fd, buf + got, cap - 1 - got, (off_t)got);
        if (r < 0 && errno == EINTR) continue;
        ASSERT_TRUE(r >= 0);
        if (r == 0) break;
        got += (size_t)r;
        ASSERT_TRUE(got < cap - 1);
    }
    buf[got] = '\0';
}

/* Reads a reader whole, in 3-byte steps to cross many offsets, into a NUL-terminated buffer. */
static void reader_all(struct berth_blob_reader *r, char *buf, size_t cap)
{
    struct berth_err err = BERTH_ERR_INIT;
    uint64_t off = 0;
    size_t n;

    for (;;) {
        ASSERT_TRUE(off + 3 < cap);
        ASSERT_RC(berth_blob_reader_read_at(r, off, buf + off, 3, &n, &err), BERTH_OK);
        off += n;
        if (n < 3) break;
    }
    ASSERT_EQ_U64(off, r->size);
    buf[off] = '\0';
}

/* The digest of content under alg. */
static void digest_of(struct berth_digest *d, enum berth_digest_alg alg, const char *content)
{
    struct berth_hasher h;

    berth_hasher_init(&h, alg);
    berth_hasher_update(&h, content, strlen(content));
    berth_hasher_final(&h, d);
    berth_hasher_release(&h);
}

/* A writer on a new upload uuid holding content. */
static struct berth_upload_writer *upload_new(struct berth_blobstore *bs, const char *uuid, const char *content)
{
    struct berth_err err = BERTH_ERR_INIT;
    struct berth_upload_writer *w = NULL;

    ASSERT_RC(bs->ops->upload_create(bs, uuid, &w, &err), BERTH_OK);
    ASSERT_TRUE(w != NULL);
    ASSERT_EQ_STR(w->id, uuid);
    ASSERT_EQ_U64(w->size, 0);
    ASSERT_RC(berth_upload_writer_append(w, content, strlen(content), &err), BERTH_OK);
    ASSERT_EQ_U64(w->size, strlen(content));
    return w;
}

/* Creates upload uuid holding content. */
static void upload_put(struct berth_blobstore *bs, const char *uuid, const char *content)
{
    berth_upload_writer_close(upload_new(bs, uuid, content), NULL);
}

/* Continues upload uuid where it is and commits it as d (whose text need not match: VERIFIED). */
static enum berth_rc upload_commit_id(struct berth_blobstore *bs, const char *uuid, const struct berth_digest *d,
                                      struct berth_err *err)
{
    struct berth_upload_state st = BERTH_UPLOAD_STATE_INIT;
    struct berth_upload_writer *w = NULL;
    enum berth_rc rc;

    snprintf(st.id, sizeof(st.id), "%s", uuid ? uuid : "");
    rc = bs->ops->upload_stat(bs, uuid, &st.size, err);
    if (!rc) rc = bs->ops->upload_resume(bs, &st, &w, err);
    if (!rc) rc = berth_upload_writer_commit(w, d, BERTH_COMMIT_VERIFIED, err);
    berth_upload_writer_close(w, NULL);
    return rc;
}

/* Commits content as blob d through a fresh upload. */
static void blob_put(struct berth_blobstore *bs, const struct berth_digest *d, const char *content)
{
    struct berth_err err = BERTH_ERR_INIT;
    struct berth_upload_writer *w;
    char uuid[37];

    berth_uuid(uuid);
    w = upload_new(bs, uuid, content);
    ASSERT_RC(berth_upload_writer_commit(w, d, BERTH_COMMIT_VERIFIED, &err), BERTH_OK);
    berth_upload_writer_close(w, NULL);
}

/* The upload's bytes, read back through upload_open_reader. */
static void expect_upload(struct berth_blobstore *bs, const char *uuid, const char *content)
{
    struct berth_err err = BERTH_ERR_INIT;
    struct berth_blob_reader *r = NULL;
    uint64_t size = 99;
    char buf[256];

    ASSERT_RC(bs->ops->upload_stat(bs, uuid, &size, &err), BERTH_OK);
    ASSERT_EQ_U64(size, strlen(content));
    ASSERT_RC(bs->ops->upload_open_reader(bs, uuid, &r, &err), BERTH_OK);
    ASSERT_EQ_U64(r->size, strlen(content));
    reader_all(r, buf, sizeof(buf));
    berth_blob_reader_close(r);
    ASSERT_EQ_STR(buf, content);
}

/* The blob d holds content: by stat, by read_at and, where the driver has one, through its fd. */
static void expect_blob(struct berth_blobstore *bs, const struct berth_digest *d, const char *content)
{
    struct berth_err err = BERTH_ERR_INIT;
    struct berth_blob_reader *r = NULL;
    uint64_t size = 0;
    char buf[256];
    int fd;

    ASSERT_RC(bs->ops->stat(bs, d, &size, &err), BERTH_OK);
    ASSERT_EQ_U64(size, strlen(content));
    ASSERT_RC(bs->ops->open_reader(bs, d, &r, &err), BERTH_OK);
    ASSERT_EQ_U64(r->size, strlen(content));
    reader_all(r, buf, sizeof(buf));
    ASSERT_EQ_STR(buf, content);
    fd = berth_blob_reader_take_fd(r);
    berth_blob_reader_close(r);
    if (fd >= 0) {
        read_all(fd, buf, sizeof(buf));
        close(fd);
        ASSERT_EQ_STR(buf, content);
    }
}

#define MAX_SEEN 64

struct seen {
    int n;
    int stop_after; /* 0: never stop */
    char name[MAX_SEEN][BERTH_DIGEST_STR_MAX];
    uint64_t size[MAX_SEEN];
    int64_t mtime[MAX_SEEN];
};

static int seen_blob(const struct berth_digest *d, uint64_t size, int64_t mtime_s, void *ctx)
{
    struct seen *s = ctx;
    if (s->n >= MAX_SEEN) abort();
    snprintf(s->name[s->n], sizeof(s->name[0]), "%s", d->s);
    s->size[s->n] = size;
    s->mtime[s->n] = mtime_s;
    s->n++;
    return s->stop_after && s->n >= s->stop_after;
}

static int seen_upload(const char *uuid, uint64_t size, int64_t mtime_s, void *ctx)
{
    struct seen *s = ctx;
    if (s->n >= MAX_SEEN) abort();
    snprintf(s->name[s->n], sizeof(s->name[0]), "%s", uuid);
    s->size[s->n] = size;
    s->mtime[s->n] = mtime_s;
    s->n++;
    return s->stop_after && s->n >= s->stop_after;
}

/* Index of name in s, -1 if absent; fails if it was reported twice. */
static int seen_find(const struct seen *s, const char *name)
{
    int i, at = -1;
    for (i = 0; i < s->n; i++) {
        if (strcmp(s->name[i], name) != 0) continue;
        if (at >= 0) BERTH_TEST_FAIL("%s reported twice", name);
        at = i;
    }
    return at;
}

static void list_blobs(struct berth_blobstore *bs, struct seen *s)
{
    struct berth_err err = BERTH_ERR_INIT;
    int stop_after = s->stop_after;

    memset(s, 0, sizeof(*s));
    s->stop_after = stop_after;
    ASSERT_RC(bs->ops->list(bs, seen_blob, s, &err), BERTH_OK);
}

static void list_uploads(struct berth_blobstore *bs, struct seen *s)
{
    struct berth_err err = BERTH_ERR_INIT;
    int stop_after = s->stop_after;

    memset(s, 0, sizeof(*s));
    s->stop_after = stop_after;
    ASSERT_RC(bs->ops->upload_list(bs, seen_upload, s, &err), BERTH_OK);
}

/* ---- the shared suite, run against every driver ---- */

TEST(store_driver_lookup)
{
    ASSERT_TRUE(berth_blobstore_driver("fs") == &berth_blobstore_fs_ops);
    ASSERT_TRUE(berth_blobstore_driver("nope") == NULL);
    ASSERT_TRUE(berth_blobstore_driver("") == NULL);
    ASSERT_TRUE(berth_blobstore_driver(NULL) == NULL);
    ASSERT_EQ_STR(berth_blobstore_fs_ops.name, "fs");
}

TEST(store_open_close)
{
    size_t i;
    for (i = 0; i < NDRIVERS; i++) {
        const struct berth_blobstore_ops *ops = drivers[i].ops;
        char *root = store_root(&drivers[i]);
        struct berth_blobstore *bs = store_open(&drivers[i], root, 1);
        struct berth_blobstore *again;
        struct berth_err err = BERTH_ERR_INIT;
        struct seen s = {0};

        ASSERT_TRUE(bs->magic == BERTH_BLOBSTORE_MAGIC);
        ASSERT_TRUE(bs->ops == ops);
        list_blobs(bs, &s);
        ASSERT_EQ_INT(s.n, 0);
        list_uploads(bs, &s);
        ASSERT_EQ_INT(s.n, 0);
        ops->close(bs);
        ops->close(NULL);
        /* Reopening an existing store, twice at once, is fine. */
        bs = store_open(&drivers[i], root, 0);
        again = store_open(&drivers[i], root, 0);
        ops->close(again);
        ops->close(bs);
        ASSERT_RC(ops->open("", NULL, &bs, &err), BERTH_ECONFIG);
        free(root);
    }
}

TEST(store_upload_append_truncate_commit)
{
    size_t i;
    for (i = 0; i < NDRIVERS; i++) {
        const struct berth_blobstore_ops *ops = drivers[i].ops;
        char *root = store_root(&drivers[i]);
        struct berth_blobstore *bs = store_open(&drivers[i], root, 1);
        struct berth_upload_state st = BERTH_UPLOAD_STATE_INIT;
        struct berth_upload_writer *w = NULL, *other = NULL;
        struct berth_err err = BERTH_ERR_INIT;
        struct berth_digest d;
        struct seen s = {0};
        uint64_t size = 0;
        char uuid[37];

        berth_uuid(uuid);
        digest_of(&d, BERTH_DIGEST_SHA256, "hello");
        ASSERT_RC(ops->upload_stat(bs, uuid, &size, &err), BERTH_EUPLOADUNKNOWN);
        w = upload_new(bs, uuid, "hello ");
        ASSERT_RC(ops->upload_create(bs, uuid, &other, &err), BERTH_EEXIST);
        ASSERT_TRUE(other == NULL);
        ASSERT_RC(berth_upload_writer_sync(w, &err), BERTH_OK);
        ASSERT_RC(berth_upload_writer_append(w, "world", 5, &err), BERTH_OK);
        ASSERT_RC(berth_upload_writer_append(w, "", 0, &err), BERTH_OK);
        ASSERT_EQ_U64(w->size, 11);
        expect_upload(bs, uuid, "hello world");

        /* A failed chunk is cut back; the upload never grows by truncate. */
        ASSERT_RC(berth_upload_writer_truncate(w, 5, &err), BERTH_OK);
        ASSERT_EQ_U64(w->size, 5);
        ASSERT_RC(berth_upload_writer_truncate(w, 6, &err), BERTH_EINVAL);
        expect_upload(bs, uuid, "hello");
        ASSERT_RC(berth_upload_writer_append(w, "!", 1, &err), BERTH_OK);
        expect_upload(bs, uuid, "hello!");
        ASSERT_RC(berth_upload_writer_truncate(w, 5, &err), BERTH_OK);

        ASSERT_RC(ops->stat(bs, &d, &size, &err), BERTH_EBLOBUNKNOWN);
        ASSERT_RC(berth_upload_writer_commit(w, &d, 0, &err), BERTH_OK);
        expect_blob(bs, &d, "hello");
        /* After commit the writer only closes. */
        ASSERT_RC(berth_upload_writer_append(w, "x", 1, &err), BERTH_EINVAL);
        ASSERT_RC(berth_upload_writer_commit(w, &d, 0, &err), BERTH_EINVAL);
        berth_upload_writer_close(w, &st);
        berth_upload_state_release(&st);
        expect_blob(bs, &d, "hello");

        /* The upload ended with the commit. */
        ASSERT_RC(ops->upload_stat(bs, uuid, &size, &err), BERTH_EUPLOADUNKNOWN);
        ASSERT_RC(upload_commit_id(bs, uuid, &d, &err), BERTH_EUPLOADUNKNOWN);
        ASSERT_RC(ops->upload_remove(bs, uuid, &err), BERTH_EUPLOADUNKNOWN);
        list_uploads(bs, &s);
        ASSERT_EQ_INT(s.n, 0);

        /* A blob survives closing and reopening the store. */
        ops->close(bs);
        bs = store_open(&drivers[i], root, 1);
        expect_blob(bs, &d, "hello");
        berth_upload_writer_close(NULL, NULL);
        ops->close(bs);
        free(root);
    }
}

/* Without BERTH_COMMIT_VERIFIED the store hashes the bytes and refuses another digest. */
TEST(store_commit_refuses_wrong_digest)
{
    size_t i;
    for (i = 0; i < NDRIVERS; i++) {
        const struct berth_blobstore_ops *ops = drivers[i].ops;
        char *root = store_root(&drivers[i]);
        struct berth_blobstore *bs = store_open(&drivers[i], root, 0);
        struct berth_upload_state st = BERTH_UPLOAD_STATE_INIT;
        struct berth_upload_writer *w;
        struct berth_err err = BERTH_ERR_INIT;
        struct berth_digest wrong, right, right512;
        struct seen s = {0};
        uint64_t size;
        char uuid[37];

        berth_uuid(uuid);
        digest_of(&wrong, BERTH_DIGEST_SHA256, "layer bytez");
        digest_of(&right, BERTH_DIGEST_SHA256, "layer bytes");
        digest_of(&right512, BERTH_DIGEST_SHA512, "layer bytes");
        w = upload_new(bs, uuid, "layer bytes");
        ASSERT_RC(berth_upload_writer_commit(w, &wrong, BERTH_COMMIT_SYNCED, &err), BERTH_EDIGEST);
        ASSERT_TRUE(strstr(err.msg, right.s) != NULL);
        ASSERT_RC(ops->stat(bs, &wrong, &size, &err), BERTH_EBLOBUNKNOWN);
        ASSERT_RC(berth_upload_writer_append(w, "x", 1, &err), BERTH_EINVAL);
        berth_upload_writer_close(w, &st);
        ASSERT_EQ_STR(st.id, uuid);
        ASSERT_EQ_U64(st.size, 11);
        list_blobs(bs, &s);
        ASSERT_EQ_INT(s.n, 0);

        /* The upload is as it was: it continues and commits under its real digest. */
        expect_upload(bs, uuid, "layer bytes");
        ASSERT_RC(ops->upload_resume(bs, &st, &w, &err), BERTH_OK);
        ASSERT_RC(berth_upload_writer_commit(w, &right512, 0, &err), BERTH_OK);
        berth_upload_writer_close(w, NULL);
        expect_blob(bs, &right512, "layer bytes");
        berth_upload_state_release(&st);

        /* An empty upload, and a known blob: both checked too. */
        berth_uuid(uuid);
        w = upload_new(bs, uuid, "layer bytes");
        ASSERT_RC(berth_upload_writer_commit(w, &right, 0, &err), BERTH_OK);
        berth_upload_writer_close(w, NULL);
        berth_uuid(uuid);
        w = upload_new(bs, uuid, "layer bytes!");
        ASSERT_RC(berth_upload_writer_commit(w, &right, 0, &err), BERTH_EDIGEST);
        berth_upload_writer_close(w, NULL);
        expect_upload(bs, uuid, "layer bytes!");
        expect_blob(bs, &right, "layer bytes");
        berth_uuid(uuid);
        w = upload_new(bs, uuid, "");
        digest_of(&right, BERTH_DIGEST_SHA256, "");
        ASSERT_RC(berth_upload_writer_commit(w, &right, 0, &err), BERTH_OK);
        berth_upload_writer_close(w, NULL);
        expect_blob(bs, &right, "");
        ops->close(bs);
        free(root);
    }
}

/* A later writer continues an upload at the size its state recorded. */
TEST(store_upload_resume)
{
    size_t i;
    for (i = 0; i < NDRIVERS; i++) {
        const struct berth_blobstore_ops *ops = drivers[i].ops;
        char *root = store_root(&drivers[i]);
        struct berth_blobstore *bs = store_open(&drivers[i], root, 1);
        struct berth_upload_state st = BERTH_UPLOAD_STATE_INIT, st2 = BERTH_UPLOAD_STATE_INIT;
        struct berth_upload_writer *w = NULL;
        struct berth_err err = BERTH_ERR_INIT;
        struct berth_digest d;
        char uuid[37];

        berth_uuid(uuid);
        w = upload_new(bs, uuid, "abc");
        berth_upload_writer_close(w, &st);
        ASSERT_EQ_STR(st.id, uuid);
        ASSERT_EQ_U64(st.size, 3);

        ASSERT_RC(ops->upload_resume(bs, &st, &w, &err), BERTH_OK);
        ASSERT_EQ_STR(w->id, uuid);
        ASSERT_EQ_U64(w->size, 3);
        ASSERT_RC(berth_upload_writer_append(w, "def", 3, &err), BERTH_OK);
        berth_upload_writer_close(w, &st2);
        ASSERT_EQ_U64(st2.size, 6);
        expect_upload(bs, uuid, "abcdef");

        /* The state said 3 bytes: what lies beyond (a chunk that failed half-way) is cut off. */
        ASSERT_RC(ops->upload_resume(bs, &st, &w, &err), BERTH_OK);
        ASSERT_EQ_U64(w->size, 3);
        expect_upload(bs, uuid, "abc");
        ASSERT_RC(berth_upload_writer_append(w, "DEF", 3, &err), BERTH_OK);
        berth_upload_writer_close(w, NULL);
        expect_upload(bs, uuid, "abcDEF");

        /* A state that claims more than the store holds: bytes were lost, no continuing. */
        st.size = 7;
        w = NULL;
        ASSERT_RC(ops->upload_resume(bs, &st, &w, &err), BERTH_EIO);
        ASSERT_TRUE(w == NULL);
        expect_upload(bs, uuid, "abcDEF");

        st2.size = 6;
        ASSERT_RC(ops->upload_resume(bs, &st2, &w, &err), BERTH_OK);
        digest_of(&d, BERTH_DIGEST_SHA256, "abcDEF");
        ASSERT_RC(berth_upload_writer_sync(w, &err), BERTH_OK);
        ASSERT_RC(berth_upload_writer_commit(w, &d, BERTH_COMMIT_SYNCED, &err), BERTH_OK);
        berth_upload_writer_close(w, NULL);
        expect_blob(bs, &d, "abcDEF");

        /* Gone with the commit; an unknown id; no state at all. */
        w = NULL;
        ASSERT_RC(ops->upload_resume(bs, &st2, &w, &err), BERTH_EUPLOADUNKNOWN);
        berth_uuid(st2.id);
        ASSERT_RC(ops->upload_resume(bs, &st2, &w, &err), BERTH_EUPLOADUNKNOWN);
        ASSERT_RC(ops->upload_resume(bs, NULL, &w, &err), BERTH_EUPLOADUNKNOWN);
        ASSERT_TRUE(w == NULL);
        berth_upload_state_release(&st);
        berth_upload_state_release(&st2);
        ops->close(bs);
        free(root);
    }
}

TEST(store_upload_stat)
{
    size_t i;
    for (i = 0; i < NDRIVERS; i++) {
        const struct berth_blobstore_ops *ops = drivers[i].ops;
        char *root = store_root(&drivers[i]);
        struct berth_blobstore *bs = store_open(&drivers[i], root, 0);
        struct berth_upload_writer *w;
        struct berth_err err = BERTH_ERR_INIT;
        uint64_t size = 99;
        char uuid[37];

        berth_uuid(uuid);
        ASSERT_RC(ops->upload_stat(bs, uuid, &size, &err), BERTH_EUPLOADUNKNOWN);
        ASSERT_EQ_U64(size, 99);
        w = upload_new(bs, uuid, "");
        ASSERT_RC(ops->upload_stat(bs, uuid, &size, &err), BERTH_OK);
        ASSERT_EQ_U64(size, 0);
        ASSERT_RC(berth_upload_writer_append(w, "12345", 5, &err), BERTH_OK);
        ASSERT_RC(ops->upload_stat(bs, uuid, &size, &err), BERTH_OK);
        ASSERT_EQ_U64(size, 5);
        ASSERT_RC(berth_upload_writer_truncate(w, 2, &err), BERTH_OK);
        ASSERT_RC(ops->upload_stat(bs, uuid, &size, &err), BERTH_OK);
        ASSERT_EQ_U64(size, 2);
        berth_upload_writer_close(w, NULL);
        ASSERT_RC(ops->upload_stat(bs, uuid, &size, &err), BERTH_OK);
        ASSERT_EQ_U64(size, 2);
        ASSERT_RC(ops->upload_remove(bs, uuid, &err), BERTH_OK);
        ASSERT_RC(ops->upload_stat(bs, uuid, &size, &err), BERTH_EUPLOADUNKNOWN);
        ASSERT_RC(ops->upload_stat(bs, "../blobs", &size, &err), BERTH_EUPLOADUNKNOWN);
        ops->close(bs);
        free(root);
    }
}

TEST(store_reader_read_at)
{
    size_t i;
    for (i = 0; i < NDRIVERS; i++) {
        const struct berth_blobstore_ops *ops = drivers[i].ops;
        char *root = store_root(&drivers[i]);
        struct berth_blobstore *bs = store_open(&drivers[i], root, 0);
        struct berth_blob_reader *r = NULL;
        struct berth_err err = BERTH_ERR_INIT;
        struct berth_digest d;
        char buf[32];
        size_t n = 99;
        int fd;

        digest_random(&d, BERTH_DIGEST_SHA256);
        blob_put(bs, &d, "0123456789");
        ASSERT_RC(ops->open_reader(bs, &d, &r, &err), BERTH_OK);
        ASSERT_EQ_U64(r->size, 10);
        ASSERT_TRUE(r->url == NULL); /* no redirect from the fs driver */

        ASSERT_RC(berth_blob_reader_read_at(r, 0, buf, 4, &n, &err), BERTH_OK);
        ASSERT_EQ_U64(n, 4);
        ASSERT_TRUE(memcmp(buf, "0123", 4) == 0);
        ASSERT_RC(berth_blob_reader_read_at(r, 3, buf, 2, &n, &err), BERTH_OK);
        ASSERT_EQ_U64(n, 2);
        ASSERT_TRUE(memcmp(buf, "34", 2) == 0);
        /* Short only at the end, nothing at or past it. */
        ASSERT_RC(berth_blob_reader_read_at(r, 7, buf, sizeof(buf), &n, &err), BERTH_OK);
        ASSERT_EQ_U64(n, 3);
        ASSERT_TRUE(memcmp(buf, "789", 3) == 0);
        ASSERT_RC(berth_blob_reader_read_at(r, 10, buf, sizeof(buf), &n, &err), BERTH_OK);
        ASSERT_EQ_U64(n, 0);
        ASSERT_RC(berth_blob_reader_read_at(r, 1000, buf, sizeof(buf), &n, &err), BERTH_OK);
        ASSERT_EQ_U64(n, 0);
        ASSERT_RC(berth_blob_reader_read_at(r, UINT64_MAX, buf, sizeof(buf), &n, &err), BERTH_OK);
        ASSERT_EQ_U64(n, 0);
        ASSERT_RC(berth_blob_reader_read_at(r, 2, buf, 0, &n, &err), BERTH_OK);
        ASSERT_EQ_U64(n, 0);

        /* The fast path: the fd reads the same bytes; the reader then reads no more. */
        fd = berth_blob_reader_take_fd(r);
        if (fd >= 0) {
            ASSERT_EQ_INT(pread(fd, buf, sizeof(buf), 5), 5);
            ASSERT_TRUE(memcmp(buf, "56789", 5) == 0);
            ASSERT_EQ_INT(berth_blob_reader_take_fd(r), -1);
            ASSERT_RC(berth_blob_reader_read_at(r, 0, buf, 4, &n, &err), BERTH_EINVAL);
            berth_blob_reader_close(r);
            /* still the caller's after the reader is gone */
            ASSERT_EQ_INT(pread(fd, buf, 2, 0), 2);
            ASSERT_TRUE(memcmp(buf, "01", 2) == 0);
            close(fd);
        } else {
            berth_blob_reader_close(r);
        }
        berth_blob_reader_close(NULL);
        ops->close(bs);
        free(root);
    }
}

TEST(store_upload_remove)
{
    size_t i;
    for (i = 0; i < NDRIVERS; i++) {
        const struct berth_blobstore_ops *ops = drivers[i].ops;
        char *root = store_root(&drivers[i]);
        struct berth_blobstore *bs = store_open(&drivers[i], root, 0);
        struct berth_blob_reader *r = NULL;
        struct berth_err err = BERTH_ERR_INIT;
        uint64_t size;
        char uuid[37];

        berth_uuid(uuid);
        ASSERT_RC(ops->upload_remove(bs, uuid, &err), BERTH_EUPLOADUNKNOWN);
        upload_put(bs, uuid, "abc");
        ASSERT_RC(ops->upload_remove(bs, uuid, &err), BERTH_OK);
        ASSERT_RC(ops->upload_stat(bs, uuid, &size, &err), BERTH_EUPLOADUNKNOWN);
        ASSERT_RC(ops->upload_open_reader(bs, uuid, &r, &err), BERTH_EUPLOADUNKNOWN);
        ASSERT_TRUE(r == NULL);
        ASSERT_RC(ops->upload_remove(bs, uuid, &err), BERTH_EUPLOADUNKNOWN);
        /* The id can start a new session afterwards. */
        upload_put(bs, uuid, "");
        ops->close(bs);
        free(root);
    }
}

TEST(store_commit_existing_blob)
{
    size_t i;
    for (i = 0; i < NDRIVERS; i++) {
        const struct berth_blobstore_ops *ops = drivers[i].ops;
        char *root = store_root(&drivers[i]);
        struct berth_blobstore *bs = store_open(&drivers[i], root, 1);
        struct berth_upload_writer *w;
        struct berth_err err = BERTH_ERR_INIT;
        struct berth_digest d;
        struct seen s = {0};
        uint64_t size;
        char uuid[37];

        digest_of(&d, BERTH_DIGEST_SHA256, "same bytes");
        blob_put(bs, &d, "same bytes");
        berth_uuid(uuid);
        upload_put(bs, uuid, "same bytes");
        ASSERT_RC(upload_commit_id(bs, uuid, &d, &err), BERTH_OK);
        expect_blob(bs, &d, "same bytes");
        list_uploads(bs, &s);
        ASSERT_EQ_INT(s.n, 0);
        list_blobs(bs, &s);
        ASSERT_EQ_INT(s.n, 1);
        /* Missing session, existing blob or not: still unknown. */
        ASSERT_RC(upload_commit_id(bs, uuid, &d, &err), BERTH_EUPLOADUNKNOWN);
        w = upload_new(bs, uuid, "same bytes");
        ASSERT_RC(ops->upload_remove(bs, uuid, &err), BERTH_OK);
        ASSERT_RC(berth_upload_writer_commit(w, &d, BERTH_COMMIT_VERIFIED, &err), BERTH_EUPLOADUNKNOWN);
        berth_upload_writer_close(w, NULL);
        w = upload_new(bs, uuid, "other bytes");
        ASSERT_RC(ops->upload_remove(bs, uuid, &err), BERTH_OK);
        digest_of(&d, BERTH_DIGEST_SHA256, "other bytes");
        ASSERT_RC(berth_upload_writer_commit(w, &d, 0, &err), BERTH_EUPLOADUNKNOWN);
        berth_upload_writer_close(w, NULL);
        ASSERT_RC(ops->stat(bs, &d, &size, &err), BERTH_EBLOBUNKNOWN);
        ops->close(bs);
        free(root);
    }
}

TEST(store_blob_stat_read_remove)
{
    size_t i;
    for (i = 0; i < NDRIVERS; i++) {
        const struct berth_blobstore_ops *ops = drivers[i].ops;
        char *root = store_root(&drivers[i]);
        struct berth_blobstore *bs = store_open(&drivers[i], root, 0);
        struct berth_blob_reader *r = NULL;
        struct berth_err err = BERTH_ERR_INIT;
        struct berth_digest d, e;
        struct seen s = {0};
        uint64_t size;

        digest_random(&d, BERTH_DIGEST_SHA256);
        digest_random(&e, BERTH_DIGEST_SHA512);
        ASSERT_RC(ops->stat(bs, &d, &size, &err), BERTH_EBLOBUNKNOWN);
        ASSERT_TRUE(strstr(err.msg, d.s) != NULL);
        ASSERT_RC(ops->open_reader(bs, &d, &r, &err), BERTH_EBLOBUNKNOWN);
        ASSERT_TRUE(r == NULL);
        ASSERT_RC(ops->remove(bs, &d, &err), BERTH_EBLOBUNKNOWN);

        blob_put(bs, &d, "layer");
        blob_put(bs, &e, "");
        expect_blob(bs, &d, "layer");
        expect_blob(bs, &e, "");

        if (drivers[i].backdate) {
            drivers[i].backdate(root, &d, 1000000000);
            list_blobs(bs, &s);
            ASSERT_EQ_INT(s.mtime[seen_find(&s, d.s)], 1000000000);
        }

        ASSERT_RC(ops->remove(bs, &d, &err), BERTH_OK);
        ASSERT_RC(ops->stat(bs, &d, &size, &err), BERTH_EBLOBUNKNOWN);
        ASSERT_RC(ops->open_reader(bs, &d, &r, &err), BERTH_EBLOBUNKNOWN);
        ASSERT_RC(ops->remove(bs, &d, &err), BERTH_EBLOBUNKNOWN);
        expect_blob(bs, &e, "");
        ops->close(bs);
        free(root);
    }
}

TEST(store_reader_outlives_remove)
{
    size_t i;
    for (i = 0; i < NDRIVERS; i++) {
        const struct berth_blobstore_ops *ops = drivers[i].ops;
        char *root = store_root(&drivers[i]);
        struct berth_blobstore *bs = store_open(&drivers[i], root, 0);
        struct berth_blob_reader *r = NULL, *r2 = NULL;
        struct berth_err err = BERTH_ERR_INIT;
        struct berth_digest d;
        char buf[64];
        int fd;

        digest_random(&d, BERTH_DIGEST_SHA256);
        blob_put(bs, &d, "still readable");
        ASSERT_RC(ops->open_reader(bs, &d, &r, &err), BERTH_OK);
        ASSERT_RC(ops->open_reader(bs, &d, &r2, &err), BERTH_OK);
        ASSERT_RC(ops->remove(bs, &d, &err), BERTH_OK);
        reader_all(r, buf, sizeof(buf));
        berth_blob_reader_close(r);
        ASSERT_EQ_STR(buf, "still readable");
        fd = berth_blob_reader_take_fd(r2);
        berth_blob_reader_close(r2);
        if (fd >= 0) {
            read_all(fd, buf, sizeof(buf));
            close(fd);
            ASSERT_EQ_STR(buf, "still readable");
        }
        ops->close(bs);
        free(root);
    }
}

TEST(store_list_blobs)
{
    size_t i;
    for (i = 0; i < NDRIVERS; i++) {
        const struct berth_blobstore_ops *ops = drivers[i].ops;
        char *root = store_root(&drivers[i]);
        struct berth_blobstore *bs = store_open(&drivers[i], root, 0);
        struct berth_digest d[5];
        struct seen s = {0};
        int64_t start = berth_now_s();
        int k, at;

        digest_random(&d[0], BERTH_DIGEST_SHA256);
        digest_random(&d[1], BERTH_DIGEST_SHA256);
        digest_random(&d[2], BERTH_DIGEST_SHA512);
        /* Two blobs sharing a prefix folder. */
        digest_set(&d[3], BERTH_DIGEST_SHA256, "ab00000000000000000000000000000000000000000000000000000000000000");
        digest_set(&d[4], BERTH_DIGEST_SHA256, "abffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff");
        for (k = 0; k < 5; k++) {
            char content[16];
            snprintf(content, sizeof(content), "%.*s", k + 1, "xxxxxxx");
            blob_put(bs, &d[k], content);
        }
        list_blobs(bs, &s);
        ASSERT_EQ_INT(s.n, 5);
        for (k = 0; k < 5; k++) {
            at = seen_find(&s, d[k].s);
            ASSERT_TRUE(at >= 0);
            ASSERT_EQ_U64(s.size[at], (uint64_t)k + 1);
            ASSERT_TRUE(s.mtime[at] >= start - 1 && s.mtime[at] <= berth_now_s() + 1);
        }
        /* A nonzero return from the visitor stops the walk. */
        s.stop_after = 2;
        list_blobs(bs, &s);
        ASSERT_EQ_INT(s.n, 2);
        ops->close(bs);
        free(root);
    }
}

TEST(store_upload_list)
{
    size_t i;
    for (i = 0; i < NDRIVERS; i++) {
        const struct berth_blobstore_ops *ops = drivers[i].ops;
        char *root = store_root(&drivers[i]);
        struct berth_blobstore *bs = store_open(&drivers[i], root, 0);
        struct berth_err err = BERTH_ERR_INIT;
        struct berth_digest d;
        struct seen s = {0};
        char uuid[3][37];
        int k, at;

        for (k = 0; k < 3; k++) {
            berth_uuid(uuid[k]);
            upload_put(bs, uuid[k], k == 0 ? "" : k == 1 ? "a" : "bb");
        }
        list_uploads(bs, &s);
        ASSERT_EQ_INT(s.n, 3);
        for (k = 0; k < 3; k++) {
            at = seen_find(&s, uuid[k]);
            ASSERT_TRUE(at >= 0);
            ASSERT_EQ_U64(s.size[at], (uint64_t)k);
            ASSERT_TRUE(s.mtime[at] > 0);
        }
        s.stop_after = 1;
        list_uploads(bs, &s);
        ASSERT_EQ_INT(s.n, 1);
        s.stop_after = 0;

        digest_random(&d, BERTH_DIGEST_SHA256);
        ASSERT_RC(upload_commit_id(bs, uuid[1], &d, &err), BERTH_OK);
        ASSERT_RC(ops->upload_remove(bs, uuid[2], &err), BERTH_OK);
        list_uploads(bs, &s);
        ASSERT_EQ_INT(s.n, 1);
        ASSERT_EQ_STR(s.name[0], uuid[0]);
        ops->close(bs);
        free(root);
    }
}

TEST(store_refuses_invalid_uuids_and_digests)
{
    static const char *const bad_uuids[] = {
        "",
        "..",
        "../../etc/passwd",
        "0123456789abcdef0123456789abcdef0123",
        "0123456789abcdef0123456789abcdef",
        "01234567-89AB-4def-8123-456789abcdef", /* uppercase */
        "01234567-89ab-4def-8123-456789abcdef0", /* one char too many */
        "01234567-89ab-4def-8123-456789abcde",  /* one too few */
        "01234567-89ab-4def-8123-456789abcde/",
        "01234567-89ab-4def-8123-456789abcdef.tmp",
    };
    size_t i, k;
    for (i = 0; i < NDRIVERS; i++) {
        const struct berth_blobstore_ops *ops = drivers[i].ops;
        char *root = store_root(&drivers[i]);
        struct berth_blobstore *bs = store_open(&drivers[i], root, 0);
        struct berth_err err = BERTH_ERR_INIT;
        struct berth_upload_state st = BERTH_UPLOAD_STATE_INIT;
        struct berth_upload_writer *w = NULL;
        struct berth_blob_reader *r = NULL;
        struct berth_digest d, bad;
        struct seen s = {0};
        uint64_t size;
        char uuid[37];

        digest_random(&d, BERTH_DIGEST_SHA256);
        for (k = 0; k < sizeof(bad_uuids) / sizeof(bad_uuids[0]); k++) {
            const char *u = bad_uuids[k];
            ASSERT_RC(ops->upload_create(bs, u, &w, &err), BERTH_EUPLOADUNKNOWN);
            snprintf(st.id, sizeof(st.id), "%s", u);
            ASSERT_RC(ops->upload_resume(bs, &st, &w, &err), BERTH_EUPLOADUNKNOWN);
            ASSERT_RC(ops->upload_open_reader(bs, u, &r, &err), BERTH_EUPLOADUNKNOWN);
            ASSERT_RC(ops->upload_stat(bs, u, &size, &err), BERTH_EUPLOADUNKNOWN);
            ASSERT_RC(ops->upload_remove(bs, u, &err), BERTH_EUPLOADUNKNOWN);
        }
        ASSERT_RC(ops->upload_create(bs, NULL, &w, &err), BERTH_EUPLOADUNKNOWN);
        ASSERT_RC(ops->upload_open_reader(bs, NULL, &r, &err), BERTH_EUPLOADUNKNOWN);
        ASSERT_TRUE(w == NULL);
        ASSERT_TRUE(r == NULL);
        list_uploads(bs, &s);
        ASSERT_EQ_INT(s.n, 0);

        /* A digest struct filled with something that is not a digest. */
        digest_set(&bad, BERTH_DIGEST_SHA256, "../../../../etc/passwd");
        ASSERT_RC(ops->stat(bs, &bad, &size, &err), BERTH_EDIGEST);
        digest_set(&bad, BERTH_DIGEST_SHA256, "AB00000000000000000000000000000000000000000000000000000000000000");
        ASSERT_RC(ops->stat(bs, &bad, &size, &err), BERTH_EDIGEST);
        digest_set(&bad, BERTH_DIGEST_SHA512, "ab00000000000000000000000000000000000000000000000000000000000000");
        ASSERT_RC(ops->open_reader(bs, &bad, &r, &err), BERTH_EDIGEST);
        digest_set(&bad, BERTH_DIGEST_SHA256, "ab000000000000000000000000000000000000000000000000000000000000000");
        ASSERT_RC(ops->remove(bs, &bad, &err), BERTH_EDIGEST);
        bad = d;
        bad.alg = (enum berth_digest_alg)7;
        ASSERT_RC(ops->remove(bs, &bad, &err), BERTH_EDIGEST);
        bad = d;
        bad.alg = BERTH_DIGEST_SHA512; /* text says sha256 */
        ASSERT_RC(ops->stat(bs, &bad, &size, &err), BERTH_EDIGEST);
        memset(bad.s, 'a', sizeof(bad.s)); /* not terminated */
        ASSERT_RC(ops->stat(bs, &bad, &size, &err), BERTH_EDIGEST);
        ASSERT_TRUE(r == NULL);
        /* A commit under a bad digest is refused and keeps the upload. */
        berth_uuid(uuid);
        w = upload_new(bs, uuid, "x");
        ASSERT_RC(berth_upload_writer_commit(w, &bad, BERTH_COMMIT_VERIFIED, &err), BERTH_EDIGEST);
        berth_upload_writer_close(w, NULL);
        expect_upload(bs, uuid, "x");
        ops->close(bs);
        free(root);
    }
}

#define NTHREADS 16

struct racer {
    struct berth_blobstore *bs;
    const struct berth_digest *d;
    pthread_barrier_t *start;
    enum berth_rc rc;
    struct berth_err err;
};

static void *race_commit(void *arg)
{
    struct racer *r = arg;
    struct berth_upload_writer *w = NULL;
    char uuid[37];

    berth_uuid(uuid);
    r->rc = r->bs->ops->upload_create(r->bs, uuid, &w, &r->err);
    if (!r->rc) r->rc = berth_upload_writer_append(w, "the same layer", 14, &r->err);
    pthread_barrier_wait(r->start);
    if (!r->rc) r->rc = berth_upload_writer_commit(w, r->d, BERTH_COMMIT_VERIFIED, &r->err);
    berth_upload_writer_close(w, NULL);
    return NULL;
}

TEST(store_concurrent_commits_of_one_digest)
{
    size_t i;
    for (i = 0; i < NDRIVERS; i++) {
        const struct berth_blobstore_ops *ops = drivers[i].ops;
        char *root = store_root(&drivers[i]);
        struct berth_blobstore *bs = store_open(&drivers[i], root, 1);
        struct racer r[NTHREADS];
        pthread_t th[NTHREADS];
        pthread_barrier_t start;
        struct berth_digest d;
        struct seen s = {0};
        int k;

        digest_random(&d, BERTH_DIGEST_SHA256);
        ASSERT_EQ_INT(pthread_barrier_init(&start, NULL, NTHREADS), 0);
        for (k = 0; k < NTHREADS; k++) {
            memset(&r[k], 0, sizeof(r[k]));
            r[k].bs = bs;
            r[k].d = &d;
            r[k].start = &start;
            ASSERT_EQ_INT(pthread_create(&th[k], NULL, race_commit, &r[k]), 0);
        }
        for (k = 0; k < NTHREADS; k++) {
            pthread_join(th[k], NULL);
            if (r[k].rc) BERTH_TEST_FAIL("thread %d: %s", k, berth_err_msg(&r[k].err));
        }
        pthread_barrier_destroy(&start);
        expect_blob(bs, &d, "the same layer");
        list_blobs(bs, &s);
        ASSERT_EQ_INT(s.n, 1);
        list_uploads(bs, &s);
        ASSERT_EQ_INT(s.n, 0);
        ops->close(bs);
        free(root);
    }
}

/* Distinct digests from many threads, all landing in the same few new folders. */
static void *race_distinct(void *arg)
{
    struct racer *r = arg;
    struct berth_upload_writer *w = NULL;
    char uuid[37];

    berth_uuid(uuid);
    r->rc = r->bs->ops->upload_create(r->bs, uuid, &w, &r->err);
    if (!r->rc) r->rc = berth_upload_writer_append(w, r->d->s, strlen(r->d->s), &r->err);
    pthread_barrier_wait(r->start);
    if (!r->rc) r->rc = berth_upload_writer_commit(w, r->d, BERTH_COMMIT_VERIFIED, &r->err);
    berth_upload_writer_close(w, NULL);
    return NULL;
}

TEST(store_concurrent_commits_of_many_digests)
{
    size_t i;
    for (i = 0; i < NDRIVERS; i++) {
        const struct berth_blobstore_ops *ops = drivers[i].ops;
        char *root = store_root(&drivers[i]);
        struct berth_blobstore *bs = store_open(&drivers[i], root, 1);
        struct berth_digest d[NTHREADS];
        struct racer r[NTHREADS];
        pthread_t th[NTHREADS];
        pthread_barrier_t start;
        struct seen s = {0};
        int k;

        ASSERT_EQ_INT(pthread_barrier_init(&start, NULL, NTHREADS), 0);
        for (k = 0; k < NTHREADS; k++) {
            char hex[129];
            digest_random(&d[k], k % 2 ? BERTH_DIGEST_SHA512 : BERTH_DIGEST_SHA256);
            snprintf(hex, sizeof(hex), "%s", hex_of(&d[k]));
            hex[0] = '7'; /* every sha256 shares a folder, every sha512 another */
            hex[1] = k % 4 < 2 ? '7' : '8';
            digest_set(&d[k], d[k].alg, hex);
            memset(&r[k], 0, sizeof(r[k]));
            r[k].bs = bs;
            r[k].d = &d[k];
            r[k].start = &start;
            ASSERT_EQ_INT(pthread_create(&th[k], NULL, race_distinct, &r[k]), 0);
        }
        for (k = 0; k < NTHREADS; k++) {
            pthread_join(th[k], NULL);
            if (r[k].rc) BERTH_TEST_FAIL("thread %d: %s", k, berth_err_msg(&r[k].err));
        }
        pthread_barrier_destroy(&start);
        for (k = 0; k < NTHREADS; k++) expect_blob(bs, &d[k], d[k].s);
        list_blobs(bs, &s);
        ASSERT_EQ_INT(s.n, NTHREADS);
        ops->close(bs);
        free(root);
    }
}

/* A store object with a wrong magic is a programming error: the op aborts. */
TEST(store_bad_magic_aborts)
{
    size_t i;
    for (i = 0; i < NDRIVERS; i++) {
        const struct berth_blobstore_ops *ops = drivers[i].ops;
        char *root = store_root(&drivers[i]);
        struct berth_blobstore *bs = store_open(&drivers[i], root, 0);
        struct berth_blobstore fake = {0x12345678u, ops};
        int status = 0;
        pid_t pid;

        fflush(NULL);
        pid = fork();
        ASSERT_TRUE(pid >= 0);
        if (pid == 0) {
            struct berth_err err = BERTH_ERR_INIT;
            uint64_t size;
            struct berth_digest d;
            /* Keep the child quiet: the abort is expected. */
            int devnull = open("/dev/null", O_WRONLY);
            if (devnull >= 0) dup2(devnull, 2);
            digest_random(&d, BERTH_DIGEST_SHA256);
            ops->stat(&fake, &d, &size, &err);
            _exit(0);
        }
        ASSERT_TRUE(waitpid(pid, &status, 0) == pid);
        ASSERT_TRUE(WIFSIGNALED(status));
        ASSERT_EQ_INT(WTERMSIG(status), SIGABRT);
        ops->close(bs);
        free(root);
    }
}

/* ---- the filesystem driver ---- */

static void fs_backdate(const char *root, const struct berth_digest *d, int64_t mtime_s)
{
    const char *hex = hex_of(d);
    char *path = berth_xasprintf("%s/blobs/%s/%.2s/%s", root, d->alg == BERTH_DIGEST_SHA256 ? "sha256" : "sha512",
                                 hex, hex);
    struct timespec ts[2] = {{(time_t)mtime_s, 0}, {(time_t)mtime_s, 0}};

    ASSERT_EQ_INT(utimensat(AT_FDCWD, path, ts, 0), 0);
    free(path);
}

static char *fs_path(const char *root, const char *rel)
{
    return berth_xasprintf("%s/%s", root, rel);
}

static int fs_exists(const char *root, const char *rel)
{
    char *p = fs_path(root, rel);
    struct stat sb;
    int ok = lstat(p, &sb) == 0;
    free(p);
    return ok;
}

static void fs_make_file(const char *root, const char *rel, const char *content)
{
    char *p = fs_path(root, rel);
    int fd = open(p, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (fd < 0) BERTH_TEST_FAIL("create %s: %s", p, strerror(errno));
    write_all(fd, content);
    close(fd);
    free(p);
}

static void fs_make_dir(const char *root, const char *rel)
{
    char *p = fs_path(root, rel);
    struct berth_err err = BERTH_ERR_INIT;
    if (berth_mkdirs(p, &err)) BERTH_TEST_FAIL("%s", berth_err_msg(&err));
    free(p);
}

TEST(store_fs_layout)
{
    char *root = berth_xasprintf("%s/a/b/store", berth_test_tmpdir());
    struct berth_blobstore *bs = store_open(&drivers[0], root, 1);
    struct berth_err err = BERTH_ERR_INIT;
    struct berth_digest d;
    struct stat sb;
    char *path, *blob;
    char uuid[37];

    ASSERT_TRUE(fs_exists(root, "blobs"));
    ASSERT_TRUE(fs_exists(root, "uploads"));
    path = fs_path(root, "uploads");
    ASSERT_EQ_INT(stat(path, &sb), 0);
    ASSERT_EQ_INT(sb.st_mode & 0777, 0700);
    free(path);

    berth_uuid(uuid);
    upload_put(bs, uuid, "x");
    path = berth_xasprintf("uploads/%s", uuid);
    ASSERT_TRUE(fs_exists(root, path));
    free(path);
    digest_set(&d, BERTH_DIGEST_SHA256, "c0ffee0000000000000000000000000000000000000000000000000000000000");
    ASSERT_RC(upload_commit_id(bs, uuid, &d, &err), BERTH_OK);
    blob = fs_path(root, "blobs/sha256/c0/c0ffee0000000000000000000000000000000000000000000000000000000000");
    ASSERT_EQ_INT(stat(blob, &sb), 0);
    ASSERT_EQ_INT(sb.st_mode & 0777, 0600);
    ASSERT_EQ_U64(sb.st_size, 1);
    free(blob);
    berth_blobstore_fs_ops.close(bs);
    free(root);
}

TEST(store_fs_list_skips_foreign_names)
{
    char *root = store_root(&drivers[0]);
    struct berth_blobstore *bs = store_open(&drivers[0], root, 0);
    struct berth_digest d;
    struct seen s = {0};

    digest_set(&d, BERTH_DIGEST_SHA256, "ab00000000000000000000000000000000000000000000000000000000000000");
    blob_put(bs, &d, "real");
    fs_make_file(root, "blobs/sha256/ab/notahexname", "x");
    fs_make_file(root, "blobs/sha256/ab/ab00", "short");
    fs_make_file(root, "blobs/sha256/ab/AB00000000000000000000000000000000000000000000000000000000000001", "x");
    /* A valid name in the wrong prefix folder could never be found by stat. */
    fs_make_file(root, "blobs/sha256/ab/cd00000000000000000000000000000000000000000000000000000000000000", "x");
    fs_make_dir(root, "blobs/sha256/ab/ab11111111111111111111111111111111111111111111111111111111111111");
    fs_make_dir(root, "blobs/sha256/zz");
    fs_make_file(root, "blobs/sha256/zz/zz00000000000000000000000000000000000000000000000000000000000000", "x");
    fs_make_dir(root, "blobs/md5/00");
    fs_make_file(root, "blobs/md5/00/00000000000000000000000000000000", "x");
    fs_make_file(root, "uploads/not-a-uuid", "x");
    list_blobs(bs, &s);
    ASSERT_EQ_INT(s.n, 1);
    ASSERT_EQ_STR(s.name[0], d.s);
    list_uploads(bs, &s);
    ASSERT_EQ_INT(s.n, 0);
    berth_blobstore_fs_ops.close(bs);
    free(root);
}

TEST(store_fs_removes_temp_files_at_open)
{
    char *root = store_root(&drivers[0]);
    struct berth_blobstore *bs = store_open(&drivers[0], root, 0);
    struct berth_err err = BERTH_ERR_INIT;
    struct berth_digest d;
    uint64_t removed = 99;
    char uuid[37];

    berth_uuid(uuid);
    upload_put(bs, uuid, "keep me");
    digest_random(&d, BERTH_DIGEST_SHA256);
    blob_put(bs, &d, "blob");
    berth_blobstore_fs_ops.close(bs);

    fs_make_file(root, "junk.tmp", "x");
    fs_make_file(root, "uploads/01234567-89ab-4def-8123-456789abcdef.tmp-1a2b", "x");
    fs_make_file(root, "blobs/x.tmp", "x");
    fs_make_file(root, "blobs/sha256/y.tmp", "x");
    fs_make_dir(root, "uploads/dir.tmp");
    fs_make_file(root, "uploads/keep", "x");

    bs = store_open(&drivers[0], root, 1);
    ASSERT_TRUE(fs_exists(root, "junk.tmp")); /* root is shared with other modules */
    ASSERT_TRUE(!fs_exists(root, "uploads/01234567-89ab-4def-8123-456789abcdef.tmp-1a2b"));
    ASSERT_TRUE(!fs_exists(root, "blobs/x.tmp"));
    ASSERT_TRUE(!fs_exists(root, "blobs/sha256/y.tmp"));
    ASSERT_TRUE(fs_exists(root, "uploads/dir.tmp")); /* folders are not temp files */
    ASSERT_TRUE(fs_exists(root, "uploads/keep"));
    expect_blob(bs, &d, "blob");

    ASSERT_RC(berth_blobstore_fs_ops.clean_temp(bs, &removed, &err), BERTH_OK);
    ASSERT_EQ_U64(removed, 0);
    fs_make_file(root, "uploads/a.tmp", "x");
    fs_make_file(root, "uploads/b.tmp", "x");
    ASSERT_RC(berth_blobstore_fs_ops.clean_temp(bs, &removed, &err), BERTH_OK);
    ASSERT_EQ_U64(removed, 2);
    fs_make_file(root, "uploads/c.tmp", "x");
    ASSERT_RC(berth_blobstore_fs_ops.clean_temp(bs, NULL, &err), BERTH_OK);
    ASSERT_TRUE(!fs_exists(root, "uploads/c.tmp"));

    /* The session is untouched and can still be committed. */
    digest_random(&d, BERTH_DIGEST_SHA256);
    ASSERT_RC(upload_commit_id(bs, uuid, &d, &err), BERTH_OK);
    expect_blob(bs, &d, "keep me");
    berth_blobstore_fs_ops.close(bs);
    free(root);
}

/*
 * A child process opens the store, starts an upload, leaves a temp file and
 * is killed with SIGKILL mid-session. The reopened store keeps the upload's
 * bytes, drops the temp file, and the upload can go on to a commit.
 */
TEST(store_fs_survives_kill_mid_upload)
{
    char *root = store_root(&drivers[0]);
    struct berth_blobstore *bs;
    struct berth_upload_state st = BERTH_UPLOAD_STATE_INIT;
    struct berth_upload_writer *w = NULL;
    struct berth_err err = BERTH_ERR_INIT;
    struct berth_digest d;
    struct seen s = {0};
    int status = 0;
    pid_t pid;

    berth_uuid(st.id);
    fflush(NULL);
    pid = fork();
    ASSERT_TRUE(pid >= 0);
    if (pid == 0) {
        bs = store_open(&drivers[0], root, 1);
        upload_put(bs, st.id, "first chunk,");
        st.size = 12;
        ASSERT_RC(berth_blobstore_fs_ops.upload_resume(bs, &st, &w, &err), BERTH_OK);
        ASSERT_RC(berth_upload_writer_append(w, "second", 6, &err), BERTH_OK);
        fs_make_file(root, "uploads/leftover.tmp-xyz", "half");
        raise(SIGKILL); /* writer and store still open */
        _exit(3);
    }
    ASSERT_TRUE(waitpid(pid, &status, 0) == pid);
    ASSERT_TRUE(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL);
    ASSERT_TRUE(fs_exists(root, "uploads/leftover.tmp-xyz"));

    bs = store_open(&drivers[0], root, 1);
    ASSERT_TRUE(!fs_exists(root, "uploads/leftover.tmp-xyz"));
    list_uploads(bs, &s);
    ASSERT_EQ_INT(s.n, 1);
    ASSERT_EQ_STR(s.name[0], st.id);
    ASSERT_EQ_U64(s.size[0], 18);
    /* A restart knows only the id: the size comes from the store. */
    ASSERT_RC(berth_blobstore_fs_ops.upload_stat(bs, st.id, &st.size, &err), BERTH_OK);
    ASSERT_EQ_U64(st.size, 18);
    ASSERT_RC(berth_blobstore_fs_ops.upload_resume(bs, &st, &w, &err), BERTH_OK);
    ASSERT_EQ_U64(w->size, 18);
    ASSERT_RC(berth_upload_writer_append(w, " third", 6, &err), BERTH_OK);
    expect_upload(bs, st.id, "first chunk,second third");
    digest_of(&d, BERTH_DIGEST_SHA256, "first chunk,second third");
    ASSERT_RC(berth_upload_writer_commit(w, &d, 0, &err), BERTH_OK);
    berth_upload_writer_close(w, NULL);
    expect_blob(bs, &d, "first chunk,second third");
    berth_blobstore_fs_ops.close(bs);
    free(root);
}

/* Someone deletes a prefix folder behind the store's back; the next commit remakes it. */
TEST(store_fs_commit_remakes_removed_folder)
{
    char *root = store_root(&drivers[0]);
    struct berth_blobstore *bs = store_open(&drivers[0], root, 1);
    struct berth_err err = BERTH_ERR_INIT;
    struct berth_digest d, e;
    char *dir;

    digest_set(&d, BERTH_DIGEST_SHA256, "5500000000000000000000000000000000000000000000000000000000000000");
    digest_set(&e, BERTH_DIGEST_SHA256, "5511111111111111111111111111111111111111111111111111111111111111");
    blob_put(bs, &d, "one");
    ASSERT_RC(berth_blobstore_fs_ops.remove(bs, &d, &err), BERTH_OK);
    dir = fs_path(root, "blobs/sha256/55");
    ASSERT_EQ_INT(rmdir(dir), 0);
    free(dir);
    dir = fs_path(root, "blobs/sha256");
    ASSERT_EQ_INT(rmdir(dir), 0);
    free(dir);
    blob_put(bs, &e, "two");
    expect_blob(bs, &e, "two");
    berth_blobstore_fs_ops.close(bs);
    free(root);
}

/* Failing syscalls come back as BERTH_EIO naming the call and the file. */
TEST(store_fs_syscall_errors_name_the_file)
{
    char *root = store_root(&drivers[0]);
    struct berth_blobstore *bs = NULL;
    struct berth_blobstore_opts opts = {0};
    struct berth_err err = BERTH_ERR_INIT;
    struct berth_digest d;
    uint64_t size;
    char *file;

    /* The root is a file: open fails. */
    fs_make_dir(berth_test_tmpdir(), "fs");
    file = fs_path(berth_test_tmpdir(), "fs/plainfile");
    fs_make_file(berth_test_tmpdir(), "fs/plainfile", "x");
    ASSERT_RC(berth_blobstore_fs_ops.open(file, &opts, &bs, &err), BERTH_EIO);
    ASSERT_TRUE(strstr(err.msg, "plainfile") != NULL);
    ASSERT_TRUE(bs == NULL);
    free(file);

    /* The algorithm folder is a file: stat fails with ENOTDIR, not "unknown". */
    bs = store_open(&drivers[0], root, 0);
    fs_make_file(root, "blobs/sha512", "x");
    digest_random(&d, BERTH_DIGEST_SHA512);
    ASSERT_RC(berth_blobstore_fs_ops.stat(bs, &d, &size, &err), BERTH_EIO);
    ASSERT_TRUE(strstr(err.msg, "fstatat '") != NULL);
    ASSERT_TRUE(strstr(err.msg, hex_of(&d)) != NULL);
    berth_blobstore_fs_ops.close(bs);
    free(root);
}

/* A large upload through an fsync store crosses the writeback steps and commits whole. */
TEST(store_fs_large_upload_with_writeback)
{
    char *root = store_root(&drivers[0]);
    struct berth_blobstore *bs = store_open(&drivers[0], root, 1);
    struct berth_upload_writer *w = NULL;
    struct berth_blob_reader *r = NULL;
    struct berth_err err = BERTH_ERR_INIT;
    struct berth_hasher h;
    struct berth_digest d;
    size_t chunk = 3u << 20, n;
    char *buf = berth_xmalloc(chunk), uuid[37], tail[4];
    int k;

    memset(buf, 'z', chunk);
    berth_uuid(uuid);
    berth_hasher_init(&h, BERTH_DIGEST_SHA256);
    ASSERT_RC(berth_blobstore_fs_ops.upload_create(bs, uuid, &w, &err), BERTH_OK);
    for (k = 0; k < 7; k++) { /* 21 MiB: past two 8 MiB steps */
        ASSERT_RC(berth_upload_writer_append(w, buf, chunk, &err), BERTH_OK);
        berth_hasher_update(&h, buf, chunk);
    }
    berth_hasher_final(&h, &d);
    berth_hasher_release(&h);
    ASSERT_EQ_U64(w->size, 7 * (uint64_t)chunk);
    ASSERT_RC(berth_upload_writer_commit(w, &d, 0, &err), BERTH_OK);
    berth_upload_writer_close(w, NULL);
    ASSERT_RC(berth_blobstore_fs_ops.open_reader(bs, &d, &r, &err), BERTH_OK);
    ASSERT_EQ_U64(r->size, 7 * (uint64_t)chunk);
    ASSERT_RC(berth_blob_reader_read_at(r, r->size - 2, tail, sizeof(tail), &n, &err), BERTH_OK);
    ASSERT_EQ_U64(n, 2);
    ASSERT_TRUE(tail[0] == 'z' && tail[1] == 'z');
    berth_blob_reader_close(r);
    free(buf);
    berth_blobstore_fs_ops.close(bs);
    free(root);
}

static uint64_t fs_file_size(const char *root, const char *rel)
{
    char *p = berth_xasprintf("%s/%s", root, rel);
    struct stat sb;
    int r = stat(p, &sb);

    free(p);
    ASSERT_TRUE(r == 0);
    return (uint64_t)sb.st_size;
}

/*
 * Past the first 256 KiB a writer gathers appends into 1 MiB writes: the
 * file lags behind size until a flush (sync, commit, close), truncate cuts
 * held bytes or the file, and nothing appended is lost or doubled.
 */
TEST(store_fs_gathered_appends)
{
    char *root = store_root(&drivers[0]);
    struct berth_blobstore *bs = store_open(&drivers[0], root, 1);
    struct berth_upload_state st = BERTH_UPLOAD_STATE_INIT;
    struct berth_upload_writer *w = NULL;
    struct berth_blob_reader *r = NULL;
    struct berth_err err = BERTH_ERR_INIT;
    struct berth_digest d;
    size_t piece = 10000, total = 0, n, i;
    char *want = berth_xmalloc(3u << 20), *got = berth_xmalloc(3u << 20), *rel, uuid[37];

    for (i = 0; i < (3u << 20); i++) want[i] = (char)('a' + (i * 7 + i / 9973) % 26);
    berth_uuid(uuid);
    rel = berth_xasprintf("uploads/%s", uuid);
    ASSERT_RC(berth_blobstore_fs_ops.upload_create(bs, uuid, &w, &err), BERTH_OK);
    while (total < (300u << 10)) { /* straight through, then gathered */
        ASSERT_RC(berth_upload_writer_append(w, want + total, piece, &err), BERTH_OK);
        total += piece;
    }
    ASSERT_EQ_U64(w->size, total);
    ASSERT_TRUE(fs_file_size(root, rel) < total);
    ASSERT_TRUE(fs_file_size(root, rel) >= (256u << 10));
    /* cut inside the held bytes, then below what the file holds */
    total -= 1234;
    ASSERT_RC(berth_upload_writer_truncate(w, total, &err), BERTH_OK);
    ASSERT_EQ_U64(w->size, total);
    total = 100000;
    ASSERT_RC(berth_upload_writer_truncate(w, total, &err), BERTH_OK);
    ASSERT_EQ_U64(fs_file_size(root, rel), total);
    /* an append bigger than the buffer, then enough small ones to fill it twice */
    ASSERT_RC(berth_upload_writer_append(w, want + total, (1u << 20) + 5, &err), BERTH_OK);
    total += (1u << 20) + 5;
    while (total + piece < (3u << 20) - 777) {
        ASSERT_RC(berth_upload_writer_append(w, want + total, piece, &err), BERTH_OK);
        total += piece;
    }
    ASSERT_RC(berth_upload_writer_sync(w, &err), BERTH_OK);
    ASSERT_EQ_U64(fs_file_size(root, rel), total);
    ASSERT_RC(berth_upload_writer_append(w, want + total, 777, &err), BERTH_OK);
    total += 777;
    /* close writes what is held and says how much is stored */
    berth_upload_writer_close(w, &st);
    ASSERT_EQ_U64(st.size, total);
    ASSERT_EQ_U64(fs_file_size(root, rel), total);
    ASSERT_RC(berth_blobstore_fs_ops.upload_resume(bs, &st, &w, &err), BERTH_OK);
    berth_upload_state_release(&st);
    ASSERT_RC(berth_upload_writer_append(w, want + total, 5000, &err), BERTH_OK);
    total += 5000;
    /* commit writes the held bytes before it hashes the file (no VERIFIED flag) */
    {
        struct berth_hasher h;
        berth_hasher_init(&h, BERTH_DIGEST_SHA256);
        berth_hasher_update(&h, want, total);
        berth_hasher_final(&h, &d);
        berth_hasher_release(&h);
    }
    ASSERT_RC(berth_upload_writer_commit(w, &d, 0, &err), BERTH_OK);
    berth_upload_writer_close(w, NULL);
    ASSERT_RC(berth_blobstore_fs_ops.open_reader(bs, &d, &r, &err), BERTH_OK);
    ASSERT_EQ_U64(r->size, total);
    ASSERT_RC(berth_blob_reader_read_at(r, 0, got, total, &n, &err), BERTH_OK);
    ASSERT_EQ_U64(n, total);
    ASSERT_TRUE(memcmp(got, want, total) == 0);
    berth_blob_reader_close(r);
    berth_blobstore_fs_ops.close(bs);
    free(rel);
    free(got);
    free(want);
    free(root);
}

/*
 * The file cannot grow past 600,000 bytes (RLIMIT_FSIZE, as a full disk): the
 * append that needs a flush fails without losing a counted byte, truncate
 * back to the caller's count works, and close says how much was stored.
 * In a child, which the limit must not outlive; its exit code names the step
 * that went wrong.
 */
TEST(store_fs_gathered_write_failure)
{
    char *root = store_root(&drivers[0]);
    int status = 0;
    pid_t pid;

    fflush(NULL);
    pid = fork();
    ASSERT_TRUE(pid >= 0);
    if (pid == 0) {
        struct berth_blobstore *bs = store_open(&drivers[0], root, 0);
        struct berth_upload_state st = BERTH_UPLOAD_STATE_INIT;
        struct berth_upload_writer *w = NULL;
        struct berth_err err = BERTH_ERR_INIT;
        struct rlimit lim = {600000, 600000};
        static char piece[10000];
        uint64_t counted = 0;
        char uuid[37], *rel;

        signal(SIGXFSZ, SIG_IGN);
        if (setrlimit(RLIMIT_FSIZE, &lim) != 0) _exit(10);
        berth_uuid(uuid);
        rel = berth_xasprintf("uploads/%s", uuid);
        if (berth_blobstore_fs_ops.upload_create(bs, uuid, &w, &err)) _exit(11);
        while (berth_upload_writer_append(w, piece, sizeof(piece), &err) == BERTH_OK) {
            counted += sizeof(piece);
            if (counted > (4u << 20)) _exit(12); /* never failed */
        }
        if (err.code != BERTH_EIO || w->size < counted) _exit(13);
        if (berth_upload_writer_truncate(w, counted, &err) || w->size != counted) _exit(14);
        berth_upload_writer_close(w, &st);
        if (st.size != 600000 || fs_file_size(root, rel) != 600000 || counted <= 600000) _exit(15);
        _exit(0);
    }
    ASSERT_TRUE(waitpid(pid, &status, 0) == pid);
    ASSERT_TRUE(WIFEXITED(status));
    ASSERT_EQ_INT(WEXITSTATUS(status), 0);
    free(root);
}
