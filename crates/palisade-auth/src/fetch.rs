//! The little HTTP the identity engine needs (JWKS documents, token
//! introspection), behind a trait so decision logic can be tested without a
//! network and the gateway can supply its own client.

use crate::error::FetchError;
use bytes::Bytes;
use http::{header, Method, Request, Uri};
use http_body_util::{BodyExt, Full, Limited};
use hyper_rustls::HttpsConnector;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use std::future::Future;
use std::pin::Pin;
use std::time::Duration;

/// A boxed future, as returned by the I/O traits of this crate.
pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// Largest response body read.
pub const MAX_RESPONSE_BYTES: usize = 1024 * 1024;

/// An HTTP response reduced to what callers need.
#[derive(Debug, Clone)]
pub struct FetchedResponse {
    pub status: u16,
    pub body: Bytes,
}

/// Minimal HTTP client.
pub trait HttpFetcher: Send + Sync + 'static {
    /// `GET url`.
    fn get<'a>(&'a self, url: &'a str) -> BoxFuture<'a, Result<FetchedResponse, FetchError>>;
    /// `POST url` with an `application/x-www-form-urlencoded` body and an
    /// optional `Authorization` value.
    fn post_form<'a>(
        &'a self,
        url: &'a str,
        form: String,
        authorization: Option<String>,
    ) -> BoxFuture<'a, Result<FetchedResponse, FetchError>>;
}

/// [`HttpFetcher`] over hyper-util's pooled client, for `http://` and
/// `https://` (rustls with the ring provider; trust roots are the system's
/// plus any configured CA file).
#[derive(Clone)]
pub struct HyperFetcher {
    client: Client<HttpsConnector<HttpConnector>, Full<Bytes>>,
    timeout: Duration,
}

impl std::fmt::Debug for HyperFetcher {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HyperFetcher")
            .field("timeout", &self.timeout)
            .finish()
    }
}

impl HyperFetcher {
    /// A client trusting the system's root certificates.
    pub fn new(timeout: Duration) -> Result<Self, FetchError> {
        Self::with_roots(timeout, system_roots())
    }

    /// A client trusting the system's roots plus the certificates in `ca_pem`.
    pub fn with_extra_ca(timeout: Duration, ca_pem: &[u8]) -> Result<Self, FetchError> {
        let mut roots = system_roots();
        let mut reader = std::io::BufReader::new(ca_pem);
        let mut added = 0;
        for cert in rustls_pemfile::certs(&mut reader) {
            let cert = cert.map_err(|e| FetchError::Tls(e.to_string()))?;
            roots
                .add(cert)
                .map_err(|e| FetchError::Tls(e.to_string()))?;
            added += 1;
        }
        if added == 0 {
            return Err(FetchError::Tls("no certificate in CA file".into()));
        }
        Self::with_roots(timeout, roots)
    }

    fn with_roots(timeout: Duration, roots: rustls::RootCertStore) -> Result<Self, FetchError> {
        let mut connector = HttpConnector::new();
        connector.set_connect_timeout(Some(timeout));
        connector.set_nodelay(true);
        connector.enforce_http(false);
        let provider = std::sync::Arc::new(rustls::crypto::ring::default_provider());
        let tls = rustls::ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .map_err(|e| FetchError::Tls(e.to_string()))?
            .with_root_certificates(roots)
            .with_no_client_auth();
        let https = hyper_rustls::HttpsConnectorBuilder::new()
            .with_tls_config(tls)
            .https_or_http()
            .enable_http1()
            .wrap_connector(connector);
        Ok(HyperFetcher {
            client: Client::builder(TokioExecutor::new()).build(https),
            timeout,
        })
    }

    async fn send(&self, request: Request<Full<Bytes>>) -> Result<FetchedResponse, FetchError> {
        let exchange = async {
            let response = self
                .client
                .request(request)
                .await
                .map_err(|e| FetchError::Connect(e.to_string()))?;
            let status = response.status().as_u16();
            let body = Limited::new(response.into_body(), MAX_RESPONSE_BYTES)
                .collect()
                .await
                .map_err(|_| FetchError::TooLarge(MAX_RESPONSE_BYTES))?
                .to_bytes();
            Ok(FetchedResponse { status, body })
        };
        tokio::time::timeout(self.timeout, exchange)
            .await
            .map_err(|_| FetchError::Timeout)?
    }
}

fn parse_http_uri(url: &str) -> Result<Uri, FetchError> {
    let uri: Uri = url
        .parse()
        .map_err(|_| FetchError::Url(url.chars().take(200).collect()))?;
    match uri.scheme_str() {
        Some("http") | Some("https") => Ok(uri),
        Some(other) => Err(FetchError::Scheme(other.to_owned())),
        None => Err(FetchError::Url("missing scheme".into())),
    }
}

impl HttpFetcher for HyperFetcher {
    fn get<'a>(&'a self, url: &'a str) -> BoxFuture<'a, Result<FetchedResponse, FetchError>> {
        Box::pin(async move {
            let uri = parse_http_uri(url)?;
            let request = Request::builder()
                .method(Method::GET)
                .uri(uri)
                .header(header::ACCEPT, "application/json")
                .body(Full::new(Bytes::new()))
                .map_err(|e| FetchError::Url(e.to_string()))?;
            self.send(request).await
        })
    }

    fn post_form<'a>(
        &'a self,
        url: &'a str,
        form: String,
        authorization: Option<String>,
    ) -> BoxFuture<'a, Result<FetchedResponse, FetchError>> {
        Box::pin(async move {
            let uri = parse_http_uri(url)?;
            let mut builder = Request::builder()
                .method(Method::POST)
                .uri(uri)
                .header(header::ACCEPT, "application/json")
                .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded");
            if let Some(auth) = authorization {
                builder = builder.header(header::AUTHORIZATION, auth);
            }
            let request = builder
                .body(Full::new(Bytes::from(form)))
                .map_err(|e| FetchError::Url(e.to_string()))?;
            self.send(request).await
        })
    }
}

fn system_roots() -> rustls::RootCertStore {
    let mut roots = rustls::RootCertStore::empty();
    let found = rustls_native_certs::load_native_certs();
    for cert in found.certs {
        let _ = roots.add(cert);
    }
    roots
}
