//! The real storage servers started by `scripts/test-servers start`, as test targets.
//!
//! The script writes `target/test-servers/env`; `cargo xtask ci` exports it before running
//! the tests, and a developer can `source` it. When a server's variables are missing, its
//! tests are skipped with a note, unless `ARCA_TEST_REQUIRE_SERVERS=1` (set by CI), which
//! turns a missing server into a failure.

use std::sync::atomic::{AtomicU64, Ordering};

/// One place to put repositories: a location prefix, the environment the CLI needs for its
/// credentials, and the same settings as `-o` options for in-process use.
#[derive(Clone, Debug)]
pub struct Server {
    pub name: &'static str,
    /// Location of a fresh, unique repository on this server.
    pub location: String,
    /// Environment for the `arca` binary (credentials, as a user would set them).
    pub env: Vec<(String, String)>,
    /// The same settings as service options, for opening the backend in-process.
    pub options: Vec<(String, String)>,
}

fn var(name: &str) -> Option<String> {
    std::env::var(name).ok().filter(|v| !v.is_empty())
}

fn required() -> bool {
    var("ARCA_TEST_REQUIRE_SERVERS").as_deref() == Some("1")
}

/// A name no other test in this run (or an earlier run) uses.
pub fn unique(tag: &str) -> String {
    static N: AtomicU64 = AtomicU64::new(0);
    let nanos = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_nanos();
    format!("{tag}-{}-{nanos}-{}", std::process::id(), N.fetch_add(1, Ordering::SeqCst))
}

fn missing(name: &str, vars: &str) -> Option<Server> {
    let msg = format!(
        "{name} server not configured ({vars} unset): run `scripts/test-servers start` and source its env file"
    );
    assert!(!required(), "{msg}");
    eprintln!("SKIPPED: {msg}");
    None
}

fn kv(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
    pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
}

pub fn s3(tag: &str) -> Option<Server> {
    let (Some(endpoint), Some(bucket), Some(key), Some(secret)) = (
        var("ARCA_TEST_S3_ENDPOINT"),
        var("ARCA_TEST_S3_BUCKET"),
        var("ARCA_TEST_S3_ACCESS_KEY"),
        var("ARCA_TEST_S3_SECRET_KEY"),
    ) else {
        return missing("S3", "ARCA_TEST_S3_*");
    };
    let region = var("ARCA_TEST_S3_REGION").unwrap_or("us-east-1".into());
    let prefix = unique(tag);
    Some(Server {
        name: "s3",
        location: format!("s3:{bucket}/{prefix}"),
        env: kv(&[
            ("AWS_ACCESS_KEY_ID", &key),
            ("AWS_SECRET_ACCESS_KEY", &secret),
            ("AWS_ENDPOINT_URL", &endpoint),
            ("AWS_REGION", &region),
        ]),
        options: kv(&[
            ("s3.access_key_id", &key),
            ("s3.secret_access_key", &secret),
            ("s3.endpoint", &endpoint),
            ("s3.region", &region),
        ]),
    })
}

pub fn sftp(tag: &str) -> Option<Server> {
    let (Some(host), Some(port), Some(user), Some(root), Some(key), Some(bin)) = (
        var("ARCA_TEST_SFTP_HOST"),
        var("ARCA_TEST_SFTP_PORT"),
        var("ARCA_TEST_SFTP_USER"),
        var("ARCA_TEST_SFTP_ROOT"),
        var("ARCA_TEST_SFTP_KEY"),
        var("ARCA_TEST_SFTP_BIN"),
    ) else {
        return missing("SFTP", "ARCA_TEST_SFTP_*");
    };
    // OpenDAL runs the `ssh` found in PATH: the script's wrapper pins known_hosts and the key.
    let path = var("PATH").unwrap_or_default();
    assert!(
        path.split(':').next() == Some(bin.as_str()),
        "PATH must start with {bin} (the test ssh wrapper); the env file of scripts/test-servers sets it"
    );
    let dir = format!("{}/{}", root.trim_end_matches('/'), unique(tag));
    Some(Server {
        name: "sftp",
        location: format!("sftp:{user}@{host}:{port}:{dir}"),
        env: kv(&[("PATH", &path)]),
        options: kv(&[("sftp.key", &key)]),
    })
}

pub fn azblob(tag: &str) -> Option<Server> {
    let (Some(endpoint), Some(account), Some(key), Some(container)) = (
        var("ARCA_TEST_AZBLOB_ENDPOINT"),
        var("ARCA_TEST_AZBLOB_ACCOUNT"),
        var("ARCA_TEST_AZBLOB_KEY"),
        var("ARCA_TEST_AZBLOB_CONTAINER"),
    ) else {
        return missing("Azure Blob (Azurite)", "ARCA_TEST_AZBLOB_*");
    };
    let conn = format!("DefaultEndpointsProtocol=http;AccountName={account};AccountKey={key};BlobEndpoint={endpoint};");
    Some(Server {
        name: "azblob",
        location: format!("azblob:{container}/{}", unique(tag)),
        env: kv(&[("AZURE_STORAGE_CONNECTION_STRING", &conn)]),
        options: kv(&[("azblob.account_name", &account), ("azblob.account_key", &key), ("azblob.endpoint", &endpoint)]),
    })
}

pub fn webdav(tag: &str) -> Option<Server> {
    let Some(endpoint) = var("ARCA_TEST_WEBDAV_ENDPOINT") else {
        return missing("WebDAV", "ARCA_TEST_WEBDAV_ENDPOINT");
    };
    let mut env = vec![];
    let mut options = vec![];
    if let (Some(u), Some(p)) = (var("ARCA_TEST_WEBDAV_USER"), var("ARCA_TEST_WEBDAV_PASSWORD")) {
        env = kv(&[("ARCA_WEBDAV_USERNAME", &u), ("ARCA_WEBDAV_PASSWORD", &p)]);
        options = kv(&[("webdav.username", &u), ("webdav.password", &p)]);
    }
    Some(Server {
        name: "webdav",
        location: format!("webdav:{}/{}", endpoint.trim_end_matches('/'), unique(tag)),
        env,
        options,
    })
}

/// Every remote server that is configured (each missing one is reported or fails).
pub fn remote(tag: &str) -> Vec<Server> {
    [s3(tag), sftp(tag), azblob(tag), webdav(tag)].into_iter().flatten().collect()
}
