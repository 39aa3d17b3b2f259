//! The `iamvault` binary: a thin entry point over [`iamvault::cli`].

fn main() {
    std::process::exit(iamvault::cli::main());
}
