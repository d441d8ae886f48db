//! Compressed PackedForward payloads: which codec, and inflating with a cap.
//!
//! Fluent Bit's forward output sends `compressed: "gzip"` (every version) or `"zstd"` (v5); its
//! forward input also recognises either by its magic bytes when the option is absent or names
//! something else. A plain payload starts with an entry's array header, never with either magic,
//! so sniffing cannot misread one.

use std::io::Read;

use flate2::read::MultiGzDecoder;

use super::message::MessageError;

/// How a PackedForward payload is compressed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Compression {
    /// Plain concatenated entries (`compressed: "text"` or absent).
    None,
    /// One or more gzip members.
    Gzip,
    /// One or more zstd frames.
    Zstd,
}

impl Compression {
    /// The codec whose magic bytes start `payload`, if any.
    pub fn sniff(payload: &[u8]) -> Compression {
        match payload {
            [0x1f, 0x8b, ..] => Compression::Gzip,
            [0x28, 0xb5, 0x2f, 0xfd, ..] => Compression::Zstd,
            _ => Compression::None,
        }
    }

    /// The option's name for the codec, for messages.
    pub fn name(self) -> &'static str {
        match self {
            Compression::None => "text",
            Compression::Gzip => "gzip",
            Compression::Zstd => "zstd",
        }
    }
}

/// Inflates every gzip member or zstd frame of `data`, refusing to produce more than `limit`
/// bytes (a decompression bomb stops at the cap, not at the end of memory).
pub fn inflate(codec: Compression, data: &[u8], limit: usize) -> Result<Vec<u8>, MessageError> {
    let cap = u64::try_from(limit).unwrap_or(u64::MAX).saturating_add(1);
    let mut inflated = Vec::with_capacity(data.len().saturating_mul(4).min(limit));
    let decompress_error = |source| MessageError::Decompress {
        codec: codec.name(),
        source,
    };
    match codec {
        Compression::None => inflated.extend_from_slice(data),
        Compression::Gzip => {
            MultiGzDecoder::new(data)
                .take(cap)
                .read_to_end(&mut inflated)
                .map_err(decompress_error)?;
        }
        Compression::Zstd => {
            zstd::stream::read::Decoder::new(data)
                .map_err(decompress_error)?
                .take(cap)
                .read_to_end(&mut inflated)
                .map_err(decompress_error)?;
        }
    }
    if inflated.len() > limit {
        return Err(MessageError::DecompressedTooLarge { limit });
    }
    Ok(inflated)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sniffs_gzip_and_zstd_magic_only() {
        let gz = {
            use std::io::Write;
            let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
            enc.write_all(b"x").expect("gzip");
            enc.finish().expect("gzip")
        };
        let zst = zstd::encode_all(&b"x"[..], 1).expect("zstd");
        assert_eq!(Compression::sniff(&gz), Compression::Gzip);
        assert_eq!(Compression::sniff(&zst), Compression::Zstd);
        // A plain payload starts with an entry's array header.
        for plain in [
            &[0x92, 0x01, 0x80][..],
            &[0xdd, 0, 0, 0, 2][..],
            &[][..],
            &[0x1f][..],
        ] {
            assert_eq!(Compression::sniff(plain), Compression::None);
        }
    }

    #[test]
    fn inflates_concatenated_members_and_frames_up_to_the_cap() {
        let zst = [
            zstd::encode_all(&b"ab"[..], 3).expect("zstd"),
            zstd::encode_all(&b"cd"[..], 3).expect("zstd"),
        ]
        .concat();
        assert_eq!(
            inflate(Compression::Zstd, &zst, 4).expect("inflates"),
            b"abcd"
        );
        assert!(matches!(
            inflate(Compression::Zstd, &zst, 3),
            Err(MessageError::DecompressedTooLarge { limit: 3 })
        ));
        assert!(matches!(
            inflate(Compression::Zstd, b"not zstd", 100),
            Err(MessageError::Decompress { codec: "zstd", .. })
        ));
        assert_eq!(
            inflate(Compression::None, b"raw", 3).expect("as is"),
            b"raw"
        );
    }
}
