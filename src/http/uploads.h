/*
 * uploads.h - the upload sessions a request works on. A session's state
 * (bytes received, running hash, the blob store's resume data) lives in the
 * metadata store and is loaded when a request takes the session and saved
 * when it gives it back, so any server sharing the metadata can take the
 * next request of an upload another one started. The table here only keeps
 * two requests of this server out of one session; the metadata's session
 * lock keeps other servers out.
 */
#ifndef BERTH_HTTP_UPLOADS_H
#define BERTH_HTTP_UPLOADS_H

#include <stdint.h>
#include "err.h"
#include "meta.h"
#include "oci.h"
#include "store.h"

/* One session, taken by one request. */
struct upload_session {
    char uuid[37];
    char repo[BERTH_NAME_MAX + 1];
    uint64_t size;          /* bytes received and hashed */
    char *store_ext;        /* the store's resume data (berth_upload_state.ext), or NULL */
    struct berth_hasher h;  /* sha256 over [0, size) */
    int locked;             /* holds the metadata's session lock */
    struct upload_session *next;
};

struct upload_table;

/*
 * Takes the session uuid for exclusive use by one request, with the state
 * its last request saved (the hash is rebuilt from the store's bytes when
 * none was saved). The session must be recorded in meta for repo of
 * registry reg (else BERTH_EUPLOADUNKNOWN); a request using it, here or on
 * another server, gives BERTH_EBUSY.
 */
enum berth_rc upload_acquire(struct upload_table *t, struct berth_meta *m, struct berth_blobstore *bs,
                             const char *uuid, int64_t reg, const char *repo, struct upload_session **out,
                             struct berth_err *err);
/*
 * Gives the session back and frees s. Unless it ended, its state is saved
 * first for the next request; BERTH_OK, or why the save failed (the session
 * is given back either way).
 */
enum berth_rc upload_release(struct upload_table *t, struct berth_meta *m, struct upload_session *s, int ended,
                             struct berth_err *err);
/* A session outside the table and the metadata (monolithic POST). */
struct upload_session *upload_session_new(const char *uuid, const char *repo);
void upload_session_free(struct upload_session *s);

#endif
