//! A request's record while the request is still being served. Whatever way the request ends,
//! the record is submitted exactly once: explicitly when it completes or fails, and on drop when the
//! client went away first (recorded as cancelled, with whatever reply had arrived).

use std::time::Instant;

use chrono::Utc;

use crate::error::ProxyError;
use crate::log_writer::{InFlight, LogSender};
use crate::record::{Outcome, RequestRecord};

pub struct PendingRecord {
    started: Instant,
    record: RequestRecord,
    log: LogSender,
    /// `Some` until submitted; taking it out marks the record as submitted.
    in_flight: Option<InFlight>,
}

impl PendingRecord {
    pub fn start(log: &LogSender, record: RequestRecord) -> Self {
        PendingRecord { started: Instant::now(), record, in_flight: Some(log.begin_request()), log: log.clone() }
    }

    pub fn record(&mut self) -> &mut RequestRecord {
        &mut self.record
    }

    /// Notes the arrival of the upstream's first body byte (only the first call counts).
    pub fn first_byte_now(&mut self) {
        if self.record.time_to_first_byte.is_none() {
            self.record.time_to_first_byte = Some(self.started.elapsed());
        }
    }

    pub fn finish(mut self, outcome: Outcome) {
        self.submit(outcome);
    }

    /// Records an error the proxy answers with itself, and returns it for the response.
    pub fn fail(mut self, error: ProxyError) -> ProxyError {
        self.record.http_status = error.status().as_u16();
        self.record.error = Some(error.recorded());
        self.submit(Outcome::Error);
        error
    }

    fn submit(&mut self, outcome: Outcome) {
        let Some(in_flight) = self.in_flight.take() else {
            return;
        };
        self.record.outcome = outcome;
        self.record.finished_at = Utc::now();
        self.record.latency = self.started.elapsed();
        let record = std::mem::replace(&mut self.record, RequestRecord::new("", ""));
        self.log.submit(record);
        drop(in_flight);
    }
}

impl Drop for PendingRecord {
    fn drop(&mut self) {
        if self.in_flight.is_some() {
            // Status 499 is the de-facto code for "client closed request".
            if self.record.http_status == 0 {
                self.record.http_status = 499;
            }
            self.submit(Outcome::Cancelled);
        }
    }
}
