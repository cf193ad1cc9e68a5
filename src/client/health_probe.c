/*
 * health_probe.c - the probes of `berth check-health`: name resolution per
 * address family, a timed TCP connect, one HTTP request that keeps every
 * header, the timings and the server certificate (libcurl), and running a
 * client program (--version, credential helpers). Each HTTP exchange is
 * written to the run's log for --report; the log is redacted when written.
 */
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>
#include <arpa/inet.h>
#include "lazy_curl.h"
#include "alloc.h"
#include "util.h"
#include "client.h"
#include "health.h"
#include "banned.h"

#define BODY_MAX (1u << 20)
#define PROG_TIMEOUT_MS 10000

void berth_health_http_release(struct berth_health_http *h)
{
    if (!h) return;
    berth_buf_release(&h->body);
    free(h->www_auth);
    free(h->date);
    free(h->retry_after);
    free(h->reason);
    free(h->message);
    free(h->cert_subject);
    free(h->cert_issuer);
    free(h->cert_san);
    free(h->cert_expire);
    free(h->cert_start);
    memset(h, 0, sizeof(*h));
}

struct hdr_ctx {
    struct berth_health_http *h;
    struct berth_buf *log;
};

/* Keeps a header's value when line is "name: value". */
static void keep(char **slot, const char *line, size_t len, const char *name)
{
    char *v = berth_client_header_value(line, len, name);
    if (!v) return;
    free(*slot);
    *slot = v;
}

static void on_header(const char *p, size_t len, void *ud)
{
    struct hdr_ctx *c = ud;
    if (len > 5 && !strncmp(p, "HTTP/", 5)) { /* a new response (after a 100 or a redirect) */
        free(c->h->www_auth);
        free(c->h->date);
        free(c->h->retry_after);
        c->h->www_auth = c->h->date = c->h->retry_after = NULL;
    }
    keep(&c->h->www_auth, p, len, "WWW-Authenticate");
    keep(&c->h->date, p, len, "Date");
    keep(&c->h->retry_after, p, len, "Retry-After");
    if (len > 2) {
        berth_buf_puts(c->log, "< ");
        berth_buf_append(c->log, p, len);
        if (p[len - 1] != '\n') berth_buf_putc(c->log, '\n');
    }
}

/* Copies one field of curl's certinfo ("Subject:...") into *slot. */
static void cert_field(const struct curl_slist *s, const char *name, char **slot)
{
    size_t n = strlen(name);
    for (; s; s = s->next)
        if (!strncmp(s->data, name, n) && s->data[n] == ':') {
            free(*slot);
            *slot = berth_xstrdup(s->data + n + 1);
            return;
        }
}

/* The server's certificates: the leaf's fields kept, every one's summary logged. */
static void on_cert(int index, const struct curl_slist *fields, void *ud)
{
    struct hdr_ctx *c = ud;
    const struct curl_slist *s;

    if (index == 0) {
        cert_field(fields, "Subject", &c->h->cert_subject);
        cert_field(fields, "Issuer", &c->h->cert_issuer);
        cert_field(fields, "X509v3 Subject Alternative Name", &c->h->cert_san);
        cert_field(fields, "Expire date", &c->h->cert_expire);
        cert_field(fields, "Start date", &c->h->cert_start);
    }
    berth_buf_printf(c->log, "  certificate %d:", index);
    for (s = fields; s; s = s->next)
        if (!strncmp(s->data, "Subject:", 8) || !strncmp(s->data, "Issuer:", 7) ||
            !strncmp(s->data, "Expire date:", 12) || !strncmp(s->data, "X509v3 Subject Alternative", 26))
            berth_buf_printf(c->log, " %s;", s->data);
    berth_buf_putc(c->log, '\n');
}

/* The OCI error's message and detail.reason, when the body is one. */
static void oci_error(struct berth_health_http *h)
{
    json_t *root = json_loadb(h->body.p ? h->body.p : "", h->body.len, 0, NULL);
    const json_t *e = json_array_get(json_object_get(root, "errors"), 0);
    const char *m = json_string_value(json_object_get(e, "message"));
    const char *r = json_string_value(json_object_get(json_object_get(e, "detail"), "reason"));
    if (m) h->message = berth_xstrdup(m);
    if (r) h->reason = berth_xstrdup(r);
    json_decref(root);
}

void berth_health_http_do(struct berth_health_run *run, const struct berth_health_req *rq, struct berth_health_http *h)
{
    struct berth_xfer_req xq;
    struct berth_xfer_resp xr;
    struct berth_err err = BERTH_ERR_INIT;
    struct hdr_ctx hc;
    char ls_hp[300], scheme[16], *url = NULL, *connect_to = NULL;
    /* the judged clients' trust: docker, podman and skopeo never see a CA that only berth was given */
    const char *ca = run->clients & BERTH_HC_GO ? run->ca_bundle
                     : run->client->ca_file ? run->client->ca_file : run->client->session_ca;

    memset(h, 0, sizeof(*h));
    hc.h = h;
    hc.log = &run->log;
    if (!strncmp(rq->path, "http://", 7) || !strncmp(rq->path, "https://", 8)) {
        url = berth_xstrdup(rq->path);
    } else {
        url = berth_xasprintf("%s://%s%s", run->scheme, rq->host ? rq->host : run->server_hp, rq->path);
    }
    /* a login server (or realm) on the server's own address is reached through it, as the other commands do */
    berth_client_url_hostport(url, ls_hp, sizeof(ls_hp), scheme, sizeof(scheme));
    if (strcasecmp(ls_hp, run->server_hp) != 0 && run->login_server && !strcasecmp(ls_hp, run->login_server))
        connect_to = berth_xasprintf("%s:%s", ls_hp, run->server_hp);
    berth_buf_printf(&run->log, "> %s %s\n", rq->method, url);
    if (rq->auth) berth_buf_puts(&run->log, "> Authorization: (sent)\n");
    memset(&xq, 0, sizeof(xq));
    xq.method = rq->method;
    xq.url = url;
    xq.connect_to = connect_to;
    xq.user_agent = "berth-check-health";
    xq.auth = rq->auth;
    xq.accept = "application/json";
    if (rq->form) {
        xq.content_type = "application/x-www-form-urlencoded";
        xq.body = rq->form;
        xq.body_len = strlen(rq->form);
    }
    xq.ca_file = ca;
    xq.proxy = run->proxy;
    xq.flags = BERTH_XFER_TRUNCATE;
    if (run->tls_insecure) xq.flags |= BERTH_XFER_INSECURE;
    if (rq->flags & BERTH_HEALTH_REQ_INSECURE) xq.flags |= BERTH_XFER_INSECURE;
    if (rq->flags & BERTH_HEALTH_REQ_CERTINFO) xq.flags |= BERTH_XFER_CERTINFO;
    if (rq->flags & BERTH_HEALTH_REQ_NOPROXY) xq.flags |= BERTH_XFER_NOPROXY;
    if (rq->flags & BERTH_HEALTH_REQ_EXPECT) xq.flags |= BERTH_XFER_EXPECT;
    xq.connect_timeout_s = (long)run->timeout;
    xq.timeout_s = (long)run->timeout + 20;
    xq.body_max = BODY_MAX;
    xq.on_header = on_header;
    xq.on_cert = on_cert;
    xq.arg = &hc;
    h->sent_ms = berth_now_ms();
    berth_client_xfer(&xq, &xr, &err);
    h->got_ms = berth_now_ms();
    h->body = xr.body;
    berth_buf_init(&xr.body, 0);
    h->status = xr.status;
    h->cc = xr.cc;
    snprintf(h->errbuf, sizeof(h->errbuf), "%s", xr.errbuf);
    h->connect_ms = xr.connect_ms;
    h->total_ms = xr.total_ms;
    snprintf(h->primary_ip, sizeof(h->primary_ip), "%s", xr.primary_ip);
    if (h->cc != CURLE_OK) {
        berth_buf_printf(&run->log, "! %s (curl %d)\n", h->errbuf, h->cc);
        goto out;
    }
    if (h->status >= 400) oci_error(h);
    if (h->body.len) {
        berth_buf_append(&run->log, h->body.p, h->body.len > 2000 ? 2000 : h->body.len);
        berth_buf_putc(&run->log, '\n');
    }
    berth_buf_printf(&run->log, "  (%.0f ms)\n\n", h->total_ms);
out:
    berth_xfer_resp_release(&xr);
    free(connect_to);
    free(url);
}

int berth_health_resolve(const char *host, int family, struct berth_buf *out, char *why, size_t whylen)
{
    struct addrinfo hints, *res = NULL, *a;
    char addr[INET6_ADDRSTRLEN];
    int n = 0, e;

    memset(&hints, 0, sizeof(hints));
    hints.ai_family = family;
    hints.ai_socktype = SOCK_STREAM;
    e = getaddrinfo(host, NULL, &hints, &res);
    if (e) {
        snprintf(why, whylen, "%s", gai_strerror(e));
        return 0;
    }
    for (a = res; a; a = a->ai_next) {
        const void *src = a->ai_family == AF_INET
                              ? (const void *)&((struct sockaddr_in *)(void *)a->ai_addr)->sin_addr
                              : (const void *)&((struct sockaddr_in6 *)(void *)a->ai_addr)->sin6_addr;
        if (!inet_ntop(a->ai_family, src, addr, sizeof(addr))) continue;
        if (out->len && strstr(berth_buf_str(out), addr)) continue;
        berth_buf_printf(out, "%s%s", out->len ? ", " : "", addr);
        n++;
    }
    freeaddrinfo(res);
    return n;
}

int berth_health_tcp_connect(const char *host, int port, long long timeout_s, double *ms, char *addr, size_t addrlen)
{
    struct addrinfo hints, *res = NULL;
    struct pollfd pfd;
    char portstr[16];
    int fd = -1, e = 0, r;
    socklen_t sl = sizeof(e);
    int64_t t0 = berth_mono_us();

    *ms = 0;
    snprintf(portstr, sizeof(portstr), "%d", port);
    memset(&hints, 0, sizeof(hints));
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    if (getaddrinfo(host, portstr, &hints, &res) != 0 || !res) return EHOSTUNREACH;
    if (addr) {
        const void *src = res->ai_family == AF_INET
                              ? (const void *)&((struct sockaddr_in *)(void *)res->ai_addr)->sin_addr
                              : (const void *)&((struct sockaddr_in6 *)(void *)res->ai_addr)->sin6_addr;
        if (!inet_ntop(res->ai_family, src, addr, (socklen_t)addrlen)) snprintf(addr, addrlen, "?");
    }
    fd = socket(res->ai_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        e = errno;
        goto out;
    }
    fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
    if (connect(fd, res->ai_addr, res->ai_addrlen) == 0) goto out;
    if (errno != EINPROGRESS) {
        e = errno;
        goto out;
    }
    pfd.fd = fd;
    pfd.events = POLLOUT;
    r = poll(&pfd, 1, (int)(timeout_s * 1000));
    if (r == 0) {
        e = ETIMEDOUT;
        goto out;
    }
    if (r < 0 || getsockopt(fd, SOL_SOCKET, SO_ERROR, &e, &sl) != 0) e = errno ? errno : EIO;
out:
    *ms = (double)(berth_mono_us() - t0) / 1000.0;
    if (fd >= 0) close(fd);
    freeaddrinfo(res);
    return e;
}

int berth_health_run_prog(const char *const *argv, const char *input, int merge, struct berth_buf *out)
{
    int in[2] = {-1, -1}, outp[2] = {-1, -1}, status = 0;
    char buf[4096];
    ssize_t n;
    pid_t pid;
    void (*old)(int);
    int64_t deadline = berth_mono_us() + (int64_t)PROG_TIMEOUT_MS * 1000;

    if (pipe(in) != 0) return -1;
    if (pipe(outp) != 0) {
        close(in[0]);
        close(in[1]);
        return -1;
    }
    old = signal(SIGPIPE, SIG_IGN);
    pid = fork();
    if (pid == 0) {
        int devnull = open("/dev/null", O_WRONLY);
        dup2(in[0], 0);
        dup2(outp[1], 1);
        dup2(merge ? outp[1] : devnull, 2);
        close(in[0]);
        close(in[1]);
        close(outp[0]);
        close(outp[1]);
        execvp(argv[0], (char *const *)(uintptr_t)argv);
        _exit(127);
    }
    close(in[0]);
    close(outp[1]);
    if (pid > 0 && input) {
        size_t len = strlen(input), off = 0;
        while (off < len && (n = write(in[1], input + off, len - off)) > 0) off += (size_t)n;
    }
    close(in[1]);
    /* a client or helper that hangs (a daemon that never answers) is killed after PROG_TIMEOUT_MS */
    while (pid > 0) {
        struct pollfd pfd = {outp[0], POLLIN, 0};
        int64_t left = (deadline - berth_mono_us()) / 1000;
        if (left <= 0 || poll(&pfd, 1, (int)left) == 0) {
            kill(pid, SIGKILL);
            berth_buf_printf(out, "(%s did not finish within %d s)", argv[0], PROG_TIMEOUT_MS / 1000);
            break;
        }
        n = read(outp[0], buf, sizeof(buf));
        if (n == 0) break;
        if (n < 0) {
            if (errno == EINTR) continue;
            break;
        }
        if (out->len < BODY_MAX) berth_buf_append(out, buf, (size_t)n);
    }
    close(outp[0]);
    berth_buf_puts(out, "");
    signal(SIGPIPE, old);
    if (pid < 0) return -1;
    while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
    }
    if (!WIFEXITED(status)) return -1;
    return WEXITSTATUS(status) == 127 ? -1 : WEXITSTATUS(status);
}
