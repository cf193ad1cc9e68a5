/*
 * uploads.c - taking and giving back upload sessions: the table of sessions
 * in use by this server's requests (a mutex-guarded hash), the metadata's
 * session lock for the other servers, and the session's state loaded from
 * and saved to the metadata.
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "alloc.h"
#include "log.h"
#include "util.h"
#include "http_int.h"
#include "uploads.h"
#include "banned.h"

#define NBUCKETS 256

struct upload_table {
    pthread_mutex_t lock; /* guards buckets */
    struct upload_session *buckets[NBUCKETS];
};

static unsigned bucket_of(const char *uuid)
{
    unsigned h = 2166136261u;
    for (; *uuid; uuid++) h = (h ^ (unsigned char)*uuid) * 16777619u;
    return h % NBUCKETS;
}

struct upload_table *upload_table_new(void)
{
    struct upload_table *t = berth_xcalloc(1, sizeof(*t));
    pthread_mutex_init(&t->lock, NULL);
    return t;
}

void upload_session_free(struct upload_session *s)
{
    if (!s) return;
    free(s->store_ext);
    berth_hasher_release(&s->h);
    free(s);
}

/* Every request has given its session back by the time the table goes. */
void upload_table_free(struct upload_table *t)
{
    int i;
    if (!t) return;
    for (i = 0; i < NBUCKETS; i++) BERTH_ASSERT(t->buckets[i] == NULL);
    pthread_mutex_destroy(&t->lock);
    free(t);
}

struct upload_session *upload_session_new(const char *uuid, const char *repo)
{
    struct upload_session *s = berth_xcalloc(1, sizeof(*s));
    snprintf(s->uuid, sizeof(s->uuid), "%s", uuid);
    snprintf(s->repo, sizeof(s->repo), "%s", repo);
    berth_hasher_init(&s->h, BERTH_DIGEST_SHA256);
    return s;
}

/* Puts s in the table unless a session of its id is there (BERTH_EBUSY). */
static enum berth_rc table_take(struct upload_table *t, struct upload_session *s, struct berth_err *err)
{
    struct upload_session **pp;

    pthread_mutex_lock(&t->lock);
    for (pp = &t->buckets[bucket_of(s->uuid)]; *pp; pp = &(*pp)->next) {
        if (!strcmp((*pp)->uuid, s->uuid)) {
            pthread_mutex_unlock(&t->lock);
            return berth_err_set(err, BERTH_EBUSY, "upload %s is in use by another request", s->uuid);
        }
    }
    s->next = t->buckets[bucket_of(s->uuid)];
    t->buckets[bucket_of(s->uuid)] = s;
    pthread_mutex_unlock(&t->lock);
    return BERTH_OK;
}

static void table_give(struct upload_table *t, struct upload_session *s)
{
    struct upload_session **pp;

    pthread_mutex_lock(&t->lock);
    for (pp = &t->buckets[bucket_of(s->uuid)]; *pp; pp = &(*pp)->next) {
        if (*pp == s) {
            *pp = s->next;
            break;
        }
    }
    pthread_mutex_unlock(&t->lock);
}

/* Rebuilds size and hash from the store's bytes: a session whose state was never saved. */
static enum berth_rc rebuild(struct berth_blobstore *bs, struct upload_session *s, struct berth_err *err)
{
    struct berth_blob_reader *r = NULL;
    char *buf = NULL;
    uint64_t got = 0;
    size_t n;
    enum berth_rc rc;

    rc = bs->ops->upload_open_reader(bs, s->uuid, &r, err);
    if (rc) goto out;
    buf = berth_xmalloc(1 << 20);
    while (got < r->size) {
        rc = berth_blob_reader_read_at(r, got, buf, 1 << 20, &n, err);
        if (rc) goto out;
        if (n == 0) break;
        berth_hasher_update(&s->h, buf, n);
        got += n;
    }
    s->size = got;
out:
    free(buf);
    berth_blob_reader_close(r);
    return rc;
}

/* Fills s from the session's saved state (or the store's bytes). */
static enum berth_rc load(struct berth_meta *m, struct berth_blobstore *bs, struct upload_session *s, int64_t reg,
                          struct berth_err *err)
{
    struct berth_meta_upload u;
    enum berth_rc rc;

    rc = m->uploads->upload_load(m, s->uuid, &u, err);
    if (rc) return rc;
    if (u.reg != reg || strcmp(u.repo, s->repo) != 0) {
        rc = berth_err_set(err, BERTH_EUPLOADUNKNOWN, "upload %s belongs to another repository", s->uuid);
    } else if (u.hash_len == 0) {
        rc = rebuild(bs, s, err);
    } else {
        struct berth_err lerr = BERTH_ERR_INIT;
        berth_hasher_release(&s->h);
        if (berth_hasher_load(&s->h, u.hash, u.hash_len, &lerr) != BERTH_OK ||
            s->h.alg != BERTH_DIGEST_SHA256) {
            /* never written so by berth: start the hash again from the bytes */
            BERTH_LOG(BERTH_LOG_WARN, "msg=\"upload hash state unreadable; rehashing\" upload=%s err=\"%s\"",
                      s->uuid, berth_err_msg(&lerr));
            berth_hasher_release(&s->h);
            berth_hasher_init(&s->h, BERTH_DIGEST_SHA256);
            rc = rebuild(bs, s, err);
        } else {
            s->size = u.size;
            s->store_ext = u.ext;
            u.ext = NULL;
        }
    }
    berth_meta_upload_release(&u);
    return rc;
}

enum berth_rc upload_acquire(struct upload_table *t, struct berth_meta *m, struct berth_blobstore *bs,
                             const char *uuid, int64_t reg, const char *repo, struct upload_session **out,
                             struct berth_err *err)
{
    struct upload_session *s;
    enum berth_rc rc;

    if (!berth_uuid_valid(uuid))
        return berth_err_set(err, BERTH_EUPLOADUNKNOWN, "upload '%.40s' is not a session id", uuid);
    s = upload_session_new(uuid, repo);
    rc = table_take(t, s, err);
    if (rc) {
        upload_session_free(s);
        return rc;
    }
    rc = m->uploads->upload_lock(m, uuid, err);
    if (!rc) {
        s->locked = 1;
        rc = load(m, bs, s, reg, err);
    }
    if (rc) {
        upload_release(t, m, s, 1, NULL);
        return rc;
    }
    *out = s;
    return BERTH_OK;
}

enum berth_rc upload_release(struct upload_table *t, struct berth_meta *m, struct upload_session *s, int ended,
                             struct berth_err *err)
{
    struct berth_err lerr = BERTH_ERR_INIT;
    unsigned char hash[BERTH_HASHER_SAVE_MAX];
    enum berth_rc rc = BERTH_OK;

    if (!s) return BERTH_OK;
    if (!err) err = &lerr;
    if (!ended && s->locked) {
        size_t n = berth_hasher_save(&s->h, hash);
        rc = m->uploads->upload_save(m, s->uuid, s->size, hash, n, s->store_ext, berth_now_ms(), err);
        if (rc && rc != BERTH_EUPLOADUNKNOWN) /* unknown: cancelled meanwhile, nothing to keep */
            BERTH_LOG(BERTH_LOG_ERROR, "msg=\"upload state not saved\" upload=%s size=%llu err=\"%s\"", s->uuid,
                      (unsigned long long)s->size, berth_err_msg(err));
    }
    if (s->locked) m->uploads->upload_unlock(m, s->uuid);
    table_give(t, s);
    upload_session_free(s);
    return rc;
}
