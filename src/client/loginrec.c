/*
 * loginrec.c - the record of what `berth login` wrote (logins.json beside
 * berth's sessions) and the credential helper's look-up of a fresh token.
 */
#include <stdlib.h>
#include <string.h>
#include "alloc.h"
#include "client.h"
#include "loginrec.h"
#include "banned.h"

/* <berth config folder>/<name> (malloc'd). */
char *berth_client_config_file(const char *name)
{
    char *dir = berth_client_config_dir(), *p = berth_xasprintf("%s/%s", dir, name);
    free(dir);
    return p;
}

enum berth_rc berth_loginrec_load(struct berth_dockercfg **out, struct berth_err *err)
{
    char *path = berth_client_config_file("logins.json");
    enum berth_rc rc = berth_dockercfg_load(path, out, err);
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

json_t *berth_loginrec_server(struct berth_dockercfg *rec, const char *server, int create)
{
    json_t *servers = child(rec->root, "servers", create);
    return servers ? child(servers, server, create) : NULL;
}

json_t *berth_loginrec_file(struct berth_dockercfg *rec, const char *server, const char *file, int create)
{
    json_t *s = berth_loginrec_server(rec, server, create), *files;
    files = s ? child(s, "files", create) : NULL;
    return files ? child(files, file, create) : NULL;
}

enum berth_rc berth_loginrec_each_helper_server(json_t *list, struct berth_err *err)
{
    struct berth_dockercfg *rec = NULL;
    const char *server;
    json_t *v;
    enum berth_rc rc = berth_loginrec_load(&rec, err);

    if (rc) return rc;
    json_object_foreach(json_object_get(rec->root, "servers"), server, v)
        json_object_set_new(list, server, json_string(BERTH_NULL_GUID));
    berth_dockercfg_free(rec);
    return BERTH_OK;
}

enum berth_rc berth_loginrec_fresh_token(struct berth_client *cl, const char *server, char **token,
                                         struct berth_err *err)
{
    struct berth_dockercfg *rec = NULL;
    const char *registry = NULL, *session = NULL, *url;
    char hp[300], scheme[16];
    json_t *s;
    enum berth_rc rc = berth_loginrec_load(&rec, err);

    if (rc) return rc;
    s = berth_loginrec_server(rec, server, 0);
    session = json_string_value(json_object_get(s, "session"));
    if (session) {
        /* a login made with the session; -u/-p logins are not the helper's to refresh */
        registry = json_string_value(json_object_get(s, "registry"));
        cl->server = session;
    } else if (berth_client_server_url(cl, &url, err) == BERTH_OK) {
        berth_client_url_hostport(url, hp, sizeof(hp), scheme, sizeof(scheme));
        if (!strcmp(hp, server)) registry = server; /* the server's own address: its default registry */
    }
    if (!registry) {
        rc = berth_err_set(err, BERTH_ENOENT, "no berth login for '%s'", server);
        goto out;
    }
    rc = berth_client_registry_refresh_token(cl, registry, token, NULL, NULL, err);
out:
    if (cl->server == session) cl->server = NULL; /* borrowed from rec, freed below */
    berth_dockercfg_free(rec);
    return rc;
}
