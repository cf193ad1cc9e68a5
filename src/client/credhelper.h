/*
 * credhelper.h - the docker credential helper protocol (docker-credential-helpers):
 * `get`, `store`, `erase`, `list` on stdin/stdout, as `docker-credential-berth`
 * and `berth credential-helper <verb>`. The payload parsing is pure so it can
 * be tested without a session.
 */
#ifndef BERTH_CLIENT_CREDHELPER_H
#define BERTH_CLIENT_CREDHELPER_H

#include <stddef.h>
#include "buf.h"
#include "err.h"

/* What docker and containers/image look for when a helper has nothing for a server. */
#define BERTH_HELPER_NOT_FOUND "credentials not found in native keychain"
/* The biggest stdin payload a helper reads. */
#define BERTH_HELPER_INPUT_MAX (64u * 1024)

/*
 * The key a server URL is stored under: surrounding white space, the scheme
 * (http://, https://) and trailing slashes removed, the host lowercased, the
 * port and any path kept ("https://Reg.Example:5000/" -> "reg.example:5000").
 * Empty input, white space or control characters inside, or a second
 * scheme ("https://http://x") is BERTH_EINVAL.
 * *out is malloc'd.
 */
enum berth_rc berth_credhelper_server(const char *in, size_t len, char **out, struct berth_err *err);

/* A credential as the protocol carries it. All owned. */
struct berth_creds {
    char *server; /* normalised with berth_credhelper_server */
    char *username;
    char *secret;
};

/*
 * Parses the `store` payload {"ServerURL":..,"Username":..,"Secret":..}:
 * all three strings, ServerURL and Secret non-empty; other members ignored.
 */
enum berth_rc berth_credhelper_parse_creds(const char *json, size_t len, struct berth_creds *out,
                                           struct berth_err *err);
/* Frees the strings (the secret is wiped first); the struct may be reused. */
void berth_creds_release(struct berth_creds *c);

/* Appends the `get` answer {"ServerURL":..,"Username":..,"Secret":..} to out. */
enum berth_rc berth_credhelper_format(const char *server, const char *username, const char *secret,
                                      struct berth_buf *out);

#endif
