//! The venue: its time zone, the region local mobile numbers are read in,
//! and how many stations play at once.

use chrono_tz::Tz;
use ondeck_domain::phone::Region;
use ondeck_env::{ConfigError, Source, bounded};

#[derive(Debug, Clone, Copy)]
pub struct Venue {
    /// `VENUE_TZ`: days and dates are the venue's.
    pub tz: Tz,
    /// `DEFAULT_REGION`: how a number without `+` is read.
    pub default_region: Region,
    /// `STATIONS`: games played side by side; wait estimates divide by it.
    pub stations: u32,
}

impl Venue {
    pub fn from_env(env: Source) -> Result<Self, ConfigError> {
        Ok(Venue {
            tz: tz(env)?,
            default_region: match ondeck_env::var(env, "DEFAULT_REGION")? {
                None => Region::default(),
                Some(raw) => raw
                    .parse()
                    .map_err(|e: String| ConfigError::new("DEFAULT_REGION", e))?,
            },
            stations: bounded(env, "STATIONS", 1, 1, 1000)? as u32,
        })
    }

    /// The IANA name of `VENUE_TZ`, as PostgreSQL's `AT TIME ZONE` takes it.
    pub fn tz_name(&self) -> &'static str {
        self.tz.name()
    }
}

/// `VENUE_TZ` alone, for the commands that need only the venue's dates.
pub fn tz(env: Source) -> Result<Tz, ConfigError> {
    ondeck_env::parsed(
        env,
        "VENUE_TZ",
        Tz::UTC,
        "an IANA time zone such as America/New_York",
    )
}
