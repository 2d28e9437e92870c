//! Test support: a raw HTTP/1.1 server on 127.0.0.1 that sends exactly the bytes it is told,
//! in the slices it is told, so byte-exact faults (split UTF-8, mid-stream drops) are real.
#![allow(dead_code)]

use std::net::SocketAddr;
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

/// One scripted response.
#[derive(Clone, Debug)]
pub struct RawResponse {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    /// Body slices, each written and flushed separately.
    pub slices: Vec<Vec<u8>>,
    /// Pause between slices, so the client sees them as separate reads.
    pub gap: Duration,
    /// Close the connection after this many slices, without finishing the chunked body.
    pub drop_after: Option<usize>,
}

impl RawResponse {
    pub fn sse(body: &[u8], slice: usize) -> Self {
        Self {
            status: 200,
            headers: vec![("content-type".into(), "text/event-stream".into())],
            slices: body.chunks(slice.max(1)).map(<[u8]>::to_vec).collect(),
            gap: Duration::ZERO,
            drop_after: None,
        }
    }

    pub fn json(status: u16, body: &str) -> Self {
        Self {
            status,
            headers: vec![("content-type".into(), "application/json".into())],
            slices: vec![body.as_bytes().to_vec()],
            gap: Duration::ZERO,
            drop_after: None,
        }
    }

    pub fn header(mut self, name: &str, value: &str) -> Self {
        self.headers.push((name.into(), value.into()));
        self
    }
}

/// What the server saw of one request.
#[derive(Clone, Debug)]
pub struct SeenRequest {
    pub head: String,
    pub body: String,
}

pub struct RawServer {
    pub addr: SocketAddr,
    pub seen: Arc<Mutex<Vec<SeenRequest>>>,
}

impl RawServer {
    /// Serve `responses` in order, one per connection; the last one repeats.
    pub async fn start(responses: Vec<RawResponse>) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let seen = Arc::new(Mutex::new(Vec::new()));
        let seen2 = seen.clone();
        tokio::spawn(async move {
            let mut n = 0usize;
            loop {
                let Ok((mut sock, _)) = listener.accept().await else {
                    return;
                };
                let resp = responses[n.min(responses.len() - 1)].clone();
                n += 1;
                let seen = seen2.clone();
                tokio::spawn(async move {
                    sock.set_nodelay(true).ok();
                    if let Some(req) = read_request(&mut sock).await {
                        seen.lock().unwrap().push(req);
                    }
                    let _ = write_response(&mut sock, &resp).await;
                });
            }
        });
        Self { addr, seen }
    }

    pub fn base(&self) -> String {
        format!("http://{}", self.addr)
    }

    pub fn requests(&self) -> Vec<SeenRequest> {
        self.seen.lock().unwrap().clone()
    }
}

async fn read_request(sock: &mut tokio::net::TcpStream) -> Option<SeenRequest> {
    let mut buf = Vec::new();
    let mut tmp = [0u8; 4096];
    let head_end = loop {
        let n = sock.read(&mut tmp).await.ok()?;
        if n == 0 {
            return None;
        }
        buf.extend_from_slice(&tmp[..n]);
        if let Some(i) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            break i + 4;
        }
    };
    let head = String::from_utf8_lossy(&buf[..head_end]).to_string();
    let len = head
        .lines()
        .find_map(|l| {
            let (k, v) = l.split_once(':')?;
            k.eq_ignore_ascii_case("content-length")
                .then(|| v.trim().parse::<usize>().ok())?
        })
        .unwrap_or(0);
    while buf.len() < head_end + len {
        let n = sock.read(&mut tmp).await.ok()?;
        if n == 0 {
            break;
        }
        buf.extend_from_slice(&tmp[..n]);
    }
    let body = String::from_utf8_lossy(&buf[head_end..]).to_string();
    Some(SeenRequest { head, body })
}

async fn write_response(
    sock: &mut tokio::net::TcpStream,
    resp: &RawResponse,
) -> std::io::Result<()> {
    let mut head = format!(
        "HTTP/1.1 {} X\r\ntransfer-encoding: chunked\r\nconnection: close\r\n",
        resp.status
    );
    for (k, v) in &resp.headers {
        head.push_str(&format!("{k}: {v}\r\n"));
    }
    head.push_str("\r\n");
    sock.write_all(head.as_bytes()).await?;
    sock.flush().await?;
    for (i, slice) in resp.slices.iter().enumerate() {
        if resp.drop_after == Some(i) {
            return sock.shutdown().await;
        }
        if slice.is_empty() {
            continue;
        }
        let mut frame = format!("{:x}\r\n", slice.len()).into_bytes();
        frame.extend_from_slice(slice);
        frame.extend_from_slice(b"\r\n");
        sock.write_all(&frame).await?;
        sock.flush().await?;
        if resp.gap.is_zero() {
            // Let the client run between slices so it sees them as separate reads, mostly.
            tokio::task::yield_now().await;
        } else {
            tokio::time::sleep(resp.gap).await;
        }
    }
    if resp.drop_after.is_some() {
        return sock.shutdown().await;
    }
    sock.write_all(b"0\r\n\r\n").await?;
    sock.flush().await
}

/// A clean environment for the binary: a fresh HOME with the XDG dirs under it (so config, logs,
/// request log and sessions land in the test's temp dir), no proxies, no real keys.
pub fn clean_env(cmd: &mut std::process::Command, home: &Path) {
    cmd.env_clear()
        .env("HOME", home)
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("XDG_STATE_HOME", home.join("state"))
        .env("XDG_CONFIG_HOME", home.join("config"))
        .env("XDG_DATA_HOME", home.join("data"))
        .current_dir(home);
}

/// The real `paddock` binary with [`clean_env`].
pub fn paddock(home: &Path) -> assert_cmd::Command {
    let mut cmd = std::process::Command::new(assert_cmd::cargo::cargo_bin!("paddock"));
    clean_env(&mut cmd, home);
    assert_cmd::Command::from_std(cmd)
}

/// Where `protocol`'s API lives on a test server whose root is `root` (`http://127.0.0.1:N`).
pub fn api_base(protocol: paddock::provider::Protocol, root: &str) -> String {
    use paddock::provider::Protocol;
    match protocol {
        Protocol::OpenAi | Protocol::OpenAiResponses => format!("{root}/v1"),
        Protocol::Anthropic => root.to_owned(),
        Protocol::Gemini => root.to_owned(),
    }
}
