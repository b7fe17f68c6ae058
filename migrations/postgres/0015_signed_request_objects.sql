-- Signed request objects (RFC 9101 §10.5): a client may be required to send its
-- authorization requests only as request objects signed with its registered keys.
ALTER TABLE clients ADD COLUMN require_signed_request_object BIGINT NOT NULL DEFAULT 0;
