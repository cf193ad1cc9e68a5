/*
 * fuzz_logline.c - a log line's text turned into JSON (berth_log_kv_to_json),
 * with a client's bytes quoted into it (berth_log_quote). Whatever the
 * bytes, the answer is one JSON object that jansson parses (bytes that
 * are not UTF-8 become U+FFFD), and a value quoted by berth_log_quote comes
 * back as exactly those bytes when they are UTF-8.
 */
#include <jansson.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include "log.h"
#include "banned.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char in[1024], q[3000], line[3100], out[8192];
    json_t *o;
    const char *ua;
    int n;

    if (size >= sizeof(in)) size = sizeof(in) - 1;
    memcpy(in, data, size);
    in[size] = '\0'; /* a C string: the log never holds a NUL */

    /* the bytes as a whole line */
    n = berth_log_kv_to_json(in, out, sizeof(out));
    if (n < 0) abort(); /* 1 KiB of any text fits in 8 KiB of JSON */
    o = json_loads(out, JSON_REJECT_DUPLICATES | JSON_DECODE_ANY, NULL);
    /* duplicate keys are the line's own; parse again allowing them */
    if (!o) o = json_loads(out, JSON_DECODE_ANY, NULL);
    if (!json_is_object(o)) abort();
    json_decref(o);

    /* the bytes as a client's value, quoted, between two fields */
    berth_log_quote(in, q, sizeof(q));
    snprintf(line, sizeof(line), "msg=access ua=\"%s\" status=200", q);
    n = berth_log_kv_to_json(line, out, sizeof(out));
    if (n < 0) abort();
    o = json_loads(out, 0, NULL);
    if (!json_is_object(o)) abort();
    ua = json_string_value(json_object_get(o, "ua"));
    if (!ua) abort();
    {
        json_t *valid = json_string(in); /* NULL: in is not UTF-8 */
        if (valid && strcmp(ua, in) != 0) abort();
        json_decref(valid);
    }
    if (json_integer_value(json_object_get(o, "status")) != 200) abort();
    json_decref(o);
    return 0;
}
