//! Regenerates `ui/src/bindings.ts` from the Rust commands.
//!
//! An example rather than a binary so that installers never ship it (the
//! Tauri bundler packs every binary of the crate).

fn main() {
    let path = std::path::Path::new(tessera_desktop_lib::bindings::BINDINGS_PATH);
    if let Err(e) = tessera_desktop_lib::bindings::export_to(path) {
        eprintln!("could not write {}: {e}", path.display());
        std::process::exit(1);
    }
    println!("wrote {}", path.display());
}
