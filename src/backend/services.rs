//! From a [`Location`], the `-o` options and the environment to one OpenDAL service
//! configuration. Credentials come from each service's usual environment variables and
//! files (never only from the command line), and when none are found the error names the
//! service and everything that was tried.

use std::path::PathBuf;

use super::Location;
use crate::error::{Error, Kind, Result};

/// An OpenDAL scheme with its configuration, ready for `Operator::via_iter`.
#[derive(Debug)]
pub struct ServiceConfig {
    pub scheme: String,
    pub config: Vec<(String, String)>,
    /// Parallel requests when `--connections` is not given.
    pub default_connections: usize,
    /// Where the credentials came from, for error messages ("AWS_ACCESS_KEY_ID from the
    /// environment"); empty for services without credentials.
    pub credentials: String,
}

/// Options given with `-o`: `SCHEME.key=value` applies to that service, a bare `key=value`
/// to the repository's service; options for other services are left for other repositories
/// of the same command (e.g. `copy`).
pub fn options_for(scheme: &str, options: &[(String, String)]) -> Vec<(String, String)> {
    options
        .iter()
        .filter_map(|(k, v)| match k.split_once('.') {
            Some((s, key)) if s == scheme => Some((key.to_string(), v.clone())),
            Some(_) => None,
            None => Some((k.clone(), v.clone())),
        })
        .collect()
}

/// The `-o SERVICE.KEY=VALUE` keys arca itself sets or reads, per service, with what they do
/// (`arca options`). Every other key is handed to OpenDAL's configuration of that service
/// unchanged. A test keeps this table in step with [`configure`].
pub const KNOWN_OPTIONS: &[(&str, &[(&str, &str)])] = &[
    (
        "fs",
        &[
            ("root", "the repository directory (from the location)"),
            ("atomic_write_dir", "where objects are written before their rename into place (default ROOT/.arca-tmp)"),
        ],
    ),
    (
        "s3",
        &[
            ("bucket", "the bucket (from the location)"),
            ("root", "the prefix inside the bucket (from the location)"),
            ("endpoint", "the server (default AWS_ENDPOINT_URL_S3, AWS_ENDPOINT_URL, or AWS)"),
            ("region", "the region (default AWS_REGION, AWS_DEFAULT_REGION, or us-east-1)"),
            ("access_key_id", "the access key (default AWS_ACCESS_KEY_ID or the AWS profile)"),
            ("profile", "the AWS profile in ~/.aws/credentials and config (default AWS_PROFILE, or default)"),
            ("allow_anonymous", "true: unsigned requests to a public bucket"),
            ("skip_signature", "true: unsigned requests"),
            ("disable_ec2_metadata", "false: ask the EC2 instance metadata service for credentials (default true)"),
        ],
    ),
    (
        "sftp",
        &[
            ("endpoint", "ssh://USER@HOST:PORT (from the location)"),
            ("root", "the directory on the server (from the location)"),
            ("key", "the private key file (default: ssh's own configuration and agent)"),
        ],
    ),
    (
        "azblob",
        &[
            ("container", "the container (from the location)"),
            ("root", "the prefix inside the container (from the location)"),
            ("account_name", "the storage account (default AZURE_STORAGE_ACCOUNT, AZURE_ACCOUNT_NAME)"),
            ("account_key", "the account key (default AZURE_STORAGE_KEY, AZURE_ACCOUNT_KEY)"),
            ("sas_token", "a shared access signature (default AZURE_STORAGE_SAS_TOKEN, AZURE_ACCOUNT_SAS)"),
            ("endpoint", "the blob endpoint (default https://ACCOUNT.blob.core.windows.net)"),
        ],
    ),
    (
        "gcs",
        &[
            ("bucket", "the bucket (from the location)"),
            ("root", "the prefix inside the bucket (from the location)"),
            ("credential_path", "a service account file (default GOOGLE_APPLICATION_CREDENTIALS)"),
            ("credential", "a service account, base64"),
            ("token", "an OAuth access token"),
        ],
    ),
    (
        "b2",
        &[
            ("bucket", "the bucket (from the location)"),
            ("root", "the prefix inside the bucket (from the location)"),
            ("bucket_id", "the bucket's id (default B2_BUCKET_ID)"),
            ("application_key_id", "the key id (default B2_ACCOUNT_ID, B2_APPLICATION_KEY_ID)"),
            ("application_key", "the key (default B2_ACCOUNT_KEY, B2_APPLICATION_KEY)"),
        ],
    ),
    (
        "webdav",
        &[
            ("endpoint", "the server (from the location)"),
            ("root", "the path on the server (from the location)"),
            ("username", "the user (default ARCA_WEBDAV_USERNAME)"),
            ("password", "the password (default ARCA_WEBDAV_PASSWORD)"),
            ("token", "a bearer token (default ARCA_WEBDAV_TOKEN)"),
        ],
    ),
];

fn env(name: &str) -> Option<String> {
    std::env::var(name).ok().filter(|v| !v.is_empty())
}

fn first_env(names: &[&'static str]) -> Option<(String, &'static str)> {
    names.iter().find_map(|n| env(n).map(|v| (v, *n)))
}

struct Builder {
    config: Vec<(String, String)>,
}

impl Builder {
    fn has(&self, key: &str) -> bool {
        self.config.iter().any(|(k, _)| k == key)
    }
    fn get(&self, key: &str) -> Option<&str> {
        self.config.iter().find(|(k, _)| k == key).map(|(_, v)| v.as_str())
    }
    /// Set unless the user gave it with `-o`.
    fn default(&mut self, key: &str, value: impl Into<String>) {
        if !self.has(key) {
            self.config.push((key.to_string(), value.into()));
        }
    }
}

pub fn configure(location: &Location, options: &[(String, String)]) -> Result<ServiceConfig> {
    let scheme = location.scheme().to_string();
    let mut b = Builder { config: options_for(&scheme, options) };
    let mut credentials = String::new();
    let root = |p: &str| format!("/{}", p.trim_matches('/'));
    let default_connections = match location {
        Location::Local(p) => {
            let abs = std::path::absolute(p).map_err(|e| Error::io(p.display(), e))?;
            // Writes go to a temporary file that is fsynced and then renamed into place,
            // so a crash never leaves a partial object under its final name.
            b.default("root", abs.to_string_lossy());
            b.default("atomic_write_dir", abs.join(".arca-tmp").to_string_lossy());
            4
        }
        Location::Memory => 8,
        Location::S3 { endpoint, bucket, prefix } => {
            b.default("bucket", bucket);
            b.default("root", root(prefix));
            if let Some(e) = endpoint.clone().or_else(|| env("AWS_ENDPOINT_URL_S3")).or_else(|| env("AWS_ENDPOINT_URL"))
            {
                b.default("endpoint", e);
            }
            let region = env("AWS_REGION").or_else(|| env("AWS_DEFAULT_REGION")).unwrap_or_else(|| "us-east-1".into());
            b.default("region", region);
            // The instance metadata service is only asked when the user says so: off EC2 it
            // makes a command without credentials hang instead of failing.
            b.default("disable_ec2_metadata", "true");
            credentials = s3_credentials(&b)?;
            8
        }
        Location::Sftp { user, host, port, path } => {
            let user = user.clone().or_else(|| env("USER")).or_else(|| env("LOGNAME"));
            let mut endpoint = "ssh://".to_string();
            if let Some(u) = &user {
                endpoint.push_str(&format!("{u}@"));
            }
            endpoint.push_str(&if host.contains(':') { format!("[{host}]") } else { host.clone() });
            if let Some(p) = port {
                endpoint.push_str(&format!(":{p}"));
            }
            b.default("endpoint", endpoint);
            b.default("root", path);
            credentials = match b.get("key") {
                Some(k) => format!("the key {k}"),
                None => "ssh's own configuration (~/.ssh/config, ~/.ssh/id_*, the ssh agent)".into(),
            };
            4
        }
        Location::Azblob { container, prefix } => {
            b.default("container", container);
            b.default("root", root(prefix));
            credentials = azure_credentials(&mut b)?;
            8
        }
        Location::Gcs { bucket, prefix } => {
            b.default("bucket", bucket);
            b.default("root", root(prefix));
            credentials = match (b.get("credential_path"), env("GOOGLE_APPLICATION_CREDENTIALS")) {
                (Some(p), _) => format!("the credential file {p}"),
                (None, Some(p)) => {
                    b.default("credential_path", &p);
                    format!("GOOGLE_APPLICATION_CREDENTIALS ({p})")
                }
                (None, None) if b.has("credential") || b.has("token") => "the -o gcs credential".into(),
                (None, None) => gcloud_default_credentials().ok_or_else(|| {
                    no_credentials(
                        "gcs",
                        "GOOGLE_APPLICATION_CREDENTIALS, -o gcs.credential_path, and gcloud's application default \
                         credentials (~/.config/gcloud/application_default_credentials.json)",
                    )
                })?,
            };
            8
        }
        Location::B2 { bucket, prefix } => {
            b.default("bucket", bucket);
            b.default("root", root(prefix));
            let id = first_env(&["B2_ACCOUNT_ID", "B2_APPLICATION_KEY_ID"]);
            let key = first_env(&["B2_ACCOUNT_KEY", "B2_APPLICATION_KEY"]);
            if let Some((v, _)) = &id {
                b.default("application_key_id", v);
            }
            if let Some((v, _)) = &key {
                b.default("application_key", v);
            }
            if let Some(v) = env("B2_BUCKET_ID") {
                b.default("bucket_id", v);
            }
            if !b.has("application_key_id") || !b.has("application_key") {
                return Err(no_credentials(
                    "b2",
                    "B2_ACCOUNT_ID or B2_APPLICATION_KEY_ID, and B2_ACCOUNT_KEY or B2_APPLICATION_KEY",
                ));
            }
            if !b.has("bucket_id") {
                return Err(Error::usage(format!("{location}: B2 needs the bucket's id as well as its name"))
                    .hint("set B2_BUCKET_ID or pass -o b2.bucket_id=…"));
            }
            credentials =
                id.map(|(_, n)| format!("{n} from the environment")).unwrap_or("-o b2.application_key_id".into());
            4
        }
        Location::Webdav { endpoint, path } => {
            b.default("endpoint", endpoint);
            b.default("root", root(path));
            if let Some(u) = env("ARCA_WEBDAV_USERNAME") {
                b.default("username", u);
                credentials = "ARCA_WEBDAV_USERNAME and ARCA_WEBDAV_PASSWORD".into();
            }
            if let Some(p) = env("ARCA_WEBDAV_PASSWORD") {
                b.default("password", p);
            }
            if let Some(t) = env("ARCA_WEBDAV_TOKEN") {
                b.default("token", t);
                credentials = "ARCA_WEBDAV_TOKEN".into();
            }
            4
        }
        Location::Opendal { .. } => {
            if b.config.is_empty() {
                return Err(Error::usage(format!("{location} has no options")).hint(format!(
                    "configure the service with -o {scheme}.KEY=VALUE (see OpenDAL's documentation of {scheme})"
                )));
            }
            credentials = format!("the -o {scheme}.… options and {scheme}'s own environment variables");
            4
        }
    };
    Ok(ServiceConfig { scheme, config: b.config, default_connections, credentials })
}

fn no_credentials(service: &str, tried: &str) -> Error {
    Error::new(Kind::Backend, format!("{service}: no credentials found; looked at {tried}"))
        .hint("set one of them (arca never takes a secret from the command line alone)")
}

fn home() -> Option<PathBuf> {
    env("HOME").map(PathBuf::from)
}

/// Where the AWS SDKs look: static keys in the environment, a shared credentials or config
/// file with a profile, a web identity token, container credentials, and (only when asked
/// for) the instance metadata service. Returns where they were found.
fn s3_credentials(b: &Builder) -> Result<String> {
    if b.get("allow_anonymous") == Some("true") || b.get("skip_signature") == Some("true") {
        return Ok("no credentials (anonymous access)".into());
    }
    if b.has("access_key_id") {
        return Ok("-o s3.access_key_id".into());
    }
    if env("AWS_ACCESS_KEY_ID").is_some() {
        if env("AWS_SECRET_ACCESS_KEY").is_none() {
            return Err(Error::new(Kind::Backend, "s3: AWS_ACCESS_KEY_ID is set but AWS_SECRET_ACCESS_KEY is not")
                .hint("set both, or neither to use a profile"));
        }
        return Ok("AWS_ACCESS_KEY_ID from the environment".into());
    }
    let profile = b.get("profile").map(str::to_string).or_else(|| env("AWS_PROFILE")).unwrap_or("default".into());
    let files = [
        env("AWS_SHARED_CREDENTIALS_FILE").map(PathBuf::from).or_else(|| home().map(|h| h.join(".aws/credentials"))),
        env("AWS_CONFIG_FILE").map(PathBuf::from).or_else(|| home().map(|h| h.join(".aws/config"))),
    ];
    for f in files.into_iter().flatten() {
        let Ok(text) = std::fs::read_to_string(&f) else { continue };
        let wanted = [format!("[{profile}]"), format!("[profile {profile}]")];
        if text.lines().any(|l| wanted.iter().any(|w| l.trim() == w)) {
            return Ok(format!("profile {profile} in {}", f.display()));
        }
    }
    if env("AWS_WEB_IDENTITY_TOKEN_FILE").is_some() {
        return Ok("AWS_WEB_IDENTITY_TOKEN_FILE".into());
    }
    if env("AWS_CONTAINER_CREDENTIALS_RELATIVE_URI").is_some() || env("AWS_CONTAINER_CREDENTIALS_FULL_URI").is_some() {
        return Ok("the container credentials endpoint".into());
    }
    if b.get("disable_ec2_metadata") == Some("false") {
        return Ok("the EC2 instance metadata service".into());
    }
    Err(no_credentials(
        "s3",
        &format!(
            "AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY, profile {profile:?} (AWS_PROFILE) in ~/.aws/credentials and \
             ~/.aws/config, AWS_WEB_IDENTITY_TOKEN_FILE and container credentials; on EC2 pass \
             -o s3.disable_ec2_metadata=false, for a public bucket -o s3.allow_anonymous=true"
        ),
    ))
}

/// Azure's names (`AZURE_STORAGE_ACCOUNT`, `AZURE_STORAGE_KEY`, `AZURE_STORAGE_SAS_TOKEN`,
/// `AZURE_STORAGE_CONNECTION_STRING`) and restic's (`AZURE_ACCOUNT_NAME`, `AZURE_ACCOUNT_KEY`,
/// `AZURE_ACCOUNT_SAS`, `AZURE_ENDPOINT_SUFFIX`).
fn azure_credentials(b: &mut Builder) -> Result<String> {
    let mut source = String::new();
    if let Some(conn) = env("AZURE_STORAGE_CONNECTION_STRING") {
        for part in conn.split(';') {
            let Some((k, v)) = part.split_once('=') else { continue };
            match k.trim() {
                "AccountName" => b.default("account_name", v),
                "AccountKey" => b.default("account_key", v),
                "SharedAccessSignature" => b.default("sas_token", v),
                "BlobEndpoint" => b.default("endpoint", v),
                "UseDevelopmentStorage" if v.eq_ignore_ascii_case("true") => {
                    b.default("account_name", "devstoreaccount1");
                    b.default("endpoint", "http://127.0.0.1:10000/devstoreaccount1");
                }
                _ => {}
            }
        }
        source = "AZURE_STORAGE_CONNECTION_STRING".into();
    }
    if let Some((v, _)) = first_env(&["AZURE_STORAGE_ACCOUNT", "AZURE_STORAGE_ACCOUNT_NAME", "AZURE_ACCOUNT_NAME"]) {
        b.default("account_name", v);
    }
    if let Some((v, n)) = first_env(&["AZURE_STORAGE_KEY", "AZURE_STORAGE_ACCOUNT_KEY", "AZURE_ACCOUNT_KEY"]) {
        b.default("account_key", v);
        if source.is_empty() {
            source = format!("{n} from the environment");
        }
    }
    if let Some((v, n)) = first_env(&["AZURE_STORAGE_SAS_TOKEN", "AZURE_ACCOUNT_SAS"]) {
        b.default("sas_token", v.trim_start_matches('?'));
        if source.is_empty() {
            source = format!("{n} from the environment");
        }
    }
    let Some(account) = b.get("account_name").map(str::to_string) else {
        return Err(no_credentials(
            "azblob",
            "AZURE_STORAGE_ACCOUNT (or AZURE_ACCOUNT_NAME), AZURE_STORAGE_CONNECTION_STRING and -o azblob.account_name",
        ));
    };
    if !b.has("endpoint") {
        let suffix = env("AZURE_ENDPOINT_SUFFIX").unwrap_or("core.windows.net".into());
        b.default("endpoint", format!("https://{account}.blob.{suffix}"));
    }
    if b.has("account_key") || b.has("sas_token") {
        if source.is_empty() {
            source = "-o azblob options".into();
        }
        return Ok(source);
    }
    if env("AZURE_CLIENT_ID").is_some() || env("AZURE_FEDERATED_TOKEN_FILE").is_some() {
        return Ok("Azure AD (AZURE_CLIENT_ID / workload identity)".into());
    }
    Err(no_credentials(
        "azblob",
        &format!(
            "a key or SAS token for account {account:?}: AZURE_STORAGE_KEY (or AZURE_ACCOUNT_KEY), \
             AZURE_STORAGE_SAS_TOKEN (or AZURE_ACCOUNT_SAS), AZURE_STORAGE_CONNECTION_STRING, and Azure AD \
             (AZURE_CLIENT_ID, AZURE_FEDERATED_TOKEN_FILE)"
        ),
    ))
}

fn gcloud_default_credentials() -> Option<String> {
    let base = env("CLOUDSDK_CONFIG").map(PathBuf::from).or_else(|| home().map(|h| h.join(".config/gcloud")))?;
    let f = base.join("application_default_credentials.json");
    f.is_file().then(|| format!("gcloud's application default credentials ({})", f.display()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn opts(v: &[(&str, &str)]) -> Vec<(String, String)> {
        v.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
    }

    /// Every key `configure` sets or reads (`b.default("…")`, `b.get("…")`, `b.has("…")`) is
    /// in [`KNOWN_OPTIONS`], so `arca options` does not leave one out.
    #[test]
    fn every_key_configure_uses_is_listed_for_arca_options() {
        let src = include_str!("services.rs");
        let src = &src[src.find("pub fn configure(").unwrap()..src.find("#[cfg(test)]").unwrap()];
        let listed: Vec<&str> = KNOWN_OPTIONS.iter().flat_map(|(_, keys)| keys.iter().map(|(k, _)| *k)).collect();
        let mut found = 0;
        for call in ["default(\"", "get(\"", "has(\""] {
            for (i, _) in src.match_indices(call) {
                let rest = &src[i + call.len()..];
                let key = &rest[..rest.find('"').unwrap()];
                assert!(
                    listed.contains(&key),
                    "configure uses -o key {key:?}, which KNOWN_OPTIONS (arca options) lacks"
                );
                found += 1;
            }
        }
        assert!(found > 20, "found only {found} keys: did the source change shape?");
    }

    #[test]
    fn options_apply_to_their_own_service_only() {
        let o = opts(&[("s3.region", "eu"), ("azblob.account_name", "x"), ("endpoint", "http://h")]);
        assert_eq!(options_for("s3", &o), opts(&[("region", "eu"), ("endpoint", "http://h")]));
    }

    #[test]
    fn options_win_over_what_the_location_and_environment_give() {
        let loc = Location::parse("s3:http://127.0.0.1:9/b/p").unwrap();
        let c =
            configure(&loc, &opts(&[("s3.access_key_id", "k"), ("s3.root", "/other"), ("s3.region", "x")])).unwrap();
        let get = |k: &str| c.config.iter().find(|(n, _)| n == k).map(|(_, v)| v.as_str());
        assert_eq!(get("root"), Some("/other"));
        assert_eq!(get("bucket"), Some("b"));
        assert_eq!(get("endpoint"), Some("http://127.0.0.1:9"));
        assert_eq!(get("region"), Some("x"));
        assert_eq!(c.credentials, "-o s3.access_key_id");
    }

    #[test]
    fn sftp_endpoint_carries_user_and_port() {
        let loc = Location::parse("sftp:me@[::1]:2222:/srv/arca").unwrap();
        let c = configure(&loc, &[]).unwrap();
        assert!(c.config.contains(&("endpoint".into(), "ssh://me@[::1]:2222".into())));
        assert!(c.config.contains(&("root".into(), "/srv/arca".into())));
    }

    #[test]
    fn an_opendal_service_without_options_is_a_usage_error() {
        let e = configure(&Location::parse("opendal:oss").unwrap(), &[]).unwrap_err();
        assert_eq!(e.kind, Kind::Usage);
    }
}
