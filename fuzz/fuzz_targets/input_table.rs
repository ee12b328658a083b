//! The input readers on arbitrary bytes: the first byte picks the table, the rest is its one
//! Parquet file, read by `reckon::input::load` with every other table empty. Typed rows and
//! exceptions, or a clean error, never a panic or an abort.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Some((&pick, file)) = data.split_first() else {
        return;
    };
    let tables = reckon::input::TABLES;
    let table = tables[pick as usize % tables.len()];
    let dir = tempfile::tempdir().unwrap();
    for t in tables {
        std::fs::create_dir_all(dir.path().join(t)).unwrap();
    }
    std::fs::write(dir.path().join(table).join("part-0.parquet"), file).unwrap();
    let _ = reckon::input::load(dir.path());
});
