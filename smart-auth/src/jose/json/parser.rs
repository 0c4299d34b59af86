//! The recursive-descent parser behind [`parse_borrowed`](super::parse_borrowed).

use std::borrow::Cow;

use serde_json::Number;

use super::{fingerprint, JsonError, JsonRef, Object};

/// The parser's state: valid UTF-8 text and a byte position in it, always on a character
/// boundary between tokens.
pub(super) struct Parser<'a> {
    text: &'a str,
    pub(super) pos: usize,
}

impl<'a> Parser<'a> {
    pub(super) fn new(text: &'a str) -> Self {
        Parser { text, pos: 0 }
    }

    fn peek(&self) -> Option<u8> {
        self.text.as_bytes().get(self.pos).copied()
    }

    fn next(&mut self) -> Result<u8, JsonError> {
        let b = self.peek().ok_or(JsonError::Syntax)?;
        self.pos += 1;
        Ok(b)
    }

    fn expect(&mut self, want: u8) -> Result<(), JsonError> {
        if self.next()? == want {
            Ok(())
        } else {
            Err(JsonError::Syntax)
        }
    }

    pub(super) fn skip_ws(&mut self) {
        while matches!(self.peek(), Some(b' ' | b'\n' | b'\t' | b'\r')) {
            self.pos += 1;
        }
    }

    /// A value, written to `out`; `depth` is how many more arrays or objects may open (as in
    /// [`Strict`]). Values are built in place: returning them in a `Result` cost more in
    /// unaligned copies than the parsing itself.
    pub(super) fn value(&mut self, depth: usize, out: &mut JsonRef<'a>) -> Result<(), JsonError> {
        *out = match self.peek().ok_or(JsonError::Syntax)? {
            b'{' => {
                let mut object = Object::default();
                self.object(depth, &mut object)?;
                JsonRef::Object(object)
            }
            b'[' => {
                let mut items = Vec::new();
                self.array(depth, &mut items)?;
                JsonRef::Array(items)
            }
            b'"' => JsonRef::String(self.string()?),
            b't' => self.literal("true", JsonRef::Bool(true))?,
            b'f' => self.literal("false", JsonRef::Bool(false))?,
            b'n' => self.literal("null", JsonRef::Null)?,
            b'-' | b'0'..=b'9' => JsonRef::Number(self.number()?),
            _ => return Err(JsonError::Syntax),
        };
        Ok(())
    }

    fn literal(&mut self, word: &str, value: JsonRef<'a>) -> Result<JsonRef<'a>, JsonError> {
        if self.text.as_bytes()[self.pos..].starts_with(word.as_bytes()) {
            self.pos += word.len();
            Ok(value)
        } else {
            Err(JsonError::Syntax)
        }
    }

    fn object(&mut self, depth: usize, object: &mut Object<'a>) -> Result<(), JsonError> {
        let depth = depth.checked_sub(1).ok_or(JsonError::TooDeep)?;
        self.pos += 1;
        self.skip_ws();
        if self.peek() == Some(b'}') {
            self.pos += 1;
            return Ok(());
        }
        object.members.reserve(16);
        loop {
            if self.peek() != Some(b'"') {
                return Err(JsonError::Syntax);
            }
            let name = self.string()?;
            self.skip_ws();
            self.expect(b':')?;
            self.skip_ws();
            object
                .members
                .push((fingerprint(&name), name, JsonRef::Null));
            if let Some((_, _, value)) = object.members.last_mut() {
                self.value(depth, value)?;
            }
            self.skip_ws();
            match self.next()? {
                b',' => self.skip_ws(),
                b'}' => break,
                _ => return Err(JsonError::Syntax),
            }
        }
        if object.has_duplicate() {
            return Err(JsonError::DuplicateMember);
        }
        Ok(())
    }

    fn array(&mut self, depth: usize, items: &mut Vec<JsonRef<'a>>) -> Result<(), JsonError> {
        let depth = depth.checked_sub(1).ok_or(JsonError::TooDeep)?;
        self.pos += 1;
        self.skip_ws();
        if self.peek() == Some(b']') {
            self.pos += 1;
            return Ok(());
        }
        loop {
            items.push(JsonRef::Null);
            if let Some(item) = items.last_mut() {
                self.value(depth, item)?;
            }
            self.skip_ws();
            match self.next()? {
                b',' => self.skip_ws(),
                b']' => return Ok(()),
                _ => return Err(JsonError::Syntax),
            }
        }
    }

    /// A string at the opening quote: borrowed when it has no escape.
    fn string(&mut self) -> Result<Cow<'a, str>, JsonError> {
        self.pos += 1;
        let start = self.pos;
        self.skip_plain();
        let mut out = match self.next()? {
            b'"' => return Ok(Cow::Borrowed(&self.text[start..self.pos - 1])),
            b'\\' => String::from(&self.text[start..self.pos - 1]),
            _ => return Err(JsonError::Syntax),
        };
        // Escapes: decode each, copying the plain runs between them.
        loop {
            out.push(self.escape()?);
            let run = self.pos;
            self.skip_plain();
            out.push_str(&self.text[run..self.pos]);
            match self.next()? {
                b'"' => return Ok(Cow::Owned(out)),
                b'\\' => {}
                _ => return Err(JsonError::Syntax),
            }
        }
    }

    /// Moves to the next `"`, `\\` or control character (or the end), eight bytes at a time.
    fn skip_plain(&mut self) {
        const ONES: u64 = u64::from_ne_bytes([0x01; 8]);
        const HIGH: u64 = u64::from_ne_bytes([0x80; 8]);
        // High bit set in each byte of `x` that is zero (exact when scanning from the low end).
        let zero_bytes = |x: u64| x.wrapping_sub(ONES) & !x & HIGH;
        let bytes = self.text.as_bytes();
        while let Some(chunk) = bytes.get(self.pos..self.pos + 8) {
            let x = u64::from_le_bytes(chunk.try_into().unwrap_or([0; 8]));
            let stop = zero_bytes(x ^ (ONES * u64::from(b'"')))
                | zero_bytes(x ^ (ONES * u64::from(b'\\')))
                // Bytes below 0x20: x - 0x20 borrows into the high bit, unless it was set.
                | (x.wrapping_sub(ONES * 0x20) & !x & HIGH);
            if stop != 0 {
                self.pos += stop.trailing_zeros() as usize / 8;
                return;
            }
            self.pos += 8;
        }
        while !matches!(bytes.get(self.pos), None | Some(b'"' | b'\\' | 0..=0x1f)) {
            self.pos += 1;
        }
    }

    /// The character of an escape, after its backslash. Surrogates must come in pairs.
    fn escape(&mut self) -> Result<char, JsonError> {
        Ok(match self.next()? {
            b'"' => '"',
            b'\\' => '\\',
            b'/' => '/',
            b'b' => '\u{8}',
            b'f' => '\u{c}',
            b'n' => '\n',
            b'r' => '\r',
            b't' => '\t',
            b'u' => {
                let high = self.hex4()?;
                let code = match high {
                    0xd800..=0xdbff => {
                        self.expect(b'\\')?;
                        self.expect(b'u')?;
                        let low = self.hex4()?;
                        if !(0xdc00..=0xdfff).contains(&low) {
                            return Err(JsonError::Syntax);
                        }
                        0x1_0000 + ((high - 0xd800) << 10 | (low - 0xdc00))
                    }
                    code => code,
                };
                // Lone trailing surrogates are refused here.
                char::from_u32(code).ok_or(JsonError::Syntax)?
            }
            _ => return Err(JsonError::Syntax),
        })
    }

    fn hex4(&mut self) -> Result<u32, JsonError> {
        let mut v = 0;
        for _ in 0..4 {
            let d = char::from(self.next()?)
                .to_digit(16)
                .ok_or(JsonError::Syntax)?;
            v = v << 4 | d;
        }
        Ok(v)
    }

    /// A number (RFC 8259 §6 grammar). Plain integers of up to 18 digits are read here; any
    /// other number goes to serde_json, for the same value (or range error) as [`parse_object`].
    fn number(&mut self) -> Result<Number, JsonError> {
        let start = self.pos;
        let bytes = self.text.as_bytes();
        let digits = |p: &mut Self| {
            let from = p.pos;
            while p.peek().is_some_and(|b| b.is_ascii_digit()) {
                p.pos += 1;
            }
            p.pos - from
        };
        let negative = self.peek() == Some(b'-');
        if negative {
            self.pos += 1;
        }
        let int_start = self.pos;
        let int_len = digits(self);
        if int_len == 0 || (int_len > 1 && bytes[int_start] == b'0') {
            return Err(JsonError::Syntax);
        }
        let mut plain = !negative && int_len <= 18;
        if self.peek() == Some(b'.') {
            self.pos += 1;
            if digits(self) == 0 {
                return Err(JsonError::Syntax);
            }
            plain = false;
        }
        if matches!(self.peek(), Some(b'e' | b'E')) {
            self.pos += 1;
            if matches!(self.peek(), Some(b'+' | b'-')) {
                self.pos += 1;
            }
            if digits(self) == 0 {
                return Err(JsonError::Syntax);
            }
            plain = false;
        }
        let text = &self.text[start..self.pos];
        if plain {
            let v = text.bytes().fold(0u64, |v, d| v * 10 + u64::from(d - b'0'));
            Ok(Number::from(v))
        } else {
            serde_json::from_str(text).map_err(|_| JsonError::Syntax)
        }
    }
}
