//! A minimal HTTP/1.1 client for the read benchmarks: one keep-alive
//! connection per closed-loop worker, each sending its prepared `GET` and
//! reading the answer (parsed by `httparse`, sized by `Content-Length`).
//! Like `redis-benchmark` for Redis, it spends as little CPU as it can on
//! the machine it shares with the server, so that the figures measure the
//! server. Sign-ins and the token endpoint keep the full client (reqwest).

use std::net::SocketAddr;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::sync::Mutex;

/// An answer: status and body.
pub struct Answer {
    pub status: u16,
    pub body: Vec<u8>,
}

/// `GET url` with one bearer token per worker (or none), over one
/// connection per worker, opened on first use and after a failure.
pub struct Getter {
    addr: SocketAddr,
    requests: Vec<Vec<u8>>,
    connections: Vec<Mutex<Option<Connection>>>,
}

struct Connection {
    stream: TcpStream,
    buf: Vec<u8>,
}

impl Getter {
    /// `bearers[w]` is worker `w`'s access token; empty for no
    /// `Authorization` header (then `workers` requests are the same).
    pub fn new(url: &str, workers: usize, bearers: &[String]) -> Result<Getter, String> {
        let url = url::Url::parse(url).map_err(|e| format!("{url}: {e}"))?;
        let host = url.host_str().ok_or("URL without host")?;
        let port = url.port_or_known_default().ok_or("URL without port")?;
        let addr: SocketAddr = format!("{host}:{port}")
            .parse()
            .map_err(|e| format!("{host}:{port} is not an IP address: {e}"))?;
        let target = match url.query() {
            Some(q) => format!("{}?{q}", url.path()),
            None => url.path().to_owned(),
        };
        let requests = (0..workers)
            .map(|w| {
                let auth = bearers
                    .get(w)
                    .map(|t| format!("Authorization: Bearer {t}\r\n"))
                    .unwrap_or_default();
                format!("GET {target} HTTP/1.1\r\nHost: {host}:{port}\r\n{auth}\r\n").into_bytes()
            })
            .collect();
        Ok(Getter {
            addr,
            requests,
            connections: (0..workers).map(|_| Mutex::new(None)).collect(),
        })
    }

    /// Worker `w`'s request, answered.
    pub async fn get(&self, w: usize) -> Result<Answer, String> {
        let mut slot = self.connections[w].lock().await;
        if slot.is_none() {
            let stream = TcpStream::connect(self.addr)
                .await
                .map_err(|e| format!("connect: {e}"))?;
            stream.set_nodelay(true).map_err(|e| e.to_string())?;
            *slot = Some(Connection {
                stream,
                buf: Vec::with_capacity(4096),
            });
        }
        let connection = slot.as_mut().expect("connected above");
        let answer = connection.round_trip(&self.requests[w]).await;
        if answer.is_err() {
            *slot = None;
        }
        answer
    }
}

impl Getter {
    /// Worker `w`'s request, which must answer 200 with a body starting
    /// with `prefix` (a cheap check that it is the expected document).
    pub async fn expect(&self, w: usize, prefix: &[u8]) -> Result<(), String> {
        let answer = self.get(w).await?;
        if answer.status == 200 && answer.body.starts_with(prefix) {
            Ok(())
        } else {
            let body = String::from_utf8_lossy(&answer.body);
            Err(format!(
                "{} {}",
                answer.status,
                &body[..body.len().min(200)]
            ))
        }
    }
}

impl Connection {
    async fn round_trip(&mut self, request: &[u8]) -> Result<Answer, String> {
        self.stream
            .write_all(request)
            .await
            .map_err(|e| format!("send: {e}"))?;
        self.buf.clear();
        loop {
            if self.buf.len() == self.buf.capacity() {
                self.buf.reserve(self.buf.capacity());
            }
            let read = self
                .stream
                .read_buf(&mut self.buf)
                .await
                .map_err(|e| format!("receive: {e}"))?;
            if read == 0 {
                return Err("connection closed by the server".into());
            }
            let mut headers = [httparse::EMPTY_HEADER; 32];
            let mut response = httparse::Response::new(&mut headers);
            let head = match response.parse(&self.buf) {
                Ok(httparse::Status::Complete(head)) => head,
                Ok(httparse::Status::Partial) => continue,
                Err(e) => return Err(format!("malformed response: {e}")),
            };
            let length = response
                .headers
                .iter()
                .find(|h| h.name.eq_ignore_ascii_case("content-length"))
                .and_then(|h| {
                    std::str::from_utf8(h.value)
                        .ok()?
                        .trim()
                        .parse::<usize>()
                        .ok()
                })
                .ok_or("response without Content-Length")?;
            let status = response.code.ok_or("response without status")?;
            match self.buf.len().cmp(&(head + length)) {
                std::cmp::Ordering::Less => continue,
                std::cmp::Ordering::Equal => {
                    return Ok(Answer {
                        status,
                        body: self.buf[head..].to_vec(),
                    });
                }
                std::cmp::Ordering::Greater => {
                    return Err("more bytes than one response".into());
                }
            }
        }
    }
}
