/*
 * cmd_network.c - `berth network-rule list|add|remove` (like `az acr
 * network-rule`): a registry's IP rules. The default action and public
 * access are set with `berth registry update`.
 */
#include <stdlib.h>
#include <string.h>
#include "alloc.h"
#include "cli.h"
#include "banned.h"

static const struct cli_col cols[] = {
    {"DEFAULT ACTION", "defaultAction"}, {"IP RULES", "ipRules"},
};

static int rule_run(int argc, char **argv, struct cli_ctx *ctx, const char *method)
{
    struct cli_list pos = {0};
    const char *reg = NULL, *ip = NULL;
    char *path = NULL, *q = NULL;
    json_t *body = NULL;
    const struct cli_opt opts[] = {
        {"ip-address", 0, CLI_OPT_STR, &ip, "ADDR_OR_CIDR", "an IPv4 or IPv6 address or range"},
        CLI_REGISTRY_OPT("name", &reg),
        CLI_OPT_END};
    int list = !strcmp(method, "GET");
    int ret = cli_mgmt_parse(ctx, list ? "-n REGISTRY [--json]" : "-n REGISTRY --ip-address ADDR_OR_CIDR",
                             list ? "Shows a registry's default action and IP rules."
                                  : !strcmp(method, "POST") ? "Adds an IP rule that lets clients in."
                                                            : "Removes an IP rule.",
                             list ? opts + 1 : opts /* list takes no --ip-address */, argc, argv, &pos, 0);

    if (ret == CLI_CONTINUE) ret = cli_need_registry(ctx, "-n", reg);
    if (!ret && !list) ret = cli_need(ctx, "--ip-address", ip);
    if (ret) goto out;
    if (list) {
        path = berth_xasprintf("/registries/%s/networkRuleSet", reg);
    } else if (!strcmp(method, "POST")) {
        path = berth_xasprintf("/registries/%s/networkRuleSet/ipRules", reg);
        body = json_pack("{s:s,s:s}", "action", "Allow", "value", ip);
    } else {
        q = berth_client_query_escape(ip);
        path = berth_xasprintf("/registries/%s/networkRuleSet/ipRules?value=%s", reg, q);
    }
    ret = cli_call(ctx, method, path, body, cols, CLI_NCOLS(cols), NULL);
out:
    free(path);
    free(q);
    cli_list_release(&pos);
    return ret;
}

static int rule_list(int argc, char **argv, struct cli_ctx *ctx)
{
    return rule_run(argc, argv, ctx, "GET");
}

static int rule_add(int argc, char **argv, struct cli_ctx *ctx)
{
    return rule_run(argc, argv, ctx, "POST");
}

static int rule_remove(int argc, char **argv, struct cli_ctx *ctx)
{
    return rule_run(argc, argv, ctx, "DELETE");
}

static const struct cli_verb verbs[] = {
    {"list", rule_list, "show the default action and the IP rules"},
    {"add", rule_add, "add an IP rule"},
    {"remove", rule_remove, "remove an IP rule"},
};

int cmd_network(int argc, char **argv, struct cli_ctx *ctx)
{
    return cli_dispatch(ctx, "A registry's network rules (like `az acr network-rule`).", verbs, CLI_NVERBS(verbs),
                        argc, argv);
}
