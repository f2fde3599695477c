fn main() -> std::process::ExitCode {
    herald_kit::main("insights", herald_insights::start)
}
