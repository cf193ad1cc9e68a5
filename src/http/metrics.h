/*
 * metrics.h - the one table of the metrics `GET /metrics` exposes.
 *
 * Each metric family is a row of BERTH_METRICS_MAP: X(id, name, type,
 * labels, help). The exposition (src/http/metrics.c) and docs/metrics.md
 * (`berth doc metrics`) both come from this table, so a metric cannot be
 * served without being documented.
 */
#ifndef BERTH_METRICS_H
#define BERTH_METRICS_H

#define BERTH_METRIC_COUNTER "counter"
#define BERTH_METRIC_GAUGE "gauge"
#define BERTH_METRIC_HISTOGRAM "histogram"

/* X(id, name, type, labels, help); labels is a comma-separated list ("" = none). */
#define BERTH_METRICS_MAP(X)                                                                                  \
    X(HTTP_REQUESTS, "berth_http_requests_total", BERTH_METRIC_COUNTER, "route,code",                         \
      "HTTP requests completed, by route label and status code (code 0: no answer was sent)")                \
    X(HTTP_DURATION, "berth_http_request_duration_seconds", BERTH_METRIC_HISTOGRAM, "route",                  \
      "time from the first byte of a request to its completion, by route label")                            \
    X(HTTP_BYTES_IN, "berth_http_bytes_in_total", BERTH_METRIC_COUNTER, "route",                             \
      "request body bytes received, by route label")                                                       \
    X(HTTP_BYTES_OUT, "berth_http_bytes_out_total", BERTH_METRIC_COUNTER, "route",                           \
      "response body bytes sent, by route label")                                                          \
    X(UPLOADS_IN_PROGRESS, "berth_uploads_in_progress", BERTH_METRIC_GAUGE, "",                               \
      "blob upload requests (POST, PATCH, PUT under /v2/{name}/blobs/uploads) accepted and not yet completed") \
    X(LOGINS, "berth_logins_total", BERTH_METRIC_COUNTER, "result,reason",                                    \
      "authentication attempts: token endpoints, and credentials sent on /v2/ or the management API")       \
    X(TOKENS_ISSUED, "berth_tokens_issued_total", BERTH_METRIC_COUNTER, "grant_type",                         \
      "tokens signed, by the grant_type claim they carry")                                                 \
    X(NETWORK_REFUSALS, "berth_network_refusals_total", BERTH_METRIC_COUNTER, "",                             \
      "requests refused by a registry's network rules")                                                    \
    X(EVENTS_DROPPED, "berth_events_dropped_total", BERTH_METRIC_COUNTER, "",                                 \
      "events dropped because the event queue was full (always 0 until the event log exists)")              \
    X(STORE_ERRORS, "berth_store_errors_total", BERTH_METRIC_COUNTER, "",                                     \
      "requests answered with a blob store error (EIO)")                                                   \
    X(DB_ERRORS, "berth_db_errors_total", BERTH_METRIC_COUNTER, "",                                           \
      "requests answered with a database error (EDB)")                                                     \
    X(REGISTRY_BYTES, "berth_registry_storage_bytes", BERTH_METRIC_GAUGE, "registry",                      \
      "bytes a registry holds: each blob its repositories link or reference counted once, and the manifests") \
    X(REGISTRY_REPOSITORIES, "berth_registry_repositories", BERTH_METRIC_GAUGE, "registry",                  \
      "repositories of a registry")                                                                         \
    X(REGISTRY_MANIFESTS, "berth_registry_manifests", BERTH_METRIC_GAUGE, "registry",                        \
      "manifests of a registry")                                                                            \
    X(REGISTRY_TAGS, "berth_registry_tags", BERTH_METRIC_GAUGE, "registry", "tags of a registry")          \
    X(BUILD_INFO, "berth_build_info", BERTH_METRIC_GAUGE, "version", "always 1; the label names the running version")

enum berth_metric_id {
#define BERTH_METRIC_ENUM(id, name, type, labels, help) BERTH_METRIC_##id,
    BERTH_METRICS_MAP(BERTH_METRIC_ENUM)
#undef BERTH_METRIC_ENUM
    BERTH_METRIC_COUNT
};

/* Upper bounds of the request duration histogram buckets, in seconds (+Inf follows). */
#define BERTH_METRIC_BUCKETS(X) \
    X("0.001", 1000) X("0.0025", 2500) X("0.005", 5000) X("0.01", 10000) X("0.025", 25000) X("0.05", 50000) \
    X("0.1", 100000) X("0.25", 250000) X("0.5", 500000) X("1", 1000000) X("2.5", 2500000) X("5", 5000000)  \
    X("10", 10000000)

#endif
