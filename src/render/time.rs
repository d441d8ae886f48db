//! Forward / Fluent Bit event timestamps → integer nanoseconds since the epoch.

use super::msgpack::{next_head, Head};
use super::RenderError;

const NANOS_PER_SEC: i64 = 1_000_000_000;

/// A decoded event timestamp.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Timestamp {
    /// `seconds × 10⁹ + nanoseconds`, the number era-A log lines print.
    pub nanos: i64,
    /// The seconds are −1 (group start) or −2 (group end): Fluent Bit's OTLP group markers,
    /// which carry group metadata and must not be rendered as records.
    pub is_group_marker: bool,
}

impl Timestamp {
    fn from_parts(secs: i64, nanos: i64) -> Result<Self, RenderError> {
        let total = secs
            .checked_mul(NANOS_PER_SEC)
            .and_then(|s| s.checked_add(nanos))
            .ok_or(RenderError::Timestamp("seconds out of range"))?;
        Ok(Self {
            nanos: total,
            is_group_marker: secs == -1 || secs == -2,
        })
    }
}

/// Reads one timestamp object from `input` and advances past it.
pub fn read_timestamp(input: &mut &[u8]) -> Result<Timestamp, RenderError> {
    decode_timestamp(next_head(input)?)
}

/// Decodes a timestamp from its msgpack head, the way Fluent Bit v4.1.2 does:
/// - EventTime (`ext` type 0, 8 bytes): seconds and nanoseconds, **both read as signed 32-bit**,
///   so a nanoseconds field ≥ 2³¹ (an in_opentelemetry v4.1.2 bug) counts as negative; the
///   result is what Fluent Bit shows (vectors README quirk 7);
/// - an integer: whole seconds (negative values included);
/// - a float: whole seconds plus the fractional part × 10⁹, truncated toward zero.
///
/// Anything else, including non-finite floats and values whose nanoseconds overflow `i64`, is an
/// error.
pub fn decode_timestamp(head: Head<'_>) -> Result<Timestamp, RenderError> {
    match head {
        Head::Ext(0, data) => {
            let Ok(&[s0, s1, s2, s3, n0, n1, n2, n3]) = <&[u8; 8]>::try_from(data) else {
                return Err(RenderError::Timestamp("EventTime must hold 8 bytes"));
            };
            let secs = i32::from_be_bytes([s0, s1, s2, s3]);
            let nanos = i32::from_be_bytes([n0, n1, n2, n3]);
            Timestamp::from_parts(i64::from(secs), i64::from(nanos))
        }
        Head::Ext(..) => Err(RenderError::Timestamp(
            "ext timestamps must be EventTime (ext type 0)",
        )),
        Head::Uint(secs) => {
            let secs =
                i64::try_from(secs).map_err(|_| RenderError::Timestamp("seconds out of range"))?;
            Timestamp::from_parts(secs, 0)
        }
        Head::Int(secs) => Timestamp::from_parts(secs, 0),
        Head::F32(secs) => from_float(f64::from(secs)),
        Head::F64(secs) => from_float(secs),
        other => Err(RenderError::Shape {
            what: "timestamp",
            expected: "EventTime, integer or float",
            found: other.type_name(),
        }),
    }
}

fn from_float(secs: f64) -> Result<Timestamp, RenderError> {
    if !secs.is_finite() {
        return Err(RenderError::Timestamp("non-finite float"));
    }
    let whole = secs.trunc();
    if !(-9.2e18..9.2e18).contains(&whole) {
        return Err(RenderError::Timestamp("seconds out of range"));
    }
    // Both casts truncate toward zero, like the C conversions in Fluent Bit.
    Timestamp::from_parts(whole as i64, ((secs - whole) * 1e9) as i64)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn event_time(secs: u32, nanos: u32) -> Vec<u8> {
        let mut v = vec![0xd7, 0x00];
        v.extend_from_slice(&secs.to_be_bytes());
        v.extend_from_slice(&nanos.to_be_bytes());
        v
    }

    fn ts(bytes: &[u8]) -> Result<Timestamp, RenderError> {
        let mut input = bytes;
        let t = read_timestamp(&mut input)?;
        assert!(input.is_empty());
        Ok(t)
    }

    fn nanos(bytes: &[u8]) -> i64 {
        let t = ts(bytes).expect("valid timestamp");
        assert!(!t.is_group_marker);
        t.nanos
    }

    #[test]
    fn event_time_is_exact() {
        assert_eq!(
            nanos(&event_time(1_700_000_000, 123_456_789)),
            1_700_000_000_123_456_789
        );
        // ext8 with an explicit length is accepted too.
        let mut ext8 = vec![0xc7, 0x08, 0x00];
        ext8.extend_from_slice(&event_time(1, 2)[2..]);
        assert_eq!(nanos(&ext8), 1_000_000_002);
    }

    #[test]
    fn event_time_halves_are_signed_like_fluent_bit() {
        // logs-11: nanoseconds field 3627146261 is read as -667821035.
        assert_eq!(
            nanos(&event_time(0x6553_f100, 0xd831_dc15)),
            1_699_999_999_332_178_965
        );
    }

    #[test]
    fn group_markers() {
        let start = ts(&event_time(0xffff_ffff, 0)).expect("valid");
        assert!(start.is_group_marker);
        assert_eq!(start.nanos, -1_000_000_000);
        assert!(
            ts(&event_time(0xffff_fffe, 0))
                .expect("valid")
                .is_group_marker
        );
        assert!(
            !ts(&event_time(0xffff_fffd, 0))
                .expect("valid")
                .is_group_marker
        );
        assert!(ts(&[0xff]).expect("valid").is_group_marker);
        assert!(ts(&[0xfe]).expect("valid").is_group_marker);
        assert!(!ts(&[0xfd]).expect("valid").is_group_marker);
    }

    #[test]
    fn integer_and_float_seconds() {
        assert_eq!(
            nanos(&[0xce, 0x65, 0x53, 0xf1, 0x00]),
            1_700_000_000_000_000_000
        );
        assert_eq!(nanos(&[0xd0, 0xfd]), -3_000_000_000);
        let mut f = vec![0xcb];
        f.extend_from_slice(&1.5f64.to_be_bytes());
        assert_eq!(nanos(&f), 1_500_000_000);
        let mut f = vec![0xcb];
        f.extend_from_slice(&(-3.25f64).to_be_bytes());
        assert_eq!(nanos(&f), -3_250_000_000);
        // Whole seconds of -2 make a group marker whatever the fraction, as in Fluent Bit.
        let mut f = vec![0xcb];
        f.extend_from_slice(&(-2.25f64).to_be_bytes());
        assert!(ts(&f).expect("valid").is_group_marker);
        let mut f = vec![0xcb];
        f.extend_from_slice(&1_700_000_000.123_456_7f64.to_be_bytes());
        // The fractional part is truncated, not rounded (0.1234567…×10⁹ in double precision).
        assert_eq!(nanos(&f), 1_700_000_000_123_456_716);
    }

    #[test]
    fn invalid_timestamps() {
        assert!(ts(&[0xd6, 0x00, 0, 0, 0, 1]).is_err());
        assert!(ts(&[0xd7, 0x01, 0, 0, 0, 1, 0, 0, 0, 0]).is_err());
        assert!(ts(&[0xcf, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff]).is_err());
        assert!(ts(&[0xd3, 0x80, 0, 0, 0, 0, 0, 0, 0]).is_err());
        let mut nan = vec![0xcb];
        nan.extend_from_slice(&f64::NAN.to_be_bytes());
        assert!(ts(&nan).is_err());
        let mut huge = vec![0xcb];
        huge.extend_from_slice(&1e300f64.to_be_bytes());
        assert!(ts(&huge).is_err());
        assert!(matches!(ts(&[0xa1, b'x']), Err(RenderError::Shape { .. })));
        assert!(matches!(ts(&[0xd7, 0x00]), Err(RenderError::Truncated)));
    }
}
