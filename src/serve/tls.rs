//! HTTPS: `--tls-cert PEM --tls-key PEM` with rustls (TLS 1.2 and 1.3, the aws-lc-rs
//! provider the rest of the build already links for its HTTPS clients: no second crypto
//! stack). With TLS the session cookie is `Secure`, and an address beyond loopback needs no
//! `--insecure-http`.
//!
//! Handshakes run in their own tasks, each within [`HANDSHAKE`]: a client that connects and
//! says nothing holds up only its own connection, never the accepting of others.

use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use axum::extract::connect_info::Connected;
use axum::serve::{IncomingStream, Listener};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::mpsc;
use tokio_rustls::server::TlsStream;
use tokio_rustls::TlsAcceptor;

use super::throttle::ClientAddr;
use crate::error::{Error, Result};

/// The longest a handshake may take.
pub const HANDSHAKE: Duration = Duration::from_secs(10);
/// Connections that finished their handshake and wait to be served.
const READY: usize = 64;

/// The server's TLS configuration from a PEM certificate chain and a PEM private key; every
/// failure names the file.
pub fn config(cert: &Path, key: &Path) -> Result<Arc<rustls::ServerConfig>> {
    let bad = |file: &Path, what: &str, why: String| {
        Error::usage(format!("{}: {what}: {why}", file.display()))
            .hint("give a PEM certificate chain with --tls-cert and its PEM private key with --tls-key")
    };
    let chain: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(cert)
        .map_err(|e| bad(cert, "cannot read the certificate", e.to_string()))?
        .collect::<std::result::Result<_, _>>()
        .map_err(|e| bad(cert, "not a PEM certificate", e.to_string()))?;
    if chain.is_empty() {
        return Err(bad(cert, "no certificate", "the file holds no CERTIFICATE block".into()));
    }
    let private = PrivateKeyDer::from_pem_file(key).map_err(|e| bad(key, "not a PEM private key", e.to_string()))?;
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let mut c = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| Error::internal(format!("TLS protocol versions: {e}")))?
        .with_no_client_auth()
        .with_single_cert(chain, private)
        .map_err(|e| {
            bad(key, "does not go with the certificate", e.to_string())
                .hint(format!("the key must be the private key of the first certificate in {}", cert.display()))
        })?;
    c.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(Arc::new(c))
}

/// A listener that hands out connections once their TLS handshake is done.
pub struct TlsListener {
    local: SocketAddr,
    ready: mpsc::Receiver<(TlsStream<TcpStream>, SocketAddr)>,
}

impl TlsListener {
    /// Accept on `tcp` and shake hands in the background (call within the runtime).
    pub fn new(tcp: TcpListener, config: Arc<rustls::ServerConfig>) -> std::io::Result<TlsListener> {
        let local = tcp.local_addr()?;
        let (tx, ready) = mpsc::channel(READY);
        let acceptor = TlsAcceptor::from(config);
        tokio::spawn(async move {
            loop {
                let (stream, addr) = match tcp.accept().await {
                    Ok(c) => c,
                    Err(e) => {
                        // too many open files and the like: wait a little, as axum does
                        tracing::warn!("serve: accepting a connection: {e}");
                        tokio::time::sleep(Duration::from_millis(100)).await;
                        continue;
                    }
                };
                if tx.is_closed() {
                    return;
                }
                let (acceptor, tx) = (acceptor.clone(), tx.clone());
                tokio::spawn(async move {
                    match tokio::time::timeout(HANDSHAKE, acceptor.accept(stream)).await {
                        Ok(Ok(tls)) => {
                            let _ = tx.send((tls, addr)).await;
                        }
                        Ok(Err(e)) => tracing::debug!("serve: TLS handshake with {addr}: {e}"),
                        Err(_) => tracing::debug!("serve: TLS handshake with {addr} timed out"),
                    }
                });
            }
        });
        Ok(TlsListener { local, ready })
    }
}

impl Listener for TlsListener {
    type Io = TlsStream<TcpStream>;
    type Addr = SocketAddr;

    async fn accept(&mut self) -> (Self::Io, Self::Addr) {
        match self.ready.recv().await {
            Some(c) => c,
            // the accepting task ended (never, while the runtime runs): accept nothing more
            None => std::future::pending().await,
        }
    }

    fn local_addr(&self) -> std::io::Result<SocketAddr> {
        Ok(self.local)
    }
}

impl Connected<IncomingStream<'_, TlsListener>> for ClientAddr {
    fn connect_info(stream: IncomingStream<'_, TlsListener>) -> Self {
        ClientAddr(*stream.remote_addr())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn files_that_are_not_a_certificate_and_key_are_named_in_the_error() {
        let tmp = tempfile::tempdir().unwrap();
        let (cert, key) = (tmp.path().join("cert.pem"), tmp.path().join("key.pem"));
        std::fs::write(&cert, "not a certificate\n").unwrap();
        std::fs::write(&key, "not a key\n").unwrap();
        let e = config(&cert, &key).unwrap_err();
        assert!(e.message.contains("cert.pem"), "{e}");
        let missing = tmp.path().join("missing.pem");
        let e = config(&missing, &key).unwrap_err();
        assert!(e.message.contains("missing.pem"), "{e}");
    }
}
