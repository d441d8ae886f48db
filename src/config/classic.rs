//! Fluent Bit's classic format: `[SECTION]` headers, indented `key value` properties, `#`
//! comments, `@SET KEY=VALUE` variables and `@INCLUDE path`.

use super::document::{Document, Property, Section, SectionKind};
use super::error::ConfigError;
use super::loader;

/// Sections Fluent Bit knows but vivo-exporter does not run; named so the error can say so.
const UNSUPPORTED_SECTIONS: &[&str] = &[
    "FILTER",
    "PARSER",
    "MULTILINE_PARSER",
    "PLUGINS",
    "CUSTOM",
    "UPSTREAM",
    "NODE",
];

/// Reads classic `text` (from `file`) into `doc`, following includes `depth` levels deep already.
pub(crate) fn parse(
    text: &str,
    file: &str,
    doc: &mut Document,
    depth: usize,
) -> Result<(), ConfigError> {
    // The section properties go to; an index because included files add sections after it.
    let mut current: Option<usize> = None;
    for (index, raw) in text.lines().enumerate() {
        let line_no = index + 1;
        let line = raw.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let error = |message: String| ConfigError::at_line(file, line_no, message);
        let (first, rest) = split_first_word(line);
        if first.starts_with('@') {
            directive(first, rest, file, line_no, doc, depth)?;
        } else if line.starts_with('[') {
            let kind = section_kind(line).map_err(error)?;
            doc.sections.push(Section {
                kind,
                file: file.to_string(),
                line: line_no,
                properties: Vec::new(),
            });
            current = Some(doc.sections.len() - 1);
        } else {
            let Some(section) = current.and_then(|i| doc.sections.get_mut(i)) else {
                return Err(error(format!(
                    "property '{first}' is outside of any section (put it under [SERVICE], \
                     [INPUT] or [OUTPUT])"
                )));
            };
            if rest.is_empty() {
                return Err(error(format!(
                    "expected 'key value' but '{line}' has no value"
                )));
            }
            section.properties.push(Property {
                key: first.to_ascii_lowercase(),
                value: rest.to_string(),
                file: file.to_string(),
                line: line_no,
            });
        }
    }
    Ok(())
}

/// Splits a trimmed line at its first run of whitespace: (first word, trimmed rest).
fn split_first_word(line: &str) -> (&str, &str) {
    match line.split_once(char::is_whitespace) {
        Some((first, rest)) => (first, rest.trim()),
        None => (line, ""),
    }
}

/// Handles an `@SET` or `@INCLUDE` line.
fn directive(
    name: &str,
    argument: &str,
    file: &str,
    line: usize,
    doc: &mut Document,
    depth: usize,
) -> Result<(), ConfigError> {
    let error = |message: String| ConfigError::at_line(file, line, message);
    if name.eq_ignore_ascii_case("@SET") {
        let Some((variable, value)) = argument.split_once('=') else {
            return Err(error(format!(
                "expected '@SET KEY=VALUE', got '@SET {argument}'"
            )));
        };
        let variable = variable.trim();
        if variable.is_empty() {
            return Err(error("@SET needs a variable name before '='".to_string()));
        }
        doc.variables
            .insert(variable.to_string(), value.trim().to_string());
        Ok(())
    } else if name.eq_ignore_ascii_case("@INCLUDE") {
        if argument.is_empty() {
            return Err(error("@INCLUDE needs a file path".to_string()));
        }
        loader::include(argument, file, line, doc, depth)
    } else {
        Err(error(format!(
            "unknown directive '{name}' (expected @SET or @INCLUDE)"
        )))
    }
}

/// Maps a `[NAME]` header line to its section kind (names are case-insensitive).
fn section_kind(line: &str) -> Result<SectionKind, String> {
    let Some(name) = line.strip_prefix('[').and_then(|l| l.strip_suffix(']')) else {
        return Err(format!("invalid section header '{line}' (expected [NAME])"));
    };
    let name = name.trim().to_ascii_uppercase();
    match name.as_str() {
        "SERVICE" => Ok(SectionKind::Service),
        "INPUT" => Ok(SectionKind::Input),
        "OUTPUT" => Ok(SectionKind::Output),
        _ if UNSUPPORTED_SECTIONS.contains(&name.as_str()) => Err(format!(
            "section [{name}] is not supported by vivo-exporter (only [SERVICE], [INPUT] and \
             [OUTPUT] are)"
        )),
        _ => Err(format!(
            "unknown section [{name}] (expected [SERVICE], [INPUT] or [OUTPUT])"
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read(text: &str) -> Result<Document, ConfigError> {
        let mut doc = Document::default();
        parse(text, "test.conf", &mut doc, 0)?;
        Ok(doc)
    }

    fn error_line(text: &str) -> (Option<usize>, String) {
        let err = read(text).expect_err("should fail");
        assert_eq!(err.file, "test.conf");
        (err.line, err.message)
    }

    #[test]
    fn sections_properties_and_comments() {
        let doc = read(
            "# leading comment\n\n[service]\n    Flush 0.5\n  # indented comment\n[Input]\n\
             \tname\t dummy \n    dummy {\"a\": \"b c\"}\n[OUTPUT]\r\n    match *\r\n",
        )
        .expect("parses");
        let kinds: Vec<_> = doc.sections.iter().map(|s| (s.kind, s.line)).collect();
        assert_eq!(
            kinds,
            [
                (SectionKind::Service, 3),
                (SectionKind::Input, 6),
                (SectionKind::Output, 9)
            ]
        );
        let input = &doc.sections[1].properties;
        assert_eq!(
            (input[0].key.as_str(), input[0].value.as_str()),
            ("name", "dummy")
        );
        assert_eq!(input[1].value, "{\"a\": \"b c\"}");
        assert_eq!(input[1].line, 8);
        assert_eq!(doc.sections[0].properties[0].key, "flush");
        assert_eq!(doc.sections[2].properties[0].value, "*");
    }

    #[test]
    fn set_defines_variables() {
        let doc = read("@SET A=1\n@set B = two words \n").expect("parses");
        assert_eq!(doc.variables["A"], "1");
        assert_eq!(doc.variables["B"], "two words");
    }

    #[test]
    fn errors_name_their_line() {
        assert_eq!(error_line("\n    name dummy\n").0, Some(2));
        let (line, message) = error_line("[INPUT]\n    name dummy\n\n[FILTER]\n");
        assert_eq!(line, Some(4));
        assert!(message.contains("[FILTER] is not supported"), "{message}");
        let (line, message) = error_line("[MULTILINE_PARSER]\n");
        assert_eq!(line, Some(1));
        assert!(message.contains("not supported"), "{message}");
        let (line, message) = error_line("[INPUT]\n[BOGUS]\n");
        assert_eq!(line, Some(2));
        assert!(message.contains("unknown section [BOGUS]"), "{message}");
        let (line, message) = error_line("[INPUT]\n    name dummy\n    tag\n");
        assert_eq!(line, Some(3));
        assert!(message.contains("no value"), "{message}");
        assert_eq!(error_line("[INPUT\n").0, Some(1));
        assert_eq!(error_line("# c\n@SET novalue\n").0, Some(2));
        assert_eq!(error_line("@DEFINE x\n").0, Some(1));
        assert_eq!(error_line("\n\n@INCLUDE\n").0, Some(3));
    }
}
