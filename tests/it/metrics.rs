#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
//! Run records and metrics: a profile-driven run leaves its record, `--metrics-file` /
//! `[metrics] file` is Prometheus text with the right figures after every run, and the
//! daemon's `/metrics` responder answers it over real HTTP.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use crate::common::*;

pub fn profile(env: &Env, name: &str, text: &str) -> PathBuf {
    let p = env.dir.path().join(format!(".config/arca/{name}.toml"));
    std::fs::create_dir_all(p.parent().unwrap()).unwrap();
    std::fs::write(&p, text).unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o600)).unwrap();
    p
}

/// The job state directory of a profile (the test's cache root is `$XDG_CACHE_HOME/arca`).
pub fn job_dir(env: &Env, key: &str) -> PathBuf {
    env.path("cache/arca/jobs").join(key)
}

/// A Prometheus text exposition as `series → value`, checking each line's shape as a
/// scraper's parser would: `# HELP/TYPE/EOF` comments, `name{label="value",…} number`.
pub fn parse_prometheus(text: &str) -> BTreeMap<String, f64> {
    let mut out = BTreeMap::new();
    let mut typed = std::collections::BTreeSet::new();
    for line in text.lines() {
        if let Some(rest) = line.strip_prefix("# TYPE ") {
            let (name, kind) = rest.split_once(' ').unwrap();
            assert_eq!(kind, "gauge", "{line}");
            typed.insert(name.to_string());
            continue;
        }
        if line.starts_with("# HELP ") || line == "# EOF" {
            continue;
        }
        assert!(!line.starts_with('#') && !line.is_empty(), "unexpected line {line:?}");
        let (series, value) = line.rsplit_once(' ').unwrap();
        let name = series.split('{').next().unwrap();
        assert!(name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_'), "{name}");
        assert!(typed.contains(name), "{name} has no TYPE line");
        if let Some(labels) = series.strip_prefix(name) {
            assert!(labels.is_empty() || (labels.starts_with('{') && labels.ends_with('}')), "{series}");
        }
        out.insert(series.to_string(), value.parse::<f64>().unwrap());
    }
    assert!(text.ends_with("# EOF\n"), "{text}");
    out
}

fn setup(env: &Env, metrics: &Path) -> PathBuf {
    let src = env.path("src");
    write(&src.join("a.txt"), b"hello metrics");
    write(&src.join("b.txt"), b"second file");
    profile(
        env,
        "m",
        &format!(
            "[backup]\nsources = [\"{}\"]\n[check]\nrun-before = [\"exit 4\"]\n[metrics]\nfile = \"{}\"\n",
            src.display(),
            metrics.display()
        ),
    );
    env.init();
    src
}

#[test]
fn a_profile_run_leaves_its_record_and_the_metrics_file_has_its_figures() {
    let env = Env::new();
    let metrics = env.path("textfile/arca.prom");
    std::fs::create_dir_all(metrics.parent().unwrap()).unwrap();
    setup(&env, &metrics);
    let summary = env.backup_json(&["-P", "m"]);
    let dir = job_dir(&env, "m");
    let record: serde_json::Value =
        serde_json::from_slice(&std::fs::read(dir.join("last-backup.json")).unwrap()).unwrap();
    assert_eq!(record["job"], "backup");
    assert_eq!(record["profile"], "m");
    assert_eq!(record["outcome"], "success");
    assert_eq!(record["exit_code"], 0);
    assert_eq!(record["trigger"], "manual");
    assert_eq!(record["snapshot_id"], summary["snapshot_id"]);
    assert_eq!(record["files_new"], 2);
    assert_eq!(record["data_added"], summary["data_added"]);
    assert_eq!(record["data_added_packed"], summary["data_added_packed"]);
    assert_eq!(record["repository"], env.repo.display().to_string());
    // a failed job (its run-before hook exits 4) under a trigger the daemon sets
    let o = env.cmd().env("ARCA_TRIGGER", "daemon").args(["-P", "m", "check"]).output().unwrap();
    assert_eq!(code(&o), 1, "{}", stderr(&o));
    let check: serde_json::Value =
        serde_json::from_slice(&std::fs::read(dir.join("last-check.json")).unwrap()).unwrap();
    assert_eq!(check["outcome"], "failure");
    assert_eq!(check["trigger"], "daemon");
    assert!(check["error"].as_str().unwrap().contains("run-before hook"), "{check}");
    // a command without -P leaves no record, and a command that is not a job none either
    env.ok(&["snapshots", "-P", "m"]);
    assert!(!dir.join("last-snapshots.json").exists());

    let text = std::fs::read_to_string(&metrics).unwrap();
    let m = parse_prometheus(&text);
    let b = "profile=\"m\",job=\"backup\"";
    let c = "profile=\"m\",job=\"check\"";
    assert_eq!(m[&format!("arca_job_last_exit_code{{{b}}}")], 0.0);
    assert_eq!(m[&format!("arca_job_last_exit_code{{{c}}}")], 1.0);
    assert_eq!(m[&format!("arca_job_last_outcome{{{c},outcome=\"failure\"}}")], 1.0);
    assert!(!m.contains_key(&format!("arca_job_last_success_timestamp_seconds{{{c}}}")), "{text}");
    assert_eq!(m[&format!("arca_backup_files{{{b},state=\"new\"}}")], 2.0);
    assert_eq!(m[&format!("arca_backup_data_added_bytes{{{b}}}")], summary["data_added"].as_f64().unwrap());
    assert_eq!(m[&format!("arca_backup_data_stored_bytes{{{b}}}")], summary["data_added_packed"].as_f64().unwrap());
    assert_eq!(m[&format!("arca_backup_size_bytes{{{b}}}")], summary["total_bytes_processed"].as_f64().unwrap());
    assert_eq!(m[&format!("arca_backup_source_errors{{{b}}}")], 0.0);
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs_f64();
    let last = m[&format!("arca_job_last_success_timestamp_seconds{{{b}}}")];
    assert!(last <= now && now - last < 300.0, "{last} vs {now}");
    // only the metrics file is in its directory: the temporary file was renamed
    assert_eq!(std::fs::read_dir(metrics.parent().unwrap()).unwrap().count(), 1);

    // --metrics-file wins over the profile's
    let other = env.path("other.prom");
    env.ok(&["-P", "m", "backup", "-q", "--metrics-file", other.to_str().unwrap()]);
    assert!(parse_prometheus(&std::fs::read_to_string(&other).unwrap())
        .contains_key(&format!("arca_job_last_exit_code{{{b}}}")));
}

#[test]
fn a_metrics_file_that_cannot_be_written_is_a_warning_and_the_backup_stands() {
    let env = Env::new();
    let metrics = env.path("no/such/dir/arca.prom");
    setup(&env, &metrics);
    let o = env.run(&["-P", "m", "backup"]);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    assert!(stderr(&o).contains("metrics file") && stderr(&o).contains("arca.prom"), "{}", stderr(&o));
    assert_eq!(env.snapshot_ids().len(), 1);
}

#[test]
fn a_planted_record_does_not_reach_the_metrics_and_a_symlinked_state_directory_is_refused() {
    let env = Env::new();
    let metrics = env.path("arca.prom");
    setup(&env, &metrics);
    env.ok(&["-P", "m", "backup", "-q"]);
    let dir = job_dir(&env, "m");
    // garbage in the forget record: no forget series, the backup's still there
    std::fs::write(dir.join("last-forget.json"), b"{\"job\":\"forget\",\"evil\":true}").unwrap();
    let text = arca::automation::metrics::render(&[("m".into(), dir.clone())]);
    assert!(!text.contains("job=\"forget\"") && text.contains("job=\"backup\""), "{text}");
    // the state directory swapped for a symlink: the run is not recorded through it
    let elsewhere = env.path("elsewhere");
    std::fs::create_dir(&elsewhere).unwrap();
    std::fs::rename(&dir, env.path("moved")).unwrap();
    std::os::unix::fs::symlink(&elsewhere, &dir).unwrap();
    let o = env.run(&["-P", "m", "backup"]);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    assert!(stderr(&o).contains("not recorded") && stderr(&o).contains("symlink"), "{}", stderr(&o));
    assert_eq!(std::fs::read_dir(&elsewhere).unwrap().count(), 0);
}

#[test]
fn the_metrics_listener_answers_over_http_with_the_records() {
    let env = Env::new();
    setup(&env, &env.path("arca.prom"));
    env.ok(&["-P", "m", "backup", "-q"]);
    let dirs = vec![("m".to_string(), job_dir(&env, "m"))];
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let handle =
        arca::automation::metrics::serve(listener, move || arca::automation::metrics::render(&dirs), stop.clone());
    let agent: ureq::Agent = ureq::Agent::config_builder().http_status_as_error(false).build().into();
    let mut res = agent.get(&format!("http://{addr}/metrics")).call().unwrap();
    assert_eq!(res.status(), 200);
    let ctype = res.headers().get("content-type").unwrap().to_str().unwrap().to_string();
    assert!(ctype.starts_with("application/openmetrics-text"), "{ctype}");
    let m = parse_prometheus(&res.body_mut().read_to_string().unwrap());
    assert_eq!(m["arca_job_last_exit_code{profile=\"m\",job=\"backup\"}"], 0.0);
    assert_eq!(m["arca_backup_files{profile=\"m\",job=\"backup\",state=\"new\"}"], 2.0);
    let res = agent.get(&format!("http://{addr}/")).call().unwrap();
    assert_eq!(res.status(), 404);
    stop.store(true, std::sync::atomic::Ordering::SeqCst);
    handle.join().unwrap();
}
