DROP TABLE IF EXISTS browser_sessions;
