/*
 * cmd_login.c - `berth login` and `berth logout`: a registry credential for
 * docker and podman/skopeo, the way `az acr login` gives one, without a
 * docker daemon. With the berth session the credential is a registry refresh
 * token (null-GUID user name, docker's identitytoken form); with -u/-p it is
 * the admin user or a repository token, checked against the token service
 * first. `--helper` points the clients at docker-credential-berth instead,
 * which mints a fresh token on every use. What was written where is kept in
 * logins.json, so logout removes exactly that.
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>
#include "alloc.h"
#include "base64.h"
#include "util.h"
#include "cli.h"
#include "credhelper.h"
#include "dockercfg.h"
#include "loginrec.h"
#include "banned.h"

#define NFILES 2

struct login_opts {
    const char *name;      /* -n */
    const char *target;    /* the login server given as an argument */
    int expose_token, helper, docker_only, podman_only;
};

/* One client file: where it is, its tree, and whether berth changed it. */
struct target {
    enum berth_authfile_kind kind;
    const char *label; /* "docker" or "podman" */
    struct berth_dockercfg *cfg;
    int changed;
};

static int wants(const struct login_opts *o, enum berth_authfile_kind k)
{
    return k == BERTH_AUTHFILE_DOCKER ? !o->podman_only : !o->docker_only;
}

/* Parses the shared options; returns CLI_CONTINUE or an exit code. */
static int parse_args(struct cli_ctx *ctx, int is_login, struct login_opts *o, int argc, char **argv)
{
    const struct cli_opt login_opts[] = {
        {"name", 'n', CLI_OPT_STR, &o->name, "NAME", "the registry's resource name (instead of LOGINSERVER)"},
        {"expose-token", 0, CLI_OPT_FLAG, &o->expose_token, NULL,
         "print the registry refresh token as JSON and write nothing"},
        {"helper", 0, CLI_OPT_FLAG, &o->helper, NULL,
         "configure docker-credential-berth for the registry instead of storing a token"},
        {"docker-only", 0, CLI_OPT_FLAG, &o->docker_only, NULL, "only docker's config.json"},
        {"podman-only", 0, CLI_OPT_FLAG, &o->podman_only, NULL, "only podman's auth.json"},
        CLI_OPT_END,
    };
    const struct cli_opt logout_opts[] = {
        {"name", 'n', CLI_OPT_STR, &o->name, "NAME", "the registry's resource name (instead of LOGINSERVER)"},
        {"docker-only", 0, CLI_OPT_FLAG, &o->docker_only, NULL, "only docker's config.json"},
        {"podman-only", 0, CLI_OPT_FLAG, &o->podman_only, NULL, "only podman's auth.json"},
        CLI_OPT_END,
    };
    const struct cli_opt common[] = {CLI_CONN_OPTS(ctx), CLI_OPT_END};
    struct cli_list pos = {NULL, 0};
    struct berth_err err = BERTH_ERR_INIT;
    int rc;

    memset(o, 0, sizeof(*o));
    if (is_login)
        rc = cli_opt_parse(ctx, "(-n NAME | LOGINSERVER) [options]",
                           "Logs docker and podman/skopeo in to a registry: writes a registry refresh token from\n"
                           "the berth session (or the -u/-p credentials) to docker's config.json and podman's\n"
                           "auth.json, or to the credential helper they are configured with.",
                           login_opts, common, argc, argv, &pos);
    else
        rc = cli_opt_parse(ctx, "(-n NAME | LOGINSERVER) [options]",
                           "Removes what 'berth login' wrote for a registry; other entries stay as they are.",
                           logout_opts, NULL, argc, argv, &pos);
    if (rc != CLI_CONTINUE) goto out;
    rc = 2;
    if (pos.n > 1) {
        cli_usage_error(ctx, "one registry at a time, got '%s' and '%s'", pos.v[0], pos.v[1]);
        goto out;
    }
    o->target = pos.n ? pos.v[0] : NULL;
    if (!o->name == !o->target) {
        cli_usage_error(ctx, o->name ? "give -n NAME or LOGINSERVER, not both" : "which registry? give -n NAME or LOGINSERVER");
        goto out;
    }
    if ((o->name && berth_client_check_registry_arg("-n", o->name, BERTH_CLIENT_WANT_RESOURCE, &err)) ||
        (o->target &&
         berth_client_check_registry_arg("LOGINSERVER", o->target, BERTH_CLIENT_WANT_LOGIN_SERVER, &err))) {
        cli_usage_error(ctx, "%s", berth_err_msg(&err));
        goto out;
    }
    if (o->docker_only && o->podman_only) {
        cli_usage_error(ctx, "--docker-only and --podman-only exclude each other; give neither for both");
        goto out;
    }
    if (ctx->client.user && (o->expose_token || o->helper)) {
        cli_usage_error(ctx, "%s works with the berth session, not with -u", o->helper ? "--helper" : "--expose-token");
        goto out;
    }
    if (o->expose_token && o->helper) {
        cli_usage_error(ctx, "--expose-token writes nothing, --helper writes the helper: pick one");
        goto out;
    }
    rc = CLI_CONTINUE;
out:
    cli_list_release(&pos);
    return rc;
}

/* ---------------------------------------------------------------- other credential helpers */

/*
 * Runs docker-credential-<helper> <verb> with input on stdin; its stdout
 * (which is where helpers put their errors) goes into the message on failure.
 */
static enum berth_rc run_helper(const char *helper, const char *verb, const char *input, struct berth_err *err)
{
    char *prog = berth_xasprintf(BERTH_HELPER_PREFIX "%s", helper), out[512];
    int in_pipe[2] = {-1, -1}, out_pipe[2] = {-1, -1}, status = 0;
    size_t got = 0, len = strlen(input);
    enum berth_rc rc = BERTH_OK;
    void (*old_pipe)(int) = signal(SIGPIPE, SIG_IGN);
    pid_t pid;

    if (pipe(in_pipe) != 0 || pipe(out_pipe) != 0) {
        rc = berth_err_sys(err, BERTH_EIO, errno, "pipe");
        goto out;
    }
    pid = fork();
    if (pid < 0) {
        rc = berth_err_sys(err, BERTH_EIO, errno, "fork");
        goto out;
    }
    if (pid == 0) {
        dup2(in_pipe[0], 0);
        dup2(out_pipe[1], 1);
        close(in_pipe[0]);
        close(in_pipe[1]);
        close(out_pipe[0]);
        close(out_pipe[1]);
        execlp(prog, prog, verb, (char *)NULL);
        _exit(127);
    }
    close(in_pipe[0]);
    close(out_pipe[1]);
    in_pipe[0] = out_pipe[1] = -1;
    while (len) {
        ssize_t w = write(in_pipe[1], input, len);
        if (w < 0 && errno == EINTR) continue;
        if (w <= 0) break;
        input += w;
        len -= (size_t)w;
    }
    close(in_pipe[1]);
    in_pipe[1] = -1;
    for (;;) {
        ssize_t r = read(out_pipe[0], out + got, sizeof(out) - 1 - got);
        if (r < 0 && errno == EINTR) continue;
        if (r <= 0) break;
        got += (size_t)r;
        if (got == sizeof(out) - 1) got = 0; /* keep the tail: a long answer is not a message */
    }
    out[got] = '\0';
    while (got && (out[got - 1] == '\n' || out[got - 1] == '\r')) out[--got] = '\0';
    while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
    }
    if (WIFEXITED(status) && WEXITSTATUS(status) == 127)
        rc = berth_err_set(err, BERTH_EUNAVAILABLE, "cannot run %s: install it or change the docker config", prog);
    else if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
        rc = berth_err_set(err, BERTH_EUNAVAILABLE, "%s %s failed: %s", prog, verb, *out ? out : "(no message)");
out:
    if (in_pipe[0] >= 0) close(in_pipe[0]);
    if (in_pipe[1] >= 0) close(in_pipe[1]);
    if (out_pipe[0] >= 0) close(out_pipe[0]);
    if (out_pipe[1] >= 0) close(out_pipe[1]);
    signal(SIGPIPE, old_pipe);
    free(prog);
    return rc;
}

/* The helper a client file sends credentials of server to (credHelpers, and credsStore for docker); NULL if none. */
static const char *helper_of(const struct target *t, const char *server)
{
    const char *h;
    if (t->kind == BERTH_AUTHFILE_DOCKER) return berth_dockercfg_helper_for(t->cfg, server);
    /* containers/image reads credHelpers from auth.json but not credsStore */
    h = json_string_value(json_object_get(json_object_get(t->cfg->root, "credHelpers"), server));
    return h && *h ? h : NULL;
}

/* ---------------------------------------------------------------- the credential */

struct cred {
    char *login_server; /* "host:port" */
    char *user;         /* NULL: a refresh token (null GUID) */
    char *secret;       /* the refresh token or the password */
    int64_t expires_at;
    char *session;      /* the session's server URL, for refresh tokens */
};

static void cred_release(struct cred *c)
{
    if (c->secret) explicit_bzero(c->secret, strlen(c->secret));
    free(c->secret);
    free(c->user);
    free(c->login_server);
    free(c->session);
    memset(c, 0, sizeof(*c));
}

/* "host:port" of a login server: one given without a port gets the server URL's. */
static enum berth_rc with_port(struct cli_ctx *ctx, const char *ls, char **out, struct berth_err *err)
{
    const char *colon = strrchr(ls, ':'), *rb = strrchr(ls, ']'), *srv;
    char hp[300], scheme[16];
    enum berth_rc rc;

    if (colon && (!rb || colon > rb)) {
        *out = berth_xstrdup(ls);
        return BERTH_OK;
    }
    rc = berth_client_server_url(&ctx->client, &srv, err);
    if (rc) return rc;
    berth_client_url_hostport(srv, hp, sizeof(hp), scheme, sizeof(scheme));
    *out = berth_xasprintf("%s%s", ls, strrchr(hp, ':'));
    return BERTH_OK;
}

/* The login server of -n NAME for a -u/-p login: looked up with the session (registry credentials cannot). */
static enum berth_rc lookup_login_server(struct cli_ctx *ctx, const char *name, char **out, struct berth_err *err)
{
    const char *user = ctx->client.user;
    char *path = berth_xasprintf("/registries/%s", name);
    json_t *reg = NULL;
    const char *ls;
    enum berth_rc rc;

    ctx->client.user = NULL;
    rc = berth_client_api(&ctx->client, "GET", path, NULL, &reg, err);
    ctx->client.user = user;
    if (rc) {
        struct berth_err why = *err;
        rc = berth_err_set(err, rc, "cannot find the login server of '%s' (%s): with -u, give the login server "
                                    "instead of -n", name, berth_err_msg(&why));
        goto out;
    }
    ls = json_string_value(json_object_get(reg, "loginServer"));
    if (!ls) {
        rc = berth_err_set(err, BERTH_EUNAVAILABLE, "GET /api/v1%s: the answer has no loginServer", path);
        goto out;
    }
    rc = with_port(ctx, ls, out, err);
out:
    json_decref(reg);
    free(path);
    return rc;
}

/* Checks -u/-p against the registry's token service, as docker login does. */
static enum berth_rc verify_basic(struct cli_ctx *ctx, const char *ls, const char *user, const char *pw,
                                  struct berth_err *err)
{
    struct berth_buf b = BERTH_BUF_INIT(0), q = BERTH_BUF_INIT(0);
    char *up = berth_xasprintf("%s:%s", user, pw);
    struct berth_client_req rq;
    struct berth_client_resp rs;
    enum berth_rc rc;

    berth_buf_puts(&b, "Basic ");
    berth_b64_encode(up, strlen(up), &b);
    berth_buf_puts(&q, "/oauth2/token?");
    berth_client_form_add(&q, "service", ls);
    berth_buf_putc(&q, '&');
    berth_client_form_add(&q, "scope", "registry:catalog:*");
    memset(&rq, 0, sizeof(rq));
    rq.method = "GET";
    rq.path = berth_buf_str(&q);
    rq.login_server = ls;
    rq.auth = berth_buf_str(&b);
    rq.accept = "application/json";
    rc = berth_client_do(&ctx->client, &rq, &rs, err);
    if (rc == BERTH_EUNAUTHORIZED || rc == BERTH_EDENIED) {
        struct berth_err why = *err;
        rc = berth_err_set(err, rc, "login to %s as '%s' failed: %s", ls, user, berth_err_msg(&why));
    }
    berth_client_resp_release(&rs);
    explicit_bzero(up, strlen(up));
    free(up);
    if (b.p) explicit_bzero(b.p, b.len);
    berth_buf_release(&b);
    berth_buf_release(&q);
    return rc;
}

/*
 * A -u/-p login to a login server needs no berth session: without --server
 * or a session, the login server itself is the server (http for a loopback
 * address, as docker allows, https otherwise).
 */
static void server_from_target(struct cli_ctx *ctx, const char *target)
{
    struct berth_err ignored = BERTH_ERR_INIT;
    const char *url;
    int loopback;

    if (ctx->client.server || berth_client_server_url(&ctx->client, &url, &ignored) == BERTH_OK) return;
    loopback = !strncmp(target, "localhost", 9) || !strncmp(target, "127.", 4) || !strncmp(target, "[::1]", 5);
    free(ctx->client.server_url);
    ctx->client.server_url = berth_xasprintf("%s://%s", loopback ? "http" : "https", target);
}

static enum berth_rc get_cred(struct cli_ctx *ctx, const struct login_opts *o, struct cred *c, struct berth_err *err)
{
    const char *pw = NULL, *url;
    enum berth_rc rc;

    if (!ctx->client.user) {
        rc = berth_client_registry_refresh_token(&ctx->client, o->name ? o->name : o->target, &c->secret,
                                                 &c->expires_at, &c->login_server, err);
        if (!rc) rc = berth_client_server_url(&ctx->client, &url, err);
        if (!rc) c->session = berth_xstrdup(url);
        return rc;
    }
    rc = berth_client_password(&ctx->client, &pw, err);
    if (rc) return rc;
    if (!pw)
        return berth_err_set(err, BERTH_EINVAL, "-u %s needs a password: pass -p PASS or --password-stdin",
                             ctx->client.user);
    if (!o->name) server_from_target(ctx, o->target);
    rc = o->name ? lookup_login_server(ctx, o->name, &c->login_server, err)
                 : with_port(ctx, o->target, &c->login_server, err);
    if (rc) return rc;
    rc = verify_basic(ctx, c->login_server, ctx->client.user, pw, err);
    if (rc) return rc;
    c->user = berth_xstrdup(ctx->client.user);
    c->secret = berth_xstrdup(pw);
    return BERTH_OK;
}

/* ---------------------------------------------------------------- login */

static int expose_token(const struct cred *c)
{
    json_t *j = json_object();
    char when[32];

    json_object_set_new(j, "loginServer", json_string(c->login_server));
    json_object_set_new(j, "accessToken", json_string(c->secret));
    json_object_set_new(j, "username", json_string(BERTH_NULL_GUID));
    if (c->expires_at > 0) {
        berth_time_rfc3339(c->expires_at, when, sizeof(when));
        json_object_set_new(j, "expiresOn", json_string(when));
    } else {
        json_object_set_new(j, "expiresOn", json_null());
    }
    cli_out_json(stdout, j);
    json_decref(j);
    return 0;
}

static enum berth_rc load_targets(const struct login_opts *o, struct target *t, struct berth_err *err)
{
    static const char *const labels[NFILES] = {"docker", "podman"};
    enum berth_rc rc = BERTH_OK;
    char *path = NULL;
    int i;

    for (i = 0; i < NFILES && !rc; i++) {
        t[i].kind = i == 0 ? BERTH_AUTHFILE_DOCKER : BERTH_AUTHFILE_PODMAN;
        t[i].label = labels[i];
        if (!wants(o, t[i].kind)) continue;
        rc = berth_dockercfg_path(t[i].kind, &path, err);
        /* REGISTRY_AUTH_FILE may name docker's file: one file, written once */
        if (!rc && i > 0 && t[0].cfg && !strcmp(path, t[0].cfg->path)) {
            free(path);
            path = NULL;
            continue;
        }
        if (!rc) rc = berth_dockercfg_load(path, &t[i].cfg, err);
        free(path);
        path = NULL;
    }
    return rc;
}

static void free_targets(struct target *t)
{
    int i;
    for (i = 0; i < NFILES; i++) berth_dockercfg_free(t[i].cfg);
}

/*
 * Notes in fr that berth is about to write key of the file: what berth brings
 * into being (the file, its "auths" or "credHelpers"), logout takes away
 * again. A repeated login adds to what earlier ones noted.
 */
static void note_write(json_t *fr, struct target *t, const char *key)
{
    json_t *created = json_object_get(fr, "created");

    if (access(t->cfg->path, F_OK) != 0) json_object_set_new(fr, "createdFile", json_true());
    if (!json_is_object(created)) {
        created = json_object();
        json_object_set_new(fr, "created", created);
    }
    if (!json_object_get(t->cfg->root, key)) json_object_set_new(created, key, json_true());
    t->changed = 1;
}

/* Hands the credential to the helper the file names for the server, instead of writing it into the file. */
static enum berth_rc store_in_helper(const char *helper, const struct cred *c, const struct target *t, json_t *fr,
                                     struct berth_err *err)
{
    struct berth_buf payload = BERTH_BUF_INIT(0);
    int per_server = json_object_get(json_object_get(t->cfg->root, "credHelpers"), c->login_server) != NULL;
    enum berth_rc rc;

    if (!berth_helper_on_path(helper, getenv("PATH")))
        return berth_err_set(err, BERTH_EINVAL,
                             "'%s' sends credentials for %s to " BERTH_HELPER_PREFIX "%s, which is not on PATH: "
                             "install it, or remove %s from that file",
                             t->cfg->path, c->login_server, helper,
                             per_server ? "the credHelpers entry" : "\"credsStore\"");
    /* docker's convention: the user name "<token>" says the secret is an identity token */
    berth_credhelper_format(c->login_server, c->user ? c->user : "<token>", c->secret, &payload);
    rc = run_helper(helper, "store", berth_buf_str(&payload), err);
    if (payload.p) explicit_bzero(payload.p, payload.len);
    berth_buf_release(&payload);
    if (!rc) json_object_set_new(fr, "credsStore", json_string(helper));
    return rc;
}

/* Writes the credential (or the helper entry) into one client file and notes it in rec. */
static enum berth_rc write_target(const struct login_opts *o, const struct cred *c, struct target *t,
                                  struct berth_dockercfg *rec, struct berth_err *err)
{
    const char *ls = c->login_server, *helper = helper_of(t, ls);
    json_t *fr = berth_loginrec_file(rec, ls, t->cfg->path, 1);
    char fp[65];

    json_object_set_new(fr, "client", json_string(t->label));
    if (o->helper) {
        note_write(fr, t, "credHelpers");
        berth_dockercfg_set_helper(t->cfg, ls, BERTH_HELPER_BERTH);
        json_object_set_new(fr, "credHelper", json_string(BERTH_HELPER_BERTH));
        return BERTH_OK;
    }
    if (helper && !strcmp(helper, BERTH_HELPER_BERTH)) {
        fprintf(stderr, "berth: %s: '%s' already gets fresh tokens from docker-credential-berth; nothing to store\n",
                t->cfg->path, ls);
        return BERTH_OK;
    }
    if (helper) return store_in_helper(helper, c, t, fr, err);
    note_write(fr, t, "auths");
    if (c->user) berth_dockercfg_set_basic(t->cfg, ls, c->user, c->secret);
    else berth_dockercfg_set_identity(t->cfg, ls, c->secret);
    berth_dockercfg_fingerprint(t->cfg, ls, fp);
    json_object_set_new(fr, "auths", json_string(fp));
    return BERTH_OK;
}

/* Warns about helpers the client files name that are not installed: those logins fail in docker and podman. */
static void warn_missing_helpers(const struct target *t)
{
    struct berth_buf lines = BERTH_BUF_INIT(0);
    const char *p, *nl;
    int i;

    for (i = 0; i < NFILES; i++)
        if (t[i].cfg) berth_dockercfg_missing_helpers(t[i].cfg, getenv("PATH"), &lines);
    for (p = berth_buf_str(&lines); *p; p = nl + 1) {
        nl = strchr(p, '\n');
        fprintf(stderr, "warning: %.*s\n", (int)(nl - p), p);
    }
    berth_buf_release(&lines);
}

int cmd_login(int argc, char **argv, struct cli_ctx *ctx)
{
    struct berth_err err = BERTH_ERR_INIT;
    struct target t[NFILES];
    struct cred c;
    struct login_opts o;
    struct berth_dockercfg *rec = NULL;
    json_t *srv;
    enum berth_rc rc;
    int i, ret;

    memset(t, 0, sizeof(t));
    memset(&c, 0, sizeof(c));
    ret = parse_args(ctx, 1, &o, argc, argv);
    if (ret != CLI_CONTINUE) return ret;
    ret = 1;
    /* Read every file first: a file berth cannot read stops the login before anything is written. */
    rc = o.expose_token ? BERTH_OK : load_targets(&o, t, &err);
    if (!rc && !o.expose_token) rc = berth_loginrec_load(&rec, &err);
    if (!rc) rc = get_cred(ctx, &o, &c, &err);
    if (rc) goto out;
    if (o.expose_token) {
        ret = expose_token(&c);
        goto out;
    }
    srv = berth_loginrec_server(rec, c.login_server, 1);
    json_object_set_new(srv, "registry", json_string(o.name ? o.name : c.login_server));
    json_object_set_new(srv, "session", c.session ? json_string(c.session) : json_null());
    for (i = 0; i < NFILES && !rc; i++) {
        if (!t[i].cfg) continue;
        rc = write_target(&o, &c, &t[i], rec, &err);
        if (!rc && t[i].changed) rc = berth_dockercfg_save(t[i].cfg, &err);
    }
    /* Recorded even after a failure, so logout can undo what did get written. */
    if (!rc) rc = berth_dockercfg_save(rec, &err);
    else berth_dockercfg_save(rec, NULL);
    if (rc) goto out;
    warn_missing_helpers(t);
    if (o.helper) {
        printf("credHelpers[\"%s\"] = \"berth\":", c.login_server);
        for (i = 0; i < NFILES; i++)
            if (t[i].cfg) printf(" %s", t[i].cfg->path);
        printf("\n");
        if (!berth_helper_on_path(BERTH_HELPER_BERTH, getenv("PATH"))) {
            /* this very binary, wherever it is: berth itself need not be on PATH */
            char self[4096];
            ssize_t n = readlink("/proc/self/exe", self, sizeof(self) - 1);
            self[n > 0 ? n : 0] = '\0';
            fprintf(stderr, "warning: docker-credential-berth is not on PATH; docker and podman need it "
                            "('make install' puts it there), or:\n  ln -s %s /usr/local/bin/docker-credential-berth\n",
                    n > 0 ? self : "/path/to/berth");
        }
    }
    printf("Login Succeeded\n");
    ret = 0;
out:
    if (ret == 1 && rc) cli_fail(&err);
    cred_release(&c);
    free_targets(t);
    berth_dockercfg_free(rec);
    return ret;
}

/* ---------------------------------------------------------------- logout */

/*
 * The recorded login server for what the user named: -n NAME matches the
 * recorded registry name; LOGINSERVER matches exactly, or without a port
 * the one recorded host. NULL if none (borrowed from rec).
 */
static const char *find_login(struct berth_dockercfg *rec, const struct login_opts *o)
{
    json_t *servers = json_object_get(rec->root, "servers"), *v;
    const char *server, *found = NULL;
    size_t n = o->target ? strlen(o->target) : 0;

    json_object_foreach(servers, server, v) {
        const char *reg = json_string_value(json_object_get(v, "registry"));
        if (o->name && reg && !strcmp(reg, o->name)) return server;
        if (o->target && !strcmp(server, o->target)) return server;
        if (o->target && !strncmp(server, o->target, n) && server[n] == ':' && !strchr(server + n + 1, ':'))
            found = server;
    }
    return found;
}

/* Removes from one file what rec says berth wrote there; a changed entry is left alone. */
static enum berth_rc undo_file(const char *ls, const char *path, json_t *fr, struct berth_err *err)
{
    struct berth_dockercfg *cfg = NULL;
    const char *want = json_string_value(json_object_get(fr, "auths"));
    const char *store = json_string_value(json_object_get(fr, "credsStore"));
    const char *helper = json_string_value(json_object_get(fr, "credHelper")), *key;
    json_t *v;
    int changed = 0;
    char fp[65];
    enum berth_rc rc = berth_dockercfg_load(path, &cfg, err);

    if (rc) return rc;
    if (want && berth_dockercfg_fingerprint(cfg, ls, fp)) {
        if (!strcmp(fp, want)) changed |= berth_dockercfg_remove(cfg, ls);
        else fprintf(stderr, "berth: %s: the entry for %s changed since 'berth login'; left as it is\n", path, ls);
    }
    if (helper) changed |= berth_dockercfg_remove_helper(cfg, ls, helper);
    if (store) {
        rc = run_helper(store, "erase", ls, err);
        if (rc) goto out;
    }
    json_object_foreach(json_object_get(fr, "created"), key, v) {
        json_t *o = json_object_get(cfg->root, key);
        if (json_is_object(o) && !json_object_size(o)) changed |= json_object_del(cfg->root, key) == 0;
    }
    if (json_is_true(json_object_get(fr, "createdFile")) && !json_object_size(cfg->root)) {
        if (unlink(path) != 0 && errno != ENOENT) rc = berth_err_sys(err, BERTH_EIO, errno, "unlink '%s'", path);
    } else if (changed) {
        rc = berth_dockercfg_save(cfg, err);
    }
out:
    berth_dockercfg_free(cfg);
    return rc;
}

int cmd_logout(int argc, char **argv, struct cli_ctx *ctx)
{
    struct berth_err err = BERTH_ERR_INIT;
    struct berth_dockercfg *rec = NULL;
    struct login_opts o;
    json_t *files, *fr;
    const char *path;
    char *ls = NULL;
    void *tmp;
    enum berth_rc rc;
    int ret;

    ret = parse_args(ctx, 0, &o, argc, argv);
    if (ret != CLI_CONTINUE) return ret;
    ret = 1;
    rc = berth_loginrec_load(&rec, &err);
    if (rc) goto out;
    if (find_login(rec, &o)) ls = berth_xstrdup(find_login(rec, &o));
    if (!ls) {
        printf("Not logged in to %s\n", o.name ? o.name : o.target);
        ret = 0;
        goto out;
    }
    files = json_object_get(berth_loginrec_server(rec, ls, 0), "files");
    json_object_foreach_safe(files, tmp, path, fr) {
        const char *client = json_string_value(json_object_get(fr, "client"));
        int is_docker = client && !strcmp(client, "docker");
        if ((o.docker_only && !is_docker) || (o.podman_only && is_docker)) continue;
        rc = undo_file(ls, path, fr, &err);
        if (rc) goto out;
        json_object_del(files, path);
    }
    if (!json_object_size(files)) json_object_del(json_object_get(rec->root, "servers"), ls);
    rc = berth_dockercfg_save(rec, &err);
    if (rc) goto out;
    printf("Removing login credentials for %s\n", ls);
    ret = 0;
out:
    if (ret == 1) cli_fail(&err);
    free(ls);
    berth_dockercfg_free(rec);
    return ret;
}
