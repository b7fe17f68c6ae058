-- PostgreSQL's 0021 notifies other nodes of revocations (issue 16). SQLite is one node: its
-- storage layer moves the revocation epoch itself (storage/revocations.rs). This keeps the two
-- migration histories numbered alike.
CREATE TABLE IF NOT EXISTS mpsv_idp_schema_notes (id INTEGER PRIMARY KEY);
DROP TABLE mpsv_idp_schema_notes;
