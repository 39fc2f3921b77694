//! Numbers as the reports print them.

/// `x` rounded to `decimals` decimal places, for reports.
pub fn round(x: f64, decimals: i32) -> f64 {
    let scale = 10f64.powi(decimals);
    (x * scale).round() / scale
}
