//! The two text formats scrapers read, and which one a scraper asked for.
//!
//! prometheus-client writes OpenMetrics 1.0 only: a counter's `# TYPE` and `# HELP` name the
//! family without `_total` while its samples carry it, and the text ends with `# EOF`.
//! Prometheus's classic text parser (format 0.0.4, what `text/plain` promises, and what
//! `prometheus_client`'s Python parser reads) takes `# TYPE vivo_x counter` followed by
//! `vivo_x_total 3` as two different metrics. So the classic format is derived here from the
//! OpenMetrics text: counter families are named with their `_total`, `# UNIT` and `# EOF` go.
//! Scrapers that ask for OpenMetrics in `Accept` (Prometheus 2.5 and later does) get it as is.

use prometheus_client::registry::Registry;

/// A text exposition format.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    /// Prometheus text format 0.0.4.
    Prometheus,
    /// OpenMetrics 1.0.0.
    OpenMetrics,
}

impl Format {
    /// The `Content-Type` of an answer in this format.
    pub fn content_type(self) -> &'static str {
        match self {
            Format::Prometheus => "text/plain; version=0.0.4; charset=utf-8",
            Format::OpenMetrics => "application/openmetrics-text; version=1.0.0; charset=utf-8",
        }
    }

    /// The format an `Accept` header asks for: OpenMetrics when its media type ranks above
    /// (or equal to) plain text, the classic format otherwise (and when there is no header).
    pub fn negotiate(accept: Option<&str>) -> Format {
        let Some(accept) = accept else {
            return Format::Prometheus;
        };
        let (mut openmetrics, mut text) = (0.0f32, 0.0f32);
        for range in accept.split(',') {
            let mut parts = range.split(';').map(str::trim);
            let media = parts.next().unwrap_or("").to_ascii_lowercase();
            let q = parts
                .filter_map(|p| p.strip_prefix("q="))
                .find_map(|q| q.parse::<f32>().ok())
                .unwrap_or(1.0);
            match media.as_str() {
                "application/openmetrics-text" => openmetrics = openmetrics.max(q),
                "text/plain" | "text/*" | "*/*" => text = text.max(q),
                _ => {}
            }
        }
        if openmetrics > 0.0 && openmetrics >= text {
            Format::OpenMetrics
        } else {
            Format::Prometheus
        }
    }
}

/// Every metric of `registry` in `format`.
pub fn encode(registry: &Registry, format: Format) -> String {
    let mut openmetrics = String::new();
    // Writing into a String cannot fail.
    let _ = prometheus_client::encoding::text::encode(&mut openmetrics, registry);
    let families = split_families(&openmetrics);
    let mut out = String::with_capacity(openmetrics.len());
    for family in &families {
        family.write(&mut out, format);
    }
    if format == Format::OpenMetrics {
        out.push_str("# EOF\n");
    }
    out
}

/// One metric family of OpenMetrics text: its comment lines and its samples.
struct FamilyText<'a> {
    name: &'a str,
    kind: &'a str,
    help: Option<&'a str>,
    unit: Option<&'a str>,
    samples: Vec<&'a str>,
}

impl FamilyText<'_> {
    fn write(&self, out: &mut String, format: Format) {
        let name = match (format, self.kind) {
            (Format::Prometheus, "counter") => format!("{}_total", self.name),
            _ => self.name.to_string(),
        };
        if let Some(help) = self.help {
            out.push_str(&format!("# HELP {name} {help}\n"));
        }
        out.push_str(&format!("# TYPE {name} {}\n", self.kind));
        if let (Format::OpenMetrics, Some(unit)) = (format, self.unit) {
            out.push_str(&format!("# UNIT {name} {unit}\n"));
        }
        let mut samples = self.samples.clone();
        // The order of one family's series is the registry's hash order; sort it where that
        // changes nothing else (a histogram's buckets must stay in `le` order).
        if matches!(self.kind, "counter" | "gauge") {
            samples.sort_unstable();
        }
        for sample in samples {
            out.push_str(sample);
            out.push('\n');
        }
    }
}

/// Groups OpenMetrics text into families (`# HELP`, `# TYPE`, `# UNIT`, then samples).
fn split_families(text: &str) -> Vec<FamilyText<'_>> {
    let mut families: Vec<FamilyText<'_>> = Vec::new();
    let mut help: Option<(&str, &str)> = None;
    for line in text.lines() {
        if let Some(rest) = line.strip_prefix("# HELP ") {
            help = rest.split_once(' ');
        } else if let Some(rest) = line.strip_prefix("# TYPE ") {
            let (name, kind) = rest.split_once(' ').unwrap_or((rest, "unknown"));
            let help = help.take().filter(|(n, _)| *n == name).map(|(_, h)| h);
            families.push(FamilyText {
                name,
                kind,
                help,
                unit: None,
                samples: Vec::new(),
            });
        } else if let Some(rest) = line.strip_prefix("# UNIT ") {
            if let Some(family) = families.last_mut() {
                family.unit = rest.split_once(' ').map(|(_, unit)| unit);
            }
        } else if line.starts_with('#') || line.is_empty() {
            // `# EOF`, written again at the end when asked for.
        } else if let Some(family) = families.last_mut() {
            family.samples.push(line);
        }
    }
    families
}

#[cfg(test)]
mod tests {
    use super::*;
    use prometheus_client::encoding::EncodeLabelSet;
    use prometheus_client::metrics::counter::Counter;
    use prometheus_client::metrics::family::Family;
    use prometheus_client::metrics::gauge::Gauge;

    #[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
    struct Label {
        input: String,
    }

    fn registry() -> Registry {
        let mut registry = Registry::with_prefix("vivo");
        let counter = Family::<Label, Counter>::default();
        for (input, n) in [("zeta", 3), ("alpha", 1), ("mid", 2)] {
            counter
                .get_or_create(&Label {
                    input: input.into(),
                })
                .inc_by(n);
        }
        registry.register("things", "Things seen", counter);
        let gauge = Gauge::<i64>::default();
        gauge.set(7);
        registry.register("held", "Held now", gauge);
        registry
    }

    #[test]
    fn prometheus_text_names_counter_families_with_total_and_has_no_eof() {
        let text = encode(&registry(), Format::Prometheus);
        assert_eq!(
            text,
            "# HELP vivo_things_total Things seen.\n\
             # TYPE vivo_things_total counter\n\
             vivo_things_total{input=\"alpha\"} 1\n\
             vivo_things_total{input=\"mid\"} 2\n\
             vivo_things_total{input=\"zeta\"} 3\n\
             # HELP vivo_held Held now.\n\
             # TYPE vivo_held gauge\n\
             vivo_held 7\n"
        );
    }

    #[test]
    fn openmetrics_keeps_its_names_and_ends_with_eof() {
        let text = encode(&registry(), Format::OpenMetrics);
        assert!(text.starts_with("# HELP vivo_things Things seen.\n# TYPE vivo_things counter\n"));
        assert!(text.contains("vivo_things_total{input=\"alpha\"} 1\n"));
        assert!(text.ends_with("vivo_held 7\n# EOF\n"), "{text}");
    }

    #[test]
    fn accept_header_negotiation() {
        let prometheus3 = "application/openmetrics-text;version=1.0.0;escaping=allow-utf-8;q=0.6,\
            application/openmetrics-text;version=0.0.1;q=0.5,text/plain;version=1.0.0;q=0.4,\
            text/plain;version=0.0.4;q=0.3,*/*;q=0.2";
        for (accept, expected) in [
            (None, Format::Prometheus),
            (Some("*/*"), Format::Prometheus),
            (Some("text/plain"), Format::Prometheus),
            (Some(prometheus3), Format::OpenMetrics),
            (Some("application/openmetrics-text"), Format::OpenMetrics),
            (
                Some("text/plain;q=0.9, application/openmetrics-text;q=0.5"),
                Format::Prometheus,
            ),
            (Some("application/openmetrics-text;q=0"), Format::Prometheus),
        ] {
            assert_eq!(Format::negotiate(accept), expected, "{accept:?}");
        }
    }
}
