/*
 * fuzz_name.c - berth_oci_name_check and berth_oci_tag_check on hostile
 * text, checked against the distribution spec's regular expressions run by
 * the C library's POSIX regex engine.
 */
#include <regex.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include "oci.h"
#include "banned.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define NAME_RE "^[a-z0-9]+((\\.|_|__|-+)[a-z0-9]+)*(/[a-z0-9]+((\\.|_|__|-+)[a-z0-9]+)*)*$"
#define TAG_RE "^[a-zA-Z0-9_][a-zA-Z0-9._-]{0,127}$"
#define ORACLE_MAX 512

static regex_t name_re, tag_re;
static int compiled;

static void check_printable(const char *s)
{
    for (; *s; s++)
        if ((unsigned char)*s < 0x20 || (unsigned char)*s > 0x7e) abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct berth_err err = BERTH_ERR_INIT;
    const char *s = (const char *)data;
    char buf[ORACLE_MAX + 1];
    enum berth_rc nrc, trc;

    if (!compiled) {
        if (regcomp(&name_re, NAME_RE, REG_EXTENDED | REG_NOSUB) != 0) abort();
        if (regcomp(&tag_re, TAG_RE, REG_EXTENDED | REG_NOSUB) != 0) abort();
        compiled = 1;
    }
    nrc = berth_oci_name_check(s, size, &err);
    if (nrc != BERTH_OK && nrc != BERTH_ENAME) abort();
    check_printable(err.msg);
    berth_err_clear(&err);
    trc = berth_oci_tag_check(s, size, &err);
    if (trc != BERTH_OK && trc != BERTH_ETAG) abort();
    check_printable(err.msg);

    if (memchr(s, '\0', size)) {
        if (nrc == BERTH_OK || trc == BERTH_OK) abort();
        return 0;
    }
    if (size > ORACLE_MAX) {
        if (nrc == BERTH_OK || trc == BERTH_OK) abort();
        return 0;
    }
    memcpy(buf, s, size);
    buf[size] = '\0';
    if ((nrc == BERTH_OK) != (size <= BERTH_NAME_MAX && regexec(&name_re, buf, 0, NULL, 0) == 0)) abort();
    if ((trc == BERTH_OK) != (regexec(&tag_re, buf, 0, NULL, 0) == 0)) abort();
    return 0;
}
