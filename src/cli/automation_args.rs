//! Arguments of the verbs that make backups run themselves: `arca schedule`, `arca daemon`,
//! `arca watch` and `arca status`.

use std::path::PathBuf;

use clap::{Args, Subcommand};

#[derive(Subcommand, Debug)]
pub enum ScheduleCommand {
    /// Write and enable a systemd timer and service per [schedule.<job>] of the profiles
    #[command(after_help = "Examples:
  arca -P laptop schedule install              (user units; as root: system units)
  arca -P laptop schedule install --launchd    (without systemd: crontab lines and launchd plists)
  arca -P laptop schedule install --unit-dir ./units   (write only, for packagers)")]
    Install(ScheduleInstallArgs),
    /// Disable and delete the units `schedule install` wrote for the profiles
    #[command(after_help = "Examples:
  arca -P laptop schedule remove
  arca -P laptop schedule remove --unit-dir ./units")]
    Remove(UnitDirArgs),
    /// List the arca units installed in the unit directory
    #[command(after_help = "Examples:
  arca schedule list
  arca schedule list --json")]
    List(UnitDirArgs),
    /// Each scheduled job of the profiles: its unit, calendar, next and last run
    #[command(after_help = "Examples:
  arca -P laptop schedule status
  arca -P laptop schedule status --json")]
    Status(UnitDirArgs),
}

#[derive(Args, Debug)]
pub struct UnitDirArgs {
    /// Unit directory (default: ~/.config/systemd/user, or /etc/systemd/system as root);
    /// systemctl is not called for units written here
    #[arg(long, value_name = "DIR")]
    pub unit_dir: Option<PathBuf>,
}

#[derive(Args, Debug)]
pub struct ScheduleInstallArgs {
    #[command(flatten)]
    pub dir: UnitDirArgs,
    /// Also print a launchd agent plist per job (macOS)
    #[arg(long)]
    pub launchd: bool,
}

#[derive(Args, Debug)]
pub struct DaemonArgs {
    /// Serve Prometheus metrics of the profiles' runs at http://ADDR/metrics
    #[arg(long, value_name = "ADDR")]
    pub metrics_listen: Option<String>,
}

#[derive(Args, Debug)]
pub struct WatchArgs {
    /// Paths to watch (default: the profile's `[watch] paths`, else its backup sources);
    /// without a profile, also the paths backed up
    pub paths: Vec<PathBuf>,
    /// Quiet time after the last change before a backup (default 30s, or `[watch] debounce`)
    #[arg(long, value_name = "DURATION")]
    pub debounce: Option<String>,
    /// Longest wait after the first unsaved change (default 10m, or `[watch] max-delay`)
    #[arg(long, value_name = "DURATION")]
    pub max_delay: Option<String>,
    /// Least time between two backups (default 1m, or `[watch] min-interval`)
    #[arg(long, value_name = "DURATION")]
    pub min_interval: Option<String>,
    /// How changes are reported: fanotify (root, Linux 5.9+: one mark per file system),
    /// inotify, or auto (fanotify where available; the default, or `[watch] backend`)
    #[arg(long, value_name = "BACKEND", value_parser = crate::automation::watch::Backend::NAMES)]
    pub backend: Option<String>,
}

#[derive(Args, Debug)]
pub struct StatusArgs {
    /// Send the profile's stale notifications ([notify] stale-after), once per stale source
    #[arg(long)]
    pub notify: bool,
}
