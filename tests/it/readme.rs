//! The README's quick start, run as written (issue 21): every command line of its `sh` block
//! runs, in order, in one `bash -e` against a fresh repository, so the README cannot rot.
//! Only places and ids are stood in for, as the README says: `/srv/backup`, `/home/me`,
//! `/mnt/arca`, `s3:offsite/arca` and the system directories become temporary ones (`~` is a
//! temporary `HOME` holding `work/` and `notes/`); `3fa9c1d2` is the repository's first
//! snapshot, `<pack>` and `<blob>` the first that `list` names, and `<id>` in `key remove <id>`
//! the key the password did not open. The lines with `/mnt/arca` (mount, browse, unmount) run
//! where the machine has FUSE.

use std::path::Path;
use std::process::Command;

use crate::common;

use common::*;

/// The `sh` block under "## Quick start".
fn quick_start(readme: &str) -> Vec<String> {
    let section = &readme[readme.find("## Quick start").expect("README has a Quick start")..];
    let body = &section[section.find("```sh\n").expect("an sh block") + 6..];
    let body = &body[..body.find("```").expect("the block ends")];
    body.lines().filter(|l| !l.trim().is_empty()).map(str::to_string).collect()
}

fn fuse_usable() -> bool {
    Path::new("/dev/fuse").exists() && (Path::new("/usr/bin/fusermount3").exists() || is_root())
}

#[test]
fn every_line_of_the_readme_quick_start_runs_against_a_fresh_repository() {
    let readme = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/README.md")).unwrap();
    let lines = quick_start(&readme);
    assert!(lines.len() >= 20, "the quick start shrank to {} lines", lines.len());
    if Command::new("jq").arg("--version").output().is_err() {
        // the quick start pipes into jq, as its users do; CI installs it (.ci/run)
        assert!(std::env::var_os("CI").is_none(), "jq is missing: the quick start pipes into it");
        eprintln!("skipped: no jq on this machine");
        return;
    }
    let env = Env::new();
    let home = env.path("home");
    write(&home.join("work/src/main.rs"), b"fn main() {}\n");
    write(&home.join("work/src/lib.rs"), &noise(200_000, 7));
    write(&home.join("work/main.o"), b"object code");
    write(&home.join("work/report-2026.odt"), &noise(30_000, 8));
    write(&home.join("notes/todo.txt"), b"write the README test");
    write(&home.join(".arca-pass"), b"the quick start's password");
    write(&home.join(".arca-pass2"), b"a second password");
    let (repo, mnt, offsite, completion, man) =
        (env.path("srv-backup"), env.path("mnt-arca"), env.path("offsite"), env.path("completion"), env.path("man1"));
    std::fs::create_dir_all(&mnt).unwrap();
    let mount = fuse_usable();

    let p = |p: &Path| p.to_str().unwrap().to_string();
    let mut script = String::from(
        "set -euo pipefail\ntrap 'echo \"README quick start: line failed (exit $?): $BASH_COMMAND\" >&2' ERR\n",
    );
    // a mount left by a failing line would hold the output pipes open: unmount on any exit
    script.push_str(&format!("trap 'umount {} 2>/dev/null || true' EXIT\n", p(&mnt)));
    for line in &lines {
        let mut l = line
            .replace("/srv/backup", &p(&repo))
            .replace("/home/me", &p(&home))
            .replace("/mnt/arca", &p(&mnt))
            .replace("s3:offsite/arca", &p(&offsite))
            .replace("/etc/bash_completion.d/arca", &p(&completion))
            .replace("/usr/local/share/man/man1", &p(&man))
            .replace("3fa9c1d2", "$(arca snapshots --json | jq -r '.[0].short_id')");
        l = l
            .replace("<pack>", "$(arca list packs | head -n 1)")
            .replace("<blob>", "$(arca list blobs | head -n 1 | cut -d ' ' -f 2)");
        if line.contains("key remove <id>") {
            l = l.replace("<id>", "$(arca key list --json | jq -r '.[] | select(.current == false) | .id')");
        }
        let command = l.split(" #").next().unwrap_or_default();
        assert!(!command.contains('<'), "a placeholder the test does not know: {line}");
        if line.contains("/mnt/arca") && !mount {
            script.push_str(&format!("echo 'skipped (no FUSE here): {}'\n", line.replace('\'', "")));
            continue;
        }
        script.push_str(&format!("echo '$ {}'\n{l}\n", line.replace('\'', "")));
    }
    let bin = Path::new(env!("CARGO_BIN_EXE_arca")).parent().unwrap();
    let path = format!("{}:{}", bin.display(), std::env::var("PATH").unwrap_or_default());
    let o = Command::new("bash")
        .arg("-c")
        .arg(&script)
        .env_clear()
        .env("PATH", path)
        .env("HOME", &home)
        .env("XDG_CACHE_HOME", env.path("cache"))
        .env("XDG_DATA_HOME", env.path("data"))
        .env("ARCA_TEST_INSECURE_KDF", "1")
        .current_dir(&home)
        .stdin(std::process::Stdio::null())
        .output()
        .unwrap();
    let log = format!("{}\n--- stderr ---\n{}", String::from_utf8_lossy(&o.stdout), stderr(&o));
    if mount {
        let _ = Command::new("umount").arg("-l").arg(&mnt).status();
    }
    assert_eq!(code(&o), 0, "{log}");
    // and the lines did what they say
    assert!(home.join("restored").join(home.strip_prefix("/").unwrap()).join("work/src/main.rs").is_file(), "{log}");
    assert!(home.join("work-copy/src/main.rs").is_file(), "{log}");
    assert!(home.join("work.tar").metadata().unwrap().len() > 10_000, "{log}");
    assert!(completion.metadata().unwrap().len() > 0 && man.join("arca-backup.1").is_file(), "{log}");
    assert!(offsite.join("config").is_file(), "{log}");
}
