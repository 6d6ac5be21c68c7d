use super::*;

fn at(s: &str) -> DateTime<Local> {
    let naive = NaiveDateTime::parse_from_str(s, "%Y-%m-%d %H:%M:%S").unwrap();
    Local.from_local_datetime(&naive).earliest().unwrap()
}

fn next(expr: &str, base: &str) -> Option<String> {
    Calendar::parse(expr).unwrap().next_after(at(base)).map(|t| t.format("%Y-%m-%d %H:%M:%S").to_string())
}

fn norm(expr: &str) -> String {
    Calendar::parse(expr).unwrap().normalized()
}

/// Expressions compared with `systemd-analyze calendar` (normalised form and five elapses).
const TABLE: &[&str] = &[
    "minutely",
    "hourly",
    "daily",
    "weekly",
    "monthly",
    "yearly",
    "annually",
    "quarterly",
    "semiannually",
    "DAILY",
    "daily UTC",
    "*:0/15",
    "*:0,30",
    "*:30,0,15",
    "Mon,Tue,Wed",
    "Wed,Mon,Tue,Fri",
    "Sat,Sun",
    "Sun,Sat",
    "monday",
    "Mon..Fri",
    "Mon-Fri",
    "Mon..Wed,Fri 12:00",
    "Fri,Sat,Sun",
    "Mon..Sun",
    "12:00",
    "2027-03-04",
    "03-04",
    "*-*-1..5",
    "8..18/2:00",
    "*:0/15:30",
    "*-*-* 1,2,3:00",
    "0..5:00",
    "10:5",
    "1:2:3",
    "*-*-01/2",
    "2027-*-*",
    "2027/2-01-01",
    "Mon *-*-* 00:00:00 UTC",
    "*-02-30",
    "Fri *-*-13",
    "*:*:*",
    "*:0/1",
    "1,1,2:00",
    "0..23/1:00",
    "*:0/59",
    "*:0..59/15",
    "1..5,3..8:00",
    "27-03-04",
    "0/2:00",
    "*:*",
    "Mon..Fri *:0/20:15",
    "Tue..Thu 10:00",
    "1..3,7..9:00",
    "*-*-1/10",
    "*-*-31",
    "2027-02-29",
    "*-02-29 12:00",
    "Sat *-*-1..7 03:30",
    "*:*:0/5",
    "*-*-* *:*:10,40",
    "Mon 2026-12-07 10:00:00",
    "daily Etc/UTC",
    "2020-01-01",
];

/// Expressions systemd refuses; so does arca.
const REFUSED: &[&str] = &[
    "",
    "*",
    "12",
    "*-*-* *",
    "Sat..Mon",
    "1969-01-01",
    "2200-01-01",
    "*:*/15",
    "05..03:00",
    "*:0/60",
    "*:0/0",
    "2027-13-01",
    "25:00",
    "Mo",
    "*-*-0",
    "*-0-1",
    "12:00 Mon",
    "*-*-* 12:00 Mon",
    "00:00:60",
    "Mon,,Tue",
    "Mon.. Fri",
    "daily +05:00",
    "1:2:3:4",
    "*-*-*-*",
    "x:00",
    "*:-1",
];

#[test]
fn shorthands_and_defaults_normalise_as_systemd_prints_them() {
    assert_eq!(norm("daily"), "*-*-* 00:00:00");
    assert_eq!(norm("weekly"), "Mon *-*-* 00:00:00");
    assert_eq!(norm("quarterly"), "*-01,04,07,10-01 00:00:00");
    assert_eq!(norm("semiannually"), "*-01,07-01 00:00:00");
    assert_eq!(norm("Sat,Sun"), "Sat,Sun *-*-* 00:00:00");
    assert_eq!(norm("Wed,Mon,Tue,Fri"), "Mon..Wed,Fri *-*-* 00:00:00");
    assert_eq!(norm("*:0/15"), "*-*-* *:00/15:00");
    assert_eq!(norm("8..18/2:00"), "*-*-* 08..18/2:00:00");
    assert_eq!(norm("*:0..59/15"), "*-*-* *:00..45/15:00");
    assert_eq!(norm("0..23/1:00"), "*-*-* 00..23:00:00");
    assert_eq!(norm("*:*:0/1"), "*-*-* *:*:*");
    assert_eq!(norm("27-03-04"), "2027-03-04 00:00:00");
    assert_eq!(norm("Mon..Sun 12:00"), "*-*-* 12:00:00");
    assert_eq!(norm("daily utc"), "*-*-* 00:00:00 UTC");
}

#[test]
fn next_elapses_step_over_months_years_and_impossible_dates() {
    assert_eq!(next("daily", "2026-12-07 10:00:00").as_deref(), Some("2026-12-08 00:00:00"));
    // strictly after: the base time itself is not an elapse
    assert_eq!(next("*:0/15", "2026-12-07 10:15:00").as_deref(), Some("2026-12-07 10:30:00"));
    assert_eq!(next("*:0/15", "2026-12-07 10:14:59").as_deref(), Some("2026-12-07 10:15:00"));
    assert_eq!(next("Mon..Fri 02:00", "2026-12-11 03:00:00").as_deref(), Some("2026-12-14 02:00:00"));
    assert_eq!(next("*-*-31", "2027-01-31 00:00:01").as_deref(), Some("2027-03-31 00:00:00"));
    assert_eq!(next("*-02-29", "2027-01-01 00:00:00").as_deref(), Some("2028-02-29 00:00:00"));
    assert_eq!(next("*-12-31 23:59:59", "2026-12-31 23:59:59").as_deref(), Some("2027-12-31 23:59:59"));
    assert_eq!(next("*:*:0/5", "2026-12-31 23:59:58").as_deref(), Some("2027-01-01 00:00:00"));
    assert_eq!(next("Fri *-*-13", "2026-12-07 00:00:00").as_deref(), Some("2027-08-13 00:00:00"));
    assert_eq!(next("*-02-30", "2026-12-07 00:00:00"), None);
    assert_eq!(next("2020-01-01", "2026-12-07 00:00:00"), None);
    assert_eq!(next("2199-12-31 23:59:59", "2199-12-31 23:59:59"), None);
}

#[test]
fn errors_name_the_expression_and_the_failing_part_with_a_hint() {
    for bad in REFUSED {
        let e = Calendar::parse(bad).expect_err(bad);
        assert_eq!(e.kind, crate::error::Kind::Usage, "{bad}");
        assert!(e.to_string().contains(&format!("{bad:?}")), "{bad}: {e}");
        assert!(e.hint.as_deref().is_some_and(|h| h.contains("OnCalendar")), "{bad}");
    }
    let e = Calendar::parse("Mon..Fri 25:00").unwrap_err().to_string();
    assert!(e.contains("\"25\" is not an hour") && e.contains("outside 0..23"), "{e}");
    let e = Calendar::parse("Mon..Fry").unwrap_err().to_string();
    assert!(e.contains("\"Mon..Fry\"") && e.contains("Fry"), "{e}");
    let e = Calendar::parse("daily Europe/Berlin").unwrap_err().to_string();
    assert!(e.contains("Europe/Berlin") && e.contains("UTC"), "{e}");
    let e = Calendar::parse("*-*~01").unwrap_err().to_string();
    assert!(e.contains("month's end"), "{e}");
    let e = Calendar::parse("*:00:00.5").unwrap_err().to_string();
    assert!(e.contains("fractional"), "{e}");
}

/// One expression through `systemd-analyze calendar`: its normalised form and elapses as
/// local "YYYY-MM-DD HH:MM:SS", or None when systemd refuses it.
fn systemd(expr: &str, base: i64, n: usize) -> Option<(String, Vec<String>)> {
    let out = std::process::Command::new("systemd-analyze")
        .args(["calendar", &format!("--iterations={n}"), &format!("--base-time=@{base}"), "--", expr])
        .output()
        .unwrap();
    if !out.status.success() {
        return None;
    }
    let text = String::from_utf8(out.stdout).unwrap();
    let mut normalized = String::new();
    let mut elapses = vec![];
    for line in text.lines() {
        let (k, v) = line.split_once(": ").unwrap_or(("", ""));
        match k.trim() {
            "Normalized form" => normalized = v.to_string(),
            "Next elapse" | "Iter. #2" | "Iter. #3" | "Iter. #4" | "Iter. #5" if v != "never" => {
                // "Mon 2026-12-07 12:00:00 UTC": drop the weekday and the zone's abbreviation
                let words: Vec<&str> = v.split_whitespace().collect();
                elapses.push(format!("{} {}", words[1], words[2]));
            }
            _ => {}
        }
    }
    Some((normalized, elapses))
}

#[test]
fn agrees_with_systemd_analyze_calendar() {
    if std::process::Command::new("systemd-analyze").arg("--version").output().is_err() {
        eprintln!("systemd-analyze is not installed: comparison skipped");
        return;
    }
    // bases: a Monday morning, the last second of a year, a leap day
    for base in ["2026-12-07 10:00:00", "2027-12-31 23:59:59", "2028-02-29 12:34:56"] {
        let b = at(base);
        for expr in TABLE {
            let (normalized, elapses) =
                systemd(expr, b.timestamp(), 5).unwrap_or_else(|| panic!("systemd refuses {expr:?}"));
            let cal = Calendar::parse(expr).unwrap();
            assert_eq!(cal.normalized(), normalized, "{expr:?}");
            let mut ours = vec![];
            let mut t = b;
            while ours.len() < 5 {
                let Some(n) = cal.next_after(t) else { break };
                ours.push(n.format("%Y-%m-%d %H:%M:%S").to_string());
                t = n;
            }
            assert_eq!(ours, elapses, "{expr:?} after {base}");
        }
    }
    for expr in REFUSED.iter().filter(|e| !e.is_empty()) {
        assert!(systemd(expr, 0, 1).is_none(), "systemd accepts {expr:?}, arca refuses it");
    }
}

#[test]
fn cron_fields_only_where_cron_means_the_same() {
    let f = |e: &str| Calendar::parse(e).unwrap().cron_fields();
    assert_eq!(f("Mon..Fri 02:30").unwrap(), [Some(vec![30]), Some(vec![2]), None, None, Some(vec![1, 2, 3, 4, 5])]);
    assert_eq!(f("Sat,Sun *:0/20").unwrap()[4], Some(vec![0, 6]));
    assert_eq!(f("*:0/20").unwrap()[0], Some(vec![0, 20, 40]));
    assert_eq!(f("quarterly").unwrap()[3], Some(vec![1, 4, 7, 10]));
    // seconds, years, UTC, and day-and-weekday (cron ORs them) have no cron line
    for e in ["*:*:0/5", "2027-*-* 00:00", "daily UTC", "Fri *-*-13"] {
        assert!(f(e).is_none(), "{e}");
    }
}
