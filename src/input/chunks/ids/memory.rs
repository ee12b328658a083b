//! The id index in memory: its buckets are regions of one allocation sized for the whole
//! input at the start, so it never grows by copying itself. Entries of a bucket keep the order
//! they were added in.

use super::{bucket_candidates, IdParts, ID_BUCKETS};

/// The buckets in memory, regions of one allocation, each sorted alone at the end, in
/// parallel (faster than one parallel sort of the whole index). Freed in one piece: jemalloc
/// hands a block that large back to the kernel at once (separate vectors would stay cached and
/// raise the run's peak).
pub(in crate::input::chunks) struct InMemory {
    /// Bucket `b` is `data[b * room..b * room + len[b]]`, then `overflow[b]`.
    pub(super) data: Vec<u128>,
    pub(super) room: usize,
    pub(super) len: Vec<usize>,
    /// Entries of a bucket whose region is full (in practice never: see `with_capacity`).
    pub(super) overflow: Vec<Vec<u128>>,
}

impl InMemory {
    /// Room for `rows` ids: hashes spread evenly, so each bucket gets its share and a margin
    /// (3 % and 64 ids: dozens of standard deviations).
    pub(super) fn with_capacity(rows: usize) -> InMemory {
        let share = rows / ID_BUCKETS;
        let room = share + share / 32 + 64;
        InMemory {
            // Zeroed by the kernel, not written here.
            data: vec![0; room * ID_BUCKETS],
            room,
            len: vec![0; ID_BUCKETS],
            overflow: vec![Vec::new(); ID_BUCKETS],
        }
    }

    /// Adds entries, buckets in parallel (each bucket is its own region; its entries land in
    /// part order, as one after the other would put them). It runs for every usage file on the
    /// spilling side of the load.
    pub(super) fn extend(&mut self, parts: IdParts) {
        use rayon::prelude::*;
        let room = self.room;
        self.data
            .par_chunks_mut(room)
            .zip(self.len.par_iter_mut())
            .zip(self.overflow.par_iter_mut())
            .enumerate()
            .for_each(|(b, ((region, len), over))| {
                for entries in parts.iter().filter_map(|part| part.get(b)) {
                    let n = (room - *len).min(entries.len());
                    region[*len..*len + n].copy_from_slice(&entries[..n]);
                    *len += n;
                    over.extend_from_slice(&entries[n..]);
                }
            });
    }

    pub(super) fn candidates(self) -> Vec<(u32, u32)> {
        use rayon::prelude::*;
        let InMemory {
            mut data,
            room,
            len,
            overflow,
        } = self;
        data.par_chunks_mut(room)
            .zip(len)
            .zip(overflow)
            .flat_map_iter(|((region, n), over)| {
                if over.is_empty() {
                    bucket_candidates(&mut region[..n])
                } else {
                    let mut joined = region[..n].to_vec();
                    joined.extend(over);
                    bucket_candidates(&mut joined)
                }
            })
            .collect()
    }
}
