-- Linked devices, step 2 (docs/devices.md): an account's Ed25519 identity key, set once by the account's client, and
-- for every key the identity key's certificate (absent for keys made before the account had an identity). Every key so
-- far belongs to device 1; later devices get rows of their own here.
ALTER TABLE accounts ADD COLUMN identity_key bytea CHECK (length(identity_key) = 32);
ALTER TABLE account_keys ADD COLUMN device_id int NOT NULL DEFAULT 1 CHECK (device_id >= 1);
ALTER TABLE account_keys ADD COLUMN certificate bytea CHECK (length(certificate) = 64);
