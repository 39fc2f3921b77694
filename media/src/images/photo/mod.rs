//! Player photos, as uploaded with `PUT /api/v1/players/{id}/photo`.
//!
//! [`check`] accepts a JPEG or PNG body and decodes it under hard limits: the
//! format is sniffed from the magic bytes (the `Content-Type` a client sends
//! is not trusted), the header is read by hand and a photo above
//! [`MAX_SIDE`], [`MAX_PIXELS`] or [`MAX_DECODE_ALLOC`] (which counts bit
//! depth and channels) is refused *before* any pixel buffer is allocated,
//! and the decode itself runs under [`image::Limits`]. A corrupt, truncated
//! or hostile file is an error, never a panic or an unbounded allocation.
//! The messages of [`PhotoError`] are fit to show a client in a 422.
//!
//! [`clean`] is what is stored: the decoded photo turned upright and encoded
//! again, so that none of the file's metadata (EXIF with its GPS position,
//! device and time, XMP, comments) is kept. Every decode runs through
//! [`gate::run`], which lets only a few run at once in a process.

mod decode;
mod format;
pub mod gate;
mod limits;
mod reencode;

pub use decode::{Photo, PhotoError, check};
pub use format::PhotoFormat;
pub use limits::{MAX_DECODE_ALLOC, MAX_PHOTO_BYTES, MAX_PIXELS, MAX_SIDE};
pub use reencode::{Cleaned, JPEG_QUALITY, clean};

#[cfg(test)]
mod tests;
