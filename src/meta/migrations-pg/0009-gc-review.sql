-- 0009-gc-review (PostgreSQL): see src/meta/migrations/0009-gc-review.sql.
CREATE TABLE gc_review (
    kind INTEGER NOT NULL,
    repo_id BIGINT NOT NULL,
    digest TEXT COLLATE "C" NOT NULL,
    review_ms BIGINT NOT NULL,
    PRIMARY KEY (kind, digest, repo_id)
);
CREATE INDEX gc_review_by_time ON gc_review (kind, review_ms, repo_id, digest);

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
