//! A bare HTTP/1.1 backend without a framework, and raw client connections from other loopback
//! addresses: what a proxy really puts on the wire.

use std::io::{BufRead, BufReader};
use std::net::TcpListener;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

/// A bare HTTP/1.1 backend on plain threads that records every request line it parses and
/// counts its open connections: what a proxy really puts on the wire, with no framework
/// between. Answers `200 ok` to everything (with keep-alive).
pub struct RawUpstream {
    pub address: String,
    pub lines: Arc<std::sync::Mutex<Vec<String>>>,
    pub open: Arc<AtomicUsize>,
    pub accepted: Arc<AtomicUsize>,
}

impl RawUpstream {
    pub fn start() -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let address = listener.local_addr().unwrap().to_string();
        let lines = Arc::new(std::sync::Mutex::new(Vec::new()));
        let open = Arc::new(AtomicUsize::new(0));
        let accepted = Arc::new(AtomicUsize::new(0));
        let (l, o, a) = (lines.clone(), open.clone(), accepted.clone());
        std::thread::spawn(move || {
            for stream in listener.incoming() {
                let Ok(stream) = stream else { return };
                a.fetch_add(1, Ordering::SeqCst);
                o.fetch_add(1, Ordering::SeqCst);
                let (l, o) = (l.clone(), o.clone());
                std::thread::spawn(move || {
                    let _ = serve_raw(stream, &l);
                    o.fetch_sub(1, Ordering::SeqCst);
                });
            }
        });
        Self {
            address,
            lines,
            open,
            accepted,
        }
    }

    pub fn url(&self) -> String {
        format!("http://{}", self.address)
    }

    pub fn lines(&self) -> Vec<String> {
        self.lines.lock().unwrap().clone()
    }
}

fn serve_raw(
    stream: std::net::TcpStream,
    lines: &std::sync::Mutex<Vec<String>>,
) -> std::io::Result<()> {
    use std::io::{Read, Write};
    let mut reader = BufReader::new(stream.try_clone()?);
    let mut writer = stream;
    loop {
        let mut request_line = String::new();
        if reader.read_line(&mut request_line)? == 0 {
            return Ok(());
        }
        lines
            .lock()
            .unwrap()
            .push(request_line.trim_end().to_owned());
        let (mut length, mut chunked) = (0usize, false);
        loop {
            let mut header = String::new();
            if reader.read_line(&mut header)? == 0 {
                return Ok(());
            }
            let header = header.trim_end().to_ascii_lowercase();
            if header.is_empty() {
                break;
            }
            if let Some(value) = header.strip_prefix("content-length:") {
                length = value.trim().parse().unwrap_or(0);
            }
            if header.starts_with("transfer-encoding:") && header.ends_with("chunked") {
                chunked = true;
            }
        }
        if chunked {
            loop {
                let mut size = String::new();
                reader.read_line(&mut size)?;
                let size = usize::from_str_radix(size.trim(), 16).unwrap_or(0);
                let mut data = vec![0u8; size + 2];
                reader.read_exact(&mut data)?;
                if size == 0 {
                    break;
                }
            }
        } else {
            let mut body = vec![0u8; length];
            reader.read_exact(&mut body)?;
        }
        writer.write_all(b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok")?;
    }
}

/// A raw connection to `address` from the local address `source` (another 127.0.0.0/8
/// address stands for another client).
pub fn connect_from(source: &str, address: &str) -> std::net::TcpStream {
    let socket = socket2::Socket::new(socket2::Domain::IPV4, socket2::Type::STREAM, None).unwrap();
    let source: std::net::SocketAddr = format!("{source}:0").parse().unwrap();
    socket.bind(&source.into()).unwrap();
    let target: std::net::SocketAddr = address.parse().unwrap();
    socket.connect(&target.into()).unwrap();
    socket.into()
}
