//! A minimal HTTP/1.1 client for the benchmarks: one keep-alive connection
//! per closed-loop worker, each sending a request and reading the answer
//! (parsed by `httparse`, sized by `Content-Length`). Like `redis-benchmark`
//! for Redis, it spends as little CPU as it can on the machine it shares
//! with the server, so that the figures measure the server. The reads send
//! one prepared `GET` ([`Getter`]); the sign-in sends whatever its pages ask
//! ([`Client`]). The token endpoint and the peer's flows keep the full client
//! (reqwest).

use std::net::SocketAddr;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::sync::Mutex;

/// An answer: status, the headers a browser acts on, and body.
pub struct Answer {
    pub status: u16,
    pub location: Option<String>,
    /// Each `Set-Cookie` header's `name=value` (attributes left out).
    pub cookies: Vec<(String, String)>,
    pub body: Vec<u8>,
}

/// One server, one keep-alive connection per worker, opened on first use
/// and after a failure.
pub struct Client {
    addr: SocketAddr,
    /// `host:port`, for the `Host` header.
    pub host: String,
    connections: Vec<Mutex<Option<Connection>>>,
}

struct Connection {
    stream: TcpStream,
    buf: Vec<u8>,
}

impl Client {
    /// A client of the server of `url` (an IP address and port).
    pub fn new(url: &str, workers: usize) -> Result<Client, String> {
        let url = url::Url::parse(url).map_err(|e| format!("{url}: {e}"))?;
        let host = url.host_str().ok_or("URL without host")?;
        let port = url.port_or_known_default().ok_or("URL without port")?;
        let host = format!("{host}:{port}");
        let addr: SocketAddr = host
            .parse()
            .map_err(|e| format!("{host} is not an IP address: {e}"))?;
        Ok(Client {
            addr,
            host,
            connections: (0..workers).map(|_| Mutex::new(None)).collect(),
        })
    }

    /// Sends `request` (a whole HTTP/1.1 request) on worker `w`'s
    /// connection and reads the answer.
    pub async fn send(&self, w: usize, request: &[u8]) -> Result<Answer, String> {
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
        let answer = connection.round_trip(request).await;
        if answer.is_err() {
            *slot = None;
        }
        answer
    }
}

/// `GET url` with one bearer token per worker (or none).
pub struct Getter {
    client: Client,
    requests: Vec<Vec<u8>>,
}

impl Getter {
    /// `bearers[w]` is worker `w`'s access token; empty for no
    /// `Authorization` header (then `workers` requests are the same).
    pub fn new(url: &str, workers: usize, bearers: &[String]) -> Result<Getter, String> {
        let client = Client::new(url, workers)?;
        let parsed = url::Url::parse(url).map_err(|e| format!("{url}: {e}"))?;
        let target = match parsed.query() {
            Some(q) => format!("{}?{q}", parsed.path()),
            None => parsed.path().to_owned(),
        };
        let requests = (0..workers)
            .map(|w| {
                let auth = bearers
                    .get(w)
                    .map(|t| format!("Authorization: Bearer {t}\r\n"))
                    .unwrap_or_default();
                let host = &client.host;
                format!("GET {target} HTTP/1.1\r\nHost: {host}\r\n{auth}\r\n").into_bytes()
            })
            .collect();
        Ok(Getter { client, requests })
    }

    /// Worker `w`'s request, answered.
    pub async fn get(&self, w: usize) -> Result<Answer, String> {
        self.client.send(w, &self.requests[w]).await
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
                    let text = |v: &[u8]| String::from_utf8_lossy(v).into_owned();
                    let mut answer = Answer {
                        status,
                        location: None,
                        cookies: Vec::new(),
                        body: self.buf[head..].to_vec(),
                    };
                    for h in response.headers.iter() {
                        if h.name.eq_ignore_ascii_case("location") {
                            answer.location = Some(text(h.value));
                        } else if h.name.eq_ignore_ascii_case("set-cookie") {
                            let pair = h.value.split(|&b| b == b';').next().unwrap_or(&[]);
                            if let Some(eq) = pair.iter().position(|&b| b == b'=') {
                                let name = text(&pair[..eq]).trim().to_owned();
                                answer.cookies.push((name, text(&pair[eq + 1..])));
                            }
                        }
                    }
                    return Ok(answer);
                }
                std::cmp::Ordering::Greater => {
                    return Err("more bytes than one response".into());
                }
            }
        }
    }
}
