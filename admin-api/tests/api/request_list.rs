use chrono::TimeDelta;
use proxy::record::Outcome;
use serde_json::{json, Value};
use sqlx::MySqlPool;

use crate::helpers::{at, error_code, seed, spawn_admin, Seed};

const PAGE: &str = "query($page: Int!, $pageSize: Int!, $filter: RequestFilter) { requests(page: $page, \
    pageSize: $pageSize, filter: $filter) { totalCount page pageSize pageCount hasNextPage hasPreviousPage \
    items { id startedAt clientModel upstreamModel stream outcome httpStatus preview totalTokens usageSource } } }";

/// 45 requests, one a minute, with every third streamed and a few errors, two models.
fn traffic() -> Vec<Seed> {
    (0..45)
        .map(|i| {
            let mut s = Seed::new(
                at("2026-05-01T10:30:00Z") + TimeDelta::minutes(i),
                if i % 2 == 0 { "gpt-4o" } else { "gpt-4o-mini" },
            );
            s.upstream_model = if i % 2 == 0 { "claude-3-5-sonnet-20241022" } else { "claude-3-5-haiku-20241022" };
            s.stream = i % 3 == 0;
            if i % 10 == 3 {
                (s.status, s.outcome) = (500, Outcome::Error);
            }
            if i == 7 {
                (s.status, s.outcome) = (499, Outcome::Cancelled);
            }
            s.user_text = format!("question number {i} about {}", if i % 5 == 0 { "kubernetes" } else { "rust" });
            s.reply_text = if i == 44 { "try the borrowchecker".into() } else { format!("answer {i}") };
            s
        })
        .collect()
}

fn ids(page: &Value) -> Vec<String> {
    page["requests"]["items"].as_array().unwrap().iter().map(|i| i["id"].as_str().unwrap().to_string()).collect()
}

/// Ids of the rows matching `condition`, newest first, straight from SQL.
async fn sql_ids(pool: &MySqlPool, condition: &str) -> Vec<String> {
    let query = format!("SELECT id FROM requests WHERE {condition} ORDER BY started_at DESC, id DESC");
    let rows: Vec<Vec<u8>> = sqlx::query_scalar(&query).fetch_all(pool).await.unwrap();
    rows.iter().map(|id| uuid::Uuid::from_slice(id).unwrap().to_string()).collect()
}

#[sqlx::test(migrations = false)]
async fn pages_walk_the_list_newest_first_with_a_partial_last_page(pool: MySqlPool) {
    seed(&pool, &traffic()).await;
    let admin = spawn_admin(pool.clone()).await;
    let all = sql_ids(&pool, "1 = 1").await;

    let first = admin.data(PAGE, json!({"page": 1, "pageSize": 20})).await;
    let last = admin.data(PAGE, json!({"page": 3, "pageSize": 20})).await;
    let beyond = admin.data(PAGE, json!({"page": 4, "pageSize": 20})).await;

    assert_eq!(ids(&first), all[..20]);
    assert_eq!(first["requests"]["totalCount"], 45);
    assert_eq!(first["requests"]["pageCount"], 3);
    assert_eq!(
        (first["requests"]["hasNextPage"].as_bool(), first["requests"]["hasPreviousPage"].as_bool()),
        (Some(true), Some(false))
    );
    assert_eq!(ids(&last), all[40..], "the last page holds the remaining 5");
    assert_eq!(last["requests"]["hasNextPage"], false);
    assert_eq!(ids(&beyond), Vec::<String>::new(), "a page past the end is empty, not an error");
    assert_eq!(beyond["requests"]["totalCount"], 45);
    let item = &first["requests"]["items"][0];
    assert_eq!(item["preview"], "question number 44 about rust");
    assert_eq!(item["usageSource"], "UPSTREAM");
    assert_eq!(item["totalTokens"], 15);
}

#[sqlx::test(migrations = false)]
async fn an_empty_database_has_an_empty_first_page(pool: MySqlPool) {
    let admin = spawn_admin(pool).await;

    let page = admin.data(PAGE, json!({"page": 1, "pageSize": 10})).await;

    assert_eq!(page["requests"]["totalCount"], 0);
    assert_eq!(page["requests"]["pageCount"], 0);
    assert_eq!(page["requests"]["items"], json!([]));
}

#[sqlx::test(migrations = false)]
async fn page_sizes_other_than_the_offered_ones_are_bad_user_input(pool: MySqlPool) {
    let admin = spawn_admin(pool).await;

    for size in [10, 20, 50, 100, 200] {
        let page = admin.query(PAGE, json!({"page": 1, "pageSize": size})).await;
        assert!(page.get("errors").is_none(), "{size}: {page}");
    }
    for (page, size) in [(1, 15), (1, 500), (1, 0), (0, 20), (-3, 20)] {
        let response = admin.query(PAGE, json!({"page": page, "pageSize": size})).await;
        assert_eq!(error_code(&response), "BAD_USER_INPUT", "{page}/{size}: {response}");
        assert!(response["data"].is_null());
    }
}

#[sqlx::test(migrations = false)]
async fn each_filter_selects_what_sql_selects_and_counts_it(pool: MySqlPool) {
    seed(&pool, &traffic()).await;
    let admin = spawn_admin(pool.clone()).await;

    let cases = [
        (json!({"model": "gpt-4o"}), "client_model = 'gpt-4o' OR upstream_model = 'gpt-4o'"),
        (json!({"model": "claude-3-5-haiku-20241022"}), "upstream_model = 'claude-3-5-haiku-20241022'"),
        (json!({"clientModel": "gpt-4o-mini"}), "client_model = 'gpt-4o-mini'"),
        (json!({"upstreamModel": "claude-3-5-sonnet-20241022"}), "upstream_model = 'claude-3-5-sonnet-20241022'"),
        (json!({"outcome": "ERROR"}), "outcome = 'error'"),
        (json!({"outcome": "CANCELLED"}), "outcome = 'cancelled'"),
        (json!({"outcome": "OK"}), "outcome = 'ok'"),
        (json!({"stream": true}), "is_stream"),
        (json!({"stream": false}), "NOT is_stream"),
        (
            json!({"range": {"from": "2026-05-01T10:45:30Z", "to": "2026-05-01T11:02:00Z"}}),
            "started_at >= '2026-05-01 10:45:30' AND started_at < '2026-05-01 11:02:00'",
        ),
        (json!({"search": "kubernetes"}), "last_user_message_preview LIKE '%kubernetes%'"),
        (json!({"search": "borrowchecker"}), "reply_text LIKE '%borrowchecker%'"),
        (
            json!({"search": "kubernetes", "clientModel": "gpt-4o"}),
            "last_user_message_preview LIKE '%kubernetes%' AND client_model = 'gpt-4o'",
        ),
        (json!({"search": "Kubernetes? (-question)"}), "last_user_message_preview LIKE '%kubernetes%'"),
        // With a text search, the other filters are read from the word index.
        (
            json!({"search": "rust", "model": "claude-3-5-haiku-20241022"}),
            "last_user_message_preview LIKE '%rust%' AND upstream_model = 'claude-3-5-haiku-20241022'",
        ),
        (
            json!({"search": "kubernetes", "upstreamModel": "claude-3-5-sonnet-20241022", "stream": true}),
            "last_user_message_preview LIKE '%kubernetes%' AND upstream_model = 'claude-3-5-sonnet-20241022' AND is_stream",
        ),
        (json!({"search": "rust", "outcome": "ERROR"}), "last_user_message_preview LIKE '%rust%' AND outcome = 'error'"),
        (json!({"search": "rust", "stream": false}), "last_user_message_preview LIKE '%rust%' AND NOT is_stream"),
        (
            json!({"search": "kubernetes", "clientModel": "GPT-4O"}),
            "last_user_message_preview LIKE '%kubernetes%' AND client_model = 'gpt-4o'",
        ),
        (
            json!({"search": "question", "range": {"from": "2026-05-01T10:45:00Z", "to": "2026-05-01T11:02:00Z"}}),
            "started_at >= '2026-05-01 10:45:00' AND started_at < '2026-05-01 11:02:00'",
        ),
        (
            json!({"stream": true, "clientModel": "gpt-4o", "range": {"from": "2026-05-01T10:40:00Z"}}),
            "is_stream AND client_model = 'gpt-4o' AND started_at >= '2026-05-01 10:40:00'",
        ),
    ];
    for (filter, condition) in cases {
        let expected = sql_ids(&pool, condition).await;
        assert!(!expected.is_empty(), "the fixture has rows for {condition}");
        let page = admin.data(PAGE, json!({"page": 1, "pageSize": 50, "filter": filter})).await;
        assert_eq!(ids(&page), expected, "{filter}");
        assert_eq!(page["requests"]["totalCount"], expected.len(), "{filter}");
    }
}

#[sqlx::test(migrations = false)]
async fn search_finds_the_turn_that_sent_the_words_not_the_later_turns_that_repeat_them(pool: MySqlPool) {
    let system = json!({"role": "system", "content": "You are terse."});
    let turn = |i: i64, messages: Value| {
        let mut record = Seed::new(at("2026-05-02T09:00:00Z") + TimeDelta::minutes(i), "gpt-4o").record();
        record.request_body = serde_json::to_vec(&json!({"model": "gpt-4o", "messages": messages})).unwrap().into();
        record
    };
    let first = json!({"role": "user", "content": "my zebrafish tank leaks"});
    let other = json!({"role": "user", "content": "unrelated question about sharks"});
    let records = vec![
        turn(0, json!([system, first])),
        turn(1, json!([system, other])),
        turn(
            2,
            json!([system, first, {"role": "assistant", "content": "fix the seal"}, {"role": "user", "content": "how?"}]),
        ),
        turn(
            3,
            json!([system, other, {"role": "assistant", "content": "sharks swim"}, {"role": "user", "content": "more"}]),
        ),
    ];
    let turns: Vec<String> = records.iter().map(|r| r.id.to_string()).collect();
    crate::helpers::write_records(&pool, records).await;
    let admin = spawn_admin(pool).await;
    let search = |text: &'static str| {
        let admin = &admin;
        async move {
            let page = admin.data(PAGE, json!({"page": 1, "pageSize": 10, "filter": {"search": text}})).await;
            assert_eq!(page["requests"]["totalCount"], ids(&page).len(), "{text}");
            ids(&page)
        }
    };

    assert_eq!(search("zebrafish").await, [turns[0].clone()], "turn 2 repeats it as history");
    assert_eq!(search("SEAL").await, [turns[2].clone()], "turn 2 sent it first");
    assert_eq!(search("sharks").await, [turns[3].clone(), turns[1].clone()], "a later turn's own message");
    assert_eq!(search("kenobi").await.len(), 4, "every seeded reply says it");
    assert_eq!(search("zebrafish kenobi").await, [turns[0].clone()], "one word in a message, one in the reply");
    assert_eq!(search("zebrafish sharks").await, Vec::<String>::new(), "every word must occur");
    assert_eq!(search("terse").await, Vec::<String>::new(), "system prompts are not searched");
    assert_eq!(search("a ?").await, Vec::<String>::new(), "no word to look for");
}

const COUNTED_PAGE: &str = "query($page: Int!, $filter: RequestFilter) { requests(page: $page, pageSize: 200, \
    filter: $filter) { totalCount totalCountIsLowerBound pageCount items { id } } }";

#[sqlx::test(migrations = false)]
async fn a_search_lists_at_most_the_newest_ten_thousand_matches_and_says_more_exist(pool: MySqlPool) {
    // 20,050 requests a second apart; all questions hold "answer", every 1,000th reply "needle",
    // every seventh is an error (no reply).
    let seeds: Vec<Seed> = (0..20_050)
        .map(|i| {
            let mut s = Seed::new(at("2026-05-05T00:00:00Z") + TimeDelta::seconds(i), "gpt-4o");
            s.user_text = format!("question {i} wants an answer");
            s.reply_text = if i % 1000 == 0 { format!("reply {i} needle") } else { format!("reply {i}") };
            // A single request of its block holds it in the oldest block, two in a later one.
            if [3, 15_000, 15_002].contains(&i) {
                s.reply_text.push_str(" walrus");
            }
            if i % 7 == 0 {
                (s.status, s.outcome) = (500, Outcome::Error);
            }
            s
        })
        .collect();
    // Batches of 20, merged into blocks of about 1,000 with some left in recent blocks: the search
    // reads both, the full blocks in several rounds, and stops between them.
    crate::helpers::write_records_in_batches(&pool, seeds.iter().map(Seed::record).collect(), 20).await;
    let admin = spawn_admin(pool.clone()).await;

    let newest = sql_ids(&pool, "1 = 1").await;
    let first = admin.data(COUNTED_PAGE, json!({"page": 1, "filter": {"search": "answer"}})).await;
    assert_eq!(first["requests"]["totalCount"], 10_000);
    assert_eq!(first["requests"]["totalCountIsLowerBound"], true);
    assert_eq!(first["requests"]["pageCount"], 50);
    assert_eq!(ids(&first), newest[..200]);
    let last = admin.data(COUNTED_PAGE, json!({"page": 50, "filter": {"search": "answer"}})).await;
    assert_eq!(ids(&last), newest[9_800..10_000]);
    let beyond = admin.data(COUNTED_PAGE, json!({"page": 51, "filter": {"search": "answer"}})).await;
    assert_eq!(ids(&beyond), Vec::<String>::new());

    for (filter, condition) in [
        (json!({"search": "needle"}), "reply_text LIKE '%needle%'"),
        (json!({"search": "answer needle"}), "reply_text LIKE '%needle%'"),
        // Words of a single request of their block, kept in shared rows: alone, leading, following.
        (json!({"search": "12345"}), "reply_text = 'reply 12345'"),
        (json!({"search": "12345 answer"}), "reply_text = 'reply 12345'"),
        (json!({"search": "12345 needle"}), "FALSE"),
        (json!({"search": "walrus"}), "reply_text LIKE '%walrus%'"),
        (json!({"search": "walrus needle"}), "reply_text LIKE '%walrus%needle%' OR reply_text LIKE '%needle%walrus%'"),
        (json!({"search": "walrus 15002"}), "reply_text = 'reply 15002 walrus'"),
        (json!({"search": "answer", "outcome": "ERROR"}), "outcome = 'error'"),
        (
            json!({"search": "answer", "range": {"from": "2026-05-05T01:00:00Z", "to": "2026-05-05T01:30:00Z"}}),
            "started_at >= '2026-05-05 01:00:00' AND started_at < '2026-05-05 01:30:00'",
        ),
    ] {
        let expected = sql_ids(&pool, condition).await;
        let mut walked = Vec::new();
        for page in 1..=expected.len().div_ceil(200).max(1) {
            let found = admin.data(COUNTED_PAGE, json!({"page": page, "filter": filter})).await;
            assert_eq!(found["requests"]["totalCount"], expected.len(), "{filter}");
            assert_eq!(found["requests"]["totalCountIsLowerBound"], false, "{filter}");
            walked.extend(ids(&found));
        }
        assert_eq!(walked, expected, "{filter}");
    }
}

/// At a request a minute, a full block of the word index (2,000 requests merged from small
/// batches) spans 33 hours: a search whose range ends in its oldest hours must still read it.
#[sqlx::test(migrations = false)]
async fn a_search_whose_range_ends_early_in_a_block_spanning_many_hours_finds_its_requests(pool: MySqlPool) {
    let seeds: Vec<Seed> =
        (0..2_100).map(|i| Seed::new(at("2026-05-06T00:00:00Z") + TimeDelta::minutes(i), "gpt-4o")).collect();
    crate::helpers::write_records_in_batches(&pool, seeds.iter().map(Seed::record).collect(), 20).await;
    let full_blocks: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM search_blocks").fetch_one(&pool).await.unwrap();
    assert_eq!(full_blocks, 1, "the first 2,000 requests merged into one block");
    let admin = spawn_admin(pool.clone()).await;

    let filter = json!({"search": "kenobi", "range": {"from": "2026-05-06T02:00:00Z", "to": "2026-05-06T03:00:00Z"}});
    let found = admin.data(COUNTED_PAGE, json!({"page": 1, "filter": filter})).await;

    let expected = sql_ids(&pool, "started_at >= '2026-05-06 02:00:00' AND started_at < '2026-05-06 03:00:00'").await;
    assert_eq!(expected.len(), 60);
    assert_eq!(ids(&found), expected);
    assert_eq!(found["requests"]["totalCount"], 60);
}

#[sqlx::test(migrations = false)]
async fn walking_every_page_across_many_hours_gives_each_request_once_in_order(pool: MySqlPool) {
    let seeds: Vec<Seed> = (0..150)
        .map(|i| {
            let mut s = Seed::new(at("2026-05-03T00:10:00Z") + TimeDelta::minutes(i * 13), "gpt-4o");
            s.stream = i % 3 != 0;
            // A model used now and then: its pages span hours without it.
            if i % 11 == 4 {
                s.client_model = "o1";
            }
            s
        })
        .collect();
    seed(&pool, &seeds).await;
    let admin = spawn_admin(pool.clone()).await;

    for (filter, condition) in [
        (json!(null), "1 = 1"),
        (json!({"stream": true}), "is_stream"),
        (json!({"clientModel": "o1"}), "client_model = 'o1'"),
        (json!({"outcome": "OK", "clientModel": "gpt-4o"}), "outcome = 'ok' AND client_model = 'gpt-4o'"),
        (
            json!({"stream": true, "range": {"from": "2026-05-03T05:20:00Z", "to": "2026-05-04T07:50:00Z"}}),
            "is_stream AND started_at >= '2026-05-03 05:20:00' AND started_at < '2026-05-04 07:50:00'",
        ),
    ] {
        let expected = sql_ids(&pool, condition).await;
        let mut walked = Vec::new();
        for page in 1..=(expected.len() / 10 + 1) {
            walked.extend(ids(&admin.data(PAGE, json!({"page": page, "pageSize": 10, "filter": filter})).await));
        }
        assert_eq!(walked, expected, "{filter}");
    }
}
