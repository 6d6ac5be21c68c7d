//! Snapshot retention: which snapshots `arca forget` keeps, and why. Pure: no I/O and no clock
//! (the caller passes `now`), so every decision can be pinned by a test.
//!
//! The rules are restic's `forget --keep-*` rules, so a policy carried over from restic keeps
//! the same snapshots:
//!
//! - Snapshots are walked newest first, ordered by instant; equal instants keep input order.
//! - Each count rule (`last`, `hourly`, `daily`, `weekly`, `monthly`, `yearly`) puts a snapshot
//!   in a bucket: its position in the walk for `last`, otherwise its hour, day, ISO week, month or
//!   year read on the wall clock of the offset the snapshot was recorded with (never converted to
//!   UTC or to the local zone). A snapshot whose bucket differs from the one the rule kept last is
//!   kept and uses up one count; -1 never runs out; a rule whose count is used up stops.
//! - The oldest snapshot is kept by every count rule that still has count left, even when its
//!   bucket is already kept; that reason reads "oldest daily snapshot" and so on. This makes a
//!   young repository keep as much history as the counts allow.
//! - `within` keeps every snapshot strictly newer than `latest − span`. `latest` is the newest
//!   snapshot not in the future of `now`, so one snapshot with a skewed clock can't drag the
//!   window forward; snapshots in the future always fall inside it. The `within_*` spans keep
//!   the newest snapshot of each bucket inside their own window.
//! - `tags` keeps a snapshot that has every tag of at least one set; it uses up no count.
//! - A snapshot is kept when any rule keeps it, and every rule that did is named. An empty policy
//!   keeps everything (the command refuses one; this module only makes it harmless).
//!
//! A span is subtracted like Go's `time.AddDate` followed by a plain duration: years and months
//! move the calendar month, the day of month is kept and overflow rolls into the next month
//! (31 March − 1 month is 3 March, or 2 March in a leap year), days count back on the calendar,
//! and hours are exact hours. That is how restic computes the window.

use std::fmt;
use std::str::FromStr;

use chrono::{DateTime, Datelike, FixedOffset, NaiveDate, TimeDelta, TimeZone, Timelike, Utc};

use crate::error::{Error, Result};

/// A calendar length written like `1y5m7d2h`: years, months, days and hours.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Span {
    pub years: i32,
    pub months: i32,
    pub days: i32,
    pub hours: i32,
}

impl Span {
    pub fn is_zero(&self) -> bool {
        *self == Span::default()
    }

    /// `t` moved back by this span in `t`'s own offset (see the module docs for the calendar
    /// rules). A span reaching past what chrono can represent gives the earliest instant it can.
    pub fn subtract_from(&self, t: DateTime<FixedOffset>) -> DateTime<FixedOffset> {
        self.checked_subtract_from(t).unwrap_or_else(|| DateTime::<Utc>::MIN_UTC.fixed_offset())
    }

    fn checked_subtract_from(&self, t: DateTime<FixedOffset>) -> Option<DateTime<FixedOffset>> {
        let wall = t.naive_local();
        let month_index = i64::from(wall.year()) * 12 + i64::from(wall.month0())
            - i64::from(self.years) * 12
            - i64::from(self.months);
        let year = i32::try_from(month_index.div_euclid(12)).ok()?;
        let month0 = u32::try_from(month_index.rem_euclid(12)).ok()?;
        // Day arithmetic starts from the 1st, so a day the month lacks rolls over as in Go.
        let first = NaiveDate::from_ymd_opt(year, month0 + 1, 1)?;
        let day = first.checked_add_signed(TimeDelta::try_days(i64::from(wall.day0()) - i64::from(self.days))?)?;
        let moved = day.and_time(wall.time()).checked_sub_signed(TimeDelta::try_hours(i64::from(self.hours))?)?;
        t.offset().from_local_datetime(&moved).single()
    }
}

/// Units in any order, each at most once, each a non-negative number followed by `y`, `m`,
/// `d` or `h`: `2d`, `36h`, `1y6m`. Surrounding whitespace is ignored. restic also takes
/// negative numbers and lets a repeated unit overwrite the earlier one; both are refused here
/// because they are typos more often than intent.
impl FromStr for Span {
    type Err = Error;

    fn from_str(s: &str) -> Result<Span> {
        let invalid = |why: &str| Error::usage(format!("invalid duration {s:?}: {why}")).hint(SPAN_HINT);
        let mut rest = s.trim();
        if rest.is_empty() {
            return Err(invalid("it is empty"));
        }
        let mut span = Span::default();
        let mut seen = [false; 4];
        while !rest.is_empty() {
            let digits = rest.bytes().take_while(u8::is_ascii_digit).count();
            if digits == 0 {
                return Err(if rest.starts_with('-') {
                    invalid("negative values are not allowed")
                } else {
                    invalid("expected a number")
                });
            }
            let (number, after) = rest.split_at(digits);
            let Some(unit) = after.chars().next() else {
                return Err(invalid(&format!("no unit after {number}")));
            };
            let value: i32 = number.parse().map_err(|_| invalid(&format!("{number} is too large")))?;
            let (slot, field) = match unit {
                'y' => (0, &mut span.years),
                'm' => (1, &mut span.months),
                'd' => (2, &mut span.days),
                'h' => (3, &mut span.hours),
                _ => return Err(invalid(&format!("unknown unit {unit:?}"))),
            };
            if seen[slot] {
                return Err(invalid(&format!("unit {unit:?} given twice")));
            }
            seen[slot] = true;
            *field = value;
            rest = &after[unit.len_utf8()..];
        }
        Ok(span)
    }
}

const SPAN_HINT: &str =
    "write a duration as numbers with units y (years), m (months), d (days), h (hours), e.g. 1y6m or 36h";

/// Non-zero parts in the order y, m, d, h (`1y5m7d2h`); a zero span prints `0h`.
impl fmt::Display for Span {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.is_zero() {
            return f.write_str("0h");
        }
        for (value, unit) in [(self.years, 'y'), (self.months, 'm'), (self.days, 'd'), (self.hours, 'h')] {
            if value != 0 {
                write!(f, "{value}{unit}")?;
            }
        }
        Ok(())
    }
}

/// A `--keep-*` count: `unlimited` is -1, otherwise a number of snapshots, 0 turning the rule off.
pub fn parse_count(s: &str) -> Result<i64> {
    if s == "unlimited" {
        return Ok(-1);
    }
    match s.parse::<i64>() {
        Ok(n) if n >= 0 => Ok(n),
        _ => Err(Error::usage(format!(
            "invalid count {s:?}: expected a number of snapshots (0 or more) or \"unlimited\""
        ))),
    }
}

/// What `forget` keeps. Counts: 0 is off, n > 0 keeps n, -1 (any negative) is unlimited.
/// Zero spans are off.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Policy {
    pub last: i64,
    pub hourly: i64,
    pub daily: i64,
    pub weekly: i64,
    pub monthly: i64,
    pub yearly: i64,
    pub within: Span,
    pub within_hourly: Span,
    pub within_daily: Span,
    pub within_weekly: Span,
    pub within_monthly: Span,
    pub within_yearly: Span,
    /// Keep snapshots having all tags of any one set. A set holding the empty tag matches
    /// untagged snapshots (`--keep-tag ''`); an empty set matches every snapshot.
    pub tags: Vec<Vec<String>>,
}

impl Policy {
    pub fn is_empty(&self) -> bool {
        *self == Policy::default()
    }

    /// One line in restic's words: `keep 7 daily, 4 weekly snapshots, monthly snapshots within
    /// 1y and all snapshots with tags [[a, b] [c]] and all snapshots within 2d of the newest`.
    /// The empty policy, which restic renders as a bare "keep ", reads "keep all snapshots
    /// (empty policy)".
    pub fn describe(&self) -> String {
        if self.is_empty() {
            return "keep all snapshots (empty policy)".to_string();
        }
        let counts: Vec<String> = [
            (self.last, "latest"),
            (self.hourly, "hourly"),
            (self.daily, "daily"),
            (self.weekly, "weekly"),
            (self.monthly, "monthly"),
            (self.yearly, "yearly"),
        ]
        .into_iter()
        .filter(|&(count, _)| count != 0)
        .map(|(count, what)| if count > 0 { format!("{count} {what}") } else { format!("all {what}") })
        .collect();
        let windows: Vec<String> = self
            .windows()
            .into_iter()
            .filter(|(span, _)| !span.is_zero())
            .map(|(span, what)| format!("{what} snapshots within {span}"))
            .collect();

        let mut parts = Vec::new();
        if !counts.is_empty() {
            parts.push(format!("{} snapshots", counts.join(", ")));
        }
        parts.extend(windows);
        let mut text = parts.join(", ");
        let mut and = |clause: String| {
            if !text.is_empty() {
                text.push_str(" and ");
            }
            text.push_str(&clause);
        };
        if !self.tags.is_empty() {
            let sets: Vec<String> = self.tags.iter().map(|set| tag_set(set)).collect();
            and(format!("all snapshots with tags [{}]", sets.join(" ")));
        }
        if !self.within.is_zero() {
            and(format!("all snapshots within {} of the newest", self.within));
        }
        format!("keep {text}")
    }

    fn windows(&self) -> [(Span, &'static str); 5] {
        [
            (self.within_hourly, "hourly"),
            (self.within_daily, "daily"),
            (self.within_weekly, "weekly"),
            (self.within_monthly, "monthly"),
            (self.within_yearly, "yearly"),
        ]
    }
}

/// Counts left in each count rule after a snapshot was judged (-1 stays -1; a rule that is off
/// or used up shows 0 and is left out of JSON, as restic does).
#[derive(Clone, Debug, Default, PartialEq, Eq, serde::Serialize)]
pub struct Counters {
    #[serde(skip_serializing_if = "is_zero")]
    pub last: i64,
    #[serde(skip_serializing_if = "is_zero")]
    pub hourly: i64,
    #[serde(skip_serializing_if = "is_zero")]
    pub daily: i64,
    #[serde(skip_serializing_if = "is_zero")]
    pub weekly: i64,
    #[serde(skip_serializing_if = "is_zero")]
    pub monthly: i64,
    #[serde(skip_serializing_if = "is_zero")]
    pub yearly: i64,
}

fn is_zero(n: &i64) -> bool {
    *n == 0
}

/// The verdict on one snapshot. `reasons` lists every rule that keeps it, in the order tags,
/// within, count rules, within-bucket rules (a tag set reads `has tags [a, b]`); it is empty
/// exactly when `keep` is false. `counters` are the counts left after this snapshot: for a
/// removed snapshot, the same as after the one before.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Decision {
    /// Position of the snapshot in the slice given to [`apply`].
    pub index: usize,
    pub keep: bool,
    pub reasons: Vec<String>,
    pub counters: Counters,
}

/// What the policy needs to know about a snapshot.
#[derive(Clone, Copy, Debug)]
pub struct Item<'a> {
    pub time: DateTime<FixedOffset>,
    pub tags: &'a [String],
}

/// Decisions newest first, one per item.
pub fn apply(policy: &Policy, items: &[Item<'_>], now: DateTime<FixedOffset>) -> Vec<Decision> {
    let mut order: Vec<usize> = (0..items.len()).collect();
    order.sort_by(|&a, &b| items[b].time.cmp(&items[a].time));

    if policy.is_empty() {
        let everything = |index| Decision {
            index,
            keep: true,
            reasons: vec!["policy is empty".to_string()],
            counters: Counters::default(),
        };
        return order.into_iter().map(everything).collect();
    }

    // The first in the walk is the newest; restic likewise keeps the first of equal instants.
    let latest = order.iter().map(|&i| items[i].time).find(|&t| t < now);
    let cutoff = |span: Span| latest.map(|t| span.subtract_from(t));
    let within = cutoff(policy.within);
    let mut counts = [
        CountRule::new(policy.last, Bucket::Position, "last snapshot"),
        CountRule::new(policy.hourly, Bucket::Hour, "hourly snapshot"),
        CountRule::new(policy.daily, Bucket::Day, "daily snapshot"),
        CountRule::new(policy.weekly, Bucket::Week, "weekly snapshot"),
        CountRule::new(policy.monthly, Bucket::Month, "monthly snapshot"),
        CountRule::new(policy.yearly, Bucket::Year, "yearly snapshot"),
    ];
    let mut windows = [Bucket::Hour, Bucket::Day, Bucket::Week, Bucket::Month, Bucket::Year]
        .into_iter()
        .zip(policy.windows())
        .filter(|(_, (span, _))| !span.is_zero())
        .map(|(bucket, (span, what))| WindowRule {
            bucket,
            cutoff: cutoff(span),
            reason: format!("{what} within {span}"),
            last: None,
        })
        .collect::<Vec<_>>();

    let oldest = items.len().saturating_sub(1);
    let mut decisions = Vec::with_capacity(items.len());
    for (position, &index) in order.iter().enumerate() {
        let item = &items[index];
        let mut reasons = Vec::new();
        for set in &policy.tags {
            if has_tags(item.tags, set) {
                reasons.push(format!("has tags {}", tag_set(set)));
            }
        }
        if !policy.within.is_zero() && inside(item.time, within) {
            reasons.push(format!("within {}", policy.within));
        }
        for rule in &mut counts {
            if rule.left == 0 {
                continue;
            }
            let bucket = rule.bucket.of(item.time, position);
            let repeated = rule.last == Some(bucket);
            if repeated && position != oldest {
                continue;
            }
            reasons.push(if repeated { format!("oldest {}", rule.reason) } else { rule.reason.to_string() });
            rule.last = Some(bucket);
            if rule.left > 0 {
                rule.left -= 1;
            }
        }
        for rule in &mut windows {
            let bucket = rule.bucket.of(item.time, position);
            if inside(item.time, rule.cutoff) && rule.last != Some(bucket) {
                rule.last = Some(bucket);
                reasons.push(rule.reason.clone());
            }
        }
        let [last, hourly, daily, weekly, monthly, yearly] = counts.each_ref().map(|rule| rule.left);
        decisions.push(Decision {
            index,
            keep: !reasons.is_empty(),
            reasons,
            counters: Counters { last, hourly, daily, weekly, monthly, yearly },
        });
    }
    decisions
}

struct CountRule {
    /// Counts left; negative never runs out.
    left: i64,
    bucket: Bucket,
    last: Option<i64>,
    reason: &'static str,
}

impl CountRule {
    fn new(left: i64, bucket: Bucket, reason: &'static str) -> Self {
        CountRule { left, bucket, last: None, reason }
    }
}

struct WindowRule {
    bucket: Bucket,
    /// `None` when every snapshot is in the future: then all of them are inside (restic
    /// measures from Go's zero time then).
    cutoff: Option<DateTime<FixedOffset>>,
    reason: String,
    last: Option<i64>,
}

fn inside(t: DateTime<FixedOffset>, cutoff: Option<DateTime<FixedOffset>>) -> bool {
    cutoff.is_none_or(|c| t > c)
}

#[derive(Clone, Copy)]
enum Bucket {
    Position,
    Hour,
    Day,
    Week,
    Month,
    Year,
}

impl Bucket {
    /// A number naming the bucket, such as YYYYMMDDHH for an hour, on `t`'s own wall clock.
    fn of(self, t: DateTime<FixedOffset>, position: usize) -> i64 {
        let (year, month, day, hour) =
            (i64::from(t.year()), i64::from(t.month()), i64::from(t.day()), i64::from(t.hour()));
        match self {
            Bucket::Position => i64::try_from(position).unwrap_or(i64::MAX),
            Bucket::Hour => ((year * 100 + month) * 100 + day) * 100 + hour,
            Bucket::Day => (year * 100 + month) * 100 + day,
            Bucket::Week => i64::from(t.iso_week().year()) * 100 + i64::from(t.iso_week().week()),
            Bucket::Month => year * 100 + month,
            Bucket::Year => year,
        }
    }
}

/// Whether a snapshot with `tags` has every tag of `set`. As in restic, the empty tag matches an
/// untagged snapshot, and it settles the match as soon as it is reached: `["", "a"]` accepts an
/// untagged snapshot, `["a", ""]` does not.
fn has_tags(tags: &[String], set: &[String]) -> bool {
    for wanted in set {
        if wanted.is_empty() && tags.is_empty() {
            return true;
        }
        if !tags.contains(wanted) {
            return false;
        }
    }
    true
}

/// `[a, b]`, restic's rendering of a tag set.
fn tag_set(set: &[String]) -> String {
    format!("[{}]", set.join(", "))
}

#[cfg(test)]
mod tests {
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
                times: &[
                    "2024-06-01T00:00:00Z",
                    "2024-02-01T00:00:00Z",
                    "2023-11-01T00:00:00Z",
                    "2023-05-01T00:00:00Z",
                ],
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
                times: &[
                    "2024-06-01T00:00:00Z",
                    "2024-02-01T00:00:00Z",
                    "2023-11-01T00:00:00Z",
                    "2023-05-01T00:00:00Z",
                ],
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
                times: &[
                    "2025-01-02T12:00:00Z",
                    "2024-12-30T12:00:00Z",
                    "2024-12-29T12:00:00Z",
                    "2024-12-01T12:00:00Z",
                ],
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
                times: &[
                    "2024-05-10T12:00:00Z",
                    "2024-05-08T12:00:01Z",
                    "2024-05-08T12:00:00Z",
                    "2024-05-07T00:00:00Z",
                ],
                now: NOW,
                kept: &[("2024-05-10T12:00:00Z", &["within 2d"]), ("2024-05-08T12:00:01Z", &["within 2d"])],
            },
            Case {
                // 2023-03-31 − 1m is 2023-03-03 (Go's AddDate), not 2023-02-28.
                name: "within a month rolls over like Go",
                policy: Policy { within: Span { months: 1, ..Span::default() }, ..Policy::default() },
                times: &[
                    "2023-03-31T12:00:00Z",
                    "2023-03-03T13:00:00Z",
                    "2023-03-02T12:00:00Z",
                    "2023-02-28T12:00:00Z",
                ],
                now: NOW,
                kept: &[("2023-03-31T12:00:00Z", &["within 1m"]), ("2023-03-03T13:00:00Z", &["within 1m"])],
            },
            Case {
                // latest is 2024-05-09T12:00, not the future snapshot; the window is 1 day back.
                name: "future snapshot does not move the window",
                policy: Policy { within: days(1), ..Policy::default() },
                times: &[
                    "2024-06-01T00:00:00Z",
                    "2024-05-09T12:00:00Z",
                    "2024-05-08T13:00:00Z",
                    "2024-05-07T14:00:00Z",
                ],
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
                times: &[
                    "2024-06-01T00:00:00Z",
                    "2024-05-09T12:00:00Z",
                    "2024-05-08T13:00:00Z",
                    "2024-05-07T14:00:00Z",
                ],
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
                times: &[
                    "2024-05-10T12:10:00Z",
                    "2024-05-10T11:50:00Z",
                    "2024-05-10T11:20:00Z",
                    "2024-05-09T05:00:00Z",
                ],
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
            Case {
                name: "empty input",
                policy: Policy { daily: 7, ..Policy::default() },
                times: &[],
                now: NOW,
                kept: &[],
            },
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

        let got: Vec<NaiveDate> =
            decisions.iter().filter(|d| d.keep).map(|d| items[d.index].time.date_naive()).collect();
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
                Policy {
                    within_daily: days(7),
                    within_monthly: Span { years: 1, ..Span::default() },
                    ..Policy::default()
                },
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
}
