//! Times the admin API's queries over a seeded database (see `seed_requests`): the real service on
//! a real socket, each query sent one after another, as a user paging the admin would.
//!
//! cargo run --release -p admin-api --example bench_queries -- DATABASE_URL [ROUNDS]
//!
//! Prints a Markdown table of p50 / p95 / max per query, for BENCHMARKS.md.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use admin_api::config::Config;
use admin_api::startup::Application;
use serde_json::{json, Value};
use sqlx::mysql::{MySqlConnectOptions, MySqlPoolOptions};

const TOKEN: &str = "benchmark-token-0123456789";

const OVERVIEW: &str = "{ overview { totals { requests messages promptTokens completionTokens totalTokens \
    averageLatencyMs p95LatencyMs errors errorRate cost { measuredUsd estimatedUsd unpricedRequests } } recentRequests { id startedAt clientModel upstreamModel stream \
    outcome latencyMs totalTokens preview cost { status usd } } models { model requests totalTokens averageLatencyMs errors \
    cost { measuredUsd estimatedUsd } } } }";
const PAGE: &str = "query($page: Int!, $pageSize: Int!, $filter: RequestFilter) { requests(page: $page, \
    pageSize: $pageSize, filter: $filter) { totalCount totalCountIsLowerBound pageCount items { id startedAt clientModel upstreamModel \
    stream outcome httpStatus latencyMs promptTokens completionTokens preview cost { status usd } } } }";

struct Client {
    http: reqwest::Client,
    url: String,
}

impl Client {
    async fn run(&self, query: &str, variables: &Value) -> Value {
        let response: Value = self
            .http
            .post(&self.url)
            .bearer_auth(TOKEN)
            .json(&json!({"query": query, "variables": variables}))
            .send()
            .await
            .expect("the admin API answers")
            .json()
            .await
            .expect("a JSON body");
        assert!(response.get("errors").is_none(), "query failed: {response}");
        response["data"].clone()
    }
}

fn percentile(sorted: &[Duration], fraction: f64) -> Duration {
    sorted[((fraction * sorted.len() as f64).ceil() as usize).clamp(1, sorted.len()) - 1]
}

#[tokio::main]
async fn main() {
    let mut args = std::env::args().skip(1);
    let url = args.next().expect("usage: bench_queries DATABASE_URL [ROUNDS]");
    let rounds: usize = args.next().map(|a| a.parse().expect("ROUNDS is a number")).unwrap_or(30);

    let options: MySqlConnectOptions = url.parse().expect("a mysql:// URL");
    let pool = MySqlPoolOptions::new().max_connections(8).connect_with(options).await.expect("database reachable");
    let vars: HashMap<String, String> = [("ADMIN_HOST", "127.0.0.1"), ("ADMIN_PORT", "0"), ("ADMIN_TOKEN", TOKEN)]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    let app = Application::build_with_pool(Config::from_vars(&vars).unwrap(), pool.clone()).await.unwrap();
    let client = Client { http: reqwest::Client::new(), url: format!("http://127.0.0.1:{}/graphql", app.port()) };
    tokio::spawn(app.run_until(std::future::pending()));

    let rows: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM requests").fetch_one(&pool).await.unwrap();
    let days_ago = |days| (chrono::Utc::now() - chrono::TimeDelta::days(days)).to_rfc3339();
    let (seven_days_ago, sixty_days_ago, fifty_three_days_ago) = (days_ago(7), days_ago(60), days_ago(53));
    let filters: Vec<(&str, Value)> = vec![
        ("no filter", json!(null)),
        ("model", json!({"model": "gpt-4o-mini"})),
        ("outcome = error", json!({"outcome": "ERROR"})),
        ("stream + client model", json!({"stream": true, "clientModel": "gpt-4o"})),
        ("last 7 days", json!({"range": {"from": seven_days_ago}})),
        ("text search", json!({"search": "zebrafish"})),
        ("text search, a word most requests hold", json!({"search": "timeout"})),
        // Every chat turn's question names its number, seeded once (`seed_requests`).
        ("text search, a word of one request", json!({"search": "500001"})),
        ("text search, a word of no request", json!({"search": "ticket 1000000001"})),
        ("text search, two words", json!({"search": "zebrafish timeout"})),
        ("text search + outcome = error", json!({"search": "timeout", "outcome": "ERROR"})),
        ("text search + model", json!({"search": "timeout", "model": "gpt-4o-mini"})),
        ("text search, last 7 days", json!({"search": "timeout", "range": {"from": seven_days_ago}})),
        (
            "text search, a week 60 days ago",
            json!({"search": "timeout", "range": {"from": sixty_days_ago, "to": fifty_three_days_ago}}),
        ),
    ];

    let mut scenarios: Vec<(String, &str, Value)> = vec![
        ("overview, last 30 days".into(), OVERVIEW, json!({})),
        ("usageSeries DAY, last 30 days".into(), "{ usageSeries(bucket: DAY) { bucketStart model totalTokens } }", json!({})),
        ("usageSeries HOUR, last 7 days".into(),
         "query($from: DateTime) { usageSeries(bucket: HOUR, range: {from: $from}) { bucketStart model totalTokens } }",
         json!({"from": seven_days_ago})),
        ("modelStats, last 30 days".into(), "{ modelStats { model requests totalTokens averageLatencyMs errors } }", json!({})),
    ];
    for grouping in ["MODEL", "DAY", "HOUR", "CLIENT_KEY", "ENDPOINT"] {
        scenarios.push((
            format!("costReport {grouping}, last 30 days"),
            "query($g: CostGrouping!) { costReport(groupBy: $g) { rows { key requests cost { measuredUsd \
             estimatedUsd unpricedRequests } } total { cost { measuredUsd } } } }",
            json!({"g": grouping}),
        ));
    }
    scenarios.push(("topRequests 10, last 30 days".into(), "{ topRequests { id startedAt cost { usd } } }", json!({})));
    scenarios.push((
        "topConversations 10, last 30 days".into(),
        "{ topConversations { conversationId title cost { measuredUsd estimatedUsd } } }",
        json!({}),
    ));
    scenarios.push((
        "topRequests 10, last 7 days".into(),
        "query($from: DateTime) { topRequests(range: {from: $from}) { id cost { usd } } }",
        json!({"from": seven_days_ago}),
    ));
    for (name, filter) in &filters {
        let first = client.run(PAGE, &json!({"page": 1, "pageSize": 20, "filter": filter})).await;
        let pages = first["requests"]["pageCount"].as_i64().unwrap().max(1);
        // A text search that stopped at its newest matches: "of 500+".
        let more = if first["requests"]["totalCountIsLowerBound"] == true { "+" } else { "" };
        for (which, page) in [("first", 1), ("middle", (pages + 1) / 2), ("last", pages)] {
            scenarios.push((
                format!("requests, {name}, {which} page ({page} of {pages}{more})"),
                PAGE,
                json!({"page": page, "pageSize": 20, "filter": filter}),
            ));
        }
    }
    scenarios.push(("requests, no filter, page 1 of size 200".into(), PAGE, json!({"page": 1, "pageSize": 200})));
    let middle = client.run(PAGE, &json!({"page": 2500, "pageSize": 200})).await;
    if let Some(id) = middle["requests"]["items"][0]["id"].as_str() {
        scenarios.push((
            "request detail (conversation, raw JSON)".into(),
            "query($id: ID!) { request(id: $id) { summary { id } messages { role content toolCalls { name } } \
             reply { text } rawRequest rawResponse } }",
            json!({"id": id}),
        ));
    }

    println!("{rows} requests in the database, {rounds} rounds per query after 3 warm-up rounds\n");
    println!("| query | p50 ms | p95 ms | max ms |");
    println!("|---|---:|---:|---:|");
    for (name, query, variables) in &scenarios {
        for _ in 0..3 {
            client.run(query, variables).await;
        }
        let mut times = Vec::with_capacity(rounds);
        for _ in 0..rounds {
            let start = Instant::now();
            client.run(query, variables).await;
            times.push(start.elapsed());
        }
        times.sort();
        let ms = |d: Duration| d.as_secs_f64() * 1000.0;
        println!(
            "| {name} | {:.1} | {:.1} | {:.1} |",
            ms(percentile(&times, 0.5)),
            ms(percentile(&times, 0.95)),
            ms(*times.last().unwrap())
        );
    }
}
