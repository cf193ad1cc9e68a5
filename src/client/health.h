/*
 * health.h - the check-health library that `berth check-health`
 * (src/cli/cmd_check_health.c) runs: the run's state, the table of checks
 * (health_checks.c), setting results and re-run commands (health_run.c),
 * the probes (DNS, TCP, HTTP with every header kept: health_probe.c) and the
 * pure helpers (reason -> code -> fix table, challenge parsing, version
 * comparison, proxy matching, redaction: health_util.c) that the unit tests
 * reach.
 */
#ifndef BERTH_CLIENT_HEALTH_H
#define BERTH_CLIENT_HEALTH_H

#include <stddef.h>
#include <stdint.h>
#include <jansson.h>
#include "buf.h"
#include "err.h"

struct berth_client;
struct berth_dockercfg;

enum berth_health_status { BERTH_HEALTH_OK, BERTH_HEALTH_WARNING, BERTH_HEALTH_ERROR };

/* Where the credential that is checked came from. */
enum berth_health_source {
    BERTH_HEALTH_SRC_NONE,    /* anonymous */
    BERTH_HEALTH_SRC_FLAGS,   /* -u/-p or --password-stdin */
    BERTH_HEALTH_SRC_SESSION, /* the berth session (sessions.json) */
    BERTH_HEALTH_SRC_HELPER,  /* a docker credential helper */
    BERTH_HEALTH_SRC_FILE,    /* docker's config.json or podman's auth.json */
};

/* The clients check-health judges, each as it behaves. */
enum berth_health_client {
    BERTH_HC_DOCKER,  /* docker: config.json, its daemon, Go's proxy rules */
    BERTH_HC_PODMAN,  /* podman, skopeo and buildah read logins, certificates and */
    BERTH_HC_SKOPEO,  /* registries.conf the same way (containers/image) */
    BERTH_HC_BUILDAH,
    BERTH_HC_BERTH,   /* berth's own commands: the berth session, libcurl */
    BERTH_HC_COUNT
};
#define BERTH_HC_BIT(c) (1u << (c))
#define BERTH_HC_CONTAINERS (BERTH_HC_BIT(BERTH_HC_PODMAN) | BERTH_HC_BIT(BERTH_HC_SKOPEO) | BERTH_HC_BIT(BERTH_HC_BUILDAH))
#define BERTH_HC_GO (BERTH_HC_BIT(BERTH_HC_DOCKER) | BERTH_HC_CONTAINERS)

/* What some clients will send for the login server. Strings owned. */
struct berth_health_cred {
    unsigned clients;             /* BERTH_HC_BIT of each client that sends it */
    enum berth_health_source src; /* FILE or HELPER; NONE when nothing is stored */
    char *user, *secret;          /* user is the null GUID for an identity token */
    char *file;                   /* the file that holds it or names its helper */
    char *helper;                 /* docker-credential-<x> when a helper gave it */
    char *looked;                 /* with NONE: the files looked at, in order */
    int works;                    /* the token service accepted it */
};

/* One finished check. Strings owned. */
struct berth_health_result {
    const char *name;    /* the check's name (static) */
    const char *section; /* which part of the login it belongs to (static) */
    enum berth_health_status status;
    char *code;       /* NULL when OK */
    char *message;
    char *fix;        /* NULL when there is nothing to run */
};

/* The answer to one HTTP request, all headers kept. */
struct berth_health_http {
    long status;          /* 0 when the transport failed */
    int cc;               /* CURLcode */
    char errbuf[256];
    struct berth_buf body;
    char *www_auth, *date, *retry_after;
    char *reason, *message; /* detail.reason and message of an OCI error body */
    double connect_ms, total_ms;
    int64_t sent_ms, got_ms; /* this machine's clock (ms since 1970) as the request left and when it ended */
    char primary_ip[64];
    /* with BERTH_HEALTH_REQ_CERTINFO: the server certificate (leaf) */
    char *cert_subject, *cert_issuer, *cert_san, *cert_expire, *cert_start;
};

#define BERTH_HEALTH_REQ_INSECURE 1u /* do not verify the certificate */
#define BERTH_HEALTH_REQ_CERTINFO 2u /* fill cert_* */
#define BERTH_HEALTH_REQ_NOPROXY 4u  /* ignore proxy settings */
#define BERTH_HEALTH_REQ_EXPECT 8u   /* send the body only after 100 Continue */

/* One HTTP request; every string borrowed. */
struct berth_health_req {
    const char *method;
    const char *path;   /* "/v2/", or an absolute URL */
    const char *host;   /* the login server to name in the URL (routed to the server's address), or NULL */
    const char *auth;   /* the whole Authorization value, or NULL */
    const char *form;   /* a form body (POST), or NULL */
    unsigned flags;
};

/* The run: inputs from the options, what earlier checks found, the outputs. */
struct berth_health_run {
    struct berth_client *client; /* borrowed: the connection options, the session, the password */
    /* options (borrowed from argv) */
    const char *name;       /* -n: a registry's resource name */
    const char *target;     /* the positional LOGINSERVER */
    const char *repository; /* --repository */
    const char *action;     /* --action pull|push|delete */
    int action_given;       /* --action was on the command line */
    long long leeway;       /* --leeway seconds (60) */
    long long timeout;      /* --timeout seconds for connect (10) */
    int argc;               /* the command line, for fixes that re-run it */
    char **argv;
    /* found along the way (owned) */
    char *server_url;   /* scheme://host:port of the server */
    char scheme[16];
    char *server_host;  /* host of server_url (no brackets) */
    char *server_hp;    /* host:port of server_url */
    int server_port;
    char *registry;     /* the resource name, when known */
    char *login_server; /* host:port the registry answers as */
    struct berth_health_http v2; /* GET /v2/ on the login server */
    int v2_done;
    char *realm, *service;
    char *stored_where;    /* "docker config.json" / "credential helper 'x'", when a stored credential exists */
    int stored_by_berth;   /* 1 when berth login wrote it (logins.json) */
    /* the credential used for tokens and explain */
    enum berth_health_source source;
    char *cred_user;    /* user name, app id, or the null GUID with a refresh token */
    char *cred_secret;  /* password or registry refresh token */
    char *source_text;  /* "-u/-p (bob)", "berth session of http://..", ... */
    char *refresh_token, *access_token;
    /* outputs */
    struct berth_health_result *results;
    size_t nresults;
    struct berth_buf log;      /* the server answers, for --report (redacted when written) */
    char *secrets[32];         /* owned copies of every secret seen, redacted from --report */
    size_t nsecrets;
    /* the environment */
    int has_docker, has_podman, has_skopeo;
    const char *client_opt;    /* --client, or NULL */
    unsigned clients;          /* BERTH_HC_BIT of each client judged: the one named, else every one installed */
    struct berth_health_cred creds[BERTH_HC_COUNT]; /* distinct credentials of the judged clients */
    size_t ncreds;
    int cred_chosen;           /* 1 + the index in creds of the credential cred_* took, or 0 */
    const char *proxy;         /* what the probes use: NULL libcurl's rules, "" none, else this proxy */
    char *ca_bundle;           /* the CAs the judged clients trust, as one file (removed at release), or NULL */
    int tls_insecure;          /* the judged clients do not verify the login server's certificate */
    json_t *docker_info;       /* the docker daemon's own settings (docker info), when it answers; owned */
    const struct berth_health_cred *cred_now; /* the client credential a refusal is about, or NULL */
    struct berth_dockercfg *docker_cfg, *podman_cfg; /* NULL when missing or invalid */
    int have_session;          /* sessions.json has a session for server_url */
    int cred_failed;           /* the credentials check failed */
};

/* A row of the check table: fills *res; returns nothing, the status says it all. */
struct berth_health_check {
    const char *name;
    const char *section;
    void (*fn)(struct berth_health_run *run, struct berth_health_result *res);
};
extern const struct berth_health_check berth_health_checks[];
extern const size_t berth_health_nchecks;

/* Sets res's status, code (may be NULL), message and fix (may be NULL) from formats; the message takes args. */
void berth_health_set(struct berth_health_result *res, enum berth_health_status st, const char *code, const char *fix,
                      const char *fmt, ...) __attribute__((format(printf, 5, 6)));
/* A command that re-runs this check-health with the registry given as target (-n NAME or LOGINSERVER) and,
 * when server is set, --server server; the password of -p is shown as <password>. malloc'd. */
char *berth_health_rerun(const struct berth_health_run *run, const char *name, const char *target, const char *server,
                         const char *extra);
/* Adds a copy of value to the run's redaction list. */
void berth_health_secret(struct berth_health_run *run, const char *value);
/* Frees what the run owns (results, secrets, answers, loaded files); the borrowed client stays. */
void berth_health_run_release(struct berth_health_run *run);

/* ---------------------------------------------------------------- clients (health_clients.c) */

/* "docker", "podman", ... */
const char *berth_health_client_name(enum berth_health_client c);
/* The client named s, or BERTH_HC_COUNT. */
enum berth_health_client berth_health_client_parse(const char *s);
/* "podman, skopeo": the names of the clients in bits; malloc'd. */
char *berth_health_clients_text(unsigned bits);
/* The files client c reads its logins from, in its order, into out (each malloc'd); returns how many. */
size_t berth_health_authfiles(enum berth_health_client c, char **out, size_t max);
/* What client c sends for the run's login server: fills *out (zeroed first). */
void berth_health_resolve_cred(struct berth_health_run *run, enum berth_health_client c, struct berth_health_cred *out);
void berth_health_cred_release(struct berth_health_cred *c);
/* The proxy a Go client uses for scheme://host, or NULL; *var names the variable. Borrowed from the environment. */
const char *berth_health_go_proxy(const char *scheme, const char *host, const char **var);
/* The folder of extra CA certificates client c reads for hostport (the first that exists), or NULL; malloc'd. */
char *berth_health_certs_dir(enum berth_health_client c, const char *hostport);
/* 1 when client c's configuration marks hostport insecure; *where (malloc'd) names the setting. */
int berth_health_insecure(enum berth_health_client c, const char *hostport, char **where);

/* ---------------------------------------------------------------- probes (health_probe.c) */

/* Sends rq to the run's server; always returns with h filled (status 0 on transport failure). */
void berth_health_http_do(struct berth_health_run *run, const struct berth_health_req *rq, struct berth_health_http *h);
void berth_health_http_release(struct berth_health_http *h);
/* The addresses host resolves to for family (AF_INET/AF_INET6), comma separated in out; the getaddrinfo
 * error text in why otherwise. Returns how many. */
int berth_health_resolve(const char *host, int family, struct berth_buf *out, char *why, size_t whylen);
/* Connects to host:port with a timeout: 0 ok, else the errno (ETIMEDOUT on the timeout); *ms the time taken. */
int berth_health_tcp_connect(const char *host, int port, long long timeout_s, double *ms, char *addr, size_t addrlen);
/* Runs PROGRAM ARGS... with input on stdin; *out gets stdout (and stderr when merge); returns the exit
 * status, -1 when it could not run. */
int berth_health_run_prog(const char *const *argv, const char *input, int merge, struct berth_buf *out);

/* ---------------------------------------------------------------- pure helpers (health_util.c) */

/* How a refused credential reads: the check-health code and the fix for one server reason. */
struct berth_health_reason_row {
    const char *reason;  /* detail.reason, "" for "any other", NULL ends the table */
    unsigned sources;    /* bit (1u << enum berth_health_source) the row applies to; 0 = any */
    const char *code;
    const char *cause;   /* plain words */
    const char *fix;     /* a template: {name} {ls} {server} {user} {retry} {rerun}; NULL = none */
};
extern const struct berth_health_reason_row berth_health_reasons[];
/* The row for reason and source (the first match, the catch-all "" last). Never NULL. */
const struct berth_health_reason_row *berth_health_reason_lookup(const char *reason, enum berth_health_source src);
/* Expands a fix template: {x} from vars (pairs of name, value; a NULL value leaves "{x}"). malloc'd. */
char *berth_health_expand(const char *tmpl, const char *const *vars, size_t nvars);

/* Parses a WWW-Authenticate value 'Bearer realm="..",service="..",scope=".."': 0 and *realm, *service
 * (malloc'd) when it is a Bearer challenge with both; else -1 and why. */
int berth_health_parse_challenge(const char *v, char **realm, char **service, char *why, size_t whylen);
/* How a token realm stands to the address the clients use (scheme "http" or "https", login server host[:port]). */
enum berth_health_realm_fit {
    BERTH_HEALTH_REALM_SAME,       /* the same scheme, host and port (default ports filled in) */
    BERTH_HEALTH_REALM_OTHER_HOST, /* another host or port, with a scheme as safe as the clients' */
    BERTH_HEALTH_REALM_DOWNGRADE,  /* http:// where the clients use https: tokens and passwords in clear */
};
enum berth_health_realm_fit berth_health_realm_fit(const char *realm, const char *scheme, const char *login_server);
/* Compares dotted versions ("18.03" vs "28.2.2"): <0, 0, >0. Non-digits end a part. */
int berth_health_version_cmp(const char *a, const char *b);
/* The first "x.y[.z]" in a --version output ("Docker version 28.2.2, build e6534b4" -> "28.2.2"); malloc'd or NULL. */
char *berth_health_version_of(const char *text);
/* 1 when no_proxy (a NO_PROXY value) names host: "*", the host, a domain suffix, an IP or CIDR. */
int berth_health_no_proxy_match(const char *no_proxy, const char *host);
/* Copies in to out with secrets (each value in list), JWTs, Authorization values and the values of
 * secret-named JSON members ("password", "identitytoken", ...) replaced by [REDACTED]. */
void berth_health_redact(const char *in, const char *const *list, size_t n, struct berth_buf *out);
/* What a Date header (date_s, whole seconds) proves about the clocks, given this machine's clock as the
 * request left (sent_ms) and as the answer came (got_ms): the skew (server minus this machine, ms) lies in
 * [*lo, *hi]. The server wrote a second that had begun, up to BERTH_HEALTH_DATE_LAG_MS late (a coarse
 * clock), somewhere in between. */
#define BERTH_HEALTH_DATE_LAG_MS 250
void berth_health_clock_skew(int64_t date_s, int64_t sent_ms, int64_t got_ms, int64_t *lo, int64_t *hi);
/* The name of enum berth_health_source ("flags", "session", ...). */
const char *berth_health_source_name(enum berth_health_source s);

#endif
