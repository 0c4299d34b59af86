//! Code systems and small constructors for the typed FHIR model.

use fhir_types::datatypes::{CodeableConcept, Coding, Identifier, Reference};

pub const AUDIT_EVENT_TYPE: &str = "http://terminology.hl7.org/CodeSystem/audit-event-type";
pub const RESTFUL_INTERACTION: &str = "http://hl7.org/fhir/restful-interaction";
pub const DCM: &str = "http://dicom.nema.org/resources/ontology/DCM";
pub const ENTITY_TYPE: &str = "http://terminology.hl7.org/CodeSystem/audit-entity-type";
pub const OBJECT_ROLE: &str = "http://terminology.hl7.org/CodeSystem/object-role";
pub const PARTICIPATION: &str = "http://terminology.hl7.org/CodeSystem/v3-ParticipationType";
pub const ROLE_CLASS: &str = "http://terminology.hl7.org/CodeSystem/v3-RoleClass";
pub const PROVENANCE_PARTICIPANT: &str =
    "http://terminology.hl7.org/CodeSystem/provenance-participant-type";
pub const BALP_ENTITY_TYPE: &str =
    "https://profiles.ihe.net/ITI/BALP/CodeSystem/BasicAuditEntityType";
pub const USER_AGENT_TYPES: &str = "https://profiles.ihe.net/ITI/BALP/CodeSystem/UserAgentTypes";
pub const LIFECYCLE: &str = "http://terminology.hl7.org/CodeSystem/iso-21089-lifecycle";
pub const PURPOSE_OF_USE: &str = "http://terminology.hl7.org/CodeSystem/v3-ActReason";
pub const SOURCE_TYPE: &str = "http://terminology.hl7.org/CodeSystem/security-source-type";
pub const IHE_EVENT_TYPE: &str = "urn:ihe:event-type-code";
pub const SCT: &str = "http://snomed.info/sct";
pub const BALP_PROFILE: &str = "https://profiles.ihe.net/ITI/BALP/StructureDefinition/";

pub fn coding(system: &str, code: &str, display: &str) -> Coding {
    let mut c = Coding::default();
    c.system = Some(system.into());
    c.code = Some(code.into());
    if !display.is_empty() {
        c.display = Some(display.into());
    }
    c
}

pub fn concept(codings: Vec<Coding>) -> CodeableConcept {
    let mut cc = CodeableConcept::default();
    cc.coding = codings;
    cc
}

pub fn text_concept(text: &str) -> CodeableConcept {
    let mut cc = CodeableConcept::default();
    cc.text = Some(text.into());
    cc
}

pub fn literal(reference: &str) -> Reference {
    let mut r = Reference::default();
    r.reference = Some(reference.into());
    r
}

pub fn identified(system: Option<&str>, value: &str) -> Reference {
    let mut id = Identifier::default();
    id.system = system.map(Into::into);
    id.value = Some(value.into());
    let mut r = Reference::default();
    r.identifier = Some(Box::new(id));
    r
}

pub fn displayed(mut r: Reference, display: Option<&str>) -> Reference {
    if let Some(d) = display {
        r.display = Some(d.into());
    }
    r
}
