DROP TABLE IF EXISTS audit_retention;
