-- A compact key for each resource, used by the search index tables.
ALTER TABLE resources ADD COLUMN rid bigint GENERATED ALWAYS AS IDENTITY;
ALTER TABLE resources ADD CONSTRAINT resources_rid_key UNIQUE (rid);

-- Search index: one table per parameter type; rows belong to the current
-- version of resource rid and are replaced with it. res_type and param lead
-- every lookup index, so a search starts from the index, not the resources.
CREATE TABLE idx_string (
    rid bigint NOT NULL, res_type text NOT NULL, param text NOT NULL,
    norm text NOT NULL, exact text NOT NULL
);
CREATE INDEX idx_string_rid ON idx_string (rid);
CREATE INDEX idx_string_norm ON idx_string (res_type, param, norm text_pattern_ops);

CREATE TABLE idx_token (
    rid bigint NOT NULL, res_type text NOT NULL, param text NOT NULL,
    system text NOT NULL, code text NOT NULL, text text NOT NULL
);
CREATE INDEX idx_token_rid ON idx_token (rid);
CREATE INDEX idx_token_code ON idx_token (res_type, param, code, system);

CREATE TABLE idx_reference (
    rid bigint NOT NULL, res_type text NOT NULL, param text NOT NULL,
    target_type text NOT NULL, target_id text NOT NULL, url text NOT NULL
);
CREATE INDEX idx_reference_rid ON idx_reference (rid);
CREATE INDEX idx_reference_target ON idx_reference (target_id, target_type, res_type, param);
CREATE INDEX idx_reference_url ON idx_reference (url, res_type, param) WHERE url <> '';

CREATE TABLE idx_date (
    rid bigint NOT NULL, res_type text NOT NULL, param text NOT NULL,
    low bigint NOT NULL, high bigint NOT NULL
);
CREATE INDEX idx_date_rid ON idx_date (rid);
CREATE INDEX idx_date_low ON idx_date (res_type, param, low);
CREATE INDEX idx_date_high ON idx_date (res_type, param, high);

CREATE TABLE idx_number (
    rid bigint NOT NULL, res_type text NOT NULL, param text NOT NULL,
    value double precision NOT NULL, low double precision NOT NULL, high double precision NOT NULL
);
CREATE INDEX idx_number_rid ON idx_number (rid);
CREATE INDEX idx_number_value ON idx_number (res_type, param, value);

CREATE TABLE idx_quantity (
    rid bigint NOT NULL, res_type text NOT NULL, param text NOT NULL,
    system text NOT NULL, code text NOT NULL,
    value double precision NOT NULL, low double precision NOT NULL, high double precision NOT NULL,
    canon_code text NOT NULL,
    canon_value double precision NOT NULL, canon_low double precision NOT NULL, canon_high double precision NOT NULL
);
CREATE INDEX idx_quantity_rid ON idx_quantity (rid);
CREATE INDEX idx_quantity_value ON idx_quantity (res_type, param, code, value);
CREATE INDEX idx_quantity_canon ON idx_quantity (res_type, param, canon_code, canon_value) WHERE canon_code <> '';

CREATE TABLE idx_uri (
    rid bigint NOT NULL, res_type text NOT NULL, param text NOT NULL,
    uri text NOT NULL
);
CREATE INDEX idx_uri_rid ON idx_uri (rid);
CREATE INDEX idx_uri_uri ON idx_uri (res_type, param, uri text_pattern_ops);
