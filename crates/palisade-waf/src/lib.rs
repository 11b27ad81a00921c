//! SecLang engine that runs the OWASP Core Rule Set (CRS) natively.
//!
//! # Model
//!
//! [`Waf::load`] reads a CRS directory (or any SecLang files), follows
//! `Include` directives and compiles every rule once: targets, operators
//! (regular expressions translated to the linear-time `regex` crate, phrase
//! lists to Aho-Corasick automata), transformations and actions. Loading is
//! the only I/O; evaluation is pure.
//!
//! Each HTTP exchange gets a [`WafTransaction`] that runs the ModSecurity
//! phases: 1 request headers, 2 request body, 3 response headers, 4 response
//! body, 5 logging. [`WafDetector`] plugs this into the Palisade pipeline as
//! the `crs` detector (phase 1 ↔ `RequestHead`, 2 ↔ `RequestBody`, 3 ↔
//! `ResponseHead`, 4 and 5 ↔ `ResponseBody`), keeping the transaction in
//! `tx.state`.
//!
//! # How the CRS anomaly score feeds the pipeline
//!
//! CRS rules add to `TX` anomaly scores and a blocking-evaluation rule
//! (949110 inbound, 959100 outbound, or any other `deny`) stops the
//! transaction. Palisade reports:
//!
//! * one finding per logging rule match, with the rule id, message, matched
//!   variable and redacted data, its CRS severity, and **score 0** (the
//!   CRS score is already summed by the rules themselves, so adding it again
//!   in the pipeline would count it twice);
//! * when a rule interrupts the transaction (engine `On`), one finding for
//!   that rule with an [`palisade_core::Enforcement`] (403 or the rule's
//!   `status`) and, as its score, the CRS anomaly score of that direction.
//!
//! The pipeline therefore blocks exactly when the CRS would. With
//! `detection_only` the rules run and report, but nothing enforces.
//!
//! # Cost
//!
//! Every `@rx` pattern is analysed at load for literals (or, failing that, a
//! small set of bytes) that any match must contain; see [`prefilter`]. A
//! transaction transforms each value once per distinct transformation chain
//! (cached), scans it once with a single Aho-Corasick automaton over all
//! literals, and runs a rule's regular expression only on values that
//! contain one of its literals. Rules whose literals occur in no value of a
//! collection skip that collection without looking at its values.
//!
//! # Conformance
//!
//! [`conformance::run_suite`] replays the CRS go-ftw regression suites
//! in-process (see that module for how requests, the backend and the log are
//! simulated); `tests/conformance.rs` runs the CRS v4.28.0 and 3.3.4 suites
//! against the checked-in lists in `conformance/known-failures-crs-v*.txt`.
//!
//! # Semantics and limits
//!
//! * Regular expressions run with `(?sm)` like ModSecurity v3 and match
//!   bytes as PCRE does without UTF mode. Constructs without a linear-time
//!   equivalent (lookaround, backreferences, possessive quantifiers, atomic
//!   groups) are rewritten to broader patterns; [`Waf::approximated_rules`]
//!   lists the rules concerned. See [`regex_compat`].
//! * Body processors are chosen from `Content-Type` (URL-encoded, multipart,
//!   `*/json`, `*/xml`) unless `ctl:requestBodyProcessor` says otherwise.
//!   JSON is flattened to `json.a.b` and `json.list.0`. XML supports the XPath
//!   subset CRS uses (`/*`, `//@*`, `//name`, `/a/b/@c`).
//! * `IP`, `GLOBAL`, `SESSION`, `USER` and `RESOURCE` live for one
//!   transaction: there is no persistent storage, so `initcol` and
//!   `expirevar` have no lasting effect.
//! * `@rbl` never matches (no network access) and `@geoLookup` never
//!   matches and leaves `GEO` empty (no GeoIP database). Both load without
//!   error so the Debian CRS 3.3.4 `REQUEST-910` rules load as written.
//! * `ENV` is empty: the engine does not read the process environment.
//! * Audit-log, debug-log, upload-storage and PCRE-limit directives are
//!   accepted and ignored; everything else unknown is a load error with
//!   `file:line`.
//! * `@rx` patterns containing `%{...}` are expanded and compiled at run
//!   time (cached per operator, at most 64 expansions).
//! * Transaction collections are built from the raw request; REQUEST_BODY is
//!   not exposed when the XML or multipart processor consumed the body
//!   (unless `ctl:forceRequestBodyVariable=On`).

pub mod body;
pub mod conformance;
mod detector;
pub mod engine;
pub mod operators;
pub mod prefilter;
pub mod regex_compat;
pub mod rules;
pub mod seclang;
pub mod transforms;
pub mod variables;

pub use detector::WafDetector;
pub use engine::{Interruption, MatchedRule, RequestInput, ResponseInput, WafTransaction};
pub use rules::ApproximatedRule;

use serde::Deserialize;
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// Why a rule set could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    #[error("{}{}: {source}", path.display(), location.as_ref().map(|l| format!(" (included from {l})")).unwrap_or_default())]
    Io {
        path: PathBuf,
        location: Option<String>,
        source: std::io::Error,
    },
    #[error("{location}: {message}")]
    Syntax { location: String, message: String },
    #[error("{location}: {directive}: {message}")]
    Directive {
        location: String,
        directive: String,
        message: String,
    },
    #[error("invalid configuration: {0}")]
    Config(String),
}

fn default_paranoia() -> u8 {
    1
}

/// Where the rules come from and how the CRS is tuned.
#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct WafConfig {
    /// CRS directory: `DIR/rules/*.conf` when `DIR/rules` exists, else
    /// `DIR/*.conf`.
    #[serde(default)]
    pub rules_dir: Option<PathBuf>,
    /// `crs-setup.conf`. When absent, `DIR/crs-setup.conf` or
    /// `DIR/crs-setup.conf.example` is used if present.
    #[serde(default)]
    pub setup_file: Option<PathBuf>,
    /// Blocking (and detection) paranoia level, 1 to 4.
    #[serde(default = "default_paranoia")]
    pub paranoia: u8,
    /// Detection paranoia level when higher than `paranoia` (rules above the
    /// blocking level report but do not score towards blocking).
    #[serde(default)]
    pub detection_paranoia: Option<u8>,
    /// Inbound anomaly score threshold (CRS default 5).
    #[serde(default)]
    pub inbound_threshold: Option<u32>,
    /// Outbound anomaly score threshold (CRS default 4).
    #[serde(default)]
    pub outbound_threshold: Option<u32>,
    /// Block at the end of phase 1 when the score is already over the threshold.
    #[serde(default)]
    pub early_blocking: bool,
    /// Files loaded after the setup file and before the rules
    /// (`REQUEST-900` style exclusions that use `ctl`).
    #[serde(default)]
    pub before_files: Vec<PathBuf>,
    /// Files loaded after the rules: exclusions (`SecRuleRemoveById`,
    /// `SecRuleUpdateTargetById`) and custom rules.
    #[serde(default)]
    pub extra_files: Vec<PathBuf>,
    /// Run and report without enforcing (`SecRuleEngine DetectionOnly`).
    #[serde(default)]
    pub detection_only: bool,
}

impl Default for WafConfig {
    fn default() -> Self {
        WafConfig {
            rules_dir: None,
            setup_file: None,
            paranoia: 1,
            detection_paranoia: None,
            inbound_threshold: None,
            outbound_threshold: None,
            early_blocking: false,
            before_files: Vec::new(),
            extra_files: Vec::new(),
            detection_only: false,
        }
    }
}

impl WafConfig {
    /// A configuration for a CRS directory at the given paranoia level.
    pub fn crs(dir: impl Into<PathBuf>, paranoia: u8) -> Self {
        WafConfig {
            rules_dir: Some(dir.into()),
            paranoia,
            ..WafConfig::default()
        }
    }
}

/// Id of the generated rule carrying [`WafConfig`] settings into `TX`.
pub const CONFIG_RULE_ID: u64 = 99_001;

/// A loaded, compiled rule set. Cheap to clone.
#[derive(Debug, Clone)]
pub struct Waf {
    rules: Arc<rules::RuleSet>,
}

fn rule_files(dir: &Path) -> Result<Vec<PathBuf>, LoadError> {
    let rules_sub = dir.join("rules");
    let base = if rules_sub.is_dir() {
        rules_sub
    } else {
        dir.to_path_buf()
    };
    let entries = std::fs::read_dir(&base).map_err(|source| LoadError::Io {
        path: base.clone(),
        location: None,
        source,
    })?;
    let mut files: Vec<PathBuf> = entries
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|e| e == "conf"))
        .collect();
    files.sort();
    Ok(files)
}

impl Waf {
    /// Loads the rule set described by `config`.
    pub fn load(config: &WafConfig) -> Result<Waf, LoadError> {
        Waf::load_with_text(config, "")
    }

    /// Like [`Waf::load`], with SecLang `extra` placed right after the
    /// configuration rule (before the CRS rules).
    pub fn load_with_text(config: &WafConfig, extra: &str) -> Result<Waf, LoadError> {
        if !(1..=4).contains(&config.paranoia) {
            return Err(LoadError::Config(format!(
                "paranoia must be 1 to 4, not {}",
                config.paranoia
            )));
        }
        let detection = config.detection_paranoia.unwrap_or(config.paranoia);
        if !(config.paranoia..=4).contains(&detection) {
            return Err(LoadError::Config(format!(
                "detection_paranoia must be between paranoia and 4, not {detection}"
            )));
        }
        let mut directives = Vec::new();
        let setup = config.setup_file.clone().or_else(|| {
            let dir = config.rules_dir.as_ref()?;
            ["crs-setup.conf", "crs-setup.conf.example"]
                .iter()
                .map(|n| dir.join(n))
                .find(|p| p.is_file())
        });
        if let Some(setup) = &setup {
            directives.extend(seclang::load_file(setup)?);
        }
        directives.extend(seclang::parse_text(
            &config_rule(config, detection),
            &Arc::from(Path::new("<palisade waf config>")),
        )?);
        directives.extend(seclang::parse_text(
            extra,
            &Arc::from(Path::new("<palisade waf extra>")),
        )?);
        for file in &config.before_files {
            directives.extend(seclang::load_file(file)?);
        }
        if let Some(dir) = &config.rules_dir {
            for file in rule_files(dir)? {
                directives.extend(seclang::load_file(&file)?);
            }
        }
        for file in &config.extra_files {
            directives.extend(seclang::load_file(file)?);
        }
        let mut builder = rules::Builder::default();
        for directive in &directives {
            builder.add(directive)?;
        }
        if config.detection_only {
            builder.add(&engine_directive("DetectionOnly"))?;
        }
        Ok(Waf {
            rules: Arc::new(builder.finish()?),
        })
    }

    /// Compiles SecLang text (for tests and embedded rule sets). `Include`
    /// paths resolve against `base`'s directory.
    pub fn from_text(text: &str, base: &Path) -> Result<Waf, LoadError> {
        let file: Arc<Path> = Arc::from(base);
        let mut builder = rules::Builder::default();
        for directive in seclang::parse_text(text, &file)? {
            if directive.name.eq_ignore_ascii_case("include") {
                let target = directive.args.first().cloned().unwrap_or_default();
                for d in seclang::load_file(&seclang::resolve_relative(base, &target))? {
                    builder.add(&d)?;
                }
            } else {
                builder.add(&directive)?;
            }
        }
        Ok(Waf {
            rules: Arc::new(builder.finish()?),
        })
    }

    /// Starts a transaction.
    pub fn transaction(&self) -> WafTransaction {
        WafTransaction::new(&self.rules)
    }

    /// Number of rules (chains count once).
    pub fn rule_count(&self) -> usize {
        self.rules.rule_count
    }

    /// Rules whose regular expressions had to be approximated.
    pub fn approximated_rules(&self) -> &[ApproximatedRule] {
        &self.rules.approximated
    }

    /// How many `@rx` operators the literal prefilter covers.
    pub fn prefiltered_operators(&self) -> usize {
        self.rules.prefiltered_operators
    }

    /// `SecComponentSignature` values (the CRS version).
    pub fn component_signatures(&self) -> &[String] {
        &self.rules.component_signatures
    }

    /// Whether any rule runs in `phase` (1 to 5).
    pub fn has_rules_in_phase(&self, phase: u8) -> bool {
        usize::from(phase)
            .checked_sub(1)
            .and_then(|i| self.rules.phases.get(i))
            .is_some_and(|items| items.iter().any(|i| matches!(i, rules::Item::Rule(_))))
    }

    pub(crate) fn response_body_access(&self) -> bool {
        self.rules.response_body_access
    }
}

fn engine_directive(mode: &str) -> seclang::Directive {
    seclang::Directive {
        name: "SecRuleEngine".into(),
        args: vec![mode.into()],
        file: Arc::from(Path::new("<palisade waf config>")),
        line: 1,
    }
}

/// The `SecAction` that carries the configuration into `TX`. It runs after
/// `crs-setup.conf`'s own `SecAction`s, so it takes precedence.
fn config_rule(config: &WafConfig, detection: u8) -> String {
    let mut setvars = vec![
        format!("setvar:tx.blocking_paranoia_level={}", config.paranoia),
        format!("setvar:tx.detection_paranoia_level={detection}"),
        // CRS 3.x names.
        format!("setvar:tx.paranoia_level={}", config.paranoia),
        format!("setvar:tx.executing_paranoia_level={detection}"),
    ];
    if let Some(t) = config.inbound_threshold {
        setvars.push(format!("setvar:tx.inbound_anomaly_score_threshold={t}"));
    }
    if let Some(t) = config.outbound_threshold {
        setvars.push(format!("setvar:tx.outbound_anomaly_score_threshold={t}"));
    }
    if config.early_blocking {
        setvars.push("setvar:tx.early_blocking=1".into());
    }
    format!(
        "SecAction \"id:{CONFIG_RULE_ID},phase:1,pass,nolog,{}\"\n",
        setvars.join(",")
    )
}

#[cfg(test)]
mod tests;
