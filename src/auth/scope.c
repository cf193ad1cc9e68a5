/*
 * scope.c - Docker token scopes: action lists ("pull,push") and resource
 * scopes ("repository:team/app:pull,push"), singly and as the space-separated
 * list of a POST /oauth2/token form.
 */
#include <stdio.h>
#include <string.h>
#include "alloc.h"
#include "auth.h"
#include "banned.h"

#define SCOPE_RULE "a scope is type:name:actions, e.g. repository:team/app:pull,push"
#define SCOPE_LIST_MAX 64

struct action_name {
    const char *name;
    unsigned bits;
    int alias; /* accepted, never written */
};

/*
 * The order is the order of berth_actions_json: one bit per row, then "*".
 * metadata_read and metadata_write are what az acr asks for (azure-cli's
 * RepoAccessTokenPermission) and ACR's tokens carry; the camel-case
 * spellings are accepted too.
 */
static const struct action_name action_names[] = {
    {"pull", BERTH_ACT_PULL, 0},
    {"push", BERTH_ACT_PUSH, 0},
    {"delete", BERTH_ACT_DELETE, 0},
    {"metadata_read", BERTH_ACT_METADATA_READ, 0},
    {"metadata_write", BERTH_ACT_METADATA_WRITE, 0},
    {"*", BERTH_ACT_ALL, 0},
    {"metadataRead", BERTH_ACT_METADATA_READ, 1},
    {"metadataWrite", BERTH_ACT_METADATA_WRITE, 1},
};

#define NACTION_NAMES (sizeof(action_names) / sizeof(action_names[0]))

/* Printable ASCII other than the space: the only bytes a scope may hold. */
static int is_scope_byte(char c)
{
    unsigned char u = (unsigned char)c;
    return u > 0x20 && u < 0x7f;
}

static int is_type_char(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');
}

/* Client bytes end up in logs and JSON bodies: show anything unusual as hex. */
static const char *show_byte(char c, char out[8])
{
    unsigned char u = (unsigned char)c;
    if (u > 0x20 && u < 0x7f && u != '\'' && u != '\\')
        snprintf(out, 8, "'%c'", c);
    else
        snprintf(out, 8, "0x%02x", u);
    return out;
}

static unsigned action_bits(const char *p, size_t n)
{
    size_t i;
    for (i = 0; i < NACTION_NAMES; i++)
        if (strlen(action_names[i].name) == n && memcmp(action_names[i].name, p, n) == 0)
            return action_names[i].bits;
    return 0; /* unknown: the token server grants the intersection, so it adds nothing */
}

enum berth_rc berth_actions_parse(const char *s, size_t len, unsigned *out, struct berth_err *err)
{
    unsigned bits = 0;
    size_t i, start = 0;
    char b[8];

    if (!s || len == 0) return berth_err_set(err, BERTH_EINVAL, "invalid action list: the list is empty");
    for (i = 0; i <= len; i++) {
        if (i < len && s[i] != ',') {
            if (!is_scope_byte(s[i]))
                return berth_err_set(err, BERTH_EINVAL, "invalid action list: invalid character %s at byte %zu",
                                     show_byte(s[i], b), i);
            continue;
        }
        if (i == start)
            return berth_err_set(err, BERTH_EINVAL, "invalid action list: empty action at byte %zu", i);
        bits |= action_bits(s + start, i - start);
        start = i + 1;
    }
    *out = bits;
    return BERTH_OK;
}

void berth_actions_json(unsigned bits, struct berth_buf *b)
{
    size_t i;
    int first = 1;

    berth_buf_putc(b, '[');
    for (i = 0; i < NACTION_NAMES; i++) {
        if (action_names[i].alias || action_names[i].bits == BERTH_ACT_ALL || !(bits & action_names[i].bits)) continue;
        berth_buf_printf(b, "%s\"%s\"", first ? "" : ",", action_names[i].name);
        first = 0;
    }
    berth_buf_putc(b, ']');
}

/*
 * The type is [a-z0-9]+ with an optional "(class)" of the same characters;
 * the class is an old plugin marker that grants nothing, so it is dropped.
 */
static enum berth_rc parse_type(const char *s, size_t len, char *out, struct berth_err *err)
{
    size_t i = 0, base, cls;

    while (i < len && is_type_char(s[i]))
        i++;
    base = i;
    if (base == 0)
        return berth_err_set(err, BERTH_EINVAL,
                             "invalid scope: the resource type is empty or does not start with [a-z0-9]; " SCOPE_RULE);
    if (base > BERTH_SCOPE_TYPE_MAX)
        return berth_err_set(err, BERTH_EINVAL, "invalid scope: resource type longer than %d bytes; " SCOPE_RULE,
                             BERTH_SCOPE_TYPE_MAX);
    if (i < len) {
        if (s[i] != '(')
            return berth_err_set(err, BERTH_EINVAL,
                                 "invalid scope: resource type must be [a-z0-9]+ with an optional (class); " SCOPE_RULE);
        i++;
        cls = i;
        while (i < len && is_type_char(s[i]))
            i++;
        if (i == cls || i + 1 != len || s[i] != ')')
            return berth_err_set(err, BERTH_EINVAL,
                                 "invalid scope: resource class must be (class) with [a-z0-9]+ and end the type; "
                                 SCOPE_RULE);
    }
    memcpy(out, s, base);
    out[base] = '\0';
    return BERTH_OK;
}

enum berth_rc berth_scope_parse(const char *s, size_t len, struct berth_scope *out, struct berth_err *err)
{
    struct berth_scope sc;
    size_t i, first, last, nlen, alen, colons = 0;
    enum berth_rc rc;
    char b[8];

    if (!s || len == 0) return berth_err_set(err, BERTH_EINVAL, "invalid scope: the scope is empty; " SCOPE_RULE);
    for (i = 0; i < len; i++)
        if (!is_scope_byte(s[i]))
            return berth_err_set(err, BERTH_EINVAL, "invalid scope: invalid character %s at byte %zu; " SCOPE_RULE,
                                 show_byte(s[i], b), i);
    for (first = 0; first < len && s[first] != ':'; first++)
        ;
    if (first == len) return berth_err_set(err, BERTH_EINVAL, "invalid scope: no ':' separator; " SCOPE_RULE);
    for (last = len - 1; s[last] != ':'; last--)
        ;
    if (last == first) return berth_err_set(err, BERTH_EINVAL, "invalid scope: only one ':' separator; " SCOPE_RULE);

    memset(&sc, 0, sizeof(sc));
    rc = parse_type(s, first, sc.type, err);
    if (rc) return rc;

    nlen = last - first - 1;
    if (nlen == 0) return berth_err_set(err, BERTH_EINVAL, "invalid scope: the resource name is empty; " SCOPE_RULE);
    if (nlen > BERTH_SCOPE_NAME_MAX)
        return berth_err_set(err, BERTH_EINVAL, "invalid scope: resource name longer than %d bytes (%zu bytes)",
                             BERTH_SCOPE_NAME_MAX, nlen);
    for (i = first + 1; i < last; i++)
        colons += s[i] == ':';
    /* one ':' is a registry host's port ("localhost:5000/app"); more has no reading */
    if (colons > 1)
        return berth_err_set(err, BERTH_EINVAL,
                             "invalid scope: the resource name holds more than one ':' (only host:port may); "
                             SCOPE_RULE);
    BERTH_ASSERT(first < last && last < len && nlen < sizeof(sc.name));
    memcpy(sc.name, s + first + 1, nlen);
    sc.name[nlen] = '\0';

    alen = len - last - 1;
    if (alen >= sizeof(sc.raw_actions))
        return berth_err_set(err, BERTH_EINVAL, "invalid scope: action list longer than %zu bytes",
                             sizeof(sc.raw_actions) - 1);
    rc = berth_actions_parse(s + last + 1, alen, &sc.actions, err);
    if (rc) return rc;
    BERTH_ASSERT(alen < sizeof(sc.raw_actions));
    memcpy(sc.raw_actions, s + last + 1, alen);
    sc.raw_actions[alen] = '\0';

    *out = sc;
    return BERTH_OK;
}

enum berth_rc berth_scope_list_parse(const char *s, size_t len, struct berth_scope **list, size_t *n,
                                     struct berth_err *err)
{
    struct berth_err one = BERTH_ERR_INIT;
    struct berth_scope *grown;
    size_t i, start, count = 0, k = 0;
    enum berth_rc rc;

    if (!s) len = 0;
    /* count first, so a flood of scopes is refused before anything is parsed or allocated */
    for (i = 0; i < len; i++)
        if (s[i] != ' ' && (i == 0 || s[i - 1] == ' ')) count++;
    if (*n > SCOPE_LIST_MAX || count > SCOPE_LIST_MAX - *n)
        return berth_err_set(err, BERTH_EINVAL, "too many scopes (%zu; at most %d)", *n + count, SCOPE_LIST_MAX);
    if (count == 0) return BERTH_OK;

    grown = berth_xrealloc(*list, (*n + count) * sizeof(*grown));
    *list = grown;
    for (i = 0; i < len; i++) {
        if (s[i] == ' ') continue;
        for (start = i; i < len && s[i] != ' '; i++)
            ;
        rc = berth_scope_parse(s + start, i - start, &grown[*n + k], &one);
        if (rc) return berth_err_set(err, rc, "scope %zu: %s", k + 1, berth_err_msg(&one));
        k++;
    }
    *n += count;
    return BERTH_OK;
}
