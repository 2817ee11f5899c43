//! One certificate order (RFC 8555 section 7.4): new order, HTTP-01 for every pending
//! authorization with its token published on the plain listener, finalization with a fresh
//! ECDSA P-256 key, and the issued chain. A refused order comes back with the ACME problem
//! document that explains it.

use std::time::Duration;

use instant_acme::{
    Account, AuthorizationStatus, ChallengeType, Identifier, NewOrder, Order, OrderStatus,
    RetryPolicy,
};

use super::AcmeError;
use super::challenges::ChallengeTokens;
use super::state_dir::StoredCertificate;

/// How long the ACME server may take to validate and to issue. Let's Encrypt usually takes
/// seconds; past this the order is retried as a whole, with back-off.
fn polling() -> RetryPolicy {
    RetryPolicy::new()
        .initial_delay(Duration::from_millis(250))
        .backoff(1.5)
        .timeout(Duration::from_secs(90))
}

/// Orders a certificate for `domains` and returns it with its new key.
pub async fn order_certificate(
    account: &Account,
    domains: &[String],
    tokens: &ChallengeTokens,
) -> Result<StoredCertificate, AcmeError> {
    let identifiers: Vec<Identifier> = domains.iter().cloned().map(Identifier::Dns).collect();
    let mut order = account.new_order(&NewOrder::new(&identifiers)).await?;
    log::info!("ACME order {} for {}", order.url(), domains.join(", "));

    // The tokens stay published until the order is ready or has failed.
    let mut published = Vec::new();
    let mut authorizations = order.authorizations();
    while let Some(authorization) = authorizations.next().await {
        let mut authorization = authorization?;
        match authorization.status {
            AuthorizationStatus::Valid => continue,
            AuthorizationStatus::Pending => {}
            status => return Err(AcmeError::Authorization(format!("{status:?}"))),
        }
        let mut challenge = authorization
            .challenge(ChallengeType::Http01)
            .ok_or(AcmeError::NoHttp01)?;
        published.push(tokens.publish(&challenge.token, challenge.key_authorization().as_str()));
        challenge.set_ready().await?;
    }
    let status = order.poll_ready(&polling()).await?;
    drop(published);
    if status != OrderStatus::Ready {
        return Err(refusal(&mut order).await);
    }
    let key_pem = order.finalize().await?;
    let chain_pem = order.poll_certificate(&polling()).await?;
    Ok(StoredCertificate {
        chain_pem: chain_pem.into_bytes(),
        key_pem: key_pem.into_bytes(),
    })
}

/// Why an order ended invalid: its own problem document, else the first failed challenge's.
async fn refusal(order: &mut Order) -> AcmeError {
    if let Some(problem) = order.state().error.clone() {
        return AcmeError::Refused(problem);
    }
    let mut authorizations = order.authorizations();
    while let Some(Ok(mut authorization)) = authorizations.next().await {
        let Ok(state) = authorization.refresh().await else {
            continue;
        };
        let failed = state
            .challenges
            .iter()
            .find_map(|challenge| challenge.error.clone());
        if let Some(problem) = failed {
            return AcmeError::Refused(problem);
        }
    }
    AcmeError::InvalidOrder
}
