//! The parser's errors: each carries the JSON path of the value it is about, with keys from the
//! input quoted and cut so that an error's text stays short and holds no control characters.

use super::{ErrorKind, ParseError, Parser};

/// The first bytes of `bytes`, quoted (and `...` when cut): how errors show input.
pub(super) fn snippet(bytes: &[u8]) -> String {
    let end = bytes.len().min(24);
    let s = String::from_utf8_lossy(&bytes[..end]);
    if bytes.len() > end {
        format!("{s:?}...")
    } else {
        format!("{s:?}")
    }
}

/// Whether `key` could be an element name (`birthDate`, `_given`): short, ASCII letters,
/// digits and `_`.
fn is_element_name(key: &str) -> bool {
    key.len() <= 64 && key.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_')
}

impl Parser<'_> {
    fn render_path(&self, extra: Option<(&str, Option<usize>)>) -> String {
        let mut s = String::new();
        if let Some(root) = self.root {
            s.push_str(root.as_str());
        }
        // Keys on the path come from the input; `extra` names an element (`medication[x]`).
        let segs = self.path.iter().map(|g| (&*g.key, g.index, true));
        let extra = extra.map(|(name, index)| (name, index, false));
        for (key, index, from_input) in segs.chain(extra) {
            if key.is_empty() {
                continue;
            }
            if !s.is_empty() {
                s.push('.');
            }
            if from_input && !is_element_name(key) {
                // No element has this key: quoted and cut, so an error's text (logged, shown)
                // holds no control characters and stays short.
                s.push_str(&snippet(key.as_bytes()));
            } else {
                s.push_str(key);
            }
            if let Some(i) = index {
                s.push_str(&format!("[{i}]"));
            }
        }
        s
    }

    /// An error at the current path.
    pub(crate) fn err(&self, kind: ErrorKind, detail: impl Into<String>) -> ParseError {
        ParseError::new(kind, self.render_path(None), self.pos, detail.into())
    }

    /// An error about child `name` (index `index`) of the object just closed.
    pub(crate) fn err_at(
        &self,
        kind: ErrorKind,
        name: &str,
        index: Option<usize>,
        detail: impl Into<String>,
    ) -> ParseError {
        ParseError::new(
            kind,
            self.render_path(Some((name, index))),
            self.pos,
            detail.into(),
        )
    }

    /// A required element `name` of the object just closed is absent.
    pub(crate) fn missing(&self, name: &str) -> ParseError {
        self.err_at(
            ErrorKind::MissingElement,
            name,
            None,
            "required element is absent",
        )
    }

    pub(super) fn syntax(&self, what: &str) -> ParseError {
        let found = match self.input.get(self.pos) {
            Some(_) => snippet(&self.input[self.pos..]),
            None => "end of input".to_string(),
        };
        self.err(ErrorKind::Syntax, format!("expected {what}, found {found}"))
    }
}
