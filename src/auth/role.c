/*
 * role.c - the built-in roles (ACR's legacy "rbac" mode), where a role
 * assignment applies (server, registry, repository prefix), what a set of
 * assignments grants, and registry resource names.
 */
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include "auth.h"
#include "banned.h"

#define REGISTRY_MIN 5
#define REGISTRY_MAX 50
#define ASSIGN_SHAPE "a scope is '/', '/registries/<registry>' or '/registries/<registry>/repositories/<prefix>'"
#define REGISTRIES "/registries/"
#define REPOSITORIES "/repositories/"

static const char *const role_names[] = {
#define ROLE_NAME(name, text) text,
    BERTH_ROLE_MAP(ROLE_NAME)
#undef ROLE_NAME
};

struct role_rights {
    unsigned data;
    unsigned mgmt;
};

/*
 * Data actions follow ACR's built-in role table for registries in "rbac"
 * mode: pulling also lists tags and the catalog, so every role that pulls
 * reads metadata too. AcrDelete is delete only: its ACR definition is the
 * single action registries/artifacts/delete, with no pull and no catalog.
 */
static const struct role_rights role_rights[] = {
    [BERTH_ROLE_OWNER] = {BERTH_ACT_ALL, BERTH_MGMT_READ | BERTH_MGMT_WRITE | BERTH_MGMT_ASSIGN},
    [BERTH_ROLE_CONTRIBUTOR] = {BERTH_ACT_ALL, BERTH_MGMT_READ | BERTH_MGMT_WRITE},
    [BERTH_ROLE_READER] = {BERTH_ACT_PULL | BERTH_ACT_METADATA_READ, BERTH_MGMT_READ},
    [BERTH_ROLE_ACRPUSH] = {BERTH_ACT_PULL | BERTH_ACT_PUSH | BERTH_ACT_METADATA_READ | BERTH_ACT_METADATA_WRITE, 0},
    [BERTH_ROLE_ACRPULL] = {BERTH_ACT_PULL | BERTH_ACT_METADATA_READ, 0},
    [BERTH_ROLE_ACRDELETE] = {BERTH_ACT_DELETE, 0},
};

_Static_assert(sizeof(role_rights) / sizeof(role_rights[0]) == BERTH_ROLE_COUNT, "one rights row per role");
_Static_assert(sizeof(role_names) / sizeof(role_names[0]) == BERTH_ROLE_COUNT, "one name per role");

static int role_valid(enum berth_role r)
{
    return (unsigned)r < BERTH_ROLE_COUNT;
}

/* Echoes a client's word in a message only when it is short printable text. */
static int echoable(const char *s)
{
    size_t i;
    for (i = 0; s[i]; i++)
        if (i >= 40 || (unsigned char)s[i] < 0x20 || (unsigned char)s[i] > 0x7e || s[i] == '\'' || s[i] == '\\')
            return 0;
    return i > 0;
}

enum berth_rc berth_role_parse(const char *s, enum berth_role *out, struct berth_err *err)
{
    char valid[128];
    size_t i, used = 0;

    for (i = 0; s && i < BERTH_ROLE_COUNT; i++)
        if (strcasecmp(s, role_names[i]) == 0) {
            *out = (enum berth_role)i;
            return BERTH_OK;
        }
    valid[0] = '\0';
    for (i = 0; i < BERTH_ROLE_COUNT && used < sizeof(valid); i++)
        used += (size_t)snprintf(valid + used, sizeof(valid) - used, "%s%s", i ? ", " : "", role_names[i]);
    if (s && echoable(s))
        return berth_err_set(err, BERTH_EINVAL, "unknown role '%s'; valid roles are %s", s, valid);
    return berth_err_set(err, BERTH_EINVAL, "unknown role; valid roles are %s", valid);
}

const char *berth_role_name(enum berth_role r)
{
    return role_valid(r) ? role_names[r] : "unknown";
}

unsigned berth_role_data_actions(enum berth_role r)
{
    return role_valid(r) ? role_rights[r].data : 0;
}

unsigned berth_role_mgmt_rights(enum berth_role r)
{
    return role_valid(r) ? role_rights[r].mgmt : 0;
}

/*
 * The checks run in this order so the hint is always right: a name with a
 * foreign character cannot be fixed by lowercasing, and the lowercased name
 * offered in the last message is then certain to be valid.
 */
static enum berth_rc registry_check(const char *s, size_t n, struct berth_err *err)
{
    char lower[REGISTRY_MAX + 1];
    int upper = 0;
    size_t i;

    for (i = 0; i < n; i++) {
        char c = s[i];
        if ((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9')) continue;
        if (c >= 'A' && c <= 'Z') {
            upper = 1;
            continue;
        }
        return berth_err_set(err, BERTH_EINVAL,
                             "invalid registry name: a registry name is %d to %d lowercase letters and digits "
                             "(byte %zu is not one)",
                             REGISTRY_MIN, REGISTRY_MAX, i);
    }
    if (n < REGISTRY_MIN || n > REGISTRY_MAX)
        return berth_err_set(err, BERTH_EINVAL,
                             "invalid registry name: a registry name is %d to %d characters long (this one has %zu)",
                             REGISTRY_MIN, REGISTRY_MAX, n);
    if (upper) {
        for (i = 0; i < n; i++)
            lower[i] = (char)(s[i] >= 'A' && s[i] <= 'Z' ? s[i] - 'A' + 'a' : s[i]);
        lower[n] = '\0';
        return berth_err_set(err, BERTH_EINVAL, "registry names are lowercase: use '%s'", lower);
    }
    return BERTH_OK;
}

enum berth_rc berth_registry_name_check(const char *name, struct berth_err *err)
{
    return registry_check(name ? name : "", name ? strlen(name) : 0, err);
}

enum berth_rc berth_assign_scope_parse(const char *s, struct berth_assign_scope *out, struct berth_err *err)
{
    struct berth_err nerr = BERTH_ERR_INIT;
    struct berth_assign_scope sc;
    const char *reg, *slash, *prefix;
    size_t rlen, plen;
    enum berth_rc rc;

    memset(&sc, 0, sizeof(sc));
    if (!s || !*s) return berth_err_set(err, BERTH_EINVAL, "invalid scope: the scope is empty; " ASSIGN_SHAPE);
    if (strcmp(s, "/") == 0) {
        sc.kind = BERTH_SCOPE_SERVER;
        goto done;
    }
    if (strncmp(s, REGISTRIES, sizeof(REGISTRIES) - 1) != 0)
        return berth_err_set(err, BERTH_EINVAL, "invalid scope: it must be '/' or start with '" REGISTRIES "'; "
                             ASSIGN_SHAPE);
    reg = s + sizeof(REGISTRIES) - 1;
    slash = strchr(reg, '/');
    rlen = slash ? (size_t)(slash - reg) : strlen(reg);
    rc = registry_check(reg, rlen, err);
    if (rc) return rc;
    BERTH_ASSERT(rlen < sizeof(sc.registry));
    memcpy(sc.registry, reg, rlen);
    sc.registry[rlen] = '\0';
    sc.kind = BERTH_SCOPE_REGISTRY;
    if (!slash) goto done;

    if (strncmp(slash, REPOSITORIES, sizeof(REPOSITORIES) - 1) != 0)
        return berth_err_set(err, BERTH_EINVAL,
                             "invalid scope: expected '" REPOSITORIES "<prefix>' after the registry; " ASSIGN_SHAPE);
    prefix = slash + sizeof(REPOSITORIES) - 1;
    plen = strlen(prefix);
    /* "repositories/ *" means every repository: that is the registry scope itself */
    if (plen == 1 && prefix[0] == '*') goto done;
    if (plen >= 2 && prefix[plen - 2] == '/' && prefix[plen - 1] == '*') plen -= 2;
    if (berth_oci_name_check(prefix, plen, &nerr) != BERTH_OK)
        return berth_err_set(err, BERTH_EINVAL, "invalid scope: repository prefix: %s", berth_err_msg(&nerr));
    BERTH_ASSERT(plen < sizeof(sc.prefix));
    memcpy(sc.prefix, prefix, plen);
    sc.prefix[plen] = '\0';
    sc.kind = BERTH_SCOPE_REPO;
done:
    *out = sc;
    return BERTH_OK;
}

void berth_assign_scope_format(const struct berth_assign_scope *s, char *out, size_t outlen)
{
    if (!out || outlen == 0) return;
    out[0] = '\0';
    switch (s->kind) {
    case BERTH_SCOPE_SERVER:
        snprintf(out, outlen, "/");
        break;
    case BERTH_SCOPE_REGISTRY:
        snprintf(out, outlen, REGISTRIES "%s", s->registry);
        break;
    case BERTH_SCOPE_REPO:
        snprintf(out, outlen, REGISTRIES "%s" REPOSITORIES "%s", s->registry, s->prefix);
        break;
    }
}

/* prefix covers itself and what lies under prefix/, never a sibling that merely starts alike. */
static int prefix_covers(const char *prefix, const char *repo)
{
    size_t n = strlen(prefix);
    if (n == 0 || strncmp(repo, prefix, n) != 0) return 0;
    return repo[n] == '\0' || repo[n] == '/';
}

int berth_assign_scope_covers(const struct berth_assign_scope *s, const char *registry, const char *repo)
{
    switch (s->kind) {
    case BERTH_SCOPE_SERVER:
        return 1;
    case BERTH_SCOPE_REGISTRY:
        return registry && strcmp(s->registry, registry) == 0;
    case BERTH_SCOPE_REPO:
        return registry && repo && strcmp(s->registry, registry) == 0 && prefix_covers(s->prefix, repo);
    }
    return 0;
}

unsigned berth_roles_data_actions(const struct berth_assignment *a, size_t n, const char *registry, const char *repo)
{
    unsigned bits = 0;
    size_t i;

    for (i = 0; i < n; i++)
        if (berth_assign_scope_covers(&a[i].scope, registry, repo)) bits |= berth_role_data_actions(a[i].role);
    return bits;
}

unsigned berth_roles_mgmt_rights(const struct berth_assignment *a, size_t n, const char *registry)
{
    unsigned bits = 0;
    size_t i;

    /* a repository-scoped assignment never covers the registry itself, so it carries no management right */
    for (i = 0; i < n; i++)
        if (berth_assign_scope_covers(&a[i].scope, registry, NULL)) bits |= berth_role_mgmt_rights(a[i].role);
    return bits;
}

int berth_roles_any_pull(const struct berth_assignment *a, size_t n, const char *registry)
{
    size_t i;

    for (i = 0; i < n; i++) {
        if (!(berth_role_data_actions(a[i].role) & BERTH_ACT_PULL)) continue;
        if (a[i].scope.kind == BERTH_SCOPE_SERVER) return 1;
        if (registry && (a[i].scope.kind == BERTH_SCOPE_REGISTRY || a[i].scope.kind == BERTH_SCOPE_REPO) &&
            strcmp(a[i].scope.registry, registry) == 0)
            return 1;
    }
    return 0;
}
