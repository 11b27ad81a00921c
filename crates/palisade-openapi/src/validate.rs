//! The schema validator: walks a JSON value against compiled nodes.
//!
//! It reads values through [`Instance`], implemented by `serde_json::Value`
//! (parameters, form fields, responses that may be stripped) and by the
//! borrowed [`JsonTree`](crate::json_tree::JsonTree) request bodies are parsed
//! into, which costs a fraction of building a `Value`.
//!
//! Locations are built in a reusable string buffer (`$.items[3].price`) and only
//! copied when a violation is recorded. Branch trials (`anyOf`, `oneOf`, `not`,
//! `if`) run with recording suppressed and stop at the first failure.
//!
//! Strict mode ("unknown properties refused"): at every instance location, when
//! the schemas applied there declare properties and none leaves the object open
//! (`additionalProperties`/`unevaluatedProperties` true or a schema), a property
//! none of them evaluated is a violation, as if `unevaluatedProperties: false`
//! were written at that location. Free-form objects (no declared properties)
//! stay free-form.

use crate::json_tree::{JsonRef, Kind, Num, Scalar};
use crate::schema::{Extra, SchemaArena, SchemaId, SchemaNode, TypeSet};
use serde_json::{Map, Value};

/// A JSON value the validator can read, by copy.
pub(crate) trait Instance<'v>: Copy {
    fn kind(self) -> Kind;
    fn as_str(self) -> Option<&'v str>;
    fn as_bool(self) -> Option<bool>;
    fn as_num(self) -> Option<Num>;
    /// Items of an array or members of an object.
    fn len(self) -> usize;
    fn items(self) -> impl Iterator<Item = Self>;
    /// Members in a stable order; a tree keeps duplicate keys.
    fn entries(self) -> impl Iterator<Item = (&'v str, Self)>;
    /// The member named `key` (of duplicates, the last).
    fn get(self, key: &str) -> Option<Self>;
    /// The `serde_json::Value` behind this instance, if it is one:
    /// coercion of string-typed parameters works on those.
    fn as_value(self) -> Option<&'v Value>;
    fn to_value(self) -> Value;
}

impl<'v> Instance<'v> for &'v Value {
    fn kind(self) -> Kind {
        match self {
            Value::Null => Kind::Null,
            Value::Bool(_) => Kind::Bool,
            Value::Number(_) => Kind::Number,
            Value::String(_) => Kind::String,
            Value::Array(_) => Kind::Array,
            Value::Object(_) => Kind::Object,
        }
    }
    fn as_str(self) -> Option<&'v str> {
        Value::as_str(self)
    }
    fn as_bool(self) -> Option<bool> {
        Value::as_bool(self)
    }
    fn as_num(self) -> Option<Num> {
        match self {
            Value::Number(n) => Some(Num::of(n)),
            _ => None,
        }
    }
    fn len(self) -> usize {
        match self {
            Value::Array(items) => items.len(),
            Value::Object(map) => map.len(),
            _ => 0,
        }
    }
    fn items(self) -> impl Iterator<Item = Self> {
        self.as_array().into_iter().flatten()
    }
    fn entries(self) -> impl Iterator<Item = (&'v str, Self)> {
        self.as_object()
            .into_iter()
            .flatten()
            .map(|(k, v)| (k.as_str(), v))
    }
    fn get(self, key: &str) -> Option<Self> {
        self.as_object().and_then(|m| m.get(key))
    }
    fn as_value(self) -> Option<&'v Value> {
        Some(self)
    }
    fn to_value(self) -> Value {
        self.clone()
    }
}

impl<'v> Instance<'v> for JsonRef<'v> {
    fn kind(self) -> Kind {
        JsonRef::kind(self)
    }
    fn as_str(self) -> Option<&'v str> {
        JsonRef::as_str(self)
    }
    fn as_bool(self) -> Option<bool> {
        JsonRef::as_bool(self)
    }
    fn as_num(self) -> Option<Num> {
        JsonRef::as_num(self)
    }
    fn len(self) -> usize {
        JsonRef::len(self)
    }
    fn items(self) -> impl Iterator<Item = Self> {
        JsonRef::items(self)
    }
    fn entries(self) -> impl Iterator<Item = (&'v str, Self)> {
        JsonRef::entries(self)
    }
    fn get(self, key: &str) -> Option<Self> {
        JsonRef::get(self, key)
    }
    fn as_value(self) -> Option<&'v Value> {
        None
    }
    fn to_value(self) -> Value {
        JsonRef::to_value(self)
    }
}

impl<'v> Instance<'v> for &'v Scalar<'_> {
    fn kind(self) -> Kind {
        match self {
            Scalar::Null => Kind::Null,
            Scalar::Bool(_) => Kind::Bool,
            Scalar::Number(_) => Kind::Number,
            Scalar::String(_) => Kind::String,
        }
    }
    fn as_str(self) -> Option<&'v str> {
        match self {
            Scalar::String(s) => Some(s.as_ref()),
            _ => None,
        }
    }
    fn as_bool(self) -> Option<bool> {
        match self {
            Scalar::Bool(b) => Some(*b),
            _ => None,
        }
    }
    fn as_num(self) -> Option<Num> {
        match self {
            Scalar::Number(n) => Some(*n),
            _ => None,
        }
    }
    fn len(self) -> usize {
        0
    }
    fn items(self) -> impl Iterator<Item = Self> {
        std::iter::empty()
    }
    fn entries(self) -> impl Iterator<Item = (&'v str, Self)> {
        std::iter::empty()
    }
    fn get(self, _key: &str) -> Option<Self> {
        None
    }
    fn as_value(self) -> Option<&'v Value> {
        None
    }
    fn to_value(self) -> Value {
        match self {
            Scalar::Null => Value::Null,
            Scalar::Bool(b) => Value::Bool(*b),
            Scalar::Number(n) => n.to_value(),
            Scalar::String(s) => Value::String(s.as_ref().to_owned()),
        }
    }
}

/// Deepest chain of schema applications followed for one value.
const MAX_APPLICATION_DEPTH: u32 = 512;

/// Schema applications allowed for one validation. Nested `oneOf`/`anyOf`
/// trials re-validate subtrees, so a recursive schema could make the work
/// exponential in the nesting of the value; past this budget the value is
/// refused as too complex.
const MAX_STEPS: u64 = 250_000;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Direction {
    Request,
    Response,
}

#[derive(Debug, Clone, Copy)]
pub(crate) struct Options {
    pub(crate) direction: Direction,
    pub(crate) strict: bool,
    /// Values come from strings (parameters, form fields): `"5"` may be an integer.
    pub(crate) coerce: bool,
    pub(crate) max_errors: usize,
}

/// What kind of rule a violation broke.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ViolationKind {
    /// A JSON Schema or OpenAPI constraint.
    Schema,
    /// A property the schema does not declare.
    UnknownProperty,
    /// A `readOnly` property sent in a request.
    ReadOnly,
    /// A `writeOnly` property returned in a response.
    WriteOnly,
    /// The value needed more validation work than allowed.
    Complexity,
}

/// One failed constraint, with where it failed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Violation {
    /// JSONPath-like location below the validated value (`$.items[3].price`).
    pub location: String,
    /// The keyword that failed (`maximum`, `required`, `additionalProperties`...).
    pub keyword: &'static str,
    pub kind: ViolationKind,
    /// Short excerpt of the offending value, for events (redact before use);
    /// never part of a response.
    pub evidence: String,
}

/// Strings and scalars as they are (cut to 96 characters); containers by size.
fn excerpt<'v, I: Instance<'v>>(value: I) -> String {
    match value.kind() {
        Kind::String => value.as_str().unwrap_or("").chars().take(96).collect(),
        Kind::Array => format!("array of {} items", value.len()),
        Kind::Object => format!("object with {} properties", value.len()),
        Kind::Number => value
            .as_num()
            .map(Num::to_value)
            .unwrap_or_default()
            .to_string(),
        Kind::Bool => value.as_bool().unwrap_or_default().to_string(),
        Kind::Null => "null".to_owned(),
    }
}

/// What the value keywords of one schema concluded.
enum Keywords {
    Passed,
    /// Violated, recorded, and validation goes on.
    Failed,
    /// Violated and validation must stop (a type mismatch, or enough errors).
    Stop,
}

/// Which properties of the object at the current location some applied
/// schema evaluated.
pub(crate) struct Eval {
    inline: u128,
    heap: Vec<u64>,
    pub(crate) declares: bool,
    pub(crate) open: bool,
}

impl Eval {
    pub(crate) fn new<'v, I: Instance<'v>>(value: I) -> Eval {
        let len = if value.kind() == Kind::Object {
            value.len()
        } else {
            0
        };
        Eval {
            inline: 0,
            heap: if len > 128 {
                vec![0; len.div_ceil(64)]
            } else {
                Vec::new()
            },
            declares: false,
            open: false,
        }
    }

    fn mark(&mut self, index: usize) {
        if self.heap.is_empty() {
            if index < 128 {
                self.inline |= 1u128 << index;
            }
        } else if let Some(word) = self.heap.get_mut(index / 64) {
            *word |= 1u64 << (index % 64);
        }
    }

    pub(crate) fn is_marked(&self, index: usize) -> bool {
        if self.heap.is_empty() {
            index < 128 && self.inline & (1u128 << index) != 0
        } else {
            self.heap
                .get(index / 64)
                .is_some_and(|w| w & (1u64 << (index % 64)) != 0)
        }
    }

    fn merge(&mut self, other: &Eval) {
        self.inline |= other.inline;
        for (a, b) in self.heap.iter_mut().zip(other.heap.iter()) {
            *a |= *b;
        }
        self.declares |= other.declares;
        self.open |= other.open;
    }
}

pub(crate) struct Validator<'a> {
    arena: &'a SchemaArena,
    options: Options,
    path: String,
    pub(crate) errors: Vec<Violation>,
    suppressed: u32,
    depth: u32,
    /// Schemas being applied, innermost last; those from `active_base` on
    /// apply at the current instance location (cycle guard).
    active: Vec<SchemaId>,
    active_base: usize,
    steps: u64,
}

impl<'a> Validator<'a> {
    pub(crate) fn new(arena: &'a SchemaArena, options: Options) -> Self {
        Validator {
            arena,
            options,
            path: {
                let mut path = String::with_capacity(96);
                path.push('$');
                path
            },
            errors: Vec::new(),
            suppressed: 0,
            depth: 0,
            active: Vec::with_capacity(16),
            active_base: 0,
            steps: 0,
        }
    }

    /// A validator that records nothing, for callers that need only the
    /// verdict of [`Validator::accepts_scalar`].
    pub(crate) fn quiet(arena: &'a SchemaArena, options: Options) -> Self {
        Validator {
            arena,
            options,
            path: String::new(),
            errors: Vec::new(),
            suppressed: 1,
            depth: 0,
            active: Vec::new(),
            active_base: 0,
            steps: 0,
        }
    }

    /// Whether a scalar satisfies a schema without applicators (`leaf`): its
    /// value keywords, as [`Validator::validate`] checks them.
    pub(crate) fn accepts_scalar<'v, I: Instance<'v>>(
        &mut self,
        node: &SchemaNode,
        value: I,
    ) -> bool {
        (value.kind() == Kind::Null && node.nullable)
            || matches!(self.value_keywords(node, value), Keywords::Passed)
    }

    /// Options for the next [`Validator::validate`], keeping the buffers.
    pub(crate) fn set_options(&mut self, options: Options) {
        self.options = options;
    }

    /// Validates a whole value; violations are added to `self.errors`. Each
    /// call starts afresh (its own step budget), so one validator can check
    /// several values in turn.
    pub(crate) fn validate<'v, I: Instance<'v>>(&mut self, id: SchemaId, value: I) -> bool {
        self.path.clear();
        self.path.push('$');
        self.suppressed = 0;
        self.depth = 0;
        self.active.clear();
        self.active_base = 0;
        self.steps = 0;
        let ok = self.check_location(id, value);
        if self.steps > MAX_STEPS {
            self.path.truncate(1);
            self.errors.clear();
            self.record("complexity", ViolationKind::Complexity);
            return false;
        }
        ok
    }

    /// True when `value` is valid, recording nothing.
    pub(crate) fn is_valid<'v, I: Instance<'v>>(&mut self, id: SchemaId, value: I) -> bool {
        self.suppressed += 1;
        let mut eval = Eval::new(value);
        let ok = self.check(id, value, &mut eval);
        self.suppressed -= 1;
        ok
    }

    fn record(&mut self, keyword: &'static str, kind: ViolationKind) -> bool {
        self.record_with(keyword, kind, String::new)
    }

    /// Records a violation about `value`, keeping a short excerpt of it.
    fn record_value<'v, I: Instance<'v>>(
        &mut self,
        keyword: &'static str,
        kind: ViolationKind,
        value: I,
    ) -> bool {
        self.record_with(keyword, kind, || excerpt(value))
    }

    fn record_with(
        &mut self,
        keyword: &'static str,
        kind: ViolationKind,
        evidence: impl FnOnce() -> String,
    ) -> bool {
        if self.suppressed > 0 {
            return false;
        }
        if self.errors.len() < self.options.max_errors {
            self.errors.push(Violation {
                location: self.path.clone(),
                keyword,
                kind,
                evidence: evidence(),
            });
        }
        self.errors.len() < self.options.max_errors
    }

    fn push_key(&mut self, key: &str) -> usize {
        let len = self.path.len();
        push_key(&mut self.path, key);
        len
    }

    fn push_index(&mut self, index: usize) -> usize {
        let len = self.path.len();
        self.path.push('[');
        self.path.push_str(itoa(index).as_str());
        self.path.push(']');
        len
    }

    /// A new instance location: applies `id` and then the strict check.
    /// The schema a bare `$ref` chain ends at.
    fn resolve_alias(&self, mut id: SchemaId) -> SchemaId {
        for _ in 0..8 {
            match self.arena.node(id).alias {
                Some(target) => id = target,
                None => break,
            }
        }
        id
    }

    /// True when `value` is a scalar that a leaf schema accepts, found
    /// without recording anything and so without building its location:
    /// most values of a valid body take only this path. False means "not
    /// known valid": the caller validates at the value's location.
    fn leaf_passes<'v, I: Instance<'v>>(&mut self, id: SchemaId, value: I) -> bool {
        let node = self.arena.node(self.resolve_alias(id));
        if !node.leaf || self.options.coerce || matches!(value.kind(), Kind::Object | Kind::Array) {
            return false;
        }
        self.suppressed += 1;
        let ok = self.check_leaf(node, value);
        self.suppressed -= 1;
        ok
    }

    fn check_location<'v, I: Instance<'v>>(&mut self, id: SchemaId, value: I) -> bool {
        // A schema that is only a `$ref` validates as its target.
        let id = self.resolve_alias(id);
        let node = self.arena.node(id);
        if node.leaf && !self.options.coerce && !matches!(value.kind(), Kind::Object | Kind::Array)
        {
            return self.check_leaf(node, value);
        }
        let saved = std::mem::replace(&mut self.active_base, self.active.len());
        let mut eval = Eval::new(value);
        let mut ok = self.check(id, value, &mut eval);
        if (ok || self.suppressed == 0) && self.options.strict {
            ok &= self.strict_check(value, &eval);
        }
        self.active_base = saved;
        ok
    }

    fn strict_check<'v, I: Instance<'v>>(&mut self, value: I, eval: &Eval) -> bool {
        if value.kind() != Kind::Object || !eval.declares || eval.open {
            return true;
        }
        let mut ok = true;
        for (i, (key, item)) in value.entries().enumerate() {
            if !eval.is_marked(i) {
                ok = false;
                let mark = self.push_key(key);
                let go_on =
                    self.record_value("additionalProperties", ViolationKind::UnknownProperty, item);
                self.path.truncate(mark);
                if !go_on {
                    break;
                }
            }
        }
        ok
    }

    fn check<'v, I: Instance<'v>>(&mut self, id: SchemaId, value: I, eval: &mut Eval) -> bool {
        self.steps += 1;
        if self.steps > MAX_STEPS {
            return false;
        }
        if self
            .active
            .get(self.active_base..)
            .is_some_and(|here| here.contains(&id))
        {
            return true;
        }
        if self.depth >= MAX_APPLICATION_DEPTH {
            return self.record("$ref", ViolationKind::Schema);
        }
        self.active.push(id);
        self.depth += 1;
        let ok = self.check_node(id, value, eval);
        self.depth -= 1;
        self.active.pop();
        ok
    }

    fn check_node<'v, I: Instance<'v>>(
        &mut self,
        id: SchemaId,
        value: I,
        outer_eval: &mut Eval,
    ) -> bool {
        let node = self.arena.node(id);
        if node.never {
            return self.record("false", ViolationKind::Schema);
        }
        if self.options.coerce {
            if let Some(coerced) = value.as_value().and_then(|v| coerce(node, v)) {
                return self.check_node_as_is(node, &coerced, outer_eval);
            }
        }
        self.check_node_as_is(node, value, outer_eval)
    }

    fn check_node_as_is<'v, I: Instance<'v>>(
        &mut self,
        node: &'a SchemaNode,
        value: I,
        outer_eval: &mut Eval,
    ) -> bool {
        if value.kind() == Kind::Null && node.nullable {
            return true;
        }
        let mut local_eval = (node.unevaluated != Extra::Unspecified).then(|| Eval::new(value));
        let eval: &mut Eval = match local_eval.as_mut() {
            Some(local) => local,
            None => &mut *outer_eval,
        };
        let mut ok = true;
        macro_rules! fail {
            ($keyword:expr) => {{
                ok = false;
                if !self.record_value($keyword, ViolationKind::Schema, value) {
                    return false;
                }
            }};
        }
        if let Some(target) = node.reference {
            if !self.check(target, value, eval) {
                ok = false;
                if self.suppressed > 0 || self.errors.len() >= self.options.max_errors {
                    return false;
                }
            }
        }
        match self.value_keywords(node, value) {
            Keywords::Stop => return false,
            Keywords::Failed => ok = false,
            Keywords::Passed => {}
        }
        match value.kind() {
            Kind::Array if !self.check_array(node, value) => {
                ok = false;
                if self.suppressed > 0 {
                    return false;
                }
            }
            Kind::Object if !self.check_object(node, value, eval) => {
                ok = false;
                if self.suppressed > 0 {
                    return false;
                }
            }
            _ => {}
        }
        for child in &node.all_of {
            if !self.check(*child, value, eval) {
                ok = false;
                if self.suppressed > 0 {
                    return false;
                }
            }
        }
        let tagged_target = || {
            let d = node.discriminator.as_ref()?;
            let tag = value.get(&d.property)?.as_str()?;
            d.mapping.iter().find(|(v, _)| v == tag).map(|(_, t)| *t)
        };
        let is_object = value.kind() == Kind::Object;
        let dispatched = match &node.discriminator {
            Some(d)
                if is_object
                    && (!node.one_of.is_empty() || !node.any_of.is_empty())
                    && (d.explicit || tagged_target().is_some()) =>
            {
                let target = tagged_target();
                match target {
                    Some(t) => {
                        if !self.check(t, value, eval) {
                            ok = false;
                            if self.suppressed > 0 {
                                return false;
                            }
                        }
                    }
                    None => {
                        let mark = self.push_key(&d.property);
                        let go_on = self.record("discriminator", ViolationKind::Schema);
                        self.path.truncate(mark);
                        if !go_on {
                            return false;
                        }
                        ok = false;
                    }
                }
                true
            }
            Some(d) if is_object => {
                // Inheritance style: the base names its subtypes.
                if let Some(tag) = value.get(&d.property).and_then(|t| t.as_str()) {
                    if let Some((_, t)) = d.mapping.iter().find(|(v, _)| v == tag) {
                        if !self.check(*t, value, eval) {
                            ok = false;
                            if self.suppressed > 0 {
                                return false;
                            }
                        }
                    }
                }
                true
            }
            _ => false,
        };
        if !dispatched {
            if !node.any_of.is_empty() {
                let mut any = false;
                for child in &node.any_of {
                    let mut branch = Eval::new(value);
                    if self.trial(*child, value, &mut branch) {
                        any = true;
                        eval.merge(&branch);
                    }
                }
                if !any {
                    fail!("anyOf");
                }
            }
            if !node.one_of.is_empty() && !self.check_one_of(&node.one_of, value, eval) {
                fail!("oneOf");
            }
        }
        if let Some(not) = node.not {
            let mut scratch = Eval::new(value);
            if self.trial(not, value, &mut scratch) {
                fail!("not");
            }
        }
        if let Some((condition, then, otherwise)) = node.condition {
            let mut branch = Eval::new(value);
            let chosen = if self.trial(condition, value, &mut branch) {
                eval.merge(&branch);
                then
            } else {
                otherwise
            };
            if let Some(chosen) = chosen {
                if !self.check(chosen, value, eval) {
                    ok = false;
                    if self.suppressed > 0 {
                        return false;
                    }
                }
            }
        }
        if node.unevaluated != Extra::Unspecified {
            if is_object {
                for (i, (key, item)) in value.entries().enumerate() {
                    if eval.is_marked(i) {
                        continue;
                    }
                    let mark = self.push_key(key);
                    let item_ok = match node.unevaluated {
                        Extra::Deny => {
                            self.record("unevaluatedProperties", ViolationKind::UnknownProperty)
                        }
                        Extra::Schema(s) => self.check_location(s, item),
                        _ => true,
                    };
                    self.path.truncate(mark);
                    if !item_ok {
                        ok = false;
                        if self.suppressed > 0 || self.errors.len() >= self.options.max_errors {
                            return false;
                        }
                    }
                    eval.mark(i);
                }
            }
            eval.open |= matches!(node.unevaluated, Extra::Allow | Extra::Schema(_));
            eval.declares = true;
        }
        if let Some(local) = local_eval {
            outer_eval.merge(&local);
        }
        ok
    }

    /// The keywords about the value itself: `type`, `const`, `enum` and the
    /// numeric and string constraints.
    fn value_keywords<'v, I: Instance<'v>>(&mut self, node: &SchemaNode, value: I) -> Keywords {
        let mut ok = true;
        macro_rules! fail {
            ($keyword:expr) => {{
                ok = false;
                if !self.record_value($keyword, ViolationKind::Schema, value) {
                    return Keywords::Stop;
                }
            }};
        }
        if let Some(types) = node.types {
            if !type_matches(types, value, node.nullable) {
                self.record_value("type", ViolationKind::Schema, value);
                return Keywords::Stop;
            }
        }
        if let Some(constant) = &node.constant {
            if !json_equal(constant, value) {
                fail!("const");
            }
        }
        if let Some(values) = &node.enumeration {
            if !(values.iter().any(|v| json_equal(v, value))
                || value.kind() == Kind::Null && node.nullable)
            {
                fail!("enum");
            }
        }
        match value.kind() {
            Kind::Number => {
                let n = value.as_num().unwrap_or(Num::Float(f64::NAN));
                {
                    let f = n.as_f64();
                    if node.minimum.is_some_and(|m| f < m) {
                        fail!("minimum");
                    }
                    if node.maximum.is_some_and(|m| f > m) {
                        fail!("maximum");
                    }
                    if node.exclusive_minimum.is_some_and(|m| f <= m) {
                        fail!("exclusiveMinimum");
                    }
                    if node.exclusive_maximum.is_some_and(|m| f >= m) {
                        fail!("exclusiveMaximum");
                    }
                    if let Some(m) = node.multiple_of {
                        let q = f / m;
                        if !q.is_finite() || (q - q.round()).abs() > 1e-9 * q.abs().max(1.0) {
                            fail!("multipleOf");
                        }
                    }
                }
                if let Some(format) = node.format {
                    if !format.check_number(n) {
                        fail!("format");
                    }
                }
            }
            Kind::String => {
                let s = value.as_str().unwrap_or("");
                if node.min_length.is_some() || node.max_length.is_some() {
                    // Lengths count characters, each one to four bytes: the
                    // byte length alone decides unless it falls in between.
                    let bytes = s.len();
                    let fewest = bytes.div_ceil(4);
                    let mut counted = None;
                    let mut chars = || *counted.get_or_insert_with(|| s.chars().count());
                    if node
                        .min_length
                        .is_some_and(|m| bytes < m || (fewest < m && chars() < m))
                    {
                        fail!("minLength");
                    }
                    if node
                        .max_length
                        .is_some_and(|m| fewest > m || (bytes > m && chars() > m))
                    {
                        fail!("maxLength");
                    }
                }
                if let Some(pattern) = &node.pattern {
                    if !pattern.is_match(s) {
                        fail!("pattern");
                    }
                }
                if let Some(format) = node.format {
                    if !format.check_string(s) {
                        fail!("format");
                    }
                }
            }
            _ => {}
        }
        if ok {
            Keywords::Passed
        } else {
            Keywords::Failed
        }
    }

    /// A schema without applicators (`$ref`, `allOf`, `oneOf`...) against a
    /// scalar: only the value keywords apply, with no evaluation bookkeeping.
    fn check_leaf<'v, I: Instance<'v>>(&mut self, node: &SchemaNode, value: I) -> bool {
        self.steps += 1;
        if self.steps > MAX_STEPS {
            return false;
        }
        if node.never {
            return self.record("false", ViolationKind::Schema);
        }
        if value.kind() == Kind::Null && node.nullable {
            return true;
        }
        matches!(self.value_keywords(node, value), Keywords::Passed)
    }

    fn trial<'v, I: Instance<'v>>(&mut self, id: SchemaId, value: I, eval: &mut Eval) -> bool {
        self.suppressed += 1;
        let ok = self.check(id, value, eval);
        self.suppressed -= 1;
        ok
    }

    fn check_one_of<'v, I: Instance<'v>>(
        &mut self,
        branches: &[SchemaId],
        value: I,
        eval: &mut Eval,
    ) -> bool {
        let mut matches: Vec<Eval> = Vec::new();
        for child in branches {
            let mut branch = Eval::new(value);
            if self.trial(*child, value, &mut branch) {
                matches.push(branch);
            }
        }
        if matches.len() > 1 && self.options.strict && value.kind() == Kind::Object {
            // Strict mode: a branch that leaves properties unevaluated is not a match.
            let len = value.len();
            matches.retain(|branch| {
                branch.open
                    || !branch.declares
                    || (0..len).all(|i| branch.is_marked(i) || eval.is_marked(i))
            });
        }
        match matches.as_slice() {
            [only] => {
                eval.merge(only);
                true
            }
            _ => false,
        }
    }

    fn check_array<'v, I: Instance<'v>>(&mut self, node: &SchemaNode, value: I) -> bool {
        let count = value.len();
        let mut ok = true;
        macro_rules! fail {
            ($keyword:expr) => {{
                ok = false;
                if !self.record($keyword, ViolationKind::Schema) {
                    return false;
                }
            }};
        }
        if node.min_items.is_some_and(|m| count < m) {
            fail!("minItems");
        }
        if node.max_items.is_some_and(|m| count > m) {
            fail!("maxItems");
        }
        if node.unique_items && !all_unique(&value.items().map(I::to_value).collect::<Vec<_>>()) {
            fail!("uniqueItems");
        }
        for (i, item) in value.items().enumerate() {
            let schema = match node.prefix_items.get(i) {
                Some(s) => Some(*s),
                None => node.items,
            };
            if let Some(schema) = schema {
                let item_ok = self.leaf_passes(schema, item) || {
                    let mark = self.push_index(i);
                    let item_ok = self.check_location(schema, item);
                    self.path.truncate(mark);
                    item_ok
                };
                if !item_ok {
                    ok = false;
                    if self.suppressed > 0 || self.errors.len() >= self.options.max_errors {
                        return false;
                    }
                }
            }
        }
        if let Some(contains) = node.contains {
            let mut count = 0usize;
            for item in value.items() {
                let mut scratch = Eval::new(item);
                if self.trial(contains, item, &mut scratch) {
                    count += 1;
                }
            }
            let min = node.min_contains.unwrap_or(1);
            if count < min {
                fail!("contains");
            }
            if node.max_contains.is_some_and(|m| count > m) {
                fail!("maxContains");
            }
        }
        ok
    }

    fn check_object<'v, I: Instance<'v>>(
        &mut self,
        node: &SchemaNode,
        value: I,
        eval: &mut Eval,
    ) -> bool {
        let mut ok = true;
        let arena = self.arena;
        let direction = self.options.direction;
        macro_rules! fail {
            ($keyword:expr, $kind:expr) => {{
                ok = false;
                if !self.record($keyword, $kind) {
                    return false;
                }
            }};
        }
        if node.declares_properties() {
            eval.declares = true;
        }
        if matches!(node.additional, Extra::Allow | Extra::Schema(_)) {
            eval.open = true;
        }
        let inspect_keys = !node.properties.is_empty()
            || !node.pattern_properties.is_empty()
            || !node.required.is_empty()
            || node.additional != Extra::Unspecified;
        // Which declared required properties were seen, by property index
        // (a set, since a tree keeps duplicate keys).
        let mut required_seen: u128 = 0;
        let countable = node.properties.len() <= 128;
        if inspect_keys {
            for (i, (key, item)) in value.entries().enumerate() {
                let mut matched = false;
                // The key joins the location only when something below may record.
                let mark = self.path.len();
                macro_rules! at_key {
                    () => {
                        if self.path.len() == mark {
                            push_key(&mut self.path, key);
                        }
                    };
                }
                let declared = node
                    .property_index(key)
                    .and_then(|i| node.properties.get(i).map(|(_, c)| (i, *c)));
                if let Some((index, child)) = declared {
                    matched = true;
                    if countable && node.property_required.get(index).copied().unwrap_or(false) {
                        required_seen |= 1u128 << index;
                    }
                    let child_node = arena.node(child);
                    let refused = match direction {
                        Direction::Request if child_node.effective_read_only => {
                            Some(("readOnly", ViolationKind::ReadOnly))
                        }
                        Direction::Response if child_node.effective_write_only => {
                            Some(("writeOnly", ViolationKind::WriteOnly))
                        }
                        _ => None,
                    };
                    if let Some((keyword, kind)) = refused {
                        ok = false;
                        at_key!();
                        if !self.record_value(keyword, kind, item) {
                            self.path.truncate(mark);
                            return false;
                        }
                    } else if !self.leaf_passes(child, item) {
                        at_key!();
                        if !self.check_location(child, item) {
                            ok = false;
                            if self.suppressed > 0 || self.errors.len() >= self.options.max_errors {
                                self.path.truncate(mark);
                                return false;
                            }
                        }
                    }
                }
                for (pattern, child) in &node.pattern_properties {
                    if pattern.is_match(key) {
                        matched = true;
                        at_key!();
                        if !self.check_location(*child, item) {
                            ok = false;
                            if self.suppressed > 0 {
                                self.path.truncate(mark);
                                return false;
                            }
                        }
                    }
                }
                if !matched {
                    match node.additional {
                        Extra::Deny => {
                            at_key!();
                            if !self.record_value(
                                "additionalProperties",
                                ViolationKind::UnknownProperty,
                                item,
                            ) {
                                self.path.truncate(mark);
                                return false;
                            }
                            ok = false;
                        }
                        Extra::Schema(s) => {
                            matched = true;
                            at_key!();
                            if !self.check_location(s, item) {
                                ok = false;
                                if self.suppressed > 0 {
                                    self.path.truncate(mark);
                                    return false;
                                }
                            }
                        }
                        Extra::Allow => matched = true,
                        // Named in `required` but not in `properties`: declared, untyped.
                        Extra::Unspecified => {
                            matched = node.required.iter().any(|r| r.as_ref() == key)
                        }
                    }
                }
                self.path.truncate(mark);
                if matched {
                    eval.mark(i);
                }
            }
        }
        let all_required_seen =
            inspect_keys && countable && required_seen.count_ones() as usize == node.required.len();
        for name in node.required.iter().filter(|_| !all_required_seen) {
            if value.get(name).is_none() {
                let exempt = node.property(name).is_some_and(|p| {
                    let p = arena.node(p);
                    match direction {
                        Direction::Request => p.effective_read_only,
                        Direction::Response => p.effective_write_only,
                    }
                });
                if !exempt {
                    let mark = self.push_key(name);
                    let go_on = self.record("required", ViolationKind::Schema);
                    self.path.truncate(mark);
                    ok = false;
                    if !go_on {
                        return false;
                    }
                }
            }
        }
        let len = value.len();
        if node.min_properties.is_some_and(|m| len < m) {
            fail!("minProperties", ViolationKind::Schema);
        }
        if node.max_properties.is_some_and(|m| len > m) {
            fail!("maxProperties", ViolationKind::Schema);
        }
        if let Some(names) = node.property_names {
            for (key, _) in value.entries() {
                let as_value = Value::String(key.to_owned());
                let mut scratch = Eval::new(&as_value);
                if !self.trial(names, &as_value, &mut scratch) {
                    let mark = self.push_key(key);
                    let go_on = self.record("propertyNames", ViolationKind::Schema);
                    self.path.truncate(mark);
                    ok = false;
                    if !go_on {
                        return false;
                    }
                }
            }
        }
        for (name, needed) in &node.dependent_required {
            if value.get(name).is_some() && needed.iter().any(|n| value.get(n).is_none()) {
                fail!("dependentRequired", ViolationKind::Schema);
            }
        }
        for (name, schema) in &node.dependent_schemas {
            if value.get(name).is_some() && !self.check(*schema, value, eval) {
                ok = false;
                if self.suppressed > 0 {
                    return false;
                }
            }
        }
        ok
    }
}

/// Parameter and form values arrive as strings; the schema says what they mean.
pub(crate) fn coerce(node: &SchemaNode, value: &Value) -> Option<Value> {
    let types = node.types?;
    match value {
        Value::String(s) => {
            if types.has(TypeSet::STRING) {
                return None;
            }
            if types.has(TypeSet::INTEGER) || types.has(TypeSet::NUMBER) {
                if let Ok(i) = s.parse::<i64>() {
                    return Some(Value::from(i));
                }
                if types.has(TypeSet::NUMBER) {
                    if let Some(n) = s
                        .parse::<f64>()
                        .ok()
                        .filter(|f| f.is_finite())
                        .and_then(serde_json::Number::from_f64)
                    {
                        return Some(Value::Number(n));
                    }
                }
            }
            if types.has(TypeSet::BOOLEAN) {
                match s.as_str() {
                    "true" => return Some(Value::Bool(true)),
                    "false" => return Some(Value::Bool(false)),
                    _ => {}
                }
            }
            if types.has(TypeSet::NULL) && (s.is_empty() || s == "null") {
                return Some(Value::Null);
            }
            if types.has(TypeSet::ARRAY) {
                return Some(Value::Array(vec![value.clone()]));
            }
            if types.has(TypeSet::OBJECT) && s.is_empty() {
                return Some(Value::Object(Map::new()));
            }
            None
        }
        Value::Object(map) if types.has(TypeSet::ARRAY) && !types.has(TypeSet::OBJECT) => {
            let mut indexed: Vec<(usize, &Value)> = Vec::with_capacity(map.len());
            for (k, v) in map {
                indexed.push((k.parse::<usize>().ok()?, v));
            }
            indexed.sort_by_key(|(i, _)| *i);
            Some(Value::Array(
                indexed.into_iter().map(|(_, v)| v.clone()).collect(),
            ))
        }
        _ => None,
    }
}

pub(crate) fn type_matches<'v, I: Instance<'v>>(types: TypeSet, value: I, nullable: bool) -> bool {
    match value.kind() {
        Kind::Null => types.has(TypeSet::NULL) || nullable,
        Kind::Bool => types.has(TypeSet::BOOLEAN),
        Kind::Number => {
            types.has(TypeSet::NUMBER)
                || (types.has(TypeSet::INTEGER) && value.as_num().is_some_and(Num::is_integer))
        }
        Kind::String => types.has(TypeSet::STRING),
        Kind::Array => types.has(TypeSet::ARRAY),
        Kind::Object => types.has(TypeSet::OBJECT),
    }
}

/// JSON equality of a schema value and an instance, with `1 == 1.0`. An
/// instance object with duplicate keys equals only if every duplicate does.
pub(crate) fn json_equal<'v, I: Instance<'v>>(a: &Value, b: I) -> bool {
    match (a, b.kind()) {
        (Value::Null, Kind::Null) => true,
        (Value::Bool(x), Kind::Bool) => b.as_bool() == Some(*x),
        (Value::Number(x), Kind::Number) => b.as_num().is_some_and(|y| Num::of(x).equals(y)),
        (Value::String(x), Kind::String) => b.as_str() == Some(x.as_str()),
        (Value::Array(x), Kind::Array) => {
            x.len() == b.len() && x.iter().zip(b.items()).all(|(a, b)| json_equal(a, b))
        }
        (Value::Object(x), Kind::Object) => {
            b.entries()
                .all(|(k, v)| x.get(k).is_some_and(|w| json_equal(w, v)))
                && x.keys().all(|k| b.get(k).is_some())
        }
        _ => false,
    }
}

fn all_unique(items: &[Value]) -> bool {
    if items.len() <= 16 {
        return items
            .iter()
            .enumerate()
            .all(|(i, a)| items.iter().skip(i + 1).all(|b| !json_equal(a, b)));
    }
    let mut keys: Vec<String> = items.iter().map(canonical_key).collect();
    keys.sort_unstable();
    keys.windows(2).all(|w| w.first() != w.get(1))
}

fn canonical_key(value: &Value) -> String {
    match value {
        Value::Number(n) => match n.as_f64() {
            Some(f) if f.fract() == 0.0 && f.abs() < 9e15 => format!("n{}", f as i64),
            _ => format!("n{n}"),
        },
        // serde_json maps are sorted by key, so serialisation is canonical.
        other => other.to_string(),
    }
}

fn is_plain_key_byte(b: u8) -> bool {
    const TABLE: [bool; 256] = {
        let mut table = [false; 256];
        let mut i = 0;
        while i < 256 {
            let c = i as u8;
            table[i] =
                c.is_ascii_alphanumeric() || c == b'_' || c == b'-' || c == b'@' || c == b'$';
            i += 1;
        }
        table
    };
    TABLE[b as usize]
}

/// Appends `.key`, or `['key']` when the key is not a plain identifier.
/// Keys may come from the request: anything outside a safe alphabet is
/// replaced, so locations never carry raw attacker bytes.
pub(crate) fn push_key(path: &mut String, key: &str) {
    let plain = !key.is_empty() && key.len() <= 64 && key.bytes().all(is_plain_key_byte);
    if plain {
        path.push('.');
        path.push_str(key);
    } else {
        path.push_str("['");
        for ch in key.chars().take(64) {
            if ch.is_ascii_alphanumeric() || " _-.@$:/".contains(ch) {
                path.push(ch);
            } else {
                path.push('?');
            }
        }
        if key.chars().count() > 64 {
            path.push('…');
        }
        path.push_str("']");
    }
}

struct SmallNumber {
    buf: [u8; 20],
    start: usize,
}

impl SmallNumber {
    fn as_str(&self) -> &str {
        std::str::from_utf8(self.buf.get(self.start..).unwrap_or(&[])).unwrap_or("0")
    }
}

fn itoa(mut n: usize) -> SmallNumber {
    let mut buf = [b'0'; 20];
    let mut start = 20;
    loop {
        start -= 1;
        if let Some(slot) = buf.get_mut(start) {
            *slot = b'0' + (n % 10) as u8;
        }
        n /= 10;
        if n == 0 || start == 0 {
            break;
        }
    }
    SmallNumber { buf, start }
}
