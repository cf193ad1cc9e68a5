/*
 * access.c - the login and access service: registry resolution from Host,
 * network rules, credential checks for every identity kind, grants from the
 * admin user, scope maps, roles and anonymous pull, token issue and
 * verification, and the access check of a route with its Bearer challenges.
 *
 * Tokens carry a "berth" claim naming the credential they came from (kind,
 * id, password slot or secret id, and when that credential was set). Every
 * use re-checks it and re-evaluates the grants, so disabling, deleting or
 * regenerating a credential, or removing a role, takes effect on the next
 * request.
 */
#include <ctype.h>
#include <jansson.h>
#include <limits.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>
#include "alloc.h"
#include "base64.h"
#include "log.h"
#include "parse.h"
#include "util.h"
#include "access.h"
#include "banned.h"

#define USER_MAX 256
#define PASS_MAX 8192
#define NET_LIST_MAX 1000 /* items in management-networks */

static struct authz *authz_of(struct authz *az)
{
    if (!az || az->magic != BERTH_AUTHZ_MAGIC) abort();
    return az;
}

/* ---------------------------------------------------------------- the caller */

void berth_caller_headers(struct berth_caller *c, const char *host, const char *authorization)
{
    c->host = host;
    c->authorization = authorization;
    if (!authorization || !*authorization) c->cred = BERTH_CRED_NONE;
    else if (!strncasecmp(authorization, "Basic ", 6)) c->cred = BERTH_CRED_BASIC;
    else if (!strncasecmp(authorization, "Bearer ", 7)) c->cred = BERTH_CRED_BEARER;
    else c->cred = BERTH_CRED_OTHER;
}

void berth_caller_release(struct berth_caller *c)
{
    free(c->access_json);
    c->access_json = NULL;
    free(c->challenge);
    c->challenge = NULL;
}

static const char *const grant_names[] = {
#define GRANT_NAME(n) #n,
    BERTH_GRANT_TYPES(GRANT_NAME)
#undef GRANT_NAME
};

const char *berth_grant_name(enum berth_grant g)
{
    return (unsigned)g < BERTH_GRANT_COUNT ? grant_names[g] : "other";
}

static void count(_Atomic uint64_t *c)
{
    atomic_fetch_add_explicit(c, 1, memory_order_relaxed);
}

void authz_count_token(struct authz *az, const char *grant_type)
{
    size_t i;
    if (!az->metrics) return;
    for (i = 0; i < BERTH_GRANT_COUNT - 1; i++)
        if (!strcmp(grant_type, grant_names[i])) break;
    count(&az->metrics->tokens_issued[i]);
}

/* ---------------------------------------------------------------- verified-token cache */

/*
 * A token's signature and claims need checking once: later uses within a
 * minute look it up by its SHA-256 (the credential it came from is still
 * re-checked on every use). Fixed size, one lock, oldest-out per slot.
 */
#define TOKEN_CACHE_SLOTS 4096
#define TOKEN_CACHE_TTL_S 60

struct token_entry {
    unsigned char key[32]; /* SHA-256 of grant_type, '\0', token */
    int64_t until_s;       /* min(exp + leeway, cached + TTL) */
    int64_t nbf_s;
    struct principal p;
    char *access_json;     /* owned */
};

struct token_cache {
    pthread_mutex_t lock; /* guards slots */
    struct token_entry slots[TOKEN_CACHE_SLOTS];
};

static void token_key(const char *grant_type, const char *token, unsigned char out[32])
{
    struct berth_digest d;
    struct berth_hasher h;
    berth_hasher_init(&h, BERTH_DIGEST_SHA256);
    berth_hasher_update(&h, grant_type, strlen(grant_type) + 1);
    berth_hasher_update(&h, token, strlen(token));
    berth_hasher_final(&h, &d);
    berth_hasher_release(&h);
    berth_hex_decode(berth_digest_hex(&d), 64, out, NULL);
}

static struct token_cache *token_cache_new(void)
{
    struct token_cache *c = berth_xcalloc(1, sizeof(*c));
    pthread_mutex_init(&c->lock, NULL);
    return c;
}

static void token_cache_free(struct token_cache *c)
{
    size_t i;
    if (!c) return;
    for (i = 0; i < TOKEN_CACHE_SLOTS; i++) free(c->slots[i].access_json);
    pthread_mutex_destroy(&c->lock);
    free(c);
}

static int token_cache_get(struct token_cache *c, const unsigned char key[32], int64_t now, int64_t leeway,
                           struct principal *p, char **access_json)
{
    struct token_entry *e;
    int hit = 0;
    unsigned idx = ((unsigned)key[0] | (unsigned)key[1] << 8) % TOKEN_CACHE_SLOTS;

    pthread_mutex_lock(&c->lock);
    e = &c->slots[idx];
    if (e->until_s > now && e->nbf_s <= now + leeway && !memcmp(e->key, key, 32)) {
        *p = e->p;
        if (access_json) *access_json = e->access_json ? berth_xstrdup(e->access_json) : NULL;
        hit = 1;
    }
    pthread_mutex_unlock(&c->lock);
    return hit;
}

static void token_cache_put(struct token_cache *c, const unsigned char key[32], int64_t until, int64_t nbf,
                            const struct principal *p, const char *access_json)
{
    unsigned idx = ((unsigned)key[0] | (unsigned)key[1] << 8) % TOKEN_CACHE_SLOTS;
    struct token_entry *e;

    pthread_mutex_lock(&c->lock);
    e = &c->slots[idx];
    free(e->access_json);
    memcpy(e->key, key, 32);
    e->until_s = until;
    e->nbf_s = nbf;
    e->p = *p;
    e->access_json = access_json ? berth_xstrdup(access_json) : NULL;
    pthread_mutex_unlock(&c->lock);
}

/* ---------------------------------------------------------------- signing keys */

/*
 * The key ring's storage when servers share the metadata: the store's
 * signing keys (meta->auth), so every server verifies every key and a
 * rotation on one is a rotation on all.
 */
static enum berth_rc meta_keys_list(void *ctx, berth_keyring_text_fn fn, void *fnctx, struct berth_err *err)
{
    struct berth_meta *m = ctx;
    return m->auth->key_list(m, fn, fnctx, err);
}

static enum berth_rc meta_keys_add(void *ctx, const char *kid, int64_t created_ms, const char *text,
                                   struct berth_err *err)
{
    struct berth_meta *m = ctx;
    return m->auth->key_add(m, kid, created_ms, text, NULL, err);
}

static enum berth_rc meta_keys_remove(void *ctx, const char *kid, struct berth_err *err)
{
    struct berth_meta *m = ctx;
    return m->auth->key_remove(m, kid, err);
}

#define KEYS_READ_MIN_US 1000000LL      /* a shared ring is read again at most once a second on demand */
#define KEYS_STALE_US (300 * 1000000LL) /* and before signing, when its last read is older than this */

/*
 * Reads a shared key ring again, unless a read has begun since since_us
 * (then, holding the lock, it has ended) or one that found no newer signer
 * began less than a second ago: a flood of tokens naming keys nobody has
 * cannot hammer the store, while a read that found a new key (servers
 * starting at once, a rotation) leaves the next one free. Nonzero when the
 * ring was read at or after since_us.
 */
static int keys_read(struct authz *az, int64_t since_us)
{
    struct berth_err err = BERTH_ERR_INIT;
    int64_t now, signer;
    int fresh = 0;

    if (!az->shared) return 0;
    pthread_mutex_lock(&az->keys_lock);
    now = berth_mono_us();
    if (az->keys_read_us >= since_us) {
        fresh = 1;
    } else if (now - az->keys_read_us >= KEYS_READ_MIN_US) {
        signer = berth_keyring_current_created_ms(az->keys);
        az->keys_read_us = now;
        if (berth_keyring_reload(az->keys, &err) == BERTH_OK) fresh = 1;
        else BERTH_LOG(BERTH_LOG_ERROR, "msg=\"cannot read the signing keys again\" err=\"%s\"", berth_err_msg(&err));
        if (fresh && berth_keyring_current_created_ms(az->keys) != signer) az->keys_read_us = now - KEYS_READ_MIN_US;
    }
    pthread_mutex_unlock(&az->keys_lock);
    return fresh;
}

/*
 * berth_jwt_verify, and once more after reading a shared ring again when
 * the token names a key the ring does not hold: one another server made.
 */
static enum berth_rc verify(struct authz *az, const char *token, const struct berth_jwt_expect *want,
                            struct berth_jwt_claims *c, enum berth_auth_reason *reason, struct berth_err *err)
{
    int64_t t = berth_mono_us();
    enum berth_rc rc = berth_jwt_verify(az->keys, token, strlen(token), want, c, reason, err);

    if (rc == BERTH_EUNAUTHORIZED && *reason == BERTH_AUTH_UNKNOWN_KEY && keys_read(az, t))
        rc = berth_jwt_verify(az->keys, token, strlen(token), want, c, reason, err);
    return rc;
}

enum berth_rc authz_sign(struct authz *az, const char *claims, size_t len, struct berth_buf *out,
                         struct berth_err *err)
{
    int64_t stale = berth_mono_us() - KEYS_STALE_US;
    int old;

    pthread_mutex_lock(&az->keys_lock);
    old = az->keys_read_us < stale;
    pthread_mutex_unlock(&az->keys_lock);
    if (old) keys_read(az, stale);
    return berth_jwt_sign(az->keys, claims, len, out, err);
}

void authz_jwks(struct authz *az, struct berth_buf *out)
{
    keys_read(az, berth_mono_us() - KEYS_READ_MIN_US);
    berth_keyring_jwks(az->keys, out);
}

/* Opens the ring, and rotates it when its signer is older than key-rotation-days. */
static enum berth_rc keys_open(struct authz *az, struct berth_err *err)
{
    const struct berth_config *cfg = az->cfg;
    struct berth_keyring_storage st = {meta_keys_list, meta_keys_add, meta_keys_remove, az->meta,
                                       "the metadata store"};
    char *dir = NULL;
    int64_t prev_s;
    enum berth_rc rc;

    if (az->shared) {
        rc = berth_keyring_open_storage(&st, 1, &az->keys, err);
    } else {
        dir = berth_xasprintf("%s/keys", cfg->data);
        rc = berth_keyring_open(dir, &az->keys, err);
        free(dir);
    }
    if (rc) return rc;
    /* the read at open does not hold up the first read a token asks for */
    az->keys_read_us = berth_mono_us() - KEYS_READ_MIN_US;
    if (cfg->key_rotation <= 0 ||
        berth_now_ms() - berth_keyring_current_created_ms(az->keys) <= cfg->key_rotation * 86400000LL)
        return BERTH_OK;
    /* The previous signer keeps verifying (its tokens live far shorter than a rotation
       period); anything older than it is no longer needed. */
    prev_s = berth_keyring_current_created_ms(az->keys) / 1000;
    rc = berth_keyring_rotate(az->keys, err);
    if (rc) return rc;
    BERTH_LOG(BERTH_LOG_INFO, "msg=\"rotated the token signing key\" kid=%s storage=%s",
              berth_keyring_current_kid(az->keys), az->shared ? "metadata" : "folder");
    return berth_keyring_retire(az->keys, prev_s, err);
}

enum berth_rc authz_new(struct berth_meta *meta, const struct berth_config *cfg, struct berth_service_metrics *metrics,
                        struct authz **out, struct berth_err *err)
{
    struct authz *az = berth_xcalloc(1, sizeof(*az));
    struct berth_err lerr = BERTH_ERR_INIT;
    enum berth_rc rc;

    az->magic = BERTH_AUTHZ_MAGIC;
    az->meta = meta;
    az->cfg = cfg;
    az->metrics = metrics;
    az->shared = meta->ops->shared != 0;
    pthread_mutex_init(&az->keys_lock, NULL);
    az->tls = cfg->tls_cert[0] != '\0';
    az->mgmt_only = cfg->management_networks_only != 0;
    if (berth_netrules_parse_list(cfg->management_networks, NET_LIST_MAX, &az->mgmt_nets, &az->nmgmt_nets, &lerr) !=
        BERTH_OK) {
        rc = berth_err_set(err, BERTH_ECONFIG, "config 'management-networks': %s", berth_err_msg(&lerr));
        goto out;
    }
    rc = keys_open(az, err);
    if (rc) goto out;
    rc = meta->reg->tenant_id(meta, az->tenant, err);
    if (rc) goto out;
    az->cache = berth_secret_cache_new((int)cfg->secret_cache_ttl, 4096);
    az->tokens = token_cache_new();
    if (!az->shared)
        az->limiter =
            berth_limiter_new((int)cfg->login_failures, (int)cfg->login_window, (int)cfg->login_lockout, 65536);
    *out = az;
    az = NULL;
out:
    authz_free(az);
    return rc;
}

void authz_free(struct authz *az)
{
    if (!az) return;
    berth_keyring_close(az->keys);
    pthread_mutex_destroy(&az->keys_lock);
    berth_secret_cache_free(az->cache);
    token_cache_free(az->tokens);
    berth_limiter_free(az->limiter);
    free(az->mgmt_nets);
    az->magic = 0;
    free(az);
}

/* ---------------------------------------------------------------- bootstrap */

enum berth_rc authz_registry_ensure(struct berth_meta *m, const char *name, struct berth_meta_registry *out,
                                    struct berth_err *err)
{
    enum berth_rc rc;

    rc = m->reg->registry_get(m, name, 0, out, err);
    if (rc != BERTH_ENOENT) return rc;
    memset(out, 0, sizeof(*out));
    snprintf(out->name, sizeof(out->name), "%s", name);
    rc = m->reg->registry_create(m, out, err);
    /* another process (a second server, gc) may have created it meanwhile */
    if (rc == BERTH_EEXIST) return m->reg->registry_get(m, name, 0, out, err);
    if (rc == BERTH_OK)
        BERTH_LOG(BERTH_LOG_INFO, "msg=\"created registry\" registry=%s id=%lld", name, (long long)out->id);
    return rc;
}

enum berth_rc authz_bootstrap(struct authz *az, int *created, struct berth_err *err)
{
    struct berth_meta *m = az->meta;
    struct berth_meta_registry reg;
    struct berth_meta_user u;
    struct berth_meta_assignment a;
    char secret[BERTH_SECRET_LEN + 1], *path = NULL, *text = NULL, host[256];
    enum berth_rc rc;

    *created = 0;
    rc = authz_registry_ensure(m, az->cfg->default_registry, &reg, err);
    if (rc) goto out;
    rc = m->dir->user_get(m, "owner", NULL, &u, err);
    if (rc != BERTH_ENOENT) goto out;
    memset(&u, 0, sizeof(u));
    snprintf(u.name, sizeof(u.name), "owner");
    berth_secret_generate(secret);
    rc = berth_secret_hash(secret, u.hash, err);
    if (rc) goto out;
    u.password_set_ms = berth_now_ms();
    rc = m->dir->user_create(m, &u, err);
    if (rc == BERTH_EEXIST) {
        /* a server sharing the store made it a moment ago: its password file is in that server's data folder */
        BERTH_LOG(BERTH_LOG_INFO, "msg=\"user 'owner' was created by another server starting at the same time; its "
                                  "initial-owner-password file is in that server's data folder, not in %s\"",
                  az->cfg->data);
        rc = BERTH_OK;
        goto out;
    }
    if (rc) goto out;
    memset(&a, 0, sizeof(a));
    snprintf(a.principal_type, sizeof(a.principal_type), "user");
    snprintf(a.principal_id, sizeof(a.principal_id), "%s", u.id);
    snprintf(a.role, sizeof(a.role), "Owner");
    snprintf(a.scope, sizeof(a.scope), "/");
    rc = m->dir->assignment_create(m, &a, err);
    if (rc) goto out;
    path = berth_xasprintf("%s/initial-owner-password", az->cfg->data);
    text = berth_xasprintf("%s\n", secret);
    rc = berth_write_atomic(path, text, strlen(text), 0600, err);
    if (rc) goto out;
    if (gethostname(host, sizeof(host)) != 0) snprintf(host, sizeof(host), "-");
    host[sizeof(host) - 1] = '\0';
    /* Shown once so the operator can log in; afterwards only its hash exists. Servers sharing the store
       have no copy: the log names the machine and the file. */
    BERTH_LOG(BERTH_LOG_INFO, "msg=\"created user 'owner' with the Owner role\" password_file=%s host=%s", path, host);
    *created = 1;
out:
    if (text) explicit_bzero(text, strlen(text));
    free(text);
    free(path);
    explicit_bzero(secret, sizeof(secret));
    return rc;
}

/* ---------------------------------------------------------------- registries */

void authz_login_server(struct authz *az, const struct berth_meta_registry *reg, char *out, size_t outlen)
{
    snprintf(out, outlen, "%s.%s", reg->name, az->cfg->domain);
}

enum berth_rc authz_registry_of(struct authz *az, struct berth_caller *c, struct berth_meta_registry *reg,
                                struct berth_err *err)
{
    const char *host = c->host;
    const char *domain = az->cfg->domain;
    char h[256], name[BERTH_META_NAME_MAX + 1];
    size_t n = 0, dl = strlen(domain);
    const char *want = az->cfg->default_registry;
    enum berth_rc rc;

    if (c->has_reg) {
        if (reg) *reg = c->reg;
        return BERTH_OK;
    }
    if (host) {
        /* host without the port, lower-cased; "[v6]:port" keeps its brackets */
        for (; host[n] && n + 1 < sizeof(h); n++) {
            if (host[n] == ':' && host[0] != '[') break;
            h[n] = (char)tolower((unsigned char)host[n]);
        }
        h[n] = '\0';
        if (n > dl + 1 && h[n - dl - 1] == '.' && !strcmp(h + n - dl, domain)) {
            size_t ln = n - dl - 1;
            if (ln < sizeof(name) && !memchr(h, '.', ln)) {
                memcpy(name, h, ln);
                name[ln] = '\0';
                want = name;
            }
        }
    }
    rc = az->meta->reg->registry_get(az->meta, want, 0, &c->reg, err);
    if (rc == BERTH_ENOENT) {
        c->reason = BERTH_AUTH_UNKNOWN_REGISTRY;
        return berth_err_set(err, BERTH_ENAMEUNKNOWN, "registry '%s' does not exist on this server", want);
    }
    if (rc) return rc;
    c->has_reg = 1;
    if (reg) *reg = c->reg;
    return BERTH_OK;
}

/* ---------------------------------------------------------------- networks */

/* Nonzero if ip is inside one of the stored rule texts; a rule that does not parse matches nothing. */
static int allowed_by(const struct berth_meta_network *net, const struct berth_netaddr *ip, int64_t reg_id)
{
    struct berth_netrule r;
    size_t i;

    for (i = 0; i < net->nrules; i++) {
        if (berth_netrule_parse(net->rules[i], &r, NULL) != BERTH_OK) {
            BERTH_LOG(BERTH_LOG_WARN, "msg=\"stored ip rule does not parse; ignored\" registry_id=%lld rule=\"%.64s\"",
                      (long long)reg_id, net->rules[i]);
            continue;
        }
        if (berth_netrule_match(&r, ip)) return 1;
    }
    return 0;
}

enum berth_rc authz_network(struct authz *az, struct berth_caller *c, struct berth_err *err)
{
    struct berth_meta_network *net = berth_xmalloc(sizeof(*net));
    const struct berth_meta_registry *reg = &c->reg;
    enum berth_rc rc;

    az = authz_of(az);
    rc = az->meta->reg->network_get(az->meta, reg->id, net, err);
    if (rc) goto out;
    if (!net->public_network) {
        c->reason = BERTH_AUTH_NETWORK_PUBLIC_DISABLED;
        if (az->metrics) count(&az->metrics->network_refusals);
        rc = berth_err_set(err, BERTH_EDENIED, "public network access is disabled for registry '%s'", reg->name);
        goto out;
    }
    if (net->default_allow) goto out;
    if (!c->addr_ok || !allowed_by(net, &c->addr, reg->id)) {
        c->reason = BERTH_AUTH_NETWORK_IP_DENIED;
        if (az->metrics) count(&az->metrics->network_refusals);
        rc = berth_err_set(err, BERTH_EDENIED,
                           "client IP %s is not allowed by the network rules of registry '%s' (default action Deny, "
                           "no rule matches)", c->ip, reg->name);
    }
out:
    free(net);
    return rc;
}

enum berth_rc authz_mgmt_network(struct authz *az, struct berth_caller *c, struct berth_err *err)
{
    az = authz_of(az);
    if (!az->mgmt_only) return BERTH_OK;
    if (c->addr_ok && berth_netrules_match(az->mgmt_nets, az->nmgmt_nets, &c->addr)) return BERTH_OK;
    c->reason = BERTH_AUTH_NETWORK_IP_DENIED;
    return berth_err_set(err, BERTH_EDENIED,
                         "client IP %s is not in the management networks of this server (setting "
                         "management-networks)",
                         c->ip);
}

/* ---------------------------------------------------------------- credentials */

static int expired_text(int64_t ms, char *out, size_t n)
{
    berth_time_rfc3339(ms / 1000, out, n);
    return 0;
}

/*
 * Which of a credential's stored hashes pass matches (-1: none): first the
 * verified-secret cache, then one argon2 run for all of them
 * (berth_secret_match, which also runs exactly once when there is nothing to
 * check), so an unknown name, a user, a token with two passwords and a
 * service principal with many secrets cost the same. keys[i] names hashes[i]
 * in the cache.
 */
static int match_hashes(struct authz *az, const char *const *keys, const char *const *hashes, size_t n,
                        const char *pass)
{
    int64_t now = berth_now_s();
    size_t i;
    int hit;

    for (i = 0; i < n; i++)
        if (hashes[i][0] && berth_secret_cache_hit(az->cache, keys[i], hashes[i], pass, now)) return (int)i;
    hit = berth_secret_match(hashes, n, pass);
    if (hit >= 0) berth_secret_cache_put(az->cache, keys[hit], hashes[hit], pass, now);
    return hit;
}

/* Checks pass against the stored hashes of slots 0 and 1; returns the slot or -1. */
static int match_slots(struct authz *az, const char *key, const char hashes[2][BERTH_META_HASH_MAX],
                       const char *pass)
{
    char k0[160], k1[160];
    const char *keys[2] = {k0, k1}, *h[2] = {hashes[0], hashes[1]};

    snprintf(k0, sizeof(k0), "%s#0", key);
    snprintf(k1, sizeof(k1), "%s#1", key);
    return match_hashes(az, keys, h, 2, pass);
}

/* A service principal's secrets, read before any is checked. */
struct sp_secrets {
    struct berth_meta_sp_secret *v;
    size_t n, cap;
};

static int sp_secret_collect(const struct berth_meta_sp_secret *s, void *p)
{
    struct sp_secrets *c = p;
    if (c->n == c->cap) {
        c->cap = c->cap ? 2 * c->cap : 8;
        c->v = berth_xrealloc(c->v, c->cap * sizeof(*c->v));
    }
    c->v[c->n++] = *s;
    return 0;
}

/* Checks pass against every secret of service principal app_id; the index into set or -1. */
static int match_sp(struct authz *az, const char *app_id, const struct sp_secrets *set, const char *pass)
{
    const char **keys = berth_xcalloc(set->n + 1, sizeof(*keys)), **h = berth_xcalloc(set->n + 1, sizeof(*h));
    char key[80];
    size_t i;
    int hit;

    /* the hash is part of the cache key, so one name serves every secret */
    snprintf(key, sizeof(key), "sp:%s", app_id);
    for (i = 0; i < set->n; i++) {
        keys[i] = key;
        h[i] = set->v[i].hash;
    }
    hit = match_hashes(az, keys, h, set->n, pass);
    free(keys);
    free(h);
    return hit;
}

/* Spends what a check of a real credential costs, for a name that has none. */
static void match_nothing(struct authz *az, const char *pass)
{
    match_hashes(az, NULL, NULL, 0, pass);
}

static enum berth_rc refuse(enum berth_auth_reason r, enum berth_auth_reason *reason, struct berth_err *err,
                            const char *fmt, ...) __attribute__((format(printf, 4, 5)));

static enum berth_rc refuse(enum berth_auth_reason r, enum berth_auth_reason *reason, struct berth_err *err,
                            const char *fmt, ...)
{
    va_list ap;
    *reason = r;
    if (!err) return BERTH_EUNAUTHORIZED;
    err->code = BERTH_EUNAUTHORIZED;
    va_start(ap, fmt);
    vsnprintf(err->msg, sizeof(err->msg), fmt, ap);
    va_end(ap);
    return BERTH_EUNAUTHORIZED;
}

/*
 * Until a secret is proven, every refusal is BAD_SECRET or UNKNOWN_PRINCIPAL
 * with the same message (the client sees INVALID_CREDENTIALS for both, see
 * berth_auth_reason_shown) and the same cost, one argon2 run. Reasons that
 * only a correct secret reaches (a disabled admin user or token, an expired
 * password or secret) are named in the message.
 */
static enum berth_rc check_password(struct authz *az, const struct berth_meta_registry *reg, const char *user,
                                    const char *pass, struct principal *p, enum berth_auth_reason *reason,
                                    struct berth_err *err)
{
    struct berth_meta *m = az->meta;
    struct berth_meta_token tok;
    struct berth_meta_user u;
    struct berth_meta_sp sp;
    struct sp_secrets set = {NULL, 0, 0};
    struct berth_err lerr = BERTH_ERR_INIT;
    char key[160], when[32];
    int slot, hit;
    enum berth_rc rc;

    memset(p, 0, sizeof(*p));
    if (!reg) goto directory;
    if (!strcmp(user, BERTH_NULL_GUID))
        return authz_token(az, reg, pass, "refresh_token", p, NULL, reason, err);
    if (!strcmp(user, reg->name)) {
        p->kind = PK_ADMIN;
        snprintf(key, sizeof(key), "admin:%lld", (long long)reg->id);
        slot = match_slots(az, key, reg->admin_hash, pass);
        if (slot < 0) return refuse(BERTH_AUTH_BAD_SECRET, reason, err, "invalid username or password");
        if (!reg->admin_enabled)
            return refuse(BERTH_AUTH_ADMIN_DISABLED, reason, err,
                          "admin user is disabled for registry '%s': enable it or use another credential", reg->name);
        p->kind = PK_ADMIN;
        snprintf(p->id, sizeof(p->id), "%s", reg->name);
        snprintf(p->name, sizeof(p->name), "%s", reg->name);
        p->slot = slot;
        p->stamp = reg->admin_set_ms[slot];
        return BERTH_OK;
    }
    rc = m->dir->token_get(m, reg->id, user, &tok, &lerr);
    if (rc == BERTH_OK) {
        p->kind = PK_TOKEN;
        snprintf(key, sizeof(key), "token:%lld:%s", (long long)reg->id, tok.name);
        slot = match_slots(az, key, tok.hash, pass);
        if (slot < 0) return refuse(BERTH_AUTH_BAD_SECRET, reason, err, "invalid username or password");
        if (!tok.enabled)
            return refuse(BERTH_AUTH_TOKEN_DISABLED, reason, err, "token '%s' of registry '%s' is disabled", tok.name,
                          reg->name);
        if (tok.expires_ms[slot] && tok.expires_ms[slot] <= berth_now_ms()) {
            expired_text(tok.expires_ms[slot], when, sizeof(when));
            return refuse(BERTH_AUTH_CREDENTIAL_EXPIRED, reason, err,
                          "password%d of token '%s' expired at %s: generate a new one", slot + 1, tok.name, when);
        }
        p->kind = PK_TOKEN;
        snprintf(p->id, sizeof(p->id), "%s", tok.name);
        snprintf(p->name, sizeof(p->name), "%s", tok.name);
        p->slot = slot;
        p->stamp = tok.set_ms[slot];
        return BERTH_OK;
    }
    if (rc != BERTH_ENOENT) return berth_err_set(err, rc, "%s", lerr.msg);
directory:
    if (berth_uuid_valid(user)) {
        p->kind = PK_SP;
        rc = m->dir->sp_get(m, user, &sp, &lerr);
        if (rc == BERTH_ENOENT) {
            match_nothing(az, pass);
            return refuse(BERTH_AUTH_UNKNOWN_PRINCIPAL, reason, err, "invalid username or password");
        }
        if (rc) return berth_err_set(err, rc, "%s", lerr.msg);
        rc = m->dir->sp_secrets(m, sp.app_id, sp_secret_collect, &set, &lerr);
        if (rc) {
            rc = berth_err_set(err, rc, "%s", lerr.msg);
            goto out;
        }
        hit = match_sp(az, sp.app_id, &set, pass);
        if (hit < 0) {
            rc = refuse(BERTH_AUTH_BAD_SECRET, reason, err, "invalid username or password");
            goto out;
        }
        if (set.v[hit].expires_ms && set.v[hit].expires_ms <= berth_now_ms()) {
            expired_text(set.v[hit].expires_ms, when, sizeof(when));
            rc = refuse(BERTH_AUTH_SECRET_EXPIRED, reason, err,
                        "client secret of service principal %s expired at %s: add a new secret", sp.app_id, when);
            goto out;
        }
        p->kind = PK_SP;
        snprintf(p->id, sizeof(p->id), "%s", sp.app_id);
        snprintf(p->name, sizeof(p->name), "%s", sp.app_id);
        snprintf(p->secret_id, sizeof(p->secret_id), "%s", set.v[hit].id);
        p->stamp = set.v[hit].created_ms;
        rc = BERTH_OK;
        goto out;
    }
    p->kind = PK_USER;
    rc = m->dir->user_get(m, user, NULL, &u, &lerr);
    if (rc == BERTH_ENOENT) {
        match_nothing(az, pass);
        return refuse(BERTH_AUTH_UNKNOWN_PRINCIPAL, reason, err, "invalid username or password");
    }
    if (rc) return berth_err_set(err, rc, "%s", lerr.msg);
    snprintf(key, sizeof(key), "user:%s", u.id);
    {
        const char *keys[1] = {key}, *h[1] = {u.hash};
        if (match_hashes(az, keys, h, 1, pass) < 0)
            return refuse(BERTH_AUTH_BAD_SECRET, reason, err, "invalid username or password");
    }
    p->kind = PK_USER;
    snprintf(p->id, sizeof(p->id), "%s", u.id);
    snprintf(p->name, sizeof(p->name), "%s", u.name);
    p->stamp = u.password_set_ms;
    return BERTH_OK;
out:
    if (set.v) explicit_bzero(set.v, set.n * sizeof(*set.v));
    free(set.v);
    return rc;
}

/*
 * The limiter's name for user's logins: "<registry>/<user>" on a registry,
 * "/<user>" on the directory, so failures on one registry never lock a name
 * out of another (registry names hold no '/', so no two keys meet).
 */
static void limiter_key(const struct berth_meta_registry *reg, const char *user, char *out, size_t n)
{
    snprintf(out, n, "%s/%s", reg ? reg->name : "", user);
}

/*
 * The brute-force limiter: in memory for a server alone on its store; in
 * the store when servers share it, so that alternating between them gains
 * an attacker nothing. *pending says whether a success has anything to
 * clear (always, in memory: clearing costs nothing there).
 */
static enum berth_rc limiter_blocked(struct authz *az, const char *key, const char *ip, int *retry, int *pending,
                                     struct berth_err *err)
{
    int64_t wait = 0;
    enum berth_rc rc;

    *pending = 1;
    if (!az->shared) {
        berth_limiter_blocked(az->limiter, key, ip, berth_now_s(), retry);
        return BERTH_OK;
    }
    rc = az->meta->auth->login_blocked(az->meta, key, ip, berth_now_s(), &wait, pending, err);
    *retry = wait > INT_MAX ? INT_MAX : (int)wait;
    return rc;
}

static void limiter_failed(struct authz *az, const char *key, const char *ip)
{
    struct berth_meta_login_limits lim = {az->cfg->login_failures, az->cfg->login_window, az->cfg->login_lockout};
    struct berth_err err = BERTH_ERR_INIT;

    if (!az->shared) berth_limiter_fail(az->limiter, key, ip, berth_now_s());
    else if (az->meta->auth->login_failed(az->meta, key, ip, berth_now_s(), &lim, &err) != BERTH_OK)
        BERTH_LOG(BERTH_LOG_ERROR, "msg=\"cannot count a failed login\" ip=%s err=\"%s\"", ip, berth_err_msg(&err));
}

static void limiter_succeeded(struct authz *az, const char *key, const char *ip, int pending)
{
    struct berth_err err = BERTH_ERR_INIT;

    if (!az->shared) berth_limiter_succeed(az->limiter, key, ip);
    else if (pending && az->meta->auth->login_succeeded(az->meta, key, ip, &err) != BERTH_OK)
        BERTH_LOG(BERTH_LOG_ERROR, "msg=\"cannot clear failed logins\" ip=%s err=\"%s\"", ip, berth_err_msg(&err));
}

enum berth_rc authz_password(struct authz *az, struct berth_caller *c, const struct berth_meta_registry *reg,
                             const char *user, const char *pass, struct principal *p, enum berth_auth_reason *reason,
                             struct berth_err *err)
{
    int retry = 0, refresh, pending = 1;
    char lk[BERTH_META_NAME_MAX + USER_MAX + 2];
    enum berth_rc rc;

    *reason = BERTH_AUTH_OK;
    refresh = reg && !strcmp(user, BERTH_NULL_GUID);
    if (refresh) authz_note_login(c, "refresh_token", NULL, NULL);
    else authz_note_login(c, NULL, user, NULL);
    if (strlen(user) > USER_MAX || strlen(pass) > PASS_MAX)
        return refuse(BERTH_AUTH_MALFORMED_CREDENTIALS, reason, err, "username or password too long");
    limiter_key(reg, user, lk, sizeof(lk));
    rc = limiter_blocked(az, lk, c->ip, &retry, &pending, err);
    if (rc) return rc;
    if (retry > 0) {
        *reason = BERTH_AUTH_TOO_MANY_FAILURES;
        c->retry_after = retry;
        return berth_err_set(err, BERTH_ETOOMANY,
                             "too many failed logins for '%.64s' from %s: try again in %d seconds", user, c->ip,
                             retry);
    }
    rc = check_password(az, reg, user, pass, p, reason, err);
    if (rc == BERTH_OK) authz_note_login(c, authz_kind_name(p->kind), p->name, p->id);
    else if (p->kind != PK_NONE && !refresh) authz_note_login(c, authz_kind_name(p->kind), NULL, NULL);
    if (rc) memset(p, 0, sizeof(*p)); /* a refused login leaves no principal behind */
    if (rc == BERTH_EUNAUTHORIZED)
        limiter_failed(az, lk, c->ip);
    else if (rc == BERTH_OK)
        limiter_succeeded(az, lk, c->ip, pending);
    return rc;
}

enum berth_rc authz_current_password(struct authz *az, struct berth_caller *c, const struct berth_meta_user *u,
                                     const char *current, struct berth_err *err)
{
    char key[160], lk[BERTH_META_NAME_MAX + 2];
    const char *keys[1] = {key}, *h[1] = {u->hash};
    int retry = 0, pending = 1;
    enum berth_rc rc;

    if (!current || !*current)
        return berth_err_set(err, BERTH_EDENIED,
                             "setting your own password with a directory token needs 'currentPassword' (or log in "
                             "with the password itself)");
    limiter_key(NULL, u->name, lk, sizeof(lk));
    rc = limiter_blocked(az, lk, c->ip, &retry, &pending, err);
    if (rc) return rc;
    if (retry > 0) {
        c->reason = BERTH_AUTH_TOO_MANY_FAILURES;
        return berth_err_set(err, BERTH_ETOOMANY, "too many failed attempts for '%s' from %s: try again in %d seconds",
                             u->name, c->ip, retry);
    }
    snprintf(key, sizeof(key), "user:%s", u->id);
    if (strlen(current) > PASS_MAX || match_hashes(az, keys, h, 1, current) < 0) {
        limiter_failed(az, lk, c->ip);
        c->reason = BERTH_AUTH_BAD_SECRET;
        return berth_err_set(err, BERTH_EDENIED, "'currentPassword' is not the current password of '%s'", u->name);
    }
    return BERTH_OK;
}

/* ---------------------------------------------------------------- grants */

struct roles_ctx {
    struct berth_assignment a[64];
    size_t n;
};

static int collect_role(const struct berth_meta_assignment *ma, void *p)
{
    struct roles_ctx *c = p;
    struct berth_err err = BERTH_ERR_INIT;
    if (c->n >= sizeof(c->a) / sizeof(c->a[0])) return 1;
    if (berth_role_parse(ma->role, &c->a[c->n].role, &err) != BERTH_OK) return 0;
    if (berth_assign_scope_parse(ma->scope, &c->a[c->n].scope, &err) != BERTH_OK) return 0;
    c->n++;
    return 0;
}

static void load_roles(struct authz *az, const struct principal *p, struct roles_ctx *c)
{
    struct berth_err err = BERTH_ERR_INIT;
    c->n = 0;
    if (az->meta->dir->assignment_list(az->meta, p->id, collect_role, c, &err) != BERTH_OK)
        BERTH_LOG(BERTH_LOG_ERROR, "msg=\"cannot read role assignments\" principal=%s error=\"%s\"", p->id, err.msg);
}

/* The rules of the token's scope map (system or stored). */
static unsigned token_grant(struct authz *az, const struct berth_meta_registry *reg, const char *tokname,
                            const char *repo, int any)
{
    struct berth_meta *m = az->meta;
    struct berth_meta_token tok;
    struct berth_meta_scopemap sm;
    const struct berth_system_scopemap *sys;
    struct berth_scopemap_rule rules[64];
    struct berth_err err = BERTH_ERR_INIT;
    const char *const *texts = NULL;
    size_t n = 0, i, total = 0;
    unsigned bits = 0;

    memset(&sm, 0, sizeof(sm));
    if (m->dir->token_get(m, reg->id, tokname, &tok, &err) != BERTH_OK) return 0;
    for (sys = berth_system_scopemaps(); sys->name; sys++)
        if (!strcmp(sys->name, tok.scopemap)) texts = sys->rules;
    if (texts) {
        for (i = 0; texts[i] && n < 64; i++)
            if (berth_scopemap_rule_parse(texts[i], strlen(texts[i]), &rules[n], &err) == BERTH_OK) n++;
    } else if (m->dir->scopemap_get(m, reg->id, tok.scopemap, &sm, &err) == BERTH_OK) {
        for (i = 0; i < sm.nrules && n < 64; i++)
            if (berth_scopemap_rule_parse(sm.rules[i], strlen(sm.rules[i]), &rules[n], &err) == BERTH_OK) n++;
    }
    berth_meta_scopemap_release(&sm);
    if (any) {
        for (i = 0; i < n; i++) total |= rules[i].actions;
        return (unsigned)total;
    }
    bits = berth_scopemap_grant(rules, n, repo);
    return bits;
}

unsigned authz_grant(struct authz *az, const struct berth_meta_registry *reg, const struct principal *p,
                     const char *repo)
{
    struct roles_ctx *rc;
    unsigned bits;

    switch (p->kind) {
    case PK_ADMIN:
        return BERTH_ACT_ALL;
    case PK_ANON:
        return reg->anonymous_pull ? (BERTH_ACT_PULL | BERTH_ACT_METADATA_READ) : 0;
    case PK_TOKEN:
        return token_grant(az, reg, p->id, repo, 0);
    case PK_USER:
    case PK_SP:
        rc = berth_xcalloc(1, sizeof(*rc));
        load_roles(az, p, rc);
        bits = berth_roles_data_actions(rc->a, rc->n, reg->name, repo);
        free(rc);
        return bits;
    case PK_NONE:
        break;
    }
    return 0;
}

/* Appends to sources the rules of token tokname's scope map that match repo. */
static void explain_token(struct authz *az, const struct berth_meta_registry *reg, const char *tokname,
                          const char *repo, json_t *sources)
{
    struct berth_meta *m = az->meta;
    struct berth_meta_token tok;
    struct berth_meta_scopemap sm;
    const struct berth_system_scopemap *sys;
    struct berth_scopemap_rule r;
    struct berth_err err = BERTH_ERR_INIT;
    const char *const *texts = NULL;
    const char *text;
    size_t i;
    int system = 0;

    memset(&sm, 0, sizeof(sm));
    if (m->dir->token_get(m, reg->id, tokname, &tok, &err) != BERTH_OK) return;
    for (sys = berth_system_scopemaps(); sys->name; sys++)
        if (!strcmp(sys->name, tok.scopemap)) texts = sys->rules;
    system = texts != NULL;
    if (!texts && m->dir->scopemap_get(m, reg->id, tok.scopemap, &sm, &err) != BERTH_OK) return;
    for (i = 0;; i++) {
        text = system ? texts[i] : (i < sm.nrules ? sm.rules[i] : NULL);
        if (!text) break;
        if (berth_scopemap_rule_parse(text, strlen(text), &r, &err) != BERTH_OK) continue;
        if (!berth_scopemap_pattern_match(r.pattern, repo)) continue;
        json_array_append_new(sources, json_pack("{s:s,s:s,s:b,s:s}", "kind", "scopeMap", "scopeMap", tok.scopemap,
                                                 "system", system, "rule", text));
    }
    if (!json_array_size(sources))
        json_array_append_new(sources, json_pack("{s:s,s:s,s:b,s:n}", "kind", "scopeMap", "scopeMap", tok.scopemap,
                                                 "system", system, "rule"));
    berth_meta_scopemap_release(&sm);
}

unsigned authz_explain(struct authz *az, const struct berth_meta_registry *reg, const struct principal *p,
                       const char *repo, json_t *sources)
{
    struct roles_ctx *rc;
    char scope[BERTH_NAME_MAX + 96];
    unsigned bits;
    size_t i;

    switch (p->kind) {
    case PK_ADMIN:
        json_array_append_new(sources, json_pack("{s:s}", "kind", "adminUser"));
        break;
    case PK_ANON:
        if (reg->anonymous_pull) json_array_append_new(sources, json_pack("{s:s}", "kind", "anonymousPull"));
        break;
    case PK_TOKEN:
        explain_token(az, reg, p->id, repo, sources);
        break;
    case PK_USER:
    case PK_SP:
        rc = berth_xcalloc(1, sizeof(*rc));
        load_roles(az, p, rc);
        for (i = 0; i < rc->n; i++) {
            if (!berth_roles_data_actions(&rc->a[i], 1, reg->name, repo)) continue;
            berth_assign_scope_format(&rc->a[i].scope, scope, sizeof(scope));
            json_array_append_new(sources, json_pack("{s:s,s:s,s:s}", "kind", "roleAssignment", "role",
                                                     berth_role_name(rc->a[i].role), "scope", scope));
        }
        free(rc);
        break;
    case PK_NONE:
        break;
    }
    bits = authz_grant(az, reg, p, repo);
    return bits;
}

unsigned authz_mgmt_rights(struct authz *az, const struct principal *p, const char *registry)
{
    struct roles_ctx *rc;
    unsigned bits;
    if (p->kind != PK_USER && p->kind != PK_SP) return 0;
    rc = berth_xcalloc(1, sizeof(*rc));
    load_roles(az, p, rc);
    bits = berth_roles_mgmt_rights(rc->a, rc->n, registry);
    free(rc);
    return bits;
}

unsigned authz_mgmt_rights_anywhere(struct authz *az, const struct principal *p)
{
    struct roles_ctx *rc;
    unsigned bits = 0;
    size_t i;

    if (p->kind != PK_USER && p->kind != PK_SP) return 0;
    rc = berth_xcalloc(1, sizeof(*rc));
    load_roles(az, p, rc);
    for (i = 0; i < rc->n; i++)
        if (rc->a[i].scope.kind != BERTH_SCOPE_REPO)
            bits |= berth_roles_mgmt_rights(&rc->a[i], 1,
                                            rc->a[i].scope.kind == BERTH_SCOPE_SERVER ? NULL : rc->a[i].scope.registry);
    free(rc);
    return bits;
}

int authz_catalog(struct authz *az, const struct berth_meta_registry *reg, const struct principal *p)
{
    struct roles_ctx *rc;
    int any;

    switch (p->kind) {
    case PK_ADMIN:
        return 1;
    case PK_ANON:
        return reg->anonymous_pull;
    case PK_TOKEN:
        return (token_grant(az, reg, p->id, NULL, 1) & (BERTH_ACT_PULL | BERTH_ACT_METADATA_READ)) != 0;
    case PK_USER:
    case PK_SP:
        rc = berth_xcalloc(1, sizeof(*rc));
        load_roles(az, p, rc);
        any = berth_roles_any_pull(rc->a, rc->n, reg->name);
        free(rc);
        return any;
    case PK_NONE:
        break;
    }
    return 0;
}


/* ---------------------------------------------------------------- tokens */

const char *authz_kind_name(enum principal_kind k)
{
    switch (k) {
    case PK_ANON: return "anonymous";
    case PK_ADMIN: return "admin";
    case PK_USER: return "user";
    case PK_SP: return "sp";
    case PK_TOKEN: return "token";
    case PK_NONE: break;
    }
    return "none";
}

static enum principal_kind kind_of(const char *s)
{
    static const enum principal_kind kinds[] = {PK_ANON, PK_ADMIN, PK_USER, PK_SP, PK_TOKEN};
    size_t i;
    for (i = 0; i < sizeof(kinds) / sizeof(kinds[0]); i++)
        if (!strcmp(s, authz_kind_name(kinds[i]))) return kinds[i];
    return PK_NONE;
}

void authz_note_jti(struct berth_caller *c, const char *jti)
{
    if (jti && *jti && !c->jti[0]) snprintf(c->jti, sizeof(c->jti), "%s", jti);
}

void authz_note_login(struct berth_caller *c, const char *kind, const char *name, const char *id)
{
    if (kind && *kind && !c->login_kind[0]) snprintf(c->login_kind, sizeof(c->login_kind), "%s", kind);
    if (name && *name && !c->login_name[0]) snprintf(c->login_name, sizeof(c->login_name), "%s", name);
    if (id && *id && !c->principal_id[0]) snprintf(c->principal_id, sizeof(c->principal_id), "%s", id);
}

void authz_note_principal(struct berth_caller *c, const struct principal *p)
{
    authz_note_login(c, authz_kind_name(p->kind), p->name, p->id);
    authz_note_jti(c, p->jti);
}

enum berth_rc authz_issue(struct authz *az, const struct berth_meta_registry *reg, const struct principal *p,
                          const char *grant_type, const struct berth_scope *scopes, size_t nscopes,
                          struct berth_buf *out, int64_t *expires_in, char *jti_out, struct berth_err *err)
{
    json_t *claims = json_object(), *access = NULL, *cred;
    char aud[160], jti[37], *text = NULL;
    int64_t now = berth_now_s(), ttl;
    int access_token = !strcmp(grant_type, "access_token");
    size_t i;
    enum berth_rc rc;

    ttl = access_token ? (reg->access_ttl_s ? reg->access_ttl_s : BERTH_CFG_LIVE(az->cfg, access_ttl))
                       : (reg->refresh_ttl_s ? reg->refresh_ttl_s : BERTH_CFG_LIVE(az->cfg, refresh_ttl));
    authz_login_server(az, reg, aud, sizeof(aud));
    berth_uuid(jti);
    json_object_set_new(claims, "iss", json_string(BERTH_REGISTRY_ISSUER));
    json_object_set_new(claims, "sub", json_string(p->kind == PK_ANON ? "" : p->name));
    json_object_set_new(claims, "aud", json_string(aud));
    json_object_set_new(claims, "iat", json_integer(now));
    json_object_set_new(claims, "nbf", json_integer(now));
    json_object_set_new(claims, "exp", json_integer(now + ttl));
    json_object_set_new(claims, "jti", json_string(jti));
    json_object_set_new(claims, "grant_type", json_string(grant_type));
    cred = json_object();
    json_object_set_new(cred, "k", json_string(authz_kind_name(p->kind)));
    json_object_set_new(cred, "id", json_string(p->id));
    json_object_set_new(cred, "p", json_integer(p->slot));
    json_object_set_new(cred, "s", json_integer(p->stamp));
    if (p->secret_id[0]) json_object_set_new(cred, "x", json_string(p->secret_id));
    json_object_set_new(claims, "berth", cred);
    if (access_token) {
        access = json_array();
        for (i = 0; i < nscopes; i++) {
            const struct berth_scope *s = &scopes[i];
            unsigned granted = 0;
            json_t *entry, *acts;
            if (!strcmp(s->type, "repository")) {
                struct berth_err nerr = BERTH_ERR_INIT;
                if (berth_oci_name_check(s->name, strlen(s->name), &nerr) != BERTH_OK) continue;
                granted = s->actions & authz_grant(az, reg, p, s->name);
            } else if (!strcmp(s->type, "registry") && !strcmp(s->name, "catalog")) {
                granted = authz_catalog(az, reg, p) ? BERTH_ACT_ALL : 0;
                if (granted) {
                    entry = json_pack("{s:s,s:s,s:[s]}", "type", "registry", "name", "catalog", "actions", "*");
                    json_array_append_new(access, entry);
                }
                continue;
            }
            if (!granted) continue;
            {
                struct berth_buf ab = BERTH_BUF_INIT(0);
                berth_actions_json(granted, &ab);
                acts = json_loads(berth_buf_str(&ab), 0, NULL);
                berth_buf_release(&ab);
            }
            entry = json_object();
            json_object_set_new(entry, "type", json_string(s->type));
            json_object_set_new(entry, "name", json_string(s->name));
            json_object_set_new(entry, "actions", acts ? acts : json_array());
            json_array_append_new(access, entry);
        }
        json_object_set_new(claims, "access", access);
    }
    text = json_dumps(claims, JSON_COMPACT);
    if (!text) {
        rc = berth_err_set(err, BERTH_EINTERNAL, "cannot encode token claims");
        goto out;
    }
    rc = authz_sign(az, text, strlen(text), out, err);
    if (rc) goto out;
    authz_count_token(az, grant_type);
    *expires_in = ttl;
    if (jti_out) snprintf(jti_out, 37, "%s", jti);
out:
    free(text);
    json_decref(claims);
    return rc;
}

struct sp_find {
    const char *id;
    struct berth_meta_sp_secret hit;
    int found;
};

static int sp_secret_find(const struct berth_meta_sp_secret *s, void *p)
{
    struct sp_find *c = p;
    if (strcmp(s->id, c->id) != 0) return 0;
    c->hit = *s;
    c->found = 1;
    return 1;
}

/* Reads the "berth" credential claim of a verified token into p. */
static enum berth_rc principal_of_claims(const struct berth_jwt_claims *c, struct principal *p,
                                         enum berth_auth_reason *reason, struct berth_err *err)
{
    json_t *claims = json_loads(c->raw_json, 0, NULL), *cred;
    enum berth_rc rc = BERTH_OK;

    cred = claims ? json_object_get(claims, "berth") : NULL;
    if (!json_is_object(cred) || !json_is_string(json_object_get(cred, "k")) ||
        !json_is_string(json_object_get(cred, "id"))) {
        rc = refuse(BERTH_AUTH_MALFORMED_TOKEN, reason, err, "token names no credential");
        goto out;
    }
    p->kind = kind_of(json_string_value(json_object_get(cred, "k")));
    snprintf(p->id, sizeof(p->id), "%s", json_string_value(json_object_get(cred, "id")));
    snprintf(p->name, sizeof(p->name), "%s", c->sub ? c->sub : "");
    json_t *nm = json_object_get(claims, "name");
    if (json_is_string(nm)) snprintf(p->name, sizeof(p->name), "%s", json_string_value(nm));
    p->slot = (int)json_integer_value(json_object_get(cred, "p"));
    p->stamp = json_integer_value(json_object_get(cred, "s"));
    if (json_is_string(json_object_get(cred, "x")))
        snprintf(p->secret_id, sizeof(p->secret_id), "%s", json_string_value(json_object_get(cred, "x")));
    snprintf(p->jti, sizeof(p->jti), "%s", c->jti ? c->jti : "");
out:
    json_decref(claims);
    return rc;
}

/* Re-checks that the credential a token came from is still good (reg NULL: directory principals only). */
static enum berth_rc recheck(struct authz *az, const struct berth_meta_registry *reg, const struct principal *p,
                             enum berth_auth_reason *reason, struct berth_err *err)
{
    struct berth_meta *m = az->meta;
    struct berth_err lerr = BERTH_ERR_INIT;
    struct berth_meta_token tok;
    struct berth_meta_user u;
    struct berth_meta_sp sp;
    char when[32];

    switch (p->kind) {
    case PK_ANON:
        if (!reg) break;
        if (!reg->anonymous_pull)
            return refuse(BERTH_AUTH_ANONYMOUS_DISABLED, reason, err, "anonymous pull is disabled for registry '%s'",
                          reg->name);
        return BERTH_OK;
    case PK_ADMIN:
        if (!reg) break;
        if (!reg->admin_enabled)
            return refuse(BERTH_AUTH_ADMIN_DISABLED, reason, err, "admin user is disabled for registry '%s'",
                          reg->name);
        if (p->slot < 0 || p->slot > 1 || reg->admin_set_ms[p->slot] != p->stamp)
            return refuse(BERTH_AUTH_REFRESH_REVOKED, reason, err,
                          "the admin password this token came from was regenerated: log in again");
        return BERTH_OK;
    case PK_TOKEN:
        if (!reg) break;
        if (m->dir->token_get(m, reg->id, p->id, &tok, &lerr) != BERTH_OK)
            return refuse(BERTH_AUTH_REFRESH_REVOKED, reason, err, "token '%s' no longer exists", p->id);
        if (!tok.enabled)
            return refuse(BERTH_AUTH_TOKEN_DISABLED, reason, err, "token '%s' of registry '%s' is disabled", tok.name,
                          reg->name);
        if (p->slot < 0 || p->slot > 1 || tok.set_ms[p->slot] != p->stamp || !tok.hash[p->slot][0])
            return refuse(BERTH_AUTH_REFRESH_REVOKED, reason, err,
                          "the password of token '%s' this token came from was regenerated or removed", tok.name);
        if (tok.expires_ms[p->slot] && tok.expires_ms[p->slot] <= berth_now_ms()) {
            berth_time_rfc3339(tok.expires_ms[p->slot] / 1000, when, sizeof(when));
            return refuse(BERTH_AUTH_CREDENTIAL_EXPIRED, reason, err, "password%d of token '%s' expired at %s",
                          p->slot + 1, tok.name, when);
        }
        return BERTH_OK;
    case PK_USER:
        if (m->dir->user_get(m, NULL, p->id, &u, &lerr) != BERTH_OK)
            return refuse(BERTH_AUTH_REFRESH_REVOKED, reason, err, "the user this token came from was deleted");
        if (u.password_set_ms != p->stamp)
            return refuse(BERTH_AUTH_REFRESH_REVOKED, reason, err,
                          "the password of user '%s' changed after this token was issued: log in again", u.name);
        return BERTH_OK;
    case PK_SP: {
        struct sp_find c;
        if (m->dir->sp_get(m, p->id, &sp, &lerr) != BERTH_OK)
            return refuse(BERTH_AUTH_REFRESH_REVOKED, reason, err, "service principal %s was deleted", p->id);
        memset(&c, 0, sizeof(c));
        c.id = p->secret_id;
        if (m->dir->sp_secrets(m, sp.app_id, sp_secret_find, &c, &lerr) != BERTH_OK || !c.found)
            return refuse(BERTH_AUTH_REFRESH_REVOKED, reason, err,
                          "the client secret this token came from was removed from service principal %s", sp.app_id);
        if (c.hit.expires_ms && c.hit.expires_ms <= berth_now_ms()) {
            berth_time_rfc3339(c.hit.expires_ms / 1000, when, sizeof(when));
            return refuse(BERTH_AUTH_SECRET_EXPIRED, reason, err,
                          "client secret of service principal %s expired at %s: add a new secret", sp.app_id, when);
        }
        return BERTH_OK;
    }
    case PK_NONE:
        break;
    }
    return refuse(BERTH_AUTH_MALFORMED_TOKEN, reason, err, "token names no credential it may carry");
}

/*
 * The registry a token was made for, read from its payload. Only used after
 * verification failed on the audience, i.e. after the signature was found
 * good, to name the other registry in the refusal.
 */
static int peek_audience(struct authz *az, const char *token, char *out, size_t outlen)
{
    const char *dot1 = strchr(token, '.'), *dot2;
    struct berth_buf raw = BERTH_BUF_INIT(8192);
    struct berth_err err = BERTH_ERR_INIT;
    json_t *j = NULL;
    const char *aud;
    size_t dl = strlen(az->cfg->domain), al;
    int ok = 0;

    if (!dot1 || !(dot2 = strchr(dot1 + 1, '.'))) return 0;
    if (berth_b64url_decode(dot1 + 1, (size_t)(dot2 - dot1 - 1), &raw, &err) != BERTH_OK) goto out;
    j = json_loadb(berth_buf_str(&raw), raw.len, 0, NULL);
    aud = json_string_value(json_object_get(j, "aud"));
    if (!aud) goto out;
    al = strlen(aud);
    if (al > dl + 1 && aud[al - dl - 1] == '.' && !strcmp(aud + al - dl, az->cfg->domain))
        snprintf(out, outlen, "%.*s", (int)(al - dl - 1), aud);
    else
        snprintf(out, outlen, "%s", aud);
    ok = 1;
out:
    json_decref(j);
    berth_buf_release(&raw);
    return ok;
}

enum berth_rc authz_token(struct authz *az, const struct berth_meta_registry *reg, const char *token,
                          const char *grant_type, struct principal *p, char **access_json,
                          enum berth_auth_reason *reason, struct berth_err *err)
{
    struct berth_jwt_claims c;
    struct berth_jwt_expect want;
    char aud[160];
    unsigned char key[32];
    enum berth_rc rc;

    memset(&c, 0, sizeof(c));
    memset(p, 0, sizeof(*p));
    if (access_json) *access_json = NULL;
    authz_login_server(az, reg, aud, sizeof(aud));
    token_key(grant_type, token, key);
    if (strlen(token) <= 8192 && token_cache_get(az->tokens, key, berth_now_s(), BERTH_CFG_LIVE(az->cfg, leeway), p, access_json)) {
        /* the audience is part of what was verified: a cached token of another registry misses here */
        if (reg->id == p->reg_id) return recheck(az, reg, p, reason, err);
        if (access_json) {
            free(*access_json);
            *access_json = NULL;
        }
        memset(p, 0, sizeof(*p));
    }
    want.iss = BERTH_REGISTRY_ISSUER;
    want.aud = aud;
    want.grant_type = grant_type;
    want.now = berth_now_s();
    want.leeway = BERTH_CFG_LIVE(az->cfg, leeway);
    rc = verify(az, token, &want, &c, reason, err);
    if (rc) {
        char other[160];
        if (*reason == BERTH_AUTH_WRONG_AUDIENCE && peek_audience(az, token, other, sizeof(other)))
            refuse(*reason, reason, err, "token for registry '%s' used on registry '%s'", other, reg->name);
        else if (*reason == BERTH_AUTH_WRONG_AUDIENCE)
            refuse(*reason, reason, err, "token for another registry used on registry '%s'", reg->name);
        else if (*reason == BERTH_AUTH_TOKEN_EXPIRED && !strcmp(grant_type, "refresh_token"))
            refuse(*reason, reason, err, "refresh token expired: log in again");
        goto out;
    }
    rc = principal_of_claims(&c, p, reason, err);
    if (rc) goto out;
    p->reg_id = reg->id;
    {
        int64_t until = c.exp + BERTH_CFG_LIVE(az->cfg, leeway), cap = berth_now_s() + TOKEN_CACHE_TTL_S;
        token_cache_put(az->tokens, key, until < cap ? until : cap, c.nbf, p, c.access_json);
    }
    rc = recheck(az, reg, p, reason, err);
    if (rc) goto out;
    if (access_json && c.access_json) *access_json = berth_xstrdup(c.access_json);
out:
    berth_jwt_claims_release(&c);
    return rc;
}

void authz_directory_issuer(struct authz *az, char *out, size_t n)
{
    snprintf(out, n, "berth-directory:%s", az->tenant);
}

enum berth_rc authz_directory_token(struct authz *az, const char *token, const char *grant_type, struct principal *p,
                                    enum berth_auth_reason *reason, struct berth_err *err)
{
    struct berth_jwt_claims c;
    struct berth_jwt_expect want;
    char iss[80];
    enum berth_rc rc;

    memset(&c, 0, sizeof(c));
    memset(p, 0, sizeof(*p));
    authz_directory_issuer(az, iss, sizeof(iss));
    want.iss = iss;
    want.aud = BERTH_DIRECTORY_AUDIENCE;
    want.grant_type = grant_type;
    want.now = berth_now_s();
    want.leeway = BERTH_CFG_LIVE(az->cfg, leeway);
    rc = verify(az, token, &want, &c, reason, err);
    if (rc) goto out;
    rc = principal_of_claims(&c, p, reason, err);
    if (rc) goto out;
    if (p->kind != PK_USER && p->kind != PK_SP) {
        rc = refuse(BERTH_AUTH_WRONG_GRANT, reason, err, "not a directory token");
        goto out;
    }
    rc = recheck(az, NULL, p, reason, err);
out:
    berth_jwt_claims_release(&c);
    return rc;
}

/* ---------------------------------------------------------------- access checks */

/* Action bits a route needs; *either != 0 means any one of them suffices. */
static unsigned needed_bits(const struct berth_access *need, int *either)
{
    const char *a = need->actions ? need->actions : "";
    *either = 0;
    if (need->any_action) {
        *either = 1;
        return BERTH_ACT_PULL | BERTH_ACT_METADATA_READ;
    }
    if (!strcmp(a, "pull")) return BERTH_ACT_PULL;
    if (!strcmp(a, "push") || !strcmp(a, "pull,push")) return BERTH_ACT_PUSH;
    if (!strcmp(a, "delete")) return BERTH_ACT_DELETE;
    if (!strcmp(a, "metadata_read")) return BERTH_ACT_METADATA_READ;
    if (!strcmp(a, "metadata_write")) return BERTH_ACT_METADATA_WRITE;
    return BERTH_ACT_ALL;
}

static int covers(unsigned have, unsigned want, int either)
{
    return either ? (have & want) != 0 : (have & want) == want;
}

void authz_public_base(const struct authz *az, const struct berth_caller *c, char *out, size_t n)
{
    const char *ext = BERTH_CFG_LIVE_STR(az->cfg, external_url);
    size_t len = ext ? strlen(ext) : 0;

    if (len) {
        while (len && ext[len - 1] == '/') len--;
        snprintf(out, n, "%.*s", (int)len, ext);
        return;
    }
    snprintf(out, n, "%s://%s", c->fwd_proto[0] ? c->fwd_proto : az->tls ? "https" : "http",
             c->fwd_host[0] ? c->fwd_host : c->host ? c->host : "localhost");
}

/* Sets the Bearer challenge the refusal is answered with. */
static void challenge(struct authz *az, struct berth_caller *c, const struct berth_meta_registry *reg,
                      const struct berth_access *need, const char *error)
{
    struct berth_buf b = BERTH_BUF_INIT(4096);
    char ls[160], base[400];

    authz_login_server(az, reg, ls, sizeof(ls));
    authz_public_base(az, c, base, sizeof(base));
    berth_buf_printf(&b, "Bearer realm=\"%s/oauth2/token\",service=\"%s\"", base, ls);
    if (need->kind == BERTH_ACCESS_REPOSITORY && need->repo)
        berth_buf_printf(&b, ",scope=\"repository:%s:%s\"", need->repo,
                         !strcmp(need->actions, "push") ? "pull,push" : need->actions);
    else if (need->kind == BERTH_ACCESS_CATALOG)
        berth_buf_puts(&b, ",scope=\"registry:catalog:*\"");
    if (error) berth_buf_printf(&b, ",error=\"%s\"", error);
    if (berth_buf_rc(&b) == BERTH_OK) {
        free(c->challenge);
        c->challenge = berth_xstrdup(berth_buf_str(&b));
    }
    berth_buf_release(&b);
}

/* Bits the token's "access" claim grants on repo (or the catalog when repo is NULL). */
static unsigned access_bits(const char *access_json, const struct berth_access *need)
{
    json_t *arr = access_json ? json_loads(access_json, 0, NULL) : NULL, *e;
    size_t i;
    unsigned bits = 0;

    if (!json_is_array(arr)) goto out;
    json_array_foreach(arr, i, e) {
        const char *type = json_string_value(json_object_get(e, "type"));
        const char *name = json_string_value(json_object_get(e, "name"));
        json_t *acts = json_object_get(e, "actions"), *a;
        size_t j;
        if (!type || !name || !json_is_array(acts)) continue;
        if (need->kind == BERTH_ACCESS_CATALOG) {
            if (strcmp(type, "registry") || strcmp(name, "catalog")) continue;
        } else if (strcmp(type, "repository") || !need->repo || strcmp(name, need->repo)) {
            continue;
        }
        json_array_foreach(acts, j, a) {
            unsigned one = 0;
            const char *t = json_string_value(a);
            struct berth_err err = BERTH_ERR_INIT;
            if (t && berth_actions_parse(t, strlen(t), &one, &err) == BERTH_OK) bits |= one;
        }
    }
out:
    json_decref(arr);
    return bits;
}

unsigned authz_claim_bits(const char *access_json, const char *repo)
{
    struct berth_access want = {repo ? BERTH_ACCESS_REPOSITORY : BERTH_ACCESS_CATALOG, repo, NULL, 0};
    return access_bits(access_json, &want);
}

/* c's identity once a credential proved it; log_name is its name in logs ("-": anonymous). */
static void caller_set(struct berth_caller *c, const struct principal *p, const char *log_name)
{
    snprintf(c->principal, sizeof(c->principal), "%s:%s", authz_kind_name(p->kind), log_name);
    c->who = *p;
    snprintf(c->principal_id, sizeof(c->principal_id), "%s", p->id);
}

/* "pull", "pull and push", "pull, push and delete": the content actions of bits, in words. */
static void act_words(unsigned bits, char *out, size_t n)
{
    static const struct {
        unsigned bit;
        const char *word;
    } names[] = {{BERTH_ACT_PULL, "pull"},
                 {BERTH_ACT_PUSH, "push"},
                 {BERTH_ACT_DELETE, "delete"},
                 {BERTH_ACT_METADATA_READ, "read the tags and manifests of"},
                 {BERTH_ACT_METADATA_WRITE, "change the attributes of"}};
    const char *w[5];
    int k = 0, i;
    size_t len = 0;

    for (i = 0; i < 5; i++)
        if (bits & names[i].bit) w[k++] = names[i].word;
    out[0] = '\0';
    for (i = 0; i < k && len < n; i++) {
        int r = snprintf(out + len, n - len, "%s%s", i == 0 ? "" : i == k - 1 ? " and " : ", ", w[i]);
        if (r < 0) break;
        len += (size_t)r;
    }
}

enum berth_rc authz_authorize(struct authz *az, struct berth_caller *c, const struct berth_access *need,
                              struct berth_err *err)
{
    struct berth_meta_registry reg;
    struct principal p;
    enum berth_auth_reason reason = BERTH_AUTH_OK;
    const char *auth = c->authorization;
    char *user = NULL, *pass = NULL, *access_json = NULL;
    unsigned want, have;
    int either = 0, bearer = 0;
    enum berth_rc rc;

    az = authz_of(az);
    memset(&p, 0, sizeof(p));
    rc = authz_registry_of(az, c, &reg, err);
    if (rc) {
        c->reason = BERTH_AUTH_UNKNOWN_REGISTRY;
        return rc;
    }
    if (c->cred == BERTH_CRED_NONE) {
        p.kind = PK_ANON;
    } else if (c->cred == BERTH_CRED_BASIC) {
        if (berth_basic_parse(auth + 6, &user, &pass, NULL) != BERTH_OK) {
            rc = refuse(BERTH_AUTH_MALFORMED_CREDENTIALS, &reason, err, "malformed Basic credentials");
            goto out;
        }
        rc = authz_password(az, c, &reg, user, pass, &p, &reason, err);
        if (rc) goto out;
    } else if (c->cred == BERTH_CRED_BEARER) {
        bearer = 1;
        rc = authz_token(az, &reg, auth + 7, "access_token", &p, &access_json, &reason, err);
        if (rc) goto out;
    } else {
        rc = refuse(BERTH_AUTH_MALFORMED_CREDENTIALS, &reason, err, "unsupported Authorization scheme");
        goto out;
    }
    caller_set(c, &p, p.kind == PK_ANON ? "-" : p.name);
    if (p.kind != PK_ANON) authz_note_principal(c, &p);
    if (bearer) {
        /* whatever else this request decides (a mount's source, say) stays within the claim */
        free(c->access_json);
        c->access_json = access_json ? access_json : berth_xstrdup("[]");
        access_json = NULL;
    }

    if (need->kind == BERTH_ACCESS_BASE) {
        if (p.kind == PK_ANON)
            rc = refuse(BERTH_AUTH_NO_CREDENTIALS, &reason, err, "authentication required");
        goto out;
    }
    if (need->kind == BERTH_ACCESS_CATALOG) {
        c->catalog_claim = 1;
        have = authz_catalog(az, &reg, &p) ? BERTH_ACT_ALL : 0;
        if (bearer) have &= access_bits(c->access_json, need) ? BERTH_ACT_ALL : 0;
        if (!have)
            rc = refuse(p.kind == PK_ANON ? (reg.anonymous_pull ? BERTH_AUTH_INSUFFICIENT_SCOPE
                                                                 : BERTH_AUTH_NO_CREDENTIALS)
                                          : BERTH_AUTH_INSUFFICIENT_SCOPE,
                        &reason, err, "%s", p.kind == PK_ANON ? "authentication required"
                                                               : "not allowed to list the catalog of this registry");
        goto out;
    }
    want = needed_bits(need, &either);
    have = authz_grant(az, &reg, &p, need->repo);
    if (bearer) have &= access_bits(c->access_json, need);
    if (!covers(have, want, either)) {
        if (p.kind == PK_ANON)
            rc = refuse(reg.anonymous_pull && want == BERTH_ACT_PULL ? BERTH_AUTH_INSUFFICIENT_SCOPE
                                                                      : BERTH_AUTH_NO_CREDENTIALS,
                        &reason, err, "authentication required");
        else {
            char miss[160], got[160];
            act_words(want & ~have & BERTH_ACT_ALL, miss, sizeof(miss));
            act_words(have & (BERTH_ACT_PULL | BERTH_ACT_PUSH | BERTH_ACT_DELETE), got, sizeof(got));
            rc = refuse(BERTH_AUTH_INSUFFICIENT_SCOPE, &reason, err,
                        "%s may not %s repository '%s' of registry '%s' (%s%s): ask for a role or scope map "
                        "that grants it", p.name, miss[0] ? miss : need->actions, need->repo, reg.name,
                        got[0] ? "it may only " : "it has no grant there", got);
        }
    }
out:
    c->reason = reason;
    if (rc == BERTH_EUNAUTHORIZED)
        challenge(az, c, &reg, need,
                  reason == BERTH_AUTH_INSUFFICIENT_SCOPE ? "insufficient_scope"
                  : bearer ? "invalid_token" : NULL);
    if (pass) explicit_bzero(pass, strlen(pass));
    free(user);
    free(pass);
    free(access_json);
    return rc;
}

enum berth_rc authz_directory_caller(struct authz *az, struct berth_caller *c, struct principal *p,
                                     enum berth_auth_reason *reason, struct berth_err *err)
{
    const char *auth = c->authorization;
    char *user = NULL, *pass = NULL;
    enum berth_rc rc;

    memset(p, 0, sizeof(*p));
    *reason = BERTH_AUTH_OK;
    if (c->cred == BERTH_CRED_NONE) {
        rc = refuse(BERTH_AUTH_NO_CREDENTIALS, reason, err,
                    "authentication required: send a directory access token (Bearer) or Basic credentials");
    } else if (c->cred == BERTH_CRED_BEARER) {
        rc = authz_directory_token(az, auth + 7, "directory_access", p, reason, err);
    } else if (c->cred == BERTH_CRED_BASIC) {
        if (berth_basic_parse(auth + 6, &user, &pass, NULL) != BERTH_OK)
            rc = refuse(BERTH_AUTH_MALFORMED_CREDENTIALS, reason, err, "malformed Basic credentials");
        else
            rc = authz_password(az, c, NULL, user, pass, p, reason, err);
    } else {
        rc = refuse(BERTH_AUTH_MALFORMED_CREDENTIALS, reason, err, "unsupported Authorization scheme");
    }
    if (rc == BERTH_OK) {
        caller_set(c, p, p->name);
        authz_note_login(c, authz_kind_name(p->kind), p->name, p->id);
    }
    c->reason = *reason;
    if (pass) explicit_bzero(pass, strlen(pass));
    free(user);
    free(pass);
    return rc;
}

int authz_may(struct authz *az, const struct berth_caller *c, const char *repo, unsigned bits)
{
    struct berth_access claim = {BERTH_ACCESS_REPOSITORY, repo, NULL, 0};
    unsigned have;

    if (c->who.kind == PK_NONE || !c->has_reg) return 0;
    have = authz_grant(az, &c->reg, &c->who, repo);
    /*
     * A Bearer token allows only what its access claim names. The catalog is
     * the one exception: its claim (registry:catalog:*, checked by
     * authz_authorize) lists the repositories the credential may read, which
     * no token names one by one.
     */
    if (c->access_json && !c->catalog_claim) have &= access_bits(c->access_json, &claim);
    return (have & bits) != 0;
}
