//! QR codes as SVG: the join page's address on the board, and a player's
//! own link on the kiosk.

use qrcode::render::svg;
use qrcode::{EcLevel, QrCode};

/// `text` as an SVG QR code, with the quiet zone scanners need. Medium error
/// correction: a board seen at an angle or a scratched screen still reads.
/// `None` only for text too long for any QR code (about 2,300 bytes).
pub fn svg(text: &str) -> Option<String> {
    let code = QrCode::with_error_correction_level(text.as_bytes(), EcLevel::M).ok()?;
    Some(
        code.render::<svg::Color<'_>>()
            .min_dimensions(240, 240)
            .dark_color(svg::Color("#000"))
            .light_color(svg::Color("#fff"))
            .quiet_zone(true)
            .build(),
    )
}

#[cfg(test)]
mod tests {
    use ondeck_testkit::qr::decode;

    use super::svg;

    #[test]
    fn the_code_reads_back_as_its_text() {
        for text in [
            "https://venue.example/join",
            "http://127.0.0.1:8080/p/AbCdEfGhIjKlMnOpQrStUv",
        ] {
            let drawn = svg(text).expect("fits");
            assert!(drawn.contains("<svg"), "{drawn}");
            assert_eq!(decode(&drawn), text);
        }
    }

    #[test]
    fn text_too_long_for_a_code_is_none() {
        assert!(svg(&"x".repeat(4_000)).is_none());
    }
}
