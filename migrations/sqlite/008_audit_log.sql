-- The audit log (resources/search/audit.go). AuditEvents, one per request,
-- are never changed: each is one audit_event row (its JSON, recorded instant,
-- outcome and action, its subtype, altid and address values packed one per
-- line in terms, its references packed in refs) and an audit_ref row per
-- distinct patient, agent or entity reference (roles: 1 patient, 2 agent,
-- 4 entity), instead of a resources row, a history row and about fifteen
-- index rows. Existing AuditEvents move here, their index entries with them.

CREATE TABLE audit_event (
    seq          INTEGER PRIMARY KEY,
    id           TEXT    NOT NULL UNIQUE,
    recorded     INTEGER NOT NULL, -- AuditEvent.recorded, microseconds since the Unix epoch
    last_updated INTEGER NOT NULL,
    outcome      TEXT    NOT NULL DEFAULT '',
    action       TEXT    NOT NULL DEFAULT '',
    terms        TEXT    NOT NULL DEFAULT '',
    refs         TEXT    NOT NULL DEFAULT '',
    data         BLOB    NOT NULL
);
CREATE TABLE audit_ref (
    seq         INTEGER NOT NULL,
    roles       INTEGER NOT NULL,
    target_type TEXT    NOT NULL,
    target_id   TEXT    NOT NULL,
    url         TEXT    NOT NULL
);
CREATE INDEX audit_event_recorded ON audit_event (recorded);
CREATE INDEX audit_event_time ON audit_event (last_updated);
-- Failures are few: auditors look for them (outcome=4) without a scan.
CREATE INDEX audit_event_failed ON audit_event (outcome) WHERE outcome <> '0';
CREATE INDEX audit_ref_target ON audit_ref (target_id, target_type);
CREATE INDEX audit_ref_url ON audit_ref (url) WHERE url <> '';

INSERT INTO audit_event (id, recorded, last_updated, outcome, action, terms, data)
SELECT r.id,
    COALESCE((SELECT min(d.low) FROM idx_date d WHERE d.rid = r.rid AND d.param = 'date'), r.last_updated),
    r.last_updated,
    COALESCE((SELECT min(t.code) FROM idx_token t WHERE t.rid = r.rid AND t.param = 'outcome' AND t.system = ''), ''),
    COALESCE((SELECT min(t.code) FROM idx_token t WHERE t.rid = r.rid AND t.param = 'action' AND t.system = ''), ''),
    COALESCE((SELECT char(10) || group_concat(e, char(10)) || char(10) FROM (
        SELECT t.param || '#' || replace(replace(t.code, char(13), ' '), char(10), ' ') AS e FROM idx_token t
            WHERE t.rid = r.rid AND t.param IN ('subtype', 'altid') AND t.code <> ''
        UNION ALL SELECT t.param || '|' || replace(replace(t.system, char(13), ' '), char(10), ' ') || '|' || replace(replace(t.code, char(13), ' '), char(10), ' ') FROM idx_token t
            WHERE t.rid = r.rid AND t.param IN ('subtype', 'altid')
        UNION ALL SELECT s.param || '~' || replace(replace(s.norm, char(13), ' '), char(10), ' ') FROM idx_string s WHERE s.rid = r.rid AND s.param = 'address'
        UNION ALL SELECT s.param || '=' || replace(replace(s.exact, char(13), ' '), char(10), ' ') FROM idx_string s WHERE s.rid = r.rid AND s.param = 'address'
    ) terms), ''),
    r.data
FROM resources r WHERE r.type = 'AuditEvent' AND r.deleted = 0
ORDER BY r.rid;

INSERT INTO audit_ref (seq, roles, target_type, target_id, url)
SELECT a.seq, SUM(DISTINCT CASE x.param WHEN 'patient' THEN 1 WHEN 'agent' THEN 2 ELSE 4 END), x.target_type, x.target_id, x.url
FROM resources r JOIN audit_event a ON a.id = r.id JOIN idx_reference x ON x.rid = r.rid
WHERE r.type = 'AuditEvent' AND x.param IN ('agent', 'entity', 'patient')
GROUP BY a.seq, x.target_type, x.target_id, x.url;

UPDATE audit_event SET refs = p.refs
FROM (SELECT x.seq, group_concat(x.roles || char(9) || x.target_type || char(9) || x.target_id || char(9) || x.url, char(10)) || char(10) AS refs
    FROM audit_ref x GROUP BY x.seq) p
WHERE p.seq = audit_event.seq;

DELETE FROM idx_string WHERE res_type = 'AuditEvent';
DELETE FROM idx_token WHERE res_type = 'AuditEvent';
DELETE FROM idx_reference WHERE res_type = 'AuditEvent';
DELETE FROM idx_date WHERE res_type = 'AuditEvent';
DELETE FROM idx_number WHERE res_type = 'AuditEvent';
DELETE FROM idx_quantity WHERE res_type = 'AuditEvent';
DELETE FROM idx_uri WHERE res_type = 'AuditEvent';
DELETE FROM idx_text WHERE res_type = 'AuditEvent';
DELETE FROM idx_composite WHERE res_type = 'AuditEvent';
DELETE FROM resource_history WHERE type = 'AuditEvent';
DELETE FROM resources WHERE type = 'AuditEvent';
