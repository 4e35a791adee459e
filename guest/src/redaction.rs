//! Secret redaction: the rules of the established secret scanners (gitleaks,
//! trufflehog, GitHub secret scanning) as data in `redaction_rules.toml`, plus
//! a policy's own patterns and allow-list. It runs in the guest so every host
//! redacts identically, and over a whole text at once (a PEM block spans
//! lines; a header's prefix gives the token after it away), before anything
//! splits or clips that text.
//!
//! Every rule runs over the original text and reports byte spans; overlapping
//! spans merge and each merged span is replaced once by `[REDACTED]`, counted
//! under the first (most specific) rule that found it. Rules never see each
//! other's output, so nothing is redacted twice or half.

use std::borrow::Cow;
use std::sync::{Arc, OnceLock};

use regex::{Regex, RegexBuilder, RegexSet, RegexSetBuilder};

use crate::document::{self, Format, Node, Value};
use crate::error::ErrorCode;
use crate::policy::regex_problem;
use crate::schema::{Validator, join};

/// What a secret is replaced with.
pub const REDACTED: &str = "[REDACTED]";
/// Longest text `redact` accepts (hosts pass tails of a few hundred KB).
pub const MAX_REDACT_BYTES: usize = 8 * 1024 * 1024;
/// Compiled size limit for one policy pattern, in bytes.
const MAX_PATTERN_BYTES: usize = 256 * 1024;
/// Most patterns / allow-list entries a policy may add.
const MAX_PATTERNS: usize = 256;
const MAX_ALLOW: usize = 1024;

const BUILTIN_RULES_TOML: &str = include_str!("redaction_rules.toml");

/// One redaction rule.
#[derive(Debug, Clone)]
pub struct Rule {
    pub id: String,
    /// Which scanner rule or standard it was drawn from (built-ins only).
    pub source: String,
    pattern: String,
    not: Option<String>,
    entropy: Option<f64>,
    /// A policy's own rule is compiled as it loads, so a bad pattern is an
    /// error there. A built-in one is compiled the first time the
    /// [`Redactor`]'s set says it may match: most texts match none, and
    /// compiling all 35 one by one cost twice the set (6.4 against 3.4 ms
    /// natively), on every failing `backstop run`. `None`: it does not
    /// compile (never for a built-in: a test compiles each).
    compiled: OnceLock<Option<Compiled>>,
}

#[derive(Debug, Clone)]
struct Compiled {
    regex: Regex,
    /// Capture groups whose text is the secret (the first that took part).
    secret_groups: Vec<usize>,
    not: Option<Regex>,
}

impl Rule {
    fn new(id: &str, pattern: &str, not: Option<&str>, entropy: Option<f64>) -> Rule {
        Rule {
            id: id.to_string(),
            source: String::new(),
            pattern: pattern.to_string(),
            not: not.map(str::to_string),
            entropy,
            compiled: OnceLock::new(),
        }
    }

    pub fn pattern(&self) -> &str {
        &self.pattern
    }

    fn compile(&self) -> Result<Compiled, String> {
        let regex = RegexBuilder::new(&self.pattern)
            .size_limit(MAX_PATTERN_BYTES)
            .build()
            .map_err(|e| regex_problem(&e))?;
        let secret_groups = regex
            .capture_names()
            .enumerate()
            .filter(|(_, name)| name.is_some_and(|n| n.starts_with("secret")))
            .map(|(i, _)| i)
            .collect();
        let not = self
            .not
            .as_deref()
            .map(|p| RegexBuilder::new(p).size_limit(MAX_PATTERN_BYTES).build())
            .transpose()
            .map_err(|e| format!("`not`: {}", regex_problem(&e)))?;
        Ok(Compiled {
            regex,
            secret_groups,
            not,
        })
    }

    fn compiled(&self) -> Option<&Compiled> {
        self.compiled.get_or_init(|| self.compile().ok()).as_ref()
    }

    /// Byte spans of the secrets this rule finds in `text`.
    fn spans(&self, text: &str, out: &mut Vec<(usize, usize)>) {
        let Some(compiled) = self.compiled() else {
            return;
        };
        for caps in compiled.regex.captures_iter(text) {
            let m = if compiled.secret_groups.is_empty() {
                caps.get(0)
            } else {
                compiled.secret_groups.iter().find_map(|&g| caps.get(g))
            };
            let Some(m) = m else { continue };
            let value = m.as_str();
            if value.is_empty() || value == REDACTED {
                continue;
            }
            if compiled.not.as_ref().is_some_and(|n| n.is_match(value)) {
                continue;
            }
            if let Some(min) = self.entropy
                && !looks_random(value, min)
            {
                continue;
            }
            out.push((m.start(), m.end()));
        }
    }
}

/// A rule set with its allow-list, ready to run.
#[derive(Debug, Clone)]
pub struct Redactor {
    rules: Vec<Arc<Rule>>,
    /// One pass that says which rules can match at all (most text has none).
    any: RegexSet,
    allow: Vec<String>,
    allow_patterns: Vec<Regex>,
}

/// The outcome of one redaction: the text with every secret replaced, and
/// how many secrets each rule replaced (rules that found nothing are left
/// out; order is rule order). Never the values.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Report {
    pub text: String,
    pub counts: Vec<(String, u32)>,
}

impl Report {
    pub fn total(&self) -> u32 {
        self.counts.iter().map(|(_, n)| n).sum()
    }
}

impl Redactor {
    /// The built-in rules alone (parsed once per process).
    pub fn builtin() -> Arc<Redactor> {
        Self::builtin_shared().clone()
    }

    /// The built-in redactor, compiled on first use: its patterns cost ~10 ms
    /// to compile in the guest, which a process that never redacts (a
    /// successful `backstop run`, a classification) should not pay.
    pub fn builtin_ref() -> &'static Redactor {
        Self::builtin_shared()
    }

    fn builtin_shared() -> &'static Arc<Redactor> {
        static BUILTIN: OnceLock<Arc<Redactor>> = OnceLock::new();
        BUILTIN.get_or_init(|| {
            let rules = builtin_rules();
            Arc::new(Redactor::new(rules.to_vec(), Vec::new(), Vec::new()))
        })
    }

    fn new(rules: Vec<Arc<Rule>>, allow: Vec<String>, allow_patterns: Vec<Regex>) -> Redactor {
        let any = RegexSetBuilder::new(rules.iter().map(|r| r.pattern()))
            .size_limit(MAX_PATTERN_BYTES * (rules.len() + 1))
            .build()
            .unwrap_or_else(|_| RegexSet::empty());
        Redactor {
            rules,
            any,
            allow,
            allow_patterns,
        }
    }

    pub fn rules(&self) -> impl Iterator<Item = &Rule> {
        self.rules.iter().map(|r| r.as_ref())
    }

    /// Replace every secret in `text`. ANSI escape sequences (colours, cursor
    /// moves) are removed first: they could hide a secret from its pattern
    /// (`password=\x1b[1mhunter2`), and notifications have no use for them.
    pub fn redact(&self, text: &str) -> Report {
        let text = strip_ansi(text);
        let text = text.as_ref();
        let mut spans: Vec<(usize, usize, usize)> = Vec::new();
        let candidates: Vec<usize> = if self.any.is_empty() && !self.rules.is_empty() {
            // The set could not be built (only when its combined size is over
            // the limit): try every rule.
            (0..self.rules.len()).collect()
        } else {
            self.any.matches(text).into_iter().collect()
        };
        let mut found = Vec::new();
        for index in candidates {
            found.clear();
            self.rules[index].spans(text, &mut found);
            for &(start, end) in &found {
                if !self.allowed(&text[start..end]) {
                    spans.push((start, end, index));
                }
            }
        }
        if spans.is_empty() {
            return Report {
                text: text.to_string(),
                counts: Vec::new(),
            };
        }
        spans.sort_unstable();
        // Merge overlapping spans; a merged span counts for its first rule.
        let mut merged: Vec<(usize, usize, usize)> = Vec::with_capacity(spans.len());
        for (start, end, rule) in spans {
            match merged.last_mut() {
                Some(last) if start < last.1 => {
                    last.1 = last.1.max(end);
                    last.2 = last.2.min(rule);
                }
                _ => merged.push((start, end, rule)),
            }
        }
        let mut counts = vec![0u32; self.rules.len()];
        let mut out = String::with_capacity(text.len());
        let mut at = 0;
        for (start, end, rule) in merged {
            out.push_str(&text[at..start]);
            out.push_str(REDACTED);
            at = end;
            counts[rule] = counts[rule].saturating_add(1);
        }
        out.push_str(&text[at..]);
        Report {
            text: out,
            counts: counts
                .into_iter()
                .enumerate()
                .filter(|&(_, n)| n > 0)
                .map(|(i, n)| (self.rules[i].id.clone(), n))
                .collect(),
        }
    }

    fn allowed(&self, value: &str) -> bool {
        self.allow.iter().any(|a| a == value)
            || self.allow_patterns.iter().any(|p| p.is_match(value))
    }

    /// Read a policy's `redaction` table:
    ///
    /// ```toml
    /// [redaction]
    /// patterns = [{ id = "internal-token", regex = 'itk_[a-z0-9]{32}' }]
    /// allow = ["AKIAIOSFODNN7EXAMPLE"]       # exact values left alone
    /// allow_patterns = ['^test-[a-z]+$']    # values matching these left alone
    /// disable = ["high-entropy-near-name"]  # built-in rules turned off
    /// ```
    pub fn read(v: &mut Validator<'_>, path: &str, node: &Node) -> Arc<Redactor> {
        let Some(t) = v.table(
            path,
            node,
            &["patterns", "allow", "allow_patterns", "disable"],
        ) else {
            return Redactor::builtin();
        };
        let builtin = builtin_rules();
        let mut rules: Vec<Arc<Rule>> = Vec::new();
        if let Some(n) = t.get("patterns") {
            let p = join(path, "patterns");
            match &n.value {
                Value::Array(items) if items.len() > MAX_PATTERNS => v.report(
                    ErrorCode::TooLarge,
                    &p,
                    n.offset,
                    format!("{} patterns; the limit is {MAX_PATTERNS}", items.len()),
                ),
                Value::Array(items) => {
                    for (i, item) in items.iter().enumerate() {
                        let ip = format!("{p}[{i}]");
                        if let Some(rule) = read_rule(v, &ip, item, true) {
                            let taken = rules.iter().chain(builtin.iter()).any(|r| r.id == rule.id);
                            if taken {
                                v.report(
                                    ErrorCode::DuplicateId,
                                    &join(&ip, "id"),
                                    item.offset,
                                    format!("redaction pattern id `{}` is already used (built-in ids are reserved)", rule.id),
                                );
                            } else {
                                rules.push(Arc::new(rule));
                            }
                        }
                    }
                }
                _ => v.wrong_type(&p, n, "an array of tables"),
            }
        }
        let mut disabled: Vec<String> = Vec::new();
        if let Some(n) = t.get("disable") {
            let known: Vec<&str> = builtin.iter().map(|r| r.id.as_str()).collect();
            for (p, item) in v.one_or_many(&join(path, "disable"), n) {
                if let Some(id) = v.string(&p, item) {
                    if known.contains(&id) {
                        disabled.push(id.to_string());
                    } else {
                        let message = match crate::schema::suggest(id, &known) {
                            Some(close) => format!(
                                "`{id}` is not a built-in redaction rule; did you mean `{close}`?"
                            ),
                            None => format!(
                                "`{id}` is not a built-in redaction rule (see docs/POLICY.md for the list)"
                            ),
                        };
                        v.report(ErrorCode::InvalidValue, &p, item.offset, message);
                    }
                }
            }
        }
        rules.extend(
            builtin
                .iter()
                .filter(|r| !disabled.contains(&r.id))
                .cloned(),
        );
        let mut allow = Vec::new();
        if let Some(n) = t.get("allow") {
            let list = v.one_or_many(&join(path, "allow"), n);
            if list.len() > MAX_ALLOW {
                v.report(
                    ErrorCode::TooLarge,
                    &join(path, "allow"),
                    n.offset,
                    format!("{} values; the limit is {MAX_ALLOW}", list.len()),
                );
            }
            for (p, item) in list {
                match v.string(&p, item) {
                    Some("") => v.report(
                        ErrorCode::InvalidValue,
                        &p,
                        item.offset,
                        "an empty allow-list value matches nothing",
                    ),
                    Some(s) => allow.push(s.to_string()),
                    None => {}
                }
            }
        }
        let mut allow_patterns = Vec::new();
        if let Some(n) = t.get("allow_patterns") {
            let list = v.one_or_many(&join(path, "allow_patterns"), n);
            if list.len() > MAX_ALLOW {
                v.report(
                    ErrorCode::TooLarge,
                    &join(path, "allow_patterns"),
                    n.offset,
                    format!("{} patterns; the limit is {MAX_ALLOW}", list.len()),
                );
            }
            for (p, item) in list {
                if let Some(s) = v.string(&p, item) {
                    match RegexBuilder::new(s).size_limit(MAX_PATTERN_BYTES).build() {
                        Ok(re) => allow_patterns.push(re),
                        Err(e) => {
                            v.report(ErrorCode::InvalidRegex, &p, item.offset, regex_problem(&e))
                        }
                    }
                }
            }
        }
        Arc::new(Redactor::new(rules, allow, allow_patterns))
    }
}

/// One `{ id, regex, not?, entropy? }` table: a policy pattern, compiled and
/// checked now (`compile`), or a built-in rule, compiled on first use.
fn read_rule(v: &mut Validator<'_>, path: &str, node: &Node, compile: bool) -> Option<Rule> {
    let before = v.errors.len();
    let t = v.table(path, node, &["id", "regex", "not", "entropy", "source"])?;
    let id = match t.get("id") {
        None => {
            v.report(
                ErrorCode::MissingField,
                &join(path, "id"),
                t.offset,
                "a redaction pattern needs an `id` (reported with its count)",
            );
            None
        }
        Some(n) => v.string(&join(path, "id"), n).and_then(|id| {
            let valid = !id.is_empty()
                && id.len() <= 128
                && id
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'));
            if !valid {
                v.report(
                    ErrorCode::InvalidValue,
                    &join(path, "id"),
                    n.offset,
                    "a redaction pattern id must be 1-128 characters of letters, digits and - _ .",
                );
            }
            valid.then(|| id.to_string())
        }),
    };
    let regex = match t.get("regex") {
        None => {
            v.report(
                ErrorCode::MissingField,
                &join(path, "regex"),
                t.offset,
                "a redaction pattern needs a `regex`",
            );
            None
        }
        Some(n) => v.string(&join(path, "regex"), n).map(|s| (s, n.offset)),
    };
    let not = t
        .get("not")
        .and_then(|n| v.string(&join(path, "not"), n).map(|s| (s, n.offset)));
    let entropy = t
        .get("entropy")
        .and_then(|n| v.number(&join(path, "entropy"), n, 0.0, 8.0));
    let source = t
        .get("source")
        .and_then(|n| v.string(&join(path, "source"), n))
        .unwrap_or_default()
        .to_string();
    let (id, (regex, regex_at)) = (id?, regex?);
    if v.errors.len() != before {
        return None;
    }
    if regex.is_empty() {
        v.report(
            ErrorCode::InvalidRegex,
            &join(path, "regex"),
            regex_at,
            "an empty pattern would match everywhere",
        );
        return None;
    }
    let mut rule = Rule::new(&id, regex, not.map(|(s, _)| s), entropy);
    rule.source = source;
    if !compile {
        return Some(rule);
    }
    match rule.compile() {
        Ok(compiled) => {
            if compiled.regex.is_match("") {
                v.report(
                    ErrorCode::InvalidRegex,
                    &join(path, "regex"),
                    regex_at,
                    "this pattern matches the empty string, so it would match everywhere",
                );
                return None;
            }
            let _ = rule.compiled.set(Some(compiled));
            Some(rule)
        }
        Err(message) => {
            let (field, at) = if message.starts_with("`not`") {
                ("not", not.map_or(regex_at, |(_, at)| at))
            } else {
                ("regex", regex_at)
            };
            v.report(ErrorCode::InvalidRegex, &join(path, field), at, message);
            None
        }
    }
}

/// The built-in rules, parsed from `redaction_rules.toml` on first use.
pub fn builtin_rules() -> Arc<Vec<Arc<Rule>>> {
    static RULES: OnceLock<Arc<Vec<Arc<Rule>>>> = OnceLock::new();
    RULES
        .get_or_init(|| {
            let (rules, errors) = parse_builtin();
            // A broken built-in file must never take a host down: tests assert it is clean.
            debug_assert!(errors.is_empty(), "{errors:?}");
            Arc::new(rules.into_iter().map(Arc::new).collect())
        })
        .clone()
}

fn parse_builtin() -> (Vec<Rule>, Vec<crate::error::PolicyError>) {
    let mut v = Validator::new(BUILTIN_RULES_TOML);
    let mut rules = Vec::new();
    let Ok(root) = document::parse(BUILTIN_RULES_TOML, Format::Toml) else {
        return (
            rules,
            vec![crate::error::PolicyError::new(
                ErrorCode::Syntax,
                "",
                "redaction_rules.toml",
            )],
        );
    };
    if let Some(t) = v.table("", &root, &["rules"])
        && let Some(n) = t.get("rules")
        && let Value::Array(items) = &n.value
    {
        for (i, item) in items.iter().enumerate() {
            if let Some(rule) = read_rule(&mut v, &format!("rules[{i}]"), item, false) {
                rules.push(rule);
            }
        }
    }
    (rules, v.errors)
}

/// Shannon entropy (bits per character) at least `min`, with at least one
/// letter and one digit: words, paths and hex-free prose stay readable.
fn looks_random(value: &str, min: f64) -> bool {
    let bytes = value.as_bytes();
    if !bytes.iter().any(u8::is_ascii_digit) || !bytes.iter().any(u8::is_ascii_alphabetic) {
        return false;
    }
    entropy(value) >= min
}

pub fn entropy(value: &str) -> f64 {
    let mut counts = [0u32; 256];
    for &b in value.as_bytes() {
        counts[usize::from(b)] += 1;
    }
    let n = value.len() as f64;
    if n == 0.0 {
        return 0.0;
    }
    counts
        .iter()
        .filter(|&&c| c > 0)
        .map(|&c| {
            let p = f64::from(c) / n;
            -p * p.log2()
        })
        .sum()
}

/// Remove ANSI escape sequences: CSI (`ESC [ ... final`), OSC (`ESC ] ... BEL`
/// or `ESC \`) and two-byte escapes.
pub fn strip_ansi(text: &str) -> Cow<'_, str> {
    if !text.contains('\x1b') && !text.contains('\u{9b}') {
        return Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len());
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\x1b' => match chars.peek() {
                Some('[') => {
                    chars.next();
                    skip_csi(&mut chars);
                }
                Some(']') => {
                    chars.next();
                    while let Some(c) = chars.next() {
                        if c == '\x07' {
                            break;
                        }
                        if c == '\x1b' {
                            if chars.peek() == Some(&'\\') {
                                chars.next();
                            }
                            break;
                        }
                    }
                }
                Some(&c) if ('@'..='_').contains(&c) => {
                    chars.next();
                }
                _ => {}
            },
            '\u{9b}' => skip_csi(&mut chars),
            c => out.push(c),
        }
    }
    Cow::Owned(out)
}

fn skip_csi(chars: &mut std::iter::Peekable<std::str::Chars<'_>>) {
    // Parameter and intermediate bytes, then one final byte.
    while let Some(&c) = chars.peek() {
        chars.next();
        if ('@'..='~').contains(&c) {
            break;
        }
        if !(' '..='?').contains(&c) {
            break;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn builtin_rules_file_is_valid() {
        let (rules, errors) = parse_builtin();
        assert!(errors.is_empty(), "{errors:?}");
        assert!(rules.len() >= 30);
        let mut ids: Vec<&str> = rules.iter().map(|r| r.id.as_str()).collect();
        ids.sort_unstable();
        ids.dedup();
        assert_eq!(ids.len(), rules.len(), "built-in ids are unique");
        assert!(
            rules.iter().all(|r| !r.source.is_empty()),
            "every built-in names its source"
        );
        // They are compiled on first use: each must compile then, and match
        // no empty string, as a policy's own patterns are checked at load.
        for rule in &rules {
            let compiled = rule.compile();
            let compiled = compiled.unwrap_or_else(|e| panic!("{}: {e}", rule.id));
            assert!(
                !compiled.regex.is_match(""),
                "{} matches the empty string",
                rule.id
            );
        }
    }

    fn redact(text: &str) -> Report {
        Redactor::builtin().redact(text)
    }

    #[test]
    fn merges_overlaps_and_counts_the_most_specific_rule() {
        let r = redact("Authorization: Bearer ghp_abcdefghijklmnopqrstuvwxyz0123456789");
        assert_eq!(r.text, "Authorization: Bearer [REDACTED]");
        assert_eq!(r.counts, vec![("github-token".to_string(), 1)]);
    }

    #[test]
    fn is_idempotent() {
        let once = redact("password=\"correct horse S08\" and https://a:p/w@h@db.example/x");
        assert_eq!(
            once.text,
            "password=\"[REDACTED]\" and https://a:[REDACTED]@db.example/x"
        );
        let twice = redact(&once.text);
        assert_eq!(twice.text, once.text);
        assert!(twice.counts.is_empty(), "{:?}", twice.counts);
    }

    #[test]
    fn ansi_codes_do_not_hide_secrets() {
        let r = redact("\x1b[31mpassword=\x1b[1mhunter2\x1b[0m done");
        assert_eq!(r.text, "password=[REDACTED] done");
    }

    #[test]
    fn entropy_is_bits_per_character() {
        assert_eq!(entropy("aaaa"), 0.0);
        assert!((entropy("abcd") - 2.0).abs() < 1e-9);
    }
}
