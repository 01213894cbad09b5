-- Run once by the postgres image when its volume is new: the service role
-- APIQ connects as. `apiq serve` (connected as the owner through
-- APIQ_MIGRATE_DATABASE_URL) grants it exactly what it needs after migrating.
CREATE ROLE apiq_app LOGIN PASSWORD 'app-secret-change-me';
