//! A parser for the FHIRPath subset that R4 search-parameter expressions use.
//!
//! Grammar (lowest precedence first, as in the FHIRPath spec):
//! `and`, then `=` / `!=`, then `is` / `as` TypeName, then `|`, then `.`invocation and `[index]`.
//! Anything outside the subset is a parse error, which the caller reports.

/// A parsed expression.
#[derive(Debug, Clone, PartialEq)]
pub enum Expr {
    /// A bare identifier at the start of a path (`Observation`, `subject`).
    Ident(String),
    /// `base.name`
    Member(Box<Expr>, String),
    /// `base.name(args)`, or `name(args)` at the start of a path when `base` is `None`.
    Call(Option<Box<Expr>>, String, Vec<Expr>),
    /// `base[index]`
    Index(Box<Expr>, Box<Expr>),
    /// `base as Type`
    As(Box<Expr>, String),
    /// `base is Type`
    Is(Box<Expr>, String),
    /// `a | b`
    Union(Box<Expr>, Box<Expr>),
    /// `a and b`, `a = b`, `a != b`
    Binary(&'static str, Box<Expr>, Box<Expr>),
    /// A string, number or boolean literal.
    Literal(String),
}

#[derive(Debug, Clone, PartialEq)]
enum Tok {
    Ident(String),
    Str(String),
    Num(String),
    Sym(&'static str),
}

fn tokenize(src: &str) -> Result<Vec<Tok>, String> {
    let chars: Vec<char> = src.chars().collect();
    let mut out = Vec::new();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        if c.is_whitespace() {
            i += 1;
        } else if c.is_ascii_alphabetic() || c == '_' {
            let start = i;
            while i < chars.len() && (chars[i].is_ascii_alphanumeric() || chars[i] == '_') {
                i += 1;
            }
            out.push(Tok::Ident(chars[start..i].iter().collect()));
        } else if c.is_ascii_digit() {
            let start = i;
            while i < chars.len() && chars[i].is_ascii_digit() {
                i += 1;
            }
            out.push(Tok::Num(chars[start..i].iter().collect()));
        } else if c == '\'' {
            let start = i + 1;
            i = start;
            while i < chars.len() && chars[i] != '\'' {
                i += 1;
            }
            if i == chars.len() {
                return Err(format!("unterminated string in `{src}`"));
            }
            out.push(Tok::Str(chars[start..i].iter().collect()));
            i += 1;
        } else if c == '!' && chars.get(i + 1) == Some(&'=') {
            out.push(Tok::Sym("!="));
            i += 2;
        } else {
            let sym = match c {
                '.' => ".",
                '|' => "|",
                '(' => "(",
                ')' => ")",
                '[' => "[",
                ']' => "]",
                '=' => "=",
                ',' => ",",
                _ => return Err(format!("unexpected `{c}` in `{src}`")),
            };
            out.push(Tok::Sym(sym));
            i += 1;
        }
    }
    Ok(out)
}

/// Parses one expression; the whole input must be consumed.
pub fn parse(src: &str) -> Result<Expr, String> {
    let mut p = Parser {
        toks: tokenize(src)?,
        pos: 0,
    };
    let e = p.and_expr()?;
    if p.pos != p.toks.len() {
        return Err(format!("trailing input at token {} in `{src}`", p.pos));
    }
    Ok(e)
}

struct Parser {
    toks: Vec<Tok>,
    pos: usize,
}

impl Parser {
    fn peek(&self) -> Option<&Tok> {
        self.toks.get(self.pos)
    }

    fn eat_sym(&mut self, s: &str) -> bool {
        if matches!(self.peek(), Some(Tok::Sym(x)) if *x == s) {
            self.pos += 1;
            true
        } else {
            false
        }
    }

    fn eat_keyword(&mut self, k: &str) -> bool {
        if matches!(self.peek(), Some(Tok::Ident(x)) if x == k) {
            self.pos += 1;
            true
        } else {
            false
        }
    }

    fn expect_sym(&mut self, s: &str) -> Result<(), String> {
        if self.eat_sym(s) {
            Ok(())
        } else {
            Err(format!("expected `{s}` at token {}", self.pos))
        }
    }

    fn ident(&mut self) -> Result<String, String> {
        match self.toks.get(self.pos) {
            Some(Tok::Ident(s)) => {
                self.pos += 1;
                Ok(s.clone())
            }
            other => Err(format!("expected identifier, found {other:?}")),
        }
    }

    fn and_expr(&mut self) -> Result<Expr, String> {
        let mut e = self.eq_expr()?;
        while self.eat_keyword("and") {
            e = Expr::Binary("and", Box::new(e), Box::new(self.eq_expr()?));
        }
        Ok(e)
    }

    fn eq_expr(&mut self) -> Result<Expr, String> {
        let e = self.type_expr()?;
        for op in ["=", "!="] {
            if self.eat_sym(op) {
                let op = if op == "=" { "=" } else { "!=" };
                return Ok(Expr::Binary(op, Box::new(e), Box::new(self.type_expr()?)));
            }
        }
        Ok(e)
    }

    fn type_expr(&mut self) -> Result<Expr, String> {
        let e = self.union_expr()?;
        if self.eat_keyword("as") {
            return Ok(Expr::As(Box::new(e), self.ident()?));
        }
        if self.eat_keyword("is") {
            return Ok(Expr::Is(Box::new(e), self.ident()?));
        }
        Ok(e)
    }

    fn union_expr(&mut self) -> Result<Expr, String> {
        let mut e = self.postfix()?;
        while self.eat_sym("|") {
            e = Expr::Union(Box::new(e), Box::new(self.postfix()?));
        }
        Ok(e)
    }

    fn postfix(&mut self) -> Result<Expr, String> {
        let mut e = self.primary()?;
        loop {
            if self.eat_sym(".") {
                let name = self.ident()?;
                e = if self.eat_sym("(") {
                    Expr::Call(Some(Box::new(e)), name, self.args()?)
                } else {
                    Expr::Member(Box::new(e), name)
                };
            } else if self.eat_sym("[") {
                let idx = self.and_expr()?;
                self.expect_sym("]")?;
                e = Expr::Index(Box::new(e), Box::new(idx));
            } else {
                return Ok(e);
            }
        }
    }

    fn args(&mut self) -> Result<Vec<Expr>, String> {
        let mut args = Vec::new();
        if self.eat_sym(")") {
            return Ok(args);
        }
        loop {
            args.push(self.and_expr()?);
            if self.eat_sym(")") {
                return Ok(args);
            }
            self.expect_sym(",")?;
        }
    }

    fn primary(&mut self) -> Result<Expr, String> {
        if self.eat_sym("(") {
            let e = self.and_expr()?;
            self.expect_sym(")")?;
            return Ok(e);
        }
        match self.toks.get(self.pos).cloned() {
            Some(Tok::Str(s)) | Some(Tok::Num(s)) => {
                self.pos += 1;
                Ok(Expr::Literal(s))
            }
            Some(Tok::Ident(s)) if s == "true" || s == "false" => {
                self.pos += 1;
                Ok(Expr::Literal(s))
            }
            Some(Tok::Ident(_)) => {
                let name = self.ident()?;
                if self.eat_sym("(") {
                    Ok(Expr::Call(None, name, self.args()?))
                } else {
                    Ok(Expr::Ident(name))
                }
            }
            other => Err(format!("unexpected {other:?} at token {}", self.pos)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_the_shapes_r4_uses() {
        for src in [
            "Observation.subject",
            "AllergyIntolerance.patient | CarePlan.subject.where(resolve() is Patient)",
            "(MedicationRequest.medication as Reference)",
            "Condition.onset.as(dateTime) | Condition.onset.as(Period)",
            "Bundle.entry[0].resource",
            "Patient.deceased.exists() and Patient.deceased != false",
            "Patient.telecom.where(system='email')",
            "(Observation.value as CodeableConcept).text",
        ] {
            parse(src).unwrap_or_else(|e| panic!("{src}: {e}"));
        }
    }

    #[test]
    fn as_binds_looser_than_union() {
        let e = parse("(A.b as Reference)").unwrap();
        assert!(matches!(e, Expr::As(_, ref t) if t == "Reference"));
        let e = parse("A.b | C.d").unwrap();
        assert!(matches!(e, Expr::Union(..)));
    }

    #[test]
    fn rejects_what_it_does_not_know() {
        assert!(parse("A.b +").is_err());
        assert!(parse("A.b'").is_err());
        assert!(parse("%resource.id").is_err());
        assert!(parse("A.b)").is_err());
    }
}
