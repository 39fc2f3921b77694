//! Where everything goes on a souvenir: the background, the frame, and the
//! bar with its lines of text, in sizes that scale with the side.

use ab_glyph::FontRef;
use image::RgbImage;

use super::card::{MAX_SIZE, MIN_SIZE, RenderError, Souvenir};
use super::colour::{BLACK, GOLD, GREY, LIGHT, WHITE, accent_colour, darker, mix, team_colour};
use super::cover::cover;
use super::paint::{blend_rows, fill, frame, frame_inset, gradient};
use super::text::{FONT, Line, Type, clean};

// Sizes at the default side of 1080 px; everything scales with the side.

/// The outer band in the team's colour, and the white rule inside it.
const BAND: f32 = 30.0;
const RULE: f32 = 7.0;
/// The bar: its top rule, its padding, and its opacity.
const ACCENT: f32 = 8.0;
const PAD_X: f32 = 48.0;
const PAD_TOP: f32 = 50.0;
const PAD_BOTTOM: f32 = 48.0;
const BAR_OPACITY: f32 = 0.62;
/// Cap heights of the lines, and the space above each after the first.
const NAME: f32 = 92.0;
const STATS: f32 = 46.0;
const STATS_GAP: f32 = 38.0;
const TEAM: f32 = 36.0;
const TEAM_GAP: f32 = 34.0;
const SHOW: f32 = 32.0;
const SHOW_GAP: f32 = 26.0;
/// The team's swatch before its name, and the space after it.
const SWATCH_GAP: f32 = 16.0;
/// The initials on a background without a photo.
const INITIALS: f32 = 400.0;
const INITIALS_TINT: f32 = 0.11;

/// Renders a `size`×`size` souvenir without encoding it.
pub fn draw(s: &Souvenir, size: u32) -> Result<RgbImage, RenderError> {
    if !(MIN_SIZE..=MAX_SIZE).contains(&size) {
        return Err(RenderError::InvalidSize(size));
    }
    let font = FontRef::try_from_slice(FONT).map_err(|_| RenderError::Font)?;
    let type_ = Type::new(&font);
    let u = size as f32 / 1080.0; // one layout unit: a pixel at the default size
    let px = |v: f32| ((v * u).round() as u32).max(1);
    let team_colour = team_colour(s.team);

    // Background: the photo, or the team's colour with the initials.
    let mut img = match s.photo {
        Some(photo) if photo.width() > 0 && photo.height() > 0 => cover(photo, size),
        _ => {
            let mut img = gradient(size, team_colour);
            // Only letters the font has: a watermark of fallback boxes is no use.
            let initials: String = initials(s.first_name, s.last_name)
                .chars()
                .filter(|&c| type_.has(c))
                .collect();
            let tint = mix(team_colour, WHITE, INITIALS_TINT);
            let line = Line::new(vec![(initials, tint)]).fit(
                &type_,
                type_.scale_for_cap(INITIALS * u),
                0.3,
                size as f32 * 0.8,
            );
            // Centred across, and in the part above the bar.
            let x = (size as f32 - line.width) / 2.0;
            let baseline = size as f32 * 0.33 + line.cap / 2.0;
            line.draw(&mut img, &type_, x, baseline);
            img
        }
    };

    // The frame: an outer band in the team's colour, then a white rule.
    let band = px(BAND);
    let inner = band + px(RULE);
    frame(&mut img, band, darker(team_colour, 0.15));
    frame_inset(&mut img, band, px(RULE), WHITE);

    // The bar's lines: (space above, line, width of a leading swatch).
    let text_left = inner as f32 + PAD_X * u;
    let max_width = size as f32 - 2.0 * text_left;
    let fit = |line: Line, cap: f32, min: f32, width: f32| {
        line.fit(&type_, type_.scale_for_cap(cap * u), min, width)
    };
    let name = Line::new(vec![(display_name(s.first_name, s.last_name), WHITE)]);
    let mut lines = vec![
        (0.0, fit(name, NAME, 0.5, max_width), 0.0),
        (
            STATS_GAP * u,
            fit(stats_line(s), STATS, 0.5, max_width),
            0.0,
        ),
    ];
    if let Some(team) = s.team.map(clean).filter(|t| !t.is_empty()) {
        // A swatch of the team's colour, as tall as the capitals, leads.
        let swatch = TEAM * u;
        let width = max_width - swatch - SWATCH_GAP * u;
        let line = Line::new(vec![(team.to_uppercase(), LIGHT)]);
        lines.push((TEAM_GAP * u, fit(line, TEAM, 0.6, width), swatch));
    }
    let show = Line::new(vec![(clean(s.show), GREY)]);
    lines.push((SHOW_GAP * u, fit(show, SHOW, 0.6, max_width), 0.0));
    lines.retain(|(_, line, _)| !line.is_empty());

    let descent = lines.last().map_or(0.0, |(_, line, _)| line.descent);
    let content: f32 = lines.iter().map(|(gap, line, _)| gap + line.cap).sum();
    let height = PAD_TOP * u + content + PAD_BOTTOM * u + descent * 0.5;
    let bar_bottom = size - inner;
    let bar_top = bar_bottom.saturating_sub(height.round() as u32).max(inner);
    blend_rows(
        &mut img,
        inner,
        size - inner,
        bar_top,
        bar_bottom,
        BLACK,
        BAR_OPACITY,
    );
    let accent = accent_colour(s.team, team_colour);
    fill(
        &mut img,
        inner,
        size - inner,
        bar_top,
        bar_top + px(ACCENT),
        accent,
    );

    let mut baseline = bar_top as f32 + PAD_TOP * u;
    for (gap, line, swatch) in &lines {
        baseline += gap + line.cap;
        let mut x = text_left;
        if *swatch > 0.0 {
            let side = line.cap.round() as u32;
            let (left, top) = (x.round() as u32, (baseline - line.cap).round() as u32);
            fill(&mut img, left, left + side, top, top + side, accent);
            x += line.cap + SWATCH_GAP * u;
        }
        line.draw(&mut img, &type_, x, baseline);
    }
    Ok(img)
}

/// First name and last initial, in capitals: "ADA L.".
fn display_name(first: &str, last: Option<&str>) -> String {
    let mut name = clean(first).to_uppercase();
    if let Some(initial) = last.and_then(|l| clean(l).chars().next()) {
        if !name.is_empty() {
            name.push(' ');
        }
        name.extend(initial.to_uppercase());
        name.push('.');
    }
    name
}

/// "AL" for Ada Lovelace, "A" for Ada.
fn initials(first: &str, last: Option<&str>) -> String {
    [Some(first), last]
        .into_iter()
        .flatten()
        .filter_map(|s| clean(s).chars().next())
        .flat_map(char::to_uppercase)
        .collect()
}

/// "SCORE 1,234 · 410 FT · 4 HR", labels in grey and figures in white.
fn stats_line(s: &Souvenir) -> Line {
    let sep = ("  ·  ".to_owned(), GREY);
    Line::new(vec![
        ("SCORE ".to_owned(), GREY),
        (thousands(s.score), GOLD),
        sep.clone(),
        (thousands(s.distance), WHITE),
        (" FT".to_owned(), GREY),
        sep,
        (thousands(s.homeruns), WHITE),
        (" HR".to_owned(), GREY),
    ])
}

/// 1234567 → "1,234,567".
fn thousands(n: i32) -> String {
    let digits = n.unsigned_abs().to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3 + 1);
    if n < 0 {
        out.push('-');
    }
    for (i, d) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(d);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_and_numbers_are_formatted() {
        assert_eq!(display_name("Ada", Some("Lovelace")), "ADA L.");
        assert_eq!(display_name(" ada ", Some("  ")), "ADA");
        assert_eq!(display_name("Ada", None), "ADA");
        assert_eq!(display_name("jürgen", Some("ßmith")), "JÜRGEN SS.");
        assert_eq!(initials("Ada", Some("lovelace")), "AL");
        assert_eq!(thousands(0), "0");
        assert_eq!(thousands(999), "999");
        assert_eq!(thousands(1234), "1,234");
        assert_eq!(thousands(1_000_000), "1,000,000");
        assert_eq!(thousands(-1234), "-1,234");
        assert_eq!(thousands(i32::MIN), "-2,147,483,648");
    }
}
