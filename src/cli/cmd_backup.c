/*
 * cmd_backup.c - `berth backup DIR` and `berth restore DIR` over the
 * service's backup (backup.h): the settings read as serve reads them, the
 * backup folder as the one argument, progress lines on stderr, the closing
 * summary (or --json), the exit status.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <jansson.h>
#include "alloc.h"
#include "backup.h"
#include "config.h"
#include "log.h"
#include "util.h"
#include "cli.h"
#include "banned.h"

static const char backup_help[] =
    "usage: berth backup [--data DIR] [--config FILE] [--verify] [--quiet] [--json] [--no-progress]\n"
    "                    BACKUP-DIR\n\n"
    "Takes a consistent backup of a data folder while berth serve serves it: a snapshot of the\n"
    "database (SQLite's online backup), the blobs it references (hard links when BACKUP-DIR is on\n"
    "the same file system, else copies checked against their digests), the token signing keys and\n"
    "the owner's first password, and backup.json, written last. A second backup into the same\n"
    "folder fetches only the blobs it lacks and removes those no longer referenced. Blobs gc\n"
    "removes while the backup runs make it take a new snapshot. With --meta (PostgreSQL) or\n"
    "--store (S3) it refuses: see docs/operations.md.\n\n"
    "  --verify         hash the blobs BACKUP-DIR holds already (else their size is checked)\n"
    "  --quiet          no progress and no summary; errors only\n"
    "  --json           print the summary as JSON\n"
    "  --no-progress    no progress lines (by default: a live line on a terminal, else a line\n"
    "                   every 5 s of a long run)\n\n"
    "The data folder and the other settings are read as berth serve reads them (--data, BERTH_DATA,\n"
    "--config). Exit status: 0 done, 1 failed, 2 usage.\n";

static const char restore_help[] =
    "usage: berth restore --data NEW-DIR [--quiet] [--json] [--no-progress] BACKUP-DIR\n\n"
    "Makes NEW-DIR, a missing or empty folder, a data folder holding the backup in BACKUP-DIR:\n"
    "the database is checked whole (its SHA-256 against backup.json, PRAGMA integrity_check, a\n"
    "schema no newer than this berth's), every blob is copied and its digest checked, every blob\n"
    "the database references must be there, then the keys; berth.db is put in place last. Then\n"
    "'berth serve --data NEW-DIR' serves what the backup holds. With --meta (PostgreSQL) or --store\n"
    "(S3) it refuses: see docs/operations.md.\n\n"
    "  --data NEW-DIR   the new data folder (required)\n"
    "  --quiet          no progress and no summary; errors only\n"
    "  --json           print the summary as JSON\n"
    "  --no-progress    no progress lines (by default: a live line on a terminal, else a line\n"
    "                   every 5 s of a long run)\n\n"
    "Exit status: 0 done, 1 failed, 2 usage.\n";

/* The progress line of p, without a line end. */
static void progress_line(const char *cmd, const struct berth_backup_progress *p, int final, char *out, size_t len)
{
    char a[32], b[32], r[40];

    if (p->phase == BERTH_BACKUP_SNAPSHOT) {
        snprintf(out, len, "%s: database snapshot %d%s", cmd, p->round, final ? ", done" : "");
        return;
    }
    berth_human_size(p->bytes, a, sizeof(a));
    berth_human_size(p->bytes_total, b, sizeof(b));
    cli_rate(p->bytes, p->elapsed_us, r, sizeof(r));
    snprintf(out, len, "%s: blobs %llu/%llu, %s of %s, %s%s", cmd, (unsigned long long)p->done,
             (unsigned long long)p->total, a, b, r, final ? ", done" : "");
}

/* ctx: the command's name, then its progress state */
struct show {
    const char *cmd;
    struct cli_progress p;
};

static void show_progress(const struct berth_backup_progress *p, int final, void *ctx)
{
    struct show *s = ctx;
    char line[256];

    if (!cli_progress_due(&s->p, final)) return;
    progress_line(s->cmd, p, final, line, sizeof(line));
    cli_progress_show(&s->p, line, final);
}

static json_t *summary_json(int restore, const struct berth_backup_opts *o, const struct berth_backup_stats *st)
{
    json_t *j = json_pack("{s:s,s:s,s:I,s:i,s:{s:I,s:I,s:I,s:I},s:I,s:f}", restore ? "to" : "data",
                          restore ? o->to : o->data, "dir", o->dir, "created", (json_int_t)st->info.created_s,
                          "schemaVersion", st->info.schema_version, "blobs", "count", (json_int_t)st->info.blobs,
                          "bytes", (json_int_t)st->info.blob_bytes, "copied", (json_int_t)st->copied, "bytesCopied",
                          (json_int_t)st->bytes_copied, "keys", (json_int_t)st->keys, "seconds",
                          (double)st->total_us / 1e6);
    json_t *tables = json_object();
    size_t i;

    for (i = 0; i < st->info.tables.n; i++)
        json_object_set_new(tables, st->info.tables.t[i].name, json_integer(st->info.tables.t[i].rows));
    json_object_set_new(j, "tables", tables);
    if (!restore) {
        json_t *b = json_object_get(j, "blobs");
        json_object_set_new(b, "linked", json_integer((json_int_t)st->linked));
        json_object_set_new(b, "present", json_integer((json_int_t)st->present));
        json_object_set_new(b, "replaced", json_integer((json_int_t)st->replaced));
        json_object_set_new(b, "pruned", json_integer((json_int_t)st->pruned));
        json_object_set_new(b, "vanished", json_integer((json_int_t)st->vanished));
        json_object_set_new(j, "snapshots", json_integer(st->rounds));
        json_object_set_new(j, "databaseBytes", json_integer((json_int_t)st->info.db_bytes));
    }
    return j;
}

static int64_t rows_of(const struct berth_backup_stats *st, const char *table)
{
    size_t i;

    for (i = 0; i < st->info.tables.n; i++)
        if (!strcmp(st->info.tables.t[i].name, table)) return st->info.tables.t[i].rows;
    return 0;
}

static void print_summary(int restore, const struct berth_backup_opts *o, const struct berth_backup_stats *st)
{
    char all[32], cp[32], t[24];

    berth_human_size(st->info.blob_bytes, all, sizeof(all));
    berth_human_size(st->bytes_copied, cp, sizeof(cp));
    cli_duration(st->total_us, t, sizeof(t));
    if (restore) {
        printf("restore: %s -> %s: %lld repositories, %lld manifests, %lld tags; %llu blobs (%s) copied and verified,"
               " %llu signing keys; schema version %d; %s\n", o->dir, o->to, (long long)rows_of(st, "repositories"),
               (long long)rows_of(st, "manifests"), (long long)rows_of(st, "tags"), (unsigned long long)st->copied,
               cp, (unsigned long long)st->keys, st->info.schema_version, t);
        return;
    }
    printf("backup: %s -> %s: %lld repositories, %lld manifests, %lld tags; %llu blobs (%s): %llu linked, %llu"
           " copied (%s), %llu already there, %llu removed; %llu signing keys; %d snapshot%s; %s\n", o->data, o->dir,
           (long long)rows_of(st, "repositories"), (long long)rows_of(st, "manifests"), (long long)rows_of(st, "tags"),
           (unsigned long long)st->info.blobs, all, (unsigned long long)st->linked, (unsigned long long)st->copied, cp,
           (unsigned long long)st->present, (unsigned long long)st->pruned, (unsigned long long)st->keys, st->rounds,
           st->rounds == 1 ? "" : "s", t);
}

/* Both commands: options, the settings, the run, the output. */
static int run(int restore, int argc, char **argv, struct cli_ctx *ctx)
{
    const char *cmd = restore ? "restore" : "backup";
    struct berth_config cfg;
    struct berth_err err = BERTH_ERR_INIT;
    struct berth_backup_opts o;
    struct berth_backup_stats st;
    struct show show;
    char **rest = berth_xcalloc((size_t)argc + 1, sizeof(char *));
    const char *dir = NULL;
    int nrest = 0, i, ret = 2, quiet = 0, no_progress = 0, data_given = 0;
    enum berth_rc rc;

    memset(&o, 0, sizeof(o));
    memset(&st, 0, sizeof(st));
    berth_config_init(&cfg);
    for (i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
            fputs(restore ? restore_help : backup_help, stdout);
            ret = 0;
            goto out;
        } else if (!strcmp(a, "--quiet") || !strcmp(a, "-q")) {
            quiet = 1;
        } else if (!strcmp(a, "--json")) {
            ctx->json = 1;
        } else if (!strcmp(a, "--no-progress")) {
            no_progress = 1;
        } else if (!restore && !strcmp(a, "--verify")) {
            o.verify = 1;
        } else if (!strncmp(a, "--", 2) && a[2]) {
            /* a setting for the config table, with its value */
            data_given |= !strcmp(a, "--data") || !strncmp(a, "--data=", 7);
            rest[nrest++] = argv[i];
            if (!strchr(a, '=') && i + 1 < argc && strncmp(argv[i + 1], "--", 2) != 0) rest[nrest++] = argv[++i];
        } else if (!dir && a[0] != '-') {
            dir = a;
        } else {
            fprintf(stderr, "berth %s: unexpected argument '%s'; see 'berth %s --help'\n", cmd, a, cmd);
            goto out;
        }
    }
    if (!dir) {
        fprintf(stderr, "berth %s: the backup folder is required; see 'berth %s --help'\n", cmd, cmd);
        goto out;
    }
    if (restore && !data_given) {
        fprintf(stderr, "berth restore: --data NEW-DIR is required (the new data folder);"
                        " see 'berth restore --help'\n");
        goto out;
    }
    rc = berth_config_load(&cfg, nrest, rest, &err);
    if (rc) {
        fprintf(stderr, "berth %s: %s\n", cmd, berth_err_msg(&err));
        ret = rc == BERTH_EINVAL ? 2 : 1;
        goto out;
    }
    berth_log_threshold = cfg.log_level < BERTH_LOG_WARN ? (int)cfg.log_level : BERTH_LOG_WARN;
    o.data = cfg.data;
    o.meta = cfg.meta;
    o.store = cfg.store;
    o.dir = dir;
    if (restore) o.to = cfg.data;
    show.cmd = cmd;
    cli_progress_start(&show.p, !quiet && !no_progress, 1);
    o.progress = show_progress;
    o.ctx = &show;
    umask(077); /* the database, keys and blobs are nobody else's business */
    rc = restore ? berth_restore_run(&o, &st, &err) : berth_backup_run(&o, &st, &err);
    if (rc) {
        fprintf(stderr, "berth: %s: %s\n", cmd, berth_err_msg(&err));
        if (st.unfinished)
            fprintf(stderr, "hint: '%s' holds a restore that did not finish (it has no berth.db yet);"
                            " remove it before trying again\n", o.to);
        ret = 1;
        goto out;
    }
    ret = 0;
    if (ctx->json) {
        json_t *j = summary_json(restore, &o, &st);
        cli_out_json(stdout, j);
        json_decref(j);
    } else if (!quiet) {
        print_summary(restore, &o, &st);
    }
out:
    berth_config_release(&cfg);
    free(rest);
    return ret;
}

int cmd_backup(int argc, char **argv, struct cli_ctx *ctx)
{
    return run(0, argc, argv, ctx);
}

int cmd_restore(int argc, char **argv, struct cli_ctx *ctx)
{
    return run(1, argc, argv, ctx);
}
