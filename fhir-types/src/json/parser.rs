//! A strict, bounded pull parser over a byte slice.
//!
//! Generated code drives it: `begin_object` / `next_key` / `begin_array` / `next_item` and typed
//! value readers. It keeps the exact text of numbers, tracks the JSON path of the current value
//! for error messages, and enforces the limits of [`ParseOptions`].

use super::error::{ErrorKind, ParseError};
use super::ParseOptions;
use crate::ResourceType;
use std::borrow::Cow;
use std::collections::{HashMap, HashSet};

#[path = "parser_errors.rs"]
mod errors;
use errors::snippet;

/// One open object on the path: the key being read and, for arrays, the item index.
struct Seg<'a> {
    key: Cow<'a, str>,
    index: Option<usize>,
    first_key: bool,
    /// Keys skipped as unknown in this object (lenient mode), to refuse them twice. Boxed so a
    /// segment stays small on the strict hot path, where it is always `None`.
    #[allow(clippy::box_collection)]
    unknown: Option<Box<HashSet<String>>>,
}

/// The pull parser. Not public: the generated `read` functions are its only users.
pub(crate) struct Parser<'a> {
    input: &'a [u8],
    pos: usize,
    depth: usize,
    opts: &'a ParseOptions,
    path: Vec<Seg<'a>>,
    root: Option<ResourceType>,
    /// A contained resource is being read (dom-2: it may hold no resources).
    in_contained: bool,
    /// The `resourceType` of objects a pre-scan skipped over, by the offset of their `{`, so a
    /// nested resource is not scanned again: with `resourceType` last at every level, each
    /// level's scan would re-read all levels below it (work of input size times depth).
    scanned_types: HashMap<usize, Cow<'a, str>>,
    /// A primitive's `_name` half without extensions was just read: valid only beside a value
    /// (ele-1). Set by `primitive::read::element`, taken by `object::read_object`.
    pub(crate) bare_half: bool,
    /// Bytes of the typed result allocated so far, as [`Parser::charge`] counts them.
    memory: usize,
    /// Bytes read by `resourceType` pre-scans, for the test that they stay linear.
    #[cfg(test)]
    pub(crate) scanned_bytes: usize,
}

type Result<T> = std::result::Result<T, ParseError>;

/// Whether a JSON number lies in the range of a double: neither overflows (`1e400`) nor, unless
/// it is zero, underflows to zero (`1e-400`). Beyond that range no consumer can hold it exactly
/// or even approximately, and big-decimal consumers may allocate by the exponent.
fn in_double_range(number: &str) -> bool {
    let v: f64 = number.parse().unwrap_or(f64::INFINITY);
    let mantissa = number.split(['e', 'E']).next().unwrap_or_default();
    v.is_finite() && (v != 0.0 || !mantissa.bytes().any(|b| matches!(b, b'1'..=b'9')))
}

impl<'a> Parser<'a> {
    pub(crate) fn new(input: &'a [u8], opts: &'a ParseOptions) -> Result<Self> {
        let p = Parser {
            input,
            pos: 0,
            depth: 0,
            opts,
            path: Vec::new(),
            root: None,
            in_contained: false,
            scanned_types: HashMap::new(),
            bare_half: false,
            memory: 0,
            #[cfg(test)]
            scanned_bytes: 0,
        };
        if input.len() > opts.max_input_len {
            return Err(p.err(
                ErrorKind::InputTooLarge,
                format!("{} bytes, limit {}", input.len(), opts.max_input_len),
            ));
        }
        Ok(p)
    }

    /// Counts `bytes` of the typed result about to be allocated (a boxed struct, an element of
    /// a list), and refuses the document once they pass
    /// [`ParseOptions::max_memory`](crate::json::ParseOptions::max_memory): the typed result
    /// can take some 40 times the size of its JSON, so the input bound alone does not bound it.
    pub(crate) fn charge(&mut self, bytes: usize) -> Result<()> {
        self.memory = self.memory.saturating_add(bytes);
        if self.memory > self.opts.max_memory {
            return Err(self.err(
                ErrorKind::InputTooLarge,
                format!(
                    "the parsed resource would take over {} bytes",
                    self.opts.max_memory
                ),
            ));
        }
        Ok(())
    }

    // ---- lexing ----

    #[inline]
    fn ws(&mut self) {
        while let Some(b' ' | b'\n' | b'\r' | b'\t') = self.input.get(self.pos) {
            self.pos += 1;
        }
    }

    #[inline]
    fn peek(&mut self) -> Option<u8> {
        self.ws();
        self.input.get(self.pos).copied()
    }

    fn enter(&mut self) -> Result<()> {
        self.depth += 1;
        if self.depth > self.opts.max_depth {
            return Err(self.err(
                ErrorKind::TooDeep,
                format!("nesting deeper than {}", self.opts.max_depth),
            ));
        }
        Ok(())
    }

    /// Consumes `{`; empty objects are rejected (FHIR forbids them).
    pub(crate) fn begin_object(&mut self) -> Result<()> {
        match self.peek() {
            Some(b'{') => {}
            Some(b'[' | b'"' | b't' | b'f' | b'n' | b'-' | b'0'..=b'9') => {
                return Err(self.err(ErrorKind::UnexpectedType, "expected an object"))
            }
            _ => return Err(self.syntax("an object")),
        }
        self.enter()?;
        self.pos += 1;
        if self.peek() == Some(b'}') {
            return Err(self.err(ErrorKind::Empty, "empty object"));
        }
        self.path.push(Seg {
            key: Cow::Borrowed(""),
            index: None,
            first_key: true,
            unknown: None,
        });
        Ok(())
    }

    /// The next key of the current object, or `None` after its closing `}`.
    pub(crate) fn next_key(&mut self) -> Result<Option<Cow<'a, str>>> {
        let first = self.path.last().is_some_and(|s| s.first_key);
        if !first {
            match self.peek() {
                Some(b',') => self.pos += 1,
                Some(b'}') => {
                    self.pos += 1;
                    self.depth -= 1;
                    self.path.pop();
                    return Ok(None);
                }
                _ => return Err(self.syntax("',' or '}'")),
            }
        }
        if self.peek() != Some(b'"') {
            return Err(self.syntax("a key"));
        }
        let key = self.string_raw()?;
        if self.peek() != Some(b':') {
            return Err(self.syntax("':'"));
        }
        self.pos += 1;
        if let Some(seg) = self.path.last_mut() {
            seg.key = key.clone();
            seg.index = None;
            seg.first_key = false;
        }
        Ok(Some(key))
    }

    /// Consumes `[`; empty arrays are rejected (FHIR forbids them).
    pub(crate) fn begin_array(&mut self) -> Result<()> {
        match self.peek() {
            Some(b'[') => {}
            Some(b'{' | b'"' | b't' | b'f' | b'n' | b'-' | b'0'..=b'9') => {
                return Err(self.err(ErrorKind::UnexpectedType, "expected an array"))
            }
            _ => return Err(self.syntax("an array")),
        }
        self.enter()?;
        self.pos += 1;
        if self.peek() == Some(b']') {
            return Err(self.err(ErrorKind::Empty, "empty array"));
        }
        if let Some(seg) = self.path.last_mut() {
            seg.index = None;
        }
        Ok(())
    }

    /// Moves to the next array item; `false` after the closing `]`.
    pub(crate) fn next_item(&mut self) -> Result<bool> {
        let index = self.path.last().and_then(|s| s.index);
        let next = match index {
            None => 0,
            Some(i) => match self.peek() {
                Some(b',') => {
                    self.pos += 1;
                    i + 1
                }
                Some(b']') => {
                    self.pos += 1;
                    self.depth -= 1;
                    if let Some(seg) = self.path.last_mut() {
                        seg.index = None;
                    }
                    return Ok(false);
                }
                _ => return Err(self.syntax("',' or ']'")),
            },
        };
        if let Some(seg) = self.path.last_mut() {
            seg.index = Some(next);
        }
        Ok(true)
    }

    /// Consumes a `null` if one comes next.
    pub(crate) fn take_null(&mut self) -> Result<bool> {
        if self.peek() == Some(b'n') {
            if self.input[self.pos..].starts_with(b"null") {
                self.pos += 4;
                return Ok(true);
            }
            return Err(self.syntax("a value"));
        }
        Ok(false)
    }

    /// Reads a string value (any JSON string; no FHIR checks).
    pub(crate) fn string(&mut self) -> Result<Cow<'a, str>> {
        match self.peek() {
            Some(b'"') => self.string_raw(),
            Some(b'{' | b'[' | b't' | b'f' | b'n' | b'-' | b'0'..=b'9') => {
                Err(self.err(ErrorKind::UnexpectedType, "expected a string"))
            }
            _ => Err(self.syntax("a string")),
        }
    }

    /// Reads a string starting at the opening quote (already peeked).
    fn string_raw(&mut self) -> Result<Cow<'a, str>> {
        let start = self.pos + 1;
        let mut i = start;
        let input = self.input;
        // Fast path: no escapes.
        while let Some(&b) = input.get(i) {
            match b {
                b'"' => {
                    self.check_len(i - start)?;
                    let s = std::str::from_utf8(&input[start..i])
                        .map_err(|_| self.err(ErrorKind::InvalidString, "invalid UTF-8"))?;
                    self.pos = i + 1;
                    return Ok(Cow::Borrowed(s));
                }
                b'\\' => break,
                0..=0x1f => {
                    self.pos = i;
                    return Err(self.err(ErrorKind::InvalidString, "control character in string"));
                }
                _ => i += 1,
            }
        }
        if i >= input.len() {
            self.pos = input.len();
            return Err(self.syntax("end of string"));
        }
        self.string_escaped(start, i).map(Cow::Owned)
    }

    fn check_len(&self, len: usize) -> Result<()> {
        if len > self.opts.max_string_len {
            return Err(self.err(
                ErrorKind::StringTooLong,
                format!("string of {len} bytes, limit {}", self.opts.max_string_len),
            ));
        }
        Ok(())
    }

    fn string_escaped(&mut self, start: usize, first_escape: usize) -> Result<String> {
        let input = self.input;
        let mut buf: Vec<u8> = input[start..first_escape].to_vec();
        let mut i = first_escape;
        loop {
            let Some(&b) = input.get(i) else {
                self.pos = i;
                return Err(self.syntax("end of string"));
            };
            match b {
                b'"' => break,
                b'\\' => {
                    let esc = input.get(i + 1).copied();
                    i += 2;
                    match esc {
                        Some(b'"') => buf.push(b'"'),
                        Some(b'\\') => buf.push(b'\\'),
                        Some(b'/') => buf.push(b'/'),
                        Some(b'n') => buf.push(b'\n'),
                        Some(b'r') => buf.push(b'\r'),
                        Some(b't') => buf.push(b'\t'),
                        Some(b'u') => {
                            let hi = self.hex4(i)?;
                            i += 4;
                            let c = if (0xD800..0xDC00).contains(&hi) {
                                if input.get(i) != Some(&b'\\') || input.get(i + 1) != Some(&b'u') {
                                    return Err(
                                        self.err(ErrorKind::InvalidString, "lone surrogate")
                                    );
                                }
                                let lo = self.hex4(i + 2)?;
                                i += 6;
                                if !(0xDC00..0xE000).contains(&lo) {
                                    return Err(
                                        self.err(ErrorKind::InvalidString, "lone surrogate")
                                    );
                                }
                                0x10000 + ((hi - 0xD800) << 10) + (lo - 0xDC00)
                            } else {
                                hi
                            };
                            if c < 0x20 && !matches!(c, 0x09 | 0x0a | 0x0d) {
                                self.pos = i - 6;
                                return Err(self.escaped_control());
                            }
                            let ch = char::from_u32(c).ok_or_else(|| {
                                self.err(ErrorKind::InvalidString, "lone surrogate")
                            })?;
                            let mut tmp = [0u8; 4];
                            buf.extend_from_slice(ch.encode_utf8(&mut tmp).as_bytes());
                        }
                        Some(b'b' | b'f') => {
                            self.pos = i - 2;
                            return Err(self.escaped_control());
                        }
                        _ => {
                            self.pos = i - 2;
                            return Err(self.err(ErrorKind::InvalidString, "invalid escape"));
                        }
                    }
                }
                0..=0x1f => {
                    self.pos = i;
                    return Err(self.err(ErrorKind::InvalidString, "control character in string"));
                }
                _ => {
                    buf.push(b);
                    i += 1;
                }
            }
            if buf.len() > self.opts.max_string_len {
                self.check_len(buf.len())?;
            }
        }
        self.pos = i + 1;
        self.check_len(buf.len())?;
        String::from_utf8(buf).map_err(|_| self.err(ErrorKind::InvalidString, "invalid UTF-8"))
    }

    /// A control character other than tab, LF and CR written as an escape: R4 strings "SHOULD
    /// NOT" hold them (datatypes.html, string), and strict parsing refuses them, as it does
    /// them raw (which JSON forbids).
    fn escaped_control(&self) -> ParseError {
        self.err(
            ErrorKind::InvalidString,
            "escaped control character in string",
        )
    }

    fn hex4(&self, at: usize) -> Result<u32> {
        let digits = self
            .input
            .get(at..at + 4)
            .ok_or_else(|| self.err(ErrorKind::InvalidString, "short \\u escape"))?;
        let mut v = 0u32;
        for &d in digits {
            let n = (d as char)
                .to_digit(16)
                .ok_or_else(|| self.err(ErrorKind::InvalidString, "bad \\u escape"))?;
            v = v * 16 + n;
        }
        Ok(v)
    }

    /// Reads a JSON number and returns its exact text.
    pub(crate) fn number_text(&mut self) -> Result<&'a str> {
        match self.peek() {
            Some(b'-' | b'0'..=b'9') => {}
            Some(b'{' | b'[' | b'"' | b't' | b'f' | b'n') => {
                return Err(self.err(ErrorKind::UnexpectedType, "expected a number"))
            }
            _ => return Err(self.syntax("a number")),
        }
        let input = self.input;
        let start = self.pos;
        let mut i = start;
        let digits = |i: &mut usize| {
            let s = *i;
            while input.get(*i).is_some_and(u8::is_ascii_digit) {
                *i += 1;
            }
            *i - s
        };
        if input.get(i) == Some(&b'-') {
            i += 1;
        }
        let int_start = i;
        let n = digits(&mut i);
        if n == 0 || (n > 1 && input[int_start] == b'0') {
            self.pos = start;
            return Err(self.syntax("a number"));
        }
        if input.get(i) == Some(&b'.') {
            i += 1;
            if digits(&mut i) == 0 {
                self.pos = i;
                return Err(self.syntax("a digit"));
            }
        }
        if let Some(b'e' | b'E') = input.get(i) {
            i += 1;
            if let Some(b'+' | b'-') = input.get(i) {
                i += 1;
            }
            if digits(&mut i) == 0 {
                self.pos = i;
                return Err(self.syntax("a digit"));
            }
        }
        // ASCII by construction.
        let text = std::str::from_utf8(&input[start..i]).map_err(|_| self.syntax("a number"))?;
        if text.len() > self.opts.max_number_len || !in_double_range(text) {
            self.pos = start;
            return Err(self.err(
                ErrorKind::NumberOutOfRange,
                format!(
                    "number of {} bytes or beyond the range of a double (limit {} bytes)",
                    text.len(),
                    self.opts.max_number_len
                ),
            ));
        }
        self.pos = i;
        Ok(text)
    }

    /// Reads `true` or `false`.
    pub(crate) fn boolean(&mut self) -> Result<bool> {
        match self.peek() {
            Some(b't') if self.input[self.pos..].starts_with(b"true") => {
                self.pos += 4;
                Ok(true)
            }
            Some(b'f') if self.input[self.pos..].starts_with(b"false") => {
                self.pos += 5;
                Ok(false)
            }
            Some(b'{' | b'[' | b'"' | b'n' | b'-' | b'0'..=b'9') => {
                Err(self.err(ErrorKind::UnexpectedType, "expected true or false"))
            }
            _ => Err(self.syntax("true or false")),
        }
    }

    /// Skips one value of any shape (the `resourceType` pre-scan), still checking its syntax and
    /// the depth and string bounds.
    pub(crate) fn skip_value(&mut self) -> Result<()> {
        self.skip(false)
    }

    /// Skips one value; with `unique_keys`, also refuses a key repeated in any object within it.
    fn skip(&mut self, unique_keys: bool) -> Result<()> {
        match self.peek() {
            Some(b'{') => {
                let object = self.pos;
                self.enter()?;
                self.pos += 1;
                if self.peek() == Some(b'}') {
                    self.pos += 1;
                    self.depth -= 1;
                    return Ok(());
                }
                let mut keys = unique_keys.then(HashSet::new);
                loop {
                    if self.peek() != Some(b'"') {
                        return Err(self.syntax("a key"));
                    }
                    let key = self.string_raw()?;
                    let is_type = key == "resourceType";
                    if keys.as_mut().is_some_and(|k| !k.insert(key)) {
                        return Err(
                            self.err(ErrorKind::DuplicateKey, "key appears twice in one object")
                        );
                    }
                    if self.peek() != Some(b':') {
                        return Err(self.syntax("':'"));
                    }
                    self.pos += 1;
                    if is_type && self.peek() == Some(b'"') {
                        // The first one, as a scan of this object would find it.
                        let name = self.string_raw()?;
                        self.scanned_types.entry(object).or_insert(name);
                    } else {
                        self.skip(unique_keys)?;
                    }
                    match self.peek() {
                        Some(b',') => self.pos += 1,
                        Some(b'}') => break,
                        _ => return Err(self.syntax("',' or '}'")),
                    }
                }
                self.pos += 1;
                self.depth -= 1;
                Ok(())
            }
            Some(b'[') => {
                self.enter()?;
                self.pos += 1;
                if self.peek() == Some(b']') {
                    self.pos += 1;
                    self.depth -= 1;
                    return Ok(());
                }
                loop {
                    self.skip(unique_keys)?;
                    match self.peek() {
                        Some(b',') => self.pos += 1,
                        Some(b']') => break,
                        _ => return Err(self.syntax("',' or ']'")),
                    }
                }
                self.pos += 1;
                self.depth -= 1;
                Ok(())
            }
            Some(b'"') => self.string_raw().map(drop),
            Some(b't' | b'f') => self.boolean().map(drop),
            Some(b'n') => {
                if self.take_null()? {
                    Ok(())
                } else {
                    Err(self.syntax("a value"))
                }
            }
            _ => self.number_text().map(drop),
        }
    }

    /// Finds the `resourceType` of the object that starts next, wherever it sits among the keys,
    /// without consuming anything.
    pub(crate) fn peek_resource_type(&mut self) -> Result<ResourceType> {
        self.ws();
        let (start, depth) = (self.pos, self.depth);
        let name = match self.scanned_types.remove(&start) {
            Some(name) => name,
            None => {
                let found = self.scan_resource_type();
                #[cfg(test)]
                {
                    self.scanned_bytes += self.pos - start;
                }
                self.pos = start;
                self.depth = depth;
                found?
            }
        };
        let ty = ResourceType::from_name(&name).ok_or_else(|| {
            self.err(
                ErrorKind::UnknownResourceType,
                format!("{} is not an R4 resource type", snippet(name.as_bytes())),
            )
        })?;
        if self.path.is_empty() && self.root.is_none() {
            self.root = Some(ty);
        }
        Ok(ty)
    }

    fn scan_resource_type(&mut self) -> Result<Cow<'a, str>> {
        match self.peek() {
            Some(b'{') => self.pos += 1,
            Some(b'[' | b'"' | b't' | b'f' | b'n' | b'-' | b'0'..=b'9') => {
                return Err(self.err(ErrorKind::UnexpectedType, "expected a resource object"))
            }
            _ => return Err(self.syntax("an object")),
        }
        if self.peek() == Some(b'}') {
            return Err(self.err(ErrorKind::Empty, "empty object"));
        }
        self.enter()?;
        loop {
            if self.peek() != Some(b'"') {
                return Err(self.syntax("a key"));
            }
            let key = self.string_raw()?;
            if self.peek() != Some(b':') {
                return Err(self.syntax("':'"));
            }
            self.pos += 1;
            if key == "resourceType" {
                return self.string();
            }
            self.skip_value()?;
            match self.peek() {
                Some(b',') => self.pos += 1,
                Some(b'}') => {
                    return Err(
                        self.err(ErrorKind::MissingResourceType, "object has no resourceType")
                    )
                }
                _ => return Err(self.syntax("',' or '}'")),
            }
        }
    }

    /// Reads the value of `resourceType` and checks it names `expected`.
    pub(crate) fn expect_resource_type(&mut self, expected: &str) -> Result<()> {
        let found = self.string()?;
        if found != expected {
            return Err(self.err(
                ErrorKind::WrongResourceType,
                format!("expected {expected}, found {}", snippet(found.as_bytes())),
            ));
        }
        Ok(())
    }

    /// Records that key number `bit` of the current object was seen; a second time is an error.
    #[inline]
    pub(crate) fn mark(&self, seen: &mut [u64], bit: usize) -> Result<()> {
        let (w, m) = (bit / 64, 1u64 << (bit % 64));
        if seen[w] & m != 0 {
            return Err(self.err(ErrorKind::DuplicateKey, "key appears twice in one object"));
        }
        seen[w] |= m;
        Ok(())
    }

    /// Whether key number `bit` was seen.
    #[inline]
    pub(crate) fn marked(&self, seen: &[u64], bit: usize) -> bool {
        seen[bit / 64] & (1u64 << (bit % 64)) != 0
    }

    /// Records that variant `variant` (1-based) of choice element `name` was seen.
    #[inline]
    pub(crate) fn choice(&self, state: &mut u8, variant: u8, name: &str) -> Result<()> {
        if *state != 0 && *state != variant {
            return Err(self.err(
                ErrorKind::ChoiceConflict,
                format!("two types given for {name}[x]"),
            ));
        }
        *state = variant;
        Ok(())
    }

    /// Whether elements unknown to the model are skipped (lenient mode).
    pub(crate) fn lenient(&self) -> bool {
        self.opts.ignore_unknown_elements
    }

    /// A key that names no element: an error, or skipped in lenient mode.
    pub(crate) fn unknown_key(&mut self, key: &str) -> Result<()> {
        if self.opts.ignore_unknown_elements {
            // Skipped, but still unique: a repeated key is ambiguous whoever reads it next.
            let fresh = match self.path.last_mut() {
                Some(seg) => seg
                    .unknown
                    .get_or_insert_with(Box::default)
                    .insert(key.to_owned()),
                None => true,
            };
            if !fresh {
                return Err(self.err(ErrorKind::DuplicateKey, "key appears twice in one object"));
            }
            return self.skip(true);
        }
        Err(self.err(
            ErrorKind::UnknownElement,
            format!("no element named {}", snippet(key.as_bytes())),
        ))
    }

    /// A resource starts here. Refuses it if it sits inside a contained resource (dom-2: "If the
    /// resource is contained in another resource, it SHALL NOT contain nested Resources"), and
    /// says whether it is itself contained (read as an item of `contained`).
    pub(crate) fn enter_resource(&mut self) -> Result<bool> {
        if self.in_contained {
            return Err(self.err(
                ErrorKind::InvalidContained,
                "dom-2: a contained resource must not hold resources of its own",
            ));
        }
        self.in_contained = self.path.last().is_some_and(|s| s.key == "contained");
        Ok(self.in_contained)
    }

    /// A contained resource was read: checks dom-4 (no `meta.versionId` or `meta.lastUpdated`)
    /// and dom-5 (no security labels).
    pub(crate) fn leave_contained(&mut self, resource: &crate::Resource) -> Result<()> {
        self.in_contained = false;
        let Some(meta) = resource.meta() else {
            return Ok(());
        };
        let (element, rule) = if meta.version_id.is_some() {
            (
                "meta.versionId",
                "dom-4: a contained resource must not have a meta.versionId",
            )
        } else if meta.last_updated.is_some() {
            (
                "meta.lastUpdated",
                "dom-4: a contained resource must not have a meta.lastUpdated",
            )
        } else if !meta.security.is_empty() {
            (
                "meta.security",
                "dom-5: a contained resource must not have security labels",
            )
        } else {
            return Ok(());
        };
        Err(self.err_at(ErrorKind::InvalidContained, element, None, rule))
    }

    /// Checks that only whitespace follows the top-level value.
    pub(crate) fn finish(&mut self) -> Result<()> {
        if self.peek().is_some() {
            return Err(self.err(ErrorKind::TrailingData, "data after the resource"));
        }
        Ok(())
    }
}

#[cfg(test)]
#[path = "parser_tests.rs"]
mod tests;
