//! `arca serve`'s insight routes through the real binary: the dashboard (sizes and ratios as
//! `stats --mode raw-data` computes them, sources and staleness, series, calendar, the last
//! `check`), find, history, diff and the forget preview answering exactly as the CLI's
//! `--json` does for the same repository, each bounded and refusing bad input as a JSON usage
//! error with a hint; tags and forget changing snapshots only with the CSRF token through a
//! cookie, a policy forget only when confirmed, the server's list showing the change at once;
//! and a planted or garbage last-check record in the cache ignored.

use serde_json::{json, Value};

use crate::common::server::*;
use crate::common::{noise, write, Env};

/// Three snapshots of `src/` (host `alpha`; the first dated 2020, so stale) with a file
/// changed, one added and one removed between them, and one of `other/` (host `beta`).
fn repo_with_history() -> (Env, std::path::PathBuf) {
    let env = Env::new();
    env.init();
    let src = env.path("src");
    write(&src.join("doc/report.txt"), b"first version");
    write(&src.join("doc/notes.txt"), b"notes");
    for i in 0..12 {
        write(&src.join(format!("many/f{i:02}.dat")), &noise(2000 + i * 100, i as u64));
    }
    let s = src.to_str().unwrap();
    env.backup_json(&["--host", "alpha", "--time", "2020-01-02 03:04:05", s]);
    write(&src.join("doc/report.txt"), b"second version, longer");
    write(&src.join("doc/new.txt"), b"new");
    env.backup_json(&["--host", "alpha", "--time", "2020-01-03 03:04:05", s]);
    std::fs::remove_file(src.join("doc/notes.txt")).unwrap();
    write(&src.join("doc/report.txt"), b"third");
    env.backup_json(&["--host", "alpha", s]);
    let other = env.path("other");
    write(&other.join("x.bin"), &noise(50_000, 99));
    env.backup_json(&["--host", "beta", other.to_str().unwrap()]);
    (env, src)
}

fn auth(s: &Server) -> String {
    bearer(s)
}

fn api(s: &Server, path: &str) -> Answer {
    get(&format!("{}{path}", s.base), &[("Authorization", &auth(s))])
}

fn json_of(out: &str) -> Value {
    serde_json::from_str(out.lines().next().expect("a JSON line")).expect("JSON")
}

/// A refusal: the status, kind `usage` (or the kind given) and a hint.
fn refused(a: &Answer, status: u16, kind: &str) {
    assert_eq!(a.status, status, "{}", String::from_utf8_lossy(&a.body));
    let e = &a.json()["error"];
    assert_eq!(e["kind"], kind, "{e}");
    assert!(e["hint"].as_str().is_some_and(|h| !h.is_empty()), "an error says what to do: {e}");
}

#[test]
fn the_dashboard_sums_as_stats_does_and_marks_the_stale_source() {
    let (env, src) = repo_with_history();
    env.ok(&["check"]);
    let s = start(&env, &[]);
    let a = api(&s, "/api/dashboard");
    assert_eq!(a.status, 200, "{}", String::from_utf8_lossy(&a.body));
    let d = a.json();
    let r = &d["repository"];
    let stats = json_of(&env.ok(&["stats", "--mode", "raw-data", "--json"]));
    assert_eq!(r["compression_ratio"], stats["compression_ratio"], "{r} vs {stats}");
    assert_eq!(r["dedup_ratio"], stats["deduplication_ratio"], "{r} vs {stats}");
    assert_eq!(r["raw_bytes"], stats["total_uncompressed_size"]);
    assert_eq!(r["blobs"], stats["total_blob_count"]);
    assert_eq!(r["snapshots"], 4);
    assert!(r["version"].as_u64().is_some_and(|v| v >= 1), "{r}");
    // stored: every pack file's size
    let mut packed = 0;
    for e in walkdir(&env.path("repo/data")) {
        packed += std::fs::metadata(e).unwrap().len();
    }
    assert_eq!(r["stored_bytes"], packed);
    assert_eq!(r["packs"].as_u64().unwrap() as usize, env.packs().len());
    // logical: the restore sizes of the newest snapshot of each source
    let sizes = |id: &str| json_of(&env.ok(&["stats", id, "--json"]))["total_size"].as_u64().unwrap();
    let snaps: Vec<Value> = serde_json::from_str(&env.ok(&["snapshots", "--json"])).unwrap();
    let newest_alpha = snaps.iter().rfind(|x| x["hostname"] == "alpha").unwrap()["id"].as_str().unwrap().to_string();
    let newest_beta = snaps.iter().rfind(|x| x["hostname"] == "beta").unwrap()["id"].as_str().unwrap().to_string();
    assert_eq!(r["logical_bytes"], sizes(&newest_alpha) + sizes(&newest_beta));

    let sources = d["sources"].as_array().unwrap();
    assert_eq!(sources.len(), 2);
    assert_eq!(sources[0]["host"], "alpha");
    assert_eq!(sources[0]["paths"], json!([src.to_str().unwrap()]));
    assert_eq!(sources[0]["snapshots"], 3);
    assert_eq!(sources[0]["newest"]["id"], newest_alpha.as_str());
    assert_eq!(sources[0]["stale"], false, "backed up just now");
    assert_eq!(sources[1]["newest"]["id"], newest_beta.as_str());
    assert_eq!(d["stale_after_seconds"], 26 * 3600);
    // the series: cumulative, oldest first; the calendar: one entry per local day
    let series = d["series"].as_array().unwrap();
    assert_eq!(series.len(), 4);
    assert_eq!(series[3]["snapshots"], 4);
    let added: u64 = snaps.iter().map(|x| x["summary"]["data_added_packed"].as_u64().unwrap()).sum();
    assert_eq!(series[3]["stored_bytes"], added);
    assert!(series.windows(2).all(|w| w[0]["stored_bytes"].as_u64() <= w[1]["stored_bytes"].as_u64()));
    let cal = d["calendar"].as_array().unwrap();
    assert_eq!(cal.iter().map(|c| c["snapshots"].as_u64().unwrap()).sum::<u64>(), 4);
    assert_eq!(cal[0]["date"], "2020-01-02");
    // the last check, as `arca check` recorded it
    let lc = &d["last_check"];
    assert_eq!(lc["ok"], true, "{lc}");
    assert_eq!(lc["errors"], 0);
    assert_eq!(lc["read_data"], Value::Null);
    assert!(lc["summary"].as_str().unwrap().contains("no errors were found"), "{lc}");
    assert!(chrono::DateTime::parse_from_rfc3339(lc["time"].as_str().unwrap()).is_ok());

    // a threshold in the query: every source older than a second is stale once a second passed
    std::thread::sleep(std::time::Duration::from_millis(2100));
    let d = api(&s, "/api/dashboard?stale_after=1").json();
    assert_eq!(d["stale_after_seconds"], 1);
    assert!(d["sources"].as_array().unwrap().iter().all(|x| x["stale"] == true));
    for bad in ["0", "-5", "abc", "999999999999"] {
        refused(&api(&s, &format!("/api/dashboard?stale_after={bad}")), 400, "usage");
    }
    refused(&api(&s, "/api/dashboard?nonsense=1"), 400, "usage");

    // a check with --read-data that finds a pack damaged: recorded too, and shown
    drop(s);
    let pack = walkdir(&env.path("repo/data")).into_iter().next().unwrap();
    let mut bytes = std::fs::read(&pack).unwrap();
    bytes[10] ^= 0xff;
    std::fs::write(&pack, bytes).unwrap();
    assert_ne!(crate::common::code(&env.run(&["check", "--read-data"])), 0);
    let s = start(&env, &[]);
    let lc = api(&s, "/api/dashboard").json()["last_check"].clone();
    assert_eq!(lc["ok"], false, "{lc}");
    assert!(lc["errors"].as_u64().unwrap() >= 1);
    assert_eq!(lc["read_data"], "all");
}

fn walkdir(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    let mut out = vec![];
    for e in std::fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        if p.is_dir() {
            out.extend(walkdir(&p));
        } else {
            out.push(p);
        }
    }
    out.sort();
    out
}

#[test]
fn a_planted_or_garbage_last_check_record_is_ignored() {
    let (env, _) = repo_with_history();
    env.ok(&["check"]);
    let s = start(&env, &[]);
    let d = api(&s, "/api/dashboard").json();
    assert_eq!(d["last_check"]["ok"], true, "the control case: a real check's record is shown");
    let id = d["repository"]["id"].as_str().unwrap().to_string();
    let file = env.path("cache").join("arca").join(&id).join("last-check");
    assert!(file.is_file(), "check records its result in the repository's cache: {}", file.display());
    let forged = json!({"time": "2026-12-07T10:00:00Z", "ok": true, "errors": 0, "read_data": "all",
                        "summary": "<script>alert(1)</script> all good"});
    let mut forged_with_zero_mac = forged.to_string().into_bytes();
    forged_with_zero_mac.extend_from_slice(&[0u8; 32]);
    let plants: Vec<(&str, Vec<u8>)> = vec![
        ("garbage", noise(3000, 5)),
        ("plain JSON", forged.to_string().into_bytes()),
        ("JSON with a made-up MAC", forged_with_zero_mac),
        ("empty", vec![]),
        ("huge", vec![b'{'; 8 << 20]),
    ];
    for (what, bytes) in plants {
        std::fs::write(&file, &bytes).unwrap();
        let a = api(&s, "/api/dashboard");
        assert_eq!(a.status, 200, "{what}");
        assert_eq!(a.json()["last_check"], Value::Null, "{what} is not shown as a check result");
    }
    // a symlink to a record is not followed; a FIFO does not hang the dashboard
    let real = env.path("elsewhere");
    std::fs::write(&real, b"x").unwrap();
    std::fs::remove_file(&file).unwrap();
    std::os::unix::fs::symlink(&real, &file).unwrap();
    assert_eq!(api(&s, "/api/dashboard").json()["last_check"], Value::Null);
    std::fs::remove_file(&file).unwrap();
    nix::unistd::mkfifo(&file, nix::sys::stat::Mode::from_bits_truncate(0o600)).unwrap();
    assert_eq!(api(&s, "/api/dashboard").json()["last_check"], Value::Null);
}

#[test]
fn find_and_history_answer_as_the_cli_and_are_bounded() {
    let (env, src) = repo_with_history();
    let s = start(&env, &[]);
    let a = api(&s, "/api/find?pattern=*.txt");
    assert_eq!(a.status, 200, "{}", String::from_utf8_lossy(&a.body));
    assert_eq!(a.json(), json_of(&env.ok(&["find", "*.txt", "--json"])));
    assert!(a.header("x-arca-truncated").is_empty());
    // host and snapshot narrow it as the CLI's flags do
    let a = api(&s, "/api/find?pattern=f0*&host=alpha&snapshot=latest");
    assert_eq!(a.json(), json_of(&env.ok(&["find", "f0*", "--host", "alpha", "--snapshot", "latest", "--json"])));
    // bounded: 5 matches in all, newest snapshots first, `hits` the full count
    let all = api(&s, "/api/find?pattern=*.dat").json();
    let cut = api(&s, "/api/find?pattern=*.dat&limit=5");
    assert_eq!(cut.header("x-arca-truncated"), "true");
    let groups = cut.json();
    let groups = groups.as_array().unwrap();
    assert_eq!(groups.len(), 1);
    assert_eq!(groups[0]["matches"].as_array().unwrap().len(), 5);
    assert_eq!(groups[0]["hits"], 12);
    assert_eq!(groups[0]["matches"][0], all[0]["matches"][0]);
    refused(&api(&s, "/api/find?pattern=*.dat&limit=0"), 400, "usage");
    refused(&api(&s, "/api/find?pattern=*.dat&limit=10001"), 400, "usage");
    refused(&api(&s, "/api/find"), 400, "usage");
    let bad = api(&s, "/api/find?pattern=%5Bz");
    assert_eq!(bad.status, 400, "a pattern that is no glob");
    assert_eq!(bad.json()["error"]["kind"], "usage");
    refused(&api(&s, "/api/find?pattern=x&snapshot=ffffffff"), 404, "not_found");

    // history: `find --path P --reverse --json`, versions oldest first
    let p = format!("{}/doc/report.txt", src.display());
    let a = api(&s, &format!("/api/history?path={}", enc(&p)));
    assert_eq!(a.status, 200, "{}", String::from_utf8_lossy(&a.body));
    let h = a.json();
    assert_eq!(h, json_of(&env.ok(&["find", "--path", &p, "--reverse", "--json"])));
    let sizes: Vec<u64> = h["versions"].as_array().unwrap().iter().map(|v| v["size"].as_u64().unwrap()).collect();
    assert_eq!(sizes, [13, 22, 5], "first, second, third version, oldest first");
    let beta = api(&s, &format!("/api/history?path={}&host=beta", enc(&p))).json();
    assert!(beta["versions"].as_array().unwrap().is_empty());
    refused(&api(&s, "/api/history"), 400, "usage");
    refused(&api(&s, "/api/history?path=/"), 400, "usage");
    refused(&api(&s, "/api/history?path=/a/../etc/passwd"), 400, "usage");
    refused(&api(&s, "/api/history?path=relative"), 400, "usage");

    // a new snapshot shows in the warm catalog at once (the list refreshes after --refresh)
    drop(s);
    let s = start(&env, &["--refresh", "1s"]);
    assert_eq!(api(&s, "/api/find?pattern=later.txt").json(), json!([]));
    write(&src.join("doc/later.txt"), b"later");
    env.backup_json(&["--host", "alpha", src.to_str().unwrap()]);
    std::thread::sleep(std::time::Duration::from_millis(1200));
    let found = api(&s, "/api/find?pattern=later.txt").json();
    assert_eq!(found.as_array().unwrap().len(), 1, "{found}");
}

#[test]
fn diff_answers_the_cli_records_and_is_bounded() {
    let (env, src) = repo_with_history();
    let s = start(&env, &[]);
    let snaps: Vec<Value> = serde_json::from_str(&env.ok(&["snapshots", "--json", "--host", "alpha"])).unwrap();
    let (a_id, c_id) = (snaps[0]["id"].as_str().unwrap(), snaps[2]["id"].as_str().unwrap());
    let cli: Vec<Value> =
        env.ok(&["diff", a_id, c_id, "--json"]).lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    let (changes, stats) = cli.split_at(cli.len() - 1);
    let a = api(&s, &format!("/api/diff?from={a_id}&to={c_id}"));
    assert_eq!(a.status, 200, "{}", String::from_utf8_lossy(&a.body));
    let d = a.json();
    assert_eq!(d["changes"].as_array().unwrap(), changes);
    assert_eq!(d["stats"], stats[0]);
    assert_eq!(d["truncated"], false);
    assert_eq!(d["from"]["id"], a_id);
    assert_eq!(d["to"]["id"], c_id);
    let mods: Vec<&str> = changes.iter().map(|c| c["modifier"].as_str().unwrap()).collect();
    assert!(mods.contains(&"+") && mods.contains(&"-") && mods.contains(&"M"), "{mods:?}");

    // a sub-path, as `diff A:/sub C:/sub`
    let sub = format!("{}/doc", src.display());
    let cli: Vec<Value> = env
        .ok(&["diff", &format!("{a_id}:{sub}"), &format!("{c_id}:{sub}"), "--json"])
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let d = api(&s, &format!("/api/diff?from={a_id}&to={c_id}&path={}", enc(&sub))).json();
    assert_eq!(d["changes"].as_array().unwrap(), &cli[..cli.len() - 1]);

    // bounded: one change kept, the statistics still of everything
    let cut = api(&s, &format!("/api/diff?from={a_id}&to={c_id}&limit=1")).json();
    assert_eq!(cut["changes"].as_array().unwrap().len(), 1);
    assert_eq!(cut["truncated"], true);
    assert_eq!(cut["stats"], stats[0]);

    refused(&api(&s, &format!("/api/diff?from={a_id}")), 400, "usage");
    refused(&api(&s, &format!("/api/diff?from={a_id}&to=00000000")), 404, "not_found");
    refused(&api(&s, &format!("/api/diff?from={a_id}&to=latest&path=/no/such/dir")), 404, "not_found");
    refused(&api(&s, &format!("/api/diff?from={a_id}&to=latest&path=/a/%2e%2e/b")), 400, "usage");
    refused(&api(&s, &format!("/api/diff?from={a_id}&to=latest&limit=0")), 400, "usage");
    refused(&api(&s, "/api/diff?from=xyz!&to=latest"), 400, "usage");
}

#[test]
fn the_forget_preview_is_forget_dry_run_and_changes_nothing() {
    let (env, _) = repo_with_history();
    let s = start(&env, &[]);
    let before = env.snapshot_ids();
    for (query, flags) in [
        ("keep-last=1", vec!["--keep-last", "1"]),
        ("keep-last=2&host=alpha", vec!["--keep-last", "2", "--host", "alpha"]),
        ("keep-daily=1&keep-within=1d", vec!["--keep-daily", "1", "--keep-within", "1d"]),
        ("keep-last=1&group-by=host", vec!["--keep-last", "1", "--group-by", "host"]),
        ("keep-tag=&keep-last=1&group-by=", vec!["--keep-tag", "", "--keep-last", "1", "--group-by", ""]),
    ] {
        let a = api(&s, &format!("/api/forget/preview?{query}"));
        assert_eq!(a.status, 200, "{query}: {}", String::from_utf8_lossy(&a.body));
        let mut args = vec!["forget", "--dry-run", "--json"];
        args.extend(flags.iter());
        assert_eq!(a.json(), json_of(&env.ok(&args)), "{query}");
    }
    // the same refusals as the CLI: no rule; a rule that keeps nothing of a group
    refused(&api(&s, "/api/forget/preview"), 400, "usage");
    refused(&api(&s, "/api/forget/preview?keep-tag=nosuchtag"), 400, "usage");
    let bad = api(&s, "/api/forget/preview?keep-last=many");
    refused(&bad, 400, "usage");
    assert!(bad.json()["error"]["message"].as_str().unwrap().starts_with("keep-last:"), "the key is named");
    refused(&api(&s, "/api/forget/preview?keep-within=-3d"), 400, "usage");
    refused(&api(&s, "/api/forget/preview?keep-last=1&group-by=colour"), 400, "usage");
    refused(&api(&s, "/api/forget/preview?keep-lots=1"), 400, "usage");
    assert_eq!(env.snapshot_ids(), before, "a preview removes nothing");
}

#[test]
fn tags_and_forget_change_only_with_csrf_and_confirm_and_show_at_once() {
    let (env, _) = repo_with_history();
    let s = start(&env, &[]);
    let token = s.token.clone().unwrap();
    let login = post(&format!("{}/login", s.base), &[], &format!("token={token}"));
    let cookie = login.header("set-cookie").split(';').next().unwrap().to_string();
    let csrf =
        get(&format!("{}/api/session", s.base), &[("Cookie", &cookie)]).json()["csrf"].as_str().unwrap().to_string();
    let before = env.snapshot_ids();
    let newest = get(&format!("{}/api/snapshots?host=alpha", s.base), &[("Cookie", &cookie)]).json()[2]["id"]
        .as_str()
        .unwrap()
        .to_string();
    let url = |p: &str| format!("{}{p}", s.base);

    // tags: refused without the session's CSRF token (and with the server's token in its place)
    let tags_url = url(&format!("/api/snapshots/{}/tags", &newest[..8]));
    for h in [vec![("Cookie", cookie.as_str())], vec![("Cookie", cookie.as_str()), ("X-CSRF-Token", token.as_str())]] {
        let a = post_json(&tags_url, &h, &json!({"add": ["keep"]}));
        assert_eq!(a.status, 403);
        assert_eq!(a.json()["error"]["kind"], "forbidden");
    }
    assert_eq!(env.snapshot_ids(), before, "nothing was retagged");
    let with_csrf = [("Cookie", cookie.as_str()), ("X-CSRF-Token", csrf.as_str())];
    let a = post_json(&tags_url, &with_csrf, &json!({"add": ["keep", "reviewed"]}));
    assert_eq!(a.status, 200, "{}", String::from_utf8_lossy(&a.body));
    let report = a.json();
    assert_eq!(report["changed"][0]["old"], newest.as_str());
    assert_eq!(report["changed"][0]["tags"], json!(["keep", "reviewed"]));
    let new_id = report["changed"][0]["new"].as_str().unwrap().to_string();
    // the server's list shows it at once (the refresh interval is 30 s)
    let listed = get(&url("/api/snapshots?tag=keep"), &with_csrf).json();
    assert_eq!(listed.as_array().unwrap().len(), 1);
    assert_eq!(listed[0]["id"], new_id.as_str());
    // the CLI sees what the tag verb wrote: the same report shape as `tag --json`
    let cli = json_of(&env.ok(&["tag", &new_id[..8], "--remove", "reviewed", "--json"]));
    assert_eq!(cli["changed"][0]["old"], new_id.as_str());
    let new_id = cli["changed"][0]["new"].as_str().unwrap().to_string();
    let a = post_json(&url(&format!("/api/snapshots/{new_id}/tags")), &with_csrf, &json!({"set": []}));
    assert_eq!(a.json()["changed"][0]["tags"], json!([]));
    let new_id = a.json()["changed"][0]["new"].as_str().unwrap().to_string();
    refused(&post_json(&url("/api/snapshots/ffffffff/tags"), &with_csrf, &json!({"add": ["x"]})), 404, "not_found");
    refused(&post_json(&url("/api/snapshots/latest/tags"), &with_csrf, &json!({})), 400, "usage");
    refused(
        &post_json(&url("/api/snapshots/latest/tags"), &with_csrf, &json!({"set": ["a"], "add": ["b"]})),
        400,
        "usage",
    );
    refused(&post_json(&url("/api/snapshots/latest/tags"), &with_csrf, &json!({"add": "x"})), 400, "usage");
    refused(&post(&url("/api/snapshots/latest/tags"), &with_csrf, "add=x"), 400, "usage");

    // forget: without CSRF refused; a policy without confirm refused; nothing removed
    let ids = env.snapshot_ids();
    let policy = json!({"policy": {"keep-last": 1}});
    let a =
        post_json(&url("/api/forget"), &[("Cookie", &cookie)], &json!({"policy": {"keep-last": 1}, "confirm": true}));
    assert_eq!(a.status, 403);
    refused(&post_json(&url("/api/forget"), &with_csrf, &policy), 400, "usage");
    refused(
        &post_json(&url("/api/forget"), &with_csrf, &json!({"policy": {"keep-last": 1}, "confirm": false})),
        400,
        "usage",
    );
    refused(&post_json(&url("/api/forget"), &with_csrf, &json!({})), 400, "usage");
    refused(
        &post_json(&url("/api/forget"), &with_csrf, &json!({"policy": {"keep-tag": "nosuchtag"}, "confirm": true})),
        400,
        "usage",
    );
    refused(
        &post_json(
            &url("/api/forget"),
            &with_csrf,
            &json!({"ids": [&new_id], "policy": {"keep-last": 1}, "confirm": true}),
        ),
        400,
        "usage",
    );
    assert_eq!(env.snapshot_ids(), ids, "nothing was removed");

    // confirmed: the same plan as the preview, carried out; the list shows it at once
    let preview = get(&url("/api/forget/preview?keep-last=1"), &with_csrf).json();
    let a = post_json(&url("/api/forget"), &with_csrf, &json!({"policy": {"keep-last": "1"}, "confirm": true}));
    assert_eq!(a.status, 200, "{}", String::from_utf8_lossy(&a.body));
    let groups = a.json();
    let strip = |v: &Value| {
        // the counters' and reasons' shapes are the same; compare which snapshots go
        v.as_array().unwrap().iter().map(|g| (g["keep"].clone(), g["remove"].clone())).collect::<Vec<_>>()
    };
    assert_eq!(strip(&groups), strip(&preview));
    let left: Vec<Value> = get(&url("/api/snapshots"), &with_csrf).json().as_array().unwrap().clone();
    assert_eq!(left.len(), 2, "one per host and paths");
    assert_eq!(env.snapshot_ids().len(), 2);
    // by id, through the token (no CSRF needed without a cookie)
    let beta = left.iter().find(|x| x["hostname"] == "beta").unwrap()["id"].as_str().unwrap().to_string();
    let a = post_json(&url("/api/forget"), &[("Authorization", &auth(&s))], &json!({"ids": [&beta[..10]]}));
    assert_eq!(a.status, 200, "{}", String::from_utf8_lossy(&a.body));
    assert_eq!(a.json()[0]["remove"][0]["id"], beta.as_str());
    assert_eq!(api(&s, "/api/snapshots").json().as_array().unwrap().len(), 1);
    refused(
        &post_json(&url("/api/forget"), &[("Authorization", &auth(&s))], &json!({"ids": ["ffffffff"]})),
        404,
        "not_found",
    );
    drop(s);
    env.check();
}

#[test]
fn tree_pages_in_name_order_are_slices_of_the_whole_listing() {
    // the tree route formats only the page it answers in name order: it must still be exactly
    // the whole listing's slice, with the same total, at every offset, for a file too
    let (env, src) = repo_with_history();
    let s = start(&env, &[]);
    let alpha = api(&s, "/api/snapshots?host=alpha").json();
    let id = alpha[2]["id"].as_str().unwrap().to_string();
    let dir = enc(&format!("{}/many", src.display()));
    let whole = api(&s, &format!("/api/snapshots/{id}/tree?path={dir}")).json();
    let nodes = whole["nodes"].as_array().unwrap().clone();
    assert_eq!(whole["total"], 12);
    for (offset, limit) in [(0, 5), (5, 5), (10, 5), (12, 5), (40, 3), (0, 12)] {
        let page = api(&s, &format!("/api/snapshots/{id}/tree?path={dir}&offset={offset}&limit={limit}")).json();
        assert_eq!(page["total"], 12, "offset {offset}");
        let want: Vec<Value> = nodes.iter().skip(offset).take(limit).cloned().collect();
        assert_eq!(page["nodes"].as_array().unwrap(), &want, "offset {offset} limit {limit}");
    }
    let reversed = api(&s, &format!("/api/snapshots/{id}/tree?path={dir}&reverse=true&limit=2")).json();
    assert_eq!(reversed["nodes"][0], nodes[11]);
    let file = enc(&format!("{}/many/f03.dat", src.display()));
    let one = api(&s, &format!("/api/snapshots/{id}/tree?path={file}")).json();
    assert_eq!((one["total"].clone(), one["nodes"].as_array().unwrap().len()), (json!(1), 1));
    let past = api(&s, &format!("/api/snapshots/{id}/tree?path={file}&offset=1")).json();
    assert_eq!((past["total"].clone(), past["nodes"].as_array().unwrap().len()), (json!(1), 0));
}

#[test]
fn the_profile_sets_the_stale_threshold_and_a_bad_one_is_refused() {
    let (env, _) = repo_with_history();
    let profile = env.path("p.toml");
    std::fs::write(&profile, "[serve]\nstale-after = \"2h\"\n").unwrap();
    let s = start(&env, &["-P", profile.to_str().unwrap()]);
    let d = api(&s, "/api/dashboard").json();
    assert_eq!(d["stale_after_seconds"], 7200);
    assert_eq!(api(&s, "/api/dashboard?stale_after=60").json()["stale_after_seconds"], 60, "the query wins");
    drop(s);
    for bad in ["\"soon\"", "\"0s\"", "26"] {
        std::fs::write(&profile, format!("[serve]\nstale-after = {bad}\n")).unwrap();
        let out = env.run(&["-P", profile.to_str().unwrap(), "serve", "--listen", "127.0.0.1:0"]);
        assert_ne!(crate::common::code(&out), 0, "{bad}");
        let err = crate::common::stderr(&out);
        // (a TOML integer is refused by the profile loader, which names the file and the type)
        assert!(err.contains("stale-after") || bad == "26" && err.contains("p.toml"), "{bad}: {err}");
    }
}
