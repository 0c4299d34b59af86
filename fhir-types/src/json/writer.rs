//! A minimal JSON writer into a byte buffer: compact output, keys in element order.

/// Appends JSON tokens to a buffer, placing commas itself.
pub(crate) struct Writer {
    out: Vec<u8>,
    comma: bool,
}

impl Writer {
    pub(crate) fn with_capacity(cap: usize) -> Self {
        Writer {
            out: Vec::with_capacity(cap),
            comma: false,
        }
    }

    pub(crate) fn into_inner(self) -> Vec<u8> {
        self.out
    }

    #[inline]
    fn sep(&mut self) {
        if self.comma {
            self.out.push(b',');
        }
    }

    /// Writes `"key":`. Keys are element names (ASCII identifiers), so they need no escaping.
    #[inline]
    pub(crate) fn key(&mut self, key: &str) {
        self.sep();
        self.out.push(b'"');
        self.out.extend_from_slice(key.as_bytes());
        self.out.extend_from_slice(b"\":");
        self.comma = false;
    }

    #[inline]
    pub(crate) fn begin_object(&mut self) {
        self.sep();
        self.out.push(b'{');
        self.comma = false;
    }

    #[inline]
    pub(crate) fn end_object(&mut self) {
        self.out.push(b'}');
        self.comma = true;
    }

    #[inline]
    pub(crate) fn begin_array(&mut self) {
        self.sep();
        self.out.push(b'[');
        self.comma = false;
    }

    #[inline]
    pub(crate) fn end_array(&mut self) {
        self.out.push(b']');
        self.comma = true;
    }

    pub(crate) fn null(&mut self) {
        self.raw("null");
    }

    /// Writes pre-formatted JSON text (numbers, literals).
    #[inline]
    pub(crate) fn raw(&mut self, text: &str) {
        self.sep();
        self.out.extend_from_slice(text.as_bytes());
        self.comma = true;
    }

    /// Writes a string value with JSON escaping.
    pub(crate) fn str(&mut self, s: &str) {
        self.sep();
        self.out.push(b'"');
        let bytes = s.as_bytes();
        let mut start = 0;
        for (i, &b) in bytes.iter().enumerate() {
            let esc: &[u8] = match b {
                b'"' => b"\\\"",
                b'\\' => b"\\\\",
                b'\n' => b"\\n",
                b'\r' => b"\\r",
                b'\t' => b"\\t",
                0..=0x1f => {
                    self.out.extend_from_slice(&bytes[start..i]);
                    const HEX: &[u8; 16] = b"0123456789abcdef";
                    self.out.extend_from_slice(b"\\u00");
                    self.out.push(HEX[usize::from(b >> 4)]);
                    self.out.push(HEX[usize::from(b & 15)]);
                    start = i + 1;
                    continue;
                }
                _ => continue,
            };
            self.out.extend_from_slice(&bytes[start..i]);
            self.out.extend_from_slice(esc);
            start = i + 1;
        }
        self.out.extend_from_slice(&bytes[start..]);
        self.out.push(b'"');
        self.comma = true;
    }
}
