#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
//! The walk of a backup: directories listed ahead by a pool and taken in walk order, and
//! directories whose entries are all their parent tree's nodes kept by id without a tree
//! written. Whatever the pool's size, and whether a directory's tree is reused or written
//! anew, a backup must give exactly the root tree id that a backup without a parent (every
//! tree encoded from scratch, no pool) gives for the same state of the files.

use crate::common::{self, write, Env, PASSWORD};

use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::sync::Arc;

use arca::archiver::{self, BackupOptions, Progress, Source};
use arca::backend::{self, Location};
use arca::id::TreeId;
use arca::repo::Repository;

fn open(env: &Env) -> Arc<Repository> {
    let b = backend::open_raw(&Location::Local(env.repo.clone()), &[]).unwrap();
    Arc::new(Repository::open(b, PASSWORD.as_bytes()).unwrap())
}

/// Back up `src` (no snapshot stored: the engine only) with `list_workers` listers and the
/// parent root tree `parent`; the root tree id, `src`'s own tree id (the root's also holds the
/// nodes of the directories above it, which other tests change meanwhile) and the summary.
fn walk(
    env: &Env,
    src: &Path,
    list_workers: usize,
    parent: Option<TreeId>,
) -> (TreeId, TreeId, arca::format::snapshot::Summary) {
    let opts = BackupOptions { list_workers, parent_tree: parent, uploaders: 2, ..Default::default() };
    let warnings = std::sync::Mutex::new(vec![]);
    let repo = open(env);
    let out =
        archiver::backup(repo.clone(), Source::Paths(vec![src.to_path_buf()]), &opts, &Progress::default(), &|w| {
            warnings.lock().unwrap().push(w)
        })
        .unwrap();
    assert!(warnings.lock().unwrap().is_empty(), "warnings: {:?}", warnings.lock().unwrap());
    let node = repo.find_path(&out.tree, src.to_str().unwrap()).unwrap().unwrap();
    (out.tree, node.subtree.unwrap(), out.summary)
}

/// A tree with depth, width (more sibling directories than the pool holds listings ahead),
/// empty directories, symlinks and a directory of many entries.
fn tree(src: &Path) -> (u64, u64) {
    let (mut files, mut dirs) = (0, 1);
    for i in 0..150 {
        let d = src.join(format!("wide/d{i:03}"));
        write(&d.join("inner/leaf"), format!("leaf {i}").as_bytes());
        write(&d.join("f"), format!("f {i}").as_bytes());
        files += 2;
        dirs += 2;
    }
    dirs += 1; // wide
    for depth in 0..12 {
        let d = src.join("deep").join((0..depth).map(|k| format!("l{k}")).collect::<Vec<_>>().join("/"));
        write(&d.join("here"), format!("depth {depth}").as_bytes());
        files += 1;
    }
    dirs += 12; // deep and l0..l10
    for i in 0..400 {
        write(&src.join(format!("many/{i:04}")), &common::noise(64 + i, i as u64));
        files += 1;
    }
    dirs += 1;
    std::fs::create_dir_all(src.join("empty/also-empty")).unwrap();
    dirs += 2;
    std::os::unix::fs::symlink("../many/0001", src.join("deep/link")).unwrap();
    write(&src.join("big"), &common::noise(300_000, 9));
    files += 1;
    (files, dirs)
}

#[test]
fn an_unchanged_tree_keeps_its_root_tree_id_with_any_number_of_listers() {
    let env = Env::new();
    env.init();
    let src = env.path("src");
    let (files, dirs) = tree(&src);
    let (root, first, _) = walk(&env, &src, 0, None);
    // from scratch again, with a pool: the same trees
    assert_eq!(walk(&env, &src, 3, None).1, first);
    for workers in [0, 1, 2, 8] {
        let (_, id, s) = walk(&env, &src, workers, Some(root));
        assert_eq!(id, first, "{workers} listers gave another tree");
        assert_eq!((s.files_unmodified, s.files_new, s.files_changed), (files, 0, 0), "{workers} listers");
        // every directory below the virtual ones above `src` is the parent's
        assert!(s.dirs_unmodified >= dirs, "{workers} listers: {} of {dirs} directories unmodified", s.dirs_unmodified);
        // nothing below `src` is written (the directories above it may have changed)
        assert_eq!(s.data_blobs, 0, "{workers} listers stored data");
        assert!(s.tree_blobs <= src.ancestors().count() as u64, "{workers} listers wrote trees: {s:?}");
    }
}

/// One change to the tree, named for the failure message.
type Change = Box<dyn Fn(&Path)>;

#[test]
fn each_kind_of_change_gives_the_tree_a_walk_from_scratch_gives() {
    let env = Env::new();
    env.init();
    let src = env.path("src");
    tree(&src);
    let (mut parent, mut before, _) = walk(&env, &src, 2, None);
    let changes: Vec<(&str, Change)> = vec![
        ("a file deep down", Box::new(|s: &Path| write(&s.join("deep/l0/l1/l2/l3/l4/here"), b"changed deep"))),
        ("a new first entry", Box::new(|s: &Path| write(&s.join("many/0000-new"), b"new"))),
        ("the last entry removed", Box::new(|s: &Path| std::fs::remove_file(s.join("many/0399")).unwrap())),
        ("the first entry removed", Box::new(|s: &Path| std::fs::remove_file(s.join("many/0000")).unwrap())),
        (
            "a directory's mode only",
            Box::new(|s: &Path| {
                std::fs::set_permissions(s.join("wide/d075"), std::fs::Permissions::from_mode(0o700)).unwrap()
            }),
        ),
        ("a directory emptied", Box::new(|s: &Path| std::fs::remove_dir_all(s.join("wide/d149/inner")).unwrap())),
        ("an empty directory filled", Box::new(|s: &Path| write(&s.join("empty/also-empty/x"), b"x"))),
        (
            "a symlink retargeted",
            Box::new(|s: &Path| {
                std::fs::remove_file(s.join("deep/link")).unwrap();
                std::os::unix::fs::symlink("../many/0002", s.join("deep/link")).unwrap();
            }),
        ),
        ("a whole subtree removed", Box::new(|s: &Path| std::fs::remove_dir_all(s.join("deep/l0/l1/l2")).unwrap())),
    ];
    for (what, change) in changes {
        change(&src);
        for workers in [0, 2] {
            let (_, with_parent, _) = walk(&env, &src, workers, Some(parent));
            let (_, scratch, _) = walk(&env, &src, 0, None);
            assert_eq!(with_parent, scratch, "{what}, {workers} listers: not the tree a walk from scratch gives");
            assert_ne!(with_parent, before, "{what}: the change was not seen");
        }
        (parent, before, _) = walk(&env, &src, 1, Some(parent));
    }
    env.check();
}

#[test]
fn a_parent_tree_in_a_pack_marked_for_deletion_is_not_reused() {
    // an unchanged directory names its parent tree by id only if the index holds that tree in
    // a live pack, as a write would ask: a tree only in a pack prune marked is written anew
    let env = Env::new();
    env.init();
    let src = env.path("src");
    // over the inline threshold (128 bytes, format 4): stored as blobs, in a data pack
    write(&src.join("a/b/c"), &[b'c'; 200]);
    write(&src.join("a/d"), &[b'd'; 200]);
    let snap = env.backup_json(&[src.to_str().unwrap()])["snapshot_id"].as_str().unwrap().to_string();
    let old = open(&env).load_snapshot(&arca::id::SnapshotId::from_hex(&snap).unwrap()).unwrap().tree;
    env.ok(&["forget", &snap[..8]]);
    let marked = env.prune(&[]);
    assert!(marked["packs_marked"].as_u64().unwrap() >= 2, "{marked}");
    let src_tree = |root: &TreeId| open(&env).find_path(root, src.to_str().unwrap()).unwrap().unwrap().subtree;
    let (_, id, s) = walk(&env, &src, 2, Some(old));
    assert_eq!(Some(id), src_tree(&old), "another tree for the same files");
    assert!(s.tree_blobs >= 3, "trees only in marked packs were named again: {s:?}");
    assert!(s.data_blobs >= 2, "data only in marked packs was named again: {s:?}");
    env.check();
}
