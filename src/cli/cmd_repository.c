/*
 * cmd_repository.c - `berth repository list|show|show-tags|show-manifests|
 * delete|untag` (like `az acr repository`): the Distribution API and ACR's
 * /acr/v1 metadata of one registry,
 * with a registry access token from berth_client_registry_access_token, following
 * the Link headers of paginated lists.
 */
#include <stdlib.h>
#include <string.h>
#include "alloc.h"
#include "util.h"
#include "cli.h"
#include "banned.h"

#define ACCEPT_MANIFESTS                                                                                      \
    "application/vnd.oci.image.manifest.v1+json, application/vnd.oci.image.index.v1+json, "                  \
    "application/vnd.docker.distribution.manifest.v2+json, application/vnd.docker.distribution.manifest.list.v2+json"

struct repo_args {
    const char *registry, *repository, *image;
    int yes;
};

/* One registry session: its login server and an access token for the scope asked. */
struct reg_conn {
    char *login_server;
    char *auth;
};

static void conn_release(struct reg_conn *c)
{
    free(c->login_server);
    if (c->auth) memset(c->auth, 0, strlen(c->auth));
    free(c->auth);
}

static enum berth_rc conn_open(struct cli_ctx *ctx, const char *registry, const char *scope, struct reg_conn *c,
                               struct berth_err *err)
{
    char *tok = NULL;
    enum berth_rc rc = berth_client_registry_access_token(&ctx->client, registry, scope, &tok, NULL, &c->login_server,
                                                          err);
    if (!rc) c->auth = berth_xasprintf("Bearer %s", tok);
    if (tok) memset(tok, 0, strlen(tok));
    free(tok);
    return rc;
}

static enum berth_rc reg_req(struct cli_ctx *ctx, const struct reg_conn *c, const char *method, const char *path,
                             struct berth_client_resp *rs, struct berth_err *err)
{
    struct berth_client_req rq = {.method = method, .path = path, .login_server = c->login_server, .auth = c->auth,
                         .accept = ACCEPT_MANIFESTS};
    return berth_client_do(&ctx->client, &rq, rs, err);
}

/* GETs path and the pages its Link headers name, appending the array member key of each to all. */
static enum berth_rc get_all(struct cli_ctx *ctx, const struct reg_conn *c, const char *path, const char *key,
                             json_t *all, struct berth_err *err)
{
    char *next = berth_xstrdup(path);
    enum berth_rc rc = BERTH_OK;
    int pages = 0;

    while (next && !rc && pages++ < 10000) {
        struct berth_client_resp rs;
        json_t *page;
        rc = reg_req(ctx, c, "GET", next, &rs, err);
        free(next);
        next = NULL;
        if (!rc) {
            page = json_loadb(rs.body.p ? rs.body.p : "", rs.body.len, 0, NULL);
            if (json_is_array(json_object_get(page, key))) json_array_extend(all, json_object_get(page, key));
            else if (!page) rc = berth_err_set(err, BERTH_EUNAVAILABLE, "GET %s: the answer is not JSON", path);
            json_decref(page);
            if (rs.next) next = berth_xstrdup(rs.next);
        }
        berth_client_resp_release(&rs);
    }
    free(next);
    return rc;
}

/* Splits --image "repo:tag" or "repo@digest" into repository and reference (malloc'd). */
static int split_image(const struct cli_ctx *ctx, const char *image, char **repo, char **ref)
{
    const char *at = strchr(image, '@'), *slash = strrchr(image, '/');
    const char *colon = strrchr(image, ':');

    if (at) {
        *repo = berth_xstrndup(image, (size_t)(at - image));
        *ref = berth_xstrdup(at + 1);
    } else if (colon && (!slash || colon > slash)) {
        *repo = berth_xstrndup(image, (size_t)(colon - image));
        *ref = berth_xstrdup(colon + 1);
    } else {
        return cli_usage_error(ctx, "--image takes REPOSITORY:TAG or REPOSITORY@DIGEST, not '%s'", image);
    }
    return 0;
}

static int print_list(const struct cli_ctx *ctx, json_t *out, const struct cli_col *cols, size_t ncols)
{
    cli_print(ctx, out, cols, ncols);
    json_decref(out);
    return 0;
}

/* Wraps strings into objects {key: s} so a table can show them. */
static json_t *rows_of(const json_t *strings, const char *key)
{
    json_t *rows = json_array(), *v;
    size_t i;
    json_array_foreach(strings, i, v) json_array_append_new(rows, json_pack("{s:O}", key, v));
    return rows;
}

static int repo_list(int argc, char **argv, struct cli_ctx *ctx)
{
    static const struct cli_col cols[] = {{"REPOSITORY", "name"}};
    struct berth_err err = BERTH_ERR_INIT;
    struct repo_args a = {0};
    struct reg_conn c = {0};
    struct cli_list pos = {0};
    json_t *all = json_array(), *out = NULL;
    const struct cli_opt opts[] = {CLI_REGISTRY_OPT("name", &a.registry),
                                   CLI_OPT_END};
    int ret = cli_mgmt_parse(ctx, "-n REGISTRY [--json]", "Lists a registry's repositories.", opts, argc, argv, &pos,
                             0);

    if (ret == CLI_CONTINUE) ret = cli_need_registry(ctx, "-n", a.registry);
    if (ret) goto out;
    if (conn_open(ctx, a.registry, "registry:catalog:*", &c, &err) ||
        get_all(ctx, &c, "/v2/_catalog?n=1000", "repositories", all, &err)) {
        ret = cli_fail(&err);
        goto out;
    }
    out = ctx->json ? json_pack("{s:O}", "repositories", all) : rows_of(all, "name");
    ret = print_list(ctx, out, cols, CLI_NCOLS(cols));
out:
    json_decref(all);
    conn_release(&c);
    cli_list_release(&pos);
    return ret;
}

/* The columns of a tag's and a manifest's attributes in a table. */
static const struct cli_col detail_cols[] = {
    {"TAG", "name"}, {"DIGEST", "digest"}, {"CREATED", "createdTime"}, {"LAST UPDATE", "lastUpdateTime"}};
static const struct cli_col manifest_cols[] = {{"DIGEST", "digest"},     {"SIZE", "size"},
                                               {"PLATFORM", "platform"}, {"CREATED", "createdTime"},
                                               {"TAGS", "tags"},         {"MEDIA TYPE", "mediaType"}};

/* "linux/amd64" for a table, from an image's os and architecture; "" when unknown. */
static void add_platform(json_t *rows)
{
    json_t *r;
    size_t i;
    char p[80];

    json_array_foreach(rows, i, r) {
        const char *os = json_string_value(json_object_get(r, "os"));
        const char *arch = json_string_value(json_object_get(r, "architecture"));
        snprintf(p, sizeof(p), "%s%s%s", os ? os : "", os && arch ? "/" : "", arch ? arch : "");
        json_object_set_new(r, "platform", json_string(p));
    }
}

/* "12.3 MiB" for a table; the JSON keeps the bytes. */
static void add_human_size(json_t *rows, const char *from, const char *to)
{
    json_t *r;
    size_t i;
    char h[32];

    json_array_foreach(rows, i, r) {
        json_int_t n = json_integer_value(json_object_get(r, from));
        berth_human_size((uint64_t)(n < 0 ? 0 : n), h, sizeof(h));
        json_object_set_new(r, to, json_string(h));
    }
}

/* --orderby's value in ACR's query, or an error. */
static int orderby_query(const struct cli_ctx *ctx, const char *orderby, const char **q)
{
    *q = "";
    if (!orderby) return 0;
    if (!strcmp(orderby, "time_desc")) *q = "&orderby=time_desc";
    else if (!strcmp(orderby, "time_asc")) *q = "&orderby=time_asc";
    else return cli_usage_error(ctx, "--orderby takes time_desc or time_asc, not '%s'", orderby);
    return 0;
}

/*
 * show-tags: the tags of --repository by name (or by time with --orderby),
 * the first --top of them; --detail adds each tag's digest and times.
 * show-manifests: the manifests, each with its size, time and tags. Both
 * read ACR's /acr/v1 lists (metadata_read), as az acr repository does.
 */
static int repo_tags(int argc, char **argv, struct cli_ctx *ctx, int manifests)
{
    static const struct cli_col tag_cols[] = {{"TAG", "name"}};
    struct berth_err err = BERTH_ERR_INIT;
    struct repo_args a = {0};
    struct reg_conn c = {0};
    struct cli_list pos = {0};
    json_t *items = json_array(), *out = NULL, *v;
    char *scope = NULL, *path = NULL;
    const char *orderby = NULL, *oq = "";
    long long top = -1;
    int detail = 0;
    size_t i;
    const struct cli_opt opts[] = {CLI_REGISTRY_OPT("name", &a.registry),
                                   {"repository", 0, CLI_OPT_STR, &a.repository, "REPO", "the repository"},
                                   {"orderby", 0, CLI_OPT_STR, &orderby, "ORDER", "time_desc or time_asc"},
                                   {"top", 0, CLI_OPT_INT, &top, "N", "only the first N"},
                                   {"detail", 0, CLI_OPT_FLAG, &detail, NULL, "each tag's digest and times"},
                                   CLI_OPT_END};
    int ret = cli_mgmt_parse(ctx, "-n REGISTRY --repository REPO [--orderby time_desc|time_asc] [--top N] [--json]",
                             manifests ? "Lists a repository's manifests with their sizes, times and tags."
                                       : "Lists a repository's tags (--detail: with digests and times).",
                             opts, argc, argv, &pos, 0);

    if (ret == CLI_CONTINUE) ret = cli_need_registry(ctx, "-n", a.registry);
    if (!ret) ret = cli_need(ctx, "--repository", a.repository);
    if (!ret) ret = orderby_query(ctx, orderby, &oq);
    if (!ret && top == 0) ret = cli_usage_error(ctx, "--top takes a number of 1 or more");
    if (ret) goto out;
    scope = berth_xasprintf("repository:%s:metadata_read", a.repository);
    path = berth_xasprintf("/acr/v1/%s/%s?n=%lld%s", a.repository, manifests ? "_manifests" : "_tags",
                           top > 0 && top < 1000 ? top : 1000, oq);
    if (conn_open(ctx, a.registry, scope, &c, &err) ||
        get_all(ctx, &c, path, manifests ? "manifests" : "tags", items, &err)) {
        ret = cli_fail(&err);
        goto out;
    }
    while (top > 0 && json_array_size(items) > (size_t)top) json_array_remove(items, json_array_size(items) - 1);
    if (manifests) {
        add_human_size(items, "imageSize", "size");
        add_platform(items);
        if (ctx->json) json_array_foreach(items, i, v) {
                json_object_del(v, "size");
                json_object_del(v, "platform");
            }
        ret = print_list(ctx, json_incref(items), manifest_cols, CLI_NCOLS(manifest_cols));
    } else if (detail) {
        ret = print_list(ctx, json_incref(items), detail_cols, CLI_NCOLS(detail_cols));
    } else if (ctx->json) {
        json_t *names = json_array();
        json_array_foreach(items, i, v) json_array_append(names, json_object_get(v, "name"));
        out = json_pack("{s:s,s:o}", "name", a.repository, "tags", names);
        ret = print_list(ctx, out, tag_cols, 1);
    } else {
        ret = print_list(ctx, json_incref(items), tag_cols, 1);
    }
out:
    json_decref(items);
    free(scope);
    free(path);
    conn_release(&c);
    cli_list_release(&pos);
    return ret;
}

static int repo_show_tags(int argc, char **argv, struct cli_ctx *ctx)
{
    return repo_tags(argc, argv, ctx, 0);
}

static int repo_show_manifests(int argc, char **argv, struct cli_ctx *ctx)
{
    return repo_tags(argc, argv, ctx, 1);
}

/* ACR's path of a repository's attributes, or of its tag's or manifest's (ref: a tag, a digest, or NULL); malloc'd. */
static char *acr_path(const char *repo, const char *ref)
{
    if (!ref) return berth_xasprintf("/acr/v1/%s", repo);
    return berth_xasprintf("/acr/v1/%s/%s/%s", repo, strchr(ref, ':') ? "_manifests" : "_tags", ref);
}

/* The attributes in an /acr/v1 answer: the whole answer for a repository, else its "tag" or "manifest" (borrowed). */
static json_t *acr_item(json_t *ans, const char *ref)
{
    if (!ref) return ans;
    return json_object_get(ans, strchr(ref, ':') ? "manifest" : "tag");
}

/* show: a repository's attributes (--repository), or a tag's or manifest's (--image REPO:TAG | REPO@DIGEST). */
static int repo_show(int argc, char **argv, struct cli_ctx *ctx)
{
    static const struct cli_col repo_cols[] = {{"REPOSITORY", "imageName"}, {"MANIFESTS", "manifestCount"},
                                               {"TAGS", "tagCount"}, {"CREATED", "createdTime"},
                                               {"LAST UPDATE", "lastUpdateTime"}};
    struct berth_err err = BERTH_ERR_INIT;
    struct repo_args a = {0};
    struct reg_conn c = {0};
    struct cli_list pos = {0};
    struct berth_client_resp rs = {0, BERTH_BUF_INIT(0), NULL, NULL, NULL};
    json_t *ans = NULL, *item = NULL, *rows;
    char *repo = NULL, *ref = NULL, *scope = NULL, *path = NULL;
    const struct cli_opt opts[] = {
        CLI_REGISTRY_OPT("name", &a.registry),
        {"repository", 0, CLI_OPT_STR, &a.repository, "REPO", "the repository"},
        {"image", 0, CLI_OPT_STR, &a.image, "REF", "REPO:TAG or REPO@DIGEST instead"},
        CLI_OPT_END};
    int ret = cli_mgmt_parse(ctx, "-n REGISTRY (--repository REPO | --image REF) [--json]",
                             "Shows a repository's, a tag's or a manifest's attributes.", opts, argc, argv, &pos, 0);

    if (ret == CLI_CONTINUE) ret = cli_need_registry(ctx, "-n", a.registry);
    if (!ret && !a.image == !a.repository) ret = cli_usage_error(ctx, "give --repository or --image");
    if (!ret && a.image) ret = split_image(ctx, a.image, &repo, &ref);
    if (ret) goto out;
    if (!repo) repo = berth_xstrdup(a.repository);
    scope = berth_xasprintf("repository:%s:metadata_read", repo);
    path = acr_path(repo, ref);
    if (conn_open(ctx, a.registry, scope, &c, &err) || reg_req(ctx, &c, "GET", path, &rs, &err)) {
        ret = cli_fail(&err);
        goto out;
    }
    ans = json_loadb(rs.body.p ? rs.body.p : "", rs.body.len, 0, NULL);
    item = json_incref(acr_item(ans, ref));
    if (!json_is_object(item)) {
        berth_err_set(&err, BERTH_EUNAVAILABLE, "GET %s: the answer is not the attributes asked for", path);
        ret = cli_fail(&err);
        goto out;
    }
    if (ctx->json) {
        cli_out_json(stdout, item);
        ret = 0;
        goto out;
    }
    rows = json_array();
    json_array_append(rows, item);
    if (ref && strchr(ref, ':')) add_human_size(rows, "imageSize", "size");
    ret = print_list(ctx, rows, !ref ? repo_cols : strchr(ref, ':') ? manifest_cols : detail_cols,
                     !ref ? CLI_NCOLS(repo_cols) : strchr(ref, ':') ? CLI_NCOLS(manifest_cols) : CLI_NCOLS(detail_cols));
out:
    json_decref(ans);
    json_decref(item);
    berth_client_resp_release(&rs);
    free(repo);
    free(ref);
    free(scope);
    free(path);
    conn_release(&c);
    cli_list_release(&pos);
    return ret;
}

/* update: ACR's locks of a repository (--repository) or of a tag or manifest (--image), like az acr repository update. */
static int repo_update(int argc, char **argv, struct cli_ctx *ctx)
{
    struct berth_err err = BERTH_ERR_INIT;
    struct repo_args a = {0};
    struct reg_conn c = {0};
    struct cli_list pos = {0};
    struct berth_client_resp rs = {0, BERTH_BUF_INIT(0), NULL, NULL, NULL};
    json_t *body = json_object(), *ans = NULL, *item;
    char *repo = NULL, *ref = NULL, *scope = NULL, *path = NULL, *text = NULL;
    int write = -1, del = -1, rd = -1, ls = -1;
    const struct cli_opt opts[] = {
        CLI_REGISTRY_OPT("name", &a.registry),
        {"repository", 0, CLI_OPT_STR, &a.repository, "REPO", "the repository's own locks"},
        {"image", 0, CLI_OPT_STR, &a.image, "REF", "REPO:TAG or REPO@DIGEST: the tag's or the manifest's locks"},
        {"write-enabled", 0, CLI_OPT_BOOL, &write, "BOOL", "false: no overwriting (no push into a repository)"},
        {"delete-enabled", 0, CLI_OPT_BOOL, &del, "BOOL", "false: no deleting"},
        {"read-enabled", 0, CLI_OPT_BOOL, &rd, "BOOL", "false: no pulling"},
        {"list-enabled", 0, CLI_OPT_BOOL, &ls, "BOOL", "false: left out of lists (still read by name)"},
        CLI_OPT_END};
    int ret = cli_mgmt_parse(ctx, "-n REGISTRY (--repository REPO | --image REF) [--write-enabled BOOL] "
                                  "[--delete-enabled BOOL] [--read-enabled BOOL] [--list-enabled BOOL] [--json]",
                             "Locks or unlocks a repository, a tag or a manifest against overwriting, deleting, "
                             "pulling or listing (ACR's changeable attributes).",
                             opts, argc, argv, &pos, 0);

    if (ret == CLI_CONTINUE) ret = cli_need_registry(ctx, "-n", a.registry);
    if (!ret && !a.image == !a.repository) ret = cli_usage_error(ctx, "give --repository or --image");
    if (!ret && write < 0 && del < 0 && rd < 0 && ls < 0)
        ret = cli_usage_error(ctx, "give --write-enabled, --delete-enabled, --read-enabled or --list-enabled");
    if (!ret && a.image) ret = split_image(ctx, a.image, &repo, &ref);
    if (ret) goto out;
    if (!repo) repo = berth_xstrdup(a.repository);
    if (write >= 0) json_object_set_new(body, "writeEnabled", json_boolean(write));
    if (del >= 0) json_object_set_new(body, "deleteEnabled", json_boolean(del));
    if (rd >= 0) json_object_set_new(body, "readEnabled", json_boolean(rd));
    if (ls >= 0) json_object_set_new(body, "listEnabled", json_boolean(ls));
    text = json_dumps(body, JSON_COMPACT);
    scope = berth_xasprintf("repository:%s:metadata_read,metadata_write", repo);
    path = acr_path(repo, ref);
    if (conn_open(ctx, a.registry, scope, &c, &err)) goto fail;
    {
        struct berth_client_req rq = {.method = "PATCH", .path = path, .login_server = c.login_server, .auth = c.auth,
                                      .content_type = "application/json", .body = text, .body_len = strlen(text)};
        if (berth_client_do(&ctx->client, &rq, &rs, &err)) goto fail;
    }
    ans = json_loadb(rs.body.p ? rs.body.p : "", rs.body.len, 0, NULL);
    item = acr_item(ans, ref);
    if (ctx->json) {
        cli_out_json(stdout, item);
    } else {
        const json_t *at = json_object_get(item, "changeableAttributes");
        printf("%s%s%s: writeEnabled %s, deleteEnabled %s, readEnabled %s, listEnabled %s\n", repo,
               ref ? (strchr(ref, ':') ? "@" : ":") : "", ref ? ref : "",
               json_is_true(json_object_get(at, "writeEnabled")) ? "true" : "false",
               json_is_true(json_object_get(at, "deleteEnabled")) ? "true" : "false",
               json_is_true(json_object_get(at, "readEnabled")) ? "true" : "false",
               json_is_true(json_object_get(at, "listEnabled")) ? "true" : "false");
    }
    ret = 0;
    goto out;
fail:
    ret = cli_fail(&err);
out:
    json_decref(ans);
    json_decref(body);
    berth_client_resp_release(&rs);
    free(text);
    free(repo);
    free(ref);
    free(scope);
    free(path);
    conn_release(&c);
    cli_list_release(&pos);
    return ret;
}

/* The digest a reference names: itself when it is one, else HEAD by tag. */
static enum berth_rc digest_of(struct cli_ctx *ctx, const struct reg_conn *c, const char *repo, const char *ref,
                               char **digest, struct berth_err *err)
{
    struct berth_client_resp rs;
    char *path;
    enum berth_rc rc;

    if (strchr(ref, ':')) {
        *digest = berth_xstrdup(ref);
        return BERTH_OK;
    }
    path = berth_xasprintf("/v2/%s/manifests/%s", repo, ref);
    rc = reg_req(ctx, c, "HEAD", path, &rs, err);
    if (!rc && !rs.digest) rc = berth_err_set(err, BERTH_EUNAVAILABLE, "HEAD %s: no Docker-Content-Digest", path);
    *digest = rc ? NULL : berth_xstrdup(rs.digest);
    berth_client_resp_release(&rs);
    free(path);
    return rc;
}

/* "Deleted repository team/old: 2 manifests, 3 tags (v1, v2, latest)", or the server's answer with --json. */
static void print_repo_deleted(const struct cli_ctx *ctx, const char *repo, const struct berth_client_resp *rs)
{
    json_t *ans = json_loadb(rs->body.p ? rs->body.p : "", rs->body.len, 0, NULL);
    const json_t *mf = json_object_get(ans, "manifestsDeleted"), *tags = json_object_get(ans, "tagsDeleted"), *t;
    size_t i, nm = json_array_size(mf), nt = json_array_size(tags);

    if (ctx->json) {
        json_t *out = json_pack("{s:s,s:O?,s:O?}", "repository", repo, "manifestsDeleted", mf, "tagsDeleted", tags);
        cli_out_json(stdout, out);
        json_decref(out);
        json_decref(ans);
        return;
    }
    printf("Deleted repository %s: %zu manifest%s, %zu tag%s", repo, nm, nm == 1 ? "" : "s", nt, nt == 1 ? "" : "s");
    json_array_foreach(tags, i, t) printf("%s%s", i ? ", " : " (", json_string_value(t));
    printf("%s\n", nt ? ")" : "");
    json_decref(ans);
}

/*
 * delete: the manifest --image names (by digest, with every tag on it), or
 * the repository --repository names with everything in it. untag: the tag only.
 */
static int repo_remove(int argc, char **argv, struct cli_ctx *ctx, int untag)
{
    struct berth_err err = BERTH_ERR_INIT;
    struct repo_args a = {0};
    struct reg_conn c = {0};
    struct cli_list pos = {0};
    struct berth_client_resp rs = {0, BERTH_BUF_INIT(0), NULL, NULL, NULL};
    json_t *refs = json_array(), *r;
    char *repo = NULL, *ref = NULL, *scope = NULL, *path = NULL, *digest = NULL;
    size_t i;
    const struct cli_opt opts[] = {
        CLI_REGISTRY_OPT("name", &a.registry),
        {"image", 0, CLI_OPT_STR, &a.image, "REPO:TAG", untag ? "the tag to remove" : "REPO:TAG or REPO@DIGEST"},
        {"repository", 0, CLI_OPT_STR, &a.repository, "REPO", "delete the repository with all its manifests and tags"},
        {"yes", 'y', CLI_OPT_FLAG, &a.yes, NULL, "really delete"},
        CLI_OPT_END};
    int ret = cli_mgmt_parse(ctx, untag ? "-n REGISTRY --image REPO:TAG" : "-n REGISTRY (--image REF | --repository REPO) --yes",
                             untag ? "Removes a tag; the manifest stays."
                                   : "Deletes a manifest and every tag on it, or a repository with everything in it.",
                             opts, argc, argv, &pos, 0);

    if (ret == CLI_CONTINUE) ret = cli_need_registry(ctx, "-n", a.registry);
    if (!ret && untag && (!a.image || a.repository || a.yes)) ret = cli_usage_error(ctx, "untag takes -n and --image REPO:TAG only");
    if (!ret && !untag && !a.image == !a.repository) ret = cli_usage_error(ctx, "give --image or --repository");
    if (!ret && !untag && !a.yes) ret = cli_usage_error(ctx, "deleting cannot be undone: add --yes to go ahead");
    if (!ret && a.image) ret = split_image(ctx, a.image, &repo, &ref);
    if (!ret && untag && strchr(ref, ':')) ret = cli_usage_error(ctx, "untag takes a tag, not a digest");
    if (ret) goto out;
    if (!repo) repo = berth_xstrdup(a.repository);
    scope = berth_xasprintf(ref ? "repository:%s:pull,delete" : "repository:%s:delete", repo);
    if (conn_open(ctx, a.registry, scope, &c, &err)) goto fail;
    if (!ref) {
        /* the whole repository, untagged manifests too, in one call (az acr repository delete) */
        path = berth_xasprintf("/acr/v1/%s", repo);
        if (reg_req(ctx, &c, "DELETE", path, &rs, &err)) goto fail;
        print_repo_deleted(ctx, repo, &rs);
        ret = 0;
        goto out;
    }
    json_array_append_new(refs, json_string(ref));
    json_array_foreach(refs, i, r) {
        free(digest);
        digest = NULL;
        if (!untag && digest_of(ctx, &c, repo, json_string_value(r), &digest, &err)) {
            if (ref || err.code != BERTH_ENOENT) goto fail;
            continue; /* deleted already with a tag that shared its manifest */
        }
        free(path);
        path = berth_xasprintf("/v2/%s/manifests/%s", repo, untag ? json_string_value(r) : digest);
        berth_client_resp_release(&rs);
        if (reg_req(ctx, &c, "DELETE", path, &rs, &err)) goto fail;
        if (untag) printf("Untagged %s:%s\n", repo, json_string_value(r));
        else printf("Deleted %s@%s\n", repo, digest);
    }
    ret = 0;
    goto out;
fail:
    ret = cli_fail(&err);
out:
    berth_client_resp_release(&rs);
    json_decref(refs);
    free(repo);
    free(ref);
    free(scope);
    free(path);
    free(digest);
    conn_release(&c);
    cli_list_release(&pos);
    return ret;
}

static int repo_delete(int argc, char **argv, struct cli_ctx *ctx)
{
    return repo_remove(argc, argv, ctx, 0);
}

static int repo_untag(int argc, char **argv, struct cli_ctx *ctx)
{
    return repo_remove(argc, argv, ctx, 1);
}

static const struct cli_verb verbs[] = {
    {"list", repo_list, "list the repositories"},
    {"show", repo_show, "a repository's, a tag's or a manifest's attributes"},
    {"show-tags", repo_show_tags, "list a repository's tags (by name or time)"},
    {"show-manifests", repo_show_manifests, "list a repository's manifests with sizes, times and tags"},
    {"update", repo_update, "lock or unlock a repository, tag or manifest (--write-, --delete-, --read-, --list-enabled)"},
    {"delete", repo_delete, "delete a manifest or a whole repository (needs --yes)"},
    {"untag", repo_untag, "remove a tag"},
};

int cmd_repository(int argc, char **argv, struct cli_ctx *ctx)
{
    return cli_dispatch(ctx, "Repositories, through the registry's Distribution API (like `az acr repository`).",
                        verbs, CLI_NVERBS(verbs), argc, argv);
}
