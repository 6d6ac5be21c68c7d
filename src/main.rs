fn main() -> std::process::ExitCode {
    arca::platform::malloc::tune();
    arca::cli::run()
}
