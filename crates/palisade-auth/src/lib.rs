//! palisade-auth
