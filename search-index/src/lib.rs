//! TokenSlipper's own word index, shared by the proxy's log writer (which writes it) and the admin
//! API (which reads it).
//!
//! MySQL's full-text index must find every request holding a word before it can return the newest
//! ten, which takes seconds for a word most requests hold. This index is laid out so that a search
//! reads the newest requests first and can stop: the writer stores each batch of requests it
//! writes as a *block* (the batch's request ids, newest first) and, for each word of the batch, one
//! posting row (word, block) naming the requests of the block that hold it. A word's rows, read by
//! block newest first, give its requests newest first; every request belongs to one block, so
//! whether another word holds it is one row lookup.
//!
//! A small batch would make a posting row per word for a handful of requests (at a request a second,
//! a hundred rows per request): a small block is first written as one `search_recent` row with its
//! postings inline (`encode_block_postings`), and recent blocks are merged into one full block once
//! they hold enough requests. A search reads all recent rows, then the full blocks. A full block's
//! words that find a single request share rows by bucket of hashes instead of a row each
//! ([`rare_word_bucket`]).
//!
//! A request's model, outcome and stream flag are indexed as words too (`attribute_hash`), so that a
//! search with those filters needs nothing but the index.

mod block_postings;
mod positions;
mod rare_words;
mod varint;
mod words;

pub use block_postings::{decode_block_postings, encode_block_postings};
pub use positions::{decode_positions, encode_positions};
pub use rare_words::{is_rare, rare_word_bucket, RARE_WORD_MAX_REQUESTS};
pub use words::{attribute_hash, word_hashes, WordHashMixer, WordSet, MAX_WORD_BYTES, MIN_WORD_CHARS};
