-- Passkeys (WebAuthn Level 3, issue 15): the credentials a person registered, and the state of
-- a ceremony in progress, kept here (single use, short-lived) and never in the browser.
CREATE TABLE passkeys (
    id TEXT PRIMARY KEY,
    sub TEXT NOT NULL REFERENCES accounts(sub),
    -- base64url of the credential id the authenticator chose (unique across all accounts:
    -- WebAuthn §7.1 step 26).
    credential_id TEXT NOT NULL UNIQUE,
    -- The WebAuthn user handle (a random UUID per account, the same for all its passkeys).
    user_handle TEXT NOT NULL,
    name TEXT NOT NULL,
    -- The serialised webauthn-rs credential (public key, counter, flags).
    credential TEXT NOT NULL,
    sign_count INTEGER NOT NULL,
    backup_eligible INTEGER NOT NULL,
    backup_state INTEGER NOT NULL,
    created_at INTEGER NOT NULL,
    last_used_at INTEGER
);
CREATE INDEX passkeys_sub ON passkeys (sub);
CREATE INDEX passkeys_user_handle ON passkeys (user_handle);

CREATE TABLE webauthn_ceremonies (
    -- "login:<interaction id>" or "register:<sid>": one ceremony at a time for each.
    key TEXT PRIMARY KEY,
    kind TEXT NOT NULL,
    sub TEXT,
    state TEXT NOT NULL,
    expires_at INTEGER NOT NULL
);
CREATE INDEX webauthn_ceremonies_expiry ON webauthn_ceremonies (expires_at);
