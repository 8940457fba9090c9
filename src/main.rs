//! The `churnflow` binary: everything lives in the library; this only maps to an exit code.
fn main() -> std::process::ExitCode {
    churnflow::main()
}
