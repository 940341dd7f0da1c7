//! Text search over the word index the proxy writes (crate `search-index`): the requests whose
//! reply or first-sent messages hold every word, newest first.
//!
//! Recent blocks (small batches not merged yet, a few thousand requests at most) are read whole.
//! Then, over full blocks, the word that finds the fewest requests leads: its posting rows, and its
//! bucket's shared rows of rare words (`search_index::rare_word_bucket`), are read newest block
//! first, the other words are looked up in the same blocks (a request is in one block, so a word
//! holds it when that block's row for the word lists its position). The list's other
//! filters are words too: the writer indexes each request's models, outcome and stream flag
//! (`attribute_hash`), and a time range is read off the ids (UUIDv7, made as the request started),
//! MySQL deciding only for the ids within a second of either end. The walk stops at
//! [`MAX_MATCHES`] matches or after [`MAX_EXAMINED`] requests holding the leading word, so a search
//! costs about the same for a word every request holds as for a rare one; the total is then a
//! lower bound, and says so.

use std::collections::{HashMap, HashSet};

use chrono::{DateTime, TimeDelta, Utc};
use search_index::{attribute_hash, decode_block_postings, decode_positions, rare_word_bucket, word_hashes};
use sqlx::{MySql, MySqlPool, QueryBuilder};

use crate::db::requests::RequestFilter;

/// Matches counted and listed at most: 50 pages of 200.
pub const MAX_MATCHES: usize = 10_000;
/// Requests holding the leading word looked at, at most, when the other words or filters reject most.
pub const MAX_EXAMINED: usize = 100_000;
/// Full blocks read in the first round trip (a full block holds 2,000 requests or more, the proxy's
/// `search_block::FULL_BLOCK_REQUESTS`); each round reads twice as many as the one before, up to
/// [`MAX_BLOCKS_PER_READ`].
const FIRST_READ_BLOCKS: u64 = 2;
const MAX_BLOCKS_PER_READ: u64 = 256;
/// How much older than the newest request of the block before it a request of a block can be, for
/// skipping blocks a range's end rules out: blocks hold requests in the order they finished, and a
/// request runs at most for the upstream's idle timeout per byte. (A block's own newest request says
/// nothing about its oldest: merged from small batches at a request a minute, a block of 2,000
/// spans 33 hours.) A batch that mixes requests spooled during a long MySQL outage with new ones
/// can break this; a search with an end may then miss them.
const BLOCK_SPAN: TimeDelta = TimeDelta::hours(1);
/// Request ids are made a few microseconds before `started_at`: bounds on ids allow this much.
const ID_CLOCK_SLACK: TimeDelta = TimeDelta::seconds(1);

/// Ids of the matching requests, newest first.
pub struct SearchHits {
    pub ids: Vec<[u8; 16]>,
    /// False when the walk stopped before the leading word's oldest block: older matches may exist.
    pub complete: bool,
}

/// The word hashes a search text asks for; empty when it has no indexable word.
pub fn search_words(text: &str) -> Vec<u64> {
    let mut words = HashSet::new();
    word_hashes(text, &mut words);
    let mut words: Vec<u64> = words.into_iter().collect();
    words.sort_unstable();
    words
}

#[tracing::instrument(skip_all, fields(words = words.len()))]
pub async fn find(pool: &MySqlPool, words: &[u64], filter: &RequestFilter) -> sqlx::Result<SearchHits> {
    if words.is_empty() {
        return Ok(SearchHits { ids: Vec::new(), complete: true });
    }
    let words: Vec<u64> = words.iter().copied().chain(attribute_words(filter)).collect();
    let words = words.as_slice();
    let lowest_id = filter.from.map(|from| id_floor(from - ID_CLOCK_SLACK));
    let highest_id = filter.to.map(|to| id_floor(to + ID_CLOCK_SLACK));
    let in_range =
        |id: &[u8; 16]| !(lowest_id.is_some_and(|low| *id < low) || highest_id.is_some_and(|high| *id > high));
    // Recent blocks first: a merge that commits meanwhile can then only make a request appear in
    // both reads (dropped below), never in neither.
    let recent: Vec<[u8; 16]> = recent_matches(pool, words).await?.into_iter().filter(in_range).collect();
    let mut matches = within_range(pool, filter, recent).await?;

    let mut spread = Vec::with_capacity(words.len());
    for &word in words {
        // How many requests the word finds, by the bytes of its position lists (one or two bytes a
        // request), not by its blocks: a word in a few requests of every block of 2,000 would tie
        // with one in all of them, and leading with the common one stops the walk at
        // `MAX_EXAMINED` long before the rare one's matches are all found. The lists sit in the
        // rows the count reads anyway. Capped: enough to tell a rare word from a common one. A
        // word's single requests in blocks (in shared rows) do not count: it is rare there.
        let weight: i64 = sqlx::query_scalar(
            "SELECT CAST(COALESCE(SUM(LENGTH(positions)), 0) AS SIGNED) \
             FROM (SELECT positions FROM search_postings FORCE INDEX (search_postings_word) \
             WHERE word_hash = ? LIMIT 1000) capped",
        )
        .bind(word)
        .fetch_one(pool)
        .await?;
        spread.push((weight, word));
    }
    spread.sort_unstable();
    let leader = spread[0].1;
    let others: Vec<u64> = spread[1..].iter().map(|&(_, word)| word).collect();
    let mut examined = 0usize;
    let mut read_size = FIRST_READ_BLOCKS;
    let mut before = match filter.to {
        Some(to) => walk_start(pool, to).await?,
        None => None,
    };
    loop {
        let LeaderBlocks { blocks, read_down_to } = leader_blocks(pool, leader, before, read_size).await?;
        read_size = (read_size * 2).min(MAX_BLOCKS_PER_READ);
        let other_postings = other_words_in(pool, &others, &blocks).await?;
        let mut found: Vec<(Vec<u8>, Vec<u32>)> = Vec::new();
        for (block_id, mut positions) in blocks {
            examined += positions.len();
            for word in &others {
                let held = other_postings.get(&(*word, block_id.clone())).map_or(&[][..], Vec::as_slice);
                positions.retain(|p| held.binary_search(p).is_ok());
            }
            if !positions.is_empty() {
                found.push((block_id, positions));
            }
        }
        let request_ids = block_request_ids(pool, &found).await?;
        let candidates: Vec<[u8; 16]> = found
            .iter()
            .filter_map(|(block_id, positions)| Some(ids_at(request_ids.get(block_id)?, positions)))
            .flatten()
            .filter(in_range)
            .collect();
        matches.extend(within_range(pool, filter, candidates).await?);
        // Every block the leader is in from `read_down_to` up has been read.
        let Some(last) = read_down_to else { break };
        if matches.len() >= MAX_MATCHES || examined >= MAX_EXAMINED {
            // Every request of an unread block is older than that block's id, the newest of them:
            // the matches newer than the next block are all there are; older ones may lack some.
            let next: Option<Vec<u8>> =
                sqlx::query_scalar("SELECT MAX(block_id) FROM search_blocks WHERE block_id < ?")
                    .bind(&last[..])
                    .fetch_one(pool)
                    .await?;
            if let Some(next) = next {
                matches.retain(|id| id[..] > next[..]);
            }
            return Ok(SearchHits { complete: false, ..all_found(matches) });
        }
        // Blocks below the range's start hold only earlier requests.
        if lowest_id.is_some_and(|low| last < low) {
            break;
        }
        before = Some(last);
    }
    Ok(all_found(matches))
}

/// Where the walk over full blocks starts for a range that ends at `to`: below this id (`None`: at
/// the newest block). The first block whose id is [`BLOCK_SPAN`] or more after `to` is the last that
/// can hold a request started by `to`: every later block's requests finished after that block's
/// newest request, which started `BLOCK_SPAN` after `to`, so they started after `to`.
async fn walk_start(pool: &MySqlPool, to: DateTime<Utc>) -> sqlx::Result<Option<[u8; 16]>> {
    let last_needed: Option<Vec<u8>> =
        sqlx::query_scalar("SELECT MIN(block_id) FROM search_blocks WHERE block_id >= ?")
            .bind(id_floor(to + BLOCK_SPAN).to_vec())
            .fetch_one(pool)
            .await?;
    Ok(last_needed.and_then(|id| <[u8; 16]>::try_from(id).ok()).and_then(id_after))
}

/// The id right after `id` in byte order (`None` after the last).
fn id_after(id: [u8; 16]) -> Option<[u8; 16]> {
    u128::from_be_bytes(id).checked_add(1).map(u128::to_be_bytes)
}

/// The hits newest first, without repeats, at most [`MAX_MATCHES`]: complete when every block that
/// could hold a match was read and no more than that matched.
fn all_found(mut matches: Vec<[u8; 16]>) -> SearchHits {
    matches.sort_unstable_by(|a, b| b.cmp(a));
    matches.dedup();
    let complete = matches.len() <= MAX_MATCHES;
    matches.truncate(MAX_MATCHES);
    SearchHits { ids: matches, complete }
}

/// The ids at these positions of a block's id list.
fn ids_at<'a>(request_ids: &'a [u8], positions: &'a [u32]) -> impl Iterator<Item = [u8; 16]> + 'a {
    positions.iter().filter_map(|&p| request_ids.get(p as usize * 16..p as usize * 16 + 16)?.try_into().ok())
}

/// The requests of the recent blocks that hold every word.
async fn recent_matches(pool: &MySqlPool, words: &[u64]) -> sqlx::Result<Vec<[u8; 16]>> {
    let rows: Vec<(Vec<u8>, Vec<u8>)> =
        sqlx::query_as("SELECT request_ids, postings FROM search_recent").fetch_all(pool).await?;
    let mut found = Vec::new();
    for (request_ids, postings) in &rows {
        let Some(postings) = decode_block_postings(postings) else { continue };
        let postings: HashMap<u64, Vec<u32>> = postings.into_iter().collect();
        let Some(mut positions) = postings.get(&words[0]).cloned() else { continue };
        for word in &words[1..] {
            let held = postings.get(word).map_or(&[][..], Vec::as_slice);
            positions.retain(|p| held.binary_search(p).is_ok());
        }
        found.extend(ids_at(request_ids, &positions));
    }
    Ok(found)
}

/// The leading word's blocks below `before`, newest first, with its positions in each.
struct LeaderBlocks {
    blocks: Vec<(Vec<u8>, Vec<u32>)>,
    /// Every block holding the word from this one up is in `blocks`; `None`: every block below
    /// `before` is.
    read_down_to: Option<[u8; 16]>,
}

/// The leading word's next blocks: from its own posting rows and from its bucket's shared rows,
/// up to `count` of each. Each list is whole down to its last row when it was cut at `count` (and
/// whole otherwise), so both are down to the higher of those ends; the blocks below it are read
/// next time.
async fn leader_blocks(
    pool: &MySqlPool,
    word: u64,
    before: Option<[u8; 16]>,
    count: u64,
) -> sqlx::Result<LeaderBlocks> {
    // Through the word index, whatever MySQL guesses of the block range: by the primary key (block
    // first) the range would be every word of every block below `before`.
    let mut own = QueryBuilder::<MySql>::new(
        "SELECT block_id, positions FROM search_postings FORCE INDEX (search_postings_word) WHERE word_hash = ",
    );
    own.push_bind(word);
    let mut shared = QueryBuilder::<MySql>::new("SELECT block_id, postings FROM search_rare_postings WHERE bucket = ");
    shared.push_bind(rare_word_bucket(word));
    for query in [&mut own, &mut shared] {
        if let Some(before) = before {
            query.push(" AND block_id < ").push_bind(before.to_vec());
        }
        query.push(" ORDER BY block_id DESC LIMIT ").push_bind(count);
    }
    let own: Vec<(Vec<u8>, Vec<u8>)> = own.build_query_as().fetch_all(pool).await?;
    let shared: Vec<(Vec<u8>, Vec<u8>)> = shared.build_query_as().fetch_all(pool).await?;
    let read_down_to: Option<[u8; 16]> = [&own, &shared]
        .into_iter()
        .filter(|rows| rows.len() as u64 == count)
        .filter_map(|rows| rows.last()?.0.as_slice().try_into().ok())
        .max();
    let above = |block_id: &Vec<u8>| read_down_to.is_none_or(|end| block_id[..] >= end[..]);
    let mut blocks: Vec<(Vec<u8>, Vec<u32>)> = own
        .into_iter()
        .filter(|(block_id, _)| above(block_id))
        .filter_map(|(block_id, positions)| Some((block_id, decode_positions(&positions)?)))
        .chain(
            shared
                .into_iter()
                .filter(|(block_id, _)| above(block_id))
                .filter_map(|(block_id, postings)| Some((block_id, shared_positions(&postings, word)?))),
        )
        .collect();
    blocks.sort_unstable_by(|a, b| b.0.cmp(&a.0));
    Ok(LeaderBlocks { blocks, read_down_to })
}

/// A word's positions in a shared row of rare words; `None` when the row does not hold it.
fn shared_positions(postings: &[u8], word: u64) -> Option<Vec<u32>> {
    decode_block_postings(postings)?.into_iter().find(|(held, _)| *held == word).map(|(_, positions)| positions)
}

/// The other words' positions in these blocks, by (word, block): from their posting rows and
/// their buckets' shared rows.
async fn other_words_in(
    pool: &MySqlPool,
    others: &[u64],
    blocks: &[(Vec<u8>, Vec<u32>)],
) -> sqlx::Result<HashMap<(u64, Vec<u8>), Vec<u32>>> {
    if others.is_empty() || blocks.is_empty() {
        return Ok(HashMap::new());
    }
    let mut own =
        QueryBuilder::<MySql>::new("SELECT word_hash, block_id, positions FROM search_postings WHERE word_hash IN (");
    let mut list = own.separated(", ");
    for word in others {
        list.push_bind(*word);
    }
    own.push(")");
    let mut shared =
        QueryBuilder::<MySql>::new("SELECT block_id, postings FROM search_rare_postings WHERE bucket IN (");
    let mut list = shared.separated(", ");
    for word in others {
        list.push_bind(rare_word_bucket(*word));
    }
    shared.push(")");
    for query in [&mut own, &mut shared] {
        query.push(" AND block_id IN (");
        let mut list = query.separated(", ");
        for (block_id, _) in blocks {
            list.push_bind(block_id.clone());
        }
        query.push(")");
    }
    let own: Vec<(u64, Vec<u8>, Vec<u8>)> = own.build_query_as().fetch_all(pool).await?;
    let shared: Vec<(Vec<u8>, Vec<u8>)> = shared.build_query_as().fetch_all(pool).await?;
    let mut positions: HashMap<(u64, Vec<u8>), Vec<u32>> = own
        .into_iter()
        .filter_map(|(word, block, positions)| Some(((word, block), decode_positions(&positions)?)))
        .collect();
    for (block, postings) in shared {
        let Some(postings) = decode_block_postings(&postings) else { continue };
        for (word, held) in postings {
            if others.contains(&word) {
                positions.insert((word, block.clone()), held);
            }
        }
    }
    Ok(positions)
}

/// The request ids of these blocks, by block.
async fn block_request_ids(
    pool: &MySqlPool,
    blocks: &[(Vec<u8>, Vec<u32>)],
) -> sqlx::Result<HashMap<Vec<u8>, Vec<u8>>> {
    if blocks.is_empty() {
        return Ok(HashMap::new());
    }
    let mut query = QueryBuilder::<MySql>::new("SELECT block_id, request_ids FROM search_blocks WHERE block_id IN (");
    let mut list = query.separated(", ");
    for (block_id, _) in blocks {
        list.push_bind(block_id.clone());
    }
    query.push(")");
    let rows: Vec<(Vec<u8>, Vec<u8>)> = query.build_query_as().fetch_all(pool).await?;
    Ok(rows.into_iter().collect())
}

/// The filters other than the text, as the index words the writer adds for them.
fn attribute_words(filter: &RequestFilter) -> Vec<u64> {
    let r = &filter.rollup;
    [
        ("client_model", r.client_model.as_deref()),
        ("upstream_model", r.upstream_model.as_deref()),
        ("model", r.any_model.as_deref()),
        ("outcome", r.outcome),
        ("stream", r.is_stream.map(|stream| if stream { "true" } else { "false" })),
    ]
    .into_iter()
    .filter_map(|(name, value)| Some(attribute_hash(name, value?)))
    .collect()
}

/// The candidates inside the filter's time range. The ids (already cut to the range with a
/// second's slack) decide, except for those within a second of either end: MySQL reads their
/// `started_at`.
async fn within_range(
    pool: &MySqlPool,
    filter: &RequestFilter,
    candidates: Vec<[u8; 16]>,
) -> sqlx::Result<Vec<[u8; 16]>> {
    let near = |at: Option<DateTime<Utc>>, id: &[u8; 16]| {
        at.is_some_and(|at| (id_floor(at - ID_CLOCK_SLACK)..id_floor(at + ID_CLOCK_SLACK)).contains(id))
    };
    let (edge, mut kept): (Vec<[u8; 16]>, Vec<[u8; 16]>) =
        candidates.into_iter().partition(|id| near(filter.from, id) || near(filter.to, id));
    for chunk in edge.chunks(1_000) {
        let mut query = QueryBuilder::<MySql>::new("SELECT r.id FROM requests r WHERE r.id IN (");
        let mut list = query.separated(", ");
        for id in chunk {
            list.push_bind(id.to_vec());
        }
        query.push(")");
        if let Some(from) = filter.from {
            query.push(" AND r.started_at >= ").push_bind(from.naive_utc());
        }
        if let Some(to) = filter.to {
            query.push(" AND r.started_at < ").push_bind(to.naive_utc());
        }
        let ids: Vec<Vec<u8>> = query.build_query_scalar().fetch_all(pool).await?;
        kept.extend(ids.into_iter().filter_map(|id| <[u8; 16]>::try_from(id).ok()));
    }
    Ok(kept)
}

/// The lowest UUIDv7 of the millisecond `at` falls in: ids sort by their leading 48-bit timestamp.
fn id_floor(at: DateTime<Utc>) -> [u8; 16] {
    let millis = u64::try_from(at.timestamp_millis()).unwrap_or(0);
    let mut id = [0u8; 16];
    id[..6].copy_from_slice(&millis.to_be_bytes()[2..]);
    id
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn id_floor_is_below_every_id_of_its_millisecond_and_above_the_one_before() {
        let at = DateTime::parse_from_rfc3339("2026-11-27T06:30:00.123Z").unwrap().with_timezone(&Utc);
        let ts = uuid::Timestamp::from_unix(uuid::NoContext, at.timestamp() as u64, at.timestamp_subsec_nanos());
        let id = *uuid::Uuid::new_v7(ts).as_bytes();
        assert!(id_floor(at) <= id);
        assert!(id_floor(at + TimeDelta::milliseconds(1)) > id);
    }

    #[test]
    fn the_id_after_another_carries_into_the_bytes_before_and_ends_after_the_last() {
        let mut id = [0u8; 16];
        id[15] = 0xff;
        let mut next = [0u8; 16];
        next[14] = 1;
        assert_eq!(id_after(id), Some(next));
        assert_eq!(id_after([0xff; 16]), None);
    }

    #[test]
    fn a_search_text_asks_for_its_distinct_words() {
        assert_eq!(search_words("Timeout timeout, TIMEOUT!").len(), 1);
        assert_eq!(search_words("parse_config user-id").len(), 3);
        assert!(search_words("a + b").is_empty());
        // What MySQL's boolean mode read as operators is just punctuation here.
        assert_eq!(search_words("  \"tank\" -leak* (ok)  "), search_words("tank leak ok"));
    }
}
