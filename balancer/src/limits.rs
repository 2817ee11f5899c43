//! The bounds of every number and path a setting accepts, shared by the configuration file,
//! the flags and the admin API so a value refused in one is refused in all.

/// Weights run from 1 to HAProxy's maximum: consistent hashing places 160 ring points per unit
/// of weight, so the bound keeps a ring under a few megabytes even with many backends.
pub const MAX_WEIGHT: u32 = 256;
/// Managed worker processes on one machine.
pub const MAX_WORKERS: usize = 64;

/// Why a value is out of bounds; the caller names the field.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum OutOfBounds {
    #[error("must be from 1 to {MAX_WEIGHT}")]
    Weight,
    #[error("must be at most {MAX_WORKERS}")]
    Workers,
    #[error("must start with `/`")]
    Prefix,
    #[error("must be 1 to {MAX_NAME} letters, digits, `.`, `_` or `-`")]
    Name,
}

/// Backend names appear in `X-Upstream`, so they stay short and header-safe.
pub const MAX_NAME: usize = 64;

pub fn check_weight(weight: u64) -> Result<u32, OutOfBounds> {
    match u32::try_from(weight) {
        Ok(weight @ 1..=MAX_WEIGHT) => Ok(weight),
        _ => Err(OutOfBounds::Weight),
    }
}

pub fn check_workers(count: usize) -> Result<usize, OutOfBounds> {
    if count <= MAX_WORKERS {
        Ok(count)
    } else {
        Err(OutOfBounds::Workers)
    }
}

pub fn check_prefix(prefix: &str) -> Result<(), OutOfBounds> {
    if prefix.starts_with('/') {
        Ok(())
    } else {
        Err(OutOfBounds::Prefix)
    }
}

pub fn check_name(name: &str) -> Result<(), OutOfBounds> {
    let valid = (1..=MAX_NAME).contains(&name.len())
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'));
    if valid {
        Ok(())
    } else {
        Err(OutOfBounds::Name)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn weights_are_bounded_on_both_sides() {
        assert_eq!(check_weight(0), Err(OutOfBounds::Weight));
        assert_eq!(check_weight(1), Ok(1));
        assert_eq!(check_weight(256), Ok(256));
        assert_eq!(check_weight(257), Err(OutOfBounds::Weight));
        assert_eq!(check_weight(4_000_000_000), Err(OutOfBounds::Weight));
        assert_eq!(check_weight(u64::MAX), Err(OutOfBounds::Weight));
    }

    #[test]
    fn workers_and_prefixes() {
        assert!(check_workers(64).is_ok() && check_workers(65).is_err());
        assert!(check_prefix("/history").is_ok() && check_prefix("history").is_err());
        assert!(check_name("worker-1").is_ok());
        for bad in ["", "has space", "a\r\nX-Evil: 1", &"n".repeat(65)] {
            assert_eq!(check_name(bad), Err(OutOfBounds::Name), "{bad:?}");
        }
    }
}
