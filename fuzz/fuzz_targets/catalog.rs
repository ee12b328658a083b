//! The catalog parser on arbitrary bytes: a catalog or a clean `Error::Catalog`, never a panic.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = reckon::catalog::Catalog::parse(data, std::path::Path::new("catalog.toml"));
});
