//! What must never be written where it outlives the request (logs, error
//! reports, stored provider errors): tokens and credentials, phone numbers,
//! and souvenir short-link codes, which are bearer links.

use std::borrow::Cow;
use std::sync::LazyLock;

use regex::Regex;

/// A token (`odk_…`), or the credentials after `Bearer`/`Basic`.
static SECRET: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"odk_[A-Za-z0-9_\-]+|\b(?:Bearer|Basic)\s+[A-Za-z0-9._~+/=\-]+")
        .expect("a valid regex")
});

/// The code of a souvenir's short link, `/s/{code}`: whoever has it sees
/// the player's photo and name.
static SHORT_LINK: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"/s/[A-Za-z0-9]+").expect("a valid regex"));

/// The code of a player's page, `/p/{code}`: whoever has it acts for the
/// player.
static PLAYER_LINK: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"/p/[A-Za-z0-9_\-]+").expect("a valid regex"));

/// Seven or more digits, possibly written with `+`, spaces, dashes, dots
/// or parentheses between them: any phone number, E.164 or as typed. It
/// also blanks long ids and dates, which is the price of never missing a
/// number.
static PHONE: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"\+?\(?\d(?:[\s().\-]{0,2}\d){6,}").expect("a valid regex"));

/// `text` with tokens, credentials, short-link codes and anything like a
/// phone number replaced by placeholders; borrowed when nothing changed.
pub fn scrub_text(text: &str) -> Cow<'_, str> {
    let mut out = Cow::Borrowed(text);
    for (pattern, placeholder) in [
        (&*SECRET, "[token]"),
        (&*SHORT_LINK, "/s/[link]"),
        (&*PLAYER_LINK, "/p/[code]"),
        (&*PHONE, "[phone]"),
    ] {
        if let Cow::Owned(replaced) = pattern.replace_all(&out, placeholder) {
            out = Cow::Owned(replaced);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn short_link_codes_are_scrubbed_wherever_they_appear() {
        for (text, expected) in [
            ("/s/Ab3dE6gH9k", "/s/[link]"),
            (
                "Your souvenir: https://venue.example/s/Ab3dE6gH9k enjoy",
                "Your souvenir: https://venue.example/s/[link] enjoy",
            ),
            ("GET /s/x", "GET /s/[link]"),
        ] {
            assert_eq!(scrub_text(text), expected, "{text}");
        }
    }

    #[test]
    fn player_codes_are_scrubbed_wherever_they_appear() {
        for (text, expected) in [
            ("/p/Ab3dE6gH9k_-xYz012345", "/p/[code]"),
            ("/p/Ab3dE6gH9k_-xYz012345/status", "/p/[code]/status"),
            (
                "Your turn: https://venue.example/p/Ab3dE6gH9k_-xYz012345 now",
                "Your turn: https://venue.example/p/[code] now",
            ),
        ] {
            assert_eq!(scrub_text(text), expected, "{text}");
        }
    }

    #[test]
    fn provider_errors_lose_the_number() {
        assert_eq!(
            scrub_text(
                "Twilio 400 Bad Request: The 'To' number +15005550001 is not a valid phone number. (code 21211)"
            ),
            "Twilio 400 Bad Request: The 'To' number [phone] is not a valid phone number. (code 21211)"
        );
    }

    #[test]
    fn other_paths_are_kept() {
        for text in [
            "/api/v1/shows/3",
            "/assets/sse.js",
            "/media/souvenirs/4.jpg",
        ] {
            assert!(matches!(scrub_text(text), Cow::Borrowed(_)), "{text}");
        }
    }
}
