//! The admin SPA in headless Chromium: the built admin-web (`admin-web/dist`, made by
//! `trunk build --release`) served by the real admin API over a seeded MariaDB, driven through
//! ChromeDriver. Every number the pages show is checked against SQL run here, not against the API.
//! A screenshot of each page is saved to `$CARGO_TARGET_DIR/screenshots/`.

use chrono::{TimeDelta, Utc};
use fantoccini::Locator;
use proxy::record::{Outcome, RequestRecord, ResponseCapture};
use serde_json::json;
use sqlx::MySqlPool;

use crate::chromium::{dist_dir, Browser};
use crate::helpers::{seed, spawn_admin_with, write_records, Seed, TOKEN};

const MODELS: [(&str, &str); 3] = [
    ("gpt-4o", "claude-sonnet-4-20250514"),
    ("gpt-4o-mini", "claude-3-5-haiku-20241022"),
    ("claude-opus-4", "claude-opus-4-20250514"),
];
const REQUESTS: i64 = 46;

/// 45 plain requests over the last two days (every 7th an error, every 5th a stream), and one
/// newest request with a tool round trip in its conversation.
async fn seed_traffic(pool: &MySqlPool) -> String {
    let now = Utc::now();
    let seeds: Vec<Seed> = (1..REQUESTS)
        .map(|i| {
            let (client, upstream) = MODELS[i as usize % MODELS.len()];
            let mut seed = Seed::new(now - TimeDelta::minutes(i * 61), client);
            seed.upstream_model = upstream;
            seed.stream = i % 5 == 0;
            seed.latency_ms = 80 + (i as u64 * 37) % 900;
            seed.usage = Some((100 + i * 13, 20 + i * 3, 0));
            seed.user_text = format!("Question {i}: how do I reverse a linked list in language number {i}?");
            seed.reply_text = format!("Answer {i}: walk the list once and flip each pointer.");
            if i % 7 == 0 {
                seed.status = 529;
                seed.outcome = Outcome::Error;
                seed.usage = None;
            }
            seed
        })
        .collect();
    seed(pool, &seeds).await;

    let mut tooled = Seed::new(now - TimeDelta::seconds(30), "gpt-4o");
    tooled.upstream_model = "claude-sonnet-4-20250514";
    let mut record: RequestRecord = tooled.record();
    let body = json!({
        "model": "gpt-4o",
        "messages": [
            {"role": "system", "content": "You are a careful weather assistant. Always use the tools."},
            {"role": "user", "content": "What is the weather in Zermatt right now?"},
            {"role": "assistant", "content": null, "tool_calls": [{
                "id": "call_weather_1", "type": "function",
                "function": {"name": "get_weather", "arguments": "{\"city\":\"Zermatt\"}"}
            }]},
            {"role": "tool", "tool_call_id": "call_weather_1", "content": "{\"temp_c\": -4, \"sky\": \"snow\"}"},
        ],
    });
    record.request_body = serde_json::to_vec(&body).unwrap().into();
    let reply = json!({
        "id": "chatcmpl-tooled", "object": "chat.completion", "model": "claude-sonnet-4-20250514",
        "choices": [{"index": 0, "finish_reason": "stop",
            "message": {"role": "assistant", "content": "It is snowing in Zermatt at -4 °C."}}],
        "usage": {"prompt_tokens": 321, "completion_tokens": 12, "total_tokens": 333},
    });
    record.response = ResponseCapture::Body(serde_json::to_vec(&reply).unwrap().into());
    let id = record.id.to_string();
    write_records(pool, vec![record]).await;
    id
}

/// `1234567` → `1,234,567`, as the SPA writes counts.
fn grouped(n: i64) -> String {
    let digits = n.to_string();
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

async fn newest_ids(pool: &MySqlPool, filter: &str, limit: i64, offset: i64) -> Vec<String> {
    let sql = format!("SELECT id FROM requests {filter} ORDER BY started_at DESC, id DESC LIMIT ? OFFSET ?");
    let rows: Vec<(Vec<u8>,)> = sqlx::query_as(&sql).bind(limit).bind(offset).fetch_all(pool).await.unwrap();
    rows.into_iter().map(|(id,)| uuid::Uuid::from_slice(&id).unwrap().to_string()).collect()
}

async fn listed_ids(browser: &Browser) -> Vec<String> {
    browser
        .attr_of_all("table.requests tbody td:first-child a", "href")
        .await
        .into_iter()
        .map(|href| href.rsplit('/').next().unwrap().to_owned())
        .collect()
}

#[sqlx::test(migrations = false)]
async fn the_admin_spa_shows_what_the_database_holds(pool: MySqlPool) {
    let dist = dist_dir();
    let admin = spawn_admin_with(pool.clone(), &[("ADMIN_WEB_DIR", dist.to_str().unwrap())]).await;
    let tooled_id = seed_traffic(&pool).await;
    let browser = Browser::start(&admin.address).await;

    // A deep link without a token shows the login form; a wrong token is refused there.
    browser.open("/admin/requests?size=10").await;
    browser.wait_text("form.panel h1", "the login form", |t| !t.is_empty()).await;
    browser.screenshot("login").await;
    browser.fill("#admin-token", "not-the-admin-token-at-all").await;
    browser.click("form.panel button[type=submit]").await;
    browser.wait_text("form.panel [role=alert]", "a refused token", |t| t.contains("refused")).await;
    browser.screenshot("login-refused").await;

    // The right token opens the page that was asked for.
    browser.fill("#admin-token", TOKEN).await;
    browser.click("form.panel button[type=submit]").await;
    browser.wait_text(".result-count", "the list after login", |t| t == format!("{REQUESTS} requests")).await;
    assert_eq!(browser.path_and_query().await, "/admin/requests?size=10");

    overview_equals_the_database(&browser, &pool).await;
    paging_follows_the_database(&browser, &pool).await;
    filters_narrow_the_list(&browser, &pool).await;
    detail_shows_the_conversation_and_reply(&browser, &tooled_id).await;
    phone_width_and_language(&browser).await;

    // A token the API stops accepting sends the tab back to the login form, with the reason.
    browser.script("sessionStorage.setItem('tokenslipper.adminToken', 'revoked-token-0123456789')").await;
    browser.open("/admin/requests").await;
    browser.wait_text("form.panel [role=alert]", "a revoked token", |t| t.contains("session ended")).await;
    browser.screenshot("session-ended").await;
    browser.client.clone().close().await.unwrap();
}

async fn overview_equals_the_database(browser: &Browser, pool: &MySqlPool) {
    browser.open("/admin/?range=all").await;
    let (requests, messages, prompt, completion, total, errors): (i64, i64, i64, i64, i64, i64) = sqlx::query_as(
        "SELECT COUNT(*), CAST(SUM(message_count) AS SIGNED), CAST(COALESCE(SUM(prompt_tokens), 0) AS SIGNED), \
         CAST(COALESCE(SUM(completion_tokens), 0) AS SIGNED), CAST(COALESCE(SUM(total_tokens), 0) AS SIGNED), \
         CAST(SUM(outcome = 'error') AS SIGNED) FROM requests",
    )
    .fetch_one(pool)
    .await
    .unwrap();
    let (average_us,): (f64,) =
        sqlx::query_as("SELECT CAST(AVG(latency_us) AS DOUBLE) FROM requests").fetch_one(pool).await.unwrap();
    assert_eq!(requests, REQUESTS);

    let card = |id: &str| format!("[data-card={id}] .card-value");
    browser.wait_text(&card("requests"), "requests card", |t| t == grouped(requests)).await;
    assert_eq!(browser.text_of(&card("messages")).await, grouped(messages));
    assert_eq!(browser.text_of(&card("tokens")).await, grouped(total));
    let token_detail = browser.text_of("[data-card=tokens] .card-detail").await;
    assert_eq!(token_detail, format!("prompt {} · completion {}", grouped(prompt), grouped(completion)));
    assert_eq!(browser.text_of(&card("latency")).await, format!("{:.0} ms", average_us / 1000.0));
    let rate = errors as f64 * 100.0 / requests as f64;
    assert_eq!(browser.text_of(&card("error-rate")).await, format!("{rate:.0} %"), "{errors} of {requests}");

    // The latest 20, newest first, and one row per model with its own request count.
    browser.wait_count("table.requests tbody tr", 20, "latest requests").await;
    assert_eq!(listed_ids(browser).await, newest_ids(pool, "", 20, 0).await);
    let per_model: Vec<(String, i64)> =
        sqlx::query_as("SELECT client_model, COUNT(*) FROM requests GROUP BY client_model")
            .fetch_all(pool)
            .await
            .unwrap();
    let rows = browser.client.find_all(Locator::Css("table.models tbody tr")).await.unwrap();
    assert_eq!(rows.len(), per_model.len());
    for row in rows {
        let model = row.find(Locator::Css("th")).await.unwrap().text().await.unwrap();
        let count = row.find(Locator::Css("td")).await.unwrap().text().await.unwrap();
        let expected = per_model.iter().find(|(m, _)| *m == model).unwrap_or_else(|| panic!("unknown model {model}"));
        assert_eq!(count, grouped(expected.1), "{model}");
    }
    assert!(browser.client.find(Locator::Css("figure.chart svg rect")).await.is_ok(), "the chart has bars");

    // The first Tab reaches the skip link, so keyboard users can jump past the header.
    browser.client.find(Locator::Css("body")).await.unwrap().send_keys("\u{e004}").await.unwrap();
    let focused = browser.script("return document.activeElement.className").await;
    assert_eq!(focused, json!("skip"));
    browser.screenshot("overview").await;
}

async fn paging_follows_the_database(browser: &Browser, pool: &MySqlPool) {
    browser.open("/admin/requests").await;
    browser.wait_count("table.requests tbody tr", 20, "default page size").await;
    assert_eq!(listed_ids(browser).await, newest_ids(pool, "", 20, 0).await);
    assert_eq!(browser.text_of(".page-position").await, "Page 1 of 3");

    // A smaller page size restarts at page 1 and is kept in the URL.
    let size = browser.client.find(Locator::Css("select[name=size]")).await.unwrap();
    size.select_by_value("10").await.unwrap();
    browser.wait_url("page size in the URL", |u| u.contains("size=10")).await;
    browser.wait_text(".page-position", "five pages of ten", |t| t == "Page 1 of 5").await;
    browser.wait_count("table.requests tbody tr", 10, "ten rows").await;

    browser.click("a[rel=next]").await;
    browser.wait_text(".page-position", "next page", |t| t == "Page 2 of 5").await;
    let here = browser.path_and_query().await;
    assert!(here.contains("page=2") && here.contains("size=10"), "{here}");
    assert_eq!(listed_ids(browser).await, newest_ids(pool, "", 10, 10).await);

    // Jumping to the last page shows the partial remainder.
    browser.fill(".jump input[name=page]", "5").await;
    browser.click(".jump button[type=submit]").await;
    browser.wait_text(".page-position", "jump to the last page", |t| t == "Page 5 of 5").await;
    browser.wait_count("table.requests tbody tr", 6, "the last partial page").await;
    assert_eq!(listed_ids(browser).await, newest_ids(pool, "", 10, 40).await);
    assert_eq!(browser.attr_of_all("span.button.disabled", "aria-disabled").await, ["true"], "no next page");
    browser.screenshot("requests-last-page").await;

    // The same URL in a fresh load gives the same view (bookmarks and shared links).
    browser.client.refresh().await.unwrap();
    browser.wait_text(".page-position", "reloaded page", |t| t == "Page 5 of 5").await;
    assert_eq!(listed_ids(browser).await, newest_ids(pool, "", 10, 40).await);
}

async fn filters_narrow_the_list(browser: &Browser, pool: &MySqlPool) {
    browser.open("/admin/requests?size=50").await;
    browser.wait_text(".result-count", "unfiltered list", |t| t == format!("{REQUESTS} requests")).await;
    let outcome = browser.client.find(Locator::Css("select[name=outcome]")).await.unwrap();
    outcome.select_by_value("error").await.unwrap();
    let stream = browser.client.find(Locator::Css("select[name=stream]")).await.unwrap();
    stream.select_by_value("false").await.unwrap();
    browser.click("form.filters button[type=submit]").await;
    let filter = "WHERE outcome = 'error' AND NOT is_stream";
    let (errors,): (i64,) =
        sqlx::query_as(&format!("SELECT COUNT(*) FROM requests {filter}")).fetch_one(pool).await.unwrap();
    assert!(errors > 1, "the fixture has several non-streamed errors");
    let here = browser.wait_url("filters in the URL", |u| u.contains("outcome=error")).await;
    assert!(here.contains("stream=false") && here.contains("size=50"), "{here}");
    browser.wait_text(".result-count", "error filter", |t| t == format!("{errors} requests")).await;
    assert_eq!(listed_ids(browser).await, newest_ids(pool, filter, 50, 0).await);
    browser.screenshot("requests-filtered").await;

    // Text search over the conversation, and a model filter, from a shared link.
    browser.open("/admin/requests?q=Zermatt").await;
    browser.wait_text(".result-count", "search", |t| t == "1 request").await;
    assert_eq!(
        browser.client.find(Locator::Css("input[name=q]")).await.unwrap().prop("value").await.unwrap().unwrap(),
        "Zermatt"
    );
    browser.open("/admin/requests?model=gpt-4o-mini&size=50").await;
    let (mini,): (i64,) = sqlx::query_as("SELECT COUNT(*) FROM requests WHERE client_model = 'gpt-4o-mini'")
        .fetch_one(pool)
        .await
        .unwrap();
    browser.wait_text(".result-count", "model filter", |t| t == format!("{mini} requests")).await;
    browser.open("/admin/requests?q=no-such-words-anywhere").await;
    browser.wait_text(".empty, .notice", "no matches", |t| !t.is_empty()).await;
}

async fn detail_shows_the_conversation_and_reply(browser: &Browser, tooled_id: &str) {
    // From the list, a click on the row opens its detail page.
    browser.open("/admin/requests").await;
    browser.wait_count("table.requests tbody tr", 20, "list before detail").await;
    browser.click("table.requests tbody tr:first-child td.model").await;
    browser.wait_url("detail page", |u| u == format!("/admin/request/{tooled_id}")).await;
    check_detail(browser).await;
    browser.screenshot("request-detail").await;

    // The deep link survives a reload.
    browser.client.refresh().await.unwrap();
    check_detail(browser).await;
    browser.open("/admin/request/00000000-0000-0000-0000-000000000000").await;
    browser.wait_text(".notice[role=status]", "unknown id", |t| t.contains("No request with this id")).await;
    // An error from the API is shown as such, with its code and a way to try again.
    browser.open("/admin/request/not-a-uuid").await;
    browser.wait_text(".notice.error[role=alert]", "malformed id", |t| t.contains("BAD_USER_INPUT")).await;
    assert!(browser.client.find(Locator::Css(".notice.error button")).await.is_ok(), "a retry button");
    browser.screenshot("request-error").await;
}

async fn check_detail(browser: &Browser) {
    browser.wait_text(".reply .msg", "the reply", |t| t.contains("It is snowing in Zermatt")).await;
    let roles = browser.attr_of_all(".chat > li", "data-role").await;
    assert_eq!(roles, ["system", "user", "assistant", "tool"]);
    let system_open = browser.script("return document.querySelector('.chat li.system details').open").await;
    assert_eq!(system_open, json!(false), "the system prompt starts collapsed");
    assert!(browser.text_of(".chat li[data-role=user]").await.contains("weather in Zermatt"));
    assert!(browser.text_of(".chat li[data-role=assistant] .tool-name").await.contains("get_weather"));
    assert!(browser.text_of(".chat li[data-role=tool] .tool-result-of").await.contains("call_weather_1"));
    let usage = browser.client.find(Locator::Css("section.usage")).await.unwrap();
    assert_eq!(usage.attr("data-usage-source").await.unwrap().as_deref(), Some("measured"));
    assert!(usage.text().await.unwrap().contains("321"));
    for raw in ["request", "response"] {
        let block = browser.client.find(Locator::Css(&format!("details[data-raw={raw}]"))).await.unwrap();
        assert_eq!(block.attr("open").await.unwrap(), None, "raw {raw} starts folded");
    }
}

async fn phone_width_and_language(browser: &Browser) {
    browser.client.set_window_size(390, 844).await.unwrap();
    for (path, rows, name) in [("/admin/?range=all", 20, "overview-phone"), ("/admin/requests", 20, "requests-phone")] {
        browser.open(path).await;
        browser.wait_count("table.requests tbody tr", rows, name).await;
        // The page itself never scrolls sideways; wide tables scroll inside their own box.
        let overflow = browser.script("return document.documentElement.scrollWidth - window.innerWidth").await;
        assert!(overflow.as_i64().unwrap() <= 0, "{name}: the page is {overflow} px wider than the phone");
        browser.screenshot(name).await;
    }

    let language = browser.client.find(Locator::Css("select[name=lang]")).await.unwrap();
    language.select_by_value("zh-CN").await.unwrap();
    browser.wait_text(".page-position", "Chinese pager", |t| t == "第 1 页，共 3 页").await;
    assert_eq!(browser.script("return document.documentElement.lang").await, json!("zh-CN"));
    browser.screenshot("requests-zh").await;
    // The choice is remembered across loads; switch back for the checks that follow.
    browser.client.refresh().await.unwrap();
    browser.wait_text(".main-nav a", "Chinese after reload", |t| t == "概览").await;
    let language = browser.client.find(Locator::Css("select[name=lang]")).await.unwrap();
    language.select_by_value("en").await.unwrap();
    browser.wait_text(".main-nav a", "English again", |t| t == "Overview").await;
    browser.client.set_window_size(1280, 900).await.unwrap();
}
