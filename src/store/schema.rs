//! The database schema as ordered migrations. Each runs once, in its own transaction,
//! and `PRAGMA user_version` records how many have run. Never edit a migration that has
//! shipped: add a new one.

/// The migrations, in order; `user_version` N means the first N have run.
pub const MIGRATIONS: &[&str] = &[
    // 1: feeds, stories, hits, the alert outbox.
    r#"
    CREATE TABLE feeds (
        id                 INTEGER PRIMARY KEY,
        url                TEXT NOT NULL UNIQUE,
        name               TEXT,
        title              TEXT,
        etag               TEXT,
        last_modified      TEXT,
        status             TEXT NOT NULL DEFAULT 'new'
                           CHECK (status IN ('new', 'ok', 'not_modified', 'error', 'gone')),
        last_error         TEXT,
        last_fetch         INTEGER,
        last_success       INTEGER,
        failing_since      INTEGER,
        next_due           INTEGER NOT NULL DEFAULT 0,
        consecutive_errors INTEGER NOT NULL DEFAULT 0,
        encoding           TEXT,
        repairs            TEXT,
        moved_to           TEXT
    );

    CREATE TABLE stories (
        id           INTEGER PRIMARY KEY,
        feed_id      INTEGER NOT NULL REFERENCES feeds (id) ON DELETE CASCADE,
        identity     TEXT NOT NULL,
        link         TEXT,
        title        TEXT NOT NULL DEFAULT '',
        summary      TEXT NOT NULL DEFAULT '',
        content      TEXT NOT NULL DEFAULT '',
        authors      TEXT NOT NULL DEFAULT '',
        categories   TEXT NOT NULL DEFAULT '',
        published    INTEGER,
        updated      INTEGER,
        first_seen   INTEGER NOT NULL,
        content_hash TEXT NOT NULL,
        -- 1 once retention has dropped the text; the row stays so the story is never new again.
        pruned       INTEGER NOT NULL DEFAULT 0,
        UNIQUE (feed_id, identity)
    );
    -- The same canonical link is the same story, whichever feed carries it.
    CREATE UNIQUE INDEX stories_by_link ON stories (link) WHERE link IS NOT NULL;
    CREATE INDEX stories_by_first_seen ON stories (first_seen);

    CREATE TABLE hits (
        id          INTEGER PRIMARY KEY,
        story_id    INTEGER NOT NULL REFERENCES stories (id) ON DELETE CASCADE,
        rule        TEXT NOT NULL,
        spans       TEXT NOT NULL,
        detected_at INTEGER NOT NULL,
        -- A rule hits a story once, however often the story is updated.
        UNIQUE (story_id, rule)
    );
    CREATE INDEX hits_by_time ON hits (detected_at);

    CREATE TABLE outbox (
        id           INTEGER PRIMARY KEY,
        alert_id     TEXT NOT NULL UNIQUE,
        story_id     INTEGER NOT NULL REFERENCES stories (id) ON DELETE CASCADE,
        channel      TEXT NOT NULL,
        rules        TEXT NOT NULL,
        state        TEXT NOT NULL DEFAULT 'pending'
                     CHECK (state IN ('pending', 'sent', 'failed', 'dead')),
        attempts     INTEGER NOT NULL DEFAULT 0,
        next_attempt INTEGER NOT NULL,
        last_error   TEXT,
        created      INTEGER NOT NULL,
        sent_at      INTEGER
    );
    CREATE INDEX outbox_due ON outbox (state, next_attempt);
    CREATE INDEX outbox_by_story ON outbox (story_id);
    "#,
    // 2: feed-health notices.
    r#"
    ALTER TABLE feeds ADD COLUMN stale_notified INTEGER NOT NULL DEFAULT 0;

    CREATE TABLE notices (
        id           INTEGER PRIMARY KEY,
        notice_id    TEXT NOT NULL UNIQUE,
        channel      TEXT NOT NULL,
        feed_id      INTEGER NOT NULL REFERENCES feeds (id) ON DELETE CASCADE,
        kind         TEXT NOT NULL CHECK (kind IN ('stale', 'recovered')),
        message      TEXT NOT NULL,
        state        TEXT NOT NULL DEFAULT 'pending'
                     CHECK (state IN ('pending', 'sent', 'failed', 'dead')),
        attempts     INTEGER NOT NULL DEFAULT 0,
        next_attempt INTEGER NOT NULL,
        last_error   TEXT,
        created      INTEGER NOT NULL,
        sent_at      INTEGER
    );
    CREATE INDEX notices_due ON notices (state, next_attempt);
    "#,
    // 3: the hash of the last body ingested per feed, so that a byte-identical body is
    // not parsed and matched again.
    r#"
    ALTER TABLE feeds ADD COLUMN body_hash TEXT;
    "#,
    // 4: feeds often repeat a story's summary as its content; such a story keeps the
    // text once, with `content` empty and this flag saying to read the summary there.
    r#"
    ALTER TABLE stories ADD COLUMN content_is_summary INTEGER NOT NULL DEFAULT 0;
    "#,
    // 5: what tells an operator a feed may be missing stories — fetches that found every
    // entry new (`Store::ingest`), how many and the last one's time, and when the feed
    // last brought a new story; when a feed last listed a story retention had pruned,
    // whose row (which keeps it from being new again) is deleted only once no feed has
    // listed it for a while; the interval the daemon last ran a feed at, so that a
    // shorter one in the config applies at once (`Store::apply_intervals`); and notices
    // of possible gaps to the health channels (SQLite cannot change a CHECK constraint:
    // the table is built anew).
    r#"
    ALTER TABLE feeds ADD COLUMN possible_gaps INTEGER NOT NULL DEFAULT 0;
    ALTER TABLE feeds ADD COLUMN last_possible_gap INTEGER;
    ALTER TABLE feeds ADD COLUMN newest_story INTEGER;
    UPDATE feeds SET newest_story = (SELECT MAX(first_seen) FROM stories WHERE feed_id = feeds.id);
    ALTER TABLE stories ADD COLUMN last_listed INTEGER;
    ALTER TABLE feeds ADD COLUMN interval INTEGER;

    CREATE TABLE notices_5 (
        id           INTEGER PRIMARY KEY,
        notice_id    TEXT NOT NULL UNIQUE,
        channel      TEXT NOT NULL,
        feed_id      INTEGER NOT NULL REFERENCES feeds (id) ON DELETE CASCADE,
        kind         TEXT NOT NULL CHECK (kind IN ('stale', 'recovered', 'possible_gap')),
        message      TEXT NOT NULL,
        state        TEXT NOT NULL DEFAULT 'pending'
                     CHECK (state IN ('pending', 'sent', 'failed', 'dead')),
        attempts     INTEGER NOT NULL DEFAULT 0,
        next_attempt INTEGER NOT NULL,
        last_error   TEXT,
        created      INTEGER NOT NULL,
        sent_at      INTEGER
    );
    INSERT INTO notices_5 SELECT * FROM notices;
    DROP TABLE notices;
    ALTER TABLE notices_5 RENAME TO notices;
    CREATE INDEX notices_due ON notices (state, next_attempt);
    "#,
    // 6: the health of the alert channels. A channel has a row while its deliveries
    // fail — since when, the last error, whether the health channels were told, and
    // when it delivered again after that — and notices may be about a channel instead
    // of a feed (`about_channel`), or tell of a feed that answered 410 Gone; so the
    // table is built anew once more. And articles of one feed that share a link (a
    // feed linking every entry to its front page) are stories of their own: such a
    // story is marked `shared_link`, and the link's UNIQUE index leaves it out.
    r#"
    ALTER TABLE stories ADD COLUMN shared_link INTEGER NOT NULL DEFAULT 0;
    DROP INDEX stories_by_link;
    CREATE UNIQUE INDEX stories_by_link ON stories (link) WHERE link IS NOT NULL AND shared_link = 0;

    CREATE TABLE channel_health (
        channel       TEXT PRIMARY KEY,
        failing_since INTEGER NOT NULL,
        last_error    TEXT NOT NULL,
        notified      INTEGER NOT NULL DEFAULT 0,
        recovered     INTEGER
    ) WITHOUT ROWID;

    CREATE TABLE notices_6 (
        id            INTEGER PRIMARY KEY,
        notice_id     TEXT NOT NULL UNIQUE,
        channel       TEXT NOT NULL,
        feed_id       INTEGER REFERENCES feeds (id) ON DELETE CASCADE,
        about_channel TEXT,
        kind          TEXT NOT NULL CHECK (kind IN ('stale', 'recovered', 'possible_gap', 'gone',
                                                    'channel_failing', 'channel_recovered')),
        message       TEXT NOT NULL,
        state         TEXT NOT NULL DEFAULT 'pending'
                      CHECK (state IN ('pending', 'sent', 'failed', 'dead')),
        attempts      INTEGER NOT NULL DEFAULT 0,
        next_attempt  INTEGER NOT NULL,
        last_error    TEXT,
        created       INTEGER NOT NULL,
        sent_at       INTEGER,
        CHECK ((feed_id IS NULL) <> (about_channel IS NULL))
    );
    INSERT INTO notices_6 (id, notice_id, channel, feed_id, kind, message, state, attempts,
                           next_attempt, last_error, created, sent_at)
        SELECT id, notice_id, channel, feed_id, kind, message, state, attempts,
               next_attempt, last_error, created, sent_at FROM notices;
    DROP TABLE notices;
    ALTER TABLE notices_6 RENAME TO notices;
    CREATE INDEX notices_due ON notices (state, next_attempt);
    "#,
    // 7: which rules the stored stories have been matched against, by what they match
    // (query and feeds, not name): a rule added or changed is matched against the
    // stories of the last `[alerts] replay` once, and recorded here.
    r#"
    CREATE TABLE rules_applied (
        fingerprint TEXT PRIMARY KEY,
        rule        TEXT NOT NULL,
        applied     INTEGER NOT NULL
    ) WITHOUT ROWID;
    "#,
    // 8: the stories that share a link with another article (`shared_link`), found by
    // that link: whether a link is shared, and which of its articles has a title, are
    // asked whenever an entry is found under another title.
    r#"
    CREATE INDEX stories_sharing_a_link ON stories (link) WHERE shared_link = 1;
    "#,
    // 9: whether a failing feed's server was never reached (DNS, connection, timeout):
    // a daemon starting during an outage of its own network finds it from these. Rows
    // failing already are marked from their stored messages, which begin with the kind.
    r#"
    ALTER TABLE feeds ADD COLUMN unreachable INTEGER NOT NULL DEFAULT 0;
    UPDATE feeds SET unreachable = 1
     WHERE status = 'error'
       AND (last_error LIKE 'DNS lookup failed: %' OR last_error LIKE 'connection failed: %'
            OR last_error LIKE 'timed out after %');
    "#,
    // 10: when a feed last sent a whole body (so that a server answering 304 for a day
    // is asked once without validators), and whether its validators are no longer sent
    // (its server answered 304 while the feed had changed). Rows start from their last
    // fetch, so an upgraded database does not ask every feed at once.
    r#"
    ALTER TABLE feeds ADD COLUMN body_at INTEGER;
    ALTER TABLE feeds ADD COLUMN validators_ignored INTEGER NOT NULL DEFAULT 0;
    UPDATE feeds SET body_at = last_fetch;
    "#,
    // 11: feeds that answer but bring nothing new (`[fetch] quiet_after`): when a feed
    // first answered (what a feed that never listed a story is quiet since; rows start
    // from their last success), whether the health channels were told, and `quiet`
    // notices (the notices table is built anew for its CHECK constraint).
    r#"
    ALTER TABLE feeds ADD COLUMN first_success INTEGER;
    ALTER TABLE feeds ADD COLUMN quiet_notified INTEGER NOT NULL DEFAULT 0;
    UPDATE feeds SET first_success = last_success;

    CREATE TABLE notices_11 (
        id            INTEGER PRIMARY KEY,
        notice_id     TEXT NOT NULL UNIQUE,
        channel       TEXT NOT NULL,
        feed_id       INTEGER REFERENCES feeds (id) ON DELETE CASCADE,
        about_channel TEXT,
        kind          TEXT NOT NULL CHECK (kind IN ('stale', 'recovered', 'possible_gap', 'gone',
                                                    'quiet', 'channel_failing',
                                                    'channel_recovered')),
        message       TEXT NOT NULL,
        state         TEXT NOT NULL DEFAULT 'pending'
                      CHECK (state IN ('pending', 'sent', 'failed', 'dead')),
        attempts      INTEGER NOT NULL DEFAULT 0,
        next_attempt  INTEGER NOT NULL,
        last_error    TEXT,
        created       INTEGER NOT NULL,
        sent_at       INTEGER,
        CHECK ((feed_id IS NULL) <> (about_channel IS NULL))
    );
    INSERT INTO notices_11 (id, notice_id, channel, feed_id, about_channel, kind, message, state,
                            attempts, next_attempt, last_error, created, sent_at)
        SELECT id, notice_id, channel, feed_id, about_channel, kind, message, state, attempts,
               next_attempt, last_error, created, sent_at FROM notices;
    DROP TABLE notices;
    ALTER TABLE notices_11 RENAME TO notices;
    CREATE INDEX notices_due ON notices (state, next_attempt);
    "#,
    // 12: a feed's stories by publication time, to find one the feed lists under a new
    // guid and address by its title and time (`stories::under_its_name_and_date`).
    r#"
    CREATE INDEX stories_by_feed_and_date ON stories (feed_id, published)
        WHERE published IS NOT NULL;
    "#,
    // 13: feeds by the address they moved to, for a feed new to the config that is one
    // of them (`feeds::sync_feeds`); without it each new URL scanned every feed's row.
    r#"
    CREATE INDEX feeds_by_moved_to ON feeds (moved_to) WHERE moved_to IS NOT NULL;
    "#,
    // 14: a channel's alerts still owed, in the order they were queued, for a delivery
    // round that reads them a chunk at a time (`outbox::due_alerts`); through
    // `outbox_due` each read sorted every due row, stories' text included.
    r#"
    CREATE INDEX outbox_owed ON outbox (channel, id) WHERE state IN ('pending', 'failed');
    "#,
    // 15: a random value of this database's own, which every alert id from now on is
    // derived from besides its story's row id: ids counted from 1 again in a new database
    // (or in another newshound's) would repeat earlier alerts' Message-IDs and
    // webhook-ids, and mail systems and receivers drop a message whose id they have seen.
    // Alerts already queued keep the ids they were written with.
    r#"
    CREATE TABLE instance (
        id   INTEGER PRIMARY KEY CHECK (id = 1),
        salt TEXT NOT NULL
    );
    INSERT INTO instance (id, salt) VALUES (1, lower(hex(randomblob(16))));
    "#,
];
