//! A bounded, persistent queue of escalations waiting for the cloud.
//!
//! One file per entry in a directory, named by a sequence number (`00000000000000000042.json`),
//! written to a temporary name and renamed into place, so a crash leaves either the whole entry
//! or none, and the directory alone is the queue after a restart. `state.json` keeps the next
//! sequence number and the count of entries dropped. The queue is bounded by entry count and by
//! bytes; a push past a bound drops the oldest entries and counts them, so the newest data
//! survives a long outage. Each entry keeps the request id given at escalation, so a replay after
//! a restart sends the same id (OIP `id`) and the server can tell repeats apart.

use std::fs;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::error::{CloudError, Result};
use crate::protocol::Tensor;

/// One queued escalation.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Entry {
    pub seq: u64,
    /// The request id (OIP `id`) this sample is always sent with.
    pub id: String,
    pub name: String,
    pub shape: Vec<usize>,
    pub data: Vec<f32>,
}

impl Entry {
    pub fn tensor(&self) -> Tensor {
        Tensor { name: self.name.clone(), shape: self.shape.clone(), data: self.data.clone() }
    }
}

#[derive(Default, Serialize, Deserialize)]
struct State {
    next_seq: u64,
    dropped: u64,
}

#[derive(Clone, Copy, Debug)]
pub struct QueueLimits {
    pub max_entries: usize,
    pub max_bytes: u64,
}

pub struct DiskQueue {
    dir: PathBuf,
    limits: QueueLimits,
    state: State,
    /// (seq, file size), oldest first.
    index: Vec<(u64, u64)>,
}

fn queue_err(path: &Path, e: impl std::fmt::Display) -> CloudError {
    CloudError::Queue { path: path.to_path_buf(), reason: e.to_string() }
}

fn write_atomically(path: &Path, bytes: &[u8]) -> Result<()> {
    let tmp = path.with_extension("tmp");
    fs::write(&tmp, bytes).map_err(|e| queue_err(&tmp, e))?;
    fs::rename(&tmp, path).map_err(|e| queue_err(path, e))
}

impl DiskQueue {
    /// Opens (or creates) the queue in `dir`, with whatever a previous process left there.
    pub fn open(dir: impl Into<PathBuf>, limits: QueueLimits) -> Result<DiskQueue> {
        let dir = dir.into();
        if limits.max_entries == 0 || limits.max_bytes == 0 {
            return Err(CloudError::Config("the queue needs room for at least one entry".into()));
        }
        fs::create_dir_all(&dir).map_err(|e| queue_err(&dir, e))?;
        let state_path = dir.join("state.json");
        let mut state: State = match fs::read(&state_path) {
            Ok(b) => serde_json::from_slice(&b).map_err(|e| queue_err(&state_path, e))?,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => State::default(),
            Err(e) => return Err(queue_err(&state_path, e)),
        };
        let mut index = vec![];
        for item in fs::read_dir(&dir).map_err(|e| queue_err(&dir, e))? {
            let item = item.map_err(|e| queue_err(&dir, e))?;
            let name = item.file_name();
            let Some(seq) = name.to_str().and_then(|n| n.strip_suffix(".json")).and_then(|n| n.parse::<u64>().ok()) else { continue };
            let len = item.metadata().map_err(|e| queue_err(&item.path(), e))?.len();
            index.push((seq, len));
        }
        index.sort_unstable();
        if let Some(&(last, _)) = index.last() {
            state.next_seq = state.next_seq.max(last + 1);
        }
        let mut q = DiskQueue { dir, limits, state, index };
        q.enforce()?;
        Ok(q)
    }

    fn path(&self, seq: u64) -> PathBuf {
        self.dir.join(format!("{seq:020}.json"))
    }

    fn save_state(&self) -> Result<()> {
        write_atomically(&self.dir.join("state.json"), &serde_json::to_vec(&self.state).unwrap_or_default())
    }

    /// Drops the oldest entries until both bounds hold.
    fn enforce(&mut self) -> Result<bool> {
        let mut changed = false;
        while self.index.len() > self.limits.max_entries || self.bytes() > self.limits.max_bytes {
            let (seq, _) = self.index.remove(0);
            let p = self.path(seq);
            match fs::remove_file(&p) {
                Ok(()) => {}
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                Err(e) => return Err(queue_err(&p, e)),
            }
            self.state.dropped += 1;
            changed = true;
        }
        if changed {
            self.save_state()?;
        }
        Ok(changed)
    }

    /// Appends a sample with its request id; returns its sequence number. An entry larger than
    /// the byte bound on its own is refused.
    pub fn push(&mut self, id: &str, input: &Tensor) -> Result<u64> {
        let seq = self.state.next_seq;
        let entry = Entry { seq, id: id.to_string(), name: input.name.clone(), shape: input.shape.clone(), data: input.data.clone() };
        let bytes = serde_json::to_vec(&entry).map_err(|e| queue_err(&self.dir, e))?;
        if bytes.len() as u64 > self.limits.max_bytes {
            return Err(queue_err(&self.dir, format!("an entry of {} bytes exceeds the queue's bound of {} bytes", bytes.len(), self.limits.max_bytes)));
        }
        self.state.next_seq += 1;
        self.save_state()?;
        write_atomically(&self.path(seq), &bytes)?;
        self.index.push((seq, bytes.len() as u64));
        self.enforce()?;
        Ok(seq)
    }

    /// The oldest `n` entries, still queued until [`DiskQueue::remove`].
    pub fn peek(&self, n: usize) -> Result<Vec<Entry>> {
        self.index
            .iter()
            .take(n)
            .map(|&(seq, _)| {
                let p = self.path(seq);
                let b = fs::read(&p).map_err(|e| queue_err(&p, e))?;
                serde_json::from_slice(&b).map_err(|e| queue_err(&p, e))
            })
            .collect()
    }

    /// Removes entries once the cloud has answered them.
    pub fn remove(&mut self, seqs: &[u64]) -> Result<()> {
        for &seq in seqs {
            let p = self.path(seq);
            match fs::remove_file(&p) {
                Ok(()) => {}
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                Err(e) => return Err(queue_err(&p, e)),
            }
        }
        self.index.retain(|(s, _)| !seqs.contains(s));
        Ok(())
    }

    pub fn len(&self) -> usize {
        self.index.len()
    }

    pub fn is_empty(&self) -> bool {
        self.index.is_empty()
    }

    /// Bytes on disk in entries.
    pub fn bytes(&self) -> u64 {
        self.index.iter().map(|(_, b)| b).sum()
    }

    /// Entries dropped to keep the bounds, since the queue was created.
    pub fn dropped(&self) -> u64 {
        self.state.dropped
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn temp_dir(name: &str) -> PathBuf {
        let d = std::env::temp_dir().join(format!("mote-cloud-queue-{name}-{}", std::process::id()));
        let _ = fs::remove_dir_all(&d);
        d
    }

    fn sample(v: f32) -> Tensor {
        Tensor { name: "x".into(), shape: vec![1, 4], data: vec![v; 4] }
    }

    #[test]
    fn survives_a_restart_in_order() {
        let dir = temp_dir("restart");
        let limits = QueueLimits { max_entries: 10, max_bytes: 1 << 20 };
        {
            let mut q = DiskQueue::open(&dir, limits).unwrap();
            for i in 0..3 {
                q.push(&format!("id-{i}"), &sample(i as f32)).unwrap();
            }
            q.remove(&[0]).unwrap();
        }
        let mut q = DiskQueue::open(&dir, limits).unwrap();
        let got = q.peek(10).unwrap();
        assert_eq!(got.iter().map(|e| e.id.as_str()).collect::<Vec<_>>(), ["id-1", "id-2"]);
        assert_eq!(got[1].tensor(), sample(2.0));
        assert_eq!(q.push("id-3", &sample(3.0)).unwrap(), 3, "sequence numbers continue after a restart");
        let _ = fs::remove_dir_all(&dir);
    }

    #[test]
    fn bounds_hold_and_drop_the_oldest() {
        let dir = temp_dir("bounds");
        let mut q = DiskQueue::open(&dir, QueueLimits { max_entries: 3, max_bytes: 1 << 20 }).unwrap();
        for i in 0..5 {
            q.push(&format!("id-{i}"), &sample(i as f32)).unwrap();
            assert!(q.len() <= 3);
        }
        assert_eq!(q.dropped(), 2);
        assert_eq!(q.peek(1).unwrap()[0].id, "id-2");
        let one = q.bytes() / 3;
        let mut q = DiskQueue::open(&dir, QueueLimits { max_entries: 100, max_bytes: one * 2 }).unwrap();
        assert_eq!((q.len(), q.dropped()), (2, 3), "a smaller byte bound applies on reopening");
        q.push("id-5", &sample(5.0)).unwrap();
        assert!(q.bytes() <= one * 2);
        let big = Tensor { name: "x".into(), shape: vec![1, 1000], data: vec![1.0; 1000] };
        assert!(matches!(q.push("big", &big), Err(CloudError::Queue { .. })));
        let _ = fs::remove_dir_all(&dir);
    }
}
