//! The simulated provider server: OpenAI (Chat Completions and Responses), Anthropic and Gemini wire
//! formats, rate limits and scripted faults.
//!
//! hyper is used directly (not a framework) so the mock controls every byte, when it is flushed,
//! and can cut or reset a connection mid-response the way real networks do.

mod anthropic_wire;
pub mod demo;
mod faults;
mod gemini_wire;
mod handler;
mod limits;
mod openai_wire;
mod responses_wire;
mod scenario;
mod stream;
pub mod text;
mod wire;

use std::io;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::path::Path;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll};

use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;
use tokio::task::JoinHandle;

pub use scenario::{FaultKind, FaultSpec, ModelSpec, RetryAfterForm, Scenario, Serves};

use handler::{handle, Outcome, State};

/// A running mock server; dropping it shuts it down, open connections included.
pub struct MockServer {
    pub addr: SocketAddr,
    state: Arc<State>,
    shutdown: watch::Sender<bool>,
    task: JoinHandle<()>,
}

impl MockServer {
    /// Bind `addr` (port 0 picks a free port) and serve `scenario` in the background.
    pub async fn start(addr: SocketAddr, scenario: Scenario) -> io::Result<MockServer> {
        let listener = TcpListener::bind(addr).await?;
        let addr = listener.local_addr()?;
        let state = Arc::new(State::new(scenario));
        let (shutdown, rx) = watch::channel(false);
        let task = tokio::spawn(accept_loop(listener, Arc::clone(&state), rx));
        Ok(MockServer {
            addr,
            state,
            shutdown,
            task,
        })
    }

    fn host(&self) -> SocketAddr {
        let mut a = self.addr;
        if a.ip().is_unspecified() {
            a.set_ip(IpAddr::V4(Ipv4Addr::LOCALHOST));
        }
        a
    }

    /// `http://ADDR/v1`, what OpenAI SDKs take as base URL.
    pub fn base_url_openai(&self) -> String {
        format!("http://{}/v1", self.host())
    }

    /// `http://ADDR/v1`: the Responses API lives beside Chat Completions, at `/v1/responses`.
    pub fn base_url_responses(&self) -> String {
        self.base_url_openai()
    }

    /// `http://ADDR`, what Google's SDKs and paddock's `kind = "gemini"` take as base URL; they
    /// append `/v1beta/models/{model}:streamGenerateContent?alt=sse`.
    pub fn base_url_gemini(&self) -> String {
        format!("http://{}", self.host())
    }

    /// `http://ADDR`, what Anthropic SDKs take as base URL.
    pub fn base_url_anthropic(&self) -> String {
        format!("http://{}", self.host())
    }

    /// Requests received for `model` so far (every family, faults and refusals included).
    pub fn request_count(&self, model: &str) -> usize {
        self.state.request_count(model)
    }

    pub fn scenario(&self) -> &Scenario {
        &self.state.scenario
    }
}

impl Drop for MockServer {
    fn drop(&mut self) {
        let _ = self.shutdown.send(true);
        self.task.abort();
    }
}

async fn accept_loop(
    listener: TcpListener,
    state: Arc<State>,
    mut shutdown: watch::Receiver<bool>,
) {
    loop {
        let stream = tokio::select! {
            r = listener.accept() => match r {
                Ok((s, _)) => s,
                Err(e) => {
                    tracing::warn!("mock: accept failed: {e}");
                    tokio::time::sleep(std::time::Duration::from_millis(50)).await;
                    continue;
                }
            },
            _ = shutdown.changed() => return,
        };
        let _ = stream.set_nodelay(true);
        tokio::spawn(serve_connection(
            stream,
            Arc::clone(&state),
            shutdown.clone(),
        ));
    }
}

async fn serve_connection(
    stream: TcpStream,
    state: Arc<State>,
    mut shutdown: watch::Receiver<bool>,
) {
    let reset = Arc::new(AtomicBool::new(false));
    let io = TokioIo::new(ResettableStream {
        inner: stream,
        reset: Arc::clone(&reset),
    });
    let service = service_fn(move |req| {
        let (state, reset) = (Arc::clone(&state), Arc::clone(&reset));
        async move {
            match handle(state, req).await {
                Outcome::Respond(r) => Ok(r),
                Outcome::Reset => {
                    // Failing the service makes hyper drop the connection without writing anything.
                    reset.store(true, Ordering::SeqCst);
                    Err(io::Error::new(
                        io::ErrorKind::ConnectionReset,
                        "scripted reset",
                    ))
                }
            }
        }
    });
    let conn = http1::Builder::new().serve_connection(io, service);
    tokio::select! {
        r = conn => if let Err(e) = r { tracing::debug!("mock connection ended: {e}") },
        _ = shutdown.changed() => {}
    }
}

/// A TCP stream that closes with RST instead of FIN once `reset` is set.
struct ResettableStream {
    inner: TcpStream,
    reset: Arc<AtomicBool>,
}

impl Drop for ResettableStream {
    fn drop(&mut self) {
        if self.reset.load(Ordering::SeqCst) {
            let _ = self.inner.set_zero_linger();
        }
    }
}

impl AsyncRead for ResettableStream {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_read(cx, buf)
    }
}

impl AsyncWrite for ResettableStream {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.inner).poll_write(cx, buf)
    }
    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }
    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}

/// `paddock mock`: serve until Ctrl-C, after one line on stdout saying where.
pub async fn run_cli(addr: SocketAddr, scenario: Option<&Path>) -> anyhow::Result<()> {
    let scenario = match scenario {
        Some(p) => Scenario::load(p).map_err(anyhow::Error::msg)?,
        None => Scenario::default(),
    };
    let server = MockServer::start(addr, scenario)
        .await
        .map_err(|e| anyhow::anyhow!("cannot listen on {addr}: {e}"))?;
    let models: Vec<&str> = server
        .scenario()
        .models
        .iter()
        .map(|m| m.name.as_str())
        .collect();
    println!(
        "paddock mock listening on http://{} (models: {})",
        server.addr,
        models.join(", ")
    );
    tokio::signal::ctrl_c().await?;
    Ok(())
}
