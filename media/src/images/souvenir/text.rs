//! Text on a souvenir: the font and its metrics, and lines in one or more
//! colours that shrink to fit their width and, past a floor, end in an
//! ellipsis.

use ab_glyph::{Font, FontRef, GlyphId, PxScale, ScaleFont};
use image::{Rgb, RgbImage};
use imageproc::drawing::draw_text_mut;

use super::colour::WHITE;

/// Roboto Condensed Bold; its licence is `assets/fonts/LICENSE-RobotoCondensed.txt`.
pub(super) const FONT: &[u8] = include_bytes!("../../../assets/fonts/RobotoCondensed-Bold.ttf");

/// The font with the metrics the layout needs.
pub(super) struct Type<'f> {
    font: &'f FontRef<'f>,
    /// Cap height over the scale's pixel height (ascent − descent).
    cap_ratio: f32,
}

impl<'f> Type<'f> {
    pub(super) fn new(font: &'f FontRef<'f>) -> Self {
        let height = font.height_unscaled();
        let cap = font
            .outline(font.glyph_id('H'))
            .map(|o| o.bounds.min.y)
            .filter(|cap| *cap > 0.0 && height > 0.0);
        Self {
            font,
            cap_ratio: cap.map_or(0.6, |cap| cap / height),
        }
    }

    /// Whether the font has a glyph for `c` (else it draws its fallback box).
    pub(super) fn has(&self, c: char) -> bool {
        self.font.glyph_id(c).0 != 0
    }

    /// The scale whose capitals are `cap` pixels tall.
    pub(super) fn scale_for_cap(&self, cap: f32) -> f32 {
        cap / self.cap_ratio
    }

    /// The advance width of `text` at `scale`, kerning included.
    fn width(&self, scale: f32, text: &str) -> f32 {
        let font = self.font.as_scaled(scale);
        let mut width = 0.0;
        let mut prev: Option<GlyphId> = None;
        for c in text.chars() {
            let id = font.glyph_id(c);
            if let Some(prev) = prev {
                width += font.kern(prev, id);
            }
            width += font.h_advance(id);
            prev = Some(id);
        }
        width
    }
}

/// A line of text in one or more colours.
pub(super) struct Line {
    segments: Vec<(String, Rgb<u8>)>,
}

/// A line at the scale (and length) that fits its width.
pub(super) struct Fitted {
    segments: Vec<(String, Rgb<u8>)>,
    scale: f32,
    pub(super) width: f32,
    /// Cap height and descent in pixels, for the layout.
    pub(super) cap: f32,
    pub(super) descent: f32,
}

/// Longer input is cut before it is measured: nothing that long fits anyway.
const MAX_CHARS: usize = 160;
const ELLIPSIS: char = '…';

impl Line {
    pub(super) fn new(segments: Vec<(String, Rgb<u8>)>) -> Self {
        let mut left = MAX_CHARS;
        let segments = segments
            .into_iter()
            .map(|(text, colour)| {
                let text: String = text.chars().take(left).collect();
                left -= text.chars().count();
                (text, colour)
            })
            .collect();
        Self { segments }
    }

    fn text(&self) -> String {
        self.segments.iter().map(|(t, _)| t.as_str()).collect()
    }

    /// At `scale` if it fits in `max_width`; else shrunk down to
    /// `min_factor × scale`; else cut with an ellipsis at that floor.
    pub(super) fn fit(self, type_: &Type, scale: f32, min_factor: f32, max_width: f32) -> Fitted {
        let max_width = max_width.max(1.0);
        let text = self.text();
        let full = type_.width(scale, &text);
        let fitted = |segments, scale: f32, width| Fitted {
            segments,
            scale,
            width,
            cap: scale * type_.cap_ratio,
            descent: -type_.font.as_scaled(scale).descent(),
        };
        if full <= max_width {
            return fitted(self.segments, scale, full);
        }
        let floor = scale * min_factor;
        // Width is linear in the scale; the 0.5 % covers rounding.
        let shrunk = scale * max_width / full * 0.995;
        if shrunk >= floor {
            let width = type_.width(shrunk, &text);
            return fitted(self.segments, shrunk, width);
        }
        // The longest prefix that fits with an ellipsis, by bisection.
        let chars: Vec<char> = text.chars().collect();
        let with_ellipsis = |n: usize| {
            let mut t: String = chars[..n].iter().collect();
            t.truncate(t.trim_end().len());
            t.push(ELLIPSIS);
            t
        };
        let (mut lo, mut hi) = (0, chars.len());
        while lo < hi {
            let mid = (lo + hi).div_ceil(2);
            if type_.width(floor, &with_ellipsis(mid)) <= max_width {
                lo = mid;
            } else {
                hi = mid - 1;
            }
        }
        let segments = truncate_segments(self.segments, lo);
        let width = type_.width(floor, &with_ellipsis(lo));
        fitted(segments, floor, width)
    }
}

/// The first `n` characters of the segments, trimmed, with an ellipsis.
fn truncate_segments(segments: Vec<(String, Rgb<u8>)>, n: usize) -> Vec<(String, Rgb<u8>)> {
    let mut left = n;
    let mut out: Vec<(String, Rgb<u8>)> = Vec::new();
    for (text, colour) in segments {
        if left == 0 {
            break;
        }
        let part: String = text.chars().take(left).collect();
        left -= part.chars().count();
        out.push((part, colour));
    }
    // Trailing spaces go, then the ellipsis joins the last segment.
    while let Some((text, _)) = out.last_mut() {
        text.truncate(text.trim_end().len());
        if text.is_empty() {
            out.pop();
        } else {
            break;
        }
    }
    match out.last_mut() {
        Some((text, _)) => text.push(ELLIPSIS),
        None => out.push((ELLIPSIS.to_string(), WHITE)),
    }
    out
}

impl Fitted {
    pub(super) fn is_empty(&self) -> bool {
        self.segments.iter().all(|(t, _)| t.is_empty())
    }

    /// Draws the line with its left edge at `x` and its baseline at `baseline`.
    pub(super) fn draw(&self, img: &mut RgbImage, type_: &Type, x: f32, baseline: f32) {
        let ascent = type_.font.as_scaled(self.scale).ascent();
        let y = (baseline - ascent).round() as i32;
        let mut x = x;
        for (text, colour) in &self.segments {
            if text.is_empty() {
                continue;
            }
            draw_text_mut(
                img,
                *colour,
                x.round() as i32,
                y,
                PxScale::from(self.scale),
                type_.font,
                text,
            );
            x += type_.width(self.scale, text);
        }
    }
}

/// Control characters (a stray newline or tab) become spaces; runs of
/// whitespace collapse.
pub(super) fn clean(s: &str) -> String {
    let mut out = String::with_capacity(s.len().min(4 * MAX_CHARS));
    for word in s
        .chars()
        .take(MAX_CHARS)
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect::<String>()
        .split_whitespace()
    {
        if !out.is_empty() {
            out.push(' ');
        }
        out.push_str(word);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn long_text_is_cut_within_the_width() {
        let font = FontRef::try_from_slice(FONT).expect("font");
        let type_ = Type::new(&font);
        let line = Line::new(vec![("W".repeat(300), WHITE)]);
        let fitted = line.fit(&type_, 100.0, 0.5, 500.0);
        assert!(fitted.width <= 500.0, "{}", fitted.width);
        assert_eq!(fitted.scale, 50.0);
        let text: String = fitted.segments.iter().map(|(t, _)| t.as_str()).collect();
        assert!(text.ends_with(ELLIPSIS), "{text}");
        assert!(text.chars().count() > 5);
        // A slightly long line shrinks instead.
        let line = Line::new(vec![("ADA LOVELACE".to_owned(), WHITE)]);
        let natural = type_.width(100.0, "ADA LOVELACE");
        let fitted = line.fit(&type_, 100.0, 0.5, natural * 0.8);
        assert!(fitted.width <= natural * 0.8);
        assert!(fitted.scale < 100.0 && fitted.scale > 75.0);
    }
}
