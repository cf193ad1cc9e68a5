/*
 * cmd_migrate.c - `berth migrate`: copies a whole data set from one
 * deployment to another (the service's berth_migrate_run, migrate.h):
 * options, progress lines on stderr, the closing summary (or --json), the
 * source blobs that could not be copied, and the exit status.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <jansson.h>
#include "alloc.h"
#include "buf.h"
#include "log.h"
#include "meta.h"
#include "migrate.h"
#include "util.h"
#include "cli.h"
#include "banned.h"

static const char synopsis[] =
    "--from-data DIR [--from-meta DSN] [--from-store URL] --to-data DIR [--to-meta DSN] [--to-store URL]\n"
    "                     [--dry-run] [--progress|--no-progress] [--json]";

static const char description[] =
    "Copies a whole berth data set from one deployment to another: blobs, then the upload\n"
    "sessions in progress and the token signing keys, then every table of the metadata in one\n"
    "transaction, then a check that both sides hold the same rows and that every blob the\n"
    "metadata references is in the target store with its recorded size. Each side is described\n"
    "as 'berth serve' describes itself: a data folder, a metadata store (empty: SQLite in the\n"
    "folder; or PostgreSQL, postgresql://...) and a blob store (empty: files in the folder).\n"
    "Stop the servers of the source first. The target's metadata must be empty. A run that was\n"
    "stopped (even by kill -9) is finished by running the same command again: what is in the\n"
    "target already is skipped. Exit status: 0 when everything was copied and verified, 1 when\n"
    "something was not (source blobs that are corrupt or unreadable are listed), 2 on usage\n"
    "errors. See docs/migrate.md.";

/* The progress line of p, without a line end. */
static void progress_line(const struct berth_migrate_progress *p, int final, char *out, size_t len)
{
    char a[32], b[32], r[40], eta[32];

    switch (p->phase) {
    case BERTH_MIGRATE_BLOBS:
        berth_human_size(p->bytes, a, sizeof(a));
        berth_human_size(p->bytes_total, b, sizeof(b));
        cli_rate(p->bytes, p->elapsed_us, r, sizeof(r));
        if (final || !p->bytes || p->bytes >= p->bytes_total) snprintf(eta, sizeof(eta), "%s",
                                                                       final ? "done" : "ETA -");
        else {
            char d[24];
            cli_duration((int64_t)((double)(p->bytes_total - p->bytes) * (double)p->elapsed_us / (double)p->bytes), d,
                     sizeof(d));
            snprintf(eta, sizeof(eta), "ETA %s", d);
        }
        snprintf(out, len, "migrate: blobs %llu/%llu, %s of %s copied, %s, %s", (unsigned long long)p->done,
                 (unsigned long long)p->total, a, b, r, eta);
        break;
    case BERTH_MIGRATE_UPLOADS:
        snprintf(out, len, "migrate: upload sessions in progress %llu/%llu%s", (unsigned long long)p->done,
                 (unsigned long long)p->total, final ? ", done" : "");
        break;
    case BERTH_MIGRATE_META:
    case BERTH_MIGRATE_VERIFY:
        if (final)
            snprintf(out, len, "migrate: %s: %zu tables, done", p->phase == BERTH_MIGRATE_META ? "metadata" : "verify",
                     p->tables);
        else if (!p->table)
            snprintf(out, len, "migrate: verify: %llu referenced blobs found in the target store",
                     (unsigned long long)p->done);
        else
            snprintf(out, len, "migrate: %s: table %zu/%zu %s, %llu/%llu rows",
                     p->phase == BERTH_MIGRATE_META ? "metadata" : "verify", p->table_index + 1, p->tables,
                     p->table, (unsigned long long)p->done, (unsigned long long)p->total);
        break;
    }
}

static void show_progress(const struct berth_migrate_progress *p, int final, void *ctx)
{
    struct cli_progress *s = ctx;
    char line[256];

    if (!cli_progress_due(s, final)) return;
    progress_line(p, final, line, sizeof(line));
    cli_progress_show(s, line, final);
}

static void print_summary(const struct berth_migrate_opts *o, const struct berth_migrate_stats *st)
{
    const char *dry = o->dry_run ? " (dry run)" : "";
    char a[32], b[32], r[40], t1[24], t2[24], t3[24], tt[24];

    berth_human_size(st->bytes_copied, a, sizeof(a));
    berth_human_size(st->bytes_present, b, sizeof(b));
    cli_rate(st->bytes_copied, st->blobs_us, r, sizeof(r));
    cli_duration(st->blobs_us, t1, sizeof(t1));
    cli_duration(st->meta_us, t2, sizeof(t2));
    cli_duration(st->verify_us, t3, sizeof(t3));
    cli_duration(st->total_us, tt, sizeof(tt));
    printf("migrate%s: from %s (files in %s) to %s (files in %s)\n", dry, st->from_meta, st->from_store, st->to_meta,
           st->to_store);
    printf("migrate%s: blobs: %llu in the source: %llu %s (%s), %llu already in the target (%s)", dry,
           (unsigned long long)st->blobs, (unsigned long long)st->blobs_copied, o->dry_run ? "to copy" : "copied", a,
           (unsigned long long)st->blobs_present, b);
    if (st->blobs_replaced) printf(", %llu of them in place of damaged ones", (unsigned long long)st->blobs_replaced);
    if (!o->dry_run) printf("; %s, %s", t1, r);
    printf("\n");
    printf("migrate%s: upload sessions in progress: %llu %s, %llu already there; leftovers of an interrupted run %s:"
           " %llu\n", dry, (unsigned long long)st->uploads_copied, o->dry_run ? "to copy" : "copied",
           (unsigned long long)st->uploads_present, o->dry_run ? "to remove" : "removed",
           (unsigned long long)st->leftovers_removed);
    printf("migrate%s: signing keys: %llu %s, %llu already there; other files: %llu\n", dry,
           (unsigned long long)st->keys_copied, o->dry_run ? "to copy" : "copied", (unsigned long long)st->keys_present,
           (unsigned long long)st->files_copied);
    if (!st->target_fresh)
        printf("migrate%s: metadata: %zu tables, %llu rows, already in the target (an earlier run copied them)\n", dry,
               st->tables.n, (unsigned long long)st->rows);
    else
        printf("migrate%s: metadata: %zu tables, %llu rows %s%s%s\n", dry, st->tables.n, (unsigned long long)st->rows,
               o->dry_run ? "to copy into an empty store" : "copied in one transaction, ", o->dry_run ? "" : "in ",
               o->dry_run ? "" : t2);
    if (!o->dry_run)
        printf("migrate: verified: every table's rows equal the source's (counts and checksums), %llu referenced blobs"
               " in the target store with their sizes (%s)\nmigrate: done in %s\n",
               (unsigned long long)st->refs_checked, t3, tt);
}

static json_t *summary_json(const struct berth_migrate_opts *o, const struct berth_migrate_stats *st, int ok)
{
    json_t *tables = json_object(), *problems = json_array();
    size_t i;

    for (i = 0; i < st->tables.n; i++)
        json_object_set_new(tables, st->tables.t[i].name, json_integer(st->tables.t[i].rows));
    for (i = 0; i < st->nproblems; i++)
        json_array_append_new(problems, json_pack("{s:s,s:s}", "digest", st->problems[i].d.s, "why",
                                                  st->problems[i].why));
    return json_pack("{s:b,s:b,s:{s:s?,s:s?},s:{s:s?,s:s?},"
                     "s:{s:I,s:I,s:I,s:I,s:I,s:I},s:{s:I,s:I,s:I},s:{s:I,s:I},s:{s:I},"
                     "s:{s:b,s:I,s:o},s:{s:I},s:{s:f,s:f,s:f,s:f},s:o}",
                     "ok", ok, "dryRun", o->dry_run,
                     "from", "meta", st->from_meta, "store", st->from_store,
                     "to", "meta", st->to_meta, "store", st->to_store,
                     "blobs", "source", (json_int_t)st->blobs, "copied", (json_int_t)st->blobs_copied, "bytesCopied",
                     (json_int_t)st->bytes_copied, "present", (json_int_t)st->blobs_present, "bytesPresent",
                     (json_int_t)st->bytes_present, "replaced", (json_int_t)st->blobs_replaced,
                     "uploads", "copied", (json_int_t)st->uploads_copied, "present", (json_int_t)st->uploads_present,
                     "leftoversRemoved", (json_int_t)st->leftovers_removed,
                     "keys", "copied", (json_int_t)st->keys_copied, "present", (json_int_t)st->keys_present,
                     "files", "copied", (json_int_t)st->files_copied,
                     "metadata", "copied", st->target_fresh && !o->dry_run, "rows", (json_int_t)st->rows, "tables",
                     tables,
                     "verified", "blobs", (json_int_t)st->refs_checked,
                     "seconds", "blobs", (double)st->blobs_us / 1e6, "metadata", (double)st->meta_us / 1e6, "verify",
                     (double)st->verify_us / 1e6, "total", (double)st->total_us / 1e6,
                     "problems", problems);
}

int cmd_migrate(int argc, char **argv, struct cli_ctx *ctx)
{
    struct berth_migrate_opts o;
    struct berth_migrate_stats st;
    struct berth_err err = BERTH_ERR_INIT;
    struct cli_list pos = {NULL, 0};
    struct cli_progress show;
    int progress = 0, no_progress = 0, ret;
    enum berth_rc rc;
    size_t i;
    const struct cli_opt opts[] = {
        {"from-data", 0, CLI_OPT_STR, &o.from.data, "DIR", "the source's data folder"},
        {"from-meta", 0, CLI_OPT_STR, &o.from.meta, "DSN",
         "the source's metadata: empty for SQLite in its data folder, or PostgreSQL (postgresql://...)"},
        {"from-store", 0, CLI_OPT_STR, &o.from.store, "URL", "the source's blob store: empty for files in its data folder"},
        {"to-data", 0, CLI_OPT_STR, &o.to.data, "DIR", "the target's data folder (created if missing)"},
        {"to-meta", 0, CLI_OPT_STR, &o.to.meta, "DSN", "the target's metadata, an empty store: like --from-meta"},
        {"to-store", 0, CLI_OPT_STR, &o.to.store, "URL", "the target's blob store: like --from-store"},
        {"dry-run", 0, CLI_OPT_FLAG, &o.dry_run, NULL, "count what would be copied and write nothing"},
        {"progress", 0, CLI_OPT_FLAG, &progress, NULL, "progress lines on stderr (default: when it is a terminal)"},
        {"no-progress", 0, CLI_OPT_FLAG, &no_progress, NULL, "no progress lines"},
        {"json", 0, CLI_OPT_FLAG, &ctx->json, NULL, "print the summary as JSON"},
        CLI_OPT_END,
    };

    memset(&o, 0, sizeof(o));
    memset(&st, 0, sizeof(st));
    ret = cli_opt_parse(ctx, synopsis, description, opts, NULL, argc, argv, &pos);
    if (ret != CLI_CONTINUE) goto out;
    if (pos.n) {
        ret = cli_usage_error(ctx, "unexpected argument '%s'", pos.v[0]);
        goto out;
    }
    if (cli_need(ctx, "--from-data", o.from.data) || cli_need(ctx, "--to-data", o.to.data)) {
        ret = 2;
        goto out;
    }
    cli_progress_start(&show, 0, 0);
    show.on = no_progress ? 0 : progress || show.tty;
    o.fsync = 1;
    o.progress = show_progress;
    o.ctx = &show;
    berth_log_threshold = BERTH_LOG_WARN; /* the summary says what happened; warnings still show */
    umask(077);                           /* the database, keys and blobs are nobody else's business */
    rc = berth_migrate_run(&o, &st, &err);
    for (i = 0; i < st.nproblems; i++)
        fprintf(stderr, "berth: migrate: source blob %s %s\n", st.problems[i].d.s, st.problems[i].why);
    if (rc) {
        fprintf(stderr, "berth: migrate: %s\n", berth_err_msg(&err));
        if (rc == BERTH_EEXIST && strstr(berth_err_msg(&err), "not empty"))
            fprintf(stderr, "hint: give an empty store as the target: for PostgreSQL a new database (createdb NAME,"
                            " then --to-meta postgresql://USER@HOST/NAME), for SQLite a --to-data folder without"
                            " berth.db\n");
        ret = rc == BERTH_EINVAL || rc == BERTH_ECONFIG ? 2 : 1;
    } else {
        ret = st.nproblems ? 1 : 0;
        if (st.nproblems)
            fprintf(stderr, "berth: migrate: %zu source blob%s could not be copied (above); nothing references %s,"
                            " or the metadata copy would have stopped: remove %s with berth gc on the source, or"
                            " push %s again, then run berth migrate again\n",
                    st.nproblems, st.nproblems == 1 ? "" : "s", st.nproblems == 1 ? "it" : "them",
                    st.nproblems == 1 ? "it" : "them", st.nproblems == 1 ? "it" : "them");
    }
    if (ctx->json && (!rc || st.from_meta)) {
        json_t *j = summary_json(&o, &st, ret == 0);
        cli_out_json(stdout, j);
        json_decref(j);
    } else if (!rc) {
        print_summary(&o, &st);
    }
out:
    berth_migrate_stats_release(&st);
    cli_list_release(&pos);
    return ret;
}
