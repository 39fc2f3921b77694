//! Images: checking uploaded player photos ([`photo`]) and rendering the
//! souvenir a player gets after a game ([`souvenir`]). Both are synchronous
//! and CPU-bound (tens of milliseconds): call them from `spawn_blocking`.

pub mod photo;
pub mod souvenir;
