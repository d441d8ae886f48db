//! Reads configuration text of either format into one [`Document`], following includes relative
//! to the including file's folder.

use std::path::{Path, PathBuf};

use super::document::Document;
use super::error::ConfigError;
use super::{classic, yaml, ConfigFormat};

/// Includes nested deeper than this are taken for an include cycle.
const MAX_INCLUDE_DEPTH: usize = 16;

/// Parses `text` of `format`, read from `file`, into `doc`; `depth` counts enclosing includes.
pub(crate) fn parse_text(
    text: &str,
    format: ConfigFormat,
    file: &str,
    doc: &mut Document,
    depth: usize,
) -> Result<(), ConfigError> {
    match format {
        ConfigFormat::Classic => classic::parse(text, file, doc, depth),
        ConfigFormat::Yaml => yaml::parse(text, file, doc, depth),
    }
}

/// Reads a whole configuration file into `doc`.
pub(crate) fn parse_file(path: &Path, doc: &mut Document) -> Result<(), ConfigError> {
    let file = path.display().to_string();
    let text = std::fs::read_to_string(path)
        .map_err(|e| ConfigError::in_file(&file, format!("cannot read the file: {e}")))?;
    parse_text(&text, ConfigFormat::from_path(path), &file, doc, 0)
}

/// Follows an `@INCLUDE` / `includes:` entry written in `including_file` at `line`. The path is
/// relative to the including file's folder, and a `*` in its last component includes every
/// matching file in name order, as Fluent Bit's glob does.
pub(crate) fn include(
    target: &str,
    including_file: &str,
    line: usize,
    doc: &mut Document,
    depth: usize,
) -> Result<(), ConfigError> {
    let error = |message: String| ConfigError::at_line(including_file, line, message);
    if depth >= MAX_INCLUDE_DEPTH {
        return Err(error(format!(
            "cannot include '{target}': includes are nested more than {MAX_INCLUDE_DEPTH} deep \
             (does a file include itself?)"
        )));
    }
    let base = Path::new(including_file)
        .parent()
        .unwrap_or_else(|| Path::new(""));
    let path = base.join(target);
    let paths = if has_wildcard(&path) {
        glob(&path).map_err(|e| {
            error(format!(
                "cannot include '{target}': cannot list {}: {e}",
                path.parent().unwrap_or(base).display()
            ))
        })?
    } else {
        vec![path]
    };
    if paths.is_empty() {
        log::warn!("{including_file} line {line}: @INCLUDE '{target}' matches no file");
    }
    for path in paths {
        let file = path.display().to_string();
        let text = std::fs::read_to_string(&path)
            .map_err(|e| error(format!("cannot include '{target}' ({file}): {e}")))?;
        parse_text(&text, ConfigFormat::from_path(&path), &file, doc, depth + 1)?;
    }
    Ok(())
}

/// Whether the last path component is a wildcard pattern.
fn has_wildcard(path: &Path) -> bool {
    path.file_name()
        .is_some_and(|name| name.to_string_lossy().contains('*'))
}

/// The files in the pattern's folder whose names match its last component, sorted.
fn glob(pattern: &Path) -> std::io::Result<Vec<PathBuf>> {
    let folder = match pattern.parent() {
        Some(parent) if !parent.as_os_str().is_empty() => parent,
        _ => Path::new("."),
    };
    let name_pattern = pattern
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let mut found = Vec::new();
    for entry in std::fs::read_dir(folder)? {
        let entry = entry?;
        let name = entry.file_name().to_string_lossy().into_owned();
        if entry.path().is_file() && wildcard_match(&name_pattern, &name) {
            found.push(folder.join(name));
        }
    }
    found.sort();
    Ok(found)
}

/// `*` matches any run of characters; everything else matches itself.
fn wildcard_match(pattern: &str, name: &str) -> bool {
    let mut parts = pattern.split('*');
    let first = parts.next().unwrap_or("");
    let Some(mut rest) = name.strip_prefix(first) else {
        return false;
    };
    let parts: Vec<&str> = parts.collect();
    let Some((last, middle)) = parts.split_last() else {
        return rest.is_empty();
    };
    for part in middle {
        match rest.find(part) {
            Some(at) => rest = &rest[at + part.len()..],
            None => return false,
        }
    }
    rest.ends_with(last)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wildcards() {
        assert!(wildcard_match("*.conf", "a.conf"));
        assert!(wildcard_match("in-*.conf", "in-1.conf"));
        assert!(wildcard_match("a*b*c", "abc"));
        assert!(wildcard_match("a*b*c", "axxbyyc"));
        assert!(!wildcard_match("*.conf", "a.yaml"));
        assert!(!wildcard_match("a*a", "a"));
        assert!(!wildcard_match("abc", "abcd"));
        assert!(wildcard_match("abc", "abc"));
    }
}
