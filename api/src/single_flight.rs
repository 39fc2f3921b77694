//! One piece of work per key at a time, for the answers kept in memory
//! (`read_cache`, `player_lines`): the reads that find an answer out of
//! date while it is being made wait for that one making, then find it
//! made, instead of each reading the database.

use std::collections::HashMap;
use std::hash::Hash;
use std::sync::{Arc, Mutex};

use tokio::sync::OwnedMutexGuard;

type Gate = Arc<tokio::sync::Mutex<()>>;

/// The keys being worked on, each with its gate.
pub struct Flights<K> {
    gates: Mutex<HashMap<K, Gate>>,
}

impl<K> Default for Flights<K> {
    fn default() -> Self {
        Flights {
            gates: Mutex::new(HashMap::new()),
        }
    }
}

/// The turn of one key: while it is held, others asking for the key wait.
/// When it goes (work done, failed, or cut short) the key's gate goes too,
/// so keys asked once leave nothing behind; whoever was waiting on it
/// still gets its turn after this one.
pub struct Turn<'a, K: Eq + Hash> {
    flights: &'a Flights<K>,
    key: K,
    gate: Gate,
    _held: OwnedMutexGuard<()>,
}

impl<K: Eq + Hash + Clone> Flights<K> {
    /// Waits for `key`'s turn.
    pub async fn turn(&self, key: K) -> Turn<'_, K> {
        let gate = self
            .gates
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .entry(key.clone())
            .or_default()
            .clone();
        let held = gate.clone().lock_owned().await;
        Turn {
            flights: self,
            key,
            gate,
            _held: held,
        }
    }

    /// Whether no key is being worked on or waited for.
    pub fn is_empty(&self) -> bool {
        self.gates
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .is_empty()
    }
}

impl<K: Eq + Hash> Drop for Turn<'_, K> {
    fn drop(&mut self) {
        let mut gates = self.flights.gates.lock().unwrap_or_else(|e| e.into_inner());
        if gates
            .get(&self.key)
            .is_some_and(|g| Arc::ptr_eq(g, &self.gate))
        {
            gates.remove(&self.key);
        }
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    #[tokio::test]
    async fn a_key_has_one_turn_at_a_time_and_leaves_nothing_behind() {
        let flights = Flights::default();
        let first = flights.turn(1).await;
        // The same key waits; another does not.
        let same = tokio::time::timeout(Duration::from_millis(50), flights.turn(1)).await;
        assert!(same.is_err(), "the same key waits for the turn held");
        drop(flights.turn(2).await);
        drop(first);
        drop(flights.turn(1).await);
        assert!(flights.is_empty());
    }
}
