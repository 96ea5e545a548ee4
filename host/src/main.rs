fn main() -> std::process::ExitCode {
    dockwright::cli::main()
}
