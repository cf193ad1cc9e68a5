/* test_health.c - the pure parts of berth check-health: reason -> code -> fix, fix templates, Bearer
 * challenges, client versions, NO_PROXY and the redaction of --report. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include "alloc.h"
#include "../../src/client/health.h"
#include "test.h"

TEST(berth_health_reason_maps_by_source)
{
    ASSERT_EQ_STR(berth_health_reason_lookup("BAD_SECRET", BERTH_HEALTH_SRC_FLAGS)->code, "WRONG_PASSWORD");
    ASSERT_EQ_STR(berth_health_reason_lookup("UNKNOWN_PRINCIPAL", BERTH_HEALTH_SRC_SESSION)->code, "WRONG_PASSWORD");
    ASSERT_EQ_STR(berth_health_reason_lookup("BAD_SECRET", BERTH_HEALTH_SRC_FILE)->code, "STORED_CREDENTIAL_INVALID");
    ASSERT_EQ_STR(berth_health_reason_lookup("INVALID_CREDENTIALS", BERTH_HEALTH_SRC_FLAGS)->code, "WRONG_PASSWORD");
    ASSERT_EQ_STR(berth_health_reason_lookup("INVALID_CREDENTIALS", BERTH_HEALTH_SRC_FILE)->code,
                  "STORED_CREDENTIAL_INVALID");
    ASSERT_EQ_STR(berth_health_reason_lookup("BAD_SECRET", BERTH_HEALTH_SRC_HELPER)->code, "STORED_CREDENTIAL_INVALID");
    ASSERT_EQ_STR(berth_health_reason_lookup("TOKEN_EXPIRED", BERTH_HEALTH_SRC_FILE)->code,
                  "STORED_CREDENTIAL_EXPIRED");
    ASSERT_EQ_STR(berth_health_reason_lookup("TOKEN_EXPIRED", BERTH_HEALTH_SRC_SESSION)->code, "REFRESH_TOKEN_EXPIRED");
    ASSERT_EQ_STR(berth_health_reason_lookup("REFRESH_REVOKED", BERTH_HEALTH_SRC_FILE)->code, "REFRESH_TOKEN_REVOKED");
    ASSERT_EQ_STR(berth_health_reason_lookup("REFRESH_REVOKED", BERTH_HEALTH_SRC_SESSION)->code,
                  "REFRESH_TOKEN_REVOKED");
    ASSERT_EQ_STR(berth_health_reason_lookup("ADMIN_DISABLED", BERTH_HEALTH_SRC_FLAGS)->code, "ADMIN_USER_DISABLED");
    ASSERT_EQ_STR(berth_health_reason_lookup("SECRET_EXPIRED", BERTH_HEALTH_SRC_FLAGS)->code, "SECRET_EXPIRED");
    ASSERT_EQ_STR(berth_health_reason_lookup("CREDENTIAL_EXPIRED", BERTH_HEALTH_SRC_FLAGS)->code,
                  "TOKEN_PASSWORD_EXPIRED");
    ASSERT_EQ_STR(berth_health_reason_lookup("TOKEN_DISABLED", BERTH_HEALTH_SRC_FILE)->code, "TOKEN_DISABLED");
    ASSERT_EQ_STR(berth_health_reason_lookup("TOO_MANY_FAILURES", BERTH_HEALTH_SRC_FLAGS)->code, "TOO_MANY_FAILURES");
    ASSERT_EQ_STR(berth_health_reason_lookup("UNKNOWN_REGISTRY", BERTH_HEALTH_SRC_NONE)->code, "REGISTRY_NOT_FOUND");
    ASSERT_EQ_STR(berth_health_reason_lookup("NETWORK_IP_DENIED", BERTH_HEALTH_SRC_NONE)->code,
                  "NETWORK_ACCESS_DENIED");
    ASSERT_EQ_STR(berth_health_reason_lookup("NETWORK_PUBLIC_DISABLED", BERTH_HEALTH_SRC_NONE)->code,
                  "PUBLIC_ACCESS_DISABLED");
    ASSERT_EQ_STR(berth_health_reason_lookup("ANONYMOUS_DISABLED", BERTH_HEALTH_SRC_NONE)->code, "CREDENTIALS_MISSING");
    ASSERT_EQ_STR(berth_health_reason_lookup("TOKEN_NOT_YET_VALID", BERTH_HEALTH_SRC_FILE)->code, "CLOCK_SKEW");
    /* anything else, and no reason at all, is the catch-all */
    ASSERT_EQ_STR(berth_health_reason_lookup("BAD_SIGNATURE", BERTH_HEALTH_SRC_FILE)->code, "CREDENTIAL_REJECTED");
    ASSERT_EQ_STR(berth_health_reason_lookup(NULL, BERTH_HEALTH_SRC_FLAGS)->code, "CREDENTIAL_REJECTED");
}

TEST(berth_health_reason_table_is_complete)
{
    const struct berth_health_reason_row *r;
    size_t n = 0;
    for (r = berth_health_reasons; r->reason; r++, n++) {
        ASSERT_TRUE(r->code && *r->code);
        ASSERT_TRUE(r->cause && *r->cause);
    }
    ASSERT_TRUE(n > 10);
    ASSERT_EQ_STR(r[-1].reason, ""); /* the catch-all is last */
}

TEST(berth_health_expand_templates)
{
    const char *vars[] = {"name", "teamreg1", "retry", "42", "ip", NULL};
    char *s = berth_health_expand("berth network-rule add -n {name} --ip-address {ip}; sleep {retry}{", vars, 6);
    ASSERT_EQ_STR(s, "berth network-rule add -n teamreg1 --ip-address {ip}; sleep 42{");
    free(s);
    s = berth_health_expand("{unknown} {name}", vars, 6);
    ASSERT_EQ_STR(s, "{unknown} teamreg1");
    free(s);
    s = berth_health_expand("", vars, 6);
    ASSERT_EQ_STR(s, "");
    free(s);
}

TEST(berth_health_challenge_parsing)
{
    char *realm, *svc, why[200];
    ASSERT_EQ_INT(berth_health_parse_challenge("Bearer realm=\"https://r.example/oauth2/token\",service=\"r.example\"", &realm,
                                         &svc, why, sizeof(why)), 0);
    ASSERT_EQ_STR(realm, "https://r.example/oauth2/token");
    ASSERT_EQ_STR(svc, "r.example");
    free(realm);
    free(svc);
    /* case-insensitive scheme and keys, spaces, extra and unquoted parameters */
    ASSERT_EQ_INT(berth_health_parse_challenge("bearer  Service=r.example , REALM=\"http://h:5000/t\", scope=\"repository:a/b:pull\","
                                         "error=\"insufficient_scope\"", &realm, &svc, why, sizeof(why)), 0);
    ASSERT_EQ_STR(realm, "http://h:5000/t");
    ASSERT_EQ_STR(svc, "r.example");
    free(realm);
    free(svc);
    ASSERT_EQ_INT(berth_health_parse_challenge("Basic realm=\"Registry\"", &realm, &svc, why, sizeof(why)), -1);
    ASSERT_TRUE(strstr(why, "not Bearer") != NULL);
    ASSERT_TRUE(realm == NULL && svc == NULL);
    ASSERT_EQ_INT(berth_health_parse_challenge("Bearer service=\"x\"", &realm, &svc, why, sizeof(why)), -1);
    ASSERT_TRUE(strstr(why, "no realm") != NULL);
    ASSERT_EQ_INT(berth_health_parse_challenge("Bearer realm=\"http://h/t\"", &realm, &svc, why, sizeof(why)), -1);
    ASSERT_TRUE(strstr(why, "no service") != NULL);
    ASSERT_EQ_INT(berth_health_parse_challenge("Bearer realm=\"/oauth2/token\",service=\"x\"", &realm, &svc, why, sizeof(why)),
                  -1);
    ASSERT_TRUE(strstr(why, "not an http") != NULL);
    ASSERT_EQ_INT(berth_health_parse_challenge("Bearer realm", &realm, &svc, why, sizeof(why)), -1);
    ASSERT_EQ_INT(berth_health_parse_challenge("", &realm, &svc, why, sizeof(why)), -1);
    ASSERT_EQ_INT(berth_health_parse_challenge(NULL, &realm, &svc, why, sizeof(why)), -1);
    ASSERT_EQ_INT(berth_health_parse_challenge("Bearerx realm=\"http://h/\",service=\"s\"", &realm, &svc, why, sizeof(why)), -1);
    /* an escaped quote inside a quoted value */
    ASSERT_EQ_INT(berth_health_parse_challenge("Bearer realm=\"http://h/a\\\"b\",service=s", &realm, &svc, why, sizeof(why)), 0);
    ASSERT_EQ_STR(realm, "http://h/a\"b");
    ASSERT_EQ_STR(svc, "s");
    free(realm);
    free(svc);
}

TEST(berth_health_realm_fit_to_the_clients_address)
{
    static const struct {
        const char *realm, *scheme, *login_server;
        enum berth_health_realm_fit want;
    } cases[] = {
        /* the same address, default ports filled in, case-insensitive */
        {"https://reg.example/oauth2/token", "https", "reg.example", BERTH_HEALTH_REALM_SAME},
        {"https://Reg.Example:443/oauth2/token", "https", "reg.example", BERTH_HEALTH_REALM_SAME},
        {"http://127.0.0.1:5000/oauth2/token", "http", "127.0.0.1:5000", BERTH_HEALTH_REALM_SAME},
        {"https://[::1]:8443/oauth2/token", "https", "[::1]:8443", BERTH_HEALTH_REALM_SAME},
        /* a TLS-terminating proxy that does not forward the scheme: http behind https, same host or not */
        {"http://reg.example/oauth2/token", "https", "reg.example", BERTH_HEALTH_REALM_DOWNGRADE},
        {"http://127.0.0.1:8443/oauth2/token", "https", "127.0.0.1:8443", BERTH_HEALTH_REALM_DOWNGRADE},
        {"http://10.0.0.11:5000/oauth2/token", "https", "reg.example", BERTH_HEALTH_REALM_DOWNGRADE},
        /* another host or port over a scheme as safe */
        {"https://auth.example/token", "https", "reg.example", BERTH_HEALTH_REALM_OTHER_HOST},
        {"https://reg.example:8443/oauth2/token", "https", "reg.example", BERTH_HEALTH_REALM_OTHER_HOST},
        {"http://127.0.0.1:5001/oauth2/token", "http", "127.0.0.1:5000", BERTH_HEALTH_REALM_OTHER_HOST},
        /* https where the clients use http is no risk, but port 443 is not 80 */
        {"https://reg.example/oauth2/token", "http", "reg.example", BERTH_HEALTH_REALM_OTHER_HOST},
    };
    size_t i;

    for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
        ASSERT_EQ_INT(berth_health_realm_fit(cases[i].realm, cases[i].scheme, cases[i].login_server), cases[i].want);
}

TEST(berth_health_version_comparison)
{
    ASSERT_TRUE(berth_health_version_cmp("28.2.2", "18.03") > 0);
    ASSERT_TRUE(berth_health_version_cmp("18.03", "18.03") == 0);
    ASSERT_TRUE(berth_health_version_cmp("18.3", "18.03") == 0);
    ASSERT_TRUE(berth_health_version_cmp("18.03.0", "18.03") == 0);
    ASSERT_TRUE(berth_health_version_cmp("17.09.1-ce", "18.03") < 0);
    ASSERT_TRUE(berth_health_version_cmp("18.02.9", "18.03") < 0);
    ASSERT_TRUE(berth_health_version_cmp("18.10", "18.9") > 0);
    ASSERT_TRUE(berth_health_version_cmp("1.13.1", "18.03") < 0);
    ASSERT_TRUE(berth_health_version_cmp("", "1") < 0);
}

TEST(berth_health_version_of_outputs)
{
    char *v = berth_health_version_of("Docker version 28.2.2, build e6534b4");
    ASSERT_EQ_STR(v, "28.2.2");
    free(v);
    v = berth_health_version_of("podman version 4.3.1\n");
    ASSERT_EQ_STR(v, "4.3.1");
    free(v);
    v = berth_health_version_of("v3.14.2+g3a9c4a6");
    ASSERT_EQ_STR(v, "3.14.2");
    free(v);
    v = berth_health_version_of("Docker version 17.09.1-ce, build 19e2cf6");
    ASSERT_EQ_STR(v, "17.09.1");
    free(v);
    v = berth_health_version_of("build e6534b4 without a version");
    ASSERT_TRUE(v == NULL);
    ASSERT_TRUE(berth_health_version_of("") == NULL);
}

TEST(berth_health_no_proxy_matching)
{
    ASSERT_TRUE(berth_health_no_proxy_match("*", "anything.example"));
    ASSERT_TRUE(berth_health_no_proxy_match("localhost,127.0.0.1", "127.0.0.1"));
    ASSERT_TRUE(berth_health_no_proxy_match(" example.com , other", "reg.example.com"));
    ASSERT_TRUE(berth_health_no_proxy_match(".example.com", "reg.example.com"));
    ASSERT_TRUE(berth_health_no_proxy_match("example.com", "EXAMPLE.com"));
    ASSERT_TRUE(!berth_health_no_proxy_match("example.com", "badexample.com"));
    ASSERT_TRUE(berth_health_no_proxy_match("10.0.0.0/8", "10.1.2.3"));
    ASSERT_TRUE(!berth_health_no_proxy_match("10.0.0.0/8", "11.1.2.3"));
    ASSERT_TRUE(berth_health_no_proxy_match("127.0.0.1/32", "127.0.0.1"));
    ASSERT_TRUE(berth_health_no_proxy_match("reg.example:5000", "reg.example"));
    ASSERT_TRUE(!berth_health_no_proxy_match("", "reg.example"));
    ASSERT_TRUE(!berth_health_no_proxy_match("10.0.0.0/8", "reg.example"));
    ASSERT_TRUE(!berth_health_no_proxy_match(",,", "reg.example"));
}

static char *redact(const char *in, const char *const *list, size_t n)
{
    struct berth_buf b = BERTH_BUF_INIT(0);
    berth_health_redact(in, list, n, &b);
    return berth_buf_detach(&b, NULL);
}

TEST(berth_health_redaction)
{
    const char *secrets[] = {"hunter2-password", "abc", NULL};
    char *s;

    s = redact("command: -u bob -p hunter2-password --json", secrets, 3);
    ASSERT_EQ_STR(s, "command: -u bob -p [REDACTED] --json");
    free(s);
    /* short values are not searched for (they would blank out ordinary text) */
    s = redact("abc abc", secrets, 3);
    ASSERT_EQ_STR(s, "abc abc");
    free(s);
    s = redact("{\"access_token\":\"opaque\",\"token\": \"opaque\",\"expires_in\":300,\"refresh_token\":\"x\\\"y\"}",
               NULL, 0);
    ASSERT_EQ_STR(s, "{\"access_token\":\"[REDACTED]\",\"token\": \"[REDACTED]\",\"expires_in\":300,"
                     "\"refresh_token\":\"[REDACTED]\"}");
    free(s);
    s = redact("{\"auths\":{\"r\":{\"auth\":\"Ym9iOnB3\",\"identitytoken\":\"tok\"}},\"Secret\":\"s\"}", NULL, 0);
    ASSERT_EQ_STR(s, "{\"auths\":{\"r\":{\"auth\":\"[REDACTED]\",\"identitytoken\":\"[REDACTED]\"}},"
                     "\"Secret\":\"[REDACTED]\"}");
    free(s);
    s = redact("> Authorization: Basic Ym9iOnB3\n< authorization: Bearer x.y.z\nnext", NULL, 0);
    ASSERT_EQ_STR(s, "> Authorization: [REDACTED]\n< authorization: [REDACTED]\nnext");
    free(s);
    s = redact("token eyJhbGciOiJFUzI1NiJ9.eyJzdWIiOiJib2IifQ.c2lnbmF0dXJl end", NULL, 0);
    ASSERT_EQ_STR(s, "token [REDACTED] end");
    free(s);
    s = redact("grant_type=password&username=bob&password=p%40ss&scope=x client_secret=zz", NULL, 0);
    ASSERT_EQ_STR(s, "grant_type=password&username=bob&password=[REDACTED]&scope=x client_secret=[REDACTED]");
    free(s);
    /* a key that only ends like a secret one is left alone; "tokens" is not "token" */
    s = redact("mytoken=1 \"tokens\":\"2\" eyJnot-a-jwt", NULL, 0);
    ASSERT_EQ_STR(s, "mytoken=1 \"tokens\":\"2\" eyJnot-a-jwt");
    free(s);
}

TEST(berth_health_source_names)
{
    ASSERT_EQ_STR(berth_health_source_name(BERTH_HEALTH_SRC_FLAGS), "flags");
    ASSERT_EQ_STR(berth_health_source_name(BERTH_HEALTH_SRC_FILE), "file");
    ASSERT_EQ_STR(berth_health_source_name((enum berth_health_source)99), "?");
}

TEST(berth_health_go_proxy_rules)
{
    const char *var = NULL;
    unsetenv("NO_PROXY");
    unsetenv("no_proxy");
    unsetenv("HTTP_PROXY");
    unsetenv("http_proxy");
    unsetenv("https_proxy");
    setenv("HTTPS_PROXY", "http://proxy.example:3128", 1);
    /* Go never proxies localhost or a loopback address, whatever the variables say */
    ASSERT_TRUE(berth_health_go_proxy("https", "127.0.0.1", &var) == NULL);
    ASSERT_TRUE(berth_health_go_proxy("https", "127.8.9.10", &var) == NULL);
    ASSERT_TRUE(berth_health_go_proxy("https", "localhost", &var) == NULL);
    ASSERT_TRUE(berth_health_go_proxy("https", "::1", &var) == NULL);
    /* but a name under .localhost is not "localhost" to Go */
    ASSERT_EQ_STR(berth_health_go_proxy("https", "teamreg1.localhost", &var), "http://proxy.example:3128");
    ASSERT_EQ_STR(var, "HTTPS_PROXY");
    /* the scheme picks the variable; ALL_PROXY is libcurl's, not Go's */
    ASSERT_TRUE(berth_health_go_proxy("http", "reg.example", &var) == NULL);
    setenv("ALL_PROXY", "http://all.example:1", 1);
    ASSERT_TRUE(berth_health_go_proxy("http", "reg.example", &var) == NULL);
    setenv("http_proxy", "http://low.example:2", 1);
    ASSERT_EQ_STR(berth_health_go_proxy("http", "reg.example", &var), "http://low.example:2");
    ASSERT_EQ_STR(var, "http_proxy");
    setenv("NO_PROXY", ".example", 1);
    ASSERT_TRUE(berth_health_go_proxy("https", "reg.example", &var) == NULL);
}

TEST(berth_health_authfiles_in_each_clients_order)
{
    char *f[4];
    size_t n, i;
    setenv("HOME", "/h", 1);
    setenv("DOCKER_CONFIG", "/d", 1);
    setenv("XDG_RUNTIME_DIR", "/run/user/7", 1);
    unsetenv("XDG_CONFIG_HOME");
    unsetenv("REGISTRY_AUTH_FILE");
    n = berth_health_authfiles(BERTH_HC_DOCKER, f, 4);
    ASSERT_EQ_U64(n, 1);
    ASSERT_EQ_STR(f[0], "/d/config.json");
    free(f[0]);
    n = berth_health_authfiles(BERTH_HC_SKOPEO, f, 4);
    ASSERT_EQ_U64(n, 4);
    ASSERT_EQ_STR(f[0], "/run/user/7/containers/auth.json");
    ASSERT_EQ_STR(f[1], "/h/.config/containers/auth.json");
    ASSERT_EQ_STR(f[2], "/d/config.json");
    ASSERT_EQ_STR(f[3], "/h/.dockercfg");
    for (i = 0; i < n; i++) free(f[i]);
    /* REGISTRY_AUTH_FILE replaces the primary file only; without XDG_RUNTIME_DIR it is /run/containers/<uid> */
    setenv("REGISTRY_AUTH_FILE", "/a.json", 1);
    n = berth_health_authfiles(BERTH_HC_PODMAN, f, 4);
    ASSERT_EQ_STR(f[0], "/a.json");
    ASSERT_EQ_STR(f[1], "/h/.config/containers/auth.json");
    for (i = 0; i < n; i++) free(f[i]);
    unsetenv("REGISTRY_AUTH_FILE");
    unsetenv("XDG_RUNTIME_DIR");
    n = berth_health_authfiles(BERTH_HC_BUILDAH, f, 4);
    ASSERT_TRUE(!strncmp(f[0], "/run/containers/", 16));
    for (i = 0; i < n; i++) free(f[i]);
    ASSERT_EQ_U64(berth_health_authfiles(BERTH_HC_BERTH, f, 4), 0);
}

static void write_text(const char *path, const char *text)
{
    FILE *fp = fopen(path, "w");
    ASSERT_TRUE(fp != NULL);
    fputs(text, fp);
    fclose(fp);
}

TEST(berth_health_each_client_sends_its_own_credential)
{
    const char *dir = berth_test_tmpdir();
    char p[256];
    struct berth_health_run run;
    struct berth_health_cred c;

    memset(&run, 0, sizeof(run));
    run.login_server = berth_xstrdup("r.example:5000");
    setenv("HOME", dir, 1);
    snprintf(p, sizeof(p), "%s/docker", dir);
    setenv("DOCKER_CONFIG", p, 1);
    mkdir(p, 0700);
    snprintf(p, sizeof(p), "%s/auth.json", dir);
    setenv("REGISTRY_AUTH_FILE", p, 1);
    unsetenv("XDG_CONFIG_HOME");
    /* docker's file: an identity token under a legacy key; auth.json: a password ("bob:stale") */
    snprintf(p, sizeof(p), "%s/docker/config.json", dir);
    write_text(p, "{\"auths\":{\"https://r.example:5000/v1/\":{\"auth\":\"MDA6\",\"identitytoken\":\"tok-1\"}}}");
    snprintf(p, sizeof(p), "%s/auth.json", dir);
    write_text(p, "{\"auths\":{\"r.example:5000\":{\"auth\":\"Ym9iOnN0YWxl\"}}}");
    berth_health_resolve_cred(&run, BERTH_HC_DOCKER, &c);
    ASSERT_EQ_INT(c.src, BERTH_HEALTH_SRC_FILE);
    ASSERT_EQ_STR(c.user, "00000000-0000-0000-0000-000000000000");
    ASSERT_EQ_STR(c.secret, "tok-1");
    berth_health_cred_release(&c);
    berth_health_resolve_cred(&run, BERTH_HC_PODMAN, &c);
    ASSERT_EQ_STR(c.user, "bob");
    ASSERT_EQ_STR(c.secret, "stale");
    ASSERT_EQ_STR(c.file, p);
    berth_health_cred_release(&c);
    /* without an entry in auth.json, podman falls back to docker's file */
    write_text(p, "{\"auths\":{}}");
    berth_health_resolve_cred(&run, BERTH_HC_SKOPEO, &c);
    ASSERT_EQ_STR(c.secret, "tok-1");
    berth_health_cred_release(&c);
    /* a namespaced key wins for its repository */
    write_text(p, "{\"auths\":{\"r.example:5000/team\":{\"auth\":\"dGVhbTp0ZWFtLXB3\"}}}");
    run.repository = "team/app";
    berth_health_resolve_cred(&run, BERTH_HC_PODMAN, &c);
    ASSERT_EQ_STR(c.user, "team");
    berth_health_cred_release(&c);
    run.repository = NULL;
    /* nothing anywhere: the files looked at are listed */
    write_text(p, "{}");
    snprintf(p, sizeof(p), "%s/docker/config.json", dir);
    write_text(p, "{}");
    berth_health_resolve_cred(&run, BERTH_HC_PODMAN, &c);
    ASSERT_EQ_INT(c.src, BERTH_HEALTH_SRC_NONE);
    ASSERT_TRUE(strstr(c.looked, "auth.json") && strstr(c.looked, "config.json"));
    berth_health_cred_release(&c);
    berth_health_run_release(&run);
}

TEST(berth_health_insecure_registries)
{
    const char *dir = berth_test_tmpdir();
    char p[256];
    char *where = NULL;

    setenv("HOME", dir, 1);
    snprintf(p, sizeof(p), "%s/.config", dir);
    mkdir(p, 0700);
    snprintf(p, sizeof(p), "%s/.config/containers", dir);
    mkdir(p, 0700);
    snprintf(p, sizeof(p), "%s/.config/containers/registries.conf", dir);
    write_text(p, "unqualified-search-registries = []\n[[registry]]\nlocation = \"r.example:5000\"\ninsecure = true\n"
                  "[[registry]]\nlocation = \"s.example:5000\"\n");
    ASSERT_TRUE(berth_health_insecure(BERTH_HC_PODMAN, "r.example:5000", &where));
    ASSERT_TRUE(where && strstr(where, "registries.conf"));
    free(where);
    ASSERT_TRUE(!berth_health_insecure(BERTH_HC_SKOPEO, "s.example:5000", &where));
    /* docker: 127.0.0.0/8 always; other hosts only through daemon.json */
    ASSERT_TRUE(berth_health_insecure(BERTH_HC_DOCKER, "127.0.0.1:5000", &where));
    free(where);
    ASSERT_TRUE(!berth_health_insecure(BERTH_HC_BERTH, "127.0.0.1:5000", &where));
}

TEST(berth_health_clock_skew_from_a_whole_second_date)
{
    int64_t lo, hi;
    /* a server in step whose coarse clock still read 55 at 56.003: no skew is proved */
    berth_health_clock_skew(55, 56003, 56005, &lo, &hi);
    ASSERT_TRUE(lo <= 0 && hi >= 0);
    /* in step, the answer taking 2 s (a slow server): still none */
    berth_health_clock_skew(57, 55900, 57950, &lo, &hi);
    ASSERT_TRUE(lo <= 0 && hi >= 0);
    /* a server 2 s ahead: at least 1 s is proved */
    berth_health_clock_skew(58, 56003, 56005, &lo, &hi);
    ASSERT_TRUE(lo >= 1000);
    /* a server 1 s behind, asked at 56.5: it is behind by more than the lag allowed */
    berth_health_clock_skew(55, 56500, 56502, &lo, &hi);
    ASSERT_TRUE(hi < 0);
    /* 300 s behind: both bounds within two seconds of it */
    berth_health_clock_skew(100, 400200, 400210, &lo, &hi);
    ASSERT_TRUE(lo > -301000 && hi < -298000);
}
