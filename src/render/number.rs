//! Integer and float text exactly as Fluent Bit v4.1.2 prints it, written straight into the output
//! without allocating.

use std::fmt::Write as _;

/// Two ASCII digits for every value 0..=99.
const DIGIT_PAIRS: &[u8; 200] = b"\
0001020304050607080910111213141516171819\
2021222324252627282930313233343536373839\
4041424344454647484950515253545556575859\
6061626364656667686970717273747576777879\
8081828384858687888990919293949596979899";

/// Appends the decimal text of `v` (the full unsigned 64-bit range is exact).
pub fn write_u64(out: &mut Vec<u8>, mut v: u64) {
    let mut buf = [0u8; 20];
    let mut i = buf.len();
    while v >= 100 {
        let pair = (v % 100) as usize * 2;
        v /= 100;
        i -= 2;
        buf[i..i + 2].copy_from_slice(&DIGIT_PAIRS[pair..pair + 2]);
    }
    if v >= 10 {
        let pair = v as usize * 2;
        i -= 2;
        buf[i..i + 2].copy_from_slice(&DIGIT_PAIRS[pair..pair + 2]);
    } else {
        i -= 1;
        buf[i] = b'0' + v as u8;
    }
    out.extend_from_slice(&buf[i..]);
}

/// Appends the decimal text of `v` (`i64::MIN` included).
pub fn write_i64(out: &mut Vec<u8>, v: i64) {
    if v < 0 {
        out.push(b'-');
    }
    write_u64(out, v.unsigned_abs());
}

/// 2^63 as a double: integral floats in `[-2^63, 2^63)` survive Fluent Bit's round trip through
/// `long long`, so they print as `%.1f`.
const TWO_POW_63: f64 = 9_223_372_036_854_775_808.0;

/// Appends a float as Fluent Bit prints it, except that NaN and ±Inf become `null`.
///
/// Fluent Bit prints `%.1f` when `(double)(long long)x == x` and `%.16g` otherwise; NaN and
/// infinities come out as `nan`/`inf`, which is not JSON, so here they are `null` (spec §13.9,
/// the same as Fluent Bit's `json.convert_nan_to_null` for NaN).
pub fn write_f64(out: &mut Vec<u8>, x: f64) {
    if !x.is_finite() {
        out.extend_from_slice(b"null");
    } else if x.trunc() == x && (-TWO_POW_63..TWO_POW_63).contains(&x) {
        if x == 0.0 && x.is_sign_negative() {
            out.push(b'-');
        }
        // Exact: x is integral and within the i64 range.
        write_i64(out, x as i64);
        out.extend_from_slice(b".0");
    } else {
        write_g16(out, x);
    }
}

/// C's `printf("%.16g", x)` for a finite `x`.
///
/// Rust's `{:.15e}` is correctly rounded (ties to even on the exact binary value, like glibc), so
/// it yields the same 16 significant digits and decimal exponent as C; `%g` then only chooses
/// between fixed and exponent notation and strips trailing zeros.
fn write_g16(out: &mut Vec<u8>, x: f64) {
    let mut sci = StackText::default();
    // A finite f64 with 15 decimals takes at most 23 bytes; StackText holds 32.
    let _ = write!(sci, "{x:.15e}");
    let text = sci.as_bytes();
    let (negative, text) = match text.split_first() {
        Some((b'-', rest)) => (true, rest),
        _ => (false, text),
    };
    let e_at = text.iter().position(|&b| b == b'e').unwrap_or(text.len());
    let (mantissa, exponent) = text.split_at(e_at);
    let exponent = parse_exponent(exponent.get(1..).unwrap_or_default());

    // The 16 significant digits, without the decimal point, and how many remain once trailing
    // zeros are dropped.
    let mut digits = [b'0'; 16];
    for (slot, &d) in digits
        .iter_mut()
        .zip(mantissa.iter().filter(|b| b.is_ascii_digit()))
    {
        *slot = d;
    }
    let significant = digits.iter().rposition(|&d| d != b'0').map_or(1, |p| p + 1);

    if negative {
        out.push(b'-');
    }
    if !(-4..16).contains(&exponent) {
        out.push(digits[0]);
        if significant > 1 {
            out.push(b'.');
            out.extend_from_slice(&digits[1..significant]);
        }
        out.push(b'e');
        out.push(if exponent < 0 { b'-' } else { b'+' });
        let magnitude = exponent.unsigned_abs();
        if magnitude < 10 {
            out.push(b'0');
        }
        write_u64(out, u64::from(magnitude));
    } else if exponent >= 0 {
        let int_len = exponent as usize + 1;
        out.extend_from_slice(&digits[..int_len]);
        if significant > int_len {
            out.push(b'.');
            out.extend_from_slice(&digits[int_len..significant]);
        }
    } else {
        out.extend_from_slice(b"0.");
        for _ in 1..exponent.unsigned_abs() {
            out.push(b'0');
        }
        out.extend_from_slice(&digits[..significant]);
    }
}

/// Parses the decimal exponent Rust prints after `e` (`-7`, `300`).
fn parse_exponent(text: &[u8]) -> i32 {
    let (negative, digits) = match text.split_first() {
        Some((b'-', rest)) => (true, rest),
        _ => (false, text),
    };
    let magnitude = digits.iter().fold(0i32, |acc, &d| {
        acc.saturating_mul(10)
            .saturating_add(i32::from(d.wrapping_sub(b'0')))
    });
    if negative {
        -magnitude
    } else {
        magnitude
    }
}

/// A fixed-capacity text buffer on the stack, the target of `write!` for float digits.
#[derive(Default)]
struct StackText {
    buf: [u8; 32],
    len: usize,
}

impl StackText {
    fn as_bytes(&self) -> &[u8] {
        &self.buf[..self.len]
    }
}

impl std::fmt::Write for StackText {
    fn write_str(&mut self, s: &str) -> std::fmt::Result {
        let end = self.len + s.len();
        let slot = self.buf.get_mut(self.len..end).ok_or(std::fmt::Error)?;
        slot.copy_from_slice(s.as_bytes());
        self.len = end;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn float(x: f64) -> String {
        let mut out = Vec::new();
        write_f64(&mut out, x);
        String::from_utf8(out).expect("ascii")
    }

    fn int(v: i64) -> String {
        let mut out = Vec::new();
        write_i64(&mut out, v);
        String::from_utf8(out).expect("ascii")
    }

    #[test]
    fn integers() {
        assert_eq!(int(0), "0");
        assert_eq!(int(7), "7");
        assert_eq!(int(10), "10");
        assert_eq!(int(99), "99");
        assert_eq!(int(100), "100");
        assert_eq!(int(-1), "-1");
        assert_eq!(int(1_234_567_890), "1234567890");
        assert_eq!(int(i64::MIN), "-9223372036854775808");
        assert_eq!(int(i64::MAX), "9223372036854775807");
        let mut out = Vec::new();
        write_u64(&mut out, u64::MAX);
        assert_eq!(out, b"18446744073709551615");
        for v in [1u64, 9, 11, 101, 999, 1000, 65535, 4_294_967_296] {
            let mut out = Vec::new();
            write_u64(&mut out, v);
            assert_eq!(out, v.to_string().as_bytes());
        }
    }

    #[test]
    fn integral_floats_print_one_decimal() {
        assert_eq!(float(3.0), "3.0");
        assert_eq!(float(-0.0), "-0.0");
        assert_eq!(float(0.0), "0.0");
        assert_eq!(float(1e15), "1000000000000000.0");
        assert_eq!(float(-42.0), "-42.0");
        assert_eq!(
            float(-9_223_372_036_854_775_808.0),
            "-9223372036854775808.0"
        );
        // 2^63 and beyond no longer survive the cast to long long.
        assert_eq!(float(9_223_372_036_854_775_808.0), "9.223372036854776e+18");
        assert_eq!(float(1e20), "1e+20");
        assert_eq!(float(-1e300), "-1e+300");
    }

    #[test]
    fn non_finite_floats_are_null() {
        assert_eq!(float(f64::NAN), "null");
        assert_eq!(float(-f64::NAN), "null");
        assert_eq!(float(f64::INFINITY), "null");
        assert_eq!(float(f64::NEG_INFINITY), "null");
    }

    #[test]
    fn float32_is_widened() {
        assert_eq!(float(f64::from(1.1f32)), "1.100000023841858");
        assert_eq!(float(f64::from(0.1f32)), "0.1000000014901161");
        assert_eq!(float(f64::from(f32::MAX)), "3.402823466385289e+38");
    }

    /// Expected texts are glibc's output for Fluent Bit's rule (`%.1f` if the value survives a cast
    /// to `long long`, else `%.16g`), for the listed bit patterns
    /// (hex so that the inputs are exact).
    #[test]
    fn matches_c_percent_16g() {
        let cases: &[(u64, &str)] = &[
            (0x3fb999999999999a, "0.1"),
            (0x3fd5555555555555, "0.3333333333333333"),
            (0x3e7ad7f29abcaf48, "1e-07"),
            (0x7e41eb2d66005835, "1.5e+300"),
            (0x01a56e1fc2f8f359, "1e-300"),
            (0xbe8421f5f40d8376, "-1.5e-07"),
            (0x3ff199999999999a, "1.1"),
            (0x400921fb54442d18, "3.141592653589793"),
            (0x4005bf0a8b145769, "2.718281828459045"),
            (0x0000000000000001, "4.940656458412465e-324"),
            (0x7fefffffffffffff, "1.797693134862316e+308"),
            (0x0010000000000000, "2.225073858507201e-308"),
            (0x3f1a36e2eb1c432d, "0.0001"),
            (0x3f1a36e2eb1c432c, "9.999999999999999e-05"),
            (0x3ee4f8b588e368f1, "1e-05"),
            (0x3f50624dd2f1a9fc, "0.001"),
            (0x4341c37937e08001, "10000000000000002.0"),
            (0x43f158e460913d00, "2e+19"),
            (0x430c6bf526340002, "1000000000000000"),
            (0x43118b54f22aeb02, "1234567890123456"),
            (0x43118b54f22aeb06, "1234567890123458"),
            (0x42dc12218377de50, "123456789012345.2"),
            (0x40fe240c9fcb5c8a, "123456.7890123"),
            (0x3fe0000000000001, "0.5000000000000001"),
            (0x3fefffffffffffff, "0.9999999999999999"),
            (0x3ff0000000000001, "1"),
            (0xbfe5555555555555, "-0.6666666666666666"),
            (0x408f400000000001, "1000"),
            (0x3f847ae147ae147b, "0.01"),
            (0x3dc5fd7fe1796495, "4e-11"),
            (0x4415af1d78b58c40, "1e+20"),
            (0x44b52d02c7e14af6, "9.999999999999999e+22"),
            (0x3ddb7cdfd9d7bdbb, "1e-10"),
            (0x3fc999999999999a, "0.2"),
            (0x3fd3333333333333, "0.3"),
            (0x3fd3333333333334, "0.3"),
            (0x4023e66666666668, "9.950000000000003"),
            (0x40c81cd6e685db77, "12345.67891"),
            (0x409003f7e90ff972, "1024.9921"),
            (0x3f2a36e2eb1c432d, "0.0002"),
            (0x3f00000000000000, "3.0517578125e-05"),
            (0x3e45798ee2308c3a, "1e-08"),
            (0x419d6f34547df3b6, "123456789.123"),
            (0xbf202e85be111841, "-0.000123456789"),
            (0x430c6bf526340004, "1000000000000000"),
            (0x4340000000000000, "9007199254740992.0"),
            (0x3fd3333333333334, "0.3"),
            (0x4059200000000000, "100.5"),
            (0x80000000000007e8, "-9.99988867182683e-321"),
            (0x44dfe185ca57c517, "6.02214076e+23"),
        ];
        for &(bits, expected) in cases {
            let x = f64::from_bits(bits);
            assert_eq!(float(x), expected, "bits {bits:#x} ({x:e})");
        }
    }
}
