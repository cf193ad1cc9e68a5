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
#include <curl/curl.h>
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

static size_t on_body(char *p, size_t size, size_t n, void *ud)
{
    struct berth_buf *b = ud;
    size_t len = size * n;
    if (b->len + len > BODY_MAX) return len; /* keep the start, drop the rest */
    berth_buf_append(b, p, len);
    return len;
}

struct hdr_ctx {
    struct berth_health_http *h;
    struct berth_buf *log;
};

/* Keeps a header's value, trimmed, when line is "name: value". */
static void keep(char **slot, const char *line, size_t len, const char *name)
{
    size_t nl = strlen(name), e;
    if (len <= nl || strncasecmp(line, name, nl) != 0 || line[nl] != ':') return;
    line += nl + 1;
    len -= nl + 1;
    while (len && (*line == ' ' || *line == '\t')) line++, len--;
    e = len;
    while (e && (line[e - 1] == '\r' || line[e - 1] == '\n' || line[e - 1] == ' ')) e--;
    free(*slot);
    *slot = berth_xstrndup(line, e);
}

static size_t on_header(char *p, size_t size, size_t n, void *ud)
{
    struct hdr_ctx *c = ud;
    size_t len = size * n;
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
    return len;
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
    CURL *c = curl_easy_init();
    struct curl_slist *hdrs = NULL, *connect_to = NULL;
    struct curl_certinfo *ci = NULL;
    struct hdr_ctx hc;
    char ls_hp[300], scheme[16], *url = NULL, *line = NULL;
    const char *ca = run->client->ca_file ? run->client->ca_file : run->client->session_ca;
    char *ip = NULL;
    double t;
    int i;

    memset(h, 0, sizeof(*h));
    berth_buf_init(&h->body, 0);
    hc.h = h;
    hc.log = &run->log;
    if (!strncmp(rq->path, "http://", 7) || !strncmp(rq->path, "https://", 8)) {
        url = berth_xstrdup(rq->path);
    } else {
        url = berth_xasprintf("%s://%s%s", run->scheme, rq->host ? rq->host : run->server_hp, rq->path);
    }
    /* a login server (or realm) on the server's own address is reached through it, as the other commands do */
    berth_client_url_hostport(url, ls_hp, sizeof(ls_hp), scheme, sizeof(scheme));
    if (strcasecmp(ls_hp, run->server_hp) != 0 && run->login_server && !strcasecmp(ls_hp, run->login_server)) {
        line = berth_xasprintf("%s:%s", ls_hp, run->server_hp);
        connect_to = curl_slist_append(connect_to, line);
        free(line);
        line = NULL;
    }
    berth_buf_printf(&run->log, "> %s %s\n", rq->method, url);
    if (rq->auth) berth_buf_puts(&run->log, "> Authorization: (sent)\n");
    if (!c) {
        snprintf(h->errbuf, sizeof(h->errbuf), "cannot start libcurl");
        goto out;
    }
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_ERRORBUFFER, h->errbuf);
    curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT, (long)run->timeout);
    curl_easy_setopt(c, CURLOPT_TIMEOUT, (long)run->timeout + 20);
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(c, CURLOPT_USERAGENT, "berth-check-health");
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, &h->body);
    curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, on_header);
    curl_easy_setopt(c, CURLOPT_HEADERDATA, &hc);
    if (ca) curl_easy_setopt(c, CURLOPT_CAINFO, ca);
    if (rq->flags & BERTH_HEALTH_REQ_INSECURE) {
        curl_easy_setopt(c, CURLOPT_SSL_VERIFYPEER, 0L);
        curl_easy_setopt(c, CURLOPT_SSL_VERIFYHOST, 0L);
    }
    if (rq->flags & BERTH_HEALTH_REQ_CERTINFO) curl_easy_setopt(c, CURLOPT_CERTINFO, 1L);
    if (rq->flags & BERTH_HEALTH_REQ_NOPROXY) curl_easy_setopt(c, CURLOPT_NOPROXY, "*");
    if (connect_to) curl_easy_setopt(c, CURLOPT_CONNECT_TO, connect_to);
    if (rq->form) {
        curl_easy_setopt(c, CURLOPT_POSTFIELDS, rq->form);
        curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE, (long)strlen(rq->form));
        hdrs = curl_slist_append(hdrs, "Content-Type: application/x-www-form-urlencoded");
    }
    if (strcmp(rq->method, "GET") != 0 && strcmp(rq->method, "POST") != 0)
        curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, rq->method);
    hdrs = curl_slist_append(hdrs, "Expect:");
    hdrs = curl_slist_append(hdrs, "Accept: application/json");
    if (rq->auth) {
        line = berth_xasprintf("Authorization: %s", rq->auth);
        hdrs = curl_slist_append(hdrs, line);
    }
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, hdrs);
    h->cc = (int)curl_easy_perform(c);
    if (curl_easy_getinfo(c, CURLINFO_CONNECT_TIME, &t) == CURLE_OK) h->connect_ms = t * 1000;
    if (curl_easy_getinfo(c, CURLINFO_TOTAL_TIME, &t) == CURLE_OK) h->total_ms = t * 1000;
    if (curl_easy_getinfo(c, CURLINFO_PRIMARY_IP, &ip) == CURLE_OK && ip)
        snprintf(h->primary_ip, sizeof(h->primary_ip), "%s", ip);
    if ((rq->flags & BERTH_HEALTH_REQ_CERTINFO) && curl_easy_getinfo(c, CURLINFO_CERTINFO, &ci) == CURLE_OK && ci &&
        ci->num_of_certs > 0) {
        cert_field(ci->certinfo[0], "Subject", &h->cert_subject);
        cert_field(ci->certinfo[0], "Issuer", &h->cert_issuer);
        cert_field(ci->certinfo[0], "X509v3 Subject Alternative Name", &h->cert_san);
        cert_field(ci->certinfo[0], "Expire date", &h->cert_expire);
        cert_field(ci->certinfo[0], "Start date", &h->cert_start);
        for (i = 0; i < ci->num_of_certs; i++) {
            const struct curl_slist *s;
            berth_buf_printf(&run->log, "  certificate %d:", i);
            for (s = ci->certinfo[i]; s; s = s->next)
                if (!strncmp(s->data, "Subject:", 8) || !strncmp(s->data, "Issuer:", 7) ||
                    !strncmp(s->data, "Expire date:", 12) || !strncmp(s->data, "X509v3 Subject Alternative", 26))
                    berth_buf_printf(&run->log, " %s;", s->data);
            berth_buf_putc(&run->log, '\n');
        }
    }
    if (h->cc != CURLE_OK) {
        if (!h->errbuf[0]) snprintf(h->errbuf, sizeof(h->errbuf), "%s", curl_easy_strerror((CURLcode)h->cc));
        berth_buf_printf(&run->log, "! %s (curl %d)\n", h->errbuf, h->cc);
        goto out;
    }
    curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &h->status);
    if (h->status >= 400) oci_error(h);
    if (h->body.len) {
        berth_buf_append(&run->log, h->body.p, h->body.len > 2000 ? 2000 : h->body.len);
        berth_buf_putc(&run->log, '\n');
    }
    berth_buf_printf(&run->log, "  (%.0f ms)\n\n", h->total_ms);
out:
    if (line) {
        memset(line, 0, strlen(line));
        free(line);
    }
    curl_slist_free_all(hdrs);
    curl_slist_free_all(connect_to);
    if (c) curl_easy_cleanup(c);
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
