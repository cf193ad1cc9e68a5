/*
 * events.h - the login and repository event logs on their way to the
 * metadata store: a bounded in-memory queue that request threads fill
 * without ever blocking, and one writer thread that stores the events in
 * batches and prunes old ones.
 *
 * Threads: events_record and events_push may be called from any thread;
 * the writer is the only thread that talks to the store for events.
 * When the queue is full an event is dropped, counted in
 * berth_events_dropped_total and in events_dropped(), and a warning is
 * logged at most once per second with the running count.
 */
#ifndef BERTH_HTTP_EVENTS_H
#define BERTH_HTTP_EVENTS_H

#include <stdint.h>
#include "berth/config.h"
#include "berth/err.h"
#include "berth/meta.h"

struct berth_req;
struct authz;
struct events;

#define EVENTS_BATCH 500       /* most events written in one transaction */
#define EVENTS_FLUSH_MS 200    /* longest an event waits in the queue while the writer is idle */
#define EVENTS_PRUNE_S 60      /* how often old events are deleted */

/*
 * A queue of cap events. With meta != NULL a writer thread stores them
 * (registry names and login servers are resolved through az, which may be
 * NULL); with meta == NULL nothing is written (for tests). Borrows meta, az
 * and cfg (cfg may be NULL: retention defaults) until events_free.
 */
enum berth_rc events_new(struct berth_meta *meta, struct authz *az, const struct berth_config *cfg, size_t cap,
                         struct events **out, struct berth_err *err);
/* Writes every queued event, stops the writer and frees everything. NULL is a no-op. */
void events_free(struct events *ev);

/* Queues e (takes it): 0 queued, 1 dropped because the queue was full (e is freed). */
int events_push(struct events *ev, struct berth_meta_event *e);
/* Events dropped so far, and events waiting to be written. */
uint64_t events_dropped(struct events *ev);
size_t events_pending(struct events *ev);

/*
 * At the end of a request: queues its login event (a credential endpoint, a
 * request that carried credentials or was refused for them or by network
 * rules) and its repository event (push, pull, delete), when it has them.
 * Copies a few strings; never blocks on the store.
 */
void events_record(struct events *ev, struct berth_req *req);

#endif
