//! In-TUI commands: a `/` at the start of the prompt (`/model NAME`, `/system TEXT`, …), their
//! Tab completion, and the list the help overlay shows.

use std::path::PathBuf;

use super::app::{fresh_input, App};
use super::msg::Command;
use super::{actions, record};

/// Every command: name, arguments, what it does.
pub const COMMANDS: &[(&str, &str, &str)] = &[
    (
        "model",
        "[NAME]",
        "the focused pane's model, from the next prompt (none: show it)",
    ),
    (
        "system",
        "[TEXT|off]",
        "system prompt for every pane (none: show the focused pane's)",
    ),
    (
        "temp",
        "[F|off]",
        "temperature for every pane (0 to 2; Anthropic 0 to 1)",
    ),
    ("max", "[N|off]", "max output tokens for every pane"),
    (
        "retry",
        "",
        "ask the focused pane's last prompt again, replacing its answer",
    ),
    (
        "regen",
        "[all]",
        "as /retry; with all, every pane of the last race",
    ),
    (
        "drop",
        "",
        "forget the last race in every pane (its prompt and answers)",
    ),
    (
        "clear",
        "",
        "new conversation (the old session stays saved)",
    ),
    ("save", "", "save the session now and show where"),
    ("export", "[md|json]", "write the session to a file here"),
    (
        "providers",
        "[a,b]",
        "list providers; with names, only those are on",
    ),
    ("sessions", "", "saved sessions (as Ctrl-O)"),
    ("help", "", "keys and commands"),
];

fn names() -> String {
    COMMANDS
        .iter()
        .map(|(n, _, _)| format!("/{n}"))
        .collect::<Vec<_>>()
        .join(" ")
}

fn usage(name: &str) -> String {
    let args = COMMANDS
        .iter()
        .find(|(n, _, _)| *n == name)
        .map_or("", |(_, a, _)| *a);
    format!("usage: /{name} {args}").trim_end().to_owned()
}

/// Run the command line `line` (it starts with `/`).
pub fn run(app: &mut App, line: &str) -> Vec<Command> {
    let line = line.trim_start_matches('/');
    let (name, arg) = match line.split_once(char::is_whitespace) {
        Some((name, arg)) => (name, arg.trim()),
        None => (line, ""),
    };
    let mut commands = Vec::new();
    let result = match name {
        "model" | "system" | "temp" | "max" if arg.is_empty() => Ok(Some(current(app, name))),
        "model" => set_model(app, arg),
        "system" => set_system(app, arg),
        "temp" => set_temperature(app, arg),
        "max" => set_max_tokens(app, arg),
        "providers" => providers(app, arg),
        "retry" | "regen" | "drop" => return again(app, name, arg),
        "clear" | "save" | "sessions" | "help" if !arg.is_empty() => {
            Err(format!("/{name} takes no arguments"))
        }
        "clear" => {
            commands = actions::new_conversation(app);
            Ok(None)
        }
        "save" if app.core.session.turn_count() == 0 => {
            Err("nothing to save yet: send a prompt first".to_owned())
        }
        "save" => {
            commands.push(record::save_now(app));
            Ok(None)
        }
        "export" => export(app, arg).map(|c| {
            commands.push(c);
            None
        }),
        "sessions" => {
            commands = actions::open_picker(app);
            Ok(None)
        }
        "help" => {
            actions::open_help(app);
            Ok(None)
        }
        _ => Err(format!(
            "unknown command /{name}: the commands are {}",
            names()
        )),
    };
    match result {
        Ok(Some(notice)) | Err(notice) => app.notice = Some(notice),
        Ok(None) => {}
    }
    commands
}

type Outcome = Result<Option<String>, String>;

/// `/model`, `/system`, `/temp`, `/max` with no argument: the focused pane's current value.
fn current(app: &App, name: &str) -> String {
    let Some(lane) = app.lane(app.focus) else {
        return "no pane".to_owned();
    };
    let i = &lane.info;
    let value = match name {
        "model" => i.model.clone(),
        "system" => match &i.system {
            Some(s) if !s.is_empty() => format!("\"{}\"", crate::sanitize::clean_line(s)),
            _ => "none (/system TEXT sets one)".to_owned(),
        },
        "temp" => i
            .temperature
            .map_or("the provider's default".to_owned(), |t| t.to_string()),
        _ => i
            .max_tokens
            .map_or("the provider's default".to_owned(), |n| n.to_string()),
    };
    format!("{} {name}: {value}", i.name)
}

/// `/retry`, `/regen [all]`, `/drop`: ask the latest prompt again, or forget the latest race.
fn again(app: &mut App, name: &str, arg: &str) -> Vec<Command> {
    let at = app.now;
    if app.in_flight() {
        app.notice = Some("a race is still running: Esc cancels it".to_owned());
        return Vec::new();
    }
    let event = match (name, arg) {
        ("drop", "") => crate::race::CoreEvent::DropLast { at },
        ("retry" | "regen", "") => crate::race::CoreEvent::Regenerate {
            lanes: vec![app.focus],
            at,
        },
        ("regen", "all") => crate::race::CoreEvent::Regenerate {
            lanes: app.core.round_turns().iter().map(|(i, _)| *i).collect(),
            at,
        },
        _ => {
            app.notice = Some(usage(name));
            return Vec::new();
        }
    };
    let before = app.core.round;
    let commands = record::drive(app, event);
    app.notice = Some(match (name, commands.is_empty()) {
        (_, true) => "nothing to ask again or drop yet".to_owned(),
        ("drop", false) => {
            for p in &mut app.panes {
                p.view = super::view::PaneView::default();
            }
            format!("dropped race {before}: the conversation goes on without it")
        }
        _ => "asking again".to_owned(),
    });
    commands
}

fn set_model(app: &mut App, arg: &str) -> Outcome {
    if arg.is_empty() || arg.contains(char::is_whitespace) {
        return Err(format!("{} (one model name)", usage("model")));
    }
    let Some(p) = app.core.lanes.get_mut(app.focus) else {
        return Err("no pane to set a model for".to_owned());
    };
    p.info.model = arg.to_owned();
    Ok(Some(format!(
        "{} uses {arg} from the next prompt",
        p.info.name
    )))
}

fn set_system(app: &mut App, arg: &str) -> Outcome {
    let system = (arg != "off").then(|| arg.to_owned());
    for p in &mut app.core.lanes {
        p.info.system.clone_from(&system);
    }
    Ok(Some(match system {
        Some(_) => "system prompt set for every pane, from the next prompt".to_owned(),
        None => "system prompt cleared for every pane".to_owned(),
    }))
}

fn set_temperature(app: &mut App, arg: &str) -> Outcome {
    let value = match arg {
        "off" => None,
        _ => match arg.parse::<f64>() {
            Ok(t) if t.is_finite() => Some(t),
            _ => {
                return Err(format!(
                    "{}: F is a number from 0 to 2, or off",
                    usage("temp")
                ))
            }
        },
    };
    // The same rule as `--temperature`: each pane's API range (OpenAI 0 to 2, Anthropic 0 to 1).
    if let Some(t) = value {
        for p in &app.core.lanes {
            p.info
                .protocol
                .check_temperature(t)
                .map_err(|e| format!("{}: {e}", p.info.name))?;
        }
    }
    for p in &mut app.core.lanes {
        p.info.temperature = value;
    }
    Ok(Some(match value {
        Some(t) => format!("temperature {t} for every pane, from the next prompt"),
        None => "temperature back to each provider's default".to_owned(),
    }))
}

fn set_max_tokens(app: &mut App, arg: &str) -> Outcome {
    let value = match arg {
        "off" => None,
        _ => match arg.parse::<u32>() {
            Ok(n) if n > 0 => Some(n),
            _ => {
                return Err(format!(
                    "{}: N is a whole number above 0, or off",
                    usage("max")
                ))
            }
        },
    };
    for p in &mut app.core.lanes {
        p.info.max_tokens = value;
    }
    Ok(Some(match value {
        Some(n) => format!("at most {n} output tokens per answer, from the next prompt"),
        None => "max tokens back to each provider's default".to_owned(),
    }))
}

/// No argument: list them. `a,b`: only those are on.
fn providers(app: &mut App, arg: &str) -> Outcome {
    if arg.is_empty() {
        let list: Vec<String> = app
            .core
            .lanes
            .iter()
            .enumerate()
            .map(|(i, p)| {
                let state = match (&p.unavailable, p.enabled) {
                    (Some(_), _) => "unavailable",
                    (None, true) => "on",
                    (None, false) => "off",
                };
                format!("{} {} {state}", i + 1, p.info.name)
            })
            .collect();
        return Ok(Some(format!("providers: {}", list.join(" · "))));
    }
    let wanted: Vec<&str> = arg
        .split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .collect();
    let known: Vec<&str> = app
        .core
        .lanes
        .iter()
        .map(|p| p.info.name.as_str())
        .collect();
    if let Some(bad) = wanted.iter().find(|w| !known.contains(w)) {
        return Err(format!(
            "unknown provider {bad}: the providers are {}",
            known.join(", ")
        ));
    }
    if let Some(p) = app
        .core
        .lanes
        .iter()
        .find(|p| p.unavailable.is_some() && wanted.contains(&p.info.name.as_str()))
    {
        return Err(format!("{} cannot be used: see its pane", p.info.name));
    }
    for p in &mut app.core.lanes {
        p.enabled = p.unavailable.is_none() && wanted.contains(&p.info.name.as_str());
    }
    Ok(Some(format!(
        "on for the next prompt: {}",
        wanted.join(", ")
    )))
}

fn export(app: &mut App, arg: &str) -> Result<Command, String> {
    let json = match arg {
        "" | "md" => false,
        "json" => true,
        _ => return Err(format!("{}: md (the default) or json", usage("export"))),
    };
    let s = &app.core.session;
    if s.turn_count() == 0 {
        return Err("nothing to export yet: send a prompt first".to_owned());
    }
    let (ext, contents) = if json {
        let text = crate::commands::sessions::json(s)
            .map_err(|e| format!("could not encode the session as JSON ({e})"))?;
        ("json", text)
    } else {
        ("md", crate::commands::sessions::markdown(s))
    };
    Ok(Command::WriteFile {
        path: PathBuf::from(format!("paddock-{}.{ext}", s.id)),
        contents,
    })
}

/// Tab in a prompt that is a command name so far: complete it (or list the candidates).
/// `false` when the input is not a command name being typed.
/// Tab in the prompt: complete a command's name, or a model name after `/model `. `None` when
/// the prompt is no command (Tab then moves the focus).
pub fn complete(app: &mut App) -> Option<Vec<Command>> {
    let text = app.input_text();
    if text.starts_with("/model ") {
        return Some(complete_model(app));
    }
    complete_name(app).then(Vec::new)
}

/// The model name after `/model ` completed from the focused pane's server's list; the list is
/// asked for on the first Tab (the completion finishes when it comes).
pub fn complete_model(app: &mut App) -> Vec<Command> {
    let text = app.input_text();
    let Some(partial) = text.strip_prefix("/model ") else {
        return Vec::new();
    };
    let partial = partial.trim().to_owned();
    let focus = app.focus;
    let Some(pane) = app.panes.get(focus) else {
        return Vec::new();
    };
    let models = match &pane.models {
        None => {
            app.notice = Some("asking the server for its models…".to_owned());
            return vec![Command::ListModels { pane: focus }];
        }
        Some(Err(e)) => {
            app.notice = Some(e.clone());
            return Vec::new();
        }
        Some(Ok(models)) => models,
    };
    let matches: Vec<&str> = models
        .iter()
        .map(String::as_str)
        .filter(|m| m.starts_with(&partial) || (!partial.is_empty() && m.contains(&partial)))
        .collect();
    match matches.as_slice() {
        [] => {
            app.notice = Some(format!(
                "no model matches {partial:?} ({} offered)",
                models.len()
            ))
        }
        [one] => {
            app.input = fresh_input(&format!("/model {one}"));
            app.notice = None;
        }
        many => {
            let prefixed: Vec<&str> = many
                .iter()
                .copied()
                .filter(|m| m.starts_with(&partial))
                .collect();
            let common = common_prefix(if prefixed.is_empty() { many } else { &prefixed });
            if common.len() > partial.len() {
                app.input = fresh_input(&format!("/model {common}"));
            }
            const SHOWN: usize = 8;
            let mut listed: Vec<String> = many
                .iter()
                .take(SHOWN)
                .map(|m| crate::sanitize::clean_line(m))
                .collect();
            if many.len() > SHOWN {
                listed.push(format!("… {} more: type to narrow", many.len() - SHOWN));
            }
            app.notice = Some(listed.join(" · "));
        }
    }
    Vec::new()
}

fn complete_name(app: &mut App) -> bool {
    let text = app.input_text();
    let Some(partial) = text.strip_prefix('/') else {
        return false;
    };
    if partial.contains(char::is_whitespace) || partial.starts_with('/') {
        return false;
    }
    let matches: Vec<&str> = COMMANDS
        .iter()
        .map(|(n, _, _)| *n)
        .filter(|n| n.starts_with(partial))
        .collect();
    match matches.as_slice() {
        [] => {
            app.notice = Some(format!(
                "no command /{partial}: the commands are {}",
                names()
            ))
        }
        [one] => app.input = fresh_input(&format!("/{one} ")),
        many => {
            let common = common_prefix(many);
            app.input = fresh_input(&format!("/{common}"));
            let listed: Vec<String> = many.iter().map(|n| format!("/{n}")).collect();
            app.notice = Some(listed.join(" "));
        }
    }
    true
}

fn common_prefix(words: &[&str]) -> String {
    let first = words.first().copied().unwrap_or("");
    let len = first
        .char_indices()
        .map(|(i, c)| i + c.len_utf8())
        .take_while(|&end| words.iter().all(|w| w.get(..end) == first.get(..end)))
        .last()
        .unwrap_or(0);
    first[..len].to_owned()
}
