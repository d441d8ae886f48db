//! Keys every listener shares: TLS (Fluent Bit's `tls`, `tls.*`), and on HTTP listeners the
//! connection limit, the timeouts and the bearer token. The read API of an output spells the
//! HTTP ones with an `http_` prefix (`http_max_connections`), as its other HTTP keys are;
//! the HTTP inputs without (`max_connections`).

use std::time::Duration;

use super::document::{Property, Section};
use super::error::ConfigError;
use super::values;
use crate::tls::{TlsError, TlsFiles, TlsKey, TlsServer, TlsVersion};

/// A secret from the configuration (a token): compared in constant time, never printed.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    /// Wraps `text`.
    pub fn new(text: String) -> Self {
        Secret(text)
    }

    /// Whether `offered` is the secret, in time that does not depend on where they differ.
    pub fn matches(&self, offered: &[u8]) -> bool {
        use subtle::ConstantTimeEq;
        // ct_eq on slices of different lengths is false at once; the length is not the secret.
        bool::from(self.0.as_bytes().ct_eq(offered))
    }
}

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Secret(<redacted>)")
    }
}

/// The limits, timeouts and access control of one HTTP listener.
#[derive(Debug, Clone, PartialEq)]
pub struct HttpListener {
    /// Connections open at once; more are closed as they arrive.
    pub max_connections: usize,
    /// How long an idle keep-alive connection is kept.
    pub idle_timeout: Duration,
    /// How long a client may take to send a request's head (slowloris).
    pub request_timeout: Duration,
    /// How long an answer may sit unacknowledged by a client that stopped reading.
    pub send_timeout: Duration,
    /// TLS, when `tls on`.
    pub tls: Option<TlsServer>,
    /// `http_auth_token`: requests must carry it as a bearer token.
    pub auth_token: Option<Secret>,
}

impl HttpListener {
    /// The defaults of a listener that takes at most `max_connections` connections.
    pub fn with_max_connections(max_connections: usize) -> Self {
        HttpListener {
            max_connections,
            idle_timeout: Duration::from_secs(75),
            request_timeout: Duration::from_secs(10),
            send_timeout: Duration::from_secs(60),
            tls: None,
            auth_token: None,
        }
    }
}

/// Collects the shared keys of one section; [`ListenerKeys::finish`] checks them together.
#[derive(Default)]
pub(crate) struct ListenerKeys {
    tls_on: Option<(Property, bool)>,
    crt_file: Option<Property>,
    key_file: Option<Property>,
    ca_file: Option<Property>,
    min_version: Option<(Property, TlsVersion)>,
    max_version: Option<(Property, TlsVersion)>,
}

impl ListenerKeys {
    /// Takes `property` if it is a TLS key; `Ok(false)` if it is not one.
    pub fn tls_key(&mut self, property: &Property) -> Result<bool, ConfigError> {
        let owned = || property.clone();
        match property.key.as_str() {
            "tls" => self.tls_on = Some((owned(), property.parse(values::boolean)?)),
            "tls.crt_file" => self.crt_file = Some(checked_path(property)?),
            "tls.key_file" => self.key_file = Some(checked_path(property)?),
            "tls.ca_file" => self.ca_file = Some(checked_path(property)?),
            "tls.min_version" => {
                self.min_version = Some((owned(), property.parse(TlsVersion::parse)?))
            }
            "tls.max_version" => {
                self.max_version = Some((owned(), property.parse(TlsVersion::parse)?))
            }
            "tls.verify" | "tls.debug" | "tls.vhost" | "tls.verify_hostname" => property
                .ignore("it concerns TLS clients; tls.ca_file asks clients for certificates"),
            "tls.key_passwd" => {
                return Err(property.error(
                    "encrypted private keys are not supported: decrypt the key \
                     (openssl pkey -in key.pem -out plain.pem) and drop tls.key_passwd",
                ))
            }
            "tls.ciphers" => {
                return Err(property
                    .error("cipher lists are not configurable: rustls offers only modern suites"))
            }
            _ => return Ok(false),
        }
        Ok(true)
    }

    /// Takes `property` if it is one of the HTTP listener keys (with `prefix`, `""` or
    /// `"http_"`), setting it on `listener`; `Ok(false)` if it is not one.
    pub fn http_key(
        &mut self,
        property: &Property,
        prefix: &str,
        listener: &mut HttpListener,
    ) -> Result<bool, ConfigError> {
        if self.tls_key(property)? {
            return Ok(true);
        }
        let Some(key) = property.key.strip_prefix(prefix) else {
            return Ok(false);
        };
        match key {
            "max_connections" => {
                listener.max_connections = property.parse(values::unsigned_in(1, 1_000_000))?
            }
            "idle_timeout" => listener.idle_timeout = property.parse(positive_seconds)?,
            "request_timeout" => listener.request_timeout = property.parse(positive_seconds)?,
            "send_timeout" => listener.send_timeout = property.parse(positive_seconds)?,
            // The same key on every HTTP listener, the output's included.
            _ if property.key == "http_auth_token" => {
                // Never echo the value: only say that it is empty.
                listener.auth_token = Some(Secret::new(property.parse(values::text)?))
            }
            _ => return Ok(false),
        }
        Ok(true)
    }

    /// The listener's TLS: `None` when `tls` is off (a warning if files were given anyway),
    /// else the loaded certificate, key and CAs. A file that cannot be used is an error at
    /// its key's line.
    pub fn finish(self, section: &Section) -> Result<Option<TlsServer>, ConfigError> {
        let on = self.tls_on.as_ref().is_some_and(|(_, on)| *on);
        if !on {
            if let Some(file) = self.crt_file.as_ref().or(self.key_file.as_ref()) {
                log::warn!(
                    "{} line {}: '{}' is set but tls is off: this listener is not encrypted",
                    file.file,
                    file.line,
                    file.key
                );
            }
            return Ok(None);
        }
        let at = |p: &Option<Property>| p.clone();
        let (Some(crt), Some(key)) = (at(&self.crt_file), at(&self.key_file)) else {
            let place = self.tls_on.as_ref().map(|(p, _)| p);
            let message = "tls on needs tls.crt_file and tls.key_file";
            return Err(place.map_or_else(|| section.error(message), |p| p.error(message)));
        };
        let files = TlsFiles {
            crt_file: crt.value.clone().into(),
            key_file: key.value.clone().into(),
            ca_file: self.ca_file.as_ref().map(|p| p.value.clone().into()),
            min_version: self.min_version.as_ref().map_or(TlsVersion::V1_2, |v| v.1),
            max_version: self.max_version.as_ref().map_or(TlsVersion::V1_3, |v| v.1),
        };
        TlsServer::load(files).map(Some).map_err(
            |TlsError {
                 key: which,
                 message,
             }| {
                let property = match which {
                    TlsKey::Certificate => Some(&crt),
                    TlsKey::PrivateKey => Some(&key),
                    TlsKey::ClientCa => self.ca_file.as_ref(),
                    TlsKey::Settings => self
                        .min_version
                        .as_ref()
                        .or(self.max_version.as_ref())
                        .map(|(p, _)| p),
                };
                property.map_or_else(|| section.error(&message), |p| p.error(&message))
            },
        )
    }
}

/// A path property that is not empty.
fn checked_path(property: &Property) -> Result<Property, ConfigError> {
    property.parse(values::text)?;
    Ok(property.clone())
}

/// Seconds, more than zero.
fn positive_seconds(text: &str) -> Result<Duration, String> {
    let duration = values::seconds(text)?;
    if duration.is_zero() {
        return Err("the time must be greater than 0".to_string());
    }
    Ok(duration)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_compare_whole_and_never_print() {
        let secret = Secret::new("s3cret-token".to_string());
        assert!(secret.matches(b"s3cret-token"));
        assert!(!secret.matches(b"s3cret-toke"));
        assert!(!secret.matches(b"s3cret-token2"));
        assert!(!secret.matches(b""));
        assert_eq!(format!("{secret:?}"), "Secret(<redacted>)");
    }
}
