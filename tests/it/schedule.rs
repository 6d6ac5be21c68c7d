//! Scheduled jobs: the "already running" guard of profile-driven runs, and `arca schedule`
//! (systemd units checked by `systemd-analyze verify` and by running their command line).

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use crate::common::*;

/// Write `~/.config/arca/NAME.toml` (mode 0600) in the test's home directory.
pub fn profile(env: &Env, name: &str, text: &str) -> PathBuf {
    let p = env.dir.path().join(format!(".config/arca/{name}.toml"));
    std::fs::create_dir_all(p.parent().unwrap()).unwrap();
    std::fs::write(&p, text).unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o600)).unwrap();
    p
}

/// A profile text for the env's local repository and `src`, `backup` more keys of `[backup]`,
/// plus `extra` sections.
pub fn repo_profile(env: &Env, src: &Path, backup: &str, extra: &str) -> String {
    let pass = env.path("password");
    std::fs::write(&pass, PASSWORD).unwrap();
    format!(
        "[repository]\nrepo = \"{}\"\npassword-file = \"{}\"\n\n[backup]\nsources = [\"{}\"]\n{backup}\n\n{extra}",
        env.repo.display(),
        pass.display(),
        src.display()
    )
}

pub fn wait_for(what: &str, deadline: Duration, mut ok: impl FnMut() -> bool) {
    let start = Instant::now();
    while !ok() {
        assert!(start.elapsed() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn a_second_run_of_a_profiles_job_exits_11_naming_the_first_and_a_third_runs_after_it() {
    let env = Env::new();
    let src = env.path("src");
    write(&src.join("a.txt"), b"a");
    let started = env.path("hook-started");
    let release = env.path("hook-release");
    let text = repo_profile(
        &env,
        &src,
        &format!(
            "hook-timeout = \"20s\"\nrun-before = [\"touch {} && while [ ! -e {} ]; do sleep 0.05; done\"]\n",
            started.display(),
            release.display()
        ),
        "",
    );
    profile(&env, "p", &text);
    env.init();
    let mut first = env.cmd().args(["-P", "p", "backup", "-q"]).spawn().unwrap();
    wait_for("the first run's hook", Duration::from_secs(30), || started.exists());
    let second = env.run(&["-P", "p", "backup", "-q"]);
    assert_eq!(code(&second), 11, "{}", stderr(&second));
    let err = stderr(&second);
    assert!(err.contains("another `arca -P p backup` is already running"), "{err}");
    assert!(err.contains(&format!("pid {}", first.id())), "names the holder's pid: {err}");
    // a different job of the same profile is not blocked by it; a manual run without -P neither
    env.ok(&["-P", "p", "check"]);
    std::fs::write(&release, "").unwrap();
    assert!(first.wait().unwrap().success());
    assert_eq!(env.snapshot_ids().len(), 1, "the refused run made no snapshot");
    std::fs::remove_file(&started).unwrap();
    // the lock went with the first run: a third runs (its hook passes at once now)
    env.ok(&["-P", "p", "backup", "-q"]);
    assert_eq!(env.snapshot_ids().len(), 2);
    // a lock file swapped for a symlink is never followed: a warning, and the backup still runs
    let lock = env.path("cache/arca/jobs/p/backup.lock");
    assert!(lock.is_file(), "{}", lock.display());
    let target = env.path("target");
    write(&target, b"untouched");
    std::fs::remove_file(&lock).unwrap();
    std::os::unix::fs::symlink(&target, &lock).unwrap();
    let o = env.run(&["-P", "p", "backup", "-q"]);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    assert!(stderr(&o).contains("not guarded") && stderr(&o).contains("backup.lock"), "{}", stderr(&o));
    assert_eq!(std::fs::read(&target).unwrap(), b"untouched");
    env.check();
}

/// The words of a systemd `ExecStart=` line: double-quoted words unescaped, `%%` and `$$`
/// undoubled (what systemd hands to exec).
fn exec_words(line: &str) -> Vec<String> {
    let mut words = vec![];
    let mut cur = String::new();
    let (mut quoted, mut any) = (false, false);
    let mut chars = line.chars();
    while let Some(c) = chars.next() {
        match c {
            '"' => {
                quoted = !quoted;
                any = true;
            }
            '\\' if quoted => cur.extend(chars.next()),
            ' ' if !quoted => {
                if any || !cur.is_empty() {
                    words.push(std::mem::take(&mut cur));
                }
                any = false;
            }
            c => cur.push(c),
        }
    }
    if any || !cur.is_empty() {
        words.push(cur);
    }
    words.into_iter().map(|w| w.replace("%%", "%").replace("$$", "$")).collect()
}

fn files_in(dir: &Path) -> Vec<String> {
    let mut v: Vec<String> = std::fs::read_dir(dir)
        .map(|e| e.flatten().map(|e| e.file_name().to_string_lossy().into_owned()).collect())
        .unwrap_or_default();
    v.sort();
    v
}

#[test]
fn installed_units_verify_their_command_line_makes_a_snapshot_and_remove_leaves_nothing() {
    let env = Env::new();
    let src = env.path("src");
    write(&src.join("a.txt"), b"scheduled");
    let text = repo_profile(
        &env,
        &src,
        "",
        "[forget]\nkeep-last = 5\n\n[schedule.backup]\non-calendar = [\"*:0/15\", \"Sat 10:00\"]\nrandomized-delay = \"2m\"\n\n\
         [schedule.forget]\non-calendar = \"daily\"\nprune = true\npersistent = false\n\n\
         [schedule.check]\non-calendar = \"Fri *-*-13 04:00\"\nread-data-subset = \"5%\"\n\n\
         [notify]\nstale-after = \"26h\"\n",
    );
    // a profile name with a space: quoted in the unit, and still the same profile when run
    profile(&env, "my laptop", &text);
    env.init();
    let units = env.path("units");
    let foreign = units.join("arca-other-backup.timer");
    write(&foreign, b"[Timer]\nOnCalendar=daily\n");
    let out = env.ok(&["-P", "my laptop", "schedule", "install", "--unit-dir", units.to_str().unwrap()]);
    assert!(out.contains("crontab"), "no systemd here: the crontab lines are printed: {out}");
    assert!(out.contains("-P 'my laptop' backup"), "{out}");
    let all = files_in(&units);
    assert_eq!(all.len(), 9, "3 jobs and the stale check x service + timer, and the foreign unit: {all:?}");
    // systemd itself parses them (ExecStart's binary exists)
    let paths: Vec<PathBuf> = all.iter().filter(|f| f.contains("laptop")).map(|f| units.join(f)).collect();
    let v = std::process::Command::new("systemd-analyze").arg("verify").args(&paths).output();
    if let Ok(v) = v {
        assert!(
            v.status.success() && v.stderr.is_empty(),
            "systemd-analyze verify: {}",
            String::from_utf8_lossy(&v.stderr)
        );
    }
    let timer = std::fs::read_to_string(paths.iter().find(|p| p.to_string_lossy().ends_with("-backup.timer")).unwrap())
        .unwrap();
    assert!(
        timer.contains("OnCalendar=*:0/15\nOnCalendar=Sat 10:00\nRandomizedDelaySec=120\nPersistent=true"),
        "{timer}"
    );
    let check =
        std::fs::read_to_string(paths.iter().find(|p| p.to_string_lossy().ends_with("-check.service")).unwrap())
            .unwrap();
    assert!(check.contains("--read-data-subset 5%%"), "{check}");
    // the service's command line, run as systemd would run it, makes a snapshot
    let service =
        std::fs::read_to_string(paths.iter().find(|p| p.to_string_lossy().ends_with("-backup.service")).unwrap())
            .unwrap();
    let exec = service.lines().find_map(|l| l.strip_prefix("ExecStart=")).unwrap();
    let words = exec_words(exec);
    assert_eq!(words[1..], ["-P", "my laptop", "backup"]);
    let mut cmd = std::process::Command::new(&words[0]);
    cmd.args(&words[1..]).env_clear().env("HOME", env.dir.path()).env("ARCA_TEST_INSECURE_KDF", "1");
    for l in service.lines().filter_map(|l| l.strip_prefix("Environment=")) {
        let (k, v) = l.split_once('=').unwrap();
        cmd.env(k, v);
    }
    let o = cmd.output().unwrap();
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(env.snapshot_ids().len(), 1);
    let forget =
        std::fs::read_to_string(paths.iter().find(|p| p.to_string_lossy().ends_with("-forget.service")).unwrap())
            .unwrap();
    assert!(exec_words(forget.lines().find_map(|l| l.strip_prefix("ExecStart=")).unwrap())
        .ends_with(&["forget".into(), "--prune".into()]));
    // list and status see them
    let list: serde_json::Value =
        serde_json::from_str(&env.ok(&["schedule", "list", "--json", "--unit-dir", units.to_str().unwrap()])).unwrap();
    assert_eq!(list.as_array().unwrap().len(), 4, "only arca's own timers: {list}");
    // [notify] stale-after: the stale-source check every 15 minutes (seam 5)
    let stale =
        std::fs::read_to_string(paths.iter().find(|p| p.to_string_lossy().ends_with("-status.service")).unwrap())
            .unwrap();
    assert!(exec_words(stale.lines().find_map(|l| l.strip_prefix("ExecStart=")).unwrap())
        .ends_with(&["status".into(), "--notify".into()]));
    let status: serde_json::Value = serde_json::from_str(&env.ok(&[
        "-P",
        "my laptop",
        "schedule",
        "status",
        "--json",
        "--unit-dir",
        units.to_str().unwrap(),
    ]))
    .unwrap();
    assert_eq!(status[0]["job"], "backup");
    assert_eq!(status[0]["installed"], true);
    assert_eq!(status[0]["on_calendar"][0], "*-*-* *:00/15:00");
    assert!(status[0]["next"].as_str().is_some_and(|n| n.len() >= 20), "{status}");
    assert_eq!(status[2]["on_calendar"][0], "Fri *-*-13 04:00:00");
    // remove deletes exactly what install wrote
    env.ok(&["-P", "my laptop", "schedule", "remove", "--unit-dir", units.to_str().unwrap()]);
    assert_eq!(files_in(&units), ["arca-other-backup.timer"], "the foreign unit is never touched");
    assert_eq!(std::fs::read(&foreign).unwrap(), b"[Timer]\nOnCalendar=daily\n");
    env.check();
}

#[test]
fn an_invalid_calendar_or_a_foreign_unit_in_the_way_writes_nothing() {
    let env = Env::new();
    let src = env.path("src");
    write(&src.join("a"), b"a");
    let p =
        profile(&env, "bad", &repo_profile(&env, &src, "", "[schedule.backup]\non-calendar = \"Mon..Fri 25:00\"\n"));
    let units = env.path("units");
    let o = env.run(&["-P", "bad", "schedule", "install", "--unit-dir", units.to_str().unwrap()]);
    assert_eq!(code(&o), 1);
    let err = stderr(&o);
    assert!(
        err.contains(&p.display().to_string())
            && err.contains("[schedule.backup]")
            && err.contains("25:00")
            && err.contains("hour"),
        "names file, job and expression: {err}"
    );
    assert!(err.contains("OnCalendar"), "with a hint: {err}");
    assert!(!units.exists(), "nothing written");
    // a unit of the same name that arca did not write stops the install before any file
    profile(
        &env,
        "good",
        &repo_profile(
            &env,
            &src,
            "",
            "[schedule.backup]\non-calendar = \"daily\"\n[schedule.check]\non-calendar = \"weekly\"\n",
        ),
    );
    write(&units.join("arca-good-check.timer"), b"# mine\n");
    let o = env.run(&["-P", "good", "schedule", "install", "--unit-dir", units.to_str().unwrap()]);
    assert_eq!(code(&o), 1, "{}", stderr(&o));
    assert!(stderr(&o).contains("not written by arca"), "{}", stderr(&o));
    assert_eq!(files_in(&units), ["arca-good-check.timer"]);
    assert_eq!(std::fs::read(units.join("arca-good-check.timer")).unwrap(), b"# mine\n");
}
