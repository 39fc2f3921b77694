//! The photo that stands in for a player's in the render and soak benchmarks.

use anyhow::Context;

/// A 1600×1200 stand-in for a phone photo, encoded as a JPEG once: an evening
/// sky over a lit field, with grain so that it compresses like a photo.
pub fn synthetic_photo() -> anyhow::Result<Vec<u8>> {
    use image::{Rgb, RgbImage};

    let (w, h) = (1600u32, 1200u32);
    let horizon = h as f32 * 0.5;
    // Stadium lights: (x, y, radius).
    let lights = [
        (260.0, 300.0, 120.0),
        (800.0, 240.0, 150.0),
        (1340.0, 310.0, 120.0),
    ];
    let mut seed = 0x2545_f491_4f6c_dd1d_u64;
    let image = RgbImage::from_fn(w, h, |x, y| {
        let (fx, fy) = (x as f32, y as f32);
        let mut c = if fy < horizon {
            let t = fy / horizon;
            [20.0 + 210.0 * t * t, 30.0 + 90.0 * t * t, 80.0 + 40.0 * t]
        } else {
            let t = (fy - horizon) / (h as f32 - horizon);
            let stripe = if (((fx + fy * 0.6) / 90.0) as u32).is_multiple_of(2) {
                1.0
            } else {
                0.9
            };
            [
                (40.0 - 20.0 * t) * stripe,
                (140.0 - 60.0 * t) * stripe,
                (60.0 - 30.0 * t) * stripe,
            ]
        };
        for (lx, ly, r) in lights {
            let d2 = ((fx - lx).powi(2) + (fy - ly).powi(2)) / (r * r);
            let glow = 200.0 / (1.0 + 4.0 * d2);
            c[0] += glow;
            c[1] += glow * 0.95;
            c[2] += glow * 0.8;
        }
        // xorshift grain
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        let grain = (seed % 25) as f32 - 12.0;
        Rgb(c.map(|v| (v + grain).clamp(0.0, 255.0) as u8))
    });
    let mut jpeg = Vec::new();
    image::codecs::jpeg::JpegEncoder::new_with_quality(&mut jpeg, 90)
        .encode_image(&image)
        .context("encoding the synthetic photo")?;
    Ok(jpeg)
}
