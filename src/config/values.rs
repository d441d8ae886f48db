//! Fluent Bit's value syntaxes (booleans, sizes, integers, seconds, log levels, octal modes), so
//! that a value means here exactly what it means to Fluent Bit.
//!
//! Each parser returns a plain message on failure; the caller adds the file, line and key. The
//! public ones also parse command-line flags that override configuration keys, so that a flag
//! takes exactly the syntax of the key it overrides.

use std::time::Duration;

/// Fluent Bit's `flb_utils_bool`: on/off, true/false, yes/no in any case (and nothing else).
pub fn boolean(text: &str) -> Result<bool, String> {
    match text.to_ascii_lowercase().as_str() {
        "on" | "true" | "yes" => Ok(true),
        "off" | "false" | "no" => Ok(false),
        _ => Err(format!(
            "invalid boolean '{text}' (expected on, off, true, false, yes or no)"
        )),
    }
}

/// Fluent Bit's `flb_utils_size_to_bytes`: a decimal number (fractions allowed) with an optional
/// `K`, `M` or `G` suffix in decimal units, optionally followed by `B`; `false` means 0.
pub fn size(text: &str) -> Result<u64, String> {
    let invalid =
        || format!("invalid size '{text}' (expected a number with an optional K, M or G suffix)");
    if text.eq_ignore_ascii_case("false") {
        return Ok(0);
    }
    let digits_end = text
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(text.len());
    let (number, suffix) = text.split_at(digits_end);
    let multiplier: u64 = match suffix.to_ascii_lowercase().as_str() {
        "" | "b" => 1,
        "k" | "kb" => 1_000,
        "m" | "mb" => 1_000_000,
        "g" | "gb" => 1_000_000_000,
        _ => return Err(invalid()),
    };
    let (whole, fraction) = number.split_once('.').unwrap_or((number, ""));
    let all_digits = |s: &str| s.bytes().all(|b| b.is_ascii_digit());
    if whole.is_empty() || !all_digits(whole) || !all_digits(fraction) {
        return Err(invalid());
    }
    if number.contains('.') && fraction.is_empty() {
        return Err(invalid());
    }
    let too_large = || format!("size '{text}' is too large");
    let whole_bytes = whole
        .parse::<u64>()
        .ok()
        .and_then(|w| w.checked_mul(multiplier))
        .ok_or_else(too_large)?;
    if fraction.is_empty() {
        return Ok(whole_bytes);
    }
    // The fractional part is below one unit, so f64 is exact enough; truncate like Fluent Bit.
    let fraction_value: f64 = format!("0.{fraction}").parse().map_err(|_| invalid())?;
    let fraction_bytes = (fraction_value * multiplier as f64) as u64;
    whole_bytes
        .checked_add(fraction_bytes)
        .ok_or_else(too_large)
}

/// A strict unsigned integer: decimal digits only (no sign, spaces or suffix).
pub fn unsigned<T: TryFrom<u64>>(text: &str) -> Result<T, String> {
    let invalid = || format!("invalid integer '{text}' (expected a whole number such as 10)");
    if text.is_empty() || !text.bytes().all(|b| b.is_ascii_digit()) {
        return Err(invalid());
    }
    text.parse::<u64>()
        .ok()
        .and_then(|n| T::try_from(n).ok())
        .ok_or_else(|| format!("integer '{text}' is out of range"))
}

/// A strict unsigned integer that must lie in `min..=max`, for counts with limits.
pub fn unsigned_in<T: TryFrom<u64>>(min: u64, max: u64) -> impl FnOnce(&str) -> Result<T, String> {
    move |text| {
        let value: u64 = unsigned(text)?;
        if !(min..=max).contains(&value) {
            return Err(format!("{value} is out of range (expected {min} to {max})"));
        }
        T::try_from(value).map_err(|_| format!("integer '{text}' is out of range"))
    }
}

/// A strict signed integer: an optional `-` then decimal digits only.
pub fn signed(text: &str) -> Result<i64, String> {
    let digits = text.strip_prefix('-').unwrap_or(text);
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return Err(format!(
            "invalid integer '{text}' (expected a whole number such as 10 or -1)"
        ));
    }
    text.parse::<i64>()
        .map_err(|_| format!("integer '{text}' is out of range"))
}

/// A number of seconds as Fluent Bit's `flush` takes it: decimal, fractions allowed ("0.5").
pub fn seconds(text: &str) -> Result<Duration, String> {
    let invalid =
        || format!("invalid number of seconds '{text}' (expected a number such as 1 or 0.5)");
    let (whole, fraction) = text.split_once('.').unwrap_or((text, "0"));
    let all_digits = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
    if !all_digits(whole) || !all_digits(fraction) {
        return Err(invalid());
    }
    let value: f64 = text.parse().map_err(|_| invalid())?;
    Duration::try_from_secs_f64(value)
        .map_err(|_| format!("number of seconds '{text}' is too large"))
}

/// Free text that must not be empty (an empty value is almost always an unset `${VAR}`).
pub fn text(text: &str) -> Result<String, String> {
    if text.is_empty() {
        return Err("the value is empty".to_string());
    }
    Ok(text.to_string())
}

/// The text of a JSON object, checked at load time so a typo fails at start, not per event.
pub fn json_object(text: &str) -> Result<String, String> {
    match serde_json::from_str::<serde_json::Value>(text) {
        Ok(serde_json::Value::Object(_)) => Ok(text.to_string()),
        Ok(_) => Err(format!("'{text}' is not a JSON object")),
        Err(e) => Err(format!("invalid JSON '{text}': {e}")),
    }
}

/// A listen address: an IP address or a name that resolves (`localhost`), checked at load
/// time so that a typo fails in `--dry-run` too, with its line and key.
pub fn host(text: &str) -> Result<String, String> {
    let text = text.trim_start_matches('[').trim_end_matches(']');
    if text.is_empty() {
        return Err("the address is empty".to_string());
    }
    if text.parse::<std::net::IpAddr>().is_ok() {
        return Ok(text.to_string());
    }
    let resolves = std::net::ToSocketAddrs::to_socket_addrs(&(text, 0))
        .is_ok_and(|mut addrs| addrs.next().is_some());
    match resolves {
        true => Ok(text.to_string()),
        false => Err(format!(
            "'{text}' is neither an IP address nor a host name that resolves"
        )),
    }
}

/// A regular expression, compiled once at load time to check it (the output compiles it again
/// at start).
pub fn regex(text: &str) -> Result<String, String> {
    regex::Regex::new(text)
        .map(|_| text.to_string())
        .map_err(|e| format!("invalid regular expression '{text}': {e}"))
}

/// A value that can be sent as an HTTP header value: visible ASCII, spaces and tabs.
pub fn header_value(text: &str) -> Result<String, String> {
    let valid = |b: u8| b == b'\t' || (b' '..=b'~').contains(&b);
    if text.is_empty() || !text.bytes().all(valid) {
        return Err(format!(
            "'{text}' cannot be sent as an HTTP header value (visible ASCII only)"
        ));
    }
    Ok(text.to_string())
}

/// Fluent Bit's `log_level` names, mapped onto the `log` crate's filter.
pub fn log_level(text: &str) -> Result<log::LevelFilter, String> {
    match text.to_ascii_lowercase().as_str() {
        "off" => Ok(log::LevelFilter::Off),
        "error" => Ok(log::LevelFilter::Error),
        "warn" | "warning" => Ok(log::LevelFilter::Warn),
        "info" => Ok(log::LevelFilter::Info),
        "debug" => Ok(log::LevelFilter::Debug),
        "trace" => Ok(log::LevelFilter::Trace),
        _ => Err(format!(
            "invalid log level '{text}' (expected off, error, warn, info, debug or trace)"
        )),
    }
}

/// A Unix permission mode written in octal, as `unix_perm 0644`.
pub fn octal_mode(text: &str) -> Result<u32, String> {
    let invalid =
        || format!("invalid permission mode '{text}' (expected octal digits such as 0644)");
    if text.is_empty() || !text.bytes().all(|b| (b'0'..=b'7').contains(&b)) {
        return Err(invalid());
    }
    match u32::from_str_radix(text, 8) {
        Ok(mode) if mode <= 0o7777 => Ok(mode),
        _ => Err(invalid()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes() {
        let table: &[(&str, u64)] = &[
            ("20M", 20_000_000),
            ("20MB", 20_000_000),
            ("20mb", 20_000_000),
            ("1.5m", 1_500_000),
            ("512k", 512_000),
            ("512KB", 512_000),
            ("1G", 1_000_000_000),
            ("0", 0),
            ("false", 0),
            ("FALSE", 0),
            ("1024000", 1_024_000),
            ("100b", 100),
            ("0.5K", 500),
            ("18446744073709551615", u64::MAX),
        ];
        for (text, expected) in table {
            assert_eq!(size(text), Ok(*expected), "{text}");
        }
    }

    #[test]
    fn bad_sizes() {
        for text in [
            "20Q",
            "",
            "M",
            "-1",
            "1.",
            ".5M",
            "1.2.3M",
            "20 M",
            "1T",
            "20MBB",
            "true",
            "1e3",
            "99999999999999999999",
            "18446744073709551615K",
        ] {
            assert!(size(text).is_err(), "{text:?} should be invalid");
        }
        assert_eq!(
            size("20Q").unwrap_err(),
            "invalid size '20Q' (expected a number with an optional K, M or G suffix)"
        );
    }

    #[test]
    fn booleans() {
        for text in ["on", "ON", "true", "True", "yes", "YES"] {
            assert_eq!(boolean(text), Ok(true), "{text}");
        }
        for text in ["off", "Off", "false", "FALSE", "no", "No"] {
            assert_eq!(boolean(text), Ok(false), "{text}");
        }
        for text in ["1", "0", "", "enabled", "onn"] {
            assert!(boolean(text).is_err(), "{text:?} should be invalid");
        }
    }

    #[test]
    fn integers_are_strict() {
        assert_eq!(unsigned::<u16>("2025"), Ok(2025));
        assert_eq!(unsigned::<u64>("0"), Ok(0));
        for text in ["", "+1", "-1", " 1", "1.0", "1k", "0x10"] {
            assert!(unsigned::<u64>(text).is_err(), "{text:?} should be invalid");
        }
        assert!(unsigned::<u16>("65536").is_err());
        assert_eq!(signed("-1"), Ok(-1));
        assert_eq!(signed("42"), Ok(42));
        for text in ["", "-", "+1", "--1", "1-"] {
            assert!(signed(text).is_err(), "{text:?} should be invalid");
        }
    }

    #[test]
    fn seconds_allow_fractions() {
        assert_eq!(seconds("1"), Ok(Duration::from_secs(1)));
        assert_eq!(seconds("0.5"), Ok(Duration::from_millis(500)));
        assert_eq!(seconds("0"), Ok(Duration::ZERO));
        for text in ["", "-1", "1s", ".5", "1.", "inf", "NaN", "1e3"] {
            assert!(seconds(text).is_err(), "{text:?} should be invalid");
        }
    }

    #[test]
    fn ranges_and_text() {
        assert_eq!(unsigned_in::<usize>(1, 256)("256"), Ok(256));
        assert!(unsigned_in::<usize>(1, 256)("0").is_err());
        assert!(unsigned_in::<usize>(1, 256)("257").is_err());
        assert_eq!(text("x"), Ok("x".to_string()));
        assert!(text("").is_err());
    }

    #[test]
    fn json_objects() {
        assert_eq!(
            json_object(r#"{"message":"dummy"}"#),
            Ok(r#"{"message":"dummy"}"#.to_string())
        );
        assert_eq!(json_object("{}"), Ok("{}".to_string()));
        assert!(json_object("[1]").is_err());
        assert!(json_object("{message}").is_err());
    }

    #[test]
    fn hosts_regexes_and_header_values() {
        assert_eq!(host("127.0.0.1"), Ok("127.0.0.1".to_string()));
        assert_eq!(host("[::1]"), Ok("::1".to_string()));
        assert_eq!(host("localhost"), Ok("localhost".to_string()));
        assert!(host("notanip").unwrap_err().contains("'notanip'"));
        assert!(host("").is_err());
        assert_eq!(regex("^app\\."), Ok("^app\\.".to_string()));
        assert!(regex("(")
            .unwrap_err()
            .contains("invalid regular expression"));
        assert_eq!(header_value("*"), Ok("*".to_string()));
        assert_eq!(
            header_value("http://ui.example:8080"),
            Ok("http://ui.example:8080".to_string())
        );
        assert!(header_value("a\nb").is_err());
        assert!(header_value("é").is_err());
    }

    #[test]
    fn log_levels() {
        assert_eq!(log_level("warning"), Ok(log::LevelFilter::Warn));
        assert_eq!(log_level("DEBUG"), Ok(log::LevelFilter::Debug));
        assert!(log_level("verbose").is_err());
    }

    #[test]
    fn octal_modes() {
        assert_eq!(octal_mode("0644"), Ok(0o644));
        assert_eq!(octal_mode("777"), Ok(0o777));
        for text in ["", "0648", "-644", "077777", "rw"] {
            assert!(octal_mode(text).is_err(), "{text:?} should be invalid");
        }
    }
}
