-- The security labels of every version, as resources.labels keeps those of
-- the current one (009): type and system history leave out the versions a
-- caller may not see in the query itself, so that their pages are full.
-- Existing versions take their labels from their meta.security.
ALTER TABLE resource_history ADD COLUMN labels text NOT NULL DEFAULT '';

UPDATE resource_history SET labels = l.labels
FROM (SELECT h.seq, E'\n' || string_agg(DISTINCT replace(replace(coalesce(s->>'system', '') || '|' || coalesce(s->>'code', ''), E'\r', ' '), E'\n', ' '), E'\n') || E'\n' AS labels
    FROM resource_history h,
        json_array_elements(CASE WHEN json_typeof(convert_from(h.data, 'UTF8')::json #> '{meta,security}') = 'array'
            THEN convert_from(h.data, 'UTF8')::json #> '{meta,security}' ELSE '[]'::json END) s
    WHERE h.data IS NOT NULL AND position('"security"' IN convert_from(h.data, 'UTF8')) > 0
        AND json_typeof(s) = 'object'
    GROUP BY h.seq) l
WHERE resource_history.seq = l.seq;
