//! Unit tests of the accounting of disclosures.

use super::*;
use crate::model::{Client, Disclosure, Interaction, Outcome, Recipient};
use chrono::TimeZone;

fn at(y: i32, m: u32, d: u32) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(y, m, d, 10, 0, 0).unwrap()
}

fn disclosure(when: DateTime<Utc>, to: Recipient, purpose: &str) -> AuditRecord {
    AuditRecord::new(
        when,
        Event::Disclosure(Disclosure::new(to, "Immunization history")),
    )
    .patient("p1")
    .purpose(purpose)
}

#[test]
fn a_patient_named_by_reference_is_the_same_patient() {
    // `Patient/p1` is what a host holding a Reference has at hand: the record and the
    // request must still agree that it is p1, or the disclosure silently goes unreported.
    let now = at(2026, 11, 28);
    let health_dept = Recipient::new("State Health Dept");
    let record = AuditRecord::new(
        at(2025, 1, 1),
        Event::Disclosure(Disclosure::new(health_dept, "Immunization history")),
    )
    .patient("Patient/p1")
    .patient("p1")
    .purpose("PUBHLTH");
    assert_eq!(record.patients, ["p1"]);
    let policy = AccountingPolicy::default();
    for asked in ["p1", "Patient/p1"] {
        let report = account([&record], &AccountingRequest::new(asked, now), &policy);
        assert_eq!(report.patient, "p1");
        assert_eq!(report.entries.len(), 1, "asked as {asked}");
    }
    // Only the exact `Patient/` prefix of a relative reference is taken off.
    let other = AuditRecord::new(now, Event::Login)
        .patient("Group/p1")
        .patient("Patient/");
    assert_eq!(other.patients, ["Group/p1", "Patient/"]);
}

#[test]
fn six_year_window_exclusions_and_order() {
    let now = at(2026, 11, 28);
    let health_dept = Recipient::new("State Health Dept").address("1 Capitol Way");
    let records = vec![
        disclosure(at(2024, 5, 1), health_dept.clone(), "PUBHLTH"),
        disclosure(at(2020, 11, 27), health_dept.clone(), "PUBHLTH"), // more than six years back
        disclosure(at(2021, 1, 2), health_dept.clone(), "PUBHLTH"),
        disclosure(at(2025, 1, 1), Recipient::new("Dr B"), "TREAT"),
        disclosure(
            at(2025, 1, 1),
            Recipient::new("Patient").individual(),
            "PATRQT",
        ),
        AuditRecord::new(
            at(2025, 2, 1),
            Event::Disclosure(
                Disclosure::new(Recipient::new("Insurer"), "claims").authorization("Consent/9"),
            ),
        )
        .patient("p1")
        .purpose("HMARKT"),
        AuditRecord::new(
            at(2025, 2, 2),
            Event::Disclosure(
                Disclosure::new(Recipient::new("Registry"), "LDS").limited_data_set(),
            ),
        )
        .patient("p1")
        .purpose("HRESCH"),
        disclosure(at(2025, 3, 1), health_dept.clone(), "PUBHLTH").patient("p2"),
        disclosure(at(2025, 4, 1), health_dept.clone(), "PUBHLTH")
            .outcome(Outcome::Denied { reason: "x".into() }),
        AuditRecord::new(
            at(2025, 5, 1),
            Event::Disclosure(Disclosure::new(Recipient::new("Court"), "records")),
        )
        .patient("p2")
        .purpose("HLEGAL"),
    ];
    let report = account(
        &records,
        &AccountingRequest::new("p1", now),
        &AccountingPolicy::default(),
    );
    let dates: Vec<_> = report.entries.iter().map(|e| e.date).collect();
    assert_eq!(dates, vec![at(2021, 1, 2), at(2024, 5, 1), at(2025, 3, 1)]);
    assert_eq!(
        report.entries[0].recipient_address.as_deref(),
        Some("1 Capitol Way")
    );
    assert_eq!(
        report.entries[0].purpose,
        "public health activities (PUBHLTH)"
    );
    let text = report.to_text();
    assert!(
        text.contains("1. Date: 2021-01-02\n   Recipient: State Health Dept (1 Capitol Way)"),
        "{text}"
    );

    // A shorter period on request; exclusions can be switched off by configuration.
    let mut req = AccountingRequest::new("p1", now);
    req.from = Some(at(2024, 1, 1));
    let policy = AccountingPolicy {
        exclude_authorized: false,
        exclude_limited_data_set: false,
        ..Default::default()
    };
    let r = account(&records, &req, &policy);
    assert_eq!(r.entries.len(), 4);
    assert_eq!(
        r.entries
            .iter()
            .filter(|e| e.recipient == "Insurer" || e.recipient == "Registry")
            .count(),
        2
    );
}

#[test]
fn suspensions_withhold_every_disclosure_to_the_named_recipient_while_in_effect() {
    // (a)(2) suspends the individual's right to an accounting of disclosures to the agency
    // for the time the agency specified: what counts is when the accounting is made, not
    // when the disclosure was.
    let police = Recipient::new("City Police").reference("Organization/pd");
    let records = vec![
        disclosure(at(2025, 12, 20), police.clone(), "LAW"),
        disclosure(at(2026, 1, 10), police.clone(), "LAW"),
        disclosure(at(2026, 1, 10), Recipient::new("Health Dept"), "PUBHLTH"),
    ];
    let written = Suspension {
        recipient: "Organization/pd".into(),
        from: at(2026, 1, 5),
        until: at(2026, 6, 30),
        oral: false,
    };
    let oral = Suspension {
        oral: true,
        ..written.clone()
    };
    let counts = |s: &Suspension, now| {
        let policy = AccountingPolicy {
            suspensions: vec![s.clone()],
            ..Default::default()
        };
        let r = account(&records, &AccountingRequest::new("p1", now), &policy);
        (r.suspended, r.entries.len())
    };
    // In effect: both disclosures to the police are withheld, also the one made before the
    // statement; the health department's is listed.
    assert_eq!(counts(&written, at(2026, 2, 1)), (2, 1));
    assert_eq!(counts(&oral, at(2026, 2, 1)), (2, 1));
    // Over (the written one at its end, the oral one 30 days after it was made): every
    // disclosure is listed again, those made while it was in effect too.
    assert_eq!(counts(&written, at(2026, 11, 28)), (0, 3));
    assert_eq!(counts(&oral, at(2026, 2, 10)), (0, 3));
    assert_eq!(counts(&written, at(2026, 2, 10)), (2, 1));
    let policy = AccountingPolicy {
        suspensions: vec![written],
        ..Default::default()
    };
    let r = account(
        &records,
        &AccountingRequest::new("p1", at(2026, 2, 1)),
        &policy,
    );
    assert!(r.to_text().contains("temporarily not listed"));
}

#[test]
fn repeated_disclosures_are_summarised() {
    let dept = Recipient::new("Health Dept");
    let mut records: Vec<_> = (1..=4)
        .map(|m| disclosure(at(2026, m, 5), dept.clone(), "PUBHLTH"))
        .collect();
    records.push(disclosure(
        at(2026, 2, 1),
        Recipient::new("Coroner"),
        "PUBHLTH",
    ));
    let r = account(
        &records,
        &AccountingRequest::new("p1", at(2026, 11, 28)),
        &AccountingPolicy::default(),
    );
    let groups = r.repeated();
    assert_eq!(groups.len(), 2);
    assert_eq!(
        (groups[0].first.date, groups[0].count, groups[0].last),
        (at(2026, 1, 5), 4, at(2026, 4, 5))
    );
    assert_eq!(
        (groups[1].first.recipient.as_str(), groups[1].count),
        ("Coroner", 1)
    );
    let text = r.to_text_summarized();
    assert!(
        text.contains("Repeated: 4 disclosures in all, the last on 2026-04-05"),
        "{text}"
    );
    assert_eq!(text.matches("Recipient:").count(), 2);
    assert_eq!(r.to_text().matches("Recipient:").count(), 5);
}

#[test]
fn grouping_matches_the_pairwise_search_it_replaced() {
    // The former implementation: a linear search of the groups for each entry.
    fn pairwise(r: &DisclosureReport) -> Vec<RepeatedDisclosure<'_>> {
        let mut groups: Vec<RepeatedDisclosure<'_>> = Vec::new();
        for e in &r.entries {
            match groups
                .iter_mut()
                .find(|g| g.first.recipient == e.recipient && g.first.purpose == e.purpose)
            {
                Some(g) => {
                    g.count += 1;
                    g.last = g.last.max(e.date);
                }
                None => groups.push(RepeatedDisclosure {
                    first: e,
                    count: 1,
                    last: e.date,
                }),
            }
        }
        groups
    }
    // Recipients and purposes that share names across groups, equal dates, and an order
    // that is not the date order (entries are sorted by date, stably).
    let recipients = ["Health Dept", "Coroner", "Registry", "Health Dept "];
    let purposes = ["PUBHLTH", "HRESCH", "LAW"];
    let records: Vec<_> = (0..120u32)
        .map(|i| {
            let when = at(2026, 1 + (i * 7) % 12, 1 + (i * 11) % 28);
            let to = Recipient::new(recipients[(i * 5 % 7) as usize % recipients.len()]);
            disclosure(when, to, purposes[(i * 3 % 5) as usize % purposes.len()])
        })
        .collect();
    let r = account(
        &records,
        &AccountingRequest::new("p1", at(2026, 12, 31)),
        &AccountingPolicy::default(),
    );
    assert_eq!(r.entries.len(), 120);
    let groups = r.repeated();
    assert!(groups.len() > 6, "{}", groups.len());
    let expected = pairwise(&r);
    assert_eq!(groups, expected);
    // The same entry heads each group, not merely an equal one.
    assert!(groups
        .iter()
        .zip(&expected)
        .all(|(a, b)| std::ptr::eq(a.first, b.first)));
    let empty = DisclosureReport {
        entries: Vec::new(),
        ..r.clone()
    };
    assert!(empty.repeated().is_empty());
}

/// The default exclusions cover treatment, payment and operations with their v3
/// PurposeOfUse specializations (THO v3-ActReason), not only the three top codes; the
/// specializations that name a §164.512 disclosure stay accounted.
#[test]
fn tpo_specializations_are_excluded_and_512_purposes_accounted() {
    let req = AccountingRequest::new("p1", at(2026, 11, 28));
    let accounted = |purpose: &str| {
        let r = disclosure(at(2026, 1, 1), Recipient::new("Someone"), purpose);
        account([&r], &req, &AccountingPolicy::default())
            .entries
            .len()
            == 1
    };
    let treatment = [
        "TREAT", "CLINTRL", "COC", "ETREAT", "BTG", "ERTREAT", "POPHLTH",
    ];
    let payment = [
        "HPAYMT", "CLMATTCH", "COVAUTH", "COVERAGE", "ELIGDTRM", "ELIGVER", "ENROLLM", "REMITADV",
    ];
    let operations = [
        "HOPERAT",
        "CAREMGT",
        "FRAUD",
        "HACCRED",
        "HDIRECT",
        "HDM",
        "HOUTCOMS",
        "HQUALIMP",
        "HSYSADMIN",
        "LABELING",
        "METAMGT",
        "MEMADMIN",
        "PATADMIN",
        "PATSFTY",
        "PERFMSR",
        "RECORDMGT",
        "SYSDEV",
        "HTEST",
        "TRAIN",
    ];
    for code in treatment.iter().chain(&payment).chain(&operations) {
        assert!(
            !accounted(code),
            "{code} is treatment, payment or operations"
        );
    }
    // Filed under operations or payment in v3, but disclosures §164.512 lists: organ
    // donation (h), decedents (g), judicial proceedings (e), armed forces (k)(1),
    // required by law or oversight (a), (d).
    for code in [
        "DONAT", "HDECD", "HLEGAL", "MILCDM", "MILDCRG", "GOV", "HCOMPL", "HPRGRP", "PUBHLTH",
        "HRESCH", "THREAT",
    ] {
        assert!(accounted(code), "{code} must be accounted");
    }
    // Their entries state the purpose in words, not a bare code ((b)(2)(iv)).
    assert_eq!(
        purpose_statement(&["DONAT".into(), "MILDCRG".into()]),
        "organ, eye or tissue donation (DONAT); military command or discharge (MILDCRG)"
    );
}

/// A disclosure is exempt only when every purpose it was made for is: one made for
/// treatment and public health is a public-health disclosure the patient must be told of.
#[test]
fn a_disclosure_is_exempt_only_when_every_purpose_is() {
    let req = AccountingRequest::new("p1", at(2026, 11, 28));
    let accounted = |purposes: &[&str]| {
        let mut r = AuditRecord::new(
            at(2026, 1, 1),
            Event::Disclosure(Disclosure::new(Recipient::new("Health Dept"), "labs")),
        )
        .patient("p1");
        for p in purposes {
            r = r.purpose(*p);
        }
        account([&r], &req, &AccountingPolicy::default()).entries
    };
    for mixed in [
        &["TREAT", "PUBHLTH"][..],
        &["PUBHLTH", "TREAT"],
        &["HPAYMT", "HOPERAT", "LAW"],
        &["COVERAGE", "UNKNOWNCODE"],
    ] {
        assert_eq!(accounted(mixed).len(), 1, "{mixed:?} must be accounted");
    }
    for exempt in [
        &["TREAT"][..],
        &["TREAT", "HPAYMT", "HOPERAT"],
        &["ETREAT", "ETREAT"],
    ] {
        assert!(accounted(exempt).is_empty(), "{exempt:?} is exempt");
    }
    // No stated purpose: nothing shows it exempt, so it is accounted.
    let unstated = accounted(&[]);
    assert_eq!(unstated.len(), 1);
    assert_eq!(unstated[0].purpose, "not stated");
    // The statement names every purpose the disclosure was made for, in the order stated.
    assert_eq!(
        accounted(&["TREAT", "PUBHLTH"])[0].purpose,
        "treatment (TREAT); public health activities (PUBHLTH)"
    );
}

#[test]
fn rest_access_with_a_purpose_can_count_as_disclosure() {
    let read = |purpose: &str| {
        AuditRecord::rest(at(2026, 6, 1), Interaction::Read, Some("Immunization"))
            .client(Client::new("state-iis").name("State immunization registry"))
            .resource(crate::ResourceRef::new("Immunization", "i1"))
            .patient("p1")
            .purpose(purpose)
    };
    let records = [
        read("PUBHLTH"),
        read("TREAT"),
        read("TREAT").purpose("HRESCH"),
    ];
    let req = AccountingRequest::new("p1", at(2026, 11, 28));
    assert!(account(&records, &req, &AccountingPolicy::default())
        .entries
        .is_empty());
    let policy = AccountingPolicy {
        rest_access_as_disclosure: true,
        ..Default::default()
    };
    let r = account(&records, &req, &policy);
    assert_eq!(r.entries.len(), 2);
    assert_eq!(r.entries[1].purpose, "treatment (TREAT); research (HRESCH)");
    assert_eq!(r.entries[0].recipient, "State immunization registry");
    assert_eq!(r.entries[0].description, "Immunization/i1");
}

/// Data leaves through more than read and search: a public-health client's `$everything`,
/// a history read and a batch of reads release the patient's data as well, and must be in
/// their accounting; a write releases none (the client sends the data).
#[test]
fn every_interaction_that_returns_data_counts_as_rest_access() {
    let access = |record: AuditRecord| {
        record
            .client(Client::new("state-iis"))
            .resource(crate::ResourceRef::new("Immunization", "i1"))
            .patient("p1")
            .purpose("PUBHLTH")
    };
    let when = at(2026, 6, 1);
    let policy = AccountingPolicy {
        rest_access_as_disclosure: true,
        ..Default::default()
    };
    let req = AccountingRequest::new("p1", at(2026, 11, 28));
    let returning = [
        access(AuditRecord::operation(when, Some("Patient"), "everything")),
        access(AuditRecord::rest(
            when,
            Interaction::HistoryInstance,
            Some("Immunization"),
        )),
        access(AuditRecord::rest(
            when,
            Interaction::HistoryType,
            Some("Immunization"),
        )),
        access(AuditRecord::rest(when, Interaction::HistorySystem, None)),
        access(AuditRecord::rest(when, Interaction::Batch, None)),
        access(AuditRecord::rest(when, Interaction::Transaction, None)),
    ];
    for r in &returning {
        let report = account([r], &req, &policy);
        assert_eq!(report.entries.len(), 1, "{:?} is a disclosure", r.event);
        assert_eq!(report.entries[0].description, "Immunization/i1");
    }
    for i in [
        Interaction::Create,
        Interaction::Update,
        Interaction::Patch,
        Interaction::Delete,
        Interaction::Capabilities,
    ] {
        let r = access(AuditRecord::rest(when, i, Some("Immunization")));
        assert!(account([&r], &req, &policy).entries.is_empty(), "{i:?}");
    }
}

/// `may_be_accounted` keeps every record the most permissive accounting lists, and leaves
/// out what no accounting lists (a host indexes only those for its accountings).
#[test]
fn may_be_accounted_keeps_whatever_an_accounting_lists() {
    let when = at(2026, 6, 1);
    let read = || {
        AuditRecord::rest(when, Interaction::Read, Some("Immunization"))
            .client(Client::new("app"))
            .patient("p1")
    };
    let records = [
        disclosure(when, Recipient::new("Registry"), "PUBHLTH"),
        disclosure(when, Recipient::new("Dr B"), "TREAT"),
        AuditRecord::new(
            when,
            Event::Disclosure(Disclosure::new(Recipient::new("Court"), "records")),
        )
        .patient("p1"),
        read().purpose("PUBHLTH"),
        read().purpose("TREAT"),
        read(),
        read()
            .purpose("PUBHLTH")
            .outcome(Outcome::Denied { reason: "x".into() }),
        AuditRecord::rest(when, Interaction::Update, Some("Immunization"))
            .patient("p1")
            .purpose("PUBHLTH"),
        AuditRecord::new(when, Event::Login)
            .patient("p1")
            .purpose("PUBHLTH"),
    ];
    let policy = AccountingPolicy {
        excluded_purposes: BTreeSet::new(),
        exclude_authorized: false,
        exclude_to_individual: false,
        exclude_limited_data_set: false,
        rest_access_as_disclosure: true,
        ..Default::default()
    };
    let req = AccountingRequest::new("p1", at(2026, 11, 28));
    let kept: Vec<bool> = records.iter().map(may_be_accounted).collect();
    assert_eq!(
        kept,
        [true, true, true, true, true, false, false, false, false]
    );
    for (r, kept) in records.iter().zip(kept) {
        let listed = account([r], &req, &policy).entries.len() == 1;
        assert_eq!(listed, kept, "{r:?}");
    }
}

/// A purpose the host could not read is still a stated purpose that is not treatment,
/// payment or operations: the access is accounted, and said as such, not as a v3 code.
#[test]
fn an_unreadable_purpose_is_accounted_and_rendered_as_text() {
    let record = AuditRecord::rest(at(2026, 6, 1), Interaction::Read, Some("Immunization"))
        .client(Client::new("state-iis"))
        .resource(crate::ResourceRef::new("Immunization", "i1"))
        .patient("p1")
        .purpose(crate::UNREADABLE_PURPOSE_OF_USE);
    let policy = AccountingPolicy {
        rest_access_as_disclosure: true,
        ..Default::default()
    };
    let req = AccountingRequest::new("p1", at(2026, 11, 28));
    let report = account([&record], &req, &policy);
    assert_eq!(report.entries.len(), 1);
    assert_eq!(
        report.entries[0].purpose,
        "a purpose stated in a form that could not be read"
    );
    let config = crate::render::RenderConfig::new("https://fhir.example/fhir");
    let event = &crate::render::to_audit_events(&record, &config)[0];
    let json = String::from_utf8(fhir_types::json::to_vec(&fhir_types::Resource::AuditEvent(
        Box::new(event.clone()),
    )))
    .unwrap();
    assert!(json.contains("could not be read"), "{json}");
    assert!(!json.contains("\"code\":\"unreadable"), "{json}");
}
