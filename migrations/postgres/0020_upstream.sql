-- Signing in through an upstream OpenID Provider (the national eID, NIA; issue 15.2).

-- A round trip to the upstream in progress: found by the hash of its `state`, taken once.
CREATE TABLE upstream_logins (
    state_hash TEXT PRIMARY KEY,
    upstream TEXT NOT NULL,
    -- "login" (an interaction at the password stage) or "link" (a signed-in person linking).
    purpose TEXT NOT NULL,
    login_request_id TEXT,
    sub TEXT,
    sid TEXT,
    nonce TEXT NOT NULL,
    pkce_verifier TEXT NOT NULL,
    expires_at BIGINT NOT NULL
);
CREATE INDEX upstream_logins_expiry ON upstream_logins (expires_at);

-- An upstream identity linked to a person's account, only ever through an explicit step.
CREATE TABLE upstream_links (
    upstream TEXT NOT NULL,
    upstream_sub TEXT NOT NULL,
    sub TEXT NOT NULL REFERENCES accounts(sub),
    -- "self" (the person, with password and second factor) or "operator".
    linked_by TEXT NOT NULL,
    linked_at BIGINT NOT NULL,
    last_used_at BIGINT,
    PRIMARY KEY (upstream, upstream_sub),
    UNIQUE (upstream, sub)
);
CREATE INDEX upstream_links_sub ON upstream_links (sub);

-- An identity that signed in unlinked: its one-time code lets an operator link it after
-- checking the person (the code is all the operator is given; stored hashed).
CREATE TABLE upstream_link_codes (
    code_hash TEXT PRIMARY KEY,
    upstream TEXT NOT NULL,
    upstream_sub TEXT NOT NULL,
    -- What the upstream said about the person, for the operator to compare (JSON).
    claims TEXT NOT NULL,
    expires_at BIGINT NOT NULL
);
CREATE INDEX upstream_link_codes_expiry ON upstream_link_codes (expires_at);
