/*
 * tlscert.h - the certificate and key the server presents, loaded from the
 * tls-cert and tls-key files and replaceable while the server runs
 * (SIGHUP): libmicrohttpd asks for them on every TLS handshake through a
 * GnuTLS retrieve function, so a new connection gets whatever was loaded
 * last, while connections already set up keep theirs.
 *
 * Threads: tlscert_reload runs on one thread at a time (the main thread of
 * berth serve); the retrieve function runs on the worker threads and reads
 * the current pair through an atomic pointer. A pair once published is never
 * changed, and never freed before tlscert_free (a handshake may still use
 * it), so a reload costs the few KiB of one pair until the server stops.
 * The retrieve function has no user pointer: one TLS server per process.
 */
#ifndef BERTH_HTTP_TLSCERT_H
#define BERTH_HTTP_TLSCERT_H

#include <gnutls/abstract.h>
#include <gnutls/gnutls.h>
#include "config.h"
#include "doctor.h"
#include "err.h"

struct tlscert;

/*
 * Loads cfg's tls-cert and tls-key and makes them the served pair.
 * BERTH_ECONFIG naming the file and the reason when a file cannot be read or
 * parsed, or when the key is not the certificate's (an expired certificate
 * is served, and reported by the doctor's checks); BERTH_EBUSY when another
 * TLS server runs in this process.
 */
enum berth_rc tlscert_new(const struct berth_config *cfg, struct tlscert **out, struct berth_err *err);
/*
 * Reads the pair at cert_path and key_path (the same files again, or the
 * ones a reloaded config names) and, when it passes the same checks and the
 * certificate has not expired, serves it to every new connection. On error
 * the previous pair stays.
 */
enum berth_rc tlscert_reload(struct tlscert *t, const char *cert_path, const char *key_path, struct berth_err *err);
/* The served certificate's validity period; 0 when it could not be read. */
int tlscert_period(struct tlscert *t, struct berth_doctor_tls *out);
/* Frees every pair ever loaded; the daemon must have stopped. NULL-safe. */
void tlscert_free(struct tlscert *t);

/* For MHD_OPTION_HTTPS_CERT_CALLBACK. */
int tlscert_retrieve(gnutls_session_t s, const gnutls_datum_t *req_ca_dn, int nreqs,
                     const gnutls_pk_algorithm_t *pk_algos, int pk_algos_length, gnutls_pcert_st **pcert,
                     unsigned int *pcert_length, gnutls_privkey_t *pkey);

#endif
