//! The complete example in docs/CONFIG.md must stay a valid configuration.

#[test]
fn docs_config_example_parses_and_validates() {
    let doc = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../../docs/CONFIG.md"))
        .expect("docs/CONFIG.md");
    let start = doc.find("```toml\n").expect("a toml block") + "```toml\n".len();
    let end = start + doc[start..].find("```").expect("end of the toml block");
    let text = &doc[start..end];
    let config = palisade_config::Config::from_toml(text, "docs/CONFIG.md")
        .unwrap_or_else(|e| panic!("{e}"));
    config
        .validate(text, "docs/CONFIG.md")
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(config.listeners.len(), 2);
    assert!(config.crs.is_some() && config.openapi.is_some() && config.events.is_some());
}

#[test]
fn identity_example_parses() {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../examples/identity/palisade.toml"
    );
    let text = std::fs::read_to_string(path).expect("example");
    let config = palisade_config::Config::from_toml(&text, path).unwrap_or_else(|e| panic!("{e}"));
    assert!(config.auth.is_some());
    assert_eq!(config.rate_limits.len(), 1);
}
