//! The README's restic-compatibility table, generated from clap's definitions so it cannot
//! drift: restic 0.18's commands, flags and environment variables are kept here as data
//! (taken from restic's `cmd/restic/*.go` at v0.18.0), each looked up in `Cli::command()`.
//!
//! An item is **present** when arca has the command, or the command has a flag of that long
//! name (its own or a global one), or some option reads the `ARCA_` twin of a `RESTIC_`
//! variable (or the settings read it directly). It is **partial** when arca has it under
//! another spelling (the note names an arca command line, which this test parses) or a note
//! says what differs; else **missing**. Nothing here says "present" by hand: a verb or flag
//! another branch adds shows up as present once it is in clap, and the test
//! `readme_table_is_generated_from_the_code` fails until the README is regenerated with
//! `cargo xtask compat`.

use clap::CommandFactory;

use super::args::Cli;

/// restic 0.18: each command (a path of subcommands; "" = the global flags) and its flags.
/// Deprecated and hidden flags (`--hostname`, `--repo2`, `--check-unused`, `--last`,
/// `--snapshot-template`) and the `debug` command (built only with a tag) are left out.
const RESTIC: &[(&str, &[&str])] = &[
    (
        "",
        &[
            "repo",
            "repository-file",
            "password-file",
            "key-hint",
            "password-command",
            "quiet",
            "verbose",
            "no-lock",
            "retry-lock",
            "json",
            "cache-dir",
            "no-cache",
            "cacert",
            "tls-client-cert",
            "insecure-no-password",
            "insecure-tls",
            "cleanup-cache",
            "compression",
            "no-extra-verify",
            "limit-upload",
            "limit-download",
            "pack-size",
            "option",
            "http-user-agent",
            "stuck-request-timeout",
        ],
    ),
    (
        "backup",
        &[
            "exclude",
            "iexclude",
            "exclude-file",
            "iexclude-file",
            "parent",
            "group-by",
            "force",
            "one-file-system",
            "exclude-if-present",
            "exclude-caches",
            "exclude-larger-than",
            "stdin",
            "stdin-filename",
            "stdin-from-command",
            "tag",
            "read-concurrency",
            "host",
            "files-from",
            "files-from-verbatim",
            "files-from-raw",
            "time",
            "with-atime",
            "ignore-inode",
            "ignore-ctime",
            "dry-run",
            "no-scan",
            "use-fs-snapshot",
            "exclude-cloud-files",
            "skip-if-unchanged",
        ],
    ),
    ("cache", &["cleanup", "max-age", "no-size"]),
    ("cat", &[]),
    ("check", &["read-data", "read-data-subset", "with-cache"]),
    (
        "copy",
        &[
            "from-repo",
            "from-repository-file",
            "from-password-file",
            "from-key-hint",
            "from-password-command",
            "from-insecure-no-password",
            "host",
            "tag",
            "path",
        ],
    ),
    ("diff", &["metadata"]),
    ("dump", &["archive", "target", "host", "tag", "path"]),
    ("features", &[]),
    (
        "find",
        &[
            "oldest",
            "newest",
            "snapshot",
            "blob",
            "tree",
            "pack",
            "show-pack-id",
            "ignore-case",
            "reverse",
            "long",
            "human-readable",
            "host",
            "tag",
            "path",
        ],
    ),
    (
        "forget",
        &[
            "keep-last",
            "keep-hourly",
            "keep-daily",
            "keep-weekly",
            "keep-monthly",
            "keep-yearly",
            "keep-within",
            "keep-within-hourly",
            "keep-within-daily",
            "keep-within-weekly",
            "keep-within-monthly",
            "keep-within-yearly",
            "keep-tag",
            "unsafe-allow-remove-all",
            "host",
            "tag",
            "path",
            "compact",
            "group-by",
            "dry-run",
            "prune",
            "max-unused",
            "max-repack-size",
            "repack-cacheable-only",
            "repack-small",
            "repack-uncompressed",
            "repack-smaller-than",
        ],
    ),
    ("generate", &["man", "bash-completion", "fish-completion", "zsh-completion", "powershell-completion"]),
    (
        "init",
        &[
            "copy-chunker-params",
            "repository-version",
            "from-repo",
            "from-repository-file",
            "from-password-file",
            "from-key-hint",
            "from-password-command",
            "from-insecure-no-password",
        ],
    ),
    ("key add", &["new-password-file", "new-insecure-no-password", "user", "host"]),
    ("key list", &[]),
    ("key passwd", &["new-password-file", "new-insecure-no-password", "user", "host"]),
    ("key remove", &[]),
    ("list", &[]),
    ("ls", &["long", "recursive", "human-readable", "ncdu", "sort", "reverse", "host", "tag", "path"]),
    ("migrate", &["force"]),
    (
        "mount",
        &[
            "owner-root",
            "allow-other",
            "no-default-permissions",
            "path-template",
            "time-template",
            "host",
            "tag",
            "path",
        ],
    ),
    ("options", &[]),
    (
        "prune",
        &[
            "dry-run",
            "unsafe-recover-no-free-space",
            "max-unused",
            "max-repack-size",
            "repack-cacheable-only",
            "repack-small",
            "repack-uncompressed",
            "repack-smaller-than",
        ],
    ),
    ("recover", &[]),
    ("repair index", &["read-all-packs"]),
    ("repair packs", &[]),
    ("repair snapshots", &["dry-run", "forget", "host", "tag", "path"]),
    (
        "restore",
        &[
            "target",
            "exclude",
            "iexclude",
            "exclude-file",
            "iexclude-file",
            "include",
            "iinclude",
            "include-file",
            "iinclude-file",
            "exclude-xattr",
            "include-xattr",
            "dry-run",
            "sparse",
            "verify",
            "overwrite",
            "delete",
            "host",
            "tag",
            "path",
        ],
    ),
    (
        "rewrite",
        &[
            "forget",
            "dry-run",
            "new-host",
            "new-time",
            "snapshot-summary",
            "exclude",
            "iexclude",
            "exclude-file",
            "iexclude-file",
            "host",
            "tag",
            "path",
        ],
    ),
    ("self-update", &["output"]),
    ("snapshots", &["compact", "latest", "group-by", "host", "tag", "path"]),
    ("stats", &["mode", "host", "tag", "path"]),
    ("tag", &["set", "add", "remove", "host", "tag", "path"]),
    ("unlock", &["remove-all"]),
    ("version", &[]),
];

/// restic 0.18's environment variables (restic's documentation, "Environment Variables",
/// without the storage services' own, which arca reads under the same names).
const RESTIC_ENV: &[&str] = &[
    "RESTIC_REPOSITORY",
    "RESTIC_REPOSITORY_FILE",
    "RESTIC_PASSWORD",
    "RESTIC_PASSWORD_FILE",
    "RESTIC_PASSWORD_COMMAND",
    "RESTIC_KEY_HINT",
    "RESTIC_CACHE_DIR",
    "RESTIC_PROGRESS_FPS",
    "RESTIC_COMPRESSION",
    "RESTIC_PACK_SIZE",
    "RESTIC_HOST",
    "RESTIC_READ_CONCURRENCY",
    "RESTIC_CACERT",
    "RESTIC_TLS_CLIENT_CERT",
    "RESTIC_HTTP_USER_AGENT",
    "RESTIC_FEATURES",
    "RESTIC_FROM_REPOSITORY",
    "RESTIC_FROM_REPOSITORY_FILE",
    "RESTIC_FROM_PASSWORD",
    "RESTIC_FROM_PASSWORD_FILE",
    "RESTIC_FROM_PASSWORD_COMMAND",
    "RESTIC_FROM_KEY_HINT",
];

/// Variables the settings read themselves rather than through a clap `env`: (variable, the
/// source file that reads it). The test checks the file names it.
const READ_DIRECTLY: &[(&str, &str)] =
    &[("ARCA_PASSWORD", include_str!("settings.rs")), ("ARCA_FROM_PASSWORD", include_str!("handlers.rs"))];

enum Why {
    /// arca does it under another spelling: this arca command line (parsed by the test).
    Spelled(&'static str),
    /// arca has it, but not all of it.
    Partial(&'static str),
    /// A note only; the status comes from clap.
    Note(&'static str),
}
use Why::*;

/// Items: `COMMAND`, `COMMAND --flag`, `--flag` (global) or `$RESTIC_VAR`.
const NOTES: &[(&str, Why)] = &[
    ("--key-hint", Note("arca tries the key that opened the repository last time first")),
    ("--cacert", Note("TLS trust comes from the system and the storage service's -o options")),
    ("--tls-client-cert", Note("TLS settings come from the storage service's -o options")),
    ("--insecure-tls", Note("TLS settings come from the storage service's -o options")),
    ("--insecure-no-password", Note("arca refuses an empty password")),
    ("--no-extra-verify", Note("arca always verifies what it stores")),
    ("--compression", Spelled("arca backup --compression max .")),
    ("--stuck-request-timeout", Spelled("arca --storage-timeout 2m snapshots")),
    ("--pack-size", Partial("at init the repository's pack size; later runs may only choose a smaller one")),
    ("--no-lock", Partial("read-only commands only; refused by commands that write")),
    ("backup --group-by", Note("the parent is the newest snapshot of the same host and paths")),
    ("backup --use-fs-snapshot", Note("Windows only in restic")),
    ("backup --exclude-cloud-files", Note("Windows only in restic")),
    ("generate --bash-completion", Spelled("arca completion bash")),
    ("generate --fish-completion", Spelled("arca completion fish")),
    ("generate --zsh-completion", Spelled("arca completion zsh")),
    ("generate --powershell-completion", Spelled("arca completion powershell")),
    ("repair index --read-all-packs", Spelled("arca repair index --read-data")),
    (
        "init --repository-version",
        Note("arca writes one format version (format-spec v4; older repositories keep theirs until `migrate`)"),
    ),
    ("init --from-repo", Partial("only with --copy-chunker-params")),
    ("init --from-repository-file", Partial("only with --copy-chunker-params")),
    ("self-update", Note("install arca with your package manager or cargo")),
    ("recover", Note("`repair snapshots` and `repair index` cover damaged repositories")),
    ("$RESTIC_PASSWORD", Note("read by the settings")),
    (
        "$RESTIC_COMPRESSION",
        Partial("`ARCA_COMPRESSION` is backup's --compression; prune, copy and rewrite compress at auto"),
    ),
    (
        "$RESTIC_PACK_SIZE",
        Partial("`ARCA_PACK_SIZE`: at init the repository's pack size; later runs may only choose a smaller one"),
    ),
];

#[derive(Clone, Copy, PartialEq, Debug)]
enum Status {
    Present,
    Partial,
    Missing,
}

struct Row {
    item: String,
    status: Status,
    note: String,
}

fn find<'a>(root: &'a clap::Command, path: &str) -> Option<&'a clap::Command> {
    path.split_whitespace().try_fold(root, |c, name| c.find_subcommand(name))
}

fn has_flag(cmd: &clap::Command, long: &str) -> bool {
    cmd.get_arguments()
        .any(|a| a.get_long() == Some(long) || a.get_long_and_visible_aliases().is_some_and(|v| v.contains(&long)))
}

fn all_envs(cmd: &clap::Command, out: &mut Vec<String>) {
    for a in cmd.get_arguments() {
        if let Some(e) = a.get_env() {
            out.push(e.to_string_lossy().into_owned());
        }
    }
    for s in cmd.get_subcommands() {
        all_envs(s, out);
    }
}

fn note(item: &str) -> Option<&'static Why> {
    NOTES.iter().find(|(i, _)| *i == item).map(|(_, w)| w)
}

fn row(item: String, in_clap: bool) -> Row {
    let (status, note) = match (in_clap, note(&item)) {
        (true, Some(Partial(n))) => (Status::Partial, n.to_string()),
        (true, Some(Note(n))) => (Status::Present, n.to_string()),
        (true, _) => (Status::Present, String::new()),
        (false, Some(Spelled(argv))) => (Status::Partial, format!("`{argv}`")),
        (false, Some(Partial(n) | Note(n))) => (Status::Missing, n.to_string()),
        (false, None) => (Status::Missing, String::new()),
    };
    Row { item, status, note }
}

fn rows() -> Vec<Row> {
    let mut cli = Cli::command();
    cli.build();
    let mut out = vec![];
    for (path, flags) in RESTIC {
        let cmd = if path.is_empty() { Some(&cli) } else { find(&cli, path) };
        if !path.is_empty() {
            out.push(row(path.to_string(), cmd.is_some()));
        }
        for f in *flags {
            let item = if path.is_empty() { format!("--{f}") } else { format!("{path} --{f}") };
            out.push(row(item, cmd.is_some_and(|c| has_flag(c, f))));
        }
    }
    let mut envs = vec![];
    all_envs(&cli, &mut envs);
    for var in RESTIC_ENV {
        let ours = var.replacen("RESTIC_", "ARCA_", 1);
        let direct = READ_DIRECTLY.iter().any(|(v, src)| *v == ours && src.contains(&format!("\"{ours}\"")));
        let mut r = row(format!("${var}"), envs.contains(&ours) || direct);
        if r.status != Status::Missing && r.note.is_empty() {
            r.note = format!("`{ours}`");
        }
        out.push(r);
    }
    out
}

/// The generated part of the README's restic section.
fn table() -> String {
    let rows = rows();
    let count = |s| rows.iter().filter(|r| r.status == s).count();
    let mut t = format!(
        "restic 0.18: {} commands, flags and environment variables; arca has {} present, {} partial, {} missing.\n\n",
        rows.len(),
        count(Status::Present),
        count(Status::Partial),
        count(Status::Missing)
    );
    t.push_str("| restic | arca | note |\n| --- | --- | --- |\n");
    for r in &rows {
        let status = match r.status {
            Status::Present => "present",
            Status::Partial => "partial",
            Status::Missing => "**missing**",
        };
        t.push_str(&format!("| `{}` | {status} | {} |\n", r.item, r.note));
    }
    t
}

const BEGIN: &str =
    "<!-- restic-compat: generated by `cargo xtask compat` from src/cli/restic_compat.rs; do not edit -->\n";
const END: &str = "<!-- restic-compat end -->";

/// Fails when the README's table is not what the code gives; with `ARCA_COMPAT_WRITE=1`
/// (`cargo xtask compat`) writes it instead.
#[test]
fn readme_table_is_generated_from_the_code() {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("README.md");
    let readme = std::fs::read_to_string(&path).expect("README.md");
    let start = readme.find(BEGIN).expect("README has no restic-compat marker") + BEGIN.len();
    let end = readme[start..].find(END).expect("README has no restic-compat end marker") + start;
    let want = table();
    eprintln!("{}", want.lines().next().unwrap_or_default());
    if readme[start..end] == want {
        return;
    }
    if std::env::var_os("ARCA_COMPAT_WRITE").is_some() {
        std::fs::write(&path, format!("{}{want}{}", &readme[..start], &readme[end..])).expect("write README.md");
        return;
    }
    panic!("README.md's restic-compatibility table is out of date: run `cargo xtask compat`");
}

#[test]
fn every_note_names_a_restic_item_and_every_spelling_parses() {
    use clap::Parser;
    let items: Vec<String> = rows().into_iter().map(|r| r.item).collect();
    for (item, why) in NOTES {
        assert!(items.iter().any(|i| i == item), "a note for {item:?}, which is not in the restic data (a typo?)");
        if let Spelled(argv) = why {
            let argv = shlex::split(argv).expect("quotes");
            if let Err(e) = Cli::try_parse_from(&argv) {
                panic!("the arca spelling of {item:?} does not parse: {argv:?}\n{e}");
            }
        }
    }
    for (var, src) in READ_DIRECTLY {
        assert!(src.contains(&format!("\"{var}\"")), "READ_DIRECTLY says {var} is read, but the file does not name it");
    }
}

#[test]
fn the_table_finds_what_arca_has_and_what_it_lacks() {
    let rows = rows();
    let status = |item: &str| rows.iter().find(|r| r.item == item).map(|r| r.status);
    assert_eq!(status("backup --exclude"), Some(Status::Present));
    assert_eq!(status("--repo"), Some(Status::Present));
    assert_eq!(status("$RESTIC_PASSWORD_FILE"), Some(Status::Present));
    assert_eq!(status("repair index --read-all-packs"), Some(Status::Partial));
    assert_eq!(status("ls --ncdu"), Some(Status::Missing));
    assert_eq!(status("recover"), Some(Status::Missing));
}
