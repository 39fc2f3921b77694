//! How many SMS segments a text takes, which is what a text costs.
//!
//! A text whose every character is in the GSM 03.38 default alphabet is sent
//! in GSM-7: 160 septets fit in one SMS; a longer text is split into
//! segments of 153 (each carries a 6-byte header that joins them up again).
//! The characters of the alphabet's extension table (`^ { } \ [ ~ ] | €`
//! and form feed) take two septets each (an escape, then the character), and
//! an escape is never split from its character. A single character outside
//! the alphabet (`ç`, a curly quote, an emoji) makes the whole text UCS-2:
//! 70 UTF-16 units in one SMS, 67 per segment past that; a character outside
//! the Basic Multilingual Plane takes two units, never split either.
//!
//! Written here rather than taken from a crate: the rules are a page of the
//! standard, and the one Rust crate for it is an unmaintained port with a
//! different idea of what a character is. The property tests below hold it
//! to the rules.

use serde::Serialize;

/// The GSM 03.38 default alphabet, one septet each (the escape, 0x1B, is
/// not a character of its own).
const BASIC: &str = "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?\
                     ¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà";

/// The extension table: two septets each.
const EXTENSION: &str = "\u{c}^{}\\[~]|€";

/// GSM-7: septets in a text of one SMS, and per segment past that.
pub const GSM7_SINGLE: usize = 160;
pub const GSM7_PER_SEGMENT: usize = 153;
/// UCS-2: UTF-16 units in a text of one SMS, and per segment past that.
pub const UCS2_SINGLE: usize = 70;
pub const UCS2_PER_SEGMENT: usize = 67;

/// How a text is encoded on the air.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub enum Encoding {
    #[serde(rename = "GSM-7")]
    Gsm7,
    #[serde(rename = "UCS-2")]
    Ucs2,
}

/// The segments of one text.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct Segments {
    pub encoding: Encoding,
    /// SMS segments sent (at least one, even for an empty text).
    pub count: usize,
    /// Septets (GSM-7) or UTF-16 units (UCS-2).
    pub units: usize,
    /// The characters that made the text UCS-2, each once, in order of
    /// first appearance; empty for GSM-7.
    pub ucs2_because: Vec<char>,
}

/// Septets `c` takes in GSM-7, or `None` when it is not in the alphabet.
pub fn gsm7_septets(c: char) -> Option<usize> {
    if BASIC.contains(c) {
        Some(1)
    } else if EXTENSION.contains(c) {
        Some(2)
    } else {
        None
    }
}

impl Segments {
    pub fn of(text: &str) -> Segments {
        let mut ucs2_because: Vec<char> = Vec::new();
        for c in text.chars() {
            if gsm7_septets(c).is_none() && !ucs2_because.contains(&c) {
                ucs2_because.push(c);
            }
        }
        if ucs2_because.is_empty() {
            let sizes = text.chars().map(|c| gsm7_septets(c).unwrap_or(1));
            let (units, count) = pack(sizes, GSM7_SINGLE, GSM7_PER_SEGMENT);
            Segments {
                encoding: Encoding::Gsm7,
                count,
                units,
                ucs2_because,
            }
        } else {
            let sizes = text.chars().map(char::len_utf16);
            let (units, count) = pack(sizes, UCS2_SINGLE, UCS2_PER_SEGMENT);
            Segments {
                encoding: Encoding::Ucs2,
                count,
                units,
                ucs2_because,
            }
        }
    }
}

/// Total units of `sizes`, and the segments they fill: one when all fit in
/// `single`, else segments of `per_segment` units, none of the sizes split
/// across two.
fn pack(
    sizes: impl Iterator<Item = usize> + Clone,
    single: usize,
    per_segment: usize,
) -> (usize, usize) {
    let units: usize = sizes.clone().sum();
    if units <= single {
        return (units, 1);
    }
    let (mut count, mut used) = (1, 0);
    for size in sizes {
        if used + size > per_segment {
            count += 1;
            used = 0;
        }
        used += size;
    }
    (units, count)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn basic() -> Vec<char> {
        BASIC.chars().collect()
    }

    fn extension() -> Vec<char> {
        EXTENSION.chars().collect()
    }

    /// Characters outside the alphabet, some of them look-alikes of
    /// characters in it, some outside the Basic Multilingual Plane.
    fn foreign() -> Vec<char> {
        vec![
            'ç', 'á', 'í', 'ó', 'ú', 'ê', '’', '“', '”', '–', '—', '…', '`', 'ł', 'Ş', '日', '本',
            'Ж', 'ع', '\u{a0}', '\t', '😀', '⚾', '🏟',
        ]
        .into_iter()
        .filter(|c| gsm7_septets(*c).is_none())
        .collect()
    }

    fn ceil_div(a: usize, b: usize) -> usize {
        a.div_ceil(b)
    }

    #[test]
    fn the_alphabet_has_128_characters_less_the_escape_and_10_extensions() {
        assert_eq!(BASIC.chars().count(), 127);
        assert_eq!(EXTENSION.chars().count(), 10);
        assert!(basic().iter().all(|c| !EXTENSION.contains(*c)));
    }

    #[test]
    fn the_boundaries_of_one_and_two_segments() {
        let a = |n| "a".repeat(n);
        assert_eq!(Segments::of(&a(160)).count, 1);
        assert_eq!(Segments::of(&a(161)).count, 2);
        assert_eq!(Segments::of(&a(306)).count, 2);
        assert_eq!(Segments::of(&a(307)).count, 3);
        let c = |n| "ç".repeat(n);
        assert_eq!(Segments::of(&c(70)).count, 1);
        assert_eq!(Segments::of(&c(71)).count, 2);
        assert_eq!(Segments::of(&c(134)).count, 2);
        assert_eq!(Segments::of(&c(135)).count, 3);
        assert_eq!(Segments::of("").count, 1);
    }

    #[test]
    fn an_escape_is_not_split_from_its_character() {
        // 152 septets, then € (2): it does not fit in the first segment's
        // 153, so it opens the second.
        let text = format!("{}€{}", "a".repeat(152), "a".repeat(10));
        let s = Segments::of(&text);
        assert_eq!((s.encoding, s.units, s.count), (Encoding::Gsm7, 164, 2));
        let text = format!("{}€{}", "a".repeat(152), "a".repeat(152));
        assert_eq!(Segments::of(&text).units, 306);
        assert_eq!(
            Segments::of(&text).count,
            3,
            "153 would fit 306 in two, the split does not"
        );
    }

    #[test]
    fn the_character_that_made_a_template_ucs2_is_named() {
        let s = Segments::of("You’re up next at the cage — come now!");
        assert_eq!(s.encoding, Encoding::Ucs2);
        assert_eq!(s.ucs2_because, vec!['’', '—']);
        let s = Segments::of("You're up next at the cage - come now! {link}");
        assert_eq!((s.encoding, s.count), (Encoding::Gsm7, 1));
        assert!(s.ucs2_because.is_empty());
    }

    proptest! {
        #[test]
        fn basic_characters_take_one_septet_each(
            text in prop::collection::vec(prop::sample::select(basic()), 0..700)
        ) {
            let text: String = text.into_iter().collect();
            let n = text.chars().count();
            let s = Segments::of(&text);
            prop_assert_eq!(s.encoding, Encoding::Gsm7);
            prop_assert_eq!(s.units, n);
            let expected = if n <= 160 { 1 } else { ceil_div(n, 153) };
            prop_assert_eq!(s.count, expected);
        }

        #[test]
        fn extension_characters_count_double(
            text in prop::collection::vec(
                prop_oneof![3 => prop::sample::select(basic()), 1 => prop::sample::select(extension())],
                0..700,
            )
        ) {
            let ext = text.iter().filter(|c| EXTENSION.contains(**c)).count();
            let text: String = text.into_iter().collect();
            let units = text.chars().count() + ext;
            let s = Segments::of(&text);
            prop_assert_eq!(s.encoding, Encoding::Gsm7);
            prop_assert_eq!(s.units, units);
            if units <= 160 {
                prop_assert_eq!(s.count, 1);
            } else {
                // At most one septet per segment is lost to an escape that
                // would not fit.
                prop_assert!(s.count >= ceil_div(units, 153));
                prop_assert!(s.count <= ceil_div(units, 152));
            }
        }

        #[test]
        fn only_extension_characters_fill_76_to_a_segment(n in 0usize..400) {
            let text: String = extension().into_iter().cycle().take(n).collect();
            let s = Segments::of(&text);
            let expected = if 2 * n <= 160 { 1 } else { ceil_div(n, 76) };
            prop_assert_eq!(s.count, expected);
        }

        #[test]
        fn any_foreign_character_makes_the_text_ucs2(
            before in prop::collection::vec(prop::sample::select(basic()), 0..300),
            foreign in prop::sample::select(foreign()),
            after in prop::collection::vec(prop::sample::select(basic()), 0..300),
        ) {
            let text: String = before.into_iter().chain([foreign]).chain(after).collect();
            let units: usize = text.encode_utf16().count();
            let s = Segments::of(&text);
            prop_assert_eq!(s.encoding, Encoding::Ucs2);
            prop_assert_eq!(&s.ucs2_because, &vec![foreign]);
            prop_assert_eq!(s.units, units);
            if units <= 70 {
                prop_assert_eq!(s.count, 1);
            } else if foreign.len_utf16() == 1 {
                prop_assert_eq!(s.count, ceil_div(units, 67));
            } else {
                prop_assert!(s.count >= ceil_div(units, 67) && s.count <= ceil_div(units, 66));
            }
        }

        #[test]
        fn a_longer_text_never_takes_fewer_segments(
            text in ".{0,400}",
            more in ".{1,20}",
        ) {
            let longer = format!("{text}{more}");
            prop_assert!(Segments::of(&longer).count >= Segments::of(&text).count);
        }
    }
}
