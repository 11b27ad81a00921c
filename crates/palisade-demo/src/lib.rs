//! palisade-demo
