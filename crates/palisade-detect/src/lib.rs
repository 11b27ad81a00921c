//! palisade-detect
