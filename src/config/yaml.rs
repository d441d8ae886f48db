//! Fluent Bit's YAML format: `service:`, `env:`, `includes:` and `pipeline:` with `inputs:` and
//! `outputs:`. The file is first read into a small tree that remembers each node's line, using
//! yaml-rust2's marked event parser, so that every error can name its line.

use std::collections::HashMap;

use yaml_rust2::parser::{Event, MarkedEventReceiver, Parser};
use yaml_rust2::scanner::{Marker, TScalarStyle};

use super::document::{Document, Property, Section, SectionKind};
use super::error::ConfigError;
use super::loader;

/// Fluent Bit YAML sections that vivo-exporter does not run.
const UNSUPPORTED_TOP_LEVEL: &[&str] = &[
    "parsers",
    "multiline_parsers",
    "plugins",
    "customs",
    "upstream_servers",
];

/// A YAML value with the line it starts on.
#[derive(Debug, Clone)]
enum Node {
    /// Any scalar, as written (`2`, `true`, `*`); `null` for a plain `~`, `null` or empty value.
    Scalar {
        text: String,
        null: bool,
        line: usize,
    },
    Sequence {
        items: Vec<Node>,
        line: usize,
    },
    Mapping {
        entries: Vec<(Node, Node)>,
        line: usize,
    },
}

impl Node {
    fn line(&self) -> usize {
        match self {
            Node::Scalar { line, .. }
            | Node::Sequence { line, .. }
            | Node::Mapping { line, .. } => *line,
        }
    }
}

/// A sequence or mapping whose end event has not arrived yet.
struct OpenNode {
    is_mapping: bool,
    /// For a mapping: keys and values alternating.
    items: Vec<Node>,
    line: usize,
    anchor: usize,
}

/// Builds the [`Node`] tree from parser events, resolving aliases.
#[derive(Default)]
struct TreeBuilder {
    open: Vec<OpenNode>,
    anchors: HashMap<usize, Node>,
    root: Option<Node>,
}

impl TreeBuilder {
    fn add(&mut self, node: Node, anchor: usize) {
        if anchor > 0 {
            self.anchors.insert(anchor, node.clone());
        }
        match self.open.last_mut() {
            Some(parent) => parent.items.push(node),
            None => self.root = Some(node),
        }
    }

    fn open(&mut self, is_mapping: bool, anchor: usize, mark: Marker) {
        self.open.push(OpenNode {
            is_mapping,
            items: Vec::new(),
            line: mark.line(),
            anchor,
        });
    }

    fn close(&mut self) {
        let Some(done) = self.open.pop() else {
            return;
        };
        let node = if done.is_mapping {
            let mut items = done.items.into_iter();
            let mut entries = Vec::new();
            while let (Some(key), Some(value)) = (items.next(), items.next()) {
                entries.push((key, value));
            }
            Node::Mapping {
                entries,
                line: done.line,
            }
        } else {
            Node::Sequence {
                items: done.items,
                line: done.line,
            }
        };
        self.add(node, done.anchor);
    }
}

impl MarkedEventReceiver for TreeBuilder {
    fn on_event(&mut self, event: Event, mark: Marker) {
        match event {
            Event::Scalar(text, style, anchor, _) => {
                let null = style == TScalarStyle::Plain
                    && matches!(text.as_str(), "" | "~" | "null" | "Null" | "NULL");
                let line = mark.line();
                self.add(Node::Scalar { text, null, line }, anchor);
            }
            Event::SequenceStart(anchor, _) => self.open(false, anchor, mark),
            Event::MappingStart(anchor, _) => self.open(true, anchor, mark),
            Event::SequenceEnd | Event::MappingEnd => self.close(),
            Event::Alias(anchor) => {
                if let Some(node) = self.anchors.get(&anchor).cloned() {
                    self.add(node, 0);
                }
            }
            _ => {}
        }
    }
}

/// Reads YAML `text` (from `file`) into `doc`, following includes `depth` levels deep already.
pub(crate) fn parse(
    text: &str,
    file: &str,
    doc: &mut Document,
    depth: usize,
) -> Result<(), ConfigError> {
    let mut builder = TreeBuilder::default();
    Parser::new_from_str(text)
        .load(&mut builder, false)
        .map_err(|e| {
            ConfigError::at_line(
                file,
                e.marker().line(),
                format!("invalid YAML: {}", e.info()),
            )
        })?;
    let Some(root) = builder.root else {
        return Ok(());
    };
    let reader = Reader { file };
    for (key, value) in reader.mapping(&root, "the top level")? {
        let name = reader.key(key)?;
        match name.as_str() {
            "service" => doc
                .sections
                .push(reader.section(SectionKind::Service, key, value)?),
            "env" => {
                for (variable, text) in reader.mapping(value, "env")? {
                    let variable = reader.scalar(variable)?.to_string();
                    doc.variables
                        .insert(variable, reader.scalar(text)?.to_string());
                }
            }
            "includes" => {
                for item in reader.sequence(value, "includes")? {
                    loader::include(reader.scalar(item)?, file, item.line(), doc, depth)?;
                }
            }
            "pipeline" => reader.pipeline(value, doc)?,
            _ if UNSUPPORTED_TOP_LEVEL.contains(&name.as_str()) => {
                return Err(reader.key_error(
                    key,
                    format!(
                        "'{name}' is not supported by vivo-exporter (it runs only the dummy and \
                     forward inputs and the vivo_exporter output)"
                    ),
                ))
            }
            _ => {
                return Err(reader.key_error(
                    key,
                    format!(
                    "unknown top-level key '{name}' (expected service, env, includes or pipeline)"
                ),
                ))
            }
        }
    }
    Ok(())
}

/// Walks the tree of one file, turning shape mismatches into located errors.
struct Reader<'a> {
    file: &'a str,
}

impl Reader<'_> {
    fn error(&self, node: &Node, message: String) -> ConfigError {
        ConfigError::at_line(self.file, node.line(), message)
    }

    fn key_error(&self, key: &Node, message: String) -> ConfigError {
        match key {
            Node::Scalar { text, .. } => {
                ConfigError::at_key(self.file, key.line(), &text.to_ascii_lowercase(), message)
            }
            _ => self.error(key, message),
        }
    }

    /// The entries of a mapping; a null value counts as an empty mapping.
    fn mapping<'n>(&self, node: &'n Node, what: &str) -> Result<&'n [(Node, Node)], ConfigError> {
        match node {
            Node::Mapping { entries, .. } => Ok(entries),
            Node::Scalar { null: true, .. } => Ok(&[]),
            _ => Err(self.error(node, format!("expected a mapping for {what}"))),
        }
    }

    /// The items of a sequence; a null value counts as an empty sequence.
    fn sequence<'n>(&self, node: &'n Node, what: &str) -> Result<&'n [Node], ConfigError> {
        match node {
            Node::Sequence { items, .. } => Ok(items),
            Node::Scalar { null: true, .. } => Ok(&[]),
            _ => Err(self.error(node, format!("expected a list for '{what}'"))),
        }
    }

    /// A non-null scalar's text, whatever its YAML type (`2`, `true` and `'*'` are all text here).
    fn scalar<'n>(&self, node: &'n Node) -> Result<&'n str, ConfigError> {
        match node {
            Node::Scalar {
                text, null: false, ..
            } => Ok(text),
            Node::Scalar { .. } => Err(self.error(node, "expected a value, found null".into())),
            _ => Err(self.error(
                node,
                "expected a single value, not a list or mapping".into(),
            )),
        }
    }

    /// A mapping key, lower-cased: keys are case-insensitive.
    fn key(&self, node: &Node) -> Result<String, ConfigError> {
        Ok(self.scalar(node)?.to_ascii_lowercase())
    }

    /// `pipeline:` with its `inputs:` and `outputs:` lists.
    fn pipeline(&self, node: &Node, doc: &mut Document) -> Result<(), ConfigError> {
        for (key, value) in self.mapping(node, "pipeline")? {
            let name = self.key(key)?;
            let kind = match name.as_str() {
                "inputs" => SectionKind::Input,
                "outputs" => SectionKind::Output,
                "filters" => {
                    return Err(self.key_error(
                        key,
                        "filters are not supported by vivo-exporter".to_string(),
                    ))
                }
                _ => {
                    return Err(self.key_error(
                        key,
                        format!("unknown pipeline key '{name}' (expected inputs or outputs)"),
                    ))
                }
            };
            for item in self.sequence(value, &name)? {
                doc.sections.push(self.section(kind, item, item)?);
            }
        }
        Ok(())
    }

    /// One section from a mapping of properties. A list value gives the key once per item (for
    /// repeatable keys such as `security.users`).
    fn section(
        &self,
        kind: SectionKind,
        start: &Node,
        node: &Node,
    ) -> Result<Section, ConfigError> {
        let mut properties = Vec::new();
        for (key, value) in self.mapping(node, "a plugin's properties")? {
            let name = self.key(key)?;
            let values: Vec<&Node> = match value {
                Node::Sequence { items, .. } => items.iter().collect(),
                Node::Mapping { .. } => {
                    return Err(self.key_error(
                        key,
                        format!("nested mappings are not supported (key '{name}')"),
                    ))
                }
                Node::Scalar { null: true, .. } => {
                    return Err(self.key_error(key, format!("key '{name}' has no value")))
                }
                Node::Scalar { .. } => vec![value],
            };
            for value in values {
                properties.push(Property {
                    key: name.clone(),
                    value: self
                        .scalar(value)
                        .map_err(|e| self.key_error(key, e.message))?
                        .to_string(),
                    file: self.file.to_string(),
                    line: value.line(),
                });
            }
        }
        Ok(Section {
            kind,
            file: self.file.to_string(),
            line: start.line(),
            properties,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read(text: &str) -> Result<Document, ConfigError> {
        let mut doc = Document::default();
        parse(text, "test.yaml", &mut doc, 0)?;
        Ok(doc)
    }

    fn error_line(text: &str) -> (Option<usize>, String) {
        let err = read(text).expect_err("should fail");
        assert_eq!(err.file, "test.yaml");
        (err.line, err.message)
    }

    #[test]
    fn scalars_of_any_type_become_text() {
        let doc = read(
            "pipeline:\n  inputs:\n    - name: dummy\n      rate: 2\n      fixed_timestamp: true\n\
             \x20     start_time_sec: -1\n      dummy: '{\"a\": 1.50}'\n  outputs:\n\
             \x20   - name: vivo_exporter\n      match: '*'\n      http_cors_allow_origin: \"*\"\n\
             \x20     ratio: 1.50\n",
        )
        .expect("parses");
        let values: Vec<Vec<(&str, &str, usize)>> = doc
            .sections
            .iter()
            .map(|s| {
                s.properties
                    .iter()
                    .map(|p| (p.key.as_str(), p.value.as_str(), p.line))
                    .collect()
            })
            .collect();
        assert_eq!(
            values,
            [
                vec![
                    ("name", "dummy", 3),
                    ("rate", "2", 4),
                    ("fixed_timestamp", "true", 5),
                    ("start_time_sec", "-1", 6),
                    ("dummy", "{\"a\": 1.50}", 7)
                ],
                vec![
                    ("name", "vivo_exporter", 9),
                    ("match", "*", 10),
                    ("http_cors_allow_origin", "*", 11),
                    ("ratio", "1.50", 12)
                ]
            ]
        );
        assert_eq!(doc.sections[0].line, 3);
        assert_eq!(doc.sections[1].kind, SectionKind::Output);
    }

    #[test]
    fn lists_repeat_a_key_and_aliases_resolve() {
        let doc = read(
            "service: &s\n  flush: 1\npipeline:\n  inputs:\n    - name: forward\n\
             \x20     security.users:\n        - a pw1\n        - b pw2\n",
        )
        .expect("parses");
        let users: Vec<_> = doc.sections[1]
            .properties
            .iter()
            .filter(|p| p.key == "security.users")
            .map(|p| (p.value.as_str(), p.line))
            .collect();
        assert_eq!(users, [("a pw1", 7), ("b pw2", 8)]);
    }

    #[test]
    fn env_defines_variables() {
        let doc = read("env:\n  PORT: 2026\n  HOST: localhost\n").expect("parses");
        assert_eq!(doc.variables["PORT"], "2026");
        assert_eq!(doc.variables["HOST"], "localhost");
    }

    #[test]
    fn empty_file_is_empty() {
        assert!(read("").expect("parses").sections.is_empty());
        assert!(read("# only a comment\n")
            .expect("parses")
            .sections
            .is_empty());
    }

    #[test]
    fn errors_name_their_line() {
        let (line, message) = error_line("service:\n  flush: 1\nbogus: 1\n");
        assert_eq!(line, Some(3));
        assert!(
            message.contains("unknown top-level key 'bogus'"),
            "{message}"
        );
        let (line, message) = error_line("pipeline:\n  inputs: []\n  filters:\n    - name: grep\n");
        assert_eq!(line, Some(3));
        assert!(message.contains("not supported"), "{message}");
        let (line, message) = error_line("\nparsers:\n  - name: json\n");
        assert_eq!(line, Some(2));
        assert!(message.contains("not supported"), "{message}");
        assert_eq!(error_line("multiline_parsers: []\n").0, Some(1));
        // An unquoted `*` is an alias in YAML: a syntax error, located.
        let (line, message) =
            error_line("pipeline:\n  outputs:\n    - name: vivo_exporter\n      match: *\n");
        assert_eq!(line, Some(4));
        assert!(message.starts_with("invalid YAML"), "{message}");
        let (line, _) = error_line("service:\n  flush: [1\n  grace: 2\n\n");
        // The flow sequence opened on line 2 never closes; the scanner notices on line 3.
        assert_eq!(line, Some(3));
        assert_eq!(error_line("pipeline:\n  inputs:\n    - name:\n").0, Some(3));
        assert_eq!(
            error_line("pipeline:\n  inputs:\n    - name: dummy\n      x:\n        y: 1\n").0,
            Some(4)
        );
        assert_eq!(error_line("pipeline:\n  inputs: dummy\n").0, Some(2));
        assert_eq!(error_line("- a\n- b\n").0, Some(1));
        assert_eq!(error_line("pipeline:\n  outputz: []\n").0, Some(2));
    }
}
