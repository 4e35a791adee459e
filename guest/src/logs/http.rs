//! HTTP statuses inside messages, in the forms the common clients print:
//! - requests `HTTPError` / huggingface_hub: `503 Server Error: Service Unavailable for url: ...`
//!   (requests/models.py `raise_for_status`);
//! - urllib `HTTPError`: `HTTP Error 404: Not Found` (urllib/error.py);
//! - httpx `HTTPStatusError`: `Server error '503 Service Unavailable' for url '...'`
//!   (httpx/_models.py `raise_for_status`);
//! - aiohttp `ClientResponseError`: `503, message='Service Unavailable', url='...'`
//!   (aiohttp/client_exceptions.py `__str__`);
//! - urllib3 `MaxRetryError` caused by `ResponseError('too many 503 error responses')`
//!   (urllib3/util/retry.py);
//! - google-api-core: `503 GET https://...` (google/api_core/exceptions.py
//!   `from_http_response`), and `google.api_core.exceptions.ServiceUnavailable: 503 ...`
//!   whose message starts with the code;
//! - axios `Request failed with status code 503`, got `Response code 503 (Service Unavailable)`;
//! - `HTTP/1.1 503`, `HTTP 503`, and a 4xx/5xx status followed by its reason
//!   phrase (`503 Service Unavailable`, Go's `resp.Status`).

use std::sync::LazyLock;

use regex::Regex;

use super::merge::Fields;

pub const READER: &str = "http-status";

// Digits are ASCII (`[0-9]`): statuses are written in ASCII, other scripts'
// digits would not parse, and the Unicode digit class doubled the patterns'
// compile time.
static FORMS: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(concat!(
        r"(?:\b([1-5][0-9][0-9]) (?:Client|Server) Error: .*? for url: ",
        r"|HTTP Error ([1-5][0-9][0-9]): ",
        r"|(?:[Ii]nformational|[Rr]edirect|[Cc]lient|[Ss]erver) error '([1-5][0-9][0-9]) [^']*' for url '",
        r"|(?:^|: |\()([1-5][0-9][0-9]), message='",
        r"|too many ([1-5][0-9][0-9]) error responses",
        r"|(?:^|[\s:(])([1-5][0-9][0-9]) (?:GET|POST|PUT|PATCH|DELETE|HEAD|OPTIONS) https?://",
        r"|[Rr]equest failed with status code ([1-5][0-9][0-9])\b",
        r"|[Rr]esponse code ([1-5][0-9][0-9]) \(",
        r"|\bHTTP(?:/[0-9](?:\.[0-9])?)? ([1-5][0-9][0-9])\b",
        r"|(?i:\b(?:http_?)?status(?:[ _]?code)?)[\s=:]+([45][0-9][0-9])\b",
        r")"
    ))
    .unwrap()
});

/// 4xx and 5xx statuses followed by their reason phrase (RFC 9110).
static PHRASE: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(concat!(
        r"\b(4[0-9][0-9]|5[0-9][0-9]) (?:Bad Request|Unauthorized|Payment Required|Forbidden|Not Found|",
        r"Method Not Allowed|Not Acceptable|Proxy Authentication Required|Request Timeout|",
        r"Conflict|Gone|Length Required|Precondition Failed|Content Too Large|Payload Too Large|",
        r"URI Too Long|Unsupported Media Type|Range Not Satisfiable|Expectation Failed|",
        r"Misdirected Request|Unprocessable (?:Content|Entity)|Too Early|Upgrade Required|",
        r"Precondition Required|Too Many Requests|Request Header Fields Too Large|",
        r"Unavailable For Legal Reasons|Internal Server Error|Not Implemented|Bad Gateway|",
        r"Service Unavailable|Gateway Timeout|HTTP Version Not Supported|Insufficient Storage|",
        r"Network Authentication Required)\b"
    ))
    .unwrap()
});

static LEADING: LazyLock<Regex> = LazyLock::new(|| Regex::new(r"^([1-5][0-9][0-9])\b").unwrap());

pub fn scan(type_name: &str, text: &str, fields: &mut Fields) {
    if fields.http_status.is_some() {
        return;
    }
    // google-api-core's exceptions print their HTTP code first.
    if type_name.starts_with("google.api_core.exceptions.")
        && let Some(c) = LEADING.captures(text.trim_start())
    {
        fields.set_http(c[1].parse().unwrap_or(0), READER);
        return;
    }
    if let Some(c) = FORMS.captures(text)
        && let Some(m) = c.iter().skip(1).flatten().next()
    {
        fields.set_http(m.as_str().parse().unwrap_or(0), READER);
        return;
    }
    if let Some(c) = PHRASE.captures(text) {
        fields.set_http(c[1].parse().unwrap_or(0), READER);
    }
}
