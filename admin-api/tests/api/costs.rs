//! Costs: hand-computed cases (cache read and write, estimated usage, a price change inside the
//! range, unknown models), reports against independent SQL, price edits, and the HTTP export.

use chrono::TimeDelta;
use proxy::record::Outcome;
use serde_json::{json, Value};
use sqlx::MySqlPool;

use crate::helpers::{at, error_code, seed, spawn_admin, Seed, TestAdmin, TOKEN};

const RANGE: (&str, &str) = ("2025-06-09T00:00:00Z", "2025-06-11T00:00:00Z");

/// Each case's hand-computed cost is in its comment (prices from the seeded price table).
pub fn cases() -> Vec<Seed> {
    // A: claude-sonnet-4 snapshot ($3 in, $15 out, $0.30 cache read, $3.75 cache write):
    //    500 × 3 + 8,000 × 0.30 + 1,500 × 3.75 + 200 × 15 = 12,525 µ$ = $0.012525
    let mut a = Seed::new(at("2025-06-10T09:15:00Z"), "gpt-4o");
    a.upstream_model = "claude-sonnet-4-20250514";
    (a.usage, a.cache_write, a.client_key) = (Some((10_000, 200, 8_000)), 1_500, Some("key-0a1b2c3d"));
    // B: o3 on the last day of its launch price ($10 in): 1M in = $10
    let mut b = Seed::new(at("2025-06-09T23:30:00Z"), "o3");
    (b.upstream_model, b.usage) = ("o3", Some((1_000_000, 0, 0)));
    // C: o3 on the day of the cut ($2 in): 1M in = $2
    let mut c = Seed::new(at("2025-06-10T00:10:00Z"), "o3");
    (c.upstream_model, c.usage, c.endpoint) = ("o3", Some((1_000_000, 0, 0)), "/v1/completions");
    // D: gpt-4o-mini ($0.15 in, $0.60 out) without usage from the upstream: estimated from the
    //    text. System "You are terse." (14 chars → 4) + user "hello there" (11 → 3) + 4 per
    //    message = 15 in; reply "general kenobi" (14 → 4) out. 15 × 0.15 + 4 × 0.60 = 4.65 µ$
    let mut d = Seed::new(at("2025-06-10T12:00:00Z"), "gpt-4o-mini");
    (d.upstream_model, d.usage) = ("gpt-4o-mini", None);
    // E: a model without a price.
    let mut e = Seed::new(at("2025-06-10T13:00:00Z"), "mystery");
    (e.upstream_model, e.usage) = ("mystery-1", Some((100, 100, 0)));
    // F: refused by the upstream: no usage, no cost.
    let mut f = Seed::new(at("2025-06-10T14:00:00Z"), "o3");
    (f.upstream_model, f.status, f.outcome, f.usage) = ("o3", 429, Outcome::Error, None);
    vec![a, b, c, d, e, f]
}

fn close(actual: &Value, expected: f64) -> bool {
    actual.as_f64().is_some_and(|a| (a - expected).abs() < 1e-12)
}

fn range() -> Value {
    json!({"from": RANGE.0, "to": RANGE.1})
}

async fn report(admin: &TestAdmin, group_by: &str) -> Value {
    admin
        .data(
            "query($g: CostGrouping!, $r: TimeRange) { costReport(groupBy: $g, range: $r) { rows { key bucketStart \
             requests promptTokens cachedTokens cacheWriteTokens cost { measuredUsd estimatedUsd requests \
             unpricedRequests unpricedModels } } total { requests cost { measuredUsd estimatedUsd unpricedRequests \
             unpricedModels } } } }",
            json!({"g": group_by, "r": range()}),
        )
        .await["costReport"]
        .clone()
}

fn row<'a>(report: &'a Value, key: &str) -> &'a Value {
    report["rows"].as_array().unwrap().iter().find(|r| r["key"] == key).unwrap_or_else(|| panic!("{key} in {report}"))
}

#[sqlx::test(migrations = false)]
async fn each_request_costs_what_was_computed_by_hand(pool: MySqlPool) {
    let seeds = cases();
    seed(&pool, &seeds).await;
    let admin = spawn_admin(pool).await;
    let page = admin
        .data(
            "{ requests(pageSize: 10, filter: {range: {from: \"2025-06-01T00:00:00Z\"}}) { items { startedAt \
             upstreamModel usageSource clientKey cacheWriteTokens cost { status usd inputUsd cachedInputUsd \
             cacheWriteUsd outputUsd price { model effectiveFrom inputPerMTokUsd } } } } }",
            json!({}),
        )
        .await;
    let items = page["requests"]["items"].as_array().unwrap();
    let by_time = |seed: &Seed| {
        items.iter().find(|i| i["startedAt"].as_str().map(crate::helpers::at) == Some(seed.started_at)).unwrap()
    };
    let a = by_time(&seeds[0]);
    assert_eq!(a["cost"]["status"], "MEASURED");
    assert!(close(&a["cost"]["usd"], 0.012525), "{a}");
    assert!(close(&a["cost"]["inputUsd"], 0.0015));
    assert!(close(&a["cost"]["cachedInputUsd"], 0.0024));
    assert!(close(&a["cost"]["cacheWriteUsd"], 0.005625));
    assert!(close(&a["cost"]["outputUsd"], 0.003));
    assert_eq!(a["cost"]["price"]["model"], "claude-sonnet-4", "the snapshot is priced as its model");
    assert_eq!((&a["clientKey"], &a["cacheWriteTokens"]), (&json!("key-0a1b2c3d"), &json!(1500)));
    assert!(close(&by_time(&seeds[1])["cost"]["usd"], 10.0));
    assert_eq!(by_time(&seeds[1])["cost"]["price"]["effectiveFrom"], "2025-04-16");
    assert!(close(&by_time(&seeds[2])["cost"]["usd"], 2.0));
    let d = by_time(&seeds[3]);
    assert_eq!((&d["usageSource"], &d["cost"]["status"]), (&json!("ESTIMATED"), &json!("ESTIMATED")));
    assert!(close(&d["cost"]["usd"], 0.00000465), "{d}");
    let e = by_time(&seeds[4]);
    assert_eq!((&e["cost"]["status"], &e["cost"]["usd"]), (&json!("NO_PRICE"), &Value::Null), "no price, not $0");
    let f = by_time(&seeds[5]);
    assert_eq!((&f["cost"]["status"], &f["cost"]["usd"]), (&json!("NO_USAGE"), &Value::Null));
}

#[sqlx::test(migrations = false)]
async fn reports_group_the_hand_computed_costs_and_follow_a_price_change(pool: MySqlPool) {
    seed(&pool, &cases()).await;
    let admin = spawn_admin(pool).await;

    let by_model = report(&admin, "MODEL").await;
    assert!(close(&row(&by_model, "o3")["cost"]["measuredUsd"], 12.0), "a range across the price cut: {by_model}");
    assert_eq!(row(&by_model, "o3")["requests"], 3, "the refused call counts as a request");
    assert!(close(&row(&by_model, "claude-sonnet-4-20250514")["cost"]["measuredUsd"], 0.012525));
    let mini = row(&by_model, "gpt-4o-mini");
    assert!(close(&mini["cost"]["estimatedUsd"], 0.00000465) && close(&mini["cost"]["measuredUsd"], 0.0));
    assert_eq!(row(&by_model, "mystery-1")["cost"]["unpricedRequests"], 1);
    assert_eq!(by_model["rows"][0]["key"], "o3", "costliest first");
    let total = &by_model["total"];
    assert!(close(&total["cost"]["measuredUsd"], 12.012525) && close(&total["cost"]["estimatedUsd"], 0.00000465));
    assert_eq!((&total["requests"], &total["cost"]["unpricedModels"]), (&json!(6), &json!(["mystery-1"])));

    let by_day = report(&admin, "DAY").await;
    let keys: Vec<&str> = by_day["rows"].as_array().unwrap().iter().map(|r| r["key"].as_str().unwrap()).collect();
    assert_eq!(keys, ["2025-06-09T00:00:00Z", "2025-06-10T00:00:00Z"]);
    assert!(close(&by_day["rows"][0]["cost"]["measuredUsd"], 10.0));
    assert!(close(&by_day["rows"][1]["cost"]["measuredUsd"], 2.012525));
    let by_hour = report(&admin, "HOUR").await;
    assert!(close(&row(&by_hour, "2025-06-10T09:00:00Z")["cost"]["measuredUsd"], 0.012525));
    let by_key = report(&admin, "CLIENT_KEY").await;
    assert!(close(&row(&by_key, "key-0a1b2c3d")["cost"]["measuredUsd"], 0.012525));
    assert_eq!(row(&by_key, "")["requests"], 5, "calls made without a client key");
    let by_endpoint = report(&admin, "ENDPOINT").await;
    assert!(close(&row(&by_endpoint, "/v1/completions")["cost"]["measuredUsd"], 2.0));
    let by_week = report(&admin, "WEEK").await;
    assert_eq!(by_week["rows"].as_array().unwrap().len(), 1, "2025-06-09 is a Monday: {by_week}");
    let by_month = report(&admin, "MONTH").await;
    assert!(close(&row(&by_month, "2025-06-01T00:00:00Z")["cost"]["measuredUsd"], 12.012525));

    // Correct the o3 price of 2025-06-10 (to $1 in): every figure follows at once.
    let set = admin
        .data(
            "mutation { setPrice(price: {model: \"o3\", effectiveFrom: \"2025-06-10\", inputPerMTokUsd: 1, \
             outputPerMTokUsd: 4, cacheReadPerMTokUsd: 0.25}) { model effectiveFrom inputPerMTokUsd \
             cacheWritePerMTokUsd updatedAt } }",
            json!({}),
        )
        .await;
    assert_eq!(set["setPrice"]["inputPerMTokUsd"], 1.0);
    assert_eq!(set["setPrice"]["cacheWritePerMTokUsd"], Value::Null);
    let by_model = report(&admin, "MODEL").await;
    assert!(close(&row(&by_model, "o3")["cost"]["measuredUsd"], 11.0), "{by_model}");
    // A price for the unknown model makes it priced.
    admin
        .data(
            "mutation { setPrice(price: {model: \"mystery-1\", effectiveFrom: \"2025-01-01\", inputPerMTokUsd: 100, \
             outputPerMTokUsd: 100}) { model } }",
            json!({}),
        )
        .await;
    let total = &report(&admin, "MODEL").await["total"];
    assert!(close(&total["cost"]["measuredUsd"], 11.012525 + 0.02), "{total}");
    assert_eq!(total["cost"]["unpricedRequests"], 0);
    let deleted =
        admin.data("mutation { deletePrice(model: \"mystery-1\", effectiveFrom: \"2025-01-01\") }", json!({})).await;
    assert_eq!(deleted["deletePrice"], true);
    assert_eq!(report(&admin, "MODEL").await["total"]["cost"]["unpricedRequests"], 1);

    let refused = admin
        .query(
            "mutation { setPrice(price: {model: \"o3\", effectiveFrom: \"2025-06-10\", inputPerMTokUsd: -1, \
             outputPerMTokUsd: 4}) { model } }",
            json!({}),
        )
        .await;
    assert_eq!(error_code(&refused), "BAD_USER_INPUT", "{refused}");
}

#[sqlx::test(migrations = false)]
async fn the_overview_model_stats_and_top_lists_carry_costs(pool: MySqlPool) {
    let seeds = cases();
    seed(&pool, &seeds).await;
    let admin = spawn_admin(pool).await;
    let data = admin
        .data(
            "query($r: TimeRange) { overview(range: $r) { totals { cost { measuredUsd estimatedUsd unpricedRequests } } \
             models { model cost { measuredUsd estimatedUsd } } } topRequests(range: $r, limit: 3) { startedAt \
             cost { usd } } topConversations(range: $r) { title cost { measuredUsd estimatedUsd requests } \
             latestRequestId } }",
            json!({"r": range()}),
        )
        .await;
    let totals = &data["overview"]["totals"]["cost"];
    assert!(close(&totals["measuredUsd"], 12.012525) && close(&totals["estimatedUsd"], 0.00000465), "{totals}");
    assert_eq!(totals["unpricedRequests"], 1);
    let models = data["overview"]["models"].as_array().unwrap();
    let o3 = models.iter().find(|m| m["model"] == "o3").unwrap();
    assert!(close(&o3["cost"]["measuredUsd"], 12.0));

    let top: Vec<(String, f64)> = data["topRequests"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| (r["startedAt"].as_str().unwrap().to_string(), r["cost"]["usd"].as_f64().unwrap()))
        .collect();
    assert_eq!(top.len(), 3);
    assert_eq!(crate::helpers::at(&top[0].0), seeds[1].started_at);
    assert_eq!(crate::helpers::at(&top[1].0), seeds[2].started_at);
    assert_eq!(crate::helpers::at(&top[2].0), seeds[0].started_at);
    // Every seed is its own conversation (the same first user message, but "hello there" is shared:
    // the seeds share a conversation id, so they are one conversation).
    let conversations = data["topConversations"].as_array().unwrap();
    assert_eq!(conversations.len(), 1, "{conversations:?}");
    assert_eq!(conversations[0]["title"], "hello there");
    assert!(close(&conversations[0]["cost"]["measuredUsd"], 12.012525));
    assert!(close(&conversations[0]["cost"]["estimatedUsd"], 0.00000465));
    assert_eq!(conversations[0]["cost"]["requests"], 6);
}

/// Realistic traffic over several days, with snapshot names and partial hours at the range ends.
fn traffic() -> Vec<Seed> {
    let models = [
        ("gpt-4o", "claude-3-5-sonnet-20241022"),
        ("gpt-4o-mini", "claude-3-5-haiku-20241022"),
        ("o3", "o3"),
        ("gpt-4.1", "gpt-4.1"),
        ("private", "private-model"),
    ];
    let start = at("2025-06-08T07:40:00Z");
    (0..150i64)
        .map(|i| {
            let (client, upstream) = models[(i % 5) as usize];
            let mut s = Seed::new(start + TimeDelta::minutes(i * 41) + TimeDelta::seconds(i % 13), client);
            s.upstream_model = upstream;
            s.usage = if i % 9 == 0 { None } else { Some((1_000 + i * 37, 50 + i % 17, (i % 4) * 100)) };
            s.cache_write = (i % 3) * 10;
            s.client_key = [None, Some("key-11111111"), Some("key-22222222")][(i % 3) as usize];
            s.endpoint = if i % 7 == 0 { "/v1/completions" } else { "/v1/chat/completions" };
            if i % 23 == 0 {
                (s.status, s.outcome, s.usage) = (500, Outcome::Error, None);
            }
            s
        })
        .collect()
}

#[sqlx::test(migrations = false)]
async fn report_groups_equal_an_independent_sql_computation(pool: MySqlPool) {
    seed(&pool, &traffic()).await;
    let admin = spawn_admin(pool.clone()).await;
    let (from, to) = ("2025-06-08T09:25:00Z", "2025-06-11T20:40:00Z");
    // Picodollars per group straight from the rows: price of the model (or its name without a
    // -YYYYMMDD suffix) with the latest effective date on or before the request's day.
    let sql =
        "SELECT {group}, usage_source, CAST(SUM((GREATEST(COALESCE(prompt_tokens, 0) - COALESCE(cached_tokens, 0) \
         - COALESCE(cache_write_tokens, 0), 0) * p.input_per_mtok_micros \
         + COALESCE(cached_tokens, 0) * COALESCE(p.cache_read_per_mtok_micros, p.input_per_mtok_micros) \
         + COALESCE(cache_write_tokens, 0) * COALESCE(p.cache_write_per_mtok_micros, p.input_per_mtok_micros) \
         + COALESCE(completion_tokens, 0) * p.output_per_mtok_micros)) AS CHAR) \
         FROM requests r JOIN model_prices p ON p.model = REGEXP_REPLACE(r.upstream_model, '-[0-9]{8}$', '') \
         AND p.effective_from = (SELECT MAX(effective_from) FROM model_prices q WHERE q.model = p.model \
         AND q.effective_from <= DATE(r.started_at)) \
         WHERE r.started_at >= ? AND r.started_at < ? AND usage_source <> 'none' GROUP BY 1, 2";
    for (grouping, column) in [
        ("MODEL", "r.upstream_model"),
        ("CLIENT_KEY", "COALESCE(r.client_key, '')"),
        ("ENDPOINT", "r.endpoint"),
        ("DAY", "DATE_FORMAT(r.started_at, '%Y-%m-%dT00:00:00Z')"),
        ("HOUR", "DATE_FORMAT(r.started_at, '%Y-%m-%dT%H:00:00Z')"),
    ] {
        let expected: Vec<(String, String, String)> = sqlx::query_as(&sql.replace("{group}", column))
            .bind(at(from).naive_utc())
            .bind(at(to).naive_utc())
            .fetch_all(&pool)
            .await
            .unwrap();
        let report = admin
            .data(
                "query($g: CostGrouping!, $r: TimeRange) { costReport(groupBy: $g, range: $r) { rows { key \
                 cost { measuredUsd estimatedUsd } } } }",
                json!({"g": grouping, "r": {"from": from, "to": to}}),
            )
            .await;
        assert!(expected.len() >= 2, "{grouping}: {expected:?}");
        for (key, source, pico) in expected {
            let usd = pico.parse::<i128>().unwrap() as f64 / 1e12;
            let row = row(&report["costReport"], &key);
            let field = if source == "upstream" { "measuredUsd" } else { "estimatedUsd" };
            assert!(
                (row["cost"][field].as_f64().unwrap() - usd).abs() < 1e-9,
                "{grouping} {key} {source}: SQL {usd}, API {row}"
            );
        }
    }
    // The private model has no price: counted, not costed.
    let unpriced: i64 = sqlx::query_scalar(
        "SELECT COUNT(*) FROM requests WHERE upstream_model = 'private-model' AND usage_source <> 'none' \
         AND started_at >= ? AND started_at < ?",
    )
    .bind(at(from).naive_utc())
    .bind(at(to).naive_utc())
    .fetch_one(&pool)
    .await
    .unwrap();
    let report = admin
        .data(
            "query($r: TimeRange) { costReport(groupBy: MODEL, range: $r) { total { cost { unpricedRequests } } } }",
            json!({"r": {"from": from, "to": to}}),
        )
        .await;
    assert_eq!(report["costReport"]["total"]["cost"]["unpricedRequests"], unpriced);
    assert!(unpriced > 0);
}

async fn get(admin: &TestAdmin, path: &str, token: Option<&str>) -> reqwest::Response {
    let mut request = admin.client.get(format!("{}{path}", admin.address));
    if let Some(token) = token {
        request = request.bearer_auth(token);
    }
    request.send().await.unwrap()
}

#[sqlx::test(migrations = false)]
async fn reports_and_prices_export_over_http_as_csv_and_json(pool: MySqlPool) {
    seed(&pool, &cases()).await;
    let admin = spawn_admin(pool).await;
    let query = format!("from={}&to={}", RANGE.0, RANGE.1);

    let csv = get(&admin, &format!("/api/reports/cost?groupBy=model&format=csv&{query}"), Some(TOKEN)).await;
    assert_eq!(csv.status(), 200);
    assert_eq!(csv.headers()["content-type"], "text/csv; charset=utf-8");
    assert!(csv.headers()["content-disposition"].to_str().unwrap().contains("tokenslipper-cost.csv"));
    let text = csv.text().await.unwrap();
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines[0], "group,requests,prompt_tokens,completion_tokens,cached_tokens,cache_write_tokens,measured_usd,estimated_usd,unpriced_requests,unpriced_models");
    assert!(lines[1].starts_with("o3,3,2000000,0,0,0,12,0,0,"), "{text}");
    assert!(lines.last().unwrap().starts_with("total,6,"), "{text}");

    let json_report: Value =
        get(&admin, &format!("/api/reports/cost?groupBy=day&{query}"), Some(TOKEN)).await.json().await.unwrap();
    assert_eq!(json_report["groupBy"], "DAY");
    assert_eq!(json_report["rows"][0]["key"], "2025-06-09T00:00:00Z");
    assert_eq!(json_report["rows"][0]["cost"]["measuredUsd"], 10.0);

    let top = get(&admin, &format!("/api/reports/top-requests?limit=2&format=csv&{query}"), Some(TOKEN)).await;
    let text = top.text().await.unwrap();
    assert_eq!(text.lines().count(), 3, "{text}");
    assert!(text.lines().nth(1).unwrap().contains(",measured,10,"), "{text}");
    let conversations: Value =
        get(&admin, &format!("/api/reports/top-conversations?{query}"), Some(TOKEN)).await.json().await.unwrap();
    assert_eq!(conversations[0]["title"], "hello there");

    for (path, status) in [("/api/reports/cost?groupBy=model", 401), ("/api/prices", 401)] {
        assert_eq!(get(&admin, path, None).await.status(), status, "{path} without a token");
        assert_eq!(get(&admin, path, Some("wrong")).await.status(), status, "{path} with a wrong token");
    }
    for path in [
        "/api/reports/cost",
        "/api/reports/cost?groupBy=year",
        "/api/reports/cost?groupBy=model&from=yesterday",
        "/api/reports/cost?groupBy=model&from=2025-06-10T00:00:00Z&to=2025-06-09T00:00:00Z",
        "/api/reports/top-requests?limit=0",
        "/api/reports/top-requests?limit=1000",
    ] {
        let response = get(&admin, path, Some(TOKEN)).await;
        assert_eq!(response.status(), 400, "{path}");
        let body: Value = response.json().await.unwrap_or(Value::Null);
        assert!(body["error"]["message"].is_string() || path.contains("yesterday"), "{path}: {body}");
    }

    // Export, change one price, import: the change is stored and nothing else moves.
    let mut exported: Vec<Value> = get(&admin, "/api/prices", Some(TOKEN)).await.json().await.unwrap();
    assert!(exported.len() > 30);
    let before = exported.clone();
    let sonnet = exported.iter_mut().find(|p| p["model"] == "claude-sonnet-4-5").unwrap();
    assert_eq!(sonnet["cacheWritePerMTokUsd"], 3.75);
    sonnet["inputPerMTokUsd"] = json!(2.5);
    let import =
        |body: String| admin.client.post(format!("{}/api/prices", admin.address)).bearer_auth(TOKEN).body(body).send();
    let response = import(serde_json::to_string(&exported).unwrap()).await.unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(response.json::<Value>().await.unwrap()["imported"], before.len());
    let after: Vec<Value> = get(&admin, "/api/prices", Some(TOKEN)).await.json().await.unwrap();
    assert_eq!(after, exported);

    // A bad entry anywhere imports nothing.
    let mut bad = after.clone();
    bad[0]["inputPerMTokUsd"] = json!(1.0);
    bad[1]["outputPerMTokUsd"] = json!(-3);
    let response = import(serde_json::to_string(&bad).unwrap()).await.unwrap();
    assert_eq!(response.status(), 400);
    assert!(response.text().await.unwrap().contains("price 2"));
    let response = import("{\"not\": \"a list\"}".into()).await.unwrap();
    assert_eq!(response.status(), 400);
    let unchanged: Vec<Value> = get(&admin, "/api/prices", Some(TOKEN)).await.json().await.unwrap();
    assert_eq!(unchanged, after);

    let imported = admin
        .data(
            "mutation($p: [PriceInput!]!) { importPrices(prices: $p) }",
            json!({"p": [{"model": "house-model", "effectiveFrom": "2025-01-01", "inputPerMTokUsd": 0.5, "outputPerMTokUsd": 1.5}]}),
        )
        .await;
    assert_eq!(imported["importPrices"], 1);
    let prices = admin.data("{ prices { model effectiveFrom inputPerMTokUsd } }", json!({})).await;
    assert!(prices["prices"].as_array().unwrap().iter().any(|p| p["model"] == "house-model"));
}

/// `requests_conversation` indexes only the first 8 bytes of a conversation id: two conversations
/// that share them (a client could grind such a pair) are still told apart by the whole id.
#[sqlx::test(migrations = false)]
async fn conversations_whose_ids_share_the_indexed_prefix_keep_their_own_requests(pool: MySqlPool) {
    let mut seeds = cases();
    for seed in &mut seeds[3..] {
        seed.user_text = "another chat".into();
    }
    seed(&pool, &seeds).await;
    let ids: Vec<Vec<u8>> =
        sqlx::query_scalar("SELECT DISTINCT conversation_id FROM requests ORDER BY conversation_id")
            .fetch_all(&pool)
            .await
            .unwrap();
    assert_eq!(ids.len(), 2);
    // The second conversation's id (on its requests and its node) made to begin as the first's does.
    let mut grafted = ids[0][..8].to_vec();
    grafted.extend_from_slice(&ids[1][8..]);
    for sql in [
        "UPDATE requests SET conversation_id = ? WHERE conversation_id = ?",
        "UPDATE message_nodes SET id = ? WHERE id = ?",
    ] {
        sqlx::query(sql).bind(&grafted).bind(&ids[1]).execute(&pool).await.unwrap();
    }
    let admin = spawn_admin(pool).await;
    let data = admin
        .data("query($r: TimeRange) { topConversations(range: $r) { title cost { requests } } }", json!({"r": range()}))
        .await;
    let mut conversations: Vec<(String, i64)> = data["topConversations"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| (c["title"].as_str().unwrap().to_string(), c["cost"]["requests"].as_i64().unwrap()))
        .collect();
    conversations.sort();
    assert_eq!(conversations, [("another chat".to_string(), 3), ("hello there".to_string(), 3)]);
}
