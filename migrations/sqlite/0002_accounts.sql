-- Accounts as MPSV requires them: roles, password life cycle, lockout, TOTP, password history,
-- recovery codes, password resets, session activity, and the audit log.

ALTER TABLE accounts ADD COLUMN role TEXT NOT NULL DEFAULT 'user';
ALTER TABLE accounts ADD COLUMN password_changed_at INTEGER NOT NULL DEFAULT 0;
ALTER TABLE accounts ADD COLUMN must_change_password INTEGER NOT NULL DEFAULT 0;
-- Set while the password is an initial one (issued by an operator): it stops working then.
ALTER TABLE accounts ADD COLUMN initial_password_expires_at INTEGER;
ALTER TABLE accounts ADD COLUMN failed_logins INTEGER NOT NULL DEFAULT 0;
ALTER TABLE accounts ADD COLUMN locked_until INTEGER;
-- TOTP secret, sealed with the data key (AES-256-GCM), and the last accepted time step.
ALTER TABLE accounts ADD COLUMN totp_secret TEXT;
ALTER TABLE accounts ADD COLUMN totp_last_step INTEGER;

CREATE TABLE password_history (
    sub TEXT NOT NULL REFERENCES accounts(sub),
    password_hash TEXT NOT NULL,
    created_at INTEGER NOT NULL
);
CREATE INDEX password_history_sub ON password_history(sub, created_at);

CREATE TABLE recovery_codes (
    sub TEXT NOT NULL REFERENCES accounts(sub),
    code_hash TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    used_at INTEGER,
    PRIMARY KEY (sub, code_hash)
);

CREATE TABLE password_resets (
    token_hash TEXT PRIMARY KEY,
    sub TEXT NOT NULL REFERENCES accounts(sub),
    created_at INTEGER NOT NULL,
    expires_at INTEGER NOT NULL,
    used_at INTEGER
);

ALTER TABLE sessions ADD COLUMN last_seen_at INTEGER NOT NULL DEFAULT 0;
-- Synchronizer token for the forms of the account pages (OWASP CSRF Prevention).
ALTER TABLE sessions ADD COLUMN csrf TEXT NOT NULL DEFAULT '';
ALTER TABLE sessions ADD COLUMN ip TEXT;
ALTER TABLE sessions ADD COLUMN user_agent TEXT;

-- A pending login may have passed the password step (sub set) and wait for TOTP or a
-- password change.
ALTER TABLE login_requests ADD COLUMN sub TEXT;
ALTER TABLE login_requests ADD COLUMN stage TEXT NOT NULL DEFAULT 'password';
ALTER TABLE login_requests ADD COLUMN amr TEXT NOT NULL DEFAULT '';

-- Append-only record of security events and privileged actions. `hash` chains each record
-- to the previous one (SHA-256 over prev_hash and the record's fields).
CREATE TABLE audit_log (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    at INTEGER NOT NULL,
    event TEXT NOT NULL,
    actor TEXT,
    subject TEXT,
    source_ip TEXT,
    details TEXT NOT NULL,
    prev_hash TEXT NOT NULL,
    hash TEXT NOT NULL
);
CREATE INDEX audit_log_subject ON audit_log(subject, at);
