-- A deletion is in the compartments of the version it removed: a patient's
-- scope reads the deletions of its own resources as gone (410) and finds
-- them in history, as a client that syncs through history must
-- (search.Engine.Condition, search.Engine.VersionScope). Deletions recorded
-- before carry no patients; they take those of the version they removed.
UPDATE resource_history d SET patients = p.patients
FROM resource_history p
WHERE d.deleted AND d.patients = '' AND p.type = d.type AND p.id = d.id AND p.version = d.version - 1;
