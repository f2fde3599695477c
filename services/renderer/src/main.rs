fn main() -> std::process::ExitCode {
    herald_kit::main("renderer", herald_renderer::start)
}
