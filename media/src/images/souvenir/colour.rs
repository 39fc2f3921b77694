//! The souvenir's colours: a fixed set for text and trim, and a team's own
//! colour, hashed from its name into a palette.

use image::Rgb;

pub(super) const WHITE: Rgb<u8> = Rgb([255, 255, 255]);
pub(super) const BLACK: Rgb<u8> = Rgb([0, 0, 0]);
pub(super) const LIGHT: Rgb<u8> = Rgb([236, 238, 242]);
pub(super) const GREY: Rgb<u8> = Rgb([184, 190, 200]);
pub(super) const GOLD: Rgb<u8> = Rgb([255, 200, 61]);
/// The background without a team.
pub(super) const NAVY: Rgb<u8> = Rgb([22, 40, 84]);

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
pub(super) fn accent_colour(team: Option<&str>, colour: Rgb<u8>) -> Rgb<u8> {
    match team.map(str::trim) {
        Some(t) if !t.is_empty() => lighter_if_dark(colour),
        _ => GOLD,
    }
}

pub(super) fn mix(a: Rgb<u8>, b: Rgb<u8>, t: f32) -> Rgb<u8> {
    let m = |x: u8, y: u8| (f32::from(x) + (f32::from(y) - f32::from(x)) * t).round() as u8;
    Rgb([m(a[0], b[0]), m(a[1], b[1]), m(a[2], b[2])])
}

pub(super) fn darker(c: Rgb<u8>, t: f32) -> Rgb<u8> {
    mix(c, BLACK, t)
}

/// Lightens the darkest palette colours so they show on the dark bar.
fn lighter_if_dark(c: Rgb<u8>) -> Rgb<u8> {
    let luma = 0.299 * f32::from(c[0]) + 0.587 * f32::from(c[1]) + 0.114 * f32::from(c[2]);
    if luma < 90.0 { mix(c, WHITE, 0.25) } else { c }
}
