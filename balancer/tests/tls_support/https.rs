//! An HTTPS client for the tests that shows what the server did: the certificate it presented
//! (verified against the roots given, and nothing else), the protocol ALPN chose, and HTTP/2
//! or HTTP/1.1 requests on that one connection. Built from rustls and hyper directly, so the
//! tests decide exactly which roots and protocols are offered.

use std::sync::Arc;

use http_body_util::{BodyExt, Empty};
use hyper::body::Bytes;
use hyper::client::conn::{http1, http2};
use hyper_util::rt::{TokioExecutor, TokioIo};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, ServerName};
use tokio::net::TcpStream;
use tokio_rustls::TlsConnector;

/// A rustls client configuration trusting exactly `roots_pem`, offering `alpn`.
pub fn client_config(roots_pem: &[&str], alpn: &[&[u8]]) -> rustls::ClientConfig {
    let mut roots = rustls::RootCertStore::empty();
    for pem in roots_pem {
        for certificate in CertificateDer::pem_slice_iter(pem.as_bytes()) {
            roots.add(certificate.unwrap()).unwrap();
        }
    }
    let mut config = super::trusting(roots);
    config.alpn_protocols = alpn.iter().map(|p| p.to_vec()).collect();
    config
}

enum Sender {
    Http1(http1::SendRequest<Empty<Bytes>>),
    Http2(http2::SendRequest<Empty<Bytes>>),
}

/// One verified TLS connection and the HTTP version ALPN chose for it.
pub struct HttpsConnection {
    sender: Sender,
    host: String,
    /// The leaf certificate the server presented (DER).
    pub leaf: Vec<u8>,
}

/// An answer: status, HTTP version and body.
#[derive(Debug)]
pub struct Answer {
    pub status: u16,
    pub version: hyper::Version,
    pub body: String,
}

pub type Failure = Box<dyn std::error::Error + Send + Sync>;

impl HttpsConnection {
    /// Connects to `address`, verifies the certificate for `host`, and speaks HTTP/2 when ALPN
    /// chose `h2`, HTTP/1.1 otherwise.
    pub async fn open(
        address: &str,
        host: &str,
        config: rustls::ClientConfig,
    ) -> Result<Self, Failure> {
        let tcp = TcpStream::connect(address).await?;
        let name = ServerName::try_from(host.to_owned())?;
        let tls = TlsConnector::from(Arc::new(config))
            .connect(name, tcp)
            .await?;
        let (_, session) = tls.get_ref();
        let leaf = session.peer_certificates().ok_or("no certificate")?[0].to_vec();
        let h2 = session.alpn_protocol() == Some(b"h2");
        let io = TokioIo::new(tls);
        let sender = if h2 {
            let (sender, connection) = http2::handshake(TokioExecutor::new(), io).await?;
            tokio::spawn(connection);
            Sender::Http2(sender)
        } else {
            let (sender, connection) = http1::handshake(io).await?;
            tokio::spawn(connection);
            Sender::Http1(sender)
        };
        Ok(Self {
            sender,
            host: host.to_owned(),
            leaf,
        })
    }

    /// Another handle on this HTTP/2 connection, for a request of its own stream alongside
    /// this one's.
    pub fn stream(&self) -> Self {
        let Sender::Http2(sender) = &self.sender else {
            panic!("an HTTP/1.1 connection carries one request at a time");
        };
        Self {
            sender: Sender::Http2(sender.clone()),
            host: self.host.clone(),
            leaf: self.leaf.clone(),
        }
    }

    /// `GET path` on this connection.
    pub async fn get(&mut self, path: &str) -> Result<Answer, Failure> {
        self.get_with(path, &[]).await
    }

    /// `GET path` with the header fields `fields` (repeated names are sent repeated).
    pub async fn get_with(
        &mut self,
        path: &str,
        fields: &[(&str, &str)],
    ) -> Result<Answer, Failure> {
        let request = match &self.sender {
            Sender::Http1(_) => hyper::Request::get(path).header(hyper::header::HOST, &self.host),
            // HTTP/2 takes :scheme and :authority from an absolute URI.
            Sender::Http2(_) => hyper::Request::get(format!("https://{}{path}", self.host))
                .version(hyper::Version::HTTP_2),
        };
        let request = fields
            .iter()
            .fold(request, |request, (name, value)| {
                request.header(*name, *value)
            })
            .body(Empty::new())?;
        let response = match &mut self.sender {
            Sender::Http1(sender) => {
                sender.ready().await?;
                sender.send_request(request).await?
            }
            Sender::Http2(sender) => {
                sender.ready().await?;
                sender.send_request(request).await?
            }
        };
        let (status, version) = (response.status().as_u16(), response.version());
        let body = response.into_body().collect().await?.to_bytes();
        Ok(Answer {
            status,
            version,
            body: String::from_utf8_lossy(&body).into_owned(),
        })
    }
}
