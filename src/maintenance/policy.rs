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
mod tests;
