/*
 * health_checks.c - the checks of `berth check-health`, one function each,
 * in the order a login walks: the client environment, the registry's name,
 * the network path to the server (proxy, DNS, TCP, TLS, network rules, the
 * /v2/ challenge, the token realm), the clock, the credentials docker and
 * podman have stored, the credential that berth would use, and the
 * permission on a repository. The table at the end is the order.
 */
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <arpa/inet.h>
#include "lazy_curl.h"
#include "alloc.h"
#include "auth.h"
#include "base64.h"
#include "util.h"
#include "client.h"
#include "dockercfg.h"
#include "loginrec.h"
#include "health.h"
#include "banned.h"

#define MIN_DOCKER "18.03"

/* ---------------------------------------------------------------- small helpers */

/* 1 when prog is an executable file in a folder of $PATH. */
static int on_path(const char *prog)
{
    const char *p = getenv("PATH"), *e;
    char *f;
    int found = 0;
    while (p && *p && !found) {
        e = p + strcspn(p, ":");
        f = berth_xasprintf("%.*s/%s", (int)(e - p), p, prog);
        found = access(f, X_OK) == 0;
        free(f);
        p = *e ? e + 1 : e;
    }
    return found;
}

static int is_loopback_host(const char *h)
{
    size_t n = strlen(h);
    return !strncmp(h, "127.", 4) || !strcmp(h, "::1") || !strcasecmp(h, "localhost") ||
           (n > 10 && !strcasecmp(h + n - 10, ".localhost"));
}

static int is_ip_literal(const char *h)
{
    unsigned char buf[16];
    return inet_pton(AF_INET, h, buf) == 1 || inet_pton(AF_INET6, h, buf) == 1;
}

/* The registry's resource name from a login server "name.domain[:port]"; malloc'd. */
static char *name_of_service(const char *svc)
{
    size_t n = strcspn(svc, ".:");
    return berth_xstrndup(svc, n);
}

/* "... registry 'x' ..." in a server message: x (malloc'd) or NULL. */
static char *quoted_after(const char *msg, const char *key)
{
    const char *p = msg ? strstr(msg, key) : NULL, *e;
    if (!p) return NULL;
    p += strlen(key);
    if (*p == '\'') p++;
    e = p + strcspn(p, "' ;,)");
    return e > p ? berth_xstrndup(p, (size_t)(e - p)) : NULL;
}

/* Sets run->registry from what the server said when it is not known yet. */
static void learn_registry(struct berth_health_run *run, const struct berth_health_http *h)
{
    if (run->registry) return;
    if (run->service) run->registry = name_of_service(run->service);
    else if (h->message) run->registry = quoted_after(h->message, "registry ");
}

/* The first containers/image client judged ("podman", else "skopeo", else "buildah"). */
static const char *containers_client(const struct berth_health_run *run)
{
    if (run->clients & BERTH_HC_BIT(BERTH_HC_PODMAN)) return "podman";
    if (run->clients & BERTH_HC_BIT(BERTH_HC_SKOPEO)) return "skopeo";
    return "buildah";
}

/* 1 when the credential's file is docker's config.json, which docker writes and containers/image only reads. */
static int in_docker_file(const struct berth_health_cred *c)
{
    char *files[4];
    size_t n = berth_health_authfiles(BERTH_HC_DOCKER, files, 4), i;
    int is = c->file && n && !strcmp(c->file, files[0]);
    for (i = 0; i < n; i++) free(files[i]);
    return is;
}

/* The command that gives the clients of c a working credential, in the files they read. malloc'd. */
static char *client_relogin(const struct berth_health_run *run, const struct berth_health_cred *c)
{
    const char *ls = run->login_server;
    if (c->clients & BERTH_HC_BIT(BERTH_HC_DOCKER)) return berth_xasprintf("docker login %s", ls);
    if (c->src == BERTH_HEALTH_SRC_NONE || c->helper || in_docker_file(c))
        return berth_xasprintf("%s login %s", containers_client(run), ls);
    /* a stale entry in an auth.json: removing it lets the next file (docker's, say) answer, logging in replaces it */
    return berth_xasprintf("%s logout --authfile %s %s && %s login %s", containers_client(run), c->file, ls,
                           containers_client(run), ls);
}

/* The command that stores a fresh credential for the source that failed. malloc'd. */
static char *relogin(const struct berth_health_run *run, enum berth_health_source src)
{
    const char *user = run->cred_user ? run->cred_user : "USER";
    if (run->cred_now && !run->stored_by_berth) return client_relogin(run, run->cred_now);
    if (src == BERTH_HEALTH_SRC_SESSION)
        return berth_xasprintf("berth auth login --server %s%s -u %s --password-stdin", run->server_url,
                               berth_uuid_valid(user) ? " --service-principal" : "", user);
    if (src == BERTH_HEALTH_SRC_FLAGS) return berth_health_rerun(run, NULL, NULL, NULL, NULL);
    if (run->have_session)
        return berth_xasprintf("berth login %s%s%s", run->login_server, run->client->server ? " --server " : "",
                               run->client->server ? run->server_url : "");
    return berth_xasprintf("%s login %s", run->has_docker || !run->has_podman ? "docker" : "podman",
                           run->login_server);
}

static char *logged_reason(struct berth_health_run *run, const char *user);

/* Fails res with the code, cause and fix the reason table gives for the refusal h. */
static void refused(struct berth_health_run *run, struct berth_health_result *res, const struct berth_health_http *h,
                    enum berth_health_source src, const char *where)
{
    char *logged = h->reason && !strcmp(h->reason, "INVALID_CREDENTIALS") && src != BERTH_HEALTH_SRC_SESSION
                       ? logged_reason(run, run->cred_user) : NULL;
    /* the log only says which of the two reasons INVALID_CREDENTIALS hides; another, older failure is not this one */
    if (logged && strcmp(logged, "BAD_SECRET") != 0 && strcmp(logged, "UNKNOWN_PRINCIPAL") != 0) {
        free(logged);
        logged = NULL;
    }
    const struct berth_health_reason_row *row = berth_health_reason_lookup(logged ? logged : h->reason, src);
    char detail[600], *ip = quoted_after(h->message, "client IP "), *relog = relogin(run, src);
    char *retype = berth_health_rerun(run, NULL, NULL, NULL, NULL), *cause, *fix = NULL;
    const char *vars[] = {"name", run->registry ? run->registry : "NAME", "ls", run->login_server,
                          "server", run->server_url, "user", run->cred_user ? run->cred_user : "",
                          "retry", h->retry_after ? h->retry_after : "60", "ip", ip ? ip : "ADDRESS",
                          "relogin", relog, "retype", retype, "where", where ? where : "-", "detail", detail,
                          "slot", !h->message ? "" : !strncmp(h->message, "password1 ", 10) ? " --password1"
                                                   : !strncmp(h->message, "password2 ", 10) ? " --password2" : ""};

    if (h->status)
        snprintf(detail, sizeof(detail), "%s (HTTP %ld%s%s)", h->message ? h->message : "no message", h->status,
                 h->reason ? ", " : "", h->reason ? h->reason : "");
    else
        snprintf(detail, sizeof(detail), "%s", h->errbuf);
    cause = berth_health_expand(row->cause, vars, sizeof(vars) / sizeof(vars[0]));
    if (row->fix) fix = berth_health_expand(row->fix, vars, sizeof(vars) / sizeof(vars[0]));
    if (!strcmp(row->code, "NETWORK_ACCESS_DENIED") && !strstr(cause, "default action"))
        berth_health_set(res, BERTH_HEALTH_ERROR, row->code, fix, "%s (the registry's default action is Deny)", cause);
    else
        berth_health_set(res, BERTH_HEALTH_ERROR, row->code, fix, "%s", cause);
    free(cause);
    free(fix);
    free(ip);
    free(relog);
    free(retype);
    free(logged);
}

/* The host the clients connect to: the login server's (without port and brackets), else the server's. */
static const char *target_host(const struct berth_health_run *run, char *buf, size_t n)
{
    const char *ls = run->login_server, *end;
    if (!ls) return run->server_host;
    if (*ls == '[') {
        end = strchr(ls, ']');
        snprintf(buf, n, "%.*s", end ? (int)(end - ls - 1) : 0, ls + 1);
    } else {
        end = strrchr(ls, ':');
        snprintf(buf, n, "%.*s", end ? (int)(end - ls) : (int)strlen(ls), ls);
    }
    return buf;
}

/* The proxy the judged clients use for the registry, or NULL: Go's rules for docker, podman, skopeo and buildah,
   libcurl's for berth. Borrowed from the environment. */
static const char *proxy_for(const struct berth_health_run *run, const char **var)
{
    static const char *const https_vars[] = {"HTTPS_PROXY", "https_proxy", "ALL_PROXY", "all_proxy"};
    static const char *const http_vars[] = {"http_proxy", "HTTP_PROXY", "ALL_PROXY", "all_proxy"};
    const char *const *vars = strcmp(run->scheme, "https") ? http_vars : https_vars, *v, *np;
    char hb[300];
    const char *host = target_host(run, hb, sizeof(hb));
    size_t i;

    if (run->clients == BERTH_HC_BIT(BERTH_HC_DOCKER) && run->docker_info) {
        /* docker alone: the daemon's proxy settings, by Go's rules */
        const char *pv = json_string_value(json_object_get(run->docker_info, strcmp(run->scheme, "https") ? "proxy"
                                                                                                          : "sproxy"));
        const char *dnp = json_string_value(json_object_get(run->docker_info, "noproxy"));
        unsigned char a[16];
        if (!pv || !*pv || !strcasecmp(host, "localhost") || (inet_pton(AF_INET, host, a) == 1 && a[0] == 127) ||
            !strcmp(host, "::1") || (dnp && *dnp && berth_health_no_proxy_match(dnp, host)))
            return NULL;
        *var = "the docker daemon's proxy";
        return pv;
    }
    if (run->clients & BERTH_HC_GO) return berth_health_go_proxy(run->scheme, host, var);
    np = getenv("NO_PROXY");
    if (!np || !*np) np = getenv("no_proxy");
    if (np && berth_health_no_proxy_match(np, host)) return NULL;
    for (i = 0; i < 4; i++) {
        v = getenv(vars[i]);
        if (v && *v) {
            *var = vars[i];
            return v;
        }
    }
    return NULL;
}

/* What a transport failure of h means, for the checks after TCP and TLS passed. */
static void transport_failed(struct berth_health_run *run, struct berth_health_result *res,
                             const struct berth_health_http *h, const char *what)
{
    const char *var = NULL, *proxy = proxy_for(run, &var);
    char *fix;
    if (proxy && (h->cc == CURLE_COULDNT_RESOLVE_PROXY || h->cc == CURLE_COULDNT_CONNECT || h->cc == CURLE_RECV_ERROR ||
                  h->cc == CURLE_GOT_NOTHING || strstr(h->errbuf, "roxy"))) {
        fix = berth_xasprintf("export NO_PROXY=%s${NO_PROXY:+,$NO_PROXY}", run->server_host);
        berth_health_set(res, BERTH_HEALTH_ERROR, "PROXY_FAILED", fix,
                         "%s failed through the proxy of %s: %s; bypass it for the registry or fix the proxy", what,
                         var, h->errbuf);
        free(fix);
        return;
    }
    if (h->cc == CURLE_PEER_FAILED_VERIFICATION) { /* a login server or realm the certificate does not cover */
        berth_health_set(res, BERTH_HEALTH_ERROR,
                         strstr(h->errbuf, "expired") ? "TLS_EXPIRED"
                         : strstr(h->errbuf, "name") ? "TLS_HOSTNAME_MISMATCH" : "TLS_UNTRUSTED", NULL,
                         "%s failed: %s: the server's certificate must name the login server %s too", what, h->errbuf,
                         run->login_server ? run->login_server : "?");
        return;
    }
    berth_health_set(res, BERTH_HEALTH_ERROR,
                     h->cc == CURLE_OPERATION_TIMEDOUT ? "CONNECTIVITY_TIMEOUT" : "CONNECTIVITY_ERROR",
                     NULL, "%s failed: %s", what, h->errbuf);
}

/* GET /v2/ on the login server, once. */
static void ensure_v2(struct berth_health_run *run)
{
    struct berth_health_req rq = {"GET", "/v2/", NULL, NULL, NULL, 0};
    char why[200];
    if (run->v2_done) return;
    rq.host = run->login_server;
    berth_health_http_do(run, &rq, &run->v2);
    run->v2_done = 1;
    if (run->v2.status == 401)
        berth_health_parse_challenge(run->v2.www_auth, &run->realm, &run->service, why, sizeof(why));
    learn_registry(run, &run->v2);
}

/* ---------------------------------------------------------------- 1. client environment */

struct client_row {
    const char *prog;
    const char *args[3];        /* how it prints its version */
    enum berth_health_client c; /* BERTH_HC_COUNT: listed, not judged */
};
static const struct client_row clients[] = {
    {"docker", {"--version", NULL, NULL}, BERTH_HC_DOCKER},   {"podman", {"--version", NULL, NULL}, BERTH_HC_PODMAN},
    {"skopeo", {"--version", NULL, NULL}, BERTH_HC_SKOPEO},   {"buildah", {"--version", NULL, NULL}, BERTH_HC_BUILDAH},
    {"helm", {"version", "--short", NULL}, BERTH_HC_COUNT},   {"oras", {"version", NULL, NULL}, BERTH_HC_COUNT},
};

/* Which clients are judged: the one --client names, else every installed one of docker, podman, skopeo, buildah,
   else berth's own commands. */
static void pick_clients(struct berth_health_run *run, unsigned installed)
{
    enum berth_health_client named = berth_health_client_parse(run->client_opt);
    if (run->client_opt) run->clients = BERTH_HC_BIT(named);
    else run->clients = installed & BERTH_HC_GO ? installed & BERTH_HC_GO : BERTH_HC_BIT(BERTH_HC_BERTH);
}

static void check_clients(struct berth_health_run *run, struct berth_health_result *res)
{
    struct berth_buf found = BERTH_BUF_INIT(0), missing = BERTH_BUF_INIT(0), out = BERTH_BUF_INIT(0);
    char *ver, *docker_ver = NULL, *judged;
    const char *argv[5];
    unsigned installed = 0;
    size_t i;

    for (i = 0; i < sizeof(clients) / sizeof(clients[0]); i++) {
        if (!on_path(clients[i].prog)) {
            berth_buf_printf(&missing, "%s%s", missing.len ? ", " : "", clients[i].prog);
            continue;
        }
        argv[0] = clients[i].prog;
        argv[1] = clients[i].args[0];
        argv[2] = clients[i].args[1];
        argv[3] = NULL;
        berth_buf_reset(&out);
        berth_health_run_prog(argv, NULL, 1, &out);
        ver = berth_health_version_of(berth_buf_str(&out));
        berth_buf_printf(&found, "%s%s %s", found.len ? ", " : "", clients[i].prog, ver ? ver : "(version unknown)");
        if (clients[i].c != BERTH_HC_COUNT) installed |= BERTH_HC_BIT(clients[i].c);
        if (!strcmp(clients[i].prog, "docker")) {
            run->has_docker = 1;
            docker_ver = ver;
            ver = NULL;
        }
        run->has_podman |= !strcmp(clients[i].prog, "podman");
        run->has_skopeo |= !strcmp(clients[i].prog, "skopeo");
        free(ver);
    }
    pick_clients(run, installed);
    judged = berth_health_clients_text(run->clients);
    if (run->client_opt && !(run->clients & (installed | BERTH_HC_BIT(BERTH_HC_BERTH)))) {
        char *fix = berth_xasprintf("apt-get install %s", run->client_opt);
        berth_health_set(res, BERTH_HEALTH_ERROR, "CLIENT_NOT_FOUND", fix, "%s is not on PATH (found: %s)",
                         run->client_opt, found.len ? berth_buf_str(&found) : "none of the clients");
        free(fix);
    } else if (docker_ver && (run->clients & BERTH_HC_BIT(BERTH_HC_DOCKER)) &&
               berth_health_version_cmp(docker_ver, MIN_DOCKER) < 0) {
        berth_health_set(res, BERTH_HEALTH_ERROR, "DOCKER_VERSION_TOO_OLD",
                         "install Docker " MIN_DOCKER " or later (https://docs.docker.com/engine/install/)",
                         "docker %s is older than " MIN_DOCKER ", the oldest client that logs in with identity tokens",
                         docker_ver);
    } else if (!found.len) {
        berth_health_set(res, BERTH_HEALTH_WARNING, "NO_CLIENT", "apt-get install podman skopeo",
                         "none of docker, podman, skopeo, buildah, helm or oras is on PATH: judging berth's own "
                         "commands (the berth session)");
    } else {
        berth_health_set(res, BERTH_HEALTH_OK, NULL, NULL, "%s%s%s; judging %s%s", berth_buf_str(&found),
                         missing.len ? "; not found: " : "", missing.len ? berth_buf_str(&missing) : "", judged,
                         run->client_opt ? " (--client)" : " (narrow with --client NAME)");
    }
    free(judged);
    free(docker_ver);
    berth_buf_release(&found);
    berth_buf_release(&missing);
    berth_buf_release(&out);
}

static void check_daemon(struct berth_health_run *run, struct berth_health_result *res)
{
    static const char *const argv[] = {"docker", "version", "--format", "{{.Server.Version}}", NULL};
    struct berth_buf out = BERTH_BUF_INIT(0);
    const char *line;
    char *v, *others;
    int rc;

    if (!(run->clients & BERTH_HC_BIT(BERTH_HC_DOCKER))) {
        berth_health_set(res, BERTH_HEALTH_OK, NULL, NULL, "docker is not judged: podman, skopeo and buildah need no "
                                                           "daemon");
        goto out;
    }
    rc = berth_health_run_prog(argv, NULL, 1, &out);
    v = berth_health_version_of(berth_buf_str(&out));
    line = berth_buf_str(&out);
    line += strspn(line, "\r\n ");
    others = berth_health_clients_text(run->clients & ~BERTH_HC_BIT(BERTH_HC_DOCKER));
    if (rc == 0 && v) {
        /* the daemon, not the CLI, talks to the registry: its proxies and insecure registries are what count */
        static const char *const info[] = {"docker", "info", "--format",
                                           "{\"proxy\":{{json .HTTPProxy}},\"sproxy\":{{json .HTTPSProxy}},"
                                           "\"noproxy\":{{json .NoProxy}},\"registry\":{{json .RegistryConfig}}}",
                                           NULL};
        berth_buf_reset(&out);
        if (berth_health_run_prog(info, NULL, 0, &out) == 0)
            run->docker_info = json_loads(berth_buf_str(&out), 0, NULL);
        berth_health_set(res, BERTH_HEALTH_OK, NULL, NULL, "the docker daemon answers (engine %s)", v);
    }
    else if (!run->client_opt && (run->clients & ~BERTH_HC_BIT(BERTH_HC_DOCKER)))
        /* docker is one of several: it will fail, the others need no daemon */
        berth_health_set(res, BERTH_HEALTH_WARNING, "DOCKER_DAEMON_UNREACHABLE", "systemctl start docker",
                         "no docker daemon answers (%.*s): docker pull and push will fail; %s need none "
                         "(--client docker to judge docker alone)", (int)strcspn(line, "\r\n"), line, others);
    else
        berth_health_set(res, BERTH_HEALTH_ERROR, "DOCKER_DAEMON_UNREACHABLE", "systemctl start docker",
                         "docker is the client, but no docker daemon answers: %.*s", (int)strcspn(line, "\r\n"),
                         line);
    free(others);
    free(v);
out:
    berth_buf_release(&out);
}

/* Loads path; on failure adds the error to msg and keeps the first bad path. *slot (when given) keeps the file. */
static int load_cfg(const char *path, struct berth_dockercfg **slot, char **bad_path, struct berth_buf *msg)
{
    struct berth_err err = BERTH_ERR_INIT;
    struct berth_dockercfg *cfg = NULL;
    if (berth_dockercfg_load(path, &cfg, &err)) {
        berth_buf_printf(msg, "%s%s", msg->len ? "; " : "", berth_err_msg(&err));
        if (!*bad_path) *bad_path = berth_xstrdup(path);
        return 0;
    }
    if (slot && !*slot) *slot = cfg;
    else berth_dockercfg_free(cfg);
    return 1;
}

/* Every file the judged clients read their logins from must parse: a client stops at one that does not. */
static void check_config(struct berth_health_run *run, struct berth_health_result *res)
{
    struct berth_buf msg = BERTH_BUF_INIT(0), read = BERTH_BUF_INIT(0);
    char *bad = NULL, *fix, *files[4];
    size_t n, i;
    int ok = 1;

    if (run->clients & BERTH_HC_BIT(BERTH_HC_DOCKER)) {
        n = berth_health_authfiles(BERTH_HC_DOCKER, files, 4);
        ok &= load_cfg(files[0], &run->docker_cfg, &bad, &msg);
        berth_buf_printf(&read, "docker: %s", files[0]);
        free(files[0]);
    }
    if (run->clients & BERTH_HC_CONTAINERS) {
        n = berth_health_authfiles(BERTH_HC_PODMAN, files, 4);
        char *who = berth_health_clients_text(run->clients & BERTH_HC_CONTAINERS);
        berth_buf_printf(&read, "%s%s: ", read.len ? "; " : "", who);
        free(who);
        for (i = 0; i < n; i++) {
            if (!i || access(files[i], F_OK) == 0) {
                ok &= load_cfg(files[i], i ? NULL : &run->podman_cfg, &bad, &msg);
                berth_buf_printf(&read, "%s%s%s", i ? ", then " : "", files[i], i || access(files[i], F_OK) == 0
                                                                                    ? "" : " (none yet)");
            }
            free(files[i]);
        }
    }
    if (!ok) {
        fix = berth_xasprintf("mv '%s' '%s.broken'", bad, bad);
        berth_health_set(res, BERTH_HEALTH_ERROR, "DOCKER_CONFIG_INVALID", fix,
                         "%s (the clients cannot read their logins; repair the file or move it aside)",
                         berth_buf_str(&msg));
        free(fix);
    } else if (!read.len) {
        berth_health_set(res, BERTH_HEALTH_OK, NULL, NULL, "berth's own commands keep no docker or podman login");
    } else {
        berth_health_set(res, BERTH_HEALTH_OK, NULL, NULL, "the login files parse (%s)", berth_buf_str(&read));
    }
    free(bad);
    berth_buf_release(&msg);
    berth_buf_release(&read);
}

/* Appends the command that removes the entries of cfg naming a helper that is not on PATH. */
static size_t helper_fixes(const struct berth_dockercfg *cfg, struct berth_buf *fix, struct berth_buf *names)
{
    const char *store = json_string_value(json_object_get(cfg->root, "credsStore")), *key;
    const char *path = getenv("PATH");
    json_t *v;
    size_t n = 0;

    if (store && *store && !berth_helper_on_path(store, path)) {
        berth_buf_printf(fix, "%sjq 'del(.credsStore)' '%s' > '%s.tmp' && mv '%s.tmp' '%s'", fix->len ? " && " : "",
                         cfg->path, cfg->path, cfg->path, cfg->path);
        berth_buf_printf(names, "%s" BERTH_HELPER_PREFIX "%s", names->len ? ", " : "", store);
        n++;
    }
    json_object_foreach(json_object_get(cfg->root, "credHelpers"), key, v) {
        const char *h = json_string_value(v);
        if (!h || !*h || berth_helper_on_path(h, path)) continue;
        berth_buf_printf(fix, "%sjq 'del(.credHelpers[\"%s\"])' '%s' > '%s.tmp' && mv '%s.tmp' '%s'",
                         fix->len ? " && " : "", key, cfg->path, cfg->path, cfg->path, cfg->path);
        if (!strstr(berth_buf_str(names), h))
            berth_buf_printf(names, "%s" BERTH_HELPER_PREFIX "%s", names->len ? ", " : "", h);
        n++;
    }
    return n;
}

static void check_helpers(struct berth_health_run *run, struct berth_health_result *res)
{
    struct berth_buf lines = BERTH_BUF_INIT(0), fix = BERTH_BUF_INIT(0), names = BERTH_BUF_INIT(0);
    struct berth_dockercfg *cfgs[2];
    size_t i, n = 0;

    cfgs[0] = run->docker_cfg;
    cfgs[1] = run->podman_cfg;
    for (i = 0; i < 2; i++) {
        if (!cfgs[i] || (i && cfgs[0] && !strcmp(cfgs[0]->path, cfgs[1]->path))) continue;
        if (berth_dockercfg_missing_helpers(cfgs[i], getenv("PATH"), &lines)) n += helper_fixes(cfgs[i], &fix, &names);
    }
    if (n)
        berth_health_set(res, BERTH_HEALTH_ERROR, "CREDENTIAL_HELPER_MISSING", berth_buf_str(&fix),
                         "%s: docker and podman fail before they send anything; install %s or remove the entry%s "
                         "(or 'berth login --helper' to use docker-credential-berth)",
                         berth_buf_str(&lines), berth_buf_str(&names), n > 1 ? "s" : "");
    else
        berth_health_set(res, BERTH_HEALTH_OK, NULL, NULL, "every credential helper the files name is on PATH");
    /* the shared lister ends each finding with a newline */
    if (res->message) {
        char *p;
        while ((p = strchr(res->message, '\n')) != NULL) *p = p[1] ? ';' : ' ';
    }
    berth_buf_release(&lines);
    berth_buf_release(&fix);
    berth_buf_release(&names);
}

/* ---------------------------------------------------------------- 2. the name */

static int has_upper(const char *s)
{
    for (; *s; s++)
        if (isupper((unsigned char)*s)) return 1;
    return 0;
}

static char *lower(const char *s)
{
    char *l = berth_xstrdup(s), *p;
    for (p = l; *p; p++) *p = (char)tolower((unsigned char)*p);
    return l;
}

/*
 * NAME.<domain>:<port> as the server names its registries: the domain from
 * the service of the server's own challenge (GET /v2/), else "localhost".
 * malloc'd.
 */
static char *concrete_login_server(struct berth_health_run *run, const char *name)
{
    struct berth_health_req rq = {"GET", "/v2/", NULL, NULL, NULL, 0};
    struct berth_health_http h;
    char *realm = NULL, *svc = NULL, why[200], *ls;
    const char *dot;

    berth_health_http_do(run, &rq, &h);
    berth_health_parse_challenge(h.www_auth, &realm, &svc, why, sizeof(why));
    dot = svc ? strchr(svc, '.') : NULL;
    ls = berth_xasprintf("%s.%.*s:%d", name, dot ? (int)strcspn(dot + 1, ":") : 9, dot ? dot + 1 : "localhost",
                         run->server_port);
    free(realm);
    free(svc);
    berth_health_http_release(&h);
    return ls;
}

static void check_name(struct berth_health_run *run, struct berth_health_result *res)
{
    struct berth_err err = BERTH_ERR_INIT;
    char *fix = NULL, *l;

    if (run->name) {
        if (has_upper(run->name)) {
            l = lower(run->name);
            fix = berth_health_rerun(run, l, NULL, NULL, NULL);
            berth_health_set(res, BERTH_HEALTH_WARNING, "REGISTRY_NAME_UPPERCASE", fix,
                             "'%s' has uppercase letters: registry names are lowercase, use '%s' (the server matches "
                             "names without case, but scripts and credential files should not depend on it)", run->name,
                             l);
            free(l);
        } else if (strchr(run->name, '.') || strchr(run->name, ':')) {
            fix = berth_health_rerun(run, NULL, run->name, NULL, NULL);
            berth_health_set(res, BERTH_HEALTH_ERROR, "REGISTRY_NAME_IS_LOGIN_SERVER", fix,
                             "-n takes a registry's resource name like '%.*s', not the login server '%s': give a login "
                             "server without -n", (int)strcspn(run->name, ".:"), run->name, run->name);
        } else if (berth_registry_name_check(run->name, &err)) {
            berth_health_set(res, BERTH_HEALTH_ERROR, "REGISTRY_NAME_INVALID", NULL, "%s", berth_err_msg(&err));
        } else {
            berth_health_set(res, BERTH_HEALTH_OK, NULL, NULL, "'%s' is a registry resource name", run->name);
        }
    } else if (run->target) {
        if (has_upper(run->target)) {
            l = lower(run->target);
            fix = berth_health_rerun(run, NULL, l, NULL, NULL);
            berth_health_set(res, BERTH_HEALTH_WARNING, "REGISTRY_NAME_UPPERCASE", fix,
                             "'%s' has uppercase letters: login servers are lowercase, use '%s' (a login stored under "
                             "the uppercase name is not found when an image is named in lowercase)", run->target, l);
            free(l);
        } else if (!strchr(run->target, '.') && !strchr(run->target, ':') && strcmp(run->target, "localhost") != 0) {
            char *ls = concrete_login_server(run, run->target);
            fix = berth_health_rerun(run, run->target, NULL, NULL, NULL);
            berth_health_set(res, BERTH_HEALTH_ERROR, "LOGIN_SERVER_IS_RESOURCE_NAME", fix,
                             "'%s' is a registry's resource name, not a login server: its login server is %s (docker "
                             "login %s); pass the name with -n", run->target, ls, ls);
            free(ls);
        } else {
            berth_health_set(res, BERTH_HEALTH_OK, NULL, NULL, "'%s' is a login server", run->target);
        }
    } else {
        berth_health_set(res, BERTH_HEALTH_OK, NULL, NULL, "no registry given: the server's default registry at %s",
                         run->server_hp);
    }
    free(fix);
}

/* ---------------------------------------------------------------- 3. the network path */

static void check_proxy(struct berth_health_run *run, struct berth_health_result *res)
{
    const char *var = NULL, *p = proxy_for(run, &var), *at;
    char *fix, hb[300];
    const char *host = target_host(run, hb, sizeof(hb));
    int go = (run->clients & BERTH_HC_GO) != 0;

    /* the probes from here on go the way the judged clients go */
    if (go) run->proxy = p ? p : "";
    if (!p) {
        const char *set = getenv(strcmp(run->scheme, "https") ? "HTTP_PROXY" : "HTTPS_PROXY");
        if (!set || !*set) set = getenv(strcmp(run->scheme, "https") ? "http_proxy" : "https_proxy");
        if (go && set && *set && (!strcasecmp(host, "localhost") || !strncmp(host, "127.", 4) || !strcmp(host, "::1")))
            berth_health_set(res, BERTH_HEALTH_OK, NULL, NULL,
                             "no proxy applies to %s: a proxy is set, but Go clients (docker, podman, skopeo) never "
                             "proxy localhost or a loopback address", host);
        else
            berth_health_set(res, BERTH_HEALTH_OK, NULL, NULL, "no proxy applies to %s", host);
        return;
    }
    at = strrchr(p, '@'); /* never show a proxy's password */
    fix = berth_xasprintf("export NO_PROXY=%s${NO_PROXY:+,$NO_PROXY}", host);
    berth_health_set(res, BERTH_HEALTH_WARNING, "PROXY_IN_USE", fix,
                     "%s=%s%s applies to %s (NO_PROXY does not name it): requests to the registry go through the proxy, "
                     "which must allow them", var, at ? "..." : "", at ? at + 1 : p, host);
    free(fix);
}

/*
 * The Go clients resolve the login server themselves (berth reaches it
 * through the server's address): 1 when its host resolves or is an
 * address, else 0 with res failed and the /etc/hosts line that fixes it.
 */
static int login_server_resolves(struct berth_health_run *run, struct berth_health_result *res)
{
    struct berth_buf v4 = BERTH_BUF_INIT(0), v6 = BERTH_BUF_INIT(0);
    char why4[128] = "", why6[128] = "", hb[300], *fix, addr[64];
    const char *host = target_host(run, hb, sizeof(hb));
    size_t n = strlen(host);
    int ok;

    if (!(run->clients & BERTH_HC_GO) || !run->login_server || is_ip_literal(host) ||
        !strcasecmp(host, run->server_host))
        return 1;
    ok = berth_health_resolve(host, AF_INET, &v4, why4, sizeof(why4)) +
         berth_health_resolve(host, AF_INET6, &v6, why6, sizeof(why6)) > 0;
    if (!ok) {
        /* the address that reaches the server, for the hosts line */
        struct berth_buf sa = BERTH_BUF_INIT(0);
        char w[128];
        if (is_ip_literal(run->server_host)) snprintf(addr, sizeof(addr), "%s", run->server_host);
        else if (berth_health_resolve(run->server_host, AF_INET, &sa, w, sizeof(w)))
            snprintf(addr, sizeof(addr), "%.*s", (int)strcspn(berth_buf_str(&sa), ","), berth_buf_str(&sa));
        else snprintf(addr, sizeof(addr), "ADDRESS");
        berth_buf_release(&sa);
        fix = berth_xasprintf("echo '%s %s' >> /etc/hosts", addr, host);
        berth_health_set(res, BERTH_HEALTH_ERROR, "DNS_RESOLUTION_FAILED", fix,
                         "the login server %s does not resolve (IPv4: %s; IPv6: %s), so docker, podman and skopeo "
                         "fail with 'no such host'%s: add it to /etc/hosts, or give the server a --domain that your "
                         "DNS resolves", host, why4, why6,
                         n > 10 && !strcasecmp(host + n - 10, ".localhost")
                             ? " (this system's resolver does not map *.localhost to the loopback address)" : "");
        free(fix);
    }
    berth_buf_release(&v4);
    berth_buf_release(&v6);
    return ok;
}

static void check_dns(struct berth_health_run *run, struct berth_health_result *res)
{
    struct berth_buf v4 = BERTH_BUF_INIT(0), v6 = BERTH_BUF_INIT(0);
    char why4[128] = "", why6[128] = "", hb[300];
    const char *ls_host = target_host(run, hb, sizeof(hb));
    int n4, n6;

    if (!login_server_resolves(run, res)) return;
    if (is_ip_literal(run->server_host)) {
        if (strcasecmp(ls_host, run->server_host) != 0 && (run->clients & BERTH_HC_GO))
            berth_health_set(res, BERTH_HEALTH_OK, NULL, NULL, "the login server %s resolves; the server is the "
                             "address %s", ls_host, run->server_host);
        else
            berth_health_set(res, BERTH_HEALTH_OK, NULL, NULL, "%s is an address: no lookup needed", run->server_host);
        return;
    }
    n4 = berth_health_resolve(run->server_host, AF_INET, &v4, why4, sizeof(why4));
    n6 = berth_health_resolve(run->server_host, AF_INET6, &v6, why6, sizeof(why6));
    if (!n4 && !n6)
        berth_health_set(res, BERTH_HEALTH_ERROR, "DNS_RESOLUTION_FAILED", NULL,
                         "%s does not resolve (IPv4: %s; IPv6: %s): check the name, your DNS server, or add it to "
                         "/etc/hosts",
                         run->server_host, why4, why6);
    else
        berth_health_set(res, BERTH_HEALTH_OK, NULL, NULL, "%s resolves to IPv4 %s; IPv6 %s", run->server_host,
                         n4 ? berth_buf_str(&v4) : "none", n6 ? berth_buf_str(&v6) : "none");
    berth_buf_release(&v4);
    berth_buf_release(&v6);
}

static void check_tcp(struct berth_health_run *run, struct berth_health_result *res)
{
    char addr[64] = "?", *fix;
    double ms;
    int e = berth_health_tcp_connect(run->server_host, run->server_port, run->timeout, &ms, addr, sizeof(addr));

    if (!e) {
        berth_health_set(res, BERTH_HEALTH_OK, NULL, NULL,
                         "TCP connect to %s port %d took %.1f ms", addr, run->server_port, ms);
    } else if (e == ECONNREFUSED) {
        fix = berth_xasprintf("berth serve --listen %s", run->server_hp);
        berth_health_set(res, BERTH_HEALTH_ERROR, "CONNECTIVITY_REFUSED", fix,
                         "nothing listens on %s port %d (connection refused after %.1f ms): start the server there or "
                         "check the port", addr, run->server_port, ms);
        free(fix);
    } else if (e == ETIMEDOUT) {
        berth_health_set(res, BERTH_HEALTH_ERROR, "CONNECTIVITY_TIMEOUT", NULL,
                         "no answer from %s port %d within %lld s: a firewall drops the packets, or the host is down or "
                         "overloaded", addr, run->server_port, run->timeout);
    } else {
        berth_health_set(res, BERTH_HEALTH_ERROR, "CONNECTIVITY_UNREACHABLE", NULL, "cannot reach %s port %d: %s", addr,
                         run->server_port, strerror(e));
    }
}

/*
 * The CAs client c trusts for hostport as one file: the system's (Go reads
 * SSL_CERT_FILE, else Debian's bundle) and every *.crt of the first certs.d
 * folder the client reads for it. malloc'd path of a temp file; *dir the
 * folder (malloc'd) or NULL.
 */
static char *trust_bundle(enum berth_health_client c, const char *hostport, char **dir)
{
    struct berth_err err = BERTH_ERR_INIT;
    struct berth_buf all = BERTH_BUF_INIT(0);
    const char *sys = getenv("SSL_CERT_FILE");
    char *data = NULL, *path;
    size_t len = 0;
    DIR *d;
    struct dirent *de;
    int fd;

    if (!sys || !*sys) sys = "/etc/ssl/certs/ca-certificates.crt";
    if (berth_read_file(sys, 16u << 20, &data, &len, &err) == BERTH_OK) berth_buf_append(&all, data, len);
    free(data);
    *dir = berth_health_certs_dir(c, hostport);
    if (*dir && (d = opendir(*dir)) != NULL) {
        while ((de = readdir(d)) != NULL) {
            size_t n = strlen(de->d_name);
            char *f;
            if (n < 5 || strcmp(de->d_name + n - 4, ".crt") != 0) continue;
            f = berth_xasprintf("%s/%s", *dir, de->d_name);
            data = NULL;
            berth_err_clear(&err);
            if (berth_read_file(f, 1u << 20, &data, &len, &err) == BERTH_OK) {
                berth_buf_putc(&all, '\n');
                berth_buf_append(&all, data, len);
            }
            free(data);
            free(f);
        }
        closedir(d);
    }
    path = berth_xstrdup("/tmp/berth-check-health-ca-XXXXXX");
    fd = mkstemp(path);
    if (fd < 0 || write(fd, all.p ? all.p : "", all.len) != (ssize_t)all.len) {
        if (fd >= 0) unlink(path);
        free(path);
        path = NULL;
    }
    if (fd >= 0) close(fd);
    berth_buf_release(&all);
    return path;
}

/* docker info's RegistryConfig: hostport in IndexConfigs with Secure false, or its address in an insecure CIDR. */
static int docker_info_insecure(const json_t *info, const char *hostport, char **where)
{
    const json_t *rc = json_object_get(info, "registry"), *v;
    const json_t *ic = json_object_get(json_object_get(rc, "IndexConfigs"), hostport);
    char host[300];
    const char *colon = strrchr(hostport, ':');
    size_t i;

    if (ic && json_is_false(json_object_get(ic, "Secure"))) {
        *where = berth_xasprintf("the docker daemon's insecure-registries (%s)", hostport);
        return 1;
    }
    snprintf(host, sizeof(host), "%.*s", colon ? (int)(colon - hostport) : (int)strlen(hostport), hostport);
    if (!is_ip_literal(host)) return 0;
    json_array_foreach(json_object_get(rc, "InsecureRegistryCIDRs"), i, v) {
        const char *cidr = json_string_value(v);
        if (cidr && berth_health_no_proxy_match(cidr, host)) {
            *where = berth_xasprintf("the docker daemon's insecure registries (%s)", cidr);
            return 1;
        }
    }
    return 0;
}

/*
 * TLS as the judged Go clients see it: per client family (docker;
 * podman, skopeo and buildah), either its settings make the registry
 * insecure or the certificate must verify against the CAs it trusts.
 * Returns 1 when res was set (a failure, or every family insecure).
 */
static int clients_tls(struct berth_health_run *run, struct berth_health_result *res, const char *hp)
{
    static const enum berth_health_client fams[2] = {BERTH_HC_DOCKER, BERTH_HC_PODMAN};
    static const unsigned bits[2] = {BERTH_HC_BIT(BERTH_HC_DOCKER), BERTH_HC_CONTAINERS};
    struct berth_buf notes = BERTH_BUF_INIT(0);
    int i, verified = 0, done = 0;

    for (i = 0; i < 2 && !done; i++) {
        struct berth_health_req rq = {"GET", "/v2/", NULL, NULL, NULL, BERTH_HEALTH_REQ_CERTINFO};
        struct berth_health_http h;
        char *where = NULL, *dir = NULL, *bundle, *who, *fix;

        if (!(run->clients & bits[i])) continue;
        who = berth_health_clients_text(run->clients & bits[i]);
        if (fams[i] == BERTH_HC_DOCKER && run->docker_info ? docker_info_insecure(run->docker_info, hp, &where)
                                                           : berth_health_insecure(fams[i], hp, &where)) {
            berth_buf_printf(&notes, "%s%s skip%s verification for %s (%s)", notes.len ? "; " : "", who,
                             strchr(who, ',') ? "" : "s", hp, where);
            free(where);
            free(who);
            continue;
        }
        bundle = trust_bundle(fams[i], hp, &dir);
        free(run->ca_bundle);
        run->ca_bundle = bundle;
        run->tls_insecure = 0;
        rq.host = run->login_server;
        berth_health_http_do(run, &rq, &h);
        if (h.cc == CURLE_PEER_FAILED_VERIFICATION || h.cc == CURLE_SSL_CACERT_BADFILE) {
            const char *cdir = fams[i] == BERTH_HC_DOCKER ? "/etc/docker/certs.d" : "/etc/containers/certs.d";
            if (!strstr(h.errbuf, "expired") && !strstr(h.errbuf, "name") && !strstr(h.errbuf, "match")) {
                fix = berth_xasprintf("mkdir -p %s/%s && cp CA.pem %s/%s/ca.crt", cdir, hp, cdir, hp);
                berth_health_set(res, BERTH_HEALTH_ERROR, "TLS_UNTRUSTED", fix,
                                 "%s do%s not trust the certificate of %s (%s): the CA is neither in the system "
                                 "store nor in %s%s (a CA given to berth with --ca-file or kept by the berth session "
                                 "is not theirs)", who, strchr(who, ',') ? "" : "es", hp, h.errbuf,
                                 dir ? dir : cdir, dir ? "" : "/<host:port>");
                free(fix);
                done = 1;
            }
        } else if (h.cc == CURLE_OK) {
            berth_buf_printf(&notes, "%s%s trust%s the certificate (%s, issued by %s, valid until %s)%s%s",
                             notes.len ? "; " : "", who, strchr(who, ',') ? "" : "s",
                             h.cert_subject ? h.cert_subject : "?", h.cert_issuer ? h.cert_issuer : "?",
                             h.cert_expire ? h.cert_expire : "?", dir ? " with " : "", dir ? dir : "");
            verified = 1;
        }
        berth_health_http_release(&h);
        free(dir);
        free(who);
    }
    if (!done && !verified && notes.len) { /* every judged client skips verification */
        run->tls_insecure = 1;
        berth_health_set(res, BERTH_HEALTH_OK, NULL, NULL, "%s", berth_buf_str(&notes));
        done = 1;
    } else if (!done && verified) {
        berth_health_set(res, BERTH_HEALTH_OK, NULL, NULL, "%s", berth_buf_str(&notes));
        done = 1;
    }
    berth_buf_release(&notes);
    return done;
}

static void tls_judge(struct berth_health_run *run, struct berth_health_result *res)
{
    struct berth_health_req rq = {"GET", "/v2/", NULL, NULL, NULL, BERTH_HEALTH_REQ_CERTINFO};
    struct berth_health_http h, raw;
    char *fix = NULL, *alt = NULL;
    const char *e;

    memset(&raw, 0, sizeof(raw));
    if (strcmp(run->scheme, "https") != 0) {
        if (is_loopback_host(run->server_host))
            berth_health_set(res, BERTH_HEALTH_OK, NULL, NULL,
                             "plain HTTP on a loopback address (docker allows it without TLS)");
        else
            berth_health_set(res, BERTH_HEALTH_WARNING, "INSECURE_REGISTRY", NULL,
                             "plain HTTP to %s: docker refuses it unless it is in the daemon's \"insecure-registries\"; "
                             "serve TLS (berth serve --tls-cert FILE --tls-key FILE)", run->server_hp);
        return;
    }
    if ((run->clients & BERTH_HC_GO) && clients_tls(run, res, run->login_server ? run->login_server : run->server_hp))
        return;
    berth_health_http_do(run, &rq, &h);
    if (h.cc == CURLE_OK) {
        berth_health_set(res, BERTH_HEALTH_OK, NULL, NULL,
                         "the certificate (%s, issued by %s, valid until %s) is trusted and names %s",
                         h.cert_subject ? h.cert_subject : "?", h.cert_issuer ? h.cert_issuer : "?",
                         h.cert_expire ? h.cert_expire : "?", run->server_host);
        goto out;
    }
    rq.flags |= BERTH_HEALTH_REQ_INSECURE;
    berth_health_http_do(run, &rq, &raw);
    e = h.errbuf;
    if (h.cc == CURLE_SSL_CONNECT_ERROR && raw.cc != CURLE_OK) {
        fix = berth_xasprintf("http://%s", run->server_hp);
        alt = berth_health_rerun(run, NULL, NULL, fix, NULL);
        berth_health_set(res, BERTH_HEALTH_ERROR, "TLS_HANDSHAKE_FAILED", alt,
                         "the TLS handshake with %s failed (%s): does the server speak plain HTTP on that port?",
                         run->server_hp, e);
    } else if (strstr(e, "expired")) {
        berth_health_set(res, BERTH_HEALTH_ERROR, "TLS_EXPIRED", NULL,
                         "the certificate of %s (%s) expired on %s: renew it on the server and restart it with the new "
                         "--tls-cert", run->server_hp, raw.cert_subject ? raw.cert_subject : "?",
                         raw.cert_expire ? raw.cert_expire : "?");
    } else if (strstr(e, "subject name") || strstr(e, "does not match") || strstr(e, "no alternative")) {
        const char *san = raw.cert_san ? raw.cert_san : "", *d = strstr(san, "DNS:");
        const char *ipn = strstr(san, "IP Address:");
        if (d) alt = berth_xstrndup(d + 4, strcspn(d + 4, ", "));
        else if (ipn) alt = berth_xstrndup(ipn + 11, strcspn(ipn + 11, ", "));
        if (alt) {
            char *srv = berth_xasprintf("https://%s%s:%d", strchr(alt, ':') ? "[" : "", alt, run->server_port);
            if (strchr(alt, ':')) {
                free(srv);
                srv = berth_xasprintf("https://[%s]:%d", alt, run->server_port);
            }
            fix = berth_health_rerun(run, NULL, NULL, srv, NULL);
            free(srv);
        }
        berth_health_set(res, BERTH_HEALTH_ERROR, "TLS_HOSTNAME_MISMATCH", fix,
                         "the certificate of %s names %s%s%s, not %s: connect by a name it lists, or issue a certificate "
                         "that lists %s", run->server_hp, *san ? san : "only", *san ? "" : " its subject ",
                         *san ? "" : (raw.cert_subject ? raw.cert_subject : "?"), run->server_host, run->server_host);
    } else {
        fix = berth_health_rerun(run, NULL, NULL, NULL, "--ca-file CA.pem");
        berth_health_set(res, BERTH_HEALTH_ERROR, "TLS_UNTRUSTED", fix,
                         "the certificate of %s (%s, issued by %s) is not signed by a CA this machine trusts (%s): pass "
                         "the CA with --ca-file CA.pem, or install it: "
                         "cp CA.pem /usr/local/share/ca-certificates/berth.crt "
                         "&& update-ca-certificates", run->server_hp, raw.cert_subject ? raw.cert_subject : "?",
                         raw.cert_issuer ? raw.cert_issuer : "?", e);
    }
out:
    free(fix);
    free(alt);
    berth_health_http_release(&h);
    berth_health_http_release(&raw);
}

/*
 * A loopback login server is tried over plain HTTP first; a server that
 * speaks TLS on that port gives an empty reply, and a TLS-terminating proxy
 * (nginx) answers 400 to plain HTTP on its TLS port. The clients try HTTPS
 * first, so check-health switches to https there, says so, and judges TLS.
 * A registry answers GET /v2/ with 200, 401, 403 (network rules) or 404 (no
 * such registry); anything else over plain HTTP is not the registry.
 */
static void check_tls(struct berth_health_run *run, struct berth_health_result *res)
{
    struct berth_health_req rq = {"GET", "/v2/", NULL, NULL, NULL, 0};
    struct berth_health_http h, t;
    char why[80] = "";

    if (!strcmp(run->scheme, "http") && !run->client->server) {
        berth_health_http_do(run, &rq, &h);
        if (h.cc == CURLE_GOT_NOTHING || h.cc == CURLE_RECV_ERROR || h.cc == CURLE_WEIRD_SERVER_REPLY)
            snprintf(why, sizeof(why), "got an empty reply");
        else if (h.status && h.status != 200 && h.status != 401 && h.status != 403 && h.status != 404)
            snprintf(why, sizeof(why), "answered %ld, not as a registry does", h.status);
        if (*why) {
            snprintf(run->scheme, sizeof(run->scheme), "https");
            rq.flags = BERTH_HEALTH_REQ_INSECURE;
            berth_health_http_do(run, &rq, &t);
            if (t.status) {
                free(run->server_url);
                run->server_url = berth_xasprintf("https://%s", run->server_hp);
            } else {
                snprintf(run->scheme, sizeof(run->scheme), "http");
                why[0] = '\0';
            }
            berth_health_http_release(&t);
        }
        berth_health_http_release(&h);
    }
    tls_judge(run, res);
    if (*why && res->message) {
        char *m = berth_xasprintf("http://%s %s: the server speaks HTTPS there, as docker, podman and skopeo try "
                                  "first; %s", run->server_hp, why, res->message);
        free(res->message);
        res->message = m;
    }
}

/* For -n NAME: the login server is NAME.<domain>:port, the domain taken from the server's own challenge. */
static void ensure_login_server(struct berth_health_run *run)
{
    struct berth_health_req rq = {"GET", "/v2/", NULL, NULL, NULL, 0};
    struct berth_health_http h;
    char *realm = NULL, *svc = NULL, why[200];
    const char *dot;

    if (run->login_server) return;
    berth_health_http_do(run, &rq, &h);
    berth_health_parse_challenge(h.www_auth, &realm, &svc, why, sizeof(why));
    dot = svc ? strchr(svc, '.') : NULL;
    run->login_server = berth_xasprintf("%s.%.*s:%d", run->name, dot ? (int)strcspn(dot + 1, ":") : 9,
                                        dot ? dot + 1 : "localhost", run->server_port);
    free(realm);
    free(svc);
    berth_health_http_release(&h);
}

static void check_network(struct berth_health_run *run, struct berth_health_result *res)
{
    ensure_login_server(run);
    if (run->name && !login_server_resolves(run, res)) return;
    ensure_v2(run);
    if (!run->v2.status) transport_failed(run, res, &run->v2, "GET /v2/");
    else if (run->v2.status == 403) refused(run, res, &run->v2, BERTH_HEALTH_SRC_NONE, NULL);
    else
        berth_health_set(res, BERTH_HEALTH_OK, NULL, NULL,
                         "the registry's network rules let this client in (GET /v2/ on %s: %ld)",
                         run->login_server, run->v2.status);
}

static void check_registry(struct berth_health_run *run, struct berth_health_result *res)
{
    ensure_v2(run);
    if (run->v2.status == 404 && (!run->v2.reason || !strcmp(run->v2.reason, "UNKNOWN_REGISTRY")))
        refused(run, res, &run->v2, BERTH_HEALTH_SRC_NONE, NULL);
    else
        berth_health_set(res, BERTH_HEALTH_OK, NULL, NULL, "the server knows registry '%s' at %s",
                         run->registry ? run->registry : "?", run->login_server);
}

static void check_challenge(struct berth_health_run *run, struct berth_health_result *res)
{
    char why[300] = "";
    char *realm = NULL, *svc = NULL;

    ensure_v2(run);
    if (!run->v2.status) {
        transport_failed(run, res, &run->v2, "GET /v2/");
        return;
    }
    if (run->v2.status == 200) {
        berth_health_set(res, BERTH_HEALTH_OK, NULL, NULL,
                         "GET /v2/ answers 200 without credentials: an open registry");
        return;
    }
    if (run->v2.status == 401 && !berth_health_parse_challenge(run->v2.www_auth, &realm, &svc, why, sizeof(why))) {
        berth_health_set(res, BERTH_HEALTH_OK, NULL, NULL,
                         "GET /v2/ answers 401 with Bearer realm=\"%s\", service=\"%s\"", realm,
                         svc);
    } else if (run->v2.status != 401) {
        berth_health_set(res, BERTH_HEALTH_ERROR, "CHALLENGE_INVALID", NULL,
                         "GET /v2/ on %s answered %ld, not 401 with a Bearer challenge: is this a registry (or a "
                         "proxy in front of it)?", run->login_server, run->v2.status);
    } else {
        berth_health_set(res, BERTH_HEALTH_ERROR, "CHALLENGE_INVALID", NULL,
                         "GET /v2/ on %s answered 401 but %s: docker cannot find the token service", run->login_server,
                         why);
    }
    free(realm);
    free(svc);
}

/*
 * The realm is where the clients send their credentials for a token. Behind a
 * TLS-terminating proxy that does not tell berth the scheme and host the
 * client used, it names http:// or berth's own address: the proxy refuses
 * plain HTTP on its TLS port (docker and skopeo then fail, whatever the
 * realm's answer), or, where berth's own address answers, passwords travel
 * in clear past the proxy and clients elsewhere cannot reach it.
 */
static void check_realm(struct berth_health_run *run, struct berth_health_result *res)
{
    struct berth_health_req rq = {"GET", NULL, NULL, NULL, NULL, 0};
    struct berth_health_http h;
    enum berth_health_realm_fit fit = BERTH_HEALTH_REALM_SAME;
    const char *ls = run->login_server ? run->login_server : run->server_hp;
    char *url, answer[320];
    int same_host;

    if (!run->realm) {
        berth_health_set(res, BERTH_HEALTH_OK, NULL, NULL, "no token realm to reach (an open registry)");
        return;
    }
    if (ls) fit = berth_health_realm_fit(run->realm, run->scheme, ls);
    /* the host and port alone: the realm's scheme taken for the clients' */
    same_host = !ls || berth_health_realm_fit(run->realm, !strncmp(run->realm, "https:", 6) ? "https" : "http", ls) ==
                           BERTH_HEALTH_REALM_SAME;
    url = berth_xasprintf("%s?service=%s", run->realm, run->service);
    rq.path = url;
    berth_health_http_do(run, &rq, &h);
    if (h.status) snprintf(answer, sizeof(answer), "it answers %ld there", h.status);
    else snprintf(answer, sizeof(answer), "nothing answers there: %s", h.errbuf);
    if (fit == BERTH_HEALTH_REALM_DOWNGRADE)
        berth_health_set(res, BERTH_HEALTH_ERROR, "REALM_SCHEME_MISMATCH", NULL,
                         "the token realm is %s (%s), but the clients reach the registry at %s://%s: they would send "
                         "their passwords for a token over plain HTTP, %s. A proxy that terminates TLS must tell berth "
                         "the address the clients use: start berth with --external-url https://%s, or have the proxy "
                         "send %s and list it in --trusted-proxies (docs/reverse-proxy.md)",
                         run->realm, answer, run->scheme, ls,
                         same_host ? "which a TLS port refuses (docker and skopeo fail)"
                                   : "to another address, past the proxy (clients elsewhere cannot reach it)",
                         ls,
                         same_host ? "X-Forwarded-Proto (nginx: proxy_set_header X-Forwarded-Proto $scheme;)"
                                   : "Host and X-Forwarded-Proto (nginx: proxy_set_header Host $http_host; "
                                     "proxy_set_header X-Forwarded-Proto $scheme;)");
    else if (!h.status)
        berth_health_set(res, BERTH_HEALTH_ERROR, "REALM_UNREACHABLE", NULL,
                         "the token realm %s does not answer (%s): docker gets its tokens there, so the server's realm "
                         "must be reachable from here (check the server's address, its --domain, or a proxy)",
                         run->realm, h.errbuf);
    else if (fit == BERTH_HEALTH_REALM_OTHER_HOST)
        berth_health_set(res, BERTH_HEALTH_WARNING, "REALM_HOST_MISMATCH", NULL,
                         "the token realm %s is not on %s://%s, the address the clients use; %s, so clients here get "
                         "their tokens, but clients elsewhere must reach it too, and they send their passwords there. "
                         "Behind a proxy: have it pass Host (nginx: proxy_set_header Host $http_host;) or start berth "
                         "with --external-url %s://%s (docs/reverse-proxy.md)",
                         run->realm, run->scheme, ls, answer, run->scheme, ls);
    else
        berth_health_set(res, BERTH_HEALTH_OK, NULL, NULL,
                         "the token realm %s answers (%ld in %.0f ms)", run->realm, h.status,
                         h.total_ms);
    free(url);
    berth_health_http_release(&h);
}

/*
 * A push sends each layer as one request body of the layer's size. A proxy
 * in front of berth that caps bodies (nginx's client_max_body_size is 1 MiB
 * unless set) answers 413 itself: logins and pulls work, pushes of any real
 * layer fail. A PATCH of 1.5 MiB, without credentials, to an upload that
 * does not exist shows it: berth refuses it (401) before it reads a byte,
 * and as the request asks with Expect: 100-continue, no byte is sent; a
 * capping proxy answers 413 with its own page, not an OCI error.
 */
#define BODY_PROBE_BYTES (1536u * 1024u)
static void check_request_size(struct berth_health_run *run, struct berth_health_result *res)
{
    struct berth_health_req rq = {"PATCH", NULL, NULL, NULL, NULL, BERTH_HEALTH_REQ_EXPECT};
    struct berth_health_http h;
    char *path, *body;

    if (strcmp(run->action, "push") != 0) {
        berth_health_set(res, BERTH_HEALTH_OK, NULL, NULL, "not checked: a %s sends no layer (--action push checks "
                                                           "that a proxy lets layers through)", run->action);
        return;
    }
    path = berth_xasprintf("/v2/%s/blobs/uploads/00000000-0000-0000-0000-000000000000",
                           run->repository ? run->repository : "berth-check-health/probe");
    body = berth_xmalloc(BODY_PROBE_BYTES + 1);
    memset(body, '0', BODY_PROBE_BYTES);
    body[BODY_PROBE_BYTES] = '\0';
    rq.path = path;
    rq.host = run->login_server;
    rq.form = body;
    berth_health_http_do(run, &rq, &h);
    if (h.status == 413 && !h.reason && !h.message)
        berth_health_set(res, BERTH_HEALTH_ERROR, "PROXY_BODY_LIMIT", NULL,
                         "a request body of %u KiB to %s is refused with 413 by something in front of berth (not "
                         "berth's own error): a proxy that caps request bodies, so pushes of larger layers fail. "
                         "nginx: client_max_body_size 0; (docs/reverse-proxy.md)", BODY_PROBE_BYTES / 1024,
                         run->login_server ? run->login_server : run->server_hp);
    else if (!h.status)
        berth_health_set(res, BERTH_HEALTH_OK, NULL, NULL, "a request body of %u KiB got no answer (%s): no proxy "
                         "refused it with 413", BODY_PROBE_BYTES / 1024, h.errbuf);
    else
        berth_health_set(res, BERTH_HEALTH_OK, NULL, NULL, "a request body of %u KiB reaches the registry (it "
                         "answers %ld without credentials): no proxy caps layers that small",
                         BODY_PROBE_BYTES / 1024, h.status);
    free(body);
    free(path);
    berth_health_http_release(&h);
}

/* ---------------------------------------------------------------- 4. the clock */

static void check_clock(struct berth_health_run *run, struct berth_health_result *res)
{
    time_t srv;
    int64_t lo, hi, mid, allow = run->leeway * 1000;
    long long skew;
    int proved;

    ensure_v2(run);
    srv = run->v2.date ? curl_getdate(run->v2.date, NULL) : -1;
    if (srv < 0) {
        berth_health_set(res, BERTH_HEALTH_WARNING, "CLOCK_UNKNOWN", NULL,
                         "the server sent no Date header to compare clocks with");
        return;
    }
    /* a Date names a whole second: only a skew it proves beyond the leeway is one */
    berth_health_clock_skew((int64_t)srv, run->v2.sent_ms, run->v2.got_ms, &lo, &hi);
    proved = lo > allow || hi < -allow;
    mid = (lo + hi) / 2;
    skew = (long long)((mid >= 0 ? mid + 500 : mid - 500) / 1000);
    if (proved && !skew) skew = lo > allow ? 1 : -1;
    if (proved)
        berth_health_set(res, BERTH_HEALTH_WARNING, "CLOCK_SKEW", NULL,
                         "this machine's clock is %lld s %s the server's (server Date: %s); tokens allow %lld s, so a "
                         "token may be refused as expired or not yet valid: synchronise both clocks with NTP "
                         "(timedatectl set-ntp true, or chronyc makestep)",
                         skew > 0 ? skew : -skew, skew > 0 ? "behind" : "ahead of", run->v2.date, run->leeway);
    else
        berth_health_set(res, BERTH_HEALTH_OK, NULL, NULL,
                         "the clocks agree within %lld s (skew %+lld s, as closely as a Date header shows)",
                         run->leeway, skew);
}

/* ---------------------------------------------------------------- 5. credentials */

/* POST /oauth2/token on the login server; h filled. */
static void token_post(struct berth_health_run *run, const char *grant, const char *user, const char *secret,
                       struct berth_health_http *h)
{
    struct berth_buf form = BERTH_BUF_INIT(0);
    struct berth_health_req rq = {"POST", "/oauth2/token", NULL, NULL, NULL, 0};
    char *scope = run->repository ? berth_xasprintf("repository:%s:pull", run->repository)
                                  : berth_xstrdup("registry:catalog:*");

    berth_client_form_add(&form, "grant_type", grant);
    berth_client_form_add(&form, "service", run->service ? run->service : run->login_server);
    berth_client_form_add(&form, "scope", scope);
    if (!strcmp(grant, "refresh_token")) {
        berth_client_form_add(&form, "refresh_token", secret);
    } else {
        berth_client_form_add(&form, "username", user);
        berth_client_form_add(&form, "password", secret);
        berth_client_form_add(&form, "access_type", "offline");
    }
    rq.host = run->login_server;
    rq.form = berth_buf_str(&form);
    berth_health_http_do(run, &rq, h);
    if (form.p) memset(form.p, 0, form.len);
    berth_buf_release(&form);
    free(scope);
}

/* Tries user/secret (a refresh token when user is the null GUID): 1 ok and the tokens kept in run. */
static int try_credential(struct berth_health_run *run, const char *user, const char *secret,
                          struct berth_health_http *h)
{
    int token = !strcmp(user, BERTH_NULL_GUID);
    const char *rt;
    json_t *ans;

    token_post(run, token ? "refresh_token" : "password", user, secret, h);
    if (h->status != 200) return 0;
    ans = json_loadb(h->body.p ? h->body.p : "", h->body.len, 0, NULL);
    free(run->access_token);
    run->access_token = json_string_value(json_object_get(ans, "access_token"))
                            ? berth_xstrdup(json_string_value(json_object_get(ans, "access_token"))) : NULL;
    rt = token ? secret : json_string_value(json_object_get(ans, "refresh_token"));
    if (rt && rt != run->refresh_token) {
        char *copy = berth_xstrdup(rt);
        free(run->refresh_token);
        run->refresh_token = copy;
    }
    berth_health_secret(run, run->access_token);
    berth_health_secret(run, run->refresh_token);
    json_decref(ans);
    return run->access_token != NULL;
}

/* 1 when s has the shape of a JWT (three base64url parts, the first a JSON object). */
static int looks_like_jwt(const char *s)
{
    size_t n = strspn(s, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_.");
    const char *d = strchr(s, '.');
    return !strncmp(s, "eyJ", 3) && n == strlen(s) && d && strchr(d + 1, '.');
}

/* 1 when GET /oauth2/token without credentials gets a pull token (anonymous pull is on). */
static int anonymous_pull_on(struct berth_health_run *run)
{
    struct berth_health_req rq = {"GET", NULL, NULL, NULL, NULL, 0};
    struct berth_health_http h;
    char *path = berth_xasprintf("/oauth2/token?service=%s&scope=repository:%s:pull",
                                 run->service ? run->service : run->login_server,
                                 run->repository ? run->repository : "library/hello-world");
    int on;
    rq.path = path;
    rq.host = run->login_server;
    berth_health_http_do(run, &rq, &h);
    on = h.status == 200;
    berth_health_http_release(&h);
    free(path);
    return on;
}

/* "an identity token in F", "a password in F", "an identity token from docker-credential-x (F)". malloc'd. */
static char *cred_text(const struct berth_health_cred *c)
{
    const char *what = !strcmp(c->user, BERTH_NULL_GUID) ? "an identity token" : "a password";
    if (c->helper) return berth_xasprintf("%s from %s (%s)", what, c->helper, c->file);
    return berth_xasprintf("%s in %s", what, c->file);
}

/* 1 when what c sends is still what `berth login` wrote (logins.json's fingerprint of the entry, or its helper). */
static int cred_by_berth(struct berth_dockercfg *rec, const char *ls, const struct berth_health_cred *c)
{
    struct berth_dockercfg *cfg = NULL;
    struct berth_err err = BERTH_ERR_INIT;
    const json_t *f = rec && c->file ? berth_loginrec_file(rec, ls, c->file, 0) : NULL;
    const char *want = json_string_value(json_object_get(f, "auths"));
    char fp[65];
    int by = 0;

    if (!f) return 0;
    if (c->helper) return !strcmp(c->helper, BERTH_HELPER_PREFIX BERTH_HELPER_BERTH);
    if (want && berth_dockercfg_load(c->file, &cfg, &err) == BERTH_OK && berth_dockercfg_fingerprint(cfg, ls, fp))
        by = !strcmp(fp, want);
    berth_dockercfg_free(cfg);
    return by;
}

/* The judged clients' credentials, grouped where they send the same thing. */
static void gather_creds(struct berth_health_run *run)
{
    int c;
    size_t i;

    for (c = BERTH_HC_DOCKER; c <= BERTH_HC_BUILDAH; c++) {
        struct berth_health_cred got;
        if (!(run->clients & BERTH_HC_BIT(c))) continue;
        berth_health_resolve_cred(run, (enum berth_health_client)c, &got);
        for (i = 0; i < run->ncreds; i++) {
            struct berth_health_cred *o = &run->creds[i];
            if (o->src == got.src && (got.src == BERTH_HEALTH_SRC_NONE ? !strcmp(o->looked, got.looked) :
                (!strcmp(o->user, got.user) && !strcmp(o->secret, got.secret) && !strcmp(o->file, got.file))))
                break;
        }
        if (i < run->ncreds) {
            run->creds[i].clients |= got.clients;
            berth_health_cred_release(&got);
        } else {
            run->creds[run->ncreds++] = got;
        }
    }
}

/*
 * What each judged client will send for the login server, tested on its own
 * against the token service: a refused one fails the check with the fix for
 * that client and file; none at all fails when the registry needs one.
 */
static void check_stored(struct berth_health_run *run, struct berth_health_result *res)
{
    struct berth_dockercfg *rec = NULL;
    struct berth_err err = BERTH_ERR_INIT;
    struct berth_health_http h;
    struct berth_buf good = BERTH_BUF_INIT(0);
    int anon = -1, failed = 0;
    size_t i;

    memset(&h, 0, sizeof(h));
    if (!(run->clients & BERTH_HC_GO)) {
        berth_health_set(res, BERTH_HEALTH_OK, NULL, NULL,
                         "berth's own commands use the berth session, not docker's or podman's logins");
        return;
    }
    gather_creds(run);
    if (berth_loginrec_load(&rec, &err) != BERTH_OK) rec = NULL;
    for (i = 0; i < run->ncreds && !failed; i++) {
        struct berth_health_cred *c = &run->creds[i];
        char *who = berth_health_clients_text(c->clients), *where = NULL, *fix = NULL;

        run->cred_now = c;
        run->stored_by_berth = cred_by_berth(rec, run->login_server, c);
        if (c->src == BERTH_HEALTH_SRC_NONE) {
            if (anon < 0) anon = anonymous_pull_on(run);
            where = berth_xasprintf("%s looked in %s", who, c->looked);
            if (run->client->user) {
                berth_buf_printf(&good, "%s%s: nothing stored yet", good.len ? "; " : "", who);
            } else if (!anon) {
                h.status = 401;
                free(h.reason);
                h.reason = berth_xstrdup("ANONYMOUS_DISABLED");
                refused(run, res, &h, BERTH_HEALTH_SRC_NONE, where);
                failed = 1;
            } else if (strcmp(run->action, "pull") != 0) {
                fix = client_relogin(run, c);
                berth_health_set(res, BERTH_HEALTH_ERROR, "CREDENTIALS_MISSING", fix,
                                 "%s hold%s no credential for %s (looked in %s): anonymous pull works, but %s needs a "
                                 "login", who, strchr(who, ',') ? "" : "s", run->login_server, c->looked, run->action);
                failed = 1;
            } else {
                berth_buf_printf(&good, "%s%s: nothing stored, pulls anonymously", good.len ? "; " : "", who);
            }
        } else {
            where = cred_text(c);
            if (!run->stored_where) run->stored_where = berth_xasprintf("%s: %s", who, where);
            free(run->cred_user);
            run->cred_user = berth_xstrdup(c->user);
            berth_health_http_release(&h);
            c->works = try_credential(run, c->user, c->secret, &h);
            if (anon < 0) anon = anonymous_pull_on(run);
            if (!c->works && anon && !strcmp(run->action, "pull")) {
                fix = run->stored_by_berth ? berth_xasprintf("berth logout %s", run->login_server)
                                           : client_relogin(run, c);
                berth_health_set(res, BERTH_HEALTH_ERROR, "STORED_CREDENTIAL_OVERRIDES_ANONYMOUS", fix,
                                 "%s: %s holds a credential for %s that the server refuses: the client sends it "
                                 "instead of pulling anonymously, which registry '%s' allows", who, where,
                                 run->login_server, run->registry ? run->registry : "?");
                failed = 1;
            } else if (!c->works && h.status) {
                char *full = c->helper ? berth_xasprintf("%s of %s (what %s send%s)", c->helper, c->file, who,
                                                         strchr(who, ',') ? "" : "s")
                                       : berth_xasprintf("%s (what %s send%s)", c->file, who,
                                                         strchr(who, ',') ? "" : "s");
                refused(run, res, &h, c->src, full);
                free(full);
                failed = 1;
            } else if (!c->works) {
                transport_failed(run, res, &h, "POST /oauth2/token");
                failed = 1;
            } else {
                berth_buf_printf(&good, "%s%s: %s works", good.len ? "; " : "", who, where);
                if (!run->cred_secret) { /* what the credential and permission checks use */
                    run->cred_chosen = (int)i + 1;
                    run->cred_secret = berth_xstrdup(c->secret);
                    run->source = c->src;
                    free(run->source_text);
                    run->source_text = berth_xasprintf("%s (%s)", where, who);
                }
            }
        }
        free(who);
        free(where);
        free(fix);
    }
    run->cred_now = NULL;
    if (run->cred_chosen) { /* the refusals above named their own users: the chosen credential's goes on */
        free(run->cred_user);
        run->cred_user = berth_xstrdup(run->creds[run->cred_chosen - 1].user);
    }
    berth_dockercfg_free(rec);
    if (!failed) berth_health_set(res, BERTH_HEALTH_OK, NULL, NULL, "for %s: %s", run->login_server, berth_buf_str(&good));
    berth_buf_release(&good);
    berth_health_http_release(&h);
}

/*
 * A directory access token from the berth session for the server (malloc'd;
 * NULL with the refusal in h), its tenant into tenant and the session's user
 * into *user (malloc'd, may be NULL). A rotated refresh token is saved, so
 * the session stays usable.
 */
static char *session_directory(struct berth_health_run *run, struct berth_health_http *h, char tenant[37], char **user)
{
    struct berth_client_session s;
    struct berth_buf form = BERTH_BUF_INIT(0);
    struct berth_health_req rq = {"POST", NULL, NULL, NULL, NULL, 0};
    struct berth_err err = BERTH_ERR_INIT;
    char *path = berth_client_session_path(), *p = NULL, *out = NULL;
    json_t *root = NULL, *ans = NULL;
    const char *dir, *rt;

    memset(&s, 0, sizeof(s));
    memset(h, 0, sizeof(*h));
    if (user) *user = NULL;
    if (berth_client_session_load(path, &root, &err) || berth_client_session_get(root, run->server_url, &s,
        &err)) goto out;
    if (user) *user = berth_xstrdup(s.name ? s.name : "?");
    snprintf(tenant, 37, "%s", s.tenant ? s.tenant : "");
    if (s.kind && !strcmp(s.kind, "sp") && s.secret) {
        berth_client_form_add(&form, "grant_type", "client_credentials");
        berth_client_form_add(&form, "client_id", s.name);
        berth_client_form_add(&form, "client_secret", s.secret);
    } else {
        berth_client_form_add(&form, "grant_type", "refresh_token");
        berth_client_form_add(&form, "refresh_token", s.refresh_token ? s.refresh_token : "");
    }
    berth_health_secret(run, s.secret);
    berth_health_secret(run, s.refresh_token);
    p = berth_xasprintf("/directory/%s/oauth2/v2.0/token", s.tenant ? s.tenant : "");
    rq.path = p;
    rq.form = berth_buf_str(&form);
    berth_health_http_do(run, &rq, h);
    if (h->status != 200) goto out;
    ans = json_loadb(h->body.p, h->body.len, 0, NULL);
    dir = json_string_value(json_object_get(ans, "access_token"));
    rt = json_string_value(json_object_get(ans, "refresh_token"));
    berth_health_secret(run, dir);
    berth_health_secret(run, rt);
    if (rt && s.refresh_token && strcmp(rt, s.refresh_token) != 0) { /* keep the session usable */
        free(s.refresh_token);
        s.refresh_token = berth_xstrdup(rt);
        berth_client_session_put(root, &s, 0);
        berth_client_session_save(path, root, &err);
    }
    out = berth_xstrdup(dir ? dir : "");
out:
    if (form.p) memset(form.p, 0, form.len);
    berth_buf_release(&form);
    berth_client_session_release(&s);
    json_decref(ans);
    json_decref(root);
    free(path);
    free(p);
    return out;
}

/* The berth session's registry refresh token, as berth login gets it: 1 ok; else h holds the refusal. */
static int session_token(struct berth_health_run *run, struct berth_health_http *h)
{
    struct berth_buf form = BERTH_BUF_INIT(0);
    struct berth_health_req rq = {"POST", "/oauth2/exchange", NULL, NULL, NULL, 0};
    char tenant[37] = "", *dir;
    json_t *ans = NULL;
    const char *rt;
    int ok = 0;

    free(run->cred_user);
    dir = session_directory(run, h, tenant, &run->cred_user);
    if (!dir) goto out;
    berth_client_form_add(&form, "grant_type", "access_token");
    berth_client_form_add(&form, "service", run->service ? run->service : run->login_server);
    berth_client_form_add(&form, "tenant", tenant);
    berth_client_form_add(&form, "access_token", dir);
    berth_health_http_release(h);
    rq.host = run->login_server;
    rq.form = berth_buf_str(&form);
    berth_health_http_do(run, &rq, h);
    if (h->status != 200) goto out;
    ans = json_loadb(h->body.p, h->body.len, 0, NULL);
    rt = json_string_value(json_object_get(ans, "refresh_token"));
    if (rt) {
        free(run->cred_secret);
        run->cred_secret = berth_xstrdup(rt);
        berth_health_secret(run, rt);
        ok = 1;
    }
out:
    if (form.p) memset(form.p, 0, form.len);
    berth_buf_release(&form);
    json_decref(ans);
    free(dir);
    return ok;
}

/*
 * The exact reason the server logged for the newest failed login of user on
 * this registry (malloc'd), read from its login log with the berth session,
 * or NULL when there is no session, it may not read the log, or nothing is
 * there. The server tells a caller who has not proven a secret only
 * INVALID_CREDENTIALS; the registry's readers may know more.
 */
static char *logged_reason(struct berth_health_run *run, const char *user)
{
    struct berth_health_http h;
    struct berth_buf path = BERTH_BUF_INIT(0);
    struct berth_health_req rq = {"GET", NULL, NULL, NULL, NULL, 0};
    char tenant[37], *dir = NULL, *auth = NULL, *reason = NULL, *who = NULL;
    json_t *ans = NULL;
    int tries;

    memset(&h, 0, sizeof(h));
    if (!run->have_session || !run->registry || !user || !*user) return NULL;
    dir = session_directory(run, &h, tenant, NULL);
    if (!dir) goto out;
    auth = berth_xasprintf("Bearer %s", dir);
    who = berth_client_query_escape(user);
    berth_buf_printf(&path, "/api/v1/registries/%s/logs/login?failed=true&since=10m&limit=1&identity=%s",
                     run->registry, who);
    rq.path = berth_buf_str(&path);
    rq.auth = auth;
    /* the server stores events in batches, a fraction of a second after the login */
    for (tries = 0; tries < 8 && !reason; tries++) {
        if (tries) nanosleep(&(struct timespec){0, 250000000L}, NULL);
        berth_health_http_release(&h);
        berth_health_http_do(run, &rq, &h);
        if (h.status != 200) break;
        json_decref(ans);
        ans = json_loadb(h.body.p, h.body.len, 0, NULL);
        {
            const char *r = json_string_value(json_object_get(json_array_get(json_object_get(ans, "value"), 0),
                                                              "reason"));
            if (r && *r) reason = berth_xstrdup(r);
        }
    }
out:
    json_decref(ans);
    berth_health_http_release(&h);
    berth_buf_release(&path);
    free(who);
    free(auth);
    free(dir);
    return reason;
}

static void check_credentials(struct berth_health_run *run, struct berth_health_result *res)
{
    struct berth_err err = BERTH_ERR_INIT;
    struct berth_health_http h;
    const char *pw = NULL;
    int64_t exp;
    char when[40];

    memset(&h, 0, sizeof(h));
    ensure_v2(run);
    if (run->v2.status == 200 && !run->client->user) {
        berth_health_set(res, BERTH_HEALTH_OK, NULL, NULL, "an open registry: GET /v2/ needs no credential");
        return;
    }
    if (run->client->user) {
        if (berth_client_password(run->client, &pw, &err) || !pw) {
            berth_health_set(res, BERTH_HEALTH_ERROR, "CREDENTIALS_MISSING", NULL,
                             "-u %s needs a password: %s", run->client->user,
                             err.code ? berth_err_msg(&err) : "pass -p or --password-stdin");
            return;
        }
        berth_health_secret(run, pw);
        free(run->cred_user);
        free(run->cred_secret);
        run->cred_user = berth_xstrdup(run->client->user);
        run->cred_secret = berth_xstrdup(pw);
        run->source = BERTH_HEALTH_SRC_FLAGS;
        free(run->source_text);
        run->source_text = berth_xasprintf("-u %s", run->client->user);
    } else if ((run->clients & BERTH_HC_BIT(BERTH_HC_BERTH)) && run->have_session) {
        free(run->cred_user);
        free(run->cred_secret);
        run->cred_user = run->cred_secret = NULL;
        run->source = BERTH_HEALTH_SRC_SESSION;
        free(run->source_text);
        run->source_text = berth_xasprintf("the berth session for %s", run->server_url);
        if (!session_token(run, &h)) {
            if (h.status) refused(run, res, &h, BERTH_HEALTH_SRC_SESSION, run->source_text);
            else if (h.cc) transport_failed(run, res, &h, "the session's token request");
            else {
                char *fix = relogin(run, BERTH_HEALTH_SRC_SESSION);
                berth_health_set(res, BERTH_HEALTH_ERROR, "CREDENTIALS_MISSING", fix,
                                 "the berth session for %s went away during the run", run->server_url);
                free(fix);
            }
            goto out;
        }
        berth_health_http_release(&h);
        free(run->cred_user);
        run->cred_user = berth_xstrdup(BERTH_NULL_GUID);
    } else if (!run->cred_secret) {
        if (anonymous_pull_on(run)) {
            run->source = BERTH_HEALTH_SRC_NONE;
            berth_health_set(res, BERTH_HEALTH_OK, NULL, NULL,
                             "no credential: anonymous pull works on %s", run->login_server);
        } else {
            h.status = 401;
            h.reason = berth_xstrdup("ANONYMOUS_DISABLED");
            refused(run, res, &h, BERTH_HEALTH_SRC_NONE,
                    run->clients & BERTH_HC_GO ? "the clients hold none" : "no -u, no berth session for the server");
        }
        goto out;
    }
    if (!try_credential(run, run->cred_user, run->cred_secret, &h)) {
        if (run->source == BERTH_HEALTH_SRC_FLAGS && (h.status == 401 || h.status == 403) &&
            strcmp(run->cred_user, BERTH_NULL_GUID) != 0 && looks_like_jwt(run->cred_secret)) {
            char *fix = berth_health_rerun(run, NULL, NULL, NULL, "-u " BERTH_NULL_GUID " --password-stdin");
            berth_health_set(res, BERTH_HEALTH_ERROR, "TOKEN_NEEDS_NULL_GUID", fix,
                             "the password of '%s' is a token (as 'berth login --expose-token' prints): a token is "
                             "sent with the user name " BERTH_NULL_GUID " (the server said: %s)",
                             run->cred_user, h.message ? h.message : "refused");
            free(fix);
        } else if (h.status) {
            if (run->cred_chosen) { /* a client's credential: the template names where it is kept */
                const struct berth_health_cred *c = &run->creds[run->cred_chosen - 1];
                char *where = berth_xasprintf("%s%s%s", c->helper ? c->helper : "", c->helper ? " of " : "", c->file);
                run->cred_now = c;
                refused(run, res, &h, run->source, where);
                run->cred_now = NULL;
                free(where);
            } else {
                refused(run, res, &h, run->source, run->source_text);
            }
        } else {
            transport_failed(run, res, &h, "POST /oauth2/token");
        }
        goto out;
    }
    exp = berth_client_jwt_exp(run->refresh_token);
    if (exp) berth_time_rfc3339(exp, when, sizeof(when));
    berth_health_set(res, BERTH_HEALTH_OK, NULL, NULL, "%s gets a refresh token%s%s and an access token for %s",
                     run->source_text, exp ? " valid until " : "", exp ? when : "", run->login_server);
out:
    berth_health_http_release(&h);
}

/* The credentials check, remembering whether it failed for the permission check. */
static void check_credentials_run(struct berth_health_run *run, struct berth_health_result *res)
{
    check_credentials(run, res);
    run->cred_failed = res->status == BERTH_HEALTH_ERROR;
}

/* ---------------------------------------------------------------- 6. permission */

/* "AcrPull on /registries/x, scope map 'm' (a rule)": the explain answer's sources as text. */
static char *grants_text(const json_t *sources)
{
    struct berth_buf b = BERTH_BUF_INIT(0);
    const json_t *s;
    size_t i;

    json_array_foreach(sources, i, s) {
        const char *kind = json_string_value(json_object_get(s, "kind"));
        if (b.len) berth_buf_puts(&b, ", ");
        if (kind && !strcmp(kind, "roleAssignment"))
            berth_buf_printf(&b, "%s on %s", json_string_value(json_object_get(s, "role")),
                             json_string_value(json_object_get(s, "scope")));
        else if (kind && !strcmp(kind, "scopeMap"))
            berth_buf_printf(&b, "scope map '%s' (%s)", json_string_value(json_object_get(s, "scopeMap")),
                             json_is_string(json_object_get(s, "rule"))
                                 ? json_string_value(json_object_get(s, "rule")) : "no matching rule");
        else if (kind && !strcmp(kind, "adminUser"))
            berth_buf_puts(&b, "the admin user, who may do everything");
        else if (kind && !strcmp(kind, "anonymousPull"))
            berth_buf_puts(&b, "anonymous pull");
        else
            berth_buf_puts(&b, kind ? kind : "?");
    }
    if (!b.len) berth_buf_puts(&b, "nothing");
    return berth_buf_detach(&b, NULL);
}

/*
 * GET /oauth2/explain for scope with user/secret as Basic (none: anonymous):
 * the parsed answer (the caller's), or NULL with res failed as a refusal or
 * a transport failure; text names the credential in a refusal.
 */
static json_t *explain_get(struct berth_health_run *run, struct berth_health_result *res, const char *scope,
                           const char *user, const char *secret, const char *text)
{
    struct berth_health_req rq = {"GET", NULL, NULL, NULL, NULL, 0};
    struct berth_health_http h;
    struct berth_buf b = BERTH_BUF_INIT(0);
    char *path, *up = NULL, *auth = NULL;
    json_t *ans = NULL;

    path = berth_xasprintf("/oauth2/explain?service=%s&scope=%s", run->service ? run->service : run->login_server,
                           scope);
    if (secret) {
        up = berth_xasprintf("%s:%s", user, secret);
        berth_buf_puts(&b, "Basic ");
        berth_b64_encode(up, strlen(up), &b);
        auth = berth_buf_detach(&b, NULL);
    }
    rq.path = path;
    rq.host = run->login_server;
    rq.auth = auth;
    berth_health_http_do(run, &rq, &h);
    if (h.status == 200) ans = json_loadb(h.body.p, h.body.len, 0, NULL);
    else if (h.status) refused(run, res, &h, run->source, text);
    else transport_failed(run, res, &h, "GET /oauth2/explain");
    if (up) memset(up, 0, strlen(up));
    if (auth) memset(auth, 0, strlen(auth));
    free(up);
    free(auth);
    free(path);
    berth_health_http_release(&h);
    return ans;
}

/* Asks /oauth2/explain whether user/secret may do the action on the repository: 1 and res OK, or 0 and res failed. */
static int explain_one(struct berth_health_run *run, struct berth_health_result *res, const char *user,
                       const char *secret, const char *text)
{
    char *scope = berth_xasprintf("repository:%s:%s", run->repository, run->action);
    json_t *ans = explain_get(run, res, scope, user, secret, text);
    const json_t *a = json_array_get(json_object_get(ans, "access"), 0);
    const char *cause, *cmd;
    int ok = 0;

    free(scope);
    if (!ans) return 0;
    if (json_array_size(json_object_get(a, "missing"))) {
        cause = json_string_value(json_object_get(json_object_get(a, "fix"), "cause"));
        cmd = json_string_value(json_object_get(json_object_get(a, "fix"), "command"));
        berth_health_set(res, BERTH_HEALTH_ERROR, "PERMISSION_DENIED", cmd, "%s may not %s on %s: %s",
                         text ? text : "anonymous", run->action, run->repository, cause ? cause : "no grant gives it");
    } else {
        char *src = grants_text(json_object_get(a, "sources"));
        berth_health_set(res, BERTH_HEALTH_OK, NULL, NULL, "%s may %s on %s (granted by %s)",
                         text ? text : "anonymous", run->action, run->repository, src);
        free(src);
        ok = 1;
    }
    json_decref(ans);
    return ok;
}

/*
 * --action manage: the roles the credential holds on the registry itself,
 * from the explain answer's "management" member: Reader reads its settings,
 * Contributor (or Owner) changes them.
 */
static void check_manage(struct berth_health_run *run, struct berth_health_result *res)
{
    const char *who = run->source_text ? run->source_text : "anonymous", *name;
    int token = run->refresh_token != NULL;
    json_t *ans, *m;
    char *fix;

    ans = explain_get(run, res, "registry:catalog:*", token ? BERTH_NULL_GUID : run->cred_user,
                      token ? run->refresh_token : run->cred_secret, who);
    if (!ans) return;
    m = json_object_get(ans, "management");
    name = json_string_value(json_object_get(json_object_get(ans, "identity"), "name"));
    if (json_is_true(json_object_get(m, "change"))) {
        berth_health_set(res, BERTH_HEALTH_OK, NULL, NULL, "%s may read and change registry '%s' (Contributor or Owner)",
                         who, run->registry ? run->registry : "?");
    } else {
        int reads = json_is_true(json_object_get(m, "read"));
        fix = berth_xasprintf("berth role assignment create --assignee %s --role Contributor --scope /registries/%s",
                              name && *name ? name : "NAME", run->registry ? run->registry : "NAME");
        berth_health_set(res, BERTH_HEALTH_ERROR, "PERMISSION_DENIED", fix,
                         "%s may not manage registry '%s': %s; changing it needs Contributor (or Owner) on it", who,
                         run->registry ? run->registry : "?",
                         reads ? "it may read its settings (Reader)" : "it holds no role on it (Reader reads, "
                                                                       "Contributor changes)");
        free(fix);
    }
    json_decref(ans);
}

static void check_access(struct berth_health_run *run, struct berth_health_result *res)
{
    size_t i;
    int any = 0;

    if (!strcmp(run->action, "manage")) {
        if (run->cred_failed)
            berth_health_set(res, BERTH_HEALTH_WARNING, "PERMISSION_NOT_CHECKED", NULL,
                             "the roles on the registry cannot be checked without a working credential");
        else
            check_manage(run, res);
        return;
    }

    if (!run->repository && !run->action_given) {
        berth_health_set(res, BERTH_HEALTH_OK, NULL, NULL, "no --repository: permissions not checked (--repository REPO "
                                                           "--action pull|push|delete checks them)");
        return;
    }
    if (!run->repository) {
        char *fix = berth_health_rerun(run, NULL, NULL, NULL, "--repository REPO");
        berth_health_set(res, BERTH_HEALTH_WARNING, "PERMISSION_NOT_CHECKED", fix,
                         "no --repository: whether %s may %s was not checked (roles and scope maps grant per "
                         "repository); pass the repository to check it", run->source_text ? run->source_text
                                                                                          : "the client",
                         run->action);
        free(fix);
        return;
    }
    if (run->cred_failed) {
        berth_health_set(res, BERTH_HEALTH_WARNING, "PERMISSION_NOT_CHECKED", NULL,
                         "the permission on %s cannot be checked without a working credential (see 'credentials')",
                         run->repository);
        return;
    }
    /* each client's own credential, when the clients are judged and no -u names another */
    if (!run->client->user && (run->clients & BERTH_HC_GO)) {
        for (i = 0; i < run->ncreds; i++) {
            struct berth_health_cred *c = &run->creds[i];
            char *who, *where, *text;
            if (!c->works) continue;
            who = berth_health_clients_text(c->clients);
            where = cred_text(c);
            text = berth_xasprintf("%s (%s)", where, who);
            run->cred_now = c;
            free(run->cred_user);
            run->cred_user = berth_xstrdup(c->user);
            any = 1;
            if (!explain_one(run, res, c->user, c->secret, text)) i = run->ncreds; /* stop at the first refusal */
            free(who);
            free(where);
            free(text);
        }
        run->cred_now = NULL;
        if (any) return;
    }
    if (run->cred_secret || run->refresh_token) {
        int token = run->refresh_token &&
                    (run->source == BERTH_HEALTH_SRC_SESSION || !strcmp(run->cred_user, BERTH_NULL_GUID));
        explain_one(run, res, token ? BERTH_NULL_GUID : run->cred_user, token ? run->refresh_token : run->cred_secret,
                    run->source_text);
    } else {
        explain_one(run, res, NULL, NULL, run->source_text);
    }
}

/* ---------------------------------------------------------------- the order */

const struct berth_health_check berth_health_checks[] = {
    {"clients", "client environment", check_clients},
    {"docker-daemon", "client environment", check_daemon},
    {"client-config", "client environment", check_config},
    {"credential-helpers", "client environment", check_helpers},
    {"name", "name", check_name},
    {"proxy", "connectivity", check_proxy},
    {"dns", "connectivity", check_dns},
    {"tcp", "connectivity", check_tcp},
    {"tls", "connectivity", check_tls},
    {"network-rules", "connectivity", check_network},
    {"registry", "name", check_registry},
    {"challenge", "connectivity", check_challenge},
    {"realm", "connectivity", check_realm},
    {"request-size", "connectivity", check_request_size},
    {"clock", "clock", check_clock},
    {"stored-credentials", "client environment", check_stored},
    {"credentials", "credentials", check_credentials_run},
    {"permission", "permission", check_access},
};
const size_t berth_health_nchecks = sizeof(berth_health_checks) / sizeof(berth_health_checks[0]);
