//! Cloud provider error codes inside messages:
//! - botocore / boto3 `ClientError`: `An error occurred (SlowDown) when calling
//!   the GetObject operation ...` (botocore/exceptions.py `ClientError.MSG_TEMPLATE`);
//!   a purely numeric code (`(503)`, `(404)`: botocore's code when the response
//!   had no error body, as for HEAD requests) is an HTTP status instead;
//! - aws-sdk-go-v2: `api error SlowDown: Please reduce your request rate.`;
//! - S3's XML error body: `<Code>SlowDown</Code>`;
//! - Azure SDK `HttpResponseError`: `ErrorCode:ServerBusy` (azure-core
//!   `exceptions.py`, storage's `x-ms-error-code`), and `Code: ServerBusy` on
//!   its own line (OData v4 errors).

use std::sync::LazyLock;

use regex::Regex;

use super::merge::Fields;

pub const BOTOCORE: &str = "botocore";
pub const S3_XML: &str = "s3-xml";
pub const AZURE: &str = "azure";
pub const AWS_SDK_GO: &str = "aws-sdk-go";

static BOTO: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(
        r"An error occurred \(([A-Za-z0-9_.:\-]{1,128})\) when calling the [A-Za-z0-9_]+ operation",
    )
    .unwrap()
});
/// aws-sdk-go-v2 (smithy-go): `operation error S3: GetObject, https response
/// error StatusCode: 503, RequestID: ..., api error SlowDown: Please reduce ...`.
static GO_API_ERROR: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"\bapi error ([A-Za-z][A-Za-z0-9_.]{0,127}): ").unwrap());
static XML_CODE: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"<Code>([A-Za-z0-9_.\-]{1,128})</Code>").unwrap());
static AZURE_CODE: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(
        r"(?m)(?:ErrorCode:\s?([A-Za-z0-9_]{1,128})|^Code: ([A-Za-z][A-Za-z0-9_]{0,127})\s*$)",
    )
    .unwrap()
});

pub fn scan(_type_name: &str, text: &str, fields: &mut Fields) {
    if let Some(c) = BOTO.captures(text) {
        let code = &c[1];
        match code.parse::<u16>() {
            Ok(status) if code.len() == 3 => fields.set_http(status, BOTOCORE),
            _ => fields.set_code(code, BOTOCORE),
        }
    }
    if let Some(c) = GO_API_ERROR.captures(text) {
        fields.set_code(&c[1], AWS_SDK_GO);
    }
    // Azure's x-ms-error-code line before the XML body it often quotes.
    if let Some(c) = AZURE_CODE.captures(text) {
        let code = c.get(1).or_else(|| c.get(2)).map_or("", |m| m.as_str());
        fields.set_code(code, AZURE);
    }
    if let Some(c) = XML_CODE.captures(text) {
        fields.set_code(&c[1], S3_XML);
    }
}
