//! Response minimisation: removes every property no applied schema declares
//! and every `writeOnly` property, recursively.
//!
//! Declared means: named in `properties` (or `required`) or matched by `patternProperties` of
//! a schema that applies at that location (`$ref`, `allOf`, the `oneOf`/`anyOf`
//! branches the value satisfies or the discriminator selects), or admitted by
//! an explicit `additionalProperties`/`unevaluatedProperties` of `true` or a
//! schema. Objects whose schemas declare no properties at all are free-form and
//! kept whole.

use crate::schema::{Extra, SchemaArena, SchemaId};
use crate::validate::{Direction, Options, Validator};
use serde_json::Value;

const MAX_DEPTH: usize = 256;

/// Strips `value` in place; returns the number of properties removed.
pub(crate) fn strip(arena: &SchemaArena, roots: &[SchemaId], value: &mut Value) -> usize {
    let mut removed = 0;
    strip_at(arena, roots, value, &mut removed, 0);
    removed
}

fn applied(arena: &SchemaArena, id: SchemaId, value: &Value, out: &mut Vec<SchemaId>) {
    if out.contains(&id) || out.len() > 256 {
        return;
    }
    out.push(id);
    let node = arena.node(id);
    if let Some(r) = node.reference {
        applied(arena, r, value, out);
    }
    for child in &node.all_of {
        applied(arena, *child, value, out);
    }
    let tag = node.discriminator.as_ref().and_then(|d| {
        let tag = value.get(&d.property)?.as_str()?;
        d.mapping.iter().find(|(v, _)| v == tag).map(|(_, t)| *t)
    });
    if let Some(target) = tag {
        applied(arena, target, value, out);
    } else {
        let branches: Vec<SchemaId> = node.one_of.iter().chain(&node.any_of).copied().collect();
        if !branches.is_empty() {
            let mut validator = Validator::new(
                arena,
                Options {
                    direction: Direction::Response,
                    strict: false,
                    coerce: false,
                    max_errors: 1,
                },
            );
            let valid: Vec<SchemaId> = branches
                .iter()
                .copied()
                .filter(|b| validator.is_valid(*b, value))
                .collect();
            // An invalid response keeps what any branch declares.
            let chosen = if valid.is_empty() { branches } else { valid };
            for b in chosen {
                applied(arena, b, value, out);
            }
        }
    }
    if let Some((condition, then, otherwise)) = node.condition {
        let mut validator = Validator::new(
            arena,
            Options {
                direction: Direction::Response,
                strict: false,
                coerce: false,
                max_errors: 1,
            },
        );
        let branch = if validator.is_valid(condition, value) {
            then
        } else {
            otherwise
        };
        if let Some(b) = branch {
            applied(arena, b, value, out);
        }
    }
}

fn strip_at(
    arena: &SchemaArena,
    roots: &[SchemaId],
    value: &mut Value,
    removed: &mut usize,
    depth: usize,
) {
    if depth > MAX_DEPTH || roots.is_empty() {
        return;
    }
    let mut schemas = Vec::new();
    for root in roots {
        applied(arena, *root, value, &mut schemas);
    }
    match value {
        Value::Object(map) => {
            let declares = schemas.iter().any(|s| arena.node(*s).declares_properties());
            let open = !declares
                || schemas.iter().any(|s| {
                    let n = arena.node(*s);
                    matches!(n.additional, Extra::Allow | Extra::Schema(_))
                        || matches!(n.unevaluated, Extra::Allow | Extra::Schema(_))
                });
            let mut doomed = Vec::new();
            for (key, item) in map.iter_mut() {
                let mut children = Vec::new();
                let mut write_only = false;
                let mut declared = false;
                for s in &schemas {
                    let n = arena.node(*s);
                    if let Some(c) = n.property(key) {
                        declared = true;
                        write_only |= arena.node(c).effective_write_only;
                        children.push(c);
                    }
                    for (pattern, c) in &n.pattern_properties {
                        if pattern.is_match(key) {
                            declared = true;
                            children.push(*c);
                        }
                    }
                }
                if !declared {
                    // Named in `required` without a schema: declared, untyped
                    // (the validator reads it the same way).
                    declared = schemas.iter().any(|s| {
                        arena
                            .node(*s)
                            .required
                            .iter()
                            .any(|r| r.as_ref() == key.as_str())
                    });
                }
                if !declared {
                    for s in &schemas {
                        let n = arena.node(*s);
                        for extra in [n.additional, n.unevaluated] {
                            if let Extra::Schema(c) = extra {
                                children.push(c);
                            }
                        }
                    }
                    declared = open;
                }
                if write_only || !declared {
                    doomed.push(key.clone());
                } else {
                    strip_at(arena, &children, item, removed, depth + 1);
                }
            }
            for key in doomed {
                map.remove(&key);
                *removed += 1;
            }
        }
        Value::Array(items) => {
            for (i, item) in items.iter_mut().enumerate() {
                let children: Vec<SchemaId> = schemas
                    .iter()
                    .filter_map(|s| {
                        let n = arena.node(*s);
                        n.prefix_items.get(i).copied().or(n.items)
                    })
                    .collect();
                strip_at(arena, &children, item, removed, depth + 1);
            }
        }
        _ => {}
    }
}
