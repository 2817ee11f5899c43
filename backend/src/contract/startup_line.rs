//! The line a backend prints on stdout once it listens, `backend listening on http://ADDRESS`:
//! supervisors (the balancer's workers, the test harnesses, scripts) wait for it to learn the
//! address of a backend started on port 0. Written by `write` and read by `parse`, nowhere else.

use std::io::{self, Write};
use std::net::SocketAddr;

const PREFIX: &str = "backend listening on ";

/// Prints the line for `address` and flushes it, so a reader on a pipe sees it at once.
pub fn write(out: &mut impl Write, address: SocketAddr) -> io::Result<()> {
    writeln!(out, "{PREFIX}http://{address}")?;
    out.flush()
}

/// The URL (`http://ADDRESS`) a start-up line announces; `None` for any other line.
pub fn parse(line: &str) -> Option<&str> {
    let url = line.trim_end().strip_prefix(PREFIX)?;
    (url.starts_with("http://") && url.len() > "http://".len()).then_some(url)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_written_line_parses_back_to_its_address() {
        for address in ["127.0.0.1:41234", "[::1]:8080", "10.10.10.3:8080"] {
            let address: SocketAddr = address.parse().unwrap();
            let mut out = Vec::new();
            write(&mut out, address).unwrap();
            let line = String::from_utf8(out).unwrap();
            assert!(line.ends_with('\n'));
            assert_eq!(parse(&line), Some(format!("http://{address}").as_str()));
        }
    }

    #[test]
    fn other_lines_are_not_start_up_lines() {
        assert_eq!(parse("balancer listening on http://127.0.0.1:1"), None);
        assert_eq!(parse("backend listening on "), None);
        assert_eq!(parse("backend listening on 127.0.0.1:1"), None);
        assert_eq!(parse(" backend listening on http://127.0.0.1:1"), None);
        assert_eq!(parse("INFO worker started"), None);
    }
}
