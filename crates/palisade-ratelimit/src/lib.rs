//! palisade-ratelimit
