#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
//! Browsing history: `stats`, `diff` (snapshots and a live directory) and `dump` (a file,
//! tar and zip archives), checked against the source tree.

use crate::common;

use std::process::Command;

use common::*;

fn json(out: &str) -> serde_json::Value {
    serde_json::from_str(out.lines().last().unwrap()).unwrap()
}

/// Every kind of node a tree holds: long and non-UTF-8 names, a hard link, a symlink, a
/// fifo, xattrs, odd modes.
fn rich_source(env: &Env) -> std::path::PathBuf {
    let src = env.path("src");
    write(&src.join("big.bin"), &noise(2_500_000, 3));
    write(&src.join("dir/small.txt"), b"small");
    write(&src.join(os(b"name-\xff\xfe")), b"not utf-8");
    let long = "l".repeat(200);
    write(&src.join(format!("{long}/{long}")), b"deep and long");
    std::fs::hard_link(src.join("big.bin"), src.join("hard.bin")).unwrap();
    std::os::unix::fs::symlink("dir/small.txt", src.join("link")).unwrap();
    nix::unistd::mkfifo(&src.join("fifo"), nix::sys::stat::Mode::from_bits_truncate(0o640)).unwrap();
    if xattrs_supported(&src) {
        xattr::set(src.join("dir/small.txt"), "user.note", b"kept").unwrap();
    }
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(src.join("dir/small.txt"), std::fs::Permissions::from_mode(0o640)).unwrap();
    src
}

#[test]
fn stats_counts_restore_size_distinct_contents_and_raw_data() {
    let env = Env::new();
    let src = env.path("src");
    write(&src.join("a"), &noise(300_000, 1));
    write(&src.join("b"), &noise(300_000, 1)); // same content as a
    write(&src.join("c"), &noise(200_000, 2));
    env.init();
    env.backup_json(&[src.to_str().unwrap()]);
    env.backup_json(&[src.to_str().unwrap()]);

    let r = json(&env.ok(&["stats", "--json"]));
    assert_eq!(r["snapshots_count"], 2);
    assert_eq!(r["total_size"], 2 * 800_000, "{r}");
    let f = json(&env.ok(&["stats", "--json", "--mode", "files-by-contents"]));
    assert_eq!(f["total_file_count"], 2, "a and b are one content: {f}");
    assert_eq!(f["total_size"], 500_000);
    let b = json(&env.ok(&["stats", "--json", "--mode", "blobs-per-file"]));
    assert_eq!(b["total_size"], 500_000, "{b}");
    assert!(b["total_blob_count"].as_u64().unwrap() >= 2);
    let raw = json(&env.ok(&["stats", "--json", "--mode", "raw-data", "latest"]));
    assert_eq!(raw["snapshots_count"], 1);
    assert!(raw["total_uncompressed_size"].as_u64().unwrap() >= 500_000, "{raw}");
    assert!(raw["total_size"].as_u64().unwrap() > 0);
    assert_eq!(raw["deduplication_ratio"], 1.6, "800 kB restored from 500 kB of data: {raw}");
    let text = env.ok(&["stats", "--mode", "raw-data"]);
    assert!(text.contains("Compression Ratio") && text.contains("Deduplication Ratio"), "{text}");
    let bad = env.run(&["stats", "--mode", "everything"]);
    assert_eq!(code(&bad), 1);
    assert!(stderr(&bad).contains("raw-data"), "{}", stderr(&bad));
}

fn changes(out: &str) -> Vec<String> {
    out.lines().filter(|l| l.len() > 5 && "+-MTU".contains(&l[..1]) && &l[1..5] == "    ").map(str::to_string).collect()
}

#[test]
fn diff_between_snapshots_and_against_the_live_directory() {
    let env = Env::new();
    let src = env.path("src");
    write(&src.join("same"), b"same");
    write(&src.join("edit"), b"before");
    write(&src.join("gone/inner"), b"x");
    write(&src.join("kind"), b"a file first");
    write(&src.join("chmod"), b"mode");
    env.init();
    let first = env.backup_json(&[src.to_str().unwrap()])["snapshot_id"].as_str().unwrap().to_string();
    write(&src.join("edit"), b"after, longer");
    std::fs::remove_dir_all(src.join("gone")).unwrap();
    std::fs::remove_file(src.join("kind")).unwrap();
    write(&src.join("kind/now-a-dir"), b"y");
    write(&src.join("new/file"), b"new");
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(src.join("chmod"), std::fs::Permissions::from_mode(0o600)).unwrap();
    env.backup_json(&[src.to_str().unwrap()]);

    let s = src.display().to_string();
    let out = env.ok(&["diff", &first[..8], "latest"]);
    let want = [
        format!("M    {s}/edit"),
        format!("-    {s}/gone/"),
        format!("-    {s}/gone/inner"),
        format!("T    {s}/kind"),
        format!("+    {s}/new/"),
        format!("+    {s}/new/file"),
    ];
    assert_eq!(changes(&out), want, "{out}");
    assert!(out.contains("Files:") && out.contains("Added:"), "{out}");
    let meta = changes(&env.ok(&["diff", &first[..8], "latest", "--metadata"]));
    assert!(meta.contains(&format!("U    {s}/chmod")), "{meta:?}");

    let j = env.ok(&["diff", &first[..8], "latest", "--json"]);
    let lines: Vec<serde_json::Value> = j.lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    assert_eq!(lines.iter().filter(|l| l["message_type"] == "change").count(), want.len());
    let stats = lines.last().unwrap();
    assert_eq!(stats["message_type"], "statistics");
    assert_eq!(stats["changed_files"], 1);
    assert_eq!(stats["added"]["files"], 2, "new/file and kind/now-a-dir: {stats}");
    assert_eq!(stats["removed"]["files"], 2, "gone/inner and the old kind: {stats}");
    assert_eq!(stats["removed"]["dirs"], 1);

    // the same snapshot against itself and against the unchanged live directory: nothing
    assert!(changes(&env.ok(&["diff", "latest", "latest"])).is_empty());
    assert!(changes(&env.ok(&["diff", "latest", &s])).is_empty());
    // a touched file with the same content is not a change; a rewritten one is
    let t = filetime::FileTime::from_unix_time(1_000_000_000, 0);
    filetime::set_file_mtime(src.join("same"), t).unwrap();
    write(&src.join("edit"), b"after, longer!");
    write(&src.join("live-only"), b"z");
    let live = changes(&env.ok(&["diff", "latest", &s]));
    assert_eq!(live, vec![format!("M    {s}/edit"), format!("+    {s}/live-only")]);
    // a subdirectory of one snapshot against another's; one that is not there is named
    let sub = changes(&env.ok(&["diff", &format!("{}:{s}", &first[..8]), &format!("latest:{s}")]));
    assert_eq!(sub, want);
    let o = env.run(&["diff", &format!("{}:{s}/new", &first[..8]), "latest"]);
    assert_ne!(code(&o), 0);
    assert!(stderr(&o).contains(&format!("{s}/new")), "{}", stderr(&o));
}

#[test]
fn dump_writes_a_file_and_archives_that_restore_everything() {
    let env = Env::new();
    let src = rich_source(&env);
    env.init();
    env.backup_json(&[src.to_str().unwrap()]);
    let s = src.display().to_string();

    let o = env.cmd().args(["dump", "latest", &format!("{s}/big.bin")]).output().unwrap();
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(o.stdout, std::fs::read(src.join("big.bin")).unwrap());

    // tar: GNU tar restores it exactly as the source (names, modes, times, xattrs, links)
    let tar = env.path("all.tar");
    env.ok(&["dump", "latest", &s, "--target", tar.to_str().unwrap()]);
    let out = env.path("untar");
    std::fs::create_dir_all(&out).unwrap();
    let x = Command::new("tar")
        .args(["-x", "-p", "--xattrs", "--xattrs-include=*", "--numeric-owner", "-f"])
        .arg(&tar)
        .arg("-C")
        .arg(&out)
        .output()
        .unwrap();
    assert!(x.status.success(), "tar -x: {}", String::from_utf8_lossy(&x.stderr));
    assert_same_tree(&describe(&src), &describe(&out.join(src.strip_prefix("/").unwrap())));

    // zip: every file's bytes and mode, the directory structure
    let zip = env.path("all.zip");
    let o =
        env.cmd().args(["dump", "latest", &s, "--archive", "zip", "--target", zip.to_str().unwrap()]).output().unwrap();
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(stderr(&o).contains("fifo"), "the fifo is named as left out: {}", stderr(&o));
    let mut z = zip::ZipArchive::new(std::fs::File::open(&zip).unwrap()).unwrap();
    let base = s.trim_start_matches('/');
    let mut f = z.by_name(&format!("{base}/dir/small.txt")).unwrap();
    assert_eq!(f.unix_mode().map(|m| m & 0o7777), Some(0o640));
    let mut body = vec![];
    std::io::Read::read_to_end(&mut f, &mut body).unwrap();
    assert_eq!(body, b"small");
    drop(f);
    let mut big = z.by_name(&format!("{base}/big.bin")).unwrap();
    let mut body = vec![];
    std::io::Read::read_to_end(&mut big, &mut body).unwrap();
    assert_eq!(body, std::fs::read(src.join("big.bin")).unwrap());

    // not a file or directory, or not there
    let o = env.run(&["dump", "latest", &format!("{s}/link")]);
    assert_eq!(code(&o), 1, "{}", stderr(&o));
    let o = env.run(&["dump", "latest", &format!("{s}/missing")]);
    assert_ne!(code(&o), 0);
    assert!(stderr(&o).contains("missing"), "{}", stderr(&o));
}

#[test]
fn find_matches_names_across_snapshots_and_tells_one_paths_history_from_the_catalog() {
    let env = Env::new();
    let src = env.path("src");
    write(&src.join("docs/report-1.odt"), b"v1");
    write(&src.join("docs/notes.txt"), b"notes");
    env.init();
    let s1 = env.backup_json(&[src.to_str().unwrap()])["snapshot_id"].as_str().unwrap().to_string();
    write(&src.join("docs/report-1.odt"), b"version two");
    write(&src.join("other/REPORT-2.ODT"), b"upper");
    let s2 = env.backup_json(&[src.to_str().unwrap()])["snapshot_id"].as_str().unwrap().to_string();
    env.backup_json(&[src.to_str().unwrap()]); // unchanged: same trees, another snapshot
    let s = src.display().to_string();

    let o = env.cmd().args(["find", "--json", "report*.odt"]).output().unwrap();
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(stderr(&o).contains("adding 3 snapshots"), "{}", stderr(&o));
    let found: serde_json::Value = serde_json::from_str(String::from_utf8_lossy(&o.stdout).trim()).unwrap();
    let found = found.as_array().unwrap();
    assert_eq!(found.len(), 3, "every snapshot, newest first: {found:?}");
    assert_eq!(found[2]["snapshot"], s1.as_str());
    assert_eq!(found[1]["snapshot"], s2.as_str());
    for f in found {
        assert_eq!(f["matches"][0]["path"], format!("{s}/docs/report-1.odt"));
        assert_eq!(f["hits"], 1, "case matters by default: {f}");
    }
    let ci: serde_json::Value = serde_json::from_str(env.ok(&["find", "--json", "-i", "report*.odt"]).trim()).unwrap();
    assert_eq!(ci[0]["hits"], 2, "{ci}");
    let by_path: serde_json::Value =
        serde_json::from_str(env.ok(&["find", "--json", "other/*.ODT", "-s", &s2[..8]]).trim()).unwrap();
    assert_eq!(by_path.as_array().unwrap().len(), 1);
    assert_eq!(by_path[0]["matches"][0]["path"], format!("{s}/other/REPORT-2.ODT"));

    // the catalog is up to date: no tree is read again (nor can be: the packs are gone)
    std::fs::rename(env.repo.join("data"), env.path("data-away")).unwrap();
    for d in std::fs::read_dir(env.path("cache/arca")).unwrap().flatten() {
        let _ = std::fs::remove_dir_all(d.path().join("data"));
    }
    let o = env.cmd().args(["find", "--json", "--path", &format!("{s}/docs/report-1.odt")]).output().unwrap();
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(!stderr(&o).contains("adding"), "{}", stderr(&o));
    let h: serde_json::Value = serde_json::from_str(String::from_utf8_lossy(&o.stdout).trim()).unwrap();
    let versions = h["versions"].as_array().unwrap();
    assert_eq!(versions.len(), 2, "{h}");
    assert_eq!(versions[0]["size"], 11);
    assert_eq!(versions[0]["snapshots"].as_array().unwrap().len(), 2, "{h}");
    assert_eq!(versions[1]["snapshots"][0], s1.as_str());
    assert_ne!(versions[0]["content_id"], versions[1]["content_id"]);
    std::fs::rename(env.path("data-away"), env.repo.join("data")).unwrap();

    // a forgotten snapshot leaves the catalog; without a cache the answer is the same
    env.ok(&["forget", &s1[..8]]);
    let found: serde_json::Value = serde_json::from_str(env.ok(&["find", "--json", "report*.odt"]).trim()).unwrap();
    assert_eq!(found.as_array().unwrap().len(), 2);
    let nocache: serde_json::Value =
        serde_json::from_str(env.ok(&["--no-cache", "find", "--json", "report*.odt"]).trim()).unwrap();
    assert_eq!(found, nocache);
    let none = env.ok(&["find", "--json", "nothing-like-this"]);
    assert_eq!(none.trim(), "[]");
}
