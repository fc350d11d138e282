-- _text and _content: per resource, the folded text of its narrative
-- (text.div without the XHTML markup) and of all its string values, written
-- with the resource's other index entries. Searches match terms as folded
-- substrings (LIKE '%term%'), which also suits Chinese text, written without
-- spaces.
CREATE TABLE idx_text (
    rid bigint NOT NULL, res_type text NOT NULL,
    narrative text NOT NULL, content text NOT NULL
);
CREATE INDEX idx_text_rid ON idx_text (rid);
CREATE INDEX idx_text_type ON idx_text (res_type, rid);

-- With pg_trgm, trigram GIN indexes serve LIKE '%term%' for terms of three
-- characters or more. The extension is created in schema public when it is
-- not installed yet (so that it outlives any one schema using it) and when
-- this role may create it; otherwise the searches scan, as on SQLite.
DO $$
DECLARE
    ext_schema text;
BEGIN
    SELECT n.nspname INTO ext_schema FROM pg_extension e JOIN pg_namespace n ON n.oid = e.extnamespace
        WHERE e.extname = 'pg_trgm';
    IF ext_schema IS NULL AND EXISTS (SELECT 1 FROM pg_available_extensions WHERE name = 'pg_trgm') THEN
        BEGIN
            IF EXISTS (SELECT 1 FROM pg_namespace WHERE nspname = 'public') THEN
                CREATE EXTENSION IF NOT EXISTS pg_trgm SCHEMA public;
            ELSE
                CREATE EXTENSION IF NOT EXISTS pg_trgm;
            END IF;
        EXCEPTION WHEN insufficient_privilege OR feature_not_supported THEN
            RAISE NOTICE 'pg_trgm cannot be created (%): _text and _content searches will scan', SQLERRM;
        END;
        SELECT n.nspname INTO ext_schema FROM pg_extension e JOIN pg_namespace n ON n.oid = e.extnamespace
            WHERE e.extname = 'pg_trgm';
    END IF;
    IF ext_schema IS NOT NULL THEN
        EXECUTE format('CREATE INDEX idx_text_narrative_trgm ON idx_text USING gin (narrative %I.gin_trgm_ops)', ext_schema);
        EXECUTE format('CREATE INDEX idx_text_content_trgm ON idx_text USING gin (content %I.gin_trgm_ops)', ext_schema);
    END IF;
END
$$;
