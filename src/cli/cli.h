/*
 * cli.h - what the command files share: the command signature and context,
 * the option parser and verb dispatcher, table/JSON output, the HTTP client,
 * sessions and the token flows (directory, registry refresh, registry access).
 */
#ifndef BERTH_CLI_H
#define BERTH_CLI_H

#include <signal.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <jansson.h>
#include "buf.h"
#include "err.h"

/*
 * One run of the CLI. main() fills progname; the dispatcher extends cmd
 * ("registry", then "registry create") so messages name the command. The
 * connection fields are set by the common options (CLI_CONN_OPTS) and
 * borrowed from argv; the rest is filled lazily and freed by cli_ctx_release.
 */
struct cli_ctx {
    const char *progname;
    char cmd[96];            /* "token credential generate": for messages and usage */
    /* common options (borrowed from argv) */
    const char *server;      /* --server URL, else the current session's */
    const char *ca_file;     /* --ca-file FILE, else the session's */
    const char *user;        /* -u/--username: Basic credentials instead of a session */
    const char *password;    /* -p/--password */
    int password_stdin;      /* --password-stdin */
    int json;                /* --json */
    /* filled lazily (owned) */
    char *server_url;        /* the resolved server URL, without a trailing '/' */
    char *session_ca;        /* the session's caFile */
    char *password_read;     /* the password read from stdin */
    char *dir_token;         /* a directory access token fetched in this run */
    char *tenant;            /* the tenant id */
};

void cli_ctx_release(struct cli_ctx *ctx);

/* Each command: argv[0] is the command's name. Returns 0 ok, 1 failed, 2 usage. */
int cmd_serve(int argc, char **argv, struct cli_ctx *ctx);

int cmd_gc(int argc, char **argv, struct cli_ctx *ctx);
int cmd_doctor(int argc, char **argv, struct cli_ctx *ctx);
int cmd_version(int argc, char **argv, struct cli_ctx *ctx);
int cmd_doc(int argc, char **argv, struct cli_ctx *ctx);
int cmd_auth(int argc, char **argv, struct cli_ctx *ctx);
int cmd_registry(int argc, char **argv, struct cli_ctx *ctx);
int cmd_credential(int argc, char **argv, struct cli_ctx *ctx);
int cmd_user(int argc, char **argv, struct cli_ctx *ctx);
int cmd_sp(int argc, char **argv, struct cli_ctx *ctx);
int cmd_scopemap(int argc, char **argv, struct cli_ctx *ctx);
int cmd_token(int argc, char **argv, struct cli_ctx *ctx);
int cmd_role(int argc, char **argv, struct cli_ctx *ctx);
int cmd_network(int argc, char **argv, struct cli_ctx *ctx);
int cmd_repository(int argc, char **argv, struct cli_ctx *ctx);
int cmd_logs(int argc, char **argv, struct cli_ctx *ctx);
int cmd_credential_helper(int argc, char **argv, struct cli_ctx *ctx);
int cmd_login(int argc, char **argv, struct cli_ctx *ctx);
int cmd_logout(int argc, char **argv, struct cli_ctx *ctx);
int cmd_check_health(int argc, char **argv, struct cli_ctx *ctx);

/* Splits argv into config flags (passed through) and the command's own flags. */
int cli_has_flag(int argc, char **argv, const char *flag);

/* ---------------------------------------------------------------- options */

enum cli_opt_type {
    CLI_OPT_FLAG,  /* int *: set to 1 */
    CLI_OPT_STR,   /* const char **: borrowed from argv, the last one wins */
    CLI_OPT_INT,   /* long long *: decimal, may be negative */
    CLI_OPT_BOOL,  /* int *: "true" -> 1, "false" -> 0 (callers start it at -1 = not given) */
    CLI_OPT_LIST,  /* struct cli_list *: repeatable, one value each time */
    CLI_OPT_GROUP, /* struct cli_groups *: repeatable, one or more values up to the next option */
};

/* A row of an option table; tables end with CLI_OPT_END. */
struct cli_opt {
    const char *name; /* long name without "--"; NULL ends the table */
    char short_name;  /* 'n' for -n, 0 for none */
    enum cli_opt_type type;
    void *dest;
    const char *metavar; /* "NAME" in the help; NULL for flags */
    const char *help;
};
#define CLI_OPT_END {NULL, 0, CLI_OPT_FLAG, NULL, NULL, NULL}

/* Values of a CLI_OPT_LIST option, borrowed from argv; free v with cli_list_release. */
struct cli_list {
    const char **v;
    size_t n;
};
/* Values of a CLI_OPT_GROUP option: one list per occurrence. */
struct cli_groups {
    struct cli_list *g;
    size_t n;
};
void cli_list_release(struct cli_list *l);
void cli_groups_release(struct cli_groups *g);

/* What cli_opt_parse returns when the command should go on. */
#define CLI_CONTINUE 0
/* What it returns after --help printed the usage: commands pass it up and main() exits 0. */
#define CLI_HELP_SHOWN 3

/*
 * Parses argv[1..argc) against the option tables opts and common (either may
 * be NULL): long "--x v" and "--x=v", short "-n v", "--" ends the options; the
 * rest goes to pos (borrowed from argv; free pos->v with cli_list_release).
 * synopsis is the usage line after "berth <cmd> " and description an
 * optional paragraph for --help. Returns CLI_CONTINUE (0) when the command
 * should run, CLI_HELP_SHOWN after --help (usage printed to stdout), or 2
 * after a usage error (one line on stderr:
 * "berth <cmd>: unknown option '--colour'; see 'berth <cmd> --help'").
 */
int cli_opt_parse(const struct cli_ctx *ctx, const char *synopsis, const char *description,
                  const struct cli_opt *opts, const struct cli_opt *common, int argc, char **argv,
                  struct cli_list *pos);
/* Prints the usage generated from the tables. */
void cli_opt_usage(FILE *out, const struct cli_ctx *ctx, const char *synopsis, const char *description,
                   const struct cli_opt *opts, const struct cli_opt *common);
/* Prints "berth <cmd>: <msg>; see 'berth <cmd> --help'" and returns 2. */
int cli_usage_error(const struct cli_ctx *ctx, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Prints "berth: <err>" and returns 1. */
int cli_fail(const struct berth_err *err);

/* The common options of every command that talks to a server: --server, --ca-file, -u, -p, --password-stdin. */
#define CLI_CONN_OPTS(ctx)                                                                                \
    {"server", 0, CLI_OPT_STR, &(ctx)->server, "URL", "the berth server (default: the current session's)"}, \
    {"ca-file", 0, CLI_OPT_STR, &(ctx)->ca_file, "FILE", "CA certificates to trust for https"},            \
    {"username", 'u', CLI_OPT_STR, &(ctx)->user, "USER", "a user name or app id (Basic, no session needed)"}, \
    {"password", 'p', CLI_OPT_STR, &(ctx)->password, "PASS", "the password or client secret for -u"},      \
    {"password-stdin", 0, CLI_OPT_FLAG, &(ctx)->password_stdin, NULL, "read the password from stdin"}
/* -n: the registry's resource name; long name "name" where -n is the subject (registry, network-rule), else "registry". */
#define CLI_REGISTRY_OPT(long_name, dest) {long_name, 'n', CLI_OPT_STR, dest, "REGISTRY", "the registry name"}
#define CLI_JSON_OPT(ctx) {"json", 0, CLI_OPT_FLAG, &(ctx)->json, NULL, "print the server's JSON"}

/* ---------------------------------------------------------------- verbs */

/* A second-level command table: `berth token create`. */
struct cli_verb {
    const char *name;
    int (*fn)(int argc, char **argv, struct cli_ctx *ctx);
    const char *help;
};

/*
 * Runs the verb named by argv[1] with argv + 1, appending its name to ctx->cmd.
 * Without a verb, with --help, or with an unknown one, prints the group's
 * verbs (stdout and 0 for --help, stderr and 2 otherwise).
 */
int cli_dispatch(struct cli_ctx *ctx, const char *description, const struct cli_verb *verbs, size_t nverbs,
                 int argc, char **argv);
#define CLI_NVERBS(t) (sizeof(t) / sizeof((t)[0]))

/* ---------------------------------------------------------------- output */

/* A text table: cells are copied; widths come from the content. */
struct cli_table {
    size_t ncols, nrows;
    char **cells; /* (nrows + 1) * ncols, row 0 the headers */
};
void cli_table_init(struct cli_table *t, size_t ncols, const char *const *headers);
/* Appends a row of ncols cells (NULL prints as "-"). */
void cli_table_add(struct cli_table *t, const char *const *cells);
/* Renders: each column padded to its widest cell plus two spaces, the last one not padded. */
void cli_table_render(const struct cli_table *t, struct berth_buf *out);
void cli_table_release(struct cli_table *t);

/* One column of a table made from JSON objects: the header and the member path ("a.b"). */
struct cli_col {
    const char *header;
    const char *path;
};
/* The text of a member for a table cell (malloc'd): strings as they are, arrays joined by ',', null "-". */
char *cli_json_cell(const json_t *obj, const char *path);
/* Prints rows (a JSON array of objects) as a table with cols. */
void cli_out_table(FILE *out, const json_t *rows, const struct cli_col *cols, size_t ncols);
/* Prints one object as "FIELD  value" lines for cols. */
void cli_out_fields(FILE *out, const json_t *obj, const struct cli_col *cols, size_t ncols);
/* Prints v as pretty JSON (2-space indent) and a newline. */
void cli_out_json(FILE *out, const json_t *v);

/* ---------------------------------------------------------------- HTTP client */

struct cli_req {
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

struct cli_resp {
    long status;
    struct berth_buf body;
    char *next;      /* the Link rel="next" target, if any */
    char *digest;    /* Docker-Content-Digest, if any */
    char *ctype;     /* Content-Type, if any */
};
void cli_resp_release(struct cli_resp *r);

/*
 * Sends one request to the server (ctx->server or the session's) and fills rs.
 * Transport failures and HTTP status >= 400 are errors whose message names
 * the cause and, where there is one, the fix (the OCI error's message, status,
 * code and detail.reason for HTTP errors). Timeouts: connect 10 s, total 60 s.
 */
enum berth_rc cli_http_do(struct cli_ctx *ctx, const struct cli_req *rq, struct cli_resp *rs, struct berth_err *err);
/* The server URL this run talks to (--server, else the current session); borrowed from ctx. */
enum berth_rc cli_server_url(struct cli_ctx *ctx, const char **url, struct berth_err *err);
/* Splits "scheme://host[:port]/..." into "host:port" (port by scheme when absent) and the scheme. */
void cli_url_hostport(const char *url, char *hp, size_t hplen, char *scheme, size_t slen);
/* Appends k=v&... with both URL-encoded (a form body or a query). */
void cli_form_add(struct berth_buf *b, const char *k, const char *v);
/* POSTs a form and parses a JSON answer into *out (caller frees with json_decref). auth may be NULL. */
enum berth_rc cli_post_form(struct cli_ctx *ctx, const char *path, const char *login_server, const char *auth,
                            const char *form, json_t **out, struct berth_err *err);

/*
 * Calls the management API: method on /api/v1<path> with body (borrowed, may
 * be NULL) as JSON; *out gets the parsed answer (NULL for 204; caller frees;
 * out may be NULL). Authenticates with -u/-p (Basic) when given, else with a
 * directory token of the session (cli_session_directory_token).
 */
enum berth_rc cli_api(struct cli_ctx *ctx, const char *method, const char *path, const json_t *body, json_t **out,
                      struct berth_err *err);
/* Reads one line from stdin without its line end (malloc'd); an empty one is BERTH_EINVAL. */
enum berth_rc cli_read_stdin_line(char **out, struct berth_err *err);
/* The password of -p, --password-stdin (one line) or NULL when neither was given; borrowed from ctx. */
enum berth_rc cli_password(struct cli_ctx *ctx, const char **pw, struct berth_err *err);

/* ---------------------------------------------------------------- management commands */

/*
 * Parses a management verb's options (opts, then --json and the connection
 * options) and wants exactly npos positional arguments. Returns CLI_CONTINUE
 * or the exit code, like cli_opt_parse.
 */
int cli_mgmt_parse(struct cli_ctx *ctx, const char *synopsis, const char *desc, const struct cli_opt *opts,
                   int argc, char **argv, struct cli_list *pos, size_t npos);
/* 0 when registry is given and a resource name; else prints why and returns 2. */
int cli_need_registry(const struct cli_ctx *ctx, const char *flag, const char *registry);
/* 0 when value is set; else a usage error "<flag> is required" (2). */
int cli_need(const struct cli_ctx *ctx, const char *flag, const void *value);
/*
 * Prints an answer: with --json as it is; a list ({"value": [...]}) as a
 * table of cols, an object as its fields. A secret in it gets a warning on
 * stderr that it will not be shown again; the answer's "warnings" go to
 * stderr too.
 */
void cli_print(const struct cli_ctx *ctx, const json_t *v, const struct cli_col *cols, size_t ncols);
/*
 * Calls the API (body taken, may be NULL) and prints the answer with cols
 * (cli_print), or done when there is no answer to print (204). Returns the
 * exit code: 0, or 1 after printing the error.
 */
int cli_call(struct cli_ctx *ctx, const char *method, const char *path, json_t *body, const struct cli_col *cols,
             size_t ncols, const char *done);
/* Appends "repositories/REPO/ACTION" for each group "REPO ACTION..." of g; 2 (usage) when a group has no action. */
int cli_repo_actions(const struct cli_ctx *ctx, const char *flag, const struct cli_groups *g, json_t *actions);
/* s escaped for a query string or a path segment (malloc'd). */
char *cli_query_escape(const char *s);

/* A verb that is one call with no body: list, show, delete. */
#define CLI_NEED_REGISTRY 1u /* -n REGISTRY */
#define CLI_NEED_NAME 2u     /* --name NAME */
#define CLI_NEED_ARG 4u      /* one positional argument */
struct cli_simple {
    const char *method;
    unsigned need;
    const char *synopsis, *desc, *name_help;
    const char *path; /* a format taking the registry, the name and the argument, those needed, in that order */
    const char *done; /* what to print after a 204, same format; NULL for reads */
    const struct cli_col *cols;
    size_t ncols;
};
int cli_simple_verb(struct cli_ctx *ctx, const struct cli_simple *v, int argc, char **argv);
#define CLI_NCOLS(t) (sizeof(t) / sizeof((t)[0]))

/* ---------------------------------------------------------------- sessions */

/* One stored login. Strings are owned; NULL when absent. */
struct cli_session {
    char *server;        /* the server URL: the key in "servers" */
    char *tenant;
    char *kind;          /* "user" or "sp" */
    char *name;          /* user name or app id */
    char *refresh_token; /* users: the directory refresh token */
    char *secret;        /* service principals: the client secret (no refresh token for client_credentials) */
    char *ca_file;
};
void cli_session_release(struct cli_session *s);

/* The config folder: $BERTH_CONFIG_DIR, else $XDG_CONFIG_HOME/berth, else ~/.config/berth (malloc'd). */
char *cli_config_dir(void);
/* "<config dir>/sessions.json" (malloc'd). */
char *cli_session_path(void);
/*
 * Reads the session file at path into *root (a new object when the file does
 * not exist). A malformed file is BERTH_EINVAL: "cannot read '<path>': <why>;
 * fix or delete it". Unknown members are kept in *root and written back.
 */
enum berth_rc cli_session_file_load(const char *path, json_t **root, struct berth_err *err);
/* Writes root to path (0600) atomically, creating the folder (0700). */
enum berth_rc cli_session_file_save(const char *path, const json_t *root, struct berth_err *err);
/* Copies the session of server (NULL: the current one) out of root; BERTH_ENOENT if there is none. */
enum berth_rc cli_session_get(const json_t *root, const char *server, struct cli_session *out, struct berth_err *err);
/* Stores s under s->server, keeping the members it does not know; current=1 makes it the current one. */
void cli_session_put(json_t *root, const struct cli_session *s, int current);

/*
 * Returns (*token, caller frees) a directory access token for this run's
 * server: with -u/-p by the password grant (client_credentials when the user
 * is an app id); else from the session of --server (or the current one) by
 * grant_type=refresh_token (users; the new refresh token replaces the stored
 * one) or client_credentials (service principals). Cached in ctx for the run.
 */
enum berth_rc cli_session_directory_token(struct cli_ctx *ctx, char **token, struct berth_err *err);
/*
 * Asks the directory for tokens with a name and secret: the password grant
 * for a user, client_credentials when name is an app id (a GUID). *ans gets
 * the answer (access_token, expires_in, and refresh_token for users).
 */
enum berth_rc cli_directory_login(struct cli_ctx *ctx, const char *tenant, const char *name, const char *secret,
                                  json_t **ans, struct berth_err *err);
/* The tenant id of the server (the session's, else GET /api/v1/tenant with -u/-p); borrowed from ctx. */
enum berth_rc cli_tenant(struct cli_ctx *ctx, const char **tenant, struct berth_err *err);

/* ---------------------------------------------------------------- registry tokens */

/*
 * Gets a registry refresh token for registry, as `az acr login` does:
 * registry is a resource name ("teamreg1") or a login server
 * ("teamreg1.localhost:5000"; the server's own host:port is its default
 * registry). Resolves the login server (GET /api/v1/registries/<name>; the
 * server URL's port is appended when loginServer has none), gets a directory
 * access token (cli_session_directory_token), and POSTs /oauth2/exchange to
 * the server URL with the Host of the login server (CONNECT_TO).
 * On success: *token the registry refresh token (caller frees), *expires_at
 * its JWT exp (unix seconds; 0 when unknown), *login_server "<host>:<port>"
 * (caller frees). login_server and expires_at may be NULL.
 */
enum berth_rc cli_registry_refresh_token(struct cli_ctx *ctx, const char *registry, char **token,
                                         int64_t *expires_at, char **login_server, struct berth_err *err);
/*
 * A registry access token for scope ("repository:team/app:pull",
 * "registry:catalog:*"): a refresh token as above, then POST /oauth2/token
 * (grant_type=refresh_token). Same ownership as cli_registry_refresh_token.
 */
enum berth_rc cli_registry_access_token(struct cli_ctx *ctx, const char *registry, const char *scope, char **token,
                                        int64_t *expires_at, char **login_server, struct berth_err *err);
/* The exp claim of a JWT (0 when it has none or is not a JWT). */
int64_t cli_jwt_exp(const char *jwt);

/* ---------------------------------------------------------------- name checks */

enum cli_name_want { CLI_WANT_RESOURCE, CLI_WANT_LOGIN_SERVER };
/*
 * Checks that s is what the option flag wants: a registry resource name
 * ("teamreg1": no uppercase, no dots or colons) or a login server. BERTH_EINVAL
 * with a message saying which to use ("'TeamReg1' has uppercase letters:
 * registry names are lowercase, use 'teamreg1'", "-n takes a registry name
 * like 'teamreg1', not the login server 'teamreg1.localhost:5000'").
 */
enum berth_rc cli_check_registry_arg(const char *flag, const char *s, enum cli_name_want want, struct berth_err *err);

#endif
