//! OpenAPI positive security for Palisade.
//!
//! Operators hand the gateway the OpenAPI document they already have; this
//! crate loads it, compiles it, and enforces it in the four inspection phases:
//!
//! * **Loading** ([`ApiSpec::load`], [`ApiSpec::from_str`]): OpenAPI 3.0.x and
//!   3.1.x, YAML or JSON, `$ref`s within the file and to relative files. A
//!   `$ref` is honoured wherever it appears (JSON Reference semantics), which
//!   covers Redocly-style operation refs, refs in place of plain strings, and
//!   map-level refs (`components.schemas: {$ref: _index.yaml}`), including
//!   when a pointer walk crosses one. Cycles are fine. `servers` URLs give the
//!   base paths routes are mounted under (path-item and operation `servers` too).
//!   Errors carry the file, the JSON pointer and, where the source text lets
//!   it be found, the line. Constructs that would change meaning if ignored
//!   (`$id`, `$dynamicRef`, `unevaluatedItems`, remote refs, patterns the
//!   linear-time engine cannot run) are named load errors.
//! * **Routing**: a segment trie, literal segments before mixed ones
//!   (`{id}.json`) before whole-segment variables, with backtracking.
//! * **Requests** ([`OpenApiDetector`], request phases): shadow endpoints
//!   (404, or 405 with `Allow`), zombie (deprecated) operations, parameters in
//!   path/query/header/cookie with their `style`/`explode` forms, content type
//!   (415), bodies in JSON (`+json` too), form-urlencoded (with `a[b]` nesting),
//!   multipart/form-data (per-part `encoding.contentType`) and text/plain.
//!   Mass assignment: undeclared properties and query parameters are refused
//!   in strict mode (the default), `readOnly` properties always.
//! * **Responses**: undocumented status codes and content types, body schema;
//!   per operation `block` (502), `strip` (remove undeclared and `writeOnly`
//!   properties, then forward) or `log`.
//!
//! Modes can be set in the document: `x-palisade-request-mode: block|log`,
//! `x-palisade-response-mode: block|strip|log|off`,
//! `x-palisade-unknown-endpoints: block|log` and
//! `x-palisade-strictness: strict|lenient`, on an operation, a path item or
//! the root (the most specific wins, then [`OpenApiPolicy`]).
//!
//! # Why a schema compiler of its own
//!
//! General JSON Schema crates validate JSON Schema, not OpenAPI Schema
//! Objects: `nullable`, `discriminator` dispatch, `readOnly`/`writeOnly` as
//! direction-dependent constraints, string-typed parameters that must be
//! coerced, and "strict" objects are all outside them, and they either use a
//! backtracking regex engine for `pattern` or cannot report exact instance
//! locations cheaply. Compiling schemas into a flat arena of nodes (references
//! become indices; recursion is a cycle in the arena) gives all of those,
//! linear-time patterns through the `regex` crate, and a validator that costs
//! a few microseconds for a kilobyte of JSON (see BENCHMARKS.md). Request
//! bodies are not turned into `serde_json::Value`s: a flat, borrowed tree
//! costs a third of that and reads the same.
//!
//! # Semantics worth knowing
//!
//! * `nullable: true` (3.0) admits `null` wherever it is written, also beside a
//!   `$ref` or `allOf`; 3.1 `type` arrays work as in JSON Schema. Both are
//!   accepted in either version, as real documents mix them.
//! * `$ref` siblings are applied in 3.0 documents too (real documents rely on it).
//! * With a `discriminator` next to `oneOf`/`anyOf`, the tag selects the one
//!   schema to validate (explicit `mapping`, else the branch's schema name).
//!   With an explicit `mapping`, an unknown or missing tag is a
//!   `discriminator` violation; without one, a tag that is no schema name falls
//!   back to plain `oneOf`/`anyOf` evaluation (documents such as OpenAI's tag
//!   with values like `"developer"` constrained inside each branch). A
//!   discriminator on a base schema used through `allOf` also dispatches to the
//!   mapped subtype.
//! * A property named in `required` but absent from `properties` counts as
//!   declared (untyped), for strict mode and for stripping alike.
//! * Strict mode behaves as if `unevaluatedProperties: false` were written at
//!   every object location whose schemas declare properties and leave none open.
//!   In strict mode a `oneOf` matched by several branches is resolved in
//!   favour of the one branch that evaluates every property.
//! * Several operations on one path and method (`/schema#add`,
//!   `/schema#update`) are alternatives: the request passes if one accepts it,
//!   and `tx.operation` names that one. A fixed query in a template
//!   (`/responses?beta=true`) selects its operation when the request carries it.
//! * `HEAD` is routed to the `GET` operation when no `head` is described.
//! * JSON request bodies are parsed into a borrowed tree ([`json_tree`]) that
//!   keeps duplicate keys: every duplicate is validated, since the upstream's
//!   parser may keep the first or the last. Where one value is read (a
//!   discriminator tag), the last wins, as in JavaScript, Python and Go.
//! * `$recursiveRef: "#"` inside a component schema refers to that component
//!   (the static reading of `$recursiveAnchor`); dynamic extension is not supported.
//! * YAML integers beyond 64 bits (seen in real documents as `maximum`) are read as floats.
//! * Unknown `format`s are annotations and pass; the checked ones are int32,
//!   int64, float, uuid, date-time, date, time, email, uri/url, uri-reference,
//!   hostname, ipv4, ipv6 and byte.
//! * Patterns are ECMA-262 translated to the `regex` crate (`\d` stays ASCII);
//!   a leading lookahead of a `^`-anchored pattern (`^(?!sink_)…`) runs as a
//!   conjunction of linear-time searches; other lookarounds and backreferences
//!   are load errors.
//!
//! # Known limits
//!
//! * Paths match exactly and case-sensitively: `/users/` is not `/users`.
//! * A value that needs more than 250,000 schema applications (nested
//!   `oneOf` trials over recursive schemas) is refused as too complex.
//! * Only local files are read: remote (`http://`) references are refused.
//! * Callbacks and webhooks are compiled (their errors surface) but not routed:
//!   they describe calls the API makes, not requests it receives.
//! * Security requirements are left to the identity engine.
//! * Response headers are not validated; request headers `Accept`,
//!   `Content-Type` and `Authorization` declared as parameters are ignored, as
//!   the OpenAPI specification requires.
//! * Response stripping applies to JSON bodies; other media types are checked
//!   against their documented types only.

mod detector;
mod error;
mod formats;
pub mod json_tree;
mod loader;
mod params;
mod pattern;
mod router;
mod schema;
mod spec;
mod stream_check;
mod strip;
mod validate;

#[cfg(test)]
mod tests;

pub use detector::{Limits, OpenApiDetector, OpenApiPolicy};
pub use error::{SpecError, SpecLocation};
pub use spec::{ApiSpec, EnforceMode, OasVersion, OperationMatch, ResponseMode, Strictness};
