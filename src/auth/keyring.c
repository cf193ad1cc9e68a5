/*
 * keyring.c - the ES256 signing keys: a folder of <kid>.pem files (PKCS#8,
 * mode 0600), parsed once into EVP_PKEYs, the newest of which signs.
 *
 * Key file layout: an optional first line "berth-key-created-ms: <ms>"
 * followed by the PEM block. PEM readers skip text before "-----BEGIN", so
 * the file stays an ordinary key for openssl(1); keeping the creation time
 * inside the file means copies and backups that reset mtimes cannot change
 * which key signs. Files without the line (keys brought in by hand) fall back
 * to their mtime.
 *
 * Locking: kr->lock (rwlock) guards keys, n and signer. Readers (sign,
 * verify, JWKS) hold it only to find a key and take a reference on its
 * EVP_PKEY, so signature work never runs under the lock and a rotation is
 * never held up by verifications in flight. kr->admin serialises rotate and
 * retire, which change the folder and then swap the array under the write
 * lock; a struct key is freed only after it has left the array.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <openssl/bio.h>
#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/ec.h>
#include <openssl/evp.h>
#include <openssl/objects.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include "alloc.h"
#include "auth.h"
#include "base64.h"
#include "util.h"
#include "banned.h"

#define KID_LEN 22            /* 16 bytes of SHA-256, base64url */
#define COORD_LEN 43          /* 32 bytes, base64url */
#define KEY_FILE_MAX 16384    /* a P-256 PKCS#8 PEM is about 250 bytes */
#define CREATED_TAG "berth-key-created-ms: "
#define KEYRING_MAGIC 0x6b657972u

/*
 * Internal to the auth module: jwt.c declares the same two functions. Each
 * returns a new reference (EVP_PKEY_free it) or NULL.
 */
EVP_PKEY *berth_keyring_signer_ref(struct berth_keyring *kr, char *kid, size_t kidsz);
EVP_PKEY *berth_keyring_key_ref(struct berth_keyring *kr, const char *kid, size_t kidlen);

struct key {
    char kid[KID_LEN + 1];
    char x[COORD_LEN + 1], y[COORD_LEN + 1]; /* public point, for the JWKS */
    int64_t created_ms;
    EVP_PKEY *pkey; /* read-only after load; shared by reference */
};

struct berth_keyring {
    unsigned magic;
    char *dir;
    pthread_mutex_t admin;   /* held by rotate and retire for their whole run */
    pthread_rwlock_t lock;   /* guards keys, n and signer */
    struct key **keys;       /* oldest first */
    size_t n;
    struct key *signer;      /* the newest key; never retired */
};

static void key_free(struct key *k)
{
    if (!k) return;
    EVP_PKEY_free(k->pkey);
    free(k);
}

static int no_passphrase(char *buf, int size, int rwflag, void *u)
{
    (void)buf;
    (void)size;
    (void)rwflag;
    (void)u;
    return -1; /* encrypted keys are refused rather than prompting on a terminal */
}

static int b64url_fixed(const unsigned char *p, size_t n, char *out, size_t outsz)
{
    struct berth_buf b = BERTH_BUF_INIT(outsz - 1);
    int ok = berth_b64url_encode(p, n, &b) == BERTH_OK;
    BERTH_ASSERT(!ok || b.len < outsz);
    if (ok) memcpy(out, b.p, b.len + 1);
    berth_buf_release(&b);
    return ok;
}

/* Checks the key is EC P-256 and derives kid and the JWKS coordinates. */
static enum berth_rc key_describe(struct key *k, const char *path, struct berth_err *err)
{
    unsigned char *der = NULL, md[32], xy[32];
    unsigned int mdlen = 0;
    char group[64];
    size_t glen = 0;
    BIGNUM *x = NULL, *y = NULL;
    enum berth_rc rc = BERTH_OK;
    int derlen;

    if (!EVP_PKEY_is_a(k->pkey, "EC") || !EVP_PKEY_get_group_name(k->pkey, group, sizeof(group), &glen) ||
        OBJ_txt2nid(group) != NID_X9_62_prime256v1) {
        rc = berth_err_set(err, BERTH_ECONFIG, "key file '%s' is not an EC P-256 key", path);
        goto out;
    }
    derlen = i2d_PUBKEY(k->pkey, &der);
    if (derlen <= 0 || !EVP_Digest(der, (size_t)derlen, md, &mdlen, EVP_sha256(), NULL) ||
        !b64url_fixed(md, 16, k->kid, sizeof(k->kid))) {
        rc = berth_err_set(err, BERTH_EINTERNAL, "cannot derive the key id of '%s'", path);
        goto out;
    }
    if (!EVP_PKEY_get_bn_param(k->pkey, OSSL_PKEY_PARAM_EC_PUB_X, &x) ||
        !EVP_PKEY_get_bn_param(k->pkey, OSSL_PKEY_PARAM_EC_PUB_Y, &y) || BN_bn2binpad(x, xy, 32) != 32 ||
        !b64url_fixed(xy, 32, k->x, sizeof(k->x)) || BN_bn2binpad(y, xy, 32) != 32 ||
        !b64url_fixed(xy, 32, k->y, sizeof(k->y))) {
        rc = berth_err_set(err, BERTH_EINTERNAL, "cannot read the public point of '%s'", path);
        goto out;
    }
out:
    OPENSSL_free(der);
    BN_free(x);
    BN_free(y);
    return rc;
}

/*
 * Reads one key file. The mode is checked on the open descriptor, so the
 * file checked is the file read.
 */
static enum berth_rc key_load(const char *dir, const char *name, struct key **out, struct berth_err *err)
{
    char *path = berth_xasprintf("%s/%s", dir, name);
    char *data = NULL;
    size_t got = 0;
    struct key *k = berth_xcalloc(1, sizeof(*k));
    struct stat st;
    BIO *bio = NULL;
    enum berth_rc rc = BERTH_OK;
    int fd = -1;

    fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        rc = berth_err_sys(err, BERTH_ECONFIG, errno, "cannot open key file '%s'", path);
        goto out;
    }
    if (fstat(fd, &st) != 0) {
        rc = berth_err_sys(err, BERTH_ECONFIG, errno, "cannot stat key file '%s'", path);
        goto out;
    }
    if (!S_ISREG(st.st_mode)) {
        rc = berth_err_set(err, BERTH_ECONFIG, "key file '%s' is not a regular file", path);
        goto out;
    }
    if (st.st_mode & 077) {
        rc = berth_err_set(err, BERTH_ECONFIG, "key file '%s' must be mode 0600", path);
        goto out;
    }
    if (st.st_size > KEY_FILE_MAX) {
        rc = berth_err_set(err, BERTH_ECONFIG, "key file '%s' is larger than %d bytes", path, KEY_FILE_MAX);
        goto out;
    }
    data = berth_xmalloc((size_t)st.st_size + 1);
    while (got < (size_t)st.st_size) {
        ssize_t r = read(fd, data + got, (size_t)st.st_size - got);
        if (r < 0 && errno == EINTR) continue;
        if (r < 0) {
            rc = berth_err_sys(err, BERTH_ECONFIG, errno, "cannot read key file '%s'", path);
            goto out;
        }
        if (r == 0) break;
        got += (size_t)r;
    }
    data[got] = '\0';

    k->created_ms = (int64_t)st.st_mtim.tv_sec * 1000 + st.st_mtim.tv_nsec / 1000000;
    if (got > strlen(CREATED_TAG) && memcmp(data, CREATED_TAG, strlen(CREATED_TAG)) == 0) {
        const char *v = data + strlen(CREATED_TAG);
        const char *nl = memchr(v, '\n', got - strlen(CREATED_TAG));
        uint64_t ms;
        if (!nl || berth_parse_u64(v, (size_t)(nl - v), &ms) != 0 || ms > (uint64_t)INT64_MAX) {
            rc = berth_err_set(err, BERTH_ECONFIG, "key file '%s' has a malformed creation time", path);
            goto out;
        }
        k->created_ms = (int64_t)ms;
    }

    bio = BIO_new_mem_buf(data, (int)got);
    if (!bio) {
        rc = berth_err_set(err, BERTH_EINTERNAL, "out of memory reading '%s'", path);
        goto out;
    }
    k->pkey = PEM_read_bio_PrivateKey(bio, NULL, no_passphrase, NULL);
    if (!k->pkey) {
        rc = berth_err_set(err, BERTH_ECONFIG, "key file '%s' holds no unencrypted PEM private key", path);
        goto out;
    }
    rc = key_describe(k, path, err);
    if (rc) goto out;
    if (strlen(name) != KID_LEN + 4 || memcmp(name, k->kid, KID_LEN) != 0) {
        rc = berth_err_set(err, BERTH_ECONFIG, "key file '%s' must be named '%s.pem' after its key id", path,
                           k->kid);
        goto out;
    }
    *out = k;
    k = NULL;
out:
    if (fd >= 0) close(fd);
    BIO_free(bio);
    if (data) OPENSSL_clear_free(data, got + 1);
    key_free(k);
    free(path);
    return rc;
}

/* Makes a P-256 key and writes it as <kid>.pem, mode 0600, atomically. */
static enum berth_rc key_create(const char *dir, int64_t created_ms, struct key **out, struct berth_err *err)
{
    struct key *k = berth_xcalloc(1, sizeof(*k));
    char *path = NULL;
    BIO *bio = NULL;
    char *pem = NULL;
    long pemlen;
    enum berth_rc rc = BERTH_OK;

    k->created_ms = created_ms;
    k->pkey = EVP_EC_gen("P-256");
    if (!k->pkey) {
        rc = berth_err_set(err, BERTH_EINTERNAL, "cannot generate a P-256 key");
        goto out;
    }
    rc = key_describe(k, "(new key)", err);
    if (rc) goto out;
    bio = BIO_new(BIO_s_mem());
    if (!bio || BIO_printf(bio, CREATED_TAG "%lld\n", (long long)created_ms) <= 0 ||
        !PEM_write_bio_PKCS8PrivateKey(bio, k->pkey, NULL, NULL, 0, NULL, NULL)) {
        rc = berth_err_set(err, BERTH_EINTERNAL, "cannot encode the new key");
        goto out;
    }
    pemlen = BIO_get_mem_data(bio, &pem);
    path = berth_xasprintf("%s/%s.pem", dir, k->kid);
    rc = berth_write_atomic(path, pem, (size_t)pemlen, 0600, err);
    if (rc) goto out;
    *out = k;
    k = NULL;
out:
    BIO_free(bio); /* a memory BIO clears its buffer when freed */
    key_free(k);
    free(path);
    return rc;
}

static int key_newer(const struct key *a, const struct key *b)
{
    if (a->created_ms != b->created_ms) return a->created_ms > b->created_ms;
    return strcmp(a->kid, b->kid) > 0; /* any fixed order, so every process picks the same signer */
}

static int key_cmp(const void *pa, const void *pb)
{
    const struct key *a = *(const struct key *const *)pa, *b = *(const struct key *const *)pb;
    if (a == b) return 0;
    return key_newer(a, b) ? 1 : -1;
}

static int is_key_file(const char *name)
{
    size_t n = strlen(name);
    return name[0] != '.' && n > 4 && memcmp(name + n - 4, ".pem", 4) == 0;
}

/* create: make the folder and a first key when missing (serve); else BERTH_ENOENT (doctor). */
static enum berth_rc keyring_open(const char *dir, int create, struct berth_keyring **out, struct berth_err *err)
{
    struct berth_keyring *kr = NULL;
    DIR *d = NULL;
    struct dirent *e;
    size_t cap = 0;
    enum berth_rc rc = BERTH_OK;

    *out = NULL;
    if (!dir || !*dir) return berth_err_set(err, BERTH_ECONFIG, "no key folder given");
    if (create) rc = berth_mkdirs(dir, err);
    if (rc) return rc;
    kr = berth_xcalloc(1, sizeof(*kr));
    kr->magic = KEYRING_MAGIC;
    kr->dir = berth_xstrdup(dir);
    pthread_mutex_init(&kr->admin, NULL);
    pthread_rwlock_init(&kr->lock, NULL);

    d = opendir(dir);
    if (!d) {
        rc = berth_err_sys(err, !create && errno == ENOENT ? BERTH_ENOENT : BERTH_ECONFIG, errno,
                           "cannot read key folder '%s'", dir);
        goto out;
    }
    while ((e = readdir(d)) != NULL) {
        struct key *k = NULL;
        if (!is_key_file(e->d_name)) continue;
        rc = key_load(dir, e->d_name, &k, err);
        if (rc) goto out;
        if (kr->n == cap) {
            cap = cap ? cap * 2 : 8;
            kr->keys = berth_xrealloc(kr->keys, cap * sizeof(*kr->keys));
        }
        kr->keys[kr->n++] = k;
    }
    if (kr->n == 0 && !create) {
        rc = berth_err_set(err, BERTH_ENOENT, "key folder '%s' holds no key file", dir);
        goto out;
    }
    if (kr->n == 0) {
        struct key *k = NULL;
        rc = key_create(dir, berth_now_ms(), &k, err);
        if (rc) goto out;
        kr->keys = berth_xmalloc(sizeof(*kr->keys));
        kr->keys[kr->n++] = k;
    }
    BERTH_ASSERT(kr->n > 0 && kr->keys);
    qsort(kr->keys, kr->n, sizeof(*kr->keys), key_cmp);
    kr->signer = kr->keys[kr->n - 1];
    *out = kr;
    kr = NULL;
out:
    if (d) closedir(d);
    berth_keyring_close(kr);
    return rc;
}

enum berth_rc berth_keyring_open(const char *dir, struct berth_keyring **out, struct berth_err *err)
{
    return keyring_open(dir, 1, out, err);
}

enum berth_rc berth_keyring_load(const char *dir, struct berth_keyring **out, struct berth_err *err)
{
    return keyring_open(dir, 0, out, err);
}

void berth_keyring_close(struct berth_keyring *kr)
{
    size_t i;

    if (!kr) return;
    for (i = 0; i < kr->n; i++) key_free(kr->keys[i]);
    free(kr->keys);
    free(kr->dir);
    pthread_rwlock_destroy(&kr->lock);
    pthread_mutex_destroy(&kr->admin);
    kr->magic = 0;
    free(kr);
}

enum berth_rc berth_keyring_rotate(struct berth_keyring *kr, struct berth_err *err)
{
    struct key *k = NULL, **keys;
    int64_t created;
    enum berth_rc rc;

    pthread_mutex_lock(&kr->admin);
    /* Strictly newer than every key, so the order survives a reopen even within one millisecond. */
    created = berth_now_ms();
    if (created <= kr->signer->created_ms) created = kr->signer->created_ms + 1;
    rc = key_create(kr->dir, created, &k, err);
    if (rc) goto out;
    /* A new array, so readers never see one half-grown; the old one is freed after the swap. */
    keys = berth_xmalloc((kr->n + 1) * sizeof(*keys));
    memcpy(keys, kr->keys, kr->n * sizeof(*keys));
    keys[kr->n] = k;
    BERTH_ASSERT(k->created_ms > kr->signer->created_ms);
    pthread_rwlock_wrlock(&kr->lock);
    free(kr->keys);
    kr->keys = keys;
    kr->n++;
    kr->signer = k;
    pthread_rwlock_unlock(&kr->lock);
out:
    pthread_mutex_unlock(&kr->admin);
    return rc;
}

enum berth_rc berth_keyring_retire(struct berth_keyring *kr, int64_t before_s, struct berth_err *err)
{
    struct key **keep = NULL, **gone = NULL;
    size_t i, nkeep = 0, ngone = 0;
    enum berth_rc rc = BERTH_OK;

    pthread_mutex_lock(&kr->admin);
    /* Only admin holders change the array, so it can be read here without the rwlock. */
    keep = berth_xmalloc(kr->n * sizeof(*keep));
    gone = berth_xmalloc(kr->n * sizeof(*gone));
    for (i = 0; i < kr->n; i++) {
        struct key *k = kr->keys[i];
        /* floor(created_ms / 1000) < before_s <=> created < before_s, with no overflow. */
        if (k != kr->signer && rc == BERTH_OK && k->created_ms / 1000 < before_s) {
            char *path = berth_xasprintf("%s/%s.pem", kr->dir, k->kid);
            if (unlink(path) != 0 && errno != ENOENT)
                rc = berth_err_sys(err, BERTH_EIO, errno, "cannot delete key file '%s'", path);
            free(path);
            if (rc == BERTH_OK) {
                gone[ngone++] = k;
                continue;
            }
        }
        keep[nkeep++] = k;
    }
    BERTH_ASSERT(nkeep + ngone == kr->n && nkeep >= 1); /* the signer is always kept */
    if (ngone > 0) {
        enum berth_rc src = berth_fsync_dir(kr->dir, rc ? NULL : err);
        if (rc == BERTH_OK) rc = src;
        pthread_rwlock_wrlock(&kr->lock);
        free(kr->keys);
        kr->keys = keep;
        kr->n = nkeep;
        keep = NULL;
        pthread_rwlock_unlock(&kr->lock);
    }
    pthread_mutex_unlock(&kr->admin);
    /* Verifiers in flight hold their own EVP_PKEY references, so freeing here is safe. */
    for (i = 0; i < ngone; i++) key_free(gone[i]);
    free(gone);
    free(keep);
    return rc;
}

void berth_keyring_jwks(struct berth_keyring *kr, struct berth_buf *out)
{
    size_t i;

    pthread_rwlock_rdlock(&kr->lock);
    berth_buf_puts(out, "{\"keys\":[");
    /* Newest first: the signer leads. */
    for (i = kr->n; i-- > 0;) {
        const struct key *k = kr->keys[i];
        berth_buf_printf(out,
                         "%s{\"kty\":\"EC\",\"crv\":\"P-256\",\"x\":\"%s\",\"y\":\"%s\",\"kid\":\"%s\","
                         "\"use\":\"sig\",\"alg\":\"ES256\"}",
                         i + 1 == kr->n ? "" : ",", k->x, k->y, k->kid);
    }
    berth_buf_puts(out, "]}");
    pthread_rwlock_unlock(&kr->lock);
}

const char *berth_keyring_current_kid(struct berth_keyring *kr)
{
    const char *kid;

    pthread_rwlock_rdlock(&kr->lock);
    kid = kr->signer->kid;
    pthread_rwlock_unlock(&kr->lock);
    return kid;
}

int64_t berth_keyring_current_created_ms(struct berth_keyring *kr)
{
    int64_t ms;

    pthread_rwlock_rdlock(&kr->lock);
    ms = kr->signer->created_ms;
    pthread_rwlock_unlock(&kr->lock);
    return ms;
}

EVP_PKEY *berth_keyring_signer_ref(struct berth_keyring *kr, char *kid, size_t kidsz)
{
    EVP_PKEY *pkey = NULL;

    if (!kr || kr->magic != KEYRING_MAGIC || kidsz < KID_LEN + 1) return NULL;
    pthread_rwlock_rdlock(&kr->lock);
    if (EVP_PKEY_up_ref(kr->signer->pkey)) {
        pkey = kr->signer->pkey;
        memcpy(kid, kr->signer->kid, KID_LEN + 1);
    }
    pthread_rwlock_unlock(&kr->lock);
    return pkey;
}

EVP_PKEY *berth_keyring_key_ref(struct berth_keyring *kr, const char *kid, size_t kidlen)
{
    EVP_PKEY *pkey = NULL;
    size_t i;

    if (!kr || kr->magic != KEYRING_MAGIC || kidlen != KID_LEN) return NULL;
    pthread_rwlock_rdlock(&kr->lock);
    for (i = kr->n; i-- > 0;) {
        if (memcmp(kr->keys[i]->kid, kid, KID_LEN) != 0) continue;
        if (EVP_PKEY_up_ref(kr->keys[i]->pkey)) pkey = kr->keys[i]->pkey;
        break;
    }
    pthread_rwlock_unlock(&kr->lock);
    return pkey;
}
