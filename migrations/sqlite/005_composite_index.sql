-- Composite search parameters (Observation code-value-quantity, component-
-- code-value-quantity, ...): one row per node of the parameter's expression,
-- with the values of its components side by side, so that a search matches
-- them on the same node (a blood pressure's systolic code with the systolic
-- value, never with the diastolic one). Component i (1 to 3) has a column
-- for every field its parameter type may need (resources.Component): token
-- system, code; quantity system, code, value, canon_code, canon_value;
-- number value; date low, high (microseconds); string (folded) and uri text;
-- reference system (target type), code (target id), text (URL). Fields its
-- type does not use are '' or 0. The first component is a token or a
-- reference in every R4 composite, so lookups start from its code.
CREATE TABLE idx_composite (
    rid INTEGER NOT NULL, res_type TEXT NOT NULL, param TEXT NOT NULL,
    c1_system TEXT NOT NULL, c1_code TEXT NOT NULL, c1_text TEXT NOT NULL, c1_value REAL NOT NULL,
    c1_canon_code TEXT NOT NULL, c1_canon_value REAL NOT NULL, c1_low INTEGER NOT NULL, c1_high INTEGER NOT NULL,
    c2_system TEXT NOT NULL, c2_code TEXT NOT NULL, c2_text TEXT NOT NULL, c2_value REAL NOT NULL,
    c2_canon_code TEXT NOT NULL, c2_canon_value REAL NOT NULL, c2_low INTEGER NOT NULL, c2_high INTEGER NOT NULL,
    c3_system TEXT NOT NULL, c3_code TEXT NOT NULL, c3_text TEXT NOT NULL, c3_value REAL NOT NULL,
    c3_canon_code TEXT NOT NULL, c3_canon_value REAL NOT NULL, c3_low INTEGER NOT NULL, c3_high INTEGER NOT NULL
);
CREATE INDEX idx_composite_rid ON idx_composite (rid);
CREATE INDEX idx_composite_c1 ON idx_composite (res_type, param, c1_code, c1_system);
