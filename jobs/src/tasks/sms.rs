//! The text job: one text sent at most once, however often its job runs.

use std::time::Duration;

use anyhow::Context;
use ondeck_domain::GameId;
use ondeck_domain::provider_errors;
use ondeck_domain::store::messages::{self, Kind, Status};
use ondeck_domain::store::outbox::MessageKind;
use ondeck_domain::store::{joins, opt_outs, souvenirs};

use super::deps::{Deps, Retry, backoff};
use crate::sms::SendError;

/// An attempt left with the provider for longer than this belongs to a
/// worker that died: its outcome is asked of the provider.
pub const STALE_ATTEMPT: Duration = Duration::from_secs(15);

/// How a text ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TextOutcome {
    /// The provider accepted it now.
    Sent,
    /// It had been sent (or failed for good) before this run.
    AlreadyDone,
    /// The player has no mobile number.
    NoRecipient,
    /// The provider refused it, or every attempt failed.
    Failed,
}

impl TextOutcome {
    /// The `outcome` label of `ondeck_jobs_total`.
    pub fn label(&self) -> &'static str {
        match self {
            Self::Sent => "sent",
            Self::AlreadyDone => "alreadydone",
            Self::NoRecipient => "norecipient",
            Self::Failed => "failed",
        }
    }
}

/// Sends the text an outbox job asks for, at most once however often this
/// runs: the text is a row claimed attempt by attempt, and an attempt whose
/// outcome is unknown is asked of the provider before any new one.
#[tracing::instrument(skip_all, fields(outbox_id, game_id = %game_id, kind = ?kind))]
pub async fn send_text(
    deps: &Deps,
    outbox_id: i64,
    game_id: GameId,
    kind: MessageKind,
) -> anyhow::Result<TextOutcome> {
    let mut conn = deps.db.acquire().await?;
    let link = match kind {
        MessageKind::Souvenir => {
            let (_, code) = souvenirs::of_game(&mut conn, game_id)
                .await?
                .context("a souvenir text before its souvenir was recorded")?;
            Some(format!("{}/s/{code}", deps.public_base_url))
        }
        _ => None,
    };
    let Some(message) = messages::prepare(
        &mut conn,
        outbox_id,
        game_id,
        Kind::from(kind),
        link.as_deref(),
        &deps.public_base_url,
        &deps.venue_tz,
    )
    .await?
    else {
        return Ok(TextOutcome::NoRecipient);
    };
    drop(conn);
    let validity = (kind == MessageKind::Recall).then_some(deps.recall_validity);
    deliver(deps, message, validity).await
}

/// Sends a join code: its text was written with the job (see
/// `store::joins`), so there is nothing to prepare.
#[tracing::instrument(skip_all, fields(outbox_id))]
pub async fn send_code(deps: &Deps, outbox_id: i64) -> anyhow::Result<TextOutcome> {
    let mut conn = deps.db.acquire().await?;
    let message = messages::of_job(&mut conn, outbox_id)
        .await?
        .context("a code's job without its text")?;
    drop(conn);
    // A code is useless once it has expired: the provider stops trying then.
    let validity = Duration::from_secs(joins::CODE_MINUTES.unsigned_abs() * 60);
    deliver(deps, message, Some(validity)).await
}

/// Sends `message` unless it went (or failed for good) before; `validity`
/// is how long the provider may keep trying (a recall is useless late).
async fn deliver(
    deps: &Deps,
    message: messages::Message,
    validity: Option<Duration>,
) -> anyhow::Result<TextOutcome> {
    if message.status != Status::Queued || message.provider_id.is_some() {
        return Ok(TextOutcome::AlreadyDone);
    }
    let mut conn = deps.db.acquire().await?;
    let status_callback = format!("{}/hooks/twilio/status", deps.public_base_url);
    loop {
        // Checked before every attempt: a STOP that came in after the text
        // was queued still holds.
        if messages::fail_if_opted_out(&mut conn, message.id).await? {
            tracing::info!(message_id = message.id, "not sent: the number opted out");
            return Ok(TextOutcome::Failed);
        }
        let attempt = match messages::begin_attempt(&mut conn, message.id).await? {
            Some(n) => n,
            None => {
                // Another run holds an attempt. If it is stale, its worker is
                // gone: find out from the provider what became of it.
                let Some(started) = messages::take_over_stale_attempt(
                    &mut conn,
                    message.id,
                    STALE_ATTEMPT.as_secs_f64(),
                )
                .await?
                else {
                    return Err(Retry(format!(
                        "text {} is being sent by another worker",
                        message.id
                    ))
                    .into());
                };
                match deps.sms.find(&message.to, &message.body, started).await {
                    Ok(Some(provider_id)) => {
                        messages::mark_sent(&mut conn, &message, &provider_id).await?;
                        tracing::info!(
                            message_id = message.id,
                            "an interrupted text had reached the provider"
                        );
                        return Ok(TextOutcome::Sent);
                    }
                    Ok(None) => {
                        messages::mark_attempt_failed(
                            &mut conn,
                            message.id,
                            "interrupted before the provider took it",
                            false,
                        )
                        .await?;
                        continue;
                    }
                    Err(e) => {
                        messages::mark_attempt_failed(&mut conn, message.id, &e.to_string(), false)
                            .await?;
                        return Err(Retry(format!(
                            "cannot ask the provider about text {}: {e}",
                            message.id
                        ))
                        .into());
                    }
                }
            }
        };
        // No connection is held while the provider is called.
        drop(conn);
        let result = deps
            .sms
            .send(&message.to, &message.body, validity, Some(&status_callback))
            .await;
        conn = deps.db.acquire().await?;
        let error = match result {
            Ok(provider_id) => {
                messages::mark_sent(&mut conn, &message, &provider_id).await?;
                return Ok(TextOutcome::Sent);
            }
            Err(SendError::Refused { code, message: e }) => {
                if code == provider_errors::OPTED_OUT {
                    opt_outs::opt_out(&mut conn, &message.to).await?;
                }
                let error = provider_errors::meaning(&code)
                    .map(|meaning| format!("Twilio {code}: {meaning}"))
                    .unwrap_or(e);
                messages::mark_refused(&mut conn, message.id, &error, &code).await?;
                tracing::warn!(message_id = message.id, error = %error, "the provider refused a text");
                return Ok(TextOutcome::Failed);
            }
            Err(SendError::Permanent(e)) => {
                messages::mark_attempt_failed(&mut conn, message.id, &e, true).await?;
                tracing::warn!(message_id = message.id, error = %e, "the provider refused a text");
                return Ok(TextOutcome::Failed);
            }
            Err(SendError::Unknown(e)) => {
                // Ask before trying again: the provider may have it.
                tokio::time::sleep(Duration::from_secs(1)).await;
                let started = chrono::Utc::now()
                    - chrono::Duration::from_std(crate::sms::SEND_TIMEOUT * 2).unwrap_or_default();
                if let Ok(Some(provider_id)) =
                    deps.sms.find(&message.to, &message.body, started).await
                {
                    messages::mark_sent(&mut conn, &message, &provider_id).await?;
                    return Ok(TextOutcome::Sent);
                }
                e
            }
            Err(SendError::Transient(e)) => e,
        };
        let last = attempt >= deps.max_attempts;
        messages::mark_attempt_failed(&mut conn, message.id, &error, last).await?;
        if last {
            tracing::warn!(message_id = message.id, attempts = attempt, error = %error, "giving up on a text");
            return Ok(TextOutcome::Failed);
        }
        tracing::info!(message_id = message.id, attempt, error = %error, "text not sent; trying again");
        tokio::time::sleep(backoff(deps, attempt)).await;
    }
}
