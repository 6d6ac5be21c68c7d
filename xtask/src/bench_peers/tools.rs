//! One adapter per tool: how to init a repository, back up, restore and ask the version, each
//! at the tool's documented defaults with encryption on, non-interactive.
//!
//! Every repository lives at `<work>/repo` with everything else of the tool (cache, key file,
//! send log, borg's security dir) in `<work>/aux` beside it, so each rep starts with fresh
//! caches and nothing of the user's own configuration leaks in. Passwords come from the
//! environment; bupstash has none and uses a key file generated (untimed) before `init`.
//!
//! Backups run inside the corpus directory on `.` (bupstash takes the absolute path), so a
//! restore into an empty directory reproduces the corpus at its top, or for arca, which records
//! absolute paths, below them: [`Adapter::restored_corpus`] says where the restore check looks. "Latest" is the third backup: borg names its archives `a1`, `a2`, `a3` and
//! bupstash tags its puts `backup=1`... to find it without parsing any output.

use std::path::{Path, PathBuf};
use std::process::Command;

use crate::cmd;

const PASSWORD: &str = "bench-password-not-secret";

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Tool {
    Arca,
    Restic,
    Borg,
    Rustic,
    Bupstash,
}

impl Tool {
    pub const ALL: [Tool; 5] = [Tool::Arca, Tool::Restic, Tool::Borg, Tool::Rustic, Tool::Bupstash];

    pub fn name(self) -> &'static str {
        match self {
            Tool::Arca => "arca",
            Tool::Restic => "restic",
            Tool::Borg => "borg",
            Tool::Rustic => "rustic",
            Tool::Bupstash => "bupstash",
        }
    }

    pub fn parse(s: &str) -> Option<Tool> {
        Tool::ALL.into_iter().find(|t| t.name() == s)
    }

    /// The settings used, for the report.
    pub fn settings(self) -> &'static str {
        match self {
            Tool::Arca => {
                "defaults (`init`: CDC 512 KiB / 1 MiB / 8 MiB); password from ARCA_PASSWORD, cache via ARCA_CACHE_DIR"
            }
            Tool::Restic => "defaults: repository v2, compression auto (zstd), Rabin CDC; AES-256-CTR + Poly1305",
            Tool::Borg => {
                "`init -e repokey-blake2`, `create --compression zstd,3` (borg's default is lz4), default buzhash CDC"
            }
            Tool::Rustic => "defaults: repository v2 (restic's format), zstd, Rabin CDC; AES-256-CTR + Poly1305",
            Tool::Bupstash => {
                "generated key file (`new-key`), defaults (zstd, its CDC), send log beside the repository"
            }
        }
    }
}

/// The working directory of one rep of one tool on one corpus.
pub struct Repo {
    pub work: PathBuf,
}

impl Repo {
    pub fn path(&self) -> PathBuf {
        self.work.join("repo")
    }

    pub fn aux(&self) -> PathBuf {
        self.work.join("aux")
    }

    pub fn restored(&self) -> PathBuf {
        self.work.join("restored")
    }
}

pub struct Adapter {
    pub tool: Tool,
    program: PathBuf,
}

impl Adapter {
    pub fn new(tool: Tool, program: PathBuf) -> Adapter {
        Adapter { tool, program }
    }

    /// The tool's program with the repository, password and cache set in the environment.
    pub fn command(&self, repo: &Repo) -> Command {
        let (r, aux) = (repo.path(), repo.aux());
        let mut c = Command::new(&self.program);
        match self.tool {
            Tool::Arca => c
                .env("ARCA_REPOSITORY", &r)
                .env("ARCA_PASSWORD", PASSWORD)
                .env("ARCA_CACHE_DIR", aux.join("cache"))
                .env("XDG_CONFIG_HOME", aux.join("config"))
                .env_remove("ARCA_PASSWORD_FILE")
                .env_remove("ARCA_PASSWORD_COMMAND")
                .env_remove("ARCA_PROFILE"),
            Tool::Restic => c
                .env("RESTIC_REPOSITORY", &r)
                .env("RESTIC_PASSWORD", PASSWORD)
                .env("RESTIC_CACHE_DIR", aux.join("cache"))
                .env_remove("RESTIC_PASSWORD_FILE")
                .env_remove("RESTIC_PASSWORD_COMMAND"),
            Tool::Borg => c
                .env("BORG_REPO", &r)
                .env("BORG_PASSPHRASE", PASSWORD)
                .env("BORG_BASE_DIR", &aux)
                .env("BORG_DISPLAY_PASSPHRASE", "no")
                .env("BORG_RELOCATED_REPO_ACCESS_IS_OK", "yes")
                .env("BORG_UNKNOWN_UNENCRYPTED_REPO_ACCESS_IS_OK", "yes")
                .env_remove("BORG_PASSCOMMAND"),
            Tool::Rustic => c
                .env("RUSTIC_REPOSITORY", &r)
                .env("RUSTIC_PASSWORD", PASSWORD)
                .env("RUSTIC_CACHE_DIR", aux.join("cache"))
                .env("XDG_CONFIG_HOME", aux.join("config"))
                .env_remove("RUSTIC_PASSWORD_FILE")
                .env_remove("RUSTIC_PASSWORD_COMMAND"),
            Tool::Bupstash => c
                .env("BUPSTASH_REPOSITORY", &r)
                .env("BUPSTASH_KEY", aux.join("key"))
                .env("BUPSTASH_SEND_LOG", aux.join("sendlog"))
                .env("BUPSTASH_QUERY_CACHE", aux.join("qcache")),
        };
        c
    }

    /// An untimed step before `init`, if the tool needs one.
    pub fn setup(&self, repo: &Repo) -> Option<Command> {
        let mut c = self.command(repo);
        match self.tool {
            Tool::Bupstash => c.arg("new-key").arg("-o").arg(repo.aux().join("key")),
            _ => return None,
        };
        Some(c)
    }

    pub fn init(&self, repo: &Repo) -> Command {
        let mut c = self.command(repo);
        match self.tool {
            Tool::Arca | Tool::Restic => c.args(["init", "-q"]),
            Tool::Borg => c.args(["init", "--encryption", "repokey-blake2"]).arg(repo.path()),
            Tool::Rustic => c.args(["--no-progress", "init"]),
            Tool::Bupstash => c.arg("init"),
        };
        c
    }

    /// The `n`-th backup (1, 2, 3) of `source` in this repository.
    pub fn backup(&self, repo: &Repo, source: &Path, n: usize) -> Command {
        let mut c = self.command(repo);
        c.current_dir(source);
        match self.tool {
            Tool::Arca | Tool::Restic => c.args(["backup", "-q", "."]),
            Tool::Borg => c.args(["create", "--compression", "zstd,3", &format!("::a{n}"), "."]),
            Tool::Rustic => c.args(["--no-progress", "backup", "."]),
            Tool::Bupstash => c.args(["put", "--no-progress", &format!("backup={n}"), "::"]).arg(source),
        };
        c
    }

    /// The `n`-th backup after a few known changes (the watch row): arca is told them with
    /// `--changed-paths LIST` (absolute paths, as `arca watch` writes them); a peer, which has
    /// no such input, backs up as it always does.
    pub fn backup_changed(&self, repo: &Repo, source: &Path, n: usize, list: &Path) -> Command {
        if self.tool != Tool::Arca {
            return self.backup(repo, source, n);
        }
        let mut c = self.command(repo);
        c.current_dir(source).args(["backup", "-q", "--changed-paths"]).arg(list).arg(".");
        c
    }

    /// Restore the `n`-th (the latest) backup into `repo.restored()`, which exists and is empty.
    pub fn restore(&self, repo: &Repo, n: usize) -> Command {
        let mut c = self.command(repo);
        let target = repo.restored();
        match self.tool {
            Tool::Arca | Tool::Restic => c.args(["restore", "-q", "latest", "--target"]).arg(&target),
            Tool::Borg => c.current_dir(&target).args(["extract", &format!("::a{n}")]),
            Tool::Rustic => c.args(["--no-progress", "restore", "latest"]).arg(&target),
            Tool::Bupstash => c.args(["restore", "--no-progress", "--into"]).arg(&target).arg(format!("backup={n}")),
        };
        c
    }

    /// Where the corpus lands in `repo.restored()`: arca records the absolute path of what it
    /// backs up (`.` included), so its full restore puts the corpus at `TARGET/<absolute path>`;
    /// the others put the contents of `.` at the top.
    pub fn restored_corpus(&self, repo: &Repo, source: &Path) -> PathBuf {
        match self.tool {
            Tool::Arca => repo.restored().join(source.strip_prefix("/").unwrap_or(source)),
            _ => repo.restored(),
        }
    }

    /// The tool's own version line.
    pub fn version(&self) -> String {
        let mut c = Command::new(&self.program);
        match self.tool {
            Tool::Restic | Tool::Bupstash => c.arg("version"),
            _ => c.arg("--version"),
        };
        let line = cmd::stdout(&mut c).and_then(|s| s.lines().next().map(str::to_string));
        line.unwrap_or_else(|| format!("unknown (`{} --version` failed)", self.program.display()))
    }
}
