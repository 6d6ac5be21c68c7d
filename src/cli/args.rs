//! Command-line arguments as clap sees them (step one of two; `settings` validates them).

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

use super::browse_args::{CatArgs, DiffArgs, DumpArgs, FindArgs, LsArgs, StatsArgs};
use super::key_args::KeyCommand;
use super::maintenance_args::{CheckArgs, ForgetArgs, PruneArgs, RepairCommand, UnlockArgs};

#[derive(Parser, Debug)]
#[command(
    name = "arca",
    version,
    about = "Deduplicating, encrypted backups on any OpenDAL backend",
    after_help = "Examples:\n  arca init && arca backup ~/work            (ARCA_REPOSITORY, ARCA_PASSWORD_FILE set)\n  arca -P laptop backup                     (repository, sources and excludes from a profile)\n  arca snapshots && arca restore latest --target ~/restored\n  arca forget --keep-daily 7 --keep-weekly 5 --prune\n  arca check --read-data-subset 5%\n  arca --repository-file ~/.arca-repo snapshots   (or ARCA_REPOSITORY_FILE)\n  arca --no-lock restore latest --target ~/restored   (read-only storage; commands that write refuse it)\nExit codes: 0 ok, 1 error, 3 partial, 10 no repository, 11 locked, 12 wrong password, 13 repository damaged (config missing: `arca repair config`), 130 interrupted."
)]
pub struct Cli {
    #[command(flatten)]
    pub global: Global,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Args, Debug, Clone)]
#[command(next_help_heading = "Global options")]
pub struct Global {
    /// Profiles to use (TOML files in ~/.config/arca/ or /etc/arca/, or paths; repeat to merge)
    #[arg(
        short = 'P',
        long = "profile",
        value_name = "NAME",
        env = "ARCA_PROFILE",
        value_delimiter = ',',
        global = true
    )]
    pub profiles: Vec<String>,
    /// Repository: a local path, or SERVICE:ROOT (default: a local repository in your data directory)
    #[arg(short = 'r', long = "repo", env = "ARCA_REPOSITORY", global = true)]
    pub repo: Option<String>,
    /// Read the repository (what -r takes) from this file
    #[arg(long, value_name = "FILE", env = "ARCA_REPOSITORY_FILE", global = true)]
    pub repository_file: Option<PathBuf>,
    /// Read the password from this file
    #[arg(long, env = "ARCA_PASSWORD_FILE", global = true)]
    pub password_file: Option<PathBuf>,
    /// Run this shell command and use its output as the password
    #[arg(long, env = "ARCA_PASSWORD_COMMAND", global = true)]
    pub password_command: Option<String>,
    /// Open the repository with this raw key file (`arca key export-raw`): no password, no key derivation
    #[arg(long, value_name = "FILE", env = "ARCA_KEY_FILE", global = true)]
    pub key_file: Option<PathBuf>,
    /// Neither use nor keep an unlocked key in the kernel keyring (the key cache)
    #[arg(long, env = "ARCA_NO_KEY_CACHE", global = true, value_parser = clap::builder::BoolishValueParser::new())]
    pub no_key_cache: bool,
    /// How long the kernel keyring keeps the unlocked key, from the unlock on (default 15m; 0: not at all)
    #[arg(long, value_name = "DURATION", global = true)]
    pub key_cache_timeout: Option<String>,
    /// Storage option SERVICE.KEY=VALUE, e.g. -o s3.region=eu-west-1 (credentials come from the environment)
    #[arg(short = 'o', long = "option", value_name = "SERVICE.KEY=VALUE", global = true)]
    pub options: Vec<String>,
    /// Storage operations at once (default: 4 for local, sftp, webdav and b2; 8 for s3, azblob, gcs)
    #[arg(long, value_name = "N", global = true)]
    pub connections: Option<usize>,
    /// Limit uploads to this many KiB/s
    #[arg(long, value_name = "KIB_PER_SEC", global = true)]
    pub limit_upload: Option<u64>,
    /// Limit downloads to this many KiB/s
    #[arg(long, value_name = "KIB_PER_SEC", global = true)]
    pub limit_download: Option<u64>,
    /// Abandon (and retry) a storage request that makes no progress for this long
    #[arg(long, value_name = "DURATION", default_value = "60s", global = true)]
    pub storage_timeout: String,
    /// Machine-readable JSON output
    #[arg(long, global = true)]
    pub json: bool,
    /// Print only errors
    #[arg(short, long, global = true)]
    pub quiet: bool,
    /// More detail: -v lists new and changed files, -vv every file (also --verbose=N)
    #[arg(short, long, action = clap::ArgAction::Count, global = true)]
    pub verbose: u8,
    /// Log storage requests, retries and key tries: a level (info, debug) or TARGET=LEVEL,...
    #[arg(long, env = "ARCA_LOG", value_name = "FILTER", global = true)]
    pub log_level: Option<String>,
    /// Cache directory (default: your cache directory/arca)
    #[arg(long, env = "ARCA_CACHE_DIR", global = true)]
    pub cache_dir: Option<PathBuf>,
    /// Don't use a local cache
    #[arg(long, global = true)]
    pub no_cache: bool,
    /// After the command, remove the caches of repositories unused for 30 days (as `arca cache --cleanup`)
    #[arg(long, global = true, conflicts_with = "no_cache")]
    pub cleanup_cache: bool,
    /// Keep trying this long when the repository is locked (e.g. 5m, 1h)
    #[arg(long, value_name = "DURATION", global = true)]
    pub retry_lock: Option<String>,
    /// Take no lock (commands that only read; for a read-only repository)
    #[arg(long, global = true)]
    pub no_lock: bool,
    /// After each job a profile runs, write the jobs' metrics here in Prometheus text format (node_exporter's textfile collector)
    #[arg(long, value_name = "FILE", env = "ARCA_METRICS_FILE", global = true)]
    pub metrics_file: Option<PathBuf>,
    /// Target pack size: MiB, or a size like 64M (at init the repository's; later at most that)
    #[arg(long, value_name = "SIZE", env = "ARCA_PACK_SIZE", global = true)]
    pub pack_size: Option<String>,
}

#[derive(Subcommand, Debug)]
pub enum Command {
    /// Create a new repository
    #[command(
        after_help = "Examples:\n  arca -r /srv/backup init\n  arca -r s3:my-bucket/arca init --chunker-params 262144,524288,4194304\n  arca -r s3:offsite/arca init --from-repo /srv/backup --copy-chunker-params\n  arca -r s3:offsite/arca init --from-repository-file ~/.arca-local-repo --copy-chunker-params\n  arca -r /srv/backup init --pack-size 64     (64 MiB packs; or ARCA_PACK_SIZE)"
    )]
    Init(InitArgs),
    /// Back up files and directories into a new snapshot
    #[command(
        after_help = "Examples:\n  arca backup ~/work ~/notes --tag daily --exclude '*.o' --exclude-caches\n  arca backup / --one-file-system --exclude-file ~/.arca-excludes --host laptop\n  pg_dumpall | arca backup --stdin --stdin-filename all.sql\n  arca backup --stdin-from-command --stdin-filename db.sql -- pg_dump mydb\n  arca backup ~/work --dry-run -v          (what would be stored)\n  find ~/work -name '*.odt' -print0 > list && arca backup --files-from-raw list\n  arca backup --files-from-verbatim paths.txt --skip-if-unchanged   (no snapshot when nothing changed)\n  arca backup /mnt/nfs --ignore-inode   (inode numbers that change on every mount: compare mtime and size only)\n  ARCA_HOST=laptop ARCA_COMPRESSION=max arca backup ~/work   (restic's RESTIC_HOST, RESTIC_COMPRESSION)"
    )]
    Backup(BackupArgs),
    /// List snapshots
    #[command(
        after_help = "Examples:\n  arca snapshots\n  arca snapshots --host laptop --tag daily\n  arca snapshots latest\n  arca snapshots --latest 1 --group-by host\n  arca snapshots --json | jq '.[].short_id'"
    )]
    Snapshots(SnapshotsArgs),
    /// List files in a snapshot
    #[command(
        after_help = "Examples:\n  arca ls latest\n  arca ls latest /home/me/work -l\n  arca ls 3fa9c1d2 --json\n  arca ls latest -l --sort size --reverse --human-readable   (biggest first, sizes as 1.2 MiB)"
    )]
    Ls(LsArgs),
    /// Print repository objects (config, index, pack, blob, snapshot, tree, key, lock)
    #[command(
        after_help = "Examples:\n  arca cat config\n  arca cat snapshot 3fa9c1d2 | jq .\n  arca cat tree latest:/home/me/work\n  arca cat key <id>          (never prints secrets)\n  arca cat config --show-secrets   (also the chunker and id keys)"
    )]
    Cat(CatArgs),
    /// Restore a snapshot
    #[command(
        after_help = "Examples:\n  arca restore latest --target ~/restored\n  arca restore 'latest@2026-11-01 12:00' --target ~/restored --verify\n  arca restore latest:/home/me/work --target ~/work-copy --include '*.rs'\n  arca restore 3fa9c1d2 --target / --overwrite if-newer --delete\n  arca restore latest --target ~/restored --include-file wanted.txt --iexclude-file skip.txt\n  arca restore latest --target ~/restored --exclude-xattr 'security.*'   (every xattr but these)\n  arca restore latest --target ~/restored --include-xattr 'user.*'   (only these xattrs)"
    )]
    Restore(RestoreArgs),
    /// Manage passwords (keys)
    #[command(subcommand)]
    Key(KeyCommand),
    /// Remove stale locks
    #[command(
        after_help = "Examples:\n  arca unlock                 (stale locks: older than 30 minutes, or of a dead process here)\n  arca unlock --remove-all    (every lock: only when nothing else uses the repository)"
    )]
    Unlock(UnlockArgs),
    /// Check the repository's structure (and, with --read-data, every blob)
    #[command(
        after_help = "Examples:\n  arca check\n  arca check --read-data\n  arca check --read-data-subset 1/7     (a seventh of the data each day of the week)\n  arca check --read-data-subset 5% --json"
    )]
    Check(CheckArgs),
    /// Remove snapshots according to a policy (and, with --prune, the data they alone use)
    #[command(
        after_help = "Examples:\n  arca forget --keep-daily 7 --keep-weekly 5 --keep-monthly 12 --prune\n  arca forget --keep-within 30d --keep-tag important --group-by host,tags --dry-run\n  arca forget 3fa9c1d2 5be01c77\n  arca forget --keep-last 3 --dry-run --compact   (the lists without host, tags and paths)\n  arca forget --keep-last 10 --json | jq '.[].remove | length'\n  arca forget --unsafe-allow-remove-all --host old-laptop   (no policy: every snapshot of that host)"
    )]
    Forget(ForgetArgs),
    /// Remove data no snapshot uses
    #[command(
        after_help = "Examples:\n  arca prune\n  arca prune --max-unused 0 --dry-run\n  arca prune --instant-delete       (exclusive lock: no other client may use the repository)\n  arca prune --max-repack-size 10G --repack-small --json"
    )]
    Prune(PruneArgs),
    /// Rebuild the index, or rewrite snapshots that reference missing data
    #[command(subcommand)]
    Repair(RepairCommand),
    /// Rewrite snapshots without excluded files (or with only included ones), or with a new host or time
    #[command(
        after_help = "Examples:\n  arca rewrite --exclude '*.iso' --forget latest\n  arca rewrite --exclude-file secrets.txt --host laptop --dry-run\n  arca rewrite --new-host laptop2 3fa9c1d2\nThen `arca prune` frees the data only the removed files used."
    )]
    Rewrite(RewriteArgs),
    /// Copy snapshots between repositories (to -r from --from-repo, or from -r to --to-repo)
    #[command(
        after_help = "Examples:\n  arca -r s3:offsite/arca copy --from-repo /srv/local --from-password-file ~/.local-pass\n  arca -r /srv/local copy --to-repo s3:offsite/arca --to-password-command 'pass offsite' latest\n  arca -r /srv/offsite copy --from-repository-file ~/.arca-local-repo --from-password-file ~/.local-pass\nEnvironment for the other side: ARCA_FROM_REPOSITORY(_FILE), ARCA_FROM_PASSWORD(_FILE|_COMMAND)."
    )]
    Copy(CopyArgs),
    /// Change the tags of snapshots
    #[command(
        after_help = "Examples:\n  arca tag --add reviewed --remove draft 3fa9c1d2\n  arca tag --set weekly --host laptop   (every snapshot of laptop)\n  arca tag --set '' latest                (remove all tags)"
    )]
    Tag(TagArgs),
    /// Print a shell completion script (bash, zsh, fish, powershell, elvish)
    #[command(
        after_help = "Examples:\n  arca completion bash > /etc/bash_completion.d/arca\n  arca completion zsh > \"${fpath[1]}/_arca\"\n  arca completion fish > ~/.config/fish/completions/arca.fish"
    )]
    Completion {
        #[arg(value_enum)]
        shell: clap_complete::Shell,
    },
    /// Browse snapshots as a read-only file system (FUSE) until interrupted or unmounted
    #[command(after_help = "Examples:
  arca mount /mnt/arca &
  arca mount --background /mnt/arca       (returns once mounted; umount /mnt/arca stops it)
  ls /mnt/arca/snapshots/          (also hosts/HOST/, tags/TAG/, ids/ID/; latest -> the newest)
  cp /mnt/arca/snapshots/latest/home/me/report.odt ~/
  arca mount /mnt/arca --allow-other --path-template 'by-host/%h/%T' --time-template '%Y-%m-%d_%H%M'
  arca mount --foreground --refresh 5m --cache-size 256M /mnt/arca
  arca mount --host laptop --tag daily /mnt/arca   (only the snapshots these select)
Templates: %i short id, %I id, %T time, %h host, %u user, %t tag (one path per tag).
Stop with Ctrl-C, SIGTERM or `umount /mnt/arca`.")]
    Mount(MountArgs),
    /// Run the profiles' [schedule.<job>] jobs from systemd timers (or print crontab/launchd)
    #[command(
        subcommand,
        after_help = "Examples:
  arca -P laptop schedule install              (user units; as root: system units)
  arca -P laptop schedule status
  arca -P laptop schedule remove
  arca schedule list --json
  arca -P laptop schedule install --unit-dir ./units   (write only: for packagers and tests)"
    )]
    Schedule(super::automation_args::ScheduleCommand),
    /// Run the profiles' [schedule.<job>] jobs at their times, in one process (no systemd)
    #[command(after_help = "Examples:
  arca -P laptop daemon
  arca -P laptop -P server daemon --metrics-listen 127.0.0.1:9842
Each job runs as `arca -P PROFILE JOB` (ARCA_TRIGGER=daemon), never twice at once; a run
missed while the daemon was down runs at start when the job is persistent (the default).
Stop with SIGTERM or Ctrl-C: running jobs are asked to stop, the daemon exits 0.")]
    Daemon(super::automation_args::DaemonArgs),
    /// Back up whenever files change: a change-list backup once the changes settle
    #[command(after_help = "Examples:
  arca -P laptop watch                         (the profile's sources; [watch] sets the timing)
  arca -P laptop watch ~/work                  (watch only ~/work; the backup is the profile's)
  arca watch --debounce 10s --max-delay 5m ~/notes   (no profile: ~/notes is watched and backed up)
Each backup runs as `arca [-P p] backup --changed-paths-0 FILE`; the first after start, and the
next after an event queue overflow, walk everything. Stop with Ctrl-C or SIGTERM.")]
    Watch(super::automation_args::WatchArgs),
    /// Serve the repository over HTTP: a JSON API (the web UI and WebDAV come next)
    #[cfg(feature = "serve")]
    #[command(after_help = "Examples:
  arca serve                                   (http://127.0.0.1:8642/, prints a login token)
  arca serve --listen 127.0.0.1:0              (any free port; the address is printed)
  arca -P laptop serve --refresh 5m
  arca serve --htpasswd /etc/arca/users        (USER:$argon2id$... lines instead of a token)
  arca serve --listen 192.168.1.5:8642 --insecure-http   (plain HTTP off loopback: a trusted network only)
  arca serve --restore-root /srv/restores      (POST /api/restore may write below it, nowhere else)
  arca serve --listen 0.0.0.0:8642 --tls-cert cert.pem --tls-key key.pem   (HTTPS)
Log in: open /login and paste the token, or send `Authorization: Bearer TOKEN`:
  curl -H \"Authorization: Bearer $TOKEN\" http://127.0.0.1:8642/api/snapshots
Stop with Ctrl-C or SIGTERM (the lock is released).")]
    Serve(ServeArgs),
    /// Find files by name in every snapshot, or one path's version history
    #[command(after_help = "Examples:
  arca find 'report*.odt'                      (every snapshot's matches, newest first)
  arca find -i '*.JPG' --host laptop
  arca find 'src/*.rs' --newest '2026-11-01'   (a pattern with / matches the path)
  arca find --path /home/me/report.odt         (the file's versions: size, mtime, content id, snapshots)
  arca find --path /etc/fstab --json
  arca find --blob 3fa9c1d2 5be01c77               (the files holding these data blobs)
  arca find --tree 9e0a1b2c --host laptop          (the directories that are this tree)
  arca find --pack 7d3e4f50 --json                 (the files and directories using its blobs)
  arca find '*.odt' --long --human-readable --reverse   (mode, size and mtime; oldest snapshot first)
  arca find --blob 3fa9c1d2 --show-pack-id         (also the pack each use's blob is stored in)
Answers come from a catalog in the local cache, updated with the snapshots added since
(--blob, --tree and --pack walk the snapshots' trees instead).")]
    Find(FindArgs),
    /// Show what changed between two snapshots, or between a snapshot and a directory on disk
    #[command(after_help = "Examples:
  arca diff 3fa9c1d2 latest
  arca diff 3fa9c1d2 latest --metadata       (also permission, owner, time and xattr changes: U)
  arca diff latest:/home/me/work 3fa9c1d2:/home/me/work
  arca diff latest /home/me/work             (the snapshot against the live directory)
  arca diff 3fa9c1d2 latest --json
Lines: + added, - removed, M content changed, T type changed, U metadata changed.")]
    Diff(DiffArgs),
    /// Write a file from a snapshot to stdout, or a directory as a tar or zip archive
    #[command(after_help = "Examples:
  arca dump latest /home/me/report.odt > report.odt
  arca dump latest /home/me/work > work.tar          (a directory: tar by default)
  arca dump latest /home/me/work --archive zip --target work.zip
  arca dump 3fa9c1d2 / | tar -t                      (the whole snapshot)
tar keeps every name byte for byte, owners, nanosecond times, xattrs, hard links and devices.")]
    Dump(DumpArgs),
    /// Count what snapshots hold: restore size, distinct files, blobs, raw stored data
    #[command(after_help = "Examples:
  arca stats                               (restore size of every snapshot)
  arca stats latest --mode raw-data        (stored size, compression and deduplication ratios)
  arca stats --mode files-by-contents --host laptop --json")]
    Stats(StatsArgs),
    /// Show the effective settings (profiles merged, command line applied; secrets masked)
    #[command(subcommand)]
    Config(ConfigCommand),
    /// List the storage options (-o SERVICE.KEY=VALUE) arca sets or reads, per service
    #[command(after_help = "Examples:
  arca options
  arca options --json
  arca -r s3:my-bucket/arca -o s3.region=eu-west-1 snapshots")]
    Options,
    /// List the features this build of arca was compiled with
    #[command(after_help = "Examples:\n  arca features\n  arca features --json")]
    Features,
    /// Write man pages generated from the command definitions
    #[command(after_help = "Example:\n  arca generate --man /usr/local/share/man/man1 && man arca-backup")]
    Generate {
        /// Directory for arca.1 and arca-COMMAND.1
        #[arg(long, value_name = "DIR")]
        man: PathBuf,
    },
    /// How a profile's jobs are doing: last runs, next scheduled runs, newest snapshot per source, warnings
    #[command(
        after_help = "Examples:\n  arca -P laptop status\n  arca status   (every profile that has run a job; --json: an array)\n  arca -P laptop status --json | jq .warnings\n  arca -P laptop status -q   (exit 4: something to look at)\n  arca -P laptop status --notify   (tell [notify] about sources that became stale)"
    )]
    Status(super::automation_args::StatusArgs),
    /// Print version information: arca's version, the platform, the format versions it reads
    #[command(after_help = "Examples:\n  arca version\n  arca version --json | jq -r .version")]
    Version,
    /// List what the repository holds: snapshots, index, packs, keys, locks or blobs (one id per line)
    #[command(after_help = "Examples:
  arca list snapshots
  arca list packs | wc -l
  arca list blobs                (TYPE ID per line: data or tree)
  arca list locks --json")]
    List(ListArgs),
    /// Upgrade the repository's format: list the migrations that apply, or apply one
    #[command(after_help = "Examples:
  arca migrate                            (the migrations and whether they apply)
  arca migrate upgrade_repo_v4 --dry-run  (what would change: from format 1 or 2 every pack is copied)
  arca migrate upgrade_repo_v4            (exclusive lock; checks the repository after)
An interrupted migration leaves a repository that opens and checks: run it again to finish.")]
    Migrate(MigrateArgs),
    /// List the local caches (one per repository) with size and last use, or remove old ones
    #[command(after_help = "Examples:
  arca cache
  arca cache --cleanup                 (remove caches unused for more than 30 days)
  arca cache --cleanup --max-age 7 --no-size
  arca --cache-dir /var/cache/arca cache --json")]
    Cache(CacheArgs),
}

#[derive(Args, Debug)]
pub struct CacheArgs {
    /// Remove the caches unused for more than --max-age days
    #[arg(long)]
    pub cleanup: bool,
    /// Age in days after which a cache counts as old
    #[arg(long, value_name = "DAYS", default_value_t = 30)]
    pub max_age: u64,
    /// Don't count the size of each cache (faster)
    #[arg(long)]
    pub no_size: bool,
}

#[derive(Args, Debug)]
pub struct ListArgs {
    /// snapshots, index, packs, keys, locks or blobs
    #[arg(value_parser = clap::builder::PossibleValuesParser::new(crate::commands::list::ListWhat::NAMES))]
    pub what: String,
}

#[derive(Args, Debug)]
pub struct MigrateArgs {
    /// The migration to apply (none: list them)
    pub name: Option<String>,
    /// Say what would be done without writing anything
    #[arg(long, short = 'n')]
    pub dry_run: bool,
}

#[derive(Args, Debug)]
pub struct CopyArgs {
    /// Snapshots to copy (ids, prefixes, latest); none: every snapshot the filters select
    pub ids: Vec<String>,
    /// Copy from this repository into -r
    #[arg(long, value_name = "REPO", env = "ARCA_FROM_REPOSITORY", conflicts_with = "to_repo")]
    pub from_repo: Option<String>,
    /// Read --from-repo (the repository to copy from) from this file's first line
    #[arg(long, value_name = "FILE", env = "ARCA_FROM_REPOSITORY_FILE")]
    pub from_repository_file: Option<PathBuf>,
    /// Password file of --from-repo
    #[arg(long, value_name = "FILE", env = "ARCA_FROM_PASSWORD_FILE")]
    pub from_password_file: Option<PathBuf>,
    /// Password command of --from-repo
    #[arg(long, value_name = "COMMAND", env = "ARCA_FROM_PASSWORD_COMMAND")]
    pub from_password_command: Option<String>,
    /// Copy from -r into this repository
    #[arg(long, value_name = "REPO")]
    pub to_repo: Option<String>,
    /// Password file of --to-repo
    #[arg(long, value_name = "FILE")]
    pub to_password_file: Option<PathBuf>,
    /// Password command of --to-repo
    #[arg(long, value_name = "COMMAND")]
    pub to_password_command: Option<String>,
    #[command(flatten)]
    pub filter: FilterArgs,
}

#[derive(Args, Debug)]
pub struct RewriteArgs {
    /// Snapshots to rewrite (ids, prefixes, latest); none: every snapshot the filters select
    pub ids: Vec<String>,
    /// Remove paths matching this pattern (repeatable)
    #[arg(long, short = 'e')]
    pub exclude: Vec<String>,
    /// Like --exclude, case-insensitive
    #[arg(long)]
    pub iexclude: Vec<String>,
    /// Read exclude patterns from a file (repeatable)
    #[arg(long)]
    pub exclude_file: Vec<PathBuf>,
    /// Like --exclude-file, case-insensitive
    #[arg(long)]
    pub iexclude_file: Vec<PathBuf>,
    /// Keep only paths matching this pattern and the directories above them (repeatable)
    #[arg(long, short = 'i')]
    pub include: Vec<String>,
    /// Like --include, case-insensitive
    #[arg(long)]
    pub iinclude: Vec<String>,
    /// Set the host name of the new snapshots
    #[arg(long, value_name = "HOST")]
    pub new_host: Option<String>,
    /// Set the time of the new snapshots (e.g. '2026-11-01 12:00')
    #[arg(long, value_name = "TIME")]
    pub new_time: Option<String>,
    /// Remove the original snapshots once their rewrites are stored
    #[arg(long)]
    pub forget: bool,
    /// Say what would change without writing anything
    #[arg(long, short = 'n')]
    pub dry_run: bool,
    #[command(flatten)]
    pub filter: FilterArgs,
}

#[derive(Subcommand, Debug)]
pub enum ConfigCommand {
    #[command(after_help = "Examples:\n  arca -P laptop config show\n  arca -P laptop,offsite config show --json")]
    /// Print the merged settings: repository, options, password source and each profile section
    Show,
}

#[derive(Args, Debug)]
pub struct TagArgs {
    /// Snapshots to change (ids, prefixes, latest); none: every snapshot the filters select
    pub ids: Vec<String>,
    /// Replace the tags with these (comma-separated or repeated; '' removes all)
    #[arg(long, value_name = "TAGS")]
    pub set: Vec<String>,
    /// Add these tags
    #[arg(long, value_name = "TAGS")]
    pub add: Vec<String>,
    /// Remove these tags
    #[arg(long, value_name = "TAGS")]
    pub remove: Vec<String>,
    #[command(flatten)]
    pub filter: FilterArgs,
}

#[derive(Args, Debug, Default, Clone)]
pub struct FilterArgs {
    /// Only snapshots of this host (repeatable)
    #[arg(long = "host", short = 'H', env = "ARCA_HOST")]
    pub hosts: Vec<String>,
    /// Only snapshots with these tags (comma-separated = all of them; repeat = any)
    #[arg(long = "tag")]
    pub tags: Vec<String>,
    /// Only snapshots with this path (repeatable)
    #[arg(long = "path")]
    pub paths: Vec<String>,
}

#[derive(Args, Debug)]
pub struct InitArgs {
    /// Chunk sizes MIN,AVG,MAX in bytes (even; default 524288,1048576,8388608)
    #[arg(long, conflicts_with = "copy_chunker_params")]
    pub chunker_params: Option<String>,
    /// Chunk like --from-repo (same sizes and gear key), so copies between the two deduplicate
    #[arg(long)]
    pub copy_chunker_params: bool,
    /// The repository to take chunker parameters from
    #[arg(long, value_name = "REPO")]
    pub from_repo: Option<String>,
    /// Read --from-repo from this file's first line
    #[arg(long, value_name = "FILE")]
    pub from_repository_file: Option<PathBuf>,
    /// Password file of --from-repo
    #[arg(long, value_name = "FILE", env = "ARCA_FROM_PASSWORD_FILE")]
    pub from_password_file: Option<PathBuf>,
    /// Password command of --from-repo
    #[arg(long, value_name = "COMMAND", env = "ARCA_FROM_PASSWORD_COMMAND")]
    pub from_password_command: Option<String>,
}

#[derive(Args, Debug)]
pub struct BackupArgs {
    /// Files and directories to back up
    pub paths: Vec<PathBuf>,
    /// Tag the snapshot (repeatable, or comma-separated)
    #[arg(long = "tag")]
    pub tags: Vec<String>,
    /// Host name to record (default: this host)
    #[arg(long, short = 'H', env = "ARCA_HOST")]
    pub host: Option<String>,
    /// Time to record instead of now (e.g. "2026-11-01 12:00:00")
    #[arg(long)]
    pub time: Option<String>,
    /// Compare with this snapshot instead of the latest one of the same host and paths
    #[arg(long)]
    pub parent: Option<String>,
    /// Read every file, ignoring the parent snapshot
    #[arg(long)]
    pub force: bool,
    /// Do everything but write to the repository
    #[arg(long, short = 'n')]
    pub dry_run: bool,
    /// Exclude paths matching a pattern (repeatable)
    #[arg(long, short = 'e')]
    pub exclude: Vec<String>,
    /// Like --exclude, case-insensitive
    #[arg(long)]
    pub iexclude: Vec<String>,
    /// Read exclude patterns from a file
    #[arg(long)]
    pub exclude_file: Vec<PathBuf>,
    /// Read case-insensitive exclude patterns from a file
    #[arg(long)]
    pub iexclude_file: Vec<PathBuf>,
    /// Exclude directories holding a CACHEDIR.TAG
    #[arg(long)]
    pub exclude_caches: bool,
    /// Exclude directories holding this file (FILE or FILE:HEADER)
    #[arg(long)]
    pub exclude_if_present: Vec<String>,
    /// Exclude files larger than this (e.g. 500M, 2G)
    #[arg(long)]
    pub exclude_larger_than: Option<String>,
    /// Don't cross file system boundaries
    #[arg(long, short = 'x')]
    pub one_file_system: bool,
    /// Read the paths to back up from a file (one per line; # comments, blank lines skipped)
    #[arg(long)]
    pub files_from: Vec<PathBuf>,
    /// Read the paths to back up from a file, one per line, taken as written
    #[arg(long, value_name = "FILE")]
    pub files_from_verbatim: Vec<PathBuf>,
    /// Read the paths to back up from a file, separated by NUL bytes (find -print0)
    #[arg(long, value_name = "FILE")]
    pub files_from_raw: Vec<PathBuf>,
    /// Store no new snapshot when nothing changed since the parent
    #[arg(long)]
    pub skip_if_unchanged: bool,
    /// Only these paths may have changed since the parent snapshot (one absolute path per
    /// line, `-` for stdin): walk only the directories leading to them, reuse the rest of the
    /// parent's tree without listing it (no parent: a full walk)
    #[arg(long, value_name = "FILE", conflicts_with_all = ["stdin", "stdin_from_command", "changed_paths_0"])]
    pub changed_paths: Option<PathBuf>,
    /// Like --changed-paths, the paths separated by NUL bytes (names may hold newlines)
    #[arg(long, value_name = "FILE", conflicts_with_all = ["stdin", "stdin_from_command"])]
    pub changed_paths_0: Option<PathBuf>,
    /// Back up standard input
    #[arg(long)]
    pub stdin: bool,
    /// File name for --stdin and --stdin-from-command
    #[arg(long, default_value = "stdin")]
    pub stdin_filename: String,
    /// Back up the output of a command (the arguments after the options)
    #[arg(long)]
    pub stdin_from_command: bool,
    /// off, auto, max, or a zstd level 1-22
    #[arg(long, default_value = "auto", env = "ARCA_COMPRESSION")]
    pub compression: String,
    /// Files read at once
    #[arg(long, default_value_t = 2, env = "ARCA_READ_CONCURRENCY")]
    pub read_concurrency: usize,
    /// Store access times too
    #[arg(long)]
    pub with_atime: bool,
    /// Don't count the files ahead of the backup (progress then shows no percentage or ETA)
    #[arg(long)]
    pub no_scan: bool,
    /// Ignore inode number and ctime changes when checking for modified files (for file
    /// systems whose inode numbers are not stable, e.g. some network or FUSE mounts)
    #[arg(long)]
    pub ignore_inode: bool,
    /// Ignore ctime changes when checking for modified files
    #[arg(long)]
    pub ignore_ctime: bool,
}

#[derive(Args, Debug)]
pub struct SnapshotsArgs {
    #[command(flatten)]
    pub filter: FilterArgs,
    /// Snapshot ids (or prefixes, or latest) to show; one that names no snapshot is an error
    pub ids: Vec<String>,
    /// Only the N newest snapshots of each host and paths (of each group with --group-by)
    #[arg(long, value_name = "N")]
    pub latest: Option<usize>,
    /// Show the snapshots in groups by these fields (host, paths, tags)
    #[arg(long, short = 'g', value_name = "FIELDS")]
    pub group_by: Option<String>,
    /// A narrower table: no paths
    #[arg(long, short = 'c')]
    pub compact: bool,
}

#[cfg(feature = "serve")]
#[derive(Args, Debug)]
pub struct ServeArgs {
    /// Address and port to listen on (port 0: any free port)
    #[arg(long, value_name = "ADDR:PORT", default_value = "127.0.0.1:8642")]
    pub listen: std::net::SocketAddr,
    /// Users who may log in, one `USER:ARGON2-PHC-HASH` a line (instead of a printed token)
    #[arg(long, value_name = "FILE")]
    pub htpasswd: Option<PathBuf>,
    /// Serve plain HTTP on an address that is not loopback (otherwise refused)
    #[arg(long)]
    pub insecure_http: bool,
    /// Look for new snapshots at most this often (e.g. 30s, 5m)
    #[arg(long, value_name = "DURATION", default_value = "30s")]
    pub refresh: String,
    /// A directory restores from the web may write into (repeatable; adds to the profile's serve.restore-roots; none: no restores)
    #[arg(long = "restore-root", value_name = "DIR")]
    pub restore_roots: Vec<PathBuf>,
    /// Serve HTTPS with this PEM certificate chain (with --tls-key; the cookie is then Secure)
    #[arg(long, value_name = "PEM", requires = "tls_key")]
    pub tls_cert: Option<PathBuf>,
    /// The PEM private key of --tls-cert
    #[arg(long, value_name = "PEM", requires = "tls_cert")]
    pub tls_key: Option<PathBuf>,
}

#[derive(Args, Debug)]
pub struct MountArgs {
    /// An existing directory to mount on
    pub mountpoint: PathBuf,
    /// Let other users see the mount (needs user_allow_other in /etc/fuse.conf unless root)
    #[arg(long)]
    pub allow_other: bool,
    /// Where snapshots appear (repeatable; default: ids/%i snapshots/%T hosts/%h/%T tags/%t/%T)
    #[arg(long = "path-template", value_name = "TEMPLATE")]
    pub path_templates: Vec<String>,
    /// strftime format of %T, in UTC
    #[arg(long, value_name = "FORMAT", default_value = "%Y-%m-%dT%H:%M:%SZ")]
    pub time_template: String,
    /// Memory for decrypted file content (e.g. 64M, 1G)
    #[arg(long, value_name = "SIZE", default_value = "64M")]
    pub cache_size: String,
    /// Threads answering the kernel (a slow read does not block `ls`)
    #[arg(long, default_value_t = 4)]
    pub threads: usize,
    /// Return once mounted and keep serving in the background (stop it with umount or kill)
    #[arg(long, short = 'd', conflicts_with = "foreground")]
    pub background: bool,
    /// Serve in the foreground until unmounted or interrupted (the default)
    #[arg(long, short = 'f')]
    pub foreground: bool,
    /// Look for new snapshots at most this often (e.g. 30s, 5m)
    #[arg(long, value_name = "DURATION", default_value = "30s")]
    pub refresh: String,
    /// Only the snapshots these select appear in the mount (as `snapshots` selects them)
    #[command(flatten)]
    pub filter: FilterArgs,
}

#[derive(Args, Debug)]
pub struct RestoreArgs {
    /// Snapshot: id, prefix, latest or latest@TIME (a date alone: the end of that day), optionally :PATH for a subdirectory
    pub snapshot: String,
    /// Directory to restore into
    #[arg(long, short = 't')]
    pub target: PathBuf,
    /// Restore only paths matching this pattern (repeatable)
    #[arg(long, short = 'i')]
    pub include: Vec<String>,
    /// Like --include, case-insensitive
    #[arg(long)]
    pub iinclude: Vec<String>,
    /// Don't restore paths matching this pattern (repeatable)
    #[arg(long, short = 'e')]
    pub exclude: Vec<String>,
    /// Like --exclude, case-insensitive
    #[arg(long)]
    pub iexclude: Vec<String>,
    /// Read include patterns from a file (repeatable)
    #[arg(long, value_name = "FILE")]
    pub include_file: Vec<PathBuf>,
    /// Like --include-file, case-insensitive
    #[arg(long, value_name = "FILE")]
    pub iinclude_file: Vec<PathBuf>,
    /// Read exclude patterns from a file (repeatable)
    #[arg(long, value_name = "FILE")]
    pub exclude_file: Vec<PathBuf>,
    /// Like --exclude-file, case-insensitive
    #[arg(long, value_name = "FILE")]
    pub iexclude_file: Vec<PathBuf>,
    /// always, if-changed, if-newer or never
    #[arg(long, default_value = "always")]
    pub overwrite: String,
    /// Delete files in the target that are not in the snapshot
    #[arg(long)]
    pub delete: bool,
    /// Read restored files back and check them
    #[arg(long)]
    pub verify: bool,
    /// Show what would be restored
    #[arg(long, short = 'n')]
    pub dry_run: bool,
    /// Write runs of zeros as holes
    #[arg(long)]
    pub sparse: bool,
    /// Don't restore owners, even as root: everything belongs to the restoring user
    #[arg(long)]
    pub no_owner: bool,
    /// Don't restore device nodes and fifos (for snapshots you don't trust)
    #[arg(long)]
    pub no_special: bool,
    /// Drop setuid and setgid bits from restored modes (for snapshots you don't trust)
    #[arg(long)]
    pub no_setuid: bool,
    /// Restore only the extended attributes whose name matches this glob (repeatable; default: all)
    #[arg(long, value_name = "PATTERN", conflicts_with = "exclude_xattr")]
    pub include_xattr: Vec<String>,
    /// Don't restore extended attributes whose name matches this glob (repeatable)
    #[arg(long, value_name = "PATTERN")]
    pub exclude_xattr: Vec<String>,
    /// Files written at once
    #[arg(long, default_value_t = 8)]
    pub concurrency: usize,
    #[command(flatten)]
    pub filter: FilterArgs,
}
