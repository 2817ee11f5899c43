//! The `[acme]` settings: automatic certificates for the TLS listener, validated over HTTP-01
//! on the plain listener. Their checks: domain names HTTP-01 can prove, a `mailto:` contact,
//! an HTTPS directory URL, paths and the renewal fraction; and what they resolve to.

use std::path::PathBuf;

use crate::configuration::convert::{Checked, keep};
use crate::configuration::{Settings, invalid, section};

section! {
    /// `[acme]`: automatic certificates (RFC 8555) for the TLS listener, validated over HTTP-01
    /// on the plain listener.
    AcmeLayer => AcmeSettings, "acme." {
        /// Domain to get a certificate for (repeatable); any domain turns ACME on.
        #[arg(long = "acme-domain", env = "BALANCER_ACME_DOMAINS", value_delimiter = ',', value_name = "NAME")]
        domains: Vec<String> = Vec::new() => domains: Vec<String> = domain_names,
        /// Contact for the ACME account, `mailto:you@example.com`.
        #[arg(long = "acme-contact", env = "BALANCER_ACME_CONTACT", value_name = "URL")]
        contact: Option<String> = None => contact: Option<String> = mailto,
        /// ACME directory URL (default: Let's Encrypt production).
        #[arg(long = "acme-directory", env = "BALANCER_ACME_DIRECTORY", value_name = "URL")]
        directory: Option<String> = None => directory: Option<String> = https_url,
        /// Use Let's Encrypt's staging directory (untrusted certificates, generous limits).
        #[arg(long = "acme-staging", env = "BALANCER_ACME_STAGING", num_args = 0..=1,
              default_missing_value = "true", value_name = "BOOL")]
        staging: bool = false => staging: bool = keep,
        /// Extra root certificate (PEM) trusted for the ACME server's own HTTPS, for test CAs.
        #[arg(long = "acme-ca-root", env = "BALANCER_ACME_CA_ROOT", value_name = "FILE")]
        ca_root: Option<String> = None => ca_root: Option<PathBuf> = optional_path,
        /// Directory (made 0700) for the ACME account key and the certificate, kept across restarts.
        #[arg(long = "acme-state-dir", env = "BALANCER_ACME_STATE_DIR", value_name = "DIR")]
        state_dir: String = "data/acme".into() => state_dir: PathBuf = path,
        /// Renew when this fraction of the certificate's lifetime is left (0 < f <= 1).
        #[arg(long = "acme-renew-before", env = "BALANCER_ACME_RENEW_BEFORE", value_name = "FRACTION")]
        renew_before: f64 = 1.0 / 3.0 => renew_before: f64 = fraction,
    }
    check check_acme
}

fn check_acme(a: &AcmeSettings) -> Checked<()> {
    if a.staging && a.directory.is_some() {
        return Err(invalid(
            "acme.staging",
            "cannot be combined with acme.directory",
        ));
    }
    Ok(())
}

/// ACME certifies the TLS listener, which must exist and have no static certificate.
pub(crate) fn check_certificate_source(s: &Settings) -> Checked<()> {
    if !s.acme.enabled() {
        return Ok(());
    }
    if s.tls.listen.is_none() {
        return Err(invalid("acme.domains", "needs tls.listen"));
    }
    if s.tls.cert.is_some() {
        let reason =
            "cannot be combined with tls.cert: the certificate comes from ACME or from files";
        return Err(invalid("acme.domains", reason));
    }
    Ok(())
}

/// Let's Encrypt's directories, as `--acme-staging` chooses between them.
const LETS_ENCRYPT: &str = "https://acme-v02.api.letsencrypt.org/directory";
const LETS_ENCRYPT_STAGING: &str = "https://acme-staging-v02.api.letsencrypt.org/directory";

impl AcmeSettings {
    /// ACME runs when at least one domain is configured.
    pub fn enabled(&self) -> bool {
        !self.domains.is_empty()
    }

    /// The configured directory, else Let's Encrypt's (staging with `--acme-staging`).
    pub fn directory_url(&self) -> &str {
        match (&self.directory, self.staging) {
            (Some(url), _) => url,
            (None, true) => LETS_ENCRYPT_STAGING,
            (None, false) => LETS_ENCRYPT,
        }
    }
}

/// Lower-cased DNS names, duplicates dropped, in the given order.
fn domain_names(field: &str, names: Vec<String>) -> Checked<Vec<String>> {
    let mut checked: Vec<String> = Vec::with_capacity(names.len());
    for (i, name) in names.iter().enumerate() {
        let name = name.trim().to_ascii_lowercase();
        domain_name(&name).map_err(|reason| invalid(format!("{field}[{i}]"), reason))?;
        if !checked.contains(&name) {
            checked.push(name);
        }
    }
    Ok(checked)
}

/// A name a public CA can validate over HTTP-01: no wildcard, no IP address, no bare label.
fn domain_name(name: &str) -> Result<(), String> {
    if name.starts_with("*.") {
        return Err(format!(
            "`{name}`: wildcard names need DNS-01, and only HTTP-01 is supported"
        ));
    }
    let labels: Vec<&str> = name.split('.').collect();
    let label_ok = |label: &&str| {
        (1..=63).contains(&label.len())
            && !label.starts_with('-')
            && !label.ends_with('-')
            && label
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-')
    };
    if name.len() > 253 || labels.len() < 2 || !labels.iter().all(label_ok) {
        return Err(format!("`{name}` is not a fully qualified domain name"));
    }
    if labels
        .last()
        .is_some_and(|top| top.bytes().all(|b| b.is_ascii_digit()))
    {
        return Err(format!("`{name}` is an IP address, not a domain name"));
    }
    Ok(())
}

fn mailto(field: &str, contact: Option<String>) -> Checked<Option<String>> {
    match contact {
        Some(contact) => match contact.trim().strip_prefix("mailto:") {
            Some(address) if address.contains('@') && !address.contains(char::is_whitespace) => {
                Ok(Some(contact.trim().to_owned()))
            }
            _ => Err(invalid(
                field,
                format!("`{contact}` is not a `mailto:name@example.com` contact"),
            )),
        },
        None => Ok(None),
    }
}

fn https_url(field: &str, url: Option<String>) -> Checked<Option<String>> {
    match url {
        Some(url) if !url.starts_with("https://") || url.len() <= "https://".len() => Err(invalid(
            field,
            format!("`{url}` is not an https:// directory URL"),
        )),
        other => Ok(other),
    }
}

fn path(field: &str, text: String) -> Checked<PathBuf> {
    if text.trim().is_empty() {
        return Err(invalid(field, "must not be empty"));
    }
    Ok(PathBuf::from(text))
}

fn optional_path(field: &str, text: Option<String>) -> Checked<Option<PathBuf>> {
    text.map(|text| path(field, text)).transpose()
}

/// A fraction of a lifetime: more than 0, at most 1.
fn fraction(field: &str, value: f64) -> Checked<f64> {
    if value.is_finite() && value > 0.0 && value <= 1.0 {
        Ok(value)
    } else {
        Err(invalid(field, format!("{value} is not in (0, 1]")))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(list: &[&str]) -> Checked<Vec<String>> {
        domain_names("acme.domains", list.iter().map(|s| s.to_string()).collect())
    }

    #[test]
    fn domains_are_lower_cased_and_deduplicated() {
        let checked = names(&["Example.COM", "www.example.com", "example.com"]).unwrap();
        assert_eq!(checked, ["example.com", "www.example.com"]);
    }

    #[test]
    fn names_http01_cannot_prove_are_refused_by_index() {
        for bad in [
            "*.example.com",
            "localhost",
            "127.0.0.1",
            "-a.example",
            "a..b",
            "a b.c",
        ] {
            let error = names(&["ok.example", bad]).unwrap_err().to_string();
            assert!(error.starts_with("acme.domains[1]: "), "{bad}: {error}");
        }
    }

    #[test]
    fn contact_must_be_mailto() {
        let ok = mailto("acme.contact", Some("mailto:ops@example.com".into())).unwrap();
        assert_eq!(ok.as_deref(), Some("mailto:ops@example.com"));
        for bad in ["ops@example.com", "mailto:", "mailto:no-at", "https://x"] {
            assert!(mailto("acme.contact", Some(bad.into())).is_err(), "{bad}");
        }
    }

    #[test]
    fn the_fraction_is_in_zero_to_one() {
        assert_eq!(fraction("f", 1.0).unwrap(), 1.0);
        for bad in [0.0, -0.5, 1.5, f64::NAN] {
            assert!(fraction("f", bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn the_directory_is_https() {
        assert!(https_url("d", Some("http://ca.example/dir".into())).is_err());
        assert!(https_url("d", Some("https://ca.example/dir".into())).is_ok());
    }
}
