-- A customer's profile beyond the account (issue 14; the seed's "user profiles"
-- service): a phone number for the store to call, notes they reuse on orders,
-- and favourite items (JSON arrays). The name stays on `users`.
CREATE TABLE customer_profiles (
    user_id      TEXT PRIMARY KEY REFERENCES users (id),
    phone        TEXT,
    saved_notes  TEXT NOT NULL DEFAULT '[]',
    favourites   TEXT NOT NULL DEFAULT '[]',
    updated_at   BIGINT NOT NULL
);
