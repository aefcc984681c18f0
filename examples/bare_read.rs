//! The floor of reading receivers' reports, for bench/compare.sh: every file below the
//! directories given is read, gunzipped when it is gzip, and its XML scanned token by token
//! with no model built. Prints the files and the tokens. `reports` is measured against it.

use std::io::{BufRead, BufReader};
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

fn scan(reader: impl BufRead) -> u64 {
    let mut xml = quick_xml::Reader::from_reader(reader);
    xml.config_mut().check_end_names = false;
    let mut buf = Vec::new();
    let mut tokens = 0;
    loop {
        buf.clear();
        match xml.read_event_into(&mut buf) {
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
    for path in &all {
        let Ok(bytes) = std::fs::read(path) else {
            continue;
        };
        tokens += if bytes.starts_with(&[0x1f, 0x8b]) {
            scan(BufReader::new(flate2::read::MultiGzDecoder::new(
                bytes.as_slice(),
            )))
        } else {
            scan(bytes.as_slice())
        };
    }
    let mut out = std::io::stdout().lock();
    let _ = std::io::Write::write_all(&mut out, format!("{} {tokens}\n", all.len()).as_bytes());
}
