//! Fill the parsed command line from a profile: every value the user did not give on the
//! command line comes from the profile. Environment variables (`ARCA_REPOSITORY`, …) lose to
//! the profile, so a variable left in a shell never sends a profile's backup elsewhere.

use clap::parser::ValueSource;
use clap::ArgMatches;

use super::args::{BackupArgs, Cli, Command, Global};
use super::maintenance_args::{CheckArgs, ForgetArgs, PruneOpts};
use super::profile::{expand_tilde, BackupSection, CheckSection, ForgetSection, Keep, Profile, PruneSection};

/// Did the user give `id` on the command line?
fn given(m: Option<&ArgMatches>, id: &str) -> bool {
    m.is_some_and(|m| m.try_contains_id(id).unwrap_or(false) && m.value_source(id) == Some(ValueSource::CommandLine))
}

/// `field = profile value` unless the user gave the flag.
macro_rules! fill {
    ($m:expr, $id:literal, $field:expr, $value:expr) => {
        if !given($m, $id) {
            if let Some(v) = $value {
                $field = v;
            }
        }
    };
}

pub fn apply(p: &Profile, cli: &mut Cli, m: &ArgMatches) {
    apply_global(p, &mut cli.global, m);
    let sub = m.subcommand().map(|(_, sm)| sm);
    match &mut cli.command {
        Command::Backup(a) => apply_backup(&p.backup, a, sub),
        Command::Forget(a) => apply_forget(&p.forget, a, sub),
        Command::Prune(a) => apply_prune(&p.prune, &mut a.opts, sub),
        Command::Check(a) => apply_check(&p.check, a, sub),
        _ => {}
    }
}

fn apply_global(p: &Profile, g: &mut Global, m: &ArgMatches) {
    let r = &p.repository;
    let m = Some(m);
    // the command line's -r or --repository-file wins over the profile's repository, which
    // wins over ARCA_REPOSITORY and ARCA_REPOSITORY_FILE in the environment
    if !given(m, "repository_file") {
        fill!(m, "repo", g.repo, r.repo.clone().map(Some));
        if r.repo.is_some() && !given(m, "repo") {
            g.repository_file = None;
        }
    }
    fill!(m, "password_file", g.password_file, r.password_file.as_deref().map(|f| Some(expand_tilde(f))));
    fill!(m, "password_command", g.password_command, r.password_command.clone().map(Some));
    fill!(m, "key_file", g.key_file, r.key_file.as_deref().map(|f| Some(expand_tilde(f))));
    fill!(m, "no_key_cache", g.no_key_cache, r.key_cache.map(|on| !on));
    fill!(m, "key_cache_timeout", g.key_cache_timeout, r.key_cache_timeout.clone().map(Some));
    fill!(m, "cache_dir", g.cache_dir, r.cache_dir.as_deref().map(|f| Some(expand_tilde(f))));
    fill!(m, "no_cache", g.no_cache, r.no_cache);
    fill!(m, "connections", g.connections, r.connections.map(Some));
    fill!(m, "limit_upload", g.limit_upload, r.limit_upload.map(Some));
    fill!(m, "limit_download", g.limit_download, r.limit_download.map(Some));
    fill!(m, "retry_lock", g.retry_lock, r.retry_lock.clone().map(Some));
    fill!(m, "pack_size", g.pack_size, r.pack_size.clone().map(Some));
    fill!(m, "metrics_file", g.metrics_file, p.metrics.file.as_deref().map(|f| Some(expand_tilde(f))));
    // options: the profile's, except keys the command line sets again
    let cli_keys: Vec<String> =
        g.options.iter().filter_map(|o| o.split_once('=').map(|(k, _)| k.to_string())).collect();
    for (k, v) in &r.options {
        if !cli_keys.contains(k) {
            g.options.push(format!("{k}={v}"));
        }
    }
}

fn apply_backup(p: &BackupSection, a: &mut BackupArgs, m: Option<&ArgMatches>) {
    fill!(m, "paths", a.paths, p.sources.as_ref().map(|v| v.iter().map(|s| expand_tilde(s)).collect()));
    fill!(m, "exclude", a.exclude, p.exclude.clone());
    fill!(m, "iexclude", a.iexclude, p.iexclude.clone());
    fill!(
        m,
        "exclude_file",
        a.exclude_file,
        p.exclude_file.as_ref().map(|v| v.iter().map(|s| expand_tilde(s)).collect())
    );
    fill!(
        m,
        "iexclude_file",
        a.iexclude_file,
        p.iexclude_file.as_ref().map(|v| v.iter().map(|s| expand_tilde(s)).collect())
    );
    fill!(m, "exclude_caches", a.exclude_caches, p.exclude_caches);
    fill!(m, "exclude_if_present", a.exclude_if_present, p.exclude_if_present.clone());
    fill!(m, "exclude_larger_than", a.exclude_larger_than, p.exclude_larger_than.clone().map(Some));
    fill!(m, "one_file_system", a.one_file_system, p.one_file_system);
    fill!(m, "files_from", a.files_from, p.files_from.as_ref().map(|v| v.iter().map(|s| expand_tilde(s)).collect()));
    fill!(
        m,
        "files_from_verbatim",
        a.files_from_verbatim,
        p.files_from_verbatim.as_ref().map(|v| v.iter().map(|s| expand_tilde(s)).collect())
    );
    fill!(
        m,
        "files_from_raw",
        a.files_from_raw,
        p.files_from_raw.as_ref().map(|v| v.iter().map(|s| expand_tilde(s)).collect())
    );
    fill!(m, "skip_if_unchanged", a.skip_if_unchanged, p.skip_if_unchanged);
    fill!(m, "tags", a.tags, p.tags.clone());
    fill!(m, "host", a.host, p.host.clone().map(Some));
    fill!(m, "compression", a.compression, p.compression.clone());
    fill!(m, "read_concurrency", a.read_concurrency, p.read_concurrency);
    fill!(m, "with_atime", a.with_atime, p.with_atime);
    fill!(m, "ignore_inode", a.ignore_inode, p.ignore_inode);
    fill!(m, "ignore_ctime", a.ignore_ctime, p.ignore_ctime);
}

fn apply_forget(p: &ForgetSection, a: &mut ForgetArgs, m: Option<&ArgMatches>) {
    let keep = |k: &Option<Keep>| k.as_ref().map(Keep::to_arg);
    // A policy on the command line replaces the profile's whole policy, and so do ids.
    let cli_policy = [
        "keep_last",
        "keep_hourly",
        "keep_daily",
        "keep_weekly",
        "keep_monthly",
        "keep_yearly",
        "keep_within",
        "keep_within_hourly",
        "keep_within_daily",
        "keep_within_weekly",
        "keep_within_monthly",
        "keep_within_yearly",
        "keep_tag",
        "ids",
    ]
    .iter()
    .any(|id| given(m, id));
    if !cli_policy {
        a.keep_last = keep(&p.keep_last);
        a.keep_hourly = keep(&p.keep_hourly);
        a.keep_daily = keep(&p.keep_daily);
        a.keep_weekly = keep(&p.keep_weekly);
        a.keep_monthly = keep(&p.keep_monthly);
        a.keep_yearly = keep(&p.keep_yearly);
        a.keep_within = p.keep_within.clone();
        a.keep_within_hourly = p.keep_within_hourly.clone();
        a.keep_within_daily = p.keep_within_daily.clone();
        a.keep_within_weekly = p.keep_within_weekly.clone();
        a.keep_within_monthly = p.keep_within_monthly.clone();
        a.keep_within_yearly = p.keep_within_yearly.clone();
        a.keep_tag = p.keep_tag.clone().unwrap_or_default();
    }
    fill!(m, "group_by", a.group_by, p.group_by.clone());
    fill!(m, "hosts", a.hosts, p.host.clone());
    fill!(m, "tags", a.tags, p.tag.clone());
    fill!(m, "paths", a.paths, p.path.clone());
    fill!(m, "prune", a.prune, p.prune);
    fill!(m, "max_unused", a.prune_opts.max_unused, p.max_unused.clone());
    fill!(m, "max_repack_size", a.prune_opts.max_repack_size, p.max_repack_size.clone().map(Some));
    fill!(m, "repack_small", a.prune_opts.repack_small, p.repack_small);
    fill!(m, "repack_uncompressed", a.prune_opts.repack_uncompressed, p.repack_uncompressed);
    fill!(m, "keep_delete", a.prune_opts.keep_delete, p.keep_delete.clone());
}

fn apply_prune(p: &PruneSection, a: &mut PruneOpts, m: Option<&ArgMatches>) {
    fill!(m, "max_unused", a.max_unused, p.max_unused.clone());
    fill!(m, "max_repack_size", a.max_repack_size, p.max_repack_size.clone().map(Some));
    fill!(m, "repack_small", a.repack_small, p.repack_small);
    fill!(m, "repack_uncompressed", a.repack_uncompressed, p.repack_uncompressed);
    fill!(m, "keep_delete", a.keep_delete, p.keep_delete.clone());
}

fn apply_check(p: &CheckSection, a: &mut CheckArgs, m: Option<&ArgMatches>) {
    fill!(m, "read_data", a.read_data, p.read_data);
    fill!(m, "read_data_subset", a.read_data_subset, p.read_data_subset.clone().map(Some));
}

#[cfg(test)]
mod tests {
    use clap::CommandFactory;

    /// The `fill!` ids of each `apply_*` function of this file, by the command it fills.
    fn filled() -> Vec<(&'static str, Vec<String>)> {
        let src = include_str!("profile_apply.rs");
        let src = &src[..src.find("#[cfg(test)]").unwrap_or(src.len())];
        let mut out = vec![];
        for (name, command) in [
            ("apply_global", ""),
            ("apply_backup", "backup"),
            ("apply_forget", "forget"),
            ("apply_prune", "prune"),
            ("apply_check", "check"),
        ] {
            let start = src.find(&format!("fn {name}(")).unwrap_or_else(|| panic!("no fn {name}"));
            let body = &src[start..];
            let body = &body[..body[1..].find("\nfn ").map_or(body.len(), |e| e + 1)];
            let mut ids = vec![];
            let mut rest = body;
            while let Some(i) = rest.find("fill!(") {
                rest = &rest[i + 6..];
                let q = rest.find('"').unwrap_or(0);
                let id = &rest[q + 1..];
                ids.push(id[..id.find('"').unwrap_or(0)].to_string());
            }
            out.push((command, ids));
        }
        out
    }

    fn arg_ids(command: &str) -> Vec<String> {
        let cli = super::Cli::command();
        let cmd =
            if command.is_empty() { &cli } else { cli.find_subcommand(command).unwrap_or_else(|| panic!("{command}")) };
        cmd.get_arguments().map(|a| a.get_id().as_str().to_string()).collect()
    }

    /// Options a profile deliberately does not set: one-off choices of a single run, secrets,
    /// and what only makes sense on the command line.
    const NOT_IN_PROFILES: &[(&str, &[&str])] = &[
        // the profile names itself; output format and chattiness are the caller's; `-o` is
        // merged from the profile's `[repository.options]` table, not filled
        // a profile names its repository with `repo`; `--no-lock` and `--cleanup-cache` are one
        // run's choices
        (
            "",
            &[
                "profiles",
                "json",
                "quiet",
                "verbose",
                "log_level",
                "options",
                "storage_timeout",
                "repository_file",
                "no_lock",
                "cleanup_cache",
            ],
        ),
        // one run's choices: what to back up instead, as whom, when, against which parent
        // (and how this run's progress is shown: --no-scan, like --json and -q; a change list
        // describes one run's changes)
        (
            "backup",
            &[
                "time",
                "parent",
                "force",
                "dry_run",
                "stdin",
                "stdin_filename",
                "stdin_from_command",
                "no_scan",
                "changed_paths",
                "changed_paths_0",
            ],
        ),
        // ids and the policy replace the profile's as a whole (apply_forget); the rest is
        // one run's choice, or a safety catch a profile must not switch off
        // (--compact is how this run's lists are shown, like --json)
        ("forget", &["ids", "dry_run", "instant_delete", "unsafe_allow_remove_all", "compact"]),
        ("prune", &["dry_run", "instant_delete"]),
        // --compare-live names one snapshot to compare with the live tree: one run's question,
        // not a setting
        ("check", &["with_cache", "compare_live"]),
    ];

    #[test]
    fn every_profile_id_names_a_real_option_and_every_option_is_in_profiles_or_exempt() {
        for (command, ids) in filled() {
            let args = arg_ids(command);
            for id in &ids {
                assert!(args.contains(id), "profile_apply fills {id:?}, which `{command}` has no option for (a typo?)");
            }
            let exempt: &[&str] = NOT_IN_PROFILES.iter().find(|(c, _)| *c == command).map_or(&[], |(_, e)| e);
            for e in exempt {
                assert!(args.iter().any(|a| a == e), "NOT_IN_PROFILES names {e:?}, which `{command}` does not have");
            }
            // forget's keep_* policy is copied from the profile as a whole, not by fill!
            let policy = |a: &str| command == "forget" && a.starts_with("keep_") && a != "keep_delete";
            let missing: Vec<&String> =
                args.iter().filter(|a| !ids.contains(a) && !exempt.contains(&a.as_str()) && !policy(a)).collect();
            assert!(
                missing.is_empty(),
                "`{}` options with no profile key: {missing:?}; add them to the profile (profile.rs, \
                 profile_apply.rs) or to NOT_IN_PROFILES with a reason",
                if command.is_empty() { "global" } else { command }
            );
        }
    }
}
