/*
 * fuzz_basic.c - berth_basic_parse on hostile Authorization header values.
 * What it accepts splits at the first ':', stays within BERTH_BASIC_MAX,
 * holds no NUL, and parses back to the same pair once encoded again.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include "alloc.h"
#include "base64.h"
#include "buf.h"
#include "parse.h"
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
    struct berth_buf raw = BERTH_BUF_INIT(0), enc = BERTH_BUF_INIT(0);
    char *value = berth_xmalloc(size + 1), *user = NULL, *pass = NULL, *u2 = NULL, *p2 = NULL;
    enum berth_rc rc;

    /* a header value as libmicrohttpd hands it over: up to its first NUL */
    memcpy(value, data, size);
    value[size] = '\0';
    rc = berth_basic_parse(value, &user, &pass, &err);
    if (rc != BERTH_OK) {
        if (rc != BERTH_EINVAL || user || pass) abort();
        check_printable(err.msg);
        goto out;
    }
    if (!user || !pass || strchr(user, ':')) abort();
    if (strlen(user) + 1 + strlen(pass) > BERTH_BASIC_MAX) abort();
    berth_buf_printf(&raw, "%s:%s", user, pass);
    berth_b64_encode(raw.p, raw.len, &enc);
    if (berth_basic_parse(berth_buf_str(&enc), &u2, &p2, NULL) != BERTH_OK) abort();
    if (strcmp(u2, user) != 0 || strcmp(p2, pass) != 0) abort();
out:
    free(user);
    free(pass);
    free(u2);
    free(p2);
    berth_buf_release(&raw);
    berth_buf_release(&enc);
    free(value);
    return 0;
}
