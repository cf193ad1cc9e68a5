/* test_wiring.c - which metadata store a configuration names (berth_meta_choose), and that the text
 * shown for it in messages and logs never holds the password. */
#include <stdlib.h>
#include <string.h>
#include "config.h"
#include "meta.h"
#include "wiring.h"
#include "test.h"

static void choose(const char *meta, const struct berth_meta_ops *want, const char *dsn, const char *shown)
{
    struct berth_config cfg;
    struct berth_err err = BERTH_ERR_INIT;
    const struct berth_meta_ops *ops = NULL;
    char *d = NULL, *s = NULL;

    berth_config_init(&cfg);
    ASSERT_RC(berth_config_set(&cfg, "data", "/srv/berth", &err), BERTH_OK);
    ASSERT_RC(berth_config_set(&cfg, "meta", meta, &err), BERTH_OK);
    ASSERT_RC(berth_meta_choose(&cfg, &ops, &d, &s, &err), BERTH_OK);
    ASSERT_TRUE(ops == want);
    ASSERT_EQ_STR(d, dsn);
    ASSERT_EQ_STR(s, shown);
    free(d);
    free(s);
    berth_config_release(&cfg);
}

TEST(wiring_meta_choice)
{
    struct berth_config cfg;
    struct berth_err err = BERTH_ERR_INIT;
    const struct berth_meta_ops *ops = NULL;
    char *d = NULL, *s = NULL;

    choose("", &berth_meta_sqlite_ops, "/srv/berth/berth.db", "/srv/berth/berth.db");
    choose("postgresql://berth@db.internal/registry", &berth_meta_pg_ops, "postgresql://berth@db.internal/registry",
           "postgresql://berth@db.internal/registry");
    /* the password never reaches a message */
    choose("postgres://berth:s3cret@db/registry?sslmode=require", &berth_meta_pg_ops,
           "postgres://berth:s3cret@db/registry?sslmode=require", "postgres://berth@db/registry?sslmode=require");
    choose("postgresql:///registry?host=/run/pg&password=s3cretpw&user=b", &berth_meta_pg_ops,
           "postgresql:///registry?host=/run/pg&password=s3cretpw&user=b",
           "postgresql:///registry?host=/run/pg&password=...&user=b");
    choose("host=/run/pg dbname=registry password=s3cret user=b", &berth_meta_pg_ops,
           "host=/run/pg dbname=registry password=s3cret user=b", "host=/run/pg dbname=registry password=... user=b");
    /* anything else is a configuration error naming the setting */
    berth_config_init(&cfg);
    ASSERT_RC(berth_config_set(&cfg, "meta", "mysql://x", &err), BERTH_OK);
    ASSERT_RC(berth_meta_choose(&cfg, &ops, &d, &s, &err), BERTH_ECONFIG);
    ASSERT_TRUE(strstr(err.msg, "'meta'") != NULL);
    berth_config_release(&cfg);
}
