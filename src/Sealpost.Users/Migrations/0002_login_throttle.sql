-- Failed logins per attempted username (known or not, so throttling does not reveal which names exist).
CREATE TABLE login_failures (
    username      text PRIMARY KEY,
    failures      int NOT NULL,
    last_failure  timestamptz NOT NULL,
    blocked_until timestamptz NOT NULL
);
CREATE INDEX login_failures_by_time ON login_failures (last_failure);
