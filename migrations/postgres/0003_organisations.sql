-- Organisations (MPSV domain): identified by IČO; the flags decide which applications their
-- people may use (see docs/domain.md).
CREATE TABLE organisations (
    id TEXT PRIMARY KEY,
    ico TEXT NOT NULL UNIQUE,
    name TEXT NOT NULL,
    -- lower-case, without diacritics: what searches compare against
    search_key TEXT NOT NULL,
    legal_form TEXT NOT NULL,
    seat_street TEXT NOT NULL,
    seat_city TEXT NOT NULL,
    seat_postcode TEXT NOT NULL,
    social_service_provider BIGINT NOT NULL,
    nno_family_support BIGINT NOT NULL,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);
