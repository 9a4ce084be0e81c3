//! Unit tests for the extension types; expectations follow Cedar 4.14 (checked against it).
//!
//! Tables are whitespace-separated strings: `input=expected` pairs where a value is expected.

use super::*;
use serde_json::json;
use std::cmp::Ordering;

/// Calls constructor `f` on `s`.
fn make(f: &str, s: &str) -> Result<ExtValue, ExtError> {
    match call_function(f, &[ExtArg::String(s)])? {
        ExtOutput::Ext(v) => Ok(v),
        other => panic!("constructor returned {other:?}"),
    }
}

/// Constructs, failing the test on an error.
fn v(f: &str, s: &str) -> ExtValue {
    make(f, s).unwrap_or_else(|e| panic!("{f}({s:?}) failed: {e}"))
}

/// Calls method `name` on `recv` with extension arguments.
fn m(name: &str, recv: &ExtValue, args: &[&ExtValue]) -> Result<ExtOutput, ExtError> {
    let args: Vec<ExtArg> = args.iter().map(|a| ExtArg::Ext(a)).collect();
    call_method(name, ExtArg::Ext(recv), &args)
}

/// A method's bool result.
fn mb(name: &str, recv: &ExtValue, args: &[&ExtValue]) -> bool {
    match m(name, recv, args) {
        Ok(ExtOutput::Bool(b)) => b,
        other => panic!("{name} gave {other:?}"),
    }
}

/// A method's long result.
fn ml(name: &str, recv: &ExtValue) -> i64 {
    match m(name, recv, &[]) {
        Ok(ExtOutput::Long(n)) => n,
        other => panic!("{name} gave {other:?}"),
    }
}

/// A method's extension-value result.
fn mv(name: &str, recv: &ExtValue, args: &[&ExtValue]) -> ExtValue {
    match m(name, recv, args) {
        Ok(ExtOutput::Ext(v)) => v,
        other => panic!("{name} gave {other:?}"),
    }
}

/// The `input=expected` pairs of a table.
fn pairs(table: &str) -> Vec<(&str, &str)> {
    table
        .split_whitespace()
        .map(|w| w.rsplit_once('=').unwrap_or_else(|| panic!("bad pair {w}")))
        .collect()
}

/// Asserts every word of `words` is accepted by constructor `f`.
fn accepts(f: &str, words: &str) {
    for s in words.split_whitespace() {
        assert!(make(f, s).is_ok(), "{f}({s:?}): {:?}", make(f, s));
    }
}

/// Asserts every word of `words` and every string of `odd` is rejected by constructor `f`,
/// with a message naming the function and a line of help.
fn rejects(f: &str, words: &str, odd: &[&str]) {
    for s in words.split_whitespace().chain(odd.iter().copied()) {
        let e = make(f, s).expect_err(&format!("{f}({s:?}) should be rejected"));
        let full = e.message.starts_with("error while evaluating `") && e.help.is_some();
        assert!(full, "{f}({s:?}): {e:?}");
    }
}

/// Asserts `f(s)` fails with a message containing `needle` for each word `s` of `words`.
fn fails(f: &str, needle: &str, words: &str) {
    for s in words.split_whitespace() {
        let e = make(f, s).expect_err(&format!("{f}({s:?}) should be rejected"));
        assert!(e.message.contains(needle), "{f}({s:?}): {}", e.message);
    }
}

/// A decimal's stored integer, a datetime's epoch milliseconds or a duration's milliseconds.
fn num(x: &ExtValue) -> i64 {
    match x {
        ExtValue::Decimal(d) => d.raw(),
        ExtValue::Datetime(d) => d.epoch_ms(),
        ExtValue::Duration(d) => d.to_milliseconds(),
        other => panic!("not a number: {other:?}"),
    }
}

/// Asserts `f(input)` has the number `expected` for each pair of `table`.
fn values(f: &str, table: &str) {
    for (s, want) in pairs(table) {
        let want: i64 = want.parse().unwrap_or(0);
        assert_eq!(num(&v(f, s)), want, "{f}({s:?})");
    }
}

/// Asserts `f(input)` displays as `f("expected")` for each pair of `table`.
fn shows(f: &str, table: &str) {
    for (s, want) in pairs(table) {
        let want = format!("{f}(\"{want}\")");
        assert_eq!(v(f, s).to_string(), want, "{f}({s:?})");
    }
}

/// `decimal` inputs and their stored integers.
const DECIMAL_VALUES: &str = "1.0=10000 -1.0=-10000 123.456=1234560 0.1234=1234 -0.0123=-123
    -0.5=-5000 -0.0001=-1 00.000=0 0123.0=1230000 -0.0=0 922337203685477.5807=9223372036854775807
    -922337203685477.5808=-9223372036854775808";
/// Strings `decimal` refuses as malformed.
const DECIMAL_BAD: &str = "1234 1.0. 1. .1 -.1 -. 1.a +1.0 1e3 1_0.0 --1.0 1.٣ ٣.0 0x1.0 1,0";
/// Strings just outside `decimal`'s range.
const DECIMAL_BIG: &str = "922337203685477.5808 -922337203685477.5809 -922337203685478.0
    1000000000000000.0 9223372036854775808.0 -9223372036854775808.0 99999999999999999999999.0";

#[test]
fn decimal_constructor() {
    values("decimal", DECIMAL_VALUES);
    rejects("decimal", DECIMAL_BAD, &["", " 1.0", "1.0 ", "1. 0"]);
    fails("decimal", "too many digits", "0.12345 0.00000 1.00001");
    fails("decimal", "overflow", DECIMAL_BIG);
}

#[test]
fn decimal_display_equality_methods() {
    shows(
        "decimal",
        "1.23=1.2300 1.0023=1.0023 -0.5=-0.5000 -12.3=-12.3000 0.0=0.0000",
    );
    let d = |s| v("decimal", s);
    assert_eq!(d("1.0"), d("1.0000"));
    assert_eq!(d("123.0"), d("0123.0"));
    assert_eq!(d("0.0"), d("-0.0"));
    assert_ne!(d("1.23"), d("1.24"));
    assert_ne!(d("-0.5"), d("0.5"));
    // Each method on these pairs, as 0/1 digits.
    let cases = "1.23<1.24 1.23<1.23 123.45<1.23 -1.23<1.23 -1.23<-1.24 -0.5<0.0";
    let table =
        "lessThan=100101 lessThanOrEqual=110101 greaterThan=001010 greaterThanOrEqual=011010";
    for (name, want) in pairs(table) {
        let bits: String = cases
            .split_whitespace()
            .filter_map(|c| c.split_once('<'))
            .map(|(a, b)| if mb(name, &d(a), &[&d(b)]) { '1' } else { '0' })
            .collect();
        assert_eq!(bits, want, "{name}");
    }
}

/// Strings `ip` accepts.
const IP_GOOD: &str = "127.0.0.1 0.0.0.0 255.255.255.255 10.0.0.0/0 10.0.0.0/32 127.0.0.1/8 ::
    ::/0 ::1 ::1/128 1:2:3:4:: ::2:3:4:5:6:7:8 1:2:3:4:5:6:7:: 1:2:3:4:5:6:7:8 0001:: ffee::/64
    FFEE::/128 ::ffff:7f00:1 2001:db8::/32 ABCD:EF01:2345:6789:ABCD:EF01:2345:6789/128";
/// Strings `ip` refuses.
const IP_BAD: &str = "? 380.0.0.1 256.0.0.1 ab.ab.ab.ab foo::1 01.0.0.1 1.2.3.00 1.2.3 1.2.3.4.5
    1.2.3.4. 1.2.3.0004 127.0.0.1/ 127.0.0.1/33 127.0.0.1/08 127.0.0.1/+8 127.0.0.1/8/24
    127.0.0.1/100 10.0.0.0/-1 ffee::/129 ffee::/01 ffee::/1234 ffee::/+1 fee::/64::1 1.2.3.4/a
    : ::: 1::2::3 1:::2 00001:: 1:2:3:4:5:6:7:8:: ::1:2:3:4:5:6:7:8 1:2:3:4:5:6:7
    1:2:3:4:5:6:7:8:9 :1:2:3:4:5:6:7 1:2:3:4:5:6:7: ::ffff:127.0.0.1 ::127.0.0.1
    ::ffff:192.168.0.0/112 1:2:3:4:5:6:1.2.3.4 fe80::1%eth0 [::1] ::g 1.2.3.4:80
    ABCD:EF01:2345:6789:ABCD:EF01:2345:6789/0128";

#[test]
fn ip_constructor() {
    accepts("ip", IP_GOOD);
    rejects("ip", IP_BAD, &["", "not ipaddr", " 1.2.3.4", "1.2.3.4 "]);
    fails(
        "ip",
        "too large",
        "0000:0000:0000:0000:0000:0000:0000:0000/1280",
    );
    fails("ip", "embeds an IPv4", "::ffff:127.0.0.1");
}

#[test]
fn ip_display_equality() {
    let table = "127.0.0.1=127.0.0.1/32 10.0.0.0/24=10.0.0.0/24 10.0.0.1/24=10.0.0.1/24
        ::1=::1/128 ::=::/128 1:0:0:1:0:0:0:1=1:0:0:1::1/128 1:0:0:0:1:0:0:1=1::1:0:0:1/128
        1:0:1:0:1:0:1:0=1:0:1:0:1:0:1:0/128 FFEE:0:0:0:0:0:0:0/64=ffee::/64
        ::ffff:7f00:1=::ffff:7f00:1/128 0:0:0:0:0:0:0:1/7=::1/7";
    shows("ip", table);
    let ip = |s| v("ip", s);
    assert_eq!(ip("10.0.0.1"), ip("10.0.0.1/32"));
    assert_eq!(ip("::1"), ip("0:0:0:0:0:0:0:1/128"));
    assert_ne!(ip("10.0.0.1/24"), ip("10.0.0.0/24"));
    assert_ne!(ip("10.0.0.0/24"), ip("10.0.0.0/25"));
    assert_ne!(ip("::ffff:7f00:1"), ip("127.0.0.1"));
}

#[test]
fn ip_predicates() {
    // Expected isIpv4, isIpv6, isLoopback, isMulticast as four 0/1 digits.
    let table = "127.0.0.1=1010 127.255.200.200/8=1010 127.0.0.1/7=1000 127.0.0.1/0=1000
                 128.0.0.1=1000 224.0.0.1=1001 239.255.255.255/4=1001 224.0.0.0/3=1000
                 240.0.0.1=1000 ::1=0110 ::1/127=0100 ::2=0100 ::ffff:7f00:1=0100 ff00::2=0101
                 ff00::/8=0101 ff00::/7=0100 fe80::1=0100";
    let names = ["isIpv4", "isIpv6", "isLoopback", "isMulticast"];
    for (s, want) in pairs(table) {
        let ip = v("ip", s);
        let bit = |n: &&str| if mb(n, &ip, &[]) { '1' } else { '0' };
        assert_eq!(names.iter().map(bit).collect::<String>(), want, "{s}");
    }
}

#[test]
fn ip_in_range() {
    // `a>b=1` means `ip(a).isInRange(ip(b))` is true.
    let table = "10.0.0.0>10.0.0.0/24=1 10.0.0.0>10.0.0.0/32=1 10.0.0.1>10.0.0.0/24=1
                 10.0.0.1/29>10.0.0.0/24=1 10.0.0.0/24>10.0.0.0/29=0 10.0.0.0/24>10.0.0.1/24=1
                 10.0.0.10>10.0.0.1/29=0 192.168.0.1>0.0.0.0/0=1 1:2:3:4::>1:2:3:4::/48=1
                 1:2:3:6::>1:2:3:4::/48=1 1:2:3:ffff::>1:2:3:4::/52=0 1:2:3:4::/48>1:2:3:4::/52=0
                 ::ffff:7f00:1>::ffff:0:0/96=1 127.0.0.1>::/0=0 ::1>0.0.0.0/0=0";
    for (ab, want) in pairs(table) {
        let (a, b) = ab.split_once('>').unwrap_or_default();
        let got = mb("isInRange", &v("ip", a), &[&v("ip", b)]);
        assert_eq!(got, want == "1", "{a} in {b}");
    }
}

/// `datetime` inputs and their epoch milliseconds (checked against Cedar).
const DATETIME_VALUES: &str = "1970-01-01=0 2024-10-28=1730073600000
    2024-10-28T01:22:33.456Z=1730078553456 2024-10-28T10:12:13.456-0700=1730135533456
    2024-10-15T11:38:02.101+1134=1728950642101 2024-10-15T11:38:02-1134=1729033922000
    2024-10-15T23:59:00+2359=1728950400000 1969-12-31T23:59:59.999Z=-1
    0000-01-01=-62167219200000 0000-01-01T00:00:00+2359=-62167305540000
    9999-12-31T23:59:59.999-2359=253402387139999 2024-02-29=1709164800000
    2000-02-29=951782400000 0000-02-29=-62162121600000";
/// Strings `datetime` refuses.
const DATETIME_BAD: &str = "a - -1 11-12-13 1111-1x-20 2024-10-15Z 2024-10-15T11:38:02ZZ
    0000-0a-01 10000-01-01 -2024-01-01 2024-1-01 2024-00-01 2024-01-00 2024-02-30 2025-02-29
    1900-02-29 2024-20-01 2024-01-32 2024-04-31 2024-01-01T 2024-01-01Ta 2024-01-01T01:
    2024-01-01T01:02 2024-01-01T01:02:0b 2024-01-01T01::02:03 2024-01-01T31:02:03Z
    2024-01-01T24:00:00Z 2024-01-01T01:60:03Z 2016-12-31T23:59:60Z 2024-01-01T00:00:00
    2024-01-01T00:00:00T 2024-01-01T00:00:00x001Z 2024-01-01T00:00:00.1Z
    2024-01-01T00:00:00.0001Z 2024-01-01T00:00:00.001ZZ 2024-01-01T00:00:00.001+00000
    2024-01-01T00:00:00➕0000 2024-01-01T00:00:00z 2024-01-01t00:00:00Z
    2024-01-01T00:00:00+01:00 2024-01-01T00:00:00+2400 2016-12-31T00:00:00+1160
    2016-12-31T00:00:00-0099 ٢٠٢٤-01-01";

#[test]
fn datetime_constructor() {
    values("datetime", DATETIME_VALUES);
    let d = |s| v("datetime", s);
    assert_eq!(d("2024-10-15"), d("2024-10-15T00:00:00Z"));
    assert_eq!(d("2024-10-15T00:00:00+0100"), d("2024-10-14T23:00:00.000Z"));
    let odd = [
        "",
        "2024-01-01 00:00:00Z",
        "2024-01-01T00:00:00Z\n",
        " 2024-01-01",
    ];
    rejects("datetime", DATETIME_BAD, &odd);
    fails(
        "datetime",
        "invalid date `2024-02-30`",
        "2024-02-30T00:00:00Z",
    );
    fails(
        "datetime",
        "invalid hour/minute/second `24:00:00`",
        "2024-01-01T24:00:00Z",
    );
    fails(
        "datetime",
        "invalid offset `+2400`",
        "2024-01-01T00:00:00+2400",
    );
}

#[test]
fn datetime_methods() {
    let (d, u) = (|s| v("datetime", s), |s| v("duration", s));
    let dt = d("2024-10-28T10:12:13.456-0700");
    let z = d("2024-10-28T10:12:13.456Z");
    assert_eq!(mv("offset", &dt, &[&u("-7h")]), z);
    assert_eq!(mv("durationSince", &dt, &[&z]), u("7h"));
    assert_eq!(mv("durationSince", &z, &[&dt]), u("-7h"));
    assert_eq!(mv("toDate", &dt, &[]), d("2024-10-28"));
    assert_eq!(mv("toTime", &dt, &[]), u("17h12m13s456ms"));
    assert_eq!(
        mv("toTime", &d("2024-10-28T10:12:13.456+0700"), &[]),
        u("3h12m13s456ms")
    );
    // Before the epoch, toDate rounds down and toTime stays in 0..1d.
    let before = d("1969-12-31T23:00:00Z");
    assert_eq!(mv("toDate", &before, &[]), d("1969-12-31"));
    assert_eq!(mv("toTime", &before, &[]), u("23h"));
    assert_eq!(mv("toDate", &d("1900-01-01"), &[]), d("1900-01-01"));
    assert_eq!(mv("toTime", &d("1900-01-01"), &[]), u("0ms"));
    // Overflow at the ends of the i64 range.
    let epoch = d("1970-01-01");
    let max = mv("offset", &epoch, &[&u("9223372036854775807ms")]);
    let min = mv("offset", &epoch, &[&u("-9223372036854775808ms")]);
    assert!(m("offset", &max, &[&u("1ms")]).is_err());
    assert!(m("offset", &min, &[&u("-1ms")]).is_err());
    assert_eq!(num(&mv("offset", &max, &[&u("-1ms")])), i64::MAX - 1);
    let e = m("durationSince", &d("2024-10-24"), &[&min]).unwrap_err();
    let prefix = "error while evaluating `durationSince` extension function: overflow";
    assert!(e.message.starts_with(prefix), "{}", e.message);
    let e = m("toDate", &min, &[]).unwrap_err();
    assert!(e.message.contains("`toDate`"), "{}", e.message);
    assert_eq!(num(&mv("toDate", &max, &[])), 9_223_372_036_828_800_000);
    assert_eq!(num(&mv("toTime", &min, &[])), 60_424_192);
}

#[test]
fn datetime_display() {
    let table = "2024-10-15=2024-10-15 2024-10-15T11:38:02Z=2024-10-15T11:38:02Z
        2024-10-15T11:38:02.101+1134=2024-10-15T00:04:02.101Z
        0000-01-01T00:00:00-2359=0000-01-01T23:59:00Z";
    shows("datetime", table);
    let early = v("datetime", "0000-01-01T00:00:00+0001").to_string();
    let want = "datetime(\"1970-01-01\").offset(duration(\"-62167219260000ms\"))";
    assert_eq!(early, want);
}

/// `duration` inputs and their milliseconds.
const DURATION_VALUES: &str = "1h=3600000 -10h=-36000000 5d3ms=432000003 -3h5m=-11100000
    1d2h3m4s50ms=93784050 1m1ms=60001 0ms=0 -0ms=0 0d=0
    00000000000000000000000000000000000000000001ms=1 9223372036854775807ms=9223372036854775807
    -9223372036854775808ms=-9223372036854775808 106751991167d7h12m55s807ms=9223372036854775807
    -106751991167d7h12m55s808ms=-9223372036854775808";
/// Strings `duration` refuses as malformed.
const DURATION_BAD: &str = "- a -1 1 d -d -h -ms ➖1ms 11dd 00000mm -1hh -h2d 1ms1s 1ms1m 1ms1h
    0ms1d 1s1m 1s1h 0s0d 0m0h 0m0d 1h1d 1ms1m1d 1h1h 1ms1ms 1mms --1d +1d 1x 1M 1D 1.5h 1d-1h";
/// Strings just outside `duration`'s range.
const DURATION_BIG: &str = "9223372036854775808ms -9223372036854775809ms 106751991168d
    106751991167d7h12m55s808ms -106751991167d7h12m55s809ms 18446744073709551616ms
    99999999999999999999999999999999999999999999999d";

#[test]
fn duration_constructor() {
    values("duration", DURATION_VALUES);
    assert_eq!(v("duration", "-3d"), v("duration", "-72h"));
    rejects("duration", DURATION_BAD, &["", "1 h", " 1h", "1h "]);
    fails("duration", "overflows", DURATION_BIG);
}

#[test]
fn duration_methods_display() {
    let names = [
        "toMilliseconds",
        "toSeconds",
        "toMinutes",
        "toHours",
        "toDays",
    ];
    let all = |s| names.map(|n| ml(n, &v("duration", s)));
    assert_eq!(all("1d2h3m4s50ms"), [93_784_050, 93_784, 1_563, 26, 1]);
    assert_eq!(
        all("-1d2h3m4s50ms"),
        [-93_784_050, -93_784, -1_563, -26, -1]
    );
    // Truncation toward zero.
    assert_eq!(all("-999ms"), [-999, 0, 0, 0, 0]);
    assert_eq!(all("-23h59m59s999ms")[4], 0);
    assert_eq!(all("10d23h59m58s999ms")[1..], [950_398, 15_839, 263, 10]);
    assert_eq!(all("-9223372036854775808ms")[4], -106_751_991_167);
    let table = "0ms=0ms 90m=1h30m -1d2h3m4s5ms=-1d2h3m4s5ms 3600000ms=1h
        -9223372036854775808ms=-106751991167d7h12m55s808ms";
    shows("duration", table);
}

#[test]
fn compare_operators() {
    let (d, u) = (|s| v("datetime", s), |s| v("duration", s));
    let d1 = d("2024-10-28T10:12:13.456-0700");
    let d2 = d("2024-10-28T17:12:13.456-0800");
    assert_eq!(compare(&d1, &d2), Some(Ordering::Less));
    assert_eq!(compare(&d2, &d1), Some(Ordering::Greater));
    let d3 = d("2024-10-28T17:12:13.456Z");
    assert_eq!(compare(&d1, &d3), Some(Ordering::Equal));
    assert_eq!(compare(&u("-2h"), &u("1h")), Some(Ordering::Less));
    assert_eq!(compare(&u("-3d"), &u("-72h")), Some(Ordering::Equal));
    // Decimals and IPs have no operators; mixed types neither.
    assert_eq!(compare(&v("decimal", "1.0"), &v("decimal", "2.0")), None);
    assert_eq!(compare(&v("ip", "1.2.3.4"), &v("ip", "1.2.3.5")), None);
    assert_eq!(compare(&d1, &u("1h")), None);
    assert_eq!(compare(&u("1h"), &d1), None);
}

#[test]
fn api_names() {
    for f in ["decimal", "ip", "datetime", "duration"] {
        assert!(is_function(f) && !is_method(f), "{f}");
    }
    let methods = "lessThan lessThanOrEqual greaterThan greaterThanOrEqual isIpv4 isIpv6 isLoopback
                   isMulticast isInRange offset durationSince toDate toTime toMilliseconds
                   toSeconds toMinutes toHours toDays";
    for name in methods.split_whitespace() {
        assert!(is_method(name) && !is_function(name), "{name}");
    }
    assert!(!is_function("ipaddr") && !is_method("contains") && !is_method("toString"));
    let samples = [
        ("decimal", "1.0"),
        ("ip", "::"),
        ("datetime", "1970-01-01"),
        ("duration", "1s"),
    ];
    let names = samples.map(|(f, s)| v(f, s).type_name());
    assert_eq!(names, ["decimal", "ipaddr", "datetime", "duration"]);
}

#[test]
fn type_and_arity_errors() {
    const ARITY: &str = "wrong number of arguments provided to extension function";
    use ExtArg::{Bool, Ext, Long, Other, String as Str};
    let (dec, ip) = (v("decimal", "1.0"), v("ip", "::"));
    let (dt, du) = (v("datetime", "1970-01-01"), v("duration", "1h"));
    // (name, arguments with a method's receiver first, `expected<got` or `arity:expected:got`,
    // whether Cedar's "forgot the constructor" advice comes with it)
    #[rustfmt::skip]
    let cases = [
        ("lessThan", vec![Ext(&dec), Str("1.23")], "decimal<string", true),
        ("lessThan", vec![Long(1), Ext(&dec)], "decimal<long", false),
        ("greaterThan", vec![Ext(&dec), Ext(&ip)], "decimal<ipaddr", false),
        ("isIpv4", vec![Ext(&dec)], "ipaddr<decimal", false),
        ("isInRange", vec![Ext(&ip)], "arity:2:1", false),
        ("isInRange", vec![Ext(&ip), Ext(&ip), Ext(&ip)], "arity:2:3", false),
        ("isInRange", vec![Ext(&ip), Str("::")], "ipaddr<string", true),
        ("offset", vec![Ext(&dt), Str("7h")], "duration<string", true),
        ("offset", vec![Ext(&du), Ext(&du)], "datetime<duration", false),
        ("durationSince", vec![Ext(&dt), Ext(&du)], "datetime<duration", false),
        ("toDate", vec![Ext(&dt), Long(1)], "arity:1:2", false),
        ("toTime", vec![Bool(true)], "datetime<bool", false),
        ("toDays", vec![Str("1d")], "duration<string", true),
        ("toHours", vec![Other("set")], "duration<set", false),
        ("decimal", vec![Str("1.0"), Str("2.0")], "arity:1:2", false),
        ("ip", vec![], "arity:1:0", false),
        ("datetime", vec![Long(1)], "string<long", false),
        ("duration", vec![Other("record")], "string<record", false),
        ("decimal", vec![Ext(&dec)], "string<decimal", false),
    ];
    for (name, args, want, advice) in cases {
        let result = match args.split_first() {
            Some((recv, rest)) if is_method(name) => call_method(name, *recv, rest),
            _ => call_function(name, &args),
        };
        let e = result.expect_err(name);
        let (expected, got) = want.split_once('<').unwrap_or_default();
        let message = match want.strip_prefix("arity:").and_then(|w| w.split_once(':')) {
            Some((n, k)) => format!("{ARITY} `{name}`: expected {n}, got {k}"),
            None => format!("type error: expected {expected}, got {got}"),
        };
        let ctor = if expected == "ipaddr" { "ip" } else { expected };
        let help = advice.then(|| format!("maybe you forgot to apply the `{ctor}` constructor?"));
        assert_eq!((e.message, e.help), (message, help), "{name}");
    }
    let e = call_function("lessThan", &[]).expect_err("no function");
    assert_eq!(e.message, "extension function `lessThan` does not exist");
    assert!(call_method("decimal", ExtArg::String("1.0"), &[]).is_err());
}

#[test]
fn extn_json() {
    // `[inner object, expected value as displayed]`.
    let good: serde_json::Value = serde_json::from_str(
        r#"[
        [{"fn": "decimal", "arg": "1.23"}, "decimal(\"1.2300\")"],
        [{"fn": "decimal", "args": ["1.23"]}, "decimal(\"1.2300\")"],
        [{"fn": "decimal", "arg": "1.23", "args": ["9.0"]}, "decimal(\"1.2300\")"],
        [{"fn": "ip", "arg": "10.0.0.1/8"}, "ip(\"10.0.0.1/8\")"],
        [{"fn": "duration", "arg": "-1d2h"}, "duration(\"-1d2h\")"],
        [{"fn": "offset", "args": [{"__extn": {"fn": "datetime", "arg": "1970-01-01"}},
          {"__extn": {"fn": "duration", "arg": "-62167219200000ms"}}]}, "datetime(\"0000-01-01\")"],
        [{"fn": "toDate", "arg": {"__extn": {"fn": "datetime", "arg": "2024-10-15T11:38:02Z"}}},
         "datetime(\"2024-10-15\")"],
        [{"fn": "durationSince", "args": [{"__extn": {"fn": "datetime", "arg": "2024-10-15"}},
          {"__extn": {"fn": "datetime", "arg": "2024-10-14"}}]}, "duration(\"1d\")"]
        ]"#,
    )
    .unwrap_or_default();
    assert_eq!(good.as_array().map(Vec::len), Some(8));
    for case in good.as_array().into_iter().flatten() {
        let got = from_extn_json(&case[0]).map(|v| v.to_string());
        assert_eq!(
            got.as_deref(),
            Ok(case[1].as_str().unwrap_or_default()),
            "{case}"
        );
    }
    let bad: serde_json::Value = serde_json::from_str(
        r#"[
        {"fn": "decimal", "args": []}, {"fn": "decimal", "args": ["1.0", "2.0"]},
        {"fn": "decimal", "arg": 1}, {"fn": "decimal", "arg": 1.5}, {"fn": "decimal", "arg": null},
        {"fn": "decimal", "arg": ["1.0"]}, {"fn": "decimal", "arg": {"__entity": {"type": "A", "id": "b"}}},
        {"fn": "decimal", "arg": "1.2.3"}, {"fn": "decimal"}, {"arg": "1.0"}, {"fn": 5, "arg": "1.0"},
        {"fn": "decimal", "args": "1.0"}, {"fn": "nope", "arg": "1.0"}, "decimal",
        {"fn": "offset", "args": [{"__extn": {"fn": "datetime", "arg": "1970-01-01"}}, "1ms"]},
        {"fn": "offset", "args": [{"__extn": {"fn": "datetime", "arg": "2024-01-01"}},
          {"__extn": {"fn": "duration", "arg": "9223372036854775807ms"}}]},
        {"fn": "isIpv4", "arg": {"__extn": {"fn": "ip", "arg": "1.2.3.4"}}}
        ]"#,
    )
    .unwrap_or_default();
    assert_eq!(bad.as_array().map(Vec::len), Some(17));
    for j in bad.as_array().into_iter().flatten() {
        assert!(from_extn_json(j).is_err(), "{j} should fail");
    }
    let mut deep = json!({"fn": "datetime", "arg": "1970-01-01"});
    for _ in 0..100 {
        deep = json!({"fn": "toDate", "arg": {"__extn": deep}});
    }
    assert!(from_extn_json(&deep).is_err());
}

#[test]
fn display_and_json_round_trip() {
    let samples = "decimal=-922337203685477.5808 decimal=0.0001 ip=::ffff:7f00:1/100
        ip=1:0:0:1:0:0:0:1/64 ip=0.0.0.0/0 datetime=9999-12-31T23:59:59.999Z
        datetime=0000-01-01T00:00:00+0001 datetime=1969-12-31T23:59:59.999Z
        duration=-9223372036854775808ms duration=9223372036854775807ms duration=59s999ms";
    for (f, s) in samples.split_whitespace().filter_map(|w| w.split_once('=')) {
        let x = v(f, s);
        assert_eq!(from_extn_json(&x.to_extn_json()).as_ref(), Ok(&x), "{x}");
        let text = x.to_string();
        let (f, rest) = text.split_once("(\"").unwrap_or_default();
        match rest.strip_suffix("\")") {
            Some(arg) => assert_eq!(make(f, arg), Ok(x.clone()), "{text}"),
            None => assert!(
                text.starts_with("datetime(\"1970-01-01\").offset("),
                "{text}"
            ),
        }
    }
}
