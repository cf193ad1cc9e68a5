/*
 * s3_int.h - the S3 driver's pure parts (s3_parse.c), kept apart from its
 * transport (blobstore_s3.c) so the unit tests reach them without a server:
 * the store URL, the credentials, a small XML extractor for S3's answers, the
 * resume data of an upload (berth_upload_state.ext) and the part-size policy.
 * Nothing here does network I/O; berth_s3_creds_load reads the environment
 * and a credentials file.
 */
#ifndef BERTH_STORE_S3_INT_H
#define BERTH_STORE_S3_INT_H

#include <stddef.h>
#include <stdint.h>
#include "buf.h"
#include "err.h"

#define BERTH_S3_MIB ((uint64_t)1 << 20)
#define BERTH_S3_PART_MIN (5 * BERTH_S3_MIB)            /* S3's least size of every part but the last */
#define BERTH_S3_PART_MAX ((uint64_t)5 << 30)          /* S3's largest part, and largest single PUT or copy */
#define BERTH_S3_PART_DEFAULT (8 * BERTH_S3_MIB)
#define BERTH_S3_PARTS_MAX 10000                        /* S3's most parts in one multipart upload */
#define BERTH_S3_ETAG_MAX 130                           /* a quoted MD5 with "-N": 40-odd; room to spare */
#define BERTH_S3_UPLOAD_ID_MAX 1024                     /* S3 does not bound it; AWS's are ~100 bytes */

/* ---- the store URL: s3://BUCKET[/PREFIX]?endpoint=URL&region=R[&redirect=0][&credentials=F][&part-size=N] ---- */

struct berth_s3_conf {
    char *bucket;       /* checked against S3's bucket name rules */
    char *prefix;       /* "" or "a/b/" (always ends in '/'): every key starts with it */
    char *endpoint;     /* "http://127.0.0.1:7480", no trailing '/' */
    char *host;         /* "127.0.0.1:7480": the Host header, as signed */
    char *region;       /* "us-east-1" when the URL names none */
    char *credentials;  /* a credentials file named by the URL, or NULL */
    int redirect;       /* readers carry a presigned URL (the default) */
    uint64_t part_size; /* BERTH_S3_PART_MIN..BERTH_S3_PART_MAX */
};

/*
 * Parses a store URL into c (released with berth_s3_conf_release, also after
 * a failure). Refuses, with BERTH_ECONFIG and a message that repeats no
 * value, a URL carrying credentials (user:pass@, access-key parameters) and
 * any parameter it does not know.
 */
enum berth_rc berth_s3_conf_parse(const char *url, struct berth_s3_conf *c, struct berth_err *err);
void berth_s3_conf_release(struct berth_s3_conf *c);

/* ---- credentials ---- */

struct berth_s3_creds {
    char *access_key;
    char *secret_key;
    char *token; /* a session token (x-amz-security-token), or NULL */
    char from[96]; /* where they came from, for messages: "environment" or the file's name (cut short) */
};

/*
 * Reads profile's keys (aws_access_key_id, aws_secret_access_key, optional
 * aws_session_token) from the text of an AWS credentials file: INI sections
 * "[name]" or "[profile name]", "key = value" lines, '#' and ';' comments.
 * BERTH_ENOENT when the profile is absent, BERTH_ECONFIG when it lacks a key
 * or a line is malformed. Messages name path and line, never a value.
 */
enum berth_rc berth_s3_creds_parse(const char *text, size_t len, const char *profile, const char *path,
                                   struct berth_s3_creds *out, struct berth_err *err);
/*
 * The credentials to sign with: the file named by the URL (file, may be
 * NULL) when there is one, else AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY
 * (with AWS_SESSION_TOKEN), else $AWS_SHARED_CREDENTIALS_FILE; the profile
 * is $AWS_PROFILE or "default". BERTH_ECONFIG when none are found.
 */
enum berth_rc berth_s3_creds_load(const char *file, struct berth_s3_creds *out, struct berth_err *err);
/* Wipes and frees the keys (NULL-safe). */
void berth_s3_creds_release(struct berth_s3_creds *c);

/* ---- S3's XML answers ---- */

/*
 * Finds the next element named name in *scope, at any depth: *inner gets
 * what lies between its start and end tags (empty for <name/>), and *scope
 * moves past its end. BERTH_ENOENT when there is none; BERTH_EINVAL for
 * malformed XML (an unterminated tag, comment or element).
 */
enum berth_rc berth_s3_xml_next(struct berth_str *scope, const char *name, struct berth_str *inner,
                                struct berth_err *err);
/*
 * The text of the first element named name in scope, entities decoded, into
 * out (cap bytes with the NUL). BERTH_ENOENT when absent; BERTH_EINVAL when
 * malformed, when it holds elements, or when the text needs cap bytes or more.
 */
enum berth_rc berth_s3_xml_text(struct berth_str scope, const char *name, char *out, size_t cap,
                                struct berth_err *err);
/* The same as a number (decimal digits only, at most UINT64_MAX). */
enum berth_rc berth_s3_xml_u64(struct berth_str scope, const char *name, uint64_t *out, struct berth_err *err);
/*
 * Decodes XML text s[0..n) (&quot; &amp; &lt; &gt; &apos;, &#N; and &#xH;
 * as UTF-8) into out, cap bytes with the NUL. BERTH_EINVAL for an unknown or
 * broken entity, a '<', a code point that is not a character, or no room.
 */
enum berth_rc berth_s3_xml_decode(const char *s, size_t n, char *out, size_t cap, struct berth_err *err);
/* Appends s escaped for XML text (& < > " '). */
void berth_s3_xml_escape(struct berth_buf *b, const char *s);

/* ---- an upload's resume data (berth_upload_state.ext) ---- */

struct berth_s3_part {
    uint32_t number;                /* 1, 2, ... in order */
    uint64_t size;                  /* >= BERTH_S3_PART_MIN */
    char etag[BERTH_S3_ETAG_MAX];   /* as S3 gave it, quotes included */
};

struct berth_s3_ext {
    char *mp;                     /* the multipart upload id, NULL before the first part */
    struct berth_s3_part *parts;  /* nparts, numbered 1..nparts */
    size_t nparts, cap;
    uint64_t tail;                /* bytes in the tail object */
};

/* Appends one part (number nparts + 1). */
void berth_s3_ext_add(struct berth_s3_ext *e, const char *etag, uint64_t size);
/* The bytes in the parts. */
uint64_t berth_s3_ext_parts_bytes(const struct berth_s3_ext *e);
/* {"v":1,"mp":"...","parts":[[1,"\"etag\"",8388608],...],"tail":N}, malloc'd. */
char *berth_s3_ext_format(const struct berth_s3_ext *e);
/*
 * Parses what berth_s3_ext_format made into e (released with
 * berth_s3_ext_release, also after a failure). BERTH_EINVAL for anything
 * else: other JSON, parts out of order or under BERTH_S3_PART_MIN, an ETag
 * or id too long, more than BERTH_S3_PARTS_MAX parts, parts without an id.
 */
enum berth_rc berth_s3_ext_parse(const char *json, struct berth_s3_ext *e, struct berth_err *err);
void berth_s3_ext_release(struct berth_s3_ext *e);

/* ---- part sizes ---- */

/*
 * The part size for the part after nparts parts: part_size for the first
 * 5,000, then at least 64 MiB up to 8,000, then at least 512 MiB, so that a
 * blob of 1 TiB still fits in S3's 10,000 parts.
 */
uint64_t berth_s3_part_target(uint64_t part_size, size_t nparts);
/*
 * What a writer's close sends as a part rather than as the tail object:
 * BERTH_S3_PART_MIN at first (so a client's chunks of 5 MiB or more each
 * become a part), the part target once past 5,000 parts (so small chunks
 * cannot use up the parts).
 */
uint64_t berth_s3_part_close_min(uint64_t part_size, size_t nparts);
/* Parses a size: digits with an optional K, M or G suffix (also Ki/KiB/KB: all powers of 1024). */
enum berth_rc berth_s3_size_parse(const char *s, uint64_t *out);

#endif
