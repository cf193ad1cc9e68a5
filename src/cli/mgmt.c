/*
 * mgmt.c - what the management commands share: their common options, the
 * required registry, and "call the API, then print the answer" for reads,
 * changes (a secret in the answer gets a one-time warning) and deletes.
 */
#include <stdlib.h>
#include <string.h>
#include "alloc.h"
#include "cli.h"
#include "banned.h"

int cli_mgmt_parse(struct cli_ctx *ctx, const char *synopsis, const char *desc, const struct cli_opt *opts,
                   int argc, char **argv, struct cli_list *pos, size_t npos)
{
    const struct cli_opt common[] = {CLI_JSON_OPT(ctx), CLI_CONN_OPTS(ctx), CLI_OPT_END};
    int ret = cli_opt_parse(ctx, synopsis, desc, opts, common, argc, argv, pos);

    if (ret != CLI_CONTINUE) return ret;
    if (pos->n > npos) return cli_usage_error(ctx, "unexpected argument '%s'", pos->v[npos]);
    if (pos->n < npos) return cli_usage_error(ctx, "missing argument: see the usage line");
    return CLI_CONTINUE;
}

int cli_need_registry(const struct cli_ctx *ctx, const char *flag, const char *registry)
{
    struct berth_err err = BERTH_ERR_INIT;
    if (!registry) return cli_usage_error(ctx, "%s REGISTRY is required", flag);
    if (berth_client_check_registry_arg(flag, registry, BERTH_CLIENT_WANT_RESOURCE, &err) != BERTH_OK) {
        fprintf(stderr, "berth: %s\n", berth_err_msg(&err));
        return 2;
    }
    return 0;
}

int cli_need(const struct cli_ctx *ctx, const char *flag, const void *value)
{
    return value ? 0 : cli_usage_error(ctx, "%s is required", flag);
}

/* Does the answer carry a secret value? */
static int has_secret(const json_t *v)
{
    const char *key;
    const json_t *m;
    size_t i;

    if (json_is_array(v)) {
        for (i = 0; i < json_array_size(v); i++)
            if (has_secret(json_array_get(v, i))) return 1;
        return 0;
    }
    if (!json_is_object(v)) return 0;
    json_object_foreach((json_t *)v, key, m) {
        if (json_is_string(m) && (!strcmp(key, "password") || !strcmp(key, "value")) &&
            !json_object_get(v, "action"))
            return 1;
        if (has_secret(m)) return 1;
    }
    return 0;
}

/* The server's "warnings" (a rule that matches everyone, say): to stderr, so --json output stays one document. */
static void print_warnings(const json_t *v)
{
    const json_t *w;
    size_t i;

    json_array_foreach(json_object_get(v, "warnings"), i, w)
        if (json_is_string(w)) fprintf(stderr, "berth: warning: %s\n", json_string_value(w));
}

void cli_print(const struct cli_ctx *ctx, const json_t *v, const struct cli_col *cols, size_t ncols)
{
    if (ctx->json) cli_out_json(stdout, v);
    else if (json_is_array(json_object_get(v, "value"))) cli_out_table(stdout, json_object_get(v, "value"), cols, ncols);
    else if (json_is_array(v)) cli_out_table(stdout, v, cols, ncols);
    else cli_out_fields(stdout, v, cols, ncols);
    if (has_secret(v))
        fprintf(stderr, "berth: save the secret now: it is shown once and will not be shown again\n");
    print_warnings(v);
}

int cli_call(struct cli_ctx *ctx, const char *method, const char *path, json_t *body, const struct cli_col *cols,
             size_t ncols, const char *done)
{
    struct berth_err err = BERTH_ERR_INIT;
    json_t *ans = NULL;
    enum berth_rc rc = berth_client_api(&ctx->client, method, path, body, &ans, &err);
    int ret = 0;

    json_decref(body);
    if (rc) {
        ret = cli_fail(&err);
    } else if (ans && cols) {
        cli_print(ctx, ans, cols, ncols);
    } else if (done) {
        if (ctx->json) printf("{}\n");
        else printf("%s\n", done);
    }
    json_decref(ans);
    return ret;
}

int cli_simple_verb(struct cli_ctx *ctx, const struct cli_simple *v, int argc, char **argv)
{
    struct cli_list pos = {0};
    const char *reg = NULL, *name = NULL, *args[2] = {NULL, NULL};
    char *path = NULL, *done = NULL;
    size_t n = 0;
    struct cli_opt t[3];
    size_t nt = 0;
    int ret;

    if (v->need & CLI_NEED_REGISTRY)
        t[nt++] = (struct cli_opt)CLI_REGISTRY_OPT("registry", &reg);
    if (v->need & CLI_NEED_NAME) t[nt++] = (struct cli_opt){"name", 0, CLI_OPT_STR, &name, "NAME", v->name_help};
    t[nt] = (struct cli_opt)CLI_OPT_END;
    ret = cli_mgmt_parse(ctx, v->synopsis, v->desc, t, argc, argv, &pos, (v->need & CLI_NEED_ARG) ? 1 : 0);
    if (ret == CLI_CONTINUE && (v->need & CLI_NEED_REGISTRY)) ret = cli_need_registry(ctx, "-n", reg);
    if (!ret && (v->need & CLI_NEED_NAME)) ret = cli_need(ctx, "--name", name);
    if (ret) goto out;
    if (v->need & CLI_NEED_REGISTRY) args[n++] = reg;
    if (v->need & CLI_NEED_NAME) args[n++] = name;
    if (v->need & CLI_NEED_ARG) args[n++] = pos.v[0];
    path = berth_xasprintf(v->path, args[0], args[1]);
    done = v->done ? berth_xasprintf(v->done, args[0], args[1]) : NULL;
    ret = cli_call(ctx, v->method, path, NULL, v->cols, v->ncols, done);
out:
    free(path);
    free(done);
    cli_list_release(&pos);
    return ret;
}
