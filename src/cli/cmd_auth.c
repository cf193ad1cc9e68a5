/*
 * cmd_auth.c - `berth auth login|logout|show|use`: the CLI's sessions with
 * berth servers (see docs/internals/cli.md for the file and the token flow).
 */
#include <stdlib.h>
#include <string.h>
#include <termios.h>
#include <unistd.h>
#include "alloc.h"
#include "util.h"
#include "cli.h"
#include "banned.h"

/* Reads a password from the terminal without echo; NULL when stdin is no terminal. */
static char *prompt_password(const char *who)
{
    struct termios old, quiet;
    char *line = NULL;
    size_t cap = 0;
    ssize_t n;

    if (!isatty(STDIN_FILENO)) return NULL;
    fprintf(stderr, "Password for %s: ", who);
    fflush(stderr);
    if (tcgetattr(STDIN_FILENO, &old) != 0) return NULL;
    quiet = old;
    quiet.c_lflag &= ~(tcflag_t)ECHO;
    tcsetattr(STDIN_FILENO, TCSAFLUSH, &quiet);
    n = getline(&line, &cap, stdin);
    tcsetattr(STDIN_FILENO, TCSAFLUSH, &old);
    fputc('\n', stderr);
    if (n <= 0) {
        free(line);
        return NULL;
    }
    while (n > 0 && (line[n - 1] == '\n' || line[n - 1] == '\r')) line[--n] = '\0';
    return line;
}

static enum berth_rc load_sessions(char **path, json_t **root, struct berth_err *err)
{
    *path = berth_client_session_path();
    return berth_client_session_load(*path, root, err);
}

static int auth_login(int argc, char **argv, struct cli_ctx *ctx)
{
    struct berth_err err = BERTH_ERR_INIT;
    struct cli_list pos = {0};
    struct berth_client_session s;
    json_t *ans = NULL, *root = NULL;
    char *path = NULL;
    const char *pw = NULL, *tenant = NULL, *url = NULL, *rt;
    int sp = 0, ret;
    enum berth_rc rc;
    const struct cli_opt opts[] = {
        {"service-principal", 0, CLI_OPT_FLAG, &sp, NULL, "log in as a service principal: -u APPID -p SECRET"},
        CLI_CONN_OPTS(ctx),
        CLI_OPT_END,
    };

    memset(&s, 0, sizeof(s));
    ret = cli_opt_parse(ctx, "--server URL (-u USER [-p PASS | --password-stdin] | --service-principal -u APPID "
                             "-p SECRET) [--ca-file FILE]",
                        "Logs in to a berth server and makes it the current one. A user's password is never\n"
                        "stored: the session keeps the directory refresh token. A service principal's\n"
                        "client_credentials grant returns no refresh token, so its secret is stored in the\n"
                        "session file (mode 0600) to renew the session, as `az login --service-principal` does.\n"
                        "Without -p or --password-stdin the password is asked for on the terminal.",
                        opts, NULL, argc, argv, &pos);
    if (ret != CLI_CONTINUE) goto done;
    ret = 2;
    if (pos.n) {
        ret = cli_usage_error(ctx, "unexpected argument '%s'", pos.v[0]);
        goto done;
    }
    if (!ctx->client.server) {
        ret = cli_usage_error(ctx, "--server URL is required");
        goto done;
    }
    if (!ctx->client.user) {
        ret = cli_usage_error(ctx, "-u USER (or -u APPID with --service-principal) is required");
        goto done;
    }
    if (sp && !berth_uuid_valid(ctx->client.user)) {
        ret = cli_usage_error(ctx, "--service-principal takes the app id (a GUID) as -u, not '%s'", ctx->client.user);
        goto done;
    }
    rc = berth_client_password(&ctx->client, &pw, &err);
    if (rc) goto fail;
    if (!pw) {
        ctx->client.password_read = prompt_password(ctx->client.user);
        pw = ctx->client.password_read;
        if (!pw) {
            ret = cli_usage_error(ctx, "no password: pass -p PASS or --password-stdin (stdin is not a terminal)");
            goto done;
        }
    }
    rc = berth_client_server_url(&ctx->client, &url, &err);
    if (!rc) rc = berth_client_tenant(&ctx->client, &tenant, &err);
    if (!rc) rc = berth_client_directory_login(&ctx->client, tenant, ctx->client.user, pw, &ans, &err);
    if (!rc) rc = load_sessions(&path, &root, &err);
    if (rc) goto fail;
    s.server = berth_xstrdup(url);
    s.tenant = berth_xstrdup(tenant);
    s.name = berth_xstrdup(ctx->client.user);
    if (ctx->client.ca_file) s.ca_file = realpath(ctx->client.ca_file, NULL);
    if (ctx->client.ca_file && !s.ca_file) s.ca_file = berth_xstrdup(ctx->client.ca_file);
    rt = json_string_value(json_object_get(ans, "refresh_token"));
    if (berth_uuid_valid(ctx->client.user)) {
        s.kind = berth_xstrdup("sp");
        s.secret = berth_xstrdup(pw);
    } else {
        s.kind = berth_xstrdup("user");
        if (!rt) {
            rc = berth_err_set(&err, BERTH_EUNAVAILABLE, "the directory answered no refresh token for %s",
                               ctx->client.user);
            goto fail;
        }
        s.refresh_token = berth_xstrdup(rt);
    }
    berth_client_session_put(root, &s, 1);
    rc = berth_client_session_save(path, root, &err);
    if (rc) goto fail;
    printf("Logged in to %s as %s\n", url, ctx->client.user);
    ret = 0;
    goto done;
fail:
    ret = cli_fail(&err);
done:
    berth_client_session_release(&s);
    cli_list_release(&pos);
    json_decref(ans);
    json_decref(root);
    free(path);
    return ret;
}

/* Parses the options of logout, show and use: --server and --json where given. */
static int simple_opts(struct cli_ctx *ctx, const char *synopsis, const char *desc, int with_server, int with_json,
                       int argc, char **argv, struct cli_list *pos)
{
    struct cli_opt t[3];
    size_t n = 0;

    if (with_server)
        t[n++] = (struct cli_opt){"server", 0, CLI_OPT_STR, &ctx->client.server, "URL",
                                  "the server (default: the current one)"};
    if (with_json) t[n++] = (struct cli_opt)CLI_JSON_OPT(ctx);
    t[n] = (struct cli_opt)CLI_OPT_END;
    return cli_opt_parse(ctx, synopsis, desc, t, NULL, argc, argv, pos);
}

static int auth_show(int argc, char **argv, struct cli_ctx *ctx)
{
    static const struct cli_col cols[] = {
        {"SERVER", "server"}, {"NAME", "name"}, {"KIND", "kind"}, {"TENANT", "tenant"}, {"CURRENT", "current"},
    };
    static const char *const shown[] = {"tenant", "kind", "name", "caFile"};
    struct berth_err err = BERTH_ERR_INIT;
    struct cli_list pos = {0};
    json_t *root = NULL, *out = NULL, *list;
    const json_t *o;
    const char *key, *cur;
    char *path = NULL;
    size_t i;
    int ret = simple_opts(ctx, "[--json]", "Lists the sessions: servers, who is logged in, which is current. Never "
                                           "tokens or secrets.", 0, 1, argc, argv, &pos);

    if (ret != CLI_CONTINUE) goto out;
    if (load_sessions(&path, &root, &err)) {
        ret = cli_fail(&err);
        goto out;
    }
    cur = json_string_value(json_object_get(root, "current"));
    list = json_array();
    out = json_pack("{s:s?,s:o}", "current", cur, "servers", list);
    json_object_foreach(json_object_get(root, "servers"), key, o) {
        json_t *e = json_pack("{s:s}", "server", key);
        for (i = 0; i < sizeof(shown) / sizeof(shown[0]); i++) {
            const char *v = json_string_value(json_object_get(o, shown[i]));
            if (v) json_object_set_new(e, shown[i], json_string(v));
        }
        json_object_set_new(e, "current", json_boolean(cur && !strcmp(cur, key)));
        json_array_append_new(list, e);
    }
    if (ctx->json) cli_out_json(stdout, out);
    else if (!json_array_size(list)) printf("not logged in: run 'berth auth login --server URL'\n");
    else cli_out_table(stdout, list, cols, sizeof(cols) / sizeof(cols[0]));
    ret = 0;
out:
    cli_list_release(&pos);
    json_decref(root);
    json_decref(out);
    free(path);
    return ret;
}

/* logout (forget the session of --server or the current one) and use URL (make it current). */
static int edit_sessions(int argc, char **argv, struct cli_ctx *ctx, int logout)
{
    struct berth_err err = BERTH_ERR_INIT;
    struct cli_list pos = {0};
    json_t *root = NULL;
    char *path = NULL, *server = NULL;
    const char *cur, *given;
    int ret = logout ? simple_opts(ctx, "[--server URL]", "Forgets the session of a server (the current one by "
                                   "default).", 1, 0, argc, argv, &pos)
                     : simple_opts(ctx, "URL", "Makes the session of URL the current one.", 0, 0, argc, argv, &pos);

    if (ret != CLI_CONTINUE) goto out;
    if (pos.n != (logout ? 0u : 1u)) {
        ret = cli_usage_error(ctx, logout ? "unexpected argument '%s'" : "one server URL is needed",
                              pos.n ? pos.v[0] : "");
        goto out;
    }
    if (load_sessions(&path, &root, &err)) goto fail;
    cur = json_string_value(json_object_get(root, "current"));
    given = logout ? ctx->client.server : pos.v[0];
    if (given) server = berth_xstrndup(given, strlen(given) - (*given && given[strlen(given) - 1] == '/'));
    else if (cur) server = berth_xstrdup(cur);
    if (!server || !json_object_get(json_object_get(root, "servers"), server)) {
        berth_err_set(&err, BERTH_ENOENT, "not logged in to %s: run 'berth auth login --server %s'",
                      server ? server : "any server", server ? server : "URL");
        goto fail;
    }
    if (logout) {
        json_object_del(json_object_get(root, "servers"), server);
        if (cur && !strcmp(cur, server)) json_object_set_new(root, "current", json_null());
    } else {
        json_object_set_new(root, "current", json_string(server));
    }
    if (berth_client_session_save(path, root, &err)) goto fail;
    printf("%s %s\n", logout ? "Logged out of" : "Now using", server);
    ret = 0;
    goto out;
fail:
    ret = cli_fail(&err);
out:
    cli_list_release(&pos);
    json_decref(root);
    free(path);
    free(server);
    return ret;
}

static int auth_logout(int argc, char **argv, struct cli_ctx *ctx)
{
    return edit_sessions(argc, argv, ctx, 1);
}

static int auth_use(int argc, char **argv, struct cli_ctx *ctx)
{
    return edit_sessions(argc, argv, ctx, 0);
}

static const struct cli_verb verbs[] = {
    {"login", auth_login, "log in to a server and make it current"},
    {"logout", auth_logout, "forget a server's session"},
    {"show", auth_show, "list the sessions (never secrets)"},
    {"use", auth_use, "make another server current"},
};

int cmd_auth(int argc, char **argv, struct cli_ctx *ctx)
{
    return cli_dispatch(ctx, "Sessions with berth servers.", verbs, CLI_NVERBS(verbs), argc, argv);
}
