/*
 * cmd_registry.c - `berth registry create|list|show|update|delete`, shaped
 * like `az acr create|list|show|update|delete` (-n is the registry name).
 */
#include <stdlib.h>
#include <string.h>
#include "alloc.h"
#include "cli.h"
#include "util.h"
#include "banned.h"

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

/* The list shows the first columns only: name, login server, and the access settings. */
#define LIST_COLS 6

struct reg_args {
    const char *name;
    int admin, anonymous, public_net, yes;
    const char *default_action;
    long long refresh_ttl, access_ttl;
};

#define REG_NAME_OPT(a) CLI_REGISTRY_OPT("name", &(a)->name)
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

/*
 * Prints a registry answer; the admin user's passwords made by this change
 * (the answer's "credentials", or creds from an earlier call of the same
 * command) follow as a table of their own, since they are shown only once.
 */
static void print_registry(const struct cli_ctx *ctx, json_t *ans, const json_t *creds)
{
    static const struct cli_col pw_cols[] = {{"PASSWORD NAME", "name"}, {"PASSWORD", "value"}};

    if (creds && !json_object_get(ans, "credentials")) json_object_set(ans, "credentials", (json_t *)creds);
    creds = json_object_get(ans, "credentials");
    cli_print(ctx, ans, cols, CLI_NCOLS(cols));
    if (ctx->json || !creds) return;
    printf("\nThe admin user is enabled: log in as '%s' with one of these passwords (`berth credential renew` "
           "makes new ones):\n",
           json_string_value(json_object_get(creds, "username")));
    cli_out_table(stdout, json_object_get(creds, "passwords"), pw_cols, CLI_NCOLS(pw_cols));
}

/* method on path with body (taken); the answer into *ans. 0 or the exit status. */
static int reg_api(struct cli_ctx *ctx, const char *method, const char *path, json_t *body, json_t **ans)
{
    struct berth_err err = BERTH_ERR_INIT;
    enum berth_rc rc = berth_client_api(&ctx->client, method, path, body, ans, &err);

    json_decref(body);
    return rc ? cli_fail(&err) : 0;
}

static int reg_create(int argc, char **argv, struct cli_ctx *ctx)
{
    struct reg_args a;
    struct cli_list pos = {0};
    char *path = NULL;
    json_t *body, *net = NULL, *created = NULL, *changed = NULL;
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
        json_decref(net);
        net = NULL;
    }
    ret = reg_api(ctx, "POST", "/registries", body, &created);
    if (ret) goto out;
    if (!net) {
        print_registry(ctx, created, NULL);
        goto out;
    }
    path = berth_xasprintf("/registries/%s", a.name);
    ret = reg_api(ctx, "PATCH", path, net, &changed);
    net = NULL;
    if (!ret) print_registry(ctx, changed, json_object_get(created, "credentials"));
out:
    json_decref(net);
    json_decref(created);
    json_decref(changed);
    free(path);
    cli_list_release(&pos);
    return ret;
}

static int reg_list(int argc, char **argv, struct cli_ctx *ctx)
{
    struct cli_list pos = {0};
    const struct cli_opt opts[] = {CLI_OPT_END};
    int ret = cli_mgmt_parse(ctx, "[--json]", "Lists the registries you may read.", opts, argc, argv, &pos, 0);
    if (ret == CLI_CONTINUE) ret = cli_call(ctx, "GET", "/registries", NULL, cols, LIST_COLS, NULL);
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
    if (!strcmp(method, "PATCH")) {
        json_t *ans = NULL;
        ret = reg_api(ctx, method, path, body, &ans);
        if (!ret) print_registry(ctx, ans, NULL);
        json_decref(ans);
        goto out;
    }
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

/* show-usage: what the registry holds (ACR's show-usage), sizes human-readable in a table. */
static int reg_show_usage(int argc, char **argv, struct cli_ctx *ctx)
{
    static const struct cli_col ucols[] = {{"NAME", "name"}, {"CURRENT VALUE", "shown"}, {"UNIT", "unit"}};
    struct reg_args a;
    const struct cli_opt opts[] = {REG_NAME_OPT(&a), CLI_OPT_END};
    struct cli_list pos = {0};
    json_t *ans = NULL, *rows, *v;
    char *path = NULL;
    size_t i;
    int ret;

    args_init(&a);
    ret = cli_mgmt_parse(ctx, "-n REGISTRY [--json]",
                         "Shows what a registry holds: bytes (a blob shared by repositories counted once), "
                         "repositories, manifests, tags, scope maps and tokens.",
                         opts, argc, argv, &pos, 0);
    if (ret == CLI_CONTINUE) ret = cli_need_registry(ctx, "-n", a.name);
    if (ret) goto out;
    path = berth_xasprintf("/registries/%s/usages", a.name);
    ret = reg_api(ctx, "GET", path, NULL, &ans);
    if (ret) goto out;
    if (ctx->json) {
        cli_out_json(stdout, ans);
        goto out;
    }
    rows = json_deep_copy(json_object_get(ans, "value"));
    json_array_foreach(rows, i, v) {
        json_int_t n = json_integer_value(json_object_get(v, "currentValue"));
        char h[32];
        if (!strcmp(json_string_value(json_object_get(v, "unit")) ? json_string_value(json_object_get(v, "unit")) : "",
                    "Bytes"))
            berth_human_size((uint64_t)(n < 0 ? 0 : n), h, sizeof(h));
        else
            snprintf(h, sizeof(h), "%lld", (long long)n);
        json_object_set_new(v, "shown", json_string(h));
    }
    cli_print(ctx, rows, ucols, CLI_NCOLS(ucols));
    json_decref(rows);
out:
    json_decref(ans);
    free(path);
    cli_list_release(&pos);
    return ret;
}

static const struct cli_verb verbs[] = {
    {"create", reg_create, "create a registry"},
    {"list", reg_list, "list the registries"},
    {"show", reg_show, "show a registry"},
    {"show-usage", reg_show_usage, "what a registry holds: bytes, repositories, tags, ..."},
    {"update", reg_update, "change a registry's properties"},
    {"delete", reg_delete, "delete a registry (needs --yes)"},
};

int cmd_registry(int argc, char **argv, struct cli_ctx *ctx)
{
    return cli_dispatch(ctx, "Registries (like `az acr`).", verbs, CLI_NVERBS(verbs), argc, argv);
}
