-- The security labels of every version, as resources.labels keeps those of
-- the current one (009): type and system history leave out the versions a
-- caller may not see in the query itself, so that their pages are full.
-- Existing versions take their labels from their meta.security.
ALTER TABLE resource_history ADD COLUMN labels TEXT NOT NULL DEFAULT '';

UPDATE resource_history SET labels = l.labels
FROM (SELECT seq, char(10) || group_concat(label, char(10)) || char(10) AS labels
    FROM (SELECT DISTINCT h.seq AS seq,
            replace(replace(coalesce(json_extract(s.value, '$.system'), '') || '|' || coalesce(json_extract(s.value, '$.code'), ''), char(13), ' '), char(10), ' ') AS label
        FROM resource_history h, json_each(CAST(h.data AS TEXT), '$.meta.security') s
        WHERE h.data IS NOT NULL AND instr(CAST(h.data AS TEXT), '"security"') > 0 AND s.type = 'object')
    GROUP BY seq) l
WHERE resource_history.seq = l.seq;
