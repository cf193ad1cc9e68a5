/*
 * scopemap.c - ACR scope maps: the rule text "repositories/<pattern>/<action>",
 * pattern matching, the union a set of rules grants, and the five system
 * scope maps every registry has.
 */
#include <stdio.h>
#include <string.h>
#include "auth.h"
#include "banned.h"

#define RULE_PREFIX "repositories/"
#define RULE_SHAPE "a rule is repositories/<pattern>/<action>"
#define RULE_ACTIONS "content/read, content/write, content/delete, metadata/read or metadata/write"
#define PATTERN_RULE                                                                        \
    "a pattern is a repository name, a repository name followed by '/*' (everything under it), or '*' alone"

struct rule_action {
    const char *text;
    unsigned bits;
};

static const struct rule_action rule_actions[] = {
    {"content/read", BERTH_ACT_PULL},
    {"content/write", BERTH_ACT_PUSH},
    {"content/delete", BERTH_ACT_DELETE},
    {"metadata/read", BERTH_ACT_METADATA_READ},
    {"metadata/write", BERTH_ACT_METADATA_WRITE},
};

#define NRULE_ACTIONS (sizeof(rule_actions) / sizeof(rule_actions[0]))

/* An action is echoed in a message only when it looks like one, so messages stay clean text. */
static int echoable(const char *s, size_t n)
{
    size_t i;
    if (n == 0 || n > 32) return 0;
    for (i = 0; i < n; i++)
        if (!((s[i] >= 'a' && s[i] <= 'z') || s[i] == '/')) return 0;
    return 1;
}

static enum berth_rc parse_pattern(const char *p, size_t n, char *out, struct berth_err *err)
{
    struct berth_err nerr = BERTH_ERR_INIT;
    size_t namelen = n;

    if (n == 0) return berth_err_set(err, BERTH_EINVAL, "invalid scope-map rule: the pattern is empty; " PATTERN_RULE);
    if (n == 1 && p[0] == '*') {
        out[0] = '*';
        out[1] = '\0';
        return BERTH_OK;
    }
    if (n >= 2 && p[n - 2] == '/' && p[n - 1] == '*') namelen = n - 2;
    if (memchr(p, '*', namelen))
        return berth_err_set(err, BERTH_EINVAL,
                             "invalid scope-map rule: a pattern holds one '*', as its whole last component; "
                             PATTERN_RULE);
    if (berth_oci_name_check(p, namelen, &nerr) != BERTH_OK)
        return berth_err_set(err, BERTH_EINVAL, "invalid scope-map rule: pattern: %s", berth_err_msg(&nerr));
    memcpy(out, p, n);
    out[n] = '\0';
    return BERTH_OK;
}

enum berth_rc berth_scopemap_rule_parse(const char *s, size_t len, struct berth_scopemap_rule *out,
                                        struct berth_err *err)
{
    struct berth_scopemap_rule r;
    const char *rest, *act;
    size_t rlen, i, slash2, slash1, alen;
    unsigned bits = 0;
    enum berth_rc rc;

    if (!s || len == 0) return berth_err_set(err, BERTH_EINVAL, "invalid scope-map rule: the rule is empty; " RULE_SHAPE);
    if (len < sizeof(RULE_PREFIX) - 1 || memcmp(s, RULE_PREFIX, sizeof(RULE_PREFIX) - 1) != 0)
        return berth_err_set(err, BERTH_EINVAL, "invalid scope-map rule: it must start with '" RULE_PREFIX "'; " RULE_SHAPE);
    rest = s + sizeof(RULE_PREFIX) - 1;
    rlen = len - (sizeof(RULE_PREFIX) - 1);

    /* the pattern may hold '/', so the action is taken from the end: the last two components */
    for (slash2 = rlen; slash2 > 0 && rest[slash2 - 1] != '/'; slash2--)
        ;
    slash1 = 0;
    if (slash2 > 0)
        for (slash1 = slash2 - 1; slash1 > 0 && rest[slash1 - 1] != '/'; slash1--)
            ;
    if (slash2 == 0 || slash1 == 0)
        return berth_err_set(err, BERTH_EINVAL,
                             "invalid scope-map rule: expected a pattern and an action; " RULE_SHAPE
                             " and the action is " RULE_ACTIONS);
    act = rest + slash1;
    alen = rlen - slash1;
    for (i = 0; i < NRULE_ACTIONS; i++)
        if (strlen(rule_actions[i].text) == alen && memcmp(rule_actions[i].text, act, alen) == 0)
            bits = rule_actions[i].bits;
    if (!bits) {
        if (echoable(act, alen))
            return berth_err_set(err, BERTH_EINVAL, "invalid scope-map rule: unknown action '%.*s'; actions are " RULE_ACTIONS,
                                 (int)alen, act);
        return berth_err_set(err, BERTH_EINVAL, "invalid scope-map rule: unknown action; actions are " RULE_ACTIONS);
    }

    memset(&r, 0, sizeof(r));
    rc = parse_pattern(rest, slash1 - 1, r.pattern, err);
    if (rc) return rc;
    r.actions = bits;
    *out = r;
    return BERTH_OK;
}

void berth_scopemap_rule_format(const struct berth_scopemap_rule *r, char *out, size_t outlen)
{
    size_t i;

    if (!out || outlen == 0) return;
    out[0] = '\0';
    /* a rule holds exactly one action; anything else has no text form and formats as "" */
    for (i = 0; i < NRULE_ACTIONS; i++)
        if (rule_actions[i].bits == r->actions) {
            snprintf(out, outlen, RULE_PREFIX "%s/%s", r->pattern, rule_actions[i].text);
            return;
        }
}

int berth_scopemap_pattern_match(const char *pattern, const char *repo)
{
    size_t plen;

    if (!pattern || !repo || !*pattern || !*repo) return 0;
    if (pattern[0] == '*' && pattern[1] == '\0') return 1;
    plen = strlen(pattern);
    /* a prefix pattern matches strictly below its name: the repository "team" needs a rule of its own */
    if (plen >= 2 && pattern[plen - 2] == '/' && pattern[plen - 1] == '*')
        return strncmp(repo, pattern, plen - 1) == 0 && repo[plen - 1] != '\0';
    return strcmp(pattern, repo) == 0;
}

unsigned berth_scopemap_grant(const struct berth_scopemap_rule *rules, size_t n, const char *repo)
{
    unsigned bits = 0;
    size_t i;

    for (i = 0; i < n; i++)
        if (berth_scopemap_pattern_match(rules[i].pattern, repo)) bits |= rules[i].actions;
    return bits;
}

static const char *const pull_rules[] = {
    "repositories/*/content/read",
    NULL,
};
static const char *const pull_metadata_read_rules[] = {
    "repositories/*/content/read",
    "repositories/*/metadata/read",
    NULL,
};
static const char *const push_rules[] = {
    "repositories/*/content/read",
    "repositories/*/content/write",
    NULL,
};
static const char *const push_metadata_write_rules[] = {
    "repositories/*/content/read",
    "repositories/*/content/write",
    "repositories/*/metadata/read",
    "repositories/*/metadata/write",
    NULL,
};
static const char *const admin_rules[] = {
    "repositories/*/content/read",
    "repositories/*/content/write",
    "repositories/*/content/delete",
    "repositories/*/metadata/read",
    "repositories/*/metadata/write",
    NULL,
};

static const struct berth_system_scopemap system_scopemaps[] = {
    {"_repositories_pull", "Can pull any repository of the registry", pull_rules},
    {"_repositories_pull_metadata_read", "Can pull any repository and read its tags and manifests",
     pull_metadata_read_rules},
    {"_repositories_push", "Can pull from and push to any repository of the registry", push_rules},
    {"_repositories_push_metadata_write",
     "Can pull from and push to any repository and read and change its metadata (untag, locks)",
     push_metadata_write_rules},
    {"_repositories_admin", "Can pull, push and delete in any repository and read and change its metadata",
     admin_rules},
    {NULL, NULL, NULL},
};

const struct berth_system_scopemap *berth_system_scopemaps(void)
{
    return system_scopemaps;
}
