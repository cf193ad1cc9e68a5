/*
 * fuzz_cli.c - the CLI's parsers of untrusted text: the credential helper's
 * server URLs and `store` payloads (docker and podman pipe them in), JWT
 * expiry peeking (tokens come back from servers and files), registry name
 * checks (user input) and the option parser (argv split at NUL bytes).
 * Whatever parses keeps the header's promises; whatever fails says why in
 * printable text.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "alloc.h"
#include "buf.h"
#include "../src/cli/cli.h"
#include "../src/client/credhelper.h"
#include "banned.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check_printable(const char *s)
{
    for (; *s; s++)
        if ((unsigned char)*s < 0x20 || (unsigned char)*s == 0x7f) abort();
}

static void fuzz_server(const char *s, size_t size)
{
    struct berth_err err = BERTH_ERR_INIT;
    char *out = NULL, *again = NULL;
    size_t n;

    if (berth_credhelper_server(s, size, &out, &err) != BERTH_OK) {
        if (!err.msg[0]) abort();
        return;
    }
    n = strlen(out);
    if (!n || !strncmp(out, "http://", 7) || !strncmp(out, "https://", 8) || out[n - 1] == '/') abort();
    check_printable(out);
    /* normalising is idempotent */
    if (berth_credhelper_server(out, n, &again, &err) != BERTH_OK || strcmp(again, out) != 0) abort();
    free(again);
    free(out);
}

static void fuzz_creds(const char *s, size_t size)
{
    struct berth_err err = BERTH_ERR_INIT;
    struct berth_creds c = {NULL, NULL, NULL};
    struct berth_buf b = BERTH_BUF_INIT(0);
    struct berth_creds back = {NULL, NULL, NULL};

    if (berth_credhelper_parse_creds(s, size, &c, &err) != BERTH_OK) {
        if (!err.msg[0]) abort();
        berth_creds_release(&c);
        return;
    }
    if (!c.server || !c.username || !c.secret || !c.server[0] || !c.secret[0]) abort();
    /* what get would answer parses back to the same credential */
    if (berth_credhelper_format(c.server, c.username, c.secret, &b) != BERTH_OK) abort();
    if (berth_credhelper_parse_creds(b.p, b.len, &back, &err) != BERTH_OK) abort();
    if (strcmp(back.server, c.server) || strcmp(back.username, c.username) || strcmp(back.secret, c.secret)) abort();
    berth_creds_release(&back);
    berth_creds_release(&c);
    berth_buf_release(&b);
}

static void fuzz_text(const char *text)
{
    struct berth_err err = BERTH_ERR_INIT;

    if (berth_client_jwt_exp(text) < 0) abort();
    if (berth_client_check_registry_arg("-n", text, BERTH_CLIENT_WANT_RESOURCE, &err) != BERTH_OK) {
        if (!err.msg[0]) abort();
    }
    berth_err_clear(&err);
    if (berth_client_check_registry_arg("LOGINSERVER", text, BERTH_CLIENT_WANT_LOGIN_SERVER, &err) != BERTH_OK) {
        if (!err.msg[0]) abort();
    }
}

/* argv from the input split at NUL bytes, against a table of every option type. */
static void fuzz_options(const char *s, size_t size)
{
    struct cli_ctx ctx;
    const char *name = NULL;
    long long count = 0;
    int flag = 0, yes = -1;
    struct cli_list list = {NULL, 0}, pos = {NULL, 0};
    struct cli_groups groups = {NULL, 0};
    const struct cli_opt opts[] = {
        {"name", 'n', CLI_OPT_STR, &name, "NAME", "a string"},
        {"count", 'c', CLI_OPT_INT, &count, "N", "a number"},
        {"flag", 'f', CLI_OPT_FLAG, &flag, NULL, "a flag"},
        {"enabled", 0, CLI_OPT_BOOL, &yes, "BOOL", "true or false"},
        {"item", 'i', CLI_OPT_LIST, &list, "X", "repeatable"},
        {"repository", 0, CLI_OPT_GROUP, &groups, "REPO ACTION...", "groups"},
        CLI_OPT_END,
    };
    char *copy = berth_xmalloc(size + 1), *argv[34];
    int argc = 1, r;
    size_t i, start = 0;

    memcpy(copy, s, size);
    copy[size] = '\0';
    argv[0] = (char *)"fuzz";
    for (i = 0; i <= size && argc < 33; i++) {
        if (i < size && copy[i]) continue;
        argv[argc++] = copy + start;
        start = i + 1;
    }
    argv[argc] = NULL;
    memset(&ctx, 0, sizeof(ctx));
    ctx.progname = "berth";
    snprintf(ctx.cmd, sizeof(ctx.cmd), "fuzz");
    r = cli_opt_parse(&ctx, "[options]", NULL, opts, NULL, argc, argv, &pos);
    if (r != CLI_CONTINUE && r != 2 && r != CLI_HELP_SHOWN) abort();
    if (r == CLI_CONTINUE && pos.n > (size_t)argc) abort();
    if (yes < -1 || yes > 1) abort();
    cli_list_release(&list);
    cli_list_release(&pos);
    cli_groups_release(&groups);
    free(copy);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *s = (const char *)data;
    char *text;

    /* usage errors and --help print: run libFuzzer with -close_fd_mask=3 */
    if (size > 64 * 1024) return 0;
    fuzz_server(s, size);
    fuzz_creds(s, size);
    text = berth_xstrndup(s, size);
    fuzz_text(text);
    free(text);
    fuzz_options(s, size);
    return 0;
}
