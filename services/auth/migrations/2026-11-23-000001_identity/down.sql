DROP TABLE signing_keys;
DROP TABLE refresh_tokens;
DROP TABLE memberships;
DROP TABLE users;
DROP TABLE tenants;
