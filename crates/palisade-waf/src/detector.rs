//! The `crs` detector: runs a [`Waf`] inside the Palisade pipeline.

use crate::engine::{MatchedRule, RequestInput, ResponseInput, WafTransaction};
use crate::Waf;
use http::{StatusCode, Version};
use palisade_core::{
    Category, Detector, Enforcement, Finding, Location, Phase, Severity, Transaction,
};

/// Runs the SecLang engine as a [`Detector`] named `crs`.
#[derive(Debug, Clone)]
pub struct WafDetector {
    waf: Waf,
}

impl WafDetector {
    pub fn new(waf: Waf) -> Self {
        WafDetector { waf }
    }

    pub fn waf(&self) -> &Waf {
        &self.waf
    }
}

/// Per-exchange state kept in `Transaction::state`.
#[derive(Debug, Clone)]
struct CrsState {
    waf_tx: WafTransaction,
    /// How many matched rules were already turned into findings.
    reported: usize,
    interruption_reported: bool,
}

fn protocol(version: Version) -> &'static [u8] {
    match version {
        Version::HTTP_09 => b"HTTP/0.9",
        Version::HTTP_10 => b"HTTP/1.0",
        Version::HTTP_2 => b"HTTP/2.0",
        Version::HTTP_3 => b"HTTP/3.0",
        _ => b"HTTP/1.1",
    }
}

fn headers_of(map: &http::HeaderMap) -> Vec<(Vec<u8>, Vec<u8>)> {
    map.iter()
        .map(|(n, v)| (n.as_str().as_bytes().to_vec(), v.as_bytes().to_vec()))
        .collect()
}

/// Maps CRS tags to the Palisade taxonomy.
pub fn category_for(tags: &[String]) -> Category {
    for tag in tags {
        let category = match tag.to_ascii_lowercase().as_str() {
            "attack-sqli" => Category::SqlInjection,
            "attack-xss" => Category::Xss,
            "attack-rce" => Category::CommandInjection,
            "attack-lfi" => Category::PathTraversal,
            "attack-rfi" => Category::RemoteFileInclusion,
            "attack-ssrf" => Category::Ssrf,
            "attack-injection-php" | "attack-injection-java" | "attack-injection-generic" => {
                Category::CodeInjection
            }
            "attack-fixation" => Category::BrokenAuthentication,
            "attack-protocol" | "attack-multipart-header" => Category::ProtocolViolation,
            "attack-reputation-scanner"
            | "attack-reputation-scripting"
            | "attack-reputation-crawler" => Category::AutomatedThreat,
            "attack-disclosure" => Category::InformationLeak,
            "attack-dos" => Category::ResourceLimit,
            "attack-nodejs" => Category::CodeInjection,
            _ => continue,
        };
        return category;
    }
    Category::Other
}

/// Maps a ModSecurity severity (0 emergency .. 7 debug) to Palisade's scale.
pub fn severity_for(severity: Option<u8>) -> Severity {
    match severity {
        Some(0..=2) => Severity::Critical,
        Some(3) => Severity::Error,
        Some(4) => Severity::Warning,
        Some(5) => Severity::Notice,
        _ => Severity::Info,
    }
}

/// Turns a SecLang variable name (`ARGS_GET:id`) into a Palisade location.
pub fn location_for(var_name: &str) -> Location {
    let (var, key) = match var_name.split_once(':') {
        Some((v, k)) => (v, Some(k)),
        None => (var_name, None),
    };
    match (var, key) {
        ("ARGS_GET" | "ARGS_GET_NAMES", Some(k)) => Location::query(k),
        ("ARGS" | "ARGS_NAMES" | "ARGS_POST" | "ARGS_POST_NAMES", Some(k)) => {
            match k.strip_prefix("json.") {
                Some(path) => Location::json(&format!("$.{path}")),
                None if k == "json" => Location::json("$"),
                None => Location::form(k),
            }
        }
        ("REQUEST_HEADERS" | "REQUEST_HEADERS_NAMES", Some(k)) => Location::header(k),
        ("REQUEST_COOKIES" | "REQUEST_COOKIES_NAMES", Some(k)) => Location::cookie(k),
        ("FILES" | "FILES_NAMES" | "MULTIPART_PART_HEADERS", Some(k)) => {
            Location::new(format!("multipart.{k}"))
        }
        ("XML", Some(k)) => Location::new(format!("xml.{k}")),
        ("REQUEST_URI" | "REQUEST_URI_RAW" | "REQUEST_FILENAME" | "REQUEST_BASENAME", _) => {
            Location::new("path")
        }
        ("QUERY_STRING", _) => Location::new("query"),
        ("REQUEST_BODY", _) => Location::new("body"),
        ("RESPONSE_BODY", _) => Location::new("response.body"),
        ("RESPONSE_HEADERS", Some(k)) => {
            Location::new(format!("response.header.{}", k.to_ascii_lowercase()))
        }
        (other, Some(k)) => Location::new(format!("{}.{k}", other.to_ascii_lowercase())),
        (other, None) => Location::new(other.to_ascii_lowercase()),
    }
}

fn finding_for(m: &MatchedRule) -> Finding {
    let location = location_for(&m.matched_source);
    let evidence = String::from_utf8_lossy(&m.matched_value);
    Finding::new(
        m.id.to_string(),
        category_for(&m.tags),
        severity_for(m.severity),
        location,
        &evidence,
        m.message.clone(),
    )
    .with_score(0)
}

fn score_of(waf_tx: &WafTransaction, names: &[&str]) -> u32 {
    names
        .iter()
        .filter_map(|n| waf_tx.tx_var(n))
        .filter_map(|v| std::str::from_utf8(v).ok()?.trim().parse::<u32>().ok())
        .max()
        .unwrap_or(0)
}

impl CrsState {
    fn report(&mut self, tx_findings: &mut Vec<Finding>) {
        let matched = self.waf_tx.matched_rules();
        for m in matched.get(self.reported..).unwrap_or_default() {
            let interrupting = self
                .waf_tx
                .interruption()
                .is_some_and(|i| i.rule_id == m.id && m.disruptive);
            if m.logged && m.id != 0 && !interrupting {
                tx_findings.push(finding_for(m));
            }
        }
        self.reported = matched.len();
        if self.interruption_reported {
            return;
        }
        let Some(interruption) = self.waf_tx.interruption() else {
            return;
        };
        self.interruption_reported = true;
        let inbound = interruption.phase <= 2;
        let score = if inbound {
            score_of(
                &self.waf_tx,
                &[
                    "blocking_inbound_anomaly_score",
                    "anomaly_score",
                    "inbound_anomaly_score",
                ],
            )
        } else {
            score_of(
                &self.waf_tx,
                &["blocking_outbound_anomaly_score", "outbound_anomaly_score"],
            )
        };
        let rule = matched.iter().rev().find(|m| m.id == interruption.rule_id);
        let (category, severity, location, evidence) = match rule {
            Some(m) => (
                category_for(&m.tags),
                Severity::Critical,
                location_for(&m.matched_source),
                String::from_utf8_lossy(&m.matched_value).into_owned(),
            ),
            None => (
                Category::ResourceLimit,
                Severity::Critical,
                Location::new("body"),
                String::new(),
            ),
        };
        let status = StatusCode::from_u16(interruption.status).unwrap_or(StatusCode::FORBIDDEN);
        let title = if inbound {
            "Request blocked by the OWASP Core Rule Set"
        } else {
            "Response blocked by the OWASP Core Rule Set"
        };
        let rule_id = if interruption.rule_id == 0 {
            "crs.request_body_limit".to_string()
        } else {
            interruption.rule_id.to_string()
        };
        tx_findings.push(
            Finding::new(
                rule_id,
                category,
                severity,
                location,
                &evidence,
                interruption.message.clone(),
            )
            .with_score(score)
            .enforce(Enforcement::new(status, title)),
        );
    }
}

impl Detector for WafDetector {
    fn name(&self) -> &'static str {
        "crs"
    }

    fn wants(&self, phase: Phase) -> bool {
        match phase {
            Phase::RequestHead | Phase::RequestBody => true,
            Phase::ResponseHead => self.waf.has_rules_in_phase(3),
            Phase::ResponseBody => {
                self.waf.response_body_access()
                    && (self.waf.has_rules_in_phase(4) || self.waf.has_rules_in_phase(5))
            }
        }
    }

    fn inspect(&self, phase: Phase, tx: &mut Transaction) {
        let mut state = match tx.state.remove::<CrsState>() {
            Some(s) => s,
            None => {
                let mut waf_tx = self.waf.transaction();
                let request = &tx.request;
                let input = RequestInput {
                    method: request.method.as_str().as_bytes().to_vec(),
                    uri: request.uri.to_string().into_bytes(),
                    protocol: protocol(request.version).to_vec(),
                    headers: headers_of(&request.headers),
                    remote_addr: request.client_ip,
                    remote_port: 0,
                    server_port: if request.tls { 443 } else { 80 },
                };
                waf_tx.process_request_headers(&input);
                CrsState {
                    waf_tx,
                    reported: 0,
                    interruption_reported: false,
                }
            }
        };
        match phase {
            Phase::RequestHead => {}
            Phase::RequestBody => {
                if state.waf_tx.phases_done() < 2 {
                    let body = tx.request_body.clone().unwrap_or_default();
                    state.waf_tx.process_request_body(&body);
                }
            }
            Phase::ResponseHead | Phase::ResponseBody => {
                if state.waf_tx.phases_done() < 2 {
                    let body = tx.request_body.clone().unwrap_or_default();
                    state.waf_tx.process_request_body(&body);
                }
                if state.waf_tx.phases_done() < 3 {
                    if let Some(response) = &tx.response {
                        let input = ResponseInput {
                            status: response.status.as_u16(),
                            protocol: protocol(response.version).to_vec(),
                            headers: headers_of(&response.headers),
                        };
                        state.waf_tx.process_response_headers(&input);
                    }
                }
                if phase == Phase::ResponseBody && state.waf_tx.phases_done() < 4 {
                    let body = tx.response_body.clone().unwrap_or_default();
                    state.waf_tx.process_response_body(&body);
                }
            }
        }
        state.report(&mut tx.findings);
        tx.state.insert(state);
    }
}
