//! Rounding for the numbers the benchmarks report.

/// `x` rounded to `decimals` places, for reports.
pub fn round(x: f64, decimals: i32) -> f64 {
    let scale = 10f64.powi(decimals);
    (x * scale).round() / scale
}
