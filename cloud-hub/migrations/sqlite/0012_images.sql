-- Menu pictures (issue 15): uploaded by merchants from the dashboard, named by
-- the SHA-256 of their bytes, served at /api/v1/public/images/<sha256>.<ext>
-- to browsers and to the store nodes that keep a copy for their kiosks. One
-- row per distinct picture: the same bytes uploaded again, or by another
-- store, are kept once. At most 2 MiB each (the upload limit).
CREATE TABLE images (
    sha256        TEXT PRIMARY KEY,
    content_type  TEXT NOT NULL,
    bytes         BLOB NOT NULL,
    size          BIGINT NOT NULL,
    width         BIGINT NOT NULL,
    height        BIGINT NOT NULL,
    created_at    BIGINT NOT NULL
);

-- Which store uploaded which picture, first when: for a per-store quota or a
-- clean-up of pictures no menu names any more.
CREATE TABLE store_images (
    store_id    TEXT NOT NULL REFERENCES stores (id),
    sha256      TEXT NOT NULL REFERENCES images (sha256),
    created_at  BIGINT NOT NULL,
    PRIMARY KEY (store_id, sha256)
);
