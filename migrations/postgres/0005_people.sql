-- The MPSV domain (docs/domain.md): persons exist before their accounts (a consent is recorded
-- for a person who has no login yet), consents assign the MPSV client identifier, memberships,
-- statutory roles and submit delegations. Grants remember the organisation they act for.

CREATE TABLE persons (
    sub TEXT PRIMARY KEY,
    given_name TEXT NOT NULL,
    family_name TEXT NOT NULL,
    -- lower-case "given family", without diacritics: what searches compare against
    search_key TEXT NOT NULL,
    email TEXT,
    email_verified BIGINT NOT NULL,
    locale TEXT NOT NULL,
    -- assigned with the first consent; never cleared, never reused
    mpsv_client_id TEXT UNIQUE,
    created_by TEXT,
    created_at BIGINT NOT NULL
);
INSERT INTO persons (sub, given_name, family_name, search_key, email, email_verified, locale,
                     mpsv_client_id, created_by, created_at)
    SELECT sub, given_name, family_name, lower(given_name || ' ' || family_name), email,
           email_verified, locale, NULL, NULL, created_at
    FROM accounts;
CREATE INDEX persons_search ON persons(search_key);
CREATE INDEX persons_email ON persons(email);

ALTER TABLE accounts DROP COLUMN given_name;
ALTER TABLE accounts DROP COLUMN family_name;
ALTER TABLE accounts DROP COLUMN email;
ALTER TABLE accounts DROP COLUMN email_verified;
ALTER TABLE accounts DROP COLUMN locale;

-- One row: the next sequence number of the MPSV client identifier. It only grows.
CREATE TABLE mpsv_id_sequence (
    id BIGINT PRIMARY KEY CHECK (id = 1),
    next BIGINT NOT NULL
);
INSERT INTO mpsv_id_sequence (id, next) VALUES (1, 1);

CREATE TABLE consents (
    id TEXT PRIMARY KEY,
    person_sub TEXT NOT NULL REFERENCES persons(sub),
    organisation_id TEXT NOT NULL REFERENCES organisations(id),
    form TEXT NOT NULL,
    signed_on TEXT NOT NULL,
    received_on TEXT NOT NULL,
    reference TEXT NOT NULL,
    recorded_by TEXT NOT NULL,
    recorded_at BIGINT NOT NULL,
    withdrawn_at BIGINT,
    withdrawn_by TEXT,
    withdraw_reason TEXT
);
CREATE INDEX consents_person ON consents(person_sub);
CREATE INDEX consents_organisation ON consents(organisation_id);
-- At most one active consent per person, organisation and form.
CREATE UNIQUE INDEX consents_active ON consents(person_sub, organisation_id, form)
    WHERE withdrawn_at IS NULL;

CREATE TABLE memberships (
    person_sub TEXT NOT NULL REFERENCES persons(sub),
    organisation_id TEXT NOT NULL REFERENCES organisations(id),
    from_at BIGINT NOT NULL,
    until_at BIGINT,
    PRIMARY KEY (person_sub, organisation_id)
);
CREATE INDEX memberships_organisation ON memberships(organisation_id);

-- Periods in Unix seconds: from (inclusive) until (exclusive), so an end "now" is exact.
CREATE TABLE statutory_roles (
    id TEXT PRIMARY KEY,
    person_sub TEXT NOT NULL REFERENCES persons(sub),
    organisation_id TEXT NOT NULL REFERENCES organisations(id),
    from_at BIGINT NOT NULL,
    until_at BIGINT,
    recorded_by TEXT NOT NULL,
    recorded_at BIGINT NOT NULL,
    ended_by TEXT,
    end_reason TEXT,
    -- when the end's consequences (sessions, tokens, delegations) were carried out
    effects_applied_at BIGINT
);
CREATE INDEX statutory_roles_person ON statutory_roles(person_sub, organisation_id);
CREATE INDEX statutory_roles_organisation ON statutory_roles(organisation_id);

CREATE TABLE delegations (
    id TEXT PRIMARY KEY,
    organisation_id TEXT NOT NULL REFERENCES organisations(id),
    delegate_sub TEXT NOT NULL REFERENCES persons(sub),
    delegator_sub TEXT NOT NULL REFERENCES persons(sub),
    created_at BIGINT NOT NULL,
    created_by TEXT NOT NULL,
    revoked_at BIGINT,
    revoked_by TEXT,
    revoke_reason TEXT
);
CREATE INDEX delegations_delegate ON delegations(delegate_sub, organisation_id);
CREATE INDEX delegations_organisation ON delegations(organisation_id);
CREATE UNIQUE INDEX delegations_active ON delegations(organisation_id, delegate_sub, delegator_sub)
    WHERE revoked_at IS NULL;

-- Credentials letters issued (the PDF itself is not kept: it carries a password).
CREATE TABLE letters (
    reference TEXT PRIMARY KEY,
    person_sub TEXT NOT NULL REFERENCES persons(sub),
    organisation_id TEXT NOT NULL REFERENCES organisations(id),
    issued_by TEXT NOT NULL,
    issued_at BIGINT NOT NULL,
    password_expires_at BIGINT NOT NULL
);
CREATE INDEX letters_person ON letters(person_sub);

-- The organisation a grant acts for (NULL: not an application client, or no organisation).
ALTER TABLE authorization_codes ADD COLUMN organisation_id TEXT;
ALTER TABLE token_families ADD COLUMN organisation_id TEXT;
CREATE INDEX token_families_sub ON token_families(sub, organisation_id);
-- The SSO session's current organisation, and the one chosen per client.
ALTER TABLE sessions ADD COLUMN organisation_id TEXT;
ALTER TABLE session_clients ADD COLUMN organisation_id TEXT;
ALTER TABLE accounts ADD FOREIGN KEY (sub) REFERENCES persons(sub);
