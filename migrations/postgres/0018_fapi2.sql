-- The FAPI 2.0 Security Profile as a client setting: PAR, PKCE, private_key_jwt and DPoP
-- (each also a column of its own) and authorization codes of at most a minute.
ALTER TABLE clients ADD COLUMN fapi2 BIGINT NOT NULL DEFAULT 0;
