//! palisade-openapi
