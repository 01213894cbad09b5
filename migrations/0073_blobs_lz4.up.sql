-- Blobs are compressed with lz4 where the server has it: several times
-- faster than pglz at writing and reading a large document or catalogue
-- (Stripe's 4 MB document and 7 MB catalogue), and smaller for JSON. Rows
-- already stored keep their compression; a server built without lz4 keeps pglz.
DO $$
BEGIN
    ALTER TABLE blobs ALTER COLUMN data SET COMPRESSION lz4;
EXCEPTION WHEN feature_not_supported THEN
    RAISE NOTICE 'lz4 is not available: blobs stay compressed with pglz';
END
$$;
