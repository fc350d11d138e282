-- Search access paths found by `yiyang bench-search` at 1M Observations:
-- token lookups return rids in order without reading the table, and the
-- default (rid) order of a type's live resources is an index scan.
CREATE INDEX idx_token_code_rid ON idx_token (res_type, param, code, system, rid);
DROP INDEX idx_token_code;
CREATE INDEX resources_type_rid ON resources (type, rid) WHERE NOT deleted;
