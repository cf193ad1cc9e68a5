/*
 * auth.h - the pure parts of berth's access model: refusal reasons, Docker
 * token scopes, ACR scope maps, built-in roles, ES256 JWTs and their key
 * ring, secrets (argon2id hashes and the verified-secret cache) and the
 * brute-force limiter. Nothing here reads the metadata store: callers look
 * identities up and hand the facts in.
 */
#ifndef BERTH_AUTH_H
#define BERTH_AUTH_H

#include <stddef.h>
#include <stdint.h>
#include "buf.h"
#include "err.h"
#include "oci.h"

/* ---------------------------------------------------------------- reasons */

/*
 * Every refusal has one stable reason code. X(name, client text): the text
 * is what a client may see; it never tells a stranger whether a principal
 * exists (BAD_SECRET and UNKNOWN_PRINCIPAL read alike).
 */
#define BERTH_AUTH_REASON_MAP(X)                                                            \
    X(OK, "ok")                                                                             \
    X(NO_CREDENTIALS, "authentication required")                                            \
    X(BAD_SECRET, "invalid username or password")                                           \
    X(UNKNOWN_PRINCIPAL, "invalid username or password")                                    \
    X(MALFORMED_CREDENTIALS, "malformed credentials")                                       \
    X(ADMIN_DISABLED, "admin user is disabled")                                             \
    X(TOKEN_DISABLED, "repository token is disabled")                                       \
    X(CREDENTIAL_EXPIRED, "credential expired")                                             \
    X(SECRET_EXPIRED, "client secret expired")                                              \
    X(REFRESH_REVOKED, "refresh token was revoked")                                         \
    X(MALFORMED_TOKEN, "malformed token")                                                   \
    X(BAD_SIGNATURE, "token signature is invalid")                                          \
    X(UNKNOWN_KEY, "token was signed with an unknown key")                                  \
    X(ALG_MISMATCH, "token algorithm is not allowed")                                       \
    X(WRONG_ISSUER, "token was issued by someone else")                                     \
    X(WRONG_AUDIENCE, "token is for another registry")                                      \
    X(WRONG_GRANT, "token is of the wrong kind")                                            \
    X(TOKEN_EXPIRED, "token expired")                                                       \
    X(TOKEN_NOT_YET_VALID, "token is not valid yet")                                        \
    X(INSUFFICIENT_SCOPE, "insufficient scope")                                             \
    X(ANONYMOUS_DISABLED, "anonymous pull is disabled")                                     \
    X(UNKNOWN_REGISTRY, "unknown registry")                                                 \
    X(TOO_MANY_FAILURES, "too many failed attempts")                                        \
    X(NETWORK_PUBLIC_DISABLED, "public network access is disabled")                         \
    X(NETWORK_IP_DENIED, "client IP is not allowed by the network rules")                   \
    X(INVALID_CREDENTIALS, "invalid username or password")

enum berth_auth_reason {
#define BERTH_AUTH_REASON_ENUM(name, text) BERTH_AUTH_##name,
    BERTH_AUTH_REASON_MAP(BERTH_AUTH_REASON_ENUM)
#undef BERTH_AUTH_REASON_ENUM
    BERTH_AUTH_REASON_COUNT
};

const char *berth_auth_reason_name(enum berth_auth_reason r); /* "BAD_SECRET" */
const char *berth_auth_reason_text(enum berth_auth_reason r); /* "invalid username or password" */
/*
 * The reason a client is told: BAD_SECRET and UNKNOWN_PRINCIPAL (a refusal
 * before any secret was proven) both become INVALID_CREDENTIALS, so the answer
 * does not say which names exist. Logs and events keep the exact reason.
 */
enum berth_auth_reason berth_auth_reason_shown(enum berth_auth_reason r);

/* ---------------------------------------------------------------- actions and scopes */

/* Data-plane actions, as a bit set. */
#define BERTH_ACT_PULL 0x01u           /* content/read */
#define BERTH_ACT_PUSH 0x02u           /* content/write */
#define BERTH_ACT_DELETE 0x04u         /* content/delete */
#define BERTH_ACT_METADATA_READ 0x08u  /* metadata/read: tags, catalog */
#define BERTH_ACT_METADATA_WRITE 0x10u /* metadata/write */
#define BERTH_ACT_ALL 0x1fu

/*
 * Parses a Docker action list "pull,push" ("*" = all; also "delete",
 * "metadata_read", "metadata_write"; "metadataRead", "metadataWrite" too). Unknown actions are ignored (a token
 * server grants the intersection), but an empty or malformed list is
 * BERTH_EINVAL.
 */
enum berth_rc berth_actions_parse(const char *s, size_t len, unsigned *out, struct berth_err *err);
/* Writes the Docker action names of bits as a JSON array text ["pull","push"] into b. */
void berth_actions_json(unsigned bits, struct berth_buf *b);

#define BERTH_SCOPE_TYPE_MAX 32
#define BERTH_SCOPE_NAME_MAX 300

/* One resource scope "type:name:actions". */
struct berth_scope {
    char type[BERTH_SCOPE_TYPE_MAX + 1]; /* "repository", "registry", ... */
    char name[BERTH_SCOPE_NAME_MAX + 1]; /* may hold one ':' (host:port/...) */
    unsigned actions;
    char raw_actions[64];                /* as sent, for echoing back */
};

/*
 * Parses one resource scope. The type ends at the first ':', the actions
 * start after the last ':' (so "repository:localhost:5000/a:pull" works).
 * "repository(plugin):x:pull" takes the type without its class. Malformed:
 * BERTH_EINVAL with the reason.
 */
enum berth_rc berth_scope_parse(const char *s, size_t len, struct berth_scope *out, struct berth_err *err);
/*
 * Parses a space-separated list of scopes (POST form) appending to *list
 * (realloc'd; *n updated). At most 64 scopes in all (BERTH_EINVAL beyond).
 */
enum berth_rc berth_scope_list_parse(const char *s, size_t len, struct berth_scope **list, size_t *n,
                                     struct berth_err *err);

/* ---------------------------------------------------------------- scope maps */

/* One scope-map rule "repositories/<pattern>/<content|metadata>/<read|write|delete>". */
struct berth_scopemap_rule {
    char pattern[BERTH_NAME_MAX + 3]; /* "team/ *" (no space), "*" or an exact repository name */
    unsigned actions;                 /* one BERTH_ACT_* bit */
};

/*
 * Parses a rule; the pattern is a valid repository name, optionally ending in
 * "/ *" (no space), or "*" alone. Actions: content/read, content/write,
 * content/delete, metadata/read, metadata/write. Malformed: BERTH_EINVAL
 * naming what is wrong.
 */
enum berth_rc berth_scopemap_rule_parse(const char *s, size_t len, struct berth_scopemap_rule *out,
                                        struct berth_err *err);
/* Formats a rule back into its text form (out >= BERTH_NAME_MAX + 40). */
void berth_scopemap_rule_format(const struct berth_scopemap_rule *r, char *out, size_t outlen);
/* Nonzero if pattern matches repo: exact; "x/ *" matches every repo under x/ (not x); "*" all. */
int berth_scopemap_pattern_match(const char *pattern, const char *repo);
/* The union of the actions of every rule whose pattern matches repo. */
unsigned berth_scopemap_grant(const struct berth_scopemap_rule *rules, size_t n, const char *repo);

/* The system scope maps of every registry. */
struct berth_system_scopemap {
    const char *name;          /* "_repositories_pull" */
    const char *description;
    const char *const *rules;  /* NULL-terminated rule texts */
};
/* NULL-terminated table of the five system scope maps. */
const struct berth_system_scopemap *berth_system_scopemaps(void);

/* ---------------------------------------------------------------- roles */

#define BERTH_ROLE_MAP(X)                                                                   \
    X(OWNER, "Owner")                                                                       \
    X(CONTRIBUTOR, "Contributor")                                                           \
    X(READER, "Reader")                                                                     \
    X(ACRPUSH, "AcrPush")                                                                   \
    X(ACRPULL, "AcrPull")                                                                   \
    X(ACRDELETE, "AcrDelete")

enum berth_role {
#define BERTH_ROLE_ENUM(name, text) BERTH_ROLE_##name,
    BERTH_ROLE_MAP(BERTH_ROLE_ENUM)
#undef BERTH_ROLE_ENUM
    BERTH_ROLE_COUNT
};

/* Management rights, as a bit set. */
#define BERTH_MGMT_READ 0x01u   /* read registries, identities, tokens, logs */
#define BERTH_MGMT_WRITE 0x02u  /* change them */
#define BERTH_MGMT_ASSIGN 0x04u /* create and delete role assignments */

/* Case-insensitive role name -> role; BERTH_EINVAL listing the valid names. */
enum berth_rc berth_role_parse(const char *s, enum berth_role *out, struct berth_err *err);
const char *berth_role_name(enum berth_role r);
/* Data-plane actions the role grants (pull implies metadata read). */
unsigned berth_role_data_actions(enum berth_role r);
/* Management rights the role grants. */
unsigned berth_role_mgmt_rights(enum berth_role r);

enum berth_assign_scope_kind {
    BERTH_SCOPE_SERVER = 1,   /* "/" */
    BERTH_SCOPE_REGISTRY = 2, /* "/registries/<registry>" */
    BERTH_SCOPE_REPO = 3,     /* "/registries/<registry>/repositories/<prefix>" */
};

/* Where a role assignment applies. */
struct berth_assign_scope {
    enum berth_assign_scope_kind kind;
    char registry[64];                 /* for REGISTRY and REPO */
    char prefix[BERTH_NAME_MAX + 1];   /* for REPO: a repository name; covers it and everything under it/ */
};

/*
 * Parses "/", "/registries/<r>", "/registries/<r>/repositories/<prefix>" (a
 * trailing "/ *" (no space) on the prefix is accepted and dropped). Registry
 * names: 5-50 lowercase letters and digits. BERTH_EINVAL with the reason.
 */
enum berth_rc berth_assign_scope_parse(const char *s, struct berth_assign_scope *out, struct berth_err *err);
void berth_assign_scope_format(const struct berth_assign_scope *s, char *out, size_t outlen);
/* Nonzero if the scope covers the registry (repo == NULL) or the repository repo in it. */
int berth_assign_scope_covers(const struct berth_assign_scope *s, const char *registry, const char *repo);

struct berth_assignment {
    enum berth_role role;
    struct berth_assign_scope scope;
};

/* Union of data actions granted on registry/repo by the assignments. */
unsigned berth_roles_data_actions(const struct berth_assignment *a, size_t n, const char *registry, const char *repo);
/* Union of management rights on the registry (registry NULL: server-wide only). */
unsigned berth_roles_mgmt_rights(const struct berth_assignment *a, size_t n, const char *registry);
/* Nonzero if some assignment lets the caller read at least one repository of registry (for the catalog). */
int berth_roles_any_pull(const struct berth_assignment *a, size_t n, const char *registry);

/* Registry resource names: 5-50 lowercase letters and digits; uppercase gets "registry names are lowercase". */
enum berth_rc berth_registry_name_check(const char *name, struct berth_err *err);

/* ---------------------------------------------------------------- JWT (ES256) */

struct berth_keyring;

/* A stored key: its kid, its time (when the text has no creation line) and its text. Nonzero stops the walk. */
typedef int (*berth_keyring_text_fn)(const char *kid, int64_t created_ms, const char *text, void *ctx);

/*
 * Where a key ring keeps its keys, when not in a folder: anything that can
 * list, add and remove key texts (the metadata store servers share, wired
 * by src/service). A key text is a key file's content, exactly:
 * "berth-key-created-ms: N\n" and a PKCS#8 PEM block. Each call gets ctx.
 * Private keys pass through here: a storage must never log a text.
 */
struct berth_keyring_storage {
    /* Calls fn with every stored key until fn returns nonzero. */
    enum berth_rc (*list)(void *ctx, berth_keyring_text_fn fn, void *fnctx, struct berth_err *err);
    /* Stores a key under kid; a kid stored already is left as it is. */
    enum berth_rc (*add)(void *ctx, const char *kid, int64_t created_ms, const char *text, struct berth_err *err);
    /* Removes the key kid; an absent one is not an error. */
    enum berth_rc (*remove)(void *ctx, const char *kid, struct berth_err *err);
    void *ctx;        /* borrowed until berth_keyring_close */
    const char *name; /* names the storage in messages ("the metadata store"); copied */
};

/*
 * Opens the key folder dir (created 0700): loads every <kid>.pem (each must be
 * mode 0600, else BERTH_ECONFIG naming the file), and makes a new P-256 key
 * when there is none. The newest key signs; all verify. Thread-safe.
 */
enum berth_rc berth_keyring_open(const char *dir, struct berth_keyring **out, struct berth_err *err);
/*
 * Loads the keys of dir like berth_keyring_open but creates nothing: no
 * folder, no key. BERTH_ENOENT when dir is absent or holds no key file.
 * For checks that must not change the data folder (berth doctor).
 */
enum berth_rc berth_keyring_load(const char *dir, struct berth_keyring **out, struct berth_err *err);
/*
 * A ring over st (copied; st->ctx borrowed): loads every stored key (a bad
 * one is BERTH_ECONFIG naming its kid and the storage), and with create
 * makes and stores a first key when there is none, then reads the storage
 * again, so that of servers starting at once on an empty storage each ends
 * with every key stored by then. Without create, none is BERTH_ENOENT.
 */
enum berth_rc berth_keyring_open_storage(const struct berth_keyring_storage *st, int create,
                                         struct berth_keyring **out, struct berth_err *err);
void berth_keyring_close(struct berth_keyring *kr); /* NULL-safe */
/*
 * Reads the storage again: keys stored since (by another server) are
 * loaded, keys gone from it are dropped, and the newest key signs. On any
 * failure (a bad key, a storage error, a storage with no key left) the ring
 * stays as it was. Signatures and verifications in flight are not held up.
 */
enum berth_rc berth_keyring_reload(struct berth_keyring *kr, struct berth_err *err);
/* Makes and stores a new signing key (older keys keep verifying until berth_keyring_retire). */
enum berth_rc berth_keyring_rotate(struct berth_keyring *kr, struct berth_err *err);
/* Removes from the storage and the ring the keys created before before_s, never the current signer. */
enum berth_rc berth_keyring_retire(struct berth_keyring *kr, int64_t before_s, struct berth_err *err);
/* Appends the JWKS document {"keys":[...]} of every public key. */
void berth_keyring_jwks(struct berth_keyring *kr, struct berth_buf *out);
/* When the signing key was made (ms since the epoch). */
int64_t berth_keyring_current_created_ms(struct berth_keyring *kr);
/* kid of the signing key (borrowed until the next retire or reload: one thread's use, tests and logs). */
const char *berth_keyring_current_kid(struct berth_keyring *kr);

/*
 * Signs claims_json (a JSON object text) as a compact JWS with header
 * {"alg":"ES256","typ":"JWT","kid":...}; appends it to out.
 */
enum berth_rc berth_jwt_sign(struct berth_keyring *kr, const char *claims_json, size_t len, struct berth_buf *out,
                             struct berth_err *err);

/* Claims of a verified token. Strings are owned; release with berth_jwt_claims_release. */
struct berth_jwt_claims {
    char *iss, *sub, *aud, *jti, *grant_type;
    int64_t iat, nbf, exp;
    char *access_json; /* compact JSON of "access", or NULL */
    char *raw_json;    /* the whole claims object as compact JSON */
};

struct berth_jwt_expect {
    const char *iss;        /* required issuer */
    const char *aud;        /* required audience (string, or one element of an array) */
    const char *grant_type; /* required "grant_type" claim, or NULL for any */
    int64_t now;            /* seconds since the epoch */
    int64_t leeway;         /* seconds allowed on nbf and exp */
};

/*
 * Verifies a compact JWS: exactly three base64url parts, header alg ES256
 * (anything else: ALG_MISMATCH, including "none"), a kid the ring holds
 * (UNKNOWN_KEY), the signature (BAD_SIGNATURE), then iss, aud, grant_type,
 * nbf and exp with leeway. On failure returns BERTH_EUNAUTHORIZED and sets
 * *reason; a token over 8 KiB is MALFORMED_TOKEN. On success fills out.
 */
enum berth_rc berth_jwt_verify(struct berth_keyring *kr, const char *token, size_t len,
                               const struct berth_jwt_expect *want, struct berth_jwt_claims *out,
                               enum berth_auth_reason *reason, struct berth_err *err);
void berth_jwt_claims_release(struct berth_jwt_claims *c);

/* ---------------------------------------------------------------- secrets */

#define BERTH_SECRET_HASH_MAX 128 /* >= crypto_pwhash_STRBYTES */
#define BERTH_SECRET_LEN 43       /* 32 random bytes, base64url */

/* A fresh random secret (BERTH_SECRET_LEN chars + NUL), never starting with '-'. */
void berth_secret_generate(char out[BERTH_SECRET_LEN + 1]);
/* argon2id hash string of secret (libsodium, interactive limits). */
enum berth_rc berth_secret_hash(const char *secret, char out[BERTH_SECRET_HASH_MAX], struct berth_err *err);
/* Nonzero if secret matches hash (constant time). At most 2 verifications run at once. */
int berth_secret_verify(const char *hash, const char *secret);
/*
 * Like berth_secret_hash, but with the costs and salt of sibling (another
 * stored hash of the same principal) when it has our shape, so that the
 * principal's secrets can all be checked with one argon2 run
 * (berth_secret_match). Secrets made by berth_secret_generate carry 256 bits,
 * so a shared salt costs nothing. A sibling of another shape (or NULL, "")
 * gets a fresh salt.
 */
enum berth_rc berth_secret_hash_like(const char *secret, const char *sibling, char out[BERTH_SECRET_HASH_MAX],
                                     struct berth_err *err);
/*
 * Which of hashes[0..n) secret matches: the index, or -1. Costs one argon2
 * run per distinct (costs, salt) among the hashes, and exactly one when there
 * is nothing to check (n == 0, only empty or malformed hashes), so the time
 * does not tell a missing name or secret from a wrong one. A secret longer
 * than any stored one (1024 bytes) costs no run, whatever the hashes.
 */
int berth_secret_match(const char *const *hashes, size_t n, const char *secret);
/* Constant-time equality of two byte strings of possibly different lengths. */
int berth_secret_equal(const char *a, size_t alen, const char *b, size_t blen);

/*
 * The verified-secret cache: remembers that (principal, stored hash, secret)
 * verified, for ttl_s, keyed by HMAC-SHA256 under a random per-process key,
 * so neither secrets nor their hashes are kept. A changed credential has a
 * new stored hash and so misses. Bounded; thread-safe.
 */
struct berth_secret_cache;
struct berth_secret_cache *berth_secret_cache_new(int ttl_s, size_t capacity);
void berth_secret_cache_free(struct berth_secret_cache *c);
int berth_secret_cache_hit(struct berth_secret_cache *c, const char *principal, const char *hash, const char *secret,
                           int64_t now_s);
void berth_secret_cache_put(struct berth_secret_cache *c, const char *principal, const char *hash, const char *secret,
                            int64_t now_s);
/* Verifies through the cache: a hit costs one HMAC; a miss runs argon2id and fills the cache. */
int berth_secret_check(struct berth_secret_cache *c, const char *principal, const char *hash, const char *secret,
                       int64_t now_s);

/* ---------------------------------------------------------------- brute force */

/*
 * Counts failures per (principal, client IP) in a sliding window. After
 * max_failures within window_s, the pair is blocked for lockout_s. Other IPs
 * and other principals are not affected. Bounded memory; thread-safe.
 */
struct berth_limiter;
struct berth_limiter *berth_limiter_new(int max_failures, int window_s, int lockout_s, size_t capacity);
void berth_limiter_free(struct berth_limiter *l);
/* Nonzero if blocked now; *retry_after_s gets the seconds to wait. */
int berth_limiter_blocked(struct berth_limiter *l, const char *principal, const char *ip, int64_t now_s,
                          int *retry_after_s);
void berth_limiter_fail(struct berth_limiter *l, const char *principal, const char *ip, int64_t now_s);
void berth_limiter_succeed(struct berth_limiter *l, const char *principal, const char *ip);

/* ---------------------------------------------------------------- network rules */

/*
 * An IPv4 or IPv6 address. An IPv4-mapped IPv6 address (::ffff:a.b.c.d, what
 * a dual-stack socket reports for an IPv4 peer) is kept as IPv4.
 */
struct berth_netaddr {
    int family;          /* 4 or 6 */
    unsigned char a[16]; /* network byte order; IPv4 uses the first 4 */
};

/* An address or a CIDR range: addr with its top prefix bits significant, the rest zero. */
struct berth_netrule {
    struct berth_netaddr addr;
    unsigned prefix; /* 0..32 or 0..128; a bare address has the full length */
};

#define BERTH_NETRULE_TEXT_MAX 64 /* longest rule text, NUL included */

/* Parses "203.0.113.7" or "2001:db8::1" (no zone, no brackets). BERTH_EINVAL with the reason. */
enum berth_rc berth_netaddr_parse(const char *s, struct berth_netaddr *out, struct berth_err *err);
/* Text of a (canonical, as inet_ntop writes it) into out (>= 46 bytes). */
void berth_netaddr_format(const struct berth_netaddr *a, char *out, size_t outlen);
/*
 * Parses an address or "ADDR/PREFIX". Refused with the reason
 * (BERTH_EINVAL): not an address, a prefix that is not 0..32 (IPv4) or
 * 0..128 (IPv6) ("prefix length 33 is more than 32"), and host bits set
 * ("10.1.2.3/8" names the network 10.0.0.0/8 with host bits set: refused
 * rather than widened, since it is usually a typo for a single address).
 */
enum berth_rc berth_netrule_parse(const char *s, struct berth_netrule *out, struct berth_err *err);
/* Canonical text: the bare address for a full-length prefix, else "addr/prefix". out >= BERTH_NETRULE_TEXT_MAX. */
void berth_netrule_format(const struct berth_netrule *r, char *out, size_t outlen);
/* Nonzero if a is inside r (families must agree). */
int berth_netrule_match(const struct berth_netrule *r, const struct berth_netaddr *a);
/* Nonzero if a is inside any of the n rules. */
int berth_netrules_match(const struct berth_netrule *rules, size_t n, const struct berth_netaddr *a);
/*
 * Parses a comma-separated list ("127.0.0.0/8, ::1"; blanks around items
 * ignored; "" is an empty list) into *out (malloc'd, caller frees) and *n.
 * At most max items. BERTH_EINVAL naming the bad item.
 */
enum berth_rc berth_netrules_parse_list(const char *list, size_t max, struct berth_netrule **out, size_t *n,
                                        struct berth_err *err);

#endif
