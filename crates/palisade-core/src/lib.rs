//! Shared vocabulary of the Palisade gateway.
//!
//! Every engine (native detectors, the SecLang/CRS engine, the OpenAPI validator,
//! identity and rate limiting) speaks in the types defined here, so the proxy can
//! run them as one pipeline without knowing what they are:
//!
//! * [`Transaction`]: one request/response exchange as seen by the inspection pipeline.
//! * [`Detector`]: an engine that inspects a transaction in one or more [`Phase`]s and
//!   reports [`Finding`]s.
//! * [`Decision`]: what the decision stage concluded from the findings.
//! * [`SecurityEvent`]: the typed record written for every inspected request that had
//!   findings or was blocked.
//!
//! Nothing in this crate performs I/O.

mod category;
mod decision;
mod detector;
mod event;
mod finding;
mod headers;
mod interned;
mod path;
mod principal;
mod redact;
mod security;
mod state;
mod transaction;
pub mod worker;
mod worker_metrics;

pub use category::{ApiTop10, Category};
pub use decision::{Action, Decision, DecisionPolicy, Exclusion, Mode};
pub use detector::{Detector, Phase};
pub use event::{Latencies, SecurityEvent};
pub use finding::{Enforcement, Finding, Location, Severity};
pub use headers::remove_headers_where;
pub use interned::intern;
pub use path::{normalize_path, PathSegment, PathSegments, MAX_PATH_SEGMENTS};
pub use principal::{Principal, PrincipalKind};
pub use redact::{redact_evidence, Evidence, EVIDENCE_MAX_CHARS};
pub use security::{CredentialScheme, OperationSecurity, SchemeRequirement, SecurityAlternative};
pub use state::StateMap;
pub use transaction::{RequestHead, ResponseEdit, ResponseHead, Transaction};
pub use worker_metrics::{flush_worker_metrics, WorkerCounter, WorkerHistogram};
