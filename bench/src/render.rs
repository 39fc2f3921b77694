//! `ondeck-bench render`: the souvenir worker's CPU work timed in process:
//! decode a player's photo, render the souvenir, encode it.

use std::time::Instant;

use anyhow::Context;
use clap::Args;
use ondeck_media::images::souvenir;
use serde::Serialize;

use crate::rounding::round;

#[derive(Args)]
pub struct RenderArgs {
    /// Souvenirs rendered and timed (after a few untimed warm-up renders).
    #[arg(long, default_value_t = 100, value_parser = clap::value_parser!(u32).range(1..=100_000))]
    count: u32,
    /// Side of the square souvenir, in pixels.
    #[arg(long, default_value_t = souvenir::DEFAULT_SIZE)]
    size: u32,
    /// Output encoding: jpeg or png.
    #[arg(long, default_value_t = souvenir::Format::Jpeg)]
    format: souvenir::Format,
    /// Also write one souvenir to this path (in --format), e.g. docs/souvenir-sample.jpg.
    #[arg(long)]
    sample: Option<std::path::PathBuf>,
    /// Render without a photo (the team-coloured background) instead.
    #[arg(long)]
    no_photo: bool,
    /// Also print the result as one JSON object on stdout (the summary goes to stderr).
    #[arg(long)]
    json: bool,
}

/// Untimed renders before measuring (page faults, allocator, caches).
const RENDER_WARMUP: u32 = 3;

/// The result of `render`, as printed with `--json`. Times in milliseconds.
#[derive(Serialize)]
struct RenderReport {
    count: u32,
    size: u32,
    format: String,
    photo: bool,
    /// Decode + render + encode.
    p50_ms: f64,
    p99_ms: f64,
    max_ms: f64,
    decode_p50_ms: f64,
    draw_p50_ms: f64,
    encode_p50_ms: f64,
    avg_kib: f64,
}

pub fn render(args: &RenderArgs) -> anyhow::Result<()> {
    use ondeck_media::images::photo;

    let photo_bytes = synthetic_photo()?;
    let draw_one = |timings: Option<&mut [Vec<f64>; 4]>| -> anyhow::Result<Vec<u8>> {
        let start = Instant::now();
        // Decoded every time through the upload check, as the worker would.
        let photo = if args.no_photo {
            None
        } else {
            Some(photo::check(&photo_bytes).context("checking the synthetic photo")?)
        };
        let decoded = Instant::now();
        let image = souvenir::draw(
            &souvenir::Souvenir::sample(photo.as_ref().map(|p| &p.image)),
            args.size,
        )?;
        let drawn = Instant::now();
        let bytes = souvenir::encode(&image, args.format)?;
        let encoded = Instant::now();
        if let Some([total, decode, draw, encode]) = timings {
            let ms = |from: Instant, to: Instant| to.duration_since(from).as_secs_f64() * 1000.0;
            total.push(ms(start, encoded));
            decode.push(ms(start, decoded));
            draw.push(ms(decoded, drawn));
            encode.push(ms(drawn, encoded));
        }
        Ok(bytes)
    };

    if let Some(path) = &args.sample {
        let bytes = draw_one(None)?;
        std::fs::write(path, &bytes).with_context(|| format!("writing {}", path.display()))?;
        eprintln!("wrote {} ({} KiB)", path.display(), bytes.len() / 1024);
    }
    for _ in 0..RENDER_WARMUP {
        draw_one(None)?;
    }
    let mut timings: [Vec<f64>; 4] = Default::default();
    let mut total_bytes = 0usize;
    for _ in 0..args.count {
        total_bytes += draw_one(Some(&mut timings))?.len();
    }
    for series in &mut timings {
        series.sort_by(f64::total_cmp);
    }
    let [total, decode, draw, encode] = &timings;
    let report = RenderReport {
        count: args.count,
        size: args.size,
        format: args.format.to_string(),
        photo: !args.no_photo,
        p50_ms: round(quantile(total, 0.50), 2),
        p99_ms: round(quantile(total, 0.99), 2),
        max_ms: round(quantile(total, 1.0), 2),
        decode_p50_ms: round(quantile(decode, 0.50), 2),
        draw_p50_ms: round(quantile(draw, 0.50), 2),
        encode_p50_ms: round(quantile(encode, 0.50), 2),
        avg_kib: round(total_bytes as f64 / f64::from(args.count) / 1024.0, 1),
    };
    let summary = format!(
        "{} souvenirs {}×{} {}{}: decode + render + encode p50 {} ms, p99 {} ms, max {} ms \
         (p50 decode {} ms, render {} ms, encode {} ms); average {} KiB",
        report.count,
        report.size,
        report.size,
        report.format,
        if report.photo {
            " with a 1600×1200 photo"
        } else {
            " without a photo"
        },
        report.p50_ms,
        report.p99_ms,
        report.max_ms,
        report.decode_p50_ms,
        report.draw_p50_ms,
        report.encode_p50_ms,
        report.avg_kib,
    );
    if args.json {
        eprintln!("{summary}");
        println!("{}", serde_json::to_string(&report)?);
    } else {
        println!("{summary}");
    }
    Ok(())
}

/// The value at quantile `q` of sorted, non-empty `values` (nearest rank).
fn quantile(sorted: &[f64], q: f64) -> f64 {
    let rank = (q * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1]
}

/// A 1600×1200 stand-in for a phone photo, encoded as a JPEG once: an evening
/// sky over a lit field, with grain so that it compresses like a photo.
pub(crate) fn synthetic_photo() -> anyhow::Result<Vec<u8>> {
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
