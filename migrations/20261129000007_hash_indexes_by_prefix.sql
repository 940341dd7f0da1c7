-- The two indexes of random 32-byte hashes the log writer inserts into, by a prefix of each hash:
-- as their tables outgrow InnoDB's buffer pool, every insert into them costs a page read and a page
-- write, so the fewer bytes they take the longer they stay in memory (BENCHMARKS.md, "The log
-- writer as its tables grow").
--
-- A node's id is SHA-256, so its first 16 bytes are as unique as any id needs to be: two different
-- messages would share them once in ~2^64 nodes, and nobody can make a message share them with a
-- given other one (that would take ~2^128 tries). The index stays unique, so a node is still stored
-- once; MySQL compares the whole id from the row on every lookup. Entries: 29 bytes instead of 45.
ALTER TABLE message_nodes
    DROP INDEX message_nodes_id,
    ADD UNIQUE KEY message_nodes_id (id(16));

-- Only the costliest-conversations report looks requests up by conversation, and it reads each
-- row anyway: 8 bytes of the id find them (a shared prefix only adds a row MySQL then discards).
-- The message count and start time the index also held went unused. Entries: 29 bytes instead of 65.
ALTER TABLE requests
    DROP INDEX requests_conversation,
    ADD KEY requests_conversation (conversation_id(8));
