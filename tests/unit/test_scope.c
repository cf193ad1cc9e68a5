/* test_scope.c - action lists, token scopes, scope-map rules and the system scope maps. */
#include <stdlib.h>
#include <string.h>
#include "auth.h"
#include "buf.h"
#include "test.h"

#define ACT_MR BERTH_ACT_METADATA_READ
#define ACT_MW BERTH_ACT_METADATA_WRITE

static unsigned acts(const char *s)
{
    struct berth_err err = BERTH_ERR_INIT;
    unsigned bits = 0xdead;
    ASSERT_RC(berth_actions_parse(s, strlen(s), &bits, &err), BERTH_OK);
    return bits;
}

static enum berth_rc acts_rc(const char *s, struct berth_err *err)
{
    unsigned bits = 0xdead;
    enum berth_rc rc = berth_actions_parse(s, strlen(s), &bits, err);
    if (rc != BERTH_OK && bits != 0xdead) BERTH_TEST_FAIL("failed parse of '%s' wrote its output", s);
    return rc;
}

static enum berth_rc scope(const char *s, struct berth_scope *out, struct berth_err *err)
{
    return berth_scope_parse(s, strlen(s), out, err);
}

static int printable(const char *s)
{
    for (; *s; s++)
        if ((unsigned char)*s < 0x20 || (unsigned char)*s > 0x7e) return 0;
    return 1;
}

static enum berth_rc rule(const char *s, struct berth_scopemap_rule *out, struct berth_err *err)
{
    return berth_scopemap_rule_parse(s, strlen(s), out, err);
}

/* ---- action lists ---- */

TEST(actions_parse_known_names)
{
    ASSERT_EQ_U64(acts("pull"), BERTH_ACT_PULL);
    ASSERT_EQ_U64(acts("push"), BERTH_ACT_PUSH);
    ASSERT_EQ_U64(acts("delete"), BERTH_ACT_DELETE);
    ASSERT_EQ_U64(acts("metadataRead"), ACT_MR);
    ASSERT_EQ_U64(acts("metadataWrite"), ACT_MW);
    ASSERT_EQ_U64(acts("pull,push"), BERTH_ACT_PULL | BERTH_ACT_PUSH);
    ASSERT_EQ_U64(acts("delete,metadataRead"), BERTH_ACT_DELETE | ACT_MR);
    ASSERT_EQ_U64(acts("metadataWrite,metadataRead"), ACT_MR | ACT_MW);
    /* what az acr asks for */
    ASSERT_EQ_U64(acts("metadata_read"), ACT_MR);
    ASSERT_EQ_U64(acts("metadata_write,metadata_read"), ACT_MR | ACT_MW);
    ASSERT_EQ_U64(acts("delete,metadata_read"), BERTH_ACT_DELETE | ACT_MR);
    ASSERT_EQ_U64(acts("pull,pull"), BERTH_ACT_PULL);
}

TEST(actions_parse_star_is_all)
{
    ASSERT_EQ_U64(acts("*"), BERTH_ACT_ALL);
    ASSERT_EQ_U64(acts("pull,*"), BERTH_ACT_ALL);
    ASSERT_EQ_U64(BERTH_ACT_ALL, BERTH_ACT_PULL | BERTH_ACT_PUSH | BERTH_ACT_DELETE | ACT_MR | ACT_MW);
}

TEST(actions_parse_ignores_unknown)
{
    /* a token server grants the intersection: an unknown action adds nothing and is no error */
    ASSERT_EQ_U64(acts("pull,sign"), BERTH_ACT_PULL);
    ASSERT_EQ_U64(acts("bogus"), 0);
    ASSERT_EQ_U64(acts("PULL"), 0);           /* names are case-sensitive */
    ASSERT_EQ_U64(acts("metadataread"), 0);
    ASSERT_EQ_U64(acts("**"), 0);
}

TEST(actions_parse_rejects_malformed)
{
    struct berth_err err = BERTH_ERR_INIT;
    unsigned bits = 7;
    const char *bad[] = {"", ",", "pull,", ",pull", "pull,,push", " pull", "pull ", "pull, push", "pu\tll", "pull\n"};
    size_t i;

    for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        berth_err_clear(&err);
        if (acts_rc(bad[i], &err) != BERTH_EINVAL) BERTH_TEST_FAIL("action list '%s' was accepted", bad[i]);
        ASSERT_TRUE(printable(err.msg) && err.msg[0]);
    }
    ASSERT_RC(berth_actions_parse(NULL, 0, &bits, &err), BERTH_EINVAL);
    ASSERT_RC(berth_actions_parse("pull\0push", 9, &bits, &err), BERTH_EINVAL);
    ASSERT_TRUE(strstr(err.msg, "0x00") != NULL);
    ASSERT_EQ_U64(bits, 7);
}

TEST(actions_json_names_bits)
{
    struct berth_buf b = BERTH_BUF_INIT(0);

    berth_actions_json(0, &b);
    ASSERT_EQ_STR(berth_buf_str(&b), "[]");
    berth_buf_reset(&b);
    berth_actions_json(BERTH_ACT_PUSH | BERTH_ACT_PULL, &b);
    ASSERT_EQ_STR(berth_buf_str(&b), "[\"pull\",\"push\"]");
    berth_buf_reset(&b);
    berth_actions_json(BERTH_ACT_ALL, &b);
    ASSERT_EQ_STR(berth_buf_str(&b), "[\"pull\",\"push\",\"delete\",\"metadata_read\",\"metadata_write\"]");
    berth_buf_reset(&b);
    berth_actions_json(0xffffffe0u | BERTH_ACT_DELETE, &b); /* bits outside the set are not actions */
    ASSERT_EQ_STR(berth_buf_str(&b), "[\"delete\"]");
    berth_buf_release(&b);
}

TEST(actions_json_round_trips)
{
    unsigned bits;

    for (bits = 1; bits <= BERTH_ACT_ALL; bits++) {
        struct berth_buf b = BERTH_BUF_INIT(0);
        char list[128];
        const char *p;
        size_t n = 0;

        berth_actions_json(bits, &b);
        /* the JSON array of plain names becomes a Docker list by dropping brackets and quotes */
        for (p = berth_buf_str(&b); *p; p++)
            if (*p != '[' && *p != ']' && *p != '"') list[n++] = *p;
        list[n] = '\0';
        ASSERT_EQ_U64(acts(list), bits);
        berth_buf_release(&b);
    }
}

/* ---- resource scopes ---- */

TEST(scope_parse_repository)
{
    struct berth_err err = BERTH_ERR_INIT;
    struct berth_scope sc;

    ASSERT_RC(scope("repository:team/app:pull,push", &sc, &err), BERTH_OK);
    ASSERT_EQ_STR(sc.type, "repository");
    ASSERT_EQ_STR(sc.name, "team/app");
    ASSERT_EQ_U64(sc.actions, BERTH_ACT_PULL | BERTH_ACT_PUSH);
    ASSERT_EQ_STR(sc.raw_actions, "pull,push");
    ASSERT_RC(scope("repository:samples/hello-world:metadataRead,delete", &sc, &err), BERTH_OK);
    ASSERT_EQ_U64(sc.actions, ACT_MR | BERTH_ACT_DELETE);
    ASSERT_RC(scope("artifact-repository:charts/x:pull", &sc, &err), BERTH_EINVAL); /* '-' is not a type char */
    ASSERT_RC(scope("repository:*:*", &sc, &err), BERTH_OK); /* the caller decides what a wildcard grants */
    ASSERT_EQ_STR(sc.name, "*");
}

TEST(scope_parse_host_port_name)
{
    struct berth_err err = BERTH_ERR_INIT;
    struct berth_scope sc;

    ASSERT_RC(scope("repository:localhost:5000/a:pull", &sc, &err), BERTH_OK);
    ASSERT_EQ_STR(sc.type, "repository");
    ASSERT_EQ_STR(sc.name, "localhost:5000/a");
    ASSERT_EQ_U64(sc.actions, BERTH_ACT_PULL);
    ASSERT_RC(scope("repository:reg.example.com:443/team/app:push,pull", &sc, &err), BERTH_OK);
    ASSERT_EQ_STR(sc.name, "reg.example.com:443/team/app");
    ASSERT_EQ_STR(sc.raw_actions, "push,pull");
    /* a second ':' in the name has no reading */
    ASSERT_RC(scope("repository:a:1/b:2:pull", &sc, &err), BERTH_EINVAL);
    ASSERT_TRUE(strstr(err.msg, "more than one ':'") != NULL);
}

TEST(scope_parse_plugin_class_is_dropped)
{
    struct berth_err err = BERTH_ERR_INIT;
    struct berth_scope sc;

    ASSERT_RC(scope("repository(plugin):x:pull", &sc, &err), BERTH_OK);
    ASSERT_EQ_STR(sc.type, "repository");
    ASSERT_EQ_STR(sc.name, "x");
    ASSERT_EQ_U64(sc.actions, BERTH_ACT_PULL);
    ASSERT_RC(scope("repository(plugin:x:pull", &sc, &err), BERTH_EINVAL);
    ASSERT_RC(scope("repository():x:pull", &sc, &err), BERTH_EINVAL);
    ASSERT_RC(scope("repository(Plugin):x:pull", &sc, &err), BERTH_EINVAL);
    ASSERT_RC(scope("repository(a)b:x:pull", &sc, &err), BERTH_EINVAL);
    ASSERT_RC(scope("repository(a)(b):x:pull", &sc, &err), BERTH_EINVAL);
    ASSERT_RC(scope("(plugin):x:pull", &sc, &err), BERTH_EINVAL);
}

TEST(scope_parse_registry_catalog_and_none)
{
    struct berth_err err = BERTH_ERR_INIT;
    struct berth_scope sc;

    ASSERT_RC(scope("registry:catalog:*", &sc, &err), BERTH_OK);
    ASSERT_EQ_STR(sc.type, "registry");
    ASSERT_EQ_STR(sc.name, "catalog");
    ASSERT_EQ_U64(sc.actions, BERTH_ACT_ALL);
    ASSERT_EQ_STR(sc.raw_actions, "*");
    ASSERT_RC(scope("registry:None:*", &sc, &err), BERTH_OK);
    ASSERT_EQ_STR(sc.type, "registry");
    ASSERT_EQ_STR(sc.name, "None");
    ASSERT_EQ_U64(sc.actions, BERTH_ACT_ALL);
}

TEST(scope_parse_keeps_raw_actions)
{
    struct berth_err err = BERTH_ERR_INIT;
    struct berth_scope sc;

    ASSERT_RC(scope("repository:a:sign,pull", &sc, &err), BERTH_OK);
    ASSERT_EQ_U64(sc.actions, BERTH_ACT_PULL);
    ASSERT_EQ_STR(sc.raw_actions, "sign,pull");
    ASSERT_RC(scope("repository:a:bogus", &sc, &err), BERTH_OK);
    ASSERT_EQ_U64(sc.actions, 0);
    ASSERT_EQ_STR(sc.raw_actions, "bogus");
}

TEST(scope_parse_rejects_missing_parts)
{
    struct berth_err err = BERTH_ERR_INIT;
    struct berth_scope sc;

    ASSERT_RC(scope("repository", &sc, &err), BERTH_EINVAL);
    ASSERT_TRUE(strstr(err.msg, "no ':'") != NULL);
    ASSERT_RC(scope("repository:team/app", &sc, &err), BERTH_EINVAL);
    ASSERT_TRUE(strstr(err.msg, "one ':'") != NULL);
    ASSERT_RC(scope("", &sc, &err), BERTH_EINVAL);
    ASSERT_RC(berth_scope_parse(NULL, 0, &sc, &err), BERTH_EINVAL);
    ASSERT_RC(scope(":app:pull", &sc, &err), BERTH_EINVAL);
    ASSERT_RC(scope("repository::pull", &sc, &err), BERTH_EINVAL);
    ASSERT_TRUE(strstr(err.msg, "name is empty") != NULL);
    ASSERT_RC(scope("repository:app:", &sc, &err), BERTH_EINVAL);
    ASSERT_TRUE(strstr(err.msg, "empty") != NULL);
    ASSERT_RC(scope("::", &sc, &err), BERTH_EINVAL);
    ASSERT_RC(scope("repository:app:pull,", &sc, &err), BERTH_EINVAL);
}

TEST(scope_parse_rejects_bad_bytes)
{
    struct berth_err err = BERTH_ERR_INIT;
    struct berth_scope sc;
    const char *bad[] = {"repository:app:pull ", " repository:app:pull", "repository:my app:pull",
                         "repository:app:pull,\tpush", "repository:caf\xc3\xa9:pull", "repository:a\x7f:pull",
                         "Repository:app:pull", "repo_sitory:app:pull"};
    size_t i;

    for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        berth_err_clear(&err);
        if (scope(bad[i], &sc, &err) != BERTH_EINVAL) BERTH_TEST_FAIL("scope #%zu was accepted", i);
        ASSERT_TRUE(printable(err.msg) && err.msg[0]);
    }
    ASSERT_RC(berth_scope_parse("repository:a\0b:pull", 19, &sc, &err), BERTH_EINVAL);
    ASSERT_TRUE(strstr(err.msg, "0x00 at byte 12") != NULL);
}

TEST(scope_parse_limits)
{
    struct berth_err err = BERTH_ERR_INIT;
    struct berth_scope sc;
    char s[512];

    /* name of exactly BERTH_SCOPE_NAME_MAX bytes, then one more */
    memcpy(s, "repository:", 11);
    memset(s + 11, 'a', BERTH_SCOPE_NAME_MAX);
    memcpy(s + 11 + BERTH_SCOPE_NAME_MAX, ":pull", 6);
    ASSERT_RC(scope(s, &sc, &err), BERTH_OK);
    ASSERT_EQ_INT(strlen(sc.name), BERTH_SCOPE_NAME_MAX);
    memset(s + 11, 'a', BERTH_SCOPE_NAME_MAX + 1);
    memcpy(s + 12 + BERTH_SCOPE_NAME_MAX, ":pull", 6);
    ASSERT_RC(scope(s, &sc, &err), BERTH_EINVAL);

    /* type of 32 then 33 bytes */
    memset(s, 'r', BERTH_SCOPE_TYPE_MAX);
    memcpy(s + BERTH_SCOPE_TYPE_MAX, ":a:pull", 8);
    ASSERT_RC(scope(s, &sc, &err), BERTH_OK);
    ASSERT_EQ_INT(strlen(sc.type), BERTH_SCOPE_TYPE_MAX);
    memset(s, 'r', BERTH_SCOPE_TYPE_MAX + 1);
    memcpy(s + BERTH_SCOPE_TYPE_MAX + 1, ":a:pull", 8);
    ASSERT_RC(scope(s, &sc, &err), BERTH_EINVAL);

    /* the raw action list must fit raw_actions (63 bytes) */
    memcpy(s, "repository:a:", 13);
    memset(s + 13, 'x', 63);
    s[13 + 63] = '\0';
    ASSERT_RC(scope(s, &sc, &err), BERTH_OK);
    s[13 + 63] = 'x';
    s[13 + 64] = '\0';
    ASSERT_RC(scope(s, &sc, &err), BERTH_EINVAL);
}

TEST(scope_parse_failure_leaves_output)
{
    struct berth_err err = BERTH_ERR_INIT;
    struct berth_scope sc;

    ASSERT_RC(scope("repository:keep:pull", &sc, &err), BERTH_OK);
    ASSERT_RC(scope("registry:other:", &sc, &err), BERTH_EINVAL);
    ASSERT_RC(scope("other:x:pull,,push", &sc, &err), BERTH_EINVAL);
    ASSERT_EQ_STR(sc.type, "repository");
    ASSERT_EQ_STR(sc.name, "keep");
    ASSERT_EQ_U64(sc.actions, BERTH_ACT_PULL);
}

/* ---- scope lists ---- */

TEST(scope_list_parses_and_skips_spaces)
{
    struct berth_err err = BERTH_ERR_INIT;
    struct berth_scope *list = NULL;
    size_t n = 0;
    const char *s = "  repository:a:pull   registry:catalog:*  repository:localhost:5000/b:push,pull ";

    ASSERT_RC(berth_scope_list_parse(s, strlen(s), &list, &n, &err), BERTH_OK);
    ASSERT_EQ_INT(n, 3);
    ASSERT_EQ_STR(list[0].name, "a");
    ASSERT_EQ_STR(list[1].type, "registry");
    ASSERT_EQ_STR(list[2].name, "localhost:5000/b");
    ASSERT_EQ_U64(list[2].actions, BERTH_ACT_PULL | BERTH_ACT_PUSH);
    /* appends to what is there */
    ASSERT_RC(berth_scope_list_parse("repository:c:delete", 19, &list, &n, &err), BERTH_OK);
    ASSERT_EQ_INT(n, 4);
    ASSERT_EQ_STR(list[3].name, "c");
    ASSERT_EQ_STR(list[0].name, "a");
    free(list);
}

TEST(scope_list_empty_is_nothing)
{
    struct berth_err err = BERTH_ERR_INIT;
    struct berth_scope *list = NULL;
    size_t n = 0;

    ASSERT_RC(berth_scope_list_parse("", 0, &list, &n, &err), BERTH_OK);
    ASSERT_RC(berth_scope_list_parse("    ", 4, &list, &n, &err), BERTH_OK);
    ASSERT_RC(berth_scope_list_parse(NULL, 0, &list, &n, &err), BERTH_OK);
    ASSERT_EQ_INT(n, 0);
    ASSERT_TRUE(list == NULL);
}

TEST(scope_list_caps_at_64)
{
    struct berth_err err = BERTH_ERR_INIT;
    struct berth_scope *list = NULL;
    struct berth_buf b = BERTH_BUF_INIT(0);
    size_t n = 0;
    int i;

    for (i = 0; i < 64; i++)
        berth_buf_printf(&b, "repository:r%d:pull ", i);
    ASSERT_RC(berth_scope_list_parse(berth_buf_str(&b), b.len, &list, &n, &err), BERTH_OK);
    ASSERT_EQ_INT(n, 64);
    ASSERT_EQ_STR(list[63].name, "r63");
    /* no room for one more, in this call or a later one */
    ASSERT_RC(berth_scope_list_parse("repository:x:pull", 17, &list, &n, &err), BERTH_EINVAL);
    ASSERT_TRUE(strstr(err.msg, "at most 64") != NULL);
    ASSERT_EQ_INT(n, 64);
    free(list);
    list = NULL;
    n = 0;
    berth_buf_puts(&b, "repository:r64:pull");
    ASSERT_RC(berth_scope_list_parse(berth_buf_str(&b), b.len, &list, &n, &err), BERTH_EINVAL);
    ASSERT_TRUE(strstr(err.msg, "65") != NULL);
    ASSERT_EQ_INT(n, 0);
    free(list);
    berth_buf_release(&b);
}

TEST(scope_list_error_names_the_scope)
{
    struct berth_err err = BERTH_ERR_INIT;
    struct berth_scope *list = NULL;
    size_t n = 0;
    const char *s = "repository:a:pull repository:b repository:c:push";

    ASSERT_RC(berth_scope_list_parse(s, strlen(s), &list, &n, &err), BERTH_EINVAL);
    ASSERT_TRUE(strncmp(err.msg, "scope 2: ", 9) == 0);
    ASSERT_EQ_INT(n, 0); /* all or nothing */
    s = "repository:a:pull\trepository:b:pull";
    ASSERT_RC(berth_scope_list_parse(s, strlen(s), &list, &n, &err), BERTH_EINVAL);
    ASSERT_EQ_INT(n, 0);
    free(list);
}

/* ---- scope-map rules ---- */

TEST(rule_parse_each_action)
{
    struct berth_err err = BERTH_ERR_INIT;
    struct berth_scopemap_rule r;
    static const struct {
        const char *text;
        unsigned bits;
    } rows[] = {
        {"repositories/app/content/read", BERTH_ACT_PULL},
        {"repositories/app/content/write", BERTH_ACT_PUSH},
        {"repositories/app/content/delete", BERTH_ACT_DELETE},
        {"repositories/app/metadata/read", ACT_MR},
        {"repositories/app/metadata/write", ACT_MW},
    };
    size_t i;

    for (i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
        ASSERT_RC(rule(rows[i].text, &r, &err), BERTH_OK);
        ASSERT_EQ_STR(r.pattern, "app");
        ASSERT_EQ_U64(r.actions, rows[i].bits);
    }
}

TEST(rule_parse_patterns_and_round_trip)
{
    struct berth_err err = BERTH_ERR_INIT;
    struct berth_scopemap_rule r;
    char out[BERTH_NAME_MAX + 40];
    const char *good[] = {
        "repositories/*/content/read",          "repositories/team/*/content/write",
        "repositories/team/app/metadata/read",  "repositories/a/b/c/d/content/delete",
        "repositories/sample/teama/*/metadata/write", "repositories/my-app_x.y__z/content/read",
        "repositories/content/content/read",    "repositories/read/metadata/read",
    };
    const char *pattern[] = {"*", "team/*", "team/app", "a/b/c/d", "sample/teama/*", "my-app_x.y__z", "content",
                             "read"};
    size_t i;

    for (i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
        struct berth_scopemap_rule again;
        if (rule(good[i], &r, &err) != BERTH_OK) BERTH_TEST_FAIL("'%s': %s", good[i], err.msg);
        ASSERT_EQ_STR(r.pattern, pattern[i]);
        berth_scopemap_rule_format(&r, out, sizeof(out));
        ASSERT_EQ_STR(out, good[i]);
        ASSERT_RC(rule(out, &again, &err), BERTH_OK);
        ASSERT_EQ_STR(again.pattern, r.pattern);
        ASSERT_EQ_U64(again.actions, r.actions);
    }
}

TEST(rule_parse_longest_pattern)
{
    struct berth_err err = BERTH_ERR_INIT;
    struct berth_scopemap_rule r;
    char s[BERTH_NAME_MAX + 64], out[BERTH_NAME_MAX + 40];

    memcpy(s, "repositories/", 13);
    memset(s + 13, 'a', BERTH_NAME_MAX);
    memcpy(s + 13 + BERTH_NAME_MAX, "/*/content/read", 16);
    ASSERT_RC(rule(s, &r, &err), BERTH_OK);
    ASSERT_EQ_INT(strlen(r.pattern), BERTH_NAME_MAX + 2);
    berth_scopemap_rule_format(&r, out, sizeof(out));
    ASSERT_EQ_STR(out, s);
    memset(s + 13, 'a', BERTH_NAME_MAX + 1);
    memcpy(s + 14 + BERTH_NAME_MAX, "/*/content/read", 16);
    ASSERT_RC(rule(s, &r, &err), BERTH_EINVAL);
}

TEST(rule_parse_rejections)
{
    struct berth_err err = BERTH_ERR_INIT;
    struct berth_scopemap_rule r = {"keep", BERTH_ACT_PULL};
    static const struct {
        const char *text;
        const char *why;
    } bad[] = {
        {"", "empty"},
        {"repository/app/content/read", "must start with"},
        {"Repositories/app/content/read", "must start with"},
        {"repositories/", "expected a pattern"},
        {"repositories/content/read", "expected a pattern"},
        {"repositories//content/read", "pattern is empty"},
        {"repositories/app/content/list", "unknown action 'content/list'"},
        {"repositories/app/metadata/delete", "unknown action 'metadata/delete'"},
        {"repositories/app/content", "expected a pattern and an action"},
        {"repositories/app/Content/read", "unknown action"},
        {"repositories/app/content/read/", "unknown action"},
        {"repositories/app/content/read ", "unknown action"},
        {"repositories/a/*/b/content/read", "'*'"},
        {"repositories/a/teamA*/content/read", "'*'"},
        {"repositories/a/*/b/*/content/read", "'*'"},
        {"repositories/*/*/content/read", "'*'"},
        {"repositories/**/content/read", "'*'"},
        {"repositories/team*/content/read", "'*'"},
        {"repositories/Team/content/read", "lowercase"},
        {"repositories/team//app/content/read", "empty path component"},
        {"repositories/team/app//content/read", "empty path component"},
        {"repositories//*/content/read", "name is empty"},
        {"repositories/-app/content/read", "must start"},
        {"repositories/app /content/read", "invalid character"},
    };
    size_t i;

    for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        berth_err_clear(&err);
        if (rule(bad[i].text, &r, &err) != BERTH_EINVAL) BERTH_TEST_FAIL("rule '%s' was accepted", bad[i].text);
        if (!strstr(err.msg, bad[i].why)) BERTH_TEST_FAIL("rule '%s': message '%s'", bad[i].text, err.msg);
        ASSERT_TRUE(printable(err.msg));
    }
    ASSERT_RC(berth_scopemap_rule_parse(NULL, 0, &r, &err), BERTH_EINVAL);
    ASSERT_RC(berth_scopemap_rule_parse("repositories/a\0b/content/read", 29, &r, &err), BERTH_EINVAL);
    ASSERT_TRUE(printable(err.msg));
    ASSERT_EQ_STR(r.pattern, "keep");
    ASSERT_EQ_U64(r.actions, BERTH_ACT_PULL);
}

TEST(rule_format_odd_rules)
{
    struct berth_scopemap_rule r = {"app", BERTH_ACT_PULL | BERTH_ACT_PUSH};
    char out[64], small[20];

    memset(out, 'x', sizeof(out));
    berth_scopemap_rule_format(&r, out, sizeof(out)); /* more than one action has no text form */
    ASSERT_EQ_STR(out, "");
    r.actions = 0;
    berth_scopemap_rule_format(&r, out, sizeof(out));
    ASSERT_EQ_STR(out, "");
    r.actions = BERTH_ACT_PULL;
    berth_scopemap_rule_format(&r, small, sizeof(small)); /* truncated, still terminated */
    ASSERT_EQ_STR(small, "repositories/app/co");
    berth_scopemap_rule_format(&r, out, 0);
}

/* ---- matching and granting ---- */

TEST(pattern_match_table)
{
    static const struct {
        const char *pattern, *repo;
        int want;
    } rows[] = {
        {"app", "app", 1},           {"app", "apps", 0},           {"app", "ap", 0},
        {"app", "app/x", 0},         {"team/app", "team/app", 1},  {"team/app", "team", 0},
        {"team/*", "team/a", 1},     {"team/*", "team/a/b/c", 1},  {"team/*", "team", 0},
        {"team/*", "teamx/a", 0},    {"team/*", "teamx", 0},       {"team/*", "other/team/a", 0},
        {"team/a/*", "team/a/b", 1}, {"team/a/*", "team/ab/c", 0}, {"team/a/*", "team/a", 0},
        {"*", "app", 1},             {"*", "team/a/b", 1},         {"*", "", 0},
        {"", "app", 0},              {"", "", 0},                  {"team/*", "team/", 0},
    };
    size_t i;

    for (i = 0; i < sizeof(rows) / sizeof(rows[0]); i++)
        if (berth_scopemap_pattern_match(rows[i].pattern, rows[i].repo) != rows[i].want)
            BERTH_TEST_FAIL("pattern '%s' vs '%s': want %d", rows[i].pattern, rows[i].repo, rows[i].want);
    ASSERT_EQ_INT(berth_scopemap_pattern_match(NULL, "a"), 0);
    ASSERT_EQ_INT(berth_scopemap_pattern_match("*", NULL), 0);
}

TEST(grant_unions_matching_rules)
{
    struct berth_err err = BERTH_ERR_INIT;
    struct berth_scopemap_rule rules[4];
    const char *texts[] = {
        "repositories/sample/*/content/read",
        "repositories/sample/teama/*/content/write",
        "repositories/sample/teama/projectb/content/delete",
        "repositories/sample/teama/projectb/metadata/read",
    };
    size_t i;

    for (i = 0; i < 4; i++)
        ASSERT_RC(rule(texts[i], &rules[i], &err), BERTH_OK);
    ASSERT_EQ_U64(berth_scopemap_grant(rules, 4, "sample/teama/projectb"),
                  BERTH_ACT_PULL | BERTH_ACT_PUSH | BERTH_ACT_DELETE | ACT_MR);
    ASSERT_EQ_U64(berth_scopemap_grant(rules, 4, "sample/teama/other"), BERTH_ACT_PULL | BERTH_ACT_PUSH);
    ASSERT_EQ_U64(berth_scopemap_grant(rules, 4, "sample/teamb"), BERTH_ACT_PULL);
    ASSERT_EQ_U64(berth_scopemap_grant(rules, 4, "sample/teama"), BERTH_ACT_PULL);
    ASSERT_EQ_U64(berth_scopemap_grant(rules, 4, "sample"), 0);
    ASSERT_EQ_U64(berth_scopemap_grant(rules, 4, "samplex/a"), 0);
    ASSERT_EQ_U64(berth_scopemap_grant(rules, 0, "sample/a"), 0);
    ASSERT_EQ_U64(berth_scopemap_grant(NULL, 0, "sample/a"), 0);
}

TEST(system_scopemaps_content)
{
    static const struct {
        const char *name;
        unsigned bits;
    } want[] = {
        {"_repositories_pull", BERTH_ACT_PULL},
        {"_repositories_pull_metadata_read", BERTH_ACT_PULL | ACT_MR},
        {"_repositories_push", BERTH_ACT_PULL | BERTH_ACT_PUSH},
        {"_repositories_push_metadata_write", BERTH_ACT_PULL | BERTH_ACT_PUSH | ACT_MR | ACT_MW},
        {"_repositories_admin", BERTH_ACT_ALL},
    };
    const struct berth_system_scopemap *m = berth_system_scopemaps();
    size_t i, j;

    for (i = 0; i < 5; i++) {
        struct berth_scopemap_rule rules[8];
        struct berth_err err = BERTH_ERR_INIT;
        unsigned seen = 0;

        ASSERT_EQ_STR(m[i].name, want[i].name);
        ASSERT_TRUE(m[i].description && m[i].description[0] && !strchr(m[i].description, '\n'));
        for (j = 0; m[i].rules[j]; j++) {
            ASSERT_TRUE(j < 8);
            ASSERT_RC(rule(m[i].rules[j], &rules[j], &err), BERTH_OK);
            ASSERT_EQ_STR(rules[j].pattern, "*");
            ASSERT_TRUE(!(seen & rules[j].actions)); /* one rule per action */
            seen |= rules[j].actions;
        }
        ASSERT_EQ_U64(seen, want[i].bits);
        ASSERT_EQ_U64(berth_scopemap_grant(rules, j, "any/repo/at/all"), want[i].bits);
    }
    ASSERT_TRUE(m[5].name == NULL);
}
