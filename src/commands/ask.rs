//! `paddock ask`: one provider, text streamed to stdout, usage and timing to stderr.

use std::io::Write;

use crate::cli::AskArgs;
use futures::{FutureExt, StreamExt};

use crate::client::{Client, ClientEvent, EventStream, Outcome, Retain};
use crate::sanitize::Sanitizer;
use crate::session::{self, ProviderRef, Recorder, Session};

use super::{build_request, explicit_settings, read_prompt, retry_line, Failure, Workspace};

pub async fn run(ws: &Workspace, args: &AskArgs) -> Result<(), Failure> {
    let provider = &ws.pick_one(args.provider.as_deref())?;
    super::check_request_flags(provider, &args.request)?;
    let (resume, words) = args.resume_and_prompt();
    // A bad --resume id is reported before reading stdin or resolving a key.
    let mut recorder = recorder(ws, resume.as_deref(), args.no_save)?;
    let prompt = read_prompt(&words)?;
    // Recorded, the answer is kept once, in the record, and taken from it at the end.
    let retain = match recorder {
        Some(_) => Retain::Figures,
        None => Retain::Text,
    };
    let client = Client::new(provider)?.with_retain(retain);
    let mut req = build_request(provider, &args.request, &prompt);
    req.stream = !args.no_stream;
    if let Some(saved) = recorder
        .as_ref()
        .and_then(|rec| rec.session().last_settings(&provider.name))
    {
        // A resumed conversation goes on as it was asked, unless a flag says otherwise now.
        saved.restore_into(&mut req, &explicit_settings(&args.request));
    }
    let asked_model = req.model.clone();
    if let Some(rec) = &mut recorder {
        // The record builds the request: the provider's own earlier turns go first, so a
        // resumed conversation continues.
        let who = ProviderRef::of(provider, Some(&req.model));
        if let Some(built) = rec.begin_all(&[(who, req.clone())], &prompt).pop() {
            req = built;
        }
    }
    let stream_text = !args.json && !args.no_stream;
    let mut out = TextOut::new(stream_text, args.raw);
    let mut thinking = ThinkingOut::new(stream_text);
    let mut events = client.events(req);
    let mut outcome = Outcome::default();
    loop {
        let event = next_batched(&mut events, &mut out).await;
        let Some(mut event) = event else { break };
        match &event {
            ClientEvent::Delta(text) => {
                thinking.end();
                out.write(text);
            }
            ClientEvent::Reasoning(text) => thinking.write(text),
            ClientEvent::Retry { decision, error } => {
                out.flush();
                crate::sanitize::eprint_line(&retry_line(client.name(), decision, error));
            }
            _ => {}
        }
        if let ClientEvent::Done(done) = &mut event {
            // Its text moves here (recorded, there is none: the record has it, streamed).
            let content = std::mem::take(&mut done.content);
            let reasoning = done.reasoning.take();
            outcome = (**done).clone();
            (outcome.content, outcome.reasoning) = (content, reasoning);
        }
        if let Some(rec) = &mut recorder {
            if matches!(event, ClientEvent::Delta(_)) && rec.save_due() {
                out.flush();
            }
            // By value: a streamed chunk is not copied on its way into the record.
            rec.on_event(client.name(), event);
        }
    }
    out.flush();
    thinking.end();
    ws.request_log.record(&outcome);
    drop(out);
    if let Some(rec) = recorder {
        let (error, mut record) = rec.finish_into_record();
        if let Some(e) = error {
            crate::sanitize::eprint_line(&format!("paddock: warning: {e}"));
        }
        if let Some(turn) = record.last_turn_mut(client.name()) {
            outcome.content = std::mem::take(&mut turn.answer);
            outcome.reasoning = turn.reasoning.take();
        }
    }
    let cost = ws
        .config
        .prices
        .answer_cost(&outcome.model, Some(&asked_model), &outcome.usage);
    report(&outcome, cost, args, stream_text)
}

/// The session this answer is recorded in: a resumed one (`--resume`), a new one, or none with
/// `--no-save` and no `--resume`.
fn recorder(
    ws: &Workspace,
    resume: Option<&str>,
    no_save: bool,
) -> Result<Option<Recorder>, Failure> {
    let Some(dir) = session::default_dir() else {
        if resume.is_some() {
            return Err(Failure::usage(
                "cannot resume: there is no data directory on this platform (HOME is not set).",
            ));
        }
        return Ok(None);
    };
    let session = match resume {
        Some(id) => Session::find(&dir, id)?,
        None if no_save => return Ok(None),
        None => Session::new(),
    };
    Ok(Some(Recorder::new(
        session,
        dir,
        ws.config.prices.clone(),
        !no_save,
    )))
}

/// The next event. Text is written as it comes but flushed only when nothing more is ready
/// after one turn of the scheduler (which lets the connection task read what the socket
/// holds): a pipe reader sees each token at once, and a flood of chunks costs one write per
/// burst instead of one per token.
async fn next_batched(events: &mut EventStream, out: &mut TextOut) -> Option<ClientEvent> {
    if let Some(event) = events.next().now_or_never() {
        return event;
    }
    tokio::task::yield_now().await;
    if let Some(event) = events.next().now_or_never() {
        return event;
    }
    out.flush();
    events.next().await
}

/// The model's thinking, dimmed on stderr while it streams, when stderr is a terminal: stdout
/// keeps the answer alone, and a script's stderr gets no thinking it did not ask for.
struct ThinkingOut {
    sanitizer: Option<Sanitizer>,
    open: bool,
}

impl ThinkingOut {
    fn new(enabled: bool) -> Self {
        let shown = enabled && std::io::IsTerminal::is_terminal(&std::io::stderr());
        Self {
            sanitizer: shown.then(Sanitizer::new),
            open: false,
        }
    }

    fn write(&mut self, text: &str) {
        let Some(s) = &mut self.sanitizer else { return };
        let mut scratch = String::new();
        let clean = s.clean_chunk(text, &mut scratch);
        let mut err = std::io::stderr().lock();
        if !self.open {
            self.open = true;
            let _ = write!(err, "\x1b[2mthinking: ");
        }
        let _ = write!(err, "{clean}");
        let _ = err.flush();
    }

    /// The answer began (or the request ended): close the dimmed block.
    fn end(&mut self) {
        if std::mem::take(&mut self.open) {
            let _ = writeln!(std::io::stderr().lock(), "\x1b[0m");
        }
    }
}

/// The answer's text on stdout, buffered between flushes; a closed pipe stops the writing,
/// not the request (its outcome is still logged and saved). The text passes the sanitiser
/// unless `--raw` asked for it byte-exact: a pipe often ends at a terminal (`| tee`, `| less -R`).
struct TextOut {
    stdout: Option<std::io::BufWriter<std::io::StdoutLock<'static>>>,
    sanitizer: Option<Sanitizer>,
    scratch: String,
}

impl TextOut {
    fn new(enabled: bool, raw: bool) -> Self {
        let stdout =
            enabled.then(|| std::io::BufWriter::with_capacity(64 * 1024, std::io::stdout().lock()));
        Self {
            stdout,
            sanitizer: (!raw).then(Sanitizer::new),
            scratch: String::new(),
        }
    }

    fn write(&mut self, text: &str) {
        let Some(w) = &mut self.stdout else { return };
        let bytes = match &mut self.sanitizer {
            Some(s) => s.clean_chunk(text, &mut self.scratch).as_bytes(),
            None => text.as_bytes(),
        };
        if w.write_all(bytes).is_err() {
            self.stdout = None;
        }
    }

    fn flush(&mut self) {
        if let Some(w) = &mut self.stdout {
            if w.flush().is_err() {
                self.stdout = None;
            }
        }
    }
}

fn report(
    outcome: &Outcome,
    cost: Option<f64>,
    args: &AskArgs,
    streamed: bool,
) -> Result<(), Failure> {
    if args.json {
        // Straight to stdout: a long answer is not copied into a JSON string first.
        let mut stdout =
            std::io::BufWriter::new(crate::sanitize::JsonForTerminal(std::io::stdout().lock()));
        serde_json::to_writer(&mut stdout, &outcome.to_json())
            .map_err(|e| Failure::failed(format!("could not write the JSON result ({e}).")))?;
        // A closed pipe is the reader's choice; the outcome is already logged and saved.
        let _ = writeln!(stdout).and_then(|()| stdout.flush());
    } else {
        if !streamed {
            let mut out = TextOut::new(true, args.raw);
            out.write(&outcome.content);
            out.flush();
        }
        if !outcome.content.is_empty() && !outcome.content.ends_with('\n') {
            println!();
        }
        crate::sanitize::eprint_line(&summary_line(outcome, cost));
    }
    // With --json the object already says what failed; the sentence on stderr is for a human.
    match &outcome.error {
        None => Ok(()),
        Some(e) => Err(Failure::failed(e.sentence(&outcome.provider))),
    }
}

/// "openai gpt-4o-mini · 14 in / 30 out · TTFT 312 ms · total 1.83 s · 48.2 tok/s · stop · 0 retries",
/// then " · $0.0012" when the config prices the model.
pub fn summary_line(o: &Outcome, cost: Option<f64>) -> String {
    let tokens = |t: Option<u64>| t.map_or("?".to_owned(), |n| n.to_string());
    let mut parts = vec![
        format!(
            "{} {}",
            crate::sanitize::clean_line(&o.provider),
            crate::sanitize::clean_line(&o.model)
        ),
        format!(
            "{} in / {} out",
            tokens(o.usage.input_tokens),
            tokens(o.usage.output_tokens)
        ),
    ];
    // The figures as `--json` and the session record them (rounded once): the line shows the
    // same TTFT as every other view of this answer.
    let r = crate::session::TurnMetrics::of(o, None);
    if let Some(ttft) = r.ttft() {
        parts.push(format!("TTFT {:.0} ms", ttft.as_secs_f64() * 1000.0));
    }
    if let Some(ttfat) = r.ttfat() {
        parts.push(format!("TTFAT {:.0} ms", ttfat.as_secs_f64() * 1000.0));
    }
    if o.queue >= std::time::Duration::from_millis(1) {
        parts.push(format!("queued {:.2} s", o.queue.as_secs_f64()));
    }
    if let Some(latency) = r.latency() {
        parts.push(format!("total {:.2} s", latency.as_secs_f64()));
    }
    if let Some(n) = o.usage.reasoning_tokens.filter(|n| *n > 0) {
        parts.push(format!("{n} reasoning tok"));
    }
    if let Some(rate) =
        crate::metrics::tokens_per_sec(o.usage.generated_tokens(), o.generation_time)
    {
        parts.push(format!("{rate:.1} tok/s"));
    }
    parts.push(o.finish_reason.as_deref().map_or_else(
        || "no finish reason".to_owned(),
        crate::sanitize::clean_line,
    ));
    parts.push(format!(
        "{} {}",
        o.retries,
        if o.retries == 1 { "retry" } else { "retries" }
    ));
    if let Some(usd) = cost {
        parts.push(crate::config::format_cost(usd));
    }
    if o.skipped_events > 0 {
        let s = if o.skipped_events == 1 { "" } else { "s" };
        parts.push(format!(
            "{} undecodable event{s} skipped (see the log)",
            o.skipped_events
        ));
    }
    parts.join(" · ")
}
