-- Pushed authorization requests (RFC 9126): the parameters a client pushed, under the hash
-- of the request_uri handed back; single use (deleted when the authorization endpoint takes
-- it) and short-lived (tokens.pushed_request). A client may be required to push.
CREATE TABLE pushed_requests (
    uri_hash TEXT PRIMARY KEY,
    client_id TEXT NOT NULL,
    params TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL
);
CREATE INDEX pushed_requests_expires ON pushed_requests (expires_at);

ALTER TABLE clients ADD COLUMN require_pushed_requests BIGINT NOT NULL DEFAULT 0;
