-- Current version of every resource, for reads by id.
CREATE TABLE resources (
    type         TEXT    NOT NULL,
    id           TEXT    NOT NULL,
    version      INTEGER NOT NULL,
    last_updated INTEGER NOT NULL, -- microseconds since the Unix epoch, UTC
    deleted      INTEGER NOT NULL DEFAULT 0,
    data         BLOB,             -- canonical JSON; NULL when deleted
    PRIMARY KEY (type, id)
) WITHOUT ROWID;

-- Every version, including deletions; seq orders versions across resources.
CREATE TABLE resource_history (
    seq          INTEGER PRIMARY KEY AUTOINCREMENT,
    type         TEXT    NOT NULL,
    id           TEXT    NOT NULL,
    version      INTEGER NOT NULL,
    last_updated INTEGER NOT NULL,
    method       TEXT    NOT NULL,
    deleted      INTEGER NOT NULL DEFAULT 0,
    data         BLOB,
    UNIQUE (type, id, version)
);
CREATE INDEX resource_history_type_time ON resource_history (type, last_updated, seq);
CREATE INDEX resource_history_time ON resource_history (last_updated, seq);
