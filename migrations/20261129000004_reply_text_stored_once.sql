-- A reply's text was stored twice: as `reply_text` (for search and display) and inside
-- `response_json` (the upstream's raw reply, or the object a stream was assembled into). From now
-- on the writer cuts the text, written as a JSON string, out of `response_json` when it finds it
-- there byte for byte, and records where it was cut; the admin API puts it back (crate
-- `stored-conversation`). NULL: `response_json` is whole (rows written before this, short replies,
-- or an upstream that escapes otherwise). Added last, so that MariaDB adds it without rebuilding
-- the table.
ALTER TABLE requests ADD COLUMN response_reply_offset INT UNSIGNED NULL;
