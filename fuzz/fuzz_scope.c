/*
 * fuzz_scope.c - the access parsers on hostile text: token scope lists,
 * action lists, scope-map rules and role-assignment scopes. Whatever parses
 * must satisfy the header's promises and survive a format/parse round trip;
 * whatever fails must say why in printable text.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include "alloc.h"
#include "auth.h"
#include "buf.h"
#include "banned.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check_printable(const char *s)
{
    for (; *s; s++)
        if ((unsigned char)*s < 0x20 || (unsigned char)*s > 0x7e) abort();
}

static void check_failure(enum berth_rc rc, const struct berth_err *err)
{
    if (rc != BERTH_EINVAL || err->code != BERTH_EINVAL || !err->msg[0]) abort();
    check_printable(err->msg);
}

/* A parsed scope is well formed and reads back the same from its own text. */
static void check_scope(const struct berth_scope *sc)
{
    struct berth_scope again;
    struct berth_buf b = BERTH_BUF_INIT(0);
    size_t i, colons = 0, tlen = strlen(sc->type), nlen = strlen(sc->name);
    unsigned bits;

    if (tlen == 0 || tlen > BERTH_SCOPE_TYPE_MAX || nlen == 0 || nlen > BERTH_SCOPE_NAME_MAX) abort();
    for (i = 0; i < tlen; i++)
        if (!((sc->type[i] >= 'a' && sc->type[i] <= 'z') || (sc->type[i] >= '0' && sc->type[i] <= '9'))) abort();
    for (i = 0; i < nlen; i++) {
        if ((unsigned char)sc->name[i] <= 0x20 || (unsigned char)sc->name[i] >= 0x7f) abort();
        colons += sc->name[i] == ':';
    }
    if (colons > 1 || (sc->actions & ~BERTH_ACT_ALL)) abort();
    if (berth_actions_parse(sc->raw_actions, strlen(sc->raw_actions), &bits, NULL) != BERTH_OK) abort();
    if (bits != sc->actions) abort();

    berth_buf_printf(&b, "%s:%s:%s", sc->type, sc->name, sc->raw_actions);
    if (berth_scope_parse(berth_buf_str(&b), b.len, &again, NULL) != BERTH_OK) abort();
    if (strcmp(again.type, sc->type) != 0 || strcmp(again.name, sc->name) != 0 || again.actions != sc->actions ||
        strcmp(again.raw_actions, sc->raw_actions) != 0)
        abort();
    berth_buf_release(&b);
}

static void fuzz_scopes(const char *s, size_t size)
{
    struct berth_err err = BERTH_ERR_INIT;
    struct berth_scope *list = NULL, one;
    size_t n = 0, i;
    enum berth_rc rc;

    rc = berth_scope_list_parse(s, size, &list, &n, &err);
    if (rc == BERTH_OK) {
        if (n > 64) abort();
        for (i = 0; i < n; i++)
            check_scope(&list[i]);
    } else {
        check_failure(rc, &err);
        if (n != 0) abort();
    }
    free(list);

    berth_err_clear(&err);
    rc = berth_scope_parse(s, size, &one, &err);
    if (rc == BERTH_OK)
        check_scope(&one);
    else
        check_failure(rc, &err);
}

static void fuzz_actions(const char *s, size_t size)
{
    struct berth_err err = BERTH_ERR_INIT;
    struct berth_buf b = BERTH_BUF_INIT(0);
    unsigned bits;
    enum berth_rc rc;

    rc = berth_actions_parse(s, size, &bits, &err);
    if (rc != BERTH_OK) {
        check_failure(rc, &err);
        return;
    }
    if (bits & ~BERTH_ACT_ALL) abort();
    berth_actions_json(bits, &b);
    if (berth_buf_rc(&b) != BERTH_OK || berth_buf_str(&b)[0] != '[') abort();
    check_printable(berth_buf_str(&b));
    berth_buf_release(&b);
}

static void fuzz_rule(const char *s, size_t size)
{
    struct berth_err err = BERTH_ERR_INIT;
    struct berth_scopemap_rule r, again;
    char out[BERTH_NAME_MAX + 40], probe[BERTH_NAME_MAX + 8];
    size_t plen;
    enum berth_rc rc;

    rc = berth_scopemap_rule_parse(s, size, &r, &err);
    if (rc != BERTH_OK) {
        check_failure(rc, &err);
        return;
    }
    /* exactly one action bit */
    if (r.actions == 0 || (r.actions & (r.actions - 1)) || (r.actions & ~BERTH_ACT_ALL)) abort();
    berth_scopemap_rule_format(&r, out, sizeof(out));
    if (strlen(out) != size || memcmp(out, s, size) != 0) abort();
    if (berth_scopemap_rule_parse(out, strlen(out), &again, NULL) != BERTH_OK) abort();
    if (strcmp(again.pattern, r.pattern) != 0 || again.actions != r.actions) abort();

    plen = strlen(r.pattern);
    if (berth_scopemap_grant(&r, 1, "z") != (berth_scopemap_pattern_match(r.pattern, "z") ? r.actions : 0)) abort();
    if (strcmp(r.pattern, "*") == 0) {
        if (!berth_scopemap_pattern_match(r.pattern, "any/repo")) abort();
    } else if (plen >= 2 && r.pattern[plen - 1] == '*') {
        /* "x/ *": x itself no, x/z yes */
        memcpy(probe, r.pattern, plen - 2);
        probe[plen - 2] = '\0';
        if (berth_scopemap_pattern_match(r.pattern, probe)) abort();
        probe[plen - 2] = '/';
        probe[plen - 1] = 'z';
        probe[plen] = '\0';
        if (!berth_scopemap_pattern_match(r.pattern, probe)) abort();
    } else {
        if (!berth_scopemap_pattern_match(r.pattern, r.pattern)) abort();
        memcpy(probe, r.pattern, plen);
        probe[plen] = 'z';
        probe[plen + 1] = '\0';
        if (berth_scopemap_pattern_match(r.pattern, probe)) abort();
    }
}

static void fuzz_assign_scope(const char *s, size_t size)
{
    struct berth_err err = BERTH_ERR_INIT;
    struct berth_assign_scope sc, again;
    char out[BERTH_NAME_MAX + 100], probe[BERTH_NAME_MAX + 8];
    char *text = berth_xstrndup(s, size); /* the parser takes a C string: stops at the first NUL */
    struct berth_assignment a;
    enum berth_rc rc;

    rc = berth_assign_scope_parse(text, &sc, &err);
    if (rc != BERTH_OK) {
        check_failure(rc, &err);
        free(text);
        return;
    }
    berth_assign_scope_format(&sc, out, sizeof(out));
    memset(&again, 0, sizeof(again));
    if (berth_assign_scope_parse(out, &again, NULL) != BERTH_OK) abort();
    if (again.kind != sc.kind || strcmp(again.registry, sc.registry) != 0 || strcmp(again.prefix, sc.prefix) != 0)
        abort();

    a.role = BERTH_ROLE_ACRPULL;
    a.scope = sc;
    switch (sc.kind) {
    case BERTH_SCOPE_SERVER:
        if (!berth_roles_any_pull(&a, 1, "anyregistry")) abort();
        break;
    case BERTH_SCOPE_REGISTRY:
        if (berth_registry_name_check(sc.registry, NULL) != BERTH_OK) abort();
        if (!berth_assign_scope_covers(&sc, sc.registry, NULL) || !berth_assign_scope_covers(&sc, sc.registry, "r"))
            abort();
        break;
    case BERTH_SCOPE_REPO:
        if (berth_registry_name_check(sc.registry, NULL) != BERTH_OK) abort();
        if (berth_oci_name_check(sc.prefix, strlen(sc.prefix), NULL) != BERTH_OK) abort();
        if (!berth_assign_scope_covers(&sc, sc.registry, sc.prefix)) abort();
        if (berth_assign_scope_covers(&sc, sc.registry, NULL)) abort();
        if (berth_roles_data_actions(&a, 1, sc.registry, sc.prefix) != (BERTH_ACT_PULL | BERTH_ACT_METADATA_READ))
            abort();
        /* under the prefix yes, a sibling that only starts alike no */
        memcpy(probe, sc.prefix, strlen(sc.prefix) + 1);
        memcpy(probe + strlen(sc.prefix), "/z", 3);
        if (!berth_assign_scope_covers(&sc, sc.registry, probe)) abort();
        probe[strlen(sc.prefix)] = 'z';
        if (berth_assign_scope_covers(&sc, sc.registry, probe)) abort();
        break;
    default:
        abort();
    }
    free(text);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *s = (const char *)data;
    struct berth_err err = BERTH_ERR_INIT;
    enum berth_role role;

    fuzz_scopes(s, size);
    fuzz_actions(s, size);
    fuzz_rule(s, size);
    fuzz_assign_scope(s, size);
    if (size < 256 && !memchr(s, '\0', size)) {
        char *text = berth_xstrndup(s, size);
        if (berth_role_parse(text, &role, &err) == BERTH_OK) {
            if ((unsigned)role >= BERTH_ROLE_COUNT) abort();
        } else {
            check_failure(BERTH_EINVAL, &err);
        }
        berth_err_clear(&err);
        if (berth_registry_name_check(text, &err) != BERTH_OK) check_printable(err.msg);
        free(text);
    }
    return 0;
}
