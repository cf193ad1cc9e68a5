/*
 * access.h - the registry's login and access service: which registry a
 * request is for (Host), who the caller is (Basic credentials of every kind,
 * registry refresh and access tokens, directory tokens), what they may do
 * (admin user, scope maps, roles, anonymous pull, network rules), and the
 * tokens it issues. The transport fills a struct berth_caller once per
 * request and hands it to every decision; nothing here knows HTTP.
 * See docs/internals/auth-service.md.
 */
#ifndef BERTH_ACCESS_H
#define BERTH_ACCESS_H

#include <jansson.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include "auth.h"
#include "config.h"
#include "meta.h"

#define BERTH_AUTHZ_MAGIC 0x415a5448u /* "AZTH" */
#define BERTH_NULL_GUID "00000000-0000-0000-0000-000000000000"
#define BERTH_REGISTRY_ISSUER "berth"

enum principal_kind {
    PK_NONE = 0,
    PK_ANON,  /* no credentials, anonymous pull */
    PK_ADMIN, /* the registry's admin user */
    PK_USER,  /* a directory user */
    PK_SP,    /* a service principal */
    PK_TOKEN, /* a repository-scoped token */
};

struct token_cache;

/* Who made a request, and with which credential (so a token can be re-checked). */
struct principal {
    enum principal_kind kind;
    char id[BERTH_META_NAME_MAX + 1]; /* user id, app id, token name, registry name (admin) */
    char name[BERTH_META_NAME_MAX + 1]; /* user name, app id, token name, registry name */
    int slot;                          /* admin or token password 1 (0) or 2 (1) */
    char secret_id[37];                /* service principal secret */
    int64_t stamp;                     /* when the credential used was set (ms) */
    int64_t reg_id;                    /* registry a token was verified for (0: none) */
    char jti[37];                      /* id of the token it was verified from ("": none) */
};

/* What a route requires of the caller, filled per request from the route row. */
enum berth_access_kind {
    BERTH_ACCESS_NONE = 0,   /* no check at all (health) */
    BERTH_ACCESS_BASE,       /* any authenticated caller: GET /v2/ */
    BERTH_ACCESS_REPOSITORY, /* repository:<name>:<actions> */
    BERTH_ACCESS_CATALOG,    /* registry:catalog:* */
};

struct berth_access {
    enum berth_access_kind kind;
    const char *repo;    /* borrowed: the request's repository name, or NULL */
    const char *actions; /* "pull", "push", "pull,push", "delete", "*" */
    int any_action;      /* nonzero: pull or metadata_read suffices (the tag list) */
};

/* The credential a request came with, from its Authorization header. */
enum berth_cred_kind {
    BERTH_CRED_NONE = 0, /* no header, or an empty one */
    BERTH_CRED_BASIC,    /* "Basic ..." */
    BERTH_CRED_BEARER,   /* "Bearer ..." */
    BERTH_CRED_OTHER,    /* another scheme */
};

/*
 * Who is calling: filled once per request by the transport (address,
 * headers), then by the access decisions (registry, identity, refusal
 * reason). Owned by the request; berth_caller_release frees what it owns.
 * One thread (the request's worker) at a time.
 */
struct berth_caller {
    char ip[64];                       /* client address as text ("-": unknown) */
    struct berth_netaddr addr;         /* ip parsed, when addr_ok */
    int addr_ok;
    const char *host;                  /* borrowed: the Host header, or NULL */
    char fwd_proto[8];                 /* X-Forwarded-Proto of a trusted proxy: "http", "https" or "" */
    char fwd_host[264];                /* X-Forwarded-Host of a trusted proxy (checked), or "" */
    const char *authorization;         /* borrowed: the Authorization header, or NULL */
    enum berth_cred_kind cred;         /* what authorization holds */
    struct berth_meta_registry reg;    /* the registry the Host names, once has_reg */
    int has_reg;
    struct principal who;              /* the caller, once authenticated (kind PK_NONE before) */
    char principal[80];                /* "kind:name" of the caller, for logs ("" unknown) */
    char principal_id[65];
    enum berth_auth_reason reason;     /* of a refusal (BERTH_AUTH_OK: none) */
    char *access_json;                 /* the access claim of its Bearer token, owned (NULL: no token) */
    int catalog_claim;                 /* authorized by a catalog claim, which stands for what it lists */
    /* for the login event log; "" when not known */
    char login_kind[16];               /* identity type a login claimed: user, sp, admin, token, refresh_token */
    char login_name[80];               /* the name it claimed (never a secret) */
    char jti[37];                      /* id of the token a login was issued or presented */
    /* what a refusal asks the transport to answer with */
    char *challenge;                   /* WWW-Authenticate value, owned, or NULL */
    int retry_after;                   /* Retry-After seconds, 0: none */
};

/*
 * Where the caller reached this server, "https://registry.example.com[:port]"
 * without a trailing slash: external-url when set, else the scheme and host
 * a trusted proxy forwarded (fwd_proto, fwd_host), else the scheme served
 * and the Host header. The base of the token realm and of the directory's
 * endpoints.
 */
struct authz;
void authz_public_base(const struct authz *az, const struct berth_caller *c, char *out, size_t n);
/* Sets the borrowed headers and the credential kind; ip and addr are the transport's. */
void berth_caller_headers(struct berth_caller *c, const char *host, const char *authorization);
/* Frees what c owns. */
void berth_caller_release(struct berth_caller *c);

/* The grant_type claims the service signs; anything else counts as "other". */
#define BERTH_GRANT_TYPES(X) X(access_token) X(refresh_token) X(directory_access) X(directory_refresh) X(other)
enum berth_grant {
#define BERTH_GRANT_ROW(n) BERTH_GRANT_##n,
    BERTH_GRANT_TYPES(BERTH_GRANT_ROW)
#undef BERTH_GRANT_ROW
    BERTH_GRANT_COUNT
};
const char *berth_grant_name(enum berth_grant g);

/*
 * The service's counters, for the transport's /metrics. Owned by whoever
 * wires the service (struct berth_server); every field is an atomic updated
 * with relaxed ordering from any thread.
 */
struct berth_service_metrics {
    _Atomic uint64_t tokens_issued[BERTH_GRANT_COUNT];
    _Atomic uint64_t network_refusals; /* requests refused by a registry's network rules */
    _Atomic uint64_t events_dropped;   /* events dropped from a full queue */
};

/*
 * The service's state; read-only after authz_new but for the caches, which
 * lock themselves, and the key ring's reads (keys_lock).
 */
struct authz {
    uint32_t magic;
    struct berth_meta *meta;
    const struct berth_config *cfg;
    int shared;                 /* meta is shared with other servers: keys and limiter live in it */
    struct berth_keyring *keys; /* <data>/keys, or the metadata's signing keys when shared */
    pthread_mutex_t keys_lock;  /* guards keys_read_us; held while a shared ring is read again */
    int64_t keys_read_us;       /* when the last read of a shared ring began (monotonic) */
    struct berth_secret_cache *cache;
    struct berth_limiter *limiter; /* failed logins, when not shared (else in meta) */
    struct token_cache *tokens; /* verified tokens, locks itself */
    struct berth_service_metrics *metrics; /* borrowed, may be NULL */
    struct berth_netrule *mgmt_nets;       /* management-networks */
    size_t nmgmt_nets;
    int mgmt_only;                         /* management-networks-only */
    char tenant[37];
    int tls;
};

/*
 * Opens the key ring (under <data>/keys, or in meta when meta->ops->shared:
 * servers sharing a store share their keys), rotates it when its signer is
 * older than key-rotation-days, opens the caches and the limiter (in memory,
 * or meta's when shared), and parses management-networks (BERTH_ECONFIG
 * naming the bad item). Borrows meta, cfg and metrics (may be NULL) until
 * authz_free.
 */
enum berth_rc authz_new(struct berth_meta *meta, const struct berth_config *cfg, struct berth_service_metrics *metrics,
                        struct authz **out, struct berth_err *err);
void authz_free(struct authz *az);

/*
 * First start: the tenant, the default registry, and a user "owner" with the
 * Owner role on the server, whose random password is written once to
 * <data>/initial-owner-password (0600) and logged once. Does nothing when the
 * owner exists. *created is set when it made the owner. Servers starting at
 * once on one store: one makes the owner (and has the password file), the
 * others find it made and say so in their log.
 */
enum berth_rc authz_bootstrap(struct authz *az, int *created, struct berth_err *err);

/*
 * The registry name, created (admin off, no anonymous pull) when absent, into
 * *out; a registry another server (or berth gc) created at the same moment is
 * read back, not an error.
 */
enum berth_rc authz_registry_ensure(struct berth_meta *m, const char *name, struct berth_meta_registry *out,
                                    struct berth_err *err);

/*
 * The access check of a route that needs one (need->kind != NONE): the
 * registry (authz_registry_of), the caller's credentials, and whether they
 * grant need now. Fills c (who, principal, access claim, reason); on
 * BERTH_EUNAUTHORIZED also c->challenge, the Bearer challenge to answer with.
 * Refusals: BERTH_EUNAUTHORIZED, BERTH_EDENIED, BERTH_ETOOMANY,
 * BERTH_ENAMEUNKNOWN, with err->msg for the client.
 */
enum berth_rc authz_authorize(struct authz *az, struct berth_caller *c, const struct berth_access *need,
                              struct berth_err *err);

/*
 * The registry a request is for, from c->host; looked up once per caller
 * (c->reg), copied to *reg (may be NULL). BERTH_ENAMEUNKNOWN naming it when
 * unknown (c->reason UNKNOWN_REGISTRY).
 */
enum berth_rc authz_registry_of(struct authz *az, struct berth_caller *c, struct berth_meta_registry *reg,
                                struct berth_err *err);

/*
 * The network rules of c's registry (read from meta now, so a change applies
 * on the next request) applied to c's address. Refusal: BERTH_EDENIED with
 * c->reason NETWORK_PUBLIC_DISABLED or NETWORK_IP_DENIED, counted in the
 * service metrics. Needs c->reg (authz_registry_of first).
 */
enum berth_rc authz_network(struct authz *az, struct berth_caller *c, struct berth_err *err);
/*
 * The management API: with management-networks-only, a client outside
 * management-networks gets BERTH_EDENIED (reason NETWORK_IP_DENIED).
 * Otherwise every client may try (the API authenticates its callers).
 */
enum berth_rc authz_mgmt_network(struct authz *az, struct berth_caller *c, struct berth_err *err);
/* "<name>.<domain>": the registry's login server, the audience of its tokens. */
void authz_login_server(struct authz *az, const struct berth_meta_registry *reg, char *out, size_t outlen);

/*
 * Checks a username and password against every kind of credential of reg
 * (null GUID + refresh token, admin user, repository token, service
 * principal, directory user), with the verified-secret cache and the
 * brute-force limiter. reg NULL: the directory only (users, service
 * principals). On refusal: BERTH_EUNAUTHORIZED (or BERTH_ETOOMANY, with
 * c->retry_after) with *reason and a message for the client in err.
 */
enum berth_rc authz_password(struct authz *az, struct berth_caller *c, const struct berth_meta_registry *reg,
                             const char *user, const char *pass, struct principal *p, enum berth_auth_reason *reason,
                             struct berth_err *err);

/*
 * Checks that current is user u's password (with the limiter of the
 * directory), for a change of one's own password made with a token.
 * BERTH_EDENIED when it is missing or wrong, BERTH_ETOOMANY when locked out.
 */
enum berth_rc authz_current_password(struct authz *az, struct berth_caller *c, const struct berth_meta_user *u,
                                     const char *current, struct berth_err *err);


/* Data-plane actions p has on repo of reg, now. */
unsigned authz_grant(struct authz *az, const struct berth_meta_registry *reg, const struct principal *p,
                     const char *repo);
/* Management rights (BERTH_MGMT_*) of a user or service principal on registry (NULL: server-wide). */
unsigned authz_mgmt_rights(struct authz *az, const struct principal *p, const char *registry);
/* The union of p's management rights on the server and on every registry it has a role on. */
unsigned authz_mgmt_rights_anywhere(struct authz *az, const struct principal *p);
/*
 * Authenticates a management API caller: "Bearer <directory access token>" or
 * Basic credentials of a directory user or service principal (c->authorization).
 * On refusal BERTH_EUNAUTHORIZED (or BERTH_ETOOMANY) with *reason.
 */
enum berth_rc authz_directory_caller(struct authz *az, struct berth_caller *c, struct principal *p,
                                     enum berth_auth_reason *reason, struct berth_err *err);
/*
 * Nonzero if the caller (authorized by authz_authorize) has any of bits on
 * repo of its registry now, and, when it came with a Bearer token, the
 * token's access claim names them too (when a catalog claim authorized it,
 * that claim stands for the repositories it lists).
 */
int authz_may(struct authz *az, const struct berth_caller *c, const char *repo, unsigned bits);
/* Bits a token's access claim (JSON text; NULL grants nothing) grants on repo, or on the catalog when repo is NULL. */
unsigned authz_claim_bits(const char *access_json, const char *repo);
/* Nonzero if p may list the catalog (it can read some repository). */
int authz_catalog(struct authz *az, const struct berth_meta_registry *reg, const struct principal *p);
/*
 * What authz_grant answers, with the reasons: appends to sources (a JSON
 * array) the caller's own grants that apply to repo: its role assignments
 * ({"kind":"roleAssignment","role","scope"}), its token's scope-map rules
 * ({"kind":"scopeMap","scopeMap","system","rule"}; rule null when none
 * matches), {"kind":"adminUser"} or {"kind":"anonymousPull"}. Nothing about
 * other principals.
 */
unsigned authz_explain(struct authz *az, const struct berth_meta_registry *reg, const struct principal *p,
                       const char *repo, json_t *sources);

/*
 * Issues a registry token: grant_type "access_token" (with access = the
 * intersection of scopes and grants) or "refresh_token" (scopes ignored).
 * Appends the JWT to out; *expires_in gets its lifetime and jti_out (37
 * bytes, may be NULL) its id.
 */
enum berth_rc authz_issue(struct authz *az, const struct berth_meta_registry *reg, const struct principal *p,
                          const char *grant_type, const struct berth_scope *scopes, size_t nscopes,
                          struct berth_buf *out, int64_t *expires_in, char *jti_out, struct berth_err *err);

/*
 * Verifies a registry token of grant_type for reg and re-checks the
 * credential it came from. Fills p and, for access tokens, the granted
 * access JSON (caller frees *access_json; may be NULL).
 */
enum berth_rc authz_token(struct authz *az, const struct berth_meta_registry *reg, const char *token,
                          const char *grant_type, struct principal *p, char **access_json,
                          enum berth_auth_reason *reason, struct berth_err *err);

/*
 * Signs claims (a JSON object text) with the newest key the servers share
 * (berth_jwt_sign). A shared ring is read again first when its last read is
 * more than a few minutes old, so a server never signs for long with a key
 * another server's rotation has put behind.
 */
enum berth_rc authz_sign(struct authz *az, const char *claims, size_t len, struct berth_buf *out,
                         struct berth_err *err);
/* The JWKS document of every verifying key; a shared ring read again first (at most once a second). */
void authz_jwks(struct authz *az, struct berth_buf *out);

/* Counts a token signed with grant_type in the service metrics (authz_issue counts its own). */
void authz_count_token(struct authz *az, const char *grant_type);

#define BERTH_DIRECTORY_AUDIENCE "berth-management"

/* The directory's token issuer, "berth-directory:<tenant>". */
void authz_directory_issuer(struct authz *az, char *out, size_t n);
/*
 * Verifies a directory token (grant_type "directory_access" or
 * "directory_refresh") and re-checks the user or service principal.
 */
enum berth_rc authz_directory_token(struct authz *az, const char *token, const char *grant_type, struct principal *p,
                                    enum berth_auth_reason *reason, struct berth_err *err);

/* "anonymous", "admin", "user", "sp", "token" ("none" for PK_NONE). */
const char *authz_kind_name(enum principal_kind k);

/*
 * Notes for the login event log what a login claimed or proved: identity
 * type, name and id (each may be NULL). What is already noted is kept, so the
 * first, most specific note wins (a refresh token stays "refresh_token").
 */
void authz_note_login(struct berth_caller *c, const char *kind, const char *name, const char *id);
/* authz_note_login with p's kind, name and id, and the jti of the token p came from. */
void authz_note_principal(struct berth_caller *c, const struct principal *p);
/* Notes the id of the token a login was issued or presented (the first note wins). */
void authz_note_jti(struct berth_caller *c, const char *jti);

#endif
