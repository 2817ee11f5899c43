//! The one rule for a client's `X-Request-Id`: the backend and the balancer keep the ids it
//! accepts and replace the others with fresh ones, so both keep or replace the same ids.

/// Longest id kept, in bytes.
pub const MAX_LEN: usize = 128;

/// 1 to `MAX_LEN` visible ASCII characters (no spaces, no controls).
pub fn accepts(value: &[u8]) -> bool {
    (1..=MAX_LEN).contains(&value.len()) && value.iter().all(|byte| byte.is_ascii_graphic())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_short_visible_ascii_ids_are_accepted() {
        assert!(accepts(b"abc-123"));
        assert!(accepts(b"0f9c2b6e-7d1a-4f55-9a43-2c1e8d9b7a10"));
        assert!(accepts("x".repeat(MAX_LEN).as_bytes()));
        assert!(!accepts(b""));
        assert!(!accepts(b"has space"));
        assert!(!accepts(b"tab\there"));
        assert!(!accepts(b"new\nline"));
        assert!(!accepts(b"del\x7f"));
        assert!(!accepts("caf\u{e9}".as_bytes()));
        assert!(!accepts("x".repeat(MAX_LEN + 1).as_bytes()));
    }
}
