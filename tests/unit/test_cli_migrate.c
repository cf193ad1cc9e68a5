/* test_cli_migrate.c - what berth migrate prints: durations, rates, and the progress line of each phase. */
#include "../../src/cli/cmd_migrate.c"
#include "test.h"

static const char *dur(int64_t us)
{
    static char out[32];
    cli_duration(us, out, sizeof(out));
    return out;
}

static const char *line(const struct berth_migrate_progress *p, int final)
{
    static char out[256];
    progress_line(p, final, out, sizeof(out));
    return out;
}

TEST(cli_migrate_durations_and_rates)
{
    char r[40];

    ASSERT_EQ_STR(dur(0), "0.0s");
    ASSERT_EQ_STR(dur(2500000), "2.5s");
    ASSERT_EQ_STR(dur(45900000), "45s");
    ASSERT_EQ_STR(dur(125000000), "2m05s");
    ASSERT_EQ_STR(dur(3725000000LL), "1h02m");
    cli_rate(0, 1000000, r, sizeof(r));
    ASSERT_EQ_STR(r, "-");
    cli_rate(10 << 20, 0, r, sizeof(r));
    ASSERT_EQ_STR(r, "-");
    cli_rate(10 << 20, 2000000, r, sizeof(r));
    ASSERT_EQ_STR(r, "5.0 MiB/s");
}

TEST(cli_migrate_progress_lines)
{
    struct berth_migrate_progress p;

    memset(&p, 0, sizeof(p));
    p.phase = BERTH_MIGRATE_BLOBS;
    p.done = 40;
    p.total = 100;
    p.bytes = 1 << 30;
    p.bytes_total = 3u << 30;
    p.elapsed_us = 10000000;
    /* 1 GiB in 10 s: the 2 GiB left take 20 s more */
    ASSERT_EQ_STR(line(&p, 0), "migrate: blobs 40/100, 1.0 GiB of 3.0 GiB copied, 102.4 MiB/s, ETA 20s");
    p.bytes = 0;
    ASSERT_EQ_STR(line(&p, 0), "migrate: blobs 40/100, 0 B of 3.0 GiB copied, -, ETA -");
    p.done = 100;
    p.bytes = p.bytes_total;
    ASSERT_EQ_STR(line(&p, 1), "migrate: blobs 100/100, 3.0 GiB of 3.0 GiB copied, 307.2 MiB/s, done");

    memset(&p, 0, sizeof(p));
    p.phase = BERTH_MIGRATE_META;
    p.table = "manifests";
    p.table_index = 6;
    p.tables = 19;
    p.done = 1500;
    p.total = 5000;
    ASSERT_EQ_STR(line(&p, 0), "migrate: metadata: table 7/19 manifests, 1500/5000 rows");
    ASSERT_EQ_STR(line(&p, 1), "migrate: metadata: 19 tables, done");
    p.phase = BERTH_MIGRATE_VERIFY;
    ASSERT_EQ_STR(line(&p, 0), "migrate: verify: table 7/19 manifests, 1500/5000 rows");
    p.table = NULL;
    p.done = 12;
    ASSERT_EQ_STR(line(&p, 0), "migrate: verify: 12 referenced blobs found in the target store");
    p.phase = BERTH_MIGRATE_UPLOADS;
    p.done = 1;
    p.total = 2;
    ASSERT_EQ_STR(line(&p, 0), "migrate: upload sessions in progress 1/2");
}
