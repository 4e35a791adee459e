//! Any bytes as a TOML or JSON policy: never a panic, and every diagnostic
//! has a code and, when located, a location inside the document.
#![no_main]

use backstop_core::{Format, Policy};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Some((&selector, rest)) = data.split_first() else { return };
    let Ok(text) = std::str::from_utf8(rest) else { return };
    let format = if selector & 1 == 0 { Format::Toml } else { Format::Json };
    if let Err(errors) = Policy::load(text, format) {
        assert!(!errors.is_empty());
        let lines = text.split('\n').count() as u32;
        for e in &errors {
            if let Some(loc) = e.location {
                assert!(loc.line >= 1 && loc.line <= lines && loc.column >= 1, "{e}");
            }
        }
    }
});
