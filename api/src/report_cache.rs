//! Staff reports kept in memory (`GET /api/v1/stats`): a report is made
//! again only once the data it was made from has changed.

use std::collections::HashMap;
use std::future::Future;
use std::sync::Mutex;

use chrono::NaiveDate;
use ondeck_domain::ShowId;
use ondeck_domain::store::reports::{Report, Version};

/// Reports as last made, each with the settled version of the data it was
/// made after (see `reports::Version`): asked again with nothing changed,
/// the report is not made again. At most [`ReportCache::MAX`] are kept.
#[derive(Default)]
pub struct ReportCache {
    reports: Mutex<HashMap<ReportKey, (Version, Report)>>,
    /// Held while a report is made.
    making: tokio::sync::Mutex<()>,
}

/// A show, and one day of it or (`None`) every day.
pub type ReportKey = (ShowId, Option<NaiveDate>);

impl ReportCache {
    const MAX: usize = 64;

    /// The report of `key` made after `version`: from memory if one was,
    /// else made by `make`, one at a time (those asking meanwhile wait for
    /// it rather than make the same one again), and kept if `version` is
    /// settled.
    pub async fn get_or_make<E, F: Future<Output = Result<Report, E>>>(
        &self,
        key: ReportKey,
        version: Version,
        make: impl FnOnce() -> F,
    ) -> Result<Report, E> {
        if let Some(report) = self.get(key, version) {
            return Ok(report);
        }
        let _making = self.making.lock().await;
        if let Some(report) = self.get(key, version) {
            return Ok(report);
        }
        let report = make().await?;
        if version.settled {
            self.put(key, version, report.clone());
        }
        Ok(report)
    }

    fn get(&self, key: ReportKey, version: Version) -> Option<Report> {
        let reports = self.reports.lock().unwrap_or_else(|e| e.into_inner());
        reports
            .get(&key)
            .filter(|(made_at, _)| made_at.same(&version))
            .map(|(_, report)| report.clone())
    }

    fn put(&self, key: ReportKey, version: Version, report: Report) {
        let mut reports = self.reports.lock().unwrap_or_else(|e| e.into_inner());
        if reports.len() >= Self::MAX && !reports.contains_key(&key) {
            // Older data than the latest version is of no further use.
            reports.retain(|_, (made_at, _)| made_at.same(&version));
            if reports.len() >= Self::MAX {
                reports.clear();
            }
        }
        reports.insert(key, (version, report));
    }
}
