//! The Lambdas' logs. With `AWS_LAMBDA_LOG_FORMAT=JSON` (the template's `LoggingConfig`) each
//! line is one flat JSON object, so a CloudWatch Logs Insights query names every field at the
//! top level (`docs/operations.md`, "Follow one payment through the logs"):
//!
//! - `timestamp`, `level`, `message`, and the event's own fields;
//! - the fields of every span the line is logged in, outermost first, an inner span's value
//!   winning: `requestId` (Lambda's, from the runtime's per-invocation span), `request_id` (the
//!   HTTP request's), `event_id`, `order_id`, `message_id`, …;
//! - `service`: the function's name, on every line, start-up included;
//! - `cold_start`: `true` on every line of an execution environment's first invocation, `false`
//!   on later ones (absent on start-up lines, logged before any invocation).
//!
//! Otherwise (text), tracing's usual format, where the invocation span shows as
//! `invocation{service=… cold_start=…}`. The level comes from `AWS_LAMBDA_LOG_LEVEL`, then
//! `RUST_LOG`, then `INFO`, as `lambda_runtime`'s default subscriber reads it.

use std::fmt;
use std::str::FromStr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use lambda_http::tracing::subscriber as tracing_subscriber;
use serde_json::{Map, Value};
use tracing::field::{Field, Visit};
use tracing::{Event, Subscriber};
use tracing_subscriber::filter::{EnvFilter, LevelFilter};
use tracing_subscriber::fmt::format::{JsonFields, Writer};
use tracing_subscriber::fmt::{FmtContext, FormatEvent, FormattedFields, MakeWriter};
use tracing_subscriber::registry::LookupSpan;

use crate::lambda::Function;

/// How log lines are written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogFormat {
    /// One flat JSON object a line (see the module's documentation).
    Json,
    /// tracing's human-readable lines.
    Text,
}

impl LogFormat {
    /// `AWS_LAMBDA_LOG_FORMAT`, as Lambda's advanced logging controls set it: `JSON` (any case)
    /// or anything else, which is text.
    pub fn parse(value: Option<&str>) -> Self {
        match value {
            Some(v) if v.eq_ignore_ascii_case("json") => Self::Json,
            _ => Self::Text,
        }
    }
}

/// The level filter: `level` (`AWS_LAMBDA_LOG_LEVEL` or `RUST_LOG`) if it names a level,
/// `INFO` otherwise, then any directives `RUST_LOG` adds.
fn filter(level: Option<&str>) -> EnvFilter {
    let level = level
        .and_then(|l| LevelFilter::from_str(l).ok())
        .unwrap_or(LevelFilter::INFO);
    EnvFilter::builder()
        .with_default_directive(level.into())
        .from_env_lossy()
}

/// The subscriber of `service`'s logs, writing to `writer`.
pub fn subscriber<W>(
    service: &'static str,
    format: LogFormat,
    level: Option<&str>,
    writer: W,
) -> Box<dyn Subscriber + Send + Sync>
where
    W: for<'w> MakeWriter<'w> + Send + Sync + 'static,
{
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter(level))
        .with_writer(writer);
    match format {
        LogFormat::Json => Box::new(
            builder
                .fmt_fields(JsonFields::new())
                .event_format(FlatJson { service })
                .finish(),
        ),
        // No colour codes: CloudWatch shows them as escape sequences.
        LogFormat::Text => Box::new(
            builder
                .with_ansi(false)
                .with_target(false)
                .without_time()
                .finish(),
        ),
    }
}

/// Installs the process's subscriber for `function`, writing to stdout, with the format and
/// level Lambda's environment asks for. Once, first thing at cold start.
pub fn init(function: Function) {
    let format = LogFormat::parse(std::env::var("AWS_LAMBDA_LOG_FORMAT").ok().as_deref());
    let level = std::env::var("AWS_LAMBDA_LOG_LEVEL")
        .or_else(|_| std::env::var("RUST_LOG"))
        .ok();
    let subscriber = subscriber(function.name(), format, level.as_deref(), std::io::stdout);
    if tracing::subscriber::set_global_default(subscriber).is_err() {
        tracing::warn!("a log subscriber was already installed; keeping it");
    }
}

/// The invocations of one execution environment: each runs in an `invocation` span carrying
/// `service` and `cold_start` (true for the first one only).
#[derive(Debug, Clone)]
pub struct Invocations {
    service: &'static str,
    cold: Arc<AtomicBool>,
}

impl Invocations {
    /// A fresh execution environment of `function`: its next invocation is the cold start.
    pub fn new(function: Function) -> Self {
        Self {
            service: function.name(),
            cold: Arc::new(AtomicBool::new(true)),
        }
    }

    /// The span of the next invocation.
    pub fn next_span(&self) -> tracing::Span {
        let cold_start = self.cold.swap(false, Ordering::SeqCst);
        tracing::info_span!("invocation", service = self.service, cold_start)
    }
}

/// The flat JSON line format (see the module's documentation). Span fields are read from what
/// the JSON field formatter stored for each span ([`JsonFields`]).
struct FlatJson {
    service: &'static str,
}

impl<S> FormatEvent<S, JsonFields> for FlatJson
where
    S: Subscriber + for<'a> LookupSpan<'a>,
{
    fn format_event(
        &self,
        ctx: &FmtContext<'_, S, JsonFields>,
        mut writer: Writer<'_>,
        event: &Event<'_>,
    ) -> fmt::Result {
        let mut line = Map::new();
        if let Some(scope) = ctx.event_scope() {
            for span in scope.from_root() {
                let extensions = span.extensions();
                let Some(fields) = extensions.get::<FormattedFields<JsonFields>>() else {
                    continue;
                };
                // A span without fields stores nothing parseable: it adds nothing.
                if let Ok(Value::Object(fields)) = serde_json::from_str(&fields.fields) {
                    line.extend(fields);
                }
            }
        }
        event.record(&mut Fields(&mut line));
        line.insert("timestamp".into(), Value::String(now()));
        line.insert(
            "level".into(),
            Value::String(event.metadata().level().to_string()),
        );
        line.insert("service".into(), Value::String(self.service.to_owned()));
        writeln!(writer, "{}", Value::Object(line))
    }
}

/// Now, as RFC 3339 in milliseconds (UTC).
fn now() -> String {
    let millis = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
        .unwrap_or(0);
    oms_core::Timestamp::from_unix_millis(millis).to_string()
}

/// An event's fields as JSON values: numbers and booleans as such, everything else as text.
struct Fields<'a>(&'a mut Map<String, Value>);

impl Fields<'_> {
    fn put(&mut self, field: &Field, value: Value) {
        // `log` records bridged into tracing carry their origin as `log.*` fields: noise here.
        if !field.name().starts_with("log.") {
            self.0.insert(field.name().to_owned(), value);
        }
    }
}

impl Visit for Fields<'_> {
    fn record_str(&mut self, field: &Field, value: &str) {
        self.put(field, Value::from(value));
    }

    fn record_bool(&mut self, field: &Field, value: bool) {
        self.put(field, Value::from(value));
    }

    fn record_i64(&mut self, field: &Field, value: i64) {
        self.put(field, Value::from(value));
    }

    fn record_u64(&mut self, field: &Field, value: u64) {
        self.put(field, Value::from(value));
    }

    fn record_f64(&mut self, field: &Field, value: f64) {
        self.put(field, Value::from(value));
    }

    fn record_debug(&mut self, field: &Field, value: &dyn fmt::Debug) {
        self.put(field, Value::String(format!("{value:?}")));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_json_in_any_case_is_json() {
        assert_eq!(LogFormat::parse(Some("JSON")), LogFormat::Json);
        assert_eq!(LogFormat::parse(Some("json")), LogFormat::Json);
        assert_eq!(LogFormat::parse(Some("Text")), LogFormat::Text);
        assert_eq!(LogFormat::parse(None), LogFormat::Text);
    }
}
