/*
 * uploads.c - the upload session table: a mutex-guarded hash of sessions
 * with their running SHA-256, bounded in size (idle sessions are evicted and
 * rebuilt from the store's bytes when next used).
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "alloc.h"
#include "util.h"
#include "http_int.h"
#include "uploads.h"
#include "banned.h"

#define NBUCKETS 1024
#define MAX_IDLE 4096

struct upload_table {
    pthread_mutex_t lock; /* guards buckets, count and every session's busy flag */
    struct upload_session *buckets[NBUCKETS];
    int count;
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

void upload_table_free(struct upload_table *t)
{
    int i;
    if (!t) return;
    for (i = 0; i < NBUCKETS; i++) {
        struct upload_session *s = t->buckets[i], *n;
        for (; s; s = n) {
            n = s->next;
            upload_session_free(s);
        }
    }
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

static struct upload_session **find(struct upload_table *t, const char *uuid)
{
    struct upload_session **pp = &t->buckets[bucket_of(uuid)];
    for (; *pp; pp = &(*pp)->next)
        if (!strcmp((*pp)->uuid, uuid)) return pp;
    return NULL;
}

/* Drops the least recently used idle session; called with the lock held. */
static void evict_one(struct upload_table *t)
{
    struct upload_session **victim = NULL;
    int i;
    for (i = 0; i < NBUCKETS; i++) {
        struct upload_session **pp;
        for (pp = &t->buckets[i]; *pp; pp = &(*pp)->next)
            if (!(*pp)->busy && (!victim || (*pp)->used_us < (*victim)->used_us)) victim = pp;
    }
    if (victim) {
        struct upload_session *s = *victim;
        *victim = s->next;
        upload_session_free(s);
        t->count--;
    }
}

/* Rebuilds size and hash from the store's bytes. */
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
    berth_hasher_release(&s->h);
    berth_hasher_init(&s->h, BERTH_DIGEST_SHA256);
    while (got < r->size) {
        rc = berth_blob_reader_read_at(r, got, buf, 1 << 20, &n, err);
        if (rc) goto out;
        if (n == 0) break;
        berth_hasher_update(&s->h, buf, n);
        got += n;
    }
    s->size = got;
    free(s->store_ext); /* the store finds its own data from the id */
    s->store_ext = NULL;
    s->ready = 1;
out:
    free(buf);
    berth_blob_reader_close(r);
    return rc;
}

enum berth_rc upload_acquire(struct upload_table *t, struct berth_meta *m, struct berth_blobstore *bs,
                             const char *uuid, int64_t reg, const char *repo, struct upload_session **out,
                             struct berth_err *err)
{
    struct upload_session **pp, *s;
    char rrepo[BERTH_NAME_MAX + 1];
    int64_t created, rreg = 0;
    enum berth_rc rc;

    if (!berth_uuid_valid(uuid))
        return berth_err_set(err, BERTH_EUPLOADUNKNOWN, "upload '%.40s' is not a session id", uuid);
    rc = m->uploads->upload_get(m, uuid, &rreg, rrepo, sizeof(rrepo), &created, err);
    if (rc) return rc;
    if (rreg != reg || strcmp(rrepo, repo) != 0)
        return berth_err_set(err, BERTH_EUPLOADUNKNOWN, "upload %s belongs to another repository", uuid);
    pthread_mutex_lock(&t->lock);
    pp = find(t, uuid);
    if (pp && (*pp)->busy) {
        pthread_mutex_unlock(&t->lock);
        return berth_err_set(err, BERTH_EBUSY, "upload %s is in use by another request", uuid);
    }
    if (pp) {
        s = *pp;
    } else {
        if (t->count >= MAX_IDLE) evict_one(t);
        s = upload_session_new(uuid, repo);
        s->next = t->buckets[bucket_of(uuid)];
        t->buckets[bucket_of(uuid)] = s;
        t->count++;
    }
    s->busy = 1;
    pthread_mutex_unlock(&t->lock);
    if (!s->ready) {
        rc = rebuild(bs, s, err);
        if (rc) {
            upload_release(t, s, 1);
            return rc;
        }
    }
    *out = s;
    return BERTH_OK;
}

void upload_release(struct upload_table *t, struct upload_session *s, int forget)
{
    struct upload_session **pp;

    pthread_mutex_lock(&t->lock);
    s->busy = 0;
    s->used_us = berth_mono_us();
    if (forget) {
        pp = find(t, s->uuid);
        if (pp && *pp == s) {
            *pp = s->next;
            t->count--;
            upload_session_free(s);
        }
    }
    pthread_mutex_unlock(&t->lock);
}

int64_t upload_peek_size(struct upload_table *t, const char *uuid)
{
    struct upload_session **pp;
    int64_t size = -1;

    pthread_mutex_lock(&t->lock);
    pp = find(t, uuid);
    if (pp && (*pp)->ready && !(*pp)->busy) size = (int64_t)(*pp)->size;
    pthread_mutex_unlock(&t->lock);
    return size;
}
