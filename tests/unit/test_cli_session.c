/* test_cli_session.c - the CLI's session file (round trip, unknown members kept, malformed file), tables and JWT exp. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include "alloc.h"
#include "buf.h"
#include "../../src/cli/cli.h"
#include "test.h"

static void write_text(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");
    if (!f) BERTH_TEST_FAIL("cannot create %s", path);
    fputs(text, f);
    fclose(f);
}

TEST(cli_session_round_trip_keeps_unknown_members)
{
    struct berth_err err = BERTH_ERR_INIT;
    char *path = berth_xasprintf("%s/cfg/sub/sessions.json", berth_test_tmpdir());
    char *dir = berth_xasprintf("%s/cfg", berth_test_tmpdir());
    json_t *root = NULL;
    struct berth_client_session s = {0}, got = {0};
    struct stat st;

    ASSERT_RC(berth_client_session_load(path, &root, &err), BERTH_OK); /* no file yet: empty */
    ASSERT_TRUE(json_is_object(json_object_get(root, "servers")));
    json_object_set_new(root, "editor", json_string("kept"));
    s.server = berth_xstrdup("http://127.0.0.1:5000");
    s.tenant = berth_xstrdup("t-1");
    s.kind = berth_xstrdup("user");
    s.name = berth_xstrdup("owner");
    s.refresh_token = berth_xstrdup("rt-1");
    berth_client_session_put(root, &s, 1);
    json_object_set_new(json_object_get(json_object_get(root, "servers"), s.server), "color", json_string("blue"));
    ASSERT_RC(berth_client_session_save(path, root, &err), BERTH_OK);
    json_decref(root);
    ASSERT_TRUE(stat(path, &st) == 0);
    ASSERT_EQ_INT(st.st_mode & 0777, 0600);
    ASSERT_TRUE(stat(dir, &st) == 0);
    ASSERT_EQ_INT(st.st_mode & 0777, 0700);

    ASSERT_RC(berth_client_session_load(path, &root, &err), BERTH_OK);
    ASSERT_RC(berth_client_session_get(root, NULL, &got, &err), BERTH_OK);
    ASSERT_EQ_STR(got.server, "http://127.0.0.1:5000");
    ASSERT_EQ_STR(got.name, "owner");
    ASSERT_EQ_STR(got.refresh_token, "rt-1");
    ASSERT_TRUE(got.secret == NULL);
    free(got.refresh_token);
    got.refresh_token = berth_xstrdup("rt-2");
    berth_client_session_put(root, &got, 0);
    ASSERT_RC(berth_client_session_save(path, root, &err), BERTH_OK);
    json_decref(root);
    berth_client_session_release(&got);

    ASSERT_RC(berth_client_session_load(path, &root, &err), BERTH_OK);
    ASSERT_EQ_STR(json_string_value(json_object_get(root, "editor")), "kept");
    ASSERT_EQ_STR(json_string_value(json_object_get(json_object_get(json_object_get(root, "servers"),
                                                                    "http://127.0.0.1:5000"), "color")), "blue");
    ASSERT_RC(berth_client_session_get(root, "http://127.0.0.1:5000", &got, &err), BERTH_OK);
    ASSERT_EQ_STR(got.refresh_token, "rt-2");
    berth_client_session_release(&got);
    ASSERT_RC(berth_client_session_get(root, "http://elsewhere", &got, &err), BERTH_ENOENT);
    ASSERT_TRUE(strstr(berth_err_msg(&err), "berth auth login --server http://elsewhere") != NULL);
    json_decref(root);
    berth_client_session_release(&s);
    free(path);
    free(dir);
}

TEST(cli_session_malformed_file)
{
    struct berth_err err = BERTH_ERR_INIT;
    char *path = berth_xasprintf("%s/sessions.json", berth_test_tmpdir());
    char *want = berth_xasprintf("cannot read '%s': ", path);
    json_t *root = NULL;

    write_text(path, "{\"current\": ");
    ASSERT_RC(berth_client_session_load(path, &root, &err), BERTH_EINVAL);
    ASSERT_TRUE(strncmp(berth_err_msg(&err), want, strlen(want)) == 0);
    ASSERT_TRUE(strstr(berth_err_msg(&err), "; fix or delete it") != NULL);
    ASSERT_TRUE(root == NULL);
    write_text(path, "[1,2]");
    ASSERT_RC(berth_client_session_load(path, &root, &err), BERTH_EINVAL);
    ASSERT_TRUE(strstr(berth_err_msg(&err), "not a JSON object") != NULL);
    write_text(path, "{\"servers\": 3}");
    ASSERT_RC(berth_client_session_load(path, &root, &err), BERTH_EINVAL);
    free(path);
    free(want);
}

TEST(cli_config_dir_order)
{
    char *d;
    setenv("BERTH_CONFIG_DIR", "/x/berth-cfg", 1);
    setenv("XDG_CONFIG_HOME", "/x/xdg", 1);
    setenv("HOME", "/x/home", 1);
    d = berth_client_config_dir();
    ASSERT_EQ_STR(d, "/x/berth-cfg");
    free(d);
    unsetenv("BERTH_CONFIG_DIR");
    d = berth_client_config_dir();
    ASSERT_EQ_STR(d, "/x/xdg/berth");
    free(d);
    unsetenv("XDG_CONFIG_HOME");
    d = berth_client_config_dir();
    ASSERT_EQ_STR(d, "/x/home/.config/berth");
    free(d);
}

TEST(cli_table_widths_from_content)
{
    static const char *const hdr[3] = {"NAME", "STATUS", "X"};
    static const char *const r1[3] = {"a-long-name", "on", "1"};
    static const char *const r2[3] = {"b", NULL, "22"};
    struct cli_table t;
    struct berth_buf b = BERTH_BUF_INIT(0);

    cli_table_init(&t, 3, hdr);
    cli_table_add(&t, r1);
    cli_table_add(&t, r2);
    cli_table_render(&t, &b);
    ASSERT_EQ_STR(berth_buf_str(&b), "NAME         STATUS  X\n"
                                     "a-long-name  on      1\n"
                                     "b            -       22\n");
    cli_table_release(&t);
    berth_buf_release(&b);

    cli_table_init(&t, 3, hdr); /* headers only */
    cli_table_render(&t, &b);
    ASSERT_EQ_STR(berth_buf_str(&b), "NAME  STATUS  X\n");
    cli_table_release(&t);
    berth_buf_release(&b);
}

TEST(cli_json_cells)
{
    json_t *o = json_loads("{\"a\":\"x\",\"n\":3,\"b\":true,\"z\":null,\"l\":[\"p\",\"q\"],"
                           "\"r\":{\"ipRules\":[{\"action\":\"Allow\",\"value\":\"10.0.0.0/8\"},{\"value\":\"::1\"}],"
                           "\"d\":\"Deny\"}}", 0, NULL);
    const char *paths[] = {"a", "n", "b", "z", "missing", "l", "r.ipRules", "r.d", "l.1", "r.ipRules.0.action", "l.9"};
    const char *want[] = {"x", "3", "true", "-", "-", "p,q", "10.0.0.0/8,::1", "Deny", "q", "Allow", "-"};
    size_t i;

    ASSERT_TRUE(o != NULL);
    for (i = 0; i < sizeof(paths) / sizeof(paths[0]); i++) {
        char *c = cli_json_cell(o, paths[i]);
        ASSERT_EQ_STR(c, want[i]);
        free(c);
    }
    json_decref(o);
}

TEST(cli_jwt_exp_claim)
{
    /* {"alg":"none"} . {"exp":1800000000,"sub":"x"} . sig */
    ASSERT_EQ_INT(berth_client_jwt_exp("eyJhbGciOiJub25lIn0.eyJleHAiOjE4MDAwMDAwMDAsInN1YiI6IngifQ.c2ln"), 1800000000);
    ASSERT_EQ_INT(berth_client_jwt_exp("not-a-jwt"), 0);
    ASSERT_EQ_INT(berth_client_jwt_exp("a.!!.b"), 0);
    ASSERT_EQ_INT(berth_client_jwt_exp(NULL), 0);
}

TEST(cli_url_host_and_port)
{
    char hp[128], scheme[16];
    berth_client_url_hostport("http://127.0.0.1:5000", hp, sizeof(hp), scheme, sizeof(scheme));
    ASSERT_EQ_STR(hp, "127.0.0.1:5000");
    ASSERT_EQ_STR(scheme, "http");
    berth_client_url_hostport("https://reg.example/v2/", hp, sizeof(hp), scheme, sizeof(scheme));
    ASSERT_EQ_STR(hp, "reg.example:443");
    ASSERT_EQ_STR(scheme, "https");
    berth_client_url_hostport("http://[::1]/x", hp, sizeof(hp), scheme, sizeof(scheme));
    ASSERT_EQ_STR(hp, "[::1]:80");
    berth_client_url_hostport("http://[::1]:8080", hp, sizeof(hp), scheme, sizeof(scheme));
    ASSERT_EQ_STR(hp, "[::1]:8080");
}
