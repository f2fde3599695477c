fn main() -> std::process::ExitCode {
    herald_kit::main("gateway", herald_gateway::start)
}
