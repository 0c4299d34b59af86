//! txt-1 and txt-2 on `Narrative.div`: one table row per rule, the parser's path, and properties.

use fhir_types::json::{self, ErrorKind, ParseOptions};
use fhir_types::narrative::check_div;
use proptest::prelude::*;

fn div(inner: &str) -> String {
    format!(r#"<div xmlns="http://www.w3.org/1999/xhtml">{inner}</div>"#)
}

/// Narratives the rules allow, including the shapes the official examples use.
const ACCEPTED: &[&str] = &[
    "<p>Hello</p>",
    "text only",
    "<b>bold</b> <i>i</i> <em>e</em> <strong>s</strong> <code>c</code> <br/><br /><hr/>",
    r#"<table class="grid" border="0" cellpadding="0" cellspacing="0"><tbody><tr><td colspan="2" style="vertical-align: top; text-align : left">x</td></tr></tbody></table>"#,
    r##"<a name="anchor">a</a> <a href="#anchor">b</a> <a href="Patient/1">c</a> <a href="http://hl7.org/fhir">d</a>"##,
    r#"<a href="https://example.org/x?y=1&amp;z=2">e</a> <a href="mailto:a@b.example">f</a> <a href="ftp://a.example/x">g</a>"#,
    r#"<img src="data: image/png;base64,iVBORw0KGgo=" alt="." style="background-color: white"/>"#,
    r##"<img src="data:image/gif;base64,R0lGOD=" alt="x"/><img src="#binary1" alt="x"/><img src="help16.png" alt="?"/>"##,
    r#"<td style="background-image: url(data: image/png;base64,iVBORw0KGgo=)">x</td>"#,
    "entities: &lt;script&gt; &amp; &quot; &apos; &#169; &#x2014;",
    "<!-- a comment - with a dash -->visible",
    r#"<p xmlns="http://www.w3.org/1999/xhtml" lang="en" xml:lang="en" dir="ltr" id="p1" title='single quoted'>x</p>"#,
    "<ul><li>a</li></ul><ol><li>b</li></ol><dl><dt>t</dt><dd>d</dd></dl><pre>  pre  </pre><blockquote cite=\"http://a.example\">q</blockquote>",
    "<img src=\"data:image/png;base64,AAAA\" alt=\"\"/>",
];

/// `(rule, inner content or whole div, the rule it breaks)`.
const REJECTED: &[(&str, &str, &str)] = &[
    ("script", "<script>alert(1)</script>", "txt-1"),
    (
        "iframe",
        r#"<iframe src="https://evil.example"></iframe>"#,
        "txt-1",
    ),
    ("object", r#"<object data="x.swf"></object>"#, "txt-1"),
    ("embed", r#"<embed src="x"/>"#, "txt-1"),
    (
        "form",
        r#"<form action="https://evil.example"><input/></form>"#,
        "txt-1",
    ),
    ("style element", "<style>body{}</style>", "txt-1"),
    ("svg", "<svg><script>alert(1)</script></svg>", "txt-1"),
    ("base", r#"<base href="https://evil.example/"/>"#, "txt-1"),
    ("link", r#"<link rel="stylesheet" href="x.css"/>"#, "txt-1"),
    ("head/body", "<body>x</body>", "txt-1"),
    (
        "element names are case-sensitive",
        "<SCRIPT>alert(1)</SCRIPT>",
        "txt-1",
    ),
    ("event handler", r#"<p onclick="alert(1)">x</p>"#, "txt-1"),
    (
        "event handler on img",
        r#"<img src="x.png" onerror="alert(1)"/>"#,
        "txt-1",
    ),
    (
        "upper-case event handler",
        r#"<p ONCLICK="alert(1)">x</p>"#,
        "txt-1",
    ),
    (
        "attribute of another element",
        r#"<p href="x">x</p>"#,
        "txt-1",
    ),
    (
        "javascript: link",
        r#"<a href="javascript:alert(1)">x</a>"#,
        "txt-1",
    ),
    (
        "upper-case scheme",
        r#"<a href="JaVaScRiPt:alert(1)">x</a>"#,
        "txt-1",
    ),
    (
        "scheme behind spaces",
        r#"<a href="  javascript:alert(1)">x</a>"#,
        "txt-1",
    ),
    (
        "scheme split by a tab",
        "<a href=\"java\tscript:alert(1)\">x</a>",
        "txt-1",
    ),
    (
        "scheme split by a newline reference",
        r#"<a href="java&#10;script:alert(1)">x</a>"#,
        "txt-1",
    ),
    (
        "scheme behind a control character",
        "<a href=\" \u{1}javascript:alert(1)\">x</a>",
        "txt-1",
    ),
    (
        "scheme as character references",
        r#"<a href="&#106;avascript:alert(1)">x</a>"#,
        "txt-1",
    ),
    (
        "scheme as hex references",
        r#"<a href="&#x6A;avascript:alert(1)">x</a>"#,
        "txt-1",
    ),
    (
        "HTML named entity (&colon;)",
        r#"<a href="javascript&colon;alert(1)">x</a>"#,
        "txt-1",
    ),
    ("vbscript:", r#"<a href="vbscript:x">x</a>"#, "txt-1"),
    (
        "data: link",
        r#"<a href="data:text/html,&lt;script&gt;">x</a>"#,
        "txt-1",
    ),
    (
        "svg image",
        r#"<img src="data:image/svg+xml,&lt;svg/&gt;" alt="x"/>"#,
        "txt-1",
    ),
    (
        "file: image",
        r#"<img src="file:///etc/passwd" alt="x"/>"#,
        "txt-1",
    ),
    (
        "javascript: image",
        r#"<img src="javascript:alert(1)" alt="x"/>"#,
        "txt-1",
    ),
    (
        "style expression()",
        r#"<p style="width: expression(alert(1))">x</p>"#,
        "txt-1",
    ),
    (
        "style url() fetch",
        r#"<p style="background: url(https://evil.example/t.gif)">x</p>"#,
        "txt-1",
    ),
    (
        "style image-set() fetch",
        r#"<p style="background-image: image-set('https://evil.example/t.gif' 1x)">x</p>"#,
        "txt-1",
    ),
    (
        "style -webkit-image-set() fetch",
        r#"<p style="background-image: -webkit-image-set(&quot;https://evil.example/t.gif&quot; 1x)">x</p>"#,
        "txt-1",
    ),
    (
        "style src() fetch",
        r#"<p style="background-image: src('https://evil.example/t.gif')">x</p>"#,
        "txt-1",
    ),
    (
        "style url() in quotes",
        r#"<p style="background: url('javascript:alert(1)')">x</p>"#,
        "txt-1",
    ),
    (
        "style @import",
        r#"<p style="@import 'x.css'">x</p>"#,
        "txt-1",
    ),
    (
        "style escapes",
        r#"<p style="background: u\72l(x)">x</p>"#,
        "txt-1",
    ),
    (
        "style -moz-binding",
        r#"<p style="-moz-binding: url(x.xml#x)">x</p>"#,
        "txt-1",
    ),
    (
        "conditional comment",
        "<!--[if IE]><script>alert(1)</script><![endif]-->x",
        "txt-1",
    ),
    (
        "comment closed the HTML way",
        "<!---><script>alert(1)</script>-->x",
        "txt-1",
    ),
    ("comment <!-->", "<!-->x-->y", "txt-1"),
    ("-- in a comment", "<!-- a -- b -->x", "txt-1"),
    ("unclosed comment", "<!-- x", "txt-1"),
    ("CDATA", "<![CDATA[<script>alert(1)</script>]]>x", "txt-1"),
    ("DOCTYPE", "<!DOCTYPE x>x", "txt-1"),
    (
        "processing instruction",
        "<?xml-stylesheet href=\"x\"?>x",
        "txt-1",
    ),
    ("HTML entity", "a&nbsp;b", "txt-1"),
    ("bare ampersand", "a & b", "txt-1"),
    ("bare <", "a < b", "txt-1"),
    ("reference to a control character", "a&#1;b", "txt-1"),
    ("reference to NUL", "a&#0;b", "txt-1"),
    ("reference out of range", "a&#x110000;b", "txt-1"),
    ("control character", "a\u{7}b", "txt-1"),
    ("unbalanced tags", "<p><b>x</p></b>", "txt-1"),
    ("unclosed element", "<p>x", "txt-1"),
    ("end tag without start", "x</p>", "txt-1"),
    ("unquoted attribute", "<p class=a>x</p>", "txt-1"),
    ("attribute without value", "<td nowrap>x</td>", "txt-1"),
    (
        "repeated attribute",
        r#"<p class="a" class="b">x</p>"#,
        "txt-1",
    ),
    (
        "attributes not separated",
        r#"<p class="a"id="b">x</p>"#,
        "txt-1",
    ),
    (
        "< in an attribute value",
        r#"<p title="<b>">x</p>"#,
        "txt-1",
    ),
    (
        "foreign namespace",
        r#"<p xmlns="http://www.w3.org/2000/svg">x</p>"#,
        "txt-1",
    ),
    (
        "namespace prefix",
        r#"<p xmlns:x="http://x.example">x</p>"#,
        "txt-1",
    ),
    (
        "xlink",
        r#"<a xlink:href="javascript:alert(1)">x</a>"#,
        "txt-1",
    ),
    ("whitespace only", " \n\t ", "txt-2"),
    ("empty elements only", "<p> </p><pre>\n</pre>", "txt-2"),
    ("comment only", "<!-- nothing -->", "txt-2"),
];

/// Whole documents that are not one XHTML `div`.
const BAD_ROOTS: &[&str] = &[
    "",
    "plain text",
    "<p>x</p>",
    "<div>no namespace</div>",
    r#"<div xmlns="http://www.w3.org/1999/xhtml">x</div><div xmlns="http://www.w3.org/1999/xhtml">y</div>"#,
    r#"<div xmlns="http://www.w3.org/1999/xhtml">x</div>trailing"#,
    r#"<div xmlns="http://www.w3.org/1999/xhtml"/>"#,
    r#"<div xmlns="http://www.w3.org/1999/xhtml">x</DIV>"#,
    r#"<?xml version="1.0"?><div xmlns="http://www.w3.org/1999/xhtml">x</div>"#,
];

#[test]
fn allowed_narratives_pass() {
    for inner in ACCEPTED {
        assert_eq!(check_div(&div(inner)), Ok(()), "{inner}");
    }
    // Whitespace around the root element is fine.
    assert!(check_div(&format!("\n {} \n", div("x"))).is_ok());
}

#[test]
fn each_rule_is_enforced() {
    for (rule, inner, invariant) in REJECTED {
        match check_div(&div(inner)) {
            Ok(()) => panic!("{rule}: accepted {inner:?}"),
            Err(e) => assert_eq!(e.rule(), *invariant, "{rule}: {e}"),
        }
    }
    for doc in BAD_ROOTS {
        let e = check_div(doc).expect_err(doc);
        assert!(["txt-1", "txt-2"].contains(&e.rule()), "{doc}: {e}");
    }
}

#[test]
fn nesting_is_bounded() {
    let deep = |n: usize| div(&format!("{}x{}", "<b>".repeat(n), "</b>".repeat(n)));
    assert!(check_div(&deep(98)).is_ok());
    assert_eq!(check_div(&deep(100_000)).unwrap_err().rule(), "txt-1");
}

fn observation(div: &str) -> String {
    format!(
        r#"{{"resourceType":"Observation","status":"final","code":{{"text":"x"}},"text":{{"status":"generated","div":{}}}}}"#,
        serde_json::Value::String(div.to_owned())
    )
}

#[test]
fn the_parser_checks_every_narrative_and_names_its_path() {
    let bad = observation(&div("<script>alert(1)</script>"));
    for opts in [ParseOptions::strict(), ParseOptions::lenient()] {
        let e = json::parse_resource_with(bad.as_bytes(), &opts).unwrap_err();
        assert_eq!(
            (e.kind(), e.path()),
            (ErrorKind::InvalidNarrative, "Observation.text.div")
        );
        assert!(e.detail().starts_with("txt-1: "), "{e}");
    }
    // Nested resources are read by the same code.
    let nested = format!(
        r#"{{"resourceType":"Bundle","type":"collection","entry":[{{"resource":{bad}}}]}}"#
    );
    let e = json::parse_resource(nested.as_bytes()).unwrap_err();
    assert_eq!(e.path(), "Bundle.entry[0].resource.text.div");
    let e = json::parse_resource(observation(&div("  ")).as_bytes()).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::InvalidNarrative);
    assert!(e.detail().starts_with("txt-2: "), "{e}");
    assert!(json::parse_resource(observation(&div("<p>ok</p>")).as_bytes()).is_ok());
}

fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn arbitrary_text_never_panics(s in "\\PC{0,200}") {
        let _ = check_div(&s);
        let _ = check_div(&div(&s));
    }

    #[test]
    fn markup_soup_never_panics(parts in proptest::collection::vec(
        prop_oneof![
            Just("<"), Just(">"), Just("</"), Just("/>"), Just("&"), Just(";"), Just("&#"), Just("x"),
            Just("<!--"), Just("-->"), Just("\""), Just("'"), Just("="), Just(" "), Just("p"), Just("a"),
            Just("href"), Just("javascript:"), Just("<p>"), Just("</p>"), Just("&amp;"), Just("é"),
        ], 0..60)) {
        let _ = check_div(&div(&parts.concat()));
    }

    #[test]
    fn escaped_text_is_accepted(text in "[^\\x00-\\x08\\x0b\\x0c\\x0e-\\x1f\u{fffe}\u{ffff}]{0,80}") {
        let doc = div(&format!("<p>{}</p>", escape(&text)));
        let has_content = text.chars().any(|c| !matches!(c, ' ' | '\t' | '\n' | '\r'));
        prop_assert_eq!(check_div(&doc).is_ok(), has_content);
    }

    #[test]
    fn a_forbidden_element_anywhere_is_refused(
        before in "[a-z ]{0,20}",
        tag in prop::sample::select(vec!["script", "iframe", "object", "embed", "form", "input", "svg", "math", "style", "frame", "applet", "meta", "textarea"]),
        after in "[a-z ]{1,20}",
    ) {
        let doc = div(&format!("<p>{before}<{tag}>{after}</{tag}></p>"));
        prop_assert_eq!(check_div(&doc).unwrap_err().rule(), "txt-1");
    }

    #[test]
    fn an_event_handler_attribute_is_refused(
        event in "on[a-z]{1,12}",
        tag in prop::sample::select(vec!["p", "a", "img", "td", "div", "span", "table"]),
    ) {
        let doc = div(&format!(r#"<{tag} {event}="alert(1)">x</{tag}>"#));
        prop_assert_eq!(check_div(&doc).unwrap_err().rule(), "txt-1");
    }
}
