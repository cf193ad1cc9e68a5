/*
 * conntrack.c - per-connection bookkeeping: how many connections each client
 * address holds, and the deadline by which a connection must have sent a
 * whole request head, enforced by a reaper thread.
 */
#include <errno.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>
#include "alloc.h"
#include "auth.h"
#include "log.h"
#include "util.h"
#include "conntrack.h"
#include "netcheck.h"
#include "banned.h"

#define CONNTRACK_MAGIC 0x434f4e54u /* "CONT" */
#define CONN_MAGIC 0x434f4e4eu      /* "CONN" */
#define NBUCKETS 1024
#define REAP_EVERY_MS 500

/* Connections held by one client address; in a bucket chain under conntrack.lock. */
struct addr_count {
    struct addr_count *next;
    struct berth_netaddr addr;
    unsigned n;
};

/* One open connection (libmicrohttpd's socket context). The list links are under conntrack.lock;
   deadline_us is written by the connection's thread and read by the reaper. */
struct conn {
    uint32_t magic;
    struct conntrack *ct;
    struct conn *prev, *next;
    MHD_socket fd;
    struct addr_count *count; /* NULL for a trusted proxy, which is not counted */
    _Atomic int64_t deadline_us; /* 0: not waiting for a request head */
    atomic_int heads;            /* request heads received so far */
};

struct conntrack {
    uint32_t magic;
    pthread_mutex_t lock; /* guards list, buckets, stop */
    pthread_cond_t wake;
    struct conn list;     /* sentinel of the open connections */
    struct addr_count *buckets[NBUCKETS];
    struct netcheck *net;
    unsigned per_ip;
    int64_t head_us;      /* header-timeout */
    pthread_t reaper;
    int reaper_running;
    int stop;
    _Atomic int64_t refused_logged_s; /* last second a refusal was logged */
};

static struct conntrack *conntrack_of(void *p)
{
    struct conntrack *ct = p;
    if (!ct || ct->magic != CONNTRACK_MAGIC) abort();
    return ct;
}

static int addr_of(const struct sockaddr *sa, socklen_t len, struct berth_netaddr *out)
{
    memset(out, 0, sizeof(*out));
    if (sa && sa->sa_family == AF_INET && len >= (socklen_t)sizeof(struct sockaddr_in)) {
        out->family = 4;
        memcpy(out->a, &((const struct sockaddr_in *)(const void *)sa)->sin_addr, 4);
        return 1;
    }
    if (sa && sa->sa_family == AF_INET6 && len >= (socklen_t)sizeof(struct sockaddr_in6)) {
        out->family = 6;
        memcpy(out->a, &((const struct sockaddr_in6 *)(const void *)sa)->sin6_addr, 16);
        return 1;
    }
    return 0;
}

static size_t bucket_of(const struct berth_netaddr *a)
{
    uint32_t h = 2166136261u; /* FNV-1a */
    size_t i, n = a->family == 4 ? 4 : 16;
    for (i = 0; i < n; i++) h = (h ^ a->a[i]) * 16777619u;
    return h % NBUCKETS;
}

/* The count for a, or NULL; under ct->lock. */
static struct addr_count *count_find(struct conntrack *ct, const struct berth_netaddr *a)
{
    struct addr_count *c;
    for (c = ct->buckets[bucket_of(a)]; c; c = c->next)
        if (c->addr.family == a->family && !memcmp(c->addr.a, a->a, sizeof(a->a))) return c;
    return NULL;
}

static void count_drop(struct conntrack *ct, struct addr_count *c)
{
    struct addr_count **pp = &ct->buckets[bucket_of(&c->addr)];
    if (--c->n) return;
    while (*pp != c) pp = &(*pp)->next;
    *pp = c->next;
    free(c);
}

static void *reaper_main(void *p)
{
    struct conntrack *ct = p;
    struct timespec ts;
    struct conn *c;
    int cut, idle;

    pthread_mutex_lock(&ct->lock);
    while (!ct->stop) {
        int64_t now = berth_mono_us();
        cut = idle = 0;
        /* The list is under the lock, and a connection leaves it (CLOSED) before libmicrohttpd
           closes its socket, so every fd shut down here is still that connection's. */
        for (c = ct->list.next; c != &ct->list; c = c->next) {
            int64_t d = atomic_load_explicit(&c->deadline_us, memory_order_relaxed);
            if (!d || d > now) continue;
            atomic_store_explicit(&c->deadline_us, 0, memory_order_relaxed);
            shutdown(c->fd, SHUT_RDWR); /* the worker sees the end of the stream and closes */
            /* a keep-alive connection that went quiet after its requests is ordinary; one that never
               sent a whole head is what a slow or stuck client looks like */
            if (atomic_load_explicit(&c->heads, memory_order_relaxed)) idle++;
            else cut++;
        }
        if (cut)
            BERTH_LOG(BERTH_LOG_INFO, "msg=\"closed connections that sent no complete request head in time\" "
                                      "count=%d header_timeout_s=%lld", cut, (long long)(ct->head_us / 1000000));
        if (idle)
            BERTH_LOG(BERTH_LOG_DEBUG, "msg=\"closed idle keep-alive connections\" count=%d header_timeout_s=%lld",
                      idle, (long long)(ct->head_us / 1000000));
        clock_gettime(CLOCK_REALTIME, &ts);
        ts.tv_nsec += REAP_EVERY_MS * 1000000L;
        if (ts.tv_nsec >= 1000000000L) {
            ts.tv_sec++;
            ts.tv_nsec -= 1000000000L;
        }
        pthread_cond_timedwait(&ct->wake, &ct->lock, &ts);
    }
    pthread_mutex_unlock(&ct->lock);
    return NULL;
}

enum berth_rc conntrack_new(const struct berth_config *cfg, struct netcheck *net, struct conntrack **out,
                            struct berth_err *err)
{
    struct conntrack *ct = berth_xcalloc(1, sizeof(*ct));
    int e;

    ct->magic = CONNTRACK_MAGIC;
    ct->net = net;
    ct->list.next = ct->list.prev = &ct->list;
    /* a quarter by default: one address (a NAT, one client gone wrong) can never hold them all */
    ct->per_ip = cfg->max_connections_per_ip > 0 ? (unsigned)cfg->max_connections_per_ip
                                                 : (unsigned)(cfg->max_connections + 3) / 4;
    ct->head_us = cfg->header_timeout * 1000000;
    pthread_mutex_init(&ct->lock, NULL);
    pthread_cond_init(&ct->wake, NULL);
    e = pthread_create(&ct->reaper, NULL, reaper_main, ct);
    if (e) {
        conntrack_free(ct);
        return berth_err_sys(err, BERTH_EIO, e, "cannot start the connection reaper thread");
    }
    ct->reaper_running = 1;
    *out = ct;
    return BERTH_OK;
}

void conntrack_stop(struct conntrack *ct)
{
    if (!ct || !ct->reaper_running) return;
    pthread_mutex_lock(&ct->lock);
    ct->stop = 1;
    pthread_cond_signal(&ct->wake);
    pthread_mutex_unlock(&ct->lock);
    pthread_join(ct->reaper, NULL);
    ct->reaper_running = 0;
}

void conntrack_free(struct conntrack *ct)
{
    size_t i;
    if (!ct) return;
    conntrack_stop(ct);
    for (i = 0; i < NBUCKETS; i++) {
        while (ct->buckets[i]) {
            struct addr_count *c = ct->buckets[i];
            ct->buckets[i] = c->next;
            free(c);
        }
    }
    pthread_mutex_destroy(&ct->lock);
    pthread_cond_destroy(&ct->wake);
    ct->magic = 0;
    free(ct);
}

enum MHD_Result conntrack_accept(void *cls, const struct sockaddr *addr, socklen_t addrlen)
{
    struct conntrack *ct = conntrack_of(cls);
    struct berth_netaddr a;
    struct addr_count *c;
    unsigned held = 0;
    char text[64];
    int64_t now_s, last;

    if (!addr_of(addr, addrlen, &a) || netcheck_trusted_proxy(ct->net, &a)) return MHD_YES;
    /* Counted when the connection starts (conntrack_notify), so a few accepts racing on other
       threads may pass at once: the limit can be passed by at most the number of threads. */
    pthread_mutex_lock(&ct->lock);
    c = count_find(ct, &a);
    if (c) held = c->n;
    pthread_mutex_unlock(&ct->lock);
    if (held < ct->per_ip) return MHD_YES;
    now_s = berth_mono_us() / 1000000;
    last = atomic_load_explicit(&ct->refused_logged_s, memory_order_relaxed);
    if (now_s != last &&
        atomic_compare_exchange_strong_explicit(&ct->refused_logged_s, &last, now_s, memory_order_relaxed,
                                                memory_order_relaxed)) {
        berth_netaddr_format(&a, text, sizeof(text));
        BERTH_LOG(BERTH_LOG_WARN, "msg=\"connection refused: the address holds its share of connections\" ip=%s "
                                  "held=%u max_connections_per_ip=%u", text, held, ct->per_ip);
    }
    return MHD_NO;
}

void conntrack_notify(void *cls, struct MHD_Connection *mc, void **socket_context,
                      enum MHD_ConnectionNotificationCode toe)
{
    struct conntrack *ct = conntrack_of(cls);
    struct conn *c = *socket_context;

    if (toe == MHD_CONNECTION_NOTIFY_STARTED) {
        const union MHD_ConnectionInfo *ai = MHD_get_connection_info(mc, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
        const union MHD_ConnectionInfo *fi = MHD_get_connection_info(mc, MHD_CONNECTION_INFO_CONNECTION_FD);
        struct berth_netaddr a;
        int counted = ai && addr_of(ai->client_addr, (socklen_t)sizeof(struct sockaddr_storage), &a) &&
                      !netcheck_trusted_proxy(ct->net, &a);

        c = berth_xcalloc(1, sizeof(*c));
        c->magic = CONN_MAGIC;
        c->ct = ct;
        c->fd = fi ? fi->connect_fd : MHD_INVALID_SOCKET;
        atomic_store_explicit(&c->deadline_us, berth_mono_us() + ct->head_us, memory_order_relaxed);
        pthread_mutex_lock(&ct->lock);
        if (counted) {
            c->count = count_find(ct, &a);
            if (!c->count) {
                size_t b = bucket_of(&a);
                c->count = berth_xcalloc(1, sizeof(*c->count));
                c->count->addr = a;
                c->count->next = ct->buckets[b];
                ct->buckets[b] = c->count;
            }
            c->count->n++;
        }
        if (c->fd == MHD_INVALID_SOCKET) atomic_store_explicit(&c->deadline_us, 0, memory_order_relaxed);
        c->next = &ct->list;
        c->prev = ct->list.prev;
        ct->list.prev->next = c;
        ct->list.prev = c;
        pthread_mutex_unlock(&ct->lock);
        *socket_context = c;
        return;
    }
    if (toe != MHD_CONNECTION_NOTIFY_CLOSED || !c) return;
    if (c->magic != CONN_MAGIC) abort();
    pthread_mutex_lock(&ct->lock);
    c->prev->next = c->next;
    c->next->prev = c->prev;
    if (c->count) count_drop(ct, c->count);
    pthread_mutex_unlock(&ct->lock);
    c->magic = 0;
    free(c);
    *socket_context = NULL;
}

static struct conn *conn_of(struct MHD_Connection *mc)
{
    const union MHD_ConnectionInfo *ci = MHD_get_connection_info(mc, MHD_CONNECTION_INFO_SOCKET_CONTEXT);
    struct conn *c = ci ? ci->socket_context : NULL;
    if (c && c->magic != CONN_MAGIC) abort();
    return c;
}

void conntrack_head_begun(struct MHD_Connection *mc)
{
    struct conn *c = conn_of(mc);
    if (!c) return;
    atomic_store_explicit(&c->deadline_us, 0, memory_order_relaxed);
    atomic_fetch_add_explicit(&c->heads, 1, memory_order_relaxed);
}

void conntrack_head_wait(struct conntrack *ct, struct MHD_Connection *mc)
{
    struct conn *c = conn_of(mc);
    if (c && c->fd != MHD_INVALID_SOCKET)
        atomic_store_explicit(&c->deadline_us, berth_mono_us() + ct->head_us, memory_order_relaxed);
}
