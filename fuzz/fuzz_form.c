/*
 * fuzz_form.c - berth_form_decode, berth_form_each and the hex decoder on
 * hostile bytes. Besides crashes and leaks, it checks that a decoded
 * component round-trips through percent-encoding, that each form field is
 * seen at most once, and that hex decoding agrees with berth_hex.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include "alloc.h"
#include "parse.h"
#include "util.h"
#include "banned.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check_printable(const char *s)
{
    for (; *s; s++)
        if ((unsigned char)*s < 0x20 || (unsigned char)*s > 0x7e) abort();
}

struct count {
    size_t fields, max;
};

static int count_field(const char *k, const char *v, void *p)
{
    struct count *c = p;
    if (!k || !v) abort();
    if (++c->fields > c->max) abort();
    return 0;
}

static void check_decode(const char *s, size_t size)
{
    struct berth_err err = BERTH_ERR_INIT;
    char *out = NULL, *enc = NULL, *again = NULL;
    size_t i, n;

    if (berth_form_decode(s, size, &out, &err) != BERTH_OK) {
        if (out || err.code != BERTH_EINVAL) abort();
        check_printable(err.msg);
        return;
    }
    n = strlen(out);
    if (n > size) abort();
    /* every byte as %XX decodes back to exactly out */
    enc = berth_xmalloc(3 * n + 1);
    for (i = 0; i < n; i++) {
        static const char hex[] = "0123456789ABCDEF";
        unsigned char c = (unsigned char)out[i];
        enc[3 * i] = '%';
        enc[3 * i + 1] = hex[c >> 4];
        enc[3 * i + 2] = hex[c & 15];
    }
    enc[3 * n] = '\0';
    if (berth_form_decode(enc, 3 * n, &again, NULL) != BERTH_OK || strcmp(again, out) != 0) abort();
    free(again);
    free(enc);
    free(out);
}

static void check_hex(const char *s, size_t size)
{
    unsigned char *out;
    char *back;
    enum berth_rc rc;
    size_t i;
    int ok = size % 2 == 0;

    for (i = 0; i < size; i++)
        if (berth_hex_digit(s[i]) < 0) ok = 0;
    out = berth_xmalloc(size / 2 + 1);
    rc = berth_hex_decode(s, size, out, NULL);
    if ((rc == BERTH_OK) != ok) abort();
    if (ok) {
        back = berth_xmalloc(size + 1);
        berth_hex(out, size / 2, back);
        if (strncasecmp(back, s, size) != 0) abort();
        if (berth_hex_lower(s, size) != (memcmp(back, s, size) == 0)) abort();
        free(back);
    }
    free(out);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *s = (const char *)data;
    char *body = berth_xmalloc(size + 1);
    struct count c = {0, 1};
    size_t i;

    check_decode(s, size);
    check_hex(s, size);
    /* the form as a handler sees it: the body up to its first NUL */
    memcpy(body, s, size);
    body[size] = '\0';
    for (i = 0; body[i]; i++)
        if (body[i] == '&') c.max++;
    berth_form_each(body, count_field, &c);
    free(body);
    return 0;
}
