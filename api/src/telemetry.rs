//! Logging and the shutdown signal shared by the API and the worker.

use axum::extract::MatchedPath;
use axum::http::Request;
use sentry::integrations::tracing::BreadcrumbLayer;
use tracing_subscriber::filter::LevelFilter;
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;
use tracing_subscriber::{EnvFilter, Layer};

use crate::config::LogFormat;

/// Logs to stderr as text or JSON lines; `RUST_LOG` overrides the level.
/// Log lines from info up are also kept as the breadcrumbs of a later error
/// report (never reports of their own: errors are reported once, where they
/// happen; see `reporting`).
pub fn init(format: LogFormat) {
    let filter = EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| EnvFilter::new("info,sqlx=warn,tower_http=info"));
    let lines = tracing_subscriber::fmt::layer().with_writer(std::io::stderr);
    let lines = match format {
        LogFormat::Json => lines.json().flatten_event(true).boxed(),
        LogFormat::Text => lines.boxed(),
    };
    let breadcrumbs = BreadcrumbLayer::new().with_filter(LevelFilter::INFO);
    let result = tracing_subscriber::registry()
        .with(filter)
        .with(lines)
        .with(breadcrumbs)
        .try_init();
    // A second init (tests) keeps the first subscriber.
    drop(result);
}

/// Request spans carry the route template, never the query string (which
/// may hold a search for a phone number), and the path scrubbed: a
/// souvenir's short link (`/s/{code}`) is a bearer link, so its code is
/// logged as `[link]`.
pub fn request_span<B>(request: &Request<B>) -> tracing::Span {
    let route = request
        .extensions()
        .get::<MatchedPath>()
        .map(MatchedPath::as_str)
        .unwrap_or_default();
    let path = crate::reporting::scrub_text(request.uri().path());
    tracing::info_span!("request", method = %request.method(), %path, route)
}

/// Completes on SIGTERM or Ctrl-C: drives the API's graceful shutdown and the worker's.
pub async fn shutdown_signal() {
    let ctrl_c = async {
        if let Err(e) = tokio::signal::ctrl_c().await {
            tracing::error!(error = %e, "cannot listen for Ctrl-C");
            std::future::pending::<()>().await;
        }
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(e) => {
                tracing::error!(error = %e, "cannot listen for SIGTERM");
                std::future::pending::<()>().await;
            }
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {},
        () = terminate => {},
    }
    tracing::info!("shutting down");
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The fields a span was created with, as the log shows them.
    fn logged_fields(span: impl FnOnce() -> tracing::Span) -> String {
        use std::sync::{Arc, Mutex};
        use tracing_subscriber::layer::Context;

        #[derive(Clone, Default)]
        struct Fields(Arc<Mutex<String>>);
        struct Visit<'a>(&'a mut String);
        impl tracing::field::Visit for Visit<'_> {
            fn record_debug(&mut self, field: &tracing::field::Field, value: &dyn std::fmt::Debug) {
                self.0.push_str(&format!("{}={value:?} ", field.name()));
            }
        }
        impl<S: tracing::Subscriber> Layer<S> for Fields {
            fn on_new_span(
                &self,
                attrs: &tracing::span::Attributes<'_>,
                _: &tracing::span::Id,
                _: Context<'_, S>,
            ) {
                let mut out = self.0.lock().expect("not poisoned");
                attrs.record(&mut Visit(&mut out));
            }
        }
        let fields = Fields::default();
        let subscriber = tracing_subscriber::registry().with(fields.clone());
        tracing::subscriber::with_default(subscriber, || drop(span()));
        fields.0.lock().expect("not poisoned").clone()
    }

    #[test]
    fn a_short_link_code_never_reaches_the_request_log() {
        let request = Request::get("/s/Ab3dE6gH9k").body(()).expect("a request");
        let fields = logged_fields(|| request_span(&request));
        assert!(fields.contains("/s/[link]"), "{fields}");
        assert!(!fields.contains("Ab3dE6gH9k"), "{fields}");
    }
}
