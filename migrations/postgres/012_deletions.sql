-- A deletion keeps the patients and security labels of the version it
-- removed: a patient's scope reads the deletions of its own resources as
-- gone (410) and finds them in history, as a client that syncs through
-- history must (search.Engine.Condition, search.Engine.VersionScope), and
-- the deletion of a sensitive resource is as hidden from history as its
-- versions (search.Engine.Unlabelled). Deletions recorded before carried
-- neither; they take those of the version they removed. (Versions of
-- resources already deleted when migration 11 ran have no patients to
-- take: the index kept none.)
UPDATE resource_history d SET patients = p.patients, labels = p.labels
FROM resource_history p
WHERE d.deleted AND p.type = d.type AND p.id = d.id AND p.version = d.version - 1;
