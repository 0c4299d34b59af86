//! The hostile end-to-end suite's machinery: one table row per attack, named after the rule
//! it checks, run against the real server binary; every row also gets the universal checks
//! (no victim data anywhere, no leak in error bodies, security headers, an audit record).
//!
//! The case tables live in `cases_*.rs`, one file per attack class of
//! `shared/specs/threats.md`; `docs/threat-model.md` maps each class to them.
#![allow(dead_code)]

pub mod cases_bola;
pub mod cases_limits;
pub mod cases_ops;
pub mod cases_parser;
pub mod cases_scope;
pub mod cases_token;
pub mod cases_writes;
pub mod check;
pub mod server;

#[allow(unused_imports)]
pub use check::{run_table, Expect};
pub use server::{Server, CANARY, VICTIM_ID};

use smart_auth::testing::TestIssuer;

/// The attack classes (threats.md sections), for coverage counts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Class {
    /// §2.1–2.19, 2.22: token forgery, confusion, replay, leakage.
    TokenForgery,
    /// §2.20–2.21, §1.7 of smart.md: scope escalation, fail-open context.
    ScopeEscalation,
    /// §3.1–3.2, 3.10, 3.13–3.14: direct reads, searches naming others, oracles, path tricks.
    CrossPatient,
    /// §3.3–3.4, 3.6–3.7, 3.12: includes, chains, `_has`, history, operations, type-less.
    SideDoor,
    /// §3.5: batch and transaction smuggling.
    BatchSmuggling,
    /// §3.8–3.9, 3.11, 3.17, §9 (AuditEvent writes): write paths.
    WritePath,
    /// §4: resource exhaustion, each limit and limit + 1.
    ResourceExhaustion,
    /// §5, §7: parser hazards, content types, narrative.
    ParserHazard,
    /// §6: server-side fetches of client-influenced URLs.
    Ssrf,
    /// §8: error-body leakage.
    ErrorLeakage,
    /// §9: audit evasion.
    AuditEvasion,
}

/// Every class, for the coverage test.
pub const ALL_CLASSES: [Class; 11] = [
    Class::TokenForgery,
    Class::ScopeEscalation,
    Class::CrossPatient,
    Class::SideDoor,
    Class::BatchSmuggling,
    Class::WritePath,
    Class::ResourceExhaustion,
    Class::ParserHazard,
    Class::Ssrf,
    Class::ErrorLeakage,
    Class::AuditEvasion,
];

/// Which credential a case sends.
#[derive(Clone)]
pub enum Tok {
    /// No `Authorization` header.
    None,
    /// A valid token for Alice's launch with these scopes.
    Alice(&'static str),
    /// A token built by the case from the trusted issuer (forgeries, odd claims).
    Build(fn(&TestIssuer) -> String),
    /// A literal `Authorization` header value.
    Header(String),
    /// An `Authorization` header value built from the trusted issuer.
    HeaderWith(fn(&TestIssuer) -> String),
}

/// One attack: a request and the exact safe answer.
#[derive(Clone)]
pub struct Case {
    /// The rule, e.g. `bola.read.victim-observation-is-404`.
    pub name: &'static str,
    /// Its attack class.
    pub class: Class,
    /// HTTP method.
    pub method: &'static str,
    /// Request target below `/fhir` (starts with `/`), sent verbatim.
    pub path: String,
    /// The credential.
    pub token: Tok,
    /// Extra header fields.
    pub headers: Vec<(String, String)>,
    /// The body, if any.
    pub body: Option<Vec<u8>>,
    /// What the server must answer.
    pub expect: Expect,
    /// Strings that must appear nowhere in the answer (default: the victim's canary and ids).
    pub markers: &'static [&'static str],
    /// A check run after the answer (e.g. that a refused write changed nothing).
    pub after: Option<After>,
    /// A known bug in the code under test makes this row fail: why. Such rows run only in the
    /// ignored `hostile_known_bugs` test (which fails until the bug is fixed), so the rest of
    /// the suite stays a regression gate. Listed in docs/threat-model.md.
    pub bug: Option<&'static str>,
    /// Why this request needs no audit record (public endpoints, CORS preflights), if it does not.
    pub unaudited: Option<&'static str>,
}

/// A follow-up check: gets the server and the case's answer.
pub type After = fn(&Server, &server::Response) -> Result<(), String>;

/// The default [`Case::markers`].
pub const VICTIM_MARKERS: &[&str] = &[CANARY, VICTIM_ID];

/// Starts a case: `GET path` with no credentials, expecting `expect`.
pub fn case(name: &'static str, class: Class, expect: Expect) -> Case {
    Case {
        name,
        class,
        method: "GET",
        path: "/metadata".to_owned(),
        token: Tok::None,
        headers: Vec::new(),
        body: None,
        expect,
        markers: VICTIM_MARKERS,
        after: None,
        bug: None,
        unaudited: None,
    }
}

impl Case {
    /// `GET path`.
    pub fn get(mut self, path: impl Into<String>) -> Case {
        self.method = "GET";
        self.path = path.into();
        self
    }

    /// Any method and path.
    pub fn req(mut self, method: &'static str, path: impl Into<String>) -> Case {
        self.method = method;
        self.path = path.into();
        self
    }

    /// Alice's token with `scope`.
    pub fn alice(mut self, scope: &'static str) -> Case {
        self.token = Tok::Alice(scope);
        self
    }

    /// A token built from the trusted issuer.
    pub fn token(mut self, build: fn(&TestIssuer) -> String) -> Case {
        self.token = Tok::Build(build);
        self
    }

    /// A literal `Authorization` value.
    pub fn authorization(mut self, value: impl Into<String>) -> Case {
        self.token = Tok::Header(value.into());
        self
    }

    /// An `Authorization` value built from the trusted issuer.
    pub fn authorization_with(mut self, build: fn(&TestIssuer) -> String) -> Case {
        self.token = Tok::HeaderWith(build);
        self
    }

    /// An extra header.
    pub fn header(mut self, name: &str, value: impl Into<String>) -> Case {
        self.headers.push((name.to_owned(), value.into()));
        self
    }

    /// A JSON body with `Content-Type: application/fhir+json`.
    pub fn json(mut self, body: serde_json::Value) -> Case {
        self.body = Some(serde_json::to_vec(&body).expect("json"));
        self.header("Content-Type", "application/fhir+json")
    }

    /// Replaces the strings that must not appear in the answer.
    pub fn markers(mut self, markers: &'static [&'static str]) -> Case {
        self.markers = markers;
        self
    }

    /// Adds a follow-up check.
    pub fn after(mut self, after: After) -> Case {
        self.after = Some(after);
        self
    }

    /// Marks the row as failing because of a known bug (see [`Case::bug`]).
    pub fn bug(mut self, why: &'static str) -> Case {
        self.bug = Some(why);
        self
    }

    /// Exempts the row from the audit-record check, with the reason.
    pub fn unaudited(mut self, why: &'static str) -> Case {
        self.unaudited = Some(why);
        self
    }

    /// A raw body (set the content type with [`Case::header`]).
    pub fn body(mut self, body: impl Into<Vec<u8>>) -> Case {
        self.body = Some(body.into());
        self
    }
}

/// All the case tables.
pub fn all_cases() -> Vec<Case> {
    let mut all = Vec::new();
    all.extend(cases_token::cases());
    all.extend(cases_scope::cases());
    all.extend(cases_bola::cases());
    all.extend(cases_writes::cases());
    all.extend(cases_limits::cases());
    all.extend(cases_ops::cases());
    all.extend(cases_parser::cases());
    all
}
