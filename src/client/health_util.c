/*
 * health_util.c - the pure parts of `berth check-health`: the one table that
 * turns a server's refusal reason into a check-health code, a cause and a
 * fix; fix templates; Bearer challenge parsing; client version comparison;
 * NO_PROXY matching; the redaction applied to --report; and what a Date
 * header proves about the clocks.
 */
#include <ctype.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include "alloc.h"
#include "client.h"
#include "health.h"
#include "banned.h"

#define SRC(x) (1u << BERTH_HEALTH_SRC_##x)
#define STORED (SRC(HELPER) | SRC(FILE))

/*
 * Fix variables: {name} the registry, {ls} its login server, {server} the
 * server URL, {user} the credential's name, {retry} Retry-After seconds,
 * {ip} the client address the server saw, {relogin} the command that stores
 * or renews the credential of this source, {retype} this check-health again
 * with the password read from stdin, {where} where the credential is kept,
 * {detail} the server's own message, {slot} " --password1" or " --password2"
 * when it names the token password that expired.
 */
const struct berth_health_reason_row berth_health_reasons[] = {
    {"TOKEN_EXPIRED", STORED, "STORED_CREDENTIAL_EXPIRED",
     "the identity token stored in {where} for {ls} has expired ({detail})", "{relogin}"},
    {"REFRESH_REVOKED", STORED, "REFRESH_TOKEN_REVOKED",
     "the identity token stored in {where} for {ls} was revoked: its user's password changed or its credential "
     "was removed ({detail})", "{relogin}"},
    {"BAD_SECRET", STORED, "STORED_CREDENTIAL_INVALID",
     "the password stored in {where} for {ls} is refused: the user exists, the password is wrong", "{relogin}"},
    {"UNKNOWN_PRINCIPAL", STORED, "STORED_CREDENTIAL_INVALID",
     "the credential stored in {where} for {ls} names '{user}', whom the registry does not know", "{relogin}"},
    {"INVALID_CREDENTIALS", STORED, "STORED_CREDENTIAL_INVALID",
     "the credential stored in {where} for {ls} is refused: the name '{user}' or its password is wrong (the server "
     "says which only to a reader of its login log, e.g. a berth session with a role on '{name}')", "{relogin}"},
    {"INVALID_CREDENTIALS", 0, "WRONG_PASSWORD",
     "the server refused the name or the password of '{user}' (INVALID_CREDENTIALS: it does not say which before the "
     "password is proven; a berth session with a role on '{name}' reads the exact reason from its login log)",
     "{retype}"},
    {"BAD_SECRET", 0, "WRONG_PASSWORD", "the server refused the password of '{user}' (BAD_SECRET: the name is known, "
     "the password is wrong)", "{retype}"},
    {"UNKNOWN_PRINCIPAL", 0, "WRONG_PASSWORD", "no user, service principal, repository token or admin user is named "
     "'{user}' (UNKNOWN_PRINCIPAL)", "{retype}"},
    {"ADMIN_DISABLED", 0, "ADMIN_USER_DISABLED", "'{user}' is the admin user of registry '{name}', which is disabled",
     "berth registry update -n {name} --admin-enabled true"},
    {"SECRET_EXPIRED", 0, "SECRET_EXPIRED", "{detail}", "berth sp credential reset {user}"},
    {"CREDENTIAL_EXPIRED", 0, "TOKEN_PASSWORD_EXPIRED", "{detail}",
     "berth token credential generate -n {name} --name {user}{slot}"},
    {"TOKEN_DISABLED", 0, "TOKEN_DISABLED", "repository token '{user}' of registry '{name}' is disabled",
     "berth token update -n {name} --name {user} --status enabled"},
    {"REFRESH_REVOKED", 0, "REFRESH_TOKEN_REVOKED",
     "the refresh token from {where} was revoked: its user's password changed or its credential was removed",
     "{relogin}"},
    {"TOKEN_EXPIRED", 0, "REFRESH_TOKEN_EXPIRED", "the refresh token from {where} has expired", "{relogin}"},
    {"TOO_MANY_FAILURES", 0, "TOO_MANY_FAILURES",
     "too many failed logins for '{user}' from this address: the server refuses it for {retry} s more",
     "sleep {retry}"},
    {"UNKNOWN_REGISTRY", 0, "REGISTRY_NOT_FOUND", "the server has no registry '{name}' ({detail})",
     "berth registry create -n {name}"},
    {"NETWORK_PUBLIC_DISABLED", 0, "PUBLIC_ACCESS_DISABLED",
     "public network access is disabled for registry '{name}': every client is refused before its credential is read",
     "berth registry update -n {name} --public-network-enabled true"},
    {"NETWORK_IP_DENIED", 0, "NETWORK_ACCESS_DENIED", "{detail}", "berth network-rule add -n {name} --ip-address {ip}"},
    {"ANONYMOUS_DISABLED", 0, "CREDENTIALS_MISSING",
     "no credential for {ls} ({where}) and anonymous pull is disabled",
     "{relogin}"},
    {"WRONG_AUDIENCE", 0, "WRONG_AUDIENCE", "the credential from {where} is for another registry ({detail})",
     "{relogin}"},
    {"TOKEN_NOT_YET_VALID", 0, "CLOCK_SKEW", "the server says the token is not valid yet: a clock is wrong ({detail})",
     NULL},
    {"", 0, "CREDENTIAL_REJECTED", "the credential from {where} is refused: {detail}", "{relogin}"},
    {NULL, 0, NULL, NULL, NULL},
};

const struct berth_health_reason_row *berth_health_reason_lookup(const char *reason, enum berth_health_source src)
{
    const struct berth_health_reason_row *r;
    for (r = berth_health_reasons; r->reason; r++) {
        if (r->sources && !(r->sources & (1u << src))) continue;
        if (!*r->reason || (reason && !strcmp(reason, r->reason))) return r;
    }
    return r - 1; /* not reached: the table ends with a catch-all */
}

char *berth_health_expand(const char *tmpl, const char *const *vars, size_t nvars)
{
    struct berth_buf b = BERTH_BUF_INIT(0);
    const char *p = tmpl, *e;
    size_t i, n;

    while (*p) {
        if (*p != '{' || !(e = strchr(p, '}'))) {
            berth_buf_putc(&b, *p++);
            continue;
        }
        n = (size_t)(e - p - 1);
        for (i = 0; i + 1 < nvars; i += 2)
            if (strlen(vars[i]) == n && !strncmp(vars[i], p + 1, n) && vars[i + 1]) break;
        if (i + 1 < nvars) berth_buf_puts(&b, vars[i + 1]);
        else berth_buf_append(&b, p, n + 2);
        p = e + 1;
    }
    berth_buf_puts(&b, "");
    return berth_buf_detach(&b, NULL);
}

/* Reads one auth-param value (quoted or token) at *p; malloc'd. */
static char *param_value(const char **p)
{
    const char *s = *p;
    struct berth_buf b = BERTH_BUF_INIT(4096);
    if (*s == '"') {
        s++;
        while (*s && *s != '"') {
            if (*s == '\\' && s[1]) s++;
            berth_buf_putc(&b, *s++);
        }
        if (*s == '"') s++;
    } else {
        while (*s && *s != ',' && !isspace((unsigned char)*s)) berth_buf_putc(&b, *s++);
    }
    *p = s;
    berth_buf_puts(&b, "");
    return berth_buf_detach(&b, NULL);
}

int berth_health_parse_challenge(const char *v, char **realm, char **service, char *why, size_t whylen)
{
    const char *p = v;
    char key[32], *val;
    size_t k;

    *realm = *service = NULL;
    if (!v || !*v) {
        snprintf(why, whylen, "there is no WWW-Authenticate header");
        return -1;
    }
    while (isspace((unsigned char)*p)) p++;
    if (strncasecmp(p, "Bearer", 6) != 0 || (p[6] && !isspace((unsigned char)p[6]))) {
        snprintf(why, whylen, "the challenge is not Bearer: '%.60s'", v);
        return -1;
    }
    p += 6;
    while (*p) {
        while (*p == ',' || isspace((unsigned char)*p)) p++;
        if (!*p) break;
        for (k = 0; *p && *p != '=' && *p != ',' && !isspace((unsigned char)*p); p++)
            if (k + 1 < sizeof(key)) key[k++] = (char)tolower((unsigned char)*p);
        key[k] = '\0';
        while (isspace((unsigned char)*p)) p++;
        if (*p != '=') {
            snprintf(why, whylen, "parameter '%s' has no value in '%.80s'", key, v);
            goto bad;
        }
        p++;
        while (isspace((unsigned char)*p)) p++;
        val = param_value(&p);
        if (!strcmp(key, "realm") && !*realm) *realm = val;
        else if (!strcmp(key, "service") && !*service) *service = val;
        else free(val);
    }
    if (!*realm || !**realm) {
        snprintf(why, whylen, "the Bearer challenge has no realm: '%.80s'", v);
        goto bad;
    }
    if (strncmp(*realm, "http://", 7) != 0 && strncmp(*realm, "https://", 8) != 0) {
        snprintf(why, whylen, "the realm '%.80s' is not an http(s) URL", *realm);
        goto bad;
    }
    if (!*service || !**service) {
        snprintf(why, whylen, "the Bearer challenge has no service: '%.80s'", v);
        goto bad;
    }
    return 0;
bad:
    free(*realm);
    free(*service);
    *realm = *service = NULL;
    return -1;
}

enum berth_health_realm_fit berth_health_realm_fit(const char *realm, const char *scheme, const char *login_server)
{
    char rhp[300], rscheme[16], lhp[300], lscheme[16], *ls;

    berth_client_url_hostport(realm, rhp, sizeof(rhp), rscheme, sizeof(rscheme));
    ls = berth_xasprintf("%s://%s", scheme, login_server);
    berth_client_url_hostport(ls, lhp, sizeof(lhp), lscheme, sizeof(lscheme));
    free(ls);
    if (!strcasecmp(lscheme, "https") && strcasecmp(rscheme, "https") != 0) return BERTH_HEALTH_REALM_DOWNGRADE;
    return strcasecmp(rhp, lhp) ? BERTH_HEALTH_REALM_OTHER_HOST : BERTH_HEALTH_REALM_SAME;
}

/* The next number of a dotted version at *p (0 when none), moving past it and one '.'. */
static long next_part(const char **p)
{
    long n = 0;
    while (isdigit((unsigned char)**p)) {
        if (n < 100000000) n = n * 10 + (**p - '0');
        (*p)++;
    }
    if (**p == '.' && isdigit((unsigned char)(*p)[1])) (*p)++;
    else while (**p) (*p)++; /* anything else ends the version */
    return n;
}

int berth_health_version_cmp(const char *a, const char *b)
{
    long x, y;
    while (*a || *b) {
        x = next_part(&a);
        y = next_part(&b);
        if (x != y) return x < y ? -1 : 1;
    }
    return 0;
}

/* A version starts a word, or follows a lone "v" ("v3.14.2"). */
static int version_start(const char *text, const char *p)
{
    if (p == text) return 1;
    if (isdigit((unsigned char)p[-1]) || p[-1] == '.') return 0;
    if (!isalpha((unsigned char)p[-1])) return 1;
    return p[-1] == 'v' && (p - 1 == text || !isalnum((unsigned char)p[-2]));
}

char *berth_health_version_of(const char *text)
{
    const char *p;
    size_t n;
    for (p = text; p && *p; p++) {
        if (!isdigit((unsigned char)*p) || !version_start(text, p)) continue;
        n = strspn(p, "0123456789.");
        while (n && p[n - 1] == '.') n--;
        if (memchr(p, '.', n)) return berth_xstrndup(p, n);
    }
    return NULL;
}

/* Parses "a.b.c.d" into 4 bytes; 0 ok. */
static int ipv4(const char *s, size_t n, unsigned char out[4])
{
    unsigned v = 0, part = 0, digits = 0;
    size_t i;
    for (i = 0; i <= n; i++) {
        if (i < n && isdigit((unsigned char)s[i])) {
            v = v * 10 + (unsigned)(s[i] - '0');
            if (v > 255 || ++digits > 3) return -1;
        } else if (i == n || s[i] == '.') {
            if (!digits || part > 3) return -1;
            out[part++] = (unsigned char)v;
            v = digits = 0;
        } else {
            return -1;
        }
    }
    return part == 4 ? 0 : -1;
}

/* One NO_PROXY entry (len n) against host. */
static int no_proxy_entry(const char *e, size_t n, const char *host)
{
    size_t hl = strlen(host);
    const char *slash = memchr(e, '/', n);
    unsigned char net[4], ip[4];
    long bits;
    uint32_t a, b, mask;

    if (n == 1 && *e == '*') return 1;
    if (slash) { /* an IPv4 CIDR */
        bits = strtol(slash + 1, NULL, 10);
        if (bits < 0 || bits > 32 || ipv4(e, (size_t)(slash - e), net) || ipv4(host, hl, ip)) return 0;
        a = (uint32_t)net[0] << 24 | (uint32_t)net[1] << 16 | (uint32_t)net[2] << 8 | net[3];
        b = (uint32_t)ip[0] << 24 | (uint32_t)ip[1] << 16 | (uint32_t)ip[2] << 8 | ip[3];
        mask = bits ? 0xffffffffu << (32 - bits) : 0;
        return (a & mask) == (b & mask);
    }
    if (*e == '.') e++, n--; /* ".example.com" and "example.com" both cover subdomains */
    if (!n) return 0;
    if (hl == n && !strncasecmp(host, e, n)) return 1;
    return hl > n && host[hl - n - 1] == '.' && !strncasecmp(host + hl - n, e, n);
}

int berth_health_no_proxy_match(const char *no_proxy, const char *host)
{
    const char *p = no_proxy, *e;
    size_t n;
    while (p && *p) {
        e = p + strcspn(p, ",");
        while (p < e && isspace((unsigned char)*p)) p++;
        n = (size_t)(e - p);
        while (n && isspace((unsigned char)p[n - 1])) n--;
        /* an entry with a port ("host:5000") covers that host */
        if (n && memchr(p, ':', n) && !memchr(p, '/', n) && !strchr(host, ':'))
            n = (size_t)((const char *)memchr(p, ':', n) - p);
        if (n && no_proxy_entry(p, n, host)) return 1;
        p = *e ? e + 1 : e;
    }
    return 0;
}

/* JSON members whose string values are secrets. */
static const char *const secret_keys[] = {"password", "secret", "client_secret", "refresh_token", "access_token",
                                          "token", "identitytoken", "auth", "registrytoken", "refreshtoken",
                                          "accesstoken", "password1", "password2"};

static int secret_key(const char *k, size_t n)
{
    size_t i;
    for (i = 0; i < sizeof(secret_keys) / sizeof(secret_keys[0]); i++)
        if (strlen(secret_keys[i]) == n && !strncasecmp(secret_keys[i], k, n)) return 1;
    return 0;
}

static int b64url_char(char c)
{
    return isalnum((unsigned char)c) || c == '-' || c == '_' || c == '=';
}

/* The length of a JWT-looking "eyJ...x.y.z" at p, or 0. */
static size_t jwt_len(const char *p)
{
    size_t n = 0;
    int dots = 0;
    if (strncmp(p, "eyJ", 3) != 0) return 0;
    while (b64url_char(p[n]) || (p[n] == '.' && b64url_char(p[n + 1]))) dots += p[n++] == '.';
    return dots >= 2 ? n : 0;
}

static const char redacted[] = "[REDACTED]";

void berth_health_redact(const char *in, const char *const *list, size_t n, struct berth_buf *out)
{
    const char *p = in, *q;
    size_t i, l, best;

    while (*p) {
        /* a known secret value */
        best = 0;
        for (i = 0; i < n; i++) {
            l = list[i] ? strlen(list[i]) : 0;
            if (l >= 4 && l > best && !strncmp(p, list[i], l)) best = l;
        }
        if (!best) best = jwt_len(p);
        if (best) {
            berth_buf_puts(out, redacted);
            p += best;
            continue;
        }
        /* "Authorization: <anything>" to the end of the line */
        if (!strncasecmp(p, "Authorization:", 14) || !strncasecmp(p, "Proxy-Authorization:", 20)) {
            q = strchr(p, ':') + 1;
            berth_buf_append(out, p, (size_t)(q - p));
            berth_buf_printf(out, " %s", redacted);
            p = q + strcspn(q, "\r\n");
            continue;
        }
        /* "key": "value" or key=value with a secret key */
        if (*p == '"' && (q = strchr(p + 1, '"')) && secret_key(p + 1, (size_t)(q - p - 1))) {
            const char *v = q + 1;
            while (*v == ' ' || *v == ':' || *v == '\t') v++;
            if (*v == '"' && v > q + 1 && memchr(q + 1, ':', (size_t)(v - q - 1))) {
                const char *e = v + 1;
                while (*e && *e != '"') e += (*e == '\\' && e[1]) ? 2 : 1;
                berth_buf_append(out, p, (size_t)(v - p) + 1);
                berth_buf_puts(out, redacted);
                p = e;
                continue;
            }
        }
        if (isalpha((unsigned char)*p) && (p == in || !isalnum((unsigned char)p[-1]))) {
            l = strspn(p, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_");
            if (p[l] == '=' && secret_key(p, l)) {
                berth_buf_append(out, p, l + 1);
                berth_buf_puts(out, redacted);
                p += l + 1;
                p += strcspn(p, "&\" \r\n");
                continue;
            }
            berth_buf_append(out, p, l);
            p += l;
            continue;
        }
        berth_buf_putc(out, *p++);
    }
    berth_buf_puts(out, "");
}

const char *berth_health_source_name(enum berth_health_source s)
{
    static const char *const names[] = {"anonymous", "flags", "session", "helper", "file"};
    return (unsigned)s < sizeof(names) / sizeof(names[0]) ? names[s] : "?";
}

void berth_health_clock_skew(int64_t date_s, int64_t sent_ms, int64_t got_ms, int64_t *lo, int64_t *hi)
{
    /* the server's clock read [date, date + 1 s + lag) while this machine's read [sent, got] */
    *lo = date_s * 1000 - got_ms;
    *hi = date_s * 1000 + 1000 + BERTH_HEALTH_DATE_LAG_MS - sent_ms;
}
