//! FHIR R4 AuditEvents from [`AuditRecord`]s, conforming to IHE BALP (Basic Audit Log
//! Patterns 1.1), built with the typed model of `fhir-types`.
//!
//! | record | AuditEvent | profile claimed (`meta.profile`) |
//! |---|---|---|
//! | create / read, vread / update, patch / delete / search-\* | `type` `rest`, `subtype` the interaction, `action` C / R / U / D / E | `IHE.BasicAudit.<Create\|Read\|Update\|Delete\|Query>`, or `…Patient<…>` with a patient |
//! | history-\*, capabilities, batch, transaction, operation | same skeleton, `action` R or E | none (BALP defines none) |
//! | failure or denial of any of those | same shape, `outcome` 4 / 8 / 12, `outcomeDesc` the reason | none: BALP fixes `outcome` to 0 |
//! | login / logout | `type` DCM 110114 User Authentication, `subtype` 110122 / 110123, `action` E | none |
//! | failed authentication | `type` 110114, no subtype, `outcome` 4 | none |
//! | token issued | `type` 110114, `subtype` `urn:ihe:event-type-code#ITI-71`, token request in a query entity | none |
//! | security alert | `type` DCM 110113, `subtype` the CID 403 code | none |
//! | disclosure | `type` DCM 110106 Export, `subtype` `iso-21089-lifecycle#disclose`, `action` R | `IHE.BasicAudit.PrivacyDisclosure.Source` |
//!
//! A profile is claimed only when the event has what it requires: the client's and the
//! server's network addresses ([`Client::address`], [`RenderConfig::server_address`]; a
//! disclosure needs the server's and [`Recipient::network`](crate::Recipient::network)), and
//! for create, read, update and delete exactly one resource.
//!
//! Agent direction follows BALP: the client is Source Role ID (110153) and the server
//! Destination Role ID (110152) for create, update and query; read is reversed; delete uses
//! Application (110150) and custodian. A record touching several patients becomes one event
//! per patient, each repeating the query and transaction entities. Event ids are derived from
//! the record and patient, so rendering the same record twice gives the same ids (a FHIR feed
//! can deduplicate on them); distinct records alike in every fact, at one instant, get distinct
//! ids through their [`record_id`](crate::AuditRecord::record_id), which the host sets.

mod codes;
mod events;

use chrono::SecondsFormat;
use fhir_types::datatypes::Meta;
use fhir_types::resources::{
    AuditEvent, AuditEventAgent, AuditEventAgentNetwork, AuditEventSource, Bundle, BundleEntry,
    BundleEntryRequest,
};
use fhir_types::Resource;

use crate::model::{AuditRecord, Client, TokenRef, User};
use codes::*;

/// Who records the events: the server's identity in `source` and in the server agent.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct RenderConfig {
    /// Reference to the recording system, e.g. `Device/secure-fhir-server`.
    pub observer: String,
    /// Its display name.
    pub observer_display: Option<String>,
    /// `source.site`, e.g. the hospital or deployment.
    pub site: Option<String>,
    /// The server's network address (host name or IP) for the server agent. BALP requires it:
    /// without it no event claims a BALP profile.
    pub server_address: Option<String>,
    /// One event per patient (BALP's recommendation). Default true.
    pub split_by_patient: bool,
}

impl RenderConfig {
    /// A configuration for the system `observer` (a reference such as `Device/fhir-server`).
    /// Add [`server_address`](Self::server_address): BALP requires it, and without it no
    /// event claims a BALP profile.
    pub fn new(observer: impl Into<String>) -> Self {
        Self {
            observer: observer.into(),
            observer_display: None,
            site: None,
            server_address: None,
            split_by_patient: true,
        }
    }

    /// Sets the observer's display name.
    pub fn observer_display(mut self, d: impl Into<String>) -> Self {
        self.observer_display = Some(d.into());
        self
    }

    /// Sets `source.site`.
    pub fn site(mut self, s: impl Into<String>) -> Self {
        self.site = Some(s.into());
        self
    }

    /// Sets the server's network address.
    pub fn server_address(mut self, a: impl Into<String>) -> Self {
        self.server_address = Some(a.into());
        self
    }

    /// Records one event for all patients instead of one per patient.
    pub fn no_patient_split(mut self) -> Self {
        self.split_by_patient = false;
        self
    }
}

/// The R4 AuditEvents for one record: one per patient, or one when no patient is involved.
pub fn to_audit_events(record: &AuditRecord, config: &RenderConfig) -> Vec<AuditEvent> {
    let log_bytes = record.to_log_bytes().unwrap_or_default();
    patient_groups(record, config)
        .into_iter()
        .map(|patients| {
            let mut ev = events::event(record, config, &patients);
            ev.id = Some(event_id(&log_bytes, &patients).into());
            ev
        })
        .collect()
}

/// The patients of each event of a record, in rendering order.
fn patient_groups<'a>(record: &'a AuditRecord, config: &RenderConfig) -> Vec<Vec<&'a str>> {
    if record.patients.is_empty() {
        vec![Vec::new()]
    } else if config.split_by_patient {
        record.patients.iter().map(|p| vec![p.as_str()]).collect()
    } else {
        vec![record.patients.iter().map(String::as_str).collect()]
    }
}

/// The literal references (`Reference.reference`) of one rendered AuditEvent: what a FHIR
/// server indexes its `agent`, `entity` and `patient` search parameters by.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
#[non_exhaustive]
pub struct EventReferences {
    /// `agent.who.reference` of each agent that has one, in order.
    pub agents: Vec<String>,
    /// `entity.what.reference` of each entity that has one, in order.
    pub entities: Vec<String>,
}

/// The references of each event [`to_audit_events`] gives for `record`, in the same order,
/// without rendering the events (a server indexing every record needs only these).
pub fn event_references(record: &AuditRecord, config: &RenderConfig) -> Vec<EventReferences> {
    use crate::model::Event;
    let fhir_user = record.user.as_ref().and_then(|u| u.fhir_user.clone());
    // Agents: the server (the observer), a disclosure's recipient, the user; entities: the
    // resources of REST and disclosure events, then the event's patients.
    let mut agents = vec![config.observer.clone()];
    let mut resources = Vec::new();
    match &record.event {
        Event::Disclosure(d) => {
            agents.extend(d.recipient.reference.clone());
            resources = record.resources.iter().map(|r| r.reference()).collect();
        }
        Event::Rest { .. } => resources = record.resources.iter().map(|r| r.reference()).collect(),
        Event::Login
        | Event::Logout
        | Event::Authentication
        | Event::TokenIssued { .. }
        | Event::SecurityAlert { .. } => {}
    }
    agents.extend(fhir_user);
    patient_groups(record, config)
        .into_iter()
        .map(|patients| {
            let mut entities = resources.clone();
            entities.extend(patients.iter().map(|p| format!("Patient/{p}")));
            EventReferences {
                agents: agents.clone(),
                entities,
            }
        })
        .collect()
}

/// The R4 JSON of each event of [`to_audit_events`].
pub fn to_r4_json(record: &AuditRecord, config: &RenderConfig) -> Vec<Vec<u8>> {
    to_audit_events(record, config)
        .into_iter()
        .map(|e| fhir_types::json::to_vec(&Resource::AuditEvent(Box::new(e))))
        .collect()
}

/// A `collection` Bundle of AuditEvents (for a FHIR feed, or a disclosure report).
pub fn bundle(events: impl IntoIterator<Item = AuditEvent>) -> Bundle {
    let mut b = Bundle::default();
    b.type_ = "collection".into();
    b.entry = events
        .into_iter()
        .map(|e| {
            let mut entry = BundleEntry::default();
            entry.resource = Some(Resource::AuditEvent(Box::new(e)));
            entry
        })
        .collect();
    b
}

/// A `batch` Bundle that creates each AuditEvent (`POST AuditEvent`): what an audit creator
/// sends to an ATNA repository's `[base]` under the ITI-20 FHIR option. The events keep their
/// ids, so a repository can deduplicate a resend.
pub fn feed_bundle(events: impl IntoIterator<Item = AuditEvent>) -> Bundle {
    let mut b = bundle(events);
    b.type_ = "batch".into();
    for entry in &mut b.entry {
        let mut request = BundleEntryRequest::default();
        request.method = "POST".into();
        request.url = "AuditEvent".into();
        entry.request = Some(Box::new(request));
    }
    b
}

fn event_id(log_bytes: &[u8], patients: &[&str]) -> String {
    let mut ctx = ring::digest::Context::new(&ring::digest::SHA256);
    ctx.update(log_bytes);
    for p in patients {
        ctx.update(&[0]);
        ctx.update(p.as_bytes());
    }
    ctx.finish().as_ref()[..16]
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

fn profile_meta(name: &str) -> Meta {
    let mut m = Meta::default();
    m.profile = vec![format!("{BALP_PROFILE}{name}").into()];
    m
}

fn instant(record: &AuditRecord) -> String {
    record.recorded.to_rfc3339_opts(SecondsFormat::AutoSi, true)
}

fn network(address: &str) -> AuditEventAgentNetwork {
    let mut n = AuditEventAgentNetwork::default();
    n.address = Some(address.into());
    // network-type: 2 = IP address, 5 = URI, 1 = machine name.
    let kind = if address.parse::<std::net::IpAddr>().is_ok() {
        "2"
    } else if address.contains("://") {
        "5"
    } else {
        "1"
    };
    n.type_ = Some(kind.into());
    n
}

fn source(config: &RenderConfig) -> AuditEventSource {
    let mut s = AuditEventSource::default();
    s.site = config.site.as_deref().map(Into::into);
    s.observer = displayed(
        literal(&config.observer),
        config.observer_display.as_deref(),
    );
    s.type_ = vec![coding(SOURCE_TYPE, "4", "Application Server")];
    s
}

fn client_agent(
    client: Option<&Client>,
    type_: fhir_types::datatypes::Coding,
    requestor: bool,
    token: Option<&TokenRef>,
) -> AuditEventAgent {
    let mut a = AuditEventAgent::default();
    a.type_ = Some(concept(vec![type_]));
    let name = client.and_then(|c| c.name.as_deref());
    a.who = Some(match client.and_then(|c| c.client_id.as_deref()) {
        Some(id) => displayed(identified(None, id), name),
        None => displayed(
            fhir_types::datatypes::Reference::default(),
            Some(name.unwrap_or("unidentified client")),
        ),
    });
    a.requestor = requestor.into();
    a.network = client.and_then(|c| c.address.as_deref()).map(network);
    if requestor {
        a.policy = token.map(|t| t.policy().into()).into_iter().collect();
    }
    a
}

fn server_agent(config: &RenderConfig, type_: fhir_types::datatypes::Coding) -> AuditEventAgent {
    let mut a = AuditEventAgent::default();
    a.type_ = Some(concept(vec![type_]));
    a.who = Some(displayed(
        literal(&config.observer),
        config.observer_display.as_deref(),
    ));
    a.requestor = false.into();
    a.network = config.server_address.as_deref().map(network);
    a
}

fn user_agent(
    user: &User,
    type_: fhir_types::datatypes::Coding,
    record: &AuditRecord,
) -> AuditEventAgent {
    let mut a = AuditEventAgent::default();
    let mut types = vec![type_];
    if user
        .fhir_user
        .as_deref()
        .is_some_and(|f| f.starts_with("Patient/") || f.contains("/Patient/"))
    {
        types.push(coding(ROLE_CLASS, "PAT", "patient"));
    }
    a.type_ = Some(concept(types));
    let mut who = identified(user.issuer.as_deref(), &user.id);
    who.reference = user.fhir_user.as_deref().map(Into::into);
    a.who = Some(who);
    a.name = user.name.as_deref().map(Into::into);
    a.role = user.roles.iter().map(|r| text_concept(r)).collect();
    a.requestor = true.into();
    a.policy = record.token.iter().map(|t| t.policy().into()).collect();
    a.purpose_of_use = purposes(record);
    a
}

fn purposes(record: &AuditRecord) -> Vec<fhir_types::datatypes::CodeableConcept> {
    record
        .purpose_of_use
        .iter()
        .map(|p| match p.as_str() {
            crate::UNREADABLE_PURPOSE_OF_USE => {
                text_concept("a purpose of use stated in a form that could not be read")
            }
            code => concept(vec![coding(PURPOSE_OF_USE, code, "")]),
        })
        .collect()
}
