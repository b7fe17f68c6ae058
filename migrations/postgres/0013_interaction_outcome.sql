-- Interactions (src/interaction): the organisation a finished one chose, read by
-- /authorize/resume; the stage column gains 'no_access' and 'done'.
ALTER TABLE login_requests ADD COLUMN organisation_id TEXT;
