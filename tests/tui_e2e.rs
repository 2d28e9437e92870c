//! End to end: the real binary in tmux with `--demo` and a fresh HOME. Types a prompt, watches every
//! pane fill and the status bar's budget move, cancels a race with Esc, quits with Ctrl-C and
//! checks the terminal is handed back; then checks the race was saved as a session under the fresh
//! HOME and that `--resume` reopens it. Skips (with a message) when tmux is not installed.

use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

/// One tmux server of our own (`-L`), so the test never touches the user's sessions.
struct Tmux {
    socket: String,
}

impl Tmux {
    fn run(&self, args: &[&str]) -> String {
        let out = Command::new("tmux")
            .args(["-L", &self.socket, "-f", "/dev/null"])
            .args(args)
            .output()
            .expect("run tmux");
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    fn send_text(&self, text: &str) {
        self.run(&["send-keys", "-t", "e2e", "-l", text]);
    }

    fn send_key(&self, key: &str) {
        self.run(&["send-keys", "-t", "e2e", key]);
    }

    fn capture(&self) -> String {
        self.run(&["capture-pane", "-p", "-t", "e2e"])
    }

    /// Poll the screen until `ok` holds; panic with the last screen after `secs`.
    fn wait_for(&self, what: &str, secs: u64, ok: impl Fn(&str) -> bool) -> String {
        let deadline = Instant::now() + Duration::from_secs(secs);
        loop {
            let screen = self.capture();
            if ok(&screen) {
                return screen;
            }
            if Instant::now() > deadline {
                panic!("timed out waiting for {what}; screen:\n{screen}");
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }
}

impl Drop for Tmux {
    fn drop(&mut self) {
        self.run(&["kill-server"]);
    }
}

fn tmux_available() -> bool {
    Command::new("tmux")
        .arg("-V")
        .output()
        .is_ok_and(|o| o.status.success())
}

/// The status bar row of a provider, e.g. ` sim-tight     req 5/6 left ██████░░ …`.
fn status_row<'a>(screen: &'a str, name: &str) -> Option<&'a str> {
    screen
        .lines()
        .find(|l| l.starts_with(&format!(" {name} ")) && l.contains("req "))
}

/// The requests left in a provider's budget, as its status row says (`req 5/6 left`).
fn requests_left(screen: &str, name: &str) -> Option<u32> {
    let row = status_row(screen, name)?;
    let after = row.split("req ").nth(1)?;
    after.split('/').next()?.trim().parse().ok()
}

fn start_shell(home: &Path) -> Tmux {
    let tmux = Tmux {
        // One server per test: tests run in parallel and each kills its own server when done.
        socket: format!("paddock-e2e-{}-{}", std::process::id(), {
            static N: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
            N.fetch_add(1, std::sync::atomic::Ordering::Relaxed)
        }),
    };
    let home_s = home.to_str().expect("utf-8 temp path");
    let shell = format!(
        "env -u OPENAI_API_KEY -u ANTHROPIC_API_KEY -u PADDOCK_CONFIG -u XDG_DATA_HOME -u TMUX HOME={home_s} \
         XDG_CONFIG_HOME={home_s}/.config XDG_STATE_HOME={home_s}/.state \
         TERM=xterm-256color PS1='e2e-shell$ ' sh"
    );
    tmux.run(&[
        "new-session",
        "-d",
        "-x",
        "160",
        "-y",
        "45",
        "-s",
        "e2e",
        &shell,
    ]);
    tmux.wait_for("the shell", 10, |s| s.contains("e2e-shell$"));
    tmux.send_text(&format!("cd {home_s}"));
    tmux.send_key("Enter");
    tmux
}

fn start(home: &Path) -> Tmux {
    let tmux = start_shell(home);
    launch(&tmux, home, "");
    tmux
}

/// Start paddock in the demo mode in the test's shell, with `extra` arguments.
fn launch(tmux: &Tmux, home: &Path, extra: &str) {
    let bin = env!("CARGO_BIN_EXE_paddock");
    let home_s = home.to_str().expect("utf-8 temp path");
    tmux.send_text(&format!(
        "{bin} --demo --log-file {home_s}/paddock.log {extra}"
    ));
    tmux.send_key("Enter");
}

/// The saved sessions under the fresh HOME (the XDG data dir's default).
fn session_files(home: &Path) -> Vec<std::path::PathBuf> {
    let dir = home.join(".local/share/paddock/sessions");
    std::fs::read_dir(&dir)
        .map(|entries| {
            entries
                .filter_map(Result::ok)
                .map(|e| e.path())
                .filter(|p| p.extension().is_some_and(|x| x == "json"))
                .collect()
        })
        .unwrap_or_default()
}

#[test]
fn demo_race_cancel_and_quit_in_tmux() {
    if !tmux_available() {
        assert!(
            std::env::var_os("PADDOCK_REQUIRE_TMUX").is_none(),
            "PADDOCK_REQUIRE_TMUX is set but tmux is not installed"
        );
        eprintln!(
            "SKIPPED tui_e2e: tmux is not installed (apt-get install tmux to run this test)."
        );
        return;
    }
    let home = tempfile::tempdir().expect("temp HOME");
    let tmux = start(home.path());
    let names = ["sim-openai", "sim-anthropic", "sim-gemini", "sim-tight"];

    let idle = tmux.wait_for("the TUI", 20, |s| {
        s.contains("prompt →") && names.iter().all(|n| status_row(s, n).is_some())
    });
    assert!(
        idle.contains("simulated"),
        "pane titles say simulated:\n{idle}"
    );
    let before = requests_left(&idle, "sim-tight").expect("budget in the status bar");

    tmux.send_text("Explain TCP slow start in a few sentences");
    tmux.send_key("Enter");
    let streaming = tmux.wait_for("every pane to stream", 30, |s| {
        // A thinking pane says so twice (its header and footer); it counts once.
        let thinking = usize::from(s.contains("◌ thinking"));
        s.matches("▶ streaming").count() + s.matches("✓ done").count() + thinking >= 4
    });
    let after = requests_left(&streaming, "sim-tight").expect("budget in the status bar");
    assert!(
        after < before,
        "the request budget drained ({before} -> {after} left):\n{streaming}"
    );
    let finished = tmux.wait_for("the race to finish", 60, |s| {
        s.matches("✓ done").count() == 4
    });
    assert!(finished.contains("★"), "a winner is marked:\n{finished}");

    // Ask again and cancel mid-stream.
    tmux.send_text("And what ends it?");
    tmux.send_key("Enter");
    tmux.wait_for("the follow-up to start", 30, |s| {
        s.contains("▶ streaming")
            || s.contains("↻ retrying")
            || s.contains("waiting for the limiter")
    });
    tmux.send_key("Escape");
    let cancelled = tmux.wait_for("the cancel", 10, |s| s.contains("⊘ cancelled"));
    std::thread::sleep(Duration::from_millis(500));
    let later = tmux.capture();
    assert!(
        !later.contains("▶ streaming"),
        "nothing streams after Esc:\n{later}\n(was:\n{cancelled})"
    );

    tmux.send_key("C-c");
    let back = tmux.wait_for("the shell prompt after quitting", 10, |s| {
        s.contains("e2e-shell$") && !s.contains("prompt →")
    });
    assert!(
        !back.contains("sim-anthropic ·"),
        "the alternate screen was left:\n{back}"
    );
    let command = tmux.run(&[
        "display-message",
        "-p",
        "-t",
        "e2e",
        "#{pane_current_command}",
    ]);
    assert_eq!(command.trim(), "sh", "paddock has exited");
    // The terminal is out of raw mode: a typed command runs.
    tmux.send_text("echo still-cooked");
    tmux.send_key("Enter");
    tmux.wait_for("the shell to echo", 10, |s| {
        s.lines().any(|l| l.trim() == "still-cooked")
    });

    // The race was saved as a session, with both prompts and the cancelled answer marked so.
    let files = session_files(home.path());
    assert_eq!(files.len(), 1, "one session file: {files:?}");
    let saved = std::fs::read_to_string(&files[0]).expect("read the session");
    assert!(
        saved.contains("Explain TCP slow start in a few sentences"),
        "{saved}"
    );
    assert!(saved.contains("And what ends it?"), "{saved}");
    assert!(saved.contains("\"cancelled\""), "{saved}");
    // Every finished request of the race has its request-log line, as from `ask`.
    let log = std::fs::read_to_string(home.path().join(".state/paddock/requests.jsonl"))
        .expect("the TUI writes the request log");
    for name in names {
        assert!(
            log.lines()
                .any(|l| l.contains(&format!("\"provider\":\"{name}\""))),
            "{name} in the request log:\n{log}"
        );
    }

    // --resume reopens it: the earlier prompts are back in the panes.
    tmux.run(&["send-keys", "-t", "e2e", "clear", "Enter"]);
    launch(&tmux, home.path(), "--resume");
    let resumed = tmux.wait_for("the resumed session", 20, |s| {
        s.contains("resumed session") && s.contains("› And what ends it?")
    });
    assert!(
        names.iter().all(|n| resumed.contains(&format!(" {n} "))),
        "{resumed}"
    );
    // Home (with an empty prompt) scrolls the focused pane to the first turn.
    tmux.send_key("Home");
    // (Four panes of 40 columns wrap the prompt after "few".)
    tmux.wait_for("the first prompt at the top", 10, |s| {
        s.contains("› Explain TCP slow start in a few")
    });
    tmux.send_key("C-c");
    tmux.wait_for("the shell prompt after quitting again", 10, |s| {
        s.contains("e2e-shell$") && !s.contains("prompt →")
    });
    assert_eq!(session_files(home.path()).len(), 1, "resuming adds no file");
}

/// Nothing silently changes who answers: with no keys at all the TUI says it shows the demo,
/// and a configured provider without its key is a pane that says how to fix it.
#[test]
fn missing_keys_are_said_not_hidden() {
    if !tmux_available() {
        assert!(std::env::var_os("PADDOCK_REQUIRE_TMUX").is_none());
        eprintln!("SKIPPED tui_e2e: tmux is not installed.");
        return;
    }
    let home = tempfile::tempdir().expect("temp HOME");
    let tmux = start_shell(home.path());
    let bin = env!("CARGO_BIN_EXE_paddock");
    let home_s = home.path().to_str().expect("utf-8 temp path");
    tmux.send_text(&format!("{bin} --log-file {home_s}/paddock.log"));
    tmux.send_key("Enter");
    let screen = tmux.wait_for("the demo fallback notice", 20, |s| {
        s.contains("prompt →") && s.contains("showing the simulated demo")
    });
    assert!(screen.contains("sim-openai"), "{screen}");
    tmux.send_key("C-c");
    tmux.wait_for("the shell again", 10, |s| {
        s.trim_end().ends_with("e2e-shell$")
    });

    let config = home.path().join("mine.toml");
    std::fs::write(
        &config,
        "[[provider]]\nname = \"mine\"\nkind = \"openai\"\nmodel = \"m\"\nbase_url = \"http://127.0.0.1:9/v1\"\napi_key_env = \"PADDOCK_E2E_MISSING_KEY\"\n",
    )
    .expect("write config");
    tmux.send_text(&format!(
        "{bin} --config {} --log-file {home_s}/paddock.log",
        config.display()
    ));
    tmux.send_key("Enter");
    let screen = tmux.wait_for("the keyless pane", 20, |s| {
        s.contains("prompt →") && s.contains("PADDOCK_E2E_MISSING_KEY")
    });
    assert!(!screen.contains("sim-openai"), "no silent demo:\n{screen}");
    assert!(screen.contains("mine"), "{screen}");
    tmux.send_key("C-c");
}
