#![no_main]
//! The borrowed JSON tree request bodies are validated on, against
//! `serde_json`: the same documents accepted, the same values read.

use libfuzzer_sys::fuzz_target;
use palisade_openapi::json_tree::{JsonError as JsonTreeError, JsonTree};
use serde_json::Value;

/// Equality that lets floats differ in the last place: `serde_json` does not
/// promise correctly rounded float parsing, the tree does.
fn same(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Number(x), Value::Number(y)) => match (x.as_f64(), y.as_f64()) {
            _ if x == y => true,
            (Some(f), Some(g)) => (f - g).abs() <= f.abs().max(g.abs()) * 4.0 * f64::EPSILON,
            _ => false,
        },
        (Value::Array(x), Value::Array(y)) => {
            x.len() == y.len() && x.iter().zip(y).all(|(a, b)| same(a, b))
        }
        (Value::Object(x), Value::Object(y)) => {
            x.len() == y.len() && x.iter().all(|(k, v)| y.get(k).is_some_and(|w| same(v, w)))
        }
        _ => a == b,
    }
}

fuzz_target!(|data: &[u8]| {
    let ours = JsonTree::parse_bytes(data, 128);
    let theirs = serde_json::from_slice::<Value>(data);
    match (&ours, &theirs) {
        (Ok(tree), Ok(value)) => {
            assert!(same(&tree.root().to_value(), value), "values differ");
            // Walking every node must stay inside the tree.
            let mut stack = vec![tree.root()];
            while let Some(node) = stack.pop() {
                stack.extend(node.items());
                stack.extend(node.entries().map(|(_, v)| v));
            }
        }
        // Both limit nesting (serde_json at 128 levels), one level apart at most.
        (Err(JsonTreeError::TooDeep), Ok(_)) => {}
        (Ok(_), Err(e)) if e.to_string().contains("recursion limit") => {}
        (Err(_), Err(_)) => {}
        _ => panic!("acceptance differs: {ours:?} / {theirs:?}"),
    }
});
