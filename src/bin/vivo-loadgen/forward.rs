//! The Fluent Forward protocol: PackedForward messages (optionally CompressedPackedForward) with
//! optional `chunk` acknowledgements, as Fluent Bit's `out_forward` sends them.
//!
//! A message is `[tag, bin(payload), options]`, the payload being `events_per_frame` concatenated
//! `[EventTime, record]` entries of about `record_bytes` bytes each, and the options
//! `{"size": N}` plus `"compressed": "gzip"` and `"chunk": "<token>"` when asked for. The server
//! answers a message that carries a chunk with `{"ack": "<token>"}` once it is stored.
//!
//! Payloads are encoded (and compressed) once at start, in a few variants with different
//! records and timestamps, so the generator spends its time writing, not encoding.

use crate::protocol::{Ack, Message, Protocol};
use bytes::Bytes;
use flate2::write::GzEncoder;
use flate2::Compression;
use std::io::Write;
use std::time::{SystemTime, UNIX_EPOCH};

/// How many different payloads are cycled through.
const VARIANTS: u64 = 8;

/// Text the `msg` field of a record is cut from, repeated as needed.
const FILLER: &str = "GET /api/v1/items?page=42 200 OK in 3.1 ms from 10.0.0.7 \
                      user-agent=curl/8.5.0 trace=ab12cd34ef56 span=0011223344556677 ";

/// What a Forward message looks like.
#[derive(Clone, Debug)]
pub struct ForwardSettings {
    /// The message tag.
    pub tag: String,
    /// Records per message.
    pub events_per_frame: u32,
    /// Approximate msgpack size of one `[time, record]` entry.
    pub record_bytes: usize,
    /// Send CompressedPackedForward (gzip payloads).
    pub gzip: bool,
    /// Ask for an acknowledgement of every message (`chunk` option).
    pub ack: bool,
}

/// The Forward protocol with pre-encoded messages.
pub struct Forward {
    settings: ForwardSettings,
    /// Per variant: the whole message (no acks), or everything but the options map (acks).
    bodies: Vec<Bytes>,
    /// Makes chunk tokens unique to this run.
    run_id: String,
}

impl Forward {
    /// Encodes the payload variants for `settings`.
    pub fn new(settings: ForwardSettings) -> Forward {
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap_or_default();
        let bodies = (0..VARIANTS)
            .map(|variant| {
                let payload = payload(&settings, variant, now.as_secs());
                let mut message = Vec::with_capacity(payload.len() + settings.tag.len() + 64);
                write(rmp::encode::write_array_len(&mut message, 3));
                write(rmp::encode::write_str(&mut message, &settings.tag));
                write(rmp::encode::write_bin(&mut message, &payload));
                if !settings.ack {
                    write_options(&mut message, &settings, None);
                }
                Bytes::from(message)
            })
            .collect();
        Forward {
            run_id: format!("{:x}-{:x}", std::process::id(), now.as_nanos()),
            settings,
            bodies,
        }
    }
}

impl Protocol for Forward {
    fn name(&self) -> &'static str {
        if self.settings.gzip {
            "forward (CompressedPackedForward)"
        } else {
            "forward (PackedForward)"
        }
    }

    fn events_per_message(&self) -> u64 {
        u64::from(self.settings.events_per_frame)
    }

    fn message(&self, seq: u64) -> Message {
        let body = self.bodies[(seq % VARIANTS) as usize].clone();
        if !self.settings.ack {
            return Message {
                parts: vec![body],
                ack_token: None,
            };
        }
        let token = format!("{}-{seq}", self.run_id);
        let mut options = Vec::with_capacity(64 + token.len());
        write_options(&mut options, &self.settings, Some(&token));
        Message {
            parts: vec![body, Bytes::from(options)],
            ack_token: Some(token.into_bytes()),
        }
    }

    fn parse_ack(&self, received: &[u8]) -> Result<Option<Ack>, String> {
        let mut reader = Reader { rest: received };
        let Some(pairs) = reader.map_len()? else {
            return Ok(None);
        };
        let mut token = None;
        for _ in 0..pairs {
            let Some(key) = reader.str_or_bin()? else {
                return Ok(None);
            };
            let Some(value) = reader.str_or_bin()? else {
                return Ok(None);
            };
            if key == b"ack" && token.is_none() {
                token = Some(value.to_vec());
            }
        }
        let token = token.ok_or("acknowledgement map without an \"ack\" key")?;
        Ok(Some(Ack {
            consumed: received.len() - reader.rest.len(),
            token,
        }))
    }
}

/// Encoding into a `Vec` cannot fail.
fn write<T, E: std::fmt::Debug>(result: Result<T, E>) {
    result.expect("writing msgpack into a Vec");
}

/// `{"size": N, "compressed": "gzip"?, "chunk": token?}`
fn write_options(out: &mut Vec<u8>, settings: &ForwardSettings, chunk: Option<&str>) {
    let len = 1 + u32::from(settings.gzip) + u32::from(chunk.is_some());
    write(rmp::encode::write_map_len(out, len));
    write(rmp::encode::write_str(out, "size"));
    write(rmp::encode::write_uint(
        out,
        u64::from(settings.events_per_frame),
    ));
    if settings.gzip {
        write(rmp::encode::write_str(out, "compressed"));
        write(rmp::encode::write_str(out, "gzip"));
    }
    if let Some(chunk) = chunk {
        write(rmp::encode::write_str(out, "chunk"));
        write(rmp::encode::write_str(out, chunk));
    }
}

/// The concatenated entries of payload `variant`, gzip-compressed when asked for.
fn payload(settings: &ForwardSettings, variant: u64, epoch_seconds: u64) -> Vec<u8> {
    let events = u64::from(settings.events_per_frame);
    let mut out = Vec::with_capacity(settings.record_bytes * events as usize);
    for n in 0..events {
        let seq = variant * events + n;
        let start = out.len();
        write(rmp::encode::write_array_len(&mut out, 2));
        // EventTime: ext type 0, big-endian seconds and nanoseconds.
        write(rmp::encode::write_ext_meta(&mut out, 8, 0));
        out.extend_from_slice(&((epoch_seconds + seq / 1000) as u32).to_be_bytes());
        out.extend_from_slice(&((seq % 1000) as u32 * 1_000_000).to_be_bytes());
        write(rmp::encode::write_map_len(&mut out, 4));
        write(rmp::encode::write_str(&mut out, "level"));
        write(rmp::encode::write_str(&mut out, "info"));
        write(rmp::encode::write_str(&mut out, "logger"));
        write(rmp::encode::write_str(&mut out, "vivo-loadgen"));
        write(rmp::encode::write_str(&mut out, "seq"));
        write(rmp::encode::write_uint(&mut out, seq));
        write(rmp::encode::write_str(&mut out, "msg"));
        let room = settings.record_bytes.saturating_sub(out.len() - start);
        write(rmp::encode::write_str(&mut out, &filler(room)));
    }
    if !settings.gzip {
        return out;
    }
    let mut encoder = GzEncoder::new(Vec::new(), Compression::default());
    encoder
        .write_all(&out)
        .and_then(|()| encoder.finish())
        .expect("gzip into a Vec")
}

/// A string whose msgpack encoding (header included) takes about `room` bytes.
fn filler(room: usize) -> String {
    let header = match room {
        0..=32 => 1,
        33..=257 => 2,
        258..=65_538 => 3,
        _ => 5,
    };
    FILLER
        .chars()
        .cycle()
        .take(room.saturating_sub(header))
        .collect()
}

/// Just enough msgpack reading for an acknowledgement map of strings.
struct Reader<'a> {
    rest: &'a [u8],
}

impl<'a> Reader<'a> {
    /// Takes `n` bytes, or `None` if they have not all arrived.
    fn take(&mut self, n: usize) -> Option<&'a [u8]> {
        if self.rest.len() < n {
            return None;
        }
        let (taken, rest) = self.rest.split_at(n);
        self.rest = rest;
        Some(taken)
    }

    /// A big-endian length of `width` bytes.
    fn length(&mut self, width: usize) -> Option<usize> {
        let bytes = self.take(width)?;
        Some(bytes.iter().fold(0, |n, &b| (n << 8) | usize::from(b)))
    }

    fn map_len(&mut self) -> Result<Option<usize>, String> {
        use rmp::Marker;
        let Some(&[byte]) = self.take(1) else {
            return Ok(None);
        };
        Ok(match Marker::from_u8(byte) {
            Marker::FixMap(n) => Some(usize::from(n)),
            Marker::Map16 => self.length(2),
            Marker::Map32 => self.length(4),
            other => return Err(format!("expected an acknowledgement map, got {other:?}")),
        })
    }

    fn str_or_bin(&mut self) -> Result<Option<&'a [u8]>, String> {
        use rmp::Marker;
        let Some(&[byte]) = self.take(1) else {
            return Ok(None);
        };
        let len = match Marker::from_u8(byte) {
            Marker::FixStr(n) => Some(usize::from(n)),
            Marker::Str8 | Marker::Bin8 => self.length(1),
            Marker::Str16 | Marker::Bin16 => self.length(2),
            Marker::Str32 | Marker::Bin32 => self.length(4),
            other => {
                return Err(format!(
                    "expected a string in the acknowledgement, got {other:?}"
                ))
            }
        };
        Ok(len.and_then(|len| self.take(len)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn forward(ack: bool, gzip: bool) -> Forward {
        Forward::new(ForwardSettings {
            tag: "t".into(),
            events_per_frame: 10,
            record_bytes: 100,
            gzip,
            ack,
        })
    }

    #[test]
    fn entries_have_the_requested_size() {
        let settings = forward(false, false).settings;
        let payload = payload(&settings, 0, 1_764_096_145);
        assert_eq!(payload.len(), 10 * 100);
    }

    #[test]
    fn ack_round_trip_in_pieces() {
        let forward = forward(true, true);
        let message = forward.message(7);
        let token = message.ack_token.expect("a token");
        let mut reply = Vec::new();
        write(rmp::encode::write_map_len(&mut reply, 1));
        write(rmp::encode::write_str(&mut reply, "ack"));
        write(rmp::encode::write_str(
            &mut reply,
            std::str::from_utf8(&token).unwrap(),
        ));
        for cut in 0..reply.len() {
            assert!(forward.parse_ack(&reply[..cut]).unwrap().is_none());
        }
        let ack = forward.parse_ack(&reply).unwrap().expect("complete");
        assert_eq!((ack.consumed, ack.token), (reply.len(), token));
        assert!(forward.parse_ack(&[0x90]).is_err());
    }
}
