//! `paddock models`: the models each chosen provider's server lists, as text or JSON lines.
//!
//! The listing itself is the wire layer's ([`crate::provider::models`]) behind
//! [`crate::client::list_models`]; this command only asks and prints.

use serde::Serialize;

use crate::cli::ModelsArgs;
use crate::client::ErrorJson;
use crate::provider::ApiError;

use super::{Failure, Workspace, EXIT_FAILED};

/// One provider's answer: its models, or why there are none.
#[derive(Debug)]
pub struct Listing {
    pub provider: String,
    pub result: Result<Vec<String>, ListFailure>,
}

/// Why a provider's models could not be listed: an API error, or a sentence from before any
/// request (a missing key).
#[derive(Debug)]
pub enum ListFailure {
    Api(ApiError),
    Setup(String),
}

impl ListFailure {
    fn sentence(&self, provider: &str) -> String {
        match self {
            ListFailure::Api(e) => e.sentence(provider),
            ListFailure::Setup(s) => s.clone(),
        }
    }
}

/// One `--json` line.
#[derive(Debug, Serialize)]
struct ListingJson<'a> {
    provider: &'a str,
    models: &'a [String],
    error: Option<ErrorJson<'a>>,
}

pub async fn run(ws: &Workspace, args: &ModelsArgs) -> Result<(), Failure> {
    let providers = ws.pick_many(&args.providers)?;
    let asks = providers.iter().map(|p| async move {
        let result = match crate::client::Client::new(p) {
            Err(sentence) => Err(ListFailure::Setup(sentence)),
            Ok(client) => client.list_models().await.map_err(ListFailure::Api),
        };
        Listing {
            provider: p.name.clone(),
            result,
        }
    });
    let listings = futures::future::join_all(asks).await;
    if args.json {
        for l in &listings {
            println!("{}", crate::sanitize::json_for_terminal(&json_line(l)?));
        }
    } else {
        print!("{}", render(&listings));
    }
    let mut failed = 0;
    for l in &listings {
        if let Err(f) = &l.result {
            failed += 1;
            crate::sanitize::eprint_line(&f.sentence(&l.provider));
        }
    }
    match failed {
        0 => Ok(()),
        // The one sentence is said already.
        _ if listings.len() == 1 => Err(Failure {
            message: String::new(),
            code: EXIT_FAILED,
        }),
        n => Err(Failure {
            message: format!(
                "{n} of {} providers could not list their models.",
                listings.len()
            ),
            code: EXIT_FAILED,
        }),
    }
}

/// One provider: its model names, one per line (for scripts). Several: each provider's name,
/// then its models indented. Names are outside text: one sanitised line each.
pub fn render(listings: &[Listing]) -> String {
    let mut out = String::new();
    let one = listings.len() == 1;
    for l in listings {
        let Ok(models) = &l.result else { continue };
        if !one {
            out.push_str(&crate::sanitize::clean_line(&l.provider));
            let plural = if models.len() == 1 { "" } else { "s" };
            out.push_str(&format!(" ({} model{plural})\n", models.len()));
        }
        for m in models {
            if !one {
                out.push_str("  ");
            }
            out.push_str(&crate::sanitize::clean_line(m));
            out.push('\n');
        }
    }
    out
}

fn json_line(l: &Listing) -> Result<String, Failure> {
    let setup;
    let (models, error): (&[String], _) = match &l.result {
        Ok(models) => (models.as_slice(), None),
        Err(ListFailure::Api(e)) => (&[][..], Some(ErrorJson::of(e))),
        Err(ListFailure::Setup(s)) => {
            setup = ApiError::new(crate::provider::ErrorKind::Auth, s.clone());
            (&[][..], Some(ErrorJson::of(&setup)))
        }
    };
    serde_json::to_string(&ListingJson {
        provider: &l.provider,
        models,
        error,
    })
    .map_err(|e| Failure::failed(format!("could not encode the model list as JSON ({e}).")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_provider_prints_bare_names_several_print_sections() {
        let ok = |p: &str, names: &[&str]| Listing {
            provider: p.to_owned(),
            result: Ok(names.iter().map(|n| (*n).to_owned()).collect()),
        };
        assert_eq!(render(&[ok("a", &["m1", "m2"])]), "m1\nm2\n");
        let failed = Listing {
            provider: "c".to_owned(),
            result: Err(ListFailure::Setup("c: no API key.".to_owned())),
        };
        assert_eq!(
            render(&[ok("a", &["m1", "m2"]), ok("b\u{1b}[31m", &["x"]), failed]),
            "a (2 models)\n  m1\n  m2\nb (1 model)\n  x\n"
        );
    }
}
