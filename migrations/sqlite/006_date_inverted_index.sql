-- Date index rows whose range is inverted (a Period that ends before it
-- starts: invalid, stored as written). An eq date search bounds the range
-- of ordered rows on both sides, which idx_date_low and idx_date_high can
-- serve in time independent of the number of rows outside it, and finds
-- inverted ones, normally none, through this index.
CREATE INDEX idx_date_inverted ON idx_date (res_type, param, low, high) WHERE low > high;
