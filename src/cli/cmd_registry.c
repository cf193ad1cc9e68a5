/*
 * cmd_registry.c - `berth registry create|list|show|update|delete`, shaped
 * like `az acr create|list|show|update|delete` (-n is the registry name).
 */
#include <stdlib.h>
#include <string.h>
#include "berth/alloc.h"
#include "cli.h"
#include "berth/banned.h"

static const struct cli_col cols[] = {
    {"NAME", "name"},
    {"LOGIN SERVER", "loginServer"},
    {"ADMIN", "adminUserEnabled"},
    {"ANONYMOUS PULL", "anonymousPullEnabled"},
    {"PUBLIC NETWORK", "publicNetworkAccess"},
    {"DEFAULT ACTION", "networkRuleSet.defaultAction"},
    {"REFRESH TTL", "refreshTokenLifetimeSeconds"},
    {"ACCESS TTL", "accessTokenLifetimeSeconds"},
    {"CREATED", "creationDate"},
};

struct reg_args {
    const char *name;
    int admin, anonymous, public_net, yes;
    const char *default_action;
    long long refresh_ttl, access_ttl;
};

#define REG_NAME_OPT(a) {"name", 'n', CLI_OPT_STR, &(a)->name, "REGISTRY", "the registry name"}
#define REG_PROP_OPTS(a)                                                                                      \
    {"admin-enabled", 0, CLI_OPT_BOOL, &(a)->admin, "true|false", "enable the admin user"},                  \
    {"anonymous-pull-enabled", 0, CLI_OPT_BOOL, &(a)->anonymous, "true|false", "allow pulls without login"}, \
    {"public-network-enabled", 0, CLI_OPT_BOOL, &(a)->public_net, "true|false",                             \
     "publicNetworkAccess Enabled or Disabled"},                                                             \
    {"default-action", 0, CLI_OPT_STR, &(a)->default_action, "Allow|Deny", "networkRuleSet.defaultAction"},   \
    {"refresh-token-lifetime", 0, CLI_OPT_INT, &(a)->refresh_ttl, "SECONDS", "0 (server setting) or 60..2592000"}, \
    {"access-token-lifetime", 0, CLI_OPT_INT, &(a)->access_ttl, "SECONDS", "0 (server setting) or 60..86400"}

static void args_init(struct reg_args *a)
{
    memset(a, 0, sizeof(*a));
    a->admin = a->anonymous = a->public_net = -1;
    a->refresh_ttl = a->access_ttl = -1;
}

/* The POST members (create) or the PATCH members (update) the flags ask for. */
static json_t *props_body(const struct reg_args *a, int with_network)
{
    json_t *b = json_object();
    if (a->admin >= 0) json_object_set_new(b, "adminUserEnabled", json_boolean(a->admin));
    if (a->anonymous >= 0) json_object_set_new(b, "anonymousPullEnabled", json_boolean(a->anonymous));
    if (a->refresh_ttl >= 0) json_object_set_new(b, "refreshTokenLifetimeSeconds", json_integer(a->refresh_ttl));
    if (a->access_ttl >= 0) json_object_set_new(b, "accessTokenLifetimeSeconds", json_integer(a->access_ttl));
    if (!with_network) return b;
    if (a->public_net >= 0)
        json_object_set_new(b, "publicNetworkAccess", json_string(a->public_net ? "Enabled" : "Disabled"));
    if (a->default_action)
        json_object_set_new(b, "networkRuleSet", json_pack("{s:s}", "defaultAction", a->default_action));
    return b;
}

static int check_action(const struct cli_ctx *ctx, const struct reg_args *a)
{
    if (a->default_action && strcmp(a->default_action, "Allow") != 0 && strcmp(a->default_action, "Deny") != 0)
        return cli_usage_error(ctx, "--default-action takes Allow or Deny, not '%s'", a->default_action);
    return 0;
}

static int reg_create(int argc, char **argv, struct cli_ctx *ctx)
{
    struct reg_args a;
    struct cli_list pos = {0};
    char *path = NULL;
    json_t *body, *net;
    int ret;
    const struct cli_opt opts[] = {REG_NAME_OPT(&a), REG_PROP_OPTS(&a), CLI_OPT_END};

    args_init(&a);
    ret = cli_mgmt_parse(ctx, "-n REGISTRY [--admin-enabled true|false] [...]", "Creates a registry.", opts, argc,
                         argv, &pos, 0);
    if (ret == CLI_CONTINUE) ret = cli_need_registry(ctx, "-n", a.name);
    if (!ret) ret = check_action(ctx, &a);
    if (ret) goto out;
    body = props_body(&a, 0);
    json_object_set_new(body, "name", json_string(a.name));
    net = props_body(&a, 1);
    /* the network settings are PATCH members only: set them right after */
    if (json_object_size(net) == json_object_size(body) - 1) {
        ret = cli_call(ctx, "POST", "/registries", body, cols, CLI_NCOLS(cols), NULL);
        json_decref(net);
        goto out;
    }
    ret = cli_call(ctx, "POST", "/registries", body, NULL, 0, NULL);
    path = berth_xasprintf("/registries/%s", a.name);
    if (!ret) ret = cli_call(ctx, "PATCH", path, net, cols, CLI_NCOLS(cols), NULL);
    else json_decref(net);
out:
    free(path);
    cli_list_release(&pos);
    return ret;
}

static int reg_list(int argc, char **argv, struct cli_ctx *ctx)
{
    struct cli_list pos = {0};
    const struct cli_opt opts[] = {CLI_OPT_END};
    int ret = cli_mgmt_parse(ctx, "[--json]", "Lists the registries you may read.", opts, argc, argv, &pos, 0);
    if (ret == CLI_CONTINUE) ret = cli_call(ctx, "GET", "/registries", NULL, cols, 6, NULL);
    cli_list_release(&pos);
    return ret;
}

/* show, update and delete: -n and the registry's path. */
static int reg_one(int argc, char **argv, struct cli_ctx *ctx, const char *method, const char *synopsis,
                   const char *desc, const struct cli_opt *opts, struct reg_args *a)
{
    struct cli_list pos = {0};
    char *path = NULL, *done = NULL;
    json_t *body = NULL;
    int ret = cli_mgmt_parse(ctx, synopsis, desc, opts, argc, argv, &pos, 0);

    if (ret == CLI_CONTINUE) ret = cli_need_registry(ctx, "-n", a->name);
    if (!ret) ret = check_action(ctx, a);
    if (!ret && !strcmp(method, "DELETE") && !a->yes)
        ret = cli_usage_error(ctx, "deleting registry '%s' deletes everything in it: add --yes to go ahead", a->name);
    if (ret) goto out;
    if (!strcmp(method, "PATCH")) {
        body = props_body(a, 1);
        if (!json_object_size(body)) {
            json_decref(body);
            ret = cli_usage_error(ctx, "nothing to update: give at least one property flag");
            goto out;
        }
    }
    path = berth_xasprintf("/registries/%s", a->name);
    done = berth_xasprintf("Deleted registry '%s'", a->name);
    ret = cli_call(ctx, method, path, body, cols, CLI_NCOLS(cols), done);
out:
    free(path);
    free(done);
    cli_list_release(&pos);
    return ret;
}

static int reg_show(int argc, char **argv, struct cli_ctx *ctx)
{
    struct reg_args a;
    const struct cli_opt opts[] = {REG_NAME_OPT(&a), CLI_OPT_END};
    args_init(&a);
    return reg_one(argc, argv, ctx, "GET", "-n REGISTRY [--json]", "Shows a registry.", opts, &a);
}

static int reg_update(int argc, char **argv, struct cli_ctx *ctx)
{
    struct reg_args a;
    const struct cli_opt opts[] = {REG_NAME_OPT(&a), REG_PROP_OPTS(&a), CLI_OPT_END};
    args_init(&a);
    return reg_one(argc, argv, ctx, "PATCH", "-n REGISTRY [--admin-enabled true|false] [...]",
                   "Changes a registry's properties.", opts, &a);
}

static int reg_delete(int argc, char **argv, struct cli_ctx *ctx)
{
    struct reg_args a;
    const struct cli_opt opts[] = {
        REG_NAME_OPT(&a), {"yes", 'y', CLI_OPT_FLAG, &a.yes, NULL, "really delete it and everything in it"},
        CLI_OPT_END};
    args_init(&a);
    return reg_one(argc, argv, ctx, "DELETE", "-n REGISTRY --yes",
                   "Deletes a registry with its repositories, tokens, scope maps and role assignments.", opts, &a);
}

static const struct cli_verb verbs[] = {
    {"create", reg_create, "create a registry"},
    {"list", reg_list, "list the registries"},
    {"show", reg_show, "show a registry"},
    {"update", reg_update, "change a registry's properties"},
    {"delete", reg_delete, "delete a registry (needs --yes)"},
};

int cmd_registry(int argc, char **argv, struct cli_ctx *ctx)
{
    return cli_dispatch(ctx, "Registries (like `az acr`).", verbs, CLI_NVERBS(verbs), argc, argv);
}
