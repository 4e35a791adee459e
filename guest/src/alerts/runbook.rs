//! The runbook's retry command. A person on call copies `how_to_retry` into a
//! shell, so values are never pasted in as text: each `{run_id}`,
//! `{pipeline}` and `{step}` becomes exactly one POSIX shell word (quoted
//! when it needs it), substitution happens once in a single pass (a run id
//! `{step}` stays literal), and the same command is also given as an argv
//! list (`how_to_retry_argv`) for shells that do not read POSIX quoting
//! (PowerShell, cmd) or for running it without a shell.

/// Facts a retry command template may name.
pub const PLACEHOLDERS: &[&str] = &["run_id", "pipeline", "step"];

#[derive(Debug, Clone, PartialEq, Eq)]
enum Piece {
    /// Template text, exactly as written (shell syntax included).
    Text(String),
    /// A placeholder outside quotes: index into [`PLACEHOLDERS`].
    Value(usize),
    /// Unquoted whitespace between words (for the argv form).
    Break,
}

/// A parsed `runbook.retry_command`: the shell text and the argv form.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Template {
    /// For the shell form: text and values, in order.
    shell: Vec<Piece>,
    /// For the argv form: words of text (quotes removed) and values.
    argv: Vec<Piece>,
}

/// Values to fill in, in [`PLACEHOLDERS`] order.
pub struct Values<'a> {
    pub run_id: &'a str,
    pub pipeline: &'a str,
    pub step: &'a str,
}

impl Values<'_> {
    fn get(&self, index: usize) -> &str {
        match index {
            0 => self.run_id,
            1 => self.pipeline,
            _ => self.step,
        }
    }
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Quote {
    None,
    Single,
    Double,
}

impl Template {
    /// Parse a template, or say what is wrong (with the character column).
    pub fn parse(text: &str) -> Result<Template, String> {
        let mut shell = Vec::new();
        let mut argv = Vec::new();
        let mut lit = String::new();
        let mut word = String::new();
        let mut in_word = false;
        let mut quote = Quote::None;
        let chars: Vec<char> = text.chars().collect();
        let mut i = 0;
        while i < chars.len() {
            let c = chars[i];
            match quote {
                Quote::Single => {
                    lit.push(c);
                    if c == '\'' {
                        quote = Quote::None;
                    } else {
                        word.push(c);
                    }
                    check_quoted_placeholder(&chars, i, "single")?;
                }
                Quote::Double => {
                    lit.push(c);
                    if c == '"' {
                        quote = Quote::None;
                    } else if c == '\\' && i + 1 < chars.len() {
                        i += 1;
                        lit.push(chars[i]);
                        if !matches!(chars[i], '$' | '`' | '"' | '\\' | '\n') {
                            word.push('\\');
                        }
                        word.push(chars[i]);
                    } else {
                        word.push(c);
                    }
                    check_quoted_placeholder(&chars, i, "double")?;
                }
                Quote::None => match c {
                    '\'' => {
                        quote = Quote::Single;
                        in_word = true;
                        lit.push(c);
                    }
                    '"' => {
                        quote = Quote::Double;
                        in_word = true;
                        lit.push(c);
                    }
                    '\\' if i + 1 < chars.len() => {
                        lit.push(c);
                        i += 1;
                        lit.push(chars[i]);
                        word.push(chars[i]);
                        in_word = true;
                    }
                    c if c.is_whitespace() => {
                        lit.push(c);
                        if in_word {
                            argv.push(Piece::Text(std::mem::take(&mut word)));
                            argv.push(Piece::Break);
                            in_word = false;
                        }
                    }
                    '{' if i == 0 || chars[i - 1] != '$' => match placeholder_at(&chars, i) {
                        Some((index, len)) => {
                            if !lit.is_empty() {
                                shell.push(Piece::Text(std::mem::take(&mut lit)));
                            }
                            shell.push(Piece::Value(index));
                            if !word.is_empty() {
                                argv.push(Piece::Text(std::mem::take(&mut word)));
                            }
                            argv.push(Piece::Value(index));
                            in_word = true;
                            i += len;
                            continue;
                        }
                        None => {
                            if let Some(name) = braced_name(&chars, i) {
                                let known = PLACEHOLDERS.join("}, {");
                                return Err(format!(
                                    "`{{{name}}}` at column {} is not a placeholder; expected {{{known}}}",
                                    i + 1
                                ));
                            }
                            lit.push(c);
                            word.push(c);
                            in_word = true;
                        }
                    },
                    c => {
                        lit.push(c);
                        word.push(c);
                        in_word = true;
                    }
                },
            }
            i += 1;
        }
        if quote != Quote::None {
            return Err("the template has an unterminated quote".into());
        }
        if !lit.is_empty() {
            shell.push(Piece::Text(lit));
        }
        if in_word {
            argv.push(Piece::Text(word));
        }
        Ok(Template { shell, argv })
    }

    /// The command for a POSIX shell (sh, bash, zsh): every value one word.
    pub fn shell(&self, values: &Values<'_>) -> String {
        let mut out = String::new();
        for piece in &self.shell {
            match piece {
                Piece::Text(t) => out.push_str(t),
                Piece::Value(i) => out.push_str(&sh_quote(values.get(*i))),
                Piece::Break => {}
            }
        }
        out
    }

    /// The command as an argument vector, for running without a shell.
    pub fn argv(&self, values: &Values<'_>) -> Vec<String> {
        let mut out = Vec::new();
        let mut word: Option<String> = None;
        for piece in &self.argv {
            match piece {
                Piece::Text(t) => word.get_or_insert_with(String::new).push_str(t),
                Piece::Value(i) => word
                    .get_or_insert_with(String::new)
                    .push_str(values.get(*i)),
                Piece::Break => out.extend(word.take()),
            }
        }
        out.extend(word);
        out
    }
}

/// The default retry command, in both forms.
pub fn default_command(values: &Values<'_>) -> (String, Vec<String>) {
    let shell = format!(
        "backstop run --run-id {} --step {} -- <the step's command>",
        sh_quote(values.run_id),
        sh_quote(values.step)
    );
    let argv = [
        "backstop",
        "run",
        "--run-id",
        values.run_id,
        "--step",
        values.step,
        "--",
    ]
    .map(String::from)
    .to_vec();
    (shell, argv)
}

/// Quote `value` as one POSIX shell word: unchanged when it is made only of
/// characters no shell treats specially, otherwise in single quotes (inside
/// which nothing is special), with each `'` written as `'\''`.
pub fn sh_quote(value: &str) -> String {
    let plain = !value.is_empty()
        && value.chars().all(|c| {
            c.is_ascii_alphanumeric()
                || matches!(c, '-' | '_' | '.' | '/' | ':' | ',' | '+' | '@' | '%' | '=')
        });
    if plain {
        return value.to_string();
    }
    format!("'{}'", value.replace('\'', r"'\''"))
}

/// `{name}` at `i` when `name` is a placeholder: (its index, its length in chars).
fn placeholder_at(chars: &[char], i: usize) -> Option<(usize, usize)> {
    let name = braced_name(chars, i)?;
    let index = PLACEHOLDERS.iter().position(|p| *p == name)?;
    Some((index, name.chars().count() + 2))
}

/// The identifier in `{identifier}` starting at `i`, if that is what is there.
fn braced_name(chars: &[char], i: usize) -> Option<String> {
    if chars.get(i) != Some(&'{') {
        return None;
    }
    let mut name = String::new();
    for &c in &chars[i + 1..] {
        if c == '}' {
            return (!name.is_empty()).then_some(name);
        }
        if !(c.is_ascii_alphanumeric() || c == '_') || name.len() > 64 {
            return None;
        }
        name.push(c);
    }
    None
}

fn check_quoted_placeholder(chars: &[char], i: usize, kind: &str) -> Result<(), String> {
    if let Some((index, _)) = placeholder_at(chars, i) {
        return Err(format!(
            "`{{{}}}` at column {} is inside {kind} quotes; backstop quotes each value as one shell word itself, so write the placeholder without quotes",
            PLACEHOLDERS[index],
            i + 1
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn values<'a>(run_id: &'a str) -> Values<'a> {
        Values {
            run_id,
            pipeline: "nightly",
            step: "train",
        }
    }

    #[test]
    fn values_become_one_quoted_word_and_are_not_re_expanded() {
        let t = Template::parse("backstop run --run-id {run_id} --step {step} -- make {pipeline}")
            .unwrap();
        assert_eq!(
            t.shell(&values("x; rm -rf ~ #")),
            "backstop run --run-id 'x; rm -rf ~ #' --step train -- make nightly"
        );
        assert_eq!(
            t.shell(&values("{step}{pipeline}")),
            "backstop run --run-id '{step}{pipeline}' --step train -- make nightly"
        );
        assert_eq!(
            t.shell(&values("it's")),
            r"backstop run --run-id 'it'\''s' --step train -- make nightly"
        );
        assert_eq!(
            t.argv(&values("a b")),
            [
                "backstop", "run", "--run-id", "a b", "--step", "train", "--", "make", "nightly"
            ]
        );
    }

    #[test]
    fn quoted_placeholders_and_unknown_names_are_refused() {
        assert!(
            Template::parse("run --id '{run_id}'")
                .unwrap_err()
                .contains("inside single quotes")
        );
        assert!(
            Template::parse("run --id \"{run_id}\"")
                .unwrap_err()
                .contains("inside double quotes")
        );
        assert!(
            Template::parse("run --id {runid}")
                .unwrap_err()
                .contains("not a placeholder")
        );
        assert!(Template::parse("run 'unterminated").is_err());
        // Shell braces are not placeholders.
        assert!(Template::parse("echo ${HOME} && awk '{print}'").is_ok());
    }

    #[test]
    fn argv_removes_the_templates_own_quotes() {
        let t = Template::parse(r#"airflow tasks run "my dag" --id={run_id} a\ b"#).unwrap();
        assert_eq!(
            t.argv(&values("r 1")),
            ["airflow", "tasks", "run", "my dag", "--id=r 1", "a b"]
        );
        assert_eq!(
            t.shell(&values("r 1")),
            r#"airflow tasks run "my dag" --id='r 1' a\ b"#
        );
    }
}
