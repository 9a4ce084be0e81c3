//! Cedar's `decimal`: a fixed-point number with exactly four fractional digits, stored as an `i64`.

use super::ExtError;
use std::fmt;

/// Digits kept after the decimal point.
const DIGITS: u32 = 4;
/// `10^DIGITS`: the stored integer for `1.0`.
const SCALE: i64 = 10_000;

/// Advice for a string that is no decimal.
const HELP: &str = "a decimal has digits on both sides of `.`, at most 4 of them after it, \
and lies between -922337203685477.5808 and 922337203685477.5807";

/// A Cedar `decimal`: the value times 10^4, so `1.23` is stored as `12300`.
/// Equality and order are those of the number (`1.0` equals `1.0000`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Decimal(i64);

impl Decimal {
    /// The decimal whose value is `raw / 10^4`.
    pub fn from_raw(raw: i64) -> Decimal {
        Decimal(raw)
    }

    /// The value times 10^4.
    pub fn raw(self) -> i64 {
        self.0
    }

    /// Parses Cedar's decimal syntax `-?[0-9]+\.[0-9]+` with at most four digits after
    /// the point; a value outside the `i64` range (after scaling) is an overflow error.
    pub fn parse(s: &str) -> Result<Decimal, ExtError> {
        let malformed = || {
            ExtError::failed(
                "decimal",
                format_args!("`{s}` is not a well-formed decimal value"),
                Some(HELP),
            )
        };
        let overflow = || {
            ExtError::failed(
                "decimal",
                format_args!("overflow when converting `{s}` to decimal"),
                Some("the value must be in range -922337203685477.5808 to 922337203685477.5807"),
            )
        };
        let (int_part, frac_part) = s.split_once('.').ok_or_else(malformed)?;
        let (negative, int_digits) = match int_part.strip_prefix('-') {
            Some(rest) => (true, rest),
            None => (false, int_part),
        };
        let all_digits = |t: &str| !t.is_empty() && t.bytes().all(|b| b.is_ascii_digit());
        if !all_digits(int_digits) || !all_digits(frac_part) {
            return Err(malformed());
        }
        // Cedar reads the integer part (sign included) as an i64 first, then scales it.
        let int_value = digits_value(int_digits, negative).ok_or_else(overflow)?;
        let scaled = int_value.checked_mul(SCALE).ok_or_else(overflow)?;
        if frac_part.len() > DIGITS as usize {
            return Err(ExtError::failed(
                "decimal",
                format_args!("too many digits after the decimal point in `{s}`"),
                Some("at most 4 digits are supported"),
            ));
        }
        let frac_value = digits_value(frac_part, false).ok_or_else(overflow)?;
        let missing =
            DIGITS.saturating_sub(u32::try_from(frac_part.len()).map_err(|_| overflow())?);
        let frac_scaled = 10i64
            .checked_pow(missing)
            .and_then(|p| frac_value.checked_mul(p))
            .ok_or_else(overflow)?;
        // The sign of the text, not of the integer part, decides: `-0.5` is negative.
        let value = if negative {
            scaled.checked_sub(frac_scaled)
        } else {
            scaled.checked_add(frac_scaled)
        };
        value.map(Decimal).ok_or_else(overflow)
    }
}

/// The value of a run of ASCII digits, negated if `negative`, or `None` past the `i64` range.
fn digits_value(digits: &str, negative: bool) -> Option<i64> {
    digits.bytes().try_fold(0i64, |acc, b| {
        let d = i64::from(b.checked_sub(b'0')?);
        let acc = acc.checked_mul(10)?;
        if negative {
            acc.checked_sub(d)
        } else {
            acc.checked_add(d)
        }
    })
}

/// Cedar's canonical text: an optional `-`, the integer part and exactly four digits,
/// e.g. `1.2300`, `-0.5000`.
impl fmt::Display for Decimal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let abs = self.0.unsigned_abs();
        let scale = SCALE.unsigned_abs();
        let sign = if self.0 < 0 { "-" } else { "" };
        write!(f, "{sign}{}.{:04}", abs / scale, abs % scale)
    }
}
