//! Budgets through GraphQL: create, validate, edit, delete; where each stands in its period
//! (hand-computed from seeded usage); the alerts the proxies recorded.

use chrono::{TimeDelta, Utc};
use serde_json::{json, Value};
use sqlx::MySqlPool;

use crate::helpers::{error_code, seed, spawn_admin, Seed};

const FIELDS: &str = "id name metric period model clientKey amount thresholds hardLimit webhookUrl webhookFormat \
                      status { used usedPercent blocking periodStart periodEnd }";

#[sqlx::test(migrations = false)]
async fn budgets_are_created_checked_edited_and_show_their_usage(pool: MySqlPool) {
    // Two o3 calls a second ago ($2 in / $8 out per 1M): 100,000 in + 10,000 out = $0.28 each.
    let now = Utc::now();
    let mut calls = Vec::new();
    for (i, key) in [(1, Some("key-aaaaaaaa")), (2, None)] {
        let mut s = Seed::new(now - TimeDelta::seconds(i), "o3");
        (s.upstream_model, s.usage, s.client_key) = ("o3", Some((100_000, 10_000, 0)), key);
        calls.push(s);
    }
    seed(&pool, &calls).await;
    let admin = spawn_admin(pool.clone()).await;

    let create = |input: Value| {
        let admin = &admin;
        async move {
            admin
                .query(
                    &format!("mutation($b: BudgetInput!) {{ createBudget(budget: $b) {{ {FIELDS} }} }}"),
                    json!({"b": input}),
                )
                .await
        }
    };
    let cost = create(json!({"name": "o3 daily", "metric": "COST", "period": "DAY", "model": "o3", "amount": 1.0,
        "hardLimit": true, "webhookUrl": "https://hooks.example/x", "webhookFormat": "FEISHU"}))
    .await;
    let budget = &cost["data"]["createBudget"];
    assert_eq!(budget["thresholds"], json!([50, 80, 100]), "default thresholds: {cost}");
    assert!((budget["status"]["used"].as_f64().unwrap() - 0.56).abs() < 1e-9, "{budget}");
    assert!((budget["status"]["usedPercent"].as_f64().unwrap() - 56.0).abs() < 1e-9);
    assert_eq!(budget["status"]["blocking"], false);
    assert_eq!(budget["webhookFormat"], "FEISHU");

    let keyed = create(json!({"name": "team a tokens", "metric": "TOKENS", "period": "MONTH",
        "clientKey": "key-aaaaaaaa", "amount": 100000, "thresholds": [100, 90, 90], "hardLimit": true}))
    .await;
    let keyed = &keyed["data"]["createBudget"];
    assert_eq!(keyed["thresholds"], json!([90, 100]), "sorted, without repeats");
    assert_eq!(keyed["status"]["used"], 110_000.0, "only that key's call");
    assert_eq!(keyed["status"]["blocking"], true);

    for (bad, why) in [
        (json!({"name": "", "metric": "COST", "period": "DAY", "amount": 1}), "name"),
        (json!({"name": "x", "metric": "COST", "period": "DAY", "amount": 0}), "amount"),
        (json!({"name": "x", "metric": "COST", "period": "DAY", "amount": 1, "thresholds": [0]}), "thresholds"),
        (json!({"name": "x", "metric": "COST", "period": "DAY", "amount": 1, "webhookUrl": "ftp://x"}), "webhookUrl"),
    ] {
        let refused = create(bad).await;
        assert_eq!(error_code(&refused), "BAD_USER_INPUT", "{why}: {refused}");
        assert!(refused["errors"][0]["message"].as_str().unwrap().contains(why), "{refused}");
    }

    let id = budget["id"].as_str().unwrap().to_string();
    let updated = admin
        .data(
            &format!("mutation($id: ID!, $b: BudgetInput!) {{ updateBudget(id: $id, budget: $b) {{ {FIELDS} }} }}"),
            json!({"id": id, "b": {"name": "o3 daily", "metric": "COST", "period": "DAY", "model": "o3",
                "amount": 0.5, "hardLimit": true}}),
        )
        .await;
    assert_eq!(updated["updateBudget"]["status"]["blocking"], true, "$0.56 of $0.50");
    let list = admin.data(&format!("{{ budgets {{ {FIELDS} }} }}"), json!({})).await;
    assert_eq!(list["budgets"].as_array().unwrap().len(), 2);

    // An alert as a proxy records it.
    sqlx::query(
        "INSERT INTO budget_alerts (budget_id, period_start, threshold, fired_at, used, amount, delivery, attempts, \
         next_attempt_at, last_error) VALUES (?, ?, 80, ?, 560000, 500000, 'failed', 8, ?, 'HTTP 500')",
    )
    .bind(id.parse::<i64>().unwrap())
    .bind(now.naive_utc())
    .bind(now.naive_utc())
    .bind(now.naive_utc())
    .execute(&pool)
    .await
    .unwrap();
    let alerts = admin
        .data("{ budgetAlerts { budgetName threshold used amount delivery attempts lastError } }", json!({}))
        .await;
    assert_eq!(
        alerts["budgetAlerts"],
        json!([{"budgetName": "o3 daily", "threshold": 80, "used": 0.56, "amount": 0.5, "delivery": "FAILED",
                "attempts": 8, "lastError": "HTTP 500"}])
    );

    let deleted = admin.data("mutation($id: ID!) { deleteBudget(id: $id) }", json!({"id": id})).await;
    assert_eq!(deleted["deleteBudget"], true);
    let alerts = admin.data("{ budgetAlerts { budgetName threshold } }", json!({})).await;
    assert_eq!(alerts["budgetAlerts"][0]["budgetName"], Value::Null, "the alert stays as history");
    let missing = admin
        .query(
            "mutation($id: ID!, $b: BudgetInput!) { updateBudget(id: $id, budget: $b) { id } }",
            json!({"id": id, "b": {"name": "x", "metric": "COST", "period": "DAY", "amount": 1}}),
        )
        .await;
    assert_eq!(error_code(&missing), "BAD_USER_INPUT");
}
