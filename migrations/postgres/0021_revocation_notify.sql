-- Nodes remember that an access token was not revoked (issue 16, storage/revocations.rs) and
-- must forget it when any node revokes one: the revoking transaction notifies every listening
-- node at its commit, whichever node or process wrote the row. The payload is the token's
-- `jti`, so that the revoking node can wait for its own notification.
CREATE FUNCTION mpsv_idp_notify_revocation() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('mpsv_idp_revocations', NEW.jti);
    RETURN NULL;
END
$$;

CREATE TRIGGER revoked_tokens_notify
    AFTER INSERT ON revoked_tokens
    FOR EACH ROW EXECUTE FUNCTION mpsv_idp_notify_revocation();
