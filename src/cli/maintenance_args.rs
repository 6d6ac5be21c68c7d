//! Arguments of the maintenance verbs: `unlock`, `forget`, `prune`, `repair` and `check`.

use clap::{Args, Subcommand};

use super::args::FilterArgs;

#[derive(Args, Debug)]
pub struct UnlockArgs {
    /// Remove all locks, even fresh ones
    #[arg(long)]
    pub remove_all: bool,
}

#[derive(Args, Debug)]
pub struct ForgetArgs {
    /// Snapshots to remove (ids, prefixes or latest), instead of a policy
    pub ids: Vec<String>,
    /// Keep the last N snapshots ("unlimited" for all)
    #[arg(long, short = 'l', value_name = "N")]
    pub keep_last: Option<String>,
    /// Keep the last N hourly snapshots
    #[arg(long, short = 'H', value_name = "N")]
    pub keep_hourly: Option<String>,
    /// Keep the last N daily snapshots
    #[arg(long, short = 'd', value_name = "N")]
    pub keep_daily: Option<String>,
    /// Keep the last N weekly snapshots
    #[arg(long, short = 'w', value_name = "N")]
    pub keep_weekly: Option<String>,
    /// Keep the last N monthly snapshots
    #[arg(long, short = 'm', value_name = "N")]
    pub keep_monthly: Option<String>,
    /// Keep the last N yearly snapshots
    #[arg(long, short = 'y', value_name = "N")]
    pub keep_yearly: Option<String>,
    /// Keep snapshots newer than DURATION before the newest one (e.g. 1y5m7d2h)
    #[arg(long, value_name = "DURATION")]
    pub keep_within: Option<String>,
    /// Keep hourly snapshots within DURATION of the newest
    #[arg(long, value_name = "DURATION")]
    pub keep_within_hourly: Option<String>,
    /// Keep daily snapshots within DURATION of the newest
    #[arg(long, value_name = "DURATION")]
    pub keep_within_daily: Option<String>,
    /// Keep weekly snapshots within DURATION of the newest
    #[arg(long, value_name = "DURATION")]
    pub keep_within_weekly: Option<String>,
    /// Keep monthly snapshots within DURATION of the newest
    #[arg(long, value_name = "DURATION")]
    pub keep_within_monthly: Option<String>,
    /// Keep yearly snapshots within DURATION of the newest
    #[arg(long, value_name = "DURATION")]
    pub keep_within_yearly: Option<String>,
    /// Keep snapshots with all these tags (comma-separated; repeat for alternatives)
    #[arg(long, value_name = "TAGS")]
    pub keep_tag: Vec<String>,
    /// Group snapshots by these fields (host, paths, tags; '' for one group)
    #[arg(long, short = 'g', default_value = "host,paths")]
    pub group_by: String,
    /// Only snapshots of this host (repeatable)
    #[arg(long = "host", env = "ARCA_HOST")]
    pub hosts: Vec<String>,
    /// Only snapshots with these tags (comma-separated = all of them; repeat = any)
    #[arg(long = "tag")]
    pub tags: Vec<String>,
    /// Only snapshots with this path (repeatable)
    #[arg(long = "path")]
    pub paths: Vec<String>,
    /// Allow a policy to remove every snapshot of a group; with no policy, remove every
    /// snapshot that --host, --tag or --path select (one of them is required)
    #[arg(long)]
    pub unsafe_allow_remove_all: bool,
    /// Run prune afterwards
    #[arg(long)]
    pub prune: bool,
    /// A narrower listing: no host, tags or paths
    #[arg(long, short = 'c')]
    pub compact: bool,
    #[command(flatten)]
    pub prune_opts: PruneOpts,
}

#[derive(Args, Debug)]
pub struct PruneArgs {
    #[command(flatten)]
    pub opts: PruneOpts,
}

#[derive(Args, Debug, Clone)]
pub struct PruneOpts {
    /// Only show what would be done
    #[arg(long, short = 'n')]
    pub dry_run: bool,
    /// Tolerate this much unused data: a percentage of the used data, a size, or "unlimited"
    #[arg(long, default_value = "5%", value_name = "LIMIT")]
    pub max_unused: String,
    /// Repack at most this much data in one run (e.g. 10G)
    #[arg(long, value_name = "SIZE")]
    pub max_repack_size: Option<String>,
    /// Also repack packs smaller than the target pack size
    #[arg(long)]
    pub repack_small: bool,
    /// Also repack packs holding blobs stored without compression, compressing them
    #[arg(long)]
    pub repack_uncompressed: bool,
    /// Delete packs only after they have been marked unused for this long
    #[arg(long, default_value = "23h", value_name = "DURATION")]
    pub keep_delete: String,
    /// Delete at once, under an exclusive lock (only when no other client uses the repository)
    #[arg(long)]
    pub instant_delete: bool,
}

#[derive(Subcommand, Debug)]
pub enum RepairCommand {
    #[command(
        after_help = "Examples:\n  arca repair config --dry-run\n  arca repair config\n  arca repair config --chunker-params 256K,512K,2M   (the bounds given to `init --chunker-params`)"
    )]
    /// Rebuild a missing or damaged config from a key and the stored data (refuses when it cannot be proved)
    Config {
        /// The chunker bounds the repository was made with, when not the defaults
        #[arg(long, value_name = "MIN,AVG,MAX")]
        chunker_params: Option<String>,
        /// Only show what would be written
        #[arg(long, short = 'n')]
        dry_run: bool,
    },
    #[command(after_help = "Examples:\n  arca repair index\n  arca repair index --read-data --dry-run")]
    /// Rebuild the index from the headers of the stored packs (salvaging damaged packs)
    Index {
        /// Read every pack whole and salvage the readable blobs of damaged ones
        #[arg(long)]
        read_data: bool,
        /// Only show what would be done
        #[arg(long, short = 'n')]
        dry_run: bool,
    },
    #[command(after_help = "Examples:
  arca check --read-data            (names damaged packs)
  arca repair packs 3fa9c1d2 --dry-run
  arca repair packs 3fa9c1d2 5be01c77 && arca repair snapshots --forget")]
    /// Salvage the readable blobs of damaged packs into new packs, then remove the damaged packs
    Packs {
        /// Pack ids (or unique prefixes), as `check` names them
        ids: Vec<String>,
        /// Only show what would be done
        #[arg(long, short = 'n')]
        dry_run: bool,
    },
    #[command(
        after_help = "Examples:\n  arca repair snapshots --dry-run\n  arca repair snapshots --forget        (replace the damaged snapshots instead of adding repaired ones)"
    )]
    /// Rewrite snapshots that reference missing data: damaged files keep what can be read
    Snapshots {
        /// Snapshots to repair (default: all)
        ids: Vec<String>,
        #[command(flatten)]
        filter: FilterArgs,
        /// Remove the original snapshots once their repaired versions are stored
        #[arg(long)]
        forget: bool,
        /// Only show what would be done
        #[arg(long, short = 'n')]
        dry_run: bool,
    },
}

#[derive(Args, Debug)]
pub struct CheckArgs {
    /// Download and authenticate every blob
    #[arg(long)]
    pub read_data: bool,
    /// Read only part of the data: n/t (the n-th of t groups), x% (random), or a size (random)
    #[arg(long, value_name = "SUBSET")]
    pub read_data_subset: Option<String>,
    /// Use the local cache (by default check reads everything from the repository)
    #[arg(long)]
    pub with_cache: bool,
    /// Instead, compare a snapshot with a full walk of its paths as they are now: what it
    /// missed (changed before it was taken) and what changed since (default: the newest
    /// snapshot of this host whose paths exist here)
    #[arg(
        long,
        value_name = "SNAPSHOT",
        num_args = 0..=1,
        default_missing_value = "",
        conflicts_with_all = ["read_data", "read_data_subset", "with_cache"]
    )]
    pub compare_live: Option<String>,
}
