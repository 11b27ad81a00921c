//! Valid-instance generation from compiled schemas, used to build requests
//! for real documents. It returns `None` where it cannot be sure of producing
//! a valid value (unmatched patterns, `not`, unique arrays, deep recursion).

use crate::schema::{SchemaArena, SchemaId, TypeSet};
use serde_json::{Map, Value};

pub(crate) struct Generator<'a> {
    pub(crate) arena: &'a SchemaArena,
    /// Also fill optional properties (up to this many per object).
    pub(crate) optional: usize,
    /// Subtypes being generated through an inheritance discriminator.
    pub(crate) dispatching: std::cell::RefCell<Vec<SchemaId>>,
    /// Requests leave out `readOnly` properties, responses `writeOnly` ones.
    pub(crate) direction: crate::validate::Direction,
}

const STRING_CANDIDATES: &[&str] = &[
    "abc",
    "a",
    "A1",
    "1",
    "abc_123",
    "abc-def",
    "ABC",
    "usd",
    "US",
    "en",
    "x1y2z3",
    "+14155550100",
    "2024-01-02",
    "a.b",
    "acct_123",
    "sk_test_123",
    "abc123",
    "0",
    "12",
    "123456",
    "AB12",
];

/// Stands for a property named in `required` that no schema seen so far
/// declares; a schema merged later (an `allOf` sibling) may declare it.
const PLACEHOLDER: &str = "placeholder";

fn merge(into: Option<Value>, extra: Value) -> Option<Value> {
    match (into, extra) {
        (None, extra) => Some(extra),
        (Some(Value::Object(mut a)), Value::Object(b)) => {
            for (k, v) in b {
                match a.get_mut(&k) {
                    Some(existing) if existing.as_str() == Some(PLACEHOLDER) => *existing = v,
                    Some(_) => {}
                    None => {
                        a.insert(k, v);
                    }
                }
            }
            Some(Value::Object(a))
        }
        (Some(a), _) => Some(a),
    }
}

impl<'a> Generator<'a> {
    pub(crate) fn new(arena: &'a SchemaArena, optional: usize) -> Self {
        Generator {
            arena,
            optional,
            dispatching: std::cell::RefCell::new(Vec::new()),
            direction: crate::validate::Direction::Request,
        }
    }

    /// The schema declaring property `name` among those `id` always applies.
    fn declaration(&self, id: SchemaId, name: &str, depth: usize) -> Option<SchemaId> {
        if depth > 16 {
            return None;
        }
        let node = self.arena.node(id);
        if let Some(p) = node.property(name) {
            return Some(p);
        }
        node.reference
            .iter()
            .chain(&node.all_of)
            .chain(&node.any_of)
            .chain(&node.one_of)
            .find_map(|c| self.declaration(*c, name, depth + 1))
    }

    pub(crate) fn value(&self, id: SchemaId) -> Option<Value> {
        self.gen(id, 0)
    }

    fn gen(&self, id: SchemaId, depth: usize) -> Option<Value> {
        let mut value = self.gen_inner(id, depth)?;
        // Placeholders left by an `allOf` member whose sibling declares the name.
        if let Value::Object(map) = &mut value {
            let pending: Vec<String> = map
                .iter()
                .filter(|(_, v)| v.as_str() == Some(PLACEHOLDER))
                .map(|(k, _)| k.clone())
                .collect();
            for name in pending {
                if let Some(v) = self
                    .declaration(id, &name, 0)
                    .and_then(|d| self.gen(d, depth + 1))
                {
                    map.insert(name, v);
                }
            }
        }
        Some(value)
    }

    fn gen_inner(&self, id: SchemaId, depth: usize) -> Option<Value> {
        if depth > 24 {
            return None;
        }
        let node = self.arena.node(id);
        if node.never || node.not.is_some() || node.condition.is_some() {
            return None;
        }
        if let Some(c) = &node.constant {
            return Some(c.clone());
        }
        let mut result: Option<Value> = None;
        if let Some(r) = node.reference {
            result = merge(result, self.gen(r, depth + 1)?);
        }
        for a in &node.all_of {
            result = merge(result, self.gen(*a, depth + 1)?);
        }
        if let Some(values) = &node.enumeration {
            let pick = values
                .iter()
                .find(|v| !v.is_null())
                .or(values.first())?
                .clone();
            return match result {
                Some(Value::Object(_)) | None => Some(pick),
                Some(other) => Some(other),
            };
        }
        match (
            &node.discriminator,
            node.one_of.is_empty() && node.any_of.is_empty(),
        ) {
            (Some(d), false) if d.explicit => {
                let (tag, target) = d.mapping.first()?;
                let mut v = self.gen(*target, depth + 1)?;
                if let Value::Object(map) = &mut v {
                    map.insert(d.property.clone(), Value::String(tag.clone()));
                }
                result = merge(result, v);
            }
            _ => {
                if !node.one_of.is_empty() {
                    let mut chosen = None;
                    for branch in &node.one_of {
                        if let Some(v) = self.gen(*branch, depth + 1) {
                            let others_valid = node
                                .one_of
                                .iter()
                                .filter(|b| *b != branch)
                                .any(|b| self.plausibly_valid(*b, &v));
                            if !others_valid {
                                chosen = Some(v);
                                break;
                            }
                        }
                    }
                    result = merge(result, chosen?);
                }
                if !node.any_of.is_empty() {
                    let v = node.any_of.iter().find_map(|b| self.gen(*b, depth + 1))?;
                    result = merge(result, v);
                }
            }
        }
        let types = node.types.map(|t| t.0).unwrap_or_else(|| {
            if node.declares_properties() || !node.required.is_empty() {
                TypeSet::OBJECT
            } else if node.items.is_some() {
                TypeSet::ARRAY
            } else {
                0
            }
        });
        if types == 0 {
            return result.or(Some(Value::String("abc".into())));
        }
        if let Some(existing) = &result {
            let compatible = crate::validate::type_matches(TypeSet(types), existing, node.nullable);
            if !compatible {
                return None;
            }
        }
        let own = if types & TypeSet::OBJECT != 0
            && (result.is_none() || result.as_ref().is_some_and(Value::is_object))
        {
            let mut map = match result.take() {
                Some(Value::Object(m)) => m,
                _ => Map::new(),
            };
            let mut optional_left = self.optional;
            for (name, child) in &node.properties {
                let required = node.required.iter().any(|r| r == name);
                let child_node = self.arena.node(*child);
                let excluded = match self.direction {
                    crate::validate::Direction::Request => child_node.effective_read_only,
                    crate::validate::Direction::Response => child_node.effective_write_only,
                };
                if excluded {
                    continue;
                }
                if map
                    .get(name.as_ref())
                    .is_some_and(|v| v.as_str() != Some(PLACEHOLDER))
                {
                    continue;
                }
                if required {
                    map.insert(name.to_string(), self.gen(*child, depth + 1)?);
                } else if optional_left > 0 && depth < 4 {
                    if let Some(v) = self.gen(*child, depth + 1) {
                        optional_left -= 1;
                        map.insert(name.to_string(), v);
                    }
                }
            }
            for name in &node.required {
                if !map.contains_key(name.as_ref()) && node.property(name).is_none() {
                    let generated = self
                        .declaration(id, name, 0)
                        .and_then(|decl| self.gen(decl, depth + 1));
                    map.insert(
                        name.to_string(),
                        generated.unwrap_or_else(|| Value::String(PLACEHOLDER.into())),
                    );
                }
            }
            // A value merged from another schema may break this one's constraint
            // on the same property (an `enum` narrowing an `allOf` member's string).
            for (name, child) in &node.properties {
                if let Some(existing) = map.get(name.as_ref()) {
                    if !self.plausibly_valid(*child, existing) {
                        if let Some(v) = self.gen(*child, depth + 1) {
                            map.insert(name.to_string(), v);
                        }
                    }
                }
            }
            // Inheritance-style discriminator: the tag names a subtype whose
            // own requirements apply too.
            let base_style = node.one_of.is_empty() && node.any_of.is_empty();
            if let Some(d) = node.discriminator.as_ref().filter(|_| base_style) {
                let tag = map
                    .get(&d.property)
                    .and_then(Value::as_str)
                    .map(str::to_owned);
                let target =
                    tag.and_then(|t| d.mapping.iter().find(|(v, _)| *v == t).map(|(_, s)| *s));
                if let Some(target) = target {
                    if !self.dispatching.borrow().contains(&target) {
                        self.dispatching.borrow_mut().push(target);
                        let sub = self.gen(target, depth + 1);
                        self.dispatching.borrow_mut().retain(|s| *s != target);
                        if let Some(Value::Object(sub)) = sub {
                            for (k, v) in sub {
                                if k != d.property {
                                    map.entry(k).or_insert(v);
                                }
                            }
                        }
                    }
                }
            }
            if node.min_properties.is_some_and(|m| map.len() < m) {
                return None;
            }
            Value::Object(map)
        } else if let Some(existing) = result {
            existing
        } else if types & TypeSet::STRING != 0 {
            self.string(node)?
        } else if types & TypeSet::INTEGER != 0 {
            self.number(node, true)?
        } else if types & TypeSet::NUMBER != 0 {
            self.number(node, false)?
        } else if types & TypeSet::BOOLEAN != 0 {
            Value::Bool(true)
        } else if types & TypeSet::ARRAY != 0 {
            let count = node
                .min_items
                .unwrap_or(1)
                .min(node.max_items.unwrap_or(usize::MAX));
            if node.unique_items && count > 1 || count > 8 {
                return None;
            }
            let mut items = Vec::with_capacity(count);
            for i in 0..count {
                let schema = node.prefix_items.get(i).copied().or(node.items);
                match schema {
                    Some(s) => items.push(self.gen(s, depth + 1)?),
                    None => items.push(Value::String("abc".into())),
                }
            }
            Value::Array(items)
        } else {
            Value::Null
        };
        Some(own)
    }

    /// Cheap check used to avoid ambiguous `oneOf` picks.
    fn plausibly_valid(&self, id: SchemaId, value: &Value) -> bool {
        let mut v = crate::validate::Validator::new(
            self.arena,
            crate::validate::Options {
                direction: self.direction,
                strict: true,
                coerce: false,
                max_errors: 1,
            },
        );
        v.is_valid(id, value)
    }

    fn string(&self, node: &crate::schema::SchemaNode) -> Option<Value> {
        use crate::formats::Format;
        let base = match node.format {
            Some(Format::Uuid) => "123e4567-e89b-12d3-a456-426614174000",
            Some(Format::DateTime) => "2024-01-02T03:04:05Z",
            Some(Format::Date) => "2024-01-02",
            Some(Format::Time) => "03:04:05Z",
            Some(Format::Email) => "user@example.com",
            Some(Format::Uri) => "https://example.com/x",
            Some(Format::UriReference) => "/x",
            Some(Format::Hostname) => "example.com",
            Some(Format::Ipv4) => "192.0.2.1",
            Some(Format::Ipv6) => "2001:db8::1",
            Some(Format::Byte) => "aGVsbG8=",
            _ => "abc",
        };
        let fit = |s: &str| -> Option<String> {
            let mut s = s.to_owned();
            let min = node.min_length.unwrap_or(0);
            while s.chars().count() < min {
                s.push('a');
            }
            if let Some(max) = node.max_length {
                s = s.chars().take(max).collect();
            }
            let len = s.chars().count();
            let ok_len = len >= min && node.max_length.is_none_or(|m| len <= m);
            let ok_pattern = node.pattern.as_ref().is_none_or(|p| p.is_match(&s));
            let ok_format = node.format.is_none_or(|f| f.check_string(&s));
            (ok_len && ok_pattern && ok_format).then_some(s)
        };
        if let Some(s) = fit(base) {
            return Some(Value::String(s));
        }
        if let Some(s) = pattern_example(node).and_then(|s| fit(&s)) {
            return Some(Value::String(s));
        }
        if node.format.is_some() && node.format.is_some_and(|f| !f.check_string("abc")) {
            return None;
        }
        STRING_CANDIDATES
            .iter()
            .find_map(|c| fit(c))
            .map(Value::String)
    }

    fn number(&self, node: &crate::schema::SchemaNode, integer: bool) -> Option<Value> {
        let mut low = node.minimum.unwrap_or(f64::MIN);
        if let Some(e) = node.exclusive_minimum {
            low = low.max(if integer { e.floor() + 1.0 } else { e + 0.5 });
        }
        let mut high = node.maximum.unwrap_or(f64::MAX);
        if let Some(e) = node.exclusive_maximum {
            high = high.min(if integer { e.ceil() - 1.0 } else { e - 0.5 });
        }
        let mut n = if low > f64::MIN {
            low
        } else {
            1.0f64.min(high)
        };
        if integer {
            n = n.ceil();
        }
        if let Some(m) = node.multiple_of {
            n = (n / m).ceil() * m;
        }
        if n < low || n > high {
            return None;
        }
        if integer || n.fract() == 0.0 && n.abs() < 1e15 {
            Some(Value::from(n as i64))
        } else {
            serde_json::Number::from_f64(n).map(Value::Number)
        }
    }
}

/// A string matching the node's pattern, built from the pattern's syntax
/// tree: first alternative, first class member, minimum repetition.
fn pattern_example(node: &crate::schema::SchemaNode) -> Option<String> {
    let source = node.pattern_source.as_deref()?;
    let hir = regex_syntax::ParserBuilder::new()
        .unicode(false)
        .utf8(false)
        .build()
        .parse(source.trim_start_matches('^').trim_end_matches('$'))
        .ok()?;
    let mut out = String::new();
    emit(&hir, &mut out, 0)?;
    Some(out)
}

fn emit(hir: &regex_syntax::hir::Hir, out: &mut String, depth: usize) -> Option<()> {
    use regex_syntax::hir::{Class, HirKind};
    if depth > 64 || out.len() > 256 {
        return None;
    }
    match hir.kind() {
        HirKind::Empty | HirKind::Look(_) => {}
        HirKind::Literal(lit) => out.push_str(std::str::from_utf8(&lit.0).ok()?),
        HirKind::Class(Class::Unicode(c)) => {
            let range = c.ranges().first()?;
            let start = range.start();
            out.push(if start.is_ascii_alphanumeric() || range.end() < 'a' {
                start
            } else {
                'a'.max(start).min(range.end())
            });
        }
        HirKind::Class(Class::Bytes(c)) => {
            let range = c.ranges().first()?;
            let pick = if (range.start()..=range.end()).contains(&b'a') {
                b'a'
            } else if (range.start()..=range.end()).contains(&b'0') {
                b'0'
            } else {
                range.start()
            };
            out.push(char::from(pick));
        }
        HirKind::Repetition(rep) => {
            let count = rep
                .min
                .max(u32::from(rep.max == Some(rep.min) || rep.min > 0));
            for _ in 0..count.min(64) {
                emit(&rep.sub, out, depth + 1)?;
            }
        }
        HirKind::Capture(cap) => emit(&cap.sub, out, depth + 1)?,
        HirKind::Concat(items) => {
            for item in items {
                emit(item, out, depth + 1)?;
            }
        }
        HirKind::Alternation(items) => emit(items.first()?, out, depth + 1)?,
    }
    Some(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pattern_examples_match_their_pattern() {
        for source in [
            "^AC[0-9a-fA-F]{32}$",
            "^[A-Z]{3}-\\d{4}$",
            "^(foo|bar)+_[a-z]?x$",
            "^\\+?[0-9 ]{6,20}$",
        ] {
            let node = crate::schema::SchemaNode {
                pattern: Some(std::sync::Arc::new(
                    crate::pattern::Pattern::compile(source).unwrap(),
                )),
                pattern_source: Some(source.into()),
                ..Default::default()
            };
            let example = pattern_example(&node).unwrap_or_default();
            assert!(
                node.pattern.as_ref().unwrap().is_match(&example),
                "{source} -> {example:?}"
            );
        }
    }
}
