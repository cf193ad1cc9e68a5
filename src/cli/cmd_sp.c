/*
 * cmd_sp.c - `berth sp create|list|show|delete` and `berth sp credential
 * add|reset|delete`: service principals and their client secrets (like
 * `az ad sp create-for-rbac` and `az ad sp credential reset`).
 */
#include <stdlib.h>
#include <string.h>
#include "alloc.h"
#include "cli.h"
#include "banned.h"

static const struct cli_col sp_cols[] = {
    {"APPID", "appId"}, {"DISPLAY NAME", "displayName"}, {"CREATED", "createdAt"}, {"SECRETS", "secrets"},
};
static const struct cli_col created_cols[] = {
    {"APPID", "appId"}, {"DISPLAY NAME", "displayName"}, {"SECRET ID", "secret.id"},
    {"SECRET EXPIRES", "secret.expiresAt"}, {"SECRET", "secret.value"},
};
static const struct cli_col secret_cols[] = {
    {"ID", "id"}, {"DESCRIPTION", "description"}, {"EXPIRES", "expiresAt"}, {"SECRET", "value"},
};

struct sp_args {
    const char *display, *description, *expiry, *secret_id;
    long long years;
};

#define EXPIRY_OPTS(a)                                                                                          \
    {"expiry", 0, CLI_OPT_STR, &(a)->expiry, "RFC3339", "when the secret expires (2030-01-31T00:00:00Z)"},       \
    {"years", 0, CLI_OPT_INT, &(a)->years, "N", "the secret expires after N years (default: 1)"}

/* Sets expiresAt or expiresInDays in body from --expiry or --years; 2 when both are given. */
static int expiry_members(const struct cli_ctx *ctx, const struct sp_args *a, json_t *body)
{
    if (a->expiry && a->years) return cli_usage_error(ctx, "give --expiry or --years, not both");
    if (a->years < 0 || a->years > 100) return cli_usage_error(ctx, "--years takes 1 to 100");
    if (a->expiry) json_object_set_new(body, "expiresAt", json_string(a->expiry));
    if (a->years) json_object_set_new(body, "expiresInDays", json_integer(a->years * 365));
    return 0;
}

static int sp_create(int argc, char **argv, struct cli_ctx *ctx)
{
    struct sp_args a = {0};
    struct cli_list pos = {0};
    json_t *body;
    const struct cli_opt opts[] = {
        {"display-name", 0, CLI_OPT_STR, &a.display, "NAME", "the principal's display name"},
        {"description", 0, CLI_OPT_STR, &a.description, "TEXT", "the display name, when --display-name is not given"},
        EXPIRY_OPTS(&a), CLI_OPT_END};
    int ret = cli_mgmt_parse(ctx, "[--display-name NAME | --description TEXT] [--expiry RFC3339 | --years N]",
                             "Creates a service principal with one client secret, shown once.", opts, argc, argv,
                             &pos, 0);

    if (ret != CLI_CONTINUE) goto out;
    body = json_pack("{s:s}", "displayName", a.display ? a.display : a.description ? a.description : "berth sp");
    ret = expiry_members(ctx, &a, body);
    if (ret) json_decref(body);
    else ret = cli_call(ctx, "POST", "/servicePrincipals", body, created_cols, CLI_NCOLS(created_cols), NULL);
out:
    cli_list_release(&pos);
    return ret;
}

static int sp_list(int argc, char **argv, struct cli_ctx *ctx)
{
    static const struct cli_simple v = {"GET", 0, "[--json]", "Lists the service principals.", NULL,
                                        "/servicePrincipals", NULL, sp_cols, CLI_NCOLS(sp_cols)};
    return cli_simple_verb(ctx, &v, argc, argv);
}

static int sp_show(int argc, char **argv, struct cli_ctx *ctx)
{
    static const struct cli_simple v = {"GET", CLI_NEED_ARG, "APPID [--json]",
                                        "Shows a service principal and its secrets.", NULL, "/servicePrincipals/%s",
                                        NULL, sp_cols, CLI_NCOLS(sp_cols)};
    return cli_simple_verb(ctx, &v, argc, argv);
}

static int sp_delete(int argc, char **argv, struct cli_ctx *ctx)
{
    static const struct cli_simple v = {"DELETE", CLI_NEED_ARG, "APPID",
                                        "Deletes a service principal, its secrets and its role assignments.", NULL,
                                        "/servicePrincipals/%s", "Deleted service principal '%s'", NULL, 0};
    return cli_simple_verb(ctx, &v, argc, argv);
}

/* add: one more secret; reset: a new secret, then the old ones are deleted. */
static int cred_new(int argc, char **argv, struct cli_ctx *ctx, int reset)
{
    struct berth_err err = BERTH_ERR_INIT;
    struct sp_args a = {0};
    struct cli_list pos = {0};
    json_t *body = NULL, *sp = NULL, *made = NULL;
    char *path = NULL, *one = NULL;
    const json_t *old;
    size_t i;
    const struct cli_opt opts[] = {
        {"description", 0, CLI_OPT_STR, &a.description, "TEXT", "what the secret is for"}, EXPIRY_OPTS(&a),
        CLI_OPT_END};
    int ret = cli_mgmt_parse(ctx, "APPID [--description TEXT] [--expiry RFC3339 | --years N]",
                             reset ? "Replaces every secret of the principal with a new one, shown once."
                                   : "Adds a client secret (at most 10), shown once.",
                             opts, argc, argv, &pos, 1);

    if (ret != CLI_CONTINUE) goto out;
    body = json_object();
    if (a.description) json_object_set_new(body, "description", json_string(a.description));
    ret = expiry_members(ctx, &a, body);
    if (ret) goto out;
    path = berth_xasprintf("/servicePrincipals/%s", pos.v[0]);
    if (reset && berth_client_api(&ctx->client, "GET", path, NULL, &sp, &err)) goto fail;
    free(path);
    path = berth_xasprintf("/servicePrincipals/%s/secrets", pos.v[0]);
    if (berth_client_api(&ctx->client, "POST", path, body, &made, &err)) goto fail;
    json_array_foreach(json_object_get(sp, "secrets"), i, old) {
        free(one);
        one = berth_xasprintf("%s/%s", path, json_string_value(json_object_get(old, "id")));
        if (berth_client_api(&ctx->client, "DELETE", one, NULL, NULL, &err)) goto fail;
    }
    cli_print(ctx, made, secret_cols, CLI_NCOLS(secret_cols));
    ret = 0;
    goto out;
fail:
    ret = cli_fail(&err);
out:
    json_decref(body);
    json_decref(sp);
    json_decref(made);
    free(path);
    free(one);
    cli_list_release(&pos);
    return ret;
}

static int cred_add(int argc, char **argv, struct cli_ctx *ctx)
{
    return cred_new(argc, argv, ctx, 0);
}

static int cred_reset(int argc, char **argv, struct cli_ctx *ctx)
{
    return cred_new(argc, argv, ctx, 1);
}

static int cred_delete(int argc, char **argv, struct cli_ctx *ctx)
{
    struct sp_args a = {0};
    struct cli_list pos = {0};
    char *path = NULL;
    const struct cli_opt opts[] = {{"secret-id", 0, CLI_OPT_STR, &a.secret_id, "ID", "the secret to delete"},
                                   CLI_OPT_END};
    int ret = cli_mgmt_parse(ctx, "APPID --secret-id ID", "Deletes one client secret.", opts, argc, argv, &pos, 1);

    if (ret == CLI_CONTINUE) ret = cli_need(ctx, "--secret-id", a.secret_id);
    if (!ret) {
        path = berth_xasprintf("/servicePrincipals/%s/secrets/%s", pos.v[0], a.secret_id);
        ret = cli_call(ctx, "DELETE", path, NULL, NULL, 0, "Deleted the secret");
    }
    free(path);
    cli_list_release(&pos);
    return ret;
}

static const struct cli_verb cred_verbs[] = {
    {"add", cred_add, "add a client secret (shown once)"},
    {"reset", cred_reset, "replace every client secret with a new one"},
    {"delete", cred_delete, "delete a client secret"},
};

static int sp_credential(int argc, char **argv, struct cli_ctx *ctx)
{
    return cli_dispatch(ctx, "A service principal's client secrets.", cred_verbs, CLI_NVERBS(cred_verbs), argc, argv);
}

static const struct cli_verb verbs[] = {
    {"create", sp_create, "create a service principal with a secret"},
    {"list", sp_list, "list the service principals"},
    {"show", sp_show, "show a service principal"},
    {"delete", sp_delete, "delete a service principal"},
    {"credential", sp_credential, "add, reset or delete client secrets"},
};

int cmd_sp(int argc, char **argv, struct cli_ctx *ctx)
{
    return cli_dispatch(ctx, "Service principals (application identities).", verbs, CLI_NVERBS(verbs), argc, argv);
}
