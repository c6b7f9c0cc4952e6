-- Linked devices (docs/devices.md): every device has a mailbox of its own, named by its address (`alice` for device 1,
-- as every mailbox before this was, `alice/2` for device 2), and one send carries a copy per device under one client
-- id. So a resend is recognised per (sender device, client id, recipient device), not per (sender, client id).
DROP INDEX messages_by_client_id;
CREATE UNIQUE INDEX messages_by_client_id ON messages (sender, client_id, recipient);
