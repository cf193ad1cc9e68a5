/*
 * cmd_token.c - `berth token create|list|show|update|delete` and `berth token
 * credential generate` (like `az acr token`): repository-scoped tokens whose
 * rights come from a scope map.
 */
#include <stdlib.h>
#include <string.h>
#include "alloc.h"
#include "cli.h"
#include "banned.h"

static const struct cli_col cols[] = {
    {"NAME", "name"}, {"SCOPE MAP", "scopeMapId"}, {"STATUS", "status"}, {"PASSWORDS", "credentials.passwords"},
    {"CREATED", "creationDate"},
};
static const struct cli_col created_cols[] = {
    {"NAME", "name"}, {"SCOPE MAP", "scopeMapId"}, {"STATUS", "status"},
    {"PASSWORD1", "credentials.passwords.0.value"}, {"PASSWORD2", "credentials.passwords.1.value"},
};
static const struct cli_col generated_cols[] = {
    {"USERNAME", "username"}, {"NAME", "passwords.0.name"}, {"PASSWORD", "passwords.0.value"},
    {"EXPIRES", "passwords.0.expiry"}, {"NAME2", "passwords.1.name"}, {"PASSWORD2", "passwords.1.value"},
};

struct token_args {
    const char *registry, *name, *scope_map, *status;
    struct cli_groups repos;
    int no_passwords, pw1, pw2;
    long long days;
};

#define TOKEN_ID_OPTS(a)                                                                  \
    CLI_REGISTRY_OPT("registry", &(a)->registry),      \
    {"name", 0, CLI_OPT_STR, &(a)->name, "TOKEN", "the token's name (its username)"}
#define TOKEN_STATUS_OPT(a) {"status", 0, CLI_OPT_STR, &(a)->status, "enabled|disabled", "the token's status"}
#define TOKEN_DAYS_OPT(a)                                                                                  \
    {"expiration-in-days", 0, CLI_OPT_INT, &(a)->days, "N", "passwords expire after N days (default: never)"}

/* -n, --name and --status checks shared by every verb. */
static int check_ids(const struct cli_ctx *ctx, const struct token_args *a)
{
    int ret = cli_need_registry(ctx, "-n", a->registry);
    if (!ret) ret = cli_need(ctx, "--name", a->name);
    if (!ret && a->status && strcmp(a->status, "enabled") != 0 && strcmp(a->status, "disabled") != 0)
        ret = cli_usage_error(ctx, "--status takes enabled or disabled, not '%s'", a->status);
    if (!ret && (a->days < 0 || a->days > 36500)) ret = cli_usage_error(ctx, "--expiration-in-days takes 1 to 36500");
    return ret;
}

static int token_create(int argc, char **argv, struct cli_ctx *ctx)
{
    struct berth_err err = BERTH_ERR_INIT;
    struct token_args a = {0};
    struct cli_list pos = {0};
    json_t *map = NULL, *body = NULL;
    char *path = NULL, *map_name = NULL;
    const struct cli_opt opts[] = {
        TOKEN_ID_OPTS(&a),
        {"scope-map", 0, CLI_OPT_STR, &a.scope_map, "MAP", "the scope map giving the token its rights"},
        {"repository", 0, CLI_OPT_GROUP, &a.repos, "REPO ACTION",
         "instead of --scope-map: make the map <token>-scope-map with these actions"},
        TOKEN_STATUS_OPT(&a), TOKEN_DAYS_OPT(&a),
        {"no-passwords", 0, CLI_OPT_FLAG, &a.no_passwords, NULL, "generate no passwords now"},
        CLI_OPT_END};
    int ret = cli_mgmt_parse(ctx, "-n REGISTRY --name TOKEN (--scope-map MAP | --repository REPO ACTION...) "
                                  "[--status enabled|disabled] [--expiration-in-days N] [--no-passwords]",
                             "Creates a token with two passwords, shown once.", opts, argc, argv, &pos, 0);

    if (ret == CLI_CONTINUE) ret = check_ids(ctx, &a);
    if (!ret && !a.scope_map == !a.repos.n) ret = cli_usage_error(ctx, "give --scope-map or --repository, not both");
    if (ret) goto out;
    if (a.repos.n) {
        map_name = berth_xasprintf("%s-scope-map", a.name);
        map = json_pack("{s:s,s:[]}", "name", map_name, "actions");
        ret = cli_repo_actions(ctx, "--repository", &a.repos, json_object_get(map, "actions"));
        if (ret) goto out;
        path = berth_xasprintf("/registries/%s/scopeMaps", a.registry);
        if (berth_client_api(&ctx->client, "POST", path, map, NULL, &err)) {
            ret = cli_fail(&err);
            goto out;
        }
        a.scope_map = map_name;
        free(path);
    }
    body = json_pack("{s:s,s:s}", "name", a.name, "scopeMapId", a.scope_map);
    if (a.status) json_object_set_new(body, "status", json_string(a.status));
    if (a.no_passwords) json_object_set_new(body, "noPasswords", json_true());
    if (a.days) json_object_set_new(body, "expiresInDays", json_integer(a.days));
    path = berth_xasprintf("/registries/%s/tokens", a.registry);
    ret = cli_call(ctx, "POST", path, body, created_cols, CLI_NCOLS(created_cols), NULL);
out:
    json_decref(map);
    free(path);
    free(map_name);
    cli_groups_release(&a.repos);
    cli_list_release(&pos);
    return ret;
}

static int token_update(int argc, char **argv, struct cli_ctx *ctx)
{
    struct token_args a = {0};
    struct cli_list pos = {0};
    json_t *body;
    char *path = NULL;
    const struct cli_opt opts[] = {
        TOKEN_ID_OPTS(&a), {"scope-map", 0, CLI_OPT_STR, &a.scope_map, "MAP", "another scope map"},
        TOKEN_STATUS_OPT(&a), CLI_OPT_END};
    int ret = cli_mgmt_parse(ctx, "-n REGISTRY --name TOKEN [--status enabled|disabled] [--scope-map MAP]",
                             "Changes a token's status or scope map; a disabled token is refused at once.", opts, argc,
                             argv, &pos, 0);

    if (ret == CLI_CONTINUE) ret = check_ids(ctx, &a);
    if (!ret && !a.status && !a.scope_map) ret = cli_usage_error(ctx, "nothing to update: give --status or --scope-map");
    if (ret) goto out;
    body = json_object();
    if (a.status) json_object_set_new(body, "status", json_string(a.status));
    if (a.scope_map) json_object_set_new(body, "scopeMapId", json_string(a.scope_map));
    path = berth_xasprintf("/registries/%s/tokens/%s", a.registry, a.name);
    ret = cli_call(ctx, "PATCH", path, body, cols, CLI_NCOLS(cols), NULL);
out:
    free(path);
    cli_list_release(&pos);
    return ret;
}

static int cred_generate(int argc, char **argv, struct cli_ctx *ctx)
{
    struct token_args a = {0};
    struct cli_list pos = {0};
    json_t *body;
    char *path = NULL;
    const struct cli_opt opts[] = {
        TOKEN_ID_OPTS(&a), {"password1", 0, CLI_OPT_FLAG, &a.pw1, NULL, "generate password1"},
        {"password2", 0, CLI_OPT_FLAG, &a.pw2, NULL, "generate password2"}, TOKEN_DAYS_OPT(&a), CLI_OPT_END};
    int ret = cli_mgmt_parse(ctx, "-n REGISTRY --name TOKEN [--password1 | --password2] [--expiration-in-days N]",
                             "Generates a token password (both without --password1 or --password2), shown once; "
                             "the one it replaces stops working.", opts, argc, argv, &pos, 0);

    if (ret == CLI_CONTINUE) ret = check_ids(ctx, &a);
    if (!ret && a.pw1 && a.pw2) ret = cli_usage_error(ctx, "give --password1 or --password2, not both");
    if (ret) goto out;
    body = json_object();
    if (a.pw1 || a.pw2) json_object_set_new(body, "name", json_string(a.pw1 ? "password1" : "password2"));
    if (a.days) json_object_set_new(body, "expiresInDays", json_integer(a.days));
    path = berth_xasprintf("/registries/%s/tokens/%s/generateCredentials", a.registry, a.name);
    ret = cli_call(ctx, "POST", path, body, generated_cols, CLI_NCOLS(generated_cols) - (a.pw1 || a.pw2 ? 2 : 0),
                   NULL);
out:
    free(path);
    cli_list_release(&pos);
    return ret;
}

static int token_list(int argc, char **argv, struct cli_ctx *ctx)
{
    static const struct cli_simple v = {"GET", CLI_NEED_REGISTRY, "-n REGISTRY [--json]", "Lists a registry's tokens.",
                                        NULL, "/registries/%s/tokens", NULL, cols, CLI_NCOLS(cols)};
    return cli_simple_verb(ctx, &v, argc, argv);
}

static int token_show(int argc, char **argv, struct cli_ctx *ctx)
{
    static const struct cli_simple v = {"GET", CLI_NEED_REGISTRY | CLI_NEED_NAME, "-n REGISTRY --name TOKEN [--json]",
                                        "Shows a token (never its passwords).", "the token's name",
                                        "/registries/%s/tokens/%s", NULL, cols, CLI_NCOLS(cols)};
    return cli_simple_verb(ctx, &v, argc, argv);
}

static int token_delete(int argc, char **argv, struct cli_ctx *ctx)
{
    static const struct cli_simple v = {"DELETE", CLI_NEED_REGISTRY | CLI_NEED_NAME, "-n REGISTRY --name TOKEN",
                                        "Deletes a token.", "the token's name", "/registries/%s/tokens/%s",
                                        "Registry '%s': deleted token '%s'", NULL, 0};
    return cli_simple_verb(ctx, &v, argc, argv);
}

static const struct cli_verb cred_verbs[] = {
    {"generate", cred_generate, "generate a token password (shown once)"},
};

static int token_credential(int argc, char **argv, struct cli_ctx *ctx)
{
    return cli_dispatch(ctx, "A token's passwords.", cred_verbs, CLI_NVERBS(cred_verbs), argc, argv);
}

static const struct cli_verb verbs[] = {
    {"create", token_create, "create a token"},
    {"list", token_list, "list a registry's tokens"},
    {"show", token_show, "show a token"},
    {"update", token_update, "enable, disable or re-map a token"},
    {"delete", token_delete, "delete a token"},
    {"credential", token_credential, "generate token passwords"},
};

int cmd_token(int argc, char **argv, struct cli_ctx *ctx)
{
    return cli_dispatch(ctx, "Repository-scoped tokens (like `az acr token`).", verbs, CLI_NVERBS(verbs), argc, argv);
}
