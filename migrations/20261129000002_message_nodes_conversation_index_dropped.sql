-- No query looks nodes up by conversation and position any more: the text search's backfill walks
-- each request's chain from its last message by id, as the admin API does. The index cost every new
-- message an insert at a random place of a B-tree keyed by a 32-byte hash (BENCHMARKS.md, "What each
-- optimisation bought"). The column stays: it marks the messages from the first user message on,
-- which are the ones the text search credits.
ALTER TABLE message_nodes DROP INDEX message_nodes_conversation;
