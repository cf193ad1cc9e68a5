/*
 * cmd_scopemap.c - `berth scope-map create|list|show|update|delete` (like
 * `az acr scope-map`): `--repository REPO ACTION...` becomes the actions
 * "repositories/REPO/ACTION".
 */
#include <stdlib.h>
#include <string.h>
#include "alloc.h"
#include "cli.h"
#include "banned.h"

static const struct cli_col cols[] = {
    {"NAME", "name"}, {"TYPE", "type"}, {"DESCRIPTION", "description"}, {"ACTIONS", "actions"},
    {"CREATED", "creationDate"},
};

struct map_args {
    const char *registry, *name, *description;
    struct cli_groups add, remove;
};

#define MAP_ID_OPTS(a) \
    CLI_REGISTRY_OPT("registry", &(a)->registry), {"name", 0, CLI_OPT_STR, &(a)->name, "MAP", "the scope map's name"}

static void args_release(struct map_args *a)
{
    cli_groups_release(&a->add);
    cli_groups_release(&a->remove);
}

int cli_repo_actions(const struct cli_ctx *ctx, const char *flag, const struct cli_groups *g, json_t *actions)
{
    size_t i, j;
    for (i = 0; i < g->n; i++) {
        if (g->g[i].n < 2)
            return cli_usage_error(ctx, "%s %s needs at least one action (content/read, content/write, ...)", flag,
                                   g->g[i].v[0]);
        for (j = 1; j < g->g[i].n; j++) {
            char *s = berth_xasprintf("repositories/%s/%s", g->g[i].v[0], g->g[i].v[j]);
            json_array_append_new(actions, json_string(s));
            free(s);
        }
    }
    return 0;
}

static int map_create(int argc, char **argv, struct cli_ctx *ctx)
{
    struct map_args a = {0};
    struct cli_list pos = {0};
    json_t *body = NULL;
    char *path = NULL;
    const struct cli_opt opts[] = {
        MAP_ID_OPTS(&a),
        {"repository", 0, CLI_OPT_GROUP, &a.add, "REPO ACTION", "a repository (or pattern team/*) and its actions"},
        {"description", 0, CLI_OPT_STR, &a.description, "TEXT", "what the map is for"},
        CLI_OPT_END};
    int ret = cli_mgmt_parse(ctx, "-n REGISTRY --name MAP --repository REPO ACTION... [--description TEXT]",
                             "Creates a scope map; ACTION is content/read, content/write, content/delete, "
                             "metadata/read or metadata/write.", opts, argc, argv, &pos, 0);

    if (ret == CLI_CONTINUE) ret = cli_need_registry(ctx, "-n", a.registry);
    if (!ret) ret = cli_need(ctx, "--name", a.name);
    if (!ret && !a.add.n) ret = cli_usage_error(ctx, "--repository REPO ACTION... is required");
    if (ret) goto out;
    body = json_pack("{s:s,s:[]}", "name", a.name, "actions");
    if (a.description) json_object_set_new(body, "description", json_string(a.description));
    ret = cli_repo_actions(ctx, "--repository", &a.add, json_object_get(body, "actions"));
    if (ret) goto out;
    path = berth_xasprintf("/registries/%s/scopeMaps", a.registry);
    ret = cli_call(ctx, "POST", path, body, cols, CLI_NCOLS(cols), NULL);
    body = NULL;
out:
    json_decref(body);
    free(path);
    args_release(&a);
    cli_list_release(&pos);
    return ret;
}

/* Removes the strings of drop from actions. */
static void remove_actions(json_t *actions, const json_t *drop)
{
    size_t i, j;
    for (i = json_array_size(actions); i-- > 0;)
        for (j = 0; j < json_array_size(drop); j++)
            if (json_equal(json_array_get(actions, i), json_array_get(drop, j))) {
                json_array_remove(actions, i);
                break;
            }
}

static int map_update(int argc, char **argv, struct cli_ctx *ctx)
{
    struct berth_err err = BERTH_ERR_INIT;
    struct map_args a = {0};
    struct cli_list pos = {0};
    json_t *cur = NULL, *body = NULL, *add = json_array(), *drop = json_array(), *actions;
    char *path = NULL;
    const struct cli_opt opts[] = {
        MAP_ID_OPTS(&a),
        {"add-repository", 0, CLI_OPT_GROUP, &a.add, "REPO ACTION", "actions to add"},
        {"remove-repository", 0, CLI_OPT_GROUP, &a.remove, "REPO ACTION", "actions to remove"},
        {"description", 0, CLI_OPT_STR, &a.description, "TEXT", "a new description"},
        CLI_OPT_END};
    int ret = cli_mgmt_parse(ctx, "-n REGISTRY --name MAP [--add-repository REPO ACTION...] "
                                  "[--remove-repository REPO ACTION...] [--description TEXT]",
                             "Changes a scope map's actions or description.", opts, argc, argv, &pos, 0);

    if (ret == CLI_CONTINUE) ret = cli_need_registry(ctx, "-n", a.registry);
    if (!ret) ret = cli_need(ctx, "--name", a.name);
    if (!ret && !a.add.n && !a.remove.n && !a.description)
        ret = cli_usage_error(ctx, "nothing to update: give --add-repository, --remove-repository or --description");
    if (!ret) ret = cli_repo_actions(ctx, "--add-repository", &a.add, add);
    if (!ret) ret = cli_repo_actions(ctx, "--remove-repository", &a.remove, drop);
    if (ret) goto out;
    path = berth_xasprintf("/registries/%s/scopeMaps/%s", a.registry, a.name);
    body = json_object();
    if (a.description) json_object_set_new(body, "description", json_string(a.description));
    if (a.add.n || a.remove.n) {
        if (berth_client_api(&ctx->client, "GET", path, NULL, &cur, &err)) {
            ret = cli_fail(&err);
            goto out;
        }
        actions = json_deep_copy(json_object_get(cur, "actions"));
        if (!json_is_array(actions)) {
            json_decref(actions);
            actions = json_array();
        }
        remove_actions(actions, drop);
        remove_actions(actions, add); /* no duplicates */
        json_array_extend(actions, add);
        json_object_set_new(body, "actions", actions);
    }
    ret = cli_call(ctx, "PATCH", path, body, cols, CLI_NCOLS(cols), NULL);
    body = NULL;
out:
    json_decref(cur);
    json_decref(body);
    json_decref(add);
    json_decref(drop);
    free(path);
    args_release(&a);
    cli_list_release(&pos);
    return ret;
}

static int map_list(int argc, char **argv, struct cli_ctx *ctx)
{
    static const struct cli_simple v = {"GET", CLI_NEED_REGISTRY, "-n REGISTRY [--json]",
                                        "Lists a registry's scope maps: the five system maps, then its own.", NULL,
                                        "/registries/%s/scopeMaps", NULL, cols, CLI_NCOLS(cols)};
    return cli_simple_verb(ctx, &v, argc, argv);
}

static int map_show(int argc, char **argv, struct cli_ctx *ctx)
{
    static const struct cli_simple v = {"GET", CLI_NEED_REGISTRY | CLI_NEED_NAME, "-n REGISTRY --name MAP [--json]",
                                        "Shows a scope map.", "the scope map's name", "/registries/%s/scopeMaps/%s",
                                        NULL, cols, CLI_NCOLS(cols)};
    return cli_simple_verb(ctx, &v, argc, argv);
}

static int map_delete(int argc, char **argv, struct cli_ctx *ctx)
{
    static const struct cli_simple v = {"DELETE", CLI_NEED_REGISTRY | CLI_NEED_NAME, "-n REGISTRY --name MAP",
                                        "Deletes a scope map no token uses.", "the scope map's name",
                                        "/registries/%s/scopeMaps/%s", "Registry '%s': deleted scope map '%s'",
                                        NULL, 0};
    return cli_simple_verb(ctx, &v, argc, argv);
}

static const struct cli_verb verbs[] = {
    {"create", map_create, "create a scope map"},
    {"list", map_list, "list a registry's scope maps"},
    {"show", map_show, "show a scope map"},
    {"update", map_update, "add or remove actions, change the description"},
    {"delete", map_delete, "delete a scope map"},
};

int cmd_scopemap(int argc, char **argv, struct cli_ctx *ctx)
{
    return cli_dispatch(ctx, "A registry's scope maps: the repository actions tokens get.", verbs, CLI_NVERBS(verbs),
                        argc, argv);
}
