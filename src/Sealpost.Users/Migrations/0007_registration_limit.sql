-- Registrations per client address (the same '@address' or '@prefix/64' subjects as login_failures), counted in a
-- window that starts with the first registration after the last window ended: the service's own limit, which holds
-- whatever path a request took to reach an instance (security review H1).
CREATE TABLE registrations_by_address (
    subject       text PRIMARY KEY,
    window_start  timestamptz NOT NULL,
    registrations int NOT NULL
);
CREATE INDEX registrations_by_address_by_time ON registrations_by_address (window_start);
