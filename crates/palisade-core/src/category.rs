use serde::{Deserialize, Serialize};
use std::fmt;

/// The OWASP API Security Top 10 (2023) risks a category maps to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum ApiTop10 {
    /// API1:2023 Broken Object Level Authorization.
    Api1Bola,
    /// API2:2023 Broken Authentication.
    Api2BrokenAuthentication,
    /// API3:2023 Broken Object Property Level Authorization.
    Api3PropertyAuthorization,
    /// API4:2023 Unrestricted Resource Consumption.
    Api4ResourceConsumption,
    /// API5:2023 Broken Function Level Authorization.
    Api5Bfla,
    /// API6:2023 Unrestricted Access to Sensitive Business Flows.
    Api6BusinessFlows,
    /// API7:2023 Server Side Request Forgery.
    Api7Ssrf,
    /// API8:2023 Security Misconfiguration.
    Api8Misconfiguration,
    /// API9:2023 Improper Inventory Management.
    Api9Inventory,
    /// API10:2023 Unsafe Consumption of APIs.
    Api10UnsafeConsumption,
}

/// What kind of attack or weakness a finding is about.
///
/// The taxonomy covers the OWASP API Top 10 (2023) and the classic web attack
/// classes; [`Category::api_top10`] gives the API risk it belongs to, if any.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Category {
    SqlInjection,
    Xss,
    NosqlInjection,
    CommandInjection,
    PathTraversal,
    RemoteFileInclusion,
    Ssrf,
    TemplateInjection,
    LdapInjection,
    XpathInjection,
    Xxe,
    CrlfInjection,
    JndiInjection,
    PrototypePollution,
    /// Java/PHP/other code injection and deserialisation payloads.
    CodeInjection,
    /// Malformed or ambiguous HTTP: smuggling, invalid framing, bad encodings.
    ProtocolViolation,
    /// Size, count, depth or time limits exceeded.
    ResourceLimit,
    /// Method or content type not allowed on the route.
    MethodOrContentType,
    /// Request does not match the API's schema.
    SchemaViolation,
    /// Properties the client may not set (unknown or read-only).
    MassAssignment,
    /// Endpoint absent from the API description.
    ShadowEndpoint,
    /// Deprecated endpoint still being called.
    ZombieEndpoint,
    BrokenAuthentication,
    BrokenObjectAuthorization,
    BrokenFunctionAuthorization,
    RateLimit,
    BruteForce,
    /// Response carries data the API does not promise.
    ExcessiveDataExposure,
    /// Stack traces, SQL errors, versions or paths leaking from responses.
    InformationLeak,
    /// Scanners, scrapers and other automated clients.
    AutomatedThreat,
    /// Business-flow abuse (reserving without paying, enumeration...).
    BusinessFlowAbuse,
    /// Unencrypted transport.
    CleartextTransport,
    /// Anything else a rule set reports.
    Other,
}

impl Category {
    /// Stable snake_case name used in events, metrics and config.
    pub fn as_str(self) -> &'static str {
        use Category::*;
        match self {
            SqlInjection => "sql_injection",
            Xss => "xss",
            NosqlInjection => "nosql_injection",
            CommandInjection => "command_injection",
            PathTraversal => "path_traversal",
            RemoteFileInclusion => "remote_file_inclusion",
            Ssrf => "ssrf",
            TemplateInjection => "template_injection",
            LdapInjection => "ldap_injection",
            XpathInjection => "xpath_injection",
            Xxe => "xxe",
            CrlfInjection => "crlf_injection",
            JndiInjection => "jndi_injection",
            PrototypePollution => "prototype_pollution",
            CodeInjection => "code_injection",
            ProtocolViolation => "protocol_violation",
            ResourceLimit => "resource_limit",
            MethodOrContentType => "method_or_content_type",
            SchemaViolation => "schema_violation",
            MassAssignment => "mass_assignment",
            ShadowEndpoint => "shadow_endpoint",
            ZombieEndpoint => "zombie_endpoint",
            BrokenAuthentication => "broken_authentication",
            BrokenObjectAuthorization => "broken_object_authorization",
            BrokenFunctionAuthorization => "broken_function_authorization",
            RateLimit => "rate_limit",
            BruteForce => "brute_force",
            ExcessiveDataExposure => "excessive_data_exposure",
            InformationLeak => "information_leak",
            AutomatedThreat => "automated_threat",
            BusinessFlowAbuse => "business_flow_abuse",
            CleartextTransport => "cleartext_transport",
            Other => "other",
        }
    }

    /// Every category, in declaration order.
    pub const ALL: &'static [Category] = &[
        Category::SqlInjection,
        Category::Xss,
        Category::NosqlInjection,
        Category::CommandInjection,
        Category::PathTraversal,
        Category::RemoteFileInclusion,
        Category::Ssrf,
        Category::TemplateInjection,
        Category::LdapInjection,
        Category::XpathInjection,
        Category::Xxe,
        Category::CrlfInjection,
        Category::JndiInjection,
        Category::PrototypePollution,
        Category::CodeInjection,
        Category::ProtocolViolation,
        Category::ResourceLimit,
        Category::MethodOrContentType,
        Category::SchemaViolation,
        Category::MassAssignment,
        Category::ShadowEndpoint,
        Category::ZombieEndpoint,
        Category::BrokenAuthentication,
        Category::BrokenObjectAuthorization,
        Category::BrokenFunctionAuthorization,
        Category::RateLimit,
        Category::BruteForce,
        Category::ExcessiveDataExposure,
        Category::InformationLeak,
        Category::AutomatedThreat,
        Category::BusinessFlowAbuse,
        Category::CleartextTransport,
        Category::Other,
    ];

    /// Parses the snake_case name produced by [`Category::as_str`].
    pub fn from_name(name: &str) -> Option<Category> {
        Category::ALL.iter().copied().find(|c| c.as_str() == name)
    }

    /// The OWASP API Security Top 10 (2023) risk this category belongs to.
    ///
    /// Injection classes are not an API Top 10 entry of their own in 2023; they
    /// are reported as classic web attacks (`None`), except SSRF.
    pub fn api_top10(self) -> Option<ApiTop10> {
        use Category::*;
        Some(match self {
            BrokenObjectAuthorization => ApiTop10::Api1Bola,
            BrokenAuthentication | BruteForce => ApiTop10::Api2BrokenAuthentication,
            MassAssignment | ExcessiveDataExposure => ApiTop10::Api3PropertyAuthorization,
            ResourceLimit | RateLimit => ApiTop10::Api4ResourceConsumption,
            BrokenFunctionAuthorization => ApiTop10::Api5Bfla,
            BusinessFlowAbuse | AutomatedThreat => ApiTop10::Api6BusinessFlows,
            Ssrf => ApiTop10::Api7Ssrf,
            InformationLeak | CleartextTransport | MethodOrContentType => {
                ApiTop10::Api8Misconfiguration
            }
            ShadowEndpoint | ZombieEndpoint => ApiTop10::Api9Inventory,
            _ => return None,
        })
    }
}

impl fmt::Display for Category {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip() {
        for c in Category::ALL {
            assert_eq!(Category::from_name(c.as_str()), Some(*c));
            let json = serde_json::to_string(c).unwrap();
            assert_eq!(json, format!("\"{}\"", c.as_str()));
        }
    }
}
