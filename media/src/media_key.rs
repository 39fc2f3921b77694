//! Signed `/media/` URLs: local storage serves a file only to a URL that
//! carries an unexpired signature of its key,
//! `/media/{key}?expires={unix seconds}&sig={hex}`, where `sig` is
//! HMAC-SHA256 over `ondeck-media\n{expires}\n{key}` with a 32-byte key kept
//! in the database (table `media_signing_key`), so that every process signs
//! and verifies alike, across restarts.

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use hmac::{Hmac, Mac};
use sha2::Sha256;
use sqlx::PgPool;

/// How long a signed URL stays valid, at least: expiries are rounded up to
/// the next full hour after that, so a URL lasts between one and two hours
/// and the same URL is handed out for a whole clock hour (a browser then
/// caches the image instead of fetching it again for each new signature).
pub const MEDIA_URL_TTL: Duration = Duration::from_secs(3600);

/// What a signature covers besides the key and the expiry, so that the
/// signing key can never be made to sign anything else.
const CONTEXT: &str = "ondeck-media";

/// The key that signs and verifies `/media/` URLs. Cheap to clone; its
/// `Debug` form does not show it.
#[derive(Clone)]
pub struct MediaKey(Arc<[u8; 32]>);

impl fmt::Debug for MediaKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("MediaKey(..)")
    }
}

impl MediaKey {
    pub fn from_bytes(bytes: [u8; 32]) -> MediaKey {
        MediaKey(Arc::new(bytes))
    }

    /// Reads the key from `media_signing_key`, creating it (32 random bytes)
    /// when there is none yet. Concurrent first starts agree: the insert
    /// does nothing when another one committed, and the read that follows
    /// (a new snapshot) sees the winner.
    pub async fn load(db: &PgPool) -> Result<MediaKey, sqlx::Error> {
        let fresh: [u8; 32] = rand::random();
        sqlx::query("INSERT INTO media_signing_key (key) VALUES ($1) ON CONFLICT (id) DO NOTHING")
            .bind(&fresh[..])
            .execute(db)
            .await?;
        let stored: Vec<u8> = sqlx::query_scalar("SELECT key FROM media_signing_key")
            .fetch_one(db)
            .await?;
        let bytes = <[u8; 32]>::try_from(stored.as_slice())
            .map_err(|_| sqlx::Error::Protocol("media_signing_key.key is not 32 bytes".into()))?;
        Ok(MediaKey::from_bytes(bytes))
    }

    fn mac(&self, key: &str, expires: i64) -> Hmac<Sha256> {
        let mut mac =
            Hmac::<Sha256>::new_from_slice(&self.0[..]).expect("HMAC takes a key of any length");
        mac.update(format!("{CONTEXT}\n{expires}\n{key}").as_bytes());
        mac
    }

    /// The signature of `key` valid until `expires` (Unix seconds), in hex.
    pub fn sign(&self, key: &str, expires: i64) -> String {
        hex::encode(self.mac(key, expires).finalize().into_bytes())
    }

    /// The query of a URL for `key` signed at `now` (Unix seconds):
    /// `expires=...&sig=...`.
    pub fn query(&self, key: &str, now: i64) -> String {
        let expires = expiry(now);
        format!("expires={expires}&sig={}", self.sign(key, expires))
    }

    /// The expiry of a good signature of `key`: `expires` in decimal, not
    /// yet past at `now`, and `sig` the signature in hex (compared in
    /// constant time). `None` for anything else.
    pub fn verify(&self, key: &str, expires: &str, sig: &str, now: i64) -> Option<i64> {
        if expires.is_empty() || expires.len() > 12 || !expires.bytes().all(|b| b.is_ascii_digit())
        {
            return None;
        }
        let expires: i64 = expires.parse().ok()?;
        if expires <= now {
            return None;
        }
        let sig = hex::decode(sig).ok()?;
        self.mac(key, expires).verify_slice(&sig).ok()?;
        Some(expires)
    }
}

/// The expiry of a URL signed at `now`: [`MEDIA_URL_TTL`] later at least,
/// rounded up to a multiple of it.
pub fn expiry(now: i64) -> i64 {
    let ttl = MEDIA_URL_TTL.as_secs() as i64;
    (now.div_euclid(ttl) + 2) * ttl
}

/// The current Unix time in seconds.
pub fn now() -> i64 {
    chrono::Utc::now().timestamp()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(byte: u8) -> MediaKey {
        MediaKey::from_bytes([byte; 32])
    }

    #[test]
    fn a_signature_verifies_until_it_expires() {
        let now = 1_800_000_000;
        let expires = expiry(now);
        assert!(expires - now >= 3600 && expires - now <= 7200);
        let sig = key(1).sign("photos/1-00000001.jpg", expires);
        let ok = key(1).verify("photos/1-00000001.jpg", &expires.to_string(), &sig, now);
        assert_eq!(ok, Some(expires));
        // Past its expiry, or at it.
        let late = key(1).verify("photos/1-00000001.jpg", &expires.to_string(), &sig, expires);
        assert_eq!(late, None);
    }

    #[test]
    fn anything_changed_fails() {
        let now = 1_800_000_000;
        let expires = expiry(now);
        let sig = key(1).sign("souvenirs/1.jpg", expires);
        let e = expires.to_string();
        assert_eq!(key(1).verify("souvenirs/2.jpg", &e, &sig, now), None);
        assert_eq!(key(2).verify("souvenirs/1.jpg", &e, &sig, now), None);
        let later = (expires + 3600).to_string();
        assert_eq!(key(1).verify("souvenirs/1.jpg", &later, &sig, now), None);
        let mut tampered = sig.clone().into_bytes();
        tampered[0] = if tampered[0] == b'0' { b'1' } else { b'0' };
        let tampered = String::from_utf8(tampered).expect("hex");
        assert_eq!(key(1).verify("souvenirs/1.jpg", &e, &tampered, now), None);
        for bad in ["", "zz", &sig[..62]] {
            assert_eq!(key(1).verify("souvenirs/1.jpg", &e, bad, now), None);
        }
        for bad in ["", "-1", "+9999999999", "1e10", "99999999999999"] {
            assert_eq!(key(1).verify("souvenirs/1.jpg", bad, &sig, now), None);
        }
    }

    #[test]
    fn urls_stay_the_same_for_a_clock_hour() {
        let k = key(3);
        // A full hour (500,000 hours after the epoch).
        let start = 1_800_000_000;
        assert_eq!(
            k.query("souvenirs/1.jpg", start),
            k.query("souvenirs/1.jpg", start + 3599)
        );
        assert_ne!(
            k.query("souvenirs/1.jpg", start),
            k.query("souvenirs/1.jpg", start + 3600)
        );
    }
}
