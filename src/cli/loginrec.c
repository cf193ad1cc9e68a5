/*
 * loginrec.c - the record of what `berth login` wrote (logins.json beside
 * berth's sessions) and the credential helper's look-up of a fresh token.
 */
#include <stdlib.h>
#include <string.h>
#include "alloc.h"
#include "cli.h"
#include "loginrec.h"
#include "banned.h"

/* <berth config folder>/<name> (malloc'd). */
char *cli_config_file(const char *name)
{
    char *dir = cli_config_dir(), *p = berth_xasprintf("%s/%s", dir, name);
    free(dir);
    return p;
}

enum berth_rc cli_loginrec_load(struct cli_dockercfg **out, struct berth_err *err)
{
    char *path = cli_config_file("logins.json");
    enum berth_rc rc = cli_dockercfg_load(path, out, err);
    free(path);
    return rc;
}

/* parent.<key> as an object, created when create is set and it is absent or not an object. */
static json_t *child(json_t *parent, const char *key, int create)
{
    json_t *o = json_object_get(parent, key);
    if (json_is_object(o) || !create) return json_is_object(o) ? o : NULL;
    o = json_object();
    json_object_set_new(parent, key, o);
    return o;
}

json_t *cli_loginrec_server(struct cli_dockercfg *rec, const char *server, int create)
{
    json_t *servers = child(rec->root, "servers", create);
    return servers ? child(servers, server, create) : NULL;
}

json_t *cli_loginrec_file(struct cli_dockercfg *rec, const char *server, const char *file, int create)
{
    json_t *s = cli_loginrec_server(rec, server, create), *files;
    files = s ? child(s, "files", create) : NULL;
    return files ? child(files, file, create) : NULL;
}

enum berth_rc cli_loginrec_each_helper_server(json_t *list, struct berth_err *err)
{
    struct cli_dockercfg *rec = NULL;
    const char *server;
    json_t *v;
    enum berth_rc rc = cli_loginrec_load(&rec, err);

    if (rc) return rc;
    json_object_foreach(json_object_get(rec->root, "servers"), server, v)
        json_object_set_new(list, server, json_string(CLI_NULL_GUID));
    cli_dockercfg_free(rec);
    return BERTH_OK;
}

enum berth_rc cli_loginrec_fresh_token(struct cli_ctx *ctx, const char *server, char **token, struct berth_err *err)
{
    struct cli_dockercfg *rec = NULL;
    const char *registry = NULL, *session = NULL, *url;
    char hp[300], scheme[16];
    json_t *s;
    enum berth_rc rc = cli_loginrec_load(&rec, err);

    if (rc) return rc;
    s = cli_loginrec_server(rec, server, 0);
    session = json_string_value(json_object_get(s, "session"));
    if (session) {
        /* a login made with the session; -u/-p logins are not the helper's to refresh */
        registry = json_string_value(json_object_get(s, "registry"));
        ctx->server = session;
    } else if (cli_server_url(ctx, &url, err) == BERTH_OK) {
        cli_url_hostport(url, hp, sizeof(hp), scheme, sizeof(scheme));
        if (!strcmp(hp, server)) registry = server; /* the server's own address: its default registry */
    }
    if (!registry) {
        rc = berth_err_set(err, BERTH_ENOENT, "no berth login for '%s'", server);
        goto out;
    }
    rc = cli_registry_refresh_token(ctx, registry, token, NULL, NULL, err);
out:
    if (ctx->server == session) ctx->server = NULL; /* borrowed from rec, freed below */
    cli_dockercfg_free(rec);
    return rc;
}
