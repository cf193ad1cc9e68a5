/*
 * loginrec.h - what `berth login` wrote where, kept in <berth config>/logins.json,
 * so `berth logout` removes exactly that and the credential helper knows which
 * registry (and session) a login server belongs to.
 *
 * logins.json: {"servers": {"<login server>": {"registry": "<name>", "session": "<server URL>",
 *   "files": {"<file>": {"auths": "<fingerprint>", "credHelper": "berth", "credsStore": "<helper>"}}}}}
 */
#ifndef BERTH_CLIENT_LOGINREC_H
#define BERTH_CLIENT_LOGINREC_H

#include <jansson.h>
#include "err.h"
#include "dockercfg.h"

struct berth_client;

/* <berth config folder>/<name> (see berth_client_config_dir); malloc'd. */
char *berth_client_config_file(const char *name);

/* Loads logins.json (missing = empty); save with berth_dockercfg_save. */
enum berth_rc berth_loginrec_load(struct berth_dockercfg **out, struct berth_err *err);
/* servers.<server>, created when create is set; NULL when absent. Borrowed. */
json_t *berth_loginrec_server(struct berth_dockercfg *rec, const char *server, int create);
/* servers.<server>.files.<file>, created when create is set; NULL when absent. Borrowed. */
json_t *berth_loginrec_file(struct berth_dockercfg *rec, const char *server, const char *file, int create);

/*
 * A fresh registry refresh token for server when berth knows its registry:
 * a login recorded in logins.json, or the session's own host:port (the
 * default registry). BERTH_ENOENT when server is none of these; other codes
 * when the session cannot give one (their message says why). *token is malloc'd.
 */
enum berth_rc berth_loginrec_fresh_token(struct berth_client *cl, const char *server, char **token,
                                         struct berth_err *err);

/* Adds "<server>": "<null GUID>" to list for every recorded login server. */
enum berth_rc berth_loginrec_each_helper_server(json_t *list, struct berth_err *err);

#endif
