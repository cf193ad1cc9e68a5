/* util.c - time, randomness, hex and file helpers shared by every module. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include "alloc.h"
#include "util.h"
#include "banned.h"

int64_t berth_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int64_t berth_now_s(void)
{
    return (int64_t)time(NULL);
}

int64_t berth_mono_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

void berth_time_rfc3339(int64_t t, char *out, size_t outlen)
{
    time_t tt = (time_t)t;
    struct tm tm;
    BERTH_ASSERT(out && outlen >= 21);
    gmtime_r(&tt, &tm);
    strftime(out, outlen, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

void berth_random(void *p, size_t n)
{
    unsigned char *c = p;
    while (n) {
        ssize_t r = getrandom(c, n, 0);
        if (r < 0) {
            if (errno == EINTR) continue;
            abort(); /* the kernel's CSPRNG failing is not recoverable */
        }
        BERTH_ASSERT((size_t)r <= n);
        c += r;
        n -= (size_t)r;
    }
}

void berth_hex(const void *p, size_t n, char *out)
{
    static const char hex[] = "0123456789abcdef";
    const unsigned char *c = p;
    size_t i;
    BERTH_ASSERT(out && (p || !n));
    for (i = 0; i < n; i++) {
        out[2 * i] = hex[c[i] >> 4];
        out[2 * i + 1] = hex[c[i] & 15];
    }
    out[2 * n] = '\0';
}

void berth_uuid(char out[37])
{
    unsigned char b[16];
    char h[33];
    berth_random(b, sizeof(b));
    b[6] = (unsigned char)((b[6] & 0x0f) | 0x40);
    b[8] = (unsigned char)((b[8] & 0x3f) | 0x80);
    berth_hex(b, sizeof(b), h);
    snprintf(out, 37, "%.8s-%.4s-%.4s-%.4s-%.12s", h, h + 8, h + 12, h + 16, h + 20);
    BERTH_ASSERT(berth_uuid_valid(out));
}

int berth_uuid_valid(const char *s)
{
    size_t i;
    for (i = 0; i < 36; i++) {
        char c = s[i];
        if (i == 8 || i == 13 || i == 18 || i == 23) {
            if (c != '-') return 0;
        } else if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) {
            return 0;
        }
    }
    return s[36] == '\0';
}

enum berth_rc berth_mkdirs(const char *dir, struct berth_err *err)
{
    char *p = berth_xstrdup(dir);
    enum berth_rc rc = BERTH_OK;
    size_t i, n = strlen(p);

    for (i = 1; i <= n; i++) {
        if (p[i] != '/' && p[i] != '\0') continue;
        p[i] = '\0';
        if (mkdir(p, 0700) != 0 && errno != EEXIST) {
            rc = berth_err_sys(err, BERTH_EIO, errno, "mkdir '%s'", p);
            goto out;
        }
        if (i < n) p[i] = '/';
    }
out:
    free(p);
    return rc;
}

enum berth_rc berth_fsync_dir(const char *dir, struct berth_err *err)
{
    int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    enum berth_rc rc = BERTH_OK;

    if (fd < 0) return berth_err_sys(err, BERTH_EIO, errno, "open '%s'", dir);
    if (fsync(fd) != 0) rc = berth_err_sys(err, BERTH_EIO, errno, "fsync '%s'", dir);
    close(fd);
    return rc;
}

int berth_is_dir(const char *path)
{
    struct stat sb;
    return stat(path, &sb) == 0 && S_ISDIR(sb.st_mode);
}

int berth_same_file(const char *a, const char *b)
{
    struct stat sa, sb;
    return stat(a, &sa) == 0 && stat(b, &sb) == 0 && sa.st_dev == sb.st_dev && sa.st_ino == sb.st_ino;
}

enum berth_rc berth_write_atomic(const char *path, const void *data, size_t len, int mode,
                                 struct berth_err *err)
{
    char *tmp = NULL, *dir = NULL, *slash;
    unsigned char rnd[6];
    char rhex[13];
    const char *p = data;
    enum berth_rc rc = BERTH_OK;
    int fd = -1;

    berth_random(rnd, sizeof(rnd));
    berth_hex(rnd, sizeof(rnd), rhex);
    tmp = berth_xasprintf("%s.tmp-%s", path, rhex);
    fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, mode);
    if (fd < 0) {
        rc = berth_err_sys(err, BERTH_EIO, errno, "create '%s'", tmp);
        goto out;
    }
    while (len) {
        ssize_t w = write(fd, p, len);
        if (w < 0) {
            if (errno == EINTR) continue;
            rc = berth_err_sys(err, BERTH_EIO, errno, "write '%s'", tmp);
            goto out;
        }
        BERTH_ASSERT((size_t)w <= len);
        p += w;
        len -= (size_t)w;
    }
    if (fsync(fd) != 0) {
        rc = berth_err_sys(err, BERTH_EIO, errno, "fsync '%s'", tmp);
        goto out;
    }
    close(fd);
    fd = -1;
    if (rename(tmp, path) != 0) {
        rc = berth_err_sys(err, BERTH_EIO, errno, "rename '%s'", tmp);
        goto out;
    }
    dir = berth_xstrdup(path);
    slash = strrchr(dir, '/');
    if (slash) {
        *slash = '\0';
        rc = berth_fsync_dir(slash == dir ? "/" : dir, err);
    } else {
        rc = berth_fsync_dir(".", err);
    }
out:
    if (fd >= 0) close(fd);
    if (rc && tmp) unlink(tmp);
    free(tmp);
    free(dir);
    return rc;
}

enum berth_rc berth_read_file(const char *path, size_t max, char **out, size_t *len, struct berth_err *err)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    struct stat st;
    char *p = NULL;
    size_t got = 0;
    enum berth_rc rc = BERTH_OK;

    if (fd < 0) return berth_err_sys(err, errno == ENOENT ? BERTH_ENOENT : BERTH_EIO, errno, "open '%s'", path);
    if (fstat(fd, &st) != 0) {
        rc = berth_err_sys(err, BERTH_EIO, errno, "stat '%s'", path);
        goto out;
    }
    if ((uint64_t)st.st_size > max) {
        rc = berth_err_set(err, BERTH_ETOOBIG, "'%s' is larger than %zu bytes", path, max);
        goto out;
    }
    p = berth_xmalloc((size_t)st.st_size + 1);
    while (got < (size_t)st.st_size) {
        ssize_t r = read(fd, p + got, (size_t)st.st_size - got);
        if (r < 0 && errno == EINTR) continue;
        if (r < 0) {
            rc = berth_err_sys(err, BERTH_EIO, errno, "read '%s'", path);
            goto out;
        }
        if (r == 0) break;
        got += (size_t)r;
    }
    BERTH_ASSERT(got <= (size_t)st.st_size && got <= max);
    p[got] = '\0';
    *out = p;
    p = NULL;
    if (len) *len = got;
out:
    free(p);
    close(fd);
    return rc;
}

int berth_parse_u64(const char *s, size_t len, uint64_t *out)
{
    uint64_t v = 0;
    size_t i;
    if (len == 0 || len > 20) return -1;
    for (i = 0; i < len; i++) {
        unsigned d;
        if (s[i] < '0' || s[i] > '9') return -1;
        d = (unsigned)(s[i] - '0');
        if (v > (UINT64_MAX - d) / 10) return -1;
        v = v * 10 + d;
    }
    *out = v;
    return 0;
}

void berth_human_size(uint64_t n, char *out, size_t len)
{
    static const char *const units[] = {"B", "KiB", "MiB", "GiB", "TiB"};
    double v = (double)n;
    size_t u = 0;

    while (v >= 1024 && u + 1 < sizeof(units) / sizeof(units[0])) {
        v /= 1024;
        u++;
    }
    if (u) snprintf(out, len, "%.1f %s", v, units[u]);
    else snprintf(out, len, "%llu B", (unsigned long long)n);
}
