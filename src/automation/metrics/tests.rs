use super::*;
use std::io::{Read, Write};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

fn record(job: &str, code: u8, started: &str) -> RunRecord {
    RunRecord { started: started.into(), duration_ms: 2500, ..runs::sample(job, code) }
}

/// `name{labels} value` lines as a map.
fn samples(text: &str) -> std::collections::BTreeMap<String, f64> {
    text.lines()
        .filter(|l| !l.starts_with('#') && !l.is_empty())
        .map(|l| {
            let (k, v) = l.rsplit_once(' ').unwrap();
            (k.to_string(), v.parse().unwrap())
        })
        .collect()
}

#[test]
fn render_shows_the_last_run_and_the_last_success_of_each_job() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("laptop");
    std::fs::create_dir(&dir).unwrap();
    runs::save(&dir, &record("backup", 0, "2026-12-07T10:00:00+00:00")).unwrap();
    // the newest backup failed: last run and exit code are its, the figures and the last
    // success stay the earlier snapshot's
    let mut failed = record("backup", 1, "2026-12-07T11:00:00+00:00");
    (failed.files_new, failed.data_added) = (None, None);
    runs::save(&dir, &failed).unwrap();
    runs::save(&dir, &record("check", 0, "2026-12-07T12:00:00+00:00")).unwrap();
    let text = render(&[("laptop".into(), dir.clone()), ("nothing".into(), tmp.path().join("missing"))]);
    assert!(text.ends_with("# EOF\n"), "{text}");
    assert!(text.contains("# TYPE arca_job_last_run_timestamp_seconds gauge"), "{text}");
    let s = samples(&text);
    let b = "profile=\"laptop\",job=\"backup\"";
    assert_eq!(s[&format!("arca_job_last_run_timestamp_seconds{{{b}}}")], 1_796_641_200.0);
    assert_eq!(s[&format!("arca_job_last_success_timestamp_seconds{{{b}}}")], 1_796_637_600.0);
    assert_eq!(s[&format!("arca_job_last_exit_code{{{b}}}")], 1.0);
    assert_eq!(s[&format!("arca_job_last_duration_seconds{{{b}}}")], 2.5);
    assert_eq!(s[&format!("arca_job_last_outcome{{{b},outcome=\"failure\"}}")], 1.0);
    assert_eq!(s[&format!("arca_backup_files{{{b},state=\"new\"}}")], 3.0);
    assert_eq!(s[&format!("arca_backup_data_added_bytes{{{b}}}")], 4096.0);
    assert_eq!(s[&format!("arca_backup_data_stored_bytes{{{b}}}")], 2048.0);
    assert_eq!(s[&format!("arca_backup_size_bytes{{{b}}}")], 1_048_576.0);
    assert_eq!(s["arca_job_last_exit_code{profile=\"laptop\",job=\"check\"}"], 0.0);
    // a check has no backup figures, and a job that never ran has no series
    assert!(!s.keys().any(|k| k.contains("job=\"check\"") && k.starts_with("arca_backup")), "{text}");
    assert!(!s.keys().any(|k| k.contains("prune") || k.contains("nothing")), "{text}");
}

#[test]
fn label_values_are_escaped_so_a_profile_name_cannot_forge_a_series() {
    let tmp = tempfile::tempdir().unwrap();
    runs::save(tmp.path(), &record("check", 0, "2026-12-07T12:00:00+00:00")).unwrap();
    let text = render(&[("x\"} 1\nfake_metric{a=\"".into(), tmp.path().to_path_buf())]);
    assert!(!text.lines().any(|l| l.starts_with("fake_metric")), "{text}");
}

#[test]
fn the_metrics_file_is_replaced_whole_and_a_planted_symlink_is_not_written_through() {
    use std::os::unix::fs::PermissionsExt;
    let tmp = tempfile::tempdir().unwrap();
    let path = tmp.path().join("arca.prom");
    write_file(&path, "a 1\n").unwrap();
    write_file(&path, "a 2\n").unwrap();
    assert_eq!(std::fs::read_to_string(&path).unwrap(), "a 2\n");
    assert_eq!(std::fs::metadata(&path).unwrap().permissions().mode() & 0o777, 0o644);
    let names: Vec<_> = std::fs::read_dir(tmp.path()).unwrap().map(|e| e.unwrap().file_name()).collect();
    assert_eq!(names.len(), 1, "{names:?}");
    // a symlink planted at the temporary name is removed, not followed
    let target = tmp.path().join("target");
    std::fs::write(&target, "keep").unwrap();
    std::os::unix::fs::symlink(&target, tmp.path().join(format!(".arca.prom.{}.tmp", std::process::id()))).unwrap();
    write_file(&path, "a 3\n").unwrap();
    assert_eq!(std::fs::read_to_string(&target).unwrap(), "keep");
    assert_eq!(std::fs::read_to_string(&path).unwrap(), "a 3\n");
    let e = write_file(&tmp.path().join("no/such/dir/arca.prom"), "x").unwrap_err();
    assert!(e.to_string().contains("metrics file"), "{e}");
}

fn get(addr: std::net::SocketAddr, request: &[u8]) -> String {
    let mut s = std::net::TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(std::time::Duration::from_secs(10))).unwrap();
    let _ = s.write_all(request);
    let mut out = String::new();
    let _ = s.read_to_string(&mut out);
    out
}

#[test]
fn the_listener_answers_metrics_404s_elsewhere_bounds_requests_and_stops() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let stop = Arc::new(AtomicBool::new(false));
    let handle = serve(listener, || "arca_up 1\n# EOF\n".to_string(), stop.clone());
    // a client that connects and says nothing does not hold up the others
    let _silent = std::net::TcpStream::connect(addr).unwrap();
    let ok = get(addr, b"GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n");
    assert!(ok.starts_with("HTTP/1.1 200 OK\r\n"), "{ok}");
    assert!(ok.contains("Content-Type: application/openmetrics-text") && ok.ends_with("arca_up 1\n# EOF\n"), "{ok}");
    let head = get(addr, b"HEAD /metrics HTTP/1.1\r\n\r\n");
    assert!(head.starts_with("HTTP/1.1 200 OK\r\n") && head.ends_with("\r\n\r\n"), "{head}");
    let other = get(addr, b"GET /etc/passwd HTTP/1.1\r\n\r\n");
    assert!(other.starts_with("HTTP/1.1 404 "), "{other}");
    let post = get(addr, b"POST /metrics HTTP/1.1\r\nContent-Length: 3\r\n\r\nabc");
    assert!(post.starts_with("HTTP/1.1 405 "), "{post}");
    let garbage = get(addr, b"\x00\x01\x02 nonsense\r\n\r\n");
    assert!(garbage.starts_with("HTTP/1.1 400 "), "{garbage}");
    let mut huge = b"GET /metrics HTTP/1.1\r\n".to_vec();
    huge.extend(std::iter::repeat_n(b'a', 16 * 1024));
    let big = get(addr, &huge);
    assert!(big.starts_with("HTTP/1.1 431 "), "{big}");
    stop.store(true, Ordering::SeqCst);
    let t = std::time::Instant::now();
    handle.join().unwrap();
    // the silent client holds its thread at most the read timeout
    assert!(t.elapsed() < http::IO_TIMEOUT + std::time::Duration::from_secs(2), "{:?}", t.elapsed());
    assert!(std::net::TcpStream::connect(addr).is_err(), "the listener outlived stop");
}
