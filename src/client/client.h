/*
 * client.h - the client library under the CLI: one libcurl request builder
 * (berth_client_xfer), the berth client (server URL, CA file, credentials of
 * one run), the management API call, sessions (sessions.json), the token
 * flows (directory, registry refresh, registry access) and the registry
 * name checks. The credential files of docker and podman are in
 * dockercfg.h, what `berth login` wrote in loginrec.h, the credential
 * helper's payloads in credhelper.h and the check-health probes in health.h.
 *
 * Messages name berth's command-line options (--server, --ca-file, -u/-p)
 * and commands ('berth auth login') in their fixes: this library is the
 * client of the `berth` command and speaks to its user.
 */
#ifndef BERTH_CLIENT_H
#define BERTH_CLIENT_H

#include <signal.h>
#include <stddef.h>
#include <stdint.h>
#include <jansson.h>
#include "buf.h"
#include "err.h"

/*
 * The client of one run. The caller sets the connection fields (borrowed,
 * may be NULL); the rest is filled lazily and freed by berth_client_release.
 * Owned by one thread.
 */
struct berth_client {
    const char *server;      /* the server URL, else the current session's */
    const char *ca_file;     /* CA certificates to trust for https, else the session's */
    const char *user;        /* Basic credentials instead of a session */
    const char *password;
    int password_stdin;      /* read the password from stdin (one line) when needed */
    /* filled lazily (owned) */
    char *server_url;        /* the resolved server URL, without a trailing '/' */
    char *session_ca;        /* the session's caFile */
    char *password_read;     /* the password read from stdin */
    char *dir_token;         /* a directory access token fetched in this run */
    char *tenant;            /* the tenant id */
};
/* Frees (after wiping) what the client filled; the borrowed fields are left as they are. */
void berth_client_release(struct berth_client *cl);

/* ---------------------------------------------------------------- one libcurl transfer (xfer.c) */

/*
 * libcurl is opened with dlopen, not linked (lazylib.h): berth_client_xfer
 * opens it itself, and main() opens it before any client command runs, which
 * the other users of it count on (berth_client_form_add and
 * berth_client_query_escape, check-health's clock).
 */

struct curl_slist;

#define BERTH_XFER_INSECURE 1u /* do not verify the server's certificate */
#define BERTH_XFER_CERTINFO 2u /* hand the server's certificate chain to on_cert */
#define BERTH_XFER_NOPROXY 4u  /* ignore the proxy settings of the environment */
#define BERTH_XFER_TRUNCATE 8u /* a body over body_max keeps its start; without it the transfer fails */
#define BERTH_XFER_EXPECT 16u  /* send the body only after 100 Continue (Expect: 100-continue) */

/* One HTTP request; every pointer borrowed. */
struct berth_xfer_req {
    const char *method;     /* "HEAD" asks for no body; "GET"; anything else is sent as it is */
    const char *url;
    const char *connect_to; /* "host:port:host:port": connect elsewhere than the URL names, or NULL */
    const char *user_agent;
    const char *auth;         /* the whole Authorization value, or NULL */
    const char *content_type; /* NULL: none */
    const char *accept;       /* NULL: none */
    const char *body;         /* NULL for none */
    size_t body_len;
    const char *ca_file;      /* NULL: the system store */
    const char *proxy;        /* NULL: libcurl's rules over the environment; "": none; else this proxy */
    unsigned flags;           /* BERTH_XFER_* */
    long connect_timeout_s;
    long timeout_s;           /* the whole transfer; 0 for no limit */
    size_t body_max;          /* the cap of the kept body (without on_body) */
    /*
     * Optional hooks, all given arg. on_body takes the body instead of
     * resp->body: 0 goes on, > 0 stops the transfer without an error
     * (resp->stopped), < 0 fails it. on_header sees every header line,
     * status lines included (resp->status is already that status's code).
     * on_cert gets each certificate's fields with BERTH_XFER_CERTINFO, leaf
     * first, after the transfer.
     */
    int (*on_body)(const char *p, size_t len, void *arg);
    void (*on_header)(const char *line, size_t len, void *arg);
    void (*on_cert)(int index, const struct curl_slist *fields, void *arg);
    void *arg;
    volatile sig_atomic_t *cancel; /* becoming nonzero stops the transfer without an error */
};

/* What came back. */
struct berth_xfer_resp {
    long status;          /* the HTTP status; 0 when the transport failed */
    int cc;               /* the CURLcode; CURLE_OK after a stop */
    long os_errno;        /* the socket's errno when the connection failed */
    char errbuf[256];     /* libcurl's words for a failure (its error text when it left none) */
    struct berth_buf body;
    int stopped;          /* on_body or cancel ended the transfer */
    double connect_ms, total_ms;
    char primary_ip[64];  /* the address connected to */
};
void berth_xfer_resp_release(struct berth_xfer_resp *rs);

/*
 * Performs rq and fills rs (initialised here; release it whatever the
 * result). BERTH_OK when an answer came (any status), BERTH_ETOOBIG when the
 * body went over body_max, BERTH_EUNAVAILABLE when the transport failed
 * (rs->cc, os_errno and errbuf say how; err gets "url: errbuf").
 */
enum berth_rc berth_client_xfer(const struct berth_xfer_req *rq, struct berth_xfer_resp *rs, struct berth_err *err);
/* The value of header name in line (case-insensitive), trimmed, malloc'd; NULL when line is another header. */
char *berth_client_header_value(const char *line, size_t len, const char *name);

/* ---------------------------------------------------------------- HTTP client */

struct berth_client_req {
    const char *method;       /* "GET", "HEAD", ... */
    const char *path;         /* "/api/v1/...", or an absolute URL */
    const char *login_server; /* send to <scheme>://<login_server><path> through the server (CONNECT_TO) */
    const char *auth;         /* the whole Authorization value ("Bearer x", "Basic y"), or NULL */
    const char *content_type;
    const char *body;         /* NULL for none */
    size_t body_len;
    const char *accept;
    /*
     * Streaming (optional): with on_line set, a successful answer's body is
     * not kept but handed over one line at a time (without its newline;
     * empty lines skipped) as it arrives, with no total time limit; on_line
     * returning nonzero, or *cancel becoming nonzero, ends the transfer
     * without an error.
     */
    int (*on_line)(const char *line, size_t len, void *arg);
    void *line_arg;
    volatile sig_atomic_t *cancel;
};

struct berth_client_resp {
    long status;
    struct berth_buf body;
    char *next;      /* the Link rel="next" target, if any */
    char *digest;    /* Docker-Content-Digest, if any */
    char *ctype;     /* Content-Type, if any */
};
void berth_client_resp_release(struct berth_client_resp *r);

/*
 * Sends one request to the server (cl->server or the session's) and fills rs.
 * Transport failures and HTTP status >= 400 are errors whose message names
 * the cause and, where there is one, the fix (the OCI error's message, status,
 * code and detail.reason for HTTP errors). Timeouts: connect 10 s, total 60 s.
 */
enum berth_rc berth_client_do(struct berth_client *cl, const struct berth_client_req *rq,
                              struct berth_client_resp *rs, struct berth_err *err);
/* The server URL this run talks to (--server, else the current session); borrowed from cl. */
enum berth_rc berth_client_server_url(struct berth_client *cl, const char **url, struct berth_err *err);
/* Splits "scheme://host[:port]/..." into "host:port" (port by scheme when absent) and the scheme. */
void berth_client_url_hostport(const char *url, char *hp, size_t hplen, char *scheme, size_t slen);
/* Appends k=v&... with both URL-encoded (a form body or a query). */
void berth_client_form_add(struct berth_buf *b, const char *k, const char *v);
/* POSTs a form and parses a JSON answer into *out (caller frees with json_decref). auth may be NULL. */
enum berth_rc berth_client_post_form(struct berth_client *cl, const char *path, const char *login_server,
                                     const char *auth, const char *form, json_t **out, struct berth_err *err);

/*
 * Calls the management API: method on /api/v1<path> with body (borrowed, may
 * be NULL) as JSON; *out gets the parsed answer (NULL for 204; caller frees;
 * out may be NULL). Authenticates with -u/-p (Basic) when given, else with a
 * directory token of the session (berth_client_directory_token).
 */
enum berth_rc berth_client_api(struct berth_client *cl, const char *method, const char *path, const json_t *body,
                               json_t **out, struct berth_err *err);
/* Reads one line from stdin without its line end (malloc'd); an empty one is BERTH_EINVAL. */
enum berth_rc berth_client_read_stdin_line(char **out, struct berth_err *err);
/* The password of -p, --password-stdin (one line) or NULL when neither was given; borrowed from cl. */
enum berth_rc berth_client_password(struct berth_client *cl, const char **pw, struct berth_err *err);

/* ---------------------------------------------------------------- sessions */

/* One stored login. Strings are owned; NULL when absent. */
struct berth_client_session {
    char *server;        /* the server URL: the key in "servers" */
    char *tenant;
    char *kind;          /* "user" or "sp" */
    char *name;          /* user name or app id */
    char *refresh_token; /* users: the directory refresh token */
    char *secret;        /* service principals: the client secret (no refresh token for client_credentials) */
    char *ca_file;
};
void berth_client_session_release(struct berth_client_session *s);

/* The config folder: $BERTH_CONFIG_DIR, else $XDG_CONFIG_HOME/berth, else ~/.config/berth (malloc'd). */
char *berth_client_config_dir(void);
/* "<config dir>/sessions.json" (malloc'd). */
char *berth_client_session_path(void);
/*
 * Reads the session file at path into *root (a new object when the file does
 * not exist). A malformed file is BERTH_EINVAL: "cannot read '<path>': <why>;
 * fix or delete it". Unknown members are kept in *root and written back.
 */
enum berth_rc berth_client_session_load(const char *path, json_t **root, struct berth_err *err);
/* Writes root to path (0600) atomically, creating the folder (0700). */
enum berth_rc berth_client_session_save(const char *path, const json_t *root, struct berth_err *err);
/* Copies the session of server (NULL: the current one) out of root; BERTH_ENOENT if there is none. */
enum berth_rc berth_client_session_get(const json_t *root, const char *server, struct berth_client_session *out,
                                       struct berth_err *err);
/* Stores s under s->server, keeping the members it does not know; current=1 makes it the current one. */
void berth_client_session_put(json_t *root, const struct berth_client_session *s, int current);

/*
 * Returns (*token, caller frees) a directory access token for this run's
 * server: with -u/-p by the password grant (client_credentials when the user
 * is an app id); else from the session of --server (or the current one) by
 * grant_type=refresh_token (users; the new refresh token replaces the stored
 * one) or client_credentials (service principals). Cached in cl for the run.
 */
enum berth_rc berth_client_directory_token(struct berth_client *cl, char **token, struct berth_err *err);
/*
 * Asks the directory for tokens with a name and secret: the password grant
 * for a user, client_credentials when name is an app id (a GUID). *ans gets
 * the answer (access_token, expires_in, and refresh_token for users).
 */
enum berth_rc berth_client_directory_login(struct berth_client *cl, const char *tenant, const char *name,
                                           const char *secret, json_t **ans, struct berth_err *err);
/* The tenant id of the server (the session's, else GET /api/v1/tenant with -u/-p); borrowed from cl. */
enum berth_rc berth_client_tenant(struct berth_client *cl, const char **tenant, struct berth_err *err);

/* ---------------------------------------------------------------- registry tokens */

/*
 * Gets a registry refresh token for registry, as `az acr login` does:
 * registry is a resource name ("teamreg1") or a login server
 * ("teamreg1.localhost:5000"; the server's own host:port is its default
 * registry). Resolves the login server (GET /api/v1/registries/<name>; the
 * server URL's port is appended when loginServer has none), gets a directory
 * access token (berth_client_directory_token), and POSTs /oauth2/exchange to
 * the server URL with the Host of the login server (CONNECT_TO).
 * On success: *token the registry refresh token (caller frees), *expires_at
 * its JWT exp (unix seconds; 0 when unknown), *login_server "<host>:<port>"
 * (caller frees). login_server and expires_at may be NULL.
 */
enum berth_rc berth_client_registry_refresh_token(struct berth_client *cl, const char *registry, char **token,
                                                  int64_t *expires_at, char **login_server, struct berth_err *err);
/*
 * A registry access token for scope ("repository:team/app:pull",
 * "registry:catalog:*"): a refresh token as above, then POST /oauth2/token
 * (grant_type=refresh_token). Same ownership as berth_client_registry_refresh_token.
 */
enum berth_rc berth_client_registry_access_token(struct berth_client *cl, const char *registry, const char *scope,
                                                 char **token, int64_t *expires_at, char **login_server,
                                                 struct berth_err *err);
/* The exp claim of a JWT (0 when it has none or is not a JWT). */
int64_t berth_client_jwt_exp(const char *jwt);

/* ---------------------------------------------------------------- name checks */

enum berth_client_name_want { BERTH_CLIENT_WANT_RESOURCE, BERTH_CLIENT_WANT_LOGIN_SERVER };
/*
 * Checks that s is what the option flag wants: a registry resource name
 * ("teamreg1": no uppercase, no dots or colons) or a login server. BERTH_EINVAL
 * with a message saying which to use ("'TeamReg1' has uppercase letters:
 * registry names are lowercase, use 'teamreg1'", "-n takes a registry name
 * like 'teamreg1', not the login server 'teamreg1.localhost:5000'").
 */
enum berth_rc berth_client_check_registry_arg(const char *flag, const char *s, enum berth_client_name_want want,
                                              struct berth_err *err);

/* s escaped for a query string or a path segment (malloc'd). */
char *berth_client_query_escape(const char *s);

#endif
