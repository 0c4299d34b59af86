//! Strict, bounded, lossless FHIR JSON.
//!
//! [`parse_resource`] turns bytes into a typed [`Resource`]; [`to_vec`] and [`to_string`] write it
//! back. The functions are not generic, so calling them costs a host crate no extra compile time.
//!
//! Parsing is strict by default: unknown elements, duplicate keys, two variants of one choice
//! element, a wrong or missing `resourceType`, malformed primitives (per the R4 regexes, and an
//! integer `-0`, which an `i32` could not write back), control characters in strings other
//! than tab, LF and CR (escaped too: R4 strings should not hold them), empty
//! objects, arrays and strings, elements holding only an id (ele-1), extensions with both or
//! neither a value and nested extensions (ext-1), and missing required elements are all
//! rejected with a [`ParseError`] that names the JSON path. Nesting depth, string and number
//! length, input size and the memory of the typed result are bounded by [`ParseOptions`]; a
//! number must also lie in the range of a double, and a FHIR `string` (also `code`,
//! `markdown`, `id`) may hold at most R4's 1024*1024 characters. Resources inside Bundles,
//! `contained` and Parameters go through the same code as top-level ones.

pub(crate) mod error;
pub(crate) mod fields;
pub(crate) mod object;
pub(crate) mod parser;
pub(crate) mod writer;

pub use error::{ErrorKind, ParseError};

use crate::Resource;

/// Limits and switches for parsing. The default is strict, and bounds depth, strings, numbers,
/// the input's size and the memory its typed result may take, for untrusted input.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct ParseOptions {
    /// Deepest nesting of objects and arrays accepted (default 100).
    pub max_depth: usize,
    /// Longest string accepted, in bytes after unescaping (default 16 MiB).
    pub max_string_len: usize,
    /// Largest input accepted, in bytes (default 256 MiB, enough for the largest official
    /// definition Bundles).
    ///
    /// The typed result takes more memory than its JSON: up to about 40 times as much for the
    /// densest documents (each contained `{"resourceType":"Patient"}`, 27 bytes with its comma,
    /// is a struct of over 1 KiB; a Bundle entry `{"id":"a"}` one of about 300 bytes).
    /// [`max_memory`](Self::max_memory) bounds that.
    pub max_input_len: usize,
    /// Most memory the typed result may take, in bytes as the parser counts it: each boxed
    /// struct and each element of a list at its size; strings, at most the input's size, are
    /// not counted (default 64 MiB). The bound on memory that
    /// [`max_input_len`](Self::max_input_len) is not: a document is refused
    /// ([`ErrorKind::InputTooLarge`]) as soon as its result would grow past it. The official
    /// examples count at most 13 times their JSON size (tiny ones), 1.6 times at the median,
    /// and 31 MB for the largest (a 21 MB Bundle); a hostile document of empty contained
    /// resources would count some 40 times its size.
    pub max_memory: usize,
    /// Longest number accepted, in bytes of its JSON text (default 64: R4 asks for 18 digits of
    /// decimal precision, its examples use at most 26 characters).
    pub max_number_len: usize,
    /// Skip elements the model does not know instead of rejecting them (default `false`).
    /// Such elements are dropped, so a round trip is then no longer lossless.
    pub ignore_unknown_elements: bool,
}

impl Default for ParseOptions {
    fn default() -> Self {
        ParseOptions {
            max_depth: 100,
            max_string_len: 16 << 20,
            max_input_len: 256 << 20,
            max_memory: 64 << 20,
            max_number_len: 64,
            ignore_unknown_elements: false,
        }
    }
}

impl ParseOptions {
    /// The strict defaults.
    pub fn strict() -> Self {
        Self::default()
    }

    /// Like the defaults, but elements unknown to the model are skipped.
    pub fn lenient() -> Self {
        ParseOptions {
            ignore_unknown_elements: true,
            ..Self::default()
        }
    }
}

/// Parses one resource of any type from JSON bytes, strictly, with the default limits.
///
/// ```
/// let json = br#"{"resourceType": "Patient", "id": "p1", "birthDate": "1970-01-01"}"#;
/// let resource = fhir_types::json::parse_resource(json)?;
/// assert_eq!(resource.id(), Some("p1"));
/// # Ok::<(), fhir_types::ParseError>(())
/// ```
pub fn parse_resource(json: &[u8]) -> Result<Resource, ParseError> {
    parse_resource_with(json, &ParseOptions::default())
}

/// Parses one resource of any type with explicit [`ParseOptions`].
pub fn parse_resource_with(json: &[u8], options: &ParseOptions) -> Result<Resource, ParseError> {
    let mut p = parser::Parser::new(json, options)?;
    let resource = Resource::read(&mut p)?;
    p.finish()?;
    Ok(resource)
}

/// Writes a resource as compact JSON.
pub fn to_vec(resource: &Resource) -> Vec<u8> {
    let mut w = writer::Writer::with_capacity(1024);
    resource.write(&mut w);
    w.into_inner()
}

/// Writes a resource as a compact JSON string.
pub fn to_string(resource: &Resource) -> String {
    // The writer only emits valid UTF-8: strings come from `&str`, the rest is ASCII.
    String::from_utf8(to_vec(resource)).unwrap_or_default()
}
