//! Wall-clock helpers shared by every front-end: Unix time and its UTC calendar fields
//! (listing dates, `Last-Modified`, FTP `MDTM`, ZIP timestamps).

/// UTC calendar fields of a Unix time.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Civil {
    /// Year (proleptic Gregorian).
    pub year: i64,
    /// Month, 1-12.
    pub month: u32,
    /// Day of the month, 1-31.
    pub day: u32,
    /// Hour, 0-23.
    pub hour: u32,
    /// Minute, 0-59.
    pub minute: u32,
    /// Second, 0-59.
    pub second: u32,
}

/// English three-letter month names, January first.
pub const MONTHS: [&str; 12] = [
    "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
];

impl Civil {
    /// The calendar fields of Unix seconds `secs`, in UTC.
    pub fn from_unix(secs: i64) -> Self {
        let days = secs.div_euclid(86_400);
        let rem = secs.rem_euclid(86_400);
        // Days since 1970-01-01 to a civil date (Howard Hinnant's algorithm).
        let z = days + 719_468;
        let era = z.div_euclid(146_097);
        let doe = z.rem_euclid(146_097);
        let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
        let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
        let mp = (5 * doy + 2) / 153;
        let day = doy - (153 * mp + 2) / 5 + 1;
        let month = if mp < 10 { mp + 3 } else { mp - 9 };
        let narrow = |v: i64| u32::try_from(v).unwrap_or(0);
        Self {
            year: yoe + era * 400 + i64::from(month <= 2),
            month: narrow(month),
            day: narrow(day),
            hour: narrow(rem / 3600),
            minute: narrow(rem % 3600 / 60),
            second: narrow(rem % 60),
        }
    }

    /// Unix seconds of a UTC calendar date; `None` when a field is out of range.
    pub fn to_unix(&self) -> Option<i64> {
        let ok = (1..=12).contains(&self.month)
            && (1..=31).contains(&self.day)
            && self.hour < 24
            && self.minute < 60
            && self.second < 60;
        if !ok {
            return None;
        }
        // The inverse of `from_unix` (days from civil).
        let y = self.year - i64::from(self.month <= 2);
        let era = y.div_euclid(400);
        let yoe = y.rem_euclid(400);
        let m = i64::from(self.month);
        let mp = if m > 2 { m - 3 } else { m + 9 };
        let doy = (153 * mp + 2) / 5 + i64::from(self.day) - 1;
        let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
        let days = era * 146_097 + doe - 719_468;
        let secs = days * 86_400
            + i64::from(self.hour) * 3600
            + i64::from(self.minute) * 60
            + i64::from(self.second);
        // Dates like 31 February do not round-trip.
        (Self::from_unix(secs) == *self).then_some(secs)
    }

    /// The month's three-letter English name.
    pub fn month_name(&self) -> &'static str {
        MONTHS
            .get(self.month.saturating_sub(1) as usize)
            .copied()
            .unwrap_or("Jan")
    }
}

/// Day of the week of Unix seconds `secs` (UTC), 0 for Sunday.
pub fn weekday(secs: i64) -> u32 {
    // 1970-01-01 was a Thursday.
    u32::try_from((secs.div_euclid(86_400) + 4).rem_euclid(7)).unwrap_or(0)
}

/// `Thu, 01 Jan 1970 00:00:00`: the RFC 1123 date of HTTP and mail headers, UTC, for
/// the caller to add its zone (`GMT`, `+0000`).
pub fn rfc1123(secs: i64) -> String {
    const DAYS: [&str; 7] = ["Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"];
    let c = Civil::from_unix(secs);
    format!(
        "{}, {:02} {} {:04} {:02}:{:02}:{:02}",
        DAYS.get(weekday(secs) as usize).copied().unwrap_or("Thu"),
        c.day,
        c.month_name(),
        c.year,
        c.hour,
        c.minute,
        c.second
    )
}

/// Current Unix time in seconds.
pub fn now_secs() -> i64 {
    crate::now_millis() / 1000
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn calendar_fields_round_trip() {
        for secs in [0, 951_782_400, 1_700_000_000, 1_795_555_682, 4_102_444_799] {
            let c = Civil::from_unix(secs);
            assert_eq!(c.to_unix(), Some(secs), "{c:?}");
        }
        let c = Civil::from_unix(1_795_555_682);
        assert_eq!(
            (c.year, c.month, c.day, c.hour, c.minute, c.second),
            (2026, 11, 24, 21, 28, 2)
        );
        assert_eq!(c.month_name(), "Nov");
        let feb29 = Civil::from_unix(951_782_400);
        assert_eq!((feb29.year, feb29.month, feb29.day), (2000, 2, 29));
    }

    #[test]
    fn impossible_dates_are_refused() {
        let mut c = Civil::from_unix(0);
        c.month = 2;
        c.day = 31;
        assert_eq!(c.to_unix(), None);
        c.day = 1;
        c.hour = 24;
        assert_eq!(c.to_unix(), None);
    }
}
