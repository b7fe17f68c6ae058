-- Recovery codes are now stored as keyed, per-account HMAC-SHA256 hashes (issue 11.7). The old
-- unsalted SHA-256 hashes cannot be converted (the codes themselves are not known), so they are
-- removed: the people concerned keep their authenticator app and the account page shows that no
-- recovery codes are left, offering a new set.
DELETE FROM recovery_codes;
