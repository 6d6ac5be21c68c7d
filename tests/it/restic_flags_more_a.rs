//! More of restic's flags (issue 21), driven through the real binary; each test fails on a
//! build without the flag and attacks what it promises: `ls --sort/--reverse/--human-readable`
//! (the order of every key, the sizes shown), `find --reverse/--long/--human-readable` (the
//! snapshots' order, restic's bare paths by default), `find --show-pack-id` (the pack that
//! really holds the blob), `forget --compact` (no paths in its lists), `backup --no-scan` (no
//! totals, so no percentage, while it runs) and `backup --ignore-ctime/--ignore-inode` (a file
//! whose ctime or inode moved is read again by default, and reused only when told).

use std::path::Path;

use filetime::FileTime;
use serde_json::Value;

use crate::common::*;

/// The paths `ls --json` lists (in its order) that end in one of `names`, as those names.
fn ls_order(env: &Env, args: &[&str], names: &[&str]) -> Vec<String> {
    let mut a = vec!["ls", "latest", "--json"];
    a.extend_from_slice(args);
    env.ok(&a)
        .lines()
        .skip(1)
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .filter_map(|v| v["path"].as_str().map(String::from))
        .filter_map(|p| names.iter().find(|n| p.ends_with(&format!("/{n}"))).map(|n| n.to_string()))
        .collect()
}

fn set_mtime(p: &Path, secs: i64) {
    filetime::set_file_mtime(p, FileTime::from_unix_time(secs, 0)).unwrap();
}

#[test]
fn ls_sorts_by_each_key_reverses_and_shows_human_sizes() {
    let env = Env::new();
    env.init();
    let src = env.path("src");
    // name a < b < c; size b < a < c; mtime b < c < a; extension md < txt < zip
    write(&src.join("a.txt"), &noise(3_000, 1));
    write(&src.join("b.zip"), &noise(10, 2));
    write(&src.join("c.md"), &noise(200_000, 3));
    set_mtime(&src.join("a.txt"), 1_700_000_300);
    set_mtime(&src.join("b.zip"), 1_700_000_100);
    set_mtime(&src.join("c.md"), 1_700_000_200);
    env.ok(&["backup", src.to_str().unwrap()]);
    let names = ["a.txt", "b.zip", "c.md"];
    let order = |args: &[&str]| ls_order(&env, args, &names);
    assert_eq!(order(&[]), ["a.txt", "b.zip", "c.md"]);
    assert_eq!(order(&["--sort", "name"]), ["a.txt", "b.zip", "c.md"]);
    assert_eq!(order(&["--sort", "name", "--reverse"]), ["c.md", "b.zip", "a.txt"]);
    assert_eq!(order(&["--sort", "size"]), ["b.zip", "a.txt", "c.md"]);
    assert_eq!(order(&["-s", "size", "--reverse"]), ["c.md", "a.txt", "b.zip"]);
    assert_eq!(order(&["--sort", "time"]), ["b.zip", "c.md", "a.txt"]);
    assert_eq!(order(&["--sort", "mtime", "--reverse"]), ["a.txt", "c.md", "b.zip"]);
    assert_eq!(order(&["--sort", "extension"]), ["c.md", "a.txt", "b.zip"]);
    // the text follows the same order
    let text = env.ok(&["ls", "latest", "--sort", "size", "--reverse"]);
    let at = |n: &str| text.find(n).unwrap_or_else(|| panic!("{n} not listed: {text}"));
    assert!(at("c.md") < at("a.txt") && at("a.txt") < at("b.zip"), "{text}");
    // an unknown key is refused, not taken for a name
    let o = env.run(&["ls", "latest", "--sort", "colour"]);
    assert!(!o.status.success() && stderr(&o).contains("colour"), "{}", stderr(&o));

    // -l shows bytes; --human-readable KiB
    let line = |args: &[&str]| {
        let mut a = vec!["ls", "latest", "-l"];
        a.extend_from_slice(args);
        let out = env.ok(&a);
        out.lines().find(|l| l.ends_with("/c.md")).unwrap_or_else(|| panic!("no c.md: {out}")).to_string()
    };
    let plain = line(&[]);
    assert!(plain.contains(" 200000 ") && !plain.contains("KiB"), "{plain}");
    let human = line(&["--human-readable"]);
    assert!(human.contains(" 195.31 KiB ") && !human.contains("200000"), "{human}");
}

#[test]
fn find_prints_paths_and_with_reverse_long_and_human_readable_restics_way() {
    let env = Env::new();
    env.init();
    let src = env.path("src");
    write(&src.join("report.odt"), &noise(5_000, 1));
    env.ok(&["backup", "--time", "2026-01-01 10:00:00", src.to_str().unwrap()]);
    write(&src.join("report.odt"), &noise(300_000, 2));
    env.ok(&["backup", "--time", "2026-02-01 10:00:00", src.to_str().unwrap()]);
    let ids = env.snapshot_ids(); // oldest first
    let (old, new) = (&ids[0][..8], &ids[1][..8]);
    let headers = |out: &str| -> Vec<String> {
        out.lines()
            .filter_map(|l| l.strip_prefix("Found matching entries in snapshot "))
            .map(|l| l[..8].to_string())
            .collect()
    };
    let file = format!("{}/report.odt", src.display());
    // restic's default: the snapshot, then the bare paths; newest snapshot first
    let out = env.ok(&["find", "report.odt"]);
    assert_eq!(headers(&out), [new, old], "{out}");
    assert_eq!(out.lines().filter(|l| *l == file).count(), 2, "{out}");
    assert!(!out.contains("-rw"), "the default lists paths only: {out}");
    // --reverse: oldest first
    let out = env.ok(&["find", "--reverse", "report.odt"]);
    assert_eq!(headers(&out), [old, new], "{out}");
    let v: Value = serde_json::from_str(env.ok(&["find", "-R", "--json", "report.odt"]).trim()).unwrap();
    assert_eq!(v[0]["snapshot"], ids[0].as_str(), "{v}");
    // --long: mode, size, time and path; --human-readable sizes in them
    let out = env.ok(&["find", "--long", "report.odt"]);
    let long: Vec<&str> = out.lines().filter(|l| l.ends_with(&file)).collect();
    assert_eq!(long.len(), 2, "{out}");
    assert!(long[0].starts_with("-rw") && long[0].contains(" 300000 "), "{out}");
    let out = env.ok(&["find", "-l", "--human-readable", "report.odt"]);
    assert!(out.contains(" 292.97 KiB ") && out.contains(" 4.88 KiB ") && !out.contains("300000"), "{out}");
    // --path histories turn too
    let v: Value = serde_json::from_str(env.ok(&["find", "--reverse", "--json", "--path", &file]).trim()).unwrap();
    assert_eq!(v["versions"][0]["size"], 5_000, "{v}");
    // --show-pack-id belongs to --blob and --tree
    let o = env.run(&["find", "--show-pack-id", "report.odt"]);
    assert!(!o.status.success(), "{}", stderr(&o));
    assert!(stderr(&o).contains("--blob or --tree"), "{}", stderr(&o));
}

#[test]
fn find_show_pack_id_names_the_pack_that_holds_the_blob_and_reverse_turns_the_uses() {
    let env = Env::new();
    env.init();
    let src = env.path("src");
    write(&src.join("kept.bin"), &noise(20_000, 7));
    env.ok(&["backup", "--time", "2026-01-01 10:00:00", src.to_str().unwrap()]);
    write(&src.join("other.bin"), &noise(20_000, 8));
    env.ok(&["backup", "--time", "2026-02-01 10:00:00", src.to_str().unwrap()]);
    let ids = env.snapshot_ids();
    let kept = format!("{}/kept.bin", src.display());
    // kept.bin's one data blob, and the pack whose header lists it
    let blob = env
        .ok(&["list", "blobs"])
        .lines()
        .filter_map(|l| l.strip_prefix("data "))
        .map(String::from)
        .find(|id| {
            let v: Value = serde_json::from_str(env.ok(&["find", "--blob", id, "--json"]).trim()).unwrap();
            v.as_array().unwrap().iter().any(|f| f["path"] == kept.as_str())
        })
        .expect("kept.bin's blob");
    let pack = env
        .ok(&["list", "packs"])
        .lines()
        .map(String::from)
        .find(|p| {
            let v: Value = serde_json::from_str(&env.ok(&["cat", "pack", p])).unwrap();
            v["blobs"].as_array().unwrap().iter().any(|b| b["id"] == blob.as_str())
        })
        .expect("a pack holds the blob");
    // without the flag no pack is named
    let v: Value = serde_json::from_str(env.ok(&["find", "--blob", &blob, "--json"]).trim()).unwrap();
    assert!(v.as_array().unwrap().iter().all(|f| f.get("pack").is_none()), "{v}");
    let v: Value =
        serde_json::from_str(env.ok(&["find", "--blob", &blob[..12], "--show-pack-id", "--json"]).trim()).unwrap();
    let uses = v.as_array().unwrap();
    assert_eq!(uses.len(), 2, "kept.bin is in both snapshots: {v}");
    assert!(uses.iter().all(|f| f["pack"] == pack.as_str()), "not the pack {pack}: {v}");
    // newest first by default, oldest first with --reverse
    assert_eq!(uses[0]["snapshot"], ids[1].as_str(), "{v}");
    let v: Value =
        serde_json::from_str(env.ok(&["find", "--blob", &blob, "--show-pack-id", "-R", "--json"]).trim()).unwrap();
    assert_eq!(v[0]["snapshot"], ids[0].as_str(), "{v}");
    assert_eq!(v[1]["snapshot"], ids[1].as_str(), "{v}");
    let text = env.ok(&["find", "--blob", &blob, "--show-pack-id"]);
    assert_eq!(text.matches(&format!(" ... in pack {}", &pack[..8])).count(), 2, "{text}");
    // a tree's pack too: the snapshot's root tree
    let snaps: Value = serde_json::from_str(env.ok(&["snapshots", "--json"]).trim()).unwrap();
    let root = snaps[0]["tree"].as_str().unwrap().to_string();
    let v: Value = serde_json::from_str(env.ok(&["find", "--tree", &root, "--show-pack-id", "--json"]).trim()).unwrap();
    let tree_pack = v[0]["pack"].as_str().unwrap_or_else(|| panic!("no pack for the tree: {v}"));
    assert!(env.packs().iter().any(|p| p.ends_with(tree_pack)), "{tree_pack} is no pack file: {v}");
}

#[test]
fn forget_compact_leaves_out_host_tags_and_paths() {
    let env = Env::new();
    env.init();
    let src = env.path("src");
    write(&src.join("f"), b"one");
    env.ok(&["backup", "--tag", "nightly", "--host", "hostile-host", src.to_str().unwrap()]);
    write(&src.join("f"), b"two");
    env.ok(&["backup", "--tag", "nightly", "--host", "hostile-host", src.to_str().unwrap()]);
    // the listed snapshots: indented lines (the group's header names host and paths once)
    let rows = |args: &[&str]| -> Vec<String> {
        let mut a = vec!["forget", "--keep-last", "1", "--dry-run"];
        a.extend_from_slice(args);
        env.ok(&a).lines().filter(|l| l.starts_with("  ")).map(String::from).collect()
    };
    let full = rows(&[]);
    assert_eq!(full.len(), 2, "one kept, one removed: {full:?}");
    for r in &full {
        assert!(r.contains("hostile-host") && r.contains("nightly") && r.contains(src.to_str().unwrap()), "{full:?}");
    }
    let compact = rows(&["--compact"]);
    assert_eq!(compact.len(), 2, "{compact:?}");
    for r in &compact {
        assert!(!r.contains("hostile-host") && !r.contains("nightly") && !r.contains(src.to_str().unwrap()), "{r}");
    }
    assert_eq!(rows(&["-c"]), compact);
    assert_eq!(env.snapshot_ids().len(), 2, "--dry-run removed a snapshot");
}

#[test]
fn backup_no_scan_runs_without_totals() {
    let env = Env::new();
    env.init();
    let src = env.path("src");
    for i in 0..24u64 {
        write(&src.join(format!("d{}/f{i}", i % 3)), &noise((i as usize % 5) * 200_000 + 1_000, i));
    }
    let o = env
        .cmd()
        .env("ARCA_PROGRESS_FPS", "60")
        .args(["backup", "--json", "--no-scan", src.to_str().unwrap()])
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", stderr(&o));
    let text = String::from_utf8_lossy(&o.stdout);
    let all: Vec<Value> = text.lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    let status: Vec<&Value> = all.iter().filter(|v| v["message_type"] == "status").collect();
    let (end, during) = status.split_last().unwrap_or_else(|| panic!("no status line: {text}"));
    assert!(!during.is_empty(), "no status line while it ran: {text}");
    // nothing counted ahead: no percentage and no time left until the end
    for v in during {
        assert_eq!(v["percent_done"], 0.0, "a percentage without a scan: {v}");
        assert!(v.get("seconds_remaining").is_none(), "{v}");
    }
    assert_eq!(end["percent_done"], 1.0, "{end}");
    assert_eq!(summary(&text)["files_new"], 24, "{text}");
    env.check();
}

/// `backup --json` of `src` with `args`: (files changed, files unmodified).
fn changed_unmodified(env: &Env, src: &Path, args: &[&str]) -> (u64, u64) {
    let mut a = vec![src.to_str().unwrap()];
    a.extend_from_slice(args);
    let s = env.backup_json(&a);
    (s["files_changed"].as_u64().unwrap(), s["files_unmodified"].as_u64().unwrap())
}

/// Move `f`'s ctime (a chmod there and back), leaving mtime, size and inode.
fn touch_ctime(f: &Path) {
    use std::os::unix::fs::PermissionsExt;
    // file times come from a coarse clock: let it tick
    std::thread::sleep(std::time::Duration::from_millis(30));
    std::fs::set_permissions(f, std::fs::Permissions::from_mode(0o600)).unwrap();
    std::fs::set_permissions(f, std::fs::Permissions::from_mode(0o644)).unwrap();
}

/// Replace `f` with a new file (a new inode, a new ctime) of the same bytes and mtime.
fn replace_inode(f: &Path) {
    use std::os::unix::fs::MetadataExt;
    std::thread::sleep(std::time::Duration::from_millis(30));
    let before = std::fs::metadata(f).unwrap();
    let tmp = f.with_extension("tmp");
    std::fs::write(&tmp, std::fs::read(f).unwrap()).unwrap();
    filetime::set_file_mtime(&tmp, FileTime::from_last_modification_time(&before)).unwrap();
    std::fs::rename(&tmp, f).unwrap();
    let after = std::fs::metadata(f).unwrap();
    assert_ne!(before.ino(), after.ino());
    assert_eq!((before.mtime(), before.mtime_nsec(), before.len()), (after.mtime(), after.mtime_nsec(), after.len()));
}

#[test]
fn backup_ignore_ctime_and_ignore_inode_decide_what_counts_as_changed() {
    let env = Env::new();
    env.init();
    let src = env.path("src");
    let f = src.join("data.bin");
    write(&f, &noise(50_000, 9));
    set_mtime(&f, 1_700_000_000);
    assert_eq!(changed_unmodified(&env, &src, &[]), (0, 0));
    assert_eq!(changed_unmodified(&env, &src, &[]), (0, 1), "an untouched file is reused");
    // restic's default: a moved ctime means the file is read again
    touch_ctime(&f);
    assert_eq!(changed_unmodified(&env, &src, &[]), (1, 0), "a new ctime went unnoticed");
    touch_ctime(&f);
    assert_eq!(changed_unmodified(&env, &src, &["--ignore-ctime"]), (0, 1), "--ignore-ctime read it again");
    // a new inode is a change, --ignore-ctime or not
    replace_inode(&f);
    assert_eq!(changed_unmodified(&env, &src, &["--ignore-ctime"]), (1, 0), "a new inode went unnoticed");
    replace_inode(&f);
    assert_eq!(changed_unmodified(&env, &src, &[]), (1, 0));
    // --ignore-inode: neither inode nor ctime counts, mtime and size still do
    replace_inode(&f);
    assert_eq!(changed_unmodified(&env, &src, &["--ignore-inode"]), (0, 1), "--ignore-inode read it again");
    touch_ctime(&f);
    assert_eq!(changed_unmodified(&env, &src, &["--ignore-inode"]), (0, 1), "--ignore-inode minded the ctime");
    write(&f, &noise(50_001, 9));
    set_mtime(&f, 1_700_000_000);
    assert_eq!(changed_unmodified(&env, &src, &["--ignore-inode", "--ignore-ctime"]), (1, 0), "a new size");
    set_mtime(&f, 1_700_000_001);
    assert_eq!(changed_unmodified(&env, &src, &["--ignore-inode"]), (1, 0), "a new mtime");
    // what was stored is the file as it is now
    let restored = env.path("restored");
    env.ok(&["restore", "latest", "--target", restored.to_str().unwrap()]);
    let back = restored.join(f.strip_prefix("/").unwrap());
    assert_eq!(std::fs::read(back).unwrap(), noise(50_001, 9));
    env.check();
}
