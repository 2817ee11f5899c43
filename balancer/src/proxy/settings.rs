//! The `[proxy]` settings: timeouts, sizes, connection bounds and header policy, and the
//! parsing of its network and path lists.

use std::time::Duration;

use super::{ExposeUpstream, PrivatePaths, TrustedProxies};
use crate::configuration::convert::{
    Checked, keep, parsed, positive, positive_ms, positive_secs, prefixes, secs,
};
use crate::configuration::{invalid, section};

section! {
    /// `[proxy]`: timeouts, sizes, connection bounds and header policy.
    ProxyLayer => ProxySettings, "proxy." {
        #[arg(skip)]
        connect_timeout_ms: u64 = 2000 => connect_timeout: Duration = positive_ms,
        /// Until the response head.
        #[arg(skip)]
        upstream_timeout_ms: u64 = 30_000 => upstream_timeout: Duration = positive_ms,
        /// Slow request heads and bodies get 408.
        #[arg(skip)]
        client_request_timeout_ms: u64 = 5000 => client_request_timeout: Duration = positive_ms,
        /// An idle client connection is closed after this (HTTP/2: with GOAWAY).
        #[arg(skip)]
        keep_alive_s: u64 = 65 => keep_alive: Duration = positive_secs,
        /// A response write that waits this long for the client to read closes the connection
        /// (HTTP/2: a stream waiting this long for flow-control window is reset).
        #[arg(skip)]
        send_timeout_s: u64 = 60 => send_timeout: Duration = positive_secs,
        #[arg(skip)]
        max_body_bytes: u64 = 1 << 20 => max_body_bytes: u64 = keep,
        /// Bodies up to this are buffered so a failed connect can be retried.
        #[arg(skip)]
        retry_buffer_bytes: u64 = 64 << 10 => retry_buffer_bytes: u64 = keep,
        /// Idle keep-alive connections kept per backend, per proxy thread
        /// (`upstream_connection_limit` is its deprecated alias).
        #[arg(skip)]
        #[serde(alias = "upstream_connection_limit")]
        upstream_idle_per_backend: usize = 4096 => upstream_idle_per_backend: usize = keep,
        /// Under actix-web's 5 s keep-alive, so we rarely reuse a connection it is closing.
        #[arg(skip)]
        upstream_idle_timeout_ms: u64 = 4000 => upstream_idle_timeout: Duration = positive_ms,
        #[arg(skip)]
        max_connections: usize = 20_000 => max_connections: usize = positive,
        #[arg(skip)]
        max_connections_per_ip: usize = 256 => max_connections_per_ip: usize = keep,
        /// HTTP/2 streams in flight from one client address, across its connections: what the
        /// address may have in flight over HTTP/1.1, one request per connection.
        #[arg(skip)]
        max_streams_per_ip: usize = 256 => max_streams_per_ip: usize = positive,
        #[arg(skip)]
        trusted_proxies: Vec<String> = Vec::new() => trusted_proxies: TrustedProxies = networks,
        #[arg(skip)]
        private_paths: Vec<String> = vec!["/readyz".into()] => private_paths: PrivatePaths = private_paths,
        #[arg(skip)]
        expose_upstream: String = "auto".into() => expose_upstream: ExposeUpstream = parsed,
        #[arg(skip)]
        shutdown_timeout_s: u64 = 5 => shutdown_timeout: Duration = secs,
    }
    check check_proxy
}

/// A retry buffer fits in a body, and one client fits in the connection bound.
fn check_proxy(p: &ProxySettings) -> Checked<()> {
    if p.retry_buffer_bytes > p.max_body_bytes {
        return Err(invalid(
            "proxy.retry_buffer_bytes",
            "must be <= proxy.max_body_bytes",
        ));
    }
    if !(1..=p.max_connections).contains(&p.max_connections_per_ip) {
        let reason = "must be from 1 to proxy.max_connections";
        return Err(invalid("proxy.max_connections_per_ip", reason));
    }
    Ok(())
}

fn private_paths(field: &str, list: Vec<String>) -> Checked<PrivatePaths> {
    prefixes(field, list).map(PrivatePaths::new)
}

/// `10.0.0.0/8`, or a bare address meaning just itself.
fn networks(field: &str, list: Vec<String>) -> Checked<TrustedProxies> {
    let parse = |(i, text): (usize, String)| {
        let text = text.trim();
        text.parse::<ipnet::IpNet>()
            .or_else(|_| text.parse::<std::net::IpAddr>().map(ipnet::IpNet::from))
            .map_err(|_| {
                let reason = format!("`{text}` is not an address or CIDR network");
                invalid(format!("{field}[{i}]"), reason)
            })
    };
    let networks = list
        .into_iter()
        .enumerate()
        .map(parse)
        .collect::<Checked<_>>()?;
    Ok(TrustedProxies::new(networks))
}
