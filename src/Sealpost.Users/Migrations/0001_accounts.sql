-- Accounts are never reused: a deleted account keeps its row (a tombstone) so its name cannot be taken
-- by someone else, who would then receive messages meant for the old owner.
CREATE TABLE accounts (
    id             uuid PRIMARY KEY,
    username       text NOT NULL UNIQUE CHECK (username ~ '^[a-z0-9_]{3,32}$'),
    display_name   text CHECK (length(display_name) <= 64),
    password_hash  text,
    key_id         int NOT NULL,
    key_changed_at timestamptz NOT NULL,
    created_at     timestamptz NOT NULL DEFAULT now(),
    deleted_at     timestamptz
);

-- Every public key an account has had, so a message sealed before a rotation can still be verified.
CREATE TABLE account_keys (
    account_id uuid NOT NULL REFERENCES accounts (id),
    key_id     int NOT NULL,
    public_key bytea NOT NULL CHECK (length(public_key) = 32),
    created_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (account_id, key_id)
);

-- A login: the refresh token is stored only as its SHA-256; the previous one is kept to detect replay.
CREATE TABLE sessions (
    id            uuid PRIMARY KEY,
    account_id    uuid NOT NULL REFERENCES accounts (id),
    refresh_hash  bytea NOT NULL UNIQUE,
    previous_hash bytea,
    created_at    timestamptz NOT NULL DEFAULT now(),
    expires_at    timestamptz NOT NULL,
    revoked_at    timestamptz
);
CREATE INDEX sessions_live_by_account ON sessions (account_id) WHERE revoked_at IS NULL;
CREATE INDEX sessions_previous_hash ON sessions (previous_hash) WHERE previous_hash IS NOT NULL;
