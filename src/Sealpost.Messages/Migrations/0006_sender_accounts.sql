-- Sender limits per account (security review M2, docs/decisions.md 85): a sender's share of a mailbox and its stored
-- messages a day count every device of the sending account together, so more devices (or linking and removing them
-- over and over) buy no more. A message's sender stays its device address ('alice', 'alice/2'); the account is the part
-- before '/'.
-- The sender compares bytewise from now on, so an account's devices stand next to each other in messages_by_client_id
-- (under a language's collation '/' may be ignored, and 'alice/2' sort among 'alice1', 'alice3'): a share is one range
-- of the index, [account, account || '0'). Equality is unchanged (it was bytewise already); the index is rebuilt.
ALTER TABLE messages ALTER COLUMN sender TYPE text COLLATE "C";
-- sender_days is keyed by account from now on; today's and yesterday's rows of linked devices join their account's.
INSERT INTO sender_days (sender, day, stored)
SELECT split_part(sender, '/', 1), day, sum(stored) FROM sender_days WHERE strpos(sender, '/') > 0 GROUP BY 1, 2
ON CONFLICT (sender, day) DO UPDATE SET stored = sender_days.stored + excluded.stored;
DELETE FROM sender_days WHERE strpos(sender, '/') > 0;
