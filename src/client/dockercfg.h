/*
 * dockercfg.h - the credential files of other clients: docker's config.json
 * and podman/skopeo's auth.json (same format), plus berth's own small JSON
 * files kept beside the sessions.
 *
 * A file is loaded whole into a jansson tree and written back whole, so keys
 * berth does not know survive untouched (in their order). A file that exists
 * but cannot be read or parsed is an error naming the file and is never
 * overwritten. Writes are atomic: a temp file in the same folder, fsync,
 * rename, mode 0600; a missing folder is created 0700.
 */
#ifndef BERTH_CLIENT_DOCKERCFG_H
#define BERTH_CLIENT_DOCKERCFG_H

#include <jansson.h>
#include <stddef.h>
#include "buf.h"
#include "err.h"

/* The user name that says "the password is a registry refresh token". */
#define BERTH_NULL_GUID "00000000-0000-0000-0000-000000000000"
/* Credential helpers are programs named docker-credential-<name>. */
#define BERTH_HELPER_PREFIX "docker-credential-"
/* What `berth login --helper` writes into credHelpers. */
#define BERTH_HELPER_BERTH "berth"

enum berth_authfile_kind {
    BERTH_AUTHFILE_DOCKER, /* $DOCKER_CONFIG/config.json, else ~/.docker/config.json */
    BERTH_AUTHFILE_PODMAN, /* $REGISTRY_AUTH_FILE, else $XDG_RUNTIME_DIR/containers/auth.json,
                            else /run/containers/<uid>/auth.json: the file podman login writes */
};

struct berth_dockercfg {
    char *path;   /* owned; the file as named (symlinks are followed when writing) */
    json_t *root; /* owned; always a JSON object */
};

/* The file of that kind the environment points at; *out is malloc'd. EINVAL when HOME is needed and unset. */
enum berth_rc berth_dockercfg_path(enum berth_authfile_kind kind, char **out, struct berth_err *err);

/*
 * Loads path (borrowed). A missing or empty file is an empty object. A file
 * that cannot be read, is not JSON, is not an object, or whose "auths" /
 * "credHelpers" are not objects or "credsStore" not a string, is an error
 * whose message names the file and the fix. *out is freed with berth_dockercfg_free.
 */
enum berth_rc berth_dockercfg_load(const char *path, struct berth_dockercfg **out, struct berth_err *err);
/* Writes the tree back atomically (mode 0600, folder 0700 if missing). */
enum berth_rc berth_dockercfg_save(const struct berth_dockercfg *cfg, struct berth_err *err);
void berth_dockercfg_free(struct berth_dockercfg *cfg);

/* The object cfg.root[key], created empty if absent. Borrowed. */
json_t *berth_dockercfg_object(struct berth_dockercfg *cfg, const char *key);

/*
 * auths.<server> = {"auth": base64("<null GUID>:"), "identitytoken": token}:
 * docker's own form for an identity token, which podman and skopeo read too.
 */
void berth_dockercfg_set_identity(struct berth_dockercfg *cfg, const char *server, const char *token);
/* auths.<server> = {"auth": base64("user:password")}. */
void berth_dockercfg_set_basic(struct berth_dockercfg *cfg, const char *server, const char *user,
                               const char *password);
/* Removes auths.<server>; 1 if there was one. */
int berth_dockercfg_remove(struct berth_dockercfg *cfg, const char *server);
/* credHelpers.<server> = helper. */
void berth_dockercfg_set_helper(struct berth_dockercfg *cfg, const char *server, const char *helper);
/* Removes credHelpers.<server> when it names helper; 1 if it did. */
int berth_dockercfg_remove_helper(struct berth_dockercfg *cfg, const char *server, const char *helper);

/* The helper docker uses for server: credHelpers.<server>, else credsStore; NULL if none. Borrowed. */
const char *berth_dockercfg_helper_for(const struct berth_dockercfg *cfg, const char *server);

/*
 * A fingerprint of auths.<server> (sha256 hex of its compact, key-sorted
 * JSON), so a later logout can tell whether the entry is still the one
 * berth wrote. 0 if there is no such entry.
 */
int berth_dockercfg_fingerprint(const struct berth_dockercfg *cfg, const char *server, char out[65]);

/* Nonzero if docker-credential-<helper> is an executable file in a folder of path_env (a PATH value). */
int berth_helper_on_path(const char *helper, const char *path_env);

/*
 * Appends one line "<where> names docker-credential-<x>, which is not on PATH"
 * to out for credsStore and each credHelpers entry whose helper is missing.
 * Returns how many it found.
 */
size_t berth_dockercfg_missing_helpers(const struct berth_dockercfg *cfg, const char *path_env, struct berth_buf *out);

#endif
