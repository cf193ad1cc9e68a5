/*
 * cli.h - what the command files share: the command signature and context,
 * the option parser and verb dispatcher, table/JSON output and the
 * management-command helpers. The HTTP client, sessions and token flows are
 * the client library's (src/client/client.h).
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
#include "client.h"

/*
 * One run of the CLI. main() fills progname; the dispatcher extends cmd
 * ("registry", then "registry create") so messages name the command. The
 * client's connection fields are set by the common options (CLI_CONN_OPTS)
 * and borrowed from argv; cli_ctx_release frees what the client filled.
 */
struct cli_ctx {
    const char *progname;
    char cmd[96];            /* "token credential generate": for messages and usage */
    int json;                /* --json */
    struct berth_client client; /* --server, --ca-file, -u/-p, --password-stdin; sessions and tokens */
};

void cli_ctx_release(struct cli_ctx *ctx);

/* Each command: argv[0] is the command's name. Returns 0 ok, 1 failed, 2 usage. */
int cmd_serve(int argc, char **argv, struct cli_ctx *ctx);

int cmd_gc(int argc, char **argv, struct cli_ctx *ctx);
int cmd_migrate(int argc, char **argv, struct cli_ctx *ctx);
int cmd_backup(int argc, char **argv, struct cli_ctx *ctx);
int cmd_restore(int argc, char **argv, struct cli_ctx *ctx);
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
/* Run as (a link named) docker-credential-berth: turns argv into `berth credential-helper <verb>`'s. */
void cli_credential_helper_argv(int *argc, char ***argv);
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
/* Prints "berth <cmd>: <msg>; see 'berth <cmd> --help'" and returns 2. */
int cli_usage_error(const struct cli_ctx *ctx, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Prints "berth: <err>" and returns 1. */
int cli_fail(const struct berth_err *err);

/* The common options of every command that talks to a server: --server, --ca-file, -u, -p, --password-stdin. */
#define CLI_CONN_OPTS(ctx)                                                                                \
    {"server", 0, CLI_OPT_STR, &(ctx)->client.server, "URL", "the berth server (default: the current session's)"}, \
    {"ca-file", 0, CLI_OPT_STR, &(ctx)->client.ca_file, "FILE", "CA certificates to trust for https"},            \
    {"username", 'u', CLI_OPT_STR, &(ctx)->client.user, "USER", "a user name or app id (Basic, no session needed)"}, \
    {"password", 'p', CLI_OPT_STR, &(ctx)->client.password, "PASS", "the password or client secret for -u"},      \
    {"password-stdin", 0, CLI_OPT_FLAG, &(ctx)->client.password_stdin, NULL, "read the password from stdin"}
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
/*
 * Progress lines on stderr for a long command (migrate, backup): on a
 * terminal one line rewritten at most twice a second, elsewhere (a log) a
 * line every five seconds. Fill on and tty; with quiet_short a log gets no
 * line at all, closing ones included, from a run shorter than that.
 */
struct cli_progress {
    int on, tty, quiet_short;
    int any;          /* a line was shown */
    int64_t shown_us; /* when */
    size_t width;     /* of the line last written on a terminal */
};
void cli_progress_start(struct cli_progress *p, int on, int quiet_short);
/* Nonzero when a line is to be shown now (final: a phase's closing line); the caller then shows it. */
int cli_progress_due(struct cli_progress *p, int final);
void cli_progress_show(struct cli_progress *p, const char *line, int final);
/* A duration for people: "2.5s", "45s", "2m03s", "1h02m". */
void cli_duration(int64_t us, char *out, size_t len);
/* A rate for people: "85.3 MiB/s" for n bytes in us microseconds; "-" before there is anything to go by. */
void cli_rate(uint64_t n, int64_t us, char *out, size_t len);

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

#endif
