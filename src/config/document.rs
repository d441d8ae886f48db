//! The format-neutral form both parsers produce: sections of located `key value` properties plus
//! the variables they may reference. Keeping the location on every property is what lets the typed
//! validation name the file, line and key of a bad value whichever format it came from.

use std::collections::HashMap;

use super::error::ConfigError;

/// The three section kinds vivo-exporter runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum SectionKind {
    Service,
    Input,
    Output,
}

/// One `key value` property with where it was written.
#[derive(Debug, Clone)]
pub(crate) struct Property {
    /// Lower-cased: keys are case-insensitive.
    pub key: String,
    pub value: String,
    pub file: String,
    pub line: usize,
}

impl Property {
    /// An error about this property.
    pub fn error(&self, message: impl Into<String>) -> ConfigError {
        ConfigError::at_key(&self.file, self.line, &self.key, message)
    }

    /// Parses the value with one of the `values` parsers, locating any failure at this property.
    pub fn parse<T>(
        &self,
        parser: impl FnOnce(&str) -> Result<T, String>,
    ) -> Result<T, ConfigError> {
        parser(&self.value).map_err(|message| self.error(message))
    }

    /// Notes, at info level, a Fluent Bit key that is accepted for compatibility but does nothing.
    pub fn ignore(&self, why: &str) {
        log::info!(
            "{} line {}: key '{}' has no effect in vivo-exporter ({why})",
            self.file,
            self.line,
            self.key
        );
    }
}

/// One `[SERVICE]`, `[INPUT]` or `[OUTPUT]` section (or its YAML equivalent).
#[derive(Debug, Clone)]
pub(crate) struct Section {
    pub kind: SectionKind,
    pub file: String,
    /// The line the section starts on.
    pub line: usize,
    pub properties: Vec<Property>,
}

impl Section {
    /// An error about the section as a whole.
    pub fn error(&self, message: impl Into<String>) -> ConfigError {
        ConfigError::at_line(&self.file, self.line, message)
    }
}

/// Everything read from a configuration file and its includes, before typing.
#[derive(Debug, Default)]
pub(crate) struct Document {
    pub sections: Vec<Section>,
    /// `@SET` (classic) and `env:` (YAML) variables; later definitions win.
    pub variables: HashMap<String, String>,
}

impl Document {
    /// Replaces every `${VAR}` in property values, like Fluent Bit does once the whole file (with
    /// its includes) is read: the file's variables first, then the process environment, and an
    /// unset variable becomes the empty string with a warning.
    pub fn expand_variables(&mut self) {
        for section in &mut self.sections {
            for property in &mut section.properties {
                property.value = expand(property, &self.variables);
            }
        }
    }
}

/// Expands the `${VAR}` references of one property value. An unterminated `${` stays literal.
fn expand(property: &Property, variables: &HashMap<String, String>) -> String {
    let mut out = String::with_capacity(property.value.len());
    let mut rest = property.value.as_str();
    while let Some(start) = rest.find("${") {
        let Some(len) = rest[start + 2..].find('}') else {
            break;
        };
        let name = &rest[start + 2..start + 2 + len];
        out.push_str(&rest[..start]);
        match variables
            .get(name)
            .cloned()
            .or_else(|| std::env::var(name).ok())
        {
            Some(value) => out.push_str(&value),
            None => log::warn!(
                "{} line {}, key '{}': variable '{}' is not set; using an empty value",
                property.file,
                property.line,
                property.key,
                name
            ),
        }
        rest = &rest[start + 2 + len + 1..];
    }
    out.push_str(rest);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn property(value: &str) -> Property {
        Property {
            key: "k".into(),
            value: value.into(),
            file: "f".into(),
            line: 1,
        }
    }

    #[test]
    fn expands_variables_then_environment() {
        let variables = HashMap::from([("A".to_string(), "alpha".to_string())]);
        // PATH is set in any environment the tests run in; setting a variable here would race
        // with other tests reading the environment.
        let path = std::env::var("PATH").unwrap_or_default();
        assert_eq!(
            expand(&property("x${A}-${PATH}y"), &variables),
            format!("xalpha-{path}y")
        );
        assert_eq!(
            expand(&property("${VIVO_CONFIG_DOC_TEST_UNSET}z"), &variables),
            "z"
        );
        assert_eq!(expand(&property("a${A"), &variables), "a${A");
        assert_eq!(expand(&property("$A {A}"), &variables), "$A {A}");
    }
}
