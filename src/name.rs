//! `Name`: an interned string for the names that repeat across rows — accounts, regions,
//! products, sub-products, instances, billing items, units, plans, package and event ids.
//!
//! A `Name` is an 8-byte `Copy` handle into a global, append-only string cache (`ustr`):
//! copying one costs nothing (no reference count), equality is one pointer comparison, and
//! each distinct string is stored once for the whole run. Strings are never freed, so only
//! names are interned — bounded by the accounts, instances and catalog entries of the input,
//! never by the number of usage rows. Per-row ids (`usage_id`, line ids) stay owned strings.
//!
//! Invariants: `Name` orders, hashes and compares like the `str` it holds (hashing is that of
//! `str`, not the cache's per-process hash), so sort orders, hash-map iteration and outputs
//! are the same as with `Name`, run after run; `Borrow<str>` lets maps keyed by `Name` be
//! looked up with a `&str`.

use std::borrow::Borrow;
use std::cmp::Ordering;
use std::fmt;
use std::hash::{Hash, Hasher};
use std::ops::Deref;
use ustr::Ustr;

/// An interned string (see the module docs).
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct Name(Ustr);

impl Name {
    /// Interns `s` (a lookup when it was seen before).
    pub fn new(s: &str) -> Name {
        Name(Ustr::from(s))
    }

    pub fn as_str(&self) -> &'static str {
        self.0.as_str()
    }

    /// The address of the interned string: equal names, and only they, have equal addresses.
    /// A key for maps that are only looked up (their iteration order would change from run
    /// to run), cheaper to hash than the string.
    pub fn addr(&self) -> usize {
        self.0.as_str().as_ptr() as usize
    }
}

impl Deref for Name {
    type Target = str;
    fn deref(&self) -> &str {
        self.0.as_str()
    }
}

impl AsRef<str> for Name {
    fn as_ref(&self) -> &str {
        self.0.as_str()
    }
}

impl Borrow<str> for Name {
    fn borrow(&self) -> &str {
        self.0.as_str()
    }
}

impl Hash for Name {
    fn hash<H: Hasher>(&self, state: &mut H) {
        self.0.as_str().hash(state)
    }
}

impl Ord for Name {
    fn cmp(&self, other: &Self) -> Ordering {
        if self == other {
            return Ordering::Equal;
        }
        self.0.as_str().cmp(other.0.as_str())
    }
}

impl PartialOrd for Name {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl PartialEq<str> for Name {
    fn eq(&self, other: &str) -> bool {
        self.0.as_str() == other
    }
}

impl PartialEq<&str> for Name {
    fn eq(&self, other: &&str) -> bool {
        self.0.as_str() == *other
    }
}

impl fmt::Display for Name {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.0.as_str())
    }
}

impl fmt::Debug for Name {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(self.0.as_str(), f)
    }
}

impl From<&str> for Name {
    fn from(s: &str) -> Name {
        Name::new(s)
    }
}

impl From<&String> for Name {
    fn from(s: &String) -> Name {
        Name::new(s)
    }
}

impl From<String> for Name {
    fn from(s: String) -> Name {
        Name::new(&s)
    }
}

impl Default for Name {
    fn default() -> Name {
        Name::new("")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::{BTreeSet, HashMap};

    #[test]
    fn equal_names_and_only_they_share_an_address() {
        let a = Name::new("cdn");
        assert_eq!(a.addr(), Name::new(&String::from("cdn")).addr());
        assert_ne!(a.addr(), Name::new("cdn-2").addr());
        // A name that is a prefix of another still has an address of its own.
        assert_ne!(Name::new("cd").addr(), a.addr());
    }

    #[test]
    fn interned_names_compare_order_and_hash_like_their_strings() {
        let (a, b) = (Name::new("acct-2"), Name::new("acct-10"));
        assert_eq!(a, Name::new(&String::from("acct-2")));
        assert_ne!(a, b);
        // Lexicographic, as `str`: "acct-10" < "acct-2".
        assert_eq!(a.cmp(&b), "acct-2".cmp("acct-10"));
        let set: BTreeSet<Name> = [a, b, Name::new("acct-1")].into_iter().collect();
        let order: Vec<&str> = set.iter().map(|n| n.as_str()).collect();
        assert_eq!(order, ["acct-1", "acct-10", "acct-2"]);
        // A map keyed by names is looked up with a `&str`.
        let m: HashMap<Name, u32> = [(a, 1), (b, 2)].into_iter().collect();
        assert_eq!(
            (m.get("acct-2"), m.get("acct-10"), m.get("x")),
            (Some(&1), Some(&2), None)
        );
        assert_eq!(format!("{a} {a:?}"), "acct-2 \"acct-2\"");
        assert_eq!(std::mem::size_of::<Name>(), 8);
    }
}
