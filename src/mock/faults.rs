//! Scripted faults: which request gets one, and what the status-code faults look like.

use std::time::{Duration, SystemTime};

use super::limits::Exceeded;
use super::scenario::{FaultKind, FaultSpec, RetryAfterForm};
use super::text::Rng;
use super::wire::Failure;

/// The fault for the `n`th request (1-based) to a model: an `on_request` match first, then each
/// fault's probability in file order. The dice come from `rng`, so a seed replays the same run.
pub fn pick<'a>(faults: &'a [FaultSpec], n: usize, rng: &mut Rng) -> Option<&'a FaultSpec> {
    if let Some(f) = faults.iter().find(|f| f.on_request.contains(&n)) {
        return Some(f);
    }
    faults
        .iter()
        .find(|f| f.probability > 0.0 && rng.unit() < f.probability)
}

/// The error response a status-code fault produces, or `None` for faults acting on the connection or stream.
pub fn failure(
    spec: &FaultSpec,
    model: &str,
    input_tokens: u64,
    context_window: u64,
) -> Option<Failure> {
    Some(match spec.kind {
        FaultKind::RateLimit => Failure::RateLimit {
            model: model.to_owned(),
            which: Exceeded::Requests,
            limit: 3,
            used: 3,
            requested: 1,
            retry_after: Duration::from_secs_f64(spec.retry_after_secs),
        },
        FaultKind::InsufficientQuota => Failure::Quota,
        FaultKind::ServerError => Failure::Server(spec.status),
        FaultKind::Overloaded => Failure::Overloaded,
        FaultKind::Unauthorized => Failure::WrongKey("sk-mock***".into()),
        FaultKind::ContextTooLong => Failure::ContextTooLong {
            tokens: context_window + input_tokens,
            max: context_window,
        },
        FaultKind::Reset
        | FaultKind::SlowFirstByte
        | FaultKind::Drop
        | FaultKind::Stall
        | FaultKind::Malformed
        | FaultKind::HugeEvent
        | FaultKind::StreamError => return None,
    })
}

/// The Retry-After header(s) of a scripted 429, in the form the scenario asked for.
pub fn retry_headers(spec: &FaultSpec, now: SystemTime) -> Vec<(String, String)> {
    let secs = spec.retry_after_secs;
    match spec.retry_after {
        RetryAfterForm::Seconds => vec![("retry-after".into(), (secs.ceil() as u64).to_string())],
        RetryAfterForm::Ms => vec![(
            "retry-after-ms".into(),
            ((secs * 1000.0).round() as u64).to_string(),
        )],
        RetryAfterForm::Date => {
            // HTTP dates have whole seconds: round up so the client never comes back early.
            let at = now + Duration::from_secs(secs.ceil() as u64 + 1);
            vec![("retry-after".into(), httpdate::fmt_http_date(at))]
        }
        RetryAfterForm::None => vec![],
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn on_request_wins_and_probability_is_seeded() {
        let mut a = FaultSpec::new(FaultKind::Drop);
        a.on_request = vec![2, 5];
        let mut b = FaultSpec::new(FaultKind::Stall);
        b.probability = 0.5;
        let faults = [a, b];
        let mut rng = Rng::new(1);
        assert_eq!(
            pick(&faults, 2, &mut rng).map(|f| f.kind),
            Some(FaultKind::Drop)
        );
        assert_eq!(
            pick(&faults, 5, &mut rng).map(|f| f.kind),
            Some(FaultKind::Drop)
        );
        let run = |seed| {
            let mut rng = Rng::new(seed);
            (0..200)
                .map(|_| pick(&faults, 1, &mut rng).is_some())
                .collect::<Vec<_>>()
        };
        let hits = run(3).iter().filter(|&&h| h).count();
        assert!((70..130).contains(&hits), "{hits} of 200 at p=0.5");
        assert_eq!(run(3), run(3));
        assert!(pick(&faults[..1], 3, &mut Rng::new(0)).is_none());
    }

    #[test]
    fn retry_after_forms() {
        let mut f = FaultSpec::new(FaultKind::RateLimit);
        f.retry_after_secs = 1.5;
        let now = SystemTime::UNIX_EPOCH + Duration::from_secs(1_700_000_000);
        assert_eq!(
            retry_headers(&f, now),
            vec![("retry-after".to_owned(), "2".to_owned())]
        );
        f.retry_after = RetryAfterForm::Ms;
        assert_eq!(
            retry_headers(&f, now),
            vec![("retry-after-ms".to_owned(), "1500".to_owned())]
        );
        f.retry_after = RetryAfterForm::Date;
        let h = retry_headers(&f, now);
        assert_eq!(h[0].0, "retry-after");
        let when = httpdate::parse_http_date(&h[0].1).unwrap();
        assert_eq!(when.duration_since(now).unwrap(), Duration::from_secs(3));
        f.retry_after = RetryAfterForm::None;
        assert!(retry_headers(&f, now).is_empty());
    }

    #[test]
    fn context_too_long_reports_more_than_the_window() {
        let f = FaultSpec::new(FaultKind::ContextTooLong);
        assert_eq!(
            failure(&f, "m", 20, 1000),
            Some(Failure::ContextTooLong {
                tokens: 1020,
                max: 1000
            })
        );
        assert_eq!(failure(&FaultSpec::new(FaultKind::Drop), "m", 1, 1), None);
    }
}
