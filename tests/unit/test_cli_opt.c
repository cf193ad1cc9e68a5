/* test_cli_opt.c - the CLI's option parser: long, short, "=", "--", types, groups, usage errors and --help. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "../../src/cli/cli.h"
#include "test.h"

struct seen {
    int flag, yes;
    const char *name;
    long long num;
    int enabled;
    struct cli_list ips;
    struct cli_groups repos;
    struct cli_list pos;
};

static int parse(struct seen *s, int argc, const char **cargv)
{
    char **argv = (char **)cargv;
    static struct cli_ctx ctx;
    const struct cli_opt opts[] = {
        {"name", 'n', CLI_OPT_STR, &s->name, "NAME", "the name"},
        {"verbose", 'v', CLI_OPT_FLAG, &s->flag, NULL, "say more"},
        {"count", 0, CLI_OPT_INT, &s->num, "N", "how many"},
        {"enabled", 0, CLI_OPT_BOOL, &s->enabled, "BOOL", "on or off"},
        {"ip", 0, CLI_OPT_LIST, &s->ips, "ADDR", "an address"},
        {"repository", 0, CLI_OPT_GROUP, &s->repos, "REPO ACTION", "a repository and actions"},
        CLI_OPT_END,
    };
    const struct cli_opt common[] = {
        {"yes", 'y', CLI_OPT_FLAG, &s->yes, NULL, "really"},
        CLI_OPT_END,
    };
    memset(s, 0, sizeof(*s));
    s->enabled = -1;
    snprintf(ctx.cmd, sizeof(ctx.cmd), "thing make");
    return cli_opt_parse(&ctx, "[options] ARG", NULL, opts, common, argc, argv, &s->pos);
}

#define ARGV(...) (const char *[]){"make", __VA_ARGS__, NULL}
#define ARGC(...) ((int)(sizeof((const char *[]){"make", __VA_ARGS__}) / sizeof(char *)))
#define PARSE(s, ...) parse(s, ARGC(__VA_ARGS__), ARGV(__VA_ARGS__))

TEST(cli_opt_long_short_and_equals)
{
    struct seen s;
    ASSERT_EQ_INT(PARSE(&s, "--name", "a", "-v", "pos1", "--count=42", "--enabled", "false", "-y"), CLI_CONTINUE);
    ASSERT_EQ_STR(s.name, "a");
    ASSERT_EQ_INT(s.flag, 1);
    ASSERT_EQ_INT(s.yes, 1);
    ASSERT_EQ_INT(s.num, 42);
    ASSERT_EQ_INT(s.enabled, 0);
    ASSERT_EQ_INT(s.pos.n, 1);
    ASSERT_EQ_STR(s.pos.v[0], "pos1");
    cli_list_release(&s.pos);
    ASSERT_EQ_INT(PARSE(&s, "-nb", "--name=c=d", "--enabled=true"), CLI_CONTINUE);
    ASSERT_EQ_STR(s.name, "c=d");
    ASSERT_EQ_INT(s.enabled, 1);
    ASSERT_EQ_INT(s.pos.n, 0);
}

TEST(cli_opt_double_dash_ends_options)
{
    struct seen s;
    ASSERT_EQ_INT(PARSE(&s, "--", "--name", "-v"), CLI_CONTINUE);
    ASSERT_EQ_INT(s.pos.n, 2);
    ASSERT_EQ_STR(s.pos.v[0], "--name");
    ASSERT_EQ_STR(s.pos.v[1], "-v");
    ASSERT_TRUE(s.name == NULL);
    ASSERT_EQ_INT(s.flag, 0);
    cli_list_release(&s.pos);
}

TEST(cli_opt_lists_and_groups)
{
    struct seen s;
    ASSERT_EQ_INT(PARSE(&s, "--ip", "10.0.0.1", "--repository", "team/a", "content/read", "content/write", "--ip",
                        "10.0.0.0/8", "--repository", "b", "metadata/read", "-v", "last"),
                  CLI_CONTINUE);
    ASSERT_EQ_INT(s.ips.n, 2);
    ASSERT_EQ_STR(s.ips.v[1], "10.0.0.0/8");
    ASSERT_EQ_INT(s.repos.n, 2);
    ASSERT_EQ_INT(s.repos.g[0].n, 3);
    ASSERT_EQ_STR(s.repos.g[0].v[0], "team/a");
    ASSERT_EQ_STR(s.repos.g[0].v[2], "content/write");
    ASSERT_EQ_INT(s.repos.g[1].n, 2);
    ASSERT_EQ_INT(s.pos.n, 1);
    ASSERT_EQ_STR(s.pos.v[0], "last");
    cli_list_release(&s.ips);
    cli_groups_release(&s.repos);
    cli_list_release(&s.pos);
}

TEST(cli_opt_usage_errors_exit_2)
{
    struct seen s;
    ASSERT_EQ_INT(PARSE(&s, "--colour", "red"), 2);
    ASSERT_EQ_INT(PARSE(&s, "-x"), 2);
    ASSERT_EQ_INT(PARSE(&s, "--name"), 2);
    ASSERT_EQ_INT(PARSE(&s, "--count", "4x"), 2);
    ASSERT_EQ_INT(PARSE(&s, "--count", ""), 2);
    ASSERT_EQ_INT(PARSE(&s, "--enabled", "yes"), 2);
    ASSERT_EQ_INT(PARSE(&s, "--verbose=1"), 2);
}

TEST(cli_opt_unknown_option_message)
{
    struct seen s;
    char buf[512] = "";
    FILE *f = tmpfile();
    int saved = dup(2), rc;

    ASSERT_TRUE(f != NULL);
    dup2(fileno(f), 2);
    rc = PARSE(&s, "--colour");
    fflush(stderr);
    dup2(saved, 2);
    rewind(f);
    ASSERT_TRUE(fgets(buf, sizeof(buf), f) != NULL);
    fclose(f);
    ASSERT_EQ_INT(rc, 2);
    ASSERT_EQ_STR(buf, "berth thing make: unknown option '--colour'; see 'berth thing make --help'\n");
}

TEST(cli_opt_help_prints_the_table)
{
    struct seen s;
    char buf[4096];
    size_t n;
    FILE *f = tmpfile();
    int saved = dup(1), rc;

    ASSERT_TRUE(f != NULL);
    fflush(stdout);
    dup2(fileno(f), 1);
    rc = PARSE(&s, "--help");
    fflush(stdout);
    dup2(saved, 1);
    rewind(f);
    n = fread(buf, 1, sizeof(buf) - 1, f);
    buf[n] = '\0';
    fclose(f);
    ASSERT_EQ_INT(rc, CLI_HELP_SHOWN);
    ASSERT_TRUE(strstr(buf, "usage: berth thing make [options] ARG\n") == buf);
    ASSERT_TRUE(strstr(buf, "-n, --name NAME") != NULL);
    ASSERT_TRUE(strstr(buf, "--repository REPO ACTION...") != NULL);
    ASSERT_TRUE(strstr(buf, "-y, --yes") != NULL);
}

TEST(cli_name_checks)
{
    struct berth_err err = BERTH_ERR_INIT;
    ASSERT_RC(berth_client_check_registry_arg("-n", "teamreg1", BERTH_CLIENT_WANT_RESOURCE, &err), BERTH_OK);
    ASSERT_RC(berth_client_check_registry_arg("-n", "TeamReg1", BERTH_CLIENT_WANT_RESOURCE, &err), BERTH_EINVAL);
    ASSERT_EQ_STR(berth_err_msg(&err), "'TeamReg1' has uppercase letters: registry names are lowercase, use 'teamreg1'");
    ASSERT_RC(berth_client_check_registry_arg("-n", "teamreg1.localhost:5000", BERTH_CLIENT_WANT_RESOURCE, &err),
              BERTH_EINVAL);
    ASSERT_EQ_STR(berth_err_msg(&err), "-n takes a registry name like 'teamreg1', not the login server "
                                       "'teamreg1.localhost:5000'");
    ASSERT_RC(berth_client_check_registry_arg("-n", "127.0.0.1:5000", BERTH_CLIENT_WANT_RESOURCE, &err), BERTH_EINVAL);
    ASSERT_EQ_STR(berth_err_msg(&err), "-n takes a registry name (see 'berth registry list'), not the login server "
                                       "'127.0.0.1:5000'");
    ASSERT_RC(berth_client_check_registry_arg("login", "teamreg1.localhost:5000", BERTH_CLIENT_WANT_LOGIN_SERVER, &err),
              BERTH_OK);
    ASSERT_RC(berth_client_check_registry_arg("login", "127.0.0.1:5000", BERTH_CLIENT_WANT_LOGIN_SERVER, &err),
              BERTH_OK);
    ASSERT_RC(berth_client_check_registry_arg("login", "teamreg1", BERTH_CLIENT_WANT_LOGIN_SERVER, &err), BERTH_EINVAL);
    ASSERT_EQ_STR(berth_err_msg(&err), "login takes a login server like 'teamreg1.localhost:5000', not the registry "
                                       "name 'teamreg1'");
    ASSERT_RC(berth_client_check_registry_arg("login", "TeamReg1.localhost", BERTH_CLIENT_WANT_LOGIN_SERVER, &err),
              BERTH_EINVAL);
    ASSERT_TRUE(strstr(berth_err_msg(&err), "use 'teamreg1.localhost'") != NULL);
    ASSERT_RC(berth_client_check_registry_arg("-n", "", BERTH_CLIENT_WANT_RESOURCE, &err), BERTH_EINVAL);
}
