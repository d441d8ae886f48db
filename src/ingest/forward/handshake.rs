//! The secure-forward handshake of the Forward protocol v1 (`shared_key`, optional
//! username/password), as pure functions the connection task drives:
//!
//! ```text
//! server ── HELO ["HELO", {"nonce": bin, "auth": bin salt | "", "keepalive": true}] ──► client
//! server ◄── PING ["PING", client_hostname, shared_key_salt,
//!                  hex(sha512(shared_key_salt + client_hostname + nonce + shared_key)),
//!                  username, hex(sha512(auth_salt + username + password))] ── client
//! server ── PONG ["PONG", true, "", self_hostname,
//!                 hex(sha512(shared_key_salt + self_hostname + nonce + shared_key))] ──► client
//!            or  ["PONG", false, reason, "", ""] and the connection is closed
//! ```
//!
//! Wire details follow the real implementations so that Fluent Bit's and Fluentd's
//! `out_forward` both connect:
//! - HELO is Fluentd's: `nonce` is a 16-byte `bin`; `auth` is the 16-byte user-auth salt as `bin`
//!   when users are configured and the empty string otherwise (a client then sends empty
//!   credentials); `keepalive` is `true`. (Fluent Bit's own `in_forward` sends both as `str` and
//!   omits `keepalive`; clients read either type.)
//! - PING fields are accepted as `str` or `bin`: Fluent Bit sends its 16 random salt bytes as a
//!   `str`, Fluentd as a `bin`. The salt is used with whatever length it has.
//! - Digests are lowercase hex and compared exactly (in constant time).
//! - The shared key is checked before the user; an unknown user and a wrong password both answer
//!   `username/password mismatch`, so a client cannot probe for user names. The reasons are
//!   Fluentd's texts.
//! - A PING whose hostname equals our `self_hostname` is accepted. Neither Fluent Bit's nor
//!   Fluentd's `in_forward` rejects it (Fluentd's *client* refuses a PONG carrying its own name),
//!   and Fluent Bit's input and output both default `self_hostname` to `localhost`, so rejecting
//!   it would break every default Fluent Bit → vivo-exporter secure setup.

use std::sync::atomic::{AtomicU64, Ordering};

use sha2::{Digest, Sha512};

use crate::render::msgpack::{next_head, Head};
use crate::render::RenderError;

/// Bytes of the nonce and of the user-auth salt, as every implementation uses.
const RANDOM_LEN: usize = 16;

/// The handshake settings of one `forward` input (`shared_key`, `self_hostname`,
/// `security.users`), shared by its connections.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HandshakeConfig {
    /// The key both sides must know (may be empty with `empty_shared_key on`).
    pub shared_key: String,
    /// The name we announce in PONG and that clients hash.
    pub self_hostname: String,
    /// `(username, password)` pairs; empty means no user authentication.
    pub users: Vec<(String, String)>,
}

/// One connection's handshake state: the random nonce and user-auth salt sent in its HELO, which
/// the PING must be computed from.
#[derive(Debug)]
pub struct Handshake {
    config: HandshakeConfig,
    nonce: [u8; RANDOM_LEN],
    /// Present only when users are configured.
    auth_salt: Option<[u8; RANDOM_LEN]>,
}

/// What a valid PING told us, kept for the PONG and for logging.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PingOk {
    /// The client's `self_hostname` (lossily decoded), for logs.
    pub client_hostname: String,
    /// The authenticated user, when users are configured.
    pub username: Option<String>,
    /// The client's salt, which the PONG digest is computed from.
    shared_key_salt: Vec<u8>,
}

/// Why a PING was refused; the connection is closed after the failure PONG.
#[derive(Debug, thiserror::Error)]
pub enum HandshakeError {
    /// The bytes are not (complete, valid) msgpack.
    #[error("malformed handshake message: {0}")]
    Msgpack(#[from] RenderError),
    /// A msgpack object that is not a PING, e.g. a client that skipped the handshake and sent a
    /// Forward message straight away.
    #[error("expected a PING message, got {0}")]
    NotPing(&'static str),
    /// A PING with the wrong number or types of fields.
    #[error("malformed PING: {0}")]
    Shape(&'static str),
    /// The shared-key digest does not match: the client uses another key (or another nonce).
    #[error("shared key mismatch (client hostname {hostname:?})")]
    SharedKeyMismatch {
        /// The hostname the client sent.
        hostname: String,
    },
    /// User authentication is on and no user has this name.
    #[error("unknown user {username:?}")]
    UnknownUser {
        /// The username the client sent.
        username: String,
    },
    /// The user exists but the password digest does not match.
    #[error("wrong password for user {username:?}")]
    WrongPassword {
        /// The username the client sent.
        username: String,
    },
}

impl HandshakeError {
    /// The reason sent to the client in the failure PONG (Fluentd's wording).
    pub fn reason(&self) -> &'static str {
        match self {
            HandshakeError::Msgpack(_) | HandshakeError::NotPing(_) | HandshakeError::Shape(_) => {
                "invalid ping message"
            }
            HandshakeError::SharedKeyMismatch { .. } => "shared_key mismatch",
            HandshakeError::UnknownUser { .. } | HandshakeError::WrongPassword { .. } => {
                "username/password mismatch"
            }
        }
    }
}

impl Handshake {
    /// Starts a connection's handshake with a fresh random nonce (and user-auth salt when users
    /// are configured).
    pub fn new(config: &HandshakeConfig) -> Self {
        Handshake {
            config: config.clone(),
            nonce: random_bytes(),
            auth_salt: (!config.users.is_empty()).then(random_bytes),
        }
    }

    /// The HELO to send as soon as the connection is accepted.
    pub fn helo(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(64);
        out.push(0x92);
        push_str(&mut out, b"HELO");
        out.push(0x83);
        push_str(&mut out, b"nonce");
        push_bin(&mut out, &self.nonce);
        push_str(&mut out, b"auth");
        match &self.auth_salt {
            Some(salt) => push_bin(&mut out, salt),
            None => push_str(&mut out, b""),
        }
        push_str(&mut out, b"keepalive");
        out.push(0xc3);
        out
    }

    /// Verifies the client's PING frame (exactly one msgpack object): shape, shared-key digest,
    /// then, when users are configured, username and password digest.
    pub fn check_ping(&self, frame: &[u8]) -> Result<PingOk, HandshakeError> {
        let mut cur = frame;
        let elements = match next_head(&mut cur)? {
            Head::Array(0) => return Err(HandshakeError::NotPing("an empty array")),
            Head::Array(n) => n,
            _ => return Err(HandshakeError::NotPing("not an array")),
        };
        if next_head(&mut cur)? != Head::Str(b"PING") {
            return Err(HandshakeError::NotPing(
                "an array that does not start with \"PING\"",
            ));
        }
        if elements != 6 {
            return Err(HandshakeError::Shape(
                "a PING has 6 elements: PING, hostname, salt, digest, username, password digest",
            ));
        }
        let hostname = bytes_field(&mut cur, "the hostname must be a string")?;
        let salt = bytes_field(&mut cur, "the shared key salt must be a string")?;
        let digest = bytes_field(&mut cur, "the shared key digest must be a string")?;
        let username = bytes_field(&mut cur, "the username must be a string")?;
        let password_digest = bytes_field(&mut cur, "the password digest must be a string")?;
        if !cur.is_empty() {
            return Err(HandshakeError::Shape("unexpected bytes after the PING"));
        }
        let client_hostname = String::from_utf8_lossy(hostname).into_owned();
        let expected = hex_sha512(&[
            salt,
            hostname,
            &self.nonce,
            self.config.shared_key.as_bytes(),
        ]);
        if !constant_time_eq(&expected, digest) {
            return Err(HandshakeError::SharedKeyMismatch {
                hostname: client_hostname,
            });
        }
        let username = match &self.auth_salt {
            None => None,
            Some(auth_salt) => {
                let name = String::from_utf8_lossy(username).into_owned();
                let mut known = false;
                let mut matched = false;
                for (user, password) in &self.config.users {
                    if user.as_bytes() == username {
                        known = true;
                        let expected =
                            hex_sha512(&[auth_salt, user.as_bytes(), password.as_bytes()]);
                        matched |= constant_time_eq(&expected, password_digest);
                    }
                }
                if !known {
                    return Err(HandshakeError::UnknownUser { username: name });
                }
                if !matched {
                    return Err(HandshakeError::WrongPassword { username: name });
                }
                Some(name)
            }
        };
        Ok(PingOk {
            client_hostname,
            username,
            shared_key_salt: salt.to_vec(),
        })
    }

    /// The PONG answering a checked PING: success with our hostname and digest, or failure with
    /// the reason and empty hostname and digest (as Fluentd and Fluent Bit send it).
    pub fn pong(&self, ok: &Result<PingOk, HandshakeError>) -> Vec<u8> {
        let mut out = Vec::with_capacity(160 + self.config.self_hostname.len());
        out.push(0x95);
        push_str(&mut out, b"PONG");
        match ok {
            Ok(ping) => {
                let hostname = self.config.self_hostname.as_bytes();
                let digest = hex_sha512(&[
                    &ping.shared_key_salt,
                    hostname,
                    &self.nonce,
                    self.config.shared_key.as_bytes(),
                ]);
                out.push(0xc3);
                push_str(&mut out, b"");
                push_str(&mut out, hostname);
                push_str(&mut out, &digest);
            }
            Err(err) => {
                out.push(0xc2);
                push_str(&mut out, err.reason().as_bytes());
                push_str(&mut out, b"");
                push_str(&mut out, b"");
            }
        }
        out
    }
}

/// The next field of a PING: a `str` or `bin` payload.
fn bytes_field<'a>(cur: &mut &'a [u8], what: &'static str) -> Result<&'a [u8], HandshakeError> {
    match next_head(cur)? {
        Head::Str(bytes) | Head::Bin(bytes) => Ok(bytes),
        _ => Err(HandshakeError::Shape(what)),
    }
}

/// Lowercase hex of the SHA-512 of the concatenated parts: the digest format of the protocol.
fn hex_sha512(parts: &[&[u8]]) -> Vec<u8> {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let mut hasher = Sha512::new();
    for part in parts {
        hasher.update(part);
    }
    hasher
        .finalize()
        .iter()
        .flat_map(|b| [HEX[usize::from(b >> 4)], HEX[usize::from(b & 0x0f)]])
        .collect()
}

/// Compares digests without an early exit, so response timing does not reveal how many leading
/// characters of a guess were right.
fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// Appends a msgpack `str` header and payload (any bytes; lengths here are far below 2³²).
fn push_str(out: &mut Vec<u8>, s: &[u8]) {
    // Writing to a Vec cannot fail; the results only carry the Vec's infallible error type.
    let _ = rmp::encode::write_str_len(out, s.len() as u32);
    out.extend_from_slice(s);
}

/// Appends a msgpack `bin` header and payload.
fn push_bin(out: &mut Vec<u8>, b: &[u8]) {
    let _ = rmp::encode::write_bin_len(out, b.len() as u32);
    out.extend_from_slice(b);
}

/// 16 bytes from the operating system's secure random source.
///
/// If the source fails (no `getrandom` syscall, no `/dev/urandom` in a stripped container), the
/// handshake must still not panic or stall: the bytes are then the SHA-512 of the clock, a
/// process-wide counter, the process ID and a stack address. They stay unique per connection,
/// which is what a nonce needs against replay, but are guessable, which weakens the user-auth
/// salt; a warning says so.
fn random_bytes() -> [u8; RANDOM_LEN] {
    let mut buf = [0u8; RANDOM_LEN];
    if let Err(err) = getrandom::fill(&mut buf) {
        log::warn!("secure random source unavailable ({err}); handshake nonce derived from time");
        buf = fallback_bytes();
    }
    buf
}

/// The non-panicking fallback of [`random_bytes`].
fn fallback_bytes() -> [u8; RANDOM_LEN] {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos());
    let local = 0u8;
    let mut hasher = Sha512::new();
    hasher.update(nanos.to_le_bytes());
    hasher.update(COUNTER.fetch_add(1, Ordering::Relaxed).to_le_bytes());
    hasher.update(std::process::id().to_le_bytes());
    hasher.update((std::ptr::addr_of!(local) as usize).to_le_bytes());
    let digest = hasher.finalize();
    let mut buf = [0u8; RANDOM_LEN];
    buf.copy_from_slice(&digest[..RANDOM_LEN]);
    buf
}

#[cfg(test)]
mod tests {
    use super::*;
    use rmp::decode::{read_array_len, read_bin_len, read_bool, read_map_len, read_str_len};
    use rmp::Marker;

    const KEY: &str = "secret key";

    fn config(users: &[(&str, &str)]) -> HandshakeConfig {
        HandshakeConfig {
            shared_key: KEY.to_string(),
            self_hostname: "vivo-host".to_string(),
            users: users
                .iter()
                .map(|(u, p)| (u.to_string(), p.to_string()))
                .collect(),
        }
    }

    // ---- A client written from the protocol text, sharing no code with the server side. ----

    /// `sha512(parts…)` as lowercase hex, the client's own way.
    fn client_hex_digest(parts: &[&[u8]]) -> String {
        let mut h = Sha512::new();
        for p in parts {
            h.update(p);
        }
        h.finalize().iter().map(|b| format!("{b:02x}")).collect()
    }

    /// A `str` or `bin` value, read with rmp's decoder.
    fn read_raw(input: &mut &[u8]) -> Vec<u8> {
        let marker = Marker::from_u8(input[0]);
        let len = match marker {
            Marker::FixStr(_) | Marker::Str8 | Marker::Str16 | Marker::Str32 => {
                read_str_len(input).expect("str") as usize
            }
            Marker::Bin8 | Marker::Bin16 | Marker::Bin32 => {
                read_bin_len(input).expect("bin") as usize
            }
            other => panic!("expected str or bin, got {other:?}"),
        };
        let (value, rest) = input.split_at(len);
        *input = rest;
        value.to_vec()
    }

    /// What a client learns from HELO: (nonce, auth salt, keepalive), checking the exact types.
    struct Helo {
        nonce: Vec<u8>,
        auth: Vec<u8>,
        auth_is_bin: bool,
        keepalive: bool,
    }

    fn read_helo(bytes: &[u8]) -> Helo {
        let mut cur = bytes;
        assert_eq!(read_array_len(&mut cur).expect("array"), 2);
        assert_eq!(read_raw(&mut cur), b"HELO");
        assert_eq!(read_map_len(&mut cur).expect("map"), 3);
        let mut helo = Helo {
            nonce: Vec::new(),
            auth: Vec::new(),
            auth_is_bin: false,
            keepalive: false,
        };
        for _ in 0..3 {
            match read_raw(&mut cur).as_slice() {
                b"nonce" => {
                    assert!(matches!(Marker::from_u8(cur[0]), Marker::Bin8));
                    helo.nonce = read_raw(&mut cur);
                }
                b"auth" => {
                    helo.auth_is_bin = matches!(Marker::from_u8(cur[0]), Marker::Bin8);
                    helo.auth = read_raw(&mut cur);
                }
                b"keepalive" => helo.keepalive = read_bool(&mut cur).expect("bool"),
                other => panic!("unexpected HELO key {other:?}"),
            }
        }
        assert!(cur.is_empty(), "nothing after HELO");
        helo
    }

    /// Appends a msgpack `str` (possibly non-UTF-8 bytes, as Fluent Bit sends its salt).
    fn str_of(out: &mut Vec<u8>, bytes: &[u8]) {
        rmp::encode::write_str_len(out, bytes.len() as u32).expect("write");
        out.extend_from_slice(bytes);
    }

    /// The PING as Fluent Bit's `out_forward` builds it (`secure_forward_ping`): six `str`s, the
    /// salt being 16 raw random bytes, the user fields empty when HELO's `auth` is empty.
    fn fluent_bit_ping(
        helo: &Helo,
        hostname: &str,
        salt: &[u8],
        key: &str,
        user: Option<(&str, &str)>,
    ) -> Vec<u8> {
        let digest = client_hex_digest(&[salt, hostname.as_bytes(), &helo.nonce, key.as_bytes()]);
        let mut out = Vec::new();
        rmp::encode::write_array_len(&mut out, 6).expect("write");
        str_of(&mut out, b"PING");
        str_of(&mut out, hostname.as_bytes());
        str_of(&mut out, salt);
        str_of(&mut out, digest.as_bytes());
        match user {
            Some((name, password)) if !helo.auth.is_empty() => {
                let pw = client_hex_digest(&[&helo.auth, name.as_bytes(), password.as_bytes()]);
                str_of(&mut out, name.as_bytes());
                str_of(&mut out, pw.as_bytes());
            }
            _ => {
                str_of(&mut out, b"");
                str_of(&mut out, b"");
            }
        }
        out
    }

    /// The PING as Fluentd's `out_forward` builds it: the salt is a `bin`.
    fn fluentd_ping(helo: &Helo, hostname: &str, salt: &[u8], key: &str) -> Vec<u8> {
        let digest = client_hex_digest(&[salt, hostname.as_bytes(), &helo.nonce, key.as_bytes()]);
        let mut out = Vec::new();
        rmp::encode::write_array_len(&mut out, 6).expect("write");
        rmp::encode::write_str(&mut out, "PING").expect("write");
        rmp::encode::write_str(&mut out, hostname).expect("write");
        rmp::encode::write_bin(&mut out, salt).expect("write");
        rmp::encode::write_str(&mut out, &digest).expect("write");
        rmp::encode::write_str(&mut out, "").expect("write");
        rmp::encode::write_str(&mut out, "").expect("write");
        out
    }

    /// Decodes a PONG: (auth result, reason, hostname, digest).
    fn read_pong(bytes: &[u8]) -> (bool, String, String, String) {
        let mut cur = bytes;
        assert_eq!(read_array_len(&mut cur).expect("array"), 5);
        assert_eq!(read_raw(&mut cur), b"PONG");
        let ok = read_bool(&mut cur).expect("bool");
        let text = |cur: &mut &[u8]| String::from_utf8(read_raw(cur)).expect("UTF-8");
        let reason = text(&mut cur);
        let hostname = text(&mut cur);
        let digest = text(&mut cur);
        assert!(cur.is_empty(), "nothing after PONG");
        (ok, reason, hostname, digest)
    }

    /// The client's check of a successful PONG (Fluentd's `check_pong`).
    fn assert_pong_verifies(pong: &[u8], helo: &Helo, salt: &[u8], key: &str) {
        let (ok, reason, hostname, digest) = read_pong(pong);
        assert!(ok, "auth result");
        assert_eq!(reason, "");
        assert_eq!(hostname, "vivo-host");
        let expected = client_hex_digest(&[salt, hostname.as_bytes(), &helo.nonce, key.as_bytes()]);
        assert_eq!(digest, expected, "server digest verifies");
    }

    // ---- Tests. ----

    /// Fluent Bit sends 16 random bytes as a `str`; these are not UTF-8.
    const SALT: [u8; 16] = [
        0xff, 0x00, 0x80, 0xc1, 0x10, 0x20, 0x30, 0x40, 0x50, 0x60, 0x70, 0x7f, 0xfe, 0x01, 0x02,
        0x03,
    ];

    #[test]
    fn helo_carries_a_fresh_nonce_and_empty_auth_without_users() {
        let hs = Handshake::new(&config(&[]));
        let helo = read_helo(&hs.helo());
        assert_eq!(helo.nonce.len(), 16);
        assert!(helo.auth.is_empty());
        assert!(!helo.auth_is_bin, "empty auth is the empty string");
        assert!(helo.keepalive);
        let other = read_helo(&Handshake::new(&config(&[])).helo());
        assert_ne!(helo.nonce, other.nonce, "each connection has its own nonce");
    }

    #[test]
    fn helo_carries_an_auth_salt_with_users() {
        let hs = Handshake::new(&config(&[("alice", "pw")]));
        let helo = read_helo(&hs.helo());
        assert_eq!(helo.auth.len(), 16);
        assert!(helo.auth_is_bin);
        assert_ne!(helo.auth, helo.nonce);
    }

    #[test]
    fn fluent_bit_client_succeeds_and_verifies_the_pong() {
        let hs = Handshake::new(&config(&[]));
        let helo = read_helo(&hs.helo());
        // Fluent Bit sends empty-looking credentials' digests too; without users they are ignored.
        let ping = fluent_bit_ping(&helo, "fb-client", &SALT, KEY, Some(("x", "y")));
        let checked = hs.check_ping(&ping);
        let ok = checked.as_ref().expect("PING accepted");
        assert_eq!(ok.client_hostname, "fb-client");
        assert_eq!(ok.username, None);
        assert_pong_verifies(&hs.pong(&checked), &helo, &SALT, KEY);
    }

    #[test]
    fn fluentd_client_with_a_bin_salt_succeeds() {
        let hs = Handshake::new(&config(&[]));
        let helo = read_helo(&hs.helo());
        let salt = b"0123456789abcdef0123456789abcdef";
        let checked = hs.check_ping(&fluentd_ping(&helo, "fluentd", salt, KEY));
        assert!(checked.is_ok(), "{checked:?}");
        assert_pong_verifies(&hs.pong(&checked), &helo, salt, KEY);
    }

    #[test]
    fn hostname_equal_to_ours_is_accepted_as_fluent_bit_does() {
        let hs = Handshake::new(&config(&[]));
        let helo = read_helo(&hs.helo());
        let checked = hs.check_ping(&fluent_bit_ping(&helo, "vivo-host", &SALT, KEY, None));
        assert!(checked.is_ok(), "{checked:?}");
    }

    #[test]
    fn empty_shared_key_works() {
        let cfg = HandshakeConfig {
            shared_key: String::new(),
            ..config(&[])
        };
        let hs = Handshake::new(&cfg);
        let helo = read_helo(&hs.helo());
        let checked = hs.check_ping(&fluent_bit_ping(&helo, "c", &SALT, "", None));
        assert!(checked.is_ok(), "{checked:?}");
        assert_pong_verifies(&hs.pong(&checked), &helo, &SALT, "");
    }

    fn assert_failure_pong(hs: &Handshake, checked: &Result<PingOk, HandshakeError>, reason: &str) {
        assert_eq!(
            read_pong(&hs.pong(checked)),
            (false, reason.to_string(), String::new(), String::new())
        );
    }

    #[test]
    fn wrong_key_is_a_shared_key_mismatch() {
        let hs = Handshake::new(&config(&[]));
        let helo = read_helo(&hs.helo());
        let checked = hs.check_ping(&fluent_bit_ping(&helo, "c", &SALT, "other key", None));
        assert!(
            matches!(&checked, Err(HandshakeError::SharedKeyMismatch { hostname }) if hostname == "c"),
            "{checked:?}"
        );
        assert_failure_pong(&hs, &checked, "shared_key mismatch");
        // A PING computed for another connection's nonce fails too (no replay).
        let other = Handshake::new(&config(&[]));
        let checked = other.check_ping(&fluent_bit_ping(&helo, "c", &SALT, KEY, None));
        assert!(matches!(
            checked,
            Err(HandshakeError::SharedKeyMismatch { .. })
        ));
        // The digest must be exactly the lowercase hex.
        let mut ping = fluent_bit_ping(&helo, "c", &SALT, KEY, None);
        let digest_at = ping.len() - 2 - 128;
        ping[digest_at..digest_at + 128].make_ascii_uppercase();
        assert!(matches!(
            hs.check_ping(&ping),
            Err(HandshakeError::SharedKeyMismatch { .. })
        ));
    }

    #[test]
    fn users_right_password_wrong_password_unknown_user() {
        let users = [("alice", "wonderland"), ("bob", "builder")];
        let hs = Handshake::new(&config(&users));
        let helo = read_helo(&hs.helo());
        let ping = |user, key| fluent_bit_ping(&helo, "c", &SALT, key, Some(user));

        let checked = hs.check_ping(&ping(("bob", "builder"), KEY));
        assert_eq!(
            checked.as_ref().expect("bob accepted").username.as_deref(),
            Some("bob")
        );
        assert_pong_verifies(&hs.pong(&checked), &helo, &SALT, KEY);

        let checked = hs.check_ping(&ping(("alice", "builder"), KEY));
        assert!(
            matches!(&checked, Err(HandshakeError::WrongPassword { username }) if username == "alice"),
            "{checked:?}"
        );
        assert_failure_pong(&hs, &checked, "username/password mismatch");

        let checked = hs.check_ping(&ping(("carol", "wonderland"), KEY));
        assert!(
            matches!(&checked, Err(HandshakeError::UnknownUser { username }) if username == "carol"),
            "{checked:?}"
        );
        assert_failure_pong(&hs, &checked, "username/password mismatch");

        // No credentials at all when users are required.
        let checked = hs.check_ping(&fluent_bit_ping(&helo, "c", &SALT, KEY, None));
        assert!(matches!(checked, Err(HandshakeError::UnknownUser { .. })));

        // The shared key is checked first.
        let checked = hs.check_ping(&ping(("alice", "wonderland"), "bad"));
        assert!(matches!(
            checked,
            Err(HandshakeError::SharedKeyMismatch { .. })
        ));
    }

    #[test]
    fn garbage_is_malformed_or_not_a_ping() {
        let hs = Handshake::new(&config(&[]));
        for garbage in [&[][..], &[0xc1], &[0x96, 0xa4, b'P', b'I'], &[0xdd, 0xff]] {
            let checked = hs.check_ping(garbage);
            assert!(
                matches!(checked, Err(HandshakeError::Msgpack(_))),
                "{garbage:02x?}: {checked:?}"
            );
            assert_failure_pong(&hs, &checked, "invalid ping message");
        }
        // A client that skipped the handshake: `["app", [[1, {}]]]`.
        let forward = [0x92, 0xa3, b'a', b'p', b'p', 0x91, 0x92, 0x01, 0x80];
        for not_ping in [
            &forward[..],
            &[0x80],
            &[0x90],
            &[0xa4, b'P', b'I', b'N', b'G'],
        ] {
            let checked = hs.check_ping(not_ping);
            assert!(
                matches!(checked, Err(HandshakeError::NotPing(_))),
                "{not_ping:02x?}: {checked:?}"
            );
        }
    }

    #[test]
    fn wrong_arity_and_field_types_are_shape_errors() {
        let hs = Handshake::new(&config(&[]));
        let helo = read_helo(&hs.helo());
        let good = fluent_bit_ping(&helo, "c", &SALT, KEY, None);
        // Four elements (Fluentd's v0 PING had no user fields at all).
        let mut short = good.clone();
        short[0] = 0x94;
        short.truncate(short.len() - 2);
        assert!(matches!(
            hs.check_ping(&short),
            Err(HandshakeError::Shape(_))
        ));
        // Seven elements.
        let mut long = good.clone();
        long[0] = 0x97;
        long.push(0xa0);
        assert!(matches!(
            hs.check_ping(&long),
            Err(HandshakeError::Shape(_))
        ));
        // A hostname that is an integer.
        let mut bad = vec![0x96, 0xa4, b'P', b'I', b'N', b'G', 0x01];
        bad.extend_from_slice(&good[7..]);
        assert!(matches!(hs.check_ping(&bad), Err(HandshakeError::Shape(_))));
        // Trailing bytes.
        let mut trailing = good.clone();
        trailing.push(0xc0);
        assert!(matches!(
            hs.check_ping(&trailing),
            Err(HandshakeError::Shape(_))
        ));
        assert!(hs.check_ping(&good).is_ok());
    }

    #[test]
    fn fallback_randomness_differs_per_call() {
        assert_ne!(fallback_bytes(), fallback_bytes());
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(500))]

        /// No input makes the handshake panic, and only a correct PING passes.
        #[test]
        fn arbitrary_bytes_never_panic(tail in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..300)) {
            let hs = Handshake::new(&config(&[("u", "p")]));
            for prefix in [&[][..], &[0x96, 0xa4, b'P', b'I', b'N', b'G'][..]] {
                let frame = [prefix, &tail].concat();
                let checked = hs.check_ping(&frame);
                proptest::prop_assert!(checked.is_err());
                let (ok, ..) = read_pong(&hs.pong(&checked));
                proptest::prop_assert!(!ok);
            }
        }
    }
}
