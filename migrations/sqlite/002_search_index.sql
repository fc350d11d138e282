-- A compact key for each resource, used by the search index tables. The
-- table is rebuilt because a WITHOUT ROWID table cannot gain one.
CREATE TABLE resources_new (
    rid          INTEGER PRIMARY KEY AUTOINCREMENT,
    type         TEXT    NOT NULL,
    id           TEXT    NOT NULL,
    version      INTEGER NOT NULL,
    last_updated INTEGER NOT NULL,
    deleted      INTEGER NOT NULL DEFAULT 0,
    data         BLOB,
    UNIQUE (type, id)
);
INSERT INTO resources_new (type, id, version, last_updated, deleted, data)
    SELECT type, id, version, last_updated, deleted, data FROM resources;
DROP TABLE resources;
ALTER TABLE resources_new RENAME TO resources;

-- Search index: one table per parameter type; rows belong to the current
-- version of resource rid and are replaced with it. res_type and param lead
-- every lookup index, so a search starts from the index, not the resources.
CREATE TABLE idx_string (
    rid INTEGER NOT NULL, res_type TEXT NOT NULL, param TEXT NOT NULL,
    norm TEXT NOT NULL, exact TEXT NOT NULL
);
CREATE INDEX idx_string_rid ON idx_string (rid);
CREATE INDEX idx_string_norm ON idx_string (res_type, param, norm);

CREATE TABLE idx_token (
    rid INTEGER NOT NULL, res_type TEXT NOT NULL, param TEXT NOT NULL,
    system TEXT NOT NULL, code TEXT NOT NULL, text TEXT NOT NULL
);
CREATE INDEX idx_token_rid ON idx_token (rid);
CREATE INDEX idx_token_code ON idx_token (res_type, param, code, system);

CREATE TABLE idx_reference (
    rid INTEGER NOT NULL, res_type TEXT NOT NULL, param TEXT NOT NULL,
    target_type TEXT NOT NULL, target_id TEXT NOT NULL, url TEXT NOT NULL
);
CREATE INDEX idx_reference_rid ON idx_reference (rid);
CREATE INDEX idx_reference_target ON idx_reference (target_id, target_type, res_type, param);
CREATE INDEX idx_reference_url ON idx_reference (url, res_type, param) WHERE url <> '';

CREATE TABLE idx_date (
    rid INTEGER NOT NULL, res_type TEXT NOT NULL, param TEXT NOT NULL,
    low INTEGER NOT NULL, high INTEGER NOT NULL
);
CREATE INDEX idx_date_rid ON idx_date (rid);
CREATE INDEX idx_date_low ON idx_date (res_type, param, low);
CREATE INDEX idx_date_high ON idx_date (res_type, param, high);

CREATE TABLE idx_number (
    rid INTEGER NOT NULL, res_type TEXT NOT NULL, param TEXT NOT NULL,
    value REAL NOT NULL, low REAL NOT NULL, high REAL NOT NULL
);
CREATE INDEX idx_number_rid ON idx_number (rid);
CREATE INDEX idx_number_value ON idx_number (res_type, param, value);

CREATE TABLE idx_quantity (
    rid INTEGER NOT NULL, res_type TEXT NOT NULL, param TEXT NOT NULL,
    system TEXT NOT NULL, code TEXT NOT NULL,
    value REAL NOT NULL, low REAL NOT NULL, high REAL NOT NULL,
    canon_code TEXT NOT NULL,
    canon_value REAL NOT NULL, canon_low REAL NOT NULL, canon_high REAL NOT NULL
);
CREATE INDEX idx_quantity_rid ON idx_quantity (rid);
CREATE INDEX idx_quantity_value ON idx_quantity (res_type, param, code, value);
CREATE INDEX idx_quantity_canon ON idx_quantity (res_type, param, canon_code, canon_value) WHERE canon_code <> '';

CREATE TABLE idx_uri (
    rid INTEGER NOT NULL, res_type TEXT NOT NULL, param TEXT NOT NULL,
    uri TEXT NOT NULL
);
CREATE INDEX idx_uri_rid ON idx_uri (rid);
CREATE INDEX idx_uri_uri ON idx_uri (res_type, param, uri);
