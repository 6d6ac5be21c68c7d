#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
//! Storage settings on the command line that need no real server: malformed locations,
//! missing credentials, a server that never answers (the per-attempt timeout), and the
//! upload bandwidth limit.

use crate::common;

use std::time::{Duration, Instant};

use common::servers::Server;
use common::*;

fn on(location: &str, env: &[(&str, &str)]) -> Env {
    Env::on(Server {
        name: "custom",
        location: location.into(),
        env: env.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect(),
        options: vec![],
    })
}

#[test]
fn malformed_locations_are_usage_errors_that_list_the_forms() {
    for loc in ["sftp:nas", "s3:", "webdav:dav.example.org", "nosuch:x"] {
        let env = on(loc, &[]);
        let o = env.run(&["snapshots"]);
        assert_eq!(code(&o), 1, "{loc}: {}", stderr(&o));
        assert!(stderr(&o).contains("s3:BUCKET/PREFIX"), "{loc}: the hint lists the forms: {}", stderr(&o));
    }
}

#[test]
fn s3_without_credentials_says_what_it_tried() {
    // HOME is an empty temporary directory, so there is no ~/.aws either
    let env = on("s3:http://127.0.0.1:9/bucket/x", &[]);
    let o = env.run(&["init"]);
    assert_eq!(code(&o), 1, "{}", stderr(&o));
    let err = stderr(&o);
    assert!(err.contains("s3: no credentials found"), "{err}");
    assert!(err.contains("AWS_ACCESS_KEY_ID") && err.contains("~/.aws/credentials"), "{err}");
    let o = on("s3:http://127.0.0.1:9/bucket/x", &[("AWS_ACCESS_KEY_ID", "k")]).run(&["init"]);
    assert!(stderr(&o).contains("AWS_SECRET_ACCESS_KEY is not"), "{}", stderr(&o));
}

#[test]
fn azure_and_b2_without_credentials_name_their_variables() {
    let o = on("azblob:container/p", &[]).run(&["snapshots"]);
    assert_eq!(code(&o), 1);
    assert!(stderr(&o).contains("azblob: no credentials found") && stderr(&o).contains("AZURE_STORAGE_ACCOUNT"));
    let o = on("b2:bucket/p", &[]).run(&["snapshots"]);
    assert_eq!(code(&o), 1);
    assert!(stderr(&o).contains("b2: no credentials found") && stderr(&o).contains("B2_ACCOUNT_ID"));
    let o = on("b2:bucket/p", &[("B2_ACCOUNT_ID", "i"), ("B2_ACCOUNT_KEY", "k")]).run(&["snapshots"]);
    assert!(stderr(&o).contains("B2_BUCKET_ID"), "{}", stderr(&o));
}

#[test]
fn a_server_that_never_answers_times_out_instead_of_hanging() {
    // accepts connections and never says a word
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    std::thread::spawn(move || {
        let mut held = vec![];
        for c in listener.incoming() {
            held.push(c);
        }
    });
    let env = on(
        &format!("s3:http://127.0.0.1:{port}/bucket/x"),
        &[("AWS_ACCESS_KEY_ID", "k"), ("AWS_SECRET_ACCESS_KEY", "s")],
    );
    let started = Instant::now();
    let o = env.run(&["--storage-timeout", "300ms", "snapshots"]);
    assert_eq!(code(&o), 1, "{}", stderr(&o));
    assert!(started.elapsed() < Duration::from_secs(60), "gave up only after {:?}", started.elapsed());
    let err = stderr(&o).to_lowercase();
    assert!(err.contains("timeout") || err.contains("timed out"), "{err}");
}

#[test]
fn the_upload_limit_holds_a_backup_to_its_rate() {
    let env = Env::new();
    let src = env.path("src");
    write(&src.join("f"), &noise(1_500_000, 1));
    env.init();
    // 1.5 MB of incompressible data at 256 KiB/s needs at least 5.7 s on the wire; a lower
    // bound, so a slow machine cannot make this fail
    let started = Instant::now();
    env.ok(&["--limit-upload", "256", "backup", "-q", src.to_str().unwrap()]);
    assert!(started.elapsed() >= Duration::from_secs(5), "took only {:?}", started.elapsed());
    env.check();
    let o = env.run(&["--limit-upload", "0", "snapshots"]);
    assert_eq!(code(&o), 1);
    let o = env.run(&["--connections", "0", "snapshots"]);
    assert_eq!(code(&o), 1);
}

#[test]
fn any_opendal_service_is_reachable_by_name_with_options() {
    let env = Env::new();
    let root = env.path("od");
    let src = env.path("src");
    write(&src.join("f"), b"through opendal:fs");
    let opt = format!("fs.root={}", root.display());
    let env =
        Env { server: Some(Server { name: "od", location: "opendal:fs".into(), env: vec![], options: vec![] }), ..env };
    env.ok(&["-o", &opt, "init"]);
    env.ok(&["-o", &opt, "backup", "-q", src.to_str().unwrap()]);
    assert!(root.join("config").is_file(), "the options chose the root");
    let out = env.path("out");
    env.ok(&["-o", &opt, "restore", "latest", "--target", out.to_str().unwrap()]);
    assert_same_tree(&describe(&src), &describe(&out.join(src.strip_prefix("/").unwrap())));
    let o = env.run(&["snapshots"]);
    assert_eq!(code(&o), 1, "opendal: without options is refused: {}", stderr(&o));
    assert!(stderr(&o).contains("-o fs.KEY=VALUE"), "{}", stderr(&o));
}

#[test]
fn an_unreachable_sftp_host_says_to_check_ssh() {
    let o = on("sftp:nobody@127.0.0.1:1:/srv/arca", &[]).run(&["snapshots"]);
    assert_eq!(code(&o), 1);
    assert!(stderr(&o).contains("sftp") && stderr(&o).contains("ssh"), "{}", stderr(&o));
}
