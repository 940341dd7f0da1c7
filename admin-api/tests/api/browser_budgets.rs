//! The Budgets page in headless Chromium: create a budget, see its use of the period (hand-computed
//! from seeded calls), edit it, see the alerts the proxies recorded, delete it.

use chrono::{TimeDelta, Utc};
use sqlx::MySqlPool;

use crate::chromium::{dist_dir, Browser};
use crate::helpers::{seed, spawn_admin_with, Seed, TOKEN};

#[sqlx::test(migrations = false)]
async fn budgets_are_managed_and_watched_in_the_spa(pool: MySqlPool) {
    let dist = dist_dir();
    let admin = spawn_admin_with(pool.clone(), &[("ADMIN_WEB_DIR", dist.to_str().unwrap())]).await;
    // Two o3 calls just now: 100,000 in + 10,000 out at $2/$8 per 1M = $0.28 each.
    let calls: Vec<Seed> = (1..=2)
        .map(|i| {
            let mut s = Seed::new(Utc::now() - TimeDelta::seconds(i), "o3");
            (s.upstream_model, s.usage) = ("o3", Some((100_000, 10_000, 0)));
            s
        })
        .collect();
    seed(&pool, &calls).await;
    let browser = Browser::start(&admin.address).await;
    browser.open("/admin/").await;
    browser.script(&format!("sessionStorage.setItem('tokenslipper.adminToken', '{TOKEN}')")).await;

    browser.open("/admin/budgets").await;
    browser.wait_text(".budget-form h2", "the form", |t| t == "New budget").await;
    browser.fill("input[name=name]", "o3 daily").await;
    browser.element("select[name=period]").await.select_by_value("DAY").await.unwrap();
    browser.fill("input[name=amount]", "0.5").await;
    browser.fill("input[name=model]", "o3").await;
    browser.click("input[name=hardLimit]").await;
    browser.click(".budget-form button[type=submit]").await;
    let row = "tr[data-budget='o3 daily']";
    browser.wait_text(&format!("{row} [data-col=used]"), "the new budget's use", |t| t == "$0.56 / $0.50").await;
    assert_eq!(browser.text_of(&format!("{row} [data-col=percent]")).await, "112 %");
    assert_eq!(browser.text_of(&format!("{row} [data-blocking]")).await, "blocking");
    let stored: (String, i64, String, bool) =
        sqlx::query_as("SELECT period, amount, thresholds, hard_limit FROM budgets").fetch_one(&pool).await.unwrap();
    assert_eq!(stored, ("day".to_string(), 500_000, "50,80,100".to_string(), true));
    browser.screenshot("budgets").await;

    // Edit: a larger amount, no longer blocking.
    browser.click(&format!("{row} button.link")).await;
    browser.wait_text(".budget-form h2", "the edit form", |t| t == "Edit budget").await;
    browser.fill("input[name=amount]", "10").await;
    browser.click(".budget-form button[type=submit]").await;
    browser.wait_text(&format!("{row} [data-col=used]"), "the edited budget", |t| t == "$0.56 / $10.00").await;
    assert!(browser.client.find(fantoccini::Locator::Css(&format!("{row} [data-blocking]"))).await.is_err());
    assert_eq!(sqlx::query_scalar::<_, i64>("SELECT COUNT(*) FROM budgets").fetch_one(&pool).await.unwrap(), 1);

    // An alert a proxy recorded shows with its delivery.
    sqlx::query(
        "INSERT INTO budget_alerts (budget_id, period_start, threshold, fired_at, used, amount, delivery, attempts, \
         next_attempt_at) SELECT id, ?, 100, ?, 560000, 500000, 'delivered', 2, ? FROM budgets",
    )
    .bind(Utc::now().naive_utc())
    .bind(Utc::now().naive_utc())
    .bind(Utc::now().naive_utc())
    .execute(&pool)
    .await
    .unwrap();
    browser.open("/admin/budgets").await;
    browser
        .wait_text("table.alerts tbody tr", "the alert", |t| t.contains("o3 daily") && t.contains("delivered (2)"))
        .await;

    browser.click(&format!("{row} button.link:last-child")).await;
    browser.wait_count("table.budgets tbody tr", 0, "the budget deleted").await;
    browser.client.clone().close().await.unwrap();
}
