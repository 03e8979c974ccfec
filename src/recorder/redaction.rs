//! Names whose values are never written to a trace.
//!
//! A variable, argument or string dict key is secret-looking when its lower-cased name
//! contains one of [`SECRET_MARKERS`]. Its value is recorded as the error value
//! `<redacted>`, so a replay shows that something was there, but not what.

/// Substrings that mark a name as secret-looking (compared case-insensitively).
pub const SECRET_MARKERS: [&str; 12] = [
    "password",
    "passwd",
    "passphrase",
    "secret",
    "token",
    "api_key",
    "apikey",
    "authorization",
    "cookie",
    "credential",
    "private_key",
    "session_key",
];

/// What a redacted value is replaced with.
pub const REDACTED: &str = "<redacted>";

pub fn is_secret_name(name: &str) -> bool {
    // Names are short; lower-casing into a small buffer avoids an allocation per check.
    let mut buf = [0u8; 64];
    let bytes = name.as_bytes();
    if bytes.len() > buf.len() {
        let lower = name.to_ascii_lowercase();
        return SECRET_MARKERS.iter().any(|m| lower.contains(m));
    }
    let lower = &mut buf[..bytes.len()];
    lower.copy_from_slice(bytes);
    lower.make_ascii_lowercase();
    SECRET_MARKERS.iter().any(|m| lower.windows(m.len()).any(|w| w == m.as_bytes()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secret_looking_names_match_in_any_case() {
        for name in ["password", "DB_PASSWORD", "github_token", "apiKey", "Authorization", "session_cookie", "client_secret"] {
            assert!(is_secret_name(name), "{name} should be redacted");
        }
    }

    #[test]
    fn ordinary_names_do_not_match() {
        for name in ["n", "total", "path", "passing_grade", "author"] {
            assert!(!is_secret_name(name), "{name} should be recorded");
        }
    }
}
