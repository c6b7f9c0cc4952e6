-- Linked devices, step 3 (docs/devices.md): an account has devices, each with its own keys and sessions. Every
-- account so far becomes device 1, named "device 1", holding the keys it had; the account row no longer names a key.
CREATE TABLE devices (
    account_id uuid NOT NULL REFERENCES accounts (id),
    device_id  int NOT NULL CHECK (device_id >= 1),
    name       text NOT NULL CHECK (length(name) BETWEEN 1 AND 64),
    -- The device's current key in account_keys.
    key_id     int NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now(),
    -- A removed device keeps its row and its keys, so messages it sealed still verify; its id is never given again.
    removed_at timestamptz,
    PRIMARY KEY (account_id, device_id)
);
INSERT INTO devices (account_id, device_id, name, key_id, created_at)
SELECT id, 1, 'device 1', key_id, created_at FROM accounts;

-- Device ids are never reused within an account: the next one to give (to a link, which may never be approved).
ALTER TABLE accounts ADD COLUMN next_device_id int NOT NULL DEFAULT 2 CHECK (next_device_id >= 2);
-- The current key is the device's (devices.key_id); when it became current is its account_keys.created_at.
ALTER TABLE accounts DROP COLUMN key_id, DROP COLUMN key_changed_at;

-- Key ids count per device: a linked device starts at key id 1.
ALTER TABLE account_keys DROP CONSTRAINT account_keys_pkey;
ALTER TABLE account_keys ADD PRIMARY KEY (account_id, device_id, key_id);
ALTER TABLE account_keys ADD FOREIGN KEY (account_id, device_id) REFERENCES devices (account_id, device_id);

-- Every session so far was device 1's.
ALTER TABLE sessions ADD COLUMN device_id int NOT NULL DEFAULT 1;
ALTER TABLE sessions ADD FOREIGN KEY (account_id, device_id) REFERENCES devices (account_id, device_id);

-- A new device asking to join an account (docs/devices.md, "Linking a new device"): made anonymously with a name and
-- a key; an account that fetches it reserves the device id it will get; approved with the certificate and the sealed
-- link secret; used once the new device polled it. Only the poll token's SHA-256 is kept.
CREATE TABLE links (
    id            uuid PRIMARY KEY,
    poll_hash     bytea NOT NULL CHECK (length(poll_hash) = 32),
    device_name   text NOT NULL CHECK (length(device_name) BETWEEN 1 AND 64),
    public_key    bytea NOT NULL CHECK (length(public_key) = 32),
    created_at    timestamptz NOT NULL DEFAULT now(),
    expires_at    timestamptz NOT NULL,
    account_id    uuid REFERENCES accounts (id),
    device_id     int CHECK (device_id >= 2),
    certificate   bytea CHECK (length(certificate) = 64),
    sealed_secret bytea,
    approved_at   timestamptz,
    used_at       timestamptz,
    CHECK ((account_id IS NULL) = (device_id IS NULL))
);
CREATE INDEX links_by_expiry ON links (expires_at);
