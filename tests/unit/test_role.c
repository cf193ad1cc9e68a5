/* test_role.c - refusal reasons, built-in roles, assignment scopes, what assignments grant, registry names. */
#include <string.h>
#include "auth.h"
#include "test.h"

#define ACT_MR BERTH_ACT_METADATA_READ
#define ACT_MW BERTH_ACT_METADATA_WRITE
#define MGMT_ALL (BERTH_MGMT_READ | BERTH_MGMT_WRITE | BERTH_MGMT_ASSIGN)

static int printable(const char *s)
{
    for (; *s; s++)
        if ((unsigned char)*s < 0x20 || (unsigned char)*s > 0x7e) return 0;
    return 1;
}

/* An assignment from its role and scope texts; the test fails if either does not parse. */
static struct berth_assignment assign(const char *role, const char *scope)
{
    struct berth_err err = BERTH_ERR_INIT;
    struct berth_assignment a;

    memset(&a, 0, sizeof(a));
    if (berth_role_parse(role, &a.role, &err) != BERTH_OK) BERTH_TEST_FAIL("role '%s': %s", role, err.msg);
    if (berth_assign_scope_parse(scope, &a.scope, &err) != BERTH_OK)
        BERTH_TEST_FAIL("scope '%s': %s", scope, err.msg);
    return a;
}

/* ---- reasons ---- */

TEST(reason_names_and_texts)
{
    int r;

    ASSERT_EQ_STR(berth_auth_reason_name(BERTH_AUTH_OK), "OK");
    ASSERT_EQ_STR(berth_auth_reason_name(BERTH_AUTH_BAD_SECRET), "BAD_SECRET");
    ASSERT_EQ_STR(berth_auth_reason_text(BERTH_AUTH_INSUFFICIENT_SCOPE), "insufficient scope");
    ASSERT_EQ_STR(berth_auth_reason_name(BERTH_AUTH_TOO_MANY_FAILURES), "TOO_MANY_FAILURES");
    /* a stranger cannot tell a wrong password from a principal that does not exist */
    ASSERT_EQ_STR(berth_auth_reason_text(BERTH_AUTH_BAD_SECRET),
                  berth_auth_reason_text(BERTH_AUTH_UNKNOWN_PRINCIPAL));
    for (r = 0; r < BERTH_AUTH_REASON_COUNT; r++) {
        ASSERT_TRUE(berth_auth_reason_name((enum berth_auth_reason)r)[0]);
        ASSERT_TRUE(berth_auth_reason_text((enum berth_auth_reason)r)[0]);
    }
}

TEST(reason_shown_hides_whether_a_name_exists)
{
    int r;

    ASSERT_EQ_STR(berth_auth_reason_name(berth_auth_reason_shown(BERTH_AUTH_BAD_SECRET)), "INVALID_CREDENTIALS");
    ASSERT_EQ_STR(berth_auth_reason_name(berth_auth_reason_shown(BERTH_AUTH_UNKNOWN_PRINCIPAL)), "INVALID_CREDENTIALS");
    /* what only a proven secret reaches, and everything else, is shown as it is */
    ASSERT_EQ_STR(berth_auth_reason_name(berth_auth_reason_shown(BERTH_AUTH_ADMIN_DISABLED)), "ADMIN_DISABLED");
    for (r = 0; r < BERTH_AUTH_REASON_COUNT; r++)
        if (r != BERTH_AUTH_BAD_SECRET && r != BERTH_AUTH_UNKNOWN_PRINCIPAL)
            ASSERT_EQ_INT(berth_auth_reason_shown((enum berth_auth_reason)r), r);
}

TEST(reason_out_of_range_falls_back)
{
    const char *n1 = berth_auth_reason_name(BERTH_AUTH_REASON_COUNT);
    const char *n2 = berth_auth_reason_name((enum berth_auth_reason)-1);

    ASSERT_EQ_STR(n1, "UNKNOWN_REASON");
    ASSERT_EQ_STR(n2, "UNKNOWN_REASON");
    ASSERT_EQ_STR(berth_auth_reason_text((enum berth_auth_reason)999), "access denied");
    ASSERT_TRUE(strcmp(berth_auth_reason_text((enum berth_auth_reason)999), "ok") != 0);
}

/* ---- roles ---- */

TEST(role_parse_any_case)
{
    struct berth_err err = BERTH_ERR_INIT;
    enum berth_role r;

    ASSERT_RC(berth_role_parse("Owner", &r, &err), BERTH_OK);
    ASSERT_EQ_INT(r, BERTH_ROLE_OWNER);
    ASSERT_RC(berth_role_parse("acrpull", &r, &err), BERTH_OK);
    ASSERT_EQ_INT(r, BERTH_ROLE_ACRPULL);
    ASSERT_RC(berth_role_parse("ACRPUSH", &r, &err), BERTH_OK);
    ASSERT_EQ_INT(r, BERTH_ROLE_ACRPUSH);
    ASSERT_RC(berth_role_parse("AcrDelete", &r, &err), BERTH_OK);
    ASSERT_EQ_INT(r, BERTH_ROLE_ACRDELETE);
    ASSERT_RC(berth_role_parse("contributor", &r, &err), BERTH_OK);
    ASSERT_EQ_INT(r, BERTH_ROLE_CONTRIBUTOR);
    ASSERT_RC(berth_role_parse("rEaDeR", &r, &err), BERTH_OK);
    ASSERT_EQ_INT(r, BERTH_ROLE_READER);
}

TEST(role_parse_unknown_lists_valid_names)
{
    struct berth_err err = BERTH_ERR_INIT;
    enum berth_role r = BERTH_ROLE_READER;

    ASSERT_RC(berth_role_parse("AcrPusher", &r, &err), BERTH_EINVAL);
    ASSERT_TRUE(strstr(err.msg, "'AcrPusher'") != NULL);
    ASSERT_TRUE(strstr(err.msg, "Owner, Contributor, Reader, AcrPush, AcrPull, AcrDelete") != NULL);
    ASSERT_RC(berth_role_parse("", &r, &err), BERTH_EINVAL);
    ASSERT_RC(berth_role_parse(" Owner", &r, &err), BERTH_EINVAL);
    ASSERT_RC(berth_role_parse(NULL, &r, &err), BERTH_EINVAL);
    ASSERT_RC(berth_role_parse("Own\ner\x01", &r, &err), BERTH_EINVAL);
    ASSERT_TRUE(printable(err.msg) && strstr(err.msg, "AcrDelete"));
    ASSERT_EQ_INT(r, BERTH_ROLE_READER);
}

TEST(role_names_round_trip)
{
    struct berth_err err = BERTH_ERR_INIT;
    int i;

    for (i = 0; i < BERTH_ROLE_COUNT; i++) {
        enum berth_role r;
        ASSERT_RC(berth_role_parse(berth_role_name((enum berth_role)i), &r, &err), BERTH_OK);
        ASSERT_EQ_INT(r, i);
    }
    ASSERT_EQ_STR(berth_role_name(BERTH_ROLE_ACRPUSH), "AcrPush");
    ASSERT_EQ_STR(berth_role_name(BERTH_ROLE_COUNT), "unknown");
    ASSERT_EQ_U64(berth_role_data_actions(BERTH_ROLE_COUNT), 0);
    ASSERT_EQ_U64(berth_role_mgmt_rights((enum berth_role)-1), 0);
}

TEST(role_rights_table)
{
    ASSERT_EQ_U64(berth_role_data_actions(BERTH_ROLE_OWNER), BERTH_ACT_ALL);
    ASSERT_EQ_U64(berth_role_mgmt_rights(BERTH_ROLE_OWNER), MGMT_ALL);
    ASSERT_EQ_U64(berth_role_data_actions(BERTH_ROLE_CONTRIBUTOR), BERTH_ACT_ALL);
    ASSERT_EQ_U64(berth_role_mgmt_rights(BERTH_ROLE_CONTRIBUTOR), BERTH_MGMT_READ | BERTH_MGMT_WRITE);
    ASSERT_EQ_U64(berth_role_data_actions(BERTH_ROLE_READER), BERTH_ACT_PULL | ACT_MR);
    ASSERT_EQ_U64(berth_role_mgmt_rights(BERTH_ROLE_READER), BERTH_MGMT_READ);
    ASSERT_EQ_U64(berth_role_data_actions(BERTH_ROLE_ACRPUSH), BERTH_ACT_PULL | BERTH_ACT_PUSH | ACT_MR | ACT_MW);
    ASSERT_EQ_U64(berth_role_mgmt_rights(BERTH_ROLE_ACRPUSH), 0);
    ASSERT_EQ_U64(berth_role_data_actions(BERTH_ROLE_ACRPULL), BERTH_ACT_PULL | ACT_MR);
    ASSERT_EQ_U64(berth_role_mgmt_rights(BERTH_ROLE_ACRPULL), 0);
    ASSERT_EQ_U64(berth_role_data_actions(BERTH_ROLE_ACRDELETE), BERTH_ACT_DELETE);
    ASSERT_EQ_U64(berth_role_mgmt_rights(BERTH_ROLE_ACRDELETE), 0);
}

TEST(role_pull_implies_metadata_read)
{
    int i;
    for (i = 0; i < BERTH_ROLE_COUNT; i++) {
        unsigned d = berth_role_data_actions((enum berth_role)i);
        if ((d & BERTH_ACT_PULL) && !(d & ACT_MR)) BERTH_TEST_FAIL("%s pulls without metadata read",
                                                                  berth_role_name((enum berth_role)i));
    }
}

/* ---- assignment scopes ---- */

TEST(assign_scope_parse_forms)
{
    struct berth_err err = BERTH_ERR_INIT;
    struct berth_assign_scope s;

    ASSERT_RC(berth_assign_scope_parse("/", &s, &err), BERTH_OK);
    ASSERT_EQ_INT(s.kind, BERTH_SCOPE_SERVER);
    ASSERT_RC(berth_assign_scope_parse("/registries/contoso", &s, &err), BERTH_OK);
    ASSERT_EQ_INT(s.kind, BERTH_SCOPE_REGISTRY);
    ASSERT_EQ_STR(s.registry, "contoso");
    ASSERT_RC(berth_assign_scope_parse("/registries/contoso/repositories/team", &s, &err), BERTH_OK);
    ASSERT_EQ_INT(s.kind, BERTH_SCOPE_REPO);
    ASSERT_EQ_STR(s.registry, "contoso");
    ASSERT_EQ_STR(s.prefix, "team");
    ASSERT_RC(berth_assign_scope_parse("/registries/contoso/repositories/team/app/*", &s, &err), BERTH_OK);
    ASSERT_EQ_INT(s.kind, BERTH_SCOPE_REPO);
    ASSERT_EQ_STR(s.prefix, "team/app");
    /* every repository of the registry is the registry scope */
    ASSERT_RC(berth_assign_scope_parse("/registries/contoso/repositories/*", &s, &err), BERTH_OK);
    ASSERT_EQ_INT(s.kind, BERTH_SCOPE_REGISTRY);
    ASSERT_EQ_STR(s.registry, "contoso");
}

TEST(assign_scope_parse_rejections)
{
    struct berth_err err = BERTH_ERR_INIT;
    struct berth_assign_scope s = {BERTH_SCOPE_SERVER, "", ""};
    static const struct {
        const char *text, *why;
    } bad[] = {
        {"", "empty"},
        {"//", "must be '/'"},
        {"registries/contoso", "must be '/'"},
        {"/registry/contoso", "must be '/'"},
        {"/registries/", "5 to 50"},
        {"/registries/abc", "5 to 50"},
        {"/registries/Contoso", "registry names are lowercase: use 'contoso'"},
        {"/registries/con-toso", "lowercase letters and digits"},
        {"/registries/contoso/", "expected '/repositories/"},
        {"/registries/contoso/repos/team", "expected '/repositories/"},
        {"/registries/contoso/repositories", "expected '/repositories/"},
        {"/registries/contoso/repositories/", "name is empty"},
        {"/registries/contoso/repositories/Team", "lowercase"},
        {"/registries/contoso/repositories/team/", "empty path component"},
        {"/registries/contoso/repositories/team/*/app", "invalid character"},
        {"/registries/contoso/repositories/team*", "invalid character"},
        {"/registries/contoso/repositories//*", "name is empty"},
    };
    size_t i;

    for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        berth_err_clear(&err);
        if (berth_assign_scope_parse(bad[i].text, &s, &err) != BERTH_EINVAL)
            BERTH_TEST_FAIL("scope '%s' was accepted", bad[i].text);
        if (!strstr(err.msg, bad[i].why)) BERTH_TEST_FAIL("scope '%s': message '%s'", bad[i].text, err.msg);
        ASSERT_TRUE(printable(err.msg));
    }
    ASSERT_RC(berth_assign_scope_parse(NULL, &s, &err), BERTH_EINVAL);
    ASSERT_EQ_INT(s.kind, BERTH_SCOPE_SERVER); /* untouched on failure */
}

TEST(assign_scope_format_round_trip)
{
    struct berth_err err = BERTH_ERR_INIT;
    const char *texts[] = {"/", "/registries/contoso", "/registries/contoso/repositories/team",
                           "/registries/r0123456789/repositories/a/b-c/d"};
    char out[BERTH_NAME_MAX + 100], small[16];
    size_t i;
    struct berth_assign_scope s;

    for (i = 0; i < sizeof(texts) / sizeof(texts[0]); i++) {
        ASSERT_RC(berth_assign_scope_parse(texts[i], &s, &err), BERTH_OK);
        berth_assign_scope_format(&s, out, sizeof(out));
        ASSERT_EQ_STR(out, texts[i]);
    }
    ASSERT_RC(berth_assign_scope_parse("/registries/contoso/repositories/team/*", &s, &err), BERTH_OK);
    berth_assign_scope_format(&s, out, sizeof(out));
    ASSERT_EQ_STR(out, "/registries/contoso/repositories/team");
    berth_assign_scope_format(&s, small, sizeof(small));
    ASSERT_EQ_STR(small, "/registries/con");
    s.kind = (enum berth_assign_scope_kind)0;
    berth_assign_scope_format(&s, out, sizeof(out));
    ASSERT_EQ_STR(out, "");
}

TEST(assign_scope_covers_repo_prefix)
{
    struct berth_assignment a = assign("AcrPull", "/registries/contoso/repositories/team");

    ASSERT_EQ_INT(berth_assign_scope_covers(&a.scope, "contoso", "team"), 1);
    ASSERT_EQ_INT(berth_assign_scope_covers(&a.scope, "contoso", "team/a"), 1);
    ASSERT_EQ_INT(berth_assign_scope_covers(&a.scope, "contoso", "team/a/b"), 1);
    ASSERT_EQ_INT(berth_assign_scope_covers(&a.scope, "contoso", "teamx"), 0);
    ASSERT_EQ_INT(berth_assign_scope_covers(&a.scope, "contoso", "teamx/a"), 0);
    ASSERT_EQ_INT(berth_assign_scope_covers(&a.scope, "contoso", "tea"), 0);
    ASSERT_EQ_INT(berth_assign_scope_covers(&a.scope, "contoso", "other/team"), 0);
    ASSERT_EQ_INT(berth_assign_scope_covers(&a.scope, "fabrikam", "team"), 0);
    ASSERT_EQ_INT(berth_assign_scope_covers(&a.scope, "contoso", NULL), 0); /* not the registry itself */
    ASSERT_EQ_INT(berth_assign_scope_covers(&a.scope, NULL, "team"), 0);
}

TEST(assign_scope_covers_registry_and_server)
{
    struct berth_assignment reg = assign("AcrPull", "/registries/contoso");
    struct berth_assignment srv = assign("AcrPull", "/");

    ASSERT_EQ_INT(berth_assign_scope_covers(&reg.scope, "contoso", NULL), 1);
    ASSERT_EQ_INT(berth_assign_scope_covers(&reg.scope, "contoso", "any/repo"), 1);
    ASSERT_EQ_INT(berth_assign_scope_covers(&reg.scope, "contoso2", "any/repo"), 0);
    ASSERT_EQ_INT(berth_assign_scope_covers(&reg.scope, "conto", NULL), 0);
    ASSERT_EQ_INT(berth_assign_scope_covers(&reg.scope, NULL, NULL), 0);
    ASSERT_EQ_INT(berth_assign_scope_covers(&srv.scope, "contoso", NULL), 1);
    ASSERT_EQ_INT(berth_assign_scope_covers(&srv.scope, "fabrikam", "a/b"), 1);
    ASSERT_EQ_INT(berth_assign_scope_covers(&srv.scope, NULL, NULL), 1);
}

/* ---- what assignments grant ---- */

TEST(roles_server_wide_owner)
{
    struct berth_assignment a[] = {assign("owner", "/")};

    ASSERT_EQ_U64(berth_roles_data_actions(a, 1, "contoso", "any/repo"), BERTH_ACT_ALL);
    ASSERT_EQ_U64(berth_roles_data_actions(a, 1, "fabrikam", "x"), BERTH_ACT_ALL);
    ASSERT_EQ_U64(berth_roles_mgmt_rights(a, 1, "contoso"), MGMT_ALL);
    ASSERT_EQ_U64(berth_roles_mgmt_rights(a, 1, NULL), MGMT_ALL);
    ASSERT_EQ_INT(berth_roles_any_pull(a, 1, "contoso"), 1);
}

TEST(roles_registry_acrpull)
{
    struct berth_assignment a[] = {assign("AcrPull", "/registries/contoso")};

    ASSERT_EQ_U64(berth_roles_data_actions(a, 1, "contoso", "team/app"), BERTH_ACT_PULL | ACT_MR);
    ASSERT_EQ_U64(berth_roles_data_actions(a, 1, "contoso", "x"), BERTH_ACT_PULL | ACT_MR);
    ASSERT_EQ_U64(berth_roles_data_actions(a, 1, "fabrikam", "team/app"), 0);
    ASSERT_EQ_U64(berth_roles_mgmt_rights(a, 1, "contoso"), 0);
    ASSERT_EQ_INT(berth_roles_any_pull(a, 1, "contoso"), 1);
    ASSERT_EQ_INT(berth_roles_any_pull(a, 1, "fabrikam"), 0);
    ASSERT_EQ_INT(berth_roles_any_pull(a, 1, NULL), 0);
}

TEST(roles_repo_prefix_acrpush)
{
    struct berth_assignment a[] = {assign("AcrPush", "/registries/contoso/repositories/team")};
    unsigned push = BERTH_ACT_PULL | BERTH_ACT_PUSH | ACT_MR | ACT_MW;

    ASSERT_EQ_U64(berth_roles_data_actions(a, 1, "contoso", "team"), push);
    ASSERT_EQ_U64(berth_roles_data_actions(a, 1, "contoso", "team/a"), push);
    ASSERT_EQ_U64(berth_roles_data_actions(a, 1, "contoso", "teamx"), 0);
    ASSERT_EQ_U64(berth_roles_data_actions(a, 1, "contoso", "teamx/a"), 0);
    ASSERT_EQ_U64(berth_roles_data_actions(a, 1, "fabrikam", "team"), 0);
    ASSERT_EQ_INT(berth_roles_any_pull(a, 1, "contoso"), 1); /* can see the catalog, filtered by the caller */
    ASSERT_EQ_INT(berth_roles_any_pull(a, 1, "fabrikam"), 0);
}

TEST(roles_assignments_add_up)
{
    struct berth_assignment a[] = {
        assign("AcrPull", "/registries/contoso"),
        assign("AcrPush", "/registries/contoso/repositories/team"),
        assign("AcrDelete", "/registries/contoso/repositories/team/old"),
        assign("Reader", "/registries/fabrikam"),
    };

    ASSERT_EQ_U64(berth_roles_data_actions(a, 4, "contoso", "other"), BERTH_ACT_PULL | ACT_MR);
    ASSERT_EQ_U64(berth_roles_data_actions(a, 4, "contoso", "team/app"),
                  BERTH_ACT_PULL | BERTH_ACT_PUSH | ACT_MR | ACT_MW);
    ASSERT_EQ_U64(berth_roles_data_actions(a, 4, "contoso", "team/old/x"), BERTH_ACT_ALL);
    ASSERT_EQ_U64(berth_roles_data_actions(a, 4, "contoso", "team/older"),
                  BERTH_ACT_PULL | BERTH_ACT_PUSH | ACT_MR | ACT_MW);
    ASSERT_EQ_U64(berth_roles_data_actions(a, 4, "fabrikam", "team/old"), BERTH_ACT_PULL | ACT_MR);
    ASSERT_EQ_U64(berth_roles_data_actions(a, 4, "northwind", "team/old"), 0);
    ASSERT_EQ_U64(berth_roles_data_actions(a, 0, "contoso", "team/old"), 0);
}

TEST(roles_mgmt_rights_per_registry)
{
    struct berth_assignment a[] = {
        assign("Owner", "/registries/contoso"),
        assign("Contributor", "/registries/fabrikam"),
        assign("Owner", "/registries/northwind/repositories/team"),
        assign("Reader", "/"),
    };

    ASSERT_EQ_U64(berth_roles_mgmt_rights(a, 4, "contoso"), MGMT_ALL);
    ASSERT_EQ_U64(berth_roles_mgmt_rights(a, 4, "fabrikam"), BERTH_MGMT_READ | BERTH_MGMT_WRITE);
    /* a repository-scoped Owner manages nothing on the registry: only the server-wide Reader applies */
    ASSERT_EQ_U64(berth_roles_mgmt_rights(a, 4, "northwind"), BERTH_MGMT_READ);
    ASSERT_EQ_U64(berth_roles_data_actions(a, 4, "northwind", "team/x"), BERTH_ACT_ALL);
    ASSERT_EQ_U64(berth_roles_mgmt_rights(a, 4, NULL), BERTH_MGMT_READ);
    ASSERT_EQ_U64(berth_roles_mgmt_rights(a, 3, NULL), 0);
    ASSERT_EQ_U64(berth_roles_mgmt_rights(a, 3, "other"), 0);
}

TEST(roles_acrdelete_cannot_list)
{
    struct berth_assignment a[] = {assign("AcrDelete", "/registries/contoso")};

    ASSERT_EQ_U64(berth_roles_data_actions(a, 1, "contoso", "app"), BERTH_ACT_DELETE);
    ASSERT_EQ_INT(berth_roles_any_pull(a, 1, "contoso"), 0);
    ASSERT_EQ_INT(berth_roles_any_pull(NULL, 0, "contoso"), 0);
}

/* ---- registry names ---- */

TEST(registry_name_check_rules)
{
    struct berth_err err = BERTH_ERR_INIT;
    char s[64];

    ASSERT_RC(berth_registry_name_check("contoso", &err), BERTH_OK);
    ASSERT_RC(berth_registry_name_check("abc12", &err), BERTH_OK);
    memset(s, 'a', 50);
    s[50] = '\0';
    ASSERT_RC(berth_registry_name_check(s, &err), BERTH_OK);
    s[50] = 'a';
    s[51] = '\0';
    ASSERT_RC(berth_registry_name_check(s, &err), BERTH_EINVAL);
    ASSERT_TRUE(strstr(err.msg, "5 to 50") && strstr(err.msg, "51"));
    ASSERT_RC(berth_registry_name_check("abcd", &err), BERTH_EINVAL);
    ASSERT_TRUE(strstr(err.msg, "5 to 50") != NULL);
    ASSERT_RC(berth_registry_name_check("", &err), BERTH_EINVAL);
    ASSERT_RC(berth_registry_name_check(NULL, &err), BERTH_EINVAL);

    ASSERT_RC(berth_registry_name_check("MyRegistry1", &err), BERTH_EINVAL);
    ASSERT_EQ_STR(err.msg, "registry names are lowercase: use 'myregistry1'");
    ASSERT_RC(berth_registry_name_check("my-registry", &err), BERTH_EINVAL);
    ASSERT_TRUE(strstr(err.msg, "5 to 50 lowercase letters and digits") != NULL);
    ASSERT_RC(berth_registry_name_check("My_Registry", &err), BERTH_EINVAL); /* lowercasing would not fix it */
    ASSERT_TRUE(strstr(err.msg, "lowercase letters and digits") && !strstr(err.msg, "use '"));
    ASSERT_RC(berth_registry_name_check("ABC", &err), BERTH_EINVAL); /* too short even when lowercased */
    ASSERT_TRUE(strstr(err.msg, "5 to 50") != NULL);
    ASSERT_RC(berth_registry_name_check("caf\xc3\xa9s", &err), BERTH_EINVAL);
    ASSERT_TRUE(printable(err.msg));
    ASSERT_RC(berth_registry_name_check("con toso", &err), BERTH_EINVAL);
}
