//! The search parameters this server indexes: for each resource type, the parameter codes, their
//! kinds and the JSON element paths (from R4's SearchParameter expressions) their values come from.
//!
//! A path is a dot-separated list of element names from the resource root; arrays are flattened
//! at every step. Choice elements are listed once per allowed type (`effectiveDateTime`,
//! `effectivePeriod`). A reference path may carry a target type (`subject>Patient`): only
//! references to that type count.

/// How a parameter's values are indexed and matched.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// `system|code` from code, Coding, CodeableConcept, Identifier, boolean.
    Token,
    /// `Type/id` from Reference.
    Reference,
    /// A `[lo, hi)` instant range from date, dateTime, instant, Period.
    Date,
    /// Case-insensitive prefix text from string and HumanName parts.
    Text,
}

/// One search parameter of one resource type.
#[derive(Debug, Clone, Copy)]
pub struct ParamDef {
    /// The parameter code as used in a query (`subject`).
    pub code: &'static str,
    /// How values are indexed.
    pub kind: Kind,
    /// Element paths the values come from.
    pub paths: &'static [&'static str],
}

const fn p(code: &'static str, kind: Kind, paths: &'static [&'static str]) -> ParamDef {
    ParamDef { code, kind, paths }
}

use Kind::{Date, Reference, Text, Token};

const PATIENT: &[ParamDef] = &[
    p("identifier", Token, &["identifier"]),
    p("name", Text, &["name.family", "name.given", "name.text"]),
    p("family", Text, &["name.family"]),
    p("given", Text, &["name.given"]),
    p("birthdate", Date, &["birthDate"]),
    p("gender", Token, &["gender"]),
    p("active", Token, &["active"]),
    p("general-practitioner", Reference, &["generalPractitioner"]),
    p("organization", Reference, &["managingOrganization"]),
    p("link", Reference, &["link.other"]),
];

const OBSERVATION: &[ParamDef] = &[
    p("identifier", Token, &["identifier"]),
    p("code", Token, &["code"]),
    p("category", Token, &["category"]),
    p("status", Token, &["status"]),
    p("subject", Reference, &["subject"]),
    p("patient", Reference, &["subject>Patient"]),
    p("encounter", Reference, &["encounter"]),
    p("performer", Reference, &["performer"]),
    p(
        "date",
        Date,
        &["effectiveDateTime", "effectivePeriod", "effectiveInstant"],
    ),
];

const CONDITION: &[ParamDef] = &[
    p("identifier", Token, &["identifier"]),
    p("code", Token, &["code"]),
    p("category", Token, &["category"]),
    p("clinical-status", Token, &["clinicalStatus"]),
    p("verification-status", Token, &["verificationStatus"]),
    p("subject", Reference, &["subject"]),
    p("patient", Reference, &["subject>Patient"]),
    p("encounter", Reference, &["encounter"]),
    p("asserter", Reference, &["asserter"]),
    p("onset-date", Date, &["onsetDateTime", "onsetPeriod"]),
    p("recorded-date", Date, &["recordedDate"]),
];

const ENCOUNTER: &[ParamDef] = &[
    p("identifier", Token, &["identifier"]),
    p("status", Token, &["status"]),
    p("class", Token, &["class"]),
    p("type", Token, &["type"]),
    p("subject", Reference, &["subject"]),
    p("patient", Reference, &["subject>Patient"]),
    p("participant", Reference, &["participant.individual"]),
    p(
        "practitioner",
        Reference,
        &["participant.individual>Practitioner"],
    ),
    p("service-provider", Reference, &["serviceProvider"]),
    p("date", Date, &["period"]),
];

const MEDICATION_REQUEST: &[ParamDef] = &[
    p("identifier", Token, &["identifier"]),
    p("status", Token, &["status"]),
    p("intent", Token, &["intent"]),
    p("category", Token, &["category"]),
    p("code", Token, &["medicationCodeableConcept"]),
    p("medication", Reference, &["medicationReference"]),
    p("subject", Reference, &["subject"]),
    p("patient", Reference, &["subject>Patient"]),
    p("encounter", Reference, &["encounter"]),
    p("requester", Reference, &["requester"]),
    p("authoredon", Date, &["authoredOn"]),
];

const ALLERGY_INTOLERANCE: &[ParamDef] = &[
    p("identifier", Token, &["identifier"]),
    p("code", Token, &["code", "reaction.substance"]),
    p("category", Token, &["category"]),
    p("clinical-status", Token, &["clinicalStatus"]),
    p("patient", Reference, &["patient"]),
    p("recorder", Reference, &["recorder"]),
    p("asserter", Reference, &["asserter"]),
    p("date", Date, &["recordedDate"]),
];

const PROCEDURE: &[ParamDef] = &[
    p("identifier", Token, &["identifier"]),
    p("code", Token, &["code"]),
    p("category", Token, &["category"]),
    p("status", Token, &["status"]),
    p("subject", Reference, &["subject"]),
    p("patient", Reference, &["subject>Patient"]),
    p("encounter", Reference, &["encounter"]),
    p("performer", Reference, &["performer.actor"]),
    p("date", Date, &["performedDateTime", "performedPeriod"]),
];

const IMMUNIZATION: &[ParamDef] = &[
    p("identifier", Token, &["identifier"]),
    p("vaccine-code", Token, &["vaccineCode"]),
    p("status", Token, &["status"]),
    p("patient", Reference, &["patient"]),
    p("performer", Reference, &["performer.actor"]),
    p("date", Date, &["occurrenceDateTime"]),
];

const DIAGNOSTIC_REPORT: &[ParamDef] = &[
    p("identifier", Token, &["identifier"]),
    p("code", Token, &["code"]),
    p("category", Token, &["category"]),
    p("status", Token, &["status"]),
    p("subject", Reference, &["subject"]),
    p("patient", Reference, &["subject>Patient"]),
    p("encounter", Reference, &["encounter"]),
    p("performer", Reference, &["performer"]),
    p("result", Reference, &["result"]),
    p("date", Date, &["effectiveDateTime", "effectivePeriod"]),
];

const CARE_PLAN: &[ParamDef] = &[
    p("identifier", Token, &["identifier"]),
    p("category", Token, &["category"]),
    p("status", Token, &["status"]),
    p("subject", Reference, &["subject"]),
    p("patient", Reference, &["subject>Patient"]),
    p("encounter", Reference, &["encounter"]),
    p("date", Date, &["period"]),
];

const DOCUMENT_REFERENCE: &[ParamDef] = &[
    p("identifier", Token, &["identifier", "masterIdentifier"]),
    p("type", Token, &["type"]),
    p("category", Token, &["category"]),
    p("status", Token, &["status"]),
    p("subject", Reference, &["subject"]),
    p("patient", Reference, &["subject>Patient"]),
    p("author", Reference, &["author"]),
    p("date", Date, &["date"]),
];

const SERVICE_REQUEST: &[ParamDef] = &[
    p("identifier", Token, &["identifier"]),
    p("code", Token, &["code"]),
    p("category", Token, &["category"]),
    p("status", Token, &["status"]),
    p("subject", Reference, &["subject"]),
    p("patient", Reference, &["subject>Patient"]),
    p("encounter", Reference, &["encounter"]),
    p("performer", Reference, &["performer"]),
    p("authored", Date, &["authoredOn"]),
];

const PRACTITIONER: &[ParamDef] = &[
    p("identifier", Token, &["identifier"]),
    p("name", Text, &["name.family", "name.given", "name.text"]),
    p("family", Text, &["name.family"]),
    p("given", Text, &["name.given"]),
    p("active", Token, &["active"]),
];

const ORGANIZATION: &[ParamDef] = &[
    p("identifier", Token, &["identifier"]),
    p("name", Text, &["name", "alias"]),
    p("active", Token, &["active"]),
];

const AUDIT_EVENT: &[ParamDef] = &[
    p("type", Token, &["type"]),
    p("subtype", Token, &["subtype"]),
    p("action", Token, &["action"]),
    p("outcome", Token, &["outcome"]),
    p("agent", Reference, &["agent.who"]),
    p("entity", Reference, &["entity.what"]),
    p(
        "patient",
        Reference,
        &["agent.who>Patient", "entity.what>Patient"],
    ),
    p("source", Reference, &["source.observer"]),
    p("altid", Token, &["agent.altId"]),
    p("date", Date, &["recorded"]),
];

const PROVENANCE: &[ParamDef] = &[
    p("target", Reference, &["target"]),
    p("patient", Reference, &["target>Patient"]),
    p("agent", Reference, &["agent.who"]),
    p("recorded", Date, &["recorded"]),
];

/// The parameters indexed for `resource_type` (empty for types without special support: those
/// still support `_id` and `_lastUpdated`).
pub fn params(resource_type: &str) -> &'static [ParamDef] {
    match resource_type {
        "Patient" => PATIENT,
        "Observation" => OBSERVATION,
        "Condition" => CONDITION,
        "Encounter" => ENCOUNTER,
        "MedicationRequest" => MEDICATION_REQUEST,
        "AllergyIntolerance" => ALLERGY_INTOLERANCE,
        "Procedure" => PROCEDURE,
        "Immunization" => IMMUNIZATION,
        "DiagnosticReport" => DIAGNOSTIC_REPORT,
        "CarePlan" => CARE_PLAN,
        "DocumentReference" => DOCUMENT_REFERENCE,
        "ServiceRequest" => SERVICE_REQUEST,
        "Practitioner" => PRACTITIONER,
        "Organization" => ORGANIZATION,
        "AuditEvent" => AUDIT_EVENT,
        "Provenance" => PROVENANCE,
        _ => &[],
    }
}

/// The definition of `code` on `resource_type`, if this server indexes it.
pub fn param(resource_type: &str, code: &str) -> Option<&'static ParamDef> {
    params(resource_type).iter().find(|d| d.code == code)
}
