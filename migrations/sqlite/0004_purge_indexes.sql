-- The periodic purge deletes by expiry; without these it scans whole tables (measured by the
-- benchmark on a database of 205,000 sessions).
CREATE INDEX sessions_expires ON sessions(expires_at);
CREATE INDEX token_families_expires ON token_families(expires_at);
CREATE INDEX authorization_codes_expires ON authorization_codes(expires_at);
