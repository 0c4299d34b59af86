//! The real binary with its development authorization server (no `--issuer`), and the user's
//! side of a launch over HTTP: the authorization request, sign-in, consent with every scope
//! ticked, and the redirect back to the app. Needs `mod server_support;` beside it.
#![allow(dead_code)]

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};

use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
use base64::Engine;

use crate::server_support::{binary, raw_request, Response};

/// The demo public client and its redirect URI.
pub const PUBLIC_APP: &str = "demo-public-app";
/// Where the demo public client's codes go.
pub const PUBLIC_REDIRECT: &str = "http://127.0.0.1:9000/callback";
/// The demo confidential client, its secret and its redirect URI.
pub const CONF_APP: &str = "demo-confidential-app";
/// The demo confidential client's secret.
pub const CONF_SECRET: &str = "demo-confidential-secret";
/// Where the demo confidential client's codes go.
pub const CONF_REDIRECT: &str = "http://127.0.0.1:9001/callback";

/// The binary with demo data and its development authorization server, on a loopback port.
pub struct DevServer {
    child: Child,
    /// `127.0.0.1:port`.
    pub addr: String,
    /// What it printed after its address, up to the `Public:` line: how to get a token.
    pub banner: Vec<String>,
}

impl Drop for DevServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The end of a user's part of a launch: where the browser is sent back to, and the session
/// cookie of the sign-in.
pub struct Landing {
    /// The redirect to the app (`Location`), with `code` or `error`.
    pub location: String,
    /// `name=value` of the session cookie.
    pub cookie: String,
}

impl Landing {
    /// The value of `name` in the redirect's query.
    pub fn param(&self, name: &str) -> Option<String> {
        let url = url::Url::parse(&self.location).expect("an absolute redirect");
        url.query_pairs()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.into_owned())
    }
}

impl DevServer {
    /// Starts the binary on a free loopback port and reads its banner.
    pub fn start() -> DevServer {
        let mut child = Command::new(binary())
            .args(["--listen", "127.0.0.1:0"])
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("server binary starts");
        let mut lines = BufReader::new(child.stdout.take().expect("stdout")).lines();
        let mut addr = None;
        let mut banner = Vec::new();
        for line in lines.by_ref() {
            let line = line.expect("server stdout");
            if addr.is_none() {
                addr = line
                    .strip_prefix("secure-fhir-server listening on http://")
                    .map(|a| a.trim().to_owned());
                continue;
            }
            let last = line.starts_with("Public:");
            banner.push(line);
            if last {
                break;
            }
        }
        // Keep draining stdout so the server never blocks on a full pipe.
        std::thread::spawn(move || for _ in lines {});
        let Some(addr) = addr else {
            let _ = child.kill();
            panic!("the server did not start: {:?}", child.wait());
        };
        DevServer {
            child,
            addr,
            banner,
        }
    }

    /// The FHIR base URL.
    pub fn fhir(&self) -> String {
        format!("http://{}/fhir", self.addr)
    }

    /// The issuer URL.
    pub fn issuer(&self) -> String {
        format!("http://{}/auth", self.addr)
    }

    /// One request; `target` is a path and query, or an absolute URL on this server.
    pub fn send(
        &self,
        method: &str,
        target: &str,
        headers: &[(&str, &str)],
        body: Option<&[u8]>,
    ) -> Response {
        let headers: Vec<(String, String)> = headers
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        raw_request(&self.addr, method, &path_of(target), &headers, body)
    }

    /// A form POST.
    pub fn post_form(
        &self,
        target: &str,
        headers: &[(&str, &str)],
        pairs: &[(&str, &str)],
    ) -> Response {
        let mut all = vec![("Content-Type", "application/x-www-form-urlencoded")];
        all.extend_from_slice(headers);
        self.send("POST", target, &all, Some(&form(pairs)))
    }

    /// The authorization request (path and query) of a standalone launch of `client`.
    pub fn authorize_target(
        &self,
        client: &str,
        redirect: &str,
        scope: &str,
        verifier: &str,
    ) -> String {
        let query = String::from_utf8(form(&[
            ("response_type", "code"),
            ("client_id", client),
            ("redirect_uri", redirect),
            ("scope", scope),
            ("state", "state-1234567890"),
            ("aud", &self.fhir()),
            ("code_challenge", &challenge(verifier)),
            ("code_challenge_method", "S256"),
        ]))
        .unwrap();
        format!("/auth/authorize?{query}")
    }

    /// Runs `authorize` (a path and query, or an absolute URL) as a browser would: signs in as
    /// `user` (`<user>-demo-password`) and approves every scope offered.
    pub fn sign_in_and_consent(&self, authorize: &str, user: &str) -> Landing {
        let start = self.send("GET", authorize, &[], None);
        assert_eq!(start.status, 303, "{}", start.text());
        let login = self.send("GET", &header(&start, "location"), &[], None);
        assert_eq!(login.status, 200, "{}", login.text());
        let html = login.text();
        let password = format!("{user}-demo-password");
        let signed_in = self.post_form(
            "/auth/login",
            &[],
            &[
                ("txn", &hidden(&html, "txn")),
                ("csrf", &hidden(&html, "csrf")),
                ("username", user),
                ("password", &password),
            ],
        );
        assert_eq!(signed_in.status, 303, "{}", signed_in.text());
        let cookie = header(&signed_in, "set-cookie")
            .split(';')
            .next()
            .unwrap()
            .to_owned();
        let page = self.send(
            "GET",
            &header(&signed_in, "location"),
            &[("Cookie", &cookie)],
            None,
        );
        assert_eq!(page.status, 200, "{}", page.text());
        let html = page.text();
        let mut pairs = vec![
            ("txn".to_owned(), hidden(&html, "txn")),
            ("csrf".to_owned(), hidden(&html, "csrf")),
            ("decision".to_owned(), "approve".to_owned()),
        ];
        for chunk in html.split("name=\"scope\" value=\"").skip(1) {
            let value = chunk
                .split('"')
                .next()
                .unwrap()
                .replace("&quot;", "\"")
                .replace("&amp;", "&");
            pairs.push(("scope".to_owned(), value));
        }
        if html.contains("name=\"types_listed\"") {
            pairs.push(("types_listed".to_owned(), "1".to_owned()));
            for chunk in html.split("name=\"type\" value=\"").skip(1) {
                pairs.push((
                    "type".to_owned(),
                    chunk.split('"').next().unwrap().to_owned(),
                ));
            }
        }
        let refs: Vec<(&str, &str)> = pairs
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .collect();
        let done = self.post_form("/auth/consent", &[("Cookie", &cookie)], &refs);
        assert_eq!(done.status, 303, "{}", done.text());
        Landing {
            location: header(&done, "location"),
            cookie,
        }
    }

    /// A code for the demo public app, consented in full by the demo patient.
    pub fn code(&self, scope: &str, verifier: &str) -> String {
        let authorize = self.authorize_target(PUBLIC_APP, PUBLIC_REDIRECT, scope, verifier);
        self.sign_in_and_consent(&authorize, "patient")
            .param("code")
            .expect("code")
    }
}

/// The PKCE `S256` challenge of `verifier`.
pub fn challenge(verifier: &str) -> String {
    B64.encode(ring::digest::digest(
        &ring::digest::SHA256,
        verifier.as_bytes(),
    ))
}

/// `application/x-www-form-urlencoded` pairs.
pub fn form(pairs: &[(&str, &str)]) -> Vec<u8> {
    url::form_urlencoded::Serializer::new(String::new())
        .extend_pairs(pairs)
        .finish()
        .into_bytes()
}

/// A header that must be there.
pub fn header(r: &Response, name: &str) -> String {
    r.header(name)
        .unwrap_or_else(|| panic!("no {name}: {} {}", r.status, r.text()))
        .to_owned()
}

/// The path and query of a URL (absolute or not).
pub fn path_of(location: &str) -> String {
    match location.split_once("://") {
        Some((_, rest)) => rest[rest.find('/').unwrap_or(rest.len())..].to_owned(),
        None => location.to_owned(),
    }
}

/// The value of the hidden form field `name`.
pub fn hidden(html: &str, name: &str) -> String {
    let marker = format!("name=\"{name}\" value=\"");
    let start = html.find(&marker).expect("hidden field") + marker.len();
    html[start..].split('"').next().unwrap().to_owned()
}
