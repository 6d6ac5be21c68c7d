//! Where a repository lives: a local path, or `SERVICE:ROOT` for an OpenDAL service.
//!
//! Only the place is parsed here; credentials and service options are gathered by
//! [`super::services`] from the environment and `-o` options, never from the location.

use std::fmt;
use std::path::PathBuf;

use crate::error::{Error, Result};

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Location {
    Local(PathBuf),
    Memory,
    /// `s3:BUCKET/PREFIX`, or restic's `s3:http(s)://HOST[:PORT]/BUCKET/PREFIX`.
    S3 {
        endpoint: Option<String>,
        bucket: String,
        prefix: String,
    },
    /// `sftp:[USER@]HOST[:PORT]:/PATH` (a path without a leading `/` is relative to the
    /// login directory).
    Sftp {
        user: Option<String>,
        host: String,
        port: Option<u16>,
        path: String,
    },
    /// `azblob:CONTAINER/PREFIX`.
    Azblob {
        container: String,
        prefix: String,
    },
    /// `gcs:BUCKET/PREFIX`.
    Gcs {
        bucket: String,
        prefix: String,
    },
    /// `b2:BUCKET/PREFIX`.
    B2 {
        bucket: String,
        prefix: String,
    },
    /// `webdav:http(s)://HOST[:PORT]/PATH`.
    Webdav {
        endpoint: String,
        path: String,
    },
    /// `opendal:SCHEME`: any OpenDAL service, configured entirely by `-o SCHEME.key=value`.
    Opendal {
        scheme: String,
    },
}

/// The services with their own syntax, for messages.
pub const SERVICES: &str = "a local path, local:PATH, memory: (a test backend for one command), s3:BUCKET/PREFIX, sftp:[USER@]HOST[:PORT]:/PATH, \
     azblob:CONTAINER/PREFIX, gcs:BUCKET/PREFIX, b2:BUCKET/PREFIX, webdav:URL, opendal:SCHEME";

impl Location {
    pub fn parse(s: &str) -> Result<Self> {
        if s.is_empty() {
            return Err(Error::usage("empty repository location"));
        }
        let Some((scheme, rest)) = s.split_once(':') else { return Ok(Location::Local(PathBuf::from(s))) };
        let looks_like_scheme = scheme.len() > 1
            && scheme.chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
            && !scheme.contains('/');
        if !looks_like_scheme {
            // `C:\…`-like or a path with a colon somewhere after a slash
            return Ok(Location::Local(PathBuf::from(s)));
        }
        let bad = |why: &str| {
            Error::usage(format!("repository location {s:?}: {why}")).hint(format!("the forms are: {SERVICES}"))
        };
        match scheme {
            "local" => {
                if rest.is_empty() {
                    return Err(bad("local: needs a path"));
                }
                Ok(Location::Local(PathBuf::from(rest)))
            }
            "memory" => Ok(Location::Memory),
            "s3" => {
                let (endpoint, path) = match rest.split_once("://") {
                    Some((proto @ ("http" | "https"), after)) => {
                        let (host, path) = after.split_once('/').unwrap_or((after, ""));
                        if host.is_empty() {
                            return Err(bad("no host in the endpoint"));
                        }
                        (Some(format!("{proto}://{host}")), path)
                    }
                    Some(_) => return Err(bad("the endpoint must start with http:// or https://")),
                    None => (None, rest),
                };
                let (bucket, prefix) = bucket_and_prefix(path).ok_or_else(|| bad("no bucket name"))?;
                Ok(Location::S3 { endpoint, bucket, prefix })
            }
            "azblob" => {
                let (container, prefix) = bucket_and_prefix(rest).ok_or_else(|| bad("no container name"))?;
                Ok(Location::Azblob { container, prefix })
            }
            "gcs" | "gs" => {
                let (bucket, prefix) = bucket_and_prefix(rest).ok_or_else(|| bad("no bucket name"))?;
                Ok(Location::Gcs { bucket, prefix })
            }
            "b2" => {
                let (bucket, prefix) = bucket_and_prefix(rest).ok_or_else(|| bad("no bucket name"))?;
                Ok(Location::B2 { bucket, prefix })
            }
            "sftp" => parse_sftp(rest).map_err(bad),
            "webdav" | "webdavs" => {
                let url = if scheme == "webdavs" { format!("https:{rest}") } else { rest.to_string() };
                let Some((proto @ ("http" | "https"), after)) = url.split_once("://") else {
                    return Err(bad("webdav: needs an http:// or https:// URL"));
                };
                let (host, path) = after.split_once('/').unwrap_or((after, ""));
                if host.is_empty() {
                    return Err(bad("no host in the URL"));
                }
                Ok(Location::Webdav { endpoint: format!("{proto}://{host}"), path: trim_slashes(path) })
            }
            "opendal" => {
                let scheme = rest.trim();
                if scheme.is_empty() {
                    return Err(bad("opendal: needs a service name, e.g. opendal:gcs"));
                }
                Ok(Location::Opendal { scheme: scheme.to_string() })
            }
            other => Err(Error::usage(format!("repository service {other:?} is not known")).hint(format!(
                "the forms are: {SERVICES}; any other OpenDAL service is opendal:SCHEME with -o options"
            ))),
        }
    }

    /// The OpenDAL scheme that serves this location, which is also the prefix of its
    /// `-o SCHEME.key=value` options.
    pub fn scheme(&self) -> &str {
        match self {
            Location::Local(_) => "fs",
            Location::Memory => "memory",
            Location::S3 { .. } => "s3",
            Location::Sftp { .. } => "sftp",
            Location::Azblob { .. } => "azblob",
            Location::Gcs { .. } => "gcs",
            Location::B2 { .. } => "b2",
            Location::Webdav { .. } => "webdav",
            Location::Opendal { scheme } => scheme,
        }
    }

    /// Everything but a local directory (and memory) is remote: it gets a local cache by
    /// default and its own connection defaults.
    pub fn is_remote(&self) -> bool {
        !matches!(self, Location::Local(_) | Location::Memory)
    }
}

fn trim_slashes(s: &str) -> String {
    s.trim_matches('/').to_string()
}

fn bucket_and_prefix(s: &str) -> Option<(String, String)> {
    let s = s.trim_start_matches('/');
    let (bucket, prefix) = s.split_once('/').unwrap_or((s, ""));
    (!bucket.is_empty()).then(|| (bucket.to_string(), trim_slashes(prefix)))
}

/// `[USER@]HOST[:PORT]:PATH`, with `[v6-address]` hosts.
fn parse_sftp(s: &str) -> std::result::Result<Location, &'static str> {
    let s = s.strip_prefix("//").unwrap_or(s);
    let (user, rest) = match s.split_once('@') {
        Some((u, r)) if !u.is_empty() && !u.contains(':') && !u.contains('/') => (Some(u.to_string()), r),
        _ => (None, s),
    };
    let (host, rest) = if let Some(r) = rest.strip_prefix('[') {
        let (h, r) = r.split_once(']').ok_or("unclosed [ in the host")?;
        (h.to_string(), r.strip_prefix(':').ok_or("sftp: needs HOST:PATH")?)
    } else {
        let (h, r) = rest.split_once(':').ok_or("sftp: needs HOST:PATH, e.g. sftp:me@nas:/srv/arca")?;
        (h.to_string(), r)
    };
    if host.is_empty() {
        return Err("no host");
    }
    let (port, path) = match rest.split_once(':') {
        Some((p, path)) if !p.is_empty() && p.chars().all(|c| c.is_ascii_digit()) => {
            (Some(p.parse::<u16>().map_err(|_| "the port is out of range")?), path)
        }
        _ => (None, rest),
    };
    if path.is_empty() {
        return Err("no path after the host");
    }
    Ok(Location::Sftp { user, host, port, path: path.to_string() })
}

impl fmt::Display for Location {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let joined = |a: &str, b: &str| if b.is_empty() { a.to_string() } else { format!("{a}/{b}") };
        match self {
            Location::Local(p) => write!(f, "{}", p.display()),
            Location::Memory => f.write_str("memory:"),
            Location::S3 { endpoint: Some(e), bucket, prefix } => write!(f, "s3:{e}/{}", joined(bucket, prefix)),
            Location::S3 { endpoint: None, bucket, prefix } => write!(f, "s3:{}", joined(bucket, prefix)),
            Location::Sftp { user, host, port, path } => {
                f.write_str("sftp:")?;
                if let Some(u) = user {
                    write!(f, "{u}@")?;
                }
                if host.contains(':') {
                    write!(f, "[{host}]")?;
                } else {
                    f.write_str(host)?;
                }
                if let Some(p) = port {
                    write!(f, ":{p}")?;
                }
                write!(f, ":{path}")
            }
            Location::Azblob { container, prefix } => write!(f, "azblob:{}", joined(container, prefix)),
            Location::Gcs { bucket, prefix } => write!(f, "gcs:{}", joined(bucket, prefix)),
            Location::B2 { bucket, prefix } => write!(f, "b2:{}", joined(bucket, prefix)),
            Location::Webdav { endpoint, path } => write!(f, "webdav:{}", joined(endpoint, path)),
            Location::Opendal { scheme } => write!(f, "opendal:{scheme}"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(s: &str) -> Location {
        Location::parse(s).unwrap_or_else(|e| panic!("{s}: {e}"))
    }

    #[test]
    fn every_form_parses_and_prints_back() {
        for s in [
            "memory:",
            "s3:bucket",
            "s3:bucket/a/b",
            "s3:http://127.0.0.1:9000/bucket/prefix",
            "sftp:me@nas:/volume1/arca",
            "sftp:nas:2222:/srv/arca",
            "sftp:me@[::1]:22:/srv",
            "sftp:host:relative/dir",
            "azblob:container/prefix",
            "gcs:b/p",
            "b2:b",
            "webdav:https://dav.example.org/remote.php/arca",
            "opendal:oss",
        ] {
            assert_eq!(p(s).to_string(), s);
        }
    }

    #[test]
    fn pieces_are_split_as_documented() {
        assert_eq!(
            p("sftp:me@nas:2222:/volume1/arca"),
            Location::Sftp {
                user: Some("me".into()),
                host: "nas".into(),
                port: Some(2222),
                path: "/volume1/arca".into()
            }
        );
        assert_eq!(
            p("s3:/bucket//deep/prefix/"),
            Location::S3 { endpoint: None, bucket: "bucket".into(), prefix: "deep/prefix".into() }
        );
        assert_eq!(
            p("webdav:http://127.0.0.1:8080"),
            Location::Webdav { endpoint: "http://127.0.0.1:8080".into(), path: String::new() }
        );
        assert_eq!(p("local:/srv/a:b"), Location::Local("/srv/a:b".into()));
        assert_eq!(p("./dir:with:colons"), Location::Local("./dir:with:colons".into()));
        assert_eq!(p("/abs/x:y"), Location::Local("/abs/x:y".into()));
        assert_eq!(p("relative"), Location::Local("relative".into()));
    }

    #[test]
    fn malformed_locations_say_what_is_missing() {
        for (s, want) in [
            ("s3:", "no bucket"),
            ("s3:ftp://x/b", "http"),
            ("sftp:nas", "HOST:PATH"),
            ("sftp:nas:", "no path"),
            ("sftp:nas:99999:/x", "port"),
            ("azblob:", "no container"),
            ("webdav:dav.example.org", "http"),
            ("opendal:", "service name"),
            ("ftp2:x", "not known"),
            ("local:", "needs a path"),
        ] {
            let e = Location::parse(s).unwrap_err();
            assert!(e.message.contains(want), "{s}: {}", e.message);
        }
    }
}
