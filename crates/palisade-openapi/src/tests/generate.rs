//! Valid-instance generation from compiled schemas, used to build requests
//! for real documents. It returns `None` where it cannot be sure of producing
//! a valid value (unmatched patterns, `not`, unique arrays, deep recursion).

use crate::schema::{SchemaArena, SchemaId, TypeSet};
use serde_json::{Map, Value};

pub(crate) struct Generator<'a> {
    pub(crate) arena: &'a SchemaArena,
    /// Also fill optional properties (up to this many per object).
    pub(crate) optional: usize,
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

fn merge(into: Option<Value>, extra: Value) -> Option<Value> {
    match (into, extra) {
        (None, extra) => Some(extra),
        (Some(Value::Object(mut a)), Value::Object(b)) => {
            for (k, v) in b {
                a.entry(k).or_insert(v);
            }
            Some(Value::Object(a))
        }
        (Some(a), _) => Some(a),
    }
}

impl Generator<'_> {
    pub(crate) fn value(&self, id: SchemaId) -> Option<Value> {
        self.gen(id, 0)
    }

    fn gen(&self, id: SchemaId, depth: usize) -> Option<Value> {
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
            (Some(d), false) => {
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
                if child_node.effective_read_only {
                    continue;
                }
                if map.contains_key(name.as_ref()) {
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
                    map.insert(name.to_string(), Value::String("abc".into()));
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
                direction: crate::validate::Direction::Request,
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
