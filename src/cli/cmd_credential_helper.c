/*
 * cmd_credential_helper.c - `docker-credential-berth` / `berth credential-helper
 * <verb>`: the docker credential helper protocol on stdin/stdout. `get` for a
 * registry berth knows from its session mints a fresh registry refresh token
 * on every call, so a client configured with credHelpers never holds an
 * expired one; for other servers it answers what `store` kept in
 * <berth config>/helper-store.json.
 */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "version.h"
#include "cli.h"
#include "credhelper.h"
#include "dockercfg.h"
#include "loginrec.h"
#include "banned.h"

/* ---------------------------------------------------------------- the store */

static enum berth_rc read_stdin(char **out, size_t *len, struct berth_err *err)
{
    struct berth_buf b = BERTH_BUF_INIT(BERTH_HELPER_INPUT_MAX);
    char chunk[4096];
    size_t n;

    while ((n = fread(chunk, 1, sizeof(chunk), stdin)) > 0)
        if (berth_buf_append(&b, chunk, n) != BERTH_OK) break;
    if (berth_buf_rc(&b) != BERTH_OK) {
        berth_buf_release(&b);
        return berth_err_set(err, BERTH_ETOOBIG, "more than %u bytes on stdin", BERTH_HELPER_INPUT_MAX);
    }
    if (ferror(stdin)) {
        berth_buf_release(&b);
        return berth_err_set(err, BERTH_EIO, "cannot read stdin");
    }
    berth_buf_putc(&b, '\0'); /* so an empty input still yields a string */
    *out = berth_buf_detach(&b, len);
    (*len)--;
    return BERTH_OK;
}

static enum berth_rc store_load(struct berth_dockercfg **out, struct berth_err *err)
{
    char *path = berth_client_config_file("helper-store.json");
    enum berth_rc rc = berth_dockercfg_load(path, out, err);
    free(path);
    return rc;
}

static enum berth_rc helper_store(struct berth_err *err)
{
    struct berth_dockercfg *st = NULL;
    struct berth_creds c = {0};
    char *in = NULL;
    size_t len = 0;
    json_t *entry;
    enum berth_rc rc;

    rc = read_stdin(&in, &len, err);
    if (rc) goto out;
    rc = berth_credhelper_parse_creds(in, len, &c, err);
    if (rc) goto out;
    rc = store_load(&st, err);
    if (rc) goto out;
    entry = json_pack("{s:s, s:s}", "Username", c.username, "Secret", c.secret);
    json_object_set_new(berth_dockercfg_object(st, "auths"), c.server, entry);
    rc = berth_dockercfg_save(st, err);
out:
    if (in) explicit_bzero(in, len);
    free(in);
    berth_creds_release(&c);
    berth_dockercfg_free(st);
    return rc;
}

static enum berth_rc read_server(char **server, struct berth_err *err)
{
    char *in = NULL;
    size_t len = 0;
    enum berth_rc rc = read_stdin(&in, &len, err);
    if (!rc) rc = berth_credhelper_server(in, len, server, err);
    free(in);
    return rc;
}

static enum berth_rc helper_erase(struct berth_err *err)
{
    struct berth_dockercfg *st = NULL;
    char *server = NULL;
    enum berth_rc rc;

    rc = read_server(&server, err);
    if (rc) goto out;
    rc = store_load(&st, err);
    if (rc) goto out;
    /* Erasing what is not there succeeds: `docker logout` should not warn about it. */
    if (berth_dockercfg_remove(st, server)) rc = berth_dockercfg_save(st, err);
out:
    free(server);
    berth_dockercfg_free(st);
    return rc;
}

static enum berth_rc helper_list(struct berth_err *err)
{
    struct berth_dockercfg *st = NULL;
    json_t *all = json_object(), *v;
    const char *server;
    char *text = NULL;
    enum berth_rc rc;

    rc = store_load(&st, err);
    if (rc) goto out;
    json_object_foreach(json_object_get(st->root, "auths"), server, v) {
        const char *user = json_string_value(json_object_get(v, "Username"));
        json_object_set_new(all, server, json_string(user ? user : ""));
    }
    rc = berth_loginrec_each_helper_server(all, err);
    if (rc) goto out;
    text = json_dumps(all, JSON_COMPACT);
    printf("%s\n", text ? text : "{}");
out:
    free(text);
    json_decref(all);
    berth_dockercfg_free(st);
    return rc;
}

/*
 * `get`: a registry berth logged in to (or the session's own host:port)
 * gets a fresh refresh token; anything else what `store` kept.
 * BERTH_ENOENT when there is nothing for the server.
 */
static enum berth_rc helper_get(struct cli_ctx *ctx, struct berth_err *err)
{
    struct berth_dockercfg *st = NULL;
    struct berth_buf out = BERTH_BUF_INIT(0);
    char *server = NULL, *token = NULL;
    const char *user, *secret;
    json_t *entry;
    enum berth_rc rc;

    rc = read_server(&server, err);
    if (rc) goto out;
    rc = berth_loginrec_fresh_token(&ctx->client, server, &token, err);
    if (rc == BERTH_OK) {
        berth_credhelper_format(server, BERTH_NULL_GUID, token, &out);
        goto print;
    }
    if (rc != BERTH_ENOENT) goto out;
    rc = store_load(&st, err);
    if (rc) goto out;
    entry = json_object_get(json_object_get(st->root, "auths"), server);
    user = json_string_value(json_object_get(entry, "Username"));
    secret = json_string_value(json_object_get(entry, "Secret"));
    if (!secret) {
        rc = berth_err_set(err, BERTH_ENOENT, BERTH_HELPER_NOT_FOUND);
        goto out;
    }
    berth_credhelper_format(server, user ? user : "", secret, &out);
print:
    fputs(berth_buf_str(&out), stdout);
out:
    if (out.p) explicit_bzero(out.p, out.len);
    berth_buf_release(&out);
    if (token) explicit_bzero(token, strlen(token));
    free(token);
    free(server);
    berth_dockercfg_free(st);
    return rc;
}

int cmd_credential_helper(int argc, char **argv, struct cli_ctx *ctx)
{
    struct berth_err err = BERTH_ERR_INIT;
    const char *verb = argc > 1 ? argv[1] : "";
    enum berth_rc rc;

    if (!strcmp(verb, "get")) rc = helper_get(ctx, &err);
    else if (!strcmp(verb, "store")) rc = helper_store(&err);
    else if (!strcmp(verb, "erase")) rc = helper_erase(&err);
    else if (!strcmp(verb, "list")) rc = helper_list(&err);
    else if (!strcmp(verb, "version") || !strcmp(verb, "--version")) {
        printf("docker-credential-berth (berth %s)\n", BERTH_VERSION);
        return 0;
    } else {
        fprintf(!strcmp(verb, "--help") || !strcmp(verb, "-h") ? stdout : stderr,
                "usage: docker-credential-berth get|store|erase|list\n"
                "   or: berth credential-helper get|store|erase|list\n\n"
                "The docker credential helper protocol on stdin/stdout. 'get' hands out a fresh\n"
                "registry refresh token for registries 'berth login --helper' set up.\n");
        return !strcmp(verb, "--help") || !strcmp(verb, "-h") ? 0 : 2;
    }
    if (rc == BERTH_OK) return 0;
    /* The protocol's errors go to stdout: docker and containers/image read them there. */
    if (rc == BERTH_ENOENT) printf("%s\n", BERTH_HELPER_NOT_FOUND);
    else printf("berth: %s\n", berth_err_msg(&err));
    return 1;
}

void cli_credential_helper_argv(int *argc, char ***argv)
{
    static char helper_cmd[] = "credential-helper";
    static char *helper_argv[4];
    const char *base = strrchr((*argv)[0], '/');

    if (strcmp(base ? base + 1 : (*argv)[0], "docker-credential-berth") != 0) return;
    helper_argv[0] = (*argv)[0];
    helper_argv[1] = helper_cmd;
    helper_argv[2] = *argc > 1 ? (*argv)[1] : NULL;
    helper_argv[3] = NULL;
    *argc = *argc > 1 ? 3 : 2;
    *argv = helper_argv;
}
