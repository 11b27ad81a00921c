//! Schemas compiled from the description into a flat arena of nodes.
//!
//! References become node indices, so recursive schemas are cycles in the
//! arena rather than in the compiler: nodes are allocated when first named and
//! filled from a work queue, never by recursion.

use crate::error::SpecError;
use crate::formats::Format;
use crate::loader::{pointer_get, ref_of, split_pointer, Documents, Loc};
use crate::pattern::Pattern;
use serde_json::{Map, Value};
use std::collections::{HashMap, VecDeque};
use std::sync::Arc;

pub(crate) type SchemaId = u32;

/// The JSON types a schema admits, as a bit set.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub(crate) struct TypeSet(pub(crate) u8);

impl TypeSet {
    pub(crate) const NULL: u8 = 1;
    pub(crate) const BOOLEAN: u8 = 2;
    pub(crate) const INTEGER: u8 = 4;
    pub(crate) const NUMBER: u8 = 8;
    pub(crate) const STRING: u8 = 16;
    pub(crate) const ARRAY: u8 = 32;
    pub(crate) const OBJECT: u8 = 64;

    fn from_name(name: &str) -> Option<u8> {
        Some(match name {
            "null" => Self::NULL,
            "boolean" => Self::BOOLEAN,
            "integer" => Self::INTEGER,
            "number" => Self::NUMBER,
            "string" => Self::STRING,
            "array" => Self::ARRAY,
            "object" => Self::OBJECT,
            _ => return None,
        })
    }

    pub(crate) fn has(self, bit: u8) -> bool {
        self.0 & bit != 0
    }
}

/// `additionalProperties` / `unevaluatedProperties`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub(crate) enum Extra {
    /// Keyword absent.
    #[default]
    Unspecified,
    Allow,
    Deny,
    Schema(SchemaId),
}

#[derive(Debug, Clone)]
pub(crate) struct Discriminator {
    pub(crate) property: String,
    /// Discriminator value to schema: explicit `mapping` first, then the
    /// implicit names of `oneOf`/`anyOf` branches.
    pub(crate) mapping: Vec<(String, SchemaId)>,
    /// Whether the document wrote a `mapping`. Without one, a tag that is no
    /// schema name falls back to plain `oneOf`/`anyOf` evaluation, since real
    /// documents tag with values such as `"developer"` constrained per branch.
    pub(crate) explicit: bool,
}

#[derive(Debug, Clone, Default)]
pub(crate) struct SchemaNode {
    /// `false` schema.
    pub(crate) never: bool,
    pub(crate) types: Option<TypeSet>,
    pub(crate) nullable: bool,
    pub(crate) reference: Option<SchemaId>,
    pub(crate) all_of: Vec<SchemaId>,
    pub(crate) any_of: Vec<SchemaId>,
    pub(crate) one_of: Vec<SchemaId>,
    pub(crate) not: Option<SchemaId>,
    pub(crate) condition: Option<(SchemaId, Option<SchemaId>, Option<SchemaId>)>,
    pub(crate) discriminator: Option<Box<Discriminator>>,
    pub(crate) enumeration: Option<Vec<Value>>,
    pub(crate) constant: Option<Value>,
    pub(crate) minimum: Option<f64>,
    pub(crate) maximum: Option<f64>,
    pub(crate) exclusive_minimum: Option<f64>,
    pub(crate) exclusive_maximum: Option<f64>,
    pub(crate) multiple_of: Option<f64>,
    pub(crate) min_length: Option<usize>,
    pub(crate) max_length: Option<usize>,
    pub(crate) pattern: Option<Arc<Pattern>>,
    /// The `pattern` as written, for diagnostics and test generation.
    #[cfg_attr(not(test), allow(dead_code))]
    pub(crate) pattern_source: Option<Box<str>>,
    pub(crate) format: Option<Format>,
    pub(crate) items: Option<SchemaId>,
    pub(crate) prefix_items: Vec<SchemaId>,
    pub(crate) min_items: Option<usize>,
    pub(crate) max_items: Option<usize>,
    pub(crate) unique_items: bool,
    pub(crate) contains: Option<SchemaId>,
    pub(crate) min_contains: Option<usize>,
    pub(crate) max_contains: Option<usize>,
    /// Sorted by name for binary search.
    pub(crate) properties: Vec<(Box<str>, SchemaId)>,
    pub(crate) required: Vec<Box<str>>,
    /// For each entry of `properties`, whether `required` names it.
    pub(crate) property_required: Vec<bool>,
    pub(crate) pattern_properties: Vec<(Arc<Pattern>, SchemaId)>,
    pub(crate) additional: Extra,
    pub(crate) unevaluated: Extra,
    pub(crate) property_names: Option<SchemaId>,
    pub(crate) min_properties: Option<usize>,
    pub(crate) max_properties: Option<usize>,
    pub(crate) dependent_required: Vec<(Box<str>, Vec<Box<str>>)>,
    pub(crate) dependent_schemas: Vec<(Box<str>, SchemaId)>,
    pub(crate) read_only: bool,
    pub(crate) write_only: bool,
    /// `readOnly` here or on a schema this one always applies (`$ref`, `allOf`).
    pub(crate) effective_read_only: bool,
    pub(crate) effective_write_only: bool,
    /// No applicator keyword (`$ref`, `allOf`, `anyOf`, `oneOf`, `not`,
    /// `if`, `discriminator`, `unevaluatedProperties`): against a scalar,
    /// only the value keywords apply.
    pub(crate) leaf: bool,
    /// The node is nothing but a `$ref` to this one.
    pub(crate) alias: Option<SchemaId>,
}

impl SchemaNode {
    pub(crate) fn property(&self, name: &str) -> Option<SchemaId> {
        self.property_index(name)
            .and_then(|i| self.properties.get(i))
            .map(|(_, id)| *id)
    }

    #[inline(always)]
    pub(crate) fn property_index(&self, name: &str) -> Option<usize> {
        if self.properties.len() <= 16 {
            // Comparing lengths first skips most byte comparisons, and the
            // short names left are compared in place: a call to `memcmp`
            // costs more.
            let name = name.as_bytes();
            return self.properties.iter().position(|(key, _)| {
                key.len() == name.len() && key.bytes().zip(name).all(|(a, &b)| a == b)
            });
        }
        self.properties
            .binary_search_by(|(key, _)| key.as_ref().cmp(name))
            .ok()
    }

    fn is_leaf(&self) -> bool {
        !self.never && self.applicators() == Applicators::None
    }

    /// The target when this node is a bare `$ref`.
    fn bare_reference(&self) -> Option<SchemaId> {
        if self.applicators() == Applicators::Reference
            && self.no_value_keywords_but(Besides::Nothing)
        {
            self.reference
        } else {
            None
        }
    }

    /// When the node only wraps one other schema: `allOf: [S]` (with or
    /// without OpenAPI 3.0's `nullable`), or `anyOf`/`oneOf: [S, {type: null}]`
    /// in either order, OpenAPI 3.1's way of writing a nullable `S`.
    pub(crate) fn wrapper(&self, arena: &SchemaArena) -> Option<Wrapper> {
        match self.applicators() {
            Applicators::AllOf => {
                let [target] = self.all_of.as_slice() else {
                    return None;
                };
                self.no_value_keywords_but(Besides::Nullable)
                    .then_some(Wrapper::AllOf {
                        target: *target,
                        nullable: self.nullable,
                    })
            }
            Applicators::AnyOf | Applicators::OneOf
                if self.no_value_keywords_but(Besides::Nothing) =>
            {
                let (branches, exactly_one) = if self.one_of.is_empty() {
                    (&self.any_of, false)
                } else {
                    (&self.one_of, true)
                };
                let target = match branches.as_slice() {
                    [a, b] if arena.node(*b).accepts_only_null() => *a,
                    [a, b] if arena.node(*a).accepts_only_null() => *b,
                    _ => return None,
                };
                Some(if exactly_one {
                    Wrapper::OneOfNull(target)
                } else {
                    Wrapper::AnyOfNull(target)
                })
            }
            _ => None,
        }
    }

    /// `{type: null}` alone.
    fn accepts_only_null(&self) -> bool {
        self.types == Some(TypeSet(TypeSet::NULL))
            && self.applicators() == Applicators::None
            && self.no_value_keywords_but(Besides::TypeAndNullable)
    }

    /// Which single applicator keyword the node has, if that is all it has.
    fn applicators(&self) -> Applicators {
        let present = [
            self.reference.is_some(),
            !self.all_of.is_empty(),
            !self.any_of.is_empty(),
            !self.one_of.is_empty(),
            self.not.is_some(),
            self.condition.is_some(),
            self.discriminator.is_some(),
            self.unevaluated != Extra::Unspecified,
        ];
        match present {
            [false, false, false, false, false, false, false, false] => Applicators::None,
            [true, false, false, false, false, false, false, false] => Applicators::Reference,
            [false, true, false, false, false, false, false, false] => Applicators::AllOf,
            [false, false, true, false, false, false, false, false] => Applicators::AnyOf,
            [false, false, false, true, false, false, false, false] => Applicators::OneOf,
            _ => Applicators::Other,
        }
    }

    /// No keyword other than applicators and those `besides` allows. Every
    /// field is named so that a new keyword cannot be forgotten here.
    fn no_value_keywords_but(&self, besides: Besides) -> bool {
        let SchemaNode {
            never,
            types,
            nullable,
            // Applicators: see `applicators`.
            reference: _,
            all_of: _,
            any_of: _,
            one_of: _,
            not: _,
            condition: _,
            discriminator: _,
            unevaluated: _,
            enumeration,
            constant,
            minimum,
            maximum,
            exclusive_minimum,
            exclusive_maximum,
            multiple_of,
            min_length,
            max_length,
            pattern,
            pattern_source: _,
            format,
            items,
            prefix_items,
            min_items,
            max_items,
            unique_items,
            contains,
            min_contains,
            max_contains,
            properties,
            required,
            property_required: _,
            pattern_properties,
            additional,
            property_names,
            min_properties,
            max_properties,
            dependent_required,
            dependent_schemas,
            // Checked by the parent before the child is applied.
            read_only: _,
            write_only: _,
            effective_read_only: _,
            effective_write_only: _,
            leaf: _,
            alias: _,
        } = self;
        !*never
            && (types.is_none() || besides == Besides::TypeAndNullable)
            && (!*nullable || besides != Besides::Nothing)
            && enumeration.is_none()
            && constant.is_none()
            && minimum.is_none()
            && maximum.is_none()
            && exclusive_minimum.is_none()
            && exclusive_maximum.is_none()
            && multiple_of.is_none()
            && min_length.is_none()
            && max_length.is_none()
            && pattern.is_none()
            && format.is_none()
            && items.is_none()
            && prefix_items.is_empty()
            && min_items.is_none()
            && max_items.is_none()
            && !*unique_items
            && contains.is_none()
            && min_contains.is_none()
            && max_contains.is_none()
            && properties.is_empty()
            && required.is_empty()
            && pattern_properties.is_empty()
            && *additional == Extra::Unspecified
            && property_names.is_none()
            && min_properties.is_none()
            && max_properties.is_none()
            && dependent_required.is_empty()
            && dependent_schemas.is_empty()
    }

    pub(crate) fn declares_properties(&self) -> bool {
        !self.properties.is_empty() || !self.pattern_properties.is_empty()
    }
}

/// Value keywords a node may have and still count as keyword-free.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Besides {
    Nothing,
    Nullable,
    TypeAndNullable,
}

/// A schema that only wraps another: see [`SchemaNode::wrapper`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Wrapper {
    /// `allOf: [target]`; with `nullable: true`, `null` is valid whatever
    /// `target` says.
    AllOf { target: SchemaId, nullable: bool },
    /// `anyOf: [target, {type: null}]`: `null` is valid.
    AnyOfNull(SchemaId),
    /// `oneOf: [target, {type: null}]`: `null` is valid only if `target`
    /// refuses it.
    OneOfNull(SchemaId),
}

/// The applicator keywords a node has (`$ref`, `allOf`, `anyOf`, `oneOf`,
/// `not`, `if`, `discriminator`, `unevaluatedProperties`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Applicators {
    None,
    /// `$ref` alone.
    Reference,
    /// `allOf` alone.
    AllOf,
    /// `anyOf` alone.
    AnyOf,
    /// `oneOf` alone.
    OneOf,
    /// Several, or another one.
    Other,
}

/// All compiled schemas of one description.
#[derive(Debug, Default)]
pub(crate) struct SchemaArena {
    pub(crate) nodes: Vec<SchemaNode>,
}

impl SchemaArena {
    pub(crate) fn node(&self, id: SchemaId) -> &SchemaNode {
        // Ids are only produced by the compiler that filled this arena.
        static EMPTY: std::sync::OnceLock<SchemaNode> = std::sync::OnceLock::new();
        self.nodes
            .get(id as usize)
            .unwrap_or_else(|| EMPTY.get_or_init(SchemaNode::default))
    }
}

/// Turns schema objects into arena nodes.
pub(crate) struct SchemaCompiler {
    arena: SchemaArena,
    memo: HashMap<Loc, SchemaId>,
    queue: VecDeque<(SchemaId, Loc)>,
    patterns: HashMap<String, Arc<Pattern>>,
}

const IGNORED_KEYWORDS: &[&str] = &[
    "title",
    "description",
    "default",
    "example",
    "examples",
    "deprecated",
    "externalDocs",
    "xml",
    "$comment",
    "$schema",
    "$anchor",
    // Only meaningful with dynamic extension, which is not supported; see `$recursiveRef`.
    "$recursiveAnchor",
    "$defs",
    "definitions",
    "contentEncoding",
    "contentMediaType",
];

const UNSUPPORTED_KEYWORDS: &[(&str, &str)] = &[
    ("$dynamicRef", "dynamic references are not supported"),
    ("$dynamicAnchor", "dynamic references are not supported"),
    ("unevaluatedItems", "unevaluatedItems is not supported"),
    (
        "dependencies",
        "use dependentRequired/dependentSchemas (draft 2019+)",
    ),
    ("contentSchema", "contentSchema is not supported"),
];

impl SchemaCompiler {
    pub(crate) fn new() -> Self {
        SchemaCompiler {
            arena: SchemaArena::default(),
            memo: HashMap::new(),
            queue: VecDeque::new(),
            patterns: HashMap::new(),
        }
    }

    /// The id of the schema at `loc`; the node is filled by [`Self::drain`].
    pub(crate) fn schema(
        &mut self,
        docs: &mut Documents,
        loc: &Loc,
    ) -> Result<SchemaId, SpecError> {
        let canonical = docs.canonical(loc)?;
        if let Some(id) = self.memo.get(&canonical) {
            return Ok(*id);
        }
        let id = u32::try_from(self.arena.nodes.len())
            .map_err(|_| docs.invalid(loc, "too many schemas"))?;
        self.arena.nodes.push(SchemaNode::default());
        self.memo.insert(canonical.clone(), id);
        self.queue.push_back((id, canonical));
        Ok(id)
    }

    /// Compiles every schema named so far, and the ones they name.
    pub(crate) fn drain(&mut self, docs: &mut Documents) -> Result<(), SpecError> {
        while let Some((id, loc)) = self.queue.pop_front() {
            let node = self.compile_node(docs, &loc)?;
            if let Some(slot) = self.arena.nodes.get_mut(id as usize) {
                *slot = node;
            }
        }
        Ok(())
    }

    pub(crate) fn finish(mut self) -> SchemaArena {
        self.propagate_flags();
        for node in &mut self.arena.nodes {
            node.leaf = node.is_leaf();
            node.alias = node.bare_reference();
        }
        self.arena
    }

    fn propagate_flags(&mut self) {
        let nodes = &mut self.arena.nodes;
        for node in nodes.iter_mut() {
            node.effective_read_only = node.read_only;
            node.effective_write_only = node.write_only;
        }
        for _ in 0..64 {
            let mut changed = false;
            for i in 0..nodes.len() {
                let Some(node) = nodes.get(i) else { continue };
                let applied = node.reference.iter().chain(node.all_of.iter());
                let (mut ro, mut wo) = (node.effective_read_only, node.effective_write_only);
                for child in applied {
                    if let Some(c) = nodes.get(*child as usize) {
                        ro |= c.effective_read_only;
                        wo |= c.effective_write_only;
                    }
                }
                if let Some(node) = nodes.get_mut(i) {
                    if ro != node.effective_read_only || wo != node.effective_write_only {
                        node.effective_read_only = ro;
                        node.effective_write_only = wo;
                        changed = true;
                    }
                }
            }
            if !changed {
                break;
            }
        }
    }

    fn pattern(
        &mut self,
        docs: &Documents,
        loc: &Loc,
        source: &str,
    ) -> Result<Arc<Pattern>, SpecError> {
        if let Some(p) = self.patterns.get(source) {
            return Ok(p.clone());
        }
        let compiled =
            Pattern::compile(source).map_err(|reason| SpecError::UnsupportedPattern {
                at: docs.describe(loc),
                pattern: source.to_owned(),
                reason,
            })?;
        let compiled = Arc::new(compiled);
        self.patterns.insert(source.to_owned(), compiled.clone());
        Ok(compiled)
    }

    fn compile_node(&mut self, docs: &mut Documents, loc: &Loc) -> Result<SchemaNode, SpecError> {
        let file = docs.file_value(loc.file);
        let value = pointer_get(&file, &loc.pointer)
            .ok_or_else(|| docs.invalid(loc, "schema pointer does not exist"))?;
        let mut node = SchemaNode::default();
        let map = match value {
            Value::Bool(true) => return Ok(node),
            Value::Bool(false) => {
                node.never = true;
                return Ok(node);
            }
            Value::Object(map) => map,
            _ => return Err(docs.invalid(loc, "a schema must be an object or a boolean")),
        };
        for (keyword, v) in map {
            let at = loc.child(keyword);
            match keyword.as_str() {
                "$ref" => {
                    let reference = v
                        .as_str()
                        .ok_or_else(|| docs.invalid(&at, "$ref must be a string"))?;
                    let target = docs.resolve_ref(loc, reference)?;
                    // A chain of references must end in a schema; a pure loop
                    // (`A: {$ref: B}`, `B: {$ref: A}`) is an error, not "anything goes".
                    docs.deref(&target)?;
                    node.reference = Some(self.schema(docs, &target)?);
                }
                "type" => node.types = Some(parse_types(docs, &at, v)?),
                "nullable" => node.nullable = bool_of(docs, &at, v)?,
                "allOf" => node.all_of = self.schema_list(docs, &at, v)?,
                "anyOf" => node.any_of = self.schema_list(docs, &at, v)?,
                "oneOf" => node.one_of = self.schema_list(docs, &at, v)?,
                "not" => node.not = Some(self.schema(docs, &at)?),
                "if" => {
                    let then = match map.get("then") {
                        Some(_) => Some(self.schema(docs, &loc.child("then"))?),
                        None => None,
                    };
                    let otherwise = match map.get("else") {
                        Some(_) => Some(self.schema(docs, &loc.child("else"))?),
                        None => None,
                    };
                    node.condition = Some((self.schema(docs, &at)?, then, otherwise));
                }
                "then" | "else" => {}
                "discriminator" => {} // after the branches, below
                "enum" => {
                    let values = v
                        .as_array()
                        .ok_or_else(|| docs.invalid(&at, "enum must be an array"))?;
                    node.enumeration = Some(values.clone());
                }
                "const" => node.constant = Some(v.clone()),
                "minimum" => node.minimum = Some(number_of(docs, &at, v)?),
                "maximum" => node.maximum = Some(number_of(docs, &at, v)?),
                "exclusiveMinimum" | "exclusiveMaximum" => {
                    let bound = match v {
                        // OpenAPI 3.0 form: a flag on minimum/maximum.
                        Value::Bool(false) => None,
                        Value::Bool(true) => {
                            let base = if keyword == "exclusiveMinimum" {
                                "minimum"
                            } else {
                                "maximum"
                            };
                            let base_value = map.get(base).ok_or_else(|| {
                                docs.invalid(&at, format!("`{keyword}: true` without `{base}`"))
                            })?;
                            Some(number_of(docs, &loc.child(base), base_value)?)
                        }
                        other => Some(number_of(docs, &at, other)?),
                    };
                    if keyword == "exclusiveMinimum" {
                        node.exclusive_minimum = bound;
                    } else {
                        node.exclusive_maximum = bound;
                    }
                }
                "multipleOf" => {
                    let m = number_of(docs, &at, v)?;
                    if m <= 0.0 {
                        return Err(docs.invalid(&at, "multipleOf must be positive"));
                    }
                    node.multiple_of = Some(m);
                }
                "minLength" => node.min_length = Some(count_of(docs, &at, v)?),
                "maxLength" => node.max_length = Some(count_of(docs, &at, v)?),
                "pattern" => {
                    let source = v
                        .as_str()
                        .ok_or_else(|| docs.invalid(&at, "pattern must be a string"))?;
                    node.pattern = Some(self.pattern(docs, &at, source)?);
                    node.pattern_source = Some(source.into());
                }
                "format" => node.format = v.as_str().and_then(Format::parse),
                "items" => match v {
                    Value::Array(_) => node.prefix_items = self.schema_list(docs, &at, v)?,
                    _ => node.items = Some(self.schema(docs, &at)?),
                },
                "additionalItems" => {
                    if map.get("items").is_some_and(Value::is_array) {
                        node.items = Some(self.schema(docs, &at)?);
                    }
                }
                "prefixItems" => node.prefix_items = self.schema_list(docs, &at, v)?,
                "minItems" => node.min_items = Some(count_of(docs, &at, v)?),
                "maxItems" => node.max_items = Some(count_of(docs, &at, v)?),
                "uniqueItems" => node.unique_items = bool_of(docs, &at, v)?,
                "contains" => node.contains = Some(self.schema(docs, &at)?),
                "minContains" => node.min_contains = Some(count_of(docs, &at, v)?),
                "maxContains" => node.max_contains = Some(count_of(docs, &at, v)?),
                "properties" => {
                    let (at, v) = referenced_map(docs, &at, v)?;
                    let props = v
                        .as_object()
                        .ok_or_else(|| docs.invalid(&at, "properties must be an object"))?;
                    let mut list = Vec::with_capacity(props.len());
                    for name in props.keys() {
                        list.push((
                            name.clone().into_boxed_str(),
                            self.schema(docs, &at.child(name))?,
                        ));
                    }
                    list.sort_by(|a, b| a.0.cmp(&b.0));
                    node.properties = list;
                }
                "required" => {
                    let names = v
                        .as_array()
                        .ok_or_else(|| docs.invalid(&at, "required must be an array"))?;
                    let mut list: Vec<Box<str>> = Vec::with_capacity(names.len());
                    for name in names {
                        let name = name
                            .as_str()
                            .ok_or_else(|| docs.invalid(&at, "required entries must be strings"))?;
                        if !list.iter().any(|n| n.as_ref() == name) {
                            list.push(name.into());
                        }
                    }
                    node.required = list;
                }
                "patternProperties" => {
                    let (at, v) = referenced_map(docs, &at, v)?;
                    let props = v
                        .as_object()
                        .ok_or_else(|| docs.invalid(&at, "patternProperties must be an object"))?;
                    for source in props.keys() {
                        let pattern = self.pattern(docs, &at, source)?;
                        let id = self.schema(docs, &at.child(source))?;
                        node.pattern_properties.push((pattern, id));
                    }
                }
                "additionalProperties" => node.additional = self.extra(docs, &at, v)?,
                "unevaluatedProperties" => node.unevaluated = self.extra(docs, &at, v)?,
                "propertyNames" => node.property_names = Some(self.schema(docs, &at)?),
                "minProperties" => node.min_properties = Some(count_of(docs, &at, v)?),
                "maxProperties" => node.max_properties = Some(count_of(docs, &at, v)?),
                "dependentRequired" => {
                    let deps = v
                        .as_object()
                        .ok_or_else(|| docs.invalid(&at, "dependentRequired must be an object"))?;
                    for (name, list) in deps {
                        let list = list
                            .as_array()
                            .ok_or_else(|| {
                                docs.invalid(&at, "dependentRequired values must be arrays")
                            })?
                            .iter()
                            .filter_map(|s| s.as_str().map(Into::into))
                            .collect();
                        node.dependent_required
                            .push((name.clone().into_boxed_str(), list));
                    }
                }
                "dependentSchemas" => {
                    let deps = v
                        .as_object()
                        .ok_or_else(|| docs.invalid(&at, "dependentSchemas must be an object"))?;
                    for name in deps.keys() {
                        let id = self.schema(docs, &at.child(name))?;
                        node.dependent_schemas
                            .push((name.clone().into_boxed_str(), id));
                    }
                }
                "readOnly" => node.read_only = bool_of(docs, &at, v)?,
                "writeOnly" => node.write_only = bool_of(docs, &at, v)?,
                "$recursiveRef" => {
                    // Without `$recursiveAnchor` this is `$ref: "#"`: the enclosing
                    // schema resource, which for a component schema is the
                    // component itself (the document root is no schema).
                    let segments = split_pointer(&loc.pointer);
                    let is_self_ref = v.as_str() == Some("#");
                    match (is_self_ref, segments.as_slice()) {
                        (true, [c, s, name, ..]) if c == "components" && s == "schemas" => {
                            let target = Loc {
                                file: loc.file,
                                pointer: String::new(),
                            }
                            .child("components")
                            .child("schemas")
                            .child(name);
                            node.reference = Some(self.schema(docs, &target)?);
                        }
                        _ => return Err(docs.unsupported(
                            &at,
                            "$recursiveRef",
                            "only `$recursiveRef: \"#\"` inside a component schema is supported",
                        )),
                    }
                }
                "$id" => {
                    return Err(docs.unsupported(
                        &at,
                        "$id",
                        "schema resources with their own base URI are not supported",
                    ))
                }
                other => {
                    if let Some((_, why)) = UNSUPPORTED_KEYWORDS.iter().find(|(k, _)| *k == other) {
                        return Err(docs.unsupported(&at, other, why));
                    }
                    // Unknown keywords are annotations in JSON Schema; extensions too.
                    debug_assert!(other.starts_with("x-") || !IGNORED_KEYWORDS.is_empty());
                }
            }
        }
        node.property_required = node
            .properties
            .iter()
            .map(|(name, _)| node.required.contains(name))
            .collect();
        if let Some(d) = map.get("discriminator") {
            node.discriminator = Some(Box::new(self.discriminator(docs, loc, map, d)?));
        }
        Ok(node)
    }

    fn extra(&mut self, docs: &mut Documents, at: &Loc, v: &Value) -> Result<Extra, SpecError> {
        Ok(match v {
            Value::Bool(true) => Extra::Allow,
            Value::Bool(false) => Extra::Deny,
            Value::Object(m) if m.is_empty() => Extra::Allow,
            _ => Extra::Schema(self.schema(docs, at)?),
        })
    }

    fn schema_list(
        &mut self,
        docs: &mut Documents,
        at: &Loc,
        v: &Value,
    ) -> Result<Vec<SchemaId>, SpecError> {
        let (at, v) = referenced_map(docs, at, v)?;
        let at = &at;
        let items = v
            .as_array()
            .ok_or_else(|| docs.invalid(at, "expected an array of schemas"))?;
        (0..items.len())
            .map(|i| self.schema(docs, &at.index(i)))
            .collect()
    }

    fn discriminator(
        &mut self,
        docs: &mut Documents,
        loc: &Loc,
        map: &Map<String, Value>,
        d: &Value,
    ) -> Result<Discriminator, SpecError> {
        let at = loc.child("discriminator");
        let property = d
            .get("propertyName")
            .and_then(Value::as_str)
            .ok_or_else(|| docs.invalid(&at, "discriminator needs a string propertyName"))?
            .to_owned();
        let mut mapping = Vec::new();
        let explicit_mapping = d
            .get("mapping")
            .is_some_and(|m| m.as_object().is_some_and(|m| !m.is_empty()));
        if let Some(explicit) = d.get("mapping") {
            let explicit = explicit
                .as_object()
                .ok_or_else(|| docs.invalid(&at, "discriminator mapping must be an object"))?;
            for (value, target) in explicit {
                let target = target
                    .as_str()
                    .ok_or_else(|| docs.invalid(&at, "mapping targets must be strings"))?;
                let reference = if target.contains(['#', '/', '.']) {
                    target.to_owned()
                } else {
                    format!("#/components/schemas/{target}")
                };
                let resolved = if reference.starts_with("#/components/") && !target.contains(['.'])
                {
                    // Schema names are relative to the root document.
                    let root = Loc {
                        file: docs.root(),
                        pointer: String::new(),
                    };
                    docs.resolve_ref(&root, &reference)
                        .or_else(|_| docs.resolve_ref(loc, &reference))?
                } else {
                    docs.resolve_ref(loc, &reference)?
                };
                mapping.push((value.clone(), self.schema(docs, &resolved)?));
            }
        }
        for keyword in ["oneOf", "anyOf"] {
            let Some(branches) = map.get(keyword).and_then(Value::as_array) else {
                continue;
            };
            for (i, branch) in branches.iter().enumerate() {
                let Some(reference) = ref_of(branch) else {
                    continue;
                };
                let name = implicit_name(reference);
                if name.is_empty() || mapping.iter().any(|(v, _)| v == name) {
                    continue;
                }
                let id = self.schema(docs, &loc.child(keyword).index(i))?;
                if mapping.iter().any(|(_, existing)| *existing == id) {
                    continue;
                }
                mapping.push((name.to_owned(), id));
            }
        }
        Ok(Discriminator {
            property,
            mapping,
            explicit: explicit_mapping,
        })
    }
}

/// A keyword whose whole value is a `$ref` (`properties: {$ref: attrs.yml}`):
/// the referenced value and where it lives.
fn referenced_map(docs: &mut Documents, at: &Loc, v: &Value) -> Result<(Loc, Value), SpecError> {
    if ref_of(v).is_none() {
        return Ok((at.clone(), v.clone()));
    }
    let (loc, file) = docs.deref(at)?;
    let value = pointer_get(&file, &loc.pointer)
        .cloned()
        .unwrap_or(Value::Null);
    Ok((loc, value))
}

/// `#/components/schemas/Cat` → `Cat`; `models/cat.yml` → `cat`.
fn implicit_name(reference: &str) -> &str {
    let (file, fragment) = reference.split_once('#').unwrap_or((reference, ""));
    if !fragment.is_empty() {
        return fragment.rsplit('/').next().unwrap_or("");
    }
    let base = file.rsplit('/').next().unwrap_or("");
    base.split('.').next().unwrap_or("")
}

fn parse_types(docs: &Documents, at: &Loc, v: &Value) -> Result<TypeSet, SpecError> {
    let mut set = 0u8;
    let names: Vec<&Value> = match v {
        Value::Array(items) => items.iter().collect(),
        single => vec![single],
    };
    for name in names {
        let name = name
            .as_str()
            .ok_or_else(|| docs.invalid(at, "type must be a string or an array of strings"))?;
        set |= TypeSet::from_name(name)
            .ok_or_else(|| docs.invalid(at, format!("unknown type `{name}`")))?;
    }
    if set & TypeSet::NUMBER != 0 {
        set |= TypeSet::INTEGER;
    }
    Ok(TypeSet(set))
}

fn bool_of(docs: &Documents, at: &Loc, v: &Value) -> Result<bool, SpecError> {
    v.as_bool()
        .ok_or_else(|| docs.invalid(at, "expected a boolean"))
}

fn number_of(docs: &Documents, at: &Loc, v: &Value) -> Result<f64, SpecError> {
    v.as_f64()
        .ok_or_else(|| docs.invalid(at, "expected a number"))
}

fn count_of(docs: &Documents, at: &Loc, v: &Value) -> Result<usize, SpecError> {
    match v.as_f64() {
        Some(f) if f >= 0.0 && f.fract() == 0.0 => Ok(f as usize),
        _ => Err(docs.invalid(at, "expected a non-negative integer")),
    }
}
