/*
 * util.h - small shared helpers: time, randomness, hex, files.
 */
#ifndef BERTH_UTIL_H
#define BERTH_UTIL_H

#include <stddef.h>
#include <stdint.h>
#include "err.h"

/* Wall-clock time in milliseconds / seconds since the epoch. */
int64_t berth_now_ms(void);
int64_t berth_now_s(void);
/* Monotonic clock in microseconds. */
int64_t berth_mono_us(void);
/* Formats t (seconds since the epoch, UTC) as RFC 3339 "2026-01-02T03:04:05Z"; out >= 21 bytes. */
void berth_time_rfc3339(int64_t t, char *out, size_t outlen);

/* Fills p with n cryptographically random bytes. */
void berth_random(void *p, size_t n);
/* Writes 2n lowercase hex chars of p plus a NUL into out (size >= 2n+1). */
void berth_hex(const void *p, size_t n, char *out);
/* A random RFC 4122 version-4 UUID, 36 chars + NUL. */
void berth_uuid(char out[37]);
/* Nonzero if s is a lowercase 8-4-4-4-12 UUID. */
int berth_uuid_valid(const char *s);

/* Creates dir and its parents (mode 0700 for new ones). */
enum berth_rc berth_mkdirs(const char *dir, struct berth_err *err);
/* fsyncs the directory at path. */
enum berth_rc berth_fsync_dir(const char *dir, struct berth_err *err);
/* Writes data to path atomically: temp file in the same folder, fsync, rename, fsync dir. */
enum berth_rc berth_write_atomic(const char *path, const void *data, size_t len, int mode,
                                 struct berth_err *err);
/* Reads a whole file of at most max bytes into a malloc'd NUL-terminated buffer. */
enum berth_rc berth_read_file(const char *path, size_t max, char **out, size_t *len,
                              struct berth_err *err);

/* Nonzero when path is a folder. */
int berth_is_dir(const char *path);
/* Nonzero when a and b both exist and are one file or folder (same device and inode). */
int berth_same_file(const char *a, const char *b);

/* n bytes for people: "512 B", "12.3 MiB" (powers of 1024, up to TiB). */
void berth_human_size(uint64_t n, char *out, size_t len);

/* Parses a decimal uint64 occupying all of s[0..len). Returns 0 on success. */
int berth_parse_u64(const char *s, size_t len, uint64_t *out);

#endif
