//! palisade-proxy
