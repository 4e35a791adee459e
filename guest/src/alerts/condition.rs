//! Alert conditions: CEL expressions over the documented facts.
//!
//! The seed guide writes `a >= 3 or b >= 60`; CEL spells that `||`. Outside
//! string literals, the words `and`, `or` and `not` (not after a `.`) are read
//! as `&&`, `||` and `!`, so both spellings load.

use std::collections::HashMap;
use std::sync::Arc;

use cel::{Context, Env, Program, Value};

/// Longest condition accepted, and deepest bracket nesting (the CEL parser recurses).
pub const MAX_CONDITION_CHARS: usize = 4096;
pub const MAX_CONDITION_DEPTH: usize = 32;

#[derive(Debug)]
pub struct Condition {
    pub source: String,
    program: Program,
    /// The variables it reads, so a context need hold no others.
    needs: Variables,
}

/// Which of the CEL variables a condition reads (`run`, `error`, ...):
/// building a variable's value is most of an event's context, and most
/// conditions read one or two.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Variables {
    run: bool,
    error: bool,
    sla: bool,
    event: bool,
    labels: bool,
    pipeline: bool,
    step: bool,
}

impl Variables {
    fn of(program: &Program) -> Variables {
        let refs = program.references();
        Variables {
            run: refs.has_variable("run"),
            error: refs.has_variable("error"),
            sla: refs.has_variable("sla"),
            event: refs.has_variable("event"),
            labels: refs.has_variable("labels"),
            pipeline: refs.has_variable("pipeline"),
            step: refs.has_variable("step"),
        }
    }

    /// What any of `conditions` reads.
    pub fn read_by<'a>(conditions: impl IntoIterator<Item = &'a Condition>) -> Variables {
        conditions.into_iter().fold(Variables::default(), |a, c| {
            let b = c.needs;
            Variables {
                run: a.run || b.run,
                error: a.error || b.error,
                sla: a.sla || b.sla,
                event: a.event || b.event,
                labels: a.labels || b.labels,
                pipeline: a.pipeline || b.pipeline,
                step: a.step || b.step,
            }
        })
    }
}

/// The facts a condition sees.
#[derive(Debug, Clone, Default)]
pub struct Facts {
    pub run_id: String,
    pub pipeline: String,
    pub step: String,
    pub failure_count: i64,
    pub consecutive_failures: i64,
    pub attempts: i64,
    pub status: &'static str,
    pub error_class: String,
    pub error_type: String,
    pub error_code: String,
    pub error_message: String,
    pub late_minutes: i64,
    pub event: &'static str,
    pub labels: Vec<(String, String)>,
}

impl Condition {
    pub fn compile(source: &str) -> Result<Condition, String> {
        if source.chars().count() > MAX_CONDITION_CHARS {
            return Err(format!(
                "the condition is longer than {MAX_CONDITION_CHARS} characters"
            ));
        }
        let translated = translate_words(source);
        let mut depth = 0usize;
        for c in translated.chars() {
            match c {
                '(' | '[' | '{' => depth += 1,
                ')' | ']' | '}' => depth = depth.saturating_sub(1),
                _ => {}
            }
            if depth > MAX_CONDITION_DEPTH {
                return Err(format!(
                    "the condition nests deeper than {MAX_CONDITION_DEPTH} brackets"
                ));
            }
        }
        let program = Program::compile(&translated).map_err(|e| {
            let text = e.to_string();
            format!(
                "not a valid CEL expression: {}",
                text.lines().next().unwrap_or("parse error").trim()
            )
        })?;
        let condition = Condition {
            source: source.to_string(),
            needs: Variables::of(&program),
            program,
        };
        // Evaluate once against sample facts, so a misspelt fact or a
        // non-boolean result is a load error rather than a silent miss at 3 a.m.
        // Labels are free-form, so every label the condition names gets a
        // sample value.
        let sample = Facts {
            status: "failed",
            event: "run-failed",
            labels: named_labels(&translated)
                .into_iter()
                .map(|k| (k, String::new()))
                .collect(),
            ..Facts::default()
        };
        condition.evaluate(&sample)?;
        Ok(condition)
    }

    pub fn evaluate(&self, facts: &Facts) -> Result<bool, String> {
        self.evaluate_in(&facts.context(self.needs))
    }

    /// Evaluate in a context built once for all of an event's rules
    /// (building the context is the expensive part).
    pub fn evaluate_in(&self, ctx: &Context<'_, '_>) -> Result<bool, String> {
        match self.program.execute(ctx) {
            Ok(Value::Bool(b)) => Ok(b),
            Ok(other) => Err(format!(
                "the condition must be true or false, but gives {:?}",
                other.type_of()
            )),
            Err(e) => Err(format!("the condition cannot be evaluated: {e}")),
        }
    }
}

impl Facts {
    /// The CEL variables `needs` names, of `run`, `error`, `sla`, `event`,
    /// `labels`, `pipeline` and `step` (a condition reads none of the others,
    /// so leaving them out changes no result).
    pub fn context(&self, needs: Variables) -> Context<'static, 'static> {
        let facts = self;
        let mut ctx = Context::with_env(stdlib());
        let s = |v: &str| Value::String(v.to_string().into());
        if needs.run {
            let run: HashMap<&str, Value> = HashMap::from([
                ("id", s(&facts.run_id)),
                ("pipeline", s(&facts.pipeline)),
                ("step", s(&facts.step)),
                ("failure_count", Value::Int(facts.failure_count)),
                (
                    "consecutive_failures",
                    Value::Int(facts.consecutive_failures),
                ),
                ("attempts", Value::Int(facts.attempts)),
                ("status", s(facts.status)),
            ]);
            ctx.add_variable_from_value("run", run);
        }
        if needs.error {
            let error: HashMap<&str, Value> = HashMap::from([
                ("class", s(&facts.error_class)),
                ("type", s(&facts.error_type)),
                ("code", s(&facts.error_code)),
                ("message", s(&facts.error_message)),
            ]);
            ctx.add_variable_from_value("error", error);
        }
        if needs.sla {
            let sla: HashMap<&str, Value> =
                HashMap::from([("late_minutes", Value::Int(facts.late_minutes))]);
            ctx.add_variable_from_value("sla", sla);
        }
        if needs.event {
            let event: HashMap<&str, Value> = HashMap::from([("kind", s(facts.event))]);
            ctx.add_variable_from_value("event", event);
        }
        if needs.labels {
            let labels: HashMap<String, Value> = facts
                .labels
                .iter()
                .map(|(k, v)| (k.clone(), s(v)))
                .collect();
            ctx.add_variable_from_value("labels", labels);
        }
        if needs.pipeline {
            ctx.add_variable_from_value("pipeline", s(&facts.pipeline));
        }
        if needs.step {
            ctx.add_variable_from_value("step", s(&facts.step));
        }
        ctx
    }
}

/// CEL's standard declarations, built once per instance: what
/// `Context::default` builds for every context (some hundred overloads,
/// about a fifth of `alerts simulate`'s time when built per event). An
/// `Env` is immutable once built, so every context may share it.
fn stdlib() -> Arc<Env> {
    thread_local! {
        static STDLIB: Arc<Env> = Arc::new(Env::stdlib());
    }
    STDLIB.with(Arc::clone)
}

/// Label names a condition mentions as `labels.name` or `labels["name"]`.
fn named_labels(source: &str) -> Vec<String> {
    use std::sync::OnceLock;
    static LABEL: OnceLock<regex::Regex> = OnceLock::new();
    let re = LABEL.get_or_init(|| {
        regex::Regex::new(
            r#"labels\s*(?:\.\s*([A-Za-z_][A-Za-z0-9_]*)|\[\s*["']([^"']*)["']\s*\])"#,
        )
        .expect("label pattern is valid")
    });
    re.captures_iter(source)
        .filter_map(|c| {
            c.get(1)
                .or_else(|| c.get(2))
                .map(|m| m.as_str().to_string())
        })
        .collect()
}

/// `and`/`or`/`not` as words, outside strings and not after a `.`, become CEL operators.
fn translate_words(source: &str) -> String {
    let mut out = String::with_capacity(source.len());
    let chars: Vec<char> = source.chars().collect();
    let mut i = 0;
    let mut quote: Option<char> = None;
    while i < chars.len() {
        let c = chars[i];
        if let Some(q) = quote {
            out.push(c);
            if c == '\\' && i + 1 < chars.len() {
                out.push(chars[i + 1]);
                i += 2;
                continue;
            }
            if c == q {
                quote = None;
            }
            i += 1;
            continue;
        }
        if c == '"' || c == '\'' {
            quote = Some(c);
            out.push(c);
            i += 1;
            continue;
        }
        if c.is_alphabetic() || c == '_' {
            let start = i;
            while i < chars.len() && (chars[i].is_alphanumeric() || chars[i] == '_') {
                i += 1;
            }
            let word: String = chars[start..i].iter().collect();
            let after_dot = out.trim_end().ends_with('.');
            match (word.as_str(), after_dot) {
                ("and", false) => out.push_str("&&"),
                ("or", false) => out.push_str("||"),
                ("not", false) => out.push('!'),
                _ => out.push_str(&word),
            }
            continue;
        }
        out.push(c);
        i += 1;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_context_with_only_the_variables_read_gives_every_result_a_full_one_does() {
        let all = Variables {
            run: true,
            error: true,
            sla: true,
            event: true,
            labels: true,
            pipeline: true,
            step: true,
        };
        let facts = Facts {
            run_id: "r1".into(),
            pipeline: "nightly".into(),
            step: "load".into(),
            failure_count: 2,
            consecutive_failures: 3,
            attempts: 4,
            status: "failed",
            error_class: "transient".into(),
            error_type: "TimeoutError".into(),
            error_code: "ETIMEDOUT".into(),
            error_message: "timed out".into(),
            late_minutes: 61,
            event: "run-failed",
            labels: vec![("team".into(), "ml".into())],
        };
        for source in [
            "run.failure_count == 2",
            "run.consecutive_failures >= 3 or sla.late_minutes >= 60",
            "error.class == 'transient' and error.message.contains('out')",
            "event.kind == 'run-failed' && labels.team == 'ml'",
            "pipeline == 'nightly' && step.startsWith('lo')",
            "has(labels.team) && run.status == 'failed'",
            "[1, 2].exists(x, x == run.attempts - 2)",
            "true",
        ] {
            let condition = Condition::compile(source).unwrap();
            let needs = Variables::read_by([&condition]);
            assert_eq!(
                condition.evaluate_in(&facts.context(needs)),
                condition.evaluate_in(&facts.context(all)),
                "{source}"
            );
        }
        // The point of it: a condition on the run builds no other variable.
        let on_the_run = Condition::compile("run.failure_count == 1").unwrap();
        assert_eq!(
            Variables::read_by([&on_the_run]),
            Variables {
                run: true,
                ..Variables::default()
            }
        );
    }

    fn facts() -> Facts {
        Facts {
            consecutive_failures: 3,
            failure_count: 1,
            status: "failed",
            event: "run-failed",
            ..Facts::default()
        }
    }

    #[test]
    fn the_seed_conditions_compile_and_evaluate() {
        let c =
            Condition::compile("run.consecutive_failures >= 3 or sla.late_minutes >= 60").unwrap();
        assert!(c.evaluate(&facts()).unwrap());
        let c = Condition::compile("run.failure_count==1").unwrap();
        assert!(c.evaluate(&facts()).unwrap());
        let c = Condition::compile("not (run.failure_count == 1) and error.class == 'transient'")
            .unwrap();
        assert!(!c.evaluate(&facts()).unwrap());
    }

    #[test]
    fn words_inside_strings_and_fields_are_left_alone() {
        assert_eq!(translate_words("a or b"), "a || b");
        assert_eq!(
            translate_words("x.or == 'and or not'"),
            "x.or == 'and or not'"
        );
        assert_eq!(translate_words("notable and ordinal"), "notable && ordinal");
    }

    #[test]
    fn labels_named_by_a_condition_need_not_exist_at_load() {
        let c = Condition::compile("labels.team == 'ml' && labels['cost-center'] != ''").unwrap();
        assert_eq!(
            c.evaluate(&facts()).ok(),
            None,
            "a missing label cannot be evaluated"
        );
        let with = Facts {
            labels: vec![
                ("team".into(), "ml".into()),
                ("cost-center".into(), "42".into()),
            ],
            ..facts()
        };
        assert!(c.evaluate(&with).unwrap());
    }

    #[test]
    fn bad_conditions_are_load_errors() {
        assert!(
            Condition::compile("run.failures >= 3")
                .unwrap_err()
                .contains("cannot be evaluated")
        );
        assert!(
            Condition::compile("run.failure_count +")
                .unwrap_err()
                .contains("not a valid CEL")
        );
        assert!(
            Condition::compile("run.failure_count + 1")
                .unwrap_err()
                .contains("true or false")
        );
        assert!(
            Condition::compile(&"(".repeat(100))
                .unwrap_err()
                .contains("nests deeper")
        );
    }
}
