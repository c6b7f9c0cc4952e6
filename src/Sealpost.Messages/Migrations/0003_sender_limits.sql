-- Per-sender limits (docs/security.md, item 10): how many messages each sender has had stored today (UTC), so one
-- account cannot fill mailboxes without end. One small row per sender and day, updated once per write batch (the
-- update is HOT: no index changes), pruned by the sweeper after a day. What waits per (recipient, sender) is counted
-- from the messages themselves, only when a mailbox is nearly at a sender's share.
CREATE TABLE sender_days (
    sender text NOT NULL,
    day date NOT NULL,
    stored integer NOT NULL,
    PRIMARY KEY (sender, day)
) WITH (fillfactor = 70);
