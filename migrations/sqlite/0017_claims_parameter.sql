-- The claims request parameter (OIDC Core §5.5): the individual claims an authorization
-- request asked for, kept with its code and its token family (ID tokens at refresh, userinfo).
ALTER TABLE authorization_codes ADD COLUMN claims TEXT;
ALTER TABLE token_families ADD COLUMN claims TEXT;
