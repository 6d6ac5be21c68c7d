//! Every human rendering as text, against committed insta snapshots (`snapshots/` beside this
//! file): fixed inputs, times shown at a fixed offset (+01:00, so the conversion from the
//! stored offset shows too), printed through `Out::write` as a terminal would get them
//! (escaping included). A changed rendering fails `cargo test` (insta writes the new text to a
//! `.snap.new` file beside the old one; review it with `cargo insta review`, or accept it with
//! `INSTA_UPDATE=always`); in CI (`CI` set) nothing is written and the test fails.

use std::time::Duration;

use chrono::FixedOffset;

use super::*;
use crate::cli::output::Out;
use crate::commands::diff::Counts;
use crate::commands::find::{Match, Version};
use crate::commands::forget::{plan_groups, GroupBy};
use crate::commands::snapshots::GroupKey;
use crate::commands::tag::Retagged;
use crate::format::snapshot::Snapshot;
use crate::id::{ObjectId, SnapshotId};
use crate::maintenance::check::Damage;
use crate::maintenance::prune::MaxUnused;

fn zone() -> Zone {
    Zone::Fixed(FixedOffset::east_opt(3600).unwrap())
}

/// What a terminal shows: stdout, then stderr under a marker.
fn shown(lines: &Lines) -> String {
    let (mut out, mut err) = (vec![], vec![]);
    Out { json: false, quiet: false, verbose: 0 }.write(&lines.0, &mut out, &mut err);
    let mut s = String::from_utf8(out).unwrap();
    if !err.is_empty() {
        s.push_str("--- stderr ---\n");
        s.push_str(&String::from_utf8(err).unwrap());
    }
    s
}

/// A snapshot id of 32 copies of the byte written as `two` hex digits.
fn hx(two: &str) -> SnapshotId {
    SnapshotId::from_hex(&two.repeat(32)).unwrap()
}

fn id(byte: u8) -> SnapshotId {
    SnapshotId::from_hex(&format!("{byte:02x}").repeat(32)).unwrap()
}

fn snapshot(time: &str, host: &str, tags: &[&str], paths: &[&str]) -> Snapshot {
    Snapshot {
        time: time.into(),
        tree: Default::default(),
        paths: paths.iter().map(|p| p.to_string()).collect(),
        hostname: host.into(),
        username: "alice".into(),
        uid: 1000,
        gid: 1000,
        tags: tags.iter().map(|t| t.to_string()).collect(),
        parent: None,
        excludes: vec![],
        program_version: "arca 0.1.0".into(),
        summary: None,
        original: None,
        change_list: None,
    }
}

fn info(byte: u8, time: &str, host: &str, tags: &[&str], paths: &[&str]) -> SnapshotInfo {
    SnapshotInfo::new(&id(byte), &snapshot(time, host, tags, paths))
}

#[test]
fn snapshots_table() {
    let list = [
        info(0x1a, "2026-11-01T12:34:56.123456789+00:00", "laptop", &[], &["/home/alice"]),
        info(
            0x2b,
            "2026-11-02T23:30:00+00:00",
            "a-host-name-longer-than-its-column",
            &["daily", "work"],
            &["/etc", "/srv"],
        ),
        // names from a hostile repository: a title-setting escape and a forged line
        info(0x3c, "2026-11-03T08:00:00-05:00", "evil\u{1b}]0;owned\u{7}", &["t\nforged line"], &["/x\u{202e}gpj.exe"]),
    ];
    insta::assert_snapshot!(shown(&snapshots(&list, false, zone())));
    insta::assert_snapshot!("snapshots_table_empty", shown(&snapshots(&[], false, zone())));
    insta::assert_snapshot!("snapshots_compact", shown(&snapshots(&list[..2], true, zone())));
    let key = |host: &str| GroupKey { hostname: Some(host.into()), paths: None, tags: None };
    let groups = [
        SnapshotGroup { group_key: key("laptop"), snapshots: vec![list[0].clone()] },
        SnapshotGroup { group_key: key("evil\u{1b}]0;owned\u{7}"), snapshots: vec![list[2].clone()] },
    ];
    insta::assert_snapshot!("snapshots_grouped_by_host", shown(&snapshot_groups(&groups, false, zone())));
}

fn node(path: &str, kind: &'static str, permissions: &str, size: u64, user: &str, link: Option<&str>) -> LsNode {
    LsNode {
        name: path.rsplit('/').next().unwrap().into(),
        kind,
        path: path.into(),
        uid: 1000,
        gid: 100,
        user: user.into(),
        group: if user.is_empty() { String::new() } else { "users".into() },
        size,
        mode: 0o644,
        permissions: permissions.into(),
        mtime: "2026-10-31T23:59:59.5+00:00".into(),
        atime: "2026-10-31T23:59:59.5+00:00".into(),
        ctime: "2026-10-31T23:59:59.5+00:00".into(),
        inode: 42,
        links: 1,
        link_target: link.map(Into::into),
        struct_type: "node",
    }
}

fn ls_input() -> (SnapshotInfo, Vec<LsNode>) {
    let nodes = vec![
        node("/home", "dir", "drwxr-xr-x", 0, "alice", None),
        node("/home/notes.txt", "file", "-rw-r--r--", 1_234_567, "alice", None),
        node("/home/latest", "symlink", "lrwxrwxrwx", 0, "alice", Some("notes.txt")),
        node("/home/orphan", "file", "-rw-------", 0, "", None),
        node("/home/two\nlines", "file", "-rw-r--r--", 7, "alice", None),
    ];
    (info(0x4d, "2026-11-01T12:00:00+00:00", "laptop", &[], &["/home"]), nodes)
}

#[test]
fn ls_short() {
    let (info, nodes) = ls_input();
    insta::assert_snapshot!(shown(&ls(&info, &nodes, false, false, zone())));
}

#[test]
fn ls_long() {
    let (info, nodes) = ls_input();
    insta::assert_snapshot!(shown(&ls(&info, &nodes, true, false, zone())));
}

#[test]
fn diff_of_two_snapshots_and_of_a_live_directory() {
    let (old, new) = (hx("1a"), hx("2b"));
    let mut l = diff_header(&old, &NewSide::Snapshot(new));
    for (modifier, path) in [('+', "/home/new"), ('-', "/home/gone"), ('M', "/home/changed"), ('T', "/home/now\na dir")]
    {
        l.0.push(diff_change(&Change { path: path.into(), modifier, live_ctime: None }));
    }
    let st = DiffStats {
        changed_files: 1,
        added: Counts { files: 1, dirs: 1, others: 0, data_blobs: 3, tree_blobs: 2, bytes: 3 << 20 },
        removed: Counts { files: 1, dirs: 0, others: 1, data_blobs: 1, tree_blobs: 1, bytes: 1500 },
    };
    l.0.extend(diff_stats(&st).0);
    insta::assert_snapshot!(shown(&l));
    insta::assert_snapshot!("diff_live_header", shown(&diff_header(&old, &NewSide::Live("/home/alice/work".into()))));
}

#[test]
fn stats_in_restore_size_and_raw_data_mode() {
    let restore_size =
        Stats { total_size: 5 << 30, total_file_count: 123_456, snapshots_count: 3, ..Default::default() };
    insta::assert_snapshot!(shown(&stats("restore-size", Mode::RestoreSize, &restore_size)));
    let raw = Stats {
        total_size: 700 << 20,
        total_blob_count: Some(9_876),
        snapshots_count: 3,
        total_uncompressed_size: Some(1 << 30),
        compression_ratio: Some(1.4628),
        compression_progress: Some(99.5),
        compression_space_saving: Some(31.64),
        deduplication_ratio: Some(5.0),
        total_ratio: Some(7.314),
        ..Default::default()
    };
    insta::assert_snapshot!("stats_raw_data", shown(&stats("raw-data", Mode::RawData, &raw)));
}

#[test]
fn check_clean_and_damaged() {
    let clean = CheckReport {
        snapshots: 3,
        index_files: 2,
        packs: 17,
        blobs: 4_321,
        trees_checked: 99,
        packs_read: 17,
        bytes_read: 300 << 20,
        blobs_read: 4_321,
        ..Default::default()
    };
    insta::assert_snapshot!("check_clean_read_data", shown(&check(&clean, true)));
    let damaged = CheckReport {
        unreferenced_packs: vec!["ab".repeat(32)],
        invalid_unreferenced_packs: vec![format!(
            "{}: header does not match its bytes",
            crate::repo::pack_path(&crate::id::PackId([0xcd; 32]))
        )],
        pending_deletion: vec!["ef".repeat(32), "01".repeat(32)],
        errors: vec![format!("pack {}: blob {} does not match its id", "23".repeat(32), "45".repeat(32))],
        damaged: vec![Damage {
            snapshot: hx("1a"),
            path: "/home/alice/thesis.tex".into(),
            problem: "its data blob 4545454 is lost".into(),
        }],
        ..clean
    };
    insta::assert_snapshot!("check_damaged", shown(&check(&damaged, false)));
}

#[test]
fn find_matches_and_history() {
    let hit = |path: &str, permissions: &str, size: u64| Match {
        path: path.into(),
        kind: "file",
        permissions: permissions.into(),
        mode: 0o644,
        size,
        mtime: "2026-10-30T08:15:00+00:00".into(),
        content_id: None,
    };
    let found = [
        SnapshotMatches {
            snapshot: hx("2b"),
            time: "2026-11-02T23:30:00+00:00".into(),
            hits: 2,
            matches: vec![
                hit("/home/alice/report.txt", "-rw-r--r--", 2_048),
                hit("/srv/report.txt\x07", "-rw-------", 0),
            ],
        },
        SnapshotMatches {
            snapshot: hx("1a"),
            time: "2026-11-01T12:34:56+00:00".into(),
            hits: 1,
            matches: vec![hit("/home/alice/report.txt", "-rw-r--r--", 1_024)],
        },
    ];
    insta::assert_snapshot!("find_matches", shown(&find_matches(&found, true, false, zone())));
    insta::assert_snapshot!("find_no_matches", shown(&find_matches(&[], false, false, zone())));
    // restic's default: the paths alone; --human-readable sizes in --long lines
    let short = shown(&find_matches(&found, false, false, zone()));
    assert!(short.lines().any(|l| l == "/home/alice/report.txt"), "{short}");
    assert!(!short.contains("-rw-r--r--"), "{short}");
    let human = shown(&find_matches(&found, true, true, zone()));
    assert!(human.contains("2.00 KiB") && !human.contains(" 2048 "), "{human}");
    let version = |size: u64, content: Option<&str>, snaps: &[&str], first: &str, last: &str| Version {
        kind: "file",
        size,
        mtime: "2026-10-30T08:15:00+00:00".into(),
        content_id: content.map(Into::into),
        snapshots: snaps.iter().map(|s| hx(s)).collect(),
        first_seen: first.into(),
        last_seen: last.into(),
    };
    let history = PathHistory {
        path: "/home/alice/report.txt".into(),
        snapshots_searched: 4,
        versions: vec![
            version(2_048, Some("c0ffee00"), &["4d", "3c"], "2026-11-03T08:00:00+00:00", "2026-11-04T08:00:00+00:00"),
            version(1_024, None, &["1a"], "2026-11-01T12:34:56+00:00", "2026-11-01T12:34:56+00:00"),
        ],
    };
    insta::assert_snapshot!("find_history", shown(&find_history(&history, zone())));
}

#[test]
fn tag_changes() {
    let report = TagReport {
        changed: vec![
            Retagged { old: hx("1a"), new: hx("5e"), tags: vec!["daily".into(), "reviewed".into()] },
            Retagged { old: hx("2b"), new: hx("6f"), tags: vec![] },
        ],
        unchanged: 1,
    };
    insta::assert_snapshot!(shown(&tag(&report)));
}

#[test]
fn forget_groups_with_reasons() {
    let snaps: Vec<(SnapshotId, Snapshot)> = [
        (0x11, "2026-11-01T10:00:00+00:00", "laptop", &["daily"][..]),
        (0x22, "2026-11-02T10:00:00+00:00", "laptop", &["daily"][..]),
        (0x33, "2026-11-02T18:00:00+00:00", "laptop", &[][..]),
        (0x44, "2026-11-03T10:00:00+00:00", "laptop", &["daily"][..]),
        (0x55, "2026-11-03T09:00:00+00:00", "server", &[][..]),
    ]
    .into_iter()
    .map(|(b, time, host, tags)| (id(b), snapshot(time, host, tags, &["/home"])))
    .collect();
    let policy = Policy { last: 1, daily: 2, ..Default::default() };
    let group_by = GroupBy::parse("host,paths").unwrap();
    let now = chrono::DateTime::parse_from_rfc3339("2026-11-04T00:00:00+00:00").unwrap();
    let groups = plan_groups(&snaps, group_by, &policy, now);
    insta::assert_snapshot!(shown(&forget(&policy, &groups, false, zone())));
    // --compact: the snapshot lines without host, tags and paths (the headers keep the group)
    let full = shown(&forget(&policy, &groups, false, zone()));
    let compact = shown(&forget(&policy, &groups, true, zone()));
    let rows = |s: &str| s.lines().filter(|l| l.starts_with("  ")).map(String::from).collect::<Vec<_>>();
    assert!(rows(&full).iter().all(|l| l.contains("/home")), "{full}");
    assert!(rows(&compact).iter().all(|l| !l.contains("/home") && !l.contains("laptop")), "{compact}");
    assert_eq!(rows(&full).len(), rows(&compact).len());
    // `--group-by ''` and an empty policy: one group without a key, every snapshot kept
    let named = plan_groups(&snaps[..1], GroupBy::parse("").unwrap(), &Policy::default(), now);
    insta::assert_snapshot!("forget_without_policy", shown(&forget(&Policy::default(), &named, false, zone())));
}

#[test]
fn key_list_stars_the_current_key() {
    let key = |byte: u8, current: bool, created: &str, user: &str, host: &str| KeyInfo {
        id: ObjectId([byte; 32]),
        current,
        created: created.into(),
        hostname: host.into(),
        username: user.into(),
    };
    let keys = [
        key(0x7a, false, "2026-01-15T09:00:00+00:00", "alice", "laptop"),
        key(0x8b, true, "2026-11-01T12:00:00.5+00:00", "backup-operator", "a-very-long-host-name"),
    ];
    insta::assert_snapshot!(shown(&key_list(&keys, zone())));
}

fn backup_report(snapshot_id: Option<SnapshotId>, errors: u64) -> BackupReport {
    BackupReport {
        message_type: "summary",
        files_new: 12,
        files_changed: 3,
        files_unmodified: 4_567,
        dirs_new: 1,
        dirs_changed: 2,
        dirs_unmodified: 345,
        data_blobs: 40,
        tree_blobs: 3,
        data_added: 25 << 20,
        data_added_packed: 11 << 20,
        total_files_processed: 4_582,
        total_bytes_processed: 3 << 30,
        total_duration: 12.345,
        backup_start: "2026-11-01T12:00:00+00:00".into(),
        backup_end: "2026-11-01T12:00:12.345+00:00".into(),
        errors,
        dry_run: snapshot_id.is_none(),
        snapshot_id,
        parent: None,
        pipeline: Default::default(),
        changed_paths: None,
        full_walk: None,
    }
}

#[test]
fn backup_summaries() {
    insta::assert_snapshot!("backup_saved", shown(&backup(&backup_report(Some(hx("9c")), 0))));
    insta::assert_snapshot!("backup_with_unreadable_sources", shown(&backup(&backup_report(Some(hx("9c")), 2))));
    insta::assert_snapshot!("backup_dry_run", shown(&backup(&backup_report(None, 0))));
}

#[test]
fn restore_summaries() {
    let summary = RestoreSummary {
        total_files: 123,
        files_restored: 120,
        files_skipped: 3,
        dirs_restored: 14,
        bytes_restored: 48 << 20,
        files_verified: 120,
        ..Default::default()
    };
    let target = Path::new("/srv/restored");
    insta::assert_snapshot!("restore_verified", shown(&restore(&hx("5e"), target, &summary, true, false)));
    let failed = RestoreSummary { files_skipped: 0, errors: 2, ..summary.clone() };
    insta::assert_snapshot!("restore_with_errors", shown(&restore(&hx("5e"), target, &failed, false, false)));
    // what was replaced and removed is counted; a dry run says what it would do
    let replaced = RestoreSummary { files_overwritten: 7, files_deleted: 2, ..summary };
    insta::assert_snapshot!(
        "restore_overwrote_and_deleted",
        shown(&restore(&hx("5e"), target, &replaced, false, false))
    );
    insta::assert_snapshot!("restore_dry_run", shown(&restore(&hx("5e"), target, &replaced, false, true)));
}

#[test]
fn prune_summaries() {
    let st = PruneStats {
        dry_run: true,
        snapshots: 4,
        trees_walked: 321,
        packs: 40,
        blobs_used: 9_000,
        blobs_unused: 1_000,
        bytes_used: 900 << 20,
        bytes_unused: 100 << 20,
        packs_repack: 2,
        bytes_repack: 30 << 20,
        blobs_repacked: 150,
        packs_marked: 5,
        bytes_marked: 60 << 20,
        packs_deleted: 1,
        bytes_deleted: 10 << 20,
        packs_pending: 3,
        bytes_pending: 25 << 20,
        packs_unmarked: 1,
        bytes_unused_after: 4 << 20,
        deletion_blocked_by: Some("backup by bob@server since 2026-11-01T11:00:00+00:00".into()),
        ..Default::default()
    };
    let opts = PruneOptions {
        max_unused: MaxUnused::Percent(5.0),
        keep_delete: Duration::from_secs(23 * 3600),
        ..Default::default()
    };
    insta::assert_snapshot!("prune_dry_run_marking", shown(&prune(&st, &opts)));
    let instant = PruneStats { dry_run: false, packs_adopted: 2, packs_missing_dropped: 1, ..st };
    insta::assert_snapshot!(
        "prune_instant_delete",
        shown(&prune(&instant, &PruneOptions { instant_delete: true, ..opts }))
    );
}

#[test]
fn quiet_keeps_results_and_problems_and_json_keeps_notes_and_problems() {
    let damaged = CheckReport { errors: vec!["pack 00: damaged".into()], ..Default::default() };
    let lines = [check(&damaged, false).0, backup(&backup_report(Some(hx("9c")), 2)).0].concat();
    let printed = |out: Out| {
        let (mut o, mut e) = (vec![], vec![]);
        out.write(&lines, &mut o, &mut e);
        (String::from_utf8(o).unwrap(), String::from_utf8(e).unwrap())
    };
    // restic's rule: -q silences progress and chatter (backup's summary), never the results
    // asked for (check's verdict)
    let (o, e) = printed(Out { json: false, quiet: true, verbose: 0 });
    assert!(o.starts_with("checked 0 snapshots") && !o.contains("Files:"), "{o}");
    assert!(e.starts_with("error: pack 00: damaged\n") && !e.contains("could not be read"), "{e}");
    let (o, e) = printed(Out { json: true, quiet: false, verbose: 0 });
    assert_eq!(o, "");
    assert!(e.contains("error: pack 00: damaged\n") && e.contains("2 sources could not be read"), "{e}");
}

#[test]
fn version_list_and_migrate_renderings() {
    let v = crate::commands::version::VersionReport {
        version: "0.1.0",
        os: "linux",
        arch: "x86_64",
        format_version: 3,
        read_format_versions: vec![1, 2, 3],
    };
    insta::assert_snapshot!("version", shown(&version(&v)));
    let listed = vec![
        Listed { blob_type: Some("data".into()), id: "ab".repeat(32) },
        Listed { blob_type: Some("tree".into()), id: "cd".repeat(32) },
    ];
    insta::assert_snapshot!("list_blobs", shown(&list(&listed)));
    let ids = vec![Listed { blob_type: None, id: "ef".repeat(32) }];
    insta::assert_snapshot!("list_ids", shown(&list(&ids)));
    let m = crate::maintenance::migrate::MIGRATIONS[0].clone();
    let status = |applies: bool, reason: &str| MigrationStatus {
        name: m.name,
        description: m.description,
        applies,
        reason: reason.into(),
    };
    insta::assert_snapshot!("migrations_apply", shown(&migrations(&[status(true, "")], 2)));
    insta::assert_snapshot!(
        "migrations_done",
        shown(&migrations(&[status(false, "the repository is at format version 3 already")], 3))
    );
    let upgrade = crate::maintenance::migrate::UpgradeReport {
        migration: m.name.into(),
        dry_run: false,
        from_version: 2,
        to_version: 3,
        old_packs: 2,
        old_bytes: 400_000,
        packs_already_upgraded: 0,
        blobs_copied: 7,
        blobs_already_upgraded: 0,
        packs_written: 2,
        index_files_written: 1,
        index_files_removed: 2,
        packs_removed: 2,
        config_written: true,
    };
    let check =
        CheckReport { snapshots: 1, index_files: 1, packs: 2, blobs: 7, trees_checked: 2, ..Default::default() };
    insta::assert_snapshot!(
        "migrate_done",
        shown(&migrate(&MigrateReport { upgrade: upgrade.clone(), check: Some(check) }))
    );
    let dry = crate::maintenance::migrate::UpgradeReport {
        dry_run: true,
        packs_written: 0,
        config_written: false,
        ..upgrade
    };
    insta::assert_snapshot!("migrate_dry_run", shown(&migrate(&MigrateReport { upgrade: dry, check: None })));
}

#[test]
fn repair_packs_find_objects_and_cache_renderings() {
    use crate::commands::cache::{CacheEntry, CacheReport};
    use crate::commands::find_objects::{FindObjectsReport, FoundObject, PackContents};
    use crate::maintenance::repair_packs::{RepairPacksReport, RepairedPack};
    let pack = crate::id::PackId([0x7d; 32]);
    let repaired = RepairPacksReport {
        dry_run: false,
        packs: vec![RepairedPack {
            pack,
            header_problem: String::new(),
            blobs_salvaged: 3,
            blobs_lost: vec![format!("data {}", "ab".repeat(32))],
        }],
        blobs_salvaged: 3,
        blobs_lost: 1,
        packs_written: 1,
        index_files_written: 2,
        index_files_removed: 1,
        packs_removed: 1,
    };
    insta::assert_snapshot!("repair_packs", shown(&repair_packs(&repaired)));
    let found = FindObjectsReport {
        snapshots_searched: 2,
        packs: vec![PackContents { pack: "7d".repeat(32), blobs: vec![format!("data {}", "ab".repeat(32))] }],
        found: vec![
            FoundObject {
                object_type: "blob",
                id: "ab".repeat(32),
                path: "/home/me/report.txt".into(),
                parent_tree: Some(crate::id::TreeId([0x9e; 32])),
                snapshot: hx("5e"),
                time: "2026-12-01T10:00:00Z".into(),
                pack: Some("7d".repeat(32)),
            },
            FoundObject {
                object_type: "tree",
                id: "9e".repeat(32),
                path: "/home/me".into(),
                parent_tree: None,
                snapshot: hx("5e"),
                time: "2026-12-01T10:00:00Z".into(),
                pack: None,
            },
        ],
        not_found: vec!["00ff".into()],
    };
    insta::assert_snapshot!("find_objects", shown(&find_objects(&found, zone())));
    let entry = |id: &str, age_days: u64, old: bool, removed: bool| CacheEntry {
        repo_id: id.repeat(32),
        path: format!("/home/me/.cache/arca/{}", id.repeat(32)),
        last_used: "2026-12-01T00:00:00+00:00".into(),
        age_days,
        old,
        size: Some(1_500_000),
        removed,
    };
    let report = CacheReport {
        root: "/home/me/.cache/arca".into(),
        max_age_days: 30,
        caches: vec![entry("1a", 0, false, false), entry("2b", 1, false, false), entry("3c", 90, true, false)],
        removed: 0,
    };
    insta::assert_snapshot!("cache_list", shown(&cache(&report)));
    let cleaned =
        CacheReport { caches: vec![entry("1a", 0, false, false), entry("3c", 90, true, true)], removed: 1, ..report };
    insta::assert_snapshot!("cache_cleanup", shown(&cache(&cleaned)));
}
