//! The shape of each kind of event.

use fhir_types::datatypes::{Coding, Reference};
use fhir_types::resources::{AuditEvent, AuditEventAgent, AuditEventEntity};

use super::codes::*;
use super::{
    client_agent, instant, network, profile_meta, purposes, server_agent, source, user_agent,
    RenderConfig,
};
use crate::model::{AuditRecord, Disclosure, Event, Interaction};

/// One REST interaction's BALP pattern.
struct RestShape {
    /// The BALP profile base name, when BALP defines one.
    profile: Option<&'static str>,
    action: &'static str,
    client: Coding,
    server: Coding,
    user: Coding,
}

fn source_role() -> Coding {
    coding(DCM, "110153", "Source Role ID")
}

fn destination_role() -> Coding {
    coding(DCM, "110152", "Destination Role ID")
}

fn application() -> Coding {
    coding(DCM, "110150", "Application")
}

fn recipient() -> Coding {
    coding(PARTICIPATION, "IRCP", "information recipient")
}

fn author() -> Coding {
    coding(PARTICIPATION, "AUT", "author (originator)")
}

fn rest_shape(i: Interaction) -> RestShape {
    use Interaction::*;
    let (profile, action) = match i {
        Create => (Some("Create"), "C"),
        Read | Vread => (Some("Read"), "R"),
        Update | Patch => (Some("Update"), "U"),
        Delete => (Some("Delete"), "D"),
        Search | SearchType | SearchSystem => (Some("Query"), "E"),
        HistoryInstance | HistoryType | HistorySystem | Capabilities => (None, "R"),
        _ => (None, "E"),
    };
    match i {
        // Read is the one interaction where the client is the destination.
        Read | Vread | Capabilities | HistoryInstance | HistoryType | HistorySystem => RestShape {
            profile,
            action,
            client: destination_role(),
            server: source_role(),
            user: recipient(),
        },
        Delete => RestShape {
            profile,
            action,
            client: application(),
            server: coding(PROVENANCE_PARTICIPANT, "custodian", "Custodian"),
            user: author(),
        },
        Search | SearchType | SearchSystem => RestShape {
            profile,
            action,
            client: source_role(),
            server: destination_role(),
            user: recipient(),
        },
        _ => RestShape {
            profile,
            action,
            client: source_role(),
            server: destination_role(),
            user: author(),
        },
    }
}

pub(super) fn event(record: &AuditRecord, config: &RenderConfig, patients: &[&str]) -> AuditEvent {
    let mut ev = AuditEvent::default();
    ev.recorded = instant(record).into();
    ev.outcome = Some(record.outcome.code().into());
    ev.outcome_desc = record.outcome.reason().map(Into::into);
    ev.purpose_of_event = purposes(record);
    ev.source = source(config);
    let user_is_requestor = record.user.is_some();
    let mut profile = None;
    match &record.event {
        Event::Rest {
            interaction,
            operation,
            ..
        } => {
            let shape = rest_shape(*interaction);
            ev.type_ = coding(AUDIT_EVENT_TYPE, "rest", "Restful Operation");
            ev.subtype = vec![coding(
                RESTFUL_INTERACTION,
                interaction.code(),
                interaction.code(),
            )];
            if let Some(op) = operation {
                // The operation's name; its definition's canonical URL is the host's to know.
                let mut c = Coding::default();
                c.code = Some(format!("${}", op.trim_start_matches('$')).into());
                ev.subtype.push(c);
            }
            ev.action = Some(shape.action.into());
            ev.agent = agents(record, config, shape.client, shape.server, shape.user);
            ev.entity = transaction(record);
            ev.entity.extend(data(record));
            if interaction.is_search() || record.query.is_some() {
                ev.entity.extend(query(record));
            }
            // BALP's client and server slices need `network` (1..1); the data slice is 1..1
            // and a query entity, also a System Object, would be a second one.
            let addressed = record.client.as_ref().is_some_and(|c| c.address.is_some())
                && config.server_address.is_some();
            let conforms = addressed
                && match shape.profile {
                    Some("Query") => record.query.is_some(),
                    Some(_) => record.resources.len() == 1 && record.query.is_none(),
                    None => false,
                };
            if conforms {
                profile = shape.profile.map(|p| {
                    if patients.len() == 1 {
                        format!("IHE.BasicAudit.Patient{p}")
                    } else {
                        format!("IHE.BasicAudit.{p}")
                    }
                });
            }
        }
        Event::Login | Event::Logout | Event::Authentication => {
            ev.type_ = coding(DCM, "110114", "User Authentication");
            match record.event {
                Event::Login => ev.subtype = vec![coding(DCM, "110122", "Login")],
                Event::Logout => ev.subtype = vec![coding(DCM, "110123", "Logout")],
                _ => {}
            }
            ev.action = Some("E".into());
            ev.agent = agents(
                record,
                config,
                application(),
                destination_role(),
                coding(
                    USER_AGENT_TYPES,
                    "UserOauthAgent",
                    "OAuth Agent participant",
                ),
            );
            ev.entity = transaction(record);
            ev.entity.extend(token_entity(record));
        }
        Event::TokenIssued { .. } => {
            ev.type_ = coding(DCM, "110114", "User Authentication");
            ev.subtype = vec![coding(IHE_EVENT_TYPE, "ITI-71", "Get Access Token")];
            ev.action = Some("E".into());
            let server = coding(
                USER_AGENT_TYPES,
                "AuthzOauthService",
                "Authorization Server",
            );
            ev.agent = agents(record, config, source_role(), server, recipient());
            ev.entity = transaction(record);
            ev.entity.extend(query(record));
            ev.entity.extend(token_entity(record));
        }
        Event::SecurityAlert { alert, description } => {
            let (code, display) = alert.code();
            ev.type_ = coding(DCM, "110113", "Security Alert");
            ev.subtype = vec![coding(DCM, code, display)];
            ev.action = Some("E".into());
            ev.agent = agents(record, config, application(), destination_role(), author());
            ev.entity = transaction(record);
            if let Some(d) = description {
                let mut e = AuditEventEntity::default();
                e.type_ = Some(coding(ENTITY_TYPE, "2", "System Object"));
                e.role = Some(coding(OBJECT_ROLE, "13", "Security Resource"));
                e.description = Some(d.as_str().into());
                ev.entity.push(e);
            }
            ev.entity.extend(data(record));
        }
        Event::Disclosure(d) => {
            disclosure(&mut ev, record, config, d, user_is_requestor);
            // The source and recipient slices need `network` (1..1).
            if patients.len() == 1
                && config.server_address.is_some()
                && d.recipient.network.is_some()
            {
                profile = Some("IHE.BasicAudit.PrivacyDisclosure.Source".to_owned());
            }
        }
    }
    // Free text the host gave a non-REST event (e.g. "token introspection; scope: ...").
    if let (None, Some(d), false) = (
        &record.query,
        &record.query_description,
        matches!(record.event, Event::Rest { .. }),
    ) {
        let mut e = AuditEventEntity::default();
        e.type_ = Some(coding(ENTITY_TYPE, "2", "System Object"));
        e.description = Some(d.as_str().into());
        ev.entity.push(e);
    }
    ev.entity.extend(patients.iter().map(|p| patient_entity(p)));
    // BALP fixes outcome to success: a failure keeps the shape but claims no profile.
    if record.outcome.is_success() {
        ev.meta = profile.as_deref().map(profile_meta);
    }
    ev
}

fn agents(
    record: &AuditRecord,
    config: &RenderConfig,
    client: Coding,
    server: Coding,
    user: Coding,
) -> Vec<AuditEventAgent> {
    let mut out = vec![
        client_agent(
            record.client.as_ref(),
            client,
            record.user.is_none(),
            record.token.as_ref(),
        ),
        server_agent(config, server),
    ];
    if let Some(u) = &record.user {
        out.push(user_agent(u, user, record));
    }
    out
}

fn transaction(record: &AuditRecord) -> Vec<AuditEventEntity> {
    record
        .correlation_id
        .iter()
        .map(|id| {
            let mut e = AuditEventEntity::default();
            e.type_ = Some(coding(BALP_ENTITY_TYPE, "XrequestId", "X-Request-Id"));
            e.what = Some(identified(None, id));
            e
        })
        .collect()
}

fn data(record: &AuditRecord) -> Vec<AuditEventEntity> {
    record
        .resources
        .iter()
        .map(|r| {
            let mut e = AuditEventEntity::default();
            e.type_ = Some(coding(ENTITY_TYPE, "2", "System Object"));
            e.role = Some(coding(OBJECT_ROLE, "4", "Domain Resource"));
            e.what = Some(literal(&r.reference()));
            e
        })
        .collect()
}

/// The query entity: base64 of the raw request, no `what`, no `name` (invariant sev-1).
fn query(record: &AuditRecord) -> Vec<AuditEventEntity> {
    record
        .query
        .iter()
        .map(|q| {
            let mut e = AuditEventEntity::default();
            e.type_ = Some(coding(ENTITY_TYPE, "2", "System Object"));
            e.role = Some(coding(OBJECT_ROLE, "24", "Query"));
            e.query = Some(q.to_base64().into());
            e.description = record.query_description.as_deref().map(Into::into);
            e
        })
        .collect()
}

fn token_entity(record: &AuditRecord) -> Vec<AuditEventEntity> {
    record
        .token
        .iter()
        .map(|t| {
            let mut e = AuditEventEntity::default();
            e.type_ = Some(coding(ENTITY_TYPE, "2", "System Object"));
            e.role = Some(coding(OBJECT_ROLE, "13", "Security Resource"));
            e.what = Some(identified(None, &t.policy()));
            e
        })
        .collect()
}

fn patient_entity(id: &str) -> AuditEventEntity {
    let mut e = AuditEventEntity::default();
    e.type_ = Some(coding(ENTITY_TYPE, "1", "Person"));
    e.role = Some(coding(OBJECT_ROLE, "1", "Patient"));
    e.what = Some(literal(&format!("Patient/{id}")));
    e
}

/// BALP PrivacyDisclosure.Source: the releasing side records the export.
fn disclosure(
    ev: &mut AuditEvent,
    record: &AuditRecord,
    config: &RenderConfig,
    d: &Disclosure,
    user_is_requestor: bool,
) {
    ev.type_ = coding(DCM, "110106", "Export");
    ev.subtype = vec![coding(LIFECYCLE, "disclose", "Disclose")];
    ev.action = Some("R".into());
    // val-audit-source: the source agent is the observer.
    let mut source_agent = server_agent(config, source_role());
    source_agent.requestor = (!user_is_requestor).into();
    let mut recipient_agent = AuditEventAgent::default();
    recipient_agent.type_ = Some(concept(vec![destination_role()]));
    let who = match &d.recipient.reference {
        Some(r) => literal(r),
        None => Reference::default(),
    };
    recipient_agent.who = Some(displayed(who, Some(&d.recipient.name)));
    recipient_agent.requestor = false.into();
    recipient_agent.network = d.recipient.network.as_deref().map(network);
    ev.agent = vec![source_agent, recipient_agent];
    if let Some(auth) = &d.authorization {
        let mut a = AuditEventAgent::default();
        a.type_ = Some(concept(vec![coding(SCT, "429577009", "Patient Advocate")]));
        a.requestor = false.into();
        a.policy = vec![auth.as_str().into()];
        ev.agent.push(a);
    }
    if let Some(u) = &record.user {
        ev.agent.push(user_agent(
            u,
            coding(PARTICIPATION, "INF", "informant"),
            record,
        ));
    }
    ev.entity = transaction(record);
    ev.entity.extend(data(record));
    let mut what = AuditEventEntity::default();
    what.type_ = Some(coding(ENTITY_TYPE, "2", "System Object"));
    what.role = Some(coding(OBJECT_ROLE, "3", "Report"));
    what.lifecycle = Some(coding(LIFECYCLE, "disclose", "Disclose"));
    what.description = Some(d.description.as_str().into());
    if d.limited_data_set {
        what.security_label = vec![coding(
            "http://terminology.hl7.org/CodeSystem/v3-ObservationValue",
            "LDS",
            "limited data set",
        )];
    }
    ev.entity.push(what);
}
