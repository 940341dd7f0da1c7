//! The text search's word index as the proxy writes it: a block per batch in the batch's
//! transaction, small blocks merged, and the backfill of requests logged before the index existed.

use std::collections::{BTreeMap, BTreeSet};

use serde_json::{json, Value};
use sqlx::MySqlPool;

use proxy::search_block::FULL_BLOCK_REQUESTS;

use crate::helpers::{count, index_parts, spawn_app};

/// The text search's blocks (recent and full) name only stored requests, each in one block at most.
/// Returns how many requests they name.
pub async fn search_blocks_hold_each_stored_request_once(pool: &MySqlPool) -> usize {
    let blocks: Vec<Vec<u8>> =
        sqlx::query_scalar("SELECT request_ids FROM search_blocks UNION ALL SELECT request_ids FROM search_recent")
            .fetch_all(pool)
            .await
            .unwrap();
    let in_blocks: Vec<&[u8]> = blocks.iter().flat_map(|ids| ids.chunks(16)).collect();
    let unique: std::collections::HashSet<&[u8]> = in_blocks.iter().copied().collect();
    assert_eq!(unique.len(), in_blocks.len(), "a request in two blocks");
    let stored: Vec<Vec<u8>> = sqlx::query_scalar("SELECT id FROM requests").fetch_all(pool).await.unwrap();
    assert!(unique.iter().all(|id| stored.iter().any(|s| s == id)), "a block names a request that is not stored");
    unique.len()
}

#[sqlx::test(migrations = false)]
async fn small_batches_wait_in_recent_blocks_until_they_hold_a_full_block_and_are_merged_into_one(pool: MySqlPool) {
    let app = spawn_app(pool.clone()).await;
    // Six batches, each a fifth of a full block, each request answered with a reply to search.
    let per_batch = FULL_BLOCK_REQUESTS / 5;
    for _ in 0..6 {
        for i in 0..per_batch {
            let mut record = proxy::record::RequestRecord::new("POST", "/v1/chat/completions");
            record.http_status = 200;
            record.client_model = Some("gpt-4o".into());
            record.response = proxy::record::ResponseCapture::Body(
                format!(
                    r#"{{"choices":[{{"index":0,"message":{{"role":"assistant","content":"merged reply {i}"}}}}]}}"#
                )
                .into(),
            );
            app.log.submit(record);
        }
        app.flush().await;
    }

    assert_eq!(search_blocks_hold_each_stored_request_once(&pool).await, 6 * per_batch);
    let full: Vec<i64> = sqlx::query_scalar("SELECT CAST(LENGTH(request_ids) / 16 AS SIGNED) FROM search_blocks")
        .fetch_all(&pool)
        .await
        .unwrap();
    assert_eq!(full, [FULL_BLOCK_REQUESTS as i64], "five recent blocks merged into one");
    assert_eq!(count(&pool, "search_recent").await, 1, "the sixth waits");
    // One posting row per word of the full block: "merged", "reply" and the numbers from 10 (single
    // characters are not indexed), and the attributes client model, model, outcome and stream.
    assert_eq!(count(&pool, "search_postings").await, 2 + (per_batch as i64 - 10) + 4);
}

#[sqlx::test(migrations = false)]
async fn a_full_blocks_words_of_a_single_request_share_one_row_per_bucket(pool: MySqlPool) {
    let app = spawn_app(pool.clone()).await;
    // Every reply holds "common" and a word of its own; "pair" is in two of them.
    let reply = |i: usize| format!("common word{i}{}", if i < 2 { " pair" } else { "" });
    // Two halves, each stored before the next is sent: then the second completes a full block.
    for half in [0..FULL_BLOCK_REQUESTS / 2, FULL_BLOCK_REQUESTS / 2..FULL_BLOCK_REQUESTS] {
        for i in half {
            // A question with no word to index: the reply's words are all there is.
            app.log.submit(chat_turn(&[json!({"role": "user", "content": "?"})], &reply(i)));
        }
        app.flush().await;
    }
    assert_eq!(count(&pool, "search_blocks").await, 1, "one full block");

    // Own rows: "common", "pair", and the attributes client model, model, outcome and stream.
    assert_eq!(count(&pool, "search_postings").await, 2 + 4);
    let shared: Vec<(u8, Vec<u8>)> =
        sqlx::query_as("SELECT bucket, postings FROM search_rare_postings").fetch_all(&pool).await.unwrap();
    assert!(shared.len() > 200, "~256 buckets for 2,000 words: {}", shared.len());
    let mut rare: BTreeMap<u64, u32> = BTreeMap::new();
    for (bucket, postings) in &shared {
        for (word, positions) in search_index::decode_block_postings(postings).unwrap() {
            assert_eq!(search_index::rare_word_bucket(word), *bucket, "a word in another bucket's row");
            assert_eq!(positions.len(), 1);
            assert!(rare.insert(word, positions[0]).is_none(), "a word in two shared rows");
        }
    }
    let own_word = |i: usize| {
        let mut words = std::collections::HashSet::new();
        search_index::word_hashes(&format!("word{i}"), &mut words);
        words.into_iter().next().unwrap()
    };
    assert_eq!(rare.keys().copied().collect::<BTreeSet<u64>>(), (0..FULL_BLOCK_REQUESTS).map(own_word).collect());
    // Each names the request whose reply holds it.
    let request_ids: Vec<u8> =
        sqlx::query_scalar("SELECT request_ids FROM search_blocks").fetch_one(&pool).await.unwrap();
    for i in [0, 1, 2, FULL_BLOCK_REQUESTS / 2, FULL_BLOCK_REQUESTS - 1] {
        let p = rare[&own_word(i)] as usize;
        let text: String = sqlx::query_scalar("SELECT reply_text FROM requests WHERE id = ?")
            .bind(&request_ids[p * 16..p * 16 + 16])
            .fetch_one(&pool)
            .await
            .unwrap();
        assert_eq!(text, reply(i));
    }
}

/// A merge's posting rows go in at the end of the table: keyed by block first (a block's id is its
/// newest request's, so ids grow), not by word, where each of a block's few thousand words had a
/// place of its own in a table larger than InnoDB's buffer pool at a million requests (BENCHMARKS.md,
/// "The log writer as its tables grow"). A search finds a word's rows through `search_postings_word`.
#[sqlx::test(migrations = false)]
async fn posting_rows_are_keyed_by_block_first_and_found_by_word_through_an_index(pool: MySqlPool) {
    settings::apply_migrations(&pool).await.unwrap();
    for (index, columns) in
        [("PRIMARY", ["block_id", "word_hash"]), ("search_postings_word", ["word_hash", "block_id"])]
    {
        let parts = index_parts(&pool, "search_postings", index).await;
        assert_eq!(parts.iter().map(|(column, ..)| column.as_str()).collect::<Vec<_>>(), columns, "{index}");
    }
}

/// A block's request ids (16 bytes each) and, per word hash, the positions of the requests it finds.
type Block = (Vec<u8>, Vec<(u64, Vec<u32>)>);

/// Every indexed request with the word hashes it is found by, from recent and full blocks.
async fn index_contents(pool: &MySqlPool) -> BTreeMap<Vec<u8>, BTreeSet<u64>> {
    let mut contents: BTreeMap<Vec<u8>, BTreeSet<u64>> = BTreeMap::new();
    let recent: Vec<(Vec<u8>, Vec<u8>)> =
        sqlx::query_as("SELECT request_ids, postings FROM search_recent").fetch_all(pool).await.unwrap();
    let mut blocks: Vec<Block> = recent
        .into_iter()
        .map(|(ids, postings)| (ids, search_index::decode_block_postings(&postings).unwrap()))
        .collect();
    let full: Vec<(Vec<u8>, Vec<u8>)> =
        sqlx::query_as("SELECT block_id, request_ids FROM search_blocks").fetch_all(pool).await.unwrap();
    for (block_id, ids) in full {
        let rows: Vec<(u64, Vec<u8>)> =
            sqlx::query_as("SELECT word_hash, positions FROM search_postings WHERE block_id = ?")
                .bind(&block_id)
                .fetch_all(pool)
                .await
                .unwrap();
        let mut postings: Vec<(u64, Vec<u32>)> =
            rows.into_iter().map(|(word, p)| (word, search_index::decode_positions(&p).unwrap())).collect();
        let shared: Vec<Vec<u8>> = sqlx::query_scalar("SELECT postings FROM search_rare_postings WHERE block_id = ?")
            .bind(&block_id)
            .fetch_all(pool)
            .await
            .unwrap();
        for rare in shared {
            postings.extend(search_index::decode_block_postings(&rare).unwrap());
        }
        blocks.push((ids, postings));
    }
    for (ids, postings) in blocks {
        for (word, positions) in postings {
            for p in positions {
                let id = ids[p as usize * 16..p as usize * 16 + 16].to_vec();
                contents.entry(id).or_default().insert(word);
            }
        }
    }
    contents
}

/// Makes the database one from before the word index (no index, the newest request noted to
/// backfill from), then runs the backfill to the end. Returns how many chunks it took.
async fn backfill_from_scratch(pool: &MySqlPool) -> usize {
    for table in ["search_recent", "search_blocks", "search_postings", "search_rare_postings"] {
        sqlx::query(&format!("DELETE FROM {table}")).execute(pool).await.unwrap();
    }
    sqlx::query("INSERT INTO search_backfill (id, up_to) SELECT 1, MAX(id) FROM requests").execute(pool).await.unwrap();
    let mut chunks = 0;
    while proxy::search_backfill::index_next_chunk(pool).await.unwrap().is_some() {
        chunks += 1;
    }
    chunks
}

/// The record of a call to `gpt-4o` with these messages, answered with `reply`.
fn chat_turn(messages: &[Value], reply: &str) -> proxy::record::RequestRecord {
    let mut record = proxy::record::RequestRecord::new("POST", "/v1/chat/completions");
    record.http_status = 200;
    record.client_model = Some("gpt-4o".into());
    record.request_body = serde_json::to_vec(&json!({"model": "gpt-4o", "messages": messages})).unwrap().into();
    let answer = json!({"choices": [{"index": 0, "message": {"role": "assistant", "content": reply}}]});
    record.response = proxy::record::ResponseCapture::Body(serde_json::to_vec(&answer).unwrap().into());
    record
}

#[sqlx::test(migrations = false)]
async fn requests_logged_before_the_index_existed_are_indexed_as_the_writer_would_have(pool: MySqlPool) {
    let app = spawn_app(pool.clone()).await;
    // Two chats growing turn by turn, their turns interleaved, a one-off call, and an error.
    let system = json!({"role": "system", "content": "You are a terse assistant."});
    let mut chats: Vec<Vec<Value>> = vec![vec![system.clone()], vec![system]];
    for turn in 0..6 {
        for (c, chat) in chats.iter_mut().enumerate() {
            chat.push(json!({"role": "user", "content": format!("chat{c} question{turn} about lifetimes")}));
            let reply = format!("chat{c} answer{turn} borrowck");
            let record = chat_turn(chat, &reply);
            chat.push(json!({"role": "assistant", "content": reply}));
            app.log.submit(record);
        }
        app.flush().await;
    }
    // Long enough to be stored compressed: the backfill reads it back inflated.
    let one_off = "one-off zebrafish ".repeat(stored_conversation::MIN_COMPRESSED_LEN / 18 + 1);
    let body = json!({"model": "gpt-4o", "messages": [{"role": "user", "content": one_off}]}).to_string();
    app.post_json("/v1/chat/completions", &body, None).await;
    app.post_json("/v1/chat/completions", r#"{"model":"gpt-4o","messages":[]}"#, None).await;
    app.flush().await;
    let compressed: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM message_nodes WHERE content_compressed IS NOT NULL")
        .fetch_one(&pool)
        .await
        .unwrap();
    assert_eq!(compressed, 1, "the one-off's text is stored compressed");
    let written = index_contents(&pool).await;
    assert_eq!(written.len(), 14, "twelve turns, the one-off and the call without messages (the reply) have words");

    assert_eq!(backfill_from_scratch(&pool).await, 1, "chunks");
    assert_eq!(index_contents(&pool).await, written);
    let left: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM search_backfill").fetch_one(&pool).await.unwrap();
    assert_eq!(left, 0, "done: the progress row is gone");
    assert_eq!(proxy::search_backfill::index_next_chunk(&pool).await.unwrap(), None);
    search_blocks_hold_each_stored_request_once(&pool).await;
}

/// A chat edited midway, its two branches continued: the backfill credits each message to the oldest
/// request whose own chain holds it, as the writer did — never a sibling branch's message at the
/// same position, and an edited message even where an older request had reached its position.
#[sqlx::test(migrations = false)]
async fn the_backfill_credits_messages_along_each_requests_own_branch(pool: MySqlPool) {
    let app = spawn_app(pool.clone()).await;
    let message = |role: &str, content: &str| json!({"role": role, "content": content});
    let grown = |before: &[Value], more: &[Value]| [before, more].concat();
    let start = [message("system", "You answer briefly."), message("user", "first question")];
    let asked = grown(&start, &[message("assistant", "first answer"), message("user", "second question")]);
    let edited = grown(&asked[..3], &[message("user", "second question, edited")]);
    let edited_on = grown(&edited, &[message("assistant", "branch answer"), message("user", "then kiwi")]);
    let kept_on = grown(&asked, &[message("assistant", "kept answer"), message("user", "then mango")]);
    // Each turn stored before the next is sent; the edited branch's six messages before the kept one's.
    for messages in [&start[..], &asked, &edited, &edited_on, &kept_on] {
        app.log.submit(chat_turn(messages, "ok"));
        app.flush().await;
    }
    let written = index_contents(&pool).await;
    let ids: Vec<Vec<u8>> = sqlx::query_scalar("SELECT id FROM requests ORDER BY id").fetch_all(&pool).await.unwrap();
    let word = |text: &str| {
        let mut words = std::collections::HashSet::new();
        search_index::word_hashes(text, &mut words);
        words.into_iter().next().unwrap()
    };
    let found_by = |contents: &BTreeMap<Vec<u8>, BTreeSet<u64>>, text: &str| -> Vec<usize> {
        (0..ids.len()).filter(|&i| contents[&ids[i]].contains(&word(text))).collect()
    };
    assert_eq!(found_by(&written, "edited"), [2]);
    assert_eq!(found_by(&written, "kiwi"), [3]);
    assert_eq!(found_by(&written, "mango"), [4]);

    backfill_from_scratch(&pool).await;
    let backfilled = index_contents(&pool).await;
    assert_eq!(found_by(&backfilled, "mango"), [4], "not the edited branch's turn at the same position");
    assert_eq!(found_by(&backfilled, "edited"), [2], "where an older turn had reached its position");
    assert_eq!(backfilled, written);
}

/// One batch per record, a chat's turns one after the other: each batch is written while the one
/// before it, which carries the same messages, is still in its transaction (the writer has two in
/// flight). Every turn is stored whole, once; the rollups count each once; and a user message's
/// words find only the turn that sent it, not the next one, which saw it before MySQL held it.
#[sqlx::test(migrations = false)]
async fn turns_written_while_the_batch_before_them_is_in_flight_are_stored_and_credited_once(pool: MySqlPool) {
    let app = crate::helpers::spawn_app_with(pool.clone(), &[("LOG_BATCH_MAX_ROWS", "1")]).await;
    let system = json!({"role": "system", "content": "You review pull requests."});
    let mut turns: Vec<(Vec<u8>, String)> = Vec::new();
    for chat in 0..3 {
        let mut messages = vec![system.clone()];
        for turn in 0..15 {
            let asked = format!("chat{chat}turn{turn}question");
            messages.push(json!({"role": "user", "content": format!("{asked} about the diff")}));
            let reply = format!("reply {chat} {turn}");
            let record = chat_turn(&messages, &reply);
            messages.push(json!({"role": "assistant", "content": reply}));
            turns.push((record.id.as_bytes().to_vec(), asked));
            app.log.submit(record);
        }
    }
    let logged = app.logged_requests().await;

    assert_eq!(logged.len(), 45);
    for request in &logged {
        let turn = turns.iter().position(|(id, _)| *id == request.id).unwrap() % 15;
        assert_eq!(request.messages.len(), 2 + 2 * turn, "the whole conversation of turn {turn}");
    }
    let status = app.log.status();
    assert_eq!((status.written, status.rejected_by_database), (45, 0));
    assert_eq!(status.last_database_error, None, "no batch failed (a deadlock would)");
    crate::log_pipeline::rollups_match_rows(&pool).await;
    assert_eq!(search_blocks_hold_each_stored_request_once(&pool).await, 45);
    let index = index_contents(&pool).await;
    for (id, asked) in &turns {
        let mut word = std::collections::HashSet::new();
        search_index::word_hashes(asked, &mut word);
        let word = word.into_iter().next().unwrap();
        let found: Vec<&Vec<u8>> = index.iter().filter(|(_, words)| words.contains(&word)).map(|(id, _)| id).collect();
        assert_eq!(found, [id], "{asked} finds the turn that asked it, only");
    }
}
