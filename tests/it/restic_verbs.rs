//! The verbs a restic user expects beside the ones arca had (issue 21): `version`, `list`,
//! `migrate`, `find --blob/--tree/--pack`, `repair packs`, `cache`. Each drives the real binary
//! (and, for the crash points, the library through storage that stops at the Nth write): output
//! and JSON as restic prints them, listings that are exactly what the repository holds, format
//! upgrades of the golden repositories that lose nothing, change nothing in a dry run and
//! survive a crash at any write, salvage that keeps every readable blob, and cache cleanup that
//! removes only old caches and follows no link.

use crate::common;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use arca::backend::fault::FaultBackend;
use arca::maintenance::check::{self, ReadData};
use arca::repo::Repository;
use common::*;
use serde_json::Value;

fn golden(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures").join(name)
}

/// Every file under `root` with its bytes (the `locks/` a run takes and releases aside).
fn tree_bytes(root: &Path) -> BTreeMap<PathBuf, Vec<u8>> {
    fn walk(root: &Path, dir: &Path, out: &mut BTreeMap<PathBuf, Vec<u8>>) {
        for e in std::fs::read_dir(dir).unwrap() {
            let p = e.unwrap().path();
            let rel = p.strip_prefix(root).unwrap().to_path_buf();
            if rel.starts_with("locks") {
                continue;
            }
            if p.is_dir() {
                walk(root, &p, out);
            } else {
                out.insert(rel, std::fs::read(&p).unwrap());
            }
        }
    }
    let mut out = BTreeMap::new();
    walk(root, root, &mut out);
    out
}

/// The ids of the files in `dir` of the repository at `repo` (recursively for `data`), sorted.
fn ids_in(repo: &Path, dir: &str) -> Vec<String> {
    let mut v: Vec<String> =
        tree_bytes(&repo.join(dir)).keys().map(|p| p.file_name().unwrap().to_string_lossy().into_owned()).collect();
    v.sort();
    v
}

/// A copy of a golden repository, run with its password.
struct Golden {
    env: Env,
    password: &'static str,
}

impl Golden {
    fn new(name: &str, password: &'static str) -> Golden {
        let env = Env::new();
        copy_dir(&golden(name), &env.repo);
        Golden { env, password }
    }

    fn run(&self, args: &[&str]) -> std::process::Output {
        self.env.cmd().env("ARCA_PASSWORD", self.password).args(args).output().unwrap()
    }

    fn ok(&self, args: &[&str]) -> String {
        let o = self.run(args);
        assert!(o.status.success(), "arca {args:?}: {}\n{}", stderr(&o), String::from_utf8_lossy(&o.stdout));
        String::from_utf8_lossy(&o.stdout).into_owned()
    }

    fn restored(&self, name: &str) -> BTreeMap<PathBuf, Meta> {
        let out = self.env.path(name);
        let _ = std::fs::remove_dir_all(&out);
        self.ok(&["restore", "latest", "--target", out.to_str().unwrap()]);
        let d = describe(&out);
        std::fs::remove_dir_all(&out).unwrap();
        d
    }

    fn check_read_data(&self) {
        let v: Value = serde_json::from_str(self.ok(&["check", "--read-data", "--json"]).trim()).unwrap();
        assert_eq!(v["errors"].as_array().map(Vec::len), Some(0), "check: {v}");
        assert_eq!(v["damaged"].as_array().map(Vec::len), Some(0), "check: {v}");
    }

    fn version(&self) -> u8 {
        std::fs::read(self.env.repo.join("config")).unwrap()[4]
    }
}

#[test]
fn version_prints_restic_shaped_text_and_json_without_a_repository() {
    let env = Env::new();
    // no repository exists at ARCA_REPOSITORY: version needs none
    let text = env.ok(&["version"]);
    assert!(
        text.starts_with(&format!(
            "arca {} compiled for {}/{}",
            env!("CARGO_PKG_VERSION"),
            std::env::consts::OS,
            std::env::consts::ARCH
        )),
        "{text}"
    );
    let v: Value = serde_json::from_str(env.ok(&["version", "--json"]).trim()).unwrap();
    assert_eq!(v["message_type"], "version");
    assert_eq!(v["version"], env!("CARGO_PKG_VERSION"));
    // restic's field names
    assert_eq!(v["go_os"], std::env::consts::OS);
    assert_eq!(v["go_arch"], std::env::consts::ARCH);
    assert_eq!(v["format_version"], 4);
    assert_eq!(v["read_format_versions"], serde_json::json!([1, 2, 3, 4]));
    assert!(!env.repo.exists(), "version touched the repository location");
}

#[test]
fn list_names_exactly_what_the_repository_holds() {
    let env = Env::new();
    env.init();
    let src = env.path("src");
    write(&src.join("a"), &noise(300_000, 1));
    write(&src.join("sub/b"), b"small");
    env.backup_json(&[src.to_str().unwrap()]);
    write(&src.join("c"), &noise(100_000, 2));
    env.backup_json(&[src.to_str().unwrap()]);
    for (what, dir) in [("snapshots", "snapshots"), ("index", "index"), ("keys", "keys"), ("packs", "data")] {
        let listed: Vec<String> = env.ok(&["list", what]).lines().map(str::to_string).collect();
        assert_eq!(listed, ids_in(&env.repo, dir), "list {what}");
        let json: Vec<String> = serde_json::from_str::<Value>(env.ok(&["list", what, "--json"]).trim())
            .unwrap()
            .as_array()
            .unwrap()
            .iter()
            .map(|o| o["id"].as_str().unwrap().to_string())
            .collect();
        assert_eq!(json, listed, "list {what} --json");
    }
    assert_eq!(env.ok(&["list", "snapshots"]).lines().count(), 2);
    // blobs: TYPE ID, exactly the blobs the packs' headers list
    let mut want = vec![];
    for pack in ids_in(&env.repo, "data") {
        let v: Value = serde_json::from_str(&env.ok(&["cat", "pack", &pack])).unwrap();
        for b in v["blobs"].as_array().unwrap() {
            want.push(format!("{} {}", b["type"].as_str().unwrap(), b["id"].as_str().unwrap()));
        }
    }
    want.sort();
    want.dedup();
    let listed: Vec<String> = env.ok(&["list", "blobs"]).lines().map(str::to_string).collect();
    assert_eq!(listed, want);
    assert!(listed.iter().any(|l| l.starts_with("tree ")) && listed.iter().any(|l| l.starts_with("data ")));
    // locks: none now; while another client holds an exclusive lock, `list locks` (which takes
    // no lock itself) names exactly that lock, and a listing that needs a lock is refused
    assert_eq!(env.ok(&["list", "locks"]), "");
    let holder = Repository::open(raw_backend(&env.repo), PASSWORD.as_bytes()).unwrap().without_cache();
    let lock = holder.lock("prune", arca::repo::LockMode::Exclusive).unwrap();
    let listed: Vec<String> = env.ok(&["list", "locks"]).lines().map(str::to_string).collect();
    assert_eq!(listed, ids_in(&env.repo, "locks"));
    assert_eq!(listed.len(), 1);
    assert_ne!(code(&env.run(&["list", "snapshots"])), 0, "list snapshots ignored an exclusive lock");
    drop(lock);
    assert_eq!(env.ok(&["list", "locks"]), "");
    let o = env.run(&["list", "nothing"]);
    assert_ne!(code(&o), 0);
    assert!(stderr(&o).contains("snapshots"), "{}", stderr(&o));
}

/// Migrate a copy of a golden repository to version 3: `migrate` lists the upgrade, a dry run
/// changes no byte, the upgrade keeps every snapshot id and restores bit for bit, check reads
/// every blob, and afterwards the upgrade no longer applies while a backup still works.
fn migrate_golden(name: &str, password: &'static str, from: u8) {
    let g = Golden::new(name, password);
    assert_eq!(g.version(), from);
    let before = g.restored("before");
    let snapshots = g.ok(&["list", "snapshots"]);
    let listing = g.ok(&["migrate"]);
    assert!(listing.contains(&format!("repository format version {from}")), "{listing}");
    assert!(listing.contains("  upgrade_repo_v3: "), "{listing}");
    let bytes = tree_bytes(&g.env.repo);
    let dry: Value = serde_json::from_str(g.ok(&["migrate", "upgrade_repo_v3", "--dry-run", "--json"]).trim()).unwrap();
    assert_eq!(dry["dry_run"], true);
    assert_eq!(dry["from_version"], from);
    assert!(dry["old_packs"].as_u64().unwrap() >= 2, "{dry}");
    assert!(dry["check"].is_null());
    assert_eq!(tree_bytes(&g.env.repo), bytes, "migrate --dry-run changed the repository");
    let old_packs = ids_in(&g.env.repo, "data");
    let done: Value = serde_json::from_str(g.ok(&["migrate", "upgrade_repo_v3", "--json"]).trim()).unwrap();
    assert_eq!(done["config_written"], true, "{done}");
    assert_eq!(done["packs_removed"], old_packs.len(), "{done}");
    assert_eq!(done["check"]["errors"].as_array().map(Vec::len), Some(0), "{done}");
    assert_eq!(g.version(), 3, "config does not say version 3");
    let new_packs = ids_in(&g.env.repo, "data");
    assert!(new_packs.iter().all(|p| !old_packs.contains(p)), "an old pack survived: {new_packs:?}");
    // a version 3 repository reads only version 3 headers: this checks every pack's
    g.check_read_data();
    assert_eq!(g.ok(&["list", "snapshots"]), snapshots, "snapshot ids changed");
    assert_same_tree(&before, &g.restored("after"));
    // every index file is version 3 now, and the upgrade no longer applies
    for f in ids_in(&g.env.repo, "index") {
        assert_eq!(std::fs::read(g.env.repo.join("index").join(&f)).unwrap()[4], 3, "index/{f}");
    }
    assert!(g.ok(&["migrate"]).contains("does not apply: the repository is at format version 3 already"));
    let again = g.run(&["migrate", "upgrade_repo_v3"]);
    assert_eq!(code(&again), 1, "{}", stderr(&again));
    let src = g.env.path("more");
    write(&src.join("new.bin"), &noise(200_000, 9));
    g.ok(&["backup", src.to_str().unwrap()]);
    g.check_read_data();
}

#[test]
fn migrate_upgrades_golden_v1_to_v3_without_losing_a_bit() {
    migrate_golden("golden-v1", "golden v1", 1);
}

#[test]
fn migrate_upgrades_golden_v2_to_v3_without_losing_a_bit() {
    migrate_golden("golden-v2", "golden v2", 2);
}

/// Packs that prune marked for deletion (format-spec §21) in a version 2 repository are
/// upgraded too: their blobs are copied into live packs, the marked packs go with the other
/// old ones, nothing used is lost, and the next prune finds the copies unused.
#[test]
fn migrate_copies_the_blobs_of_packs_prune_marked_and_prune_finds_them_unused_after() {
    let g = Golden::new("golden-v2", "golden v2");
    let before = g.restored("before");
    let src = g.env.path("extra");
    write(&src.join("x.bin"), &noise(400_000, 5));
    let o = g.ok(&["backup", "--json", src.to_str().unwrap()]);
    let extra = summary(&o)["snapshot_id"].as_str().unwrap().to_string();
    g.ok(&["forget", &extra]);
    let pruned: Value = serde_json::from_str(g.ok(&["prune", "--json"]).trim()).unwrap();
    assert!(pruned["packs_marked"].as_u64().unwrap() >= 1, "prune marked nothing: {pruned}");
    assert_eq!(g.version(), 2);
    let old_packs = ids_in(&g.env.repo, "data");
    let done: Value = serde_json::from_str(g.ok(&["migrate", "upgrade_repo_v3", "--json"]).trim()).unwrap();
    assert_eq!(done["check"]["errors"].as_array().map(Vec::len), Some(0), "{done}");
    assert_eq!(done["packs_removed"], old_packs.len(), "{done}");
    assert!(ids_in(&g.env.repo, "data").iter().all(|p| !old_packs.contains(p)), "a marked old pack survived");
    g.check_read_data();
    assert_same_tree(&before, &g.restored("after"));
    // the forgotten snapshot's blobs were kept (copied), and prune sees them as unused again
    let again: Value = serde_json::from_str(g.ok(&["prune", "--json"]).trim()).unwrap();
    assert!(again["blobs_unused"].as_u64().unwrap() > 0, "{again}");
    g.check_read_data();
    assert_same_tree(&before, &g.restored("after-prune"));
}

#[test]
fn migrate_of_a_damaged_pack_stops_before_changing_anything() {
    let g = Golden::new("golden-v2", "golden v2");
    let packs = ids_in(&g.env.repo, "data");
    let victim = g.env.repo.join("data").join(&packs[0][..2]).join(&packs[0]);
    let mut b = std::fs::read(&victim).unwrap();
    b[10] ^= 1;
    std::fs::write(&victim, b).unwrap();
    let bytes = tree_bytes(&g.env.repo);
    let o = g.run(&["migrate", "upgrade_repo_v3"]);
    assert_eq!(code(&o), 1);
    assert!(stderr(&o).contains("repair packs"), "{}", stderr(&o));
    // the copies of intact packs stay unindexed until the upgrade succeeds; nothing is deleted
    let after = tree_bytes(&g.env.repo);
    for (path, content) in &bytes {
        assert_eq!(after.get(path), Some(content), "{} changed or vanished", path.display());
    }
    assert_eq!(g.version(), 2);
}

/// Stop a migrate of a golden repository at its 1st, 2nd, ... write or delete: after each
/// stop the repository opens, `check --read-data` finds nothing wrong and the snapshot
/// restores bit for bit; `migrate` run again finishes the upgrade.
fn migrate_stopped_at_any_write(name: &str, password: &'static str) {
    let g = Golden::new(name, password);
    let template = g.env.path("template");
    copy_dir(&g.env.repo, &template);
    let want = g.restored("want");
    let open = |backend| Repository::open(backend, g.password.as_bytes()).unwrap().without_cache();
    for (stops, n) in (1..200).enumerate() {
        copy_dir(&template, &g.env.repo);
        let repo = open(Arc::new(FaultBackend::new(raw_backend(&g.env.repo)).crash_at(n)));
        match arca::commands::migrate::run(repo, "upgrade_repo_v3", false, &|_| {}) {
            Ok(r) => {
                assert!(r.check.unwrap().ok());
                assert!(stops > 5, "the upgrade got through after only {stops} stops");
                return;
            }
            Err(e) => assert!(e.message.contains("injected crash"), "stop at {n}: {e}"),
        }
        // what the killed process held
        let _ = std::fs::remove_dir_all(g.env.repo.join("locks"));
        let report = check::check(&open(raw_backend(&g.env.repo)), ReadData::All).unwrap();
        assert!(report.ok(), "stop at {n}: {:?} {:?}", report.errors, report.damaged);
        assert_same_tree(&want, &g.restored(&format!("stop-{n}")));
        // a dry run now writes nothing and accounts for every stored pack, those of the
        // stopped run (not yet indexed) too
        let bytes = tree_bytes(&g.env.repo);
        match arca::commands::migrate::run(open(raw_backend(&g.env.repo)), "upgrade_repo_v3", true, &|_| {}) {
            Ok(dry) => assert_eq!(
                dry.upgrade.old_packs + dry.upgrade.packs_already_upgraded,
                ids_in(&g.env.repo, "data").len(),
                "stop at {n}: {:?}",
                dry.upgrade
            ),
            Err(e) => assert!(e.message.contains("does not apply"), "stop at {n}: {e}"),
        }
        assert!(tree_bytes(&g.env.repo) == bytes, "stop at {n}: the dry run changed the repository");
        // the run after the stop finishes the job
        let finished = arca::commands::migrate::run(open(raw_backend(&g.env.repo)), "upgrade_repo_v3", false, &|_| {});
        match finished {
            Ok(r) => assert!(r.check.unwrap().ok(), "stop at {n}: the run after it left errors"),
            // the stop came after config was written: the upgrade is done
            Err(e) => assert!(e.message.contains("does not apply"), "stop at {n}: {e}"),
        }
        assert_eq!(g.version(), 3, "stop at {n}: not upgraded by the second run");
        g.check_read_data();
        assert_same_tree(&want, &g.restored(&format!("rerun-{n}")));
    }
    panic!("migrate never got through");
}

#[test]
fn a_migrate_of_golden_v1_stopped_at_any_write_leaves_a_repository_that_opens_checks_and_finishes() {
    migrate_stopped_at_any_write("golden-v1", "golden v1");
}

#[test]
fn a_migrate_of_golden_v2_stopped_at_any_write_leaves_a_repository_that_opens_checks_and_finishes() {
    migrate_stopped_at_any_write("golden-v2", "golden v2");
}

/// The data pack of `env`'s repository with its blobs' JSON (from `cat pack`).
fn data_pack(env: &Env) -> (String, Vec<Value>) {
    for pack in ids_in(&env.repo, "data") {
        let v: Value = serde_json::from_str(&env.ok(&["cat", "pack", &pack])).unwrap();
        let blobs = v["blobs"].as_array().unwrap().clone();
        if blobs.iter().all(|b| b["type"] == "data") {
            return (pack, blobs);
        }
    }
    panic!("no data pack");
}

#[test]
fn find_blob_tree_and_pack_name_the_right_snapshot_and_path() {
    let env = Env::new();
    env.init();
    let src = env.path("src");
    // over 128 bytes: stored in a blob of its own, not inline (format-spec/v4.md §13.5)
    write(&src.join("docs/report.txt"), &b"the one blob of report.txt ".repeat(8));
    write(&src.join("other.txt"), b"something else");
    let first = env.backup_json(&[src.to_str().unwrap()])["snapshot_id"].as_str().unwrap().to_string();
    std::fs::remove_file(src.join("docs/report.txt")).unwrap();
    write(&src.join("docs/new.txt"), b"new in the second snapshot");
    let second = env.backup_json(&[src.to_str().unwrap()])["snapshot_id"].as_str().unwrap().to_string();
    let report = format!("{}/docs/report.txt", src.display());
    // the blob of report.txt: find each data blob and keep the one found at report.txt
    let mut report_blob = None;
    for line in env.ok(&["list", "blobs"]).lines().filter(|l| l.starts_with("data ")) {
        let id = &line[5..];
        // restic's JSON: one array of blob objects
        let v: Value = serde_json::from_str(env.ok(&["find", "--blob", &id[..12], "--json"]).trim()).unwrap();
        let found = v.as_array().unwrap();
        if found.iter().any(|f| f["path"] == report.as_str()) {
            report_blob = Some(id.to_string());
            assert_eq!(found.len(), 1, "report.txt is in one snapshot only: {v}");
            assert_eq!(found[0]["snapshot"], first.as_str());
            assert_eq!(found[0]["object_type"], "blob");
            assert_eq!(found[0]["id"], id);
            let parent = found[0]["parent_tree"].as_str().unwrap();
            // the parent tree is the first snapshot's docs/ (the second's lists other files)
            let t: Value = serde_json::from_str(env.ok(&["find", "--tree", &parent[..12], "--json"]).trim()).unwrap();
            assert_eq!(t[0]["path"], format!("{}/docs", src.display()).as_str(), "{t}");
            assert!(found[0]["time"].as_str().unwrap().starts_with("20"), "{v}");
        }
    }
    let report_blob = report_blob.expect("find --blob found report.txt's blob");
    let text = env.ok(&["find", "--blob", &report_blob]);
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), 4, "{text}");
    assert_eq!(lines[0], format!("Found blob {report_blob}"));
    assert_eq!(lines[1], format!(" ... in file {report}"));
    assert!(lines[2].starts_with("     (tree "), "{text}");
    assert!(lines[3].starts_with(&format!(" ... in snapshot {} (", &first[..8])), "{text}");
    // --tree: a snapshot's root tree is found at / of that snapshot only
    let snaps: Value = serde_json::from_str(env.ok(&["snapshots", "--json"]).trim()).unwrap();
    let root_of = |id: &str| {
        snaps.as_array().unwrap().iter().find(|s| s["id"] == id).unwrap()["tree"].as_str().unwrap().to_string()
    };
    let v: Value = serde_json::from_str(env.ok(&["find", "--tree", &root_of(&second), "--json"]).trim()).unwrap();
    let found = v.as_array().unwrap();
    assert_eq!(found.len(), 1, "{v}");
    assert_eq!(found[0]["path"], "/");
    assert_eq!(found[0]["snapshot"], second.as_str());
    assert!(found[0].get("parent_tree").is_none(), "{v}");
    // --pack: every blob of the pack holding report.txt's blob, and report.txt among their users
    let (pack, blobs) = ids_in(&env.repo, "data")
        .into_iter()
        .map(|p| {
            let v: Value = serde_json::from_str(&env.ok(&["cat", "pack", &p])).unwrap();
            (p, v["blobs"].as_array().unwrap().clone())
        })
        .find(|(_, b)| b.iter().any(|b| b["id"] == report_blob.as_str()))
        .expect("a pack holds report.txt's blob");
    let v: Value = serde_json::from_str(env.ok(&["find", "--pack", &pack[..10], "--json"]).trim()).unwrap();
    let uses = v.as_array().unwrap();
    assert!(
        uses.iter()
            .any(|f| f["path"] == report.as_str() && f["snapshot"] == first.as_str() && f["pack"] == pack.as_str()),
        "{v}"
    );
    assert!(uses.iter().all(|f| f["pack"] == pack.as_str()), "{v}");
    // the text lists every blob of the pack first
    let text = env.ok(&["find", "--pack", &pack[..10]]);
    assert!(text.starts_with(&format!("pack {pack} holds {} blob", blobs.len())), "{text}");
    for b in &blobs {
        assert!(text.contains(&format!("  {} {}", b["type"].as_str().unwrap(), b["id"].as_str().unwrap())), "{text}");
    }
    // an id nobody uses is reported as not found (on stderr; the JSON array is empty)
    let o = env.run(&["find", "--blob", "00000000", "--json"]);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    assert_eq!(String::from_utf8_lossy(&o.stdout).trim(), "[]");
    assert!(stderr(&o).contains("00000000: not found in 2 snapshots"), "{}", stderr(&o));
}

#[test]
fn repair_packs_salvages_the_intact_blobs_of_a_damaged_pack_and_check_reports_only_the_lost_ones() {
    let env = Env::new();
    env.init();
    let src = env.path("src");
    // incompressible files of chunks mostly above the group limit: most chunks are units of
    // their own (a file's last chunk may be small and grouped: the chunker's seed is random)
    write(&src.join("big1"), &noise(3 << 20, 1));
    write(&src.join("big2"), &noise(3 << 20, 2));
    env.backup_json(&[src.to_str().unwrap()]);
    let (pack, blobs) = data_pack(&env);
    assert!(blobs.len() >= 4, "{} blobs", blobs.len());
    // flip a byte in the first blob that is a unit of its own
    let first = blobs
        .iter()
        .filter(|b| b.get("group_offset").is_none())
        .min_by_key(|b| b["offset"].as_u64().unwrap())
        .expect("a chunk sealed alone");
    let path = env.repo.join("data").join(&pack[..2]).join(&pack);
    let mut bytes = std::fs::read(&path).unwrap();
    bytes[first["offset"].as_u64().unwrap() as usize + 30] ^= 0x40;
    std::fs::write(&path, bytes).unwrap();
    let dry: Value =
        serde_json::from_str(env.ok(&["repair", "packs", &pack[..12], "--dry-run", "--json"]).trim()).unwrap();
    assert_eq!(dry["blobs_lost"], 1, "{dry}");
    assert!(path.exists(), "--dry-run removed the pack");
    let r: Value = serde_json::from_str(env.ok(&["repair", "packs", &pack, "--json"]).trim()).unwrap();
    assert_eq!(r["blobs_salvaged"], blobs.len() - 1, "{r}");
    assert_eq!(r["blobs_lost"], 1, "{r}");
    assert_eq!(r["packs"][0]["blobs_lost"][0], format!("data {}", first["id"].as_str().unwrap()).as_str());
    assert!(!path.exists(), "the damaged pack is still stored");
    // check: the lost blob, in exactly one file, and nothing else
    let o = env.run(&["check", "--read-data", "--json"]);
    assert_ne!(code(&o), 0);
    let v: Value = serde_json::from_str(String::from_utf8_lossy(&o.stdout).trim()).unwrap();
    let damaged = v["damaged"].as_array().unwrap();
    assert_eq!(damaged.len(), 1, "{v}");
    let lost_in = damaged[0]["path"].as_str().unwrap().to_string();
    assert!(lost_in.ends_with("big1") || lost_in.ends_with("big2"), "{lost_in}");
    for e in v["errors"].as_array().unwrap() {
        assert!(
            e.as_str().unwrap().contains(&first["id"].as_str().unwrap()[..8]),
            "an error not about the lost blob: {e}"
        );
    }
    // the other file restores whole
    let other = if lost_in.ends_with("big1") { "big2" } else { "big1" };
    let out = env.path("out");
    // (restore reports the damaged file and exits non-zero)
    env.run(&["restore", "latest", "--target", out.to_str().unwrap()]);
    let restored = out.join(src.strip_prefix("/").unwrap()).join(other);
    assert_eq!(std::fs::read(restored).unwrap(), std::fs::read(src.join(other)).unwrap());
    // the text output names the next step
    let o = env.run(&["repair", "packs", "ffffffffffff"]);
    assert_ne!(code(&o), 0);
    assert!(stderr(&o).contains("list packs"), "{}", stderr(&o));
}

/// Stop `repair packs` at its 1st, 2nd, ... write or delete: after each stop every blob that
/// can be salvaged is still readable (the intact file restores bit for bit, from the damaged
/// pack or its salvaged copy) and `check` finds nothing but the one damaged blob; the run
/// after the stop finishes the repair.
#[test]
fn a_repair_packs_stopped_at_any_write_keeps_every_salvageable_blob_and_the_rerun_finishes() {
    let env = Env::new();
    env.init();
    let src = env.path("src");
    write(&src.join("big1"), &noise(3 << 20, 1));
    write(&src.join("big2"), &noise(3 << 20, 2));
    env.backup_json(&[src.to_str().unwrap()]);
    let (pack, blobs) = data_pack(&env);
    let first = blobs
        .iter()
        .filter(|b| b.get("group_offset").is_none())
        .min_by_key(|b| b["offset"].as_u64().unwrap())
        .expect("a chunk sealed alone");
    let lost = first["id"].as_str().unwrap().to_string();
    let path = env.repo.join("data").join(&pack[..2]).join(&pack);
    let mut bytes = std::fs::read(&path).unwrap();
    bytes[first["offset"].as_u64().unwrap() as usize + 30] ^= 0x40;
    std::fs::write(&path, bytes).unwrap();
    // the file that holds the damaged blob, and the other
    let v: Value = serde_json::from_str(env.ok(&["find", "--blob", &lost, "--json"]).trim()).unwrap();
    let damaged_file = v[0]["path"].as_str().unwrap().to_string();
    let intact = if damaged_file.ends_with("big1") { "big2" } else { "big1" };
    let want = std::fs::read(src.join(intact)).unwrap();
    let template = env.path("template");
    copy_dir(&env.repo, &template);
    let open = |backend| Repository::open(backend, PASSWORD.as_bytes()).unwrap().without_cache();
    let only_the_lost_blob_is_missing = |at: &str| {
        let o = env.run(&["check", "--read-data", "--json"]);
        let v: Value = serde_json::from_str(String::from_utf8_lossy(&o.stdout).trim())
            .unwrap_or_else(|e| panic!("{at}: check printed no report ({e}): {}", stderr(&o)));
        let damaged = v["damaged"].as_array().unwrap();
        assert_eq!(damaged.len(), 1, "{at}: {v}");
        assert_eq!(damaged[0]["path"], damaged_file.as_str(), "{at}: {v}");
        let out = env.path("out");
        let _ = std::fs::remove_dir_all(&out);
        env.run(&["restore", "latest", "--target", out.to_str().unwrap()]);
        let restored = std::fs::read(out.join(src.strip_prefix("/").unwrap()).join(intact)).unwrap();
        assert!(restored == want, "{at}: {intact} does not restore");
    };
    for (stops, n) in (1..100).enumerate() {
        copy_dir(&template, &env.repo);
        let repo = open(Arc::new(FaultBackend::new(raw_backend(&env.repo)).crash_at(n)));
        match arca::commands::repair_packs::run(repo, std::slice::from_ref(&pack), false, &|_| {}) {
            Ok(r) => {
                assert_eq!(r.blobs_lost, 1);
                assert!(stops > 3, "the repair got through after only {stops} stops");
                assert!(!path.exists());
                // (the stop may have come at the lock's removal, which a run does not fail on)
                let _ = std::fs::remove_dir_all(env.repo.join("locks"));
                only_the_lost_blob_is_missing("uninterrupted");
                return;
            }
            Err(e) => assert!(e.message.contains("injected crash"), "stop at {n}: {e}"),
        }
        let _ = std::fs::remove_dir_all(env.repo.join("locks"));
        only_the_lost_blob_is_missing(&format!("stop at {n}"));
        // the run after the stop finishes: the damaged pack is gone
        let rerun = arca::commands::repair_packs::run(
            open(raw_backend(&env.repo)),
            std::slice::from_ref(&pack),
            false,
            &|_| {},
        );
        match rerun {
            Ok(_) => {}
            // the stop came after the damaged pack was deleted: nothing is left to repair
            Err(e) => assert!(e.message.contains("is stored or indexed"), "stop at {n}: {e}"),
        }
        assert!(!path.exists(), "stop at {n}: the rerun left the damaged pack");
        only_the_lost_blob_is_missing(&format!("rerun after stop at {n}"));
    }
    panic!("repair packs never got through");
}

/// A pack whose header no longer authenticates (its last bytes damaged) is salvaged whole
/// through the index: every blob verifies against its id, so nothing is lost.
#[test]
fn repair_packs_salvages_a_pack_whose_header_is_destroyed_through_the_index() {
    let env = Env::new();
    env.init();
    let src = env.path("src");
    write(&src.join("big"), &noise(3 << 20, 7));
    write(&src.join("small"), b"a small file");
    env.backup_json(&[src.to_str().unwrap()]);
    let (pack, blobs) = data_pack(&env);
    let path = env.repo.join("data").join(&pack[..2]).join(&pack);
    let mut bytes = std::fs::read(&path).unwrap();
    let n = bytes.len();
    bytes[n - 20] ^= 0x01;
    std::fs::write(&path, bytes).unwrap();
    assert_ne!(code(&env.run(&["check", "--read-data"])), 0, "check missed the damaged header");
    let r: Value = serde_json::from_str(env.ok(&["repair", "packs", &pack[..16], "--json"]).trim()).unwrap();
    assert_eq!(r["blobs_salvaged"], blobs.len(), "{r}");
    assert_eq!(r["blobs_lost"], 0, "{r}");
    assert_ne!(r["packs"][0]["header_problem"], "", "{r}");
    assert!(!path.exists());
    env.check();
    let out = env.path("out");
    env.ok(&["restore", "latest", "--target", out.to_str().unwrap()]);
    assert_same_tree(&describe(&src), &describe(&out.join(src.strip_prefix("/").unwrap())));
}

#[test]
fn cache_lists_sizes_and_ages_and_cleanup_removes_only_old_caches() {
    let env = Env::new();
    env.init();
    let src = env.path("src");
    write(&src.join("f"), &noise(100_000, 3));
    env.backup_json(&[src.to_str().unwrap()]);
    let root = env.dir.path().join("cache/arca");
    let v: Value = serde_json::from_str(env.ok(&["cache", "--json"]).trim()).unwrap();
    let caches = v["caches"].as_array().unwrap();
    assert_eq!(caches.len(), 1, "{v}");
    let repo_id = caches[0]["repo_id"].as_str().unwrap().to_string();
    assert!(caches[0]["size"].as_u64().unwrap() > 0);
    assert_eq!(caches[0]["age_days"], 0);
    assert_eq!(caches[0]["old"], false);
    // an old cache of another repository, a symlink and a stray directory
    let old = root.join("ab".repeat(32));
    std::fs::create_dir_all(old.join("index")).unwrap();
    write(&old.join("index/x"), b"cached");
    let ninety_days_ago = std::time::SystemTime::now() - std::time::Duration::from_secs(90 * 86_400);
    std::fs::File::open(&old).unwrap().set_modified(ninety_days_ago).unwrap();
    let elsewhere = env.path("precious");
    std::fs::create_dir_all(&elsewhere).unwrap();
    write(&elsewhere.join("keep"), b"not a cache");
    std::os::unix::fs::symlink(&elsewhere, root.join("cd".repeat(32))).unwrap();
    std::fs::create_dir_all(root.join("not-a-cache")).unwrap();
    let text = env.ok(&["cache", "--no-size"]);
    assert!(text.contains(&repo_id[..8]) && text.contains("90 days ago"), "{text}");
    assert!(text.contains("2 cache dirs in"), "{text}");
    let v: Value = serde_json::from_str(env.ok(&["cache", "--cleanup", "--json"]).trim()).unwrap();
    assert_eq!(v["removed"], 1, "{v}");
    assert!(!old.exists(), "the old cache is still there");
    assert!(root.join(&repo_id).is_dir(), "the cache in use was removed");
    assert!(elsewhere.join("keep").exists() && root.join("not-a-cache").is_dir());
    // using the repository marks its cache used
    let mine = root.join(&repo_id);
    std::fs::File::open(&mine).unwrap().set_modified(ninety_days_ago).unwrap();
    env.ok(&["snapshots"]);
    let v: Value = serde_json::from_str(env.ok(&["cache", "--cleanup", "--max-age", "7", "--json"]).trim()).unwrap();
    assert_eq!(v["removed"], 0, "a cache used just now was removed: {v}");
    let o = env.run(&["--no-cache", "cache"]);
    assert_ne!(code(&o), 0);
    assert!(stderr(&o).contains("--cache-dir"), "{}", stderr(&o));
}
