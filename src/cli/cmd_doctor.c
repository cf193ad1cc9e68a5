/*
 * cmd_doctor.c - `berth doctor` (and `berth serve --check`, which hands its
 * flags here): runs every server health check of doctor.c against a data
 * folder and the settings serve would use, prints one line per check (or
 * JSON) and exits 1 when any check is an ERROR. It reads the database
 * read-only and creates nothing but a probe file (a probe object under
 * health/ for an S3 store), so it is safe to run beside a running server.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "alloc.h"
#include "config.h"
#include "doctor.h"
#include "log.h"
#include "meta.h"
#include "wiring.h"
#include "cli.h"
#include "banned.h"

static void doctor_usage(FILE *out)
{
    fprintf(out, "usage: berth doctor [--data DIR] [--config FILE] [--tls-cert FILE --tls-key FILE] [--json]\n"
                 "       berth serve --check [serve options]\n\n"
                 "Checks a server's data folder (writable, free space), database (readable, intact,\n"
                 "migrations current), token signing keys (present, mode 0600, not overdue for\n"
                 "rotation), TLS certificate (readable, matches its key, not expired or expiring),\n"
                 "clock, and an S3 blob store when --store names one (a small object written, read\n"
                 "and deleted). Every berth serve option is accepted and read the same way.\n"
                 "Exit status: 0 when no check is an ERROR (warnings allowed), 1 otherwise, 2 on\n"
                 "usage errors. The codes are explained in docs/check-health.md.\n");
}

int cmd_doctor(int argc, char **argv, struct cli_ctx *ctx)
{
    struct berth_config cfg;
    struct berth_err err = BERTH_ERR_INIT;
    struct berth_doctor_input in;
    struct berth_doctor_report r;
    struct berth_buf out = BERTH_BUF_INIT(0);
    char **rest = berth_xcalloc((size_t)argc + 1, sizeof(char *)), *meta_dsn = NULL, *meta_shown = NULL;
    int nrest = 0, json = 0, i, ret = 2;
    enum berth_rc rc;

    (void)ctx;
    berth_config_init(&cfg);
    for (i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
            doctor_usage(stdout);
            ret = 0;
            goto out;
        }
        if (!strcmp(argv[i], "--json")) json = 1;
        else rest[nrest++] = argv[i];
    }
    rc = berth_config_load(&cfg, nrest, rest, &err);
    if (rc) {
        fprintf(stderr, "berth: doctor: %s\n", berth_err_msg(&err));
        ret = rc == BERTH_EINVAL ? 2 : 1;
        goto out;
    }
    berth_log_threshold = (int)cfg.log_level;
    memset(&in, 0, sizeof(in));
    in.cfg = &cfg;
    if (berth_meta_choose(&cfg, &in.meta_ops, &meta_dsn, &meta_shown, &err) != BERTH_OK) {
        fprintf(stderr, "berth: doctor: %s\n", berth_err_msg(&err));
        ret = 2;
        goto out;
    }
    in.meta_dsn = meta_dsn;
    in.meta_shown = meta_shown;
    berth_doctor_run(&in, BERTH_DOCTOR_FULL, &r);
    if (json) berth_doctor_json(&r, &out);
    else berth_doctor_text(&r, &out);
    if (berth_buf_rc(&out)) {
        fprintf(stderr, "berth: doctor: cannot format the report\n");
        ret = 1;
        goto out;
    }
    fputs(berth_buf_str(&out), stdout);
    ret = berth_doctor_worst(&r) == BERTH_CHECK_ERROR ? 1 : 0;
out:
    if (meta_dsn) explicit_bzero(meta_dsn, strlen(meta_dsn));
    free(meta_dsn);
    free(meta_shown);
    berth_buf_release(&out);
    berth_config_release(&cfg);
    free(rest);
    return ret;
}
