//! What ondeck's tests stand up, one file per thing it stands for, and two
//! ways in:
//!
//! - [`TestApp`] (in `app.rs`): the API's router served inside the test
//!   process over a `#[sqlx::test]` database, with one token per role and
//!   typed helpers. Most API tests use it.
//! - [`Stack`] (in `stack.rs`): the real `ondeck run|serve|work` processes
//!   against services private to one test: a database ([`Db`]), a
//!   `redis-server` ([`Redis`]), an S3 server ([`S3`]) and the stand-in for
//!   Twilio ([`FakeTwilio`]), with tokens and a show made by the CLI.
//!
//! Both answer with one [`Reply`]. The other pieces: PostgreSQL clusters and
//! replicas of a test's own ([`postgres::Cluster`]), the stand-in for Sentry
//! ([`sentry::FakeSentry`]), a reader of the event stream
//! ([`sse::Subscriber`]), load from tablets ([`load`]), stand-ins for the
//! DMX interface and a webhook target ([`venue`]), image bytes made by hand
//! ([`images`]), players' pages ([`pages`]) and the waiting and clean-up every harness needs ([`wait`],
//! [`temp`]).

pub mod app;
pub mod images;
pub mod load;
pub mod pages;
pub mod postgres;
pub mod process;
pub mod qr;
pub mod redis;
pub mod reply;
pub mod s3;
pub mod sentry;
pub mod sse;
pub mod stack;
pub mod temp;
pub mod twilio;
pub mod venue;
pub mod wait;

pub use app::TestApp;
pub use images::{
    exif_segment, grey_jpeg, insert_after_soi, jpeg_dimensions, noise_png, png_header, zero_png,
};
pub use load::{Load, Outcome, Record, assert_all, those};
pub use postgres::{Db, RowLock, cli};
pub use process::{Mode, Ondeck, free_port, signal};
pub use redis::Redis;
pub use reply::{Body, Reply, field};
pub use s3::{S3, S3_ACCESS_KEY, S3_BUCKET};
pub use stack::{Stack, Tokens, mobile, next_mobile};
pub use temp::{TempDir, tail, unique};
pub use twilio::{FakeTwilio, Sms, TWILIO_FROM, TWILIO_SID};
pub use wait::{at_most, eventually};
