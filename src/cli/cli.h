/*
 * cli.h - what the command files share: the command signature and context.
 */
#ifndef BERTH_CLI_H
#define BERTH_CLI_H

struct cli_ctx {
    const char *progname;
};

/* Each command: argv[0] is the command's name. Returns 0 ok, 1 failed, 2 usage. */
int cmd_serve(int argc, char **argv, struct cli_ctx *ctx);
int cmd_gc(int argc, char **argv, struct cli_ctx *ctx);
int cmd_version(int argc, char **argv, struct cli_ctx *ctx);
int cmd_doc(int argc, char **argv, struct cli_ctx *ctx);
int cmd_credential_helper(int argc, char **argv, struct cli_ctx *ctx);

/* Splits argv into config flags (passed through) and the command's own flags. */
int cli_has_flag(int argc, char **argv, const char *flag);

#endif
