//! The bodies sinks get, by the sink's `format`: backstop's own JSON, a
//! PagerDuty Events v2 event, a Slack-compatible incoming-webhook message, or
//! the sink's JSON template filled from the notification. Rendering only: no
//! I/O here (`cli/delivery.rs` sends, `cli/outbox.rs` retries).
//!
//! Every body is built as a `serde_json::Value` and serialised by serde_json,
//! so a summary or label can never break out of its string.

use anyhow::{Context, Result};
use backstop::alerts::{Notification, NotificationKind, Severity, Sink, SinkFormat};
use serde_json::{Map, Value, json};

use super::fmt::rfc3339;

/// The exact line a sink gets for a notification: what the outbox stores
/// and the courier (`cli/outbox.rs`) delivers, however often it retries.
/// `source` is used when the payload names no pipeline/step. A PagerDuty
/// body is stored without its routing key: the courier adds it from the
/// environment at delivery ([`with_routing_key`]), so the key never reaches
/// the store, the alert log or a dead-letter file.
pub fn line(sink: &Sink, n: &Notification, at_ms: u64, source: &str) -> Result<String> {
    let source = source_of(n, source);
    let body = match sink.format {
        SinkFormat::Backstop => backstop_body(n, at_ms),
        SinkFormat::Pagerduty => pagerduty_body(n, &source),
        SinkFormat::Slack => slack_body(n, at_ms, &source),
        SinkFormat::Template => {
            let template = sink
                .template
                .as_deref()
                .context("a template sink without its template")?;
            let target = if sink.target == "*" {
                n.targets.first().map(String::as_str).unwrap_or("*")
            } else {
                sink.target.as_str()
            };
            template_body(template, &Fields::new(n, at_ms, &source, target))?
        }
    };
    Ok(serde_json::to_string(&body)?)
}

/// The notification as backstop's own JSON body.
pub fn backstop_body(n: &Notification, at_ms: u64) -> Value {
    json!({
        "at": rfc3339(at_ms),
        "kind": n.kind,
        "severity": n.severity,
        "rule": n.rule,
        "targets": n.targets,
        "dedup_key": n.dedup_key,
        "summary": n.summary,
        "payload": n.payload,
    })
}

/// PagerDuty Events v2 knows critical, error, warning and info; ours are
/// critical, high, warning and info.
pub fn pagerduty_severity(severity: Severity) -> &'static str {
    match severity {
        Severity::Critical => "critical",
        Severity::High => "error",
        Severity::Warning => "warning",
        Severity::Info => "info",
    }
}

/// A PagerDuty Events v2 body, without `routing_key` (see [`line`]).
pub fn pagerduty_body(n: &Notification, source: &str) -> Value {
    let action = match n.kind {
        NotificationKind::Resolve => "resolve",
        // An escalation or repeat re-triggers the same incident (same dedup_key).
        _ => "trigger",
    };
    json!({
        "event_action": action,
        "dedup_key": pagerduty_dedup_key(&n.dedup_key),
        "payload": {
            "summary": n.summary,
            "severity": pagerduty_severity(n.severity),
            "source": source,
            "custom_details": n.payload,
        },
    })
}

/// The stored PagerDuty body with the routing key put in, just before it is
/// sent.
pub fn with_routing_key(body: &str, key: &str) -> Result<String> {
    let mut value: Value = serde_json::from_str(body).context("the stored body is not JSON")?;
    let object = value
        .as_object_mut()
        .context("the stored body is not a JSON object")?;
    object.insert("routing_key".into(), Value::String(key.to_string()));
    Ok(serde_json::to_string(&value)?)
}

/// PagerDuty refuses a dedup_key over 255 characters: a longer key (a long
/// run id) becomes a prefix of it and the SHA-256 of the whole, still stable
/// across redeliveries and still distinct per alert.
pub fn pagerduty_dedup_key(key: &str) -> String {
    const MAX: usize = 255;
    if key.chars().count() <= MAX {
        return key.to_string();
    }
    use sha2::{Digest, Sha256};
    let hash: String = Sha256::digest(key.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    let prefix: String = key.chars().take(MAX - 1 - hash.len()).collect();
    format!("{prefix}~{hash}")
}

/// Slack's mrkdwn treats `&`, `<` and `>` as control characters.
fn mrkdwn_escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

fn runbook_url(n: &Notification) -> Option<&str> {
    n.payload.pointer("/runbook/url").and_then(Value::as_str)
}

/// A Slack incoming-webhook message: `text` carries everything (severity,
/// what happened, where, the runbook link), so Slack-compatible receivers
/// that only read `text` (Mattermost, Rocket.Chat, Discord's `/slack`) show
/// it all; one attachment adds the severity colour and fields.
pub fn slack_body(n: &Notification, at_ms: u64, source: &str) -> Value {
    let severity = n.severity.as_str().to_uppercase();
    let what = match n.kind {
        NotificationKind::Trigger => "firing",
        NotificationKind::Escalate => "escalated",
        NotificationKind::Repeat => "still firing",
        NotificationKind::Resolve => "resolved",
    };
    let mut text = format!(
        "*[{severity}] {what}* `{}`: {}",
        mrkdwn_escape(source),
        mrkdwn_escape(&n.summary)
    );
    let mut fields = vec![
        json!({"title": "Severity", "value": n.severity.as_str(), "short": true}),
        json!({"title": "Source", "value": source, "short": true}),
        json!({"title": "Rule", "value": n.rule, "short": true}),
        json!({"title": "Dedup key", "value": n.dedup_key, "short": false}),
    ];
    if let Some(url) = runbook_url(n) {
        // Slack links are `<url|label>`; a `|` or `>` in the url would end it early.
        let url = url.replace('|', "%7C").replace('>', "%3E");
        text.push_str(&format!("\n<{url}|Runbook>"));
        fields.push(json!({"title": "Runbook", "value": format!("<{url}|{url}>"), "short": false}));
    }
    let color = match (n.kind, n.severity) {
        (NotificationKind::Resolve, _) => "#2eb67d",
        (_, Severity::Critical) => "#a30200",
        (_, Severity::High) => "#e01e5a",
        (_, Severity::Warning) => "#ecb22e",
        (_, Severity::Info) => "#36c5f0",
    };
    json!({
        "text": text,
        "attachments": [{
            "color": color,
            "fallback": format!("[{severity}] {what} {source}: {}", n.summary),
            "fields": fields,
            "ts": at_ms / 1000,
        }],
    })
}

/// What a template's placeholders can name (the guest checked the names).
pub struct Fields<'a> {
    n: &'a Notification,
    at: String,
    source: &'a str,
    target: &'a str,
}

impl<'a> Fields<'a> {
    pub fn new(n: &'a Notification, at_ms: u64, source: &'a str, target: &'a str) -> Fields<'a> {
        Fields {
            n,
            at: rfc3339(at_ms),
            source,
            target,
        }
    }

    /// The field's JSON value; `null` for a payload path that is not there.
    fn value(&self, name: &str) -> Value {
        let n = self.n;
        match name {
            "at" => json!(self.at),
            "kind" => json!(n.kind),
            "severity" => json!(n.severity),
            "rule" => json!(n.rule),
            "summary" => json!(n.summary),
            "dedup_key" => json!(n.dedup_key),
            "targets" => json!(n.targets),
            "target" => json!(self.target),
            "source" => json!(self.source),
            "runbook_url" => runbook_url(n).map_or(Value::Null, |u| json!(u)),
            "payload" => n.payload.clone(),
            other => match other.strip_prefix("payload.") {
                Some(path) => {
                    let pointer: String = path
                        .split('.')
                        .map(|seg| format!("/{}", seg.replace('~', "~0").replace('/', "~1")))
                        .collect();
                    n.payload.pointer(&pointer).cloned().unwrap_or(Value::Null)
                }
                None => Value::Null,
            },
        }
    }
}

/// One piece of a template string.
enum Piece<'t> {
    Text(&'t str),
    Field(&'t str),
}

fn pieces(s: &str) -> Result<Vec<Piece<'_>>> {
    let mut out = Vec::new();
    let mut rest = s;
    while let Some(start) = rest.find("{{") {
        if start > 0 {
            out.push(Piece::Text(&rest[..start]));
        }
        let after = &rest[start + 2..];
        let end = after
            .find("}}")
            .with_context(|| format!("`{{{{` without `}}}}` in the template string {s:?}"))?;
        out.push(Piece::Field(after[..end].trim()));
        rest = &after[end + 2..];
    }
    if !rest.is_empty() {
        out.push(Piece::Text(rest));
    }
    Ok(out)
}

/// Fill a template (JSON text): a string that is exactly one placeholder
/// becomes the field's JSON value (a list stays a list, a missing payload
/// field is `null`); placeholders inside longer strings are replaced by the
/// field's text (strings as they are, `null` as nothing, anything else as
/// compact JSON). Keys are not templated.
pub fn template_body(template: &str, fields: &Fields<'_>) -> Result<Value> {
    let tree: Value = serde_json::from_str(template).context("the sink's template is not JSON")?;
    fill(tree, fields)
}

fn fill(value: Value, fields: &Fields<'_>) -> Result<Value> {
    Ok(match value {
        Value::String(s) => {
            let pieces = pieces(&s)?;
            match pieces.as_slice() {
                [Piece::Field(name)] => fields.value(name),
                _ => {
                    let mut out = String::new();
                    for piece in &pieces {
                        match piece {
                            Piece::Text(t) => out.push_str(t),
                            Piece::Field(name) => match fields.value(name) {
                                Value::String(s) => out.push_str(&s),
                                Value::Null => {}
                                other => out.push_str(&other.to_string()),
                            },
                        }
                    }
                    Value::String(out)
                }
            }
        }
        Value::Array(items) => Value::Array(
            items
                .into_iter()
                .map(|v| fill(v, fields))
                .collect::<Result<_>>()?,
        ),
        Value::Object(map) => {
            let mut out = Map::new();
            for (k, v) in map {
                out.insert(k, fill(v, fields)?);
            }
            Value::Object(out)
        }
        other => other,
    })
}

/// `pipeline/step` from the payload, else the caller's.
fn source_of(n: &Notification, fallback: &str) -> String {
    let field = |k: &str| n.payload.get(k).and_then(Value::as_str).map(str::to_string);
    match (field("pipeline"), field("step")) {
        (Some(p), Some(s)) => format!("{p}/{s}"),
        (Some(p), None) => p,
        _ => fallback.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn notification() -> Notification {
        Notification {
            kind: NotificationKind::Trigger,
            severity: Severity::High,
            targets: vec!["oncall".into()],
            rule: "rule-2".into(),
            dedup_key: "backstop/rule-2/nightly/train".into(),
            summary: "train failed: \"quoted\" <b> & {{summary}}".into(),
            payload: json!({"pipeline": "nightly", "step": "train", "attempts": 3,
                            "runbook": {"url": "https://wiki/x?a=1|2"}}),
        }
    }

    #[test]
    fn pagerduty_dedup_keys_fit_255_characters_and_stay_distinct() {
        let short = "nightly/train/failed";
        assert_eq!(pagerduty_dedup_key(short), short);
        let a = format!("nightly/train/{}a", "x".repeat(400));
        let b = format!("nightly/train/{}b", "x".repeat(400));
        let (ka, kb) = (pagerduty_dedup_key(&a), pagerduty_dedup_key(&b));
        assert_eq!(ka.chars().count(), 255);
        assert_ne!(ka, kb);
        assert_eq!(ka, pagerduty_dedup_key(&a), "stable");
        assert!(ka.starts_with("nightly/train/"));
        let exact = "é".repeat(255);
        assert_eq!(pagerduty_dedup_key(&exact), exact);
    }

    #[test]
    fn templates_fill_whole_values_and_escape_text() {
        let n = notification();
        let fields = Fields::new(&n, 0, "nightly/train", "oncall");
        let template = r#"{"title":"[{{severity}}] {{summary}}","to":"{{targets}}","n":"{{payload.attempts}}","url":"{{runbook_url}}","missing":"{{payload.nope}}","text":"x{{payload.nope}}y","fixed":[1,true,null]}"#;
        let body = template_body(template, &fields).unwrap();
        assert_eq!(
            body,
            json!({
                "title": "[high] train failed: \"quoted\" <b> & {{summary}}",
                "to": ["oncall"],
                "n": 3,
                "url": "https://wiki/x?a=1|2",
                "missing": null,
                "text": "xy",
                "fixed": [1, true, null],
            })
        );
        // A value's own `{{...}}` is text, never a second placeholder, and
        // its quotes stay inside its string.
        let text = serde_json::to_string(&body).unwrap();
        assert!(text.contains(r#"\"quoted\""#));
    }

    #[test]
    fn slack_escapes_mrkdwn_and_links_the_runbook() {
        let body = slack_body(&notification(), 1_000, "nightly/train");
        let text = body["text"].as_str().unwrap();
        assert!(text.starts_with("*[HIGH] firing* `nightly/train`: "));
        assert!(text.contains("&lt;b&gt; &amp;"));
        assert!(text.ends_with("\n<https://wiki/x?a=1%7C2|Runbook>"));
        assert_eq!(body["attachments"][0]["color"], "#e01e5a");
    }

    #[test]
    fn routing_key_is_added_at_delivery_only() {
        let stored = serde_json::to_string(&pagerduty_body(&notification(), "s")).unwrap();
        assert!(!stored.contains("routing_key"));
        let sent: Value =
            serde_json::from_str(&with_routing_key(&stored, "R0UT1NG").unwrap()).unwrap();
        assert_eq!(sent["routing_key"], "R0UT1NG");
        assert_eq!(sent["payload"]["severity"], "error");
    }
}
