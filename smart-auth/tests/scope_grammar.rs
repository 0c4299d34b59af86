//! Table tests for the SMART scope grammar (smart.md §1), one row per rule.

use smart_auth::scope::{
    InvalidScopeHandling, Level, LevelMixing, Permissions, Scope, ScopeIssueReason, ScopePolicy,
    ScopeRejection, ScopeResource, ScopeSet, Syntax, VersionMixing,
};

const C: Permissions = Permissions::CREATE;
const R: Permissions = Permissions::READ;
const U: Permissions = Permissions::UPDATE;
const D: Permissions = Permissions::DELETE;
const S: Permissions = Permissions::SEARCH;

fn one(token: &str) -> Result<Scope, ScopeIssueReason> {
    token.parse::<Scope>()
}

fn resource(token: &str) -> (Level, String, Permissions, Syntax, usize) {
    match one(token) {
        Ok(Scope::Resource(r)) => (
            r.level(),
            r.resource().to_string(),
            r.permissions(),
            r.syntax(),
            r.constraints().len(),
        ),
        other => panic!("{token}: {other:?}"),
    }
}

#[test]
fn valid_resource_scopes() {
    // (token, level, type, permissions, syntax, constraints) — §1.2, §1.4, §1.5
    let rows: &[(&str, Level, &str, Permissions, Syntax, usize)] = &[
        ("patient/Observation.read", Level::Patient, "Observation", R | S, Syntax::V1, 0),
        ("user/*.write", Level::User, "*", C | U | D, Syntax::V1, 0),
        ("system/*.*", Level::System, "*", C | R | U | D | S, Syntax::V1, 0),
        ("patient/Observation.rs", Level::Patient, "Observation", R | S, Syntax::V2, 0),
        ("patient/Observation.c", Level::Patient, "Observation", C, Syntax::V2, 0),
        ("user/Patient.cruds", Level::User, "Patient", C | R | U | D | S, Syntax::V2, 0),
        ("system/Encounter.ds", Level::System, "Encounter", D | S, Syntax::V2, 0),
        ("patient/Observation.cud", Level::Patient, "Observation", C | U | D, Syntax::V2, 0),
        ("patient/Observation.rs?category=http://terminology.hl7.org/CodeSystem/observation-category|laboratory", Level::Patient, "Observation", R | S, Syntax::V2, 1),
        ("patient/Condition.rs?category=problem-list-item&code=38341003", Level::Patient, "Condition", R | S, Syntax::V2, 2),
    ];
    for (token, level, ty, perms, syntax, n) in rows {
        assert_eq!(
            resource(token),
            (*level, ty.to_string(), *perms, *syntax, *n),
            "{token}"
        );
    }
}

#[test]
fn invalid_resource_scopes_grant_nothing() {
    use ScopeIssueReason::*;
    let rows: &[(&str, ScopeIssueReason)] = &[
        ("patient/Observation.dus", InvalidPermissions), // out of order (the IG's example)
        ("patient/Observation.rr", InvalidPermissions),  // repeated
        ("patient/Observation.rx", InvalidPermissions),  // unknown letter
        ("patient/Observation.", InvalidPermissions),    // empty suffix
        ("patient/Observation", InvalidPermissions),     // no suffix
        ("patient/Observation.reads", InvalidPermissions), // v1 word with trailing junk: no prefix match
        ("patient/Observation.readx", InvalidPermissions),
        ("patient/Observation.rs.", InvalidPermissions),
        ("patient/Observation.Read", InvalidPermissions), // case-sensitive
        ("patient/observation.rs", UnknownResourceType),  // exact case
        ("patient/Foo.rs", UnknownResourceType),
        (
            "patient/Observation.rs?code:in=http://x",
            UnsupportedConstraint,
        ), // modifier
        (
            "patient/Observation.rs?patient.birthdate=2000",
            UnsupportedConstraint,
        ), // chain
        (
            "patient/Observation.rs?_has:Observation:patient:code=1",
            UnsupportedConstraint,
        ),
        (
            "patient/Observation.rs?_include=Observation:subject",
            UnsupportedConstraint,
        ),
        ("patient/Observation.rs?_filter=code eq 1", InvalidCharacter), // space cannot occur in a token
        ("patient/Observation.rs?_filter=x", UnsupportedConstraint),
        (
            "patient/Observation.rs?_type=Condition",
            UnsupportedConstraint,
        ),
        ("patient/Observation.rs?nonsense=1", UnsupportedConstraint),
        ("patient/Observation.rs?date=2020", UnsupportedConstraint), // date parameters are not enforceable
        ("patient/*.rs?category=laboratory", UnsupportedConstraint), // constraint on a wildcard
        ("patient/Observation.rs?category=", MalformedConstraint),
        ("patient/Observation.rs?=x", MalformedConstraint),
        ("patient/Observation.rs?category", MalformedConstraint),
        ("patient/Observation.rs?category=a=b", MalformedConstraint),
        ("patient/Observation.rs?category=a&", MalformedConstraint),
        (
            "patient/Observation.read?category=laboratory",
            MalformedConstraint,
        ), // v1 has no constraints
        ("Patient/Observation.rs", Unknown), // level is lower case
        ("patients/Observation.rs", Unknown),
        ("patient/Observation.rs\u{7f}", InvalidCharacter),
        ("patient/Observation.rs\"", InvalidCharacter),
        ("patient/Observation.r\\s", InvalidCharacter),
        ("patient/Observation.rs\u{e9}", InvalidCharacter),
    ];
    for (token, reason) in rows {
        assert_eq!(one(token), Err(*reason), "{token}");
        let set = ScopeSet::parse(token);
        assert_eq!(
            set.resource_scopes().count(),
            0,
            "{token} granted something"
        );
    }
}

#[test]
fn non_resource_scopes() {
    let rows: &[(&str, Scope)] = &[
        ("openid", Scope::OpenId),
        ("fhirUser", Scope::FhirUser),
        ("profile", Scope::Profile),
        ("launch", Scope::Launch),
        ("launch/patient", Scope::LaunchPatient),
        ("launch/encounter", Scope::LaunchEncounter),
        ("offline_access", Scope::OfflineAccess),
        ("online_access", Scope::OnlineAccess),
        (
            "launch/imagingstudy",
            Scope::LaunchContext {
                resource: "imagingstudy".into(),
                role: None,
            },
        ),
        (
            "launch/patient?role=https://example.org/role",
            Scope::LaunchContext {
                resource: "patient".into(),
                role: Some("https://example.org/role".into()),
            },
        ),
        ("__custom", Scope::Extension("__custom".into())),
        (
            "https://example.org/scope/x",
            Scope::Extension("https://example.org/scope/x".into()),
        ),
    ];
    for (token, scope) in rows {
        assert_eq!(one(token).as_ref(), Ok(scope), "{token}");
        assert_eq!(scope.to_string(), *token);
        assert_eq!(ScopeSet::parse(token).resource_scopes().count(), 0);
    }
    for bad in [
        "launch/Patient",
        "launch/nosuchtype",
        "launch/patient?role=",
        "launch/patient?role=a&role=b",
        "openidx",
        "fhiruser",
        "email",
    ] {
        assert!(one(bad).is_err(), "{bad}");
    }
}

/// SMART App Launch 2.2, "Appendix: URI representation of scopes": the URI form exists for
/// exchanging scopes outside OAuth. In a `scope` string it grants nothing by default and is
/// reported as `uri_form` (never mistaken for an extension scope); a policy can accept it.
#[test]
fn uri_representation_of_scopes() {
    let smart = "http://smarthealthit.org/fhir/scopes/";
    let oidc = "http://openid.net/specs/openid-connect-core-1_0#";
    let rows: &[(&str, &str)] = &[
        ("patient/*.rs", smart),
        ("patient/Observation.rs?category=laboratory", smart),
        ("user/Observation.read", smart),
        ("system/*.cruds", smart),
        ("launch/patient", smart),
        ("fhirUser", smart),
        ("online_access", smart),
        ("openid", oidc),
        ("profile", oidc),
        ("offline_access", oidc),
    ];
    for (short, prefix) in rows {
        let scope = one(short).unwrap();
        let uri = format!("{prefix}{short}");
        assert_eq!(scope.to_uri().as_deref(), Some(uri.as_str()), "{short}");
        assert_eq!(Scope::from_uri(&uri).as_ref(), Ok(&scope), "{uri}");
        // As a token of a `scope` string: reported, grants nothing.
        assert_eq!(one(&uri), Err(ScopeIssueReason::UriForm), "{uri}");
        let set = ScopeSet::parse(&uri);
        assert_eq!(set.iter().count(), 0, "{uri}");
        assert_eq!(set.issues()[0].reason.code(), "uri_form");
    }
    // Variant spellings of the two namespaces are refused the same way, not taken as extensions.
    for variant in [
        "https://smarthealthit.org/fhir/scopes/patient/*.rs",
        "HTTP://SmartHealthIT.org/fhir/scopes/patient/*.rs",
        "http://openid.net/specs/openid-connect-core-1_0#openid",
    ] {
        assert_eq!(one(variant), Err(ScopeIssueReason::UriForm), "{variant}");
    }
    // Only the canonical prefix of each scope, and a valid scope after it.
    for bad in [
        "https://smarthealthit.org/fhir/scopes/patient/*.rs",
        "http://smarthealthit.org/fhir/scopes/openid",
        "http://openid.net/specs/openid-connect-core-1_0#patient/*.rs",
        "http://smarthealthit.org/fhir/scopes/patient/Observation.dus",
        "http://smarthealthit.org/fhir/scopes/",
        "patient/*.rs",
    ] {
        assert!(Scope::from_uri(bad).is_err(), "{bad}");
    }
    assert_eq!(Scope::Extension("__x".into()).to_uri(), None);

    // Opt-in: the URI form grants exactly what the short form grants.
    let accept = {
        let mut p = ScopePolicy::default();
        p.accept_uri_form = true;
        p
    };
    let set = ScopeSet::parse_with(
        "http://openid.net/specs/openid-connect-core-1_0#openid http://smarthealthit.org/fhir/scopes/patient/Observation.rs http://smarthealthit.org/fhir/scopes/patient/Observation.dus",
        &accept,
    );
    assert_eq!(set.to_string(), "openid patient/Observation.rs");
    let reasons: Vec<_> = set.issues().iter().map(|i| i.reason).collect();
    assert_eq!(reasons, [ScopeIssueReason::InvalidPermissions]);
    // Invalid resource scopes in URI form still reject the grant under `RejectToken`.
    let strict = {
        let mut p = accept.clone();
        p.invalid_resource_scope = InvalidScopeHandling::RejectToken;
        p
    };
    assert_eq!(
        ScopeSet::parse_with(
            "http://smarthealthit.org/fhir/scopes/patient/Observation.dus",
            &strict
        )
        .rejection(),
        Some(ScopeRejection::InvalidResourceScope)
    );
}

#[test]
fn tokenising_splits_on_spaces_only() {
    let set = ScopeSet::parse("  openid   patient/Observation.rs  ");
    assert_eq!(set.iter().count(), 2);
    assert!(set.issues().is_empty());
    // Tabs, newlines and commas are not separators.
    for s in [
        "openid\tpatient/Observation.rs",
        "openid\npatient/Observation.rs",
        "patient/Observation.rs,patient/Condition.rs",
    ] {
        let set = ScopeSet::parse(s);
        assert_eq!(set.resource_scopes().count(), 0, "{s:?}");
        assert_eq!(set.issues().len(), 1, "{s:?}");
    }
    let compat = {
        let mut p = ScopePolicy::default();
        p.comma_separators = true;
        p
    };
    assert_eq!(
        ScopeSet::parse_with("patient/Observation.rs,patient/Condition.rs", &compat)
            .resource_scopes()
            .count(),
        2
    );
}

#[test]
fn issues_are_reported_and_others_still_count() {
    let set = ScopeSet::parse("patient/Observation.rs patient/Observation.dus openid bogus");
    assert_eq!(set.resource_scopes().count(), 1);
    let reasons: Vec<_> = set.issues().iter().map(|i| i.reason).collect();
    assert_eq!(
        reasons,
        [
            ScopeIssueReason::InvalidPermissions,
            ScopeIssueReason::Unknown
        ]
    );
    assert_eq!(set.rejection(), None);
}

#[test]
fn policy_rejections() {
    let strict = {
        let mut p = ScopePolicy::default();
        p.invalid_resource_scope = InvalidScopeHandling::RejectToken;
        p
    };
    let set = ScopeSet::parse_with("patient/Observation.rs patient/Observation.dus", &strict);
    assert_eq!(set.rejection(), Some(ScopeRejection::InvalidResourceScope));
    assert_eq!(set.iter().count(), 0);
    // Nor does a resource scope that is too long or has a character no scope may have: it is
    // as invalid as one with bad letters, and is not merely ignored under RejectToken.
    let long = format!("patient/Observation.rs?category={}", "a".repeat(1024));
    for bad in [long.as_str(), "patient/Observation.rs\u{e9}", "user/*.rs\""] {
        let set = ScopeSet::parse_with(&format!("patient/Observation.rs {bad}"), &strict);
        assert_eq!(
            set.rejection(),
            Some(ScopeRejection::InvalidResourceScope),
            "{bad}"
        );
    }
    // An unknown non-resource scope does not reject the token.
    assert_eq!(
        ScopeSet::parse_with("patient/Observation.rs email", &strict).rejection(),
        None
    );

    // v1 + v2: normalised by default, rejected on request.
    let mixed = "patient/Observation.read patient/Condition.rs";
    assert_eq!(ScopeSet::parse(mixed).rejection(), None);
    let no_mix = {
        let mut p = ScopePolicy::default();
        p.version_mixing = VersionMixing::Reject;
        p
    };
    assert_eq!(
        ScopeSet::parse_with(mixed, &no_mix).rejection(),
        Some(ScopeRejection::MixedVersions)
    );

    // system/ with patient/ or user/: rejected by default.
    for s in [
        "system/*.rs patient/Observation.rs",
        "user/Observation.rs system/Patient.r",
    ] {
        let set = ScopeSet::parse(s);
        assert_eq!(set.rejection(), Some(ScopeRejection::MixedLevels), "{s}");
        assert_eq!(set.resource_scopes().count(), 0);
    }
    let allow = {
        let mut p = ScopePolicy::default();
        p.level_mixing = LevelMixing::Allow;
        p
    };
    assert_eq!(
        ScopeSet::parse_with("system/*.rs patient/Observation.rs", &allow)
            .resource_scopes()
            .count(),
        2
    );
    // patient/ + user/ is legitimate.
    assert_eq!(
        ScopeSet::parse("patient/Observation.rs user/Observation.rs").rejection(),
        None
    );

    // Too many scopes: the grant is refused, never truncated.
    let many: Vec<String> = (0..300).map(|i| format!("__x{i}")).collect();
    assert_eq!(
        ScopeSet::parse(&many.join(" ")).rejection(),
        Some(ScopeRejection::TooManyScopes)
    );
    let long = format!("patient/Observation.rs?code={}", "a".repeat(1100));
    assert_eq!(one(&long), Err(ScopeIssueReason::TooLong));
}

#[test]
fn normalise_display_and_roundtrip() {
    let set = ScopeSet::parse(
        "patient/Observation.read patient/Observation.c patient/*.rs patient/Condition.r openid",
    );
    let n = set.normalize();
    assert_eq!(n.to_string(), "patient/*.rs patient/Observation.crs openid");
    // Display round-trips through parse.
    assert_eq!(ScopeSet::parse(&n.to_string()), n);
    // v1 keeps its form when displayed unnormalised.
    assert_eq!(ScopeSet::parse("user/*.write").to_string(), "user/*.write");
}

#[test]
fn intersect_never_widens() {
    let granted = ScopeSet::parse("patient/*.rs patient/Observation.cruds openid offline_access");
    let requested = ScopeSet::parse("patient/Observation.rds patient/Condition.cr openid launch");
    let got = granted.intersect(&requested).normalize();
    assert_eq!(
        got.to_string(),
        "patient/Condition.r patient/Observation.rds openid"
    );
    assert!(got.is_subset_of(&granted));
    assert!(got.is_subset_of(&requested));
    // Constraints add up.
    let a = ScopeSet::parse("patient/Observation.rs?category=laboratory");
    let b = ScopeSet::parse("patient/*.r");
    assert_eq!(
        a.intersect(&b).to_string(),
        "patient/Observation.r?category=laboratory"
    );
    // Levels never cross.
    assert_eq!(
        ScopeSet::parse("user/*.rs")
            .intersect(&ScopeSet::parse("patient/*.rs"))
            .iter()
            .count(),
        0
    );
}

/// Every pair of constrained scopes of one type meets in its own scope, so the intersection of
/// two grants can hold far more scopes than either (and than a token may carry): beyond the
/// default bound of 256 it is refused as too many, never built in full (65,536 scopes here,
/// each checked against all before it: minutes of work before).
#[test]
fn intersect_is_bounded() {
    let grant = |param: &str, n: usize| {
        let scopes: Vec<String> = (0..n)
            .map(|i| format!("patient/Observation.rs?{param}=v{i}"))
            .collect();
        ScopeSet::parse(&scopes.join(" "))
    };
    let at_bound = grant("category", 16).intersect(&grant("code", 16));
    assert_eq!(at_bound.rejection(), None);
    assert_eq!(at_bound.resource_scopes().count(), 256);
    for (a, b) in [(17, 16), (256, 256)] {
        let over = grant("category", a).intersect(&grant("code", b));
        assert_eq!(
            over.rejection(),
            Some(ScopeRejection::TooManyScopes),
            "{a}x{b}"
        );
        assert_eq!(over.iter().count(), 0, "{a}x{b}");
        assert_eq!(over.normalize().iter().count(), 0, "{a}x{b}");
    }
}

#[test]
fn subset_for_refresh() {
    let original = ScopeSet::parse("patient/*.rs openid");
    assert!(ScopeSet::parse("patient/Observation.r").is_subset_of(&original));
    assert!(ScopeSet::parse("patient/Observation.r?category=laboratory").is_subset_of(&original));
    assert!(!ScopeSet::parse("patient/Observation.c").is_subset_of(&original));
    assert!(!ScopeSet::parse("user/Observation.r").is_subset_of(&original));
    assert!(!ScopeSet::parse("offline_access").is_subset_of(&original));
    let constrained = ScopeSet::parse("patient/Observation.rs?category=laboratory");
    assert!(!ScopeSet::parse("patient/Observation.rs").is_subset_of(&constrained));
    // A request the policy rejects grants nothing here, but it is no subset: an authorization
    // server checking a refresh request this way would otherwise pass the string on, and a
    // resource server with another policy (levels allowed, invalid scopes ignored) would read
    // system/*.cruds or patient/*.cruds in it.
    let mut strict = ScopePolicy::default();
    strict.invalid_resource_scope = InvalidScopeHandling::RejectToken;
    for rejected in [
        ScopeSet::parse("patient/*.rs system/*.cruds"),
        ScopeSet::parse_with("patient/*.cruds patient/Foo.rs", &strict),
    ] {
        assert!(rejected.rejection().is_some());
        assert!(!rejected.is_subset_of(&original), "{rejected:?}");
    }
}

#[test]
fn v2_letters_exhaustive() {
    // Every string over "cruds" letters up to length 5 is valid iff strictly increasing in cruds order.
    let letters = ['c', 'r', 'u', 'd', 's', 'e', 'a'];
    let mut stack = vec![String::new()];
    while let Some(s) = stack.pop() {
        if s.len() < 4 {
            for l in letters {
                stack.push(format!("{s}{l}"));
            }
        }
        let order = |c: char| "cruds".find(c);
        let valid = !s.is_empty()
            && s.chars().all(|c| order(c).is_some())
            && s.chars()
                .zip(s.chars().skip(1))
                .all(|(a, b)| order(a) < order(b));
        assert_eq!(Permissions::from_v2(&s).is_some(), valid, "{s:?}");
        let token = format!("patient/Observation.{s}");
        let is_v1 = s == "read";
        assert_eq!(one(&token).is_ok(), valid || is_v1, "{token}");
    }
}

#[test]
fn wildcard_covers_every_type() {
    let set = ScopeSet::parse("user/*.r");
    let scope = set.resource_scopes().next().unwrap();
    assert_eq!(scope.resource(), ScopeResource::Any);
    assert!(set.grants(Level::User, fhir_types::ResourceType::Observation, R));
    assert!(!set.grants(Level::User, fhir_types::ResourceType::Observation, S));
    assert!(!set.grants(Level::Patient, fhir_types::ResourceType::Observation, R));
}

#[cfg(feature = "testing")]
mod generated {
    use proptest::prelude::*;
    use smart_auth::scope::ScopeSet;
    use smart_auth::testing::strategy::{malformed_scope_token, scope_string, scope_token};

    proptest! {
        #[test]
        fn valid_tokens_parse_and_round_trip(token in scope_token()) {
            let set = ScopeSet::parse(&token);
            prop_assert!(set.issues().is_empty(), "{token}: {:?}", set.issues());
            prop_assert_eq!(set.resource_scopes().count(), 1);
            prop_assert_eq!(ScopeSet::parse(&set.to_string()), set);
        }

        #[test]
        fn malformed_tokens_grant_nothing(token in malformed_scope_token(), good in scope_token()) {
            let set = ScopeSet::parse(&format!("{good} {token}"));
            prop_assert_eq!(set.issues().len(), 1, "{}", token);
            prop_assert_eq!(set.resource_scopes().count(), if set.rejection().is_some() { 0 } else { 1 });
        }

        #[test]
        fn normalise_and_intersect_never_widen(a in scope_string(), b in scope_string()) {
            let a = ScopeSet::parse(&a);
            let b = ScopeSet::parse(&b);
            let n = a.normalize();
            prop_assert!(n.is_subset_of(&a) || a.rejection().is_some());
            prop_assert!(a.is_subset_of(&n) || a.rejection().is_some());
            let i = a.intersect(&b);
            if i.rejection().is_none() {
                prop_assert!(i.is_subset_of(&a));
                prop_assert!(i.is_subset_of(&b));
            }
        }

        #[test]
        fn arbitrary_strings_never_panic(s in "\\PC{0,200}") {
            let set = ScopeSet::parse(&s);
            let _ = set.normalize().to_string();
        }
    }
}
