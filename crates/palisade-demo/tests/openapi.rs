//! The shipped OpenAPI description matches what the router serves.

use serde_yaml::Value;

fn spec() -> Value {
    serde_yaml::from_str(palisade_demo::OPENAPI_YAML).expect("valid YAML")
}

/// Every route the router serves, with its methods.
const SERVED: &[(&str, &[&str])] = &[
    ("/healthz", &["get"]),
    ("/api/login", &["post"]),
    ("/api/logout", &["post"]),
    ("/api/users/me", &["get"]),
    ("/api/users/{id}", &["get"]),
    ("/api/admin/users", &["get"]),
    ("/api/products", &["get"]),
    ("/api/v1/products", &["get"]),
    ("/api/products/{id}", &["get"]),
    ("/api/orders", &["get", "post"]),
    ("/api/orders/{id}", &["get"]),
    ("/api/seats", &["get"]),
    ("/api/reservations", &["post"]),
    ("/api/reservations/{id}", &["get"]),
    ("/api/reservations/{id}/pay", &["post"]),
    ("/api/comments", &["get", "post"]),
    ("/api/debug/crash", &["get"]),
    ("/api/echo", &["get", "post", "put", "patch", "delete"]),
    ("/api/slow", &["get"]),
    ("/ws", &["get"]),
];

#[test]
fn documents_exactly_the_served_operations() {
    let spec = spec();
    assert_eq!(spec["openapi"].as_str(), Some("3.1.0"));
    let paths = spec["paths"].as_mapping().expect("paths");
    assert_eq!(paths.len(), SERVED.len());
    for (path, methods) in SERVED {
        let item = &spec["paths"][*path];
        assert!(item.is_mapping(), "{path} undocumented");
        let documented: Vec<&str> = item
            .as_mapping()
            .map(|m| m.keys().filter_map(Value::as_str).collect())
            .unwrap_or_default();
        let mut documented: Vec<&str> = documented
            .into_iter()
            .filter(|k| ["get", "post", "put", "patch", "delete"].contains(k))
            .collect();
        documented.sort_unstable();
        let mut expected = methods.to_vec();
        expected.sort_unstable();
        assert_eq!(documented, expected, "{path}");
        for method in *methods {
            assert!(
                item[*method]["operationId"].is_string(),
                "{method} {path} needs an operationId"
            );
        }
    }
}

#[test]
fn marks_the_old_listing_deprecated_and_only_it() {
    let spec = spec();
    assert_eq!(
        spec["paths"]["/api/v1/products"]["get"]["deprecated"].as_bool(),
        Some(true)
    );
    let deprecated: usize = spec["paths"]
        .as_mapping()
        .expect("paths")
        .values()
        .flat_map(|item| item.as_mapping().into_iter().flat_map(|m| m.values()))
        .filter(|op| op["deprecated"].as_bool() == Some(true))
        .count();
    assert_eq!(deprecated, 1);
}

#[test]
fn schemas_use_read_only_ids_write_only_passwords_and_closed_objects() {
    let spec = spec();
    let schemas = &spec["components"]["schemas"];
    for name in ["User", "Product", "Order", "Reservation", "Comment"] {
        assert_eq!(
            schemas[name]["properties"]["id"]["readOnly"].as_bool(),
            Some(true),
            "{name}.id"
        );
        assert_eq!(
            schemas[name]["additionalProperties"].as_bool(),
            Some(false),
            "{name}"
        );
    }
    assert_eq!(
        schemas["LoginRequest"]["properties"]["password"]["writeOnly"].as_bool(),
        Some(true)
    );
    let user_props = schemas["User"]["properties"].as_mapping().expect("props");
    assert!(!user_props.contains_key("password_hash"));
    assert!(!user_props.contains_key("internal_notes"));
}

#[test]
fn every_reference_resolves() {
    let spec = spec();
    let mut refs = Vec::new();
    collect_refs(&spec, &mut refs);
    assert!(refs.len() > 20);
    for reference in refs {
        let pointer = reference.strip_prefix("#/").expect("local ref");
        let mut node = &spec;
        for part in pointer.split('/') {
            node = &node[part];
        }
        assert!(!node.is_null(), "{reference} does not resolve");
    }
}

fn collect_refs(node: &Value, out: &mut Vec<String>) {
    match node {
        Value::Mapping(map) => {
            for (key, value) in map {
                if key.as_str() == Some("$ref") {
                    if let Some(target) = value.as_str() {
                        out.push(target.to_string());
                    }
                } else {
                    collect_refs(value, out);
                }
            }
        }
        Value::Sequence(items) => items.iter().for_each(|v| collect_refs(v, out)),
        _ => {}
    }
}
