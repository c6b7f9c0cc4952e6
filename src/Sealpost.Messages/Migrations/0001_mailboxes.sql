-- Undelivered ciphertext. A row lives from `accepted` until the recipient's ack (or expiry).
-- Ids are UUIDv7, so ordering by id is oldest first.
CREATE TABLE messages (
    id         uuid PRIMARY KEY,
    recipient  text NOT NULL,
    sender     text NOT NULL,
    body       bytea NOT NULL,
    sent_at    timestamptz NOT NULL,
    expires_at timestamptz NOT NULL
);
-- "Oldest messages of recipient X" is an index range scan.
CREATE INDEX messages_by_recipient ON messages (recipient, id);
-- Expiry deletes from the front of this index in small batches.
CREATE INDEX messages_by_expiry ON messages (expires_at);

-- Every accepted (sender, client id) and the message id it got, kept past the ack, so a re-sent `send`
-- yields the same message id and no second copy even after the first was delivered and deleted.
CREATE TABLE send_log (
    sender     text NOT NULL,
    client_id  uuid NOT NULL,
    message_id uuid NOT NULL,
    sent_at    timestamptz NOT NULL,
    PRIMARY KEY (sender, client_id)
);
CREATE INDEX send_log_by_time ON send_log (sent_at);
