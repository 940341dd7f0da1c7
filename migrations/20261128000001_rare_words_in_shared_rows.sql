-- A full block's words that find a single request of the block (most of its words: typically half
-- of its posting rows) move out of `search_postings`, where each was a row of its own for one
-- position, into shared rows: one per block and bucket of word hashes (one of 256, from the hash), each
-- holding its words' postings in the layout of `search_recent.postings` (crate `search-index`,
-- `rare_words`). A search for a word reads its own posting rows and its bucket's shared rows. Blocks
-- written before this migration keep all their words in `search_postings`, which is still read.
CREATE TABLE search_rare_postings (
    bucket       TINYINT UNSIGNED NOT NULL,
    -- The block (`search_blocks.block_id`).
    block_id     BINARY(16)  NOT NULL,
    -- Per word: its hash, the length of its positions and the positions.
    postings     MEDIUMBLOB  NOT NULL,
    PRIMARY KEY (bucket, block_id)
) ENGINE=InnoDB;
