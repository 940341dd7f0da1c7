-- A message's text was stored twice: as `content_text` (for search and display) and inside
-- `raw_json` (to rebuild the exact request). From now on the writer cuts a string `content` out of
-- `raw_json` when `content_text` written as a JSON string gives back exactly the bytes the client
-- sent, and records where it was cut; readers put it back (crate `stored-conversation`). NULL: the
-- message is whole in `raw_json` (rows written before this, or escaped differently by the client).
ALTER TABLE message_nodes ADD COLUMN content_offset INT NULL;
