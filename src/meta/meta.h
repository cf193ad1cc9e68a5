/*
 * meta.h - registry metadata behind an ops table (SQLite, PostgreSQL):
 * registries and the directory (tenant, users, service principals and
 * their secrets, repository tokens, scope maps, role assignments);
 * repositories (each in one registry, given by its id `reg`),
 * repository-to-blob links, manifests with their exact payload, manifest
 * references, tags, subjects (referrers), upload sessions, and what servers
 * sharing a store share for logins (signing keys, login failures). Every
 * multi-row change is one transaction. A driver object is safe to use from
 * every thread at once. Nothing of one registry is visible through another.
 */
#ifndef BERTH_META_H
#define BERTH_META_H

#include <stddef.h>
#include <stdint.h>
#include "buf.h"
#include "err.h"
#include "oci.h"

#define BERTH_META_MAGIC 0x4d455441u /* "META" */

struct berth_meta;

/* What manifest_put stores. Everything is borrowed. */
struct berth_meta_manifest {
    int64_t reg; /* registry id */
    const char *repo;
    const struct berth_digest *digest; /* digest of payload */
    const char *media_type;
    const char *payload; /* exact bytes as pushed */
    size_t len;
    const char *artifact_type;    /* may be NULL */
    const char *annotations_json; /* may be NULL */
    const struct berth_digest *subject; /* may be NULL */
    const struct berth_digest *blobs;   /* must be linked to repo */
    size_t nblobs;
    const struct berth_digest *children; /* must be manifests in repo */
    size_t nchildren;
    const char *architecture, *os; /* an image's platform (berth_image_platform), or NULL */
};

/* One referrer, as the referrers API lists it. Borrowed during the callback. */
struct berth_meta_referrer {
    const char *digest;
    const char *media_type;
    int64_t size;
    const char *artifact_type;    /* may be NULL */
    const char *annotations_json; /* may be NULL */
};


/* ---- registries and the directory ---- */

#define BERTH_META_HASH_MAX 128 /* argon2id hash strings */
#define BERTH_META_NAME_MAX 64  /* registry, user, token and scope map names */

/* A registry. Secrets are argon2id hash strings ("" when unset). */
struct berth_meta_registry {
    int64_t id;
    char name[BERTH_META_NAME_MAX + 1];
    int64_t created_ms;
    int admin_enabled;
    int anonymous_pull;
    int64_t refresh_ttl_s; /* 0: the server default */
    int64_t access_ttl_s;  /* 0: the server default */
    char admin_hash[2][BERTH_META_HASH_MAX]; /* admin passwords 1 and 2 */
    int64_t admin_set_ms[2];                 /* when each was (re)generated */
};

struct berth_meta_user {
    char id[37]; /* GUID */
    char name[BERTH_META_NAME_MAX + 1];
    char hash[BERTH_META_HASH_MAX];
    int64_t created_ms;
    int64_t password_set_ms;
};

struct berth_meta_sp {
    char app_id[37]; /* GUID */
    char display_name[129];
    int64_t created_ms;
};

struct berth_meta_sp_secret {
    char id[37]; /* GUID */
    char hash[BERTH_META_HASH_MAX];
    char description[129];
    int64_t created_ms;
    int64_t expires_ms;
};

/* A user-defined scope map (system maps are not stored: see berth_system_scopemaps). */
struct berth_meta_scopemap {
    int64_t id;
    int64_t reg;
    char name[BERTH_META_NAME_MAX + 1];
    char description[257];
    int64_t created_ms;
    char **rules; /* rule texts, owned (berth_meta_scopemap_release) */
    size_t nrules;
    int create_only; /* put: BERTH_EEXIST when the name is taken (decided atomically), never replace */
};

/* A repository-scoped token. */
struct berth_meta_token {
    int64_t id;
    int64_t reg;
    char name[BERTH_META_NAME_MAX + 1];
    char scopemap[BERTH_META_NAME_MAX + 1]; /* scope map name (system or user) */
    int enabled;
    int64_t created_ms;
    char hash[2][BERTH_META_HASH_MAX]; /* passwords 1 and 2; "" = none */
    int64_t set_ms[2];                 /* when each was generated */
    int64_t expires_ms[2];             /* 0 = never */
    int create_only;                   /* put: BERTH_EEXIST when the name is taken (atomically), never replace */
};

/* A role assignment of a user or a service principal. */
struct berth_meta_assignment {
    char id[37];
    char principal_type[8]; /* "user" or "sp" */
    char principal_id[37];  /* user id or app id */
    char role[32];          /* "Owner", "AcrPull", ... */
    char scope[400];        /* "/", "/registries/r", "/registries/r/repositories/p" */
    int64_t created_ms;
};

/*
 * Network access of a registry (ACR's publicNetworkAccess and networkRuleSet).
 * public_network 0 refuses every client; default_allow 0 lets in only the
 * clients an ip rule allows. Rules are canonical address or CIDR texts
 * (berth_netrule_format), action Allow, in the order they were given; the
 * driver stores them as given, the caller validates them.
 */
#define BERTH_META_IP_RULES_MAX 200
#define BERTH_META_IP_RULE_LEN 64
struct berth_meta_network {
    int public_network;
    int default_allow;
    size_t nrules;
    char rules[BERTH_META_IP_RULES_MAX][BERTH_META_IP_RULE_LEN];
};

/* What registry_update writes. */
#define BERTH_META_REG_SETTINGS 0x1u /* admin_enabled, anonymous_pull, refresh_ttl_s, access_ttl_s */
#define BERTH_META_REG_ADMIN1 0x2u   /* admin_hash[0], admin_set_ms[0] */
#define BERTH_META_REG_ADMIN2 0x4u   /* admin_hash[1], admin_set_ms[1] */
#define BERTH_META_REG_ALL 0x7u

/* ---- event logs ---- */

enum berth_meta_log { BERTH_EVENTS_LOGIN = 0, BERTH_EVENTS_REPOSITORY = 1 };

/* One event of the login or repository log. Strings are "" when not known; size is -1. */
struct berth_meta_event {
    int64_t id; /* assigned by the store, rising */
    int log;    /* enum berth_meta_log */
    int64_t time_ms;
    int64_t reg;
    char registry[BERTH_META_NAME_MAX + 1];
    char login_server[160];
    char operation[32];
    char identity_type[16];
    char identity[80];
    char identity_id[65];
    char ip[64];
    char user_agent[200];
    int status;
    char reason[32];
    char request_id[17];
    int64_t duration_us;
    char repository[256];
    char tag[129];
    char digest[136];
    char media_type[128];
    char artifact_type[128];
    int64_t size;
    char jti[37];   /* id of the token a login issued or presented */
};

/* What events_query returns; NULL or 0 members do not filter. Borrowed. */
struct berth_meta_event_filter {
    int64_t reg;        /* events of this registry (0: the directory's) */
    int all_registries; /* every registry's and the directory's events; reg is ignored */
    int log;            /* -1: both logs */
    int64_t since_ms;   /* time_ms >= since_ms */
    int64_t until_ms;   /* time_ms < until_ms */
    int failed;         /* status >= 400 only */
    const char *identity; /* identity name or id */
    const char *ip;
    const char *reason;
    const char *not_reason; /* events whose reason is not this one */
    const char *repository;
    const char *operation;
    int64_t before_id;  /* id < before_id (the paging cursor) */
    int64_t after_id;   /* id > after_id */
    int64_t limit;      /* at most this many rows */
    int oldest_first;   /* ascending ids instead of newest first */
};

typedef int (*berth_meta_event_fn)(const struct berth_meta_event *e, void *ctx);

/* ---- health ---- */

/* What inspect finds in a store without changing it. */
struct berth_meta_inspect {
    int exists;         /* 0: no store at dsn yet (a new data folder); the rest is 0 */
    int version;        /* the schema version the store is at */
    int latest;         /* the newest schema version this build knows (set even when !exists) */
    int intact;         /* the driver's own consistency check passed */
    char problem[256];  /* when !intact: what the check reported first */
};

typedef int (*berth_meta_registry_fn)(const struct berth_meta_registry *r, void *ctx);
typedef int (*berth_meta_user_fn)(const struct berth_meta_user *u, void *ctx);
typedef int (*berth_meta_sp_fn)(const struct berth_meta_sp *sp, void *ctx);
typedef int (*berth_meta_sp_secret_fn)(const struct berth_meta_sp_secret *s, void *ctx);
typedef int (*berth_meta_scopemap_fn)(const struct berth_meta_scopemap *sm, void *ctx);
typedef int (*berth_meta_token_fn)(const struct berth_meta_token *t, void *ctx);
typedef int (*berth_meta_assignment_fn)(const struct berth_meta_assignment *a, void *ctx);

void berth_meta_scopemap_release(struct berth_meta_scopemap *sm);

typedef int (*berth_meta_name_fn)(const char *name, void *ctx);       /* nonzero stops */
typedef int (*berth_meta_repo_item_fn)(int is_tag, const char *name, void *ctx); /* nonzero stops */
typedef int (*berth_meta_referrer_fn)(const struct berth_meta_referrer *r, void *ctx);
typedef int (*berth_meta_gc_fn)(const char *repo, const char *digest, void *ctx);

/* ACR's attributes of a repository (/acr/v1/<name>). */
struct berth_meta_repo_info {
    int64_t created_ms;
    int64_t updated_ms; /* the newest manifest push or tag change; created_ms when there is none */
    int64_t manifests, tags;
    int write_enabled, delete_enabled; /* ACR's locks: 0 refuses pushes into it, or its deletion */
    int read_enabled, list_enabled;    /* 0 refuses pulls from it, or leaves it out of _catalog */
};

/* What a registry holds (ACR's usages). */
struct berth_meta_usage {
    int64_t blob_bytes;     /* each blob its repositories link or reference, counted once */
    int64_t manifest_bytes; /* the manifests themselves */
    int64_t repositories, manifests, tags, scope_maps, tokens;
};

/* A tag, its manifest and its times (ACR's createdTime, lastUpdateTime). Borrowed during the call. */
struct berth_meta_tag_info {
    const char *name, *digest;
    int64_t created_ms, updated_ms;
    int write_enabled, delete_enabled; /* ACR's locks: 0 refuses moving the tag, or deleting it */
    int read_enabled, list_enabled;    /* 0 refuses pulling by it, or leaves it out of tag lists */
};
typedef int (*berth_meta_tag_info_fn)(const struct berth_meta_tag_info *t, void *ctx);

/* A manifest with its sizes, time and tags. Borrowed during the call. */
struct berth_meta_manifest_info {
    const char *digest, *media_type;
    int64_t size;       /* of the manifest itself */
    int64_t blobs_size; /* of the blobs it references (config and layers); 0 for an index */
    int64_t created_ms; /* its last push */
    const char *const *tags;
    size_t ntags;
    int write_enabled, delete_enabled; /* ACR's locks: 0 refuses pushing it again or tagging it, or deleting it */
    int read_enabled, list_enabled;    /* 0 refuses pulling it, or leaves it out of manifest lists */
    const char *architecture, *os;     /* an image's platform; "" when unknown */
};
typedef int (*berth_meta_manifest_info_fn)(const struct berth_meta_manifest_info *mi, void *ctx);

/* ACR's changeable attributes as locks_set takes them: 1 or 0 sets one, -1 leaves it as it is. */
struct berth_meta_locks {
    int write, del, read, list;
};

/* How a list of tags or manifests is ordered: by name (digest), newest first, oldest first. */
enum berth_meta_order { BERTH_ORDER_NAME, BERTH_ORDER_TIME_DESC, BERTH_ORDER_TIME_ASC };

/* An entry of gc's review queue: what it names (repo_id 0 for a blob) and when it became due. */
struct berth_meta_gc_entry {
    int64_t repo_id;
    char digest[BERTH_DIGEST_STR_MAX + 1];
    int64_t review_ms;
};
typedef int (*berth_meta_gc_entry_fn)(const struct berth_meta_gc_entry *e, void *ctx);

/* What gc's review queue holds that is not due yet (gc_waiting): counts by kind, the earliest entry. */
struct berth_meta_gc_waiting {
    uint64_t manifests, links, blobs;
    int64_t first_review_ms; /* the earliest review_ms among them; 0 when none */
};

/*
 * Called by blob_claim and blob_reap inside their transaction, while no
 * other claim or reap of the same digest can run; a nonzero code rolls the
 * transaction back and is returned.
 */
typedef enum berth_rc (*berth_meta_blob_fn)(void *ctx, struct berth_err *err);

/* What blob_claim claims. Everything is borrowed. */
struct berth_meta_claim {
    int64_t reg;                       /* registry id */
    const char *repo;                  /* link the blob to this repository */
    const struct berth_digest *digest;
    int64_t size;                      /* a push: its size; a mount: set to the source's */
    const char *from;                  /* NULL for a push; a mount's source repository (same registry) */
    const char *upload;                /* a recorded upload session that ends with the claim; may be NULL */
    berth_meta_blob_fn store;          /* makes sure the bytes are in the store; may be NULL */
    void *ctx;                         /* for store */
};

/* The tenant, registries and their network access. */
struct berth_meta_reg_ops {
    /* The tenant id (GUID), made on first call. */
    enum berth_rc (*tenant_id)(struct berth_meta *m, char out[37], struct berth_err *err);

    /* Creates a registry named r->name (caller validated it) with r's settings; fills r->id,
       r->created_ms. BERTH_EEXIST if the name is taken. */
    enum berth_rc (*registry_create)(struct berth_meta *m, struct berth_meta_registry *r, struct berth_err *err);

    /* By name (id == 0) or by id. BERTH_ENOENT naming the registry when absent. */
    enum berth_rc (*registry_get)(struct berth_meta *m, const char *name, int64_t id, struct berth_meta_registry *out,
                                  struct berth_err *err);

    enum berth_rc (*registry_list)(struct berth_meta *m, berth_meta_registry_fn fn, void *ctx, struct berth_err *err);

    /*
     * Writes the fields of r (by r->id) that what names (BERTH_META_REG_*), in one transaction, and no
     * others, so changes of different fields never undo each other. BERTH_ENOENT if absent.
     */
    enum berth_rc (*registry_update)(struct berth_meta *m, const struct berth_meta_registry *r, unsigned what,
                                     struct berth_err *err);

    /* Deletes the registry and everything in it (repositories, tokens, scope maps, uploads, its role
       assignments); blob bytes are left to gc. BERTH_ENOENT if absent. */
    enum berth_rc (*registry_delete)(struct berth_meta *m, int64_t id, struct berth_err *err);

    /* The registry's network settings and rules, one indexed query. BERTH_ENOENT if no such registry. */
    enum berth_rc (*network_get)(struct berth_meta *m, int64_t reg, struct berth_meta_network *out,
                                 struct berth_err *err);

    /*
     * Replaces the settings and every rule, in one transaction. More than
     * BERTH_META_IP_RULES_MAX rules, an empty or unterminated rule, or the same
     * rule twice: BERTH_EINVAL and nothing changes. BERTH_ENOENT if no registry.
     */
    enum berth_rc (*network_put)(struct berth_meta *m, int64_t reg, const struct berth_meta_network *in,
                                 struct berth_err *err);

    /*
     * Adds one rule after the others, in one transaction with its checks, so concurrent adds and removes
     * never lose each other's change. *added is 0 when the rule was there already. BERTH_EBUSY when
     * the registry has BERTH_META_IP_RULES_MAX rules; BERTH_ENOENT if no registry.
     */
    enum berth_rc (*network_rule_add)(struct berth_meta *m, int64_t reg, const char *rule, int *added,
                                      struct berth_err *err);

    /* Removes one rule; BERTH_ENOENT naming it when the registry has no such rule. */
    enum berth_rc (*network_rule_remove)(struct berth_meta *m, int64_t reg, const char *rule, struct berth_err *err);
};

/* The directory: users, service principals and their secrets, scope maps, repository tokens, role assignments. */
struct berth_meta_dir_ops {
    /* Users: names unique server-wide. create fills id and created_ms; BERTH_EEXIST if taken. */
    enum berth_rc (*user_create)(struct berth_meta *m, struct berth_meta_user *u, struct berth_err *err);

    /* By name, or by id when name is NULL. BERTH_ENOENT when absent. */
    enum berth_rc (*user_get)(struct berth_meta *m, const char *name, const char *id, struct berth_meta_user *out,
                              struct berth_err *err);

    enum berth_rc (*user_list)(struct berth_meta *m, berth_meta_user_fn fn, void *ctx, struct berth_err *err);

    /* Replaces the password hash (and password_set_ms). */
    enum berth_rc (*user_set_password)(struct berth_meta *m, const char *id, const char *hash, int64_t set_ms,
                                       struct berth_err *err);

    /* Deletes the user and their role assignments. */
    enum berth_rc (*user_delete)(struct berth_meta *m, const char *id, struct berth_err *err);

    /* Service principals: create fills app_id (new GUID) and created_ms. */
    enum berth_rc (*sp_create)(struct berth_meta *m, struct berth_meta_sp *sp, struct berth_err *err);

    enum berth_rc (*sp_get)(struct berth_meta *m, const char *app_id, struct berth_meta_sp *out, struct berth_err *err);

    enum berth_rc (*sp_list)(struct berth_meta *m, berth_meta_sp_fn fn, void *ctx, struct berth_err *err);

    /* Deletes the SP, its secrets and its role assignments. */
    enum berth_rc (*sp_delete)(struct berth_meta *m, const char *app_id, struct berth_err *err);

    /* Adds a secret (fills s->id, created_ms); at most 10 per SP (BERTH_EBUSY beyond). */
    enum berth_rc (*sp_secret_add)(struct berth_meta *m, const char *app_id, struct berth_meta_sp_secret *s,
                                   struct berth_err *err);

    enum berth_rc (*sp_secret_remove)(struct berth_meta *m, const char *app_id, const char *secret_id,
                                      struct berth_err *err);

    /* Every secret of the SP, newest first. */
    enum berth_rc (*sp_secrets)(struct berth_meta *m, const char *app_id, berth_meta_sp_secret_fn fn, void *ctx,
                                struct berth_err *err);

    /* Scope maps of a registry: put creates or replaces (rules included) by (reg, name); fills id. */
    enum berth_rc (*scopemap_put)(struct berth_meta *m, struct berth_meta_scopemap *sm, struct berth_err *err);

    /* Fills out (release it with berth_meta_scopemap_release). BERTH_ENOENT when absent. */
    enum berth_rc (*scopemap_get)(struct berth_meta *m, int64_t reg, const char *name, struct berth_meta_scopemap *out,
                                  struct berth_err *err);

    enum berth_rc (*scopemap_list)(struct berth_meta *m, int64_t reg, berth_meta_scopemap_fn fn, void *ctx,
                                   struct berth_err *err);

    /* BERTH_EBUSY naming a token when a token still uses the map. */
    enum berth_rc (*scopemap_delete)(struct berth_meta *m, int64_t reg, const char *name, struct berth_err *err);

    /* Tokens of a registry: put creates or replaces every field by (reg, name); fills id/created_ms on create. */
    enum berth_rc (*token_put)(struct berth_meta *m, struct berth_meta_token *t, struct berth_err *err);

    enum berth_rc (*token_get)(struct berth_meta *m, int64_t reg, const char *name, struct berth_meta_token *out,
                               struct berth_err *err);

    enum berth_rc (*token_list)(struct berth_meta *m, int64_t reg, berth_meta_token_fn fn, void *ctx,
                                struct berth_err *err);

    enum berth_rc (*token_delete)(struct berth_meta *m, int64_t reg, const char *name, struct berth_err *err);

    /* Role assignments: create fills id and created_ms (an identical assignment: BERTH_EEXIST). */
    enum berth_rc (*assignment_create)(struct berth_meta *m, struct berth_meta_assignment *a, struct berth_err *err);

    enum berth_rc (*assignment_delete)(struct berth_meta *m, const char *id, struct berth_err *err);

    /* All assignments, or those of one principal when principal_id != NULL. */
    enum berth_rc (*assignment_list)(struct berth_meta *m, const char *principal_id, berth_meta_assignment_fn fn,
                                     void *ctx, struct berth_err *err);
};

/* Repositories and their content: blob links, blob claims and reaps, manifests, tags, referrers, gc. */
struct berth_meta_content_ops {
    /* BERTH_OK if the repository exists, else BERTH_ENAMEUNKNOWN. */
    enum berth_rc (*repo_exists)(struct berth_meta *m, int64_t reg, const char *repo, struct berth_err *err);

    /*
     * Repositories sorted by name, those > last (last may be NULL), at most n;

     * *more set to 1 if further names exist.
     */
    enum berth_rc (*repo_list)(struct berth_meta *m, int64_t reg, const char *last, int64_t n, berth_meta_name_fn fn,
                               void *ctx, int *more, struct berth_err *err);

    /*
     * Claims blob c->digest for c->repo (created if needed) in one
     * transaction that no claim or reap of the same digest, by any server,
     * can interleave with: records the blob (size c->size) if it is new,
     * calls c->store (which must leave the blob's bytes in the store: commit
     * the push's upload, or see that they are there), and links the blob to
     * the repository (idempotent; renews the link's time). A mount names
     * c->from: the blob must be linked there (else BERTH_EBLOBUNKNOWN and
     * nothing changes) and c->size is set to its size. An error from c->store
     * rolls everything back. See docs/internals/store.md, "gc and pushes".
     */
    enum berth_rc (*blob_claim)(struct berth_meta *m, struct berth_meta_claim *c, struct berth_err *err);

    /* BERTH_OK and *size if linked, else BERTH_EBLOBUNKNOWN. size may be NULL. */
    enum berth_rc (*blob_linked)(struct berth_meta *m, int64_t reg, const char *repo, const struct berth_digest *d,
                                 int64_t *size, struct berth_err *err);

    enum berth_rc (*blob_unlink)(struct berth_meta *m, int64_t reg, const char *repo, const struct berth_digest *d,
                                 struct berth_err *err);

    /* Calls fn for each repository the blob is linked to (sorted); stops when fn returns nonzero. */
    enum berth_rc (*blob_repos)(struct berth_meta *m, int64_t reg, const struct berth_digest *d, berth_meta_name_fn fn,
                                void *ctx, struct berth_err *err);

    /* *used = 1 if any repository links d or any manifest references it. */
    enum berth_rc (*blob_in_use)(struct berth_meta *m, const struct berth_digest *d, int *used,
                                 struct berth_err *err);

    /*
     * Deletes blob d if nothing uses it, in one transaction that no claim of
     * d can interleave with: checks that no repository links it and no
     * manifest references it, forgets its record (if any) and calls remove
     * (which must delete the store's bytes; an absent blob is not an error).
     * d's entry in gc's review queue goes with the decision. queued: only if
     * that entry is there to take (another server's gc holding it, or done
     * with it, makes this a no-op). *reaped = 1 when it was deleted; an error
     * from remove rolls back. dry_run: the check only (*reaped tells what
     * would happen).
     */
    enum berth_rc (*blob_reap)(struct berth_meta *m, const struct berth_digest *d, int dry_run, int queued,
                               berth_meta_blob_fn remove, void *ctx, int *reaped, struct berth_err *err);

    /*
     * Stores a manifest and, when tag != NULL, points the tag at it, in one
     * transaction; creates the repository. Every blob must be linked to the
     * repository and every child must be a manifest of it, else
     * BERTH_EMANIFESTBLOB naming the missing digest and nothing changes.
     * Re-putting the same digest is fine.
     */
    enum berth_rc (*manifest_put)(struct berth_meta *m, const struct berth_meta_manifest *mf, const char *tag,
                                  struct berth_err *err);

    /*
     * Looks up by ref (tag or digest). Fills payload (appended to), media type
     * (copied into media_type, size mtlen) and digest. Unknown repository:
     * BERTH_ENAMEUNKNOWN; unknown manifest or tag: BERTH_EMANIFESTUNKNOWN.
     * payload may be NULL to skip the bytes (HEAD); *len gets their length.
     */
    enum berth_rc (*manifest_get)(struct berth_meta *m, int64_t reg, const char *repo, const struct berth_ref *ref,
                                  struct berth_buf *payload, size_t *len, char *media_type, size_t mtlen,
                                  struct berth_digest *digest, struct berth_err *err);

    /* Deletes a manifest and every tag on it. BERTH_EMANIFESTUNKNOWN if absent. */
    enum berth_rc (*manifest_delete)(struct berth_meta *m, int64_t reg, const char *repo, const struct berth_digest *d,
                                     struct berth_err *err);

    /*
     * Deletes repository repo with every manifest, tag and blob link of it, in
     * one transaction (blob bytes are left to gc). fn (may be NULL) is called
     * first with each manifest digest (is_tag 0), then each tag (is_tag 1),
     * sorted; a nonzero return stops the calls, not the delete.
     * BERTH_ENAMEUNKNOWN if there is no such repository.
     */
    enum berth_rc (*repo_delete)(struct berth_meta *m, int64_t reg, const char *repo, berth_meta_repo_item_fn fn,
                                 void *ctx, struct berth_err *err);

    /* Removes one tag. BERTH_EMANIFESTUNKNOWN if absent. */
    enum berth_rc (*tag_delete)(struct berth_meta *m, int64_t reg, const char *repo, const char *tag, struct berth_err *err);

    /* Tags of repo sorted, > last, at most n; *more like repo_list. BERTH_ENAMEUNKNOWN if no repo. */
    enum berth_rc (*tag_list)(struct berth_meta *m, int64_t reg, const char *repo, const char *last, int64_t n,
                              berth_meta_name_fn fn, void *ctx, int *more, struct berth_err *err);

    /* Manifests of repo whose subject is d, filtered by artifact_type when not NULL, sorted by digest. */
    enum berth_rc (*referrers)(struct berth_meta *m, int64_t reg, const char *repo, const struct berth_digest *d,
                               const char *artifact_type, berth_meta_referrer_fn fn, void *ctx,
                               struct berth_err *err);

    /*
     * Garbage collection of metadata from gc's review queue (what removing a
     * tag, manifest, link or repository, or an untagged push, queued), in
     * short transactions of at most a few hundred entries each (writers wait
     * for one at most; on PostgreSQL entries another server's gc holds are
     * skipped): deletes queued manifests that have no tag, are no child of
     * another manifest, whose subject (if any) no longer exists and that were
     * stored before cutoff_ms; then queued repository-blob links that no
     * manifest of that repository references and that were made before
     * cutoff_ms, queuing their blobs. An entry stays while what it names is
     * younger than cutoff_ms. Calls on_manifest and on_unlink for each
     * deletion (either may be NULL). dry_run: report only.
     */
    enum berth_rc (*gc)(struct berth_meta *m, int64_t cutoff_ms, int dry_run, berth_meta_gc_fn on_manifest,
                        berth_meta_gc_fn on_unlink, void *ctx, struct berth_err *err);

    /* What registry reg holds, read in one statement (it walks the registry's rows). */
    enum berth_rc (*registry_usage)(struct berth_meta *m, int64_t reg, struct berth_meta_usage *out,
                                    struct berth_err *err);

    /* ACR's attributes of repository repo. BERTH_ENAMEUNKNOWN if there is none. */
    enum berth_rc (*repo_info)(struct berth_meta *m, int64_t reg, const char *repo, struct berth_meta_repo_info *out,
                               struct berth_err *err);

    /*
     * Tags of repo with their manifests and times: tag one alone (when not
     * NULL; BERTH_EMANIFESTUNKNOWN if there is no such tag), or at most n in
     * order after the tag named last (NULL: from the start; in a time order,
     * a last that is no tag also starts there); *more (may be NULL) whether
     * any follow. BERTH_ENAMEUNKNOWN if there is no such repository.
     */
    enum berth_rc (*tag_infos)(struct berth_meta *m, int64_t reg, const char *repo, const char *one, const char *last,
                               int64_t n, enum berth_meta_order order, berth_meta_tag_info_fn fn, void *ctx,
                               int *more, struct berth_err *err);

    /*
     * Sets ACR's locks (each of set: 1 unlocked, 0 locked, -1 as it is) of
     * repository repo, or of its tag (tag) or manifest (d). A locked write
     * refuses pushing the tag or the manifest again (any manifest push into
     * a locked repository), a locked delete refuses deleting it (a manifest
     * also while one of its tags is, a repository while anything in it is;
     * gc keeps what is locked), a locked read refuses pulling it
     * (manifest_get; for a repository blob_linked too): BERTH_EDENIED naming
     * the lock. A locked list leaves it out of lists (repo_list, tag_list,
     * tag_infos and manifest_infos of a page), not out of a read by name.
     * Unknown: BERTH_ENAMEUNKNOWN, BERTH_EMANIFESTUNKNOWN.
     */
    enum berth_rc (*locks_set)(struct berth_meta *m, int64_t reg, const char *repo, const char *tag,
                               const struct berth_digest *d, const struct berth_meta_locks *set,
                               struct berth_err *err);

    /* Manifests of repo with their sizes, times and tags, as tag_infos (last: a digest). */
    enum berth_rc (*manifest_infos)(struct berth_meta *m, int64_t reg, const char *repo,
                                    const struct berth_digest *one, const char *last, int64_t n,
                                    enum berth_meta_order order, berth_meta_manifest_info_fn fn, void *ctx,
                                    int *more, struct berth_err *err);

    /*
     * Blobs in gc's review queue due by due_ms, after *after in review order
     * (start with review_ms -1), at most n, to fn (nonzero stops). Each is
     * then decided by blob_reap(queued = 1).
     */
    enum berth_rc (*gc_blobs_due)(struct berth_meta *m, int64_t due_ms, const struct berth_meta_gc_entry *after,
                                  int64_t n, berth_meta_gc_entry_fn fn, void *ctx, struct berth_err *err);
    /* The queue's entries not due by due_ms (the ones the grace period keeps), counted by kind. */
    enum berth_rc (*gc_waiting)(struct berth_meta *m, int64_t due_ms, struct berth_meta_gc_waiting *out,
                                struct berth_err *err);
};

/* An upload session's record and saved state (upload_load). */
struct berth_meta_upload {
    int64_t reg;
    char repo[BERTH_NAME_MAX + 1];
    int64_t created_ms;
    uint64_t size;                              /* bytes received, as of the last save */
    unsigned char hash[BERTH_HASHER_SAVE_MAX];  /* berth_hasher_save of those bytes */
    size_t hash_len;                            /* 0: never saved (rebuild it from the store) */
    char *ext;                                  /* the blob store's resume data, malloc'd, or NULL */
};

/* Frees what upload_load put in u (not u itself). */
void berth_meta_upload_release(struct berth_meta_upload *u);

/* Upload sessions. */
struct berth_meta_upload_ops {
    /*
     * Records upload session uuid for repo, opened by principal at
     * created_ms. With max > 0 and max sessions of that principal on that
     * repository already open, records nothing and returns BERTH_ETOOMANY
     * (decided atomically).
     */
    enum berth_rc (*upload_put)(struct berth_meta *m, const char *uuid, int64_t reg, const char *repo,
                                const char *principal, int64_t created_ms, int64_t max, struct berth_err *err);

    /* Fills repo (size repolen) and created_ms; BERTH_EUPLOADUNKNOWN if absent. */
    enum berth_rc (*upload_get)(struct berth_meta *m, const char *uuid, int64_t *reg, char *repo, size_t repolen,
                                int64_t *created_ms, struct berth_err *err);

    enum berth_rc (*upload_delete)(struct berth_meta *m, const char *uuid, struct berth_err *err);

    /* Every session, with uuid; fn's name argument is the uuid. */
    enum berth_rc (*upload_list)(struct berth_meta *m, berth_meta_name_fn fn, void *ctx, struct berth_err *err);

    /* The session's record and saved state into *out (release it); BERTH_EUPLOADUNKNOWN if absent. */
    enum berth_rc (*upload_load)(struct berth_meta *m, const char *uuid, struct berth_meta_upload *out,
                                 struct berth_err *err);
    /*
     * Saves the state a session reached: size bytes received, their running
     * hash (hash_len bytes of berth_hasher_save) and the store's resume data
     * (ext, may be NULL). BERTH_EUPLOADUNKNOWN if the session is gone.
     */
    enum berth_rc (*upload_save)(struct berth_meta *m, const char *uuid, uint64_t size, const void *hash,
                                 size_t hash_len, const char *ext, int64_t now_ms, struct berth_err *err);
    /*
     * Takes the session for one request against every server sharing the
     * store (a server's own requests are kept apart by the caller): until
     * upload_unlock, or until the holder dies. BERTH_EBUSY when another
     * server's request holds it.
     */
    enum berth_rc (*upload_lock)(struct berth_meta *m, const char *uuid, struct berth_err *err);
    void (*upload_unlock)(struct berth_meta *m, const char *uuid);
};

/* The event logs. */
struct berth_meta_event_ops {
    /* Appends n events in one transaction; sets each e[i]->id to the id it was given. */
    enum berth_rc (*events_insert)(struct berth_meta *m, struct berth_meta_event *const *e, size_t n,
                                   struct berth_err *err);

    /* Calls fn for each event matching f, newest first (or oldest first); stops when fn returns nonzero. */
    enum berth_rc (*events_query)(struct berth_meta *m, const struct berth_meta_event_filter *f,
                                  berth_meta_event_fn fn, void *ctx, struct berth_err *err);

    /* Deletes events older than before_ms and all but the newest max_rows; *deleted gets the count. */
    enum berth_rc (*events_prune)(struct berth_meta *m, int64_t before_ms, int64_t max_rows, int64_t *deleted,
                                  struct berth_err *err);
};

/* ---- what the servers of one store share for logins ---- */

#define BERTH_META_KID_MAX 64        /* a signing key's id (berth's are 22 characters) */
#define BERTH_META_KEY_TEXT_MAX 16384 /* a signing key's text, as a key file's is capped */

/* A stored signing key; everything is borrowed during the call. Nonzero stops the walk. */
typedef int (*berth_meta_key_fn)(const char *kid, int64_t created_ms, const char *text, void *ctx);

/* The brute-force limiter's settings (the config's login-failures, login-window, login-lockout). */
struct berth_meta_login_limits {
    int64_t max_failures; /* failures within window_s that lock the pair out; <= 0: never */
    int64_t window_s;     /* <= 0: never */
    int64_t lockout_s;    /* <= 0: never */
};

/*
 * What every server sharing the store must see alike to answer logins
 * alike: the token signing keys, and the brute-force limiter's failures and
 * lockouts per (principal, client IP). A server alone on its store keeps
 * both itself (<data>/keys and the in-memory berth_limiter); a shared one
 * (ops->shared) keeps them here. See docs/internals/auth-jwt.md and
 * docs/internals/auth-secrets.md.
 */
struct berth_meta_auth_ops {
    /* Every stored key, oldest first (created_ms, then kid), until fn returns nonzero. */
    enum berth_rc (*key_list)(struct berth_meta *m, berth_meta_key_fn fn, void *ctx, struct berth_err *err);

    /*
     * Stores a signing key under kid: text is a key file's content as is
     * ("berth-key-created-ms: N" and a PKCS#8 PEM block, or the PEM block
     * alone), created_ms its creation time (the file's line, or its mtime
     * when it has none). Nothing here parses the key; the key ring checks it
     * when it loads it. A kid already stored is left as it was: *added (may
     * be NULL) is 1 when this call stored the key. An empty kid or text, or
     * one over BERTH_META_KID_MAX or BERTH_META_KEY_TEXT_MAX: BERTH_EINVAL.
     */
    enum berth_rc (*key_add)(struct berth_meta *m, const char *kid, int64_t created_ms, const char *text, int *added,
                             struct berth_err *err);

    /* Forgets the key kid; an absent one is not an error. */
    enum berth_rc (*key_remove)(struct berth_meta *m, const char *kid, struct berth_err *err);

    /*
     * The limiter of berth_limiter (auth.h) with its state here: the pair
     * is a SHA-256 of principal and ip (NULL counts as ""), times are the
     * caller's now_s. login_blocked: *retry_after_s (may be NULL) gets the
     * seconds the pair is still locked out (0: not locked out); *pending
     * (may be NULL) is set when anything is recorded for the pair, so that
     * a success has something to clear.
     */
    enum berth_rc (*login_blocked)(struct berth_meta *m, const char *principal, const char *ip, int64_t now_s,
                                   int64_t *retry_after_s, int *pending, struct berth_err *err);
    /*
     * Counts a failure at now_s, in one transaction with the check: none
     * during a lockout; the max_failures-th within window_s (the exact
     * sliding window) locks the pair out until now_s + lockout_s and forgets
     * its failures. Then forgets failures and lockouts every pair has
     * outlived, so the tables stay bounded.
     */
    enum berth_rc (*login_failed)(struct berth_meta *m, const char *principal, const char *ip, int64_t now_s,
                                  const struct berth_meta_login_limits *lim, struct berth_err *err);
    /* Forgets the pair's failures and lockout. */
    enum berth_rc (*login_succeeded)(struct berth_meta *m, const char *principal, const char *ip,
                                     struct berth_err *err);
};

/* The driver: its name, and opening, closing and checking a store. */
struct berth_meta_ops {
    const char *name;
    int shared; /* several servers may use this store at once (PostgreSQL); 0: one server alone (SQLite) */

    /* Opens (creating if needed) and migrates the store; dsn is a file path for SQLite. */
    enum berth_rc (*open)(const char *dsn, struct berth_meta **out, struct berth_err *err);

    void (*close)(struct berth_meta *m); /* NULL-safe */

    /* Checks the store answers (used by readiness and doctor). */
    enum berth_rc (*ping)(struct berth_meta *m, struct berth_err *err);

    /*
     * Looks at the store at dsn without opening it for use: read-only, never
     * created, never migrated, so it is safe beside a running server. Fills
     * *out: schema version against the newest known, and a consistency check
     * (SQLite: PRAGMA quick_check, less SQLite 3.40's false NULL reports on
     * WITHOUT ROWID tables). A damaged store is BERTH_OK with
     * intact = 0; BERTH_EDB only when the store cannot be read at all.
     */
    enum berth_rc (*inspect)(const char *dsn, struct berth_meta_inspect *out, struct berth_err *err);
};

/*
 * A store: a driver fills every table. Callers use the narrowest table
 * they need (m->content->tag_list(m, ...)), so a driver, or a test double,
 * can be written table by table.
 */
struct berth_meta {
    uint32_t magic; /* BERTH_META_MAGIC */
    const struct berth_meta_ops *ops;             /* the driver */
    const struct berth_meta_reg_ops *reg;         /* tenant, registries, network access */
    const struct berth_meta_dir_ops *dir;         /* users, service principals, scope maps, tokens, roles */
    const struct berth_meta_content_ops *content; /* repositories, blobs, manifests, tags, gc */
    const struct berth_meta_upload_ops *uploads;  /* upload sessions */
    const struct berth_meta_event_ops *events;    /* event logs */
    const struct berth_meta_auth_ops *auth;       /* signing keys and login failures, shared by the servers */
};

extern const struct berth_meta_ops berth_meta_sqlite_ops;
/* PostgreSQL (meta_pg.c): dsn is a libpq connection string or URI ("postgresql://..."). */
extern const struct berth_meta_ops berth_meta_pg_ops;

/* Looks a driver up by name ("sqlite"); NULL if unknown. */
const struct berth_meta_ops *berth_meta_driver(const char *name);

/*
 * ---- a whole store, table by table (berth migrate; meta_copy.c) ----
 *
 * These work on any two stores of the SQL layer, of the same driver or not.
 * Every table of the schema is copied through the SQL layer, column by
 * column by name, in foreign-key order; the engine's own bookkeeping (the
 * schema version) is not a table of the copy. Both stores must be at the
 * same schema version: open them with their driver's open, which migrates.
 */

#define BERTH_META_TABLES_MAX 32

/* One table: its name (static), its rows and, from berth_meta_compare, a SHA-256 of them in key order. */
struct berth_meta_table {
    const char *name;
    int64_t rows;
    unsigned char sum[32];
};

/* A store's tables in copy order (a table after those its foreign keys name). */
struct berth_meta_tables {
    size_t n;
    struct berth_meta_table t[BERTH_META_TABLES_MAX];
};

/* Progress: table i of n (from 0), rows of it done so far of total. */
typedef void (*berth_meta_rows_fn)(const char *table, size_t i, size_t n, int64_t done, int64_t total, void *ctx);

/*
 * A blob the metadata references (the blobs table, repository links,
 * manifests' references) and the least and greatest size recorded for it
 * (both -1 when only a manifest names it). A code other than BERTH_OK
 * stops the walk and is returned.
 */
typedef enum berth_rc (*berth_meta_blob_ref_fn)(const struct berth_digest *d, int64_t min_size, int64_t max_size,
                                                void *ctx, struct berth_err *err);

/*
 * Every table's row count in one snapshot, in copy order. BERTH_EDB when
 * the schema holds a table the copy does not know, or lacks one it knows.
 */
enum berth_rc berth_meta_tables_count(struct berth_meta *m, struct berth_meta_tables *out, struct berth_err *err);

struct berth_meta_copy_opts {
    berth_meta_rows_fn progress; /* may be NULL */
    /*
     * Called inside the target's transaction, after every row is written,
     * for each blob the copied metadata references (may be NULL): an error
     * rolls the whole copy back, so the target never commits a reference to
     * a blob its store lacks.
     */
    berth_meta_blob_ref_fn blob_check;
    void *ctx; /* for both */
};

/*
 * Copies every row of every table of from (read in one snapshot) into to,
 * in one transaction on to: into a store holding no row in any table (else
 * BERTH_EEXIST naming the tables that have rows, and nothing changes).
 * Identity sequences are set past the copied ids; each table's row count
 * is checked before the commit. *copied gets the rows written per table.
 */
enum berth_rc berth_meta_copy(struct berth_meta *from, struct berth_meta *to, const struct berth_meta_copy_opts *o,
                              struct berth_meta_tables *copied, struct berth_err *err);

/*
 * Reads every table of a and of b (each in one snapshot) in key order and
 * fills *ta and *tb with row counts and SHA-256 sums over the columns both
 * have, values compared as the integers, texts and bytes they are whatever
 * the engine; *same is 1 when every count and sum agrees. progress (may be
 * NULL) counts the rows of a and b together.
 */
enum berth_rc berth_meta_compare(struct berth_meta *a, struct berth_meta *b, berth_meta_rows_fn progress, void *ctx,
                                 struct berth_meta_tables *ta, struct berth_meta_tables *tb, int *same,
                                 struct berth_err *err);

/* Calls fn for every blob m's metadata references, by digest, in one snapshot. */
enum berth_rc berth_meta_blob_refs(struct berth_meta *m, berth_meta_blob_ref_fn fn, void *ctx, struct berth_err *err);

/*
 * ---- a SQLite database as one file (berth backup and restore; meta_sqlite.c) ----
 *
 * Neither opens the database for use: nothing is migrated or created
 * beside it, so both are safe on the database of a running server.
 */

/*
 * Writes a consistent copy of the database at src (which a server may be
 * writing) to dst, a new file: SQLite's online backup in one read
 * transaction, so the copy holds every commit before it began and none
 * after; the copy is in rollback-journal mode (one file, no -wal) and
 * fsynced (not its folder: the caller renames it into place). BERTH_ENOENT
 * when src does not exist.
 */
enum berth_rc berth_meta_sqlite_snapshot(const char *src, const char *dst, struct berth_err *err);

/* What berth_meta_sqlite_examine finds. */
struct berth_meta_sqlite_facts {
    struct berth_meta_inspect in;    /* version, latest, intact and problem as inspect fills them */
    struct berth_meta_tables tables; /* rows per table (sums unset); a later schema's table is absent */
};

/*
 * Reads the database file at path (read-only; it must not be in WAL mode
 * unless its -wal may be read): PRAGMA integrity_check (full) or
 * quick_check into out->in (a damaged file is BERTH_OK with intact 0, and
 * nothing else is read), the schema version (one newer than this build's
 * stops there too), the rows of every table, and fn (may be NULL) for
 * every blob it references with the sizes recorded (as berth_meta_blob_refs).
 */
enum berth_rc berth_meta_sqlite_examine(const char *path, int full, struct berth_meta_sqlite_facts *out,
                                        berth_meta_blob_ref_fn fn, void *ctx, struct berth_err *err);

#endif
