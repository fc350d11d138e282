-- The trigram indexes of _text and _content (004) leave AuditEvents out.
-- The server writes an AuditEvent for every request it serves, and indexing
-- each event's ~500 characters of text by trigram was about a third of the
-- cost of writing it; auditors find events by patient, agent, date and
-- outcome, and an AuditEvent?_content= search still works, by scanning the
-- AuditEvent rows of idx_text.
DO $$
DECLARE
    ext_schema text;
BEGIN
    SELECT n.nspname INTO ext_schema FROM pg_extension e JOIN pg_namespace n ON n.oid = e.extnamespace
        WHERE e.extname = 'pg_trgm';
    IF ext_schema IS NOT NULL AND to_regclass('idx_text_content_trgm') IS NOT NULL THEN
        DROP INDEX idx_text_narrative_trgm;
        DROP INDEX idx_text_content_trgm;
        EXECUTE format('CREATE INDEX idx_text_narrative_trgm ON idx_text USING gin (narrative %I.gin_trgm_ops) WHERE res_type <> ''AuditEvent''', ext_schema);
        EXECUTE format('CREATE INDEX idx_text_content_trgm ON idx_text USING gin (content %I.gin_trgm_ops) WHERE res_type <> ''AuditEvent''', ext_schema);
    END IF;
END
$$;
