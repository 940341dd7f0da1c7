-- A message text of 512 bytes or more is stored deflated, in MySQL's `COMPRESS()` layout, in
-- `content_compressed`, with `content_text` NULL (crate `stored-conversation`). Coding agents send
-- kilobytes of source code and command output per turn, and these texts were most of what the log
-- kept. Readers take `content_text`, else the inflated `content_compressed`; in SQL:
-- `COALESCE(content_text, CONVERT(UNCOMPRESS(content_compressed) USING utf8mb4))`.
-- Rows written before this keep their text in `content_text`.
ALTER TABLE message_nodes ADD COLUMN content_compressed LONGBLOB NULL;
