/*
 * wiring.h - the service as one object: the config, the blob store, the
 * metadata store, the key ring and access service, the event log and the
 * service's metrics, opened and closed together. `berth serve` opens it and
 * hands it to the HTTP transport; tests open it over a temp folder.
 *
 * Threads: open, ready and close from one thread; between ready and close
 * every member may be used from any thread (each says how it locks).
 */
#ifndef BERTH_WIRING_H
#define BERTH_WIRING_H

#include <stdint.h>
#include "access.h"
#include "config.h"
#include "err.h"
#include "events.h"
#include "meta.h"
#include "store.h"

struct berth_gc_worker;

struct berth_server {
    const struct berth_config *cfg;        /* borrowed from the caller of berth_server_open */
    struct berth_blobstore *blobs;         /* owned */
    struct berth_meta *meta;               /* owned */
    int64_t default_registry;              /* id of the registry served on any Host that names no other */
    struct berth_service_metrics metrics;  /* the service's counters, for /metrics */
    struct authz *az;                      /* the login and access service, owned */
    struct events *events;                 /* the event log queue and its writer, owned */
    struct berth_gc_worker *gc;            /* the server's own gc (gc-interval), owned; NULL when off */
    int ready;                             /* berth_server_ready ran */
};

/*
 * Opens everything a server serves from under cfg->data (created when
 * missing): the blob store, the database, the default registry, the access
 * service (key ring, caches, management-networks) and the event queue; drops
 * interrupted uploads. Creates no user: that waits for berth_server_ready.
 * Borrows cfg until berth_server_close; *out is the caller's. Errors name the
 * file or config key.
 */
enum berth_rc berth_server_open(const struct berth_config *cfg, struct berth_server **out, struct berth_err *err);

/*
 * Once the transport holds its port: the first start's bootstrap (the
 * tenant, the default registry, the user "owner" and its password file,
 * authz_bootstrap), so a server that cannot listen bootstraps nothing.
 * Runs once; later calls do nothing.
 */
enum berth_rc berth_server_ready(struct berth_server *srv, struct berth_err *err);

/* Writes the queued events, then closes everything and frees srv. NULL-safe. */
void berth_server_close(struct berth_server *srv);

/*
 * The metadata store cfg names: SQLite at <data>/berth.db when the meta
 * setting is empty, PostgreSQL when it is a postgres:// or postgresql:// URI
 * or a libpq "key=value" string. *dsn is what the driver opens; *shown the
 * same without a password, for messages. Both malloc'd. BERTH_ECONFIG for
 * anything else.
 */
enum berth_rc berth_meta_choose(const struct berth_config *cfg, const struct berth_meta_ops **ops, char **dsn,
                                char **shown, struct berth_err *err);

/*
 * The blob store cfg names: files in the data folder (the fs driver, *root
 * = cfg->data) when the store setting is empty, S3 when it is an s3:// URL
 * (*root = the URL, which the driver parses and checks when it opens).
 * *shown names the store for messages and logs, without any query
 * parameter. Both malloc'd. BERTH_ECONFIG for anything else.
 */
enum berth_rc berth_blobstore_choose(const struct berth_config *cfg, const struct berth_blobstore_ops **ops,
                                     char **root, char **shown, struct berth_err *err);
/* Opens the store berth_blobstore_choose picks, with fsync from cfg; errors name the store. */
enum berth_rc berth_blobstore_open_cfg(const struct berth_config *cfg, struct berth_blobstore **out,
                                       struct berth_err *err);

#endif
