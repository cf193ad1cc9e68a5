/*
 * backup.h - berth backup and berth restore: a consistent copy of a data
 * folder (SQLite and blob files) taken while a server serves it, and a new
 * data folder made from one.
 *
 * A backup folder is laid out like a data folder, plus backup.json:
 *
 *   DIR/backup.json            what the backup holds (written last: its presence means complete)
 *   DIR/berth.db               a snapshot of the database (SQLite's online backup), one file
 *   DIR/blobs/<alg>/<xx>/<hex> the blobs the snapshot references, and only those
 *   DIR/keys/<kid>.pem         the token signing keys
 *   DIR/initial-owner-password the owner's first password, when the data folder has it
 *
 * Blobs are hard links to the data folder's files when DIR is on the same
 * file system, else copies committed only after their bytes hashed to the
 * digest (read from the source, and read back from the copy). A backup into
 * a DIR that holds an earlier one adds what is new and removes what the new
 * snapshot no longer references.
 *
 * gc running meanwhile: a blob the snapshot references may be removed by gc
 * before it is linked or copied (its last use went after the snapshot).
 * Once linked or opened, its bytes are the backup's. A blob found missing
 * is not an error: the backup takes a new snapshot, in which that blob is
 * no longer referenced (gc removes a blob only in the transaction that
 * deletes its row), and fetches what that one adds; only when blobs keep
 * going missing for BERTH_BACKUP_ROUNDS snapshots does it fail.
 */
#ifndef BERTH_BACKUP_H
#define BERTH_BACKUP_H

#include <stdint.h>
#include "buf.h"
#include "err.h"
#include "meta.h"

/* Snapshots a backup takes at most while gc keeps removing blobs it references. */
#define BERTH_BACKUP_ROUNDS 5

/* The backup format this berth writes and reads (backup.json's "formatVersion"). */
#define BERTH_BACKUP_FORMAT 1

/* What backup.json says. */
struct berth_backup_info {
    int format;                  /* BERTH_BACKUP_FORMAT */
    int64_t created_s;           /* when the snapshot was taken */
    char berth_version[32];      /* of the berth that took it */
    int schema_version;          /* the database's */
    uint64_t db_bytes;           /* berth.db's size */
    char db_sha256[65];          /* and its SHA-256, hex */
    uint64_t blobs, blob_bytes;  /* blobs in blobs/ and their bytes */
    uint64_t keys;               /* signing keys in keys/ */
    struct berth_meta_tables tables; /* rows per table (written; not read back: .n is 0 after parse) */
};

/* backup.json's text for info (appended to out, with a final newline). */
void berth_backup_info_json(const struct berth_backup_info *info, struct berth_buf *out);

/*
 * Parses backup.json's text. BERTH_EINVAL when it is not a berth backup's,
 * lacks a field, or has a format this berth does not read (naming it).
 */
enum berth_rc berth_backup_info_parse(const char *text, size_t len, struct berth_backup_info *out,
                                      struct berth_err *err);

/*
 * What a data folder is served from must be a folder alone: the meta and
 * store settings empty. Otherwise BERTH_EUNSUPPORTED saying what backs up
 * such a deployment instead (what is "backup" or "restore").
 */
enum berth_rc berth_backup_refuse_shared(const char *what, const char *meta, const char *store,
                                         struct berth_err *err);

enum berth_backup_phase {
    BERTH_BACKUP_SNAPSHOT, /* the database: round says which snapshot */
    BERTH_BACKUP_BLOBS,    /* done/total blobs, bytes/bytes_total */
};

/* Where a run is; borrowed during the progress call. */
struct berth_backup_progress {
    enum berth_backup_phase phase;
    int round;                   /* 1, then more when gc removed blobs of a snapshot */
    uint64_t done, total;        /* blobs looked at, of the blobs to back up (restore: to restore) */
    uint64_t bytes, bytes_total; /* their bytes */
    int64_t elapsed_us;          /* since the phase began */
};

/* Called as a run goes (often: throttle what is shown); final: the phase is over. */
typedef void (*berth_backup_progress_fn)(const struct berth_backup_progress *p, int final, void *ctx);

struct berth_backup_opts {
    const char *data;  /* the data folder (borrowed) */
    const char *meta;  /* the meta setting: must be empty */
    const char *store; /* the store setting: must be empty */
    const char *dir;   /* the backup folder (backup: made when missing; restore: read) */
    const char *to;    /* restore: the new data folder, missing or empty */
    int verify;        /* backup: hash the copies DIR holds already before keeping them */
    berth_backup_progress_fn progress; /* may be NULL */
    void *ctx;
};

struct berth_backup_stats {
    struct berth_backup_info info; /* what backup.json says (restore: what it said) */
    uint64_t linked;               /* backup: blobs hard-linked */
    uint64_t copied, bytes_copied; /* blobs copied and verified, and their bytes */
    uint64_t present, bytes_present; /* backup: blobs DIR held already */
    uint64_t replaced;             /* backup: DIR held them with other bytes, fetched again */
    uint64_t pruned;               /* backup: blobs of an earlier backup no longer referenced, removed */
    uint64_t vanished;             /* backup: referenced by a snapshot, removed by gc before they were fetched */
    int rounds;                    /* backup: snapshots taken */
    int unfinished;                /* restore: it failed after writing into the target folder */
    uint64_t keys, files;          /* signing keys, other files (initial-owner-password) written */
    int64_t total_us;
};

/*
 * Backs o->data up into o->dir while a server may serve it (see the top of
 * this file). Refuses a shared deployment (berth_backup_refuse_shared), a
 * DIR that is the data folder or holds files of no backup, and a database
 * whose schema is newer than this berth's. A second backup at once into
 * the same DIR is BERTH_EBUSY. *st is filled as far as the run got.
 */
enum berth_rc berth_backup_run(const struct berth_backup_opts *o, struct berth_backup_stats *st,
                               struct berth_err *err);

/*
 * Makes o->to, a missing or empty folder, a data folder holding o->dir's
 * backup: the database checked whole (its SHA-256 against backup.json,
 * PRAGMA integrity_check, its schema not newer than this berth's), every
 * blob copied and its digest checked, every blob the database references
 * present, the keys; berth.db is put in place last, so a folder without it
 * is a restore that did not finish. Refuses a non-empty o->to (BERTH_EEXIST)
 * and a shared deployment. A corrupt blob is BERTH_EDIGEST naming it.
 */
enum berth_rc berth_restore_run(const struct berth_backup_opts *o, struct berth_backup_stats *st,
                                struct berth_err *err);

#endif
