/*
 * keyring.c - the ES256 signing keys: key texts kept in a storage (a folder
 * of <kid>.pem files, mode 0600, by default; the metadata store of servers
 * that share it, through a struct berth_keyring_storage), parsed once into
 * EVP_PKEYs, the newest of which signs.
 *
 * Key text layout: an optional first line "berth-key-created-ms: <ms>"
 * followed by the PEM block. PEM readers skip text before "-----BEGIN", so
 * a key file stays an ordinary key for openssl(1); keeping the creation time
 * inside the text means copies and backups that reset mtimes cannot change
 * which key signs. Texts without the line (keys brought in by hand) fall
 * back to the time their storage gives (a file's mtime).
 *
 * Locking: kr->lock (rwlock) guards keys, n and signer. Readers (sign,
 * verify, JWKS) hold it only to find a key and take a reference on its
 * EVP_PKEY, so signature work never runs under the lock and a rotation is
 * never held up by verifications in flight. kr->admin serialises rotate,
 * retire and reload, which change or read the storage and then swap the
 * array under the write lock; a struct key is freed only after it has left
 * the array.
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
    char *dir;                          /* the key folder, or NULL: another storage */
    char *name;                         /* the storage, for messages */
    struct berth_keyring_storage store; /* the folder's, or the caller's (its ctx borrowed) */
    pthread_mutex_t admin;   /* held by rotate, retire and reload for their whole run */
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

/* Checks the key is EC P-256 and derives kid and the JWKS coordinates; what names the key in messages. */
static enum berth_rc key_describe(struct key *k, const char *what, struct berth_err *err)
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
        rc = berth_err_set(err, BERTH_ECONFIG, "%s is not an EC P-256 key", what);
        goto out;
    }
    derlen = i2d_PUBKEY(k->pkey, &der);
    if (derlen <= 0 || !EVP_Digest(der, (size_t)derlen, md, &mdlen, EVP_sha256(), NULL) ||
        !b64url_fixed(md, 16, k->kid, sizeof(k->kid))) {
        rc = berth_err_set(err, BERTH_EINTERNAL, "cannot derive the key id of %s", what);
        goto out;
    }
    if (!EVP_PKEY_get_bn_param(k->pkey, OSSL_PKEY_PARAM_EC_PUB_X, &x) ||
        !EVP_PKEY_get_bn_param(k->pkey, OSSL_PKEY_PARAM_EC_PUB_Y, &y) || BN_bn2binpad(x, xy, 32) != 32 ||
        !b64url_fixed(xy, 32, k->x, sizeof(k->x)) || BN_bn2binpad(y, xy, 32) != 32 ||
        !b64url_fixed(xy, 32, k->y, sizeof(k->y))) {
        rc = berth_err_set(err, BERTH_EINTERNAL, "cannot read the public point of %s", what);
        goto out;
    }
out:
    OPENSSL_free(der);
    BN_free(x);
    BN_free(y);
    return rc;
}

/* "key file '<dir>/<kid>.pem'" or "signing key '<kid>' of <storage>": how messages name a key. */
static char *key_what(const struct berth_keyring *kr, const char *kid)
{
    if (kr->dir) return berth_xasprintf("key file '%s/%s.pem'", kr->dir, kid);
    return berth_xasprintf("signing key '%.64s' of %s", kid, kr->name);
}

/*
 * Parses one key text stored under kid: the creation line (else
 * created_ms), the unencrypted PEM private key, EC P-256, and the kid it
 * must be stored under. Never copies the text.
 */
static enum berth_rc key_parse(const struct berth_keyring *kr, const char *kid, int64_t created_ms, const char *text,
                               struct key **out, struct berth_err *err)
{
    struct key *k = berth_xcalloc(1, sizeof(*k));
    char *what = key_what(kr, kid);
    size_t len = strlen(text), tag = strlen(CREATED_TAG);
    BIO *bio = NULL;
    enum berth_rc rc = BERTH_OK;

    if (len > KEY_FILE_MAX) {
        rc = berth_err_set(err, BERTH_ECONFIG, "%s is larger than %d bytes", what, KEY_FILE_MAX);
        goto out;
    }
    k->created_ms = created_ms;
    if (len > tag && memcmp(text, CREATED_TAG, tag) == 0) {
        const char *v = text + tag;
        const char *nl = memchr(v, '\n', len - tag);
        uint64_t ms;
        if (!nl || berth_parse_u64(v, (size_t)(nl - v), &ms) != 0 || ms > (uint64_t)INT64_MAX) {
            rc = berth_err_set(err, BERTH_ECONFIG, "%s has a malformed creation time", what);
            goto out;
        }
        k->created_ms = (int64_t)ms;
    }
    bio = BIO_new_mem_buf(text, (int)len);
    if (!bio) {
        rc = berth_err_set(err, BERTH_EINTERNAL, "out of memory reading %s", what);
        goto out;
    }
    k->pkey = PEM_read_bio_PrivateKey(bio, NULL, no_passphrase, NULL);
    if (!k->pkey) {
        rc = berth_err_set(err, BERTH_ECONFIG, "%s holds no unencrypted PEM private key", what);
        goto out;
    }
    rc = key_describe(k, what, err);
    if (rc) goto out;
    if (strcmp(kid, k->kid) != 0) {
        rc = kr->dir ? berth_err_set(err, BERTH_ECONFIG, "%s must be named '%s.pem' after its key id", what, k->kid)
                     : berth_err_set(err, BERTH_ECONFIG, "%s must be stored under its key id '%s'", what, k->kid);
        goto out;
    }
    *out = k;
    k = NULL;
out:
    BIO_free(bio);
    key_free(k);
    free(what);
    return rc;
}

/* ---------------------------------------------------------------- the key folder */

static int is_key_file(const char *name)
{
    size_t n = strlen(name);
    return name[0] != '.' && n > 4 && memcmp(name + n - 4, ".pem", 4) == 0;
}

/*
 * Reads one key file into *text (cleared and freed by the caller) and its
 * mtime. The mode is checked on the open descriptor, so the file checked is
 * the file read.
 */
static enum berth_rc file_read(const char *path, char **text, size_t *len, int64_t *mtime_ms, struct berth_err *err)
{
    char *data = NULL;
    size_t got = 0;
    struct stat st;
    enum berth_rc rc = BERTH_OK;
    int fd;

    fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) return berth_err_sys(err, BERTH_ECONFIG, errno, "cannot open key file '%s'", path);
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
    if (memchr(data, '\0', got)) {
        rc = berth_err_set(err, BERTH_ECONFIG, "key file '%s' holds no unencrypted PEM private key", path);
        goto out;
    }
    *mtime_ms = (int64_t)st.st_mtim.tv_sec * 1000 + st.st_mtim.tv_nsec / 1000000;
    *text = data;
    *len = got;
    data = NULL;
out:
    close(fd);
    if (data) OPENSSL_clear_free(data, (size_t)st.st_size + 1);
    return rc;
}

/* The folder's list: every <kid>.pem but dot files, stored under its name without ".pem". */
static enum berth_rc folder_list(void *ctx, berth_keyring_text_fn fn, void *fnctx, struct berth_err *err)
{
    const char *dir = ctx;
    DIR *d = opendir(dir);
    struct dirent *e;
    enum berth_rc rc = BERTH_OK;

    if (!d)
        return berth_err_sys(err, errno == ENOENT ? BERTH_ENOENT : BERTH_ECONFIG, errno, "cannot read key folder '%s'",
                             dir);
    while (rc == BERTH_OK && (e = readdir(d)) != NULL) {
        char *path, *text = NULL, *kid;
        size_t len = 0;
        int64_t mtime = 0;
        int stop;
        if (!is_key_file(e->d_name)) continue;
        path = berth_xasprintf("%s/%s", dir, e->d_name);
        rc = file_read(path, &text, &len, &mtime, err);
        free(path);
        if (rc) break;
        kid = berth_xstrdup(e->d_name);
        kid[strlen(kid) - 4] = '\0';
        stop = fn(kid, mtime, text, fnctx);
        OPENSSL_clear_free(text, len + 1);
        free(kid);
        if (stop) break;
    }
    closedir(d);
    return rc;
}

/* Writes <kid>.pem, mode 0600, atomically (temp file, fsync, rename, fsync of the folder). */
static enum berth_rc folder_add(void *ctx, const char *kid, int64_t created_ms, const char *text,
                                struct berth_err *err)
{
    char *path = berth_xasprintf("%s/%s.pem", (const char *)ctx, kid);
    enum berth_rc rc = berth_write_atomic(path, text, strlen(text), 0600, err);

    (void)created_ms; /* the text holds it */
    free(path);
    return rc;
}

static enum berth_rc folder_remove(void *ctx, const char *kid, struct berth_err *err)
{
    const char *dir = ctx;
    char *path = berth_xasprintf("%s/%s.pem", dir, kid);
    enum berth_rc rc = BERTH_OK;

    if (unlink(path) != 0 && errno != ENOENT) rc = berth_err_sys(err, BERTH_EIO, errno, "cannot delete key file '%s'", path);
    if (!rc) rc = berth_fsync_dir(dir, err);
    free(path);
    return rc;
}

/* ---------------------------------------------------------------- keys */

/* Makes a P-256 key created at created_ms, and its text (*text: cleared and freed by the caller). */
static enum berth_rc key_create(int64_t created_ms, struct key **out, char **text, struct berth_err *err)
{
    struct key *k = berth_xcalloc(1, sizeof(*k));
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
    rc = key_describe(k, "the new key", err);
    if (rc) goto out;
    bio = BIO_new(BIO_s_mem());
    if (!bio || BIO_printf(bio, CREATED_TAG "%lld\n", (long long)created_ms) <= 0 ||
        !PEM_write_bio_PKCS8PrivateKey(bio, k->pkey, NULL, NULL, 0, NULL, NULL)) {
        rc = berth_err_set(err, BERTH_EINTERNAL, "cannot encode the new key");
        goto out;
    }
    pemlen = BIO_get_mem_data(bio, &pem);
    *text = berth_xmalloc((size_t)pemlen + 1);
    memcpy(*text, pem, (size_t)pemlen);
    (*text)[pemlen] = '\0';
    *out = k;
    k = NULL;
out:
    BIO_free(bio); /* a memory BIO clears its buffer when freed */
    key_free(k);
    return rc;
}

static void text_free(char *text)
{
    if (text) OPENSSL_clear_free(text, strlen(text) + 1);
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

static struct key *key_find(struct key *const *keys, size_t n, const char *kid)
{
    size_t i;
    for (i = 0; i < n; i++)
        if (!strcmp(keys[i]->kid, kid)) return keys[i];
    return NULL;
}

/* A new array of the stored keys, built by read_all. */
struct key_set {
    struct berth_keyring *kr;
    struct key **keys;
    size_t n, cap;
    enum berth_rc rc; /* the first failure; err holds its message */
    struct berth_err *err;
};

static int collect(const char *kid, int64_t created_ms, const char *text, void *ctx)
{
    struct key_set *s = ctx;
    struct key *k = NULL;

    /* A key the ring holds is the same key (the kid is a hash of it): kept, not parsed again. */
    if (key_find(s->keys, s->n, kid)) return 0;
    k = key_find(s->kr->keys, s->kr->n, kid);
    if (!k) {
        s->rc = key_parse(s->kr, kid, created_ms, text, &k, s->err);
        if (s->rc) return 1;
    }
    if (s->n == s->cap) {
        s->cap = s->cap ? s->cap * 2 : 8;
        s->keys = berth_xrealloc(s->keys, s->cap * sizeof(*s->keys));
    }
    s->keys[s->n++] = k;
    return 0;
}

/*
 * Every stored key into s->keys, oldest first, reusing the ring's own
 * structs for keys it holds. Caller holds kr->admin (or owns kr alone).
 * On failure the keys parsed here are freed and s->keys is empty.
 */
static enum berth_rc read_all(struct berth_keyring *kr, struct key_set *s, struct berth_err *err)
{
    enum berth_rc rc;
    size_t i;

    memset(s, 0, sizeof(*s));
    s->kr = kr;
    s->err = err;
    rc = kr->store.list(kr->store.ctx, collect, s, err);
    if (!rc) rc = s->rc;
    if (rc) {
        for (i = 0; i < s->n; i++)
            if (!key_find(kr->keys, kr->n, s->keys[i]->kid)) key_free(s->keys[i]);
        free(s->keys);
        s->keys = NULL;
        s->n = 0;
        return rc;
    }
    if (s->n) qsort(s->keys, s->n, sizeof(*s->keys), key_cmp);
    return BERTH_OK;
}

/* Swaps in s's array under the write lock; frees the keys that left it (readers hold their own references). */
static void install(struct berth_keyring *kr, struct key_set *s)
{
    struct key **old;
    size_t i, nold;

    BERTH_ASSERT(s->n > 0);
    pthread_rwlock_wrlock(&kr->lock);
    old = kr->keys;
    nold = kr->n;
    kr->keys = s->keys;
    kr->n = s->n;
    kr->signer = s->keys[s->n - 1];
    pthread_rwlock_unlock(&kr->lock);
    for (i = 0; i < nold; i++)
        if (!key_find(s->keys, s->n, old[i]->kid)) key_free(old[i]);
    free(old);
    s->keys = NULL;
    s->n = 0;
}

/* Makes a key created at created_ms and stores it. */
static enum berth_rc key_make(struct berth_keyring *kr, int64_t created_ms, struct key **out, struct berth_err *err)
{
    struct key *k = NULL;
    char *text = NULL;
    enum berth_rc rc;

    rc = key_create(created_ms, &k, &text, err);
    if (!rc) rc = kr->store.add(kr->store.ctx, k->kid, k->created_ms, text, err);
    text_free(text);
    if (rc) {
        key_free(k);
        return rc;
    }
    *out = k;
    return BERTH_OK;
}

/* ---------------------------------------------------------------- the ring */

static const struct berth_keyring_storage folder_storage = {folder_list, folder_add, folder_remove, NULL, NULL};

/*
 * A ring over a storage: dir (the folder, or NULL) and st (another
 * storage). create: make a first key when the storage holds none (serve);
 * else BERTH_ENOENT (doctor).
 */
static enum berth_rc keyring_open(const char *dir, const struct berth_keyring_storage *st, int create,
                                  struct berth_keyring **out, struct berth_err *err)
{
    struct berth_keyring *kr = berth_xcalloc(1, sizeof(*kr));
    struct key_set s;
    struct key *k = NULL;
    enum berth_rc rc = BERTH_OK;

    *out = NULL;
    kr->magic = KEYRING_MAGIC;
    pthread_mutex_init(&kr->admin, NULL);
    pthread_rwlock_init(&kr->lock, NULL);
    if (dir) {
        kr->dir = berth_xstrdup(dir);
        kr->name = berth_xasprintf("key folder '%s'", dir);
        kr->store = folder_storage;
        kr->store.ctx = kr->dir;
        if (create) rc = berth_mkdirs(dir, err);
    } else {
        kr->name = berth_xstrdup(st->name ? st->name : "the key storage");
        kr->store = *st;
    }
    if (!rc) rc = read_all(kr, &s, err);
    if (rc) goto out;
    if (s.n == 0 && !create) {
        rc = berth_err_set(err, BERTH_ENOENT, "%s holds no key%s", kr->name, dir ? " file" : "");
        goto out;
    }
    if (s.n == 0) {
        rc = key_make(kr, berth_now_ms(), &k, err);
        if (rc) goto out;
        free(s.keys);
        kr->keys = berth_xmalloc(sizeof(*kr->keys));
        kr->keys[0] = k;
        kr->n = 1;
        /* read again: a server sharing the storage may have stored a first key at the same time */
        rc = read_all(kr, &s, err);
        if (!rc && s.n == 0) rc = berth_err_set(err, BERTH_EIO, "%s lost the key just stored in it", kr->name);
        if (rc) goto out;
    }
    install(kr, &s);
    *out = kr;
    kr = NULL;
out:
    berth_keyring_close(kr);
    return rc;
}

enum berth_rc berth_keyring_open(const char *dir, struct berth_keyring **out, struct berth_err *err)
{
    *out = NULL;
    if (!dir || !*dir) return berth_err_set(err, BERTH_ECONFIG, "no key folder given");
    return keyring_open(dir, NULL, 1, out, err);
}

enum berth_rc berth_keyring_load(const char *dir, struct berth_keyring **out, struct berth_err *err)
{
    *out = NULL;
    if (!dir || !*dir) return berth_err_set(err, BERTH_ECONFIG, "no key folder given");
    return keyring_open(dir, NULL, 0, out, err);
}

enum berth_rc berth_keyring_open_storage(const struct berth_keyring_storage *st, int create,
                                         struct berth_keyring **out, struct berth_err *err)
{
    *out = NULL;
    if (!st || !st->list || !st->add || !st->remove)
        return berth_err_set(err, BERTH_EINVAL, "berth_keyring_open_storage needs list, add and remove");
    return keyring_open(NULL, st, create, out, err);
}

void berth_keyring_close(struct berth_keyring *kr)
{
    size_t i;

    if (!kr) return;
    for (i = 0; i < kr->n; i++) key_free(kr->keys[i]);
    free(kr->keys);
    free(kr->dir);
    free(kr->name);
    pthread_rwlock_destroy(&kr->lock);
    pthread_mutex_destroy(&kr->admin);
    kr->magic = 0;
    free(kr);
}

enum berth_rc berth_keyring_reload(struct berth_keyring *kr, struct berth_err *err)
{
    struct key_set s;
    enum berth_rc rc;

    pthread_mutex_lock(&kr->admin);
    rc = read_all(kr, &s, err);
    if (!rc && s.n == 0) {
        /* keep signing with what is loaded rather than with nothing */
        free(s.keys);
        rc = berth_err_set(err, BERTH_ENOENT, "%s holds no key any more; the loaded keys stay", kr->name);
    }
    if (!rc) install(kr, &s);
    pthread_mutex_unlock(&kr->admin);
    return rc;
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
    rc = key_make(kr, created, &k, err);
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
            rc = kr->store.remove(kr->store.ctx, k->kid, err);
            if (rc == BERTH_OK) {
                gone[ngone++] = k;
                continue;
            }
        }
        keep[nkeep++] = k;
    }
    BERTH_ASSERT(nkeep + ngone == kr->n && nkeep >= 1); /* the signer is always kept */
    if (ngone > 0) {
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
