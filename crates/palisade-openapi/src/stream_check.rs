//! A one-pass proof that a JSON body is valid, checked while it is parsed.
//!
//! Most bodies a gateway sees are valid, and most schemas are made of plain
//! objects, arrays and scalars with value keywords. For those, validity can be
//! decided as the parser reads: each key picks its property's schema, each
//! scalar is checked where it stands, each container's counts and `required`
//! are checked when it closes. No tree is built and no location is kept.
//!
//! The answer is only ever "valid" or "not proven": a body that breaks a
//! keyword, a schema with applicators (`oneOf`, `allOf`, `$ref` beside other
//! keywords, `unevaluatedProperties`...), anything unusual stops the pass and
//! the full validator (tree and locations) decides and reports, so findings
//! are the same whichever path ran. A schema is eligible only when every
//! schema reachable from it is ([`Streamable`]), decided once per document.
//! Wrappers of one schema are followed like a bare `$ref`: `allOf: [S]`
//! (with OpenAPI 3.0's `nullable` or without) and `anyOf: [S, {type: null}]`,
//! OpenAPI 3.1's way of writing a nullable `S` (under `oneOf`, a `null` is
//! left to the full validator, since `S` may accept it too).

use crate::json_tree::{Parser, Scalar, Sink};
use crate::schema::{Extra, SchemaArena, SchemaId, SchemaNode, TypeSet, Wrapper};
use crate::validate::{Direction, Options, Validator};
use std::borrow::Cow;

/// Values checked against a schema before the pass gives up: far below the
/// full validator's step budget, so that a body the pass accepts is never one
/// the full validator would refuse as too complex.
const MAX_CHECKED_VALUES: u32 = 100_000;

/// For every schema of an arena, whether it and every schema reachable from it
/// can be checked in one pass.
#[derive(Debug, Default)]
pub(crate) struct Streamable {
    eligible: Vec<bool>,
    /// Each schema with its bare `$ref`s and wrappers followed.
    resolved: Vec<Resolved>,
}

/// The schema a value is checked against, after bare `$ref`s and wrappers
/// (`allOf: [S]`, `anyOf: [S, {type: null}]`...).
#[derive(Debug, Clone, Copy)]
struct Resolved {
    id: SchemaId,
    null: NullRule,
}

/// How a `null` value is judged.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum NullRule {
    /// By the schema itself.
    Schema,
    /// Valid: an `anyOf` wrapper's null branch accepts it.
    Valid,
    /// Left to the full validator: under `oneOf`, the other branch may accept
    /// `null` too, which would make two branches match.
    Unproven,
}

impl Streamable {
    pub(crate) fn new(arena: &SchemaArena) -> Self {
        let count = arena.nodes.len();
        let resolved: Vec<Resolved> = (0..count)
            .map(|i| resolve(arena, u32::try_from(i).unwrap_or(u32::MAX)))
            .collect();
        let target = |id: SchemaId| resolved.get(id as usize).map_or(id, |r| r.id);
        let mut eligible: Vec<bool> = arena.nodes.iter().map(on_its_own).collect();
        // Parents of each schema, to carry ineligibility upwards.
        let mut parents: Vec<Vec<u32>> = vec![Vec::new(); count];
        for (parent, node) in arena.nodes.iter().enumerate() {
            for child in children(node) {
                let child = target(child) as usize;
                if let (Some(list), Ok(parent)) = (parents.get_mut(child), u32::try_from(parent)) {
                    list.push(parent);
                }
            }
        }
        let mut pending: Vec<usize> = (0..count)
            .filter(|&i| !eligible.get(i).copied().unwrap_or(false))
            .collect();
        while let Some(ineligible) = pending.pop() {
            for &parent in parents.get(ineligible).map(Vec::as_slice).unwrap_or(&[]) {
                if let Some(flag) = eligible.get_mut(parent as usize) {
                    if *flag {
                        *flag = false;
                        pending.push(parent as usize);
                    }
                }
            }
        }
        Streamable { eligible, resolved }
    }

    /// Whether `id` (after following bare `$ref`s and wrappers) is eligible.
    pub(crate) fn admits(&self, id: SchemaId) -> bool {
        self.is_eligible(self.resolve(id).id)
    }

    fn resolve(&self, id: SchemaId) -> Resolved {
        self.resolved.get(id as usize).copied().unwrap_or(Resolved {
            id,
            null: NullRule::Schema,
        })
    }

    fn is_eligible(&self, resolved: SchemaId) -> bool {
        self.eligible
            .get(resolved as usize)
            .copied()
            .unwrap_or(false)
    }
}

/// Keywords this pass checks by itself; anything else needs the full validator.
/// (`leaf` already rules out `false` schemas, bare `$ref`s and applicators.)
fn on_its_own(node: &SchemaNode) -> bool {
    node.leaf
        && node.pattern_properties.is_empty()
        && node.property_names.is_none()
        && node.dependent_required.is_empty()
        && node.dependent_schemas.is_empty()
        && node.prefix_items.is_empty()
        && !node.unique_items
        && node.contains.is_none()
        && node.properties.len() <= 128
}

fn children(node: &SchemaNode) -> impl Iterator<Item = SchemaId> + '_ {
    let additional = match node.additional {
        Extra::Schema(s) => Some(s),
        _ => None,
    };
    node.properties
        .iter()
        .map(|(_, id)| *id)
        .chain(node.items)
        .chain(additional)
}

/// Follows bare `$ref`s (as the validator does, at most eight) and wrappers
/// (`allOf: [S]`, nullable `anyOf`/`oneOf`); the outermost wrapper that
/// says anything about `null` decides how it is judged. A chain
/// still going after eight steps ends on a wrapper or alias, which is not
/// eligible.
fn resolve(arena: &SchemaArena, mut id: SchemaId) -> Resolved {
    let mut null = NullRule::Schema;
    for _ in 0..8 {
        let node = arena.node(id);
        if let Some(target) = node.alias {
            id = target;
            continue;
        }
        let (target, rule) = match node.wrapper(arena) {
            Some(Wrapper::AllOf {
                target,
                nullable: true,
            })
            | Some(Wrapper::AnyOfNull(target)) => (target, NullRule::Valid),
            Some(Wrapper::AllOf {
                target,
                nullable: false,
            }) => (target, NullRule::Schema),
            Some(Wrapper::OneOfNull(target)) => (target, NullRule::Unproven),
            None => break,
        };
        if null == NullRule::Schema {
            null = rule;
        }
        id = target;
    }
    Resolved { id, null }
}

/// True when `body` is a JSON document valid against `schema` under
/// `options`; false when that is not proven (invalid, or beyond this pass).
pub(crate) fn proves_valid(
    arena: &SchemaArena,
    streamable: &Streamable,
    schema: SchemaId,
    body: &[u8],
    options: Options,
    max_depth: usize,
) -> bool {
    if options.coerce || !streamable.admits(schema) {
        return false;
    }
    let Ok(text) = std::str::from_utf8(body) else {
        return false;
    };
    let mut check = StreamCheck {
        arena,
        streamable,
        values: Validator::quiet(arena, options),
        direction: options.direction,
        strict: options.strict,
        frames: Vec::with_capacity(16),
        next: Some(schema),
        checked: 0,
    };
    Parser::new(text).document(max_depth, &mut check).is_ok()
}

/// One open container.
struct Frame<'s> {
    /// Its schema; `None` inside a value no schema constrains.
    node: Option<&'s SchemaNode>,
    object: bool,
    /// Declared properties seen, by index.
    required_seen: u128,
}

struct StreamCheck<'s> {
    arena: &'s SchemaArena,
    streamable: &'s Streamable,
    /// Checks scalars with the full validator's own keyword code.
    values: Validator<'s>,
    direction: Direction,
    strict: bool,
    frames: Vec<Frame<'s>>,
    /// The schema of the next value when the innermost container is an object
    /// (set by its key) or at the root; `None` for an unconstrained value.
    next: Option<SchemaId>,
    checked: u32,
}

impl<'s> StreamCheck<'s> {
    /// The schema the value being read must satisfy and how it judges
    /// `null`: `Ok(None)` when nothing constrains it, `Err` when the pass
    /// cannot go on.
    #[inline(always)]
    fn schema_of_next(&mut self) -> Result<Option<(&'s SchemaNode, NullRule)>, ()> {
        let id = match self.frames.last() {
            Some(Frame { node: None, .. }) => return Ok(None),
            Some(Frame {
                node: Some(node),
                object: false,
                ..
            }) => node.items,
            _ => self.next.take(),
        };
        let Some(id) = id else { return Ok(None) };
        self.checked += 1;
        let resolved = self.streamable.resolve(id);
        if self.checked > MAX_CHECKED_VALUES || !self.streamable.is_eligible(resolved.id) {
            return Err(());
        }
        Ok(Some((self.arena.node(resolved.id), resolved.null)))
    }
}

impl<'a, 's> Sink<'a> for StreamCheck<'s> {
    #[inline(always)]
    fn open(&mut self, object: bool) -> Option<usize> {
        let node = self.schema_of_next().ok()?.map(|(node, _)| node);
        if let Some(node) = node {
            let kind = if object {
                TypeSet::OBJECT
            } else {
                TypeSet::ARRAY
            };
            if node.types.is_some_and(|t| !t.has(kind))
                || node.constant.is_some()
                || node.enumeration.is_some()
            {
                return None;
            }
        }
        self.frames.push(Frame {
            node,
            object,
            required_seen: 0,
        });
        Some(0)
    }

    #[inline(always)]
    fn key(&mut self, key: Cow<'a, str>) -> bool {
        let direction = self.direction;
        let strict = self.strict;
        let Some(frame) = self.frames.last_mut() else {
            return false;
        };
        let Some(node) = frame.node else {
            self.next = None;
            return true;
        };
        if let Some(index) = node.property_index(&key) {
            let Some(&(_, child)) = node.properties.get(index) else {
                return false;
            };
            let child_node = self.arena.node(child);
            let refused = match direction {
                Direction::Request => child_node.effective_read_only,
                Direction::Response => child_node.effective_write_only,
            };
            if refused {
                return false;
            }
            if node.property_required.get(index).copied().unwrap_or(false) {
                frame.required_seen |= 1u128 << index;
            }
            self.next = Some(child);
            return true;
        }
        match node.additional {
            Extra::Deny => false,
            Extra::Schema(s) => {
                self.next = Some(s);
                true
            }
            Extra::Allow => {
                self.next = None;
                true
            }
            // Strict mode refuses a property a declaring schema left out.
            Extra::Unspecified if strict && node.declares_properties() => false,
            Extra::Unspecified => {
                self.next = None;
                true
            }
        }
    }

    #[inline(always)]
    fn scalar(&mut self, value: Scalar<'a>) -> bool {
        match self.schema_of_next() {
            Ok(Some((_, NullRule::Valid))) if matches!(value, Scalar::Null) => true,
            Ok(Some((_, NullRule::Unproven))) if matches!(value, Scalar::Null) => false,
            Ok(Some((node, _))) => self.values.accepts_scalar(node, &value),
            Ok(None) => true,
            Err(()) => false,
        }
    }

    #[inline(always)]
    fn close(&mut self, _opened: usize, object: bool, len: u32) -> bool {
        let Some(frame) = self.frames.pop() else {
            return false;
        };
        let Some(node) = frame.node else {
            return true;
        };
        let len = len as usize;
        if object {
            // Named in `required` but not declared, or declared twice: the
            // full validator decides.
            frame.required_seen.count_ones() as usize == node.required.len()
                && node.min_properties.is_none_or(|m| len >= m)
                && node.max_properties.is_none_or(|m| len <= m)
        } else {
            node.min_items.is_none_or(|m| len >= m) && node.max_items.is_none_or(|m| len <= m)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::json_tree::JsonTree;
    use crate::spec::ApiSpec;
    use proptest::prelude::*;
    use serde_json::Value;
    use std::path::Path;
    use std::sync::OnceLock;

    /// Every keyword the pass checks itself, and an applicator (`oneOf`) it
    /// leaves to the full validator.
    const SPEC: &str = r##"
openapi: 3.0.3
info: {title: t, version: "1"}
paths:
  /things:
    post:
      requestBody:
        content:
          application/json:
            schema: { $ref: "#/components/schemas/Thing" }
      responses: { "200": { description: ok } }
  /mixed:
    post:
      requestBody:
        content:
          application/json:
            schema:
              type: object
              properties:
                pick: { oneOf: [ { type: string }, { type: integer } ] }
      responses: { "200": { description: ok } }
components:
  schemas:
    Thing:
      type: object
      required: [id, name]
      properties:
        id: { type: integer, minimum: 1, maximum: 1000 }
        name: { type: string, minLength: 2, maxLength: 8, pattern: "^[a-z]+$" }
        secret: { type: string, readOnly: true }
        kind: { type: string, enum: [a, b] }
        price: { type: number, exclusiveMinimum: 0, multipleOf: 0.5 }
        note: { type: string, nullable: true, format: email }
        tags: { type: array, minItems: 1, maxItems: 3, items: { type: string, maxLength: 4 } }
        dims: { type: object, additionalProperties: { type: integer } }
        free: {}
        meta:
          type: object
          properties:
            on: { type: boolean }
          additionalProperties: { type: boolean }
          minProperties: 1
          maxProperties: 2
        closed:
          type: object
          properties:
            on: { type: boolean }
          additionalProperties: false
        children: { type: array, items: { $ref: "#/components/schemas/Thing" } }
        owner: { allOf: [ { $ref: "#/components/schemas/Owner" } ], nullable: true, description: x }
        audit: { allOf: [ { $ref: "#/components/schemas/Owner" } ], readOnly: true }
        boss: { allOf: [ { $ref: "#/components/schemas/Owner" } ] }
    Owner:
      type: object
      required: [id]
      properties:
        id: { type: integer }
      additionalProperties: false
"##;

    fn spec() -> &'static ApiSpec {
        static SPEC_CELL: OnceLock<ApiSpec> = OnceLock::new();
        SPEC_CELL.get_or_init(|| ApiSpec::from_str(SPEC, Path::new(".")).expect("spec loads"))
    }

    fn body_schema(path: &str) -> SchemaId {
        spec()
            .operations
            .iter()
            .find(|op| op.template == path)
            .and_then(|op| op.request_body.as_ref())
            .and_then(|body| body.contents.first())
            .and_then(|content| content.schema)
            .expect("operation with a JSON body")
    }

    fn options(strict: bool) -> Options {
        Options {
            direction: Direction::Request,
            strict,
            coerce: false,
            max_errors: 10,
        }
    }

    fn proven(text: &str, strict: bool) -> bool {
        let spec = spec();
        let streamable = Streamable::new(&spec.arena);
        proves_valid(
            &spec.arena,
            &streamable,
            body_schema("/things"),
            text.as_bytes(),
            options(strict),
            64,
        )
    }

    /// The full validator's verdict; `None` when the text is not JSON.
    fn full(text: &str, strict: bool) -> Option<bool> {
        let spec = spec();
        let tree = JsonTree::parse(text, 64).ok()?;
        let mut validator = Validator::new(&spec.arena, options(strict));
        Some(validator.validate(body_schema("/things"), tree.root()))
    }

    #[test]
    fn valid_bodies_are_proven_in_one_pass() {
        for text in [
            r#"{"id":1,"name":"ab"}"#,
            r#"{"name":"abcdefgh","id":1000,"kind":"b","price":2.5,"note":null}"#,
            r#"{"id":2,"name":"xy","note":"a@example.com","tags":["a","bcde"]}"#,
            r#"{"id":2,"name":"xy","dims":{"w":1,"h":2},"free":{"any":[1,{"x":null}]}}"#,
            r#"{"id":2,"name":"xy","meta":{"on":true,"a":false},"closed":{"on":false}}"#,
            r#"{"id":2,"name":"xy","children":[{"id":3,"name":"zz","children":[]}]}"#,
            r#"{"id":2,"name":"x\u0079","id":3}"#,
            r#"{"id":2,"name":"xy","owner":null}"#,
            r#"{"id":2,"name":"xy","owner":{"id":7}}"#,
            " {\"id\" : 2 ,\n\t\"name\":\"xy\" } ",
        ] {
            assert_eq!(full(text, true), Some(true), "{text}");
            assert!(proven(text, true), "{text}");
        }
    }

    #[test]
    fn anything_doubtful_is_left_to_the_full_validator() {
        for text in [
            r#"{"id":1}"#,
            r#"{"id":0,"name":"ab"}"#,
            r#"{"id":1.5,"name":"ab"}"#,
            r#"{"id":1,"name":"a"}"#,
            r#"{"id":1,"name":"abcdefghi"}"#,
            r#"{"id":1,"name":"AB"}"#,
            r#"{"id":1,"name":"ab","secret":"x"}"#,
            r#"{"id":1,"name":"ab","kind":"c"}"#,
            r#"{"id":1,"name":"ab","price":0}"#,
            r#"{"id":1,"name":"ab","price":0.3}"#,
            r#"{"id":1,"name":"ab","note":"not an address"}"#,
            r#"{"id":1,"name":"ab","tags":[]}"#,
            r#"{"id":1,"name":"ab","tags":["a","b","c","d"]}"#,
            r#"{"id":1,"name":"ab","tags":["abcde"]}"#,
            r#"{"id":1,"name":"ab","dims":{"w":"1"}}"#,
            r#"{"id":1,"name":"ab","meta":{}}"#,
            r#"{"id":1,"name":"ab","meta":{"on":true,"a":false,"b":true}}"#,
            r#"{"id":1,"name":"ab","closed":{"off":true}}"#,
            r#"{"id":1,"name":"ab","children":[{"id":1}]}"#,
            r#"{"id":1,"name":"ab","unknown":1}"#,
            r#"{"id":1,"name":"ab","owner":{"id":"7"}}"#,
            r#"{"id":1,"name":"ab","owner":{}}"#,
            r#"{"id":1,"name":"ab","audit":{"id":7}}"#,
            r#"{"id":1,"name":"ab","boss":null}"#,
            r#"[{"id":1,"name":"ab"}]"#,
            r#"{"id":1,"name":"ab",}"#,
            r#"{"id":1,"name":"ab"} x"#,
            r#"{"id":01,"name":"ab"}"#,
            "{\"id\":1,\"name\":\"a\u{1}b\"}",
            r#"{"id":1,"name":"ab""#,
            "",
        ] {
            assert!(!proven(text, true), "{text}");
            assert_ne!(full(text, true), Some(true), "{text}");
        }
        // Free-form without strict mode: an unknown property is allowed.
        assert!(proven(r#"{"id":1,"name":"ab","unknown":1}"#, false));
        assert_eq!(
            full(r#"{"id":1,"name":"ab","unknown":1}"#, false),
            Some(true)
        );
        // Too deep for the limit: the full path reports it.
        let spec = spec();
        let deep = r#"{"id":1,"name":"ab","free":[[[[1]]]]}"#;
        let streamable = Streamable::new(&spec.arena);
        let at_depth = |depth| {
            proves_valid(
                &spec.arena,
                &streamable,
                body_schema("/things"),
                deep.as_bytes(),
                options(true),
                depth,
            )
        };
        assert!(at_depth(5));
        assert!(!at_depth(4));
    }

    #[test]
    fn schemas_with_applicators_are_not_eligible() {
        let spec = spec();
        let streamable = Streamable::new(&spec.arena);
        assert!(streamable.admits(body_schema("/things")));
        assert!(!streamable.admits(body_schema("/mixed")));
        assert!(!proves_valid(
            &spec.arena,
            &streamable,
            body_schema("/mixed"),
            br#"{"pick":"x"}"#,
            options(true),
            64
        ));
    }

    /// Mostly objects with the required members right, so that the other
    /// keywords decide.
    /// OpenAPI 3.1 writes a nullable schema as `anyOf`/`oneOf` with a
    /// `{type: null}` branch.
    const NULLABLE_31: &str = r##"
openapi: 3.1.0
info: {title: t, version: "1"}
paths:
  /n:
    post:
      requestBody:
        content:
          application/json:
            schema:
              type: object
              additionalProperties: false
              properties:
                maybe: { anyOf: [ { type: string, maxLength: 3 }, { type: "null" } ] }
                one: { oneOf: [ { type: "null" }, { $ref: "#/components/schemas/Inner" } ] }
                loose: { oneOf: [ { type: "null" }, { type: [string, "null"] } ] }
                nested: { anyOf: [ { anyOf: [ { type: integer }, { type: "null" } ] }, { type: "null" } ] }
      responses: { "200": { description: ok } }
components:
  schemas:
    Inner: { type: object, properties: { a: { type: integer } }, additionalProperties: false }
"##;

    #[test]
    fn nullable_wrappers_are_followed() {
        let spec = ApiSpec::from_str(NULLABLE_31, Path::new(".")).expect("spec loads");
        let schema = spec
            .operations
            .first()
            .and_then(|op| op.request_body.as_ref())
            .and_then(|body| body.contents.first())
            .and_then(|content| content.schema)
            .expect("body schema");
        let streamable = Streamable::new(&spec.arena);
        assert!(streamable.admits(schema));
        let verdicts = |text: &str| {
            let proven = proves_valid(
                &spec.arena,
                &streamable,
                schema,
                text.as_bytes(),
                options(true),
                64,
            );
            let tree = JsonTree::parse(text, 64).expect("test bodies are JSON");
            let valid = Validator::new(&spec.arena, options(true)).validate(schema, tree.root());
            (proven, valid)
        };
        for text in [
            r#"{"maybe":null}"#,
            r#"{"maybe":"abc"}"#,
            r#"{"one":{"a":1}}"#,
            r#"{"loose":"x"}"#,
            r#"{"nested":null}"#,
            r#"{"nested":5}"#,
        ] {
            assert_eq!(verdicts(text), (true, true), "{text}");
        }
        for text in [
            r#"{"maybe":"abcd"}"#,
            r#"{"maybe":1}"#,
            r#"{"one":{"b":1}}"#,
            r#"{"loose":null}"#,
            r#"{"nested":"x"}"#,
        ] {
            assert_eq!(verdicts(text), (false, false), "{text}");
        }
        // Valid, but under `oneOf` a null is left to the full validator.
        assert_eq!(verdicts(r#"{"one":null}"#), (false, true));
    }

    fn arb_body() -> impl Strategy<Value = Value> {
        (
            1i64..1001,
            prop_oneof![Just("ab"), Just("xyz"), Just("A")],
            prop::collection::vec(
                (arb_key(), prop_oneof![3 => arb_leaf(), 1 => arb_json()]),
                0..5,
            ),
            arb_json(),
        )
            .prop_map(|(id, name, members, other)| {
                if id % 17 == 0 {
                    return other;
                }
                let mut map = serde_json::Map::new();
                map.insert("id".into(), Value::from(id));
                map.insert("name".into(), Value::from(name));
                for (key, value) in members {
                    map.insert(key, value);
                }
                Value::Object(map)
            })
    }

    fn arb_key() -> impl Strategy<Value = String> {
        prop_oneof![
            Just("id".to_owned()),
            Just("name".to_owned()),
            Just("secret".to_owned()),
            Just("kind".to_owned()),
            Just("price".to_owned()),
            Just("note".to_owned()),
            Just("tags".to_owned()),
            Just("dims".to_owned()),
            Just("free".to_owned()),
            Just("meta".to_owned()),
            Just("on".to_owned()),
            Just("children".to_owned()),
            Just("closed".to_owned()),
            Just("owner".to_owned()),
            Just("audit".to_owned()),
            Just("boss".to_owned()),
            "[a-z]{1,3}",
        ]
    }

    fn arb_leaf() -> impl Strategy<Value = Value> {
        prop_oneof![
            Just(Value::Null),
            any::<bool>().prop_map(Value::Bool),
            (-3i64..1200).prop_map(Value::from),
            prop_oneof![Just(0.5f64), Just(2.5), Just(-1.0), Just(0.3), Just(1e3)]
                .prop_map(Value::from),
            "[a-zA-Z@.]{0,10}".prop_map(Value::String),
            prop_oneof![Just("a"), Just("b"), Just("ab"), Just("a@b.co")]
                .prop_map(|s| Value::String(s.to_owned())),
        ]
    }

    fn arb_json() -> impl Strategy<Value = Value> {
        arb_leaf().prop_recursive(4, 40, 6, move |inner| {
            prop_oneof![
                prop::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
                prop::collection::vec((arb_key(), inner), 0..6)
                    .prop_map(|members| Value::Object(members.into_iter().collect())),
            ]
        })
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(2000))]

        /// A value the pass proves valid is valid to the full validator.
        #[test]
        fn a_proof_is_never_wrong(value in arb_body(), strict in any::<bool>()) {
            let text = value.to_string();
            if proven(&text, strict) {
                prop_assert_eq!(full(&text, strict), Some(true), "{}", text);
            }
        }

        /// The same for texts that are mostly not JSON at all: the pass
        /// reads exactly what the tree parser reads.
        #[test]
        fn a_proof_on_damaged_text_is_never_wrong(
            value in arb_body(),
            at in any::<prop::sample::Index>(),
            byte in prop_oneof![Just(b','), Just(b'"'), Just(b'\\'), Just(b'}'), Just(b']'), Just(b'0'), Just(b' '), Just(1u8), any::<u8>()],
            insert in any::<bool>(),
        ) {
            let mut bytes = value.to_string().into_bytes();
            let i = at.index(bytes.len() + 1);
            if insert || i == bytes.len() {
                bytes.insert(i.min(bytes.len()), byte);
            } else if let Some(b) = bytes.get_mut(i) {
                *b = byte;
            }
            let spec = spec();
            let streamable = Streamable::new(&spec.arena);
            for strict in [true, false] {
                if proves_valid(&spec.arena, &streamable, body_schema("/things"), &bytes, options(strict), 64) {
                    let text = std::str::from_utf8(&bytes).expect("proven texts are UTF-8");
                    prop_assert_eq!(full(text, strict), Some(true), "{}", text);
                }
            }
        }
    }
}
