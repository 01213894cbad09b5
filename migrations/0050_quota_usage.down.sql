DROP TABLE IF EXISTS quota_usage;
