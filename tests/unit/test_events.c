/* test_events.c - the event queue: drops are counted exactly when full, and the writer stores every queued event. */
#include <stdlib.h>
#include <string.h>
#include "alloc.h"
#include "meta.h"
#include "util.h"
#include "events.h"
#include "test.h"

#define ASSERT_OK(expr) ASSERT_RC((expr), BERTH_OK)

static struct berth_meta_event *new_event(int64_t reg, int i)
{
    struct berth_meta_event *e = berth_xcalloc(1, sizeof(*e));
    e->log = i % 2 ? BERTH_EVENTS_REPOSITORY : BERTH_EVENTS_LOGIN;
    e->time_ms = berth_now_ms();
    e->reg = reg;
    e->status = 200;
    e->size = -1;
    snprintf(e->identity, sizeof(e->identity), "user%d", i);
    return e;
}

TEST(events_full_queue_drops_and_counts_exactly)
{
    struct berth_err err = BERTH_ERR_INIT;
    struct events *ev = NULL;
    int i, dropped = 0;

    ASSERT_OK(events_new(NULL, NULL, NULL, 4, &ev, &err));
    for (i = 0; i < 7; i++) dropped += events_push(ev, new_event(1, i));
    ASSERT_EQ_INT(dropped, 3);
    ASSERT_EQ_U64(events_dropped(ev), 3);
    ASSERT_EQ_U64(events_pending(ev), 4);
    events_free(ev); /* frees what was never written */
    events_free(NULL);
}

struct counter {
    int64_t n, logins;
};

static int count_event(const struct berth_meta_event *e, void *ctx)
{
    struct counter *c = ctx;
    c->n++;
    if (e->log == BERTH_EVENTS_LOGIN) c->logins++;
    return 0;
}

TEST(events_writer_stores_everything_before_free_returns)
{
    struct berth_err err = BERTH_ERR_INIT;
    struct berth_meta *m = NULL;
    struct berth_meta_registry reg;
    struct berth_meta_event_filter f;
    struct counter c = {0, 0};
    struct events *ev = NULL;
    char *dsn = berth_xasprintf("%s/events.db", berth_test_tmpdir());
    int64_t deleted = -1;
    int i;

    ASSERT_OK(berth_meta_sqlite_ops.open(dsn, &m, &err));
    memset(&reg, 0, sizeof(reg));
    snprintf(reg.name, sizeof(reg.name), "evreg");
    ASSERT_OK(m->reg->registry_create(m, &reg, &err));
    ASSERT_OK(events_new(m, NULL, NULL, 4096, &ev, &err));
    for (i = 0; i < 1234; i++) ASSERT_EQ_INT(events_push(ev, new_event(reg.id, i)), 0);
    events_free(ev);
    memset(&f, 0, sizeof(f));
    f.reg = reg.id;
    f.log = -1;
    f.limit = 100000;
    ASSERT_OK(m->events->events_query(m, &f, count_event, &c, &err));
    ASSERT_EQ_INT(c.n, 1234);
    ASSERT_EQ_INT(c.logins, 617);
    /* the size bound keeps the newest rows */
    ASSERT_OK(m->events->events_prune(m, 0, 1000, &deleted, &err));
    ASSERT_EQ_INT(deleted, 234);
    c.n = 0;
    ASSERT_OK(m->events->events_query(m, &f, count_event, &c, &err));
    ASSERT_EQ_INT(c.n, 1000);
    m->ops->close(m);
    free(dsn);
}

static int keep_last(const struct berth_meta_event *e, void *ctx)
{
    *(struct berth_meta_event *)ctx = *e;
    return 0;
}

TEST(events_insert_assigns_ids_and_keeps_the_token_id)
{
    struct berth_err err = BERTH_ERR_INIT;
    struct berth_meta *m = NULL;
    struct berth_meta_event *e[3], got;
    struct berth_meta_event_filter f;
    char *dsn = berth_xasprintf("%s/events-jti.db", berth_test_tmpdir());
    json_t *o;
    int i;

    ASSERT_OK(berth_meta_sqlite_ops.open(dsn, &m, &err));
    for (i = 0; i < 3; i++) e[i] = new_event(i, i); /* registry 0 is the directory's */
    snprintf(e[2]->jti, sizeof(e[2]->jti), "%s", "0f8e1c2a-0000-4000-8000-000000000001");
    ASSERT_OK(m->events->events_insert(m, e, 3, &err));
    ASSERT_TRUE(e[0]->id > 0);
    ASSERT_EQ_INT(e[1]->id, e[0]->id + 1);
    ASSERT_EQ_INT(e[2]->id, e[1]->id + 1);
    memset(&f, 0, sizeof(f));
    f.log = -1;
    f.limit = 10;
    f.reg = 0;
    memset(&got, 0, sizeof(got));
    ASSERT_OK(m->events->events_query(m, &f, keep_last, &got, &err));
    ASSERT_EQ_INT(got.id, e[0]->id); /* only the directory's event */
    f.all_registries = 1;
    f.reg = 12345;
    f.oldest_first = 1;
    ASSERT_OK(m->events->events_query(m, &f, keep_last, &got, &err));
    ASSERT_EQ_INT(got.id, e[2]->id); /* every registry's, the last one last */
    ASSERT_EQ_STR(got.jti, "0f8e1c2a-0000-4000-8000-000000000001");
    o = events_json(&got, 1);
    ASSERT_EQ_STR(json_string_value(json_object_get(o, "tokenId")), "0f8e1c2a-0000-4000-8000-000000000001");
    ASSERT_TRUE(json_object_get(o, "log") != NULL);
    json_decref(o);
    o = events_json(e[0], 0);
    ASSERT_TRUE(json_object_get(o, "tokenId") == NULL);
    ASSERT_TRUE(json_object_get(o, "log") == NULL);
    json_decref(o);
    for (i = 0; i < 3; i++) free(e[i]);
    m->ops->close(m);
    free(dsn);
}
