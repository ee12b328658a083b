//! A bounded fuzz corpus that runs with `cargo test` (issue 37): the valid input files and
//! catalog of the tests, damaged (bits flipped, bytes overwritten, files truncated, lines of
//! TOML dropped or garbled), then read. Every case gives typed rows or a clean input error
//! (exit 2), never a panic, an abort, or an internal error. The long fuzz is `fuzz/` (cargo
//! fuzz; docs/reliability.md says how to run it).

use crate::common::*;
use proptest::prelude::*;
use reckon::error::ErrorKind;
use std::sync::OnceLock;

/// The valid dataset's files: (table, bytes of its one file).
fn valid_files() -> &'static Vec<(&'static str, Vec<u8>)> {
    static FILES: OnceLock<Vec<(&'static str, Vec<u8>)>> = OnceLock::new();
    FILES.get_or_init(|| {
        let dir = tempfile::tempdir().unwrap();
        Dataset::valid().write(dir.path());
        (reckon::input::TABLES.iter())
            .map(|t| {
                let path = dir.path().join(t).join("part-0.parquet");
                (*t, std::fs::read(path).unwrap_or_default())
            })
            .collect()
    })
}

/// How a file is damaged; positions are taken modulo the file's length.
#[derive(Debug, Clone)]
enum Damage {
    Flip { at: usize, bit: u8 },
    Overwrite { at: usize, len: usize, byte: u8 },
    Truncate { to: usize },
}

impl Damage {
    fn apply(&self, bytes: &mut Vec<u8>) {
        let n = bytes.len().max(1);
        match *self {
            Damage::Flip { at, bit } => bytes[at % n] ^= 1 << (bit % 8),
            Damage::Overwrite { at, len, byte } => {
                let at = at % n;
                let end = (at + len).min(bytes.len());
                bytes[at..end].fill(byte);
            }
            Damage::Truncate { to } => bytes.truncate(to % n),
        }
    }
}

fn damage() -> impl Strategy<Value = Damage> {
    prop_oneof![
        (any::<usize>(), any::<u8>()).prop_map(|(at, bit)| Damage::Flip { at, bit }),
        (any::<usize>(), 1..64usize, any::<u8>()).prop_map(|(at, len, byte)| Damage::Overwrite {
            at,
            len,
            byte
        }),
        any::<usize>().prop_map(|to| Damage::Truncate { to }),
    ]
}

/// Ok, or an error that blames the input (exit 2) and says so in words.
fn clean(result: reckon::Result<impl Sized>) -> Result<(), TestCaseError> {
    if let Err(e) = result {
        prop_assert_eq!(e.kind(), ErrorKind::Input, "{}", e);
        prop_assert!(!e.to_string().is_empty());
    }
    Ok(())
}

proptest! {
    // A few seconds in the dev profile: each case writes seven small files and reads them.
    #![proptest_config(ProptestConfig { cases: 64, failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn damaged_input_files_give_rows_or_a_clean_error(
        table in 0..reckon::input::TABLES.len(),
        damages in prop::collection::vec(damage(), 1..4),
    ) {
        let dir = tempfile::tempdir().unwrap();
        for (k, (t, bytes)) in valid_files().iter().enumerate() {
            let mut bytes = bytes.clone();
            if k == table {
                for d in &damages {
                    d.apply(&mut bytes);
                }
            }
            let path = dir.path().join(t).join("part-0.parquet");
            std::fs::create_dir_all(path.parent().unwrap()).unwrap();
            std::fs::write(path, bytes).unwrap();
        }
        clean(reckon::input::load(dir.path()))?;
    }
}

/// How the catalog's text is damaged.
#[derive(Debug, Clone)]
enum Garble {
    DropLine(usize),
    /// The value after the `=` of a line replaced by a string of the strategy's alphabet.
    Value(usize, String),
    Flip {
        at: usize,
        bit: u8,
    },
    Truncate(usize),
}

fn garble() -> impl Strategy<Value = Garble> {
    prop_oneof![
        any::<usize>().prop_map(Garble::DropLine),
        (any::<usize>(), "[-0-9.eE\"\\[\\]{}a-z_=, ]{0,12}").prop_map(|(k, v)| Garble::Value(k, v)),
        (any::<usize>(), any::<u8>()).prop_map(|(at, bit)| Garble::Flip { at, bit }),
        any::<usize>().prop_map(Garble::Truncate),
    ]
}

fn garbled(text: &str, g: &[Garble]) -> Vec<u8> {
    let mut lines: Vec<String> = text.lines().map(str::to_string).collect();
    let mut tail: Option<usize> = None;
    let mut flips = Vec::new();
    for x in g {
        let n = lines.len().max(1);
        match x {
            Garble::DropLine(k) if !lines.is_empty() => {
                lines.remove(k % n);
            }
            Garble::Value(k, v) if !lines.is_empty() => {
                let line = &mut lines[k % n];
                if let Some(eq) = line.find('=') {
                    line.replace_range(eq + 1.., &format!(" {v}"));
                }
            }
            Garble::Flip { at, bit } => flips.push((*at, *bit)),
            Garble::Truncate(to) => tail = Some(*to),
            _ => {}
        }
    }
    let mut bytes = lines.join("\n").into_bytes();
    let n = bytes.len().max(1);
    for (at, bit) in flips {
        if let Some(b) = bytes.get_mut(at % n) {
            *b ^= 1 << (bit % 8);
        }
    }
    if let Some(to) = tail {
        bytes.truncate(to % n);
    }
    bytes
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn malformed_catalogs_give_a_catalog_or_a_clean_error(
        g in prop::collection::vec(garble(), 1..5),
    ) {
        let text = std::fs::read_to_string(catalog_path()).unwrap();
        let bytes = garbled(&text, &g);
        clean(reckon::catalog::Catalog::parse(&bytes, std::path::Path::new("catalog.toml")))?;
    }
}
