/* main.c - berth's command table and entry point (git-style subcommands). */
#include <stdio.h>
#include <string.h>
#include "lazy_curl.h"
#include "version.h"
#include "cli.h"
#include "banned.h"

static const struct command {
    const char *name;
    int (*fn)(int argc, char **argv, struct cli_ctx *ctx);
    const char *help;
} commands[] = {
    {"serve", cmd_serve, "run the registry (OCI Distribution API) on one port"},
    {"gc", cmd_gc, "delete blobs and untagged manifests nothing references"},
    {"migrate", cmd_migrate, "copy a whole data set to another deployment (SQLite and files <-> PostgreSQL)"},
    {"backup", cmd_backup, "back a data folder up while it is served (database snapshot, blobs, keys)"},
    {"restore", cmd_restore, "make a new data folder from a backup, every blob and the database checked"},
    {"doctor", cmd_doctor, "check a server's data folder, database, keys, TLS and clock"},
    {"doc", cmd_doc, "print the generated reference docs (errors, config, metrics)"},
    {"auth", cmd_auth, "log in to a berth server, list and switch sessions"},
    {"registry", cmd_registry, "create, list, show, update and delete registries"},
    {"credential", cmd_credential, "show and renew a registry's admin passwords"},
    {"user", cmd_user, "create, list and delete users"},
    {"sp", cmd_sp, "service principals and their client secrets"},
    {"scope-map", cmd_scopemap, "a registry's scope maps"},
    {"token", cmd_token, "a registry's repository-scoped tokens"},
    {"role", cmd_role, "role assignments"},
    {"network-rule", cmd_network, "a registry's IP rules"},
    {"repository", cmd_repository, "list, show and delete repositories, tags and manifests"},
    {"logs", cmd_logs, "a registry's login and repository event logs"},
    {"version", cmd_version, "print the version"},
    {"login", cmd_login, "log docker and podman in to a registry (writes their credential files)"},
    {"logout", cmd_logout, "remove what 'berth login' wrote"},
    {"credential-helper", cmd_credential_helper, "the docker credential helper (also as docker-credential-berth)"},
    {"check-health", cmd_check_health, "diagnose a registry login: environment, network, TLS, clock, credentials"},
};

/* Commands that run on the server's host and need no HTTP client. */
static int server_side(int (*fn)(int, char **, struct cli_ctx *))
{
    return fn == cmd_serve || fn == cmd_gc || fn == cmd_migrate || fn == cmd_backup || fn == cmd_restore ||
           fn == cmd_doctor || fn == cmd_doc || fn == cmd_version;
}

int cmd_version(int argc, char **argv, struct cli_ctx *ctx)
{
    (void)argc;
    (void)argv;
    (void)ctx;
    printf("berth %s\n", BERTH_VERSION);
    return 0;
}

static void usage(FILE *out)
{
    size_t i;
    fprintf(out, "usage: berth <command> [options]\n\ncommands:\n");
    for (i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
        fprintf(out, "  %-18s %s\n", commands[i].name, commands[i].help);
    fprintf(out, "\n'berth <command> --help' describes a command's options.\n");
}

int cli_has_flag(int argc, char **argv, const char *flag)
{
    int i;
    for (i = 1; i < argc; i++)
        if (!strcmp(argv[i], flag)) return 1;
    return 0;
}

int main(int argc, char **argv)
{
    struct cli_ctx ctx;
    struct berth_err err = BERTH_ERR_INIT;
    size_t i;
    int ret = 2;

    cli_credential_helper_argv(&argc, &argv);
    if (argc < 2) {
        usage(stderr);
        return 2;
    }
    if (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h") || !strcmp(argv[1], "help")) {
        usage(stdout);
        return 0;
    }
    memset(&ctx, 0, sizeof(ctx));
    ctx.progname = "berth";
    if (!strcmp(argv[1], "--version")) return cmd_version(argc - 1, argv + 1, &ctx);
    for (i = 0; i < sizeof(commands) / sizeof(commands[0]); i++) {
        if (strcmp(argv[1], commands[i].name) != 0) continue;
        snprintf(ctx.cmd, sizeof(ctx.cmd), "%s", commands[i].name);
        /* the server-side commands never map libcurl (and what it pulls in): it would only cost the server
           memory; the S3 store opens it itself */
        if (!server_side(commands[i].fn) && berth_lazy_load(BERTH_LIB_CURL, &err)) {
            fprintf(stderr, "berth: %s\n", berth_err_msg(&err));
            return 1;
        }
        ret = commands[i].fn(argc - 1, argv + 1, &ctx);
        if (ret == CLI_HELP_SHOWN) ret = 0;
        cli_ctx_release(&ctx);
        if (berth_lazy_loaded(BERTH_LIB_CURL)) curl_global_cleanup();
        return ret;
    }
    fprintf(stderr, "berth: '%s' is not a berth command; see 'berth --help'\n", argv[1]);
    return ret;
}
