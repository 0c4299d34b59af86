//! HIPAA accounting of disclosures (45 CFR §164.528): which disclosures of one patient's data
//! to report, over which period, with the content (b)(2) requires: date, recipient (and its
//! address if known), a brief description of what was disclosed, and the purpose.
//!
//! What counts comes from the records: [`Event::Disclosure`] records (disclosures known when
//! they happened), and — when [`AccountingPolicy::rest_access_as_disclosure`] is set —
//! successful reads and searches that state a purpose of use the policy does not exclude (a
//! public-health or research app pulling data through the API). Exclusions are configuration:
//! treatment, payment and operations purposes (a record is exempt only when all its purposes
//! are: one also made for public health is accounted), disclosures to the individual, under an
//! authorization, of a limited data set, before the compliance date, and suspended recipients
//! ((a)(2); an oral request suspends for at most 30 days).
//!
//! ```
//! use chrono::{TimeZone, Utc};
//! use fhir_audit::disclosure::{account, AccountingPolicy, AccountingRequest};
//! use fhir_audit::{AuditRecord, Disclosure, Event, Recipient};
//!
//! let when = Utc.with_ymd_and_hms(2026, 3, 1, 9, 0, 0).unwrap();
//! let to_registry = AuditRecord::new(when, Event::Disclosure(Disclosure::new(
//!     Recipient::new("State immunization registry").address("1 Capitol Way"),
//!     "Immunization history",
//! )))
//! .patient("Patient/123") // the logical id or the relative reference
//! .purpose("PUBHLTH");
//! let to_doctor = AuditRecord::new(when, Event::Disclosure(Disclosure::new(
//!     Recipient::new("Dr B"),
//!     "Discharge summary",
//! )))
//! .patient("123")
//! .purpose("TREAT"); // treatment: not accounted
//!
//! // The records come from the host's log (e.g. `MemoryStore::records`).
//! let now = Utc.with_ymd_and_hms(2026, 11, 28, 12, 0, 0).unwrap();
//! let report = account(
//!     [&to_registry, &to_doctor],
//!     &AccountingRequest::new("123", now), // the six years before `now`
//!     &AccountingPolicy::default(),
//! );
//! assert_eq!(report.entries.len(), 1);
//! assert_eq!(report.entries[0].recipient, "State immunization registry");
//! assert!(report.to_text().contains("Purpose: public health activities (PUBHLTH)"));
//! ```

use std::collections::hash_map::{Entry, HashMap};
use std::collections::BTreeSet;
use std::fmt::Write as _;

use chrono::{DateTime, Duration, Months, SecondsFormat, Utc};

use crate::model::{AuditRecord, Event};

/// The v3 PurposeOfUse codes (THO `v3-ActReason`) of treatment, payment and health care
/// operations, whose disclosures §164.528(a)(1)(i) leaves out of the accounting: each of
/// `TREAT`, `HPAYMT`, `HOPERAT` with its specializations, since a code is often the
/// specialization (`COVERAGE` for payment, `ETREAT` for treatment).
///
/// Some specializations v3 files under operations or payment are disclosures §164.512
/// lists, which an accounting must show; they are left out of this list: `DONAT` (organ
/// donation, (h)), `HDECD` (decedents, (g)), `HLEGAL` (judicial proceedings, (e)), `MILCDM`
/// and `MILDCRG` (armed forces, (k)(1)), and `GOV`, `HCOMPL`, `HPRGRP` (government, mandates
/// and program reporting: required by law or oversight, (a), (d)). When in doubt a purpose
/// stays accounted: listing a disclosure that need not be is harmless, omitting one is not.
/// `HDIRECT` (directory) is both operations and excluded by (a)(1)(iv).
#[rustfmt::skip]
pub const TPO_PURPOSES: &[&str] = &[
    // Treatment.
    "TREAT", "CLINTRL", "COC", "ETREAT", "BTG", "ERTREAT", "POPHLTH",
    // Payment.
    "HPAYMT", "CLMATTCH", "COVAUTH", "COVERAGE", "ELIGDTRM", "ELIGVER", "ENROLLM", "REMITADV",
    // Health care operations.
    "HOPERAT", "CAREMGT", "FRAUD", "HACCRED", "HDIRECT", "HDM", "HOUTCOMS", "HQUALIMP",
    "HSYSADMIN", "LABELING", "METAMGT", "MEMADMIN", "PATADMIN", "PATSFTY", "PERFMSR",
    "RECORDMGT", "SYSDEV", "HTEST", "TRAIN",
];

/// The exclusions and options of an accounting.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct AccountingPolicy {
    /// PurposeOfUse codes whose disclosures are not accounted (default [`TPO_PURPOSES`]:
    /// §164.528(a)(1)(i)). Add the codes your organisation uses for national security,
    /// custody or notification disclosures.
    ///
    /// A record is left out only when it states a purpose and every purpose it states is
    /// here: a disclosure for treatment and public health (`[TREAT, PUBHLTH]`) is still a
    /// public-health disclosure and is accounted, and one that states no purpose is accounted
    /// (nothing shows it exempt).
    pub excluded_purposes: BTreeSet<String>,
    /// Leave out disclosures made under an authorization (§164.508). Default true.
    pub exclude_authorized: bool,
    /// Leave out disclosures to the individual. Default true.
    pub exclude_to_individual: bool,
    /// Leave out limited data sets (§164.514(e)). Default true.
    pub exclude_limited_data_set: bool,
    /// Disclosures before this date are not accounted (the compliance date).
    pub compliance_date: Option<DateTime<Utc>>,
    /// Suspensions of the right to an accounting of disclosures to an agency or official.
    pub suspensions: Vec<Suspension>,
    /// Also account successful reads and searches with a non-excluded purpose of use.
    /// Default false.
    pub rest_access_as_disclosure: bool,
}

impl Default for AccountingPolicy {
    fn default() -> Self {
        Self {
            excluded_purposes: TPO_PURPOSES.iter().map(|c| c.to_string()).collect(),
            exclude_authorized: true,
            exclude_to_individual: true,
            exclude_limited_data_set: true,
            compliance_date: None,
            suspensions: Vec::new(),
            rest_access_as_disclosure: false,
        }
    }
}

impl AccountingPolicy {
    /// Whether `purposes` exempt a record: at least one, all excluded. When in doubt (no
    /// purpose, or one purpose not excluded) the record stays accounted.
    fn exempts_by_purpose(&self, purposes: &[String]) -> bool {
        !purposes.is_empty() && purposes.iter().all(|p| self.excluded_purposes.contains(p))
    }
}

/// A health-oversight or law-enforcement suspension (§164.528(a)(2)): while it is in effect
/// (from `from` until `until`), an accounting leaves out every disclosure to `recipient`, also
/// those made before it; once it ends they are all listed again.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Suspension {
    /// The recipient it covers: matched against the recipient's name or reference.
    pub recipient: String,
    /// When the statement was made.
    pub from: DateTime<Utc>,
    /// Until when the agency asked (a written statement).
    pub until: DateTime<Utc>,
    /// An oral statement: suspends at most 30 days from `from` unless a written one follows.
    pub oral: bool,
}

impl Suspension {
    /// Whether it withholds a disclosure to `recipient` from an accounting made at `now`: it
    /// suspends the right to an accounting of every disclosure to the agency while it is in
    /// effect, whenever the disclosure was made.
    fn covers(&self, recipient: &str, reference: Option<&str>, now: DateTime<Utc>) -> bool {
        let until = if self.oral {
            self.until.min(self.from + Duration::days(30))
        } else {
            self.until
        };
        (self.recipient == recipient || Some(self.recipient.as_str()) == reference)
            && self.from <= now
            && now < until
    }
}

/// One patient's request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AccountingRequest {
    /// The patient's logical id (`123`).
    pub patient: String,
    /// When the accounting is requested (injected).
    pub now: DateTime<Utc>,
    /// Start of the period; default six years before `now`.
    pub from: Option<DateTime<Utc>>,
    /// End of the period; default `now`.
    pub to: Option<DateTime<Utc>>,
}

impl AccountingRequest {
    /// The default request: the six years before `now`. `patient` is the logical id (`123`)
    /// or the relative reference (`Patient/123`), as for [`AuditRecord::patient`].
    pub fn new(patient: impl Into<String>, now: DateTime<Utc>) -> Self {
        Self {
            patient: crate::model::patient_id(patient.into()),
            now,
            from: None,
            to: None,
        }
    }

    /// The period actually covered; a start earlier than six years back is moved up to it.
    pub fn period(&self) -> (DateTime<Utc>, DateTime<Utc>) {
        let six_years = self
            .now
            .checked_sub_months(Months::new(72))
            .unwrap_or(DateTime::<Utc>::MIN_UTC);
        let from = self.from.map_or(six_years, |f| f.max(six_years));
        (from, self.to.map_or(self.now, |t| t.min(self.now)))
    }
}

/// One accounted disclosure.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DisclosureEntry {
    /// (b)(2)(i) the date.
    pub date: DateTime<Utc>,
    /// (b)(2)(ii) the recipient's name.
    pub recipient: String,
    /// (b)(2)(ii) its address, if known.
    pub recipient_address: Option<String>,
    /// (b)(2)(iii) what was disclosed.
    pub description: String,
    /// (b)(2)(iv) why: a plain statement of the purpose.
    pub purpose: String,
    /// The record the entry comes from.
    pub record: AuditRecord,
}

/// The accounting for one patient.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DisclosureReport {
    /// The patient.
    pub patient: String,
    /// Start of the period covered.
    pub from: DateTime<Utc>,
    /// End of the period covered.
    pub to: DateTime<Utc>,
    /// When the report was made.
    pub generated: DateTime<Utc>,
    /// The disclosures, oldest first.
    pub entries: Vec<DisclosureEntry>,
    /// How many disclosures are withheld under a suspension (not listed).
    pub suspended: usize,
}

/// Builds the accounting for `request` from `records`.
///
/// A record is left out by purpose only when every purpose it states is one of
/// [`AccountingPolicy::excluded_purposes`]; its entry's purpose statement names all the
/// purposes it states (see [`purpose_statement`]).
pub fn account<'a>(
    records: impl IntoIterator<Item = &'a AuditRecord>,
    request: &AccountingRequest,
    policy: &AccountingPolicy,
) -> DisclosureReport {
    let (from, to) = request.period();
    let mut entries = Vec::new();
    let mut suspended = 0;
    for r in records {
        if !r.outcome.is_success() || !r.patients.contains(&request.patient) {
            continue;
        }
        if r.recorded < from
            || r.recorded > to
            || policy.compliance_date.is_some_and(|c| r.recorded < c)
        {
            continue;
        }
        if policy.exempts_by_purpose(&r.purpose_of_use) {
            continue;
        }
        let (recipient, address, reference, description) = match &r.event {
            Event::Disclosure(d) => {
                if (policy.exclude_authorized && d.authorization.is_some())
                    || (policy.exclude_to_individual && d.recipient.is_individual)
                    || (policy.exclude_limited_data_set && d.limited_data_set)
                {
                    continue;
                }
                (
                    d.recipient.name.clone(),
                    d.recipient.address.clone(),
                    d.recipient.reference.clone(),
                    d.description.clone(),
                )
            }
            Event::Rest {
                interaction,
                resource_type,
                ..
            } if policy.rest_access_as_disclosure
                && !r.purpose_of_use.is_empty()
                && (interaction.is_search() || matches!(interaction.code(), "read" | "vread")) =>
            {
                let client = r.client.as_ref();
                let name = client
                    .and_then(|c| c.name.clone().or_else(|| c.client_id.clone()))
                    .unwrap_or_else(|| "unidentified client".to_owned());
                (
                    name,
                    None,
                    client.and_then(|c| c.client_id.clone()),
                    rest_description(r, resource_type.as_deref()),
                )
            }
            _ => continue,
        };
        if policy
            .suspensions
            .iter()
            .any(|s| s.covers(&recipient, reference.as_deref(), request.now))
        {
            suspended += 1;
            continue;
        }
        entries.push(DisclosureEntry {
            date: r.recorded,
            recipient,
            recipient_address: address,
            description,
            purpose: purpose_statement(&r.purpose_of_use),
            record: r.clone(),
        });
    }
    entries.sort_by_key(|e| e.date);
    DisclosureReport {
        patient: request.patient.clone(),
        from,
        to,
        generated: request.now,
        entries,
        suspended,
    }
}

fn rest_description(r: &AuditRecord, resource_type: Option<&str>) -> String {
    if let Some(d) = &r.query_description {
        return d.clone();
    }
    if !r.resources.is_empty() {
        return r
            .resources
            .iter()
            .map(|x| x.reference())
            .collect::<Vec<_>>()
            .join(", ");
    }
    resource_type.map_or_else(
        || "health information".to_owned(),
        |t| format!("{t} resources"),
    )
}

/// A plain-language statement for v3 PurposeOfUse codes; unknown codes are shown as they are.
pub fn purpose_statement(codes: &[String]) -> String {
    if codes.is_empty() {
        return "not stated".to_owned();
    }
    codes
        .iter()
        .map(|c| {
            let text = match c.as_str() {
                "PUBHLTH" => "public health activities",
                "HRESCH" | "CLINTRCH" => "research",
                "HLEGAL" | "LEGAL" => "legal or judicial proceedings",
                "HSYSADMIN" => "system administration",
                "COVERAGE" | "HPAYMT" => "payment",
                "HOPERAT" => "health care operations",
                "TREAT" | "ETREAT" => "treatment",
                "PATRQT" => "at the patient's request",
                "FAMRQT" => "at a family member's request",
                "PWATRNY" => "at the request of a power of attorney",
                "HMARKT" => "marketing",
                "HDIRECT" => "directory",
                "DISASTER" => "disaster relief",
                "THREAT" => "to avert a serious threat to health or safety",
                "LAW" | "HLAW" => "law enforcement",
                "HOVRSIGHT" | "OVRSIGHT" => "health oversight",
                "DONAT" => "organ, eye or tissue donation",
                "HDECD" => "matters concerning a deceased person",
                "GOV" => "government functions",
                "HCOMPL" => "compliance with a legal mandate",
                "HPRGRP" => "health program reporting",
                "MILCDM" | "MILDCRG" => "military command or discharge",
                _ => return c.clone(),
            };
            format!("{text} ({c})")
        })
        .collect::<Vec<_>>()
        .join("; ")
}

/// Repeated disclosures to one recipient for one purpose, summarised as §164.528(b)(3) allows:
/// the full details of the first, how many there were, and the date of the last.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RepeatedDisclosure<'a> {
    /// The first disclosure, in full.
    pub first: &'a DisclosureEntry,
    /// How many disclosures the group holds.
    pub count: usize,
    /// The date of the last one.
    pub last: DateTime<Utc>,
}

impl DisclosureReport {
    /// The entries grouped by recipient and purpose, in order of their first disclosure.
    pub fn repeated(&self) -> Vec<RepeatedDisclosure<'_>> {
        // Each group's position by its key: one lookup per entry, not a scan of the groups.
        let mut index: HashMap<(&str, &str), usize> = HashMap::new();
        let mut groups: Vec<RepeatedDisclosure<'_>> = Vec::new();
        for e in &self.entries {
            match index.entry((e.recipient.as_str(), e.purpose.as_str())) {
                Entry::Occupied(i) => {
                    let g = &mut groups[*i.get()];
                    g.count += 1;
                    g.last = g.last.max(e.date);
                }
                Entry::Vacant(slot) => {
                    slot.insert(groups.len());
                    groups.push(RepeatedDisclosure {
                        first: e,
                        count: 1,
                        last: e.date,
                    });
                }
            }
        }
        groups
    }

    /// The report as a FHIR `collection` Bundle of the disclosures' AuditEvents (only the event
    /// for this patient when a record concerned several, even if `config` renders one event for
    /// all: an individual's accounting names no other patient).
    pub fn to_bundle(&self, config: &crate::render::RenderConfig) -> fhir_types::resources::Bundle {
        let mut config = config.clone();
        config.split_by_patient = true;
        let patient_ref = format!("Patient/{}", self.patient);
        let events = self
            .entries
            .iter()
            .flat_map(|e| crate::render::to_audit_events(&e.record, &config))
            .filter(|ev| {
                ev.entity.iter().any(|en| {
                    en.role
                        .as_ref()
                        .and_then(|r| r.code.as_ref())
                        .and_then(|c| c.as_str())
                        == Some("1")
                        && en
                            .what
                            .as_ref()
                            .and_then(|w| w.reference.as_ref())
                            .and_then(|r| r.as_str())
                            == Some(patient_ref.as_str())
                })
            });
        crate::render::bundle(events)
    }

    /// The report as plain text for the individual.
    pub fn to_text(&self) -> String {
        let mut s = self.header();
        for (i, e) in self.entries.iter().enumerate() {
            write_entry(&mut s, i + 1, e);
        }
        s.push_str(&self.suspension_note());
        s
    }

    /// The report as plain text with repeated disclosures summarised (§164.528(b)(3)).
    pub fn to_text_summarized(&self) -> String {
        let mut s = self.header();
        for (i, g) in self.repeated().iter().enumerate() {
            write_entry(&mut s, i + 1, g.first);
            if g.count > 1 {
                let _ = writeln!(
                    s,
                    "   Repeated: {} disclosures in all, the last on {}",
                    g.count,
                    day(g.last)
                );
            }
        }
        s.push_str(&self.suspension_note());
        s
    }

    fn header(&self) -> String {
        let mut s = String::new();
        let _ = writeln!(s, "Accounting of disclosures of health information");
        let _ = writeln!(s, "Patient: {}", self.patient);
        let _ = writeln!(
            s,
            "Period: {} to {} (prepared {})",
            day(self.from),
            day(self.to),
            self.generated.to_rfc3339_opts(SecondsFormat::Secs, true)
        );
        if self.entries.is_empty() {
            let _ = writeln!(s, "\nNo disclosures to report for this period.");
        }
        s
    }

    fn suspension_note(&self) -> String {
        let mut s = String::new();
        if self.suspended > 0 {
            let _ = writeln!(
                s,
                "\nSome disclosures are temporarily not listed at the request of a health oversight agency or law enforcement official (45 CFR 164.528(a)(2))."
            );
        }
        s
    }
}

fn day(d: DateTime<Utc>) -> String {
    d.format("%Y-%m-%d").to_string()
}

fn write_entry(s: &mut String, n: usize, e: &DisclosureEntry) {
    let _ = writeln!(s, "\n{n}. Date: {}", day(e.date));
    match &e.recipient_address {
        Some(a) => {
            let _ = writeln!(s, "   Recipient: {} ({a})", e.recipient);
        }
        None => {
            let _ = writeln!(s, "   Recipient: {}", e.recipient);
        }
    }
    let _ = writeln!(s, "   Information disclosed: {}", e.description);
    let _ = writeln!(s, "   Purpose: {}", e.purpose);
}

#[cfg(test)]
mod tests {
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
            "HPAYMT", "CLMATTCH", "COVAUTH", "COVERAGE", "ELIGDTRM", "ELIGVER", "ENROLLM",
            "REMITADV",
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
}
