/*
 * api_mgmt.h - what the files of the management API (/api/v1) share: the
 * per-request state, JSON bodies and their field checks, rights checks,
 * name rules, times and answers. Private to api_mgmt*.c.
 */
#ifndef BERTH_HTTP_API_MGMT_H
#define BERTH_HTTP_API_MGMT_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>
#include "auth.h"
#include "meta.h"
#include "access.h"
#include "http_int.h"

#define MGMT_MAGIC 0x4d474d54u /* "MGMT" */
#define MGMT_BODY_MAX (64 * 1024)

/* One management request's state; owned by the worker thread that runs the request. */
struct mgmt_state {
    uint32_t magic;
    struct principal who;  /* the caller, authenticated in api_mgmt_begin */
    struct berth_buf body; /* the request body, at most MGMT_BODY_MAX bytes */
    json_t *doc;           /* the parsed body, owned */
    char registry[BERTH_META_NAME_MAX + 1]; /* the path's registry once its right is checked (RIGHT_ON_REGISTRY) */
    int checked;           /* the row's right was checked: only then may mgmt_reply answer */
};

enum mgmt_type {
    MT_STR,
    MT_BOOL,
    MT_INT,
    MT_STRS, /* an array of strings */
    MT_OBJ,  /* a JSON object, checked by the handler */
};

/* One member a request body may carry. */
struct mgmt_field {
    const char *name;
    enum mgmt_type type;
};

#define MGMT_NFIELDS(a) (sizeof(a) / sizeof((a)[0]))

struct authz *mgmt_az(struct berth_req *req);
struct mgmt_state *mgmt_state_of(struct berth_req *req);

/*
 * Parses the body as one JSON object (duplicate keys refused) whose members
 * are all among fields, each of its type; an empty body is {}. *out is
 * borrowed from the request state. Anything else: BERTH_EREQUEST naming the
 * field.
 */
enum berth_rc mgmt_body(struct berth_req *req, const struct mgmt_field *fields, size_t n, json_t **out,
                        struct berth_err *err);
/* The string member k of o, or NULL when absent. */
const char *mgmt_str(json_t *o, const char *k);
/* A member that must be there (BERTH_EREQUEST "field 'k' is required" otherwise). */
enum berth_rc mgmt_required(json_t *o, const char *k, struct berth_err *err);

/*
 * Rights: each route row states the right its caller needs (right, right_on,
 * why in struct route); api_mgmt_finish checks it before the handler runs,
 * so handlers check nothing themselves, except those of body_checked rows,
 * which call mgmt_need_row once they know the registry concerned.
 */

/*
 * Checks that the caller holds the route row's right on registry (NULL: the
 * server); else BERTH_EDENIED "user 'bob' needs Owner on registry 'x' <the
 * row's why>".
 */
enum berth_rc mgmt_need_row(struct berth_req *req, const char *registry, struct berth_err *err);
/* Segment idx of the request path ("/api/v1/registries/x": 4 is "x") into out. BERTH_ENOROUTE if absent. */
enum berth_rc mgmt_segment(struct berth_req *req, int idx, char *out, size_t outlen, struct berth_err *err);
/*
 * The registry named by the path ({registry}), whose name and right
 * api_mgmt_finish has checked (RIGHT_ON_REGISTRY rows): BERTH_ENOENT if it
 * does not exist.
 */
enum berth_rc mgmt_registry(struct berth_req *req, struct berth_meta_registry *reg, struct berth_err *err);

/* Copies from's message into err with code rc (so a library's BERTH_EINVAL becomes a 400 INVALID_REQUEST). */
enum berth_rc mgmt_as(struct berth_err *err, enum berth_rc rc, const struct berth_err *from);

/* RFC 3339 UTC text of ms, or JSON null when ms is 0. */
json_t *mgmt_time(int64_t ms);
/*
 * An expiry from the members days_key (whole days from now, 1..36500) or
 * at_key (an RFC 3339 time in the future); giving both is an error. Neither:
 * def_days days from now, or 0 (never) when def_days is 0.
 */
enum berth_rc mgmt_expiry(json_t *o, const char *days_key, const char *at_key, int64_t def_days, int64_t *ms,
                          struct berth_err *err);

/* Name rules: BERTH_EREQUEST naming what is wrong. */
enum berth_rc mgmt_user_name_check(const char *name, struct berth_err *err);
enum berth_rc mgmt_token_name_check(const char *name, struct berth_err *err);
enum berth_rc mgmt_scopemap_name_check(const char *name, struct berth_err *err);

/*
 * A fresh secret and its hash; the caller wipes secret after use. sibling
 * (NULL or "": none) is another stored hash of the same credential, whose
 * salt the new hash shares so that a login checks them all with one argon2
 * run (berth_secret_hash_like).
 */
enum berth_rc mgmt_new_secret(char secret[BERTH_SECRET_LEN + 1], const char *sibling,
                              char hash[BERTH_SECRET_HASH_MAX], struct berth_err *err);

/*
 * Answers status with doc (taken). secret: the answer shows a secret once
 * (Cache-Control: no-store). A route whose right was not checked answers 500
 * instead (and logs it): a handler of a body_checked row that forgot
 * mgmt_need_row serves nobody.
 */
enum berth_rc mgmt_reply(struct berth_req *req, int status, json_t *doc, int secret);
/* Answers 204 No Content, with the same guard as mgmt_reply. */
enum berth_rc mgmt_reply_empty(struct berth_req *req);

/* ---- network access of a registry (api_mgmt_net.c) ---- */

/*
 * Adds "publicNetworkAccess" and "networkRuleSet" of registry reg_id to the
 * registry object o. A store error is logged and leaves them out.
 */
void mgmt_network_json_add(struct authz *az, int64_t reg_id, json_t *o);
/*
 * Reads reg's network settings and applies the members "publicNetworkAccess"
 * and "networkRuleSet" of o (each optional) to them, writing nothing. *out
 * (malloc'd, the caller frees and writes it) is NULL when o has neither.
 * Every rule is checked and kept in canonical form; a bad one is
 * BERTH_EREQUEST naming it and why.
 */
enum berth_rc mgmt_network_check(struct berth_req *req, const struct berth_meta_registry *reg, json_t *o,
                                 struct berth_meta_network **out, struct berth_err *err);
/*
 * For each rule of net that matches every client of its family (0.0.0.0/0,
 * ::/0): a sentence in the array "warnings" of doc (made when needed) and a
 * `Warning: 299 - "..."` header on the answer. Such rules are valid, but they
 * make the default action moot for that family.
 */
void mgmt_network_warnings(struct berth_req *req, const struct berth_meta_network *net, json_t *doc);

#endif
