//! The souvenir image a player gets after a game (API §5): a square with the
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

use std::fmt;
use std::str::FromStr;

use ab_glyph::{Font, FontRef, GlyphId, PxScale, ScaleFont};
use image::codecs::jpeg::JpegEncoder;
use image::codecs::png::{CompressionType, FilterType as PngFilter, PngEncoder};
use image::{DynamicImage, ImageEncoder, Rgb, RgbImage};
use imageproc::drawing::draw_text_mut;

/// Roboto Condensed Bold; its licence is `assets/fonts/LICENSE-RobotoCondensed.txt`.
const FONT: &[u8] = include_bytes!("../../../assets/fonts/RobotoCondensed-Bold.ttf");

/// The side of a souvenir when `SOUVENIR_SIZE` is not set.
pub const DEFAULT_SIZE: u32 = 1080;
/// The smallest side [`render`] accepts (below it the text is not legible).
pub const MIN_SIZE: u32 = 200;
/// The largest side [`render`] accepts.
pub const MAX_SIZE: u32 = 4096;
/// JPEG quality: small enough for a crowded stadium network, no visible blocking.
pub const JPEG_QUALITY: u8 = 85;

/// What goes on a souvenir.
#[derive(Clone, Copy, Debug)]
pub struct Souvenir<'a> {
    pub first_name: &'a str,
    pub last_name: Option<&'a str>,
    pub team: Option<&'a str>,
    pub show: &'a str,
    pub score: i32,
    pub distance: i32,
    pub homeruns: i32,
    pub photo: Option<&'a DynamicImage>,
}

/// The encoding of a souvenir (`SOUVENIR_FORMAT`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Format {
    #[default]
    Jpeg,
    Png,
}

impl Format {
    /// `jpg` or `png`, as in `souvenirs/{game_id}.jpg`.
    pub fn extension(self) -> &'static str {
        match self {
            Self::Jpeg => "jpg",
            Self::Png => "png",
        }
    }

    /// `image/jpeg` or `image/png`.
    pub fn content_type(self) -> &'static str {
        match self {
            Self::Jpeg => "image/jpeg",
            Self::Png => "image/png",
        }
    }
}

impl fmt::Display for Format {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Jpeg => "jpeg",
            Self::Png => "png",
        })
    }
}

/// Parses `jpeg`, `jpg` or `png` (any case), as `SOUVENIR_FORMAT` holds.
impl FromStr for Format {
    type Err = UnknownFormat;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.trim().to_ascii_lowercase().as_str() {
            "jpeg" | "jpg" => Ok(Self::Jpeg),
            "png" => Ok(Self::Png),
            _ => Err(UnknownFormat(s.to_owned())),
        }
    }
}

/// A souvenir format other than `jpeg` or `png`.
#[derive(Debug, thiserror::Error)]
#[error("unknown souvenir format {0:?}: expected jpeg or png")]
pub struct UnknownFormat(pub String);

#[derive(Debug, thiserror::Error)]
pub enum RenderError {
    #[error("souvenir size {0} is outside {MIN_SIZE}..={MAX_SIZE}")]
    InvalidSize(u32),
    #[error("the embedded font cannot be read")]
    Font,
    #[error("encoding the souvenir failed")]
    Encode(#[from] image::ImageError),
}

/// Renders and encodes a `size`×`size` souvenir.
pub fn render(s: &Souvenir, size: u32, format: Format) -> Result<Vec<u8>, RenderError> {
    let image = draw(s, size)?;
    encode(&image, format)
}

/// Sizes at the default side of 1080 px; everything scales with the side.
mod layout {
    /// The outer band in the team's colour, and the white rule inside it.
    pub const BAND: f32 = 30.0;
    pub const RULE: f32 = 7.0;
    /// The bar: its top rule, its padding, and its opacity.
    pub const ACCENT: f32 = 8.0;
    pub const PAD_X: f32 = 48.0;
    pub const PAD_TOP: f32 = 50.0;
    pub const PAD_BOTTOM: f32 = 48.0;
    pub const BAR_OPACITY: f32 = 0.62;
    /// Cap heights of the lines, and the space above each after the first.
    pub const NAME: f32 = 92.0;
    pub const STATS: f32 = 46.0;
    pub const STATS_GAP: f32 = 38.0;
    pub const TEAM: f32 = 36.0;
    pub const TEAM_GAP: f32 = 34.0;
    pub const SHOW: f32 = 32.0;
    pub const SHOW_GAP: f32 = 26.0;
    /// The team's swatch before its name, and the space after it.
    pub const SWATCH_GAP: f32 = 16.0;
    /// The initials on a background without a photo.
    pub const INITIALS: f32 = 400.0;
    pub const INITIALS_TINT: f32 = 0.11;
}

/// Renders a `size`×`size` souvenir without encoding it.
pub fn draw(s: &Souvenir, size: u32) -> Result<RgbImage, RenderError> {
    use layout::*;

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

/// Encodes a souvenir: JPEG at [`JPEG_QUALITY`], or PNG with fast compression.
pub fn encode(image: &RgbImage, format: Format) -> Result<Vec<u8>, RenderError> {
    let (w, h) = image.dimensions();
    // A photographic 1080² JPEG is ~200–400 KB; PNG several MB.
    let mut out = Vec::with_capacity(match format {
        Format::Jpeg => 512 * 1024,
        Format::Png => 3 * 1024 * 1024,
    });
    match format {
        Format::Jpeg => JpegEncoder::new_with_quality(&mut out, JPEG_QUALITY).write_image(
            image.as_raw(),
            w,
            h,
            image::ExtendedColorType::Rgb8,
        )?,
        Format::Png => {
            PngEncoder::new_with_quality(&mut out, CompressionType::Fast, PngFilter::Adaptive)
                .write_image(image.as_raw(), w, h, image::ExtendedColorType::Rgb8)?
        }
    }
    Ok(out)
}

// ---------------------------------------------------------------- colours

const WHITE: Rgb<u8> = Rgb([255, 255, 255]);
const BLACK: Rgb<u8> = Rgb([0, 0, 0]);
const LIGHT: Rgb<u8> = Rgb([236, 238, 242]);
const GREY: Rgb<u8> = Rgb([184, 190, 200]);
const GOLD: Rgb<u8> = Rgb([255, 200, 61]);
/// The background without a team.
const NAVY: Rgb<u8> = Rgb([22, 40, 84]);

/// Strong colours that white text and a white frame stand out against.
const PALETTE: [Rgb<u8>; 14] = [
    Rgb([198, 40, 40]),  // red
    Rgb([173, 20, 87]),  // raspberry
    Rgb([106, 27, 154]), // purple
    Rgb([69, 39, 160]),  // indigo
    Rgb([21, 101, 192]), // blue
    Rgb([2, 119, 189]),  // sky
    Rgb([0, 131, 143]),  // cyan
    Rgb([0, 105, 92]),   // teal
    Rgb([46, 125, 50]),  // green
    Rgb([85, 139, 47]),  // grass
    Rgb([239, 108, 0]),  // orange
    Rgb([216, 67, 21]),  // vermilion
    Rgb([136, 14, 79]),  // maroon
    Rgb([216, 27, 96]),  // pink
];

/// The team's colour: a hash of its name (trimmed, case-insensitive, as team
/// names are unique) into [`PALETTE`]; navy without a team.
pub fn team_colour(team: Option<&str>) -> Rgb<u8> {
    let Some(team) = team.map(str::trim).filter(|t| !t.is_empty()) else {
        return NAVY;
    };
    // FNV-1a: stable across builds and platforms, unlike std's hasher.
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for c in team.chars().flat_map(char::to_lowercase) {
        let mut buf = [0; 4];
        for &b in c.encode_utf8(&mut buf).as_bytes() {
            hash ^= u64::from(b);
            hash = hash.wrapping_mul(0x0000_0100_0000_01b3);
        }
    }
    // FNV's low bits are weak: mix the high ones down before the modulo.
    hash ^= hash >> 33;
    hash = hash.wrapping_mul(0xff51_afd7_ed55_8ccd);
    hash ^= hash >> 33;
    PALETTE[(hash % PALETTE.len() as u64) as usize]
}

/// The bar's top rule: the team's colour, gold without a team.
fn accent_colour(team: Option<&str>, colour: Rgb<u8>) -> Rgb<u8> {
    match team.map(str::trim) {
        Some(t) if !t.is_empty() => lighter_if_dark(colour),
        _ => GOLD,
    }
}

fn mix(a: Rgb<u8>, b: Rgb<u8>, t: f32) -> Rgb<u8> {
    let m = |x: u8, y: u8| (f32::from(x) + (f32::from(y) - f32::from(x)) * t).round() as u8;
    Rgb([m(a[0], b[0]), m(a[1], b[1]), m(a[2], b[2])])
}

fn darker(c: Rgb<u8>, t: f32) -> Rgb<u8> {
    mix(c, BLACK, t)
}

/// Lightens the darkest palette colours so they show on the dark bar.
fn lighter_if_dark(c: Rgb<u8>) -> Rgb<u8> {
    let luma = 0.299 * f32::from(c[0]) + 0.587 * f32::from(c[1]) + 0.114 * f32::from(c[2]);
    if luma < 90.0 { mix(c, WHITE, 0.25) } else { c }
}

// ---------------------------------------------------------------- pixels

/// The photo scaled to fill the square and cropped to it: centred across,
/// and a little above centre on a portrait photo, where the faces are.
fn cover(photo: &DynamicImage, size: u32) -> RgbImage {
    let (w, h) = (photo.width(), photo.height());
    let side = w.min(h);
    let (x, y) = ((w - side) / 2, (h - side) / 3);
    let converted;
    let rgb = match photo {
        DynamicImage::ImageRgb8(rgb) => rgb,
        other => {
            converted = other.crop_imm(x, y, side, side).to_rgb8();
            return cover_square(View::whole(&converted), size);
        }
    };
    cover_square(View::new(rgb, x, y, side), size)
}

fn cover_square(view: View, size: u32) -> RgbImage {
    // Halving with a 2×2 box is cheap and clean; the filter does the rest,
    // with at most a handful of taps. (At most six halvings: 8000 → 200.)
    if view.side >= 2 * size as usize {
        let halved = halve(&view);
        return cover_square(View::whole(&halved), size);
    }
    resample(&view, size as usize)
}

/// A square region of an RGB image, without copying it.
struct View<'a> {
    raw: &'a [u8],
    /// Bytes per row of `raw`.
    stride: usize,
    /// Byte offset of the region's top-left pixel.
    origin: usize,
    side: usize,
}

impl<'a> View<'a> {
    fn new(img: &'a RgbImage, x: u32, y: u32, side: u32) -> Self {
        let stride = img.width() as usize * 3;
        Self {
            raw: img.as_raw(),
            stride,
            origin: y as usize * stride + x as usize * 3,
            side: side as usize,
        }
    }

    fn whole(img: &'a RgbImage) -> Self {
        Self::new(img, 0, 0, img.width().min(img.height()))
    }

    /// Row `y` of the region.
    fn row(&self, y: usize) -> &'a [u8] {
        &self.raw[self.origin + y * self.stride..][..self.side * 3]
    }
}

/// Averages 2×2 blocks (an odd last row or column is dropped).
fn halve(src: &View) -> RgbImage {
    let half = src.side / 2;
    let mut out = RgbImage::new(half as u32, half as u32);
    for (y, row) in out.chunks_exact_mut(half * 3).enumerate() {
        let (top, bottom) = (src.row(2 * y), src.row(2 * y + 1));
        for ((px, t), b) in row
            .chunks_exact_mut(3)
            .zip(top.chunks_exact(6))
            .zip(bottom.chunks_exact(6))
        {
            for c in 0..3 {
                let sum =
                    u16::from(t[c]) + u16::from(t[c + 3]) + u16::from(b[c]) + u16::from(b[c + 3]);
                px[c] = ((sum + 2) / 4) as u8;
            }
        }
    }
    out
}

/// Fixed-point weights of a triangle (bilinear) filter from `src` samples
/// to `dst`, widened by the ratio when shrinking, as `image`'s `Triangle`.
struct Taps {
    /// Per destination sample: the first source sample and the range of
    /// its weights in `weights` (which sum to `1 << SHIFT`).
    spans: Vec<(usize, usize, usize)>,
    weights: Vec<i32>,
}

const SHIFT: u32 = 14;

impl Taps {
    fn new(src: usize, dst: usize) -> Self {
        let ratio = src as f32 / dst as f32;
        // The filter's half-width in source samples.
        let scale = ratio.max(1.0);
        let one = (1 << SHIFT) as f32;
        let mut spans = Vec::with_capacity(dst);
        let mut weights = Vec::with_capacity(dst * (2 * scale.ceil() as usize + 1));
        let mut row = Vec::new();
        for i in 0..dst {
            let centre = (i as f32 + 0.5) * ratio;
            let first = (centre - scale).floor().max(0.0) as usize;
            let last = ((centre + scale).ceil() as usize).min(src);
            row.clear();
            row.extend(
                (first..last).map(|j| (1.0 - ((j as f32 + 0.5 - centre) / scale).abs()).max(0.0)),
            );
            let total: f32 = row.iter().sum();
            let start = weights.len();
            if total <= 0.0 {
                // Only when the source is empty of samples here; take the nearest.
                spans.push(((centre as usize).min(src - 1), start, start + 1));
                weights.push(1 << SHIFT);
                continue;
            }
            let mut fixed: Vec<i32> = row
                .iter()
                .map(|w| (w / total * one).round() as i32)
                .collect();
            // Rounding leftovers go to the heaviest tap, so flat stays flat.
            let sum: i32 = fixed.iter().sum();
            if let Some(heaviest) = (0..fixed.len()).max_by_key(|&k| fixed[k]) {
                fixed[heaviest] += (1 << SHIFT) - sum;
            }
            // Zero weights at either end are skipped.
            let lead = fixed.iter().take_while(|&&w| w == 0).count();
            let trail = fixed.iter().rev().take_while(|&&w| w == 0).count();
            let kept = &fixed[lead..fixed.len() - trail];
            weights.extend_from_slice(kept);
            spans.push((first + lead, start, start + kept.len()));
        }
        Self { spans, weights }
    }

    /// The first source sample of destination sample `i`, and its weights.
    fn of(&self, i: usize) -> (usize, &[i32]) {
        let (first, from, to) = self.spans[i];
        (first, &self.weights[from..to])
    }
}

fn to_u8(acc: i32) -> u8 {
    ((acc + (1 << (SHIFT - 1))) >> SHIFT).clamp(0, 255) as u8
}

/// Resizes a square region to `n`×`n`: a separable triangle filter in fixed
/// point, down first (a whole row at a time, which vectorises), then across
/// (several times faster than `imageops::resize`).
fn resample(src: &View, n: usize) -> RgbImage {
    let side = src.side;
    let size = n as u32;
    let mut out = RgbImage::new(size, size);
    if side == n {
        for (y, row) in out.chunks_exact_mut(n * 3).enumerate() {
            row.copy_from_slice(src.row(y));
        }
        return out;
    }
    // Down: `n` rows of the region's full width.
    let down = Taps::new(side, n);
    let mut tmp = vec![0u8; n * side * 3];
    let mut acc = vec![0i32; side * 3];
    for (y, tmp_row) in tmp.chunks_exact_mut(side * 3).enumerate() {
        let (first, weights) = down.of(y);
        acc.fill(0);
        for (k, &w) in weights.iter().enumerate() {
            for (a, &v) in acc.iter_mut().zip(src.row(first + k)) {
                *a += w * i32::from(v);
            }
        }
        for (t, &a) in tmp_row.iter_mut().zip(&acc) {
            *t = to_u8(a);
        }
    }
    // Across: each of those rows to `n` columns.
    let across = Taps::new(side, n);
    for (tmp_row, out_row) in tmp.chunks_exact(side * 3).zip(out.chunks_exact_mut(n * 3)) {
        for (x, px) in out_row.chunks_exact_mut(3).enumerate() {
            let (first, weights) = across.of(x);
            let taps = &tmp_row[first * 3..][..weights.len() * 3];
            let mut acc = [0i32; 3];
            for (&w, s) in weights.iter().zip(taps.chunks_exact(3)) {
                acc[0] += w * i32::from(s[0]);
                acc[1] += w * i32::from(s[1]);
                acc[2] += w * i32::from(s[2]);
            }
            px[0] = to_u8(acc[0]);
            px[1] = to_u8(acc[1]);
            px[2] = to_u8(acc[2]);
        }
    }
    out
}

/// The team colour from a little lighter at the top to darker at the bottom.
fn gradient(size: u32, colour: Rgb<u8>) -> RgbImage {
    let top = mix(colour, WHITE, 0.08);
    let bottom = darker(colour, 0.35);
    let mut img = RgbImage::new(size, size);
    let denominator = (size - 1).max(1) as f32;
    for (y, row) in img.rows_mut().enumerate() {
        let c = mix(top, bottom, y as f32 / denominator);
        for p in row {
            *p = c;
        }
    }
    img
}

/// Fills the rectangle `[x0, x1) × [y0, y1)`, clipped to the image.
fn fill(img: &mut RgbImage, x0: u32, x1: u32, y0: u32, y1: u32, c: Rgb<u8>) {
    let (w, h) = img.dimensions();
    let (x1, y1) = (x1.min(w), y1.min(h));
    for y in y0..y1 {
        for x in x0..x1 {
            img.put_pixel(x, y, c);
        }
    }
}

/// Blends `c` at opacity `alpha` over `[x0, x1) × [y0, y1)`, in integers.
fn blend_rows(img: &mut RgbImage, x0: u32, x1: u32, y0: u32, y1: u32, c: Rgb<u8>, alpha: f32) {
    let (w, h) = img.dimensions();
    let (x1, y1) = (x1.min(w) as usize, y1.min(h) as usize);
    let (x0, y0) = (x0 as usize, y0 as usize);
    if x0 >= x1 || y0 >= y1 {
        return;
    }
    let a = (alpha.clamp(0.0, 1.0) * 256.0).round() as u32;
    let keep = 256 - a;
    let add = [
        u32::from(c[0]) * a,
        u32::from(c[1]) * a,
        u32::from(c[2]) * a,
    ];
    let stride = w as usize * 3;
    let buf: &mut [u8] = &mut *img;
    for row in buf.chunks_exact_mut(stride).take(y1).skip(y0) {
        for px in row[x0 * 3..x1 * 3].chunks_exact_mut(3) {
            for (v, add) in px.iter_mut().zip(add) {
                *v = ((u32::from(*v) * keep + add) >> 8) as u8;
            }
        }
    }
}

/// A band of `width` pixels around the edge.
fn frame(img: &mut RgbImage, width: u32, c: Rgb<u8>) {
    frame_inset(img, 0, width, c);
}

/// A band of `width` pixels, `inset` pixels in from the edge.
fn frame_inset(img: &mut RgbImage, inset: u32, width: u32, c: Rgb<u8>) {
    let s = img.width();
    let (a, b) = (inset, inset + width);
    if b * 2 > s {
        return;
    }
    fill(img, a, s - a, a, b, c);
    fill(img, a, s - a, s - b, s - a, c);
    fill(img, a, b, b, s - b, c);
    fill(img, s - b, s - a, b, s - b, c);
}

// ---------------------------------------------------------------- text

/// The font with the metrics the layout needs.
struct Type<'f> {
    font: &'f FontRef<'f>,
    /// Cap height over the scale's pixel height (ascent − descent).
    cap_ratio: f32,
}

impl<'f> Type<'f> {
    fn new(font: &'f FontRef<'f>) -> Self {
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
    fn has(&self, c: char) -> bool {
        self.font.glyph_id(c).0 != 0
    }

    /// The scale whose capitals are `cap` pixels tall.
    fn scale_for_cap(&self, cap: f32) -> f32 {
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
struct Line {
    segments: Vec<(String, Rgb<u8>)>,
}

/// A line at the scale (and length) that fits its width.
struct Fitted {
    segments: Vec<(String, Rgb<u8>)>,
    scale: f32,
    width: f32,
    /// Cap height and descent in pixels, for the layout.
    cap: f32,
    descent: f32,
}

/// Longer input is cut before it is measured: nothing that long fits anyway.
const MAX_CHARS: usize = 160;
const ELLIPSIS: char = '…';

impl Line {
    fn new(segments: Vec<(String, Rgb<u8>)>) -> Self {
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
    fn fit(self, type_: &Type, scale: f32, min_factor: f32, max_width: f32) -> Fitted {
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
    fn is_empty(&self) -> bool {
        self.segments.iter().all(|(t, _)| t.is_empty())
    }

    /// Draws the line with its left edge at `x` and its baseline at `baseline`.
    fn draw(&self, img: &mut RgbImage, type_: &Type, x: f32, baseline: f32) {
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
fn clean(s: &str) -> String {
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
    use image::ImageFormat;

    fn souvenir<'a>(photo: Option<&'a DynamicImage>) -> Souvenir<'a> {
        Souvenir {
            first_name: "Ada",
            last_name: Some("Lovelace"),
            team: Some("Sluggers"),
            show: "Friday Night Lights",
            score: 1234,
            distance: 410,
            homeruns: 4,
            photo,
        }
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
        assert_eq!("png".parse::<Format>().ok(), Some(Format::Png));
        assert_eq!("JPG".parse::<Format>().ok(), Some(Format::Jpeg));
        assert!("gif".parse::<Format>().is_err());
        assert_eq!(Format::Jpeg.extension(), "jpg");
        assert_eq!(Format::Png.content_type(), "image/png");
    }
}
