//! systemd's `OnCalendar=` expressions (`systemd.time(7)`): parse, print in systemd's normalised
//! form, and find the next time an expression elapses.
//!
//! An expression is `[WEEKDAYS] [DATE] [TIME] [ZONE]` or one of the shorthands (`minutely`,
//! `hourly`, `daily`, `weekly`, `monthly`, `yearly`/`annually`, `quarterly`, `semiannually`).
//! WEEKDAYS is a list of names and `A..B` ranges (`Mon..Fri`, `Sat,Sun`); DATE is
//! `[YEAR-]MONTH-DAY`, TIME is `HOUR:MINUTE[:SECOND]`. Each number field is `*` or a list of
//! `N`, `A..B`, `N/STEP` or `A..B/STEP` (`*:0/15`, `8..18/2:00`). A missing date is `*-*-*`, a
//! missing time `00:00:00`, missing seconds `00`. ZONE may be `UTC` (or `Etc/UTC`); other
//! zones are refused with a hint rather than silently read as local time. Not supported, and
//! refused by name: `~` (days counted from the month's end) and fractional seconds.
//!
//! The next elapse walks the fields from year to second, each time taking the smallest
//! matching value not below the current one and resetting the smaller fields when a larger
//! one moved, as systemd's `find_next` does. A local time that a DST change skips is passed
//! over; one that occurs twice elapses at its first occurrence after the base time. The
//! normalised form follows systemd's `calendar_spec_to_string` (items sorted and deduplicated,
//! a stepped range cut to its last hit, runs of three or more weekdays written `A..B`), and is
//! tested against `systemd-analyze calendar` where that exists.

use chrono::{DateTime, Datelike, Local, LocalResult, NaiveDate, NaiveDateTime, TimeZone, Timelike, Utc};

use crate::error::{Error, Result};

const MIN_YEAR: i32 = 1970;
const MAX_YEAR: i32 = 2199;
const DAYS: [&str; 7] = ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"];
const LONG_DAYS: [&str; 7] = ["monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday"];
const SHORTHANDS: &[(&str, &str)] = &[
    ("minutely", "*-*-* *:*:00"),
    ("hourly", "*-*-* *:00:00"),
    ("daily", "*-*-* 00:00:00"),
    ("weekly", "Mon *-*-* 00:00:00"),
    ("monthly", "*-*-01 00:00:00"),
    ("yearly", "*-01-01 00:00:00"),
    ("annually", "*-01-01 00:00:00"),
    ("quarterly", "*-01,04,07,10-01 00:00:00"),
    ("semiannually", "*-01,07-01 00:00:00"),
];
const HINT: &str = "write systemd OnCalendar syntax, e.g. `daily`, `Mon..Fri 02:00`, `*:0/15` or \
                    `Sat,Sun *-*-* 08..18/2:00` (see systemd.time(7); `systemd-analyze calendar EXPR` checks one)";

/// One item of a field's list: `start`, `start..stop`, `start/repeat`, `start..stop/repeat`
/// (a range without a step has step 1, as in systemd).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
struct Item {
    start: i32,
    /// -1: no end
    stop: i32,
    /// 0: no repetition
    repeat: i32,
}

/// A field: `None` is `*` (any value).
type Field = Option<Vec<Item>>;

/// A parsed calendar expression.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Calendar {
    /// Bit i = DAYS[i]; 0 or all seven = any day.
    weekdays: u8,
    year: Field,
    month: Field,
    day: Field,
    hour: Field,
    minute: Field,
    second: Field,
    /// `Some("UTC")`/`Some("Etc/UTC")`: evaluated in UTC; `None`: local time.
    zone: Option<String>,
}

impl Calendar {
    /// Parse an expression; an error names the expression and the part that failed.
    pub fn parse(expr: &str) -> Result<Calendar> {
        let fail =
            |part: &str, why: &str| Error::usage(format!("calendar expression {expr:?}: {part:?} {why}")).hint(HINT);
        let mut words: Vec<&str> = expr.split_whitespace().collect();
        if words.is_empty() {
            return Err(fail("", "is empty"));
        }
        let mut zone = None;
        if words.len() >= 2 {
            let last = words[words.len() - 1];
            if last.starts_with(|c: char| c.is_ascii_alphabetic() || c == '+') {
                zone = Some(parse_zone(last).map_err(|why| fail(last, &why))?);
                words.pop();
            }
        }
        if let [one] = words[..] {
            if let Some((_, long)) = SHORTHANDS.iter().find(|(s, _)| s.eq_ignore_ascii_case(one)) {
                let mut c = Calendar::parse(long)?;
                c.zone = zone;
                return Ok(c);
            }
        }
        let mut cal = Calendar {
            weekdays: 0,
            year: None,
            month: None,
            day: None,
            hour: Some(vec![exact(0)]),
            minute: Some(vec![exact(0)]),
            second: Some(vec![exact(0)]),
            zone,
        };
        let mut rest = &words[..];
        if let Some(first) = rest.first().filter(|w| w.starts_with(|c: char| c.is_ascii_alphabetic())) {
            cal.weekdays = parse_weekdays(first).map_err(|why| fail(first, &why))?;
            rest = &rest[1..];
        }
        let (date, time) = match rest {
            [] => (None, None),
            [one] if one.contains(':') => (None, Some(*one)),
            [one] => (Some(*one), None),
            [d, t] => (Some(*d), Some(*t)),
            [_, _, extra, ..] => {
                return Err(fail(extra, "is one word too many (expected [WEEKDAYS] [DATE] [TIME] [ZONE])"))
            }
        };
        if let Some(d) = date {
            let parts: Vec<&str> = d.split('-').collect();
            let (y, m, dd) = match parts[..] {
                [y, m, dd] => (Some(y), m, dd),
                [m, dd] => (None, m, dd),
                _ => return Err(fail(d, "is not a date (expected [YEAR-]MONTH-DAY, e.g. *-*-01 or 2027-03-04)")),
            };
            if dd.contains('~') || m.contains('~') {
                return Err(fail(d, "counts days from the month's end (~), which arca does not support"));
            }
            if let Some(y) = y {
                cal.year = parse_field(y, MIN_YEAR, MAX_YEAR, true)
                    .map_err(|why| fail(y, &format!("is not a year: {why}")))?;
            }
            cal.month = parse_field(m, 1, 12, false).map_err(|why| fail(m, &format!("is not a month: {why}")))?;
            cal.day = parse_field(dd, 1, 31, false).map_err(|why| fail(dd, &format!("is not a day: {why}")))?;
        }
        if let Some(t) = time {
            let parts: Vec<&str> = t.split(':').collect();
            let (h, m, s) = match parts[..] {
                [h, m] => (h, m, None),
                [h, m, s] => (h, m, Some(s)),
                _ => return Err(fail(t, "is not a time (expected HOUR:MINUTE[:SECOND], e.g. 02:00 or *:0/15)")),
            };
            cal.hour = parse_field(h, 0, 23, false).map_err(|why| fail(h, &format!("is not an hour: {why}")))?;
            cal.minute = parse_field(m, 0, 59, false).map_err(|why| fail(m, &format!("is not a minute: {why}")))?;
            if let Some(s) = s {
                if s.contains('.') {
                    return Err(fail(s, "has fractional seconds, which arca does not support"));
                }
                cal.second = parse_field(s, 0, 59, false).map_err(|why| fail(s, &format!("is not a second: {why}")))?;
            }
        }
        if cal.weekdays == 0x7f {
            cal.weekdays = 0;
        }
        Ok(cal)
    }

    /// The first time strictly after `after` (whole seconds) at which the expression elapses;
    /// `None` when it never does again (`2020-01-01`, `*-02-30`).
    pub fn next_after(&self, after: DateTime<Local>) -> Option<DateTime<Local>> {
        if self.zone.is_some() {
            let next = self.next_in(&Utc, after.with_timezone(&Utc))?;
            Some(next.with_timezone(&Local))
        } else {
            self.next_in(&Local, after)
        }
    }

    fn next_in<Z: TimeZone>(&self, zone: &Z, after: DateTime<Z>) -> Option<DateTime<Z>> {
        let mut from = after.naive_local().with_nanosecond(0)? + chrono::Duration::seconds(1);
        // each step either returns or moves `from` forward to a later candidate; the year
        // bound ends the search
        loop {
            let candidate = self.next_naive(from)?;
            match zone.from_local_datetime(&candidate) {
                LocalResult::Single(t) if t > after => return Some(t),
                LocalResult::Ambiguous(a, b) => {
                    if a > after {
                        return Some(a);
                    } else if b > after {
                        return Some(b);
                    }
                }
                _ => {}
            }
            from = candidate + chrono::Duration::seconds(1);
        }
    }

    /// The first naive time at or after `from` that matches every field.
    fn next_naive(&self, from: NaiveDateTime) -> Option<NaiveDateTime> {
        let (mut y, mut mo, mut d) = (from.year(), from.month() as i32, from.day() as i32);
        let (mut h, mut mi, mut s) = (from.hour() as i32, from.minute() as i32, from.second() as i32);
        loop {
            if y > MAX_YEAR {
                return None;
            }
            let ny = next_match(&self.year, y, MAX_YEAR)?;
            if ny != y {
                (y, mo, d, h, mi, s) = (ny, 1, 1, 0, 0, 0);
            }
            let Some(nm) = next_match(&self.month, mo, 12) else {
                (y, mo, d, h, mi, s) = (y + 1, 1, 1, 0, 0, 0);
                continue;
            };
            if nm != mo {
                (mo, d, h, mi, s) = (nm, 1, 0, 0, 0);
            }
            let last = days_in_month(y, mo as u32);
            let day = (d..=last).find(|&x| matches(&self.day, x) && self.weekday_ok(y, mo, x));
            let Some(nd) = day else {
                (mo, d, h, mi, s) = (mo + 1, 1, 0, 0, 0);
                if mo > 12 {
                    (y, mo) = (y + 1, 1);
                }
                continue;
            };
            if nd != d {
                (d, h, mi, s) = (nd, 0, 0, 0);
            }
            let Some(nh) = next_match(&self.hour, h, 23) else {
                (d, h, mi, s) = (d + 1, 0, 0, 0);
                (y, mo, d) = roll_day(y, mo, d);
                continue;
            };
            if nh != h {
                (h, mi, s) = (nh, 0, 0);
            }
            let Some(nmi) = next_match(&self.minute, mi, 59) else {
                (h, mi, s) = (h + 1, 0, 0);
                if h > 23 {
                    (y, mo, d) = roll_day(y, mo, d + 1);
                    h = 0;
                }
                continue;
            };
            if nmi != mi {
                (mi, s) = (nmi, 0);
            }
            let Some(ns) = next_match(&self.second, s, 59) else {
                (mi, s) = (mi + 1, 0);
                if mi > 59 {
                    (h, mi) = (h + 1, 0);
                    if h > 23 {
                        (y, mo, d) = roll_day(y, mo, d + 1);
                        h = 0;
                    }
                }
                continue;
            };
            return NaiveDate::from_ymd_opt(y, mo as u32, d as u32)?.and_hms_opt(h as u32, mi as u32, ns as u32);
        }
    }

    fn weekday_ok(&self, y: i32, mo: i32, d: i32) -> bool {
        if self.weekdays == 0 {
            return true;
        }
        NaiveDate::from_ymd_opt(y, mo as u32, d as u32)
            .is_some_and(|date| self.weekdays & (1 << date.weekday().num_days_from_monday()) != 0)
    }

    /// systemd's normalised form (`Mon..Fri *-*-* 02:00:00`).
    pub fn normalized(&self) -> String {
        let mut out = String::new();
        if self.weekdays != 0 {
            out.push_str(&format_weekdays(self.weekdays));
            out.push(' ');
        }
        out.push_str(&format!(
            "{}-{}-{} {}:{}:{}",
            format_field(&self.year, 4, false),
            format_field(&self.month, 2, false),
            format_field(&self.day, 2, false),
            format_field(&self.hour, 2, false),
            format_field(&self.minute, 2, false),
            format_field(&self.second, 2, true),
        ));
        if let Some(z) = &self.zone {
            out.push(' ');
            out.push_str(z);
        }
        out
    }
}

/// An expression in cron's terms: the values of minute, hour, day of month, month and day of
/// week (0 = Sunday); `None` is `*`.
pub type CronFields = [Option<Vec<u32>>; 5];

impl Calendar {
    /// The expression as cron's fields, when cron (and launchd) can say it exactly: local
    /// time, every year, at second 0, and not both a day of month and a weekday (cron runs
    /// when either matches, systemd when both do).
    pub fn cron_fields(&self) -> Option<CronFields> {
        let at_zero = self.second.as_ref().is_some_and(|s| s.len() == 1 && s[0] == exact(0));
        if self.zone.is_some() || self.year.is_some() || !at_zero || (self.day.is_some() && self.weekdays != 0) {
            return None;
        }
        let values = |f: &Field, min: i32, max: i32| {
            f.as_ref().map(|_| (min..=max).filter(|&v| matches(f, v)).map(|v| v as u32).collect::<Vec<_>>())
        };
        let weekdays = (self.weekdays != 0)
            .then(|| (0..7u32).filter(|&cron| self.weekdays & (1 << ((cron + 6) % 7)) != 0).collect());
        Some([
            values(&self.minute, 0, 59),
            values(&self.hour, 0, 23),
            values(&self.day, 1, 31),
            values(&self.month, 1, 12),
            weekdays,
        ])
    }
}

impl std::fmt::Display for Calendar {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.normalized())
    }
}

fn exact(v: i32) -> Item {
    Item { start: v, stop: -1, repeat: 0 }
}

fn roll_day(y: i32, mo: i32, d: i32) -> (i32, i32, i32) {
    if d <= days_in_month(y, mo as u32) {
        (y, mo, d)
    } else if mo == 12 {
        (y + 1, 1, 1)
    } else {
        (y, mo + 1, 1)
    }
}

fn days_in_month(y: i32, mo: u32) -> i32 {
    let next = if mo == 12 { NaiveDate::from_ymd_opt(y + 1, 1, 1) } else { NaiveDate::from_ymd_opt(y, mo + 1, 1) };
    next.and_then(|n| n.pred_opt()).map_or(28, |d| d.day() as i32)
}

fn item_matches(i: &Item, v: i32) -> bool {
    if v < i.start || (i.stop >= 0 && v > i.stop) {
        return false;
    }
    if i.repeat > 0 {
        (v - i.start) % i.repeat == 0
    } else {
        i.stop >= 0 || v == i.start
    }
}

fn matches(f: &Field, v: i32) -> bool {
    f.as_ref().is_none_or(|items| items.iter().any(|i| item_matches(i, v)))
}

/// The smallest value in `v..=max` that `f` matches.
fn next_match(f: &Field, v: i32, max: i32) -> Option<i32> {
    (v..=max).find(|&x| matches(f, x))
}

fn parse_zone(word: &str) -> std::result::Result<String, String> {
    if word.eq_ignore_ascii_case("utc") {
        Ok("UTC".to_string())
    } else if word == "Etc/UTC" {
        Ok(word.to_string())
    } else {
        Err("is a time zone arca cannot evaluate (it knows local time and UTC); drop it to use the \
             machine's local time, or write UTC"
            .to_string())
    }
}

fn parse_weekdays(word: &str) -> std::result::Result<u8, String> {
    let day = |name: &str| -> std::result::Result<usize, String> {
        let lower = name.to_ascii_lowercase();
        (0..7)
            .find(|&i| lower == DAYS[i].to_ascii_lowercase() || lower == LONG_DAYS[i])
            .ok_or_else(|| format!("names no weekday ({name:?}; use Mon, Tue, … Sun)"))
    };
    let mut bits = 0u8;
    for item in word.split(',') {
        let (a, b) = match item.split_once("..").or_else(|| item.split_once('-')) {
            Some((a, b)) => (day(a)?, day(b)?),
            None => {
                let d = day(item)?;
                (d, d)
            }
        };
        if b < a {
            return Err(format!("has a weekday range that runs backwards ({item:?})"));
        }
        for d in a..=b {
            bits |= 1 << d;
        }
    }
    Ok(bits)
}

fn parse_number(s: &str, min: i32, max: i32, year: bool) -> std::result::Result<i32, String> {
    if s.is_empty() || s.len() > 4 || !s.bytes().all(|b| b.is_ascii_digit()) {
        return Err(format!("{s:?} is not a number"));
    }
    let mut n: i32 = s.parse().map_err(|_| format!("{s:?} is not a number"))?;
    if year && n < 70 {
        n += 2000;
    } else if year && n < 100 {
        n += 1900;
    }
    if n < min || n > max {
        return Err(format!("{n} is outside {min}..{max}"));
    }
    Ok(n)
}

fn parse_field(s: &str, min: i32, max: i32, year: bool) -> std::result::Result<Field, String> {
    if s == "*" {
        return Ok(None);
    }
    let mut items = vec![];
    for part in s.split(',') {
        let (range, repeat) = match part.split_once('/') {
            Some((r, step)) => {
                let step: i32 = match step.parse() {
                    Ok(n) if step.bytes().all(|b| b.is_ascii_digit()) => n,
                    _ => return Err(format!("step {step:?} is not a number")),
                };
                if step == 0 || step > max - min {
                    return Err(format!("step {step} is outside 1..{}", max - min));
                }
                (r, step)
            }
            None => (part, 0),
        };
        let mut item = match range.split_once("..") {
            Some((a, b)) => {
                let (a, b) = (parse_number(a, min, max, year)?, parse_number(b, min, max, year)?);
                if b < a {
                    return Err(format!("range {range:?} runs backwards"));
                }
                Item { start: a, stop: b, repeat: 1 }
            }
            None => exact(parse_number(range, min, max, year)?),
        };
        if repeat > 0 {
            item.repeat = repeat;
        }
        if item.repeat > 0 && item.stop > item.start {
            item.stop = item.start + item.repeat * ((item.stop - item.start) / item.repeat);
        }
        items.push(item);
    }
    items.sort();
    items.dedup();
    Ok(Some(items))
}

fn format_field(f: &Field, width: usize, seconds: bool) -> String {
    let Some(items) = f else { return "*".to_string() };
    if seconds && items.len() == 1 && items[0].start == 0 && items[0].repeat == 1 && items[0].stop < 0 {
        return "*".to_string();
    }
    let one = |i: &Item| {
        let mut s = format!("{:0width$}", i.start);
        if i.stop > 0 {
            s.push_str(&format!("..{:0width$}", i.stop));
        }
        if i.repeat > 0 && !(i.stop > 0 && i.repeat == 1) {
            s.push_str(&format!("/{}", i.repeat));
        }
        s
    };
    items.iter().map(one).collect::<Vec<_>>().join(",")
}

fn format_weekdays(bits: u8) -> String {
    let mut out = String::new();
    let mut x = 0;
    while x < 7 {
        if bits & (1 << x) == 0 {
            x += 1;
            continue;
        }
        let start = x;
        while x < 7 && bits & (1 << x) != 0 {
            x += 1;
        }
        if !out.is_empty() {
            out.push(',');
        }
        out.push_str(DAYS[start]);
        match x - start {
            1 => {}
            2 => out.push_str(&format!(",{}", DAYS[x - 1])),
            _ => out.push_str(&format!("..{}", DAYS[x - 1])),
        }
    }
    out
}

#[cfg(test)]
#[path = "calendar_tests.rs"]
mod tests;
