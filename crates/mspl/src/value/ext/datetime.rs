//! Cedar's `datetime` (milliseconds since the Unix epoch) and `duration` (milliseconds), both `i64`.

use super::{ExtError, ExtValue};
use std::fmt;

/// The date Cedar offsets from when it writes a datetime out.
pub(super) const EPOCH_STR: &str = "1970-01-01";

/// Milliseconds in a second.
const MS_PER_SECOND: i64 = 1_000;
/// Milliseconds in a minute.
const MS_PER_MINUTE: i64 = 60_000;
/// Milliseconds in an hour.
const MS_PER_HOUR: i64 = 3_600_000;
/// Milliseconds in a day.
const MS_PER_DAY: i64 = 86_400_000;

/// Advice for a string that is no datetime.
const DATETIME_HELP: &str = "valid datetime strings are `YYYY-MM-DD`, optionally followed by \
`THH:MM:SS` and then `Z`, `.SSSZ`, `(+|-)hhmm` or `.SSS(+|-)hhmm`";
/// Advice for a string that is no duration.
const DURATION_HELP: &str = "valid duration strings are quantity-unit pairs with units `d`, `h`, \
`m`, `s`, `ms` in that order and an optional leading `-`, for example `1d2h3m4s50ms`";

/// A Cedar `datetime`: milliseconds since 1970-01-01T00:00:00Z (no leap seconds).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Datetime(i64);

/// A Cedar `duration`: a signed number of milliseconds.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Duration(i64);

impl Datetime {
    /// The datetime `ms` milliseconds after the epoch.
    pub fn from_epoch_ms(ms: i64) -> Datetime {
        Datetime(ms)
    }

    /// Milliseconds since the epoch.
    pub fn epoch_ms(self) -> i64 {
        self.0
    }

    /// Parses Cedar's five forms: `YYYY-MM-DD`, `YYYY-MM-DDThh:mm:ssZ`,
    /// `YYYY-MM-DDThh:mm:ss.SSSZ`, `YYYY-MM-DDThh:mm:ss(+|-)hhmm` and
    /// `YYYY-MM-DDThh:mm:ss.SSS(+|-)hhmm`; the offset is subtracted to give UTC.
    pub fn parse(s: &str) -> Result<Datetime, ExtError> {
        let fail = |msg: String, help: &str| ExtError::failed("datetime", msg, Some(help));
        let b = s.as_bytes();
        // 1. The date's shape.
        let date_ok = b.len() >= 10
            && digits_at(b, 0, 4)
            && b.get(4) == Some(&b'-')
            && digits_at(b, 5, 2)
            && b.get(7) == Some(&b'-')
            && digits_at(b, 8, 2);
        if !date_ok {
            return Err(fail(
                format!("invalid date pattern in `{s}`"),
                "a datetime string starts with `YYYY-MM-DD`",
            ));
        }
        let (year, month, day) = (num(b, 0, 4), num(b, 5, 2), num(b, 8, 2));
        let date_str = s.get(..10).unwrap_or(s);
        let date_days = || {
            days_from_civil(year, month, day)
                .ok_or_else(|| fail(format!("invalid date `{date_str}`"), DATETIME_HELP))
        };
        if b.len() == 10 {
            return date_days()?
                .checked_mul(MS_PER_DAY)
                .map(Datetime)
                .ok_or_else(|| fail(format!("`{s}` is out of range"), DATETIME_HELP));
        }
        // 2. The time's shape: `Thh:mm:ss`.
        let hms_ok = b.len() >= 19
            && b.get(10) == Some(&b'T')
            && digits_at(b, 11, 2)
            && b.get(13) == Some(&b':')
            && digits_at(b, 14, 2)
            && b.get(16) == Some(&b':')
            && digits_at(b, 17, 2);
        if !hms_ok {
            return Err(fail(
                format!("invalid hour/minute/second pattern in `{s}`"),
                "a datetime string has `THH:MM:SS` after the date",
            ));
        }
        let (hour, minute, second) = (num(b, 11, 2), num(b, 14, 2), num(b, 17, 2));
        // 3. Optional milliseconds, then `Z` or an offset, then the end.
        let rest = b.get(19..).unwrap_or(&[]);
        let (millis, rest) = match rest.first() {
            Some(b'.') if digits_at(rest, 1, 3) => (num(rest, 1, 3), rest.get(4..).unwrap_or(&[])),
            _ => (0, rest),
        };
        let offset = match rest {
            [b'Z'] => None,
            [sign @ (b'+' | b'-'), ..] if rest.len() == 5 && digits_at(rest, 1, 4) => {
                Some((*sign == b'+', num(rest, 1, 2), num(rest, 3, 2)))
            }
            _ => {
                return Err(fail(
                    format!("invalid millisecond and/or offset pattern in `{s}`"),
                    "a datetime string ends with `Z`, `.SSSZ`, `(+|-)hhmm` or `.SSS(+|-)hhmm`",
                ))
            }
        };
        // 4. The values, checked in Cedar's order: date, time, offset.
        let days = date_days()?;
        if hour >= 24 || minute >= 60 || second >= 60 {
            let hms = s.get(11..19).unwrap_or(s);
            return Err(fail(
                format!("invalid hour/minute/second `{hms}`"),
                DATETIME_HELP,
            ));
        }
        let offset_ms = match offset {
            None => 0,
            Some((positive, hh, mm)) => {
                if hh >= 24 || mm >= 60 {
                    let text = s.get(s.len().saturating_sub(5)..).unwrap_or(s);
                    return Err(fail(
                        format!("invalid offset `{text}`"),
                        "an offset's hours must be below 24 and its minutes below 60",
                    ));
                }
                let magnitude = hh
                    .checked_mul(MS_PER_HOUR)
                    .and_then(|h| h.checked_add(mm.checked_mul(MS_PER_MINUTE)?));
                let signed = if positive {
                    magnitude
                } else {
                    magnitude.and_then(i64::checked_neg)
                };
                signed.ok_or_else(|| fail(format!("`{s}` is out of range"), DATETIME_HELP))?
            }
        };
        let ms = days
            .checked_mul(MS_PER_DAY)
            .and_then(|v| v.checked_add(hour.checked_mul(MS_PER_HOUR)?))
            .and_then(|v| v.checked_add(minute.checked_mul(MS_PER_MINUTE)?))
            .and_then(|v| v.checked_add(second.checked_mul(MS_PER_SECOND)?))
            .and_then(|v| v.checked_add(millis))
            .and_then(|v| v.checked_sub(offset_ms));
        ms.map(Datetime)
            .ok_or_else(|| fail(format!("`{s}` is out of range"), DATETIME_HELP))
    }

    /// `self + d` (Cedar's `offset`); overflow is an error.
    pub fn offset(self, d: Duration) -> Result<Datetime, ExtError> {
        self.0.checked_add(d.0).map(Datetime).ok_or_else(|| {
            ExtError::failed(
                "offset",
                format_args!(
                    "overflow when adding `{}` to `{}`",
                    ExtValue::Duration(d),
                    ExtValue::Datetime(self)
                ),
                None,
            )
        })
    }

    /// `self - other` (Cedar's `durationSince`); overflow is an error.
    pub fn duration_since(self, other: Datetime) -> Result<Duration, ExtError> {
        self.0.checked_sub(other.0).map(Duration).ok_or_else(|| {
            ExtError::failed(
                "durationSince",
                format_args!(
                    "overflow when computing the duration between `{}` and `{}`",
                    ExtValue::Datetime(self),
                    ExtValue::Datetime(other)
                ),
                None,
            )
        })
    }

    /// Midnight (UTC) of the same day, rounding down before the epoch too (Cedar's `toDate`).
    pub fn to_date(self) -> Result<Datetime, ExtError> {
        self.0
            .checked_rem_euclid(MS_PER_DAY)
            .and_then(|r| self.0.checked_sub(r))
            .map(Datetime)
            .ok_or_else(|| {
                ExtError::failed(
                    "toDate",
                    format_args!(
                        "overflow when computing the date of `{}`",
                        ExtValue::Datetime(self)
                    ),
                    None,
                )
            })
    }

    /// The time since that day's midnight (UTC), in `0..1d` (Cedar's `toTime`).
    pub fn to_time(self) -> Duration {
        Duration(self.0.checked_rem_euclid(MS_PER_DAY).unwrap_or(0))
    }

    /// The datetime in the shortest of Cedar's input forms that states it exactly
    /// (`2024-10-15`, `2024-10-15T11:38:02Z`, `2024-10-15T11:38:02.101Z`), or
    /// `None` outside years 0000–9999, which those forms cannot write.
    pub fn to_iso_string(self) -> Option<String> {
        let days = self.0.checked_div_euclid(MS_PER_DAY)?;
        let ms_of_day = self.0.checked_rem_euclid(MS_PER_DAY)?;
        let (y, m, d) = civil_from_days(days)?;
        if !(0..=9999).contains(&y) {
            return None;
        }
        if ms_of_day == 0 {
            return Some(format!("{y:04}-{m:02}-{d:02}"));
        }
        let (h, rest) = (ms_of_day / MS_PER_HOUR, ms_of_day % MS_PER_HOUR);
        let (min, rest) = (rest / MS_PER_MINUTE, rest % MS_PER_MINUTE);
        let (sec, ms) = (rest / MS_PER_SECOND, rest % MS_PER_SECOND);
        Some(if ms == 0 {
            format!("{y:04}-{m:02}-{d:02}T{h:02}:{min:02}:{sec:02}Z")
        } else {
            format!("{y:04}-{m:02}-{d:02}T{h:02}:{min:02}:{sec:02}.{ms:03}Z")
        })
    }
}

impl Duration {
    /// The duration of `ms` milliseconds.
    pub fn from_millis(ms: i64) -> Duration {
        Duration(ms)
    }

    /// Parses `-?(Nd)?(Nh)?(Nm)?(Ns)?(Nms)?` with at least one unit, units in that order,
    /// each at most once; the `-` negates the whole; beyond `i64` milliseconds is an error.
    pub fn parse(s: &str) -> Result<Duration, ExtError> {
        let invalid = || {
            ExtError::failed(
                "duration",
                format_args!("invalid duration pattern `{s}`"),
                Some(DURATION_HELP),
            )
        };
        let overflow = || {
            ExtError::failed(
                "duration",
                format_args!("duration `{s}` overflows the 64-bit range of milliseconds"),
                Some("a duration in milliseconds must fit in a signed 64-bit integer"),
            )
        };
        let (negative, body) = match s.strip_prefix('-') {
            Some(rest) => (true, rest.as_bytes()),
            None => (false, s.as_bytes()),
        };
        if body.is_empty() {
            return Err(invalid());
        }
        // Units in the only order allowed, with their sizes in milliseconds.
        let units: [(&[u8], i64); 5] = [
            (b"d", MS_PER_DAY),
            (b"h", MS_PER_HOUR),
            (b"ms", 1),
            (b"m", MS_PER_MINUTE),
            (b"s", MS_PER_SECOND),
        ];
        // Rank of each unit in the required order d < h < m < s < ms.
        let rank = |unit: &[u8]| match unit {
            b"d" => 0,
            b"h" => 1,
            b"m" => 2,
            b"s" => 3,
            _ => 4,
        };
        // First pass: the shape (as Cedar matches its pattern before reading numbers).
        let mut pairs: Vec<(&[u8], &[u8], i64)> = Vec::new();
        let mut i = 0usize;
        let mut last_rank: Option<i32> = None;
        while i < body.len() {
            let start = i;
            while body.get(i).is_some_and(u8::is_ascii_digit) {
                i = i.saturating_add(1);
            }
            let digits = body.get(start..i).unwrap_or(&[]);
            let rest = body.get(i..).unwrap_or(&[]);
            let (unit, size) = units
                .iter()
                .find(|(u, _)| rest.starts_with(u))
                .copied()
                .ok_or_else(invalid)?;
            let r = rank(unit);
            if digits.is_empty() || last_rank.is_some_and(|l| l >= r) {
                return Err(invalid());
            }
            last_rank = Some(r);
            pairs.push((digits, unit, size));
            i = i.saturating_add(unit.len());
        }
        // Second pass: the value, in i128 so only the total's range matters.
        let mut total: i128 = 0;
        for (digits, _, size) in pairs {
            let n = digits.iter().try_fold(0i128, |acc, d| {
                acc.checked_mul(10)?
                    .checked_add(i128::from(d.checked_sub(b'0')?))
            });
            let part = n.and_then(|n| n.checked_mul(i128::from(size)));
            total = part
                .and_then(|p| total.checked_add(p))
                .ok_or_else(overflow)?;
        }
        if negative {
            total = total.checked_neg().ok_or_else(overflow)?;
        }
        i64::try_from(total).map(Duration).map_err(|_| overflow())
    }

    /// The duration in milliseconds.
    pub fn to_milliseconds(self) -> i64 {
        self.0
    }

    /// Whole seconds, truncated toward zero.
    pub fn to_seconds(self) -> i64 {
        self.0 / MS_PER_SECOND
    }

    /// Whole minutes, truncated toward zero.
    pub fn to_minutes(self) -> i64 {
        self.to_seconds() / 60
    }

    /// Whole hours, truncated toward zero.
    pub fn to_hours(self) -> i64 {
        self.to_minutes() / 60
    }

    /// Whole days, truncated toward zero.
    pub fn to_days(self) -> i64 {
        self.to_hours() / 24
    }
}

/// Writes the duration as units, e.g. `1d2h3m4s5ms`, `-90m` → `-1h30m`, `0ms`.
impl fmt::Display for Duration {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.0 == 0 {
            return f.write_str("0ms");
        }
        if self.0 < 0 {
            f.write_str("-")?;
        }
        let mut rest = self.0.unsigned_abs();
        for (unit, size) in [
            ("d", MS_PER_DAY),
            ("h", MS_PER_HOUR),
            ("m", MS_PER_MINUTE),
            ("s", MS_PER_SECOND),
            ("ms", 1),
        ] {
            let size = size.unsigned_abs();
            let n = rest / size;
            rest %= size;
            if n > 0 {
                write!(f, "{n}{unit}")?;
            }
        }
        Ok(())
    }
}

/// Whether `b[at..at + n]` exists and is all ASCII digits.
fn digits_at(b: &[u8], at: usize, n: usize) -> bool {
    at.checked_add(n)
        .and_then(|end| b.get(at..end))
        .is_some_and(|d| d.iter().all(u8::is_ascii_digit))
}

/// The number written by the ASCII digits `b[at..at + n]` (checked by [`digits_at`] first).
fn num(b: &[u8], at: usize, n: usize) -> i64 {
    let digits = at
        .checked_add(n)
        .and_then(|end| b.get(at..end))
        .unwrap_or(&[]);
    digits.iter().fold(0i64, |acc, d| {
        acc.saturating_mul(10)
            .saturating_add(i64::from(d.saturating_sub(b'0')))
    })
}

/// Whether `y` is a leap year of the proleptic Gregorian calendar.
fn is_leap(y: i64) -> bool {
    y % 4 == 0 && (y % 100 != 0 || y % 400 == 0)
}

/// Days from 1970-01-01 to the date, or `None` if it is no date (month 1–12, day in month).
fn days_from_civil(y: i64, m: i64, d: i64) -> Option<i64> {
    let month_len = match m {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        2 if is_leap(y) => 29,
        2 => 28,
        _ => return None,
    };
    if !(1..=month_len).contains(&d) {
        return None;
    }
    // Howard Hinnant's algorithm, over eras of 400 years starting in March.
    let y = if m <= 2 { y.checked_sub(1)? } else { y };
    let era = y
        .checked_sub(if y >= 0 { 0 } else { 399 })?
        .checked_div(400)?;
    let yoe = y.checked_sub(era.checked_mul(400)?)?;
    let mp = if m > 2 { m - 3 } else { m + 9 };
    let doy = mp.checked_mul(153)?.checked_add(2)? / 5 + d.checked_sub(1)?;
    let doe = yoe
        .checked_mul(365)?
        .checked_add(yoe / 4 - yoe / 100)?
        .checked_add(doy)?;
    era.checked_mul(146_097)?
        .checked_add(doe)?
        .checked_sub(719_468)
}

/// The date `z` days after 1970-01-01 (inverse of [`days_from_civil`]).
fn civil_from_days(z: i64) -> Option<(i64, i64, i64)> {
    let z = z.checked_add(719_468)?;
    let era = z
        .checked_sub(if z >= 0 { 0 } else { 146_096 })?
        .checked_div(146_097)?;
    let doe = z.checked_sub(era.checked_mul(146_097)?)?;
    // From here on every quantity is bounded by an era (0 <= doe < 146097 days).
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe.checked_add(era.checked_mul(400)?)?;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    Some((if m <= 2 { y.checked_add(1)? } else { y }, m, d))
}
