//! Photos and souvenirs: photo uploads, the files of local storage at
//! `/media/` (to signed URLs only), a game's souvenir, and the short links
//! texted to players.

use axum::Router;
use axum::body::Bytes;
use axum::extract::DefaultBodyLimit;
use axum::extract::rejection::{BytesRejection, QueryRejection};
use axum::extract::{Query, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use ondeck_domain::models::Role;
use ondeck_domain::store::outbox::{self, Job};
use ondeck_domain::store::{games, players, souvenirs};
use ondeck_domain::{GameId, GameState, PlayerId};
use ondeck_media::images::photo::{self, MAX_PHOTO_BYTES, PhotoError};
use rand::Rng;
use serde::Deserialize;
use serde_json::json;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::app_state::AppState;
use crate::caller::Caller;
use crate::ctx::Ctx;
use crate::error::{ApiError, Result};
use crate::extract::ApiPath;
use crate::media_urls::object_url;
use crate::player_detail::load;
use crate::responses::PlayerView;

/// Routes under `/api/v1` (documented).
pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(put_photo))
        // Photos may be larger than JSON bodies.
        .layer(DefaultBodyLimit::max(MAX_PHOTO_BYTES))
        .routes(routes!(get_souvenir, rerender_souvenir))
}

/// Routes outside `/api/v1`, without a token: what a phone opens.
pub fn public_router() -> Router<AppState> {
    Router::new()
        .route("/media/{*key}", get(media))
        .route("/s/{code}", get(short_link))
}

/// Upload a player's photo: a JPEG or PNG body of at most 10 MiB, at most
/// 4096 pixels a side and 4096×3072 pixels in all, that decodes (its size
/// is checked before decoding). What is stored is the photo turned upright
/// and encoded again, without its metadata (EXIF, GPS position, device).
#[utoipa::path(put, path = "/api/v1/players/{id}/photo", tag = "players", params(("id" = i64, Path)),
    request_body(content = Vec<u8>, content_type = "image/jpeg", description = "JPEG or PNG, at most 10 MiB, 4096 pixels a side and 4096×3072 pixels; 16-bit images and progressive JPEGs must be smaller (at most 64 MiB decoded, counting bit depth and channels). Stored re-encoded (JPEG as JPEG, PNG as PNG) after its EXIF orientation is applied, with no metadata."),
    responses((status = 200, body = PlayerView), (status = 404), (status = 413), (status = 422, description = "not a JPEG or PNG that decodes within the limits")))]
#[tracing::instrument(skip_all, fields(player_id = %id))]
async fn put_photo(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath(id): ApiPath<PlayerId>,
    body: std::result::Result<Bytes, BytesRejection>,
) -> Result<axum::Json<PlayerView>> {
    let caller = caller.allow(&[Role::Tablet])?;
    let body = body.map_err(|rejection| {
        if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE {
            ApiError::PayloadTooLarge("10 MiB")
        } else {
            ApiError::BadRequest(format!("could not read the photo: {rejection}"))
        }
    })?;
    {
        let mut conn = state.reads.acquire(Some(caller)).await?;
        players::get(&mut conn, id).await?;
    }
    // Decoding is CPU and memory work: off the async threads, a few at once.
    let cleaned = photo::gate::run(move || photo::clean(&body))
        .await
        .map_err(|e| ApiError::Internal(e.into()))?;
    let cleaned = match cleaned {
        Ok(cleaned) => cleaned,
        Err(e @ PhotoError::Encode { .. }) => {
            return Err(ApiError::Internal(anyhow::Error::new(e).context("a photo")));
        }
        Err(e) => return Err(ApiError::invalid("photo", e.to_string())),
    };
    let format = cleaned.format;
    // A new key per upload, so that no cache serves the old photo.
    let suffix: u32 = rand::rng().random();
    let key = format!("photos/{id}-{suffix:08x}.{}", format.extension());
    state
        .storage
        .put(&key, cleaned.bytes, format.content_type())
        .await
        .map_err(|e| ApiError::Internal(anyhow::Error::new(e).context("storing a photo")))?;
    let mut tx = state.db.begin().await?;
    players::set_photo(&mut tx, id, &key).await?;
    let view = load(&mut tx, &state, id, caller).await?;
    ondeck_domain::store::commit::commit(tx).await?;
    Ok(axum::Json(view))
}

/// Redirects to a game's souvenir image; 404 until it is rendered.
#[utoipa::path(get, path = "/api/v1/games/{id}/souvenir", tag = "games", params(("id" = i64, Path)),
    responses((status = 302, description = "to the image"), (status = 404, description = "no such game, or not rendered yet")))]
async fn get_souvenir(ctx: Ctx, ApiPath(id): ApiPath<GameId>) -> Result<Response> {
    let key = {
        let mut conn = ctx.read().await?;
        games::get(&mut conn, id).await?;
        souvenirs::of_game(&mut conn, id).await?.map(|(key, _)| key)
    };
    let key =
        key.ok_or_else(|| ApiError::NotFound("the souvenir has not been rendered yet".into()))?;
    redirect_to_object(&ctx.state, &key).await
}

/// Renders a game's souvenir again and texts its link again (a new text).
#[utoipa::path(post, path = "/api/v1/games/{id}/souvenir", tag = "games", params(("id" = i64, Path)),
    responses((status = 202, description = "queued"), (status = 404), (status = 409, description = "the game is not completed")))]
async fn rerender_souvenir(ctx: Ctx, ApiPath(id): ApiPath<GameId>) -> Result<Response> {
    ctx.caller.allow(&[Role::Admin])?;
    let mut tx = ctx.state.db.begin().await?;
    let current = games::current_state(&mut tx, id).await?;
    if current != GameState::Completed {
        return Err(ApiError::Conflict(format!(
            "only a completed game has a souvenir; this one is {current}"
        )));
    }
    outbox::enqueue(&mut tx, &Job::Souvenir { game_id: id }).await?;
    ondeck_domain::store::commit::commit(tx).await?;
    ctx.state.wake.after_commit();
    Ok((
        StatusCode::ACCEPTED,
        axum::Json(json!({"game_id": id, "status": "queued"})),
    )
        .into_response())
}

async fn redirect_to_object(state: &AppState, key: &str) -> Result<Response> {
    // Signed now, so that a link works whenever it is opened.
    let url = object_url(state, key).await?;
    // 302 Found, as the contract says (axum's Redirect::to is a 303).
    let location = HeaderValue::from_str(&url).map_err(|e| ApiError::Internal(e.into()))?;
    Ok((StatusCode::FOUND, [(header::LOCATION, location)]).into_response())
}

/// A souvenir short link: `/s/{code}` → the image.
async fn short_link(
    State(state): State<AppState>,
    ApiPath(code): ApiPath<String>,
) -> Result<Response> {
    let key = {
        let mut conn = state.reads.acquire(None).await?;
        souvenirs::by_code(&mut conn, &code).await?
    };
    let key = key.ok_or_else(|| ApiError::NotFound("no such link".into()))?;
    redirect_to_object(&state, &key).await
}

/// The signature of a `/media/` URL (see `ondeck_media::media_key`).
#[derive(Deserialize)]
struct Signature {
    expires: Option<String>,
    sig: Option<String>,
}

/// Local storage's files (`STORAGE=local`): photos and souvenirs, to a URL
/// whose signature is good and unexpired. Every refusal is the same 404
/// whether the file exists or not, checked before the file is looked for.
async fn media(
    State(state): State<AppState>,
    ApiPath(key): ApiPath<String>,
    signature: std::result::Result<Query<Signature>, QueryRejection>,
) -> Result<Response> {
    if state.storage.local_dir().is_none() {
        return Err(ApiError::NotFound(
            "media are served by the object store".into(),
        ));
    }
    let refused = || ApiError::NotFound("no such file, or the link is unsigned or expired".into());
    let Ok(Query(Signature {
        expires: Some(expires),
        sig: Some(sig),
    })) = signature
    else {
        return Err(refused());
    };
    let expires = state
        .storage
        .verify_media(&key, &expires, &sig)
        .ok_or_else(refused)?;
    let found = state.storage.get(&key).await.map_err(|_| refused())?;
    let (bytes, content_type) = found.ok_or_else(refused)?;
    // Personal data: no shared cache keeps it, and no browser past the
    // link's expiry.
    let max_age = (expires - ondeck_media::media_key::now()).max(0);
    let cache_control = HeaderValue::from_str(&format!("private, max-age={max_age}"))
        .map_err(|e| ApiError::Internal(e.into()))?;
    let content_type = HeaderValue::from_str(&content_type)
        .unwrap_or(HeaderValue::from_static("application/octet-stream"));
    Ok((
        [
            (header::CONTENT_TYPE, content_type),
            (header::CACHE_CONTROL, cache_control),
            (
                header::X_CONTENT_TYPE_OPTIONS,
                HeaderValue::from_static("nosniff"),
            ),
        ],
        bytes,
    )
        .into_response())
}
