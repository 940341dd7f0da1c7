//! The text search's share of a batch (the index itself is described in crate `search-index`):
//! which words each request is found by, and the block and posting rows the writer stores.
//!
//! A request is found by the words of its reply and of the messages it sent first: a message its
//! chat's earlier turns already carried (MySQL held its node before) is credited to the turn that
//! sent it, so a search lists where a text entered a conversation instead of every later turn that
//! repeats it as history. Messages before the first user message (system prompts, shared by every
//! chat of a tool) are not searched. Its models, outcome and stream flag are indexed as words too.

use std::cmp::Reverse;
use std::collections::BinaryHeap;

use search_index::{attribute_hash, word_hashes, WordSet};

use crate::conversation::NodeIdSet;
use crate::stored_request::StoredRequest;

/// Fills each row's `search_words` (its reply and attributes) and `sent_message_words` (the words of
/// each message it may have sent first). `new_nodes` names, as (row, node) indexes, the first copy
/// in the batch of each message the writer does not know as stored; whether MySQL held it before
/// is checked when the batch is inserted (see [`SearchBlock::of`]).
pub fn credit_words(rows: &mut [StoredRequest], new_nodes: &[(usize, usize)]) {
    let mut sent: Vec<Vec<usize>> = vec![Vec::new(); rows.len()];
    for &(row, node) in new_nodes {
        sent[row].push(node);
    }
    // Cleared, not made anew, per text: a set grown from empty for each message rehashed its way
    // up again every time (1.4 % of the log writer's CPU with 1 KB records, perf).
    let (mut words, mut message_words) = (WordSet::default(), WordSet::default());
    for (row, sent) in rows.iter_mut().zip(sent) {
        words.clear();
        if let Some(reply) = &row.reply_text {
            word_hashes(reply, &mut words);
        }
        words.extend(attribute_words(
            row.client_model.as_deref(),
            row.upstream_model.as_deref(),
            row.outcome,
            row.is_stream,
        ));
        row.search_words = words.iter().copied().collect();
        row.sent_message_words = sent
            .into_iter()
            .map(|n| &row.conversation.nodes[n])
            .filter(|node| node.conversation_id.is_some())
            .filter_map(|node| {
                message_words.clear();
                word_hashes(node.fields().content_text.as_deref()?, &mut message_words);
                (!message_words.is_empty()).then(|| (node.id, message_words.iter().copied().collect()))
            })
            .collect();
    }
}

/// The attributes a search can filter on, as index words (see `search_index::attribute_hash`); the
/// admin API asks for the same names.
pub fn attribute_words(
    client_model: Option<&str>,
    upstream_model: Option<&str>,
    outcome: &str,
    is_stream: bool,
) -> Vec<u64> {
    let models = [
        ("client_model", client_model),
        ("upstream_model", upstream_model),
        ("model", client_model),
        ("model", upstream_model),
    ];
    models
        .into_iter()
        .filter_map(|(name, value)| Some(attribute_hash(name, value?)))
        .chain([attribute_hash("outcome", outcome), attribute_hash("stream", if is_stream { "true" } else { "false" })])
        .collect()
}

/// A block of the word index: requests and, per word, which of them it finds.
#[derive(Debug, PartialEq)]
pub struct SearchBlock {
    /// The ids of the requests found by some word, newest first.
    pub request_ids: Vec<[u8; 16]>,
    /// Per word, in the order of the word hashes: the positions in `request_ids` of the requests it
    /// finds, ascending. A full block's posting rows then reach InnoDB in key order, so that they
    /// fill its pages instead of splitting them (1.59 → 0.43 MB for the storage replay's block).
    pub postings: Postings,
}

/// Words and the positions of the requests each finds: every word's positions in one vector, each
/// word's end noted, instead of a vector per word — allocating one per word was a quarter or more
/// of the time grouping a block's pairs took (BENCHMARKS.md).
#[derive(Debug, Default, PartialEq)]
pub struct Postings {
    words: Vec<u64>,
    /// Where each word's positions end in `positions`.
    ends: Vec<usize>,
    positions: Vec<u32>,
}

impl Postings {
    /// From (word, position) pairs sorted by word, then position; a repeated pair counts once.
    fn from_sorted_pairs(pairs: &[(u64, u32)]) -> Postings {
        let mut postings = Postings { positions: Vec::with_capacity(pairs.len()), ..Postings::default() };
        for &(word, position) in pairs {
            if postings.words.last() != Some(&word) {
                if !postings.words.is_empty() {
                    postings.ends.push(postings.positions.len());
                }
                postings.words.push(word);
            } else if postings.positions.last() == Some(&position) {
                continue;
            }
            postings.positions.push(position);
        }
        if !postings.words.is_empty() {
            postings.ends.push(postings.positions.len());
        }
        postings
    }

    /// Words.
    pub fn len(&self) -> usize {
        self.words.len()
    }

    pub fn is_empty(&self) -> bool {
        self.words.is_empty()
    }

    /// Each word with its positions, in the order of the words.
    pub fn iter(&self) -> impl ExactSizeIterator<Item = (u64, &[u32])> + '_ {
        (0..self.words.len()).map(|i| (self.words[i], self.positions_of(i)))
    }

    /// The positions of the `i`th word.
    fn positions_of(&self, i: usize) -> &[u32] {
        let start = if i == 0 { 0 } else { self.ends[i - 1] };
        &self.positions[start..self.ends[i]]
    }
}

/// As read back from a recent block's row (`search_index::decode_block_postings`).
impl FromIterator<(u64, Vec<u32>)> for Postings {
    fn from_iter<I: IntoIterator<Item = (u64, Vec<u32>)>>(postings: I) -> Postings {
        let mut flat = Postings::default();
        for (word, positions) in postings {
            flat.words.push(word);
            flat.positions.extend_from_slice(&positions);
            flat.ends.push(flat.positions.len());
        }
        flat
    }
}

/// A block this large is written as posting rows at once; a smaller one waits in `search_recent`
/// until the recent blocks together hold this many requests, then they are merged into one.
/// A posting row per word per block is most of what the index costs MySQL, and a word shared by
/// the block's requests is one row: blocks of 2,000 instead of 500 cut a log writer's posting rows
/// 4× (BENCHMARKS.md). Every search reads all of `search_recent`, up to this many requests less one.
pub const FULL_BLOCK_REQUESTS: usize = 2_000;

impl SearchBlock {
    /// The block of these rows (those the batch inserted), crediting each with the words of the
    /// messages it sent that MySQL did not hold before; `None` when no row has a word.
    pub fn of<'a>(rows: impl IntoIterator<Item = &'a StoredRequest>, stored_before: &NodeIdSet) -> Option<SearchBlock> {
        let entries = rows.into_iter().map(|row| {
            let mut words = row.search_words.clone();
            for (node, sent) in &row.sent_message_words {
                if !stored_before.contains(node) {
                    words.extend_from_slice(sent);
                }
            }
            words.sort_unstable();
            words.dedup();
            (row.id, words)
        });
        SearchBlock::from_entries(entries.collect())
    }

    /// The block of these requests and the words each is found by; `None` when none has a word.
    pub fn from_entries(mut entries: Vec<([u8; 16], Vec<u64>)>) -> Option<SearchBlock> {
        entries.retain(|(_, words)| !words.is_empty());
        // UUIDv7 ids sort by time as bytes.
        entries.sort_unstable_by_key(|entry| std::cmp::Reverse(entry.0));
        entries.first()?;
        let pairs = entries
            .iter()
            .enumerate()
            .flat_map(|(position, (_, words))| words.iter().map(move |&word| (word, position as u32)));
        Some(SearchBlock {
            request_ids: entries.iter().map(|(id, _)| *id).collect(),
            postings: group_by_word(pairs.collect()),
        })
    }

    /// One block holding the requests of all these.
    pub fn merge(blocks: &[SearchBlock]) -> SearchBlock {
        let mut request_ids: Vec<[u8; 16]> = blocks.iter().flat_map(|b| b.request_ids.iter().copied()).collect();
        request_ids.sort_unstable_by(|a, b| b.cmp(a));
        // A request in two blocks (written twice around a crash) is kept once.
        request_ids.dedup();
        let renumbered = renumber(blocks, &request_ids);
        let postings = merge_in_order(blocks, &renumbered).unwrap_or_else(|| merge_by_sorting(blocks, &renumbered));
        SearchBlock { request_ids, postings }
    }

    /// The newest request's id, which names the block.
    pub fn block_id(&self) -> [u8; 16] {
        self.request_ids[0]
    }

    pub fn request_id_bytes(&self) -> Vec<u8> {
        self.request_ids.concat()
    }

    pub fn is_full(&self) -> bool {
        self.request_ids.len() >= FULL_BLOCK_REQUESTS
    }
}

/// Each block's positions as positions in the merged block, whose ids are `request_ids`.
fn renumber(blocks: &[SearchBlock], request_ids: &[[u8; 16]]) -> Vec<Vec<u32>> {
    let place = |id: &[u8; 16]| request_ids.binary_search_by(|probe| id.cmp(probe)).expect("merged ids hold every id");
    blocks.iter().map(|block| block.request_ids.iter().map(|id| place(id) as u32).collect()).collect()
}

/// The blocks' postings merged in one pass by word. A block lists its requests newest first, as
/// the merged block does, so renumbering keeps each word's positions ascending and only the lists
/// of a word found in several blocks need sorting; sorting every (word, position) pair again was
/// ~6 % of the log writer's instructions (BENCHMARKS.md). `None` if a block is not in that order
/// (words and positions ascending, positions within its requests): none this code writes is, and
/// [`merge_by_sorting`] makes the same of any.
fn merge_in_order(blocks: &[SearchBlock], renumbered: &[Vec<u32>]) -> Option<Postings> {
    for (block, numbers) in blocks.iter().zip(renumbered) {
        let ascending = |values: &[u32]| values.is_sorted_by(|a, b| a < b);
        let in_order = ascending(numbers)
            && block.postings.words.is_sorted_by(|a, b| a < b)
            && block.postings.iter().all(|(_, positions)| {
                ascending(positions) && positions.last().is_none_or(|&last| (last as usize) < numbers.len())
            });
        if !in_order {
            return None;
        }
    }
    let mut merged = Postings {
        positions: Vec::with_capacity(blocks.iter().map(|b| b.postings.positions.len()).sum()),
        ..Postings::default()
    };
    // Each block's next word, smallest first; a word in several blocks takes them all at once.
    let mut next: Vec<usize> = vec![0; blocks.len()];
    let mut heap: BinaryHeap<Reverse<(u64, usize)>> =
        blocks.iter().enumerate().filter_map(|(b, block)| Some(Reverse((*block.postings.words.first()?, b)))).collect();
    let (mut sources, mut shared) = (Vec::new(), Vec::new());
    while let Some(Reverse((word, first))) = heap.pop() {
        sources.clear();
        sources.push(first);
        while heap.peek().is_some_and(|Reverse((next_word, _))| *next_word == word) {
            let Reverse((_, b)) = heap.pop().expect("peeked");
            sources.push(b);
        }
        let renumbered_positions =
            |b: usize| blocks[b].postings.positions_of(next[b]).iter().map(move |&p| renumbered[b][p as usize]);
        if let [only] = sources[..] {
            merged.positions.extend(renumbered_positions(only));
        } else {
            // A request in two blocks (written twice around a crash) counts once.
            shared.clear();
            for &b in &sources {
                shared.extend(renumbered_positions(b));
            }
            shared.sort_unstable();
            shared.dedup();
            merged.positions.extend_from_slice(&shared);
        }
        merged.words.push(word);
        merged.ends.push(merged.positions.len());
        for &b in &sources {
            next[b] += 1;
            if let Some(&word) = blocks[b].postings.words.get(next[b]) {
                heap.push(Reverse((word, b)));
            }
        }
    }
    Some(merged)
}

/// The blocks' postings merged by sorting their renumbered (word, position) pairs; a position past
/// its block's requests (a damaged row) is left out.
fn merge_by_sorting(blocks: &[SearchBlock], renumbered: &[Vec<u32>]) -> Postings {
    let mut pairs = Vec::with_capacity(blocks.iter().map(|b| b.postings.positions.len()).sum());
    for (block, numbers) in blocks.iter().zip(renumbered) {
        for (word, old) in block.postings.iter() {
            pairs.extend(old.iter().filter_map(|&p| Some((word, *numbers.get(p as usize)?))));
        }
    }
    group_by_word(pairs)
}

/// (word, position) pairs as each word's ascending positions, in the order of the words. Sorting
/// one flat list costs the log writer a fraction of what a map of a list per word did.
fn group_by_word(mut pairs: Vec<(u64, u32)>) -> Postings {
    pairs.sort_unstable();
    Postings::from_sorted_pairs(&pairs)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::collection::vec;
    use proptest::prelude::*;
    use std::collections::{HashMap, HashSet};

    use crate::record::{RequestRecord, ResponseCapture};

    fn hash(word: &str) -> u64 {
        let mut set = HashSet::new();
        word_hashes(word, &mut set);
        set.into_iter().next().unwrap()
    }

    fn row(messages: &str, reply: &str) -> StoredRequest {
        let mut record = RequestRecord::new("POST", "/v1/chat/completions");
        record.http_status = 200;
        record.client_model = Some("m".into());
        record.request_body = format!(r#"{{"model":"m","messages":{messages}}}"#).into();
        record.response = ResponseCapture::Body(
            format!(r#"{{"choices":[{{"index":0,"message":{{"role":"assistant","content":"{reply}"}}}}]}}"#).into(),
        );
        StoredRequest::from_record(record)
    }

    /// What a block credits each row with, given the messages MySQL held before.
    fn credited(rows: &[StoredRequest], stored_before: &NodeIdSet) -> Vec<HashSet<u64>> {
        let block = SearchBlock::of(rows, stored_before).unwrap();
        rows.iter()
            .map(|row| {
                let position = block.request_ids.iter().position(|id| *id == row.id).unwrap() as u32;
                block.postings.iter().filter(|(_, p)| p.contains(&position)).map(|(word, _)| word).collect()
            })
            .collect()
    }

    #[test]
    fn a_request_is_credited_with_its_reply_and_the_messages_it_sent_first() {
        let first_turn = r#"[{"role":"system","content":"Be terse"},{"role":"user","content":"Zebrafish genome?"}]"#;
        let second_turn = r#"[{"role":"system","content":"Be terse"},{"role":"user","content":"Zebrafish genome?"},{"role":"assistant","content":"Large"},{"role":"user","content":"How large exactly"}]"#;
        let mut rows = vec![row(first_turn, "Large"), row(second_turn, "About 1.4 Gb")];
        // As the writer finds them: the second turn's first two messages are the first turn's.
        let new_nodes = vec![(0, 0), (0, 1), (1, 2), (1, 3)];
        credit_words(&mut rows, &new_nodes);
        let [first, second]: [HashSet<u64>; 2] = credited(&rows, &NodeIdSet::default()).try_into().unwrap();
        assert!(first.contains(&hash("zebrafish")) && first.contains(&hash("large")));
        assert!(!first.contains(&hash("terse")), "system prompts are not searched");
        assert!(!second.contains(&hash("zebrafish")), "history is credited to the turn that sent it");
        assert!(second.contains(&hash("exactly")) && second.contains(&hash("gb")));
        for attributes in [&first, &second] {
            assert!(
                attributes.contains(&attribute_hash("model", "M"))
                    && attributes.contains(&attribute_hash("outcome", "ok"))
            );
            assert!(attributes.contains(&attribute_hash("stream", "false")));
        }

        // The first turn's question was stored before (by another proxy, or forgotten by this one).
        let stored_before: NodeIdSet = [rows[0].conversation.nodes[1].id].into_iter().collect();
        let [first, _]: [HashSet<u64>; 2] = credited(&rows, &stored_before).try_into().unwrap();
        assert!(!first.contains(&hash("zebrafish")) && first.contains(&hash("large")));
    }

    #[test]
    fn a_block_lists_requests_newest_first_and_each_words_positions() {
        let mut rows = vec![
            row(r#"[{"role":"user","content":"alpha beta"}]"#, "ok"),
            row(r#"[{"role":"user","content":"beta"}]"#, "no"),
        ];
        let new_nodes = vec![(0, 0), (1, 0)];
        credit_words(&mut rows, &new_nodes);
        let block = SearchBlock::of(&rows, &NodeIdSet::default()).unwrap();
        // Made in this order, so the second row is the newer.
        assert_eq!(block.block_id(), rows[1].id);
        assert_eq!(block.request_ids, [rows[1].id, rows[0].id]);
        assert!(block.postings.iter().is_sorted_by_key(|(word, _)| word), "posting rows go to InnoDB in key order");
        let postings: HashMap<u64, &[u32]> = block.postings.iter().collect();
        assert_eq!(postings[&hash("beta")], [0, 1]);
        assert_eq!(postings[&hash("alpha")], [1]);
        assert_eq!(postings[&hash("no")], [0]);
        assert_eq!(postings[&attribute_hash("client_model", "m")], [0, 1]);
        // Four words and four attributes: client model, model, outcome, stream.
        assert_eq!(postings.len(), 8);
        assert_eq!(SearchBlock::of(&rows[..0], &NodeIdSet::default()), None);
    }

    #[test]
    fn postings_keep_each_words_positions_once_and_in_order() {
        let pairs = [(3, 0), (3, 0), (3, 2), (5, 1), (9, 0), (9, 1), (9, 1), (9, 4)];
        let postings = Postings::from_sorted_pairs(&pairs);
        let listed: Vec<(u64, Vec<u32>)> = postings.iter().map(|(word, p)| (word, p.to_vec())).collect();
        assert_eq!(listed, [(3, vec![0, 2]), (5, vec![1]), (9, vec![0, 1, 4])]);
        assert_eq!((postings.len(), postings.iter().len()), (3, 3));
        assert_eq!(listed.into_iter().collect::<Postings>(), postings, "as read back from a recent block");
        assert!(Postings::from_sorted_pairs(&[]).is_empty());
        assert_eq!(Postings::from_sorted_pairs(&[]).iter().count(), 0);
    }

    proptest! {
        #[test]
        fn merging_in_one_pass_gives_what_sorting_every_pair_gives(
            requests in vec((any::<u16>(), vec(0u64..40, 0..8)), 1..60),
            cuts in vec(0usize..60, 0..5),
            repeated in 0usize..60,
        ) {
            // Ids in any time order; a request's words sorted, as a row's are.
            let entries: Vec<([u8; 16], Vec<u64>)> = requests
                .into_iter()
                .enumerate()
                .map(|(n, (time, mut words))| {
                    let mut id = [0u8; 16];
                    id[..2].copy_from_slice(&time.to_be_bytes());
                    id[2..10].copy_from_slice(&(n as u64).to_be_bytes());
                    words.sort_unstable();
                    words.dedup();
                    (id, words)
                })
                .collect();
            let mut cuts: Vec<usize> = cuts.into_iter().map(|cut| cut.min(entries.len())).collect();
            cuts.extend([0, entries.len()]);
            cuts.sort_unstable();
            let mut pieces: Vec<Vec<([u8; 16], Vec<u64>)>> =
                cuts.windows(2).map(|w| entries[w[0]..w[1]].to_vec()).collect();
            // One request in two blocks, as a batch written again after a crash leaves it.
            let again = entries[repeated % entries.len()].clone();
            if let Some(other) = pieces.iter_mut().find(|piece| !piece.iter().any(|(id, _)| *id == again.0)) {
                other.push(again);
            }
            let blocks: Vec<SearchBlock> = pieces.into_iter().filter_map(SearchBlock::from_entries).collect();
            prop_assume!(!blocks.is_empty());

            let merged = SearchBlock::merge(&blocks);
            let renumbered = renumber(&blocks, &merged.request_ids);
            prop_assert!(merge_in_order(&blocks, &renumbered).is_some(), "blocks this code makes are in order");
            prop_assert_eq!(merged.postings, merge_by_sorting(&blocks, &renumbered));
        }
    }

    #[test]
    fn a_block_out_of_order_is_merged_by_sorting() {
        let mut rows: Vec<StoredRequest> =
            ["alpha", "beta alpha", "gamma"].iter().map(|text| row(r#"[]"#, text)).collect();
        credit_words(&mut rows, &[]);
        let none = NodeIdSet::default();
        let mut unordered = SearchBlock::of(&rows[..2], &none).unwrap();
        unordered.request_ids.reverse();
        let blocks = [unordered, SearchBlock::of(&rows[2..], &none).unwrap()];
        let merged = SearchBlock::merge(&blocks);
        let renumbered = renumber(&blocks, &merged.request_ids);
        assert!(merge_in_order(&blocks, &renumbered).is_none());
        assert_eq!(merged.postings, merge_by_sorting(&blocks, &renumbered));
        let postings: HashMap<u64, &[u32]> = merged.postings.iter().collect();
        assert_eq!(postings[&hash("alpha")], [1, 2], "the reversed ids moved alpha's requests");
    }

    #[test]
    fn merged_blocks_find_what_each_found() {
        let mut rows: Vec<StoredRequest> =
            ["alpha", "beta", "alpha beta", "gamma"].iter().map(|text| row(r#"[]"#, text)).collect();
        credit_words(&mut rows, &[]);
        // Blocks in any order, one request in two of them.
        let none = NodeIdSet::default();
        let blocks = [SearchBlock::of(&rows[2..], &none).unwrap(), SearchBlock::of(&rows[..3], &none).unwrap()];
        let merged = SearchBlock::merge(&blocks);
        assert_eq!(merged.request_ids, [rows[3].id, rows[2].id, rows[1].id, rows[0].id]);
        assert!(merged.postings.iter().is_sorted_by_key(|(word, _)| word), "posting rows go to InnoDB in key order");
        let postings: HashMap<u64, &[u32]> = merged.postings.iter().collect();
        assert_eq!(postings[&hash("alpha")], [1, 3]);
        assert_eq!(postings[&hash("beta")], [1, 2]);
        assert_eq!(postings[&hash("gamma")], [0]);
        assert_eq!(postings[&attribute_hash("outcome", "ok")], [0, 1, 2, 3]);
    }
}
