//! Background work: the outbox relay, the apalis workers that send texts and
//! render souvenirs, and the periodic recall sweep.

pub mod cues;
pub mod relay;
pub mod settings;
pub mod sms;
pub mod sweep;
pub mod tasks;
pub mod worker;

pub use settings::Settings;
pub use worker::run;
