//! The FHIR request model: which interaction an `http` request is, on which type and id, with
//! its parsed query (FHIR R4 http.html, search.html, operations.html).
//!
//! Path handling is strict: resource types are case-sensitive, ids follow the R4 `id` datatype,
//! and `..`, `.`, empty segments, percent-encoding and matrix parameters in the path are refused,
//! so the decision always sees the same (type, id) the handler will fetch.
//!
//! ```
//! use smart_auth::request::{FhirRequest, Interaction};
//!
//! let req = http::Request::get("https://ehr.example/fhir/Patient/123/Observation?code=1234-5&_count=10")
//!     .body(())
//!     .unwrap();
//! let (parts, ()) = req.into_parts();
//! let fhir = FhirRequest::from_parts(&parts, "/fhir", None).unwrap();
//! assert_eq!(fhir.interaction(), Interaction::SearchCompartment);
//! assert_eq!(fhir.compartment().unwrap().id, "123");
//! assert_eq!(fhir.query().count, Some(10));
//! ```

mod query;

use std::fmt;

use fhir_types::ResourceType;
use http::request::Parts;
use http::Method;

pub use query::{
    Include, ParamLink, Query, ReverseChain, SearchParam, Summary, MAX_CHAIN_DEPTH, MAX_PARAMETERS,
    MAX_QUERY_BYTES,
};

/// Longest request body accepted for `POST _search` form parameters.
pub const MAX_FORM_BYTES: usize = 16 * 1024;

/// The FHIR RESTful interaction a request performs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Interaction {
    /// `GET|HEAD [type]/[id]`.
    Read,
    /// `GET|HEAD [type]/[id]/_history/[vid]`.
    VRead,
    /// `PUT [type]/[id]` (also update-as-create).
    Update,
    /// `PATCH [type]/[id]`.
    Patch,
    /// `DELETE [type]/[id]`.
    Delete,
    /// `POST [type]` (conditional when [`FhirRequest::if_none_exist`] is set).
    Create,
    /// `PUT [type]?[search]`.
    ConditionalUpdate,
    /// `PATCH [type]?[search]`.
    ConditionalPatch,
    /// `DELETE [type]?[search]`.
    ConditionalDelete,
    /// `GET [type]?…` or `POST [type]/_search`.
    SearchType,
    /// `GET [base]?…` or `POST [base]/_search`.
    SearchSystem,
    /// `GET [compartment type]/[id]/[type or *]?…`.
    SearchCompartment,
    /// `GET [type]/[id]/_history`.
    HistoryInstance,
    /// `GET [type]/_history`.
    HistoryType,
    /// `GET [base]/_history`.
    HistorySystem,
    /// `GET [base]/metadata`.
    Capabilities,
    /// `POST [base]` with a Bundle of type `batch` or `transaction` (the body tells which).
    BatchOrTransaction,
    /// `$operation` at system, type or instance level.
    Operation,
}

impl Interaction {
    /// A stable name for logs and audit, e.g. `search-type`.
    pub fn as_str(self) -> &'static str {
        match self {
            Interaction::Read => "read",
            Interaction::VRead => "vread",
            Interaction::Update => "update",
            Interaction::Patch => "patch",
            Interaction::Delete => "delete",
            Interaction::Create => "create",
            Interaction::ConditionalUpdate => "conditional-update",
            Interaction::ConditionalPatch => "conditional-patch",
            Interaction::ConditionalDelete => "conditional-delete",
            Interaction::SearchType => "search-type",
            Interaction::SearchSystem => "search-system",
            Interaction::SearchCompartment => "search-compartment",
            Interaction::HistoryInstance => "history-instance",
            Interaction::HistoryType => "history-type",
            Interaction::HistorySystem => "history-system",
            Interaction::Capabilities => "capabilities",
            Interaction::BatchOrTransaction => "batch-or-transaction",
            Interaction::Operation => "operation",
        }
    }

    /// Whether the interaction changes data.
    pub fn is_write(self) -> bool {
        matches!(
            self,
            Interaction::Update
                | Interaction::Patch
                | Interaction::Delete
                | Interaction::Create
                | Interaction::ConditionalUpdate
                | Interaction::ConditionalPatch
                | Interaction::ConditionalDelete
        )
    }
}

impl fmt::Display for Interaction {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// `[type]/[id]` naming a compartment in a compartment search.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CompartmentRef {
    /// The compartment type (`Patient`, `Encounter`, `RelatedPerson`, `Practitioner`, `Device`).
    pub resource_type: ResourceType,
    /// The compartment id.
    pub id: String,
}

/// Where an operation was invoked.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OperationLevel {
    /// `[base]/$op`.
    System,
    /// `[base]/[type]/$op`.
    Type,
    /// `[base]/[type]/[id]/$op`.
    Instance,
}

/// An invoked operation: `$everything`, `$export`, …
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Operation {
    /// The name without `$`, e.g. `everything`.
    pub name: String,
    /// System, type or instance.
    pub level: OperationLevel,
}

/// The methods a path's shape takes: what a `405 Method Not Allowed` answer lists in its
/// `Allow` header (RFC 9110 §15.5.6: the origin server MUST generate one in a 405 response).
///
/// ```
/// use smart_auth::request::{FhirRequest, RequestError};
/// let (parts, ()) = http::Request::post("/fhir/Patient/1").body(()).unwrap().into_parts();
/// let Err(RequestError::MethodNotAllowed(allow)) = FhirRequest::from_parts(&parts, "/fhir", None)
/// else {
///     panic!("POST to an instance is not a FHIR interaction")
/// };
/// assert_eq!(allow.header_value(), "GET, HEAD, PUT, PATCH, DELETE");
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Allow(path::Shape);

impl Allow {
    /// The `Allow` header value: the methods, comma-separated (e.g. `GET, HEAD`).
    pub fn header_value(self) -> &'static str {
        self.0.methods()
    }
}

/// Why a request is not a well-formed FHIR request. Each maps to one status.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum RequestError {
    /// The path is not under the configured base.
    #[error("not under the FHIR base")]
    NotUnderBase,
    /// Empty, `.`/`..`, percent-encoded or matrix path segments, or a shape FHIR does not define.
    #[error("invalid path")]
    InvalidPath,
    /// A resource type that is not an R4 type in exact case.
    #[error("unknown resource type")]
    UnknownResourceType,
    /// An id or version id outside `[A-Za-z0-9\-.]{1,64}`.
    #[error("invalid id")]
    InvalidId,
    /// The method is not defined for this path, or not taken for it: a bulk `$export` kick-off
    /// is taken by GET only (its POST form's Parameters body is not read, so its parameters
    /// could not be decided). Carries the methods the path's shape takes, for the `Allow`
    /// header a 405 must have.
    #[error("method not allowed")]
    MethodNotAllowed(Allow),
    /// A malformed query or `If-None-Exist` header.
    #[error("invalid query")]
    InvalidQuery,
    /// More than [`MAX_PARAMETERS`] parameters.
    #[error("too many parameters")]
    TooManyParameters,
    /// A query longer than [`MAX_QUERY_BYTES`] (or a form body beyond [`MAX_FORM_BYTES`]).
    #[error("query too long")]
    QueryTooLong,
    /// `POST _search` with a body that is not `application/x-www-form-urlencoded`.
    #[error("unsupported media type")]
    UnsupportedMediaType,
    /// Conditional update or delete without search parameters.
    #[error("conditional interaction without criteria")]
    MissingCriteria,
}

impl RequestError {
    /// The HTTP status to answer with.
    pub fn status(self) -> http::StatusCode {
        use http::StatusCode as S;
        match self {
            RequestError::NotUnderBase | RequestError::UnknownResourceType => S::NOT_FOUND,
            RequestError::MethodNotAllowed(_) => S::METHOD_NOT_ALLOWED,
            RequestError::QueryTooLong => S::URI_TOO_LONG,
            RequestError::UnsupportedMediaType => S::UNSUPPORTED_MEDIA_TYPE,
            _ => S::BAD_REQUEST,
        }
    }

    /// A stable machine-readable code, e.g. `invalid_id`.
    pub fn code(self) -> &'static str {
        match self {
            RequestError::NotUnderBase => "not_under_base",
            RequestError::InvalidPath => "invalid_path",
            RequestError::UnknownResourceType => "unknown_resource_type",
            RequestError::InvalidId => "invalid_id",
            RequestError::MethodNotAllowed(_) => "method_not_allowed",
            RequestError::InvalidQuery => "invalid_query",
            RequestError::TooManyParameters => "too_many_parameters",
            RequestError::QueryTooLong => "query_too_long",
            RequestError::UnsupportedMediaType => "unsupported_media_type",
            RequestError::MissingCriteria => "missing_criteria",
        }
    }
}

/// One classified FHIR request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FhirRequest {
    interaction: Interaction,
    resource_type: Option<ResourceType>,
    id: Option<String>,
    version: Option<String>,
    compartment: Option<CompartmentRef>,
    operation: Option<Operation>,
    query: Query,
    if_none_exist: Option<Query>,
}

mod path;
pub use path::is_valid_id;

/// The criteria of a conditional create (`If-None-Exist` or an entry's `ifNoneExist`) of `ty`,
/// with or without a leading `[type]?` (`?` alone, or exactly `ty`: a host reading another
/// type there would search it with criteria decided for `ty`): at least one search parameter
/// (no criteria would match everything).
fn match_criteria(value: &str, ty: Option<ResourceType>) -> Result<Query, RequestError> {
    let value = match value.split_once('?') {
        Some((prefix, q)) if prefix.is_empty() || ty.is_some_and(|t| t.as_str() == prefix) => q,
        Some(_) => return Err(RequestError::InvalidQuery),
        None => value,
    };
    let q = Query::parse(value)?;
    if q.params.is_empty() && q.has.is_empty() {
        return Err(RequestError::InvalidQuery);
    }
    Ok(q)
}

impl FhirRequest {
    /// Classifies a request from its `http` parts and the server's base path (e.g. `/fhir`, or
    /// `""` / `/` for the root). `form_body` is read only for `POST …/_search` with
    /// `Content-Type: application/x-www-form-urlencoded`; for other requests it is ignored
    /// (batch and transaction Bundles are decided entry by entry, see [`crate::decision`]).
    ///
    /// `X-HTTP-Method-Override` is ignored on purpose: the method is the one on the wire.
    pub fn from_parts(
        parts: &Parts,
        base_path: &str,
        form_body: Option<&[u8]>,
    ) -> Result<FhirRequest, RequestError> {
        let raw_query = parts.uri.query().unwrap_or("");
        let mut req = path::classify(&parts.method, parts.uri.path(), base_path, raw_query)?;
        let mut criteria = parts.headers.get_all("if-none-exist").iter();
        if let Some(h) = criteria.next() {
            // One set of criteria: a host reading another header would run unchecked ones.
            if req.interaction != Interaction::Create || criteria.next().is_some() {
                return Err(RequestError::InvalidQuery);
            }
            let value = h.to_str().map_err(|_| RequestError::InvalidQuery)?;
            req.if_none_exist = Some(match_criteria(value, req.resource_type)?);
        }
        if path::is_post_search(&parts.method, &req) {
            if let Some(body) = form_body.filter(|b| !b.is_empty()) {
                let ct = parts
                    .headers
                    .get(http::header::CONTENT_TYPE)
                    .and_then(|v| v.to_str().ok())
                    .unwrap_or("");
                let mime = ct.split(';').next().unwrap_or("").trim();
                if !mime.eq_ignore_ascii_case("application/x-www-form-urlencoded") {
                    return Err(RequestError::UnsupportedMediaType);
                }
                if body.len() > MAX_FORM_BYTES {
                    return Err(RequestError::QueryTooLong);
                }
                let body = std::str::from_utf8(body).map_err(|_| RequestError::InvalidQuery)?;
                req.query.extend(body)?;
            }
        }
        Ok(req)
    }

    /// Classifies a Bundle entry's `request` (`method` + relative `url`, plus `ifNoneExist`) the
    /// same way as a standalone request, relative to the base.
    pub fn from_entry(
        method: &Method,
        url: &str,
        if_none_exist: Option<&str>,
    ) -> Result<FhirRequest, RequestError> {
        if url.contains("://") || url.starts_with('/') {
            return Err(RequestError::InvalidPath);
        }
        let (path, query) = url.split_once('?').unwrap_or((url, ""));
        let mut full = String::with_capacity(path.len() + 1);
        full.push('/');
        full.push_str(path);
        let mut req = path::classify(method, &full, "", query)?;
        if let Some(value) = if_none_exist {
            if req.interaction != Interaction::Create {
                return Err(RequestError::InvalidQuery);
            }
            req.if_none_exist = Some(match_criteria(value, req.resource_type)?);
        }
        Ok(req)
    }

    /// The interaction.
    pub fn interaction(&self) -> Interaction {
        self.interaction
    }

    /// The resource type in the path (for a compartment search: the searched type; `None` for
    /// `*` and for system-level requests).
    pub fn resource_type(&self) -> Option<ResourceType> {
        self.resource_type
    }

    /// The id in the path, for instance-level requests.
    pub fn id(&self) -> Option<&str> {
        self.id.as_deref()
    }

    /// The version id of a vread.
    pub fn version(&self) -> Option<&str> {
        self.version.as_deref()
    }

    /// The compartment of a compartment search.
    pub fn compartment(&self) -> Option<&CompartmentRef> {
        self.compartment.as_ref()
    }

    /// The operation, for [`Interaction::Operation`].
    pub fn operation(&self) -> Option<&Operation> {
        self.operation.as_ref()
    }

    /// The parsed query (URL query plus form body of `POST _search`).
    pub fn query(&self) -> &Query {
        &self.query
    }

    /// The criteria of a conditional create (`If-None-Exist`).
    pub fn if_none_exist(&self) -> Option<&Query> {
        self.if_none_exist.as_ref()
    }

    /// Whether the request is read-only and answered with data (reads, searches, history,
    /// capabilities; operations are decided by their own rules).
    pub fn is_read(&self) -> bool {
        !self.interaction.is_write()
            && !matches!(
                self.interaction,
                Interaction::BatchOrTransaction | Interaction::Operation
            )
    }
}
