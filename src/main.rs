fn main() {
    std::process::exit(ide_agentsd::cli::main());
}
