//! Prints a board's `memory.x`, e.g. to start a firmware of your own:
//! `cargo run -p mote-targets --example memory_x -- nrf52840 > memory.x`
fn main() {
    let Some(name) = std::env::args().nth(1) else {
        eprintln!("usage: memory_x <board>   (a file name in targets/boards/, without .toml)");
        std::process::exit(2);
    };
    match mote_targets::find(&mote_targets::boards_dir(), &name) {
        Ok(t) => print!("{}", t.memory_x()),
        Err(e) => {
            eprintln!("{e}");
            std::process::exit(1);
        }
    }
}
