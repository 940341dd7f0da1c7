-- Text search moves from MySQL's full-text indexes to an index of our own (crate `search-index`),
-- written by the proxy's log writer in the same transaction as the rows it covers. InnoDB must find
-- every request holding a word before it returns the newest ten: 17-50 s for a word most requests
-- hold, at a million requests. These tables are read newest first and a search stops when it has
-- enough; they also cost the writer less than the two full-text indexes did.
--
-- Requests logged before this migration are indexed by the proxy in the background (its
-- `search_backfill`), newest first, from `search_backfill` below; until it gets to them a search
-- does not find them.

-- A batch of fewer than 500 requests (the default batch size), with its postings inline, until the
-- writer merges the recent batches into one block (a posting row per word for a handful of requests
-- would cost more than the requests). A search reads every row here.
CREATE TABLE search_recent (
    -- The newest request of the batch.
    block_id     BINARY(16)  NOT NULL PRIMARY KEY,
    -- The batch's request ids, 16 bytes each, newest first.
    request_ids  MEDIUMBLOB  NOT NULL,
    -- Per word: its hash, the length of its positions and the positions (crate `search-index`).
    postings     MEDIUMBLOB  NOT NULL
) ENGINE=InnoDB;

-- A block of at least 500 requests (a full batch, or recent batches merged): their ids, 16 bytes
-- each, newest first.
CREATE TABLE search_blocks (
    -- The newest request of the block; blocks are read in this order.
    block_id     BINARY(16)  NOT NULL PRIMARY KEY,
    request_ids  MEDIUMBLOB  NOT NULL
) ENGINE=InnoDB;

-- Which requests of a block hold a word: in a message they sent (one no earlier request of the chat
-- carried) or in their reply.
CREATE TABLE search_postings (
    -- 64-bit FNV-1a of the lowercased word.
    word_hash    BIGINT UNSIGNED NOT NULL,
    block_id     BINARY(16)  NOT NULL,
    -- Indexes into the block's request_ids, ascending, as LEB128 gaps.
    positions    BLOB        NOT NULL,
    PRIMARY KEY (word_hash, block_id)
) ENGINE=InnoDB;

ALTER TABLE requests DROP INDEX requests_reply_text;
ALTER TABLE message_nodes DROP INDEX message_nodes_text;

-- Where the proxy's backfill of requests logged before this migration has got to: it indexes the
-- requests with ids up to `up_to`, newest first, and deletes the row when none is left.
CREATE TABLE search_backfill (
    id     TINYINT     NOT NULL PRIMARY KEY,
    up_to  BINARY(16)  NOT NULL
) ENGINE=InnoDB;
INSERT INTO search_backfill (id, up_to) SELECT 1, MAX(id) FROM requests HAVING MAX(id) IS NOT NULL;
