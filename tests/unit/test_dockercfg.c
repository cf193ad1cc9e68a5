/* test_dockercfg.c - docker/podman credential files and the credential helper payloads. */
#include <dirent.h>
#include <jansson.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include "alloc.h"
#include "util.h"
#include "../../src/client/credhelper.h"
#include "../../src/client/dockercfg.h"
#include "../../src/client/loginrec.h"
#include "test.h"

/* base64("00000000-0000-0000-0000-000000000000:") */
#define NULL_GUID_AUTH "MDAwMDAwMDAtMDAwMC0wMDAwLTAwMDAtMDAwMDAwMDAwMDAwOg=="

static char *tmp_path(const char *rel)
{
    return berth_xasprintf("%s/%s", berth_test_tmpdir(), rel);
}

static void write_text(const char *path, const char *text)
{
    struct berth_err err = BERTH_ERR_INIT;
    ASSERT_RC(berth_write_atomic(path, text, strlen(text), 0644, &err), BERTH_OK);
}

static char *read_text(const char *path)
{
    struct berth_err err = BERTH_ERR_INIT;
    char *text = NULL;
    ASSERT_RC(berth_read_file(path, 1 << 20, &text, NULL, &err), BERTH_OK);
    return text;
}

static json_t *read_json(const char *path)
{
    char *text = read_text(path);
    json_t *j = json_loads(text, 0, NULL);
    free(text);
    ASSERT_TRUE(j != NULL);
    return j;
}

static struct berth_dockercfg *load_ok(const char *path)
{
    struct berth_err err = BERTH_ERR_INIT;
    struct berth_dockercfg *cfg = NULL;
    ASSERT_RC(berth_dockercfg_load(path, &cfg, &err), BERTH_OK);
    return cfg;
}

/* Writes text to path and loads it. */
static struct berth_dockercfg *load_text(const char *path, const char *text)
{
    write_text(path, text);
    return load_ok(path);
}

static void save_ok(const struct berth_dockercfg *cfg)
{
    struct berth_err err = BERTH_ERR_INIT;
    ASSERT_RC(berth_dockercfg_save(cfg, &err), BERTH_OK);
}

static const char *auth_of(const json_t *root, const char *server, const char *key)
{
    return json_string_value(json_object_get(json_object_get(json_object_get(root, "auths"), server), key));
}

static void expect_path(enum berth_authfile_kind kind, const char *want)
{
    struct berth_err err = BERTH_ERR_INIT;
    char *p = NULL;
    ASSERT_RC(berth_dockercfg_path(kind, &p, &err), BERTH_OK);
    ASSERT_EQ_STR(p, want);
    free(p);
}

TEST(dockercfg_paths_follow_the_environment)
{
    setenv("HOME", "/home/u", 1);
    unsetenv("DOCKER_CONFIG");
    unsetenv("REGISTRY_AUTH_FILE");
    unsetenv("XDG_RUNTIME_DIR");
    unsetenv("XDG_CONFIG_HOME");
    expect_path(BERTH_AUTHFILE_DOCKER, "/home/u/.docker/config.json");
    {
        char want[64];
        snprintf(want, sizeof(want), "/run/containers/%u/auth.json", (unsigned)getuid());
        expect_path(BERTH_AUTHFILE_PODMAN, want); /* podman login's own file, which podman reads first */
    }
    setenv("XDG_CONFIG_HOME", "/xdg/cfg", 1);
    setenv("XDG_RUNTIME_DIR", "/run/user/7", 1);
    expect_path(BERTH_AUTHFILE_PODMAN, "/run/user/7/containers/auth.json");
    setenv("REGISTRY_AUTH_FILE", "/a/auth.json", 1);
    expect_path(BERTH_AUTHFILE_PODMAN, "/a/auth.json");
    setenv("DOCKER_CONFIG", "/d", 1);
    expect_path(BERTH_AUTHFILE_DOCKER, "/d/config.json");
}

TEST(dockercfg_home_unset_is_an_error)
{
    struct berth_err err = BERTH_ERR_INIT;
    char *p = NULL;
    unsetenv("DOCKER_CONFIG");
    unsetenv("HOME");
    ASSERT_RC(berth_dockercfg_path(BERTH_AUTHFILE_DOCKER, &p, &err), BERTH_EINVAL);
    ASSERT_TRUE(strstr(err.msg, "HOME") != NULL);
}

TEST(dockercfg_missing_file_is_empty_and_save_creates_0700_0600)
{
    char *path = tmp_path("new/dir/config.json"), *dir = tmp_path("new/dir");
    struct berth_dockercfg *cfg = load_ok(path);
    struct stat st;
    json_t *j;

    ASSERT_EQ_INT(json_object_size(cfg->root), 0);
    berth_dockercfg_set_identity(cfg, "reg:5000", "tok");
    save_ok(cfg);
    ASSERT_EQ_INT(stat(dir, &st), 0);
    ASSERT_EQ_INT(st.st_mode & 0777, 0700);
    ASSERT_EQ_INT(stat(path, &st), 0);
    ASSERT_EQ_INT(st.st_mode & 0777, 0600);
    j = read_json(path);
    ASSERT_EQ_STR(auth_of(j, "reg:5000", "identitytoken"), "tok");
    json_decref(j);
    berth_dockercfg_free(cfg);
    free(path);
    free(dir);
}

TEST(dockercfg_empty_file_is_an_empty_object)
{
    char *path = tmp_path("config.json");
    struct berth_dockercfg *cfg;
    cfg = load_text(path, " \n");
    ASSERT_EQ_INT(json_object_size(cfg->root), 0);
    berth_dockercfg_free(cfg);
    free(path);
}

static const char foreign[] =
    "{\"zeta\": {\"nested\": [1, 2.5, null, true, \"x\"]},\n"
    " \"auths\": {\"other.example\": {\"auth\": \"dTpw\", \"email\": \"e@x\"}},\n"
    " \"credHelpers\": {\"gcr.io\": \"gcloud\"},\n"
    " \"HttpHeaders\": {\"User-Agent\": \"me\"},\n"
    " \"alpha\": \"\\u00e9\"}";

TEST(dockercfg_keeps_foreign_keys_and_order)
{
    char *path = tmp_path("config.json"), *text;
    struct berth_dockercfg *cfg;
    json_t *before = json_loads(foreign, 0, NULL), *after;

    cfg = load_text(path, foreign);
    berth_dockercfg_set_identity(cfg, "127.0.0.1:5000", "refresh");
    berth_dockercfg_set_helper(cfg, "127.0.0.1:5000", BERTH_HELPER_BERTH);
    save_ok(cfg);
    berth_dockercfg_free(cfg);

    after = read_json(path);
    ASSERT_EQ_STR(auth_of(after, "127.0.0.1:5000", "auth"), NULL_GUID_AUTH);
    /* Without berth's two entries the file is what it was. */
    json_object_del(json_object_get(after, "auths"), "127.0.0.1:5000");
    json_object_del(json_object_get(after, "credHelpers"), "127.0.0.1:5000");
    ASSERT_TRUE(json_equal(before, after));
    /* Top-level keys keep their order. */
    text = read_text(path);
    ASSERT_TRUE(strstr(text, "\"zeta\"") < strstr(text, "\"auths\""));
    ASSERT_TRUE(strstr(text, "\"HttpHeaders\"") < strstr(text, "\"alpha\""));
    free(text);

    /* Removing them again gives the same tree. */
    cfg = load_ok(path);
    ASSERT_EQ_INT(berth_dockercfg_remove(cfg, "127.0.0.1:5000"), 1);
    ASSERT_EQ_INT(berth_dockercfg_remove_helper(cfg, "127.0.0.1:5000", BERTH_HELPER_BERTH), 1);
    ASSERT_TRUE(json_equal(before, cfg->root));
    berth_dockercfg_free(cfg);
    json_decref(before);
    json_decref(after);
    free(path);
}

static void expect_load_refused(const char *text, const char *needle)
{
    struct berth_err err = BERTH_ERR_INIT;
    struct berth_dockercfg *cfg = NULL;
    char *path = tmp_path("config.json"), *again;

    write_text(path, text);
    ASSERT_RC(berth_dockercfg_load(path, &cfg, &err), BERTH_EINVAL);
    ASSERT_TRUE(cfg == NULL);
    if (!strstr(err.msg, path) || !strstr(err.msg, needle))
        BERTH_TEST_FAIL("message '%s' should name '%s' and say '%s'", err.msg, path, needle);
    again = read_text(path);
    ASSERT_EQ_STR(again, text);
    free(again);
    free(path);
}

TEST(dockercfg_malformed_file_is_refused_and_untouched)
{
    expect_load_refused("{\"auths\": {", "not valid JSON");
    expect_load_refused("[1, 2]", "does not hold a JSON object");
    expect_load_refused("{\"auths\": []}", "\"auths\" is not an object");
    expect_load_refused("{\"credHelpers\": \"x\"}", "\"credHelpers\" is not an object");
    expect_load_refused("{\"credsStore\": 1}", "\"credsStore\" is not a string");
    expect_load_refused("{\"a\": 1, \"a\": 2}", "not valid JSON");
}

TEST(dockercfg_unreadable_file_is_an_error)
{
    struct berth_err err = BERTH_ERR_INIT;
    struct berth_dockercfg *cfg = NULL;
    char *path = tmp_path("dir-not-file");

    ASSERT_EQ_INT(mkdir(path, 0700), 0);
    ASSERT_TRUE(berth_dockercfg_load(path, &cfg, &err) != BERTH_OK);
    ASSERT_TRUE(strstr(err.msg, path) != NULL);
    free(path);
}

TEST(dockercfg_save_leaves_no_temp_files)
{
    char *dir = tmp_path("d"), *path = tmp_path("d/config.json");
    struct berth_dockercfg *cfg = load_ok(path);
    struct dirent *e;
    DIR *d;
    int n = 0, i;

    for (i = 0; i < 3; i++) {
        berth_dockercfg_set_basic(cfg, "r", "u", "p");
        save_ok(cfg);
    }
    d = opendir(dir);
    ASSERT_TRUE(d != NULL);
    while ((e = readdir(d)) != NULL) {
        if (e->d_name[0] == '.') continue;
        ASSERT_EQ_STR(e->d_name, "config.json");
        n++;
    }
    closedir(d);
    ASSERT_EQ_INT(n, 1);
    berth_dockercfg_free(cfg);
    free(dir);
    free(path);
}

TEST(dockercfg_save_narrows_mode_and_follows_symlinks)
{
    char *real = tmp_path("real.json"), *link = tmp_path("config.json");
    struct berth_dockercfg *cfg;
    struct stat st;

    write_text(real, "{\"k\": 1}");
    ASSERT_EQ_INT(chmod(real, 0644), 0);
    ASSERT_EQ_INT(symlink(real, link), 0);
    cfg = load_ok(link);
    berth_dockercfg_set_basic(cfg, "r", "u", "p");
    save_ok(cfg);
    ASSERT_EQ_INT(lstat(link, &st), 0);
    ASSERT_TRUE(S_ISLNK(st.st_mode));
    ASSERT_EQ_INT(stat(real, &st), 0);
    ASSERT_EQ_INT(st.st_mode & 0777, 0600);
    berth_dockercfg_free(cfg);
    cfg = load_ok(real);
    ASSERT_EQ_STR(auth_of(cfg->root, "r", "auth"), "dTpw");
    berth_dockercfg_free(cfg);
    free(real);
    free(link);
}

TEST(dockercfg_entry_forms)
{
    char *path = tmp_path("c.json");
    struct berth_dockercfg *cfg = load_ok(path);
    json_t *e;

    berth_dockercfg_set_identity(cfg, "a", "eyJ.tok");
    ASSERT_EQ_STR(auth_of(cfg->root, "a", "auth"), NULL_GUID_AUTH);
    ASSERT_EQ_STR(auth_of(cfg->root, "a", "identitytoken"), "eyJ.tok");
    berth_dockercfg_set_basic(cfg, "a", "admin", "pa:ss");
    e = json_object_get(json_object_get(cfg->root, "auths"), "a");
    ASSERT_EQ_INT(json_object_size(e), 1);
    ASSERT_EQ_STR(auth_of(cfg->root, "a", "auth"), "YWRtaW46cGE6c3M=");
    ASSERT_EQ_INT(berth_dockercfg_remove(cfg, "a"), 1);
    ASSERT_EQ_INT(berth_dockercfg_remove(cfg, "a"), 0);
    berth_dockercfg_free(cfg);
    free(path);
}

TEST(dockercfg_fingerprint_tracks_the_entry)
{
    char *path = tmp_path("c.json");
    struct berth_dockercfg *cfg = load_ok(path);
    char a[65], b[65], c[65];

    ASSERT_EQ_INT(berth_dockercfg_fingerprint(cfg, "s", a), 0);
    berth_dockercfg_set_identity(cfg, "s", "t1");
    ASSERT_EQ_INT(berth_dockercfg_fingerprint(cfg, "s", a), 1);
    ASSERT_EQ_INT(strlen(a), 64);
    berth_dockercfg_set_identity(cfg, "s", "t1");
    ASSERT_EQ_INT(berth_dockercfg_fingerprint(cfg, "s", b), 1);
    ASSERT_EQ_STR(a, b);
    berth_dockercfg_set_identity(cfg, "s", "t2");
    ASSERT_EQ_INT(berth_dockercfg_fingerprint(cfg, "s", c), 1);
    ASSERT_TRUE(strcmp(a, c) != 0);
    berth_dockercfg_free(cfg);
    free(path);
}

TEST(dockercfg_helpers)
{
    char *path = tmp_path("c.json");
    struct berth_dockercfg *cfg;

    cfg = load_text(path, "{\"credsStore\": \"desktop\", \"credHelpers\": {\"a\": \"ecr-login\", \"b\": \"berth\"}}");
    ASSERT_EQ_STR(berth_dockercfg_helper_for(cfg, "a"), "ecr-login");
    ASSERT_EQ_STR(berth_dockercfg_helper_for(cfg, "b"), "berth");
    ASSERT_EQ_STR(berth_dockercfg_helper_for(cfg, "c"), "desktop");
    /* Only a credHelpers entry naming the given helper is removed. */
    ASSERT_EQ_INT(berth_dockercfg_remove_helper(cfg, "a", BERTH_HELPER_BERTH), 0);
    ASSERT_EQ_INT(berth_dockercfg_remove_helper(cfg, "b", BERTH_HELPER_BERTH), 1);
    ASSERT_EQ_STR(berth_dockercfg_helper_for(cfg, "b"), "desktop");
    json_object_del(cfg->root, "credsStore");
    ASSERT_TRUE(berth_dockercfg_helper_for(cfg, "c") == NULL);
    berth_dockercfg_free(cfg);
    free(path);
}

TEST(dockercfg_missing_helpers_are_reported)
{
    char *bin = tmp_path("bin"), *tool = tmp_path("bin/docker-credential-present"), *noexec,
         *path = tmp_path("c.json"), *env;
    struct berth_buf out = BERTH_BUF_INIT(0);
    struct berth_dockercfg *cfg;

    ASSERT_EQ_INT(mkdir(bin, 0700), 0);
    write_text(tool, "#!/bin/sh\n");
    ASSERT_EQ_INT(chmod(tool, 0755), 0);
    noexec = tmp_path("bin/docker-credential-noexec");
    write_text(noexec, "x");
    env = berth_xasprintf("/nonexistent:%s", bin);
    ASSERT_TRUE(berth_helper_on_path("present", env));
    ASSERT_TRUE(!berth_helper_on_path("noexec", env));
    ASSERT_TRUE(!berth_helper_on_path("absent", env));
    ASSERT_TRUE(!berth_helper_on_path("../bin/docker-credential-present", env));

    cfg = load_text(path, "{\"credsStore\": \"absent\", \"credHelpers\": {\"a\": \"present\", \"b\": \"gone\"}}");
    ASSERT_EQ_INT(berth_dockercfg_missing_helpers(cfg, env, &out), 2);
    ASSERT_TRUE(strstr(berth_buf_str(&out), "docker-credential-absent") != NULL);
    ASSERT_TRUE(strstr(berth_buf_str(&out), "docker-credential-gone") != NULL);
    ASSERT_TRUE(strstr(berth_buf_str(&out), "docker-credential-present") == NULL);
    berth_buf_release(&out);
    berth_dockercfg_free(cfg);
    free(bin);
    free(tool);
    free(noexec);
    free(path);
    free(env);
}

/* ---------------------------------------------------------------- credential helper payloads */

static void expect_server(const char *in, const char *want)
{
    struct berth_err err = BERTH_ERR_INIT;
    char *got = NULL;
    ASSERT_RC(berth_credhelper_server(in, strlen(in), &got, &err), BERTH_OK);
    ASSERT_EQ_STR(got, want);
    free(got);
}

TEST(dockercfg_credhelper_server_normalisation)
{
    struct berth_err err = BERTH_ERR_INIT;
    char *got = NULL;

    expect_server("127.0.0.1:5000", "127.0.0.1:5000");
    expect_server("127.0.0.1:5000\n", "127.0.0.1:5000");
    expect_server("https://Reg.Example:5000/", "reg.example:5000");
    expect_server("HTTP://reg.example//", "reg.example");
    expect_server("  https://index.docker.io/v1/ ", "index.docker.io/v1");
    expect_server("reg.example/Team/App", "reg.example/Team/App");
    ASSERT_RC(berth_credhelper_server("", 0, &got, &err), BERTH_EINVAL);
    ASSERT_RC(berth_credhelper_server("https:///\n", 10, &got, &err), BERTH_EINVAL);
    ASSERT_RC(berth_credhelper_server("a b", 3, &got, &err), BERTH_EINVAL);
    ASSERT_RC(berth_credhelper_server("a\x01", 2, &got, &err), BERTH_EINVAL);
    ASSERT_TRUE(got == NULL);
}

static enum berth_rc parse(const char *json, struct berth_creds *c, struct berth_err *err)
{
    return berth_credhelper_parse_creds(json, strlen(json), c, err);
}

TEST(dockercfg_credhelper_store_payload)
{
    struct berth_err err = BERTH_ERR_INIT;
    struct berth_creds c = {0};

    ASSERT_RC(parse("{\"ServerURL\":\"https://R:1/\",\"Username\":\"<token>\",\"Secret\":\"s\",\"x\":1}", &c, &err),
              BERTH_OK);
    ASSERT_EQ_STR(c.server, "r:1");
    ASSERT_EQ_STR(c.username, "<token>");
    ASSERT_EQ_STR(c.secret, "s");
    berth_creds_release(&c);
    ASSERT_TRUE(c.secret == NULL);

    ASSERT_RC(parse("{\"ServerURL\":\"r\",\"Username\":\"\",\"Secret\":\"s\"}", &c, &err), BERTH_OK);
    berth_creds_release(&c);
    ASSERT_RC(parse("{\"ServerURL\":\"r\",\"Username\":\"u\"}", &c, &err), BERTH_EINVAL);
    ASSERT_TRUE(strstr(err.msg, "Secret") != NULL);
    ASSERT_RC(parse("{\"ServerURL\":\"r\",\"Username\":\"u\",\"Secret\":\"\"}", &c, &err), BERTH_EINVAL);
    ASSERT_RC(parse("{\"ServerURL\":1,\"Username\":\"u\",\"Secret\":\"s\"}", &c, &err), BERTH_EINVAL);
    ASSERT_TRUE(strstr(err.msg, "ServerURL") != NULL);
    ASSERT_RC(parse("{\"ServerURL\":\"\",\"Username\":\"u\",\"Secret\":\"s\"}", &c, &err), BERTH_EINVAL);
    ASSERT_RC(parse("[\"r\"]", &c, &err), BERTH_EINVAL);
    ASSERT_RC(parse("{\"ServerURL\":", &c, &err), BERTH_EINVAL);
    ASSERT_RC(parse("{\"Secret\":\"a\",\"Secret\":\"b\",\"ServerURL\":\"r\",\"Username\":\"u\"}", &c, &err),
              BERTH_EINVAL);
    ASSERT_TRUE(c.server == NULL && c.secret == NULL);
}

TEST(dockercfg_credhelper_get_answer)
{
    struct berth_buf b = BERTH_BUF_INIT(0);
    json_t *j;

    ASSERT_RC(berth_credhelper_format("r:1", BERTH_NULL_GUID, "a\"b\\c", &b), BERTH_OK);
    j = json_loads(berth_buf_str(&b), 0, NULL);
    ASSERT_TRUE(j != NULL);
    ASSERT_EQ_STR(json_string_value(json_object_get(j, "ServerURL")), "r:1");
    ASSERT_EQ_STR(json_string_value(json_object_get(j, "Username")), BERTH_NULL_GUID);
    ASSERT_EQ_STR(json_string_value(json_object_get(j, "Secret")), "a\"b\\c");
    json_decref(j);
    berth_buf_release(&b);
}

/* ---------------------------------------------------------------- the login record */

TEST(dockercfg_loginrec_paths_and_entries)
{
    struct berth_err err = BERTH_ERR_INIT;
    struct berth_dockercfg *rec = NULL;
    json_t *f, *list = json_object();
    char *p;

    setenv("BERTH_CONFIG_DIR", berth_test_tmpdir(), 1);
    p = berth_client_config_file("logins.json");
    ASSERT_TRUE(!strncmp(p, berth_test_tmpdir(), strlen(berth_test_tmpdir())));
    ASSERT_TRUE(strstr(p, "/logins.json") != NULL);
    free(p);

    ASSERT_RC(berth_loginrec_load(&rec, &err), BERTH_OK);
    ASSERT_TRUE(berth_loginrec_server(rec, "r:1", 0) == NULL);
    ASSERT_TRUE(berth_loginrec_file(rec, "r:1", "/f", 0) == NULL);
    f = berth_loginrec_file(rec, "r:1", "/f", 1);
    ASSERT_TRUE(json_is_object(f));
    json_object_set_new(f, "auths", json_string("abc"));
    ASSERT_TRUE(berth_loginrec_file(rec, "r:1", "/f", 1) == f);
    save_ok(rec);
    berth_dockercfg_free(rec);

    ASSERT_RC(berth_loginrec_load(&rec, &err), BERTH_OK);
    f = berth_loginrec_file(rec, "r:1", "/f", 0);
    ASSERT_EQ_STR(json_string_value(json_object_get(f, "auths")), "abc");
    berth_dockercfg_free(rec);
    ASSERT_RC(berth_loginrec_each_helper_server(list, &err), BERTH_OK);
    ASSERT_EQ_STR(json_string_value(json_object_get(list, "r:1")), BERTH_NULL_GUID);
    json_decref(list);
}
