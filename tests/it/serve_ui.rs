//! The web UI of `arca serve` in a real browser (headless Chromium through chromedriver): a
//! user logs in with the keyboard, reads the dashboard, filters and tags snapshots, browses
//! into a snapshot (sorted, paged), downloads a file (compared byte for byte with the source),
//! opens its history, restores a directory on the server and waits for the report, previews a
//! forget policy, diffs and finds, runs a profile's backup and forgets a snapshot after a
//! confirmation; no page logs a console error (a script error, a
//! Content-Security-Policy violation or a failed load would). A file named like HTML is shown
//! as text. Failing navigations get HTML error pages while API clients keep JSON.
//! Screenshots of every page go to `target/tmp/serve-ui-screenshots/`.

use std::path::{Path, PathBuf};

use crate::common::browser::Browser;
use crate::common::server::*;
use crate::common::{noise, write, Env};

/// A name a careless page would turn into markup (and run).
const HOSTILE: &str = "<img src=x onerror=alert(1)>.txt";

/// A small but realistic repository: two hosts, a laptop backed up daily for two weeks (a
/// notes file that changes, photos added), a server once a week that stopped five days ago
/// (stale); one directory of 450 entries.
fn repository() -> (Env, PathBuf) {
    let env = Env::new();
    env.init();
    let home = env.path("home");
    let srv = env.path("srv");
    write(&home.join("docs/report.bin"), &noise(300 << 10, 1));
    write(&home.join(format!("docs/{HOSTILE}")), b"not markup\n");
    for i in 0..450 {
        write(&home.join(format!("many/entry-{i:04}")), &noise(10 + i, i as u64));
    }
    write(&srv.join("www/index.html"), b"<h1>hello</h1>\n");
    write(&srv.join("db/dump.sql"), &noise(200 << 10, 2));
    let now = chrono::Local::now();
    let at = |days: i64, hours: i64| {
        (now - chrono::Duration::hours(days * 24 + hours)).format("%Y-%m-%d %H:%M:%S").to_string()
    };
    for week in (0..6).rev() {
        write(&srv.join("db/dump.sql"), &noise((200 << 10) + week * 1000, 100 + week as u64));
        let time = at(5 + 7 * week as i64, 3);
        env.ok(&["backup", srv.to_str().unwrap(), "--host", "server", "--time", &time, "--tag", "weekly"]);
    }
    for day in (0..14).rev() {
        if day % 4 == 0 {
            write(&home.join("docs/notes.md"), format!("notes, version of day {day}\n").as_bytes());
        }
        write(&home.join(format!("photos/img-{day:02}.jpg")), &noise(150 << 10, 200 + day as u64));
        let time = at(day, 2);
        env.ok(&["backup", home.to_str().unwrap(), "--host", "laptop", "--time", &time]);
    }
    (env, home)
}

/// Log in through the login page with the keyboard (Enter submits).
fn log_in(b: &Browser, s: &Server) {
    b.goto(&format!("{}/", s.base));
    b.find("input[name=token]");
    assert!(b.url().ends_with("/login"), "not logged in, the app sends the browser to the login page: {}", b.url());
    b.type_into("input[name=token]", s.token.as_deref().unwrap());
    b.keys("\u{E007}");
    b.find("#nav a[aria-current=page]");
}

#[test]
fn in_chromium_a_user_logs_in_filters_snapshots_browses_sorts_pages_and_downloads() {
    let Some(b) = Browser::start("browse") else { return };
    let (env, home) = repository();
    let s = start(&env, &[]);
    b.goto(&format!("{}/login", s.base));
    b.find("input[name=token]");
    b.screenshot("login");
    b.assert_no_console_errors("login");
    log_in(&b, &s);
    // (the dashboard is the other test's)
    let _ = b.console_errors();

    // the snapshots page, reached with the keyboard; filtered by host
    let link = b.find("#nav a[data-page=snapshots]");
    b.send_keys(&link, "\u{E007}");
    b.wait_text("main h1", "Snapshots");
    b.find("main table tbody tr");
    assert_eq!(b.find_all("main table tbody tr").len(), 20);
    let host = b.find("select[name=host]");
    b.select(&host, "laptop");
    b.click("form.filters button.primary");
    b.wait_text("main .page-head", "14 of 20");
    assert_eq!(b.find_all("main table tbody tr").len(), 14);
    b.screenshot("snapshots");
    b.assert_no_console_errors("snapshots");

    // browse the newest laptop snapshot down to docs/ by its links (a directory's link ends
    // with its path, '/' encoded as URLSearchParams does); the hostile name is text, not markup
    b.click("main table tbody tr:first-child td a.mono");
    b.wait_text("main h1", "Snapshot");
    for part in home.join("docs").iter().skip(1) {
        let name = part.to_str().unwrap();
        b.click(&format!("main table a[href$='%2F{name}']"));
        b.wait_text("ol.crumbs", name);
    }
    b.wait_text("main table", HOSTILE);
    assert!(b.find_all("main table img").is_empty(), "a file name became an element");
    // sort by size, largest first: two clicks on the column's header
    b.click("main th:nth-child(2) button.sort");
    b.find("main th:nth-child(2)[aria-sort=ascending]");
    b.click("main th:nth-child(2) button.sort");
    b.find("main th:nth-child(2)[aria-sort=descending]");
    let first = b.find("main table tbody tr:first-child");
    assert!(b.element_text(&first).contains("report.bin"), "largest first: {}", b.element_text(&first));
    b.screenshot("browse");
    b.assert_no_console_errors("browse");

    // download a file: the bytes are the source's
    b.click("a[data-file='report.bin']");
    let got = std::fs::read(b.downloaded("report.bin")).unwrap();
    assert!(got == std::fs::read(home.join("docs/report.bin")).unwrap(), "the downloaded file differs from the source");

    // a directory of 450 entries, 200 a page: the pager says where we are and moves on
    b.click("ol.crumbs li:nth-last-child(2) a");
    b.click("main table a[href$='%2Fmany']");
    b.wait_text(".pager", "1–200 of 450");
    assert_eq!(b.find_all("main table tbody tr").len(), 200);
    // on the first page "First" and "Previous" are inert labels, not links that go nowhere
    assert_eq!(b.find_all(".pager a").len(), 2, "only Next and Last lead somewhere");
    assert_eq!(b.find_all(".pager span[aria-disabled=true]").len(), 2);
    b.click(".pager a[rel=next]");
    b.wait_text(".pager", "201–400 of 450");
    b.wait_text("main table tbody tr:first-child", "entry-0200");
    assert_eq!(b.find_all(".pager a").len(), 4, "every way is open in the middle");
    // the last page: Next and Last are inert
    b.click(".pager a[rel=next]");
    b.wait_text(".pager", "401–450 of 450");
    assert_eq!(b.find_all(".pager a").len(), 2);
    b.click(".pager a[rel=prev]");
    b.wait_text(".pager", "201–400 of 450");
    b.screenshot("browse-paged");
    b.assert_no_console_errors("browse, second page");
    drop(b);
    env.check();
}

#[test]
fn failing_navigations_get_html_error_pages_and_api_clients_keep_json() {
    let env = Env::new();
    env.init();
    write(&env.path("src/a"), b"a");
    env.backup_json(&[env.path("src").to_str().unwrap()]);
    let s = start(&env, &[]);
    let html = ("Accept", "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8");
    let auth = bearer(&s);

    // a browser that is not logged in is sent to the login page; an API client gets 401 JSON
    let nav = get(&format!("{}/", s.base), &[html]);
    assert_eq!((nav.status, nav.header("location").as_str()), (303, "/login"));
    assert_eq!(get(&format!("{}/", s.base), &[]).json()["error"]["kind"], "unauthorized");

    // a failing navigation: an HTML page with the CLI's message and hint, escaped
    for (path, message) in [
        ("/nothing", "no such route"),
        ("/api/snapshots/ffffffff/tree", "ffffffff"),
        ("/api/snapshots/latest/file?path=/etc/../x", ".."),
    ] {
        let page = get(&format!("{}{path}", s.base), &[html, ("Authorization", &auth)]);
        let text = String::from_utf8_lossy(&page.body).to_string();
        assert!(page.status >= 400, "{path}: {}", page.status);
        assert!(page.header("content-type").starts_with("text/html"), "{path}");
        assert!(text.contains(message) && text.contains("class=\"hint\""), "{path}: {text}");
        assert!(!text.contains("<script"), "no script on an error page");
        let json = get(&format!("{}{path}", s.base), &[("Authorization", &auth)]);
        assert_eq!(json.status, page.status);
        assert!(json.json()["error"]["message"].as_str().unwrap().contains(message), "{path}: API clients keep JSON");
    }

    // the assets: public, typed, and no other name serves anything
    for (asset, kind) in [("app.css", "text/css"), ("app.js", "text/javascript"), ("icon.svg", "image/svg+xml")] {
        let a = get(&format!("{}/ui/{asset}", s.base), &[]);
        assert_eq!(a.status, 200, "{asset}");
        assert!(a.header("content-type").starts_with(kind), "{asset}: {}", a.header("content-type"));
        assert!(a.header("content-security-policy").contains("default-src 'self'"));
    }
    for bad in ["/ui/", "/ui/..%2Fauth.rs", "/ui/%2e%2e/Cargo.toml", "/ui/index.html.bak", "/ui/app.css/x"] {
        let a = get(&format!("{}{bad}", s.base), &[]);
        assert!(a.status == 404 || a.status == 401, "{bad}: {}", a.status);
        assert!(!String::from_utf8_lossy(&a.body).contains("fn "), "{bad} served source");
    }
    // the app itself needs a login, and is the page that loads the scripts
    let app = get(&format!("{}/", s.base), &[("Authorization", &auth)]);
    assert_eq!(app.status, 200);
    assert!(String::from_utf8_lossy(&app.body).contains("<script type=\"module\" src=\"/ui/app.js\">"));

    // a wrong token in the browser's form: the form again, saying so; no cookie
    let wrong = post(&format!("{}/login", s.base), &[html], "token=nope");
    assert_eq!(wrong.status, 401);
    assert!(String::from_utf8_lossy(&wrong.body).contains("wrong token"));
    assert!(wrong.header("set-cookie").is_empty());
    // the right one: to the app
    let right = post(&format!("{}/login", s.base), &[html], &format!("token={}", s.token.as_deref().unwrap()));
    assert_eq!((right.status, right.header("location").as_str()), (303, "/"));

    // and in a real browser: the error page shows under the CSP without a console error
    let Some(b) = Browser::start("error-page") else { return };
    b.goto(&format!("{}/login", s.base));
    b.type_into("input[name=token]", "wrong");
    b.keys("\u{E007}");
    b.wait_text("[role=alert]", "wrong token");
    // the refused login's own status is all Chromium logs (no CSP violation, no script error)
    let logged = b.console_errors();
    assert!(logged.iter().all(|l| l.contains("status of 401")), "{logged:?}");
    b.screenshot("login-refused");
    b.type_into("input[name=token]", s.token.as_deref().unwrap());
    b.keys("\u{E007}");
    b.find("#nav a[aria-current=page]");
    b.goto(&format!("{}/api/snapshots/latest/tree?path=/nowhere", s.base));
    b.wait_text(".error-page", "nowhere");
    b.screenshot("error-page");
    let logged = b.console_errors();
    assert!(!logged.is_empty() && logged.iter().all(|l| l.contains("status of 404")), "{logged:?}");
}

#[test]
fn in_chromium_the_dashboard_tags_history_restore_forget_preview_diff_find_and_jobs_pages_work() {
    let Some(b) = Browser::start("walkthrough") else { return };
    let (env, home) = repository();
    let root = restore_root(&env);
    // a profile the jobs page may run: the laptop's home again
    let config = env.path(".config/arca");
    std::fs::create_dir_all(&config).unwrap();
    let profile = format!("[backup]\nsources = [\"{}\"]\nhost = \"laptop\"\ntags = [\"web\"]\n", home.display());
    std::fs::write(config.join("laptop.toml"), profile).unwrap();
    let s = start(&env, &["--restore-root", root.to_str().unwrap(), "-P", "laptop"]);
    log_in(&b, &s);

    // the dashboard: cards, the sources (the server is stale), the charts
    b.wait_text("main", "Sources");
    b.find(".chart svg path.area");
    let stats = b.text(".cards");
    assert!(stats.contains("20"), "20 snapshots: {stats}");
    let sources = b.text("main table");
    assert!(sources.contains("laptop") && sources.contains("server"), "{sources}");
    assert_eq!(b.find_all("main table .badge.stale").len(), 1, "the server's newest snapshot is 5 days old");
    let days = b.find_all(".calendar rect").len();
    assert!((365..=372).contains(&days), "a year of days: {days}");
    assert!(b.find_all(".calendar rect.c0").len() < days, "days with snapshots are coloured");
    // the whole dashboard in one picture (docs/serve-dashboard.png is one of these)
    b.resize(1360, 1300);
    b.screenshot("dashboard");
    b.resize(1360, 1000);
    b.assert_no_console_errors("dashboard");

    // tag the newest snapshot from its row (Enter in the dialog saves)
    b.goto(&format!("{}/#/snapshots", s.base));
    b.click("main table tbody tr:first-child button.small");
    b.type_into("dialog input[name=add]", "keep-me");
    b.keys("\u{E007}");
    b.wait_text("main table tbody tr:first-child", "keep-me");
    b.assert_no_console_errors("snapshots after tagging");

    // a file's history: notes.md changed on days 12, 8, 4 and 0
    let docs = home.join("docs");
    b.goto(&format!("{}/#/browse/latest?path={}", s.base, enc(docs.to_str().unwrap())));
    b.click("a[data-history='notes.md']");
    b.wait_text("main", "4 versions");
    assert_eq!(b.find_all("main table tbody tr").len(), 4);
    b.screenshot("history");
    b.assert_no_console_errors("history");

    // restore docs/ into the restore root and wait for the report
    b.js("history.back()");
    b.wait_text("ol.crumbs", "docs");
    b.click("main .page-head button.primary");
    b.type_into("dialog input[name=sub]", "again");
    b.click("dialog button.primary");
    b.find("[data-job-state=done] [data-report]");
    let copy = find_file(&root.join("again"), "report.bin").expect("report.bin restored under the root");
    assert!(std::fs::read(copy).unwrap() == std::fs::read(docs.join("report.bin")).unwrap());
    b.screenshot("job");
    b.assert_no_console_errors("job");

    // preview a forget policy: keep the last 3 of each source
    b.goto(&format!("{}/#/policy", s.base));
    b.type_into("input[name=keep-last]", "3");
    b.keys("\u{E007}");
    b.wait_text("main .notice", "Keeps 6, removes 14");
    b.screenshot("policy");
    assert_eq!(b.find_all("main .badge.keep").len(), 6);
    assert_eq!(b.find_all("main .badge.remove").len(), 14);
    let why = b.text("main table tbody tr:first-child");
    assert!(why.contains("last snapshot"), "the reason is shown: {why}");
    b.assert_no_console_errors("forget policy");
    assert_eq!(env.snapshot_ids().len(), 20, "a preview forgets nothing");

    // diff of the two newest snapshots (the laptop's), and find by name
    b.goto(&format!("{}/#/diff", s.base));
    b.click("main form button.primary");
    b.wait_text("main table", "img-00.jpg");
    b.screenshot("diff");
    b.assert_no_console_errors("diff");
    b.goto(&format!("{}/#/find?pattern=notes.md", s.base));
    b.wait_text("main [role=status]", "matches in 13 snapshots");
    b.screenshot("find");
    b.assert_no_console_errors("find");
    b.goto(&format!("{}/#/jobs", s.base));
    b.wait_text("main", "restore");
    b.screenshot("jobs");
    b.assert_no_console_errors("jobs");

    // run the profile's backup from the jobs page and wait for its summary
    write(&home.join("docs/notes.md"), b"notes, written just before the web backup\n");
    b.click("main button.primary.small");
    b.find("[data-job-state=done] [data-report]");
    b.wait_text("[data-report]", "snapshot id");
    b.screenshot("backup-job");
    b.assert_no_console_errors("backup job");
    assert_eq!(env.snapshot_ids().len(), 21, "the backup made one snapshot");

    // forget that snapshot from its row: Cancel keeps it, the confirmation forgets it
    b.goto(&format!("{}/#/snapshots", s.base));
    b.wait_text("main .page-head", "21 of 21");
    b.click("main table tbody tr:first-child button.danger");
    b.click("dialog button:not([data-confirm])");
    assert_eq!(env.snapshot_ids().len(), 21, "cancelled: nothing forgotten");
    b.click("main table tbody tr:first-child button.danger");
    b.wait_text("dialog", "Forget snapshot");
    b.screenshot("forget-confirm");
    b.click("dialog button[data-confirm]");
    b.wait_text("main .page-head", "20 of 20");
    assert_eq!(env.snapshot_ids().len(), 20, "confirmed: the snapshot is forgotten");
    b.assert_no_console_errors("snapshots after forgetting");
    drop(b);
    env.check();
}

fn restore_root(env: &Env) -> PathBuf {
    let root = env.path("restores");
    std::fs::create_dir_all(&root).unwrap();
    root
}

fn find_file(dir: &Path, name: &str) -> Option<PathBuf> {
    for e in std::fs::read_dir(dir).ok()? {
        let p = e.ok()?.path();
        if p.file_name().is_some_and(|n| n == name) {
            return Some(p);
        }
        if p.is_dir() {
            if let Some(f) = find_file(&p, name) {
                return Some(f);
            }
        }
    }
    None
}
