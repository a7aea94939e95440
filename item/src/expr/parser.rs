//! Recursive-descent parser from tokens to a raw syntax tree.
//!
//! The raw tree keeps placeholders (`#n`, `:v`) and function names unresolved;
//! `resolve` turns it into the public AST and reports DynamoDB's semantic errors
//! in DynamoDB's order. Only syntax errors come from here.
//!
//! Condition grammar (DynamoDB's precedence, loosest first: OR, AND, NOT, then
//! comparisons, BETWEEN, IN and functions; parentheses override):
//!
//! ```text
//! or      := and (OR and)*
//! and     := not (AND not)*
//! not     := NOT* primary
//! primary := '(' or ')' | operand cmp operand | operand BETWEEN operand AND operand
//!          | operand IN '(' operand (',' operand)* ')' | call
//! operand := '(' operand ')' | path | :value | call
//! call    := word '(' operand (',' operand)* ')'
//! path    := (word | #name) ('.' (word | #name) | '[' digits ']')*
//! ```
//!
//! Update grammar:
//!
//! ```text
//! update  := section+
//! section := SET path '=' value (',' path '=' value)*
//!          | REMOVE path (',' path)*
//!          | ADD path :value (',' path :value)*
//!          | DELETE path :value (',' path :value)*
//! value   := '(' sum ')' | sum
//! sum     := operand (('+' | '-') operand)?
//! ```

use crate::echo;

use super::error::{ExprError, ExprKind};
use super::lexer::{Tok, Token, tokenize};
use super::tree_drop::{Detach, drop_iteratively, take_if_deep};

/// Deepest nesting of parentheses and function calls the parser follows.
///
/// DynamoDB documents no such limit; this one keeps recursion bounded on
/// hostile input (4 KB of `(`) and is far above what real expressions use.
pub(crate) const MAX_NESTING: usize = 64;

/// A comparison operator.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Comparator {
    /// `=`
    Eq,
    /// `<>`
    Ne,
    /// `<`
    Lt,
    /// `<=`
    Le,
    /// `>`
    Gt,
    /// `>=`
    Ge,
}

impl Comparator {
    /// The operator as written in an expression.
    pub fn symbol(self) -> &'static str {
        match self {
            Comparator::Eq => "=",
            Comparator::Ne => "<>",
            Comparator::Lt => "<",
            Comparator::Le => "<=",
            Comparator::Gt => ">",
            Comparator::Ge => ">=",
        }
    }

    /// The operator with its operands swapped (`a < b` is `b > a`).
    pub fn flipped(self) -> Comparator {
        match self {
            Comparator::Eq => Comparator::Eq,
            Comparator::Ne => Comparator::Ne,
            Comparator::Lt => Comparator::Gt,
            Comparator::Le => Comparator::Ge,
            Comparator::Gt => Comparator::Lt,
            Comparator::Ge => Comparator::Le,
        }
    }
}

/// `+` or `-` in a SET action.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ArithOp {
    Plus,
    Minus,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum RawElem {
    /// A bare word as written.
    Name(String),
    /// `#placeholder`, with its `#`.
    Placeholder(String),
    /// `[digits]`: the digits as written.
    Index(String),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct RawPath {
    pub(crate) elems: Vec<RawElem>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct RawCall {
    pub(crate) name: String,
    pub(crate) args: Vec<RawOperand>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum RawOperand {
    Path(RawPath),
    /// `:placeholder`, with its `:`.
    Value(String),
    Call(RawCall),
    Arith(ArithOp, Box<RawOperand>, Box<RawOperand>),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum RawCond {
    Compare(Comparator, RawOperand, RawOperand),
    Between(RawOperand, RawOperand, RawOperand),
    In(RawOperand, Vec<RawOperand>),
    Call(RawCall),
    Not(Box<RawCond>),
    And(Box<RawCond>, Box<RawCond>),
    Or(Box<RawCond>, Box<RawCond>),
}

impl Detach for RawCond {
    fn has_children(&self) -> bool {
        matches!(self, RawCond::Not(_) | RawCond::And(..) | RawCond::Or(..))
    }

    fn detach_children(&mut self, out: &mut Vec<RawCond>) {
        let leaf = || RawCond::In(RawOperand::Value(String::new()), Vec::new());
        match self {
            RawCond::Not(c) => take_if_deep(&mut **c, leaf, out),
            RawCond::And(a, b) | RawCond::Or(a, b) => {
                take_if_deep(&mut **a, leaf, out);
                take_if_deep(&mut **b, leaf, out);
            }
            _ => {}
        }
    }
}

impl Drop for RawCond {
    /// A 4 KB condition can chain 1,000 `NOT`s; dropping it must not recurse.
    fn drop(&mut self) {
        drop_iteratively(self);
    }
}

/// The four clauses of an update expression.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum SectionKind {
    Set,
    Remove,
    Add,
    Delete,
}

impl SectionKind {
    pub(crate) fn keyword(self) -> &'static str {
        match self {
            SectionKind::Set => "SET",
            SectionKind::Remove => "REMOVE",
            SectionKind::Add => "ADD",
            SectionKind::Delete => "DELETE",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum RawSection {
    Set(Vec<(RawPath, RawOperand)>),
    Remove(Vec<RawPath>),
    Add(Vec<(RawPath, String)>),
    Delete(Vec<(RawPath, String)>),
}

impl RawSection {
    pub(crate) fn kind(&self) -> SectionKind {
        match self {
            RawSection::Set(_) => SectionKind::Set,
            RawSection::Remove(_) => SectionKind::Remove,
            RawSection::Add(_) => SectionKind::Add,
            RawSection::Delete(_) => SectionKind::Delete,
        }
    }
}

/// What a successful parse found besides the tree.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct ParseFacts {
    /// Operators and functions counted against DynamoDB's limit of 300.
    pub(crate) operators: usize,
    /// Whether some parentheses directly enclose another pair.
    pub(crate) redundant_parens: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Mode {
    Condition,
    Update,
    Projection,
}

const CONDITION_KEYWORDS: &[&str] = &["AND", "BETWEEN", "IN", "NOT", "OR"];
const UPDATE_KEYWORDS: &[&str] = &["ADD", "DELETE", "REMOVE", "SET"];

pub(crate) struct Parser<'s> {
    src: &'s str,
    toks: Vec<Token>,
    pos: usize,
    kind: ExprKind,
    mode: Mode,
    depth: usize,
    facts: ParseFacts,
}

type PResult<T> = Result<T, ExprError>;

impl<'s> Parser<'s> {
    fn new(src: &'s str, kind: ExprKind, mode: Mode) -> Parser<'s> {
        Parser {
            src,
            toks: tokenize(src),
            pos: 0,
            kind,
            mode,
            depth: 0,
            facts: ParseFacts::default(),
        }
    }

    // ----- token helpers -------------------------------------------------

    fn tok_at(&self, i: usize) -> &Token {
        // The token list always ends with Eof and `pos` never passes it.
        let last = self.toks.len().saturating_sub(1);
        &self.toks[i.min(last)]
    }

    fn peek(&self) -> &Tok {
        &self.tok_at(self.pos).tok
    }

    fn peek_next(&self) -> &Tok {
        &self.tok_at(self.pos + 1).tok
    }

    fn text_at(&self, i: usize) -> &'s str {
        let t = self.tok_at(i);
        self.src.get(t.start..t.end).unwrap_or("")
    }

    fn advance(&mut self) -> usize {
        let i = self.pos;
        if self.toks[i.min(self.toks.len() - 1)].tok != Tok::Eof {
            self.pos += 1;
        }
        i
    }

    fn is_keyword_at(&self, i: usize, kw: &str) -> bool {
        self.tok_at(i).tok == Tok::Ident && self.text_at(i).eq_ignore_ascii_case(kw)
    }

    fn at_keyword(&self, kw: &str) -> bool {
        self.is_keyword_at(self.pos, kw)
    }

    fn is_reserved_keyword_at(&self, i: usize) -> bool {
        let list = match self.mode {
            Mode::Condition => CONDITION_KEYWORDS,
            Mode::Update => UPDATE_KEYWORDS,
            Mode::Projection => &[],
        };
        list.iter().any(|kw| self.is_keyword_at(i, kw))
    }

    /// The syntax error DynamoDB reports at token `i`: the token's text and the
    /// source from the previous token through the next one.
    fn error_at(&self, i: usize) -> ExprError {
        let last = self.toks.len().saturating_sub(1);
        let i = i.min(last);
        let t = &self.toks[i];
        let start = if i > 0 {
            self.toks[i - 1].start
        } else {
            t.start
        };
        let end = if t.tok == Tok::Eof {
            self.src.len()
        } else if i + 1 < last {
            self.toks[i + 1].end
        } else {
            t.end
        };
        let token = if t.tok == Tok::Eof {
            "<EOF>".to_string()
        } else {
            echo::owned(self.src.get(t.start..t.end).unwrap_or(""))
        };
        ExprError::Syntax {
            kind: self.kind,
            token,
            near: echo::owned(self.src.get(start..end).unwrap_or("")),
            offset: t.start,
        }
    }

    fn err(&self) -> ExprError {
        self.error_at(self.pos)
    }

    fn expect(&mut self, tok: Tok) -> PResult<usize> {
        if *self.peek() == tok {
            Ok(self.advance())
        } else {
            Err(self.err())
        }
    }

    fn expect_end(&self) -> PResult<()> {
        if *self.peek() == Tok::Eof {
            Ok(())
        } else {
            Err(self.err())
        }
    }

    fn count_op(&mut self) {
        self.facts.operators += 1;
    }

    fn nest<T>(&mut self, f: impl FnOnce(&mut Self) -> PResult<T>) -> PResult<T> {
        if self.depth >= MAX_NESTING {
            return Err(self.err());
        }
        self.depth += 1;
        let r = f(self);
        self.depth -= 1;
        r
    }

    /// Runs `first`; if it fails, rewinds and runs `second`. When both fail the
    /// error found further into the input is reported.
    fn either<T>(
        &mut self,
        first: impl FnOnce(&mut Self) -> PResult<T>,
        second: impl FnOnce(&mut Self) -> PResult<T>,
    ) -> PResult<T> {
        let (pos, facts) = (self.pos, self.facts);
        match first(self) {
            Ok(v) => Ok(v),
            Err(e1) => {
                self.pos = pos;
                self.facts = facts;
                match second(self) {
                    Ok(v) => Ok(v),
                    Err(e2) => {
                        if e1.offset() > e2.offset() {
                            Err(e1)
                        } else {
                            Err(e2)
                        }
                    }
                }
            }
        }
    }

    // ----- paths and operands --------------------------------------------

    fn parse_path_name(&mut self) -> PResult<RawElem> {
        match self.peek() {
            Tok::NameRef => {
                let i = self.advance();
                Ok(RawElem::Placeholder(self.text_at(i).to_string()))
            }
            Tok::Ident if !self.is_reserved_keyword_at(self.pos) => {
                let i = self.advance();
                Ok(RawElem::Name(self.text_at(i).to_string()))
            }
            _ => Err(self.err()),
        }
    }

    fn parse_path(&mut self) -> PResult<RawPath> {
        let mut path = RawPath {
            elems: vec![self.parse_path_name()?],
        };
        self.parse_path_rest(&mut path)?;
        Ok(path)
    }

    fn parse_path_rest(&mut self, path: &mut RawPath) -> PResult<()> {
        loop {
            match self.peek() {
                Tok::Dot => {
                    self.advance();
                    path.elems.push(self.parse_path_name()?);
                }
                Tok::LBracket => {
                    self.advance();
                    let i = self.expect(Tok::Number)?;
                    path.elems.push(RawElem::Index(self.text_at(i).to_string()));
                    self.expect(Tok::RBracket)?;
                }
                _ => return Ok(()),
            }
        }
    }

    fn parse_call(&mut self) -> PResult<RawCall> {
        self.nest(|p| {
            let i = p.advance();
            let name = p.text_at(i).to_string();
            p.expect(Tok::LParen)?;
            let mut args = vec![p.parse_operand()?.0];
            while *p.peek() == Tok::Comma {
                p.advance();
                args.push(p.parse_operand()?.0);
            }
            p.expect(Tok::RParen)?;
            p.count_op();
            Ok(RawCall { name, args })
        })
    }

    /// An operand, possibly in parentheses; the flag says whether the whole
    /// operand was one parenthesized group.
    fn parse_operand(&mut self) -> PResult<(RawOperand, bool)> {
        match self.peek() {
            Tok::LParen => self.nest(|p| {
                p.advance();
                let (inner, grouped) = p.parse_operand()?;
                p.expect(Tok::RParen)?;
                if grouped {
                    p.facts.redundant_parens = true;
                }
                // In conditions a parenthesized path may go on: `(a.b).c`, `(a)[0]`.
                if let RawOperand::Path(mut path) = inner {
                    if p.mode == Mode::Condition && matches!(p.peek(), Tok::Dot | Tok::LBracket) {
                        p.parse_path_rest(&mut path)?;
                        return Ok((RawOperand::Path(path), false));
                    }
                    return Ok((RawOperand::Path(path), true));
                }
                Ok((inner, true))
            }),
            Tok::ValueRef => {
                let i = self.advance();
                Ok((RawOperand::Value(self.text_at(i).to_string()), false))
            }
            Tok::Ident
                if *self.peek_next() == Tok::LParen && !self.is_reserved_keyword_at(self.pos) =>
            {
                Ok((RawOperand::Call(self.parse_call()?), false))
            }
            Tok::Ident | Tok::NameRef => Ok((RawOperand::Path(self.parse_path()?), false)),
            _ => Err(self.err()),
        }
    }

    // ----- conditions ----------------------------------------------------

    fn parse_or(&mut self) -> PResult<(RawCond, bool)> {
        let (mut left, mut grouped) = self.parse_and()?;
        while self.at_keyword("OR") {
            self.advance();
            self.count_op();
            let (right, _) = self.parse_and()?;
            left = RawCond::Or(Box::new(left), Box::new(right));
            grouped = false;
        }
        Ok((left, grouped))
    }

    fn parse_and(&mut self) -> PResult<(RawCond, bool)> {
        let (mut left, mut grouped) = self.parse_not()?;
        while self.at_keyword("AND") {
            self.advance();
            self.count_op();
            let (right, _) = self.parse_not()?;
            left = RawCond::And(Box::new(left), Box::new(right));
            grouped = false;
        }
        Ok((left, grouped))
    }

    fn parse_not(&mut self) -> PResult<(RawCond, bool)> {
        let mut nots = 0usize;
        while self.at_keyword("NOT") {
            self.advance();
            self.count_op();
            nots += 1;
        }
        let (mut cond, mut grouped) = self.parse_primary()?;
        for _ in 0..nots {
            cond = RawCond::Not(Box::new(cond));
            grouped = false;
        }
        Ok((cond, grouped))
    }

    fn parse_primary(&mut self) -> PResult<(RawCond, bool)> {
        if *self.peek() == Tok::LParen {
            // `(a) = b` and `(a = b)` both start with `(`: try the comparison
            // first, then the parenthesized condition.
            self.either(
                |p| Ok((p.parse_simple_condition()?, false)),
                |p| {
                    p.nest(|p| {
                        p.advance();
                        let (inner, grouped) = p.parse_or()?;
                        p.expect(Tok::RParen)?;
                        if grouped {
                            p.facts.redundant_parens = true;
                        }
                        Ok((inner, true))
                    })
                },
            )
        } else {
            Ok((self.parse_simple_condition()?, false))
        }
    }

    fn parse_simple_condition(&mut self) -> PResult<RawCond> {
        let (left, _) = self.parse_operand()?;
        let cmp = match self.peek() {
            Tok::Eq => Some(Comparator::Eq),
            Tok::Ne => Some(Comparator::Ne),
            Tok::Lt => Some(Comparator::Lt),
            Tok::Le => Some(Comparator::Le),
            Tok::Gt => Some(Comparator::Gt),
            Tok::Ge => Some(Comparator::Ge),
            _ => None,
        };
        if let Some(cmp) = cmp {
            self.advance();
            self.count_op();
            let (right, _) = self.parse_operand()?;
            return Ok(RawCond::Compare(cmp, left, right));
        }
        if self.at_keyword("BETWEEN") {
            self.advance();
            self.count_op();
            let (low, _) = self.parse_operand()?;
            if !self.at_keyword("AND") {
                return Err(self.err());
            }
            self.advance();
            let (high, _) = self.parse_operand()?;
            return Ok(RawCond::Between(left, low, high));
        }
        if self.at_keyword("IN") {
            self.advance();
            self.count_op();
            self.expect(Tok::LParen)?;
            let mut list = vec![self.parse_operand()?.0];
            while *self.peek() == Tok::Comma {
                self.advance();
                list.push(self.parse_operand()?.0);
            }
            self.expect(Tok::RParen)?;
            return Ok(RawCond::In(left, list));
        }
        match left {
            RawOperand::Call(call) => Ok(RawCond::Call(call)),
            _ => Err(self.err()),
        }
    }

    // ----- updates -------------------------------------------------------

    fn section_at(&self, i: usize) -> Option<SectionKind> {
        [
            SectionKind::Set,
            SectionKind::Remove,
            SectionKind::Add,
            SectionKind::Delete,
        ]
        .into_iter()
        .find(|s| self.is_keyword_at(i, s.keyword()))
    }

    fn at_set_value_end(&self) -> bool {
        matches!(self.peek(), Tok::Comma | Tok::Eof) || self.section_at(self.pos).is_some()
    }

    fn parse_sum(&mut self) -> PResult<RawOperand> {
        let (left, _) = self.parse_operand()?;
        let op = match self.peek() {
            Tok::Plus => ArithOp::Plus,
            Tok::Minus => ArithOp::Minus,
            _ => return Ok(left),
        };
        self.advance();
        self.count_op();
        let (right, _) = self.parse_operand()?;
        Ok(RawOperand::Arith(op, Box::new(left), Box::new(right)))
    }

    fn parse_set_value(&mut self) -> PResult<RawOperand> {
        if *self.peek() == Tok::LParen {
            // `(b + c)` or `(b) + c`.
            self.either(
                |p| {
                    p.nest(|p| {
                        p.advance();
                        let v = p.parse_sum()?;
                        p.expect(Tok::RParen)?;
                        if p.at_set_value_end() {
                            Ok(v)
                        } else {
                            Err(p.err())
                        }
                    })
                },
                |p| p.parse_sum(),
            )
        } else {
            self.parse_sum()
        }
    }

    fn parse_value_ref(&mut self) -> PResult<String> {
        let i = self.expect(Tok::ValueRef)?;
        Ok(self.text_at(i).to_string())
    }

    fn parse_section(&mut self, kind: SectionKind) -> PResult<RawSection> {
        self.advance();
        Ok(match kind {
            SectionKind::Set => {
                let mut actions = Vec::new();
                loop {
                    let path = self.parse_path()?;
                    self.expect(Tok::Eq)?;
                    actions.push((path, self.parse_set_value()?));
                    if *self.peek() != Tok::Comma {
                        break;
                    }
                    self.advance();
                }
                RawSection::Set(actions)
            }
            SectionKind::Remove => {
                let mut paths = vec![self.parse_path()?];
                while *self.peek() == Tok::Comma {
                    self.advance();
                    paths.push(self.parse_path()?);
                }
                RawSection::Remove(paths)
            }
            SectionKind::Add | SectionKind::Delete => {
                let mut actions = Vec::new();
                loop {
                    let path = self.parse_path()?;
                    actions.push((path, self.parse_value_ref()?));
                    if *self.peek() != Tok::Comma {
                        break;
                    }
                    self.advance();
                }
                if kind == SectionKind::Add {
                    RawSection::Add(actions)
                } else {
                    RawSection::Delete(actions)
                }
            }
        })
    }

    fn parse_update_sections(&mut self) -> PResult<Vec<RawSection>> {
        let mut sections = Vec::new();
        loop {
            if *self.peek() == Tok::Eof && !sections.is_empty() {
                return Ok(sections);
            }
            let Some(kind) = self.section_at(self.pos) else {
                return Err(self.err());
            };
            sections.push(self.parse_section(kind)?);
        }
    }
}

/// Length and emptiness checks every expression kind shares.
pub(crate) fn check_source(src: &str, kind: ExprKind) -> Result<(), ExprError> {
    if src.len() > super::MAX_EXPRESSION_BYTES {
        return Err(ExprError::TooLong {
            kind,
            size: src.len(),
        });
    }
    if src.trim_matches([' ', '\t', '\n', '\r']).is_empty() {
        return Err(ExprError::Empty { kind });
    }
    Ok(())
}

/// Parses a condition-shaped expression (condition, filter or key condition).
pub(crate) fn parse_condition(src: &str, kind: ExprKind) -> PResult<(RawCond, ParseFacts)> {
    check_source(src, kind)?;
    let mut p = Parser::new(src, kind, Mode::Condition);
    let (cond, _) = p.parse_or()?;
    p.expect_end()?;
    Ok((cond, p.facts))
}

/// Parses an update expression.
pub(crate) fn parse_update(src: &str) -> PResult<(Vec<RawSection>, ParseFacts)> {
    check_source(src, ExprKind::Update)?;
    let mut p = Parser::new(src, ExprKind::Update, Mode::Update);
    let sections = p.parse_update_sections()?;
    p.expect_end()?;
    Ok((sections, p.facts))
}

/// Parses a projection expression.
pub(crate) fn parse_projection(src: &str) -> PResult<Vec<RawPath>> {
    check_source(src, ExprKind::Projection)?;
    let mut p = Parser::new(src, ExprKind::Projection, Mode::Projection);
    let mut paths = vec![p.parse_path()?];
    while *p.peek() == Tok::Comma {
        p.advance();
        paths.push(p.parse_path()?);
    }
    p.expect_end()?;
    Ok(paths)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn syntax(src: &str, kind: ExprKind) -> (String, String) {
        let r = match kind {
            ExprKind::Update => parse_update(src).map(|_| ()),
            ExprKind::Projection => parse_projection(src).map(|_| ()),
            _ => parse_condition(src, kind).map(|_| ()),
        };
        match r {
            Err(ExprError::Syntax { token, near, .. }) => (token, near),
            other => panic!("{src:?}: expected a syntax error, got {other:?}"),
        }
    }

    #[test]
    fn near_quotes_neighbouring_tokens() {
        assert_eq!(
            syntax("a > 4", ExprKind::Condition),
            ("4".into(), "> 4".into())
        );
        assert_eq!(
            syntax("attribute_type()", ExprKind::Condition),
            (")".into(), "()".into())
        );
        assert_eq!(
            syntax("SET", ExprKind::Update),
            ("<EOF>".into(), "SET".into())
        );
        assert_eq!(
            syntax("SET x = ", ExprKind::Update),
            ("<EOF>".into(), "= ".into())
        );
        assert_eq!(
            syntax("SET path = VALUE 1", ExprKind::Update),
            ("1".into(), "VALUE 1".into())
        );
        assert_eq!(
            syntax("l[a]", ExprKind::Projection),
            ("a".into(), "[a]".into())
        );
    }

    #[test]
    fn precedence_not_and_or() {
        let (c, _) =
            parse_condition("NOT a = :x AND b = :y OR c = :z", ExprKind::Condition).unwrap();
        // ((NOT a=x) AND b=y) OR c=z
        let RawCond::Or(l, _) = &c else {
            panic!("{c:?}")
        };
        let RawCond::And(ll, _) = &**l else { panic!() };
        assert!(matches!(**ll, RawCond::Not(_)));
    }

    #[test]
    fn parenthesized_operand_and_condition() {
        assert!(parse_condition("(a) = :b", ExprKind::Condition).is_ok());
        assert!(parse_condition("(a = :b)", ExprKind::Condition).is_ok());
        assert!(parse_condition("(size(a)) > :b", ExprKind::Condition).is_ok());
        assert!(parse_condition("(attribute_exists(a))", ExprKind::Condition).is_ok());
        let (_, f) =
            parse_condition("a=a AND ((a=a AND a=a)) AND a=a", ExprKind::Condition).unwrap();
        assert!(f.redundant_parens);
        let (_, f) = parse_condition("((a=a) OR (a=a))", ExprKind::Condition).unwrap();
        assert!(!f.redundant_parens);
        let (_, f) = parse_condition("a > ((views))", ExprKind::Condition).unwrap();
        assert!(f.redundant_parens);
    }

    #[test]
    fn dynamodb_syntax_errors() {
        for src in [
            "things are not gonna be ok",
            "a > 4",
            "attribute_exists(Pictures-RearView)",
            "attribute_exists(\"Pictures.RearView\")",
            "attribute_exists(Pictures..RearView)",
            "attribute_exists(Pi#ctures.RearView)",
            "attribute_exists(asdf[a])",
            "a.:a < b.:b",
            "a in b, c",
            "a > between",
            "a in b",
            "a in (b,c,)",
            "(a)between(b.(c.d))and(c)",
            "(a)between(b.c.d)and((c)",
            "#$.b > a",
            "a > :things.stuff",
            "b[:a] > a",
            "b[#_] > a",
            "ü > a",
            "(a)between(b.c[4.5].#d)and(:a)",
            "size(a).b > a",
            "(size(a)).b > a",
            "size(a)[0] > a",
            "(size(a))[0] > a",
        ] {
            syntax(src, ExprKind::Filter);
        }
        for src in [
            "whatever",
            "set a",
            "add a",
            "delete a",
            "set a=set",
            "remove a = b",
            "add a = b",
            "delete a = b",
            "delete a b",
            "delete a if_not_exist(b)",
            "add abort b",
            "add a if_not_exist(b)",
            "remove a b",
            "set a b",
            "set :a = b",
            "add :a b",
            "delete :a b",
            "remove :a",
            "set a = b / c",
            "set a = b * c",
            "set a[1] = \"eight\"",
            "set a[1] = 1",
            "SET if_not_exist(a, b) = a",
            "set (a = (b + c))",
            "set a = (b.c).d + e",
            "set a = (b.c)[0] + e",
            "set a = b + c + d",
        ] {
            syntax(src, ExprKind::Update);
        }
    }

    #[test]
    fn update_shapes() {
        let (s, _) = parse_update(
            "set a = (b + c), d = if_not_exists(d, :z) + :one remove e add f :g delete h :i",
        )
        .unwrap();
        assert_eq!(s.len(), 4);
        assert!(parse_update("set a = ((b.c.d)+(e))").is_ok());
        assert!(parse_update("set a = (b) + c").is_ok());
        assert!(parse_update("SET a = list_append(if_not_exists(a, :e), :n)").is_ok());
    }

    #[test]
    fn deep_nesting_is_an_error_not_a_crash() {
        let src = format!("{}a = b{}", "(".repeat(2000), ")".repeat(2000));
        assert!(matches!(
            parse_condition(&src, ExprKind::Condition),
            Err(ExprError::Syntax { .. })
        ));
        let src = format!("a = {}b{}", "f(".repeat(1000), ")".repeat(1000));
        assert!(parse_condition(&src, ExprKind::Condition).is_err());
        let src = format!("{}a = b", "NOT ".repeat(900));
        assert!(parse_condition(&src, ExprKind::Condition).is_ok());
    }

    #[test]
    fn empty_and_too_long() {
        assert_eq!(
            parse_condition("  ", ExprKind::Condition).unwrap_err(),
            ExprError::Empty {
                kind: ExprKind::Condition
            }
        );
        let long = format!("a = :b{}", " ".repeat(5000));
        assert!(matches!(
            parse_condition(&long, ExprKind::Condition),
            Err(ExprError::TooLong { size: 5006, .. })
        ));
    }
}
