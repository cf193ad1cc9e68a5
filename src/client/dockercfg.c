/*
 * dockercfg.c - docker's config.json and podman's auth.json: where they
 * live, a loss-free load and an atomic save, login and credential helper
 * entries, and which configured helpers are missing from PATH.
 */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include "alloc.h"
#include "base64.h"
#include "oci.h"
#include "util.h"
#include "dockercfg.h"
#include "banned.h"

/* Credential files are small; anything bigger is not one. */
#define CFG_MAX (4u << 20)

static enum berth_rc home_file(const char *rel, char **out, struct berth_err *err)
{
    const char *home = getenv("HOME");
    if (!home || !*home) return berth_err_set(err, BERTH_EINVAL, "HOME is not set: cannot find ~/%s", rel);
    *out = berth_xasprintf("%s/%s", home, rel);
    return BERTH_OK;
}

static const char *env_nonempty(const char *name)
{
    const char *v = getenv(name);
    return v && *v ? v : NULL;
}

enum berth_rc berth_dockercfg_path(enum berth_authfile_kind kind, char **out, struct berth_err *err)
{
    const char *v;

    if (kind == BERTH_AUTHFILE_DOCKER) {
        v = env_nonempty("DOCKER_CONFIG");
        if (v) {
            *out = berth_xasprintf("%s/config.json", v);
            return BERTH_OK;
        }
        return home_file(".docker/config.json", out, err);
    }
    v = env_nonempty("REGISTRY_AUTH_FILE");
    if (v) {
        *out = berth_xstrdup(v);
        return BERTH_OK;
    }
    v = env_nonempty("XDG_RUNTIME_DIR");
    if (v) {
        *out = berth_xasprintf("%s/containers/auth.json", v);
        return BERTH_OK;
    }
    /* where podman login writes without XDG_RUNTIME_DIR, and what podman and skopeo read first */
    *out = berth_xasprintf("/run/containers/%u/auth.json", (unsigned)getuid());
    (void)err;
    return BERTH_OK;
}

static int all_space(const char *s)
{
    for (; *s; s++)
        if (*s != ' ' && *s != '\t' && *s != '\n' && *s != '\r') return 0;
    return 1;
}

/* The keys docker itself reads must have the type it expects, or editing them would make things worse. */
static enum berth_rc check_shape(const char *path, const json_t *root, struct berth_err *err)
{
    static const char *const objects[] = {"auths", "credHelpers"};
    const json_t *v;
    size_t i;

    if (!json_is_object(root))
        return berth_err_set(err, BERTH_EINVAL, "'%s' does not hold a JSON object: fix or move it", path);
    for (i = 0; i < sizeof(objects) / sizeof(objects[0]); i++) {
        v = json_object_get(root, objects[i]);
        if (v && !json_is_object(v))
            return berth_err_set(err, BERTH_EINVAL, "'%s': \"%s\" is not an object: fix or move the file", path,
                                 objects[i]);
    }
    v = json_object_get(root, "credsStore");
    if (v && !json_is_string(v))
        return berth_err_set(err, BERTH_EINVAL, "'%s': \"credsStore\" is not a string: fix or move the file", path);
    return BERTH_OK;
}

enum berth_rc berth_dockercfg_load(const char *path, struct berth_dockercfg **out, struct berth_err *err)
{
    struct berth_dockercfg *cfg = NULL;
    char *text = NULL;
    json_t *root = NULL;
    json_error_t jerr;
    size_t len = 0;
    enum berth_rc rc;

    rc = berth_read_file(path, CFG_MAX, &text, &len, err);
    if (rc == BERTH_ENOENT) {
        rc = BERTH_OK;
        root = json_object();
    } else if (rc == BERTH_ETOOBIG) {
        rc = berth_err_set(err, BERTH_EINVAL, "'%s' is larger than %u bytes: not a credentials file? move it",
                           path, CFG_MAX);
        goto out;
    } else if (rc) {
        goto out; /* the message names the file and the failed call */
    } else if (all_space(text)) {
        root = json_object();
    } else {
        root = json_loadb(text, len, JSON_REJECT_DUPLICATES, &jerr);
        if (!root) {
            rc = berth_err_set(err, BERTH_EINVAL, "'%s' is not valid JSON (line %d, column %d: %s): fix or move it",
                               path, jerr.line, jerr.column, jerr.text);
            goto out;
        }
    }
    rc = check_shape(path, root, err);
    if (rc) goto out;
    cfg = berth_xcalloc(1, sizeof(*cfg));
    cfg->path = berth_xstrdup(path);
    cfg->root = root;
    root = NULL;
    *out = cfg;
out:
    if (text) explicit_bzero(text, len);
    free(text);
    json_decref(root);
    return rc;
}

/* Folder part of path ("." when none); malloc'd. */
static char *dir_of(const char *path)
{
    const char *slash = strrchr(path, '/');
    if (!slash) return berth_xstrdup(".");
    if (slash == path) return berth_xstrdup("/");
    return berth_xstrndup(path, (size_t)(slash - path));
}

enum berth_rc berth_dockercfg_save(const struct berth_dockercfg *cfg, struct berth_err *err)
{
    char *text = NULL, *target = NULL, *dir = NULL;
    struct stat st;
    enum berth_rc rc;

    /* Like docker: a config.json that is a symlink stays one, the file it points at is replaced. */
    if (lstat(cfg->path, &st) == 0 && S_ISLNK(st.st_mode)) target = realpath(cfg->path, NULL);
    if (!target) target = berth_xstrdup(cfg->path);
    dir = dir_of(target);
    rc = berth_mkdirs(dir, err);
    if (rc) goto out;
    text = json_dumps(cfg->root, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
    if (!text) {
        rc = berth_err_set(err, BERTH_EINTERNAL, "cannot encode '%s'", cfg->path);
        goto out;
    }
    /* A new file replaces the old one, so an existing file with a wider mode ends up 0600 too. */
    rc = berth_write_atomic(target, text, strlen(text), 0600, err);
out:
    if (text) explicit_bzero(text, strlen(text));
    free(text);
    free(target);
    free(dir);
    return rc;
}

void berth_dockercfg_free(struct berth_dockercfg *cfg)
{
    if (!cfg) return;
    json_decref(cfg->root);
    free(cfg->path);
    free(cfg);
}

json_t *berth_dockercfg_object(struct berth_dockercfg *cfg, const char *key)
{
    json_t *o = json_object_get(cfg->root, key);
    if (json_is_object(o)) return o;
    o = json_object();
    json_object_set_new(cfg->root, key, o);
    return o;
}

/* auths.<server> = {"auth": base64("user:password")[, "identitytoken": token]}. */
static void set_entry(struct berth_dockercfg *cfg, const char *server, const char *user, const char *password,
                      const char *identity)
{
    struct berth_buf plain = BERTH_BUF_INIT(0), b64 = BERTH_BUF_INIT(0);
    json_t *entry = json_object();

    berth_buf_printf(&plain, "%s:%s", user, password);
    berth_b64_encode(plain.p, plain.len, &b64);
    json_object_set_new(entry, "auth", json_string(berth_buf_str(&b64)));
    if (identity) json_object_set_new(entry, "identitytoken", json_string(identity));
    json_object_set_new(berth_dockercfg_object(cfg, "auths"), server, entry);
    if (plain.p) explicit_bzero(plain.p, plain.len);
    berth_buf_release(&plain);
    berth_buf_release(&b64);
}

void berth_dockercfg_set_identity(struct berth_dockercfg *cfg, const char *server, const char *token)
{
    set_entry(cfg, server, BERTH_NULL_GUID, "", token);
}

void berth_dockercfg_set_basic(struct berth_dockercfg *cfg, const char *server, const char *user, const char *password)
{
    set_entry(cfg, server, user, password, NULL);
}

int berth_dockercfg_remove(struct berth_dockercfg *cfg, const char *server)
{
    json_t *auths = json_object_get(cfg->root, "auths");
    return auths && json_object_del(auths, server) == 0;
}

void berth_dockercfg_set_helper(struct berth_dockercfg *cfg, const char *server, const char *helper)
{
    json_object_set_new(berth_dockercfg_object(cfg, "credHelpers"), server, json_string(helper));
}

int berth_dockercfg_remove_helper(struct berth_dockercfg *cfg, const char *server, const char *helper)
{
    json_t *helpers = json_object_get(cfg->root, "credHelpers");
    const char *v = json_string_value(json_object_get(helpers, server));
    if (!v || strcmp(v, helper) != 0) return 0;
    return json_object_del(helpers, server) == 0;
}

const char *berth_dockercfg_helper_for(const struct berth_dockercfg *cfg, const char *server)
{
    const char *v = json_string_value(json_object_get(json_object_get(cfg->root, "credHelpers"), server));
    if (v && *v) return v;
    v = json_string_value(json_object_get(cfg->root, "credsStore"));
    return v && *v ? v : NULL;
}

int berth_dockercfg_fingerprint(const struct berth_dockercfg *cfg, const char *server, char out[65])
{
    json_t *entry = json_object_get(json_object_get(cfg->root, "auths"), server);
    struct berth_digest d;
    char *text;

    if (!entry) return 0;
    text = json_dumps(entry, JSON_COMPACT | JSON_SORT_KEYS | JSON_ENCODE_ANY);
    if (!text) return 0;
    berth_digest_of(BERTH_DIGEST_SHA256, text, strlen(text), &d);
    snprintf(out, 65, "%s", berth_digest_hex(&d));
    explicit_bzero(text, strlen(text));
    free(text);
    return 1;
}

int berth_helper_on_path(const char *helper, const char *path_env)
{
    const char *p = path_env ? path_env : "";
    int found = 0;

    if (!*helper || strchr(helper, '/')) return 0;
    while (!found) {
        const char *colon = strchr(p, ':');
        size_t n = colon ? (size_t)(colon - p) : strlen(p);
        /* An empty PATH element means the current folder. */
        char *file = berth_xasprintf("%.*s/" BERTH_HELPER_PREFIX "%s", (int)(n ? n : 1), n ? p : ".", helper);
        struct stat st;
        found = stat(file, &st) == 0 && S_ISREG(st.st_mode) && access(file, X_OK) == 0;
        free(file);
        if (!colon) break;
        p = colon + 1;
    }
    return found;
}

size_t berth_dockercfg_missing_helpers(const struct berth_dockercfg *cfg, const char *path_env, struct berth_buf *out)
{
    const char *store = json_string_value(json_object_get(cfg->root, "credsStore"));
    json_t *helpers = json_object_get(cfg->root, "credHelpers"), *v;
    const char *server;
    size_t n = 0;

    if (store && *store && !berth_helper_on_path(store, path_env)) {
        berth_buf_printf(out, "'%s': credsStore names " BERTH_HELPER_PREFIX "%s, which is not on PATH\n", cfg->path,
                         store);
        n++;
    }
    json_object_foreach(helpers, server, v) {
        const char *h = json_string_value(v);
        if (!h || !*h || berth_helper_on_path(h, path_env)) continue;
        berth_buf_printf(out, "'%s': credHelpers[\"%s\"] names " BERTH_HELPER_PREFIX "%s, which is not on PATH\n",
                         cfg->path, server, h);
        n++;
    }
    return n;
}
