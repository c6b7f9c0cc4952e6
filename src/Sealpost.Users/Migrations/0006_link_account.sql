-- A link is bound to the account the new device names when it makes the link (security review L2): only that account
-- may fetch (reserve a device id for) or approve it. Links made before have none, and nobody can fetch them; they
-- expire within minutes.
ALTER TABLE links ADD COLUMN IF NOT EXISTS for_account_id uuid REFERENCES accounts (id);
