//! Route authorization: path patterns, rules and their evaluation.
//!
//! Paths are matched after the same normalisation an upstream is likely to
//! apply, so an encoded or dotted spelling of an admin path cannot slip past
//! the admin rule: percent-decoding (an encoded `/` becomes a separator),
//! removal of `;parameters` in a segment, empty and `.` segments dropped,
//! `..` resolved, and (by default) ASCII case folding.

use crate::config::{Access, AccessRuleConfig, CredentialKind};
use crate::error::ConfigError;
use http::Method;
pub use palisade_core::normalize_path;
use palisade_core::{
    CredentialScheme, OperationSecurity, Principal, PrincipalKind, SchemeRequirement,
};
use std::collections::BTreeMap;

#[derive(Debug, Clone, PartialEq, Eq)]
enum PatternSegment {
    Literal(String),
    /// `*`: exactly one segment.
    One,
    /// `**`: zero or more segments.
    Any,
}

/// A path pattern such as `/api/admin/**` or `/api/users/*/orders`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PathPattern {
    segments: Vec<PatternSegment>,
    case_insensitive: bool,
}

impl PathPattern {
    pub fn parse(pattern: &str, case_insensitive: bool) -> Result<Self, String> {
        if !pattern.starts_with('/') {
            return Err("a path pattern starts with `/`".into());
        }
        let mut segments = Vec::new();
        for raw in pattern.split('/').filter(|s| !s.is_empty()) {
            let seg = match raw {
                "**" => PatternSegment::Any,
                "*" => PatternSegment::One,
                s if s.contains('*') => {
                    return Err(format!("`*` must be a whole segment, found `{s}`"));
                }
                s => PatternSegment::Literal(if case_insensitive {
                    s.to_ascii_lowercase()
                } else {
                    s.to_owned()
                }),
            };
            segments.push(seg);
        }
        Ok(PathPattern {
            segments,
            case_insensitive,
        })
    }

    /// Matches an already normalised path (see [`normalize_path`]).
    pub fn matches_segments<S: AsRef<str>>(&self, path: &[S]) -> bool {
        match_from(&self.segments, path, self.case_insensitive)
    }

    /// Normalises `raw_path` and matches it.
    pub fn matches(&self, raw_path: &str) -> bool {
        self.matches_segments(&normalize_path(raw_path))
    }
}

fn match_from<S: AsRef<str>>(pattern: &[PatternSegment], path: &[S], ci: bool) -> bool {
    // Iterative matcher with one backtrack point for the latest `**`, linear
    // in practice and never exponential.
    let (mut p, mut s) = (0usize, 0usize);
    let mut star: Option<(usize, usize)> = None;
    while s < path.len() {
        match pattern.get(p) {
            Some(PatternSegment::Any) => {
                star = Some((p, s));
                p += 1;
            }
            Some(PatternSegment::One) => {
                p += 1;
                s += 1;
            }
            Some(PatternSegment::Literal(lit)) if segment_eq(lit, path[s].as_ref(), ci) => {
                p += 1;
                s += 1;
            }
            _ => match star {
                Some((sp, ss)) => {
                    p = sp + 1;
                    s = ss + 1;
                    star = Some((sp, ss + 1));
                }
                None => return false,
            },
        }
    }
    pattern[p.min(pattern.len())..]
        .iter()
        .all(|seg| *seg == PatternSegment::Any)
}

fn segment_eq(literal: &str, segment: &str, case_insensitive: bool) -> bool {
    if case_insensitive {
        literal.eq_ignore_ascii_case(segment)
    } else {
        literal == segment
    }
}

/// A compiled access rule.
#[derive(Debug, Clone)]
pub struct AccessRule {
    pub pattern_text: String,
    pattern: PathPattern,
    methods: Vec<Method>,
    pub access: Access,
    pub accept: Vec<CredentialKind>,
    pub scopes: Vec<String>,
    pub claims: BTreeMap<String, Vec<String>>,
}

impl AccessRule {
    pub fn compile(config: &AccessRuleConfig, case_insensitive: bool) -> Result<Self, ConfigError> {
        let err = |message: String| ConfigError::Rule {
            path: config.path.clone(),
            message,
        };
        let pattern = PathPattern::parse(&config.path, case_insensitive).map_err(err)?;
        let mut methods = Vec::new();
        for m in &config.methods {
            methods.push(
                Method::from_bytes(m.to_ascii_uppercase().as_bytes())
                    .map_err(|_| err(format!("invalid method `{m}`")))?,
            );
        }
        Ok(AccessRule {
            pattern_text: config.path.clone(),
            pattern,
            methods,
            access: config.access,
            accept: config.accept.clone(),
            scopes: config.scopes.clone(),
            claims: config.claims.clone(),
        })
    }

    fn applies<S: AsRef<str>>(&self, method: &Method, segments: &[S]) -> bool {
        (self.methods.is_empty() || self.methods.contains(method))
            && self.pattern.matches_segments(segments)
    }
}

/// Ordered rules; the first that applies decides.
#[derive(Debug, Clone, Default)]
pub struct RuleSet {
    rules: Vec<AccessRule>,
    default_access: Access,
}

/// What authorization concluded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AuthzDecision {
    Allow,
    /// A credential is required and none was verified.
    Unauthenticated,
    /// Authenticated, but the credential kind is not accepted on this route.
    WrongCredential,
    /// Authenticated, missing these scopes.
    MissingScopes(Vec<String>),
    /// Authenticated, this claim rule failed.
    ClaimMismatch(String),
    /// The route is closed to everyone.
    Denied,
}

impl RuleSet {
    pub fn new(rules: Vec<AccessRule>, default_access: Access) -> Self {
        RuleSet {
            rules,
            default_access,
        }
    }

    pub fn compile(
        configs: &[AccessRuleConfig],
        default_access: Access,
        case_insensitive: bool,
    ) -> Result<Self, ConfigError> {
        let rules = configs
            .iter()
            .map(|c| AccessRule::compile(c, case_insensitive))
            .collect::<Result<Vec<_>, _>>()?;
        Ok(RuleSet {
            rules,
            default_access,
        })
    }

    /// The rule applying to a request, if any.
    pub fn find(&self, method: &Method, path: &str) -> Option<&AccessRule> {
        self.find_segments(method, &normalize_path(path))
    }

    /// The rule applying to a request whose path is already normalised.
    pub fn find_segments<S: AsRef<str>>(
        &self,
        method: &Method,
        segments: &[S],
    ) -> Option<&AccessRule> {
        self.rules.iter().find(|r| r.applies(method, segments))
    }

    /// True when some request to this method and path might need credentials.
    pub fn requires_auth(&self, method: &Method, path: &str) -> bool {
        match self.find(method, path) {
            Some(rule) => rule.access != Access::Anonymous,
            None => self.default_access != Access::Anonymous,
        }
    }

    /// Decides for a request and its verified principal.
    pub fn authorize(
        &self,
        method: &Method,
        path: &str,
        principal: Option<&Principal>,
    ) -> AuthzDecision {
        self.authorize_with(method, path, principal, None)
    }

    /// Decides for a request, its verified principal and, when an API
    /// description covers the request, the operation's declared security.
    /// A configured rule that applies wins; otherwise the operation's security
    /// decides; otherwise `default_access`.
    pub fn authorize_with(
        &self,
        method: &Method,
        path: &str,
        principal: Option<&Principal>,
        operation: Option<&OperationSecurity>,
    ) -> AuthzDecision {
        self.authorize_segments(method, &normalize_path(path), principal, operation)
    }

    /// [`RuleSet::authorize_with`] for an already normalised path.
    pub fn authorize_segments<S: AsRef<str>>(
        &self,
        method: &Method,
        segments: &[S],
        principal: Option<&Principal>,
        operation: Option<&OperationSecurity>,
    ) -> AuthzDecision {
        let rule = self.find_segments(method, segments);
        if let (None, Some(operation)) = (rule, operation) {
            return authorize_operation(operation, principal);
        }
        let access = rule.map_or(self.default_access, |r| r.access);
        match access {
            Access::Deny => return AuthzDecision::Denied,
            Access::Anonymous => return AuthzDecision::Allow,
            Access::Authenticated => {}
        }
        let Some(principal) = principal else {
            return AuthzDecision::Unauthenticated;
        };
        let Some(rule) = rule else {
            return AuthzDecision::Allow;
        };
        if !rule.accept.is_empty() && !rule.accept.contains(&credential_of(principal.kind)) {
            return AuthzDecision::WrongCredential;
        }
        let missing: Vec<String> = rule
            .scopes
            .iter()
            .filter(|s| !principal.has_scope(s))
            .cloned()
            .collect();
        if !missing.is_empty() {
            return AuthzDecision::MissingScopes(missing);
        }
        for (claim, allowed) in &rule.claims {
            let ok = principal
                .claims
                .get(claim)
                .is_some_and(|value| claim_matches(value, allowed));
            if !ok {
                return AuthzDecision::ClaimMismatch(claim.clone());
            }
        }
        AuthzDecision::Allow
    }
}

/// Enforces an operation's declared security (OpenAPI `security`).
///
/// Any alternative suffices. Within an alternative, the schemes the gateway
/// verifies (bearer tokens, OAuth 2 / OpenID Connect, API keys, mutual TLS)
/// are satisfied by a principal of the matching kind that holds the listed
/// scopes; one satisfied scheme satisfies the alternative, since a request
/// carries one verified identity. An alternative made only of schemes the
/// gateway cannot verify (HTTP basic, digest, undefined names) is left to the
/// upstream: the request is allowed through.
pub fn authorize_operation(
    security: &OperationSecurity,
    principal: Option<&Principal>,
) -> AuthzDecision {
    if security.allows_anonymous() {
        return AuthzDecision::Allow;
    }
    let verifiable = |s: &&SchemeRequirement| accepted_kinds(s.scheme).is_some();
    if security
        .alternatives
        .iter()
        .any(|a| !a.schemes.iter().any(|s| verifiable(&s)))
    {
        return AuthzDecision::Allow;
    }
    let Some(principal) = principal else {
        return AuthzDecision::Unauthenticated;
    };
    let mut fewest_missing: Option<Vec<String>> = None;
    for alternative in &security.alternatives {
        for scheme in alternative.schemes.iter().filter(verifiable) {
            let kinds = accepted_kinds(scheme.scheme).unwrap_or(&[]);
            if !kinds.contains(&principal.kind) {
                continue;
            }
            let missing: Vec<String> = scheme
                .scopes
                .iter()
                .filter(|s| !principal.has_scope(s))
                .cloned()
                .collect();
            if missing.is_empty() {
                return AuthzDecision::Allow;
            }
            if fewest_missing
                .as_ref()
                .is_none_or(|m| missing.len() < m.len())
            {
                fewest_missing = Some(missing);
            }
        }
    }
    match fewest_missing {
        Some(missing) => AuthzDecision::MissingScopes(missing),
        None => AuthzDecision::WrongCredential,
    }
}

/// The principal kinds that satisfy a scheme; `None` for schemes the gateway
/// does not verify.
fn accepted_kinds(scheme: CredentialScheme) -> Option<&'static [PrincipalKind]> {
    match scheme {
        CredentialScheme::Bearer | CredentialScheme::OAuth2 | CredentialScheme::OpenIdConnect => {
            Some(&[PrincipalKind::Jwt, PrincipalKind::OpaqueToken])
        }
        CredentialScheme::ApiKey => Some(&[PrincipalKind::ApiKey]),
        CredentialScheme::MutualTls => Some(&[PrincipalKind::ClientCertificate]),
        CredentialScheme::OtherHttp | CredentialScheme::Unknown => None,
    }
}

/// A claim value matches when it equals an allowed value, or when one of its
/// comma-joined elements (array claims) does.
fn claim_matches(value: &str, allowed: &[String]) -> bool {
    allowed
        .iter()
        .any(|a| a == value || value.split(',').any(|element| element == a))
}

pub fn credential_of(kind: PrincipalKind) -> CredentialKind {
    match kind {
        PrincipalKind::Jwt => CredentialKind::Jwt,
        PrincipalKind::OpaqueToken => CredentialKind::OpaqueToken,
        PrincipalKind::ApiKey => CredentialKind::ApiKey,
        PrincipalKind::ClientCertificate => CredentialKind::ClientCertificate,
        PrincipalKind::SignedRequest => CredentialKind::SignedRequest,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use palisade_core::SecurityAlternative;
    use proptest::prelude::*;

    fn principal(kind: PrincipalKind, scopes: &[&str]) -> Principal {
        let mut p = Principal::new(kind, "someone");
        p.scopes = scopes
            .iter()
            .map(|s| (*s).to_owned())
            .collect::<Vec<_>>()
            .into();
        p
    }

    fn requirement(alternatives: &[&[(CredentialScheme, &[&str])]]) -> OperationSecurity {
        OperationSecurity {
            operation: "op".into(),
            alternatives: alternatives
                .iter()
                .map(|schemes| SecurityAlternative {
                    schemes: schemes
                        .iter()
                        .enumerate()
                        .map(|(i, (scheme, scopes))| SchemeRequirement {
                            name: format!("s{i}"),
                            scheme: *scheme,
                            scopes: scopes.iter().map(|s| (*s).to_owned()).collect(),
                        })
                        .collect(),
                })
                .collect(),
        }
    }

    #[test]
    fn operation_security_decides_by_kind_and_scope() {
        use CredentialScheme as S;
        let oauth_admin = requirement(&[&[(S::OAuth2, &["admin"])]]);
        let jwt_user = principal(PrincipalKind::Jwt, &["read"]);
        let jwt_admin = principal(PrincipalKind::Jwt, &["admin", "read"]);
        let key = principal(PrincipalKind::ApiKey, &["admin"]);
        assert_eq!(
            authorize_operation(&oauth_admin, None),
            AuthzDecision::Unauthenticated
        );
        assert_eq!(
            authorize_operation(&oauth_admin, Some(&jwt_user)),
            AuthzDecision::MissingScopes(vec!["admin".into()])
        );
        assert_eq!(
            authorize_operation(&oauth_admin, Some(&jwt_admin)),
            AuthzDecision::Allow
        );
        assert_eq!(
            authorize_operation(&oauth_admin, Some(&key)),
            AuthzDecision::WrongCredential
        );
        // Either alternative: a token with the scope, or an API key.
        let either = requirement(&[&[(S::OAuth2, &["admin"])], &[(S::ApiKey, &[])]]);
        assert_eq!(
            authorize_operation(&either, Some(&key)),
            AuthzDecision::Allow
        );
        // Public and optional operations.
        assert_eq!(
            authorize_operation(&requirement(&[]), None),
            AuthzDecision::Allow
        );
        assert_eq!(
            authorize_operation(&requirement(&[&[], &[(S::Bearer, &[])]]), None),
            AuthzDecision::Allow
        );
        // Schemes the gateway does not verify are the upstream's to check.
        assert_eq!(
            authorize_operation(&requirement(&[&[(S::OtherHttp, &[])]]), None),
            AuthzDecision::Allow
        );
    }

    #[test]
    fn a_configured_rule_wins_over_the_operation_security() {
        let rules = RuleSet::compile(
            &[AccessRuleConfig {
                path: "/open/**".into(),
                methods: vec![],
                access: Access::Anonymous,
                accept: vec![],
                scopes: vec![],
                claims: BTreeMap::new(),
            }],
            Access::Anonymous,
            true,
        )
        .expect("rules");
        let bearer = requirement(&[&[(CredentialScheme::Bearer, &[])]]);
        assert_eq!(
            rules.authorize_with(&Method::GET, "/open/x", None, Some(&bearer)),
            AuthzDecision::Allow
        );
        assert_eq!(
            rules.authorize_with(&Method::GET, "/closed", None, Some(&bearer)),
            AuthzDecision::Unauthenticated
        );
        assert_eq!(
            rules.authorize_with(&Method::GET, "/closed", None, None),
            AuthzDecision::Allow
        );
    }

    /// Obviously correct (exponential) matcher to compare against.
    fn reference(pattern: &[PatternSegment], path: &[String]) -> bool {
        match pattern.split_first() {
            None => path.is_empty(),
            Some((PatternSegment::Any, rest)) => {
                (0..=path.len()).any(|i| reference(rest, &path[i..]))
            }
            Some((PatternSegment::One, rest)) => !path.is_empty() && reference(rest, &path[1..]),
            Some((PatternSegment::Literal(l), rest)) => {
                path.first().is_some_and(|p| p == l) && reference(rest, &path[1..])
            }
        }
    }

    proptest! {
        #[test]
        fn matcher_agrees_with_reference(
            pattern in proptest::collection::vec(prop_oneof!["a", "b", "\\*", "\\*\\*"], 0..6),
            path in proptest::collection::vec(prop_oneof!["a", "b", "c"], 0..8)
        ) {
            let text = format!("/{}", pattern.join("/"));
            let compiled = PathPattern::parse(&text, false).unwrap();
            prop_assert_eq!(compiled.matches_segments(&path), reference(&compiled.segments, &path));
        }

        #[test]
        fn normalisation_never_panics_and_has_no_dot_segments(raw in "\\PC{0,200}") {
            for seg in normalize_path(&raw) {
                prop_assert!(seg != "." && seg != ".." && !seg.is_empty());
            }
        }
    }

    fn pat(p: &str) -> PathPattern {
        PathPattern::parse(p, true).unwrap()
    }

    #[test]
    fn double_star_matches_any_depth() {
        let p = pat("/api/admin/**");
        assert!(p.matches("/api/admin"));
        assert!(p.matches("/api/admin/"));
        assert!(p.matches("/api/admin/users/1"));
        assert!(!p.matches("/api/administrator"));
        assert!(!p.matches("/api/public/admin"));
        let mid = pat("/api/**/orders");
        assert!(mid.matches("/api/orders"));
        assert!(mid.matches("/api/a/b/orders"));
        assert!(!mid.matches("/api/a/b/orders/1"));
    }

    #[test]
    fn single_star_is_one_segment() {
        let p = pat("/api/users/*/orders");
        assert!(p.matches("/api/users/7/orders"));
        assert!(!p.matches("/api/users/orders"));
        assert!(!p.matches("/api/users/7/8/orders"));
    }

    #[test]
    fn evasions_are_normalised() {
        let p = pat("/api/admin/**");
        for evasion in [
            "/api/%61dmin/users",
            "/API/ADMIN/users",
            "/api/public/../admin/users",
            "/api//admin/users",
            "/api/./admin",
            "/api/admin;jsessionid=1/users",
            "/api%2Fadmin/users",
            "/api%252Fadmin/users",
            "/api\\admin\\users",
        ] {
            assert!(p.matches(evasion), "{evasion}");
        }
    }

    #[test]
    fn case_sensitive_when_asked() {
        let p = PathPattern::parse("/Api", false).unwrap();
        assert!(p.matches("/Api"));
        assert!(!p.matches("/api"));
    }

    #[test]
    fn bad_patterns_refused() {
        assert!(PathPattern::parse("api", true).is_err());
        assert!(PathPattern::parse("/a*b", true).is_err());
    }

    #[test]
    fn claim_rules_match_array_elements() {
        assert!(claim_matches("admin", &["admin".into()]));
        assert!(claim_matches("user,admin", &["admin".into()]));
        assert!(!claim_matches("user", &["admin".into()]));
        assert!(!claim_matches("administrator", &["admin".into()]));
    }
}
