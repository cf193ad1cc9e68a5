/* manifest.c - manifest media types and image manifest / index validation. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <jansson.h>
#include "alloc.h"
#include "buf.h"
#include "oci.h"
#include "banned.h"

#define MT_SCHEMA1 "application/vnd.docker.distribution.manifest.v1+json"
#define MT_SCHEMA1_SIGNED "application/vnd.docker.distribution.manifest.v1+prettyjws"

/* Size of the buffer that show() renders client text into. */
#define SHOW_MAX 100

struct mt_row {
    const char *mt;
    enum berth_manifest_kind kind;
};

static const struct mt_row mt_rows[] = {
    {BERTH_MT_OCI_MANIFEST, BERTH_MANIFEST_IMAGE},
    {BERTH_MT_OCI_INDEX, BERTH_MANIFEST_INDEX},
    {BERTH_MT_DOCKER_MANIFEST, BERTH_MANIFEST_IMAGE},
    {BERTH_MT_DOCKER_LIST, BERTH_MANIFEST_INDEX},
};

static char ascii_lower(char c)
{
    return c >= 'A' && c <= 'Z' ? (char)(c - 'A' + 'a') : c;
}

/* Media types compare case-insensitively (RFC 6838); locale plays no part. */
static int slice_ieq(const char *a, size_t an, const char *b, size_t bn)
{
    size_t i;
    if (an != bn) return 0;
    for (i = 0; i < an; i++)
        if (ascii_lower(a[i]) != ascii_lower(b[i])) return 0;
    return 1;
}

static int lit_ieq(struct berth_str s, const char *lit)
{
    return slice_ieq(s.p, s.len, lit, strlen(lit));
}

/* The type/subtype of a header value: parameters after ';' and surrounding blanks dropped. */
static struct berth_str mt_core(const char *mt)
{
    struct berth_str r = {"", 0};
    const char *e;

    if (!mt) return r;
    while (*mt == ' ' || *mt == '\t')
        mt++;
    e = mt + strcspn(mt, ";");
    while (e > mt && (e[-1] == ' ' || e[-1] == '\t'))
        e--;
    r.p = mt;
    r.len = (size_t)(e - mt);
    return r;
}

static const struct mt_row *mt_find(struct berth_str s)
{
    size_t i;
    for (i = 0; i < sizeof(mt_rows) / sizeof(mt_rows[0]); i++)
        if (lit_ieq(s, mt_rows[i].mt)) return &mt_rows[i];
    return NULL;
}

static int mt_schema1(struct berth_str s)
{
    return lit_ieq(s, MT_SCHEMA1) || lit_ieq(s, MT_SCHEMA1_SIGNED);
}

int berth_manifest_type_known(const char *mt)
{
    return mt_find(mt_core(mt)) != NULL;
}

/*
 * Renders client text for an error message: printable ASCII as is, other
 * bytes as \xNN, cut with "..." when too long.
 * Messages end up in logs and JSON error bodies.
 */
static const char *show(struct berth_str s, char out[SHOW_MAX])
{
    size_t i, o = 0;

    for (i = 0; i < s.len; i++) {
        unsigned char c = (unsigned char)s.p[i];
        /* keep room for the widest escape, "..." and the NUL */
        if (o + 4 + 3 + 1 > SHOW_MAX) {
            memcpy(out + o, "...", 3);
            o += 3;
            break;
        }
        if (c >= 0x20 && c < 0x7f) {
            out[o++] = (char)c;
        } else {
            snprintf(out + o, 5, "\\x%02x", c);
            o += 4;
        }
    }
    BERTH_ASSERT(o < SHOW_MAX);
    out[o] = '\0';
    return out;
}

static struct berth_str jstr(const json_t *j)
{
    struct berth_str s = {json_string_value(j), json_string_length(j)};
    return s;
}

/* Checks one descriptor object; field names it in messages ("layers[2]"). */
static enum berth_rc desc_parse(const json_t *j, const char *field, struct berth_desc *d, struct berth_err *err)
{
    struct berth_err derr = BERTH_ERR_INIT;
    const json_t *mt, *dg, *sz;

    if (!json_is_object(j)) return berth_err_set(err, BERTH_EMANIFEST, "%s must be a descriptor object", field);
    mt = json_object_get(j, "mediaType");
    dg = json_object_get(j, "digest");
    sz = json_object_get(j, "size");
    if (!mt) return berth_err_set(err, BERTH_EMANIFEST, "%s.mediaType is missing", field);
    if (!json_is_string(mt) || json_string_length(mt) == 0)
        return berth_err_set(err, BERTH_EMANIFEST, "%s.mediaType must be a non-empty string", field);
    if (!dg) return berth_err_set(err, BERTH_EMANIFEST, "%s.digest is missing", field);
    if (!json_is_string(dg)) return berth_err_set(err, BERTH_EMANIFEST, "%s.digest must be a string", field);
    if (berth_digest_parse(json_string_value(dg), json_string_length(dg), &d->digest, &derr) != BERTH_OK)
        return berth_err_set(err, BERTH_EMANIFEST, "%s.digest: %s", field, berth_err_msg(&derr));
    if (!sz) return berth_err_set(err, BERTH_EMANIFEST, "%s.size is missing", field);
    if (!json_is_integer(sz) || json_integer_value(sz) < 0)
        return berth_err_set(err, BERTH_EMANIFEST, "%s.size must be a non-negative integer", field);
    d->size = (int64_t)json_integer_value(sz);
    BERTH_ASSERT(!d->media_type); /* each descriptor is filled once */
    d->media_type = berth_xstrdup(json_string_value(mt));
    return BERTH_OK;
}

/* Fills d[0..n) from the JSON array of n descriptors; name is the field for messages. */
static enum berth_rc desc_array(const json_t *arr, const char *name, struct berth_desc *d, struct berth_err *err)
{
    char field[64];
    size_t i;
    enum berth_rc rc;

    for (i = 0; i < json_array_size(arr); i++) {
        snprintf(field, sizeof(field), "%s[%zu]", name, i);
        rc = desc_parse(json_array_get(arr, i), field, &d[i], err);
        if (rc) return rc;
    }
    return BERTH_OK;
}

/*
 * Refuses Docker schema 1 by media type, before anything else is checked,
 * so its clients hear the real reason rather than a missing-field error.
 */
static enum berth_rc refuse_schema1(const json_t *root, const char *content_type, struct berth_err *err)
{
    const json_t *bmt = json_object_get(root, "mediaType");

    if (bmt && !json_is_string(bmt)) return berth_err_set(err, BERTH_EMANIFEST, "mediaType must be a string");
    if ((bmt && mt_schema1(jstr(bmt))) || mt_schema1(mt_core(content_type)))
        return berth_err_set(err, BERTH_EMANIFEST, "Docker schema 1 manifests are not supported");
    return BERTH_OK;
}

/* Decides the effective media type; body mediaType is known to be a string or absent. */
static enum berth_rc effective_type(const json_t *root, const char *content_type, const struct mt_row **out,
                                    struct berth_err *err)
{
    const json_t *bmt = json_object_get(root, "mediaType");
    struct berth_str ct = mt_core(content_type), body = {"", 0};
    char a[SHOW_MAX], b[SHOW_MAX];
    const struct mt_row *row;

    if (bmt) body = jstr(bmt);
    if (bmt && ct.len && !slice_ieq(body.p, body.len, ct.p, ct.len))
        return berth_err_set(err, BERTH_EMANIFEST, "manifest mediaType '%s' does not match Content-Type '%s'",
                             show(body, a), show(ct, b));
    if (bmt || ct.len) {
        row = mt_find(bmt ? body : ct);
        if (!row)
            return berth_err_set(err, BERTH_EMANIFEST,
                                 "unsupported manifest media type '%s' (expected an OCI image manifest or "
                                 "index, or a Docker schema 2 manifest or manifest list)",
                                 show(bmt ? body : ct, a));
    } else if (json_is_array(json_object_get(root, "manifests"))) {
        row = mt_find(BERTH_STR_LIT(BERTH_MT_OCI_INDEX));
    } else if (json_is_object(json_object_get(root, "config"))) {
        row = mt_find(BERTH_STR_LIT(BERTH_MT_OCI_MANIFEST));
    } else {
        return berth_err_set(err, BERTH_EMANIFEST,
                             "cannot tell the manifest type: no mediaType, no Content-Type, and neither a "
                             "\"manifests\" array nor a \"config\" object");
    }
    *out = row;
    return BERTH_OK;
}

static enum berth_rc schema_version(const json_t *root, struct berth_err *err)
{
    const json_t *sv = json_object_get(root, "schemaVersion");

    if (!sv) return berth_err_set(err, BERTH_EMANIFEST, "schemaVersion is missing (it must be the integer 2)");
    if (json_is_integer(sv) && json_integer_value(sv) == 1)
        return berth_err_set(err, BERTH_EMANIFEST, "schemaVersion is 1: Docker schema 1 manifests are not supported");
    if (!json_is_integer(sv) || json_integer_value(sv) != 2)
        return berth_err_set(err, BERTH_EMANIFEST, "schemaVersion must be the integer 2");
    return BERTH_OK;
}

static enum berth_rc annotations(const json_t *a, struct berth_manifest *m, struct berth_err *err)
{
    char k[SHOW_MAX];
    const char *key;
    json_t *v;
    size_t n;

    if (!json_is_object(a)) return berth_err_set(err, BERTH_EMANIFEST, "annotations must be an object of strings");
    json_object_foreach((json_t *)a, key, v) {
        if (!json_is_string(v))
            return berth_err_set(err, BERTH_EMANIFEST, "annotations['%s'] must be a string",
                                 show(berth_str_from(key), k));
    }
    /* json_dumpb writes into our own allocation, so the text is freed with free() like every other field */
    n = json_dumpb(a, NULL, 0, JSON_COMPACT);
    if (n == 0) return berth_err_set(err, BERTH_EMANIFEST, "annotations could not be serialised");
    m->annotations_json = berth_xmalloc(n + 1);
    if (json_dumpb(a, m->annotations_json, n, JSON_COMPACT) != n)
        return berth_err_set(err, BERTH_EMANIFEST, "annotations could not be serialised");
    m->annotations_json[n] = '\0';
    return BERTH_OK;
}

/* artifactType, annotations and subject: the same for images and indexes. */
static enum berth_rc common_fields(const json_t *root, struct berth_manifest *m, struct berth_err *err)
{
    const json_t *at = json_object_get(root, "artifactType");
    const json_t *an = json_object_get(root, "annotations");
    const json_t *sub = json_object_get(root, "subject");
    enum berth_rc rc;

    if (at) {
        if (!json_is_string(at) || json_string_length(at) == 0)
            return berth_err_set(err, BERTH_EMANIFEST, "artifactType must be a non-empty string");
        m->artifact_type = berth_xstrdup(json_string_value(at));
    }
    if (an) {
        rc = annotations(an, m, err);
        if (rc) return rc;
    }
    if (sub) {
        rc = desc_parse(sub, "subject", &m->subject, err);
        if (rc) return rc;
        m->has_subject = 1;
    }
    return BERTH_OK;
}

static enum berth_rc image_fields(const json_t *root, struct berth_manifest *m, struct berth_err *err)
{
    const json_t *cfg = json_object_get(root, "config");
    const json_t *layers = json_object_get(root, "layers");
    enum berth_rc rc;

    if (!cfg)
        return berth_err_set(err, BERTH_EMANIFEST, "config is missing (an image manifest needs a config descriptor)");
    if (!layers)
        return berth_err_set(err, BERTH_EMANIFEST, "layers is missing (an image manifest needs a layers array)");
    if (!json_is_array(layers))
        return berth_err_set(err, BERTH_EMANIFEST, "layers must be an array of descriptors");
    m->nblobs = json_array_size(layers) + 1;
    m->blobs = berth_xcalloc(m->nblobs, sizeof(*m->blobs));
    rc = desc_parse(cfg, "config", &m->blobs[0], err);
    if (rc) return rc;
    rc = desc_array(layers, "layers", m->blobs + 1, err);
    if (rc) return rc;
    BERTH_ASSERT(m->blobs[0].media_type && m->blobs[m->nblobs - 1].media_type);
    if (!m->artifact_type) m->artifact_type = berth_xstrdup(m->blobs[0].media_type);
    return BERTH_OK;
}

static enum berth_rc index_fields(const json_t *root, struct berth_manifest *m, struct berth_err *err)
{
    const json_t *mans = json_object_get(root, "manifests");

    if (!mans) return berth_err_set(err, BERTH_EMANIFEST, "manifests is missing (an index needs a manifests array)");
    if (!json_is_array(mans)) return berth_err_set(err, BERTH_EMANIFEST, "manifests must be an array of descriptors");
    m->nchildren = json_array_size(mans);
    if (m->nchildren) m->children = berth_xcalloc(m->nchildren, sizeof(*m->children));
    return desc_array(mans, "manifests", m->children, err);
}

enum berth_rc berth_manifest_parse(const char *body, size_t len, const char *content_type,
                                   struct berth_manifest **out, struct berth_err *err)
{
    struct berth_manifest *m = NULL;
    const struct mt_row *row = NULL;
    json_t *root = NULL;
    json_error_t jerr;
    char text[SHOW_MAX];
    enum berth_rc rc;

    if (!body || len == 0) {
        rc = berth_err_set(err, BERTH_EMANIFEST, "manifest body is empty");
        goto out;
    }
    /* the default flags already refuse trailing data and non-container roots; depth is capped by jansson */
    root = json_loadb(body, len, JSON_REJECT_DUPLICATES, &jerr);
    if (!root) {
        rc = berth_err_set(err, BERTH_EMANIFEST, "manifest is not valid JSON: %s (line %d, column %d)",
                           show(berth_str_from(jerr.text), text), jerr.line, jerr.column);
        goto out;
    }
    if (!json_is_object(root)) {
        rc = berth_err_set(err, BERTH_EMANIFEST, "manifest must be a JSON object");
        goto out;
    }
    rc = refuse_schema1(root, content_type, err);
    if (rc) goto out;
    rc = schema_version(root, err);
    if (rc) goto out;
    rc = effective_type(root, content_type, &row, err);
    if (rc) goto out;
    BERTH_ASSERT(row && row->mt);
    m = berth_xcalloc(1, sizeof(*m));
    m->kind = row->kind;
    m->media_type = berth_xstrdup(row->mt);
    rc = common_fields(root, m, err);
    if (rc) goto out;
    if (m->kind == BERTH_MANIFEST_IMAGE)
        rc = image_fields(root, m, err);
    else
        rc = index_fields(root, m, err);
    if (rc) goto out;
    BERTH_ASSERT(m->media_type && (m->kind == BERTH_MANIFEST_IMAGE ? m->nblobs >= 1 && !m->nchildren : !m->nblobs));
    *out = m; /* ownership moves to the caller */
    m = NULL;
out:
    berth_manifest_free(m);
    json_decref(root);
    return rc;
}

static void desc_release(struct berth_desc *d)
{
    free(d->media_type);
    d->media_type = NULL;
}

void berth_manifest_free(struct berth_manifest *m)
{
    size_t i;

    if (!m) return;
    for (i = 0; i < m->nblobs; i++)
        desc_release(&m->blobs[i]);
    for (i = 0; i < m->nchildren; i++)
        desc_release(&m->children[i]);
    desc_release(&m->subject);
    free(m->blobs);
    free(m->children);
    free(m->media_type);
    free(m->artifact_type);
    free(m->annotations_json);
    free(m);
}

/* ---------------------------------------------------------------- an image's platform */

int berth_image_config_type(const char *media_type)
{
    return media_type && (!strcmp(media_type, BERTH_MT_OCI_CONFIG) || !strcmp(media_type, BERTH_MT_DOCKER_CONFIG));
}

/* A platform word of o's member k into out, or "". */
static void platform_word(json_t *o, const char *k, char out[BERTH_PLATFORM_MAX + 1])
{
    const char *v = json_string_value(json_object_get(o, k));
    size_t n = v ? strlen(v) : 0, i;

    out[0] = '\0';
    if (n == 0 || n > BERTH_PLATFORM_MAX) return;
    for (i = 0; i < n; i++) {
        char c = v[i];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' || c == '_' ||
              c == '-'))
            return;
    }
    memcpy(out, v, n + 1);
}

enum berth_rc berth_image_platform(const char *json, size_t len, char arch[BERTH_PLATFORM_MAX + 1],
                                   char os[BERTH_PLATFORM_MAX + 1])
{
    json_t *o = json_loadb(json, len, JSON_REJECT_DUPLICATES, NULL);

    arch[0] = os[0] = '\0';
    if (!json_is_object(o)) {
        json_decref(o);
        return BERTH_EINVAL;
    }
    platform_word(o, "architecture", arch);
    platform_word(o, "os", os);
    json_decref(o);
    return BERTH_OK;
}
