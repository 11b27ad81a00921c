//! Authentication and authorization over real sockets: JWT attacks, JWKS over
//! HTTPS, scopes and operation rules. One test binary, a module per area.

mod authorization;
mod common;
mod https_jwks;
mod jwt_attacks;
