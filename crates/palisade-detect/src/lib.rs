//! Native attack detection for Palisade.

pub mod checks;
pub mod decode;
pub mod extract;
pub mod json;
mod native;
pub mod sqli;
pub mod value;
pub mod xml;
pub mod xss;

pub use native::{NativeConfig, NativeDetector, NATIVE_CATEGORIES};
