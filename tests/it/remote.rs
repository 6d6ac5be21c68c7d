#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
//! The command line against real storage servers (`scripts/test-servers`): the round trip a
//! user makes (init, backup, snapshots, ls, restore, check), the cache that keeps `snapshots`
//! and `ls` from downloading data packs, and clear errors for missing or wrong credentials.

use crate::common;

use common::servers::{self, Server};
use common::*;

fn source(env: &Env) -> std::path::PathBuf {
    let src = env.path("src");
    write(&src.join("small.txt"), b"hello remote storage\n");
    write(&src.join("dir/noise.bin"), &noise(3_000_000, 7));
    // larger than a pack part (8 MiB) so packs go up in several parts where the service can
    write(&src.join("dir/big.bin"), &noise(20_000_000, 8));
    src
}

fn round_trip(server: Server) {
    let name = server.name;
    let env = Env::on(server);
    let src = source(&env);
    env.init();
    let s = env.backup_json(&[src.to_str().unwrap()]);
    assert_eq!(s["files_new"], 3, "{name}: {s}");
    let again = env.backup_json(&[src.to_str().unwrap()]);
    // (the temporary home above the source may change: ssh keeps its control socket there)
    assert_eq!(again["files_unmodified"], 3, "{name}: {again}");
    assert_eq!(again["data_blobs"], 0, "{name}: an unchanged backup uploads no data: {again}");
    let snaps: serde_json::Value = serde_json::from_str(&env.ok(&["snapshots", "--json"])).unwrap();
    assert_eq!(snaps.as_array().unwrap().len(), 2, "{name}");
    assert_same_tree(&describe(&src), &env.restored(&format!("latest:{}", src.display()), "out"));
    env.check();

    // With a warm cache, listing snapshots and files reads no pack from storage: `--log-level debug` logs
    // every storage read.
    let o = env.cmd().args(["--log-level", "debug", "ls", "latest"]).output().unwrap();
    assert!(o.status.success(), "{name}: {}", stderr(&o));
    let log = stderr(&o);
    assert!(String::from_utf8_lossy(&o.stdout).contains("big.bin"));
    let pack_reads: Vec<_> = log.lines().filter(|l| l.contains("read data/")).collect();
    assert!(pack_reads.is_empty(), "{name}: ls downloaded packs with a warm cache:\n{}", pack_reads.join("\n"));
    // Without a cache it still works, reading tree blobs by range (and proving that the log
    // above would have shown pack reads).
    let o = env.cmd().args(["--no-cache", "--log-level", "debug", "ls", "latest"]).output().unwrap();
    assert!(o.status.success(), "{name}: {}", stderr(&o));
    assert!(String::from_utf8_lossy(&o.stdout).contains("noise.bin"), "{name}");
    let log = stderr(&o);
    let ranged = log.lines().filter(|l| l.contains("read data/") && l.contains(" bytes at ")).count();
    assert!(ranged > 0, "{name}: no ranged tree reads logged:\n{log}");
    assert!(
        !log.lines().any(|l| l.contains("read data/") && !l.contains(" bytes at ")),
        "{name}: a whole pack was read"
    );

    // the master secret replaced on the service: everything still restores and checks
    let st: serde_json::Value = serde_json::from_str(env.ok(&["key", "rotate", "--json"]).trim()).unwrap();
    assert!(st["packs_resealed"].as_u64().unwrap() > 0, "{name}: {st}");
    assert_same_tree(&describe(&src), &env.restored(&format!("latest:{}", src.display()), "rotated"));
    env.check();
}

#[test]
fn s3_round_trip() {
    if let Some(s) = servers::s3("cli") {
        round_trip(s);
    }
}

#[test]
fn sftp_round_trip() {
    if let Some(s) = servers::sftp("cli") {
        round_trip(s);
    }
}

#[test]
fn azblob_round_trip() {
    if let Some(s) = servers::azblob("cli") {
        round_trip(s);
    }
}

#[test]
fn webdav_round_trip() {
    if let Some(s) = servers::webdav("cli") {
        round_trip(s);
    }
}

#[test]
fn azblob_with_a_wrong_key_names_the_service_and_the_credential() {
    let Some(mut s) = servers::azblob("badkey") else { return };
    let endpoint = std::env::var("ARCA_TEST_AZBLOB_ENDPOINT").unwrap();
    s.env = vec![
        ("AZURE_STORAGE_ACCOUNT".into(), "devstoreaccount1".into()),
        // a valid base64 key, but not the account's
        ("AZURE_STORAGE_KEY".into(), "d3Jvbmcga2V5IHdyb25nIGtleSB3cm9uZyBrZXkgd3Jvbmcga2V5IHdyb25nIGtleQ==".into()),
    ];
    let env = Env::on(s);
    let o = env.cmd().args(["-o", &format!("azblob.endpoint={endpoint}"), "init"]).output().unwrap();
    assert_eq!(code(&o), 1, "{}", stderr(&o));
    let err = stderr(&o);
    assert!(err.contains("azblob"), "{err}");
    assert!(err.contains("AZURE_STORAGE_KEY from the environment"), "{err}");
}

#[test]
fn an_unreachable_sftp_server_is_a_clear_error() {
    let Some(mut s) = servers::sftp("down") else { return };
    // a port nothing listens on
    let port = std::env::var("ARCA_TEST_SFTP_PORT").unwrap();
    s.location = s.location.replace(&format!(":{port}:"), ":1:");
    let env = Env::on(s);
    let o = env.run(&["snapshots"]);
    assert_ne!(code(&o), 0);
    let err = stderr(&o);
    assert!(err.contains("sftp"), "{err}");
}
