/*
 * test_migrate.c - berth migrate's service (migrate.c) between two data
 * folders (SQLite and files): what is copied, what is skipped, what a
 * second run does, corrupt source blobs, damaged target blobs, leftovers
 * of an interrupted run, the signing keys, dry runs and the refusals.
 * Between drivers the metadata copy is tested in test_meta.c; the whole
 * command, with PostgreSQL and kill -9, in tests/e2e/0610-migrate.sh.
 */
#include <fcntl.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>
#include "../../src/service/migrate.c"
#include "test.h"

#define ASSERT_OK(expr)                                                                             \
    do {                                                                                            \
        enum berth_rc r_ = (expr);                                                                  \
        if (r_ != BERTH_OK) BERTH_TEST_FAIL("%s: %s: %s", #expr, berth_rc_name(r_), err.msg);       \
    } while (0)

/* A data folder opened the way a server would: files, SQLite, the registry "default". */
struct folder {
    char *data;
    struct berth_blobstore *bs;
    struct berth_meta *m;
    int64_t reg;
};

static void folder_open(struct folder *f, const char *name, int with_registry)
{
    struct berth_err err = BERTH_ERR_INIT;
    struct berth_blobstore_opts opts = {0};
    char *db;

    memset(f, 0, sizeof(*f));
    f->data = berth_xasprintf("%s/%s", berth_test_tmpdir(), name);
    ASSERT_OK(berth_mkdirs(f->data, &err));
    ASSERT_OK(berth_blobstore_fs_ops.open(f->data, &opts, &f->bs, &err));
    db = berth_xasprintf("%s/berth.db", f->data);
    ASSERT_OK(berth_meta_sqlite_ops.open(db, &f->m, &err));
    free(db);
    if (with_registry) {
        struct berth_meta_registry r;
        memset(&r, 0, sizeof(r));
        snprintf(r.name, sizeof(r.name), "default");
        ASSERT_OK(f->m->reg->registry_create(f->m, &r, &err));
        f->reg = r.id;
    }
}

/* Closes the stores (a migration opens them itself); keeps the path. */
static void folder_close(struct folder *f)
{
    if (f->m) f->m->ops->close(f->m);
    if (f->bs) f->bs->ops->close(f->bs);
    f->m = NULL;
    f->bs = NULL;
}

static void folder_free(struct folder *f)
{
    folder_close(f);
    free(f->data);
}

/* n bytes of byte c as a committed blob; *d gets its digest. */
static void put_blob(struct berth_blobstore *bs, int c, size_t n, struct berth_digest *d)
{
    struct berth_err err = BERTH_ERR_INIT;
    struct berth_upload_writer *w = NULL;
    unsigned char *p = berth_xmalloc(n);
    char id[37];

    memset(p, c, n);
    berth_digest_of(BERTH_DIGEST_SHA256, p, n, d);
    berth_uuid(id);
    ASSERT_OK(bs->ops->upload_create(bs, id, &w, &err));
    ASSERT_OK(berth_upload_writer_append(w, p, n, &err));
    ASSERT_OK(berth_upload_writer_commit(w, d, 0, &err));
    berth_upload_writer_close(w, NULL);
    free(p);
}

/* The blob's file in a folder's fs store. */
static char *blob_path(const char *data, const struct berth_digest *d)
{
    const char *hex = berth_digest_hex(d);
    return berth_xasprintf("%s/blobs/sha256/%.2s/%s", data, hex, hex);
}

static void write_file(const char *path, const char *text)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    ASSERT_TRUE(fd >= 0);
    ASSERT_EQ_INT(write(fd, text, strlen(text)), (long long)strlen(text));
    close(fd);
}

/* Links d to repo and puts a tagged manifest referencing it. */
static void reference(struct folder *f, const char *repo, const struct berth_digest *d, int64_t size, unsigned n)
{
    struct berth_err err = BERTH_ERR_INIT;
    struct berth_meta_claim c = {0};
    struct berth_meta_manifest mf;
    struct berth_digest md;

    c.reg = f->reg;
    c.repo = repo;
    c.digest = d;
    c.size = size;
    ASSERT_OK(f->m->content->blob_claim(f->m, &c, &err));
    memset(&mf, 0, sizeof(mf));
    md.alg = BERTH_DIGEST_SHA256;
    snprintf(md.s, sizeof(md.s), "sha256:%064x", n);
    mf.reg = f->reg;
    mf.repo = repo;
    mf.digest = &md;
    mf.media_type = BERTH_MT_OCI_MANIFEST;
    mf.payload = md.s;
    mf.len = strlen(md.s);
    mf.blobs = d;
    mf.nblobs = 1;
    ASSERT_OK(f->m->content->manifest_put(f->m, &mf, "v1", &err));
}

static struct berth_migrate_opts opts_for(const struct folder *from, const struct folder *to)
{
    struct berth_migrate_opts o;

    memset(&o, 0, sizeof(o));
    o.from.data = from->data;
    o.to.data = to->data;
    return o;
}

struct phases {
    char seen[64];
    size_t n;
};

static void note_phase(const struct berth_migrate_progress *p, int final, void *ctx)
{
    struct phases *ph = ctx;
    char c = "BUMV"[p->phase];

    if (final && ph->n + 1 < sizeof(ph->seen)) ph->seen[ph->n++] = c;
}

TEST(migrate_copies_blobs_sessions_keys_and_metadata_then_skips_them)
{
    struct berth_err err = BERTH_ERR_INIT;
    struct folder src, dst;
    struct berth_digest a, b, garbage;
    struct berth_upload_writer *w = NULL;
    struct berth_migrate_stats st;
    struct berth_migrate_opts o;
    struct phases ph = {{0}, 0};
    char session[37], leftover[37], *p;
    unsigned char bytes[1000];
    struct stat sb;
    uint64_t size = 0;

    folder_open(&src, "src", 1);
    folder_open(&dst, "dst", 0);
    put_blob(src.bs, 'a', 5000, &a);
    put_blob(src.bs, 'b', 7000, &b);
    put_blob(src.bs, 'g', 10, &garbage); /* in the store, referenced by nothing */
    reference(&src, "team/app", &a, 5000, 1);
    reference(&src, "team/lib", &b, 7000, 2);
    /* a session in progress: its record and 1000 bytes */
    berth_uuid(session);
    ASSERT_OK(src.m->uploads->upload_put(src.m, session, src.reg, "team/app", "alice", 1, 0, &err));
    ASSERT_OK(src.bs->ops->upload_create(src.bs, session, &w, &err));
    memset(bytes, 's', sizeof(bytes));
    ASSERT_OK(berth_upload_writer_append(w, bytes, sizeof(bytes), &err));
    berth_upload_writer_close(w, NULL);
    /* an interrupted run's writer in the target */
    berth_uuid(leftover);
    ASSERT_OK(dst.bs->ops->upload_create(dst.bs, leftover, &w, &err));
    ASSERT_OK(berth_upload_writer_append(w, bytes, 10, &err));
    berth_upload_writer_close(w, NULL);
    p = berth_xasprintf("%s/keys", src.data);
    ASSERT_OK(berth_mkdirs(p, &err));
    free(p);
    p = berth_xasprintf("%s/keys/kid1.pem", src.data);
    write_file(p, "-----BEGIN PRIVATE KEY-----\n");
    free(p);
    p = berth_xasprintf("%s/initial-owner-password", src.data);
    write_file(p, "hunter2\n");
    free(p);
    folder_close(&src);
    folder_close(&dst);

    o = opts_for(&src, &dst);
    o.progress = note_phase;
    o.ctx = &ph;
    ASSERT_OK(berth_migrate_run(&o, &st, &err));
    ASSERT_EQ_INT(st.nproblems, 0);
    ASSERT_EQ_U64(st.blobs, 3);
    ASSERT_EQ_U64(st.blobs_copied, 3);
    ASSERT_EQ_U64(st.bytes_copied, 12010);
    ASSERT_EQ_U64(st.uploads_copied, 1);
    ASSERT_EQ_U64(st.leftovers_removed, 1);
    ASSERT_EQ_U64(st.keys_copied, 1);
    ASSERT_EQ_U64(st.files_copied, 1);
    ASSERT_EQ_INT(st.target_fresh, 1);
    ASSERT_EQ_U64(st.refs_checked, 2);
    p = berth_xasprintf("%s/berth.db", src.data);
    ASSERT_EQ_STR(st.from_meta, p);
    free(p);
    ASSERT_EQ_STR(ph.seen, "BUMV");
    ASSERT_TRUE(st.rows > 10);
    berth_migrate_stats_release(&st);

    /* what the target holds: the blobs whole, the session's bytes under its id, no leftover, the keys 0600 */
    ASSERT_OK(berth_blobstore_fs_ops.open(dst.data, &(struct berth_blobstore_opts){0}, &dst.bs, &err));
    ASSERT_OK(dst.bs->ops->stat(dst.bs, &a, &size, &err));
    ASSERT_EQ_U64(size, 5000);
    ASSERT_OK(dst.bs->ops->stat(dst.bs, &garbage, &size, &err));
    ASSERT_OK(dst.bs->ops->upload_stat(dst.bs, session, &size, &err));
    ASSERT_EQ_U64(size, 1000);
    ASSERT_RC(dst.bs->ops->upload_stat(dst.bs, leftover, &size, &err), BERTH_EUPLOADUNKNOWN);
    folder_close(&dst);
    p = berth_xasprintf("%s/keys/kid1.pem", dst.data);
    ASSERT_EQ_INT(stat(p, &sb), 0);
    ASSERT_EQ_INT(sb.st_mode & 0777, 0600);
    free(p);

    /* a second run finds everything there and copies nothing */
    memset(&ph, 0, sizeof(ph));
    ASSERT_OK(berth_migrate_run(&o, &st, &err));
    ASSERT_EQ_U64(st.blobs_present, 3);
    ASSERT_EQ_U64(st.blobs_copied, 0);
    ASSERT_EQ_U64(st.uploads_present, 1);
    ASSERT_EQ_U64(st.keys_present, 1);
    ASSERT_EQ_INT(st.target_fresh, 0);
    ASSERT_EQ_U64(st.refs_checked, 2);
    berth_migrate_stats_release(&st);
    folder_free(&src);
    folder_free(&dst);
}

TEST(migrate_lists_corrupt_source_blobs_and_never_commits_a_reference_to_one)
{
    struct berth_err err = BERTH_ERR_INIT;
    struct folder src, dst, dst2;
    struct berth_digest a, g;
    struct berth_migrate_stats st;
    struct berth_migrate_opts o;
    struct berth_meta_tables t;
    char *p;
    size_t i;

    folder_open(&src, "src", 1);
    folder_open(&dst, "dst", 0);
    put_blob(src.bs, 'a', 3000, &a);
    put_blob(src.bs, 'g', 3000, &g);
    reference(&src, "team/app", &a, 3000, 1);
    folder_close(&src);
    folder_close(&dst);
    /* the unreferenced blob's bytes change, same length: only its hash tells */
    p = blob_path(src.data, &g);
    write_file(p, "not what was pushed");
    free(p);
    o = opts_for(&src, &dst);
    ASSERT_OK(berth_migrate_run(&o, &st, &err));
    ASSERT_EQ_INT(st.nproblems, 1);
    ASSERT_EQ_STR(st.problems[0].d.s, g.s);
    ASSERT_TRUE(strstr(st.problems[0].why, "corrupt") != NULL);
    ASSERT_EQ_U64(st.blobs_copied, 1);
    ASSERT_EQ_INT(st.target_fresh, 1); /* the metadata references only the good one */
    berth_migrate_stats_release(&st);
    p = blob_path(dst.data, &g);
    ASSERT_TRUE(access(p, F_OK) != 0);
    free(p);

    /* the referenced one corrupt: the metadata copy rolls back, naming it */
    p = blob_path(src.data, &a);
    write_file(p, "also not what was pushed");
    free(p);
    folder_open(&dst2, "dst2", 0);
    folder_close(&dst2);
    o = opts_for(&src, &dst2);
    ASSERT_RC(berth_migrate_run(&o, &st, &err), BERTH_EBLOBUNKNOWN);
    ASSERT_TRUE(strstr(err.msg, a.s) != NULL && strstr(err.msg, "corrupt") != NULL);
    ASSERT_EQ_INT(st.nproblems, 2);
    berth_migrate_stats_release(&st);
    folder_free(&dst2);
    folder_open(&dst2, "dst2", 0);
    ASSERT_OK(berth_meta_tables_count(dst2.m, &t, &err));
    for (i = 0; i < t.n; i++) ASSERT_EQ_INT(t.t[i].rows, 0);
    folder_free(&src);
    folder_free(&dst);
    folder_free(&dst2);
}

TEST(migrate_copies_a_damaged_target_blob_again)
{
    struct berth_err err = BERTH_ERR_INIT;
    struct folder src, dst;
    struct berth_digest a, a2;
    struct berth_migrate_stats st;
    struct berth_migrate_opts o;
    char *p;

    folder_open(&src, "src", 1);
    folder_open(&dst, "dst", 0);
    put_blob(src.bs, 'a', 3000, &a);
    put_blob(dst.bs, 'a', 3000, &a2);
    reference(&src, "team/app", &a, 3000, 1);
    folder_close(&src);
    folder_close(&dst);
    p = blob_path(dst.data, &a);
    write_file(p, "short"); /* a torn copy made by hand */
    o = opts_for(&src, &dst);
    ASSERT_OK(berth_migrate_run(&o, &st, &err));
    ASSERT_EQ_U64(st.blobs_replaced, 1);
    ASSERT_EQ_U64(st.blobs_copied, 1);
    berth_migrate_stats_release(&st);
    {
        char *text = NULL;
        size_t len = 0;
        ASSERT_OK(berth_read_file(p, 1 << 20, &text, &len, &err));
        ASSERT_EQ_INT(len, 3000);
        ASSERT_EQ_INT(text[2999], 'a');
        free(text);
    }
    free(p);
    folder_free(&src);
    folder_free(&dst);
}

TEST(migrate_dry_run_writes_nothing)
{
    struct berth_err err = BERTH_ERR_INIT;
    struct folder src;
    struct berth_digest a;
    struct berth_migrate_stats st;
    struct berth_migrate_opts o;
    char *to = berth_xasprintf("%s/new", berth_test_tmpdir());

    folder_open(&src, "src", 1);
    put_blob(src.bs, 'a', 3000, &a);
    reference(&src, "team/app", &a, 3000, 1);
    folder_close(&src);
    memset(&o, 0, sizeof(o));
    o.from.data = src.data;
    o.to.data = to;
    o.dry_run = 1;
    ASSERT_OK(berth_migrate_run(&o, &st, &err));
    ASSERT_EQ_U64(st.blobs_copied, 1);
    ASSERT_EQ_U64(st.bytes_copied, 3000);
    ASSERT_EQ_INT(st.target_fresh, 1);
    ASSERT_TRUE(st.rows > 5);
    ASSERT_TRUE(access(to, F_OK) != 0);
    berth_migrate_stats_release(&st);
    free(to);
    folder_free(&src);
}

TEST(migrate_refusals)
{
    struct berth_err err = BERTH_ERR_INIT;
    struct folder src, full, dst;
    struct berth_digest a;
    struct berth_migrate_stats st;
    struct berth_migrate_opts o;
    uint64_t size = 0;
    char *p;

    folder_open(&src, "src", 1);
    put_blob(src.bs, 'a', 3000, &a);
    reference(&src, "team/app", &a, 3000, 1);
    folder_open(&full, "full", 1); /* a server started there once */
    folder_close(&src);
    folder_close(&full);

    /* a target with other rows: refused before a blob is copied */
    o = opts_for(&src, &full);
    ASSERT_RC(berth_migrate_run(&o, &st, &err), BERTH_EEXIST);
    ASSERT_TRUE(strstr(err.msg, "not empty (registries 1)") != NULL);
    berth_migrate_stats_release(&st);
    ASSERT_OK(berth_blobstore_fs_ops.open(full.data, &(struct berth_blobstore_opts){0}, &full.bs, &err));
    ASSERT_RC(full.bs->ops->stat(full.bs, &a, &size, &err), BERTH_EBLOBUNKNOWN);
    folder_close(&full);

    /* one store on both sides */
    o = opts_for(&src, &src);
    ASSERT_RC(berth_migrate_run(&o, &st, &err), BERTH_EINVAL);
    berth_migrate_stats_release(&st);

    /* a store URL carrying a key is refused, and the key never shown */
    folder_open(&dst, "dst", 0);
    folder_close(&dst);
    o = opts_for(&src, &dst);
    o.to.store = "s3://key:secret@bucket/prefix?endpoint=http://host";
    ASSERT_RC(berth_migrate_run(&o, &st, &err), BERTH_ECONFIG);
    ASSERT_TRUE(strstr(err.msg, "credentials") != NULL && strstr(err.msg, "secret") == NULL);
    berth_migrate_stats_release(&st);

    /* a signing key of the same name with other bytes is never overwritten */
    p = berth_xasprintf("%s/keys", src.data);
    ASSERT_OK(berth_mkdirs(p, &err));
    free(p);
    p = berth_xasprintf("%s/keys/kid1.pem", src.data);
    write_file(p, "source key");
    free(p);
    p = berth_xasprintf("%s/keys", dst.data);
    ASSERT_OK(berth_mkdirs(p, &err));
    free(p);
    p = berth_xasprintf("%s/keys/kid1.pem", dst.data);
    write_file(p, "another key");
    o = opts_for(&src, &dst);
    ASSERT_RC(berth_migrate_run(&o, &st, &err), BERTH_EEXIST);
    ASSERT_TRUE(strstr(err.msg, "kid1.pem") != NULL);
    berth_migrate_stats_release(&st);
    {
        char *text = NULL;
        size_t len = 0;
        ASSERT_OK(berth_read_file(p, 100, &text, &len, &err));
        ASSERT_EQ_STR(text, "another key");
        free(text);
    }
    free(p);

    /* no source */
    o = opts_for(&src, &dst);
    o.from.data = "/nonexistent/berth";
    ASSERT_RC(berth_migrate_run(&o, &st, &err), BERTH_ENOENT);
    berth_migrate_stats_release(&st);
    folder_free(&src);
    folder_free(&full);
    folder_free(&dst);
}

TEST(migrate_store_choice_is_serve_s)
{
    struct berth_err err = BERTH_ERR_INIT;
    struct berth_migrate_side s = {"/srv/berth", "", NULL};
    const struct berth_blobstore_ops *ops = NULL;
    char *root = NULL, *shown = NULL;

    ASSERT_OK(side_store_choose(&s, &ops, &root, &shown, &err));
    ASSERT_TRUE(ops == &berth_blobstore_fs_ops);
    ASSERT_EQ_STR(root, "/srv/berth");
    ASSERT_EQ_STR(shown, "/srv/berth");
    free(root);
    free(shown);
    s.store = "s3://bkt/p?endpoint=x";
    ASSERT_OK(side_store_choose(&s, &ops, &root, &shown, &err));
    ASSERT_TRUE(ops == &berth_blobstore_s3_ops);
    ASSERT_EQ_STR(root, "s3://bkt/p?endpoint=x");
    ASSERT_EQ_STR(shown, "s3://bkt/p");
    free(root);
    free(shown);
    s.store = "ftp://x";
    ASSERT_RC(side_store_choose(&s, &ops, &root, &shown, &err), BERTH_ECONFIG);
    ASSERT_TRUE(root == NULL && shown == NULL);
}
