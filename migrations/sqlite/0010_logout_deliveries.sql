-- The outbox of back-channel logout (issue 12.2): one row per client to notify of a session's
-- end, written in the same transaction that ends the session, delivered by any node with
-- retries and back-off. `claimed_until` is the lease of the node sending it now.
CREATE TABLE logout_deliveries (
    id TEXT PRIMARY KEY,
    client_id TEXT NOT NULL,
    sub TEXT NOT NULL,
    sid TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    next_attempt_at INTEGER NOT NULL,
    attempts INTEGER NOT NULL DEFAULT 0,
    last_attempt_at INTEGER,
    last_status TEXT,
    delivered_at INTEGER,
    given_up_at INTEGER,
    claimed_until INTEGER
);
CREATE INDEX logout_deliveries_due ON logout_deliveries(next_attempt_at)
    WHERE delivered_at IS NULL AND given_up_at IS NULL;
CREATE INDEX logout_deliveries_client ON logout_deliveries(client_id, created_at);
