//! Turns FHIR definition text into rustdoc comments that render cleanly and never become doctests.

/// Renders `text` as `///` lines (or `//!` with `inner`) at the given indent.
pub fn doc_lines(text: &str, indent: &str) -> String {
    doc_raw(&escape(text), indent)
}

/// Renders already-escaped markdown as `///` lines.
pub fn doc_raw(text: &str, indent: &str) -> String {
    let mut out = String::new();
    let mut blank = false;
    for line in text.lines() {
        let line = line.trim();
        if line.is_empty() {
            if !blank && !out.is_empty() {
                out.push_str(indent);
                out.push_str("///\n");
            }
            blank = true;
            continue;
        }
        blank = false;
        out.push_str(indent);
        out.push_str("/// ");
        out.push_str(line);
        out.push('\n');
    }
    while out.ends_with(&format!("{indent}///\n")) {
        out.truncate(out.len() - indent.len() - 4);
    }
    if out.is_empty() {
        out.push_str(indent);
        out.push_str("/// (no description)\n");
    }
    out
}

/// Escapes markdown and HTML hazards: brackets (intra-doc links), angle brackets (HTML tags),
/// bare URLs (wrapped in code spans), code fences and indentation (doctests).
pub fn escape(text: &str) -> String {
    let text = text
        .replace("\r\n", "\n")
        .replace('\r', "\n")
        .replace("```", "'''")
        .replace('\t', " ");
    let mut out = String::with_capacity(text.len() + 16);
    for (n, line) in text.split('\n').enumerate() {
        if n > 0 {
            out.push('\n');
        }
        escape_line(line, &mut out);
    }
    out
}

fn escape_line(text: &str, out: &mut String) {
    for (i, word) in text.split(' ').enumerate() {
        if i > 0 {
            out.push(' ');
        }
        let is_url = word.contains("://") || word.starts_with("www.");
        if is_url {
            out.push('`');
            out.push_str(&word.replace('`', "'"));
            out.push('`');
            continue;
        }
        for ch in word.chars() {
            match ch {
                '[' => out.push_str("\\["),
                ']' => out.push_str("\\]"),
                '<' => out.push_str("&lt;"),
                '>' => out.push_str("&gt;"),
                '`' => out.push('\''),
                '#' => out.push_str("\\#"),
                '*' => out.push_str("\\*"),
                '_' => out.push_str("\\_"),
                '|' => out.push_str("\\|"),
                '\\' => out.push_str("\\\\"),
                c => out.push(c),
            }
        }
    }
}
