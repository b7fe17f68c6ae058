-- Core protocol tables. Times are Unix seconds (INTEGER), flags are 0/1 (INTEGER), lists are
-- JSON arrays (TEXT). Secrets (codes, refresh tokens, session ids, client secrets) are stored
-- only as SHA-256 hex digests.

CREATE TABLE clients (
    client_id TEXT PRIMARY KEY,
    name TEXT NOT NULL,
    secret_hash TEXT,
    auth_method TEXT NOT NULL,
    redirect_uris TEXT NOT NULL,
    post_logout_redirect_uris TEXT NOT NULL,
    backchannel_logout_uri TEXT,
    grant_types TEXT NOT NULL,
    scopes TEXT NOT NULL,
    id_token_alg TEXT NOT NULL,
    access_token_alg TEXT NOT NULL,
    jwks TEXT,
    application TEXT,
    require_pkce INTEGER NOT NULL,
    access_token_ttl INTEGER,
    refresh_token_ttl INTEGER,
    enabled INTEGER NOT NULL,
    created_at INTEGER NOT NULL
);

CREATE TABLE accounts (
    sub TEXT PRIMARY KEY,
    username TEXT NOT NULL UNIQUE,
    given_name TEXT NOT NULL,
    family_name TEXT NOT NULL,
    email TEXT,
    email_verified INTEGER NOT NULL,
    locale TEXT NOT NULL,
    status TEXT NOT NULL,
    password_hash TEXT NOT NULL,
    created_at INTEGER NOT NULL
);

CREATE TABLE sessions (
    id_hash TEXT PRIMARY KEY,
    sid TEXT NOT NULL UNIQUE,
    sub TEXT NOT NULL REFERENCES accounts(sub),
    auth_time INTEGER NOT NULL,
    amr TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    expires_at INTEGER NOT NULL,
    ended_at INTEGER
);
CREATE INDEX sessions_sub ON sessions(sub);

CREATE TABLE session_clients (
    sid TEXT NOT NULL,
    client_id TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    PRIMARY KEY (sid, client_id)
);

CREATE TABLE login_requests (
    id TEXT PRIMARY KEY,
    csrf_hash TEXT NOT NULL,
    client_id TEXT NOT NULL,
    params TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    expires_at INTEGER NOT NULL
);

CREATE TABLE authorization_codes (
    code_hash TEXT PRIMARY KEY,
    client_id TEXT NOT NULL,
    sub TEXT NOT NULL,
    sid TEXT NOT NULL,
    redirect_uri TEXT NOT NULL,
    scope TEXT NOT NULL,
    nonce TEXT,
    code_challenge TEXT,
    auth_time INTEGER NOT NULL,
    amr TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    expires_at INTEGER NOT NULL,
    used_at INTEGER
);

-- A family is every token descended from one authorization code; reuse of a code or of a
-- rotated refresh token revokes the whole family (RFC 9700 §4.14.2).
CREATE TABLE token_families (
    id TEXT PRIMARY KEY,
    client_id TEXT NOT NULL,
    sub TEXT NOT NULL,
    sid TEXT NOT NULL,
    code_hash TEXT,
    scope TEXT NOT NULL,
    auth_time INTEGER NOT NULL,
    amr TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    expires_at INTEGER NOT NULL,
    revoked_at INTEGER
);
CREATE INDEX token_families_sid ON token_families(sid);
CREATE INDEX token_families_code ON token_families(code_hash);

CREATE TABLE refresh_tokens (
    token_hash TEXT PRIMARY KEY,
    family_id TEXT NOT NULL REFERENCES token_families(id),
    created_at INTEGER NOT NULL,
    expires_at INTEGER NOT NULL,
    used_at INTEGER
);
CREATE INDEX refresh_tokens_family ON refresh_tokens(family_id);

-- Revoked JWT access tokens (RFC 7009), kept until they would have expired anyway.
CREATE TABLE revoked_tokens (
    jti TEXT PRIMARY KEY,
    expires_at INTEGER NOT NULL
);

-- `jti` of client assertions already used (private_key_jwt replay protection, RFC 7523 §3).
CREATE TABLE used_assertions (
    jti TEXT PRIMARY KEY,
    expires_at INTEGER NOT NULL
);
