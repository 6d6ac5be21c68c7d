//! The `/metrics` responder of `arca daemon --metrics-listen`: a minimal HTTP/1.1 server on a
//! std `TcpListener`, one short-lived thread per connection.
//!
//! It answers `GET` (and `HEAD`) `/metrics` with the rendered text and every other path with
//! 404, then closes the connection. What a client sends is bounded: the request head is read
//! up to [`MAX_HEAD`] bytes within [`IO_TIMEOUT`] (longer: 431; slower: the connection is
//! dropped), a body is never read, and at most [`MAX_CLIENTS`] connections are served at once
//! (more are answered 503 at once), so a client that connects and says nothing ties up one
//! thread for at most the timeout. Where it listens (loopback by default) is the daemon's
//! choice; nothing here is secret, but a wider address should be a deliberate one.

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

/// The longest request head read (request line and headers).
pub const MAX_HEAD: usize = 8 * 1024;
/// How long a client may take to send its request, and to take the answer.
pub const IO_TIMEOUT: Duration = Duration::from_secs(5);
/// Connections served at once.
pub const MAX_CLIENTS: usize = 16;
/// How often the accept loop looks at `stop`.
const POLL: Duration = Duration::from_millis(100);
const CONTENT_TYPE: &str = "application/openmetrics-text; version=1.0.0; charset=utf-8";

/// Serve `render()` on `/metrics` from `listener` until `stop` is set (checked at least every
/// 100 ms); the thread ends then, after the connections being served.
pub fn serve(
    listener: TcpListener,
    render: impl Fn() -> String + Send + Sync + 'static,
    stop: Arc<AtomicBool>,
) -> std::thread::JoinHandle<()> {
    let render = Arc::new(render);
    std::thread::spawn(move || {
        if let Err(e) = listener.set_nonblocking(true) {
            tracing::warn!("metrics listener: {e}; /metrics is not served");
            return;
        }
        let busy = Arc::new(AtomicUsize::new(0));
        let mut clients = vec![];
        while !stop.load(Ordering::SeqCst) {
            match listener.accept() {
                Ok((stream, _)) => {
                    clients.retain(|c: &std::thread::JoinHandle<()>| !c.is_finished());
                    if busy.load(Ordering::SeqCst) >= MAX_CLIENTS {
                        let _ = answer(&stream, "503 Service Unavailable", "text/plain", b"busy\n", false);
                        continue;
                    }
                    busy.fetch_add(1, Ordering::SeqCst);
                    let (render, busy) = (render.clone(), busy.clone());
                    clients.push(std::thread::spawn(move || {
                        if let Err(e) = respond(stream, &*render) {
                            tracing::debug!("metrics client: {e}");
                        }
                        busy.fetch_sub(1, Ordering::SeqCst);
                    }));
                }
                Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => std::thread::sleep(POLL),
                Err(e) => {
                    tracing::warn!("metrics listener: accept: {e}");
                    std::thread::sleep(POLL);
                }
            }
        }
        for c in clients {
            let _ = c.join();
        }
    })
}

/// Read one request head and answer it.
fn respond(stream: TcpStream, render: &dyn Fn() -> String) -> std::io::Result<()> {
    stream.set_nonblocking(false)?;
    stream.set_read_timeout(Some(IO_TIMEOUT))?;
    stream.set_write_timeout(Some(IO_TIMEOUT))?;
    let Some(head) = read_head(&stream)? else {
        // what else it sent, briefly, so that closing does not reset the connection before
        // the client reads the answer
        stream.set_read_timeout(Some(Duration::from_millis(200)))?;
        let _ = std::io::copy(&mut (&stream).take(8 * MAX_HEAD as u64), &mut std::io::sink());
        return answer(&stream, "431 Request Header Fields Too Large", "text/plain", b"request too large\n", false);
    };
    let line = head.split(|&b| b == b'\r' || b == b'\n').next().unwrap_or_default();
    let line = String::from_utf8_lossy(line);
    let mut parts = line.split(' ');
    let (method, target, version) = (parts.next(), parts.next(), parts.next());
    if parts.next().is_some() || !version.is_some_and(|v| v.starts_with("HTTP/1.")) {
        return answer(&stream, "400 Bad Request", "text/plain", b"bad request\n", false);
    }
    let head_only = method == Some("HEAD");
    if !matches!(method, Some("GET" | "HEAD")) {
        return answer(&stream, "405 Method Not Allowed", "text/plain", b"only GET\n", false);
    }
    // the path without a query (`/metrics?x=1` is Prometheus' own habit for some collectors)
    let path = target.unwrap_or_default().split('?').next().unwrap_or_default();
    if path != "/metrics" {
        return answer(&stream, "404 Not Found", "text/plain", b"not found: metrics are at /metrics\n", head_only);
    }
    answer(&stream, "200 OK", CONTENT_TYPE, render().as_bytes(), head_only)
}

/// The request head up to the blank line; `None` when it is longer than [`MAX_HEAD`].
fn read_head(mut stream: &TcpStream) -> std::io::Result<Option<Vec<u8>>> {
    let mut head = Vec::with_capacity(1024);
    let mut buf = [0u8; 1024];
    loop {
        let n = stream.read(&mut buf)?;
        if n == 0 {
            return Err(std::io::Error::new(std::io::ErrorKind::UnexpectedEof, "closed before the request ended"));
        }
        head.extend_from_slice(&buf[..n]);
        if head.windows(4).any(|w| w == b"\r\n\r\n") || head.windows(2).any(|w| w == b"\n\n") {
            return Ok(Some(head));
        }
        if head.len() > MAX_HEAD {
            return Ok(None);
        }
    }
}

fn answer(mut stream: &TcpStream, status: &str, ctype: &str, body: &[u8], head_only: bool) -> std::io::Result<()> {
    let head = format!(
        "HTTP/1.1 {status}\r\nContent-Type: {ctype}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    );
    stream.write_all(head.as_bytes())?;
    if !head_only {
        stream.write_all(body)?;
    }
    stream.flush()?;
    let _ = stream.shutdown(std::net::Shutdown::Write);
    Ok(())
}
