//! The CRS versions Palisade supports load without error.

use palisade_waf::{Waf, WafConfig};
use std::path::{Path, PathBuf};

fn shared(rel: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../../shared")
        .join(rel)
}

#[test]
fn crs_v4_loads() {
    let dir = shared("crs-v4.28.0");
    if !dir.is_dir() {
        eprintln!("skipping: {} not present", dir.display());
        return;
    }
    let waf = Waf::load(&WafConfig::crs(&dir, 2)).unwrap_or_else(|e| panic!("{e}"));
    assert!(waf.rule_count() > 300, "{}", waf.rule_count());
    assert_eq!(waf.component_signatures(), ["OWASP_CRS/4.28.0"]);
    // CRS v4 needs no regular-expression approximation.
    assert!(
        waf.approximated_rules().is_empty(),
        "{:?}",
        waf.approximated_rules()
    );
    assert!(
        waf.prefiltered_operators() > 100,
        "{}",
        waf.prefiltered_operators()
    );
}

#[test]
fn debian_crs_v3_loads() {
    let dir = Path::new("/usr/share/modsecurity-crs");
    let setup = Path::new("/etc/modsecurity/crs/crs-setup.conf");
    if !dir.is_dir() || !setup.is_file() {
        eprintln!("skipping: Debian modsecurity-crs is not installed");
        return;
    }
    let config = WafConfig {
        setup_file: Some(setup.to_path_buf()),
        ..WafConfig::crs(dir, 1)
    };
    let waf = Waf::load(&config).unwrap_or_else(|e| panic!("{e}"));
    assert!(waf.rule_count() > 300, "{}", waf.rule_count());
    for rule in waf.approximated_rules() {
        eprintln!(
            "approximated: {} {} {:?}",
            rule.rule_id, rule.location, rule.approximations
        );
    }
}
