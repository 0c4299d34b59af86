//! Test helpers: an independent JSON tree that keeps number text, and the official examples.
#![allow(dead_code)]

use std::collections::BTreeMap;
use std::io::Read;
use std::path::PathBuf;

/// A JSON value whose numbers keep their exact text, so `1.50` and `1.5` differ.
#[derive(Debug, PartialEq)]
pub enum Json {
    Null,
    Bool(bool),
    Number(String),
    String(String),
    Array(Vec<Json>),
    Object(BTreeMap<String, Json>),
}

/// Parses JSON into a [`Json`] tree (a plain recursive-descent parser, separate from the crate's).
pub fn parse_tree(bytes: &[u8]) -> Result<Json, String> {
    let text = std::str::from_utf8(bytes).map_err(|e| e.to_string())?;
    let mut p = TreeParser {
        s: text.as_bytes(),
        i: 0,
    };
    let v = p.value()?;
    p.ws();
    if p.i != p.s.len() {
        return Err(format!("trailing data at {}", p.i));
    }
    Ok(v)
}

struct TreeParser<'a> {
    s: &'a [u8],
    i: usize,
}

impl TreeParser<'_> {
    fn ws(&mut self) {
        while self.i < self.s.len() && self.s[self.i].is_ascii_whitespace() {
            self.i += 1;
        }
    }
    fn value(&mut self) -> Result<Json, String> {
        self.ws();
        match self.s.get(self.i) {
            Some(b'{') => {
                self.i += 1;
                let mut m = BTreeMap::new();
                self.ws();
                if self.s.get(self.i) == Some(&b'}') {
                    self.i += 1;
                    return Ok(Json::Object(m));
                }
                loop {
                    self.ws();
                    let k = self.string()?;
                    self.ws();
                    if self.s.get(self.i) != Some(&b':') {
                        return Err(format!("expected : at {}", self.i));
                    }
                    self.i += 1;
                    let v = self.value()?;
                    if m.insert(k.clone(), v).is_some() {
                        return Err(format!("duplicate key {k}"));
                    }
                    self.ws();
                    match self.s.get(self.i) {
                        Some(b',') => self.i += 1,
                        Some(b'}') => {
                            self.i += 1;
                            return Ok(Json::Object(m));
                        }
                        _ => return Err(format!("expected , or }} at {}", self.i)),
                    }
                }
            }
            Some(b'[') => {
                self.i += 1;
                let mut a = Vec::new();
                self.ws();
                if self.s.get(self.i) == Some(&b']') {
                    self.i += 1;
                    return Ok(Json::Array(a));
                }
                loop {
                    a.push(self.value()?);
                    self.ws();
                    match self.s.get(self.i) {
                        Some(b',') => self.i += 1,
                        Some(b']') => {
                            self.i += 1;
                            return Ok(Json::Array(a));
                        }
                        _ => return Err(format!("expected , or ] at {}", self.i)),
                    }
                }
            }
            Some(b'"') => Ok(Json::String(self.string()?)),
            Some(b't') if self.s[self.i..].starts_with(b"true") => {
                self.i += 4;
                Ok(Json::Bool(true))
            }
            Some(b'f') if self.s[self.i..].starts_with(b"false") => {
                self.i += 5;
                Ok(Json::Bool(false))
            }
            Some(b'n') if self.s[self.i..].starts_with(b"null") => {
                self.i += 4;
                Ok(Json::Null)
            }
            _ => {
                let start = self.i;
                while self.i < self.s.len()
                    && matches!(
                        self.s[self.i],
                        b'-' | b'+' | b'.' | b'e' | b'E' | b'0'..=b'9'
                    )
                {
                    self.i += 1;
                }
                if start == self.i {
                    return Err(format!("unexpected byte at {start}"));
                }
                Ok(Json::Number(
                    String::from_utf8_lossy(&self.s[start..self.i]).into_owned(),
                ))
            }
        }
    }
    fn string(&mut self) -> Result<String, String> {
        if self.s.get(self.i) != Some(&b'"') {
            return Err(format!("expected string at {}", self.i));
        }
        self.i += 1;
        let mut out: Vec<u16> = Vec::new();
        let mut bytes = Vec::new();
        loop {
            let b = *self.s.get(self.i).ok_or("unterminated string")?;
            self.i += 1;
            match b {
                b'"' => break,
                b'\\' => {
                    let e = *self.s.get(self.i).ok_or("bad escape")?;
                    self.i += 1;
                    let c: char = match e {
                        b'n' => '\n',
                        b't' => '\t',
                        b'r' => '\r',
                        b'b' => '\u{8}',
                        b'f' => '\u{c}',
                        b'/' => '/',
                        b'\\' => '\\',
                        b'"' => '"',
                        b'u' => {
                            let h = std::str::from_utf8(&self.s[self.i..self.i + 4])
                                .map_err(|e| e.to_string())?;
                            out.push(u16::from_str_radix(h, 16).map_err(|e| e.to_string())?);
                            self.i += 4;
                            // Flush pairs of UTF-16 units lazily below.
                            continue;
                        }
                        _ => return Err("bad escape".into()),
                    };
                    flush16(&mut out, &mut bytes)?;
                    let mut tmp = [0; 4];
                    bytes.extend_from_slice(c.encode_utf8(&mut tmp).as_bytes());
                }
                _ => {
                    flush16(&mut out, &mut bytes)?;
                    bytes.push(b);
                }
            }
        }
        flush16(&mut out, &mut bytes)?;
        String::from_utf8(bytes).map_err(|e| e.to_string())
    }
}

fn flush16(units: &mut Vec<u16>, bytes: &mut Vec<u8>) -> Result<(), String> {
    if units.is_empty() {
        return Ok(());
    }
    let s = String::from_utf16(units).map_err(|e| e.to_string())?;
    bytes.extend_from_slice(s.as_bytes());
    units.clear();
    Ok(())
}

/// The official examples archive.
pub fn examples_archive() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../shared/fhir-r4/hl7.fhir.r4.examples-4.0.1.tgz")
}

/// Calls `f(file name, bytes)` for every JSON resource in the official examples archive.
pub fn for_each_example(mut f: impl FnMut(&str, &[u8])) {
    let file =
        std::fs::File::open(examples_archive()).expect("the examples archive in ../shared/fhir-r4");
    let mut archive = tar::Archive::new(flate2::read::GzDecoder::new(file));
    let mut buf = Vec::new();
    for entry in archive.entries().expect("tar entries") {
        let mut entry = entry.expect("tar entry");
        let path = entry.path().expect("path").to_string_lossy().into_owned();
        let name = path.rsplit('/').next().unwrap_or("").to_string();
        if !name.ends_with(".json") || name == "package.json" || name == ".index.json" {
            continue;
        }
        buf.clear();
        entry.read_to_end(&mut buf).expect("read entry");
        f(&name, &buf);
    }
}
