-- A deletion is in the compartments of the version it removed: a patient's
-- scope reads the deletions of its own resources as gone (410) and finds
-- them in history, as a client that syncs through history must
-- (search.Engine.Condition, search.Engine.VersionScope). Deletions recorded
-- before carry no patients; they take those of the version they removed.
UPDATE resource_history SET patients = COALESCE((SELECT p.patients FROM resource_history p
    WHERE p.type = resource_history.type AND p.id = resource_history.id AND p.version = resource_history.version - 1), '')
WHERE deleted = 1 AND patients = '';
