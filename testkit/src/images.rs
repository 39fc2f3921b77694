//! Image bytes written by hand, so that a test can upload a photo of any
//! size and check a souvenir's dimensions without an image library: noise
//! that does not compress, decompression bombs (large, valid images of a
//! few hundred kilobytes), and the EXIF segment a phone writes.

/// The width and height in a JPEG's SOF0/SOF1/SOF2 segment, read by hand.
pub fn jpeg_dimensions(bytes: &[u8]) -> Option<(u32, u32)> {
    if !bytes.starts_with(&[0xFF, 0xD8, 0xFF]) {
        return None;
    }
    let mut at = 2;
    while at + 4 <= bytes.len() {
        if bytes[at] != 0xFF {
            return None;
        }
        let marker = bytes[at + 1];
        if marker == 0xFF {
            at += 1;
            continue;
        }
        let len = usize::from(u16::from_be_bytes([bytes[at + 2], bytes[at + 3]]));
        if matches!(marker, 0xC0..=0xC2) {
            let segment = bytes.get(at + 4..at + 2 + len)?;
            let height = u16::from_be_bytes([segment[1], segment[2]]);
            let width = u16::from_be_bytes([segment[3], segment[4]]);
            return Some((u32::from(width), u32::from(height)));
        }
        at += 2 + len;
    }
    None
}

fn crc32(chunks: &[&[u8]]) -> u32 {
    let mut crc = 0xFFFF_FFFFu32;
    for chunk in chunks {
        for &byte in *chunk {
            crc ^= u32::from(byte);
            for _ in 0..8 {
                let mask = (crc & 1).wrapping_neg();
                crc = (crc >> 1) ^ (0xEDB8_8320 & mask);
            }
        }
    }
    !crc
}

fn png_chunk(out: &mut Vec<u8>, kind: &[u8; 4], data: &[u8]) {
    out.extend_from_slice(&(data.len() as u32).to_be_bytes());
    out.extend_from_slice(kind);
    out.extend_from_slice(data);
    out.extend_from_slice(&crc32(&[kind, data]).to_be_bytes());
}

/// A PNG's signature and IHDR (8-bit RGB) claiming these dimensions.
pub fn png_header(width: u32, height: u32) -> Vec<u8> {
    let mut out = b"\x89PNG\r\n\x1a\n".to_vec();
    let mut ihdr = Vec::new();
    ihdr.extend_from_slice(&width.to_be_bytes());
    ihdr.extend_from_slice(&height.to_be_bytes());
    ihdr.extend_from_slice(&[8, 2, 0, 0, 0]);
    png_chunk(&mut out, b"IHDR", &ihdr);
    out
}

/// A valid RGB PNG of noise (so it does not compress), written with stored
/// deflate blocks: about `3 × width × height` bytes.
pub fn noise_png(width: u32, height: u32, seed: u64) -> Vec<u8> {
    let mut raw = Vec::with_capacity((width as usize * 3 + 1) * height as usize);
    let mut state = seed | 1;
    for _ in 0..height {
        raw.extend([0u8]); // filter: none
        for _ in 0..width * 3 {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            raw.push((state >> 24) as u8);
        }
    }
    let mut zlib = vec![0x78, 0x01];
    let blocks: Vec<&[u8]> = raw.chunks(65_535).collect();
    for (i, block) in blocks.iter().enumerate() {
        zlib.push(u8::from(i + 1 == blocks.len()));
        let len = block.len() as u16;
        zlib.extend_from_slice(&len.to_le_bytes());
        zlib.extend_from_slice(&(!len).to_le_bytes());
        zlib.extend_from_slice(block);
    }
    let (mut a, mut b) = (1u32, 0u32);
    for &byte in &raw {
        a = (a + u32::from(byte)) % 65_521;
        b = (b + a) % 65_521;
    }
    zlib.extend_from_slice(&((b << 16) | a).to_be_bytes());
    let mut out = png_header(width, height);
    png_chunk(&mut out, b"IDAT", &zlib);
    png_chunk(&mut out, b"IEND", &[]);
    out
}

/// Deflate, LSB first, with the fixed Huffman codes.
#[derive(Default)]
struct Bits {
    out: Vec<u8>,
    acc: u64,
    n: u32,
}

impl Bits {
    fn put(&mut self, value: u32, len: u32) {
        self.acc |= u64::from(value) << self.n;
        self.n += len;
        while self.n >= 8 {
            self.out.push(self.acc as u8);
            self.acc >>= 8;
            self.n -= 8;
        }
    }

    /// A Huffman code goes most significant bit first.
    fn code(&mut self, code: u32, len: u32) {
        self.put(code.reverse_bits() >> (32 - len), len);
    }

    fn finish(mut self) -> Vec<u8> {
        if self.n > 0 {
            self.out.push(self.acc as u8);
        }
        self.out
    }
}

/// A zlib stream of `n` zero bytes: one literal, then matches of 258 bytes
/// at distance 1 (13 bits each), so that megabytes of pixels take
/// kilobytes.
fn zlib_zeros(n: usize) -> Vec<u8> {
    let mut bits = Bits::default();
    bits.put(1, 1); // the last block
    bits.put(1, 2); // fixed Huffman codes
    let literal_zero = |bits: &mut Bits| bits.code(0x30, 8);
    literal_zero(&mut bits);
    let matches = (n - 1) / 258;
    for _ in 0..matches {
        bits.code(0xC5, 8); // length 258 (symbol 285)
        bits.code(0, 5); // distance 1
    }
    for _ in 0..(n - 1 - matches * 258) {
        literal_zero(&mut bits);
    }
    bits.code(0, 7); // end of block
    let mut out = vec![0x78, 0x01];
    out.extend(bits.finish());
    // Adler-32 of zeros: a stays 1, b adds 1 a byte.
    let adler = (((n % 65_521) as u32) << 16) | 1;
    out.extend(adler.to_be_bytes());
    out
}

/// A valid, all-black PNG of `width`×`height` at this bit depth and colour
/// type (2 RGB, 6 RGBA), its pixels compressed about a thousand times.
pub fn zero_png(width: u32, height: u32, depth: u8, colour: u8) -> Vec<u8> {
    let channels = if colour == 6 { 4 } else { 3 };
    let row = 1 + width as usize * channels * usize::from(depth / 8);
    let mut ihdr = width.to_be_bytes().to_vec();
    ihdr.extend(height.to_be_bytes());
    ihdr.extend([depth, colour, 0, 0, 0]);
    let mut out = b"\x89PNG\r\n\x1a\n".to_vec();
    png_chunk(&mut out, b"IHDR", &ihdr);
    png_chunk(&mut out, b"IDAT", &zlib_zeros(row * height as usize));
    png_chunk(&mut out, b"IEND", &[]);
    out
}

/// An APP1 EXIF segment: a TIFF with the orientation and a GPS IFD that
/// holds a position (latitude and longitude references and values).
pub fn exif_segment(orientation: u16) -> Vec<u8> {
    let entry = |tag: u16, kind: u16, count: u32, value: u32| {
        let mut e = tag.to_be_bytes().to_vec();
        e.extend(kind.to_be_bytes());
        e.extend(count.to_be_bytes());
        e.extend(value.to_be_bytes());
        e
    };
    let mut tiff = b"MM\x00\x2A\x00\x00\x00\x08".to_vec();
    // IFD0 at 8: two entries, then the next-IFD offset (none).
    tiff.extend(2u16.to_be_bytes());
    tiff.extend(entry(0x0112, 3, 1, u32::from(orientation) << 16));
    tiff.extend(entry(0x8825, 4, 1, 38)); // the GPS IFD, at 8 + 2 + 24 + 4
    tiff.extend(0u32.to_be_bytes());
    // The GPS IFD at 38: four entries; the rationals follow it at 92.
    tiff.extend(4u16.to_be_bytes());
    tiff.extend(entry(0x0001, 2, 2, u32::from_be_bytes(*b"N\0\0\0")));
    tiff.extend(entry(0x0002, 5, 3, 92));
    tiff.extend(entry(0x0003, 2, 2, u32::from_be_bytes(*b"W\0\0\0")));
    tiff.extend(entry(0x0004, 5, 3, 116));
    tiff.extend(0u32.to_be_bytes());
    for (degrees, minutes, seconds) in [(51, 30, 26), (0, 7, 39)] {
        for value in [degrees, minutes, seconds] {
            tiff.extend(u32::to_be_bytes(value));
            tiff.extend(1u32.to_be_bytes());
        }
    }
    let mut payload = b"Exif\0\0".to_vec();
    payload.extend(tiff);
    let mut segment = vec![0xFF, 0xE1];
    segment.extend(((payload.len() + 2) as u16).to_be_bytes());
    segment.extend(payload);
    segment
}

/// `jpeg` with `segment` right after SOI.
pub fn insert_after_soi(jpeg: &[u8], segment: &[u8]) -> Vec<u8> {
    let mut out = jpeg[..2].to_vec();
    out.extend_from_slice(segment);
    out.extend_from_slice(&jpeg[2..]);
    out
}

/// A valid baseline (or, with `progressive`, merely announced progressive)
/// mid-grey RGB JPEG of `width`×`height`, written by hand: every block is
/// "DC unchanged, end of block", two bits with a one-code Huffman table.
pub fn grey_jpeg(width: u16, height: u16, progressive: bool) -> Vec<u8> {
    let mut out = vec![0xFF, 0xD8];
    // DQT: table 0, all ones.
    out.extend([0xFF, 0xDB, 0x00, 0x43, 0x00]);
    out.extend([1u8; 64]);
    // SOF: 8-bit, height, width, three components at 1×1, table 0.
    out.extend([0xFF, if progressive { 0xC2 } else { 0xC0 }, 0x00, 0x11, 8]);
    out.extend(height.to_be_bytes());
    out.extend(width.to_be_bytes());
    out.extend([3, 1, 0x11, 0, 2, 0x11, 0, 3, 0x11, 0]);
    // DHT: DC table 0 and AC table 0, each one code of one bit (symbol 0:
    // "no difference" and "end of block").
    for class in [0x00, 0x10] {
        out.extend([0xFF, 0xC4, 0x00, 0x14, class, 1]);
        out.extend([0u8; 15]);
        out.push(0);
    }
    // SOS: three components, tables 0/0, the whole spectrum.
    out.extend([
        0xFF, 0xDA, 0x00, 0x0C, 3, 1, 0x00, 2, 0x00, 3, 0x00, 0, 63, 0,
    ]);
    let blocks = (usize::from(width).div_ceil(8)) * (usize::from(height).div_ceil(8)) * 3;
    let bits = blocks * 2;
    out.extend(std::iter::repeat_n(0u8, bits / 8));
    if bits % 8 != 0 {
        // Padded with ones.
        out.push(0xFF >> (bits % 8));
    }
    out.extend([0xFF, 0xD9]);
    out
}
