//! One memory budget for a whole plugin instance: the bytes of all its linear memories and
//! tables together (a component holds several core instances, each may declare memories and
//! tables; a per-memory cap would let sixteen of them take sixteen times the budget). Also
//! caps how many instances, memories and tables a component may create.

use wasmtime::ResourceLimiter;

use super::error::ErrorKind;
use super::runtime::Stop;

/// What one table element costs the host (a function reference plus its lazy-init bit).
const TABLE_ELEMENT: usize = 16;

pub(crate) struct InstanceLimiter {
    budget: usize,
    used: usize,
}

impl InstanceLimiter {
    pub(crate) fn new(budget: usize) -> Self {
        InstanceLimiter { budget, used: 0 }
    }

    /// Charges `more` bytes, or stops the call: growing past the budget is the plugin's
    /// failure, never a `-1` it could ignore and retry.
    fn charge(&mut self, more: usize) -> wasmtime::Result<bool> {
        match self.used.checked_add(more) {
            Some(total) if total <= self.budget => {
                self.used = total;
                Ok(true)
            }
            _ => Err(wasmtime::Error::new(Stop(ErrorKind::MemoryLimit(
                self.budget,
            )))),
        }
    }
}

impl ResourceLimiter for InstanceLimiter {
    fn memory_growing(
        &mut self,
        current: usize,
        desired: usize,
        _maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        self.charge(desired.saturating_sub(current))
    }

    fn table_growing(
        &mut self,
        current: usize,
        desired: usize,
        _maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        self.charge(
            desired
                .saturating_sub(current)
                .saturating_mul(TABLE_ELEMENT),
        )
    }

    fn instances(&self) -> usize {
        64
    }

    fn tables(&self) -> usize {
        64
    }

    fn memories(&self) -> usize {
        16
    }
}
