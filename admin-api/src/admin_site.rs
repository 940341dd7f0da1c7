//! Serves the admin SPA (admin-web's `trunk build` output) at `/admin`. Any path below it that is
//! not a file gets `index.html`, so deep links such as `/admin/request/{id}` load and survive a
//! reload; the SPA's router takes it from there.

use std::path::{Path, PathBuf};

use axum::http::{header, HeaderValue, StatusCode};
use axum::response::Html;
use axum::routing::get;
use axum::Router;
use tower_http::services::{ServeDir, ServeFile};
use tower_http::set_header::SetResponseHeaderLayer;

pub const MOUNT: &str = "/admin";

/// Where the built SPA is, and whether it is there.
#[derive(Clone, Debug)]
pub enum AdminSite {
    Built(PathBuf),
    Missing(PathBuf),
}

impl AdminSite {
    pub fn locate(dir: &Path) -> AdminSite {
        if dir.join("index.html").is_file() {
            AdminSite::Built(dir.to_path_buf())
        } else {
            AdminSite::Missing(dir.to_path_buf())
        }
    }

    /// What to tell the operator when the SPA cannot be served.
    pub fn missing_reason(&self) -> Option<String> {
        match self {
            AdminSite::Built(_) => None,
            AdminSite::Missing(dir) => Some(format!(
                "the admin web app is not built: {} has no index.html. Build it with `trunk build --release` \
                 in admin-web/ (scripts/ensure-web-tools.sh installs trunk), or point ADMIN_WEB_DIR at a built copy.",
                dir.display()
            )),
        }
    }

    pub fn router<S: Clone + Send + Sync + 'static>(&self) -> Router<S> {
        let site = match self {
            AdminSite::Built(dir) => {
                // trunk's post-build hook leaves a `.gz` beside each asset (admin-web/Trunk.toml).
                let files = ServeDir::new(dir).precompressed_gzip().fallback(ServeFile::new(dir.join("index.html")));
                Router::new().nest_service(MOUNT, files)
            }
            AdminSite::Missing(_) => {
                let reason = self.missing_reason().unwrap_or_default();
                let page = move || {
                    let reason = reason.clone();
                    async move { (StatusCode::SERVICE_UNAVAILABLE, Html(missing_page(&reason))) }
                };
                // `/admin/` needs its own route: a wildcard does not match an empty rest.
                Router::new()
                    .route(MOUNT, get(page.clone()))
                    .route(&format!("{MOUNT}/"), get(page.clone()))
                    .route(&format!("{MOUNT}/{{*rest}}"), get(page))
            }
        };
        site.layer(SetResponseHeaderLayer::overriding(
            header::X_CONTENT_TYPE_OPTIONS,
            HeaderValue::from_static("nosniff"),
        ))
        .layer(SetResponseHeaderLayer::overriding(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY")))
        .layer(SetResponseHeaderLayer::overriding(header::REFERRER_POLICY, HeaderValue::from_static("no-referrer")))
        // Revalidate every time (cheap: ServeDir answers 304), so a rebuilt SPA is picked up at once.
        .layer(SetResponseHeaderLayer::if_not_present(header::CACHE_CONTROL, HeaderValue::from_static("no-cache")))
    }
}

fn missing_page(reason: &str) -> String {
    let escaped = reason.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;");
    format!(
        "<!doctype html><html lang=\"en\"><meta charset=\"utf-8\"><title>TokenSlipper admin not built</title>\
         <body style=\"font-family:system-ui;max-width:40rem;margin:3rem auto\"><h1>Admin web app not built</h1>\
         <p>{escaped}</p><p>The GraphQL API is available at <a href=\"/graphql\">/graphql</a>.</p></body></html>"
    )
}
