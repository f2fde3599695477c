fn main() -> std::process::ExitCode {
    herald_kit::main("notifier", herald_notifier::start)
}
