/*
 * test_backup.c - berth backup and restore's service (backup.c): backup.json
 * written and read back, the refusals, a backup of a folder (only the
 * referenced blobs, hard-linked), a second one into the same folder, blobs
 * gone after the snapshot, a restore, and what a restore refuses (a
 * non-empty target, a corrupt blob, a database backup.json does not
 * describe). With a server, pushes and gc: tests/e2e/0710-backup.sh.
 */
#include <fcntl.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>
#include "../../src/service/backup.c"
#include "gc.h"
#include "test.h"

#define ASSERT_OK(expr)                                                                             \
    do {                                                                                            \
        enum berth_rc r_ = (expr);                                                                  \
        if (r_ != BERTH_OK) BERTH_TEST_FAIL("%s: %s: %s", #expr, berth_rc_name(r_), err.msg);       \
    } while (0)

static void sample_info(struct berth_backup_info *in)
{
    memset(in, 0, sizeof(*in));
    in->format = BERTH_BACKUP_FORMAT;
    in->created_s = 1796645721;
    snprintf(in->berth_version, sizeof(in->berth_version), "0.1.0");
    in->schema_version = 12;
    in->db_bytes = 241664;
    snprintf(in->db_sha256, sizeof(in->db_sha256), "%064x", 7);
    in->blobs = 3;
    in->blob_bytes = 45099;
    in->keys = 1;
    in->tables.n = 1;
    in->tables.t[0].name = "repositories";
    in->tables.t[0].rows = 2;
}

TEST(backup_info_round_trip)
{
    struct berth_err err = BERTH_ERR_INIT;
    struct berth_backup_info in, out;
    struct berth_buf b = BERTH_BUF_INIT(0);

    sample_info(&in);
    berth_backup_info_json(&in, &b);
    ASSERT_TRUE(strstr(berth_buf_str(&b), "\"created\": \"2026-12-07T12:15:21Z\"") != NULL);
    ASSERT_TRUE(strstr(berth_buf_str(&b), "\"repositories\": 2") != NULL);
    ASSERT_OK(berth_backup_info_parse(b.p, b.len, &out, &err));
    ASSERT_EQ_INT(out.format, 1);
    ASSERT_EQ_INT(out.created_s, in.created_s);
    ASSERT_EQ_STR(out.berth_version, "0.1.0");
    ASSERT_EQ_INT(out.schema_version, 12);
    ASSERT_EQ_U64(out.db_bytes, 241664);
    ASSERT_EQ_STR(out.db_sha256, in.db_sha256);
    ASSERT_EQ_U64(out.blobs, 3);
    ASSERT_EQ_U64(out.blob_bytes, 45099);
    ASSERT_EQ_U64(out.keys, 1);
    berth_buf_release(&b);
}

/* The message berth_backup_info_parse gives text, or "" when it takes it. */
static const char *parse_msg(const char *text)
{
    static struct berth_err err;
    struct berth_backup_info out;

    berth_err_clear(&err);
    if (berth_backup_info_parse(text, strlen(text), &out, &err) == BERTH_OK) return "";
    ASSERT_EQ_INT(err.code, BERTH_EINVAL);
    return err.msg;
}

TEST(backup_info_parse_refuses)
{
    struct berth_backup_info in;
    struct berth_buf b = BERTH_BUF_INIT(0);
    char *t;

    ASSERT_TRUE(strstr(parse_msg("{"), "not JSON") != NULL);
    ASSERT_TRUE(strstr(parse_msg("{\"format\":\"other\",\"formatVersion\":1}"), "not a berth backup") != NULL);
    ASSERT_TRUE(strstr(parse_msg("{\"format\":\"berth-backup\",\"formatVersion\":2}"), "format version is 2") != NULL);
    ASSERT_TRUE(strstr(parse_msg("{\"format\":\"berth-backup\",\"formatVersion\":1}"), "backup.json: ") != NULL);
    sample_info(&in);
    berth_backup_info_json(&in, &b);
    ASSERT_EQ_STR(parse_msg(b.p), "");
    t = berth_xstrdup(b.p);
    memcpy(strstr(t, "0000007"), "000000X", 7); /* not hex */
    ASSERT_TRUE(strstr(parse_msg(t), "out of range") != NULL);
    free(t);
    berth_buf_release(&b);
}

TEST(backup_refuses_shared_deployments)
{
    struct berth_err err = BERTH_ERR_INIT;

    ASSERT_RC(berth_backup_refuse_shared("backup", "postgresql://u@/db", "", &err), BERTH_EUNSUPPORTED);
    ASSERT_TRUE(strstr(err.msg, "pg_dump") != NULL);
    ASSERT_TRUE(strstr(err.msg, "docs/operations.md") != NULL);
    ASSERT_RC(berth_backup_refuse_shared("restore", NULL, "s3://b?endpoint=http://h", &err), BERTH_EUNSUPPORTED);
    ASSERT_TRUE(strstr(err.msg, "berth restore") != NULL);
    ASSERT_TRUE(strstr(err.msg, "versioning or replication") != NULL);
    ASSERT_RC(berth_backup_refuse_shared("backup", "", NULL, &err), BERTH_OK);
}

/* ---- a data folder ---- */

struct folder {
    char *data;
    struct berth_blobstore *bs;
    struct berth_meta *m;
    int64_t reg;
};

static void folder_open(struct folder *f)
{
    struct berth_err err = BERTH_ERR_INIT;
    struct berth_blobstore_opts opts = {0};
    struct berth_meta_registry r;
    char *db;

    memset(f, 0, sizeof(*f));
    f->data = berth_xasprintf("%s/data", berth_test_tmpdir());
    ASSERT_OK(berth_mkdirs(f->data, &err));
    ASSERT_OK(berth_blobstore_fs_ops.open(f->data, &opts, &f->bs, &err));
    db = berth_xasprintf("%s/berth.db", f->data);
    ASSERT_OK(berth_meta_sqlite_ops.open(db, &f->m, &err));
    free(db);
    memset(&r, 0, sizeof(r));
    snprintf(r.name, sizeof(r.name), "default");
    ASSERT_OK(f->m->reg->registry_create(f->m, &r, &err));
    f->reg = r.id;
}

static void folder_free(struct folder *f)
{
    if (f->m) f->m->ops->close(f->m);
    if (f->bs) f->bs->ops->close(f->bs);
    free(f->data);
}

/* n bytes of byte c as a blob of the store, claimed for repository "r" unless orphan. */
static void add_blob(struct folder *f, int c, size_t n, int orphan, struct berth_digest *d)
{
    struct berth_err err = BERTH_ERR_INIT;
    struct berth_upload_writer *w = NULL;
    struct berth_meta_claim cl = {0};
    unsigned char *p = berth_xmalloc(n);
    char id[37];

    memset(p, c, n);
    berth_digest_of(BERTH_DIGEST_SHA256, p, n, d);
    berth_uuid(id);
    ASSERT_OK(f->bs->ops->upload_create(f->bs, id, &w, &err));
    ASSERT_OK(berth_upload_writer_append(w, p, n, &err));
    ASSERT_OK(berth_upload_writer_commit(w, d, 0, &err));
    berth_upload_writer_close(w, NULL);
    free(p);
    if (orphan) return;
    cl.reg = f->reg;
    cl.repo = "r";
    cl.digest = d;
    cl.size = (int64_t)n;
    ASSERT_OK(f->m->content->blob_claim(f->m, &cl, &err));
}

static char *blob_file(const char *root, const struct berth_digest *d)
{
    const char *hex = berth_digest_hex(d);
    return berth_xasprintf("%s/blobs/sha256/%.2s/%s", root, hex, hex);
}

/* The data folder loses d's bytes while its record stays (as after gc's reap, seen from a snapshot before it). */
static void drop_bytes(const struct folder *f, const struct berth_digest *d)
{
    char *p = blob_file(f->data, d);
    ASSERT_TRUE(unlink(p) == 0);
    free(p);
}

static int exists(const char *path)
{
    return access(path, F_OK) == 0;
}

static ino_t inode_of(const char *path)
{
    struct stat sb;
    ASSERT_TRUE(stat(path, &sb) == 0);
    return sb.st_ino;
}

static struct berth_backup_opts opts_for(const struct folder *f, const char *dir, const char *to)
{
    struct berth_backup_opts o;

    memset(&o, 0, sizeof(o));
    o.data = f->data;
    o.dir = dir;
    o.to = to;
    return o;
}

TEST(backup_then_restore_a_folder)
{
    struct berth_err err = BERTH_ERR_INIT;
    struct berth_backup_stats st;
    struct berth_backup_opts o;
    struct berth_digest a, b, orphan;
    struct folder f;
    char *dir = berth_xasprintf("%s/bk", berth_test_tmpdir()), *to = berth_xasprintf("%s/new", berth_test_tmpdir());
    char *pa, *pb, *po, *text = NULL;
    size_t len = 0;
    struct berth_backup_info info;
    ino_t ia;

    folder_open(&f);
    add_blob(&f, 'a', 1000, 0, &a);
    add_blob(&f, 'b', 70000, 0, &b);
    add_blob(&f, 'o', 10, 1, &orphan);
    o = opts_for(&f, dir, to);
    ASSERT_OK(berth_backup_run(&o, &st, &err));
    ASSERT_EQ_U64(st.info.blobs, 2);
    ASSERT_EQ_U64(st.info.blob_bytes, 71000);
    ASSERT_EQ_U64(st.linked, 2);
    ASSERT_EQ_INT(st.rounds, 1);
    pa = blob_file(dir, &a);
    pb = blob_file(dir, &b);
    po = blob_file(dir, &orphan);
    ASSERT_TRUE(exists(pa) && exists(pb));
    ASSERT_TRUE(!exists(po)); /* only what the snapshot references */
    ia = inode_of(pa);
    {
        char *src = blob_file(f.data, &a);
        ASSERT_EQ_U64(ia, inode_of(src)); /* a hard link */
        free(src);
    }
    {
        char *p = berth_xasprintf("%s/backup.json", dir);
        ASSERT_OK(berth_read_file(p, 1 << 20, &text, &len, &err));
        ASSERT_OK(berth_backup_info_parse(text, len, &info, &err));
        ASSERT_EQ_U64(info.blobs, 2);
        free(p);
        free(text);
    }

    /* a second backup: nothing to fetch */
    ASSERT_OK(berth_backup_run(&o, &st, &err));
    ASSERT_EQ_U64(st.present, 2);
    ASSERT_EQ_U64(st.linked + st.copied, 0);
    ASSERT_EQ_U64(ia, inode_of(pa));
    /* restore */
    ASSERT_OK(berth_restore_run(&o, &st, &err));
    ASSERT_EQ_U64(st.copied, 2);
    {
        char *ra = blob_file(to, &a), *db = berth_xasprintf("%s/berth.db", to);
        ASSERT_TRUE(exists(ra) && exists(db));
        ASSERT_TRUE(inode_of(ra) != ia); /* a copy, not a link to the backup */
        free(ra);
        free(db);
    }
    ASSERT_RC(berth_restore_run(&o, &st, &err), BERTH_EEXIST);
    ASSERT_TRUE(strstr(err.msg, "not empty") != NULL);

    /* gc removed them all: a backup no longer holds them */
    {
        struct berth_gc_opts go = {0};
        struct berth_gc_stats gs;
        ASSERT_OK(f.m->content->blob_unlink(f.m, f.reg, "r", &b, &err));
        ASSERT_OK(berth_gc_run(f.m, f.bs, &go, &gs, &err));
        ASSERT_EQ_U64(gs.blobs_deleted, 3); /* with no grace, unreferenced links go too */
    }
    ASSERT_OK(berth_backup_run(&o, &st, &err));
    ASSERT_EQ_U64(st.info.blobs, 0);
    ASSERT_EQ_U64(st.pruned, 2);
    ASSERT_TRUE(!exists(pa) && !exists(pb));

    folder_free(&f);
    free(pa);
    free(pb);
    free(po);
    free(dir);
    free(to);
}

TEST(backup_takes_another_snapshot_when_blobs_go)
{
    struct berth_err err = BERTH_ERR_INIT;
    struct berth_backup_stats st;
    struct berth_backup_opts o;
    struct berth_digest a, b;
    struct folder f;
    char *dir = berth_xasprintf("%s/bk", berth_test_tmpdir()), *info;

    folder_open(&f);
    add_blob(&f, 'a', 100, 0, &a);
    add_blob(&f, 'b', 100, 0, &b);
    /* b's row stays and its bytes go: every snapshot references a blob the folder lacks */
    drop_bytes(&f, &b);
    o = opts_for(&f, dir, NULL);
    ASSERT_RC(berth_backup_run(&o, &st, &err), BERTH_EBUSY);
    ASSERT_EQ_INT(st.rounds, BERTH_BACKUP_ROUNDS);
    ASSERT_EQ_U64(st.vanished, BERTH_BACKUP_ROUNDS);
    ASSERT_TRUE(strstr(err.msg, "gc kept removing") != NULL);
    info = berth_xasprintf("%s/backup.json", dir);
    ASSERT_TRUE(!exists(info)); /* a backup that failed never looks complete */
    free(info);
    folder_free(&f);
    free(dir);
}

/* After the first round's blobs: the repository lets go of the blob whose bytes went, as gc's sweep would. */
struct let_go {
    struct folder *f;
    const struct berth_digest *d;
    int done;
};

/* The bytes went already (the test removed the file). */
static enum berth_rc no_bytes(void *ctx, struct berth_err *err)
{
    (void)ctx;
    (void)err;
    return BERTH_OK;
}

static void let_go_after_round_1(const struct berth_backup_progress *p, int final, void *ctx)
{
    struct berth_err err = BERTH_ERR_INIT;
    struct let_go *g = ctx;

    int reaped = 0;

    if (g->done || !final || p->phase != BERTH_BACKUP_BLOBS || p->round != 1) return;
    ASSERT_OK(g->f->m->content->blob_unlink(g->f->m, g->f->reg, "r", g->d, &err));
    ASSERT_OK(g->f->m->content->blob_reap(g->f->m, g->d, 0, 0, no_bytes, NULL, &reaped, &err));
    ASSERT_EQ_INT(reaped, 1);
    g->done = 1;
}

/* Two rounds: the blobs the first linked count as linked, not as already there, and the counts add up. */
TEST(backup_counts_add_up_over_rounds)
{
    struct berth_err err = BERTH_ERR_INIT;
    struct berth_backup_stats st;
    struct berth_backup_opts o;
    struct berth_digest a, b, c;
    struct folder f;
    struct let_go g = {&f, &b, 0};
    char *dir = berth_xasprintf("%s/bk", berth_test_tmpdir());

    folder_open(&f);
    add_blob(&f, 'a', 100, 0, &a);
    add_blob(&f, 'b', 200, 0, &b);
    add_blob(&f, 'c', 300, 0, &c);
    drop_bytes(&f, &b);
    o = opts_for(&f, dir, NULL);
    o.progress = let_go_after_round_1;
    o.ctx = &g;
    ASSERT_OK(berth_backup_run(&o, &st, &err));
    ASSERT_EQ_INT(st.rounds, 2);
    ASSERT_EQ_U64(st.vanished, 1);
    ASSERT_EQ_U64(st.info.blobs, 2);
    ASSERT_EQ_U64(st.linked, 2);
    ASSERT_EQ_U64(st.present + st.copied, 0);
    ASSERT_EQ_U64(st.bytes_present, 0);
    /* a second backup finds both already there */
    o.progress = NULL;
    ASSERT_OK(berth_backup_run(&o, &st, &err));
    ASSERT_EQ_INT(st.rounds, 1);
    ASSERT_EQ_U64(st.present, 2);
    ASSERT_EQ_U64(st.bytes_present, 400);
    ASSERT_EQ_U64(st.linked + st.copied, 0);
    folder_free(&f);
    free(dir);
}

TEST(restore_refuses_a_corrupt_blob_and_a_foreign_database)
{
    struct berth_err err = BERTH_ERR_INIT;
    struct berth_backup_stats st;
    struct berth_backup_opts o;
    struct berth_digest a;
    struct folder f;
    char *dir = berth_xasprintf("%s/bk", berth_test_tmpdir()), *to = berth_xasprintf("%s/new", berth_test_tmpdir());
    char *p, *db;
    int fd;

    folder_open(&f);
    add_blob(&f, 'a', 5000, 0, &a);
    o = opts_for(&f, dir, to);
    ASSERT_OK(berth_backup_run(&o, &st, &err));
    /* a new file under the blob's name: the link to the data folder's file stays intact */
    p = blob_file(dir, &a);
    ASSERT_TRUE(unlink(p) == 0);
    fd = open(p, O_WRONLY | O_CREAT, 0600);
    ASSERT_TRUE(fd >= 0 && write(fd, "not the bytes", 13) == 13);
    close(fd);
    ASSERT_RC(berth_restore_run(&o, &st, &err), BERTH_EDIGEST);
    ASSERT_TRUE(strstr(err.msg, a.s) != NULL);
    ASSERT_TRUE(strstr(err.msg, "corrupt") != NULL);
    ASSERT_TRUE(st.unfinished);
    free(p);

    /* backup.json describes another berth.db: a backup that did not finish */
    ASSERT_OK(berth_backup_run(&o, &st, &err));
    db = berth_xasprintf("%s/berth.db", dir);
    fd = open(db, O_WRONLY | O_APPEND);
    ASSERT_TRUE(fd >= 0 && write(fd, "x", 1) == 1);
    close(fd);
    o.to = berth_test_tmpdir(); /* not empty: refused before anything else */
    ASSERT_RC(berth_restore_run(&o, &st, &err), BERTH_EEXIST);
    p = berth_xasprintf("%s/other", berth_test_tmpdir());
    o.to = p;
    ASSERT_RC(berth_restore_run(&o, &st, &err), BERTH_EDB);
    ASSERT_TRUE(strstr(err.msg, "is not the database backup.json describes") != NULL);
    free(p);
    free(db);
    folder_free(&f);
    free(dir);
    free(to);
}
