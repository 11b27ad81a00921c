use crate::{Enforcement, Finding, Phase};
use http::StatusCode;
use serde::{Deserialize, Serialize};

/// Whether findings may block traffic.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum Mode {
    /// Refuse requests the decision stage condemns.
    #[default]
    Block,
    /// Forward everything; record what would have been blocked.
    Monitor,
}

impl std::str::FromStr for Mode {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "block" => Ok(Mode::Block),
            "monitor" => Ok(Mode::Monitor),
            other => Err(format!(
                "unknown mode `{other}` (expected `block` or `monitor`)"
            )),
        }
    }
}

/// A false-positive exclusion: findings of `rule` (exact id, or a prefix ending
/// in `*`) are dropped, optionally only at locations below `location`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Exclusion {
    pub rule: String,
    #[serde(default)]
    pub location: Option<String>,
}

impl Exclusion {
    pub fn matches(&self, finding: &Finding) -> bool {
        let rule_ok = match self.rule.strip_suffix('*') {
            Some(prefix) => finding.rule_id.starts_with(prefix),
            None => finding.rule_id == self.rule,
        };
        rule_ok
            && self
                .location
                .as_deref()
                .is_none_or(|loc| finding.location.starts_with(loc))
    }
}

/// What the decision stage does with the findings of one route.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DecisionPolicy {
    pub mode: Mode,
    /// Inbound anomaly score at or above which a request is blocked.
    pub inbound_threshold: u32,
    /// Outbound anomaly score at or above which a response is blocked.
    pub outbound_threshold: u32,
    pub exclusions: Vec<Exclusion>,
}

impl Default for DecisionPolicy {
    fn default() -> Self {
        DecisionPolicy {
            mode: Mode::Block,
            inbound_threshold: 5,
            outbound_threshold: 4,
            exclusions: Vec::new(),
        }
    }
}

/// The outcome for one exchange.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Action {
    Allowed,
    Blocked,
    /// Monitor mode: would have been blocked, was forwarded.
    Monitored,
}

impl Action {
    pub fn as_str(&self) -> &'static str {
        match self {
            Action::Allowed => "allowed",
            Action::Blocked => "blocked",
            Action::Monitored => "monitored",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Decision {
    pub action: Action,
    pub score: u32,
    /// The response to send when `action` is `Blocked`.
    pub enforcement: Option<Enforcement>,
}

impl DecisionPolicy {
    /// Drops excluded findings in place.
    pub fn apply_exclusions(&self, findings: &mut Vec<Finding>) {
        if !self.exclusions.is_empty() {
            findings.retain(|f| !self.exclusions.iter().any(|e| e.matches(f)));
        }
    }

    /// Decides on the findings so far, after `phase`.
    ///
    /// A finding carrying its own [`Enforcement`] decides alone (the most
    /// severe status wins: 401 before 403 before 429...). Otherwise the summed
    /// score is compared with the phase's threshold and a block is a 403.
    pub fn decide(&self, phase: Phase, findings: &[Finding]) -> Decision {
        let score: u32 = findings.iter().map(|f| f.score).sum();
        let enforced = findings
            .iter()
            .filter_map(|f| f.enforcement.as_ref())
            .min_by_key(|e| enforcement_rank(e.status));
        let threshold = if phase.is_request() {
            self.inbound_threshold
        } else {
            self.outbound_threshold
        };
        let condemned = enforced.cloned().or_else(|| {
            (score >= threshold && threshold > 0).then(|| {
                let status = if phase.is_request() {
                    StatusCode::FORBIDDEN
                } else {
                    StatusCode::BAD_GATEWAY
                };
                Enforcement::new(status, "Request blocked by security policy")
            })
        });
        match (condemned, self.mode) {
            (None, _) => Decision {
                action: Action::Allowed,
                score,
                enforcement: None,
            },
            (Some(e), Mode::Block) => Decision {
                action: Action::Blocked,
                score,
                enforcement: Some(e),
            },
            (Some(e), Mode::Monitor) => Decision {
                action: Action::Monitored,
                score,
                enforcement: Some(e),
            },
        }
    }
}

/// Lower ranks win when several findings demand different responses.
fn enforcement_rank(status: StatusCode) -> u16 {
    match status.as_u16() {
        400 => 0,
        401 => 1,
        403 => 2,
        404 => 3,
        405 => 4,
        413 => 5,
        414 => 6,
        415 => 7,
        431 => 8,
        429 => 9,
        other => 100 + other,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Category, Location, Severity};

    fn f(rule: &str, score: u32) -> Finding {
        Finding::new(
            rule,
            Category::SqlInjection,
            Severity::Critical,
            Location::query("q"),
            "x",
            "m",
        )
        .with_score(score)
    }

    #[test]
    fn threshold_blocks_in_block_mode_only() {
        let mut p = DecisionPolicy::default();
        let d = p.decide(Phase::RequestHead, &[f("a", 3)]);
        assert_eq!(d.action, Action::Allowed);
        let d = p.decide(Phase::RequestHead, &[f("a", 3), f("b", 2)]);
        assert_eq!(d.action, Action::Blocked);
        assert_eq!(d.enforcement.unwrap().status, StatusCode::FORBIDDEN);
        p.mode = Mode::Monitor;
        assert_eq!(
            p.decide(Phase::RequestHead, &[f("a", 9)]).action,
            Action::Monitored
        );
    }

    #[test]
    fn enforcement_overrides_score() {
        let p = DecisionPolicy::default();
        let limited =
            f("rl", 0).enforce(Enforcement::new(StatusCode::TOO_MANY_REQUESTS, "slow down"));
        let d = p.decide(Phase::RequestHead, &[limited]);
        assert_eq!(d.enforcement.unwrap().status, StatusCode::TOO_MANY_REQUESTS);
    }

    #[test]
    fn exclusions_by_rule_and_location() {
        let p = DecisionPolicy {
            exclusions: vec![
                Exclusion {
                    rule: "942*".into(),
                    location: Some("query".into()),
                },
                Exclusion {
                    rule: "941100".into(),
                    location: None,
                },
            ],
            ..Default::default()
        };
        let mut v = vec![f("942100", 5), f("941100", 5), f("930100", 5)];
        p.apply_exclusions(&mut v);
        assert_eq!(v.len(), 1);
        assert_eq!(v[0].rule_id, "930100");
    }
}
