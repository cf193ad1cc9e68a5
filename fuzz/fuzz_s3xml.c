/*
 * fuzz_s3xml.c - the S3 driver's parsers of what it does not write itself:
 * an S3 answer (the XML extractor, walked as ListObjectsV2 and ListParts
 * are), an upload's resume data from the database, and a store URL. Text the
 * extractor accepts is decoded within its buffer and NUL-terminated; resume
 * data it accepts formats and parses back to the same.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include "alloc.h"
#include "s3_int.h"
#include "banned.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void text_of(struct berth_str scope, const char *name)
{
    char out[64];
    uint64_t v;

    memset(out, 'x', sizeof(out));
    if (berth_s3_xml_text(scope, name, out, sizeof(out), NULL) == BERTH_OK && strlen(out) >= sizeof(out)) abort();
    (void)berth_s3_xml_u64(scope, name, &v, NULL);
}

static void xml(const char *p, size_t n)
{
    struct berth_str scope = {p, n}, item;
    int guard = 0;

    while (berth_s3_xml_next(&scope, "Contents", &item, NULL) == BERTH_OK) {
        if (item.p < p || item.p + item.len > p + n || scope.p + scope.len != p + n || ++guard > 100000) abort();
        text_of(item, "Key");
        text_of(item, "Size");
    }
    scope = (struct berth_str){p, n};
    text_of(scope, "IsTruncated");
    text_of(scope, "NextContinuationToken");
    text_of(scope, "UploadId");
    text_of(scope, "Code");
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *s = berth_xstrndup((const char *)data, size);
    struct berth_s3_ext e, back;
    struct berth_s3_conf c;
    char *again;

    xml((const char *)data, size);
    if (berth_s3_ext_parse(s, &e, NULL) == BERTH_OK) {
        again = berth_s3_ext_format(&e);
        if (berth_s3_ext_parse(again, &back, NULL) != BERTH_OK || back.nparts != e.nparts || back.tail != e.tail ||
            berth_s3_ext_parts_bytes(&back) != berth_s3_ext_parts_bytes(&e))
            abort();
        berth_s3_ext_release(&back);
        free(again);
    }
    berth_s3_ext_release(&e);
    if (berth_s3_conf_parse(s, &c, NULL) == BERTH_OK && (!c.endpoint || !c.bucket || !c.prefix)) abort();
    berth_s3_conf_release(&c);
    free(s);
    return 0;
}
