//! The id index on disk: one file per bucket in the run's private directory, appended to file
//! by file and read back one bucket per thread at the end, so memory holds a bucket per thread,
//! not the index. Each bucket's file is removed once it is read.

use super::{bucket_candidates, IdParts};
use crate::error::{Error, Result};
use std::path::{Path, PathBuf};

/// The buckets on disk: bucket `b` is the file `<dir>/<b:05>.ids`, its entries as 16
/// little-endian bytes each, in the order they were added.
pub(in crate::input::chunks) struct OnDisk {
    dir: PathBuf,
    pub(super) files: Vec<std::io::BufWriter<std::fs::File>>,
}

impl OnDisk {
    pub(super) fn create(dir: &Path, buckets: usize) -> Result<OnDisk> {
        std::fs::create_dir_all(dir).map_err(|e| Error::io(dir, e))?;
        let files = (0..buckets)
            .map(|b| {
                let path = Self::path(dir, b);
                std::fs::File::create(&path)
                    .map(std::io::BufWriter::new)
                    .map_err(|e| Error::io(&path, e))
            })
            .collect::<Result<_>>()?;
        Ok(OnDisk {
            dir: dir.to_path_buf(),
            files,
        })
    }

    fn path(dir: &Path, bucket: usize) -> PathBuf {
        dir.join(format!("{bucket:05}.ids"))
    }

    /// Appends entries to their buckets' files, buckets in parallel.
    pub(super) fn extend(&mut self, parts: IdParts) -> Result<()> {
        use rayon::prelude::*;
        use std::io::Write;
        let dir = &self.dir;
        self.files
            .par_iter_mut()
            .enumerate()
            .try_for_each(|(b, file)| {
                for entries in parts.iter().filter_map(|part| part.get(b)) {
                    for e in entries {
                        file.write_all(&e.to_le_bytes())
                            .map_err(|err| Error::io(Self::path(dir, b), err))?;
                    }
                }
                Ok(())
            })
    }

    /// Each bucket read back, checked and removed, one bucket per thread at a time.
    pub(super) fn candidates(self) -> Result<Vec<(u32, u32)>> {
        use rayon::prelude::*;
        let OnDisk { dir, files } = self;
        let buckets = files.len();
        for (b, file) in files.into_iter().enumerate() {
            file.into_inner()
                .map_err(|e| Error::io(Self::path(&dir, b), e.into_error()))?;
        }
        // Collected before the first error is taken, so it is the lowest bucket's whatever
        // the threads did.
        let cands: Vec<Result<Vec<(u32, u32)>>> = (0..buckets)
            .into_par_iter()
            .map(|b| {
                use std::io::Read;
                let path = Self::path(&dir, b);
                let io = |e| Error::io(&path, e);
                let file = std::fs::File::open(&path).map_err(io)?;
                let n = file.metadata().map_err(io)?.len() / 16;
                // Read straight into the entries (no copy of the file's bytes beside them).
                let mut r = std::io::BufReader::new(file);
                let mut bucket = Vec::with_capacity(n as usize);
                let mut e = [0u8; 16];
                for _ in 0..n {
                    r.read_exact(&mut e).map_err(io)?;
                    bucket.push(u128::from_le_bytes(e));
                }
                drop(r);
                std::fs::remove_file(&path).map_err(io)?;
                Ok(bucket_candidates(&mut bucket))
            })
            .collect();
        let mut out = Vec::new();
        for c in cands {
            out.extend(c?);
        }
        Ok(out)
    }
}
