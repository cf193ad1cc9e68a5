-- 0009-gc-review: gc's review queue. An entry names something that may have just become garbage,
-- and when it may first be reviewed: kind 0 a manifest (repo_id, digest), kind 1 a repository's
-- link to a blob (repo_id, digest), kind 2 a blob (digest; repo_id the repository whose change queued it,
-- so that pushers in different repositories never wait on one entry). The transaction that removes
-- a reference queues what it referred to (a tag's manifest, a deleted manifest's children, referrers,
-- links and blobs, a deleted link's blob); a push queues its untagged manifest and its new link. gc's
-- workers take entries in review_ms order (on PostgreSQL with FOR UPDATE SKIP LOCKED, so workers on
-- several servers never take the same one), decide in the same transaction as the deletion, and drop
-- the entry unless what it names is still inside the grace period (docs/internals/store.md).
CREATE TABLE gc_review (
    kind INTEGER NOT NULL,
    repo_id INTEGER NOT NULL,
    digest TEXT NOT NULL,
    review_ms INTEGER NOT NULL,
    PRIMARY KEY (kind, digest, repo_id)
) WITHOUT ROWID;
CREATE INDEX gc_review_by_time ON gc_review (kind, review_ms, repo_id, digest);

-- What the store holds already that may be garbage: what gc before the queue would have looked at.
INSERT INTO gc_review (kind, repo_id, digest, review_ms)
    SELECT 0, m.repo_id, m.digest, 0 FROM manifests m
    WHERE NOT EXISTS (SELECT 1 FROM tags t WHERE t.manifest_id = m.id);
INSERT INTO gc_review (kind, repo_id, digest, review_ms)
    SELECT 1, b.repo_id, b.digest, 0 FROM repo_blobs b
    WHERE NOT EXISTS (SELECT 1 FROM manifest_blobs mb WHERE mb.digest = b.digest AND mb.repo_id = b.repo_id);
INSERT INTO gc_review (kind, repo_id, digest, review_ms)
    SELECT 2, 0, b.digest, 0 FROM blobs b
    WHERE NOT EXISTS (SELECT 1 FROM repo_blobs WHERE digest = b.digest)
    AND NOT EXISTS (SELECT 1 FROM manifest_blobs WHERE digest = b.digest)
    AND NOT EXISTS (SELECT 1 FROM manifest_children WHERE digest = b.digest);
