//! Profiles: TOML files of settings selected with `-P/--profile NAME` (repeatable, merged in
//! order, later wins), looked up as `$XDG_CONFIG_HOME/arca/NAME.toml` (default
//! `~/.config/arca/`), then `/etc/arca/NAME.toml`; a NAME with a `/` is a path.
//!
//! ```toml
//! [repository]
//! repo = "s3:backups/laptop"
//! password-command = "pass show arca"
//! options = { "s3.region" = "eu-west-1" }
//!
//! [backup]
//! sources = ["~/work", "~/notes"]
//! exclude = ["*.o", "target"]
//! tags = ["daily"]
//!
//! [forget]
//! keep-daily = 7
//! keep-weekly = 5
//! prune = true
//!
//! [schedule.backup]             # see profile_schedule.rs
//! on-calendar = "*:0/30"
//! ```
//!
//! Strings may use `${VAR}` (an unset variable is an error naming the file and key) and a
//! leading `~/`. A value given on the command line (or by an `ARCA_*` variable) wins over the
//! profile's. Unknown sections and keys are errors, so a typo never silently does nothing.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::Deserialize;

use crate::error::{Error, Result};

#[derive(Debug, Default, Deserialize, Clone)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct Profile {
    #[serde(default)]
    pub repository: RepositorySection,
    #[serde(default)]
    pub backup: BackupSection,
    #[serde(default)]
    pub forget: ForgetSection,
    #[serde(default)]
    pub prune: PruneSection,
    #[serde(default)]
    pub check: CheckSection,
    #[serde(default)]
    pub serve: ServeSection,
    #[serde(default)]
    pub watch: WatchSection,
    /// Hooks for every command that runs hooks (backup, forget, prune, check).
    #[serde(default)]
    pub hooks: Hooks,
    /// `[schedule.<job>]`: when `arca schedule install` and `arca daemon` run each job.
    #[serde(default)]
    pub schedule: super::profile_schedule::ScheduleSections,
    #[serde(default)]
    pub metrics: MetricsSection,
    /// Notifications after jobs and about stale sources (profile_notify.rs).
    #[serde(default)]
    pub notify: super::profile_notify::NotifySection,
}

/// `[metrics]`: where the jobs' metrics go after each run (`--metrics-file` wins).
#[derive(Debug, Default, Deserialize, Clone)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct MetricsSection {
    /// A `.prom` file for node_exporter's textfile collector.
    pub file: Option<PathBuf>,
}

#[derive(Debug, Default, Deserialize, Clone)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct RepositorySection {
    pub repo: Option<String>,
    #[serde(default)]
    pub options: BTreeMap<String, String>,
    pub password_file: Option<PathBuf>,
    pub password_command: Option<String>,
    /// A raw key file (`--key-file`).
    pub key_file: Option<PathBuf>,
    /// `false`: no key cache (`--no-key-cache`).
    pub key_cache: Option<bool>,
    /// `--key-cache-timeout`.
    pub key_cache_timeout: Option<String>,
    pub cache_dir: Option<PathBuf>,
    pub no_cache: Option<bool>,
    pub connections: Option<usize>,
    pub limit_upload: Option<u64>,
    pub limit_download: Option<u64>,
    pub retry_lock: Option<String>,
    pub pack_size: Option<String>,
}

/// `[serve]`: settings of `arca serve` that have no flag.
#[derive(Debug, Default, Deserialize, Clone)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct ServeSection {
    /// The dashboard marks a source stale when its newest snapshot is older (e.g. "26h", "8d").
    pub stale_after: Option<String>,
    /// Directories restores from the web may write into (`--restore-root` adds to them).
    pub restore_roots: Option<Vec<PathBuf>>,
}

/// `[watch]`: `arca watch` (and the daemon, with `enabled`): when changes are backed up.
#[derive(Debug, Default, Deserialize, Clone)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct WatchSection {
    /// `arca daemon` keeps an `arca -P <profile> watch` running for this profile.
    pub enabled: Option<bool>,
    /// Quiet time after the last change (default "30s").
    pub debounce: Option<String>,
    /// Longest wait after the first unsaved change (default "10m").
    pub max_delay: Option<String>,
    /// Least time between two backups (default "1m").
    pub min_interval: Option<String>,
    /// What is watched (default: `[backup] sources`).
    pub paths: Option<Vec<PathBuf>>,
    /// "auto" (default), "inotify" or "fanotify".
    pub backend: Option<String>,
}

/// A command's section: its own keys plus the hook keys (`run-before`, `run-after`,
/// `run-failed`, `run-finally`, `hook-timeout`). Spelled out by a macro because serde cannot
/// both flatten and reject unknown keys.
macro_rules! section {
    ($(#[$m:meta])* $name:ident { $($(#[$fm:meta])* $f:ident : $t:ty,)* }) => {
        $(#[$m])*
        #[derive(Debug, Default, Deserialize, Clone)]
        #[serde(deny_unknown_fields, rename_all = "kebab-case")]
        pub struct $name {
            $($(#[$fm])* pub $f: $t,)*
            #[serde(default)]
            pub run_before: Vec<String>,
            #[serde(default)]
            pub run_after: Vec<String>,
            #[serde(default)]
            pub run_failed: Vec<String>,
            #[serde(default)]
            pub run_finally: Vec<String>,
            pub hook_timeout: Option<String>,
        }

        impl $name {
            pub fn hooks(&self) -> Hooks {
                Hooks {
                    run_before: self.run_before.clone(),
                    run_after: self.run_after.clone(),
                    run_failed: self.run_failed.clone(),
                    run_finally: self.run_finally.clone(),
                    hook_timeout: self.hook_timeout.clone(),
                }
            }
        }
    };
}

section!(BackupSection {
    sources: Option<Vec<PathBuf>>,
    exclude: Option<Vec<String>>,
    iexclude: Option<Vec<String>>,
    exclude_file: Option<Vec<PathBuf>>,
    iexclude_file: Option<Vec<PathBuf>>,
    exclude_caches: Option<bool>,
    exclude_if_present: Option<Vec<String>>,
    exclude_larger_than: Option<String>,
    one_file_system: Option<bool>,
    files_from: Option<Vec<PathBuf>>,
    files_from_verbatim: Option<Vec<PathBuf>>,
    files_from_raw: Option<Vec<PathBuf>>,
    skip_if_unchanged: Option<bool>,
    tags: Option<Vec<String>>,
    host: Option<String>,
    compression: Option<String>,
    read_concurrency: Option<usize>,
    with_atime: Option<bool>,
    ignore_inode: Option<bool>,
    ignore_ctime: Option<bool>,
});

section!(ForgetSection {
    keep_last: Option<Keep>,
    keep_hourly: Option<Keep>,
    keep_daily: Option<Keep>,
    keep_weekly: Option<Keep>,
    keep_monthly: Option<Keep>,
    keep_yearly: Option<Keep>,
    keep_within: Option<String>,
    keep_within_hourly: Option<String>,
    keep_within_daily: Option<String>,
    keep_within_weekly: Option<String>,
    keep_within_monthly: Option<String>,
    keep_within_yearly: Option<String>,
    keep_tag: Option<Vec<String>>,
    group_by: Option<String>,
    host: Option<Vec<String>>,
    tag: Option<Vec<String>>,
    path: Option<Vec<String>>,
    prune: Option<bool>,
    max_unused: Option<String>,
    max_repack_size: Option<String>,
    repack_small: Option<bool>,
    repack_uncompressed: Option<bool>,
    keep_delete: Option<String>,
});

/// `keep-daily = 7` or `keep-daily = "unlimited"`.
#[derive(Debug, Deserialize, Clone)]
#[serde(untagged)]
pub enum Keep {
    N(u64),
    Text(String),
}

impl Keep {
    pub fn to_arg(&self) -> String {
        match self {
            Keep::N(n) => n.to_string(),
            Keep::Text(s) => s.clone(),
        }
    }
}

section!(PruneSection {
    max_unused: Option<String>,
    max_repack_size: Option<String>,
    repack_small: Option<bool>,
    repack_uncompressed: Option<bool>,
    keep_delete: Option<String>,
});

section!(CheckSection {
    read_data: Option<bool>,
    read_data_subset: Option<String>,
});

/// Shell commands run around a command (see `hooks.rs`).
#[derive(Debug, Default, Deserialize, Clone)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct Hooks {
    #[serde(default)]
    pub run_before: Vec<String>,
    #[serde(default)]
    pub run_after: Vec<String>,
    #[serde(default)]
    pub run_failed: Vec<String>,
    #[serde(default)]
    pub run_finally: Vec<String>,
    /// How long each hook may run (default 10m).
    pub hook_timeout: Option<String>,
}

impl Hooks {
    pub fn is_empty(&self) -> bool {
        self.run_before.is_empty()
            && self.run_after.is_empty()
            && self.run_failed.is_empty()
            && self.run_finally.is_empty()
    }

    /// Global hooks first, then the command's.
    pub fn then(&self, more: &Hooks) -> Hooks {
        let cat = |a: &[String], b: &[String]| a.iter().chain(b).cloned().collect();
        Hooks {
            run_before: cat(&self.run_before, &more.run_before),
            run_after: cat(&self.run_after, &more.run_after),
            run_failed: cat(&self.run_failed, &more.run_failed),
            run_finally: cat(&self.run_finally, &more.run_finally),
            hook_timeout: more.hook_timeout.clone().or_else(|| self.hook_timeout.clone()),
        }
    }
}

/// The profile files `names` resolve to, parsed, expanded and merged.
pub struct Loaded {
    pub profile: Profile,
    /// The merged, expanded table (for `config show`).
    pub merged: toml::Table,
    pub names: Vec<String>,
    pub files: Vec<PathBuf>,
    /// The `[schedule.<job>]` sections, validated (calendars parsed).
    pub schedule: Vec<crate::automation::job::ScheduledJob>,
}

pub fn load(names: &[String]) -> Result<Option<Loaded>> {
    if names.is_empty() {
        return Ok(None);
    }
    let mut merged = toml::Table::new();
    let mut files = vec![];
    for name in names {
        let path = find(name)?;
        let text = std::fs::read_to_string(&path).map_err(|e| Error::io(path.display(), e))?;
        let mut table: toml::Table = text.parse().map_err(|e: toml::de::Error| {
            Error::usage(format!("profile {}: {}", path.display(), e.message()))
                .hint("see the Profiles section of the README for the format")
        })?;
        expand_table(&mut table, &path, "")?;
        super::profile_schedule::check_file(&table, &path)?;
        warn_if_readable_secrets(&path, &table);
        merge(&mut merged, table);
        files.push(path);
    }
    let profile = Profile::deserialize(toml::Value::Table(merged.clone())).map_err(|e| {
        Error::usage(format!("profile {}: {}", names.join(" + "), e.message()))
            .hint("see the Profiles section of the README for the sections and keys")
    })?;
    let schedule = super::profile_schedule::jobs(&profile.schedule, &names.join(" + "))?;
    Ok(Some(Loaded { profile, merged, names: names.to_vec(), files, schedule }))
}

fn find(name: &str) -> Result<PathBuf> {
    if name.contains('/') {
        let p = expand_tilde(Path::new(name));
        return if p.is_file() {
            Ok(p)
        } else {
            Err(Error::usage(format!("profile file {} does not exist", p.display())))
        };
    }
    let mut tried = vec![];
    let config = std::env::var_os("XDG_CONFIG_HOME")
        .filter(|v| !v.is_empty())
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".config")));
    for dir in config.map(|c| c.join("arca")).into_iter().chain([PathBuf::from("/etc/arca")]) {
        let p = dir.join(format!("{name}.toml"));
        if p.is_file() {
            return Ok(p);
        }
        tried.push(p.display().to_string());
    }
    Err(Error::usage(format!("no profile {name:?}: looked for {}", tried.join(" and ")))
        .hint("create it (see the Profiles section of the README) or give a path with a /"))
}

/// `~/x` to `$HOME/x`.
pub fn expand_tilde(p: &Path) -> PathBuf {
    match (p.strip_prefix("~"), std::env::var_os("HOME")) {
        (Ok(rest), Some(home)) => PathBuf::from(home).join(rest),
        _ => p.to_path_buf(),
    }
}

/// Replace `${VAR}` in every string; `$$` is a literal `$`.
fn expand_table(t: &mut toml::Table, file: &Path, prefix: &str) -> Result<()> {
    for (k, v) in t.iter_mut() {
        let key = if prefix.is_empty() { k.clone() } else { format!("{prefix}.{k}") };
        expand_value(v, file, &key)?;
    }
    Ok(())
}

fn expand_value(v: &mut toml::Value, file: &Path, key: &str) -> Result<()> {
    match v {
        toml::Value::String(s) => {
            *s = expand_vars(s, |n| std::env::var(n).ok()).map_err(|var| {
                Error::usage(format!("profile {}: {key} uses ${{{var}}}, which is not set", file.display()))
                    .hint(format!("export {var}, or write $$ for a literal $"))
            })?
        }
        toml::Value::Array(a) => {
            for x in a {
                expand_value(x, file, key)?;
            }
        }
        toml::Value::Table(t) => expand_table(t, file, key)?,
        _ => {}
    }
    Ok(())
}

/// Expand `${NAME}`; returns the name of the first unset variable as the error.
pub fn expand_vars(s: &str, get: impl Fn(&str) -> Option<String>) -> std::result::Result<String, String> {
    let mut out = String::with_capacity(s.len());
    let mut rest = s;
    while let Some(i) = rest.find('$') {
        out.push_str(&rest[..i]);
        let after = &rest[i + 1..];
        if let Some(r) = after.strip_prefix('$') {
            out.push('$');
            rest = r;
        } else if let Some(r) = after.strip_prefix('{') {
            let Some(end) = r.find('}') else { return Err(format!("{{{r}")) };
            let name = &r[..end];
            out.push_str(&get(name).ok_or_else(|| name.to_string())?);
            rest = &r[end + 1..];
        } else {
            out.push('$');
            rest = after;
        }
    }
    out.push_str(rest);
    Ok(out)
}

/// Deep merge: tables merge key by key, everything else is replaced.
fn merge(into: &mut toml::Table, from: toml::Table) {
    for (k, v) in from {
        match (into.get_mut(&k), v) {
            (Some(toml::Value::Table(a)), toml::Value::Table(b)) => merge(a, b),
            (_, v) => {
                into.insert(k, v);
            }
        }
    }
}

/// Keys whose values are secrets (masked by `config show`, and a reason to keep the file
/// private).
/// A notification's `url` is one: webhook URLs (Slack, Discord, healthchecks, ntfy topics)
/// carry their token in the path, and so do its `headers` (`Authorization`).
pub fn is_secret(key: &str) -> bool {
    let k = key.to_ascii_lowercase();
    let named = ["password", "secret", "token", "account_key", "access_key", "application_key", "sas", "authorization"]
        .iter()
        .any(|s| {
            k.contains(s)
                && !k.ends_with("password-file")
                && !k.ends_with("password_file")
                && !k.ends_with("password-env")
        });
    named || k == "url" || k.ends_with(".url") || k == "headers"
}

/// A copy of `t` with every secret value replaced by `*****`.
pub fn masked(t: &toml::Table) -> toml::Table {
    t.iter()
        .map(|(k, v)| {
            let v = match v {
                _ if is_secret(k) => toml::Value::String("*****".into()),
                other => masked_value(other),
            };
            (k.clone(), v)
        })
        .collect()
}

/// Tables in tables and in arrays (`[[notify.webhook]]`) are masked too.
fn masked_value(v: &toml::Value) -> toml::Value {
    match v {
        toml::Value::Table(inner) => toml::Value::Table(masked(inner)),
        toml::Value::Array(items) => toml::Value::Array(items.iter().map(masked_value).collect()),
        other => other.clone(),
    }
}

fn has_secret(t: &toml::Table) -> bool {
    fn value(v: &toml::Value) -> bool {
        match v {
            toml::Value::Table(t) => has_secret(t),
            toml::Value::Array(items) => items.iter().any(value),
            _ => false,
        }
    }
    t.iter().any(|(k, v)| is_secret(k) || value(v))
}

fn warn_if_readable_secrets(path: &Path, t: &toml::Table) {
    use std::os::unix::fs::PermissionsExt;
    let Ok(meta) = std::fs::metadata(path) else { return };
    if meta.permissions().mode() & 0o077 != 0 && has_secret(t) {
        tracing::warn!(
            "profile {} holds secrets and others can read it (mode {:o}); chmod 600 it",
            path.display(),
            meta.permissions().mode() & 0o777
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn variables_expand_and_unset_ones_are_named() {
        let get = |n: &str| (n == "HOST").then(|| "nas".to_string());
        assert_eq!(expand_vars("s3:${HOST}/x $$5 $y", get).unwrap(), "s3:nas/x $5 $y");
        assert_eq!(expand_vars("${NOPE}", get).unwrap_err(), "NOPE");
    }

    #[test]
    fn later_profiles_override_earlier_ones_key_by_key() {
        let mut a: toml::Table = "[backup]\ntags = [\"a\"]\nhost = \"h\"\n[forget]\nkeep-daily = 7".parse().unwrap();
        let b: toml::Table = "[backup]\ntags = [\"b\"]\n".parse().unwrap();
        merge(&mut a, b);
        let p = Profile::deserialize(toml::Value::Table(a)).unwrap();
        assert_eq!(p.backup.tags, Some(vec!["b".to_string()]));
        assert_eq!(p.backup.host.as_deref(), Some("h"));
        assert_eq!(p.forget.keep_daily.map(|k| k.to_arg()).as_deref(), Some("7"));
    }

    #[test]
    fn unknown_keys_are_errors() {
        let t: toml::Table = "[backup]\nexclud = [\"x\"]".parse().unwrap();
        let e = Profile::deserialize(toml::Value::Table(t)).unwrap_err();
        assert!(e.to_string().contains("exclud"), "{e}");
    }

    #[test]
    fn secrets_are_recognised() {
        assert!(is_secret("s3.secret_access_key") && is_secret("password-command") && is_secret("azblob.account_key"));
        assert!(!is_secret("password-file") && !is_secret("s3.region"));
        assert!(is_secret("url") && is_secret("headers") && !is_secret("password-env") && !is_secret("urls-seen"));
        // a webhook's URL inside an array of tables is masked too
        let t: toml::Table =
            "[[notify.webhook]]\nurl = \"https://hooks.example/T0/B0/TOKEN\"\npreset = \"slack\"".parse().unwrap();
        let shown = toml::to_string(&masked(&t)).unwrap();
        assert!(!shown.contains("TOKEN") && shown.contains("slack"), "{shown}");
        assert!(has_secret(&t));
    }
}
