//! SQL injection detection by tokenization and fingerprinting.
//!
//! The input is read as the *tail* of a SQL statement into which it was
//! pasted, the way an injected value ends up in a query. Three readings are
//! tried, because the value may have landed in three places:
//!
//! * as bare SQL (`WHERE id = <input>`),
//! * inside a single-quoted string (`WHERE name = '<input>'`),
//! * inside a double-quoted string (`WHERE name = "<input>"`).
//!
//! In a quoted reading the tokenizer starts inside a string literal, so an
//! attacker's first quote *closes* it. Each reading yields a token stream
//! (strings, numbers, keywords, operators, comments...). Each token has a
//! one-character type, and the first types form the *fingerprint*
//! (`s&1o1c` for `' or 1=1--`).
//!
//! A reading is an injection when its stream starts the way injections must
//! start: a *breakout* (the closed string, a number or a name the value stood
//! for) followed by a *continuation* that only makes sense as SQL: a boolean
//! operator followed by a comparison, `UNION SELECT`, a stacked statement,
//! a comment cutting off the rest of the query, `ORDER BY n`, a
//! time-delay or error-based function... Prose rarely survives this: words
//! follow words, where SQL puts operators and operands.
//!
//! Detection never allocates per byte: tokens are kept in a small bounded
//! array and only the first [`MAX_TOKENS`] tokens of a reading are examined.

use std::fmt;

/// How many tokens of one reading are examined. Injections are decided by how
/// the value *starts*; the rest of a long value does not change the verdict.
pub const MAX_TOKENS: usize = 20;

/// A positive SQL injection verdict.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SqliMatch {
    /// Token types of the matching reading, one character each:
    /// `s` string, `1` number, `n` name, `k` keyword, `U` union, `E` statement,
    /// `B` group/order by, `f` function, `o` operator, `&` logic operator,
    /// `v` variable, `(` `)` `,` `;` punctuation, `c` comment, `X` other.
    pub fingerprint: String,
}

/// How sure the tokenizer is that a value is SQL injection.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum SqliStrength {
    /// A whole SQL statement with no breakout, such as a code snippet
    /// `select * from users where id = 1`: suspicious in a parameter,
    /// ordinary in a comment field.
    Statement,
    /// A breakout followed by SQL: an injection.
    Injection,
}

/// Full verdict used by the native detector.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SqliAnalysis {
    pub fingerprint: String,
    pub strength: SqliStrength,
}

/// libinjection-style SQL injection test of raw (already decoded) bytes.
///
/// Returns the fingerprint of the first reading (bare, single-quoted,
/// double-quoted) that is an injection. Whole statements without a breakout
/// (a pasted query in a text field) are not reported here; see [`analyze`].
pub fn detect_sqli(input: &[u8]) -> Option<SqliMatch> {
    match analyze(input) {
        Some(a) if a.strength == SqliStrength::Injection => Some(SqliMatch {
            fingerprint: a.fingerprint,
        }),
        _ => None,
    }
}

/// Like [`detect_sqli`], but also reports statement-shaped values with a
/// lower [`SqliStrength`].
pub fn analyze(input: &[u8]) -> Option<SqliAnalysis> {
    let mut statement: Option<SqliAnalysis> = None;
    for ctx in [Context::Bare, Context::Single, Context::Double] {
        if let Context::Single | Context::Double = ctx {
            if memchr::memchr(ctx.quote(), input).is_none() {
                continue;
            }
        }
        let stream = TokenStream::tokenize(input, ctx);
        if stream.prose_start {
            continue;
        }
        match classify(&stream, ctx) {
            Some(SqliStrength::Injection) => {
                return Some(SqliAnalysis {
                    fingerprint: stream.fingerprint(),
                    strength: SqliStrength::Injection,
                })
            }
            Some(SqliStrength::Statement) if statement.is_none() => {
                statement = Some(SqliAnalysis {
                    fingerprint: stream.fingerprint(),
                    strength: SqliStrength::Statement,
                });
            }
            _ => {}
        }
    }
    statement
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Context {
    Bare,
    Single,
    Double,
}

impl Context {
    fn quote(self) -> u8 {
        match self {
            Context::Bare => 0,
            Context::Single => b'\'',
            Context::Double => b'"',
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Str,
    Num,
    Name,
    Keyword,
    Union,
    Statement,
    GroupBy,
    Function,
    Operator,
    Logic,
    Variable,
    LParen,
    RParen,
    Comma,
    Semicolon,
    Comment,
    Other,
}

impl Kind {
    fn symbol(self) -> char {
        match self {
            Kind::Str => 's',
            Kind::Num => '1',
            Kind::Name => 'n',
            Kind::Keyword => 'k',
            Kind::Union => 'U',
            Kind::Statement => 'E',
            Kind::GroupBy => 'B',
            Kind::Function => 'f',
            Kind::Operator => 'o',
            Kind::Logic => '&',
            Kind::Variable => 'v',
            Kind::LParen => '(',
            Kind::RParen => ')',
            Kind::Comma => ',',
            Kind::Semicolon => ';',
            Kind::Comment => 'c',
            Kind::Other => 'X',
        }
    }
}

/// Keywords whose identity matters to the classifier.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Word {
    None,
    // statements
    Select,
    Insert,
    Update,
    Delete,
    Drop,
    Create,
    Alter,
    Truncate,
    Exec,
    Declare,
    Shutdown,
    Waitfor,
    Set,
    Load,
    Call,
    // keywords
    From,
    Into,
    Table,
    Where,
    Having,
    Limit,
    Procedure,
    Delay,
    Outfile,
    Data,
    Values,
    Not,
    /// DISTINCT, TOP, ALL after SELECT.
    Distinct,
    /// Operators spelled as words (`IN`, `IS`, `LIKE`, `BETWEEN`...).
    Verbal,
    // functions that only attackers call from a parameter
    DangerFunction,
}

#[derive(Debug, Clone, Copy)]
struct Token {
    kind: Kind,
    word: Word,
    /// Strings: whether the closing quote was seen.
    closed: bool,
    /// Comments: number of non-space bytes after the comment marker.
    len: u32,
    /// Names: immediately followed by `(` (a call).
    call: bool,
}

impl Token {
    fn new(kind: Kind) -> Self {
        Token {
            kind,
            word: Word::None,
            closed: true,
            len: 0,
            call: false,
        }
    }
}

struct TokenStream {
    tokens: [Token; MAX_TOKENS],
    count: usize,
    /// More input followed the last token kept.
    truncated: bool,
    /// The first two tokens cannot start an injection (see
    /// [`TokenStream::starts_like_prose`]), so tokenizing stopped.
    prose_start: bool,
}

impl TokenStream {
    fn tokens(&self) -> &[Token] {
        self.tokens.get(..self.count).unwrap_or(&[])
    }

    fn fingerprint(&self) -> String {
        self.tokens()
            .iter()
            .take(8)
            .map(|t| t.kind.symbol())
            .collect()
    }

    fn push(&mut self, token: Token) -> bool {
        if let Some(slot) = self.tokens.get_mut(self.count) {
            *slot = token;
            self.count += 1;
        }
        self.count < MAX_TOKENS
    }

    /// Decides from the first two tokens that [`classify`] cannot report
    /// an injection: the first token is a breakout and the second is not a
    /// continuation any rule accepts (prose such as `Rock 'n' roll`, `O'Neil
    /// said`, `5 stars`).
    fn starts_like_prose(&self, ctx: Context) -> bool {
        let [first, second, ..] = &self.tokens;
        if self.count != 2 || first.word != Word::None {
            return false;
        }
        let continues = match second.kind {
            Kind::Union
            | Kind::Semicolon
            | Kind::Logic
            | Kind::Operator
            | Kind::RParen
            | Kind::LParen
            | Kind::Function => true,
            Kind::Statement => second.word == Word::Waitfor,
            Kind::Comment => ctx != Context::Bare,
            Kind::GroupBy | Kind::Keyword => {
                ctx != Context::Bare || first.kind == Kind::Num || second.word == Word::Into
            }
            _ => false,
        };
        let breakout = match ctx {
            Context::Bare => {
                matches!(first.kind, Kind::Name | Kind::Num)
                    || (first.kind == Kind::Str && first.closed)
            }
            Context::Single | Context::Double => first.kind == Kind::Str,
        };
        breakout && !continues
    }

    fn tokenize(input: &[u8], ctx: Context) -> TokenStream {
        let mut stream = TokenStream {
            tokens: [Token::new(Kind::Other); MAX_TOKENS],
            count: 0,
            truncated: false,
            prose_start: false,
        };
        let mut pos = 0;
        if ctx != Context::Bare {
            let (token, next) = lex_string(input, 0, ctx.quote());
            pos = next;
            stream.push(token);
        }
        let mut in_exec_comment = false;
        while pos < input.len() {
            let Some((token, next)) = lex_one(input, pos, &mut in_exec_comment) else {
                break;
            };
            pos = next.max(pos + 1);
            if let Some(token) = token {
                if !stream.push(token) {
                    stream.truncated = pos < input.len();
                    break;
                }
                if stream.count == 2 && stream.starts_like_prose(ctx) {
                    stream.prose_start = true;
                    break;
                }
            }
        }
        stream
    }
}

fn is_space(b: u8) -> bool {
    matches!(b, b' ' | b'\t' | b'\n' | b'\r' | 0x0b | 0x0c | 0 | 0xa0)
}

fn is_word_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || matches!(b, b'_' | b'$' | b'.') || b >= 0x80
}

fn at(input: &[u8], i: usize) -> u8 {
    input.get(i).copied().unwrap_or(0)
}

/// Lexes a string whose opening quote is just before `start`.
fn lex_string(input: &[u8], start: usize, quote: u8) -> (Token, usize) {
    let mut i = start;
    while i < input.len() {
        let b = at(input, i);
        if b == b'\\' {
            i += 2;
            continue;
        }
        if b == quote {
            if at(input, i + 1) == quote {
                i += 2;
                continue;
            }
            return (Token::new(Kind::Str), i + 1);
        }
        i += 1;
    }
    let mut t = Token::new(Kind::Str);
    t.closed = false;
    (t, input.len())
}

fn skip_to_line_end(input: &[u8], start: usize) -> (u32, usize) {
    let end = memchr::memchr(b'\n', input.get(start..).unwrap_or(&[]))
        .map(|p| start + p)
        .unwrap_or(input.len());
    let visible = input
        .get(start..end)
        .unwrap_or(&[])
        .iter()
        .filter(|b| !is_space(**b))
        .count();
    (u32::try_from(visible).unwrap_or(u32::MAX), end)
}

/// Lexes one token at `pos`. Returns `None` when nothing is left, `Some((None, next))`
/// for skipped input (whitespace, inline comments).
fn lex_one(input: &[u8], pos: usize, in_exec_comment: &mut bool) -> Option<(Option<Token>, usize)> {
    let b = *input.get(pos)?;
    let next = at(input, pos + 1);
    let tok = |kind: Kind, len: usize| Some((Some(Token::new(kind)), pos + len));
    match b {
        _ if is_space(b) => Some((None, pos + 1)),
        b'\'' | b'"' => {
            let (t, end) = lex_string(input, pos + 1, b);
            Some((Some(t), end))
        }
        b'`' => {
            let end = memchr::memchr(b'`', input.get(pos + 1..).unwrap_or(&[]))
                .map(|p| pos + 1 + p + 1)
                .unwrap_or(input.len());
            tok(Kind::Name, end - pos)
        }
        b'[' => {
            // SQL Server bracket identifiers.
            let end = memchr::memchr(b']', input.get(pos + 1..).unwrap_or(&[]))
                .map(|p| pos + 1 + p + 1)
                .unwrap_or(input.len());
            tok(Kind::Name, end - pos)
        }
        b'/' if next == b'*' => {
            if at(input, pos + 2) == b'!' {
                // MySQL executable comment: its content is code.
                *in_exec_comment = true;
                let mut i = pos + 3;
                while at(input, i).is_ascii_digit() {
                    i += 1;
                }
                return Some((None, i));
            }
            let body = input.get(pos + 2..).unwrap_or(&[]);
            match memchr::memmem::find(body, b"*/") {
                Some(p) => Some((None, pos + 2 + p + 2)),
                None => {
                    let mut t = Token::new(Kind::Comment);
                    let visible = body.iter().filter(|b| !is_space(**b)).count();
                    t.len = u32::try_from(visible).unwrap_or(u32::MAX);
                    Some((Some(t), input.len()))
                }
            }
        }
        b'*' if next == b'/' && *in_exec_comment => {
            *in_exec_comment = false;
            Some((None, pos + 2))
        }
        b'-' if next == b'-' && !at(input, pos + 2).is_ascii_digit() => {
            let (visible, end) = skip_to_line_end(input, pos + 2);
            let mut t = Token::new(Kind::Comment);
            t.len = visible;
            Some((Some(t), end))
        }
        b'#' => {
            let (visible, end) = skip_to_line_end(input, pos + 1);
            let mut t = Token::new(Kind::Comment);
            t.len = visible;
            Some((Some(t), end))
        }
        b'(' => tok(Kind::LParen, 1),
        b')' => tok(Kind::RParen, 1),
        b',' => tok(Kind::Comma, 1),
        b';' => tok(Kind::Semicolon, 1),
        b'@' => {
            let mut i = pos + 1;
            if at(input, i) == b'@' {
                i += 1;
            }
            match at(input, i) {
                q @ (b'\'' | b'"' | b'`') => {
                    let (_, end) = lex_string(input, i + 1, q);
                    i = end;
                }
                _ => {
                    while is_word_byte(at(input, i)) && i < input.len() {
                        i += 1;
                    }
                }
            }
            tok(Kind::Variable, i - pos)
        }
        b'|' if next == b'|' => tok(Kind::Logic, 2),
        b'&' if next == b'&' => tok(Kind::Logic, 2),
        b'<' | b'>' | b'=' | b'!' | b'+' | b'-' | b'*' | b'/' | b'%' | b'^' | b'|' | b'&'
        | b'~' | b':' => {
            let mut len = 1;
            while len < 3
                && matches!(at(input, pos + len), b'<' | b'>' | b'=' | b':')
                && pos + len < input.len()
            {
                len += 1;
            }
            tok(Kind::Operator, len)
        }
        b'0'..=b'9' => Some((Some(Token::new(Kind::Num)), lex_number(input, pos))),
        b'.' if next.is_ascii_digit() => {
            Some((Some(Token::new(Kind::Num)), lex_number(input, pos + 1)))
        }
        _ if is_word_byte(b) => Some(lex_word(input, pos)),
        _ => tok(Kind::Other, 1),
    }
}

fn lex_number(input: &[u8], pos: usize) -> usize {
    let mut i = pos;
    if at(input, i) == b'0' && matches!(at(input, i + 1), b'x' | b'X' | b'b' | b'B') {
        i += 2;
        while at(input, i).is_ascii_hexdigit() && i < input.len() {
            i += 1;
        }
        return i;
    }
    while (at(input, i).is_ascii_digit() || at(input, i) == b'.') && i < input.len() {
        i += 1;
    }
    if matches!(at(input, i), b'e' | b'E')
        && (at(input, i + 1).is_ascii_digit()
            || (matches!(at(input, i + 1), b'+' | b'-') && at(input, i + 2).is_ascii_digit()))
    {
        i += 2;
        while at(input, i).is_ascii_digit() && i < input.len() {
            i += 1;
        }
    }
    i
}

fn lex_word(input: &[u8], pos: usize) -> (Option<Token>, usize) {
    let mut end = pos;
    while end < input.len() && is_word_byte(at(input, end)) {
        end += 1;
    }
    let raw = input.get(pos..end).unwrap_or(&[]);
    // A trailing dot belongs to prose, not to a qualified name.
    let raw = raw.strip_suffix(b".").unwrap_or(raw);
    let mut lower = [0u8; 32];
    let (kind, word) = if raw.len() <= lower.len() {
        for (dst, src) in lower.iter_mut().zip(raw) {
            *dst = src.to_ascii_lowercase();
        }
        lookup(lower.get(..raw.len()).unwrap_or(&[]))
    } else {
        (Kind::Name, Word::None)
    };
    // Multi-word keywords: UNION ALL/DISTINCT, GROUP BY, ORDER BY.
    let mut after = end;
    let mut kind = kind;
    let skip_ws = |mut i: usize| {
        loop {
            while i < input.len() && is_space(at(input, i)) {
                i += 1;
            }
            // inline comments separate words like whitespace: `ORDER/**/BY`
            if at(input, i) == b'/' && at(input, i + 1) == b'*' && at(input, i + 2) != b'!' {
                match memchr::memmem::find(input.get(i + 2..).unwrap_or(&[]), b"*/") {
                    Some(p) => i += 2 + p + 2,
                    None => return i,
                }
            } else {
                return i;
            }
        }
    };
    let next_word = |i: usize| -> (usize, usize) {
        let s = skip_ws(i);
        let mut e = s;
        while e < input.len() && is_word_byte(at(input, e)) {
            e += 1;
        }
        (s, e)
    };
    let lower_raw = lower.get(..raw.len()).unwrap_or(&[]);
    if lower_raw == b"group" || lower_raw == b"order" {
        let (s, e) = next_word(end);
        if input
            .get(s..e)
            .is_some_and(|w| w.eq_ignore_ascii_case(b"by"))
        {
            kind = Kind::GroupBy;
            after = e;
        }
    } else if kind == Kind::Union {
        let (s, e) = next_word(end);
        if input
            .get(s..e)
            .is_some_and(|w| w.eq_ignore_ascii_case(b"all") || w.eq_ignore_ascii_case(b"distinct"))
        {
            after = e;
        }
    }
    let call = at(input, end) == b'(' && end < input.len();
    let called_after_space = at(input, skip_ws(end)) == b'(' && skip_ws(end) < input.len();
    let word = if kind == Kind::Name
        && (lower_raw.starts_with(b"xp_")
            || lower_raw.starts_with(b"sp_")
            || lower_raw.starts_with(b"master.."))
    {
        Word::DangerFunction
    } else {
        word
    };
    let kind = match kind {
        Kind::Name if call => Kind::Function,
        Kind::Function if !called_after_space => Kind::Name,
        other => other,
    };
    let mut token = Token::new(kind);
    token.word = word;
    token.call = called_after_space;
    (Some(token), after)
}

/// Keyword table, sorted for binary search.
static KEYWORDS: &[(&[u8], Kind, Word)] = &[
    (b"all", Kind::Keyword, Word::Distinct),
    (b"alter", Kind::Statement, Word::Alter),
    (b"and", Kind::Logic, Word::None),
    (b"as", Kind::Keyword, Word::None),
    (b"ascii", Kind::Function, Word::None),
    (b"benchmark", Kind::Function, Word::DangerFunction),
    (b"between", Kind::Operator, Word::Verbal),
    (b"call", Kind::Statement, Word::Call),
    (b"case", Kind::Keyword, Word::None),
    (b"cast", Kind::Function, Word::None),
    (b"char", Kind::Function, Word::None),
    (b"chr", Kind::Function, Word::None),
    (b"concat", Kind::Function, Word::None),
    (b"concat_ws", Kind::Function, Word::None),
    (b"convert", Kind::Function, Word::None),
    (b"count", Kind::Function, Word::None),
    (b"create", Kind::Statement, Word::Create),
    (b"current_user", Kind::Function, Word::None),
    (b"data", Kind::Keyword, Word::Data),
    (b"database", Kind::Function, Word::None),
    (b"dbms_lock.sleep", Kind::Function, Word::DangerFunction),
    (
        b"dbms_pipe.receive_message",
        Kind::Function,
        Word::DangerFunction,
    ),
    (b"declare", Kind::Statement, Word::Declare),
    (b"delay", Kind::Keyword, Word::Delay),
    (b"delete", Kind::Statement, Word::Delete),
    (b"distinct", Kind::Keyword, Word::Distinct),
    (b"div", Kind::Operator, Word::Verbal),
    (b"drop", Kind::Statement, Word::Drop),
    (b"dumpfile", Kind::Keyword, Word::Outfile),
    (b"else", Kind::Keyword, Word::None),
    (b"end", Kind::Keyword, Word::None),
    (b"exec", Kind::Statement, Word::Exec),
    (b"execute", Kind::Statement, Word::Exec),
    (b"exists", Kind::Function, Word::None),
    (b"extractvalue", Kind::Function, Word::DangerFunction),
    (b"false", Kind::Num, Word::None),
    (b"from", Kind::Keyword, Word::From),
    (b"glob", Kind::Operator, Word::Verbal),
    (b"having", Kind::Keyword, Word::Having),
    (b"hex", Kind::Function, Word::None),
    (b"if", Kind::Function, Word::None),
    (b"ifnull", Kind::Function, Word::None),
    (b"iif", Kind::Function, Word::None),
    (b"in", Kind::Operator, Word::Verbal),
    (b"information_schema.tables", Kind::Name, Word::None),
    (b"insert", Kind::Statement, Word::Insert),
    (b"intersect", Kind::Union, Word::None),
    (b"into", Kind::Keyword, Word::Into),
    (b"is", Kind::Operator, Word::Verbal),
    (b"length", Kind::Function, Word::None),
    (b"like", Kind::Operator, Word::Verbal),
    (b"limit", Kind::Keyword, Word::Limit),
    (b"load", Kind::Statement, Word::Load),
    (b"load_file", Kind::Function, Word::DangerFunction),
    (b"make_set", Kind::Function, Word::None),
    (b"md5", Kind::Function, Word::None),
    (b"mid", Kind::Function, Word::None),
    (b"minus", Kind::Union, Word::None),
    (b"mod", Kind::Operator, Word::Verbal),
    (b"name_const", Kind::Function, Word::DangerFunction),
    (b"not", Kind::Operator, Word::Not),
    (b"null", Kind::Num, Word::None),
    (b"offset", Kind::Keyword, Word::None),
    (b"or", Kind::Logic, Word::None),
    (b"ord", Kind::Function, Word::None),
    (b"outfile", Kind::Keyword, Word::Outfile),
    (b"pg_read_file", Kind::Function, Word::DangerFunction),
    (b"pg_sleep", Kind::Function, Word::DangerFunction),
    (b"procedure", Kind::Keyword, Word::Procedure),
    (b"randomblob", Kind::Function, Word::DangerFunction),
    (b"regexp", Kind::Operator, Word::Verbal),
    (b"rlike", Kind::Operator, Word::Verbal),
    (b"schema", Kind::Keyword, Word::Table),
    (b"select", Kind::Statement, Word::Select),
    (b"set", Kind::Statement, Word::Set),
    (b"shutdown", Kind::Statement, Word::Shutdown),
    (b"sleep", Kind::Function, Word::DangerFunction),
    (b"substr", Kind::Function, Word::None),
    (b"substring", Kind::Function, Word::None),
    (b"sys_eval", Kind::Function, Word::DangerFunction),
    (b"sysdate", Kind::Function, Word::None),
    (b"table", Kind::Keyword, Word::Table),
    (b"then", Kind::Keyword, Word::None),
    (b"top", Kind::Keyword, Word::Distinct),
    (b"trigger", Kind::Keyword, Word::Table),
    (b"true", Kind::Num, Word::None),
    (b"truncate", Kind::Statement, Word::Truncate),
    (b"unhex", Kind::Function, Word::None),
    (b"union", Kind::Union, Word::None),
    (b"update", Kind::Statement, Word::Update),
    (b"updatexml", Kind::Function, Word::DangerFunction),
    (b"user", Kind::Function, Word::None),
    (b"utl_http.request", Kind::Function, Word::DangerFunction),
    (
        b"utl_inaddr.get_host_address",
        Kind::Function,
        Word::DangerFunction,
    ),
    (b"values", Kind::Keyword, Word::Values),
    (b"version", Kind::Function, Word::None),
    (b"view", Kind::Keyword, Word::Table),
    (b"waitfor", Kind::Statement, Word::Waitfor),
    (b"when", Kind::Keyword, Word::None),
    (b"where", Kind::Keyword, Word::Where),
    (b"xor", Kind::Logic, Word::None),
    (b"xp_cmdshell", Kind::Function, Word::DangerFunction),
];

/// Keyword table entries by first letter, for lookups that reject most
/// words after comparing one byte and a length.
type KeywordBuckets = [Vec<(&'static [u8], Kind, Word)>; 26];

fn keyword_buckets() -> &'static KeywordBuckets {
    static BUCKETS: std::sync::OnceLock<KeywordBuckets> = std::sync::OnceLock::new();
    BUCKETS.get_or_init(|| {
        let mut buckets: KeywordBuckets = Default::default();
        for &(k, kind, word) in KEYWORDS {
            if let Some(bucket) = k
                .first()
                .and_then(|b| buckets.get_mut(usize::from(b.wrapping_sub(b'a'))))
            {
                bucket.push((k, kind, word));
            }
        }
        buckets
    })
}

fn lookup(lower: &[u8]) -> (Kind, Word) {
    let Some(bucket) = lower
        .first()
        .and_then(|b| keyword_buckets().get(usize::from(b.wrapping_sub(b'a'))))
    else {
        return (Kind::Name, Word::None);
    };
    bucket
        .iter()
        .find(|(k, _, _)| k.len() == lower.len() && *k == lower)
        .map_or((Kind::Name, Word::None), |(_, kind, word)| (*kind, *word))
}

#[cfg(test)]
fn lookup_by_search(lower: &[u8]) -> (Kind, Word) {
    match KEYWORDS.binary_search_by(|(k, _, _)| (*k).cmp(lower)) {
        Ok(i) => KEYWORDS
            .get(i)
            .map(|(_, kind, word)| (*kind, *word))
            .unwrap_or((Kind::Name, Word::None)),
        Err(_) => (Kind::Name, Word::None),
    }
}

/// Reads the token stream of one reading and decides.
fn classify(stream: &TokenStream, ctx: Context) -> Option<SqliStrength> {
    let tokens = stream.tokens();
    let cursor = Cursor {
        tokens,
        truncated: stream.truncated,
    };
    let mut i = 0;
    // Leading sign of a numeric breakout (`-1 union select`).
    if ctx == Context::Bare {
        while cursor.kind(i) == Some(Kind::Operator) && cursor.kind(i + 1) == Some(Kind::Num) {
            i += 1;
        }
    }
    let first = *tokens.get(i)?;
    let breakout = match ctx {
        Context::Single | Context::Double => {
            if !first.closed {
                return None;
            }
            Breakout::Quote
        }
        Context::Bare => match first.kind {
            Kind::Num => Breakout::Number,
            Kind::Name | Kind::Variable => Breakout::Name,
            Kind::Str if first.closed => Breakout::QuotedValue,
            Kind::RParen => Breakout::Number,
            _ => return classify_statement(&cursor, i),
        },
    };
    i += 1;
    // Closing parentheses of the surrounding query: `1) or (1=1`.
    while cursor.kind(i) == Some(Kind::RParen) {
        i += 1;
    }
    let next = *tokens.get(i)?;
    let strong = match next.kind {
        Kind::Union => cursor.statement_at(cursor.skip_lparen(i + 1)),
        Kind::Semicolon => cursor.statement_at(i + 1) || cursor.kind(i + 1).is_none(),
        Kind::Logic => cursor.logic_tail(i + 1, breakout),
        Kind::Operator => cursor.operator_tail(i, breakout),
        Kind::Comment => {
            matches!(breakout, Breakout::Quote) && next.len <= 3 && tokens.len() == i + 1
        }
        Kind::GroupBy => {
            matches!(cursor.kind(i + 1), Some(Kind::Num | Kind::Name))
                && matches!(
                    cursor.kind(i + 2),
                    None | Some(Kind::Comment | Kind::Comma | Kind::Semicolon | Kind::Logic)
                )
                && !matches!(breakout, Breakout::Name | Breakout::QuotedValue)
        }
        Kind::Keyword => cursor.keyword_tail(i, breakout),
        Kind::Statement => next.word == Word::Waitfor && cursor.word(i + 1) == Some(Word::Delay),
        _ => false,
    };
    // `1(select ...)`: a subquery glued to the value
    let strong = strong
        || (next.kind == Kind::LParen
            && breakout == Breakout::Number
            && cursor.statement_at(cursor.skip_lparen(i)));
    if strong || cursor.danger_call_in_sql(0) {
        return Some(SqliStrength::Injection);
    }
    if breakout == Breakout::Name {
        return classify_statement(&cursor, 0);
    }
    None
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Breakout {
    /// The reading's opening string was closed by the value.
    Quote,
    /// A number stands where a number was expected.
    Number,
    /// A bare name (a column, a word).
    Name,
    /// The value starts with a complete quoted string of its own.
    QuotedValue,
}

/// A value that does not break out but is SQL from its first token:
/// `(select ...)`, `union select`, `sleep(5)`, or a plain statement.
fn classify_statement(cursor: &Cursor<'_>, start: usize) -> Option<SqliStrength> {
    let i = cursor.skip_lparen(start);
    let t = cursor.tokens.get(i)?;
    match t.kind {
        Kind::Union if cursor.statement_at(cursor.skip_lparen(i + 1)) => {
            Some(SqliStrength::Injection)
        }
        Kind::Statement if cursor.statement_at(i) => {
            if (i > start && t.word == Word::Select)
                || cursor.has_tautology_or_union(i)
                || cursor.danger_call_in_sql(i)
            {
                // `(select ...)` is a subquery: nothing but injection puts one in a value.
                Some(SqliStrength::Injection)
            } else {
                Some(SqliStrength::Statement)
            }
        }
        Kind::Function if cursor.danger_call(i) => Some(SqliStrength::Injection),
        _ if cursor.danger_call_in_sql(start) => Some(SqliStrength::Injection),
        _ => None,
    }
}

struct Cursor<'a> {
    tokens: &'a [Token],
    /// Tokens past the last one exist but were not kept: they read as
    /// unknown, never as the end of the value.
    truncated: bool,
}

impl Cursor<'_> {
    fn kind(&self, i: usize) -> Option<Kind> {
        match self.tokens.get(i) {
            Some(t) => Some(t.kind),
            None if self.truncated => Some(Kind::Other),
            None => None,
        }
    }

    fn word(&self, i: usize) -> Option<Word> {
        self.tokens.get(i).map(|t| t.word)
    }

    fn skip_lparen(&self, mut i: usize) -> usize {
        while self.kind(i) == Some(Kind::LParen) {
            i += 1;
        }
        i
    }

    /// Tokens that may end an injected expression.
    fn ends_expression(&self, i: usize) -> bool {
        matches!(
            self.kind(i),
            None | Some(
                Kind::Comment
                    | Kind::Logic
                    | Kind::Semicolon
                    | Kind::RParen
                    | Kind::Union
                    | Kind::GroupBy
                    | Kind::Operator
            )
        ) || matches!(
            self.word(i),
            Some(Word::Limit | Word::Into | Word::Having | Word::Where)
        )
    }

    /// An operand: literal, variable, name, call or parenthesised expression.
    /// Returns the index after it.
    fn operand(&self, i: usize) -> Option<usize> {
        let t = self.tokens.get(i)?;
        match t.kind {
            Kind::Str | Kind::Num | Kind::Variable | Kind::Name => Some(i + 1),
            Kind::Function => Some(i + 1),
            Kind::LParen => Some(i + 1),
            _ => None,
        }
    }

    /// Whether a SQL statement starts at `i`, judged by what follows its verb.
    fn statement_at(&self, i: usize) -> bool {
        let Some(t) = self.tokens.get(i) else {
            return false;
        };
        if t.kind != Kind::Statement {
            return false;
        }
        let k1 = self.kind(i + 1);
        let w1 = self.word(i + 1);
        match t.word {
            Word::Select => match k1 {
                Some(Kind::Function) => self.tokens.get(i + 1).is_some_and(|t| t.call),
                Some(Kind::LParen) => true,
                Some(Kind::Num | Kind::Variable | Kind::Str | Kind::Name) => {
                    matches!(
                        self.kind(i + 2),
                        None | Some(
                            Kind::Comma
                                | Kind::Comment
                                | Kind::Semicolon
                                | Kind::Union
                                | Kind::RParen
                        )
                    ) || self.word(i + 2) == Some(Word::From)
                }
                // select * from
                Some(Kind::Operator) => matches!(self.word(i + 2), None | Some(Word::From)),
                Some(Kind::Keyword) => w1 == Some(Word::Distinct),
                _ => false,
            },
            Word::Insert | Word::Load => matches!(w1, Some(Word::Into | Word::Data)),
            Word::Delete => w1 == Some(Word::From),
            Word::Update => {
                k1 == Some(Kind::Name) && self.word(i + 2) == Some(Word::Set)
                    || k1 == Some(Kind::Name) && self.kind(i + 2) == Some(Kind::Statement)
            }
            // `drop table users`, ending where a statement ends
            Word::Drop | Word::Create | Word::Alter | Word::Truncate => {
                w1 == Some(Word::Table)
                    && matches!(self.kind(i + 2), Some(Kind::Name | Kind::Function))
                    && matches!(
                        self.kind(i + 3),
                        None | Some(Kind::Comment | Kind::Semicolon | Kind::LParen | Kind::Comma)
                    )
            }
            // `exec xp_cmdshell`, `exec sp_configure`, `exec('...')`, `exec @sql`
            Word::Exec => {
                self.word(i + 1) == Some(Word::DangerFunction)
                    || (k1 == Some(Kind::LParen) && self.kind(i + 2) == Some(Kind::Str))
                    || k1 == Some(Kind::Variable)
            }
            Word::Declare | Word::Set => k1 == Some(Kind::Variable),
            Word::Shutdown => matches!(k1, None | Some(Kind::Comment | Kind::Semicolon)),
            Word::Waitfor => w1 == Some(Word::Delay),
            Word::Call => k1 == Some(Kind::Function),
            _ => false,
        }
    }

    /// `... OR 1=1`, `... UNION SELECT`, a stacked statement: a statement
    /// written to subvert the query it lands in, not to document one.
    fn has_tautology_or_union(&self, from: usize) -> bool {
        (from..self.tokens.len()).any(|i| match self.kind(i) {
            Some(Kind::Logic) => {
                matches!(self.kind(i + 1), Some(Kind::Num | Kind::Str))
                    && self.kind(i + 2) == Some(Kind::Operator)
                    && matches!(self.kind(i + 3), Some(Kind::Num | Kind::Str))
            }
            Some(Kind::Union) => self.statement_at(self.skip_lparen(i + 1)),
            Some(Kind::Semicolon) => i > from && self.statement_at(i + 1),
            // a trailing comment cuts off the rest of the host query
            Some(Kind::Comment) => i + 1 == self.tokens.len() && !self.truncated && i > from + 2,
            _ => false,
        })
    }

    /// A time-delay or file-reading call (`sleep(5)`, `load_file('...')`)
    /// inside a stream that reads as SQL up to it: no two plain words in a
    /// row, which is how prose reads.
    fn danger_call_in_sql(&self, from: usize) -> bool {
        let mut previous_name = false;
        for i in from..self.tokens.len() {
            if self.danger_call(i) {
                return true;
            }
            let plain_name = self
                .tokens
                .get(i)
                .is_some_and(|t| t.kind == Kind::Name && t.word == Word::None);
            if plain_name && previous_name {
                return false;
            }
            previous_name = plain_name;
        }
        false
    }

    fn danger_call(&self, i: usize) -> bool {
        self.word(i) == Some(Word::DangerFunction)
            && self.kind(i + 1) == Some(Kind::LParen)
            && matches!(
                self.kind(i + 2),
                Some(
                    Kind::Num
                        | Kind::Str
                        | Kind::Variable
                        | Kind::Function
                        | Kind::LParen
                        | Kind::Statement
                        | Kind::RParen
                )
            )
    }

    /// After `AND`/`OR`: an operand followed by what makes it a condition.
    fn logic_tail(&self, mut i: usize, breakout: Breakout) -> bool {
        // Unary prefixes: NOT, !, -, ~, and opening parentheses.
        while matches!(self.kind(i), Some(Kind::Operator | Kind::LParen)) {
            i += 1;
        }
        let Some(t) = self.tokens.get(i) else {
            return false;
        };
        match t.kind {
            Kind::Statement => return self.statement_at(i),
            Kind::Function => {
                return match breakout {
                    Breakout::Name | Breakout::QuotedValue => {
                        t.word != Word::None && t.call && self.kind(i + 1) == Some(Kind::LParen)
                    }
                    _ => t.call,
                }
            }
            _ => {}
        }
        let Some(after) = self.operand(i) else {
            return false;
        };
        // operand followed by a comparison and a second operand: a condition;
        // after a bare word, `in`/`is`/`like` read as English (`time in UTC`)
        let verbal = self.word(after) == Some(Word::Verbal);
        let comparison = self.kind(after) == Some(Kind::Operator)
            && !(verbal && matches!(breakout, Breakout::Name | Breakout::QuotedValue));
        if comparison {
            let mut j = after + 1;
            while matches!(self.kind(j), Some(Kind::Operator | Kind::LParen)) {
                j += 1;
            }
            if self.operand(j).is_some() || self.kind(j) == Some(Kind::Statement) {
                return true;
            }
        }
        match breakout {
            // `' or 1--`, `' and 'a` (the rest of the query supplies the comparison)
            Breakout::Quote => {
                t.kind != Kind::Name && self.ends_expression(after)
                    || t.kind == Kind::Name && self.kind(after) == Some(Kind::Comment)
            }
            Breakout::Number => {
                t.kind != Kind::Name && matches!(self.kind(after), Some(Kind::Comment))
            }
            Breakout::Name | Breakout::QuotedValue => false,
        }
    }

    /// After an operator directly following the breakout.
    fn operator_tail(&self, i: usize, breakout: Breakout) -> bool {
        let mut j = i + 1;
        while matches!(self.kind(j), Some(Kind::Operator | Kind::LParen)) {
            j += 1;
        }
        let Some(t) = self.tokens.get(j) else {
            return false;
        };
        if t.kind == Kind::Statement {
            return self.statement_at(j);
        }
        if t.kind == Kind::Function && self.danger_call(j) {
            return true;
        }
        match breakout {
            Breakout::Quote => {
                matches!(
                    t.kind,
                    Kind::Str | Kind::Num | Kind::Variable | Kind::Function
                ) && self.ends_expression(j + 1)
                    && !matches!(self.kind(j + 1), Some(Kind::Operator) if t.kind == Kind::Num && self.kind(j + 2) == Some(Kind::Num) && self.kind(j+3).is_none())
            }
            Breakout::Number | Breakout::Name | Breakout::QuotedValue => {
                // `1=1 or 1=1`, `1 like 1 --`: a complete comparison then logic or a comment.
                self.operand(j).is_some()
                    && t.kind != Kind::LParen
                    && match self.kind(j + 1) {
                        Some(Kind::Logic) => self.logic_tail(j + 2, breakout),
                        Some(Kind::Comment) => breakout == Breakout::Number,
                        _ => false,
                    }
            }
        }
    }

    /// A keyword directly after the breakout.
    fn keyword_tail(&self, i: usize, breakout: Breakout) -> bool {
        // `INTO OUTFILE` reads as nothing but SQL, whatever precedes it.
        if self.word(i) == Some(Word::Into) && self.word(i + 1) == Some(Word::Outfile) {
            return true;
        }
        if matches!(breakout, Breakout::Name | Breakout::QuotedValue) {
            return false;
        }
        match self.word(i) {
            Some(Word::Having | Word::Where) => {
                self.operand(self.skip_lparen(i + 1)).is_some()
                    && matches!(self.kind(self.skip_lparen(i + 1) + 1), Some(Kind::Operator))
            }
            Some(Word::Into) => self.word(i + 1) == Some(Word::Outfile),
            Some(Word::Procedure) => self.kind(i + 1) == Some(Kind::Function),
            Some(Word::Limit) => {
                self.kind(i + 1) == Some(Kind::Num)
                    && matches!(self.kind(i + 2), None | Some(Kind::Comment | Kind::Comma))
            }
            _ => false,
        }
    }
}

impl fmt::Display for SqliMatch {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.fingerprint)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hit(s: &str) -> bool {
        detect_sqli(s.as_bytes()).is_some()
    }

    #[test]
    fn bucketed_lookup_matches_table() {
        for (k, kind, word) in KEYWORDS {
            assert_eq!(lookup(k), (*kind, *word));
            assert_eq!(lookup_by_search(k), (*kind, *word));
        }
        assert_eq!(lookup(b"zebra"), (Kind::Name, Word::None));
        assert_eq!(lookup(b"_x"), (Kind::Name, Word::None));
    }

    #[test]
    fn keyword_table_is_sorted() {
        for pair in KEYWORDS.windows(2) {
            assert!(
                pair[0].0 < pair[1].0,
                "{:?}",
                std::str::from_utf8(pair[1].0)
            );
        }
    }

    #[test]
    fn classic_injections() {
        for attack in [
            "' or 1=1--",
            "' OR '1'='1",
            "1' or '1'='1",
            "admin'--",
            "admin' #",
            "admin'/*",
            "1 or 1=1",
            "1) or (1=1",
            "') or ('a'='a",
            "-1 union select 1,2,3",
            "1 UNION ALL SELECT NULL,NULL--",
            "' union select username, password from users--",
            "1; drop table users",
            "'; exec xp_cmdshell 'dir'--",
            "1' and sleep(5)--",
            "1 and sleep(5)",
            "1' waitfor delay '0:0:5'--",
            "1 waitfor delay '0:0:5'",
            "' or ''='",
            "\" or \"\"=\"",
            "admin\") or (\"1\"=\"1",
            "1' ORDER BY 3--+",
            "1 order by 5",
            "' HAVING 1=1--",
            "1' AND extractvalue(1,concat(0x7e,version()))--",
            "(select load_file('/etc/passwd'))",
            "1 AND (SELECT 1 FROM (SELECT(SLEEP(5)))a)",
            "1'/**/or/**/1=1--",
            "1 /*!50000union*/ /*!50000select*/ 1,2",
            "' or true--",
            "x' AND email IS NULL; --",
            "sleep(5)",
            "1 rlike (select 1)",
            "'+sleep(5)+'",
            "1*sleep(5)",
            "' and 1=0 union select @@version--",
            "1 and ascii(substring((select database()),1,1))>64",
            "1' into outfile '/tmp/x'--",
            "-1' or 1=1 limit 1--",
            "1;select pg_sleep(5)",
            "if(now()=sysdate(),sleep(12),0)",
            "1(select*from(select(sleep(5)))d)",
            "sELecT slEep (10 -6)",
            "EmptyValue into outfile '/tmp/x'; --",
            "id or 1=1",
        ] {
            assert!(hit(attack), "missed: {attack}");
        }
    }

    #[test]
    fn ordinary_text_is_not_injection() {
        for benign in [
            "O'Brien",
            "Conan O'Brien and friends",
            "it's 5' 10\" tall",
            "Rock 'n' roll",
            "don't or won't",
            "the students' or teachers' books",
            "The Jones' and 1 other",
            "\"red shoes\" or \"blue shoes\"",
            "'Hello' or 'Hi'",
            "1 and 2",
            "3 or 4 people",
            "select the best option",
            "drop me a line",
            "Please delete my account; delete everything",
            "Let's go; update me later",
            "What's 1+1?",
            "Ben & Jerry's",
            "100% cotton; machine wash",
            "2024-01-15",
            "1.5",
            "-- signature",
            "Dell 27\" monitor; 4K UHD",
            "He said \"hello\" and left",
            "the Smiths' #1 fan",
            "union members select a leader",
            "exec chair",
            "drop earrings",
            "Drop table leaf sold separately",
            "Select from 3 sizes; drop-in replacement for the 2019 model",
            "select 2 items",
            "order by date",
            "Tom && Jerry",
            "a=1&b=2",
            "I need sleep (8 hours)",
            "I need sleep(5) hours tonight",
            "Date and time in UTC of the prior cardholder authentication. Format: YYYYMMDDHHMM",
            "user@example.com",
            "SELECT a product -- best deals",
            "you're in; or not?",
            "L'Oréal or Lancôme",
            "5' or 6' tall",
        ] {
            assert!(
                !hit(benign),
                "false positive: {benign} {:?}",
                detect_sqli(benign.as_bytes())
            );
        }
    }

    #[test]
    fn words_that_start_statements_are_not_statements() {
        for text in [
            "exec chair",
            "drop earrings",
            "Drop table leaf sold separately",
            "Select from 3 sizes; drop-in replacement for the 2019 model",
            "select 2 items",
            "update me later",
            "delete my account please",
            "create an account",
        ] {
            assert!(analyze(text.as_bytes()).is_none(), "{text}");
        }
        for text in [
            "drop table users",
            "exec xp_cmdshell 'dir'",
            "select * from users",
            "delete from sessions",
        ] {
            assert!(analyze(text.as_bytes()).is_some(), "{text}");
        }
    }

    #[test]
    fn statements_are_weak() {
        let a = analyze(b"select * from users where id = 1").expect("statement");
        assert_eq!(a.strength, SqliStrength::Statement);
        assert!(detect_sqli(b"select * from users where id = 1").is_none());
    }

    proptest::proptest! {
        #[test]
        fn never_panics_and_is_deterministic(input in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..300)) {
            let a = detect_sqli(&input);
            proptest::prop_assert_eq!(&a, &detect_sqli(&input));
            if let Some(m) = a {
                proptest::prop_assert!(m.fingerprint.len() <= 8);
            }
        }

        #[test]
        fn sql_text_never_panics(input in "[ '\"a-z0-9=()#;,*/@-]{0,80}") {
            let _ = analyze(input.as_bytes());
        }
    }

    #[test]
    fn fingerprint_reports_token_types() {
        let m = detect_sqli(b"' or 1=1--").expect("match");
        assert_eq!(m.fingerprint, "s&1o1c");
    }
}
