//! Table-driven tests of the retention policy: restic's documented examples and the edge
//! cases (time zones, equal times, ISO weeks, month arithmetic, future snapshots).

use super::*;

fn at(s: &str) -> DateTime<FixedOffset> {
    DateTime::parse_from_rfc3339(s).expect("test time")
}

fn strings(list: &[&str]) -> Vec<String> {
    list.iter().map(|s| s.to_string()).collect()
}

const NOW: &str = "2030-01-01T00:00:00Z";

/// The kept snapshots, newest first, as (time as given, reasons).
fn kept(policy: &Policy, times: &[&str], now: &str) -> Vec<(String, Vec<String>)> {
    let items: Vec<Item> = times.iter().map(|t| Item { time: at(t), tags: &[] }).collect();
    let decisions = apply(policy, &items, at(now));
    assert_eq!(decisions.len(), times.len(), "one decision per item");
    decisions.into_iter().filter(|d| d.keep).map(|d| (times[d.index].to_string(), d.reasons)).collect()
}

fn expect(list: &[(&str, &[&str])]) -> Vec<(String, Vec<String>)> {
    list.iter().map(|(t, reasons)| (t.to_string(), strings(reasons))).collect()
}

struct Case {
    name: &'static str,
    policy: Policy,
    times: &'static [&'static str],
    now: &'static str,
    kept: &'static [(&'static str, &'static [&'static str])],
}

fn days(n: i32) -> Span {
    Span { days: n, ..Span::default() }
}

#[test]
fn policies_keep_what_restic_keeps() {
    let cases = [
        Case {
            // doc/060_forget.rst: a backup every Sunday for 12 weeks, `--keep-daily 4`.
            name: "restic doc: keep-daily 4 over 12 Sundays",
            policy: Policy { daily: 4, ..Policy::default() },
            times: &[
                "2019-09-01T11:00:00Z",
                "2019-09-08T11:00:00Z",
                "2019-09-15T11:00:00Z",
                "2019-09-22T11:00:00Z",
                "2019-09-29T11:00:00Z",
                "2019-10-06T11:00:00Z",
                "2019-10-13T11:00:00Z",
                "2019-10-20T11:00:00Z",
                "2019-10-27T11:00:00Z",
                "2019-11-03T11:00:00Z",
                "2019-11-10T11:00:00Z",
                "2019-11-17T11:00:00Z",
            ],
            now: NOW,
            kept: &[
                ("2019-11-17T11:00:00Z", &["daily snapshot"]),
                ("2019-11-10T11:00:00Z", &["daily snapshot"]),
                ("2019-11-03T11:00:00Z", &["daily snapshot"]),
                ("2019-10-27T11:00:00Z", &["daily snapshot"]),
            ],
        },
        Case {
            // doc/060_forget.rst: `forget --keep-last 1` keeps 10:49:18 and removes 10:48:33.
            name: "restic doc: keep-last 1",
            policy: Policy { last: 1, ..Policy::default() },
            times: &["2017-02-21T10:48:33Z", "2017-02-21T10:49:18Z"],
            now: NOW,
            kept: &[("2017-02-21T10:49:18Z", &["last snapshot"])],
        },
        Case {
            // The tail of restic's policy test list (2016-01-04): one per hour; the oldest
            // opens its own hour, so it is a plain hourly keep.
            name: "unlimited hourly",
            policy: Policy { hourly: -1, ..Policy::default() },
            times: &[
                "2016-01-04T10:23:03Z",
                "2016-01-04T11:23:03Z",
                "2016-01-04T12:23:03Z",
                "2016-01-04T12:24:03Z",
                "2016-01-04T12:28:03Z",
                "2016-01-04T12:30:03Z",
                "2016-01-04T16:23:03Z",
            ],
            now: NOW,
            kept: &[
                ("2016-01-04T16:23:03Z", &["hourly snapshot"]),
                ("2016-01-04T12:30:03Z", &["hourly snapshot"]),
                ("2016-01-04T11:23:03Z", &["hourly snapshot"]),
                ("2016-01-04T10:23:03Z", &["hourly snapshot"]),
            ],
        },
        Case {
            // Unlimited counts never run out, so the oldest is always kept too.
            name: "unlimited daily keeps the oldest as well",
            policy: Policy { daily: -1, ..Policy::default() },
            times: &[
                "2024-05-03T20:00:00Z",
                "2024-05-03T08:00:00Z",
                "2024-05-02T10:00:00Z",
                "2024-05-01T23:00:00Z",
                "2024-05-01T01:00:00Z",
            ],
            now: NOW,
            kept: &[
                ("2024-05-03T20:00:00Z", &["daily snapshot"]),
                ("2024-05-02T10:00:00Z", &["daily snapshot"]),
                ("2024-05-01T23:00:00Z", &["daily snapshot"]),
                ("2024-05-01T01:00:00Z", &["oldest daily snapshot"]),
            ],
        },
        Case {
            name: "oldest kept while yearly count is left",
            policy: Policy { yearly: 5, ..Policy::default() },
            times: &["2024-06-01T00:00:00Z", "2024-02-01T00:00:00Z", "2023-11-01T00:00:00Z", "2023-05-01T00:00:00Z"],
            now: NOW,
            kept: &[
                ("2024-06-01T00:00:00Z", &["yearly snapshot"]),
                ("2023-11-01T00:00:00Z", &["yearly snapshot"]),
                ("2023-05-01T00:00:00Z", &["oldest yearly snapshot"]),
            ],
        },
        Case {
            name: "oldest not kept once the yearly count is used up",
            policy: Policy { yearly: 2, ..Policy::default() },
            times: &["2024-06-01T00:00:00Z", "2024-02-01T00:00:00Z", "2023-11-01T00:00:00Z", "2023-05-01T00:00:00Z"],
            now: NOW,
            kept: &[("2024-06-01T00:00:00Z", &["yearly snapshot"]), ("2023-11-01T00:00:00Z", &["yearly snapshot"])],
        },
        Case {
            // restic PR 5039's example: two snapshots on Monday 2020-01-06.
            name: "oldest marked per rule",
            policy: Policy { daily: 5, weekly: 5, ..Policy::default() },
            times: &["2020-01-06T10:00:00Z", "2020-01-13T09:00:00Z", "2020-01-06T12:00:00Z"],
            now: NOW,
            kept: &[
                ("2020-01-13T09:00:00Z", &["daily snapshot", "weekly snapshot"]),
                ("2020-01-06T12:00:00Z", &["daily snapshot", "weekly snapshot"]),
                ("2020-01-06T10:00:00Z", &["oldest daily snapshot", "oldest weekly snapshot"]),
            ],
        },
        Case {
            // 23:30 at -05:00 is the same instant as 04:30Z the next day, but another
            // day and hour on its own clock. Bucketing in UTC would drop it.
            name: "buckets on each snapshot's own offset",
            policy: Policy { daily: 3, ..Policy::default() },
            times: &["2024-03-11T04:30:00+00:00", "2024-03-10T23:30:00-05:00", "2024-03-09T12:00:00Z"],
            now: NOW,
            kept: &[
                ("2024-03-11T04:30:00+00:00", &["daily snapshot"]),
                ("2024-03-10T23:30:00-05:00", &["daily snapshot"]),
                ("2024-03-09T12:00:00Z", &["daily snapshot"]),
            ],
        },
        Case {
            // 01:00+09:00 on the 11th is 16:00Z on the 10th: older than 20:00Z on the 10th.
            name: "ordered by instant, not by wall clock",
            policy: Policy { last: 1, ..Policy::default() },
            times: &["2024-03-11T01:00:00+09:00", "2024-03-10T20:00:00Z"],
            now: NOW,
            kept: &[("2024-03-10T20:00:00Z", &["last snapshot"])],
        },
        Case {
            // 2020-12-31 and 2021-01-01 are both in ISO week 2020-W53.
            name: "ISO week 2020-W53 spans the new year",
            policy: Policy { weekly: -1, ..Policy::default() },
            times: &["2020-12-20T12:00:00Z", "2020-12-31T12:00:00Z", "2021-01-01T12:00:00Z"],
            now: NOW,
            kept: &[("2021-01-01T12:00:00Z", &["weekly snapshot"]), ("2020-12-20T12:00:00Z", &["weekly snapshot"])],
        },
        Case {
            name: "calendar years split what ISO week 2020-W53 joins",
            policy: Policy { yearly: -1, ..Policy::default() },
            times: &["2020-12-20T12:00:00Z", "2020-12-31T12:00:00Z", "2021-01-01T12:00:00Z"],
            now: NOW,
            kept: &[
                ("2021-01-01T12:00:00Z", &["yearly snapshot"]),
                ("2020-12-31T12:00:00Z", &["yearly snapshot"]),
                ("2020-12-20T12:00:00Z", &["oldest yearly snapshot"]),
            ],
        },
        Case {
            // Monday 2024-12-30 is in 2025-W01 with 2025-01-02; Sunday 2024-12-29 is 2024-W52.
            name: "ISO week 2025-W01 starts in December",
            policy: Policy { weekly: -1, ..Policy::default() },
            times: &["2025-01-02T12:00:00Z", "2024-12-30T12:00:00Z", "2024-12-29T12:00:00Z", "2024-12-01T12:00:00Z"],
            now: NOW,
            kept: &[
                ("2025-01-02T12:00:00Z", &["weekly snapshot"]),
                ("2024-12-29T12:00:00Z", &["weekly snapshot"]),
                ("2024-12-01T12:00:00Z", &["weekly snapshot"]),
            ],
        },
        Case {
            // The window is open at its old end: exactly two days before the newest is out.
            name: "within is strictly after latest minus span",
            policy: Policy { within: days(2), ..Policy::default() },
            times: &["2024-05-10T12:00:00Z", "2024-05-08T12:00:01Z", "2024-05-08T12:00:00Z", "2024-05-07T00:00:00Z"],
            now: NOW,
            kept: &[("2024-05-10T12:00:00Z", &["within 2d"]), ("2024-05-08T12:00:01Z", &["within 2d"])],
        },
        Case {
            // 2023-03-31 − 1m is 2023-03-03 (Go's AddDate), not 2023-02-28.
            name: "within a month rolls over like Go",
            policy: Policy { within: Span { months: 1, ..Span::default() }, ..Policy::default() },
            times: &["2023-03-31T12:00:00Z", "2023-03-03T13:00:00Z", "2023-03-02T12:00:00Z", "2023-02-28T12:00:00Z"],
            now: NOW,
            kept: &[("2023-03-31T12:00:00Z", &["within 1m"]), ("2023-03-03T13:00:00Z", &["within 1m"])],
        },
        Case {
            // latest is 2024-05-09T12:00, not the future snapshot; the window is 1 day back.
            name: "future snapshot does not move the window",
            policy: Policy { within: days(1), ..Policy::default() },
            times: &["2024-06-01T00:00:00Z", "2024-05-09T12:00:00Z", "2024-05-08T13:00:00Z", "2024-05-07T14:00:00Z"],
            now: "2024-05-10T00:00:00Z",
            kept: &[
                ("2024-06-01T00:00:00Z", &["within 1d"]),
                ("2024-05-09T12:00:00Z", &["within 1d"]),
                ("2024-05-08T13:00:00Z", &["within 1d"]),
            ],
        },
        Case {
            // A snapshot taken exactly at `now` is not before it, so latest is 05-08T13:00.
            name: "snapshot at now is not latest",
            policy: Policy { within: days(1), ..Policy::default() },
            times: &["2024-06-01T00:00:00Z", "2024-05-09T12:00:00Z", "2024-05-08T13:00:00Z", "2024-05-07T14:00:00Z"],
            now: "2024-05-09T12:00:00Z",
            kept: &[
                ("2024-06-01T00:00:00Z", &["within 1d"]),
                ("2024-05-09T12:00:00Z", &["within 1d"]),
                ("2024-05-08T13:00:00Z", &["within 1d"]),
                ("2024-05-07T14:00:00Z", &["within 1d"]),
            ],
        },
        Case {
            name: "all snapshots in the future are all within",
            policy: Policy { within: days(1), within_daily: days(1), ..Policy::default() },
            times: &["2024-05-09T12:00:00Z", "2024-05-09T08:00:00Z", "2024-01-01T00:00:00Z"],
            now: "2000-01-01T00:00:00Z",
            kept: &[
                ("2024-05-09T12:00:00Z", &["within 1d", "daily within 1d"]),
                ("2024-05-09T08:00:00Z", &["within 1d"]),
                ("2024-01-01T00:00:00Z", &["within 1d", "daily within 1d"]),
            ],
        },
        Case {
            // Window starts 2024-05-08T18:00; newest per day inside it, never "oldest".
            name: "within-daily keeps the newest per day inside the window",
            policy: Policy { within_daily: days(2), ..Policy::default() },
            times: &[
                "2024-05-10T18:00:00Z",
                "2024-05-10T08:00:00Z",
                "2024-05-09T23:00:00Z",
                "2024-05-09T10:00:00Z",
                "2024-05-08T20:00:00Z",
                "2024-05-08T17:00:00Z",
                "2024-05-07T12:00:00Z",
            ],
            now: NOW,
            kept: &[
                ("2024-05-10T18:00:00Z", &["daily within 2d"]),
                ("2024-05-09T23:00:00Z", &["daily within 2d"]),
                ("2024-05-08T20:00:00Z", &["daily within 2d"]),
            ],
        },
        Case {
            name: "rules add up and name themselves in order",
            policy: Policy {
                last: 1,
                within: Span { hours: 30, ..Span::default() },
                within_hourly: Span { hours: 3, ..Span::default() },
                tags: vec![],
                ..Policy::default()
            },
            times: &["2024-05-10T12:10:00Z", "2024-05-10T11:50:00Z", "2024-05-10T11:20:00Z", "2024-05-09T05:00:00Z"],
            now: NOW,
            kept: &[
                ("2024-05-10T12:10:00Z", &["within 30h", "last snapshot", "hourly within 3h"]),
                ("2024-05-10T11:50:00Z", &["within 30h", "hourly within 3h"]),
                ("2024-05-10T11:20:00Z", &["within 30h"]),
            ],
        },
        Case {
            name: "empty policy keeps everything",
            policy: Policy::default(),
            times: &["2024-05-09T12:00:00Z", "2024-05-10T12:00:00Z"],
            now: NOW,
            kept: &[("2024-05-10T12:00:00Z", &["policy is empty"]), ("2024-05-09T12:00:00Z", &["policy is empty"])],
        },
        Case { name: "empty input", policy: Policy { daily: 7, ..Policy::default() }, times: &[], now: NOW, kept: &[] },
        Case { name: "empty input, empty policy", policy: Policy::default(), times: &[], now: NOW, kept: &[] },
    ];
    for case in cases {
        assert_eq!(kept(&case.policy, case.times, case.now), expect(case.kept), "{}", case.name);
    }
}

/// doc/060_forget.rst: daily backups for 100 years and `--keep-daily 7 --keep-weekly 5
/// --keep-monthly 12 --keep-yearly 75` keep 7 dailies, 4 more Sundays, 11 more month ends
/// and 73 more year ends when the newest is Sunday 2024-03-31, the last day of a month.
#[test]
fn restic_doc_hundred_years_of_dailies() {
    let first = NaiveDate::from_ymd_opt(1924, 4, 1).expect("date");
    let last = NaiveDate::from_ymd_opt(2024, 3, 31).expect("date");
    let times: Vec<DateTime<FixedOffset>> = first
        .iter_days()
        .take_while(|d| *d <= last)
        .map(|d| d.and_hms_opt(12, 0, 0).expect("time").and_utc().fixed_offset())
        .collect();
    let items: Vec<Item> = times.iter().map(|&time| Item { time, tags: &[] }).collect();
    let policy = Policy { daily: 7, weekly: 5, monthly: 12, yearly: 75, ..Policy::default() };
    let decisions = apply(&policy, &items, at(NOW));

    let date = |y, m, d| NaiveDate::from_ymd_opt(y, m, d).expect("date");
    let mut want: Vec<NaiveDate> = (25..=31).map(|d| date(2024, 3, d)).collect();
    want.extend([3, 10, 17, 24].map(|d| date(2024, 3, d)));
    want.extend(
        [(4, 30), (5, 31), (6, 30), (7, 31), (8, 31), (9, 30), (10, 31), (11, 30), (12, 31)]
            .map(|(m, d)| date(2023, m, d)),
    );
    want.extend([date(2024, 1, 31), date(2024, 2, 29)]);
    want.extend((1950..=2022).map(|y| date(y, 12, 31)));
    want.sort_by(|a, b| b.cmp(a));
    assert_eq!(want.len(), 95);

    let got: Vec<NaiveDate> = decisions.iter().filter(|d| d.keep).map(|d| items[d.index].time.date_naive()).collect();
    assert_eq!(got, want);

    let newest = &decisions[0];
    assert_eq!(newest.reasons, ["daily snapshot", "weekly snapshot", "monthly snapshot", "yearly snapshot"]);
    assert_eq!(newest.counters, Counters { daily: 6, weekly: 4, monthly: 11, yearly: 74, ..Counters::default() });
    let reasons_on =
        |d: NaiveDate| decisions.iter().find(|x| items[x.index].time.date_naive() == d).map(|x| x.reasons.clone());
    assert_eq!(reasons_on(date(2024, 3, 24)), Some(strings(&["weekly snapshot"])));
    assert_eq!(reasons_on(date(2023, 12, 31)), Some(strings(&["monthly snapshot", "yearly snapshot"])));
    assert_eq!(reasons_on(date(1950, 12, 31)), Some(strings(&["yearly snapshot"])));
    assert_eq!(reasons_on(date(1924, 4, 1)), Some(vec![]), "oldest: every count used up");
}

/// The doc's `--keep-within-daily 7d --keep-within-weekly 1m` idea on daily backups up to
/// Wednesday 2024-05-15: dailies back to 05-09 (window starts 05-08T12:00), then the newest
/// of each ISO week back to 04-16 (window starts 04-15T12:00).
#[test]
fn within_daily_and_weekly() {
    let first = NaiveDate::from_ymd_opt(2024, 4, 1).expect("date");
    let times: Vec<DateTime<FixedOffset>> = (0..45)
        .map(|n| (first + TimeDelta::days(n)).and_hms_opt(12, 0, 0).expect("time").and_utc().fixed_offset())
        .collect();
    assert_eq!(times[44], at("2024-05-15T12:00:00Z"));
    let items: Vec<Item> = times.iter().map(|&time| Item { time, tags: &[] }).collect();
    let policy =
        Policy { within_daily: days(7), within_weekly: Span { months: 1, ..Span::default() }, ..Policy::default() };
    let got: Vec<(String, Vec<String>)> = apply(&policy, &items, at(NOW))
        .into_iter()
        .filter(|d| d.keep)
        .map(|d| (items[d.index].time.format("%m-%d").to_string(), d.reasons))
        .collect();
    let both: &[&str] = &["daily within 7d", "weekly within 1m"];
    let daily: &[&str] = &["daily within 7d"];
    let weekly: &[&str] = &["weekly within 1m"];
    let want = expect(&[
        ("05-15", both),
        ("05-14", daily),
        ("05-13", daily),
        ("05-12", both),
        ("05-11", daily),
        ("05-10", daily),
        ("05-09", daily),
        ("05-05", weekly),
        ("04-28", weekly),
        ("04-21", weekly),
    ]);
    assert_eq!(got, want);
}

#[test]
fn equal_times_keep_input_order_and_share_a_bucket() {
    let times = [at("2024-05-10T09:00:00Z"), at("2024-05-10T10:30:00Z"), at("2024-05-10T10:30:00Z")];
    let items: Vec<Item> = times.iter().map(|&time| Item { time, tags: &[] }).collect();
    let decisions = apply(&Policy { hourly: 5, ..Policy::default() }, &items, at(NOW));
    let hourly = |n| Counters { hourly: n, ..Counters::default() };
    assert_eq!(
        decisions,
        [
            Decision { index: 1, keep: true, reasons: strings(&["hourly snapshot"]), counters: hourly(4) },
            Decision { index: 2, keep: false, reasons: vec![], counters: hourly(4) },
            Decision { index: 0, keep: true, reasons: strings(&["hourly snapshot"]), counters: hourly(3) },
        ]
    );
}

#[test]
fn counters_count_down_and_unlimited_stays() {
    let times = [at("2019-11-17T11:00:00Z"), at("2019-11-10T11:00:00Z"), at("2019-11-03T11:00:00Z")];
    let items: Vec<Item> = times.iter().map(|&time| Item { time, tags: &[] }).collect();
    let policy = Policy { last: 2, weekly: -1, ..Policy::default() };
    let counters: Vec<Counters> = apply(&policy, &items, at(NOW)).into_iter().map(|d| d.counters).collect();
    let c = |last| Counters { last, weekly: -1, ..Counters::default() };
    assert_eq!(counters, [c(1), c(0), c(0)]);
    let json = serde_json::to_string(&Counters { daily: 2, weekly: -1, ..Counters::default() }).expect("json");
    assert_eq!(json, r#"{"daily":2,"weekly":-1}"#);
    assert_eq!(serde_json::to_string(&Counters::default()).expect("json"), "{}");
}

#[test]
fn keep_tag_sets() {
    let foo = strings(&["foo"]);
    let foo_bar = strings(&["foo", "bar"]);
    let bar = strings(&["bar"]);
    let none: Vec<String> = vec![];
    let items = [
        Item { time: at("2024-05-04T00:00:00Z"), tags: &foo },
        Item { time: at("2024-05-03T00:00:00Z"), tags: &foo_bar },
        Item { time: at("2024-05-02T00:00:00Z"), tags: &bar },
        Item { time: at("2024-05-01T00:00:00Z"), tags: &none },
    ];
    let run = |sets: &[&[&str]]| -> Vec<(usize, Vec<String>)> {
        let policy = Policy { tags: sets.iter().map(|s| strings(s)).collect(), ..Policy::default() };
        apply(&policy, &items, at(NOW)).into_iter().filter(|d| d.keep).map(|d| (d.index, d.reasons)).collect()
    };
    assert_eq!(run(&[&["foo", "bar"]]), [(1, strings(&["has tags [foo, bar]"]))]);
    assert_eq!(
        run(&[&["foo"], &["bar"]]),
        [
            (0, strings(&["has tags [foo]"])),
            (1, strings(&["has tags [foo]", "has tags [bar]"])),
            (2, strings(&["has tags [bar]"])),
        ]
    );
    assert_eq!(run(&[&[""]]), [(3, strings(&["has tags []"]))]);
    // The empty tag settles the match when reached first, and fails a tagged snapshot.
    assert_eq!(run(&[&["", "foo"]]), [(3, strings(&["has tags [, foo]"]))]);
    assert!(run(&[&["foo", ""]]).is_empty());
    assert!(run(&[&["baz"]]).is_empty());
    assert_eq!(run(&[&[]]).len(), 4, "an empty set matches every snapshot");
    // Tags use up no count: the tagged newest still takes `last`.
    let policy = Policy { last: 1, tags: vec![foo.clone()], ..Policy::default() };
    let first = &apply(&policy, &items, at(NOW))[0];
    assert_eq!(first.reasons, ["has tags [foo]", "last snapshot"]);
    assert_eq!(first.counters, Counters::default());
}

#[test]
fn span_parses_and_prints() {
    let span = |years, months, days, hours| Span { years, months, days, hours };
    let cases = [
        ("1y5m7d2h", span(1, 5, 7, 2), "1y5m7d2h"),
        ("2d", span(0, 0, 2, 0), "2d"),
        ("36h", span(0, 0, 0, 36), "36h"),
        ("2h1y", span(1, 0, 0, 2), "1y2h"),
        (" 1m14d ", span(0, 1, 14, 0), "1m14d"),
        ("0d", span(0, 0, 0, 0), "0h"),
        ("2147483647h", span(0, 0, 0, i32::MAX), "2147483647h"),
    ];
    for (text, want, printed) in cases {
        let got: Span = text.parse().unwrap_or_else(|e| panic!("{text}: {e}"));
        assert_eq!(got, want, "{text}");
        assert_eq!(got.to_string(), printed, "{text}");
        assert_eq!(printed.parse::<Span>().expect("round trip"), want, "{printed}");
    }
    assert!(span(0, 0, 0, 0).is_zero());
    assert!(!span(0, 0, 0, 1).is_zero());
}

#[test]
fn span_rejects() {
    let cases = [
        ("", "it is empty"),
        ("   ", "it is empty"),
        ("0", "no unit after 0"),
        ("5", "no unit after 5"),
        ("d", "expected a number"),
        ("1w", "unknown unit 'w'"),
        ("1D", "unknown unit 'D'"),
        ("1 d", "unknown unit ' '"),
        ("1.5d", "unknown unit '.'"),
        ("-1d", "negative values are not allowed"),
        ("1d-1h", "negative values are not allowed"),
        ("1d2d", "unit 'd' given twice"),
        ("2147483648h", "2147483648 is too large"),
        ("99999999999999999999y", "too large"),
    ];
    for (text, why) in cases {
        let err = text.parse::<Span>().expect_err(text);
        assert_eq!(err.kind, crate::error::Kind::Usage, "{text}");
        assert!(err.message.contains(why), "{text}: {}", err.message);
        assert!(err.message.contains(&format!("{text:?}")), "{text}: {}", err.message);
    }
}

#[test]
fn span_subtracts_like_go_add_date() {
    let span = |years, months, days, hours| Span { years, months, days, hours };
    let cases = [
        (span(0, 1, 0, 0), "2023-03-31T12:00:00Z", "2023-03-03T12:00:00Z"),
        (span(0, 1, 0, 0), "2024-03-31T12:00:00Z", "2024-03-02T12:00:00Z"),
        (span(1, 0, 0, 0), "2024-02-29T08:00:00Z", "2023-03-01T08:00:00Z"),
        (span(0, 1, 0, 0), "2024-01-31T00:00:00Z", "2023-12-31T00:00:00Z"),
        (span(0, 13, 0, 0), "2024-01-15T00:00:00Z", "2022-12-15T00:00:00Z"),
        (span(1, 2, 3, 0), "2024-03-15T06:00:00Z", "2023-01-12T06:00:00Z"),
        (span(0, 0, 1, 0), "2024-03-01T00:00:00Z", "2024-02-29T00:00:00Z"),
        (span(0, 1, 31, 0), "2023-03-31T00:00:00Z", "2023-01-31T00:00:00Z"),
        (span(0, 0, 0, 2), "2024-03-01T01:00:00+02:00", "2024-02-29T23:00:00+02:00"),
        (span(0, 0, 1, 30), "2024-03-10T23:30:00-05:00", "2024-03-08T17:30:00-05:00"),
        (span(0, 0, 0, 0), "2024-03-10T23:30:00-05:00", "2024-03-10T23:30:00-05:00"),
    ];
    for (span, from, want) in cases {
        let got = span.subtract_from(at(from));
        assert_eq!(got.to_rfc3339(), at(want).to_rfc3339(), "{from} - {span}");
    }
    let huge = Span { years: i32::MAX, ..Span::default() }.subtract_from(at("2024-01-01T00:00:00Z"));
    assert!(huge < at("0001-01-01T00:00:00Z"), "saturates instead of panicking: {huge:?}");
}

#[test]
fn counts_parse() {
    for (text, want) in [("unlimited", -1), ("0", 0), ("7", 7), ("+3", 3)] {
        assert_eq!(parse_count(text).expect(text), want, "{text}");
    }
    for text in ["-1", "-5", "", "seven", "Unlimited", "1.5", "7d", "99999999999999999999"] {
        let err = parse_count(text).expect_err(text);
        assert_eq!(err.kind, crate::error::Kind::Usage, "{text}");
        assert!(err.message.contains("unlimited"), "{text}: {}", err.message);
    }
}

#[test]
fn policy_describes_itself_like_restic() {
    let cases = [
        (Policy { daily: 7, weekly: 4, ..Policy::default() }, "keep 7 daily, 4 weekly snapshots"),
        (Policy { last: -1, ..Policy::default() }, "keep all latest snapshots"),
        (
            Policy { within_daily: days(7), within_monthly: Span { years: 1, ..Span::default() }, ..Policy::default() },
            "keep daily snapshots within 7d, monthly snapshots within 1y",
        ),
        (
            Policy {
                last: 2,
                monthly: -1,
                within_hourly: Span { hours: 36, ..Span::default() },
                tags: vec![strings(&["a", "b"]), strings(&["c"])],
                within: days(2),
                ..Policy::default()
            },
            "keep 2 latest, all monthly snapshots, hourly snapshots within 36h and all snapshots with tags \
             [[a, b] [c]] and all snapshots within 2d of the newest",
        ),
        (Policy { within: days(2), ..Policy::default() }, "keep all snapshots within 2d of the newest"),
        (Policy::default(), "keep all snapshots (empty policy)"),
    ];
    for (policy, want) in cases {
        assert_eq!(policy.describe(), want);
    }
    assert!(Policy::default().is_empty());
    assert!(!Policy { tags: vec![vec![]], ..Policy::default() }.is_empty());
    assert!(!Policy { within_yearly: Span { years: 1, ..Span::default() }, ..Policy::default() }.is_empty());
    assert!(Policy { within: Span::default(), ..Policy::default() }.is_empty());
}
