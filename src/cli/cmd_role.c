/*
 * cmd_role.c - `berth role assignment create|list|delete` (like `az role
 * assignment`): built-in roles for users and service principals on the
 * server, a registry or a repository prefix.
 */
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include "alloc.h"
#include "cli.h"
#include "banned.h"

static const struct cli_col cols[] = {
    {"ID", "id"}, {"PRINCIPAL", "principalName"}, {"TYPE", "principalType"}, {"ROLE", "roleDefinitionName"},
    {"SCOPE", "scope"},
};

struct role_args {
    const char *assignee, *role, *scope, *registry, *repository, *id;
};

#define ROLE_OPTS(a)                                                                                              \
    {"assignee", 0, CLI_OPT_STR, &(a)->assignee, "NAME_OR_APPID", "a user name, user id or app id"},              \
    {"role", 0, CLI_OPT_STR, &(a)->role, "ROLE", "Owner, Contributor, Reader, AcrPush, AcrPull or AcrDelete"},    \
    {"scope", 0, CLI_OPT_STR, &(a)->scope, "SCOPE", "/, /registries/R or /registries/R/repositories/PREFIX"},     \
    {"registry", 0, CLI_OPT_STR, &(a)->registry, "R", "instead of --scope: the registry R"},                      \
    {"repository", 0, CLI_OPT_STR, &(a)->repository, "PREFIX", "with --registry: a repository prefix in it"}

/* Builds the scope from --scope or --registry [--repository] into *out (malloc'd, NULL when none). */
static int scope_of(const struct cli_ctx *ctx, const struct role_args *a, char **out)
{
    int ret;
    *out = NULL;
    if (a->scope && a->registry) return cli_usage_error(ctx, "give --scope or --registry, not both");
    if (a->repository && !a->registry) return cli_usage_error(ctx, "--repository needs --registry");
    if (a->scope) *out = berth_xstrdup(a->scope);
    if (!a->registry) return 0;
    ret = cli_need_registry(ctx, "--registry", a->registry);
    if (ret) return ret;
    *out = a->repository ? berth_xasprintf("/registries/%s/repositories/%s", a->registry, a->repository)
                         : berth_xasprintf("/registries/%s", a->registry);
    return 0;
}

static int ra_create(int argc, char **argv, struct cli_ctx *ctx)
{
    struct role_args a = {0};
    struct cli_list pos = {0};
    char *scope = NULL;
    const struct cli_opt opts[] = {ROLE_OPTS(&a), CLI_OPT_END};
    int ret = cli_mgmt_parse(ctx, "--assignee NAME_OR_APPID --role ROLE (--scope SCOPE | --registry R [--repository P])",
                             "Gives a principal a role on a scope.", opts, argc, argv, &pos, 0);

    if (ret == CLI_CONTINUE) ret = cli_need(ctx, "--assignee", a.assignee);
    if (!ret) ret = cli_need(ctx, "--role", a.role);
    if (!ret) ret = scope_of(ctx, &a, &scope);
    if (!ret) ret = cli_need(ctx, "--scope (or --registry)", scope);
    if (!ret)
        ret = cli_call(ctx, "POST", "/roleAssignments",
                       json_pack("{s:s,s:s,s:s}", "principal", a.assignee, "role", a.role, "scope", scope), cols,
                       CLI_NCOLS(cols), NULL);
    free(scope);
    cli_list_release(&pos);
    return ret;
}

static int ra_list(int argc, char **argv, struct cli_ctx *ctx)
{
    struct role_args a = {0};
    struct cli_list pos = {0};
    char *path = NULL, *q = NULL;
    const struct cli_opt opts[] = {
        {"assignee", 0, CLI_OPT_STR, &a.assignee, "NAME_OR_APPID", "only this principal's assignments"},
        CLI_OPT_END};
    int ret = cli_mgmt_parse(ctx, "[--assignee NAME_OR_APPID] [--json]", "Lists the role assignments you may read.",
                             opts, argc, argv, &pos, 0);

    if (ret == CLI_CONTINUE) {
        q = a.assignee ? berth_client_query_escape(a.assignee) : NULL;
        path = q ? berth_xasprintf("/roleAssignments?principal=%s", q) : berth_xstrdup("/roleAssignments");
        ret = cli_call(ctx, "GET", path, NULL, cols, CLI_NCOLS(cols), NULL);
    }
    free(q);
    free(path);
    cli_list_release(&pos);
    return ret;
}

/* The id of the assignment of a.assignee with role on scope, looked up in the list (malloc'd). */
static enum berth_rc find_id(struct cli_ctx *ctx, const struct role_args *a, const char *scope, char **id,
                             struct berth_err *err)
{
    char *q = berth_client_query_escape(a->assignee), *path = berth_xasprintf("/roleAssignments?principal=%s", q);
    const json_t *e;
    json_t *list = NULL;
    size_t i;
    enum berth_rc rc = berth_client_api(&ctx->client, "GET", path, NULL, &list, err);

    *id = NULL;
    json_array_foreach(json_object_get(list, "value"), i, e) {
        const char *r = json_string_value(json_object_get(e, "roleDefinitionName"));
        const char *s = json_string_value(json_object_get(e, "scope"));
        if (!rc && r && s && !strcasecmp(r, a->role) && !strcmp(s, scope)) {
            *id = berth_xstrdup(json_string_value(json_object_get(e, "id")));
            break;
        }
    }
    if (!rc && !*id)
        rc = berth_err_set(err, BERTH_ENOENT, "'%s' has no role assignment %s on %s", a->assignee, a->role, scope);
    json_decref(list);
    free(path);
    free(q);
    return rc;
}

static int ra_delete(int argc, char **argv, struct cli_ctx *ctx)
{
    struct berth_err err = BERTH_ERR_INIT;
    struct role_args a = {0};
    struct cli_list pos = {0};
    char *scope = NULL, *id = NULL, *path = NULL, *done = NULL;
    const struct cli_opt opts[] = {{"id", 0, CLI_OPT_STR, &a.id, "ID", "the assignment's id"}, ROLE_OPTS(&a),
                                   CLI_OPT_END};
    int ret = cli_mgmt_parse(ctx, "(--id ID | --assignee NAME_OR_APPID --role ROLE --scope SCOPE)",
                             "Deletes a role assignment, by id or by principal, role and scope.", opts, argc, argv,
                             &pos, 0);

    if (ret == CLI_CONTINUE) ret = scope_of(ctx, &a, &scope);
    if (!ret && !a.id && (!a.assignee || !a.role || !scope))
        ret = cli_usage_error(ctx, "give --id, or --assignee, --role and --scope");
    if (ret) goto out;
    if (a.id) id = berth_xstrdup(a.id);
    else if (find_id(ctx, &a, scope, &id, &err)) {
        ret = cli_fail(&err);
        goto out;
    }
    path = berth_xasprintf("/roleAssignments/%s", id);
    done = berth_xasprintf("Deleted role assignment %s", id);
    ret = cli_call(ctx, "DELETE", path, NULL, NULL, 0, done);
out:
    free(scope);
    free(id);
    free(path);
    free(done);
    cli_list_release(&pos);
    return ret;
}

static const struct cli_verb ra_verbs[] = {
    {"create", ra_create, "give a principal a role on a scope"},
    {"list", ra_list, "list role assignments"},
    {"delete", ra_delete, "delete a role assignment"},
};

static int role_assignment(int argc, char **argv, struct cli_ctx *ctx)
{
    return cli_dispatch(ctx, "Role assignments.", ra_verbs, CLI_NVERBS(ra_verbs), argc, argv);
}

static const struct cli_verb verbs[] = {
    {"assignment", role_assignment, "create, list and delete role assignments"},
};

int cmd_role(int argc, char **argv, struct cli_ctx *ctx)
{
    return cli_dispatch(ctx, "Built-in roles (like `az role`).", verbs, CLI_NVERBS(verbs), argc, argv);
}
