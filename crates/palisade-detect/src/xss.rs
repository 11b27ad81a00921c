//! Cross-site scripting detection with an HTML5 tokenizer.
//!
//! The value is tokenized the way a browser would tokenize it after pasting
//! it into a page, from each place a value usually lands:
//!
//! * element text (`<p>VALUE</p>`),
//! * an unquoted attribute value (`<a title=VALUE>`),
//! * a single-, double- or backtick-quoted attribute value.
//!
//! Starting inside an attribute, a value that breaks out (`" onmouseover=...`,
//! `'><script>`) produces new attributes and elements. The value is XSS when
//! the tokens it produces can run script: an element that executes or loads
//! code (`script`, `iframe`, `object`, `embed`, `base`, `style`, ...), an event
//! handler attribute (`onerror`, `onload`, from the list of DOM events, so
//! prose words such as `only` or `online` read as attribute names do not
//! count), a URL attribute whose scheme is `javascript:`, `vbscript:` or a
//! `data:` document (after decoding character references and dropping the
//! whitespace and control characters browsers ignore in schemes), a style
//! attribute with script (`expression(`, `javascript:`, `-moz-binding`), or
//! an IE conditional comment. Ordinary rich text (`<p>`, `<b>`, `<a href="https://...">`,
//! `<img src="data:image/png...">`) does not.

/// libinjection-style XSS test of raw (already decoded) bytes.
pub fn detect_xss(input: &[u8]) -> bool {
    find_xss(input).is_some()
}

/// What made a value XSS.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum XssReason {
    /// An element that runs or loads script.
    DangerousTag,
    /// An event handler attribute.
    EventHandler,
    /// A URL attribute with a script scheme.
    ScriptUrl,
    /// A style attribute carrying script.
    ScriptStyle,
    /// An IE conditional comment.
    ConditionalComment,
}

/// Like [`detect_xss`], reporting why.
pub fn find_xss(input: &[u8]) -> Option<XssReason> {
    if let Some(r) = scan(input, Start::Data) {
        return Some(r);
    }
    for quote in [b'"', b'\'', b'`'] {
        if memchr::memchr(quote, input).is_some() {
            if let Some(r) = scan(input, Start::Quoted(quote)) {
                return Some(r);
            }
        }
    }
    if input
        .iter()
        .any(|b| matches!(b, b' ' | b'\t' | b'\n' | b'\r' | 0x0c | b'/' | b'>'))
    {
        return scan(input, Start::Unquoted);
    }
    None
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Start {
    Data,
    Unquoted,
    Quoted(u8),
}

fn is_html_space(b: u8) -> bool {
    matches!(b, b' ' | b'\t' | b'\n' | b'\r' | 0x0c)
}

fn at(input: &[u8], i: usize) -> u8 {
    input.get(i).copied().unwrap_or(0)
}

/// A short lowercase copy of a name; longer names are never dangerous.
struct Name {
    buf: [u8; 24],
    len: usize,
    overflow: bool,
}

impl Name {
    fn from(raw: &[u8]) -> Name {
        let mut n = Name {
            buf: [0; 24],
            len: 0,
            overflow: false,
        };
        for &b in raw {
            if b == 0 {
                continue;
            }
            match n.buf.get_mut(n.len) {
                Some(slot) => {
                    *slot = b.to_ascii_lowercase();
                    n.len += 1;
                }
                None => {
                    n.overflow = true;
                    break;
                }
            }
        }
        n
    }

    fn as_bytes(&self) -> &[u8] {
        if self.overflow {
            return &[];
        }
        self.buf.get(..self.len).unwrap_or(&[])
    }
}

fn scan(input: &[u8], start: Start) -> Option<XssReason> {
    let pos = match start {
        Start::Data => return data(input, 0),
        Start::Unquoted => {
            let mut pos = 0;
            while pos < input.len() && !is_html_space(at(input, pos)) && at(input, pos) != b'>' {
                pos += 1;
            }
            pos
        }
        Start::Quoted(q) => memchr::memchr(q, input)? + 1,
    };
    match attributes(input, pos)? {
        Err(reason) => Some(reason),
        Ok(next) => data(input, next),
    }
}

/// Element text: looks for markup.
fn data(input: &[u8], mut pos: usize) -> Option<XssReason> {
    while pos < input.len() {
        let rest = input.get(pos..)?;
        let lt = memchr::memchr(b'<', rest)?;
        pos += lt + 1;
        let b = at(input, pos);
        if b.is_ascii_alphabetic() {
            let start = pos;
            // A `<` inside a tag name is read as a new tag too: `<scr<script>ipt>`
            // becomes a script tag once a sanitizer strips the inner one.
            while pos < input.len()
                && !is_html_space(at(input, pos))
                && !matches!(at(input, pos), b'/' | b'>' | b'<')
            {
                pos += 1;
            }
            if at(input, pos) == b'<' {
                continue;
            }
            let name = Name::from(input.get(start..pos)?);
            if is_dangerous_tag(name.as_bytes()) {
                return Some(XssReason::DangerousTag);
            }
            match attributes(input, pos)? {
                Err(reason) => return Some(reason),
                Ok(next) => pos = next,
            }
        } else if b == b'!' {
            if input.get(pos..pos + 3) == Some(b"!--") {
                let body_start = pos + 3;
                let body = input.get(body_start..)?;
                let end = memchr::memmem::find(body, b"-->").unwrap_or(body.len());
                let comment = body.get(..end)?;
                if contains_ignore_case(comment, b"[if") || contains_ignore_case(comment, b"[endif")
                {
                    return Some(XssReason::ConditionalComment);
                }
                pos = body_start + end + 3;
            } else {
                pos = skip_past(input, pos, b'>');
            }
        } else if b == b'?' || b == b'/' {
            pos = skip_past(input, pos, b'>');
        }
    }
    None
}

fn skip_past(input: &[u8], pos: usize, byte: u8) -> usize {
    match memchr::memchr(byte, input.get(pos..).unwrap_or(&[])) {
        Some(p) => pos + p + 1,
        None => input.len(),
    }
}

/// Attributes of an open tag, from `pos` to the closing `>`. Returns the
/// position after the tag, or the reason when an attribute is dangerous.
/// `None` when input ends inside the tag without a finding.
fn attributes(input: &[u8], mut pos: usize) -> Option<Result<usize, XssReason>> {
    loop {
        while pos < input.len() && (is_html_space(at(input, pos)) || at(input, pos) == b'/') {
            pos += 1;
        }
        if pos >= input.len() {
            return None;
        }
        if at(input, pos) == b'>' {
            return Some(Ok(pos + 1));
        }
        let name_start = pos;
        pos += 1; // a leading '=' belongs to the name
        while pos < input.len()
            && !is_html_space(at(input, pos))
            && !matches!(at(input, pos), b'/' | b'>' | b'=')
        {
            pos += 1;
        }
        let name = Name::from(input.get(name_start..pos)?);
        let name = name.as_bytes();
        while pos < input.len() && is_html_space(at(input, pos)) {
            pos += 1;
        }
        if at(input, pos) != b'=' || pos >= input.len() {
            // An event handler without a value runs nothing (`onload` in a sentence).
            continue;
        }
        pos += 1;
        while pos < input.len() && is_html_space(at(input, pos)) {
            pos += 1;
        }
        let (value, next) = match at(input, pos) {
            q @ (b'"' | b'\'' | b'`') if pos < input.len() => {
                let body = input.get(pos + 1..)?;
                match memchr::memchr(q, body) {
                    Some(end) => (body.get(..end)?, pos + 1 + end + 1),
                    None => (body, input.len()),
                }
            }
            _ => {
                let start = pos;
                while pos < input.len() && !is_html_space(at(input, pos)) && at(input, pos) != b'>'
                {
                    pos += 1;
                }
                (input.get(start..pos)?, pos)
            }
        };
        if is_event_handler(name) && !value.trim_ascii().is_empty() {
            return Some(Err(XssReason::EventHandler));
        }
        if let Some(reason) = check_attribute_value(name, value) {
            return Some(Err(reason));
        }
        pos = next;
    }
}

fn check_attribute_value(name: &[u8], value: &[u8]) -> Option<XssReason> {
    if URL_ATTRIBUTES.contains(&name) {
        if is_script_url(value) {
            return Some(XssReason::ScriptUrl);
        }
    } else if name == b"style" {
        let mut buf = [0u8; 256];
        let normalized = normalize_url_prefix(value, &mut buf);
        if contains_ignore_case(normalized, b"expression(")
            || contains_ignore_case(normalized, b"javascript:")
            || contains_ignore_case(normalized, b"-moz-binding")
            || contains_ignore_case(normalized, b"behavior:")
        {
            return Some(XssReason::ScriptStyle);
        }
    } else if name == b"srcdoc" && memchr::memchr(b'<', value).is_some() {
        return Some(XssReason::DangerousTag);
    } else if name == b"content" && contains_ignore_case(value, b"url=") {
        // `<meta http-equiv=refresh content="0;url=javascript:...">`
        if let Some(p) = find_ignore_case(value, b"url=") {
            if is_script_url(value.get(p + 4..).unwrap_or(&[])) {
                return Some(XssReason::ScriptUrl);
            }
        }
    }
    None
}

/// Whether a URL value, as a browser reads it, uses a script scheme.
pub(crate) fn is_script_url(value: &[u8]) -> bool {
    let mut buf = [0u8; 64];
    let url = normalize_url_prefix(value, &mut buf);
    if url.starts_with(b"javascript:")
        || url.starts_with(b"vbscript:")
        || url.starts_with(b"livescript:")
    {
        return true;
    }
    if let Some(media) = url.strip_prefix(b"data:") {
        let harmless = [
            &b"image/png"[..],
            b"image/jpeg",
            b"image/jpg",
            b"image/gif",
            b"image/webp",
            b"image/avif",
            b"image/bmp",
            b"image/x-icon",
            b"audio/",
            b"video/",
            b"font/",
            b"application/font",
            b"application/octet-stream",
            b"text/plain",
        ];
        return !harmless.iter().any(|h| media.starts_with(h));
    }
    false
}

/// Decodes character references, drops the whitespace and control characters
/// a browser ignores in a URL scheme, lowercases; bounded by `buf`.
fn normalize_url_prefix<'b>(value: &[u8], buf: &'b mut [u8]) -> &'b [u8] {
    let mut len = 0;
    let mut i = 0;
    while i < value.len() && len < buf.len() {
        let (byte, used) = if at(value, i) == b'&' {
            match crate::decode::html_entity_at(value, i) {
                Some((ch, used)) => (u8::try_from(u32::from(ch)).unwrap_or(b'?'), used),
                None => (b'&', 1),
            }
        } else {
            (at(value, i), 1)
        };
        i += used;
        if byte <= 0x20 || byte == 0x7f {
            continue;
        }
        if let Some(slot) = buf.get_mut(len) {
            *slot = byte.to_ascii_lowercase();
            len += 1;
        }
    }
    buf.get(..len).unwrap_or(&[])
}

pub(crate) fn find_ignore_case(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    if needle.is_empty() || haystack.len() < needle.len() {
        return None;
    }
    haystack
        .windows(needle.len())
        .position(|w| w.eq_ignore_ascii_case(needle))
}

pub(crate) fn contains_ignore_case(haystack: &[u8], needle: &[u8]) -> bool {
    find_ignore_case(haystack, needle).is_some()
}

const URL_ATTRIBUTES: &[&[u8]] = &[
    b"href",
    b"src",
    b"action",
    b"formaction",
    b"data",
    b"background",
    b"poster",
    b"lowsrc",
    b"dynsrc",
    b"codebase",
    b"xlink:href",
    b"values",
    b"to",
    b"from",
    b"by",
    b"ping",
    b"cite",
    b"longdesc",
    b"manifest",
    b"icon",
    b"archive",
    b"classid",
    b"folder",
];

fn is_dangerous_tag(name: &[u8]) -> bool {
    const TAGS: &[&[u8]] = &[
        b"applet",
        b"base",
        b"embed",
        b"frame",
        b"frameset",
        b"iframe",
        b"import",
        b"isindex",
        b"link",
        b"meta",
        b"noembed",
        b"noframes",
        b"noscript",
        b"object",
        b"plaintext",
        b"script",
        b"style",
        b"vmlframe",
        b"xml",
        b"xmp",
        b"xss",
    ];
    TAGS.contains(&name)
}

/// Event handler attribute names, without the `on` prefix.
const EVENTS: &[&str] = &[
    "abort",
    "activate",
    "afterprint",
    "afterscriptexecute",
    "afterupdate",
    "animationcancel",
    "animationend",
    "animationiteration",
    "animationstart",
    "auxclick",
    "beforeactivate",
    "beforecopy",
    "beforecut",
    "beforedeactivate",
    "beforeeditfocus",
    "beforeinput",
    "beforematch",
    "beforepaste",
    "beforeprint",
    "beforescriptexecute",
    "beforetoggle",
    "beforeunload",
    "beforeupdate",
    "begin",
    "blur",
    "bounce",
    "cancel",
    "canplay",
    "canplaythrough",
    "cellchange",
    "change",
    "click",
    "close",
    "contentvisibilityautostatechange",
    "contextlost",
    "contextmenu",
    "contextrestored",
    "controlselect",
    "copy",
    "cuechange",
    "cut",
    "dataavailable",
    "datasetchanged",
    "datasetcomplete",
    "dblclick",
    "deactivate",
    "drag",
    "dragdrop",
    "dragend",
    "dragenter",
    "dragexit",
    "dragleave",
    "dragover",
    "dragstart",
    "drop",
    "durationchange",
    "emptied",
    "end",
    "ended",
    "error",
    "errorupdate",
    "filterchange",
    "finish",
    "focus",
    "focusin",
    "focusout",
    "formchange",
    "formdata",
    "forminput",
    "fullscreenchange",
    "fullscreenerror",
    "gotpointercapture",
    "hashchange",
    "help",
    "input",
    "invalid",
    "keydown",
    "keypress",
    "keyup",
    "layoutcomplete",
    "load",
    "loadeddata",
    "loadedmetadata",
    "loadend",
    "loadstart",
    "losecapture",
    "lostpointercapture",
    "message",
    "messageerror",
    "mousedown",
    "mouseenter",
    "mouseleave",
    "mousemove",
    "mouseout",
    "mouseover",
    "mouseup",
    "mousewheel",
    "move",
    "moveend",
    "movestart",
    "mozfullscreenchange",
    "offline",
    "online",
    "orientationchange",
    "pagehide",
    "pagereveal",
    "pageshow",
    "pageswap",
    "paste",
    "pause",
    "play",
    "playing",
    "pointercancel",
    "pointerdown",
    "pointerenter",
    "pointerleave",
    "pointermove",
    "pointerout",
    "pointerover",
    "pointerrawupdate",
    "pointerup",
    "popstate",
    "progress",
    "propertychange",
    "ratechange",
    "readystatechange",
    "repeat",
    "reset",
    "resize",
    "resizeend",
    "resizestart",
    "rowenter",
    "rowexit",
    "rowsdelete",
    "rowsinserted",
    "scroll",
    "scrollend",
    "scrollsnapchange",
    "scrollsnapchanging",
    "search",
    "securitypolicyviolation",
    "seeked",
    "seeking",
    "select",
    "selectionchange",
    "selectstart",
    "show",
    "slotchange",
    "stalled",
    "start",
    "stop",
    "storage",
    "submit",
    "suspend",
    "timeout",
    "timeupdate",
    "toggle",
    "touchcancel",
    "touchend",
    "touchmove",
    "touchstart",
    "transitioncancel",
    "transitionend",
    "transitionrun",
    "transitionstart",
    "unhandledrejection",
    "unload",
    "volumechange",
    "waiting",
    "webkitanimationend",
    "webkitanimationiteration",
    "webkitanimationstart",
    "webkitmouseforcechanged",
    "webkitmouseforcedown",
    "webkitmouseforceup",
    "webkitmouseforcewillbegin",
    "webkitplaybacktargetavailabilitychanged",
    "webkittransitionend",
    "webkitwillrevealbottom",
    "wheel",
    "zoom",
];

fn is_event_handler(name: &[u8]) -> bool {
    match name.strip_prefix(b"on") {
        Some(event) if !event.is_empty() => EVENTS.iter().any(|e| e.as_bytes() == event),
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn script_vectors() {
        for attack in [
            "<script>alert(1)</script>",
            "<ScRiPt src=//evil.example/x.js>",
            "<img src=x onerror=alert(1)>",
            "<svg/onload=alert(1)>",
            "<body onload=alert(1)>",
            "\"><script>alert(1)</script>",
            "'><img src=x onerror=alert(1)>",
            "\" onmouseover=\"alert(1)",
            "' autofocus onfocus='alert(1)",
            "x onmouseover=alert(1)",
            "<a href=\"javascript:alert(1)\">x</a>",
            "<a href=\"jav&#x09;ascript:alert(1)\">x</a>",
            "<a href=\"&#106;avascript:alert(1)\">x</a>",
            "<a href=\" javascript:alert(1)\">",
            "<iframe src=\"data:text/html,<script>alert(1)</script>\">",
            "<object data=\"data:text/html;base64,PHNjcmlwdD4=\">",
            "<div style=\"width: expression(alert(1))\">",
            "<!--[if gte IE 4]><script>alert(1)</script><![endif]-->",
            "<math><maction actiontype=statusline xlink:href=javascript:alert(1)>x</maction></math>",
            "<form><button formaction=javascript:alert(1)>x</button></form>",
            "<details open ontoggle=alert(1)>",
            "<meta http-equiv=\"refresh\" content=\"0;url=javascript:alert(1)\">",
            "<iframe srcdoc=\"&lt;script&gt;alert(1)&lt;/script&gt;\">",
            "<base href=//evil.example/>",
            "<video><source onerror=\"alert(1)\">",
            "<scr<script>ipt>alert(1)</scr</script>ipt>",
        ] {
            assert!(detect_xss(attack.as_bytes()), "missed: {attack}");
        }
    }

    #[test]
    fn rich_text_is_not_xss() {
        for benign in [
            "<p>Hello <b>world</b></p>",
            "<a href=\"https://example.com/a?b=c\" target=\"_blank\">link</a>",
            "<img src=\"data:image/png;base64,iVBORw0KGgo=\" alt=\"logo\">",
            "<span style=\"color: red; font-weight: bold\">warn</span>",
            "if a<b and c>d then",
            "only once, online and on time",
            "Turn it on; click here",
            "She said \"hello\" and 'goodbye'",
            "price < 5 > 3",
            "<ul><li>one</li><li>two</li></ul>",
            "email me: a.b@example.com",
            "<table><tr><td>1</td></tr></table>",
            "I love <3 you",
            "x = y > z",
            "The onload event fires after images load; onerror when they fail.",
            "<body onload>",
        ] {
            assert!(!detect_xss(benign.as_bytes()), "false positive: {benign}");
        }
    }

    proptest::proptest! {
        #[test]
        fn never_panics_and_is_deterministic(input in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..300)) {
            proptest::prop_assert_eq!(detect_xss(&input), detect_xss(&input));
        }

        #[test]
        fn markup_never_panics(input in "[<>/ =\"'`a-z&#;:!-]{0,80}") {
            let _ = find_xss(input.as_bytes());
        }
    }

    #[test]
    fn script_urls() {
        assert!(is_script_url(b"javascript:alert(1)"));
        assert!(is_script_url(b"JaVaScRiPt:alert(1)"));
        assert!(is_script_url(b"java\nscript:alert(1)"));
        assert!(is_script_url(b"&#x6A;avascript:alert(1)"));
        assert!(!is_script_url(b"https://example.com/javascript:"));
        assert!(!is_script_url(b"data:image/png;base64,AAAA"));
        assert!(is_script_url(b"data:text/html,<script>"));
    }
}
