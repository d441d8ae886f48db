//! Zero-copy decoding of one msgpack "head" at a time.
//!
//! A head is everything about an object except its children: a scalar with its value, a
//! `str`/`bin`/`ext` with its payload slice, or an array/map with its element count. The
//! renderer, the timestamp decoder, the object scanner and the Forward message parser all walk
//! msgpack through this one function, so every caller accepts the same (non-canonical) encodings
//! and rejects the same invalid bytes.

use rmp::Marker;

use super::RenderError;

/// One decoded msgpack head, borrowing its payload from the input.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Head<'a> {
    /// `nil`.
    Nil,
    /// `true` / `false`.
    Bool(bool),
    /// A positive fixint or `uint 8/16/32/64`.
    Uint(u64),
    /// A negative fixint or `int 8/16/32/64` (which may hold a non-negative value when the
    /// producer chose a non-canonical encoding).
    Int(i64),
    /// `float 32`, kept narrow so the renderer can widen it exactly like Fluent Bit.
    F32(f32),
    /// `float 64`.
    F64(f64),
    /// `str` payload bytes (not validated as UTF-8).
    Str(&'a [u8]),
    /// `bin` payload bytes.
    Bin(&'a [u8]),
    /// `ext` type code and payload bytes.
    Ext(i8, &'a [u8]),
    /// An array header with its element count; the elements follow.
    Array(u32),
    /// A map header with its pair count; `2 × count` objects follow.
    Map(u32),
}

impl Head<'_> {
    /// A short type name for error messages.
    pub fn type_name(&self) -> &'static str {
        match self {
            Head::Nil => "nil",
            Head::Bool(_) => "bool",
            Head::Uint(_) | Head::Int(_) => "integer",
            Head::F32(_) | Head::F64(_) => "float",
            Head::Str(_) => "str",
            Head::Bin(_) => "bin",
            Head::Ext(..) => "ext",
            Head::Array(_) => "array",
            Head::Map(_) => "map",
        }
    }

    /// How many child objects follow this head (array elements, or keys plus values).
    pub fn child_count(&self) -> u64 {
        match *self {
            Head::Array(n) => u64::from(n),
            Head::Map(n) => 2 * u64::from(n),
            _ => 0,
        }
    }
}

/// Why a head could not be decoded.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum HeadError {
    /// The input ends inside the head (or inside its `str`/`bin`/`ext` payload); `needed` is the
    /// total number of bytes, counted from the head's first byte, that the head occupies (or at
    /// least needs, when even its length field is cut off).
    Truncated {
        /// Minimum length of the head, in bytes from its marker.
        needed: usize,
    },
    /// The marker byte is `0xc1`, which msgpack never uses.
    Reserved,
}

/// Decodes the head at the start of `buf` and returns it with its encoded length (marker, length
/// fields and, for `str`/`bin`/`ext`, the payload).
///
/// Declared lengths are only compared with the input, never allocated, so hostile lengths cost
/// nothing.
pub fn read_head(buf: &[u8]) -> Result<(Head<'_>, usize), HeadError> {
    let Some((&marker, rest)) = buf.split_first() else {
        return Err(HeadError::Truncated { needed: 1 });
    };
    let head = match Marker::from_u8(marker) {
        Marker::FixPos(v) => (Head::Uint(u64::from(v)), 1),
        Marker::FixNeg(v) => (Head::Int(i64::from(v)), 1),
        Marker::Null => (Head::Nil, 1),
        Marker::True => (Head::Bool(true), 1),
        Marker::False => (Head::Bool(false), 1),
        Marker::Reserved => return Err(HeadError::Reserved),
        Marker::U8 => (Head::Uint(u64::from(fixed::<1>(rest)?[0])), 2),
        Marker::U16 => (Head::Uint(u64::from(u16::from_be_bytes(fixed(rest)?))), 3),
        Marker::U32 => (Head::Uint(u64::from(u32::from_be_bytes(fixed(rest)?))), 5),
        Marker::U64 => (Head::Uint(u64::from_be_bytes(fixed(rest)?)), 9),
        Marker::I8 => (Head::Int(i64::from(i8::from_be_bytes(fixed(rest)?))), 2),
        Marker::I16 => (Head::Int(i64::from(i16::from_be_bytes(fixed(rest)?))), 3),
        Marker::I32 => (Head::Int(i64::from(i32::from_be_bytes(fixed(rest)?))), 5),
        Marker::I64 => (Head::Int(i64::from_be_bytes(fixed(rest)?)), 9),
        Marker::F32 => (Head::F32(f32::from_be_bytes(fixed(rest)?)), 5),
        Marker::F64 => (Head::F64(f64::from_be_bytes(fixed(rest)?)), 9),
        Marker::FixStr(n) => payload(buf, 1, usize::from(n), Head::Str)?,
        Marker::Str8 => payload(buf, 2, len8(rest)?, Head::Str)?,
        Marker::Str16 => payload(buf, 3, len16(rest)?, Head::Str)?,
        Marker::Str32 => payload(buf, 5, len32(rest)?, Head::Str)?,
        Marker::Bin8 => payload(buf, 2, len8(rest)?, Head::Bin)?,
        Marker::Bin16 => payload(buf, 3, len16(rest)?, Head::Bin)?,
        Marker::Bin32 => payload(buf, 5, len32(rest)?, Head::Bin)?,
        Marker::FixExt1 => ext(buf, 1, 1)?,
        Marker::FixExt2 => ext(buf, 1, 2)?,
        Marker::FixExt4 => ext(buf, 1, 4)?,
        Marker::FixExt8 => ext(buf, 1, 8)?,
        Marker::FixExt16 => ext(buf, 1, 16)?,
        Marker::Ext8 => ext(buf, 2, len8(rest)?)?,
        Marker::Ext16 => ext(buf, 3, len16(rest)?)?,
        Marker::Ext32 => ext(buf, 5, len32(rest)?)?,
        Marker::FixArray(n) => (Head::Array(u32::from(n)), 1),
        Marker::Array16 => (Head::Array(u32::from(u16::from_be_bytes(fixed(rest)?))), 3),
        Marker::Array32 => (Head::Array(u32::from_be_bytes(fixed(rest)?)), 5),
        Marker::FixMap(n) => (Head::Map(u32::from(n)), 1),
        Marker::Map16 => (Head::Map(u32::from(u16::from_be_bytes(fixed(rest)?))), 3),
        Marker::Map32 => (Head::Map(u32::from_be_bytes(fixed(rest)?)), 5),
    };
    Ok(head)
}

/// Decodes the head at the front of `input` and advances past it: the cursor form of
/// [`read_head`] used when the whole object is in memory.
#[inline]
pub fn next_head<'a>(input: &mut &'a [u8]) -> Result<Head<'a>, RenderError> {
    // Fast path, inlined into the renderer's loops: strings under 256 bytes, small non-negative
    // integers and small maps and arrays (most of a log record) without the full decoder's
    // out-of-line call, whose result goes through memory.
    match input.first() {
        Some(&b) if b & 0xe0 == 0xa0 => {
            let end = 1 + usize::from(b & 0x1f);
            if let (Some(text), Some(rest)) = (input.get(1..end), input.get(end..)) {
                *input = rest;
                return Ok(Head::Str(text));
            }
        }
        Some(&b) if b < 0x80 => {
            *input = input.get(1..).unwrap_or_default();
            return Ok(Head::Uint(u64::from(b)));
        }
        Some(&0xd9) => {
            if let Some(&n) = input.get(1) {
                let end = 2 + usize::from(n);
                if let (Some(text), Some(rest)) = (input.get(2..end), input.get(end..)) {
                    *input = rest;
                    return Ok(Head::Str(text));
                }
            }
        }
        Some(&b) if b & 0xe0 == 0x80 => {
            *input = input.get(1..).unwrap_or_default();
            let n = u32::from(b & 0x0f);
            return Ok(if b & 0x10 == 0 {
                Head::Map(n)
            } else {
                Head::Array(n)
            });
        }
        _ => {}
    }
    let (head, len) = read_head(input)?;
    *input = input.get(len..).unwrap_or_default();
    Ok(head)
}

/// Decodes the head at the front of `input` without advancing.
pub fn peek_head(input: &[u8]) -> Result<Head<'_>, RenderError> {
    Ok(read_head(input)?.0)
}

/// The `N` bytes after the marker, or how long the head must be to hold them.
fn fixed<const N: usize>(rest: &[u8]) -> Result<[u8; N], HeadError> {
    rest.get(..N)
        .and_then(|b| b.try_into().ok())
        .ok_or(HeadError::Truncated { needed: 1 + N })
}

fn len8(rest: &[u8]) -> Result<usize, HeadError> {
    Ok(usize::from(fixed::<1>(rest)?[0]))
}

fn len16(rest: &[u8]) -> Result<usize, HeadError> {
    Ok(usize::from(u16::from_be_bytes(fixed(rest)?)))
}

fn len32(rest: &[u8]) -> Result<usize, HeadError> {
    // A u32 always fits the usize of the 32- and 64-bit targets this service builds for;
    // saturating keeps the arithmetic below overflow-free anywhere else.
    Ok(usize::try_from(u32::from_be_bytes(fixed(rest)?)).unwrap_or(usize::MAX))
}

/// A `str`/`bin` head whose payload of `len` bytes starts `header` bytes into `buf`.
fn payload<'a>(
    buf: &'a [u8],
    header: usize,
    len: usize,
    make: fn(&'a [u8]) -> Head<'a>,
) -> Result<(Head<'a>, usize), HeadError> {
    let total = header.saturating_add(len);
    match buf.get(header..total) {
        Some(data) => Ok((make(data), total)),
        None => Err(HeadError::Truncated { needed: total }),
    }
}

/// An `ext` head: `header` bytes of marker and length, then the type byte, then `len` bytes.
fn ext(buf: &[u8], header: usize, len: usize) -> Result<(Head<'_>, usize), HeadError> {
    let data_start = header + 1;
    let total = data_start.saturating_add(len);
    match (buf.get(header), buf.get(data_start..total)) {
        (Some(&code), Some(data)) => Ok((Head::Ext(i8::from_be_bytes([code]), data), total)),
        _ => Err(HeadError::Truncated { needed: total }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn head(bytes: &[u8]) -> (Head<'_>, usize) {
        read_head(bytes).expect("valid head")
    }

    #[test]
    fn scalars() {
        assert_eq!(head(&[0x05]), (Head::Uint(5), 1));
        assert_eq!(head(&[0xff]), (Head::Int(-1), 1));
        assert_eq!(head(&[0xc0]), (Head::Nil, 1));
        assert_eq!(head(&[0xc3]), (Head::Bool(true), 1));
        assert_eq!(
            head(&[0xcf, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff]),
            (Head::Uint(u64::MAX), 9)
        );
        assert_eq!(
            head(&[0xd3, 0x80, 0, 0, 0, 0, 0, 0, 0]),
            (Head::Int(i64::MIN), 9)
        );
        assert_eq!(head(&[0xd0, 0x05]), (Head::Int(5), 2));
        assert_eq!(head(&[0xca, 0x3f, 0x8c, 0xcc, 0xcd]), (Head::F32(1.1), 5));
    }

    #[test]
    fn non_canonical_sizes() {
        assert_eq!(head(&[0xdd, 0, 0, 0, 2]), (Head::Array(2), 5));
        assert_eq!(head(&[0xdf, 0, 0, 0, 3]), (Head::Map(3), 5));
        assert_eq!(head(&[0xdb, 0, 0, 0, 1, b'x']), (Head::Str(b"x"), 6));
        assert_eq!(head(&[0xc7, 8, 0, 1, 2, 3, 4, 5, 6, 7, 8]).1, 11);
    }

    #[test]
    fn payloads() {
        assert_eq!(head(&[0xa2, b'h', b'i', 0]), (Head::Str(b"hi"), 3));
        assert_eq!(head(&[0xc4, 1, 0xff]), (Head::Bin(&[0xff]), 3));
        assert_eq!(head(&[0xd4, 0x05, 0x7f]), (Head::Ext(5, &[0x7f]), 3));
    }

    #[test]
    fn truncation_reports_needed_length() {
        assert_eq!(read_head(&[]), Err(HeadError::Truncated { needed: 1 }));
        assert_eq!(
            read_head(&[0xcd, 1]),
            Err(HeadError::Truncated { needed: 3 })
        );
        assert_eq!(
            read_head(&[0xa3, b'a']),
            Err(HeadError::Truncated { needed: 4 })
        );
        assert_eq!(
            read_head(&[0xc6, 0, 0x10, 0, 0]),
            Err(HeadError::Truncated {
                needed: 5 + 0x100000
            })
        );
        assert_eq!(
            read_head(&[0xc6, 0xff, 0xff, 0xff, 0xff]),
            Err(HeadError::Truncated {
                needed: 5 + 0xffff_ffff
            })
        );
        assert_eq!(
            read_head(&[0xd7, 0]),
            Err(HeadError::Truncated { needed: 10 })
        );
        assert_eq!(read_head(&[0xc7]), Err(HeadError::Truncated { needed: 2 }));
    }

    #[test]
    fn reserved_marker() {
        assert_eq!(read_head(&[0xc1]), Err(HeadError::Reserved));
    }
}
