//! The `dashtray` binary: everything lives in the library's `cli` module.

fn main() -> std::process::ExitCode {
    dashtray::cli::main()
}
