/*
 * http_int.h - what the files of the http module share: the request, the
 * route table row, response helpers and the upload session table.
 */
#ifndef BERTH_HTTP_INT_H
#define BERTH_HTTP_INT_H

#include <jansson.h>
#include <microhttpd.h>
#include <pthread.h>
#include <stdint.h>
#include "buf.h"
#include "doctor.h"
#include "err.h"
#include "http.h"
#include "oci.h"
#include "access.h"

#define BERTH_REQ_MAGIC 0x52455155u /* "REQU" */
#define REQ_MAX_HEADERS 16

enum req_method {
    M_GET = 1 << 0,
    M_HEAD = 1 << 1,
    M_PUT = 1 << 2,
    M_POST = 1 << 3,
    M_PATCH = 1 << 4,
    M_DELETE = 1 << 5,
    M_OTHER = 1 << 6,
};

struct berth_req;

/* Where a request is in its steps. */
enum req_phase {
    REQ_NEW = 0,       /* routed, not begun */
    REQ_BEGUN,         /* the begin step accepted it; the body may come */
    REQ_RESPONDED,     /* a response is queued */
};

/*
 * What a management row (/api/v1) needs of its caller, besides being a user
 * or a service principal (api_mgmt_begin): the row's right (BERTH_MGMT_*) on
 * what this names. api_mgmt_finish checks it before it calls the row's
 * handler. Every other row has RIGHT_ON_NOTHING (its kind and access say what
 * it needs).
 */
enum route_right_on {
    RIGHT_ON_NOTHING = 0,
    RIGHT_ON_CALLER,         /* no right (right 0): any authenticated caller */
    RIGHT_ON_SERVER,         /* the server (scope "/") */
    RIGHT_ON_REGISTRY,       /* the registry the path's {registry} names, checked before it is looked up */
    RIGHT_ON_EACH_REGISTRY,  /* a list that shows each registry only to those with the right on it (or on
                                the server); refuses nobody */
    RIGHT_ON_ANY_REGISTRY,   /* the server or some registry, else refused as on the server; what is shown or
                                changed is filtered or checked per registry by the handler */
    RIGHT_ON_SELF_OR_SERVER, /* none when the path's {user} is the calling user, else the server */
};

/*
 * What a management row answers when it is one of Azure Resource Manager's
 * (api_arm.c): the ARM shape its answer is turned into, ARM's error shape,
 * and the subscription and resource group of its path checked.
 */
enum arm_shape {
    ARM_NONE = 0,      /* /api/v1: the management API's own shapes */
    ARM_AS_IS,         /* ARM, the handler's answer already has ARM's shape */
    ARM_REGISTRY,      /* a registry (api_mgmt.c registry_json) as a Microsoft.ContainerRegistry/registries resource */
    ARM_RESOURCE,      /* a registry as a generic resource (GET .../resources) */
    ARM_SCOPEMAP,      /* a scope map as .../registries/scopeMaps */
    ARM_TOKEN,         /* a token as .../registries/tokens */
    ARM_GENERATE,      /* POST .../generateCredentials: the token its body's tokenId names */
    ARM_LIST = 0x100,  /* with one of the above: {"value": [...]} of them */
};

#define BERTH_ARM_GROUP "berth"    /* the one resource group of berth's one subscription */
#define BERTH_ARM_LOCATION "local" /* the location every resource reports */

/*
 * A route's three steps. begin runs before the body is read (validate, look
 * up, refuse early); body gets each piece of the body; finish queues the
 * response. Each returns BERTH_OK or an error that becomes an OCI error
 * response (err->msg is the message). cleanup (may be NULL) releases the
 * route's state when the request ends, however it ends.
 */
struct route {
    unsigned methods;
    const char *pattern; /* "/v2/{name}/blobs/{digest}" */
    const char *access;  /* actions needed, "pull"...; NULL for base/catalog per kind */
    enum berth_access_kind kind;
    enum berth_rc (*begin)(struct berth_req *req, struct berth_err *err);
    enum berth_rc (*body)(struct berth_req *req, const char *data, size_t len, struct berth_err *err);
    enum berth_rc (*finish)(struct berth_req *req, struct berth_err *err);
    void (*cleanup)(struct berth_req *req, int aborted);
    const char *label; /* route name for logs and metrics */
    /* management rows only (see enum route_right_on); finish is api_mgmt_finish, which calls handler */
    unsigned right;               /* BERTH_MGMT_* bits the caller needs */
    enum route_right_on right_on;
    const char *why;              /* ends a refusal: "user 'bob' needs Reader on registry 'x' <why>" */
    unsigned body_checked;        /* the registry comes from the body or the stored target: the handler checks
                                     right on it (mgmt_need_row); api_mgmt_finish checks nothing */
    enum berth_rc (*handler)(struct berth_req *req, struct berth_err *err);
    unsigned arm;                 /* enum arm_shape: management rows served as ARM's (api_arm.c) */
};

struct resp_header {
    char *name;
    char *value;
};

/* One HTTP request; owned by the worker thread handling its connection. */
struct berth_req {
    uint32_t magic;
    struct berth_http *http;
    struct MHD_Connection *conn;
    enum req_method method;
    const char *method_text;
    char *path;           /* owned copy of the URL path */
    const struct route *route;
    char *name;           /* {name}, owned; NULL if the route has none */
    char *param;          /* the last {..} parameter, owned */
    int64_t registry_id;  /* the registry the request is served from (0: the server itself: directory, /api/v1) */
    char id[17];          /* request id */
    struct berth_caller caller; /* who is calling: filled once in req_begin, then by the access decisions */
    int64_t start_us;
    uint64_t bytes_in;
    uint64_t bytes_out;
    int status;           /* status queued */
    enum req_phase phase;
    int failed;           /* an error was queued during the body */
    int close;            /* the answer closes the connection (the request's framing cannot be trusted) */
    enum berth_rc rc;     /* error code that was answered, for the log */
    int64_t content_length; /* -1 when absent */
    struct resp_header headers[REQ_MAX_HEADERS];
    int nheaders;
    void *state;          /* the route's own state */
    struct berth_err *saved; /* error to answer on the final call, owned */
    int in_upload_gauge;  /* counted in berth_uploads_in_progress until completion (metrics.c) */
    /* for the repository event log (events_record); "" when not known */
    char ev_digest[BERTH_DIGEST_STR_MAX]; /* digest pushed, pulled or deleted */
    char ev_media_type[128];
    char ev_artifact_type[128];
    int64_t ev_size;      /* bytes of that manifest or blob; -1 when not known */
};

struct tlscert;

/*
 * Nonzero when key is name with more after it: how libmicrohttpd 0.9.75
 * hands over a header folded onto a continuation line (obs-fold,
 * "Name: a\r\n b" arrives as key "Nameb", value "a"), so that the header is
 * not seen under its name at all. Requests that depend on such a header
 * are refused rather than read as if it were absent.
 */
int http_header_folded(const char *key, const char *name);

/* The served certificate's validity period into *out, for /readyz; 0 on plain HTTP or when unknown. */
int http_tls_period(struct berth_http *h, struct berth_doctor_tls *out);

/* Shared server state. cfg/meta/blobs/az/events are the service's (srv), read-only after start. */
struct berth_http {
    struct MHD_Daemon *daemon;
    struct berth_server *srv; /* borrowed */
    const struct berth_config *cfg;
    struct berth_meta *meta;
    struct berth_blobstore *blobs;
    int64_t default_registry;
    uint16_t port;
    struct tlscert *tls; /* the served certificate and key (tlscert.c), owned; NULL: plain HTTP */
    pthread_mutex_t lock; /* guards inflight */
    pthread_cond_t idle;
    int inflight;
    struct upload_table *uploads;
    struct authz *az; /* the login and access service (srv's) */
    struct netcheck *net; /* trusted proxies (netcheck.c), owned */
    struct events *events; /* the event log queue and its writer (srv's) */
    struct conntrack *conns; /* connections per address and request-head deadlines (conntrack.c), owned */
};

/* ---- routing (route.c) ---- */
const struct route *berth_route_match(const char *path, unsigned method, char **name, char **param,
                                      unsigned *allowed);

/* Row i of the route table (i < berth_route_count()), for tables sized by it. */
size_t berth_route_count(void);
const struct route *berth_route_at(size_t i);
/* The path segment index of {param} in r's pattern ("/api/v1/registries/{registry}": 4), or -1. */
int berth_route_param_index(const struct route *r, const char *param);
/*
 * Checks that every management row of t states the right it needs (a right_on,
 * a right unless RIGHT_ON_CALLER, a why, the {param} its right_on reads, the
 * management steps and a handler) and that no other row has any of these.
 * BERTH_EINTERNAL naming the first row that does not.
 */
enum berth_rc berth_route_table_check(const struct route *t, size_t n, struct berth_err *err);

/* ---- metrics and health (metrics.c); every counter is a lock-free atomic ---- */
/* After a request's begin step accepted it: an upload enters berth_uploads_in_progress. */
void metrics_request_begun(struct berth_req *req);
/* At completion: requests, latency, bytes, store/db errors, logins, the upload gauge. */
void metrics_request_done(struct berth_req *req);
/* metrics-access must be loopback, any or off. */
enum berth_rc metrics_config_check(const struct berth_config *cfg, struct berth_err *err);
enum berth_rc api_metrics_finish(struct berth_req *req, struct berth_err *err);
enum berth_rc api_healthz_finish(struct berth_req *req, struct berth_err *err);
enum berth_rc api_readyz_finish(struct berth_req *req, struct berth_err *err);

/* ---- request helpers (server.c) ---- */
const char *req_query(struct berth_req *req, const char *key);
/* A list's n (capped at page-max; absent: page-max) and last (absent, empty or too long: NULL). */
enum berth_rc req_page_args(struct berth_req *req, int64_t *n, const char **last, struct berth_err *err);
/* Adds Link: <base?n=N&last=LAST[&more_query]>; rel="next" (last percent-encoded). */
void req_next_link(struct berth_req *req, const char *base, int64_t n, const char *last, const char *more_query);
/* Queues the response; takes ownership of resp. */
enum berth_rc req_respond(struct berth_req *req, int status, struct MHD_Response *resp);
enum berth_rc req_respond_empty(struct berth_req *req, int status);
/* Takes ownership of body (malloc'd). */
enum berth_rc req_respond_json(struct berth_req *req, int status, struct berth_buf *body, const char *ctype);
/* Answers status with doc (taken) as compact JSON and a newline; 500 if it cannot be encoded. */
enum berth_rc req_respond_json_doc(struct berth_req *req, int status, json_t *doc);
enum berth_rc req_respond_error(struct berth_req *req, enum berth_rc rc, const char *msg);
/* Location header value "/v2/<name>/<rest>". */
void req_add_location(struct berth_req *req, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* ---- handlers (api_*.c) ---- */
enum berth_rc api_base_finish(struct berth_req *req, struct berth_err *err);
enum berth_rc api_catalog_finish(struct berth_req *req, struct berth_err *err);
enum berth_rc api_tags_finish(struct berth_req *req, struct berth_err *err);
enum berth_rc api_referrers_finish(struct berth_req *req, struct berth_err *err);

enum berth_rc api_blob_finish(struct berth_req *req, struct berth_err *err);
enum berth_rc api_blob_delete_finish(struct berth_req *req, struct berth_err *err);

enum berth_rc api_manifest_get_finish(struct berth_req *req, struct berth_err *err);
enum berth_rc api_manifest_put_begin(struct berth_req *req, struct berth_err *err);
enum berth_rc api_manifest_put_body(struct berth_req *req, const char *data, size_t len, struct berth_err *err);
enum berth_rc api_manifest_put_finish(struct berth_req *req, struct berth_err *err);
void api_manifest_put_cleanup(struct berth_req *req, int aborted);
enum berth_rc api_manifest_delete_finish(struct berth_req *req, struct berth_err *err);
enum berth_rc api_repository_delete_finish(struct berth_req *req, struct berth_err *err);
/* ACR's repository metadata under /acr/v1 (api_acr.c) */
enum berth_rc api_acr_repo_finish(struct berth_req *req, struct berth_err *err);
enum berth_rc api_acr_tags_finish(struct berth_req *req, struct berth_err *err);
enum berth_rc api_acr_manifests_finish(struct berth_req *req, struct berth_err *err);
enum berth_rc api_acr_tag_delete_finish(struct berth_req *req, struct berth_err *err);
enum berth_rc api_acr_manifest_delete_finish(struct berth_req *req, struct berth_err *err);
enum berth_rc api_acr_patch_begin(struct berth_req *req, struct berth_err *err);
enum berth_rc api_acr_patch_body(struct berth_req *req, const char *data, size_t len, struct berth_err *err);
enum berth_rc api_acr_patch_finish(struct berth_req *req, struct berth_err *err);
void api_acr_patch_cleanup(struct berth_req *req, int aborted);

enum berth_rc api_upload_post_begin(struct berth_req *req, struct berth_err *err);
enum berth_rc api_upload_post_finish(struct berth_req *req, struct berth_err *err);
enum berth_rc api_upload_chunk_begin(struct berth_req *req, struct berth_err *err);
enum berth_rc api_upload_chunk_body(struct berth_req *req, const char *data, size_t len, struct berth_err *err);
enum berth_rc api_upload_patch_finish(struct berth_req *req, struct berth_err *err);
enum berth_rc api_upload_put_finish(struct berth_req *req, struct berth_err *err);
void api_upload_cleanup(struct berth_req *req, int aborted);
enum berth_rc api_upload_status_finish(struct berth_req *req, struct berth_err *err);
enum berth_rc api_upload_delete_finish(struct berth_req *req, struct berth_err *err);

enum berth_rc api_form_begin(struct berth_req *req, struct berth_err *err);
enum berth_rc api_form_body(struct berth_req *req, const char *data, size_t len, struct berth_err *err);
void api_form_cleanup(struct berth_req *req, int aborted);
enum berth_rc api_token_get_finish(struct berth_req *req, struct berth_err *err);
enum berth_rc api_explain_finish(struct berth_req *req, struct berth_err *err);
enum berth_rc api_token_post_finish(struct berth_req *req, struct berth_err *err);
enum berth_rc api_exchange_finish(struct berth_req *req, struct berth_err *err);
enum berth_rc api_directory_token_finish(struct berth_req *req, struct berth_err *err);
enum berth_rc api_oidc_config_finish(struct berth_req *req, struct berth_err *err);
enum berth_rc api_jwks_finish(struct berth_req *req, struct berth_err *err);
enum berth_rc api_adfs_token_finish(struct berth_req *req, struct berth_err *err);
enum berth_rc api_adfs_config_finish(struct berth_req *req, struct berth_err *err);
enum berth_rc api_adfs_keys_finish(struct berth_req *req, struct berth_err *err);

/* Azure Resource Manager (api_arm.c) over the management rows; see enum arm_shape */
/* Before the row's rights check: the path's subscription and resource group, and the body as /api/v1's. */
enum berth_rc arm_begin_row(struct berth_req *req, struct berth_err *err);
/* The answer doc (taken) in the row's ARM shape. */
json_t *arm_reply_doc(struct berth_req *req, json_t *doc);
/* ARM's error code for rc ("ResourceNotFound", ...). */
const char *arm_error_code(enum berth_rc rc);
enum berth_rc api_arm_tenants_finish(struct berth_req *req, struct berth_err *err);
enum berth_rc api_arm_subscriptions_finish(struct berth_req *req, struct berth_err *err);
enum berth_rc api_arm_subscription_finish(struct berth_req *req, struct berth_err *err);
enum berth_rc api_arm_list_credentials_finish(struct berth_req *req, struct berth_err *err);

/*
 * the management API (api_mgmt*.c): begin authenticates the caller, body
 * collects JSON, finish checks the row's right and calls the row's handler
 * (one of the api_mgmt_*_finish below).
 */
enum berth_rc api_mgmt_begin(struct berth_req *req, struct berth_err *err);
enum berth_rc api_mgmt_body(struct berth_req *req, const char *data, size_t len, struct berth_err *err);
enum berth_rc api_mgmt_finish(struct berth_req *req, struct berth_err *err);
void api_mgmt_cleanup(struct berth_req *req, int aborted);
enum berth_rc api_mgmt_tenant_finish(struct berth_req *req, struct berth_err *err);
enum berth_rc api_mgmt_registry_list_finish(struct berth_req *req, struct berth_err *err);
enum berth_rc api_mgmt_registry_create_finish(struct berth_req *req, struct berth_err *err);
enum berth_rc api_mgmt_registry_get_finish(struct berth_req *req, struct berth_err *err);
enum berth_rc api_mgmt_registry_usage_finish(struct berth_req *req, struct berth_err *err);
enum berth_rc api_mgmt_registry_patch_finish(struct berth_req *req, struct berth_err *err);
enum berth_rc api_mgmt_registry_delete_finish(struct berth_req *req, struct berth_err *err);
enum berth_rc api_mgmt_credentials_get_finish(struct berth_req *req, struct berth_err *err);
enum berth_rc api_mgmt_credentials_regenerate_finish(struct berth_req *req, struct berth_err *err);
enum berth_rc api_mgmt_user_list_finish(struct berth_req *req, struct berth_err *err);
enum berth_rc api_mgmt_user_create_finish(struct berth_req *req, struct berth_err *err);
enum berth_rc api_mgmt_user_get_finish(struct berth_req *req, struct berth_err *err);
enum berth_rc api_mgmt_user_delete_finish(struct berth_req *req, struct berth_err *err);
enum berth_rc api_mgmt_user_password_finish(struct berth_req *req, struct berth_err *err);
enum berth_rc api_mgmt_sp_list_finish(struct berth_req *req, struct berth_err *err);
enum berth_rc api_mgmt_sp_create_finish(struct berth_req *req, struct berth_err *err);
enum berth_rc api_mgmt_sp_get_finish(struct berth_req *req, struct berth_err *err);
enum berth_rc api_mgmt_sp_delete_finish(struct berth_req *req, struct berth_err *err);
enum berth_rc api_mgmt_sp_secret_add_finish(struct berth_req *req, struct berth_err *err);
enum berth_rc api_mgmt_sp_secret_delete_finish(struct berth_req *req, struct berth_err *err);
enum berth_rc api_mgmt_scopemap_list_finish(struct berth_req *req, struct berth_err *err);
enum berth_rc api_mgmt_scopemap_create_finish(struct berth_req *req, struct berth_err *err);
enum berth_rc api_mgmt_scopemap_get_finish(struct berth_req *req, struct berth_err *err);
enum berth_rc api_mgmt_scopemap_patch_finish(struct berth_req *req, struct berth_err *err);
enum berth_rc api_mgmt_scopemap_delete_finish(struct berth_req *req, struct berth_err *err);
enum berth_rc api_mgmt_token_list_finish(struct berth_req *req, struct berth_err *err);
enum berth_rc api_mgmt_token_create_finish(struct berth_req *req, struct berth_err *err);
enum berth_rc api_mgmt_token_get_finish(struct berth_req *req, struct berth_err *err);
enum berth_rc api_mgmt_token_patch_finish(struct berth_req *req, struct berth_err *err);
enum berth_rc api_mgmt_token_delete_finish(struct berth_req *req, struct berth_err *err);
enum berth_rc api_mgmt_token_generate_finish(struct berth_req *req, struct berth_err *err);
enum berth_rc api_mgmt_assignment_list_finish(struct berth_req *req, struct berth_err *err);
enum berth_rc api_mgmt_assignment_create_finish(struct berth_req *req, struct berth_err *err);
enum berth_rc api_mgmt_assignment_delete_finish(struct berth_req *req, struct berth_err *err);
enum berth_rc api_mgmt_network_get_finish(struct berth_req *req, struct berth_err *err);
enum berth_rc api_mgmt_iprule_add_finish(struct berth_req *req, struct berth_err *err);
enum berth_rc api_mgmt_iprule_delete_finish(struct berth_req *req, struct berth_err *err);
enum berth_rc api_mgmt_logs_login_finish(struct berth_req *req, struct berth_err *err);
enum berth_rc api_mgmt_logs_repository_finish(struct berth_req *req, struct berth_err *err);
enum berth_rc api_mgmt_logs_stream_finish(struct berth_req *req, struct berth_err *err);

/* ---- upload sessions (uploads.c) ---- */
struct upload_table *upload_table_new(void);
void upload_table_free(struct upload_table *t);

#endif
