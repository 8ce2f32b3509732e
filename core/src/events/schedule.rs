//! Rule schedules: SFTPGo's cron-like `{hour, day_of_week, day_of_month, month}` (a
//! standard cron line with minute 0), parsed and matched against UTC times.
//!
//! Field syntax: `*` or `?`, numbers, `a-b` ranges, `,` lists, `/n` steps (`*/n`,
//! `a-b/n`, `a/n` = from a to the end), English month and weekday names. As in cron,
//! when neither day field is a star, a day matches if either one does.

use serde::{Deserialize, Serialize};

use crate::clock::Civil;
use crate::{Error, Result};

/// One schedule of a rule.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct Schedule {
    /// Hours, 0-23.
    pub hour: String,
    /// Days of the week, 0-6 (Sunday 0).
    pub day_of_week: String,
    /// Days of the month, 1-31.
    pub day_of_month: String,
    /// Months, 1-12.
    pub month: String,
}

const MONTH_NAMES: [&str; 12] = [
    "jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec",
];
const DAY_NAMES: [&str; 7] = ["sun", "mon", "tue", "wed", "thu", "fri", "sat"];

/// The values a field allows, as a bit set, and whether it was a star.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Field {
    bits: u64,
    star: bool,
}

fn parse_value(s: &str, names: &[&str], offset: u32) -> Option<u32> {
    if let Ok(n) = s.parse::<u32>() {
        return Some(n);
    }
    let lower = s.to_ascii_lowercase();
    names
        .iter()
        .position(|n| *n == lower)
        .and_then(|i| u32::try_from(i).ok())
        .map(|i| i + offset)
}

/// Parses one cron field with values in `min..=max`.
fn parse_field(text: &str, min: u32, max: u32, names: &[&str], offset: u32) -> Option<Field> {
    let mut field = Field {
        bits: 0,
        star: false,
    };
    if text.trim().is_empty() {
        return None;
    }
    for part in text.split(',') {
        let (range, step) = match part.split_once('/') {
            Some((r, s)) => (r, Some(s.parse::<u32>().ok().filter(|s| *s > 0)?)),
            None => (part, None),
        };
        let (lo, hi) = if range == "*" || range == "?" {
            if step.is_none_or(|s| s == 1) {
                field.star = true;
            }
            (min, max)
        } else if let Some((a, b)) = range.split_once('-') {
            (
                parse_value(a, names, offset)?,
                parse_value(b, names, offset)?,
            )
        } else {
            let v = parse_value(range, names, offset)?;
            (v, if step.is_some() { max } else { v })
        };
        if lo < min || hi > max || lo > hi {
            return None;
        }
        let step = step.unwrap_or(1);
        let mut v = lo;
        while v <= hi {
            field.bits |= 1u64 << v;
            match v.checked_add(step) {
                Some(next) => v = next,
                None => break,
            }
        }
    }
    Some(field)
}

/// A parsed schedule.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Cron {
    hour: Field,
    dom: Field,
    month: Field,
    dow: Field,
}

impl Schedule {
    /// The schedule parsed, or why not.
    pub fn parse(&self) -> Result<Cron> {
        let parsed = (|| {
            Some(Cron {
                hour: parse_field(&self.hour, 0, 23, &[], 0)?,
                dom: parse_field(&self.day_of_month, 1, 31, &[], 0)?,
                month: parse_field(&self.month, 1, 12, &MONTH_NAMES, 1)?,
                dow: parse_field(&self.day_of_week, 0, 6, &DAY_NAMES, 0)?,
            })
        })();
        parsed.ok_or_else(|| {
            Error::invalid(format!(
                "invalid schedule, hour: {:?}, day of month: {:?}, month: {:?}, day of week: {:?}",
                self.hour, self.day_of_month, self.month, self.day_of_week
            ))
        })
    }

    /// Checks the schedule parses.
    pub fn validate(&self) -> Result<()> {
        self.parse().map(|_| ())
    }
}

impl Cron {
    /// True when the schedule fires in the hour holding Unix second `secs` (UTC); it
    /// fires at minute 0 of that hour.
    pub fn matches_hour(&self, secs: i64) -> bool {
        let c = Civil::from_unix(secs);
        let weekday = crate::clock::weekday(secs);
        let has = |f: &Field, v: u32| f.bits & (1u64 << v) != 0;
        let day = if self.dom.star || self.dow.star {
            has(&self.dom, c.day) && has(&self.dow, weekday)
        } else {
            has(&self.dom, c.day) || has(&self.dow, weekday)
        };
        has(&self.hour, c.hour) && has(&self.month, c.month) && day
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(h: &str, dow: &str, dom: &str, m: &str) -> Schedule {
        Schedule {
            hour: h.into(),
            day_of_week: dow.into(),
            day_of_month: dom.into(),
            month: m.into(),
        }
    }

    fn at(y: i64, mo: u32, d: u32, h: u32) -> i64 {
        Civil {
            year: y,
            month: mo,
            day: d,
            hour: h,
            minute: 0,
            second: 0,
        }
        .to_unix()
        .unwrap()
    }

    #[test]
    fn fields_parse_like_cron() {
        assert!(s("*", "*", "*", "*").validate().is_ok());
        assert!(s("*/6", "mon-fri", "1,15", "jan-mar").validate().is_ok());
        assert!(s("24", "*", "*", "*").validate().is_err());
        assert!(
            s("1", "7", "*", "*").validate().is_err(),
            "weekday 7 refused"
        );
        assert!(s("1", "*", "0", "*").validate().is_err());
        assert!(s("", "*", "*", "*").validate().is_err());
        assert!(s("5-2", "*", "*", "*").validate().is_err());
        assert!(s("*/0", "*", "*", "*").validate().is_err());
        let huge = s("1/4294967295", "*", "*", "*").parse().unwrap();
        assert!(
            huge.matches_hour(3600) && !huge.matches_hour(0),
            "a huge step is one value"
        );
    }

    #[test]
    fn matching_hours_days_and_months() {
        // 2026-12-04 is a Friday.
        let every_hour = s("*", "*", "*", "*").parse().unwrap();
        assert!(every_hour.matches_hour(at(2026, 12, 4, 13)));
        let midnight = s("0", "*", "*", "*").parse().unwrap();
        assert!(midnight.matches_hour(at(2026, 12, 4, 0)));
        assert!(!midnight.matches_hour(at(2026, 12, 4, 1)));
        let fridays = s("10", "fri", "*", "*").parse().unwrap();
        assert!(fridays.matches_hour(at(2026, 12, 4, 10)));
        assert!(!fridays.matches_hour(at(2026, 12, 5, 10)));
        let steps = s("3/8", "*", "*", "*").parse().unwrap();
        assert!(
            steps.matches_hour(at(2026, 12, 4, 11)) && !steps.matches_hour(at(2026, 12, 4, 12))
        );
        // Neither day field is a star: either one matching is enough.
        let either = s("0", "1", "4", "*").parse().unwrap();
        assert!(either.matches_hour(at(2026, 12, 4, 0)), "the 4th");
        assert!(either.matches_hour(at(2026, 12, 7, 0)), "a Monday");
        assert!(!either.matches_hour(at(2026, 12, 8, 0)));
        let feb = s("0", "*", "*", "feb").parse().unwrap();
        assert!(!feb.matches_hour(at(2026, 12, 4, 0)) && feb.matches_hour(at(2027, 2, 1, 0)));
    }
}
