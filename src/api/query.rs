//! Parsing `from`, `to` and `limit` out of a query string, properly (spec §13.2).

use crate::stream::Selection;

/// A query parameter that is present but not a whole number: answered with 400.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BadParameter {
    /// The parameter's name.
    pub name: &'static str,
    /// The value as sent (after percent-decoding).
    pub value: String,
}

impl std::fmt::Display for BadParameter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "query parameter '{}' must be a whole number, got '{}'",
            self.name, self.value
        )
    }
}

/// Reads a [`Selection`] from a raw query string: split on `&`, percent-decoded, exact names,
/// first occurrence wins, other parameters ignored. Values must be base-10 integers (an optional
/// sign, digits, nothing else) that fit in 64 bits.
pub fn parse_selection(query: &str) -> Result<Selection, BadParameter> {
    let mut selection = Selection::default();
    for (key, value) in form_urlencoded::parse(query.as_bytes()) {
        let (name, slot) = match key.as_ref() {
            "from" => ("from", &mut selection.from),
            "to" => ("to", &mut selection.to),
            "limit" => ("limit", &mut selection.limit),
            _ => continue,
        };
        if slot.is_some() {
            continue;
        }
        match value.parse::<i64>() {
            Ok(number) => *slot = Some(number),
            Err(_) => {
                return Err(BadParameter {
                    name,
                    value: value.into_owned(),
                })
            }
        }
    }
    Ok(selection)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exact_names_and_first_wins() {
        let s =
            parse_selection("photo=2&xfrom=1&climit=3&from=4&from=9&to=%36&limit=%2B2").unwrap();
        assert_eq!(
            s,
            Selection {
                from: Some(4),
                to: Some(6),
                limit: Some(2)
            }
        );
    }

    #[test]
    fn absent_is_none() {
        assert_eq!(parse_selection("").unwrap(), Selection::default());
        assert_eq!(parse_selection("foo=bar&&=").unwrap(), Selection::default());
    }

    #[test]
    fn negative_values_parse() {
        let s = parse_selection("from=-3&to=-1&limit=-5").unwrap();
        assert_eq!((s.from, s.to, s.limit), (Some(-3), Some(-1), Some(-5)));
    }

    #[test]
    fn non_integers_are_errors() {
        for q in [
            "from=abc",
            "to=7x",
            "limit=",
            "from=1.5",
            "to=%20%37",
            "from=99999999999999999999",
        ] {
            assert!(parse_selection(q).is_err(), "{q}");
        }
        let err = parse_selection("limit=ten").unwrap_err();
        assert_eq!(err.name, "limit");
        assert_eq!(err.value, "ten");
    }
}
