//! Regenerates `ui/src/bindings.ts` from the Rust commands.

fn main() {
    let path = std::path::Path::new(tessera_desktop_lib::bindings::BINDINGS_PATH);
    if let Err(e) = tessera_desktop_lib::bindings::export_to(path) {
        eprintln!("could not write {}: {e}", path.display());
        std::process::exit(1);
    }
    println!("wrote {}", path.display());
}
