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
    let mut approximated: Vec<u64> = waf.approximated_rules().iter().map(|r| r.rule_id).collect();
    approximated.sort_unstable();
    assert_eq!(approximated, vec![920120, 920600, 942130, 942260, 953120]);
}

#[test]
fn invalid_configuration_is_refused() {
    let config = WafConfig {
        paranoia: 5,
        ..WafConfig::default()
    };
    assert!(Waf::load(&config).is_err());
    let parsed: Result<WafConfig, _> =
        serde_yaml::from_str("rules_dir: /x\nparanoia: 2\nbogus: 1\n");
    assert!(parsed.is_err(), "unknown fields are refused");
    let parsed: WafConfig = serde_yaml::from_str("rules_dir: /x\nparanoia: 2\n").unwrap();
    assert_eq!(parsed.paranoia, 2);
}

#[test]
fn crs_v4_blocks_attacks_and_passes_benign_traffic_in_the_pipeline() {
    use palisade_core::{Detector, Phase, RequestHead, Transaction};
    let dir = shared("crs-v4.28.0");
    if !dir.is_dir() {
        eprintln!("skipping: {} not present", dir.display());
        return;
    }
    let detector = palisade_waf::WafDetector::new(
        Waf::load(&WafConfig::crs(&dir, 1)).unwrap_or_else(|e| panic!("{e}")),
    );
    let run = |uri: &str, body: Option<&str>| {
        let mut head = RequestHead::synthetic(
            if body.is_some() {
                http::Method::POST
            } else {
                http::Method::GET
            },
            uri,
        );
        for (name, value) in [
            ("host", "api.example.com"),
            (
                "user-agent",
                "Mozilla/5.0 (X11; Linux x86_64) Firefox/120.0",
            ),
            ("accept", "application/json"),
        ] {
            head.headers.insert(name, value.parse().unwrap());
        }
        if let Some(body) = body {
            head.headers
                .insert("content-type", "application/json".parse().unwrap());
            head.headers
                .insert("content-length", body.len().to_string().parse().unwrap());
        }
        let mut tx = Transaction::new(head);
        tx.request_body = body.map(|b| bytes::Bytes::from(b.to_string()));
        detector.inspect(Phase::RequestHead, &mut tx);
        detector.inspect(Phase::RequestBody, &mut tx);
        tx.findings
    };
    let benign = run("/api/items?page=2&sort=name", None);
    assert!(benign.iter().all(|f| f.enforcement.is_none()), "{benign:?}");
    let benign = run(
        "/api/orders",
        Some(r#"{"customer":"alice","items":[{"id":1,"qty":2}]}"#),
    );
    assert!(benign.iter().all(|f| f.enforcement.is_none()), "{benign:?}");
    let attack = run("/api/items?id=1%27%20OR%201%3D1--", None);
    let blocked = attack
        .iter()
        .find(|f| f.enforcement.is_some())
        .expect("blocked");
    assert_eq!(blocked.rule_id, "949110");
    assert!(blocked.score >= 5);
    assert!(attack
        .iter()
        .any(|f| f.rule_id.starts_with("942") && f.score == 0));
    let attack = run(
        "/api/orders",
        Some(r#"{"name":"<script>alert(1)</script>"}"#),
    );
    assert!(attack.iter().any(|f| f.enforcement.is_some()), "{attack:?}");
}
