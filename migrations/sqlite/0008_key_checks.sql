-- A value sealed with the data key (data.key) by the first node that started (issue 11.16):
-- every node opens it at start and refuses to run with a key that cannot, instead of sealing
-- new TOTP secrets that the other nodes could not read.
CREATE TABLE key_checks (
    name TEXT PRIMARY KEY,
    sealed TEXT NOT NULL
);
