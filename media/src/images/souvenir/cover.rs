//! The photo behind a souvenir: scaled to fill the square and cropped to it,
//! with a fixed-point resampler several times faster than `image`'s own.

use image::{DynamicImage, RgbImage};

/// The photo scaled to fill the square and cropped to it: centred across,
/// and a little above centre on a portrait photo, where the faces are.
pub(super) fn cover(photo: &DynamicImage, size: u32) -> RgbImage {
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
