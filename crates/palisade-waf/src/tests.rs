//! Engine tests on small rule sets.

use super::*;
use palisade_core::{Detector, Phase, RequestHead, Transaction};
use std::sync::OnceLock;

fn waf(rules: &str) -> Waf {
    Waf::from_text(rules, Path::new("inline.conf")).unwrap()
}

fn run(waf: &Waf, request: &RequestInput, body: &[u8]) -> WafTransaction {
    let mut tx = waf.transaction();
    tx.process_request_headers(request);
    tx.process_request_body(body);
    tx
}

fn ids(tx: &WafTransaction) -> Vec<u64> {
    tx.matched_rules()
        .iter()
        .filter(|m| m.logged)
        .map(|m| m.id)
        .collect()
}

#[test]
fn args_and_transforms() {
    let w = waf(r#"
SecRule ARGS "@rx (?i)<script" "id:1,phase:2,pass,t:none,t:urlDecodeUni,msg:'xss in %{MATCHED_VAR_NAME}'"
SecRule ARGS:id "@streq 5" "id:2,phase:1,pass"
"#);
    let tx = run(&w, &RequestInput::new("GET", "/?id=5&q=%253Cscript"), b"");
    assert_eq!(ids(&tx), vec![2, 1]);
    assert_eq!(tx.matched_rules()[1].message, "xss in ARGS:q");
}

/// What the engine learns about a collection in one phase must not hide
/// what a later phase adds to it (ARGS gains the body's arguments), while
/// the header collections, fixed before phase 1, are judged the same in
/// every phase.
#[test]
fn collection_unions_follow_the_phases() {
    let w = waf(r#"
SecRule ARGS "@rx (?i)union\s+select" "id:1,phase:1,pass,t:none,t:urlDecodeUni"
SecRule ARGS "@rx (?i)union\s+select" "id:2,phase:2,pass,t:none,t:urlDecodeUni"
SecRule REQUEST_HEADERS:User-Agent "@rx (?i)sqlmap" "id:3,phase:1,pass,t:none,t:lowercase"
SecRule REQUEST_HEADERS:User-Agent "@rx (?i)sqlmap" "id:4,phase:2,pass,t:none,t:lowercase"
SecRule ARGS_NAMES "@rx (?i)^debug$" "id:5,phase:2,pass,t:none"
"#);
    let request = RequestInput::new("POST", "/search?q=plain+words")
        .header("Content-Type", "application/x-www-form-urlencoded")
        .header("User-Agent", "sqlmap/1.7");
    let tx = run(
        &w,
        &request,
        b"debug=1&filter=1%20UNION%20SELECT%20password",
    );
    assert_eq!(ids(&tx), vec![3, 2, 4, 5]);
    let clean = run(&w, &request, b"filter=plain");
    assert_eq!(ids(&clean), vec![3, 4]);
}

#[test]
fn setvar_chain_capture_and_macros() {
    let w = waf(r#"
SecAction "id:10,phase:1,pass,nolog,setvar:tx.score=0"
SecRule REQUEST_HEADERS_NAMES "@rx ^(x-.*)$" "id:11,phase:1,pass,capture,t:lowercase,setvar:'tx.hdr_%{tx.1}=/%{tx.1}/',chain"
  SecRule TX:/^hdr_/ "@within /x-bad/ /x-worse/" "setvar:tx.score=+5"
SecRule TX:score "@ge 5" "id:12,phase:1,deny,status:418,msg:'score %{tx.score}'"
"#);
    let request = RequestInput::new("GET", "/")
        .header("X-Bad", "1")
        .header("Accept", "x");
    let tx = run(&w, &request, b"");
    assert_eq!(ids(&tx), vec![11, 12]);
    let interruption = tx.interruption().unwrap();
    assert_eq!(interruption.status, 418);
    assert_eq!(interruption.message, "score 5");
}

#[test]
fn exclusions_and_counting() {
    let w = waf(r#"
SecRule ARGS|!ARGS:safe "@contains evil" "id:20,phase:2,pass"
SecRule &ARGS "@eq 2" "id:21,phase:2,pass"
SecRule &REQUEST_HEADERS:Missing "@eq 0" "id:22,phase:1,pass"
"#);
    let tx = run(&w, &RequestInput::new("GET", "/?safe=evil&other=ok"), b"");
    assert_eq!(ids(&tx), vec![22, 21]);
}

#[test]
fn skip_after_and_ctl() {
    let w = waf(r#"
SecRule REQUEST_URI "@beginsWith /skip" "id:30,phase:1,pass,nolog,skipAfter:END"
SecAction "id:31,phase:1,pass"
SecMarker END
SecRule REQUEST_URI "@beginsWith /remove" "id:32,phase:1,pass,nolog,ctl:ruleRemoveById=33"
SecAction "id:33,phase:1,pass"
SecRule ARGS "@rx ." "id:34,phase:1,pass,nolog,ctl:ruleRemoveTargetById=35;ARGS:a"
SecRule ARGS "@rx ." "id:35,phase:1,pass"
"#);
    let tx = run(&w, &RequestInput::new("GET", "/skip"), b"");
    assert_eq!(ids(&tx), vec![33]);
    let tx = run(&w, &RequestInput::new("GET", "/remove?a=1"), b"");
    assert_eq!(ids(&tx), vec![31]);
    let tx = run(&w, &RequestInput::new("GET", "/x?a=1&b=2"), b"");
    assert_eq!(ids(&tx), vec![31, 33, 35]);
    assert_eq!(
        tx.matched_rules().last().unwrap().matched_var_name,
        "ARGS:b"
    );
}

#[test]
fn body_processors() {
    let w = waf(r#"
SecRule ARGS:json.user.name "@streq bob" "id:40,phase:2,pass"
SecRule XML:/* "@contains hello" "id:41,phase:2,pass"
SecRule REQBODY_ERROR "!@eq 0" "id:42,phase:2,pass"
SecRule ARGS_POST:a "@streq 1" "id:43,phase:2,pass"
"#);
    let json = RequestInput::new("POST", "/").header("Content-Type", "application/json");
    assert_eq!(
        ids(&run(&w, &json, br#"{"user":{"name":"bob"}}"#)),
        vec![40]
    );
    assert_eq!(ids(&run(&w, &json, b"{oops")), vec![42]);
    let xml = RequestInput::new("POST", "/").header("Content-Type", "text/xml");
    assert_eq!(ids(&run(&w, &xml, b"<a><b>hello</b></a>")), vec![41]);
    let form =
        RequestInput::new("POST", "/").header("Content-Type", "application/x-www-form-urlencoded");
    assert_eq!(ids(&run(&w, &form, b"a=1")), vec![43]);
}

#[test]
fn load_errors_are_located() {
    let e = Waf::from_text(
        "SecRule ARGS \"@rx a\" \"id:1,pass\"\nSecFoo bar\n",
        Path::new("f.conf"),
    )
    .unwrap_err();
    assert!(e.to_string().contains("f.conf:2"), "{e}");
    let e = Waf::from_text(
        "SecRule ARGS \"@bogus a\" \"id:1,pass\"\n",
        Path::new("f.conf"),
    )
    .unwrap_err();
    assert!(e.to_string().contains("unsupported operator"), "{e}");
    let e = Waf::from_text(
        "SecRule NOPE \"@rx a\" \"id:1,pass\"\n",
        Path::new("f.conf"),
    )
    .unwrap_err();
    assert!(e.to_string().contains("unknown variable"), "{e}");
    let e = Waf::from_text(
        "SecRule ARGS \"@rx a\" \"id:1,pass,t:nope\"\n",
        Path::new("f.conf"),
    )
    .unwrap_err();
    assert!(e.to_string().contains("transformation"), "{e}");
    let e = Waf::from_text(
        "SecRule ARGS \"@rx a\" \"id:1,pass,chain\"\n",
        Path::new("f.conf"),
    )
    .unwrap_err();
    assert!(e.to_string().contains("chain"), "{e}");
    let e = Waf::from_text(
        "SecRule ARGS \"@rx a\" \"id:1,pass\"\nSecRule ARGS \"@rx a\" \"id:1,pass\"\n",
        Path::new("f.conf"),
    )
    .unwrap_err();
    assert!(e.to_string().contains("duplicate"), "{e}");
    assert!(Waf::from_text(
        "SecAuditEngine On\nSecDebugLogLevel 0\n",
        Path::new("f.conf")
    )
    .is_ok());
}

#[test]
fn detector_reports_findings_and_enforcement() {
    let w = waf(r#"
SecDefaultAction "phase:2,log,pass"
SecRule ARGS "@rx attack" "id:942999,phase:2,block,severity:CRITICAL,tag:attack-sqli,msg:'SQLi',setvar:tx.anomaly_score=+5"
SecRule TX:anomaly_score "@ge 5" "id:949110,phase:2,deny,status:403,msg:'Inbound Anomaly Score Exceeded'"
"#);
    let detector = WafDetector::new(w);
    assert_eq!(detector.name(), "crs");
    let mut tx = Transaction::new(RequestHead::synthetic(http::Method::GET, "/?q=attack"));
    detector.inspect(Phase::RequestHead, &mut tx);
    assert!(tx.findings.is_empty());
    detector.inspect(Phase::RequestBody, &mut tx);
    assert_eq!(tx.findings.len(), 2);
    let rule = &tx.findings[0];
    assert_eq!(rule.rule_id, "942999");
    assert_eq!(rule.score, 0);
    assert_eq!(rule.location.as_str(), "query.q");
    assert_eq!(rule.category, palisade_core::Category::SqlInjection);
    let block = &tx.findings[1];
    assert_eq!(block.rule_id, "949110");
    assert_eq!(block.score, 5);
    assert_eq!(
        block.enforcement.as_ref().unwrap().status,
        http::StatusCode::FORBIDDEN
    );
    let decision =
        palisade_core::DecisionPolicy::default().decide(Phase::RequestBody, &tx.findings);
    assert_eq!(decision.action, palisade_core::Action::Blocked);
}

#[test]
fn detection_only_reports_without_enforcing() {
    let text = "SecRuleEngine DetectionOnly\nSecRule ARGS \"@rx x\" \"id:1,phase:1,deny,log\"\n";
    let w = waf(text);
    let tx = run(&w, &RequestInput::new("GET", "/?a=x"), b"");
    assert!(tx.interruption().is_none());
    assert_eq!(ids(&tx), vec![1]);
}

proptest::proptest! {
    #[test]
    fn seclang_loading_never_panics(text in "[ -~\\n\\\\\"']{0,200}") {
        let _ = Waf::from_text(&text, Path::new("prop.conf"));
    }

    #[test]
    fn rule_text_never_panics(targets in "[A-Z_:!&|/'a-z.*]{1,30}", op in "[ -~]{0,40}", actions in "[ -~]{0,60}") {
        let text = format!("SecRule {targets} \"{}\" \"id:1,{}\"\n", op.replace('"', ""), actions.replace('"', ""));
        let _ = Waf::from_text(&text, Path::new("prop.conf"));
    }

    #[test]
    fn pcre_translation_never_panics(pattern in "[ -~]{0,60}") {
        let _ = regex_compat::compile(&pattern);
        let _ = prefilter::required_literals(&pattern);
        let mut builder = prefilter::PrefilterBuilder::default();
        if let Some(filter) = builder.regex_filter(&pattern) {
            if let Some(prefilter) = builder.build() {
                let _ = prefilter.scan(pattern.as_bytes()).admits(filter);
            }
        }
    }

    #[test]
    fn evaluation_never_panics(uri in "/[ -~]{0,60}", body in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..200), ct in "(application/json|text/xml|multipart/form-data; boundary=x|application/x-www-form-urlencoded)") {
        let w = waf(r#"
SecRule ARGS|ARGS_NAMES|REQUEST_HEADERS|XML:/*|REQUEST_BODY|FILES "@rx (?i)a.b" "id:1,phase:2,pass,capture,t:urlDecodeUni,t:htmlEntityDecode,setvar:tx.x=+1"
SecRule MULTIPART_STRICT_ERROR|REQBODY_ERROR "!@eq 0" "id:2,phase:2,pass"
"#);
        let request = RequestInput::new("POST", &uri).header("Content-Type", &ct);
        let _ = run(&w, &request, &body);
    }
}

/// The Core Rule Set at paranoia level 4 when it sits beside the
/// repository (as in CI), for tests that check every rule of it.
fn crs_rules() -> Option<Arc<rules::RuleSet>> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/crs-v4.28.0");
    if !dir.is_dir() {
        eprintln!("skipping: {} not present", dir.display());
        return None;
    }
    Some(Waf::load(&WafConfig::crs(dir, 4)).expect("CRS loads").rules)
}

/// Every filtered `@rx`/`@pm` link of a rule set, with its filter.
fn filtered_operators(rules: &rules::RuleSet) -> Vec<(u64, prefilter::FilterId, rules::Rule)> {
    let mut out = Vec::new();
    for item in rules.phases.iter().flatten() {
        let rules::Item::Rule(rule) = item else {
            continue;
        };
        let mut link: Option<&rules::Rule> = Some(rule);
        while let Some(current) = link {
            if let Some(filter) = current.filter {
                out.push((rule.id, filter, current.clone()));
            }
            link = current.chain.as_deref();
        }
    }
    out
}

fn operator_matches(rule: &rules::Rule, input: &[u8]) -> bool {
    match &rule.operator.kind {
        operators::OpKind::Rx(re) => re.is_match(input),
        operators::OpKind::Pm(ac, _) => ac.find(input).is_some(),
        _ => true,
    }
}

/// Pieces of attacks and of ordinary values, joined at random below.
const TOKENS: &[&str] = &[
    "select",
    "union",
    "from",
    "where",
    " or ",
    "and",
    "1=1",
    "'",
    "\"",
    "`",
    "--",
    "#",
    "/*",
    "*/",
    ";",
    "|",
    "||",
    "&&",
    "&",
    "$",
    "${",
    "}",
    "{",
    "(",
    ")",
    "[",
    "]",
    "<",
    ">",
    "=",
    "%",
    "\\",
    "/",
    "..",
    ".",
    ",",
    ":",
    "@",
    "-",
    "_",
    " ",
    "\t",
    "\n",
    "script",
    "onerror",
    "onload",
    "javascript:",
    "alert",
    "document.cookie",
    "eval",
    "cat",
    "/etc/passwd",
    "ls",
    "wget",
    "curl",
    "bash",
    "sh",
    "busybox",
    "nc",
    "exec",
    "sleep",
    "benchmark",
    "xp_cmdshell",
    "jndi:ldap",
    "php://",
    "file://",
    "http://",
    "expect",
    "system",
    "passthru",
    "{{",
    "}}",
    "<%",
    "%>",
    "0x41",
    "char",
    "concat",
    "information_schema",
    "a",
    "Z",
    "7",
    "widget",
    "alice@example.com",
    "2024-01-01",
    "Mozilla/5.0",
    "\u{e9}",
    "\u{ff1c}",
    "\0",
];

proptest::proptest! {
    #![proptest_config(proptest::prelude::ProptestConfig::with_cases(96))]

    /// The prefilter never rules out a value its operator matches: checked
    /// for every filtered operator of the CRS on values built from attack
    /// and ordinary pieces, as they are and lowercased (the engine judges a
    /// plain value under a lowercasing chain from the value's own scan).
    #[test]
    fn prefilter_never_hides_a_crs_match(
        picks in proptest::collection::vec(0..TOKENS.len(), 1..12),
    ) {
        static RULES: OnceLock<Option<Arc<rules::RuleSet>>> = OnceLock::new();
        let Some(rules) = RULES.get_or_init(crs_rules) else { return Ok(()) };
        let Some(prefilter) = &rules.prefilter else { return Ok(()) };
        let value: Vec<u8> = picks.iter().flat_map(|&i| TOKENS[i].bytes()).collect();
        let candidates = prefilter.scan(&value);
        let lowered = value.to_ascii_lowercase();
        for (id, filter, link) in filtered_operators(rules) {
            if candidates.admits(filter) {
                continue;
            }
            proptest::prop_assert!(
                !operator_matches(&link, &value),
                "rule {} matches {:?} but its filter ruled it out", id, String::from_utf8_lossy(&value)
            );
            if link.plain_effect == transforms::PlainEffect::Lowercased && prefilter::is_plain(&value) {
                proptest::prop_assert!(!operator_matches(&link, &lowered), "rule {} (lowercased)", id);
            }
        }
    }
}
