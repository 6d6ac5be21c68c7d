//! Progress a person (and a script) can trust: `backup --json` and `restore --json` status
//! lines in restic's shape whose totals are the tree's own, whose percentage never goes back
//! or past 100 % and whose counts never pass their totals; text output off a terminal free of
//! carriage returns and escapes; `-q` without progress; maintenance JSON left one document.
//!
//! `ARCA_PROGRESS_FPS` (restic's `RESTIC_PROGRESS_FPS`) asks for status updates this often, so
//! a backup of a few MiB gives several lines.

use std::path::Path;

use crate::common::*;

const FILES: u64 = 24;

/// A tree of `FILES` files (one empty), big enough for a few status lines; returns the bytes.
fn tree(root: &Path) -> u64 {
    let mut bytes = 0;
    for i in 0..FILES {
        let size = if i == 0 { 0 } else { (i as usize % 5) * 200_000 + 1_000 + i as usize };
        write(&root.join(format!("d{}/f{i}", i % 3)), &noise(size, i));
        bytes += size as u64;
    }
    // not files: a symlink and an empty directory are not counted
    std::os::unix::fs::symlink("d0/f1", root.join("link")).unwrap();
    std::fs::create_dir_all(root.join("empty")).unwrap();
    bytes
}

fn run_fast(env: &Env, args: &[&str]) -> std::process::Output {
    let o = env.cmd().env("ARCA_PROGRESS_FPS", "60").args(args).output().unwrap();
    assert!(o.status.success(), "arca {args:?}: {}", stderr(&o));
    o
}

/// Every JSON line of `out`, and the status lines among them (checked to come before the last
/// line, the summary).
fn status_lines(out: &[u8]) -> Vec<serde_json::Value> {
    let text = String::from_utf8_lossy(out);
    assert!(!text.contains('\r') && !text.contains('\x1b'), "control characters in JSON output: {text:?}");
    let all: Vec<serde_json::Value> =
        text.lines().map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not JSON ({e}): {l}"))).collect();
    let last = all.last().unwrap_or_else(|| panic!("no output"));
    assert_eq!(last["message_type"], "summary", "the summary is last: {text}");
    all.into_iter().filter(|v| v["message_type"] == "status").collect()
}

fn u(v: &serde_json::Value, k: &str) -> u64 {
    v[k].as_u64().unwrap_or_else(|| panic!("{k} is not a count in {v}"))
}

/// Shared rules: keys present, percent in [0, 1] and never falling, counts within totals.
fn assert_honest(lines: &[serde_json::Value], keys: &[&str], done: (&str, &str)) {
    assert!(lines.len() >= 2, "expected several status lines, got {lines:?}");
    let mut last = 0.0;
    for v in lines {
        for k in keys {
            assert!(v.get(*k).is_some(), "{k} missing in {v}");
        }
        let p = v["percent_done"].as_f64().unwrap();
        assert!((0.0..=1.0).contains(&p), "percent_done out of range: {v}");
        assert!(p >= last, "percent_done went back from {last}: {v}");
        last = p;
        assert!(u(v, done.0) <= u(v, "total_files"), "more files done than the total: {v}");
        assert!(u(v, done.1) <= u(v, "total_bytes"), "more bytes done than the total: {v}");
        if let Some(r) = v.get("seconds_remaining") {
            assert!(r.is_u64(), "{v}");
        }
    }
}

#[test]
fn backup_json_status_lines_have_restics_shape_and_the_trees_totals() {
    let env = Env::new();
    env.init();
    let src = env.path("src");
    let bytes = tree(&src);
    let o = run_fast(&env, &["backup", "--json", src.to_str().unwrap()]);
    let lines = status_lines(&o.stdout);
    let keys = [
        "message_type",
        "seconds_elapsed",
        "percent_done",
        "total_files",
        "files_done",
        "total_bytes",
        "bytes_done",
        "error_count",
        "current_files",
    ];
    assert_honest(&lines, &keys, ("files_done", "bytes_done"));
    for v in &lines {
        assert!(v["current_files"].is_array(), "{v}");
        // a percentage means the scan is done: its totals are the tree's
        if v["percent_done"].as_f64().unwrap() > 0.0 {
            assert_eq!((u(v, "total_files"), u(v, "total_bytes")), (FILES, bytes), "{v}");
        }
    }
    // the scan ahead knew the totals while the backup ran, not only at its end
    let (end, during) = lines.split_last().unwrap();
    assert!(
        during.iter().any(|v| v["percent_done"].as_f64().unwrap() > 0.0 && u(v, "total_files") == FILES),
        "no status line with the scan's totals before the end: {lines:?}"
    );
    assert_eq!(end["percent_done"], 1.0, "{end}");
    assert_eq!((u(end, "files_done"), u(end, "bytes_done")), (FILES, bytes), "{end}");
    assert_eq!(u(end, "error_count"), 0);
    // what was stored is counted apart from what was read: new noise is stored, not less
    assert!(u(end, "bytes_stored") >= bytes / 2, "{end}");

    // a second backup reads no file and stores no data (only the trees of the directories
    // above the source, whose times moved), and still reaches the same totals
    let o = run_fast(&env, &["backup", "--json", src.to_str().unwrap()]);
    let lines = status_lines(&o.stdout);
    let end = lines.last().unwrap_or_else(|| panic!("no status line"));
    assert_eq!((u(end, "total_files"), u(end, "total_bytes")), (FILES, bytes), "{end}");
    assert!(u(end, "bytes_stored") < 4096, "{end}");
    env.check();
}

#[test]
fn excluded_files_are_not_in_the_totals() {
    let env = Env::new();
    env.init();
    let src = env.path("src");
    tree(&src);
    let o = run_fast(&env, &["backup", "--json", "--exclude", "d1", src.to_str().unwrap()]);
    let end = status_lines(&o.stdout).pop().unwrap();
    let summary = summary(&String::from_utf8_lossy(&o.stdout));
    assert_eq!(u(&end, "total_files"), u(&summary, "total_files_processed"), "{end}\n{summary}");
    assert_eq!(u(&end, "total_bytes"), u(&summary, "total_bytes_processed"), "{end}\n{summary}");
    assert_eq!(u(&end, "total_files"), FILES - FILES / 3);
}

#[test]
fn text_output_off_a_terminal_has_no_carriage_returns_or_escapes() {
    let env = Env::new();
    env.init();
    let src = env.path("src");
    tree(&src);
    // by default a pipe gets no progress at all
    let o = env.cmd().args(["backup", src.to_str().unwrap()]).output().unwrap();
    assert!(o.status.success(), "{}", stderr(&o));
    let err = stderr(&o);
    assert!(!err.lines().any(|l| l.starts_with("[0:")), "progress in a pipe: {err:?}");
    // asked for, it comes as plain lines
    let o = run_fast(&env, &["backup", "--force", src.to_str().unwrap()]);
    for text in [String::from_utf8_lossy(&o.stdout).into_owned(), stderr(&o)] {
        assert!(!text.contains('\r'), "carriage return in {text:?}");
        assert!(!text.contains('\x1b'), "escape sequence in {text:?}");
    }
    assert!(stderr(&o).lines().any(|l| l.contains(&format!("/ {FILES} files"))), "no status line: {}", stderr(&o));
    // maintenance commands too: plain lines with their totals, on stderr
    let o = run_fast(&env, &["check", "--read-data"]);
    assert!(!stderr(&o).contains('\r') && !stderr(&o).contains('\x1b'), "{:?}", stderr(&o));
    assert!(stderr(&o).contains("check: checking packs"), "no check progress: {}", stderr(&o));
}

#[test]
fn quiet_shows_no_progress_and_maintenance_json_stays_one_document() {
    let env = Env::new();
    env.init();
    let src = env.path("src");
    tree(&src);
    let o = run_fast(&env, &["backup", "--json", "-q", src.to_str().unwrap()]);
    let text = String::from_utf8_lossy(&o.stdout);
    assert!(!text.contains("\"status\""), "status lines with -q: {text}");
    assert!(!stderr(&o).contains('%'), "progress with -q: {}", stderr(&o));
    let o = run_fast(&env, &["check", "--read-data", "--json"]);
    let v: serde_json::Value = serde_json::from_slice(&o.stdout)
        .unwrap_or_else(|e| panic!("check --json is not one document ({e}): {}", String::from_utf8_lossy(&o.stdout)));
    assert_eq!(v["errors"].as_array().map(|a| a.len()), Some(0), "{v}");
}

#[test]
fn restore_json_status_counts_from_the_plan_and_skipped_files_count_as_done() {
    let env = Env::new();
    env.init();
    let src = env.path("src");
    let bytes = tree(&src);
    env.backup_json(&[src.to_str().unwrap()]);
    let out = env.path("out");
    let sel = format!("latest:{}", src.display());
    let keys = [
        "message_type",
        "seconds_elapsed",
        "percent_done",
        "total_files",
        "files_restored",
        "files_skipped",
        "total_bytes",
        "bytes_restored",
        "bytes_skipped",
        "error_count",
    ];
    let o = run_fast(&env, &["restore", &sel, "--target", out.to_str().unwrap(), "--json"]);
    let lines = status_lines(&o.stdout);
    assert_honest(&lines, &keys, ("files_restored", "bytes_restored"));
    for v in lines.iter().filter(|v| v["percent_done"].as_f64().unwrap() > 0.0) {
        assert_eq!((u(v, "total_files"), u(v, "total_bytes")), (FILES, bytes), "{v}");
    }
    let end = lines.last().unwrap();
    assert_eq!(end["percent_done"], 1.0, "{end}");
    assert_eq!((u(end, "files_restored"), u(end, "bytes_restored")), (FILES, bytes), "{end}");
    assert_same_tree(&describe(&src), &describe(&out));

    // again over the restored files, keeping them: all skipped, and still all done
    let o = run_fast(&env, &["restore", &sel, "--target", out.to_str().unwrap(), "--overwrite", "never", "--json"]);
    let end = status_lines(&o.stdout).pop().unwrap();
    assert_eq!(end["percent_done"], 1.0, "{end}");
    assert_eq!((u(&end, "files_skipped"), u(&end, "bytes_skipped")), (FILES, bytes), "{end}");
    assert_eq!((u(&end, "files_restored"), u(&end, "bytes_restored")), (0, 0), "{end}");
}
