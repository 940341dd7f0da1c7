-- A message's `raw_json` (the message as sent, its text cut out) of 512 bytes or more is stored
-- deflated, in MySQL's `COMPRESS()` layout, in `raw_compressed`, with `raw_json` empty (crate
-- `stored-conversation`). What is left of a message besides its text can be kilobytes: an assistant
-- message's tool calls with a whole file as arguments, or what a client keeps beside the message
-- (mini-swe-agent sends the provider's whole response back with each assistant message). Readers
-- take `raw_compressed` inflated when it is set, else `raw_json`; in SQL:
-- `IF(raw_compressed IS NULL, raw_json, UNCOMPRESS(raw_compressed))`.
-- Rows written before this keep `raw_json` whole.
ALTER TABLE message_nodes ADD COLUMN raw_compressed LONGBLOB NULL;
