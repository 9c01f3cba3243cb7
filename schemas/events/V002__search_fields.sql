-- The fields of the events search index (mappings/events.json) that V001 lacks, so that
-- a search document can be built from the database alone (ticketctl.data.projection).
--
-- * city and category are what search filters on (keyword fields in the index); venue
--   stays venue_name. NULL for rows made before this version: the projection writes null,
--   which the index treats as a missing value.
-- * description is free text for the full-text search (TEXT: no index in the database).
-- * tags is a JSON array of strings. JSON is a native type on MySQL 8 and an alias of
--   LONGTEXT with a JSON_VALID check on MariaDB; both hand it to clients as text.
-- * No ADD COLUMN IF NOT EXISTS: MySQL 8 does not have it (MariaDB only). The migration
--   runner records each statement, so this file never runs twice on one database.
ALTER TABLE events
    ADD COLUMN city VARCHAR(100) NULL AFTER venue_name,
    ADD COLUMN category VARCHAR(50) NULL AFTER city,
    ADD COLUMN description TEXT NULL AFTER category,
    ADD COLUMN tags JSON NULL AFTER description;

-- The indexer applies the rows of one event in id order: before it applies a row it looks
-- for an earlier unprocessed row of the same event (held by another indexer). Without
-- this index that look-up scans every unprocessed row.
ALTER TABLE outbox_events ADD INDEX idx_aggregate_processed (aggregate_id, processed, id);
