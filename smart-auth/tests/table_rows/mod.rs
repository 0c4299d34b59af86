//! One-line table rows shared by the decision table tests: a request with its expected
//! outcome under a `patient/` launch (patient 123), a `user/` token, or a `system/` token.

use smart_auth::testing::policy::{Case, Expect};

/// A row under launch patient 123.
pub fn p(scopes: &str, req: &str, expect: Expect) -> Case {
    Case::new(scopes).patient("123").request(req).expect(expect)
}

/// A row for the user `user` (a `fhirUser` reference).
pub fn u(scopes: &str, user: &str, req: &str, expect: Expect) -> Case {
    Case::new(scopes).user(user).request(req).expect(expect)
}

/// A row with no launch context (`system/` tokens).
pub fn s(scopes: &str, req: &str, expect: Expect) -> Case {
    Case::new(scopes).request(req).expect(expect)
}
