//! Headless Chromium driven through ChromeDriver (fantoccini), with the waits and checks the
//! browser tests share. Used by admin-api's SPA test and, through `#[path]`, by the proxy's test of
//! the whole stack started with scripts/run-local.sh.
// Each test binary that includes this uses a different part of it.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use fantoccini::{Client, ClientBuilder, Locator};
use serde_json::json;

/// Long enough for a cold WASM start on a busy 2-core machine; a passing check returns at once.
pub const PATIENCE: Duration = Duration::from_secs(20);

pub fn dist_dir() -> PathBuf {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../admin-web/dist");
    assert!(
        dir.join("index.html").is_file(),
        "{} has no index.html: build the SPA first (`trunk build --release` in admin-web/; scripts/test.sh does it)",
        dir.display()
    );
    dir
}

pub fn screenshot_dir() -> PathBuf {
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("../target"));
    let dir = target.join("screenshots");
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// ChromeDriver on a free port and one headless Chromium session; both end when dropped.
pub struct Browser {
    pub client: Client,
    driver: tokio::process::Child,
    base: String,
}

impl Drop for Browser {
    fn drop(&mut self) {
        if let Some(pid) = self.driver.id() {
            let _ = std::process::Command::new("kill").args(["-KILL", "--", &format!("-{pid}")]).status();
        }
    }
}

impl Browser {
    pub async fn start(base: &str) -> Browser {
        let _ = std::fs::remove_file(screenshot_dir().join("failure.png"));
        let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        let driver = tokio::process::Command::new("chromedriver")
            .arg(format!("--port={port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            // Its own process group, so that dropping the Browser also ends the Chromium it started,
            // even when a failed assertion leaves the session open.
            .process_group(0)
            .kill_on_drop(true)
            .spawn()
            .expect("chromedriver is not installed: run scripts/ensure-web-tools.sh (apt package chromium-driver)");
        let url = format!("http://127.0.0.1:{port}");
        let status = format!("{url}/status");
        for attempt in 0.. {
            match reqwest::get(&status).await {
                Ok(response) if response.status().is_success() => break,
                _ if attempt < 100 => tokio::time::sleep(Duration::from_millis(100)).await,
                other => panic!("chromedriver did not answer on {status}: {other:?}"),
            }
        }
        let profile = std::env::temp_dir().join(format!("tokenslipper-chromium-{}-{port}", std::process::id()));
        // The flags that work as root in a container without GPU or network (see TOOLCHAIN.md).
        let args = [
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--disable-dev-shm-usage",
            "--window-size=1280,900",
            "--lang=en-US",
        ]
        .into_iter()
        .map(String::from)
        .chain([format!("--user-data-dir={}", profile.display())])
        .collect::<Vec<_>>();
        let mut capabilities = serde_json::Map::new();
        capabilities.insert("goog:chromeOptions".into(), json!({"binary": "/usr/bin/chromium", "args": args}));
        let connector = hyper_util::client::legacy::connect::HttpConnector::new();
        let client = ClientBuilder::new(connector).capabilities(capabilities).connect(&url).await.unwrap();
        Browser { client, driver, base: base.to_owned() }
    }

    pub async fn open(&self, path: &str) {
        self.client.goto(&format!("{}{path}", self.base)).await.unwrap();
    }

    pub async fn path_and_query(&self) -> String {
        let url = self.client.current_url().await.unwrap();
        match url.query() {
            Some(query) => format!("{}?{query}", url.path()),
            None => url.path().to_owned(),
        }
    }

    /// Asks `probe` every 50 ms until it answers `Ok`; past [`PATIENCE`] the test fails with the
    /// last `Err`, the page's address and a screenshot.
    async fn poll<T, F, Fut>(&self, what: &str, mut probe: F) -> T
    where
        F: FnMut() -> Fut,
        Fut: std::future::Future<Output = Result<T, String>>,
    {
        let deadline = tokio::time::Instant::now() + PATIENCE;
        loop {
            let last = match probe().await {
                Ok(value) => return value,
                Err(last) => last,
            };
            if tokio::time::Instant::now() > deadline {
                self.screenshot("failure").await;
                panic!("{what}: {last}, on {} (screenshot: failure.png)", self.path_and_query().await);
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// Waits until `check` holds for the text of the first element matching `css`.
    pub async fn wait_text(&self, css: &str, what: &str, check: impl Fn(&str) -> bool) -> String {
        let check = &check;
        self.poll(what, || async move {
            let element = self.client.find(Locator::Css(css)).await.map_err(|_| format!("no `{css}`"))?;
            let text = element.text().await.map_err(|e| format!("`{css}` has no text: {e}"))?;
            if check(&text) {
                Ok(text)
            } else {
                Err(format!("`{css}` shows {text:?}"))
            }
        })
        .await
    }

    /// Waits until the URL's path and query satisfy `check`.
    pub async fn wait_url(&self, what: &str, check: impl Fn(&str) -> bool) -> String {
        let check = &check;
        self.poll(what, || async move {
            let here = self.path_and_query().await;
            if check(&here) {
                Ok(here)
            } else {
                Err(format!("the address stayed {here}"))
            }
        })
        .await
    }

    /// Waits until exactly `count` elements match `css`.
    pub async fn wait_count(&self, css: &str, count: usize, what: &str) {
        self.poll(what, || async move {
            let found = self.client.find_all(Locator::Css(css)).await.map(|all| all.len()).unwrap_or(0);
            if found == count {
                Ok(())
            } else {
                Err(format!("{found} elements match `{css}`, not {count}"))
            }
        })
        .await
    }

    pub async fn text_of(&self, css: &str) -> String {
        self.client.find(Locator::Css(css)).await.unwrap().text().await.unwrap()
    }

    pub async fn attr_of_all(&self, css: &str, attribute: &str) -> Vec<String> {
        let mut values = Vec::new();
        for element in self.client.find_all(Locator::Css(css)).await.unwrap() {
            values.push(element.attr(attribute).await.unwrap().unwrap_or_default());
        }
        values
    }

    /// The first element matching `css`, once there is one (the SPA renders after its WASM loads).
    pub async fn element(&self, css: &str) -> fantoccini::elements::Element {
        let found = self.client.wait().at_most(PATIENCE).for_element(Locator::Css(css)).await;
        match found {
            Ok(element) => element,
            Err(error) => {
                self.screenshot("failure").await;
                panic!("`{css}` never appeared on {}: {error}", self.path_and_query().await);
            }
        }
    }

    pub async fn fill(&self, css: &str, value: &str) {
        let input = self.element(css).await;
        input.clear().await.unwrap();
        input.send_keys(value).await.unwrap();
    }

    pub async fn click(&self, css: &str) {
        self.element(css).await.click().await.unwrap();
    }

    pub async fn screenshot(&self, name: &str) {
        if let Ok(png) = self.client.screenshot().await {
            std::fs::write(screenshot_dir().join(format!("{name}.png")), png).unwrap();
        }
    }

    pub async fn script(&self, source: &str) -> serde_json::Value {
        self.client.execute(source, vec![]).await.unwrap()
    }
}
