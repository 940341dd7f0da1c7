//! The admin SPA under `/admin`: files where they exist, `index.html` for every other path (deep
//! links survive a reload), and a page that says what to do when the SPA is not built.

use std::path::PathBuf;

use sqlx::MySqlPool;

use crate::helpers::spawn_admin_with;

const INDEX: &str = "<!doctype html><title>spa-index-marker</title>";
const SCRIPT: &str = "console.log('spa-script-marker')";
/// Stands in for the `.gz` trunk's hook writes: the server passes it on as it is.
const GZIPPED_SCRIPT: &[u8] = b"\x1f\x8bnot-really-gzip";

/// A stand-in for `trunk build` output: an index and one asset, in a directory of its own.
fn built_site(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("tokenslipper-site-{name}-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("index.html"), INDEX).unwrap();
    std::fs::write(dir.join("admin-web-1234.js"), SCRIPT).unwrap();
    std::fs::write(dir.join("admin-web-1234.js.gz"), GZIPPED_SCRIPT).unwrap();
    dir
}

#[sqlx::test(migrations = false)]
async fn every_spa_path_loads_the_index_and_assets_are_served_as_files(pool: MySqlPool) {
    let dir = built_site("built");
    let admin = spawn_admin_with(pool, &[("ADMIN_WEB_DIR", dir.to_str().unwrap())]).await;

    for path in ["/admin", "/admin/", "/admin/requests?page=3&size=50", "/admin/request/0192f0c1-aaaa", "/admin/nope/x"]
    {
        let response = admin.client.get(format!("{}{path}", admin.address)).send().await.unwrap();
        assert_eq!(response.status(), 200, "{path}");
        let headers = response.headers().clone();
        assert_eq!(headers["x-content-type-options"], "nosniff", "{path}");
        assert_eq!(headers["x-frame-options"], "DENY", "{path}");
        assert_eq!(headers["referrer-policy"], "no-referrer", "{path}");
        assert_eq!(headers["cache-control"], "no-cache", "{path}");
        assert!(headers["content-type"].to_str().unwrap().starts_with("text/html"), "{path}");
        assert_eq!(response.text().await.unwrap(), INDEX, "{path}");
    }

    let script = admin.client.get(format!("{}/admin/admin-web-1234.js", admin.address)).send().await.unwrap();
    assert_eq!(script.status(), 200);
    assert!(script.headers()["content-type"].to_str().unwrap().contains("javascript"));
    assert_eq!(script.text().await.unwrap(), SCRIPT);
    // A browser that accepts gzip gets the precompressed copy, typed as the original.
    let gzipped = admin
        .client
        .get(format!("{}/admin/admin-web-1234.js", admin.address))
        .header("accept-encoding", "gzip, deflate, br")
        .send()
        .await
        .unwrap();
    assert_eq!(gzipped.headers()["content-encoding"], "gzip");
    assert!(gzipped.headers()["content-type"].to_str().unwrap().contains("javascript"));
    assert_eq!(gzipped.bytes().await.unwrap(), GZIPPED_SCRIPT);

    // The API keeps its own routes beside the site.
    let health = admin.client.get(format!("{}/health", admin.address)).send().await.unwrap();
    assert_eq!(health.status(), 200);
    std::fs::remove_dir_all(dir).unwrap();
}

#[sqlx::test(migrations = false)]
async fn a_missing_build_is_explained_on_every_admin_path_while_the_api_works(pool: MySqlPool) {
    let dir = std::env::temp_dir().join(format!("tokenslipper-site-missing-{}", std::process::id()));
    let admin = spawn_admin_with(pool, &[("ADMIN_WEB_DIR", dir.to_str().unwrap())]).await;

    for path in ["/admin", "/admin/", "/admin/requests", "/admin/request/42"] {
        let response = admin.client.get(format!("{}{path}", admin.address)).send().await.unwrap();
        assert_eq!(response.status(), 503, "{path}");
        let page = response.text().await.unwrap();
        assert!(page.contains("not built"), "{path}: {page}");
        assert!(page.contains("trunk build --release"), "{path}: {page}");
        assert!(page.contains(&dir.display().to_string()), "{path}: {page}");
    }
    let (status, body) =
        admin.query_with_token(Some(crate::helpers::TOKEN), "{ __typename }", serde_json::json!({})).await;
    assert_eq!((status, &body["data"]["__typename"]), (200, &serde_json::json!("Query")));
}
