-- Mailbox version 2: what a message costs to store, cut down (docs/decisions.md, "The delivery core").
-- Most messages are never written at all now (the recipient acknowledges before the write is due); those that are
-- cost one row in one table: the primary key serves mailbox reads and acks, a unique index keeps resends
-- idempotent while the message waits, and a BRIN index (a few pages for the whole table) serves expiry.
-- Rows written by version 1 stay readable: they keep their ids and get no client id.
DROP TABLE send_log;
ALTER TABLE messages ADD COLUMN client_id uuid;
ALTER TABLE messages DROP CONSTRAINT messages_pkey;
DROP INDEX messages_by_recipient;
DROP INDEX messages_by_expiry;
-- Expiry is sent_at + Mailboxes:MessageLifetime, as expires_at always was.
ALTER TABLE messages DROP COLUMN expires_at;
ALTER TABLE messages ADD CONSTRAINT messages_pkey PRIMARY KEY (recipient, id);
CREATE UNIQUE INDEX messages_by_client_id ON messages (sender, client_id);
CREATE INDEX messages_by_age ON messages USING brin (sent_at);
