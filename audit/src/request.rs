//! The raw request recorded in a query entity: byte-exact, except that credentials never get in.
//!
//! BALP wants "exactly what was requested, including possibly malicious patterns": the bytes are
//! kept as they came (no re-serialisation, no reordering, no charset conversion). The one
//! exception is credentials (audit.md §2.6, §8.7): `Authorization`, `Proxy-Authorization`,
//! `DPoP`, `Cookie`, API-key, session and forwarded-token header lines (see
//! [`RawRequest::is_credential_header`]), and `access_token` parameters in the request line
//! or a form body, are removed on construction, so a [`RawRequest`] cannot hold them.

use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine as _;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// The most bytes of a request kept; longer requests are cut and marked truncated.
pub const MAX_RAW_REQUEST: usize = 64 * 1024;

/// Header names that are credentials.
const SECRET_HEADERS: &[&str] = &["dpop"];
/// Parts of header names that mark a credential wherever they appear: proxies and gateways
/// forward the caller's token under names of their own (`X-Forwarded-Access-Token`,
/// `x-amzn-oidc-data`, `X-Session-Id`, ...).
const SECRET_HEADER_PARTS: &[&str] = &[
    "authorization",
    "token",
    "secret",
    "password",
    "cookie",
    "session",
    "api-key",
    "apikey",
    "x-amzn-oidc-",
];
/// The OAuth grant secrets a token request's record leaves out (IHE ITI-71).
const TOKEN_SECRET_PARAMS: &[&str] = &[
    "code",
    "access_token",
    "code_verifier",
    "client_secret",
    "client_assertion",
    "refresh_token",
    "password",
    "assertion",
    "subject_token",
    "actor_token",
    "id_token",
    "device_code",
];
/// What a FHIR request's record leaves out: every grant secret but `code`, also a FHIR search
/// parameter (a token request sent to the FHIR base, or secrets a client put where they do
/// not belong, must not reach the log either).
const FHIR_SECRET_PARAMS: &[&str] = TOKEN_SECRET_PARAMS.split_at(1).1;

/// A recorded HTTP request: request line, headers and body, with credentials removed.
#[derive(Clone, PartialEq, Eq)]
pub struct RawRequest {
    bytes: Vec<u8>,
    truncated: bool,
}

impl std::fmt::Debug for RawRequest {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RawRequest")
            .field("text", &String::from_utf8_lossy(&self.bytes))
            .field("truncated", &self.truncated)
            .finish()
    }
}

impl RawRequest {
    /// Records a FHIR request given as raw bytes (request line, `\n`- or `\r\n`-terminated
    /// header lines, a blank line, the body). Credential headers, `access_token` parameters and
    /// the OAuth grant secrets other than `code` (a FHIR search parameter) are removed; every
    /// other byte is kept.
    pub fn from_bytes(raw: &[u8]) -> Self {
        Self::redacted(raw, FHIR_SECRET_PARAMS)
    }

    /// Records an OAuth token request (IHE ITI-71): as [`from_bytes`](Self::from_bytes), and
    /// also drops `code`, `code_verifier`, `client_secret`, `client_assertion`,
    /// `refresh_token`, `password` and the other grant secrets.
    pub fn token_request(raw: &[u8]) -> Self {
        Self::redacted(raw, TOKEN_SECRET_PARAMS)
    }

    /// Records a FHIR request from its parts: `METHOD target HTTP/1.1`, one `Name: value` line
    /// per header, a blank line and the body, lines ending in `\n`.
    pub fn from_parts<'a>(
        method: &str,
        target: &[u8],
        headers: impl IntoIterator<Item = (&'a str, &'a [u8])>,
        body: &[u8],
    ) -> Self {
        let mut raw = Vec::with_capacity(target.len() + body.len() + 256);
        raw.extend_from_slice(method.as_bytes());
        raw.push(b' ');
        raw.extend_from_slice(target);
        raw.extend_from_slice(b" HTTP/1.1\n");
        for (name, value) in headers {
            if raw.len() > MAX_RAW_REQUEST {
                break;
            }
            raw.extend_from_slice(name.as_bytes());
            raw.extend_from_slice(b": ");
            raw.extend_from_slice(value);
            raw.push(b'\n');
        }
        if !body.is_empty() {
            raw.push(b'\n');
            raw.extend_from_slice(&body[..body.len().min(MAX_RAW_REQUEST + 1)]);
        }
        Self::from_bytes(&raw)
    }

    /// Whether a header named `name` is dropped as a credential: `Authorization`,
    /// `Proxy-Authorization`, `DPoP`, `Cookie`, and any name holding `token`, `secret`,
    /// `password`, `session`, `api-key`/`apikey` or `x-amzn-oidc-` (case-insensitive).
    pub fn is_credential_header(name: &str) -> bool {
        is_credential_header(name.as_bytes())
    }

    /// The recorded bytes.
    pub fn as_bytes(&self) -> &[u8] {
        &self.bytes
    }

    /// The recorded bytes in standard base64, as `AuditEvent.entity.query` holds them.
    pub fn to_base64(&self) -> String {
        B64.encode(&self.bytes)
    }

    /// Whether the request was longer than [`MAX_RAW_REQUEST`] and was cut.
    pub fn is_truncated(&self) -> bool {
        self.truncated
    }

    fn redacted(raw: &[u8], secret_params: &[&str]) -> Self {
        let mut out = Vec::with_capacity(raw.len().min(MAX_RAW_REQUEST));
        let mut lines = split_lines(raw);
        let mut form_body = false;
        if let Some(request_line) = lines.next() {
            redact_request_line(request_line, secret_params, &mut out);
        }
        let mut in_headers = true;
        let mut dropping = false;
        let mut body_start = raw.len();
        let mut offset = out_len_of_first_line(raw);
        for line in lines.by_ref() {
            let content = trim_eol(line);
            if content.is_empty() {
                out.extend_from_slice(line);
                in_headers = false;
                body_start = offset + line.len();
                break;
            }
            offset += line.len();
            if content[0] == b' ' || content[0] == b'\t' {
                // An obsolete folded continuation belongs to the previous header.
                if !dropping {
                    out.extend_from_slice(line);
                }
                continue;
            }
            let name = content
                .split(|&b| b == b':')
                .next()
                .unwrap_or_default()
                .trim_ascii();
            dropping = is_credential_header(name);
            if name.eq_ignore_ascii_case(b"content-type") {
                form_body = contains_ignore_case(content, b"application/x-www-form-urlencoded");
            }
            if !dropping {
                out.extend_from_slice(line);
            }
        }
        if !in_headers && body_start < raw.len() {
            let body = &raw[body_start..];
            if form_body {
                redact_params(body, secret_params, &mut out);
            } else {
                out.extend_from_slice(body);
            }
        }
        let truncated = out.len() > MAX_RAW_REQUEST;
        out.truncate(MAX_RAW_REQUEST);
        Self {
            bytes: out,
            truncated,
        }
    }
}

fn is_credential_header(name: &[u8]) -> bool {
    let name = name.trim_ascii().to_ascii_lowercase();
    SECRET_HEADERS.iter().any(|h| name == h.as_bytes())
        || SECRET_HEADER_PARTS
            .iter()
            .any(|p| name.windows(p.len()).any(|w| w == p.as_bytes()))
}

fn out_len_of_first_line(raw: &[u8]) -> usize {
    raw.iter()
        .position(|&b| b == b'\n')
        .map_or(raw.len(), |p| p + 1)
}

/// Lines including their `\n` terminator (the last may have none).
fn split_lines(raw: &[u8]) -> impl Iterator<Item = &[u8]> {
    raw.split_inclusive(|&b| b == b'\n')
}

fn trim_eol(line: &[u8]) -> &[u8] {
    let line = line.strip_suffix(b"\n").unwrap_or(line);
    line.strip_suffix(b"\r").unwrap_or(line)
}

fn contains_ignore_case(hay: &[u8], needle: &[u8]) -> bool {
    hay.windows(needle.len())
        .any(|w| w.eq_ignore_ascii_case(needle))
}

fn redact_request_line(line: &[u8], secret_params: &[&str], out: &mut Vec<u8>) {
    let Some(q) = line.iter().position(|&b| b == b'?') else {
        out.extend_from_slice(line);
        return;
    };
    let rest = &line[q + 1..];
    let end = rest
        .iter()
        .position(|&b| b == b' ' || b == b'\r' || b == b'\n' || b == b'#')
        .unwrap_or(rest.len());
    out.extend_from_slice(&line[..=q]);
    redact_params(&rest[..end], secret_params, out);
    out.extend_from_slice(&rest[end..]);
}

/// Copies `a=1&b=2` pairs, leaving out those whose (percent-decoded, case-folded) name is secret.
fn redact_params(params: &[u8], secret_params: &[&str], out: &mut Vec<u8>) {
    let mut first = true;
    for pair in params.split(|&b| b == b'&') {
        let name = pair.split(|&b| b == b'=').next().unwrap_or_default();
        let name = percent_decode(name);
        if secret_params
            .iter()
            .any(|s| name.trim_ascii().eq_ignore_ascii_case(s.as_bytes()))
        {
            continue;
        }
        if !first {
            out.push(b'&');
        }
        out.extend_from_slice(pair);
        first = false;
    }
}

fn percent_decode(s: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(s.len());
    let mut i = 0;
    while i < s.len() {
        match s[i] {
            b'%' if i + 2 < s.len() => {
                let hex = |c: u8| (c as char).to_digit(16);
                match (hex(s[i + 1]), hex(s[i + 2])) {
                    (Some(h), Some(l)) => {
                        out.push((h * 16 + l) as u8);
                        i += 3;
                        continue;
                    }
                    _ => out.push(b'%'),
                }
            }
            b'+' => out.push(b' '),
            c => out.push(c),
        }
        i += 1;
    }
    out
}

impl Serialize for RawRequest {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        #[derive(Serialize)]
        struct Repr<'a> {
            base64: &'a str,
            #[serde(skip_serializing_if = "std::ops::Not::not")]
            truncated: bool,
        }
        Repr {
            base64: &self.to_base64(),
            truncated: self.truncated,
        }
        .serialize(s)
    }
}

impl<'de> Deserialize<'de> for RawRequest {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        struct Repr {
            base64: String,
            #[serde(default)]
            truncated: bool,
        }
        let r = Repr::deserialize(d)?;
        let bytes = B64.decode(r.base64).map_err(serde::de::Error::custom)?;
        if bytes.len() > MAX_RAW_REQUEST {
            return Err(serde::de::Error::custom("raw request too long"));
        }
        // Records written by this crate are already redacted; redacting again is a no-op for
        // them and keeps a forged record from smuggling credentials through the type.
        let mut again = Self::from_bytes(&bytes);
        again.truncated |= r.truncated;
        Ok(again)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_requests_are_kept_byte_for_byte() {
        let raw = b"GET x/Observation?code=1%262&_count=10&&z HTTP/1.1\r\nAccept: */*\r\n\r\n";
        assert_eq!(RawRequest::from_bytes(raw).as_bytes(), raw);
        let non_utf8 = b"GET /Patient?name=\xff\xfe\nAccept: a";
        assert_eq!(RawRequest::from_bytes(non_utf8).as_bytes(), non_utf8);
    }

    #[test]
    fn credentials_are_removed() {
        let raw = b"GET /Patient?access_token=SECRET1&name=x&ACCESS%5fTOKEN=SECRET2 HTTP/1.1\n\
Authorization: Bearer SECRET3\nauthorization : Bearer SECRET4\n folded SECRET5\n\
DPoP: SECRET6\nCookie: s=SECRET7\nAccept: a\n\n";
        let r = RawRequest::from_bytes(raw);
        let text = String::from_utf8(r.as_bytes().to_vec()).unwrap();
        assert!(!text.contains("SECRET"), "{text}");
        assert_eq!(text, "GET /Patient?name=x HTTP/1.1\nAccept: a\n\n");
    }

    #[test]
    fn grant_secrets_sent_to_the_fhir_base_are_removed() {
        let raw = b"POST /fhir/token HTTP/1.1\nContent-Type: application/x-www-form-urlencoded\n\n\
grant_type=refresh_token&refresh_token=S1&client_secret=S2&client_assertion=S3&code_verifier=S4&password=S5&scope=x";
        let text = String::from_utf8(RawRequest::from_bytes(raw).as_bytes().to_vec()).unwrap();
        assert!(
            text.ends_with("\n\ngrant_type=refresh_token&scope=x"),
            "{text}"
        );
        let get = RawRequest::from_bytes(b"GET /Patient?name=x&client_secret=S&id_token=T");
        assert_eq!(get.as_bytes(), b"GET /Patient?name=x");
    }

    #[test]
    fn tokens_a_proxy_or_gateway_forwards_are_removed() {
        // oauth2-proxy, AWS ALB, API gateways and session front ends pass the caller's
        // credentials on in headers of their own; every other header stays.
        let raw = b"GET /Patient HTTP/1.1\n\
X-Forwarded-Access-Token: SECRET1\nX-Auth-Request-Access-Token: SECRET2\n\
x-amzn-oidc-accesstoken: SECRET3\nX-Amzn-Oidc-Data: SECRET4\nX-Refresh-Token: SECRET5\n\
X-Session-Id: SECRET6\nX-Client-Secret: SECRET7\nApiKey: SECRET8\nX-Id-Token: SECRET9\n\
Accept: a\nX-Request-Id: r1\n\n";
        let r = RawRequest::from_bytes(raw);
        let text = String::from_utf8(r.as_bytes().to_vec()).unwrap();
        assert_eq!(
            text, "GET /Patient HTTP/1.1\nAccept: a\nX-Request-Id: r1\n\n",
            "{text}"
        );
    }

    #[test]
    fn form_bodies_are_redacted_only_when_form_encoded() {
        let raw = b"POST /Observation/_search HTTP/1.1\nContent-Type: application/x-www-form-urlencoded\n\naccess_token=S&patient=1";
        assert_eq!(
            RawRequest::from_bytes(raw).as_bytes(),
            b"POST /Observation/_search HTTP/1.1\nContent-Type: application/x-www-form-urlencoded\n\npatient=1"
        );
        let json = b"POST /x HTTP/1.1\nContent-Type: application/json\n\naccess_token=S";
        assert_eq!(RawRequest::from_bytes(json).as_bytes(), json);
    }

    #[test]
    fn token_requests_lose_every_grant_secret() {
        let raw = b"POST /token HTTP/1.1\nContent-Type: application/x-www-form-urlencoded\n\n\
grant_type=authorization_code&code=C&code_verifier=V&client_secret=S&redirect_uri=https%3A%2F%2Fapp";
        let r = RawRequest::token_request(raw);
        assert!(r
            .as_bytes()
            .ends_with(b"\n\ngrant_type=authorization_code&redirect_uri=https%3A%2F%2Fapp"));
        // A FHIR search keeps its own `code` parameter.
        let s = RawRequest::from_bytes(b"GET /Observation?code=1234-5");
        assert_eq!(s.as_bytes(), b"GET /Observation?code=1234-5");
    }

    #[test]
    fn from_parts_builds_and_redacts() {
        let r = RawRequest::from_parts(
            "GET",
            b"/r4/Observation?patient=1",
            [
                ("Accept", &b"application/fhir+json"[..]),
                ("Authorization", b"Bearer x"),
            ],
            b"",
        );
        assert_eq!(
            r.as_bytes(),
            b"GET /r4/Observation?patient=1 HTTP/1.1\nAccept: application/fhir+json\n"
        );
    }

    #[test]
    fn huge_requests_are_cut_and_marked() {
        let mut raw = b"POST /x HTTP/1.1\n\n".to_vec();
        raw.resize(MAX_RAW_REQUEST * 2, b'a');
        let r = RawRequest::from_bytes(&raw);
        assert!(r.is_truncated());
        assert_eq!(r.as_bytes().len(), MAX_RAW_REQUEST);
    }

    #[test]
    fn serde_round_trip_keeps_bytes() {
        let r = RawRequest::from_bytes(b"GET /a?b=\xff");
        let json = serde_json::to_string(&r).unwrap();
        let back: RawRequest = serde_json::from_str(&json).unwrap();
        assert_eq!(back, r);
    }
}
