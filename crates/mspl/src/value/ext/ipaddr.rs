//! Cedar's `ipaddr`: an IPv4 or IPv6 address with a CIDR prefix length, parsed as strictly as Cedar does.

use super::ExtError;
use std::fmt;

/// Advice for a string that is no IP address.
const HELP: &str = "valid IP strings are IPv4/IPv6 addresses or CIDR ranges like `127.0.0.1`, \
`127.0.0.1/24`, or `ffee::/64`";

/// Cedar refuses longer strings: `ABCD:EF01:2345:6789:ABCD:EF01:2345:6789/128` has 43 bytes.
const MAX_LEN: usize = 43;

/// A Cedar `ipaddr`: an address and a prefix length (32 or 128 when none was written).
/// The host bits are kept: `ip("10.0.0.1/24")` and `ip("10.0.0.0/24")` are different
/// values, as in Cedar, while `ip("10.0.0.1")` equals `ip("10.0.0.1/32")`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum IpAddr {
    /// An IPv4 address (most significant octet first) and a prefix length in `0..=32`.
    V4 {
        /// The 32 address bits.
        addr: u32,
        /// The prefix length.
        prefix: u8,
    },
    /// An IPv6 address and a prefix length in `0..=128`.
    V6 {
        /// The 128 address bits.
        addr: u128,
        /// The prefix length.
        prefix: u8,
    },
}

impl IpAddr {
    /// Parses `addr` or `addr/prefix` as Cedar does: IPv4 in dotted decimal without
    /// leading zeros, IPv6 in hexadecimal groups with at most one `::`, no IPv4
    /// embedded in IPv6, no zone, a decimal prefix without leading zeros, at most 43 bytes.
    pub fn parse(s: &str) -> Result<IpAddr, ExtError> {
        let fail = |msg: String| ExtError::failed("ipaddr", msg, Some(HELP));
        if s.len() > MAX_LEN {
            return Err(fail(format!(
                "error parsing IP address from `{s}`: string length is too large"
            )));
        }
        // Cedar refuses any string with two colons and two dots, to keep out
        // IPv4 embedded in IPv6 (`::ffff:127.0.0.1`).
        if s.matches(':').nth(1).is_some() && s.matches('.').nth(1).is_some() {
            return Err(fail(format!(
                "`{s}` embeds an IPv4 address in an IPv6 address, which is not supported"
            )));
        }
        match s.split_once('/') {
            Some((addr_str, prefix_str)) => {
                let addr = parse_addr(addr_str)
                    .ok_or_else(|| fail(format!("`{addr_str}` is not a valid IP address")))?;
                match addr {
                    Addr::V4(a) => Ok(IpAddr::V4 {
                        addr: a,
                        prefix: parse_prefix(prefix_str, 32, 2).map_err(fail)?,
                    }),
                    Addr::V6(a) => Ok(IpAddr::V6 {
                        addr: a,
                        prefix: parse_prefix(prefix_str, 128, 3).map_err(fail)?,
                    }),
                }
            }
            None => match parse_addr(s) {
                Some(Addr::V4(addr)) => Ok(IpAddr::V4 { addr, prefix: 32 }),
                Some(Addr::V6(addr)) => Ok(IpAddr::V6 { addr, prefix: 128 }),
                None => Err(fail(format!("`{s}` is not a valid IP address"))),
            },
        }
    }

    /// Whether this is an IPv4 address.
    pub fn is_ipv4(&self) -> bool {
        matches!(self, IpAddr::V4 { .. })
    }

    /// Whether this is an IPv6 address.
    pub fn is_ipv6(&self) -> bool {
        matches!(self, IpAddr::V6 { .. })
    }

    /// Whether the whole range lies in `127.0.0.0/8` (IPv4) or is `::1/128` (IPv6).
    pub fn is_loopback(&self) -> bool {
        match *self {
            IpAddr::V4 { addr, prefix } => addr >> 24 == 127 && prefix >= 8,
            IpAddr::V6 { addr, prefix } => addr == 1 && prefix == 128,
        }
    }

    /// Whether the whole range lies in `224.0.0.0/4` (IPv4) or `ff00::/8` (IPv6).
    pub fn is_multicast(&self) -> bool {
        match *self {
            IpAddr::V4 { addr, prefix } => addr >> 28 == 0xe && prefix >= 4,
            IpAddr::V6 { addr, prefix } => addr >> 120 == 0xff && prefix >= 8,
        }
    }

    /// Whether this range is contained in `other`'s range (false across IPv4 and IPv6).
    pub fn is_in_range(&self, other: &IpAddr) -> bool {
        match (self.range(), other.range()) {
            (Range::V4(lo1, hi1), Range::V4(lo2, hi2)) => lo2 <= lo1 && hi1 <= hi2,
            (Range::V6(lo1, hi1), Range::V6(lo2, hi2)) => lo2 <= lo1 && hi1 <= hi2,
            _ => false,
        }
    }

    /// The first and last addresses of the range.
    fn range(&self) -> Range {
        match *self {
            IpAddr::V4 { addr, prefix } => {
                let host = u32::MAX.checked_shr(u32::from(prefix)).unwrap_or(0);
                Range::V4(addr & !host, addr | host)
            }
            IpAddr::V6 { addr, prefix } => {
                let host = u128::MAX.checked_shr(u32::from(prefix)).unwrap_or(0);
                Range::V6(addr & !host, addr | host)
            }
        }
    }
}

/// An address range, first and last address.
enum Range {
    /// IPv4.
    V4(u32, u32),
    /// IPv6.
    V6(u128, u128),
}

/// An address without prefix.
enum Addr {
    /// IPv4.
    V4(u32),
    /// IPv6.
    V6(u128),
}

/// Parses an address as Rust's `std::net::IpAddr` does (which Cedar uses), minus
/// IPv4 embedded in IPv6, which Cedar refuses before parsing.
fn parse_addr(s: &str) -> Option<Addr> {
    parse_v4(s)
        .map(Addr::V4)
        .or_else(|| parse_v6(s).map(Addr::V6))
}

/// Four decimal octets `0..=255`, each 1–3 digits, no leading zero except `0` itself.
fn parse_v4(s: &str) -> Option<u32> {
    let mut parts = s.split('.');
    let mut addr = 0u32;
    for _ in 0..4 {
        let part = parts.next()?;
        if part.is_empty() || part.len() > 3 || !part.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        if part.len() > 1 && part.starts_with('0') {
            return None;
        }
        let octet = part.parse::<u8>().ok()?;
        addr = addr.checked_shl(8)? | u32::from(octet);
    }
    if parts.next().is_some() {
        return None;
    }
    Some(addr)
}

/// Groups of 1–4 hex digits separated by `:`, with at most one `::` standing for
/// one or more zero groups; eight groups in all.
fn parse_v6(s: &str) -> Option<u128> {
    let pieces: Vec<&str> = s.split("::").collect();
    let groups: Vec<u16> = match pieces.as_slice() {
        [all] => {
            let g = parse_groups(all)?;
            if g.len() != 8 {
                return None;
            }
            g
        }
        [head, tail] => {
            let h = parse_groups(head)?;
            let t = parse_groups(tail)?;
            let used = h.len().checked_add(t.len())?;
            if used >= 8 {
                return None;
            }
            let mut g = h;
            g.resize(8usize.checked_sub(t.len())?, 0);
            g.extend(t);
            g
        }
        _ => return None,
    };
    Some(
        groups
            .iter()
            .fold(0u128, |acc, g| (acc << 16) | u128::from(*g)),
    )
}

/// Colon-separated hex groups; the empty string is no group.
fn parse_groups(s: &str) -> Option<Vec<u16>> {
    if s.is_empty() {
        return Some(Vec::new());
    }
    s.split(':')
        .map(|g| {
            if g.is_empty() || g.len() > 4 || !g.bytes().all(|b| b.is_ascii_hexdigit()) {
                return None;
            }
            u16::from_str_radix(g, 16).ok()
        })
        .collect()
}

/// Cedar's prefix rules: at most `max_len` ASCII digits, no leading zero, at most `max`.
fn parse_prefix(s: &str, max: u8, max_len: usize) -> Result<u8, String> {
    if s.len() > max_len {
        return Err(format!(
            "invalid prefix `{s}`: at most {max_len} digits are allowed"
        ));
    }
    if !s.bytes().all(|b| b.is_ascii_digit()) {
        return Err(format!("invalid prefix `{s}`: encountered a non-digit"));
    }
    if s.len() > 1 && s.starts_with('0') {
        return Err(format!("invalid prefix `{s}`: leading zero(s)"));
    }
    let n: u8 = s
        .parse()
        .map_err(|_| format!("invalid prefix `{s}`: expected a number"))?;
    if n > max {
        return Err(format!("invalid prefix `{s}`: larger than the limit {max}"));
    }
    Ok(n)
}

/// Writes `addr/prefix`, always with the prefix, as Cedar's canonical form does;
/// IPv6 in RFC 5952 style (lowercase, longest run of two or more zero groups as `::`).
impl fmt::Display for IpAddr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            IpAddr::V4 { addr, prefix } => {
                let [a, b, c, d] = addr.to_be_bytes();
                write!(f, "{a}.{b}.{c}.{d}/{prefix}")
            }
            IpAddr::V6 { addr, prefix } => {
                write_v6(f, addr)?;
                write!(f, "/{prefix}")
            }
        }
    }
}

/// Writes an IPv6 address in compressed form (never with an embedded IPv4 part,
/// which Cedar could not read back).
fn write_v6(f: &mut fmt::Formatter<'_>, addr: u128) -> fmt::Result {
    let bytes = addr.to_be_bytes();
    let groups: Vec<u16> = bytes
        .chunks_exact(2)
        .map(|c| match c {
            [hi, lo] => u16::from_be_bytes([*hi, *lo]),
            _ => 0,
        })
        .collect();
    // The longest run of zero groups (the first if tied), used only if at least 2 long.
    let (mut best_start, mut best_len, mut run_start, mut run_len) =
        (0usize, 0usize, 0usize, 0usize);
    for (i, g) in groups.iter().enumerate() {
        if *g == 0 {
            if run_len == 0 {
                run_start = i;
            }
            run_len = run_len.saturating_add(1);
            if run_len > best_len {
                best_start = run_start;
                best_len = run_len;
            }
        } else {
            run_len = 0;
        }
    }
    let write_list = |f: &mut fmt::Formatter<'_>, list: &[u16]| -> fmt::Result {
        for (i, g) in list.iter().enumerate() {
            if i > 0 {
                f.write_str(":")?;
            }
            write!(f, "{g:x}")?;
        }
        Ok(())
    };
    if best_len >= 2 {
        let head = groups.get(..best_start).unwrap_or(&[]);
        let tail = groups
            .get(best_start.saturating_add(best_len)..)
            .unwrap_or(&[]);
        write_list(f, head)?;
        f.write_str("::")?;
        write_list(f, tail)
    } else {
        write_list(f, &groups)
    }
}
