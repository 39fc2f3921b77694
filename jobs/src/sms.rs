//! Text-message providers: `log` (writes the text to the log, sends nothing)
//! and Twilio's Messages API over HTTPS.

use std::time::Duration;

use chrono::{DateTime, Utc};
use ondeck_domain::scrub::scrub_text;
use ondeck_env::{ConfigError, Source};
use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;

/// `SMS_PROVIDER` and, for Twilio, `TWILIO_*`.
#[derive(Debug, Clone)]
pub enum SmsSettings {
    Log,
    Twilio {
        account_sid: String,
        auth_token: SecretString,
        /// `TWILIO_FROM` or `TWILIO_MESSAGING_SERVICE_SID`.
        sender: Sender,
        api_base: String,
    },
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Sender {
    From(String),
    MessagingService(String),
}

impl SmsSettings {
    /// Reads `SMS_PROVIDER` (`log`, the default, or `twilio`) and, with
    /// `twilio`, `TWILIO_ACCOUNT_SID`, `TWILIO_AUTH_TOKEN`, one of
    /// `TWILIO_FROM` and `TWILIO_MESSAGING_SERVICE_SID`, and
    /// `TWILIO_API_BASE` (default `https://api.twilio.com`).
    pub fn from_env(env: Source) -> Result<Self, ConfigError> {
        match ondeck_env::var(env, "SMS_PROVIDER")?
            .as_deref()
            .map(str::to_ascii_lowercase)
            .as_deref()
        {
            None | Some("log") => Ok(SmsSettings::Log),
            Some("twilio") => {
                let required = |var: &str| {
                    ondeck_env::var(env, var)?.ok_or_else(|| {
                        ConfigError::new(var, "is required with SMS_PROVIDER=twilio")
                    })
                };
                let account_sid = required("TWILIO_ACCOUNT_SID")?;
                if !account_sid.starts_with("AC")
                    || !account_sid.chars().all(|c| c.is_ascii_alphanumeric())
                {
                    return Err(ConfigError::new(
                        "TWILIO_ACCOUNT_SID",
                        "expected an account SID starting with AC",
                    ));
                }
                let auth_token = SecretString::from(required("TWILIO_AUTH_TOKEN")?);
                let sender = match (
                    ondeck_env::var(env, "TWILIO_FROM")?,
                    ondeck_env::var(env, "TWILIO_MESSAGING_SERVICE_SID")?,
                ) {
                    (Some(from), None) => Sender::From(from),
                    (None, Some(service)) => Sender::MessagingService(service),
                    (Some(_), Some(_)) => {
                        return Err(ConfigError::new(
                            "TWILIO_FROM",
                            "set TWILIO_FROM or TWILIO_MESSAGING_SERVICE_SID, not both",
                        ));
                    }
                    (None, None) => {
                        return Err(ConfigError::new(
                            "TWILIO_FROM",
                            "TWILIO_FROM or TWILIO_MESSAGING_SERVICE_SID is required",
                        ));
                    }
                };
                let api_base = ondeck_env::var(env, "TWILIO_API_BASE")?
                    .unwrap_or_else(|| "https://api.twilio.com".to_owned());
                if !(api_base.starts_with("https://") || api_base.starts_with("http://")) {
                    return Err(ConfigError::new(
                        "TWILIO_API_BASE",
                        "expected an http(s):// URL",
                    ));
                }
                Ok(SmsSettings::Twilio {
                    account_sid,
                    auth_token,
                    sender,
                    api_base: api_base.trim_end_matches('/').to_owned(),
                })
            }
            Some(other) => Err(ConfigError::new(
                "SMS_PROVIDER",
                format!("expected log or twilio, got {other:?}"),
            )),
        }
    }
}

/// Why a send did not go through.
#[derive(Debug, thiserror::Error)]
pub enum SendError {
    /// The provider did not take the text but may later (5xx, 429, network
    /// failure before the request was sent): try again.
    #[error("{0}")]
    Transient(String),
    /// The provider refused the text (an invalid number, a blocked one): do
    /// not try again.
    #[error("{0}")]
    Permanent(String),
    /// The request may or may not have reached the provider (a timeout
    /// after sending): ask the provider before trying again.
    #[error("{0}")]
    Unknown(String),
    /// The provider refused the text for good with an error code (Twilio's
    /// `code`, such as 21610: the recipient had replied STOP).
    #[error("{message}")]
    Refused { code: String, message: String },
}

#[derive(Clone)]
pub struct SmsProvider {
    settings: SmsSettings,
    http: reqwest::Client,
}

#[derive(Deserialize)]
struct TwilioMessage {
    sid: String,
    #[serde(default)]
    body: String,
    #[serde(default)]
    to: String,
    #[serde(default)]
    date_created: Option<String>,
}

#[derive(Deserialize)]
struct TwilioList {
    #[serde(default)]
    messages: Vec<TwilioMessage>,
}

#[derive(Deserialize)]
struct TwilioError {
    #[serde(default)]
    message: String,
    #[serde(default)]
    code: Option<i64>,
}

/// How long a send may take before its outcome is unknown.
pub const SEND_TIMEOUT: Duration = Duration::from_secs(10);

impl SmsProvider {
    pub fn new(settings: SmsSettings) -> anyhow::Result<Self> {
        let http = reqwest::Client::builder()
            .timeout(SEND_TIMEOUT)
            .connect_timeout(Duration::from_secs(5))
            .build()?;
        Ok(Self { settings, http })
    }

    pub fn name(&self) -> &'static str {
        match self.settings {
            SmsSettings::Log => "log",
            SmsSettings::Twilio { .. } => "twilio",
        }
    }

    /// Sends one text; returns the provider's id for it. `validity` asks the
    /// provider to drop the text rather than deliver it later than that.
    pub async fn send(
        &self,
        to: &str,
        body: &str,
        validity: Option<Duration>,
        status_callback: Option<&str>,
    ) -> Result<String, SendError> {
        match &self.settings {
            SmsSettings::Log => {
                let id = format!("log-{}", uuid_like());
                // The number is PII: the log shows only its last digits; the
                // body's short link is a bearer link: the log does not show it.
                let body = scrub_text(body);
                tracing::info!(provider_id = %id, to = %mask(to), %body, "text (SMS_PROVIDER=log: not sent)");
                Ok(id)
            }
            SmsSettings::Twilio {
                account_sid,
                auth_token,
                sender,
                api_base,
            } => {
                let url = format!("{api_base}/2010-04-01/Accounts/{account_sid}/Messages.json");
                let mut form = vec![("To", to.to_owned()), ("Body", body.to_owned())];
                match sender {
                    Sender::From(from) => form.push(("From", from.clone())),
                    Sender::MessagingService(sid) => {
                        form.push(("MessagingServiceSid", sid.clone()))
                    }
                }
                if let Some(url) = status_callback {
                    form.push(("StatusCallback", url.to_owned()));
                }
                if let Some(validity) = validity {
                    // Twilio accepts 1 to 36,000 seconds.
                    form.push((
                        "ValidityPeriod",
                        validity.as_secs().clamp(1, 36_000).to_string(),
                    ));
                }
                let response = self
                    .http
                    .post(url)
                    .basic_auth(account_sid, Some(auth_token.expose_secret()))
                    .form(&form)
                    .send()
                    .await
                    .map_err(|e| {
                        if e.is_connect() {
                            SendError::Transient(format!(
                                "cannot reach Twilio: {}",
                                without_url(&e)
                            ))
                        } else {
                            SendError::Unknown(format!(
                                "no answer from Twilio: {}",
                                without_url(&e)
                            ))
                        }
                    })?;
                let status = response.status();
                if status.is_success() {
                    let message: TwilioMessage = response.json().await.map_err(|e| {
                        SendError::Unknown(format!(
                            "Twilio's answer was unreadable: {}",
                            without_url(&e)
                        ))
                    })?;
                    return Ok(message.sid);
                }
                let error: Option<TwilioError> = response.json().await.ok();
                let code = error.as_ref().and_then(|e| e.code).map(|c| c.to_string());
                // Twilio's message may quote the number or the body: scrubbed
                // here, so neither the log nor the stored error holds them.
                let detail = error
                    .map(|e| {
                        format!(
                            "Twilio {status}: {} (code {})",
                            scrub_text(&e.message),
                            e.code.unwrap_or_default()
                        )
                    })
                    .unwrap_or_else(|| format!("Twilio {status}"));
                if status.is_server_error() || status == reqwest::StatusCode::TOO_MANY_REQUESTS {
                    Err(SendError::Transient(detail))
                } else if let Some(code) = code.filter(|c| c != "0") {
                    Err(SendError::Refused {
                        code,
                        message: detail,
                    })
                } else {
                    Err(SendError::Permanent(detail))
                }
            }
        }
    }

    /// Whether the provider already has this text, sent since `since`: asked
    /// before re-sending a text whose earlier attempt's outcome is unknown.
    pub async fn find(
        &self,
        to: &str,
        body: &str,
        since: DateTime<Utc>,
    ) -> Result<Option<String>, SendError> {
        match &self.settings {
            // The log provider keeps nothing: an interrupted text is written again.
            SmsSettings::Log => Ok(None),
            SmsSettings::Twilio {
                account_sid,
                auth_token,
                api_base,
                ..
            } => {
                let url = format!("{api_base}/2010-04-01/Accounts/{account_sid}/Messages.json");
                let day = (since - chrono::Duration::days(1))
                    .format("%Y-%m-%d")
                    .to_string();
                let response = self
                    .http
                    .get(url)
                    .basic_auth(account_sid, Some(auth_token.expose_secret()))
                    .query(&[("To", to), ("DateSent>", day.as_str()), ("PageSize", "100")])
                    .send()
                    .await
                    .map_err(|e| {
                        SendError::Transient(format!("cannot ask Twilio: {}", without_url(&e)))
                    })?;
                if !response.status().is_success() {
                    return Err(SendError::Transient(format!(
                        "Twilio {} when listing messages",
                        response.status()
                    )));
                }
                let list: TwilioList = response.json().await.map_err(|e| {
                    SendError::Transient(format!(
                        "Twilio's list was unreadable: {}",
                        without_url(&e)
                    ))
                })?;
                let since = since - chrono::Duration::minutes(1);
                Ok(list
                    .messages
                    .into_iter()
                    .find(|m| {
                        m.to == to
                            && m.body == body
                            && m.date_created
                                .as_deref()
                                .and_then(|d| DateTime::parse_from_rfc2822(d).ok())
                                .is_none_or(|d| d >= since)
                    })
                    .map(|m| m.sid))
            }
        }
    }
}

/// reqwest errors print the URL, which holds the account SID: leave it out.
fn without_url(e: &reqwest::Error) -> String {
    let mut text = e.to_string();
    if let Some(url) = e.url() {
        text = text.replace(url.as_str(), "<twilio>");
    }
    text
}

/// `+1415•••••71`: enough to tell texts apart in a log, not enough to call.
pub fn mask(number: &str) -> String {
    let chars: Vec<char> = number.chars().collect();
    if chars.len() <= 6 {
        return "•".repeat(chars.len());
    }
    let head: String = chars[..4].iter().collect();
    let tail: String = chars[chars.len() - 2..].iter().collect();
    format!("{head}{}{tail}", "•".repeat(chars.len() - 6))
}

fn uuid_like() -> String {
    use rand::Rng;
    let mut rng = rand::rng();
    (0..16)
        .map(|_| format!("{:x}", rng.random_range(0..16u8)))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings(pairs: &[(&str, &str)]) -> Result<SmsSettings, ConfigError> {
        SmsSettings::from_env(&ondeck_env::pairs(pairs))
    }

    #[test]
    fn log_is_the_default_and_twilio_needs_its_settings() {
        assert!(matches!(settings(&[]), Ok(SmsSettings::Log)));
        assert_eq!(
            settings(&[("SMS_PROVIDER", "twilio")])
                .expect_err("no sid")
                .var,
            "TWILIO_ACCOUNT_SID"
        );
        let base = [
            ("SMS_PROVIDER", "twilio"),
            ("TWILIO_ACCOUNT_SID", "AC123"),
            ("TWILIO_AUTH_TOKEN", "t"),
        ];
        assert_eq!(settings(&base).expect_err("no sender").var, "TWILIO_FROM");
        let mut with_from = base.to_vec();
        with_from.push(("TWILIO_FROM", "+15555550100"));
        assert!(matches!(
            settings(&with_from),
            Ok(SmsSettings::Twilio {
                sender: Sender::From(_),
                ..
            })
        ));
        assert_eq!(
            settings(&[("SMS_PROVIDER", "pigeon")])
                .expect_err("unknown")
                .var,
            "SMS_PROVIDER"
        );
    }

    #[test]
    fn masked_numbers_keep_only_the_ends() {
        assert_eq!(mask("+14155552671"), "+141••••••71");
        assert_eq!(mask("+1234"), "•••••");
    }
}
