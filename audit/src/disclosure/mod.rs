//! HIPAA accounting of disclosures (45 CFR §164.528): which disclosures of one patient's data
//! to report, over which period, with the content (b)(2) requires: date, recipient (and its
//! address if known), a brief description of what was disclosed, and the purpose.
//!
//! What counts comes from the records: [`Event::Disclosure`] records (disclosures known when
//! they happened), and — when [`AccountingPolicy::rest_access_as_disclosure`] is set —
//! successful REST interactions that return data (reads, searches, history, operations such
//! as `$everything`, batches; not writes) and state a purpose of use the policy does not
//! exclude (a public-health or research app pulling data through the API). Exclusions are configuration:
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

use crate::model::{AuditRecord, Event, Interaction};

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
    /// Also account successful REST interactions that return data (read, vread, search,
    /// history, operations, batch and transaction; not create, update, patch, delete or
    /// capabilities) with a non-excluded purpose of use. Default false.
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
        if !may_be_accounted(r) || !r.patients.contains(&request.patient) {
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
            Event::Rest { resource_type, .. } if policy.rest_access_as_disclosure => {
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

/// Whether some [`AccountingPolicy`] could list `record` in an accounting: a successful
/// disclosure, or a successful REST interaction that returns data (see
/// [`AccountingPolicy::rest_access_as_disclosure`]) and states a purpose of use. [`account`]
/// looks at no other record, so a host that keeps records aside for accountings (an index
/// per patient) need keep only these.
pub fn may_be_accounted(record: &AuditRecord) -> bool {
    record.outcome.is_success()
        && match &record.event {
            Event::Disclosure(_) => true,
            Event::Rest { interaction, .. } => {
                !record.purpose_of_use.is_empty() && releases_data(*interaction)
            }
            _ => false,
        }
}

/// Whether a successful `interaction` may have given the client the patient's data: every
/// one but a write (the client sent the data) and the capability statement. History,
/// `$everything` and other operations, batches and transactions return data as reads and
/// searches do; when in doubt an interaction counts.
fn releases_data(interaction: Interaction) -> bool {
    !matches!(
        interaction,
        Interaction::Create
            | Interaction::Update
            | Interaction::Patch
            | Interaction::Delete
            | Interaction::Capabilities
    )
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
                crate::UNREADABLE_PURPOSE_OF_USE => {
                    return "a purpose stated in a form that could not be read".to_owned()
                }
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
    /// all: an individual's accounting names no other patient). A search's raw request is left
    /// out of its query entity (it may name other patients, as `patient=a,b` does), so those
    /// events claim no BALP profile; the query's cleaned description stays.
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
            })
            .map(without_raw_request);
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

/// `event` without the raw request of its query entity (BALP's Query profiles require it, so
/// the event then claims none).
fn without_raw_request(
    mut event: fhir_types::resources::AuditEvent,
) -> fhir_types::resources::AuditEvent {
    let mut removed = false;
    for entity in &mut event.entity {
        removed |= entity.query.take().is_some();
    }
    if removed {
        event.meta = None;
    }
    event
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
mod tests;
