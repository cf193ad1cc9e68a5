/*
 * uploads.h - the in-memory side of upload sessions: the running hash and
 * size of each session, so a chunk costs only its own bytes. The table is
 * a cache: after a restart (or eviction) a session's hash is rebuilt from the
 * store's bytes on first use. The durable record is the metadata store's.
 */
#ifndef BERTH_HTTP_UPLOADS_H
#define BERTH_HTTP_UPLOADS_H

#include <stdint.h>
#include "err.h"
#include "meta.h"
#include "oci.h"
#include "store.h"

/* One session. While busy, only the request that acquired it touches it. */
struct upload_session {
    char uuid[37];
    char repo[BERTH_NAME_MAX + 1];
    uint64_t size;          /* bytes received and hashed */
    char *store_ext;        /* the store's resume data (berth_upload_state.ext), or NULL */
    struct berth_hasher h;  /* sha256 over [0, size) */
    int ready;              /* size and h are valid */
    int busy;               /* guarded by the table lock */
    int64_t used_us;        /* last release, for eviction */
    struct upload_session *next;
};

struct upload_table;

/*
 * Takes the session uuid for exclusive use by one request. The session must
 * be recorded in meta for repo of registry reg (else BERTH_EUPLOADUNKNOWN); another request
 * using it gives BERTH_EBUSY. On success the session is ready (its hash is
 * rebuilt from the store when needed).
 */
enum berth_rc upload_acquire(struct upload_table *t, struct berth_meta *m, struct berth_blobstore *bs,
                             const char *uuid, int64_t reg, const char *repo, struct upload_session **out,
                             struct berth_err *err);
/* Gives the session back; forget != 0 drops it from the table (it ended). */
void upload_release(struct upload_table *t, struct upload_session *s, int forget);
/* A session outside the table (monolithic POST). */
struct upload_session *upload_session_new(const char *uuid, const char *repo);
void upload_session_free(struct upload_session *s);
/* Size of a session if the table holds it ready; -1 otherwise. */
int64_t upload_peek_size(struct upload_table *t, const char *uuid);

#endif
