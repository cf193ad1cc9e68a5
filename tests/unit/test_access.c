/*
 * test_access.c - the access service's decisions over a real data folder
 * (berth_server_open on a temp dir): roles on a registry and on a repository
 * prefix, scope maps, anonymous pull, the admin user, service principal
 * secrets, network rules, and the caller's registry looked up once. The .c
 * is included, as h2o's t/00unit does, to reach its statics.
 */
#include "../../src/service/access.c"
#include <sys/stat.h>
#include "config.h"
#include "log.h"
#include "wiring.h"
#include "test.h"

#define ASSERT_OK(expr) ASSERT_RC((expr), BERTH_OK)

struct fx {
    struct berth_config cfg;
    struct berth_server *srv;
    struct berth_meta *m;
    struct authz *az;
    struct berth_meta_registry reg; /* "default" */
};

static void fx_open(struct fx *f, const char *mgmt_only)
{
    struct berth_err err = BERTH_ERR_INIT;

    memset(f, 0, sizeof(*f));
    berth_log_threshold = BERTH_LOG_WARN;
    berth_config_init(&f->cfg);
    ASSERT_OK(berth_config_set(&f->cfg, "data", berth_test_tmpdir(), &err));
    if (mgmt_only) ASSERT_OK(berth_config_set(&f->cfg, "management-networks-only", mgmt_only, &err));
    ASSERT_OK(berth_server_open(&f->cfg, &f->srv, &err));
    f->m = f->srv->meta;
    f->az = f->srv->az;
    ASSERT_OK(f->m->reg->registry_get(f->m, "default", 0, &f->reg, &err));
}

static void fx_close(struct fx *f)
{
    berth_server_close(f->srv);
    berth_config_release(&f->cfg);
}

/* A second registry, returned in *out. */
static void add_registry(struct fx *f, const char *name, struct berth_meta_registry *out)
{
    struct berth_err err = BERTH_ERR_INIT;
    memset(out, 0, sizeof(*out));
    snprintf(out->name, sizeof(out->name), "%s", name);
    ASSERT_OK(f->m->reg->registry_create(f->m, out, &err));
}

/* A directory user with password pass; its principal in *p (as a login would make it). */
static void add_user(struct fx *f, const char *name, const char *pass, struct principal *p)
{
    struct berth_err err = BERTH_ERR_INIT;
    struct berth_meta_user u;

    memset(&u, 0, sizeof(u));
    snprintf(u.name, sizeof(u.name), "%s", name);
    ASSERT_OK(berth_secret_hash(pass, u.hash, &err));
    u.password_set_ms = berth_now_ms();
    ASSERT_OK(f->m->dir->user_create(f->m, &u, &err));
    memset(p, 0, sizeof(*p));
    p->kind = PK_USER;
    snprintf(p->id, sizeof(p->id), "%s", u.id);
    snprintf(p->name, sizeof(p->name), "%s", u.name);
    p->stamp = u.password_set_ms;
}

static void assign(struct fx *f, const struct principal *p, const char *role, const char *scope)
{
    struct berth_err err = BERTH_ERR_INIT;
    struct berth_meta_assignment a;

    memset(&a, 0, sizeof(a));
    snprintf(a.principal_type, sizeof(a.principal_type), "%s", p->kind == PK_SP ? "sp" : "user");
    snprintf(a.principal_id, sizeof(a.principal_id), "%.36s", p->id);
    snprintf(a.role, sizeof(a.role), "%s", role);
    snprintf(a.scope, sizeof(a.scope), "%s", scope);
    ASSERT_OK(f->m->dir->assignment_create(f->m, &a, &err));
}

/* A repository token of the default registry with scope map sm and password pass. */
static void add_token(struct fx *f, const char *name, const char *sm, const char *pass)
{
    struct berth_err err = BERTH_ERR_INIT;
    struct berth_meta_token t;

    memset(&t, 0, sizeof(t));
    t.reg = f->reg.id;
    snprintf(t.name, sizeof(t.name), "%s", name);
    snprintf(t.scopemap, sizeof(t.scopemap), "%s", sm);
    t.enabled = 1;
    ASSERT_OK(berth_secret_hash(pass, t.hash[0], &err));
    t.set_ms[0] = berth_now_ms();
    ASSERT_OK(f->m->dir->token_put(f->m, &t, &err));
}

static void set_registry(struct fx *f, int admin_enabled, int anonymous_pull, const char *admin_pass)
{
    struct berth_err err = BERTH_ERR_INIT;
    unsigned what = BERTH_META_REG_SETTINGS;

    f->reg.admin_enabled = admin_enabled;
    f->reg.anonymous_pull = anonymous_pull;
    if (admin_pass) {
        ASSERT_OK(berth_secret_hash(admin_pass, f->reg.admin_hash[0], &err));
        f->reg.admin_set_ms[0] = berth_now_ms();
        what |= BERTH_META_REG_ADMIN1;
    }
    ASSERT_OK(f->m->reg->registry_update(f->m, &f->reg, what, &err));
}

/* A caller from ip with the Host and Authorization headers given (either may be NULL). */
static void caller_init(struct berth_caller *c, const char *ip, const char *host, const char *auth)
{
    memset(c, 0, sizeof(*c));
    snprintf(c->ip, sizeof(c->ip), "%s", ip);
    c->addr_ok = berth_netaddr_parse(ip, &c->addr, NULL) == BERTH_OK;
    berth_caller_headers(c, host, auth);
}

/* "Basic base64(user:pass)", malloc'd. */
static char *basic(const char *user, const char *pass)
{
    struct berth_buf raw = BERTH_BUF_INIT(0), enc = BERTH_BUF_INIT(0);
    char *out;

    berth_buf_printf(&raw, "%s:%s", user, pass);
    berth_b64_encode(raw.p, raw.len, &enc);
    out = berth_xasprintf("Basic %s", berth_buf_str(&enc));
    berth_buf_release(&raw);
    berth_buf_release(&enc);
    return out;
}

/* authz_authorize of caller c for actions on repo of the default registry. */
static enum berth_rc check(struct fx *f, struct berth_caller *c, const char *repo, const char *actions)
{
    struct berth_err err = BERTH_ERR_INIT;
    struct berth_access need = {BERTH_ACCESS_REPOSITORY, repo, actions, 0};
    return authz_authorize(f->az, c, &need, &err);
}

TEST(access_role_on_registry_grants_every_repository_of_it_only)
{
    struct fx f;
    struct berth_meta_registry other;
    struct principal p;

    fx_open(&f, NULL);
    add_registry(&f, "other", &other);
    add_user(&f, "alice", "alice-password-1", &p);
    assign(&f, &p, "AcrPull", "/registries/default");
    ASSERT_EQ_INT(authz_grant(f.az, &f.reg, &p, "team/app") & BERTH_ACT_PULL, BERTH_ACT_PULL);
    ASSERT_EQ_INT(authz_grant(f.az, &f.reg, &p, "team/app") & BERTH_ACT_PUSH, 0);
    ASSERT_EQ_INT(authz_grant(f.az, &other, &p, "team/app"), 0);
    ASSERT_TRUE(authz_catalog(f.az, &f.reg, &p));
    ASSERT_TRUE(!authz_catalog(f.az, &other, &p));
    fx_close(&f);
}

TEST(access_role_on_repository_prefix_covers_it_and_below_not_siblings)
{
    struct fx f;
    struct principal p;

    fx_open(&f, NULL);
    add_user(&f, "bob", "bob-password-1", &p);
    assign(&f, &p, "AcrPush", "/registries/default/repositories/team");
    ASSERT_EQ_INT(authz_grant(f.az, &f.reg, &p, "team") & BERTH_ACT_PUSH, BERTH_ACT_PUSH);
    ASSERT_EQ_INT(authz_grant(f.az, &f.reg, &p, "team/app") & BERTH_ACT_PUSH, BERTH_ACT_PUSH);
    ASSERT_EQ_INT(authz_grant(f.az, &f.reg, &p, "teamster"), 0);
    ASSERT_EQ_INT(authz_grant(f.az, &f.reg, &p, "other/app"), 0);
    fx_close(&f);
}

TEST(access_owner_on_server_has_every_right_everywhere)
{
    struct fx f;
    struct principal p;

    fx_open(&f, NULL);
    add_user(&f, "root", "root-password-1", &p);
    assign(&f, &p, "Owner", "/");
    ASSERT_EQ_INT(authz_grant(f.az, &f.reg, &p, "any/repo"), BERTH_ACT_ALL);
    ASSERT_EQ_INT(authz_mgmt_rights(f.az, &p, NULL), BERTH_MGMT_READ | BERTH_MGMT_WRITE | BERTH_MGMT_ASSIGN);
    ASSERT_EQ_INT(authz_mgmt_rights(f.az, &p, "default") & BERTH_MGMT_WRITE, BERTH_MGMT_WRITE);
    fx_close(&f);
}

TEST(access_reader_on_a_registry_reads_it_not_the_server)
{
    struct fx f;
    struct principal p;

    fx_open(&f, NULL);
    add_user(&f, "carol", "carol-password-1", &p);
    assign(&f, &p, "Reader", "/registries/default");
    ASSERT_EQ_INT(authz_mgmt_rights(f.az, &p, "default") & BERTH_MGMT_READ, BERTH_MGMT_READ);
    ASSERT_EQ_INT(authz_mgmt_rights(f.az, &p, "default") & BERTH_MGMT_WRITE, 0);
    ASSERT_EQ_INT(authz_mgmt_rights(f.az, &p, NULL), 0);
    ASSERT_EQ_INT(authz_mgmt_rights_anywhere(f.az, &p) & BERTH_MGMT_READ, BERTH_MGMT_READ);
    fx_close(&f);
}

TEST(access_system_scope_map_pull_grants_pull_only)
{
    struct fx f;
    struct principal p;

    fx_open(&f, NULL);
    add_token(&f, "ci", "_repositories_pull", "unused");
    memset(&p, 0, sizeof(p));
    p.kind = PK_TOKEN;
    snprintf(p.id, sizeof(p.id), "ci");
    ASSERT_EQ_INT(authz_grant(f.az, &f.reg, &p, "x/y"), BERTH_ACT_PULL);
    fx_close(&f);
}

TEST(access_stored_scope_map_grants_what_its_rules_match)
{
    struct fx f;
    struct berth_err err = BERTH_ERR_INIT;
    struct berth_meta_scopemap sm;
    char r1[] = "repositories/app/content/read", r2[] = "repositories/app/content/write";
    char *rules[] = {r1, r2};
    struct principal p;

    fx_open(&f, NULL);
    memset(&sm, 0, sizeof(sm));
    sm.reg = f.reg.id;
    snprintf(sm.name, sizeof(sm.name), "app-push");
    sm.rules = rules;
    sm.nrules = 2;
    ASSERT_OK(f.m->dir->scopemap_put(f.m, &sm, &err));
    add_token(&f, "deploy", "app-push", "unused");
    memset(&p, 0, sizeof(p));
    p.kind = PK_TOKEN;
    snprintf(p.id, sizeof(p.id), "deploy");
    ASSERT_EQ_INT(authz_grant(f.az, &f.reg, &p, "app"), BERTH_ACT_PULL | BERTH_ACT_PUSH);
    ASSERT_EQ_INT(authz_grant(f.az, &f.reg, &p, "other"), 0);
    fx_close(&f);
}

TEST(access_anonymous_pull_on_lets_anyone_pull_not_push)
{
    struct fx f;
    struct berth_caller c;

    fx_open(&f, NULL);
    set_registry(&f, 0, 1, NULL);
    caller_init(&c, "127.0.0.1", "localhost:5000", NULL);
    ASSERT_OK(check(&f, &c, "pub/app", "pull"));
    ASSERT_EQ_INT(c.who.kind, PK_ANON);
    ASSERT_EQ_STR(c.principal, "anonymous:-");
    berth_caller_release(&c);
    caller_init(&c, "127.0.0.1", "localhost:5000", NULL);
    ASSERT_RC(check(&f, &c, "pub/app", "push"), BERTH_EUNAUTHORIZED);
    ASSERT_EQ_INT(c.reason, BERTH_AUTH_NO_CREDENTIALS);
    ASSERT_TRUE(c.challenge && strstr(c.challenge, "scope=\"repository:pub/app:pull,push\""));
    berth_caller_release(&c);
    fx_close(&f);
}

TEST(access_anonymous_pull_off_asks_for_credentials)
{
    struct fx f;
    struct berth_caller c;

    fx_open(&f, NULL);
    caller_init(&c, "127.0.0.1", "localhost", NULL);
    ASSERT_RC(check(&f, &c, "pub/app", "pull"), BERTH_EUNAUTHORIZED);
    ASSERT_EQ_INT(c.reason, BERTH_AUTH_NO_CREDENTIALS);
    ASSERT_TRUE(c.challenge && !strncmp(c.challenge, "Bearer realm=\"http://localhost/oauth2/token\"", 44));
    ASSERT_TRUE(!strstr(c.challenge, "error="));
    berth_caller_release(&c);
    fx_close(&f);
}

TEST(access_admin_user_disabled_is_named_once_the_password_is_right)
{
    struct fx f;
    struct berth_err err = BERTH_ERR_INIT;
    struct berth_caller c;
    struct principal p;
    enum berth_auth_reason why = BERTH_AUTH_OK;

    fx_open(&f, NULL);
    set_registry(&f, 0, 0, "admin-secret-1");
    caller_init(&c, "127.0.0.1", "localhost", NULL);
    ASSERT_RC(authz_password(f.az, &c, &f.reg, "default", "admin-secret-1", &p, &why, &err), BERTH_EUNAUTHORIZED);
    ASSERT_EQ_INT(why, BERTH_AUTH_ADMIN_DISABLED);
    ASSERT_EQ_INT(p.kind, PK_NONE);
    ASSERT_RC(authz_password(f.az, &c, &f.reg, "default", "wrong", &p, &why, &err), BERTH_EUNAUTHORIZED);
    ASSERT_EQ_INT(why, BERTH_AUTH_BAD_SECRET);
    berth_caller_release(&c);
    fx_close(&f);
}

TEST(access_admin_user_enabled_may_do_everything)
{
    struct fx f;
    struct berth_caller c;
    char *auth;

    fx_open(&f, NULL);
    set_registry(&f, 1, 0, "admin-secret-1");
    auth = basic("default", "admin-secret-1");
    caller_init(&c, "127.0.0.1", "localhost", auth);
    ASSERT_EQ_INT(c.cred, BERTH_CRED_BASIC);
    ASSERT_OK(check(&f, &c, "any/repo", "delete"));
    ASSERT_EQ_INT(c.who.kind, PK_ADMIN);
    ASSERT_EQ_STR(c.principal, "admin:default");
    ASSERT_EQ_STR(c.login_kind, "admin");
    berth_caller_release(&c);
    free(auth);
    fx_close(&f);
}

TEST(access_expired_sp_secret_is_refused_with_its_reason)
{
    struct fx f;
    struct berth_err err = BERTH_ERR_INIT;
    struct berth_caller c;
    struct berth_meta_sp sp;
    struct berth_meta_sp_secret s;
    struct principal p;
    enum berth_auth_reason why = BERTH_AUTH_OK;

    fx_open(&f, NULL);
    memset(&sp, 0, sizeof(sp));
    snprintf(sp.display_name, sizeof(sp.display_name), "ci");
    ASSERT_OK(f.m->dir->sp_create(f.m, &sp, &err));
    memset(&s, 0, sizeof(s));
    ASSERT_OK(berth_secret_hash("sp-secret-old", s.hash, &err));
    s.expires_ms = berth_now_ms() - 1000;
    ASSERT_OK(f.m->dir->sp_secret_add(f.m, sp.app_id, &s, &err));
    caller_init(&c, "127.0.0.1", "localhost", NULL);
    ASSERT_RC(authz_password(f.az, &c, NULL, sp.app_id, "sp-secret-old", &p, &why, &err), BERTH_EUNAUTHORIZED);
    ASSERT_EQ_INT(why, BERTH_AUTH_SECRET_EXPIRED);
    ASSERT_TRUE(strstr(err.msg, "expired") != NULL);
    ASSERT_RC(authz_password(f.az, &c, NULL, sp.app_id, "not-it", &p, &why, &err), BERTH_EUNAUTHORIZED);
    ASSERT_EQ_INT(why, BERTH_AUTH_BAD_SECRET);
    berth_caller_release(&c);
    fx_close(&f);
}

TEST(access_wrong_user_password_reads_like_an_unknown_name)
{
    struct fx f;
    struct berth_err e1 = BERTH_ERR_INIT, e2 = BERTH_ERR_INIT;
    struct berth_caller c;
    struct principal p, q;
    enum berth_auth_reason why = BERTH_AUTH_OK;

    fx_open(&f, NULL);
    add_user(&f, "dave", "dave-password-1", &q);
    caller_init(&c, "127.0.0.1", "localhost", NULL);
    ASSERT_RC(authz_password(f.az, &c, &f.reg, "dave", "nope", &p, &why, &e1), BERTH_EUNAUTHORIZED);
    ASSERT_EQ_INT(why, BERTH_AUTH_BAD_SECRET);
    ASSERT_RC(authz_password(f.az, &c, &f.reg, "nobody", "nope", &p, &why, &e2), BERTH_EUNAUTHORIZED);
    ASSERT_EQ_INT(why, BERTH_AUTH_UNKNOWN_PRINCIPAL);
    ASSERT_EQ_STR(e1.msg, e2.msg);
    ASSERT_OK(authz_password(f.az, &c, &f.reg, "dave", "dave-password-1", &p, &why, &e1));
    ASSERT_EQ_STR(p.id, q.id);
    berth_caller_release(&c);
    fx_close(&f);
}

TEST(access_network_rule_deny_refuses_an_address_outside_the_rules)
{
    struct fx f;
    struct berth_err err = BERTH_ERR_INIT;
    struct berth_meta_network net;
    struct berth_caller c;

    fx_open(&f, NULL);
    memset(&net, 0, sizeof(net));
    net.public_network = 1;
    net.default_allow = 0;
    net.nrules = 1;
    snprintf(net.rules[0], sizeof(net.rules[0]), "10.0.0.0/8");
    ASSERT_OK(f.m->reg->network_put(f.m, f.reg.id, &net, &err));
    caller_init(&c, "192.168.1.7", "localhost", NULL);
    ASSERT_OK(authz_registry_of(f.az, &c, NULL, &err));
    ASSERT_RC(authz_network(f.az, &c, &err), BERTH_EDENIED);
    ASSERT_EQ_INT(c.reason, BERTH_AUTH_NETWORK_IP_DENIED);
    ASSERT_TRUE(strstr(err.msg, "192.168.1.7") != NULL);
    ASSERT_EQ_U64(atomic_load(&f.srv->metrics.network_refusals), 1);
    berth_caller_release(&c);
    caller_init(&c, "10.1.2.3", "localhost", NULL);
    ASSERT_OK(authz_registry_of(f.az, &c, NULL, &err));
    ASSERT_OK(authz_network(f.az, &c, &err));
    berth_caller_release(&c);
    fx_close(&f);
}

TEST(access_public_network_disabled_refuses_everyone)
{
    struct fx f;
    struct berth_err err = BERTH_ERR_INIT;
    struct berth_meta_network net;
    struct berth_caller c;

    fx_open(&f, NULL);
    memset(&net, 0, sizeof(net));
    net.public_network = 0;
    net.default_allow = 1;
    ASSERT_OK(f.m->reg->network_put(f.m, f.reg.id, &net, &err));
    caller_init(&c, "127.0.0.1", "localhost", NULL);
    ASSERT_OK(authz_registry_of(f.az, &c, NULL, &err));
    ASSERT_RC(authz_network(f.az, &c, &err), BERTH_EDENIED);
    ASSERT_EQ_INT(c.reason, BERTH_AUTH_NETWORK_PUBLIC_DISABLED);
    berth_caller_release(&c);
    fx_close(&f);
}

TEST(access_management_networks_only_refuses_other_addresses)
{
    struct fx f;
    struct berth_err err = BERTH_ERR_INIT;
    struct berth_caller c;

    fx_open(&f, "true");
    caller_init(&c, "10.9.9.9", NULL, NULL);
    ASSERT_RC(authz_mgmt_network(f.az, &c, &err), BERTH_EDENIED);
    ASSERT_EQ_INT(c.reason, BERTH_AUTH_NETWORK_IP_DENIED);
    caller_init(&c, "127.0.0.1", NULL, NULL);
    ASSERT_OK(authz_mgmt_network(f.az, &c, &err));
    caller_init(&c, "-", NULL, NULL); /* an address that does not parse is outside */
    ASSERT_RC(authz_mgmt_network(f.az, &c, &err), BERTH_EDENIED);
    fx_close(&f);
}

TEST(access_registry_of_reads_the_host_once)
{
    struct fx f;
    struct berth_err err = BERTH_ERR_INIT;
    struct berth_meta_registry other, got;
    struct berth_caller c;

    fx_open(&f, NULL);
    add_registry(&f, "other", &other);
    caller_init(&c, "127.0.0.1", "OTHER.localhost:5000", NULL);
    ASSERT_OK(authz_registry_of(f.az, &c, &got, &err));
    ASSERT_EQ_STR(got.name, "other");
    ASSERT_TRUE(c.has_reg);
    c.host = "default.localhost"; /* looked up once: the caller keeps its registry */
    ASSERT_OK(authz_registry_of(f.az, &c, &got, &err));
    ASSERT_EQ_STR(got.name, "other");
    caller_init(&c, "127.0.0.1", "nope.localhost", NULL);
    ASSERT_RC(authz_registry_of(f.az, &c, NULL, &err), BERTH_ENAMEUNKNOWN);
    ASSERT_EQ_INT(c.reason, BERTH_AUTH_UNKNOWN_REGISTRY);
    caller_init(&c, "127.0.0.1", "example.org", NULL); /* another domain: the default registry */
    ASSERT_OK(authz_registry_of(f.az, &c, &got, &err));
    ASSERT_EQ_STR(got.name, "default");
    fx_close(&f);
}

TEST(access_bearer_token_allows_only_what_its_claim_names)
{
    struct fx f;
    struct berth_err err = BERTH_ERR_INIT;
    struct berth_buf tok = BERTH_BUF_INIT(0);
    struct berth_scope scope;
    struct berth_caller c;
    struct principal p;
    int64_t exp = 0;
    char *auth;

    fx_open(&f, NULL);
    add_user(&f, "erin", "erin-password-1", &p);
    assign(&f, &p, "AcrPush", "/registries/default");
    memset(&scope, 0, sizeof(scope));
    snprintf(scope.type, sizeof(scope.type), "repository");
    snprintf(scope.name, sizeof(scope.name), "app");
    scope.actions = BERTH_ACT_PULL;
    ASSERT_OK(authz_issue(f.az, &f.reg, &p, "access_token", &scope, 1, &tok, &exp, NULL, &err));
    ASSERT_EQ_U64(atomic_load(&f.srv->metrics.tokens_issued[BERTH_GRANT_access_token]), 1);
    auth = berth_xasprintf("Bearer %s", berth_buf_str(&tok));
    caller_init(&c, "127.0.0.1", "localhost", auth);
    ASSERT_OK(check(&f, &c, "app", "pull"));
    ASSERT_TRUE(authz_may(f.az, &c, "app", BERTH_ACT_PULL));
    ASSERT_TRUE(!authz_may(f.az, &c, "app", BERTH_ACT_PUSH)); /* the role allows it; the claim does not */
    ASSERT_TRUE(!authz_may(f.az, &c, "other", BERTH_ACT_PULL));
    berth_caller_release(&c);
    caller_init(&c, "127.0.0.1", "localhost", auth);
    ASSERT_RC(check(&f, &c, "app", "push"), BERTH_EUNAUTHORIZED);
    ASSERT_EQ_INT(c.reason, BERTH_AUTH_INSUFFICIENT_SCOPE);
    ASSERT_TRUE(c.challenge && strstr(c.challenge, "error=\"insufficient_scope\""));
    berth_caller_release(&c);
    free(auth);
    berth_buf_release(&tok);
    fx_close(&f);
}

TEST(access_tag_list_needs_pull_or_metadata_read)
{
    struct fx f;
    struct berth_err err = BERTH_ERR_INIT;
    struct berth_access tags = {BERTH_ACCESS_REPOSITORY, "app", "pull", 1};
    int either = 0;

    fx_open(&f, NULL);
    ASSERT_EQ_INT(needed_bits(&tags, &either), BERTH_ACT_PULL | BERTH_ACT_METADATA_READ);
    ASSERT_TRUE(either);
    ASSERT_TRUE(covers(BERTH_ACT_METADATA_READ, BERTH_ACT_PULL | BERTH_ACT_METADATA_READ, either));
    tags.any_action = 0;
    ASSERT_EQ_INT(needed_bits(&tags, &either), BERTH_ACT_PULL);
    ASSERT_TRUE(!either);
    ASSERT_TRUE(!covers(BERTH_ACT_METADATA_READ, BERTH_ACT_PULL, either));
    (void)err;
    fx_close(&f);
}

TEST(access_caller_credential_kind_comes_from_the_header)
{
    struct berth_caller c;

    caller_init(&c, "127.0.0.1", NULL, NULL);
    ASSERT_EQ_INT(c.cred, BERTH_CRED_NONE);
    caller_init(&c, "127.0.0.1", NULL, "");
    ASSERT_EQ_INT(c.cred, BERTH_CRED_NONE);
    caller_init(&c, "127.0.0.1", NULL, "basic abc");
    ASSERT_EQ_INT(c.cred, BERTH_CRED_BASIC);
    caller_init(&c, "127.0.0.1", NULL, "Bearer x.y.z");
    ASSERT_EQ_INT(c.cred, BERTH_CRED_BEARER);
    caller_init(&c, "127.0.0.1", NULL, "Digest x");
    ASSERT_EQ_INT(c.cred, BERTH_CRED_OTHER);
    ASSERT_EQ_STR(berth_grant_name(BERTH_GRANT_refresh_token), "refresh_token");
    ASSERT_EQ_STR(berth_grant_name(BERTH_GRANT_COUNT), "other");
}

TEST(access_catalog_claim_parses_and_matches_by_kind)
{
    const char *claim = "[{\"type\":\"registry\",\"name\":\"catalog\",\"actions\":[\"*\"]},"
                        "{\"type\":\"repository\",\"name\":\"app\",\"actions\":[\"pull\",\"push\"]}]";

    ASSERT_TRUE(authz_claim_bits(claim, NULL) != 0);
    ASSERT_EQ_INT(authz_claim_bits(claim, "app"), BERTH_ACT_PULL | BERTH_ACT_PUSH);
    ASSERT_EQ_INT(authz_claim_bits(claim, "other"), 0);
    ASSERT_EQ_INT(authz_claim_bits(NULL, "app"), 0);
    ASSERT_EQ_INT(authz_claim_bits("not json", "app"), 0);
}

TEST(access_server_ready_bootstraps_the_owner_once)
{
    struct fx f;
    struct berth_err err = BERTH_ERR_INIT;
    struct berth_meta_user u;
    struct stat st;
    char *path;

    fx_open(&f, NULL);
    path = berth_xasprintf("%s/initial-owner-password", berth_test_tmpdir());
    ASSERT_TRUE(stat(path, &st) != 0); /* open creates no user: that waits for ready */
    ASSERT_RC(f.m->dir->user_get(f.m, "owner", NULL, &u, &err), BERTH_ENOENT);
    ASSERT_OK(berth_server_ready(f.srv, &err));
    ASSERT_OK(stat(path, &st) == 0 ? BERTH_OK : BERTH_ENOENT);
    ASSERT_EQ_INT(st.st_mode & 0777, 0600);
    ASSERT_OK(f.m->dir->user_get(f.m, "owner", NULL, &u, &err));
    ASSERT_OK(berth_server_ready(f.srv, &err));
    free(path);
    fx_close(&f);
}

/* ---------------------------------------------------------------- servers sharing one store */

/* A server of its own data folder (tmpdir/<name>) on the metadata dsn; opened, not yet ready. */
struct shared_srv {
    struct berth_config cfg;
    struct berth_server *srv;
    enum berth_rc rc;
    pthread_barrier_t *go;
};

static void shared_open(struct shared_srv *s, const char *name, const char *dsn)
{
    struct berth_err err = BERTH_ERR_INIT;
    char *data = berth_xasprintf("%s/%s", berth_test_tmpdir(), name);

    memset(s, 0, sizeof(*s));
    berth_config_init(&s->cfg);
    ASSERT_OK(berth_config_set(&s->cfg, "data", data, &err));
    ASSERT_OK(berth_config_set(&s->cfg, "meta", dsn, &err));
    ASSERT_OK(berth_config_set(&s->cfg, "login-failures", "3", &err));
    free(data);
}

static void *open_and_ready(void *p)
{
    struct shared_srv *s = p;
    struct berth_err err = BERTH_ERR_INIT;

    pthread_barrier_wait(s->go);
    s->rc = berth_server_open(&s->cfg, &s->srv, &err);
    if (!s->rc) s->rc = berth_server_ready(s->srv, &err);
    if (s->rc) fprintf(stderr, "  server: %s\n", err.msg);
    return NULL;
}

/* The owner's principal, as a password login on srv makes it. */
static void owner_of(struct berth_server *srv, const char *pass, struct principal *p)
{
    struct berth_err err = BERTH_ERR_INIT;
    struct berth_caller c;
    enum berth_auth_reason why;

    caller_init(&c, "10.0.0.9", NULL, NULL);
    ASSERT_OK(authz_password(srv->az, &c, NULL, "owner", pass, p, &why, &err));
}

/* A refresh token of the default registry issued by srv for p. */
static char *refresh_of(struct berth_server *srv, const struct principal *p)
{
    struct berth_err err = BERTH_ERR_INIT;
    struct berth_meta_registry reg;
    struct berth_buf b = BERTH_BUF_INIT(0);
    int64_t ttl;

    ASSERT_OK(srv->meta->reg->registry_get(srv->meta, "default", 0, &reg, &err));
    ASSERT_OK(authz_issue(srv->az, &reg, p, "refresh_token", NULL, 0, &b, &ttl, NULL, &err));
    return berth_buf_detach(&b, NULL);
}

static enum berth_rc token_on(struct berth_server *srv, const char *tok, enum berth_auth_reason *why)
{
    struct berth_err err = BERTH_ERR_INIT;
    struct berth_meta_registry reg;
    struct principal p;

    ASSERT_OK(srv->meta->reg->registry_get(srv->meta, "default", 0, &reg, &err));
    return authz_token(srv->az, &reg, tok, "refresh_token", &p, NULL, why, &err);
}

static enum berth_rc login_on(struct berth_server *srv, const char *ip, const char *pass)
{
    struct berth_err err = BERTH_ERR_INIT;
    struct berth_caller c;
    enum berth_auth_reason why;
    struct principal p;

    caller_init(&c, ip, NULL, NULL);
    return authz_password(srv->az, &c, NULL, "owner", pass, &p, &why, &err);
}

/*
 * Two servers started at once on one empty PostgreSQL database: both come
 * up, one made the owner; each verifies the other's tokens, also after a
 * rotation on one; failed logins alternating between them lock the pair out
 * on both.
 */
TEST(access_shared_servers_answer_alike)
{
    char *dsn = berth_test_pg_fresh("access_shared_servers");
    struct shared_srv s[2];
    struct berth_server *a, *b;
    struct berth_err err = BERTH_ERR_INIT;
    enum berth_auth_reason why;
    pthread_barrier_t go;
    pthread_t th[2];
    struct principal p;
    char *pw = NULL, *path, *ta, *tb, *tc, kid[64];
    int i, made = 0;
    int64_t read_us;

    if (!dsn) TEST_SKIP("no PostgreSQL server for the tests (BERTH_TEST_PG_HOST unset)");
    berth_log_threshold = BERTH_LOG_WARN;
    pthread_barrier_init(&go, NULL, 2);
    for (i = 0; i < 2; i++) {
        shared_open(&s[i], i ? "b" : "a", dsn);
        s[i].go = &go;
        ASSERT_EQ_INT(pthread_create(&th[i], NULL, open_and_ready, &s[i]), 0);
    }
    for (i = 0; i < 2; i++) pthread_join(th[i], NULL);
    pthread_barrier_destroy(&go);
    ASSERT_OK(s[0].rc);
    ASSERT_OK(s[1].rc);
    a = s[0].srv;
    b = s[1].srv;
    ASSERT_TRUE(a->az->shared && b->az->shared);
    for (i = 0; i < 2; i++) {
        path = berth_xasprintf("%s/%s/initial-owner-password", berth_test_tmpdir(), i ? "b" : "a");
        if (berth_read_file(path, 4096, &pw, NULL, &err) == BERTH_OK) made++;
        free(path);
        if (made && pw && !strchr(pw, '\n')) BERTH_TEST_FAIL("password file without its newline");
        if (pw && strchr(pw, '\n')) *strchr(pw, '\n') = '\0';
        if (made) break;
    }
    ASSERT_EQ_INT(made, 1);
    /* no key folder: the keys are in the store, and both servers hold every one of them after a read */
    path = berth_xasprintf("%s/a/keys", berth_test_tmpdir());
    ASSERT_TRUE(access(path, F_OK) != 0);
    free(path);

    owner_of(a, pw, &p);
    ta = refresh_of(a, &p);
    tb = refresh_of(b, &p);
    ASSERT_OK(token_on(b, ta, &why));
    ASSERT_OK(token_on(a, tb, &why));
    /* a rotation on a: its new tokens verify on b at once (b reads the keys again), and b signs with the new key */
    ASSERT_OK(berth_keyring_rotate(a->az->keys, &err));
    snprintf(kid, sizeof(kid), "%s", berth_keyring_current_kid(a->az->keys));
    tc = refresh_of(a, &p);
    ASSERT_OK(token_on(b, tc, &why));
    ASSERT_EQ_STR(berth_keyring_current_kid(b->az->keys), kid);
    ASSERT_OK(token_on(b, ta, &why));
    ASSERT_OK(token_on(a, tb, &why));
    free(tb);
    tb = refresh_of(b, &p);
    ASSERT_OK(token_on(a, tb, &why));
    /* tokens naming keys no one has read the store at most once a second */
    read_us = b->az->keys_read_us;
    for (i = 0; i < 20; i++) {
        char *forged = berth_xstrdup(ta);
        memcpy(forged + 4, "AAAA", 4); /* the header, and so the kid, changed */
        ASSERT_RC(token_on(b, forged, &why), BERTH_EUNAUTHORIZED);
        free(forged);
    }
    ASSERT_TRUE(b->az->keys_read_us - read_us < 2 * KEYS_READ_MIN_US || b->az->keys_read_us == read_us);

    /* failures alternate: a, b, a lock the pair out on both; another address is not affected */
    ASSERT_RC(login_on(a, "10.1.1.1", "wrong-1"), BERTH_EUNAUTHORIZED);
    ASSERT_RC(login_on(b, "10.1.1.1", "wrong-2"), BERTH_EUNAUTHORIZED);
    ASSERT_RC(login_on(a, "10.1.1.1", "wrong-3"), BERTH_EUNAUTHORIZED);
    ASSERT_RC(login_on(b, "10.1.1.1", pw), BERTH_ETOOMANY);
    ASSERT_RC(login_on(a, "10.1.1.1", pw), BERTH_ETOOMANY);
    ASSERT_OK(login_on(b, "10.1.1.2", pw));
    /* a success clears the pair on both */
    ASSERT_RC(login_on(a, "10.1.1.3", "wrong-1"), BERTH_EUNAUTHORIZED);
    ASSERT_RC(login_on(b, "10.1.1.3", "wrong-2"), BERTH_EUNAUTHORIZED);
    ASSERT_OK(login_on(a, "10.1.1.3", pw));
    ASSERT_RC(login_on(b, "10.1.1.3", "wrong-3"), BERTH_EUNAUTHORIZED);
    ASSERT_RC(login_on(a, "10.1.1.3", "wrong-4"), BERTH_EUNAUTHORIZED);
    ASSERT_OK(login_on(b, "10.1.1.3", pw));

    /* a password changed through a: b refuses its refresh tokens at once */
    {
        struct berth_meta_user u;
        ASSERT_OK(a->meta->dir->user_get(a->meta, "owner", NULL, &u, &err));
        ASSERT_OK(berth_secret_hash("new-password", u.hash, &err));
        ASSERT_OK(a->meta->dir->user_set_password(a->meta, u.id, u.hash, berth_now_ms() + 1, &err));
        ASSERT_RC(token_on(b, tc, &why), BERTH_EUNAUTHORIZED);
        ASSERT_EQ_INT(why, BERTH_AUTH_REFRESH_REVOKED);
        ASSERT_RC(login_on(b, "10.1.1.4", pw), BERTH_EUNAUTHORIZED);
        ASSERT_OK(login_on(b, "10.1.1.4", "new-password"));
    }
    free(ta);
    free(tb);
    free(tc);
    free(pw);
    for (i = 0; i < 2; i++) {
        berth_server_close(s[i].srv);
        berth_config_release(&s[i].cfg);
    }
    free(dsn);
}
