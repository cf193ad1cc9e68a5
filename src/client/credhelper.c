/*
 * credhelper.c - the payloads of the docker credential helper protocol:
 * server URL normalising, the `store` payload and the `get` answer. Pure,
 * so the unit tests and the fuzzer reach them without a session; the
 * command that speaks the protocol is src/cli/cmd_credential_helper.c.
 */
#include <ctype.h>
#include <jansson.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include "alloc.h"
#include "credhelper.h"
#include "banned.h"

/* ---------------------------------------------------------------- payloads */

enum berth_rc berth_credhelper_server(const char *in, size_t len, char **out, struct berth_err *err)
{
    size_t b = 0, e = len, i, host_end;
    char *s;

    while (b < e && isspace((unsigned char)in[b])) b++;
    while (e > b && isspace((unsigned char)in[e - 1])) e--;
    if (e - b >= 8 && !strncasecmp(in + b, "https://", 8)) b += 8;
    else if (e - b >= 7 && !strncasecmp(in + b, "http://", 7)) b += 7;
    while (e > b && in[e - 1] == '/') e--;
    if (b == e) return berth_err_set(err, BERTH_EINVAL, "no server URL given");
    for (i = b; i < e; i++)
        if (iscntrl((unsigned char)in[i]) || in[i] == ' ' || in[i] == '\t')
            return berth_err_set(err, BERTH_EINVAL, "the server URL holds white space or control characters");
    s = berth_xstrndup(in + b, e - b);
    if (strstr(s, "://")) {
        free(s);
        return berth_err_set(err, BERTH_EINVAL, "the server URL holds a second scheme ('://')");
    }
    host_end = strcspn(s, "/");
    for (i = 0; i < host_end; i++) s[i] = (char)tolower((unsigned char)s[i]);
    *out = s;
    return BERTH_OK;
}

void berth_creds_release(struct berth_creds *c)
{
    if (c->secret) explicit_bzero(c->secret, strlen(c->secret));
    free(c->secret);
    free(c->username);
    free(c->server);
    c->secret = c->username = c->server = NULL;
}

enum berth_rc berth_credhelper_parse_creds(const char *json, size_t len, struct berth_creds *out,
                                           struct berth_err *err)
{
    json_error_t jerr;
    json_t *root = json_loadb(json, len, JSON_REJECT_DUPLICATES, &jerr);
    const char *names[] = {"ServerURL", "Username", "Secret"};
    const char *v[3];
    enum berth_rc rc = BERTH_OK;
    size_t i;

    memset(out, 0, sizeof(*out));
    if (!root) return berth_err_set(err, BERTH_EINVAL, "credentials are not valid JSON: %s", jerr.text);
    if (!json_is_object(root)) {
        rc = berth_err_set(err, BERTH_EINVAL, "credentials are not a JSON object");
        goto out;
    }
    for (i = 0; i < 3; i++) {
        json_t *m = json_object_get(root, names[i]);
        if (!json_is_string(m)) {
            rc = berth_err_set(err, BERTH_EINVAL, "credentials lack the string \"%s\"", names[i]);
            goto out;
        }
        v[i] = json_string_value(m);
    }
    if (!*v[2]) {
        rc = berth_err_set(err, BERTH_EINVAL, "credentials have an empty \"Secret\"");
        goto out;
    }
    rc = berth_credhelper_server(v[0], strlen(v[0]), &out->server, err);
    if (rc) goto out;
    out->username = berth_xstrdup(v[1]);
    out->secret = berth_xstrdup(v[2]);
out:
    json_decref(root);
    return rc;
}

enum berth_rc berth_credhelper_format(const char *server, const char *username, const char *secret,
                                      struct berth_buf *out)
{
    berth_buf_puts(out, "{\"ServerURL\":");
    berth_buf_json_str(out, server, strlen(server));
    berth_buf_puts(out, ",\"Username\":");
    berth_buf_json_str(out, username, strlen(username));
    berth_buf_puts(out, ",\"Secret\":");
    berth_buf_json_str(out, secret, strlen(secret));
    berth_buf_puts(out, "}\n");
    return berth_buf_rc(out);
}
