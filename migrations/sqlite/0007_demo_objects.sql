-- What `serve --demo` created (issue 11.3), so that demo data can be listed and removed
-- (`mpsv-idp demo list | remove`) and a real registration is never taken for a demo one.
-- kind: client | organisation | person (a person's account, consents, roles go with it).
CREATE TABLE demo_objects (
    kind TEXT NOT NULL,
    id TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    PRIMARY KEY (kind, id)
);
