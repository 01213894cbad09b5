DROP TABLE IF EXISTS sso_login_flows;
DROP TABLE IF EXISTS sso_providers;
