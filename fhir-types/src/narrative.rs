//! The FHIR R4 narrative rules for `Narrative.div` (the `xhtml` type): txt-1 and txt-2.
//!
//! A narrative is rendered by browsers, so a hostile one is stored cross-site scripting. The spec
//! (narrative.html) allows only "the basic html formatting elements and attributes described in
//! chapters 7-11 (except section 4 of chapter 9) and 15 of the HTML 4.0 standard, `<a>` elements
//! (either name or href), images and internally contained style attributes" (txt-1), and requires
//! some non-whitespace content (txt-2). [`check_div`] enforces both on the text, with a small,
//! strict XHTML tokenizer rather than an XML library:
//!
//! - the document is one `<div xmlns="http://www.w3.org/1999/xhtml">` element, well-formed
//!   (tags balanced, attributes quoted and not repeated), only XML characters;
//! - elements and attributes come from the same allow-lists as the HL7 Java validator's, so
//!   `script`, `iframe`, `object`, `form`, `style`, `svg`, event handlers (`onclick`), ... are refused;
//! - no comments that old browsers execute (`<!--[if`), no `CDATA`, `DOCTYPE` (entity
//!   declarations) or processing instructions; only the five XML entities and character references;
//! - links and image sources (`href`, `src`, `cite`, `longdesc`, `usemap`), after decoding
//!   character references and dropping the whitespace and control characters browsers ignore,
//!   are relative or use `http`, `https`, `ftp`, `mailto`, `tel` or `urn`; an image may also be an
//!   inline raster `data:image/...`. So `javascript:`, `vbscript:` and `data:text/html` are refused;
//! - `style` holds no `expression(`, `javascript:`, `@import`, `behavior`, `-moz-binding`, CSS
//!   escapes, no `image-set(` or `src(` (they fetch a quoted URL), and no `url(...)` other than
//!   an inline raster image.
//!
//! The check is linear in the length of the text, allocates at most one buffer for an attribute
//! value and a stack bounded by [`MAX_DEPTH`], and never panics.

use std::fmt;

/// The XHTML namespace the root `div` must declare.
pub const XHTML_NAMESPACE: &str = "http://www.w3.org/1999/xhtml";

/// Deepest element nesting accepted inside a narrative.
pub const MAX_DEPTH: usize = 100;

/// Why a narrative was refused: the invariant it breaks and a short explanation.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NarrativeError {
    rule: &'static str,
    offset: usize,
    detail: String,
}

impl NarrativeError {
    /// The FHIR invariant broken: `"txt-1"` (content not allowed or not well-formed XHTML) or
    /// `"txt-2"` (no non-whitespace content).
    pub fn rule(&self) -> &'static str {
        self.rule
    }

    /// Byte offset in the `div` text where the problem was found.
    pub fn offset(&self) -> usize {
        self.offset
    }

    /// A short explanation (quotes at most a few bytes of the text).
    pub fn detail(&self) -> &str {
        &self.detail
    }
}

impl fmt::Display for NarrativeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}: {} (byte {} of the div)",
            self.rule, self.detail, self.offset
        )
    }
}

impl std::error::Error for NarrativeError {}

/// Checks a `Narrative.div` against txt-1 and txt-2 (see the [module docs](self)).
///
/// ```
/// use fhir_types::narrative::check_div;
/// assert!(check_div(r#"<div xmlns="http://www.w3.org/1999/xhtml"><p>Ok</p></div>"#).is_ok());
/// let err = check_div(r#"<div xmlns="http://www.w3.org/1999/xhtml"><p onclick="x()">No</p></div>"#)
///     .unwrap_err();
/// assert_eq!(err.rule(), "txt-1");
/// ```
pub fn check_div(div: &str) -> Result<()> {
    Checker {
        s: div.as_bytes(),
        i: 0,
        value: String::new(),
        content: false,
    }
    .document()
}

/// Quotes at most a few bytes of the text, for error details.
fn quote(b: &[u8]) -> String {
    let end = (0..=b.len().min(24))
        .rev()
        .find(|&n| std::str::from_utf8(&b[..n]).is_ok())
        .unwrap_or(0);
    let s = String::from_utf8_lossy(&b[..end]);
    if end < b.len() {
        format!("{s:?}...")
    } else {
        format!("{s:?}")
    }
}

fn is_xml_ws(b: u8) -> bool {
    matches!(b, b' ' | b'\t' | b'\n' | b'\r')
}

/// XML 1.0 `Char`: no C0 controls but tab, LF, CR; no U+FFFE / U+FFFF (surrogates cannot occur
/// in a `str`).
fn is_xml_char(c: char) -> bool {
    matches!(c, '\t' | '\n' | '\r' | ' '..='\u{D7FF}' | '\u{E000}'..='\u{FFFD}' | '\u{10000}'..)
}

/// Ends a tag or attribute name.
fn ends_name(b: u8) -> bool {
    is_xml_ws(b) || matches!(b, b'/' | b'>' | b'=' | b'<' | b'"' | b'\'' | b'&')
}

/// The elements txt-1 allows (the HL7 validator's list).
fn allowed_element(name: &[u8]) -> bool {
    matches!(
        name,
        b"p" | b"br"
            | b"div"
            | b"h1"
            | b"h2"
            | b"h3"
            | b"h4"
            | b"h5"
            | b"h6"
            | b"a"
            | b"span"
            | b"b"
            | b"em"
            | b"i"
            | b"strong"
            | b"small"
            | b"big"
            | b"tt"
            | b"dfn"
            | b"q"
            | b"var"
            | b"abbr"
            | b"acronym"
            | b"cite"
            | b"blockquote"
            | b"hr"
            | b"address"
            | b"bdo"
            | b"kbd"
            | b"sub"
            | b"sup"
            | b"ul"
            | b"ol"
            | b"li"
            | b"dl"
            | b"dt"
            | b"dd"
            | b"pre"
            | b"table"
            | b"caption"
            | b"colgroup"
            | b"col"
            | b"thead"
            | b"tr"
            | b"tfoot"
            | b"tbody"
            | b"th"
            | b"td"
            | b"code"
            | b"samp"
            | b"img"
            | b"map"
            | b"area"
    )
}

/// The attributes txt-1 allows on `element` (the HL7 validator's lists; `xmlns` is handled apart).
fn allowed_attribute(element: &[u8], name: &[u8]) -> bool {
    let global = matches!(
        name,
        b"title"
            | b"style"
            | b"class"
            | b"id"
            | b"lang"
            | b"xml:lang"
            | b"dir"
            | b"accesskey"
            | b"tabindex"
            | b"span"
            | b"width"
            | b"align"
            | b"valign"
            | b"char"
            | b"charoff"
            | b"abbr"
            | b"axis"
            | b"headers"
            | b"scope"
            | b"rowspan"
            | b"colspan"
    );
    global
        || match element {
            b"a" => matches!(
                name,
                b"href"
                    | b"name"
                    | b"charset"
                    | b"type"
                    | b"hreflang"
                    | b"rel"
                    | b"rev"
                    | b"shape"
                    | b"coords"
            ),
            b"img" => matches!(
                name,
                b"src" | b"alt" | b"border" | b"longdesc" | b"height" | b"usemap" | b"ismap"
            ),
            b"blockquote" | b"q" => name == b"cite",
            b"map" => name == b"name",
            b"area" => matches!(name, b"shape" | b"coords" | b"href" | b"nohref" | b"alt"),
            b"table" => matches!(
                name,
                b"summary" | b"border" | b"frame" | b"rules" | b"cellspacing" | b"cellpadding"
            ),
            b"pre" => name == b"xml:space",
            b"td" | b"th" => name == b"nowrap",
            _ => false,
        }
}

/// Attributes whose value is a URL a browser follows or fetches.
fn is_url_attribute(name: &[u8]) -> bool {
    matches!(name, b"href" | b"src" | b"cite" | b"longdesc" | b"usemap")
}

/// An inline raster image (`data:image/png;base64,...`); SVG is refused, it can hold script.
fn is_data_image(url: &str) -> bool {
    let Some(rest) = url
        .get(5..)
        .filter(|_| url[..5].eq_ignore_ascii_case("data:"))
    else {
        return false;
    };
    let rest = rest.trim_start_matches([' ', '\t', '\n', '\r', '\x0c']);
    [
        "image/png",
        "image/gif",
        "image/jpeg",
        "image/jpg",
        "image/bmp",
        "image/webp",
    ]
    .iter()
    .any(|t| {
        rest.len() > t.len()
            && rest[..t.len()].eq_ignore_ascii_case(t)
            && matches!(rest.as_bytes()[t.len()], b';' | b',')
    })
}

/// Whether a (decoded) URL is safe to put in `href`/`src`: relative, or one of a few schemes.
fn safe_url(raw: &str, image: bool) -> bool {
    // Browsers drop leading and trailing C0 controls and spaces, and tabs and newlines anywhere.
    let url: String = raw
        .trim_matches(|c: char| c <= ' ')
        .chars()
        .filter(|c| !matches!(c, '\t' | '\n' | '\r'))
        .collect();
    let scheme_end = url.find([':', '/', '?', '#']);
    let scheme = match scheme_end {
        Some(n) if url.as_bytes()[n] == b':' => &url[..n],
        _ => return true, // relative or fragment
    };
    if image && is_data_image(&url) {
        return true;
    }
    ["http", "https", "ftp", "mailto", "tel", "urn"]
        .iter()
        .any(|s| s.eq_ignore_ascii_case(scheme))
}

/// Whether a (decoded) `style` value is inert: no script, no imports, no external fetches.
fn safe_style(style: &str) -> bool {
    let lower = style.to_ascii_lowercase();
    if [
        "expression",
        "javascript:",
        "vbscript:",
        "@import",
        "behavior",
        "-moz-binding",
        // Like url(), but taking a quoted URL: image-set("https://...") fetches too.
        "image-set(",
        "src(",
        "\\",
        "<",
    ]
    .iter()
    .any(|bad| lower.contains(bad))
    {
        return false;
    }
    let mut rest = lower.as_str();
    while let Some(at) = rest.find("url(") {
        rest = &rest[at + 4..];
        let arg = rest.trim_start_matches([' ', '\t', '\n', '\r', '\x0c', '"', '\'']);
        if !is_data_image(arg) {
            return false;
        }
    }
    true
}

struct Checker<'a> {
    s: &'a [u8],
    i: usize,
    /// The decoded value of the attribute being read (reused).
    value: String,
    /// Non-whitespace text or an image was seen (txt-2).
    content: bool,
}

type Result<T> = std::result::Result<T, NarrativeError>;

impl<'a> Checker<'a> {
    fn fail<T>(&self, rule: &'static str, detail: String) -> Result<T> {
        Err(NarrativeError {
            rule,
            offset: self.i,
            detail,
        })
    }

    fn txt1<T>(&self, detail: impl Into<String>) -> Result<T> {
        self.fail("txt-1", detail.into())
    }

    fn peek(&self) -> Option<u8> {
        self.s.get(self.i).copied()
    }

    fn rest(&self) -> &'a [u8] {
        self.s.get(self.i..).unwrap_or_default()
    }

    fn skip_ws(&mut self) -> bool {
        let start = self.i;
        while self.peek().is_some_and(is_xml_ws) {
            self.i += 1;
        }
        self.i > start
    }

    fn name(&mut self) -> &'a [u8] {
        let start = self.i;
        while self.peek().is_some_and(|b| !ends_name(b)) {
            self.i += 1;
        }
        &self.s[start..self.i]
    }

    fn document(mut self) -> Result<()> {
        self.skip_ws();
        if !self.rest().starts_with(b"<div") {
            return self.txt1("a narrative must be one <div> element");
        }
        let mut stack: Vec<&'a [u8]> = Vec::new();
        if let Some(root) = self.start_tag(true)? {
            stack.push(root);
        }
        while let Some(&open) = stack.last() {
            match self.peek() {
                None => return self.txt1(format!("<{}> is not closed", quote(open))),
                Some(b'<') => match self.s.get(self.i + 1) {
                    Some(b'/') => {
                        self.i += 2;
                        let name = self.name();
                        self.skip_ws();
                        if name != open || self.peek() != Some(b'>') {
                            return self.txt1(format!("bad end tag for <{}>", quote(open)));
                        }
                        self.i += 1;
                        stack.pop();
                    }
                    Some(b'!') => self.comment()?,
                    _ => {
                        if let Some(name) = self.start_tag(false)? {
                            if stack.len() >= MAX_DEPTH {
                                return self
                                    .txt1(format!("elements nested deeper than {MAX_DEPTH}"));
                            }
                            stack.push(name);
                        }
                    }
                },
                Some(b'&') => {
                    let c = self.reference()?;
                    self.content |= !c.is_whitespace();
                }
                Some(_) => self.text()?,
            }
        }
        self.skip_ws();
        if self.i < self.s.len() {
            return self.txt1("content after the root </div>");
        }
        if !self.content {
            return self.fail(
                "txt-2",
                "the narrative has no non-whitespace content".into(),
            );
        }
        Ok(())
    }

    /// Reads `<name attr="value" ...>` or `.../>`; returns the name if the element stays open.
    fn start_tag(&mut self, root: bool) -> Result<Option<&'a [u8]>> {
        self.i += 1;
        let name = self.name();
        if name.is_empty() {
            return self.txt1("'<' must start a tag (write &lt; for a literal '<')");
        }
        if !allowed_element(name) {
            return self.txt1(format!(
                "element <{}> is not allowed in a narrative",
                quote(name)
            ));
        }
        if name == b"img" {
            self.content = true;
        }
        let mut seen: [&[u8]; 32] = [b""; 32];
        let mut n = 0;
        let mut xmlns = false;
        let open = loop {
            let spaced = self.skip_ws();
            match self.peek() {
                Some(b'>') => {
                    self.i += 1;
                    break true;
                }
                Some(b'/') if self.s.get(self.i + 1) == Some(&b'>') => {
                    self.i += 2;
                    break false;
                }
                None => return self.txt1(format!("tag <{}> is not closed", quote(name))),
                Some(_) if !spaced => {
                    return self.txt1(format!("malformed tag <{}>", quote(name)));
                }
                Some(_) => {}
            }
            let attr = self.name();
            if attr.is_empty() {
                return self.txt1(format!("malformed tag <{}>", quote(name)));
            }
            if attr != b"xmlns" && !allowed_attribute(name, attr) {
                return self.txt1(format!(
                    "attribute {} is not allowed on <{}>",
                    quote(attr),
                    quote(name)
                ));
            }
            if seen[..n].contains(&attr) || n == seen.len() {
                return self.txt1(format!("attribute {} appears twice", quote(attr)));
            }
            seen[n] = attr;
            n += 1;
            self.skip_ws();
            if self.peek() != Some(b'=') {
                return self.txt1(format!("attribute {} has no value", quote(attr)));
            }
            self.i += 1;
            self.skip_ws();
            self.attribute_value()?;
            if attr == b"xmlns" {
                if self.value != XHTML_NAMESPACE {
                    return self.txt1("the only namespace allowed is XHTML's");
                }
                xmlns = true;
            } else if is_url_attribute(attr) && !safe_url(&self.value, name == b"img") {
                return self.txt1(format!(
                    "{} is not a relative, http(s), ftp, mailto, tel or urn URL{}",
                    quote(attr),
                    if name == b"img" {
                        " or an inline raster image"
                    } else {
                        ""
                    }
                ));
            } else if attr == b"style" && !safe_style(&self.value) {
                return self.txt1(
                    "style may not hold scripts, imports, escapes or url() other than an inline image",
                );
            }
        };
        if root && (name != b"div" || !xmlns) {
            return self.txt1(format!(
                "the root element must be <div xmlns=\"{XHTML_NAMESPACE}\">"
            ));
        }
        Ok(open.then_some(name))
    }

    /// Reads a quoted attribute value into `self.value`, decoding references.
    fn attribute_value(&mut self) -> Result<()> {
        let Some(quote_char @ (b'"' | b'\'')) = self.peek() else {
            return self.txt1("attribute values must be quoted");
        };
        self.i += 1;
        self.value.clear();
        loop {
            match self.peek() {
                None => return self.txt1("attribute value is not closed"),
                Some(b) if b == quote_char => {
                    self.i += 1;
                    return Ok(());
                }
                Some(b'<') => return self.txt1("'<' in an attribute value"),
                Some(b'&') => {
                    let c = self.reference()?;
                    self.value.push(c);
                }
                Some(_) => {
                    let run = self.run(|b| b == quote_char || b == b'<' || b == b'&')?;
                    self.value.push_str(run);
                }
            }
        }
    }

    /// Character data up to the next `<` or `&`.
    fn text(&mut self) -> Result<()> {
        let run = self.run(|b| b == b'<' || b == b'&')?;
        self.content |= run.bytes().any(|b| !is_xml_ws(b));
        Ok(())
    }

    /// Consumes bytes until `stop` (an ASCII byte), checking they are XML characters.
    fn run(&mut self, stop: impl Fn(u8) -> bool) -> Result<&'a str> {
        let start = self.i;
        while self.peek().is_some_and(|b| !stop(b)) {
            self.i += 1;
        }
        // `stop` only matches ASCII, so the run ends on a character boundary.
        let Ok(run) = std::str::from_utf8(&self.s[start..self.i]) else {
            return self.txt1("invalid UTF-8");
        };
        if let Some((at, c)) = run.char_indices().find(|&(_, c)| !is_xml_char(c)) {
            self.i = start + at;
            return self.txt1(format!(
                "character U+{:04X} is not allowed in XML",
                c as u32
            ));
        }
        Ok(run)
    }

    /// `&lt;` `&gt;` `&amp;` `&quot;` `&apos;` `&#NN;` `&#xNN;`, returning the character.
    fn reference(&mut self) -> Result<char> {
        let rest = self.rest();
        let Some(semi) = rest.iter().take(12).position(|&b| b == b';') else {
            return self.txt1("'&' must start a reference (write &amp; for a literal '&')");
        };
        let c = match &rest[1..semi] {
            b"lt" => Some('<'),
            b"gt" => Some('>'),
            b"amp" => Some('&'),
            b"quot" => Some('"'),
            b"apos" => Some('\''),
            [b'#', b'x', hex @ ..] => number(hex, 16),
            [b'#', dec @ ..] => number(dec, 10),
            other => {
                return self.txt1(format!(
                    "&{}; is not an XML entity (only lt, gt, amp, quot, apos and &#...;)",
                    quote(other)
                ))
            }
        };
        match c.filter(|&c| is_xml_char(c)) {
            Some(c) => {
                self.i += semi + 1;
                Ok(c)
            }
            None => self.txt1("character reference to a character XML forbids"),
        }
    }

    /// A comment; `<!DOCTYPE`, `<![CDATA[` and conditional comments are refused.
    fn comment(&mut self) -> Result<()> {
        let rest = self.rest();
        if !rest.starts_with(b"<!--") {
            return self.txt1("DOCTYPE, CDATA and other declarations are not allowed");
        }
        let body = &rest[4..];
        let Some(end) = body.windows(2).position(|w| w == b"--") else {
            return self.txt1("comment is not closed");
        };
        // `<!-->` and `<!--->` end a comment in HTML but not in XML; `<!--[if` runs in old IE.
        if body.get(end + 2) != Some(&b'>') || matches!(body.first(), Some(b'[' | b'>' | b'-')) {
            return self.txt1("malformed comment (\"--\" inside, or a conditional comment)");
        }
        let start = self.i + 4;
        self.i = start;
        while self.i < start + end {
            self.run(|b| b == b'-')?;
            if self.i < start + end {
                self.i += 1;
            }
        }
        self.i = start + end + 3;
        Ok(())
    }
}

fn number(digits: &[u8], radix: u32) -> Option<char> {
    if digits.is_empty() || digits.len() > 8 {
        return None;
    }
    let mut v: u32 = 0;
    for &d in digits {
        v = v * radix + (d as char).to_digit(radix)?;
    }
    char::from_u32(v)
}
