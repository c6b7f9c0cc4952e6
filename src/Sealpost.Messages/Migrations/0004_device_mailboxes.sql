-- Linked devices (docs/devices.md): every device has a mailbox of its own, named by its address (`alice` for device 1,
-- as every mailbox before this was, `alice/2` for device 2), and one send carries a copy per device under one client
-- id. So a resend is recognised per (recipient device, sender device, client id), not per (sender, client id). The
-- recipient leads, as in the primary key: the per-sender share of a mailbox is counted on this index's prefix.
DROP INDEX messages_by_client_id;
CREATE UNIQUE INDEX messages_by_client_id ON messages (recipient, sender, client_id);
