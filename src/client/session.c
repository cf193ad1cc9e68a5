/*
 * session.c - the client's stored logins: <config dir>/sessions.json (0600,
 * written atomically), which server is current, and the server URL and CA
 * file a run uses. Members this code does not know are kept as they are.
 */
#include <stdlib.h>
#include <string.h>
#include "alloc.h"
#include "util.h"
#include "client.h"
#include "banned.h"

#define SESSION_FILE_MAX (1u << 20)

/* The session members and where they live in struct berth_client_session. */
static const struct {
    const char *key;
    size_t off;
} members[] = {
    {"tenant", offsetof(struct berth_client_session, tenant)},
    {"kind", offsetof(struct berth_client_session, kind)},
    {"name", offsetof(struct berth_client_session, name)},
    {"refreshToken", offsetof(struct berth_client_session, refresh_token)},
    {"secret", offsetof(struct berth_client_session, secret)},
    {"caFile", offsetof(struct berth_client_session, ca_file)},
};
#define NMEMBERS (sizeof(members) / sizeof(members[0]))

static char **slot(struct berth_client_session *s, size_t i)
{
    return (char **)((char *)s + members[i].off);
}

void berth_client_session_release(struct berth_client_session *s)
{
    size_t i;
    if (!s) return;
    for (i = 0; i < NMEMBERS; i++) {
        char **p = slot(s, i);
        if (*p) memset(*p, 0, strlen(*p));
        free(*p);
        *p = NULL;
    }
    free(s->server);
    s->server = NULL;
}

void berth_client_release(struct berth_client *cl)
{
    char **owned[] = {&cl->server_url, &cl->session_ca, &cl->password_read, &cl->dir_token, &cl->tenant};
    size_t i;
    for (i = 0; i < sizeof(owned) / sizeof(owned[0]); i++) {
        if (*owned[i]) memset(*owned[i], 0, strlen(*owned[i]));
        free(*owned[i]);
        *owned[i] = NULL;
    }
}

char *berth_client_config_dir(void)
{
    const char *v = getenv("BERTH_CONFIG_DIR");
    if (v && *v) return berth_xstrdup(v);
    v = getenv("XDG_CONFIG_HOME");
    if (v && *v) return berth_xasprintf("%s/berth", v);
    v = getenv("HOME");
    return berth_xasprintf("%s/.config/berth", v && *v ? v : ".");
}

char *berth_client_session_path(void)
{
    char *dir = berth_client_config_dir(), *p = berth_xasprintf("%s/sessions.json", dir);
    free(dir);
    return p;
}

enum berth_rc berth_client_session_load(const char *path, json_t **root, struct berth_err *err)
{
    char *text = NULL;
    size_t len = 0;
    json_error_t je;
    json_t *r = NULL;
    enum berth_rc rc;

    *root = NULL;
    rc = berth_read_file(path, SESSION_FILE_MAX, &text, &len, err);
    if (rc == BERTH_ENOENT) {
        berth_err_clear(err);
        *root = json_pack("{s:n,s:{}}", "current", "servers");
        return BERTH_OK;
    }
    if (rc) {
        struct berth_err why = *err;
        return berth_err_set(err, rc, "cannot read '%s': %s", path, berth_err_msg(&why));
    }
    r = json_loadb(text, len, 0, &je);
    if (!r) {
        rc = berth_err_set(err, BERTH_EINVAL, "cannot read '%s': line %d: %s; fix or delete it", path, je.line,
                           je.text);
    } else if (!json_is_object(r) || (json_object_get(r, "servers") && !json_is_object(json_object_get(r, "servers")))) {
        rc = berth_err_set(err, BERTH_EINVAL, "cannot read '%s': %s; fix or delete it", path,
                           json_is_object(r) ? "\"servers\" is not an object" : "it is not a JSON object");
    } else {
        if (!json_object_get(r, "servers")) json_object_set_new(r, "servers", json_object());
        *root = r;
        r = NULL;
    }
    json_decref(r);
    if (text) memset(text, 0, len);
    free(text);
    return rc;
}

enum berth_rc berth_client_session_save(const char *path, const json_t *root, struct berth_err *err)
{
    char *dir = berth_xstrdup(path), *slash = strrchr(dir, '/'), *text = NULL;
    enum berth_rc rc = BERTH_OK;

    if (slash) {
        *slash = '\0';
        rc = berth_mkdirs(dir, err);
        if (rc) goto out;
    }
    text = json_dumps(root, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
    rc = berth_write_atomic(path, text, strlen(text), 0600, err);
    if (rc) {
        struct berth_err why = *err;
        rc = berth_err_set(err, rc, "cannot write '%s': %s", path, berth_err_msg(&why));
    }
out:
    if (text) memset(text, 0, strlen(text));
    free(text);
    free(dir);
    return rc;
}

enum berth_rc berth_client_session_get(const json_t *root, const char *server, struct berth_client_session *out,
                                       struct berth_err *err)
{
    const json_t *o;
    size_t i;

    memset(out, 0, sizeof(*out));
    if (!server) server = json_string_value(json_object_get(root, "current"));
    if (!server) return berth_err_set(err, BERTH_ENOENT, "not logged in: run 'berth auth login --server URL'");
    o = json_object_get(json_object_get(root, "servers"), server);
    if (!json_is_object(o))
        return berth_err_set(err, BERTH_ENOENT, "not logged in to %s: run 'berth auth login --server %s'", server,
                             server);
    out->server = berth_xstrdup(server);
    for (i = 0; i < NMEMBERS; i++) {
        const char *v = json_string_value(json_object_get(o, members[i].key));
        *slot(out, i) = v ? berth_xstrdup(v) : NULL;
    }
    return BERTH_OK;
}

void berth_client_session_put(json_t *root, const struct berth_client_session *s, int current)
{
    json_t *servers = json_object_get(root, "servers"), *o;
    size_t i;

    if (!json_is_object(servers)) {
        servers = json_object();
        json_object_set_new(root, "servers", servers);
    }
    o = json_object_get(servers, s->server);
    if (!json_is_object(o)) {
        o = json_object();
        json_object_set_new(servers, s->server, o);
    }
    for (i = 0; i < NMEMBERS; i++) {
        const char *v = *slot((struct berth_client_session *)s, i);
        if (v) json_object_set_new(o, members[i].key, json_string(v));
        else json_object_del(o, members[i].key);
    }
    if (current) json_object_set_new(root, "current", json_string(s->server));
}

enum berth_rc berth_client_server_url(struct berth_client *cl, const char **url, struct berth_err *err)
{
    struct berth_client_session s;
    json_t *root = NULL;
    char *path = NULL;
    size_t n;
    enum berth_rc rc = BERTH_OK;

    if (cl->server_url) goto done;
    if (cl->server) {
        n = strlen(cl->server);
        while (n && cl->server[n - 1] == '/') n--;
        if (strncmp(cl->server, "http://", 7) != 0 && strncmp(cl->server, "https://", 8) != 0) {
            rc = berth_err_set(err, BERTH_EINVAL, "--server '%s' is not a URL: use http://host:port or https://host",
                               cl->server);
            goto out;
        }
        cl->server_url = berth_xstrndup(cl->server, n);
    }
    path = berth_client_session_path();
    rc = berth_client_session_load(path, &root, err);
    if (rc && cl->server_url) {
        rc = BERTH_OK; /* an explicit server needs no session file */
        berth_err_clear(err);
        goto done;
    }
    if (rc) goto out;
    rc = berth_client_session_get(root, cl->server_url, &s, err);
    if (rc == BERTH_ENOENT && !cl->server_url)
        rc = berth_err_set(err, BERTH_EINVAL, "no server: pass --server URL or log in with 'berth auth login --server "
                                              "URL'");
    if (rc == BERTH_ENOENT) {
        rc = BERTH_OK;
        berth_err_clear(err);
        goto done;
    }
    if (rc) goto out;
    if (!cl->server_url) cl->server_url = berth_xstrdup(s.server);
    if (s.ca_file) cl->session_ca = berth_xstrdup(s.ca_file);
    berth_client_session_release(&s);
done:
    *url = cl->server_url;
out:
    json_decref(root);
    free(path);
    return rc;
}
