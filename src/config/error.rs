//! The one error type of configuration loading, pointing the user at the exact place to fix.

use std::fmt;

/// A configuration problem, located as precisely as the source allows so that the user can fix it
/// without guessing: always the file, and the line and key whenever they exist.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("config error in {}: {message}", Location { file, line: *line, key: key.as_deref() })]
pub struct ConfigError {
    /// The configuration file (or the origin name of an in-memory configuration).
    pub file: String,
    /// The 1-based line the problem is on, when the problem belongs to a line.
    pub line: Option<usize>,
    /// The (lower-cased) property key the problem is about, when it is about one key.
    pub key: Option<String>,
    /// What is wrong, and where useful, what was expected.
    pub message: String,
}

impl ConfigError {
    /// An error about a whole file (no line or key to point at).
    pub(crate) fn in_file(file: &str, message: impl Into<String>) -> Self {
        ConfigError {
            file: file.to_string(),
            line: None,
            key: None,
            message: message.into(),
        }
    }

    /// An error about one line of a file.
    pub(crate) fn at_line(file: &str, line: usize, message: impl Into<String>) -> Self {
        ConfigError {
            line: Some(line),
            ..ConfigError::in_file(file, message)
        }
    }

    /// An error about one property (a key on a line of a file).
    pub(crate) fn at_key(file: &str, line: usize, key: &str, message: impl Into<String>) -> Self {
        ConfigError {
            key: Some(key.to_string()),
            ..ConfigError::at_line(file, line, message)
        }
    }
}

/// Renders "FILE line N, key 'K'" with the optional parts left out.
struct Location<'a> {
    file: &'a str,
    line: Option<usize>,
    key: Option<&'a str>,
}

impl fmt::Display for Location<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.file)?;
        if let Some(line) = self.line {
            write!(f, " line {line}")?;
        }
        if let Some(key) = self.key {
            write!(f, ", key '{key}'")?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn display_names_file_line_and_key() {
        let err = ConfigError::at_key(
            "/path/x.conf",
            7,
            "stream_queue_size",
            "invalid size '20Q' (expected a number with an optional K, M or G suffix)",
        );
        assert_eq!(
            err.to_string(),
            "config error in /path/x.conf line 7, key 'stream_queue_size': invalid size '20Q' \
             (expected a number with an optional K, M or G suffix)"
        );
    }

    #[test]
    fn display_leaves_out_what_is_unknown() {
        assert_eq!(
            ConfigError::in_file("a.conf", "no output").to_string(),
            "config error in a.conf: no output"
        );
        assert_eq!(
            ConfigError::at_line("a.conf", 3, "bad line").to_string(),
            "config error in a.conf line 3: bad line"
        );
    }
}
