-- The outbox of back-channel logout (issue 12.2): one row per client to notify of a session's
-- end, written in the same transaction that ends the session, delivered by any node with
-- retries and back-off. `claimed_until` is the lease of the node sending it now.
CREATE TABLE logout_deliveries (
    id TEXT PRIMARY KEY,
    client_id TEXT NOT NULL,
    sub TEXT NOT NULL,
    sid TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    next_attempt_at BIGINT NOT NULL,
    attempts BIGINT NOT NULL DEFAULT 0,
    last_attempt_at BIGINT,
    last_status TEXT,
    delivered_at BIGINT,
    given_up_at BIGINT,
    claimed_until BIGINT
);
CREATE INDEX logout_deliveries_due ON logout_deliveries(next_attempt_at)
    WHERE delivered_at IS NULL AND given_up_at IS NULL;
CREATE INDEX logout_deliveries_client ON logout_deliveries(client_id, created_at);
