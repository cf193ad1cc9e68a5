/*
 * test_routes.c - the route table (src/http/route.c): every management row
 * (/api/v1) states the right its caller needs, on what, and the reason a
 * refusal gives, so none can be served to any caller who logs in; the table
 * check that enforces it at start-up refuses each way a row can leave its
 * right out; and the path parameter a right is read from.
 */
#include <string.h>
#include "auth.h"
#include "http_int.h"
#include "test.h"

static int is_mgmt(const struct route *r)
{
    return !strncmp(r->pattern, "/api/v1/", 8) || r->arm; /* the management API and ARM (api_arm.c) */
}

/* The row that serves method on path, or NULL. */
static const struct route *row_for(const char *path, unsigned method)
{
    char *name = NULL, *param = NULL;
    unsigned allowed = 0;
    const struct route *r = berth_route_match(path, method, &name, &param, &allowed);
    free(name);
    free(param);
    return r;
}

TEST(routes_every_mgmt_row_states_its_right)
{
    size_t i, n = berth_route_count(), mgmt = 0;

    for (i = 0; i < n; i++) {
        const struct route *r = berth_route_at(i);
        if (!is_mgmt(r)) {
            ASSERT_EQ_INT(r->right_on, RIGHT_ON_NOTHING);
            ASSERT_TRUE(r->handler == NULL);
            continue;
        }
        mgmt++;
        if (r->right_on == RIGHT_ON_NOTHING) BERTH_TEST_FAIL("route %s (%s) states no right", r->label, r->pattern);
        ASSERT_TRUE(r->begin == api_mgmt_begin);
        ASSERT_TRUE(r->finish == api_mgmt_finish);
        ASSERT_TRUE(r->handler != NULL);
        if (r->right_on != RIGHT_ON_CALLER) ASSERT_TRUE(r->right != 0);
    }
    /* every management route there is; a new one must be added here on purpose */
    ASSERT_EQ_INT(mgmt, 66);
}

TEST(routes_table_check_passes)
{
    struct berth_err err = BERTH_ERR_INIT;
    size_t n = berth_route_count();

    ASSERT_RC(berth_route_table_check(berth_route_at(0), n, &err), BERTH_OK);
}

/* A copy of the row serving method on path, changed by the test, must fail the check naming it. */
static void assert_refused(struct route *r, const char *want)
{
    struct berth_err err = BERTH_ERR_INIT;

    ASSERT_RC(berth_route_table_check(r, 1, &err), BERTH_EINTERNAL);
    if (!strstr(berth_err_msg(&err), want)) BERTH_TEST_FAIL("'%s' does not say '%s'", berth_err_msg(&err), want);
}

TEST(routes_table_check_refuses_a_row_without_its_right)
{
    struct route r;

    r = *row_for("/api/v1/users", M_GET);
    r.right_on = RIGHT_ON_NOTHING;
    assert_refused(&r, "does not state the right it needs");

    r = *row_for("/api/v1/users", M_GET);
    r.right = 0;
    assert_refused(&r, "only RIGHT_ON_CALLER needs no right");

    r = *row_for("/api/v1/users", M_GET);
    r.why = NULL;
    assert_refused(&r, "gives no reason");

    r = *row_for("/api/v1/users", M_GET);
    r.finish = r.handler;
    assert_refused(&r, "does not run the management steps");

    r = *row_for("/api/v1/users", M_GET);
    r.right_on = RIGHT_ON_REGISTRY;
    assert_refused(&r, "has none");

    r = *row_for("/api/v1/registries/x/tokens", M_GET);
    r.right_on = RIGHT_ON_SELF_OR_SERVER;
    assert_refused(&r, "{user}");

    r = *row_for("/api/v1/users", M_GET);
    r.body_checked = 1;
    assert_refused(&r, "checked by its handler");

    r = *row_for("/v2/", M_GET);
    r.right = BERTH_MGMT_READ;
    assert_refused(&r, "is not a management route");
}

TEST(routes_rights_of_each_kind)
{
    const struct route *r;

    r = row_for("/api/v1/tenant", M_GET);
    ASSERT_EQ_INT(r->right_on, RIGHT_ON_CALLER);
    ASSERT_EQ_INT(r->right, 0);

    r = row_for("/api/v1/registries", M_GET);
    ASSERT_EQ_INT(r->right_on, RIGHT_ON_EACH_REGISTRY);
    ASSERT_EQ_INT(r->right, BERTH_MGMT_READ);

    r = row_for("/api/v1/registries", M_POST);
    ASSERT_EQ_INT(r->right_on, RIGHT_ON_SERVER);
    ASSERT_EQ_INT(r->right, BERTH_MGMT_WRITE);
    ASSERT_EQ_STR(r->why, "to create registries");

    r = row_for("/api/v1/registries/teamreg1/tokens/t1/generateCredentials", M_POST);
    ASSERT_EQ_INT(r->right_on, RIGHT_ON_REGISTRY);
    ASSERT_EQ_INT(r->right, BERTH_MGMT_WRITE);
    ASSERT_EQ_STR(r->why, "to change its tokens");

    r = row_for("/api/v1/users/bob/password", M_POST);
    ASSERT_EQ_INT(r->right_on, RIGHT_ON_SELF_OR_SERVER);
    ASSERT_EQ_INT(r->right, BERTH_MGMT_WRITE);

    r = row_for("/api/v1/roleAssignments", M_GET);
    ASSERT_EQ_INT(r->right_on, RIGHT_ON_ANY_REGISTRY);
    ASSERT_EQ_INT(r->body_checked, 0);

    r = row_for("/api/v1/roleAssignments", M_POST);
    ASSERT_EQ_INT(r->right, BERTH_MGMT_ASSIGN);
    ASSERT_EQ_INT(r->body_checked, 1);

    r = row_for("/api/v1/roleAssignments/6f1c0e1e-2b7a-4c1e-9a55-0d7f3b9e2a10", M_DELETE);
    ASSERT_EQ_INT(r->right, BERTH_MGMT_ASSIGN);
    ASSERT_EQ_INT(r->body_checked, 1);

    /* the same handler reads a registry's log or the server's, by its row */
    r = row_for("/api/v1/logs/stream", M_GET);
    ASSERT_EQ_INT(r->right_on, RIGHT_ON_SERVER);
    r = row_for("/api/v1/registries/teamreg1/logs/stream", M_GET);
    ASSERT_EQ_INT(r->right_on, RIGHT_ON_REGISTRY);
}

TEST(routes_param_index)
{
    struct route r;

    memset(&r, 0, sizeof(r));
    r.pattern = "/api/v1/registries/{registry}/tokens/{token}";
    ASSERT_EQ_INT(berth_route_param_index(&r, "{registry}"), 4);
    ASSERT_EQ_INT(berth_route_param_index(&r, "{token}"), 6);
    ASSERT_EQ_INT(berth_route_param_index(&r, "{user}"), -1);
    ASSERT_EQ_INT(berth_route_param_index(&r, "{reg"), -1);
    r.pattern = "/api/v1/users/{user}/password";
    ASSERT_EQ_INT(berth_route_param_index(&r, "{user}"), 4);
}
