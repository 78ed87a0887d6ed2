//! The `dashtray` binary: everything lives in the library's `cli` module.

/// mimalloc rather than the C library's allocator: a request allocates a few hundred small
/// blocks (a page's ids, its body, headers), and glibc's malloc and free were a fifth of a
/// metrics page's CPU (callgrind). docs/performance.md.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> std::process::ExitCode {
    dashtray::cli::main()
}
