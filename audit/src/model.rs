//! The version-neutral audit record: plain facts the host hands in, nothing FHIR-version or
//! token specific. Rendering ([`crate::render`]) turns it into FHIR R4 AuditEvents; the log
//! ([`crate::log`]) stores its canonical JSON.
//!
//! There is no field that could hold an access token, a cookie or a secret: a token is
//! identified only by a [`TokenRef`] (its `jti`, its last 32 characters or a digest), and the
//! raw request of a search goes through [`RawRequest`](crate::RawRequest), which drops
//! credentials on construction.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::request::RawRequest;

/// The largest canonical record accepted by the log, in bytes.
pub const MAX_RECORD_LEN: usize = 1 << 20;

/// The logical id of a patient named by id (`123`) or by relative reference (`Patient/123`).
/// Ids cannot hold `/` (FHIR R4 `id`), so the prefix is unambiguous.
pub(crate) fn patient_id(id: String) -> String {
    match id.strip_prefix("Patient/") {
        Some(rest) if !rest.is_empty() && !rest.contains('/') => rest.to_owned(),
        _ => id,
    }
}

/// One audit-relevant event, as the host observed it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct AuditRecord {
    /// When the event happened (injected by the host; the crate never reads the clock).
    #[serde(serialize_with = "crate::instant::serialize")]
    pub recorded: DateTime<Utc>,
    /// What happened.
    pub event: Event,
    /// How it ended.
    pub outcome: Outcome,
    /// The person acting, when known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user: Option<User>,
    /// The client application and where the request came from.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client: Option<Client>,
    /// The resources acted on (for a search: none; the query is recorded instead).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub resources: Vec<ResourceRef>,
    /// Logical ids of the patients whose data the event touched (`Patient/<id>`'s id; use
    /// [`AuditRecord::patient`], which also takes the `Patient/<id>` form).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub patients: Vec<String>,
    /// The raw search request (credentials removed), for queries and token requests.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub query: Option<RawRequest>,
    /// The cleaned query (parameters actually applied), plain text.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub query_description: Option<String>,
    /// v3 PurposeOfUse codes (`TREAT`, `HPAYMT`, `PUBHLTH`, ...), or
    /// [`UNREADABLE_PURPOSE_OF_USE`] for a purpose stated in a form the host could not read.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub purpose_of_use: Vec<String>,
    /// The request's correlation id (`X-Request-Id`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub correlation_id: Option<String>,
    /// Which token authorised the request, never the token itself.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub token: Option<TokenRef>,
    /// An identifier of this record unique in the host's trail (e.g. 128 bits from the host's
    /// random source, or its log sequence number; the crate draws no randomness). It is part of
    /// the log bytes the AuditEvent ids derive from, so that two requests alike in every
    /// recorded fact, at one instant, get distinct ids: without it they get the same ids, and a
    /// feed deduplicating on them (audit.md §6.2) would merge them. Set it on every record.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub record_id: Option<String>,
}

/// What happened.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "kebab-case")]
#[non_exhaustive]
pub enum Event {
    /// A FHIR RESTful interaction.
    Rest {
        /// The interaction.
        interaction: Interaction,
        /// The resource type in the request path, if any.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        resource_type: Option<String>,
        /// The operation name for [`Interaction::Operation`] (without `$`).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        operation: Option<String>,
    },
    /// A user logged in (DICOM 110122).
    Login,
    /// A user logged out (DICOM 110123).
    Logout,
    /// A presented credential was checked (typically a failed access-token validation).
    Authentication,
    /// The authorization server issued a token (IHE ITI-71).
    TokenIssued {
        /// The OAuth grant type, e.g. `authorization_code`.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        grant_type: Option<String>,
    },
    /// A security alert (DICOM CID 403).
    SecurityAlert {
        /// Which alert.
        alert: SecurityAlert,
        /// A short description.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        description: Option<String>,
    },
    /// A disclosure of one patient's data to a recipient known at recording time.
    Disclosure(Disclosure),
}

/// A FHIR RESTful interaction (`http://hl7.org/fhir/restful-interaction`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
#[non_exhaustive]
pub enum Interaction {
    /// `read`
    Read,
    /// `vread`
    Vread,
    /// `update`
    Update,
    /// `patch`
    Patch,
    /// `delete`
    Delete,
    /// `history-instance`
    HistoryInstance,
    /// `history-type`
    HistoryType,
    /// `history-system`
    HistorySystem,
    /// `create`
    Create,
    /// `search` (a compartment search, e.g. `Patient/1/Observation`)
    Search,
    /// `search-type`
    SearchType,
    /// `search-system`
    SearchSystem,
    /// `capabilities`
    Capabilities,
    /// `transaction`
    Transaction,
    /// `batch`
    Batch,
    /// `operation`
    Operation,
}

impl Interaction {
    /// The `restful-interaction` code.
    pub fn code(self) -> &'static str {
        match self {
            Self::Read => "read",
            Self::Vread => "vread",
            Self::Update => "update",
            Self::Patch => "patch",
            Self::Delete => "delete",
            Self::HistoryInstance => "history-instance",
            Self::HistoryType => "history-type",
            Self::HistorySystem => "history-system",
            Self::Create => "create",
            Self::Search => "search",
            Self::SearchType => "search-type",
            Self::SearchSystem => "search-system",
            Self::Capabilities => "capabilities",
            Self::Transaction => "transaction",
            Self::Batch => "batch",
            Self::Operation => "operation",
        }
    }

    /// Whether the interaction is a search (recorded with a query entity).
    pub fn is_search(self) -> bool {
        matches!(self, Self::Search | Self::SearchType | Self::SearchSystem)
    }
}

/// How an event ended. Failures carry a stable, generic reason code (e.g.
/// `insufficient_scope`, `not_in_compartment`): the true reason, even when the HTTP answer was
/// a deliberately uninformative 404.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "result", rename_all = "kebab-case")]
#[non_exhaustive]
pub enum Outcome {
    /// Success (AuditEvent outcome `0`).
    Success,
    /// The request was not authenticated (401; outcome `4`).
    Unauthenticated {
        /// Reason code.
        reason: String,
    },
    /// Authorization denied the request (403, or 404 hiding a forbidden resource; outcome `4`).
    Denied {
        /// Reason code.
        reason: String,
    },
    /// The request failed for another reason.
    Failed {
        /// How bad the failure was.
        severity: Severity,
        /// Reason code.
        reason: String,
        /// The HTTP status answered, if any.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        http_status: Option<u16>,
    },
}

impl Outcome {
    /// The AuditEvent outcome code: `0`, `4`, `8` or `12`.
    pub fn code(&self) -> &'static str {
        match self {
            Self::Success => "0",
            Self::Unauthenticated { .. } | Self::Denied { .. } => "4",
            Self::Failed { severity, .. } => severity.code(),
        }
    }

    /// The reason of a failure.
    pub fn reason(&self) -> Option<&str> {
        match self {
            Self::Success => None,
            Self::Unauthenticated { reason }
            | Self::Denied { reason }
            | Self::Failed { reason, .. } => Some(reason),
        }
    }

    /// Whether the event succeeded.
    pub fn is_success(&self) -> bool {
        matches!(self, Self::Success)
    }
}

/// Failure severity, per the AuditEvent outcome codes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Severity {
    /// `4`: minor failure, often equivalent to an HTTP 4xx.
    Minor,
    /// `8`: serious failure, ~HTTP 500; also a rolled-back write.
    Serious,
    /// `12`: major failure; the system is unavailable.
    Major,
}

impl Severity {
    /// The outcome code.
    pub fn code(self) -> &'static str {
        match self {
            Self::Minor => "4",
            Self::Serious => "8",
            Self::Major => "12",
        }
    }
}

/// The person acting (from the token's claims or the login).
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[non_exhaustive]
pub struct User {
    /// Stable user identifier (the token's `sub`).
    pub id: String,
    /// Who issued that identifier (the token's `iss`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub issuer: Option<String>,
    /// The SMART `fhirUser`, e.g. `Practitioner/123` or an absolute URL.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fhir_user: Option<String>,
    /// Display name (comprehensive pattern only; leave empty for minimal records).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// Role codes (e.g. IUA `subject_role`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub roles: Vec<String>,
}

impl User {
    /// The Patient this user is, by its `fhirUser` (`Patient/<id>`, or an absolute URL ending
    /// so): its id. An AuditEvent naming such a user is in that patient's compartment.
    pub fn patient(&self) -> Option<&str> {
        let (prefix, id) = self.fhir_user.as_deref()?.rsplit_once("Patient/")?;
        let local = prefix.is_empty() || prefix.ends_with('/');
        (local && !id.is_empty() && !id.contains('/')).then_some(id)
    }

    /// A user known by its identifier.
    pub fn new(id: impl Into<String>) -> Self {
        Self {
            id: id.into(),
            ..Self::default()
        }
    }

    /// Sets the issuer.
    pub fn issuer(mut self, iss: impl Into<String>) -> Self {
        self.issuer = Some(iss.into());
        self
    }

    /// Sets the `fhirUser` reference.
    pub fn fhir_user(mut self, r: impl Into<String>) -> Self {
        self.fhir_user = Some(r.into());
        self
    }

    /// Sets the display name.
    pub fn name(mut self, n: impl Into<String>) -> Self {
        self.name = Some(n.into());
        self
    }

    /// Adds a role code.
    pub fn role(mut self, r: impl Into<String>) -> Self {
        self.roles.push(r.into());
        self
    }
}

/// The client application and the network peer.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[non_exhaustive]
pub struct Client {
    /// OAuth `client_id`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client_id: Option<String>,
    /// Display name of the application.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// Network address of the peer (an IP address or host name).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub address: Option<String>,
}

impl Client {
    /// A client known by its `client_id`.
    pub fn new(client_id: impl Into<String>) -> Self {
        Self {
            client_id: Some(client_id.into()),
            ..Self::default()
        }
    }

    /// A client known only by its network address.
    pub fn from_address(address: impl Into<String>) -> Self {
        Self {
            address: Some(address.into()),
            ..Self::default()
        }
    }

    /// Sets the network address.
    pub fn address(mut self, a: impl Into<String>) -> Self {
        self.address = Some(a.into());
        self
    }

    /// Sets the display name.
    pub fn name(mut self, n: impl Into<String>) -> Self {
        self.name = Some(n.into());
        self
    }
}

/// A resource acted on.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct ResourceRef {
    /// The resource type, e.g. `Observation`.
    pub resource_type: String,
    /// The logical id.
    pub id: String,
    /// The version id, when the interaction is version-specific.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub version: Option<String>,
}

impl ResourceRef {
    /// A reference to `resource_type/id`.
    pub fn new(resource_type: impl Into<String>, id: impl Into<String>) -> Self {
        Self {
            resource_type: resource_type.into(),
            id: id.into(),
            version: None,
        }
    }

    /// Sets the version id.
    pub fn version(mut self, v: impl Into<String>) -> Self {
        self.version = Some(v.into());
        self
    }

    /// The relative reference, `Type/id` or `Type/id/_history/v`.
    pub fn reference(&self) -> String {
        match &self.version {
            Some(v) => format!("{}/{}/_history/{}", self.resource_type, self.id, v),
            None => format!("{}/{}", self.resource_type, self.id),
        }
    }
}

/// How a token is identified in a record: never the token itself.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "by", content = "value", rename_all = "kebab-case")]
#[non_exhaustive]
pub enum TokenRef {
    /// A JWT's `jti` claim.
    Jti(String),
    /// The last 32 characters of a long opaque token (BALP "OAUTHaccessTokenUse").
    OpaqueSuffix(String),
    /// Lowercase hex SHA-256 of the token.
    Sha256(String),
}

impl TokenRef {
    /// Identifies a JWT by its `jti`.
    pub fn jti(jti: impl Into<String>) -> Self {
        Self::Jti(jti.into())
    }

    /// Identifies an opaque token: by its last 32 characters when it has at least 64 (so the
    /// suffix is at most half of it, as BALP recommends), otherwise by its SHA-256 digest, so a
    /// short token never lands in the log whole.
    pub fn opaque(token: &str) -> Self {
        let chars: Vec<char> = token.chars().collect();
        if chars.len() >= 64 {
            Self::OpaqueSuffix(chars[chars.len() - 32..].iter().collect())
        } else {
            Self::digest(token)
        }
    }

    /// Identifies a token by its SHA-256 digest.
    pub fn digest(token: &str) -> Self {
        let d = ring::digest::digest(&ring::digest::SHA256, token.as_bytes());
        Self::Sha256(d.as_ref().iter().map(|b| format!("{b:02x}")).collect())
    }

    /// The BALP `agent.policy` value: `urn:ietf:params:oauth:jti:<jti>`, the suffix, or
    /// `urn:sha256:<hex>`.
    pub fn policy(&self) -> String {
        match self {
            Self::Jti(j) => format!("urn:ietf:params:oauth:jti:{j}"),
            Self::OpaqueSuffix(s) => s.clone(),
            Self::Sha256(h) => format!("urn:sha256:{h}"),
        }
    }
}

/// A disclosure of one patient's data (BALP PrivacyDisclosure, HIPAA §164.528).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct Disclosure {
    /// Who received the data.
    pub recipient: Recipient,
    /// A brief description of the data disclosed.
    pub description: String,
    /// The authorization (§164.508) the disclosure was made under, if any: e.g. a Consent
    /// reference.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub authorization: Option<String>,
    /// Whether the data was a limited data set (§164.514(e)).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub limited_data_set: bool,
}

impl Disclosure {
    /// A disclosure of `description` to `recipient`.
    pub fn new(recipient: Recipient, description: impl Into<String>) -> Self {
        Self {
            recipient,
            description: description.into(),
            authorization: None,
            limited_data_set: false,
        }
    }

    /// Records the authorization the disclosure was made under.
    pub fn authorization(mut self, a: impl Into<String>) -> Self {
        self.authorization = Some(a.into());
        self
    }

    /// Marks the data as a limited data set.
    pub fn limited_data_set(mut self) -> Self {
        self.limited_data_set = true;
        self
    }
}

/// The recipient of a disclosure.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[non_exhaustive]
pub struct Recipient {
    /// Name of the person or entity.
    pub name: String,
    /// Its postal or electronic address, if known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub address: Option<String>,
    /// A reference to it (e.g. `Organization/state-health-dept`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reference: Option<String>,
    /// Whether the recipient is the patient (or their personal representative).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub is_individual: bool,
    /// The network address the data went to (host name, IP address or URL), if known: BALP's
    /// `agent[recipient].network`, which its PrivacyDisclosure profiles require.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub network: Option<String>,
}

impl Recipient {
    /// A recipient known by name.
    pub fn new(name: impl Into<String>) -> Self {
        Self {
            name: name.into(),
            ..Self::default()
        }
    }

    /// Sets the address.
    pub fn address(mut self, a: impl Into<String>) -> Self {
        self.address = Some(a.into());
        self
    }

    /// Sets the reference.
    pub fn reference(mut self, r: impl Into<String>) -> Self {
        self.reference = Some(r.into());
        self
    }

    /// Sets the network address the data was sent to.
    pub fn network(mut self, n: impl Into<String>) -> Self {
        self.network = Some(n.into());
        self
    }

    /// Marks the recipient as the patient themself.
    pub fn individual(mut self) -> Self {
        self.is_individual = true;
        self
    }
}

/// DICOM CID 403 Security Alert Type codes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
#[non_exhaustive]
pub enum SecurityAlert {
    /// 110126 Node Authentication
    NodeAuthentication,
    /// 110127 Emergency Override Started
    EmergencyOverrideStarted,
    /// 110138 Emergency Override Stopped
    EmergencyOverrideStopped,
    /// 110128 Network Configuration
    NetworkConfiguration,
    /// 110129 Security Configuration
    SecurityConfiguration,
    /// 110130 Hardware Configuration
    HardwareConfiguration,
    /// 110131 Software Configuration
    SoftwareConfiguration,
    /// 110132 Use of Restricted Function
    UseOfRestrictedFunction,
    /// 110133 Audit Recording Stopped
    AuditRecordingStopped,
    /// 110134 Audit Recording Started
    AuditRecordingStarted,
    /// 110135 Object Security Attributes Changed
    ObjectSecurityAttributesChanged,
    /// 110136 Security Roles Changed
    SecurityRolesChanged,
    /// 110137 User Security Attributes Changed
    UserSecurityAttributesChanged,
}

impl SecurityAlert {
    /// The DICOM code and display.
    pub fn code(self) -> (&'static str, &'static str) {
        match self {
            Self::NodeAuthentication => ("110126", "Node Authentication"),
            Self::EmergencyOverrideStarted => ("110127", "Emergency Override Started"),
            Self::EmergencyOverrideStopped => ("110138", "Emergency Override Stopped"),
            Self::NetworkConfiguration => ("110128", "Network Configuration"),
            Self::SecurityConfiguration => ("110129", "Security Configuration"),
            Self::HardwareConfiguration => ("110130", "Hardware Configuration"),
            Self::SoftwareConfiguration => ("110131", "Software Configuration"),
            Self::UseOfRestrictedFunction => ("110132", "Use of Restricted Function"),
            Self::AuditRecordingStopped => ("110133", "Audit Recording Stopped"),
            Self::AuditRecordingStarted => ("110134", "Audit Recording Started"),
            Self::ObjectSecurityAttributesChanged => {
                ("110135", "Object Security Attributes Changed")
            }
            Self::SecurityRolesChanged => ("110136", "Security Roles Changed"),
            Self::UserSecurityAttributesChanged => ("110137", "User Security Attributes Changed"),
        }
    }
}

/// Why a record could not be encoded for the log.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum RecordError {
    /// The canonical encoding exceeds [`MAX_RECORD_LEN`].
    #[error("audit record exceeds {MAX_RECORD_LEN} bytes")]
    TooLarge,
    /// The bytes are not a record.
    #[error("not an audit record: {0}")]
    Malformed(String),
}

impl AuditRecord {
    /// A record of `event` at `recorded`, successful, with nothing else known yet.
    pub fn new(recorded: DateTime<Utc>, event: Event) -> Self {
        Self {
            recorded,
            event,
            outcome: Outcome::Success,
            user: None,
            client: None,
            resources: Vec::new(),
            patients: Vec::new(),
            query: None,
            query_description: None,
            purpose_of_use: Vec::new(),
            correlation_id: None,
            token: None,
            record_id: None,
        }
    }

    /// A record of a RESTful `interaction` on `resource_type` (if the path names one).
    pub fn rest(
        recorded: DateTime<Utc>,
        interaction: Interaction,
        resource_type: Option<&str>,
    ) -> Self {
        Self::new(
            recorded,
            Event::Rest {
                interaction,
                resource_type: resource_type.map(str::to_owned),
                operation: None,
            },
        )
    }

    /// A record of the FHIR operation `$name` (on `resource_type`, if the path names one).
    pub fn operation(recorded: DateTime<Utc>, resource_type: Option<&str>, name: &str) -> Self {
        Self::new(
            recorded,
            Event::Rest {
                interaction: Interaction::Operation,
                resource_type: resource_type.map(str::to_owned),
                operation: Some(name.trim_start_matches('$').to_owned()),
            },
        )
    }

    /// Sets the outcome.
    pub fn outcome(mut self, o: Outcome) -> Self {
        self.outcome = o;
        self
    }

    /// Sets the user.
    pub fn user(mut self, u: User) -> Self {
        self.user = Some(u);
        self
    }

    /// Sets the client.
    pub fn client(mut self, c: Client) -> Self {
        self.client = Some(c);
        self
    }

    /// Adds a resource acted on.
    pub fn resource(mut self, r: ResourceRef) -> Self {
        self.resources.push(r);
        self
    }

    /// Adds a patient whose data the event touched: its logical id (`123`) or its relative
    /// reference (`Patient/123`), kept as the id either way so that renderings and the
    /// accounting of disclosures find it; duplicates are ignored.
    pub fn patient(mut self, id: impl Into<String>) -> Self {
        let id = patient_id(id.into());
        if !self.patients.contains(&id) {
            self.patients.push(id);
        }
        self
    }

    /// Sets the raw search request.
    pub fn query(mut self, q: RawRequest) -> Self {
        self.query = Some(q);
        self
    }

    /// Sets the cleaned query text.
    pub fn query_description(mut self, d: impl Into<String>) -> Self {
        self.query_description = Some(d.into());
        self
    }

    /// Adds a PurposeOfUse code.
    pub fn purpose(mut self, code: impl Into<String>) -> Self {
        self.purpose_of_use.push(code.into());
        self
    }

    /// Sets the correlation id.
    pub fn correlation_id(mut self, id: impl Into<String>) -> Self {
        self.correlation_id = Some(id.into());
        self
    }

    /// Sets the token reference.
    pub fn token(mut self, t: TokenRef) -> Self {
        self.token = Some(t);
        self
    }

    /// Sets the record's identifier, unique in the host's trail (the `record_id` field: the
    /// AuditEvent ids derive from it).
    pub fn record_id(mut self, id: impl Into<String>) -> Self {
        self.record_id = Some(id.into());
        self
    }

    /// Files the record where no patient's trail shows it: under no patient, and with a user
    /// who is a Patient (a `fhirUser` of `Patient/<id>`, relative or absolute) named by issuer
    /// and subject only (an AuditEvent's `patient` covers its agents too). For a denial whose
    /// reason tells more than its answer did (a result check found the resource, outside every
    /// grant, and answered as if it did not exist): auditors see the true reason, the caller
    /// reading its own patient's trail does not learn that the resource exists.
    pub fn for_auditors_only(mut self) -> Self {
        self.patients.clear();
        if let Some(user) = &mut self.user {
            if user.patient().is_some() {
                user.fhir_user = None;
            }
        }
        self
    }

    /// The canonical bytes stored in the log (compact JSON, fields in declaration order).
    pub fn to_log_bytes(&self) -> Result<Vec<u8>, RecordError> {
        let v = serde_json::to_vec(self).map_err(|e| RecordError::Malformed(e.to_string()))?;
        if v.len() > MAX_RECORD_LEN {
            return Err(RecordError::TooLarge);
        }
        Ok(v)
    }

    /// Reads a record back from its log bytes.
    pub fn from_log_bytes(bytes: &[u8]) -> Result<Self, RecordError> {
        if bytes.len() > MAX_RECORD_LEN {
            return Err(RecordError::TooLarge);
        }
        serde_json::from_slice(bytes).map_err(|e| RecordError::Malformed(e.to_string()))
    }
}

/// The purpose of use recorded when a token states one in a form that is no code (a number, a
/// Coding without a code, text with spaces): a stated purpose that is not treatment, payment
/// or operations, so the access stays in the patient's accounting of disclosures
/// (over-reporting rather than a disclosure dropped). Rendered as text, not as a v3 code.
pub const UNREADABLE_PURPOSE_OF_USE: &str = "unreadable-purpose-of-use";
