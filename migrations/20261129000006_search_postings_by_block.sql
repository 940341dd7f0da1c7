-- A full block's posting rows go in at the end of `search_postings` instead of at one random place per
-- word. Keyed by (word hash, block), every merge of 2,000 requests wrote a row at each of its few
-- thousand words' places in the table; once the table outgrew InnoDB's buffer pool (~300 MB at a
-- million requests), each of those rows cost a page read and a page write. Keyed by block first,
-- a merge fills new pages one after another, and only the index by word below — its entries a
-- quarter of a row's size — takes inserts at random. A search still reads a word's rows newest
-- block first, through that index (BENCHMARKS.md, "The log writer as its tables grow").
-- Rebuilds the table: 14 s for the 2 million posting rows of 1.25 million requests on a 2-core VM.
ALTER TABLE search_postings
    DROP PRIMARY KEY,
    ADD PRIMARY KEY (block_id, word_hash),
    ADD KEY search_postings_word (word_hash, block_id);
