//! Painting on a souvenir: the background gradient, filled and blended
//! rectangles, and the frame. Integer work over whole rows where it counts.

use image::{Rgb, RgbImage};

use super::colour::{WHITE, darker, mix};

/// The team colour from a little lighter at the top to darker at the bottom.
pub(super) fn gradient(size: u32, colour: Rgb<u8>) -> RgbImage {
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
pub(super) fn fill(img: &mut RgbImage, x0: u32, x1: u32, y0: u32, y1: u32, c: Rgb<u8>) {
    let (w, h) = img.dimensions();
    let (x1, y1) = (x1.min(w), y1.min(h));
    for y in y0..y1 {
        for x in x0..x1 {
            img.put_pixel(x, y, c);
        }
    }
}

/// Blends `c` at opacity `alpha` over `[x0, x1) × [y0, y1)`, in integers.
pub(super) fn blend_rows(
    img: &mut RgbImage,
    x0: u32,
    x1: u32,
    y0: u32,
    y1: u32,
    c: Rgb<u8>,
    alpha: f32,
) {
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
pub(super) fn frame(img: &mut RgbImage, width: u32, c: Rgb<u8>) {
    frame_inset(img, 0, width, c);
}

/// A band of `width` pixels, `inset` pixels in from the edge.
pub(super) fn frame_inset(img: &mut RgbImage, inset: u32, width: u32, c: Rgb<u8>) {
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
