/*
 * events.h - the login and repository event logs on their way to the
 * metadata store: a bounded in-memory queue that request threads fill
 * without ever blocking, and one writer thread that stores the events in
 * batches and prunes old ones.
 *
 * Threads: events_record and events_push may be called from any thread;
 * the writer is the only thread that talks to the store for events.
 * When the queue is full an event is dropped, counted in events_dropped()
 * and in the attached service metrics (berth_events_dropped_total), and a
 * warning is logged at most once per second with the running count.
 *
 * With config event-file set, the writer also appends each stored event to
 * that file as one JSON line (events_json with "log"), renaming it to
 * FILE.1 (FILE.1 to FILE.2, ...; event-file-keep are kept) before it would
 * grow past event-file-max. The file is a copy for log pipelines; the store
 * stays the record, so a failed append is logged and counted, never retried.
 *
 * Followers (logs/stream?follow=true) wait on the writer: a follower's
 * content reader that found nothing new suspends its connection with
 * events_follow_wait; the writer resumes every waiting follower after each
 * stored batch, and each one whose wake time has come every EVENTS_FLUSH_MS.
 * Suspending and resuming are the transport's (the waiter's callbacks).
 */
#ifndef BERTH_EVENTS_H
#define BERTH_EVENTS_H

#include <jansson.h>
#include <stdint.h>
#include "access.h"
#include "config.h"
#include "err.h"
#include "meta.h"

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
/* Counts what the queue drops in m (borrowed until events_free; NULL: not counted). Before the first push. */
void events_attach(struct events *ev, struct berth_service_metrics *m);

/* Queues e (takes it): 0 queued, 1 dropped because the queue was full (e is freed). */
int events_push(struct events *ev, struct berth_meta_event *e);
/* Events dropped so far, and events waiting to be written. */
uint64_t events_dropped(struct events *ev);
size_t events_pending(struct events *ev);

/* The JSON form of e (fields in docs/api.md); with_log adds "log". The caller decrefs it. */
json_t *events_json(const struct berth_meta_event *e, int with_log);

/* ---- followers of the live stream ---- */

/*
 * One follower's place in the wait list; owned by the follower, zeroed
 * before first use, then suspend and resume set (the transport's: they stop
 * and restart conn's answer; called with the follower lock held).
 */
struct events_waiter {
    void *conn;
    void (*suspend)(void *conn);
    void (*resume)(void *conn);
    int64_t wake_ms;            /* resume by then even without new events */
    int waiting;                /* in the list, its connection suspended */
    struct events_waiter *next;
};

/* Takes a follower slot: 0 taken, nonzero when event-followers are already streaming. */
int events_follow_enter(struct events *ev);
/* Gives the slot back and takes w out of the wait list if it is still there. */
void events_follow_leave(struct events *ev, struct events_waiter *w);
/* Changes whenever a batch was stored; read it before querying for new events. */
uint64_t events_seq(struct events *ev);
/*
 * From conn's content reader, after a query found nothing newer: suspends
 * conn until the next stored batch or wake_ms. 1 suspended; 0 when events
 * were stored since seq was read (query again); -1 when the server is
 * stopping (end the stream).
 */
int events_follow_wait(struct events *ev, struct events_waiter *w, void *conn, uint64_t seq, int64_t wake_ms);
/* Ends following for good: resumes every waiting follower; later waits return -1. */
void events_follow_stop(struct events *ev);

/* What a finished request did, besides who called: the transport's part of its events. */
struct berth_event_facts {
    int login;                  /* a login event: a credential endpoint, or a request that carried
                                   credentials or was refused for them or by network rules */
    const char *repo_op;        /* repository event: push, pull, untag, delete, blob_push, ...; NULL: none */
    const char *operation;      /* the route's name */
    int64_t registry_id;        /* 0: the server's own (directory, management API) */
    const char *repository;     /* NULL: none */
    const char *tag;            /* NULL: none */
    const char *digest;         /* NULL or "": none */
    const char *media_type;
    const char *artifact_type;
    int64_t size;               /* -1: not known */
    const char *user_agent;     /* NULL: none */
    const char *request_id;
    int status;
    enum berth_rc rc;           /* code answered (BERTH_OK: none) */
    int64_t duration_us;
};

/*
 * At the end of a request: queues its login event and its repository event,
 * as f says, with who c was. Borrows both; copies a few strings; never
 * blocks on the store.
 */
void events_record(struct events *ev, const struct berth_caller *c, const struct berth_event_facts *f);

#endif
