//! The reasons a connection's HTTP/1 framing is refused.

/// One way a request stream broke the strict HTTP/1 framing rules.
///
/// Every variant has a stable snake_case name ([`Violation::as_str`]) suitable for security events and
/// metrics labels, and the HTTP status the gateway answers with ([`Violation::status_code`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, thiserror::Error)]
#[non_exhaustive]
pub enum Violation {
    /// A line ended in LF without the preceding CR.
    #[error("bare LF line ending")]
    BareLf,
    /// A CR was not followed by LF.
    #[error("bare CR")]
    BareCr,
    /// A header line started with whitespace (obsolete line folding).
    #[error("obsolete line folding")]
    ObsFold,
    /// Whitespace between a field name and its colon.
    #[error("whitespace between field name and colon")]
    WhitespaceBeforeColon,
    /// A field name that is empty, not an RFC 9110 token, or a line without a colon.
    #[error("invalid field name")]
    InvalidHeaderName,
    /// A field value containing a control byte other than HTAB.
    #[error("control byte in field value")]
    InvalidHeaderValue,
    /// A field name that only differs from a framing field by `_` (e.g. `Transfer_Encoding`), which
    /// some servers normalise into the real thing.
    #[error("field name mimicking a framing field")]
    ObfuscatedFramingHeader,
    /// The request line is not `method SP request-target SP HTTP-version`.
    #[error("malformed request line")]
    InvalidRequestLine,
    /// The method is not a token.
    #[error("invalid method")]
    InvalidMethod,
    /// The request target contains a space or control byte, or does not fit its method's form.
    #[error("invalid request target")]
    InvalidRequestTarget,
    /// The version is not `HTTP/1.0` or `HTTP/1.1`.
    #[error("unsupported HTTP version")]
    UnsupportedVersion,
    /// A Content-Length that is not a single run of digits fitting in 64 bits.
    #[error("invalid Content-Length")]
    InvalidContentLength,
    /// More than one Content-Length field, even with equal values.
    #[error("duplicate Content-Length")]
    DuplicateContentLength,
    /// A Transfer-Encoding other than exactly `chunked`.
    #[error("unsupported Transfer-Encoding")]
    UnsupportedTransferEncoding,
    /// More than one Transfer-Encoding field.
    #[error("duplicate Transfer-Encoding")]
    DuplicateTransferEncoding,
    /// Both Content-Length and Transfer-Encoding.
    #[error("both Content-Length and Transfer-Encoding")]
    ContentLengthWithTransferEncoding,
    /// Transfer-Encoding in an HTTP/1.0 request.
    #[error("Transfer-Encoding in an HTTP/1.0 request")]
    TransferEncodingInHttp10,
    /// An HTTP/1.1 request without Host.
    #[error("missing Host")]
    MissingHost,
    /// More than one Host field.
    #[error("duplicate Host")]
    DuplicateHost,
    /// A chunk size that is not a run of hex digits.
    #[error("invalid chunk size")]
    InvalidChunkSize,
    /// A chunk size with more than 16 hex digits.
    #[error("chunk size too long")]
    ChunkSizeTooLong,
    /// A chunk extension that is not `;token` or `;token=token`.
    #[error("invalid chunk extension")]
    InvalidChunkExtension,
    /// A chunk-size line longer than the guard accepts.
    #[error("chunk-size line too long")]
    ChunkLineTooLong,
    /// Chunk data not followed by CRLF.
    #[error("missing CRLF after chunk data")]
    MissingChunkTerminator,
    /// A trailer field that would change framing or routing (Content-Length, Transfer-Encoding, Host).
    #[error("forbidden trailer field")]
    ForbiddenTrailer,
    /// The trailer section exceeds the head limits.
    #[error("trailer section too large")]
    TrailersTooLarge,
    /// The request head exceeds `max_head_bytes`.
    #[error("request head too large")]
    HeadTooLarge,
    /// The request head has more than `max_headers` fields.
    #[error("too many header fields")]
    TooManyHeaders,
    /// The request target exceeds `max_uri_bytes`.
    #[error("request target too long")]
    UriTooLong,
}

impl Violation {
    /// Every variant, for exhaustive tests and metric pre-registration.
    pub const ALL: [Violation; 29] = [
        Violation::BareLf,
        Violation::BareCr,
        Violation::ObsFold,
        Violation::WhitespaceBeforeColon,
        Violation::InvalidHeaderName,
        Violation::InvalidHeaderValue,
        Violation::ObfuscatedFramingHeader,
        Violation::InvalidRequestLine,
        Violation::InvalidMethod,
        Violation::InvalidRequestTarget,
        Violation::UnsupportedVersion,
        Violation::InvalidContentLength,
        Violation::DuplicateContentLength,
        Violation::UnsupportedTransferEncoding,
        Violation::DuplicateTransferEncoding,
        Violation::ContentLengthWithTransferEncoding,
        Violation::TransferEncodingInHttp10,
        Violation::MissingHost,
        Violation::DuplicateHost,
        Violation::InvalidChunkSize,
        Violation::ChunkSizeTooLong,
        Violation::InvalidChunkExtension,
        Violation::ChunkLineTooLong,
        Violation::MissingChunkTerminator,
        Violation::ForbiddenTrailer,
        Violation::TrailersTooLarge,
        Violation::HeadTooLarge,
        Violation::TooManyHeaders,
        Violation::UriTooLong,
    ];

    /// Stable snake_case identifier.
    pub const fn as_str(self) -> &'static str {
        match self {
            Violation::BareLf => "bare_lf",
            Violation::BareCr => "bare_cr",
            Violation::ObsFold => "obs_fold",
            Violation::WhitespaceBeforeColon => "whitespace_before_colon",
            Violation::InvalidHeaderName => "invalid_header_name",
            Violation::InvalidHeaderValue => "invalid_header_value",
            Violation::ObfuscatedFramingHeader => "obfuscated_framing_header",
            Violation::InvalidRequestLine => "invalid_request_line",
            Violation::InvalidMethod => "invalid_method",
            Violation::InvalidRequestTarget => "invalid_request_target",
            Violation::UnsupportedVersion => "unsupported_version",
            Violation::InvalidContentLength => "invalid_content_length",
            Violation::DuplicateContentLength => "duplicate_content_length",
            Violation::UnsupportedTransferEncoding => "unsupported_transfer_encoding",
            Violation::DuplicateTransferEncoding => "duplicate_transfer_encoding",
            Violation::ContentLengthWithTransferEncoding => "content_length_with_transfer_encoding",
            Violation::TransferEncodingInHttp10 => "transfer_encoding_in_http10",
            Violation::MissingHost => "missing_host",
            Violation::DuplicateHost => "duplicate_host",
            Violation::InvalidChunkSize => "invalid_chunk_size",
            Violation::ChunkSizeTooLong => "chunk_size_too_long",
            Violation::InvalidChunkExtension => "invalid_chunk_extension",
            Violation::ChunkLineTooLong => "chunk_line_too_long",
            Violation::MissingChunkTerminator => "missing_chunk_terminator",
            Violation::ForbiddenTrailer => "forbidden_trailer",
            Violation::TrailersTooLarge => "trailers_too_large",
            Violation::HeadTooLarge => "head_too_large",
            Violation::TooManyHeaders => "too_many_headers",
            Violation::UriTooLong => "uri_too_long",
        }
    }

    /// The status the gateway answers with: 431 for oversized heads, 414 for long targets, else 400.
    pub const fn status_code(self) -> u16 {
        match self {
            Violation::HeadTooLarge | Violation::TooManyHeaders | Violation::TrailersTooLarge => {
                431
            }
            Violation::UriTooLong => 414,
            _ => 400,
        }
    }

    /// The reason phrase matching [`Violation::status_code`].
    pub const fn reason_phrase(self) -> &'static str {
        match self.status_code() {
            431 => "Request Header Fields Too Large",
            414 => "URI Too Long",
            _ => "Bad Request",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;

    #[test]
    fn names_are_unique_snake_case() {
        let mut seen = HashSet::new();
        for v in Violation::ALL {
            let name = v.as_str();
            assert!(seen.insert(name), "duplicate name {name}");
            assert!(name
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_'));
            assert!(!v.to_string().is_empty());
        }
    }

    #[test]
    fn status_codes_distinguish_size_limits() {
        assert_eq!(Violation::UriTooLong.status_code(), 414);
        assert_eq!(Violation::HeadTooLarge.status_code(), 431);
        assert_eq!(Violation::TooManyHeaders.status_code(), 431);
        assert_eq!(Violation::BareLf.status_code(), 400);
        assert_eq!(Violation::UriTooLong.reason_phrase(), "URI Too Long");
    }
}
