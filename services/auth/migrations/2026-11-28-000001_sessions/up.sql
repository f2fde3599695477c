-- Revocations that gateways must enforce, as written to the `auth-revocations` KV bucket
-- (key = the bucket's key, e.g. `sid.<family>`, `user.<user>`, `member.<tenant>.<user>`).
-- The KV entry is written after the transaction that inserts the row commits; at start auth
-- puts every row younger than the bucket's retention again, so a lost write heals.
CREATE TABLE revocations (
    key         TEXT PRIMARY KEY CHECK (length(key) BETWEEN 1 AND 200),
    revoked_at  TIMESTAMPTZ NOT NULL
);
CREATE INDEX revocations_revoked_at ON revocations (revoked_at);
