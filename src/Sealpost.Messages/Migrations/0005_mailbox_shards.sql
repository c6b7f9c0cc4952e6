-- Sharded mailboxes (docs/decisions.md): mailboxes are spread over 64 virtual shards by recipient device, and this
-- table says which shards this database holds. Every mailbox write checks it in the same statement, so a shard that is
-- being moved away ('moving') or has gone ('gone') takes no new rows here; reads check it in the same round trip. The
-- service claims the shards its configuration gives this database when the table is empty (the first start); after
-- that only a shard move (scripts/cluster move-shards) changes it.
CREATE TABLE mailbox_shards (
    shard smallint PRIMARY KEY CHECK (shard >= 0 AND shard < 64),
    state text NOT NULL CHECK (state IN ('owned', 'moving', 'gone'))
);

-- The shard of a device address: the first four bytes of SHA-256 of its UTF-8, big-endian, modulo 64 (the same as
-- MailboxShards.Of in the service). Used by shard moves to select a shard's rows.
CREATE FUNCTION mailbox_shard(recipient text) RETURNS int LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE AS $$
    SELECT ((get_byte(h, 0)::bigint << 24 | get_byte(h, 1)::bigint << 16 | get_byte(h, 2)::bigint << 8 | get_byte(h, 3)::bigint) % 64)::int
    FROM (SELECT sha256(convert_to(recipient, 'UTF8')) AS h) AS hashed
$$;
