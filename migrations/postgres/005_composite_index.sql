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
-- Fixed-width columns come first: no alignment padding between them.
CREATE TABLE idx_composite (
    rid bigint NOT NULL,
    c1_value double precision NOT NULL, c1_canon_value double precision NOT NULL, c1_low bigint NOT NULL, c1_high bigint NOT NULL,
    c2_value double precision NOT NULL, c2_canon_value double precision NOT NULL, c2_low bigint NOT NULL, c2_high bigint NOT NULL,
    c3_value double precision NOT NULL, c3_canon_value double precision NOT NULL, c3_low bigint NOT NULL, c3_high bigint NOT NULL,
    res_type text NOT NULL, param text NOT NULL,
    c1_system text NOT NULL, c1_code text NOT NULL, c1_text text NOT NULL, c1_canon_code text NOT NULL,
    c2_system text NOT NULL, c2_code text NOT NULL, c2_text text NOT NULL, c2_canon_code text NOT NULL,
    c3_system text NOT NULL, c3_code text NOT NULL, c3_text text NOT NULL, c3_canon_code text NOT NULL
);
CREATE INDEX idx_composite_rid ON idx_composite (rid);
CREATE INDEX idx_composite_c1 ON idx_composite (res_type, param, c1_code, c1_system);
