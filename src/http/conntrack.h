/*
 * conntrack.h - what the server keeps about each open connection, for the
 * limits that libmicrohttpd does not give in the form needed: connections
 * per client address (max-connections-per-ip) and a deadline for a whole
 * request head (header-timeout).
 *
 * Threads: conntrack_accept, conntrack_notify, conntrack_head_begun and
 * conntrack_head_wait run on libmicrohttpd's worker threads; one reaper
 * thread of its own closes connections whose deadline has passed. Both share
 * struct conntrack under its lock; a connection's deadline is an atomic.
 */
#ifndef BERTH_HTTP_CONNTRACK_H
#define BERTH_HTTP_CONNTRACK_H

#include <microhttpd.h>
#include <sys/socket.h>
#include "config.h"
#include "err.h"

struct conntrack;
struct netcheck;

/*
 * Reads max-connections-per-ip (0: a quarter of max-connections) and
 * header-timeout from cfg and starts the reaper. net (borrowed, must outlive
 * the tracker) tells trusted proxies, which the per-address limit leaves out.
 */
enum berth_rc conntrack_new(const struct berth_config *cfg, struct netcheck *net, struct conntrack **out,
                            struct berth_err *err);
/* Stops the reaper; call before MHD_stop_daemon closes the sockets. NULL-safe, idempotent. */
void conntrack_stop(struct conntrack *ct);
/* Stops the reaper and frees the tracker; every connection must have been closed. NULL-safe. */
void conntrack_free(struct conntrack *ct);

/* MHD_AcceptPolicyCallback: MHD_NO when the address already holds its share of connections. */
enum MHD_Result conntrack_accept(void *cls, const struct sockaddr *addr, socklen_t addrlen);
/* MHD_NotifyConnectionCallback: counts the connection in (STARTED) and out (CLOSED). */
void conntrack_notify(void *cls, struct MHD_Connection *c, void **socket_context,
                      enum MHD_ConnectionNotificationCode toe);
/* The connection's request head is complete: its deadline is off until the request ends. */
void conntrack_head_begun(struct MHD_Connection *c);
/* The connection's request ended: it has header-timeout seconds for its next request head. */
void conntrack_head_wait(struct conntrack *ct, struct MHD_Connection *c);

#endif
