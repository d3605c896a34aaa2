//! A fast path for the conditions most policies are made of.
//!
//! Nearly every condition is a few field comparisons joined by `&&` and `||`:
//! `person.department == "Sales" && !person.legal_hold`. Going through rhai's evaluator costs
//! about 400 ns for that (a scope, locks, value clones), which at 100k people times dozens of
//! rules is most of a plan. This module recognises that subset when a condition is compiled
//! and evaluates it directly on the context maps.
//!
//! It never decides differently from rhai: whenever a value is not what the subset expects
//! (a missing field, a number, a comparison between different types), evaluation returns
//! `None` and the caller asks rhai, which gives the answer or the precise error.
//!
//! Grammar, loosest binding first (rhai's precedence):
//!
//! ```text
//! or     := and ("||" and)*
//! and    := cmp ("&&" cmp)*
//! cmp    := member (("==" | "!=") member)?
//! member := unary ("in" unary)?
//! unary  := "!" unary | atom
//! atom   := ("person" | "account") "." ident | "string" | true | false | "(" or ")"
//! ```

use rhai::{Dynamic, ImmutableString, Map};

/// A condition in the fast subset.
#[derive(Debug, Clone, PartialEq)]
pub(super) enum Expr {
    Or(Box<Expr>, Box<Expr>),
    And(Box<Expr>, Box<Expr>),
    Eq(Box<Expr>, Box<Expr>),
    Ne(Box<Expr>, Box<Expr>),
    In(Box<Expr>, Box<Expr>),
    Not(Box<Expr>),
    Field(Var, String),
    Text(ImmutableString),
    Bool(bool),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Var {
    Person,
    Account,
}

/// A field as a [`Source`] gives it.
pub enum Field<'a> {
    Text(&'a str),
    Bool(bool),
    /// Anything else (numbers, timestamps, unit): the fast path steps aside.
    Other,
}

/// Where the fast path reads `person.*` (or `account.*`) fields: a rhai map, or the typed
/// record the map would be built from, which spares building the map at all.
pub trait Source {
    /// `None` when the field does not exist (rhai then reports it).
    fn field(&self, name: &str) -> Option<Field<'_>>;

    /// Whether a text field equals `text`; `None` when it is missing or not text.
    fn text_eq(&self, name: &str, text: &str) -> Option<bool> {
        match self.field(name)? {
            Field::Text(s) => Some(s == text),
            _ => None,
        }
    }

    /// A string field held as a rhai value (how a map keeps its text).
    fn shared_text(&self, _name: &str) -> Option<ImmutableString> {
        None
    }

    /// A list field (`account.groups`), when the source has lists.
    fn list(&self, _name: &str) -> Option<&Dynamic> {
        None
    }
}

impl Source for Map {
    fn field(&self, name: &str) -> Option<Field<'_>> {
        // Text stays inside the map's values (see `text_eq` and `shared_text`).
        Some(match self.get(name)?.as_bool() {
            Ok(b) => Field::Bool(b),
            Err(_) => Field::Other,
        })
    }

    fn text_eq(&self, name: &str, text: &str) -> Option<bool> {
        let value = self.get(name)?.as_immutable_string_ref().ok()?;
        Some(value.as_str() == text)
    }

    fn shared_text(&self, name: &str) -> Option<ImmutableString> {
        let value = self.get(name)?.as_immutable_string_ref().ok()?;
        Some(value.clone())
    }

    fn list(&self, name: &str) -> Option<&Dynamic> {
        self.get(name).filter(|v| v.is_array())
    }
}

/// A value as the fast path sees it.
enum Value<'a> {
    Text(Text<'a>),
    Bool(bool),
    List(&'a Dynamic),
}

/// Text borrowed from a typed source or a literal, or shared out of a rhai map.
enum Text<'a> {
    Borrowed(&'a str),
    Shared(ImmutableString),
}

impl Text<'_> {
    fn as_str(&self) -> &str {
        match self {
            Text::Borrowed(s) => s,
            Text::Shared(s) => s.as_str(),
        }
    }
}

impl Expr {
    /// The condition, if it is in the subset.
    pub(super) fn parse(source: &str) -> Option<Expr> {
        let tokens = tokenize(source)?;
        let mut p = Parser { tokens, at: 0 };
        let expr = p.or()?;
        (p.at == p.tokens.len()).then_some(expr)
    }

    /// `Some(result)`, or `None` when rhai must decide (see the module docs).
    pub(super) fn eval(&self, person: &dyn Source, account: Option<&dyn Source>) -> Option<bool> {
        Ctx { person, account }.boolean(self)
    }
}

struct Ctx<'a> {
    person: &'a dyn Source,
    account: Option<&'a dyn Source>,
}

impl<'a> Ctx<'a> {
    fn boolean(&self, e: &'a Expr) -> Option<bool> {
        match self.value(e)? {
            Value::Bool(b) => Some(b),
            _ => None,
        }
    }

    fn value(&self, e: &'a Expr) -> Option<Value<'a>> {
        Some(match e {
            // rhai short-circuits too, so an unevaluated side cannot fail either way.
            Expr::Or(a, b) => Value::Bool(self.boolean(a)? || self.boolean(b)?),
            Expr::And(a, b) => Value::Bool(self.boolean(a)? && self.boolean(b)?),
            Expr::Eq(a, b) => Value::Bool(self.equal(a, b)?),
            Expr::Ne(a, b) => Value::Bool(!self.equal(a, b)?),
            Expr::Not(a) => Value::Bool(!self.boolean(a)?),
            Expr::In(needle, haystack) => {
                let Value::Text(needle) = self.value(needle)? else {
                    return None;
                };
                match self.value(haystack)? {
                    Value::Text(s) => Value::Bool(s.as_str().contains(needle.as_str())),
                    Value::List(list) => {
                        let items = list.as_array_ref().ok()?;
                        let mut found = false;
                        for item in items.iter() {
                            // Anything but text: rhai's own comparison rules apply.
                            let item = item.as_immutable_string_ref().ok()?;
                            found |= item.as_str() == needle.as_str();
                        }
                        Value::Bool(found)
                    }
                    Value::Bool(_) => return None,
                }
            }
            Expr::Field(var, name) => self.field(*var, name)?,
            Expr::Text(s) => Value::Text(Text::Borrowed(s.as_str())),
            Expr::Bool(b) => Value::Bool(*b),
        })
    }

    fn source(&self, var: Var) -> Option<&'a dyn Source> {
        match var {
            Var::Person => Some(self.person),
            Var::Account => self.account,
        }
    }

    fn field(&self, var: Var, name: &str) -> Option<Value<'a>> {
        let source = self.source(var)?;
        if let Some(list) = source.list(name) {
            return Some(Value::List(list));
        }
        match source.field(name)? {
            Field::Text(s) => Some(Value::Text(Text::Borrowed(s))),
            Field::Bool(b) => Some(Value::Bool(b)),
            Field::Other => source
                .shared_text(name)
                .map(|s| Value::Text(Text::Shared(s))),
        }
    }

    fn equal(&self, a: &'a Expr, b: &'a Expr) -> Option<bool> {
        // The usual `person.field == "text"`, compared in place without touching counts.
        if let (Expr::Field(var, name), Expr::Text(text))
        | (Expr::Text(text), Expr::Field(var, name)) = (a, b)
        {
            return self.source(*var)?.text_eq(name, text);
        }
        match (self.value(a)?, self.value(b)?) {
            (Value::Text(x), Value::Text(y)) => Some(x.as_str() == y.as_str()),
            (Value::Bool(x), Value::Bool(y)) => Some(x == y),
            _ => None,
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
enum Token {
    Ident(String),
    Text(String),
    Dot,
    EqEq,
    NotEq,
    AndAnd,
    OrOr,
    Bang,
    Open,
    Close,
}

fn tokenize(source: &str) -> Option<Vec<Token>> {
    let bytes = source.as_bytes();
    let mut tokens = Vec::new();
    let mut i = 0;
    while i < bytes.len() {
        let b = bytes[i];
        let two = bytes.get(i..i + 2);
        match b {
            b' ' | b'\t' | b'\n' | b'\r' => i += 1,
            b'"' => {
                let end = source[i + 1..].find('"')? + i + 1;
                let text = &source[i + 1..end];
                // Escapes and interpolation are rhai's business.
                if text.contains('\\') {
                    return None;
                }
                tokens.push(Token::Text(text.to_string()));
                i = end + 1;
            }
            b'.' => {
                tokens.push(Token::Dot);
                i += 1;
            }
            b'(' => {
                tokens.push(Token::Open);
                i += 1;
            }
            b')' => {
                tokens.push(Token::Close);
                i += 1;
            }
            _ if two == Some(b"==") => {
                tokens.push(Token::EqEq);
                i += 2;
            }
            _ if two == Some(b"!=") => {
                tokens.push(Token::NotEq);
                i += 2;
            }
            _ if two == Some(b"&&") => {
                tokens.push(Token::AndAnd);
                i += 2;
            }
            _ if two == Some(b"||") => {
                tokens.push(Token::OrOr);
                i += 2;
            }
            b'!' => {
                tokens.push(Token::Bang);
                i += 1;
            }
            _ if b.is_ascii_alphabetic() || b == b'_' => {
                let len = bytes[i..]
                    .iter()
                    .take_while(|b| b.is_ascii_alphanumeric() || **b == b'_')
                    .count();
                tokens.push(Token::Ident(source[i..i + len].to_string()));
                i += len;
            }
            _ => return None,
        }
    }
    Some(tokens)
}

struct Parser {
    tokens: Vec<Token>,
    at: usize,
}

impl Parser {
    fn peek(&self) -> Option<&Token> {
        self.tokens.get(self.at)
    }

    fn eat(&mut self, t: &Token) -> bool {
        let hit = self.peek() == Some(t);
        if hit {
            self.at += 1;
        }
        hit
    }

    fn or(&mut self) -> Option<Expr> {
        let mut left = self.and()?;
        while self.eat(&Token::OrOr) {
            left = Expr::Or(Box::new(left), Box::new(self.and()?));
        }
        Some(left)
    }

    fn and(&mut self) -> Option<Expr> {
        let mut left = self.cmp()?;
        while self.eat(&Token::AndAnd) {
            left = Expr::And(Box::new(left), Box::new(self.cmp()?));
        }
        Some(left)
    }

    fn cmp(&mut self) -> Option<Expr> {
        let left = self.member()?;
        if self.eat(&Token::EqEq) {
            return Some(Expr::Eq(Box::new(left), Box::new(self.member()?)));
        }
        if self.eat(&Token::NotEq) {
            return Some(Expr::Ne(Box::new(left), Box::new(self.member()?)));
        }
        Some(left)
    }

    fn member(&mut self) -> Option<Expr> {
        let left = self.unary()?;
        if self.eat(&Token::Ident("in".into())) {
            return Some(Expr::In(Box::new(left), Box::new(self.unary()?)));
        }
        Some(left)
    }

    fn unary(&mut self) -> Option<Expr> {
        if self.eat(&Token::Bang) {
            return Some(Expr::Not(Box::new(self.unary()?)));
        }
        self.atom()
    }

    fn atom(&mut self) -> Option<Expr> {
        let token = self.peek()?.clone();
        self.at += 1;
        match token {
            Token::Open => {
                let inner = self.or()?;
                self.eat(&Token::Close).then_some(inner)
            }
            Token::Text(s) => Some(Expr::Text(s.into())),
            Token::Ident(id) => match id.as_str() {
                "true" => Some(Expr::Bool(true)),
                "false" => Some(Expr::Bool(false)),
                "person" | "account" => {
                    let var = if id == "person" {
                        Var::Person
                    } else {
                        Var::Account
                    };
                    if !self.eat(&Token::Dot) {
                        return None;
                    }
                    match self.peek()?.clone() {
                        Token::Ident(field) => {
                            self.at += 1;
                            Some(Expr::Field(var, field))
                        }
                        _ => None,
                    }
                }
                _ => None,
            },
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_the_common_forms() {
        for source in [
            "true",
            "person.legal_hold",
            "!person.legal_hold",
            "person.department == \"Sales\"",
            "person.a == \"x\" && person.b != \"y\" || (person.c && !person.d)",
            "\"admins\" in person.groups",
            "\"admins\" in account.groups && account.privileged",
        ] {
            assert!(Expr::parse(source).is_some(), "{source}");
        }
    }

    #[test]
    fn leaves_everything_else_to_rhai() {
        for source in [
            "now > person.termination_at",
            "person.name.len() > 3",
            "person[\"department\"] == \"x\"",
            "person.a == \"x\\\"y\"",
            "person.a == `x`",
            "person.a == \"x\" == true",
            "person.a ==",
            "(person.a",
            "person",
            "x.y",
        ] {
            assert!(Expr::parse(source).is_none(), "{source}");
        }
    }

    #[test]
    fn precedence_matches_rhai() {
        let e = Expr::parse("person.a || person.b && person.c").unwrap();
        assert!(matches!(e, Expr::Or(_, _)));
        let e = Expr::parse("!person.a == person.b").unwrap();
        assert!(matches!(e, Expr::Eq(_, _)));
        let e = Expr::parse("\"x\" in person.g == true").unwrap();
        assert!(matches!(e, Expr::Eq(_, _)));
    }
}
