-- The security labels of each resource's current version, "\n" + one
-- system|code per line (resources.Index.SecurityLabels): searches leave out
-- resources with sensitive labels by a test on the row, where a subquery on
-- idx_token cost a sixth of a name search (most of it in planning).
ALTER TABLE resources ADD COLUMN labels text NOT NULL DEFAULT '';

UPDATE resources SET labels = l.labels
FROM (SELECT rid, E'\n' || string_agg(replace(replace(system || '|' || code, E'\r', ' '), E'\n', ' '), E'\n') || E'\n' AS labels
    FROM idx_token WHERE param = '_security' GROUP BY rid) l
WHERE resources.rid = l.rid;
