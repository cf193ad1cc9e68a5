/*
 * cmd_credential.c - `berth credential show|renew`: a registry's admin user
 * and its two passwords (like `az acr credential show|renew`).
 */
#include <stdlib.h>
#include <string.h>
#include "berth/alloc.h"
#include "cli.h"
#include "berth/banned.h"

static const struct cli_col show_cols[] = {
    {"USERNAME", "username"}, {"ADMIN", "adminUserEnabled"}, {"PASSWORDS", "passwords"},
};
static const struct cli_col renew_cols[] = {
    {"USERNAME", "username"}, {"PASSWORD NAME", "passwords.0.name"}, {"PASSWORD", "passwords.0.value"},
};

static int cred_run(int argc, char **argv, struct cli_ctx *ctx, int renew)
{
    struct cli_list pos = {0};
    const char *reg = NULL, *pw_name = "password";
    char *path = NULL;
    json_t *body = NULL;
    const struct cli_opt show_opts[] = {{"name", 'n', CLI_OPT_STR, &reg, "REGISTRY", "the registry name"}, CLI_OPT_END};
    const struct cli_opt renew_opts[] = {
        {"name", 'n', CLI_OPT_STR, &reg, "REGISTRY", "the registry name"},
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
        ret = cli_call(ctx, "GET", path, NULL, show_cols, CLI_NCOLS(show_cols), NULL);
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
