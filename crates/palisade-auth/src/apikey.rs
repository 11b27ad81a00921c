//! API keys: generation, hashed storage in SQLite, and verification.
//!
//! A key looks like `pk_<id>_<secret>`: `id` is 12 hex characters used to find
//! the record, `secret` is 32 random bytes in base64url. Only the SHA-256 of
//! the whole key is stored; the plaintext is returned once, at creation.
//! A fast unsalted hash is adequate here because the secret carries 256 bits
//! of entropy (nothing to brute-force, unlike a password).
//!
//! The request path never touches SQLite: it verifies against an in-memory
//! [`ApiKeyIndex`] snapshot that the gateway reloads periodically.

use crate::error::KeyStoreError;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use palisade_core::{Principal, PrincipalKind};
use rusqlite::{params, Connection, OptionalExtension};
use sha2::{Digest, Sha256};
use std::collections::HashMap;
use std::path::Path;
use std::sync::Mutex;
use subtle::ConstantTimeEq;

const KEY_PREFIX: &str = "pk_";
const ID_HEX_LEN: usize = 12;
const SECRET_B64_LEN: usize = 43;

/// What to create.
#[derive(Debug, Clone, Default)]
pub struct NewApiKey {
    pub owner: String,
    pub scopes: Vec<String>,
    /// Carried to rate limiting as the `rate_limit` claim (`100/minute`).
    pub rate_limit: Option<String>,
    /// Unix seconds.
    pub expires_at: Option<i64>,
}

/// A stored key, without its secret.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct ApiKeyRecord {
    pub id: String,
    /// Hex SHA-256 of the whole key.
    pub sha256: String,
    pub owner: String,
    pub scopes: Vec<String>,
    pub rate_limit: Option<String>,
    pub created_at: i64,
    pub expires_at: Option<i64>,
    pub revoked_at: Option<i64>,
}

/// A freshly created key; `plaintext` is shown once and never stored.
#[derive(Debug, Clone)]
pub struct CreatedApiKey {
    pub record: ApiKeyRecord,
    pub plaintext: String,
}

/// Why an API key was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum ApiKeyError {
    #[error("malformed API key")]
    Malformed,
    #[error("unknown API key")]
    Unknown,
    #[error("API key revoked")]
    Revoked,
    #[error("API key expired")]
    Expired,
}

impl ApiKeyError {
    pub fn code(self) -> &'static str {
        match self {
            ApiKeyError::Malformed => "malformed",
            ApiKeyError::Unknown => "unknown",
            ApiKeyError::Revoked => "revoked",
            ApiKeyError::Expired => "expired",
        }
    }
}

/// Hex SHA-256 of a key.
pub fn hash_key(plaintext: &str) -> String {
    hex::encode(Sha256::digest(plaintext.as_bytes()))
}

/// Generates a new key and returns `(id, plaintext)`.
pub fn generate_key() -> (String, String) {
    let id_bytes: [u8; ID_HEX_LEN / 2] = rand::random();
    let secret: [u8; 32] = rand::random();
    let id = hex::encode(id_bytes);
    let plaintext = format!("{KEY_PREFIX}{id}_{}", URL_SAFE_NO_PAD.encode(secret));
    (id, plaintext)
}

/// Splits a presented key into its id, checking the shape.
pub fn parse_key_id(presented: &str) -> Result<&str, ApiKeyError> {
    let rest = presented
        .strip_prefix(KEY_PREFIX)
        .ok_or(ApiKeyError::Malformed)?;
    let (id, secret) = rest.split_once('_').ok_or(ApiKeyError::Malformed)?;
    let id_ok = id.len() == ID_HEX_LEN
        && id
            .bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b));
    let secret_ok = secret.len() == SECRET_B64_LEN
        && secret
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
    if id_ok && secret_ok {
        Ok(id)
    } else {
        Err(ApiKeyError::Malformed)
    }
}

/// In-memory snapshot used on the request path.
#[derive(Debug, Clone, Default)]
pub struct ApiKeyIndex {
    by_id: HashMap<String, ApiKeyRecord>,
}

impl ApiKeyIndex {
    pub fn new(records: impl IntoIterator<Item = ApiKeyRecord>) -> Self {
        ApiKeyIndex {
            by_id: records.into_iter().map(|r| (r.id.clone(), r)).collect(),
        }
    }

    pub fn len(&self) -> usize {
        self.by_id.len()
    }

    pub fn is_empty(&self) -> bool {
        self.by_id.is_empty()
    }

    /// Adds the records of `other`, which take precedence.
    pub fn merge(&mut self, other: ApiKeyIndex) {
        self.by_id.extend(other.by_id);
    }

    /// Verifies a presented key at unix time `now`.
    pub fn verify(&self, presented: &str, now: i64) -> Result<Principal, ApiKeyError> {
        let id = parse_key_id(presented)?;
        let record = self.by_id.get(id).ok_or(ApiKeyError::Unknown)?;
        let presented_hash: [u8; 32] = Sha256::digest(presented.as_bytes()).into();
        let stored = hex::decode(&record.sha256).map_err(|_| ApiKeyError::Unknown)?;
        if !bool::from(presented_hash[..].ct_eq(&stored[..])) {
            return Err(ApiKeyError::Unknown);
        }
        if record.revoked_at.is_some() {
            return Err(ApiKeyError::Revoked);
        }
        if record.expires_at.is_some_and(|e| now >= e) {
            return Err(ApiKeyError::Expired);
        }
        let mut principal = Principal::new(PrincipalKind::ApiKey, record.owner.clone());
        principal.scopes = record.scopes.as_slice().into();
        std::sync::Arc::make_mut(&mut principal.claims)
            .insert("api_key_id".into(), record.id.clone());
        std::sync::Arc::make_mut(&mut principal.claims)
            .insert("owner".into(), record.owner.clone());
        if let Some(limit) = &record.rate_limit {
            std::sync::Arc::make_mut(&mut principal.claims)
                .insert("rate_limit".into(), limit.clone());
        }
        Ok(principal)
    }
}

/// The embedded SQLite key store.
pub struct ApiKeyStore {
    conn: Mutex<Connection>,
}

impl std::fmt::Debug for ApiKeyStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ApiKeyStore").finish_non_exhaustive()
    }
}

fn now_unix() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0)
}

impl ApiKeyStore {
    /// Opens (creating if needed) the store at `path`.
    pub fn open(path: &Path) -> Result<Self, KeyStoreError> {
        Self::init(Connection::open(path)?)
    }

    pub fn open_in_memory() -> Result<Self, KeyStoreError> {
        Self::init(Connection::open_in_memory()?)
    }

    fn init(conn: Connection) -> Result<Self, KeyStoreError> {
        conn.busy_timeout(std::time::Duration::from_secs(5))?;
        conn.execute_batch(
            "CREATE TABLE IF NOT EXISTS api_keys (
                id TEXT PRIMARY KEY,
                sha256 TEXT NOT NULL,
                owner TEXT NOT NULL,
                scopes TEXT NOT NULL,
                rate_limit TEXT,
                created_at INTEGER NOT NULL,
                expires_at INTEGER,
                revoked_at INTEGER
            );",
        )?;
        Ok(ApiKeyStore {
            conn: Mutex::new(conn),
        })
    }

    fn conn(&self) -> Result<std::sync::MutexGuard<'_, Connection>, KeyStoreError> {
        self.conn
            .lock()
            .map_err(|_| KeyStoreError::Invalid("key store lock poisoned".into()))
    }

    /// Creates a key; the returned plaintext is the only copy.
    pub fn create(&self, new: NewApiKey) -> Result<CreatedApiKey, KeyStoreError> {
        if new.owner.trim().is_empty() {
            return Err(KeyStoreError::Invalid("owner must not be empty".into()));
        }
        if new
            .scopes
            .iter()
            .any(|s| s.is_empty() || s.contains(char::is_whitespace))
        {
            return Err(KeyStoreError::Invalid(
                "scopes must be non-empty words".into(),
            ));
        }
        let (id, plaintext) = generate_key();
        let record = ApiKeyRecord {
            id,
            sha256: hash_key(&plaintext),
            owner: new.owner,
            scopes: new.scopes,
            rate_limit: new.rate_limit,
            created_at: now_unix(),
            expires_at: new.expires_at,
            revoked_at: None,
        };
        self.conn()?.execute(
            "INSERT INTO api_keys (id, sha256, owner, scopes, rate_limit, created_at, expires_at, revoked_at)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, NULL)",
            params![
                record.id,
                record.sha256,
                record.owner,
                record.scopes.join(" "),
                record.rate_limit,
                record.created_at,
                record.expires_at
            ],
        )?;
        Ok(CreatedApiKey { record, plaintext })
    }

    /// Marks a key revoked (kept for audit).
    pub fn revoke(&self, id: &str) -> Result<(), KeyStoreError> {
        let changed = self.conn()?.execute(
            "UPDATE api_keys SET revoked_at = ?2 WHERE id = ?1 AND revoked_at IS NULL",
            params![id, now_unix()],
        )?;
        if changed == 0 {
            let exists: Option<String> = self
                .conn()?
                .query_row("SELECT id FROM api_keys WHERE id = ?1", params![id], |r| {
                    r.get(0)
                })
                .optional()?;
            if exists.is_none() {
                return Err(KeyStoreError::NotFound(id.to_owned()));
            }
        }
        Ok(())
    }

    /// Every key, newest first.
    pub fn list(&self) -> Result<Vec<ApiKeyRecord>, KeyStoreError> {
        let conn = self.conn()?;
        let mut stmt = conn.prepare(
            "SELECT id, sha256, owner, scopes, rate_limit, created_at, expires_at, revoked_at
             FROM api_keys ORDER BY created_at DESC, id",
        )?;
        let rows = stmt.query_map([], |r| {
            let scopes: String = r.get(3)?;
            Ok(ApiKeyRecord {
                id: r.get(0)?,
                sha256: r.get(1)?,
                owner: r.get(2)?,
                scopes: scopes.split_whitespace().map(str::to_owned).collect(),
                rate_limit: r.get(4)?,
                created_at: r.get(5)?,
                expires_at: r.get(6)?,
                revoked_at: r.get(7)?,
            })
        })?;
        Ok(rows.collect::<Result<Vec<_>, _>>()?)
    }

    /// Snapshot for the request path.
    pub fn load_index(&self) -> Result<ApiKeyIndex, KeyStoreError> {
        Ok(ApiKeyIndex::new(self.list()?))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn create_verify_revoke() {
        let store = ApiKeyStore::open_in_memory().unwrap();
        let created = store
            .create(NewApiKey {
                owner: "billing-service".into(),
                scopes: vec!["invoices:read".into()],
                rate_limit: Some("100/minute".into()),
                expires_at: None,
            })
            .unwrap();
        assert!(parse_key_id(&created.plaintext).is_ok());
        let listed = store.list().unwrap();
        assert_eq!(listed.len(), 1);
        assert_ne!(listed[0].sha256, created.plaintext);
        assert!(!format!("{listed:?}").contains(&created.plaintext));
        let index = store.load_index().unwrap();
        let p = index.verify(&created.plaintext, now_unix()).unwrap();
        assert_eq!(&*p.subject, "billing-service");
        assert_eq!(p.kind, PrincipalKind::ApiKey);
        assert!(p.has_scope("invoices:read"));
        assert_eq!(p.claims["rate_limit"], "100/minute");
        // Same id, different secret.
        let mut forged = created.plaintext.clone();
        let last = forged.pop().unwrap();
        forged.push(if last == 'A' { 'B' } else { 'A' });
        assert_eq!(index.verify(&forged, now_unix()), Err(ApiKeyError::Unknown));
        store.revoke(&created.record.id).unwrap();
        let index = store.load_index().unwrap();
        assert_eq!(
            index.verify(&created.plaintext, now_unix()),
            Err(ApiKeyError::Revoked)
        );
        assert!(matches!(
            store.revoke("000000000000"),
            Err(KeyStoreError::NotFound(_))
        ));
    }

    #[test]
    fn expiry_and_shape() {
        let store = ApiKeyStore::open_in_memory().unwrap();
        let created = store
            .create(NewApiKey {
                owner: "o".into(),
                expires_at: Some(1000),
                ..Default::default()
            })
            .unwrap();
        let index = store.load_index().unwrap();
        assert!(index.verify(&created.plaintext, 999).is_ok());
        assert_eq!(
            index.verify(&created.plaintext, 1000),
            Err(ApiKeyError::Expired)
        );
        for bad in [
            "",
            "pk_",
            "pk_abc_def",
            "xx_0123456789ab_0000000000000000000000000000000000000000000",
            "pk_0123456789AB_0000000000000000000000000000000000000000000",
        ] {
            assert_eq!(index.verify(bad, 0), Err(ApiKeyError::Malformed), "{bad}");
        }
    }

    #[test]
    fn store_persists_on_disk() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("keys.db");
        let plaintext = {
            let store = ApiKeyStore::open(&path).unwrap();
            store
                .create(NewApiKey {
                    owner: "o".into(),
                    ..Default::default()
                })
                .unwrap()
                .plaintext
        };
        let store = ApiKeyStore::open(&path).unwrap();
        assert!(store
            .load_index()
            .unwrap()
            .verify(&plaintext, now_unix())
            .is_ok());
    }
}
