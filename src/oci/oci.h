/*
 * oci.h - the registry's pure domain: names, tags, digests, ranges, media
 * types and manifest validation. No I/O; safe to call from any thread.
 */
#ifndef BERTH_OCI_H
#define BERTH_OCI_H

#include <stddef.h>
#include <stdint.h>
#include "err.h"

#define BERTH_NAME_MAX 255 /* repository name length */
#define BERTH_TAG_MAX 128

/*
 * Repository name per the distribution spec:
 * [a-z0-9]+((\.|_|__|-+)[a-z0-9]+)*(\/[a-z0-9]+((\.|_|__|-+)[a-z0-9]+)*)*
 * and at most BERTH_NAME_MAX bytes. On failure: BERTH_ENAME, message says why.
 */
enum berth_rc berth_oci_name_check(const char *name, size_t len, struct berth_err *err);
/* Tag: [a-zA-Z0-9_][a-zA-Z0-9._-]{0,127}. On failure: BERTH_ETAG. */
enum berth_rc berth_oci_tag_check(const char *tag, size_t len, struct berth_err *err);

/* ---- digests ---- */

enum berth_digest_alg {
    BERTH_DIGEST_SHA256 = 1,
    BERTH_DIGEST_SHA512 = 2,
};

#define BERTH_DIGEST_STR_MAX 136 /* "sha512:" + 128 hex + NUL, rounded */

/* A parsed, valid digest. s is the canonical text "alg:hex". */
struct berth_digest {
    enum berth_digest_alg alg;
    char s[BERTH_DIGEST_STR_MAX];
};

/*
 * Parses "sha256:<64 lowercase hex>" or "sha512:<128 lowercase hex>".
 * Malformed or unknown algorithm: BERTH_EDIGEST with the reason.
 */
enum berth_rc berth_digest_parse(const char *s, size_t len, struct berth_digest *out, struct berth_err *err);
/* Pointer to the hex part of d->s. */
const char *berth_digest_hex(const struct berth_digest *d);
/* "sha256" or "sha512". */
const char *berth_digest_alg_name(enum berth_digest_alg alg);
int berth_digest_eq(const struct berth_digest *a, const struct berth_digest *b);

/* Streaming hash. Owns an OpenSSL context: release with berth_hasher_release. */
struct berth_hasher {
    enum berth_digest_alg alg;
    void *ctx; /* OpenSSL's SHA256_CTX or SHA512_CTX */
};

void berth_hasher_init(struct berth_hasher *h, enum berth_digest_alg alg);
void berth_hasher_update(struct berth_hasher *h, const void *p, size_t n);
/* Finishes into out; the hasher may not be updated afterwards (reinit it). */
void berth_hasher_final(struct berth_hasher *h, struct berth_digest *out);
/* Copies the state of src into dst (dst must be released or uninitialised). */
void berth_hasher_copy(struct berth_hasher *dst, const struct berth_hasher *src);
void berth_hasher_release(struct berth_hasher *h);

/* Bytes berth_hasher_save writes at most. */
#define BERTH_HASHER_SAVE_MAX 224
/*
 * The hasher's running state as bytes (at most BERTH_HASHER_SAVE_MAX), to
 * continue it later, in another process or on another machine, with
 * berth_hasher_load; returns the count. The hasher keeps running.
 */
size_t berth_hasher_save(const struct berth_hasher *h, unsigned char out[BERTH_HASHER_SAVE_MAX]);
/* Starts h (uninitialised or released) from saved bytes; BERTH_EINVAL when they are not a saved state. */
enum berth_rc berth_hasher_load(struct berth_hasher *h, const void *buf, size_t len, struct berth_err *err);
/* One-shot digest of a buffer. */
void berth_digest_of(enum berth_digest_alg alg, const void *p, size_t n, struct berth_digest *out);

/* ---- references: a tag or a digest ---- */

struct berth_ref {
    int is_digest;
    struct berth_digest digest; /* valid when is_digest */
    char tag[BERTH_TAG_MAX + 1]; /* valid when !is_digest */
};

/* A reference contains ':' => digest (BERTH_EDIGEST on failure), else a tag (BERTH_ETAG). */
enum berth_rc berth_ref_parse(const char *s, size_t len, struct berth_ref *out, struct berth_err *err);

/* ---- ranges ---- */

/*
 * Parses an HTTP Range header value for a resource of `size` bytes. Accepts a
 * single range "bytes=a-b", "bytes=a-", "bytes=-n". On success *start and
 * *end (inclusive) are set. Malformed: BERTH_EINVAL; unsatisfiable (start >=
 * size, or size == 0): BERTH_ERANGE. Multiple ranges are BERTH_EINVAL.
 */
enum berth_rc berth_range_parse(const char *s, size_t len, uint64_t size, uint64_t *start, uint64_t *end,
                                struct berth_err *err);
/*
 * Parses an upload chunk's Content-Range: "a-b", also accepting "bytes a-b"
 * and "bytes=a-b" and an optional "/total" suffix. b >= a. Malformed:
 * BERTH_EUPLOADRANGE.
 */
enum berth_rc berth_content_range_parse(const char *s, size_t len, uint64_t *start, uint64_t *end,
                                        struct berth_err *err);

/* ---- media types and manifests ---- */

#define BERTH_MT_OCI_MANIFEST "application/vnd.oci.image.manifest.v1+json"
#define BERTH_MT_OCI_INDEX "application/vnd.oci.image.index.v1+json"
#define BERTH_MT_DOCKER_MANIFEST "application/vnd.docker.distribution.manifest.v2+json"
#define BERTH_MT_DOCKER_LIST "application/vnd.docker.distribution.manifest.list.v2+json"
#define BERTH_MT_OCI_EMPTY "application/vnd.oci.empty.v1+json"

enum berth_manifest_kind {
    BERTH_MANIFEST_IMAGE = 1, /* OCI image manifest or Docker schema 2 */
    BERTH_MANIFEST_INDEX = 2, /* OCI index or Docker manifest list */
};

/* A descriptor reduced to what the registry checks. */
struct berth_desc {
    struct berth_digest digest;
    int64_t size;
    char *media_type; /* owned; may be NULL */
};

/* A validated manifest. Everything is owned; free with berth_manifest_free. */
struct berth_manifest {
    enum berth_manifest_kind kind;
    char *media_type;        /* effective media type (never NULL) */
    char *artifact_type;     /* artifactType, else config.mediaType for images; NULL if none */
    char *annotations_json;  /* compact JSON object text of "annotations", or NULL */
    struct berth_desc *blobs; /* config first (for images), then layers; blobs that must exist */
    size_t nblobs;
    struct berth_desc *children; /* index: child manifests that must exist */
    size_t nchildren;
    int has_subject;
    struct berth_desc subject;
};

/*
 * Validates a manifest body. content_type is the request's Content-Type
 * (may be NULL or empty; parameters after ';' are ignored). Rules:
 * - body is a JSON object (UTF-8, no duplicate keys, no trailing data), schemaVersion == 2;
 * - effective media type = body "mediaType" if present, else content_type, else
 *   inferred ("manifests" array -> OCI index, "config" object -> OCI image manifest);
 *   if both body mediaType and content_type are present they must be equal;
 *   the effective type must be one of the four BERTH_MT_* manifest types
 *   (Docker schema 1 is refused as unsupported);
 * - images need a "config" descriptor and a "layers" array; indexes a "manifests" array;
 * - every descriptor has a valid digest, a non-negative integer size and a mediaType string;
 * - "subject", if present, is a valid descriptor; "artifactType"/"annotations" are
 *   checked for type (string / object of strings).
 * Unknown fields are allowed. Failure: BERTH_EMANIFEST with the reason
 * (BERTH_EDIGEST is never returned; an invalid inner digest is EMANIFEST).
 * Borrows body; on success *out is owned by the caller.
 */
enum berth_rc berth_manifest_parse(const char *body, size_t len, const char *content_type,
                                   struct berth_manifest **out, struct berth_err *err);
void berth_manifest_free(struct berth_manifest *m);

/* The image configuration types whose "architecture" and "os" name an image's platform. */
#define BERTH_MT_OCI_CONFIG "application/vnd.oci.image.config.v1+json"
#define BERTH_MT_DOCKER_CONFIG "application/vnd.docker.container.image.v1+json"
#define BERTH_PLATFORM_MAX 32
/* Largest configuration read for its platform; a larger one leaves the platform unknown. */
#define BERTH_CONFIG_READ_MAX (1024 * 1024)

/* Whether an image manifest's config descriptor of media_type (may be NULL) names a platform. */
int berth_image_config_type(const char *media_type);
/*
 * The platform of an image configuration (JSON text of len bytes): its
 * "architecture" and "os" into arch and os, each "" when absent, not a
 * string, longer than BERTH_PLATFORM_MAX or not made of letters, digits,
 * '.', '_' and '-'. BERTH_EINVAL when the text is not a JSON object.
 */
enum berth_rc berth_image_platform(const char *json, size_t len, char arch[BERTH_PLATFORM_MAX + 1],
                                   char os[BERTH_PLATFORM_MAX + 1]);

/* Nonzero if mt (parameters ignored) is one of the four manifest media types. */
int berth_manifest_type_known(const char *mt);

#endif
