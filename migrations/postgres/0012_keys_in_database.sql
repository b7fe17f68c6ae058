-- Signing keys and the data key in the database (issue 12.1), so that every node uses the
-- same ones without a shared folder. The private parts are sealed with the key-encryption
-- key (KEK) that each node gets from its configuration and that is never stored here;
-- `kek_id` names the KEK that sealed a row (a KEK rotation re-seals rows under the new one).
-- `(alg, generation)` is unique: of two nodes creating the first key of an algorithm at the
-- same moment (or rotating at once) exactly one insert wins and the other reads the winner.
CREATE TABLE signing_keys (
    kid TEXT PRIMARY KEY,
    alg TEXT NOT NULL,
    generation BIGINT NOT NULL,
    created_at BIGINT NOT NULL,
    active_from BIGINT NOT NULL,
    public_jwk TEXT NOT NULL,
    private_key TEXT NOT NULL,
    kek_id TEXT NOT NULL,
    UNIQUE (alg, generation)
);

-- The one data key (seals TOTP secrets, keys recovery-code hashes), sealed with the KEK.
CREATE TABLE data_keys (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    sealed TEXT NOT NULL,
    kek_id TEXT NOT NULL,
    created_at BIGINT NOT NULL
);
