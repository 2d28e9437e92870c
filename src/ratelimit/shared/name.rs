//! Budget and key names: a provider's budget name, and the Redis keys that hold it.

use secrecy::{ExposeSecret, SecretString};
use sha2::{Digest, Sha256};

/// The configured name, or one derived from the key and base URL. Only a digest of the key is
/// kept, never the key: names end up in Redis key names, status bars and logs.
pub fn budget_name(configured: Option<&str>, key: Option<&SecretString>, base_url: &str) -> String {
    if let Some(name) = configured {
        return name.to_owned();
    }
    let mut hash = Sha256::new();
    hash.update(b"paddock budget v1\n");
    if let Some(key) = key {
        hash.update(key.expose_secret().as_bytes());
    }
    hash.update(b"\n");
    hash.update(base_url.trim_end_matches('/').as_bytes());
    let digest = hash.finalize();
    let hex: String = digest.iter().take(8).map(|b| format!("{b:02x}")).collect();
    format!("auto-{hex}")
}

/// The five keys of one budget. The `{name}` hash tag keeps them in one slot, so the script's
/// keys are all on one node of a Redis Cluster too.
pub fn keys(budget: &str) -> [String; 5] {
    let base = format!("paddock:{{{budget}}}");
    [
        format!("{base}:requests"),
        format!("{base}:tokens"),
        format!("{base}:server"),
        format!("{base}:holders"),
        format!("{base}:tokens-sum"),
    ]
}

/// A store URL fit to show: scheme, host, port and database, never a user or password.
pub fn shown_url(url: &str) -> String {
    let (scheme, rest) = url.split_once("://").unwrap_or(("redis", url));
    let rest = rest.rsplit_once('@').map_or(rest, |(_, host)| host);
    let rest = rest.split_once('?').map_or(rest, |(host, _)| host);
    format!("{scheme}://{rest}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn derived_names_hide_the_key_and_differ_per_key_and_url() {
        let key = SecretString::from("sk-secret-123".to_owned());
        let a = budget_name(None, Some(&key), "https://api.openai.com/v1");
        assert!(a.starts_with("auto-") && a.len() == 21, "{a}");
        assert!(!a.contains("secret"));
        let other = SecretString::from("sk-other".to_owned());
        assert_ne!(
            a,
            budget_name(None, Some(&other), "https://api.openai.com/v1")
        );
        assert_ne!(a, budget_name(None, Some(&key), "https://example.com/v1"));
        assert_eq!(
            a,
            budget_name(None, Some(&key), "https://api.openai.com/v1/")
        );
        assert_eq!(budget_name(Some("team"), Some(&key), "x"), "team");
    }

    #[test]
    fn keys_are_separate_per_kind_and_shown_urls_drop_passwords() {
        let k = keys("team");
        assert_eq!(k[0], "paddock:{team}:requests");
        assert_ne!(k[0], k[1]);
        assert_eq!(
            shown_url("redis://user:hunter2@10.0.0.1:6379/2?x=1"),
            "redis://10.0.0.1:6379/2"
        );
    }
}
