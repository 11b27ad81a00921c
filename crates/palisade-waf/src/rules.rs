//! Interpretation of directives into a compiled rule set.

use crate::operators::{self, OpKind, Operator};
use crate::prefilter::{FilterId, Prefilter, PrefilterBuilder};
use crate::regex_compat::{self, Approximation};
use crate::seclang::Directive;
use crate::transforms::{self, PlainEffect, Transform};
use crate::variables::{parse_targets, Macro, Selector, Target, Var};
use crate::LoadError;
use std::collections::HashMap;
use std::path::Path;
use std::sync::Arc;

/// `SecRuleEngine`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EngineMode {
    On,
    Off,
    DetectionOnly,
}

impl EngineMode {
    fn parse(text: &str) -> Option<EngineMode> {
        match text.to_ascii_lowercase().as_str() {
            "on" => Some(EngineMode::On),
            "off" => Some(EngineMode::Off),
            "detectiononly" => Some(EngineMode::DetectionOnly),
            _ => None,
        }
    }
}

/// Request body processors.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BodyProcessor {
    UrlEncoded,
    Multipart,
    Json,
    Xml,
}

impl BodyProcessor {
    fn parse(text: &str) -> Option<BodyProcessor> {
        match text.to_ascii_uppercase().as_str() {
            "URLENCODED" => Some(BodyProcessor::UrlEncoded),
            "MULTIPART" => Some(BodyProcessor::Multipart),
            "JSON" => Some(BodyProcessor::Json),
            "XML" => Some(BodyProcessor::Xml),
            _ => None,
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            BodyProcessor::UrlEncoded => "URLENCODED",
            BodyProcessor::Multipart => "MULTIPART",
            BodyProcessor::Json => "JSON",
            BodyProcessor::Xml => "XML",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AllowScope {
    All,
    Phase,
    Request,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Disruptive {
    Pass,
    Block,
    Deny,
    Drop,
    Allow(AllowScope),
    Redirect(String),
}

#[derive(Debug, Clone)]
pub enum SetVarOp {
    Set(Macro),
    Add(Macro),
    Sub(Macro),
    Delete,
}

#[derive(Debug, Clone)]
pub struct SetVar {
    pub collection: Var,
    pub key: Macro,
    pub op: SetVarOp,
}

/// Inclusive id ranges.
pub type IdRanges = Vec<(u64, u64)>;

#[derive(Debug, Clone)]
pub enum Ctl {
    RuleRemoveById(IdRanges),
    RuleRemoveByTag(Box<regex::bytes::Regex>),
    RuleRemoveByMsg(Box<regex::bytes::Regex>),
    RuleRemoveTargetById(IdRanges, Vec<Target>),
    RuleRemoveTargetByTag(Box<regex::bytes::Regex>, Vec<Target>),
    RuleRemoveTargetByMsg(Box<regex::bytes::Regex>, Vec<Target>),
    RuleEngine(EngineMode),
    RequestBodyProcessor(BodyProcessor),
    RequestBodyAccess(bool),
    ResponseBodyAccess(bool),
    ForceRequestBodyVariable(bool),
    /// Audit-log and debug-log settings: logging is the gateway's job.
    Ignored,
}

#[derive(Debug, Clone)]
pub enum RuntimeAction {
    Ctl(Ctl),
    Skip(u32),
    SkipAfter(String),
    /// `initcol`: collections are per transaction (no persistent storage).
    InitCol,
}

/// A compiled rule (or one link of a chain).
#[derive(Debug, Clone)]
pub struct Rule {
    pub id: u64,
    pub phase: u8,
    pub file: Arc<Path>,
    pub line: usize,
    pub targets: Vec<Target>,
    pub exclusions: Vec<Target>,
    pub operator: Operator,
    /// `SecAction`: no targets, always matches.
    pub unconditional: bool,
    pub transforms: Vec<Transform>,
    pub msg: Option<Macro>,
    pub logdata: Option<Macro>,
    pub tags: Arc<[String]>,
    pub severity: Option<u8>,
    pub disruptive: Option<Disruptive>,
    pub status: Option<u16>,
    pub capture: bool,
    pub multi_match: bool,
    pub log: bool,
    pub setvars: Vec<SetVar>,
    pub actions: Vec<RuntimeAction>,
    pub chain: Option<Box<Rule>>,
    /// Index of `transforms` among the rule set's distinct chains.
    pub transform_chain: u32,
    /// What `transforms` does to plain values.
    pub plain_effect: PlainEffect,
    /// The transformations in `transforms`, as a set.
    pub chain_mask: transforms::TransformMask,
    /// For each entry of `targets`, the transaction's aggregate slots of
    /// its collection (values as they are, values after `transforms`), or
    /// `None` when the target is not judged by aggregates.
    pub aggregate_slots: Vec<Option<AggregateSlots>>,
    /// What a value must hold for the operator to match it (literals of
    /// the prefilter, bytes), judged from the value's prefilter scan.
    /// `None` when the operator has no such condition.
    pub filter: Option<FilterId>,
}

impl Rule {
    pub fn location(&self) -> String {
        format!("{}:{}", self.file.display(), self.line)
    }

    /// Severity as a number 0 (emergency) to 7 (debug).
    pub fn severity_name(&self) -> Option<&'static str> {
        self.severity
            .and_then(|s| SEVERITIES.get(usize::from(s)).copied())
    }
}

pub const SEVERITIES: [&str; 8] = [
    "EMERGENCY",
    "ALERT",
    "CRITICAL",
    "ERROR",
    "WARNING",
    "NOTICE",
    "INFO",
    "DEBUG",
];

/// Where a transaction keeps what it learned about a whole collection:
/// the operators its values may match as they are, and after one chain.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AggregateSlots {
    pub as_they_are: u32,
    pub chained: u32,
}

/// Position in a phase's rule list.
#[derive(Debug, Clone)]
pub enum Item {
    Rule(Arc<Rule>),
    Marker(String),
}

/// Rules that needed a regular-expression approximation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApproximatedRule {
    pub rule_id: u64,
    pub location: String,
    pub approximations: Vec<Approximation>,
}

/// A fully loaded rule set.
#[derive(Debug, Clone)]
pub struct RuleSet {
    /// Phases 1..=5 at indices 0..=4.
    pub phases: [Vec<Item>; 5],
    pub engine_mode: EngineMode,
    pub request_body_access: bool,
    pub request_body_limit: usize,
    pub request_body_reject_over_limit: bool,
    pub response_body_access: bool,
    pub response_body_limit: usize,
    pub response_body_mime_types: Vec<String>,
    pub argument_separator: u8,
    pub component_signatures: Vec<String>,
    pub approximated: Vec<ApproximatedRule>,
    pub default_disruptive: [Disruptive; 5],
    pub rule_count: usize,
    pub prefilter: Option<Prefilter>,
    pub prefiltered_operators: usize,
    /// Every transformation some rule applies.
    pub used_transforms: transforms::TransformMask,
    /// The collection of each [`AggregateSlots`] index the rules refer to.
    pub aggregate_slot_vars: Vec<Var>,
}

#[derive(Debug, Clone)]
struct Defaults {
    disruptive: Disruptive,
    log: bool,
    transforms: Vec<Transform>,
    status: Option<u16>,
}

impl Default for Defaults {
    fn default() -> Self {
        Defaults {
            disruptive: Disruptive::Pass,
            log: true,
            transforms: Vec::new(),
            status: None,
        }
    }
}

/// Directives accepted and ignored: they configure logging, storage or
/// limits that the gateway handles itself.
const IGNORED_DIRECTIVES: &[&str] = &[
    "secauditengine",
    "secauditlog",
    "secauditlog2",
    "secauditlogparts",
    "secauditlogrelevantstatus",
    "secauditlogtype",
    "secauditlogformat",
    "secauditlogstoragedir",
    "secauditlogdirmode",
    "secauditlogfilemode",
    "secdebuglog",
    "secdebugloglevel",
    "sectmpdir",
    "secdatadir",
    "secuploaddir",
    "secuploadkeepfiles",
    "secuploadfilemode",
    "secuploadfilelimit",
    "sectmpsaveuploadedfiles",
    "secpcrematchlimit",
    "secpcrematchlimitrecursion",
    "secstatusengine",
    "secunicodemapfile",
    "seccookieformat",
    "secrequestbodyinmemorylimit",
    "secrequestbodynofileslimit",
    "secxmlexternalentity",
    "seccollectiontimeout",
    "secwebappid",
    "secserversignature",
    "secgeolookupdb",
    "secargumentslimit",
    "secrequestbodyjsondepthlimit",
    "secresponsebodylimitaction",
    "sechashengine",
    "sechashkey",
    "sechashparam",
    "sechashmethodrx",
    "sechashmethodpm",
    "secconnengine",
    "secsensorid",
    "secinterceptonerror",
];

fn err(directive: &Directive, message: impl Into<String>) -> LoadError {
    LoadError::Directive {
        location: directive.location(),
        directive: directive.name.clone(),
        message: message.into(),
    }
}

fn on_off(directive: &Directive) -> Result<bool, LoadError> {
    match directive
        .args
        .first()
        .map(|a| a.to_ascii_lowercase())
        .as_deref()
    {
        Some("on") => Ok(true),
        Some("off") => Ok(false),
        _ => Err(err(directive, "expected On or Off")),
    }
}

/// Splits an action list on commas outside single quotes.
pub fn split_actions(text: &str) -> Result<Vec<(String, Option<String>)>, String> {
    let mut out = Vec::new();
    let mut current = String::new();
    let mut in_quote = false;
    let mut chars = text.chars().peekable();
    let mut pieces = Vec::new();
    while let Some(c) = chars.next() {
        if in_quote {
            if c == '\\' && chars.peek() == Some(&'\'') {
                current.push('\'');
                chars.next();
                continue;
            }
            if c == '\'' {
                in_quote = false;
                continue;
            }
            current.push(c);
        } else if c == '\'' {
            in_quote = true;
        } else if c == ',' {
            pieces.push(std::mem::take(&mut current));
        } else {
            current.push(c);
        }
    }
    if in_quote {
        return Err("unterminated quote in action list".into());
    }
    pieces.push(current);
    for piece in pieces {
        let piece = piece.trim();
        if piece.is_empty() {
            continue;
        }
        match piece.split_once(':') {
            Some((name, value)) => {
                out.push((name.trim().to_string(), Some(value.trim().to_string())))
            }
            None => out.push((piece.to_string(), None)),
        }
    }
    Ok(out)
}

fn parse_id_ranges(text: &str) -> Result<IdRanges, String> {
    let mut ranges = Vec::new();
    for part in text.split([' ', ',']) {
        let part = part.trim().trim_matches('"');
        if part.is_empty() {
            continue;
        }
        let (lo, hi) = match part.split_once('-') {
            Some((a, b)) => (a, b),
            None => (part, part),
        };
        let lo: u64 = lo
            .trim()
            .parse()
            .map_err(|_| format!("bad rule id `{part}`"))?;
        let hi: u64 = hi
            .trim()
            .parse()
            .map_err(|_| format!("bad rule id `{part}`"))?;
        ranges.push((lo, hi));
    }
    Ok(ranges)
}

pub fn id_in(ranges: &[(u64, u64)], id: u64) -> bool {
    ranges.iter().any(|&(lo, hi)| id >= lo && id <= hi)
}

fn text_regex(text: &str) -> Result<Box<regex::bytes::Regex>, String> {
    regex_compat::compile(text).map(|(re, _)| Box::new(re))
}

fn parse_setvar(value: &str) -> Result<SetVar, String> {
    let (delete, body) = match value.strip_prefix('!') {
        Some(rest) => (true, rest),
        None => (false, value),
    };
    let (target, assignment) = match body.split_once('=') {
        Some((t, a)) => (t, Some(a)),
        None => (body, None),
    };
    let (collection, key) = target
        .split_once('.')
        .ok_or_else(|| format!("setvar target `{target}` needs COLLECTION.key"))?;
    let collection = Var::from_name(collection.trim())
        .filter(|v| v.is_mutable_collection())
        .ok_or_else(|| format!("setvar cannot write collection `{collection}`"))?;
    let key = Macro::parse(&key.trim().to_ascii_lowercase())?;
    let op = if delete {
        SetVarOp::Delete
    } else {
        match assignment {
            None => SetVarOp::Set(Macro::parse("1")?),
            Some(a) => {
                if let Some(rest) = a.strip_prefix('+') {
                    SetVarOp::Add(Macro::parse(rest)?)
                } else if let Some(rest) = a.strip_prefix('-') {
                    SetVarOp::Sub(Macro::parse(rest)?)
                } else {
                    SetVarOp::Set(Macro::parse(a)?)
                }
            }
        }
    };
    Ok(SetVar {
        collection,
        key,
        op,
    })
}

fn parse_ctl(value: &str) -> Result<Ctl, String> {
    let (name, arg) = value
        .split_once('=')
        .ok_or_else(|| format!("ctl `{value}` needs name=value"))?;
    let arg = arg.trim();
    let target_pair = |arg: &str| -> Result<(String, Vec<Target>), String> {
        let (what, targets) = arg
            .split_once(';')
            .ok_or_else(|| format!("ctl argument `{arg}` needs `;TARGET`"))?;
        Ok((what.to_string(), parse_targets(targets)?))
    };
    let on = || arg.eq_ignore_ascii_case("on");
    Ok(match name.trim().to_ascii_lowercase().as_str() {
        "ruleremovebyid" => Ctl::RuleRemoveById(parse_id_ranges(arg)?),
        "ruleremovebytag" => Ctl::RuleRemoveByTag(text_regex(arg)?),
        "ruleremovebymsg" => Ctl::RuleRemoveByMsg(text_regex(arg)?),
        "ruleremovetargetbyid" => {
            let (ids, targets) = target_pair(arg)?;
            Ctl::RuleRemoveTargetById(parse_id_ranges(&ids)?, targets)
        }
        "ruleremovetargetbytag" => {
            let (tag, targets) = target_pair(arg)?;
            Ctl::RuleRemoveTargetByTag(text_regex(&tag)?, targets)
        }
        "ruleremovetargetbymsg" => {
            let (msg, targets) = target_pair(arg)?;
            Ctl::RuleRemoveTargetByMsg(text_regex(&msg)?, targets)
        }
        "ruleengine" => Ctl::RuleEngine(
            EngineMode::parse(arg).ok_or_else(|| format!("bad ruleEngine `{arg}`"))?,
        ),
        "requestbodyprocessor" => Ctl::RequestBodyProcessor(
            BodyProcessor::parse(arg).ok_or_else(|| format!("bad requestBodyProcessor `{arg}`"))?,
        ),
        "requestbodyaccess" => Ctl::RequestBodyAccess(on()),
        "responsebodyaccess" => Ctl::ResponseBodyAccess(on()),
        "forcerequestbodyvariable" => Ctl::ForceRequestBodyVariable(on()),
        "auditengine" | "auditlogparts" | "debugloglevel" | "hashengine" | "requestbodylimit"
        | "parsexmlintoargs" => Ctl::Ignored,
        other => return Err(format!("unsupported ctl `{other}`")),
    })
}

fn parse_severity(value: &str) -> Result<u8, String> {
    if let Ok(n) = value.parse::<u8>() {
        if n <= 7 {
            return Ok(n);
        }
    }
    SEVERITIES
        .iter()
        .position(|s| s.eq_ignore_ascii_case(value))
        .map(|p| p as u8)
        .ok_or_else(|| format!("bad severity `{value}`"))
}

fn parse_phase(value: &str) -> Result<u8, String> {
    match value.to_ascii_lowercase().as_str() {
        "request" => Ok(2),
        "response" => Ok(4),
        "logging" => Ok(5),
        other => other
            .parse::<u8>()
            .ok()
            .filter(|p| (1..=5).contains(p))
            .ok_or_else(|| format!("bad phase `{value}`")),
    }
}

/// Actions parsed from one action list, before defaults are applied.
#[derive(Debug, Default, Clone)]
struct ParsedActions {
    id: Option<u64>,
    phase: Option<u8>,
    msg: Option<Macro>,
    logdata: Option<Macro>,
    tags: Vec<String>,
    severity: Option<u8>,
    disruptive: Option<Disruptive>,
    status: Option<u16>,
    chain: bool,
    capture: bool,
    multi_match: bool,
    log: Option<bool>,
    /// `None` until a `t:` appears; `t:none` clears inherited ones.
    transforms: Option<Vec<Transform>>,
    setvars: Vec<SetVar>,
    actions: Vec<RuntimeAction>,
}

fn parse_actions(text: &str) -> Result<ParsedActions, String> {
    let mut p = ParsedActions::default();
    for (name, value) in split_actions(text)? {
        let value_str = value.clone().unwrap_or_default();
        let need = |what: &str| -> Result<String, String> {
            value
                .clone()
                .filter(|v| !v.is_empty())
                .ok_or_else(|| format!("action `{what}` needs a value"))
        };
        match name.to_ascii_lowercase().as_str() {
            "id" => {
                p.id = Some(
                    need("id")?
                        .parse()
                        .map_err(|_| format!("bad rule id `{value_str}`"))?,
                )
            }
            "phase" => p.phase = Some(parse_phase(&need("phase")?)?),
            "msg" => p.msg = Some(Macro::parse(&value_str)?),
            "logdata" => p.logdata = Some(Macro::parse(&value_str)?),
            "tag" => p.tags.push(value_str),
            "severity" => p.severity = Some(parse_severity(&need("severity")?)?),
            "ver" | "rev" | "accuracy" | "maturity" => {}
            "block" => p.disruptive = Some(Disruptive::Block),
            "deny" => p.disruptive = Some(Disruptive::Deny),
            "drop" => p.disruptive = Some(Disruptive::Drop),
            "pass" => p.disruptive = Some(Disruptive::Pass),
            "allow" => {
                p.disruptive = Some(Disruptive::Allow(
                    match value_str.to_ascii_lowercase().as_str() {
                        "" => AllowScope::All,
                        "phase" => AllowScope::Phase,
                        "request" => AllowScope::Request,
                        other => return Err(format!("bad allow scope `{other}`")),
                    },
                ))
            }
            "redirect" => p.disruptive = Some(Disruptive::Redirect(need("redirect")?)),
            "status" => {
                p.status = Some(
                    need("status")?
                        .parse()
                        .map_err(|_| format!("bad status `{value_str}`"))?,
                )
            }
            "chain" => p.chain = true,
            "capture" => p.capture = true,
            "multimatch" => p.multi_match = true,
            "log" => p.log = Some(true),
            "nolog" => p.log = Some(false),
            "auditlog"
            | "noauditlog"
            | "sanitisematched"
            | "sanitizematched"
            | "sanitisearg"
            | "sanitizearg"
            | "sanitiserequestheader"
            | "sanitizerequestheader"
            | "sanitiseresponseheader"
            | "sanitizeresponseheader"
            | "sanitisematchedbytes"
            | "sanitizematchedbytes" => {}
            "t" => {
                let t = need("t")?;
                if t.eq_ignore_ascii_case("none") {
                    p.transforms = Some(Vec::new());
                } else {
                    let transform = Transform::from_name(&t)
                        .ok_or_else(|| format!("unsupported transformation t:{t}"))?;
                    p.transforms.get_or_insert_with(Vec::new).push(transform);
                }
            }
            "setvar" => p.setvars.push(parse_setvar(&need("setvar")?)?),
            "expirevar" | "deprecatevar" | "setuid" | "setsid" | "setrsc" => {
                need(&name)?;
            }
            "initcol" => {
                need("initcol")?;
                p.actions.push(RuntimeAction::InitCol);
            }
            "ctl" => p
                .actions
                .push(RuntimeAction::Ctl(parse_ctl(&need("ctl")?)?)),
            "skip" => p.actions.push(RuntimeAction::Skip(
                need("skip")?
                    .parse()
                    .map_err(|_| format!("bad skip `{value_str}`"))?,
            )),
            "skipafter" => p.actions.push(RuntimeAction::SkipAfter(need("skipAfter")?)),
            other => return Err(format!("unsupported action `{other}`")),
        }
    }
    Ok(p)
}

/// Builds a [`RuleSet`] from directives in order.
pub struct Builder {
    phases: [Vec<Item>; 5],
    defaults: [Defaults; 5],
    /// Chain under construction: root first.
    open_chain: Vec<Rule>,
    ids: HashMap<u64, String>,
    engine_mode: EngineMode,
    request_body_access: bool,
    request_body_limit: usize,
    request_body_reject_over_limit: bool,
    response_body_access: bool,
    response_body_limit: usize,
    response_body_mime_types: Vec<String>,
    argument_separator: u8,
    component_signatures: Vec<String>,
    approximated: Vec<ApproximatedRule>,
    pending_approximations: Vec<Approximation>,
    removals: Vec<(Directive, Removal)>,
    updates: Vec<(Directive, Update)>,
}

#[derive(Debug)]
enum Removal {
    Ids(IdRanges),
    Tag(Box<regex::bytes::Regex>),
    Msg(Box<regex::bytes::Regex>),
}

#[derive(Debug)]
enum Update {
    TargetsById(IdRanges, Vec<Target>, Option<Vec<Target>>),
    TargetsByTag(Box<regex::bytes::Regex>, Vec<Target>, Option<Vec<Target>>),
    TargetsByMsg(Box<regex::bytes::Regex>, Vec<Target>, Option<Vec<Target>>),
    ActionsById(u64, Box<ParsedActions>),
}

impl Default for Builder {
    fn default() -> Self {
        Builder {
            phases: Default::default(),
            defaults: Default::default(),
            open_chain: Vec::new(),
            ids: HashMap::new(),
            engine_mode: EngineMode::On,
            request_body_access: true,
            request_body_limit: 13_107_200,
            request_body_reject_over_limit: true,
            response_body_access: true,
            response_body_limit: 524_288,
            response_body_mime_types: vec!["text/plain".into(), "text/html".into()],
            argument_separator: b'&',
            component_signatures: Vec::new(),
            approximated: Vec::new(),
            pending_approximations: Vec::new(),
            removals: Vec::new(),
            updates: Vec::new(),
        }
    }
}

impl Builder {
    pub fn add(&mut self, d: &Directive) -> Result<(), LoadError> {
        let name = d.name.to_ascii_lowercase();
        let arg = |n: usize| d.args.get(n).map(String::as_str);
        let need = |n: usize| arg(n).ok_or_else(|| err(d, "missing argument"));
        if !self.open_chain.is_empty() && name != "secrule" {
            let root = &self.open_chain[0];
            return Err(err(
                d,
                format!(
                    "rule {} at {} ends with `chain` but no SecRule follows",
                    root.id,
                    root.location()
                ),
            ));
        }
        match name.as_str() {
            "secrule" => {
                let targets = need(0)?;
                let operator = need(1)?;
                let actions = arg(2).unwrap_or("");
                if d.args.len() > 3 {
                    return Err(err(d, "too many arguments"));
                }
                self.add_rule(d, Some((targets, operator)), actions)?;
            }
            "secaction" => {
                if d.args.len() > 1 {
                    return Err(err(d, "too many arguments"));
                }
                self.add_rule(d, None, arg(0).unwrap_or(""))?;
            }
            "secmarker" => {
                let marker = need(0)?.to_string();
                for phase in &mut self.phases {
                    phase.push(Item::Marker(marker.clone()));
                }
            }
            "secdefaultaction" => {
                let parsed = parse_actions(need(0)?).map_err(|m| err(d, m))?;
                let phase = parsed
                    .phase
                    .ok_or_else(|| err(d, "SecDefaultAction needs a phase"))?;
                let disruptive = parsed
                    .disruptive
                    .clone()
                    .ok_or_else(|| err(d, "SecDefaultAction needs a disruptive action"))?;
                if parsed.id.is_some() || parsed.chain || parsed.msg.is_some() {
                    return Err(err(d, "SecDefaultAction cannot carry id, msg or chain"));
                }
                let slot = &mut self.defaults[usize::from(phase - 1)];
                slot.disruptive = disruptive;
                slot.log = parsed.log.unwrap_or(true);
                slot.transforms = parsed.transforms.unwrap_or_default();
                slot.status = parsed.status;
            }
            "secruleengine" => {
                self.engine_mode = EngineMode::parse(need(0)?)
                    .ok_or_else(|| err(d, "expected On, Off or DetectionOnly"))?;
            }
            "secrequestbodyaccess" => self.request_body_access = on_off(d)?,
            "secresponsebodyaccess" => self.response_body_access = on_off(d)?,
            "secrequestbodylimit" => {
                self.request_body_limit =
                    need(0)?.parse().map_err(|_| err(d, "expected a number"))?
            }
            "secresponsebodylimit" => {
                self.response_body_limit =
                    need(0)?.parse().map_err(|_| err(d, "expected a number"))?
            }
            "secrequestbodylimitaction" => {
                self.request_body_reject_over_limit = match need(0)?.to_ascii_lowercase().as_str() {
                    "reject" => true,
                    "processpartial" => false,
                    _ => return Err(err(d, "expected Reject or ProcessPartial")),
                }
            }
            "secresponsebodymimetype" => {
                self.response_body_mime_types = d
                    .args
                    .iter()
                    .flat_map(|a| a.split_whitespace())
                    .map(str::to_ascii_lowercase)
                    .collect()
            }
            "secargumentseparator" => {
                let sep = need(0)?;
                if sep.len() != 1 {
                    return Err(err(d, "separator must be one character"));
                }
                self.argument_separator = sep.as_bytes()[0];
            }
            "seccomponentsignature" => self.component_signatures.push(need(0)?.to_string()),
            "secruleremovebyid" => {
                let ranges = parse_id_ranges(&d.args.join(" ")).map_err(|m| err(d, m))?;
                self.removals.push((d.clone(), Removal::Ids(ranges)));
            }
            "secruleremovebytag" => {
                let re = text_regex(need(0)?).map_err(|m| err(d, m))?;
                self.removals.push((d.clone(), Removal::Tag(re)));
            }
            "secruleremovebymsg" => {
                let re = text_regex(need(0)?).map_err(|m| err(d, m))?;
                self.removals.push((d.clone(), Removal::Msg(re)));
            }
            "secruleupdatetargetbyid" | "secruleupdatetargetbytag" | "secruleupdatetargetbymsg" => {
                let targets = parse_targets(need(1)?).map_err(|m| err(d, m))?;
                let replaced = match arg(2) {
                    Some(r) => Some(parse_targets(r).map_err(|m| err(d, m))?),
                    None => None,
                };
                let update = match name.as_str() {
                    "secruleupdatetargetbyid" => Update::TargetsById(
                        parse_id_ranges(need(0)?).map_err(|m| err(d, m))?,
                        targets,
                        replaced,
                    ),
                    "secruleupdatetargetbytag" => Update::TargetsByTag(
                        text_regex(need(0)?).map_err(|m| err(d, m))?,
                        targets,
                        replaced,
                    ),
                    _ => Update::TargetsByMsg(
                        text_regex(need(0)?).map_err(|m| err(d, m))?,
                        targets,
                        replaced,
                    ),
                };
                self.updates.push((d.clone(), update));
            }
            "secruleupdateactionbyid" => {
                let id: u64 = need(0)?
                    .split(':')
                    .next()
                    .unwrap_or("")
                    .parse()
                    .map_err(|_| err(d, "bad rule id"))?;
                let parsed = parse_actions(need(1)?).map_err(|m| err(d, m))?;
                if parsed.id.is_some() || parsed.phase.is_some() || parsed.chain {
                    return Err(err(d, "cannot update id, phase or chain"));
                }
                self.updates
                    .push((d.clone(), Update::ActionsById(id, Box::new(parsed))));
            }
            other if IGNORED_DIRECTIVES.contains(&other) => {}
            _ => return Err(err(d, format!("unsupported directive `{}`", d.name))),
        }
        Ok(())
    }

    fn add_rule(
        &mut self,
        d: &Directive,
        rule: Option<(&str, &str)>,
        actions: &str,
    ) -> Result<(), LoadError> {
        let parsed = parse_actions(actions).map_err(|m| err(d, m))?;
        let in_chain = !self.open_chain.is_empty();
        let phase = if in_chain {
            if parsed.phase.is_some() || parsed.id.is_some() {
                return Err(err(d, "a chained rule cannot set id or phase"));
            }
            self.open_chain[0].phase
        } else {
            parsed.phase.unwrap_or(2)
        };
        let id = match (in_chain, parsed.id) {
            (true, _) => 0,
            (false, Some(id)) => id,
            (false, None) => return Err(err(d, "rule has no id")),
        };
        if !in_chain {
            if let Some(previous) = self.ids.insert(id, d.location()) {
                return Err(err(
                    d,
                    format!("duplicate rule id {id} (first at {previous})"),
                ));
            }
        }
        let defaults = &self.defaults[usize::from(phase - 1)];
        let rule_dir = d.file.parent().unwrap_or(Path::new("."));
        let (targets, exclusions, operator, unconditional) = match rule {
            Some((targets_text, op_text)) => {
                let all = parse_targets(targets_text).map_err(|m| err(d, m))?;
                let (exclusions, targets): (Vec<Target>, Vec<Target>) =
                    all.into_iter().partition(|t| t.exclude);
                let compiled = operators::compile(op_text, rule_dir).map_err(|m| err(d, m))?;
                if !compiled.approximations.is_empty() {
                    self.pending_approximations.extend(compiled.approximations);
                }
                (targets, exclusions, compiled.operator, false)
            }
            None => (
                Vec::new(),
                Vec::new(),
                Operator {
                    kind: OpKind::UnconditionalMatch,
                    negated: false,
                    name: "unconditionalMatch",
                },
                true,
            ),
        };
        let transforms = match parsed.transforms {
            Some(t) => t,
            None => defaults.transforms.clone(),
        };
        let new_rule = Rule {
            id,
            phase,
            file: d.file.clone(),
            line: d.line,
            targets,
            exclusions,
            operator,
            unconditional,
            transforms,
            msg: parsed.msg,
            logdata: parsed.logdata,
            tags: parsed.tags.into(),
            severity: parsed.severity,
            disruptive: if in_chain {
                parsed.disruptive
            } else {
                Some(
                    parsed
                        .disruptive
                        .unwrap_or_else(|| defaults.disruptive.clone()),
                )
            },
            status: parsed.status.or(defaults.status),
            capture: parsed.capture,
            multi_match: parsed.multi_match,
            log: parsed.log.unwrap_or(defaults.log),
            setvars: parsed.setvars,
            actions: parsed.actions,
            chain: None,
            transform_chain: 0,
            filter: None,
            plain_effect: PlainEffect::Other,
            chain_mask: 0,
            aggregate_slots: Vec::new(),
        };
        if in_chain && new_rule.disruptive.is_some() {
            return Err(err(d, "a chained rule cannot carry a disruptive action"));
        }
        self.open_chain.push(new_rule);
        if parsed.chain {
            return Ok(());
        }
        // Close the chain: fold links into the root.
        let mut child: Option<Box<Rule>> = None;
        while let Some(mut link) = self.open_chain.pop() {
            link.chain = child.take();
            child = Some(Box::new(link));
        }
        if let Some(root) = child {
            if !self.pending_approximations.is_empty() {
                let mut approximations = std::mem::take(&mut self.pending_approximations);
                approximations.sort();
                approximations.dedup();
                self.approximated.push(ApproximatedRule {
                    rule_id: root.id,
                    location: root.location(),
                    approximations,
                });
            }
            self.phases[usize::from(root.phase - 1)].push(Item::Rule(Arc::from(root)));
        }
        Ok(())
    }

    pub fn finish(mut self) -> Result<RuleSet, LoadError> {
        if let Some(root) = self.open_chain.first() {
            return Err(LoadError::Directive {
                location: root.location(),
                directive: "SecRule".into(),
                message: "rule ends with `chain` but no SecRule follows".into(),
            });
        }
        for (_, removal) in &self.removals {
            for phase in &mut self.phases {
                phase.retain(|item| match item {
                    Item::Marker(_) => true,
                    Item::Rule(rule) => !match removal {
                        Removal::Ids(ranges) => id_in(ranges, rule.id),
                        Removal::Tag(re) => rule.tags.iter().any(|t| re.is_match(t.as_bytes())),
                        Removal::Msg(re) => rule
                            .msg
                            .as_ref()
                            .and_then(Macro::as_literal)
                            .is_some_and(|m| re.is_match(m)),
                    },
                });
            }
        }
        for (directive, update) in std::mem::take(&mut self.updates) {
            let mut applied = false;
            for phase in &mut self.phases {
                for item in phase.iter_mut() {
                    let Item::Rule(rule) = item else { continue };
                    let selected = match &update {
                        Update::TargetsById(ranges, _, _) => id_in(ranges, rule.id),
                        Update::TargetsByTag(re, _, _) => {
                            rule.tags.iter().any(|t| re.is_match(t.as_bytes()))
                        }
                        Update::TargetsByMsg(re, _, _) => rule
                            .msg
                            .as_ref()
                            .and_then(Macro::as_literal)
                            .is_some_and(|m| re.is_match(m)),
                        Update::ActionsById(id, _) => rule.id == *id,
                    };
                    if !selected {
                        continue;
                    }
                    applied = true;
                    let rule = Arc::make_mut(rule);
                    match &update {
                        Update::TargetsById(_, targets, replaced)
                        | Update::TargetsByTag(_, targets, replaced)
                        | Update::TargetsByMsg(_, targets, replaced) => {
                            update_targets(rule, targets, replaced.as_deref())
                        }
                        Update::ActionsById(_, parsed) => update_actions(rule, parsed),
                    }
                }
            }
            // Updating a rule that does not exist is harmless in ModSecurity;
            // keep it silent for id lists, which often cover optional rules.
            let _ = (applied, directive);
        }
        let mut chains: Vec<Vec<Transform>> = Vec::new();
        let mut literals = PrefilterBuilder::default();
        let mut prefiltered_operators = 0;
        let mut used_transforms = 0;
        let mut slots = AggregateSlotNumbers::default();
        for phase in &mut self.phases {
            for item in phase.iter_mut() {
                let Item::Rule(rule) = item else { continue };
                let mut link = Some(Arc::make_mut(rule));
                while let Some(current) = link {
                    current.transform_chain =
                        match chains.iter().position(|c| *c == current.transforms) {
                            Some(p) => p as u32,
                            None => {
                                chains.push(current.transforms.clone());
                                (chains.len() - 1) as u32
                            }
                        };
                    current.plain_effect = transforms::plain_effect(&current.transforms);
                    current.chain_mask = transforms::chain_mask(&current.transforms);
                    used_transforms |= current.chain_mask;
                    let chain = current.transform_chain;
                    current.aggregate_slots = current
                        .targets
                        .iter()
                        .map(|target| {
                            (!target.count && crate::engine::is_stable_collection(target.var)).then(
                                || AggregateSlots {
                                    as_they_are: slots.number(target.var, None),
                                    chained: slots.number(target.var, Some(chain)),
                                },
                            )
                        })
                        .collect();
                    current.filter = match (&current.operator.kind, current.multi_match) {
                        (_, true) => None,
                        (OpKind::Pm(_, phrases), false) => Some(literals.phrase_filter(phrases)),
                        (OpKind::Rx(re), false) => literals.regex_filter(re.as_str()),
                        _ => None,
                    };
                    if current.filter.is_some() {
                        prefiltered_operators += 1;
                    }
                    link = current.chain.as_deref_mut();
                }
            }
        }
        let prefilter = literals.build();
        let rule_count = self
            .phases
            .iter()
            .flatten()
            .filter(|i| matches!(i, Item::Rule(_)))
            .count();
        let default_disruptive = [0, 1, 2, 3, 4].map(|i| self.defaults[i].disruptive.clone());
        Ok(RuleSet {
            phases: self.phases,
            engine_mode: self.engine_mode,
            request_body_access: self.request_body_access,
            request_body_limit: self.request_body_limit,
            request_body_reject_over_limit: self.request_body_reject_over_limit,
            response_body_access: self.response_body_access,
            response_body_limit: self.response_body_limit,
            response_body_mime_types: self.response_body_mime_types,
            argument_separator: self.argument_separator,
            component_signatures: self.component_signatures,
            approximated: self.approximated,
            default_disruptive,
            rule_count,
            prefilter,
            prefiltered_operators,
            used_transforms,
            aggregate_slot_vars: slots.vars,
        })
    }
}

/// Numbers [`AggregateSlots`]: one per collection and transformation
/// chain (`None`: the values as they are).
#[derive(Default)]
struct AggregateSlotNumbers {
    numbers: HashMap<(Var, Option<u32>), u32>,
    /// The collection of each number.
    vars: Vec<Var>,
}

impl AggregateSlotNumbers {
    /// The number of (`var`, `chain`), a new one when it has none yet.
    fn number(&mut self, var: Var, chain: Option<u32>) -> u32 {
        let next = self.vars.len() as u32;
        *self.numbers.entry((var, chain)).or_insert_with(|| {
            self.vars.push(var);
            next
        })
    }
}

fn update_targets(rule: &mut Rule, targets: &[Target], replaced: Option<&[Target]>) {
    if let Some(replaced) = replaced {
        rule.targets.retain(|t| {
            !replaced
                .iter()
                .any(|r| r.var == t.var && r.selector == t.selector)
        });
    }
    for t in targets {
        if t.exclude {
            rule.exclusions.push(t.clone());
        } else {
            rule.targets.push(t.clone());
        }
    }
}

fn update_actions(rule: &mut Rule, parsed: &ParsedActions) {
    if let Some(d) = &parsed.disruptive {
        rule.disruptive = Some(d.clone());
    }
    if parsed.status.is_some() {
        rule.status = parsed.status;
    }
    if parsed.msg.is_some() {
        rule.msg = parsed.msg.clone();
    }
    if parsed.logdata.is_some() {
        rule.logdata = parsed.logdata.clone();
    }
    if parsed.severity.is_some() {
        rule.severity = parsed.severity;
    }
    if let Some(log) = parsed.log {
        rule.log = log;
    }
    if let Some(t) = &parsed.transforms {
        rule.transforms = t.clone();
    }
    if !parsed.tags.is_empty() {
        rule.tags = parsed.tags.clone().into();
    }
    rule.setvars.extend(parsed.setvars.iter().cloned());
    rule.actions.extend(parsed.actions.iter().cloned());
    rule.capture |= parsed.capture;
}

/// Whether a target list entry names `var`/`key`.
pub fn target_excludes(exclusion: &Target, var: Var, key: &[u8]) -> bool {
    exclusion.var == var
        && match &exclusion.selector {
            Selector::All => true,
            other => other.matches(key),
        }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn action_lists() {
        let a = split_actions("id:1, phase:2,msg:'a, b \\'c\\'',t:none,pass").unwrap();
        assert_eq!(a[0], ("id".into(), Some("1".into())));
        assert_eq!(a[2], ("msg".into(), Some("a, b 'c'".into())));
        assert_eq!(a[4], ("pass".into(), None));
        let p = parse_actions("id:5,deny,status:403,t:lowercase,t:urlDecodeUni,setvar:'tx.a=+%{tx.b}',ctl:ruleRemoveTargetById=942100;ARGS:x").unwrap();
        assert_eq!(p.id, Some(5));
        assert_eq!(p.transforms.unwrap().len(), 2);
        assert_eq!(p.setvars.len(), 1);
        assert!(matches!(p.setvars[0].op, SetVarOp::Add(_)));
        assert!(parse_actions("id:1,frobnicate").is_err());
        assert!(parse_actions("id:1,t:rot13").is_err());
    }
}
