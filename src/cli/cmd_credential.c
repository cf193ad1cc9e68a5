/*
 * cmd_credential.c - `berth credential show|renew`: a registry's admin user
 * and its two passwords (like `az acr credential show|renew`).
 */
#include <stdlib.h>
#include <string.h>
#include "alloc.h"
#include "cli.h"
#include "banned.h"

static const struct cli_col show_cols[] = {{"USERNAME", "username"}, {"ADMIN", "adminUserEnabled"}};
static const struct cli_col password_cols[] = {{"PASSWORD NAME", "name"}, {"CREATED", "created"}};
static const struct cli_col renew_cols[] = {
    {"USERNAME", "username"}, {"PASSWORD NAME", "passwords.0.name"}, {"PASSWORD", "passwords.0.value"},
};

/*
 * The admin user, then one row per password slot with when it was made: a
 * slot that never got a password says so rather than looking like one.
 */
static int cred_show_print(struct cli_ctx *ctx, const char *path)
{
    struct berth_err err = BERTH_ERR_INIT;
    json_t *ans = NULL, *rows, *p;
    size_t i;

    if (berth_client_api(&ctx->client, "GET", path, NULL, &ans, &err) != BERTH_OK) return cli_fail(&err);
    if (ctx->json) {
        cli_out_json(stdout, ans);
        json_decref(ans);
        return 0;
    }
    cli_out_fields(stdout, ans, show_cols, CLI_NCOLS(show_cols));
    rows = json_array();
    json_array_foreach(json_object_get(ans, "passwords"), i, p) {
        const json_t *at = json_object_get(p, "createdAt");
        json_array_append_new(rows, json_pack("{s:O,s:s}", "name", json_object_get(p, "name"), "created",
                                              json_is_string(at) ? json_string_value(at) : "not set"));
    }
    putchar('\n');
    cli_out_table(stdout, rows, password_cols, CLI_NCOLS(password_cols));
    json_decref(rows);
    json_decref(ans);
    return 0;
}

static int cred_run(int argc, char **argv, struct cli_ctx *ctx, int renew)
{
    struct cli_list pos = {0};
    const char *reg = NULL, *pw_name = "password";
    char *path = NULL;
    json_t *body = NULL;
    const struct cli_opt show_opts[] = {CLI_REGISTRY_OPT("name", &reg), CLI_OPT_END};
    const struct cli_opt renew_opts[] = {
        CLI_REGISTRY_OPT("name", &reg),
        {"password-name", 0, CLI_OPT_STR, &pw_name, "password|password2", "which password (default: password)"},
        CLI_OPT_END};
    int ret = cli_mgmt_parse(ctx, renew ? "-n REGISTRY [--password-name password|password2]" : "-n REGISTRY [--json]",
                             renew ? "Generates a new value for one admin password; it is shown once."
                                   : "Shows the admin user and when its passwords were made (never their values).",
                             renew ? renew_opts : show_opts, argc, argv, &pos, 0);

    if (ret == CLI_CONTINUE) ret = cli_need_registry(ctx, "-n", reg);
    if (!ret && renew && strcmp(pw_name, "password") != 0 && strcmp(pw_name, "password2") != 0)
        ret = cli_usage_error(ctx, "--password-name takes password or password2, not '%s'", pw_name);
    if (ret) goto out;
    if (renew) {
        path = berth_xasprintf("/registries/%s/credentials/regenerate", reg);
        body = json_pack("{s:s}", "name", pw_name);
        ret = cli_call(ctx, "POST", path, body, renew_cols, CLI_NCOLS(renew_cols), NULL);
    } else {
        path = berth_xasprintf("/registries/%s/credentials", reg);
        ret = cred_show_print(ctx, path);
    }
out:
    free(path);
    cli_list_release(&pos);
    return ret;
}

static int cred_show(int argc, char **argv, struct cli_ctx *ctx)
{
    return cred_run(argc, argv, ctx, 0);
}

static int cred_renew(int argc, char **argv, struct cli_ctx *ctx)
{
    return cred_run(argc, argv, ctx, 1);
}

static const struct cli_verb verbs[] = {
    {"show", cred_show, "show the admin user and its passwords' dates"},
    {"renew", cred_renew, "generate a new admin password (shown once)"},
};

int cmd_credential(int argc, char **argv, struct cli_ctx *ctx)
{
    return cli_dispatch(ctx, "A registry's admin credentials (like `az acr credential`).", verbs, CLI_NVERBS(verbs),
                        argc, argv);
}
