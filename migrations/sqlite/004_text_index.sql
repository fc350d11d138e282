-- _text and _content: per resource, the folded text of its narrative
-- (text.div without the XHTML markup) and of all its string values, written
-- with the resource's other index entries. Searches match terms as folded
-- substrings (LIKE '%term%'), which also suits Chinese text, written without
-- spaces; SQLite has no index for that and scans the rows of the type.
CREATE TABLE idx_text (
    rid INTEGER NOT NULL, res_type TEXT NOT NULL,
    narrative TEXT NOT NULL, content TEXT NOT NULL
);
CREATE INDEX idx_text_rid ON idx_text (rid);
CREATE INDEX idx_text_type ON idx_text (res_type, rid);
