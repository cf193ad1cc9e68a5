/*
 * fuzz_range.c - berth_range_parse and berth_content_range_parse on hostile
 * header values. The first byte says how many of the next bytes (0-8) make
 * the resource size, little-endian; the rest is the header value.
 */
#include <inttypes.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "oci.h"
#include "banned.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check_printable(const char *s)
{
    for (; *s; s++)
        if ((unsigned char)*s < 0x20 || (unsigned char)*s > 0x7e) abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct berth_err err = BERTH_ERR_INIT;
    uint64_t rsize = 0, start = 42, end = 42, s2, e2;
    size_t nsize, i;
    const char *hdr;
    size_t len;
    char again[64];
    enum berth_rc rc;

    if (size == 0) return 0;
    nsize = data[0] % 9;
    if (nsize > size - 1) nsize = size - 1;
    for (i = 0; i < nsize; i++)
        rsize |= (uint64_t)data[1 + i] << (8 * i);
    hdr = (const char *)data + 1 + nsize;
    len = size - 1 - nsize;

    rc = berth_range_parse(hdr, len, rsize, &start, &end, &err);
    if (rc == BERTH_OK) {
        if (start > end || end >= rsize) abort();
    } else {
        if (rc != BERTH_EINVAL && rc != BERTH_ERANGE) abort();
        if (start != 42 || end != 42) abort();
        check_printable(err.msg);
    }

    berth_err_clear(&err);
    start = end = 42;
    rc = berth_content_range_parse(hdr, len, &start, &end, &err);
    if (rc == BERTH_OK) {
        if (start > end) abort();
        snprintf(again, sizeof(again), "%" PRIu64 "-%" PRIu64, start, end);
        if (berth_content_range_parse(again, strlen(again), &s2, &e2, NULL) != BERTH_OK) abort();
        if (s2 != start || e2 != end) abort();
    } else {
        if (rc != BERTH_EUPLOADRANGE) abort();
        if (start != 42 || end != 42) abort();
        check_printable(err.msg);
    }
    return 0;
}
