//! The busy venue the soak plays, in real (venue) time, and the small
//! random source its actors draw from. The soak runs this venue `speedup`
//! times faster: every duration is divided by it, every rate multiplied.

use std::time::Duration;

/// A busy venue, as the staff would describe it. The defaults are what
/// bench/README.md calls "a busy venue".
#[derive(Clone, Debug, clap::Args)]
pub struct Model {
    /// Players signing up per hour of venue time (Poisson arrivals).
    #[arg(long, default_value_t = 150.0)]
    pub signups_per_hour: f64,
    /// Stations playing at once (one game client, and one `game` token, each).
    #[arg(long, default_value_t = 8)]
    pub stations: usize,
    /// Shortest and longest game at a station (play → complete), minutes, uniform.
    #[arg(long, default_value_t = 2.0)]
    pub play_min_minutes: f64,
    #[arg(long, default_value_t = 4.0)]
    pub play_max_minutes: f64,
    /// Share of players who give a mobile number (welcome, recall and souvenir texts).
    #[arg(long, default_value_t = 0.75)]
    pub with_mobile: f64,
    /// Share of players whose photo the tablet takes (PUT …/photo).
    #[arg(long, default_value_t = 0.3)]
    pub with_photo: f64,
    /// Share of players who pick a team at signup (the others join one at confirm).
    #[arg(long, default_value_t = 0.7)]
    pub with_team: f64,
    /// Share of players who give up while waiting, 5 to 20 minutes after queueing;
    /// a tablet cancels their game.
    #[arg(long, default_value_t = 0.08)]
    pub leave: f64,
    /// Share of players with a mobile number who never come back when recalled;
    /// half of those are cancelled by staff 5 minutes later, half left to expire.
    #[arg(long, default_value_t = 0.05)]
    pub no_show: f64,
    /// Minutes from a recall to the player reaching the tablet (uniform 1–3).
    #[arg(long, default_value_t = 1.0)]
    pub walk_min_minutes: f64,
    #[arg(long, default_value_t = 3.0)]
    pub walk_max_minutes: f64,
    /// How often each tablet reloads the queue (GET /queue), seconds.
    #[arg(long, default_value_t = 5.0)]
    pub tablet_poll_seconds: f64,
    /// How often each board reloads without an event (board.js: 30 s).
    #[arg(long, default_value_t = 30.0)]
    pub board_refresh_seconds: f64,
    /// How often staff download the players and games CSV, minutes.
    #[arg(long, default_value_t = 15.0)]
    pub export_minutes: f64,
}

impl Model {
    /// A venue duration, run `speedup` times faster.
    pub fn scaled(speedup: f64, venue_seconds: f64) -> Duration {
        Duration::from_secs_f64((venue_seconds / speedup).max(0.0))
    }

    pub fn check(&self) -> anyhow::Result<()> {
        let shares = [
            ("--with-mobile", self.with_mobile),
            ("--with-photo", self.with_photo),
            ("--with-team", self.with_team),
            ("--leave", self.leave),
            ("--no-show", self.no_show),
        ];
        for (name, share) in shares {
            anyhow::ensure!(
                (0.0..=1.0).contains(&share),
                "{name} must be between 0 and 1"
            );
        }
        anyhow::ensure!(
            self.leave + self.no_show <= 1.0,
            "--leave + --no-show exceed 1"
        );
        anyhow::ensure!(
            self.signups_per_hour > 0.0,
            "--signups-per-hour must be positive"
        );
        anyhow::ensure!(self.stations > 0, "--stations must be positive");
        let ranges = [
            (self.play_min_minutes, self.play_max_minutes),
            (self.walk_min_minutes, self.walk_max_minutes),
        ];
        for (low, high) in ranges {
            anyhow::ensure!(0.0 <= low && low <= high, "a min/max pair is out of order");
        }
        let periods = [
            self.tablet_poll_seconds,
            self.board_refresh_seconds,
            self.export_minutes,
        ];
        anyhow::ensure!(periods.iter().all(|&p| p > 0.0), "periods must be positive");
        Ok(())
    }
}

/// splitmix64: reproducible for a given `--seed`, no dependency.
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Self {
        Self(seed)
    }

    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// Uniform in [0, 1).
    pub fn unit(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64
    }

    pub fn chance(&mut self, p: f64) -> bool {
        self.unit() < p
    }

    pub fn between(&mut self, low: f64, high: f64) -> f64 {
        low + (high - low) * self.unit()
    }

    pub fn below(&mut self, n: u64) -> u64 {
        self.next_u64() % n.max(1)
    }

    /// Exponentially distributed with the given mean: the gap between two
    /// Poisson arrivals.
    pub fn exponential(&mut self, mean: f64) -> f64 {
        -mean * (1.0 - self.unit()).ln()
    }
}

#[cfg(test)]
mod tests {
    use super::Rng;

    #[test]
    fn exponential_gaps_average_their_mean() {
        let mut rng = Rng::new(7);
        let n = 100_000;
        let mean = (0..n).map(|_| rng.exponential(4.0)).sum::<f64>() / f64::from(n);
        assert!((mean - 4.0).abs() < 0.1, "mean gap {mean}");
    }

    #[test]
    fn unit_stays_in_range_and_chance_follows_p() {
        let mut rng = Rng::new(1);
        let hits = (0..100_000).filter(|_| rng.chance(0.25)).count();
        assert!(
            (24_000..26_000).contains(&hits),
            "{hits} hits of 100000 at p = 0.25"
        );
        assert!((0..1000).all(|_| (0.0..1.0).contains(&rng.unit())));
    }
}
