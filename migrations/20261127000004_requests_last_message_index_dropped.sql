-- No query looks a request up by its last message: the admin API reads `last_message_id` from the
-- row it has and walks `message_nodes` from there. Its index cost every logged request an insert
-- at a random place of a B-tree keyed by a 32-byte hash (BENCHMARKS.md, "What each optimisation
-- bought"), for nothing.
ALTER TABLE requests DROP INDEX requests_last_message;
