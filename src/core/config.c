/*
 * config.c - settings from the one table in config.h: defaults, JSON file,
 * environment, flags; validation names the key and its allowed range.
 */
#include <ctype.h>
#include <jansson.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "alloc.h"
#include "config.h"
#include "log.h"
#include "util.h"
#include "banned.h"

struct cfg_row {
    const char *name;
    enum berth_config_type type;
    const char *def;
    int64_t min, max;
    const char *help;
    size_t off;
};

static const size_t live_offsets[] = {
#define LIVE(field) offsetof(struct berth_config, field),
    BERTH_CONFIG_LIVE(LIVE)
#undef LIVE
};

static const struct cfg_row rows[] = {
#define ROW(field, name, type, def, min, max, help) \
    {name, type, def, (int64_t)(min), (int64_t)(max), help, offsetof(struct berth_config, field)},
    BERTH_CONFIG_MAP(ROW)
#undef ROW
};
#define NROWS (sizeof(rows) / sizeof(rows[0]))

static const struct cfg_row *find(const char *name, size_t len)
{
    size_t i;
    for (i = 0; i < NROWS; i++)
        if (strlen(rows[i].name) == len && memcmp(rows[i].name, name, len) == 0) return &rows[i];
    return NULL;
}

static char **str_field(struct berth_config *cfg, const struct cfg_row *r)
{
    return (char **)(void *)((char *)cfg + r->off);
}

static int64_t *int_field(struct berth_config *cfg, const struct cfg_row *r)
{
    return (int64_t *)(void *)((char *)cfg + r->off);
}

static void size_text(int64_t v, char *out, size_t n)
{
    if (v && v % (1024LL * 1024 * 1024) == 0) snprintf(out, n, "%lldG", (long long)(v >> 30));
    else if (v && v % (1024 * 1024) == 0) snprintf(out, n, "%lldM", (long long)(v >> 20));
    else if (v && v % 1024 == 0) snprintf(out, n, "%lldK", (long long)(v >> 10));
    else snprintf(out, n, "%lld", (long long)v);
}

static enum berth_rc set_row(struct berth_config *cfg, const struct cfg_row *r, const char *value,
                             struct berth_err *err)
{
    uint64_t u, mult = 1;
    size_t len = strlen(value);
    char lo[32], hi[32];
    int lvl;

    switch (r->type) {
    case BERTH_CFG_STR:
        if (len > 4096) return berth_err_set(err, BERTH_ECONFIG, "config '%s': value longer than 4096 bytes", r->name);
        free(*str_field(cfg, r));
        *str_field(cfg, r) = berth_xstrdup(value);
        return BERTH_OK;
    case BERTH_CFG_BOOL:
        if (!strcmp(value, "true") || !strcmp(value, "1") || !strcmp(value, "yes") || !strcmp(value, "on"))
            *int_field(cfg, r) = 1;
        else if (!strcmp(value, "false") || !strcmp(value, "0") || !strcmp(value, "no") || !strcmp(value, "off"))
            *int_field(cfg, r) = 0;
        else
            return berth_err_set(err, BERTH_ECONFIG, "config '%s': '%s' is not a boolean (true or false)", r->name,
                                 value);
        return BERTH_OK;
    case BERTH_CFG_LEVEL:
        lvl = berth_log_level_parse(value);
        if (lvl < 0)
            return berth_err_set(err, BERTH_ECONFIG, "config '%s': '%s' is not one of error, warn, info, debug",
                                 r->name, value);
        *int_field(cfg, r) = lvl;
        return BERTH_OK;
    case BERTH_CFG_SIZE:
        if (len && strchr("kKmMgG", value[len - 1])) {
            char c = (char)tolower((unsigned char)value[len - 1]);
            mult = c == 'k' ? 1024 : c == 'm' ? 1024 * 1024 : 1024ULL * 1024 * 1024;
            len--;
        }
        /* fall through */
    case BERTH_CFG_INT:
        size_text(r->min, lo, sizeof(lo));
        size_text(r->max, hi, sizeof(hi));
        if (r->type == BERTH_CFG_INT) {
            snprintf(lo, sizeof(lo), "%lld", (long long)r->min);
            snprintf(hi, sizeof(hi), "%lld", (long long)r->max);
        }
        if (berth_parse_u64(value, len, &u) != 0 || u > (uint64_t)INT64_MAX / mult ||
            (int64_t)(u * mult) < r->min || (int64_t)(u * mult) > r->max)
            return berth_err_set(err, BERTH_ECONFIG, "config '%s': '%s' is not %s in %s..%s", r->name, value,
                                 r->type == BERTH_CFG_SIZE ? "a size" : "an integer", lo, hi);
        *int_field(cfg, r) = (int64_t)(u * mult);
        return BERTH_OK;
    }
    return berth_err_set(err, BERTH_EINTERNAL, "config '%s': bad type", r->name);
}

void berth_config_init(struct berth_config *cfg)
{
    size_t i;
    memset(cfg, 0, sizeof(*cfg));
    for (i = 0; i < NROWS; i++) {
        enum berth_rc rc = set_row(cfg, &rows[i], rows[i].def, NULL);
        if (rc) abort(); /* a default outside its own range is a build mistake */
    }
}

void berth_config_release(struct berth_config *cfg)
{
    size_t i;
    for (i = 0; i < NROWS; i++) {
        if (rows[i].type != BERTH_CFG_STR) continue;
        free(*str_field(cfg, &rows[i]));
        *str_field(cfg, &rows[i]) = NULL;
    }
    for (i = 0; i < cfg->nretired; i++) free(cfg->retired[i]);
    free(cfg->retired);
    cfg->retired = NULL;
    cfg->nretired = 0;
}

static int row_is_live(const struct cfg_row *r)
{
    size_t i;
    for (i = 0; i < sizeof(live_offsets) / sizeof(live_offsets[0]); i++)
        if (live_offsets[i] == r->off) return 1;
    return 0;
}

int berth_config_is_live(const char *name)
{
    const struct cfg_row *r = find(name, strlen(name));
    return r && row_is_live(r);
}

/* A value as the user would write it; "(hidden)" for a key that may hold a password. */
static void value_text(const struct berth_config *cfg, const struct cfg_row *r, char *out, size_t n)
{
    int64_t v;

    if (r->type == BERTH_CFG_STR) {
        const char *s = *str_field((struct berth_config *)(uintptr_t)cfg, r);
        snprintf(out, n, "%s", !strcmp(r->name, "meta") && s && *s ? "(hidden)" : s ? s : "");
        return;
    }
    v = *int_field((struct berth_config *)(uintptr_t)cfg, r);
    if (r->type == BERTH_CFG_BOOL) snprintf(out, n, "%s", v ? "true" : "false");
    else if (r->type == BERTH_CFG_LEVEL) snprintf(out, n, "%s", berth_log_level_name((int)v));
    else if (r->type == BERTH_CFG_SIZE) size_text(v, out, n);
    else snprintf(out, n, "%lld", (long long)v);
}

size_t berth_config_diff(const struct berth_config *a, const struct berth_config *b, berth_config_diff_fn fn,
                         void *arg)
{
    size_t i, n = 0;

    for (i = 0; i < NROWS; i++) {
        const struct cfg_row *r = &rows[i];
        int same;
        if (r->type == BERTH_CFG_STR) {
            const char *x = *str_field((struct berth_config *)(uintptr_t)a, r);
            const char *y = *str_field((struct berth_config *)(uintptr_t)b, r);
            same = !strcmp(x ? x : "", y ? y : "");
        } else {
            same = *int_field((struct berth_config *)(uintptr_t)a, r) ==
                   *int_field((struct berth_config *)(uintptr_t)b, r);
        }
        if (same) continue;
        n++;
        if (fn) {
            char old_text[512], new_text[512];
            value_text(a, r, old_text, sizeof(old_text));
            value_text(b, r, new_text, sizeof(new_text));
            fn(r->name, old_text, new_text, row_is_live(r), arg);
        }
    }
    return n;
}

void berth_config_apply_live(struct berth_config *dst, const struct berth_config *src)
{
    size_t i;

    for (i = 0; i < NROWS; i++) {
        const struct cfg_row *r = &rows[i];
        if (!row_is_live(r)) continue;
        if (r->type == BERTH_CFG_STR) {
            char **d = str_field(dst, r);
            const char *s = *str_field((struct berth_config *)(uintptr_t)src, r);
            char *old;
            if (!strcmp(*d, s)) continue;
            old = __atomic_exchange_n(d, berth_xstrdup(s), __ATOMIC_ACQ_REL);
            dst->retired = berth_xrealloc(dst->retired, (dst->nretired + 1) * sizeof(char *));
            dst->retired[dst->nretired++] = old;
        } else {
            __atomic_store_n(int_field(dst, r), *int_field((struct berth_config *)(uintptr_t)src, r),
                             __ATOMIC_RELAXED);
        }
    }
}

enum berth_rc berth_config_set(struct berth_config *cfg, const char *name, const char *value,
                               struct berth_err *err)
{
    const struct cfg_row *r = find(name, strlen(name));
    if (!r) return berth_err_set(err, BERTH_ECONFIG, "unknown config key '%s'", name);
    return set_row(cfg, r, value, err);
}

enum berth_rc berth_config_load_file(struct berth_config *cfg, const char *path, struct berth_err *err)
{
    json_error_t jerr;
    json_t *root = NULL, *v;
    const char *key;
    enum berth_rc rc = BERTH_OK;
    char num[32];

    root = json_load_file(path, JSON_REJECT_DUPLICATES, &jerr);
    if (!root) {
        rc = berth_err_set(err, BERTH_ECONFIG, "config file '%s': %s (line %d)", path, jerr.text, jerr.line);
        goto out;
    }
    if (!json_is_object(root)) {
        rc = berth_err_set(err, BERTH_ECONFIG, "config file '%s': must be a JSON object", path);
        goto out;
    }
    json_object_foreach(root, key, v) {
        const char *text;
        if (!strcmp(key, "config")) {
            rc = berth_err_set(err, BERTH_ECONFIG, "config file '%s': key 'config' is not allowed here", path);
            goto out;
        }
        if (json_is_string(v)) {
            text = json_string_value(v);
        } else if (json_is_integer(v)) {
            snprintf(num, sizeof(num), "%lld", (long long)json_integer_value(v));
            text = num;
        } else if (json_is_boolean(v)) {
            text = json_is_true(v) ? "true" : "false";
        } else {
            rc = berth_err_set(err, BERTH_ECONFIG, "config file '%s': key '%s' must be a string, integer or boolean",
                               path, key);
            goto out;
        }
        rc = berth_config_set(cfg, key, text, err);
        if (rc) goto out;
    }
out:
    json_decref(root);
    return rc;
}

enum berth_rc berth_config_load_env(struct berth_config *cfg, struct berth_err *err)
{
    char envname[80];
    size_t i, j;

    for (i = 0; i < NROWS; i++) {
        const char *v;
        enum berth_rc rc;
        if (!strcmp(rows[i].name, "config")) continue;
        snprintf(envname, sizeof(envname), "BERTH_%s", rows[i].name);
        for (j = 6; envname[j]; j++)
            envname[j] = envname[j] == '-' ? '_' : (char)toupper((unsigned char)envname[j]);
        v = getenv(envname);
        if (!v) continue;
        rc = set_row(cfg, &rows[i], v, err);
        if (rc) {
            size_t n = strlen(err->msg);
            snprintf(err->msg + n, sizeof(err->msg) - n, " (from %s)", envname);
            return rc;
        }
    }
    return BERTH_OK;
}

/* Splits argv[*i] into a key and value ("--k=v" or "--k v"); NULL value for a lone flag. */
static enum berth_rc flag_at(int argc, char **argv, int *i, const struct cfg_row **row, const char **value,
                             struct berth_err *err)
{
    const char *a = argv[*i], *eq;
    size_t klen;

    if (strncmp(a, "--", 2) != 0) return berth_err_set(err, BERTH_EINVAL, "unexpected argument '%s'", a);
    a += 2;
    eq = strchr(a, '=');
    klen = eq ? (size_t)(eq - a) : strlen(a);
    *row = find(a, klen);
    if (!*row) return berth_err_set(err, BERTH_EINVAL, "unknown option '--%.*s'", (int)klen, a);
    if (eq) {
        *value = eq + 1;
    } else if ((*row)->type == BERTH_CFG_BOOL && (*i + 1 >= argc || strncmp(argv[*i + 1], "--", 2) == 0)) {
        *value = "true";
    } else {
        if (*i + 1 >= argc) return berth_err_set(err, BERTH_EINVAL, "option '--%s' needs a value", (*row)->name);
        *value = argv[++*i];
    }
    return BERTH_OK;
}

enum berth_rc berth_config_load(struct berth_config *cfg, int argc, char **argv, struct berth_err *err)
{
    const struct cfg_row *r;
    const char *v, *file = getenv("BERTH_CONFIG");
    enum berth_rc rc;
    int i;

    for (i = 0; i < argc; i++) {
        rc = flag_at(argc, argv, &i, &r, &v, err);
        if (rc) return rc;
        if (!strcmp(r->name, "config")) file = v;
    }
    if (file && *file) {
        rc = berth_config_set(cfg, "config", file, err);
        if (rc) return rc;
        rc = berth_config_load_file(cfg, file, err);
        if (rc) return rc;
    }
    rc = berth_config_load_env(cfg, err);
    if (rc) return rc;
    for (i = 0; i < argc; i++) {
        rc = flag_at(argc, argv, &i, &r, &v, err);
        if (rc) return rc;
        rc = set_row(cfg, r, v, err);
        if (rc) return rc;
    }
    return BERTH_OK;
}

void berth_config_usage(FILE *out)
{
    size_t i;
    for (i = 0; i < NROWS; i++) {
        char opt[64];
        snprintf(opt, sizeof(opt), "--%s %s", rows[i].name,
                 rows[i].type == BERTH_CFG_BOOL ? "BOOL" : rows[i].type == BERTH_CFG_STR ? "TEXT"
                 : rows[i].type == BERTH_CFG_SIZE ? "SIZE" : rows[i].type == BERTH_CFG_LEVEL ? "LEVEL" : "N");
        fprintf(out, "  %-28s %s (default: %s%s)\n", opt, rows[i].help, *rows[i].def ? rows[i].def : "none",
                row_is_live(&rows[i]) ? "; live on SIGHUP" : "");
    }
    fprintf(out, "\nEvery option may also be set as BERTH_<NAME> in the environment (e.g. BERTH_LISTEN)\n"
                 "or as a key of the JSON file given to --config. Flags win over the environment,\n"
                 "which wins over the file. Sizes take K, M and G suffixes.\n"
                 "On SIGHUP (systemctl reload berth) a running server loads its settings again the same\n"
                 "way, applies those marked 'live on SIGHUP' and logs every other change as taking\n"
                 "effect at the next start; with a bad setting it keeps the ones it runs with.\n");
}
