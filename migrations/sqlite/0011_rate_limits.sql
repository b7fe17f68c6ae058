-- Rate-limit counters shared by every node (issue 12.3): one row per purpose and key (a client
-- address or an account) and minute; incremented atomically, purged after two minutes.
CREATE TABLE rate_limits (
    bucket TEXT NOT NULL,
    window_start INTEGER NOT NULL,
    hits INTEGER NOT NULL,
    PRIMARY KEY (bucket, window_start)
);
