//! The souvenir job: render a game's souvenir, store it, link to it, and
//! queue its text.

use anyhow::Context;
use ondeck_domain::store::outbox::{self, Job, MessageKind};
use ondeck_domain::store::{event_log, games, souvenirs};
use ondeck_domain::{GameId, GameState};
use ondeck_media::images::{photo, souvenir};

use super::deps::Deps;

/// How a souvenir job ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SouvenirOutcome {
    /// Rendered and stored; its text (if the player has a mobile) is queued.
    Rendered { key: String, bytes: usize },
    /// The game is not (or no longer) completed.
    Skipped,
}

impl SouvenirOutcome {
    /// The `outcome` label of `ondeck_jobs_total`.
    pub fn label(&self) -> &'static str {
        match self {
            Self::Rendered { .. } => "rendered",
            Self::Skipped => "skipped",
        }
    }
}

/// Renders a game's souvenir, stores it, records its URL and short link,
/// and queues its text: once per souvenir job, however often this runs.
#[tracing::instrument(skip_all, fields(outbox_id, game_id = %game_id))]
pub async fn render_souvenir(
    deps: &Deps,
    outbox_id: i64,
    game_id: GameId,
) -> anyhow::Result<SouvenirOutcome> {
    let data = {
        let mut conn = deps.db.acquire().await?;
        souvenirs::data(&mut conn, game_id).await?
    };
    let Some(data) = data.filter(|d| d.state == GameState::Completed) else {
        return Ok(SouvenirOutcome::Skipped);
    };
    let stored = match &data.photo_key {
        Some(key) => deps.storage.get(key).await?.map(|(bytes, _)| bytes),
        None => None,
    };
    let (size, format) = (deps.souvenir_size, deps.souvenir_format);
    // The photo is decoded and the souvenir drawn through the decode gate,
    // as an upload is: its pixels live only while this holds a place.
    let span = tracing::Span::current();
    let image = photo::gate::run(move || {
        let _span = span.enter();
        let photo = stored.and_then(|bytes| match photo::check(&bytes) {
            Ok(photo) => Some(photo),
            Err(e) => {
                tracing::warn!(error = %e, "the stored photo does not decode; rendering without it");
                None
            }
        });
        let card = souvenir::Souvenir {
            first_name: &data.first_name,
            last_name: data.last_name.as_deref(),
            team: data.team.as_deref(),
            show: &data.show,
            score: data.score.unwrap_or_default(),
            distance: data.distance.unwrap_or_default(),
            homeruns: data.homeruns.unwrap_or_default(),
            photo: photo.as_ref().map(|p| &p.image),
        };
        souvenir::render(&card, size, format).map(|bytes| (bytes, data.has_mobile))
    })
    .await
    .context("the renderer panicked")?;
    let (bytes, has_mobile) = image?;
    let key = format!("souvenirs/{game_id}.{}", format.extension());
    let size = bytes.len();
    deps.storage.put(&key, bytes, format.content_type()).await?;
    // A lasting URL: a public bucket's, else the short link, which signs a
    // fresh URL each time it is opened (local and presigned URLs expire).
    let public_url = deps.storage.public_url(&key);
    let mut tx = deps.db.begin().await?;
    let code = souvenirs::record(&mut tx, game_id, &key).await?;
    let url = public_url.unwrap_or_else(|| format!("{}/s/{code}", deps.public_base_url));
    souvenirs::set_url(&mut tx, game_id, &url).await?;
    if has_mobile {
        let text = Job::Sms {
            game_id,
            message: MessageKind::Souvenir,
        };
        // May wait for a second run of this job to commit its copy.
        outbox::enqueue_once(&mut tx, &text, &format!("souvenir-text:{outbox_id}")).await?;
    }
    let game = games::get(&mut tx, game_id).await?;
    let recall_minutes = (deps.recall_validity.as_secs() / 60) as i64;
    // Last, as every event (see `event_log`): nothing waited for after it.
    event_log::game_changed(&mut tx, &game, Some(game.state), recall_minutes).await?;
    ondeck_domain::store::commit::commit(tx).await?;
    deps.wake.after_commit();
    tracing::info!(key, bytes = size, "souvenir rendered");
    Ok(SouvenirOutcome::Rendered { key, bytes: size })
}
