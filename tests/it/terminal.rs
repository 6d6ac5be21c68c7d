//! On a real terminal (tmux, issue 21): the password prompt says which password it wants and
//! does not echo it, a mistyped confirmation is refused, and backup's progress renders as a
//! live line with the scan's totals, percent and rate, then gives way to the summary.

use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use crate::common;

use common::*;

/// A tmux session running one shell command on a 120×30 terminal; killed when dropped.
struct Tmux {
    name: String,
}

impl Tmux {
    fn start(name: &str, env: &Env, envs: &[(&str, &str)], command: &str) -> Tmux {
        let name = format!("arca-{name}-{}", std::process::id());
        let mut vars = vec![
            format!("PATH={}", std::env::var("PATH").unwrap_or_default()),
            format!("HOME={}", env.path("").display()),
            format!("XDG_CACHE_HOME={}", env.path("cache").display()),
            format!("XDG_DATA_HOME={}", env.path("data").display()),
            "ARCA_TEST_INSECURE_KDF=1".to_string(),
            "TERM=xterm-256color".to_string(),
            format!("ARCA_REPOSITORY={}", env.repo.display()),
        ];
        vars.extend(envs.iter().map(|(k, v)| format!("{k}={v}")));
        // the command's exit code stays on the screen after it, and the pane stays open
        let quoted: Vec<String> = vars.iter().map(|v| format!("'{}'", v.replace('\'', "'\\''"))).collect();
        let shell = format!("env -i {} {command}; echo \"EXIT=$?\"; sleep 60", quoted.join(" "));
        let ok = Command::new("tmux")
            .args(["-L", &name, "new-session", "-d", "-s", &name, "-x", "120", "-y", "30", &shell])
            .status()
            .unwrap();
        assert!(ok.success(), "tmux did not start");
        Tmux { name }
    }

    fn screen(&self) -> String {
        let o = Command::new("tmux").args(["-L", &self.name, "capture-pane", "-p", "-t", &self.name]).output().unwrap();
        String::from_utf8_lossy(&o.stdout).into_owned()
    }

    /// Wait (up to 30 s) for the screen to satisfy `f`; returns that screen.
    fn wait_for(&self, what: &str, f: impl Fn(&str) -> bool) -> String {
        let start = Instant::now();
        loop {
            let s = self.screen();
            if f(&s) {
                return s;
            }
            assert!(start.elapsed() < Duration::from_secs(30), "waited for {what}; the screen:\n{s}");
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    fn type_line(&self, text: &str) {
        let ok = Command::new("tmux")
            .args(["-L", &self.name, "send-keys", "-t", &self.name, "-l", text])
            .status()
            .unwrap()
            .success();
        let enter =
            Command::new("tmux").args(["-L", &self.name, "send-keys", "-t", &self.name, "Enter"]).status().unwrap();
        assert!(ok && enter.success());
    }
}

impl Drop for Tmux {
    fn drop(&mut self) {
        let _ = Command::new("tmux").args(["-L", &self.name, "kill-server"]).status();
    }
}

fn tmux_here() -> bool {
    let here = Command::new("tmux").arg("-V").output().is_ok_and(|o| o.status.success());
    // CI installs tmux (.ci/run): there a missing one is a failure, not a skip
    assert!(here || std::env::var_os("CI").is_none(), "tmux is missing");
    here
}

fn arca() -> &'static str {
    env!("CARGO_BIN_EXE_arca")
}

#[test]
fn the_password_prompt_names_the_repository_and_does_not_echo() {
    if !tmux_here() {
        return;
    }
    let env = Env::new();
    let t = Tmux::start("prompt", &env, &[], &format!("{} init", arca()));
    let repo = env.repo.display().to_string();
    let s = t.wait_for("the first prompt", |s| s.contains("enter password for the new repository"));
    assert!(s.contains(&repo), "the prompt names the repository: {s}");
    t.type_line("correct horse");
    t.wait_for("the confirmation", |s| s.contains("enter password again"));
    t.type_line("correct hoarse");
    let s = t.wait_for("the end", |s| s.contains("EXIT="));
    assert!(!s.contains("EXIT=0"), "a mistyped confirmation is refused: {s}");
    assert!(!s.contains("correct h"), "the password is echoed: {s}");
    assert!(!Path::new(&env.repo).join("config").exists());
    drop(t);

    let t = Tmux::start("prompt2", &env, &[], &format!("{} init", arca()));
    t.wait_for("the first prompt", |s| s.contains("enter password for the new repository"));
    t.type_line("correct horse");
    t.wait_for("the confirmation", |s| s.contains("enter password again"));
    t.type_line("correct horse");
    let s = t.wait_for("the end", |s| s.contains("EXIT="));
    assert!(s.contains("EXIT=0") && s.contains("created arca repository"), "{s}");
    assert!(!s.contains("correct horse"), "the password is echoed: {s}");
    drop(t);

    // opening it asks for "the repository" and a wrong password says so
    let t = Tmux::start("prompt3", &env, &[], &format!("{} snapshots", arca()));
    let s = t.wait_for("the prompt", |s| s.contains("enter password for the repository"));
    assert!(s.contains(&repo), "{s}");
    t.type_line("wrong");
    let s = t.wait_for("the end", |s| s.contains("EXIT="));
    assert!(s.contains("EXIT=12"), "{s}");
}

#[test]
fn backup_progress_renders_live_with_totals_then_the_summary() {
    if !tmux_here() {
        return;
    }
    let env = Env::new();
    env.init();
    let src = env.path("src");
    // 40 files of 100 kB, uploaded at 1000 KiB/s: seconds to watch
    for i in 0..40 {
        write(&src.join(format!("f{i:02}")), &noise(100_000, i));
    }
    let t = Tmux::start(
        "progress",
        &env,
        &[("ARCA_PASSWORD", PASSWORD)],
        &format!("{} backup --limit-upload 1000 {}", arca(), src.display()),
    );
    // a live line: elapsed time, percent of the scanned total, files of the total, a rate
    let s = t.wait_for("a progress line with totals", |s| {
        s.lines().any(|l| l.contains('%') && l.contains("/ 40 files") && l.contains("/s"))
    });
    let line = s.lines().find(|l| l.contains("/ 40 files")).unwrap().to_string();
    assert!(line.contains("[0:"), "the elapsed time: {line}");
    assert!(line.chars().count() <= 120, "the line fits the terminal: {line}");
    let s = t.wait_for("the end", |s| s.contains("EXIT="));
    assert!(s.contains("EXIT=0"), "{s}");
    assert!(s.contains("snapshot") && s.contains("saved"), "{s}");
    // the bar gave way to the summary: no half-drawn progress left above it
    assert!(!s.lines().any(|l| l.contains("/ 40 files") && !l.contains("40 / 40")), "{s}");
}
