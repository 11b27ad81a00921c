//! Mints test JWTs signed with a private key, for trying a gateway configured
//! with `examples/identity/palisade.toml`.
//!
//! ```text
//! cargo run -p palisade-auth --example mint-token -- --sub alice --scope "orders:read admin"
//! ```
//!
//! The default key is the TEST-ONLY key pair shipped in
//! `examples/identity/keys/`; never trust it outside a demo.

use clap::Parser;
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use std::path::PathBuf;
use std::str::FromStr;

#[derive(Debug, Parser)]
#[command(about = "Mint a signed JWT for testing Palisade")]
struct Args {
    /// Private key in PEM (PKCS#8): RSA for RS*/PS*, EC for ES*, Ed25519 for EdDSA.
    #[arg(long, default_value = concat!(env!("CARGO_MANIFEST_DIR"), "/../../examples/identity/keys/test-signing-key.pem"))]
    key: PathBuf,
    /// HMAC secret instead of a key file (HS256/384/512).
    #[arg(long)]
    secret: Option<String>,
    #[arg(long, default_value = "RS256")]
    alg: String,
    #[arg(long, default_value = "palisade-demo-test-1")]
    kid: String,
    #[arg(long, default_value = "https://issuer.example")]
    iss: String,
    #[arg(long, default_value = "palisade-demo")]
    aud: String,
    #[arg(long, default_value = "demo-user")]
    sub: String,
    /// Space-separated scopes.
    #[arg(long, default_value = "")]
    scope: String,
    /// Lifetime in seconds (negative: already expired).
    #[arg(long, default_value_t = 3600)]
    ttl: i64,
    /// Extra claims, `name=value` (repeatable).
    #[arg(long = "claim")]
    claims: Vec<String>,
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args = Args::parse();
    let alg = Algorithm::from_str(&args.alg)?;
    let key = match &args.secret {
        Some(secret) => EncodingKey::from_secret(secret.as_bytes()),
        None => {
            let pem = std::fs::read(&args.key)?;
            match alg {
                Algorithm::ES256 | Algorithm::ES384 => EncodingKey::from_ec_pem(&pem)?,
                Algorithm::EdDSA => EncodingKey::from_ed_pem(&pem)?,
                _ => EncodingKey::from_rsa_pem(&pem)?,
            }
        }
    };
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)?
        .as_secs() as i64;
    let mut claims = serde_json::json!({
        "iss": args.iss,
        "aud": args.aud,
        "sub": args.sub,
        "iat": now,
        "nbf": now,
        "exp": now + args.ttl,
    });
    if !args.scope.is_empty() {
        claims["scope"] = serde_json::Value::String(args.scope.clone());
    }
    for c in &args.claims {
        let (name, value) = c.split_once('=').ok_or("claims are name=value")?;
        claims[name] = serde_json::Value::String(value.to_owned());
    }
    let mut header = Header::new(alg);
    header.kid = Some(args.kid);
    println!("{}", jsonwebtoken::encode(&header, &claims, &key)?);
    Ok(())
}
