//! Turns the format-neutral [`Document`] into the typed [`Config`], with the checks that span
//! sections: at least one output, and no two listeners on the same address.

use super::document::{Document, Section, SectionKind};
use super::error::ConfigError;
use super::input::{InputBuilder, InputConfig};
use super::output;
use super::service::ServiceConfig;
use super::Config;

/// A TCP address some section listens on, remembered to catch a second section taking it.
struct Listener<'a> {
    who: String,
    host: String,
    port: u16,
    section: &'a Section,
}

/// Types every section of `doc` (variables already expanded) and checks the whole.
pub(crate) fn build(doc: &Document, origin: &str) -> Result<Config, ConfigError> {
    let mut service = ServiceConfig::default();
    let mut inputs = Vec::new();
    let mut outputs = Vec::new();
    let mut input_builder = InputBuilder::default();
    let mut listeners = Vec::new();
    for section in &doc.sections {
        match section.kind {
            SectionKind::Service => service.apply(section)?,
            SectionKind::Input => {
                let input = input_builder.build(section)?;
                let plugin = match &input {
                    InputConfig::Dummy(_) => "dummy",
                    InputConfig::Forward(_) => "forward",
                    InputConfig::OpenTelemetry(_) => "opentelemetry",
                    InputConfig::Http(_) => "http",
                };
                let who = format!("{plugin} input {}", inputs.len());
                match &input {
                    InputConfig::Forward(forward) if forward.unix_path.is_none() => {
                        claim(&mut listeners, who, &forward.listen, forward.port, section)?;
                    }
                    InputConfig::OpenTelemetry(otel) => {
                        claim(
                            &mut listeners,
                            who.clone(),
                            &otel.listen,
                            otel.port,
                            section,
                        )?;
                        if otel.grpc {
                            claim(&mut listeners, who, &otel.listen, otel.grpc_port, section)?;
                        }
                    }
                    InputConfig::Http(http) => {
                        claim(&mut listeners, who, &http.listen, http.port, section)?;
                    }
                    _ => {}
                }
                inputs.push(input);
            }
            SectionKind::Output => {
                let output = output::build(section, outputs.len())?;
                let who = format!("output {}", output.instance);
                claim(&mut listeners, who, &output.host, output.port, section)?;
                outputs.push(output);
            }
        }
    }
    if outputs.is_empty() {
        return Err(ConfigError::in_file(
            origin,
            "no output configured: at least one [OUTPUT] with name vivo_exporter is required",
        ));
    }
    if inputs.is_empty() {
        log::warn!("{origin}: no input configured, so the streams will stay empty");
    }
    Ok(Config {
        service,
        inputs,
        outputs,
        origin: origin.to_string(),
    })
}

/// Records a listener, failing if an earlier one already uses an overlapping address. Port 0
/// (any free port) never collides.
fn claim<'a>(
    listeners: &mut Vec<Listener<'a>>,
    who: String,
    host: &str,
    port: u16,
    section: &'a Section,
) -> Result<(), ConfigError> {
    let taken = listeners
        .iter()
        .find(|old| port != 0 && old.port == port && hosts_overlap(&old.host, host));
    if let Some(old) = taken {
        let message = format!(
            "{who} listens on {host}:{port}, which {} ({} line {}) already listens on",
            old.who, old.section.file, old.section.line
        );
        return Err(
            match section.properties.iter().rev().find(|p| p.key == "port") {
                Some(property) => property.error(message),
                None => section.error(message),
            },
        );
    }
    listeners.push(Listener {
        who,
        host: host.to_string(),
        port,
        section,
    });
    Ok(())
}

/// Whether binding both hosts on one port would clash: the same host, or a wildcard address
/// (`0.0.0.0` covers IPv4 hosts; `::` covers everything on a dual-stack system).
fn hosts_overlap(a: &str, b: &str) -> bool {
    let v6_any = |h: &str| h == "::" || h == "[::]";
    let v4_host = |h: &str| !h.contains(':');
    a == b
        || v6_any(a)
        || v6_any(b)
        || (a == "0.0.0.0" && v4_host(b))
        || (b == "0.0.0.0" && v4_host(a))
}

#[cfg(test)]
mod tests {
    use super::hosts_overlap;

    #[test]
    fn overlapping_hosts() {
        assert!(hosts_overlap("127.0.0.1", "127.0.0.1"));
        assert!(hosts_overlap("0.0.0.0", "127.0.0.1"));
        assert!(hosts_overlap("localhost", "0.0.0.0"));
        assert!(hosts_overlap("::", "127.0.0.1"));
        assert!(!hosts_overlap("127.0.0.1", "127.0.0.2"));
        assert!(!hosts_overlap("0.0.0.0", "::1"));
    }
}
