/*
 * cmd_gc.c - `berth gc`: the command over the service's gc sweep (gc.h):
 * flags, the config, opening the stores and the closing summary line.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "alloc.h"
#include "config.h"
#include "gc.h"
#include "log.h"
#include "meta.h"
#include "store.h"
#include "wiring.h"
#include "util.h"
#include "cli.h"
#include "banned.h"

static void gc_usage(FILE *out)
{
    fprintf(out, "usage: berth gc [--grace MINUTES] [--dry-run] [--verbose] [--progress|--no-progress]\n"
                 "                [--data DIR] [--config FILE]\n\n"
                 "Deletes untagged manifests nothing references, blobs no manifest or repository\n"
                 "references, expired upload sessions and stray temp files. Nothing pushed in the\n"
                 "last --grace minutes (default: the gc-grace setting, 60) is touched.\n"
                 "The last line says what the grace period held back and when it comes due.\n"
                 "--dry-run deletes nothing: on SQLite it runs over a copy of the database\n"
                 "(beside it, removed after) and counts all a real run would free; on\n"
                 "PostgreSQL it does not count the blobs that only the manifests and links it\n"
                 "would delete hold.\n"
                 "Progress goes to stderr: on by default when stderr is a terminal.\n");
}

int cmd_gc(int argc, char **argv, struct cli_ctx *ctx)
{
    struct berth_config cfg;
    struct berth_err err = BERTH_ERR_INIT;
    struct berth_meta *meta = NULL;
    const struct berth_meta_ops *mops = NULL;
    struct berth_blobstore *blobs = NULL;
    struct berth_gc_opts o;
    struct berth_gc_stats c;
    char **rest = berth_xcalloc((size_t)argc + 1, sizeof(char *));
    char *dbpath = NULL;
    int nrest = 0, i, ret = 1, exact = 0;
    int64_t grace = -1;
    enum berth_rc rc = BERTH_OK;

    (void)ctx;
    memset(&c, 0, sizeof(c));
    memset(&o, 0, sizeof(o));
    o.tty = isatty(STDERR_FILENO);
    o.progress = o.tty;
    berth_config_init(&cfg);
    for (i = 1; i < argc; i++) {
        uint64_t v;
        if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
            gc_usage(stdout);
            ret = 0;
            goto done;
        } else if (!strcmp(argv[i], "--dry-run")) {
            o.dry_run = 1;
        } else if (!strcmp(argv[i], "--verbose") || !strcmp(argv[i], "-v")) {
            o.verbose = 1;
        } else if (!strcmp(argv[i], "--progress")) {
            o.progress = 1;
        } else if (!strcmp(argv[i], "--no-progress")) {
            o.progress = 0;
        } else if (!strcmp(argv[i], "--grace")) {
            if (i + 1 >= argc || berth_parse_u64(argv[i + 1], strlen(argv[i + 1]), &v) != 0 || v > 525600) {
                fprintf(stderr, "berth: gc: --grace needs minutes in 0..525600\n");
                ret = 2;
                goto done;
            }
            grace = (int64_t)v;
            i++;
        } else {
            rest[nrest++] = argv[i];
        }
    }
    rc = berth_config_load(&cfg, nrest, rest, &err);
    if (rc) {
        ret = rc == BERTH_EINVAL ? 2 : 1;
        goto out;
    }
    berth_log_threshold = (int)cfg.log_level;
    if (grace < 0) grace = cfg.gc_grace;
    rc = berth_blobstore_open_cfg(&cfg, &blobs, &err);
    if (rc) goto out;
    {
        char *shown = NULL;
        rc = berth_meta_choose(&cfg, &mops, &dbpath, &shown, &err);
        if (!rc) rc = mops->open(dbpath, &meta, &err);
        free(shown);
        if (rc) goto out;
    }
    o.grace_min = grace;
    o.upload_ttl_s = cfg.upload_ttl;
    if (o.dry_run && !mops->shared) { /* SQLite: a real run over a copy counts everything it would free */
        char *scratch = berth_xasprintf("%s.gc-dry-run", dbpath);
        rc = berth_gc_rehearse(mops, dbpath, scratch, blobs, &o, &c, &err);
        free(scratch);
        exact = 1;
    } else {
        rc = berth_gc_run(meta, blobs, &o, &c, &err);
    }
    if (rc) goto out;
    {
        char freed[32], kept[512];
        berth_human_size(c.bytes_freed, freed, sizeof(freed));
        printf("gc%s: %llu manifests, %llu repository links, %llu blobs, %llu uploads, %llu temp files; "
               "%s %s (%llu bytes; %llu blobs checked)\n",
               o.dry_run ? " (dry run)" : "", (unsigned long long)c.manifests, (unsigned long long)c.unlinked,
               (unsigned long long)c.blobs_deleted, (unsigned long long)c.uploads, (unsigned long long)c.temp_files,
               freed, o.dry_run ? "would be freed" : "freed", (unsigned long long)c.bytes_freed,
               (unsigned long long)c.seen);
        if (o.dry_run && !exact && (c.manifests || c.unlinked))
            printf("gc (dry run): blobs that only these manifests and links hold are freed by the real run, "
                   "not counted here\n");
        berth_gc_kept_text(&c, grace, kept, sizeof(kept));
        printf("gc: %s\n", kept);
    }
    ret = c.failed ? 1 : 0;
out:
    if (rc) fprintf(stderr, "berth: gc: %s\n", berth_err_msg(&err));
done:
    if (meta) meta->ops->close(meta);
    if (blobs) blobs->ops->close(blobs);
    free(dbpath);
    free(rest);
    berth_config_release(&cfg);
    return ret;
}
