//! palisade-test-util
