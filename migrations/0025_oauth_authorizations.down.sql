DROP TABLE IF EXISTS oauth_authorizations;
