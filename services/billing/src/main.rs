fn main() -> std::process::ExitCode {
    herald_kit::main("billing", herald_billing::start)
}
