//! One handler per command: settings and arguments in, a command run, its report printed,
//! an exit code out.

use std::path::PathBuf;
use std::sync::Arc;

use zeroize::Zeroizing;

use super::args::*;
use super::browse_args::{CatArgs, LsArgs, LsSort};
use super::exit;
use super::key_args::{KeyCommand, NewPasswordArgs};
use super::output::{bytes, count, Out};
use super::progress::Display;
use super::render::{self, Zone};
use super::settings::{kdf_params, parse_size, Settings};
use crate::archiver::{read_pattern_file, BackupExcludes, BackupOptions, FileReport, FileStatus, Progress};
use crate::chunker::ChunkerParams;
use crate::codec::Compression;
use crate::commands::{self, Filter};
use crate::error::{Error, Result};
use crate::repo::{InitOptions, Repository};
use crate::restorer::{Overwrite, RestoreOptions, RestoreProgress};

pub fn dispatch(s: &Settings, out: Out, cmd: Command) -> Result<u8> {
    if s.no_lock {
        no_lock_allowed(&cmd)?;
    }
    if s.default_repo && !matches!(cmd, Command::Config(_) | Command::Completion { .. } | Command::Generate { .. }) {
        // named on every use, even with -q: a user who forgot -r must see where data goes
        Out { quiet: false, ..out }
            .note(format!("using the default repository at {} (no -r/--repo, ARCA_REPOSITORY or profile)", s.location));
    }
    match cmd {
        Command::Init(a) => init(s, out, a),
        Command::Backup(a) => backup(s, out, a),
        Command::Snapshots(a) => snapshots(s, out, a),
        Command::Ls(a) => ls(s, out, a),
        Command::Cat(a) => cat(s, out, a),
        Command::Restore(a) => restore(s, out, a),
        Command::Key(k) => key(s, out, k),
        Command::Unlock(a) => super::maintenance::unlock(s, out, a),
        Command::Check(a) => super::maintenance::check(s, out, a),
        Command::Forget(a) => super::maintenance::forget(s, out, a),
        Command::Prune(a) => super::maintenance::prune(s, out, a.opts),
        Command::Repair(c) => super::maintenance::repair(s, out, c),
        Command::Tag(a) => tag(s, out, a),
        Command::Rewrite(a) => super::rewrite::rewrite(s, out, a),
        Command::Copy(a) => super::copy::copy(s, out, a),
        Command::Stats(a) => super::browse::stats(s, out, a),
        Command::Diff(a) => super::browse::diff(s, out, a),
        Command::Dump(a) => super::browse::dump(s, out, a),
        Command::Find(a) => super::browse::find(s, out, a),
        Command::Mount(a) => super::mount::mount(s, out, a),
        Command::Watch(a) => super::watch::watch(s, out, a),
        #[cfg(feature = "serve")]
        Command::Serve(a) => super::serve::serve(s, out, a),
        // (`cli::run` answers these before reading any settings)
        Command::Completion { shell } => super::generate::completion(shell),
        Command::Generate { man } => super::generate::man_pages(&man),
        Command::Options => super::about::options(out),
        Command::Features => super::about::features(out),
        Command::Config(ConfigCommand::Show) => super::config_show::show(s, out),
        Command::Version => super::verbs::version(out),
        // (`cli::run` answers these with the profiles alone, before any settings)
        Command::Schedule(_) | Command::Daemon(_) => {
            Err(crate::error::Error::internal("schedule/daemon reached dispatch"))
        }
        Command::Status(a) => super::status::status(s, out, a),
        Command::List(a) => super::verbs::list(s, out, a),
        Command::Migrate(a) => super::verbs::migrate(s, out, a),
        Command::Cache(a) => super::verbs::cache(s, out, a),
    }
}

/// `--no-lock` is for commands that only read: their lock only makes prune wait for them
/// (format-spec §15, §21.6), so without it a pack deleted meanwhile makes a read fail, which
/// they report. A command that writes would lose that protection for what it stores, and
/// `check --read-data` would report packs a prune deleted under it (hours of reading) as
/// damage someone then acts on: they refuse, naming why.
fn no_lock_allowed(cmd: &Command) -> Result<()> {
    let why = match cmd {
        Command::Snapshots(_)
        | Command::Ls(_)
        | Command::Cat(_)
        | Command::Find(_)
        | Command::Diff(_)
        | Command::Dump(_)
        | Command::Stats(_)
        | Command::Restore(_)
        | Command::Mount(_)
        | Command::Watch(_)
        | Command::Key(KeyCommand::List | KeyCommand::ForgetCached { .. } | KeyCommand::ExportRaw { .. })
        | Command::List(_)
        | Command::Cache(_)
        | Command::Version
        | Command::Schedule(_)
        | Command::Daemon(_)
        | Command::Options
        | Command::Features
        | Command::Completion { .. }
        | Command::Generate { .. }
        | Command::Config(_) => return Ok(()),
        Command::Check(a) if !a.read_data && a.read_data_subset.is_none() => return Ok(()),
        Command::Check(_) => {
            "check --read-data reads for hours while a prune may delete packs marked a day ago; without a lock it \
             would report them as damaged"
        }
        Command::Backup(a) if a.dry_run => return Ok(()),
        #[cfg(feature = "serve")]
        Command::Serve(_) => {
            "arca serve runs for days; without its lock a prune could delete packs under every download and listing"
        }
        _ => "it changes the repository, and a prune running beside it could delete what it stores",
    };
    Err(Error::usage(format!("--no-lock cannot be used here: {why}"))
        .hint("run it without --no-lock; only commands that read take it (snapshots, ls, cat, find, diff, dump, stats, restore, mount, list, check without --read-data)"))
}

pub(super) fn filter(f: &FilterArgs) -> Filter {
    Filter { hosts: f.hosts.clone(), tags: f.tags.clone(), paths: f.paths.clone() }
}

pub(super) fn init_options(chunker: Option<&str>, pack_size: Option<u64>) -> Result<InitOptions> {
    let mut opts = InitOptions { kdf: kdf_params(), ..Default::default() };
    if let Some(n) = pack_size {
        if !(1 << 20..=1 << 30).contains(&n) {
            return Err(Error::usage(format!("--pack-size {} MiB: a repository's packs are 1 MiB to 1 GiB", n >> 20)));
        }
        opts.pack_size = n as u32;
    }
    if let Some(c) = chunker {
        let v: Vec<u32> = c.split(',').map(|x| parse_size(x).map(|n| n as u32)).collect::<Result<_>>()?;
        let [min, avg, max] = v[..] else { return Err(Error::usage("--chunker-params takes MIN,AVG,MAX")) };
        opts.chunker = ChunkerParams { min, avg, max };
    }
    Ok(opts)
}

fn init(s: &Settings, out: Out, a: InitArgs) -> Result<u8> {
    let mut opts = init_options(a.chunker_params.as_deref(), s.pack_size)?;
    let from_file = super::settings::repository_from_file(
        a.from_repository_file.as_deref(),
        a.from_repo.as_deref(),
        "--from-repo and --from-repository-file",
    )?;
    let from_repo = from_file.or_else(|| a.from_repo.clone());
    if a.copy_chunker_params {
        let from = from_repo
            .as_deref()
            .ok_or_else(|| Error::usage("--copy-chunker-params needs --from-repo or --from-repository-file"))?;
        let pw = Settings::other_password(&a.from_password_file, &a.from_password_command, "ARCA_FROM_PASSWORD");
        let other = s.other(from, pw)?.open()?;
        opts.chunker = other.config().chunker;
        opts.chunker_key = Some(other.chunker_key());
    } else if from_repo.is_some() {
        return Err(Error::usage("--from-repo and --from-repository-file are only used with --copy-chunker-params"));
    }
    let backend = s.backend()?;
    crate::repo::refuse_init_over(&backend)?;
    let pw = s.read_password(true)?;
    let (_, report) = commands::init::run(backend, &pw, &opts)?;
    if out.json {
        out.json_line(&report);
    } else {
        out.text(format!("created arca repository {} at {}", report.id.short(), report.repository));
        out.text("Knowledge of the password is required to access the repository: losing it loses the data.");
    }
    Ok(exit::OK)
}

/// A JSON summary, with `"default_repository"` (its path) when no repository was named.
fn with_default_repository(s: &Settings, report: &impl serde::Serialize) -> serde_json::Value {
    let mut v = serde_json::to_value(report).unwrap_or_default();
    if let (true, Some(o)) = (s.default_repo, v.as_object_mut()) {
        o.insert("default_repository".into(), s.location.to_string().into());
    }
    v
}

/// `arca -P NAME backup`'s arguments: the command line `arca backup` with nothing given, filled
/// from the profile exactly as the command line fills them (`arca serve`'s backups, and the
/// excludes of `check --compare-live`).
pub(super) fn profile_backup_args(profile: &super::profile::Profile) -> Result<BackupArgs> {
    use clap::{CommandFactory, FromArgMatches};
    let m = Cli::command()
        .try_get_matches_from(["arca", "backup"])
        .map_err(|e| Error::internal(format!("the backup arguments of a profile: {e}")))?;
    let mut cli = Cli::from_arg_matches(&m).map_err(|e| Error::internal(format!("the backup arguments: {e}")))?;
    super::profile_apply::apply(profile, &mut cli, &m);
    match cli.command {
        Command::Backup(a) => Ok(a),
        _ => Err(Error::internal("`arca backup` did not parse as a backup")),
    }
}

/// The exclude set of backup arguments, and the patterns it was made of (what a snapshot
/// records).
pub(super) fn excludes(a: &BackupArgs) -> Result<(BackupExcludes, Vec<String>)> {
    let (patterns, used) =
        crate::patterns::from_flags_and_files(&a.exclude, &a.iexclude, &a.exclude_file, &a.iexclude_file)?;
    let mut ex = BackupExcludes::new(patterns);
    if a.exclude_caches {
        ex.exclude_caches();
    }
    for p in &a.exclude_if_present {
        ex.exclude_if_present(p);
    }
    if let Some(l) = &a.exclude_larger_than {
        ex.larger_than = Some(parse_size(l)?);
    }
    Ok((ex, used))
}

fn open_or_create_default(s: &Settings, out: Out) -> Result<Repository> {
    if s.default_repo {
        let backend = s.backend()?;
        // only where nothing of a repository is: a damaged one is reported by opening it
        // (config first: the usual case, a repository that is there, lists nothing)
        if backend.stat(crate::repo::CONFIG_PATH)?.is_none() && crate::repo::repository_files(&backend)?.is_empty() {
            let loud = Out { quiet: false, ..out };
            if std::io::IsTerminal::is_terminal(&std::io::stdin()) {
                loud.note(format!("no repository given: creating the default repository at {}", s.location));
            } else {
                loud.warning(
                    "setup",
                    &format!(
                        "no repository given (-r/--repo, ARCA_REPOSITORY or a profile) and not run from a terminal: \
                         creating the default repository at {} (a NEW, empty repository); if you meant another \
                         repository, name it",
                        s.location
                    ),
                );
            }
            let pw = s.read_password(true)?;
            let (repo, _) = commands::init::run(backend, &pw, &init_options(None, s.pack_size)?)?;
            return Ok(s.attach_cache(repo));
        }
    }
    s.open()
}

/// The backup `a` asks for: what is read and how. The command line's `backup` and a profile's
/// backup run by `arca serve` both start here. `scan_ahead`: count the totals first (for a
/// progress display).
pub(super) fn backup_command(a: BackupArgs, scan_ahead: bool) -> Result<commands::backup::BackupCommand> {
    let (ex, used) = excludes(&a)?;
    let input = if a.stdin_from_command {
        let argv: Vec<String> = a.paths.iter().map(|p| p.to_string_lossy().into_owned()).collect();
        commands::backup::Input::Command { filename: a.stdin_filename.clone(), argv }
    } else if a.stdin {
        if !a.paths.is_empty() {
            return Err(Error::usage("--stdin takes no paths"));
        }
        commands::backup::Input::Stdin { filename: a.stdin_filename.clone() }
    } else {
        let mut paths = a.paths.clone();
        for f in &a.files_from {
            paths.extend(read_pattern_file(f)?.into_iter().map(PathBuf::from));
        }
        for f in &a.files_from_verbatim {
            paths.extend(read_path_list(f, b'\n')?);
        }
        for f in &a.files_from_raw {
            paths.extend(read_path_list(f, 0)?);
        }
        if paths.is_empty() {
            return Err(Error::usage("nothing to back up: name files or directories").hint("e.g. `arca backup ~/work`"));
        }
        commands::backup::Input::Paths(paths)
    };
    let engine = BackupOptions {
        excludes: ex,
        one_file_system: a.one_file_system,
        read_concurrency: a.read_concurrency.max(1),
        compression: Compression::parse(&a.compression)?,
        dry_run: a.dry_run,
        with_atime: a.with_atime,
        scan_ahead: !a.no_scan && scan_ahead,
        change: crate::archiver::ChangeDetection { ignore_inode: a.ignore_inode, ignore_ctime: a.ignore_ctime },
        changed: change_list(&a)?.map(Arc::new),
        ..Default::default()
    };
    Ok(commands::backup::BackupCommand {
        input,
        tags: a.tags,
        host: a.host,
        time: a.time,
        parent: a.parent,
        force: a.force,
        excludes_used: used,
        skip_if_unchanged: a.skip_if_unchanged,
        engine,
    })
}

/// The change list of `--changed-paths FILE` or `--changed-paths-0 FILE` (`-`: standard
/// input), read up to its size limit and parsed as hostile input.
fn change_list(a: &BackupArgs) -> Result<Option<crate::archiver::ChangeList>> {
    use crate::archiver::change_list::MAX_LIST_BYTES;
    use std::io::Read;
    let (file, sep) = match (&a.changed_paths, &a.changed_paths_0) {
        (Some(f), _) => (f, b'\n'),
        (None, Some(f)) => (f, 0),
        (None, None) => return Ok(None),
    };
    let reader: Box<dyn Read> = if file.as_os_str() == "-" {
        Box::new(std::io::stdin().lock())
    } else {
        Box::new(
            std::fs::File::open(file)
                .map_err(|e| Error::io(file.display(), e).hint("the change list of --changed-paths"))?,
        )
    };
    let mut bytes = vec![];
    reader.take(MAX_LIST_BYTES + 1).read_to_end(&mut bytes).map_err(|e| Error::io(file.display(), e))?;
    if bytes.len() as u64 > MAX_LIST_BYTES {
        return Err(Error::usage(format!("{}: change list longer than {} MiB", file.display(), MAX_LIST_BYTES >> 20))
            .hint("back up without --changed-paths: a full walk costs less than this many changes"));
    }
    crate::archiver::ChangeList::parse(&bytes, sep).map(Some).map_err(|e| e.context_object(file.display()))
}

/// What a backup tells the hooks after it (`ARCA_*` variables).
pub(super) fn backup_facts(report: &commands::backup::BackupReport) -> Vec<(String, String)> {
    [
        ("ARCA_SNAPSHOT_ID", report.snapshot_id.map(|id| id.to_hex()).unwrap_or_default()),
        ("ARCA_FILES_NEW", report.files_new.to_string()),
        ("ARCA_FILES_CHANGED", report.files_changed.to_string()),
        ("ARCA_FILES_UNMODIFIED", report.files_unmodified.to_string()),
        ("ARCA_DATA_ADDED", report.data_added.to_string()),
        ("ARCA_DATA_ADDED_PACKED", report.data_added_packed.to_string()),
        ("ARCA_TOTAL_BYTES", report.total_bytes_processed.to_string()),
        ("ARCA_SOURCE_ERRORS", report.errors.to_string()),
    ]
    .into_iter()
    // a change-list walk only: how many paths it named (absent for a full walk)
    .chain(report.changed_paths.map(|n| ("ARCA_CHANGED_PATHS", n.to_string())))
    .map(|(k, v)| (k.to_string(), v))
    .collect()
}

fn backup(s: &Settings, out: Out, a: BackupArgs) -> Result<u8> {
    let verbose = out.verbose;
    let cmd = backup_command(a, super::progress::shown(out))?;
    let repo = Arc::new(open_or_create_default(s, out)?);
    // restic's -v: each new and modified file; -vv: every file, unchanged ones too
    let on_file = match verbose {
        0 => FileReport::default(),
        level => FileReport::new(move |status, path, size| {
            if status == FileStatus::Unmodified && level < 2 {
                return;
            }
            if out.json {
                out.json_line(&serde_json::json!({
                    "message_type": "verbose_status",
                    "action": status.as_str(),
                    "item": path.to_string_lossy(),
                    "size": size,
                }));
            } else {
                out.show_line(&render::Line::Entry(format!(
                    "{:<9} {}, {}",
                    status.as_str(),
                    path.display(),
                    bytes(size)
                )));
            }
        }),
    };
    let progress = Arc::new(Progress::reporting(on_file));
    let ticker = Display::start(out, super::progress::backup(progress.clone()));
    let warn = |m: String| out.warning("archival", &m);
    let report = commands::backup::run(repo, cmd, &progress, &warn);
    drop(ticker);
    let report = report?;
    if let Some(why) = &report.full_walk {
        out.note(format!("change list not used, full walk: {why}"));
    }
    for (k, v) in backup_facts(&report) {
        s.fact(&k, v);
    }
    if out.json {
        out.json_line(&with_default_repository(s, &report));
    } else {
        out.show(&render::backup(&report));
        // with -v: where the time went
        if out.verbose > 0 {
            for line in report.pipeline.to_string().lines() {
                out.note(line);
            }
        }
    }
    Ok(if report.errors > 0 { exit::PARTIAL } else { exit::OK })
}

/// The paths in `file`, separated by `sep` (`--files-from-verbatim`: newlines; `--files-from-raw`:
/// NUL bytes), every byte kept: names may hold spaces, `#`, newlines (raw) and bytes that are
/// not UTF-8. Empty entries are skipped.
fn read_path_list(file: &std::path::Path, sep: u8) -> Result<Vec<PathBuf>> {
    use std::os::unix::ffi::OsStrExt;
    let bytes = std::fs::read(file).map_err(|e| Error::io(file.display(), e))?;
    Ok(bytes
        .split(|b| *b == sep)
        .filter(|p| !p.is_empty())
        .map(|p| PathBuf::from(std::ffi::OsStr::from_bytes(p)))
        .collect())
}

fn snapshots(s: &Settings, out: Out, a: SnapshotsArgs) -> Result<u8> {
    let repo = s.open()?;
    let group_by = a.group_by.as_deref().map(commands::forget::GroupBy::parse).transpose()?;
    let query = commands::snapshots::Query { filter: filter(&a.filter), ids: a.ids, latest: a.latest, group_by };
    let mut groups = commands::snapshots::run(&repo, &query)?;
    match (out.json, query.group_by.is_some()) {
        // restic: a list of snapshots, or with --group-by a list of {group_key, snapshots}
        (true, true) => out.json_line(&groups),
        (true, false) => out.json_line(&groups.pop().map(|g| g.snapshots).unwrap_or_default()),
        (false, true) => out.show(&render::snapshot_groups(&groups, a.compact, Zone::Local)),
        (false, false) => {
            let list = groups.pop().map(|g| g.snapshots).unwrap_or_default();
            out.show(&render::snapshots(&list, a.compact, Zone::Local));
        }
    }
    Ok(exit::OK)
}

fn tag(s: &Settings, out: Out, a: TagArgs) -> Result<u8> {
    let change = commands::tag::TagChange::new(&a.set, &a.add, &a.remove)?;
    let repo = s.open()?;
    let report = commands::tag::tag(&repo, &a.ids, &filter(&a.filter), &change)?;
    if out.json {
        out.json_line(&report);
        return Ok(exit::OK);
    }
    out.show(&render::tag(&report));
    Ok(exit::OK)
}

fn ls(s: &Settings, out: Out, a: LsArgs) -> Result<u8> {
    let repo = s.open()?;
    let cmd = commands::ls::LsCommand {
        snapshot: a.snapshot,
        dirs: a.dirs,
        recursive: a.recursive,
        filter: filter(&a.filter),
    };
    let mut nodes = vec![];
    let info = commands::ls::run(&repo, &cmd, &mut |n| nodes.push(n))?;
    commands::ls::sort_nodes(&mut nodes, ls_sort_key(a.sort), a.reverse);
    if out.json {
        let mut v = serde_json::to_value(&info).unwrap_or_default();
        v["struct_type"] = "snapshot".into();
        v["message_type"] = "snapshot".into();
        out.json_line(&v);
        for n in &nodes {
            out.json_line(n);
        }
    } else {
        out.show(&render::ls(&info, &nodes, a.long, a.human_readable, Zone::Local));
    }
    Ok(exit::OK)
}

/// The command line's sort key as the verb's.
fn ls_sort_key(by: LsSort) -> commands::ls::SortKey {
    use commands::ls::SortKey;
    match by {
        LsSort::Name => SortKey::Name,
        LsSort::Size => SortKey::Size,
        LsSort::Time | LsSort::Mtime => SortKey::Mtime,
        LsSort::Atime => SortKey::Atime,
        LsSort::Ctime => SortKey::Ctime,
        LsSort::Extension => SortKey::Extension,
    }
}

fn cat(s: &Settings, out: Out, a: CatArgs) -> Result<u8> {
    let repo = s.open()?;
    match commands::cat::run(&repo, &a.what, a.id.as_deref(), a.show_secrets)? {
        commands::cat::CatOutput::Json(v) => {
            let text = serde_json::to_string_pretty(&v).map_err(|e| Error::internal(e.to_string()))?;
            out.bytes(format!("{text}\n").as_bytes())?;
        }
        commands::cat::CatOutput::Bytes(b) => out.bytes(&b)?,
    }
    Ok(exit::OK)
}

fn restore(s: &Settings, out: Out, a: RestoreArgs) -> Result<u8> {
    let repo = s.open()?;
    // no include pattern at all (an empty --include-file too, as in restic): restore everything
    let (includes, used) =
        crate::patterns::from_flags_and_files(&a.include, &a.iinclude, &a.include_file, &a.iinclude_file)?;
    let includes = (!used.is_empty()).then_some(includes);
    let (excludes, _) =
        crate::patterns::from_flags_and_files(&a.exclude, &a.iexclude, &a.exclude_file, &a.iexclude_file)?;
    let opts = RestoreOptions {
        target: std::path::absolute(&a.target).map_err(|e| Error::io(a.target.display(), e))?,
        includes,
        excludes,
        overwrite: Overwrite::parse(&a.overwrite)?,
        delete: a.delete,
        verify: a.verify,
        dry_run: a.dry_run,
        sparse: a.sparse,
        concurrency: a.concurrency,
        no_owner: a.no_owner,
        no_special: a.no_special,
        no_setuid: a.no_setuid,
        xattrs: crate::restorer::XattrSelect::new(&a.include_xattr, &a.exclude_xattr)?,
    };
    let progress = Arc::new(RestoreProgress::default());
    let ticker = Display::start(out, super::progress::restore(progress.clone()));
    let warn = |m: String| out.warning("restore", &m);
    let started = std::time::Instant::now();
    let r = commands::restore::run(&repo, &a.snapshot, &filter(&a.filter), &opts, &progress, &warn);
    drop(ticker);
    let (id, summary) = r?;
    // what --delete removed (or would remove): listed, as restic's verbose restore lists it
    let action = if a.dry_run { "would delete" } else { "deleted" };
    for rel in &summary.deleted {
        let path = opts.target.join(rel);
        if out.json {
            let v =
                serde_json::json!({"message_type": "verbose_status", "action": action, "item": path.to_string_lossy()});
            out.json_line(&v);
        } else {
            out.show_line(&render::Line::Entry(format!("{action} {}", path.display())));
        }
    }
    if out.json {
        let v = commands::restore::report(&id, &summary, started.elapsed(), a.dry_run);
        out.json_line(&with_default_repository(s, &v));
    } else {
        out.show(&render::restore(&id, &opts.target, &summary, a.verify, a.dry_run));
    }
    Ok(if summary.errors > 0 { exit::FATAL } else { exit::OK })
}

fn key_owner(a: &NewPasswordArgs) -> crate::repo::KeyOwner {
    crate::repo::KeyOwner { user: a.user.clone(), host: a.host.clone() }
}

fn new_password(file: &Option<PathBuf>) -> Result<Zeroizing<Vec<u8>>> {
    let pw = match file {
        Some(f) => {
            let mut b = std::fs::read(f).map_err(|e| Error::io(f.display(), e))?;
            while b.last().is_some_and(|c| *c == b'\n' || *c == b'\r') {
                b.pop();
            }
            Zeroizing::new(b)
        }
        None => super::settings::prompt(&super::settings::Ask::NEW_PASSWORD, true)?,
    };
    if pw.is_empty() {
        return Err(Error::usage("the new password is empty"));
    }
    Ok(pw)
}

fn key(s: &Settings, out: Out, k: KeyCommand) -> Result<u8> {
    match k {
        KeyCommand::List => {
            let repo = s.open()?;
            let keys = commands::key::list(&repo)?;
            if out.json {
                out.json_line(&keys.iter().map(commands::key::ListedKey::from).collect::<Vec<_>>());
            } else {
                out.show(&render::key_list(&keys, Zone::Local));
            }
        }
        // the commands that change keys prove the password, never the key cache's key
        KeyCommand::Add(a) => {
            let owner = key_owner(&a);
            owner.check()?;
            let (repo, _) = s.open_with_password()?;
            let id = commands::key::add(&repo, &new_password(&a.new_password_file)?, kdf_params(), &owner)?;
            out.text(format!("saved new key {}", id.short()));
        }
        KeyCommand::Remove { id } => {
            let (repo, _) = s.open_with_password()?;
            let id = commands::key::remove(&repo, &id)?;
            out.text(format!("removed key {}", id.short()));
        }
        KeyCommand::Passwd(a) => {
            let owner = key_owner(&a);
            owner.check()?;
            let (mut repo, _) = s.open_with_password()?;
            let id = commands::key::passwd(&mut repo, &new_password(&a.new_password_file)?, kdf_params(), &owner)?;
            out.text(format!("password changed; new key {}", id.short()));
        }
        KeyCommand::Rotate(a) => {
            let (mut repo, pw) = s.open_with_password()?;
            // the master secret is about to change: what the keyring keeps stops opening
            let _ = super::unlock::forget(Some(&s.location.to_string()));
            let new = match &a.new_password_file {
                Some(f) => Some(new_password(&Some(f.clone()))?),
                None => None,
            };
            let log = |m: String| out.note(m);
            let st = super::progress::metered(out, "key rotate", |m| {
                commands::key::rotate(&mut repo, &pw, new.as_deref().map(|p| p.as_slice()), &log, m)
            })?;
            if out.json {
                out.json_line(&st);
            } else {
                out.text(format!(
                    "{}master secret replaced: {} ({}) and {} sealed again, {} already done; new key {}, {} removed",
                    if st.resumed { "rotation finished; " } else { "" },
                    count(st.packs_resealed, "pack"),
                    bytes(st.bytes_resealed),
                    count(st.snapshots_resealed, "snapshot"),
                    st.packs_already_current,
                    st.key.short(),
                    count(st.keys_removed.len(), "old key")
                ));
            }
        }
        KeyCommand::ForgetCached { all } => {
            let location = s.location.to_string();
            let dropped = match super::unlock::forget((!all).then_some(location.as_str())) {
                Ok(d) => d,
                Err(why) => {
                    out.text(format!("no key cache here: {why}"));
                    return Ok(exit::OK);
                }
            };
            if out.json {
                let v: Vec<_> = dropped
                    .iter()
                    .map(|(id, at)| serde_json::json!({"repository_id": id.to_hex(), "location": at}))
                    .collect();
                out.json_line(&v);
            } else if dropped.is_empty() {
                out.text(if all {
                    "no key kept in the keyring: nothing to drop".to_string()
                } else {
                    format!("no key kept in the keyring for {location}: nothing to drop")
                });
            } else {
                for (id, at) in &dropped {
                    out.text(format!("dropped the cached key of repository {} at {at}", id.short()));
                }
            }
        }
        KeyCommand::ExportRaw { output } => {
            let (repo, _) = s.open_with_password()?;
            super::unlock::write_key_file(&output, &repo.raw_key())?;
            out.text(format!(
                "wrote the key of repository {} to {}: whoever reads it can read and change the repository",
                repo.config().id.short(),
                output.display()
            ));
        }
    }
    Ok(exit::OK)
}
