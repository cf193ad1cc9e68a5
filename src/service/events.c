/*
 * events.c - the event queue and its writer thread (see events.h), and what
 * a finished request contributes to the login and repository logs.
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include "alloc.h"
#include "auth.h"
#include "log.h"
#include "util.h"
#include "access.h"
#include "events.h"
#include "banned.h"

#define NAME_CACHE 16

struct reg_name {
    int64_t id;
    char name[BERTH_META_NAME_MAX + 1];
    char login_server[160];
};

struct events {
    struct berth_meta *meta;
    struct authz *az;
    struct berth_service_metrics *metrics; /* may be NULL */
    int64_t retention_days;
    int64_t max_rows;
    int64_t max_followers;
    pthread_mutex_t lock; /* guards everything below */
    pthread_cond_t wake;  /* the writer waits on it */
    struct berth_meta_event **ring;
    size_t cap, head, count;
    uint64_t dropped;
    int64_t warned_s;     /* last second a drop was logged */
    int stop;
    int has_writer;
    pthread_t writer;
    pthread_mutex_t follow_lock; /* guards the follower fields below; taken before MHD's own locks */
    uint64_t seq;                /* batches stored */
    int64_t followers;           /* slots taken */
    int follow_stopped;
    struct events_waiter *waiters;
    /* writer thread only */
    struct reg_name names[NAME_CACHE];
    size_t nnames;
    int64_t names_s;
    char *file;                  /* event-file, or NULL */
    int64_t file_max, file_keep;
    int fd;                      /* -1 until opened */
    int64_t file_size;
    int64_t file_warned_s;
};

int events_push(struct events *ev, struct berth_meta_event *e)
{
    int64_t now_s;
    uint64_t dropped = 0;

    pthread_mutex_lock(&ev->lock);
    if (ev->count >= ev->cap) {
        ev->dropped++;
        now_s = berth_now_ms() / 1000;
        if (now_s != ev->warned_s) {
            ev->warned_s = now_s;
            dropped = ev->dropped;
        }
        pthread_mutex_unlock(&ev->lock);
        if (ev->metrics) atomic_fetch_add_explicit(&ev->metrics->events_dropped, 1, memory_order_relaxed);
        if (dropped)
            BERTH_LOG(BERTH_LOG_WARN, "msg=\"event queue full, events dropped\" dropped_total=%llu queue=%zu",
                      (unsigned long long)dropped, ev->cap);
        free(e);
        return 1;
    }
    ev->ring[(ev->head + ev->count) % ev->cap] = e;
    ev->count++;
    if (ev->count == EVENTS_BATCH) pthread_cond_signal(&ev->wake);
    pthread_mutex_unlock(&ev->lock);
    return 0;
}

uint64_t events_dropped(struct events *ev)
{
    uint64_t n;
    pthread_mutex_lock(&ev->lock);
    n = ev->dropped;
    pthread_mutex_unlock(&ev->lock);
    return n;
}

size_t events_pending(struct events *ev)
{
    size_t n;
    pthread_mutex_lock(&ev->lock);
    n = ev->count;
    pthread_mutex_unlock(&ev->lock);
    return n;
}

/* Fills the registry name and login server of e from a small cache renewed every minute. */
static void resolve_registry(struct events *ev, struct berth_meta_event *e)
{
    struct berth_meta_registry reg;
    struct berth_err err = BERTH_ERR_INIT;
    struct reg_name *rn;
    int64_t now_s = berth_now_ms() / 1000;
    size_t i;

    if (!e->reg) return;
    if (now_s - ev->names_s >= EVENTS_PRUNE_S) {
        ev->nnames = 0;
        ev->names_s = now_s;
    }
    for (i = 0; i < ev->nnames; i++) {
        if (ev->names[i].id != e->reg) continue;
        snprintf(e->registry, sizeof(e->registry), "%s", ev->names[i].name);
        snprintf(e->login_server, sizeof(e->login_server), "%s", ev->names[i].login_server);
        return;
    }
    if (ev->meta->reg->registry_get(ev->meta, NULL, e->reg, &reg, &err) != BERTH_OK) return;
    rn = &ev->names[ev->nnames < NAME_CACHE ? ev->nnames++ : (size_t)e->reg % NAME_CACHE];
    rn->id = reg.id;
    snprintf(rn->name, sizeof(rn->name), "%s", reg.name);
    rn->login_server[0] = '\0';
    if (ev->az) authz_login_server(ev->az, &reg, rn->login_server, sizeof(rn->login_server));
    snprintf(e->registry, sizeof(e->registry), "%s", rn->name);
    snprintf(e->login_server, sizeof(e->login_server), "%s", rn->login_server);
}

/* ---------------------------------------------------------------- JSON */

/* "2026-01-02T03:04:05.678Z" */
static void time_text(int64_t ms, char *out, size_t n)
{
    char s[32];
    berth_time_rfc3339(ms / 1000, s, sizeof(s));
    if (strlen(s) == 20 && s[19] == 'Z') {
        s[19] = '\0';
        snprintf(out, n, "%s.%03dZ", s, (int)(ms % 1000));
    } else {
        snprintf(out, n, "%s", s);
    }
}

static void set_str(json_t *o, const char *k, const char *v)
{
    if (v && *v) json_object_set_new(o, k, json_string(v));
}

/*
 * What a stored reason code means: a refusal reason's text, or the text of
 * the one error code with that OCI code. NULL when unknown or when several
 * errors share the OCI code (UNKNOWN, say): no message beats a wrong one.
 */
static const char *reason_text(const char *code)
{
    const char *text = NULL;
    int i, n = 0;

    if (!*code) return NULL;
    for (i = 1; i < BERTH_AUTH_REASON_COUNT; i++)
        if (!strcmp(code, berth_auth_reason_name((enum berth_auth_reason)i)))
            return berth_auth_reason_text((enum berth_auth_reason)i);
    for (i = 1; i < BERTH_RC_COUNT; i++) {
        if (strcmp(code, berth_rc_ocicode((enum berth_rc)i)) != 0) continue;
        text = berth_rc_text((enum berth_rc)i);
        n++;
    }
    return n == 1 ? text : NULL;
}

json_t *events_json(const struct berth_meta_event *e, int with_log)
{
    json_t *o = json_object();
    char t[40];

    time_text(e->time_ms, t, sizeof(t));
    json_object_set_new(o, "id", json_integer(e->id));
    if (with_log) json_object_set_new(o, "log", json_string(e->log == BERTH_EVENTS_LOGIN ? "login" : "repository"));
    json_object_set_new(o, "time", json_string(t));
    json_object_set_new(o, "registry", json_string(e->registry));
    json_object_set_new(o, "loginServer", json_string(e->login_server));
    json_object_set_new(o, "operation", json_string(e->operation));
    json_object_set_new(o, "identityType", json_string(e->identity_type));
    json_object_set_new(o, "identity", json_string(e->identity));
    set_str(o, "identityId", e->identity_id);
    json_object_set_new(o, "clientIp", json_string(e->ip));
    json_object_set_new(o, "userAgent", json_string(e->user_agent));
    json_object_set_new(o, "status", json_integer(e->status));
    json_object_set_new(o, "result", json_string(e->status > 0 && e->status < 400 ? "success" : "failure"));
    set_str(o, "reason", e->reason);
    set_str(o, "message", reason_text(e->reason));
    set_str(o, "tokenId", e->jti);
    json_object_set_new(o, "requestId", json_string(e->request_id));
    json_object_set_new(o, "durationMs", json_real((double)e->duration_us / 1000.0));
    if (e->log == BERTH_EVENTS_REPOSITORY) {
        json_object_set_new(o, "repository", json_string(e->repository));
        set_str(o, "tag", e->tag);
        set_str(o, "digest", e->digest);
        set_str(o, "mediaType", e->media_type);
        set_str(o, "artifactType", e->artifact_type);
        if (e->size >= 0) json_object_set_new(o, "size", json_integer(e->size));
    }
    return o;
}

/* ---------------------------------------------------------------- the file sink */

static void file_warn(struct events *ev, const char *what, int e)
{
    int64_t now_s = berth_now_ms() / 1000;
    if (now_s == ev->file_warned_s) return;
    ev->file_warned_s = now_s;
    BERTH_LOG(BERTH_LOG_ERROR, "msg=\"event file: %s\" file=\"%s\" errno=\"%s\"", what, ev->file, strerror(e));
}

static int file_open(struct events *ev, int quiet)
{
    struct stat st;
    int e;
    ev->fd = open(ev->file, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
    if (ev->fd < 0) {
        e = errno;
        if (!quiet) file_warn(ev, "cannot open", e);
        errno = e;
        return -1;
    }
    ev->file_size = fstat(ev->fd, &st) == 0 ? (int64_t)st.st_size : 0;
    return 0;
}

/* FILE.(keep-1) -> FILE.keep, ..., FILE -> FILE.1, then a new FILE. */
static void file_rotate(struct events *ev)
{
    size_t n = strlen(ev->file) + 8;
    char *from = berth_xmalloc(n), *to = berth_xmalloc(n);
    int64_t i;

    if (ev->fd >= 0) close(ev->fd);
    ev->fd = -1;
    for (i = ev->file_keep - 1; i >= 0; i--) {
        if (i) snprintf(from, n, "%s.%lld", ev->file, (long long)i);
        else snprintf(from, n, "%s", ev->file);
        snprintf(to, n, "%s.%lld", ev->file, (long long)(i + 1));
        if (rename(from, to) != 0 && errno != ENOENT) file_warn(ev, "cannot rotate", errno);
    }
    free(from);
    free(to);
    file_open(ev, 0);
}

static void file_append(struct events *ev, struct berth_meta_event **batch, size_t n)
{
    struct berth_buf b = BERTH_BUF_INIT(0);
    const char *p;
    size_t i, len;
    ssize_t w;

    for (i = 0; i < n; i++) {
        json_t *o = events_json(batch[i], 1);
        char *s = json_dumps(o, JSON_COMPACT);
        size_t before = b.len;
        if (s) {
            berth_buf_puts(&b, s);
            berth_buf_putc(&b, '\n');
        }
        free(s);
        json_decref(o);
        /* rotate at line boundaries: a line never straddles two files */
        if (ev->fd >= 0 && ev->file_size + (int64_t)b.len > ev->file_max && ev->file_size + (int64_t)before > 0) {
            if (before) {
                if (write(ev->fd, b.p, before) == (ssize_t)before) ev->file_size += (int64_t)before;
                memmove(b.p, b.p + before, b.len - before);
                b.len -= before;
            }
            file_rotate(ev);
        }
    }
    if (ev->fd < 0 && file_open(ev, 0) != 0) goto out;
    p = berth_buf_str(&b);
    len = b.len;
    while (len) {
        w = write(ev->fd, p, len);
        if (w < 0 && errno == EINTR) continue;
        if (w <= 0) {
            file_warn(ev, "cannot append", w < 0 ? errno : EIO);
            break;
        }
        p += w;
        len -= (size_t)w;
        ev->file_size += w;
    }
out:
    berth_buf_release(&b);
}

/* ---------------------------------------------------------------- followers */

int events_follow_enter(struct events *ev)
{
    int full;
    pthread_mutex_lock(&ev->follow_lock);
    full = ev->follow_stopped || ev->followers >= ev->max_followers;
    if (!full) ev->followers++;
    pthread_mutex_unlock(&ev->follow_lock);
    return full;
}

static void unlink_waiter(struct events *ev, struct events_waiter *w)
{
    struct events_waiter **pp;
    for (pp = &ev->waiters; *pp; pp = &(*pp)->next) {
        if (*pp != w) continue;
        *pp = w->next;
        break;
    }
    w->next = NULL;
    w->waiting = 0;
}

void events_follow_leave(struct events *ev, struct events_waiter *w)
{
    pthread_mutex_lock(&ev->follow_lock);
    if (w && w->waiting) {
        w->resume(w->conn);
        unlink_waiter(ev, w);
    }
    ev->followers--;
    pthread_mutex_unlock(&ev->follow_lock);
}

uint64_t events_seq(struct events *ev)
{
    uint64_t s;
    pthread_mutex_lock(&ev->follow_lock);
    s = ev->seq;
    pthread_mutex_unlock(&ev->follow_lock);
    return s;
}

int events_follow_wait(struct events *ev, struct events_waiter *w, void *conn, uint64_t seq, int64_t wake_ms)
{
    int r;
    pthread_mutex_lock(&ev->follow_lock);
    if (ev->follow_stopped) {
        r = -1;
    } else if (ev->seq != seq || w->waiting) {
        r = 0;
    } else {
        w->conn = conn;
        w->wake_ms = wake_ms;
        w->waiting = 1;
        w->next = ev->waiters;
        ev->waiters = w;
        w->suspend(conn);
        r = 1;
    }
    pthread_mutex_unlock(&ev->follow_lock);
    return r;
}

/* Resumes the followers whose wake time has come, or all of them. */
static void wake_followers(struct events *ev, int stored, int all)
{
    struct events_waiter **pp, *w;
    int64_t now = berth_now_ms();

    pthread_mutex_lock(&ev->follow_lock);
    if (stored) ev->seq++;
    pp = &ev->waiters;
    while (*pp) {
        w = *pp;
        if (stored || all || w->wake_ms <= now) {
            *pp = w->next;
            w->next = NULL;
            w->waiting = 0;
            w->resume(w->conn);
        } else {
            pp = &w->next;
        }
    }
    pthread_mutex_unlock(&ev->follow_lock);
}

void events_follow_stop(struct events *ev)
{
    if (!ev) return;
    pthread_mutex_lock(&ev->follow_lock);
    ev->follow_stopped = 1;
    pthread_mutex_unlock(&ev->follow_lock);
    wake_followers(ev, 0, 1);
}

/* ---------------------------------------------------------------- the writer */

static void write_batch(struct events *ev, struct berth_meta_event **batch, size_t n)
{
    struct berth_err err = BERTH_ERR_INIT;
    size_t i;
    int stored;

    for (i = 0; i < n; i++) resolve_registry(ev, batch[i]);
    stored = ev->meta->events->events_insert(ev->meta, batch, n, &err) == BERTH_OK;
    if (!stored)
        BERTH_LOG(BERTH_LOG_ERROR, "msg=\"cannot store events\" events=%zu err=\"%s\"", n, berth_err_msg(&err));
    if (ev->file) file_append(ev, batch, n);
    for (i = 0; i < n; i++) free(batch[i]);
    if (stored) wake_followers(ev, 1, 0);
}

static void prune(struct events *ev)
{
    struct berth_err err = BERTH_ERR_INIT;
    int64_t deleted = 0;
    int64_t before = berth_now_ms() - ev->retention_days * 86400000;

    if (ev->meta->events->events_prune(ev->meta, before, ev->max_rows, &deleted, &err) != BERTH_OK)
        BERTH_LOG(BERTH_LOG_ERROR, "msg=\"cannot prune events\" err=\"%s\"", berth_err_msg(&err));
    else if (deleted)
        BERTH_LOG(BERTH_LOG_INFO, "msg=\"old events deleted\" deleted=%lld", (long long)deleted);
}

static void *writer_main(void *arg)
{
    struct events *ev = arg;
    struct berth_meta_event **batch = berth_xcalloc(EVENTS_BATCH, sizeof(*batch));
    int64_t next_prune = berth_now_ms();
    struct timespec deadline;
    size_t n;
    int stop;

    for (;;) {
        if (berth_now_ms() >= next_prune) {
            prune(ev);
            next_prune = berth_now_ms() + EVENTS_PRUNE_S * 1000;
        }
        pthread_mutex_lock(&ev->lock);
        if (ev->count < EVENTS_BATCH && !ev->stop) {
            clock_gettime(CLOCK_REALTIME, &deadline);
            deadline.tv_nsec += EVENTS_FLUSH_MS * 1000000L;
            if (deadline.tv_nsec >= 1000000000L) {
                deadline.tv_sec++;
                deadline.tv_nsec -= 1000000000L;
            }
            pthread_cond_timedwait(&ev->wake, &ev->lock, &deadline);
        }
        for (n = 0; n < EVENTS_BATCH && ev->count; n++) {
            batch[n] = ev->ring[ev->head];
            ev->head = (ev->head + 1) % ev->cap;
            ev->count--;
        }
        stop = ev->stop && !ev->count && !n;
        pthread_mutex_unlock(&ev->lock);
        if (n) write_batch(ev, batch, n);
        else wake_followers(ev, 0, 0);
        if (stop) break;
    }
    free(batch);
    return NULL;
}

enum berth_rc events_new(struct berth_meta *meta, struct authz *az, const struct berth_config *cfg, size_t cap,
                         struct events **out, struct berth_err *err)
{
    struct events *ev = berth_xcalloc(1, sizeof(*ev));
    int e;

    ev->meta = meta;
    ev->az = az;
    ev->retention_days = cfg ? cfg->event_retention_days : 30;
    ev->max_rows = cfg ? cfg->event_max_rows : 1000000;
    ev->max_followers = cfg ? cfg->event_followers : 32;
    ev->fd = -1;
    if (cfg && cfg->event_file && cfg->event_file[0]) {
        ev->file = berth_xstrdup(cfg->event_file);
        ev->file_max = cfg->event_file_max;
        ev->file_keep = cfg->event_file_keep;
    }
    ev->cap = cap ? cap : 1;
    ev->ring = berth_xcalloc(ev->cap, sizeof(*ev->ring));
    pthread_mutex_init(&ev->lock, NULL);
    pthread_cond_init(&ev->wake, NULL);
    pthread_mutex_init(&ev->follow_lock, NULL);
    if (ev->file) {
        char *dir = berth_xstrdup(ev->file), *slash = strrchr(dir, '/');
        enum berth_rc rc = BERTH_OK;
        if (slash && slash != dir) {
            *slash = '\0';
            rc = berth_mkdirs(dir, err);
        }
        free(dir);
        if (!rc && file_open(ev, 1) != 0)
            rc = berth_err_sys(err, BERTH_ECONFIG, errno, "config 'event-file': cannot open '%s' for appending",
                               cfg->event_file);
        else if (rc)
            rc = berth_err_set(err, BERTH_ECONFIG, "config 'event-file': %s", berth_err_msg(err));
        if (rc) {
            events_free(ev);
            return rc;
        }
    }
    if (meta) {
        e = pthread_create(&ev->writer, NULL, writer_main, ev);
        if (e) {
            events_free(ev);
            return berth_err_sys(err, BERTH_EIO, e, "cannot start the event writer thread");
        }
        ev->has_writer = 1;
    }
    *out = ev;
    return BERTH_OK;
}

void events_attach(struct events *ev, struct berth_service_metrics *m)
{
    ev->metrics = m;
}

void events_free(struct events *ev)
{
    if (!ev) return;
    pthread_mutex_lock(&ev->lock);
    ev->stop = 1;
    pthread_cond_signal(&ev->wake);
    pthread_mutex_unlock(&ev->lock);
    if (ev->has_writer) pthread_join(ev->writer, NULL);
    while (ev->count) {
        free(ev->ring[ev->head]);
        ev->head = (ev->head + 1) % ev->cap;
        ev->count--;
    }
    free(ev->ring);
    if (ev->fd >= 0) close(ev->fd);
    free(ev->file);
    pthread_mutex_destroy(&ev->lock);
    pthread_cond_destroy(&ev->wake);
    pthread_mutex_destroy(&ev->follow_lock);
    free(ev);
}

/* ---------------------------------------------------------------- from a request */

static void fill_common(const struct berth_caller *c, const struct berth_event_facts *f, struct berth_meta_event *e,
                        int64_t now_ms)
{
    e->time_ms = now_ms;
    e->reg = f->registry_id; /* 0 for the directory and the management API: the server's events */
    e->size = -1;
    snprintf(e->operation, sizeof(e->operation), "%s", f->operation ? f->operation : "");
    if (c->login_kind[0]) snprintf(e->identity_type, sizeof(e->identity_type), "%s", c->login_kind);
    else if (c->who.kind != PK_NONE)
        snprintf(e->identity_type, sizeof(e->identity_type), "%s", authz_kind_name(c->who.kind));
    else
        snprintf(e->identity_type, sizeof(e->identity_type), "%s",
                 c->cred != BERTH_CRED_NONE ? "unknown" : "anonymous");
    snprintf(e->identity, sizeof(e->identity), "%s", c->login_name[0] ? c->login_name : c->who.name);
    snprintf(e->identity_id, sizeof(e->identity_id), "%s", c->principal_id);
    snprintf(e->ip, sizeof(e->ip), "%s", c->ip);
    snprintf(e->user_agent, sizeof(e->user_agent), "%s", f->user_agent ? f->user_agent : "");
    e->status = f->status;
    if (c->reason > 0 && c->reason < BERTH_AUTH_REASON_COUNT)
        snprintf(e->reason, sizeof(e->reason), "%s", berth_auth_reason_name(c->reason));
    else if (f->rc)
        snprintf(e->reason, sizeof(e->reason), "%s", berth_rc_ocicode(f->rc));
    snprintf(e->request_id, sizeof(e->request_id), "%s", f->request_id ? f->request_id : "");
    e->duration_us = f->duration_us;
}

void events_record(struct events *ev, const struct berth_caller *c, const struct berth_event_facts *f)
{
    struct berth_meta_event *e;
    int64_t now_ms;

    if (!ev || (!f->repo_op && !f->login)) return;
    now_ms = berth_now_ms();
    if (f->login) {
        e = berth_xmalloc(sizeof(*e));
        memset(e, 0, sizeof(*e));
        e->log = BERTH_EVENTS_LOGIN;
        fill_common(c, f, e, now_ms);
        snprintf(e->jti, sizeof(e->jti), "%s", c->jti);
        events_push(ev, e);
    }
    if (f->repo_op) {
        e = berth_xmalloc(sizeof(*e));
        memset(e, 0, sizeof(*e));
        e->log = BERTH_EVENTS_REPOSITORY;
        fill_common(c, f, e, now_ms);
        snprintf(e->operation, sizeof(e->operation), "%s", f->repo_op);
        snprintf(e->repository, sizeof(e->repository), "%s", f->repository ? f->repository : "");
        if (f->tag) snprintf(e->tag, sizeof(e->tag), "%s", f->tag);
        if (f->digest) snprintf(e->digest, sizeof(e->digest), "%s", f->digest);
        snprintf(e->media_type, sizeof(e->media_type), "%s", f->media_type ? f->media_type : "");
        snprintf(e->artifact_type, sizeof(e->artifact_type), "%s", f->artifact_type ? f->artifact_type : "");
        e->size = f->size;
        events_push(ev, e);
    }
}
