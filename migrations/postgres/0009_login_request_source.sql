-- The client address that opened a pending login (issue 11.8): one address may hold only
-- `limits.pending_logins_per_address` of them at once.
ALTER TABLE login_requests ADD COLUMN source_ip TEXT;
CREATE INDEX login_requests_source ON login_requests(source_ip, expires_at);
