fn main() -> std::process::ExitCode {
    herald_kit::main("publisher", herald_publisher::start)
}
