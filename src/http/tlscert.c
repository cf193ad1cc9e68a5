/*
 * tlscert.c - the served certificate chain and key: loading and checking a
 * pair from PEM files, publishing it for new TLS handshakes, and keeping
 * every pair published until the server stops.
 */
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <gnutls/x509.h>
#include "alloc.h"
#include "log.h"
#include "util.h"
#include "tlscert.h"
#include "banned.h"

#define TLSCERT_MAGIC 0x544c5343u /* "TLSC" */
#define CHAIN_MAX 16              /* certificates in one chain file */
#define PEM_MAX (1 << 20)

/* One certificate chain with its key; immutable once published. */
struct pair {
    struct pair *older; /* the pair this one replaced, kept alive */
    gnutls_pcert_st chain[CHAIN_MAX];
    unsigned n;
    gnutls_privkey_t key;
    struct berth_doctor_tls period;
    int period_known;
};

struct tlscert {
    uint32_t magic;
    struct pair *current;       /* newest first; written by the reloading thread only */
};

/* The pair handshakes get: one TLS server per process (the retrieve function has no user pointer). */
static _Atomic(struct pair *) served;

static void pair_free(struct pair *p)
{
    unsigned i;
    if (!p) return;
    for (i = 0; i < p->n; i++) gnutls_pcert_deinit(&p->chain[i]);
    if (p->key) gnutls_privkey_deinit(p->key);
    free(p);
}

/* DER of a public key, for comparing the certificate's with the private key's. */
static int pubkey_der(gnutls_pubkey_t k, gnutls_datum_t *out)
{
    return gnutls_pubkey_export2(k, GNUTLS_X509_FMT_DER, out);
}

static enum berth_rc key_matches(struct pair *p, const char *key_path, struct berth_err *err)
{
    gnutls_pubkey_t mine = NULL;
    gnutls_datum_t a = {NULL, 0}, b = {NULL, 0};
    enum berth_rc rc = BERTH_OK;
    int same;

    if (gnutls_pubkey_init(&mine) < 0 || gnutls_pubkey_import_privkey(mine, p->key, 0, 0) < 0 ||
        pubkey_der(mine, &a) < 0 || pubkey_der(p->chain[0].pubkey, &b) < 0) {
        rc = berth_err_set(err, BERTH_ECONFIG, "config 'tls-key': cannot compare '%s' with the certificate", key_path);
        goto out;
    }
    same = a.size == b.size && memcmp(a.data, b.data, a.size) == 0;
    if (!same)
        rc = berth_err_set(err, BERTH_ECONFIG, "config 'tls-key': '%s' is not the key of the certificate", key_path);
out:
    gnutls_free(a.data);
    gnutls_free(b.data);
    if (mine) gnutls_pubkey_deinit(mine);
    return rc;
}

static enum berth_rc pair_load(const char *cert_path, const char *key_path, struct pair **out, struct berth_err *err)
{
    struct pair *p = berth_xcalloc(1, sizeof(*p));
    char *cert = NULL, *key = NULL;
    size_t cert_len = 0, key_len = 0;
    gnutls_datum_t d;
    enum berth_rc rc;
    int g;

    rc = berth_read_file(cert_path, PEM_MAX, &cert, &cert_len, err);
    if (rc) goto out;
    rc = berth_read_file(key_path, PEM_MAX, &key, &key_len, err);
    if (rc) goto out;
    d.data = (unsigned char *)cert;
    d.size = (unsigned)cert_len;
    p->n = CHAIN_MAX;
    g = gnutls_pcert_list_import_x509_raw(p->chain, &p->n, &d, GNUTLS_X509_FMT_PEM, 0);
    if (g < 0) {
        p->n = 0;
        rc = berth_err_set(err, BERTH_ECONFIG, "config 'tls-cert': '%s' holds no PEM certificate chain of at most "
                           "%d certificates (%s)", cert_path, CHAIN_MAX, gnutls_strerror(g));
        goto out;
    }
    d.data = (unsigned char *)key;
    d.size = (unsigned)key_len;
    g = gnutls_privkey_init(&p->key);
    if (g >= 0) g = gnutls_privkey_import_x509_raw(p->key, &d, GNUTLS_X509_FMT_PEM, NULL, 0);
    if (g < 0) {
        rc = berth_err_set(err, BERTH_ECONFIG, "config 'tls-key': '%s' holds no PEM private key (%s)", key_path,
                           gnutls_strerror(g));
        goto out;
    }
    rc = key_matches(p, key_path, err);
    if (rc) goto out;
    p->period_known = berth_doctor_tls_read(cert, cert_len, &p->period, NULL) == BERTH_OK;
    *out = p;
    p = NULL;
out:
    pair_free(p);
    free(cert);
    free(key);
    return rc;
}

enum berth_rc tlscert_new(const struct berth_config *cfg, struct tlscert **out, struct berth_err *err)
{
    struct tlscert *t = berth_xcalloc(1, sizeof(*t));
    struct pair *none = NULL;
    enum berth_rc rc;

    t->magic = TLSCERT_MAGIC;
    rc = pair_load(cfg->tls_cert, cfg->tls_key, &t->current, err);
    if (rc) goto out;
    if (!atomic_compare_exchange_strong(&served, &none, t->current)) {
        rc = berth_err_set(err, BERTH_EBUSY, "another TLS server already runs in this process");
        goto out;
    }
    *out = t;
    t = NULL;
out:
    tlscert_free(t);
    return rc;
}

enum berth_rc tlscert_reload(struct tlscert *t, const char *cert_path, const char *key_path, struct berth_err *err)
{
    struct pair *p = NULL;
    enum berth_rc rc;

    if (!t || t->magic != TLSCERT_MAGIC) abort();
    rc = pair_load(cert_path, key_path, &p, err);
    if (rc) goto out;
    /* at start an expired certificate is the doctor's to report; here it would replace a working one */
    if (p->period_known && p->period.not_after_s < berth_now_s()) {
        rc = berth_err_set(err, BERTH_ECONFIG, "config 'tls-cert': the certificate in '%s' has expired", cert_path);
        goto out;
    }
    p->older = t->current;
    t->current = p;
    atomic_store(&served, p);
    p = NULL;
out:
    pair_free(p);
    return rc;
}

int tlscert_period(struct tlscert *t, struct berth_doctor_tls *out)
{
    struct pair *p;
    if (!t) return 0;
    p = atomic_load(&served);
    if (!p || !p->period_known) return 0;
    *out = p->period;
    return 1;
}

void tlscert_free(struct tlscert *t)
{
    struct pair *p, *older;
    if (!t) return;
    p = t->current;
    if (p) {
        struct pair *mine = p;
        /* only this server's pair is withdrawn; another's (tlscert_new refused) stays */
        atomic_compare_exchange_strong(&served, &mine, NULL);
    }
    for (; p; p = older) {
        older = p->older;
        pair_free(p);
    }
    t->magic = 0;
    free(t);
}

int tlscert_retrieve(gnutls_session_t s, const gnutls_datum_t *req_ca_dn, int nreqs,
                     const gnutls_pk_algorithm_t *pk_algos, int pk_algos_length, gnutls_pcert_st **pcert,
                     unsigned int *pcert_length, gnutls_privkey_t *pkey)
{
    struct pair *p = atomic_load(&served);
    (void)s;
    (void)req_ca_dn;
    (void)nreqs;
    (void)pk_algos;
    (void)pk_algos_length;
    if (!p) return -1;
    /* gnutls borrows these for the handshake and never frees them (the pair outlives the daemon) */
    *pcert = p->chain;
    *pcert_length = p->n;
    *pkey = p->key;
    return 0;
}
