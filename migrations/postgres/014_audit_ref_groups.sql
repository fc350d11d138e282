-- An audit_ref row names the events of one reference in one role with an
-- array of their sequence numbers, instead of one row (and one index
-- entry) per event. The writer copies a batch's references grouped so
-- (resources/postgres/audit.go): the agent of a busy client, or a patient
-- read many times within a batch, costs one row per batch rather than one
-- per event; the index insertions of audit_ref were about half of what
-- PostgreSQL spent storing an event. Arrays hold at most 192 numbers (1.5
-- KiB), so that rows stay short of TOAST. Searches unnest the arrays
-- (search.Dialect.AuditSeqs). Existing rows are grouped the same way.

CREATE TABLE audit_ref_groups (
    seqs        bigint[] NOT NULL,
    roles       integer NOT NULL,
    target_type text    NOT NULL,
    target_id   text    NOT NULL,
    url         text    NOT NULL
);
INSERT INTO audit_ref_groups (seqs, roles, target_type, target_id, url)
SELECT array_agg(seq ORDER BY seq), roles, target_type, target_id, url
FROM (SELECT seq, roles, target_type, target_id, url,
             (row_number() OVER (PARTITION BY roles, target_type, target_id, url ORDER BY seq) - 1) / 192 AS chunk
      FROM audit_ref) r
GROUP BY roles, target_type, target_id, url, chunk;
DROP TABLE audit_ref;
ALTER TABLE audit_ref_groups RENAME TO audit_ref;
CREATE INDEX audit_ref_target ON audit_ref (target_id, target_type);
CREATE INDEX audit_ref_url ON audit_ref (url) WHERE url <> '';
