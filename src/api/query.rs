//! Parsing `from`, `to` and `limit` out of a query string, properly (spec §13.2), and the
//! live-read parameters `wait` and `follow`.

use std::time::Duration;

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

/// A live-read parameter that is present but malformed: answered with 400.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BadLiveParameter {
    /// The parameter's name.
    pub name: &'static str,
    /// The value as sent (after percent-decoding).
    pub value: String,
}

impl std::fmt::Display for BadLiveParameter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.name {
            "wait" => write!(
                f,
                "query parameter 'wait' must be a time such as 30, 30s or 500ms, got '{}'",
                self.value
            ),
            _ => write!(
                f,
                "query parameter '{}' must be true or false, got '{}'",
                self.name, self.value
            ),
        }
    }
}

/// The live-read parameters of a request: `wait` (a long-poll's longest wait) and `follow`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct LiveParameters {
    /// `wait=30`, `wait=30s`, `wait=500ms`: wait up to this long for an entry.
    pub wait: Option<Duration>,
    /// `follow=true` (also `1`, `yes`, `on`): stream entries as they are published.
    pub follow: bool,
}

/// Reads `wait` and `follow` from a raw query string (first occurrence wins).
pub fn parse_live(query: &str) -> Result<LiveParameters, BadLiveParameter> {
    let mut live = LiveParameters::default();
    let (mut seen_wait, mut seen_follow) = (false, false);
    for (key, value) in form_urlencoded::parse(query.as_bytes()) {
        let bad = |name| BadLiveParameter {
            name,
            value: value.to_string(),
        };
        match key.as_ref() {
            "wait" if !seen_wait => {
                seen_wait = true;
                live.wait = Some(parse_wait(&value).ok_or_else(|| bad("wait"))?);
            }
            "follow" if !seen_follow => {
                seen_follow = true;
                live.follow = match value.to_ascii_lowercase().as_str() {
                    "1" | "" => true,
                    "0" => false,
                    other => crate::config::values::boolean(other).map_err(|_| bad("follow"))?,
                };
            }
            _ => {}
        }
    }
    Ok(live)
}

/// Seconds (`30`, `1.5`) or a time with its unit (`30s`, `500ms`, `1m`).
fn parse_wait(text: &str) -> Option<Duration> {
    crate::config::values::seconds(text)
        .ok()
        .or_else(|| humantime::parse_duration(text).ok())
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

    #[test]
    fn live_parameters() {
        assert_eq!(parse_live("").unwrap(), LiveParameters::default());
        let live = parse_live("from=3&wait=30&follow=true").unwrap();
        assert_eq!(live.wait, Some(Duration::from_secs(30)));
        assert!(live.follow);
        for (text, ms) in [
            ("30s", 30_000),
            ("500ms", 500),
            ("1.5", 1500),
            ("1m", 60_000),
        ] {
            let live = parse_live(&format!("wait={text}")).unwrap();
            assert_eq!(live.wait, Some(Duration::from_millis(ms)), "{text}");
        }
        assert!(!parse_live("follow=0").unwrap().follow);
        assert_eq!(parse_live("wait=soon").unwrap_err().name, "wait");
        assert_eq!(parse_live("follow=maybe").unwrap_err().name, "follow");
        assert!(parse_live("wait=-1").is_err());
    }
}
