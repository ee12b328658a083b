//! Row buffers reused from chunk to chunk.
//!
//! A chunk's largest vectors — its usage rows, bill lines and deduction details, hundreds of
//! megabytes each on a large run — have the same size from one chunk to the next. Freed and
//! allocated again, such blocks go back to the kernel and every page of the next one is
//! zero-filled again on first touch (a fifth of a large run's cycles). Instead the writer hands
//! a written chunk's vectors back emptied (`pipeline::writer::Spare`) and the next chunk fills
//! the memory that is already paged in, through [`with_room`].
//!
//! Invariants: a reused vector is always empty when handed out (no row of one chunk can reach
//! another); at most the vectors of the chunks in flight are kept, so memory stays what it was
//! at its peak, never more.

/// `buf` emptied, with room for at least `n` items: its own memory when it has the room, else a
/// new allocation of `n` plus a quarter (so a slightly larger chunk next time still fits). Never
/// grows `buf` in place: a reallocation would copy its old block, contents or not.
pub fn with_room<T>(mut buf: Vec<T>, n: usize) -> Vec<T> {
    buf.clear();
    if buf.capacity() < n {
        drop(buf);
        return Vec::with_capacity(n + n / 4);
    }
    buf
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reuses_a_large_enough_buffer_emptied() {
        let mut v: Vec<u64> = Vec::with_capacity(100);
        v.extend([1, 2, 3]);
        let ptr = v.as_ptr();
        let r = with_room(v, 80);
        assert!(r.is_empty());
        assert_eq!(r.as_ptr(), ptr, "same memory");
        assert_eq!(r.capacity(), 100);
    }

    #[test]
    fn replaces_a_small_buffer_with_headroom() {
        let v: Vec<u64> = vec![7; 10];
        let r = with_room(v, 80);
        assert!(r.is_empty());
        assert_eq!(r.capacity(), 100);
        let r = with_room(Vec::<u64>::new(), 0);
        assert!(r.is_empty());
    }
}
