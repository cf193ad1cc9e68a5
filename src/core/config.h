/*
 * config.h - the one table of berth's settings.
 *
 * Each setting is a row of BERTH_CONFIG_MAP: name, type, default, bounds and
 * help. Values are taken, in rising priority, from the defaults, a JSON file
 * (--config FILE), the environment (BERTH_<NAME> upper-cased, '-' -> '_')
 * and command-line flags (--<name> VALUE). `berth serve --help` and
 * docs/config.md come from the same table. A bad value stops start-up with a
 * message naming the key and the allowed range.
 */
#ifndef BERTH_CONFIG_H
#define BERTH_CONFIG_H

#include <stdint.h>
#include <stdio.h>
#include "err.h"

enum berth_config_type {
    BERTH_CFG_STR,
    BERTH_CFG_INT,  /* int64 with min..max */
    BERTH_CFG_SIZE, /* bytes; accepts K, M, G suffixes (powers of 1024) */
    BERTH_CFG_BOOL,
    BERTH_CFG_LEVEL, /* log level name */
};

/* X(field, name, type, default, min, max, help) -- ints/sizes use min/max. */
#define BERTH_CONFIG_MAP(X)                                                                          \
    X(config, "config", BERTH_CFG_STR, "", 0, 0, "JSON file with settings (keys as below)")           \
    X(listen, "listen", BERTH_CFG_STR, "127.0.0.1:5000", 0, 0, "address and port to listen on")       \
    X(data, "data", BERTH_CFG_STR, "./var/berth", 0, 0, "data folder (blobs, uploads, database)")     \
    X(meta, "meta", BERTH_CFG_STR, "", 0, 0,                                                         \
      "metadata store: empty for SQLite in the data folder, or PostgreSQL (postgresql://...)")        \
    X(store, "store", BERTH_CFG_STR, "", 0, 0,                                                       \
      "blob store: empty for files in the data folder, or S3 (s3://BUCKET[/PREFIX]?endpoint=URL"      \
      "[&region=R][&redirect=0][&credentials=FILE][&part-size=8MiB]); S3 keys come from "            \
      "AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY or a credentials file, never from the URL")          \
    X(tls_cert, "tls-cert", BERTH_CFG_STR, "", 0, 0, "PEM certificate chain; HTTPS when set")         \
    X(tls_key, "tls-key", BERTH_CFG_STR, "", 0, 0, "PEM private key for --tls-cert")                  \
    X(log_level, "log-level", BERTH_CFG_LEVEL, "info", 0, 3, "error, warn, info or debug")            \
    X(log_format, "log-format", BERTH_CFG_STR, "text", 0, 0,                                          \
      "text (key=value lines) or json (one JSON object per line), for the server and access log")   \
    X(access_log, "access-log", BERTH_CFG_BOOL, "true", 0, 1, "log one key=value line per request")   \
    X(threads, "threads", BERTH_CFG_INT, "0", 0, 256, "HTTP worker threads (0 = number of CPUs)")    \
    X(max_connections, "max-connections", BERTH_CFG_INT, "1024", 1, 65536, "concurrent connections") \
    X(max_connections_per_ip, "max-connections-per-ip", BERTH_CFG_INT, "0", 0, 65536,                 \
      "concurrent connections from one client address (0 = a quarter of max-connections; trusted "   \
      "proxies are not limited)")                                                                   \
    X(connection_timeout, "connection-timeout", BERTH_CFG_INT, "120", 1, 86400,                       \
      "seconds of inactivity before a connection is closed")                                        \
    X(header_timeout, "header-timeout", BERTH_CFG_INT, "30", 1, 3600,                                 \
      "seconds a connection has to send a whole request head, from its start or its previous "       \
      "request's end")                                                                              \
    X(connection_memory, "connection-memory", BERTH_CFG_SIZE, "96K", 65536, 67108864,                 \
      "per-connection buffer, held by every open connection (at least header-max + 16K)")           \
    X(header_max, "header-max", BERTH_CFG_SIZE, "64K", 4096, 1048576, "cap on all request headers")   \
    X(manifest_max, "manifest-max", BERTH_CFG_SIZE, "4M", 1024, 67108864, "cap on a manifest body")   \
    X(blob_max, "blob-max", BERTH_CFG_SIZE, "64G", 1024, 4398046511104, "cap on one blob")            \
    X(chunk_min, "chunk-min", BERTH_CFG_SIZE, "1M", 0, 1073741824,                                    \
      "OCI-Chunk-Min-Length advertised to clients (0 = none)")                                      \
    X(page_max, "page-max", BERTH_CFG_INT, "1000", 1, 100000, "largest n for tags/list and _catalog") \
    X(fsync, "fsync", BERTH_CFG_BOOL, "true", 0, 1, "fsync blobs and folders before a push completes") \
    X(upload_ttl, "upload-ttl", BERTH_CFG_INT, "86400", 60, 31536000,                                 \
      "seconds an idle upload session is kept before gc removes it")                                \
    X(upload_sessions_max, "upload-sessions-max", BERTH_CFG_INT, "100", 1, 100000,                   \
      "open upload sessions one client may have on one repository")                                 \
    X(gc_grace, "gc-grace", BERTH_CFG_INT, "60", 0, 525600,                                           \
      "minutes: gc never deletes what was pushed more recently than this")                          \
    X(gc_interval, "gc-interval", BERTH_CFG_INT, "0", 0, 604800,                                      \
      "seconds between the server's own gc passes over the review queue (0 = only `berth gc`)")     \
    X(shutdown_timeout, "shutdown-timeout", BERTH_CFG_INT, "10", 0, 3600,                             \
      "seconds to let in-flight requests finish on SIGTERM")                                        \
    X(auth, "auth", BERTH_CFG_BOOL, "true", 0, 1,                                                    \
      "require credentials (false: an open registry, for tests and benchmarks)")                    \
    X(domain, "domain", BERTH_CFG_STR, "localhost", 0, 0,                                            \
      "login servers are <registry>.<domain>; the Host header picks the registry")                   \
    X(default_registry, "default-registry", BERTH_CFG_STR, "default", 0, 0,                          \
      "registry made at first start, also served on any other Host")                                \
    X(external_url, "external-url", BERTH_CFG_STR, "", 0, 0,                                        \
      "the URL clients reach berth at (https://registry.example.com) behind a proxy, for the token " \
      "realm and the directory's endpoints; default: the request's (X-Forwarded-Proto and "         \
      "X-Forwarded-Host from trusted proxies, else the scheme served and the Host header)")         \
    X(trusted_proxies, "trusted-proxies", BERTH_CFG_STR, "", 0, 0,                                  \
      "comma-separated IPs/CIDRs of reverse proxies whose X-Forwarded-For is believed (none by default)") \
    X(management_networks, "management-networks", BERTH_CFG_STR, "127.0.0.0/8,::1", 0, 0,            \
      "comma-separated IPs/CIDRs the management API (/api/v1) is meant to be reached from")          \
    X(management_networks_only, "management-networks-only", BERTH_CFG_BOOL, "false", 0, 1,           \
      "refuse /api/v1 to clients outside management-networks (403)")                                 \
    X(access_ttl, "access-ttl", BERTH_CFG_INT, "3600", 5, 86400, "seconds a registry access token lives") \
    X(refresh_ttl, "refresh-ttl", BERTH_CFG_INT, "10800", 5, 2592000,                               \
      "seconds a registry refresh token lives")                                                     \
    X(directory_ttl, "directory-ttl", BERTH_CFG_INT, "10800", 60, 2592000,                           \
      "seconds a directory access token lives")                                                     \
    X(leeway, "leeway", BERTH_CFG_INT, "60", 0, 600, "seconds of clock skew allowed on token times")  \
    X(key_rotation, "key-rotation-days", BERTH_CFG_INT, "90", 0, 3650,                               \
      "at start, make a new signing key when the current one is older (0 = never); the previous key "  \
      "keeps verifying")                                                                            \
    X(secret_cache_ttl, "secret-cache-ttl", BERTH_CFG_INT, "60", 0, 3600,                            \
      "seconds a verified password is remembered (0 = verify every time)")                          \
    X(login_failures, "login-failures", BERTH_CFG_INT, "10", 1, 100,                                 \
      "failed logins per principal and IP within login-window before 429")                          \
    X(login_window, "login-window", BERTH_CFG_INT, "300", 1, 86400, "seconds over which failures count") \
    X(login_lockout, "login-lockout", BERTH_CFG_INT, "300", 1, 86400,                                \
      "seconds a principal and IP stay blocked after too many failures")                            \
    X(metrics_access, "metrics-access", BERTH_CFG_STR, "loopback", 0, 0,                             \
      "who may GET /metrics: loopback (127.0.0.1 and ::1 only), any, or off")                        \
    X(event_retention_days, "event-retention-days", BERTH_CFG_INT, "30", 1, 3650,                    \
      "days login and repository events are kept")                                                  \
    X(event_max_rows, "event-max-rows", BERTH_CFG_INT, "1000000", 1000, 1000000000,                  \
      "most login and repository events kept; older ones are deleted first")                        \
    X(event_queue, "event-queue", BERTH_CFG_INT, "65536", 16, 1048576,                               \
      "events waiting to be written; when full, new events are dropped and counted")                 \
    X(event_file, "event-file", BERTH_CFG_STR, "", 0, 0,                                             \
      "also append every event to this file as a JSON line (rotated by size)")                      \
    X(event_file_max, "event-file-max", BERTH_CFG_SIZE, "100M", 65536, 1099511627776LL,              \
      "size at which event-file is rotated to event-file.1")                                        \
    X(event_file_keep, "event-file-keep", BERTH_CFG_INT, "5", 1, 100,                                \
      "rotated event files kept (event-file.1 is the newest)")                                      \
    X(event_followers, "event-followers", BERTH_CFG_INT, "32", 0, 1024,                              \
      "most log streams followed at once (logs/stream?follow=true)")

struct berth_config {
#define BERTH_CFG_DECL(field, name, type, def, min, max, help) type##_FIELD field;
#define BERTH_CFG_STR_FIELD char *
#define BERTH_CFG_INT_FIELD int64_t
#define BERTH_CFG_SIZE_FIELD int64_t
#define BERTH_CFG_BOOL_FIELD int64_t
#define BERTH_CFG_LEVEL_FIELD int64_t
    BERTH_CONFIG_MAP(BERTH_CFG_DECL)
#undef BERTH_CFG_DECL
    char **retired; /* strings replaced by berth_config_apply_live: readers may still hold them */
    size_t nretired;
};

/*
 * The settings a running server takes on SIGHUP; every other one is read at
 * start only and a change to it is logged as needing a restart. Readers of
 * these fields use BERTH_CFG_LIVE (integers) or BERTH_CFG_LIVE_STR, since the
 * main thread stores new values while requests are served.
 */
#define BERTH_CONFIG_LIVE(X)                                                                             X(log_level) X(log_format) X(access_log) X(tls_cert) X(tls_key) X(external_url) X(metrics_access)     X(access_ttl) X(refresh_ttl) X(directory_ttl) X(leeway) X(manifest_max) X(blob_max) X(chunk_min)       X(page_max) X(upload_sessions_max) X(shutdown_timeout)
#define BERTH_CFG_LIVE(cfg, field) __atomic_load_n(&(cfg)->field, __ATOMIC_RELAXED)
#define BERTH_CFG_LIVE_STR(cfg, field) ((const char *)__atomic_load_n(&(cfg)->field, __ATOMIC_ACQUIRE))

/* Sets every field to its default. Strings are owned by cfg. */
void berth_config_init(struct berth_config *cfg);
void berth_config_release(struct berth_config *cfg);
/* Sets one key from text (name as in the table). Errors name the key and range. */
enum berth_rc berth_config_set(struct berth_config *cfg, const char *name, const char *value,
                               struct berth_err *err);
/* Loads keys from a JSON object file; unknown keys are an error. */
enum berth_rc berth_config_load_file(struct berth_config *cfg, const char *path, struct berth_err *err);
/* Applies BERTH_* environment variables. */
enum berth_rc berth_config_load_env(struct berth_config *cfg, struct berth_err *err);
/*
 * Full load: defaults, then --config file (found in argv or BERTH_CONFIG), env, then
 * flags from argv (--name VALUE or --name=VALUE). Unknown flags are an error
 * (BERTH_EINVAL) naming the flag.
 */
enum berth_rc berth_config_load(struct berth_config *cfg, int argc, char **argv, struct berth_err *err);
/* 1 when a setting (by name) is one of BERTH_CONFIG_LIVE, else 0. */
int berth_config_is_live(const char *name);
/*
 * Calls fn for every key whose value differs between a and b, with both values
 * as text (a key that may carry a password, such as meta, as "(hidden)") and
 * whether the key is live. Returns the number of keys that differ.
 */
typedef void (*berth_config_diff_fn)(const char *name, const char *old_text, const char *new_text, int live,
                                     void *arg);
size_t berth_config_diff(const struct berth_config *a, const struct berth_config *b, berth_config_diff_fn fn,
                         void *arg);
/*
 * Copies the live keys of src into dst while other threads read dst: integers
 * by atomic stores, strings by swapping the pointer; a replaced string is kept
 * (dst->retired) until berth_config_release.
 */
void berth_config_apply_live(struct berth_config *dst, const struct berth_config *src);
/* Prints every option with its default and help. */
void berth_config_usage(FILE *out);

#endif
