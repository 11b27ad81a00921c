//! A borrowed JSON tree for request validation.
//!
//! Validation reads a body once and never changes it, so building a
//! `serde_json::Value` (a heap string per key and value, a B-tree per object,
//! all freed again afterwards) costs more than the validation itself. This
//! parser lays the document out as one flat vector of nodes in document
//! order: strings without escapes borrow from the body, a container records
//! where its subtree ends, and nothing recurses, so nesting costs no stack.
//!
//! It accepts exactly RFC 8259 JSON, like `serde_json`, with the same number
//! model (unsigned, signed, or finite float) and the same refusals (lone
//! surrogates, control characters in strings, numbers out of range). One
//! difference is deliberate: an object keeps every member, duplicates
//! included, so a validator can check each of them (parsers disagree on which
//! duplicate wins; see [`JsonRef::get`]).

use serde_json::{Map, Value};
use std::borrow::Cow;

/// Why a body is not a JSON document this parser accepts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum JsonError {
    /// Not JSON: the byte offset where reading stopped.
    Syntax(usize),
    /// Containers nest deeper than the limit.
    TooDeep,
}

/// A JSON number as `serde_json` models it.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Num {
    Unsigned(u64),
    Negative(i64),
    Float(f64),
}

impl Num {
    pub fn as_f64(self) -> f64 {
        match self {
            Num::Unsigned(u) => u as f64,
            Num::Negative(i) => i as f64,
            Num::Float(f) => f,
        }
    }

    pub fn as_i64(self) -> Option<i64> {
        match self {
            Num::Unsigned(u) => i64::try_from(u).ok(),
            Num::Negative(i) => Some(i),
            Num::Float(_) => None,
        }
    }

    /// A mathematical integer (`2.0` included, as JSON Schema counts it).
    pub fn is_integer(self) -> bool {
        match self {
            Num::Unsigned(_) | Num::Negative(_) => true,
            Num::Float(f) => f.is_finite() && f.fract() == 0.0,
        }
    }

    pub fn of(number: &serde_json::Number) -> Num {
        if let Some(u) = number.as_u64() {
            Num::Unsigned(u)
        } else if let Some(i) = number.as_i64() {
            Num::Negative(i)
        } else {
            Num::Float(number.as_f64().unwrap_or(f64::NAN))
        }
    }

    pub fn to_value(self) -> Value {
        match self {
            Num::Unsigned(u) => Value::from(u),
            Num::Negative(i) => Value::from(i),
            Num::Float(f) => serde_json::Number::from_f64(f).map_or(Value::Null, Value::Number),
        }
    }

    /// Equality with `1 == 1.0`.
    pub fn equals(self, other: Num) -> bool {
        match (self.as_i64(), other.as_i64()) {
            (Some(a), Some(b)) => a == b,
            _ => match (self, other) {
                (Num::Unsigned(a), Num::Unsigned(b)) => a == b,
                _ => self.as_f64() == other.as_f64(),
            },
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
enum Node<'a> {
    Null,
    Bool(bool),
    Number(Num),
    String(Cow<'a, str>),
    /// `end` is the index just past the container's last descendant.
    Array {
        len: u32,
        end: u32,
    },
    /// Members are laid out as key node, then value subtree.
    Object {
        len: u32,
        end: u32,
    },
}

/// A parsed document. Index 0 is the root.
#[derive(Debug, Clone)]
pub struct JsonTree<'a> {
    nodes: Vec<Node<'a>>,
}

/// What kind of value a node holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Null,
    Bool,
    Number,
    String,
    Array,
    Object,
}

impl<'a> JsonTree<'a> {
    /// Parses `text`; containers may nest `max_depth` deep.
    pub fn parse(text: &'a str, max_depth: usize) -> Result<JsonTree<'a>, JsonError> {
        let mut builder = TreeBuilder {
            // Typical API JSON has a node every five to eight bytes.
            nodes: Vec::with_capacity(text.len() / 5 + 4),
        };
        Parser::new(text).document(max_depth, &mut builder)?;
        Ok(JsonTree {
            nodes: builder.nodes,
        })
    }

    /// Parses a body, which must be UTF-8 (RFC 8259 §8.1).
    pub fn parse_bytes(body: &'a [u8], max_depth: usize) -> Result<JsonTree<'a>, JsonError> {
        match std::str::from_utf8(body) {
            Ok(text) => JsonTree::parse(text, max_depth),
            Err(e) => Err(JsonError::Syntax(e.valid_up_to())),
        }
    }

    pub fn root(&self) -> JsonRef<'_> {
        JsonRef {
            nodes: &self.nodes,
            at: 0,
        }
    }
}

/// One value inside a [`JsonTree`].
#[derive(Debug, Clone, Copy)]
pub struct JsonRef<'t> {
    nodes: &'t [Node<'t>],
    at: usize,
}

impl<'t> JsonRef<'t> {
    fn node(self) -> &'t Node<'t> {
        static NULL: Node<'static> = Node::Null;
        self.nodes.get(self.at).unwrap_or(&NULL)
    }

    fn end(self) -> usize {
        match self.node() {
            Node::Array { end, .. } | Node::Object { end, .. } => *end as usize,
            _ => self.at + 1,
        }
    }

    fn at(self, at: usize) -> JsonRef<'t> {
        JsonRef {
            nodes: self.nodes,
            at,
        }
    }

    pub fn kind(self) -> Kind {
        match self.node() {
            Node::Null => Kind::Null,
            Node::Bool(_) => Kind::Bool,
            Node::Number(_) => Kind::Number,
            Node::String(_) => Kind::String,
            Node::Array { .. } => Kind::Array,
            Node::Object { .. } => Kind::Object,
        }
    }

    pub fn as_str(self) -> Option<&'t str> {
        match self.node() {
            Node::String(s) => Some(s.as_ref()),
            _ => None,
        }
    }

    pub fn as_bool(self) -> Option<bool> {
        match self.node() {
            Node::Bool(b) => Some(*b),
            _ => None,
        }
    }

    pub fn as_num(self) -> Option<Num> {
        match self.node() {
            Node::Number(n) => Some(*n),
            _ => None,
        }
    }

    /// Items of an array or members of an object (duplicates counted).
    pub fn len(self) -> usize {
        match self.node() {
            Node::Array { len, .. } | Node::Object { len, .. } => *len as usize,
            _ => 0,
        }
    }

    pub fn is_empty(self) -> bool {
        self.len() == 0
    }

    /// Where the children of this node end, if it is the wanted kind of
    /// container (else an empty range).
    fn children_end(self, kind: Kind) -> usize {
        match (self.node(), kind) {
            (Node::Array { end, .. }, Kind::Array) | (Node::Object { end, .. }, Kind::Object) => {
                *end as usize
            }
            _ => self.at + 1,
        }
    }

    /// The items of an array (nothing for other values).
    pub fn items(self) -> Items<'t> {
        Items {
            next: self.at + 1,
            end: self.children_end(Kind::Array),
            base: self,
        }
    }

    /// The members of an object in document order (nothing for other values).
    pub fn entries(self) -> Entries<'t> {
        Entries {
            next: self.at + 1,
            end: self.children_end(Kind::Object),
            base: self,
        }
    }

    /// The member named `key`; of duplicates the last, as JavaScript,
    /// Python, Go and `serde_json` read them.
    pub fn get(self, key: &str) -> Option<JsonRef<'t>> {
        self.entries()
            .filter(|(k, _)| *k == key)
            .last()
            .map(|(_, v)| v)
    }

    /// The value as a `serde_json::Value` (duplicate keys: the last wins).
    pub fn to_value(self) -> Value {
        // Explicit stack: the tree may nest as deep as its parser allowed.
        enum Frame {
            Array(Vec<Value>, usize),
            Object(Map<String, Value>, Option<String>, usize),
        }
        let scalar = |r: JsonRef<'t>| match r.node() {
            Node::Null => Some(Value::Null),
            Node::Bool(b) => Some(Value::Bool(*b)),
            Node::Number(n) => Some(n.to_value()),
            Node::String(s) => Some(Value::String(s.clone().into_owned())),
            _ => None,
        };
        let mut stack: Vec<Frame> = Vec::new();
        let mut current = self;
        loop {
            let mut finished = match scalar(current) {
                Some(v) => v,
                None => {
                    let end = current.end();
                    let array = matches!(current.node(), Node::Array { .. });
                    if current.at + 1 >= end {
                        if array {
                            Value::Array(Vec::new())
                        } else {
                            Value::Object(Map::new())
                        }
                    } else {
                        current = current.at(current.at + 1);
                        if array {
                            stack.push(Frame::Array(Vec::new(), end));
                        } else {
                            let key = current.as_str().map(str::to_owned);
                            stack.push(Frame::Object(Map::new(), key, end));
                            current = current.at(current.at + 1);
                        }
                        continue;
                    }
                }
            };
            // `finished` ends at `current.end()`; attach it to its parent
            // and move on, closing parents that are complete.
            let mut next = current.end();
            loop {
                let Some(frame) = stack.last_mut() else {
                    return finished;
                };
                let end = match frame {
                    Frame::Array(items, end) => {
                        items.push(finished);
                        *end
                    }
                    Frame::Object(map, key, end) => {
                        map.insert(key.take().unwrap_or_default(), finished);
                        *end
                    }
                };
                if next < end {
                    current = current.at(next);
                    if let Frame::Object(_, key, _) = frame {
                        *key = current.as_str().map(str::to_owned);
                        current = current.at(next + 1);
                    }
                    break;
                }
                finished = match stack.pop() {
                    Some(Frame::Array(items, _)) => Value::Array(items),
                    Some(Frame::Object(map, _, _)) => Value::Object(map),
                    None => return Value::Null,
                };
                next = end;
            }
        }
    }
}

/// See [`JsonRef::items`].
#[derive(Debug, Clone)]
pub struct Items<'t> {
    base: JsonRef<'t>,
    next: usize,
    end: usize,
}

impl<'t> Iterator for Items<'t> {
    type Item = JsonRef<'t>;

    fn next(&mut self) -> Option<JsonRef<'t>> {
        if self.next >= self.end {
            return None;
        }
        let item = self.base.at(self.next);
        self.next = item.end();
        Some(item)
    }
}

/// See [`JsonRef::entries`].
#[derive(Debug, Clone)]
pub struct Entries<'t> {
    base: JsonRef<'t>,
    next: usize,
    end: usize,
}

impl<'t> Iterator for Entries<'t> {
    type Item = (&'t str, JsonRef<'t>);

    fn next(&mut self) -> Option<(&'t str, JsonRef<'t>)> {
        if self.next >= self.end {
            return None;
        }
        let key = self.base.at(self.next).as_str().unwrap_or("");
        let value = self.base.at(self.next + 1);
        self.next = value.end();
        Some((key, value))
    }
}

/// A value that is not a container.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Scalar<'a> {
    Null,
    Bool(bool),
    Number(Num),
    String(Cow<'a, str>),
}

/// What a [`Parser`] reports, in document order. A `false` answer stops the
/// parse (it then fails as if the text ended there).
pub(crate) trait Sink<'a> {
    /// A container opens; the answer is kept for its `close`.
    fn open(&mut self, object: bool) -> Option<usize>;
    /// An object member's key; its value follows.
    fn key(&mut self, key: Cow<'a, str>) -> bool;
    fn scalar(&mut self, value: Scalar<'a>) -> bool;
    /// The innermost open container closes after `len` items or members.
    fn close(&mut self, opened: usize, object: bool, len: u32) -> bool;
}

/// Lays the document out as [`JsonTree`] nodes.
struct TreeBuilder<'a> {
    nodes: Vec<Node<'a>>,
}

impl<'a> Sink<'a> for TreeBuilder<'a> {
    fn open(&mut self, object: bool) -> Option<usize> {
        let at = self.nodes.len();
        self.nodes.push(if object {
            Node::Object { len: 0, end: 0 }
        } else {
            Node::Array { len: 0, end: 0 }
        });
        Some(at)
    }

    fn key(&mut self, key: Cow<'a, str>) -> bool {
        self.nodes.push(Node::String(key));
        true
    }

    fn scalar(&mut self, value: Scalar<'a>) -> bool {
        self.nodes.push(match value {
            Scalar::Null => Node::Null,
            Scalar::Bool(b) => Node::Bool(b),
            Scalar::Number(n) => Node::Number(n),
            Scalar::String(s) => Node::String(s),
        });
        true
    }

    fn close(&mut self, opened: usize, object: bool, len: u32) -> bool {
        let end = u32::try_from(self.nodes.len()).unwrap_or(u32::MAX);
        if let Some(node) = self.nodes.get_mut(opened) {
            *node = if object {
                Node::Object { len, end }
            } else {
                Node::Array { len, end }
            };
        }
        true
    }
}

struct Open {
    at: usize,
    len: u32,
    object: bool,
}

/// Reads RFC 8259 JSON and reports it to a [`Sink`]; every reader of a body
/// accepts and refuses exactly the same texts.
pub(crate) struct Parser<'a> {
    text: &'a str,
    bytes: &'a [u8],
    at: usize,
}

/// Bit 7 of each byte of an eight-byte word set where that byte is a quote,
/// a backslash or a control character; the lowest set bit marks the first
/// (a carry may mark a later byte, never an earlier one).
fn string_stop_mask(word: &[u8]) -> u64 {
    const ONES: u64 = 0x0101_0101_0101_0101;
    const HIGHS: u64 = 0x8080_8080_8080_8080;
    let mut bytes = [0u8; 8];
    bytes.copy_from_slice(word);
    let w = u64::from_le_bytes(bytes);
    let zero_byte = |v: u64| v.wrapping_sub(ONES) & !v & HIGHS;
    let quote = zero_byte(w ^ (ONES * u64::from(b'"')));
    let backslash = zero_byte(w ^ (ONES * u64::from(b'\\')));
    let control = w.wrapping_sub(ONES * 0x20) & !w & HIGHS;
    quote | backslash | control
}

impl<'a> Parser<'a> {
    pub(crate) fn new(text: &'a str) -> Self {
        Parser {
            text,
            bytes: text.as_bytes(),
            at: 0,
        }
    }

    fn error<T>(&self) -> Result<T, JsonError> {
        Err(JsonError::Syntax(self.at))
    }

    #[inline(always)]
    fn skip_whitespace(&mut self) {
        while let Some(b' ' | b'\n' | b'\r' | b'\t') = self.bytes.get(self.at) {
            self.at += 1;
        }
    }

    /// Reads the whole text as one JSON document; containers may nest
    /// `max_depth` deep.
    pub(crate) fn document<S: Sink<'a>>(
        mut self,
        max_depth: usize,
        sink: &mut S,
    ) -> Result<(), JsonError> {
        let mut stack: Vec<Open> = Vec::new();
        'value: loop {
            self.skip_whitespace();
            match self.bytes.get(self.at) {
                Some(b'{' | b'[') => {
                    let object = self.bytes.get(self.at) == Some(&b'{');
                    self.at += 1;
                    if stack.len() >= max_depth {
                        return Err(JsonError::TooDeep);
                    }
                    let Some(at) = sink.open(object) else {
                        return self.error();
                    };
                    stack.push(Open { at, len: 0, object });
                    self.skip_whitespace();
                    let close = if object { b'}' } else { b']' };
                    if self.bytes.get(self.at) == Some(&close) {
                        self.at += 1;
                        self.close(&mut stack, sink)?;
                    } else {
                        if object {
                            self.member_key(sink)?;
                        }
                        continue 'value;
                    }
                }
                Some(b'"') => {
                    let s = self.string()?;
                    self.report(sink, Scalar::String(s))?;
                }
                Some(b't') => self.literal("true", Scalar::Bool(true), sink)?,
                Some(b'f') => self.literal("false", Scalar::Bool(false), sink)?,
                Some(b'n') => self.literal("null", Scalar::Null, sink)?,
                Some(b'-' | b'0'..=b'9') => {
                    let n = self.number()?;
                    self.report(sink, Scalar::Number(n))?;
                }
                _ => return self.error(),
            }
            // A value is complete: count it in its container, then read
            // what follows it.
            loop {
                let Some(top) = stack.last_mut() else {
                    self.skip_whitespace();
                    if self.at != self.bytes.len() {
                        return self.error();
                    }
                    return Ok(());
                };
                top.len = top.len.saturating_add(1);
                let object = top.object;
                self.skip_whitespace();
                match self.bytes.get(self.at) {
                    Some(b',') => {
                        self.at += 1;
                        if object {
                            self.member_key(sink)?;
                        }
                        continue 'value;
                    }
                    Some(b'}') if object => {
                        self.at += 1;
                        self.close(&mut stack, sink)?;
                    }
                    Some(b']') if !object => {
                        self.at += 1;
                        self.close(&mut stack, sink)?;
                    }
                    _ => return self.error(),
                }
            }
        }
    }

    #[inline(always)]
    fn report<S: Sink<'a>>(&self, sink: &mut S, value: Scalar<'a>) -> Result<(), JsonError> {
        if sink.scalar(value) {
            Ok(())
        } else {
            self.error()
        }
    }

    fn close<S: Sink<'a>>(&mut self, stack: &mut Vec<Open>, sink: &mut S) -> Result<(), JsonError> {
        match stack.pop() {
            Some(open) if !sink.close(open.at, open.object, open.len) => self.error(),
            _ => Ok(()),
        }
    }

    /// `"key" :` with the whitespace around it.
    #[inline(always)]
    fn member_key<S: Sink<'a>>(&mut self, sink: &mut S) -> Result<(), JsonError> {
        self.skip_whitespace();
        if self.bytes.get(self.at) != Some(&b'"') {
            return self.error();
        }
        let key = self.string()?;
        if !sink.key(key) {
            return self.error();
        }
        self.skip_whitespace();
        if self.bytes.get(self.at) != Some(&b':') {
            return self.error();
        }
        self.at += 1;
        Ok(())
    }

    fn literal<S: Sink<'a>>(
        &mut self,
        word: &str,
        value: Scalar<'a>,
        sink: &mut S,
    ) -> Result<(), JsonError> {
        if self.bytes.get(self.at..self.at + word.len()) == Some(word.as_bytes()) {
            self.at += word.len();
            self.report(sink, value)
        } else {
            self.error()
        }
    }

    /// At the opening quote; leaves `at` past the closing one.
    #[inline(always)]
    fn string(&mut self) -> Result<Cow<'a, str>, JsonError> {
        self.at += 1;
        let start = self.at;
        self.scan_plain();
        match self.bytes.get(self.at) {
            Some(b'"') => {
                let s = self.text.get(start..self.at);
                self.at += 1;
                match s {
                    Some(s) => Ok(Cow::Borrowed(s)),
                    None => self.error(),
                }
            }
            Some(b'\\') => {
                let mut owned = String::with_capacity(self.at - start + 16);
                owned.push_str(self.text.get(start..self.at).unwrap_or(""));
                self.escaped_rest(&mut owned)?;
                Ok(Cow::Owned(owned))
            }
            _ => self.error(),
        }
    }

    /// Moves to the next quote, backslash or control character.
    #[inline(always)]
    fn scan_plain(&mut self) {
        // Short runs are the common case: eight bytes at a time in a word
        // (no vector set-up) for the first few words, then a vector search.
        let first_words_end = self.at + 32;
        while let Some(word) = self
            .bytes
            .get(self.at..self.at + 8)
            .filter(|_| self.at < first_words_end)
        {
            let mask = string_stop_mask(word);
            if mask != 0 {
                self.at += (mask.trailing_zeros() / 8) as usize;
                return;
            }
            self.at += 8;
        }
        let tail = self.bytes.get(self.at..).unwrap_or(&[]);
        let stop = memchr::memchr2(b'"', b'\\', tail).unwrap_or(tail.len());
        let run = tail.get(..stop).unwrap_or(&[]);
        // Branch-free so that it vectorises; a control character is rare.
        let has_control = run.iter().fold(false, |seen, &b| seen | (b < 0x20));
        self.at += if has_control {
            run.iter().position(|&b| b < 0x20).unwrap_or(stop)
        } else {
            stop
        };
    }

    /// At a backslash inside a string; reads to the closing quote.
    fn escaped_rest(&mut self, out: &mut String) -> Result<(), JsonError> {
        loop {
            match self.bytes.get(self.at) {
                Some(b'"') => {
                    self.at += 1;
                    return Ok(());
                }
                Some(b'\\') => {
                    self.at += 1;
                    let Some(&escape) = self.bytes.get(self.at) else {
                        return self.error();
                    };
                    self.at += 1;
                    match escape {
                        b'"' => out.push('"'),
                        b'\\' => out.push('\\'),
                        b'/' => out.push('/'),
                        b'b' => out.push('\u{8}'),
                        b'f' => out.push('\u{c}'),
                        b'n' => out.push('\n'),
                        b'r' => out.push('\r'),
                        b't' => out.push('\t'),
                        b'u' => {
                            let ch = self.unicode_escape()?;
                            out.push(ch);
                        }
                        _ => {
                            self.at -= 1;
                            return self.error();
                        }
                    }
                }
                Some(_) => {
                    let start = self.at;
                    self.scan_plain();
                    if start == self.at {
                        // A control character.
                        return self.error();
                    }
                    match self.text.get(start..self.at) {
                        Some(s) => out.push_str(s),
                        None => return self.error(),
                    }
                }
                None => return self.error(),
            }
        }
    }

    fn hex4(&mut self) -> Result<u32, JsonError> {
        let digits = self
            .text
            .get(self.at..self.at + 4)
            .filter(|d| d.bytes().all(|b| b.is_ascii_hexdigit()));
        match digits.and_then(|d| u32::from_str_radix(d, 16).ok()) {
            Some(v) => {
                self.at += 4;
                Ok(v)
            }
            None => self.error(),
        }
    }

    /// After `\u`: one code point, joining a surrogate pair.
    fn unicode_escape(&mut self) -> Result<char, JsonError> {
        let first = self.hex4()?;
        let code = match first {
            0xD800..=0xDBFF => {
                if self.bytes.get(self.at..self.at + 2) != Some(b"\\u") {
                    return self.error();
                }
                self.at += 2;
                let second = self.hex4()?;
                if !(0xDC00..=0xDFFF).contains(&second) {
                    return self.error();
                }
                0x10000 + ((first - 0xD800) << 10) + (second - 0xDC00)
            }
            0xDC00..=0xDFFF => return self.error(),
            other => other,
        };
        match char::from_u32(code) {
            Some(c) => Ok(c),
            None => self.error(),
        }
    }

    fn digits(&mut self) -> usize {
        let start = self.at;
        while let Some(b'0'..=b'9') = self.bytes.get(self.at) {
            self.at += 1;
        }
        self.at - start
    }

    #[inline(always)]
    fn number(&mut self) -> Result<Num, JsonError> {
        let start = self.at;
        let negative = self.bytes.get(self.at) == Some(&b'-');
        if negative {
            self.at += 1;
        }
        match self.bytes.get(self.at) {
            Some(b'0') => self.at += 1,
            Some(b'1'..=b'9') => {
                self.digits();
            }
            _ => return self.error(),
        }
        let mut float = false;
        let mut fraction_digits = 0;
        if self.bytes.get(self.at) == Some(&b'.') {
            self.at += 1;
            fraction_digits = self.digits();
            if fraction_digits == 0 {
                return self.error();
            }
            float = true;
        }
        let exponent = matches!(self.bytes.get(self.at), Some(b'e' | b'E'));
        if float && !exponent {
            if let Some(f) =
                short_decimal(self.text.get(start..self.at).unwrap_or(""), fraction_digits)
            {
                return Ok(Num::Float(f));
            }
        }
        if exponent {
            self.at += 1;
            if let Some(b'+' | b'-') = self.bytes.get(self.at) {
                self.at += 1;
            }
            if self.digits() == 0 {
                return self.error();
            }
            float = true;
        }
        let text = self.text.get(start..self.at).unwrap_or("");
        let integer_digits = text.len() - usize::from(negative);
        if !float && integer_digits <= 18 {
            // Cannot overflow: below 10^18 either way.
            let magnitude = text
                .bytes()
                .skip(usize::from(negative))
                .fold(0u64, |n, b| n * 10 + u64::from(b - b'0'));
            return Ok(match (negative, i64::try_from(magnitude)) {
                (false, _) => Num::Unsigned(magnitude),
                // `-0` is a float to serde_json.
                (true, Ok(0)) => Num::Float(-0.0),
                (true, Ok(m)) => Num::Negative(-m),
                (true, Err(_)) => return Err(JsonError::Syntax(start)),
            });
        }
        if !float {
            if negative {
                if let Ok(i) = text.parse::<i64>() {
                    // `-0` is a float to serde_json.
                    return Ok(if i == 0 {
                        Num::Float(-0.0)
                    } else {
                        Num::Negative(i)
                    });
                }
            } else if let Ok(u) = text.parse::<u64>() {
                return Ok(Num::Unsigned(u));
            }
        }
        match text.parse::<f64>() {
            Ok(f) if f.is_finite() => Ok(Num::Float(f)),
            _ => Err(JsonError::Syntax(start)),
        }
    }
}

/// `123.45` with at most 15 significant digits: the digits as an integer
/// divided by a power of ten. Both are exact doubles, so the one division is
/// correctly rounded, the same result as a full decimal parse.
fn short_decimal(text: &str, fraction_digits: usize) -> Option<f64> {
    const POWERS: [f64; 16] = [
        1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11, 1e12, 1e13, 1e14, 1e15,
    ];
    let (negative, digits) = match text.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, text),
    };
    if digits.len() > 16 {
        return None;
    }
    let mut mantissa: u64 = 0;
    for b in digits.bytes() {
        if b != b'.' {
            mantissa = mantissa * 10 + u64::from(b - b'0');
        }
    }
    let f = mantissa as f64 / POWERS.get(fraction_digits)?;
    Some(if negative { -f } else { f })
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn same_as_serde(text: &str) {
        let ours = JsonTree::parse(text, 10_000).map(|t| t.root().to_value());
        let theirs = serde_json::from_str::<Value>(text);
        match (&ours, &theirs) {
            (Ok(a), Ok(b)) => assert_eq!(a, b, "{text:?}"),
            (Err(_), Err(_)) => {}
            _ => panic!("{text:?}: ours {ours:?}, serde_json {theirs:?}"),
        }
    }

    #[test]
    fn agrees_with_serde_json_on_edge_cases() {
        for text in [
            "0",
            "-0",
            "-0.0",
            "1e400",
            "-1e400",
            "1E+2",
            "1e-2",
            "01",
            "1.",
            ".5",
            "-",
            "+1",
            "18446744073709551615",
            "18446744073709551616",
            "-9223372036854775808",
            "-9223372036854775809",
            "123456789012345678901234567890",
            r#""\ud83d\ude00""#,
            r#""\ud83d""#,
            r#""\ude00""#,
            r#""\ud83dx""#,
            r#""\u00e9\n\t\"\\\/\b\f\r""#,
            r#""\x""#,
            "\"a\u{1}b\"",
            "\"tab\there\"",
            r#""é€😀""#,
            "[1,2,]",
            "[,1]",
            "{\"a\":1,}",
            "{\"a\" 1}",
            "{1:2}",
            "{}",
            "[]",
            " [ ] ",
            "[[[]]]",
            "{\"a\":{\"b\":[1,{\"c\":null}]},\"d\":true}",
            "true false",
            "nul",
            "truex",
            "",
            "   ",
            "[1]x",
            "{\"a\":1}}",
            "\u{feff}{}",
        ] {
            same_as_serde(text);
        }
    }

    #[test]
    fn short_decimals_parse_exactly_like_the_standard_library() {
        for text in [
            "0.1",
            "0.2",
            "0.3",
            "10.5",
            "-10.5",
            "588.98",
            "1.7976931348623",
            "0.000000000000001",
            "123456789012345.6",
            "9007199254740.993",
            "-0.0",
            "0.0000000000000001",
            "3.14159265358979",
        ] {
            let tree = JsonTree::parse(text, 1).unwrap();
            let ours = tree.root().as_num().unwrap().as_f64();
            let std: f64 = text.parse().unwrap();
            assert_eq!(ours.to_bits(), std.to_bits(), "{text}");
        }
    }

    #[test]
    fn keeps_duplicate_members_and_reads_the_last() {
        let tree = JsonTree::parse(r#"{"role":"user","x":1,"role":"admin"}"#, 8).unwrap();
        let root = tree.root();
        assert_eq!(root.len(), 3);
        let roles: Vec<&str> = root
            .entries()
            .filter(|(k, _)| *k == "role")
            .filter_map(|(_, v)| v.as_str())
            .collect();
        assert_eq!(roles, ["user", "admin"]);
        assert_eq!(root.get("role").and_then(JsonRef::as_str), Some("admin"));
        assert_eq!(root.to_value(), serde_json::json!({"role":"admin","x":1}));
    }

    #[test]
    fn nesting_is_limited_without_recursion() {
        let deep = "[".repeat(100_000) + &"]".repeat(100_000);
        assert_eq!(JsonTree::parse(&deep, 64).unwrap_err(), JsonError::TooDeep);
        let tree = JsonTree::parse(&deep, 200_000).unwrap();
        // Conversion is iterative too.
        let mut v = tree.root().to_value();
        let mut depth = 0;
        while let Value::Array(mut items) = v {
            depth += 1;
            v = items.pop().unwrap_or(Value::Null);
        }
        assert_eq!(depth, 100_000);
        assert_eq!(JsonTree::parse("[[1]]", 2).map(|_| ()), Ok(()));
        assert_eq!(
            JsonTree::parse("[[[1]]]", 2).unwrap_err(),
            JsonError::TooDeep
        );
    }

    #[test]
    fn invalid_utf8_is_refused() {
        assert!(JsonTree::parse_bytes(b"\"\xff\"", 8).is_err());
        assert!(JsonTree::parse_bytes(b"\"\xc3\xa9\"", 8).is_ok());
    }

    #[test]
    fn iterates_items_and_entries_in_document_order() {
        let tree = JsonTree::parse(r#"{"z":[1,[2,3],{"a":4}],"b":"x"}"#, 8).unwrap();
        let root = tree.root();
        let keys: Vec<&str> = root.entries().map(|(k, _)| k).collect();
        assert_eq!(keys, ["z", "b"]);
        let z = root.get("z").unwrap();
        assert_eq!(z.kind(), Kind::Array);
        let kinds: Vec<Kind> = z.items().map(JsonRef::kind).collect();
        assert_eq!(kinds, [Kind::Number, Kind::Array, Kind::Object]);
        assert_eq!(root.get("b").and_then(JsonRef::as_str), Some("x"));
        assert!(root.get("missing").is_none());
    }

    fn arbitrary_json() -> impl Strategy<Value = Value> {
        let leaf = prop_oneof![
            Just(Value::Null),
            any::<bool>().prop_map(Value::Bool),
            any::<i64>().prop_map(Value::from),
            any::<u64>().prop_map(Value::from),
            any::<f64>()
                .prop_filter("finite", |f| f.is_finite())
                .prop_map(Value::from),
            ".{0,12}".prop_map(Value::String),
        ];
        leaf.prop_recursive(5, 64, 6, |inner| {
            prop_oneof![
                prop::collection::vec(inner.clone(), 0..6).prop_map(Value::Array),
                prop::collection::btree_map(".{0,6}", inner, 0..6)
                    .prop_map(|m| Value::Object(m.into_iter().collect())),
            ]
        })
    }

    proptest! {
        #[test]
        fn round_trips_what_serde_json_writes(value in arbitrary_json(), pretty in any::<bool>()) {
            let text = if pretty {
                serde_json::to_string_pretty(&value).unwrap()
            } else {
                serde_json::to_string(&value).unwrap()
            };
            let tree = JsonTree::parse(&text, 64).unwrap();
            prop_assert_eq!(tree.root().to_value(), value);
        }

        #[test]
        fn decimals_match_the_standard_library(int in 0u64..10_000_000, frac in "[0-9]{1,9}", neg in any::<bool>()) {
            let text = format!("{}{int}.{frac}", if neg { "-" } else { "" });
            let tree = JsonTree::parse(&text, 1).unwrap();
            let ours = tree.root().as_num().unwrap().as_f64();
            let std: f64 = text.parse().unwrap();
            prop_assert_eq!(ours.to_bits(), std.to_bits(), "{}", text);
        }

        #[test]
        fn accepts_and_refuses_what_serde_json_does(bytes in prop::collection::vec(
            prop_oneof![
                Just(b'{'), Just(b'}'), Just(b'['), Just(b']'), Just(b'"'), Just(b':'),
                Just(b','), Just(b'\\'), Just(b'u'), Just(b'1'), Just(b'0'), Just(b'-'),
                Just(b'.'), Just(b'e'), Just(b' '), Just(b'a'), Just(b'n'), Just(b't'),
                any::<u8>(),
            ],
            0..40,
        )) {
            let ours = JsonTree::parse_bytes(&bytes, 1_000).map(|t| t.root().to_value());
            let theirs = serde_json::from_slice::<Value>(&bytes);
            prop_assert_eq!(ours.is_ok(), theirs.is_ok(), "{:?}", String::from_utf8_lossy(&bytes));
            if let (Ok(a), Ok(b)) = (ours, theirs) {
                prop_assert_eq!(a, b);
            }
        }

        /// A string's first quote, backslash or control character is found
        /// wherever it sits: in the first words, past them, or in the tail.
        #[test]
        fn strings_stop_where_serde_json_does(
            text in "[a-z0-9 é€😀]{0,90}",
            at in 0usize..100,
            stop in prop_oneof![Just(b'"'), Just(b'\\'), 0u8..0x20, Just(b'a')],
        ) {
            let mut bytes = text.into_bytes();
            let at = at.min(bytes.len());
            bytes.insert(at, stop);
            let mut doc = vec![b'"'];
            doc.extend_from_slice(&bytes);
            doc.push(b'"');
            let ours = JsonTree::parse_bytes(&doc, 8).map(|t| t.root().to_value());
            let theirs = serde_json::from_slice::<Value>(&doc);
            prop_assert_eq!(ours.is_ok(), theirs.is_ok(), "{:?}", String::from_utf8_lossy(&doc));
            if let (Ok(a), Ok(b)) = (ours, theirs) {
                prop_assert_eq!(a, b);
            }
        }
    }
}
