fn main() -> std::process::ExitCode {
    herald_kit::main("auth", herald_auth::start)
}
