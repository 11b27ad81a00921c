//! palisade-events
