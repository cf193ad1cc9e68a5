/* main.c - berth's command table and entry point (git-style subcommands). */
#include <stdio.h>
#include <string.h>
#include "berth/version.h"
#include "cli.h"
#include "berth/banned.h"

static const struct command {
    const char *name;
    int (*fn)(int argc, char **argv, struct cli_ctx *ctx);
    const char *help;
} commands[] = {
    {"serve", cmd_serve, "run the registry (OCI Distribution API) on one port"},
    {"gc", cmd_gc, "delete blobs and untagged manifests nothing references"},
    {"doc", cmd_doc, "print the generated reference docs (errors, config, metrics)"},
    {"version", cmd_version, "print the version"},
    {"credential-helper", cmd_credential_helper, "the docker credential helper (also as docker-credential-berth)"},
};

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
        fprintf(out, "  %-10s %s\n", commands[i].name, commands[i].help);
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
    struct cli_ctx ctx = {"berth"};
    size_t i;
    const char *base = strrchr(argv[0], '/');

    /* Installed as (a link named) docker-credential-berth, berth is a docker credential helper. */
    if (!strcmp(base ? base + 1 : argv[0], "docker-credential-berth")) return cmd_credential_helper(argc, argv, &ctx);
    if (argc < 2) {
        usage(stderr);
        return 2;
    }
    if (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h") || !strcmp(argv[1], "help")) {
        usage(stdout);
        return 0;
    }
    if (!strcmp(argv[1], "--version")) return cmd_version(argc - 1, argv + 1, &ctx);
    for (i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
        if (!strcmp(argv[1], commands[i].name)) return commands[i].fn(argc - 1, argv + 1, &ctx);
    fprintf(stderr, "berth: '%s' is not a berth command; see 'berth --help'\n", argv[1]);
    return 2;
}
