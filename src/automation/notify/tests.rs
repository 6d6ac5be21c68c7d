use super::*;
use std::time::Instant;

fn record(code: u8) -> RunRecord {
    RunRecord { trigger: "schedule".into(), ..crate::cache::runs::sample("backup", code) }
}

fn notifier(routes: Vec<Route>, retry: Retry) -> Notifier {
    Notifier { routes, on: DEFAULT_ON.iter().copied().collect(), retry, host: "box".into() }
}

fn command(run: &str) -> Route {
    Route { channel: Channel::Command(CommandChannel::new(run).unwrap()), on: None }
}

#[test]
fn a_failing_channel_is_retried_with_growing_delays_within_its_budget_then_named() {
    let tmp = tempfile::tempdir().unwrap();
    let count = tmp.path().join("count");
    let retry = Retry { attempts: 3, timeout: Duration::from_secs(5), delay: Duration::from_millis(100) };
    let n = notifier(vec![command(&format!("echo x >> {}; exit 7", count.display()))], retry);
    let t = Instant::now();
    let failed = n.send(&Event::Finished(&record(1)));
    let took = t.elapsed();
    assert_eq!(std::fs::read_to_string(&count).unwrap().lines().count(), 3);
    assert_eq!(failed.len(), 1);
    let msg = failed[0].to_string();
    assert!(msg.contains("command `echo`") && msg.contains("exit code 7") && msg.contains("3 attempts"), "{msg}");
    // 100 ms then 200 ms between the attempts
    assert!(took >= Duration::from_millis(300) && took < Duration::from_secs(5), "{took:?}");
}

#[test]
fn a_hanging_command_is_killed_at_the_timeout() {
    let retry = Retry { attempts: 2, timeout: Duration::from_millis(300), delay: Duration::from_millis(50) };
    let n = notifier(vec![command("sleep 30")], retry);
    let t = Instant::now();
    let failed = n.send(&Event::Finished(&record(1)));
    assert!(t.elapsed() < retry.budget() + Duration::from_secs(1), "{:?}", t.elapsed());
    assert!(failed[0].reason.contains("timed out"), "{:?}", failed);
}

#[test]
fn events_reach_the_channels_that_hear_them() {
    let tmp = tempfile::tempdir().unwrap();
    let log = tmp.path().join("log");
    let run = format!("echo \"$ARCA_NOTIFY_EVENT $ARCA_EXIT_CODE $ARCA_PROFILE\" >> {}", log.display());
    let mut only_success = command(&run);
    only_success.on = Some([EventKind::Success].into());
    let n = notifier(vec![command(&run), only_success], Retry::default());
    for code in [0, 3, 1] {
        assert!(n.send(&Event::Finished(&record(code))).is_empty());
    }
    assert!(n.send(&Event::Start { profile: "laptop", job: "backup" }).is_empty());
    let mut lines: Vec<String> = std::fs::read_to_string(&log).unwrap().lines().map(str::to_string).collect();
    lines.sort();
    // the default list: warning and failure, not success; the second channel: success only;
    // nobody but healthchecks hears a start
    assert_eq!(lines, ["failure 1 laptop", "success 0 laptop", "warning 3 laptop"]);
}

#[test]
fn retry_bounds_presets_and_urls_are_checked_and_a_channel_is_named_without_its_secret() {
    assert!(Retry { attempts: 0, ..Retry::default() }.checked().is_err());
    assert!(Retry { attempts: 11, ..Retry::default() }.checked().is_err());
    assert!(Retry { timeout: Duration::from_secs(3600), ..Retry::default() }.checked().is_err());
    assert!(Retry::default().checked().is_ok());
    assert_eq!(Retry::default().budget(), Duration::from_secs(33));
    assert!(Preset::parse("pagerduty").is_err() && EventKind::parse("sometimes").is_err());
    for bad in ["ftp://x/y", "not a url", "http:///nohost", "file:///etc/passwd"] {
        assert!(Webhook::new(bad, Preset::Generic, vec![], false).is_err(), "{bad}");
    }
    let w = Webhook::new("https://user:tok@hooks.example/services/T000/B000/SECRET", Preset::Slack, vec![], false);
    let w = w.unwrap();
    let d = w.describe();
    assert_eq!(d, "webhook (slack) to hooks.example");
    assert!(Webhook::new("http://x/", Preset::Ntfy, vec![("X-Bad\n".into(), "v".into())], false).is_err());
    let c = CommandChannel::new("curl -H 'Authorization: Bearer SECRET' https://x").unwrap();
    assert_eq!(c.describe(), "command `curl`");
}

#[test]
fn the_summary_carries_the_run_and_the_text_its_figures() {
    let r = record(3);
    let j = message::json(&Event::Finished(&r), "box");
    assert_eq!(j["event"], "warning");
    assert_eq!(j["host"], "box");
    assert_eq!(j["profile"], "laptop");
    assert_eq!(j["exit_code"], 3);
    assert_eq!(j["snapshot_id"], "ab".repeat(32));
    assert_eq!(j["data_added"], 4096);
    let text = message::text(&Event::Finished(&r), "box");
    assert!(text.starts_with("arca backup of laptop on box: warning\n"), "{text}");
    assert!(text.contains("snapshot abababab") && text.contains("1 files or directories could not be read"), "{text}");
    let s = StaleSource {
        profile: "laptop".into(),
        source: "/home/me".into(),
        newest_snapshot: None,
        age_seconds: None,
        stale_after_seconds: 3600,
        repository: "/srv".into(),
    };
    assert!(message::text(&Event::Stale(&s), "box").contains("no snapshot of it yet"));
    assert_eq!(message::json(&Event::Stale(&s), "box")["event"], "stale");
}
