//! The dashboard in headless Chromium, as a person uses it: sign in, load each page, click a
//! time-range button, open the detail panels, download a CSV, and meet the 403 page.
//!
//! Needs Debian's `chromium` and `chromium-driver` (`apt-get install -y chromium
//! chromium-driver`). Without them the test says it is skipped — unless
//! `ENGAGEMENT_REQUIRE_SERVERS` is set (CI), where it fails. With `ENGAGEMENT_SCREENSHOTS=DIR`
//! it saves a PNG of each page there (the README's `docs/screenshots/`).

#[allow(dead_code)]
mod common;

use std::net::TcpListener as StdListener;
use std::panic::AssertUnwindSafe;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use engagement_core::{Clock, SystemClock};
use fantoccini::{Client, ClientBuilder, Locator};
use futures::FutureExt;
use hyper_util::client::legacy::connect::HttpConnector;
use serde_json::json;

/// A child process killed when the test ends, however it ends.
struct Reaped(Child);

impl Drop for Reaped {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn on_path(names: &[&str]) -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .flat_map(|dir| names.iter().map(move |n| dir.join(n)))
        .find(|p| p.is_file())
}

fn free_port() -> u16 {
    StdListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port on 127.0.0.1")
}

async fn wait_until<F: std::future::Future<Output = bool>>(
    what: &str,
    mut ready: impl FnMut() -> F,
) {
    let deadline = Instant::now() + Duration::from_secs(30);
    while !ready().await {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

struct Shots(Option<PathBuf>);

impl Shots {
    async fn take(&self, client: &Client, name: &str) {
        if let Some(dir) = &self.0 {
            let png = client.screenshot().await.expect("a screenshot");
            std::fs::create_dir_all(dir).expect("the screenshot folder");
            std::fs::write(dir.join(format!("{name}.png")), png).expect("the screenshot is saved");
        }
    }
}

/// The text of the first element matching `css`, waiting (and retrying across page loads)
/// until there is one.
async fn text(client: &Client, css: &str) -> String {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        if let Ok(element) = client.find(Locator::Css(css)).await
            && let Ok(text) = element.text().await
        {
            return text;
        }
        assert!(Instant::now() < deadline, "no {css} on the page");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

async fn sign_in(client: &Client, base: &str, path: &str, role: &str) {
    client
        .goto(&format!("{base}/login?next={path}"))
        .await
        .expect("the login page");
    let select = client
        .find(Locator::Css("select[name=role]"))
        .await
        .expect("the role menu");
    select
        .select_by_value(role)
        .await
        .expect("the role is picked");
    client
        .find(Locator::Css("form.login button"))
        .await
        .expect("the sign-in button")
        .click()
        .await
        .expect("signed in");
    wait_until("the page after signing in", || async {
        client
            .current_url()
            .await
            .is_ok_and(|u| !u.path().starts_with("/login"))
    })
    .await;
}

fn downloaded_csv(dir: &Path) -> Option<PathBuf> {
    std::fs::read_dir(dir)
        .ok()?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .find(|p| p.extension().is_some_and(|x| x == "csv"))
}

/// The name and text of the CSV a click is downloading into `dir`, once complete; the file
/// is taken out of `dir`, so that the next download is the only CSV there.
async fn take_download(dir: &Path) -> (String, String) {
    wait_until("the CSV download", || async {
        downloaded_csv(dir).is_some()
            && !std::fs::read_dir(dir)
                .map(|d| {
                    d.flatten()
                        .any(|e| e.path().extension().is_some_and(|x| x == "crdownload"))
                })
                .unwrap_or(true)
    })
    .await;
    let file = downloaded_csv(dir).expect("a CSV");
    let name = file
        .file_name()
        .and_then(|n| n.to_str())
        .unwrap_or_default()
        .to_owned();
    let csv = std::fs::read_to_string(&file).expect("the CSV reads");
    std::fs::remove_file(&file).expect("the CSV is taken");
    (name, csv)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_person_uses_the_dashboard_in_chromium() {
    let required = std::env::var_os("ENGAGEMENT_REQUIRE_SERVERS").is_some();
    let (Some(chromium), Some(driver)) = (
        on_path(&["chromium", "chromium-browser", "google-chrome"]),
        on_path(&["chromedriver"]),
    ) else {
        assert!(
            !required,
            "ENGAGEMENT_REQUIRE_SERVERS is set but chromium/chromedriver are missing: \
             apt-get install -y chromium chromium-driver"
        );
        eprintln!(
            "skipped: chromium and chromedriver are not installed (apt-get install -y chromium chromium-driver)"
        );
        return;
    };

    let (app, _) = common::demo_app(SystemClock.now()).await;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind 127.0.0.1:0");
    let base = format!("http://{}", listener.local_addr().expect("the address"));
    tokio::spawn(async move { axum::serve(listener, app).await });

    let port = free_port();
    let _driver = Reaped(
        Command::new(&driver)
            .arg(format!("--port={port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("chromedriver starts"),
    );
    wait_until("chromedriver", || async {
        tokio::net::TcpStream::connect(("127.0.0.1", port))
            .await
            .is_ok()
    })
    .await;

    let scratch = std::env::temp_dir().join(format!("engagement-e2e-{}", std::process::id()));
    let downloads = scratch.join("downloads");
    std::fs::create_dir_all(&downloads).expect("the download folder");
    let profile = scratch.join("profile");
    let caps = json!({
        "goog:chromeOptions": {
            "binary": chromium,
            "args": [
                "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                "--disable-background-networking", "--disable-component-update", "--disable-sync",
                "--window-size=1440,1000",
                format!("--user-data-dir={}", profile.display()),
            ],
            "prefs": {
                "download.default_directory": downloads,
                "download.prompt_for_download": false,
                "safebrowsing.enabled": false,
            },
        }
    });
    let caps = caps
        .as_object()
        .cloned()
        .expect("capabilities are an object");
    let client = ClientBuilder::new(HttpConnector::new())
        .capabilities(caps)
        .connect(&format!("http://127.0.0.1:{port}"))
        .await
        .expect("a Chromium session");
    let shots = Shots(std::env::var_os("ENGAGEMENT_SCREENSHOTS").map(PathBuf::from));

    let outcome = AssertUnwindSafe(async {
        // Signing in as an administrator lands on the engagement report (last 15 min).
        sign_in(&client, &base, "/engagement", "administrator").await;
        assert_eq!(text(&client, "h1").await, "Customer Engagement");
        assert_eq!(text(&client, ".ranges .btn.active").await, "15 min");
        let from_15 = text(&client, ".dates .from").await;

        // A time-range button changes the window.
        client.find(Locator::LinkText("24 hours")).await.expect("the 24 hours button").click().await.expect("click");
        wait_until("the 24-hour view", || async {
            client.current_url().await.is_ok_and(|u| u.as_str().contains("range=24h"))
        })
        .await;
        assert_eq!(text(&client, ".ranges .btn.active").await, "24 hours");
        assert_ne!(text(&client, ".dates .from").await, from_15);
        let rows = client.find_all(Locator::Css("#ranking tbody tr")).await.expect("rows");
        assert!(!rows.is_empty(), "the last 24 hours have active customers");
        shots.take(&client, "engagement").await;

        // The search box filters the table as you type (progressive JavaScript).
        let first_name = text(&client, "#ranking tbody tr td:nth-child(3)").await;
        let search = client.find(Locator::Css("input[data-filter-table]")).await.expect("search box");
        search.send_keys(&first_name).await.expect("typing");
        let visible = client
            .execute("return [...document.querySelectorAll('#ranking tbody tr')].filter(r => !r.hidden).length", vec![])
            .await
            .expect("script");
        assert!(visible.as_u64().is_some_and(|n| n >= 1 && n as usize <= rows.len()));
        // The CSV button follows the box: it downloads the rows the table shows.
        client.find(Locator::Css("a.csv")).await.expect("CSV").click().await.expect("click");
        let (name, csv) = take_download(&downloads).await;
        assert!(name.starts_with("engagement_"), "{name}");
        assert_eq!(visible.as_u64(), Some(csv.lines().count() as u64 - 1), "rows shown, rows exported");

        // The custom range form, and the seed's message for 5 weeks.
        client.find(Locator::LinkText("Custom Range")).await.expect("Custom Range").click().await.expect("click");
        let from = client.wait().for_element(Locator::Css("input[name=from]")).await.expect("From date");
        client
            .execute("document.querySelector('input[name=from]').value='2026-01-01';document.querySelector('input[name=to]').value='2026-02-05';", vec![])
            .await
            .expect("dates set");
        let _ = from;
        client.find(Locator::Css("form.filters button")).await.expect("Update").click().await.expect("click");
        assert!(text(&client, ".error").await.contains("Date Range must be less than 4 weeks"));
        shots.take(&client, "engagement-range-error").await;

        // Customer activity: clicking a row opens the detail panel.
        client.goto(&format!("{base}/activity")).await.expect("activity");
        assert_eq!(text(&client, "h1").await, "Customer Activity");
        assert_eq!(client.find_all(Locator::Css(".summary .counter")).await.expect("counters").len(), 5);
        client.find(Locator::Css("#activity tbody tr td:nth-child(2)")).await.expect("a row").click().await.expect("click");
        assert!(text(&client, "#customer-detail").await.contains("14-day trend"));
        assert_eq!(client.find_all(Locator::Css("#customer-detail .card")).await.expect("cards").len(), 4);
        shots.take(&client, "activity").await;

        // The event log: a row opens the event detail; the export downloads the CSV.
        client.goto(&format!("{base}/events")).await.expect("events");
        assert!(text(&client, ".total").await.contains("events"));
        client.find(Locator::Css("#events tbody tr td:nth-child(3)")).await.expect("a row").click().await.expect("click");
        let detail = text(&client, "#event-detail").await;
        for section in ["Customer", "Geo", "Page", "Metadata"] {
            assert!(detail.contains(section), "the panel lacks {section}");
        }
        shots.take(&client, "events").await;
        client.find(Locator::Css("a.export")).await.expect("Export").click().await.expect("click");
        let (name, csv) = take_download(&downloads).await;
        assert!(name.starts_with("event-log_") && name.ends_with(".csv"), "{name}");
        assert!(csv.starts_with("\"event_id\",\"occurred_at\""));
        assert!(csv.lines().count() > 50);

        // The funnel page draws its step chart.
        client.goto(&format!("{base}/funnel")).await.expect("funnel");
        client.wait().for_element(Locator::Css("svg.funnel rect")).await.expect("the step chart");
        shots.take(&client, "funnel").await;

        // Customer service sees the 403 page.
        sign_in(&client, &base, "/engagement", "customer-service").await;
        assert_eq!(text(&client, "h1").await, "Access denied");
        shots.take(&client, "forbidden").await;
    })
    .catch_unwind()
    .await;
    // Close the browser even when a step failed, then report the failure.
    let _ = client.close().await;
    let _ = std::fs::remove_dir_all(&scratch);
    if let Err(panic) = outcome {
        std::panic::resume_unwind(panic);
    }
}
