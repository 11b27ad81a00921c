//! palisade-config
