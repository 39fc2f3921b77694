//! Media: where photos and souvenirs are kept ([`storage`], local files or
//! S3), the key that signs local `/media/` URLs ([`media_key`]), and the
//! images themselves ([`images`]: checking uploaded photos, rendering
//! souvenirs). Used by the API (uploads, links) and by the worker (souvenir
//! jobs); it knows nothing of queues or jobs.

pub mod images;
pub mod media_key;
pub mod storage;
