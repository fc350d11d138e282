-- The security labels of each resource's current version, "\n" + one
-- system|code per line (resources.Index.SecurityLabels): searches leave out
-- resources with sensitive labels by a test on the row, where a subquery on
-- idx_token cost a sixth of a name search (most of it in planning).
ALTER TABLE resources ADD COLUMN labels TEXT NOT NULL DEFAULT '';

UPDATE resources SET labels = l.labels
FROM (SELECT rid, char(10) || group_concat(replace(replace(system || '|' || code, char(13), ' '), char(10), ' '), char(10)) || char(10) AS labels
    FROM idx_token WHERE param = '_security' GROUP BY rid) l
WHERE resources.rid = l.rid;
