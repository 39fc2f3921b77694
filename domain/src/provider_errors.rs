//! What the text provider's error codes mean, in one table: the delivery
//! status webhook stores the meaning with the code, sending does the same,
//! and the staff page shows both.

/// Twilio's code for "the recipient had replied STOP": the number is opted
/// out (see `store::opt_outs`).
pub const OPTED_OUT: &str = "21610";

/// The codes staff meet at a venue, with what they mean.
pub const MEANINGS: &[(&str, &str)] = &[
    (OPTED_OUT, "the recipient replied STOP and gets no texts"),
    ("21211", "the number is not a valid phone number"),
    (
        "30003",
        "the phone is unreachable (switched off or out of coverage)",
    ),
    ("30005", "the number is unknown or no longer exists"),
    (
        "30006",
        "the number cannot receive texts (a landline, or blocked by the carrier)",
    ),
    ("30007", "the carrier filtered the text as spam"),
    (
        "30034",
        "the sending number is not registered for A2P 10DLC",
    ),
];

/// What `code` means, if the table knows it.
pub fn meaning(code: &str) -> Option<&'static str> {
    MEANINGS.iter().find(|(c, _)| *c == code).map(|(_, m)| *m)
}

/// The readable `error` stored with a failed text: the code and what it
/// means, or what is known without one.
pub fn describe(code: Option<&str>, fallback: &str) -> String {
    match code {
        Some(code) => match meaning(code) {
            Some(meaning) => format!("Twilio {code}: {meaning}"),
            None => format!("Twilio {code}: {fallback}"),
        },
        None => fallback.to_owned(),
    }
}

/// An error code as the provider sends it: one to eight digits.
pub fn valid_code(raw: &str) -> Option<&str> {
    let raw = raw.trim();
    (!raw.is_empty() && raw.len() <= 8 && raw.bytes().all(|b| b.is_ascii_digit())).then_some(raw)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_codes_are_described_and_unknown_ones_keep_their_number() {
        assert_eq!(
            describe(Some("30003"), "undelivered"),
            "Twilio 30003: the phone is unreachable (switched off or out of coverage)"
        );
        assert_eq!(
            describe(Some("12345"), "undelivered"),
            "Twilio 12345: undelivered"
        );
        assert_eq!(describe(None, "undelivered"), "undelivered");
        for (code, _) in MEANINGS {
            assert_eq!(valid_code(code), Some(*code));
        }
        assert_eq!(valid_code("30003; DROP"), None);
        assert_eq!(valid_code(""), None);
    }
}
