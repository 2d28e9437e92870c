//! `paddock ask`: one provider, text streamed to stdout, usage and timing to stderr.

use std::io::Write;

use crate::cli::AskArgs;
use crate::client::{Client, ClientEvent, Outcome};

use super::{build_request, read_prompt, retry_line, Failure, Workspace};

pub async fn run(ws: &Workspace, args: &AskArgs) -> Result<(), Failure> {
    let provider = ws.pick_one(args.provider.as_deref())?;
    let prompt = read_prompt(&args.prompt)?;
    let client = Client::new(provider)?;
    let mut req = build_request(provider, &args.request, &prompt);
    req.stream = !args.no_stream;
    let stream_text = !args.json && !args.no_stream;
    let mut stdout = std::io::stdout().lock();
    let mut stdout_ok = true;
    let outcome = client
        .complete(req, |event| match event {
            ClientEvent::Delta(text) if stream_text && stdout_ok => {
                // Flush per delta: a pipe reader sees each token as it arrives.
                stdout_ok = stdout
                    .write_all(text.as_bytes())
                    .and_then(|()| stdout.flush())
                    .is_ok();
            }
            ClientEvent::Retry { decision, error } => {
                eprintln!("{}", retry_line(client.name(), decision, error));
            }
            _ => {}
        })
        .await;
    ws.request_log.record(&outcome);
    drop(stdout);
    report(&outcome, args, stream_text)
}

fn report(outcome: &Outcome, args: &AskArgs, streamed: bool) -> Result<(), Failure> {
    if args.json {
        let json = serde_json::to_string(&outcome.to_json())
            .map_err(|e| Failure::failed(format!("could not encode the result as JSON ({e}).")))?;
        println!("{json}");
    } else {
        if !streamed {
            print!("{}", outcome.content);
        }
        if !outcome.content.is_empty() && !outcome.content.ends_with('\n') {
            println!();
        }
        eprintln!("{}", summary_line(outcome));
    }
    // With --json the object already says what failed; the sentence on stderr is for a human.
    match &outcome.error {
        None => Ok(()),
        Some(e) => Err(Failure::failed(e.sentence(&outcome.provider))),
    }
}

/// "openai gpt-4o-mini · 14 in / 30 out · TTFT 312 ms · total 1.83 s · 48.2 tok/s · stop · 0 retries"
pub fn summary_line(o: &Outcome) -> String {
    let tokens = |t: Option<u64>| t.map_or("?".to_owned(), |n| n.to_string());
    let mut parts = vec![
        format!("{} {}", o.provider, o.model),
        format!(
            "{} in / {} out",
            tokens(o.usage.input_tokens),
            tokens(o.usage.output_tokens)
        ),
    ];
    if let Some(ttft) = o.ttft {
        parts.push(format!("TTFT {:.0} ms", ttft.as_secs_f64() * 1000.0));
    }
    parts.push(format!("total {:.2} s", o.latency.as_secs_f64()));
    if let Some(rate) = crate::metrics::tokens_per_sec(o.usage.output_tokens, o.generation_time) {
        parts.push(format!("{rate:.1} tok/s"));
    }
    parts.push(
        o.finish_reason
            .clone()
            .unwrap_or_else(|| "no finish reason".into()),
    );
    parts.push(format!(
        "{} {}",
        o.retries,
        if o.retries == 1 { "retry" } else { "retries" }
    ));
    parts.join(" · ")
}
