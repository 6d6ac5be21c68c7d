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
