//! The souvenir image a player gets after a game: a square with the
//! player's photo (cover-cropped) or a team-coloured background, a frame, and
//! a translucent bar at the bottom with the player's name, score, distance,
//! home runs, team and show.
//!
//! Everything scales with the side, so any size from [`MIN_SIZE`] to
//! [`MAX_SIZE`] gives the same picture. Text is set in Roboto Condensed Bold
//! (Apache-2.0, `media/assets/fonts/`), shrunk to fit the width and, past a
//! floor, cut with an ellipsis; characters the font lacks show as its
//! fallback glyph. The per-pixel work is kept to one pass over the
//! background, one blend over the bar, and the text's own pixels.
//!
//! `card` holds what goes on a souvenir and its limits; `layout` places
//! everything; `cover` crops and scales the photo, `text` fits and draws
//! the lines, `colour` and `paint` fill the rest, and `format` encodes the
//! result.

mod card;
mod colour;
mod cover;
mod format;
mod layout;
mod paint;
mod text;

pub use card::{DEFAULT_SIZE, MAX_SIZE, MIN_SIZE, RenderError, Souvenir};
pub use colour::team_colour;
pub use format::{Format, JPEG_QUALITY, UnknownFormat, encode};
pub use layout::draw;

/// Renders and encodes a `size`×`size` souvenir.
pub fn render(s: &Souvenir, size: u32, format: Format) -> Result<Vec<u8>, RenderError> {
    let image = draw(s, size)?;
    encode(&image, format)
}

#[cfg(test)]
mod tests {
    use super::colour::NAVY;
    use super::*;
    use image::{DynamicImage, ImageFormat, Rgb, RgbImage};

    fn souvenir(photo: Option<&DynamicImage>) -> Souvenir<'_> {
        Souvenir::sample(photo)
    }

    fn photo(w: u32, h: u32) -> DynamicImage {
        DynamicImage::ImageRgb8(RgbImage::from_fn(w, h, |x, y| {
            Rgb([(x % 256) as u8, (y % 256) as u8, ((x + y) % 256) as u8])
        }))
    }

    fn decode(bytes: &[u8], format: ImageFormat) -> DynamicImage {
        image::load_from_memory_with_format(bytes, format).expect("decodes")
    }

    #[test]
    fn jpeg_and_png_decode_back_to_the_size() {
        let p = photo(320, 240);
        for s in [souvenir(None), souvenir(Some(&p))] {
            let jpeg = render(&s, 400, Format::Jpeg).expect("renders");
            let img = decode(&jpeg, ImageFormat::Jpeg);
            assert_eq!((img.width(), img.height()), (400, 400));
            let png = render(&s, 300, Format::Png).expect("renders");
            let img = decode(&png, ImageFormat::Png);
            assert_eq!((img.width(), img.height()), (300, 300));
        }
    }

    #[test]
    fn the_default_size_renders() {
        let p = photo(1600, 1200);
        let jpeg = render(&souvenir(Some(&p)), DEFAULT_SIZE, Format::Jpeg).expect("renders");
        let img = decode(&jpeg, ImageFormat::Jpeg);
        assert_eq!(img.width(), DEFAULT_SIZE);
    }

    #[test]
    fn photos_of_any_shape_and_kind_render() {
        let shapes = [(1, 1), (1, 500), (500, 1), (2000, 3000), (250, 250)];
        for (w, h) in shapes {
            let p = photo(w, h);
            let img = draw(&souvenir(Some(&p)), 250).expect("renders");
            assert_eq!(img.dimensions(), (250, 250), "{w}×{h}");
        }
        let rgba = DynamicImage::ImageRgba16(image::ImageBuffer::new(90, 60));
        let luma = DynamicImage::ImageLuma8(image::ImageBuffer::new(60, 90));
        for p in [rgba, luma] {
            assert!(draw(&souvenir(Some(&p)), 250).is_ok());
        }
    }

    #[test]
    fn sizes_outside_the_range_are_errors() {
        for size in [0, 10, MIN_SIZE - 1, MAX_SIZE + 1, u32::MAX] {
            assert!(matches!(
                render(&souvenir(None), size, Format::Png),
                Err(RenderError::InvalidSize(_))
            ));
        }
    }

    #[test]
    fn long_and_unusual_text_does_not_panic() {
        let long = "W".repeat(300);
        let spaced = "a ".repeat(150);
        let names = [
            long.as_str(),
            spaced.as_str(),
            "😀🎉⚾ Ünïcödé",
            "山田 太郎",
            "محمد",
            "\u{0301}\u{200D}",
            "",
            "   ",
            "line\nbreak\ttab\u{0}",
        ];
        for name in names {
            let s = Souvenir {
                first_name: name,
                last_name: Some(name),
                team: Some(name),
                show: name,
                score: i32::MIN,
                distance: i32::MAX,
                homeruns: -1,
                photo: None,
            };
            for size in [MIN_SIZE, 1080] {
                let img = draw(&s, size).expect("renders");
                assert_eq!(img.width(), size);
            }
        }
    }

    #[test]
    fn teams_have_their_own_colours() {
        let teams = [
            "Sluggers", "Comets", "Bombers", "Rockets", "Owls", "Giants", "Red Sox", "Yankees",
            "Cubs", "Mets", "Dodgers", "Tigers", "Bears", "Hawks", "Lions", "Sharks",
        ];
        let colours: std::collections::HashSet<_> =
            teams.iter().map(|t| team_colour(Some(t)).0).collect();
        // A hash into 14 colours: some teams share one, most do not.
        assert!(colours.len() >= 8, "{colours:?}");
        assert_ne!(team_colour(Some("Sluggers")), team_colour(Some("Comets")));
        // Stable, case-insensitive, and navy without a team.
        assert_eq!(
            team_colour(Some("Sluggers")),
            team_colour(Some(" SLUGGERS "))
        );
        assert_eq!(team_colour(None), NAVY);
        assert_eq!(team_colour(Some("  ")), NAVY);

        // The rendered backgrounds differ too (sampled above the bar).
        let background = |team| {
            let s = Souvenir {
                team,
                ..souvenir(None)
            };
            let img = draw(&s, 400).expect("renders");
            *img.get_pixel(60, 60)
        };
        let a = background(Some("Sluggers"));
        let b = background(Some("Comets"));
        let none = background(None);
        assert_ne!(a, b);
        assert_ne!(a, none);
    }
}
