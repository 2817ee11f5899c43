//! The ACME account: an HTTPS client that trusts the platform's roots plus the configured extra
//! root (`--acme-ca-root`, for test CAs such as Pebble), and the account itself, restored from
//! the state directory or created once and stored there.

use std::path::Path;
use std::sync::Arc;

use bytes::Bytes;
use hyper_rustls::HttpsConnectorBuilder;
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use instant_acme::{Account, BodyWrapper, NewAccount};
use rustls::pki_types::CertificateDer;
use rustls::pki_types::pem::PemObject;

use super::AcmeError;
use super::state_dir::{StateDir, StoredAccount};

/// What the account needs from the configuration.
pub struct AccountSettings<'a> {
    pub directory: &'a str,
    pub contact: Option<&'a str>,
    pub ca_root: Option<&'a Path>,
}

/// Reads the extra root once, at start-up, so a bad path is refused before anything runs.
pub fn read_extra_root(path: &Path) -> Result<CertificateDer<'static>, AcmeError> {
    CertificateDer::from_pem_file(path).map_err(|error| AcmeError::CaRoot {
        path: path.to_owned(),
        reason: error.to_string(),
    })
}

fn http_client(
    extra_root: Option<CertificateDer<'static>>,
) -> Result<Box<dyn instant_acme::HttpClient>, AcmeError> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let verifier =
        rustls_platform_verifier::Verifier::new_with_extra_roots(extra_root, provider.clone())
            .map_err(AcmeError::Trust)?;
    let tls = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(AcmeError::Trust)?
        .dangerous()
        .with_custom_certificate_verifier(Arc::new(verifier))
        .with_no_client_auth();
    let connector = HttpsConnectorBuilder::new()
        .with_tls_config(tls)
        .https_only()
        .enable_http1()
        .enable_http2()
        .build();
    let client: Client<_, BodyWrapper<Bytes>> =
        Client::builder(TokioExecutor::new()).build(connector);
    Ok(Box::new(client))
}

/// The stored account when it belongs to this directory, else a new one (then stored).
pub async fn load_or_create(
    settings: &AccountSettings<'_>,
    state: &StateDir,
) -> Result<Account, AcmeError> {
    let extra_root = settings.ca_root.map(read_extra_root).transpose()?;
    let builder = Account::builder_with_http(http_client(extra_root)?);
    if let Some(stored) = state.account()?
        && stored.directory == settings.directory
    {
        return Ok(builder.from_credentials(stored.credentials).await?);
    }
    let contact: Vec<&str> = settings.contact.into_iter().collect();
    let new_account = NewAccount {
        contact: &contact,
        terms_of_service_agreed: true,
        only_return_existing: false,
    };
    let (account, credentials) = builder
        .create(&new_account, settings.directory.to_owned(), None)
        .await?;
    log::info!("ACME account created at {}", settings.directory);
    state.store_account(&StoredAccount {
        directory: settings.directory.to_owned(),
        credentials,
    })?;
    Ok(account)
}
