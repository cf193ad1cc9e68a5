/*
 * fuzz_manifest.c - berth_manifest_parse on hostile bodies. The first byte
 * picks the request's Content-Type from a small list, the rest is the body.
 * Besides crashes and leaks, it checks what a successful parse promises.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <jansson.h>
#include "oci.h"
#include "banned.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const char *const content_types[] = {
    NULL,
    "",
    BERTH_MT_OCI_MANIFEST,
    BERTH_MT_OCI_INDEX,
    BERTH_MT_DOCKER_MANIFEST,
    BERTH_MT_DOCKER_LIST,
    "application/vnd.docker.distribution.manifest.v1+prettyjws",
    "application/json",
    "Application/VND.OCI.Image.Manifest.V1+JSON; charset=utf-8",
    " application/vnd.oci.image.index.v1+json ;q=1",
};

static void check_printable(const char *s)
{
    for (; *s; s++)
        if ((unsigned char)*s < 0x20 || (unsigned char)*s > 0x7e) abort();
}

static void check_desc(const struct berth_desc *d)
{
    struct berth_digest again;

    if (!d->media_type || !d->media_type[0] || d->size < 0) abort();
    if (berth_digest_parse(d->digest.s, strlen(d->digest.s), &again, NULL) != BERTH_OK) abort();
    if (!berth_digest_eq(&again, &d->digest)) abort();
}

static void check_manifest(const struct berth_manifest *m)
{
    size_t i;

    if (!m || !m->media_type || !berth_manifest_type_known(m->media_type)) abort();
    if (m->kind == BERTH_MANIFEST_IMAGE) {
        if (m->nblobs < 1 || m->nchildren != 0 || !m->artifact_type) abort();
    } else if (m->kind == BERTH_MANIFEST_INDEX) {
        if (m->nblobs != 0) abort();
    } else {
        abort();
    }
    for (i = 0; i < m->nblobs; i++)
        check_desc(&m->blobs[i]);
    for (i = 0; i < m->nchildren; i++)
        check_desc(&m->children[i]);
    if (m->has_subject) check_desc(&m->subject);
    if (m->annotations_json) {
        json_t *a = json_loads(m->annotations_json, JSON_REJECT_DUPLICATES, NULL);
        if (!json_is_object(a)) abort();
        json_decref(a);
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct berth_err err = BERTH_ERR_INIT;
    struct berth_manifest *m = NULL;
    const char *ct;
    enum berth_rc rc;

    if (size == 0) return 0;
    ct = content_types[data[0] % (sizeof(content_types) / sizeof(content_types[0]))];
    berth_manifest_type_known(ct);
    rc = berth_manifest_parse((const char *)data + 1, size - 1, ct, &m, &err);
    if (rc == BERTH_OK) {
        check_manifest(m);
    } else {
        if (rc != BERTH_EMANIFEST || m) abort();
        check_printable(err.msg);
    }
    berth_manifest_free(m);
    return 0;
}
