//! A certificate authority of the tests' own, so that the test servers can speak real TLS
//! and newshound can check their certificates exactly as it checks any server's: the
//! authority is trusted only where a test says so, through `SSL_CERT_FILE` (which the
//! system trust store reader honours), never by a switch inside newshound.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use rcgen::{
    BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, Issuer, KeyPair,
    KeyUsagePurpose,
};
use rustls::pki_types::{PrivateKeyDer, PrivatePkcs8KeyDer};

/// A certificate authority and a server certificate it issued for `127.0.0.1` and
/// `localhost`.
pub struct TestCa {
    config: Arc<rustls::ServerConfig>,
    /// The authority's certificate, PEM, in a file of its own.
    pem: PathBuf,
    _dir: tempfile::TempDir,
}

impl TestCa {
    pub fn new() -> TestCa {
        let mut ca = CertificateParams::new(Vec::<String>::new()).unwrap();
        ca.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        // A name of its own: a certificate another authority issued is then one of an
        // unknown issuer, as it would be in the field.
        static AUTHORITIES: AtomicUsize = AtomicUsize::new(0);
        let n = AUTHORITIES.fetch_add(1, Ordering::Relaxed);
        ca.distinguished_name
            .push(DnType::CommonName, format!("newshound test authority {n}"));
        ca.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
        let ca_key = KeyPair::generate().unwrap();
        let ca_cert = ca.self_signed(&ca_key).unwrap();
        let issuer = Issuer::new(ca, ca_key);

        let mut server =
            CertificateParams::new(vec!["127.0.0.1".into(), "localhost".into()]).unwrap();
        server.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
        let server_key = KeyPair::generate().unwrap();
        let server_cert = server.signed_by(&server_key, &issuer).unwrap();

        let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
        let config = rustls::ServerConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .unwrap()
            .with_no_client_auth()
            .with_single_cert(
                vec![server_cert.der().clone(), ca_cert.der().clone()],
                PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(server_key.serialize_der())),
            )
            .unwrap();
        let dir = tempfile::tempdir().unwrap();
        let pem = dir.path().join("test-authority.pem");
        std::fs::write(&pem, ca_cert.pem()).unwrap();
        TestCa {
            config: Arc::new(config),
            pem,
            _dir: dir,
        }
    }

    /// The environment that makes a newshound process trust this authority (and no
    /// other).
    pub fn trusted(&self) -> [(&'static str, &str); 1] {
        [("SSL_CERT_FILE", self.pem.to_str().unwrap())]
    }

    /// Starts TLS as the server on an accepted connection. The handshake itself happens
    /// on first read or write.
    pub fn accept(&self, tcp: TcpStream) -> TlsStream {
        let connection = rustls::ServerConnection::new(self.config.clone()).unwrap();
        rustls::StreamOwned::new(connection, tcp)
    }
}

pub type TlsStream = rustls::StreamOwned<rustls::ServerConnection, TcpStream>;

/// A connection a test server reads and writes, in the clear or over TLS.
pub trait Connection: Read + Write + Send {}

impl<T: Read + Write + Send> Connection for T {}
