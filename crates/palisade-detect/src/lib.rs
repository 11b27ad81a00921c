//! Native attack detection for Palisade: protection that works with no rule
//! set installed.
//!
//! The crate is pure (no I/O) and has two layers:
//!
//! * **Tokenizers** usable on their own, with the semantics of libinjection
//!   (and used by the SecLang engine for `@detectSQLi` / `@detectXSS`):
//!   [`sqli::detect_sqli`] reads a value as the tail of a SQL statement in
//!   three contexts (bare, single-quoted, double-quoted) and reports a token
//!   fingerprint when the value breaks out and continues as SQL;
//!   [`xss::detect_xss`] tokenizes a value as HTML5 from element text and
//!   from inside quoted and unquoted attribute values and reports elements,
//!   event handlers and URL schemes that run script.
//! * **[`NativeDetector`]**, a `palisade_core::Detector` named `native` that
//!   finds every value in a request, undoes the encodings an attacker layers
//!   on it, runs the category checks, and reports scored findings.
//!
//! # What is detected
//!
//! | rule id | category | how |
//! |---|---|---|
//! | `palisade.sqli` | SQL injection | token fingerprint ([`sqli`]) |
//! | `palisade.xss.*` | XSS | HTML5 tokenizer ([`xss`]), `javascript:` URLs, JS-string breakouts into sinks |
//! | `palisade.nosql.*` | NoSQL injection | `$ne`/`$where`/`$regex`... as JSON keys, bracketed parameter names (`user[$ne]`) or inside values; `$where` JavaScript |
//! | `palisade.cmdi` | OS command injection | a separator or substitution (`;` `\|` `&` newline `` ` `` `$(`) followed by a command, after undoing `${IFS}`, quote splitting and brace expansion |
//! | `palisade.traversal`, `palisade.lfi.*` | path traversal / LFI | `../` sequences (any slash, overlong and look-alike forms), dot-dot path segments, system files, PHP stream wrappers, `file://` |
//! | `palisade.rfi*` | remote file inclusion | URLs to scripts with a truncating `?`/`#`/NUL, web-shell commands, raw IPs, FTP, UNC shares |
//! | `palisade.ssrf.*` | SSRF | URLs (and bare hosts in URL-named parameters) to loopback, link-local, private ranges, cloud metadata, including decimal/hex/octal/short IPv4, IPv4-mapped IPv6, wildcard-DNS names; odd schemes (gopher, dict, tftp, jar, netdoc, ldap) |
//! | `palisade.ssti*` | template injection | literal-arithmetic probes, runtime access (`__class__`, `getRuntime`, `constructor.constructor`...) inside `{{ }}`, `${ }`, `<%= %>`, `#{ }`..., multi-engine polyglots |
//! | `palisade.ldap` | LDAP injection | filters closed below depth zero and reopened (`*)(uid=*))(\|(uid=*`) |
//! | `palisade.xpath` | XPath injection | quote breakouts with XPath functions/axes, node-set unions |
//! | `palisade.xxe.*` | XXE | DOCTYPE with external or internal subset, ENTITY declarations, XInclude |
//! | `palisade.crlf` | CRLF / header injection | line breaks (incl. `U+560A`/`U+560D`) followed by a header or a blank line |
//! | `palisade.jndi*` | JNDI / Log4Shell | `${jndi:` after resolving nested lookups (`${${lower:j}ndi:`, `${::-j}`, `${env:X:-j}`), other Log4j lookups |
//! | `palisade.prototype-pollution` | prototype pollution | `__proto__`, `constructor.prototype` as keys, parameter names or inside values |
//! | `palisade.code`, `palisade.deserialization` | code injection | PHP/Node/Python execution calls, serialized Java/PHP objects |
//!
//! # Where it looks
//!
//! Request head: every path segment (`path[i]`), every query parameter name
//! and value (`query.id`), the headers listed in [`NativeConfig::headers`]
//! (`header.user-agent`), every cookie (`cookie.session`), and every other
//! header for JNDI lookups. Request body by media type: JSON (every key and
//! string value at any depth, `json.$.user.name`; a streaming scanner with no
//! recursion), urlencoded forms (`form.x`), multipart fields and file names
//! (`multipart.avatar`, `multipart.avatar.filename`) and XML/SVG/HTML file
//! contents, XML text and attributes (`xml./a/b`, `xml./a/@c`) plus the
//! DOCTYPE, GraphQL string literals (`query` documents) and variables. A
//! malformed JSON body is also inspected as raw text; other textual bodies
//! are inspected whole; binary bodies are skipped.
//!
//! Before the checks, each value goes through the attacker's decoding
//! layers ([`decode`]): percent-decoding up to three times (double and triple
//! encoding, `%uXXXX`, `+` for query and form data), JSON `\uXXXX` (by the
//! JSON scanner), HTML character references, overlong UTF-8 and fullwidth or
//! look-alike characters folded to ASCII; values that are plainly base64 are
//! decoded and inspected as well. Case, whitespace and SQL comment
//! obfuscation are handled by the tokenizers themselves.
//!
//! # How findings are scored
//!
//! The decision stage blocks at an anomaly score of 5 (one critical finding).
//! Every check reports a [`checks::Confidence`]:
//!
//! * **Strong** (score 5, critical): only an attack reads this way, e.g. a
//!   quote breakout followed by `OR 1=1`, `<img onerror=...>`, a URL to
//!   `169.254.169.254`. Blocks alone.
//! * **Medium** (score 3, warning): attack syntax with benign readings, e.g.
//!   `select password from users` with no breakout (also "select fabrics from
//!   italy"), a lone `../` in a query parameter. Blocks only together with
//!   other evidence.
//! * **Weak** (score 2, notice): worth recording, ordinary in some fields,
//!   e.g. a shell command in a markdown comment. Weak findings of one request
//!   add at most 4 together, so they never block on their own.
//!
//! Confidence depends on the value's context ([`value::ValueContext`]):
//!
//! * **Shape**: values made only of word characters, digits and `-_.@+,:`
//!   (numbers, UUIDs, dates, e-mail addresses, identifiers) are cleared
//!   without running the checks; only the internal-address check still runs
//!   on them (`169.254.169.254` is a valid-looking value and an SSRF target).
//! * **Position**: JSON keys, parameter names, path segments and uploaded
//!   file names carry structure, not data, so a Medium signal there counts as
//!   Strong; query parameters, headers and cookies (transport positions) are
//!   stricter than body text about line breaks, statements and markup.
//! * **Prose**: a value that reads as natural language (mostly plain words,
//!   few shell or markup symbols), a markdown document with code fences, or
//!   a multi-line document mostly made of letters lowers the confidence of
//!   signals that are normal when people talk about code: a command in
//!   backticks (`` `type` `` is inline code), a whole SQL statement, a URL to
//!   `localhost`, a system path mentioned in a sentence, a `Link:` line or
//!   markup after a line break. Breakouts and markup that executes
//!   (`<script>`, quote-then-`OR`-condition) stay Strong.
//! * **Words versus syntax**: after a bare word, `in`/`is`/`like` read as
//!   English (`date and time in UTC`), not as a SQL comparison; a word that
//!   names a command (`cat`, `sleep`, `type`) only counts with a command-shaped
//!   tail (`sleep 5`, `cat /etc/passwd`), while commands that are not words
//!   (`whoami`, `wget`) need only a separator.
//!
//! The model was tuned on the repository corpus (`eval/`) and then measured
//! on hand-written holdout sets and on strings from public API descriptions
//! before any change they prompted; `eval/README.md` records those figures.
//!
//! [`NativeConfig::scores`] overrides the score per category; categories can
//! be disabled with [`NativeConfig::categories`].
//!
//! # Cost
//!
//! Every decoder and check is linear in the value length; tokenizers look at
//! a bounded number of tokens; no regular expressions are used; buffers are
//! reused across the values of a request (no allocation per byte). Values are
//! capped at [`NativeConfig::max_value_bytes`], bodies at
//! [`NativeConfig::max_body_bytes`], and the count of values at
//! [`NativeConfig::max_values`] (exceeding it adds an informational
//! `palisade.limit.values` finding; empty values are not counted, so that
//! padding a request with them cannot push an attack past the limit).
//!
//! # Known limits
//!
//! * SQL injection is judged from how a value *starts* (as libinjection does):
//!   an injection placed after a long benign prefix in the same value, in a
//!   context the three readings do not model (inside a backtick identifier,
//!   after `LIKE '%`), is missed.
//! * Whole SQL statements, shell commands in prose and URLs to internal hosts
//!   in free text score below the threshold by design; APIs that receive such
//!   values in parameters and execute them need the CRS or a schema.
//! * RFI cannot be told from an ordinary URL without the parameter's purpose:
//!   only URLs with include lures, raw IPs, FTP scripts or UNC paths are
//!   flagged.
//! * SSRF detection sees literal addresses and known internal names; a public
//!   DNS name that resolves to an internal address (DNS rebinding) is not
//!   resolved (no I/O).
//! * Encodings beyond those listed (UTF-7, UTF-16 bodies, gzip-encoded
//!   request bodies, nested base64 inside base64) are not undone.
//! * Responses are not inspected.

pub mod byte_set;
pub mod checks;
pub mod decode;
pub mod extract;
pub mod json;
mod native;
pub mod sqli;
pub mod value;
pub mod xml;
pub mod xss;

pub use native::{NativeConfig, NativeDetector, NATIVE_CATEGORIES};
