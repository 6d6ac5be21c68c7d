//! `arca serve`'s long work, through the real binary: directories as tar and zip archives
//! (streamed, equal byte for byte and mode for mode to the source once extracted by GNU tar
//! and unzip).

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use crate::common::server::*;
use crate::common::{assert_same_tree, describe, noise, write, Env};

/// A repository with one snapshot of `src/`: files of several sizes and modes (one of
/// several blobs), a subdirectory, an empty directory and a symlink.
fn repo_with_tree() -> (Env, PathBuf) {
    let env = Env::new();
    env.init();
    let src = env.path("src");
    write(&src.join("big.bin"), &noise(3 << 20, 7));
    write(&src.join("sub/script.sh"), b"#!/bin/sh\necho hi\n");
    std::fs::set_permissions(src.join("sub/script.sh"), std::fs::Permissions::from_mode(0o750)).unwrap();
    write(&src.join("sub/private"), &noise(1000, 3));
    std::fs::set_permissions(src.join("sub/private"), std::fs::Permissions::from_mode(0o600)).unwrap();
    for i in 0..10 {
        write(&src.join(format!("many/f{i:02}")), &noise(100 + i * 1000, i as u64));
    }
    std::fs::create_dir_all(src.join("empty")).unwrap();
    std::os::unix::fs::symlink("sub/script.sh", src.join("link")).unwrap();
    env.backup_json(&[src.to_str().unwrap()]);
    (env, src)
}

fn run(cmd: &mut std::process::Command) {
    let o = cmd.output().unwrap();
    assert!(o.status.success(), "{cmd:?}: {}", String::from_utf8_lossy(&o.stderr));
}

/// `dir` inside `root` as an archive entry would name it: without the leading `/`.
fn inside(root: &Path, dir: &Path) -> PathBuf {
    root.join(dir.strip_prefix("/").unwrap())
}

#[test]
fn a_directory_streams_as_tar_and_zip_equal_to_the_source() {
    let (env, src) = repo_with_tree();
    let s = start(&env, &[]);
    let auth = bearer(&s);
    let url = |path: &Path, format: &str| {
        format!("{}/api/snapshots/latest/archive?path={}&format={format}", s.base, enc(&path.display().to_string()))
    };

    // tar (the default format): GNU tar extracts every byte, mode, owner and time of the source
    let tar = get(&url(&src, "tar").replace("&format=tar", ""), &[("Authorization", &auth)]);
    assert_eq!(tar.status, 200, "{}", String::from_utf8_lossy(&tar.body));
    assert_eq!(tar.header("content-type"), "application/x-tar");
    assert_eq!(tar.header("content-disposition"), "attachment; filename*=UTF-8''src.tar");
    assert!(tar.header("content-length").is_empty(), "streamed: no length known in advance");
    let out = env.path("from-tar");
    std::fs::create_dir_all(&out).unwrap();
    std::fs::write(env.path("a.tar"), &tar.body).unwrap();
    run(std::process::Command::new("tar").arg("-xpf").arg(env.path("a.tar")).arg("-C").arg(&out));
    assert_same_tree(&describe(&src), &describe(&inside(&out, &src)));

    // zip: unzip gives the same bytes and permissions (zip keeps no owners, times to 2 s)
    let zip = get(&url(&src.join("sub"), "zip"), &[("Authorization", &auth)]);
    assert_eq!(zip.status, 200, "{}", String::from_utf8_lossy(&zip.body));
    assert_eq!(zip.header("content-type"), "application/zip");
    assert_eq!(zip.header("content-disposition"), "attachment; filename*=UTF-8''sub.zip");
    let out = env.path("from-zip");
    std::fs::write(env.path("a.zip"), &zip.body).unwrap();
    run(std::process::Command::new("unzip").arg("-q").arg(env.path("a.zip")).arg("-d").arg(&out));
    let (want, got) = (describe(&src.join("sub")), describe(&inside(&out, &src.join("sub"))));
    assert_eq!(want.keys().collect::<Vec<_>>(), got.keys().collect::<Vec<_>>());
    for (p, w) in &want {
        let g = &got[p];
        assert_eq!((w.kind, w.mode, w.content), (g.kind, g.mode, g.content), "{}", p.display());
    }

    // the whole snapshot when no path is given; its entries are named by their full path
    let whole = get(&format!("{}/api/snapshots/latest/archive", s.base), &[("Authorization", &auth)]);
    assert_eq!(whole.status, 200);
    assert!(whole.header("content-disposition").contains("snapshot-"), "{}", whole.header("content-disposition"));
    let big = noise(3 << 20, 7);
    assert!(
        whole.body.windows(big.len().min(4096)).any(|w| w == &big[..4096]),
        "the big file is in the root's archive"
    );

    // what is not a directory, does not exist or is not a format: errors before any byte
    let file = get(&url(&src.join("big.bin"), "tar"), &[("Authorization", &auth)]);
    assert_eq!(file.status, 400);
    assert_eq!(file.json()["error"]["kind"], "usage");
    assert!(file.json()["error"]["hint"].as_str().unwrap().contains("/file?path="));
    let missing = get(&url(&src.join("nothing"), "tar"), &[("Authorization", &auth)]);
    assert_eq!(missing.status, 404);
    let format = get(&url(&src, "rar"), &[("Authorization", &auth)]);
    assert_eq!(format.status, 400);
    assert!(format.json()["error"]["message"].as_str().unwrap().contains("rar"));
    let up = get(&format!("{}/api/snapshots/latest/archive?path=/..", s.base), &[("Authorization", &auth)]);
    assert_eq!(up.status, 400, "no way out of the snapshot's tree");
}
