/*
 * netrule.c - IPv4 and IPv6 addresses and CIDR ranges for the network rules
 * of a registry, the trusted proxies and the management networks: parsing
 * with a reason for every refusal, canonical text, and matching.
 */
#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "alloc.h"
#include "auth.h"
#include "banned.h"

#define ADDR_TEXT_MAX 46 /* INET6_ADDRSTRLEN */

static const unsigned char v4mapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};

enum berth_rc berth_netaddr_parse(const char *s, struct berth_netaddr *out, struct berth_err *err)
{
    memset(out, 0, sizeof(*out));
    if (!s || !*s) return berth_err_set(err, BERTH_EINVAL, "empty address");
    if (strlen(s) >= ADDR_TEXT_MAX) return berth_err_set(err, BERTH_EINVAL, "'%.60s...' is too long for an address", s);
    if (inet_pton(AF_INET, s, out->a) == 1) {
        out->family = 4;
        return BERTH_OK;
    }
    if (inet_pton(AF_INET6, s, out->a) == 1) {
        out->family = 6;
        if (!memcmp(out->a, v4mapped, sizeof(v4mapped))) {
            memmove(out->a, out->a + 12, 4);
            memset(out->a + 4, 0, 12);
            out->family = 4;
        }
        return BERTH_OK;
    }
    return berth_err_set(err, BERTH_EINVAL, "'%s' is not an IPv4 or IPv6 address", s);
}

void berth_netaddr_format(const struct berth_netaddr *a, char *out, size_t outlen)
{
    if (!inet_ntop(a->family == 4 ? AF_INET : AF_INET6, a->a, out, (socklen_t)outlen) && outlen) out[0] = '\0';
}

static unsigned bits_of(int family)
{
    return family == 4 ? 32u : 128u;
}

/* Nonzero if a and b agree on their first prefix bits. */
static int same_prefix(const unsigned char *a, const unsigned char *b, unsigned prefix)
{
    unsigned whole = prefix / 8, rest = prefix % 8;
    unsigned char mask;

    if (memcmp(a, b, whole)) return 0;
    if (!rest) return 1;
    mask = (unsigned char)(0xffu << (8 - rest));
    return (a[whole] & mask) == (b[whole] & mask);
}

/* Clears every bit after the first prefix bits. */
static void clear_host(unsigned char *a, unsigned prefix, unsigned total)
{
    unsigned i;
    for (i = prefix; i < total; i++) a[i / 8] &= (unsigned char)~(0x80u >> (i % 8));
}

enum berth_rc berth_netrule_parse(const char *s, struct berth_netrule *out, struct berth_err *err)
{
    char addr[ADDR_TEXT_MAX], net[ADDR_TEXT_MAX];
    const char *slash;
    struct berth_netaddr a;
    unsigned prefix = 0, total, i;
    size_t alen, plen;
    int mapped;
    enum berth_rc rc;

    memset(out, 0, sizeof(*out));
    if (!s || !*s) return berth_err_set(err, BERTH_EINVAL, "empty rule: give an IP address or a CIDR range");
    if (strlen(s) >= BERTH_NETRULE_TEXT_MAX) return berth_err_set(err, BERTH_EINVAL, "'%.60s...' is too long", s);
    slash = strchr(s, '/');
    alen = slash ? (size_t)(slash - s) : strlen(s);
    if (alen >= sizeof(addr)) return berth_err_set(err, BERTH_EINVAL, "'%s' is not an IPv4 or IPv6 address", s);
    memcpy(addr, s, alen);
    addr[alen] = '\0';
    rc = berth_netaddr_parse(addr, &a, err);
    if (rc) return rc;
    /* an IPv4-mapped range is written in IPv6 terms: its prefix counts the 96 mapped bits */
    mapped = a.family == 4 && strchr(addr, ':') != NULL;
    total = bits_of(a.family);
    if (!slash) {
        prefix = total;
    } else {
        const char *p = slash + 1;
        plen = strlen(p);
        if (plen == 0) return berth_err_set(err, BERTH_EINVAL, "'%s' has no prefix length after '/'", s);
        if (plen > 3 || (plen > 1 && p[0] == '0'))
            return berth_err_set(err, BERTH_EINVAL, "prefix length '%s' is not a number from 0 to %u", p,
                                 mapped ? 128u : total);
        for (i = 0; i < plen; i++) {
            if (p[i] < '0' || p[i] > '9')
                return berth_err_set(err, BERTH_EINVAL, "prefix length '%s' is not a number from 0 to %u", p,
                                     mapped ? 128u : total);
            prefix = prefix * 10 + (unsigned)(p[i] - '0');
        }
        if (mapped) {
            if (prefix > 128) return berth_err_set(err, BERTH_EINVAL, "prefix length %u is more than 128", prefix);
            if (prefix < 96)
                return berth_err_set(err, BERTH_EINVAL, "prefix length %u is less than 96 for an IPv4-mapped range",
                                     prefix);
            prefix -= 96;
        }
        if (prefix > total) return berth_err_set(err, BERTH_EINVAL, "prefix length %u is more than %u", prefix, total);
    }
    out->addr = a;
    out->prefix = prefix;
    clear_host(out->addr.a, prefix, total);
    if (memcmp(out->addr.a, a.a, sizeof(a.a))) {
        berth_netaddr_format(&out->addr, net, sizeof(net));
        return berth_err_set(err, BERTH_EINVAL, "'%s' has host bits set (the network is %s/%u)", s, net, prefix);
    }
    return BERTH_OK;
}

void berth_netrule_format(const struct berth_netrule *r, char *out, size_t outlen)
{
    char a[ADDR_TEXT_MAX];

    berth_netaddr_format(&r->addr, a, sizeof(a));
    if (r->prefix == bits_of(r->addr.family)) snprintf(out, outlen, "%s", a);
    else snprintf(out, outlen, "%s/%u", a, r->prefix);
}

int berth_netrule_match(const struct berth_netrule *r, const struct berth_netaddr *a)
{
    if (r->addr.family != a->family) return 0;
    return same_prefix(r->addr.a, a->a, r->prefix);
}

int berth_netrules_match(const struct berth_netrule *rules, size_t n, const struct berth_netaddr *a)
{
    size_t i;
    for (i = 0; i < n; i++)
        if (berth_netrule_match(&rules[i], a)) return 1;
    return 0;
}

enum berth_rc berth_netrules_parse_list(const char *list, size_t max, struct berth_netrule **out, size_t *n,
                                        struct berth_err *err)
{
    struct berth_netrule *v = NULL;
    struct berth_err lerr = BERTH_ERR_INIT;
    char item[BERTH_NETRULE_TEXT_MAX];
    const char *p = list ? list : "";
    size_t count = 0, cap = 0;
    enum berth_rc rc = BERTH_OK;

    while (*p) {
        const char *end = strchr(p, ',');
        size_t len = end ? (size_t)(end - p) : strlen(p);
        const char *b = p, *e = p + len;
        while (b < e && (*b == ' ' || *b == '\t')) b++;
        while (e > b && (e[-1] == ' ' || e[-1] == '\t')) e--;
        if (e == b) {
            rc = berth_err_set(err, BERTH_EINVAL, "empty item in the list '%.200s'", list);
            goto out;
        }
        if ((size_t)(e - b) >= sizeof(item)) {
            rc = berth_err_set(err, BERTH_EINVAL, "item '%.*s...' is too long", 40, b);
            goto out;
        }
        if (count == max) {
            rc = berth_err_set(err, BERTH_EINVAL, "more than %zu items", max);
            goto out;
        }
        BERTH_ASSERT(b <= e && (size_t)(e - b) < sizeof(item) && count < max);
        memcpy(item, b, (size_t)(e - b));
        item[e - b] = '\0';
        if (count == cap) {
            cap = cap ? 2 * cap : 8;
            v = berth_xrealloc(v, cap * sizeof(*v));
        }
        if (berth_netrule_parse(item, &v[count], &lerr) != BERTH_OK) {
            rc = berth_err_set(err, BERTH_EINVAL, "%s", berth_err_msg(&lerr));
            goto out;
        }
        count++;
        if (!end) break;
        p = end + 1;
        if (!*p) {
            rc = berth_err_set(err, BERTH_EINVAL, "empty item in the list '%.200s'", list);
            goto out;
        }
    }
    *out = v;
    *n = count;
    v = NULL;
out:
    free(v);
    return rc;
}
