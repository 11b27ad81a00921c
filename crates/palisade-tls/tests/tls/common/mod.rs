//! Real TCP + TLS handshakes between a Palisade listener configuration and a rustls client.

#![allow(dead_code)]

use palisade_test_util::certs::{CertFiles, TestPki};
use palisade_tls::rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName};
use palisade_tls::rustls::{self, ClientConfig, ProtocolVersion, RootCertStore, ServerConfig};
use palisade_tls::{tokio_rustls, HandshakeInfo, TlsAcceptor, TlsError};
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

pub const GREETING: &[u8] = b"hello over tls";

/// What the client saw of a successful connection.
#[derive(Debug)]
pub struct ClientView {
    pub alpn: Option<Vec<u8>>,
    pub version: Option<ProtocolVersion>,
    pub peer_leaf: Vec<u8>,
    pub received: Vec<u8>,
}

#[derive(Debug)]
pub struct Outcome {
    pub server: Result<HandshakeInfo, TlsError>,
    pub client: Result<ClientView, std::io::Error>,
}

impl Outcome {
    /// Both ends completed the handshake and the server's greeting arrived.
    pub fn expect_ok(self) -> (HandshakeInfo, ClientView) {
        let server = self
            .server
            .unwrap_or_else(|e| panic!("server side failed: {e}"));
        let client = self
            .client
            .unwrap_or_else(|e| panic!("client side failed: {e}"));
        assert_eq!(client.received, GREETING);
        (server, client)
    }

    /// The connection did not get to carry data.
    pub fn expect_refused(self) -> Outcome {
        let client_got_data = matches!(&self.client, Ok(view) if view.received == GREETING);
        assert!(
            self.server.is_err() || !client_got_data,
            "handshake unexpectedly succeeded: {self:?}"
        );
        assert!(!client_got_data, "client received data: {self:?}");
        self
    }
}

pub fn provider() -> Arc<rustls::crypto::CryptoProvider> {
    palisade_tls::crypto_provider()
}

fn load_pem_certs(pem: &str) -> Vec<CertificateDer<'static>> {
    use rustls::pki_types::pem::PemObject;
    CertificateDer::pem_slice_iter(pem.as_bytes())
        .collect::<Result<Vec<_>, _>>()
        .expect("test PEM")
}

/// A plain rustls client trusting `pki`'s CA, independent of palisade-tls's client code.
pub struct ClientBuilder {
    roots: RootCertStore,
    versions: Vec<&'static rustls::SupportedProtocolVersion>,
    alpn: Vec<Vec<u8>>,
    identity: Option<CertFiles>,
}

impl ClientBuilder {
    pub fn trusting(pki: &TestPki) -> ClientBuilder {
        let mut roots = RootCertStore::empty();
        for cert in load_pem_certs(pki.ca_cert_pem()) {
            roots.add(cert).expect("CA certificate");
        }
        ClientBuilder {
            roots,
            versions: vec![&rustls::version::TLS13, &rustls::version::TLS12],
            alpn: Vec::new(),
            identity: None,
        }
    }

    pub fn versions(mut self, versions: &[&'static rustls::SupportedProtocolVersion]) -> Self {
        self.versions = versions.to_vec();
        self
    }

    pub fn alpn(mut self, protocols: &[&str]) -> Self {
        self.alpn = protocols.iter().map(|p| p.as_bytes().to_vec()).collect();
        self
    }

    pub fn client_cert(mut self, files: &CertFiles) -> Self {
        self.identity = Some(files.clone());
        self
    }

    pub fn build(self) -> Arc<ClientConfig> {
        use rustls::pki_types::pem::PemObject;
        let builder = ClientConfig::builder_with_provider(provider())
            .with_protocol_versions(&self.versions)
            .expect("versions")
            .with_root_certificates(self.roots);
        let mut config = match self.identity {
            None => builder.with_no_client_auth(),
            Some(files) => builder
                .with_client_auth_cert(
                    load_pem_certs(&files.cert_pem),
                    PrivateKeyDer::from_pem_slice(files.key_pem.as_bytes()).expect("key"),
                )
                .expect("client identity"),
        };
        config.alpn_protocols = self.alpn;
        Arc::new(config)
    }
}

/// Starts a listener that accepts one connection with `acceptor`, sends [`GREETING`]
/// and closes; returns its address and the server-side result.
pub async fn serve_one(
    acceptor: TlsAcceptor,
) -> (
    SocketAddr,
    tokio::task::JoinHandle<Result<HandshakeInfo, TlsError>>,
) {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("local addr");
    let task = tokio::spawn(async move {
        let (tcp, _) = listener.accept().await.map_err(TlsError::Handshake)?;
        let (mut stream, info) = acceptor.accept(tcp).await?;
        stream
            .write_all(GREETING)
            .await
            .map_err(TlsError::Handshake)?;
        stream.shutdown().await.map_err(TlsError::Handshake)?;
        Ok(info)
    });
    (addr, task)
}

/// Connects with `client` to a listener using `server`, sending `sni`.
pub async fn handshake(server: Arc<ServerConfig>, client: Arc<ClientConfig>, sni: &str) -> Outcome {
    let acceptor = TlsAcceptor::new(server, Duration::from_secs(5));
    let (addr, server_task) = serve_one(acceptor).await;
    let connector = tokio_rustls::TlsConnector::from(client);
    let name = ServerName::try_from(sni.to_owned()).expect("server name");
    let client = connect_and_read(&connector, addr, name).await;
    let server = server_task.await.expect("server task");
    Outcome { server, client }
}

pub async fn connect_and_read(
    connector: &tokio_rustls::TlsConnector,
    addr: SocketAddr,
    name: ServerName<'static>,
) -> Result<ClientView, std::io::Error> {
    let tcp = TcpStream::connect(addr).await?;
    let mut tls = connector.connect(name, tcp).await?;
    let mut received = Vec::new();
    tls.read_to_end(&mut received).await?;
    let (_, conn) = tls.get_ref();
    Ok(ClientView {
        alpn: conn.alpn_protocol().map(<[u8]>::to_vec),
        version: conn.protocol_version(),
        peer_leaf: conn
            .peer_certificates()
            .and_then(|chain| chain.first())
            .map(|c| c.as_ref().to_vec())
            .unwrap_or_default(),
        received,
    })
}
