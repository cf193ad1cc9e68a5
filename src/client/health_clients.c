/*
 * health_clients.c - what each client will really do, so that check-health
 * judges the client and not berth: which files docker and the
 * containers/image clients (podman, skopeo, buildah) read their logins
 * from and in what order, what they send for a login server (credential
 * helpers run as the client runs them), the proxy Go's rules pick, the
 * extra CA folders they trust and the settings that make a registry
 * insecure for them.
 */
#include <arpa/inet.h>
#include <ctype.h>
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>
#include "alloc.h"
#include "base64.h"
#include "util.h"
#include "client.h"
#include "dockercfg.h"
#include "health.h"
#include "banned.h"

static const char *const client_names[BERTH_HC_COUNT] = {"docker", "podman", "skopeo", "buildah", "berth"};

const char *berth_health_client_name(enum berth_health_client c)
{
    return (unsigned)c < BERTH_HC_COUNT ? client_names[c] : "?";
}

enum berth_health_client berth_health_client_parse(const char *s)
{
    int i;
    for (i = 0; i < BERTH_HC_COUNT; i++)
        if (s && !strcmp(s, client_names[i])) return (enum berth_health_client)i;
    return BERTH_HC_COUNT;
}

char *berth_health_clients_text(unsigned bits)
{
    struct berth_buf b = BERTH_BUF_INIT(0);
    int i;
    for (i = 0; i < BERTH_HC_COUNT; i++)
        if (bits & BERTH_HC_BIT(i)) berth_buf_printf(&b, "%s%s", b.len ? ", " : "", client_names[i]);
    if (!b.len) berth_buf_puts(&b, "no client");
    return berth_buf_detach(&b, NULL);
}

static const char *env_set(const char *name)
{
    const char *v = getenv(name);
    return v && *v ? v : NULL;
}

static char *home_path(const char *rel)
{
    const char *home = env_set("HOME");
    return berth_xasprintf("%s/%s", home ? home : "", rel);
}

static char *docker_config_path(void)
{
    const char *d = env_set("DOCKER_CONFIG");
    return d ? berth_xasprintf("%s/config.json", d) : home_path(".docker/config.json");
}

size_t berth_health_authfiles(enum berth_health_client c, char **out, size_t max)
{
    const char *v;
    size_t n = 0;

    if (max < 4 || c == BERTH_HC_BERTH) return 0;
    if (c == BERTH_HC_DOCKER) {
        out[n++] = docker_config_path();
        return n;
    }
    /* containers/image: the primary file, then the read-only ones */
    if ((v = env_set("REGISTRY_AUTH_FILE")) != NULL) out[n++] = berth_xstrdup(v);
    else if ((v = env_set("XDG_RUNTIME_DIR")) != NULL) out[n++] = berth_xasprintf("%s/containers/auth.json", v);
    else out[n++] = berth_xasprintf("/run/containers/%u/auth.json", (unsigned)getuid());
    if ((v = env_set("XDG_CONFIG_HOME")) != NULL) out[n++] = berth_xasprintf("%s/containers/auth.json", v);
    else out[n++] = home_path(".config/containers/auth.json");
    out[n++] = docker_config_path();
    out[n++] = home_path(".dockercfg");
    return n;
}

void berth_health_cred_release(struct berth_health_cred *c)
{
    if (!c) return;
    if (c->secret) memset(c->secret, 0, strlen(c->secret));
    free(c->user);
    free(c->secret);
    free(c->file);
    free(c->helper);
    free(c->looked);
    memset(c, 0, sizeof(*c));
}

/* "https://host:port/v1/" -> "host:port", as both docker and containers/image normalise auths keys. */
static int key_names(const char *key, const char *hostport)
{
    const char *k = key;
    size_t n;
    if (!strncmp(k, "https://", 8)) k += 8;
    else if (!strncmp(k, "http://", 7)) k += 7;
    n = strcspn(k, "/");
    return n == strlen(hostport) && !strncasecmp(k, hostport, n);
}

/* Runs docker-credential-<helper> get for server: 1 and *user, *secret when it holds a credential. */
static int helper_get(struct berth_health_run *run, const char *helper, const char *server, char **user,
                      char **secret)
{
    struct berth_buf out = BERTH_BUF_INIT(0);
    const char *argv[3];
    char *prog = berth_xasprintf(BERTH_HELPER_PREFIX "%s", helper);
    json_t *ans = NULL;
    const char *u, *s;
    int found = 0;

    argv[0] = prog;
    argv[1] = "get";
    argv[2] = NULL;
    if (berth_health_run_prog(argv, server, 0, &out) == 0 && (ans = json_loads(berth_buf_str(&out), 0, NULL)) &&
        (s = json_string_value(json_object_get(ans, "Secret"))) != NULL && *s) {
        u = json_string_value(json_object_get(ans, "Username"));
        *user = berth_xstrdup(!u || !*u || !strcmp(u, "<token>") ? BERTH_NULL_GUID : u);
        *secret = berth_xstrdup(s);
        berth_health_secret(run, s);
        found = 1;
    }
    if (out.p) memset(out.p, 0, out.len);
    berth_buf_release(&out);
    json_decref(ans);
    free(prog);
    return found;
}

/* An auths entry {"auth": base64(user:pass)[, "identitytoken": t]}: 1 and *user, *secret. */
static int entry_cred(const json_t *e, char **user, char **secret)
{
    struct berth_buf dec = BERTH_BUF_INIT(4096);
    struct berth_err err = BERTH_ERR_INIT;
    const char *it = json_string_value(json_object_get(e, "identitytoken"));
    const char *a = json_string_value(json_object_get(e, "auth"));
    char *colon;
    int found = 0;

    if (it && *it) {
        *user = berth_xstrdup(BERTH_NULL_GUID);
        *secret = berth_xstrdup(it);
        found = 1;
    } else if (a && berth_b64_decode(a, strlen(a), &dec, &err) == BERTH_OK &&
               (colon = strchr(berth_buf_str(&dec), ':')) != NULL && colon[1]) {
        *user = berth_xstrndup(dec.p, (size_t)(colon - dec.p));
        *secret = berth_xstrdup(colon + 1);
        found = 1;
    }
    if (dec.p) memset(dec.p, 0, dec.len);
    berth_buf_release(&dec);
    return found;
}

/* The auths entry for hostport (or, for containers/image, a namespace of repository under it). Borrowed. */
static const json_t *find_entry(const json_t *auths, const char *hostport, const char *repository)
{
    const char *key;
    const json_t *v;
    char *ns;
    size_t n;

    if (repository) { /* containers/image: the most specific namespace first */
        ns = berth_xasprintf("%s/%s", hostport, repository);
        for (n = strlen(ns); n > strlen(hostport); n--) {
            if (ns[n] != '\0' && ns[n] != '/') continue;
            ns[n] = '\0';
            if ((v = json_object_get(auths, ns)) != NULL) {
                free(ns);
                return v;
            }
        }
        free(ns);
    }
    if ((v = json_object_get(auths, hostport)) != NULL) return v;
    json_object_foreach((json_t *)auths, key, v) {
        if (key_names(key, hostport)) return v;
    }
    return NULL;
}

/* ~/.dockercfg: the legacy form, a map of servers without "auths". */
static const json_t *auths_of(const struct berth_dockercfg *cfg, int legacy)
{
    return legacy ? cfg->root : json_object_get(cfg->root, "auths");
}

void berth_health_resolve_cred(struct berth_health_run *run, enum berth_health_client c, struct berth_health_cred *out)
{
    char *files[4];
    struct berth_buf looked = BERTH_BUF_INIT(0);
    size_t n = berth_health_authfiles(c, files, 4), i;
    const char *ls = run->login_server;

    memset(out, 0, sizeof(*out));
    out->clients = BERTH_HC_BIT(c);
    for (i = 0; i < n && out->src == BERTH_HEALTH_SRC_NONE; i++) {
        struct berth_dockercfg *cfg = NULL;
        struct berth_err err = BERTH_ERR_INIT;
        int legacy = c != BERTH_HC_DOCKER && i == 3;
        const char *helper = NULL;
        const json_t *e;

        berth_buf_printf(&looked, "%s%s", looked.len ? ", " : "", files[i]);
        if (access(files[i], F_OK) != 0 || berth_dockercfg_load(files[i], &cfg, &err) != BERTH_OK) continue;
        if (!legacy) {
            helper = json_string_value(json_object_get(json_object_get(cfg->root, "credHelpers"), ls));
            /* docker alone falls back to credsStore, which then answers for every server */
            if (!helper && c == BERTH_HC_DOCKER) helper = json_string_value(json_object_get(cfg->root, "credsStore"));
        }
        if (helper && *helper) {
            if (helper_get(run, helper, ls, &out->user, &out->secret)) {
                out->src = BERTH_HEALTH_SRC_HELPER;
                out->helper = berth_xasprintf(BERTH_HELPER_PREFIX "%s", helper);
                out->file = berth_xstrdup(files[i]);
            } else if (c == BERTH_HC_DOCKER) {
                berth_dockercfg_free(cfg);
                break; /* docker asks the helper only */
            }
        } else if ((e = find_entry(auths_of(cfg, legacy), ls, c == BERTH_HC_DOCKER ? NULL : run->repository)) &&
                   entry_cred(e, &out->user, &out->secret)) {
            out->src = BERTH_HEALTH_SRC_FILE;
            out->file = berth_xstrdup(files[i]);
        }
        berth_dockercfg_free(cfg);
    }
    if (out->secret) berth_health_secret(run, out->secret);
    if (out->src == BERTH_HEALTH_SRC_NONE) out->looked = berth_buf_detach(&looked, NULL);
    berth_buf_release(&looked);
    for (i = 0; i < n; i++) free(files[i]);
}

/* 1 when host is "localhost" or a loopback address: Go never proxies those. */
static int go_loopback(const char *host)
{
    unsigned char a[16];
    if (!strcasecmp(host, "localhost")) return 1;
    if (inet_pton(AF_INET, host, a) == 1) return a[0] == 127;
    if (inet_pton(AF_INET6, host, a) == 1) {
        static const unsigned char one[16] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1};
        return !memcmp(a, one, 16);
    }
    return 0;
}

const char *berth_health_go_proxy(const char *scheme, const char *host, const char **var)
{
    const char *names[2], *np, *v;
    int i;

    if (go_loopback(host)) return NULL;
    names[0] = strcmp(scheme, "https") ? "HTTP_PROXY" : "HTTPS_PROXY";
    names[1] = strcmp(scheme, "https") ? "http_proxy" : "https_proxy";
    np = env_set("NO_PROXY");
    if (!np) np = env_set("no_proxy");
    if (np && berth_health_no_proxy_match(np, host)) return NULL;
    for (i = 0; i < 2; i++) {
        v = env_set(names[i]);
        if (v) {
            *var = names[i];
            return v;
        }
    }
    return NULL;
}

static int is_dir(const char *p)
{
    struct stat st;
    return stat(p, &st) == 0 && S_ISDIR(st.st_mode);
}

char *berth_health_certs_dir(enum berth_health_client c, const char *hostport)
{
    char *cand[3];
    size_t n = 0, i;
    char *found = NULL;

    if (c == BERTH_HC_BERTH) return NULL;
    if (c != BERTH_HC_DOCKER) {
        cand[n++] = home_path(".config/containers/certs.d");
        cand[n++] = berth_xstrdup("/etc/containers/certs.d");
    }
    cand[n++] = berth_xstrdup("/etc/docker/certs.d");
    for (i = 0; i < n; i++) {
        char *d = berth_xasprintf("%s/%s", cand[i], hostport);
        if (!found && is_dir(d)) found = d;
        else free(d);
        free(cand[i]);
    }
    return found;
}

/* Strips spaces and one pair of quotes; s is changed in place. */
static char *toml_value(char *s)
{
    char *e;
    while (isspace((unsigned char)*s)) s++;
    e = s + strlen(s);
    while (e > s && isspace((unsigned char)e[-1])) *--e = '\0';
    if (*s == '"' && e > s + 1 && e[-1] == '"') {
        e[-1] = '\0';
        s++;
    }
    return s;
}

/*
 * registries.conf (v2): a [[registry]] table whose location (or prefix) is
 * hostport with insecure = true. Enough of TOML for the keys that matter.
 */
static int conf_insecure(const char *path, const char *hostport)
{
    FILE *f = fopen(path, "r");
    char line[1024], loc[512] = "";
    int in_reg = 0, insecure = 0, hit = 0;

    if (!f) return 0;
    while (!hit && fgets(line, sizeof(line), f)) {
        char *p = line, *eq;
        while (isspace((unsigned char)*p)) p++;
        if (*p == '#' || !*p) continue;
        if (*p == '[') {
            if (in_reg && insecure && !strcasecmp(loc, hostport)) hit = 1;
            in_reg = !strncmp(p, "[[registry]]", 12);
            insecure = 0;
            loc[0] = '\0';
            continue;
        }
        if (!in_reg || !(eq = strchr(p, '='))) continue;
        *eq = '\0';
        p = toml_value(p);
        if (!strcmp(p, "location") || !strcmp(p, "prefix")) snprintf(loc, sizeof(loc), "%s", toml_value(eq + 1));
        else if (!strcmp(p, "insecure")) insecure = !strcmp(toml_value(eq + 1), "true");
    }
    if (in_reg && insecure && !strcasecmp(loc, hostport)) hit = 1;
    fclose(f);
    return hit;
}

/* The files of registries.conf that containers/image reads: the user's file or the system's, then the drop-ins. */
static int containers_insecure(const char *hostport, char **where)
{
    const char *dirs[2] = {"/etc/containers/registries.conf.d", NULL};
    char *user = home_path(".config/containers/registries.conf"), *userd = home_path(".config/containers/registries.conf.d");
    const char *main_conf = access(user, F_OK) == 0 ? user : "/etc/containers/registries.conf";
    int hit = 0;
    size_t i;

    dirs[1] = userd;
    if (conf_insecure(main_conf, hostport)) {
        *where = berth_xstrdup(main_conf);
        hit = 1;
    }
    for (i = 0; i < 2 && !hit; i++) {
        DIR *d = opendir(dirs[i]);
        struct dirent *de;
        if (!d) continue;
        while (!hit && (de = readdir(d)) != NULL) {
            size_t n = strlen(de->d_name);
            char *f;
            if (n < 6 || strcmp(de->d_name + n - 5, ".conf") != 0) continue;
            f = berth_xasprintf("%s/%s", dirs[i], de->d_name);
            if (conf_insecure(f, hostport)) {
                *where = f;
                hit = 1;
            } else {
                free(f);
            }
        }
        closedir(d);
    }
    free(user);
    free(userd);
    return hit;
}

/* docker: daemon.json "insecure-registries" (host:port or a CIDR), and 127.0.0.0/8, which the daemon always adds. */
static int docker_insecure(const char *hostport, char **where)
{
    json_t *root = json_load_file("/etc/docker/daemon.json", 0, NULL), *v;
    char host[300];
    size_t i;
    int hit = 0;
    const char *colon = strrchr(hostport, ':');
    unsigned char a[4];

    snprintf(host, sizeof(host), "%.*s", colon ? (int)(colon - hostport) : (int)strlen(hostport), hostport);
    json_array_foreach(json_object_get(root, "insecure-registries"), i, v) {
        const char *s = json_string_value(v);
        if (s && (!strcasecmp(s, hostport) || (strchr(s, '/') && berth_health_no_proxy_match(s, host)))) {
            *where = berth_xasprintf("/etc/docker/daemon.json (\"insecure-registries\": \"%s\")", s);
            hit = 1;
            break;
        }
    }
    json_decref(root);
    if (!hit && inet_pton(AF_INET, host, a) == 1 && a[0] == 127) {
        *where = berth_xstrdup("the docker daemon, which treats 127.0.0.0/8 as insecure");
        hit = 1;
    }
    return hit;
}

int berth_health_insecure(enum berth_health_client c, const char *hostport, char **where)
{
    *where = NULL;
    if (c == BERTH_HC_BERTH) return 0;
    if (c == BERTH_HC_DOCKER) return docker_insecure(hostport, where);
    return containers_insecure(hostport, where);
}
