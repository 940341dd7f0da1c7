//! Costs in the admin SPA, in headless Chromium: the overview card, list rows and detail page mark
//! measured, estimated, unpriced and usage-less calls apart; the Reports page groups them; a price
//! added on the Prices page changes the figures. The expected figures are the hand-computed ones
//! of `costs.rs` (its `cases`).

use sqlx::MySqlPool;

use crate::chromium::{dist_dir, Browser};
use crate::costs::cases;
use crate::helpers::{seed, spawn_admin_with, TOKEN};

#[sqlx::test(migrations = false)]
async fn the_spa_shows_costs_reports_and_prices(pool: MySqlPool) {
    let dist = dist_dir();
    let admin = spawn_admin_with(pool.clone(), &[("ADMIN_WEB_DIR", dist.to_str().unwrap())]).await;
    let seeds = cases();
    seed(&pool, &seeds).await;
    let browser = Browser::start(&admin.address).await;
    browser.open("/admin/").await;
    browser.script(&format!("sessionStorage.setItem('tokenslipper.adminToken', '{TOKEN}')")).await;

    // Overview: measured total, with the estimate and the unpriced call beside it, not in it.
    browser.open("/admin/?range=all").await;
    browser.wait_text("[data-card=cost] .card-value", "the cost card", |t| t == "$12.01").await;
    let detail = browser.text_of("[data-card=cost] .card-detail").await;
    assert!(detail.contains("+ ≈ $0.00000465") && detail.contains("+ 1 without price"), "{detail}");
    browser.screenshot("overview-cost").await;

    // List rows: one cost per request, as its kind.
    browser.open("/admin/requests?size=10").await;
    browser.wait_count("table.requests tbody tr", seeds.len(), "all rows").await;
    let kinds = browser.attr_of_all("table.requests tbody .cost", "data-cost").await;
    let mut sorted = kinds.clone();
    sorted.sort();
    assert_eq!(sorted, ["estimated", "measured", "measured", "measured", "no-price", "none"], "{kinds:?}");
    let estimated = browser.text_of("table.requests tbody [data-cost=estimated]").await;
    assert_eq!(estimated, "≈ $0.00000465");
    assert_eq!(browser.text_of("table.requests tbody [data-cost=no-price]").await, "no price");

    // Detail: the parts of the cache-heavy call and the price applied.
    let id = {
        let rows: Vec<(Vec<u8>,)> =
            sqlx::query_as("SELECT id FROM requests WHERE upstream_model = 'claude-sonnet-4-20250514'")
                .fetch_all(&pool)
                .await
                .unwrap();
        uuid::Uuid::from_slice(&rows[0].0).unwrap().to_string()
    };
    browser.open(&format!("/admin/request/{id}")).await;
    browser.wait_text(".cost-panel [data-cost=measured]", "the request's cost", |t| t == "$0.0125").await;
    let panel = browser.text_of(".cost-panel").await;
    for part in [
        "Input\n$0.0015",
        "Cached input\n$0.0024",
        "Cache write\n$0.00562",
        "Output\n$0.003",
        "claude-sonnet-4",
        "2025-05-22",
    ] {
        assert!(panel.contains(part), "{part} in {panel}");
    }
    browser.screenshot("request-cost").await;

    // Reports: by model, costliest first; the grouping is a choice kept in the URL.
    browser.open("/admin/reports?range=all&group=model").await;
    browser.wait_text("[data-card=report-total] .card-value", "the report total", |t| t == "$12.01").await;
    assert_eq!(browser.text_of("table.report tbody tr:first-child th").await, "o3");
    assert_eq!(browser.text_of("tr[data-group=o3] [data-col=measured]").await, "$12.00");
    assert!(browser.text_of(".notice").await.contains("mystery-1"), "unpriced models are named");
    browser.wait_count("table.top-requests tbody tr", 4, "the priced requests, costliest first").await;
    browser.screenshot("reports").await;
    browser.element("select[name=group]").await.select_by_value("day").await.unwrap();
    browser.wait_url("the grouping in the URL", |u| u.contains("group=day")).await;
    browser.wait_count("table.report tbody tr", 2, "two days").await;
    browser.click("[data-action=download-csv]").await;
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    assert!(browser.client.find(fantoccini::Locator::Css(".error-text")).await.is_err(), "the CSV download worked");

    // Prices: add one for the unknown model; the report follows.
    browser.open("/admin/prices").await;
    browser.wait_count("table.prices tbody tr[data-model=o3]", 2, "both o3 prices").await;
    browser.fill("input[name=model]", "mystery-1").await;
    browser
        .script(
            "const d = document.querySelector('input[name=effectiveFrom]'); d.value = '2025-01-01'; \
             d.dispatchEvent(new Event('input', {bubbles: true}));",
        )
        .await;
    browser.fill("input[name=input]", "100").await;
    browser.fill("input[name=output]", "100").await;
    browser.click("form.price-form button[type=submit]").await;
    browser.wait_text("p.notice[role=status]", "saved", |t| t.contains("mystery-1 2025-01-01")).await;
    browser.wait_count("table.prices tbody tr[data-model=mystery-1]", 1, "the new price listed").await;
    browser.screenshot("prices").await;
    browser.open("/admin/reports?range=all&group=model").await;
    browser.wait_text("[data-card=report-total] .card-value", "the total with the new price", |t| t == "$12.03").await;
    browser.client.clone().close().await.unwrap();
}
