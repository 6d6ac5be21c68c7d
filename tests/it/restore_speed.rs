#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
//! Restore at the file system's speed (issue 24, lever 4): the shortcuts it takes keep every
//! file whole. A file is created without a look at its name first and gets its size from its
//! writes (truncated to its size only with `--sparse`, where a hole can end it), and the blobs
//! of one read are opened on every thread.

use crate::common::*;
use std::os::unix::fs::MetadataExt;

/// A file that ends in megabytes of zeros (whole zero chunks at its end): with `--sparse`
/// the zeros become a hole that no write reaches, so the file must still end at its size;
/// without it every byte is written.
#[test]
fn a_file_ending_in_zeros_restores_whole_with_and_without_sparse() {
    let env = Env::new();
    let src = env.path("src");
    let mut data = noise(300_000, 7);
    data.resize(300_000 + 24 * 1024 * 1024, 0);
    write(&src.join("zero-tail"), &data);
    write(&src.join("empty"), b"");
    env.init();
    env.backup_json(&[src.to_str().unwrap()]);
    let sel = format!("latest:{}", src.display());
    for (name, sparse) in [("plain", false), ("sparse", true)] {
        let out = env.path(name);
        let mut args = vec!["restore", &sel, "--target", out.to_str().unwrap(), "--verify"];
        if sparse {
            args.push("--sparse");
        }
        env.ok(&args);
        let restored = out.join("zero-tail");
        assert_eq!(std::fs::metadata(&restored).unwrap().len(), data.len() as u64, "{name}: wrong size");
        assert!(std::fs::read(&restored).unwrap() == data, "{name}: content differs");
        assert_eq!(std::fs::metadata(out.join("empty")).unwrap().len(), 0);
        let allocated = std::fs::metadata(&restored).unwrap().blocks() * 512;
        // the chunk that holds the noise runs on into the zeros (up to 8 MiB); the whole zero
        // chunks after it are holes with --sparse, written without
        if sparse {
            assert!(allocated < 12 * 1024 * 1024, "the zero tail is not a hole: {allocated} bytes allocated");
        } else {
            assert!(allocated >= data.len() as u64, "without --sparse every byte is written: {allocated}");
        }
    }
    env.check();
}

/// Hundreds of small files whose blobs one read fetches, their units opened on several
/// threads or on one: every file whole, with its metadata, and `--verify` agrees.
#[test]
fn small_files_of_one_read_restore_exactly_on_one_thread_and_on_many() {
    let env = Env::new();
    let src = env.path("src");
    for i in 0..600u64 {
        let len = 1 + (i * 37 % 3000) as usize;
        write(&src.join(format!("d{}/f{i:03}", i % 3)), &noise(len, i));
    }
    env.init();
    env.backup_json(&[src.to_str().unwrap()]);
    let sel = format!("latest:{}", src.display());
    for threads in ["1", "4"] {
        let out = env.path(&format!("out-{threads}"));
        let o = env.ok(&[
            "restore",
            &sel,
            "--target",
            out.to_str().unwrap(),
            "--verify",
            "--concurrency",
            threads,
            "--json",
        ]);
        let s = summary(&o);
        assert_eq!(s["files_restored"], 600, "{s}");
        assert_eq!(s["files_verified"], 600, "{s}");
        assert_same_tree(&describe(&src), &describe(&out));
    }
}
