/*
 * fuzz_time.c - berth_rfc3339_parse on hostile bytes. A time it accepts
 * lies between 1969-12-31 (the most negative offset on 1970-01-01) and the
 * end of 9999, and, formatted again by berth_time_rfc3339, parses back to
 * the same second.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include "parse.h"
#include "util.h"
#include "banned.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define DAY_MS 86400000LL
#define Y10000_MS 253402300800000LL /* 10000-01-01T00:00:00Z */

static void check_printable(const char *s)
{
    for (; *s; s++)
        if ((unsigned char)*s < 0x20 || (unsigned char)*s > 0x7e) abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct berth_err err = BERTH_ERR_INIT;
    int64_t ms = -1, again = -1;
    char text[64];
    enum berth_rc rc;

    rc = berth_rfc3339_parse((const char *)data, size, &ms, &err);
    if (rc != BERTH_OK) {
        if (rc != BERTH_EINVAL || ms != -1) abort();
        check_printable(err.msg);
        return 0;
    }
    if (size < 20 || ms < -DAY_MS || ms >= Y10000_MS + DAY_MS) abort();
    if (ms < 0 || ms >= Y10000_MS) return 0; /* outside what berth_time_rfc3339 writes as four-digit years */
    berth_time_rfc3339(ms / 1000, text, sizeof(text));
    if (berth_rfc3339_parse(text, strlen(text), &again, NULL) != BERTH_OK) abort();
    if (again != ms / 1000 * 1000) abort();
    return 0;
}
