/*
 * fuzz_http.c - raw bytes into the HTTP request path. Two real servers run
 * in this process (one open, one with token auth), each on an ephemeral
 * 127.0.0.1 port over its own temp data folder; every input's first byte
 * picks one (even: open, odd: auth, so seeds start with '0' or '1'), the rest
 * is written to a fresh TCP connection whose write side is then shut, and
 * the reply is read until the server closes, 2 s pass without a reply or
 * 50 ms without another byte. Whatever comes back must be empty or start
 * like an HTTP/1 status line; a crash, a leak or a sanitizer report in any
 * server thread ends the run. BERTH_FUZZ_SHOW=1 prints each reply's first
 * line (to see what a seed reaches).
 */
#define _XOPEN_SOURCE 700 /* nftw with FTW_DEPTH and FTW_PHYS */
#include <errno.h>
#include <ftw.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>
#include <arpa/inet.h>
#include "alloc.h"
#include "auth.h"
#include "config.h"
#include "http.h"
#include "log.h"
#include "meta.h"
#include "store.h"
#include "util.h"
#include "wiring.h"
#include "banned.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define REPLY_MAX (256 * 1024)
#define REPLY_MS 2000 /* the longest wait for a first reply byte */
#define QUIET_MS 50   /* ... and for the next one */
/* the auth server's owner: "Authorization: Basic b3duZXI6ZnV6ei1vd25lci1wYXNzd29yZA==" */
#define OWNER_PASSWORD "fuzz-owner-password"

struct server {
    char dir[64];
    struct berth_config cfg;
    struct berth_server *srv;
    struct berth_http *http;
    uint16_t port;
};

static struct server servers[2];
static int started;

static void die(const char *what, const struct berth_err *err)
{
    fprintf(stderr, "fuzz_http: %s: %s\n", what, err ? berth_err_msg(err) : strerror(errno));
    abort();
}

/*
 * The user "owner" with the Owner role and a known password (OWNER_BASIC),
 * so seeds reach the management routes; start-up then finds it and makes
 * no other.
 */
static void owner_create(struct berth_meta *m)
{
    struct berth_err err = BERTH_ERR_INIT;
    struct berth_meta_user u;
    struct berth_meta_assignment a;

    memset(&u, 0, sizeof(u));
    snprintf(u.name, sizeof(u.name), "owner");
    if (berth_secret_hash(OWNER_PASSWORD, u.hash, &err)) die("owner password", &err);
    u.password_set_ms = berth_now_ms();
    if (m->dir->user_create(m, &u, &err)) die("owner", &err);
    memset(&a, 0, sizeof(a));
    snprintf(a.principal_type, sizeof(a.principal_type), "user");
    snprintf(a.principal_id, sizeof(a.principal_id), "%s", u.id);
    snprintf(a.role, sizeof(a.role), "Owner");
    snprintf(a.scope, sizeof(a.scope), "/");
    if (m->dir->assignment_create(m, &a, &err)) die("owner role", &err);
}

/*
 * Opens the stores and starts one server as `berth serve` does, on
 * 127.0.0.1:0 over s->dir; auth picks token auth or an open registry. The
 * one place that knows how a server is started.
 */
static void server_start(struct server *s, int auth)
{
    struct berth_err err = BERTH_ERR_INIT;
    static const char *const keys[][2] = {
        {"listen", "127.0.0.1:0"}, {"log-level", "error"}, {"access-log", "false"}, {"threads", "2"},
        {"fsync", "false"}, {"header-timeout", "2"}, {"connection-timeout", "5"},
    };
    size_t i;

    snprintf(s->dir, sizeof(s->dir), "/tmp/berth-fuzz-http-XXXXXX");
    if (!mkdtemp(s->dir)) die("mkdtemp", NULL);
    berth_config_init(&s->cfg);
    for (i = 0; i < sizeof(keys) / sizeof(keys[0]); i++)
        if (berth_config_set(&s->cfg, keys[i][0], keys[i][1], &err)) die("config", &err);
    if (berth_config_set(&s->cfg, "data", s->dir, &err) || berth_config_set(&s->cfg, "auth", auth ? "true" : "false", &err))
        die("config", &err);
    if (berth_server_open(&s->cfg, &s->srv, &err)) die("open", &err);
    if (auth) owner_create(s->srv->meta);
    if (berth_http_start(s->srv, &s->http, &err)) die("start", &err);
    s->port = berth_http_port(s->http);
}

static int rm_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st;
    (void)flag;
    (void)ftw;
    remove(path);
    return 0;
}

static void server_stop(struct server *s)
{
    berth_http_stop(s->http, 0);
    berth_server_close(s->srv);
    berth_config_release(&s->cfg);
    nftw(s->dir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
}

static void stop_all(void)
{
    server_stop(&servers[0]);
    server_stop(&servers[1]);
}

static int64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Waits until fd is ready for events or the deadline passes; 0 on timeout. */
static int wait_fd(int fd, short events, int64_t deadline)
{
    struct pollfd p = {fd, events, 0};
    int64_t left = deadline - now_ms();
    if (left <= 0) return 0;
    return poll(&p, 1, (int)left) > 0;
}

/* Sends req to port and reads the reply into out (at most REPLY_MAX bytes). */
static size_t exchange(uint16_t port, const uint8_t *req, size_t n, char *out)
{
    struct sockaddr_in sa;
    struct linger lg = {1, 0}; /* RST on close: a run of millions leaves no TIME_WAIT behind */
    int64_t deadline = now_ms() + REPLY_MS;
    size_t sent = 0, got = 0;
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);

    if (fd < 0) die("socket", NULL);
    memset(&sa, 0, sizeof(sa));
    sa.sin_family = AF_INET;
    sa.sin_port = htons(port);
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) != 0 && errno != EINPROGRESS) die("connect", NULL);
    while (sent < n && wait_fd(fd, POLLOUT, deadline)) {
        ssize_t w = send(fd, req + sent, n - sent, MSG_NOSIGNAL);
        if (w < 0 && errno != EAGAIN && errno != EINTR) break; /* the server closed early: read what it said */
        if (w > 0) sent += (size_t)w;
    }
    shutdown(fd, SHUT_WR);
    /* a kept-alive connection may stay open after its last reply: once bytes came, a pause ends it */
    while (got < REPLY_MAX && wait_fd(fd, POLLIN, got ? now_ms() + QUIET_MS : deadline)) {
        ssize_t r = recv(fd, out + got, REPLY_MAX - got, 0);
        if (r == 0 || (r < 0 && errno != EAGAIN && errno != EINTR)) break;
        if (r > 0) got += (size_t)r;
    }
    setsockopt(fd, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg));
    close(fd);
    return got;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static char reply[REPLY_MAX];
    size_t got;

    if (!started) {
        signal(SIGPIPE, SIG_IGN);
        berth_log_threshold = BERTH_LOG_ERROR;
        server_start(&servers[0], 0);
        server_start(&servers[1], 1);
        atexit(stop_all);
        started = 1;
    }
    if (size < 1) return 0;
    got = exchange(servers[data[0] & 1].port, data + 1, size - 1, reply);
    if (got && (got < 9 || memcmp(reply, "HTTP/1.", 7) != 0)) {
        fprintf(stderr, "fuzz_http: the reply is no HTTP/1 response: %.*s\n", (int)(got < 200 ? got : 200), reply);
        abort();
    }
    if (getenv("BERTH_FUZZ_SHOW")) {
        const char *eol = memchr(reply, '\r', got);
        fprintf(stderr, "fuzz_http: %.*s\n", (int)(eol ? (size_t)(eol - reply) : got), reply);
    }
    return 0;
}
