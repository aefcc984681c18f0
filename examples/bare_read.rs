//! The floor of reading receivers' reports, for bench/compare.sh: every file below the
//! directories given is read, gunzipped into memory when it is gzip, and its XML scanned token
//! by token with no model built, each token borrowed from the text (quick-xml's fastest
//! reading, the one `reports` uses for a document in memory). Prints the files and the tokens.
//! `reports` is measured against it.

use std::io::Read;
use std::path::{Path, PathBuf};

fn files(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        if path.is_dir() {
            files(&path, out);
        } else {
            out.push(path);
        }
    }
}

fn scan(xml: &[u8]) -> u64 {
    let mut reader = quick_xml::Reader::from_reader(xml);
    reader.config_mut().check_end_names = false;
    let mut tokens = 0;
    loop {
        match reader.read_event() {
            Ok(quick_xml::events::Event::Eof) | Err(_) => return tokens,
            Ok(_) => tokens += 1,
        }
    }
}

fn main() {
    let mut all = Vec::new();
    for dir in std::env::args().skip(1) {
        files(Path::new(&dir), &mut all);
    }
    all.sort();
    let mut tokens = 0;
    let mut expanded = Vec::new();
    for path in &all {
        let Ok(bytes) = std::fs::read(path) else {
            continue;
        };
        tokens += if bytes.starts_with(&[0x1f, 0x8b]) {
            expanded.clear();
            let mut gzip = flate2::read::MultiGzDecoder::new(bytes.as_slice());
            if gzip.read_to_end(&mut expanded).is_err() {
                continue;
            }
            scan(&expanded)
        } else {
            scan(&bytes)
        };
    }
    let mut out = std::io::stdout().lock();
    let _ = std::io::Write::write_all(&mut out, format!("{} {tokens}\n", all.len()).as_bytes());
}
