-- DPoP (RFC 9449): a client may be issued only DPoP-bound tokens; an authorization code may
-- be bound to a key (dpop_jkt, §10), and so may a public client's refresh tokens (§5).
ALTER TABLE clients ADD COLUMN dpop_bound_access_tokens BIGINT NOT NULL DEFAULT 0;
ALTER TABLE authorization_codes ADD COLUMN dpop_jkt TEXT;
ALTER TABLE token_families ADD COLUMN dpop_jkt TEXT;
