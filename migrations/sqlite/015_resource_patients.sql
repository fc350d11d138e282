-- The patients of each resource's current version (search.PatientsOf, as
-- resource_history.patients holds them since migration 11) are kept in
-- resources too. A read whose AuditEvent names the patients read, and a
-- deletion (which keeps the patients of the version it removes), find them
-- in the row they read anyway instead of joining or querying history: the
-- join cost a read by id about a sixth more on PostgreSQL.
ALTER TABLE resources ADD COLUMN patients text NOT NULL DEFAULT '';

UPDATE resources SET patients = h.patients
FROM resource_history h
WHERE h.type = resources.type AND h.id = resources.id AND h.version = resources.version AND h.patients <> '';
