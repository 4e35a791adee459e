//! URLs as backstop prints and records them (stderr, `alert_log`, dead
//! letters, sink errors): a webhook URL often carries its credential, in the
//! userinfo (`https://user:token@host`), the query (`?token=...`, `?sig=...`)
//! or a path segment (Slack's `/services/T.../B.../<secret>`), so those are
//! masked. The host and the rest of the path stay, so a person can still tell
//! which endpoint failed.

const MASK: &str = "***";

/// `url` with its userinfo, query values, fragment and long random-looking
/// path segments replaced by `***`.
pub fn masked_url(url: &str) -> String {
    let Some(scheme_end) = url.find("://") else {
        return url.to_string();
    };
    let (scheme, rest) = url.split_at(scheme_end + 3);
    // Userinfo: everything before the last `@`, when that part has no `/`
    // (a path) or has a `:` (user:password, which may itself hold `/`).
    let rest = match rest.rfind('@') {
        Some(at) if !rest[..at].contains('/') || rest[..at].contains(':') => {
            return format!("{scheme}{MASK}@{}", mask_after_authority(&rest[at + 1..]));
        }
        _ => rest,
    };
    format!("{scheme}{}", mask_after_authority(rest))
}

/// Host, then the path with long random segments, the query and the fragment masked.
fn mask_after_authority(rest: &str) -> String {
    let (before_fragment, fragment) = match rest.find('#') {
        Some(i) => (&rest[..i], Some(&rest[i + 1..])),
        None => (rest, None),
    };
    let (path, query) = match before_fragment.find('?') {
        Some(i) => (&before_fragment[..i], Some(&before_fragment[i + 1..])),
        None => (before_fragment, None),
    };
    let mut out = String::with_capacity(rest.len());
    for (i, segment) in path.split('/').enumerate() {
        if i > 0 {
            out.push('/');
        }
        if i > 0 && looks_like_a_secret(segment) {
            out.push_str(MASK);
        } else {
            out.push_str(segment);
        }
    }
    if let Some(query) = query {
        out.push('?');
        let masked: Vec<String> = query
            .split('&')
            .map(|pair| match pair.split_once('=') {
                Some((key, _)) => format!("{key}={MASK}"),
                None if pair.is_empty() => String::new(),
                None => MASK.to_string(),
            })
            .collect();
        out.push_str(&masked.join("&"));
    }
    if fragment.is_some_and(|f| !f.is_empty()) {
        out.push('#');
        out.push_str(MASK);
    }
    out
}

/// A path segment of 16+ characters mixing letters and digits (a token, not a word).
fn looks_like_a_secret(segment: &str) -> bool {
    segment.len() >= 16
        && segment.bytes().any(|b| b.is_ascii_digit())
        && segment.bytes().any(|b| b.is_ascii_alphabetic())
}

/// Every URL inside `text` (an error message) masked as [`masked_url`] does.
pub fn mask_urls(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(i) = rest.find("://") {
        // Back up over the scheme.
        let start = rest[..i]
            .rfind(|c: char| !(c.is_ascii_alphanumeric() || matches!(c, '+' | '.' | '-')))
            .map_or(0, |p| p + 1);
        let end = rest[i..]
            .find(|c: char| c.is_whitespace() || matches!(c, '"' | '\'' | '<' | '>' | '`'))
            .map_or(rest.len(), |p| i + p);
        out.push_str(&rest[..start]);
        if start == i {
            // `://` with no scheme before it: not a URL.
            out.push_str(&rest[i..i + 3]);
            rest = &rest[i + 3..];
            continue;
        }
        // A trailing `)` `,` `.` `;` belongs to the sentence, not the URL.
        let url = rest[start..end].trim_end_matches([')', ',', '.', ';', ':']);
        out.push_str(&masked_url(url));
        rest = &rest[start + url.len()..];
    }
    out.push_str(rest);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn masks_userinfo_query_and_token_segments() {
        assert_eq!(
            masked_url("https://hooks.example/x"),
            "https://hooks.example/x"
        );
        assert_eq!(
            masked_url("https://admin:pa/ss@S@127.0.0.1:8080/hook?token=abc&x=1#frag"),
            "https://***@127.0.0.1:8080/hook?token=***&x=***#***"
        );
        assert_eq!(
            masked_url("https://ghp_token@github.com/o/r"),
            "https://***@github.com/o/r"
        );
        assert_eq!(
            masked_url("https://hooks.slack.com/services/T0001/B0002/Xk29fjQ81lmNbV7cAa0pZt3e"),
            "https://hooks.slack.com/services/T0001/B0002/***"
        );
        // A path with an `@` is not userinfo.
        assert_eq!(
            masked_url("https://registry.example/@scope/pkg"),
            "https://registry.example/@scope/pkg"
        );
        assert_eq!(masked_url("not a url"), "not a url");
    }

    #[test]
    fn masks_urls_inside_messages() {
        assert_eq!(
            mask_urls(
                "webhook http://u:p@127.0.0.1:9/x?k=v: HTTP 500 (see http://docs.example/a)."
            ),
            "webhook http://***@127.0.0.1:9/x?k=***: HTTP 500 (see http://docs.example/a)."
        );
        assert_eq!(mask_urls("no urls :// here"), "no urls :// here");
    }
}
