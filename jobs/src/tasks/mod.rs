//! What each job does, as plain functions a test can call: send one text,
//! render one souvenir, fire one cue, apply one DMX scene, deliver one
//! webhook, each kind in its own file. Each is idempotent per outbox job,
//! since a job may be delivered more than once (a relay that crashed before
//! marking it, a worker that died holding it).

mod cue;
mod deps;
mod dmx;
mod sms;
mod souvenir;
mod webhook;

pub use cue::{ActionOutcome, CueOutcome, fire_cue};
pub use deps::{Deps, Retry, Running, RunningJob};
pub use dmx::{DMX_EXPIRES, apply_dmx};
pub use sms::{STALE_ATTEMPT, TextOutcome, send_code, send_text};
pub use souvenir::{SouvenirOutcome, render_souvenir};
pub use webhook::{deliver_webhook, webhook_body};

#[cfg(test)]
mod tests {
    use super::*;

    /// The `outcome` labels of `ondeck_jobs_total`, which dashboards and
    /// alerts name: they must not change when a variant is renamed.
    #[test]
    fn outcome_labels_are_the_names_the_metrics_use() {
        let labels = [
            (TextOutcome::Sent.label(), "sent"),
            (TextOutcome::AlreadyDone.label(), "alreadydone"),
            (TextOutcome::NoRecipient.label(), "norecipient"),
            (TextOutcome::Failed.label(), "failed"),
            (
                SouvenirOutcome::Rendered {
                    key: "souvenirs/1.jpg".to_owned(),
                    bytes: 1,
                }
                .label(),
                "rendered",
            ),
            (SouvenirOutcome::Skipped.label(), "skipped"),
            (CueOutcome::Fired.label(), "fired"),
            (CueOutcome::Unknown.label(), "unknown"),
            (ActionOutcome::Done.label(), "done"),
            (ActionOutcome::AlreadyDone.label(), "alreadydone"),
            (ActionOutcome::Failed.label(), "failed"),
        ];
        for (label, expected) in labels {
            assert_eq!(label, expected);
        }
    }
}
