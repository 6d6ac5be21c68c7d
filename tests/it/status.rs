#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
//! `arca status`: the last run of each job from the run records, the next scheduled run, the
//! newest snapshot per source, warnings and their exit code (4); `--notify` tells about a
//! stale source once per stale episode.

use crate::common::*;
use crate::metrics::profile;
use crate::notify::Receiver;

fn status_json(env: &Env, profile: &str, extra: &[&str]) -> (i32, serde_json::Value) {
    let mut args = vec!["-P", profile, "status", "--json"];
    args.extend_from_slice(extra);
    let o = env.run(&args);
    let v = serde_json::from_slice(&o.stdout)
        .unwrap_or_else(|e| panic!("{e}: {}\n{}", String::from_utf8_lossy(&o.stdout), stderr(&o)));
    (code(&o), v)
}

fn job<'a>(s: &'a serde_json::Value, name: &str) -> &'a serde_json::Value {
    s["jobs"].as_array().unwrap().iter().find(|j| j["job"] == name).unwrap()
}

#[test]
fn status_shows_last_runs_next_runs_and_sources_and_exits_4_on_a_warning() {
    let env = Env::new();
    let src = env.path("src");
    write(&src.join("f"), b"status");
    profile(
        &env,
        "s",
        &format!(
            "[backup]\nsources = [\"{}\"]\n[check]\nrun-before = [\"test ! -e {}\"]\n[schedule.backup]\non-calendar = \"daily\"\n",
            src.display(),
            env.path("break").display()
        ),
    );
    env.init();
    // never run: a warning
    let (code0, s) = status_json(&env, "s", &[]);
    assert_eq!(code0, 4);
    assert!(
        s["warnings"].as_array().unwrap().iter().any(|w| w.as_str().unwrap().contains("backup has never run")),
        "{s}"
    );
    let snap = env.backup_json(&["-P", "s"])["snapshot_id"].as_str().unwrap().to_string();
    env.ok(&["-P", "s", "check"]);
    let (c, s) = status_json(&env, "s", &[]);
    assert_eq!(c, 0, "{s}");
    assert_eq!(s["profile"], "s");
    assert!(s["warnings"].as_array().unwrap().is_empty(), "{s}");
    let b = job(&s, "backup");
    assert_eq!(b["last_run"]["outcome"], "success");
    assert_eq!(b["last_run"]["snapshot_id"], snap);
    assert_eq!(b["schedule"][0], "daily");
    let next = chrono::DateTime::parse_from_rfc3339(b["next_run"].as_str().unwrap()).unwrap();
    assert!(next > chrono::Utc::now() && next < chrono::Utc::now() + chrono::Duration::hours(25), "{next}");
    assert!(job(&s, "prune")["last_run"].is_null() && job(&s, "prune")["next_run"].is_null());
    let source = &s["sources"][0];
    assert_eq!(source["path"], src.display().to_string());
    assert_eq!(source["snapshot_id"], snap);
    assert!(source["age_seconds"].as_u64().unwrap() < 300 && source["stale"] == false, "{source}");

    // the check fails: its warning names it, exit 4, and the text says it too
    write(&env.path("break"), b"");
    assert_eq!(code(&env.run(&["-P", "s", "check"])), 1);
    let (c, s) = status_json(&env, "s", &[]);
    assert_eq!(c, 4);
    assert_eq!(job(&s, "check")["last_run"]["outcome"], "failure");
    let w = s["warnings"].as_array().unwrap();
    assert!(
        w.len() == 1
            && w[0].as_str().unwrap().contains("the last check")
            && w[0].as_str().unwrap().contains("run-before"),
        "{s}"
    );
    let o = env.run(&["-P", "s", "status"]);
    assert_eq!(code(&o), 4);
    let text = String::from_utf8_lossy(&o.stdout);
    assert!(text.contains("profile s") && text.contains("success (0)") && text.contains("failure (1)"), "{text}");
    assert!(text.contains("warnings:") && text.contains(&src.display().to_string()), "{text}");
    // without a profile: every profile set that has run a job, each as with -P
    profile(&env, "t", &format!("[backup]\nsources = [\"{}\"]\n", src.display()));
    env.backup_json(&["-P", "t"]);
    let o = env.run(&["status", "--json"]);
    assert_eq!(code(&o), 4, "s still has its warning: {}", stderr(&o));
    let all: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    let names: Vec<&str> = all.as_array().unwrap().iter().map(|s| s["profile"].as_str().unwrap()).collect();
    assert_eq!(names, ["s", "t"], "{all}");
    assert_eq!(job(&all[1], "backup")["last_run"]["outcome"], "success");
    assert!(all[1]["warnings"].as_array().unwrap().is_empty(), "{all}");
    let o = env.run(&["status"]);
    assert_eq!(code(&o), 4);
    let text = String::from_utf8_lossy(&o.stdout);
    assert!(text.contains("profile s") && text.contains("profile t") && text.contains("failure (1)"), "{text}");
    // with only t's job state left, all is well: exit 0
    std::fs::remove_dir_all(crate::metrics::job_dir(&env, "s")).unwrap();
    let o = env.run(&["status", "--json"]);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
}

#[test]
fn a_stale_source_is_notified_once_per_stale_episode() {
    let env = Env::new();
    let src = env.path("src");
    write(&src.join("f"), b"stale");
    let rx = Receiver::start(false);
    profile(
        &env,
        "st",
        &format!(
            "[backup]\nsources = [\"{}\"]\n[notify]\nstale-after = \"2s\"\n[[notify.webhook]]\nurl = \"{}\"\n",
            src.display(),
            rx.url("/stale")
        ),
    );
    env.init();
    // no snapshot at all: stale at once
    let (c, s) = status_json(&env, "st", &["--notify"]);
    assert_eq!(c, 4);
    assert_eq!(s["sources"][0]["stale"], true);
    assert_eq!(rx.to("/stale").len(), 1);
    let j = rx.to("/stale")[0].json();
    assert_eq!(j["event"], "stale");
    assert_eq!(j["source"], src.display().to_string());
    assert!(j["newest_snapshot"].is_null());
    // still stale: told already
    status_json(&env, "st", &["--notify"]);
    assert_eq!(rx.to("/stale").len(), 1);
    // a backup makes it fresh (the episode ends) ...
    env.ok(&["-P", "st", "backup", "-q"]);
    let (c, s) = status_json(&env, "st", &["--notify"]);
    assert_eq!((c, &s["sources"][0]["stale"]), (0, &serde_json::Value::Bool(false)), "{s}");
    assert_eq!(rx.to("/stale").len(), 1);
    // ... and when it grows old again, that is a new episode
    std::thread::sleep(std::time::Duration::from_millis(3100));
    let (c, _) = status_json(&env, "st", &["--notify"]);
    assert_eq!(c, 4);
    let told = rx.to("/stale");
    assert_eq!(told.len(), 2);
    assert!(told[1].json()["age_seconds"].as_u64().unwrap() >= 2, "{}", told[1].text());
    // a state file planted as garbage counts as nothing told (one more notification, no error)
    std::fs::write(env.path("cache/arca/jobs/st/stale-notified.json"), b"\xff not json").unwrap();
    let (c, _) = status_json(&env, "st", &["--notify"]);
    assert_eq!(c, 4);
    assert_eq!(rx.to("/stale").len(), 3);
}
