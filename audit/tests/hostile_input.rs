//! Hostile input: the parsers and the verifier never panic, and credentials placed anywhere a
//! request can carry them never reach a record.

use fhir_audit::checkpoint::{Checkpoint, SignedCheckpoint};
use fhir_audit::{verify_log, RawRequest, VerifyOptions};
use proptest::prelude::*;

proptest! {
    #![proptest_config(ProptestConfig::with_cases(300))]

    #[test]
    fn verifier_survives_any_bytes(log in proptest::collection::vec(any::<u8>(), 0..2048),
                                   cps in proptest::collection::vec(any::<u8>(), 0..512),
                                   with_magic in any::<bool>()) {
        let mut l = if with_magic { fhir_audit::frame::LOG_MAGIC.to_vec() } else { Vec::new() };
        l.extend_from_slice(&log);
        let mut c = if with_magic { fhir_audit::frame::CHECKPOINT_MAGIC.to_vec() } else { Vec::new() };
        c.extend_from_slice(&cps);
        let report = verify_log(&l, &c, &VerifyOptions::default());
        let _ = report.to_string();
    }

    #[test]
    fn checkpoint_parsers_survive_any_text(s in "\\PC{0,300}", t in "[a-z0-9/\\n =+\u{2014}A-Z]{0,200}") {
        let _ = SignedCheckpoint::parse(&s);
        let _ = SignedCheckpoint::parse(&t);
        let _ = Checkpoint::parse_body(&t);
        let _ = fhir_audit::checkpoint::NoteVerifier::from_vkey(&t);
        let _ = fhir_audit::checkpoint::NoteSigner::from_skey(&t);
    }

    #[test]
    fn credentials_never_reach_the_record(
        path in "[a-zA-Z/_?=&%0-9.-]{0,40}",
        before in proptest::collection::vec(("[A-Za-z-]{1,12}", "[ -~]{0,20}"), 0..4),
        after in proptest::collection::vec(("[A-Za-z-]{1,12}", "[ -~]{0,20}"), 0..4),
        header in prop_oneof![Just("Authorization"), Just("authorization"), Just("DPoP"), Just("Cookie"), Just("Proxy-Authorization")],
        crlf in any::<bool>(),
        body_param in any::<bool>(),
    ) {
        const SECRET: &str = "SeCrEtToKeN123";
        let eol = if crlf { "\r\n" } else { "\n" };
        let mut raw = format!("POST /{path}{}access_token={SECRET} HTTP/1.1{eol}", if path.contains('?') { "&" } else { "?" });
        for (n, v) in before.iter().filter(|(n, _)| !n.eq_ignore_ascii_case("content-type")) {
            raw.push_str(&format!("{n}: {v}{eol}"));
        }
        raw.push_str(&format!("{header}: Bearer {SECRET}{eol}"));
        raw.push_str(&format!("Content-Type: application/x-www-form-urlencoded{eol}"));
        for (n, v) in after.iter().filter(|(n, _)| !n.eq_ignore_ascii_case("content-type")) {
            raw.push_str(&format!("{n}: {v}{eol}"));
        }
        raw.push_str(eol);
        if body_param {
            raw.push_str(&format!("a=1&access_token={SECRET}&b=2"));
        }
        let r = RawRequest::from_bytes(raw.as_bytes());
        let text = String::from_utf8_lossy(r.as_bytes()).into_owned();
        prop_assert!(!text.contains(SECRET), "{}", text);
        // Only the credentials went: every other header line is still there.
        for (n, v) in before.iter().chain(&after).filter(|(n, _)| {
            !n.eq_ignore_ascii_case("content-type") && !RawRequest::is_credential_header(n)
        }) {
            let line = format!("{n}: {v}{eol}");
            prop_assert!(text.contains(&line), "lost {:?} in {}", line, text);
        }
    }
}
