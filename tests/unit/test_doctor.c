/*
 * test_doctor.c - the server health checks (src/http/doctor.c): every code
 * produced for real in a temp data folder (a file where a folder belongs, a
 * damaged database page, a schema version from the future, a key file open
 * to others, certificates built here with any validity period), the READY
 * subset /readyz runs, the text and JSON reports, and the read-only database
 * inspection behind them.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <jansson.h>
#include <sqlite3.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include "alloc.h"
#include "auth.h"
#include "config.h"
#include "doctor.h"
#include "meta.h"
#include "util.h"
#include "test.h"

#define DAY 86400L

/* ---------------------------------------------------------------- helpers */

static char *tmp_path(const char *name)
{
    return berth_xasprintf("%s/%s", berth_test_tmpdir(), name);
}

static void cfg_at(struct berth_config *cfg, const char *data)
{
    berth_config_init(cfg);
    if (berth_config_set(cfg, "data", data, NULL) != BERTH_OK) BERTH_TEST_FAIL("cannot set data");
}

static void cfg_put(struct berth_config *cfg, const char *key, const char *value)
{
    struct berth_err err = BERTH_ERR_INIT;
    if (berth_config_set(cfg, key, value, &err) != BERTH_OK) BERTH_TEST_FAIL("config %s: %s", key, err.msg);
}

/* A data folder as berth serve leaves it: uploads/, blobs/, a migrated database, one key. */
static char *served_folder(const char *name)
{
    struct berth_err err = BERTH_ERR_INIT;
    struct berth_meta *m = NULL;
    struct berth_keyring *kr = NULL;
    char *data = tmp_path(name), *p;

    p = berth_xasprintf("%s/uploads", data);
    if (berth_mkdirs(p, &err)) BERTH_TEST_FAIL("mkdirs: %s", err.msg);
    free(p);
    p = berth_xasprintf("%s/berth.db", data);
    if (berth_meta_sqlite_ops.open(p, &m, &err)) BERTH_TEST_FAIL("meta open: %s", err.msg);
    berth_meta_sqlite_ops.close(m);
    free(p);
    p = berth_xasprintf("%s/keys", data);
    if (berth_keyring_open(p, &kr, &err)) BERTH_TEST_FAIL("keyring: %s", err.msg);
    berth_keyring_close(kr);
    free(p);
    return data;
}

static void run_full(const struct berth_config *cfg, int64_t now_ms, struct berth_doctor_report *r)
{
    struct berth_doctor_input in;

    memset(&in, 0, sizeof(in));
    in.cfg = cfg;
    in.meta_ops = &berth_meta_sqlite_ops;
    in.now_ms = now_ms;
    berth_doctor_run(&in, BERTH_DOCTOR_FULL, r);
}

static const struct berth_check *check_named(const struct berth_doctor_report *r, const char *name)
{
    size_t i;
    for (i = 0; i < r->n; i++)
        if (!strcmp(r->checks[i].name, name)) return &r->checks[i];
    BERTH_TEST_FAIL("no check named '%s' in the report", name);
}

/* The named check has this status and code (code "" for OK). */
#define ASSERT_CHECK(r, name, want_st, want_code)                                                 \
    do {                                                                                          \
        const struct berth_check *k_ = check_named((r), (name));                                  \
        if (k_->status != (want_st) || strcmp(berth_doctor_code_name(k_->code), (want_code)) != 0) \
            BERTH_TEST_FAIL("check '%s': got %s %s (%s), want %s %s", (name),                     \
                            berth_doctor_status_name(k_->status), berth_doctor_code_name(k_->code), \
                            k_->message, berth_doctor_status_name(want_st), (want_code));         \
    } while (0)

/* The named check's message contains part. */
#define ASSERT_CHECK_SAYS(r, name, part)                                                          \
    do {                                                                                          \
        const char *m_ = check_named((r), (name))->message;                                       \
        if (!strstr(m_, (part))) BERTH_TEST_FAIL("check '%s' says \"%s\", not \"%s\"", (name), m_, (part)); \
    } while (0)

/* berth doctor on data with the default settings: the named check is st/code and its message says part. */
static void expect_folder(const char *data, const char *name, enum berth_check_status st, const char *code,
                          const char *part)
{
    struct berth_config cfg;
    struct berth_doctor_report r;

    cfg_at(&cfg, data);
    run_full(&cfg, 0, &r);
    ASSERT_CHECK(&r, name, st, code);
    ASSERT_CHECK_SAYS(&r, name, part);
    berth_config_release(&cfg);
}

static void write_bytes(const char *path, const char *data, size_t len, mode_t mode)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, mode);
    if (fd < 0 || write(fd, data, len) != (ssize_t)len) BERTH_TEST_FAIL("cannot write %s", path);
    close(fd);
    if (chmod(path, mode) != 0) BERTH_TEST_FAIL("cannot chmod %s", path);
}

static void set_user_version(const char *path, int v)
{
    char sql[64];
    sqlite3 *db = NULL;
    int s;

    snprintf(sql, sizeof(sql), "PRAGMA user_version = %d", v);
    s = sqlite3_open_v2(path, &db, SQLITE_OPEN_READWRITE, NULL);
    if (s == SQLITE_OK) s = sqlite3_exec(db, sql, NULL, NULL, NULL);
    sqlite3_close(db);
    if (s != SQLITE_OK) BERTH_TEST_FAIL("cannot set user_version of %s", path);
}

/* The schema version as the driver's inspect reads it. */
static int schema_version(const char *path)
{
    struct berth_meta_inspect ins;
    struct berth_err err = BERTH_ERR_INIT;

    ASSERT_RC(berth_meta_sqlite_ops.inspect(path, &ins, &err), BERTH_OK);
    return ins.version;
}

/* The one key file of <data>/keys. */
static char *key_file(const char *data)
{
    char *cmd = berth_xasprintf("ls %s/keys/*.pem", data), line[1024];
    FILE *p = popen(cmd, "r");
    size_t n;

    if (!p || !fgets(line, sizeof(line), p)) BERTH_TEST_FAIL("no key file in %s/keys", data);
    pclose(p);
    free(cmd);
    n = strlen(line);
    if (n && line[n - 1] == '\n') line[n - 1] = '\0';
    return berth_xstrdup(line);
}

/* A self-signed P-256 certificate for pk valid from now+from_s to now+to_s, as PEM at path. */
static void write_cert(const char *path, EVP_PKEY *pk, long from_s, long to_s)
{
    X509 *x = X509_new();
    X509_NAME *name;
    FILE *f;

    ASSERT_TRUE(x != NULL);
    X509_set_version(x, 2);
    ASN1_INTEGER_set(X509_get_serialNumber(x), 1);
    X509_gmtime_adj(X509_getm_notBefore(x), from_s);
    X509_gmtime_adj(X509_getm_notAfter(x), to_s);
    X509_set_pubkey(x, pk);
    name = X509_get_subject_name(x);
    X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC, (const unsigned char *)"localhost", -1, -1, 0);
    X509_set_issuer_name(x, name);
    ASSERT_TRUE(X509_sign(x, pk, EVP_sha256()) > 0);
    f = fopen(path, "w");
    ASSERT_TRUE(f != NULL);
    ASSERT_TRUE(PEM_write_X509(f, x) == 1);
    fclose(f);
    X509_free(x);
}

static void write_key(const char *path, EVP_PKEY *pk)
{
    FILE *f = fopen(path, "w");
    ASSERT_TRUE(f != NULL);
    ASSERT_TRUE(PEM_write_PrivateKey(f, pk, NULL, NULL, 0, NULL, NULL) == 1);
    fclose(f);
}

static void set_mtime(const char *path, time_t t)
{
    struct timespec ts[2] = {{t, 0}, {t, 0}};
    if (utimensat(AT_FDCWD, path, ts, 0) != 0) BERTH_TEST_FAIL("utimensat %s", path);
}

/* ---------------------------------------------------------------- whole folders */

TEST(doctor_served_folder_passes)
{
    char *data = served_folder("d");
    struct berth_config cfg;
    struct berth_doctor_report r;
    struct berth_buf b = BERTH_BUF_INIT(0);
    json_t *root;
    json_error_t jerr;
    size_t i;

    cfg_at(&cfg, data);
    run_full(&cfg, 0, &r);
    ASSERT_EQ_INT(r.n, 5);
    for (i = 0; i < r.n; i++) {
        if (r.checks[i].status != BERTH_CHECK_OK)
            BERTH_TEST_FAIL("%s: %s %s", r.checks[i].name, berth_doctor_code_name(r.checks[i].code),
                            r.checks[i].message);
        ASSERT_EQ_STR(r.checks[i].fix, "");
    }
    ASSERT_EQ_INT(berth_doctor_worst(&r), BERTH_CHECK_OK);
    ASSERT_CHECK_SAYS(&r, "data folder", "is writable");
    ASSERT_CHECK_SAYS(&r, "database", "intact");

    berth_doctor_text(&r, &b);
    ASSERT_TRUE(strncmp(berth_buf_str(&b), "OK      data folder      ", 25) == 0);
    ASSERT_TRUE(strstr(berth_buf_str(&b), "\nOK      signing keys     1 key file in ") != NULL);
    berth_buf_reset(&b);
    berth_doctor_json(&r, &b);
    root = json_loads(berth_buf_str(&b), 0, &jerr);
    ASSERT_TRUE(root != NULL);
    ASSERT_TRUE(json_is_true(json_object_get(root, "ok")));
    ASSERT_EQ_INT(json_array_size(json_object_get(root, "checks")), 5);
    ASSERT_EQ_STR(json_string_value(json_object_get(json_array_get(json_object_get(root, "checks"), 1), "name")),
                  "database");
    ASSERT_EQ_STR(json_string_value(json_object_get(json_array_get(json_object_get(root, "checks"), 1), "code")), "");
    json_decref(root);
    berth_buf_release(&b);
    berth_config_release(&cfg);
    free(data);
}

TEST(doctor_new_folder_warns_and_creates_nothing)
{
    char *data = tmp_path("new"), *db = tmp_path("new/berth.db"), *keys = tmp_path("new/keys");
    struct berth_config cfg;
    struct berth_doctor_report r;
    struct stat st;

    ASSERT_EQ_INT(mkdir(data, 0700), 0);
    cfg_at(&cfg, data);
    run_full(&cfg, 0, &r);
    ASSERT_CHECK(&r, "data folder", BERTH_CHECK_OK, "");
    ASSERT_CHECK(&r, "database", BERTH_CHECK_WARNING, "DB_SCHEMA_OLD");
    ASSERT_CHECK(&r, "signing keys", BERTH_CHECK_WARNING, "KEYS_MISSING");
    ASSERT_TRUE(strstr(check_named(&r, "signing keys")->fix, "berth serve --data") != NULL);
    ASSERT_EQ_INT(berth_doctor_worst(&r), BERTH_CHECK_WARNING);
    ASSERT_TRUE(stat(db, &st) != 0 && errno == ENOENT);
    ASSERT_TRUE(stat(keys, &st) != 0 && errno == ENOENT);
    berth_config_release(&cfg);
    free(data);
    free(db);
    free(keys);
}

/* ---------------------------------------------------------------- data folder */

TEST(doctor_data_dir_missing)
{
    char *gone = tmp_path("gone"), *file = tmp_path("file");

    expect_folder(gone, "data folder", BERTH_CHECK_ERROR, "DATA_DIR_MISSING", "does not exist");
    write_bytes(file, "x", 1, 0600);
    expect_folder(file, "data folder", BERTH_CHECK_ERROR, "DATA_DIR_MISSING", "is not a folder");
    free(gone);
    free(file);
}

/* chmod does not stop root, so the failures here are ones root meets too. */
TEST(doctor_data_dir_not_writable)
{
    char *data = served_folder("d"), *uploads = berth_xasprintf("%s/uploads", data);

    /* uploads/ replaced by a plain file: no upload can be written */
    ASSERT_EQ_INT(rmdir(uploads), 0);
    write_bytes(uploads, "", 0, 0600);
    expect_folder(data, "data folder", BERTH_CHECK_ERROR, "DATA_DIR_NOT_WRITABLE", uploads);
    /* sysfs refuses new files to root as well */
    expect_folder("/sys/kernel", "data folder", BERTH_CHECK_ERROR, "DATA_DIR_NOT_WRITABLE",
                  "cannot create a file in /sys/kernel");
    free(uploads);
    free(data);
}

/* A small tmpfs is a real file system with little free space; without the right to mount, the test is skipped. */
TEST(doctor_disk_space_low)
{
    static const struct {
        const char *size;
        enum berth_check_status want;
    } cases[] = {{"size=50m", BERTH_CHECK_ERROR}, {"size=600m", BERTH_CHECK_WARNING}};
    char *mnt = tmp_path("small");
    struct berth_config cfg;
    struct berth_doctor_report r;
    size_t i;

    ASSERT_EQ_INT(mkdir(mnt, 0700), 0);
    for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        if (mount("tmpfs", mnt, "tmpfs", 0, cases[i].size) != 0)
            TEST_SKIP("cannot mount a tmpfs (%s): DISK_SPACE_LOW not produced", strerror(errno));
        cfg_at(&cfg, mnt);
        run_full(&cfg, 0, &r);
        umount2(mnt, MNT_DETACH);
        ASSERT_CHECK(&r, "data folder", cases[i].want, "DISK_SPACE_LOW");
        ASSERT_TRUE(strstr(check_named(&r, "data folder")->fix, "berth gc") != NULL);
        berth_config_release(&cfg);
    }
    free(mnt);
}

/* Writes to a file in dir until the file system says ENOSPC. */
static void fill_up(const char *dir)
{
    char *path = berth_xasprintf("%s/filler", dir), block[65536];
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    ssize_t n = 1;

    ASSERT_TRUE(fd >= 0);
    memset(block, 'x', sizeof(block));
    while (n > 0) n = write(fd, block, sizeof(block));
    ASSERT_EQ_INT(errno, ENOSPC);
    close(fd);
    free(path);
}

/* A full file system is named as such, for berth doctor and for /readyz, not taken for a permission problem. */
TEST(doctor_disk_full)
{
    char *mnt = tmp_path("full"), *uploads = tmp_path("full/uploads");
    struct berth_config cfg;
    struct berth_doctor_input in;
    struct berth_doctor_report full, ready;

    ASSERT_EQ_INT(mkdir(mnt, 0700), 0);
    if (mount("tmpfs", mnt, "tmpfs", 0, "size=1m") != 0)
        TEST_SKIP("cannot mount a tmpfs (%s): DISK_FULL not produced", strerror(errno));
    ASSERT_EQ_INT(mkdir(uploads, 0700), 0);
    fill_up(mnt);
    cfg_at(&cfg, mnt);
    run_full(&cfg, 0, &full);
    memset(&in, 0, sizeof(in));
    in.cfg = &cfg;
    berth_doctor_run(&in, BERTH_DOCTOR_READY, &ready);
    umount2(mnt, MNT_DETACH);
    ASSERT_CHECK(&full, "data folder", BERTH_CHECK_ERROR, "DISK_FULL");
    ASSERT_CHECK_SAYS(&full, "data folder", "no space left");
    ASSERT_TRUE(strstr(check_named(&full, "data folder")->fix, "free space") != NULL);
    ASSERT_CHECK(&ready, "data folder", BERTH_CHECK_ERROR, "DISK_FULL");
    ASSERT_CHECK_SAYS(&ready, "data folder", "no space left");
    berth_config_release(&cfg);
    free(uploads);
    free(mnt);
}

/* ---------------------------------------------------------------- database */

static void overwrite(const char *path, off_t at, size_t n)
{
    char junk[512];
    int fd = open(path, O_WRONLY);

    ASSERT_TRUE(fd >= 0 && n <= sizeof(junk));
    memset(junk, 0xa5, n);
    ASSERT_EQ_INT(pwrite(fd, junk, n, at), (long long)n);
    close(fd);
}

TEST(doctor_db_corrupt)
{
    char *data = served_folder("d"), *db = berth_xasprintf("%s/berth.db", data);

    overwrite(db, 4096, 512); /* the b-tree header of page 2 and what follows it */
    expect_folder(data, "database", BERTH_CHECK_ERROR, "DB_CORRUPT", "fails its consistency check");
    overwrite(db, 0, 100); /* the file header itself: not a database any more */
    expect_folder(data, "database", BERTH_CHECK_ERROR, "DB_CORRUPT", "fails its consistency check");
    free(db);
    free(data);
}

/* Runs sql on the database at path, outside berth (no foreign keys, as a repair tool would). */
static void db_exec(const char *path, const char *sql)
{
    sqlite3 *db = NULL;
    char *msg = NULL;
    int s = sqlite3_open_v2(path, &db, SQLITE_OPEN_READWRITE, NULL);

    if (s == SQLITE_OK) s = sqlite3_exec(db, sql, NULL, NULL, &msg);
    if (s != SQLITE_OK) BERTH_TEST_FAIL("%s: %s", sql, msg ? msg : sqlite3_errmsg(db));
    sqlite3_free(msg);
    sqlite3_close(db);
}

/* The byte offset of the root page of table in the database at path. */
static off_t root_page_offset(const char *path, const char *table)
{
    sqlite3 *db = NULL;
    sqlite3_stmt *st = NULL;
    off_t at = -1;

    if (sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, NULL) == SQLITE_OK &&
        sqlite3_prepare_v2(db, "SELECT (rootpage - 1) * (SELECT page_size FROM pragma_page_size) FROM sqlite_schema "
                               "WHERE name = ?", -1, &st, NULL) == SQLITE_OK &&
        sqlite3_bind_text(st, 1, table, -1, SQLITE_STATIC) == SQLITE_OK && sqlite3_step(st) == SQLITE_ROW)
        at = (off_t)sqlite3_column_int64(st, 0);
    sqlite3_finalize(st);
    sqlite3_close(db);
    if (at < 0) BERTH_TEST_FAIL("no table %s in %s", table, path);
    return at;
}

/* 300 rows in each WITHOUT ROWID table of references: more than quick_check's 100 findings by default. */
#define MANY_REFERENCES                                                                                            \
    "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 300) "                               \
    "INSERT INTO manifest_blobs SELECT i, 1, printf('sha256:%064x', i) FROM n;"                                 \
    "INSERT INTO manifest_children SELECT * FROM manifest_blobs;"

/*
 * Every database that holds a manifest: SQLite 3.40's check says "NULL value
 * in manifest_blobs.repo_id" for each row of these tables although none is
 * NULL. A real NULL and a damaged index behind those 600 findings still count.
 */
TEST(doctor_db_references_intact)
{
    char *data = served_folder("d"), *db = berth_xasprintf("%s/berth.db", data);
    struct berth_meta_inspect ins;
    struct berth_err err = BERTH_ERR_INIT;

    db_exec(db, MANY_REFERENCES);
    ASSERT_RC(berth_meta_sqlite_ops.inspect(db, &ins, &err), BERTH_OK);
    if (!ins.intact) BERTH_TEST_FAIL("a healthy database fails its check: %s", ins.problem);
    ASSERT_EQ_STR(ins.problem, "");
    expect_folder(data, "database", BERTH_CHECK_OK, "", "is intact");

    /* a real NULL: the constraint dropped from the schema, a row written, the constraint back */
    db_exec(db, "PRAGMA writable_schema = ON;"
                "UPDATE sqlite_schema SET sql = replace(sql, 'repo_id INTEGER NOT NULL', 'repo_id INTEGER') "
                "WHERE name = 'manifest_children';");
    db_exec(db, "INSERT INTO manifest_children VALUES (1000, NULL, 'sha256:null');");
    db_exec(db, "PRAGMA writable_schema = ON;"
                "UPDATE sqlite_schema SET sql = replace(sql, 'repo_id INTEGER,', 'repo_id INTEGER NOT NULL,') "
                "WHERE name = 'manifest_children';");
    expect_folder(data, "database", BERTH_CHECK_ERROR, "DB_CORRUPT", "NULL value in manifest_children.repo_id");
    db_exec(db, "DELETE FROM manifest_children WHERE typeof(repo_id) = 'null';");
    expect_folder(data, "database", BERTH_CHECK_OK, "", "is intact");

    /* a damaged page of the table the false findings come from (written back from the WAL first) */
    db_exec(db, "PRAGMA wal_checkpoint(TRUNCATE);");
    overwrite(db, root_page_offset(db, "manifest_blobs"), 512);
    expect_folder(data, "database", BERTH_CHECK_ERROR, "DB_CORRUPT", "fails its consistency check");
    free(db);
    free(data);
}

TEST(doctor_db_unreadable)
{
    char *data = tmp_path("d"), *db = tmp_path("d/berth.db");

    ASSERT_EQ_INT(mkdir(data, 0700), 0);
    ASSERT_EQ_INT(mkdir(db, 0700), 0); /* a folder where the file belongs */
    expect_folder(data, "database", BERTH_CHECK_ERROR, "DB_UNREADABLE", "not a regular file");
    free(data);
    free(db);
}

TEST(doctor_db_schema_versions)
{
    char *data = served_folder("d"), *db = berth_xasprintf("%s/berth.db", data);
    struct berth_config cfg;
    struct berth_doctor_report r;
    struct berth_meta_inspect ins;
    struct berth_err err = BERTH_ERR_INIT;

    ASSERT_RC(berth_meta_sqlite_ops.inspect(db, &ins, &err), BERTH_OK);
    ASSERT_TRUE(ins.exists && ins.intact);
    ASSERT_EQ_INT(ins.version, ins.latest);
    ASSERT_TRUE(ins.latest >= 5);

    set_user_version(db, 999);
    cfg_at(&cfg, data);
    run_full(&cfg, 0, &r);
    ASSERT_CHECK(&r, "database", BERTH_CHECK_ERROR, "DB_SCHEMA_NEWER");
    ASSERT_CHECK_SAYS(&r, "database", "schema version 999");

    /* older: a warning, and checking does not migrate */
    set_user_version(db, 1);
    run_full(&cfg, 0, &r);
    ASSERT_CHECK(&r, "database", BERTH_CHECK_WARNING, "DB_SCHEMA_OLD");
    ASSERT_TRUE(strstr(check_named(&r, "database")->fix, "berth serve") != NULL);
    ASSERT_EQ_INT(schema_version(db), 1);
    berth_config_release(&cfg);
    free(db);
    free(data);
}

TEST(doctor_inspect_creates_nothing)
{
    char *db = tmp_path("absent.db");
    struct berth_meta_inspect ins;
    struct berth_err err = BERTH_ERR_INIT;
    struct stat st;

    ASSERT_RC(berth_meta_sqlite_ops.inspect(db, &ins, &err), BERTH_OK);
    ASSERT_EQ_INT(ins.exists, 0);
    ASSERT_TRUE(ins.latest >= 5);
    ASSERT_TRUE(stat(db, &st) != 0 && errno == ENOENT);
    ASSERT_RC(berth_meta_sqlite_ops.inspect("", &ins, &err), BERTH_ECONFIG);
    free(db);
}

/* ---------------------------------------------------------------- signing keys */

TEST(doctor_keys_permissions)
{
    char *data = served_folder("d"), *key = key_file(data), *dir = berth_xasprintf("%s/keys", data);
    char *want = berth_xasprintf("chmod 600 %s", key);
    char *msg = berth_xasprintf("%s is readable by others (mode 0644)", key);
    struct berth_config cfg;
    struct berth_doctor_report r;
    struct berth_buf b = BERTH_BUF_INIT(0);

    ASSERT_EQ_INT(chmod(key, 0644), 0);
    cfg_at(&cfg, data);
    run_full(&cfg, 0, &r);
    ASSERT_CHECK(&r, "signing keys", BERTH_CHECK_ERROR, "KEYS_PERMISSIONS");
    ASSERT_EQ_STR(check_named(&r, "signing keys")->message, msg);
    ASSERT_EQ_STR(check_named(&r, "signing keys")->fix, want);
    berth_doctor_text(&r, &b);
    ASSERT_TRUE(strstr(berth_buf_str(&b), "\nERROR   signing keys     KEYS_PERMISSIONS: ") != NULL);
    ASSERT_TRUE(strstr(berth_buf_str(&b), "\n                         fix: chmod 600 ") != NULL);
    berth_buf_release(&b);

    ASSERT_EQ_INT(chmod(key, 0640), 0);
    run_full(&cfg, 0, &r);
    ASSERT_CHECK(&r, "signing keys", BERTH_CHECK_ERROR, "KEYS_PERMISSIONS");
    ASSERT_CHECK_SAYS(&r, "signing keys", "readable by its group (mode 0640)");

    ASSERT_EQ_INT(chmod(key, 0600), 0);
    ASSERT_EQ_INT(chmod(dir, 0755), 0);
    run_full(&cfg, 0, &r);
    ASSERT_CHECK(&r, "signing keys", BERTH_CHECK_ERROR, "KEYS_PERMISSIONS");
    free(want);
    want = berth_xasprintf("chmod 700 %s", dir);
    ASSERT_EQ_STR(check_named(&r, "signing keys")->fix, want);

    ASSERT_EQ_INT(chmod(dir, 0700), 0);
    run_full(&cfg, 0, &r);
    ASSERT_CHECK(&r, "signing keys", BERTH_CHECK_OK, "");
    berth_config_release(&cfg);
    free(want);
    free(msg);
    free(dir);
    free(key);
    free(data);
}

TEST(doctor_keys_unreadable_and_missing)
{
    char *data = served_folder("d"), *key = key_file(data), *bad = berth_xasprintf("%s/keys/bad.pem", data);
    struct berth_config cfg;
    struct berth_doctor_report r;

    write_bytes(bad, "not a key\n", 10, 0600);
    cfg_at(&cfg, data);
    run_full(&cfg, 0, &r);
    ASSERT_CHECK(&r, "signing keys", BERTH_CHECK_ERROR, "KEYS_UNREADABLE");
    ASSERT_CHECK_SAYS(&r, "signing keys", "bad.pem");

    /* no key at all beside an existing database: an error, not a new folder */
    ASSERT_EQ_INT(unlink(bad), 0);
    ASSERT_EQ_INT(unlink(key), 0);
    run_full(&cfg, 0, &r);
    ASSERT_CHECK(&r, "signing keys", BERTH_CHECK_ERROR, "KEYS_MISSING");
    berth_config_release(&cfg);
    free(bad);
    free(key);
    free(data);
}

/* A shared store keeps the keys: no key folder to walk; serve's loaded ring is judged, doctor leaves them be. */
TEST(doctor_keys_on_a_shared_store)
{
    char *data = tmp_path("shared"), *dir = tmp_path("ring");
    struct berth_err err = BERTH_ERR_INIT;
    struct berth_keyring *kr = NULL;
    struct berth_config cfg;
    struct berth_doctor_input in;
    struct berth_doctor_report r;

    cfg_at(&cfg, data);
    memset(&in, 0, sizeof(in));
    in.cfg = &cfg;
    in.meta_ops = &berth_meta_pg_ops;
    in.meta_dsn = "host=/nonexistent-berth-doctor dbname=none connect_timeout=1";
    berth_doctor_run(&in, BERTH_DOCTOR_FULL, &r);
    ASSERT_CHECK(&r, "signing keys", BERTH_CHECK_OK, "");
    ASSERT_CHECK_SAYS(&r, "signing keys", "kept in the metadata store");
    /* a running server: its loaded ring */
    berth_doctor_run(&in, BERTH_DOCTOR_READY, &r);
    ASSERT_CHECK(&r, "signing keys", BERTH_CHECK_ERROR, "KEYS_UNREADABLE");
    if (berth_keyring_open(dir, &kr, &err)) BERTH_TEST_FAIL("keyring: %s", err.msg);
    in.keys = kr;
    berth_doctor_run(&in, BERTH_DOCTOR_READY, &r);
    ASSERT_CHECK(&r, "signing keys", BERTH_CHECK_OK, "");
    ASSERT_CHECK_SAYS(&r, "signing keys", "0 days old");
    in.now_ms = berth_now_ms() + 100 * DAY * 1000;
    berth_doctor_run(&in, BERTH_DOCTOR_READY, &r);
    ASSERT_CHECK(&r, "signing keys", BERTH_CHECK_WARNING, "KEY_OLD");
    berth_keyring_close(kr);
    berth_config_release(&cfg);
    free(dir);
    free(data);
}

TEST(doctor_key_old)
{
    char *data = served_folder("d"), *key = key_file(data), *text = NULL, *nl, *rewritten;
    int64_t now = berth_now_ms();
    struct berth_err err = BERTH_ERR_INIT;
    struct berth_config cfg;
    struct berth_doctor_report r;
    size_t len = 0;

    /* the creation time lives on the key file's first line */
    ASSERT_RC(berth_read_file(key, 1 << 16, &text, &len, &err), BERTH_OK);
    nl = strchr(text, '\n');
    ASSERT_TRUE(nl != NULL && strncmp(text, "berth-key-created-ms: ", 22) == 0);
    rewritten = berth_xasprintf("berth-key-created-ms: %lld%s", (long long)(now - 100 * DAY * 1000), nl);
    write_bytes(key, rewritten, strlen(rewritten), 0600);

    cfg_at(&cfg, data);
    run_full(&cfg, 0, &r);
    ASSERT_CHECK(&r, "signing keys", BERTH_CHECK_WARNING, "KEY_OLD");
    ASSERT_CHECK_SAYS(&r, "signing keys", "100 days old");
    cfg_put(&cfg, "key-rotation-days", "0"); /* never rotate: no warning */
    run_full(&cfg, 0, &r);
    ASSERT_CHECK(&r, "signing keys", BERTH_CHECK_OK, "");
    cfg_put(&cfg, "key-rotation-days", "365");
    run_full(&cfg, 0, &r);
    ASSERT_CHECK(&r, "signing keys", BERTH_CHECK_OK, "");
    berth_config_release(&cfg);
    free(rewritten);
    free(text);
    free(key);
    free(data);
}

/* ---------------------------------------------------------------- TLS */

TEST(doctor_tls_certificates)
{
    static const struct {
        long from_s, to_s;
        enum berth_check_status want;
        const char *code;
    } cases[] = {
        {-DAY, 90 * DAY, BERTH_CHECK_OK, ""},
        {-DAY, 5 * DAY, BERTH_CHECK_WARNING, "TLS_CERT_EXPIRING"},
        {-30 * DAY, -DAY, BERTH_CHECK_ERROR, "TLS_CERT_EXPIRED"},
        {DAY, 30 * DAY, BERTH_CHECK_ERROR, "TLS_CERT_NOT_YET_VALID"},
    };
    char *data = served_folder("d"), *cert = tmp_path("cert.pem"), *key = tmp_path("key.pem"),
         *other = tmp_path("other.pem"), *junk = tmp_path("junk.pem");
    EVP_PKEY *pk = EVP_EC_gen("P-256"), *pk2 = EVP_EC_gen("P-256");
    struct berth_config cfg;
    struct berth_doctor_report r;
    size_t i;

    ASSERT_TRUE(pk && pk2);
    write_key(key, pk);
    write_key(other, pk2);
    cfg_at(&cfg, data);
    run_full(&cfg, 0, &r);
    ASSERT_CHECK(&r, "TLS", BERTH_CHECK_OK, ""); /* not configured */
    cfg_put(&cfg, "tls-cert", cert);
    cfg_put(&cfg, "tls-key", key);
    for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        write_cert(cert, pk, cases[i].from_s, cases[i].to_s);
        run_full(&cfg, 0, &r);
        ASSERT_CHECK(&r, "TLS", cases[i].want, cases[i].code);
    }
    ASSERT_CHECK_SAYS(&r, "TLS", "valid only from");

    write_cert(cert, pk, -DAY, 90 * DAY);
    cfg_put(&cfg, "tls-key", other);
    run_full(&cfg, 0, &r);
    ASSERT_CHECK(&r, "TLS", BERTH_CHECK_ERROR, "TLS_KEY_MISMATCH");

    write_bytes(junk, "-----BEGIN CERTIFICATE-----\nnot base64\n", 39, 0600);
    cfg_put(&cfg, "tls-key", key);
    cfg_put(&cfg, "tls-cert", junk);
    run_full(&cfg, 0, &r);
    ASSERT_CHECK(&r, "TLS", BERTH_CHECK_ERROR, "TLS_CERT_UNREADABLE");
    cfg_put(&cfg, "tls-cert", other); /* a key is no certificate */
    run_full(&cfg, 0, &r);
    ASSERT_CHECK(&r, "TLS", BERTH_CHECK_ERROR, "TLS_CERT_UNREADABLE");

    cfg_put(&cfg, "tls-cert", cert);
    cfg_put(&cfg, "tls-key", junk);
    run_full(&cfg, 0, &r);
    ASSERT_CHECK(&r, "TLS", BERTH_CHECK_ERROR, "TLS_KEY_UNREADABLE");
    cfg_put(&cfg, "tls-key", "");
    run_full(&cfg, 0, &r);
    ASSERT_CHECK(&r, "TLS", BERTH_CHECK_ERROR, "TLS_KEY_UNREADABLE");
    ASSERT_CHECK_SAYS(&r, "TLS", "tls-key is not");

    EVP_PKEY_free(pk);
    EVP_PKEY_free(pk2);
    berth_config_release(&cfg);
    free(data);
    free(cert);
    free(key);
    free(other);
    free(junk);
}

TEST(doctor_tls_read_period)
{
    char *cert = tmp_path("c.pem"), *pem = NULL;
    EVP_PKEY *pk = EVP_EC_gen("P-256");
    struct berth_doctor_tls t;
    struct berth_err err = BERTH_ERR_INIT;
    int64_t now = berth_now_s();
    size_t len = 0;

    write_cert(cert, pk, -3600, 10 * DAY);
    ASSERT_RC(berth_read_file(cert, 1 << 16, &pem, &len, &err), BERTH_OK);
    ASSERT_RC(berth_doctor_tls_read(pem, len, &t, &err), BERTH_OK);
    ASSERT_TRUE(t.not_before_s >= now - 3605 && t.not_before_s <= now - 3595);
    ASSERT_TRUE(t.not_after_s >= now + 10 * DAY - 5 && t.not_after_s <= now + 10 * DAY + 5);
    ASSERT_RC(berth_doctor_tls_read("junk", 4, &t, &err), BERTH_EINVAL);
    EVP_PKEY_free(pk);
    free(pem);
    free(cert);
}

/* ---------------------------------------------------------------- clock */

TEST(doctor_clock)
{
    char *data = served_folder("d"), *db = berth_xasprintf("%s/berth.db", data);
    struct berth_config cfg;
    struct berth_doctor_report r;
    time_t now = time(NULL);

    cfg_at(&cfg, data);
    set_mtime(db, now + 30); /* within the 60 s leeway */
    run_full(&cfg, 0, &r);
    ASSERT_CHECK(&r, "clock", BERTH_CHECK_OK, "");
    set_mtime(db, now + 3600);
    run_full(&cfg, 0, &r);
    ASSERT_CHECK(&r, "clock", BERTH_CHECK_ERROR, "CLOCK_BEHIND");
    ASSERT_CHECK_SAYS(&r, "clock", db);
    cfg_put(&cfg, "leeway", "600");
    set_mtime(db, now + 300);
    run_full(&cfg, 0, &r);
    ASSERT_CHECK(&r, "clock", BERTH_CHECK_OK, "");

    set_mtime(db, now);
    run_full(&cfg, 1577836800000LL, &r); /* 2020-01-01 */
    ASSERT_CHECK(&r, "clock", BERTH_CHECK_ERROR, "CLOCK_IMPLAUSIBLE");
    berth_config_release(&cfg);
    free(db);
    free(data);
}

/* ---------------------------------------------------------------- /readyz's subset */

TEST(doctor_ready_mode)
{
    char *data = served_folder("d"), *db = berth_xasprintf("%s/berth.db", data);
    char *keys = berth_xasprintf("%s/keys", data), *key = NULL, *moved = NULL;
    char *uploads = berth_xasprintf("%s/uploads", data), *uploads_away = berth_xasprintf("%s/uploads.away", data);
    struct berth_err err = BERTH_ERR_INIT;
    struct berth_meta *m = NULL;
    struct berth_keyring *kr = NULL;
    struct berth_doctor_input in;
    struct berth_doctor_tls t;
    struct berth_config cfg;
    struct berth_doctor_report r;

    ASSERT_RC(berth_meta_sqlite_ops.open(db, &m, &err), BERTH_OK);
    ASSERT_RC(berth_keyring_open(keys, &kr, &err), BERTH_OK);
    cfg_at(&cfg, data);
    memset(&in, 0, sizeof(in));
    in.cfg = &cfg;
    in.meta = m;
    in.keys = kr;
    berth_doctor_run(&in, BERTH_DOCTOR_READY, &r);
    ASSERT_EQ_INT(r.n, 4); /* no clock: it needs no request's attention */
    ASSERT_EQ_INT(berth_doctor_worst(&r), BERTH_CHECK_OK);
    ASSERT_EQ_STR(r.checks[0].key, "store");
    ASSERT_EQ_STR(r.checks[1].key, "database");
    ASSERT_EQ_STR(r.checks[2].key, "keys");
    ASSERT_EQ_STR(r.checks[3].key, "tls");

    ASSERT_EQ_INT(chmod(keys, 0755), 0);
    berth_doctor_run(&in, BERTH_DOCTOR_READY, &r);
    ASSERT_CHECK(&r, "signing keys", BERTH_CHECK_ERROR, "KEYS_PERMISSIONS");
    ASSERT_EQ_INT(chmod(keys, 0700), 0);

    in.keys = NULL;
    berth_doctor_run(&in, BERTH_DOCTOR_READY, &r);
    ASSERT_CHECK(&r, "signing keys", BERTH_CHECK_ERROR, "KEYS_UNREADABLE");
    in.keys = kr;

    /* uploads/ gone under a running server: no push can land */
    ASSERT_EQ_INT(rename(uploads, uploads_away), 0);
    berth_doctor_run(&in, BERTH_DOCTOR_READY, &r);
    ASSERT_CHECK(&r, "data folder", BERTH_CHECK_ERROR, "DATA_DIR_NOT_WRITABLE");
    ASSERT_CHECK_SAYS(&r, "data folder", "is gone");
    ASSERT_EQ_INT(rename(uploads_away, uploads), 0);

    /* key files deleted under a running server: it still signs, so only a warning */
    key = key_file(data);
    moved = berth_xasprintf("%s.away", key);
    ASSERT_EQ_INT(rename(key, moved), 0);
    berth_doctor_run(&in, BERTH_DOCTOR_READY, &r);
    ASSERT_CHECK(&r, "signing keys", BERTH_CHECK_WARNING, "KEYS_MISSING");
    ASSERT_EQ_INT(rename(moved, key), 0);

    t.not_before_s = berth_now_s() - 30 * DAY;
    t.not_after_s = berth_now_s() - DAY;
    in.tls = &t;
    berth_doctor_run(&in, BERTH_DOCTOR_READY, &r);
    ASSERT_CHECK(&r, "TLS", BERTH_CHECK_ERROR, "TLS_CERT_EXPIRED");
    t.not_after_s = berth_now_s() + 3 * DAY;
    berth_doctor_run(&in, BERTH_DOCTOR_READY, &r);
    ASSERT_CHECK(&r, "TLS", BERTH_CHECK_WARNING, "TLS_CERT_EXPIRING");
    ASSERT_EQ_INT(berth_doctor_worst(&r), BERTH_CHECK_WARNING);
    in.tls = NULL;

    in.meta = NULL;
    berth_doctor_run(&in, BERTH_DOCTOR_READY, &r);
    ASSERT_CHECK(&r, "database", BERTH_CHECK_ERROR, "DB_UNREADABLE");

    berth_keyring_close(kr);
    berth_meta_sqlite_ops.close(m);
    berth_config_release(&cfg);
    free(uploads_away);
    free(uploads);
    free(moved);
    free(key);
    free(keys);
    free(db);
    free(data);
}

/* ---------------------------------------------------------------- blob store */

/* The row shows only for a store other than the data folder; it names endpoint and bucket when it fails. */
TEST(doctor_blob_store)
{
    struct berth_config cfg;
    struct berth_doctor_report r;
    char *data = served_folder("srv");
    size_t i, plain;

    cfg_at(&cfg, data);
    run_full(&cfg, 0, &r);
    for (i = 0; i < r.n; i++) ASSERT_TRUE(strcmp(r.checks[i].name, "blob store") != 0);
    plain = r.n;

    setenv("AWS_ACCESS_KEY_ID", "AKIDTEST", 1);
    setenv("AWS_SECRET_ACCESS_KEY", "doctor-secret", 1);
    cfg_put(&cfg, "store", "s3://berth-doctor/p?endpoint=http://127.0.0.1:1&region=r");
    run_full(&cfg, 0, &r);
    ASSERT_EQ_INT(r.n, plain + 1);
    ASSERT_CHECK(&r, "blob store", BERTH_CHECK_ERROR, "STORE_UNREACHABLE");
    ASSERT_CHECK_SAYS(&r, "blob store", "http://127.0.0.1:1");
    ASSERT_CHECK_SAYS(&r, "blob store", "berth-doctor");
    ASSERT_TRUE(strstr(check_named(&r, "blob store")->fix, "s3://berth-doctor/p") != NULL);
    ASSERT_TRUE(strcmp(check_named(&r, "blob store")->key, "blobstore") == 0);

    cfg_put(&cfg, "store", "s3://AKIDTEST:doctor-secret@berth-doctor?endpoint=http://127.0.0.1:1");
    run_full(&cfg, 0, &r);
    ASSERT_CHECK(&r, "blob store", BERTH_CHECK_ERROR, "STORE_MISCONFIGURED");
    ASSERT_TRUE(strstr(check_named(&r, "blob store")->message, "doctor-secret") == NULL);
    ASSERT_TRUE(strstr(check_named(&r, "blob store")->fix, "doctor-secret") == NULL);
    unsetenv("AWS_ACCESS_KEY_ID");
    unsetenv("AWS_SECRET_ACCESS_KEY");
    unsetenv("AWS_SHARED_CREDENTIALS_FILE");
    cfg_put(&cfg, "store", "s3://berth-doctor?endpoint=http://127.0.0.1:1");
    run_full(&cfg, 0, &r);
    ASSERT_CHECK(&r, "blob store", BERTH_CHECK_ERROR, "STORE_MISCONFIGURED");
    ASSERT_CHECK_SAYS(&r, "blob store", "AWS_ACCESS_KEY_ID");
    berth_config_release(&cfg);
    free(data);
}

/* ---------------------------------------------------------------- the codes */

TEST(doctor_codes_are_documented)
{
    /* the unit tests run from the repository root (scripts/test.sh, make) */
    char *doc = NULL, *want;
    struct berth_err err = BERTH_ERR_INIT;
    int c;

    ASSERT_RC(berth_read_file("docs/check-health.md", 1 << 20, &doc, NULL, &err), BERTH_OK);
    ASSERT_TRUE(strstr(doc, "## Server (berth doctor)") != NULL);
    ASSERT_EQ_STR(berth_doctor_code_name(BERTH_DOCTOR_NONE), "");
    for (c = 1; c < BERTH_DOCTOR_CODE_COUNT; c++) {
        want = berth_xasprintf("`%s`", berth_doctor_code_name((enum berth_doctor_code)c));
        if (!strstr(doc, want)) BERTH_TEST_FAIL("docs/check-health.md does not explain %s", want);
        free(want);
    }
    free(doc);
}
