//! palisade-waf
