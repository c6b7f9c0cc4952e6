-- The throttle counts failures per subject: an attempted username, or '@' and a client address (a per-address
-- budget across every name). A username cannot contain '@', so the two never collide.
ALTER TABLE login_failures RENAME COLUMN username TO subject;
