//! Security requirements of an operation, as an API description declares
//! them (OpenAPI `security` and `components.securitySchemes`).
//!
//! The OpenAPI engine produces these; the authorization stage enforces them
//! for requests that no explicit access rule of the configuration covers.

/// The kind of credential a security scheme asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CredentialScheme {
    /// `type: http, scheme: bearer`: a bearer token (JWT or opaque).
    Bearer,
    /// `type: http` with another scheme (`basic`, `digest`...): checked by the upstream.
    OtherHttp,
    /// `type: apiKey`.
    ApiKey,
    /// `type: oauth2`: a bearer token carrying the listed scopes.
    OAuth2,
    /// `type: openIdConnect`: a bearer token carrying the listed scopes.
    OpenIdConnect,
    /// `type: mutualTLS`: a verified client certificate.
    MutualTls,
    /// A scheme the document references but does not define, or of unknown type.
    Unknown,
}

/// One scheme of a requirement, with the scopes it must carry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SchemeRequirement {
    /// The scheme's name under `components.securitySchemes`.
    pub name: String,
    pub scheme: CredentialScheme,
    /// Scopes (OAuth 2 / OpenID Connect) or roles (other schemes, OpenAPI 3.1).
    pub scopes: Vec<String>,
}

/// One alternative: every scheme listed must be satisfied. An empty
/// alternative (`{}`) makes authentication optional.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SecurityAlternative {
    pub schemes: Vec<SchemeRequirement>,
}

/// An operation's security: any one alternative suffices. No alternatives
/// (`security: []`) means the operation is public.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct OperationSecurity {
    /// `operationId` or `METHOD /template`, for findings and events.
    pub operation: String,
    pub alternatives: Vec<SecurityAlternative>,
}

impl OperationSecurity {
    /// True when a request without credentials may call the operation.
    pub fn allows_anonymous(&self) -> bool {
        self.alternatives.is_empty() || self.alternatives.iter().any(|a| a.schemes.is_empty())
    }
}
